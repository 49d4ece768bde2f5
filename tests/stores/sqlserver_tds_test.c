/*
 * The SQL Server driver's FreeTDS result handling, without a server: a fake peer on 127.0.0.1
 * answers in TDS 7.4 as [MS-TDS] describes it (PRELOGIN response 2.2.6.5, LOGINACK 2.2.7.14,
 * COLMETADATA 2.2.7.4 with an NVARCHAR(MAX) column sent as PLP 2.2.5.2.3, ROW 2.2.7.19, ERROR
 * 2.2.7.10, DONE 2.2.7.6), and records each SQL batch it receives (UCS-2 turned back into
 * text). Checked: the batches arrive exactly as sqlserver_tsql.c builds them; a row's value and
 * RowVersion come back as the stored text and Dapr's hex ETag; error numbers map (a THROWn
 * condition to ETAG_MISMATCH, 1205 retried then UNAVAILABLE, 208 to BACKEND).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_check.h"
#include "stores/sql/sqlserver_tsql.h"
#include "tcp_fake.h"

typedef enum { REPLY_DONE, REPLY_ROW, REPLY_ETAG, REPLY_ERROR, REPLY_BULK } reply_kind;

typedef struct peer {
    pthread_mutex_t mu;
    reply_kind reply; /* for the next batches that are not migration/ping */
    long err_number;
    const char *err_text;
    char last[16384]; /* last batch received */
    int batches;      /* batches counted since reset */
} peer;

typedef struct out {
    unsigned char b[16384];
    size_t n;
} out;

static void put(out *o, const void *p, size_t n)
{
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void u8(out *o, unsigned v)
{
    o->b[o->n++] = (unsigned char)v;
}
static void u16(out *o, unsigned v)
{
    u8(o, v & 255);
    u8(o, (v >> 8) & 255);
}
static void u32(out *o, uint32_t v)
{
    u16(o, v & 0xffff);
    u16(o, v >> 16);
}
static void u64(out *o, uint64_t v)
{
    u32(o, (uint32_t)v);
    u32(o, (uint32_t)(v >> 32));
}
/* ASCII text as UCS-2LE (the tests' names and messages are ASCII). */
static void ucs2(out *o, const char *s)
{
    for (; *s; s++) u16(o, (unsigned char)*s);
}
static void done(out *o, unsigned status, uint64_t rows)
{
    u8(o, 0xFD);
    u16(o, status);
    u16(o, 0xC1);
    u64(o, rows);
}

static bool send_reply(int fd, const out *o)
{
    unsigned char h[8] = {
        0x04, 0x01, (unsigned char)((o->n + 8) >> 8), (unsigned char)((o->n + 8) & 255), 0, 0,
        1,    0};
    return tcp_fake_write(fd, h, 8) && tcp_fake_write(fd, o->b, o->n);
}

static void prelogin(out *o)
{
    /* VERSION (token 0) and ENCRYPTION (token 1) = ENCRYPT_NOT_SUP, then the terminator. */
    const unsigned char opts[] = {0x00, 0, 11, 0, 6, 0x01, 0, 17, 0, 1, 0xFF};
    put(o, opts, sizeof opts);
    const unsigned char data[] = {16, 0, 0x07, 0xD0, 0, 0, 0x02};
    put(o, data, sizeof data);
}

static void loginack(out *o)
{
    const char *prog = "fake";
    u8(o, 0xAD);
    u16(o, 1 + 4 + 1 + 2 * (unsigned)strlen(prog) + 4);
    u8(o, 1);
    const unsigned char ver[] = {0x74, 0x00, 0x00, 0x04}; /* TDS 7.4 */
    put(o, ver, 4);
    u8(o, (unsigned)strlen(prog));
    ucs2(o, prog);
    const unsigned char sv[] = {16, 0, 0, 0};
    put(o, sv, 4);
    done(o, 0, 0);
}

static void error_token(out *o, long number, const char *text)
{
    out body = {.n = 0};
    u32(&body, (uint32_t)number);
    u8(&body, 1);
    u8(&body, 16);
    u16(&body, (unsigned)strlen(text));
    ucs2(&body, text);
    u8(&body, 4);
    ucs2(&body, "fake");
    u8(&body, 0);
    u32(&body, 1);
    u8(o, 0xAA);
    u16(o, (unsigned)body.n);
    put(o, body.b, body.n);
    done(o, 0x02, 0);
}

static const unsigned char RV[8] = {0, 0, 0, 0, 0, 0, 0x07, 0xd1};
/* [Data] as sent: "{"n":"é"}" in UCS-2LE (é is U+00E9). */
static const char DATA_UTF8[] = "{\"n\":\"\xc3\xa9\"}";

/* COLMETADATA entries of [Data] NVARCHAR(MAX) (max length 0xFFFF, a collation: PLP values)
 * and [RowVersion] BIGBINARY(8) with user type 80 (timestamp). */
static void data_cols(out *o)
{
    u32(o, 0);
    u16(o, 0x0001);
    u8(o, 0xE7);
    u16(o, 0xFFFF);
    const unsigned char coll[] = {0x09, 0x04, 0xD0, 0x00, 0x34};
    put(o, coll, 5);
    u8(o, 4);
    ucs2(o, "Data");
    u32(o, 80);
    u16(o, 0);
    u8(o, 0xAD);
    u16(o, 8);
    u8(o, 10);
    ucs2(o, "RowVersion");
}

/* The two values: DATA_UTF8 as one PLP chunk of UCS-2, then RV. */
static void data_vals(out *o)
{
    out v = {.n = 0};
    ucs2(&v, "{\"n\":\"");
    u16(&v, 0xE9);
    ucs2(&v, "\"}");
    u64(o, v.n);
    u32(o, (uint32_t)v.n);
    put(o, v.b, v.n);
    u32(o, 0);
    u16(o, 8);
    put(o, RV, 8);
}

static void data_row(out *o)
{
    u8(o, 0x81);
    u16(o, 2);
    data_cols(o);
    u8(o, 0xD1);
    data_vals(o);
    done(o, 0x10, 1);
}

/* Bulk get: [i] INT (fixed-length INT4, 0x38) first; rows for requests 2 and 0, in that order. */
static void bulk_rows(out *o)
{
    u8(o, 0x81);
    u16(o, 3);
    u32(o, 0);
    u16(o, 0);
    u8(o, 0x38);
    u8(o, 1);
    ucs2(o, "i");
    data_cols(o);
    const uint32_t idx[] = {2, 0};
    for (int r = 0; r < 2; r++) {
        u8(o, 0xD1);
        u32(o, idx[r]);
        data_vals(o);
    }
    done(o, 0x10, 2);
}

static void etag_row(out *o)
{
    u8(o, 0x81);
    u16(o, 1);
    u32(o, 0);
    u16(o, 0x0001);
    u8(o, 0xAD);
    u16(o, 8);
    u8(o, 0);
    u8(o, 0xD1);
    u16(o, 8);
    put(o, RV, 8);
    done(o, 0x10, 1);
}

static void serve(int fd, void *ctx)
{
    peer *p = ctx;
    static unsigned char msg[1 << 20];
    for (;;) {
        size_t n = 0;
        unsigned char h[8];
        unsigned type;
        do { /* a message may span packets; the last has status bit 0 (EOM) */
            if (!tcp_fake_read(fd, h, 8)) return;
            size_t len = ((size_t)h[2] << 8 | h[3]) - 8;
            if (n + len > sizeof msg || !tcp_fake_read(fd, msg + n, len)) return;
            n += len;
            type = h[0];
        } while (!(h[1] & 1));
        out o = {.n = 0};
        if (type == 0x12) {
            prelogin(&o);
        } else if (type == 0x10) {
            loginack(&o);
        } else if (type == 0x06) {
            done(&o, 0x20, 0);
        } else if (type == 0x01) {
            /* ALL_HEADERS (TDS 7.2+): a total length first, then the UCS-2 text. */
            size_t skip = n >= 4 ? (size_t)(msg[0] | msg[1] << 8 | msg[2] << 16) : 0;
            pthread_mutex_lock(&p->mu);
            size_t k = 0;
            for (size_t i = skip; i + 1 < n && k + 1 < sizeof p->last; i += 2)
                p->last[k++] = msg[i + 1] ? '?' : (char)msg[i];
            p->last[k] = '\0';
            bool plain = strstr(p->last, "sp_getapplock") || !strcmp(p->last, "SELECT 1;");
            reply_kind r = plain ? REPLY_DONE : p->reply;
            if (!plain) p->batches++;
            if (r == REPLY_ROW)
                data_row(&o);
            else if (r == REPLY_ETAG)
                etag_row(&o);
            else if (r == REPLY_BULK)
                bulk_rows(&o);
            else if (r == REPLY_ERROR)
                error_token(&o, p->err_number, p->err_text);
            else
                done(&o, 0, 0);
            pthread_mutex_unlock(&p->mu);
        } else {
            return;
        }
        if (!send_reply(fd, &o)) return;
    }
}

static void expect(peer *p, reply_kind r, long number, const char *text)
{
    pthread_mutex_lock(&p->mu);
    p->reply = r;
    p->err_number = number;
    p->err_text = text;
    p->batches = 0;
    p->last[0] = '\0';
    pthread_mutex_unlock(&p->mu);
}

/* Whether the last batch is exactly what the builder makes for op. */
static bool sent_as_built(peer *p, ss_sqlserver_batch_kind kind, const ss_op *op, bool get,
                          bool report)
{
    ss_sqlserver_tsql t;
    ss_error err;
    char *want = NULL;
    if (ss_sqlserver_tsql_init(&t, "dbo", "state", "dapr_metadata", "string", 200, &err) != SS_OK)
        return false;
    if (get)
        ss_sqlserver_get_sql(&t, op, &want, &err);
    else
        ss_sqlserver_write_sql(&t, kind, op, 1, &want, &err);
    ss_sqlserver_tsql_free(&t);
    pthread_mutex_lock(&p->mu);
    bool same = want && !strcmp(p->last, want);
    if (!same && report)
        fprintf(stderr, "--- sent:\n%s\n--- built:\n%s\n", p->last, want ? want : "");
    pthread_mutex_unlock(&p->mu);
    free(want);
    return same;
}

int main(void)
{
    peer p = {.mu = PTHREAD_MUTEX_INITIALIZER};
    tcp_fake f;
    if (!tcp_fake_start(&f, serve, &p)) {
        fprintf(stderr, "cannot listen on 127.0.0.1\n");
        return 1;
    }
    char conn[128];
    snprintf(conn, sizeof conn, "server=127.0.0.1,%d;user id=sa;password=pw;database=db", f.port);
    ss_pair props[] = {{"connectionString", conn}, {"cleanupInterval", "0"}, {"timeout", "5s"}};
    ss_config cfg = {.driver = "sqlserver", .name = "ms", .properties = props, .property_count = 3};
    ss_store *s = NULL;
    ss_error err = {0};
    ss_code rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_OK, "open: %s", err.message);
    if (rc != SS_OK) {
        tcp_fake_stop(&f);
        return check_summary("sqlserver_tds_test");
    }

    /* A row: NVARCHAR(MAX) as PLP in UCS-2 comes back as UTF-8, RowVersion as Dapr's hex. */
    expect(&p, REPLY_ROW, 0, NULL);
    ss_value *v = NULL;
    ss_get_request g = {.key = "app||k"};
    rc = ss_get(&v, s, &g, &err);
    CHECK(rc == SS_OK && v, "get: %s", err.message);
    if (v) {
        CHECK(v->len == strlen(DATA_UTF8) && !memcmp(v->data, DATA_UTF8, v->len), "data %.*s",
              (int)v->len, v->data);
        CHECK(v->etag && !strcmp(v->etag, "00000000000007d1"), "etag %s",
              v->etag ? v->etag : "(none)");
        ss_value_free(v);
    }
    ss_op gop = {.kind = SS_DRV_GET, .key = "app||k", .key_len = 6};
    CHECK(sent_as_built(&p, SS_SQLSERVER_WRITE, &gop, true, true), "get batch differs");
    /* The comparison can fail: another key's batch is not what was sent. */
    ss_op other = gop;
    other.key = "app||j";
    CHECK(!sent_as_built(&p, SS_SQLSERVER_WRITE, &other, true, false),
          "another key's batch matched");

    /* A set returns the RowVersion of the final SELECT as its ETag. */
    expect(&p, REPLY_ETAG, 0, NULL);
    char *etag = NULL;
    rc = set_kv(s, "app||k", "v", NULL, NULL, NULL, &etag, &err);
    CHECK(rc == SS_OK && etag && !strcmp(etag, "00000000000007d1"), "set: %s etag %s", err.message,
          etag ? etag : "(none)");
    ss_free(etag);
    ss_op sop = {.kind = SS_DRV_SET, .key = "app||k", .key_len = 6, .value = "v", .value_len = 1};
    CHECK(sent_as_built(&p, SS_SQLSERVER_WRITE, &sop, false, true), "set batch differs");

    /* The THROWn condition is an ETag mismatch; sent once (conditional writes never repeat). */
    expect(&p, REPLY_ERROR, 50100, "statestore: condition not met: operation 0");
    rc = set_kv(s, "app||k", "v", "00000000000007d1", NULL, NULL, NULL, &err);
    CHECK(rc == SS_ETAG_MISMATCH && p.batches == 1, "mismatch: %s (%d batches)", err.message,
          p.batches);

    /* A deadlock victim is sent again, three times in all, then UNAVAILABLE. */
    expect(&p, REPLY_ERROR, 1205, "Transaction was deadlocked on lock resources");
    v = NULL;
    rc = ss_get(&v, s, &g, &err);
    CHECK(rc == SS_UNAVAILABLE && p.batches == 3 && strstr(err.message, "deadlocked"),
          "deadlock: %s %s (%d batches)", ss_code_name(rc), err.message, p.batches);
    /* A missing table is not transient: once, BACKEND with the server's words. */
    expect(&p, REPLY_ERROR, 208, "Invalid object name 'dbo.state'.");
    rc = ss_get(&v, s, &g, &err);
    CHECK(rc == SS_BACKEND && p.batches == 1 && strstr(err.message, "Invalid object name"),
          "208: %s %s (%d batches)", ss_code_name(rc), err.message, p.batches);

    /* Bulk get: rows come back with their request index, in any order. */
    expect(&p, REPLY_BULK, 0, NULL);
    ss_get_request reqs[] = {{.key = "x"}, {.key = "y"}, {.key = "z"}};
    ss_results res = {0};
    rc = ss_bulk_get(&res, s, reqs, 3, NULL, &err);
    CHECK(rc == SS_OK && res.count == 3, "bulk get: %s", err.message);
    if (rc == SS_OK && res.count == 3) {
        for (size_t i = 0; i < 3; i++) {
            ss_value *bv = res.items[i].value;
            bool want = i != 1;
            CHECK(res.items[i].code == SS_OK && (bv != NULL) == want, "item %zu", i);
            if (bv)
                CHECK(bv->len == strlen(DATA_UTF8) && !memcmp(bv->data, DATA_UTF8, bv->len) &&
                          bv->etag && !strcmp(bv->etag, "00000000000007d1"),
                      "item %zu value", i);
        }
    }
    ss_results_free(&res);

    /* A transaction's THROWn condition names its operation: the second one here. */
    expect(&p, REPLY_ERROR, 50100, "statestore: condition not met: operation 1");
    ss_operation ops[2] = {{.kind = SS_OP_UPSERT}, {.kind = SS_OP_DELETE}};
    ops[0].set = (ss_set_request){.key = "a", .value = "1", .value_len = 1};
    ops[1].del = (ss_delete_request){.key = "b-key", .etag = "00000000000007d1"};
    ss_transaction tx = {.ops = ops, .count = 2};
    rc = ss_transact(s, &tx, &err);
    CHECK(rc == SS_ETAG_MISMATCH && strstr(err.message, "b-key") && p.batches == 1,
          "tx mismatch: %s %s (%d batches)", ss_code_name(rc), err.message, p.batches);
    /* An ETag that is not a RowVersion is refused before anything is sent. */
    expect(&p, REPLY_DONE, 0, NULL);
    ops[1].del.etag = "c1e2a5b0-0000-4000-8000-000000000000";
    rc = ss_transact(s, &tx, &err);
    CHECK(rc == SS_ETAG_INVALID && p.batches == 0 && strstr(err.message, "b-key"),
          "tx invalid etag: %s %s (%d batches)", ss_code_name(rc), err.message, p.batches);

    ss_close(s);
    tcp_fake_stop(&f);
    return check_summary("sqlserver_tds_test");
}

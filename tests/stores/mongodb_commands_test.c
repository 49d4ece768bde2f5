/*
 * mongodb_commands_test — the commands the mongodb driver sends, checked against the shapes
 * MongoDB documents (the `find`, `insert`, `update`, `delete`, `createIndexes` commands and the
 * driver transactions specification: lsid, txnNumber, startTransaction, autocommit,
 * commitTransaction/abortTransaction), and the documents it reads (Dapr's layout).
 *
 * The server here is a tiny fake speaking the wire protocol (OP_QUERY for libmongoc's handshake,
 * OP_MSG for commands) that records every command and answers as a replica-set primary or a
 * standalone server. That is how transactions are checked at all: the conformance test server
 * (mongo-java-server) is standalone and has none. The fake proves what we send, not what a real
 * server does with it.
 */
#include "stores/mongodb/mongodb_internal.h"
#include "store_check.h"
#include "tcp_fake.h"

#include <bson/bson.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CMDS 256

typedef struct fake {
    tcp_fake tcp;
    int port;
    bool replset;
    bool no_hello;           /* answer `hello` with CommandNotFound (servers before 4.4.2) */
    atomic_int etag_matches; /* n reported for a write whose filter has _etag */
    pthread_mutex_t mu;
    bson_t *cmds[MAX_CMDS];
    int ncmds;
} fake;

static void put32(uint8_t *p, int32_t v)
{
    uint32_t u = (uint32_t)v;
    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 24);
}

static int32_t get32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

static const char *cmd_name(const bson_t *cmd)
{
    bson_iter_t it;
    return bson_iter_init(&it, cmd) && bson_iter_next(&it) ? bson_iter_key(&it) : "";
}

/* n for a write: 1 per statement, or etag_matches for statements filtered on _etag. */
static int32_t write_n(fake *f, const bson_t *cmd, const char *field)
{
    bson_iter_t it, arr;
    int32_t n = 0;
    if (!bson_iter_init_find(&it, cmd, field) || !bson_iter_recurse(&it, &arr)) return 0;
    while (bson_iter_next(&arr)) {
        bson_iter_t q;
        bool etag = bson_iter_recurse(&arr, &q) && bson_iter_find_descendant(&q, "q._etag", &q);
        n += etag ? atomic_load(&f->etag_matches) : 1;
    }
    return n;
}

static void reply_for(fake *f, const bson_t *cmd, bson_t *reply)
{
    const char *name = cmd_name(cmd);
    bson_init(reply);
    if (!strcasecmp(name, "hello") && f->no_hello) {
        BSON_APPEND_DOUBLE(reply, "ok", 0);
        BSON_APPEND_INT32(reply, "code", 59);
        BSON_APPEND_UTF8(reply, "codeName", "CommandNotFound");
        BSON_APPEND_UTF8(reply, "errmsg", "no such command: 'hello'");
        return;
    }
    if (!strcasecmp(name, "hello") || !strcasecmp(name, "isMaster")) {
        char me[64];
        snprintf(me, sizeof me, "127.0.0.1:%d", f->port);
        BSON_APPEND_BOOL(reply, "helloOk", true);
        BSON_APPEND_BOOL(reply, "isWritablePrimary", true);
        BSON_APPEND_BOOL(reply, "ismaster", true);
        if (f->replset) {
            bson_t hosts;
            BSON_APPEND_UTF8(reply, "setName", "rs0");
            BSON_APPEND_INT32(reply, "setVersion", 1);
            BSON_APPEND_ARRAY_BEGIN(reply, "hosts", &hosts);
            BSON_APPEND_UTF8(&hosts, "0", me);
            bson_append_array_end(reply, &hosts);
            BSON_APPEND_UTF8(reply, "primary", me);
            BSON_APPEND_UTF8(reply, "me", me);
        }
        BSON_APPEND_INT32(reply, "maxBsonObjectSize", 16 * 1024 * 1024);
        BSON_APPEND_INT32(reply, "maxMessageSizeBytes", 48000000);
        BSON_APPEND_INT32(reply, "maxWriteBatchSize", 100000);
        BSON_APPEND_INT32(reply, "logicalSessionTimeoutMinutes", 30);
        BSON_APPEND_INT32(reply, "minWireVersion", 0);
        BSON_APPEND_INT32(reply, "maxWireVersion", 13);
    } else if (!strcmp(name, "find")) {
        bson_t cursor, batch;
        BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cursor);
        BSON_APPEND_INT64(&cursor, "id", 0);
        BSON_APPEND_UTF8(&cursor, "ns", "db.coll");
        BSON_APPEND_ARRAY_BEGIN(&cursor, "firstBatch", &batch);
        bson_append_array_end(&cursor, &batch);
        bson_append_document_end(reply, &cursor);
    } else if (!strcmp(name, "update")) {
        int32_t n = write_n(f, cmd, "updates");
        BSON_APPEND_INT32(reply, "n", n);
        BSON_APPEND_INT32(reply, "nModified", n);
    } else if (!strcmp(name, "delete")) {
        BSON_APPEND_INT32(reply, "n", write_n(f, cmd, "deletes"));
    } else if (!strcmp(name, "insert")) {
        BSON_APPEND_INT32(reply, "n", write_n(f, cmd, "documents"));
    }
    BSON_APPEND_DOUBLE(reply, "ok", 1);
}

static void record(fake *f, const bson_t *cmd)
{
    const char *name = cmd_name(cmd);
    if (!strcasecmp(name, "hello") && !f->no_hello) return; /* monitoring, every few seconds */
    if (!strcmp(name, "endSessions")) return;
    pthread_mutex_lock(&f->mu);
    if (f->ncmds < MAX_CMDS) f->cmds[f->ncmds++] = bson_copy(cmd);
    pthread_mutex_unlock(&f->mu);
}

/* The command of an OP_MSG: the body section, with each document sequence (kind 1: insert's
 * documents, update's updates, delete's deletes) appended to it as an array. */
static bool parse_msg(const uint8_t *p, size_t n, bson_t *cmd)
{
    bson_init(cmd);
    if (n < 4) return false;
    size_t off = 4; /* flagBits */
    while (off < n) {
        uint8_t kind = p[off++];
        if (off + 4 > n) return false;
        int32_t len = get32(p + off);
        if (len < 5 || off + (size_t)len > n) return false;
        if (kind == 0) {
            bson_t body;
            if (!bson_init_static(&body, p + off, (size_t)len)) return false;
            bson_concat(cmd, &body);
        } else if (kind == 1) {
            const char *id = (const char *)p + off + 4;
            size_t idlen = strnlen(id, (size_t)len - 4);
            size_t d = off + 4 + idlen + 1, end = off + (size_t)len;
            bson_t arr;
            char key[16];
            int i = 0;
            bson_append_array_begin(cmd, id, (int)idlen, &arr);
            while (d + 4 <= end) {
                int32_t dl = get32(p + d);
                bson_t doc;
                if (dl < 5 || d + (size_t)dl > end || !bson_init_static(&doc, p + d, (size_t)dl))
                    return false;
                snprintf(key, sizeof key, "%d", i++);
                bson_append_document(&arr, key, -1, &doc);
                d += (size_t)dl;
            }
            bson_append_array_end(cmd, &arr);
        } else {
            return false;
        }
        off += (size_t)len;
    }
    return true;
}

static void serve(int fd, void *ctx)
{
    fake *f = ctx;
    uint8_t hdr[16];
    while (tcp_fake_read(fd, hdr, 16)) {
        int32_t len = get32(hdr), req_id = get32(hdr + 4), op = get32(hdr + 12);
        if (len < 16 || len > 64 * 1024 * 1024) break;
        uint8_t *body = malloc((size_t)len - 16);
        if (!body || !tcp_fake_read(fd, body, (size_t)len - 16)) {
            free(body);
            break;
        }
        bson_t cmd, reply;
        bool ok = false;
        if (op == 2013) {
            ok = parse_msg(body, (size_t)len - 16, &cmd);
        } else if (op == 2004) { /* OP_QUERY: flags, collection, skip, return, query */
            size_t nlen = strnlen((char *)body + 4, (size_t)len - 20);
            size_t qoff = 4 + nlen + 1 + 8;
            bson_t q;
            bson_init(&cmd);
            if (qoff + 5 <= (size_t)len - 16 &&
                bson_init_static(&q, body + qoff, (size_t)get32(body + qoff))) {
                bson_concat(&cmd, &q);
                ok = true;
            }
        }
        free(body);
        if (!ok) {
            bson_destroy(&cmd);
            break;
        }
        record(f, &cmd);
        reply_for(f, &cmd, &reply);
        bson_destroy(&cmd);
        uint8_t out[64];
        size_t head;
        if (op == 2013) {
            head = 16 + 4 + 1;
            put32(out + 16, 0);
            out[20] = 0;
        } else {
            head = 16 + 4 + 8 + 4 + 4;
            memset(out + 16, 0, 20);
            put32(out + 32, 1);
        }
        put32(out, (int32_t)(head + reply.len));
        put32(out + 4, req_id + 1000000);
        put32(out + 8, req_id);
        put32(out + 12, op == 2013 ? 2013 : 1);
        bool w =
            tcp_fake_write(fd, out, head) && tcp_fake_write(fd, bson_get_data(&reply), reply.len);
        bson_destroy(&reply);
        if (!w) break;
    }
}

static bool fake_start(fake *f, bool replset, bool no_hello)
{
    memset(f, 0, sizeof *f);
    f->replset = replset;
    f->no_hello = no_hello;
    atomic_store(&f->etag_matches, 1);
    pthread_mutex_init(&f->mu, NULL);
    if (!tcp_fake_start(&f->tcp, serve, f)) return false;
    f->port = f->tcp.port;
    return true;
}

/* After the store is closed (its sockets too), so every connection thread ends. */
static void fake_stop(fake *f)
{
    tcp_fake_stop(&f->tcp);
    for (int i = 0; i < f->ncmds; i++) bson_destroy(f->cmds[i]);
    pthread_mutex_destroy(&f->mu);
}

static void fake_clear(fake *f)
{
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->ncmds; i++) bson_destroy(f->cmds[i]);
    f->ncmds = 0;
    pthread_mutex_unlock(&f->mu);
}

/* The i-th recorded command named `name` (0 = first), or NULL. */
static const bson_t *fake_cmd(fake *f, const char *name, int nth)
{
    const bson_t *hit = NULL;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->ncmds && !hit; i++)
        if (!strcmp(cmd_name(f->cmds[i]), name) && nth-- == 0) hit = f->cmds[i];
    pthread_mutex_unlock(&f->mu);
    return hit;
}

/* ------------------------------------------------------------------------------------------ */
/* Field checks                                                                                */
/* ------------------------------------------------------------------------------------------ */

static bool find_path(const bson_t *doc, const char *path, bson_iter_t *out)
{
    bson_iter_t it;
    return doc && bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, out);
}

static bool has_utf8(const bson_t *doc, const char *path, const char *want)
{
    bson_iter_t it;
    return find_path(doc, path, &it) && BSON_ITER_HOLDS_UTF8(&it) &&
           (!want || strcmp(bson_iter_utf8(&it, NULL), want) == 0);
}

static bool has_bool(const bson_t *doc, const char *path, bool want)
{
    bson_iter_t it;
    return find_path(doc, path, &it) && BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it) == want;
}

static bool has_type(const bson_t *doc, const char *path, bson_type_t t)
{
    bson_iter_t it;
    return find_path(doc, path, &it) && bson_iter_type(&it) == t;
}

static bool absent(const bson_t *doc, const char *path)
{
    bson_iter_t it;
    return doc && !find_path(doc, path, &it);
}

static int64_t as_int(const bson_t *doc, const char *path)
{
    bson_iter_t it;
    return find_path(doc, path, &it) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it)
                                                                    : INT64_MIN;
}

static int array_len(const bson_t *doc, const char *path)
{
    bson_iter_t it, a;
    int n = 0;
    if (!find_path(doc, path, &it) || !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &a))
        return -1;
    while (bson_iter_next(&a)) n++;
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Tests                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static ss_store *open_fake(fake *f)
{
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", f->port);
    ss_pair props[] = {{"host", host},
                       {"databaseName", "db1"},
                       {"collectionName", "coll1"},
                       {"operationTimeout", "3s"}};
    ss_config cfg = {.driver = "mongodb", .properties = props, .property_count = 4};
    ss_store *s = NULL;
    ss_error err;
    ss_code rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_OK, "open: %s: %s", ss_code_name(rc), err.message);
    return s;
}

static void test_open_standalone(void)
{
    fake f;
    CHECK(fake_start(&f, false, false), "fake server");
    ss_store *s = open_fake(&f);
    if (s) {
        const bson_t *ci = fake_cmd(&f, "createIndexes", 0);
        CHECK(ci != NULL, "no createIndexes at open");
        CHECK(has_utf8(ci, "createIndexes", "coll1"), "createIndexes names the collection");
        CHECK(has_utf8(ci, "$db", "db1"), "createIndexes runs in databaseName");
        CHECK(as_int(ci, "indexes.0.key._ttl") == 1, "TTL index key {_ttl: 1}");
        CHECK(as_int(ci, "indexes.0.expireAfterSeconds") == 0, "expireAfterSeconds 0");
        ss_features feat;
        ss_store_features(s, &feat);
        CHECK(!(feat.flags & SS_FEATURE_TRANSACTIONAL), "standalone declares no transactions");
        ss_operation op = {.kind = SS_OP_DELETE, .del = {.key = "k"}};
        ss_transaction tx = {.ops = &op, .count = 1};
        ss_error err;
        CHECK(ss_transact(s, &tx, &err) == SS_UNSUPPORTED, "standalone transaction");
    }
    ss_close(s);
    fake_stop(&f);
}

static void test_isMaster_fallback(void)
{
    fake f;
    CHECK(fake_start(&f, true, true), "fake server");
    ss_store *s = open_fake(&f);
    if (s) {
        CHECK(fake_cmd(&f, "hello", 0) != NULL, "hello tried first");
        /* libmongoc's own handshake is an isMaster over OP_QUERY (no $db); the driver's
         * fallback is a command on admin. */
        bool fallback = false;
        for (int i = 0; fake_cmd(&f, "isMaster", i); i++)
            fallback = fallback || has_utf8(fake_cmd(&f, "isMaster", i), "$db", "admin");
        CHECK(fallback, "then isMaster on admin");
        ss_features feat;
        ss_store_features(s, &feat);
        CHECK(feat.flags & SS_FEATURE_TRANSACTIONAL,
              "replica set seen through isMaster when hello is unknown");
    }
    ss_close(s);
    fake_stop(&f);
}

static ss_code set3(ss_store *s, const char *key, const char *val, const char *etag,
                    const char *conc, const char *ttl)
{
    ss_error err;
    return set_kv(s, key, val, etag, conc, ttl, NULL, &err);
}

static void test_single_ops(void)
{
    fake f;
    CHECK(fake_start(&f, true, false), "fake server");
    ss_store *s = open_fake(&f);
    if (!s) {
        fake_stop(&f);
        return;
    }
    ss_features feat;
    ss_store_features(s, &feat);
    CHECK(feat.flags & SS_FEATURE_TRANSACTIONAL, "replica set declares transactions");

    /* Unconditional set: update with a replacement document and upsert. */
    fake_clear(&f);
    CHECK(set3(s, "k1", "1.10", NULL, NULL, NULL) == SS_OK, "set");
    const bson_t *c = fake_cmd(&f, "update", 0);
    CHECK(c && has_utf8(c, "update", "coll1") && has_utf8(c, "$db", "db1"), "update coll1/db1");
    CHECK(array_len(c, "updates") == 1, "one update statement");
    CHECK(has_utf8(c, "updates.0.q._id", "k1") && absent(c, "updates.0.q._etag"), "q {_id}");
    CHECK(has_utf8(c, "updates.0.u._id", "k1"), "u._id");
    CHECK(has_utf8(c, "updates.0.u.value", "1.10"), "value stored as its exact text");
    CHECK(has_utf8(c, "updates.0.u._etag", NULL), "u._etag");
    CHECK(has_type(c, "updates.0.u._ttl", BSON_TYPE_NULL), "_ttl null without TTL (as Dapr)");
    CHECK(absent(c, "updates.0.u.$set"), "a replacement, not an update operator");
    CHECK(has_bool(c, "updates.0.upsert", true), "upsert");
    CHECK(absent(c, "updates.0.multi") || has_bool(c, "updates.0.multi", false), "one doc");

    /* With an ETag: filter on _etag and "not expired", no upsert; n 0 = mismatch. */
    fake_clear(&f);
    atomic_store(&f.etag_matches, 0);
    CHECK(set3(s, "k1", "v", "etag-1", NULL, NULL) == SS_ETAG_MISMATCH, "set etag mismatch");
    atomic_store(&f.etag_matches, 1);
    c = fake_cmd(&f, "update", 0);
    CHECK(has_utf8(c, "updates.0.q._etag", "etag-1"), "q._etag");
    CHECK(has_type(c, "updates.0.q.$or.0._ttl", BSON_TYPE_NULL), "q $or[0] {_ttl: null}");
    CHECK(has_type(c, "updates.0.q.$or.1._ttl.$gt", BSON_TYPE_DATE_TIME), "q $or[1] $gt now");
    CHECK(absent(c, "updates.0.upsert") || has_bool(c, "updates.0.upsert", false), "no upsert");
    CHECK(set3(s, "k1", "v", "etag-1", NULL, NULL) == SS_OK, "set etag match");

    /* First-write: insert. */
    fake_clear(&f);
    CHECK(set3(s, "k2", "{\"a\":1}", NULL, "first-write", NULL) == SS_OK, "first-write");
    c = fake_cmd(&f, "insert", 0);
    CHECK(c && has_utf8(c, "insert", "coll1") && array_len(c, "documents") == 1, "insert");
    CHECK(has_utf8(c, "documents.0._id", "k2") && has_utf8(c, "documents.0.value", "{\"a\":1}"),
          "inserted document");
    CHECK(fake_cmd(&f, "update", 0) == NULL, "no update for first-write");

    /* TTL: _ttl is a date ttl seconds ahead. */
    fake_clear(&f);
    int64_t before = ss_now_unix_ms();
    CHECK(set3(s, "k3", "v", NULL, NULL, "100") == SS_OK, "set ttl");
    c = fake_cmd(&f, "update", 0);
    bson_iter_t it;
    CHECK(find_path(c, "updates.0.u._ttl", &it) && BSON_ITER_HOLDS_DATE_TIME(&it) &&
              bson_iter_date_time(&it) >= before + 100000 &&
              bson_iter_date_time(&it) <= ss_now_unix_ms() + 100000,
          "_ttl = now + 100 s");

    /* Non-UTF-8 key and value: binary _id and value. */
    fake_clear(&f);
    CHECK(set3(s, "k\xff", "\xfe\x01", NULL, NULL, NULL) == SS_OK, "binary set");
    c = fake_cmd(&f, "update", 0);
    CHECK(has_type(c, "updates.0.q._id", BSON_TYPE_BINARY), "binary _id");
    CHECK(has_type(c, "updates.0.u.value", BSON_TYPE_BINARY), "binary value");

    /* Get: find {_id} limit 1 with a projection. */
    fake_clear(&f);
    ss_value *v = NULL;
    ss_error err;
    ss_get_request g = {.key = "k1"};
    CHECK(ss_get(&v, s, &g, &err) == SS_OK && v == NULL, "get (fake has nothing)");
    c = fake_cmd(&f, "find", 0);
    CHECK(c && has_utf8(c, "find", "coll1") && has_utf8(c, "filter._id", "k1"), "find {_id}");
    CHECK(as_int(c, "limit") == 1, "limit 1");
    CHECK(as_int(c, "projection.value") == 1 && as_int(c, "projection._etag") == 1 &&
              as_int(c, "projection._ttl") == 1,
          "projection of value, _etag, _ttl");

    /* Delete: delete {_id} limit 1; with ETag, filtered on _etag. */
    fake_clear(&f);
    ss_delete_request d = {.key = "k1"};
    CHECK(ss_delete(s, &d, &err) == SS_OK, "delete");
    c = fake_cmd(&f, "delete", 0);
    CHECK(c && has_utf8(c, "delete", "coll1") && has_utf8(c, "deletes.0.q._id", "k1") &&
              as_int(c, "deletes.0.limit") == 1,
          "delete {q: {_id}, limit: 1}");
    fake_clear(&f);
    atomic_store(&f.etag_matches, 0);
    d.etag = "e2";
    CHECK(ss_delete(s, &d, &err) == SS_ETAG_MISMATCH, "delete etag mismatch");
    atomic_store(&f.etag_matches, 1);
    c = fake_cmd(&f, "delete", 0);
    CHECK(has_utf8(c, "deletes.0.q._etag", "e2"), "delete q._etag");

    /* Bulk get: one find with $in. */
    fake_clear(&f);
    ss_get_request gs[3] = {{.key = "a"}, {.key = "b"}, {.key = "a"}};
    ss_results res = {0};
    CHECK(ss_bulk_get(&res, s, gs, 3, NULL, &err) == SS_OK, "bulk get");
    ss_results_free(&res);
    c = fake_cmd(&f, "find", 0);
    CHECK(array_len(c, "filter._id.$in") == 3 && has_utf8(c, "filter._id.$in.1", "b"),
          "find {_id: {$in: [a, b, a]}}");
    CHECK(fake_cmd(&f, "find", 1) == NULL, "one find for the whole bulk get");

    /* Bulk set: one ordered update with every statement; an ETag op goes alone, in order. */
    fake_clear(&f);
    ss_set_request ss[4] = {{.key = "b1", .value = "1", .value_len = 1},
                            {.key = "b2", .value = "2", .value_len = 1},
                            {.key = "b3", .value = "3", .value_len = 1, .etag = "e3"},
                            {.key = "b4", .value = "4", .value_len = 1}};
    CHECK(ss_bulk_set(&res, s, ss, 4, NULL, &err) == SS_OK, "bulk set");
    for (size_t i = 0; i < res.count; i++)
        CHECK(res.items[i].code == SS_OK, "bulk set item %zu: %s", i,
              ss_code_name(res.items[i].code));
    ss_results_free(&res);
    c = fake_cmd(&f, "update", 0);
    CHECK(array_len(c, "updates") == 2 && has_bool(c, "ordered", true), "ordered batch b1 b2");
    CHECK(has_utf8(c, "updates.1.q._id", "b2"), "request order");
    c = fake_cmd(&f, "update", 1);
    CHECK(array_len(c, "updates") == 1 && has_utf8(c, "updates.0.q._etag", "e3"), "b3 alone");
    c = fake_cmd(&f, "update", 2);
    CHECK(array_len(c, "updates") == 1 && has_utf8(c, "updates.0.q._id", "b4"), "then b4");

    /* Bulk delete: one ordered delete. */
    fake_clear(&f);
    ss_delete_request ds[2] = {{.key = "b1"}, {.key = "b2"}};
    CHECK(ss_bulk_delete(&res, s, ds, 2, NULL, &err) == SS_OK, "bulk delete");
    ss_results_free(&res);
    c = fake_cmd(&f, "delete", 0);
    CHECK(array_len(c, "deletes") == 2 && has_bool(c, "ordered", true), "one ordered delete");

    ss_close(s);
    fake_stop(&f);
}

/* The transactions specification: every command of the transaction carries the session (lsid)
 * and txnNumber with autocommit false; the first also startTransaction true and the
 * transaction's readConcern; then commitTransaction on admin with the write concern, or
 * abortTransaction when an operation failed. */
static void test_transactions(void)
{
    fake f;
    CHECK(fake_start(&f, true, false), "fake server");
    ss_store *s = open_fake(&f);
    if (!s) {
        fake_stop(&f);
        return;
    }
    ss_operation ops[2] = {
        {.kind = SS_OP_UPSERT,
         .set = {.key = "t1", .value = "12345678901234567890", .value_len = 20}},
        {.kind = SS_OP_DELETE, .del = {.key = "t2", .etag = "et2"}},
    };
    ss_transaction tx = {.ops = ops, .count = 2};
    ss_error err;
    fake_clear(&f);
    ss_code rc = ss_transact(s, &tx, &err);
    CHECK(rc == SS_OK, "transaction: %s: %s", ss_code_name(rc), err.message);
    const bson_t *u = fake_cmd(&f, "update", 0), *d = fake_cmd(&f, "delete", 0);
    const bson_t *commit = fake_cmd(&f, "commitTransaction", 0);
    CHECK(u && d && commit, "update, delete and commitTransaction sent");
    CHECK(has_type(u, "lsid.id", BSON_TYPE_BINARY), "update carries lsid");
    CHECK(as_int(u, "txnNumber") >= 1, "update carries txnNumber");
    CHECK(has_bool(u, "startTransaction", true), "first command starts the transaction");
    CHECK(has_bool(u, "autocommit", false), "autocommit false");
    CHECK(has_utf8(u, "readConcern.level", "snapshot"), "snapshot read concern on the first");
    CHECK(has_utf8(u, "updates.0.u.value", "12345678901234567890"), "value text kept");
    CHECK(has_bool(d, "autocommit", false) && absent(d, "startTransaction"), "second command");
    CHECK(as_int(d, "txnNumber") == as_int(u, "txnNumber"), "same txnNumber");
    CHECK(has_utf8(d, "deletes.0.q._etag", "et2"), "ETag condition inside the transaction");
    CHECK(has_utf8(commit, "$db", "admin") && as_int(commit, "txnNumber") == as_int(u, "txnNumber"),
          "commitTransaction on admin, same txnNumber");
    CHECK(has_utf8(commit, "writeConcern.w", "majority"), "majority write concern on commit");
    CHECK(fake_cmd(&f, "abortTransaction", 0) == NULL, "no abort");

    /* An ETag mismatch inside: abortTransaction, no commit, ETAG_MISMATCH. */
    fake_clear(&f);
    atomic_store(&f.etag_matches, 0);
    rc = ss_transact(s, &tx, &err);
    atomic_store(&f.etag_matches, 1);
    CHECK(rc == SS_ETAG_MISMATCH, "mismatch in a transaction: %s", ss_code_name(rc));
    CHECK(fake_cmd(&f, "abortTransaction", 0) != NULL, "abortTransaction sent");
    CHECK(fake_cmd(&f, "commitTransaction", 0) == NULL, "no commit after a mismatch");

    /* First-write inside a transaction: a read in the session, then an upsert. */
    ss_operation fw = {
        .kind = SS_OP_UPSERT,
        .set = {
            .key = "t3", .value = "x", .value_len = 1, .options = {.concurrency = "first-write"}}};
    tx.ops = &fw;
    tx.count = 1;
    fake_clear(&f);
    rc = ss_transact(s, &tx, &err);
    CHECK(rc == SS_OK, "first-write transaction: %s: %s", ss_code_name(rc), err.message);
    const bson_t *fnd = fake_cmd(&f, "find", 0);
    u = fake_cmd(&f, "update", 0);
    CHECK(fnd && has_bool(fnd, "startTransaction", true) && has_utf8(fnd, "filter._id", "t3"),
          "find in the session first");
    CHECK(u && has_bool(u, "updates.0.upsert", true) && absent(u, "startTransaction"),
          "then the upsert");
    ss_close(s);
    fake_stop(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Reading documents (Dapr's layout) and hello replies                                          */
/* ------------------------------------------------------------------------------------------ */

static void test_read_doc(void)
{
    int64_t now = 1700000000000;
    ss_value *v = NULL;
    ss_error err;
    bson_t *doc = BCON_NEW("_id", "k", "value", "\"hello\"", "_etag", "e1", "_ttl", BCON_NULL);
    CHECK(ss_mongo_read_doc(doc, now, &v, &err) == SS_OK && v, "string value");
    CHECK(v && v->len == 7 && memcmp(v->data, "\"hello\"", 7) == 0, "exact text");
    CHECK(v && v->etag && strcmp(v->etag, "e1") == 0, "etag");
    ss_value_free(v);
    bson_destroy(doc);

    /* What Dapr writes for a JSON object it decoded: an embedded document. */
    doc = BCON_NEW("_id", "k", "value", "{", "a", BCON_INT32(1), "b", "x", "}", "_etag", "e2");
    CHECK(ss_mongo_read_doc(doc, now, &v, &err) == SS_OK && v, "document value");
    CHECK(v && v->len == strlen("{ \"a\" : 1, \"b\" : \"x\" }") &&
              memcmp(v->data, "{ \"a\" : 1, \"b\" : \"x\" }", v->len) == 0,
          "relaxed Extended JSON: %.*s", v ? (int)v->len : 0, v ? (const char *)v->data : "");
    ss_value_free(v);
    bson_destroy(doc);

    doc = BCON_NEW("_id", "k", "value", BCON_INT32(42), "_etag", "e3");
    CHECK(ss_mongo_read_doc(doc, now, &v, &err) == SS_OK && v && v->len == 2 &&
              memcmp(v->data, "42", 2) == 0,
          "number value");
    ss_value_free(v);
    bson_destroy(doc);

    doc = BCON_NEW("_id", "k", "value", "v", "_etag", "e4", "_ttl", BCON_DATE_TIME(now - 1));
    CHECK(ss_mongo_read_doc(doc, now, &v, &err) == SS_OK && v == NULL, "expired = not found");
    bson_destroy(doc);
    doc = BCON_NEW("_id", "k", "value", "v", "_etag", "e4", "_ttl", BCON_DATE_TIME(now + 5000));
    CHECK(ss_mongo_read_doc(doc, now, &v, &err) == SS_OK && v &&
              ss_value_meta(v, "ttlExpireTime") != NULL,
          "ttlExpireTime");
    ss_value_free(v);
    bson_destroy(doc);

    doc = BCON_NEW("_id", "k", "value", "v");
    CHECK(ss_mongo_read_doc(doc, now, &v, &err) == SS_BACKEND && v == NULL &&
              strstr(err.message, "_etag"),
          "no _etag named");
    bson_destroy(doc);

    bson_t *h = BCON_NEW("isWritablePrimary", BCON_BOOL(true), "setName", "rs0");
    CHECK(ss_mongo_hello_transactional(h), "replica set");
    bson_destroy(h);
    h = BCON_NEW("isWritablePrimary", BCON_BOOL(true), "msg", "isdbgrid");
    CHECK(ss_mongo_hello_transactional(h), "mongos");
    bson_destroy(h);
    h = BCON_NEW("isWritablePrimary", BCON_BOOL(true));
    CHECK(!ss_mongo_hello_transactional(h), "standalone");
    bson_destroy(h);
}

int main(void)
{
    test_read_doc();
    test_open_standalone();
    test_isMaster_fallback();
    test_single_ops();
    test_transactions();
    return check_summary("mongodb_commands_test");
}

/*
 * sqlite_test.c — what the conformance suite cannot see of the sqlite driver: the file layout
 * (Dapr's tables and encodings, read back with raw sqlite3), values surviving a reopen
 * byte-exact, rows written the way Dapr writes them, TTL (invisible at once, deleted by the
 * cleanup, recorded in the metadata table), transactions rolling back, and property checks.
 */
#include <dirent.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <statestore.h>

#include "unit/check.h"

static char dir[256];
static char path[512];

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static ss_store *open_store(const ss_pair *extra, size_t n_extra, ss_error *err)
{
    ss_pair props[8] = {{"connectionString", path}};
    size_t n = 1;
    for (size_t i = 0; i < n_extra && n < 8; i++) props[n++] = extra[i];
    ss_config cfg = {.driver = "sqlite", .name = "t", .properties = props, .property_count = n};
    ss_store *s = NULL;
    if (ss_open(&s, &cfg, err) != SS_OK) return NULL;
    return s;
}

static ss_code put(ss_store *s, const char *key, const void *v, size_t n, char **etag,
                   ss_error *err)
{
    ss_set_request r = {.key = key, .value = v, .value_len = n};
    return ss_set(etag, s, &r, err);
}

static ss_value *get(ss_store *s, const char *key)
{
    ss_get_request r = {.key = key};
    ss_value *v = NULL;
    ss_error err;
    if (ss_get(&v, s, &r, &err) != SS_OK) {
        fprintf(stderr, "get %s: %s\n", key, err.message);
        return NULL;
    }
    return v;
}

/* Runs one query with raw sqlite3 and returns the first column of the first row as text. */
static char *raw_text(const char *sql, const char *bind)
{
    sqlite3 *db = NULL;
    char *out = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) goto done;
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "raw: %s: %s\n", sql, sqlite3_errmsg(db));
        goto done;
    }
    if (bind) sqlite3_bind_text(st, 1, bind, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        out = strdup(t ? (const char *)t : "(null)");
    }
    sqlite3_finalize(st);
done:
    sqlite3_close(db);
    return out;
}

static void raw_exec(const char *sql)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 2000);
        char *msg = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
            fprintf(stderr, "raw exec: %s: %s\n", sql, msg);
            check_failures++;
        }
        sqlite3_free(msg);
    }
    sqlite3_close(db);
}

#define NVALUES 8

static void test_layout_and_reopen(void)
{
    /* Text, text with NUL, invalid UTF-8, every byte value, empty, JSON, a 1 MiB binary. */
    static unsigned char allbytes[256];
    for (int i = 0; i < 256; i++) allbytes[i] = (unsigned char)i;
    size_t big_len = 1u << 20;
    unsigned char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++) big[i] = (unsigned char)(i * 7 + (i >> 11));
    struct {
        const char *key;
        const void *v;
        size_t n;
        int binary;
    } vals[NVALUES] = {
        {"text", "héllo wörld ✓", strlen("héllo wörld ✓"), 0},
        {"nul", "a\0b", 3, 1},
        {"badutf8", "\xc3\x28\xff", 3, 1},
        {"allbytes", allbytes, sizeof allbytes, 1},
        {"empty", "", 0, 0},
        {"json", "{\"b\":1.10,\"a\":12345678901234567890}", 35, 0},
        {"big", big, big_len, 1},
        {"key with spaces/and:colons%_'\"\\ ||é", "x", 1, 0},
    };
    char *etags[NVALUES] = {0};
    ss_error err;
    ss_store *s = open_store(NULL, 0, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "open: %s\n", err.message);
        free(big);
        return;
    }
    for (int i = 0; i < NVALUES; i++)
        CHECK_RC(put(s, vals[i].key, vals[i].v, vals[i].n, &etags[i], &err), SS_OK, &err);
    ss_close(s);

    /* The layout on disk is Dapr's. */
    char *mig = raw_text("SELECT value FROM metadata WHERE key = 'migrations'", NULL);
    CHECK_STR(mig, "1");
    free(mig);
    char *jm = raw_text("PRAGMA journal_mode", NULL);
    CHECK_STR(jm, "wal");
    free(jm);
    char *cols = raw_text("SELECT group_concat(name || ':' || type, ',') FROM "
                          "(SELECT name, type FROM pragma_table_info('state') ORDER BY cid)",
                          NULL);
    CHECK_STR(cols, "key:TEXT,value:TEXT,is_binary:BOOLEAN,etag:TEXT,expiration_time:TIMESTAMP,"
                    "update_time:TIMESTAMP");
    free(cols);
    for (int i = 0; i < NVALUES; i++) {
        char *b = raw_text("SELECT is_binary FROM state WHERE key = ?1", vals[i].key);
        CHECK_STR(b, vals[i].binary ? "1" : "0");
        free(b);
        char *e = raw_text("SELECT etag FROM state WHERE key = ?1", vals[i].key);
        CHECK_STR(e, etags[i]);
        CHECK(e && strlen(e) == 36 && e[8] == '-' && e[14] == '4');
        free(e);
    }
    char *b64 = raw_text("SELECT value FROM state WHERE key = 'nul'", NULL);
    CHECK_STR(b64, "YQBi"); /* base64("a\0b"), as Go's StdEncoding writes it */
    free(b64);
    char *txt = raw_text("SELECT value FROM state WHERE key = 'json'", NULL);
    CHECK_STR(txt, (const char *)vals[5].v);
    free(txt);

    /* Reopened: every value byte-exact, with the same ETag. */
    s = open_store(NULL, 0, &err);
    CHECK(s != NULL);
    for (int i = 0; s && i < NVALUES; i++) {
        ss_value *v = get(s, vals[i].key);
        CHECK(v != NULL);
        if (!v) continue;
        CHECK(v->len == vals[i].n && memcmp(v->data, vals[i].v, vals[i].n) == 0);
        CHECK(v->data[v->len] == 0);
        CHECK_STR(v->etag, etags[i]);
        CHECK(ss_value_meta(v, "ttlExpireTime") == NULL);
        ss_value_free(v);
    }
    ss_close(s);
    for (int i = 0; i < NVALUES; i++) ss_free(etags[i]);
    free(big);
}

/* Rows as Dapr's Go component writes them (binary as base64, DATETIME expiry) read back. */
static void test_dapr_rows(void)
{
    raw_exec("INSERT OR REPLACE INTO state (key, value, is_binary, etag, update_time, "
             "expiration_time) VALUES ('dapr-bin', 'AAEC/w==', 1, "
             "'0b4e5f5c-1a2b-4c3d-8e9f-001122334455', CURRENT_TIMESTAMP, "
             "DATETIME(CURRENT_TIMESTAMP, '+3600 seconds'))");
    raw_exec("INSERT OR REPLACE INTO state (key, value, is_binary, etag, update_time, "
             "expiration_time) VALUES ('dapr-expired', '\"old\"', 0, 'e1', "
             "CURRENT_TIMESTAMP, DATETIME(CURRENT_TIMESTAMP, '-5 seconds'))");
    raw_exec("INSERT OR REPLACE INTO state (key, value, is_binary, etag) VALUES "
             "('dapr-badb64', '!!notbase64', 1, 'e2')");
    ss_error err;
    ss_store *s = open_store(NULL, 0, &err);
    CHECK(s != NULL);
    if (!s) return;
    ss_value *v = get(s, "dapr-bin");
    CHECK(v && v->len == 4 && memcmp(v->data, "\x00\x01\x02\xff", 4) == 0);
    CHECK(v && v->etag && strcmp(v->etag, "0b4e5f5c-1a2b-4c3d-8e9f-001122334455") == 0);
    const char *exp = v ? ss_value_meta(v, "ttlExpireTime") : NULL;
    CHECK(exp && strlen(exp) == 20 && exp[10] == 'T' && exp[19] == 'Z');
    ss_value_free(v);

    /* An expired row is invisible at once, before any cleanup ran... */
    v = get(s, "dapr-expired");
    CHECK(v == NULL);
    ss_value_free(v);
    /* ...so first-write may take its place, and a stale ETag on it is a mismatch. */
    ss_set_request fw = {.key = "dapr-expired", .value = "new", .value_len = 3};
    fw.options.concurrency = SS_FIRST_WRITE;
    CHECK_RC(ss_set(NULL, s, &fw, &err), SS_OK, &err);
    CHECK_RC(ss_set(NULL, s, &fw, &err), SS_ETAG_MISMATCH, &err);

    /* Corrupt binary data is a clear backend error naming the cause, not a crash. */
    ss_get_request g = {.key = "dapr-badb64"};
    CHECK_RC(ss_get(&v, s, &g, &err), SS_BACKEND, &err);
    CHECK_CONTAINS(err.message, "decode");
    ss_close(s);
}

static void test_ttl_and_cleanup(void)
{
    ss_pair extra[] = {{"cleanupInterval", "1s"}};
    ss_error err;
    ss_store *s = open_store(extra, 1, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "open: %s\n", err.message);
        return;
    }
    ss_pair ttl[] = {{"ttlInSeconds", "1"}};
    ss_set_request r = {
        .key = "ttl-short", .value = "v", .value_len = 1, .metadata = ttl, .metadata_count = 1};
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
    ss_pair ttl_long[] = {{"ttlInSeconds", "3600"}};
    ss_set_request r2 = {
        .key = "ttl-long", .value = "v", .value_len = 1, .metadata = ttl_long, .metadata_count = 1};
    CHECK_RC(ss_set(NULL, s, &r2, &err), SS_OK, &err);
    ss_value *v = get(s, "ttl-long");
    const char *exp = v ? ss_value_meta(v, "ttlExpireTime") : NULL;
    CHECK(exp != NULL);
    if (exp) {
        struct tm tm = {0};
        CHECK(sscanf(exp, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        long delta = (long)(timegm(&tm) - time(NULL));
        CHECK(delta > 3500 && delta <= 3601);
    }
    ss_value_free(v);

    /* The row disappears from the file once the cleanup ran (bounded wait), and the cleanup
     * recorded itself in the metadata table. */
    int gone = 0;
    for (int i = 0; i < 100 && !gone; i++) {
        usleep(100 * 1000);
        char *n = raw_text("SELECT count(*) FROM state WHERE key = 'ttl-short'", NULL);
        gone = n && strcmp(n, "0") == 0;
        free(n);
    }
    CHECK(gone);
    char *lc = raw_text("SELECT value FROM metadata WHERE key = 'last-cleanup'", NULL);
    CHECK(lc != NULL && strlen(lc) == 19);
    free(lc);
    v = get(s, "ttl-long");
    CHECK(v != NULL);
    ss_value_free(v);
    ss_close(s);
}

static void test_transactions(void)
{
    ss_error err;
    ss_store *s = open_store(NULL, 0, &err);
    CHECK(s != NULL);
    if (!s) return;
    char *etag = NULL;
    CHECK_RC(put(s, "tx-a", "1", 1, &etag, &err), SS_OK, &err);
    ss_operation ops[3] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "tx-b", .value = "2", .value_len = 1}},
        {.kind = SS_OP_DELETE, .del = {.key = "tx-a"}},
        {.kind = SS_OP_UPSERT,
         .set = {.key = "tx-a", .value = "3", .value_len = 1, .etag = "not-the-etag"}},
    };
    ss_transaction tx = {.ops = ops, .count = 3};
    CHECK_RC(ss_transact(s, &tx, &err), SS_ETAG_MISMATCH, &err);
    /* The core names store, op and key once; the driver says only what happened. */
    CHECK_STR(err.message, "store \"t\" (sqlite): transact: operation 2: set \"tx-a\": possible "
                           "etag mismatch: no live row with this etag; transaction rolled back");
    ss_value *v = get(s, "tx-b");
    CHECK(v == NULL); /* rolled back */
    ss_value_free(v);
    v = get(s, "tx-a");
    CHECK(v && v->len == 1 && v->data[0] == '1');
    ss_value_free(v);

    ops[2].set.etag = etag;
    ops[1].del.etag = etag;
    ops[2].set.etag = NULL; /* tx-a was deleted just before: unconditional re-create */
    CHECK_RC(ss_transact(s, &tx, &err), SS_OK, &err);
    v = get(s, "tx-a");
    CHECK(v && v->len == 1 && v->data[0] == '3');
    ss_value_free(v);
    v = get(s, "tx-b");
    CHECK(v && v->len == 1 && v->data[0] == '2');
    ss_value_free(v);
    ss_free(etag);
    ss_close(s);
}

static void test_properties(void)
{
    ss_error err;
    ss_pair bad[] = {{"tableName", "state; DROP TABLE x"}};
    CHECK(open_store(bad, 1, &err) == NULL);
    CHECK(err.code == SS_INVALID);
    CHECK_CONTAINS(err.message, "tableName");
    ss_pair bad2[] = {{"metadataTableName", ""}};
    CHECK(open_store(bad2, 1, &err) == NULL);
    CHECK_CONTAINS(err.message, "metadataTableName");
    ss_pair bad3[] = {{"timeout", "500ms"}};
    CHECK(open_store(bad3, 1, &err) == NULL);
    CHECK_CONTAINS(err.message, "timeout");
    ss_pair bad4[] = {{"busyTimeout", "soon"}};
    CHECK(open_store(bad4, 1, &err) == NULL);
    CHECK_CONTAINS(err.message, "busyTimeout");

    /* Custom tables live side by side with the default ones in the same file. */
    ss_pair custom[] = {{"tableName", "orders_2"}, {"metadataTableName", "orders_meta"}};
    ss_store *s = open_store(custom, 2, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK_RC(put(s, "k", "custom", 6, NULL, &err), SS_OK, &err);
        ss_close(s);
        char *v = raw_text("SELECT value FROM orders_2 WHERE key = 'k'", NULL);
        CHECK_STR(v, "custom");
        free(v);
        v = raw_text("SELECT value FROM orders_meta WHERE key = 'migrations'", NULL);
        CHECK_STR(v, "1");
        free(v);
    }

    /* A second state table sharing the default metadata table (already at level 1). */
    ss_pair second[] = {{"tableName", "second_state"}};
    s = open_store(second, 1, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK_RC(put(s, "k", "second", 6, NULL, &err), SS_OK, &err);
        ss_close(s);
        char *v = raw_text("SELECT value FROM second_state WHERE key = 'k'", NULL);
        CHECK_STR(v, "second");
        free(v);
    }

    /* An unopenable path is a clear error naming the cause. */
    ss_pair cs[] = {{"connectionString", "/nonexistent-dir/x/y.db"}};
    ss_config cfg = {.driver = "sqlite3", .properties = cs, .property_count = 1};
    ss_store *s2 = NULL;
    CHECK(ss_open(&s2, &cfg, &err) != SS_OK);
    CHECK(s2 == NULL);
    CHECK_CONTAINS(err.message, "open");

    /* Dapr-style connection strings: a path with a query string is a URI; parameters SQLite
     * does not know are ignored; mode=ro opens read-only (writes fail, reads work). */
    char uri[700];
    snprintf(uri, sizeof uri, "%s/uri.db?_txlock=immediate&_pragma=foo(1)", dir);
    ss_pair cu[] = {{"connectionString", uri}};
    cfg.properties = cu;
    CHECK_RC(ss_open(&s2, &cfg, &err), SS_OK, &err);
    if (s2) {
        CHECK_RC(put(s2, "u", "uri", 3, NULL, &err), SS_OK, &err);
        ss_close(s2);
    }
    snprintf(uri, sizeof uri, "%s/uri.db", dir);
    CHECK(access(uri, F_OK) == 0);
    snprintf(uri, sizeof uri, "file:%s/uri.db?mode=ro", dir);
    CHECK_RC(ss_open(&s2, &cfg, &err), SS_OK, &err);
    if (s2) {
        ss_value *v = get(s2, "u");
        CHECK(v && strcmp(v->data, "uri") == 0);
        ss_value_free(v);
        CHECK_RC(put(s2, "u", "write", 5, NULL, &err), SS_BACKEND, &err);
        CHECK_CONTAINS(err.message, "readonly");
        ss_close(s2);
    }

    /* Dapr's _pragma options are applied on every connection; the ones properties control,
     * and anything that is not name or name(value), are refused. */
    snprintf(uri, sizeof uri, "file:%s/uri.db?_pragma=user_version(42)&_txlock=immediate", dir);
    CHECK_RC(ss_open(&s2, &cfg, &err), SS_OK, &err);
    ss_close(s2);
    s2 = NULL;
    {
        char *save = strdup(path);
        snprintf(path, sizeof path, "%s/uri.db", dir);
        char *uv = raw_text("PRAGMA user_version", NULL);
        CHECK_STR(uv, "42");
        free(uv);
        snprintf(path, sizeof path, "%s", save);
        free(save);
    }
    const char *bad_pragmas[] = {"_pragma=busy_timeout(10)", "_pragma=journal_mode(DELETE)",
                                 "_pragma=user_version%3D1%3B%20DROP%20TABLE%20state",
                                 "_pragma=(1)", "_pragma=cache_size(1"};
    for (size_t i = 0; i < sizeof bad_pragmas / sizeof bad_pragmas[0]; i++) {
        snprintf(uri, sizeof uri, "file:%s/uri.db?%s", dir, bad_pragmas[i]);
        CHECK(ss_open(&s2, &cfg, &err) == SS_INVALID);
        CHECK(s2 == NULL);
        CHECK_CONTAINS(err.message, "_pragma");
    }

    /* :memory: works and is private to the handle. */
    ss_pair mem[] = {{"connectionString", ":memory:"}};
    cfg.properties = mem;
    CHECK_RC(ss_open(&s2, &cfg, &err), SS_OK, &err);
    if (s2) {
        CHECK_RC(put(s2, "m", "1", 1, NULL, &err), SS_OK, &err);
        ss_value *v = get(s2, "m");
        CHECK(v != NULL);
        ss_value_free(v);
        ss_close(s2);
    }
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ss-sqlite-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/state.db", dir);
    test_layout_and_reopen();
    test_dapr_rows();
    test_ttl_and_cleanup();
    test_transactions();
    test_properties();
    remove_dir();
    return check_done("sqlite_test");
}

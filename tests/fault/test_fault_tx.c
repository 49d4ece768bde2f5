/*
 * test_fault_tx.c — a fault in the middle of a transaction leaves nothing applied, on the memory
 * and the SQLite stores. The faulty wrapper makes the inner store's own transaction fail after
 * some of its operations ran (failAtTxOp), so the store has to roll them back itself.
 */
#include "fault/faulty.h"
#include "unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ss_store *open_faulty(const char *inner, const char *dbpath, const char *at,
                             const char *count)
{
    ss_pair props[8];
    size_t n = 0;
    props[n++] = (ss_pair){"inner", inner};
    if (dbpath) props[n++] = (ss_pair){"inner.connectionString", dbpath};
    props[n++] = (ss_pair){"failOp", "transact"};
    props[n++] = (ss_pair){"failAtTxOp", at};
    props[n++] = (ss_pair){"failCount", count};
    props[n++] = (ss_pair){"failCode", "UNAVAILABLE"};
    ss_config cfg = {.driver = "faulty", .name = "tx", .properties = props, .property_count = n};
    ss_store *s = NULL;
    ss_error err = {0};
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    return s;
}

static void put(ss_store *s, const char *k, const char *v)
{
    ss_error err = {0};
    ss_set_request r = {.key = k, .value = v, .value_len = strlen(v)};
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
}

static void expect(ss_store *s, const char *k, const char *want)
{
    ss_value *v = NULL;
    ss_error err = {0};
    ss_get_request g = {.key = k};
    CHECK_RC(ss_get(&v, s, &g, &err), SS_OK, &err);
    if (want) {
        CHECK(v != NULL);
        if (v) CHECK_STR(v->data, want);
        if (!v) fprintf(stderr, "  key %s: missing, want \"%s\"\n", k, want);
    } else {
        CHECK(v == NULL);
        if (v) fprintf(stderr, "  key %s: \"%s\", want missing\n", k, v->data);
    }
    ss_value_free(v);
}

/* a=1, b=1 before; the transaction writes a=2, deletes b, writes c=3, writes a=4. */
static ss_code run_tx(ss_store *s, ss_error *err)
{
    ss_operation ops[4] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "a", .value = "2", .value_len = 1}},
        {.kind = SS_OP_DELETE, .del = {.key = "b"}},
        {.kind = SS_OP_UPSERT, .set = {.key = "c", .value = "3", .value_len = 1}},
        {.kind = SS_OP_UPSERT, .set = {.key = "a", .value = "4", .value_len = 1}},
    };
    ss_transaction tx = {.ops = ops, .count = 4};
    return ss_transact(s, &tx, err);
}

static void one(const char *inner, const char *dbpath, const char *at)
{
    fprintf(stderr, "-- %s, failAtTxOp=%s\n", inner, at);
    ss_store *s = open_faulty(inner, dbpath, at, "1");
    if (!s) return;
    ss_error err = {0};
    ss_operation del[3] = {{.kind = SS_OP_DELETE, .del = {.key = "a"}},
                           {.kind = SS_OP_DELETE, .del = {.key = "b"}},
                           {.kind = SS_OP_DELETE, .del = {.key = "c"}}};
    for (int i = 0; i < 3; i++) CHECK_RC(ss_delete(s, &del[i].del, &err), SS_OK, &err);
    put(s, "a", "1");
    put(s, "b", "1");

    CHECK_RC(run_tx(s, &err), SS_UNAVAILABLE, &err);
    CHECK(err.retryable);
    CHECK_CONTAINS(err.message, "injected fault: UNAVAILABLE on transact call 1");
    CHECK_CONTAINS(err.message, "store \"tx\" (faulty): transact");
    if (atoi(at) >= 0) {
        char want[64];
        snprintf(want, sizeof want, "at operation %d of 4", atoi(at) > 4 ? 4 : atoi(at));
        CHECK_CONTAINS(err.message, want);
    }
    expect(s, "a", "1");
    expect(s, "b", "1");
    expect(s, "c", NULL);

    /* The fault was transient: the same transaction now goes through, whole. */
    CHECK_RC(run_tx(s, &err), SS_OK, &err);
    expect(s, "a", "4");
    expect(s, "b", NULL);
    expect(s, "c", "3");
    ss_close(s);
}

/* A persistent fault keeps failing and keeps nothing; an ETag failure still says ETAG_MISMATCH. */
static void persistent(const char *inner, const char *dbpath)
{
    fprintf(stderr, "-- %s, persistent\n", inner);
    ss_store *s = open_faulty(inner, dbpath, "2", "-1");
    if (!s) return;
    ss_error err = {0};
    put(s, "a", "1");
    put(s, "b", "1");
    ss_operation del = {.kind = SS_OP_DELETE, .del = {.key = "c"}};
    CHECK_RC(ss_delete(s, &del.del, &err), SS_OK, &err);
    for (int i = 0; i < 3; i++) CHECK_RC(run_tx(s, &err), SS_UNAVAILABLE, &err);
    expect(s, "a", "1");
    expect(s, "b", "1");
    expect(s, "c", NULL);
    ss_close(s);
}

int main(void)
{
    ss_error err = {0};
    if (ss_faulty_register(&err) != SS_OK) {
        fprintf(stderr, "register: %s\n", err.message);
        return 1;
    }
    static const char *const ats[] = {"-1", "0", "1", "2", "3", "4", "99"};
    for (size_t i = 0; i < sizeof ats / sizeof ats[0]; i++) one("memory", NULL, ats[i]);
    persistent("memory", NULL);

    char dir[] = "/tmp/ss-fault-tx-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char db[256];
    snprintf(db, sizeof db, "%s/state.db", dir);
    for (size_t i = 0; i < sizeof ats / sizeof ats[0]; i++) one("sqlite", db, ats[i]);
    persistent("sqlite", db);
    char path[300];
    static const char *const files[] = {"state.db", "state.db-wal", "state.db-shm",
                                        "state.db-journal"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return check_done("test_fault_tx");
}

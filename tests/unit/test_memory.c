/* test_memory.c — the memory driver end to end through the public API. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <statestore/driver.h>

#include "check.h"

static ss_store *open_memory(const char *driver, const char *sweep)
{
    ss_pair props[] = {{"cleanupInterval", sweep}};
    ss_config cfg = {
        .driver = driver, .name = "mem", .properties = props, .property_count = sweep ? 1 : 0};
    ss_store *s = NULL;
    ss_error err = {0};
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    return s;
}

static ss_code put(ss_store *s, const char *key, const char *val, const char *etag,
                   const char *concurrency, char **etag_out, ss_error *err)
{
    ss_set_request r = {.key = key, .value = val, .value_len = strlen(val), .etag = etag};
    r.options.concurrency = concurrency;
    return ss_set(etag_out, s, &r, err);
}

static ss_value *get(ss_store *s, const char *key)
{
    ss_get_request r = {.key = key};
    ss_value *v = NULL;
    ss_error err = {0};
    CHECK_RC(ss_get(&v, s, &r, &err), SS_OK, &err);
    return v;
}

static void test_basic(void)
{
    ss_store *s = open_memory("memory", NULL);
    if (!s) return;
    CHECK_STR(ss_store_name(s), "mem");
    CHECK_STR(ss_store_driver(s), "memory");
    ss_error err = {0};
    CHECK_RC(ss_ping(s, &err), SS_OK, &err);

    CHECK(get(s, "missing") == NULL);
    char *etag = NULL;
    CHECK_RC(put(s, "k1", "hello", NULL, NULL, &etag, &err), SS_OK, &err);
    /* The write's number from a counter that starts at a random point: 16 hex digits, and a
     * second store (a restarted process) does not hand out the same ETag for its first write. */
    CHECK(etag && strlen(etag) == 16 && strspn(etag, "0123456789abcdef") == 16);
    ss_store *other = open_memory("memory", NULL);
    char *other_etag = NULL;
    if (other) CHECK_RC(put(other, "k1", "hello", NULL, NULL, &other_etag, &err), SS_OK, &err);
    CHECK(other_etag && etag && strcmp(other_etag, etag) != 0);
    free(other_etag);
    ss_close(other);
    ss_value *v = get(s, "k1");
    CHECK(v && v->len == 5 && memcmp(v->data, "hello", 5) == 0 && v->data[5] == '\0');
    CHECK(v && v->etag && etag && strcmp(v->etag, etag) == 0);
    CHECK(v && ss_value_meta(v, SS_META_TTL_EXPIRE) == NULL);
    ss_value_free(v);

    /* Binary values with embedded NULs and an empty value come back byte-exact. */
    const char bin[] = {'a', 0, 'b', (char)0xff};
    ss_set_request br = {.key = "bin", .value = bin, .value_len = sizeof bin};
    CHECK_RC(ss_set(NULL, s, &br, &err), SS_OK, &err);
    v = get(s, "bin");
    CHECK(v && v->len == 4 && memcmp(v->data, bin, 4) == 0);
    ss_value_free(v);
    ss_set_request er = {.key = "empty", .value = NULL, .value_len = 0};
    CHECK_RC(ss_set(NULL, s, &er, &err), SS_OK, &err);
    v = get(s, "empty");
    CHECK(v && v->len == 0 && v->data && v->data[0] == '\0');
    ss_value_free(v);

    /* Keys with unusual characters are just bytes. */
    const char *odd = "a/b:c%d_e'f\"g\\h i||j\xc3\xa9";
    CHECK_RC(put(s, odd, "odd", NULL, NULL, NULL, &err), SS_OK, &err);
    v = get(s, odd);
    CHECK(v && strcmp(v->data, "odd") == 0);
    ss_value_free(v);

    ss_delete_request d = {.key = "k1"};
    CHECK_RC(ss_delete(s, &d, &err), SS_OK, &err);
    CHECK(get(s, "k1") == NULL);
    CHECK_RC(ss_delete(s, &d, &err), SS_OK, &err); /* missing key without ETag: success */
    ss_free(etag);
    ss_close(s);
}

static void test_etags(void)
{
    ss_store *s = open_memory("state.in-memory", NULL);
    if (!s) return;
    ss_error err = {0};
    char *e1 = NULL, *e2 = NULL;
    CHECK_RC(put(s, "k", "v1", NULL, NULL, &e1, &err), SS_OK, &err);
    CHECK_RC(put(s, "k", "v2", "bad-etag", NULL, NULL, &err), SS_ETAG_MISMATCH, &err);
    CHECK_CONTAINS(err.message, "store \"mem\" (memory): set \"k\": etag mismatch");
    CHECK_RC(put(s, "k", "v2", e1, NULL, &e2, &err), SS_OK, &err);
    CHECK(e1 && e2 && strcmp(e1, e2) != 0);
    /* The stale ETag no longer works, with either concurrency. */
    CHECK_RC(put(s, "k", "v3", e1, SS_LAST_WRITE, NULL, &err), SS_ETAG_MISMATCH, &err);
    CHECK_RC(put(s, "k", "v3", e1, SS_FIRST_WRITE, NULL, &err), SS_ETAG_MISMATCH, &err);
    ss_value *v = get(s, "k");
    CHECK(v && strcmp(v->data, "v2") == 0);
    ss_value_free(v);
    /* An ETag on a missing key is a mismatch. */
    CHECK_RC(put(s, "nokey", "x", e2, NULL, NULL, &err), SS_ETAG_MISMATCH, &err);
    CHECK(get(s, "nokey") == NULL);
    /* "" is no ETag at all. */
    CHECK_RC(put(s, "k", "v4", "", NULL, NULL, &err), SS_OK, &err);

    char *e3 = NULL;
    v = get(s, "k");
    if (v) e3 = ss_strdup(v->etag);
    ss_value_free(v);
    ss_delete_request d = {.key = "k", .etag = "bad-etag"};
    CHECK_RC(ss_delete(s, &d, &err), SS_ETAG_MISMATCH, &err);
    d.etag = e3;
    CHECK_RC(ss_delete(s, &d, &err), SS_OK, &err);
    CHECK(get(s, "k") == NULL);
    CHECK_RC(ss_delete(s, &d, &err), SS_ETAG_MISMATCH, &err); /* missing key with ETag */

    ss_free(e3);
    e3 = NULL;
    /* first-write: insert only without ETag; with an ETag the ETag rules. */
    CHECK_RC(put(s, "fw", "a", NULL, SS_FIRST_WRITE, &e3, &err), SS_OK, &err);
    CHECK_RC(put(s, "fw", "b", NULL, SS_FIRST_WRITE, NULL, &err), SS_ETAG_MISMATCH, &err);
    CHECK_RC(put(s, "fw", "b", "", SS_FIRST_WRITE, NULL, &err), SS_ETAG_MISMATCH, &err);
    char *e4 = NULL;
    CHECK_RC(put(s, "fw", "c", e3, SS_FIRST_WRITE, &e4, &err), SS_OK, &err);
    CHECK_RC(put(s, "fw", "d", e3, SS_FIRST_WRITE, NULL, &err), SS_ETAG_MISMATCH, &err);
    v = get(s, "fw");
    CHECK(v && strcmp(v->data, "c") == 0);
    ss_value_free(v);
    ss_free(e1);
    ss_free(e2);
    ss_free(e3);
    ss_free(e4);
    ss_close(s);
}

static void test_ttl(void)
{
    ss_store *s = open_memory("memory", "50ms");
    if (!s) return;
    ss_error err = {0};
    ss_pair md[] = {{SS_META_TTL, "3600"}};
    ss_set_request r = {
        .key = "t", .value = "x", .value_len = 1, .metadata = md, .metadata_count = 1};
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
    ss_value *v = get(s, "t");
    const char *exp = ss_value_meta(v, SS_META_TTL_EXPIRE);
    CHECK(exp != NULL);
    if (exp) {
        struct tm tm = {0};
        CHECK(strlen(exp) == 20 && exp[10] == 'T' && exp[19] == 'Z');
        int y, mo, dd, h, mi, sec;
        CHECK(sscanf(exp, "%d-%d-%dT%d:%d:%dZ", &y, &mo, &dd, &h, &mi, &sec) == 6);
        tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = dd;
        tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
        time_t t = timegm(&tm);
        long diff = (long)(t - time(NULL));
        CHECK(diff > 3500 && diff <= 3601);
    }
    ss_value_free(v);

    /* -1 and a later set without TTL remove the expiry. */
    md[0].value = "-1";
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
    v = get(s, "t");
    CHECK(v && ss_value_meta(v, SS_META_TTL_EXPIRE) == NULL);
    ss_value_free(v);
    md[0].value = "100";
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
    r.metadata_count = 0;
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
    v = get(s, "t");
    CHECK(v && ss_value_meta(v, SS_META_TTL_EXPIRE) == NULL);
    ss_value_free(v);

    /* A 1-second TTL: gone once a second has passed (polled, bounded at 10 s). */
    md[0].value = "1";
    r.metadata_count = 1;
    r.key = "short";
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        ss_value *sv = get(s, "short");
        gone = sv == NULL;
        ss_value_free(sv);
        if (!gone) nanosleep(&(struct timespec){0, 100000000L}, NULL);
    }
    CHECK(gone);
    /* Once expired, the key is absent for first-write too. */
    CHECK_RC(put(s, "short", "again", NULL, SS_FIRST_WRITE, NULL, &err), SS_OK, &err);
    ss_close(s);
}

static ss_operation up(const char *key, const char *val, const char *etag)
{
    ss_operation o = {.kind = SS_OP_UPSERT};
    o.set.key = key;
    o.set.value = val;
    o.set.value_len = strlen(val);
    o.set.etag = etag;
    return o;
}

static ss_operation del(const char *key, const char *etag)
{
    ss_operation o = {.kind = SS_OP_DELETE};
    o.del.key = key;
    o.del.etag = etag;
    return o;
}

static void test_transactions(void)
{
    ss_store *s = open_memory("memory", NULL);
    if (!s) return;
    ss_error err = {0};
    ss_transaction empty = {0};
    CHECK_RC(ss_transact(s, &empty, &err), SS_OK, &err);

    /* Ordered: Dapr's transaction-order case. */
    CHECK_RC(put(s, "key1", "v", NULL, NULL, NULL, &err), SS_OK, &err);
    ss_operation ops[] = {del("key1", NULL), up("key2", "value2", NULL), del("key2", NULL),
                          up("key3", "\"value3\"", NULL)};
    ss_transaction tx = {.ops = ops, .count = 4};
    CHECK_RC(ss_transact(s, &tx, &err), SS_OK, &err);
    CHECK(get(s, "key1") == NULL);
    CHECK(get(s, "key2") == NULL);
    ss_value *v = get(s, "key3");
    CHECK(v && strcmp(v->data, "\"value3\"") == 0);
    char *e3 = v ? ss_strdup(v->etag) : NULL;
    ss_value_free(v);

    /* All or nothing: a bad ETag on the last op leaves every key as it was. */
    ss_operation bad[] = {up("a", "1", NULL), del("key3", NULL), up("b", "2", "wrong")};
    tx = (ss_transaction){.ops = bad, .count = 3};
    CHECK_RC(ss_transact(s, &tx, &err), SS_ETAG_MISMATCH, &err);
    CHECK_CONTAINS(err.message, "store \"mem\" (memory): transact: ");
    CHECK_CONTAINS(err.message, "\"b\"");
    CHECK(get(s, "a") == NULL);
    v = get(s, "key3");
    CHECK(v != NULL);
    ss_value_free(v);

    /* Conditions see the earlier ops: delete then first-write insert is fine ... */
    ss_operation seq[] = {del("key3", e3), up("key3", "new", NULL)};
    seq[1].set.options.concurrency = SS_FIRST_WRITE;
    tx = (ss_transaction){.ops = seq, .count = 2};
    CHECK_RC(ss_transact(s, &tx, &err), SS_OK, &err);
    v = get(s, "key3");
    CHECK(v && strcmp(v->data, "new") == 0);
    ss_value_free(v);
    /* ... and an ETag after an upsert of the same key in the same transaction can't match. */
    ss_operation seq2[] = {up("z", "1", NULL), del("z", e3)};
    tx = (ss_transaction){.ops = seq2, .count = 2};
    CHECK_RC(ss_transact(s, &tx, &err), SS_ETAG_MISMATCH, &err);
    CHECK(get(s, "z") == NULL);
    /* Deleting a key that does not exist inside a transaction succeeds. */
    ss_operation nx[] = {del("non-existent-key", NULL)};
    tx = (ss_transaction){.ops = nx, .count = 1};
    CHECK_RC(ss_transact(s, &tx, &err), SS_OK, &err);
    ss_free(e3);
    ss_close(s);
}

/* A long transaction over few keys: each op's condition must see the last earlier op on its key
 * (looked up by hash, not by scanning back), across 4,000 ops. */
#define LONG_TX_OPS  4000
#define LONG_TX_KEYS 40

static void test_long_transaction(void)
{
    ss_store *s = open_memory("memory", NULL);
    if (!s) return;
    ss_error err = {0};
    static char keys[LONG_TX_KEYS][16], vals[LONG_TX_OPS][16];
    static ss_operation ops[LONG_TX_OPS];
    for (int k = 0; k < LONG_TX_KEYS; k++) snprintf(keys[k], sizeof keys[k], "long-%d", k);
    /* Op i works on key i % 40: the first round inserts with first-write (the key is absent),
     * later rounds overwrite, and the last round deletes the even keys. */
    for (int i = 0; i < LONG_TX_OPS; i++) {
        int k = i % LONG_TX_KEYS;
        snprintf(vals[i], sizeof vals[i], "v%d", i);
        if (i >= LONG_TX_OPS - LONG_TX_KEYS && k % 2 == 0) {
            ops[i] = del(keys[k], NULL);
        } else {
            ops[i] = up(keys[k], vals[i], NULL);
            if (i < LONG_TX_KEYS) ops[i].set.options.concurrency = SS_FIRST_WRITE;
        }
    }
    ss_transaction tx = {.ops = ops, .count = LONG_TX_OPS};
    CHECK_RC(ss_transact(s, &tx, &err), SS_OK, &err);
    for (int k = 0; k < LONG_TX_KEYS; k++) {
        ss_value *v = get(s, keys[k]);
        if (k % 2 == 0) {
            CHECK(v == NULL);
        } else {
            CHECK(v && strcmp(v->data, vals[LONG_TX_OPS - LONG_TX_KEYS + k]) == 0);
        }
        ss_value_free(v);
    }
    /* A first-write on a key that is absent from the store but written by an op 3,994 ops
     * earlier in the same transaction fails, and nothing of the transaction is applied. */
    for (int i = 0; i < LONG_TX_KEYS; i++) ops[i].set.options.concurrency = NULL;
    ops[5] = up("long-fresh", "early", NULL);
    ops[LONG_TX_OPS - 1] = up("long-fresh", "late", NULL);
    ops[LONG_TX_OPS - 1].set.options.concurrency = SS_FIRST_WRITE;
    ops[0] = up(keys[0], "changed", NULL);
    CHECK_RC(ss_transact(s, &tx, &err), SS_ETAG_MISMATCH, &err);
    /* The core's words name store, op and key once; the driver's say only why. */
    CHECK_STR(err.message, "store \"mem\" (memory): transact: operation 3999: set "
                           "\"long-fresh\": etag mismatch: the key already exists (first-write)");
    ss_value *v = get(s, keys[0]);
    CHECK(v == NULL);
    ss_value_free(v);
    v = get(s, "long-fresh");
    CHECK(v == NULL);
    ss_value_free(v);
    ss_close(s);
}

static void test_bulk_native(void)
{
    ss_store *s = open_memory("memory", NULL);
    if (!s) return;
    ss_error err = {0};
    ss_set_request sets[3] = {{.key = "b0", .value = "0", .value_len = 1},
                              {.key = "b1", .value = "1", .value_len = 1},
                              {.key = "b2", .value = "2", .value_len = 1}};
    ss_results res = {0};
    CHECK_RC(ss_bulk_set(&res, s, sets, 3, NULL, &err), SS_OK, &err);
    CHECK(res.count == 3 && res.items && res.items[1].etag && res.items[1].code == SS_OK);
    char *e1 = res.count == 3 ? ss_strdup(res.items[1].etag) : NULL;
    ss_results_free(&res);
    CHECK(res.items == NULL && res.count == 0);

    /* One bad ETag fails that item only. */
    sets[0].etag = "bad";
    sets[1].etag = e1;
    CHECK_RC(ss_bulk_set(&res, s, sets, 3, NULL, &err), SS_ETAG_MISMATCH, &err);
    CHECK_CONTAINS(err.message, "1 of 3 items failed");
    CHECK(res.count == 3);
    if (res.count == 3) {
        CHECK(res.items[0].code == SS_ETAG_MISMATCH && res.items[0].etag == NULL);
        CHECK_CONTAINS(res.items[0].error, "set \"b0\": etag mismatch");
        CHECK(res.items[1].code == SS_OK && res.items[1].error == NULL);
        CHECK(res.items[2].code == SS_OK);
    }
    ss_results_free(&res);

    ss_get_request gets[3] = {{.key = "b2"}, {.key = "nope"}, {.key = "b0"}};
    CHECK_RC(ss_bulk_get(&res, s, gets, 3, NULL, &err), SS_OK, &err);
    CHECK(res.count == 3);
    if (res.count == 3) {
        CHECK(res.items[0].value && strcmp(res.items[0].value->data, "2") == 0);
        CHECK(res.items[1].code == SS_OK && res.items[1].value == NULL);
        CHECK(res.items[2].value && strcmp(res.items[2].value->data, "0") == 0);
    }
    ss_results_free(&res);

    ss_delete_request dels[2] = {{.key = "b0", .etag = "bad"}, {.key = "b2"}};
    CHECK_RC(ss_bulk_delete(NULL, s, dels, 2, NULL, &err), SS_ETAG_MISMATCH, &err);
    CHECK(get(s, "b2") == NULL);
    ss_value *v = get(s, "b0");
    CHECK(v != NULL);
    ss_value_free(v);
    ss_free(e1);
    ss_close(s);
}

/* Many threads on one handle: every increment of a counter guarded by ETags lands exactly once. */
typedef struct race {
    ss_store *s;
    int done;
} race;

static void *racer(void *arg)
{
    race *r = arg;
    for (int i = 0; i < 200; i++) {
        for (;;) {
            ss_get_request g = {.key = "counter"};
            ss_value *v = NULL;
            if (ss_get(&v, r->s, &g, NULL) != SS_OK || !v) break;
            char buf[32];
            snprintf(buf, sizeof buf, "%d", atoi(v->data) + 1);
            ss_set_request st = {
                .key = "counter", .value = buf, .value_len = strlen(buf), .etag = v->etag};
            ss_code rc = ss_set(NULL, r->s, &st, NULL);
            ss_value_free(v);
            if (rc == SS_OK) {
                r->done++;
                break;
            }
            if (rc != SS_ETAG_MISMATCH) break;
        }
    }
    return NULL;
}

static void test_threads(void)
{
    ss_store *s = open_memory("memory", "1ms");
    if (!s) return;
    CHECK_RC(put(s, "counter", "0", NULL, NULL, NULL, NULL), SS_OK, (ss_error *)NULL);
    enum { N = 4 };
    pthread_t t[N];
    race r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (race){s, 0};
        pthread_create(&t[i], NULL, racer, &r[i]);
    }
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        total += r[i].done;
    }
    CHECK(total == N * 200);
    ss_value *v = get(s, "counter");
    CHECK(v && atoi(v->data) == N * 200);
    ss_value_free(v);
    ss_close(s);
}

static void test_open_errors(void)
{
    ss_error err = {0};
    ss_store *s = NULL;
    ss_pair props[] = {{"CLEANUPINTERVAL", "bogus"}};
    ss_config cfg = {.driver = "memory", .name = "m2", .properties = props, .property_count = 1};
    CHECK_RC(ss_open(&s, &cfg, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "store \"m2\" (memory): open: property \"cleanupInterval\": "
                                "value \"bogus\" is not a duration");
    CHECK(s == NULL);
    props[0].value = "-1s";
    CHECK_RC(ss_open(&s, &cfg, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "must be positive");
    props[0].value = "2";
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    ss_features f;
    ss_store_features(s, &f);
    CHECK(f.flags == (SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE | SS_FEATURE_TRANSACTIONAL |
                      SS_FEATURE_TTL | SS_FEATURE_BULK_NATIVE));
    CHECK(f.max_tx_ops == 0 && f.max_key_len == 0 && f.max_value_len == 0);
    ss_close(s);
}

int main(void)
{
    test_open_errors();
    test_basic();
    test_etags();
    test_ttl();
    test_transactions();
    test_long_transaction();
    test_bulk_native();
    test_threads();
    return check_done("test_memory");
}

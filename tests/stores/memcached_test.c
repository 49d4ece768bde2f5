/*
 * memcached_test.c — the memcached driver against a real server (SS_TEST_MEMCACHED_HOSTS):
 * CAS ETags, first-write, delete with ETag, keys memcached cannot take (encoded invisibly and
 * without collisions), one multi-get for bulk get, and the Dapr layout (plain keys hold the raw
 * value, read back with raw libmemcached).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmemcached/memcached.h>
#include <statestore.h>

#include "unit/check.h"

static char prefix[64];
static const char *hosts;

static const char *k(const char *suffix)
{
    static char buf[8][512];
    static int n;
    char *b = buf[n++ % 8];
    snprintf(b, sizeof buf[0], "%s%s", prefix, suffix);
    return b;
}

static ss_value *get(ss_store *s, const char *key)
{
    ss_get_request r = {.key = key};
    ss_value *v = NULL;
    ss_error err;
    if (ss_get(&v, s, &r, &err) != SS_OK) fprintf(stderr, "get: %s\n", err.message);
    return v;
}

static ss_code put(ss_store *s, const char *key, const char *val, const char *etag,
                   const char *concurrency, char **etag_out, ss_error *err)
{
    ss_set_request r = {.key = key, .value = val, .value_len = strlen(val), .etag = etag};
    r.options.concurrency = concurrency;
    return ss_set(etag_out, s, &r, err);
}

static void test_etags(ss_store *s)
{
    ss_error err;
    char *e1 = NULL, *e2 = NULL;
    const char *key = k("etag");
    CHECK_RC(put(s, key, "one", NULL, NULL, &e1, &err), SS_OK, &err);
    CHECK(e1 != NULL && strspn(e1, "0123456789") == strlen(e1));
    ss_value *v = get(s, key);
    CHECK(v && e1 && v->etag && strcmp(v->etag, e1) == 0);
    ss_value_free(v);
    CHECK_RC(put(s, key, "two", e1, NULL, &e2, &err), SS_OK, &err);
    CHECK(e2 && e1 && strcmp(e1, e2) != 0);
    CHECK_RC(put(s, key, "three", e1, NULL, NULL, &err), SS_ETAG_MISMATCH, &err);
    CHECK_RC(put(s, key, "three", "not-a-number", NULL, NULL, &err), SS_ETAG_INVALID, &err);
    v = get(s, key);
    CHECK(v && strcmp(v->data, "two") == 0);
    ss_value_free(v);

    /* Delete with a stale ETag changes nothing; with the current one it deletes. */
    ss_delete_request d = {.key = key, .etag = e1};
    CHECK_RC(ss_delete(s, &d, &err), SS_ETAG_MISMATCH, &err);
    v = get(s, key);
    CHECK(v != NULL);
    ss_value_free(v);
    d.etag = e2;
    CHECK_RC(ss_delete(s, &d, &err), SS_OK, &err);
    v = get(s, key);
    CHECK(v == NULL);
    ss_value_free(v);
    /* Gone: a conditional delete or set is a mismatch, an unconditional delete succeeds. */
    CHECK_RC(ss_delete(s, &d, &err), SS_ETAG_MISMATCH, &err);
    CHECK_RC(put(s, key, "x", e2, NULL, NULL, &err), SS_ETAG_MISMATCH, &err);
    d.etag = NULL;
    CHECK_RC(ss_delete(s, &d, &err), SS_OK, &err);
    /* First-write after the conditional delete: the key is really absent. */
    CHECK_RC(put(s, key, "fw", NULL, SS_FIRST_WRITE, NULL, &err), SS_OK, &err);
    CHECK_RC(put(s, key, "fw2", NULL, SS_FIRST_WRITE, NULL, &err), SS_ETAG_MISMATCH, &err);
    v = get(s, key);
    CHECK(v && strcmp(v->data, "fw") == 0);
    ss_value_free(v);
    ss_free(e1);
    ss_free(e2);
}

static void test_keys(ss_store *s, memcached_st *raw)
{
    ss_error err;
    char longkey[300], hugekey[5000], ctrl[96];
    memset(longkey, 'L', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    memcpy(longkey, prefix, strlen(prefix));
    memset(hugekey, 'H', sizeof hugekey - 1);
    hugekey[sizeof hugekey - 1] = 0;
    memcpy(hugekey, prefix, strlen(prefix));
    snprintf(ctrl, sizeof ctrl, "%sa\tb\r\nc\x01", prefix);
    const char *keys[] = {k("with space"), longkey, hugekey, ctrl, k("é ü"), k("a||b/c%_")};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char val[64];
        snprintf(val, sizeof val, "value-%zu", i);
        CHECK_RC(put(s, keys[i], val, NULL, NULL, NULL, &err), SS_OK, &err);
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char val[64];
        snprintf(val, sizeof val, "value-%zu", i);
        ss_value *v = get(s, keys[i]);
        CHECK(v && strcmp(v->data, val) == 0);
        /* ETags and conditional deletes work on encoded keys too. */
        if (v) {
            ss_delete_request d = {.key = keys[i], .etag = v->etag};
            CHECK_RC(ss_delete(s, &d, &err), SS_OK, &err);
        }
        ss_value_free(v);
        v = get(s, keys[i]);
        CHECK(v == NULL);
        ss_value_free(v);
    }

    /* The declared maximum value fits even under a long (hashed) key. */
    size_t big_len = 1000000;
    char *big = malloc(big_len);
    memset(big, 'z', big_len);
    ss_set_request bigr = {.key = hugekey, .value = big, .value_len = big_len};
    CHECK_RC(ss_set(NULL, s, &bigr, &err), SS_OK, &err);
    ss_value *bv = get(s, hugekey);
    CHECK(bv && bv->len == big_len && memcmp(bv->data, big, big_len) == 0);
    ss_value_free(bv);
    free(big);

    /* A caller's key that looks like an encoded one does not collide with the encoding. */
    const char *spaced = "a b";
    char lookalike[64];
    snprintf(lookalike, sizeof lookalike, "~b64:YSBi"); /* "~b64:" + base64url("a b") */
    CHECK_RC(put(s, spaced, "spaced", NULL, NULL, NULL, &err), SS_OK, &err);
    CHECK_RC(put(s, lookalike, "lookalike", NULL, NULL, NULL, &err), SS_OK, &err);
    ss_value *v = get(s, spaced);
    CHECK(v && strcmp(v->data, "spaced") == 0);
    ss_value_free(v);
    v = get(s, lookalike);
    CHECK(v && strcmp(v->data, "lookalike") == 0);
    ss_value_free(v);
    ss_delete_request d = {.key = spaced};
    CHECK_RC(ss_delete(s, &d, &err), SS_OK, &err);
    d.key = lookalike;
    CHECK_RC(ss_delete(s, &d, &err), SS_OK, &err);

    /* Dapr's layout: a plain key holds exactly the value bytes (binary included). */
    const char *plain = k("plain");
    ss_set_request r = {.key = plain, .value = "\x00\xff\x01raw", .value_len = 6};
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char *raw_v = memcached_get(raw, plain, strlen(plain), &len, &flags, &rc);
    CHECK(raw_v && len == 6 && memcmp(raw_v, "\x00\xff\x01raw", 6) == 0);
    free(raw_v);
    /* And a value a Dapr sidecar wrote is read back as is. */
    const char *dapr = k("from-dapr");
    CHECK(memcached_set(raw, dapr, strlen(dapr), "{\"a\":1}", 7, 0, 0) == MEMCACHED_SUCCESS);
    v = get(s, dapr);
    CHECK(v && v->len == 7 && memcmp(v->data, "{\"a\":1}", 7) == 0 && v->etag);
    ss_value_free(v);
}

static void test_bulk_get(ss_store *s)
{
    ss_error err;
    char longkey[400];
    memset(longkey, 'B', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    memcpy(longkey, prefix, strlen(prefix));
    const char *present[] = {k("bulk-1"), k("bulk 2"), longkey};
    for (size_t i = 0; i < 3; i++)
        CHECK_RC(put(s, present[i], present[i], NULL, NULL, NULL, &err), SS_OK, &err);
    ss_get_request reqs[] = {{.key = present[0]},
                             {.key = k("bulk-missing")},
                             {.key = present[1]},
                             {.key = present[0]},
                             {.key = present[2]}};
    ss_results res = {0};
    CHECK_RC(ss_bulk_get(&res, s, reqs, 5, NULL, &err), SS_OK, &err);
    CHECK(res.count == 5);
    if (res.count == 5) {
        const int want[] = {0, -1, 1, 0, 2};
        for (size_t i = 0; i < 5; i++) {
            CHECK(res.items[i].code == SS_OK);
            if (want[i] < 0) {
                CHECK(res.items[i].value == NULL);
            } else {
                const ss_value *v = res.items[i].value;
                CHECK(v && strcmp(v->data, present[want[i]]) == 0 && v->etag);
            }
        }
    }
    ss_results_free(&res);
}

static void test_ttl(ss_store *s)
{
    ss_error err;
    ss_pair ttl[] = {{"ttlInSeconds", "1"}};
    ss_set_request r = {
        .key = k("ttl"), .value = "t", .value_len = 1, .metadata = ttl, .metadata_count = 1};
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
    ss_value *v = get(s, r.key);
    CHECK(v != NULL);
    ss_value_free(v);
    int gone = 0;
    for (int i = 0; i < 50 && !gone; i++) {
        usleep(100 * 1000);
        v = get(s, r.key);
        gone = v == NULL;
        ss_value_free(v);
    }
    CHECK(gone);
    /* -1 = no expiry (memcached's 0). */
    ttl[0].value = "-1";
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
    sleep(2);
    v = get(s, r.key);
    CHECK(v != NULL);
    ss_value_free(v);
}

int main(void)
{
    hosts = getenv("SS_TEST_MEMCACHED_HOSTS");
    if (!hosts || !*hosts) {
        printf("skip: SS_TEST_MEMCACHED_HOSTS is not set (scripts/services/memcached.sh start "
               "DIR, then source DIR/memcached.env)\n");
        return 77;
    }
    snprintf(prefix, sizeof prefix, "mctest-%ld-%d-", (long)time(NULL), (int)getpid());
    ss_pair props[] = {{"hosts", hosts}, {"timeout", "2s"}};
    ss_config cfg = {.driver = "memcached", .properties = props, .property_count = 2};
    ss_store *s = NULL;
    ss_error err;
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    if (!s) return check_done("memcached_test");

    memcached_st *raw = memcached_create(NULL);
    memcached_server_st *list = memcached_servers_parse(hosts);
    memcached_server_push(raw, list);
    memcached_server_list_free(list);

    test_etags(s);
    test_keys(s, raw);
    test_bulk_get(s);
    test_ttl(s);

    /* Properties: a bad value is a clear error naming the property. */
    ss_pair bad[] = {{"hosts", hosts}, {"maxIdleConnections", "many"}};
    ss_config bcfg = {.driver = "memcached", .properties = bad, .property_count = 2};
    ss_store *b = NULL;
    CHECK(ss_open(&b, &bcfg, &err) == SS_INVALID);
    CHECK_CONTAINS(err.message, "maxIdleConnections");
    /* Nothing listening: opening fails as unavailable. */
    ss_pair none[] = {{"hosts", "127.0.0.1:1"}, {"timeout", "300"}};
    bcfg.properties = none;
    CHECK(ss_open(&b, &bcfg, &err) == SS_UNAVAILABLE);
    CHECK(b == NULL);

    /* Not transactional: declared, and the core answers UNSUPPORTED. */
    ss_features f;
    ss_store_features(s, &f);
    CHECK(!(f.flags & SS_FEATURE_TRANSACTIONAL));
    CHECK(f.flags & SS_FEATURE_ETAG);
    ss_operation op = {.kind = SS_OP_DELETE, .del = {.key = "x"}};
    ss_transaction tx = {.ops = &op, .count = 1};
    CHECK_RC(ss_transact(s, &tx, &err), SS_UNSUPPORTED, &err);

    memcached_free(raw);
    ss_close(s);
    return check_done("memcached_test");
}

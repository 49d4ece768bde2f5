/*
 * etcd driver specifics against a real etcd (SS_TEST_ETCD_ENDPOINTS): Dapr v2 layout read back
 * with raw gateway calls, ETags as mod revisions, transactions that touch one key several times,
 * maxTxnOps, bulk ops, TTL expiry time from the lease, failover past a dead endpoint, errors.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "statestore.h"
#include "store_check.h"
#include "support/base64.h"
#include "support/http.h"

static char prefix[64];
static const char *endpoints;

static ss_store *open_store(const char *eps, const char *max_ops, ss_code *code, ss_error *err)
{
    ss_pair props[] = {{"endpoints", eps}, {"keyPrefixPath", prefix}, {"maxTxnOps", max_ops}};
    ss_config cfg = {.driver = "etcd",
                     .name = "etcdtest",
                     .properties = props,
                     .property_count = max_ops ? 3 : 2};
    ss_store *s = NULL;
    *code = ss_open(&s, &cfg, err);
    return s;
}

static ss_value *get_kv(ss_store *s, const char *key)
{
    ss_value *v = NULL;
    ss_error err;
    ss_get_request r = {.key = key, .consistency = SS_STRONG};
    ss_code c = ss_get(&v, s, &r, &err);
    CHECK(c == SS_OK, "get %s: %s", key, err.message);
    return v;
}

/* Reads the raw etcd value of prefix/key with a plain gateway call. */
static json_t *raw_range(const char *key)
{
    char full[256];
    snprintf(full, sizeof full, "%s/%s", prefix, key);
    char *k64 = ss_base64_encode_alloc(full, strlen(full));
    json_t *body = json_pack("{s:s}", "key", k64);
    free(k64);
    ss_http *h = ss_http_new(NULL);
    char url[512];
    const char *ep = endpoints;
    const char *comma = strchr(ep, ',');
    snprintf(url, sizeof url, "%.*s/v3/kv/range", comma ? (int)(comma - ep) : (int)strlen(ep), ep);
    long status = 0;
    json_t *resp = NULL;
    ss_error err;
    ss_code c = ss_http_post_json(h, url, NULL, body, &status, &resp, NULL, &err);
    CHECK(c == SS_OK && status == 200, "raw range: %d %ld", c, status);
    json_decref(body);
    ss_http_free(h);
    return resp;
}

static void test_layout(ss_store *s)
{
    char *etag = NULL;
    ss_error err;
    /* Every byte value, including NUL and invalid UTF-8. */
    char bin[256];
    for (int i = 0; i < 256; i++) bin[i] = (char)i;
    ss_set_request r = {.key = "bin/a b:c%d||e", .value = bin, .value_len = sizeof bin};
    CHECK(ss_set(&etag, s, &r, &err) == SS_OK, "set bin: %s", err.message);
    ss_value *v = get_kv(s, "bin/a b:c%d||e");
    CHECK(v && v->len == 256 && memcmp(v->data, bin, 256) == 0, "binary value round trip");
    CHECK(v && etag && strcmp(v->etag, etag) == 0, "etag from set equals etag from get");

    json_t *resp = raw_range("bin/a b:c%d||e");
    json_t *kv = json_array_get(json_object_get(resp, "kvs"), 0);
    const char *v64 = json_string_value(json_object_get(kv, "value"));
    const char *mod = json_string_value(json_object_get(kv, "mod_revision"));
    CHECK(mod && etag && strcmp(mod, etag) == 0, "ETag is the mod_revision (%s vs %s)",
          mod ? mod : "-", etag ? etag : "-");
    char *raw = NULL;
    size_t raw_len = 0;
    CHECK(v64 && ss_base64_decode_alloc(&raw, &raw_len, v64, strlen(v64)), "raw value base64");
    /* Dapr v2 Value: field 1 (0x0a) = data, length 256 as varint 0x80 0x02. */
    CHECK(raw && raw_len > 260 && (unsigned char)raw[0] == 0x0a && (unsigned char)raw[1] == 0x80 &&
              raw[2] == 0x02 && memcmp(raw + 3, bin, 256) == 0,
          "raw value is a Dapr v2 protobuf envelope");
    CHECK(raw && (unsigned char)raw[259] == 0x12, "envelope has a timestamp (field 2)");
    free(raw);
    json_decref(resp);
    ss_value_free(v);
    ss_free(etag);

    /* Empty value. */
    CHECK(set_kv(s, "empty", "", NULL, NULL, NULL, NULL, &err) == SS_OK, "%s", err.message);
    v = get_kv(s, "empty");
    CHECK(v && v->len == 0, "empty value is found and empty");
    ss_value_free(v);
}

static void test_etags(ss_store *s)
{
    ss_error err;
    char *e1 = NULL, *e2 = NULL;
    CHECK(set_kv(s, "et", "v1", NULL, NULL, NULL, &e1, &err) == SS_OK, "%s", err.message);
    CHECK(set_kv(s, "et", "v2", e1, NULL, NULL, &e2, &err) == SS_OK, "%s", err.message);
    CHECK(e1 && e2 && strcmp(e1, e2) != 0, "new etag differs");
    CHECK(set_kv(s, "et", "v3", e1, NULL, NULL, NULL, &err) == SS_ETAG_MISMATCH, "stale etag");
    CHECK(strstr(err.message, " (etcd): set \"et\": mod_revision is not ") &&
              !strstr(err.message, "etcd:"),
          "store, op and key named once, by the core: %s", err.message);
    CHECK(set_kv(s, "et", "v3", "9999999", NULL, NULL, NULL, &err) == SS_ETAG_MISMATCH,
          "unknown etag");
    CHECK(set_kv(s, "et", "v3", "not-a-number", NULL, NULL, NULL, &err) == SS_ETAG_INVALID,
          "bad etag: %s", err.message);
    CHECK(set_kv(s, "missing-et", "v", e2, NULL, NULL, NULL, &err) == SS_ETAG_MISMATCH,
          "etag on missing key");
    CHECK(set_kv(s, "et", "v4", NULL, SS_FIRST_WRITE, NULL, NULL, &err) == SS_ETAG_MISMATCH,
          "first-write on existing key");
    ss_delete_request d = {.key = "et", .etag = e1};
    CHECK(ss_delete(s, &d, &err) == SS_ETAG_MISMATCH, "delete with stale etag");
    d.etag = e2;
    CHECK(ss_delete(s, &d, &err) == SS_OK, "delete with etag: %s", err.message);
    ss_value *v = get_kv(s, "et");
    CHECK(v == NULL, "deleted");
    CHECK(set_kv(s, "et", "v5", NULL, SS_FIRST_WRITE, NULL, NULL, &err) == SS_OK,
          "first-write on absent key: %s", err.message);
    ss_free(e1);
    ss_free(e2);
}

static void test_tx(ss_store *s)
{
    ss_error err;
    char *etag = NULL;
    CHECK(set_kv(s, "tx1", "a", NULL, NULL, NULL, &etag, &err) == SS_OK, "%s", err.message);
    /* The same key four times: etcd forbids that in one txn; the driver collapses it. */
    ss_operation ops[5] = {
        {.kind = SS_OP_DELETE, .del = {.key = "tx1", .etag = etag}},
        {.kind = SS_OP_UPSERT, .set = {.key = "tx2", .value = "x", .value_len = 1}},
        {.kind = SS_OP_DELETE, .del = {.key = "tx2"}},
        {.kind = SS_OP_UPSERT, .set = {.key = "tx2", .value = "value2", .value_len = 6}},
        {.kind = SS_OP_UPSERT,
         .set = {.key = "tx1",
                 .value = "b",
                 .value_len = 1,
                 .options = {.concurrency = SS_FIRST_WRITE}}},
    };
    ss_transaction tx = {.ops = ops, .count = 5};
    CHECK(ss_transact(s, &tx, &err) == SS_OK, "tx with repeated keys: %s", err.message);
    ss_value *v1 = get_kv(s, "tx1"), *v2 = get_kv(s, "tx2");
    CHECK(v1 && v1->len == 1 && v1->data[0] == 'b', "tx1 = b");
    CHECK(v2 && v2->len == 6 && memcmp(v2->data, "value2", 6) == 0, "tx2 = value2");
    CHECK(v1 && v2 && strcmp(v1->etag, v2->etag) == 0, "one txn, one revision");

    /* A failing condition changes nothing and names the key. */
    ss_operation bad[2] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "tx3", .value = "n", .value_len = 1}},
        {.kind = SS_OP_UPSERT, .set = {.key = "tx2", .value = "z", .value_len = 1, .etag = etag}},
    };
    tx = (ss_transaction){.ops = bad, .count = 2};
    CHECK(ss_transact(s, &tx, &err) == SS_ETAG_MISMATCH, "stale etag in tx");
    CHECK(strstr(err.message, "): transact: operation 1: set \"tx2\": etag mismatch") &&
              !strstr(err.message, "etcd:"),
          "the core names the op and key once, the driver only why: %s", err.message);
    ss_value *v3 = get_kv(s, "tx3");
    CHECK(v3 == NULL, "nothing applied");
    ss_value_free(v3);

    /* An ETag condition after an earlier write of the same key cannot hold. */
    ss_operation seq[2] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "tx2", .value = "p", .value_len = 1}},
        {.kind = SS_OP_UPSERT,
         .set = {.key = "tx2", .value = "q", .value_len = 1, .etag = v2 ? v2->etag : "1"}},
    };
    tx = (ss_transaction){.ops = seq, .count = 2};
    CHECK(ss_transact(s, &tx, &err) == SS_ETAG_MISMATCH, "etag after write in same tx");
    CHECK(strstr(err.message, "): transact: operation 1: set \"tx2\": written earlier in this "
                              "transaction"),
          "names the op and key: %s", err.message);
    ss_value_free(v1);
    ss_value_free(v2);
    ss_free(etag);
}

static void test_bulk(ss_store *s)
{
    ss_error err;
    enum { N = 150 }; /* more than one 128-op txn */
    ss_set_request sets[N];
    char keys[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "bulk%d", i);
        sets[i] = (ss_set_request){.key = keys[i], .value = keys[i], .value_len = strlen(keys[i])};
    }
    sets[7].key = keys[3]; /* a repeated key: the later write wins */
    ss_results res = {0};
    CHECK(ss_bulk_set(&res, s, sets, N, NULL, &err) == SS_OK, "bulk set: %s", err.message);
    CHECK(res.count == N && res.items[0].etag, "bulk set results with etags");
    ss_results_free(&res);

    ss_get_request gets[N + 1];
    for (int i = 0; i < N; i++) gets[i] = (ss_get_request){.key = keys[i]};
    gets[N] = (ss_get_request){.key = "bulk-missing"};
    CHECK(ss_bulk_get(&res, s, gets, N + 1, NULL, &err) == SS_OK, "bulk get: %s", err.message);
    CHECK(res.count == N + 1, "count");
    for (int i = 0; i < N && res.count == N + 1; i++) {
        if (i == 7) {
            CHECK(res.items[i].value == NULL, "bulk7 never written");
            continue;
        }
        const char *want = i == 3 ? keys[7] : keys[i];
        ss_value *v = res.items[i].value;
        CHECK(res.items[i].code == SS_OK && v && v->len == strlen(want) &&
                  memcmp(v->data, want, v->len) == 0,
              "bulk get item %d", i);
    }
    CHECK(res.count == N + 1 && res.items[N].code == SS_OK && !res.items[N].value, "missing");
    char *good = res.count > 1 && res.items[1].value ? strdup(res.items[1].value->etag) : NULL;
    ss_results_free(&res);

    /* Per-item ETag failures do not stop the others. */
    ss_delete_request dels[3] = {
        {.key = keys[0], .etag = "9999999"}, {.key = keys[1], .etag = good}, {.key = keys[2]}};
    CHECK(ss_bulk_delete(&res, s, dels, 3, NULL, &err) == SS_ETAG_MISMATCH, "bulk delete");
    CHECK(res.count == 3 && res.items[0].code == SS_ETAG_MISMATCH && res.items[1].code == SS_OK &&
              res.items[2].code == SS_OK,
          "per-item outcomes");
    ss_results_free(&res);
    ss_value *v0 = get_kv(s, keys[0]), *v1 = get_kv(s, keys[1]);
    CHECK(v0 && !v1, "only the mismatching delete was skipped");
    ss_value_free(v0);
    ss_value_free(v1);
    free(good);
}

static void test_ttl(ss_store *s)
{
    ss_error err;
    CHECK(set_kv(s, "ttl", "t", NULL, NULL, "3600", NULL, &err) == SS_OK, "%s", err.message);
    ss_value *v = get_kv(s, "ttl");
    const char *exp = v ? ss_value_meta(v, "ttlExpireTime") : NULL;
    CHECK(exp != NULL, "ttlExpireTime present");
    if (exp) {
        struct tm tm = {0};
        CHECK(sscanf(exp, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec) == 6,
              "RFC 3339: %s", exp);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        long d = (long)(timegm(&tm) - time(NULL));
        CHECK(d > 3500 && d <= 3601, "expiry about an hour away (%ld s)", d);
    }
    ss_value_free(v);
    CHECK(set_kv(s, "ttl", "t", NULL, NULL, NULL, NULL, &err) == SS_OK, "%s", err.message);
    v = get_kv(s, "ttl");
    CHECK(v && !ss_value_meta(v, "ttlExpireTime"), "a set without TTL removes the expiry");
    ss_value_free(v);
}

static void test_errors(void)
{
    ss_code code;
    ss_error err;
    ss_store *s = open_store("http://127.0.0.1:1", NULL, &code, &err);
    CHECK(!s && code == SS_UNAVAILABLE, "open on a dead endpoint: %d %s", code, err.message);
    ss_close(s);
    s = open_store(" , ", NULL, &code, &err);
    CHECK(!s && code == SS_INVALID, "empty endpoints: %d %s", code, err.message);
    ss_close(s);
    s = open_store(endpoints, "zero", &code, &err);
    CHECK(!s && code == SS_INVALID, "bad maxTxnOps: %d %s", code, err.message);
    ss_close(s);

    /* The first endpoint is dead: every call fails over to the next. */
    char eps[512];
    snprintf(eps, sizeof eps, "http://127.0.0.1:1,%s", endpoints);
    s = open_store(eps, "2", &code, &err);
    CHECK(s, "open with a dead first endpoint: %s", err.message);
    if (!s) return;
    CHECK(set_kv(s, "fo", "v", NULL, NULL, NULL, NULL, &err) == SS_OK, "%s", err.message);
    ss_value *v = get_kv(s, "fo");
    CHECK(v && v->len == 1, "read through the live endpoint");
    ss_value_free(v);
    ss_operation ops[3] = {
        {.kind = SS_OP_DELETE, .del = {.key = "a"}},
        {.kind = SS_OP_DELETE, .del = {.key = "b"}},
        {.kind = SS_OP_DELETE, .del = {.key = "c"}},
    };
    ss_transaction tx = {.ops = ops, .count = 3};
    CHECK(ss_transact(s, &tx, &err) == SS_TOO_LARGE, "more than maxTxnOps: %s", err.message);

    /* Larger than etcd's request limit (1.5 MiB by default). */
    size_t big = 2u << 20;
    char *buf = calloc(1, big);
    ss_set_request r = {.key = "big", .value = buf, .value_len = big};
    code = ss_set(NULL, s, &r, &err);
    CHECK(code == SS_TOO_LARGE, "2 MiB value: %d %s", code, err.message);
    free(buf);
    ss_close(s);
}

int main(void)
{
    endpoints = getenv("SS_TEST_ETCD_ENDPOINTS");
    if (!endpoints || !*endpoints) {
        printf("skip: SS_TEST_ETCD_ENDPOINTS is not set (start scripts/services/etcd.sh)\n");
        return 77;
    }
    snprintf(prefix, sizeof prefix, "etcdtest-%ld-%d", (long)time(NULL), (int)(clock() & 0xffff));
    ss_code code;
    ss_error err;
    ss_store *s = open_store(endpoints, NULL, &code, &err);
    if (!s) {
        fprintf(stderr, "FAIL open: %s\n", err.message);
        return 1;
    }
    ss_features f;
    ss_store_features(s, &f);
    CHECK(f.max_tx_ops == 128, "declared max_tx_ops %zu", f.max_tx_ops);
    test_layout(s);
    test_etags(s);
    test_tx(s);
    test_bulk(s);
    test_ttl(s);
    ss_close(s);
    test_errors();
    return check_summary("etcd driver tests");
}

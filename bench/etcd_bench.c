/*
 * etcd driver vs plain libcurl JSON calls to the same v3 gateway, on one keep-alive connection
 * each, doing the same work (the raw side also parses the JSON answer and decodes base64):
 *   get:  POST /v3/kv/range (serializable, the driver's "eventual")
 *   set:  POST /v3/kv/put (last-write, no TTL)
 *   bulk of 100: one /v3/kv/txn of 100 range requests / 100 puts
 * Also shown: the driver's conditional set (txn with a mod_revision compare).
 * Targets: single >= 0.9x raw, bulk >= 0.8x raw (printed, never enforced).
 * Needs SS_TEST_ETCD_ENDPOINTS (scripts/services/etcd.sh); exits 77 without it.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "statestore.h"
#include "support/base64.h"

enum { BULK = 100 };

typedef struct bctx {
    ss_store *store;
    CURL *curl;
    struct curl_slist *hdrs;
    char url_range[256], url_put[256], url_txn[256];
    char keys[BULK][48];
    char keys64[BULK][80]; /* base64 of "benchraw/<key>": the raw side has its own keys */
    char value[128];
    char value64[200];
    ss_get_request greq[BULK];
    ss_set_request sreq[BULK];
    char *buf;
    size_t len, cap;
    char *body; /* bulk request bodies, built per call like a client would */
    char etag[32];
} bctx;

static void die(const char *what)
{
    fprintf(stderr, "etcd_bench: %s\n", what);
    exit(1);
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
    bctx *b = u;
    size_t k = s * n;
    if (b->len + k + 1 > b->cap) {
        b->cap = (b->len + k + 1) * 2;
        b->buf = realloc(b->buf, b->cap);
        if (!b->buf) die("out of memory");
    }
    memcpy(b->buf + b->len, p, k);
    b->len += k;
    b->buf[b->len] = 0;
    return k;
}

static json_t *raw_post(bctx *b, const char *url, const char *body)
{
    b->len = 0;
    curl_easy_setopt(b->curl, CURLOPT_URL, url);
    curl_easy_setopt(b->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(b->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    long status = 0;
    if (curl_easy_perform(b->curl) != CURLE_OK) die("raw request failed");
    curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) die("raw request: HTTP error");
    json_t *j = json_loadb(b->buf, b->len, 0, NULL);
    if (!j) die("raw request: bad JSON");
    return j;
}

static void decode_kv(const json_t *kv)
{
    const char *v = json_string_value(json_object_get(kv, "value"));
    char *out = NULL;
    size_t n = 0;
    if (!v || !ss_base64_decode_alloc(&out, &n, v, strlen(v))) die("raw: no value");
    free(out);
}

static void drv_get(void *p, size_t i)
{
    bctx *b = p;
    ss_value *v = NULL;
    if (ss_get(&v, b->store, &b->greq[i % BULK], NULL) != SS_OK || !v) die("driver get failed");
    ss_value_free(v);
}

static void raw_get(void *p, size_t i)
{
    bctx *b = p;
    char body[200];
    snprintf(body, sizeof body, "{\"key\":\"%s\",\"serializable\":true}", b->keys64[i % BULK]);
    json_t *j = raw_post(b, b->url_range, body);
    decode_kv(json_array_get(json_object_get(j, "kvs"), 0));
    json_decref(j);
}

static void drv_set(void *p, size_t i)
{
    bctx *b = p;
    if (ss_set(NULL, b->store, &b->sreq[i % BULK], NULL) != SS_OK) die("driver set failed");
}

static void raw_set(void *p, size_t i)
{
    bctx *b = p;
    char body[400];
    snprintf(body, sizeof body, "{\"key\":\"%s\",\"value\":\"%s\"}", b->keys64[i % BULK],
             b->value64);
    json_t *j = raw_post(b, b->url_put, body);
    json_decref(j);
}

static void drv_cas(void *p, size_t i)
{
    bctx *b = p;
    ss_set_request r = b->sreq[0];
    r.etag = b->etag;
    char *etag = NULL;
    if (ss_set(&etag, b->store, &r, NULL) != SS_OK || !etag) die("driver cas failed");
    snprintf(b->etag, sizeof b->etag, "%s", etag);
    ss_free(etag);
}

static void drv_bulk_get(void *p, size_t i)
{
    bctx *b = p;
    ss_results res = {0};
    if (ss_bulk_get(&res, b->store, b->greq, BULK, NULL, NULL) != SS_OK) die("driver bulk get");
    ss_results_free(&res);
}

static void raw_bulk_get(void *p, size_t i)
{
    bctx *b = p;
    size_t n = 0;
    n += (size_t)sprintf(b->body + n, "{\"success\":[");
    for (int k = 0; k < BULK; k++)
        n += (size_t)sprintf(b->body + n, "%s{\"request_range\":{\"key\":\"%s\"}}", k ? "," : "",
                             b->keys64[k]);
    sprintf(b->body + n, "]}");
    json_t *j = raw_post(b, b->url_txn, b->body);
    json_t *rs = json_object_get(j, "responses");
    for (int k = 0; k < BULK; k++)
        decode_kv(json_array_get(
            json_object_get(json_object_get(json_array_get(rs, (size_t)k), "response_range"),
                            "kvs"),
            0));
    json_decref(j);
}

static void drv_bulk_set(void *p, size_t i)
{
    bctx *b = p;
    if (ss_bulk_set(NULL, b->store, b->sreq, BULK, NULL, NULL) != SS_OK) die("driver bulk set");
}

static void raw_bulk_set(void *p, size_t i)
{
    bctx *b = p;
    size_t n = 0;
    n += (size_t)sprintf(b->body + n, "{\"success\":[");
    for (int k = 0; k < BULK; k++)
        n += (size_t)sprintf(b->body + n, "%s{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}}",
                             k ? "," : "", b->keys64[k], b->value64);
    sprintf(b->body + n, "]}");
    json_decref(raw_post(b, b->url_txn, b->body));
}

/*
 * The machine is shared: each side's best of ROUNDS alternating rounds counts, on the wall clock
 * (most of each call is waiting for the server).
 */
enum { ROUNDS = 3 };

int main(void)
{
    const char *eps = getenv("SS_TEST_ETCD_ENDPOINTS");
    if (!eps || !*eps) {
        printf("skip: SS_TEST_ETCD_ENDPOINTS is not set (start scripts/services/etcd.sh)\n");
        return 77;
    }
    static bctx b;
    char ep[200];
    snprintf(ep, sizeof ep, "%.*s", (int)strcspn(eps, ","), eps);
    const char *prefix = "bench";
    ss_pair props[] = {{"endpoints", ep}, {"keyPrefixPath", prefix}};
    ss_config cfg = {.driver = "etcd", .properties = props, .property_count = 2};
    ss_error err;
    if (ss_open(&b.store, &cfg, &err) != SS_OK) die(err.message);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    b.curl = curl_easy_init();
    b.hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(b.curl, CURLOPT_HTTPHEADER, b.hdrs);
    curl_easy_setopt(b.curl, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(b.curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(b.curl, CURLOPT_TCP_NODELAY, 1L);
    snprintf(b.url_range, sizeof b.url_range, "%s/v3/kv/range", ep);
    snprintf(b.url_put, sizeof b.url_put, "%s/v3/kv/put", ep);
    snprintf(b.url_txn, sizeof b.url_txn, "%s/v3/kv/txn", ep);
    memset(b.value, 'v', 100);
    ss_base64_encode(b.value64, b.value, 100);
    b.body = malloc(BULK * 400);
    for (int k = 0; k < BULK; k++) {
        snprintf(b.keys[k], sizeof b.keys[k], "bench-key-%03d", k);
        char full[96];
        snprintf(full, sizeof full, "benchraw/%s", b.keys[k]);
        ss_base64_encode(b.keys64[k], full, strlen(full));
        b.greq[k] = (ss_get_request){.key = b.keys[k]};
        b.sreq[k] = (ss_set_request){.key = b.keys[k], .value = b.value, .value_len = 100};
    }
    drv_bulk_set(&b, 0);
    raw_bulk_set(&b, 0);

    size_t it = bench_iters(1000), bit = bench_iters(1000) / 10 + 1;
    printf("etcd (JSON gateway) driver vs raw libcurl, %s, 100-byte values\n", ep);
    bench_compare_ratio("get", 0.9, ROUNDS, BENCH_WALL, it, 1,
                        (bench_side){"raw curl range", raw_get, &b},
                        (bench_side){"driver get", drv_get, &b});
    bench_compare_ratio("set", 0.9, ROUNDS, BENCH_WALL, it, 1,
                        (bench_side){"raw curl put", raw_set, &b},
                        (bench_side){"driver set (last-write)", drv_set, &b});
    bench_compare_ratio("bulk get x100", 0.8, ROUNDS, BENCH_WALL, bit, BULK,
                        (bench_side){"raw curl txn of 100 ranges", raw_bulk_get, &b},
                        (bench_side){"driver bulk get x100", drv_bulk_get, &b});
    bench_compare_ratio("bulk set x100", 0.8, ROUNDS, BENCH_WALL, bit, BULK,
                        (bench_side){"raw curl txn of 100 puts", raw_bulk_set, &b},
                        (bench_side){"driver bulk set x100", drv_bulk_set, &b});
    ss_value *cur = NULL;
    if (ss_get(&cur, b.store, &b.greq[0], &err) != SS_OK || !cur) die(err.message);
    snprintf(b.etag, sizeof b.etag, "%s", cur->etag);
    ss_value_free(cur);
    bench_run("driver set with etag (txn compare)", it, 1, drv_cas, &b);

    free(b.body);
    free(b.buf);
    curl_slist_free_all(b.hdrs);
    curl_easy_cleanup(b.curl);
    ss_close(b.store);
    return 0;
}

/*
 * cloud2_bench.c — the gcp.firestore and azure.cosmosdb drivers against raw libcurl doing the
 * same REST requests (same bodies, same JSON parsing with jansson, one keep-alive handle), in the
 * same run, against the local stand-ins:
 *   Firestore (Datastore emulator): get = one lookup; set = one commit; bulk get of 100 = one
 *     lookup; bulk set of 100 = one commit.
 *   Cosmos DB (cosmosdb-server): get = one signed GET; set = one signed upsert POST; bulk get of
 *     100 = 100 point reads (the driver has no native bulk: the core runs 8 at a time, the raw
 *     side runs them one after another, as a plain client would).
 * Targets: >= 0.9x raw for single operations, >= 0.8x for bulks of 100.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "statestore/driver.h"
#include "support/cosmos_auth.h"
#include "support/strbuf.h"

/* libcurl's write callback: the body into an ss_buf (whose oom flag a failed append sets). */
static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    ss_buf *b = ud;
    ss_buf_add(b, p, size * n);
    return b->oom ? 0 : size * n;
}

static CURL *raw_curl;

/* One raw request; returns the parsed JSON answer (or NULL) and checks the status. */
static json_t *raw_req(const char *method, const char *url, struct curl_slist *hdrs,
                       const char *body)
{
    ss_buf b = {0};
    curl_easy_setopt(raw_curl, CURLOPT_URL, url);
    curl_easy_setopt(raw_curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(raw_curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(raw_curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(raw_curl, CURLOPT_WRITEDATA, &b);
    if (body) {
        curl_easy_setopt(raw_curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(raw_curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(raw_curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(raw_curl, CURLOPT_CUSTOMREQUEST, method);
    }
    long status = 0;
    json_t *j = NULL;
    if (curl_easy_perform(raw_curl) == CURLE_OK) {
        curl_easy_getinfo(raw_curl, CURLINFO_RESPONSE_CODE, &status);
        if (status < 300 && b.p) j = json_loadb(b.p, b.len, 0, NULL);
    }
    if (!j) {
        fprintf(stderr, "raw %s %s failed (HTTP %ld)\n", method, url, status);
        exit(1);
    }
    free(b.p);
    return j;
}

static void check(ss_code rc, const ss_error *err, const char *what)
{
    if (rc != SS_OK) {
        fprintf(stderr, "%s: %s\n", what, err->message);
        exit(1);
    }
}

/*
 * Each side's better of ROUNDS alternating rounds counts, on the wall clock: the stand-ins are
 * JVM/Node servers that warm up, and the machine is shared, so one pass in a fixed order would
 * measure the order.
 */
enum { ROUNDS = 2 };

/* ------------------------------------------------------------------------------------------ */
/* The driver side both benchmarks share                                                       */
/* ------------------------------------------------------------------------------------------ */

/* Each benchmark's context starts with this, so one get and one bulk get serve both. */
typedef struct drv_ctx {
    ss_store *s;
    char keys[100][32];
} drv_ctx;

static void drv_get(void *ctx, size_t i)
{
    drv_ctx *d = ctx;
    ss_value *v = NULL;
    ss_error err;
    check(ss_get(&v, d->s, &(ss_get_request){.key = d->keys[i % 100]}, &err), &err, "get");
    ss_value_free(v);
}

static void drv_bulk_get(void *ctx, size_t i)
{
    (void)i;
    drv_ctx *d = ctx;
    ss_get_request reqs[100];
    for (size_t k = 0; k < 100; k++) reqs[k] = (ss_get_request){.key = d->keys[k]};
    ss_results r = {0};
    ss_error err;
    check(ss_bulk_get(&r, d->s, reqs, 100, NULL, &err), &err, "bulk get");
    ss_results_free(&r);
}

/* ------------------------------------------------------------------------------------------ */
/* Firestore                                                                                   */
/* ------------------------------------------------------------------------------------------ */

typedef struct fsb {
    drv_ctx d; /* first: the shared driver-side functions take a fsb as a drv_ctx */
    char url[512];
    struct curl_slist *hdrs;
    const char *project;
} fsb;

static json_t *fs_key(const fsb *b, const char *name)
{
    return json_pack("{s:{s:s}, s:[{s:s, s:s}]}", "partitionId", "projectId", b->project, "path",
                     "kind", "DaprState", "name", name);
}

static json_t *fs_entity(const fsb *b, const char *name, const char *value)
{
    char salt[37];
    ss_uuid4(salt);
    return json_pack("{s:o, s:{s:{s:s}, s:{s:s, s:b}}}", "key", fs_key(b, name), "properties",
                     "Value", "stringValue", value, "ssWriteId", "stringValue", salt,
                     "excludeFromIndexes", 1);
}

static void fs_raw_call(fsb *b, const char *method, json_t *body)
{
    char url[600], *text = json_dumps(body, JSON_COMPACT);
    snprintf(url, sizeof url, "%s:%s", b->url, method);
    json_decref(raw_req("POST", url, b->hdrs, text));
    free(text);
    json_decref(body);
}

static void fs_raw_get(void *ctx, size_t i)
{
    fsb *b = ctx;
    fs_raw_call(b, "lookup",
                json_pack("{s:{s:s}, s:[o]}", "readOptions", "readConsistency", "EVENTUAL", "keys",
                          fs_key(b, b->d.keys[i % 100])));
}

static void fs_drv_set(void *ctx, size_t i)
{
    fsb *b = ctx;
    ss_error err;
    check(ss_set(NULL, b->d.s,
                 &(ss_set_request){
                     .key = b->d.keys[i % 100], .value = "\"bench value\"", .value_len = 13},
                 &err),
          &err, "set");
}

static void fs_raw_set(void *ctx, size_t i)
{
    fsb *b = ctx;
    fs_raw_call(b, "commit",
                json_pack("{s:s, s:[{s:o}]}", "mode", "NON_TRANSACTIONAL", "mutations", "upsert",
                          fs_entity(b, b->d.keys[i % 100], "\"bench value\"")));
}

static void fs_raw_bulk_get(void *ctx, size_t i)
{
    (void)i;
    fsb *b = ctx;
    json_t *keys = json_array();
    for (size_t k = 0; k < 100; k++) json_array_append_new(keys, fs_key(b, b->d.keys[k]));
    fs_raw_call(
        b, "lookup",
        json_pack("{s:{s:s}, s:o}", "readOptions", "readConsistency", "EVENTUAL", "keys", keys));
}

static void fs_drv_bulk_set(void *ctx, size_t i)
{
    (void)i;
    fsb *b = ctx;
    ss_set_request reqs[100];
    for (size_t k = 0; k < 100; k++)
        reqs[k] = (ss_set_request){.key = b->d.keys[k], .value = "\"bulk\"", .value_len = 6};
    ss_results r = {0};
    ss_error err;
    check(ss_bulk_set(&r, b->d.s, reqs, 100, NULL, &err), &err, "bulk set");
    ss_results_free(&r);
}

static void fs_raw_bulk_set(void *ctx, size_t i)
{
    (void)i;
    fsb *b = ctx;
    json_t *muts = json_array();
    for (size_t k = 0; k < 100; k++)
        json_array_append_new(muts,
                              json_pack("{s:o}", "upsert", fs_entity(b, b->d.keys[k], "\"bulk\"")));
    fs_raw_call(b, "commit",
                json_pack("{s:s, s:o}", "mode", "NON_TRANSACTIONAL", "mutations", muts));
}

static int bench_firestore(void)
{
    const char *ep = getenv("SS_TEST_DATASTORE_ENDPOINT");
    const char *proj = getenv("SS_TEST_DATASTORE_PROJECT");
    if (!ep || !*ep || !proj || !*proj) {
        printf("firestore: skipped (SS_TEST_DATASTORE_ENDPOINT unset: the Datastore emulator is "
               "not installed or not started; scripts/services/datastore.sh)\n");
        return 0;
    }
    static fsb b;
    b.project = proj;
    snprintf(b.url, sizeof b.url, "http://%s/v1/projects/%s", ep, proj);
    b.hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    b.hdrs = curl_slist_append(b.hdrs, "Expect:");
    for (size_t k = 0; k < 100; k++) snprintf(b.d.keys[k], sizeof b.d.keys[k], "bench-%zu", k);
    ss_pair props[] = {{"endpoint", ep}, {"project_id", proj}};
    ss_error err;
    check(ss_open(&b.d.s,
                  &(ss_config){.driver = "gcp.firestore", .properties = props, .property_count = 2},
                  &err),
          &err, "open firestore");
    fs_drv_bulk_set(&b, 0);
    size_t n1 = bench_iters(1000), nb = bench_iters(1000) / 20 + 1;
    printf("firestore (Datastore emulator at %s):\n", ep);
    bench_compare_ratio("firestore get", 0.9, ROUNDS, BENCH_WALL, n1, 1,
                        (bench_side){"raw libcurl firestore get", fs_raw_get, &b},
                        (bench_side){"driver firestore get", drv_get, &b});
    bench_compare_ratio("firestore set", 0.9, ROUNDS, BENCH_WALL, n1, 1,
                        (bench_side){"raw libcurl firestore set", fs_raw_set, &b},
                        (bench_side){"driver firestore set", fs_drv_set, &b});
    bench_compare_ratio("firestore bulk get x100", 0.8, ROUNDS, BENCH_WALL, nb, 100,
                        (bench_side){"raw libcurl firestore bulk get x100", fs_raw_bulk_get, &b},
                        (bench_side){"driver firestore bulk get x100", drv_bulk_get, &b});
    bench_compare_ratio("firestore bulk set x100", 0.8, ROUNDS, BENCH_WALL, nb, 100,
                        (bench_side){"raw libcurl firestore bulk set x100", fs_raw_bulk_set, &b},
                        (bench_side){"driver firestore bulk set x100", fs_drv_bulk_set, &b});
    ss_close(b.d.s);
    curl_slist_free_all(b.hdrs);
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Cosmos DB                                                                                   */
/* ------------------------------------------------------------------------------------------ */

typedef struct cb {
    drv_ctx d; /* first: the shared driver-side functions take a cb as a drv_ctx */
    const char *url, *db, *coll;
    ss_cosmos_key *key;
} cb;

/* The headers a Cosmos client sends: date, version, signature, partition key. */
static struct curl_slist *cosmos_headers(cb *b, const char *verb, const char *rtype,
                                         const char *rlink, const char *pk, bool body)
{
    char date[64], tok[160], line[512];
    ss_cosmos_date(ss_now_unix_ms() / 1000, date, sizeof date);
    ss_cosmos_auth_token(b->key, verb, rtype, rlink, date, tok, sizeof tok);
    struct curl_slist *h = NULL;
    snprintf(line, sizeof line, "Authorization: %s", tok);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "x-ms-date: %s", date);
    h = curl_slist_append(h, line);
    h = curl_slist_append(h, "x-ms-version: 2018-12-31");
    h = curl_slist_append(h, "Accept: application/json");
    snprintf(line, sizeof line, "x-ms-documentdb-partitionkey: [\"%s\"]", pk);
    h = curl_slist_append(h, line);
    h = curl_slist_append(h, "Expect:");
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, "x-ms-documentdb-is-upsert: True");
    }
    return h;
}

static void c_raw_get(void *ctx, size_t i)
{
    cb *b = ctx;
    const char *k = b->d.keys[i % 100];
    char link[256], url[512];
    snprintf(link, sizeof link, "dbs/%s/colls/%s/docs/%s", b->db, b->coll, k);
    snprintf(url, sizeof url, "%s/%s", b->url, link);
    struct curl_slist *h = cosmos_headers(b, "GET", "docs", link, k, false);
    json_decref(raw_req("GET", url, h, NULL));
    curl_slist_free_all(h);
}

static void c_drv_set(void *ctx, size_t i)
{
    cb *b = ctx;
    ss_error err;
    check(ss_set(NULL, b->d.s,
                 &(ss_set_request){
                     .key = b->d.keys[i % 100], .value = "{\"bench\":1}", .value_len = 11},
                 &err),
          &err, "set");
}

static void c_raw_set(void *ctx, size_t i)
{
    cb *b = ctx;
    const char *k = b->d.keys[i % 100];
    char link[256], url[512];
    snprintf(link, sizeof link, "dbs/%s/colls/%s", b->db, b->coll);
    snprintf(url, sizeof url, "%s/%s/docs", b->url, link);
    json_t *v = json_loads("{\"bench\":1}", 0, NULL);
    json_t *doc =
        json_pack("{s:s, s:s, s:o, s:b}", "id", k, "partitionKey", k, "value", v, "isBinary", 0);
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    struct curl_slist *h = cosmos_headers(b, "POST", "docs", link, k, true);
    json_decref(raw_req("POST", url, h, body));
    curl_slist_free_all(h);
    free(body);
}

static void c_raw_bulk_get(void *ctx, size_t i)
{
    (void)i;
    for (size_t k = 0; k < 100; k++) c_raw_get(ctx, k);
}

static int bench_cosmos(void)
{
    cb *b = calloc(1, sizeof *b);
    b->url = getenv("SS_TEST_COSMOS_URL");
    const char *mkey = getenv("SS_TEST_COSMOS_KEY");
    b->db = getenv("SS_TEST_COSMOS_DB");
    b->coll = getenv("SS_TEST_COSMOS_COLLECTION");
    if (!b->url || !*b->url || !mkey || !b->db || !b->coll) {
        printf("cosmosdb: skipped (SS_TEST_COSMOS_URL unset; scripts/services/cosmosdb.sh)\n");
        free(b);
        return 0;
    }
    ss_error err;
    check(ss_cosmos_key_new(&b->key, mkey, &err), &err, "key");
    for (size_t k = 0; k < 100; k++) snprintf(b->d.keys[k], sizeof b->d.keys[k], "bench-%zu", k);
    ss_pair props[] = {
        {"url", b->url}, {"masterKey", mkey}, {"database", b->db}, {"collection", b->coll}};
    check(
        ss_open(&b->d.s,
                &(ss_config){.driver = "azure.cosmosdb", .properties = props, .property_count = 4},
                &err),
        &err, "open cosmosdb");
    for (size_t k = 0; k < 100; k++) c_drv_set(b, k);
    size_t n1 = bench_iters(2000), nb = bench_iters(2000) / 100 + 1;
    printf("cosmosdb (cosmosdb-server at %s):\n", b->url);
    bench_compare_ratio("cosmosdb get", 0.9, ROUNDS, BENCH_WALL, n1, 1,
                        (bench_side){"raw libcurl cosmosdb get", c_raw_get, b},
                        (bench_side){"driver cosmosdb get", drv_get, b});
    bench_compare_ratio("cosmosdb set", 0.9, ROUNDS, BENCH_WALL, n1, 1,
                        (bench_side){"raw libcurl cosmosdb set", c_raw_set, b},
                        (bench_side){"driver cosmosdb set", c_drv_set, b});
    bench_compare_ratio("cosmosdb bulk get x100", 0.8, ROUNDS, BENCH_WALL, nb, 100,
                        (bench_side){"raw libcurl cosmosdb bulk get x100", c_raw_bulk_get, b},
                        (bench_side){"driver cosmosdb bulk get x100", drv_bulk_get, b});
    ss_close(b->d.s);
    ss_cosmos_key_free(b->key);
    free(b);
    return 1;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    raw_curl = curl_easy_init();
    int ran = 0;
#ifdef SS_BENCH_FIRESTORE
    ran += bench_firestore();
#endif
#ifdef SS_BENCH_COSMOSDB
    ran += bench_cosmos();
#endif
    curl_easy_cleanup(raw_curl);
    curl_global_cleanup();
    return ran ? 0 : 77;
}

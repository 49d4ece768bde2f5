/*
 * Cloud drivers vs raw libcurl doing the same HTTP requests, each side on its own keep-alive
 * connection(s), against the local stand-ins:
 *
 * DynamoDB (dynalite, SS_TEST_DYNAMODB_ENDPOINT): the raw side signs every request with the same
 * SigV4 code (a real client must sign too) and parses the JSON answer.
 *   get: GetItem;  set: PutItem (last-write);  bulk get x100: one BatchGetItem;
 *   bulk set x100: four BatchWriteItem calls of 25.
 * Azure Table (Azurite, SS_TEST_AZURITE_*): the raw side signs with the same SharedKey code.
 *   get: GET entity;  set: PUT entity (upsert);  bulk x100: the Table service has no batch read,
 *   and the driver's bulk calls are the core's parallel loop (8 in flight), so the raw side is
 *   100 requests on 8 concurrent connections (curl multi) - the same requests, the same overlap.
 *
 * Targets: single >= 0.9x raw, bulk of 100 >= 0.8x raw (printed, never enforced). Exits 77 when
 * neither stand-in is configured.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "statestore.h"
#include "statestore/driver.h"
#include "support/aws_sigv4.h"
#include "support/azure_sharedkey.h"
#include "support/base64.h"

enum { BULK = 100, PAR = 8 };

static void die(const char *what)
{
    fprintf(stderr, "cloud_bench: %s\n", what);
    exit(1);
}

typedef struct sinkbuf {
    char *p;
    size_t len, cap;
} sinkbuf;

static size_t sink(char *p, size_t s, size_t n, void *u)
{
    sinkbuf *b = u;
    size_t k = s * n;
    if (b->len + k + 1 > b->cap) {
        b->cap = (b->len + k + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) die("out of memory");
    }
    memcpy(b->p + b->len, p, k);
    b->len += k;
    b->p[b->len] = 0;
    return k;
}

/*
 * The machine is shared: each side's best of ROUNDS alternating rounds counts, on the wall clock
 * (most of each call is waiting for the emulator, whose own load swings the numbers; the client
 * CPU per operation printed beside them hardly depends on it).
 */
enum { ROUNDS = 3 };

/* ------------------------------------------------------------------------------------------ */
/* DynamoDB                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct ddb {
    ss_store *store;
    CURL *curl;
    sinkbuf out;
    char url[256], host[128];
    char keys[BULK][32];
    char value[101];
    ss_get_request greq[BULK];
    ss_set_request sreq[BULK];
    char *body;
} ddb;

static json_t *ddb_raw(ddb *d, const char *op, const char *body)
{
    char target[64];
    snprintf(target, sizeof target, "DynamoDB_20120810.%s", op);
    ss_pair h[3] = {{"Content-Type", "application/x-amz-json-1.0"},
                    {"Host", d->host},
                    {"X-Amz-Target", target}};
    ss_sigv4_request sr = {.method = "POST",
                           .path = "/",
                           .headers = h,
                           .header_count = 3,
                           .payload = body,
                           .payload_len = strlen(body)};
    ss_sigv4_params sp = {.access_key = "AKIDBENCH",
                          .secret_key = "bench-secret",
                          .region = "us-east-1",
                          .service = "dynamodb",
                          .unix_seconds = time(NULL),
                          .normalize_path = true};
    ss_sigv4_result sig;
    if (ss_sigv4_sign(&sr, &sp, &sig, NULL) != SS_OK) die("sign");
    char hh[160], ht[96], hd[48], ha[400];
    snprintf(hh, sizeof hh, "Host: %s", d->host);
    snprintf(ht, sizeof ht, "X-Amz-Target: %s", target);
    snprintf(hd, sizeof hd, "X-Amz-Date: %s", sig.amz_date);
    snprintf(ha, sizeof ha, "Authorization: %s", sig.authorization);
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/x-amz-json-1.0");
    l = curl_slist_append(l, hh);
    l = curl_slist_append(l, ht);
    l = curl_slist_append(l, hd);
    l = curl_slist_append(l, ha);
    l = curl_slist_append(l, "Expect:");
    ss_sigv4_result_clear(&sig);
    d->out.len = 0;
    curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, l);
    curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(d->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    if (curl_easy_perform(d->curl) != CURLE_OK) die("raw dynamodb request");
    curl_slist_free_all(l);
    long st = 0;
    curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &st);
    if (st != 200) die(d->out.p ? d->out.p : "raw dynamodb status");
    json_t *j = json_loadb(d->out.p, d->out.len, JSON_ALLOW_NUL, NULL);
    if (!j) die("raw dynamodb answer");
    return j;
}

static void ddb_drv_get(void *p, size_t i)
{
    ddb *d = p;
    ss_value *v = NULL;
    if (ss_get(&v, d->store, &d->greq[i % BULK], NULL) != SS_OK || !v) die("driver get");
    ss_value_free(v);
}

static void ddb_raw_get(void *p, size_t i)
{
    ddb *d = p;
    char body[256];
    snprintf(body, sizeof body, "{\"TableName\":\"bench\",\"Key\":{\"key\":{\"S\":\"%s\"}}}",
             d->keys[i % BULK]);
    json_t *j = ddb_raw(d, "GetItem", body);
    if (!json_object_get(json_object_get(json_object_get(j, "Item"), "value"), "S"))
        die("raw get: no item");
    json_decref(j);
}

static void ddb_drv_set(void *p, size_t i)
{
    ddb *d = p;
    if (ss_set(NULL, d->store, &d->sreq[i % BULK], NULL) != SS_OK) die("driver set");
}

static void ddb_raw_set(void *p, size_t i)
{
    ddb *d = p;
    char body[512], etag[37];
    ss_uuid4(etag);
    snprintf(body, sizeof body,
             "{\"TableName\":\"bench\",\"Item\":{\"key\":{\"S\":\"%s\"},\"value\":{\"S\":\"%s\"},"
             "\"etag\":{\"S\":\"%s\"}}}",
             d->keys[i % BULK], d->value, etag);
    json_decref(ddb_raw(d, "PutItem", body));
}

static void ddb_drv_bget(void *p, size_t i)
{
    ddb *d = p;
    (void)i;
    ss_results r = {0};
    if (ss_bulk_get(&r, d->store, d->greq, BULK, NULL, NULL) != SS_OK) die("driver bulk get");
    ss_results_free(&r);
}

static void ddb_raw_bget(void *p, size_t i)
{
    ddb *d = p;
    (void)i;
    size_t n = (size_t)sprintf(d->body, "{\"RequestItems\":{\"bench\":{\"Keys\":[");
    for (int k = 0; k < BULK; k++)
        n += (size_t)sprintf(d->body + n, "%s{\"key\":{\"S\":\"%s\"}}", k ? "," : "", d->keys[k]);
    sprintf(d->body + n, "]}}}");
    json_t *j = ddb_raw(d, "BatchGetItem", d->body);
    if (json_array_size(json_object_get(json_object_get(j, "Responses"), "bench")) != BULK)
        die("raw bulk get: missing items");
    json_decref(j);
}

static void ddb_drv_bset(void *p, size_t i)
{
    ddb *d = p;
    (void)i;
    if (ss_bulk_set(NULL, d->store, d->sreq, BULK, NULL, NULL) != SS_OK) die("driver bulk set");
}

static void ddb_raw_bset(void *p, size_t i)
{
    ddb *d = p;
    (void)i;
    for (int c = 0; c < BULK / 25; c++) {
        size_t n = (size_t)sprintf(d->body, "{\"RequestItems\":{\"bench\":[");
        for (int k = c * 25; k < c * 25 + 25; k++) {
            char etag[37];
            ss_uuid4(etag);
            n += (size_t)sprintf(d->body + n,
                                 "%s{\"PutRequest\":{\"Item\":{\"key\":{\"S\":\"%s\"},\"value\":{"
                                 "\"S\":\"%s\"},\"etag\":{\"S\":\"%s\"}}}}",
                                 k > c * 25 ? "," : "", d->keys[k], d->value, etag);
        }
        sprintf(d->body + n, "]}}");
        json_decref(ddb_raw(d, "BatchWriteItem", d->body));
    }
}

static void bench_dynamodb(const char *ep)
{
    static ddb d;
    ss_pair props[] = {{"table", "bench"},         {"endpoint", ep},
                       {"accessKey", "AKIDBENCH"}, {"secretKey", "bench-secret"},
                       {"createTable", "true"},    {"region", "us-east-1"}};
    ss_config cfg = {.driver = "aws.dynamodb", .properties = props, .property_count = 6};
    ss_error err;
    if (ss_open(&d.store, &cfg, &err) != SS_OK) die(err.message);
    snprintf(d.url, sizeof d.url, "%s/", ep);
    const char *a = strstr(ep, "://");
    snprintf(d.host, sizeof d.host, "%.*s", (int)strcspn(a + 3, "/"), a + 3);
    d.curl = curl_easy_init();
    curl_easy_setopt(d.curl, CURLOPT_URL, d.url);
    curl_easy_setopt(d.curl, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(d.curl, CURLOPT_WRITEDATA, &d.out);
    curl_easy_setopt(d.curl, CURLOPT_TCP_NODELAY, 1L);
    memset(d.value, 'v', 100);
    d.body = malloc(BULK * 300);
    if (!d.body) die("out of memory");
    for (int k = 0; k < BULK; k++) {
        snprintf(d.keys[k], sizeof d.keys[k], "bench-key-%03d", k);
        d.greq[k] = (ss_get_request){.key = d.keys[k]};
        d.sreq[k] = (ss_set_request){.key = d.keys[k], .value = d.value, .value_len = 100};
    }
    ddb_drv_bset(&d, 0);
    size_t it = bench_iters(1000), bit = bench_iters(1000) / 10 + 1;
    printf("DynamoDB driver vs raw libcurl (+ the same SigV4), dynalite at %s, 100-byte values\n",
           ep);
    bench_compare_ratio("dynamodb get", 0.9, ROUNDS, BENCH_WALL, it, 1,
                        (bench_side){"raw GetItem", ddb_raw_get, &d},
                        (bench_side){"driver get", ddb_drv_get, &d});
    bench_compare_ratio("dynamodb set", 0.9, ROUNDS, BENCH_WALL, it, 1,
                        (bench_side){"raw PutItem", ddb_raw_set, &d},
                        (bench_side){"driver set (last-write)", ddb_drv_set, &d});
    bench_compare_ratio("dynamodb bulk get x100", 0.8, ROUNDS, BENCH_WALL, bit, BULK,
                        (bench_side){"raw BatchGetItem of 100", ddb_raw_bget, &d},
                        (bench_side){"driver bulk get x100", ddb_drv_bget, &d});
    bench_compare_ratio("dynamodb bulk set x100", 0.8, ROUNDS, BENCH_WALL, bit, BULK,
                        (bench_side){"raw 4 x BatchWriteItem of 25", ddb_raw_bset, &d},
                        (bench_side){"driver bulk set x100", ddb_drv_bset, &d});
    free(d.body);
    free(d.out.p);
    curl_easy_cleanup(d.curl);
    ss_close(d.store);
}

/* ------------------------------------------------------------------------------------------ */
/* Azure Table                                                                                 */
/* ------------------------------------------------------------------------------------------ */

typedef struct azr {
    CURL *curl;
    sinkbuf out;
    struct curl_slist *hdrs;
} azr;

typedef struct azb {
    ss_store *store;
    ss_azure_key key;
    const char *ep;
    const char *base_path;
    azr conn[PAR];
    CURLM *multi;
    char keys[BULK][32];
    char value[101];
    char body[256];
    ss_get_request greq[BULK];
    ss_set_request sreq[BULK];
} azb;

/* Prepares conn c for one request on key k (GET, or PUT of the value). */
static void az_prepare(azb *a, azr *c, size_t k, bool put)
{
    char path[256], url[512], date[40], auth[256], hd[64], ha[300];
    snprintf(path, sizeof path, "%s/bench(PartitionKey='bench',RowKey='%s')", a->base_path,
             a->keys[k]);
    snprintf(url, sizeof url, "%.*s%s", (int)(a->base_path - a->ep), a->ep, path);
    ss_azure_rfc1123(time(NULL), date, sizeof date);
    if (ss_azure_table_authorization(&a->key, put ? "PUT" : "GET", NULL,
                                     put ? "application/json" : NULL, date, path, NULL, auth,
                                     sizeof auth, NULL) != SS_OK)
        die("sharedkey");
    snprintf(hd, sizeof hd, "x-ms-date: %s", date);
    snprintf(ha, sizeof ha, "Authorization: %s", auth);
    curl_slist_free_all(c->hdrs);
    c->hdrs = curl_slist_append(NULL, hd);
    c->hdrs = curl_slist_append(c->hdrs, ha);
    c->hdrs = curl_slist_append(c->hdrs, "x-ms-version: 2019-02-02");
    c->hdrs = curl_slist_append(c->hdrs, "Accept: application/json;odata=minimalmetadata");
    c->hdrs = curl_slist_append(c->hdrs, "DataServiceVersion: 3.0;NetFx");
    c->hdrs = curl_slist_append(c->hdrs, "MaxDataServiceVersion: 3.0;NetFx");
    c->hdrs = curl_slist_append(c->hdrs, put ? "Content-Type: application/json" : "Content-Type:");
    c->hdrs = curl_slist_append(c->hdrs, "Expect:");
    c->out.len = 0;
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->hdrs);
    if (put) {
        curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, a->body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(a->body));
    } else {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
    }
}

static void az_check(azr *c, bool put)
{
    long st = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &st);
    if (st != (put ? 204 : 200)) die(c->out.p ? c->out.p : "raw azure status");
    if (!put) {
        json_t *j = json_loadb(c->out.p, c->out.len, 0, NULL);
        if (!json_string_value(json_object_get(j, "Value"))) die("raw azure get: no Value");
        json_decref(j);
    }
}

static void az_drv_get(void *p, size_t i)
{
    azb *a = p;
    ss_value *v = NULL;
    if (ss_get(&v, a->store, &a->greq[i % BULK], NULL) != SS_OK || !v) die("driver get");
    ss_value_free(v);
}

static void az_raw_get(void *p, size_t i)
{
    azb *a = p;
    az_prepare(a, &a->conn[0], i % BULK, false);
    if (curl_easy_perform(a->conn[0].curl) != CURLE_OK) die("raw azure get");
    az_check(&a->conn[0], false);
}

static void az_drv_set(void *p, size_t i)
{
    azb *a = p;
    if (ss_set(NULL, a->store, &a->sreq[i % BULK], NULL) != SS_OK) die("driver set");
}

static void az_raw_set(void *p, size_t i)
{
    azb *a = p;
    az_prepare(a, &a->conn[0], i % BULK, true);
    if (curl_easy_perform(a->conn[0].curl) != CURLE_OK) die("raw azure set");
    az_check(&a->conn[0], true);
}

/* 100 requests over PAR connections, PAR in flight, as the core's bulk loop does. */
static void az_raw_many(azb *a, bool put)
{
    size_t next = 0, done = 0;
    int running = 0;
    for (int c = 0; c < PAR && next < BULK; c++, next++) {
        az_prepare(a, &a->conn[c], next, put);
        curl_easy_setopt(a->conn[c].curl, CURLOPT_PRIVATE, &a->conn[c]);
        curl_multi_add_handle(a->multi, a->conn[c].curl);
    }
    while (done < BULK) {
        curl_multi_perform(a->multi, &running);
        CURLMsg *m;
        int q;
        while ((m = curl_multi_info_read(a->multi, &q))) {
            if (m->msg != CURLMSG_DONE) continue;
            azr *c = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            if (m->data.result != CURLE_OK) die("raw azure multi");
            az_check(c, put);
            curl_multi_remove_handle(a->multi, m->easy_handle);
            done++;
            if (next < BULK) {
                az_prepare(a, c, next++, put);
                curl_multi_add_handle(a->multi, c->curl);
            }
        }
        if (done < BULK) curl_multi_poll(a->multi, NULL, 0, 100, NULL);
    }
}

static void az_drv_bget(void *p, size_t i)
{
    azb *a = p;
    (void)i;
    ss_results r = {0};
    ss_bulk_options o = {.parallelism = PAR};
    if (ss_bulk_get(&r, a->store, a->greq, BULK, &o, NULL) != SS_OK) die("driver bulk get");
    ss_results_free(&r);
}

static void az_raw_bget(void *p, size_t i)
{
    (void)i;
    az_raw_many(p, false);
}

static void az_drv_bset(void *p, size_t i)
{
    azb *a = p;
    (void)i;
    ss_bulk_options o = {.parallelism = PAR};
    if (ss_bulk_set(NULL, a->store, a->sreq, BULK, &o, NULL) != SS_OK) die("driver bulk set");
}

static void az_raw_bset(void *p, size_t i)
{
    (void)i;
    az_raw_many(p, true);
}

static void bench_azure(const char *ep, const char *account, const char *key)
{
    static azb a;
    ss_pair props[] = {{"accountName", account},
                       {"accountKey", key},
                       {"tableName", "bench"},
                       {"serviceURL", ep},
                       {"partitionKey", "bench"}};
    ss_config cfg = {.driver = "azure.tablestorage", .properties = props, .property_count = 5};
    ss_error err;
    if (ss_open(&a.store, &cfg, &err) != SS_OK) die(err.message);
    if (ss_azure_key_init(&a.key, account, key, &err) != SS_OK) die(err.message);
    a.ep = ep;
    a.base_path = strchr(strstr(ep, "://") + 3, '/');
    if (!a.base_path) a.base_path = ep + strlen(ep);
    a.multi = curl_multi_init();
    for (int c = 0; c < PAR; c++) {
        a.conn[c].curl = curl_easy_init();
        curl_easy_setopt(a.conn[c].curl, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(a.conn[c].curl, CURLOPT_WRITEDATA, &a.conn[c].out);
        curl_easy_setopt(a.conn[c].curl, CURLOPT_TCP_NODELAY, 1L);
    }
    memset(a.value, 'v', 100);
    snprintf(a.body, sizeof a.body, "{\"Value\":\"%s\"}", a.value);
    for (int k = 0; k < BULK; k++) {
        snprintf(a.keys[k], sizeof a.keys[k], "bench-key-%03d", k);
        a.greq[k] = (ss_get_request){.key = a.keys[k]};
        a.sreq[k] = (ss_set_request){.key = a.keys[k], .value = a.value, .value_len = 100};
    }
    az_drv_bset(&a, 0);
    size_t it = bench_iters(1000), bit = bench_iters(1000) / 10 + 1;
    printf("Azure Table driver vs raw libcurl (+ the same SharedKey), Azurite at %s, 100-byte "
           "values\n",
           ep);
    bench_compare_ratio("azure get", 0.9, ROUNDS, BENCH_WALL, it, 1,
                        (bench_side){"raw GET entity", az_raw_get, &a},
                        (bench_side){"driver get", az_drv_get, &a});
    bench_compare_ratio("azure set", 0.9, ROUNDS, BENCH_WALL, it, 1,
                        (bench_side){"raw PUT entity", az_raw_set, &a},
                        (bench_side){"driver set (last-write)", az_drv_set, &a});
    bench_compare_ratio("azure bulk get x100", 0.8, ROUNDS, BENCH_WALL, bit, BULK,
                        (bench_side){"raw 100 GETs, 8 in flight", az_raw_bget, &a},
                        (bench_side){"driver bulk get x100 (8 in flight)", az_drv_bget, &a});
    bench_compare_ratio("azure bulk set x100", 0.8, ROUNDS, BENCH_WALL, bit, BULK,
                        (bench_side){"raw 100 PUTs, 8 in flight", az_raw_bset, &a},
                        (bench_side){"driver bulk set x100 (8 in flight)", az_drv_bset, &a});
    for (int c = 0; c < PAR; c++) {
        curl_easy_cleanup(a.conn[c].curl);
        curl_slist_free_all(a.conn[c].hdrs);
        free(a.conn[c].out.p);
    }
    curl_multi_cleanup(a.multi);
    ss_azure_key_clear(&a.key);
    ss_close(a.store);
}

int main(void)
{
    const char *dep = getenv("SS_TEST_DYNAMODB_ENDPOINT");
    const char *aep = getenv("SS_TEST_AZURITE_ENDPOINT");
    const char *acc = getenv("SS_TEST_AZURITE_ACCOUNT");
    const char *akey = getenv("SS_TEST_AZURITE_KEY");
    bool have_d = dep && *dep, have_a = aep && *aep && acc && *acc && akey && *akey;
    if (!have_d && !have_a) {
        printf("skip: neither SS_TEST_DYNAMODB_ENDPOINT nor SS_TEST_AZURITE_* is set (start "
               "scripts/services/dynalite.sh and azurite.sh)\n");
        return 77;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (have_d)
        bench_dynamodb(dep);
    else
        printf("dynamodb: skipped (SS_TEST_DYNAMODB_ENDPOINT is not set)\n");
    if (have_a)
        bench_azure(aep, acc, akey);
    else
        printf("azure: skipped (SS_TEST_AZURITE_* are not set)\n");
    curl_global_cleanup();
    return 0;
}

/*
 * mongodb_bench.c — the mongodb driver through the public API against raw libmongoc doing the
 * same work on the same server (SS_TEST_MONGODB_HOST; exits 77 without it): a set (replace with
 * upsert of Dapr's document, new UUID ETag), a get (find by _id with the same projection), a
 * bulk get of 100 keys (one $in find) and a bulk set of 100 (one ordered bulk write).
 * Targets: single operations >= 0.9x raw, bulk >= 0.8x raw.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mongoc/mongoc.h>
#include <statestore.h>
#include <statestore/driver.h>

#include "driver_side.h"
#include "harness.h"

#define NKEYS   10000
#define VAL_LEN 100
#define BULK    100
#define ROUNDS  3

typedef struct bench {
    ss_store *store;
    mongoc_client_t *client;
    mongoc_collection_t *coll;
    char keys[NKEYS][32];
    char value[VAL_LEN + 1];
    ss_get_request greqs[NKEYS];
    ss_set_request sreqs[NKEYS];
    bson_t projection;
} bench;

static bench b;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "mongodb_bench: %s: %s\n", what, msg);
    exit(1);
}

static void raw_doc(bson_t *doc, bson_t *filter, size_t k)
{
    char etag[37];
    ss_uuid4(etag);
    bson_init(filter);
    BSON_APPEND_UTF8(filter, "_id", b.keys[k]);
    bson_init(doc);
    BSON_APPEND_UTF8(doc, "_id", b.keys[k]);
    BSON_APPEND_UTF8(doc, "value", b.value);
    BSON_APPEND_UTF8(doc, "_etag", etag);
    BSON_APPEND_NULL(doc, "_ttl");
}

static void raw_set(void *ctx, size_t i)
{
    (void)ctx;
    bson_t doc, filter, opts = BSON_INITIALIZER;
    bson_error_t e;
    raw_doc(&doc, &filter, i % NKEYS);
    BSON_APPEND_BOOL(&opts, "upsert", true);
    if (!mongoc_collection_replace_one(b.coll, &filter, &doc, &opts, NULL, &e))
        die("raw replace", e.message);
    bson_destroy(&doc);
    bson_destroy(&filter);
    bson_destroy(&opts);
}

static void raw_get(void *ctx, size_t i)
{
    (void)ctx;
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", b.keys[(i * 7) % NKEYS]);
    BSON_APPEND_INT64(&opts, "limit", 1);
    BSON_APPEND_DOCUMENT(&opts, "projection", &b.projection);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(b.coll, &filter, &opts, NULL);
    const bson_t *doc;
    int found = 0;
    while (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        uint32_t n = 0;
        if (bson_iter_init_find(&it, doc, "value")) {
            const char *v = bson_iter_utf8(&it, &n);
            char *copy = malloc(n + 1);
            memcpy(copy, v, n);
            free(copy);
            found++;
        }
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(&filter);
    bson_destroy(&opts);
    if (!found) die("raw get", "missing key");
}

static void raw_bulk_get(void *ctx, size_t i)
{
    (void)ctx;
    size_t base = (i * BULK) % (NKEYS - BULK);
    bson_t filter = BSON_INITIALIZER, in, arr, opts = BSON_INITIALIZER;
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &in);
    BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
    for (size_t j = 0; j < BULK; j++) {
        char idx[16];
        const char *name;
        bson_uint32_to_string((uint32_t)j, &name, idx, sizeof idx);
        bson_append_utf8(&arr, name, -1, b.keys[base + j], -1);
    }
    bson_append_array_end(&in, &arr);
    bson_append_document_end(&filter, &in);
    BSON_APPEND_DOCUMENT(&opts, "projection", &b.projection);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(b.coll, &filter, &opts, NULL);
    const bson_t *doc;
    int found = 0;
    while (mongoc_cursor_next(cur, &doc)) found++;
    mongoc_cursor_destroy(cur);
    bson_destroy(&filter);
    bson_destroy(&opts);
    if (found != BULK) die("raw bulk get", "missing keys");
}

static void raw_bulk_set(void *ctx, size_t i)
{
    (void)ctx;
    size_t base = (i * BULK) % (NKEYS - BULK);
    bson_t opts = BSON_INITIALIZER, uopts = BSON_INITIALIZER;
    bson_error_t e;
    BSON_APPEND_BOOL(&opts, "ordered", true);
    BSON_APPEND_BOOL(&uopts, "upsert", true);
    mongoc_bulk_operation_t *bulk =
        mongoc_collection_create_bulk_operation_with_opts(b.coll, &opts);
    for (size_t j = 0; j < BULK; j++) {
        bson_t doc, filter;
        raw_doc(&doc, &filter, base + j);
        mongoc_bulk_operation_replace_one_with_opts(bulk, &filter, &doc, &uopts, NULL);
        bson_destroy(&doc);
        bson_destroy(&filter);
    }
    if (!mongoc_bulk_operation_execute(bulk, NULL, &e)) die("raw bulk", e.message);
    mongoc_bulk_operation_destroy(bulk);
    bson_destroy(&opts);
    bson_destroy(&uopts);
}

int main(void)
{
    const char *host = getenv("SS_TEST_MONGODB_HOST");
    if (!host || !*host) {
        printf("skip: SS_TEST_MONGODB_HOST is not set (scripts/services/mongodb.sh start DIR; "
               "source DIR/mongodb.env)\n");
        return 77;
    }
    memset(b.value, 'v', VAL_LEN);
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(b.keys[i], sizeof b.keys[i], "bench-%d-%05zu", (int)getpid(), i);
        b.greqs[i].key = b.keys[i];
        b.sreqs[i] = (ss_set_request){.key = b.keys[i], .value = b.value, .value_len = VAL_LEN};
    }
    bson_init(&b.projection);
    BSON_APPEND_INT32(&b.projection, "value", 1);
    BSON_APPEND_INT32(&b.projection, "_etag", 1);
    BSON_APPEND_INT32(&b.projection, "_ttl", 1);

    ss_pair props[] = {{"host", host}, {"databaseName", "benchDb"}};
    ss_config cfg = {
        .driver = "mongodb", .name = "bench", .properties = props, .property_count = 2};
    ss_error err;
    if (ss_open(&b.store, &cfg, &err) != SS_OK) die("open", err.message);
    char uri[300];
    snprintf(uri, sizeof uri, "mongodb://%s/benchDb", host);
    b.client = mongoc_client_new(uri);
    if (!b.client) die("raw client", uri);
    mongoc_client_set_error_api(b.client, MONGOC_ERROR_API_VERSION_2);
    b.coll = mongoc_client_get_collection(b.client, "benchDb", "daprCollection");

    bench_driver drv = {"mongodb", b.store, b.greqs, b.sreqs, NKEYS, BULK};
    size_t n = bench_iters(5000);
    size_t nb = n / 50 > 0 ? n / 50 : 1;
    printf("mongodb driver vs raw libmongoc (%d keys, %d-byte values, one server)\n", NKEYS,
           VAL_LEN);
    for (size_t i = 0; i < NKEYS; i++) raw_set(NULL, i);
    double rs, os, rg, og, rb, ob, rw, ow;
    printf("(best of %d alternating rounds each)\n", ROUNDS);
    bench_compare(ROUNDS, BENCH_WALL, n, 1, (bench_side){"raw replace with upsert", raw_set, NULL},
                  (bench_side){"driver set", bench_driver_set, &drv}, &rs, &os);
    bench_compare(ROUNDS, BENCH_WALL, n, 1, (bench_side){"raw find by _id", raw_get, NULL},
                  (bench_side){"driver get", bench_driver_get, &drv}, &rg, &og);
    bench_compare(ROUNDS, BENCH_WALL, nb, BULK,
                  (bench_side){"raw $in find of 100", raw_bulk_get, NULL},
                  (bench_side){"driver bulk get of 100", bench_driver_bulk_get, &drv}, &rb, &ob);
    bench_compare(ROUNDS, BENCH_WALL, nb, BULK,
                  (bench_side){"raw ordered bulk write of 100", raw_bulk_set, NULL},
                  (bench_side){"driver bulk set of 100", bench_driver_bulk_set, &drv}, &rw, &ow);
    bench_ratio("mongodb set", os, rs, 0.9);
    bench_ratio("mongodb get", og, rg, 0.9);
    bench_ratio("mongodb bulk get 100", ob, rb, 0.8);
    bench_ratio("mongodb bulk set 100", ow, rw, 0.8);

    bson_t all = BSON_INITIALIZER;
    mongoc_collection_delete_many(b.coll, &all, NULL, NULL, NULL);
    bson_destroy(&all);
    bson_destroy(&b.projection);
    mongoc_collection_destroy(b.coll);
    mongoc_client_destroy(b.client);
    ss_close(b.store);
    return 0;
}

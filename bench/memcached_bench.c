/*
 * memcached_bench.c — the memcached driver through the public API against raw libmemcached
 * doing the same work on the same server (SS_TEST_MEMCACHED_HOSTS; exits 77 without it):
 * get with CAS, set, and a multi-get of 100 keys.
 * Targets: single operations >= 0.9x raw, bulk >= 0.8x raw.
 *
 * Note: the driver's set also reads the new CAS back (a second round trip) whenever the core
 * hands it somewhere to put the new ETag, because memcached's text protocol does not return
 * the CAS of a store; see src/stores/memcached.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmemcached/memcached.h>
#include <statestore.h>

#include "harness.h"

#define NKEYS   10000
#define VAL_LEN 100
#define BULK    100

typedef struct bench {
    ss_store *store;
    memcached_st *mc;
    memcached_result_st res;
    char keys[NKEYS][32];
    size_t lens[NKEYS];
    const char *kptr[NKEYS];
    char value[VAL_LEN];
    ss_get_request greqs[NKEYS];
    ss_set_request sreqs[NKEYS];
} bench;

static bench b;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "memcached_bench: %s: %s\n", what, msg);
    exit(1);
}

static void raw_set(void *ctx, size_t i)
{
    size_t k = i % NKEYS;
    memcached_return_t rc = memcached_set(b.mc, b.keys[k], b.lens[k], b.value, VAL_LEN, 0, 0);
    if (rc != MEMCACHED_SUCCESS) die("raw set", memcached_strerror(b.mc, rc));
}

/* What a client must do to learn the CAS of its own set: set, then gets (two round trips). */
static void raw_set_cas(void *ctx, size_t i)
{
    raw_set(ctx, i);
    size_t k = i % NKEYS;
    memcached_return_t rc = memcached_mget(b.mc, &b.kptr[k], &b.lens[k], 1);
    if (rc != MEMCACHED_SUCCESS) die("raw gets", memcached_strerror(b.mc, rc));
    int found = 0;
    while (memcached_fetch_result(b.mc, &b.res, &rc) != NULL)
        found += memcached_result_cas(&b.res) != 0;
    if (!found) die("raw gets", "missing key");
}

/* A get with its CAS (the ETag), copied out. */
static void raw_get(void *ctx, size_t i)
{
    size_t k = (i * 7) % NKEYS;
    memcached_return_t rc = memcached_mget(b.mc, &b.kptr[k], &b.lens[k], 1);
    if (rc != MEMCACHED_SUCCESS) die("raw mget", memcached_strerror(b.mc, rc));
    int found = 0;
    while (memcached_fetch_result(b.mc, &b.res, &rc) != NULL) {
        size_t n = memcached_result_length(&b.res);
        char *v = malloc(n + 1);
        memcpy(v, memcached_result_value(&b.res), n);
        uint64_t cas = memcached_result_cas(&b.res);
        found += cas != 0;
        free(v);
    }
    if (!found) die("raw get", "missing key");
}

static void raw_bulk(void *ctx, size_t i)
{
    size_t base = (i * BULK) % (NKEYS - BULK);
    memcached_return_t rc = memcached_mget(b.mc, &b.kptr[base], &b.lens[base], BULK);
    if (rc != MEMCACHED_SUCCESS) die("raw mget", memcached_strerror(b.mc, rc));
    int found = 0;
    while (memcached_fetch_result(b.mc, &b.res, &rc) != NULL) {
        size_t n = memcached_result_length(&b.res);
        char *v = malloc(n + 1);
        memcpy(v, memcached_result_value(&b.res), n);
        found++;
        free(v);
    }
    if (found != BULK) die("raw bulk", "missing keys");
}

static void drv_set(void *ctx, size_t i)
{
    ss_error err;
    if (ss_set(NULL, b.store, &b.sreqs[i % NKEYS], &err) != SS_OK) die("ss_set", err.message);
}

static void drv_set_etag(void *ctx, size_t i)
{
    ss_error err;
    char *etag = NULL;
    if (ss_set(&etag, b.store, &b.sreqs[i % NKEYS], &err) != SS_OK) die("ss_set", err.message);
    if (!etag) die("ss_set", "no ETag returned");
    free(etag);
}

static void drv_get(void *ctx, size_t i)
{
    ss_value *v = NULL;
    ss_error err;
    if (ss_get(&v, b.store, &b.greqs[(i * 7) % NKEYS], &err) != SS_OK || !v)
        die("ss_get", v ? "" : "missing key");
    ss_value_free(v);
}

static void drv_bulk(void *ctx, size_t i)
{
    size_t base = (i * BULK) % (NKEYS - BULK);
    ss_results res;
    ss_error err;
    if (ss_bulk_get(&res, b.store, &b.greqs[base], BULK, NULL, &err) != SS_OK)
        die("ss_bulk_get", err.message);
    for (size_t j = 0; j < res.count; j++)
        if (!res.items[j].value) die("ss_bulk_get", "missing key");
    ss_results_free(&res);
}

/*
 * The machine is shared, so one timing can be off by 2x: each side's best of ROUNDS alternating
 * rounds counts, on the wall clock (the work is mostly waiting for the server).
 */
#define ROUNDS 3

int main(void)
{
    const char *hosts = getenv("SS_TEST_MEMCACHED_HOSTS");
    if (!hosts || !*hosts) {
        printf("skip: SS_TEST_MEMCACHED_HOSTS is not set (scripts/services/memcached.sh start DIR; "
               "source DIR/memcached.env)\n");
        return 77;
    }
    memset(b.value, 'v', VAL_LEN);
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(b.keys[i], sizeof b.keys[i], "bench-%d-%05zu", (int)getpid(), i);
        b.lens[i] = strlen(b.keys[i]);
        b.kptr[i] = b.keys[i];
        b.greqs[i].key = b.keys[i];
        b.sreqs[i] = (ss_set_request){.key = b.keys[i], .value = b.value, .value_len = VAL_LEN};
    }
    b.mc = memcached_create(NULL);
    memcached_server_st *list = memcached_servers_parse(hosts);
    memcached_server_push(b.mc, list);
    memcached_server_list_free(list);
    memcached_behavior_set(b.mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
    memcached_behavior_set(b.mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    memcached_result_create(b.mc, &b.res);

    ss_pair props[] = {{"hosts", hosts}};
    ss_config cfg = {
        .driver = "memcached", .name = "bench", .properties = props, .property_count = 1};
    ss_error err;
    if (ss_open(&b.store, &cfg, &err) != SS_OK) die("open", err.message);

    size_t n = bench_iters(10000);
    size_t nb = n / 20 > 0 ? n / 20 : 1;
    printf("memcached driver vs raw libmemcached (%d keys, %d-byte values, one server)\n", NKEYS,
           VAL_LEN);
    for (size_t i = 0; i < NKEYS; i++) raw_set(NULL, i);
    double rs, os, re, oe, rg, og, rb, ob;
    printf("(best of %d alternating rounds each)\n", ROUNDS);
    bench_compare(ROUNDS, BENCH_WALL, n, 1, (bench_side){"raw set", raw_set, NULL},
                  (bench_side){"driver set (ETag not asked for)", drv_set, NULL}, &rs, &os);
    bench_compare(ROUNDS, BENCH_WALL, n, 1, (bench_side){"raw set + gets", raw_set_cas, NULL},
                  (bench_side){"driver set returning its ETag (set + gets)", drv_set_etag, NULL},
                  &re, &oe);
    bench_compare(ROUNDS, BENCH_WALL, n, 1, (bench_side){"raw get with CAS", raw_get, NULL},
                  (bench_side){"driver get", drv_get, NULL}, &rg, &og);
    bench_compare(ROUNDS, BENCH_WALL, nb, BULK,
                  (bench_side){"raw multi-get of 100", raw_bulk, NULL},
                  (bench_side){"driver bulk get of 100 (one multi-get)", drv_bulk, NULL}, &rb, &ob);
    bench_ratio("memcached set", os, rs, 0.9);
    bench_ratio("memcached set returning ETag", oe, re, 0.9);
    bench_ratio("memcached get", og, rg, 0.9);
    bench_ratio("memcached bulk get 100", ob, rb, 0.8);

    for (size_t i = 0; i < NKEYS; i++) memcached_delete(b.mc, b.keys[i], b.lens[i], 0);
    ss_close(b.store);
    memcached_result_free(&b.res);
    memcached_free(b.mc);
    return 0;
}

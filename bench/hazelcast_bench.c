/*
 * hazelcast_bench.c — the hazelcast driver through the public API against Hazelcast's official
 * Node.js client (hazelcast-client, the most direct client there is: no C client exists), both
 * on the same cluster in the same run (SS_TEST_HAZELCAST_SERVERS; exits 77 without it): get,
 * set, and a bulk get of 100 keys (Map.GetAll), one call in flight at a time on each side.
 * The Node.js side runs as a child process (bench/hazelcast/raw_client.js) that times its own
 * loop after connecting and warming up; rounds alternate, each side keeps its best.
 *
 * Not the same work byte for byte: the driver's value carries a 28-byte version header, and a
 * driver set is Map.Set of that (its ETag is made client-side, no extra round trip).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <statestore.h>

#include "harness.h"

#ifndef SS_SOURCE_DIR
#define SS_SOURCE_DIR "."
#endif

#define NKEYS   1000
#define VAL_LEN 100
#define BULK    100

static ss_store *store;
static char keys[NKEYS][48];
static char value[VAL_LEN];
static ss_get_request greqs[NKEYS];

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "hazelcast_bench: %s: %s\n", what, msg);
    exit(1);
}

static void drv_get(void *ctx, size_t i)
{
    (void)ctx;
    ss_value *v = NULL;
    ss_error err;
    if (ss_get(&v, store, &greqs[i % NKEYS], &err) != SS_OK || !v) die("get", err.message);
    ss_value_free(v);
}

static void drv_set(void *ctx, size_t i)
{
    (void)ctx;
    ss_error err;
    ss_set_request s = {.key = keys[i % NKEYS], .value = value, .value_len = VAL_LEN};
    if (ss_set(NULL, store, &s, &err) != SS_OK) die("set", err.message);
}

static void drv_bulk(void *ctx, size_t i)
{
    (void)ctx;
    ss_get_request req[BULK];
    for (size_t j = 0; j < BULK; j++) req[j] = greqs[(i * BULK + j) % NKEYS];
    ss_results res = {0};
    ss_error err;
    if (ss_bulk_get(&res, store, req, BULK, NULL, &err) != SS_OK) die("bulk get", err.message);
    for (size_t j = 0; j < BULK; j++)
        if (!res.items[j].value) die("bulk get", "a key is missing");
    ss_results_free(&res);
}

/* Runs the Node.js client's loop; its ops/s, or 0 when it cannot run. */
static double raw_rate(const char *op, size_t count, const char *prefix)
{
    const char *tools = getenv("SS_TOOLS");
    char mods[1024], cmd[4096];
    if (tools && *tools)
        snprintf(mods, sizeof mods, "%s/npm/node_modules", tools);
    else
        snprintf(mods, sizeof mods, "%s/build/test-tools/npm/node_modules", SS_SOURCE_DIR);
    snprintf(cmd, sizeof cmd,
             "NODE_PATH='%s' timeout 300 node '%s/bench/hazelcast/raw_client.js' %s %zu %d '%s' "
             "%d %d",
             mods, SS_SOURCE_DIR, op, count, VAL_LEN, prefix, NKEYS, BULK);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    double ops = 0;
    if (fscanf(p, "%lf", &ops) != 1) ops = 0;
    if (pclose(p) != 0) ops = 0;
    return ops;
}

static void compare(const char *what, const char *op, size_t iters, size_t per,
                    void (*fn)(void *, size_t), const char *prefix)
{
    double best_raw = 0, best_drv = 0;
    for (int r = 0; r < 3; r++) {
        double raw = raw_rate(op, iters * per, prefix);
        if (raw > best_raw) best_raw = raw;
        bench_rate d = bench_time(iters, per, fn, NULL);
        if (d.wall > best_drv) best_drv = d.wall;
    }
    char label[96];
    snprintf(label, sizeof label, "raw %s (hazelcast-client, Node.js)", what);
    if (best_raw > 0)
        printf("  %-44s %12.0f ops/s  %9.2f us/op\n", label, best_raw, 1e6 / best_raw);
    else
        printf("  %-44s   (could not run: npm tools not installed?)\n", label);
    snprintf(label, sizeof label, "driver %s", what);
    printf("  %-44s %12.0f ops/s  %9.2f us/op\n", label, best_drv, 1e6 / best_drv);
    if (best_raw > 0) printf("  ratio %s: %.2fx the Node.js client\n", what, best_drv / best_raw);
    fflush(stdout);
}

int main(void)
{
    const char *servers = getenv("SS_TEST_HAZELCAST_SERVERS");
    const char *cluster = getenv("SS_TEST_HAZELCAST_CLUSTER");
    if (!servers || !*servers) {
        printf("skip: SS_TEST_HAZELCAST_SERVERS not set (start scripts/services/hazelcast.sh)\n");
        return 77;
    }
    ss_pair props[] = {{"hazelcastServers", servers},
                       {"hazelcastMap", "bench-driver"},
                       {"clusterName", cluster && *cluster ? cluster : "dev"}};
    ss_config cfg = {
        .driver = "hazelcast", .name = "bench", .properties = props, .property_count = 3};
    ss_error err;
    if (ss_open(&store, &cfg, &err) != SS_OK) die("open", err.message);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "b%ld", (long)time(NULL));
    memset(value, 'x', sizeof value);
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(keys[i], sizeof keys[i], "%s-%zu", prefix, i);
        greqs[i].key = keys[i];
        drv_set(NULL, i);
    }
    size_t iters = bench_iters(5000);
    printf("hazelcast: %d keys of %d bytes, one call in flight per side\n", NKEYS, VAL_LEN);
    compare("get", "get", iters, 1, drv_get, prefix);
    compare("set", "set", iters, 1, drv_set, prefix);
    compare("bulk get of 100", "getall", iters / BULK > 0 ? iters / BULK : 1, BULK, drv_bulk,
            prefix);
    ss_close(store);
    return 0;
}

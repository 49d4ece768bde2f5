/*
 * zookeeper driver vs raw libzookeeper-mt calls on one session each, doing the same work:
 *   get:  zoo_get            set: zoo_set (any version)
 *   bulk of 100: 100 zoo_aget / zoo_aset sent back to back, then wait for all (one round trip)
 * Targets: single >= 0.9x raw, bulk >= 0.8x raw (printed, never enforced).
 * Needs SS_TEST_ZOOKEEPER_SERVERS (scripts/services/zookeeper.sh); exits 77 without it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "harness.h"
#include "statestore.h"

enum { BULK = 100 };

typedef struct bctx {
    ss_store *store;
    zhandle_t *zh;
    char keys[BULK][48];
    char paths[BULK][96];
    char value[128];
    ss_get_request greq[BULK];
    ss_set_request sreq[BULK];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending;
} bctx;

static void die(const char *what)
{
    fprintf(stderr, "zookeeper_bench: %s\n", what);
    exit(1);
}

static void nop_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {}

static void drop_log(const char *m) {}

static void done(bctx *b)
{
    pthread_mutex_lock(&b->mu);
    if (--b->pending == 0) pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void on_data(int rc, const char *v, int len, const struct Stat *st, const void *d)
{
    if (rc != ZOK) die("raw aget failed");
    done((bctx *)d);
}

static void on_stat(int rc, const struct Stat *st, const void *d)
{
    if (rc != ZOK) die("raw aset failed");
    done((bctx *)d);
}

static void wait_all(bctx *b)
{
    pthread_mutex_lock(&b->mu);
    while (b->pending > 0) pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
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
    char buf[4096];
    int len = sizeof buf;
    struct Stat st;
    if (zoo_get(b->zh, b->paths[i % BULK], 0, buf, &len, &st) != ZOK) die("raw get failed");
}

static void drv_set(void *p, size_t i)
{
    bctx *b = p;
    if (ss_set(NULL, b->store, &b->sreq[i % BULK], NULL) != SS_OK) die("driver set failed");
}

static void raw_set(void *p, size_t i)
{
    bctx *b = p;
    struct Stat st;
    if (zoo_set2(b->zh, b->paths[i % BULK], b->value, 100, -1, &st) != ZOK) die("raw set failed");
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
    b->pending = BULK;
    for (int k = 0; k < BULK; k++)
        if (zoo_aget(b->zh, b->paths[k], 0, on_data, b) != ZOK) die("raw aget");
    wait_all(b);
}

static void drv_bulk_set(void *p, size_t i)
{
    bctx *b = p;
    if (ss_bulk_set(NULL, b->store, b->sreq, BULK, NULL, NULL) != SS_OK) die("driver bulk set");
}

static void raw_bulk_set(void *p, size_t i)
{
    bctx *b = p;
    b->pending = BULK;
    for (int k = 0; k < BULK; k++)
        if (zoo_aset(b->zh, b->paths[k], b->value, 100, -1, on_stat, b) != ZOK) die("raw aset");
    wait_all(b);
}

/*
 * The machine is shared: each side's best of ROUNDS alternating rounds counts, on the wall clock
 * (most of each call is waiting for the server).
 */
enum { ROUNDS = 3 };

int main(void)
{
    const char *servers = getenv("SS_TEST_ZOOKEEPER_SERVERS");
    if (!servers || !*servers) {
        printf(
            "skip: SS_TEST_ZOOKEEPER_SERVERS is not set (start scripts/services/zookeeper.sh)\n");
        return 77;
    }
    static bctx b;
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    ss_pair props[] = {{"servers", servers}, {"keyPrefixPath", "/bench"}};
    ss_config cfg = {.driver = "zookeeper", .properties = props, .property_count = 2};
    ss_error err;
    if (ss_open(&b.store, &cfg, &err) != SS_OK) die(err.message);
    b.zh = zookeeper_init2(servers, nop_watcher, 10000, NULL, NULL, 0, drop_log);
    for (int k = 0; k < 1000 && zoo_state(b.zh) != ZOO_CONNECTED_STATE; k++) usleep(10000);
    if (zoo_state(b.zh) != ZOO_CONNECTED_STATE) die("raw session not connected");
    memset(b.value, 'v', 100);
    for (int k = 0; k < BULK; k++) {
        snprintf(b.keys[k], sizeof b.keys[k], "bench-key-%03d", k);
        snprintf(b.paths[k], sizeof b.paths[k], "/bench/%s", b.keys[k]);
        b.greq[k] = (ss_get_request){.key = b.keys[k]};
        b.sreq[k] = (ss_set_request){.key = b.keys[k], .value = b.value, .value_len = 100};
        if (ss_set(NULL, b.store, &b.sreq[k], &err) != SS_OK) die(err.message);
    }
    size_t it = bench_iters(1000), bit = bench_iters(1000) / 10 + 1;
    printf("zookeeper driver vs raw libzookeeper-mt, %s, 100-byte values\n", servers);
    bench_compare_ratio("get", 0.9, ROUNDS, BENCH_WALL, it, 1,
                        (bench_side){"raw zoo_get", raw_get, &b},
                        (bench_side){"driver get", drv_get, &b});
    bench_compare_ratio("set", 0.9, ROUNDS, BENCH_WALL, it, 1,
                        (bench_side){"raw zoo_set", raw_set, &b},
                        (bench_side){"driver set (last-write)", drv_set, &b});
    bench_compare_ratio("bulk get x100", 0.8, ROUNDS, BENCH_WALL, bit, BULK,
                        (bench_side){"raw 100 x zoo_aget pipelined", raw_bulk_get, &b},
                        (bench_side){"driver bulk get x100", drv_bulk_get, &b});
    bench_compare_ratio("bulk set x100", 0.8, ROUNDS, BENCH_WALL, bit, BULK,
                        (bench_side){"raw 100 x zoo_aset pipelined", raw_bulk_set, &b},
                        (bench_side){"driver bulk set x100", drv_bulk_set, &b});
    zookeeper_close(b.zh);
    ss_close(b.store);
    return 0;
}

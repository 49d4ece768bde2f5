/*
 * memory_bench.c — the memory driver through the public API against the ceiling for an
 * in-process store: a copying C hash map behind one mutex (copy in on set, copy out on get),
 * which is the least work any thread-safe byte store can do.
 * Target: >= 0.5x the map for get, set and bulk get of 100.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <statestore.h>

#include "harness.h"

#define NKEYS   10000
#define VAL_LEN 100
#define BULK    100
#define BUCKETS 16384

/* ---- the baseline map ---- */

typedef struct entry {
    struct entry *next;
    char *key;
    size_t key_len;
    char *val;
    size_t val_len;
} entry;

typedef struct map {
    pthread_mutex_t mu;
    entry *b[BUCKETS];
} map;

static uint64_t hash(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

static void map_set(map *m, const char *k, size_t kn, const char *v, size_t vn)
{
    char *copy = malloc(vn + 1);
    memcpy(copy, v, vn);
    copy[vn] = 0;
    size_t i = hash(k, kn) % BUCKETS;
    pthread_mutex_lock(&m->mu);
    entry *e = m->b[i];
    while (e && (e->key_len != kn || memcmp(e->key, k, kn) != 0)) e = e->next;
    if (!e) {
        e = calloc(1, sizeof *e);
        e->key = malloc(kn + 1);
        memcpy(e->key, k, kn + 1);
        e->key_len = kn;
        e->next = m->b[i];
        m->b[i] = e;
    }
    char *old = e->val;
    e->val = copy;
    e->val_len = vn;
    pthread_mutex_unlock(&m->mu);
    free(old);
}

static char *map_get(map *m, const char *k, size_t kn, size_t *vn)
{
    size_t i = hash(k, kn) % BUCKETS;
    char *out = NULL;
    pthread_mutex_lock(&m->mu);
    entry *e = m->b[i];
    while (e && (e->key_len != kn || memcmp(e->key, k, kn) != 0)) e = e->next;
    if (e) {
        out = malloc(e->val_len + 1);
        memcpy(out, e->val, e->val_len + 1);
        *vn = e->val_len;
    }
    pthread_mutex_unlock(&m->mu);
    return out;
}

static void map_free(map *m)
{
    for (size_t i = 0; i < BUCKETS; i++) {
        entry *e = m->b[i];
        while (e) {
            entry *n = e->next;
            free(e->key);
            free(e->val);
            free(e);
            e = n;
        }
    }
    pthread_mutex_destroy(&m->mu);
}

/* ---- work ---- */

typedef struct bench {
    ss_store *store;
    map *m;
    char keys[NKEYS][16];
    char value[VAL_LEN];
    ss_get_request reqs[NKEYS];
} bench;

static void raw_set(void *ctx, size_t i)
{
    bench *b = ctx;
    const char *k = b->keys[i % NKEYS];
    map_set(b->m, k, strlen(k), b->value, VAL_LEN);
}

static void raw_get(void *ctx, size_t i)
{
    bench *b = ctx;
    const char *k = b->keys[(i * 7) % NKEYS];
    size_t n = 0;
    free(map_get(b->m, k, strlen(k), &n));
}

static void raw_bulk(void *ctx, size_t i)
{
    bench *b = ctx;
    size_t base = (i * BULK) % (NKEYS - BULK);
    for (size_t j = 0; j < BULK; j++) {
        const char *k = b->keys[base + j];
        size_t n = 0;
        free(map_get(b->m, k, strlen(k), &n));
    }
}

static void ss_set_one(void *ctx, size_t i)
{
    bench *b = ctx;
    ss_set_request r = {.key = b->keys[i % NKEYS], .value = b->value, .value_len = VAL_LEN};
    if (ss_set(NULL, b->store, &r, NULL) != SS_OK) abort();
}

static void ss_get_one(void *ctx, size_t i)
{
    bench *b = ctx;
    ss_value *v = NULL;
    if (ss_get(&v, b->store, &b->reqs[(i * 7) % NKEYS], NULL) != SS_OK || !v) abort();
    ss_value_free(v);
}

static void ss_bulk(void *ctx, size_t i)
{
    bench *b = ctx;
    size_t base = (i * BULK) % (NKEYS - BULK);
    ss_results res;
    if (ss_bulk_get(&res, b->store, &b->reqs[base], BULK, NULL, NULL) != SS_OK) abort();
    ss_results_free(&res);
}

/*
 * The machine is shared (2 cores, many processes) and all of this work is CPU-bound, so it is
 * compared in CPU time, best of ROUNDS.
 */
#define ROUNDS 5

int main(void)
{
    static bench b;
    static map m;
    pthread_mutex_init(&m.mu, NULL);
    b.m = &m;
    memset(b.value, 'v', sizeof b.value);
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(b.keys[i], sizeof b.keys[i], "key-%05zu", i);
        b.reqs[i].key = b.keys[i];
    }
    ss_config cfg = {.driver = "memory", .name = "bench"};
    ss_error err;
    if (ss_open(&b.store, &cfg, &err) != SS_OK) {
        fprintf(stderr, "memory_bench: %s\n", err.message);
        return 1;
    }
    /* Every key exists on both sides before anything is timed. */
    for (size_t i = 0; i < NKEYS; i++) {
        raw_set(&b, i);
        ss_set_one(&b, i);
    }
    size_t n = bench_iters(100000);
    printf("memory driver vs a copying, locked C hash map (%d keys, %d-byte values)\n", NKEYS,
           VAL_LEN);
    double rs, os, rg, og, rb, ob;
    printf("(best of %d alternating rounds each; ratios in CPU time)\n", ROUNDS);
    bench_compare(ROUNDS, BENCH_CPU, n, 1, (bench_side){"raw map set", raw_set, &b},
                  (bench_side){"memory driver set", ss_set_one, &b}, &rs, &os);
    bench_compare(ROUNDS, BENCH_CPU, n, 1, (bench_side){"raw map get", raw_get, &b},
                  (bench_side){"memory driver get", ss_get_one, &b}, &rg, &og);
    size_t nb = n / BULK > 0 ? n / BULK : 1;
    bench_compare(ROUNDS, BENCH_CPU, nb, BULK, (bench_side){"raw map get x100", raw_bulk, &b},
                  (bench_side){"memory driver bulk get of 100", ss_bulk, &b}, &rb, &ob);
    bench_ratio("memory set", os, rs, 0.5);
    bench_ratio("memory get", og, rg, 0.5);
    bench_ratio("memory bulk get 100", ob, rb, 0.5);
    ss_close(b.store);
    map_free(&m);
    return 0;
}

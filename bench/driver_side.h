/*
 * driver_side.h — the driver half of a store benchmark, the same for every store: set, get,
 * bulk get and bulk set of prepared requests through the public API, as bench_side functions
 * (ctx = a bench_driver). Keys are visited in the order the raw side uses: set i % nkeys, get
 * (i * 7) % nkeys, bulk windows of `bulk` keys from (i * bulk) % (nkeys - bulk).
 */
#ifndef SS_BENCH_DRIVER_SIDE_H
#define SS_BENCH_DRIVER_SIDE_H

#include <stdio.h>
#include <stdlib.h>

#include <statestore.h>

typedef struct bench_driver {
    const char *name; /* for the failure message */
    ss_store *store;
    const ss_get_request *greqs;
    const ss_set_request *sreqs;
    size_t nkeys;
    size_t bulk;
} bench_driver;

static inline void bench_driver_die(const bench_driver *d, const char *what, const char *msg)
{
    fprintf(stderr, "%s_bench: %s: %s\n", d->name, what, msg);
    exit(1);
}

static inline void bench_driver_set(void *ctx, size_t i)
{
    const bench_driver *d = (const bench_driver *)ctx;
    ss_error err;
    if (ss_set(NULL, d->store, &d->sreqs[i % d->nkeys], &err) != SS_OK)
        bench_driver_die(d, "ss_set", err.message);
}

static inline void bench_driver_get(void *ctx, size_t i)
{
    const bench_driver *d = (const bench_driver *)ctx;
    ss_value *v = NULL;
    ss_error err;
    if (ss_get(&v, d->store, &d->greqs[(i * 7) % d->nkeys], &err) != SS_OK || !v)
        bench_driver_die(d, "ss_get", v ? err.message : "missing key");
    ss_value_free(v);
}

static inline void bench_driver_bulk_get(void *ctx, size_t i)
{
    const bench_driver *d = (const bench_driver *)ctx;
    size_t base = (i * d->bulk) % (d->nkeys - d->bulk);
    ss_results res;
    ss_error err;
    if (ss_bulk_get(&res, d->store, &d->greqs[base], d->bulk, NULL, &err) != SS_OK)
        bench_driver_die(d, "ss_bulk_get", err.message);
    for (size_t j = 0; j < res.count; j++)
        if (!res.items[j].value) bench_driver_die(d, "ss_bulk_get", "missing key");
    ss_results_free(&res);
}

static inline void bench_driver_bulk_set(void *ctx, size_t i)
{
    const bench_driver *d = (const bench_driver *)ctx;
    size_t base = (i * d->bulk) % (d->nkeys - d->bulk);
    ss_results res;
    ss_error err;
    if (ss_bulk_set(&res, d->store, &d->sreqs[base], d->bulk, NULL, &err) != SS_OK)
        bench_driver_die(d, "ss_bulk_set", err.message);
    for (size_t j = 0; j < res.count; j++)
        if (res.items[j].code != SS_OK) bench_driver_die(d, "ss_bulk_set", res.items[j].error);
    ss_results_free(&res);
}

#endif

/*
 * harness.h — the benchmark harness: time a piece of work, compare it with the raw client
 * doing the same work in the same run, print the ratio. Benchmarks never fail a build; they
 * print numbers (and whether the target ratio was met) for the README and closing notes.
 */
#ifndef SS_BENCH_HARNESS_H
#define SS_BENCH_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Calls fn(ctx, i) for i in [0, iterations) after iterations/10 warm-up calls and returns
 * operations per second (one call = `ops_per_call` operations, e.g. 100 for a bulk of 100).
 */
static inline double bench_run(const char *label, size_t iterations, size_t ops_per_call,
                               void (*fn)(void *ctx, size_t i), void *ctx)
{
    size_t warm = iterations / 10;
    for (size_t i = 0; i < warm; i++) fn(ctx, i);
    double t0 = bench_now_s();
    for (size_t i = 0; i < iterations; i++) fn(ctx, warm + i);
    double dt = bench_now_s() - t0;
    double ops = (double)(iterations * ops_per_call) / (dt > 0 ? dt : 1e-9);
    printf("  %-44s %12.0f ops/s  %9.2f us/op\n", label, ops, 1e6 / ops);
    fflush(stdout);
    return ops;
}

/* Prints "ratio <what>: 0.93x raw (target >= 0.90x) met|BELOW". */
static inline void bench_ratio(const char *what, double ours, double raw, double target)
{
    double r = raw > 0 ? ours / raw : 0;
    printf("ratio %-40s %5.2fx raw (target >= %.2fx) %s\n", what, r, target,
           r >= target ? "met" : "BELOW");
    fflush(stdout);
}

/*
 * Times the raw client and the driver doing the same work in alternating rounds (so drift in
 * machine load hits both alike), keeps each side's best of three, and prints the ratio.
 */
static inline void bench_pair(const char *what, size_t iters, size_t per,
                              void (*rawfn)(void *, size_t), void *rawctx,
                              void (*drvfn)(void *, size_t), void *drvctx, double target)
{
    char rl[64], dl[64];
    snprintf(rl, sizeof rl, "raw %s", what);
    snprintf(dl, sizeof dl, "driver %s", what);
    double best_raw = 0, best_drv = 0;
    for (int round = 0; round < 3; round++) {
        double r = bench_run(rl, iters, per, rawfn, rawctx);
        double d = bench_run(dl, iters, per, drvfn, drvctx);
        if (r > best_raw) best_raw = r;
        if (d > best_drv) best_drv = d;
    }
    bench_ratio(what, best_drv, best_raw, target);
}

/* BENCH_ITERS overrides every benchmark's iteration count (e.g. 1000 for a quick run). */
static inline size_t bench_iters(size_t dflt)
{
    const char *e = getenv("BENCH_ITERS");
    if (e && *e) {
        long v = strtol(e, NULL, 10);
        if (v > 0) return (size_t)v;
    }
    return dflt;
}

#endif

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
 * CPU time of the whole process, not just the calling thread: libzookeeper-mt and the core's
 * parallel bulk loop do part of the client's work on threads of their own.
 */
static inline double bench_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Operations per wall-clock second and per second of this process's CPU time. */
typedef struct bench_rate {
    double wall;
    double cpu;
} bench_rate;

/*
 * Which clock a comparison uses. The machine is shared, so wall time swings with other
 * processes' load; CPU time hardly does, and is the right measure for CPU-bound work. Work that
 * waits on a server or a disk needs the wall clock (CPU time would leave the waiting out).
 */
typedef enum bench_clock { BENCH_WALL, BENCH_CPU } bench_clock;

/* One side of a comparison: fn(ctx, i) is one call; `label` names it in the output. */
typedef struct bench_side {
    const char *label;
    void (*fn)(void *ctx, size_t i);
    void *ctx;
} bench_side;

/*
 * Calls fn(ctx, i) for i in [0, iterations) after iterations/10 warm-up calls and returns the
 * rates (one call = `ops_per_call` operations, e.g. 100 for a bulk of 100).
 */
static inline bench_rate bench_time(size_t iterations, size_t ops_per_call,
                                    void (*fn)(void *ctx, size_t i), void *ctx)
{
    size_t warm = iterations / 10;
    for (size_t i = 0; i < warm; i++) fn(ctx, i);
    double w0 = bench_now_s(), c0 = bench_cpu_s();
    for (size_t i = 0; i < iterations; i++) fn(ctx, warm + i);
    double dw = bench_now_s() - w0, dc = bench_cpu_s() - c0;
    double ops = (double)(iterations * ops_per_call);
    return (bench_rate){ops / (dw > 0 ? dw : 1e-9), ops / (dc > 0 ? dc : 1e-9)};
}

/* Times one piece of work on its own, prints its wall rate and returns it. */
static inline double bench_run(const char *label, size_t iterations, size_t ops_per_call,
                               void (*fn)(void *ctx, size_t i), void *ctx)
{
    double ops = bench_time(iterations, ops_per_call, fn, ctx).wall;
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
 * The client CPU per operation is printed whichever clock is compared: other processes disturb
 * it far less than the wall clock, and it is what the driver itself adds.
 */
static inline void bench_print_rate(const char *label, bench_rate r)
{
    printf("  %-44s %12.0f ops/s  %9.2f us/op  (client CPU %6.2f us/op)\n", label, r.wall,
           1e6 / r.wall, 1e6 / r.cpu);
}

/*
 * Times the raw client and the driver doing the same work in `rounds` alternating rounds (so
 * drift in the machine's load hits both alike) and keeps each side's best round on each clock.
 * Prints both sides and stores their best rates on `clock` in *raw_ops and *drv_ops.
 */
static inline void bench_compare(int rounds, bench_clock clock, size_t iterations,
                                 size_t ops_per_call, bench_side raw, bench_side drv,
                                 double *raw_ops, double *drv_ops)
{
    bench_rate rb = {0, 0}, db = {0, 0};
    for (int round = 0; round < rounds; round++) {
        bench_rate r = bench_time(iterations, ops_per_call, raw.fn, raw.ctx);
        bench_rate d = bench_time(iterations, ops_per_call, drv.fn, drv.ctx);
        if (r.wall > rb.wall) rb.wall = r.wall;
        if (r.cpu > rb.cpu) rb.cpu = r.cpu;
        if (d.wall > db.wall) db.wall = d.wall;
        if (d.cpu > db.cpu) db.cpu = d.cpu;
    }
    bench_print_rate(raw.label, rb);
    bench_print_rate(drv.label, db);
    fflush(stdout);
    *raw_ops = clock == BENCH_CPU ? rb.cpu : rb.wall;
    *drv_ops = clock == BENCH_CPU ? db.cpu : db.wall;
}

/* bench_compare, then the ratio line for `what`. */
static inline void bench_compare_ratio(const char *what, double target, int rounds,
                                       bench_clock clock, size_t iterations, size_t ops_per_call,
                                       bench_side raw, bench_side drv)
{
    double raw_ops, drv_ops;
    bench_compare(rounds, clock, iterations, ops_per_call, raw, drv, &raw_ops, &drv_ops);
    bench_ratio(what, drv_ops, raw_ops, target);
}

/*
 * The shape the SQL benchmarks share: best of 3 on the wall clock, labelled "raw <what>" and
 * "driver <what>".
 */
static inline void bench_pair(const char *what, size_t iters, size_t per,
                              void (*rawfn)(void *, size_t), void *rawctx,
                              void (*drvfn)(void *, size_t), void *drvctx, double target)
{
    char rl[64], dl[64];
    snprintf(rl, sizeof rl, "raw %s", what);
    snprintf(dl, sizeof dl, "driver %s", what);
    bench_compare_ratio(what, target, 3, BENCH_WALL, iters, per, (bench_side){rl, rawfn, rawctx},
                        (bench_side){dl, drvfn, drvctx});
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

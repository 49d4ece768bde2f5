/*
 * sqlite_bench.c — the sqlite driver through the public API against raw sqlite3 prepared
 * statements doing the same work on the same kind of file (Dapr's table, WAL, busy timeout,
 * SQLite's default synchronous=FULL): get, set, bulk get and bulk set of 100 (one transaction).
 * The raw side does what any program keeping this layout must: a random UUID ETag per write
 * (from the OS), and a copy of the value and ETag out of each read.
 * Target: >= 0.9x raw.
 *
 * Also measures the driver's thread-safety choice: 4 threads reading through the driver's
 * connection pool against 4 threads sharing one raw connection behind a mutex.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <statestore.h>

#include "harness.h"

#define NKEYS    10000
#define VAL_LEN  100
#define BULK     100
#define NTHREADS 4

typedef struct bench {
    ss_store *store;
    sqlite3 *db;
    sqlite3_stmt *get, *set, *begin, *begin_imm, *commit;
    pthread_mutex_t mu;
    char keys[NKEYS][16];
    char value[VAL_LEN + 1];
    ss_get_request greqs[NKEYS];
    ss_set_request sreqs[NKEYS];
} bench;

static bench b;

static void die(const char *what)
{
    fprintf(stderr, "sqlite_bench: %s: %s\n", what, b.db ? sqlite3_errmsg(b.db) : "");
    exit(1);
}

static void exec(const char *sql)
{
    if (sqlite3_exec(b.db, sql, NULL, NULL, NULL) != SQLITE_OK) die(sql);
}

static void prep(const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v3(b.db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        die(sql);
}

static void raw_open(const char *path)
{
    if (sqlite3_open_v2(path, &b.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        die("open");
    sqlite3_busy_timeout(b.db, 2000);
    exec("PRAGMA journal_mode=WAL");
    exec("CREATE TABLE IF NOT EXISTS state (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL, "
         "is_binary BOOLEAN NOT NULL, etag TEXT NOT NULL, expiration_time TIMESTAMP DEFAULT "
         "NULL, update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)");
    prep("SELECT value, is_binary, etag, expiration_time FROM state WHERE key = ?1 AND "
         "(expiration_time IS NULL OR expiration_time > CURRENT_TIMESTAMP)",
         &b.get);
    prep("INSERT OR REPLACE INTO state (key, value, is_binary, etag, update_time, "
         "expiration_time) VALUES (?1, ?2, 0, ?3, CURRENT_TIMESTAMP, NULL)",
         &b.set);
    prep("BEGIN", &b.begin);
    prep("BEGIN IMMEDIATE", &b.begin_imm);
    prep("COMMIT", &b.commit);
}

static void step_done(sqlite3_stmt *st)
{
    if (sqlite3_step(st) != SQLITE_DONE) die("step");
    sqlite3_reset(st);
}

static void raw_set_key(const char *k)
{
    /* A random UUIDv4 ETag, as the layout requires: 16 bytes from the OS, like the driver. */
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) die("getrandom");
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    char etag[37];
    snprintf(etag, sizeof etag,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
             r[15]);
    sqlite3_bind_text(b.set, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_text(b.set, 2, b.value, VAL_LEN, SQLITE_STATIC);
    sqlite3_bind_text(b.set, 3, etag, 36, SQLITE_STATIC);
    step_done(b.set);
}

/* Copies the value and ETag out, as the driver must. */
static void raw_get_key(const char *k)
{
    sqlite3_bind_text(b.get, 1, k, -1, SQLITE_STATIC);
    if (sqlite3_step(b.get) == SQLITE_ROW) {
        int n = sqlite3_column_bytes(b.get, 0);
        char *v = malloc((size_t)n + 1);
        memcpy(v, sqlite3_column_blob(b.get, 0), (size_t)n);
        v[n] = 0;
        char *e = strdup((const char *)sqlite3_column_text(b.get, 2));
        free(v);
        free(e);
    }
    sqlite3_reset(b.get);
}

static void raw_set(void *ctx, size_t i)
{
    raw_set_key(b.keys[i % NKEYS]);
}

static void raw_get(void *ctx, size_t i)
{
    raw_get_key(b.keys[(i * 7) % NKEYS]);
}

static void raw_bulk_get(void *ctx, size_t i)
{
    size_t base = (i * BULK) % (NKEYS - BULK);
    step_done(b.begin);
    for (size_t j = 0; j < BULK; j++) raw_get_key(b.keys[base + j]);
    step_done(b.commit);
}

static void raw_bulk_set(void *ctx, size_t i)
{
    size_t base = (i * BULK) % (NKEYS - BULK);
    step_done(b.begin_imm);
    for (size_t j = 0; j < BULK; j++) raw_set_key(b.keys[base + j]);
    step_done(b.commit);
}

static void drv_set(void *ctx, size_t i)
{
    if (ss_set(NULL, b.store, &b.sreqs[i % NKEYS], NULL) != SS_OK) die("ss_set");
}

static void drv_get(void *ctx, size_t i)
{
    ss_value *v = NULL;
    if (ss_get(&v, b.store, &b.greqs[(i * 7) % NKEYS], NULL) != SS_OK || !v) die("ss_get");
    ss_value_free(v);
}

static void drv_bulk_get(void *ctx, size_t i)
{
    size_t base = (i * BULK) % (NKEYS - BULK);
    ss_results res;
    if (ss_bulk_get(&res, b.store, &b.greqs[base], BULK, NULL, NULL) != SS_OK) die("bulk get");
    ss_results_free(&res);
}

static void drv_bulk_set(void *ctx, size_t i)
{
    size_t base = (i * BULK) % (NKEYS - BULK);
    if (ss_bulk_set(NULL, b.store, &b.sreqs[base], BULK, NULL, NULL) != SS_OK) die("bulk set");
}

/*
 * The machine is shared (2 cores, many processes), so one timing can be off by 2x: each side's
 * best of ROUNDS counts. Reads are CPU-bound and compared in CPU time, which other processes
 * disturb far less than the wall clock; writes wait for fsync, so they are compared on the wall
 * clock.
 */
#define ROUNDS 5

/* ---- threads ---- */

typedef struct worker {
    bool driver;
    size_t n;
    unsigned seed;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (size_t i = 0; i < w->n; i++) {
        size_t k = (size_t)rand_r(&w->seed) % NKEYS;
        if (w->driver) {
            drv_get(NULL, k);
        } else {
            pthread_mutex_lock(&b.mu);
            raw_get_key(b.keys[k]);
            pthread_mutex_unlock(&b.mu);
        }
    }
    return NULL;
}

static double threaded(const char *label, bool driver, size_t per_thread)
{
    pthread_t t[NTHREADS];
    worker w[NTHREADS];
    double t0 = bench_now_s();
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){driver, per_thread, (unsigned)i + 1};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    double dt = bench_now_s() - t0;
    double ops = (double)(per_thread * NTHREADS) / (dt > 0 ? dt : 1e-9);
    printf("  %-44s %12.0f ops/s  %9.2f us/op\n", label, ops, 1e6 / ops);
    return ops;
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[256], rawpath[300], drvpath[300];
    snprintf(dir, sizeof dir, "%s/ss-sqlite-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(rawpath, sizeof rawpath, "%s/raw.db", dir);
    snprintf(drvpath, sizeof drvpath, "%s/driver.db", dir);
    pthread_mutex_init(&b.mu, NULL);
    memset(b.value, 'v', VAL_LEN);
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(b.keys[i], sizeof b.keys[i], "key-%05zu", i);
        b.greqs[i].key = b.keys[i];
        b.sreqs[i] = (ss_set_request){.key = b.keys[i], .value = b.value, .value_len = VAL_LEN};
    }
    raw_open(rawpath);
    ss_pair props[] = {{"connectionString", drvpath}};
    ss_config cfg = {.driver = "sqlite", .name = "bench", .properties = props, .property_count = 1};
    ss_error err;
    if (ss_open(&b.store, &cfg, &err) != SS_OK) {
        fprintf(stderr, "sqlite_bench: %s\n", err.message);
        return 1;
    }
    /* Fill both files with every key in one transaction each. */
    step_done(b.begin_imm);
    for (size_t i = 0; i < NKEYS; i++) raw_set_key(b.keys[i]);
    step_done(b.commit);
    for (size_t i = 0; i < NKEYS; i += BULK)
        if (ss_bulk_set(NULL, b.store, &b.sreqs[i], BULK, NULL, NULL) != SS_OK) die("fill");

    printf("sqlite driver vs raw sqlite3 prepared statements (WAL, synchronous=FULL, %d keys, "
           "%d-byte values)\n",
           NKEYS, VAL_LEN);
    size_t ns = bench_iters(500), ng = bench_iters(50000), nb = bench_iters(500);
    double rs, os, rg, og, rbg, obg, rbs, obs;
    printf("(best of %d alternating rounds each; reads compared in CPU time, writes in wall "
           "time)\n",
           ROUNDS);
    bench_compare(ROUNDS, BENCH_WALL, ns, 1,
                  (bench_side){"raw set (one commit each)", raw_set, NULL},
                  (bench_side){"driver set", drv_set, NULL}, &rs, &os);
    bench_compare(ROUNDS, BENCH_CPU, ng, 1, (bench_side){"raw get", raw_get, NULL},
                  (bench_side){"driver get", drv_get, NULL}, &rg, &og);
    bench_compare(ROUNDS, BENCH_CPU, nb, BULK,
                  (bench_side){"raw bulk get of 100 (one read tx)", raw_bulk_get, NULL},
                  (bench_side){"driver bulk get of 100", drv_bulk_get, NULL}, &rbg, &obg);
    size_t nbs = nb / 4 > 0 ? nb / 4 : 1;
    bench_compare(ROUNDS, BENCH_WALL, nbs, BULK,
                  (bench_side){"raw bulk set of 100 (one write tx)", raw_bulk_set, NULL},
                  (bench_side){"driver bulk set of 100", drv_bulk_set, NULL}, &rbs, &obs);
    size_t per = ng / NTHREADS > 0 ? ng / NTHREADS : 1;
    double rt = threaded("4 threads get: raw, 1 connection + mutex", false, per);
    double ot = threaded("4 threads get: driver (pool of 4 connections)", true, per);
    bench_ratio("sqlite set", os, rs, 0.9);
    bench_ratio("sqlite get", og, rg, 0.9);
    bench_ratio("sqlite bulk get 100", obg, rbg, 0.9);
    bench_ratio("sqlite bulk set 100", obs, rbs, 0.9);
    printf("info  4-thread get, pool vs mutex: %.2fx\n", rt > 0 ? ot / rt : 0);

    ss_close(b.store);
    sqlite3_finalize(b.get);
    sqlite3_finalize(b.set);
    sqlite3_finalize(b.begin);
    sqlite3_finalize(b.begin_imm);
    sqlite3_finalize(b.commit);
    sqlite3_close(b.db);
    const char *files[] = {"raw.db",    "raw.db-wal",    "raw.db-shm",
                           "driver.db", "driver.db-wal", "driver.db-shm"};
    char p[400];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

/*
 * postgresql_bench — the postgresql driver against raw libpq prepared statements doing the same
 * work on the same table, in the same run: single get / set, bulk get / set of 100, and a
 * transaction of 10 upserts. The raw side uses the same SQL and the same protocol (one query
 * with key = ANY($1) for bulk get; one pipeline inside BEGIN, row counts checked, then COMMIT,
 * for bulk set and transactions), so the ratio is the driver's own overhead.
 *
 * Needs SS_TEST_POSTGRES_DSN (scripts/services/postgresql.sh); exits 77 without it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <statestore.h>
#include <statestore/driver.h>

#include "harness.h"

#define NKEYS 1000
#define BULK  100
#define TXOPS 10

static char keys[NKEYS][32];
static char value[100];
static char table[64];

typedef struct raw {
    PGconn *pg;
} raw;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "postgresql_bench: %s: %s\n", what, msg);
    exit(1);
}

/* ---- driver side ---- */

#include "sql_workload.h"

/* ---- raw libpq side ---- */

static void raw_check(PGconn *pg, PGresult *r, const char *what)
{
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) die(what, PQerrorMessage(pg));
}

static void raw_prepare(PGconn *pg, const char *name, const char *sql)
{
    PGresult *r = PQprepare(pg, name, sql, 0, NULL);
    raw_check(pg, r, name);
    PQclear(r);
}

static void raw_get(void *ctx, size_t i)
{
    raw *rw = ctx;
    const char *v[1] = {keys[i % NKEYS]};
    PGresult *r = PQexecPrepared(rw->pg, "get", 1, v, NULL, NULL, 1);
    raw_check(rw->pg, r, "raw get");
    if (PQntuples(r) != 1) die("raw get", "missing row");
    PQclear(r);
}

static void raw_set(void *ctx, size_t i)
{
    raw *rw = ctx;
    char etag[37];
    ss_uuid4(etag);
    const char *v[4] = {keys[i % NKEYS], value, etag, "0"};
    int len[4] = {0, sizeof value, 0, 0}, fmt[4] = {0, 1, 0, 0};
    PGresult *r = PQexecPrepared(rw->pg, "set", 4, v, len, fmt, 1);
    raw_check(rw->pg, r, "raw set");
    PQclear(r);
}

static void raw_bulk_get(void *ctx, size_t i)
{
    raw *rw = ctx;
    char arr[BULK * 40];
    char *p = arr;
    *p++ = '{';
    for (size_t k = 0; k < BULK; k++)
        p += sprintf(p, "%s\"%s\"", k ? "," : "", keys[(i * BULK + k) % NKEYS]);
    *p++ = '}';
    *p = '\0';
    const char *v[1] = {arr};
    PGresult *r = PQexecPrepared(rw->pg, "bulk_get", 1, v, NULL, NULL, 1);
    raw_check(rw->pg, r, "raw bulk get");
    if (PQntuples(r) != BULK) die("raw bulk get", "wrong row count");
    PQclear(r);
}

/* BEGIN + n upserts in one pipeline, row counts checked, then COMMIT. */
static void raw_pipeline_upserts(raw *rw, size_t first, size_t n)
{
    PGconn *pg = rw->pg;
    char etags[BULK][37];
    char *vals[BULK][4];
    if (!PQenterPipelineMode(pg)) die("pipeline", PQerrorMessage(pg));
    PQsendQueryParams(pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
    for (size_t k = 0; k < n; k++) {
        ss_uuid4(etags[k]);
        vals[k][0] = keys[(first + k) % NKEYS];
        vals[k][1] = value;
        vals[k][2] = etags[k];
        vals[k][3] = "0";
        int len[4] = {0, sizeof value, 0, 0}, fmt[4] = {0, 1, 0, 0};
        PQsendQueryPrepared(pg, "set", 4, (const char *const *)vals[k], len, fmt, 1);
    }
    PQpipelineSync(pg);
    for (size_t q = 0; q < n + 1; q++) {
        PGresult *r = PQgetResult(pg);
        raw_check(pg, r, "raw pipeline");
        if (q > 0 && atoi(PQcmdTuples(r)) != 1) die("raw pipeline", "row not written");
        PQclear(r);
        while ((r = PQgetResult(pg)) != NULL) PQclear(r);
    }
    PGresult *r = PQgetResult(pg);
    if (PQresultStatus(r) != PGRES_PIPELINE_SYNC) die("raw pipeline", "no sync");
    PQclear(r);
    PQexitPipelineMode(pg);
    r = PQexec(pg, "COMMIT");
    raw_check(pg, r, "raw commit");
    PQclear(r);
}

static void raw_bulk_set(void *ctx, size_t i)
{
    raw_pipeline_upserts(ctx, i * BULK, BULK);
}

static void raw_tx(void *ctx, size_t i)
{
    raw_pipeline_upserts(ctx, i * TXOPS, TXOPS);
}

/* Runs raw and driver alternately, three rounds each, and compares the best rounds: the
 * machine is shared, and the best of several short runs is the least disturbed one. */
int main(void)
{
    const char *dsn = getenv("SS_TEST_POSTGRES_DSN");
    if (!dsn || !*dsn) {
        printf("postgresql_bench: SS_TEST_POSTGRES_DSN is not set (start the server with "
               "scripts/services/postgresql.sh start DIR and source DIR/postgresql.env)\n");
        return 77;
    }
    snprintf(table, sizeof table, "bench_%d_state", (int)getpid());
    memset(value, 'v', sizeof value);
    for (size_t i = 0; i < NKEYS; i++) snprintf(keys[i], sizeof keys[i], "bench-key-%zu", i);

    ss_pair props[] = {{"connectionString", dsn}, {"tableName", table}, {"maxConns", "4"}};
    ss_config cfg = {.driver = "postgresql", .properties = props, .property_count = 3};
    ss_store *s = NULL;
    ss_error e;
    if (ss_open(&s, &cfg, &e) != SS_OK) die("open", e.message);
    for (size_t i = 0; i < NKEYS; i++) drv_set(s, i);

    raw rw = {PQconnectdb(dsn)};
    if (PQstatus(rw.pg) != CONNECTION_OK) die("raw connect", PQerrorMessage(rw.pg));
    char sql[1024];
    const char *live = "(expires_at IS NULL OR expires_at >= now())";
    snprintf(sql, sizeof sql,
             "SELECT value, etag::text, (extract(epoch FROM expires_at) * 1000)::int8 FROM %s "
             "WHERE key = $1 AND %s",
             table, live);
    raw_prepare(rw.pg, "get", sql);
    snprintf(sql, sizeof sql,
             "SELECT key, value, etag::text, (extract(epoch FROM expires_at) * 1000)::int8 FROM "
             "%s WHERE key = ANY($1::text[]) AND %s",
             table, live);
    raw_prepare(rw.pg, "bulk_get", sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO %s AS t (key, value, etag, expires_at) VALUES ($1, $2, $3::uuid, CASE "
             "WHEN $4::int8 > 0 THEN now() + $4::int8 * interval '1 second' END) ON CONFLICT "
             "(key) DO UPDATE SET value = EXCLUDED.value, updated_at = now(), etag = "
             "EXCLUDED.etag, expires_at = EXCLUDED.expires_at",
             table);
    raw_prepare(rw.pg, "set", sql);

    size_t n1 = bench_iters(2000), nb = bench_iters(100), nt = bench_iters(300);
    printf("postgresql: driver vs raw libpq (prepared statements), table %s, %zu-byte values\n",
           table, sizeof value);
    bench_pair("get", n1, 1, raw_get, &rw, drv_get, s, 0.9);
    bench_pair("set", n1, 1, raw_set, &rw, drv_set, s, 0.9);
    bench_pair("bulk get x100", nb, BULK, raw_bulk_get, &rw, drv_bulk_get, s, 0.8);
    bench_pair("bulk set x100", nb, BULK, raw_bulk_set, &rw, drv_bulk_set, s, 0.8);
    bench_pair("transaction x10", nt, TXOPS, raw_tx, &rw, drv_tx, s, 0.8);

    snprintf(sql, sizeof sql, "DROP TABLE %s", table);
    PQclear(PQexec(rw.pg, sql));
    PQfinish(rw.pg);
    ss_close(s);
    return 0;
}

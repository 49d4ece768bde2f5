/*
 * mysql_bench — the mysql driver against raw libmariadb prepared statements doing the same
 * work on the same table, in the same run: single get / set, bulk get / set of 100, and a
 * transaction of 10 upserts. The raw side uses the same SQL: one prepared IN (...) query for
 * the bulk get; START TRANSACTION, one prepared upsert per item, COMMIT for bulk set and
 * transactions.
 *
 * Needs SS_TEST_MYSQL_DSN (scripts/services/mariadb.sh); exits 77 without it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>
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
    MYSQL *m;
    MYSQL_STMT *get, *set, *bulk_get;
} raw;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "mysql_bench: %s: %s\n", what, msg);
    exit(1);
}

/* ---- driver side ---- */

#include "sql_workload.h"

/* ---- raw libmariadb side ---- */

static MYSQL_STMT *raw_prepare(MYSQL *m, const char *sql)
{
    MYSQL_STMT *st = mysql_stmt_init(m);
    if (!st || mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0)
        die("prepare", st ? mysql_stmt_error(st) : mysql_error(m));
    return st;
}

static void bind_blob(MYSQL_BIND *b, const void *p, unsigned long *len)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_BLOB;
    b->buffer = (void *)p;
    b->buffer_length = *len;
    b->length = len;
}

/* Fetches every row of an executed SELECT value, isbinary, eTag, expiry [with id first]. */
static int raw_fetch(MYSQL_STMT *st, bool with_id)
{
    char id[256], val[256], etag[64];
    unsigned long idl, vl, el;
    signed char isbin;
    long long exp;
    my_bool expnull;
    MYSQL_BIND b[5];
    memset(b, 0, sizeof b);
    int i = 0;
    if (with_id) {
        b[i].buffer_type = MYSQL_TYPE_BLOB;
        b[i].buffer = id;
        b[i].buffer_length = sizeof id;
        b[i++].length = &idl;
    }
    b[i].buffer_type = MYSQL_TYPE_BLOB;
    b[i].buffer = val;
    b[i].buffer_length = sizeof val;
    b[i++].length = &vl;
    b[i].buffer_type = MYSQL_TYPE_TINY;
    b[i++].buffer = &isbin;
    b[i].buffer_type = MYSQL_TYPE_STRING;
    b[i].buffer = etag;
    b[i].buffer_length = sizeof etag;
    b[i++].length = &el;
    b[i].buffer_type = MYSQL_TYPE_LONGLONG;
    b[i].buffer = &exp;
    b[i].is_null = &expnull;
    if (mysql_stmt_bind_result(st, b) != 0 || mysql_stmt_store_result(st) != 0)
        die("raw fetch", mysql_stmt_error(st));
    int rows = 0;
    while (mysql_stmt_fetch(st) == 0) rows++;
    mysql_stmt_free_result(st);
    return rows;
}

static void raw_get(void *ctx, size_t i)
{
    raw *rw = ctx;
    unsigned long kl = strlen(keys[i % NKEYS]);
    MYSQL_BIND p[1];
    bind_blob(&p[0], keys[i % NKEYS], &kl);
    if (mysql_stmt_bind_param(rw->get, p) != 0 || mysql_stmt_execute(rw->get) != 0)
        die("raw get", mysql_stmt_error(rw->get));
    if (raw_fetch(rw->get, false) != 1) die("raw get", "missing row");
}

static void raw_upsert(raw *rw, size_t i)
{
    char etag[37];
    ss_uuid4(etag);
    unsigned long kl = strlen(keys[i % NKEYS]), vl = sizeof value, el = 36;
    long long ttl = 0;
    MYSQL_BIND p[5];
    bind_blob(&p[0], keys[i % NKEYS], &kl);
    bind_blob(&p[1], value, &vl);
    memset(&p[2], 0, sizeof p[2]);
    p[2].buffer_type = MYSQL_TYPE_STRING;
    p[2].buffer = etag;
    p[2].buffer_length = 36;
    p[2].length = &el;
    for (int k = 3; k < 5; k++) {
        memset(&p[k], 0, sizeof p[k]);
        p[k].buffer_type = MYSQL_TYPE_LONGLONG;
        p[k].buffer = &ttl;
    }
    if (mysql_stmt_bind_param(rw->set, p) != 0 || mysql_stmt_execute(rw->set) != 0)
        die("raw set", mysql_stmt_error(rw->set));
    if (mysql_stmt_affected_rows(rw->set) < 1) die("raw set", "row not written");
}

static void raw_set(void *ctx, size_t i)
{
    raw_upsert(ctx, i);
}

static void raw_bulk_get(void *ctx, size_t i)
{
    raw *rw = ctx;
    MYSQL_BIND p[BULK];
    unsigned long len[BULK];
    for (size_t k = 0; k < BULK; k++) {
        const char *key = keys[(i * BULK + k) % NKEYS];
        len[k] = strlen(key);
        bind_blob(&p[k], key, &len[k]);
    }
    if (mysql_stmt_bind_param(rw->bulk_get, p) != 0 || mysql_stmt_execute(rw->bulk_get) != 0)
        die("raw bulk get", mysql_stmt_error(rw->bulk_get));
    if (raw_fetch(rw->bulk_get, true) != BULK) die("raw bulk get", "wrong row count");
}

static void raw_tx_upserts(raw *rw, size_t first, size_t n)
{
    if (mysql_query(rw->m, "START TRANSACTION") != 0) die("raw begin", mysql_error(rw->m));
    for (size_t k = 0; k < n; k++) raw_upsert(rw, first + k);
    if (mysql_query(rw->m, "COMMIT") != 0) die("raw commit", mysql_error(rw->m));
}

static void raw_bulk_set(void *ctx, size_t i)
{
    raw_tx_upserts(ctx, i * BULK, BULK);
}

static void raw_tx(void *ctx, size_t i)
{
    raw_tx_upserts(ctx, i * TXOPS, TXOPS);
}

/* Enough of Go's DSN form for the test server: user[:pass]@tcp(host:port)/... */
static MYSQL *raw_connect(const char *dsn)
{
    char user[64] = "root", pass[64] = "", host[64] = "127.0.0.1";
    unsigned port = 3306;
    const char *at = strrchr(dsn, '@');
    if (at) {
        const char *colon = memchr(dsn, ':', (size_t)(at - dsn));
        snprintf(user, sizeof user, "%.*s", (int)((colon ? colon : at) - dsn), dsn);
        if (colon) snprintf(pass, sizeof pass, "%.*s", (int)(at - colon - 1), colon + 1);
    }
    const char *tcp = strstr(dsn, "tcp(");
    if (tcp) {
        const char *end = strchr(tcp, ')');
        const char *c = end ? memchr(tcp + 4, ':', (size_t)(end - tcp - 4)) : NULL;
        if (c) {
            snprintf(host, sizeof host, "%.*s", (int)(c - tcp - 4), tcp + 4);
            port = (unsigned)atoi(c + 1);
        }
    }
    MYSQL *m = mysql_init(NULL);
    /* Bounded waits, as the driver must have them (its default timeout): with a read timeout
     * libmariadb polls before every read, a syscall per reply that a client without timeouts
     * skips — that is the price of not hanging, not driver overhead. */
    unsigned timeout_s = 20;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout_s);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout_s);
    if (!mysql_real_connect(m, host, user, pass, "dapr_state_store", port, NULL, 0))
        die("raw connect", mysql_error(m));
    mysql_query(m, "SET SESSION time_zone = '+00:00'");
    return m;
}

/* Runs raw and driver alternately, three rounds each, and compares the best rounds: the
 * machine is shared, and the best of several short runs is the least disturbed one. */
int main(void)
{
    const char *dsn = getenv("SS_TEST_MYSQL_DSN");
    if (!dsn || !*dsn) {
        printf("mysql_bench: SS_TEST_MYSQL_DSN is not set (start the server with "
               "scripts/services/mariadb.sh start DIR and source DIR/mariadb.env)\n");
        return 77;
    }
    snprintf(table, sizeof table, "bench_%d", (int)getpid());
    memset(value, 'v', sizeof value);
    for (size_t i = 0; i < NKEYS; i++) snprintf(keys[i], sizeof keys[i], "bench-key-%zu", i);

    ss_pair props[] = {{"connectionString", dsn}, {"tableName", table}};
    ss_config cfg = {.driver = "mysql", .properties = props, .property_count = 2};
    ss_store *s = NULL;
    ss_error e;
    if (ss_open(&s, &cfg, &e) != SS_OK) die("open", e.message);
    for (size_t i = 0; i < NKEYS; i++) drv_set(s, i);

    raw rw = {raw_connect(dsn), NULL, NULL, NULL};
    char sql[2048];
    const char *live = "(expiredate IS NULL OR expiredate > CURRENT_TIMESTAMP(3))";
    snprintf(sql, sizeof sql,
             "SELECT value, isbinary, eTag, CAST(UNIX_TIMESTAMP(expiredate) * 1000 AS SIGNED) FROM "
             "%s WHERE id = ? AND "
             "%s",
             table, live);
    rw.get = raw_prepare(rw.m, sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO %s (id, value, isbinary, eTag, expiredate) VALUES (?, ?, 0, ?, IF(? > "
             "0, DATE_ADD(CURRENT_TIMESTAMP(3), INTERVAL ? SECOND), NULL)) ON DUPLICATE KEY UPDATE "
             "value = VALUES(value), isbinary = VALUES(isbinary), eTag = VALUES(eTag), "
             "expiredate = VALUES(expiredate)",
             table);
    rw.set = raw_prepare(rw.m, sql);
    int n = snprintf(sql, sizeof sql,
                     "SELECT id, value, isbinary, eTag, CAST(UNIX_TIMESTAMP(expiredate) * 1000 AS "
                     "SIGNED) FROM %s WHERE "
                     "id IN (",
                     table);
    for (int k = 0; k < BULK; k++) n += snprintf(sql + n, sizeof sql - (size_t)n, k ? ",?" : "?");
    snprintf(sql + n, sizeof sql - (size_t)n, ") AND %s", live);
    rw.bulk_get = raw_prepare(rw.m, sql);

    size_t n1 = bench_iters(2000), nb = bench_iters(100), nt = bench_iters(300);
    printf("mysql: driver vs raw libmariadb (prepared statements), table %s, %zu-byte values\n",
           table, sizeof value);
    bench_pair("get", n1, 1, raw_get, &rw, drv_get, s, 0.9);
    bench_pair("set", n1, 1, raw_set, &rw, drv_set, s, 0.9);
    bench_pair("bulk get x100", nb, BULK, raw_bulk_get, &rw, drv_bulk_get, s, 0.8);
    bench_pair("bulk set x100", nb, BULK, raw_bulk_set, &rw, drv_bulk_set, s, 0.8);
    bench_pair("transaction x10", nt, TXOPS, raw_tx, &rw, drv_tx, s, 0.8);

    mysql_stmt_close(rw.get);
    mysql_stmt_close(rw.set);
    mysql_stmt_close(rw.bulk_get);
    snprintf(sql, sizeof sql, "DROP TABLE %s", table);
    mysql_query(rw.m, sql);
    mysql_close(rw.m);
    ss_close(s);
    return 0;
}

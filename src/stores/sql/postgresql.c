/*
 * postgresql.c — the PostgreSQL driver (libpq), with the table layout of Dapr's postgresql v2
 * state store so a Dapr sidecar and statestored can share one table.
 *
 * Layout (created on first use, recorded as version "1" in the metadata table under Dapr's own
 * key so Dapr does not try to create it again):
 *   key text PRIMARY KEY, value bytea, etag uuid, created_at, updated_at, expires_at timestamptz
 * Every statement is prepared once per connection. Bulk writes and transactions are sent as one
 * libpq pipeline inside BEGIN/COMMIT: one network round trip for the work, one for COMMIT.
 * The pool, retries, ETag checks and the sweep thread are the SQL drivers' common part (sql.c);
 * this file is the PostgreSQL dialect: statements and libpq calls.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libpq-fe.h>

#include "statestore/driver.h"
#include "stores/sql/sql.h"
#include "support/strbuf.h"

#define PG_SCHEMA_VERSION 1
#define PG_MAX_KEY_LEN    2048 /* well below PostgreSQL's btree entry limit (~2700 bytes) */
#define PG_MAX_VALUE_LEN  (((size_t)1 << 30) - 1) /* PostgreSQL field size limit */

enum {
    ST_GET,
    ST_BULK_GET,
    ST_SET_ANY,
    ST_SET_ABSENT,
    ST_SET_MATCH,
    ST_DEL_ANY,
    ST_DEL_MATCH,
    ST_COUNT
};

static const char *const pg_stmt_names[ST_COUNT] = {
    "ss_get",       "ss_bulk_get", "ss_set_any",   "ss_set_absent",
    "ss_set_match", "ss_del_any",  "ss_del_match",
};

typedef struct pg_store {
    ss_sql base; /* first: the instance is also the common part's */
    char *conninfo;
    char *table;      /* possibly schema-qualified, validated identifier(s) */
    char *meta_table; /* same */
    char *migration_key;
    char *cleanup_key;
    char *sql[ST_COUNT];
    int64_t timeout_ms;
    int64_t cleanup_ms;
    int64_t idle_ms;
    int64_t max_conns;
} pg_store; /* its pool holds PGconn, each with every statement prepared */

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* An identifier we put into SQL unquoted (as Dapr does, so names fold the same way). */
static bool pg_valid_ident_part(const char *s, size_t n)
{
    if (n == 0 || n > 63) return false;
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '_')) return false;
    }
    return true;
}

static bool pg_valid_ident(const char *s, bool allow_schema)
{
    const char *dot = strchr(s, '.');
    if (!dot) return pg_valid_ident_part(s, strlen(s));
    if (!allow_schema || strchr(dot + 1, '.')) return false;
    return pg_valid_ident_part(s, (size_t)(dot - s)) &&
           pg_valid_ident_part(dot + 1, strlen(dot + 1));
}

static int64_t pg_be64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | (unsigned char)p[i];
    return (int64_t)v;
}

/* Maps a libpq failure to our codes; the message is the server's (never the conninfo). */
/*
 * Every wait on the server is bounded by the store's timeout. libpq's blocking calls wait forever
 * on a server that is stopped (SIGSTOP, a hung host) while its socket still accepts bytes, and
 * statement_timeout needs a running server to fire. The bound is per thread: pg_enter sets it
 * for the thread that holds a connection, and every call on that connection happens there.
 */
static _Thread_local int64_t pg_io_timeout_ms = 30000;
static _Thread_local bool pg_io_timed_out;

/* Waits until libpq can return the next result without blocking. When the timeout passes, the
 * socket is shut down: libpq then sees the connection as lost, its calls return at once, and
 * the pool drops the connection on release; pg_fail reports TIMEOUT. */
static void pg_await(PGconn *pg)
{
    int64_t deadline = ss_monotonic_ms() + pg_io_timeout_ms;
    while (PQisBusy(pg)) {
        int fd = PQsocket(pg);
        if (fd < 0) return;
        int64_t left = deadline - ss_monotonic_ms();
        if (left <= 0) {
            shutdown(fd, SHUT_RDWR);
            PQconsumeInput(pg);
            pg_io_timed_out = true;
            return;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r < 0 && errno != EINTR) return; /* libpq reports the failure */
        if (r > 0 && !PQconsumeInput(pg)) return;
    }
}

static PGresult *pg_get_result(PGconn *pg)
{
    pg_await(pg);
    return PQgetResult(pg);
}

/* PQexecPrepared / PQexec with the wait bounded: the last result of the query (as they return). */
static PGresult *pg_last_result(PGconn *pg)
{
    PGresult *last = NULL, *r;
    while ((r = pg_get_result(pg)) != NULL) {
        PQclear(last);
        last = r;
        if (PQstatus(pg) != CONNECTION_OK) break;
    }
    return last;
}

static PGresult *pg_exec_prepared(PGconn *pg, const char *name, int n, const char *const *vals,
                                  const int *lens, const int *fmts)
{
    if (!PQsendQueryPrepared(pg, name, n, vals, lens, fmts, 1)) return NULL;
    return pg_last_result(pg);
}

static PGresult *pg_exec_text(PGconn *pg, const char *sql)
{
    if (!PQsendQuery(pg, sql)) return NULL;
    return pg_last_result(pg);
}

static ss_code pg_fail(PGconn *pg, const PGresult *res, ss_error *err)
{
    if (pg_io_timed_out) {
        pg_io_timed_out = false;
        return ss_error_set(err, SS_TIMEOUT,
                            "no reply from the server within %" PRId64 " ms (timeout)",
                            pg_io_timeout_ms);
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (!msg || !*msg) msg = pg ? PQerrorMessage(pg) : "";
    if (!msg || !*msg) msg = "unknown libpq error";
    /* libpq's messages span lines ("...failed: ...\n\tIs the server running..."): one line */
    char line[SS_ERROR_MESSAGE_MAX];
    size_t len = 0;
    for (const char *p = msg; *p && len + 1 < sizeof line; p++) {
        char ch = (*p == '\n' || *p == '\t' || *p == '\r') ? ' ' : *p;
        if (ch == ' ' && (len == 0 || line[len - 1] == ' ')) continue;
        line[len++] = ch;
    }
    while (len > 0 && line[len - 1] == ' ') len--;
    line[len] = '\0';

    ss_code code = SS_BACKEND;
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        code = SS_UNAVAILABLE;
    } else if (state) {
        if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
            strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
            strcmp(state, "57P03") == 0 || strcmp(state, "40001") == 0 ||
            strcmp(state, "40P01") == 0)
            code = SS_UNAVAILABLE;
        else if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0)
            code = SS_TIMEOUT;
        else if (strcmp(state, "22021") == 0 || strcmp(state, "22P02") == 0 ||
                 strcmp(state, "54000") == 0)
            code = SS_INVALID;
    }
    return ss_error_set(err, code, "%s", line);
}

static bool pg_res_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static int64_t pg_rows(const PGresult *res)
{
    const char *t = PQcmdTuples((PGresult *)res);
    return (t && *t) ? strtoll(t, NULL, 10) : 0;
}

/* Runs a statement that returns nothing we need; SS_OK or the mapped failure. */
static ss_code pg_exec_simple(PGconn *pg, const char *sql, ss_error *err)
{
    PGresult *res = pg_exec_text(pg, sql);
    ss_code rc = pg_res_ok(res) ? SS_OK : pg_fail(pg, res, err);
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Connections and the pool                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* Server notices ("relation already exists, skipping") go to the store's log, not stderr. */
static void pg_notice(void *arg, const char *message)
{
    pg_store *s = arg;
    size_t n = strlen(message);
    while (n > 0 && message[n - 1] == '\n') n--;
    ss_log(s->base.ctx, SS_LOG_DEBUG, "server notice: %.*s", (int)n, message);
}

static ss_code pg_connect(pg_store *s, PGconn **out, ss_error *err)
{
    char tmo[32], stmo[64];
    int64_t secs = (s->timeout_ms + 999) / 1000;
    snprintf(tmo, sizeof tmo, "%" PRId64, secs < 2 ? 2 : secs);
    /* Our defaults first: with expand_dbname the user's connection string, expanded in
     * place of dbname, overrides them. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {tmo, "statestore", s->conninfo, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg) return ss_error_set(err, SS_NOMEM, "out of memory creating a libpq connection");
    if (PQstatus(pg) != CONNECTION_OK) {
        ss_code rc = pg_fail(pg, NULL, err);
        PQfinish(pg);
        return rc;
    }
    PQsetNoticeProcessor(pg, pg_notice, s);
    snprintf(stmo, sizeof stmo, "SET statement_timeout = %" PRId64, s->timeout_ms);
    ss_code rc = pg_exec_simple(pg, stmo, err);
    for (int i = 0; rc == SS_OK && i < ST_COUNT; i++) {
        PGresult *res = PQprepare(pg, pg_stmt_names[i], s->sql[i], 0, NULL);
        if (!pg_res_ok(res)) rc = pg_fail(pg, res, err);
        PQclear(res);
    }
    if (rc != SS_OK) {
        PQfinish(pg);
        return rc;
    }
    *out = pg;
    return SS_OK;
}

static ss_code pg_pool_open(ss_sql *s, void **conn, ss_error *err)
{
    PGconn *pg = NULL;
    ss_code rc = pg_connect((pg_store *)s, &pg, err);
    if (rc == SS_OK) *conn = pg;
    return rc;
}

static void pg_pool_close(void *conn)
{
    PQfinish(conn);
}

/* A connection left inside a transaction or a pipeline cannot be handed to the next caller. */
static ss_pool_verdict pg_pool_check(void *conn)
{
    PGconn *pg = conn;
    if (PQstatus(pg) != CONNECTION_OK) return SS_POOL_DEAD;
    if (PQtransactionStatus(pg) != PQTRANS_IDLE || PQpipelineStatus(pg) != PQ_PIPELINE_OFF)
        return SS_POOL_DROP;
    return SS_POOL_KEEP;
}

static ss_code pg_pool_exhausted(ss_sql *base, ss_error *err)
{
    const pg_store *s = (const pg_store *)base;
    return ss_error_set(err, SS_TIMEOUT,
                        "no free connection within %" PRId64 " ms (maxConns %" PRId64 ")",
                        s->timeout_ms, s->max_conns);
}

/* Bounds this thread's waits on the server (see pg_await) for the time it holds the
 * connection it is about to take, including the connect inside the pool. */
static void pg_enter(ss_sql *base)
{
    pg_io_timeout_ms = ((const pg_store *)base)->timeout_ms;
    pg_io_timed_out = false;
}

/* ------------------------------------------------------------------------------------------ */
/* Statement parameters                                                                       */
/* ------------------------------------------------------------------------------------------ */

typedef struct pg_call {
    int stmt;
    int n;
    const char *vals[5];
    int lens[5];
    int fmts[5];
    char etag[SS_SQL_ETAG_SIZE];
    char ttl[24];
} pg_call;

static void pg_build_write(const ss_op *op, pg_call *c)
{
    memset(c, 0, sizeof *c);
    if (op->kind == SS_DRV_SET) {
        ss_uuid4(c->etag);
        snprintf(c->ttl, sizeof c->ttl, "%" PRId64,
                 op->ttl_mode == SS_TTL_SECONDS ? op->ttl_seconds : (int64_t)0);
        c->stmt = op->cond == SS_COND_MATCH    ? ST_SET_MATCH
                  : op->cond == SS_COND_ABSENT ? ST_SET_ABSENT
                                               : ST_SET_ANY;
        c->vals[0] = op->key;
        c->vals[1] = op->value;
        c->lens[1] = (int)op->value_len;
        c->fmts[1] = 1; /* bytea sent as raw bytes */
        c->vals[2] = c->etag;
        c->vals[3] = c->ttl;
        c->n = 4;
        if (op->cond == SS_COND_MATCH) c->vals[c->n++] = op->etag;
    } else {
        c->stmt = op->cond == SS_COND_MATCH ? ST_DEL_MATCH : ST_DEL_ANY;
        c->vals[0] = op->key;
        c->n = 1;
        if (op->cond == SS_COND_MATCH) c->vals[c->n++] = op->etag;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Single operations                                                                          */
/* ------------------------------------------------------------------------------------------ */

static ss_code pg_value_from_row(const PGresult *res, int row, int col, ss_value **out)
{
    const char *data = PQgetvalue(res, row, col);
    size_t len = (size_t)PQgetlength(res, row, col);
    const char *etag = PQgetisnull(res, row, col + 1) ? NULL : PQgetvalue(res, row, col + 1);
    char etagbuf[64] = "";
    if (etag) snprintf(etagbuf, sizeof etagbuf, "%.*s", PQgetlength(res, row, col + 1), etag);
    ss_value *v = ss_value_new(data, len, etag ? etagbuf : NULL);
    if (!v) return SS_NOMEM;
    if (!PQgetisnull(res, row, col + 2) && PQgetlength(res, row, col + 2) == 8) {
        if (ss_value_set_expiry(v, pg_be64(PQgetvalue(res, row, col + 2))) != SS_OK) {
            ss_value_free(v);
            return SS_NOMEM;
        }
    }
    *out = v;
    return SS_OK;
}

static ss_code pg_get(ss_sql *s, void *conn, const ss_op *op, ss_value **out, ss_error *err)
{
    (void)s;
    PGconn *c = conn;
    const char *vals[1] = {op->key};
    PGresult *res = pg_exec_prepared(c, pg_stmt_names[ST_GET], 1, vals, NULL, NULL);
    ss_code rc = SS_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = pg_fail(c, res, err);
    } else if (PQntuples(res) > 0) {
        rc = pg_value_from_row(res, 0, 0, out);
        if (rc != SS_OK) ss_error_set(err, rc, "out of memory");
    }
    PQclear(res);
    return rc;
}

/* One set or delete; a set's new ETag goes to etag. */
static ss_code pg_write_on(PGconn *c, const ss_op *op, char etag[SS_SQL_ETAG_SIZE], ss_error *err)
{
    pg_call call;
    pg_build_write(op, &call);
    PGresult *res =
        pg_exec_prepared(c, pg_stmt_names[call.stmt], call.n, call.vals, call.lens, call.fmts);
    ss_code rc;
    if (!pg_res_ok(res)) {
        rc = pg_fail(c, res, err);
    } else if (!ss_sql_cond_met(op, pg_rows(res))) {
        rc = ss_sql_cond_error(op, err);
    } else {
        rc = SS_OK;
        if (op->kind == SS_DRV_SET) memcpy(etag, call.etag, SS_SQL_ETAG_SIZE);
    }
    PQclear(res);
    return rc;
}

static ss_code pg_write(ss_sql *s, void *conn, const ss_op *op, char etag[SS_SQL_ETAG_SIZE],
                        ss_error *err)
{
    (void)s;
    return pg_write_on(conn, op, etag, err);
}

static ss_code pg_ping(ss_sql *s, void *conn, ss_error *err)
{
    (void)s;
    return pg_exec_simple(conn, "SELECT 1", err);
}

/* ------------------------------------------------------------------------------------------ */
/* Bulk get: one query, key = ANY($1)                                                          */
/* ------------------------------------------------------------------------------------------ */

/* A text-format array literal: every element quoted, with " and \ escaped. */
static char *pg_array_literal(const ss_op *ops, size_t count)
{
    size_t cap = 3;
    for (size_t i = 0; i < count; i++) cap += 2 * ops[i].key_len + 3;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    char *p = buf;
    *p++ = '{';
    for (size_t i = 0; i < count; i++) {
        if (i) *p++ = ',';
        *p++ = '"';
        for (size_t j = 0; j < ops[i].key_len; j++) {
            char ch = ops[i].key[j];
            if (ch == '"' || ch == '\\') *p++ = '\\';
            *p++ = ch;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return buf;
}

static ss_code pg_bulk_get(ss_sql *s, void *conn, const ss_op *ops, size_t count,
                           const ss_sql_keys *keys, ss_results *out, ss_error *err)
{
    (void)s;
    PGconn *c = conn;
    char *arr = pg_array_literal(ops, count);
    if (!arr) return ss_error_set(err, SS_NOMEM, "out of memory");
    const char *vals[1] = {arr};
    PGresult *res = pg_exec_prepared(c, pg_stmt_names[ST_BULK_GET], 1, vals, NULL, NULL);
    free(arr);
    ss_code rc = SS_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = pg_fail(c, res, err);
    } else {
        int rows = PQntuples(res);
        for (int r = 0; r < rows && rc == SS_OK; r++) {
            const char *key = PQgetvalue(res, r, 0);
            size_t len = (size_t)PQgetlength(res, r, 0), i;
            for (size_t k = ss_sql_keys_lower(keys, key, len);
                 ss_sql_keys_at(keys, k, key, len, &i); k++) {
                ss_item_result *it = &out->items[i];
                if (it->value) continue;
                if (pg_value_from_row(res, r, 1, &it->value) != SS_OK)
                    rc = ss_error_set(err, SS_NOMEM, "out of memory");
            }
        }
    }
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Pipelines: BEGIN, every statement, then COMMIT or ROLLBACK                                 */
/* ------------------------------------------------------------------------------------------ */

/* One pipeline: [BEGIN,] one statement per op, sync; then every result is read. rows[i] gets
 * op i's row count, or -1 when its statement failed or was skipped after a failure (then
 * *failed is the first failed index, SIZE_MAX when BEGIN itself failed, and err says why). */
static ss_code pg_pipeline_chunk(PGconn *pg, bool begin, const ss_op *ops, size_t count,
                                 pg_call *calls, int64_t *rows, size_t *failed, ss_error *err)
{
    if (!PQenterPipelineMode(pg)) return pg_fail(pg, NULL, err);
    bool sent = !begin || PQsendQueryParams(pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) == 1;
    for (size_t i = 0; sent && i < count; i++) {
        pg_build_write(&ops[i], &calls[i]);
        sent = PQsendQueryPrepared(pg, pg_stmt_names[calls[i].stmt], calls[i].n, calls[i].vals,
                                   calls[i].lens, calls[i].fmts, 1) == 1;
    }
    if (sent) sent = PQpipelineSync(pg) == 1;
    if (!sent) {
        ss_code rc = pg_fail(pg, NULL, err);
        PQexitPipelineMode(pg);
        return rc;
    }

    ss_code rc = SS_OK;
    size_t first = begin ? 0 : 1; /* result index q: 0 = BEGIN, 1..count = ops, then sync */
    for (size_t q = first; q <= count + 1; q++) {
        PGresult *res = pg_get_result(pg);
        if (!res) {
            if (PQstatus(pg) != CONNECTION_OK) {
                rc = pg_fail(pg, NULL, err);
                break;
            }
            res = pg_get_result(pg);
            if (!res) {
                rc = pg_fail(pg, NULL, err);
                break;
            }
        }
        ExecStatusType st = PQresultStatus(res);
        if (q == count + 1) {
            if (st != PGRES_PIPELINE_SYNC && rc == SS_OK) rc = pg_fail(pg, res, err);
            PQclear(res);
            break;
        }
        bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
        if (q > 0) rows[q - 1] = ok ? pg_rows(res) : -1;
        if (!ok && rc == SS_OK && st != PGRES_PIPELINE_ABORTED) {
            rc = pg_fail(pg, res, err);
            if (q > 0) *failed = q - 1;
        }
        PQclear(res);
        /* each query's results end with NULL */
        PGresult *extra;
        while ((extra = pg_get_result(pg)) != NULL) PQclear(extra);
    }
    if (PQstatus(pg) == CONNECTION_OK) PQexitPipelineMode(pg);
    return rc;
}

/* BEGIN and every op's statement, pipelined in chunks: a blocking libpq connection that sends
 * far more than it reads can deadlock once the server's replies fill the socket buffers, so at
 * most PG_PIPE_CHUNK statements are in flight. The connection is left inside the (possibly
 * aborted) transaction; the caller commits or rolls back. */
#define PG_PIPE_CHUNK 256

static ss_code pg_pipeline(PGconn *c, const ss_op *ops, size_t count, pg_call *calls, int64_t *rows,
                           size_t *failed, ss_error *err)
{
    *failed = SIZE_MAX;
    ss_code rc = SS_OK;
    for (size_t off = 0; rc == SS_OK && (off < count || off == 0); off += PG_PIPE_CHUNK) {
        size_t n = count - off < PG_PIPE_CHUNK ? count - off : PG_PIPE_CHUNK;
        size_t f = SIZE_MAX;
        rc = pg_pipeline_chunk(c, off == 0, ops + off, n, calls + off, rows + off, &f, err);
        if (f != SIZE_MAX) *failed = off + f;
        if (count == 0) break;
    }
    return rc;
}

static ss_code pg_finish_tx(PGconn *c, bool commit, ss_error *err)
{
    if (PQstatus(c) != CONNECTION_OK) return pg_fail(c, NULL, err);
    return pg_exec_simple(c, commit ? "COMMIT" : "ROLLBACK", err);
}

static ss_code pg_transact(ss_sql *s, void *conn, const ss_op *ops, size_t count, ss_error *err)
{
    (void)s;
    PGconn *c = conn;
    pg_call *calls = malloc(count * sizeof *calls);
    int64_t *rows = malloc(count * sizeof *rows);
    ss_code rc = SS_OK;
    if (!calls || !rows) rc = ss_error_set(err, SS_NOMEM, "out of memory");
    if (rc == SS_OK) {
        size_t failed;
        ss_error perr;
        rc = pg_pipeline(c, ops, count, calls, rows, &failed, &perr);
        if (rc != SS_OK) {
            if (failed != SIZE_MAX && failed < count) /* name the key whose statement failed */
                ss_error_set_op(err, rc, failed, &ops[failed], "%s", perr.message);
            else
                ss_error_set(err, rc, "%s", perr.message);
        }
        for (size_t i = 0; rc == SS_OK && i < count; i++) {
            if (ss_sql_cond_met(&ops[i], rows[i])) continue;
            ss_error e;
            rc = ss_sql_cond_error(&ops[i], &e);
            ss_error_set_op(err, rc, i, &ops[i], "%s", e.message);
        }
        if (rc == SS_OK) {
            rc = pg_finish_tx(c, true, err);
        } else if (PQstatus(c) == CONNECTION_OK) {
            ss_error ignored;
            pg_finish_tx(c, false, &ignored);
        }
    }
    free(calls);
    free(rows);
    return rc;
}

/* Bulk set/delete: not atomic per Dapr, but sent as one pipeline in one transaction (one
 * commit). A mismatch only marks its item. A statement *error* aborts the whole transaction,
 * so then every item is run again on its own to report exactly which ones fail. */
static ss_code pg_bulk_write(ss_sql *s, void *conn, const ss_op *ops, size_t count,
                             ss_item_result *items, ss_error *err)
{
    (void)s;
    PGconn *c = conn;
    pg_call *calls = malloc(count * sizeof *calls);
    int64_t *rows = malloc(count * sizeof *rows);
    ss_code rc = SS_OK;
    if (!calls || !rows) {
        free(calls);
        free(rows);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    size_t failed;
    ss_error perr;
    ss_code prc = pg_pipeline(c, ops, count, calls, rows, &failed, &perr);
    if (prc == SS_OK)
        prc = pg_finish_tx(c, true, &perr);
    else if (PQstatus(c) == CONNECTION_OK) {
        ss_error ignored;
        pg_finish_tx(c, false, &ignored);
    }
    if (prc == SS_OK) {
        for (size_t i = 0; i < count; i++) {
            ss_item_result *it = &items[i];
            if (!ss_sql_cond_met(&ops[i], rows[i])) {
                ss_error e;
                it->code = ss_sql_cond_error(&ops[i], &e);
                it->error = ss_strdup(e.message);
            } else if (ops[i].kind == SS_DRV_SET) {
                it->etag = ss_strdup(calls[i].etag);
            }
        }
    } else if (PQstatus(c) != CONNECTION_OK) {
        rc = ss_error_set(err, prc, "%s", perr.message);
    } else {
        for (size_t i = 0; i < count; i++) {
            ss_item_result *it = &items[i];
            ss_error e;
            char etag[SS_SQL_ETAG_SIZE];
            it->code = pg_write_on(c, &ops[i], etag, &e);
            if (it->code != SS_OK)
                it->error = ss_strdup(e.message);
            else if (ops[i].kind == SS_DRV_SET)
                it->etag = ss_strdup(etag);
        }
    }
    free(calls);
    free(rows);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Schema creation / migration                                                                */
/* ------------------------------------------------------------------------------------------ */

static uint64_t pg_fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* A table that already exists must have the v2 columns with the v2 types; anything else (a v1
 * table with jsonb values, somebody else's table) is refused, never altered. */
static ss_code pg_verify_layout(pg_store *s, PGconn *pg, ss_error *err)
{
    static const char *const want[][2] = {
        {"key", "text"},
        {"value", "bytea"},
        {"etag", "uuid"},
        {"updated_at", "timestamp with time zone"},
        {"expires_at", "timestamp with time zone"},
    };
    const char *vals[1] = {s->table};
    PGresult *res = PQexecParams(pg,
                                 "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) "
                                 "FROM pg_attribute a WHERE a.attrelid = to_regclass($1) "
                                 "AND a.attnum > 0 AND NOT a.attisdropped",
                                 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ss_code rc = pg_fail(pg, res, err);
        PQclear(res);
        return rc;
    }
    ss_code rc = SS_OK;
    for (size_t w = 0; w < sizeof want / sizeof want[0] && rc == SS_OK; w++) {
        const char *found = NULL;
        for (int r = 0; r < PQntuples(res); r++)
            if (strcmp(PQgetvalue(res, r, 0), want[w][0]) == 0) found = PQgetvalue(res, r, 1);
        if (!found)
            rc = ss_error_set(err, SS_INVALID,
                              "table %s exists without column %s: not a postgresql v2 state "
                              "table; refusing to use or alter it",
                              s->table, want[w][0]);
        else if (strcmp(found, want[w][1]) != 0)
            rc = ss_error_set(err, SS_INVALID,
                              "table %s has column %s of type %s, expected %s (a postgresql v1 "
                              "table?); refusing to use or alter it",
                              s->table, want[w][0], found, want[w][1]);
    }
    PQclear(res);
    return rc;
}

static ss_code pg_migrate_locked(pg_store *s, PGconn *pg, ss_error *err)
{
    const char *vals[2] = {s->migration_key, NULL};
    char *q = ss_asprintf("SELECT value FROM %s WHERE key = $1", s->meta_table);
    if (!q) return ss_error_set(err, SS_NOMEM, "out of memory");
    PGresult *res = PQexecParams(pg, q, 1, NULL, vals, NULL, NULL, 0);
    free(q);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ss_code rc = pg_fail(pg, res, err);
        PQclear(res);
        return rc;
    }
    long version = 0;
    if (PQntuples(res) > 0) {
        const char *v = PQgetvalue(res, 0, 0);
        char *end;
        errno = 0;
        version = strtol(v, &end, 10);
        if (errno || *end || version < 0) version = -1;
    }
    PQclear(res);
    if (version < 0 || version > PG_SCHEMA_VERSION)
        return ss_error_set(err, SS_INVALID,
                            "table %s: schema version recorded in %s (key %s) is newer than or "
                            "unknown to this driver (which knows %d); refusing to touch it",
                            s->table, s->meta_table, s->migration_key, PG_SCHEMA_VERSION);
    if (version == PG_SCHEMA_VERSION) return pg_verify_layout(s, pg, err);

    vals[0] = s->table;
    res = PQexecParams(pg, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ss_code rc = pg_fail(pg, res, err);
        PQclear(res);
        return rc;
    }
    bool exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);

    ss_code rc;
    if (exists) {
        rc = pg_verify_layout(s, pg, err);
    } else {
        ss_log(s->base.ctx, SS_LOG_INFO, "creating state table %s", s->table);
        q = ss_asprintf("CREATE TABLE %s (\n"
                        "  key text NOT NULL PRIMARY KEY,\n"
                        "  value bytea NOT NULL,\n"
                        "  etag uuid NOT NULL DEFAULT gen_random_uuid(),\n"
                        "  created_at timestamp with time zone NOT NULL DEFAULT now(),\n"
                        "  updated_at timestamp with time zone,\n"
                        "  expires_at timestamp with time zone\n"
                        ");\n"
                        "CREATE INDEX ON %s (expires_at)",
                        s->table, s->table);
        if (!q) return ss_error_set(err, SS_NOMEM, "out of memory");
        rc = pg_exec_simple(pg, q, err);
        free(q);
    }
    if (rc != SS_OK) return rc;
    q = ss_asprintf("INSERT INTO %s (key, value) VALUES ($1, $2) "
                    "ON CONFLICT (key) DO UPDATE SET value = $2",
                    s->meta_table);
    if (!q) return ss_error_set(err, SS_NOMEM, "out of memory");
    char ver[16];
    snprintf(ver, sizeof ver, "%d", PG_SCHEMA_VERSION);
    vals[0] = s->migration_key;
    vals[1] = ver;
    res = PQexecParams(pg, q, 2, NULL, vals, NULL, NULL, 0);
    free(q);
    rc = pg_res_ok(res) ? SS_OK : pg_fail(pg, res, err);
    PQclear(res);
    return rc;
}

static ss_code pg_migrate(pg_store *s, PGconn *pg, ss_error *err)
{
    ss_code rc = SS_OK;
    const char *dot = strchr(s->table, '.');
    if (dot) {
        char *q = ss_asprintf("CREATE SCHEMA IF NOT EXISTS %.*s", (int)(dot - s->table), s->table);
        if (!q) return ss_error_set(err, SS_NOMEM, "out of memory");
        rc = pg_exec_simple(pg, q, err);
        free(q);
        if (rc != SS_OK) return rc;
    }
    /* Two processes may race here: IF NOT EXISTS can still fail with a unique violation on the
     * type name while the other one commits; retrying then finds the table. */
    char *q = ss_asprintf("CREATE TABLE IF NOT EXISTS %s (key text NOT NULL PRIMARY KEY, "
                          "value text NOT NULL)",
                          s->meta_table);
    if (!q) return ss_error_set(err, SS_NOMEM, "out of memory");
    for (int i = 0; i < 5; i++) {
        PGresult *res = PQexec(pg, q);
        const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        bool race = !pg_res_ok(res) && st && strcmp(st, "23505") == 0;
        rc = pg_res_ok(res) ? SS_OK : pg_fail(pg, res, err);
        PQclear(res);
        if (!race) break;
    }
    free(q);
    if (rc != SS_OK) return rc;

    rc = pg_exec_simple(pg, "BEGIN", err);
    if (rc != SS_OK) return rc;
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%" PRId64 ")",
             (int64_t)(pg_fnv1a(s->migration_key) >> 1));
    rc = pg_exec_simple(pg, lock, err);
    if (rc == SS_OK) rc = pg_migrate_locked(s, pg, err);
    ss_error ignored;
    if (rc == SS_OK)
        rc = pg_exec_simple(pg, "COMMIT", err);
    else if (PQstatus(pg) == CONNECTION_OK)
        pg_exec_simple(pg, "ROLLBACK", &ignored);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Expired-row sweep                                                                          */
/* ------------------------------------------------------------------------------------------ */

/* One process per interval wins the conditional update of the last-cleanup row (as Dapr does)
 * and deletes expired rows; the others see zero rows updated and skip. */
static ss_code pg_sweep(ss_sql *base, void *conn, int64_t *removed, ss_error *err)
{
    const pg_store *s = (const pg_store *)base;
    PGconn *c = conn;
    char *q = ss_asprintf(
        "INSERT INTO %s AS m (key, value) VALUES ($1, now()::text) ON CONFLICT (key) DO UPDATE "
        "SET value = now()::text WHERE (EXTRACT('epoch' FROM now() - "
        "m.value::timestamp with time zone) * 1000)::bigint > $2",
        s->meta_table);
    char interval[32];
    snprintf(interval, sizeof interval, "%" PRId64, s->cleanup_ms > 100 ? s->cleanup_ms - 100 : 0);
    const char *vals[2] = {s->cleanup_key, interval};
    PGresult *res =
        q && PQsendQueryParams(c, q, 2, NULL, vals, NULL, NULL, 0) ? pg_last_result(c) : NULL;
    free(q);
    ss_code rc = SS_OK;
    if (!pg_res_ok(res)) {
        rc = pg_fail(c, res, err);
    } else if (pg_rows(res) > 0) {
        PQclear(res);
        q = ss_asprintf("DELETE FROM %s WHERE expires_at IS NOT NULL AND expires_at < now()",
                        s->table);
        res = q ? pg_exec_text(c, q) : NULL;
        free(q);
        if (pg_res_ok(res))
            *removed = pg_rows(res);
        else
            rc = pg_fail(c, res, err);
    }
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Open / close                                                                               */
/* ------------------------------------------------------------------------------------------ */

static void pg_close(void *self)
{
    pg_store *s = self;
    ss_sql_stop(&s->base);
    for (int i = 0; i < ST_COUNT; i++) free(s->sql[i]);
    free(s->conninfo);
    free(s->table);
    free(s->meta_table);
    free(s->migration_key);
    free(s->cleanup_key);
    memset(s, 0, sizeof *s);
}

static ss_code pg_build_sql(pg_store *s)
{
    const char *t = s->table;
    const char *live = "(expires_at IS NULL OR expires_at >= now())";
    const char *exp = "CASE WHEN $4::int8 > 0 THEN now() + $4::int8 * interval '1 second' END";
    s->sql[ST_GET] = ss_asprintf("SELECT value, etag::text, "
                                 "(extract(epoch FROM expires_at) * 1000)::int8 "
                                 "FROM %s WHERE key = $1 AND %s",
                                 t, live);
    s->sql[ST_BULK_GET] = ss_asprintf("SELECT key, value, etag::text, "
                                      "(extract(epoch FROM expires_at) * 1000)::int8 "
                                      "FROM %s WHERE key = ANY($1::text[]) AND %s",
                                      t, live);
    s->sql[ST_SET_ANY] = ss_asprintf(
        "INSERT INTO %s AS t (key, value, etag, expires_at) VALUES ($1, $2, $3::uuid, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now(), "
        "etag = EXCLUDED.etag, expires_at = EXCLUDED.expires_at",
        t, exp);
    /* First-write still upserts: an expired row that is not yet swept must not block it. */
    s->sql[ST_SET_ABSENT] = ss_asprintf(
        "INSERT INTO %s AS t (key, value, etag, expires_at) VALUES ($1, $2, $3::uuid, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now(), "
        "etag = EXCLUDED.etag, expires_at = EXCLUDED.expires_at "
        "WHERE t.expires_at IS NOT NULL AND t.expires_at < now()",
        t, exp);
    s->sql[ST_SET_MATCH] = ss_asprintf(
        "UPDATE %s SET value = $2, updated_at = now(), etag = $3::uuid, expires_at = %s "
        "WHERE key = $1 AND etag = $5::uuid AND %s",
        t, exp, live);
    s->sql[ST_DEL_ANY] = ss_asprintf("DELETE FROM %s WHERE key = $1", t);
    s->sql[ST_DEL_MATCH] =
        ss_asprintf("DELETE FROM %s WHERE key = $1 AND etag = $2::uuid AND %s", t, live);
    for (int i = 0; i < ST_COUNT; i++)
        if (!s->sql[i]) return SS_NOMEM;
    return SS_OK;
}

static const ss_sql_dialect pg_dialect = {
    .connect = pg_pool_open,
    .disconnect = pg_pool_close,
    .check = pg_pool_check,
    .exhausted = pg_pool_exhausted,
    .enter = pg_enter,
    .ping = pg_ping,
    .get = pg_get,
    .write = pg_write,
    .bulk_get = pg_bulk_get,
    .transact = pg_transact,
    .bulk_write = pg_bulk_write,
    .sweep = pg_sweep,
};

static ss_code pg_open(void *self, ss_ctx *ctx, ss_error *err)
{
    pg_store *s = self;
    s->base.ctx = ctx;
    const char *conninfo, *table, *meta;
    const char *schema = ss_prop(ctx, "schema");
    ss_code rc = ss_sql_props(ctx, &conninfo, &table, &meta, err);
    if (rc != SS_OK) return rc;
    if (schema && !*schema) schema = NULL;
    if (schema && !pg_valid_ident(schema, false))
        return ss_error_set(err, SS_INVALID,
                            "property schema: \"%s\" is not a valid identifier (letters, digits, "
                            "_; at most 63 bytes)",
                            schema);
    if (!pg_valid_ident(table, schema == NULL))
        return ss_error_set(err, SS_INVALID,
                            "property tableName: \"%s\" is not a valid table name ([schema.]name "
                            "of letters, digits and _)",
                            table);
    if (!pg_valid_ident(meta, schema == NULL))
        return ss_error_set(err, SS_INVALID,
                            "property metadataTableName: \"%s\" is not a valid table name", meta);

    /* Checked here so a typo is INVALID, not UNAVAILABLE. libpq's message may quote part of
     * the string (the password too), so it is not passed on. */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        PQfreemem(perr);
        return ss_error_set(err, SS_INVALID,
                            "property connectionString is not a valid libpq connection string "
                            "(key=value pairs or a postgres:// URI)");
    }
    PQconninfoFree(opts);

    if ((rc = ss_prop_duration_ms(ctx, "timeout", 1000, &s->timeout_ms, err)) != SS_OK) return rc;
    if (s->timeout_ms < 1000)
        return ss_error_set(err, SS_INVALID, "property timeout: must be at least 1s");
    if ((rc = ss_prop_duration_ms(ctx, "cleanupInterval", 1000, &s->cleanup_ms, err)) != SS_OK)
        return rc;
    if ((rc = ss_prop_duration_ms(ctx, "connectionMaxIdleTime", 1000, &s->idle_ms, err)) != SS_OK)
        return rc;
    if ((rc = ss_prop_int(ctx, "maxConns", 1, 10000, &s->max_conns, err)) != SS_OK) return rc;

    s->conninfo = ss_strdup(conninfo);
    s->table = schema ? ss_asprintf("%s.%s", schema, table) : ss_strdup(table);
    s->meta_table = schema ? ss_asprintf("%s.%s", schema, meta) : ss_strdup(meta);
    /* Dapr's migration key is "migrations-state-v2-<tablePrefix>" for table <prefix>state. A
     * name not ending in "state" gets a key no Dapr prefix can produce ('|' is not allowed in
     * identifiers). */
    size_t tl = strlen(s->table);
    if (tl >= 5 && strcmp(s->table + tl - 5, "state") == 0)
        s->migration_key = ss_asprintf("migrations-state-v2-%.*s", (int)(tl - 5), s->table);
    else
        s->migration_key = ss_asprintf("migrations-state-v2-|%s", s->table);
    s->cleanup_key = ss_asprintf("last-cleanup-state-v2-%s", s->table);
    if (!s->conninfo || !s->table || !s->meta_table || !s->migration_key || !s->cleanup_key ||
        pg_build_sql(s) != SS_OK) {
        pg_close(s);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }

    ss_pool_config pool = {
        .max_open = s->max_conns,
        .max_idle = -1,
        .idle_ms = s->idle_ms,
        .wait_ms = s->timeout_ms,
    };
    if ((rc = ss_sql_start(&s->base, &pg_dialect, ctx, &pool, err)) != SS_OK) {
        pg_close(s);
        return rc;
    }

    /* The table must exist before statements referencing it can be prepared, so the
     * migration runs on a bare connection first. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    char tmo[32];
    snprintf(tmo, sizeof tmo, "%" PRId64, s->timeout_ms / 1000 < 2 ? 2 : s->timeout_ms / 1000);
    const char *vals[] = {tmo, "statestore", s->conninfo, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        rc = pg ? pg_fail(pg, NULL, err) : ss_error_set(err, SS_NOMEM, "out of memory");
        PQfinish(pg);
        pg_close(s);
        return rc;
    }
    PQsetNoticeProcessor(pg, pg_notice, s);
    rc = pg_migrate(s, pg, err);
    PQfinish(pg);
    if (rc != SS_OK) {
        pg_close(s);
        return rc;
    }
    /* One pooled connection now, so a statement that does not prepare fails open. */
    if ((rc = ss_sql_ready(&s->base, s->cleanup_ms, NULL, err)) != SS_OK) pg_close(s);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* The driver                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static const char *const pg_aliases[] = {"postgres", NULL};

static const ss_property pg_props[] = {
    {"connectionString", true, true, NULL,
     "libpq connection string or postgres:// URI (may carry a password: never logged)"},
    {"tableName", false, false, "state", "state table, [schema.]name"},
    {"metadataTableName", false, false, "dapr_metadata",
     "table holding the schema version and the last-cleanup time"},
    {"schema", false, false, NULL,
     "schema for both tables (created if missing); default: search_path"},
    {"timeout", false, false, "20s", "connect and statement timeout (at least 1s)"},
    {"cleanupInterval", false, false, "1h",
     "how often expired rows are deleted (one process at a time); 0 disables"},
    {"maxConns", false, false, "8", "most connections in the pool"},
    {"connectionMaxIdleTime", false, false, "0",
     "close pooled connections idle longer than this; 0 = never"},
};

const ss_driver ss_driver_postgresql = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "postgresql",
            .aliases = pg_aliases,
            .version = "v2",
            .summary = "PostgreSQL (libpq), table layout of Dapr's postgresql v2 component",
            .features =
                {
                    .flags = SS_SQL_FEATURES,
                    .max_tx_ops = 0,
                    .max_key_len = PG_MAX_KEY_LEN,
                    .max_value_len = PG_MAX_VALUE_LEN,
                },
            .properties = pg_props,
            .property_count = sizeof pg_props / sizeof pg_props[0],
        },
    .instance_size = sizeof(pg_store),
    .open = pg_open,
    .close = pg_close,
    SS_SQL_DRIVER_SLOTS,
};

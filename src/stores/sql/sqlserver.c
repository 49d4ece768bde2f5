/*
 * sqlserver.c — state.sqlserver: SQL Server through FreeTDS db-lib, a dialect of sql.c, on
 * Dapr's table layout so a store Dapr's component wrote is read and written unchanged:
 *   [Key] NVARCHAR(keyLength) | UNIQUEIDENTIFIER | INT PRIMARY KEY, [Data] NVARCHAR(MAX),
 *   [InsertDate], [UpdateDate], [ExpireDate] DATETIME2, [RowVersion] ROWVERSION
 * and the ETag is the RowVersion's 8 bytes in lowercase hex, as Dapr writes it.
 *
 * Every batch's text comes from sqlserver_tsql.c (tested without a server); this file only
 * sends them and reads the rows back. Errors are collected by the message and error handlers
 * per connection (db-lib's handlers are process-wide, so each DBPROCESS carries its own
 * record as user data); the first error of a batch is the one reported.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sybdb.h>

#include "stores/sql/sql.h"
#include "stores/sql/sqlserver_conn.h"
#include "stores/sql/sqlserver_tsql.h"
#include "support/strbuf.h"

/* Attempts for a batch that failed with one of SQL Server's transient errors (a deadlock
 * victim's transaction is rolled back whole, so running it again is safe). */
#define MS_ATTEMPTS 3

typedef struct ms_store {
    ss_sql base; /* first member: see sql.h */
    ss_sqlserver_conn conn;
    ss_sqlserver_tsql tsql;
    char *server; /* "host:port", "host\instance" or "host" for dbopen */
    int64_t timeout_ms, cleanup_ms, max_conns, idle_ms;
} ms_store;

typedef struct ms_conn {
    DBPROCESS *db;
    long err_no; /* first error of the current batch; 0 = none */
    char err_msg[512];
    bool dead;
} ms_conn;

/* Login failures happen before there is a DBPROCESS to carry the message. */
static _Thread_local char ms_login_msg[512];

static void ms_record(DBPROCESS *db, long number, const char *text)
{
    ms_conn *c = db ? (ms_conn *)dbgetuserdata(db) : NULL;
    if (!c) {
        if (!ms_login_msg[0]) snprintf(ms_login_msg, sizeof ms_login_msg, "%s", text);
        return;
    }
    if (c->err_no) return;
    c->err_no = number;
    snprintf(c->err_msg, sizeof c->err_msg, "%s", text);
}

static int ms_msg_handler(DBPROCESS *db, DBINT msgno, int state, int severity, char *text,
                          char *server, char *proc, int line)
{
    (void)state, (void)server, (void)proc, (void)line;
    if (severity > 10) ms_record(db, (long)msgno, text ? text : "");
    return 0;
}

static int ms_err_handler(DBPROCESS *db, int severity, int dberr, int oserr, char *dberrstr,
                          char *oserrstr)
{
    (void)severity, (void)oserr, (void)oserrstr;
    /* db-lib's own errors (network, timeouts) carry numbers below SQL Server's; they are kept
     * negative so the server's mapping never applies to them. */
    ms_record(db, -(long)dberr, dberrstr ? dberrstr : "client library error");
    if (db && DBDEAD(db)) {
        ms_conn *c = (ms_conn *)dbgetuserdata(db);
        if (c) c->dead = true;
    }
    return INT_CANCEL;
}

static pthread_once_t ms_once = PTHREAD_ONCE_INIT;
static bool ms_init_ok;

static void ms_init(void)
{
    ms_init_ok = dbinit() == SUCCEED;
    dberrhandle(ms_err_handler);
    dbmsghandle(ms_msg_handler);
}

/* The code and message for c's recorded error (or a generic one). */
static ss_code ms_fail(ms_conn *c, ss_error *err)
{
    if (c->err_no > 0)
        return ss_error_set(err, ss_sqlserver_error_code(c->err_no), "sql server error %ld: %s",
                            c->err_no, c->err_msg);
    if (c->err_no < 0)
        return ss_error_set(err, c->dead ? SS_UNAVAILABLE : SS_TIMEOUT, "freetds: %s", c->err_msg);
    return ss_error_set(err, SS_BACKEND, "freetds: batch failed");
}

typedef ss_code (*ms_row_fn)(ms_conn *c, void *arg, ss_error *err);

/* Sends one batch and hands every row of every result to row (may be NULL). */
static ss_code ms_exec_once(ms_conn *c, const char *sql, ms_row_fn row, void *arg, ss_error *err)
{
    c->err_no = 0;
    c->err_msg[0] = '\0';
    bool failed = dbcmd(c->db, sql) != SUCCEED || dbsqlexec(c->db) != SUCCEED;
    ss_code rc = SS_OK;
    RETCODE r;
    while (!failed && (r = dbresults(c->db)) != NO_MORE_RESULTS) {
        if (r == FAIL) {
            failed = true;
            break;
        }
        STATUS st;
        while ((st = dbnextrow(c->db)) != NO_MORE_ROWS) {
            if (st == FAIL) {
                failed = true;
                break;
            }
            if (row && rc == SS_OK) rc = row(c, arg, err);
        }
    }
    if (failed || c->err_no) {
        if (!DBDEAD(c->db))
            dbcancel(c->db);
        else
            c->dead = true;
        return ms_fail(c, err);
    }
    return rc;
}

/* ms_exec_once, again after a short pause while SQL Server reports a transient error; only
 * for batches that are one transaction or read only. */
static ss_code ms_exec(ms_conn *c, const char *sql, ms_row_fn row, void *arg, ss_error *err)
{
    for (int attempt = 1;; attempt++) {
        ss_code rc = ms_exec_once(c, sql, row, arg, err);
        if (rc == SS_OK || attempt == MS_ATTEMPTS || c->dead || c->err_no <= 0 ||
            !ss_sqlserver_transient(c->err_no))
            return rc;
        struct timespec ts = {0, 100000000L * attempt};
        nanosleep(&ts, NULL);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                */
/* ------------------------------------------------------------------------------------------ */

static ss_code ms_connect(ss_sql *base, void **out, ss_error *err)
{
    ms_store *s = (ms_store *)base;
    pthread_once(&ms_once, ms_init);
    if (!ms_init_ok) return ss_error_set(err, SS_BACKEND, "freetds: dbinit failed");
    LOGINREC *login = dblogin();
    ms_conn *c = calloc(1, sizeof *c);
    if (!login || !c) {
        if (login) dbloginfree(login);
        free(c);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    if (s->conn.user) DBSETLUSER(login, s->conn.user);
    if (s->conn.password) DBSETLPWD(login, s->conn.password);
    DBSETLAPP(login, s->conn.app_name ? s->conn.app_name : "statestore");
    DBSETLCHARSET(login, "UTF-8");
    /* 7.4: NVARCHAR(MAX) arrives whole, not as a truncated TEXT. */
    DBSETLVERSION(login, DBVERSION_74);
    if (s->conn.database) DBSETLDBNAME(login, s->conn.database);
    if (s->conn.encrypt == 1) DBSETLENCRYPT(login, TRUE);
    ms_login_msg[0] = '\0';
    c->db = dbopen(login, s->server);
    dbloginfree(login);
    if (!c->db) {
        free(c);
        return ss_error_set(err, SS_UNAVAILABLE, "cannot connect to %s: %s", s->server,
                            ms_login_msg[0] ? ms_login_msg : "login failed");
    }
    dbsetuserdata(c->db, (BYTE *)c);
    *out = c;
    return SS_OK;
}

static void ms_disconnect(void *conn)
{
    ms_conn *c = conn;
    if (!c) return;
    dbclose(c->db);
    free(c);
}

static ss_pool_verdict ms_check(void *conn)
{
    ms_conn *c = conn;
    if (c->dead || DBDEAD(c->db)) return SS_POOL_DEAD;
    /* A client-side failure (a timeout) may have left a batch half read: not reused. */
    if (c->err_no < 0) return SS_POOL_DROP;
    return SS_POOL_KEEP;
}

static ss_code ms_exhausted(ss_sql *base, ss_error *err)
{
    (void)base;
    return ss_error_set(err, SS_TIMEOUT,
                        "no SQL Server connection free within timeout (raise maxConns or timeout)");
}

static ss_code ms_ping(ss_sql *base, void *conn, ss_error *err)
{
    (void)base;
    return ms_exec(conn, "SELECT 1;", NULL, NULL, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Reads                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* A value from the row's columns data_col ([Data]) and data_col + 1 ([RowVersion]). */
static ss_code ms_value(ms_conn *c, int data_col, ss_value **out, ss_error *err)
{
    char etag[SS_SQLSERVER_ETAG_LEN + 1] = "";
    if (dbdatlen(c->db, data_col + 1) == 8)
        ss_sqlserver_etag_text(dbdata(c->db, data_col + 1), etag);
    const BYTE *data = dbdata(c->db, data_col);
    DBINT len = dbdatlen(c->db, data_col);
    *out = ss_value_new(data ? (const void *)data : "", len > 0 ? (size_t)len : 0,
                        etag[0] ? etag : NULL);
    return *out ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
}

static ss_code ms_get_row(ms_conn *c, void *arg, ss_error *err)
{
    ss_value **out = arg;
    if (*out) return SS_OK; /* the primary key allows one */
    return ms_value(c, 1, out, err);
}

static ss_code ms_get(ss_sql *base, void *conn, const ss_op *op, ss_value **out, ss_error *err)
{
    ms_store *s = (ms_store *)base;
    char *sql;
    ss_code rc = ss_sqlserver_get_sql(&s->tsql, op, &sql, err);
    if (rc != SS_OK) return rc;
    rc = ms_exec(conn, sql, ms_get_row, out, err);
    free(sql);
    if (rc != SS_OK && *out) {
        ss_value_free(*out);
        *out = NULL;
    }
    return rc;
}

typedef struct ms_bget_args {
    size_t count;
    ss_results *out;
} ms_bget_args;

static ss_code ms_bulk_get_row(ms_conn *c, void *arg, ss_error *err)
{
    ms_bget_args *a = arg;
    DBINT idx = 0;
    if (dbconvert(c->db, dbcoltype(c->db, 1), dbdata(c->db, 1), dbdatlen(c->db, 1), SYBINT4,
                  (BYTE *)&idx, sizeof idx) < 0 ||
        idx < 0 || (size_t)idx >= a->count)
        return ss_error_set(err, SS_BACKEND, "sql server returned a row for no requested key");
    ss_item_result *it = &a->out->items[idx];
    if (it->value) return SS_OK;
    return ms_value(c, 2, &it->value, err);
}

static ss_code ms_bulk_get(ss_sql *base, void *conn, const ss_op *ops, size_t count,
                           const ss_sql_keys *keys, ss_results *out, ss_error *err)
{
    (void)keys; /* rows come back with their request index */
    ms_store *s = (ms_store *)base;
    char *sql;
    ss_code rc = ss_sqlserver_bulk_get_sql(&s->tsql, ops, count, &sql, err);
    if (rc != SS_OK) return rc;
    ms_bget_args a = {count, out};
    rc = ms_exec(conn, sql, ms_bulk_get_row, &a, err);
    free(sql);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Writes                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static ss_code ms_etag_row(ms_conn *c, void *arg, ss_error *err)
{
    (void)err;
    char *etag = arg;
    if (dbdatlen(c->db, 1) == 8) ss_sqlserver_etag_text(dbdata(c->db, 1), etag);
    return SS_OK;
}

/* A THROWn condition carries the index of the op that failed. */
static ss_code ms_write_fail(ms_conn *c, const ss_op *ops, size_t count, ss_code rc, ss_error *err)
{
    size_t i;
    if (c->err_no == SS_SQLSERVER_COND_ERROR && ss_sqlserver_cond_index(c->err_msg, &i) &&
        i < count) {
        if (count == 1) return ss_sql_cond_error(&ops[0], err);
        ss_error e;
        ss_code code = ss_sql_cond_error(&ops[i], &e);
        return ss_error_set_op(err, code, i, &ops[i], "%s", e.message);
    }
    if ((c->err_no == 2601 || c->err_no == 2627) && count == 1)
        return ss_sql_cond_error(&ops[0], err);
    return rc;
}

static ss_code ms_write(ss_sql *base, void *conn, const ss_op *op, char etag[SS_SQL_ETAG_SIZE],
                        ss_error *err)
{
    ms_store *s = (ms_store *)base;
    char *sql;
    ss_code rc = ss_sqlserver_write_sql(&s->tsql, SS_SQLSERVER_WRITE, op, 1, &sql, err);
    if (rc != SS_OK) return rc;
    rc = ms_exec(conn, sql, ms_etag_row, etag, err);
    free(sql);
    if (rc != SS_OK) return ms_write_fail(conn, op, 1, rc, err);
    return SS_OK;
}

static ss_code ms_transact(ss_sql *base, void *conn, const ss_op *ops, size_t count, ss_error *err)
{
    ms_store *s = (ms_store *)base;
    char *sql;
    ss_code rc = ss_sqlserver_write_sql(&s->tsql, SS_SQLSERVER_TX, ops, count, &sql, err);
    if (rc != SS_OK) return rc;
    rc = ms_exec(conn, sql, NULL, NULL, err);
    free(sql);
    if (rc != SS_OK) return ms_write_fail(conn, ops, count, rc, err);
    return SS_OK;
}

typedef struct ms_bwrite_args {
    const ss_op *ops;
    size_t count;
    ss_item_result *items;
} ms_bwrite_args;

/* Columns: index, error number, error message, new RowVersion. */
static ss_code ms_bulk_write_row(ms_conn *c, void *arg, ss_error *err)
{
    ms_bwrite_args *a = arg;
    DBINT idx = -1, number = 0;
    dbconvert(c->db, dbcoltype(c->db, 1), dbdata(c->db, 1), dbdatlen(c->db, 1), SYBINT4,
              (BYTE *)&idx, sizeof idx);
    if (idx < 0 || (size_t)idx >= a->count)
        return ss_error_set(err, SS_BACKEND, "sql server returned an outcome for no operation");
    if (dbdatlen(c->db, 2) > 0)
        dbconvert(c->db, dbcoltype(c->db, 2), dbdata(c->db, 2), dbdatlen(c->db, 2), SYBINT4,
                  (BYTE *)&number, sizeof number);
    ss_item_result *it = &a->items[idx];
    if (number == 0) {
        it->code = SS_OK;
        if (a->ops[idx].kind == SS_DRV_SET && dbdatlen(c->db, 4) == 8) {
            char etag[SS_SQLSERVER_ETAG_LEN + 1];
            ss_sqlserver_etag_text(dbdata(c->db, 4), etag);
            it->etag = ss_strdup(etag);
            if (!it->etag) return ss_error_set(err, SS_NOMEM, "out of memory");
        }
        return SS_OK;
    }
    ss_error e = {0};
    if (number == SS_SQLSERVER_COND_ERROR || number == 2601 || number == 2627) {
        ss_sql_cond_error(&a->ops[idx], &e);
    } else {
        DBINT n = dbdatlen(c->db, 3);
        ss_error_set(&e, ss_sqlserver_error_code(number), "sql server error %d: %.*s", (int)number,
                     n > 0 ? (int)n : 0, n > 0 ? (const char *)dbdata(c->db, 3) : "");
    }
    it->code = e.code;
    it->error = ss_strdup(e.message);
    return it->error ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
}

static ss_code ms_bulk_write(ss_sql *base, void *conn, const ss_op *ops, size_t count,
                             ss_item_result *items, ss_error *err)
{
    ms_store *s = (ms_store *)base;
    char *sql;
    ss_code rc = ss_sqlserver_write_sql(&s->tsql, SS_SQLSERVER_BULK, ops, count, &sql, err);
    if (rc != SS_OK) return rc;
    ms_bwrite_args a = {ops, count, items};
    /* Not repeated on a transient error: items committed before it would run twice. */
    rc = ms_exec_once(conn, sql, ms_bulk_write_row, &a, err);
    free(sql);
    return rc;
}

static ss_code ms_check_op(ss_sql *base, const ss_op *op, ss_error *err)
{
    return ss_sqlserver_check_op(&((ms_store *)base)->tsql, op, err);
}

static ss_code ms_sweep_row(ms_conn *c, void *arg, ss_error *err)
{
    (void)err;
    int64_t *removed = arg;
    DBBIGINT v = -1;
    dbconvert(c->db, dbcoltype(c->db, 1), dbdata(c->db, 1), dbdatlen(c->db, 1), SYBINT8, (BYTE *)&v,
              sizeof v);
    *removed = v;
    return SS_OK;
}

static ss_code ms_sweep(ss_sql *base, void *conn, int64_t *removed, ss_error *err)
{
    ms_store *s = (ms_store *)base;
    char *sql = ss_sqlserver_sweep_sql(&s->tsql, s->cleanup_ms);
    if (!sql) return ss_error_set(err, SS_NOMEM, "out of memory");
    *removed = -1;
    ss_code rc = ms_exec(conn, sql, ms_sweep_row, removed, err);
    free(sql);
    return rc;
}

static ss_code ms_migrate(ss_sql *base, void *conn, ss_error *err)
{
    ms_store *s = (ms_store *)base;
    char *sql = ss_sqlserver_migrate_sql(&s->tsql);
    if (!sql) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code rc = ms_exec(conn, sql, NULL, NULL, err);
    free(sql);
    return rc;
}

static const ss_sql_dialect ms_dialect = {
    .connect = ms_connect,
    .disconnect = ms_disconnect,
    .check = ms_check,
    .exhausted = ms_exhausted,
    .check_op = ms_check_op,
    .ping = ms_ping,
    .get = ms_get,
    .write = ms_write,
    .bulk_get = ms_bulk_get,
    .transact = ms_transact,
    .bulk_write = ms_bulk_write,
    .sweep = ms_sweep,
};

/* ------------------------------------------------------------------------------------------ */
/* Open / close                                                                               */
/* ------------------------------------------------------------------------------------------ */

static void ms_close(void *self)
{
    ms_store *s = self;
    ss_sql_stop(&s->base);
    ss_sqlserver_conn_free(&s->conn);
    ss_sqlserver_tsql_free(&s->tsql);
    free(s->server);
    memset(s, 0, sizeof *s);
}

static ss_code ms_open(void *self, ss_ctx *ctx, ss_error *err)
{
    ms_store *s = self;
    s->base.ctx = ctx;
    const char *conn, *table, *meta;
    ss_code rc = ss_sql_props(ctx, &conn, &table, &meta, err);
    if (rc != SS_OK) return rc;
    const char *schema = ss_prop(ctx, "schema");
    const char *key_type = ss_prop(ctx, "keyType");
    int64_t key_length = 200;
    const char *indexed = ss_prop(ctx, "indexedProperties");
    if (indexed && *indexed && strcmp(indexed, "[]") != 0)
        return ss_error_set(err, SS_UNSUPPORTED,
                            "property indexedProperties: not supported by this driver yet");
    if ((rc = ss_prop_int(ctx, "keyLength", 1, 4000, &key_length, err)) != SS_OK) return rc;
    s->timeout_ms = 20000;
    s->cleanup_ms = 3600000;
    s->max_conns = 8;
    if ((rc = ss_prop_duration_ms(ctx, "timeout", 1000, &s->timeout_ms, err)) != SS_OK ||
        (rc = ss_prop_duration_ms(ctx, "cleanupInterval", 1000, &s->cleanup_ms, err)) != SS_OK ||
        (rc = ss_prop_duration_ms(ctx, "connectionMaxIdleTime", 1000, &s->idle_ms, err)) != SS_OK ||
        (rc = ss_prop_int(ctx, "maxConns", 1, 10000, &s->max_conns, err)) != SS_OK)
        return rc;
    if (s->timeout_ms < 1000)
        return ss_error_set(err, SS_INVALID, "property timeout: must be at least 1s");
    if ((rc = ss_sqlserver_conn_parse(conn, &s->conn, err)) != SS_OK) return rc;
    if ((rc = ss_sqlserver_tsql_init(&s->tsql, schema ? schema : "dbo", table, meta,
                                     key_type ? key_type : "string", key_length, err)) != SS_OK) {
        ms_close(s);
        return rc;
    }
    if (s->conn.instance)
        s->server = ss_asprintf("%s\\%s", s->conn.host, s->conn.instance);
    else
        s->server = ss_asprintf("%s:%u", s->conn.host, s->conn.port ? s->conn.port : 1433u);
    if (!s->server) {
        ms_close(s);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    /* db-lib's timeouts are process-wide: the store opened last sets them. */
    int secs =
        (int)((s->conn.connect_timeout_ms ? s->conn.connect_timeout_ms : s->timeout_ms) / 1000);
    pthread_once(&ms_once, ms_init);
    dbsetlogintime(secs < 1 ? 1 : secs);
    dbsettime((int)(s->timeout_ms / 1000));

    ss_pool_config pool = {
        .max_open = s->max_conns,
        .max_idle = -1,
        .idle_ms = s->idle_ms,
        .wait_ms = s->timeout_ms,
    };
    if ((rc = ss_sql_start(&s->base, &ms_dialect, ctx, &pool, err)) != SS_OK ||
        (rc = ss_sql_ready(&s->base, s->cleanup_ms, ms_migrate, err)) != SS_OK)
        ms_close(s);
    return rc;
}

static const char *const ms_aliases[] = {"mssql", NULL};

static const ss_property ms_props[] = {
    {"connectionString", true, true, NULL,
     "ADO connection string (server=host,port;user id=..;password=..;database=..): may carry "
     "a password, never logged"},
    {"tableName", false, false, "state", "state table"},
    {"metadataTableName", false, false, "dapr_metadata", "table holding the last-cleanup time"},
    {"schema", false, false, "dbo", "schema of both tables (created if missing)"},
    {"keyType", false, false, "string", "type of the [Key] column: string, uuid or integer"},
    {"keyLength", false, false, "200", "length of a string [Key] column (NVARCHAR), 1..4000"},
    {"indexedProperties", false, false, NULL, "not supported yet: only empty is accepted"},
    {"cleanupInterval", false, false, "1h",
     "how often expired rows are deleted (one process at a time); 0 disables"},
    {"timeout", false, false, "20s", "login and query timeout (at least 1s)"},
    {"maxConns", false, false, "8", "most connections in the pool"},
    {"connectionMaxIdleTime", false, false, "0",
     "close pooled connections idle longer than this; 0 = never"},
};

const ss_driver ss_driver_sqlserver = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "sqlserver",
            .aliases = ms_aliases,
            .version = "v1",
            .summary = "SQL Server (FreeTDS db-lib), table layout of Dapr's sqlserver component",
            .features =
                {
                    .flags = SS_SQL_FEATURES,
                    .max_tx_ops = 0,
                    .max_key_len = 4000,
                    .max_value_len = 0,
                },
            .properties = ms_props,
            .property_count = sizeof ms_props / sizeof ms_props[0],
        },
    .instance_size = sizeof(ms_store),
    .open = ms_open,
    .close = ms_close,
    SS_SQL_DRIVER_SLOTS,
};

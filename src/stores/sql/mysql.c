/*
 * mysql.c — the MySQL / MariaDB driver (MariaDB Connector/C), with the columns of Dapr's mysql
 * state store (id, value, isbinary, insertDate, updateDate, eTag, expiredate) so a Dapr sidecar
 * and statestored can share one table.
 *
 * Two deliberate type differences in tables this driver creates (documented in
 * docs/stores/mysql.md): id is VARBINARY(255) (Dapr: VARCHAR(255) with a case-insensitive
 * collation, under which "Key" and "key" are the same row) and value is LONGBLOB (Dapr: JSON,
 * which MySQL normalises and MariaDB restricts to valid JSON — values must come back
 * byte-exact). Existing Dapr tables are used as they are, never altered.
 *
 * Every statement is prepared once per connection; bulk gets use one prepared IN (...) query
 * per size bucket; transactions and bulk writes run inside one SQL transaction.
 * The pool, retries, ETag checks and the sweep thread are the SQL drivers' common part (sql.c);
 * this file is the MySQL dialect: statements and Connector/C calls. The DSN parser is
 * mysql_dsn.c.
 */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include "statestore/driver.h"
#include "stores/sql/mysql_dsn.h"
#include "stores/sql/sql.h"
#include "support/strbuf.h"

#define MY_SCHEMA_VERSION 1
#define MY_MAX_KEY_LEN    255 /* the id column */
/* Expiry in Unix milliseconds (our DATETIME(3) column keeps milliseconds; Dapr's TIMESTAMP
 * whole seconds). Sessions run in UTC, so UNIX_TIMESTAMP reads DATETIME as UTC. */
#define MY_EXPIRY_MS "CAST(UNIX_TIMESTAMP(expiredate) * 1000 AS SIGNED)"

enum { ST_GET, ST_SET_ANY, ST_SET_ABSENT, ST_SET_MATCH, ST_DEL_ANY, ST_DEL_MATCH, ST_COUNT };

/* Bulk gets bind a fixed number of keys per prepared statement, padding with a repeat of the
 * last key, so a connection holds at most this many IN-list statements. */
static const size_t my_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define MY_NBUCKETS (sizeof my_buckets / sizeof my_buckets[0])
#define MY_BULK_MAX 256

typedef struct my_conn {
    MYSQL *m;
    MYSQL_STMT *st[ST_COUNT];
    MYSQL_STMT *bulk[MY_NBUCKETS];
    MYSQL_STMT *ups[MY_NBUCKETS];  /* multi-row unconditional upserts */
    MYSQL_STMT *dels[MY_NBUCKETS]; /* DELETE ... WHERE id IN (...) */
    bool broken;                   /* the server went away: never reuse */
} my_conn;

typedef struct my_store {
    ss_sql base; /* first: the instance is also the common part's (its pool holds my_conn) */
    ss_mysql_dsn dsn;
    char *pem;
    char *schema;
    char *table;
    char *meta_table;
    char *version_key;
    char *cleanup_key;
    char *sql[ST_COUNT];
    char *bulk_sql[MY_NBUCKETS];
    char *ups_sql[MY_NBUCKETS];
    char *dels_sql[MY_NBUCKETS];
    int64_t timeout_s;
    int64_t cleanup_s;
    int64_t max_open, max_idle;
    int64_t lifetime_ms, idle_ms;
    bool expiry_is_timestamp; /* expiredate is TIMESTAMP (Dapr) rather than DATETIME (ours) */
} my_store;

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* Identifiers go into SQL unquoted, as Dapr puts them, so only a safe alphabet is accepted. */
static bool my_valid_ident(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '_' || c == '$')) return false;
    }
    return !isdigit((unsigned char)s[0]) || strspn(s, "0123456789") != n;
}

static bool my_conn_lost(unsigned code)
{
    return code == CR_SERVER_GONE_ERROR || code == CR_SERVER_LOST || code == CR_CONNECTION_ERROR ||
           code == CR_CONN_HOST_ERROR || code == 2055 /* CR_SERVER_LOST_EXTENDED */ ||
           code == 2026 /* CR_SSL_CONNECTION_ERROR */ || code == ER_SERVER_SHUTDOWN ||
           code == 1927 /* ER_CONNECTION_KILLED */ || code == CR_COMMANDS_OUT_OF_SYNC;
}

static ss_code my_code_for(unsigned code)
{
    if (my_conn_lost(code) || code == ER_CON_COUNT_ERROR || code == 1213 /* deadlock */ ||
        code == 1040)
        return SS_UNAVAILABLE;
    if (code == 1205 /* lock wait */ || code == 1969 /* max_statement_time */ || code == 3024 ||
        code == 4031)
        return SS_TIMEOUT;
    if (code == ER_NET_PACKET_TOO_LARGE || code == 2020 /* CR_NET_PACKET_TOO_LARGE */)
        return SS_TOO_LARGE;
    if (code == 1366 || code == 1406 || code == 3140 /* invalid JSON (Dapr's JSON column) */ ||
        code == 4025 /* CHECK constraint, MariaDB's JSON */)
        return SS_INVALID;
    return SS_BACKEND;
}

static ss_code my_fail_code(my_conn *c, unsigned code, const char *msg, ss_error *err)
{
    if (my_conn_lost(code)) c->broken = true;
    if (!msg || !*msg) msg = "unknown MySQL client error";
    return ss_error_set(err, my_code_for(code), "%s (error %u)", msg, code);
}

static ss_code my_fail(my_conn *c, ss_error *err)
{
    return my_fail_code(c, mysql_errno(c->m), mysql_error(c->m), err);
}

static ss_code my_stmt_fail(my_conn *c, MYSQL_STMT *st, ss_error *err)
{
    return my_fail_code(c, mysql_stmt_errno(st), mysql_stmt_error(st), err);
}

/* Runs a text-protocol statement and discards any result. */
static ss_code my_query(my_conn *c, const char *sql, ss_error *err)
{
    if (mysql_real_query(c->m, sql, (unsigned long)strlen(sql)) != 0) return my_fail(c, err);
    MYSQL_RES *r = mysql_store_result(c->m);
    if (r)
        mysql_free_result(r);
    else if (mysql_field_count(c->m) != 0)
        return my_fail(c, err);
    return SS_OK;
}

/* Runs a query returning one value; *out gets a copy of the first column of the first row
 * (NULL when there is no row or it is NULL). */
static ss_code my_query_value(my_conn *c, const char *sql, char **out, ss_error *err)
{
    *out = NULL;
    if (mysql_real_query(c->m, sql, (unsigned long)strlen(sql)) != 0) return my_fail(c, err);
    MYSQL_RES *r = mysql_store_result(c->m);
    if (!r) return my_fail(c, err);
    MYSQL_ROW row = mysql_fetch_row(r);
    ss_code rc = SS_OK;
    if (row && row[0]) {
        *out = strdup(row[0]);
        if (!*out) rc = ss_error_set(err, SS_NOMEM, "out of memory");
    }
    mysql_free_result(r);
    return rc;
}

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

/* Dapr stores binary values as a JSON string of base64 with isbinary = 1; decodes that in
 * place. Returns false (data untouched) when it is not in that form. */
static bool my_unwrap_dapr_binary(char *data, size_t *len)
{
    size_t n = *len;
    if (n < 2 || data[0] != '"' || data[n - 1] != '"') return false;
    size_t out = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        int ch = (unsigned char)data[i];
        if (ch == '=') break;
        int v = b64val(ch);
        if (v < 0) return false;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            data[out++] = (char)((acc >> bits) & 0xff);
        }
    }
    data[out] = '\0';
    *len = out;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Connections and the pool                                                                   */
/* ------------------------------------------------------------------------------------------ */

static pthread_once_t my_lib_once = PTHREAD_ONCE_INIT;
static int my_lib_rc;

static void my_lib_init(void)
{
    my_lib_rc = mysql_library_init(0, NULL, NULL);
}

static void my_conn_free(my_conn *c)
{
    if (!c) return;
    for (int i = 0; i < ST_COUNT; i++)
        if (c->st[i]) mysql_stmt_close(c->st[i]);
    for (size_t i = 0; i < MY_NBUCKETS; i++) {
        if (c->bulk[i]) mysql_stmt_close(c->bulk[i]);
        if (c->ups[i]) mysql_stmt_close(c->ups[i]);
        if (c->dels[i]) mysql_stmt_close(c->dels[i]);
    }
    if (c->m) mysql_close(c->m);
    free(c);
}

static ss_code my_connect(my_store *s, const char *db, my_conn **out, ss_error *err)
{
    my_conn *c = calloc(1, sizeof *c);
    if (!c) return ss_error_set(err, SS_NOMEM, "out of memory");
    c->m = mysql_init(NULL);
    if (!c->m) {
        free(c);
        return ss_error_set(err, SS_NOMEM, "out of memory creating a MySQL connection");
    }
    unsigned ct =
        (unsigned)(s->dsn.connect_timeout_ms > 0 ? (s->dsn.connect_timeout_ms + 999) / 1000
                                                 : s->timeout_s);
    unsigned rt = (unsigned)(s->dsn.read_timeout_ms > 0 ? (s->dsn.read_timeout_ms + 999) / 1000
                                                        : s->timeout_s);
    unsigned wt = (unsigned)(s->dsn.write_timeout_ms > 0 ? (s->dsn.write_timeout_ms + 999) / 1000
                                                         : s->timeout_s);
    my_bool off = 0, on = 1;
    mysql_options(c->m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(c->m, MYSQL_OPT_READ_TIMEOUT, &rt);
    mysql_options(c->m, MYSQL_OPT_WRITE_TIMEOUT, &wt);
    /* Prepared statements do not survive an automatic reconnect: the pool replaces dead
     * connections instead. */
    mysql_options(c->m, MYSQL_OPT_RECONNECT, &off);
    mysql_options(c->m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (s->pem || s->dsn.tls == 1 || s->dsn.tls == 2) {
        if (s->pem) mysql_options(c->m, MYSQL_OPT_SSL_CA, s->pem);
        mysql_options(c->m, MYSQL_OPT_SSL_ENFORCE, &on);
        my_bool verify = s->dsn.tls == 2 ? 0 : 1;
        mysql_options(c->m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    } else if (s->dsn.tls == 0) {
        mysql_options(c->m, MYSQL_OPT_SSL_ENFORCE, &off);
    }
    if (!mysql_real_connect(c->m, s->dsn.host, s->dsn.user, s->dsn.pass, db, s->dsn.port,
                            s->dsn.socket, 0)) {
        ss_code rc = ss_error_set(err, SS_UNAVAILABLE, "%s (error %u)", mysql_error(c->m),
                                  mysql_errno(c->m));
        my_conn_free(c);
        return rc;
    }
    char sql[160];
    snprintf(sql, sizeof sql,
             "SET SESSION time_zone = '+00:00', SESSION innodb_lock_wait_timeout = %" PRId64,
             s->timeout_s);
    ss_code rc = my_query(c, sql, err);
    if (rc != SS_OK) {
        my_conn_free(c);
        return rc;
    }
    *out = c;
    return SS_OK;
}

static ss_code my_pool_open(ss_sql *base, void **conn, ss_error *err)
{
    my_store *s = (my_store *)base;
    my_conn *c = NULL;
    ss_code rc = my_connect(s, s->schema, &c, err);
    if (rc == SS_OK) *conn = c;
    return rc;
}

static void my_pool_close(void *conn)
{
    my_conn_free(conn);
}

static ss_pool_verdict my_pool_check(void *conn)
{
    const my_conn *c = conn;
    return c->broken ? SS_POOL_DEAD : SS_POOL_KEEP;
}

static ss_code my_pool_exhausted(ss_sql *base, ss_error *err)
{
    my_store *s = (my_store *)base;
    return ss_error_set(err, SS_TIMEOUT,
                        "no free connection within %" PRId64 " s (maxOpenConns %" PRId64 ")",
                        s->timeout_s, s->max_open);
}

static ss_code my_prepare(my_conn *c, MYSQL_STMT **slot, const char *sql, ss_error *err)
{
    if (*slot) return SS_OK;
    MYSQL_STMT *st = mysql_stmt_init(c->m);
    if (!st) return my_fail(c, err);
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) {
        ss_code rc = my_stmt_fail(c, st, err);
        mysql_stmt_close(st);
        return rc;
    }
    *slot = st;
    return SS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading rows                                                                               */
/* ------------------------------------------------------------------------------------------ */

typedef struct my_row {
    char id[MY_MAX_KEY_LEN + 1];
    unsigned long id_len;
    unsigned long value_len;
    my_bool value_null;
    char vbuf[2048]; /* most values arrive here in the fetch itself; longer ones are fetched
                        again at their size */
    signed char isbinary;
    char etag[64];
    unsigned long etag_len;
    my_bool etag_null;
    long long expires;
    my_bool expires_null;
    MYSQL_BIND b[5];
} my_row;

/* Binds (id,) value, isbinary, eTag, expires; with_id selects the bulk form. */
static void my_row_bind(my_row *r, bool with_id)
{
    memset(r->b, 0, sizeof r->b);
    int i = 0;
    if (with_id) {
        r->b[i].buffer_type = MYSQL_TYPE_BLOB;
        r->b[i].buffer = r->id;
        r->b[i].buffer_length = sizeof r->id;
        r->b[i].length = &r->id_len;
        i++;
    }
    r->b[i].buffer_type = MYSQL_TYPE_BLOB;
    r->b[i].buffer = r->vbuf;
    r->b[i].buffer_length = sizeof r->vbuf;
    r->b[i].length = &r->value_len;
    r->b[i].is_null = &r->value_null;
    i++;
    r->b[i].buffer_type = MYSQL_TYPE_TINY;
    r->b[i].buffer = &r->isbinary;
    i++;
    r->b[i].buffer_type = MYSQL_TYPE_STRING;
    r->b[i].buffer = r->etag;
    r->b[i].buffer_length = sizeof r->etag - 1;
    r->b[i].length = &r->etag_len;
    r->b[i].is_null = &r->etag_null;
    i++;
    r->b[i].buffer_type = MYSQL_TYPE_LONGLONG;
    r->b[i].buffer = &r->expires;
    r->b[i].is_null = &r->expires_null;
}

/* Builds the value of the current row (the value column is fetched separately, at its size). */
static ss_code my_row_value(MYSQL_STMT *st, my_row *r, unsigned value_col, ss_value **out,
                            ss_error *err)
{
    size_t len = r->value_null ? 0 : r->value_len;
    char *buf = malloc(len + 1);
    if (!buf) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (len > 0 && len <= sizeof r->vbuf) {
        memcpy(buf, r->vbuf, len);
    } else if (len > 0) {
        MYSQL_BIND vb;
        unsigned long got = 0;
        memset(&vb, 0, sizeof vb);
        vb.buffer_type = MYSQL_TYPE_BLOB;
        vb.buffer = buf;
        vb.buffer_length = len;
        vb.length = &got;
        if (mysql_stmt_fetch_column(st, &vb, value_col, 0) != 0) {
            free(buf);
            return ss_error_set(err, SS_BACKEND, "%s", mysql_stmt_error(st));
        }
    }
    buf[len] = '\0';
    if (r->isbinary) my_unwrap_dapr_binary(buf, &len);
    size_t el =
        r->etag_null ? 0 : (r->etag_len < sizeof r->etag ? r->etag_len : sizeof r->etag - 1);
    r->etag[el] = '\0';
    ss_value *v = ss_value_new(buf, len, r->etag_null ? NULL : r->etag);
    free(buf);
    if (!v) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (!r->expires_null && ss_value_set_expiry(v, (int64_t)r->expires) != SS_OK) {
        ss_value_free(v);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    *out = v;
    return SS_OK;
}

static void my_bind_blob(MYSQL_BIND *b, const void *p, unsigned long *len)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_BLOB;
    b->buffer = (void *)p;
    b->buffer_length = *len;
    b->length = len;
}

static void my_bind_str(MYSQL_BIND *b, const char *p, unsigned long *len)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = (void *)p;
    b->buffer_length = *len;
    b->length = len;
}

static void my_bind_ll(MYSQL_BIND *b, long long *v)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = v;
}

/* ------------------------------------------------------------------------------------------ */
/* Single operations                                                                          */
/* ------------------------------------------------------------------------------------------ */

static ss_code my_get(ss_sql *base, void *conn, const ss_op *op, ss_value **out, ss_error *err)
{
    my_store *s = (my_store *)base;
    my_conn *c = conn;
    ss_code rc = my_prepare(c, &c->st[ST_GET], s->sql[ST_GET], err);
    if (rc != SS_OK) return rc;
    MYSQL_STMT *st = c->st[ST_GET];
    unsigned long klen = (unsigned long)op->key_len;
    MYSQL_BIND p[1];
    my_bind_blob(&p[0], op->key, &klen);
    my_row r;
    my_row_bind(&r, false);
    if (mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0 ||
        mysql_stmt_bind_result(st, r.b) != 0 || mysql_stmt_store_result(st) != 0)
        return my_stmt_fail(c, st, err);
    int f = mysql_stmt_fetch(st);
    if (f == 0 || f == MYSQL_DATA_TRUNCATED)
        rc = my_row_value(st, &r, 0, out, err);
    else if (f != MYSQL_NO_DATA)
        rc = my_stmt_fail(c, st, err);
    mysql_stmt_free_result(st);
    return rc;
}

/* One write statement. On success the condition held; etag receives the new ETag of a set. */
static ss_code my_write(ss_sql *base, void *conn, const ss_op *op, char etag[SS_SQL_ETAG_SIZE],
                        ss_error *err)
{
    my_store *s = (my_store *)base;
    my_conn *c = conn;
    int which;
    if (op->kind == SS_DRV_SET)
        which = op->cond == SS_COND_MATCH    ? ST_SET_MATCH
                : op->cond == SS_COND_ABSENT ? ST_SET_ABSENT
                                             : ST_SET_ANY;
    else
        which = op->cond == SS_COND_MATCH ? ST_DEL_MATCH : ST_DEL_ANY;
    ss_code rc = my_prepare(c, &c->st[which], s->sql[which], err);
    if (rc != SS_OK) return rc;
    MYSQL_STMT *st = c->st[which];

    unsigned long klen = (unsigned long)op->key_len;
    unsigned long vlen = (unsigned long)op->value_len;
    unsigned long elen = 36;
    unsigned long olen = op->etag ? (unsigned long)strlen(op->etag) : 0;
    long long ttl = op->ttl_mode == SS_TTL_SECONDS ? (long long)op->ttl_seconds : 0;
    MYSQL_BIND p[6];
    if (op->kind == SS_DRV_SET) ss_uuid4(etag);
    switch (which) {
    case ST_SET_ANY:
    case ST_SET_ABSENT:
        my_bind_blob(&p[0], op->key, &klen);
        my_bind_blob(&p[1], op->value, &vlen);
        my_bind_str(&p[2], etag, &elen);
        my_bind_ll(&p[3], &ttl);
        my_bind_ll(&p[4], &ttl);
        break;
    case ST_SET_MATCH:
        my_bind_blob(&p[0], op->value, &vlen);
        my_bind_str(&p[1], etag, &elen);
        my_bind_ll(&p[2], &ttl);
        my_bind_ll(&p[3], &ttl);
        my_bind_blob(&p[4], op->key, &klen);
        my_bind_str(&p[5], op->etag, &olen);
        break;
    case ST_DEL_ANY:
        my_bind_blob(&p[0], op->key, &klen);
        break;
    default:
        my_bind_blob(&p[0], op->key, &klen);
        my_bind_str(&p[1], op->etag, &olen);
        break;
    }
    if (mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0)
        return my_stmt_fail(c, st, err);
    /* No CLIENT_FOUND_ROWS: an ON DUPLICATE KEY UPDATE that changed nothing (first-write on a
     * live row) reports 0. Every real write changes eTag, so it always reports >= 1. */
    my_ulonglong rows = mysql_stmt_affected_rows(st);
    if (!ss_sql_cond_met(op, rows == (my_ulonglong)-1 ? -1 : (int64_t)rows))
        return ss_sql_cond_error(op, err);
    return SS_OK;
}

static ss_code my_ping(ss_sql *s, void *conn, ss_error *err)
{
    (void)s;
    my_conn *c = conn;
    ss_code rc = mysql_ping(c->m) == 0 ? SS_OK : my_fail(c, err);
    if (rc != SS_OK) c->broken = true;
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Bulk get                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* One IN (...) query for ops[0..n) (n <= MY_BULK_MAX); fills the items of matching keys. */
static ss_code my_bulk_get_chunk(my_store *s, my_conn *c, const ss_op *ops, size_t n,
                                 const ss_sql_keys *keys, ss_results *out, ss_error *err)
{
    size_t b = 0;
    while (my_buckets[b] < n) b++;
    size_t width = my_buckets[b];
    ss_code rc = my_prepare(c, &c->bulk[b], s->bulk_sql[b], err);
    if (rc != SS_OK) return rc;
    MYSQL_STMT *st = c->bulk[b];
    MYSQL_BIND p[MY_BULK_MAX];
    unsigned long lens[MY_BULK_MAX];
    for (size_t i = 0; i < width; i++) {
        const ss_op *o = &ops[i < n ? i : n - 1];
        lens[i] = (unsigned long)o->key_len;
        my_bind_blob(&p[i], o->key, &lens[i]);
    }
    my_row r;
    my_row_bind(&r, true);
    if (mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0 ||
        mysql_stmt_bind_result(st, r.b) != 0 || mysql_stmt_store_result(st) != 0)
        return my_stmt_fail(c, st, err);
    for (;;) {
        int f = mysql_stmt_fetch(st);
        if (f == MYSQL_NO_DATA) break;
        if (f != 0 && f != MYSQL_DATA_TRUNCATED) {
            rc = my_stmt_fail(c, st, err);
            break;
        }
        size_t len = r.id_len < sizeof r.id ? r.id_len : sizeof r.id - 1, i;
        for (size_t k = ss_sql_keys_lower(keys, r.id, len); ss_sql_keys_at(keys, k, r.id, len, &i);
             k++) {
            ss_item_result *it = &out->items[i];
            if (it->value) continue;
            rc = my_row_value(st, &r, 1, &it->value, err);
            if (rc != SS_OK) break;
        }
        if (rc != SS_OK) break;
    }
    mysql_stmt_free_result(st);
    return rc;
}

static ss_code my_bulk_get(ss_sql *base, void *conn, const ss_op *ops, size_t count,
                           const ss_sql_keys *keys, ss_results *out, ss_error *err)
{
    my_store *s = (my_store *)base;
    ss_code rc = SS_OK;
    for (size_t off = 0; off < count && rc == SS_OK; off += MY_BULK_MAX) {
        size_t n = count - off < MY_BULK_MAX ? count - off : MY_BULK_MAX;
        rc = my_bulk_get_chunk(s, conn, ops + off, n, keys, out, err);
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Transactions and bulk writes                                                               */
/* ------------------------------------------------------------------------------------------ */

/* Unconditional sets (del false) or deletes (del true) of the items idx[0..n), as multi-row
 * prepared statements: one round trip per MY_BULK_MAX items. Unused rows of a bucket repeat
 * the last item, which writes (or deletes) the same row again: a no-op. */
static ss_code my_batch(my_store *s, my_conn *c, const ss_op *ops, const size_t *idx, size_t n,
                        char (*etags)[SS_SQL_ETAG_SIZE], bool del, ss_error *err)
{
    size_t per = del ? 1 : 5;
    MYSQL_BIND *p = malloc(MY_BULK_MAX * per * sizeof *p);
    unsigned long *lens = malloc(MY_BULK_MAX * 3 * sizeof *lens);
    long long *ttls = malloc(MY_BULK_MAX * sizeof *ttls);
    ss_code rc = SS_OK;
    if (!p || !lens || !ttls) rc = ss_error_set(err, SS_NOMEM, "out of memory");
    for (size_t off = 0; rc == SS_OK && off < n; off += MY_BULK_MAX) {
        size_t m = n - off < MY_BULK_MAX ? n - off : MY_BULK_MAX;
        size_t b = 0;
        while (my_buckets[b] < m) b++;
        size_t width = my_buckets[b];
        MYSQL_STMT **slot = del ? &c->dels[b] : &c->ups[b];
        rc = my_prepare(c, slot, del ? s->dels_sql[b] : s->ups_sql[b], err);
        if (rc != SS_OK) break;
        for (size_t r = 0; r < width; r++) {
            size_t i = idx[off + (r < m ? r : m - 1)];
            const ss_op *op = &ops[i];
            MYSQL_BIND *row = &p[r * per];
            lens[3 * r] = (unsigned long)op->key_len;
            my_bind_blob(&row[0], op->key, &lens[3 * r]);
            if (del) continue;
            if (r < m) ss_uuid4(etags[i]);
            lens[3 * r + 1] = (unsigned long)op->value_len;
            my_bind_blob(&row[1], op->value, &lens[3 * r + 1]);
            lens[3 * r + 2] = 36;
            my_bind_str(&row[2], etags[i], &lens[3 * r + 2]);
            ttls[r] = op->ttl_mode == SS_TTL_SECONDS ? (long long)op->ttl_seconds : 0;
            my_bind_ll(&row[3], &ttls[r]);
            my_bind_ll(&row[4], &ttls[r]);
        }
        if (mysql_stmt_bind_param(*slot, p) != 0 || mysql_stmt_execute(*slot) != 0)
            rc = my_stmt_fail(c, *slot, err);
    }
    free(p);
    free(lens);
    free(ttls);
    return rc;
}

/* One attempt at a transaction; batch sends the unconditional ops as multi-row statements
 * (only when no key repeats: ops on distinct keys commute, so the order still holds). */
static ss_code my_transact_once(my_store *s, my_conn *c, const ss_op *ops, size_t count, bool batch,
                                char (*etags)[SS_SQL_ETAG_SIZE], size_t *idx, bool *batch_failed,
                                ss_error *err)
{
    *batch_failed = false;
    ss_code rc = my_query(c, "START TRANSACTION", err);
    size_t nsets = 0;
    for (size_t i = 0; rc == SS_OK && i < count; i++) {
        if (batch && ops[i].cond == SS_COND_ANY && ops[i].kind == SS_DRV_SET) {
            idx[nsets++] = i;
            continue;
        }
        ss_error e;
        rc = my_write(&s->base, c, &ops[i], etags[i], &e);
        if (rc != SS_OK) ss_error_set_op(err, rc, i, &ops[i], "%s", e.message);
    }
    if (rc == SS_OK && nsets) {
        rc = my_batch(s, c, ops, idx, nsets, etags, false, err);
        *batch_failed = rc != SS_OK;
    }
    if (rc == SS_OK) {
        rc = my_query(c, "COMMIT", err);
    } else if (!c->broken) {
        ss_error ignored;
        if (my_query(c, "ROLLBACK", &ignored) != SS_OK) c->broken = true;
    }
    return rc;
}

static ss_code my_transact(ss_sql *base, void *conn, const ss_op *ops, size_t count, ss_error *err)
{
    my_store *s = (my_store *)base;
    my_conn *c = conn;
    char (*etags)[SS_SQL_ETAG_SIZE] = calloc(count, sizeof *etags);
    size_t *idx = malloc(count * sizeof *idx);
    ss_code rc = SS_OK;
    if (!etags || !idx) {
        rc = ss_error_set(err, SS_NOMEM, "out of memory");
    } else {
        bool batch_failed;
        rc = my_transact_once(s, c, ops, count, count > 1 && !ss_sql_has_duplicate_keys(ops, count),
                              etags, idx, &batch_failed, err);
        /* A multi-row statement cannot say which key failed: run again op by op to name it. */
        if (rc != SS_OK && batch_failed && !c->broken)
            rc = my_transact_once(s, c, ops, count, false, etags, idx, &batch_failed, err);
    }
    free(etags);
    free(idx);
    return rc;
}

/* Not atomic per Dapr, but run inside one transaction (one commit). Unconditional sets and
 * deletes go as multi-row statements (when no key repeats, so order cannot matter); items with
 * a condition run one by one, and a mismatch only marks its item. Any other statement error
 * may have rolled back the transaction (a deadlock does), so then everything is rolled back
 * and every item run again on its own, each getting its own outcome. */
static ss_code my_bulk_write(ss_sql *base, void *conn, const ss_op *ops, size_t count,
                             ss_item_result *items, ss_error *err)
{
    my_store *s = (my_store *)base;
    my_conn *c = conn;
    char (*etags)[SS_SQL_ETAG_SIZE] = calloc(count, sizeof *etags);
    ss_code *codes = calloc(count, sizeof *codes);
    size_t *sets = malloc(count * sizeof *sets), *dels = malloc(count * sizeof *dels);
    if (!etags || !codes || !sets || !dels) {
        free(etags);
        free(codes);
        free(sets);
        free(dels);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    bool batch = !ss_sql_has_duplicate_keys(ops, count);
    ss_error e;
    bool redo = false;
    ss_code rc = my_query(c, "START TRANSACTION", err);
    size_t nsets = 0, ndels = 0;
    for (size_t i = 0; rc == SS_OK && i < count; i++) {
        if (batch && ops[i].cond == SS_COND_ANY) {
            if (ops[i].kind == SS_DRV_SET)
                sets[nsets++] = i;
            else
                dels[ndels++] = i;
            continue;
        }
        codes[i] = my_write(base, c, &ops[i], etags[i], &e);
        if (codes[i] != SS_OK) {
            if (codes[i] != SS_ETAG_MISMATCH) {
                redo = true;
                break;
            }
            items[i].code = codes[i];
            items[i].error = ss_strdup(e.message);
        }
    }
    if (rc == SS_OK && !redo && nsets &&
        my_batch(s, c, ops, sets, nsets, etags, false, &e) != SS_OK)
        redo = true;
    if (rc == SS_OK && !redo && ndels && my_batch(s, c, ops, dels, ndels, etags, true, &e) != SS_OK)
        redo = true;
    if (rc == SS_OK && !redo && my_query(c, "COMMIT", &e) != SS_OK) redo = true;
    if (rc == SS_OK && c->broken) {
        rc = ss_error_set(err, SS_UNAVAILABLE, "%s", e.message);
    } else if (rc == SS_OK && redo) {
        ss_error ignored;
        my_query(c, "ROLLBACK", &ignored);
        for (size_t i = 0; i < count; i++) {
            ss_item_result *it = &items[i];
            free(it->error);
            it->error = NULL;
            it->code = my_write(base, c, &ops[i], etags[i], &e);
            if (it->code != SS_OK)
                it->error = ss_strdup(e.message);
            else if (ops[i].kind == SS_DRV_SET)
                it->etag = ss_strdup(etags[i]);
        }
    } else if (rc == SS_OK) {
        for (size_t i = 0; i < count; i++)
            if (codes[i] == SS_OK && ops[i].kind == SS_DRV_SET) items[i].etag = ss_strdup(etags[i]);
    }
    free(etags);
    free(codes);
    free(sets);
    free(dels);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Schema                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static ss_code my_verify_layout(my_store *s, my_conn *c, ss_error *err)
{
    static const char *const want[] = {"id", "value", "isbinary", "eTag", "expiredate"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *sql = ss_asprintf("SELECT DATA_TYPE FROM information_schema.columns WHERE "
                                "table_schema = '%s' AND table_name = '%s' AND column_name = '%s'",
                                s->schema, s->table, want[i]);
        if (!sql) return ss_error_set(err, SS_NOMEM, "out of memory");
        char *type = NULL;
        ss_code rc = my_query_value(c, sql, &type, err);
        free(sql);
        if (rc != SS_OK) return rc;
        if (!type)
            return ss_error_set(err, SS_INVALID,
                                "table %s.%s exists without column %s: not a Dapr mysql state "
                                "table (or one older than Dapr 1.11); refusing to use or alter it",
                                s->schema, s->table, want[i]);
        if (strcmp(want[i], "expiredate") == 0)
            s->expiry_is_timestamp = strcmp(type, "timestamp") == 0;
        if (strcmp(want[i], "value") == 0 &&
            (strcmp(type, "json") == 0 || strcmp(type, "longtext") == 0))
            ss_log(s->base.ctx, SS_LOG_WARN,
                   "table %s.%s has a JSON value column (created by Dapr): values that are not "
                   "valid JSON are refused by the database, and MySQL may reformat JSON",
                   s->schema, s->table);
        free(type);
    }
    return SS_OK;
}

static ss_code my_migrate_locked(my_store *s, my_conn *c, ss_error *err)
{
    char *sql = ss_asprintf("CREATE TABLE IF NOT EXISTS %s (id VARCHAR(255) NOT NULL PRIMARY "
                            "KEY, value TEXT NOT NULL)",
                            s->meta_table);
    if (!sql) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code rc = my_query(c, sql, err);
    free(sql);
    if (rc != SS_OK) return rc;

    char *ver = NULL;
    sql = ss_asprintf("SELECT value FROM %s WHERE id = '%s'", s->meta_table, s->version_key);
    if (!sql) return ss_error_set(err, SS_NOMEM, "out of memory");
    rc = my_query_value(c, sql, &ver, err);
    free(sql);
    if (rc != SS_OK) return rc;
    long version = 0;
    if (ver) {
        char *end;
        version = strtol(ver, &end, 10);
        if (*end || version < 0) version = -1;
        free(ver);
    }
    if (version < 0 || version > MY_SCHEMA_VERSION)
        return ss_error_set(err, SS_INVALID,
                            "table %s.%s: schema version recorded in %s (id %s) is newer than or "
                            "unknown to this driver (which knows %d); refusing to touch it",
                            s->schema, s->table, s->meta_table, s->version_key, MY_SCHEMA_VERSION);
    if (version == MY_SCHEMA_VERSION) return my_verify_layout(s, c, err);

    char *exists = NULL;
    sql = ss_asprintf("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '%s' "
                      "AND table_name = '%s'",
                      s->schema, s->table);
    if (!sql) return ss_error_set(err, SS_NOMEM, "out of memory");
    rc = my_query_value(c, sql, &exists, err);
    free(sql);
    if (rc != SS_OK) return rc;
    bool have = exists && strcmp(exists, "0") != 0;
    free(exists);
    if (have) {
        rc = my_verify_layout(s, c, err);
    } else {
        ss_log(s->base.ctx, SS_LOG_INFO, "creating state table %s.%s", s->schema, s->table);
        sql = ss_asprintf("CREATE TABLE %s (\n"
                          "  id VARBINARY(255) NOT NULL PRIMARY KEY,\n"
                          "  value LONGBLOB NOT NULL,\n"
                          "  isbinary BOOLEAN NOT NULL,\n"
                          "  insertDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,\n"
                          "  updateDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE "
                          "CURRENT_TIMESTAMP,\n"
                          "  eTag VARCHAR(36) NOT NULL,\n"
                          "  expiredate DATETIME(3) NULL,\n"
                          "  INDEX expiredate_idx(expiredate)\n"
                          ")",
                          s->table);
        if (!sql) return ss_error_set(err, SS_NOMEM, "out of memory");
        rc = my_query(c, sql, err);
        free(sql);
    }
    if (rc != SS_OK) return rc;
    sql = ss_asprintf("INSERT INTO %s (id, value) VALUES ('%s', '%d') ON DUPLICATE KEY UPDATE "
                      "value = VALUES(value)",
                      s->meta_table, s->version_key, MY_SCHEMA_VERSION);
    if (!sql) return ss_error_set(err, SS_NOMEM, "out of memory");
    rc = my_query(c, sql, err);
    free(sql);
    return rc;
}

/* Creates the schema and tables on first use, under a named lock so that two processes
 * starting together do not race. */
static ss_code my_migrate(my_store *s, ss_error *err)
{
    my_conn *c = NULL;
    ss_code rc = my_connect(s, NULL, &c, err);
    if (rc != SS_OK) return rc;
    char *sql = ss_asprintf("CREATE DATABASE IF NOT EXISTS %s", s->schema);
    rc = sql ? my_query(c, sql, err) : ss_error_set(err, SS_NOMEM, "out of memory");
    free(sql);
    if (rc == SS_OK && mysql_select_db(c->m, s->schema) != 0) rc = my_fail(c, err);
    char *got = NULL;
    if (rc == SS_OK) {
        sql = ss_asprintf("SELECT GET_LOCK('statestore:%s.%s', %" PRId64 ")", s->schema, s->table,
                          s->timeout_s);
        rc = sql ? my_query_value(c, sql, &got, err) : ss_error_set(err, SS_NOMEM, "out of memory");
        free(sql);
        if (rc == SS_OK && (!got || strcmp(got, "1") != 0))
            rc = ss_error_set(err, SS_TIMEOUT,
                              "another process held the schema lock for %s.%s longer than %" PRId64
                              " s",
                              s->schema, s->table, s->timeout_s);
        if (rc == SS_OK) {
            rc = my_migrate_locked(s, c, err);
            sql = ss_asprintf("DO RELEASE_LOCK('statestore:%s.%s')", s->schema, s->table);
            ss_error ignored;
            if (sql) my_query(c, sql, &ignored);
            free(sql);
        }
    }
    free(got);
    my_conn_free(c);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Expired-row sweep                                                                          */
/* ------------------------------------------------------------------------------------------ */

static ss_code my_sweep(ss_sql *base, void *conn, int64_t *removed, ss_error *err)
{
    my_store *s = (my_store *)base;
    my_conn *c = conn;
    /* One process per interval wins this conditional update (as Dapr does). */
    int64_t ms = s->cleanup_s * 1000 - 100;
    char *sql = ss_asprintf("INSERT INTO %s (id, value) VALUES ('%s', CURRENT_TIMESTAMP) ON "
                            "DUPLICATE KEY UPDATE value = IF(CURRENT_TIMESTAMP > DATE_ADD(value, "
                            "INTERVAL %" PRId64 "*1000 MICROSECOND), CURRENT_TIMESTAMP, value)",
                            s->meta_table, s->cleanup_key, ms);
    ss_code rc = sql ? my_query(c, sql, err) : ss_error_set(err, SS_NOMEM, "out of memory");
    free(sql);
    if (rc == SS_OK && mysql_affected_rows(c->m) > 0) {
        sql = ss_asprintf(
            "DELETE FROM %s WHERE expiredate IS NOT NULL AND expiredate <= CURRENT_TIMESTAMP(3)",
            s->table);
        rc = sql ? my_query(c, sql, err) : ss_error_set(err, SS_NOMEM, "out of memory");
        free(sql);
        if (rc == SS_OK) *removed = (int64_t)mysql_affected_rows(c->m);
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Open / close                                                                               */
/* ------------------------------------------------------------------------------------------ */

static void my_close(void *self)
{
    my_store *s = self;
    ss_sql_stop(&s->base);
    for (int i = 0; i < ST_COUNT; i++) free(s->sql[i]);
    for (size_t i = 0; i < MY_NBUCKETS; i++) {
        free(s->bulk_sql[i]);
        free(s->ups_sql[i]);
        free(s->dels_sql[i]);
    }
    ss_mysql_dsn_free(&s->dsn);
    free(s->pem);
    free(s->schema);
    free(s->table);
    free(s->meta_table);
    free(s->version_key);
    free(s->cleanup_key);
    memset(s, 0, sizeof *s);
}

static ss_code my_build_sql(my_store *s)
{
    const char *t = s->table;
    const char *live = "(expiredate IS NULL OR expiredate > CURRENT_TIMESTAMP(3))";
    /* A TIMESTAMP column (Dapr's tables) ends at 2038-01-19 03:14:07 UTC: later expiry times
     * are clamped to it there. Tables this driver creates use DATETIME, holding UTC. */
    const char *exp = s->expiry_is_timestamp
                          ? "IF(? > 0, LEAST(DATE_ADD(CURRENT_TIMESTAMP(3), INTERVAL ? SECOND), "
                            "FROM_UNIXTIME(2147483647)), NULL)"
                          : "IF(? > 0, DATE_ADD(CURRENT_TIMESTAMP(3), INTERVAL ? SECOND), NULL)";
    const char *expired = "(expiredate IS NOT NULL AND expiredate <= CURRENT_TIMESTAMP(3))";
    s->sql[ST_GET] = ss_asprintf("SELECT value, isbinary, eTag, " MY_EXPIRY_MS " FROM "
                                 "%s WHERE id = ? AND %s",
                                 t, live);
    s->sql[ST_SET_ANY] = ss_asprintf(
        "INSERT INTO %s (id, value, isbinary, eTag, expiredate) VALUES (?, ?, 0, ?, %s) "
        "ON DUPLICATE KEY UPDATE value = VALUES(value), isbinary = VALUES(isbinary), "
        "eTag = VALUES(eTag), expiredate = VALUES(expiredate)",
        t, exp);
    /* First-write replaces only an expired row not yet swept. Assignments run left to right
     * and later ones see earlier results, so expiredate, which the condition reads, is last. */
    s->sql[ST_SET_ABSENT] = ss_asprintf(
        "INSERT INTO %s (id, value, isbinary, eTag, expiredate) VALUES (?, ?, 0, ?, %s) "
        "ON DUPLICATE KEY UPDATE value = IF(%s, VALUES(value), value), "
        "isbinary = IF(%s, VALUES(isbinary), isbinary), eTag = IF(%s, VALUES(eTag), eTag), "
        "expiredate = IF(%s, VALUES(expiredate), expiredate)",
        t, exp, expired, expired, expired, expired);
    s->sql[ST_SET_MATCH] = ss_asprintf("UPDATE %s SET value = ?, isbinary = 0, eTag = ?, "
                                       "expiredate = %s WHERE id = ? AND eTag = ? AND %s",
                                       t, exp, live);
    s->sql[ST_DEL_ANY] = ss_asprintf("DELETE FROM %s WHERE id = ?", t);
    s->sql[ST_DEL_MATCH] = ss_asprintf("DELETE FROM %s WHERE id = ? AND eTag = ? AND %s", t, live);
    for (int i = 0; i < ST_COUNT; i++)
        if (!s->sql[i]) return SS_NOMEM;
    for (size_t b = 0; b < MY_NBUCKETS; b++) {
        size_t n = my_buckets[b];
        char *marks = malloc(2 * n);
        if (!marks) return SS_NOMEM;
        for (size_t i = 0; i < n; i++) {
            marks[2 * i] = '?';
            marks[2 * i + 1] = i + 1 < n ? ',' : '\0';
        }
        s->bulk_sql[b] = ss_asprintf("SELECT id, value, isbinary, eTag, " MY_EXPIRY_MS
                                     " FROM %s WHERE id IN (%s) AND %s",
                                     t, marks, live);
        s->dels_sql[b] = ss_asprintf("DELETE FROM %s WHERE id IN (%s)", t, marks);
        free(marks);
        if (!s->bulk_sql[b] || !s->dels_sql[b]) return SS_NOMEM;
        /* one "(?, ?, 0, ?, <expiry>)" per row */
        size_t rowlen = strlen(exp) + 16;
        char *rows = malloc(n * (rowlen + 1) + 1);
        if (!rows) return SS_NOMEM;
        char *q = rows;
        for (size_t i = 0; i < n; i++) q += sprintf(q, "%s(?, ?, 0, ?, %s)", i ? "," : "", exp);
        s->ups_sql[b] = ss_asprintf(
            "INSERT INTO %s (id, value, isbinary, eTag, expiredate) VALUES %s "
            "ON DUPLICATE KEY UPDATE value = VALUES(value), isbinary = VALUES(isbinary), "
            "eTag = VALUES(eTag), expiredate = VALUES(expiredate)",
            t, rows);
        free(rows);
        if (!s->ups_sql[b]) return SS_NOMEM;
    }
    return SS_OK;
}

/* Prepares the common statements on the first connection, so a table the statements do not
 * fit fails open. */
static ss_code my_prepare_common(ss_sql *base, void *conn, ss_error *err)
{
    my_store *s = (my_store *)base;
    my_conn *c = conn;
    ss_code rc = SS_OK;
    for (int i = 0; rc == SS_OK && i < ST_COUNT; i++) rc = my_prepare(c, &c->st[i], s->sql[i], err);
    return rc;
}

static const ss_sql_dialect my_dialect = {
    .connect = my_pool_open,
    .disconnect = my_pool_close,
    .check = my_pool_check,
    .exhausted = my_pool_exhausted,
    .ping = my_ping,
    .get = my_get,
    .write = my_write,
    .bulk_get = my_bulk_get,
    .transact = my_transact,
    .bulk_write = my_bulk_write,
    .sweep = my_sweep,
};

static ss_code my_open(void *self, ss_ctx *ctx, ss_error *err)
{
    my_store *s = self;
    s->base.ctx = ctx;
    const char *dsn, *table, *meta;
    const char *schema = ss_prop(ctx, "schemaName");
    const char *pem = ss_prop(ctx, "pemPath");
    ss_code rc = ss_sql_props(ctx, &dsn, &table, &meta, err);
    if (rc != SS_OK) return rc;
    if (!schema || !*schema) schema = "dapr_state_store";
    if (!my_valid_ident(table))
        return ss_error_set(err, SS_INVALID,
                            "property tableName: \"%s\" is not a valid table name (letters, "
                            "digits, _ and $)",
                            table);
    if (!my_valid_ident(meta))
        return ss_error_set(err, SS_INVALID,
                            "property metadataTableName: \"%s\" is not a valid table name", meta);
    if (!my_valid_ident(schema))
        return ss_error_set(err, SS_INVALID,
                            "property schemaName: \"%s\" is not a valid schema name", schema);

    s->timeout_s = 20;
    s->cleanup_s = 3600;
    s->max_open = 8;
    s->max_idle = 2;
    if ((rc = ss_prop_int(ctx, "timeoutInSeconds", 1, 86400, &s->timeout_s, err)) != SS_OK ||
        (rc = ss_prop_int(ctx, "cleanupIntervalInSeconds", INT32_MIN, INT32_MAX, &s->cleanup_s,
                          err)) != SS_OK ||
        (rc = ss_prop_int(ctx, "maxOpenConns", 1, 10000, &s->max_open, err)) != SS_OK ||
        (rc = ss_prop_int(ctx, "maxIdleConns", 0, 10000, &s->max_idle, err)) != SS_OK ||
        (rc = ss_prop_duration_ms(ctx, "connMaxLifetime", 1000, &s->lifetime_ms, err)) != SS_OK ||
        (rc = ss_prop_duration_ms(ctx, "connMaxIdleTime", 1000, &s->idle_ms, err)) != SS_OK)
        return rc;

    if ((rc = ss_mysql_dsn_parse(dsn, &s->dsn, err)) != SS_OK) return rc;
    if (s->dsn.dbname[0] && strcmp(s->dsn.dbname, schema) != 0)
        ss_log(ctx, SS_LOG_WARN,
               "connectionString names database \"%s\", but the state lives in schemaName \"%s\"",
               s->dsn.dbname, schema);
    s->pem = pem && *pem ? ss_strdup(pem) : NULL;
    s->schema = ss_strdup(schema);
    s->table = ss_strdup(table);
    s->meta_table = ss_strdup(meta);
    s->version_key = ss_asprintf("statestore-schema-%s", table);
    s->cleanup_key = ss_asprintf("last-cleanup-%s", table);
    if ((pem && *pem && !s->pem) || !s->schema || !s->table || !s->meta_table || !s->version_key ||
        !s->cleanup_key) {
        my_close(s);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    pthread_once(&my_lib_once, my_lib_init);
    if (my_lib_rc != 0) {
        my_close(s);
        return ss_error_set(err, SS_BACKEND, "mysql_library_init failed");
    }
    ss_pool_config pool = {
        .max_open = s->max_open,
        .max_idle = s->max_idle, /* 0 keeps none, as in Go's database/sql */
        .idle_ms = s->idle_ms,
        .lifetime_ms = s->lifetime_ms,
        .wait_ms = s->timeout_s * 1000,
    };
    if ((rc = ss_sql_start(&s->base, &my_dialect, ctx, &pool, err)) != SS_OK) {
        my_close(s);
        return rc;
    }

    if ((rc = my_migrate(s, err)) != SS_OK) {
        my_close(s);
        return rc;
    }
    if (my_build_sql(s) != SS_OK) {
        my_close(s);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    if ((rc = ss_sql_ready(&s->base, s->cleanup_s > 0 ? s->cleanup_s * 1000 : 0, my_prepare_common,
                           err)) != SS_OK)
        my_close(s);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* The driver                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static const char *const my_aliases[] = {"mariadb", NULL};

static const ss_property my_props[] = {
    {"connectionString", true, true, NULL,
     "Go DSN: user:password@tcp(host:port)/?params (may carry a password: never logged)"},
    {"tableName", false, false, "state", "state table"},
    {"metadataTableName", false, false, "dapr_metadata",
     "table holding the schema version and the last-cleanup time"},
    {"schemaName", false, false, "dapr_state_store", "database holding both tables (created)"},
    {"timeoutInSeconds", false, false, "20", "connect, read, write and lock-wait timeout"},
    {"cleanupIntervalInSeconds", false, false, "3600",
     "how often expired rows are deleted (one process at a time); <= 0 disables"},
    {"pemPath", false, false, NULL, "CA certificate (PEM) for TLS; enables and enforces TLS"},
    {"maxIdleConns", false, false, "2", "most idle connections kept in the pool"},
    {"maxOpenConns", false, false, "8", "most connections open at once"},
    {"connMaxLifetime", false, false, "0", "close connections older than this; 0 = never"},
    {"connMaxIdleTime", false, false, "0", "close connections idle longer than this; 0 = never"},
};

const ss_driver ss_driver_mysql = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "mysql",
            .aliases = my_aliases,
            .version = "v1",
            .summary = "MySQL / MariaDB (Connector/C), table layout of Dapr's mysql component",
            .features =
                {
                    .flags = SS_SQL_FEATURES,
                    .max_tx_ops = 0,
                    .max_key_len = MY_MAX_KEY_LEN,
                    .max_value_len = 0,
                },
            .properties = my_props,
            .property_count = sizeof my_props / sizeof my_props[0],
        },
    .instance_size = sizeof(my_store),
    .open = my_open,
    .close = my_close,
    SS_SQL_DRIVER_SLOTS,
};

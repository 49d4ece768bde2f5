/*
 * sqlite.c — the `sqlite` driver (alias `sqlite3`): a durable state store in one SQLite file.
 *
 * The table layout, the metadata table and the cleanup protocol are those of Dapr's SQLite
 * state component (components-contrib state/sqlite), so a file written by a Dapr sidecar can be
 * served by statestored and the other way round:
 *
 *   <tableName>(key TEXT PRIMARY KEY, value TEXT, is_binary BOOLEAN, etag TEXT,
 *               expiration_time TIMESTAMP, update_time TIMESTAMP)
 *   <metadataTableName>(key TEXT PRIMARY KEY, value TEXT)   rows 'migrations', 'last-cleanup'
 *
 * Values that are valid UTF-8 (without NUL) are stored as text with is_binary = 0; anything
 * else is stored base64-encoded (standard alphabet, padded) with is_binary = 1, as Dapr does
 * for []byte values. Times are SQLite's "YYYY-MM-DD HH:MM:SS" UTC text, compared as text
 * against CURRENT_TIMESTAMP exactly as Dapr's queries do.
 *
 * Threads: a small pool of connections, each with its own prepared statements; a caller holds
 * one connection for the whole operation (or bulk / transaction). An in-memory database has a
 * single connection, because every connection to ":memory:" would be a different database.
 */
#include <statestore.h>
#include <statestore/driver.h>

#include "support/base64.h"
#include "support/pct.h"
#include "support/periodic.h"
#include "support/utf8.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define POOL_FILE   4 /* connections for a file database */
#define NAME_MAX_SS 128
#define MAX_PRAGMAS 16

enum {
    ST_GET,
    ST_SET_ANY,
    ST_SET_ABSENT,
    ST_SET_MATCH,
    ST_DEL_ANY,
    ST_DEL_MATCH,
    ST_BEGIN,
    ST_BEGIN_IMMEDIATE,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    int64_t deadline_ms; /* monotonic; the progress handler interrupts after it */
} conn;

typedef struct sqlite_store {
    ss_ctx *ctx;
    char table[NAME_MAX_SS];
    char meta_table[NAME_MAX_SS];
    int64_t timeout_ms;
    int64_t busy_timeout_ms;
    int64_t cleanup_ms;
    bool disable_wal;
    bool memory;
    /* Dapr's `_pragma=name(value)` connection-string options, as PRAGMA statements run on
     * every connection. */
    char pragmas[MAX_PRAGMAS][136]; /* "PRAGMA " + up to 127 bytes */
    size_t npragmas;

    conn *conns;
    size_t nconns;
    conn **idle; /* stack of free connections */
    size_t nidle;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool sync_init;

    /* Background cleanup of expired rows. */
    ss_periodic *gc; /* the expired-row sweep, every cleanup_ms; NULL when disabled */
} sqlite_store;

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static ss_code map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        /* The busy timeout elapsed while another connection or process held the lock. */
        return SS_TIMEOUT;
    case SQLITE_INTERRUPT:
        return SS_TIMEOUT; /* our per-operation `timeout` fired */
    case SQLITE_NOMEM:
        return SS_NOMEM;
    case SQLITE_TOOBIG:
        return SS_TOO_LARGE;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
        return SS_UNAVAILABLE;
    default:
        return SS_BACKEND;
    }
}

static ss_code db_error(ss_error *err, sqlite3 *db, int rc)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_INTERRUPT) msg = "operation exceeded the configured timeout";
    return ss_error_set(err, map_rc(rc), "%s", msg);
}

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static int progress_cb(void *arg)
{
    conn *c = arg;
    return c->deadline_ms > 0 && ss_monotonic_ms() > c->deadline_ms;
}

static void conn_close(conn *c)
{
    if (!c) return;
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(c->st[i]);
    memset(c->st, 0, sizeof c->st);
    sqlite3_close_v2(c->db);
    c->db = NULL;
}

static ss_code exec_sql(sqlite3 *db, const char *sql, ss_error *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        ss_code code = ss_error_set(err, map_rc(rc), "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return code;
    }
    return SS_OK;
}

#define LIVE "(expiration_time IS NULL OR expiration_time > CURRENT_TIMESTAMP)"
#define EXPIRY                                                                                     \
    "CASE WHEN ?5 > 0 THEN DATETIME(CURRENT_TIMESTAMP, '+' || ?5 || ' seconds') ELSE NULL END"

static ss_code conn_prepare(sqlite_store *s, conn *c, ss_error *err)
{
    const char *t = s->table;
    char sql[ST_COUNT][1024];
    snprintf(sql[ST_GET], sizeof sql[0],
             "SELECT value, is_binary, etag, CASE WHEN expiration_time IS NULL THEN NULL ELSE "
             "unixepoch(expiration_time) END FROM \"%s\" "
             "WHERE key = ?1 AND " LIVE,
             t);
    snprintf(sql[ST_SET_ANY], sizeof sql[0],
             "INSERT OR REPLACE INTO \"%s\" (key, value, is_binary, etag, update_time, "
             "expiration_time) VALUES (?1, ?2, ?3, ?4, CURRENT_TIMESTAMP, " EXPIRY ")",
             t);
    /* A row that expired but was not yet cleaned up counts as absent for first-write. */
    snprintf(sql[ST_SET_ABSENT], sizeof sql[0],
             "INSERT INTO \"%s\" (key, value, is_binary, etag, update_time, expiration_time) "
             "VALUES (?1, ?2, ?3, ?4, CURRENT_TIMESTAMP, " EXPIRY ") ON CONFLICT (key) DO UPDATE "
             "SET value = excluded.value, is_binary = excluded.is_binary, etag = excluded.etag, "
             "update_time = excluded.update_time, expiration_time = excluded.expiration_time "
             "WHERE \"%s\".expiration_time IS NOT NULL AND "
             "\"%s\".expiration_time <= CURRENT_TIMESTAMP",
             t, t, t);
    snprintf(sql[ST_SET_MATCH], sizeof sql[0],
             "UPDATE \"%s\" SET value = ?2, is_binary = ?3, etag = ?4, "
             "update_time = CURRENT_TIMESTAMP, expiration_time = " EXPIRY
             " WHERE key = ?1 AND etag = ?6 AND " LIVE,
             t);
    snprintf(sql[ST_DEL_ANY], sizeof sql[0], "DELETE FROM \"%s\" WHERE key = ?1", t);
    snprintf(sql[ST_DEL_MATCH], sizeof sql[0],
             "DELETE FROM \"%s\" WHERE key = ?1 AND etag = ?2 AND " LIVE, t);
    snprintf(sql[ST_BEGIN], sizeof sql[0], "BEGIN");
    snprintf(sql[ST_BEGIN_IMMEDIATE], sizeof sql[0], "BEGIN IMMEDIATE");
    snprintf(sql[ST_COMMIT], sizeof sql[0], "COMMIT");
    snprintf(sql[ST_ROLLBACK], sizeof sql[0], "ROLLBACK");
    for (int i = 0; i < ST_COUNT; i++) {
        int rc = sqlite3_prepare_v3(c->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL);
        if (rc != SQLITE_OK) return db_error(err, c->db, rc);
    }
    return SS_OK;
}

static ss_code conn_open(sqlite_store *s, conn *c, const char *path, ss_error *err)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI |
                SQLITE_OPEN_NOMUTEX; /* a connection is only ever used by one thread at a time */
    int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        ss_code code = db_error(err, c->db, rc);
        sqlite3_close_v2(c->db);
        c->db = NULL;
        return code;
    }
    sqlite3_extended_result_codes(c->db, 1);
    if (s->busy_timeout_ms > 0) sqlite3_busy_timeout(c->db, (int)s->busy_timeout_ms);
    sqlite3_progress_handler(c->db, 1000, progress_cb, c);
    return SS_OK;
}

static conn *pool_acquire(sqlite_store *s, ss_error *err)
{
    pthread_mutex_lock(&s->mu);
    while (s->nidle == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(s->timeout_ms / 1000);
        ts.tv_nsec += (long)(s->timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT && s->nidle == 0) {
            pthread_mutex_unlock(&s->mu);
            ss_error_set(err, SS_TIMEOUT, "no free database connection within the timeout");
            return NULL;
        }
    }
    conn *c = s->idle[--s->nidle];
    pthread_mutex_unlock(&s->mu);
    c->deadline_ms = ss_monotonic_ms() + s->timeout_ms;
    return c;
}

static void pool_release(sqlite_store *s, conn *c)
{
    /* A statement that failed mid-transaction must not leave the connection inside it. */
    if (!sqlite3_get_autocommit(c->db)) {
        c->deadline_ms = 0;
        sqlite3_step(c->st[ST_ROLLBACK]);
        sqlite3_reset(c->st[ST_ROLLBACK]);
    }
    pthread_mutex_lock(&s->mu);
    s->idle[s->nidle++] = c;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Runs a no-result statement (BEGIN, COMMIT, ROLLBACK). */
static ss_code run_simple(conn *c, int which, ss_error *err)
{
    sqlite3_stmt *st = c->st[which];
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return db_error(err, c->db, rc);
    return SS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Schema (Dapr's migrations)                                                                  */
/* ------------------------------------------------------------------------------------------ */

static ss_code migrate(sqlite_store *s, conn *c, ss_error *err)
{
    if (sqlite3_db_readonly(c->db, "main") == 1) return SS_OK; /* mode=ro / immutable=1 */
    char sql[1024];
    /* EXCLUSIVE, as Dapr: two processes opening a new file at once must not both migrate. */
    ss_code code = exec_sql(c->db, "BEGIN EXCLUSIVE TRANSACTION", err);
    if (code != SS_OK) return code;
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS \"%s\" (key text NOT NULL PRIMARY KEY, "
             "value text NOT NULL)",
             s->meta_table);
    code = exec_sql(c->db, sql, err);
    long level = 0;
    if (code == SS_OK) {
        sqlite3_stmt *st = NULL;
        snprintf(sql, sizeof sql, "SELECT value FROM \"%s\" WHERE key = 'migrations'",
                 s->meta_table);
        int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK) code = db_error(err, c->db, rc);
        if (code == SS_OK) {
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) {
                const char *v = (const char *)sqlite3_column_text(st, 0);
                char *end = NULL;
                level = v ? strtol(v, &end, 10) : -1;
                if (!v || *v == 0 || *end != 0 || level < 0)
                    code = ss_error_set(err, SS_BACKEND,
                                        "invalid migration level found in metadata table: %s",
                                        v ? v : "(null)");
            } else if (rc != SQLITE_DONE) {
                code = db_error(err, c->db, rc);
            }
        }
        sqlite3_finalize(st);
    }
    /* The state table is created whatever the recorded level: several stores may share one
     * metadata table with different state tables, and the level only says the first one
     * exists (Dapr would then fail on the missing table). */
    if (code == SS_OK) {
        snprintf(sql, sizeof sql,
                 "CREATE TABLE IF NOT EXISTS \"%s\" (key TEXT NOT NULL PRIMARY KEY, "
                 "value TEXT NOT NULL, is_binary BOOLEAN NOT NULL, etag TEXT NOT NULL, "
                 "expiration_time TIMESTAMP DEFAULT NULL, "
                 "update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
                 s->table);
        code = exec_sql(c->db, sql, err);
        if (code == SS_OK && level < 1) {
            snprintf(sql, sizeof sql, "REPLACE INTO \"%s\" (key, value) VALUES ('migrations', '1')",
                     s->meta_table);
            code = exec_sql(c->db, sql, err);
        }
    }
    if (code == SS_OK) return exec_sql(c->db, "COMMIT TRANSACTION", err);
    sqlite3_exec(c->db, "ROLLBACK TRANSACTION", NULL, NULL, NULL);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Cleanup of expired rows                                                                     */
/* ------------------------------------------------------------------------------------------ */

/*
 * Dapr's protocol: a process cleans only if it manages to move 'last-cleanup' forward, which
 * succeeds only when the previous cleanup (by any process) is older than the interval. The
 * upsert is atomic, so at most one process cleans per interval.
 */
static void cleanup_once(sqlite_store *s)
{
    ss_error err;
    conn *c = pool_acquire(s, &err);
    if (!c) return;
    c->deadline_ms = ss_monotonic_ms() + 10 * 60 * 1000; /* deleting may take long */
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s\" (key, value) VALUES ('last-cleanup', CURRENT_TIMESTAMP) "
             "ON CONFLICT (key) DO UPDATE SET value = CURRENT_TIMESTAMP "
             "WHERE (unixepoch(CURRENT_TIMESTAMP) - unixepoch(value)) * 1000 > %lld",
             s->meta_table, (long long)(s->cleanup_ms - 100));
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        ss_log(s->ctx, SS_LOG_WARN, "failed to update last cleanup time: %s",
               sqlite3_errmsg(c->db));
    } else if (sqlite3_changes(c->db) > 0) {
        snprintf(sql, sizeof sql,
                 "DELETE FROM \"%s\" WHERE expiration_time IS NOT NULL AND "
                 "expiration_time < CURRENT_TIMESTAMP",
                 s->table);
        rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            ss_log(s->ctx, SS_LOG_WARN, "failed to remove expired rows: %s", sqlite3_errmsg(c->db));
        else
            ss_log(s->ctx, SS_LOG_DEBUG, "removed %d expired rows", sqlite3_changes(c->db));
    }
    pool_release(s, c);
}

static void cleanup_task(void *arg)
{
    cleanup_once(arg);
}

static ss_code gc_start(sqlite_store *s, ss_error *err)
{
    s->gc = ss_periodic_start(s->cleanup_ms, cleanup_task, s);
    return s->gc ? SS_OK : ss_error_set(err, SS_BACKEND, "cannot start the cleanup thread");
}

static void gc_stop(sqlite_store *s)
{
    ss_periodic_stop(s->gc);
    s->gc = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Open / close                                                                                */
/* ------------------------------------------------------------------------------------------ */

static bool valid_identifier(const char *v)
{
    if (!v || !*v) return false;
    for (const char *p = v; *p; p++) {
        char ch = *p;
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '_'))
            return false;
    }
    return true;
}

static ss_code table_prop(sqlite_store *s, const char *prop, char *dst, ss_error *err)
{
    const char *v = ss_prop(s->ctx, prop);
    if (!valid_identifier(v) || strlen(v) >= NAME_MAX_SS)
        return ss_error_set(err, SS_INVALID,
                            "property %s: invalid identifier \"%s\" (letters, digits and _ only, "
                            "at most %d characters)",
                            prop, v ? v : "", NAME_MAX_SS - 1);
    strcpy(dst, v);
    return SS_OK;
}

static bool is_memory_db(const char *cs)
{
    return strncasecmp(cs, ":memory:", 8) == 0 || strncasecmp(cs, "file::memory:", 13) == 0 ||
           strstr(cs, "mode=memory") != NULL;
}

/*
 * Dapr's Go driver takes `_pragma=name(value)` options in the connection string (SQLite itself
 * ignores them). They are applied the same way here; like Dapr, busy_timeout, journal_mode and
 * foreign_keys are refused because properties control them. Only `name` or `name(value)` with
 * plain characters is accepted, so nothing else can reach the SQL.
 */
static ss_code parse_pragmas(sqlite_store *s, const char *cs, ss_error *err)
{
    const char *q = strchr(cs, '?');
    while (q && *q) {
        const char *start = q + 1;
        const char *end = strchr(start, '&');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        q = end;
        if (len < 8 || strncmp(start, "_pragma=", 8) != 0) continue;
        char v[128];
        bool ok = len - 8 < sizeof v && ss_pct_decode(v, start + 8, len - 8, SS_PCT_PLUS) >= 0;
        size_t name_len = 0;
        while (ok && (v[name_len] == '_' || (v[name_len] >= 'a' && v[name_len] <= 'z') ||
                      (v[name_len] >= 'A' && v[name_len] <= 'Z') ||
                      (v[name_len] >= '0' && v[name_len] <= '9')))
            name_len++;
        if (ok && name_len > 0 && v[name_len] == '(') {
            size_t k = name_len + 1;
            while (v[k] == '-' || v[k] == '_' || v[k] == '.' || (v[k] >= 'a' && v[k] <= 'z') ||
                   (v[k] >= 'A' && v[k] <= 'Z') || (v[k] >= '0' && v[k] <= '9'))
                k++;
            ok = v[k] == ')' && v[k + 1] == 0;
        } else {
            ok = ok && name_len > 0 && v[name_len] == 0;
        }
        if (!ok)
            return ss_error_set(err, SS_INVALID,
                                "property connectionString: invalid _pragma option (expected "
                                "name or name(value))");
        static const char *const forbidden[] = {"busy_timeout", "journal_mode", "foreign_keys"};
        for (size_t i = 0; i < 3; i++)
            if (strncasecmp(v, forbidden[i], strlen(forbidden[i])) == 0)
                return ss_error_set(err, SS_INVALID,
                                    "property connectionString: _pragma=%s is not allowed; %s",
                                    forbidden[i],
                                    i == 0   ? "use the busyTimeout property"
                                    : i == 1 ? "use the disableWAL property"
                                             : "it cannot be changed");
        if (s->npragmas == MAX_PRAGMAS)
            return ss_error_set(err, SS_INVALID,
                                "property connectionString: more than %d _pragma options",
                                MAX_PRAGMAS);
        snprintf(s->pragmas[s->npragmas++], sizeof s->pragmas[0], "PRAGMA %s", v);
    }
    return SS_OK;
}

static void sqlite_close(void *self);

static ss_code sqlite_open(void *self, ss_ctx *ctx, ss_error *err)
{
    sqlite_store *s = self;
    s->ctx = ctx;
    const char *cs = ss_prop(ctx, "connectionString");
    if (!cs || !*cs) return ss_error_set(err, SS_INVALID, "property connectionString is required");
    /* Defaults first: an explicitly empty property means the default, as in Dapr. */
    s->timeout_ms = 20000;
    s->busy_timeout_ms = 2000;
    s->cleanup_ms = 3600000;
    ss_code code = table_prop(s, "tableName", s->table, err);
    if (code == SS_OK) code = table_prop(s, "metadataTableName", s->meta_table, err);
    if (code == SS_OK) code = ss_prop_duration_ms(ctx, "timeout", 1000, &s->timeout_ms, err);
    if (code == SS_OK && s->timeout_ms < 1000)
        code =
            ss_error_set(err, SS_INVALID, "property timeout: invalid value: must be at least 1s");
    if (code == SS_OK)
        code = ss_prop_duration_ms(ctx, "busyTimeout", 1000, &s->busy_timeout_ms, err);
    if (code == SS_OK)
        code = ss_prop_duration_ms(ctx, "cleanupInterval", 1000, &s->cleanup_ms, err);
    if (code == SS_OK) code = ss_prop_bool(ctx, "disableWAL", &s->disable_wal, err);
    if (code != SS_OK) return code;
    if (s->busy_timeout_ms > INT32_MAX) s->busy_timeout_ms = INT32_MAX;

    /* As Dapr: a path with a query string is a URI, so "data.db?mode=ro" means what it says. */
    char *uri = NULL;
    if (strncasecmp(cs, "file:", 5) != 0 && strchr(cs, '?')) {
        size_t n = strlen(cs);
        uri = malloc(n + 6);
        if (!uri) return ss_error_set(err, SS_NOMEM, "out of memory");
        memcpy(uri, "file:", 5);
        memcpy(uri + 5, cs, n + 1);
        cs = uri;
    }
    code = parse_pragmas(s, cs, err);
    if (code != SS_OK) {
        free(uri);
        return code;
    }
    s->memory = is_memory_db(cs);
    s->nconns = s->memory ? 1 : POOL_FILE;
    s->conns = calloc(s->nconns, sizeof *s->conns);
    s->idle = calloc(s->nconns, sizeof *s->idle);
    if (!s->conns || !s->idle) {
        free(uri);
        sqlite_close(s);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->sync_init = true;

    /* The first connection sets the journal mode and creates the tables before the others
     * prepare statements against them. */
    for (size_t i = 0; i < s->nconns && code == SS_OK; i++) {
        conn *c = &s->conns[i];
        code = conn_open(s, c, cs, err);
        for (size_t k = 0; k < s->npragmas && code == SS_OK; k++)
            code = exec_sql(c->db, s->pragmas[k], err);
        if (code == SS_OK && i == 0) {
            c->deadline_ms = ss_monotonic_ms() + s->timeout_ms;
            /* A read-only connection cannot change the journal mode: it reads the file as
             * it is (a WAL file needs its -shm to exist or be creatable). */
            if (sqlite3_db_readonly(c->db, "main") != 1) {
                char sql[64];
                snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s",
                         s->memory        ? "MEMORY"
                         : s->disable_wal ? "DELETE"
                                          : "WAL");
                code = exec_sql(c->db, sql, err);
            }
            if (code == SS_OK) code = migrate(s, c, err);
            c->deadline_ms = 0;
        }
        if (code == SS_OK) code = conn_prepare(s, c, err);
        if (code == SS_OK) s->idle[s->nidle++] = c;
    }
    free(uri);
    if (code == SS_OK && s->cleanup_ms > 0) code = gc_start(s, err);
    if (code != SS_OK) sqlite_close(s);
    return code;
}

static void sqlite_close(void *self)
{
    sqlite_store *s = self;
    gc_stop(s);
    if (s->conns)
        for (size_t i = 0; i < s->nconns; i++) conn_close(&s->conns[i]);
    free(s->conns);
    free(s->idle);
    s->conns = NULL;
    s->idle = NULL;
    s->nidle = 0;
    if (s->sync_init) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        s->sync_init = false;
    }
}

static ss_code sqlite_ping(void *self, ss_error *err)
{
    sqlite_store *s = self;
    conn *c = pool_acquire(s, err);
    if (!c) return err ? err->code : SS_TIMEOUT;
    int rc = sqlite3_exec(c->db, "SELECT 1", NULL, NULL, NULL);
    ss_code code = rc == SQLITE_OK ? SS_OK : db_error(err, c->db, rc);
    pool_release(s, c);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Operations on a held connection                                                             */
/* ------------------------------------------------------------------------------------------ */

static ss_code do_get(conn *c, const ss_op *op, ss_value **out, ss_error *err)
{
    *out = NULL;
    sqlite3_stmt *st = c->st[ST_GET];
    sqlite3_bind_text(st, 1, op->key, (int)op->key_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    ss_code code = SS_OK;
    if (rc == SQLITE_ROW) {
        const unsigned char *data = sqlite3_column_blob(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        bool binary = sqlite3_column_int(st, 1) != 0;
        const char *etag = (const char *)sqlite3_column_text(st, 2);
        bool has_exp = sqlite3_column_type(st, 3) != SQLITE_NULL;
        int64_t exp_s = sqlite3_column_int64(st, 3);
        ss_value *v = NULL;
        if (binary) {
            char *buf = NULL;
            size_t n = 0;
            if (!ss_base64_decode_alloc(&buf, &n, data ? (const char *)data : "", len)) {
                code = ss_error_set(err, SS_BACKEND,
                                    "failed to decode binary data (not base64, or out of memory)");
            } else {
                v = ss_value_new(buf, n, etag);
                if (!v) code = ss_error_set(err, SS_NOMEM, "out of memory");
            }
            free(buf);
        } else {
            v = ss_value_new(data ? (const void *)data : "", len, etag);
            if (!v) code = ss_error_set(err, SS_NOMEM, "out of memory");
        }
        if (code == SS_OK && has_exp && ss_value_set_expiry(v, exp_s * 1000) != SS_OK)
            code = ss_error_set(err, SS_NOMEM, "out of memory");
        if (code == SS_OK)
            *out = v;
        else
            ss_value_free(v);
    } else if (rc != SQLITE_DONE) {
        code = db_error(err, c->db, rc);
    }
    sqlite3_reset(st);
    return code;
}

static ss_code do_set(conn *c, const ss_op *op, char **etag_out, ss_error *err)
{
    int which = op->cond == SS_COND_MATCH    ? ST_SET_MATCH
                : op->cond == SS_COND_ABSENT ? ST_SET_ABSENT
                                             : ST_SET_ANY;
    sqlite3_stmt *st = c->st[which];
    char etag[37];
    ss_uuid4(etag);
    char *enc = NULL;
    /* Valid UTF-8 goes in as TEXT; anything else (NUL included, so every text value survives
     * tools that treat text as C strings) as base64 with is_binary, as Dapr stores binary. */
    bool text = ss_utf8_valid(op->value, op->value_len, false);
    ss_code code = SS_OK;
    if (op->value_len > INT32_MAX) return ss_error_set(err, SS_TOO_LARGE, "value too large");
    if (text) {
        sqlite3_bind_text(st, 2, op->value, (int)op->value_len, SQLITE_STATIC);
    } else {
        enc = ss_base64_encode_alloc(op->value, op->value_len);
        if (!enc) return ss_error_set(err, SS_NOMEM, "out of memory");
        size_t n = ss_base64_encoded_size(op->value_len) - 1;
        if (n > INT32_MAX) {
            free(enc);
            return ss_error_set(err, SS_TOO_LARGE, "value too large once base64-encoded");
        }
        sqlite3_bind_text(st, 2, enc, (int)n, SQLITE_STATIC);
    }
    sqlite3_bind_text(st, 1, op->key, (int)op->key_len, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, text ? 0 : 1);
    sqlite3_bind_text(st, 4, etag, 36, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, op->ttl_mode == SS_TTL_SECONDS ? op->ttl_seconds : 0);
    if (which == ST_SET_MATCH) sqlite3_bind_text(st, 6, op->etag, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        code = db_error(err, c->db, rc);
    else if (which != ST_SET_ANY && sqlite3_changes(c->db) == 0)
        code = ss_error_set(err, SS_ETAG_MISMATCH,
                            which == ST_SET_MATCH ? "possible etag mismatch: no live row with "
                                                    "this etag"
                                                  : "possible etag mismatch: the key exists "
                                                    "(first-write)");
    sqlite3_reset(st);
    free(enc);
    if (code == SS_OK && etag_out) {
        *etag_out = ss_strdup(etag);
        if (!*etag_out) code = ss_error_set(err, SS_NOMEM, "out of memory");
    }
    return code;
}

static ss_code do_del(conn *c, const ss_op *op, ss_error *err)
{
    bool match = op->cond == SS_COND_MATCH;
    sqlite3_stmt *st = c->st[match ? ST_DEL_MATCH : ST_DEL_ANY];
    sqlite3_bind_text(st, 1, op->key, (int)op->key_len, SQLITE_STATIC);
    if (match) sqlite3_bind_text(st, 2, op->etag, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    ss_code code = SS_OK;
    if (rc != SQLITE_DONE)
        code = db_error(err, c->db, rc);
    else if (match && sqlite3_changes(c->db) == 0)
        code = ss_error_set(err, SS_ETAG_MISMATCH,
                            "possible etag mismatch: no live row with "
                            "this etag");
    sqlite3_reset(st);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Driver slots                                                                                */
/* ------------------------------------------------------------------------------------------ */

static ss_code sqlite_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    sqlite_store *s = self;
    *out = NULL;
    conn *c = pool_acquire(s, err);
    if (!c) return SS_TIMEOUT;
    ss_code code = do_get(c, op, out, err);
    pool_release(s, c);
    return code;
}

static ss_code sqlite_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    sqlite_store *s = self;
    conn *c = pool_acquire(s, err);
    if (!c) return SS_TIMEOUT;
    ss_code code = do_set(c, op, etag_out, err);
    pool_release(s, c);
    return code;
}

static ss_code sqlite_del(void *self, const ss_op *op, ss_error *err)
{
    sqlite_store *s = self;
    conn *c = pool_acquire(s, err);
    if (!c) return SS_TIMEOUT;
    ss_code code = do_del(c, op, err);
    pool_release(s, c);
    return code;
}

static void item_fail(ss_item_result *it, ss_code code, const ss_error *e)
{
    it->code = code;
    it->error = ss_strdup(e->message[0] ? e->message : ss_code_text(code));
}

static ss_code copy_error(ss_error *dst, const ss_error *src, ss_code code)
{
    return ss_error_set(dst, code, "%s", src->message[0] ? src->message : ss_code_text(code));
}

/* When the whole call fails the core reports that one error for every item, so no item keeps
 * an outcome of its own. */
static void items_reset(ss_results *out, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        ss_free(out->items[i].etag);
        ss_free(out->items[i].error);
        ss_value_free(out->items[i].value);
        memset(&out->items[i], 0, sizeof out->items[i]);
    }
}

/* One read transaction: every key is read from the same snapshot. */
static ss_code sqlite_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                               ss_error *err)
{
    sqlite_store *s = self;
    conn *c = pool_acquire(s, err);
    if (!c) return SS_TIMEOUT;
    ss_code code = run_simple(c, ST_BEGIN, err);
    for (size_t i = 0; i < count && code == SS_OK; i++) {
        ss_error e;
        e.message[0] = 0; /* set on failure; zeroing all of it per item is measurable */
        ss_code r = do_get(c, &ops[i], &out->items[i].value, &e);
        if (r != SS_OK) item_fail(&out->items[i], r, &e);
    }
    if (code == SS_OK) code = run_simple(c, ST_COMMIT, err);
    pool_release(s, c);
    return code;
}

/*
 * Bulk writes: one write transaction for the whole batch (one fsync), but every item keeps its
 * own outcome: an ETag failure on one key neither stops nor undoes the others. Only a failure
 * of the transaction itself fails the call (and then nothing was written).
 */
static ss_code bulk_write(sqlite_store *s, const ss_op *ops, size_t count, ss_results *out,
                          ss_error *err, bool is_set)
{
    conn *c = pool_acquire(s, err);
    if (!c) return SS_TIMEOUT;
    ss_code code = run_simple(c, ST_BEGIN_IMMEDIATE, err);
    for (size_t i = 0; i < count && code == SS_OK; i++) {
        ss_error e;
        e.message[0] = 0; /* set on failure; zeroing all of it per item is measurable */
        ss_code r = is_set ? do_set(c, &ops[i], &out->items[i].etag, &e) : do_del(c, &ops[i], &e);
        if (r == SS_ETAG_MISMATCH || r == SS_ETAG_INVALID)
            item_fail(&out->items[i], r, &e);
        else if (r != SS_OK)
            code = copy_error(err, &e, r);
    }
    if (code == SS_OK) code = run_simple(c, ST_COMMIT, err);
    if (code != SS_OK) items_reset(out, count);
    pool_release(s, c);
    return code;
}

static ss_code sqlite_bulk_set(void *self, const ss_op *ops, size_t count, ss_results *out,
                               ss_error *err)
{
    return bulk_write(self, ops, count, out, err, true);
}

static ss_code sqlite_bulk_delete(void *self, const ss_op *ops, size_t count, ss_results *out,
                                  ss_error *err)
{
    return bulk_write(self, ops, count, out, err, false);
}

/* BEGIN IMMEDIATE takes the write lock up front, so a transaction never fails half-way on a
 * lock upgrade; the first failing operation rolls everything back. */
static ss_code sqlite_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                               size_t metadata_count, ss_error *err)
{
    sqlite_store *s = self;
    if (count == 0) return SS_OK;
    conn *c = pool_acquire(s, err);
    if (!c) return SS_TIMEOUT;
    ss_code code = run_simple(c, ST_BEGIN_IMMEDIATE, err);
    for (size_t i = 0; i < count && code == SS_OK; i++) {
        ss_error e;
        e.message[0] = 0; /* set on failure; zeroing all of it per item is measurable */
        const ss_op *op = &ops[i];
        ss_code r = op->kind == SS_DRV_SET ? do_set(c, op, NULL, &e) : do_del(c, op, &e);
        if (r != SS_OK)
            code = ss_error_set_op(err, r, i, op, "%s; transaction rolled back",
                                   e.message[0] ? e.message : ss_code_text(r));
    }
    if (code == SS_OK) code = run_simple(c, ST_COMMIT, err);
    pool_release(s, c); /* rolls back when the transaction is still open */
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Declaration                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static const ss_property sqlite_props[] = {
    {"connectionString", true, false, NULL,
     "database file path or file: URI (\":memory:\" = a private in-memory database)"},
    {"tableName", false, false, "state", "table holding the state (letters, digits, _)"},
    {"metadataTableName", false, false, "metadata",
     "table holding the schema version and last cleanup time"},
    {"timeout", false, false, "20s", "timeout of one database operation (at least 1s)"},
    {"cleanupInterval", false, false, "1h",
     "how often expired rows are deleted; 0 or negative disables"},
    {"busyTimeout", false, false, "2s",
     "how long to wait for a lock held by another connection or process"},
    {"disableWAL", false, false, "false",
     "use the rollback journal instead of WAL (for network filesystems)"},
};

static const char *const sqlite_aliases[] = {"sqlite3", NULL};

const ss_driver ss_driver_sqlite = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "sqlite",
            .aliases = sqlite_aliases,
            .version = "1",
            .summary = "SQLite file (WAL), the table layout of Dapr's SQLite state store",
            .features =
                {
                    .flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE | SS_FEATURE_TRANSACTIONAL |
                             SS_FEATURE_TTL | SS_FEATURE_BULK_NATIVE,
                    .max_tx_ops = 0,
                    .max_key_len = 0,
                    .max_value_len = 512u * 1024u * 1024u,
                },
            .properties = sqlite_props,
            .property_count = sizeof sqlite_props / sizeof sqlite_props[0],
        },
    .instance_size = sizeof(sqlite_store),
    .open = sqlite_open,
    .close = sqlite_close,
    .ping = sqlite_ping,
    .get = sqlite_get,
    .set = sqlite_set,
    .del = sqlite_del,
    .bulk_get = sqlite_bulk_get,
    .bulk_set = sqlite_bulk_set,
    .bulk_delete = sqlite_bulk_delete,
    .transact = sqlite_transact,
};

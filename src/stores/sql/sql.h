/*
 * sql.h — the skeleton the SQL drivers share (postgresql.c, mysql.c: one dialect file each).
 *
 * Everything that does not depend on the database's client library lives in sql.c, once:
 *   - the driver slots (ping, get, set, delete, bulk get/set/delete, transactions): each takes a
 *     pooled connection, runs the dialect's work on it, hands it back, and runs repeatable work
 *     once more when the connection turns out to have died while idle (ss_pool_run);
 *   - ETag checks (the etag column holds canonical UUID text: anything else is ETAG_INVALID
 *     before a statement is sent) and the ETAG_MISMATCH a conditional write that touched no row
 *     reports;
 *   - the bulk get bookkeeping: requested keys sorted once, each returned row matched back to
 *     every request for its key; and the duplicate-key check that tells a dialect whether it may
 *     reorder writes (writes to distinct keys commute);
 *   - the expired-row sweep thread.
 * A dialect supplies an ss_sql_dialect: how to open, judge and close a connection, and the
 * statements for each operation run on one connection. Its instance struct embeds ss_sql as
 * its first member, so the core's instance pointer is both.
 *
 * Writing a new dialect: docs/NEW-STORE.md, "Writing a SQL dialect".
 */
#ifndef SS_STORES_SQL_H
#define SS_STORES_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "statestore/driver.h"
#include "support/periodic.h"
#include "support/pool.h"

/* The ETags the SQL drivers make: a UUID's 36 characters and the NUL. */
#define SS_SQL_ETAG_SIZE 37

typedef struct ss_sql ss_sql;

/* The keys of a bulk get, sorted (by bytes, then request order) for matching rows back. */
typedef struct ss_sql_key {
    const char *key;
    size_t len;
    size_t idx; /* position in the request */
} ss_sql_key;

typedef struct ss_sql_keys {
    ss_sql_key *sorted;
    size_t count;
} ss_sql_keys;

/*
 * What a dialect provides. Every function but connect/disconnect/check/exhausted gets a
 * connection connect made, on the thread that called the driver, and reports failures in err
 * with the database's own words and the codes NEW-STORE.md lists.
 */
typedef struct ss_sql_dialect {
    /* The pool's callbacks (see support/pool.h), given the instance. */
    ss_code (*connect)(ss_sql *s, void **conn, ss_error *err);
    void (*disconnect)(void *conn);
    ss_pool_verdict (*check)(void *conn);
    ss_code (*exhausted)(ss_sql *s, ss_error *err); /* message naming the dialect's properties */

    /* Optional: whether a write op can be sent (default: ss_sql_check_etag). Run on every set,
     * delete and transaction op and bulk item before the dialect gets them; a bulk item it
     * refuses fails alone. For an ETag form other than a UUID, or values the columns cannot
     * hold unchanged. */
    ss_code (*check_op)(ss_sql *s, const ss_op *op, ss_error *err);

    /* Optional: called before the thread takes a connection (e.g. to set per-thread I/O
     * deadlines for the calls it will make on it). */
    void (*enter)(ss_sql *s);

    ss_code (*ping)(ss_sql *s, void *conn, ss_error *err);

    /* *out stays NULL when the key is missing or expired. */
    ss_code (*get)(ss_sql *s, void *conn, const ss_op *op, ss_value **out, ss_error *err);

    /*
     * One set or delete (op->kind), honouring op->cond: a condition that touched no row
     * returns ss_sql_cond_error's code. A set makes its new ETag with ss_uuid4 into etag.
     * op->etag, when the condition is MATCH, is a UUID already.
     */
    ss_code (*write)(ss_sql *s, void *conn, const ss_op *op, char etag[SS_SQL_ETAG_SIZE],
                     ss_error *err);

    /* Fills out->items[i].value for the keys found (count > 0); keys is ops sorted. On failure
     * the common code frees whatever values were filled. */
    ss_code (*bulk_get)(ss_sql *s, void *conn, const ss_op *ops, size_t count,
                        const ss_sql_keys *keys, ss_results *out, ss_error *err);

    /* All ops or none, in order (count > 0, every MATCH ETag a UUID). */
    ss_code (*transact)(ss_sql *s, void *conn, const ss_op *ops, size_t count, ss_error *err);

    /*
     * Bulk set/delete, not atomic: items[i] gets op i's own outcome (code, error, and for a set
     * the new etag). The return is for failures that leave no item's outcome known (the
     * connection is gone). count > 0; every MATCH ETag is a UUID.
     */
    ss_code (*bulk_write)(ss_sql *s, void *conn, const ss_op *ops, size_t count,
                          ss_item_result *items, ss_error *err);

    /*
     * One expired-row sweep: at most one process per interval deletes (as Dapr does, by a
     * conditional update of a last-cleanup row). *removed gets the rows deleted, or stays -1
     * when another process had its turn.
     */
    ss_code (*sweep)(ss_sql *s, void *conn, int64_t *removed, ss_error *err);
} ss_sql_dialect;

/* What every dialect keeps (the conformance suite checks each). */
#define SS_SQL_FEATURES                                                                            \
    (SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE | SS_FEATURE_TRANSACTIONAL | SS_FEATURE_TTL |        \
     SS_FEATURE_BULK_NATIVE)

/* The ss_driver slots after .open and .close: the same for every dialect (sql.c's). */
#define SS_SQL_DRIVER_SLOTS                                                                        \
    .ping = ss_sql_ping, .get = ss_sql_get, .set = ss_sql_set, .del = ss_sql_del,                  \
    .bulk_get = ss_sql_bulk_get, .bulk_set = ss_sql_bulk_write, .bulk_delete = ss_sql_bulk_write,  \
    .transact = ss_sql_transact

/* The common part of a SQL driver's instance: its first member. */
struct ss_sql {
    const ss_sql_dialect *dialect;
    ss_ctx *ctx;
    ss_pool *pool;
    ss_periodic *gc; /* the expired-row sweep; NULL when disabled */
};

/*
 * Sets up s for dialect d: the pool, with limits' numbers (max_open, max_idle, idle_ms,
 * lifetime_ms, wait_ms; its callbacks are the dialect's). No connection is opened yet.
 */
ss_code ss_sql_start(ss_sql *s, const ss_sql_dialect *d, ss_ctx *ctx, const ss_pool_config *limits,
                     ss_error *err);

/*
 * Opens the first pooled connection now, so a server or table the statements do not fit fails
 * open; first (optional) runs on it (e.g. to prepare statements). Then starts the expired-row
 * sweep every sweep_ms when sweep_ms > 0.
 */
ss_code ss_sql_ready(ss_sql *s, int64_t sweep_ms,
                     ss_code (*first)(ss_sql *s, void *conn, ss_error *err), ss_error *err);

/* Stops the sweep and closes every connection; before the dialect frees what they use.
 * Safe on a zeroed or already stopped ss_sql. */
void ss_sql_stop(ss_sql *s);

/* Runs fn(s, conn, arg) on a pooled connection, once more on a fresh one when the pool says
 * the first failed on a connection that died while idle and repeatable is true. */
ss_code ss_sql_run(ss_sql *s, bool repeatable,
                   ss_code (*fn)(ss_sql *s, void *conn, void *arg, ss_error *err), void *arg,
                   ss_error *err);

/* The driver slots, for the dialect's ss_driver (self is the instance). */
ss_code ss_sql_ping(void *self, ss_error *err);
ss_code ss_sql_get(void *self, const ss_op *op, ss_value **out, ss_error *err);
ss_code ss_sql_set(void *self, const ss_op *op, char **etag_out, ss_error *err);
ss_code ss_sql_del(void *self, const ss_op *op, ss_error *err);
ss_code ss_sql_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out, ss_error *err);
ss_code ss_sql_bulk_write(void *self, const ss_op *ops, size_t count, ss_results *out,
                          ss_error *err);
ss_code ss_sql_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                        size_t metadata_count, ss_error *err);

/*
 * The properties every dialect has, as Dapr's SQL components name them: connectionString
 * (required: INVALID when missing or empty), tableName (default "state") and
 * metadataTableName (default "dapr_metadata"). The strings are the context's.
 */
ss_code ss_sql_props(ss_ctx *ctx, const char **conn, const char **table, const char **meta,
                     ss_error *err);

/* ETAG_INVALID when op's condition is MATCH and its ETag is not a UUID, else SS_OK. The driver
 * slots use the dialect's check_op instead when it has one. */
ss_code ss_sql_check_etag(const ss_op *op, ss_error *err);

/* Whether a statement that succeeded touching rows rows met op's condition. */
static inline bool ss_sql_cond_met(const ss_op *op, int64_t rows)
{
    return op->cond == SS_COND_ANY || rows > 0;
}

/* The ETAG_MISMATCH of a conditional write that touched no row; returns that code. */
ss_code ss_sql_cond_error(const ss_op *op, ss_error *err);

/* The first position in keys->sorted whose key is not below key[0..len). */
size_t ss_sql_keys_lower(const ss_sql_keys *keys, const char *key, size_t len);

/* Whether keys->sorted[pos] is key[0..len); then *idx is its request index. Walks every
 * request of one key: for (p = ss_sql_keys_lower(..); ss_sql_keys_at(.., p, .., &i); p++). */
bool ss_sql_keys_at(const ss_sql_keys *keys, size_t pos, const char *key, size_t len, size_t *idx);

/* Whether a key repeats among ops (true also when that cannot be checked for want of memory:
 * the answer that never lets a dialect reorder writes). */
bool ss_sql_has_duplicate_keys(const ss_op *ops, size_t count);

#endif

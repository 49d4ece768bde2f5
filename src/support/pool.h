/*
 * pool.h — a thread-safe pool of database connections for the SQL drivers (postgresql, mysql).
 * The pool knows nothing about the connections: the driver opens, closes and judges them
 * through callbacks. What the pool adds is the part both drivers need and must get right under
 * concurrency: a bound on open connections with a bounded wait for a free one, reuse of idle
 * connections while they are fresh, and dropping every idle connection once one is found dead
 * (after a server restart the idle siblings are dead too, and each would otherwise cost a
 * failed call to discover).
 */
#ifndef SS_SUPPORT_POOL_H
#define SS_SUPPORT_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "statestore/driver.h"

typedef struct ss_pool ss_pool;

/* One connection taken from the pool, until it is handed back with ss_pool_release. */
typedef struct ss_pool_conn ss_pool_conn;

/* What release does with a connection, as the driver's check callback judges it. */
typedef enum ss_pool_verdict {
    SS_POOL_KEEP, /* healthy: back to the idle list (unless max_idle are idle already) */
    SS_POOL_DROP, /* unusable but the server is fine (e.g. left mid-transaction): close it */
    SS_POOL_DEAD, /* the link is gone: close it and every idle connection opened before */
} ss_pool_verdict;

typedef struct ss_pool_config {
    int64_t max_open;    /* at least 1 */
    int64_t max_idle;    /* most connections kept idle on release; < 0 = no limit, 0 = none */
    int64_t idle_ms;     /* an idle connection older than this is closed, not reused; 0 = never */
    int64_t lifetime_ms; /* a connection opened longer ago is closed, not reused; 0 = never */
    int64_t wait_ms;     /* longest wait in ss_pool_acquire for a free connection */

    void *arg; /* passed to every callback */
    /* Opens one connection (called without the pool's lock, on the acquiring thread). */
    ss_code (*open)(void *arg, void **conn, ss_error *err);
    void (*close)(void *arg, void *conn);
    ss_pool_verdict (*check)(void *arg, void *conn);
    /* Fills err when wait_ms passed with max_open connections in use: the message names the
     * driver's own properties. Returns the code set (normally SS_TIMEOUT). */
    ss_code (*exhausted)(void *arg, ss_error *err);
} ss_pool_config;

/* A pool with no connections open yet. SS_NOMEM when it cannot be set up. */
ss_code ss_pool_create(const ss_pool_config *cfg, ss_pool **out, ss_error *err);

/*
 * Closes the idle connections and frees the pool. Every connection must have been released
 * (the drivers stop their own threads first). NULL is fine.
 */
void ss_pool_destroy(ss_pool *p);

/*
 * An idle connection when a fresh one is there, else a new one while fewer than max_open are
 * open, else waits up to wait_ms for one to be released. Errors are open's, or exhausted's.
 */
ss_code ss_pool_acquire(ss_pool *p, ss_pool_conn **out, ss_error *err);

/* The driver's connection, as open returned it. */
void *ss_pool_conn_get(const ss_pool_conn *pc);

/* True when the connection was idle in the pool before this acquire, so it may have died
 * (server restart) since its last use. */
bool ss_pool_conn_reused(const ss_pool_conn *pc);

/*
 * Hands the connection back; rc is the outcome of the work done on it. Returns true when that
 * work is worth one more attempt on a fresh connection: rc is SS_UNAVAILABLE and the connection
 * was a reused one that check now finds dead, so the failure says nothing about the server now.
 * The caller decides whether its work is safe to repeat. NULL pc is fine (returns false).
 */
bool ss_pool_release(ss_pool *p, ss_pool_conn *pc, ss_code rc);

/*
 * The whole acquire / work / release cycle: runs fn on a pooled connection and hands it back
 * with fn's outcome. When release says the failure came from a connection that died while
 * idle (see ss_pool_release) and the work is repeatable, fn runs once more on a fresh
 * connection. Work that is not safe to repeat (a conditional write that may have reached the
 * server would then report a false mismatch) passes repeatable = false. Returns fn's code, or
 * acquire's when no connection could be had.
 */
ss_code ss_pool_run(ss_pool *p, bool repeatable,
                    ss_code (*fn)(void *conn, void *arg, ss_error *err), void *arg, ss_error *err);

#endif

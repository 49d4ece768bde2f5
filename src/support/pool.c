/* pool.c — see pool.h. */
#include "support/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct ss_pool_conn {
    void *conn;
    int64_t created_ms;
    int64_t last_used_ms;
    unsigned generation; /* the pool's generation when opened */
    bool reused;
    ss_pool_conn *next; /* in the idle list */
};

struct ss_pool {
    ss_pool_config cfg;
    pthread_mutex_t mu;
    /* On CLOCK_MONOTONIC, like every deadline and idle time here: a wall-clock jump must
     * neither cut a wait for a free connection short nor stretch it. */
    pthread_cond_t cv;
    ss_pool_conn *idle; /* most recently released first */
    int64_t idle_count;
    int64_t open_count;  /* idle + in use + being opened */
    unsigned generation; /* bumped when a connection is found dead */
};

ss_code ss_pool_create(const ss_pool_config *cfg, ss_pool **out, ss_error *err)
{
    *out = NULL;
    ss_pool *p = calloc(1, sizeof *p);
    if (!p) return ss_error_set(err, SS_NOMEM, "out of memory");
    p->cfg = *cfg;
    if (p->cfg.max_open < 1) p->cfg.max_open = 1;
    pthread_condattr_t ca;
    bool ca_ok = pthread_condattr_init(&ca) == 0;
    if (ca_ok) pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    bool cv_ok = ca_ok && pthread_cond_init(&p->cv, &ca) == 0;
    if (ca_ok) pthread_condattr_destroy(&ca);
    if (cv_ok && pthread_mutex_init(&p->mu, NULL) == 0) {
        *out = p;
        return SS_OK;
    }
    if (cv_ok) pthread_cond_destroy(&p->cv);
    free(p);
    return ss_error_set(err, SS_NOMEM, "cannot create a mutex");
}

static void pool_close(ss_pool *p, ss_pool_conn *pc)
{
    p->cfg.close(p->cfg.arg, pc->conn);
    free(pc);
}

void ss_pool_destroy(ss_pool *p)
{
    if (!p) return;
    while (p->idle) {
        ss_pool_conn *pc = p->idle;
        p->idle = pc->next;
        pool_close(p, pc);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static bool pool_stale(const ss_pool *p, const ss_pool_conn *pc, int64_t now)
{
    return pc->generation != p->generation ||
           (p->cfg.idle_ms > 0 && now - pc->last_used_ms > p->cfg.idle_ms) ||
           (p->cfg.lifetime_ms > 0 && now - pc->created_ms > p->cfg.lifetime_ms);
}

static void timespec_at(struct timespec *ts, int64_t monotonic_ms)
{
    /* Deadlines are kept in ss_monotonic_ms terms, the clock the condvar waits on, so only
     * the time left needs converting. */
    int64_t left = monotonic_ms - ss_monotonic_ms();
    if (left < 0) left = 0;
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(left / 1000);
    ts->tv_nsec += (long)(left % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

ss_code ss_pool_acquire(ss_pool *p, ss_pool_conn **out, ss_error *err)
{
    *out = NULL;
    int64_t deadline = ss_monotonic_ms() + p->cfg.wait_ms;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->idle) {
            ss_pool_conn *pc = p->idle;
            p->idle = pc->next;
            p->idle_count--;
            if (pool_stale(p, pc, ss_monotonic_ms())) {
                /* Closing may block on the network: not under the lock. The slot stays ours,
                 * so nobody else needs waking. */
                p->open_count--;
                pthread_mutex_unlock(&p->mu);
                pool_close(p, pc);
                pthread_mutex_lock(&p->mu);
                continue;
            }
            pthread_mutex_unlock(&p->mu);
            pc->reused = true;
            pc->next = NULL;
            *out = pc;
            return SS_OK;
        }
        if (p->open_count < p->cfg.max_open) {
            /* The slot is counted before connecting, so concurrent opens cannot overshoot
             * max_open while the lock is dropped for the (slow) connect. */
            p->open_count++;
            unsigned gen = p->generation;
            pthread_mutex_unlock(&p->mu);
            ss_pool_conn *pc = calloc(1, sizeof *pc);
            ss_code rc = pc ? p->cfg.open(p->cfg.arg, &pc->conn, err)
                            : ss_error_set(err, SS_NOMEM, "out of memory allocating a connection");
            if (rc != SS_OK) {
                free(pc);
                pthread_mutex_lock(&p->mu);
                p->open_count--;
                pthread_cond_signal(&p->cv);
                pthread_mutex_unlock(&p->mu);
                return rc;
            }
            pc->created_ms = ss_monotonic_ms();
            pc->generation = gen;
            *out = pc;
            return SS_OK;
        }
        if (deadline - ss_monotonic_ms() <= 0) {
            pthread_mutex_unlock(&p->mu);
            return p->cfg.exhausted(p->cfg.arg, err);
        }
        struct timespec ts;
        timespec_at(&ts, deadline);
        pthread_cond_timedwait(&p->cv, &p->mu, &ts); /* the loop re-checks, woken or not */
    }
}

void *ss_pool_conn_get(const ss_pool_conn *pc)
{
    return pc->conn;
}

bool ss_pool_conn_reused(const ss_pool_conn *pc)
{
    return pc->reused;
}

bool ss_pool_release(ss_pool *p, ss_pool_conn *pc, ss_code rc)
{
    if (!pc) return false;
    ss_pool_verdict v = p->cfg.check(p->cfg.arg, pc->conn);
    bool retry = rc == SS_UNAVAILABLE && pc->reused && v == SS_POOL_DEAD;
    pthread_mutex_lock(&p->mu);
    bool drop = v != SS_POOL_KEEP || (p->cfg.max_idle >= 0 && p->idle_count >= p->cfg.max_idle);
    if (v == SS_POOL_DEAD) p->generation++;
    if (drop) {
        p->open_count--;
    } else {
        pc->last_used_ms = ss_monotonic_ms();
        pc->next = p->idle;
        p->idle = pc;
        p->idle_count++;
    }
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (drop) pool_close(p, pc);
    return retry;
}

ss_code ss_pool_run(ss_pool *p, bool repeatable,
                    ss_code (*fn)(void *conn, void *arg, ss_error *err), void *arg, ss_error *err)
{
    ss_code rc = SS_UNAVAILABLE;
    for (int attempt = 0; attempt < 2; attempt++) {
        ss_pool_conn *pc;
        rc = ss_pool_acquire(p, &pc, err);
        if (rc != SS_OK) return rc;
        rc = fn(pc->conn, arg, err);
        if (!ss_pool_release(p, pc, rc) || !repeatable) break;
    }
    return rc;
}

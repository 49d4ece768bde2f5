/*
 * test_pool.c — src/support/pool.c with fake in-process connections: reuse and the `reused`
 * flag, max open respected by many threads, the wait for a free connection (woken by a release,
 * or TIMEOUT with the driver's message), stale connections dropped (idle time, lifetime, an
 * older generation after a dead one), max idle, failed opens giving their slot back, the
 * retry verdict of release, ss_pool_run's one retry, and destroy closing what is idle.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "statestore/driver.h"
#include "support/pool.h"

typedef struct fake_conn {
    int id;
    bool dead;  /* the "server" closed it */
    bool dirty; /* left mid-transaction */
} fake_conn;

typedef struct fake_env {
    atomic_int opened, closed, in_use, max_in_use;
    atomic_int fail_opens; /* the next this many opens fail */
} fake_env;

static ss_code fake_open(void *arg, void **conn, ss_error *err)
{
    fake_env *env = arg;
    if (atomic_load(&env->fail_opens) > 0) {
        atomic_fetch_sub(&env->fail_opens, 1);
        return ss_error_set(err, SS_UNAVAILABLE, "connection refused");
    }
    fake_conn *c = calloc(1, sizeof *c);
    if (!c) return ss_error_set(err, SS_NOMEM, "out of memory");
    c->id = atomic_fetch_add(&env->opened, 1) + 1;
    *conn = c;
    return SS_OK;
}

static void fake_close(void *arg, void *conn)
{
    fake_env *env = arg;
    atomic_fetch_add(&env->closed, 1);
    free(conn);
}

static ss_pool_verdict fake_check(void *arg, void *conn)
{
    (void)arg;
    const fake_conn *c = conn;
    return c->dead ? SS_POOL_DEAD : c->dirty ? SS_POOL_DROP : SS_POOL_KEEP;
}

static ss_code fake_exhausted(void *arg, ss_error *err)
{
    (void)arg;
    return ss_error_set(err, SS_TIMEOUT, "no free connection (fake)");
}

static ss_pool *make_pool(fake_env *env, int64_t max_open, int64_t max_idle, int64_t idle_ms,
                          int64_t lifetime_ms, int64_t wait_ms)
{
    memset(env, 0, sizeof *env);
    ss_pool_config cfg = {
        .max_open = max_open,
        .max_idle = max_idle,
        .idle_ms = idle_ms,
        .lifetime_ms = lifetime_ms,
        .wait_ms = wait_ms,
        .arg = env,
        .open = fake_open,
        .close = fake_close,
        .check = fake_check,
        .exhausted = fake_exhausted,
    };
    ss_pool *p = NULL;
    ss_error err;
    CHECK_RC(ss_pool_create(&cfg, &p, &err), SS_OK, &err);
    return p;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static fake_conn *conn_of(const ss_pool_conn *pc)
{
    return ss_pool_conn_get(pc);
}

static void test_reuse(void)
{
    fake_env env;
    ss_pool *p = make_pool(&env, 2, -1, 0, 0, 1000);
    ss_error err;
    ss_pool_conn *a, *b;
    CHECK_RC(ss_pool_acquire(p, &a, &err), SS_OK, &err);
    CHECK(!ss_pool_conn_reused(a));
    int id = conn_of(a)->id;
    CHECK(!ss_pool_release(p, a, SS_OK));
    CHECK_RC(ss_pool_acquire(p, &b, &err), SS_OK, &err);
    CHECK(ss_pool_conn_reused(b));
    CHECK(conn_of(b)->id == id);
    CHECK(atomic_load(&env.opened) == 1);
    /* A failure on a healthy connection is the server's answer: no retry. */
    CHECK(!ss_pool_release(p, b, SS_UNAVAILABLE));
    CHECK(!ss_pool_release(p, NULL, SS_OK));
    ss_pool_destroy(p);
    CHECK(atomic_load(&env.closed) == 1);
    ss_pool_destroy(NULL);
}

typedef struct worker {
    ss_pool *p;
    fake_env *env;
    int iterations;
    int failures;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->iterations; i++) {
        ss_pool_conn *pc;
        ss_error err;
        if (ss_pool_acquire(w->p, &pc, &err) != SS_OK) {
            w->failures++;
            continue;
        }
        int now = atomic_fetch_add(&w->env->in_use, 1) + 1;
        int seen = atomic_load(&w->env->max_in_use);
        while (now > seen && !atomic_compare_exchange_weak(&w->env->max_in_use, &seen, now)) {
        }
        if (i % 7 == 0) sleep_ms(1);
        /* Now and then the connection "dies" or is left dirty, so slots are freed and
         * re-opened under contention too. */
        if (i % 50 == 0) conn_of(pc)->dead = true;
        if (i % 31 == 0) conn_of(pc)->dirty = true;
        atomic_fetch_sub(&w->env->in_use, 1);
        ss_pool_release(w->p, pc, SS_OK);
    }
    return NULL;
}

static void test_max_open_threads(void)
{
    enum { THREADS = 8, MAX_OPEN = 3 };
    fake_env env;
    ss_pool *p = make_pool(&env, MAX_OPEN, -1, 0, 0, 30000);
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){p, &env, 300, 0};
        CHECK(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        failures += w[i].failures;
    }
    CHECK(failures == 0);
    CHECK(atomic_load(&env.max_in_use) <= MAX_OPEN);
    CHECK(atomic_load(&env.max_in_use) >= 2); /* the threads did contend */
    CHECK(atomic_load(&env.opened) - atomic_load(&env.closed) <= MAX_OPEN);
    ss_pool_destroy(p);
    CHECK(atomic_load(&env.opened) == atomic_load(&env.closed));
}

static void test_timeout(void)
{
    fake_env env;
    ss_pool *p = make_pool(&env, 1, -1, 0, 0, 200);
    ss_error err;
    ss_pool_conn *a, *b = NULL;
    CHECK_RC(ss_pool_acquire(p, &a, &err), SS_OK, &err);
    int64_t t0 = ss_monotonic_ms();
    CHECK_RC(ss_pool_acquire(p, &b, &err), SS_TIMEOUT, &err);
    int64_t waited = ss_monotonic_ms() - t0;
    CHECK(waited >= 190 && waited < 5000);
    CHECK_STR(err.message, "no free connection (fake)");
    CHECK(b == NULL);
    ss_pool_release(p, a, SS_OK);
    CHECK_RC(ss_pool_acquire(p, &b, &err), SS_OK, &err);
    ss_pool_release(p, b, SS_OK);
    ss_pool_destroy(p);
}

typedef struct holder {
    ss_pool *p;
    ss_pool_conn *pc;
} holder;

static void *holder_main(void *arg)
{
    holder *h = arg;
    sleep_ms(100);
    ss_pool_release(h->p, h->pc, SS_OK);
    return NULL;
}

static void test_wait_woken(void)
{
    fake_env env;
    ss_pool *p = make_pool(&env, 1, -1, 0, 0, 10000);
    ss_error err;
    holder h = {p, NULL};
    CHECK_RC(ss_pool_acquire(p, &h.pc, &err), SS_OK, &err);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, holder_main, &h) == 0);
    int64_t t0 = ss_monotonic_ms();
    ss_pool_conn *b;
    CHECK_RC(ss_pool_acquire(p, &b, &err), SS_OK, &err);
    int64_t waited = ss_monotonic_ms() - t0;
    CHECK(waited >= 50 && waited < 5000);
    CHECK(ss_pool_conn_reused(b));
    pthread_join(t, NULL);
    ss_pool_release(p, b, SS_OK);
    CHECK(atomic_load(&env.opened) == 1);
    ss_pool_destroy(p);
}

static void test_generation(void)
{
    fake_env env;
    ss_pool *p = make_pool(&env, 3, -1, 0, 0, 1000);
    ss_error err;
    ss_pool_conn *a, *b, *c;
    CHECK_RC(ss_pool_acquire(p, &a, &err), SS_OK, &err);
    CHECK_RC(ss_pool_acquire(p, &b, &err), SS_OK, &err);
    CHECK_RC(ss_pool_acquire(p, &c, &err), SS_OK, &err);
    ss_pool_release(p, b, SS_OK);
    ss_pool_release(p, c, SS_OK);
    /* a was fresh: its death is news about the server, not worth a retry */
    conn_of(a)->dead = true;
    CHECK(!ss_pool_release(p, a, SS_UNAVAILABLE));
    CHECK(atomic_load(&env.closed) == 1);
    /* b and c were idle when a died: both are dropped on the next acquire */
    ss_pool_conn *d;
    CHECK_RC(ss_pool_acquire(p, &d, &err), SS_OK, &err);
    CHECK(!ss_pool_conn_reused(d));
    CHECK(atomic_load(&env.closed) == 3);
    CHECK(atomic_load(&env.opened) == 4);
    ss_pool_release(p, d, SS_OK);

    /* A reused connection that turns out dead is worth one retry, for a failure only. */
    CHECK_RC(ss_pool_acquire(p, &d, &err), SS_OK, &err);
    CHECK(ss_pool_conn_reused(d));
    conn_of(d)->dead = true;
    CHECK(ss_pool_release(p, d, SS_UNAVAILABLE));
    CHECK_RC(ss_pool_acquire(p, &d, &err), SS_OK, &err);
    CHECK(!ss_pool_conn_reused(d));
    ss_pool_release(p, d, SS_OK);
    CHECK_RC(ss_pool_acquire(p, &d, &err), SS_OK, &err);
    conn_of(d)->dead = true;
    CHECK(!ss_pool_release(p, d, SS_OK));
    CHECK_RC(ss_pool_acquire(p, &d, &err), SS_OK, &err);
    conn_of(d)->dead = true;
    CHECK(!ss_pool_release(p, d, SS_ETAG_MISMATCH));

    /* A dirty connection is closed but says nothing about its idle siblings. */
    ss_pool_conn *e, *f;
    CHECK_RC(ss_pool_acquire(p, &e, &err), SS_OK, &err);
    CHECK_RC(ss_pool_acquire(p, &f, &err), SS_OK, &err);
    ss_pool_release(p, f, SS_OK);
    int closed = atomic_load(&env.closed);
    conn_of(e)->dirty = true;
    CHECK(!ss_pool_release(p, e, SS_UNAVAILABLE));
    CHECK(atomic_load(&env.closed) == closed + 1);
    CHECK_RC(ss_pool_acquire(p, &f, &err), SS_OK, &err);
    CHECK(ss_pool_conn_reused(f));
    ss_pool_release(p, f, SS_OK);
    ss_pool_destroy(p);
    CHECK(atomic_load(&env.opened) == atomic_load(&env.closed));
}

static void test_idle_and_lifetime(void)
{
    fake_env env;
    ss_error err;
    ss_pool_conn *a;

    ss_pool *p = make_pool(&env, 2, -1, 80, 0, 1000);
    CHECK_RC(ss_pool_acquire(p, &a, &err), SS_OK, &err);
    ss_pool_release(p, a, SS_OK);
    CHECK_RC(ss_pool_acquire(p, &a, &err), SS_OK, &err);
    CHECK(ss_pool_conn_reused(a));
    ss_pool_release(p, a, SS_OK);
    sleep_ms(200);
    CHECK_RC(ss_pool_acquire(p, &a, &err), SS_OK, &err);
    CHECK(!ss_pool_conn_reused(a));
    CHECK(atomic_load(&env.closed) == 1);
    ss_pool_release(p, a, SS_OK);
    ss_pool_destroy(p);

    /* lifetime counts from the open, however recently the connection was used */
    p = make_pool(&env, 2, -1, 0, 200, 1000);
    CHECK_RC(ss_pool_acquire(p, &a, &err), SS_OK, &err);
    ss_pool_release(p, a, SS_OK);
    CHECK_RC(ss_pool_acquire(p, &a, &err), SS_OK, &err);
    CHECK(ss_pool_conn_reused(a));
    sleep_ms(250); /* held, not idle */
    ss_pool_release(p, a, SS_OK);
    CHECK_RC(ss_pool_acquire(p, &a, &err), SS_OK, &err);
    CHECK(!ss_pool_conn_reused(a));
    CHECK(atomic_load(&env.opened) == 2 && atomic_load(&env.closed) == 1);
    ss_pool_release(p, a, SS_OK);
    ss_pool_destroy(p);
}

static void test_max_idle(void)
{
    fake_env env;
    ss_error err;
    for (int max_idle = 0; max_idle <= 1; max_idle++) {
        ss_pool *p = make_pool(&env, 3, max_idle, 0, 0, 1000);
        ss_pool_conn *c[3];
        for (int i = 0; i < 3; i++) CHECK_RC(ss_pool_acquire(p, &c[i], &err), SS_OK, &err);
        for (int i = 0; i < 3; i++) ss_pool_release(p, c[i], SS_OK);
        CHECK(atomic_load(&env.closed) == 3 - max_idle);
        ss_pool_destroy(p);
        CHECK(atomic_load(&env.closed) == 3);
    }
    /* max_idle < 0 keeps everything */
    ss_pool *p = make_pool(&env, 3, -1, 0, 0, 1000);
    ss_pool_conn *c[3];
    for (int i = 0; i < 3; i++) CHECK_RC(ss_pool_acquire(p, &c[i], &err), SS_OK, &err);
    for (int i = 0; i < 3; i++) ss_pool_release(p, c[i], SS_OK);
    CHECK(atomic_load(&env.closed) == 0);
    ss_pool_destroy(p);
    CHECK(atomic_load(&env.closed) == 3);
}

static void test_open_failure(void)
{
    fake_env env;
    ss_error err;
    ss_pool *p = make_pool(&env, 1, -1, 0, 0, 200);
    atomic_store(&env.fail_opens, 2);
    ss_pool_conn *a = NULL;
    CHECK_RC(ss_pool_acquire(p, &a, &err), SS_UNAVAILABLE, &err);
    CHECK_STR(err.message, "connection refused");
    CHECK(a == NULL);
    /* the failed open gave its slot back: no TIMEOUT with max_open 1 */
    CHECK_RC(ss_pool_acquire(p, &a, &err), SS_UNAVAILABLE, &err);
    CHECK_RC(ss_pool_acquire(p, &a, &err), SS_OK, &err);
    ss_pool_release(p, a, SS_OK);
    ss_pool_destroy(p);
    CHECK(atomic_load(&env.opened) == 1 && atomic_load(&env.closed) == 1);
}

/* The work ss_pool_run does: counts its calls, and fails on (and kills) the connection while
 * kill_left says so, as a server restart does to every idle connection. */
typedef struct run_work {
    int calls;
    int kill_left;
    ss_code fail_with;
} run_work;

static ss_code run_fn(void *conn, void *arg, ss_error *err)
{
    run_work *w = arg;
    fake_conn *c = conn;
    w->calls++;
    if (w->kill_left > 0) {
        w->kill_left--;
        c->dead = true;
        return ss_error_set(err, w->fail_with, "connection lost (fake)");
    }
    return SS_OK;
}

static void test_run(void)
{
    fake_env env;
    ss_error err;
    ss_pool *p = make_pool(&env, 2, -1, 0, 0, 1000);
    run_work w = {0};
    CHECK_RC(ss_pool_run(p, true, run_fn, &w, &err), SS_OK, &err);
    CHECK(w.calls == 1);

    /* the idle connection died: repeatable work runs again on a fresh one and succeeds */
    w = (run_work){.kill_left = 1, .fail_with = SS_UNAVAILABLE};
    CHECK_RC(ss_pool_run(p, true, run_fn, &w, &err), SS_OK, &err);
    CHECK(w.calls == 2);

    /* work that is not safe to repeat gets the failure */
    w = (run_work){.kill_left = 1, .fail_with = SS_UNAVAILABLE};
    CHECK_RC(ss_pool_run(p, false, run_fn, &w, &err), SS_UNAVAILABLE, &err);
    CHECK(w.calls == 1);

    /* a fresh connection's failure is the server's answer: one call only */
    w = (run_work){.kill_left = 2, .fail_with = SS_UNAVAILABLE};
    CHECK_RC(ss_pool_run(p, true, run_fn, &w, &err), SS_UNAVAILABLE, &err);
    CHECK(w.calls == 1);

    /* at most one retry, even when the fresh connection dies too */
    CHECK_RC(ss_pool_run(p, true, run_fn, &(run_work){0}, &err), SS_OK, &err);
    w = (run_work){.kill_left = 2, .fail_with = SS_UNAVAILABLE};
    CHECK_RC(ss_pool_run(p, true, run_fn, &w, &err), SS_UNAVAILABLE, &err);
    CHECK(w.calls == 2);

    /* other failures are never retried */
    CHECK_RC(ss_pool_run(p, true, run_fn, &(run_work){0}, &err), SS_OK, &err);
    w = (run_work){.kill_left = 1, .fail_with = SS_ETAG_MISMATCH};
    CHECK_RC(ss_pool_run(p, true, run_fn, &w, &err), SS_ETAG_MISMATCH, &err);
    CHECK(w.calls == 1);

    /* no connection to be had: acquire's error, and the work never runs */
    ss_pool_destroy(p);
    p = make_pool(&env, 1, -1, 0, 0, 200);
    atomic_store(&env.fail_opens, 1);
    w = (run_work){0};
    CHECK_RC(ss_pool_run(p, true, run_fn, &w, &err), SS_UNAVAILABLE, &err);
    CHECK_STR(err.message, "connection refused");
    CHECK(w.calls == 0);
    ss_pool_destroy(p);
    CHECK(atomic_load(&env.opened) == atomic_load(&env.closed));
}

int main(void)
{
    test_reuse();
    test_max_open_threads();
    test_timeout();
    test_wait_woken();
    test_generation();
    test_idle_and_lifetime();
    test_max_idle();
    test_open_failure();
    test_run();
    return check_done("test_pool");
}

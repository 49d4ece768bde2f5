/* periodic.c — see periodic.h. */
#include "support/periodic.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct ss_periodic {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC: wall-clock jumps must not skip or repeat sweeps */
    bool stopping;
    int64_t interval_ms;
    void (*task)(void *arg);
    void *arg;
};

static void deadline_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *periodic_main(void *arg)
{
    ss_periodic *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stopping) {
        struct timespec ts;
        deadline_after(&ts, p->interval_ms);
        int rc = 0;
        while (!p->stopping && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (p->stopping) break;
        /* The task runs unlocked, so stopping never waits on the lock for a whole sweep. */
        pthread_mutex_unlock(&p->mu);
        p->task(p->arg);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

ss_periodic *ss_periodic_start(int64_t interval_ms, void (*task)(void *arg), void *arg)
{
    if (interval_ms <= 0 || !task) return NULL;
    ss_periodic *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->interval_ms = interval_ms;
    p->task = task;
    p->arg = arg;
    pthread_condattr_t ca;
    bool ca_ok = pthread_condattr_init(&ca) == 0;
    if (ca_ok) pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    bool cv_ok = ca_ok && pthread_cond_init(&p->cv, &ca) == 0;
    if (ca_ok) pthread_condattr_destroy(&ca);
    bool mu_ok = cv_ok && pthread_mutex_init(&p->mu, NULL) == 0;
    if (mu_ok && pthread_create(&p->thread, NULL, periodic_main, p) == 0) return p;
    if (mu_ok) pthread_mutex_destroy(&p->mu);
    if (cv_ok) pthread_cond_destroy(&p->cv);
    free(p);
    return NULL;
}

void ss_periodic_stop(ss_periodic *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

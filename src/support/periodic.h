/*
 * periodic.h — a background thread that runs one task at a fixed interval until stopped: the
 * expired-row sweeps of the drivers that keep TTLs themselves (memory, sqlite, postgresql,
 * mysql). Stopping wakes the thread at once (no waiting out the interval) and joins it.
 */
#ifndef SS_SUPPORT_PERIODIC_H
#define SS_SUPPORT_PERIODIC_H

#include <stdint.h>

typedef struct ss_periodic ss_periodic;

/*
 * Starts a thread that calls task(arg) every interval_ms (> 0), the first time one interval
 * after the start. NULL when the thread cannot be started (out of memory or threads).
 */
ss_periodic *ss_periodic_start(int64_t interval_ms, void (*task)(void *arg), void *arg);

/* Stops the thread (a task already running finishes first), joins it, frees. NULL is fine. */
void ss_periodic_stop(ss_periodic *p);

#endif

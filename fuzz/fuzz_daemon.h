/*
 * fuzz_daemon.h — the daemon as the request-handling fuzz targets see it: a memory store and a
 * prefixed memory store behind one dserver, and main.c's logging silenced.
 * One definition per target: include it from exactly one file.
 */
#ifndef SS_FUZZ_DAEMON_H
#define SS_FUZZ_DAEMON_H

#include "daemon.h"

#include <stdio.h>
#include <stdlib.h>

/* main.c's logging, which the handlers call; fuzzing wants it silent. */
ss_log_level dlog_level = SS_LOG_ERROR;
void dlog(ss_log_level level, const char *fmt, ...)
{
    (void)level;
    (void)fmt;
}

static dstore fuzz_stores[2];
static dserver srv;

static void quiet_log(void *ctx, ss_log_level level, const char *message)
{
    (void)ctx;
    (void)level;
    (void)message;
}

static ss_store *open_memory(const char *name)
{
    ss_config cfg = {.driver = "memory", .name = name, .log = quiet_log};
    ss_store *s = NULL;
    ss_error err;
    if (ss_open(&s, &cfg, &err) != SS_OK) {
        fprintf(stderr, "fuzz: %s\n", err.message);
        abort();
    }
    return s;
}

/* Stores "mem" (no prefix) and "pfx" (prefix "app||"), app id "app", 64 items at most. */
static void fuzz_daemon_init(void)
{
    fuzz_stores[0] = (dstore){.name = "mem", .type = "state.memory", .version = "v1"};
    fuzz_stores[1] = (dstore){
        .name = "pfx", .type = "state.memory", .version = "v1", .prefix = "app||", .prefix_len = 5};
    for (int i = 0; i < 2; i++) {
        fuzz_stores[i].store = open_memory(fuzz_stores[i].name);
        ss_store_features(fuzz_stores[i].store, &fuzz_stores[i].features);
    }
    srv = (dserver){.stores = fuzz_stores, .nstores = 2, .app_id = "app", .max_items = 64};
}

#endif

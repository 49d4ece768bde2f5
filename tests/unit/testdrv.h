/*
 * testdrv.h — drivers for the unit tests, registered with ss_register_driver. They record what
 * the core hands them (to check validation and normalisation) and answer from a script (to
 * check retries, bulk fallbacks and error decoration). One set of globals per test process.
 */
#ifndef SS_UNIT_TESTDRV_H
#define SS_UNIT_TESTDRV_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <statestore.h>
#include <statestore/driver.h>

#define TD_SCRIPT_MAX 64

typedef struct td_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls; /* every get/set/del/transact call */
    int opens;
    /* The last op seen. */
    ss_drv_kind kind;
    ss_cond cond;
    char etag[64];
    bool etag_null;
    ss_consistency consistency;
    ss_ttl_mode ttl_mode;
    int64_t ttl_seconds;
    char key[512];
    size_t value_len;
    bool value_null;
    size_t tx_count;
    /* Scripted answers: code and text per call; past the end, SS_OK. */
    ss_code script[TD_SCRIPT_MAX];
    const char *script_text[TD_SCRIPT_MAX];
    int script_len;
    int script_pos;
    /* Parallelism probe: the first `gate` calls wait until `gate` calls are in flight. */
    int gate;
    int gate_seen;
    bool gate_open;
    int in_flight;
    int max_in_flight;
    /* The last ctx a driver was opened with. */
    ss_ctx *ctx;
} td_state;

static td_state td = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static inline void td_reset(void)
{
    pthread_mutex_lock(&td.mu);
    td.calls = 0;
    td.script_len = 0;
    td.script_pos = 0;
    td.gate = 0;
    td.gate_seen = 0;
    td.gate_open = false;
    td.in_flight = 0;
    td.max_in_flight = 0;
    td.key[0] = '\0';
    td.etag[0] = '\0';
    pthread_mutex_unlock(&td.mu);
}

static inline void td_script(int n, const ss_code *codes, const char *const *texts)
{
    pthread_mutex_lock(&td.mu);
    for (int i = 0; i < n && i < TD_SCRIPT_MAX; i++) {
        td.script[i] = codes[i];
        td.script_text[i] = texts ? texts[i] : NULL;
    }
    td.script_len = n;
    td.script_pos = 0;
    pthread_mutex_unlock(&td.mu);
}

/* Records op, waits at the gate if armed, and answers the next scripted code. */
static inline ss_code td_enter(const ss_op *op, ss_error *err)
{
    pthread_mutex_lock(&td.mu);
    td.calls++;
    if (op) {
        td.kind = op->kind;
        td.cond = op->cond;
        td.etag_null = op->etag == NULL;
        snprintf(td.etag, sizeof td.etag, "%s", op->etag ? op->etag : "");
        td.consistency = op->consistency;
        td.ttl_mode = op->ttl_mode;
        td.ttl_seconds = op->ttl_seconds;
        snprintf(td.key, sizeof td.key, "%s", op->key);
        td.value_len = op->value_len;
        td.value_null = op->value == NULL;
    }
    td.in_flight++;
    if (td.in_flight > td.max_in_flight) td.max_in_flight = td.in_flight;
    if (td.gate > 0 && td.gate_seen < td.gate) {
        td.gate_seen++;
        if (td.in_flight >= td.gate) {
            td.gate_open = true;
            pthread_cond_broadcast(&td.cv);
        }
        /* Bounded so a serial implementation fails the test instead of hanging it. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        while (!td.gate_open)
            if (pthread_cond_timedwait(&td.cv, &td.mu, &until) != 0) break;
        td.gate_open = true; /* after a timeout, later calls must not wait again */
    }
    ss_code rc = SS_OK;
    const char *text = NULL;
    if (td.script_pos < td.script_len) {
        rc = td.script[td.script_pos];
        text = td.script_text[td.script_pos];
        td.script_pos++;
    }
    int attempt = td.calls;
    pthread_mutex_unlock(&td.mu);
    if (rc != SS_OK) {
        if (text)
            ss_error_set(err, rc, "%s", text);
        else
            ss_error_set(err, rc, "scripted failure on call %d", attempt);
    }
    return rc;
}

static inline void td_leave(void)
{
    pthread_mutex_lock(&td.mu);
    td.in_flight--;
    pthread_mutex_unlock(&td.mu);
}

static inline ss_code td_open(void *self, ss_ctx *ctx, ss_error *err)
{
    pthread_mutex_lock(&td.mu);
    td.opens++;
    td.ctx = ctx;
    pthread_mutex_unlock(&td.mu);
    return SS_OK;
}

static inline void td_close(void *self) {}

static inline ss_code td_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    ss_code rc = td_enter(op, err);
    /* The value is the key, so tests can check results arrive in request order. */
    if (rc == SS_OK && strcmp(op->key, "missing") != 0) {
        *out = ss_value_new(op->key, op->key_len, "drv-etag");
        if (!*out) rc = ss_error_set(err, SS_NOMEM, "oom");
    }
    td_leave();
    return rc;
}

static inline ss_code td_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    ss_code rc = td_enter(op, err);
    /* Even the drivers that declare no ETags answer one: the core must drop it. */
    if (rc == SS_OK) *etag_out = ss_strdup("drv-etag");
    td_leave();
    return rc;
}

static inline ss_code td_del(void *self, const ss_op *op, ss_error *err)
{
    ss_code rc = td_enter(op, err);
    td_leave();
    return rc;
}

static inline ss_code td_transact(void *self, const ss_op *ops, size_t count, const ss_pair *md,
                                  size_t mdc, ss_error *err)
{
    pthread_mutex_lock(&td.mu);
    td.tx_count = count;
    pthread_mutex_unlock(&td.mu);
    ss_code rc = td_enter(count ? &ops[count - 1] : NULL, err);
    td_leave();
    return rc;
}

/* Bulk slots: each item answers from the script in order; a scripted code on the first
 * call with text "WHOLE" fails the whole call instead. */
static inline ss_code td_bulk(const ss_op *ops, size_t count, ss_results *out, ss_error *err,
                              bool with_value)
{
    ss_error e = {0};
    for (size_t i = 0; i < count; i++) {
        memset(&e, 0, sizeof e);
        ss_code rc = td_enter(&ops[i], &e);
        td_leave();
        if (rc != SS_OK && strcmp(e.message, "WHOLE") == 0)
            return ss_error_set(err, rc, "whole call failed");
        out->items[i].code = rc;
        if (rc != SS_OK)
            out->items[i].error = ss_strdup(e.message);
        else if (with_value)
            out->items[i].value = ss_value_new(ops[i].key, ops[i].key_len, NULL);
    }
    return SS_OK;
}

static inline ss_code td_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                                  ss_error *err)
{
    return td_bulk(ops, count, out, err, true);
}

static inline ss_code td_bulk_set(void *self, const ss_op *ops, size_t count, ss_results *out,
                                  ss_error *err)
{
    return td_bulk(ops, count, out, err, false);
}

/* Declares nothing: every feature-gated request must be refused before reaching it. */
static const ss_driver td_plain = {
    .abi = SS_DRIVER_ABI,
    .info = {.name = "plain", .version = "1", .summary = "declares nothing"},
    .instance_size = 8,
    .open = td_open,
    .close = td_close,
    .get = td_get,
    .set = td_set,
    .del = td_del,
};

static const char *const td_rec_aliases[] = {"rec", "recorder-alias", NULL};

static const ss_property td_rec_props[] = {
    {"host", true, false, NULL, "required"},         {"password", false, true, NULL, "a secret"},
    {"port", false, false, "6379", "has a default"}, {"enabled", false, false, NULL, "a boolean"},
    {"timeout", false, false, "5s", "a duration"},
};

/* Every feature and some limits, no bulk slots (so bulk uses the fallback). */
static const ss_driver td_rec = {
    .abi = SS_DRIVER_ABI,
    .info = {.name = "recorder",
             .aliases = td_rec_aliases,
             .version = "1",
             .summary = "records ops",
             .features = {.flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE |
                                   SS_FEATURE_TRANSACTIONAL | SS_FEATURE_TTL,
                          .max_tx_ops = 3,
                          .max_key_len = 16,
                          .max_value_len = 8},
             .properties = td_rec_props,
             .property_count = sizeof td_rec_props / sizeof td_rec_props[0]},
    .open = td_open,
    .close = td_close,
    .get = td_get,
    .set = td_set,
    .del = td_del,
    .transact = td_transact,
};

/* Native bulk get/set (bulk delete falls back to the loop). */
static const ss_driver td_bulky = {
    .abi = SS_DRIVER_ABI,
    .info = {.name = "bulky",
             .version = "1",
             .summary = "native bulk",
             .features = {.flags = SS_FEATURE_ETAG | SS_FEATURE_BULK_NATIVE}},
    .open = td_open,
    .close = td_close,
    .get = td_get,
    .set = td_set,
    .del = td_del,
    .bulk_get = td_bulk_get,
    .bulk_set = td_bulk_set,
};

static inline bool td_register_all(void)
{
    ss_error err = {0};
    const ss_driver *all[] = {&td_plain, &td_rec, &td_bulky};
    for (size_t i = 0; i < 3; i++) {
        if (ss_register_driver(all[i], &err) != SS_OK) {
            fprintf(stderr, "register %s: %s\n", all[i]->info.name, err.message);
            return false;
        }
    }
    return true;
}

/* Opens a store on a test driver; recorder gets its required host. */
static inline ss_store *td_open_store(const char *driver, const char *name)
{
    ss_pair props[] = {{"host", "localhost"}};
    bool rec = strcmp(driver, "recorder") == 0;
    ss_config cfg = {.driver = driver,
                     .name = name,
                     .properties = rec ? props : NULL,
                     .property_count = rec ? 1 : 0};
    ss_store *s = NULL;
    ss_error err = {0};
    if (ss_open(&s, &cfg, &err) != SS_OK) fprintf(stderr, "open %s: %s\n", driver, err.message);
    return s;
}

#endif

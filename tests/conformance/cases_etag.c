/*
 * cases_etag.c — ETags, first-write, and concurrent read-modify-write.
 *
 * Where Dapr's suite uses a per-store "bad ETag", this suite uses a *stale* ETag: one the store
 * itself issued for the same key before a later write. It is well-formed for every store, so
 * the only right answer is ETAG_MISMATCH. Garbage ETags are checked separately
 * (etag-malformed), where ETAG_MISMATCH and ETAG_INVALID are both accepted, as in Dapr.
 */
#include "conformance.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool etags_differ(cf_t *t, const char *what, const char *a, const char *b)
{
    if (strcmp(a, b) != 0) return true;
    return cf_fail(t, "%s: the ETag did not change (%s)", what, cf_show(t, a, strlen(a)));
}

static bool etag_is(cf_t *t, const char *what, const char *want, const char *got)
{
    if (got && strcmp(want, got) == 0) return true;
    return cf_fail(t, "%s: expected ETag %s, got %s", what, cf_show(t, want, strlen(want)),
                   got ? cf_show(t, got, strlen(got)) : "none");
}

/* Dapr's "etag" test, step by step, including partial bulk failures. */
static void case_etag_sequence(cf_t *t)
{
    const char *k[4];
    ss_set_request first[4];
    for (size_t i = 0; i < 4; i++) {
        k[i] = cf_key(t, cf_fmt(t, "%zu", i));
        first[i] = (ss_set_request){.key = k[i], .value = "\"first-value\"", .value_len = 13};
    }
    cf_step(t, "bulk set 4 keys without ETag");
    REQUIRE(cf_bulk_set(t, first, 4, CF_WANT(OK), NULL, NULL));

    cf_step(t, "get key0 and bulk get keys 1-3: non-empty ETags");
    char *e0 = NULL;
    REQUIRE(cf_etag_of(t, k[0], &e0));
    ss_get_request gets[3] = {{.key = k[1]}, {.key = k[2]}, {.key = k[3]}};
    ss_results *r = NULL;
    REQUIRE(cf_bulk_get(t, gets, 3, NULL, &r));
    char *e[4] = {e0, NULL, NULL, NULL};
    for (size_t i = 0; i < 3; i++) {
        const ss_value *v = r->items[i].value;
        if (!v) {
            cf_fail(t, "bulk get item %zu: missing", i);
            return;
        }
        REQUIRE(
            cf_same(t, cf_fmt(t, "bulk get item %zu", i), "\"first-value\"", 13, v->data, v->len));
        e[i + 1] = cf_strdup(t, v->etag);
    }

    cf_step(t, "set key0 with a stale ETag");
    char *e0_new = NULL;
    REQUIRE(cf_put(t, k[0], "\"second-value\"", 14, &e0_new)); /* makes e0 stale */
    ss_set_request s = {.key = k[0], .value = "\"never\"", .value_len = 7, .etag = e0};
    REQUIRE(cf_set_req(t, &s, CF_WANT(ETAG_MISMATCH), NULL));
    REQUIRE(cf_expects(t, k[0], "\"second-value\""));

    cf_step(t, "set key0 with the current ETag");
    char *e0_third = NULL;
    s = (ss_set_request){.key = k[0], .value = "\"third-value\"", .value_len = 13, .etag = e0_new};
    REQUIRE(cf_set_req(t, &s, CF_WANT(OK), &e0_third));
    REQUIRE(etags_differ(t, "set key0 with the current ETag", e0_new, e0_third));
    REQUIRE(cf_expects(t, k[0], "\"third-value\""));

    cf_step(t, "bulk set {key1 stale ETag, key2 current ETag}: partial failure");
    char *e1_stale = e[1];
    REQUIRE(cf_put(t, k[1], "\"second-value\"", 14, &e[1]));
    ss_set_request two[2] = {
        {.key = k[1], .value = "\"never\"", .value_len = 7, .etag = e1_stale},
        {.key = k[2], .value = "\"second-value\"", .value_len = 14, .etag = e[2]},
    };
    const unsigned want_items[2] = {CF_WANT(ETAG_MISMATCH), CF_WANT(OK)};
    REQUIRE(cf_bulk_set(t, two, 2, CF_WANT(ETAG_MISMATCH), want_items, NULL));
    ss_value *v = NULL;
    REQUIRE(cf_expect(t, k[1], "\"second-value\"", 14, &v));
    REQUIRE(etag_is(t, "key1 after its failed write", e[1], v->etag));
    REQUIRE(cf_expect(t, k[2], "\"second-value\"", 14, &v));
    REQUIRE(etags_differ(t, "key2 after its successful write", e[2], v->etag));
    e[2] = cf_strdup(t, v->etag);

    cf_step(t, "bulk set key1, key2 with current ETags");
    ss_set_request third[2] = {
        {.key = k[1], .value = "\"third-value\"", .value_len = 13, .etag = e[1]},
        {.key = k[2], .value = "\"third-value\"", .value_len = 13, .etag = e[2]},
    };
    ss_results *sr = NULL;
    REQUIRE(cf_bulk_set(t, third, 2, CF_WANT(OK), NULL, &sr));
    for (size_t i = 1; i <= 2; i++) {
        REQUIRE(cf_expect(t, k[i], "\"third-value\"", 13, &v));
        REQUIRE(etag_is(t, cf_fmt(t, "bulk set result for key%zu vs. get", i), v->etag,
                        sr->items[i - 1].etag));
        e[i] = cf_strdup(t, v->etag);
    }

    cf_step(t, "delete key0 with a stale ETag");
    REQUIRE(cf_del(t, k[0], e0_new, CF_WANT(ETAG_MISMATCH)));
    REQUIRE(cf_expects(t, k[0], "\"third-value\""));
    cf_step(t, "delete key0 with the current ETag");
    REQUIRE(cf_del(t, k[0], e0_third, CF_WANT(OK)));
    REQUIRE(cf_expect_missing(t, k[0]));

    cf_step(t, "bulk delete {key1 current ETag, key2 stale ETag}: partial failure");
    char *e2_stale = e[2];
    REQUIRE(cf_put(t, k[2], "\"fourth-value\"", 14, &e[2]));
    ss_delete_request dels[2] = {{.key = k[1], .etag = e[1]}, {.key = k[2], .etag = e2_stale}};
    const unsigned want_del[2] = {CF_WANT(OK), CF_WANT(ETAG_MISMATCH)};
    REQUIRE(cf_bulk_del(t, dels, 2, CF_WANT(ETAG_MISMATCH), want_del));
    REQUIRE(cf_expect_missing(t, k[1]));
    REQUIRE(cf_expect(t, k[2], "\"fourth-value\"", 14, &v));
    REQUIRE(etag_is(t, "key2 after its failed delete", e[2], v->etag));

    cf_step(t, "bulk delete key2, key3 with current ETags");
    ss_delete_request last[2] = {{.key = k[2], .etag = e[2]}, {.key = k[3], .etag = e[3]}};
    REQUIRE(cf_bulk_del(t, last, 2, CF_WANT(OK), NULL));
    ss_get_request gone[2] = {{.key = k[2]}, {.key = k[3]}};
    REQUIRE(cf_bulk_get(t, gone, 2, NULL, &r));
    for (size_t i = 0; i < 2; i++)
        if (r->items[i].value) {
            cf_fail(t, "bulk get after delete: item %zu still has a value", i);
            return;
        }
}

/* Every successful write's new ETag is exactly what the next read returns. */
static void case_etag_set_returns_new(cf_t *t)
{
    const char *k = cf_key(t, "k");
    char *prev = NULL, *etag = NULL;
    ss_value *v = NULL;
    for (int i = 0; i < 5; i++) {
        cf_step(t, "write %d", i + 1);
        char val[16];
        snprintf(val, sizeof val, "%d", i);
        ss_set_request s = {.key = k, .value = val, .value_len = strlen(val), .etag = prev};
        REQUIRE(cf_set_req(t, &s, CF_WANT(OK), &etag));
        REQUIRE(cf_expect(t, k, val, strlen(val), &v));
        REQUIRE(etag_is(t, "the ETag set returned vs. get", etag, v->etag));
        if (prev) REQUIRE(etags_differ(t, "a write", prev, etag));
        prev = etag;
    }
    cf_step(t, "writing the same bytes again still changes the ETag");
    char *again = NULL;
    REQUIRE(cf_put(t, k, "4", 1, &again));
    REQUIRE(etags_differ(t, "rewrite of the same bytes", prev, again));
    cf_step(t, "bulk set results carry the new ETags");
    ss_set_request sets[2] = {{.key = k, .value = "\"b1\"", .value_len = 4, .etag = again},
                              {.key = cf_key(t, "k2"), .value = "\"b2\"", .value_len = 4}};
    ss_results *r = NULL;
    REQUIRE(cf_bulk_set(t, sets, 2, CF_WANT(OK), NULL, &r));
    for (size_t i = 0; i < 2; i++) {
        REQUIRE(cf_expect(t, sets[i].key, sets[i].value, 4, &v));
        REQUIRE(etag_is(t, cf_fmt(t, "bulk set item %zu vs. get", i), r->items[i].etag, v->etag));
    }
}

/* A wrong ETag, or an ETag for a key that does not exist, is ETAG_MISMATCH and changes nothing.
 */
static void case_etag_mismatch(cf_t *t)
{
    const char *k = cf_key(t, "k");
    char *stale = NULL, *cur = NULL;
    REQUIRE(cf_put(t, k, "\"v1\"", 4, &stale));
    REQUIRE(cf_put(t, k, "\"v2\"", 4, &cur));
    cf_step(t, "delete with a stale ETag");
    REQUIRE(cf_del(t, k, stale, CF_WANT(ETAG_MISMATCH)));
    REQUIRE(cf_expects(t, k, "\"v2\""));
    cf_step(t, "set with a stale ETag");
    ss_set_request s = {.key = k, .value = "\"v3\"", .value_len = 4, .etag = stale};
    REQUIRE(cf_set_req(t, &s, CF_WANT(ETAG_MISMATCH), NULL));
    REQUIRE(cf_expects(t, k, "\"v2\""));

    cf_step(t, "an ETag on a key that does not exist (any more)");
    REQUIRE(cf_del(t, k, cur, CF_WANT(OK)));
    REQUIRE(cf_del(t, k, cur, CF_WANT(ETAG_MISMATCH)));
    s = (ss_set_request){.key = k, .value = "\"v4\"", .value_len = 4, .etag = cur};
    REQUIRE(cf_set_req(t, &s, CF_WANT(ETAG_MISMATCH), NULL));
    REQUIRE(cf_expect_missing(t, k));
    const char *never = cf_key(t, "never-written");
    REQUIRE(cf_del(t, never, cur, CF_WANT(ETAG_MISMATCH)));
    s.key = never;
    REQUIRE(cf_set_req(t, &s, CF_WANT(ETAG_MISMATCH), NULL));
    REQUIRE(cf_expect_missing(t, never));

    cf_step(t, "another key's ETag");
    const char *a = cf_key(t, "a"), *b = cf_key(t, "b");
    char *ea = NULL;
    REQUIRE(cf_put(t, a, "\"a\"", 3, &ea));
    REQUIRE(cf_put(t, b, "\"b\"", 3, NULL));
    REQUIRE(cf_put(t, b, "\"b2\"", 4, NULL));
    char *eb = NULL;
    REQUIRE(cf_etag_of(t, b, &eb));
    if (strcmp(ea, eb) != 0) {
        s = (ss_set_request){.key = b, .value = "\"x\"", .value_len = 3, .etag = ea};
        REQUIRE(cf_set_req(t, &s, CF_WANT(ETAG_MISMATCH), NULL));
        REQUIRE(cf_expects(t, b, "\"b2\""));
    }
}

/* The ETag is checked whatever the concurrency option says (as Dapr's newest stores do). */
static void case_etag_last_write_checked(cf_t *t)
{
    const char *k = cf_key(t, "k");
    char *stale = NULL, *cur = NULL;
    REQUIRE(cf_put(t, k, "1", 1, &stale));
    REQUIRE(cf_put(t, k, "2", 1, &cur));
    ss_set_request s = {.key = k, .value = "3", .value_len = 1, .etag = stale};
    s.options.concurrency = SS_LAST_WRITE;
    REQUIRE(cf_set_req(t, &s, CF_WANT(ETAG_MISMATCH), NULL));
    REQUIRE(cf_expects(t, k, "2"));
    ss_delete_request d = {.key = k, .etag = stale};
    d.options.concurrency = SS_LAST_WRITE;
    REQUIRE(cf_del_req(t, &d, CF_WANT(ETAG_MISMATCH)));
    REQUIRE(cf_expects(t, k, "2"));
    s.etag = cur;
    REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
    REQUIRE(cf_expects(t, k, "3"));
}

/* Garbage ETags: ETAG_MISMATCH or ETAG_INVALID (Dapr accepts either), nothing changed. */
static void case_etag_malformed(cf_t *t)
{
    static const char *const garbage[] = {"bad-etag",
                                          "9999999",
                                          "-1",
                                          "0",
                                          "00000000-0000-0000-0000-000000000000",
                                          "FFFF",
                                          "\xff\xfe",
                                          "' OR '1'='1",
                                          "18446744073709551616999",
                                          " ",
                                          "W/\"x\""};
    const char *k = cf_key(t, "k");
    char *cur = NULL;
    REQUIRE(cf_put(t, k, "\"v\"", 3, &cur));
    const unsigned want = CF_WANT(ETAG_MISMATCH) | CF_WANT(ETAG_INVALID);
    const char *missing = cf_key(t, "never-written");
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        const char *g = garbage[i];
        if (strcmp(g, cur) == 0) continue; /* a store could issue "0" or "-1" */
        cf_step(t, "ETag %s", cf_show(t, g, strlen(g)));
        ss_set_request s = {.key = k, .value = "\"x\"", .value_len = 3, .etag = g};
        REQUIRE(cf_set_req(t, &s, want, NULL));
        REQUIRE(cf_del(t, k, g, want));
        REQUIRE(cf_expects(t, k, "\"v\""));
        s.key = missing;
        REQUIRE(cf_set_req(t, &s, want, NULL));
        REQUIRE(cf_del(t, missing, g, want));
        REQUIRE(cf_expect_missing(t, missing));
    }
}

/* Dapr's "first-write without etag", with the ETag NULL and with the ETag "". */
static void case_first_write_no_etag(cf_t *t)
{
    const char *const variants[] = {NULL, ""};
    for (size_t i = 0; i < 2; i++) {
        const char *k = cf_key(t, i ? "etag-empty" : "etag-null");
        cf_step(t, "ETag %s", i ? "\"\"" : "NULL");
        REQUIRE(cf_del(t, k, NULL, CF_WANT(OK)));
        ss_set_request s = {.key = k, .value = "\"first\"", .value_len = 7, .etag = variants[i]};
        s.options.concurrency = SS_FIRST_WRITE;
        s.options.consistency = SS_STRONG;
        REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
        REQUIRE(cf_expects(t, k, "\"first\""));
        s.value = "\"second\"";
        s.value_len = 8;
        REQUIRE(cf_set_req(t, &s, CF_WANT(ETAG_MISMATCH), NULL));
        REQUIRE(cf_expects(t, k, "\"first\""));
        cf_step(t, "ETag %s: after a delete the key can be first-written again",
                i ? "\"\"" : "NULL");
        REQUIRE(cf_del(t, k, NULL, CF_WANT(OK)));
        REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
        REQUIRE(cf_expects(t, k, "\"second\""));
    }
    cf_step(t, "a key written without first-write is protected the same way");
    const char *k = cf_key(t, "plain");
    REQUIRE(cf_puts(t, k, "\"plain\""));
    ss_set_request s = {.key = k, .value = "\"fw\"", .value_len = 4};
    s.options.concurrency = SS_FIRST_WRITE;
    REQUIRE(cf_set_req(t, &s, CF_WANT(ETAG_MISMATCH), NULL));
    REQUIRE(cf_expects(t, k, "\"plain\""));
    cf_step(t, "a key first-written once can still be overwritten by last-write");
    REQUIRE(cf_puts(t, k, "\"last\""));
    REQUIRE(cf_expects(t, k, "\"last\""));
    cf_step(t, "bulk set with first-write: an existing and a new key");
    const char *fresh = cf_key(t, "bulk-new");
    ss_set_request two[2] = {{.key = k, .value = "\"bulk\"", .value_len = 6},
                             {.key = fresh, .value = "\"bulk\"", .value_len = 6}};
    two[0].options.concurrency = two[1].options.concurrency = SS_FIRST_WRITE;
    const unsigned want[2] = {CF_WANT(ETAG_MISMATCH), CF_WANT(OK)};
    REQUIRE(cf_bulk_set(t, two, 2, CF_WANT(ETAG_MISMATCH), want, NULL));
    REQUIRE(cf_expects(t, k, "\"last\""));
    REQUIRE(cf_expects(t, fresh, "\"bulk\""));
}

/* Dapr's "first-write with etag". */
static void case_first_write_with_etag(cf_t *t)
{
    const char *k = cf_key(t, "k");
    REQUIRE(cf_puts(t, k, "\"v1\""));
    char *e1 = NULL, *e2 = NULL;
    REQUIRE(cf_etag_of(t, k, &e1));
    ss_set_request s = {.key = k, .value = "\"v2\"", .value_len = 4, .etag = e1};
    s.options.concurrency = SS_FIRST_WRITE;
    REQUIRE(cf_set_req(t, &s, CF_WANT(OK), &e2));
    REQUIRE(etags_differ(t, "first-write with the current ETag", e1, e2));
    REQUIRE(cf_expects(t, k, "\"v2\""));
    cf_step(t, "again with the now stale ETag");
    s.value = "\"v3\"";
    REQUIRE(cf_set_req(t, &s, CF_WANT(ETAG_MISMATCH), NULL));
    REQUIRE(cf_expects(t, k, "\"v2\""));
    cf_step(t, "delete with first-write and the current ETag");
    ss_delete_request d = {.key = k, .etag = e2};
    d.options.concurrency = SS_FIRST_WRITE;
    REQUIRE(cf_del_req(t, &d, CF_WANT(OK)));
    REQUIRE(cf_expect_missing(t, k));
}

/* ------------------------------------------------------------------------------------------ */
/* Concurrent increments                                                                      */
/* ------------------------------------------------------------------------------------------ */

enum { THREADS = 8, INCREMENTS = 100, MAX_ATTEMPTS = INCREMENTS * THREADS * 50 };

typedef struct incr {
    ss_store *store;
    const char *key;
    int done;
    long attempts;
    char error[SS_ERROR_MESSAGE_MAX + 64]; /* the first unexpected answer */
} incr;

static void *increment(void *arg)
{
    incr *w = arg;
    while (w->done < INCREMENTS) {
        if (++w->attempts > MAX_ATTEMPTS) {
            snprintf(w->error, sizeof w->error, "gave up after %ld attempts", w->attempts - 1);
            return NULL;
        }
        ss_get_request g = {.key = w->key};
        ss_value *v = NULL;
        ss_error err = {0};
        ss_code rc = ss_get(&v, w->store, &g, &err);
        if (rc != SS_OK || !v || !v->etag) {
            snprintf(w->error, sizeof w->error, "get: %s%s%s", ss_code_name(rc),
                     v ? " (no ETag)" : " (missing)", rc ? err.message : "");
            ss_value_free(v);
            return NULL;
        }
        char *end = NULL;
        long n = strtol(v->data, &end, 10);
        if (!end || *end || end == v->data) {
            snprintf(w->error, sizeof w->error, "get: the counter is not a number: \"%.40s\"",
                     v->data);
            ss_value_free(v);
            return NULL;
        }
        char next[32];
        snprintf(next, sizeof next, "%ld", n + 1);
        ss_set_request s = {
            .key = w->key, .value = next, .value_len = strlen(next), .etag = v->etag};
        rc = ss_set(NULL, w->store, &s, &err);
        ss_value_free(v);
        if (rc == SS_OK) {
            w->done++;
        } else if (rc != SS_ETAG_MISMATCH) {
            snprintf(w->error, sizeof w->error, "set: %s: %s", ss_code_name(rc), err.message);
            return NULL;
        }
    }
    return NULL;
}

static void case_etag_concurrent_increments(cf_t *t)
{
    const char *k = cf_key(t, "counter");
    REQUIRE(cf_puts(t, k, "0"));
    incr *w = cf_alloc(t, THREADS * sizeof *w);
    pthread_t th[THREADS];
    bool started[THREADS] = {false};
    for (int i = 0; i < THREADS; i++) {
        w[i].store = cf_env_of(t)->store;
        w[i].key = k;
        started[i] = pthread_create(&th[i], NULL, increment, &w[i]) == 0;
    }
    for (int i = 0; i < THREADS; i++)
        if (started[i]) pthread_join(th[i], NULL);
    long attempts = 0;
    for (int i = 0; i < THREADS; i++) {
        if (!started[i]) {
            cf_fail(t, "could not start thread %d", i);
            return;
        }
        if (w[i].error[0]) {
            cf_fail(t, "thread %d: %s", i, w[i].error);
            return;
        }
        attempts += w[i].attempts;
    }
    char want[16];
    snprintf(want, sizeof want, "%d", THREADS * INCREMENTS);
    cf_step(t, "%d threads x %d guarded increments (%ld attempts)", THREADS, INCREMENTS, attempts);
    REQUIRE(cf_expects(t, k, want));
}

/* ------------------------------------------------------------------------------------------ */
/* Races: of several identical conditional writes started together, exactly one wins          */
/* ------------------------------------------------------------------------------------------ */

enum { RACERS = 8, RACE_KEYS = 10 };

typedef enum race_kind {
    RACE_FIRST_WRITE,
    RACE_ETAG_SET,
    RACE_ETAG_DELETE,
    RACE_TX_ETAG,
} race_kind;

typedef struct racer {
    ss_store *store;
    pthread_barrier_t *start;
    race_kind kind;
    const char *key;
    const char *etag;
    char value[32];
    ss_code rc;
    char message[SS_ERROR_MESSAGE_MAX];
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    ss_error err = {0};
    pthread_barrier_wait(r->start);
    switch (r->kind) {
    case RACE_FIRST_WRITE:
    case RACE_ETAG_SET: {
        ss_set_request s = {
            .key = r->key, .value = r->value, .value_len = strlen(r->value), .etag = r->etag};
        if (r->kind == RACE_FIRST_WRITE) s.options.concurrency = SS_FIRST_WRITE;
        r->rc = ss_set(NULL, r->store, &s, &err);
        break;
    }
    case RACE_ETAG_DELETE: {
        ss_delete_request d = {.key = r->key, .etag = r->etag};
        r->rc = ss_delete(r->store, &d, &err);
        break;
    }
    case RACE_TX_ETAG: {
        ss_operation op = cf_op_upsert(r->key, r->value, r->etag);
        ss_transaction tx = {.ops = &op, .count = 1};
        r->rc = ss_transact(r->store, &tx, &err);
        break;
    }
    }
    if (r->rc != SS_OK) snprintf(r->message, sizeof r->message, "%s", err.message);
    return NULL;
}

/* Runs RACERS identical conditional writes of `key` at once; returns the winner's index. */
static bool run_race(cf_t *t, race_kind kind, const char *key, const char *etag, int *winner)
{
    racer r[RACERS];
    pthread_t th[RACERS];
    pthread_barrier_t start;
    if (pthread_barrier_init(&start, NULL, RACERS) != 0)
        return cf_fail(t, "pthread_barrier_init failed");
    int started = 0;
    for (int i = 0; i < RACERS; i++) {
        r[i] = (racer){
            .store = cf_env_of(t)->store, .start = &start, .kind = kind, .key = key, .etag = etag};
        snprintf(r[i].value, sizeof r[i].value, "\"racer %d\"", i);
        if (pthread_create(&th[i], NULL, race, &r[i]) != 0) break;
        started++;
    }
    if (started < RACERS) {
        /* The barrier would never open: nothing can be checked, but do not hang. */
        fprintf(stderr, "conformance: could not start %d threads\n", RACERS);
        abort();
    }
    for (int i = 0; i < RACERS; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    int wins = 0;
    *winner = -1;
    for (int i = 0; i < RACERS; i++) {
        if (r[i].rc == SS_OK) {
            wins++;
            *winner = i;
        } else if (r[i].rc != SS_ETAG_MISMATCH) {
            return cf_fail(t, "racer %d on %s: expected OK or ETAG_MISMATCH, got %s: %s", i,
                           cf_show_key(t, key), ss_code_name(r[i].rc), r[i].message);
        }
    }
    if (wins != 1)
        return cf_fail(t,
                       "%d identical conditional writes of %s at once: %d succeeded, expected "
                       "exactly 1",
                       RACERS, cf_show_key(t, key), wins);
    return true;
}

static void case_race_first_write(cf_t *t)
{
    for (int k = 0; k < RACE_KEYS; k++) {
        const char *key = cf_key(t, cf_fmt(t, "%d", k));
        cf_step(t, "%d first-writes of one new key at once (round %d)", RACERS, k + 1);
        int w;
        REQUIRE(run_race(t, RACE_FIRST_WRITE, key, NULL, &w));
        REQUIRE(cf_expects(t, key, cf_fmt(t, "\"racer %d\"", w)));
    }
}

static void case_race_etag(cf_t *t)
{
    bool tx = cf_has(t, SS_FEATURE_TRANSACTIONAL);
    for (int k = 0; k < RACE_KEYS; k++) {
        const char *key = cf_key(t, cf_fmt(t, "%d", k));
        char *etag = NULL;
        int w;
        REQUIRE(cf_put(t, key, "\"start\"", 7, &etag));
        cf_step(t, "%d sets with the same current ETag at once (round %d)", RACERS, k + 1);
        REQUIRE(run_race(t, RACE_ETAG_SET, key, etag, &w));
        REQUIRE(cf_expects(t, key, cf_fmt(t, "\"racer %d\"", w)));
        if (tx) {
            REQUIRE(cf_etag_of(t, key, &etag));
            cf_step(t, "%d transactions with the same current ETag at once (round %d)", RACERS,
                    k + 1);
            REQUIRE(run_race(t, RACE_TX_ETAG, key, etag, &w));
            REQUIRE(cf_expects(t, key, cf_fmt(t, "\"racer %d\"", w)));
        }
        REQUIRE(cf_etag_of(t, key, &etag));
        cf_step(t, "%d deletes with the same current ETag at once (round %d)", RACERS, k + 1);
        REQUIRE(run_race(t, RACE_ETAG_DELETE, key, etag, &w));
        REQUIRE(cf_expect_missing(t, key));
    }
}

const cf_case cf_cases_etag[] = {
    {"etag-sequence", SS_FEATURE_ETAG, 0, case_etag_sequence,
     "Dapr's ETag test: stale/current ETags on set, delete, bulk set and bulk delete with "
     "partial failures"},
    {"etag-set-returns-new", SS_FEATURE_ETAG, 0, case_etag_set_returns_new,
     "set and bulk set return the new ETag, equal to the next get's; every write changes it"},
    {"etag-mismatch", SS_FEATURE_ETAG, 0, case_etag_mismatch,
     "wrong ETag, ETag on a missing key, another key's ETag: ETAG_MISMATCH, nothing changed"},
    {"etag-last-write-checked", SS_FEATURE_ETAG, 0, case_etag_last_write_checked,
     "with concurrency last-write an ETag is still checked"},
    {"etag-malformed", SS_FEATURE_ETAG, 0, case_etag_malformed,
     "garbage ETags: ETAG_MISMATCH or ETAG_INVALID, on existing and missing keys, nothing changed"},
    {"first-write-no-etag", SS_FEATURE_FIRST_WRITE, 0, case_first_write_no_etag,
     "first-write without ETag (NULL and \"\"): insert-only; ETAG_MISMATCH when the key exists"},
    {"first-write-with-etag", SS_FEATURE_FIRST_WRITE | SS_FEATURE_ETAG, 0,
     case_first_write_with_etag, "first-write with an ETag: current works, stale is ETAG_MISMATCH"},
    {"etag-concurrent-increments", SS_FEATURE_ETAG, 0, case_etag_concurrent_increments,
     "8 threads x 100 ETag-guarded read-modify-write increments end at exactly 800"},
    {"race-first-write", SS_FEATURE_FIRST_WRITE, 0, case_race_first_write,
     "8 first-writes of one new key at once: exactly one succeeds, its value is stored"},
    {"race-etag", SS_FEATURE_ETAG, 0, case_race_etag,
     "8 sets / transactions / deletes with the same current ETag at once: exactly one succeeds"},
};
const size_t cf_cases_etag_count = sizeof cf_cases_etag / sizeof cf_cases_etag[0];

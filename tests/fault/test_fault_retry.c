/*
 * test_fault_retry.c — retry policies through the faulty wrapper over the memory store:
 * transient faults are retried and succeed, persistent ones fail after exactly `threshold`
 * attempts with the last attempt's error, non-retryable codes and ETag mismatches are tried once.
 * The core's sleep is replaced so waits are counted, never timed.
 */
#include "core/internal.h"
#include "fault/faulty.h"
#include "unit/check.h"

#include <stdlib.h>
#include <string.h>

typedef struct sleeps {
    uint32_t ms[64];
    size_t n;
} sleeps;

static sleeps slept;

static void fake_sleep(void *ctx, uint32_t ms)
{
    sleeps *s = ctx;
    if (s->n < 64) s->ms[s->n] = ms;
    s->n++;
}

/* A faulty store over memory with the given rule (name/value pairs, NULL-terminated). */
static ss_store *open_faulty(const char *const *rule)
{
    ss_pair props[16];
    size_t n = 0;
    props[n++] = (ss_pair){"inner", "memory"};
    for (; rule && rule[0] && n < 16; rule += 2) props[n++] = (ss_pair){rule[0], rule[1]};
    ss_config cfg = {.driver = "faulty", .name = "f", .properties = props, .property_count = n};
    ss_store *s = NULL;
    ss_error err = {0};
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    memset(&slept, 0, sizeof slept);
    return s;
}

static ss_code set_kv(ss_store *s, const char *key, const char *val, const char *pattern,
                      uint32_t interval, uint32_t threshold, const char *etag, ss_error *err)
{
    ss_set_request r = {.key = key,
                        .value = val,
                        .value_len = strlen(val),
                        .etag = etag,
                        .options = {.retry = {pattern, interval, threshold}}};
    return ss_set(NULL, s, &r, err);
}

static void check_value(ss_store *s, const char *key, const char *want)
{
    ss_value *v = NULL;
    ss_error err = {0};
    ss_get_request g = {.key = key};
    CHECK_RC(ss_get(&v, s, &g, &err), SS_OK, &err);
    if (want) {
        CHECK(v != NULL);
        if (v) CHECK_STR(v->data, want);
    } else {
        CHECK(v == NULL);
    }
    ss_value_free(v);
}

static void transient_linear(void)
{
    const char *rule[] = {"failOp", "set", "failCount", "2", NULL};
    ss_store *s = open_faulty(rule);
    if (!s) return;
    ss_error err = {0};
    CHECK_RC(set_kv(s, "k", "v1", SS_LINEAR, 10, 3, NULL, &err), SS_OK, &err);
    CHECK(slept.n == 2);
    CHECK(slept.ms[0] == 10 && slept.ms[1] == 10);
    check_value(s, "k", "v1");
    ss_close(s);
}

static void transient_exponential(void)
{
    const char *rule[] = {"failOp", "set", "failCount", "3", "failCode", "TIMEOUT", NULL};
    ss_store *s = open_faulty(rule);
    if (!s) return;
    ss_error err = {0};
    CHECK_RC(set_kv(s, "k", "v2", SS_EXPONENTIAL, 5, 4, NULL, &err), SS_OK, &err);
    CHECK(slept.n == 3);
    CHECK(slept.ms[0] == 5 && slept.ms[1] == 10 && slept.ms[2] == 20);
    check_value(s, "k", "v2");
    ss_close(s);
}

/* Not enough attempts for a transient fault: the last attempt's error comes back. */
static void transient_too_few_attempts(void)
{
    const char *rule[] = {"failOp", "set", "failCount", "3", NULL};
    ss_store *s = open_faulty(rule);
    if (!s) return;
    ss_error err = {0};
    CHECK_RC(set_kv(s, "k", "v", SS_LINEAR, 1, 2, NULL, &err), SS_UNAVAILABLE, &err);
    CHECK(err.retryable);
    CHECK_CONTAINS(err.message, "injected fault: UNAVAILABLE on set call 2");
    CHECK_CONTAINS(err.message, "store \"f\" (faulty): set \"k\"");
    CHECK(slept.n == 1);
    check_value(s, "k", NULL);
    /* The third matching call is the last faulty one; the fourth goes through. */
    CHECK_RC(set_kv(s, "k", "v", NULL, 0, 2, NULL, &err), SS_OK, &err);
    check_value(s, "k", "v");
    ss_close(s);
}

static void persistent(void)
{
    const char *rule[] = {"failOp",      "delete",       "failCount", "-1",
                          "failMessage", "disk on fire", NULL};
    ss_store *s = open_faulty(rule);
    if (!s) return;
    ss_error err = {0};
    CHECK_RC(set_kv(s, "k", "v", NULL, 0, 0, NULL, &err), SS_OK, &err);
    ss_delete_request d = {.key = "k", .options = {.retry = {SS_EXPONENTIAL, 1, 5}}};
    CHECK_RC(ss_delete(s, &d, &err), SS_UNAVAILABLE, &err);
    CHECK_CONTAINS(err.message, "injected fault: UNAVAILABLE on delete call 5");
    CHECK_CONTAINS(err.message, "disk on fire");
    CHECK(slept.n == 4);
    CHECK(slept.ms[0] == 1 && slept.ms[1] == 2 && slept.ms[2] == 4 && slept.ms[3] == 8);
    check_value(s, "k", "v");
    /* threshold 0 and 1 both mean one attempt. */
    memset(&slept, 0, sizeof slept);
    d.options.retry = (ss_retry){NULL, 5, 0};
    CHECK_RC(ss_delete(s, &d, &err), SS_UNAVAILABLE, &err);
    CHECK_CONTAINS(err.message, "delete call 6");
    d.options.retry.threshold = 1;
    CHECK_RC(ss_delete(s, &d, &err), SS_UNAVAILABLE, &err);
    CHECK_CONTAINS(err.message, "delete call 7");
    CHECK(slept.n == 0);
    ss_close(s);
}

/* Codes the table marks not retryable are tried once, whatever the policy says. */
static void not_retryable(void)
{
    static const char *const codes[] = {"BACKEND", "ETAG_MISMATCH", "ETAG_INVALID", "INVALID",
                                        "NOMEM"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *rule[] = {"failOp", "set", "failCount", "-1", "failCode", codes[i], NULL};
        ss_store *s = open_faulty(rule);
        if (!s) continue;
        ss_error err = {0};
        ss_code rc = set_kv(s, "k", "v", SS_LINEAR, 3, 10, NULL, &err);
        CHECK(rc != SS_OK);
        CHECK_STR(ss_code_name(rc), codes[i]);
        CHECK(!err.retryable);
        CHECK_CONTAINS(err.message, "on set call 1 ");
        CHECK(slept.n == 0);
        ss_close(s);
    }
}

/* A real ETag mismatch from the inner store is never retried either. */
static void etag_mismatch_real(void)
{
    const char *rule[] = {"failCount", "0", NULL};
    ss_store *s = open_faulty(rule);
    if (!s) return;
    ss_error err = {0};
    char *etag = NULL;
    ss_set_request r = {.key = "k", .value = "v", .value_len = 1};
    CHECK_RC(ss_set(&etag, s, &r, &err), SS_OK, &err);
    CHECK(etag != NULL && *etag);
    CHECK_RC(set_kv(s, "k", "w", SS_EXPONENTIAL, 1, 8, "not-the-etag", &err), SS_ETAG_MISMATCH,
             &err);
    CHECK(slept.n == 0);
    CHECK_RC(set_kv(s, "k", "w", SS_EXPONENTIAL, 1, 8, etag, &err), SS_OK, &err);
    check_value(s, "k", "w");
    ss_free(etag);
    ss_close(s);
}

/* failCall picks the Nth matching call; other operations do not count. */
static void nth_call(void)
{
    const char *rule[] = {"failOp", "set", "failCall", "3", NULL};
    ss_store *s = open_faulty(rule);
    if (!s) return;
    ss_error err = {0};
    CHECK_RC(set_kv(s, "a", "1", NULL, 0, 0, NULL, &err), SS_OK, &err);
    check_value(s, "a", "1"); /* a get: not counted */
    CHECK_RC(set_kv(s, "b", "2", NULL, 0, 0, NULL, &err), SS_OK, &err);
    CHECK_RC(set_kv(s, "c", "3", NULL, 0, 0, NULL, &err), SS_UNAVAILABLE, &err);
    CHECK_RC(set_kv(s, "c", "3", NULL, 0, 0, NULL, &err), SS_OK, &err);
    check_value(s, "c", "3");
    ss_close(s);
}

/* Bad rules are refused at open, naming the property. */
static void bad_rules(void)
{
    static const char *const bad[][2] = {
        {"failOp", "sett"},   {"failCode", "OK"},       {"failCode", "nope"}, {"failCall", "0"},
        {"failCount", "-2"},  {"failCall", "x"},        {"failAtTxOp", "-5"}, {"inner", "faulty"},
        {"inner", "no-such"}, {"inner.nosuchprop", "1"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ss_pair props[2] = {{"inner", "memory"}, {bad[i][0], bad[i][1]}};
        if (strcmp(bad[i][0], "inner") == 0) props[0] = props[1];
        ss_config cfg = {.driver = "faulty", .properties = props, .property_count = 2};
        ss_store *s = NULL;
        ss_error err = {0};
        ss_code rc = ss_open(&s, &cfg, &err);
        if (strcmp(bad[i][0], "inner.nosuchprop") == 0) {
            /* An unknown inner property is only a warning, as for the inner store itself. */
            CHECK_RC(rc, SS_OK, &err);
        } else {
            CHECK_RC(rc, SS_INVALID, &err);
            CHECK(s == NULL);
            CHECK_CONTAINS(err.message, bad[i][0]);
        }
        ss_close(s);
    }
    ss_config cfg = {.driver = "faulty"};
    ss_store *s = NULL;
    ss_error err = {0};
    CHECK_RC(ss_open(&s, &cfg, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "inner");
}

/* The wrapper reports the inner instance's features, so the core validates against those. */
static void features_follow_inner(void)
{
    ss_store *s = open_faulty(NULL);
    if (!s) return;
    ss_pair mp = {"cleanupInterval", "1s"};
    ss_config mc = {.driver = "memory", .properties = &mp, .property_count = 1};
    ss_store *m = NULL;
    ss_error err = {0};
    CHECK_RC(ss_open(&m, &mc, &err), SS_OK, &err);
    if (m) {
        ss_features a, b;
        ss_store_features(s, &a);
        ss_store_features(m, &b);
        CHECK(a.flags == (b.flags | SS_FEATURE_BULK_NATIVE));
        CHECK(a.max_tx_ops == b.max_tx_ops && a.max_key_len == b.max_key_len &&
              a.max_value_len == b.max_value_len);
    }
    ss_close(m);
    ss_close(s);
}

int main(void)
{
    ss_error err = {0};
    if (ss_faulty_register(&err) != SS_OK || ss_faulty_register(&err) != SS_OK) {
        fprintf(stderr, "register: %s\n", err.message);
        return 1;
    }
    ss_internal_set_sleep(fake_sleep, &slept);
    transient_linear();
    transient_exponential();
    transient_too_few_attempts();
    persistent();
    not_retryable();
    etag_mismatch_real();
    nth_call();
    bad_rules();
    features_follow_inner();
    ss_internal_set_sleep(NULL, NULL);
    return check_done("test_fault_retry");
}

/*
 * test_retry.c — retry policy: attempts = threshold, waits between attempts only (linear or
 * doubling), only UNAVAILABLE/TIMEOUT retried, the last attempt's error returned. The sleep is
 * replaced through the core's internal hook so attempts and waits are counted exactly.
 */
#include "check.h"
#include "core/internal.h"
#include "testdrv.h"

typedef struct sleeps {
    int count;
    uint32_t ms[64];
} sleeps;

static sleeps slept;

static void fake_sleep(void *ctx, uint32_t ms)
{
    sleeps *s = ctx;
    if (s->count < 64) s->ms[s->count] = ms;
    s->count++;
}

static void arm(int n, ss_code code)
{
    ss_code codes[TD_SCRIPT_MAX];
    for (int i = 0; i < n && i < TD_SCRIPT_MAX; i++) codes[i] = code;
    td_reset();
    td_script(n, codes, NULL);
    memset(&slept, 0, sizeof slept);
}

static ss_code set_with(ss_store *s, const char *pattern, uint32_t interval, uint32_t threshold,
                        ss_error *err)
{
    ss_set_request r = {.key = "k", .value = "v", .value_len = 1};
    r.options.retry = (ss_retry){pattern, interval, threshold};
    return ss_set(NULL, s, &r, err);
}

static void check_sleeps(int n, const uint32_t *want)
{
    CHECK(slept.count == n);
    for (int i = 0; i < n && i < slept.count; i++) {
        if (slept.ms[i] != want[i])
            fprintf(stderr, "sleep %d: %u ms, want %u\n", i, slept.ms[i], want[i]);
        CHECK(slept.ms[i] == want[i]);
    }
}

static void test_linear(ss_store *s)
{
    ss_error err = {0};
    arm(10, SS_UNAVAILABLE);
    CHECK_RC(set_with(s, SS_LINEAR, 100, 3, &err), SS_UNAVAILABLE, &err);
    CHECK(td.calls == 3);
    check_sleeps(2, (const uint32_t[]){100, 100});
    /* The message is the last attempt's. */
    CHECK_STR(err.message, "store \"r\" (recorder): set \"k\": scripted failure on call 3");
    CHECK(err.retryable);

    /* NULL and "" patterns are linear. */
    arm(10, SS_TIMEOUT);
    CHECK_RC(set_with(s, NULL, 7, 4, &err), SS_TIMEOUT, &err);
    CHECK(td.calls == 4);
    check_sleeps(3, (const uint32_t[]){7, 7, 7});
    arm(10, SS_TIMEOUT);
    CHECK_RC(set_with(s, "", 0, 2, &err), SS_TIMEOUT, &err);
    CHECK(td.calls == 2);
    check_sleeps(1, (const uint32_t[]){0});
}

static void test_exponential(ss_store *s)
{
    ss_error err = {0};
    arm(10, SS_UNAVAILABLE);
    CHECK_RC(set_with(s, SS_EXPONENTIAL, 10, 5, &err), SS_UNAVAILABLE, &err);
    CHECK(td.calls == 5);
    check_sleeps(4, (const uint32_t[]){10, 20, 40, 80});
    CHECK_CONTAINS(err.message, "call 5");
    /* Doubling saturates instead of overflowing. */
    arm(40, SS_UNAVAILABLE);
    CHECK_RC(set_with(s, SS_EXPONENTIAL, 1u << 30, 4, &err), SS_UNAVAILABLE, &err);
    check_sleeps(3, (const uint32_t[]){1u << 30, 1u << 31, UINT32_MAX});
}

static void test_success_midway(ss_store *s)
{
    ss_error err = {0};
    arm(2, SS_UNAVAILABLE);
    CHECK_RC(set_with(s, SS_LINEAR, 5, 5, &err), SS_OK, &err);
    CHECK(td.calls == 3);
    check_sleeps(2, (const uint32_t[]){5, 5});
}

static void test_not_retried(ss_store *s)
{
    ss_error err = {0};
    static const ss_code never[] = {SS_ETAG_MISMATCH, SS_ETAG_INVALID, SS_INVALID, SS_BACKEND,
                                    SS_NOT_FOUND,     SS_TOO_LARGE,    SS_NOMEM,   SS_UNSUPPORTED};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        arm(10, never[i]);
        CHECK_RC(set_with(s, SS_LINEAR, 10, 5, &err), never[i], &err);
        CHECK(td.calls == 1);
        CHECK(slept.count == 0);
    }
    /* A transient failure followed by a mismatch: stops at the mismatch, which is reported. */
    static const ss_code mixed[] = {SS_UNAVAILABLE, SS_ETAG_MISMATCH, SS_UNAVAILABLE};
    td_reset();
    td_script(3, mixed, NULL);
    memset(&slept, 0, sizeof slept);
    CHECK_RC(set_with(s, SS_LINEAR, 1, 5, &err), SS_ETAG_MISMATCH, &err);
    CHECK(td.calls == 2 && slept.count == 1);
    /* Invalid input never reaches the driver, so there is nothing to retry. */
    arm(10, SS_UNAVAILABLE);
    ss_set_request r = {.key = "", .value = "v", .value_len = 1};
    r.options.retry = (ss_retry){SS_LINEAR, 1, 5};
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_INVALID, &err);
    CHECK(td.calls == 0 && slept.count == 0);
}

static void test_single_attempt(ss_store *s)
{
    ss_error err = {0};
    for (uint32_t t = 0; t <= 1; t++) {
        arm(10, SS_UNAVAILABLE);
        CHECK_RC(set_with(s, SS_EXPONENTIAL, 10, t, &err), SS_UNAVAILABLE, &err);
        CHECK(td.calls == 1 && slept.count == 0);
    }
}

static void test_delete_and_bulk(ss_store *s)
{
    ss_error err = {0};
    arm(10, SS_UNAVAILABLE);
    ss_delete_request d = {.key = "k"};
    d.options.retry = (ss_retry){SS_EXPONENTIAL, 3, 3};
    CHECK_RC(ss_delete(s, &d, &err), SS_UNAVAILABLE, &err);
    CHECK(td.calls == 3);
    check_sleeps(2, (const uint32_t[]){3, 6});
    CHECK_STR(err.message, "store \"r\" (recorder): delete \"k\": scripted failure on call 3");

    /* Gets carry no policy: one attempt. */
    arm(10, SS_UNAVAILABLE);
    ss_get_request g = {.key = "k"};
    ss_value *v = NULL;
    CHECK_RC(ss_get(&v, s, &g, &err), SS_UNAVAILABLE, &err);
    CHECK(td.calls == 1 && slept.count == 0);

    /* The bulk fallback runs each item's own policy (parallelism 1 keeps the script order). */
    arm(2, SS_UNAVAILABLE);
    ss_set_request items[2] = {{.key = "a", .value = "1", .value_len = 1},
                               {.key = "b", .value = "2", .value_len = 1}};
    items[0].options.retry = (ss_retry){SS_LINEAR, 9, 3};
    ss_results res = {0};
    ss_bulk_options one = {.parallelism = 1};
    CHECK_RC(ss_bulk_set(&res, s, items, 2, &one, &err), SS_OK, &err);
    CHECK(td.calls == 4); /* a: 3 attempts, b: 1 */
    check_sleeps(2, (const uint32_t[]){9, 9});
    ss_results_free(&res);
}

int main(void)
{
    if (!td_register_all()) return 1;
    ss_internal_set_sleep(fake_sleep, &slept);
    ss_store *s = td_open_store("recorder", "r");
    CHECK(s != NULL);
    if (s) {
        test_linear(s);
        test_exponential(s);
        test_success_midway(s);
        test_not_retried(s);
        test_single_attempt(s);
        test_delete_and_bulk(s);
        ss_close(s);
    }
    /* The real sleep is back once the hook is cleared: a 1 ms wait between two attempts. */
    ss_internal_set_sleep(NULL, NULL);
    s = td_open_store("recorder", "r");
    if (s) {
        arm(10, SS_UNAVAILABLE);
        ss_error err = {0};
        CHECK_RC(set_with(s, SS_LINEAR, 1, 2, &err), SS_UNAVAILABLE, &err);
        CHECK(td.calls == 2 && slept.count == 0);
        ss_close(s);
    }
    return check_done("test_retry");
}

/*
 * test_bulk.c — bulk calls: the fallback loop (order, parallelism, per-item errors, return code
 * rule) and a driver's native bulk slots (per-item decoration, whole-call failure).
 */
#include "check.h"
#include "testdrv.h"

enum { N = 40 };

static char keys[N][16];

static void make_gets(ss_get_request *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "key-%02u", (unsigned)(i % 100));
        g[i] = (ss_get_request){.key = keys[i]};
    }
}

static void test_order(ss_store *s)
{
    ss_get_request g[N];
    make_gets(g, N);
    g[5].key = "missing";
    ss_results res = {0};
    ss_error err = {0};
    td_reset();
    CHECK_RC(ss_bulk_get(&res, s, g, N, NULL, &err), SS_OK, &err);
    CHECK(res.count == N && td.calls == N);
    for (size_t i = 0; i < res.count; i++) {
        CHECK(res.items[i].code == SS_OK && res.items[i].error == NULL);
        if (i == 5)
            CHECK(res.items[i].value == NULL);
        else
            CHECK(res.items[i].value && strcmp(res.items[i].value->data, g[i].key) == 0);
    }
    ss_results_free(&res);
}

/* The gate makes the first p calls wait until p are in flight at once (bounded wait). */
static void check_parallelism(ss_store *s, unsigned asked, int want)
{
    ss_get_request g[N];
    make_gets(g, N);
    ss_results res = {0};
    ss_error err = {0};
    td_reset();
    td.gate = want > 1 ? want : 0;
    ss_bulk_options o = {.parallelism = asked};
    CHECK_RC(ss_bulk_get(&res, s, g, N, &o, &err), SS_OK, &err);
    if (td.max_in_flight != want)
        fprintf(stderr, "parallelism %u: %d in flight at most, want %d\n", asked, td.max_in_flight,
                want);
    CHECK(td.max_in_flight == want);
    CHECK(res.count == N && td.calls == N);
    for (size_t i = 0; i < res.count; i++)
        CHECK(res.items[i].value && strcmp(res.items[i].value->data, g[i].key) == 0);
    ss_results_free(&res);
}

static void test_parallelism(ss_store *s)
{
    check_parallelism(s, 1, 1);
    check_parallelism(s, 3, 3);
    check_parallelism(s, 0, 8); /* the default */
    check_parallelism(s, 100, N);
    /* Fewer items than workers: one worker per item. */
    ss_get_request g[2];
    make_gets(g, 2);
    ss_results res = {0};
    td_reset();
    td.gate = 2;
    CHECK_RC(ss_bulk_get(&res, s, g, 2, NULL, NULL), SS_OK, (ss_error *)NULL);
    CHECK(td.max_in_flight == 2);
    ss_results_free(&res);
}

static void test_set_codes(ss_store *s)
{
    static const char *const skeys[] = {"s0", "s1", "s2", "s3"};
    ss_set_request r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (ss_set_request){.key = skeys[i], .value = "v", .value_len = 1};
    }
    ss_results res = {0};
    ss_error err = {0};
    ss_bulk_options one = {.parallelism = 1}; /* script answers in item order */

    /* First failure is BACKEND, a later one ETAG_MISMATCH: the ETag failure wins. */
    static const ss_code c1[] = {SS_OK, SS_BACKEND, SS_OK, SS_ETAG_MISMATCH};
    static const char *const t1[] = {NULL, "disk full", NULL, "version 7 != 9"};
    td_reset();
    td_script(4, c1, t1);
    CHECK_RC(ss_bulk_set(&res, s, r, 4, &one, &err), SS_ETAG_MISMATCH, &err);
    CHECK_STR(err.message, "store \"b\" (recorder): bulk set: 2 of 4 items failed; set \"s3\": "
                           "version 7 != 9");
    CHECK(res.count == 4);
    if (res.count == 4) {
        CHECK(res.items[0].code == SS_OK && !res.items[0].error);
        CHECK(res.items[1].code == SS_BACKEND);
        CHECK_STR(res.items[1].error, "store \"b\" (recorder): set \"s1\": disk full");
        CHECK(res.items[3].code == SS_ETAG_MISMATCH);
    }
    ss_results_free(&res);

    /* No ETag failure: the first failure's code. */
    static const ss_code c2[] = {SS_OK, SS_TOO_LARGE, SS_BACKEND, SS_OK};
    td_reset();
    td_script(4, c2, NULL);
    CHECK_RC(ss_bulk_set(&res, s, r, 4, &one, &err), SS_TOO_LARGE, &err);
    ss_results_free(&res);
    /* out may be NULL for writes. */
    td_reset();
    td_script(4, c2, NULL);
    CHECK_RC(ss_bulk_set(NULL, s, r, 4, &one, &err), SS_TOO_LARGE, &err);
    /* ETAG_INVALID counts as an ETag failure too. */
    static const ss_code c3[] = {SS_UNAVAILABLE, SS_OK, SS_ETAG_INVALID, SS_ETAG_MISMATCH};
    td_reset();
    td_script(4, c3, NULL);
    ss_delete_request d[4];
    for (int i = 0; i < 4; i++) d[i] = (ss_delete_request){.key = skeys[i]};
    CHECK_RC(ss_bulk_delete(&res, s, d, 4, &one, &err), SS_ETAG_INVALID, &err);
    CHECK(res.count == 4 && res.items[0].code == SS_UNAVAILABLE);
    ss_results_free(&res);

    /* A bulk get reports per-item failures in the items, not as the call's code. */
    ss_get_request g[3];
    make_gets(g, 3);
    static const ss_code c4[] = {SS_OK, SS_UNAVAILABLE, SS_OK};
    td_reset();
    td_script(3, c4, NULL);
    CHECK_RC(ss_bulk_get(&res, s, g, 3, &one, &err), SS_OK, &err);
    CHECK(res.count == 3 && res.items[1].code == SS_UNAVAILABLE && !res.items[1].value);
    CHECK(res.count == 3 && res.items[0].value && res.items[2].value);
    ss_results_free(&res);

    /* Invalid input anywhere: nothing is attempted, out stays empty. */
    td_reset();
    r[2].options.consistency = "sometimes";
    CHECK_RC(ss_bulk_set(&res, s, r, 4, NULL, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "set \"s2\": unrecognized consistency \"sometimes\"");
    CHECK(td.calls == 0 && res.count == 0 && res.items == NULL);
    r[2].options.consistency = NULL;
    CHECK_RC(ss_bulk_set(&res, s, NULL, 4, NULL, &err), SS_INVALID, &err);
    CHECK_RC(ss_bulk_get(NULL, s, g, 3, NULL, &err), SS_INVALID, &err);
    CHECK_RC(ss_bulk_set(&res, s, r, 0, NULL, &err), SS_OK, &err);
    CHECK(res.count == 0 && res.items == NULL);
    ss_results_free(NULL);
}

static void test_native(void)
{
    ss_store *s = td_open_store("bulky", "nb");
    if (!s) return;
    ss_error err = {0};
    ss_results res = {0};
    ss_set_request r[3] = {{.key = "x", .value = "1", .value_len = 1},
                           {.key = "y", .value = "2", .value_len = 1},
                           {.key = "z", .value = "3", .value_len = 1}};
    static const ss_code c1[] = {SS_OK, SS_ETAG_MISMATCH, SS_OK};
    static const char *const t1[] = {NULL, "stale", NULL};
    td_reset();
    td_script(3, c1, t1);
    CHECK_RC(ss_bulk_set(&res, s, r, 3, NULL, &err), SS_ETAG_MISMATCH, &err);
    CHECK(res.count == 3);
    if (res.count == 3) CHECK_STR(res.items[1].error, "store \"nb\" (bulky): set \"y\": stale");
    ss_results_free(&res);

    /* The whole native call fails: every item carries that error. */
    static const ss_code c2[] = {SS_UNAVAILABLE};
    static const char *const t2[] = {"WHOLE"};
    td_reset();
    td_script(1, c2, t2);
    CHECK_RC(ss_bulk_set(&res, s, r, 3, NULL, &err), SS_UNAVAILABLE, &err);
    CHECK_STR(err.message, "store \"nb\" (bulky): bulk set: whole call failed");
    CHECK(res.count == 3);
    for (size_t i = 0; i < res.count; i++) {
        CHECK(res.items[i].code == SS_UNAVAILABLE);
        CHECK_CONTAINS(res.items[i].error, "whole call failed");
    }
    ss_results_free(&res);
    ss_get_request g[2] = {{.key = "x"}, {.key = "y"}};
    td_reset();
    td_script(1, c2, t2);
    CHECK_RC(ss_bulk_get(&res, s, g, 2, NULL, &err), SS_UNAVAILABLE, &err);
    CHECK(res.count == 0 && res.items == NULL);
    td_reset();
    CHECK_RC(ss_bulk_get(&res, s, g, 2, NULL, &err), SS_OK, &err);
    CHECK(res.count == 2 && res.items[1].value && strcmp(res.items[1].value->data, "y") == 0);
    ss_results_free(&res);
    /* No bulk_delete slot: the fallback loop runs the single delete. */
    ss_delete_request d[2] = {{.key = "x"}, {.key = "y"}};
    td_reset();
    CHECK_RC(ss_bulk_delete(&res, s, d, 2, NULL, &err), SS_OK, &err);
    CHECK(td.calls == 2 && res.count == 2);
    ss_results_free(&res);
    ss_close(s);
}

int main(void)
{
    if (!td_register_all()) return 1;
    ss_store *s = td_open_store("recorder", "b");
    CHECK(s != NULL);
    if (s) {
        test_order(s);
        test_parallelism(s);
        test_set_codes(s);
        ss_close(s);
    }
    test_native();
    return check_done("test_bulk");
}

/*
 * test_fault_bulk.c — bulk calls with injected faults: a fault on single items is reported on
 * those items only (the others are applied), a fault on the whole call is reported for every
 * item, and an ETag failure wins the summary code over other failures.
 */
#include "fault/faulty.h"
#include "unit/check.h"

#include <stdio.h>
#include <string.h>

static ss_store *open_faulty(const char *op, const char *call, const char *count)
{
    ss_pair props[] = {{"inner", "memory"},
                       {"failOp", op},
                       {"failCall", call},
                       {"failCount", count},
                       {"failCode", "TIMEOUT"}};
    ss_config cfg = {.driver = "faulty", .name = "b", .properties = props, .property_count = 5};
    ss_store *s = NULL;
    ss_error err = {0};
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    return s;
}

static const char *const keys[5] = {"k0", "k1", "k2", "k3", "k4"};

static void set_all(ss_store *s, ss_results *res, ss_code want, ss_error *err)
{
    ss_set_request r[5];
    for (int i = 0; i < 5; i++)
        r[i] = (ss_set_request){.key = keys[i], .value = "v", .value_len = 1};
    CHECK_RC(ss_bulk_set(res, s, r, 5, NULL, err), want, err);
}

static void present(ss_store *s, const char *k, bool want)
{
    ss_value *v = NULL;
    ss_error err = {0};
    ss_get_request g = {.key = k};
    CHECK_RC(ss_get(&v, s, &g, &err), SS_OK, &err);
    CHECK((v != NULL) == want);
    if ((v != NULL) != want) fprintf(stderr, "  key %s: present=%d, want %d\n", k, v != NULL, want);
    ss_value_free(v);
}

static void partial_set(void)
{
    ss_store *s = open_faulty("set", "2", "2");
    if (!s) return;
    ss_results res = {0};
    ss_error err = {0};
    set_all(s, &res, SS_TIMEOUT, &err);
    CHECK_CONTAINS(err.message, "2 of 5 items failed");
    CHECK_CONTAINS(err.message, "injected fault: TIMEOUT on set call 2");
    CHECK(res.count == 5);
    for (size_t i = 0; i < res.count; i++) {
        bool bad = i == 1 || i == 2;
        CHECK(res.items[i].code == (bad ? SS_TIMEOUT : SS_OK));
        if (bad) {
            CHECK_CONTAINS(res.items[i].error, "injected fault: TIMEOUT on set call");
            CHECK_CONTAINS(res.items[i].error, keys[i]);
            CHECK(res.items[i].etag == NULL);
        } else {
            CHECK(res.items[i].error == NULL);
            CHECK(res.items[i].etag != NULL);
        }
        present(s, keys[i], !bad);
    }
    ss_results_free(&res);
    ss_close(s);
}

static void partial_get_and_delete(void)
{
    ss_store *s = open_faulty("get", "4", "1");
    if (!s) return;
    ss_results res = {0};
    ss_error err = {0};
    set_all(s, &res, SS_OK, &err);
    ss_results_free(&res);
    ss_get_request g[5];
    for (int i = 0; i < 5; i++) g[i] = (ss_get_request){.key = keys[i]};
    /* A bulk get succeeds as a call; the failed key carries its error. */
    CHECK_RC(ss_bulk_get(&res, s, g, 5, NULL, &err), SS_OK, &err);
    CHECK(res.count == 5);
    for (size_t i = 0; i < res.count; i++) {
        bool bad = i == 3;
        CHECK(res.items[i].code == (bad ? SS_TIMEOUT : SS_OK));
        CHECK((res.items[i].value != NULL) == !bad);
        if (bad) CHECK_CONTAINS(res.items[i].error, "injected fault: TIMEOUT on get call 4");
    }
    ss_results_free(&res);
    ss_close(s);

    s = open_faulty("delete", "1", "1");
    if (!s) return;
    set_all(s, &res, SS_OK, &err);
    ss_results_free(&res);
    ss_delete_request d[5];
    for (int i = 0; i < 5; i++) d[i] = (ss_delete_request){.key = keys[i]};
    CHECK_RC(ss_bulk_delete(&res, s, d, 5, NULL, &err), SS_TIMEOUT, &err);
    CHECK_CONTAINS(err.message, "1 of 5 items failed");
    for (size_t i = 0; i < 5; i++) {
        CHECK(res.items[i].code == (i == 0 ? SS_TIMEOUT : SS_OK));
        present(s, keys[i], i == 0);
    }
    ss_results_free(&res);
    ss_close(s);
}

static void whole_call(void)
{
    ss_store *s = open_faulty("bulk_set", "1", "1");
    if (!s) return;
    ss_results res = {0};
    ss_error err = {0};
    set_all(s, &res, SS_TIMEOUT, &err);
    CHECK_CONTAINS(err.message, "store \"b\" (faulty): bulk set: injected fault");
    CHECK(res.count == 5);
    for (size_t i = 0; i < res.count; i++) {
        CHECK(res.items[i].code == SS_TIMEOUT);
        CHECK_CONTAINS(res.items[i].error, "injected fault: TIMEOUT on bulk_set call 1");
        present(s, keys[i], false);
    }
    ss_results_free(&res);
    /* Transient: the next bulk set goes through. */
    set_all(s, &res, SS_OK, &err);
    for (size_t i = 0; i < 5; i++) present(s, keys[i], true);
    ss_results_free(&res);
    ss_close(s);

    s = open_faulty("bulk_get", "1", "1");
    if (!s) return;
    ss_get_request g[2] = {{.key = "x"}, {.key = "y"}};
    CHECK_RC(ss_bulk_get(&res, s, g, 2, NULL, &err), SS_TIMEOUT, &err);
    CHECK_CONTAINS(err.message, "injected fault: TIMEOUT on bulk_get call 1");
    ss_results_free(&res);
    ss_close(s);
}

/* Item 1 has a stale ETag, item 3 an injected fault: the call reports the ETag failure. */
static void etag_wins(void)
{
    ss_store *s = open_faulty("set", "3", "1");
    if (!s) return;
    ss_results res = {0};
    ss_error err = {0};
    ss_set_request r[5];
    for (int i = 0; i < 5; i++)
        r[i] = (ss_set_request){.key = keys[i], .value = "v", .value_len = 1};
    r[1].etag = "stale";
    CHECK_RC(ss_bulk_set(&res, s, r, 5, NULL, &err), SS_ETAG_MISMATCH, &err);
    CHECK_CONTAINS(err.message, "2 of 5 items failed");
    CHECK(res.count == 5);
    if (res.count == 5) {
        CHECK(res.items[1].code == SS_ETAG_MISMATCH);
        CHECK(res.items[2].code == SS_TIMEOUT);
        CHECK(res.items[0].code == SS_OK && res.items[3].code == SS_OK &&
              res.items[4].code == SS_OK);
    }
    ss_results_free(&res);
    ss_close(s);
}

int main(void)
{
    ss_error err = {0};
    if (ss_faulty_register(&err) != SS_OK) {
        fprintf(stderr, "register: %s\n", err.message);
        return 1;
    }
    partial_set();
    partial_get_and_delete();
    whole_call();
    etag_wins();
    return check_done("test_fault_bulk");
}

/*
 * test_abi.c — a driver compiled against driver ABI 1 (abi1_driver.c, whose ss_op lacks
 * etag_wanted and so is shorter) is served correctly: single ops, native bulk get/set/delete and
 * transactions all hand it every op whole and in order. Drivers claiming an ABI the library
 * does not serve are refused with a message saying why.
 */
#include <statestore.h>
#include <statestore/driver.h>

#include "abi1_driver.h"
#include "check.h"

static void test_refused(void)
{
    ss_error err = {0};
    CHECK_RC(abi1_register_as("abi-zero", 0, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "register driver \"abi-zero\": built for driver ABI 0");
    CHECK_CONTAINS(err.message, "serves ABIs 1 to 2");
    CHECK_CONTAINS(err.message, "older than any this library still serves");

    CHECK_RC(abi1_register_as("abi-next", SS_DRIVER_ABI + 1, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "built for driver ABI 3");
    CHECK_CONTAINS(err.message, "newer than this library");
    CHECK(!ss_driver_find("abi-zero", NULL));
    CHECK(!ss_driver_find("abi-next", NULL));

    /* Both ends of the served range are accepted. */
    CHECK_RC(abi1_register_as("abi-min", SS_DRIVER_ABI_MIN, &err), SS_OK, &err);
    CHECK_RC(abi1_register_as("abi-cur", SS_DRIVER_ABI, &err), SS_OK, &err);
}

static void get_is(ss_store *s, const char *key, const char *want)
{
    ss_error err = {0};
    ss_value *v = NULL;
    ss_get_request g = {.key = key};
    CHECK_RC(ss_get(&v, s, &g, &err), SS_OK, &err);
    if (!want) {
        CHECK(v == NULL);
    } else {
        CHECK(v != NULL);
        if (v) CHECK_STR(v->data, want);
    }
    ss_value_free(v);
}

static void test_served(void)
{
    ss_error err = {0};
    CHECK_RC(abi1_register(&err), SS_OK, &err);
    ss_store *s = NULL;
    ss_config cfg = {.driver = "abi1"};
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    if (!s) return;

    /* Native bulk set: three ops, values of different lengths. */
    abi1_seen_clear();
    ss_set_request sets[3] = {{.key = "k0", .value = "a", .value_len = 1},
                              {.key = "key1", .value = "bb", .value_len = 2},
                              {.key = "k2", .value = "ccc", .value_len = 3}};
    ss_results res = {0};
    CHECK_RC(ss_bulk_set(&res, s, sets, 3, NULL, &err), SS_OK, &err);
    CHECK_STR(abi1_seen(), "bulk_set s k0/2/1;bulk_set s key1/4/2;bulk_set s k2/2/3;");
    CHECK(res.count == 3);
    char etag0[16] = "";
    if (res.count == 3) {
        for (size_t i = 0; i < 3; i++) CHECK(res.items[i].code == SS_OK && res.items[i].etag);
        if (res.items[0].etag) snprintf(etag0, sizeof etag0, "%s", res.items[0].etag);
    }
    ss_results_free(&res);

    /* Native bulk get, a missing key in the middle. */
    abi1_seen_clear();
    ss_get_request gets[4] = {{.key = "k0"}, {.key = "nope"}, {.key = "key1"}, {.key = "k2"}};
    CHECK_RC(ss_bulk_get(&res, s, gets, 4, NULL, &err), SS_OK, &err);
    CHECK_STR(abi1_seen(), "bulk_get g k0/2/0;bulk_get g nope/4/0;bulk_get g key1/4/0;"
                           "bulk_get g k2/2/0;");
    CHECK(res.count == 4);
    if (res.count == 4) {
        static const char *const want[] = {"a", NULL, "bb", "ccc"};
        for (size_t i = 0; i < 4; i++) {
            CHECK(res.items[i].code == SS_OK);
            if (!want[i]) {
                CHECK(res.items[i].value == NULL);
            } else {
                CHECK(res.items[i].value != NULL);
                if (res.items[i].value) CHECK_STR(res.items[i].value->data, want[i]);
            }
        }
    }
    ss_results_free(&res);

    /* A transaction: upsert a new key, delete one under its ETag. */
    abi1_seen_clear();
    ss_operation ops[2] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "k3", .value = "dddd", .value_len = 4}},
        {.kind = SS_OP_DELETE, .del = {.key = "k0", .etag = etag0}},
    };
    ss_transaction tx = {.ops = ops, .count = 2};
    CHECK_RC(ss_transact(s, &tx, &err), SS_OK, &err);
    CHECK_STR(abi1_seen(), "transact s k3/2/4;transact d k0/2/0;");
    get_is(s, "k3", "dddd");
    get_is(s, "k0", NULL);

    /* One failing condition in the second op: nothing applied, the whole call says why. */
    ops[1].del.key = "key1";
    ops[1].del.etag = "999";
    ops[0].set.value = "eeeee";
    ops[0].set.value_len = 5;
    CHECK_RC(ss_transact(s, &tx, &err), SS_ETAG_MISMATCH, &err);
    CHECK_CONTAINS(err.message, "store \"abi1\" (abi1): transact: version is");
    get_is(s, "k3", "dddd");
    get_is(s, "key1", "bb");

    /* Native bulk delete, with a per-item failure on the second. */
    abi1_seen_clear();
    ss_delete_request dels[2] = {{.key = "k2"}, {.key = "key1", .etag = "999"}};
    CHECK_RC(ss_bulk_delete(&res, s, dels, 2, NULL, &err), SS_ETAG_MISMATCH, &err);
    CHECK_STR(abi1_seen(), "bulk_delete d k2/2/0;bulk_delete d key1/4/0;");
    if (res.count == 2) {
        CHECK(res.items[0].code == SS_OK);
        CHECK(res.items[1].code == SS_ETAG_MISMATCH);
        CHECK_STR(res.items[1].error,
                  "store \"abi1\" (abi1): delete \"key1\": version is 2, not 999");
    }
    ss_results_free(&res);
    get_is(s, "k2", NULL);
    get_is(s, "key1", "bb");

    /* Single ops reach it by pointer to today's longer struct: its fields come first. */
    abi1_seen_clear();
    char *etag = NULL;
    ss_set_request one = {.key = "single", .value = "x", .value_len = 1};
    CHECK_RC(ss_set(&etag, s, &one, &err), SS_OK, &err);
    CHECK(etag != NULL);
    ss_delete_request d1 = {.key = "single", .etag = etag};
    CHECK_RC(ss_delete(s, &d1, &err), SS_OK, &err);
    CHECK_STR(abi1_seen(), "set s single/6/1;del d single/6/0;");
    ss_free(etag);

    ss_close(s);
}

int main(void)
{
    test_refused();
    test_served();
    return check_done("test_abi");
}

/*
 * cases_basic.c — the store handle, single operations, option strings, API misuse, and
 * "declared features equal observed behaviour".
 */
#include "conformance.h"

#include <stdio.h>
#include <string.h>

static void case_ping(cf_t *t)
{
    ss_error err;
    cf_err_init(&err);
    ss_code rc = ss_ping(cf_env_of(t)->store, &err);
    if (rc != SS_OK) cf_fail(t, "ping: expected OK, got %s: %s", ss_code_name(rc), err.message);
}

static void case_identity(cf_t *t)
{
    const cf_env *env = cf_env_of(t);
    const char *drv = ss_store_driver(env->store);
    const char *name = ss_store_name(env->store);
    if (!drv || !name) {
        cf_fail(t, "ss_store_driver/ss_store_name returned NULL");
        return;
    }
    ss_driver_info info;
    if (!ss_driver_find(env->asked_driver, &info)) {
        cf_fail(t, "ss_driver_find(\"%s\") finds nothing although the store opened",
                env->asked_driver);
        return;
    }
    if (strcmp(drv, info.name) != 0) {
        cf_fail(t, "ss_store_driver is \"%s\", expected the canonical name \"%s\"", drv, info.name);
        return;
    }
    const char *want = env->asked_name ? env->asked_name : info.name;
    if (strcmp(name, want) != 0) {
        cf_fail(t, "ss_store_name is \"%s\", expected \"%s\"", name, want);
        return;
    }
    char prefixed[256];
    snprintf(prefixed, sizeof prefixed, "state.%s", info.name);
    ss_driver_info again;
    if (!ss_driver_find(prefixed, &again) || strcmp(again.name, info.name) != 0)
        cf_fail(t,
                "ss_driver_find(\"%s\") does not find driver \"%s\" (a \"state.\" prefix must be "
                "accepted)",
                prefixed, info.name);
}

static void case_get_missing(cf_t *t)
{
    REQUIRE(cf_expect_missing(t, cf_key(t, "never-written")));
    ss_get_request req = {.key = cf_key(t, "never-written-strong"), .consistency = SS_STRONG};
    ss_value *v = NULL;
    REQUIRE(cf_get_req(t, &req, &v));
    if (v) cf_fail(t, "strong get of a never-written key found a value");
}

static void case_set_get(cf_t *t)
{
    const char *k = cf_key(t, "k");
    REQUIRE(cf_puts(t, k, "\"first\""));
    REQUIRE(cf_expects(t, k, "\"first\""));
    cf_step(t, "overwrite with a shorter value");
    REQUIRE(cf_puts(t, k, "2"));
    REQUIRE(cf_expects(t, k, "2"));
    cf_step(t, "overwrite with a longer value");
    REQUIRE(cf_puts(t, k, "\"a much longer third value\""));
    REQUIRE(cf_expects(t, k, "\"a much longer third value\""));
    cf_step(t, "strong and eventual reads");
    ss_get_request strong = {.key = k, .consistency = SS_STRONG};
    ss_get_request eventual = {.key = k, .consistency = SS_EVENTUAL};
    ss_value *v = NULL;
    REQUIRE(cf_get_req(t, &strong, &v));
    if (!v) {
        cf_fail(t, "strong get: key not found");
        return;
    }
    REQUIRE(cf_same(t, "strong get", "\"a much longer third value\"", 27, v->data, v->len));
    REQUIRE(cf_get_req(t, &eventual, &v));
    if (!v) cf_fail(t, "eventual get: key not found");
}

static void case_delete(cf_t *t)
{
    const char *k = cf_key(t, "to-be-deleted");
    REQUIRE(cf_puts(t, k, "\"to be deleted\""));
    REQUIRE(cf_expects(t, k, "\"to be deleted\""));
    REQUIRE(cf_del(t, k, NULL, CF_WANT(OK)));
    REQUIRE(cf_expect_missing(t, k));
    cf_step(t, "delete again");
    REQUIRE(cf_del(t, k, NULL, CF_WANT(OK)));
    cf_step(t, "set after delete");
    REQUIRE(cf_puts(t, k, "\"back\""));
    REQUIRE(cf_expects(t, k, "\"back\""));
}

static void case_delete_missing(cf_t *t)
{
    const char *k = cf_key(t, "never-written");
    REQUIRE(cf_del(t, k, NULL, CF_WANT(OK)));
    REQUIRE(cf_del(t, k, "", CF_WANT(OK))); /* "" is "no ETag", as Dapr's pointer-to-"" */
    REQUIRE(cf_expect_missing(t, k));
}

/* Every option string Dapr spells, and the defaults, are accepted. */
static void case_options_valid(cf_t *t)
{
    static const char *const concurrency[] = {NULL, "", SS_LAST_WRITE};
    static const char *const consistency[] = {NULL, "", SS_STRONG, SS_EVENTUAL};
    static const char *const pattern[] = {NULL, "", SS_LINEAR, SS_EXPONENTIAL};
    const char *k = cf_key(t, "k");
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 4; j++)
            for (size_t p = 0; p < 4; p++) {
                cf_step(t, "concurrency %s, consistency %s, retry pattern %s",
                        concurrency[i] ? concurrency[i] : "NULL",
                        consistency[j] ? consistency[j] : "NULL", pattern[p] ? pattern[p] : "NULL");
                char val[32];
                snprintf(val, sizeof val, "%zu", i * 100 + j * 10 + p);
                ss_set_request set = {.key = k, .value = val, .value_len = strlen(val)};
                set.options.concurrency = concurrency[i];
                set.options.consistency = consistency[j];
                set.options.retry =
                    (ss_retry){.pattern = pattern[p], .interval_ms = 1, .threshold = (uint32_t)p};
                REQUIRE(cf_set_req(t, &set, CF_WANT(OK), NULL));
                REQUIRE(cf_expects(t, k, val));
                ss_delete_request del = {.key = k, .options = set.options};
                REQUIRE(cf_del_req(t, &del, CF_WANT(OK)));
                REQUIRE(cf_expect_missing(t, k));
            }
    if (cf_has(t, SS_FEATURE_FIRST_WRITE)) {
        cf_step(t, "first-write on a new key");
        ss_set_request set = {.key = k, .value = "1", .value_len = 1};
        set.options.concurrency = SS_FIRST_WRITE;
        REQUIRE(cf_set_req(t, &set, CF_WANT(OK), NULL));
        REQUIRE(cf_expects(t, k, "1"));
    }
}

/* Option strings are validated exactly (Dapr's CheckRequestOptions): anything else is INVALID
 * with a message naming the bad value, and nothing is written. */
static void case_options_invalid(cf_t *t)
{
    static const char *const bad[] = {"bogus-value", "First-Write", "STRONG",
                                      " strong",     "last_write",  "eventual "};
    const char *k = cf_key(t, "k");
    const char *existing = cf_key(t, "existing");
    REQUIRE(cf_puts(t, existing, "\"kept\""));
    ss_store *st = cf_env_of(t)->store;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *b = bad[i];
        for (int field = 0; field < 3; field++) {
            static const char *const fields[] = {"concurrency", "consistency", "retry pattern"};
            ss_write_options o = {0};
            if (field == 0) o.concurrency = b;
            if (field == 1) o.consistency = b;
            if (field == 2) o.retry.pattern = b;

            cf_step(t, "set with %s \"%s\"", fields[field], b);
            ss_set_request set = {.key = k, .value = "1", .value_len = 1, .options = o};
            ss_error err;
            cf_err_init(&err);
            char *etag = NULL;
            ss_code rc = ss_set(&etag, st, &set, &err);
            ss_free(etag);
            REQUIRE(cf_code(t, "set", rc, CF_WANT(INVALID), &err));
            REQUIRE(cf_msg_has(t, "set", &err, b));
            REQUIRE(cf_expect_missing(t, k));

            cf_step(t, "delete with %s \"%s\"", fields[field], b);
            ss_delete_request del = {.key = existing, .options = o};
            cf_err_init(&err);
            rc = ss_delete(st, &del, &err);
            REQUIRE(cf_code(t, "delete", rc, CF_WANT(INVALID), &err));
            REQUIRE(cf_msg_has(t, "delete", &err, b));
            REQUIRE(cf_expects(t, existing, "\"kept\""));
        }
        cf_step(t, "get with consistency \"%s\"", b);
        ss_get_request get = {.key = existing, .consistency = b};
        ss_error err;
        cf_err_init(&err);
        ss_value *v = NULL;
        ss_code rc = ss_get(&v, st, &get, &err);
        ss_value_free(v);
        REQUIRE(cf_code(t, "get", rc, CF_WANT(INVALID), &err));
        REQUIRE(cf_msg_has(t, "get", &err, b));
        if (v) {
            cf_fail(t, "get failed with INVALID but returned a value");
            return;
        }
    }
    cf_step(t, "bulk get with one bad consistency");
    ss_get_request gets[2] = {{.key = existing}, {.key = existing, .consistency = "bogus-value"}};
    ss_results r = {0};
    ss_error err;
    cf_err_init(&err);
    ss_code rc = ss_bulk_get(&r, st, gets, 2, NULL, &err);
    ss_results_free(&r);
    REQUIRE(cf_code(t, "bulk get", rc, CF_WANT(INVALID), &err));
    cf_step(t, "bulk set with one bad concurrency");
    ss_set_request sets[2] = {{.key = k, .value = "1", .value_len = 1},
                              {.key = k, .value = "2", .value_len = 1}};
    sets[1].options.concurrency = "bogus-value";
    cf_err_init(&err);
    rc = ss_bulk_set(NULL, st, sets, 2, NULL, &err);
    REQUIRE(cf_code(t, "bulk set", rc, CF_WANT(INVALID), &err));
    REQUIRE(cf_msg_has(t, "bulk set", &err, "bogus-value"));
    cf_step(t, "bulk delete with one bad consistency");
    ss_delete_request dels[2] = {{.key = existing}, {.key = existing}};
    dels[1].options.consistency = "bogus-value";
    cf_err_init(&err);
    rc = ss_bulk_delete(NULL, st, dels, 2, NULL, &err);
    REQUIRE(cf_code(t, "bulk delete", rc, CF_WANT(INVALID), &err));
}

/* Keys must be non-empty; a store's declared limit is enforced as TOO_LARGE. */
static void case_invalid_keys(cf_t *t)
{
    ss_store *st = cf_env_of(t)->store;
    const char *bad_keys[] = {"", NULL};
    for (size_t i = 0; i < 2; i++) {
        const char *label = bad_keys[i] ? "empty key" : "NULL key";
        cf_step(t, "%s", label);
        ss_error err;
        cf_err_init(&err);
        ss_value *v = NULL;
        ss_get_request get = {.key = bad_keys[i]};
        ss_code rc = ss_get(&v, st, &get, &err);
        ss_value_free(v);
        REQUIRE(cf_code(t, "get", rc, CF_WANT(INVALID), &err));
        ss_set_request set = {.key = bad_keys[i], .value = "1", .value_len = 1};
        cf_err_init(&err);
        rc = ss_set(NULL, st, &set, &err);
        REQUIRE(cf_code(t, "set", rc, CF_WANT(INVALID), &err));
        ss_delete_request del = {.key = bad_keys[i]};
        cf_err_init(&err);
        rc = ss_delete(st, &del, &err);
        REQUIRE(cf_code(t, "delete", rc, CF_WANT(INVALID), &err));
        ss_get_request gets[2] = {{.key = cf_key(t, "fine")}, {.key = bad_keys[i]}};
        ss_results r = {0};
        cf_err_init(&err);
        rc = ss_bulk_get(&r, st, gets, 2, NULL, &err);
        ss_results_free(&r);
        REQUIRE(cf_code(t, "bulk get", rc, CF_WANT(INVALID), &err));
    }
}

/* Misuse of the API is answered INVALID (or accepted where the header allows it), never a
 * crash. */
static void case_api_misuse(cf_t *t)
{
    ss_store *st = cf_env_of(t)->store;
    const char *k = cf_key(t, "k");
    ss_error err;
    cf_err_init(&err);
    ss_value *v = NULL;
    ss_get_request get = {.key = k};
    ss_set_request set = {.key = k, .value = "\"v\"", .value_len = 3};
    ss_delete_request del = {.key = k};
    ss_code rc;

    cf_step(t, "NULL out");
    rc = ss_get(NULL, st, &get, &err);
    REQUIRE(cf_code(t, "ss_get(out=NULL)", rc, CF_WANT(INVALID), &err));
    cf_step(t, "NULL requests");
    cf_err_init(&err);
    rc = ss_get(&v, st, NULL, &err);
    ss_value_free(v);
    REQUIRE(cf_code(t, "ss_get(req=NULL)", rc, CF_WANT(INVALID), &err));
    cf_err_init(&err);
    rc = ss_set(NULL, st, NULL, &err);
    REQUIRE(cf_code(t, "ss_set(req=NULL)", rc, CF_WANT(INVALID), &err));
    cf_err_init(&err);
    rc = ss_delete(st, NULL, &err);
    REQUIRE(cf_code(t, "ss_delete(req=NULL)", rc, CF_WANT(INVALID), &err));
    cf_err_init(&err);
    rc = ss_transact(st, NULL, &err);
    REQUIRE(cf_code(t, "ss_transact(tx=NULL)", rc, CF_WANT(INVALID) | CF_WANT(UNSUPPORTED), &err));
    ss_results r = {0};
    cf_err_init(&err);
    rc = ss_bulk_get(&r, st, NULL, 2, NULL, &err);
    ss_results_free(&r);
    REQUIRE(cf_code(t, "ss_bulk_get(reqs=NULL, count=2)", rc, CF_WANT(INVALID), &err));
    cf_err_init(&err);
    rc = ss_bulk_get(NULL, st, &get, 1, NULL, &err);
    REQUIRE(cf_code(t, "ss_bulk_get(out=NULL)", rc, CF_WANT(INVALID), &err));
    cf_err_init(&err);
    rc = ss_bulk_set(NULL, st, NULL, 2, NULL, &err);
    REQUIRE(cf_code(t, "ss_bulk_set(reqs=NULL, count=2)", rc, CF_WANT(INVALID), &err));
    cf_err_init(&err);
    rc = ss_bulk_delete(NULL, st, NULL, 2, NULL, &err);
    REQUIRE(cf_code(t, "ss_bulk_delete(reqs=NULL, count=2)", rc, CF_WANT(INVALID), &err));

    cf_step(t, "NULL store");
    cf_err_init(&err);
    rc = ss_get(&v, NULL, &get, &err);
    ss_value_free(v);
    REQUIRE(cf_code(t, "ss_get(store=NULL)", rc, CF_WANT(INVALID), &err));
    cf_err_init(&err);
    rc = ss_set(NULL, NULL, &set, &err);
    REQUIRE(cf_code(t, "ss_set(store=NULL)", rc, CF_WANT(INVALID), &err));
    cf_err_init(&err);
    rc = ss_ping(NULL, &err);
    REQUIRE(cf_code(t, "ss_ping(store=NULL)", rc, CF_WANT(INVALID), &err));

    cf_step(t, "value NULL with value_len 5");
    ss_set_request bad = {.key = k, .value = NULL, .value_len = 5};
    cf_err_init(&err);
    rc = ss_set(NULL, st, &bad, &err);
    REQUIRE(cf_code(t, "set", rc, CF_WANT(INVALID), &err));
    REQUIRE(cf_expect_missing(t, k));

    cf_step(t, "value NULL with value_len 0 is an empty value");
    ss_set_request empty = {.key = k, .value = NULL, .value_len = 0};
    REQUIRE(cf_set_req(t, &empty, CF_WANT(OK), NULL));
    REQUIRE(cf_expect(t, k, "", 0, NULL));

    cf_step(t, "etag_out and err may be NULL");
    rc = ss_set(NULL, st, &set, NULL);
    if (rc != SS_OK) {
        cf_fail(t, "ss_set(etag_out=NULL, err=NULL): expected OK, got %s", ss_code_name(rc));
        return;
    }
    rc = ss_get(&v, st, &get, NULL);
    if (rc != SS_OK || !v) {
        ss_value_free(v);
        cf_fail(t, "ss_get(err=NULL): expected the value, got %s", ss_code_name(rc));
        return;
    }
    ss_value_free(v);
    ss_set_request bogus = set;
    bogus.options.concurrency = "bogus-value";
    rc = ss_set(NULL, st, &bogus, NULL);
    if (rc != SS_INVALID) {
        cf_fail(t, "ss_set(bad concurrency, err=NULL): expected INVALID, got %s", ss_code_name(rc));
        return;
    }
    rc = ss_delete(st, &del, NULL);
    if (rc != SS_OK) {
        cf_fail(t, "ss_delete(err=NULL): expected OK, got %s", ss_code_name(rc));
        return;
    }

    cf_step(t, "bulk set/delete without results");
    ss_set_request sets[2] = {set, set};
    sets[1].key = cf_key(t, "k2");
    cf_err_init(&err);
    rc = ss_bulk_set(NULL, st, sets, 2, NULL, &err);
    REQUIRE(cf_code(t, "ss_bulk_set(out=NULL)", rc, CF_WANT(OK), &err));
    ss_delete_request dels[2] = {{.key = sets[0].key}, {.key = sets[1].key}};
    cf_err_init(&err);
    rc = ss_bulk_delete(NULL, st, dels, 2, NULL, &err);
    REQUIRE(cf_code(t, "ss_bulk_delete(out=NULL)", rc, CF_WANT(OK), &err));
    REQUIRE(cf_expect_missing(t, sets[1].key));

    cf_step(t, "free functions accept NULL");
    ss_value_free(NULL);
    ss_results_free(NULL);
    ss_free(NULL);
    ss_close(NULL);
}

/* Errors name the store instance and the key (header: `store "orders" (redis): set "cart-42": …`).
 */
static void case_error_messages(cf_t *t)
{
    const cf_env *env = cf_env_of(t);
    const char *k = cf_key(t, "named");
    ss_set_request set = {.key = k, .value = "1", .value_len = 1};
    set.options.consistency = "bogus-value";
    ss_error err;
    cf_err_init(&err);
    ss_code rc = ss_set(NULL, env->store, &set, &err);
    REQUIRE(cf_code(t, "set with a bad consistency", rc, CF_WANT(INVALID), &err));
    REQUIRE(cf_msg_has(t, "set with a bad consistency", &err, env->name));
    if (!cf_has(t, SS_FEATURE_ETAG)) return;

    cf_step(t, "ETag mismatch");
    char *etag = NULL;
    REQUIRE(cf_put(t, k, "1", 1, &etag));
    REQUIRE(cf_put(t, k, "2", 1, NULL)); /* etag is stale now */
    set = (ss_set_request){.key = k, .value = "3", .value_len = 1, .etag = etag};
    cf_err_init(&err);
    rc = ss_set(NULL, env->store, &set, &err);
    REQUIRE(cf_code(t, "set with a stale ETag", rc, CF_WANT(ETAG_MISMATCH), &err));
    REQUIRE(cf_msg_has(t, "set with a stale ETag", &err, env->name));
    REQUIRE(cf_msg_has(t, "set with a stale ETag", &err, k));
    ss_delete_request del = {.key = k, .etag = etag};
    cf_err_init(&err);
    rc = ss_delete(env->store, &del, &err);
    REQUIRE(cf_code(t, "delete with a stale ETag", rc, CF_WANT(ETAG_MISMATCH), &err));
    REQUIRE(cf_msg_has(t, "delete with a stale ETag", &err, env->name));
    REQUIRE(cf_msg_has(t, "delete with a stale ETag", &err, k));
}

/* ------------------------------------------------------------------------------------------ */
/* Declared features equal observed behaviour                                                 */
/* ------------------------------------------------------------------------------------------ */

static void case_feature_etag(cf_t *t)
{
    const char *k = cf_key(t, "k");
    char *etag = NULL;
    /* cf_put/cf_get already check that ETags appear exactly when ETAG is declared. */
    REQUIRE(cf_put(t, k, "\"v1\"", 4, &etag));
    ss_value *v = NULL;
    REQUIRE(cf_expect(t, k, "\"v1\"", 4, &v));
    if (cf_has(t, SS_FEATURE_ETAG)) {
        cf_step(t, "declared: set with the current ETag");
        ss_set_request set = {.key = k, .value = "\"v2\"", .value_len = 4, .etag = v->etag};
        REQUIRE(cf_set_req(t, &set, CF_WANT(OK), NULL));
        REQUIRE(cf_expects(t, k, "\"v2\""));
        REQUIRE(cf_etag_of(t, k, &etag));
        REQUIRE(cf_del(t, k, etag, CF_WANT(OK)));
        REQUIRE(cf_expect_missing(t, k));
        return;
    }
    cf_step(t, "undeclared: set with an ETag");
    ss_set_request set = {.key = k, .value = "\"v2\"", .value_len = 4, .etag = "1"};
    REQUIRE(cf_set_req(t, &set, CF_WANT(UNSUPPORTED), NULL));
    REQUIRE(cf_expects(t, k, "\"v1\""));
    cf_step(t, "undeclared: delete with an ETag");
    REQUIRE(cf_del(t, k, "1", CF_WANT(UNSUPPORTED)));
    REQUIRE(cf_expects(t, k, "\"v1\""));
    cf_step(t, "undeclared: bulk set with an ETag");
    ss_set_request sets[1] = {set};
    REQUIRE(cf_bulk_set(t, sets, 1, CF_WANT(UNSUPPORTED), NULL, NULL));
    REQUIRE(cf_expects(t, k, "\"v1\""));
}

static void case_feature_first_write(cf_t *t)
{
    const char *fresh = cf_key(t, "fresh");
    const char *existing = cf_key(t, "existing");
    REQUIRE(cf_puts(t, existing, "\"old\""));
    ss_set_request set = {.key = fresh, .value = "\"new\"", .value_len = 5};
    set.options.concurrency = SS_FIRST_WRITE;
    if (cf_has(t, SS_FEATURE_FIRST_WRITE)) {
        cf_step(t, "declared: first-write of a new key");
        REQUIRE(cf_set_req(t, &set, CF_WANT(OK), NULL));
        REQUIRE(cf_expects(t, fresh, "\"new\""));
        cf_step(t, "declared: first-write of an existing key");
        set.key = existing;
        REQUIRE(cf_set_req(t, &set, CF_WANT(ETAG_MISMATCH), NULL));
        REQUIRE(cf_expects(t, existing, "\"old\""));
        return;
    }
    cf_step(t, "undeclared: first-write of a new key");
    REQUIRE(cf_set_req(t, &set, CF_WANT(UNSUPPORTED), NULL));
    REQUIRE(cf_expect_missing(t, fresh));
    cf_step(t, "undeclared: first-write of an existing key");
    set.key = existing;
    REQUIRE(cf_set_req(t, &set, CF_WANT(UNSUPPORTED), NULL));
    REQUIRE(cf_expects(t, existing, "\"old\""));
}

static void case_feature_transactional(cf_t *t)
{
    const char *a = cf_key(t, "a"), *b = cf_key(t, "b");
    ss_operation ops[2] = {cf_op_upsert(a, "\"A\"", NULL), cf_op_upsert(b, "\"B\"", NULL)};
    if (cf_has(t, SS_FEATURE_TRANSACTIONAL)) {
        REQUIRE(cf_transact(t, ops, 2, NULL, 0, CF_WANT(OK), NULL));
        REQUIRE(cf_expects(t, a, "\"A\""));
        REQUIRE(cf_expects(t, b, "\"B\""));
        return;
    }
    REQUIRE(cf_transact(t, ops, 2, NULL, 0, CF_WANT(UNSUPPORTED), NULL));
    REQUIRE(cf_expect_missing(t, a));
    REQUIRE(cf_expect_missing(t, b));
}

static void case_feature_ttl(cf_t *t)
{
    const char *k = cf_key(t, "k");
    ss_pair ttl = {SS_META_TTL, "3600"};
    ss_set_request set = {
        .key = k, .value = "1", .value_len = 1, .metadata = &ttl, .metadata_count = 1};
    if (cf_has(t, SS_FEATURE_TTL)) {
        REQUIRE(cf_set_req(t, &set, CF_WANT(OK), NULL));
        REQUIRE(cf_expects(t, k, "1"));
        return;
    }
    REQUIRE(cf_set_req(t, &set, CF_WANT(UNSUPPORTED), NULL));
    REQUIRE(cf_expect_missing(t, k));
    cf_step(t, "undeclared: bulk set with a TTL");
    REQUIRE(cf_bulk_set(t, &set, 1, CF_WANT(UNSUPPORTED), NULL, NULL));
    REQUIRE(cf_expect_missing(t, k));
}

const cf_case cf_cases_basic[] = {
    {"ping", 0, 0, case_ping, "ss_ping answers OK"},
    {"identity", 0, 0, case_identity,
     "store name/driver are as asked; the driver is found by name and with a \"state.\" prefix"},
    {"get-missing", 0, 0, case_get_missing,
     "get of a never-written key is OK with no value (eventual and strong)"},
    {"set-get", 0, 0, case_set_get,
     "set then get; overwrite with shorter and longer values; strong/eventual reads"},
    {"delete", 0, 0, case_delete, "delete removes the key; deleting again is OK; set after delete"},
    {"delete-missing", 0, 0, case_delete_missing,
     "delete of a never-written key without ETag (NULL and \"\") is OK"},
    {"options-valid", 0, 0, case_options_valid,
     "every Dapr option string and the defaults (NULL, \"\") are accepted on set/delete"},
    {"options-invalid", 0, 0, case_options_invalid,
     "bad concurrency/consistency/retry pattern: INVALID naming the value, nothing written"},
    {"invalid-keys", 0, 0, case_invalid_keys, "empty and NULL keys are INVALID everywhere"},
    {"api-misuse", 0, 0, case_api_misuse,
     "NULL arguments are INVALID, never a crash; optional out/err may be NULL"},
    {"error-messages", 0, 0, case_error_messages,
     "errors name the store instance and the key; ss_error is left untouched on success"},
    {"feature-etag", 0, 0, case_feature_etag,
     "ETAG declared: ETags everywhere and conditional writes work; else UNSUPPORTED, no ETags"},
    {"feature-first-write", 0, 0, case_feature_first_write,
     "FIRST_WRITE declared: insert-only works; else first-write is UNSUPPORTED"},
    {"feature-transactional", 0, 0, case_feature_transactional,
     "TRANSACTIONAL declared: ss_transact works; else UNSUPPORTED and nothing written"},
    {"feature-ttl", 0, 0, case_feature_ttl,
     "TTL declared: ttlInSeconds accepted; else UNSUPPORTED and nothing written"},
};
const size_t cf_cases_basic_count = sizeof cf_cases_basic / sizeof cf_cases_basic[0];

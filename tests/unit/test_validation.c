/*
 * test_validation.c — the front door: option strings, ttlInSeconds, keys and sizes, feature
 * gating, normalisation into ss_op, error decoration and the driver registry.
 */
#include "check.h"
#include "testdrv.h"

static ss_code set_kv(ss_store *s, const char *key, const char *etag, const char *concurrency,
                      const char *consistency, const char *ttl, ss_error *err)
{
    ss_pair md[] = {{SS_META_TTL, ttl}};
    ss_set_request r = {.key = key, .value = "v", .value_len = 1, .etag = etag};
    r.options.concurrency = concurrency;
    r.options.consistency = consistency;
    if (ttl) {
        r.metadata = md;
        r.metadata_count = 1;
    }
    return ss_set(NULL, s, &r, err);
}

static void test_options(ss_store *s)
{
    ss_error err = {0};
    static const char *const bad[] = {"First-Write", "firstwrite", "last_write", " last-write",
                                      "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        td_reset();
        CHECK_RC(set_kv(s, "k", NULL, bad[i], NULL, NULL, &err), SS_INVALID, &err);
        char want[64];
        snprintf(want, sizeof want, "\"%s\"", bad[i]);
        CHECK_CONTAINS(err.message, want);
        CHECK_CONTAINS(err.message, "concurrency");
        CHECK_CONTAINS(err.message, "\"first-write\", \"last-write\"");
        CHECK(td.calls == 0);
    }
    CHECK_RC(set_kv(s, "k", NULL, NULL, "STRONG", NULL, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "consistency \"STRONG\"");
    CHECK_CONTAINS(err.message, "\"strong\", \"eventual\"");
    CHECK_CONTAINS(err.message, "store \"v1\" (recorder): set \"k\": ");

    ss_set_request r = {.key = "k", .value = "v", .value_len = 1};
    r.options.retry.pattern = "fibonacci";
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "\"fibonacci\"");
    CHECK_CONTAINS(err.message, "\"linear\", \"exponential\"");

    ss_delete_request d = {.key = "k"};
    d.options.concurrency = "sometimes";
    CHECK_RC(ss_delete(s, &d, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "delete \"k\": unrecognized concurrency \"sometimes\"");

    ss_get_request g = {.key = "k", .consistency = "bogus"};
    ss_value *v = NULL;
    CHECK_RC(ss_get(&v, s, &g, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "\"bogus\"");
    /* A non-printable bad value is escaped, not echoed raw. */
    g.consistency = "ev\x01";
    CHECK_RC(ss_get(&v, s, &g, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "\"ev\\x01\"");

    /* Every valid spelling and NULL/"" pass. */
    static const char *const conc[] = {NULL, "", SS_FIRST_WRITE, SS_LAST_WRITE};
    static const char *const cons[] = {NULL, "", SS_STRONG, SS_EVENTUAL};
    for (size_t i = 0; i < 4; i++) {
        CHECK_RC(set_kv(s, "k", NULL, conc[i], cons[i], NULL, &err), SS_OK, &err);
    }
    r.options.retry.pattern = SS_EXPONENTIAL;
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
    r.options.retry.pattern = "";
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
}

static void test_ttl(ss_store *s)
{
    ss_error err = {0};
    static const char *const bad[] = {"foo",  "-2", "2147483648",          "1.5", " 5", "5 ",
                                      "0x10", "+",  "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        td_reset();
        CHECK_RC(set_kv(s, "k", NULL, NULL, NULL, bad[i], &err), SS_INVALID, &err);
        char want[128];
        snprintf(want, sizeof want, "incorrect value for metadata 'ttlInSeconds': \"%s\"", bad[i]);
        CHECK_CONTAINS(err.message, want);
        CHECK(td.calls == 0);
    }
    struct {
        const char *v;
        ss_ttl_mode mode;
        int64_t secs;
    } ok[] = {{"", SS_TTL_DEFAULT, 0},
              {"-1", SS_TTL_NONE, 0},
              {"0", SS_TTL_NONE, 0},
              {"1", SS_TTL_SECONDS, 1},
              {"+7", SS_TTL_SECONDS, 7},
              {"3600", SS_TTL_SECONDS, 3600},
              {"2147483647", SS_TTL_SECONDS, 2147483647}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        td_reset();
        CHECK_RC(set_kv(s, "k", NULL, NULL, NULL, ok[i].v, &err), SS_OK, &err);
        CHECK(td.calls == 1 && td.ttl_mode == ok[i].mode && td.ttl_seconds == ok[i].secs);
    }
    td_reset();
    CHECK_RC(set_kv(s, "k", NULL, NULL, NULL, NULL, &err), SS_OK, &err);
    CHECK(td.ttl_mode == SS_TTL_DEFAULT);
    /* Metadata names are case-sensitive, as in Dapr: this is not the TTL key. */
    ss_pair md[] = {{"TTLINSECONDS", "foo"}};
    ss_set_request r = {
        .key = "k", .value = "v", .value_len = 1, .metadata = md, .metadata_count = 1};
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
}

static void test_keys_sizes(ss_store *s)
{
    ss_error err = {0};
    td_reset();
    CHECK_RC(set_kv(s, "", NULL, NULL, NULL, NULL, &err), SS_INVALID, &err);
    CHECK_STR(err.message, "store \"v1\" (recorder): set: key is empty");
    CHECK_RC(set_kv(s, NULL, NULL, NULL, NULL, NULL, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "key is empty");
    ss_get_request g = {.key = ""};
    ss_value *v = NULL;
    CHECK_RC(ss_get(&v, s, &g, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "get: key is empty");
    ss_delete_request d = {.key = ""};
    CHECK_RC(ss_delete(s, &d, &err), SS_INVALID, &err);
    CHECK_RC(ss_get(&v, s, NULL, &err), SS_INVALID, &err);
    CHECK_RC(ss_set(NULL, s, NULL, &err), SS_INVALID, &err);
    CHECK_RC(ss_get(&v, NULL, &g, &err), SS_INVALID, &err);

    /* recorder: keys up to 16 bytes, values up to 8. */
    CHECK_RC(set_kv(s, "0123456789abcdef", NULL, NULL, NULL, NULL, &err), SS_OK, &err);
    CHECK_RC(set_kv(s, "0123456789abcdefg", NULL, NULL, NULL, NULL, &err), SS_TOO_LARGE, &err);
    CHECK_CONTAINS(err.message, "key is 17 bytes, this store allows 16");
    g.key = "0123456789abcdefg";
    CHECK_RC(ss_get(&v, s, &g, &err), SS_TOO_LARGE, &err);
    ss_set_request r = {.key = "k", .value = "123456789", .value_len = 9};
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_TOO_LARGE, &err);
    CHECK_CONTAINS(err.message, "value is 9 bytes, this store allows 8");
    r.value_len = 8;
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
    r.value = NULL;
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "value is NULL");
    /* A NULL empty value reaches the driver as a non-NULL pointer. */
    td_reset();
    r.value_len = 0;
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
    CHECK(td.calls == 1 && !td.value_null && td.value_len == 0);
    /* Metadata without a name is invalid input. */
    ss_pair md[] = {{NULL, "x"}};
    r.metadata = md;
    r.metadata_count = 1;
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_INVALID, &err);
    r.metadata = NULL;
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_INVALID, &err);
}

static void test_normalise(ss_store *s)
{
    ss_error err = {0};
    td_reset();
    CHECK_RC(set_kv(s, "k", "", NULL, NULL, NULL, &err), SS_OK, &err);
    CHECK(td.cond == SS_COND_ANY && td.etag_null && td.kind == SS_DRV_SET);
    CHECK_RC(set_kv(s, "k", "e1", NULL, NULL, NULL, &err), SS_OK, &err);
    CHECK(td.cond == SS_COND_MATCH && strcmp(td.etag, "e1") == 0);
    CHECK_RC(set_kv(s, "k", NULL, SS_FIRST_WRITE, NULL, NULL, &err), SS_OK, &err);
    CHECK(td.cond == SS_COND_ABSENT && td.etag_null);
    CHECK_RC(set_kv(s, "k", "", SS_FIRST_WRITE, NULL, NULL, &err), SS_OK, &err);
    CHECK(td.cond == SS_COND_ABSENT && td.etag_null);
    CHECK_RC(set_kv(s, "k", "e2", SS_FIRST_WRITE, NULL, NULL, &err), SS_OK, &err);
    CHECK(td.cond == SS_COND_MATCH && strcmp(td.etag, "e2") == 0);
    CHECK_RC(set_kv(s, "k", NULL, SS_LAST_WRITE, SS_STRONG, NULL, &err), SS_OK, &err);
    CHECK(td.cond == SS_COND_ANY && td.consistency == SS_CONSISTENCY_STRONG);
    CHECK_RC(set_kv(s, "k", NULL, NULL, SS_EVENTUAL, NULL, &err), SS_OK, &err);
    CHECK(td.consistency == SS_CONSISTENCY_EVENTUAL);
    ss_delete_request d = {.key = "dk", .etag = "e3"};
    CHECK_RC(ss_delete(s, &d, &err), SS_OK, &err);
    CHECK(td.kind == SS_DRV_DELETE && td.cond == SS_COND_MATCH && strcmp(td.key, "dk") == 0);
    d.etag = NULL;
    d.options.concurrency = SS_FIRST_WRITE;
    CHECK_RC(ss_delete(s, &d, &err), SS_OK, &err);
    CHECK(td.cond == SS_COND_ABSENT);
    ss_get_request g = {.key = "gk", .consistency = SS_STRONG};
    ss_value *v = NULL;
    CHECK_RC(ss_get(&v, s, &g, &err), SS_OK, &err);
    CHECK(td.kind == SS_DRV_GET && td.consistency == SS_CONSISTENCY_STRONG);
    CHECK(v && strcmp(v->data, "gk") == 0);
    CHECK(v && v->etag && strcmp(v->etag, "drv-etag") == 0);
    ss_value_free(v);
    char *etag = NULL;
    ss_set_request sr = {.key = "k", .value = "v", .value_len = 1};
    CHECK_RC(ss_set(&etag, s, &sr, &err), SS_OK, &err);
    CHECK_STR(etag, "drv-etag");
    ss_free(etag);
}

static void test_gating(void)
{
    ss_store *p = td_open_store("plain", "p1");
    CHECK(p != NULL);
    if (!p) return;
    ss_error err = {0};
    td_reset();
    CHECK_RC(set_kv(p, "k", "etag", NULL, NULL, NULL, &err), SS_UNSUPPORTED, &err);
    CHECK_CONTAINS(err.message, "store \"p1\" (plain): set \"k\": ");
    CHECK_CONTAINS(err.message, "ETag");
    CHECK_RC(set_kv(p, "k", NULL, SS_FIRST_WRITE, NULL, NULL, &err), SS_UNSUPPORTED, &err);
    CHECK_CONTAINS(err.message, "first-write");
    CHECK_RC(set_kv(p, "k", "etag", SS_FIRST_WRITE, NULL, NULL, &err), SS_UNSUPPORTED, &err);
    CHECK_RC(set_kv(p, "k", NULL, NULL, NULL, "10", &err), SS_UNSUPPORTED, &err);
    CHECK_CONTAINS(err.message, "ttlInSeconds");
    CHECK_RC(set_kv(p, "k", NULL, NULL, NULL, "-1", &err), SS_UNSUPPORTED, &err);
    ss_delete_request d = {.key = "k", .etag = "x"};
    CHECK_RC(ss_delete(p, &d, &err), SS_UNSUPPORTED, &err);
    d.etag = NULL;
    d.options.concurrency = SS_FIRST_WRITE;
    CHECK_RC(ss_delete(p, &d, &err), SS_UNSUPPORTED, &err);
    ss_transaction empty = {0};
    CHECK_RC(ss_transact(p, &empty, &err), SS_UNSUPPORTED, &err);
    CHECK_CONTAINS(err.message, "store \"p1\" (plain): transact: ");
    ss_set_request bs[] = {{.key = "a", .value = "1", .value_len = 1},
                           {.key = "b", .value = "2", .value_len = 1, .etag = "e"}};
    ss_results res = {0};
    CHECK_RC(ss_bulk_set(&res, p, bs, 2, NULL, &err), SS_UNSUPPORTED, &err);
    CHECK(res.count == 0 && res.items == NULL);
    CHECK(td.calls == 0); /* the driver never saw any of it */
    /* What it does support still works, and "" is no ETag. */
    CHECK_RC(set_kv(p, "k", "", SS_LAST_WRITE, NULL, "", &err), SS_OK, &err);
    CHECK(td.calls == 1);
    /* A store without ETags hands out none, even if its driver made one up. */
    char *etag = (char *)"untouched";
    ss_set_request sr = {.key = "k", .value = "v", .value_len = 1};
    CHECK_RC(ss_set(&etag, p, &sr, &err), SS_OK, &err);
    CHECK(etag == NULL);
    ss_get_request gr = {.key = "k"};
    ss_value *v = NULL;
    CHECK_RC(ss_get(&v, p, &gr, &err), SS_OK, &err);
    CHECK(v && v->etag == NULL);
    ss_value_free(v);
    ss_features f;
    ss_store_features(p, &f);
    CHECK(f.flags == 0 && f.max_tx_ops == 0);
    ss_close(p);
}

static void test_transact_validation(ss_store *s)
{
    ss_error err = {0};
    ss_operation ops[4] = {{.kind = SS_OP_UPSERT},
                           {.kind = SS_OP_DELETE},
                           {.kind = SS_OP_UPSERT},
                           {.kind = SS_OP_DELETE}};
    ops[0].set.key = "a";
    ops[0].set.value = "1";
    ops[0].set.value_len = 1;
    ops[1].del.key = "b";
    ops[2].set.key = "c";
    ops[3].del.key = "d";
    td_reset();
    ss_transaction tx = {.ops = ops, .count = 4};
    CHECK_RC(ss_transact(s, &tx, &err), SS_TOO_LARGE, &err);
    CHECK_CONTAINS(err.message, "4 operations, this store allows at most 3");
    tx.count = 3;
    CHECK_RC(ss_transact(s, &tx, &err), SS_OK, &err);
    CHECK(td.calls == 1 && td.tx_count == 3);
    /* One bad op anywhere: nothing reaches the driver; the message names op and key. */
    td_reset();
    ops[2].set.options.concurrency = "bad";
    CHECK_RC(ss_transact(s, &tx, &err), SS_INVALID, &err);
    CHECK_STR(err.message, "store \"v1\" (recorder): transact: operation 2: set \"c\": "
                           "unrecognized concurrency \"bad\" (accepted: \"first-write\", "
                           "\"last-write\" or empty)");
    ops[2].set.options.concurrency = NULL;
    ops[1].kind = (ss_op_kind)7;
    CHECK_RC(ss_transact(s, &tx, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "operation 1: operation kind 7 is neither upsert");
    ops[1].kind = SS_OP_DELETE;
    ops[0].set.key = "";
    CHECK_RC(ss_transact(s, &tx, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "operation 0: set: key is empty");
    ops[0].set.key = "a";
    CHECK(td.calls == 0);
    tx.ops = NULL;
    CHECK_RC(ss_transact(s, &tx, &err), SS_INVALID, &err);
    CHECK_RC(ss_transact(s, NULL, &err), SS_INVALID, &err);
    /* The driver's failure is decorated. */
    static const ss_code codes[] = {SS_ETAG_MISMATCH};
    static const char *const texts[] = {"etag mismatch on key \"c\""};
    td_script(1, codes, texts);
    tx.ops = ops;
    CHECK_RC(ss_transact(s, &tx, &err), SS_ETAG_MISMATCH, &err);
    CHECK_STR(err.message, "store \"v1\" (recorder): transact: etag mismatch on key \"c\"");
    CHECK(!err.retryable);
}

static void test_decoration(ss_store *s)
{
    ss_error err = {0};
    static const ss_code codes[] = {SS_BACKEND, SS_UNAVAILABLE, SS_BACKEND, SS_BACKEND,
                                    (ss_code)99};
    static const char *const texts[] = {"boom", "connection refused", "", "leaked hunter2 here",
                                        "weird"};
    td_reset();
    td_script(5, codes, texts);
    CHECK_RC(set_kv(s, "k", NULL, NULL, NULL, NULL, &err), SS_BACKEND, &err);
    CHECK_STR(err.message, "store \"v1\" (recorder): set \"k\": boom");
    CHECK(!err.retryable);
    ss_get_request g = {.key = "a\x01\"b"};
    ss_value *v = NULL;
    CHECK_RC(ss_get(&v, s, &g, &err), SS_UNAVAILABLE, &err);
    CHECK_STR(err.message, "store \"v1\" (recorder): get \"a\\x01\\\"b\": connection refused");
    CHECK(err.retryable && v == NULL);
    ss_delete_request d = {.key = "k"};
    CHECK_RC(ss_delete(s, &d, &err), SS_BACKEND, &err);
    CHECK_STR(err.message, "store \"v1\" (recorder): delete \"k\": backend error");
    CHECK_RC(ss_delete(s, &d, &err), SS_BACKEND, &err);
    CHECK_STR(err.message, "store \"v1\" (recorder): delete \"k\": leaked *** here");
    /* A code outside the table becomes BACKEND. */
    CHECK_RC(ss_delete(s, &d, &err), SS_BACKEND, &err);
    /* err may be NULL. */
    CHECK_RC(set_kv(s, "", NULL, NULL, NULL, NULL, NULL), SS_INVALID, (ss_error *)NULL);
}

static void test_long_key_message(void)
{
    ss_store *p = td_open_store("plain", "p2");
    if (!p) return;
    char key[3000];
    memset(key, 'x', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    static const ss_code codes[] = {SS_BACKEND};
    static const char *const texts[] = {"the cause"};
    td_reset();
    td_script(1, codes, texts);
    ss_error err = {0};
    CHECK_RC(set_kv(p, key, NULL, NULL, NULL, NULL, &err), SS_BACKEND, &err);
    CHECK_CONTAINS(err.message, "xxx...\": the cause");
    CHECK(strlen(err.message) < 300);
    ss_close(p);
}

static void test_registry(void)
{
    ss_error err = {0};
    ss_driver_info info;
    CHECK(ss_driver_find("memory", &info) && strcmp(info.name, "memory") == 0);
    CHECK(ss_driver_find("in-memory", &info) && strcmp(info.name, "memory") == 0);
    CHECK(ss_driver_find("state.in-memory", &info) && strcmp(info.name, "memory") == 0);
    CHECK(ss_driver_find("State.Memory", &info));
    CHECK(ss_driver_find("rec", &info) && strcmp(info.name, "recorder") == 0);
    CHECK(!ss_driver_find("nope", &info) && info.name == NULL);
    CHECK(!ss_driver_find("", NULL) && !ss_driver_find(NULL, NULL));
    size_t n = ss_driver_count();
    CHECK(n >= 4);
    bool seen = false;
    for (size_t i = 0; i < n; i++)
        if (ss_driver_at(i, &info) && strcmp(info.name, "bulky") == 0) seen = true;
    CHECK(seen);
    CHECK(!ss_driver_at(n, &info));

    CHECK_RC(ss_register_driver(NULL, &err), SS_INVALID, &err);
    CHECK_RC(ss_register_driver(&td_plain, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "already taken");
    ss_driver d = td_plain;
    d.info.name = "other";
    d.abi = SS_DRIVER_ABI + 1;
    CHECK_RC(ss_register_driver(&d, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "ABI");
    d.abi = SS_DRIVER_ABI;
    static const char *const clash[] = {"in-memory", NULL};
    d.info.aliases = clash;
    CHECK_RC(ss_register_driver(&d, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "\"in-memory\" is already taken");
    d.info.aliases = NULL;
    d.info.name = "MEMORY";
    CHECK_RC(ss_register_driver(&d, &err), SS_INVALID, &err);
    d.info.name = "other";
    d.info.features.flags = SS_FEATURE_TRANSACTIONAL;
    CHECK_RC(ss_register_driver(&d, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "no transact slot");
    d.info.features.flags = 0;
    d.transact = td_transact;
    CHECK_RC(ss_register_driver(&d, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "does not declare TRANSACTIONAL");
    d.transact = NULL;
    d.info.features.flags = SS_FEATURE_BULK_NATIVE;
    CHECK_RC(ss_register_driver(&d, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "BULK_NATIVE");
    d.info.features.flags = 1u << 20;
    CHECK_RC(ss_register_driver(&d, &err), SS_INVALID, &err);
    d.info.features.flags = 0;
    d.get = NULL;
    CHECK_RC(ss_register_driver(&d, &err), SS_INVALID, &err);
    d.get = td_get;
    d.info.name = "";
    CHECK_RC(ss_register_driver(&d, &err), SS_INVALID, &err);
    d.info.name = "state.x";
    CHECK_RC(ss_register_driver(&d, &err), SS_INVALID, &err);
    CHECK(ss_driver_count() == n);

    ss_store *s = NULL;
    ss_config cfg = {.driver = "nosuch"};
    CHECK_RC(ss_open(&s, &cfg, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "unknown driver \"nosuch\"");
    CHECK_CONTAINS(err.message, "memory");
    CHECK(s == NULL);
    cfg.driver = NULL;
    CHECK_RC(ss_open(&s, &cfg, &err), SS_INVALID, &err);
    CHECK_RC(ss_open(&s, NULL, &err), SS_INVALID, &err);
    CHECK_RC(ss_open(NULL, &cfg, &err), SS_INVALID, &err);
    CHECK_STR(ss_feature_name(SS_FEATURE_ETAG), "ETAG");
    CHECK_STR(ss_feature_name(SS_FEATURE_TRANSACTIONAL), "TRANSACTIONAL");
    CHECK_STR(ss_feature_name(SS_FEATURE_TTL), "TTL");
    CHECK_STR(ss_feature_name(SS_FEATURE_FIRST_WRITE), "FIRST_WRITE");
    CHECK_STR(ss_feature_name(SS_FEATURE_BULK_NATIVE), "BULK_NATIVE");
    CHECK_STR(ss_feature_name(3), "UNKNOWN");
}

int main(void)
{
    if (!td_register_all()) return 1;
    ss_pair props[] = {{"host", "h"}, {"password", "hunter2"}};
    ss_config cfg = {
        .driver = "state.recorder", .name = "v1", .properties = props, .property_count = 2};
    ss_store *s = NULL;
    ss_error err = {0};
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    if (!s) return check_done("test_validation");
    CHECK_STR(ss_store_driver(s), "recorder");
    test_options(s);
    test_ttl(s);
    test_keys_sizes(s);
    test_normalise(s);
    test_gating();
    test_transact_validation(s);
    test_decoration(s);
    test_long_key_message();
    test_registry();
    ss_close(s);
    return check_done("test_validation");
}

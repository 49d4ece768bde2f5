/*
 * cases_data.c — values and keys come back byte-exact, through single and bulk operations.
 *
 * Dapr's suite compares JSON values after unmarshalling them; our contract is stricter (values
 * are opaque bytes, returned byte-exact), so every comparison here is byte-exact, which
 * implies Dapr's JSON equality.
 */
#include "conformance.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024u * 1024u)

typedef struct scenario {
    const char *suffix;
    const char *bytes; /* the value as a Dapr client stores it (json.Marshal of the Go value) */
    size_t len;        /* 0 = strlen(bytes) */
    bool json;         /* sent with metadata contentType=application/json, as Dapr's suite */
} scenario;

static size_t scen_len(const scenario *s)
{
    return s->len ? s->len : strlen(s->bytes);
}

static const ss_pair json_meta = {SS_META_CONTENT_TYPE, "application/json"};

/* Dapr's conformance scenarios (state.go): values of every JSON type. */
static void case_dapr_values(cf_t *t)
{
    scenario sc[] = {
        {"int", "123", 0, false},
        {"bool", "true", 0, false},
        {"bytes", "\x01", 1, false},
        {"string-with-json", "\"{\\\"a\\\":\\\"b\\\"}\"", 0, false},
        {"string", "\"hello world\"", 0, false},
        {"empty-string", "\"\"", 0, false},
        {"struct", NULL, 0, true},
        {"struct-with-int", "{\"message\":42}", 0, true},
        {"struct-operations", NULL, 0, true},
    };
    size_t n = sizeof sc / sizeof sc[0];
    const char **keys = cf_alloc(t, n * sizeof *keys);
    for (size_t i = 0; i < n; i++) {
        keys[i] = cf_key(t, sc[i].suffix);
        if (strcmp(sc[i].suffix, "struct") == 0)
            sc[i].bytes = cf_fmt(t, "{\"message\":\"test%s\"}", keys[i]);
        if (strcmp(sc[i].suffix, "struct-operations") == 0)
            sc[i].bytes = cf_fmt(t,
                                 "{\"product\":{\"value\":15},\"status\":\"ACTIVE\","
                                 "\"message\":\"%smessage\"}",
                                 keys[i]);
    }
    for (size_t i = 0; i < n; i++) {
        cf_step(t, "set %s", sc[i].suffix);
        ss_set_request req = {.key = keys[i], .value = sc[i].bytes, .value_len = scen_len(&sc[i])};
        if (sc[i].json) {
            req.metadata = &json_meta;
            req.metadata_count = 1;
        }
        REQUIRE(cf_set_req(t, &req, CF_WANT(OK), NULL));
    }
    for (size_t i = 0; i < n; i++) {
        cf_step(t, "get %s", sc[i].suffix);
        if (sc[i].json) {
            ss_get_request req = {.key = keys[i], .metadata = &json_meta, .metadata_count = 1};
            ss_value *v = NULL;
            REQUIRE(cf_get_req(t, &req, &v));
            if (!v) {
                cf_fail(t, "get with contentType metadata: key not found");
                return;
            }
            REQUIRE(cf_same(t, "get with contentType metadata", sc[i].bytes, scen_len(&sc[i]),
                            v->data, v->len));
        }
        REQUIRE(cf_expect(t, keys[i], sc[i].bytes, scen_len(&sc[i]), NULL));
    }
}

static void case_value_empty(cf_t *t)
{
    const char *k = cf_key(t, "k");
    REQUIRE(cf_put(t, k, "", 0, NULL));
    REQUIRE(cf_expect(t, k, "", 0, NULL));
    cf_step(t, "an empty value is found by bulk get (not missing)");
    ss_get_request g = {.key = k};
    ss_results *r = NULL;
    REQUIRE(cf_bulk_get(t, &g, 1, NULL, &r));
    if (!r->items[0].value) {
        cf_fail(t, "bulk get: the empty value is reported missing");
        return;
    }
    REQUIRE(cf_same(t, "bulk get", "", 0, r->items[0].value->data, r->items[0].value->len));
    cf_step(t, "overwrite a non-empty value with an empty one");
    REQUIRE(cf_puts(t, k, "\"not empty\""));
    REQUIRE(cf_put(t, k, "", 0, NULL));
    REQUIRE(cf_expect(t, k, "", 0, NULL));
    if (cf_has(t, SS_FEATURE_TRANSACTIONAL)) {
        cf_step(t, "empty value through a transaction");
        const char *k2 = cf_key(t, "tx");
        ss_operation op = cf_op_upsert(k2, "", NULL);
        REQUIRE(cf_transact(t, &op, 1, NULL, 0, CF_WANT(OK), NULL));
        REQUIRE(cf_expect(t, k2, "", 0, NULL));
    }
}

static void case_value_binary(cf_t *t)
{
    unsigned char all[256];
    for (size_t i = 0; i < 256; i++) all[i] = (unsigned char)i;
    scenario sc[] = {
        {"all-bytes", (const char *)all, 256, false},
        {"nul", "\0", 1, false},
        {"nuls", "\0\0\0", 3, false},
        {"inner-nul", "a\0b", 3, false},
        {"trailing-nul", "abc\0", 4, false},
        {"ff", "\xff", 1, false},
        {"ff-fe-00-01", "\xff\xfe\x00\x01", 4, false},
        {"bad-utf8", "\xc3\x28\xa0\xa1\xe2\x28\xa1", 7, false},
        {"crlf", "line1\r\nline2\n", 0, false},
        {"looks-base64", "AQ==", 0, false},
        {"high-then-json", "\x80{\"a\":1}", 0, false},
    };
    size_t n = sizeof sc / sizeof sc[0];
    ss_get_request *gets = cf_alloc(t, n * sizeof *gets);
    for (size_t i = 0; i < n; i++) {
        gets[i].key = cf_key(t, sc[i].suffix);
        cf_step(t, "%s", sc[i].suffix);
        REQUIRE(cf_put(t, gets[i].key, sc[i].bytes, scen_len(&sc[i]), NULL));
        REQUIRE(cf_expect(t, gets[i].key, sc[i].bytes, scen_len(&sc[i]), NULL));
    }
    cf_step(t, "bulk get");
    ss_results *r = NULL;
    REQUIRE(cf_bulk_get(t, gets, n, NULL, &r));
    for (size_t i = 0; i < n; i++) {
        const ss_value *v = r->items[i].value;
        const char *what = cf_fmt(t, "bulk get item %zu (%s)", i, sc[i].suffix);
        if (!v) {
            cf_fail(t, "%s: missing", what);
            return;
        }
        REQUIRE(cf_same(t, what, sc[i].bytes, scen_len(&sc[i]), v->data, v->len));
    }
}

static void case_value_json_text(cf_t *t)
{
    static const char *const texts[] = {
        "12345678901234567890",
        "-98765432109876543210987654321",
        "1.10",
        "1.0",
        "-0",
        "1E+2",
        "0.1000000000000000055511151231257827",
        "{\"b\":1,\"a\":2}",
        "{\"z\":[1,2.50,1e400],\"a\":{\"y\":null,\"x\":true}}",
        "  { \"spaced\" :\t\"yes\" }\n",
        "{\"dup\":1,\"dup\":2}",
        "\"caf\\u00e9\"",
        "\"caf\xc3\xa9\"",
        "\"<script>&amp;</script>\"",
        "\"\\u2028\\/\"",
        "[]",
        "{}",
        "null",
        "false",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    };
    size_t n = sizeof texts / sizeof texts[0];
    for (size_t i = 0; i < n; i++) {
        const char *k = cf_key(t, cf_fmt(t, "json-%zu", i));
        cf_step(t, "JSON text %s", cf_show(t, texts[i], strlen(texts[i])));
        ss_set_request req = {.key = k,
                              .value = texts[i],
                              .value_len = strlen(texts[i]),
                              .metadata = &json_meta,
                              .metadata_count = 1};
        REQUIRE(cf_set_req(t, &req, CF_WANT(OK), NULL));
        REQUIRE(cf_expects(t, k, texts[i]));
    }
}

/* The largest value the case stores: 1 MiB, or the store's declared maximum if smaller. */
static size_t large_len(const cf_t *t)
{
    size_t max = cf_env_of(t)->feat.max_value_len;
    return max && max < MIB ? max : MIB;
}

static void case_value_large(cf_t *t)
{
    size_t n = large_len(t);
    char *a = cf_alloc(t, n), *b = cf_alloc(t, n);
    cf_fill(a, n, 1);
    cf_fill(b, n, 2);
    const char *k = cf_key(t, "k");
    cf_step(t, "%zu bytes", n);
    REQUIRE(cf_put(t, k, a, n, NULL));
    REQUIRE(cf_expect(t, k, a, n, NULL));
    cf_step(t, "overwrite with other %zu bytes", n);
    REQUIRE(cf_put(t, k, b, n, NULL));
    REQUIRE(cf_expect(t, k, b, n, NULL));
    cf_step(t, "bulk get of %zu bytes", n);
    ss_get_request g = {.key = k};
    ss_results *r = NULL;
    REQUIRE(cf_bulk_get(t, &g, 1, NULL, &r));
    if (!r->items[0].value) {
        cf_fail(t, "bulk get: missing");
        return;
    }
    REQUIRE(cf_same(t, "bulk get", b, n, r->items[0].value->data, r->items[0].value->len));
    cf_step(t, "overwrite with 1 byte");
    REQUIRE(cf_put(t, k, "x", 1, NULL));
    REQUIRE(cf_expect(t, k, "x", 1, NULL));

    enum { PARTS = 4 };
    size_t part = n / PARTS;
    cf_step(t, "bulk set and bulk get of %d values of %zu bytes", PARTS, part);
    ss_set_request sets[PARTS];
    ss_get_request gets[PARTS];
    for (size_t i = 0; i < PARTS; i++) {
        sets[i] = (ss_set_request){
            .key = cf_key(t, cf_fmt(t, "part-%zu", i)), .value = a + i * part, .value_len = part};
        gets[i] = (ss_get_request){.key = sets[i].key};
    }
    REQUIRE(cf_bulk_set(t, sets, PARTS, CF_WANT(OK), NULL, NULL));
    REQUIRE(cf_bulk_get(t, gets, PARTS, NULL, &r));
    for (size_t i = 0; i < PARTS; i++) {
        const ss_value *v = r->items[i].value;
        const char *what = cf_fmt(t, "bulk get item %zu", i);
        if (!v) {
            cf_fail(t, "%s: missing", what);
            return;
        }
        REQUIRE(cf_same(t, what, a + i * part, part, v->data, v->len));
    }
}

static void case_value_over_max(cf_t *t)
{
    size_t max = cf_env_of(t)->feat.max_value_len;
    if (!max) {
        cf_skip(t, "store declares no max_value_len");
        return;
    }
    if (max > 64 * MIB) {
        cf_skip(t, "declared max_value_len %zu is beyond what this suite allocates", max);
        return;
    }
    char *v = cf_alloc(t, max + 1);
    cf_fill(v, max + 1, 3);
    const char *k = cf_key(t, "k");
    cf_step(t, "exactly max_value_len (%zu) bytes", max);
    REQUIRE(cf_put(t, k, v, max, NULL));
    REQUIRE(cf_expect(t, k, v, max, NULL));
    cf_step(t, "max_value_len + 1 bytes");
    ss_set_request req = {.key = k, .value = v, .value_len = max + 1};
    REQUIRE(cf_set_req(t, &req, CF_WANT(TOO_LARGE), NULL));
    REQUIRE(cf_expect(t, k, v, max, NULL));
}

/* Keys are byte strings: characters that need escaping in some database, and pairs that a
 * careless escaping, a LIKE pattern, a case-insensitive or space-padding collation would
 * confuse. Every key must keep its own value through every path. */
static void case_keys_special(cf_t *t)
{
    static const char *const suffixes[] = {
        "slash/a/b",
        "a%2Fb",
        "a%2fb",
        "colon:a:b",
        "percent%41%",
        "under_score",
        "under%score",
        "underxscore",
        "single'quote",
        "sql'; DROP TABLE state; --",
        "double\"quote",
        "back\\slash",
        "back\\\\slash",
        "pipes||a||b",
        "||",
        "space in key",
        " leading-space",
        "trailing-space",
        "trailing-space ",
        "Case",
        "case",
        "unicode-\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87-\xe9\x94\xae-\xf0\x9f\x94\x91-\xc3\xa9",
        "unicode-e\xcc\x81",
        "question?hash#amp&eq=plus+",
        "dot.",
        "..",
        "brace{}[]()<>*$@!~`^",
        "tab\tkey",
        "ctrl\x01\x1f\x7f",
    };
    size_t n = sizeof suffixes / sizeof suffixes[0];
    const char **keys = cf_alloc(t, n * sizeof *keys);
    const char **vals = cf_alloc(t, n * sizeof *vals);
    ss_get_request *gets = cf_alloc(t, n * sizeof *gets);
    for (size_t i = 0; i < n; i++) {
        keys[i] = cf_key(t, suffixes[i]);
        vals[i] = cf_fmt(t, "\"value of key %zu\"", i);
        gets[i].key = keys[i];
    }
    cf_step(t, "set each");
    for (size_t i = 0; i < n; i++) REQUIRE(cf_puts(t, keys[i], vals[i]));
    cf_step(t, "get each");
    for (size_t i = 0; i < n; i++) REQUIRE(cf_expects(t, keys[i], vals[i]));
    cf_step(t, "bulk get");
    ss_results *r = NULL;
    REQUIRE(cf_bulk_get(t, gets, n, NULL, &r));
    for (size_t i = 0; i < n; i++) {
        const ss_value *v = r->items[i].value;
        const char *what = cf_fmt(t, "bulk get item %zu (%s)", i, cf_show_key(t, keys[i]));
        if (!v) {
            cf_fail(t, "%s: missing", what);
            return;
        }
        REQUIRE(cf_same(t, what, vals[i], strlen(vals[i]), v->data, v->len));
    }
    if (cf_has(t, SS_FEATURE_ETAG)) {
        cf_step(t, "set with the current ETag");
        for (size_t i = 0; i < n; i++) {
            char *etag = NULL;
            REQUIRE(cf_etag_of(t, keys[i], &etag));
            vals[i] = cf_fmt(t, "\"etag-guarded %zu\"", i);
            ss_set_request s = {
                .key = keys[i], .value = vals[i], .value_len = strlen(vals[i]), .etag = etag};
            REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
        }
        for (size_t i = 0; i < n; i++) REQUIRE(cf_expects(t, keys[i], vals[i]));
    }
    if (cf_has(t, SS_FEATURE_TRANSACTIONAL)) {
        cf_step(t, "transaction upserting every key");
        ss_operation *ops = cf_alloc(t, n * sizeof *ops);
        for (size_t i = 0; i < n; i++) {
            vals[i] = cf_fmt(t, "\"tx %zu\"", i);
            ops[i] = cf_op_upsert(keys[i], vals[i], NULL);
        }
        size_t max = cf_env_of(t)->feat.max_tx_ops;
        for (size_t off = 0; off < n; off += max ? max : n) {
            size_t cnt = max && n - off > max ? max : n - off;
            REQUIRE(cf_transact(t, ops + off, cnt, NULL, 0, CF_WANT(OK), NULL));
        }
        for (size_t i = 0; i < n; i++) REQUIRE(cf_expects(t, keys[i], vals[i]));
    }
    cf_step(t, "delete every other key");
    for (size_t i = 0; i < n; i += 2) REQUIRE(cf_del(t, keys[i], NULL, CF_WANT(OK)));
    for (size_t i = 0; i < n; i++) {
        if (i % 2 == 0) {
            REQUIRE(cf_expect_missing(t, keys[i]));
        } else {
            REQUIRE(cf_expects(t, keys[i], vals[i]));
        }
    }
    cf_step(t, "bulk delete the rest");
    ss_delete_request *dels = cf_alloc(t, n * sizeof *dels);
    size_t nd = 0;
    for (size_t i = 1; i < n; i += 2) dels[nd++].key = keys[i];
    REQUIRE(cf_bulk_del(t, dels, nd, CF_WANT(OK), NULL));
    for (size_t i = 0; i < n; i++) REQUIRE(cf_expect_missing(t, keys[i]));
}

static void case_key_max_len(cf_t *t)
{
    size_t max = cf_env_of(t)->feat.max_key_len;
    size_t len = max && max < 1024 ? max : 1024;
    size_t plen = strlen(cf_env_of(t)->prefix);
    if (len < plen + 2) {
        cf_skip(t, "declared max_key_len %zu is shorter than the suite's key prefix", max);
        return;
    }
    const char *k1 = cf_key_len(t, len, '1');
    const char *k2 = cf_key_len(t, len, '2');
    cf_step(t, "two %zu-byte keys differing only in the last byte", len);
    REQUIRE(cf_puts(t, k1, "\"one\""));
    REQUIRE(cf_puts(t, k2, "\"two\""));
    REQUIRE(cf_expects(t, k1, "\"one\""));
    REQUIRE(cf_expects(t, k2, "\"two\""));
    ss_get_request gets[2] = {{.key = k1}, {.key = k2}};
    ss_results *r = NULL;
    REQUIRE(cf_bulk_get(t, gets, 2, NULL, &r));
    if (!r->items[0].value || !r->items[1].value) {
        cf_fail(t, "bulk get of the long keys: a key is missing");
        return;
    }
    REQUIRE(cf_same(t, "bulk get item 0", "\"one\"", 5, r->items[0].value->data,
                    r->items[0].value->len));
    REQUIRE(cf_same(t, "bulk get item 1", "\"two\"", 5, r->items[1].value->data,
                    r->items[1].value->len));
    if (cf_has(t, SS_FEATURE_ETAG)) {
        char *etag = NULL;
        REQUIRE(cf_etag_of(t, k1, &etag));
        ss_set_request s = {.key = k1, .value = "\"1b\"", .value_len = 4, .etag = etag};
        REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
        REQUIRE(cf_expects(t, k1, "\"1b\""));
    }
    REQUIRE(cf_del(t, k1, NULL, CF_WANT(OK)));
    REQUIRE(cf_expect_missing(t, k1));
    REQUIRE(cf_expects(t, k2, "\"two\""));
    if (!max) return;
    if (max > 16 * MIB) return;

    cf_step(t, "a key of max_key_len + 1 = %zu bytes", max + 1);
    const char *too_long = cf_key_len(t, max + 1, 'x');
    ss_set_request s = {.key = too_long, .value = "1", .value_len = 1};
    REQUIRE(cf_set_req(t, &s, CF_WANT(TOO_LARGE), NULL));
    ss_store *st = cf_env_of(t)->store;
    ss_error err;
    cf_err_init(&err);
    ss_value *v = NULL;
    ss_get_request g = {.key = too_long};
    ss_code rc = ss_get(&v, st, &g, &err);
    ss_value_free(v);
    REQUIRE(cf_code(t, "get", rc, CF_WANT(TOO_LARGE), &err));
    REQUIRE(cf_del(t, too_long, NULL, CF_WANT(TOO_LARGE)));
}

/* Dapr's bulk-only scenarios. */
static void case_bulk_set(cf_t *t)
{
    scenario sc[] = {
        {"bulk-int", "123", 0, false},
        {"bulk-bool", "true", 0, false},
        {"bulk-bytes", "\x01", 1, false},
        {"bulk-string", "\"hello world\"", 0, false},
        {"bulk-struct", "{\"message\":\"test\"}", 0, true},
        {"bulk-to-be-deleted", "\"to be deleted\"", 0, false},
        {"bulk-to-be-deleted-too", "\"to be deleted too\"", 0, false},
    };
    size_t n = sizeof sc / sizeof sc[0];
    ss_set_request *reqs = cf_alloc(t, n * sizeof *reqs);
    for (size_t i = 0; i < n; i++) {
        reqs[i].key = cf_key(t, sc[i].suffix);
        reqs[i].value = sc[i].bytes;
        reqs[i].value_len = scen_len(&sc[i]);
        if (sc[i].json) {
            reqs[i].metadata = &json_meta;
            reqs[i].metadata_count = 1;
        }
    }
    REQUIRE(cf_bulk_set(t, reqs, n, CF_WANT(OK), NULL, NULL));
    for (size_t i = 0; i < n; i++)
        REQUIRE(cf_expect(t, reqs[i].key, sc[i].bytes, scen_len(&sc[i]), NULL));
}

static bool check_bulk_values(cf_t *t, const char *label, const ss_results *r,
                              const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const ss_value *v = r->items[i].value;
        const char *what = cf_fmt(t, "%s item %zu", label, i);
        if (!want[i] && v)
            return cf_fail(t, "%s: expected missing, got %zu bytes %s", what, v->len,
                           cf_show(t, v->data, v->len));
        if (want[i] && !v)
            return cf_fail(t, "%s: expected %s, got missing", what,
                           cf_show(t, want[i], strlen(want[i])));
        if (want[i] && !cf_same(t, what, want[i], strlen(want[i]), v->data, v->len)) return false;
    }
    return true;
}

static void case_bulk_get(cf_t *t)
{
    const char *a = cf_key(t, "a"), *b = cf_key(t, "b"), *c = cf_key(t, "c");
    REQUIRE(cf_puts(t, a, "\"A\""));
    REQUIRE(cf_puts(t, b, "\"B\""));
    REQUIRE(cf_puts(t, c, "\"C\""));
    ss_get_request gets[] = {{.key = a},
                             {.key = cf_key(t, "doesnotexist")},
                             {.key = b},
                             {.key = c, .consistency = SS_STRONG},
                             {.key = cf_key(t, "doesnotexist2")},
                             {.key = a}};
    const char *const want[] = {"\"A\"", NULL, "\"B\"", "\"C\"", NULL, "\"A\""};
    size_t n = sizeof gets / sizeof gets[0];
    static const unsigned par[] = {0, 1, 2, 1000};
    for (size_t p = 0; p < sizeof par / sizeof par[0]; p++) {
        cf_step(t, "parallelism %u", par[p]);
        ss_bulk_options o = {.parallelism = par[p]};
        ss_results *r = NULL;
        REQUIRE(cf_bulk_get(t, gets, n, p ? &o : NULL, &r));
        REQUIRE(check_bulk_values(t, "bulk get", r, want, n));
    }
    cf_step(t, "Dapr's (b): doesnotexist + an existing key");
    ss_get_request two[] = {{.key = cf_key(t, "doesnotexist")}, {.key = a}};
    const char *const want2[] = {NULL, "\"A\""};
    ss_results *r = NULL;
    REQUIRE(cf_bulk_get(t, two, 2, NULL, &r));
    REQUIRE(check_bulk_values(t, "bulk get", r, want2, 2));
}

static void case_bulk_delete(cf_t *t)
{
    const char *a = cf_key(t, "to-be-deleted"), *b = cf_key(t, "to-be-deleted-too");
    const char *keep = cf_key(t, "kept");
    REQUIRE(cf_puts(t, a, "1"));
    REQUIRE(cf_puts(t, b, "2"));
    REQUIRE(cf_puts(t, keep, "3"));
    ss_delete_request dels[] = {{.key = a}, {.key = cf_key(t, "never-written")}, {.key = b}};
    REQUIRE(cf_bulk_del(t, dels, 3, CF_WANT(OK), NULL));
    REQUIRE(cf_expect_missing(t, a));
    REQUIRE(cf_expect_missing(t, b));
    REQUIRE(cf_expects(t, keep, "3"));
}

/* More keys than any native batch or the default parallelism. */
static void case_bulk_many(cf_t *t)
{
    enum { N = 300, MISSING_EVERY = 15 };
    ss_set_request *sets = cf_alloc(t, N * sizeof *sets);
    for (size_t i = 0; i < N; i++) {
        sets[i].key = cf_key(t, cf_fmt(t, "%03zu", i));
        const char *v = cf_fmt(t, "\"value %zu\"", i);
        sets[i].value = v;
        sets[i].value_len = strlen(v);
    }
    REQUIRE(cf_bulk_set(t, sets, N, CF_WANT(OK), NULL, NULL));
    size_t ng = N + N / MISSING_EVERY;
    ss_get_request *gets = cf_alloc(t, ng * sizeof *gets);
    const char **want = cf_alloc(t, ng * sizeof *want);
    size_t g = 0;
    for (size_t i = 0; i < N; i++) {
        if (i % MISSING_EVERY == 0) gets[g++].key = cf_key(t, cf_fmt(t, "missing-%zu", i));
        gets[g].key = sets[i].key;
        want[g++] = sets[i].value;
    }
    cf_step(t, "bulk get of %zu keys, %zu of them missing", ng, (size_t)(N / MISSING_EVERY));
    ss_results *r = NULL;
    REQUIRE(cf_bulk_get(t, gets, ng, NULL, &r));
    REQUIRE(check_bulk_values(t, "bulk get", r, want, ng));
    cf_step(t, "bulk delete of %d keys", N);
    ss_delete_request *dels = cf_alloc(t, N * sizeof *dels);
    for (size_t i = 0; i < N; i++) dels[i].key = sets[i].key;
    REQUIRE(cf_bulk_del(t, dels, N, CF_WANT(OK), NULL));
    for (size_t i = 0; i < ng; i++) want[i] = NULL;
    REQUIRE(cf_bulk_get(t, gets, ng, NULL, &r));
    REQUIRE(check_bulk_values(t, "bulk get after delete", r, want, ng));
}

static void case_bulk_empty(cf_t *t)
{
    ss_store *st = cf_env_of(t)->store;
    ss_error err;
    ss_results r = {0};
    cf_err_init(&err);
    ss_code rc = ss_bulk_get(&r, st, NULL, 0, NULL, &err);
    size_t count = r.count;
    ss_results_free(&r);
    REQUIRE(cf_code(t, "bulk get of 0 keys", rc, CF_WANT(OK), &err));
    if (count) {
        cf_fail(t, "bulk get of 0 keys: %zu results", count);
        return;
    }
    cf_err_init(&err);
    rc = ss_bulk_set(NULL, st, NULL, 0, NULL, &err);
    REQUIRE(cf_code(t, "bulk set of 0 keys", rc, CF_WANT(OK), &err));
    cf_err_init(&err);
    rc = ss_bulk_delete(NULL, st, NULL, 0, NULL, &err);
    REQUIRE(cf_code(t, "bulk delete of 0 keys", rc, CF_WANT(OK), &err));
}

/* ------------------------------------------------------------------------------------------ */
/* One handle, many threads                                                                   */
/* ------------------------------------------------------------------------------------------ */

enum { MIX_THREADS = 8, MIX_KEYS = 5, MIX_ROUNDS = 40 };

typedef struct mixer {
    ss_store *store;
    int id;
    const char *keys[MIX_KEYS];
    char error[SS_ERROR_MESSAGE_MAX + 128]; /* the first wrong answer */
} mixer;

/* Each thread writes, reads back, bulk-reads and deletes its own keys; any answer meant for
 * another thread (a connection shared without a lock, a reply read by the wrong caller) shows
 * up as a wrong value. */
static void *mix(void *arg)
{
    mixer *m = arg;
    char want[MIX_KEYS][48];
    bool present[MIX_KEYS] = {false};
    for (int round = 0; round < MIX_ROUNDS; round++) {
        int k = round % MIX_KEYS;
        ss_error err = {0};
        snprintf(want[k], sizeof want[k], "\"thread %d round %d\"", m->id, round);
        ss_set_request s = {.key = m->keys[k], .value = want[k], .value_len = strlen(want[k])};
        ss_code rc = ss_set(NULL, m->store, &s, &err);
        if (rc != SS_OK) {
            snprintf(m->error, sizeof m->error, "set: %s: %s", ss_code_name(rc), err.message);
            return NULL;
        }
        present[k] = true;
        ss_get_request g = {.key = m->keys[k]};
        ss_value *v = NULL;
        rc = ss_get(&v, m->store, &g, &err);
        bool same =
            rc == SS_OK && v && v->len == strlen(want[k]) && memcmp(v->data, want[k], v->len) == 0;
        if (!same) {
            snprintf(m->error, sizeof m->error, "get after set: expected %s, got %s %.60s", want[k],
                     ss_code_name(rc), v ? v->data : "(missing)");
            ss_value_free(v);
            return NULL;
        }
        ss_value_free(v);
        if (round % 7 == 6) {
            int d = (k + 1) % MIX_KEYS;
            ss_delete_request del = {.key = m->keys[d]};
            rc = ss_delete(m->store, &del, &err);
            if (rc != SS_OK) {
                snprintf(m->error, sizeof m->error, "delete: %s: %s", ss_code_name(rc),
                         err.message);
                return NULL;
            }
            present[d] = false;
        }
        if (round % 5 == 4) {
            ss_get_request gets[MIX_KEYS];
            for (int i = 0; i < MIX_KEYS; i++) gets[i] = (ss_get_request){.key = m->keys[i]};
            ss_results r = {0};
            rc = ss_bulk_get(&r, m->store, gets, MIX_KEYS, NULL, &err);
            if (rc != SS_OK || r.count != MIX_KEYS) {
                snprintf(m->error, sizeof m->error, "bulk get: %s, %zu results: %s",
                         ss_code_name(rc), r.count, rc ? err.message : "");
                ss_results_free(&r);
                return NULL;
            }
            for (int i = 0; i < MIX_KEYS; i++) {
                const ss_value *bv = r.items[i].value;
                bool ok = present[i] ? bv && bv->len == strlen(want[i]) &&
                                           memcmp(bv->data, want[i], bv->len) == 0
                                     : !bv;
                if (!ok) {
                    snprintf(m->error, sizeof m->error, "bulk get item %d: expected %s, got %.60s",
                             i, present[i] ? want[i] : "missing", bv ? bv->data : "missing");
                    ss_results_free(&r);
                    return NULL;
                }
            }
            ss_results_free(&r);
        }
    }
    return NULL;
}

static void case_concurrent_mixed(cf_t *t)
{
    mixer *m = cf_alloc(t, MIX_THREADS * sizeof *m);
    pthread_t th[MIX_THREADS];
    bool started[MIX_THREADS] = {false};
    for (int i = 0; i < MIX_THREADS; i++) {
        m[i].store = cf_env_of(t)->store;
        m[i].id = i;
        for (int k = 0; k < MIX_KEYS; k++) m[i].keys[k] = cf_key(t, cf_fmt(t, "t%d-k%d", i, k));
    }
    for (int i = 0; i < MIX_THREADS; i++)
        started[i] = pthread_create(&th[i], NULL, mix, &m[i]) == 0;
    for (int i = 0; i < MIX_THREADS; i++)
        if (started[i]) pthread_join(th[i], NULL);
    for (int i = 0; i < MIX_THREADS; i++) {
        if (!started[i]) {
            cf_fail(t, "could not start thread %d", i);
            return;
        }
        if (m[i].error[0]) {
            cf_fail(t, "thread %d: %s", i, m[i].error);
            return;
        }
    }
}

const cf_case cf_cases_data[] = {
    {"dapr-values", 0, 0, case_dapr_values,
     "Dapr's scenarios (int, bool, bytes, strings, string with JSON, empty string, structs) "
     "byte-exact"},
    {"value-empty", 0, 0, case_value_empty,
     "an empty value is stored and found (not missing), also by bulk get and transactions"},
    {"value-binary", 0, 0, case_value_binary,
     "raw bytes incl. every byte value, NUL, 0xFF, invalid UTF-8 come back byte-exact"},
    {"value-json-text", 0, 0, case_value_json_text,
     "JSON text (big integers, 1.10, key order, spacing, escapes) is kept byte-exact"},
    {"value-large", 0, 0, case_value_large,
     "a 1 MiB value (or max_value_len) byte-exact via get and bulk get; overwrite; 4 x 256 KiB "
     "by bulk set/get"},
    {"value-over-max", 0, 0, case_value_over_max,
     "a value of exactly max_value_len works; one byte more is TOO_LARGE (when declared)"},
    {"keys-special", 0, 0, case_keys_special,
     "keys with / : % _ ' \" \\ || spaces, case, non-ASCII, controls stay distinct on every path"},
    {"key-max-len", 0, 0, case_key_max_len,
     "1 KiB keys (or max_key_len) work and stay distinct; max_key_len + 1 is TOO_LARGE"},
    {"bulk-set", 0, 0, case_bulk_set, "Dapr's bulk scenarios: bulk set, then get each"},
    {"bulk-get", 0, 0, case_bulk_get,
     "bulk get: one result per key in order, missing keys OK with no value, any parallelism"},
    {"bulk-delete", 0, 0, case_bulk_delete,
     "bulk delete removes the keys (a missing key is OK) and nothing else"},
    {"bulk-many", 0, 0, case_bulk_many, "bulk set/get/delete of 300 keys (+20 missing) in order"},
    {"bulk-empty", 0, 0, case_bulk_empty, "bulk calls with 0 requests succeed with 0 results"},
    {"concurrent-mixed", 0, 0, case_concurrent_mixed,
     "8 threads on one handle set/get/bulk get/delete their own keys: every answer is their own"},
};
const size_t cf_cases_data_count = sizeof cf_cases_data / sizeof cf_cases_data[0];

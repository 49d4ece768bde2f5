/*
 * cases_ttl.c — ttlInSeconds: parsing, expiry, its removal, and ttlExpireTime.
 *
 * The cases that wait for a TTL are CF_SLOW: they run in their own threads at the same time,
 * so the run waits for the 2-second TTLs once. Waits are deadlines, not speed assertions: a
 * key with ttlInSeconds=2 must be gone when 4 s have passed since the set began (Dapr polls
 * for 3 s), and a key whose TTL was removed must still be there at that point.
 */
#include "conformance.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define TTL_VALUE     "\"\xe2\x8f\xb1\xef\xb8\x8f\"" /* Dapr's "⏱️", as JSON text */
#define EXPIRY_WAIT   4000                           /* ms after the set began */
#define POLL_INTERVAL 100

static const ss_pair ttl2 = {SS_META_TTL, "2"};

static ss_set_request ttl_set(const char *key, const char *text, const ss_pair *ttl)
{
    ss_set_request r = {.key = key, .value = text, .value_len = strlen(text)};
    if (ttl) {
        r.metadata = ttl;
        r.metadata_count = 1;
    }
    return r;
}

/* Response metadata lookup through the public helper, checked against a linear scan. */
static bool expire_time(cf_t *t, const ss_value *v, const char **out)
{
    const char *m = ss_value_meta(v, SS_META_TTL_EXPIRE);
    const char *scan = NULL;
    for (size_t i = 0; i < v->metadata_count; i++)
        if (strcmp(v->metadata[i].name, SS_META_TTL_EXPIRE) == 0) scan = v->metadata[i].value;
    if ((m == NULL) != (scan == NULL) || (m && strcmp(m, scan) != 0))
        return cf_fail(t, "ss_value_meta(\"%s\") disagrees with the value's metadata array",
                       SS_META_TTL_EXPIRE);
    *out = m;
    return true;
}

static bool no_expire_time(cf_t *t, const char *what, const ss_value *v)
{
    const char *e = NULL;
    if (!expire_time(t, v, &e)) return false;
    if (e)
        return cf_fail(t, "%s: the value has no TTL but reports %s %s", what, SS_META_TTL_EXPIRE,
                       e);
    return true;
}

/* Parses RFC 3339 ("2026-11-29T23:30:15Z", fractions and offsets allowed) to Unix seconds. */
static bool parse_rfc3339(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return false;
    const char *p = s + n;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return false;
        while (*p >= '0' && *p <= '9') p++;
    }
    int offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || m != 5) return false;
        offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    *out = (int64_t)timegm(&tm) - offset;
    return true;
}

/* If the value reports ttlExpireTime, it is RFC 3339 and about now + ttl (±10 min, as Dapr). */
static bool check_expire_time(cf_t *t, const char *what, const ss_value *v, int64_t ttl,
                              bool *present)
{
    const char *e = NULL;
    if (!expire_time(t, v, &e)) return false;
    *present = e != NULL;
    if (!e) return true;
    int64_t at;
    if (!parse_rfc3339(e, &at))
        return cf_fail(t, "%s: %s %s is not RFC 3339", what, SS_META_TTL_EXPIRE,
                       cf_show(t, e, strlen(e)));
    int64_t want = (int64_t)time(NULL) + ttl;
    if (at < want - 600 || at > want + 600)
        return cf_fail(t, "%s: %s is %s, %+lld s away from now + %lld s", what, SS_META_TTL_EXPIRE,
                       e, (long long)(at - want), (long long)ttl);
    return true;
}

/* ------------------------------------------------------------------------------------------ */

static void case_ttl_invalid(cf_t *t)
{
    static const char *const bad[] = {"foo", "1.5", "-2", "2147483648", "2s", " 2", "0x10"};
    unsigned want = CF_WANT(INVALID);
    /* A store without TTL may say so before looking at the value. */
    if (!cf_has(t, SS_FEATURE_TTL)) want |= CF_WANT(UNSUPPORTED);
    ss_store *st = cf_env_of(t)->store;
    const char *k = cf_key(t, "k");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cf_step(t, "ttlInSeconds \"%s\"", bad[i]);
        ss_pair m = {SS_META_TTL, bad[i]};
        ss_set_request s = ttl_set(k, "1", &m);
        ss_error err;
        cf_err_init(&err);
        ss_code rc = ss_set(NULL, st, &s, &err);
        REQUIRE(cf_code(t, "set", rc, want, &err));
        if (rc == SS_INVALID) REQUIRE(cf_msg_has(t, "set", &err, SS_META_TTL));
        REQUIRE(cf_expect_missing(t, k));
        cf_err_init(&err);
        rc = ss_bulk_set(NULL, st, &s, 1, NULL, &err);
        REQUIRE(cf_code(t, "bulk set", rc, want, &err));
        REQUIRE(cf_expect_missing(t, k));
        if (cf_has(t, SS_FEATURE_TRANSACTIONAL)) {
            ss_operation op = {.kind = SS_OP_UPSERT, .set = s};
            REQUIRE(cf_transact(t, &op, 1, NULL, 0, want, NULL));
            REQUIRE(cf_expect_missing(t, k));
        }
    }
}

static void case_ttl_boundaries(cf_t *t)
{
    static const char *const ok[] = {"-1", "0", "2147483647", ""};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cf_step(t, "ttlInSeconds \"%s\"", ok[i]);
        const char *k = cf_key(t, cf_fmt(t, "%zu", i));
        ss_pair m = {SS_META_TTL, ok[i]};
        ss_set_request s = ttl_set(k, "\"v\"", &m);
        REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
        ss_value *v = NULL;
        REQUIRE(cf_expect(t, k, "\"v\"", 3, &v));
        if (i == 2) {
            bool present;
            REQUIRE(check_expire_time(t, "get", v, 2147483647, &present));
        } else {
            REQUIRE(no_expire_time(t, "get", v));
        }
    }
}

static void case_ttl_no_expire_time(cf_t *t)
{
    const char *k = cf_key(t, "k");
    REQUIRE(cf_puts(t, k, "\"no ttl\""));
    ss_value *v = NULL;
    REQUIRE(cf_expect(t, k, "\"no ttl\"", 8, &v));
    REQUIRE(no_expire_time(t, "get", v));
    ss_get_request g = {.key = k};
    ss_results *r = NULL;
    REQUIRE(cf_bulk_get(t, &g, 1, NULL, &r));
    if (!r->items[0].value) {
        cf_fail(t, "bulk get: missing");
        return;
    }
    REQUIRE(no_expire_time(t, "bulk get", r->items[0].value));
}

static void case_ttl_expire_time(cf_t *t)
{
    static const ss_pair ttl3600 = {SS_META_TTL, "3600"};
    const char *k = cf_key(t, "k");
    ss_set_request s = ttl_set(k, "\"an hour\"", &ttl3600);
    REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
    ss_value *v = NULL;
    REQUIRE(cf_expect(t, k, "\"an hour\"", 9, &v));
    bool present = false;
    REQUIRE(check_expire_time(t, "get", v, 3600, &present));
    if (!present) {
        cf_skip(t, "store does not report %s", SS_META_TTL_EXPIRE);
        return;
    }

    cf_step(t, "two keys with ttlInSeconds=3600 by bulk set, read by bulk get");
    ss_set_request two[2] = {ttl_set(cf_key(t, "a"), "\"123\"", &ttl3600),
                             ttl_set(cf_key(t, "b"), "\"234\"", &ttl3600)};
    REQUIRE(cf_bulk_set(t, two, 2, CF_WANT(OK), NULL, NULL));
    ss_get_request gets[2] = {{.key = two[0].key}, {.key = two[1].key}};
    ss_results *r = NULL;
    REQUIRE(cf_bulk_get(t, gets, 2, NULL, &r));
    for (size_t i = 0; i < 2; i++) {
        const ss_value *iv = r->items[i].value;
        const char *what = cf_fmt(t, "bulk get item %zu", i);
        if (!iv) {
            cf_fail(t, "%s: missing", what);
            return;
        }
        REQUIRE(cf_same(t, what, two[i].value, 5, iv->data, iv->len));
        REQUIRE(check_expire_time(t, what, iv, 3600, &present));
        if (!present) {
            cf_fail(t, "%s: no %s although get reports it", what, SS_META_TTL_EXPIRE);
            return;
        }
    }

    cf_step(t, "ttlInSeconds=-1 removes the expiry time");
    static const ss_pair minus1 = {SS_META_TTL, "-1"};
    s = ttl_set(k, "\"forever\"", &minus1);
    REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
    REQUIRE(cf_expect(t, k, "\"forever\"", 9, &v));
    REQUIRE(no_expire_time(t, "get", v));

    cf_step(t, "a set without ttlInSeconds removes the expiry time");
    s = ttl_set(k, "\"an hour\"", &ttl3600);
    REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
    REQUIRE(cf_puts(t, k, "\"plain\""));
    REQUIRE(cf_expect(t, k, "\"plain\"", 7, &v));
    REQUIRE(no_expire_time(t, "get", v));
}

/* Polls until `key` is gone; fails when it is still there EXPIRY_WAIT ms after t0, the moment
 * its write returned. */
static bool wait_gone(cf_t *t, const char *key, int64_t t0)
{
    for (;;) {
        ss_value *v = NULL;
        if (!cf_get(t, key, &v)) return false;
        if (!v) return true;
        int64_t waited = cf_now_ms() - t0;
        if (waited > EXPIRY_WAIT)
            return cf_fail(t, "get %s: still present %.1f s after a set with ttlInSeconds=2",
                           cf_show_key(t, key), (double)waited / 1000);
        cf_sleep_ms(POLL_INTERVAL);
    }
}

static void case_ttl_expiry(cf_t *t)
{
    bool tx = cf_has(t, SS_FEATURE_TRANSACTIONAL);
    const char *a = cf_key(t, "set"), *b = cf_key(t, "bulk"), *c = cf_key(t, "tx");
    /* Each deadline counts from when its write returned: the TTL cannot start later than that,
     * and a write that waited for a lock (a slow machine, valgrind) must not eat into the 2 s. */
    int64_t ta = 0, tb = 0, tc = 0;
    cf_step(t, "ttlInSeconds=2 by set, bulk set%s", tx ? " and transaction" : "");
    ss_set_request sa = ttl_set(a, TTL_VALUE, &ttl2), sb = ttl_set(b, TTL_VALUE, &ttl2);
    char *etag_b = NULL;
    REQUIRE(cf_set_req(t, &sa, CF_WANT(OK), NULL));
    ta = cf_now_ms();
    ss_results *r = NULL;
    REQUIRE(cf_bulk_set(t, &sb, 1, CF_WANT(OK), NULL, &r));
    tb = cf_now_ms();
    etag_b = r->items[0].etag;
    if (tx) {
        ss_operation op = {.kind = SS_OP_UPSERT, .set = ttl_set(c, TTL_VALUE, &ttl2)};
        REQUIRE(cf_transact(t, &op, 1, NULL, 0, CF_WANT(OK), NULL));
        tc = cf_now_ms();
    }
    cf_step(t, "read at once");
    REQUIRE(cf_expects(t, a, TTL_VALUE));
    REQUIRE(cf_expects(t, b, TTL_VALUE));
    if (tx) REQUIRE(cf_expects(t, c, TTL_VALUE));

    cf_step(t, "gone by %.1f s", EXPIRY_WAIT / 1000.0);
    REQUIRE(wait_gone(t, a, ta));
    REQUIRE(wait_gone(t, b, tb));
    if (tx) REQUIRE(wait_gone(t, c, tc));
    ss_get_request gets[2] = {{.key = a}, {.key = b}};
    REQUIRE(cf_bulk_get(t, gets, 2, NULL, &r));
    for (size_t i = 0; i < 2; i++)
        if (r->items[i].value) {
            cf_fail(t, "bulk get item %zu: expired key still returned", i);
            return;
        }

    if (cf_has(t, SS_FEATURE_ETAG) && etag_b) {
        cf_step(t, "an expired key does not exist for ETag checks");
        ss_set_request s = {.key = b, .value = "1", .value_len = 1, .etag = etag_b};
        REQUIRE(cf_set_req(t, &s, CF_WANT(ETAG_MISMATCH), NULL));
        REQUIRE(cf_expect_missing(t, b));
    }
    if (cf_has(t, SS_FEATURE_FIRST_WRITE)) {
        cf_step(t, "an expired key can be first-written again");
        ss_set_request s = {.key = a, .value = "\"again\"", .value_len = 7};
        s.options.concurrency = SS_FIRST_WRITE;
        REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
        REQUIRE(cf_expects(t, a, "\"again\""));
    }
}

/* Sleeps until EXPIRY_WAIT ms after t0, then each key must still hold its value. */
static bool still_there(cf_t *t, const char *const *keys, const char *const *vals, size_t n,
                        int64_t t0)
{
    cf_sleep_ms(t0 + EXPIRY_WAIT + POLL_INTERVAL - cf_now_ms());
    for (size_t i = 0; i < n; i++) {
        ss_value *v = NULL;
        if (!cf_get(t, keys[i], &v)) return false;
        if (!v)
            return cf_fail(t, "get %s: gone %.1f s later although its TTL was removed",
                           cf_show_key(t, keys[i]), (double)(cf_now_ms() - t0) / 1000);
        if (!cf_same(t, cf_fmt(t, "get %s", cf_show_key(t, keys[i])), vals[i], strlen(vals[i]),
                     v->data, v->len))
            return false;
    }
    return true;
}

static void case_ttl_remove_minus_one(cf_t *t)
{
    static const ss_pair minus1 = {SS_META_TTL, "-1"}, zero = {SS_META_TTL, "0"};
    const char *keys[3] = {cf_key(t, "minus-one"), cf_key(t, "zero"), cf_key(t, "zero-only")};
    const char *vals[3] = {"\"kept -1\"", "\"kept 0\"", "\"kept 0 only\""};
    int64_t t0 = cf_now_ms();
    cf_step(t, "ttlInSeconds=2, then -1 / 0; and 0 alone");
    ss_set_request s = ttl_set(keys[0], TTL_VALUE, &ttl2);
    REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
    s = ttl_set(keys[1], TTL_VALUE, &ttl2);
    REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
    s = ttl_set(keys[0], vals[0], &minus1);
    REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
    s = ttl_set(keys[1], vals[1], &zero);
    REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
    s = ttl_set(keys[2], vals[2], &zero);
    REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
    for (size_t i = 0; i < 3; i++) {
        ss_value *v = NULL;
        REQUIRE(cf_expect(t, keys[i], vals[i], strlen(vals[i]), &v));
        REQUIRE(no_expire_time(t, cf_fmt(t, "get %s", cf_show_key(t, keys[i])), v));
    }
    cf_step(t, "still there after %.1f s", EXPIRY_WAIT / 1000.0);
    REQUIRE(still_there(t, keys, vals, 3, t0));
}

static void case_ttl_remove_by_set(cf_t *t)
{
    bool tx = cf_has(t, SS_FEATURE_TRANSACTIONAL);
    const char *keys[3] = {cf_key(t, "set"), cf_key(t, "bulk"), cf_key(t, "tx")};
    const char *vals[3] = {"\"kept by set\"", "\"kept by bulk set\"", "\"kept by transaction\""};
    size_t n = tx ? 3 : 2;
    int64_t t0 = cf_now_ms();
    cf_step(t, "ttlInSeconds=2, then a write without ttlInSeconds");
    for (size_t i = 0; i < n; i++) {
        ss_set_request s = ttl_set(keys[i], TTL_VALUE, &ttl2);
        REQUIRE(cf_set_req(t, &s, CF_WANT(OK), NULL));
    }
    REQUIRE(cf_puts(t, keys[0], vals[0]));
    ss_set_request b = ttl_set(keys[1], vals[1], NULL);
    REQUIRE(cf_bulk_set(t, &b, 1, CF_WANT(OK), NULL, NULL));
    if (tx) {
        ss_operation op = cf_op_upsert(keys[2], vals[2], NULL);
        REQUIRE(cf_transact(t, &op, 1, NULL, 0, CF_WANT(OK), NULL));
    }
    for (size_t i = 0; i < n; i++) {
        ss_value *v = NULL;
        REQUIRE(cf_expect(t, keys[i], vals[i], strlen(vals[i]), &v));
        REQUIRE(no_expire_time(t, cf_fmt(t, "get %s", cf_show_key(t, keys[i])), v));
    }
    cf_step(t, "still there after %.1f s", EXPIRY_WAIT / 1000.0);
    REQUIRE(still_there(t, keys, vals, n, t0));
}

const cf_case cf_cases_ttl[] = {
    {"ttl-invalid", 0, 0, case_ttl_invalid,
     "ttlInSeconds \"foo\", \"1.5\", \"-2\", \"2147483648\"...: INVALID naming ttlInSeconds, "
     "nothing written"},
    {"ttl-boundaries", SS_FEATURE_TTL, 0, case_ttl_boundaries,
     "ttlInSeconds -1, 0, \"\" (no expiry) and 2147483647 are accepted"},
    {"ttl-no-expire-time", 0, 0, case_ttl_no_expire_time,
     "a value written without TTL reports no ttlExpireTime (get and bulk get)"},
    {"ttl-expire-time", SS_FEATURE_TTL, 0, case_ttl_expire_time,
     "ttlExpireTime is RFC 3339 ~now+1h for 3600 (get, bulk get); -1 or a plain set removes it"},
    {"ttl-expiry", SS_FEATURE_TTL, CF_SLOW, case_ttl_expiry,
     "ttlInSeconds=2 by set/bulk set/transaction: readable at once, gone within 4 s; then absent "
     "for ETag and first-write"},
    {"ttl-remove-minus-one", SS_FEATURE_TTL, CF_SLOW, case_ttl_remove_minus_one,
     "ttl 2 then -1 (or 0), and 0 alone: the value outlives the 2 s"},
    {"ttl-remove-by-set", SS_FEATURE_TTL, CF_SLOW, case_ttl_remove_by_set,
     "ttl 2 then a set/bulk set/transaction without TTL: the value outlives the 2 s"},
};
const size_t cf_cases_ttl_count = sizeof cf_cases_ttl / sizeof cf_cases_ttl[0];

/* test_errors.c — the error table, ss_error_set, and the small helpers (values, UUIDs, time). */
#include <statestore/driver.h>

#include "check.h"

static void test_table(void)
{
    struct {
        ss_code code;
        const char *name, *text;
        int http, exit_status;
        bool retryable;
    } want[] = {
        {SS_OK, "OK", "success", 200, 0, false},
        {SS_INVALID, "INVALID", "invalid input", 400, 2, false},
        {SS_NOT_FOUND, "NOT_FOUND", "not found", 404, 3, false},
        {SS_ETAG_MISMATCH, "ETAG_MISMATCH", "etag mismatch", 409, 4, false},
        {SS_ETAG_INVALID, "ETAG_INVALID", "etag invalid", 400, 5, false},
        {SS_UNSUPPORTED, "UNSUPPORTED", "unsupported by this store", 400, 6, false},
        {SS_UNAVAILABLE, "UNAVAILABLE", "store unavailable", 500, 7, true},
        {SS_TIMEOUT, "TIMEOUT", "timed out", 500, 8, true},
        {SS_TOO_LARGE, "TOO_LARGE", "too large", 413, 9, false},
        {SS_NOMEM, "NOMEM", "out of memory", 500, 10, false},
        {SS_BACKEND, "BACKEND", "backend error", 500, 11, false},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK_STR(ss_code_name(want[i].code), want[i].name);
        CHECK_STR(ss_code_text(want[i].code), want[i].text);
        CHECK(ss_code_http_status(want[i].code) == want[i].http);
        CHECK(ss_code_exit_status(want[i].code) == want[i].exit_status);
        CHECK(ss_code_retryable(want[i].code) == want[i].retryable);
    }
    static const ss_code out_of_range[] = {(ss_code)11, (ss_code)-1, (ss_code)1000};
    for (size_t i = 0; i < 3; i++) {
        CHECK_STR(ss_code_name(out_of_range[i]), "UNKNOWN");
        CHECK_STR(ss_code_text(out_of_range[i]), "unknown error");
        CHECK(ss_code_http_status(out_of_range[i]) == 500);
        CHECK(ss_code_exit_status(out_of_range[i]) != 0);
        CHECK(!ss_code_retryable(out_of_range[i]));
    }
}

static void test_error_set(void)
{
    ss_error err = {0};
    CHECK(ss_error_set(&err, SS_TIMEOUT, "after %d ms", 250) == SS_TIMEOUT);
    CHECK(err.code == SS_TIMEOUT && err.retryable);
    CHECK_STR(err.message, "after 250 ms");
    CHECK(ss_error_set(NULL, SS_BACKEND, "x") == SS_BACKEND);
    /* The message may be an argument of its own rewrite. */
    ss_error_set(&err, SS_BACKEND, "wrapped: %s", err.message);
    CHECK_STR(err.message, "wrapped: after 250 ms");
    CHECK(!err.retryable);
    /* Long text is cut, never overflowing. */
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ss_error_set(&err, SS_INVALID, "%s", big);
    CHECK(strlen(err.message) == SS_ERROR_MESSAGE_MAX - 1);
}

static void test_values(void)
{
    ss_value *v = ss_value_new("abc", 3, "e1");
    CHECK(v && v->len == 3 && v->data[3] == '\0' && strcmp(v->etag, "e1") == 0);
    CHECK(v && ss_value_add_meta(v, "contentType", "text/plain") == SS_OK);
    CHECK(v && ss_value_set_expiry(v, 0) == SS_OK);
    CHECK_STR(ss_value_meta(v, "contentType"), "text/plain");
    CHECK_STR(ss_value_meta(v, SS_META_TTL_EXPIRE), "1970-01-01T00:00:00Z");
    CHECK(ss_value_meta(v, "ContentType") == NULL); /* case-sensitive */
    CHECK(ss_value_meta(NULL, "x") == NULL);
    CHECK(v && ss_value_add_meta(v, NULL, "x") == SS_INVALID);
    ss_value_free(v);
    v = ss_value_new(NULL, 0, NULL);
    CHECK(v && v->len == 0 && v->data && v->data[0] == '\0' && v->etag == NULL);
    ss_value_free(v);
    CHECK(ss_value_new(NULL, 5, NULL) == NULL);
    ss_value_free(NULL);
    ss_free(NULL);
    ss_close(NULL);
    CHECK(ss_strdup(NULL) == NULL);
    char *d = ss_strndup("abcdef", 3);
    CHECK_STR(d, "abc");
    ss_free(d);

    ss_op op = {0};
    ss_pair md[] = {{"a", "1"}, {"b", "2"}};
    op.metadata = md;
    op.metadata_count = 2;
    CHECK_STR(ss_op_meta(&op, "b"), "2");
    CHECK(ss_op_meta(&op, "B") == NULL && ss_op_meta(NULL, "a") == NULL);
}

static void test_uuid_time(void)
{
    char a[37], b[37];
    ss_uuid4(a);
    ss_uuid4(b);
    CHECK(strlen(a) == 36 && strcmp(a, b) != 0);
    CHECK(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
    CHECK(a[14] == '4');
    CHECK(strchr("89ab", a[19]) != NULL);
    for (int i = 0; i < 36; i++)
        if (i != 8 && i != 13 && i != 18 && i != 23) CHECK(strchr("0123456789abcdef", a[i]));

    char buf[32];
    ss_format_rfc3339(1796081415000LL, buf, sizeof buf);
    CHECK_STR(buf, "2026-11-30T23:30:15Z");
    ss_format_rfc3339(951782400999LL, buf, sizeof buf); /* leap day, ms dropped */
    CHECK_STR(buf, "2000-02-29T00:00:00Z");
    ss_format_rfc3339(-1, buf, sizeof buf);
    CHECK_STR(buf, "1969-12-31T23:59:59Z");
    int64_t now = ss_now_unix_ms();
    CHECK(now > 1700000000000LL);
    int64_t m1 = ss_monotonic_ms(), m2 = ss_monotonic_ms();
    CHECK(m2 >= m1);
    CHECK_STR(ss_version(), SS_VERSION_STRING);
}

int main(void)
{
    test_table();
    test_error_set();
    test_values();
    test_uuid_time();
    return check_done("test_errors");
}

/* test_errors.c — the error table, ss_error_set, and the small helpers (values, UUIDs, time). */
#include <statestore/driver.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* A transaction's failing op in the core's words: index, kind and the key quoted as always. */
static void test_error_set_op(void)
{
    ss_error e = {0};
    const char key[] = "a\"b\x01";
    ss_op op = {.kind = SS_DRV_DELETE, .key = key, .key_len = sizeof key - 1};
    CHECK(ss_error_set_op(&e, SS_ETAG_MISMATCH, 7, &op, "version is %d", 3) == SS_ETAG_MISMATCH);
    CHECK(e.code == SS_ETAG_MISMATCH && !e.retryable);
    CHECK_STR(e.message, "operation 7: delete \"a\\\"b\\x01\": version is 3");
    op.kind = SS_DRV_SET;
    /* The driver may pass the message being replaced as an argument. */
    CHECK(ss_error_set_op(&e, SS_UNAVAILABLE, 0, &op, "%s", e.message) == SS_UNAVAILABLE);
    CHECK(e.retryable);
    CHECK_STR(
        e.message,
        "operation 0: set \"a\\\"b\\x01\": operation 7: delete \"a\\\"b\\x01\": version is 3");
    CHECK(ss_error_set_op(NULL, SS_BACKEND, 0, &op, "x") == SS_BACKEND);
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

/* ---- UUID uniqueness: across threads, and between a parent and its forked child ---- */

#define UUIDS_PER_THREAD 20000
#define UUID_THREADS     4

static int cmp_uuid(const void *a, const void *b)
{
    return memcmp(a, b, 37);
}

static void *make_uuids(void *arg)
{
    char (*out)[37] = arg;
    for (size_t i = 0; i < UUIDS_PER_THREAD; i++) ss_uuid4(out[i]);
    return NULL;
}

/* Sorts n UUIDs and counts equal neighbours; also checks every one's version and variant. */
static size_t duplicates_and_check(char (*u)[37], size_t n)
{
    for (size_t i = 0; i < n; i++) CHECK(u[i][14] == '4' && strchr("89ab", u[i][19]) != NULL);
    qsort(u, n, 37, cmp_uuid);
    size_t dups = 0;
    for (size_t i = 1; i < n; i++)
        if (memcmp(u[i - 1], u[i], 37) == 0) dups++;
    return dups;
}

static void test_uuid_unique(void)
{
    size_t n = (size_t)UUID_THREADS * UUIDS_PER_THREAD;
    char (*all)[37] = malloc(n * 37);
    CHECK(all != NULL);
    if (!all) return;
    pthread_t th[UUID_THREADS];
    for (int t = 0; t < UUID_THREADS; t++)
        CHECK(pthread_create(&th[t], NULL, make_uuids, all + (size_t)t * UUIDS_PER_THREAD) == 0);
    for (int t = 0; t < UUID_THREADS; t++) pthread_join(th[t], NULL);
    CHECK(duplicates_and_check(all, n) == 0);

    /* A child forked after the parent drew from its generator must not repeat the parent. */
    char pre[37];
    ss_uuid4(pre);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        char u[37];
        for (int i = 0; i < 1000; i++) {
            ss_uuid4(u);
            if (write(fds[1], u, 37) != 37) _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    char (*both)[37] = malloc(2000 * 37);
    CHECK(both != NULL);
    size_t got = 0;
    while (both && got < 1000 && read(fds[0], both[got], 37) == 37) got++;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(got == 1000 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (both) {
        for (size_t i = 0; i < 1000; i++) ss_uuid4(both[got + i]);
        CHECK(duplicates_and_check(both, got + 1000) == 0);
    }
    free(both);
    free(all);
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
    test_error_set_op();
    test_values();
    test_uuid_time();
    test_uuid_unique();
    return check_done("test_errors");
}

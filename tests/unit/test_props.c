/* test_props.c — store properties (required, unknown, defaults, typed getters) and logging. */
#include <unistd.h>

#include "check.h"
#include "testdrv.h"

typedef struct log_capture {
    int count;
    ss_log_level levels[16];
    char lines[16][1200];
} log_capture;

static void capture(void *ctx, ss_log_level level, const char *message)
{
    log_capture *c = ctx;
    if (c->count < 16) {
        c->levels[c->count] = level;
        snprintf(c->lines[c->count], sizeof c->lines[0], "%s", message);
    }
    c->count++;
}

static ss_store *open_rec(const ss_pair *props, size_t n, log_capture *cap, ss_log_level level,
                          ss_code want, ss_error *err)
{
    ss_config cfg = {.driver = "recorder",
                     .name = "pr",
                     .properties = props,
                     .property_count = n,
                     .log = cap ? capture : NULL,
                     .log_ctx = cap,
                     .log_level = level};
    ss_store *s = NULL;
    CHECK_RC(ss_open(&s, &cfg, err), want, err);
    if (want != SS_OK) CHECK(s == NULL);
    return s;
}

static void test_required_unknown(void)
{
    ss_error err = {0};
    log_capture cap = {0};
    int opens = td.opens;
    open_rec(NULL, 0, &cap, SS_LOG_DEBUG, SS_INVALID, &err);
    CHECK_STR(err.message, "store \"pr\" (recorder): open: missing required property \"host\"");
    ss_pair empty_host[] = {{"host", ""}};
    open_rec(empty_host, 1, &cap, SS_LOG_DEBUG, SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "\"host\"");
    CHECK(td.opens == opens); /* the driver was never opened */

    /* Case-insensitive names; unknown ones are a warning naming them. */
    ss_pair props[] = {{"HOST", "db1"}, {"colour", "blue"}, {"Password", "s3cr3t-value"}};
    ss_store *s = open_rec(props, 3, &cap, SS_LOG_WARN, SS_OK, &err);
    CHECK(s != NULL);
    CHECK(cap.count == 1);
    if (cap.count >= 1) {
        CHECK(cap.levels[0] == SS_LOG_WARN);
        CHECK_CONTAINS(cap.lines[0], "unknown property \"colour\"");
        CHECK_CONTAINS(cap.lines[0], "store \"pr\" (recorder)");
    }
    if (s) {
        ss_ctx *ctx = td.ctx;
        CHECK_STR(ss_ctx_name(ctx), "pr");
        CHECK_STR(ss_prop(ctx, "host"), "db1");
        CHECK_STR(ss_prop(ctx, "Host"), "db1");
        CHECK_STR(ss_prop(ctx, "port"), "6379"); /* declared default */
        CHECK(ss_prop(ctx, "enabled") == NULL);
        CHECK_STR(ss_prop(ctx, "colour"), "blue"); /* given, though undeclared */
        CHECK(ss_prop(ctx, NULL) == NULL);

        /* Driver log lines: filtered by level, secrets masked, prefixed with the store. */
        int before = cap.count;
        ss_log(ctx, SS_LOG_INFO, "dropped %d", 1);
        CHECK(cap.count == before);
        ss_log(ctx, SS_LOG_ERROR, "auth failed with %s", "s3cr3t-value");
        CHECK(cap.count == before + 1);
        if (cap.count == before + 1) {
            CHECK_STR(cap.lines[before], "store \"pr\" (recorder): auth failed with ***");
            CHECK(cap.levels[before] == SS_LOG_ERROR);
        }
        ss_close(s);
    }
    ss_pair dup[] = {{"host", "a"}, {"HOST", "b"}};
    open_rec(dup, 2, NULL, SS_LOG_ERROR, SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "given more than once");
    ss_pair noname[] = {{"host", "a"}, {NULL, "b"}};
    open_rec(noname, 2, NULL, SS_LOG_ERROR, SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "property 1 has no name");
    open_rec(NULL, 1, NULL, SS_LOG_ERROR, SS_INVALID, &err);
}

static void test_typed(void)
{
    ss_error err = {0};
    log_capture cap = {0};
    ss_pair props[] = {{"host", "h"},        {"port", "70000"},   {"enabled", "YES"},
                       {"timeout", "1m30s"}, {"password", "12x"}, {"n1", "-42"},
                       {"n2", "12abc"},      {"d1", "1500ms"},    {"d2", "2h"},
                       {"d3", "10"},         {"d4", "1.5s"},      {"d5", "5 s"},
                       {"d6", "1h2m3s4ms"},  {"d7", "s"},         {"d8", "300us"},
                       {"b2", "maybe"},      {"b3", "0"},         {"d9", "-2s"}};
    ss_store *s = open_rec(props, sizeof props / sizeof props[0], &cap, SS_LOG_ERROR, SS_OK, &err);
    if (!s) return;
    ss_ctx *ctx = td.ctx;
    int64_t n = 7;
    CHECK_RC(ss_prop_int(ctx, "port", 1, 65535, &n, &err), SS_INVALID, &err);
    CHECK_STR(err.message, "property \"port\": value \"70000\" is out of range 1..65535");
    CHECK(n == 7);
    CHECK_RC(ss_prop_int(ctx, "port", 1, 100000, &n, &err), SS_OK, &err);
    CHECK(n == 70000);
    CHECK_RC(ss_prop_int(ctx, "n1", INT64_MIN, 0, &n, &err), SS_OK, &err);
    CHECK(n == -42);
    CHECK_RC(ss_prop_int(ctx, "n2", 0, 100, &n, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "property \"n2\": value \"12abc\" is not an integer");
    /* A secret's bad value never appears in the message. */
    CHECK_RC(ss_prop_int(ctx, "password", 0, 100, &n, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "property \"password\"");
    CHECK(strstr(err.message, "12x") == NULL);
    /* Absent: SS_OK and the caller's preset value stands. */
    n = 5;
    CHECK_RC(ss_prop_int(ctx, "absent", 0, 100, &n, &err), SS_OK, &err);
    CHECK(n == 5);

    bool b = false;
    CHECK_RC(ss_prop_bool(ctx, "enabled", &b, &err), SS_OK, &err);
    CHECK(b);
    CHECK_RC(ss_prop_bool(ctx, "b3", &b, &err), SS_OK, &err);
    CHECK(!b);
    CHECK_RC(ss_prop_bool(ctx, "b2", &b, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "property \"b2\": value \"maybe\" is not a boolean");

    struct {
        const char *name;
        int64_t unit;
        int64_t want;
    } ok[] = {{"timeout", 1, 90000}, {"d1", 1, 1500}, {"d2", 1, 7200000},
              {"d3", 1000, 10000},   {"d3", 1, 10},   {"d4", 1, 1500},
              {"d6", 1, 3723004},    {"d8", 1, 0},    {"d9", 1, -2000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -1;
        CHECK_RC(ss_prop_duration_ms(ctx, ok[i].name, ok[i].unit, &ms, &err), SS_OK, &err);
        if (ms != ok[i].want)
            fprintf(stderr, "duration %s: got %lld want %lld\n", ok[i].name, (long long)ms,
                    (long long)ok[i].want);
        CHECK(ms == ok[i].want);
    }
    static const char *const bad[] = {"d5", "d7", "n2"};
    for (size_t i = 0; i < 3; i++) {
        int64_t ms = 0;
        CHECK_RC(ss_prop_duration_ms(ctx, bad[i], 1, &ms, &err), SS_INVALID, &err);
        CHECK_CONTAINS(err.message, bad[i]);
        CHECK_CONTAINS(err.message, "is not a duration");
    }
    CHECK_RC(ss_prop_duration_ms(ctx, NULL, 1, &n, &err), SS_INVALID, &err);
    ss_close(s);
}

static void test_default_log(void)
{
    /* No callback: warnings and errors go to stderr prefixed "statestore: "; debug does not. */
    char path[] = "/tmp/ss_props_stderr_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    ss_error err = {0};
    ss_pair props[] = {{"host", "h"}, {"typo", "x"}};
    ss_store *s = open_rec(props, 2, NULL, SS_LOG_ERROR, SS_OK, &err);
    if (s) {
        ss_log(td.ctx, SS_LOG_DEBUG, "should not appear");
        ss_log(td.ctx, SS_LOG_INFO, "should not appear either");
        ss_log(td.ctx, SS_LOG_ERROR, "an error line");
        ss_close(s);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[2048] = "";
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    CHECK_CONTAINS(buf, "statestore: store \"pr\" (recorder): unknown property \"typo\"");
    CHECK_CONTAINS(buf, "statestore: store \"pr\" (recorder): an error line");
    CHECK(strstr(buf, "should not appear") == NULL);
}

int main(void)
{
    if (!td_register_all()) return 1;
    test_required_unknown();
    test_typed();
    test_default_log();
    return check_done("test_props");
}

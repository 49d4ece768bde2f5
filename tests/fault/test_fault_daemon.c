/*
 * test_fault_daemon.c — every storage error path of statestored, through the faulty wrapper:
 * an injected UNAVAILABLE/TIMEOUT/BACKEND becomes a 500 whose message names the injected cause,
 * while injected or real ETag and input errors keep their 409/400, and a transient fault is gone
 * on the next request. Runs the test build of the daemon (statestored_faulty).
 */
#include "dtest.h"

/* One component per error path. All wrap the memory store. */
static const char *const COMPONENTS[][2] = {
    {"fget", "failOp: get\n      failCount: -1"},
    {"fset", "failOp: set\n      failCount: -1"},
    {"fdel", "failOp: delete\n      failCount: -1\n      failCode: TIMEOUT"},
    {"fbget", "failOp: bulk_get\n      failCount: -1\n      failCode: BACKEND"},
    {"fbitem", "failOp: get\n      failCall: 2\n      failCount: 1"},
    {"fbset", "failOp: bulk_set\n      failCount: -1"},
    {"fbdel", "failOp: bulk_delete\n      failCount: -1"},
    {"ftx", "failOp: transact\n      failAtTxOp: 1\n      failCount: -1"},
    {"ftx1", "failOp: transact\n      failCount: 1"},
    {"fetag", "failOp: set\n      failCount: -1\n      failCode: ETAG_MISMATCH"},
    {"finval", "failOp: set\n      failCount: -1\n      failCode: INVALID"},
    {"fonce", "failOp: set\n      failCount: 1\n      failMessage: first write lost"},
    {"fpart", "failOp: set\n      failCall: 2\n      failCount: 1"},
    {"fpart2", "failOp: set\n      failCall: 3\n      failCount: 1"},
};
#define NCOMP (sizeof COMPONENTS / sizeof COMPONENTS[0])

static void write_components(const char *res)
{
    for (size_t i = 0; i < NCOMP; i++) {
        char path[700], text[1024];
        snprintf(path, sizeof path, "%s/%s.yaml", res, COMPONENTS[i][0]);
        /* failCode/failCount/... lines become name/value pairs. */
        char meta[600] = "";
        const char *p = COMPONENTS[i][1];
        while (*p) {
            const char *eol = strchr(p, '\n');
            size_t n = eol ? (size_t)(eol - p) : strlen(p);
            char line[200];
            snprintf(line, sizeof line, "%.*s", (int)n, p);
            char *name = line;
            while (*name == ' ') name++;
            char *colon = strchr(name, ':');
            if (colon) {
                *colon = '\0';
                char *val = colon + 1;
                while (*val == ' ') val++;
                size_t used = strlen(meta);
                snprintf(meta + used, sizeof meta - used, "    - name: %s\n      value: \"%s\"\n",
                         name, val);
            }
            p = eol ? eol + 1 : p + n;
        }
        snprintf(text, sizeof text,
                 "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: %s\n"
                 "spec:\n  type: state.faulty\n  version: v1\n  metadata:\n"
                 "    - name: inner\n      value: memory\n%s",
                 COMPONENTS[i][0], meta);
        dt_write_file(path, text);
    }
}

#define EXPECT(d, r, method_, path_, body_, want_)                                                 \
    do {                                                                                           \
        long got_ = dt_req(d, r, method_, path_, body_);                                           \
        CHECK(got_ == (want_), "%s %s: status %ld, want %d; body %s", method_, path_, got_, want_, \
              (r)->body);                                                                          \
    } while (0)

static void injected_500(dt_daemon *d, const char *method, const char *path, const char *body,
                         const char *code, const char *what)
{
    dt_resp r;
    EXPECT(d, &r, method, path, body, 500);
    CHECK(dt_contains(r.body, "\"errorCode\":\"") && dt_contains(r.body, code),
          "%s %s: errorCode %s in %s", method, path, code, r.body);
    CHECK(dt_contains(r.body, "injected fault: ") && dt_contains(r.body, what),
          "%s %s: message names the cause (%s): %s", method, path, what, r.body);
}

static void single_ops(dt_daemon *d)
{
    dt_resp r;
    /* get: the write goes through, the read fails. */
    EXPECT(d, &r, "POST", "/v1.0/state/fget", "[{\"key\":\"k\",\"value\":1}]", 204);
    injected_500(d, "GET", "/v1.0/state/fget/k", NULL, "ERR_STATE_GET",
                 "UNAVAILABLE on get call 1");
    injected_500(d, "GET", "/v1.0/state/fget/k", NULL, "ERR_STATE_GET",
                 "UNAVAILABLE on get call 2");
    /* 409 and 400 are the store's and the request's, untouched by the wrapper. */
    EXPECT(d, &r, "POST", "/v1.0/state/fget", "[{\"key\":\"k\",\"value\":2,\"etag\":\"nope\"}]",
           409);
    EXPECT(d, &r, "POST", "/v1.0/state/fget", "[{\"key\":\"k\",\"value\":2", 400);
    EXPECT(d, &r, "POST", "/v1.0/state/fget",
           "[{\"key\":\"k\",\"value\":2,\"options\":{\"concurrency\":\"bogus\"}}]", 400);

    injected_500(d, "POST", "/v1.0/state/fset", "[{\"key\":\"k\",\"value\":1}]", "ERR_STATE_SAVE",
                 "UNAVAILABLE on set call 1");
    EXPECT(d, &r, "GET", "/v1.0/state/fset/k", NULL, 204); /* nothing was written */

    EXPECT(d, &r, "POST", "/v1.0/state/fdel", "[{\"key\":\"k\",\"value\":1}]", 204);
    injected_500(d, "DELETE", "/v1.0/state/fdel/k", NULL, "ERR_STATE_DELETE",
                 "TIMEOUT on delete call 1");
    EXPECT(d, &r, "GET", "/v1.0/state/fdel/k", NULL, 200); /* still there */

    /* Injected codes keep their own status. */
    EXPECT(d, &r, "POST", "/v1.0/state/fetag", "[{\"key\":\"k\",\"value\":1}]", 409);
    CHECK(dt_contains(r.body, "injected fault: ETAG_MISMATCH"), "409 body: %s", r.body);
    EXPECT(d, &r, "POST", "/v1.0/state/finval", "[{\"key\":\"k\",\"value\":1}]", 400);
    CHECK(dt_contains(r.body, "injected fault: INVALID"), "400 body: %s", r.body);

    /* A transient fault: the first save fails, the retry by the client succeeds. */
    injected_500(d, "POST", "/v1.0/state/fonce", "[{\"key\":\"k\",\"value\":\"x\"}]",
                 "ERR_STATE_SAVE", "first write lost");
    EXPECT(d, &r, "POST", "/v1.0/state/fonce", "[{\"key\":\"k\",\"value\":\"x\"}]", 204);
    EXPECT(d, &r, "GET", "/v1.0/state/fonce/k", NULL, 200);
    CHECK(strcmp(r.body, "\"x\"") == 0, "fonce value %s", r.body);
}

static void bulk_ops(dt_daemon *d)
{
    dt_resp r;
    injected_500(d, "POST", "/v1.0/state/fbget/bulk", "{\"keys\":[\"a\",\"b\"]}",
                 "ERR_STATE_BULK_GET", "BACKEND on bulk_get call 1");

    /* One key of a bulk get fails: 200, that item carries the error, the others their data. */
    EXPECT(d, &r, "POST", "/v1.0/state/fbitem",
           "[{\"key\":\"a\",\"value\":1},{\"key\":\"b\",\"value\":2},{\"key\":\"c\",\"value\":3}]",
           204);
    EXPECT(d, &r, "POST", "/v1.0/state/fbitem/bulk", "{\"keys\":[\"a\",\"b\",\"c\"]}", 200);
    CHECK(dt_contains(r.body, "{\"key\":\"a\",\"data\":1"), "bulk a: %s", r.body);
    CHECK(dt_contains(r.body, "{\"key\":\"b\",\"error\":\"") &&
              dt_contains(r.body, "injected fault: UNAVAILABLE on get call 2"),
          "bulk b: %s", r.body);
    CHECK(dt_contains(r.body, "{\"key\":\"c\",\"data\":3"), "bulk c: %s", r.body);

    /* A save of several keys is a bulk set in the store. */
    injected_500(d, "POST", "/v1.0/state/fbset",
                 "[{\"key\":\"a\",\"value\":1},{\"key\":\"b\",\"value\":2}]", "ERR_STATE_SAVE",
                 "UNAVAILABLE on bulk_set call 1");
    EXPECT(d, &r, "GET", "/v1.0/state/fbset/a", NULL, 204);

    /* One item of a multi-key save fails: 500 naming it; the others are saved (not atomic). */
    injected_500(
        d, "POST", "/v1.0/state/fpart",
        "[{\"key\":\"a\",\"value\":1},{\"key\":\"b\",\"value\":2},{\"key\":\"c\",\"value\":3}]",
        "ERR_STATE_SAVE", "UNAVAILABLE on set call 2");
    EXPECT(d, &r, "POST", "/v1.0/state/fpart/bulk", "{\"keys\":[\"a\",\"b\",\"c\"]}", 200);
    CHECK(dt_contains(r.body, "{\"key\":\"a\",\"data\":1") &&
              !dt_contains(r.body, "{\"key\":\"b\",\"data\"") &&
              dt_contains(r.body, "{\"key\":\"c\",\"data\":3"),
          "fpart after partial save: %s", r.body);

    /* An ETag failure and an injected one in the same save: the ETag failure decides, 409. */
    EXPECT(d, &r, "POST", "/v1.0/state/fpart2",
           "[{\"key\":\"a\",\"value\":1},{\"key\":\"b\",\"value\":2,\"etag\":\"stale\"},"
           "{\"key\":\"c\",\"value\":3}]",
           409);
    CHECK(dt_contains(r.body, "2 of 3 items failed"), "mixed failure: %s", r.body);
}

static void transactions(dt_daemon *d)
{
    dt_resp r;
    EXPECT(d, &r, "POST", "/v1.0/state/ftx", "[{\"key\":\"a\",\"value\":\"old\"}]", 204);
    const char *tx = "{\"operations\":["
                     "{\"operation\":\"upsert\",\"request\":{\"key\":\"a\",\"value\":\"new\"}},"
                     "{\"operation\":\"upsert\",\"request\":{\"key\":\"b\",\"value\":\"new\"}},"
                     "{\"operation\":\"delete\",\"request\":{\"key\":\"a\"}}]}";
    injected_500(d, "POST", "/v1.0/state/ftx/transaction", tx, "ERR_STATE_TRANSACTION",
                 "at operation 1 of 3");
    EXPECT(d, &r, "GET", "/v1.0/state/ftx/a", NULL, 200);
    CHECK(strcmp(r.body, "\"old\"") == 0, "ftx a after failed transaction: %s", r.body);
    EXPECT(d, &r, "GET", "/v1.0/state/ftx/b", NULL, 204);

    injected_500(d, "POST", "/v1.0/state/ftx1/transaction", tx, "ERR_STATE_TRANSACTION",
                 "UNAVAILABLE on transact call 1");
    EXPECT(d, &r, "GET", "/v1.0/state/ftx1/b", NULL, 204);
    EXPECT(d, &r, "POST", "/v1.0/state/ftx1/transaction", tx, 204);
    EXPECT(d, &r, "GET", "/v1.0/state/ftx1/b", NULL, 200);
    EXPECT(d, &r, "GET", "/v1.0/state/ftx1/a", NULL, 204);
    /* Dapr answers every transaction failure with 500, an ETag mismatch included (no 409). */
    EXPECT(
        d, &r, "POST", "/v1.0/state/ftx1/transaction",
        "{\"operations\":[{\"operation\":\"delete\",\"request\":{\"key\":\"b\",\"etag\":\"x\"}}]}",
        500);
    CHECK(dt_contains(r.body, "etag mismatch") && !dt_contains(r.body, "injected"),
          "transaction etag mismatch: %s", r.body);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <statestored_faulty>\n", argv[0]);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char dir[] = "/tmp/ss-fault-daemon-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char res[600];
    snprintf(res, sizeof res, "%s/res", dir);
    mkdir(res, 0755);
    write_components(res);
    const char *args[] = {"--resources-path", res, "--log-level", "debug", NULL};
    dt_daemon d;
    int st = -1;
    if (!dt_start(&d, argv[1], dir, args, NULL, &st)) {
        fprintf(stderr, "statestored_faulty did not start (exit %d)\n", st);
        dt_dump_log(&d);
        dt_stop(&d);
        dt_rmtree(dir);
        return 1;
    }
    single_ops(&d);
    bulk_ops(&d);
    transactions(&d);
    CHECK(dt_stop(&d) == 0, "SIGTERM exit status");
    if (dt_failures) dt_dump_log(&d);
    dt_rmtree(dir);
    curl_global_cleanup();
    return dt_finish("test_fault_daemon");
}

/*
 * test_daemon_api.c — every endpoint of statestored over real sockets: save/get/delete, bulk,
 * transaction, healthz, metadata; Dapr's status codes and error codes; bad input; byte-exact
 * values; percent-escapes; keyPrefix modes (checked in the SQLite file through the library);
 * the default embedded store. argv[1] = the statestored executable.
 */
#include "dtest.h"

#include <statestore.h>

/* Five stores on one SQLite file, one per keyPrefix mode. */
static void write_prefix_yaml(const char *path, const char *db)
{
    static const struct {
        const char *name, *mode;
    } modes[] = {{"sq-appid", NULL},
                 {"sq-name", "name"},
                 {"sq-none", "none"},
                 {"sq-custom", "team"},
                 {"sq-ns", "namespace"}};
    char text[8192];
    size_t off = 0;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        off += (size_t)snprintf(text + off, sizeof text - off,
                                "---\napiVersion: dapr.io/v1alpha1\nkind: Component\n"
                                "metadata:\n  name: %s\nspec:\n  type: state.sqlite\n"
                                "  version: v1\n  metadata:\n"
                                "  - name: connectionString\n    value: \"%s\"\n",
                                modes[i].name, db);
        if (modes[i].mode)
            off += (size_t)snprintf(text + off, sizeof text - off,
                                    "  - name: keyPrefix\n    value: %s\n", modes[i].mode);
    }
    dt_write_file(path, text);
}

static void test_health_metadata(dt_daemon *d)
{
    dt_resp r;
    CHECK(dt_req(d, &r, "GET", "/v1.0/healthz", NULL) == 204, "healthz %ld", r.status);
    CHECK(dt_req(d, &r, "GET", "/v1.0/healthz/outbound", NULL) == 204, "outbound %ld", r.status);
    CHECK(dt_req(d, &r, "GET", "/v1.0/healthz?appid=myapp", NULL) == 204, "appid %ld", r.status);
    CHECK(dt_req(d, &r, "GET", "/v1.0/healthz?appid=other", NULL) == 500, "other appid %ld",
          r.status);
    CHECK(dt_contains(r.body, "ERR_HEALTH_APPID_NOT_MATCH"), "%s", r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/metadata", NULL) == 200, "metadata %ld", r.status);
    CHECK(r.len > 0 && r.body[0] == '{', "metadata body %s", r.body);
    CHECK(dt_contains(r.body, "\"id\":\"myapp\""), "%s", r.body);
    CHECK(dt_contains(r.body, "{\"name\":\"mem\",\"type\":\"state.in-memory\",\"version\":\"v1\","
                              "\"capabilities\":[\"ETAG\",\"TRANSACTIONAL\",\"TTL\",\"ACTOR\"]}"),
          "%s", r.body);
    CHECK(dt_contains(r.body, "\"runtimeVersion\"") && dt_contains(r.body, "\"actors\":[]") &&
              dt_contains(r.body, "\"enabledFeatures\""),
          "%s", r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/nothing", NULL) == 404, "unknown route %ld", r.status);
    CHECK(dt_req(d, &r, "POST", "/v1.0/metadata", "{}") == 405, "POST metadata %ld", r.status);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem", NULL) == 405, "GET save route %ld", r.status);
    CHECK(dt_req(d, &r, "PATCH", "/v1.0/state/mem/k", NULL) == 405, "PATCH %ld", r.status);
}

/* Values come back with exactly the bytes sent: big ints, 1.10, escapes, key order, strings. */
static void test_byte_exact(dt_daemon *d)
{
    static const char *const values[] = {
        "12345678901234567890123",
        "1.10",
        "-0.0e+10",
        "\"hello\"",
        "\"esc \\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\ud83d\\ude00\"",
        "{\"z\":1,\"a\":{\"y\":[1,2.50,{\"b\":null,\"a\":true}]},\"m\":\"\u00e9\"}",
        "[ 1 ,  2 ]",
        "null",
        "false",
        "\"\"",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char body[1024], path[64];
        snprintf(body, sizeof body, "[{\"key\":\"exact%zu\",\"value\":%s}]", i, values[i]);
        snprintf(path, sizeof path, "/v1.0/state/mem/exact%zu", i);
        dt_resp r;
        CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem", body) == 204, "save %s: %ld %s", values[i],
              r.status, r.body);
        CHECK(dt_req(d, &r, "GET", path, NULL) == 200, "get %s: %ld", values[i], r.status);
        CHECK(r.len == strlen(values[i]) && memcmp(r.body, values[i], r.len) == 0,
              "value %zu: sent %s got %s", i, values[i], r.body);
        char ct[128] = "";
        CHECK(dt_header(&r, "Content-Type", ct, sizeof ct) && strcmp(ct, "application/json") == 0,
              "content type %s", ct);
    }
    /* A missing value is stored as null, as daprd does. */
    dt_resp r;
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem", "[{\"key\":\"novalue\"}]") == 204, "%ld",
          r.status);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/novalue", NULL) == 200 &&
              strcmp(r.body, "null") == 0,
          "%ld %s", r.status, r.body);
}

static void test_save_get_delete(dt_daemon *d)
{
    dt_resp r;
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem", "[{\"key\":\"k1\",\"value\":\"v1\"}]") == 204,
          "%ld %s", r.status, r.body);
    CHECK(r.len == 0, "204 has a body: %s", r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/k1", NULL) == 200, "%ld", r.status);
    CHECK(strcmp(r.body, "\"v1\"") == 0, "%s", r.body);
    char etag1[256];
    snprintf(etag1, sizeof etag1, "%s", r.etag);
    CHECK(etag1[0] != '\0', "no ETag header");

    /* PUT works like POST; several items go through bulk set */
    CHECK(dt_req(d, &r, "PUT", "/v1.0/state/mem",
                 "[{\"key\":\"k2\",\"value\":2},{\"key\":\"k3\",\"value\":3},"
                 "{\"key\":\"k4\",\"value\":4,\"vae\":1}]") == 204,
          "%ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/k3", NULL) == 200 && strcmp(r.body, "3") == 0,
          "%ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem", "[]") == 204, "empty array %ld", r.status);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/missing", NULL) == 204 && r.len == 0,
          "missing %ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/k1?consistency=strong&metadata.x=y", NULL) == 200,
          "consistency %ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/k1?consistency=bogus", NULL) == 400,
          "bad consistency %ld %s", r.status, r.body);
    CHECK(dt_contains(r.body, "ERR_STATE_GET"), "%s", r.body);

    /* ETags on save */
    char body[1024];
    snprintf(body, sizeof body, "[{\"key\":\"k1\",\"value\":\"v2\",\"etag\":\"%s\"}]", etag1);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem", body) == 204, "right etag %ld %s", r.status,
          r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/k1", NULL) == 200 && strcmp(r.body, "\"v2\"") == 0,
          "%s", r.body);
    char etag2[256];
    snprintf(etag2, sizeof etag2, "%s", r.etag);
    CHECK(strcmp(etag1, etag2) != 0, "etag did not change");
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem", body) == 409, "stale etag %ld %s", r.status,
          r.body);
    CHECK(dt_contains(r.body, "\"errorCode\":\"ERR_STATE_SAVE\"") &&
              dt_contains(r.body, "possible etag mismatch"),
          "%s", r.body);
    char ct[128] = "";
    CHECK(dt_header(&r, "Content-Type", ct, sizeof ct) && strcmp(ct, "application/json") == 0,
          "error content type %s", ct);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem",
                 "[{\"key\":\"k1\",\"value\":1,\"options\":{\"concurrency\":\"first-write\"}}]") ==
              409,
          "first-write on existing %ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem",
                 "[{\"key\":\"fw\",\"value\":1,\"options\":{\"concurrency\":\"first-write\","
                 "\"consistency\":\"strong\"}}]") == 204,
          "first-write new %ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem",
                 "[{\"key\":\"k1\",\"value\":1,\"options\":{\"concurrency\":\"sometimes\"}}]") ==
              400,
          "bad concurrency %ld %s", r.status, r.body);
    /* several items: one stale ETag → 409, the others are still written (not atomic) */
    snprintf(body, sizeof body,
             "[{\"key\":\"k2\",\"value\":22},{\"key\":\"k1\",\"value\":9,\"etag\":\"%s\"}]", etag1);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem", body) == 409, "bulk stale %ld %s", r.status,
          r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/k2", NULL) == 200 && strcmp(r.body, "22") == 0,
          "%s", r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/k1", NULL) == 200 && strcmp(r.body, "\"v2\"") == 0,
          "%s", r.body);

    /* Delete: stale If-Match → 409, right one → 204, missing key → 204, empty If-Match = none */
    const char *stale[] = {NULL, NULL};
    char hdr[300];
    snprintf(hdr, sizeof hdr, "If-Match: %s", etag1);
    stale[0] = hdr;
    CHECK(dt_req_h(d, &r, "DELETE", "/v1.0/state/mem/k1", NULL, 0, stale) == 409,
          "stale delete %ld %s", r.status, r.body);
    CHECK(dt_contains(r.body, "ERR_STATE_DELETE"), "%s", r.body);
    snprintf(hdr, sizeof hdr, "If-Match: %s", etag2);
    CHECK(dt_req_h(d, &r, "DELETE", "/v1.0/state/mem/k1", NULL, 0, stale) == 204,
          "delete with etag %ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/k1", NULL) == 204, "deleted %ld", r.status);
    CHECK(dt_req_h(d, &r, "DELETE", "/v1.0/state/mem/k1", NULL, 0, stale) == 409,
          "delete missing with etag %ld", r.status);
    CHECK(dt_req(d, &r, "DELETE", "/v1.0/state/mem/k1", NULL) == 204, "delete missing %ld",
          r.status);
    const char *empty_im[] = {"If-Match;", NULL};
    CHECK(dt_req_h(d, &r, "DELETE", "/v1.0/state/mem/k2", NULL, 0, empty_im) == 204,
          "empty If-Match %ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "DELETE", "/v1.0/state/mem/k3?concurrency=bogus", NULL) == 400,
          "bad concurrency on delete %ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "DELETE",
                 "/v1.0/state/mem/k3?concurrency=last-write&consistency=strong&metadata.a=b",
                 NULL) == 204,
          "delete with options %ld %s", r.status, r.body);

    /* TTL metadata from the body and from metadata.* query parameters */
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem",
                 "[{\"key\":\"ttl\",\"value\":1,\"metadata\":{\"ttlInSeconds\":\"3600\"}}]") == 204,
          "%ld %s", r.status, r.body);
    char exp[128] = "";
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/ttl", NULL) == 200 &&
              dt_header(&r, "metadata.ttlExpireTime", exp, sizeof exp) && strlen(exp) >= 20,
          "ttlExpireTime header missing: %s", r.headers);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem?metadata.ttlInSeconds=abc",
                 "[{\"key\":\"ttl2\",\"value\":1,\"metadata\":{\"ttlInSeconds\":\"60\"}}]") == 400,
          "query metadata must override the body's: %ld %s", r.status, r.body);
}

static void test_malformed(dt_daemon *d)
{
    static const char *const bad[] = {
        "",
        "{}",
        "foobar",
        "[{}]",
        "[{\"key\":\"a\",\"value\":1,}]",
        "[{\"key\":\"a\",\"value\":1},]",
        "[{\"key\":\"a\",\"val",
        "[{\"key\":\"a\",\"value\":1,\"etag\":123}]",
        "[{\"ey\":\"a\",\"value\":1}]",
        "[{\"key\":5,\"value\":1}]",
        "[{\"key\":\"a\",\"value\":tru}]",
        "[{\"key\":\"a\",\"value\":01}]",
        "[{\"key\":\"a\",\"value\":\"\\x\"}]",
        "[{\"key\":\"a\",\"value\":1}] [",
        "[{\"key\":\"a\",\"value\":1,\"metadata\":{\"x\":1}}]",
        "[{\"key\":\"a\",\"value\":1,\"metadata\":[]}]",
        "[{\"key\":\"a\",\"value\":1,\"options\":\"strong\"}]",
        "[{\"key\":\"a\",\"value\":1,\"options\":{\"concurrency\":7}}]",
        "[{\"key\":\"\",\"value\":1}]",
        "[{\"key\":\"ke||y1\",\"value\":1}]",
        "[1]",
        "[{\"key\":\"a\\u0000b\",\"value\":1}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dt_resp r;
        CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem", bad[i]) == 400, "body %s -> %ld %s", bad[i],
              r.status, r.body);
        CHECK(dt_contains(r.body, "\"errorCode\":\"ERR_MALFORMED_REQUEST\""), "body %s -> %s",
              bad[i], r.body);
    }
    dt_resp r;
    dt_req(d, &r, "POST", "/v1.0/state/mem", "[{\"key\":\"a\",\"value\":1,}]");
    CHECK(dt_contains(r.body, "trailing comma"), "message should name the problem: %s", r.body);
    dt_req(d, &r, "POST", "/v1.0/state/mem", "[{\"key\":\"a\",\"val");
    CHECK(dt_contains(r.body, "truncated"), "%s", r.body);
    dt_req(d, &r, "POST", "/v1.0/state/mem", "[{\"key\":\"a\",\"value\":1,\"etag\":123}]");
    CHECK(dt_contains(r.body, "etag must be a string"), "%s", r.body);
    dt_req(d, &r, "POST", "/v1.0/state/mem", "[{\"key\":\"ke||y1\",\"value\":1}]");
    CHECK(dt_contains(r.body, "can't contain '||'"), "%s", r.body);
    dt_req(d, &r, "POST", "/v1.0/state/mem", "[{\"key\":\"\",\"value\":1}]");
    CHECK(dt_contains(r.body, "\\\"key\\\" is a required field"), "%s", r.body);
    /* nesting beyond the parser's bound is refused, not a crash */
    static char deep[20000];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, "[{\"key\":\"deep\",\"value\":");
    for (int i = 0; i < 5000; i++) deep[n++] = '[';
    for (int i = 0; i < 5000; i++) deep[n++] = ']';
    deep[n++] = '}';
    deep[n++] = ']';
    deep[n] = '\0';
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem", deep) == 400 && dt_contains(r.body, "deep"),
          "deep nesting %ld %s", r.status, r.body);
}

/* Under the default 4 MiB limit a 3 MiB value round-trips; a 5 MiB body is refused with 413. */
static void test_big_bodies(dt_daemon *d)
{
    size_t n = 3u << 20;
    char *body = malloc(n + 64);
    CHECK(body != NULL, "malloc");
    if (!body) return;
    size_t off = (size_t)sprintf(body, "[{\"key\":\"big\",\"value\":\"");
    memset(body + off, 'b', n);
    strcpy(body + off + n, "\"}]");
    dt_resp *r = malloc(sizeof *r);
    if (!r) {
        free(body);
        return;
    }
    CHECK(dt_req_h(d, r, "POST", "/v1.0/state/mem", body, strlen(body), NULL) == 204,
          "3 MiB value %ld %s", r->status, r->body);
    char len[32] = "";
    CHECK(dt_req(d, r, "GET", "/v1.0/state/mem/big", NULL) == 200 &&
              dt_header(r, "Content-Length", len, sizeof len) && strtoul(len, NULL, 10) == n + 2,
          "3 MiB value back: %ld, length %s", r->status, len);
    free(body);
    n = 5u << 20;
    body = malloc(n + 64);
    if (body) {
        off = (size_t)sprintf(body, "[{\"key\":\"huge\",\"value\":\"");
        memset(body + off, 'h', n);
        strcpy(body + off + n, "\"}]");
        CHECK(dt_req_h(d, r, "POST", "/v1.0/state/mem", body, strlen(body), NULL) == 413,
              "5 MiB body %ld", r->status);
        CHECK(dt_contains(r->body, "ERR_REQUEST_TOO_LARGE"), "%s", r->body);
    }
    CHECK(dt_req(d, r, "GET", "/v1.0/state/mem/huge", NULL) == 204, "huge must not exist %ld",
          r->status);
    free(body);
    free(r);
}

static void test_keys_and_escapes(dt_daemon *d)
{
    dt_resp r;
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem",
                 "[{\"key\":\"a b/c%:\\u00e9\",\"value\":\"odd\"}]") == 204,
          "%ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/a%20b%2Fc%25%3A%C3%A9", NULL) == 200 &&
              strcmp(r.body, "\"odd\"") == 0,
          "escaped key %ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/a+b/c%25:%C3%A9", NULL) == 200,
          "'+' is a space and '/' may stay raw %ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/a%zz", NULL) == 400, "bad escape %ld", r.status);
    CHECK(dt_contains(r.body, "ERR_MALFORMED_REQUEST"), "%s", r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/abc%4", NULL) == 400, "short escape %ld", r.status);
    CHECK(dt_req(d, &r, "DELETE", "/v1.0/state/mem/%G0", NULL) == 400, "bad escape delete %ld",
          r.status);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/k?metadata.a=%zz", NULL) == 400,
          "bad escape in query %ld", r.status);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/a||b", NULL) == 400, "|| in GET key %ld", r.status);
    CHECK(dt_req(d, &r, "DELETE", "/v1.0/state/mem/a%7C%7Cb", NULL) == 400, "|| in DELETE key %ld",
          r.status);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/a%00b", NULL) == 400, "NUL in key %ld", r.status);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/m%65m/a%20b%2Fc%25%3A%C3%A9", NULL) == 200,
          "escaped store name %ld", r.status);
    /* unknown store, on every route */
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/nope/k", NULL) == 400, "%ld", r.status);
    CHECK(dt_contains(r.body, "\"errorCode\":\"ERR_STATE_STORE_NOT_FOUND\"") &&
              dt_contains(r.body, "state store nope is not found"),
          "%s", r.body);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/nope", "[]") == 400, "%ld", r.status);
    CHECK(dt_req(d, &r, "DELETE", "/v1.0/state/nope/k", NULL) == 400, "%ld", r.status);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/nope/bulk", "{\"keys\":[]}") == 400, "%ld", r.status);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/nope/transaction", "{}") == 400, "%ld", r.status);
}

static void test_bulk(dt_daemon *d)
{
    dt_resp r;
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem",
                 "[{\"key\":\"b1\",\"value\":{\"n\":1.10}},{\"key\":\"b2\",\"value\":\"two\"}]") ==
              204,
          "%ld", r.status);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/b1", NULL) == 200, "%ld", r.status);
    char e1[256];
    snprintf(e1, sizeof e1, "%s", r.etag);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem/bulk",
                 "{\"keys\":[\"b2\",\"nothere\",\"b1\"],\"parallelism\":2}") == 200,
          "%ld %s", r.status, r.body);
    char want[1024];
    snprintf(want, sizeof want, "{\"key\":\"b1\",\"data\":{\"n\":1.10},\"etag\":\"%s\"}]", e1);
    CHECK(strncmp(r.body, "[{\"key\":\"b2\",\"data\":\"two\",\"etag\":\"", 34) == 0 &&
              dt_contains(r.body, "},{\"key\":\"nothere\"},{\"key\":\"b1\"") &&
              dt_contains(r.body, want),
          "bulk body %s", r.body);
    CHECK(dt_req(d, &r, "PUT", "/v1.0/state/mem/bulk?metadata.a=b", "{\"keys\":[]}") == 200 &&
              strcmp(r.body, "[]") == 0,
          "empty bulk %ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem/bulk", "{}") == 200 && strcmp(r.body, "[]") == 0,
          "no keys %ld %s", r.status, r.body);
    static const char *const bad[] = {
        "[\"b1\"]",
        "{\"keys\":\"b1\"}",
        "{\"keys\":[1]}",
        "{\"keys\":[\"b1\"",
        "{\"keys\":[\"a||b\"]}",
        "{\"keys\":[\"\"]}",
        "{\"keys\":[],}",
        "{\"keys\":[\"b1\"],\"parallelism\":\"x\"}",
        "{\"keys\":[\"b1\"],\"parallelism\":-1}",
        "{\"keys\":[\"b1\"],\"metadata\":{\"a\":[]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem/bulk", bad[i]) == 400, "bulk %s -> %ld %s",
              bad[i], r.status, r.body);
        CHECK(dt_contains(r.body, "ERR_MALFORMED_REQUEST"), "%s", r.body);
    }
}

static void test_transaction(dt_daemon *d)
{
    dt_resp r;
    dt_req(d, &r, "POST", "/v1.0/state/mem", "[{\"key\":\"t0\",\"value\":0}]");
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem/transaction",
                 "{\"operations\":[{\"operation\":\"upsert\",\"request\":{\"key\":\"t1\","
                 "\"value\":{\"x\":1.10}}},{\"operation\":\"delete\",\"request\":{\"key\":"
                 "\"t0\"}},{\"operation\":\"upsert\",\"request\":{\"Key\":\"t2\",\"Value\":\"y\","
                 "\"options\":{}}}],\"metadata\":{\"partitionKey\":\"p1\"}}") == 204,
          "%ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/t1", NULL) == 200 &&
              strcmp(r.body, "{\"x\":1.10}") == 0,
          "%ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/t2", NULL) == 200 && strcmp(r.body, "\"y\"") == 0,
          "case-insensitive field names %ld %s", r.status, r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/t0", NULL) == 204, "t0 deleted %ld", r.status);
    /* an ETag mismatch is a 500 in a transaction (daprd's rule), and nothing is applied */
    CHECK(dt_req(d, &r, "PUT", "/v1.0/state/mem/transaction",
                 "{\"operations\":[{\"operation\":\"upsert\",\"request\":{\"key\":\"t3\","
                 "\"value\":3}},{\"operation\":\"delete\",\"request\":{\"key\":\"t1\","
                 "\"etag\":\"not-the-etag\"}}],\"metadata\":null}") == 500,
          "%ld %s", r.status, r.body);
    CHECK(dt_contains(r.body, "\"errorCode\":\"ERR_STATE_TRANSACTION\"") &&
              dt_contains(r.body, "error while executing state transaction"),
          "%s", r.body);
    CHECK(dt_req(d, &r, "GET", "/v1.0/state/mem/t3", NULL) == 204, "t3 must not exist %ld",
          r.status);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem/transaction", "{\"operations\":[]}") == 204,
          "empty %ld", r.status);
    CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem/transaction",
                 "{\"operations\":[{\"operation\":\"merge\",\"request\":{\"key\":\"t1\"}}]}") ==
              400,
          "%ld", r.status);
    CHECK(dt_contains(r.body, "ERR_NOT_SUPPORTED_STATE_OPERATION") &&
              dt_contains(r.body, "operation type merge not supported"),
          "%s", r.body);
    static const char *const bad[] = {
        "[]",
        "{\"operations\":{}}",
        "{\"operations\":[1]}",
        "{\"operations\":[{\"operation\":\"upsert\",\"request\":{\"key\":\"\"}}]}",
        "{\"operations\":[{\"operation\":\"upsert\",\"request\":{\"key\":\"a||b\"}}]}",
        "{\"operations\":[{\"operation\":\"upsert\",\"request\":{\"key\":\"a\",\"etag\":1}}]}",
        "{\"operations\":[{\"operation\":\"upsert\",\"request\":{\"key\":\"a\"}}],}",
        "{\"operations\":[{\"operation\":\"upsert\",\"request\":{\"key\":\"a\"}}]",
        "{\"operations\":[{\"operation\":7,\"request\":{\"key\":\"a\"}}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(dt_req(d, &r, "POST", "/v1.0/state/mem/transaction", bad[i]) == 400,
              "tx %s -> %ld %s", bad[i], r.status, r.body);
        CHECK(dt_contains(r.body, "ERR_MALFORMED_REQUEST"), "%s", r.body);
    }
}

static void test_key_prefixes(dt_daemon *d, const char *db)
{
    static const struct {
        const char *store, *stored;
    } want[] = {{"sq-appid", "myapp||pk"},
                {"sq-name", "sq-name||pk"},
                {"sq-none", "pk"},
                {"sq-custom", "team||pk"},
                {"sq-ns", "prod.myapp||pk"}};
    dt_resp r;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[128], body[128];
        snprintf(path, sizeof path, "/v1.0/state/%s", want[i].store);
        snprintf(body, sizeof body, "[{\"key\":\"pk\",\"value\":\"%s\"}]", want[i].store);
        CHECK(dt_req(d, &r, "POST", path, body) == 204, "%s: %ld %s", want[i].store, r.status,
              r.body);
        snprintf(path, sizeof path, "/v1.0/state/%s/bulk", want[i].store);
        CHECK(dt_req(d, &r, "POST", path, "{\"keys\":[\"pk\"]}") == 200 &&
                  dt_contains(r.body, "[{\"key\":\"pk\",\"data\":"),
              "bulk answers with the caller's key: %s", r.body);
    }
    /* What is in the database, read with the library itself. */
    ss_pair props[] = {{"connectionString", db}};
    ss_config cfg = {.driver = "sqlite", .properties = props, .property_count = 1};
    ss_store *st = NULL;
    ss_error e;
    CHECK(ss_open(&st, &cfg, &e) == SS_OK, "open %s: %s", db, e.message);
    if (!st) return;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ss_get_request g = {.key = want[i].stored};
        ss_value *v = NULL;
        CHECK(ss_get(&v, st, &g, &e) == SS_OK && v, "%s: stored key %s missing", want[i].store,
              want[i].stored);
        if (v) {
            char expect[64];
            snprintf(expect, sizeof expect, "\"%s\"", want[i].store);
            CHECK(strcmp(v->data, expect) == 0, "%s: %s", want[i].stored, v->data);
        }
        ss_value_free(v);
    }
    ss_close(st);
}

static void test_default_store(const char *exe, const char *dir)
{
    char db[600];
    snprintf(db, sizeof db, "%s/default.db", dir);
    const char *args[] = {"--default-store-path", db, NULL};
    dt_daemon d;
    if (!dt_start_checked(&d, exe, dir, args, NULL, "default-store daemon")) return;
    dt_resp r;
    CHECK(dt_req(&d, &r, "GET", "/v1.0/metadata", NULL) == 200 &&
              dt_contains(r.body, "{\"name\":\"statestore\",\"type\":\"state.sqlite\""),
          "%s", r.body);
    CHECK(dt_req(&d, &r, "POST", "/v1.0/state/statestore",
                 "[{\"key\":\"d1\",\"value\":12345678901234567890.10}]") == 204,
          "%ld %s", r.status, r.body);
    CHECK(dt_req(&d, &r, "GET", "/v1.0/state/statestore/d1", NULL) == 200 &&
              strcmp(r.body, "12345678901234567890.10") == 0 && r.etag[0],
          "%ld %s", r.status, r.body);
    CHECK(dt_stop(&d) == 0, "exit status");
    struct stat sb;
    CHECK(stat(db, &sb) == 0, "the default store's file %s was not created", db);
    /* survives a restart: it is durable */
    int st = -1;
    bool up = dt_start(&d, exe, dir, args, NULL, &st);
    CHECK(up, "restart");
    if (up)
        CHECK(dt_req(&d, &r, "GET", "/v1.0/state/statestore/d1", NULL) == 200, "after restart %ld",
              r.status);
    dt_stop(&d);
}

int main(int argc, char **argv)
{
    const char *exe;
    char dir[] = "/tmp/ss-daemon-api-XXXXXX", res[600], path[700], db[700];
    int rc = dt_setup(argc, argv, &exe, dir, res, sizeof res);
    if (rc) return rc;
    snprintf(db, sizeof db, "%s/prefix.db", dir);
    snprintf(path, sizeof path, "%s/sqlite.yml", res);
    write_prefix_yaml(path, db);

    const char *args[] = {"--resources-path", res,     "--app-id", "myapp",
                          "--log-level",      "debug", NULL};
    const char *env[] = {"NAMESPACE=prod", NULL};
    dt_daemon d;
    int st = -1;
    if (!dt_start(&d, exe, dir, args, env, &st)) {
        fprintf(stderr, "statestored did not start (exit %d)\n", st);
        dt_dump_log(&d);
        dt_stop(&d);
        dt_rmtree(dir);
        return 1;
    }
    test_health_metadata(&d);
    test_byte_exact(&d);
    test_save_get_delete(&d);
    test_malformed(&d);
    test_keys_and_escapes(&d);
    test_big_bodies(&d);
    test_bulk(&d);
    test_transaction(&d);
    test_key_prefixes(&d, db);
    CHECK(dt_stop(&d) == 0, "SIGTERM exit status");
    if (dt_failures) dt_dump_log(&d);

    test_default_store(exe, dir);

    return dt_teardown(dir, "test_daemon_api");
}

/*
 * Consul driver, without a Consul server: a replaying HTTP peer (the canned-answer server of
 * dynamodb_fake_server.c) answers each call with a response written from Consul's HTTP API
 * documentation, and every request the driver sent is compared exactly — method, path, query
 * flags, body (with the base64 values inside /v1/txn bodies), the ACL token header. Each pair
 * names the documentation section it was written from (developer.hashicorp.com/consul/api-docs).
 *
 * The comparison can fail: match_failure_is_caught replays a strong read against an expected
 * request without `&consistent`, and a set against a txn body with a wrong base64 value, and
 * checks that the matcher reports both.
 *
 * Behaviour only a real server can confirm is listed in docs/stores/consul.md.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dynamodb_fake_server.h"
#include "statestore.h"
#include "store_check.h"

#define TOKEN "b1gs33cr3t-acl-token"

/* "Status HTTP API", Get Raft Leader: the sample answer. */
#define LEADER "\"10.1.10.12:8300\""

/* "KV Store HTTP API", Read Key: the sample answer (Value "test", ModifyIndex 200). */
#define READ_KEY                                                                                   \
    "[{\"CreateIndex\":100,\"ModifyIndex\":200,\"LockIndex\":200,\"Key\":\"app/k1\",\"Flags\":0,"  \
    "\"Value\":\"dGVzdA==\",\"Session\":\"adf4238a-882b-9ddc-4a9d-5b6758e4159e\"}]"

/*
 * Whether the raw request is exactly `method target` with `body` (NULL: no body), and, when
 * `token` is set, carries it in X-Consul-Token. On a mismatch, prints what differed into why.
 */
static bool match_request(const char *raw, const char *method, const char *target, const char *body,
                          const char *token, char *why, size_t whylen)
{
    why[0] = '\0';
    if (!raw) {
        snprintf(why, whylen, "no request");
        return false;
    }
    char line[1024];
    snprintf(line, sizeof line, "%s %s HTTP/1.1\r\n", method, target);
    if (strncmp(raw, line, strlen(line)) != 0) {
        snprintf(why, whylen, "request line %.*s, want %s %s", (int)strcspn(raw, "\r"), raw, method,
                 target);
        return false;
    }
    const char *b = strstr(raw, "\r\n\r\n");
    const char *got = b ? b + 4 : "";
    if (strcmp(got, body ? body : "") != 0) {
        snprintf(why, whylen, "body %s, want %s", got, body ? body : "(none)");
        return false;
    }
    if (token) {
        char h[256];
        snprintf(h, sizeof h, "\r\nX-Consul-Token: %s\r\n", token);
        if (!strstr(raw, h)) {
            snprintf(why, whylen, "no X-Consul-Token header with the ACL token");
            return false;
        }
    }
    return true;
}

#define EXPECT(f, method, target, body)                                                            \
    do {                                                                                           \
        char why_[1200];                                                                           \
        char *raw_ = fake_last_request(f);                                                         \
        CHECK(match_request(raw_, method, target, body, TOKEN, why_, sizeof why_), "%s", why_);    \
        free(raw_);                                                                                \
    } while (0)

static ss_store *open_peer(fake *f)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", fake_port(f));
    ss_pair props[] = {
        {"datacenter", "dc1"}, {"httpAddr", addr}, {"aclToken", TOKEN}, {"keyPrefixPath", "app"}};
    ss_config cfg = {
        .driver = "state.consul", .name = "c", .properties = props, .property_count = 4};
    fake_queue(f, 200, NULL, LEADER);
    ss_store *s = NULL;
    ss_error err;
    ss_code rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_OK, "open: %s", err.message);
    EXPECT(f, "GET", "/v1/status/leader", NULL);
    return s;
}

static void reads(fake *f, ss_store *s)
{
    ss_error err;
    ss_value *v = NULL;
    /* Read Key with ?consistent ("Consistency Modes"): a strong read. */
    fake_queue(f, 200, "X-Consul-Index: 200\r\n", READ_KEY);
    ss_get_request g = {.key = "k1", .consistency = SS_STRONG};
    ss_code rc = ss_get(&v, s, &g, &err);
    CHECK(rc == SS_OK && v, "strong get: %s", err.message);
    EXPECT(f, "GET", "/v1/kv/app/k1?dc=dc1&consistent", NULL);
    if (v) {
        CHECK(v->len == 4 && memcmp(v->data, "test", 4) == 0, "value");
        CHECK(strcmp(v->etag, "200") == 0, "etag %s, want ModifyIndex 200", v->etag);
    }
    ss_value_free(v);
    v = NULL;

    /* Read Key: "returns 404 if the key does not exist" — a missing key, eventual read. */
    fake_queue(f, 404, NULL, "");
    g = (ss_get_request){.key = "missing"};
    rc = ss_get(&v, s, &g, &err);
    CHECK(rc == SS_OK && !v, "missing key: rc %d", rc);
    EXPECT(f, "GET", "/v1/kv/app/missing?dc=dc1", NULL);

    /* Keys are escaped byte by byte; '/' stays a path separator. */
    fake_queue(f, 404, NULL, "");
    g = (ss_get_request){.key = "a b/\xc3\xbc?&"};
    rc = ss_get(&v, s, &g, &err);
    CHECK(rc == SS_OK && !v, "escaped key: rc %d", rc);
    EXPECT(f, "GET", "/v1/kv/app/a%20b/%C3%BC%3F%26?dc=dc1", NULL);
}

static void writes(fake *f, ss_store *s)
{
    ss_error err;
    /* Create/Update Key: raw body, answer "true". */
    fake_queue(f, 200, NULL, "true");
    ss_code rc = set_kv(s, "k1", "hello", NULL, NULL, NULL, NULL, &err);
    CHECK(rc == SS_OK, "set: %s", err.message);
    EXPECT(f, "PUT", "/v1/kv/app/k1?dc=dc1", "hello");

    /* Create/Update Key with cas=<index>: a stale index answers "false". */
    fake_queue(f, 200, NULL, "false");
    rc = set_kv(s, "k1", "hello", "200", NULL, NULL, NULL, &err);
    CHECK(rc == SS_ETAG_MISMATCH, "stale cas: rc %d (%s)", rc, err.message);
    EXPECT(f, "PUT", "/v1/kv/app/k1?dc=dc1&cas=200", "hello");

    /* cas=0: "the key is only set if it does not already exist" — first-write. */
    fake_queue(f, 200, NULL, "true");
    rc = set_kv(s, "k2", "v", NULL, SS_FIRST_WRITE, NULL, NULL, &err);
    CHECK(rc == SS_OK, "first-write: %s", err.message);
    EXPECT(f, "PUT", "/v1/kv/app/k2?dc=dc1&cas=0", "v");

    /* An ETag that is not a ModifyIndex is refused before anything is sent. */
    size_t before = fake_count(f);
    rc = set_kv(s, "k1", "x", "abc", NULL, NULL, NULL, &err);
    CHECK(rc == SS_ETAG_INVALID, "bad etag: rc %d", rc);
    CHECK(fake_count(f) == before, "a request was sent for an invalid etag");

    /* The new ETag wanted: one txn op (Transaction HTTP API, Create Transaction; KV "set"),
     * whose answer carries the entry's new ModifyIndex. "hello" is aGVsbG8= in base64. */
    fake_queue(f, 200, NULL,
               "{\"Results\":[{\"KV\":{\"LockIndex\":0,\"Key\":\"app/k1\",\"Flags\":0,"
               "\"Value\":null,\"CreateIndex\":100,\"ModifyIndex\":201}}],\"Errors\":null}");
    char *etag = NULL;
    rc = set_kv(s, "k1", "hello", "200", NULL, NULL, &etag, &err);
    CHECK(rc == SS_OK && etag && strcmp(etag, "201") == 0, "set with etag_out: %s, etag %s",
          err.message, etag ? etag : "(null)");
    EXPECT(f, "PUT", "/v1/txn?dc=dc1",
           "[{\"KV\":{\"Verb\":\"cas\",\"Key\":\"app/k1\",\"Value\":\"aGVsbG8=\",\"Index\":200}}]");
    ss_free(etag);

    /* Delete Key with cas=<index>. */
    fake_queue(f, 200, NULL, "true");
    ss_delete_request d = {.key = "k1", .etag = "201"};
    rc = ss_delete(s, &d, &err);
    CHECK(rc == SS_OK, "delete cas: %s", err.message);
    EXPECT(f, "DELETE", "/v1/kv/app/k1?dc=dc1&cas=201", NULL);

    fake_queue(f, 200, NULL, "false");
    rc = ss_delete(s, &d, &err);
    CHECK(rc == SS_ETAG_MISMATCH, "stale delete cas: rc %d", rc);

    fake_queue(f, 200, NULL, "true");
    d = (ss_delete_request){.key = "k1"};
    rc = ss_delete(s, &d, &err);
    CHECK(rc == SS_OK, "delete: %s", err.message);
    EXPECT(f, "DELETE", "/v1/kv/app/k1?dc=dc1", NULL);
}

static void transactions(fake *f, ss_store *s)
{
    ss_error err;
    ss_operation ops[3] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "a", .value = "1", .value_len = 1}},
        {.kind = SS_OP_UPSERT, .set = {.key = "b", .value = "22", .value_len = 2, .etag = "7"}},
        {.kind = SS_OP_DELETE, .del = {.key = "c", .etag = "9"}},
    };
    ss_transaction tx = {.ops = ops, .count = 3};
    const char *body =
        "[{\"KV\":{\"Verb\":\"set\",\"Key\":\"app/a\",\"Value\":\"MQ==\"}},"
        "{\"KV\":{\"Verb\":\"cas\",\"Key\":\"app/b\",\"Value\":\"MjI=\",\"Index\":7}},"
        "{\"KV\":{\"Verb\":\"delete-cas\",\"Key\":\"app/c\",\"Index\":9}}]";
    /* Create Transaction: 200 with Results. */
    fake_queue(f, 200, NULL,
               "{\"Results\":[{\"KV\":{\"Key\":\"app/a\",\"ModifyIndex\":10}},"
               "{\"KV\":{\"Key\":\"app/b\",\"ModifyIndex\":10}}],\"Errors\":null}");
    ss_code rc = ss_transact(s, &tx, &err);
    CHECK(rc == SS_OK, "txn: %s", err.message);
    EXPECT(f, "PUT", "/v1/txn?dc=dc1", body);

    /* Create Transaction: "409 if the transaction was rolled back", Errors with OpIndex. */
    fake_queue(f, 409, NULL,
               "{\"Results\":null,\"Errors\":[{\"OpIndex\":1,"
               "\"What\":\"failed to set key \\\"app/b\\\", index is stale\"}]}");
    rc = ss_transact(s, &tx, &err);
    CHECK(rc == SS_ETAG_MISMATCH && strstr(err.message, "\"b\""),
          "rolled back txn: rc %d (%s), want ETAG_MISMATCH naming b", rc, err.message);

    /* An ETag that is not a ModifyIndex: ETAG_INVALID naming the key, nothing sent. */
    size_t sent = fake_count(f);
    ops[2].del.etag = "x9";
    rc = ss_transact(s, &tx, &err);
    CHECK(rc == SS_ETAG_INVALID && strstr(err.message, "\"c\""), "bad etag in txn: rc %d (%s)", rc,
          err.message);
    CHECK(fake_count(f) == sent, "a txn with an invalid etag was sent");

    /* More than 64 operations (older Consul's limit per /v1/txn; current docs say 128): never
     * sent. */
    ss_operation many[65];
    for (size_t i = 0; i < 65; i++)
        many[i] = (ss_operation){.kind = SS_OP_DELETE, .del = {.key = "k"}};
    size_t before = fake_count(f);
    tx = (ss_transaction){.ops = many, .count = 65};
    rc = ss_transact(s, &tx, &err);
    CHECK(rc == SS_TOO_LARGE, "65 ops: rc %d", rc);
    CHECK(fake_count(f) == before, "a request was sent for 65 ops");
}

static void errors(fake *f, ss_store *s)
{
    ss_error err;
    ss_value *v = NULL;
    ss_get_request g = {.key = "k1"};
    /* A 500 during a leader election ("No cluster leader") is worth a retry. */
    fake_queue(f, 500, NULL, "No cluster leader");
    ss_code rc = ss_get(&v, s, &g, &err);
    CHECK(rc == SS_UNAVAILABLE && strstr(err.message, "No cluster leader"), "500: rc %d (%s)", rc,
          err.message);
    /* ACL: 403 "Permission denied" — the token is never echoed. */
    fake_queue(f, 403, NULL, "Permission denied");
    rc = ss_get(&v, s, &g, &err);
    CHECK(rc == SS_BACKEND && strstr(err.message, "Permission denied") &&
              !strstr(err.message, TOKEN),
          "403: rc %d (%s)", rc, err.message);
    /* A value over kv_max_value_size: 413 with Consul's text. */
    fake_queue(f, 413, NULL, "Value exceeds 524288 byte limit");
    rc = set_kv(s, "k1", "x", NULL, NULL, NULL, NULL, &err);
    CHECK(rc == SS_TOO_LARGE, "413: rc %d (%s)", rc, err.message);
    /* A read answer that is not a KV array. */
    fake_queue(f, 200, NULL, "{}");
    rc = ss_get(&v, s, &g, &err);
    CHECK(rc == SS_BACKEND, "bad body: rc %d", rc);
    ss_value_free(v);
}

/* The matcher itself must catch a wrong request, or every EXPECT above proves nothing. */
static void match_failure_is_caught(fake *f, ss_store *s)
{
    ss_error err;
    char why[1200];
    ss_value *v = NULL;
    fake_queue(f, 404, NULL, "");
    ss_get_request g = {.key = "k1", .consistency = SS_STRONG};
    ss_get(&v, s, &g, &err);
    char *raw = fake_last_request(f);
    CHECK(!match_request(raw, "GET", "/v1/kv/app/k1?dc=dc1", NULL, TOKEN, why, sizeof why),
          "a strong read without &consistent was not caught");
    CHECK(!match_request(raw, "GET", "/v1/kv/app/k1?dc=dc1&consistent", NULL, "other-token", why,
                         sizeof why),
          "a wrong ACL token was not caught");
    free(raw);
    fake_queue(f, 200, NULL, "true");
    set_kv(s, "k1", "hello", NULL, NULL, NULL, NULL, &err);
    raw = fake_last_request(f);
    CHECK(!match_request(raw, "PUT", "/v1/kv/app/k1?dc=dc1", "hellp", TOKEN, why, sizeof why),
          "a wrong body was not caught");
    free(raw);
}

static void bad_properties(void)
{
    ss_pair props[] = {{"datacenter", "dc1"}, {"httpAddr", "http://x:8500"}};
    ss_config cfg = {.driver = "consul", .name = "c", .properties = props, .property_count = 2};
    ss_store *s = NULL;
    ss_error err;
    ss_code rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_INVALID && strstr(err.message, "httpAddr"), "scheme in httpAddr: %s",
          err.message);
    ss_close(s);
}

int main(void)
{
    fake *f = fake_start();
    if (!f) {
        fprintf(stderr, "consul_test: cannot open a listening socket on 127.0.0.1\n");
        return 1;
    }
    ss_store *s = open_peer(f);
    if (s) {
        reads(f, s);
        writes(f, s);
        transactions(f, s);
        errors(f, s);
        match_failure_is_caught(f, s);
    }
    ss_close(s);
    fake_stop(f);
    bad_properties();
    return check_summary("consul_test");
}

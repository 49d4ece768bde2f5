/*
 * DynamoDB driver specifics.
 *
 * Part 1 (always runs) against a canned-answer server (dynamodb_fake_server.c), for what dynalite
 * cannot do: the TransactWriteItems request the driver builds (checked field by field against
 * the shapes in AWS's API reference, "TransactWriteItems" request syntax), its reading of the
 * documented TransactionCanceledException answer (CancellationReasons), throttling retried with
 * backoff and then reported retryable, ConditionalCheckFailedException as ETag mismatch, and
 * authentication failures reported clearly without the secret key. It also re-computes the
 * SigV4 signature of a request the driver sent and compares it with the one it carried.
 *
 * Part 2 (needs SS_TEST_DYNAMODB_ENDPOINT, from scripts/services/dynalite.sh) against dynalite:
 * Dapr's item layout read back with raw calls, binary values as B, expired items invisible to
 * get/bulk get and overwritable by first-write, a missing table named clearly, non-UTF-8 keys
 * refused.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynamodb_fake_server.h"
#include "statestore.h"
#include "store_check.h"
#include "support/aws_sigv4.h"
#include "support/http.h"

#define SECRET "wJalrXUtnFEMI-test-secret-0123456789"

/* A get whose value (if any) is dropped; for calls that are expected to fail. */
static ss_code get_nothing(ss_store *s, const ss_get_request *req, ss_error *err)
{
    ss_value *v = NULL;
    ss_code rc = ss_get(&v, s, req, err);
    ss_value_free(v);
    return rc;
}

static ss_store *open_fake(fake *f, const char *max_retries)
{
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", fake_port(f));
    ss_pair props[] = {{"table", "t1"},           {"endpoint", ep},
                       {"accessKey", "AKIDTEST"}, {"secretKey", SECRET},
                       {"region", "eu-west-1"},   {"maxRetries", max_retries},
                       {"retryInterval", "1ms"},  {"ttlAttributeName", "expiresAt"}};
    ss_config cfg = {
        .driver = "state.aws.dynamodb", .name = "ddb", .properties = props, .property_count = 8};
    ss_store *s = NULL;
    ss_error err;
    ss_code rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_OK, "open: %s", err.message);
    return s;
}

/* The SigV4 signature of a DynamoDB call: POST / with the headers the driver signs. */
static ss_code sign_call(const char *host, const char *target, const char *body,
                         const ss_sigv4_params *sp, ss_sigv4_result *res, ss_error *err)
{
    ss_pair h[3] = {
        {"Content-Type", "application/x-amz-json-1.0"}, {"Host", host}, {"X-Amz-Target", target}};
    ss_sigv4_request sr = {.method = "POST",
                           .path = "/",
                           .headers = h,
                           .header_count = 3,
                           .payload = body,
                           .payload_len = strlen(body)};
    return ss_sigv4_sign(&sr, sp, res, err);
}

/* The JSON body of a raw request, parsed. */
static json_t *req_body(const char *raw)
{
    const char *b = raw ? strstr(raw, "\r\n\r\n") : NULL;
    return b ? json_loads(b + 4, JSON_ALLOW_NUL, NULL) : NULL;
}

/* The value of header `name` (case-insensitive) in a raw request, copied into out. */
static bool req_header(const char *raw, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = raw; p && *p; p = strstr(p, "\r\n")) {
        if (*p == '\r') p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ') p++;
            size_t n = strcspn(p, "\r\n");
            if (n >= outlen) n = outlen - 1;
            memcpy(out, p, n);
            out[n] = '\0';
            return true;
        }
        if (p[0] == '\r' && p[1] == '\n') break;
    }
    return false;
}

static const char *item_s(const json_t *item, const char *attr)
{
    return json_string_value(json_object_get(json_object_get(item, attr), "S"));
}

/* The driver's request must carry a signature that SigV4 over what was sent reproduces. */
static void test_signature(fake *f, ss_store *s)
{
    fake_queue(f, 200, NULL, "{}");
    ss_error err;
    ss_set_request req = {.key = "sig-key", .value = "v", .value_len = 1};
    ss_code rc = ss_set(NULL, s, &req, &err);
    CHECK(rc == SS_OK, "set: %s", err.message);
    char *raw = fake_last_request(f);
    char host[128] = "", target[128] = "", date[64] = "", auth[512] = "";
    CHECK(raw && req_header(raw, "Host", host, sizeof host) &&
              req_header(raw, "X-Amz-Target", target, sizeof target) &&
              req_header(raw, "X-Amz-Date", date, sizeof date) &&
              req_header(raw, "Authorization", auth, sizeof auth),
          "headers missing in %s", raw ? raw : "(none)");
    CHECK(strcmp(target, "DynamoDB_20120810.PutItem") == 0, "target %s", target);
    CHECK(strncmp(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/", 37) == 0, "auth %s", auth);
    CHECK(strstr(auth, "/eu-west-1/dynamodb/aws4_request") != NULL, "scope in %s", auth);
    CHECK(strstr(auth, "SignedHeaders=content-type;host;x-amz-date;x-amz-target") != NULL,
          "signed headers in %s", auth);
    CHECK(strstr(auth, SECRET) == NULL, "secret in the header");
    const char *body = raw ? strstr(raw, "\r\n\r\n") : NULL;
    struct tm tm = {0};
    if (body && sscanf(date, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                       &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        body += 4;
        ss_sigv4_params sp = {.access_key = "AKIDTEST",
                              .secret_key = SECRET,
                              .region = "eu-west-1",
                              .service = "dynamodb",
                              .unix_seconds = (int64_t)timegm(&tm),
                              .normalize_path = true};
        ss_sigv4_result res;
        CHECK(sign_call(host, target, body, &sp, &res, &err) == SS_OK, "sign: %s", err.message);
        CHECK(strcmp(res.authorization, auth) == 0, "signature differs:\n  sent %s\n  want %s",
              auth, res.authorization);
        ss_sigv4_result_clear(&res);
    } else {
        CHECK(0, "no body or bad date %s", date);
    }
    json_t *j = req_body(raw);
    json_t *item = json_object_get(j, "Item");
    CHECK(strcmp(json_string_value(json_object_get(j, "TableName")), "t1") == 0, "table");
    CHECK(item_s(item, "key") && strcmp(item_s(item, "key"), "sig-key") == 0, "key attr");
    CHECK(item_s(item, "value") && strcmp(item_s(item, "value"), "v") == 0, "value attr");
    CHECK(item_s(item, "etag") && strlen(item_s(item, "etag")) > 0, "etag attr");
    CHECK(!json_object_get(j, "ConditionExpression"), "unconditional set has a condition");
    json_decref(j);
    free(raw);
}

/* TransactWriteItems: shapes from AWS's API reference, folding of repeated keys, success. */
static void test_tx_request(fake *f, ss_store *s)
{
    ss_error err;
    ss_operation ops[5] = {
        {.kind = SS_OP_DELETE, .del = {.key = "k1"}},
        {.kind = SS_OP_UPSERT, .set = {.key = "k2", .value = "\"value2\"", .value_len = 8}},
        {.kind = SS_OP_DELETE, .del = {.key = "k2"}},
        {.kind = SS_OP_UPSERT,
         .set = {.key = "k3", .value = "\"value3\"", .value_len = 8, .etag = "etag-3"}},
        {.kind = SS_OP_UPSERT,
         .set = {.key = "k4", .value = "x", .value_len = 1, .options.concurrency = SS_FIRST_WRITE}},
    };
    ss_transaction tx = {.ops = ops, .count = 5};
    fake_queue(f, 200, NULL, "{}");
    ss_code rc = ss_transact(s, &tx, &err);
    CHECK(rc == SS_OK, "transact: %s", err.message);
    char *raw = fake_last_request(f);
    char target[128] = "";
    CHECK(raw && req_header(raw, "X-Amz-Target", target, sizeof target) &&
              strcmp(target, "DynamoDB_20120810.TransactWriteItems") == 0,
          "target %s", target);
    json_t *j = req_body(raw);
    json_t *items = json_object_get(j, "TransactItems");
    CHECK(json_array_size(items) == 4, "k2's two ops fold into one: %zu items",
          json_array_size(items));
    json_t *d1 = json_object_get(json_array_get(items, 0), "Delete");
    CHECK(d1 && strcmp(json_string_value(json_object_get(d1, "TableName")), "t1") == 0 &&
              strcmp(item_s(json_object_get(d1, "Key"), "key"), "k1") == 0 &&
              !json_object_get(d1, "ConditionExpression"),
          "item 0 is an unconditional Delete of k1");
    json_t *d2 = json_object_get(json_array_get(items, 1), "Delete");
    CHECK(d2 && strcmp(item_s(json_object_get(d2, "Key"), "key"), "k2") == 0,
          "item 1: k2's last op (delete) wins");
    json_t *p3 = json_object_get(json_array_get(items, 2), "Put");
    const char *cond3 = json_string_value(json_object_get(p3, "ConditionExpression"));
    CHECK(p3 && strcmp(item_s(json_object_get(p3, "Item"), "key"), "k3") == 0 &&
              strcmp(item_s(json_object_get(p3, "Item"), "value"), "\"value3\"") == 0,
          "item 2 puts k3");
    CHECK(cond3 && strstr(cond3, "#e = :e"), "k3's ETag condition: %s", cond3 ? cond3 : "none");
    CHECK(strcmp(json_string_value(
                     json_object_get(json_object_get(p3, "ExpressionAttributeNames"), "#e")),
                 "etag") == 0 &&
              strcmp(item_s(json_object_get(p3, "ExpressionAttributeValues"), ":e"), "etag-3") == 0,
          "k3's condition names etag = etag-3");
    json_t *p4 = json_object_get(json_array_get(items, 3), "Put");
    const char *cond4 = json_string_value(json_object_get(p4, "ConditionExpression"));
    CHECK(cond4 && strstr(cond4, "attribute_not_exists(#k)"), "k4 first-write: %s",
          cond4 ? cond4 : "none");
    json_decref(j);
    free(raw);

    /* A later op whose condition fails on the state an earlier op leaves: nothing is sent. */
    size_t before = fake_count(f);
    ss_operation bad[2] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "k5", .value = "a", .value_len = 1}},
        {.kind = SS_OP_UPSERT,
         .set = {.key = "k5", .value = "b", .value_len = 1, .options.concurrency = SS_FIRST_WRITE}},
    };
    ss_transaction tb = {.ops = bad, .count = 2};
    rc = ss_transact(s, &tb, &err);
    CHECK(rc == SS_ETAG_MISMATCH, "first-write after an upsert of the same key: %s",
          ss_code_name(rc));
    CHECK(fake_count(f) == before, "a doomed transaction was sent");
}

/* The documented TransactionCanceledException answer names the key whose condition failed. */
static void test_tx_cancel(fake *f, ss_store *s)
{
    ss_error err;
    ss_operation ops[2] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "first", .value = "1", .value_len = 1}},
        {.kind = SS_OP_UPSERT,
         .set = {.key = "second", .value = "2", .value_len = 1, .etag = "stale"}},
    };
    ss_transaction tx = {.ops = ops, .count = 2};
    fake_queue(f, 400, NULL,
               "{\"__type\":\"com.amazonaws.dynamodb.v20120810#TransactionCanceledException\","
               "\"Message\":\"Transaction cancelled, please refer cancellation reasons for "
               "specific reasons [None, ConditionalCheckFailed]\",\"CancellationReasons\":["
               "{\"Code\":\"None\"},{\"Code\":\"ConditionalCheckFailed\",\"Message\":\"The "
               "conditional request failed\"}]}");
    ss_code rc = ss_transact(s, &tx, &err);
    CHECK(rc == SS_ETAG_MISMATCH, "cancelled tx: %s %s", ss_code_name(rc), err.message);
    CHECK(strstr(err.message, "): transact: operation 1: set \"second\": "
                              "TransactionCanceledException: ConditionalCheckFailed") &&
              !strstr(err.message, "on key"),
          "the core names the op and key once: %s", err.message);

    fake_queue(f, 400, NULL,
               "{\"__type\":\"com.amazonaws.dynamodb.v20120810#TransactionCanceledException\","
               "\"Message\":\"Transaction cancelled\",\"CancellationReasons\":["
               "{\"Code\":\"TransactionConflict\",\"Message\":\"Transaction is ongoing for the "
               "item\"},{\"Code\":\"None\"}]}");
    rc = ss_transact(s, &tx, &err);
    CHECK(rc == SS_UNAVAILABLE && err.retryable, "conflict is retryable: %s %s", ss_code_name(rc),
          err.message);
}

/* BatchGetItem / BatchWriteItem: unprocessed keys and items are sent again until none are left. */
static void test_unprocessed(fake *f, ss_store *s)
{
    ss_error err;
    ss_get_request gets[3] = {{.key = "k1"}, {.key = "k2"}, {.key = "k3"}};
    fake_queue(f, 200, NULL,
               "{\"Responses\":{\"t1\":[{\"key\":{\"S\":\"k1\"},\"value\":{\"S\":\"v1\"},"
               "\"etag\":{\"S\":\"e1\"}}]},\"UnprocessedKeys\":{\"t1\":{\"Keys\":[{\"key\":"
               "{\"S\":\"k2\"}},{\"key\":{\"S\":\"k3\"}}]}}}");
    fake_queue(f, 200, NULL,
               "{\"Responses\":{\"t1\":[{\"key\":{\"S\":\"k2\"},\"value\":{\"S\":\"v2\"},"
               "\"etag\":{\"S\":\"e2\"}}]},\"UnprocessedKeys\":{}}");
    size_t before = fake_count(f);
    ss_results res = {0};
    ss_code rc = ss_bulk_get(&res, s, gets, 3, NULL, &err);
    CHECK(rc == SS_OK && res.count == 3, "bulk get: %s", err.message);
    CHECK(fake_count(f) - before == 2, "%zu BatchGetItem calls, want 2", fake_count(f) - before);
    if (res.count == 3) {
        CHECK(res.items[0].value && strcmp(res.items[0].value->data, "v1") == 0 &&
                  strcmp(res.items[0].value->etag, "e1") == 0,
              "k1");
        CHECK(res.items[1].value && strcmp(res.items[1].value->data, "v2") == 0, "k2 (retried)");
        CHECK(res.items[2].code == SS_OK && !res.items[2].value, "k3 missing");
    }
    ss_results_free(&res);
    char *raw = fake_last_request(f);
    json_t *j = req_body(raw);
    json_t *keys =
        json_object_get(json_object_get(json_object_get(j, "RequestItems"), "t1"), "Keys");
    CHECK(json_array_size(keys) == 2 && strcmp(item_s(json_array_get(keys, 0), "key"), "k2") == 0,
          "the retry asks for exactly the unprocessed keys");
    json_decref(j);
    free(raw);

    ss_set_request sets[3] = {{.key = "a", .value = "1", .value_len = 1},
                              {.key = "b", .value = "2", .value_len = 1},
                              {.key = "a", .value = "3", .value_len = 1}};
    /* "a" twice: two BatchWriteItem calls ({a, b}, then {a}); the first leaves b unprocessed. */
    fake_queue(f, 200, NULL,
               "{\"UnprocessedItems\":{\"t1\":[{\"PutRequest\":{\"Item\":{\"key\":{\"S\":"
               "\"b\"},\"value\":{\"S\":\"2\"},\"etag\":{\"S\":\"x\"}}}}]}}");
    fake_queue(f, 200, NULL, "{\"UnprocessedItems\":{}}");
    fake_queue(f, 200, NULL, "{\"UnprocessedItems\":{}}");
    before = fake_count(f);
    res = (ss_results){0};
    rc = ss_bulk_set(&res, s, sets, 3, NULL, &err);
    CHECK(rc == SS_OK, "bulk set: %s", err.message);
    CHECK(fake_count(f) - before == 3, "%zu BatchWriteItem calls, want 3", fake_count(f) - before);
    CHECK(res.count == 3 && res.items[0].etag && res.items[2].etag &&
              strcmp(res.items[0].etag, res.items[2].etag) != 0,
          "each write has its own ETag");
    ss_results_free(&res);
    raw = fake_last_request(f);
    j = req_body(raw);
    json_t *w = json_object_get(json_object_get(j, "RequestItems"), "t1");
    CHECK(json_array_size(w) == 1 &&
              strcmp(item_s(json_object_get(json_object_get(json_array_get(w, 0), "PutRequest"),
                                            "Item"),
                            "value"),
                     "3") == 0,
          "the last call writes a = 3");
    json_decref(j);
    free(raw);
}

static void test_errors(fake *f, ss_store *s)
{
    ss_error err;
    ss_set_request req = {.key = "k", .value = "v", .value_len = 1, .etag = "e1"};
    const char *throttle =
        "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\","
        "\"message\":\"The level of configured provisioned throughput for the table was "
        "exceeded.\"}";

    /* Throttled twice, then accepted: the driver retried on its own. */
    size_t before = fake_count(f);
    fake_queue(f, 400, NULL, throttle);
    fake_queue(f, 400, NULL, throttle);
    fake_queue(f, 200, NULL, "{}");
    ss_code rc = ss_set(NULL, s, &req, &err);
    CHECK(rc == SS_OK, "throttled then ok: %s", err.message);
    CHECK(fake_count(f) - before == 3, "%zu requests, want 3", fake_count(f) - before);

    /* Throttled past maxRetries (3): retryable UNAVAILABLE. */
    for (int i = 0; i < 4; i++) fake_queue(f, 400, NULL, throttle);
    rc = ss_set(NULL, s, &req, &err);
    CHECK(rc == SS_UNAVAILABLE && err.retryable, "throttled: %s %s", ss_code_name(rc), err.message);
    CHECK(strstr(err.message, "ProvisionedThroughputExceeded") != NULL, "message: %s", err.message);
    fake_queue(f, 400, NULL,
               "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ThrottlingException\","
               "\"message\":\"Rate of requests exceeds the allowed throughput.\"}");
    for (int i = 0; i < 3; i++) fake_queue(f, 400, NULL, throttle);
    rc = get_nothing(s, &(ss_get_request){.key = "k"}, &err);
    CHECK(rc == SS_UNAVAILABLE && err.retryable, "ThrottlingException: %s", ss_code_name(rc));

    fake_queue(f, 400, NULL,
               "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
               "\"message\":\"The conditional request failed\"}");
    rc = ss_set(NULL, s, &req, &err);
    CHECK(rc == SS_ETAG_MISMATCH && !err.retryable, "conditional: %s", ss_code_name(rc));

    /* Auth failures: clear, not retryable, never the secret (even if the answer quoted it). */
    fake_queue(f, 400, NULL,
               "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\","
               "\"message\":\"The security token included in the request is invalid.\"}");
    rc = ss_set(NULL, s, &req, &err);
    CHECK(rc == SS_BACKEND && !err.retryable, "auth: %s", ss_code_name(rc));
    CHECK(strstr(err.message, "authentication failed") &&
              strstr(err.message, "UnrecognizedClientException"),
          "auth message: %s", err.message);
    fake_queue(f, 403, NULL,
               "{\"__type\":\"com.amazon.coral.service#InvalidSignatureException\","
               "\"message\":\"The request signature we calculated does not match. Secret " SECRET
               "\"}");
    rc = get_nothing(s, &(ss_get_request){.key = "k"}, &err);
    CHECK(rc == SS_BACKEND && strstr(err.message, "InvalidSignatureException"), "sig: %s",
          err.message);
    CHECK(strstr(err.message, SECRET) == NULL, "the secret leaked: %s", err.message);

    fake_queue(f, 500, NULL,
               "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\","
               "\"message\":\"Internal server error\"}");
    rc = get_nothing(s, &(ss_get_request){.key = "k"}, &err);
    CHECK(rc == SS_UNAVAILABLE && err.retryable, "500: %s", ss_code_name(rc));

    fake_queue(f, 400, NULL,
               "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ValidationException\","
               "\"message\":\"Item size has exceeded the maximum allowed size\"}");
    rc = ss_set(NULL, s, &req, &err);
    CHECK(rc == SS_TOO_LARGE, "item too large: %s", ss_code_name(rc));

    fake_queue(f, 502, NULL, "<html>bad gateway</html>");
    rc = get_nothing(s, &(ss_get_request){.key = "k"}, &err);
    CHECK(rc == SS_UNAVAILABLE, "non-JSON 502: %s", ss_code_name(rc));

    /* Credentials are required; the message says where they come from. */
    ss_pair props[] = {{"table", "t"}, {"endpoint", "http://127.0.0.1:1"}};
    ss_config cfg = {.driver = "aws.dynamodb", .properties = props, .property_count = 2};
    ss_store *none = NULL;
    char *saved_ak = getenv("AWS_ACCESS_KEY_ID") ? strdup(getenv("AWS_ACCESS_KEY_ID")) : NULL;
    unsetenv("AWS_ACCESS_KEY_ID");
    rc = ss_open(&none, &cfg, &err);
    CHECK(rc == SS_INVALID && strstr(err.message, "AWS_ACCESS_KEY_ID"), "no creds: %s",
          err.message);
    ss_close(none);
    if (saved_ak) setenv("AWS_ACCESS_KEY_ID", saved_ak, 1);
    free(saved_ak);
    ss_pair bad_ep[] = {
        {"table", "t"}, {"endpoint", "ftp://x"}, {"accessKey", "a"}, {"secretKey", "b"}};
    cfg.properties = bad_ep;
    cfg.property_count = 4;
    rc = ss_open(&none, &cfg, &err);
    CHECK(rc == SS_INVALID && strstr(err.message, "endpoint"), "bad endpoint: %s", err.message);
    ss_close(none);
}

/* ------------------------------------------------------------------------------------------ */
/* Part 2: dynalite                                                                            */
/* ------------------------------------------------------------------------------------------ */

typedef struct raw {
    ss_http *http;
    const char *endpoint;
    char host[128];
} raw;

/* One raw, signed DynamoDB call (dynalite does not check the signature's value, but the
 * request is real). */
static json_t *raw_call(raw *r, const char *op, const char *body)
{
    char target[64];
    snprintf(target, sizeof target, "DynamoDB_20120810.%s", op);
    ss_sigv4_params sp = {.access_key = "AK",
                          .secret_key = "SK",
                          .region = "us-east-1",
                          .service = "dynamodb",
                          .unix_seconds = time(NULL)};
    ss_sigv4_result sig;
    ss_error err;
    if (sign_call(r->host, target, body, &sp, &sig, &err) != SS_OK) return NULL;
    char hh[160], ht[128], hd[64], ha[512];
    snprintf(hh, sizeof hh, "Host: %s", r->host);
    snprintf(ht, sizeof ht, "X-Amz-Target: %s", target);
    snprintf(hd, sizeof hd, "X-Amz-Date: %s", sig.amz_date);
    snprintf(ha, sizeof ha, "Authorization: %s", sig.authorization);
    const char *hdrs[] = {"Content-Type: application/x-amz-json-1.0", hh, ht, hd, ha, NULL};
    char url[256];
    snprintf(url, sizeof url, "%s/", r->endpoint);
    ss_http_request req = {
        .method = "POST", .url = url, .headers = hdrs, .body = body, .body_len = strlen(body)};
    ss_http_response resp;
    json_t *j = NULL;
    if (ss_http_perform(r->http, &req, &resp, &err) == SS_OK)
        j = json_loadb(resp.body, resp.body_len, JSON_ALLOW_NUL, NULL);
    ss_http_response_clear(&resp);
    ss_sigv4_result_clear(&sig);
    return j;
}

static void part_dynalite(const char *ep)
{
    char table[64];
    snprintf(table, sizeof table, "ddbtest-%lld", (long long)time(NULL));
    ss_pair props[] = {{"table", table},    {"endpoint", ep},        {"accessKey", "AK"},
                       {"secretKey", "SK"}, {"createTable", "true"}, {"ttlAttributeName", "ttl"}};
    ss_config cfg = {.driver = "aws.dynamodb", .properties = props, .property_count = 6};
    ss_store *s = NULL;
    ss_error err;
    ss_code rc;

    /* Without createTable a missing table is not created, and calls say what is wrong. */
    cfg.property_count = 4;
    rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_OK, "open without createTable: %s", err.message);
    if (s) {
        rc = get_nothing(s, &(ss_get_request){.key = "x"}, &err);
        CHECK(rc == SS_BACKEND && strstr(err.message, "ResourceNotFoundException") &&
                  strstr(err.message, "createTable"),
              "missing table: %s %s", ss_code_name(rc), err.message);
        CHECK(ss_ping(s, &err) != SS_OK, "ping of a missing table succeeded");
        ss_close(s);
        s = NULL;
    }
    cfg.property_count = 6;
    rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_OK, "open with createTable: %s", err.message);
    if (!s) return;
    CHECK(ss_ping(s, &err) == SS_OK, "ping: %s", err.message);

    raw r = {.http = ss_http_new(NULL), .endpoint = ep};
    const char *a = strstr(ep, "://");
    snprintf(r.host, sizeof r.host, "%.*s", (int)strcspn(a + 3, "/"), a + 3);

    /* Dapr's layout: key, value (S for text), etag. */
    char *etag = NULL;
    rc = ss_set(&etag, s, &(ss_set_request){.key = "layout", .value = "{\"a\":1}", .value_len = 7},
                &err);
    CHECK(rc == SS_OK, "set: %s", err.message);
    char body[512];
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"Key\":{\"key\":{\"S\":\"layout\"}},\"ConsistentRead\":true}",
             table);
    json_t *j = raw_call(&r, "GetItem", body);
    json_t *item = json_object_get(j, "Item");
    CHECK(item_s(item, "value") && strcmp(item_s(item, "value"), "{\"a\":1}") == 0,
          "value stored as S");
    CHECK(etag && item_s(item, "etag") && strcmp(item_s(item, "etag"), etag) == 0,
          "etag attribute is the returned ETag");
    CHECK(!json_object_get(item, "ttl"), "no ttl attribute without TTL");
    json_decref(j);
    ss_free(etag);

    /* Non-UTF-8 bytes are stored as B and come back byte-exact. */
    rc = ss_set(NULL, s, &(ss_set_request){.key = "bin", .value = "\xff\x00\xfe", .value_len = 3},
                &err);
    CHECK(rc == SS_OK, "set binary: %s", err.message);
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"Key\":{\"key\":{\"S\":\"bin\"}},\"ConsistentRead\":true}",
             table);
    j = raw_call(&r, "GetItem", body);
    const char *b = json_string_value(
        json_object_get(json_object_get(json_object_get(j, "Item"), "value"), "B"));
    CHECK(b && strcmp(b, "/wD+") == 0, "binary value as B: %s", b ? b : "(none)");
    json_decref(j);
    ss_value *v = NULL;
    rc = ss_get(&v, s, &(ss_get_request){.key = "bin"}, &err);
    CHECK(rc == SS_OK && v && v->len == 3 && memcmp(v->data, "\xff\x00\xfe", 3) == 0,
          "binary read back");
    ss_value_free(v);

    /* An item whose ttl is in the past (DynamoDB has not deleted it yet) is invisible. */
    snprintf(
        body, sizeof body,
        "{\"TableName\":\"%s\",\"Item\":{\"key\":{\"S\":\"expired\"},\"value\":{\"S\":\"old\"},"
        "\"etag\":{\"S\":\"e-old\"},\"ttl\":{\"N\":\"%lld\"}}}",
        table, (long long)time(NULL) - 10);
    json_decref(raw_call(&r, "PutItem", body));
    v = NULL;
    rc = ss_get(&v, s, &(ss_get_request){.key = "expired", .consistency = SS_STRONG}, &err);
    CHECK(rc == SS_OK && !v, "expired item visible to get");
    ss_value_free(v);
    ss_results res = {0};
    ss_get_request gets[2] = {{.key = "expired"}, {.key = "layout"}};
    rc = ss_bulk_get(&res, s, gets, 2, NULL, &err);
    CHECK(rc == SS_OK && res.count == 2 && !res.items[0].value && res.items[1].value,
          "bulk get hides the expired item");
    ss_results_free(&res);
    rc = ss_set(NULL, s,
                &(ss_set_request){.key = "expired", .etag = "e-old", .value = "x", .value_len = 1},
                &err);
    CHECK(rc == SS_ETAG_MISMATCH, "the ETag of an expired item matched: %s", ss_code_name(rc));
    ss_set_request fw = {.key = "expired", .value = "new", .value_len = 3};
    fw.options.concurrency = SS_FIRST_WRITE;
    rc = ss_set(NULL, s, &fw, &err);
    CHECK(rc == SS_OK, "first-write over an expired item: %s", err.message);

    /* A TTL write stores the expiry (Unix seconds) in the ttl attribute and reports it. */
    ss_pair ttl = {"ttlInSeconds", "3600"};
    rc = ss_set(
        NULL, s,
        &(ss_set_request){
            .key = "ttl1", .value = "t", .value_len = 1, .metadata = &ttl, .metadata_count = 1},
        &err);
    CHECK(rc == SS_OK, "set ttl: %s", err.message);
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"Key\":{\"key\":{\"S\":\"ttl1\"}},\"ConsistentRead\":true}",
             table);
    j = raw_call(&r, "GetItem", body);
    const char *n =
        json_string_value(json_object_get(json_object_get(json_object_get(j, "Item"), "ttl"), "N"));
    long long exp = n ? atoll(n) : 0, now = (long long)time(NULL);
    CHECK(exp >= now + 3590 && exp <= now + 3610, "ttl attribute %s", n ? n : "(none)");
    json_decref(j);
    v = NULL;
    rc = ss_get(&v, s, &(ss_get_request){.key = "ttl1"}, &err);
    CHECK(rc == SS_OK && v && ss_value_meta(v, "ttlExpireTime"), "ttlExpireTime reported");
    ss_value_free(v);

    /* Keys must be UTF-8 (DynamoDB string keys). */
    rc = ss_set(NULL, s, &(ss_set_request){.key = "bad\xff", .value = "x", .value_len = 1}, &err);
    CHECK(rc == SS_INVALID && strstr(err.message, "UTF-8"), "non-UTF-8 key: %s", err.message);

    /* Without ttlAttributeName the instance has no TTL (as in Dapr): a TTL request is refused,
     * not silently ignored. */
    ss_close(s);
    s = NULL;
    cfg.property_count = 4;
    rc = ss_open(&s, &cfg, &err);
    if (s) {
        ss_features feat;
        ss_store_features(s, &feat);
        CHECK(!(feat.flags & SS_FEATURE_TTL), "TTL declared without ttlAttributeName");
        rc = ss_set(
            NULL, s,
            &(ss_set_request){
                .key = "ttl2", .value = "t", .value_len = 1, .metadata = &ttl, .metadata_count = 1},
            &err);
        CHECK(rc == SS_UNSUPPORTED, "ttl w/o attr: %s %s", ss_code_name(rc), err.message);
        ss_close(s);
    }
    snprintf(body, sizeof body, "{\"TableName\":\"%s\"}", table);
    json_decref(raw_call(&r, "DeleteTable", body));
    ss_http_free(r.http);
}

int main(void)
{
    fake *f = fake_start();
    CHECK(f != NULL, "cannot start the fake server");
    if (f) {
        ss_store *s = open_fake(f, "3");
        if (s) {
            test_signature(f, s);
            test_tx_request(f, s);
            test_tx_cancel(f, s);
            test_unprocessed(f, s);
            test_errors(f, s);
            ss_close(s);
        }
        fake_stop(f);
    }
    const char *ep = getenv("SS_TEST_DYNAMODB_ENDPOINT");
    if (ep && *ep) {
        part_dynalite(ep);
    } else {
        printf("dynalite part skipped: SS_TEST_DYNAMODB_ENDPOINT is not set (run "
               "scripts/services/dynalite.sh start DIR and source DIR/dynalite.env)\n");
    }
    return check_summary("dynamodb_test");
}

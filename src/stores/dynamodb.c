/*
 * DynamoDB driver (aws.dynamodb): DynamoDB's JSON protocol over HTTPS (libcurl), every request
 * signed with AWS Signature Version 4 (src/support/aws_sigv4.c).
 *
 * Layout (Dapr's aws.dynamodb): one item per key with the partition key attribute (property
 * partitionKey, default "key") holding the key as a string, "value" holding the value, "etag"
 * a random token replaced on every write, and, when ttlAttributeName is set, that attribute
 * holding the expiry as Unix seconds (a number, so DynamoDB's own TTL can delete it). Values
 * that are valid UTF-8 are stored as a string, as Dapr does; other bytes as binary (B), which
 * Dapr cannot write but which keeps every value byte-exact.
 *
 * Expired items are invisible: reads drop them and conditions treat them as absent, because
 * DynamoDB deletes expired items only eventually (up to days later).
 */
#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "statestore/driver.h"
#include "support/aws_sigv4.h"
#include "support/base64.h"
#include "support/http.h"
#include "support/utf8.h"

#define MAX_TX_OPS      100 /* TransactWriteItems' limit */
#define BATCH_GET_MAX   100 /* BatchGetItem's limit */
#define BATCH_WRITE_MAX 25  /* BatchWriteItem's limit */
/* Item limit 400 KiB; the rest of the item (key up to 2 KiB, names, etag, ttl) fits in 4 KiB. */
#define MAX_VALUE_LEN (400 * 1024 - 4096)
#define MAX_KEY_LEN   2048 /* a partition key of type S */

typedef struct dynamo {
    ss_ctx *ctx;
    ss_http *http;
    char *url;  /* endpoint URL ending in "/" */
    char *host; /* its authority, for the signed Host header */
    char *table;
    char *region;
    char *access_key;
    char *secret_key;
    char *session_token;
    char *pk;  /* partition key attribute name */
    char *ttl; /* ttl attribute name, NULL = TTL off */
    int max_retries;
    int64_t retry_base_ms;
} dynamo;

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

static char *dup_nonempty(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

/* Replaces every occurrence of `secret` in msg with "***": AWS error texts can quote parts of a
 * request, and credentials may come from the environment (which the core does not mask). */
static void scrub(char *msg, const char *secret)
{
    if (!secret || strlen(secret) < 4) return;
    size_t sl = strlen(secret);
    char *p;
    while ((p = strstr(msg, secret)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + sl, strlen(p + sl) + 1);
    }
}

static void scrub_all(const dynamo *d, ss_error *err)
{
    if (!err) return;
    scrub(err->message, d->secret_key);
    scrub(err->message, d->session_token);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Backoff before retry n (1-based): base * 2^(n-1), plus up to half of it as jitter so that
 * throttled clients do not retry in lockstep. */
static void backoff(const dynamo *d, int n)
{
    int64_t ms = d->retry_base_ms << (n - 1 < 10 ? n - 1 : 10);
    unsigned char r = 0;
    char u[37];
    ss_uuid4(u);
    r = (unsigned char)u[0] ^ (unsigned char)u[1];
    sleep_ms(ms + (ms / 2) * r / 255);
}

static json_t *attr_s(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    if (!v) return NULL;
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "S", v) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *attr_n(int64_t n)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)n);
    json_t *o = json_object();
    if (o && json_object_set_new(o, "N", json_string(buf)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The value attribute: S for UTF-8 text (Dapr's layout), B for other bytes. */
static json_t *attr_value(const void *data, size_t len)
{
    if (ss_utf8_valid(data, len, true)) return attr_s(data, len);
    char *b = ss_base64_encode_alloc(data, len);
    if (!b) return NULL;
    json_t *o = json_object();
    if (o && json_object_set_new(o, "B", json_string(b)) != 0) {
        json_decref(o);
        o = NULL;
    }
    free(b);
    return o;
}

/* {pk: {S: key}} */
static json_t *key_obj(const dynamo *d, const ss_op *op)
{
    json_t *k = json_object();
    json_t *a = attr_s(op->key, op->key_len);
    if (!k || !a || json_object_set_new(k, d->pk, a) != 0) {
        json_decref(k);
        return NULL;
    }
    return k;
}

/* ------------------------------------------------------------------------------------------ */
/* Requests and errors                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* The part of an AWS error type after '#': "ConditionalCheckFailedException". */
static const char *short_type(const char *type)
{
    if (!type) return "";
    const char *h = strrchr(type, '#');
    return h ? h + 1 : type;
}

static bool is_throttle(const char *t)
{
    return strcmp(t, "ProvisionedThroughputExceededException") == 0 ||
           strcmp(t, "ThrottlingException") == 0 || strcmp(t, "RequestLimitExceeded") == 0 ||
           strcmp(t, "Throttling") == 0;
}

static bool is_auth(const char *t)
{
    static const char *const names[] = {"UnrecognizedClientException",
                                        "InvalidSignatureException",
                                        "MissingAuthenticationTokenException",
                                        "MissingAuthenticationToken",
                                        "IncompleteSignatureException",
                                        "AccessDeniedException",
                                        "ExpiredTokenException",
                                        "InvalidClientTokenId",
                                        "SignatureDoesNotMatch"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(t, names[i]) == 0) return true;
    return false;
}

/*
 * Maps a DynamoDB error answer to a code. Throttling and server-side failures are retryable;
 * a failed condition is an ETag mismatch; credentials problems say so (the message never holds
 * the secret: AWS does not echo it, and scrub() removes it if it ever did).
 */
static ss_code map_error(long status, const json_t *body, ss_error *err)
{
    const char *type = short_type(json_string_value(json_object_get(body, "__type")));
    const char *msg = json_string_value(json_object_get(body, "message"));
    if (!msg) msg = json_string_value(json_object_get(body, "Message"));
    if (!msg) msg = "";
    if (strcmp(type, "ConditionalCheckFailedException") == 0)
        return ss_error_set(err, SS_ETAG_MISMATCH, "%s: %s", type, msg);
    if (is_throttle(type) || strcmp(type, "TransactionConflictException") == 0 ||
        strcmp(type, "TransactionInProgressException") == 0 ||
        strcmp(type, "InternalServerError") == 0 || strcmp(type, "ServiceUnavailable") == 0 ||
        status >= 500)
        return ss_error_set(err, SS_UNAVAILABLE, "%s: %s (HTTP %ld)", *type ? type : "error", msg,
                            status);
    if (is_auth(type) || status == 401 || status == 403)
        return ss_error_set(err, SS_BACKEND,
                            "authentication failed: %s: %s (check accessKey/secretKey/"
                            "sessionToken or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
                            *type ? type : "error", msg);
    if (strcmp(type, "ResourceNotFoundException") == 0)
        return ss_error_set(err, SS_BACKEND,
                            "%s: %s (the table does not exist; create it, or "
                            "set the property createTable=true)",
                            type, msg);
    if (strcmp(type, "ValidationException") == 0 && strstr(msg, "size has exceeded"))
        return ss_error_set(err, SS_TOO_LARGE, "%s: %s", type, msg);
    if (strcmp(type, "ValidationException") == 0 || strcmp(type, "SerializationException") == 0)
        return ss_error_set(err, SS_INVALID, "%s: %s", type, msg);
    return ss_error_set(err, SS_BACKEND, "%s: %s (HTTP %ld)", *type ? type : "error", msg, status);
}

/*
 * One signed call of operation `op` (e.g. "GetItem"). On HTTP 200, *out holds the parsed answer
 * (an empty object when the body was empty). On an error answer, *out stays NULL, the code comes
 * from ss_dynamodb_map_error and *err_body (when not NULL) receives the parsed error body.
 * Throttling is retried here with exponential backoff: a throttled request was not applied.
 */
static ss_code call(dynamo *d, const char *op, const json_t *req, json_t **out, json_t **err_body,
                    ss_error *err)
{
    *out = NULL;
    if (err_body) *err_body = NULL;
    char *body = json_dumps(req, JSON_COMPACT);
    if (!body) return ss_error_set(err, SS_NOMEM, "out of memory encoding the request");
    char target[64];
    snprintf(target, sizeof target, "DynamoDB_20120810.%s", op);
    ss_code code = SS_OK;
    for (int attempt = 1;; attempt++) {
        ss_pair sh[3] = {{"Content-Type", "application/x-amz-json-1.0"},
                         {"Host", d->host},
                         {"X-Amz-Target", target}};
        ss_sigv4_request sreq = {.method = "POST",
                                 .path = "/",
                                 .headers = sh,
                                 .header_count = 3,
                                 .payload = body,
                                 .payload_len = strlen(body)};
        ss_sigv4_params sp = {.access_key = d->access_key,
                              .secret_key = d->secret_key,
                              .session_token = d->session_token,
                              .region = d->region,
                              .service = "dynamodb",
                              .unix_seconds = ss_now_unix_ms() / 1000,
                              .normalize_path = true};
        ss_sigv4_result sig;
        code = ss_sigv4_sign(&sreq, &sp, &sig, err);
        if (code != SS_OK) break;
        size_t cap = strlen(d->host) + strlen(target) + strlen(sig.authorization) +
                     (d->session_token ? strlen(d->session_token) : 0) + 160;
        char *hbuf = malloc(cap);
        if (!hbuf) {
            ss_sigv4_result_clear(&sig);
            code = ss_error_set(err, SS_NOMEM, "out of memory");
            break;
        }
        const char *hdrs[8] = {"Content-Type: application/x-amz-json-1.0"};
        size_t nh = 1, off = 0;
#define ADD_HEADER(...)                                                                            \
    do {                                                                                           \
        hdrs[nh++] = hbuf + off;                                                                   \
        off += (size_t)snprintf(hbuf + off, cap - off, __VA_ARGS__) + 1;                           \
    } while (0)
        ADD_HEADER("Host: %s", d->host);
        ADD_HEADER("X-Amz-Target: %s", target);
        ADD_HEADER("X-Amz-Date: %s", sig.amz_date);
        ADD_HEADER("Authorization: %s", sig.authorization);
        if (d->session_token) ADD_HEADER("X-Amz-Security-Token: %s", d->session_token);
#undef ADD_HEADER
        hdrs[nh] = NULL;
        ss_http_request hr = {.method = "POST",
                              .url = d->url,
                              .headers = hdrs,
                              .body = body,
                              .body_len = strlen(body)};
        ss_http_response resp;
        code = ss_http_perform(d->http, &hr, &resp, err);
        ss_sigv4_result_clear(&sig);
        free(hbuf);
        if (code != SS_OK) break;
        /* Values may hold NUL characters (\u0000). */
        json_t *j = resp.body_len ? json_loadb(resp.body, resp.body_len, JSON_ALLOW_NUL, NULL)
                                  : json_object();
        long status = resp.status;
        if (resp.status == 200) {
            ss_http_response_clear(&resp);
            if (!j) {
                code = ss_error_set(err, SS_BACKEND, "%s: the answer is not JSON", op);
                break;
            }
            *out = j;
            code = SS_OK;
            break;
        }
        if (!j) {
            /* Not an AWS JSON error (a proxy, or dynalite's XML for a bad content type). */
            code = ss_error_set(err, resp.status >= 500 ? SS_UNAVAILABLE : SS_BACKEND,
                                "%s: HTTP %ld: %.200s", op, resp.status, resp.body);
            ss_http_response_clear(&resp);
            break;
        }
        ss_http_response_clear(&resp);
        const char *type = short_type(json_string_value(json_object_get(j, "__type")));
        if (is_throttle(type) && attempt <= d->max_retries) {
            json_decref(j);
            backoff(d, attempt);
            continue;
        }
        code = map_error(status, j, err);
        if (err_body)
            *err_body = j;
        else
            json_decref(j);
        break;
    }
    free(body);
    if (code != SS_OK) scrub_all(d, err);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Items                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* Expiry in Unix seconds of an item, 0 when it has none (or TTL is off). */
static int64_t item_expiry(const dynamo *d, const json_t *item)
{
    if (!d->ttl) return 0;
    const json_t *a = json_object_get(item, d->ttl);
    const char *n = json_string_value(json_object_get(a, "N"));
    if (!n) return 0;
    return strtoll(n, NULL, 10);
}

static bool item_expired(const dynamo *d, const json_t *item, int64_t now_s)
{
    int64_t e = item_expiry(d, item);
    return e > 0 && e <= now_s;
}

/* Turns an item into a value; *out stays NULL for an expired item. */
static ss_code item_to_value(const dynamo *d, const json_t *item, ss_value **out, ss_error *err)
{
    *out = NULL;
    if (item_expired(d, item, ss_now_unix_ms() / 1000)) return SS_OK;
    const json_t *va = json_object_get(item, "value");
    const char *etag = json_string_value(json_object_get(json_object_get(item, "etag"), "S"));
    const json_t *s = json_object_get(va, "S");
    const json_t *b = json_object_get(va, "B");
    ss_value *v = NULL;
    if (json_is_string(s)) {
        v = ss_value_new(json_string_value(s), json_string_length(s), etag);
    } else if (json_is_string(b)) {
        char *raw = NULL;
        size_t rl = 0;
        if (!ss_base64_decode_alloc(&raw, &rl, json_string_value(b), json_string_length(b)))
            return ss_error_set(err, SS_BACKEND, "the item's value is not valid base64");
        v = ss_value_new(raw, rl, etag);
        free(raw);
    } else if (!va) {
        v = ss_value_new("", 0, etag);
    } else {
        return ss_error_set(err, SS_BACKEND,
                            "the item's \"value\" attribute is neither a string nor binary");
    }
    if (!v) return ss_error_set(err, SS_NOMEM, "out of memory");
    int64_t e = item_expiry(d, item);
    if (e > 0 && ss_value_set_expiry(v, e * 1000) != SS_OK) {
        ss_value_free(v);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    *out = v;
    return SS_OK;
}

/*
 * The item of a set, with a fresh ETag (copied to etag_out when not NULL, 37 bytes).
 */
static json_t *build_item(const dynamo *d, const ss_op *op, char *etag_out, ss_error *err)
{
    char etag[37];
    ss_uuid4(etag);
    json_t *item = json_object();
    json_t *k = attr_s(op->key, op->key_len);
    json_t *v = attr_value(op->value, op->value_len);
    json_t *e = attr_s(etag, strlen(etag));
    if (!k) {
        json_decref(item);
        json_decref(v);
        json_decref(e);
        ss_error_set(err, SS_INVALID, "the key is not valid UTF-8 (DynamoDB keys are strings)");
        return NULL;
    }
    if (!item || !v || !e || json_object_set_new(item, d->pk, k) != 0 ||
        json_object_set_new(item, "value", v) != 0 || json_object_set_new(item, "etag", e) != 0) {
        json_decref(item);
        ss_error_set(err, SS_NOMEM, "out of memory");
        return NULL;
    }
    if (op->ttl_mode == SS_TTL_SECONDS) {
        if (!d->ttl) {
            json_decref(item);
            ss_error_set(err, SS_UNSUPPORTED,
                         "ttlInSeconds needs the property ttlAttributeName to be set");
            return NULL;
        }
        if (json_object_set_new(item, d->ttl, attr_n(ss_now_unix_ms() / 1000 + op->ttl_seconds)) !=
            0) {
            json_decref(item);
            ss_error_set(err, SS_NOMEM, "out of memory");
            return NULL;
        }
    }
    if (etag_out) memcpy(etag_out, etag, sizeof etag);
    return item;
}

/*
 * Adds the condition of op to an operation object (PutItem, DeleteItem, or a transaction's Put /
 * Delete). With TTL on, an expired item counts as absent.
 */
static ss_code add_condition(const dynamo *d, json_t *obj, ss_cond cond, const char *etag,
                             ss_error *err)
{
    if (cond == SS_COND_ANY) return SS_OK;
    json_t *names = json_object();
    json_t *vals = json_object();
    const char *expr;
    bool ok = names && vals;
    if (cond == SS_COND_MATCH) {
        json_t *ev = attr_s(etag, strlen(etag));
        if (!ev) {
            json_decref(names);
            json_decref(vals);
            return ss_error_set(err, SS_ETAG_INVALID, "the etag is not valid UTF-8");
        }
        ok = ok && json_object_set_new(names, "#e", json_string("etag")) == 0 &&
             json_object_set_new(vals, ":e", ev) == 0;
        expr = d->ttl ? "#e = :e AND (attribute_not_exists(#t) OR #t > :now)" : "#e = :e";
    } else {
        ok = ok && json_object_set_new(names, "#k", json_string(d->pk)) == 0;
        expr = d->ttl ? "attribute_not_exists(#k) OR #t <= :now" : "attribute_not_exists(#k)";
    }
    if (d->ttl)
        ok = ok && json_object_set_new(names, "#t", json_string(d->ttl)) == 0 &&
             json_object_set_new(vals, ":now", attr_n(ss_now_unix_ms() / 1000)) == 0;
    ok = ok && json_object_set_new(obj, "ConditionExpression", json_string(expr)) == 0 &&
         json_object_set(obj, "ExpressionAttributeNames", names) == 0;
    if (ok && json_object_size(vals) > 0)
        ok = json_object_set(obj, "ExpressionAttributeValues", vals) == 0;
    json_decref(names);
    json_decref(vals);
    return ok ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------------------------------ */
/* Single operations                                                                           */
/* ------------------------------------------------------------------------------------------ */

static ss_code dyn_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    dynamo *d = self;
    json_t *key = key_obj(d, op);
    if (!key) return ss_error_set(err, SS_INVALID, "the key is not valid UTF-8");
    json_t *req = json_pack("{s:s, s:o, s:b}", "TableName", d->table, "Key", key, "ConsistentRead",
                            op->consistency == SS_CONSISTENCY_STRONG);
    if (!req) return ss_error_set(err, SS_NOMEM, "out of memory");
    json_t *resp = NULL;
    ss_code code = call(d, "GetItem", req, &resp, NULL, err);
    json_decref(req);
    if (code != SS_OK) return code;
    const json_t *item = json_object_get(resp, "Item");
    code = item ? item_to_value(d, item, out, err) : SS_OK;
    json_decref(resp);
    return code;
}

static ss_code dyn_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    dynamo *d = self;
    ss_error local;
    if (!err) err = &local; /* build_item reports its code through err */
    char etag[37];
    json_t *item = build_item(d, op, etag, err);
    if (!item) return err->code;
    json_t *req = json_pack("{s:s, s:o}", "TableName", d->table, "Item", item);
    if (!req) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code code = add_condition(d, req, op->cond, op->etag, err);
    json_t *resp = NULL;
    if (code == SS_OK) code = call(d, "PutItem", req, &resp, NULL, err);
    json_decref(req);
    json_decref(resp);
    if (code == SS_OK && !(*etag_out = ss_strdup(etag)))
        code = ss_error_set(err, SS_NOMEM, "out of memory");
    return code;
}

static ss_code dyn_del(void *self, const ss_op *op, ss_error *err)
{
    dynamo *d = self;
    json_t *key = key_obj(d, op);
    if (!key) return ss_error_set(err, SS_INVALID, "the key is not valid UTF-8");
    json_t *req = json_pack("{s:s, s:o}", "TableName", d->table, "Key", key);
    if (!req) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code code = add_condition(d, req, op->cond, op->etag, err);
    json_t *resp = NULL;
    if (code == SS_OK) code = call(d, "DeleteItem", req, &resp, NULL, err);
    json_decref(req);
    json_decref(resp);
    return code;
}

static ss_code dyn_ping(void *self, ss_error *err)
{
    dynamo *d = self;
    json_t *req = json_pack("{s:s}", "TableName", d->table);
    if (!req) return ss_error_set(err, SS_NOMEM, "out of memory");
    json_t *resp = NULL;
    ss_code code = call(d, "DescribeTable", req, &resp, NULL, err);
    json_decref(req);
    json_decref(resp);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Bulk                                                                                        */
/* ------------------------------------------------------------------------------------------ */

static void item_fail(ss_item_result *it, ss_code code, const char *msg)
{
    it->code = code;
    free(it->error);
    it->error = ss_strdup(msg);
}

/* BatchGetItem in chunks of 100 distinct keys; UnprocessedKeys are asked again after a backoff. */
static ss_code dyn_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                            ss_error *err)
{
    dynamo *d = self;
    bool strong = false;
    for (size_t i = 0; i < count; i++) strong = strong || ops[i].consistency;
    size_t done = 0;
    while (done < count) {
        /* One chunk: up to 100 distinct keys, starting at `done`. */
        json_t *keys = json_array();
        json_t *seen = json_object(); /* key text -> true, for deduplication */
        if (!keys || !seen) {
            json_decref(keys);
            json_decref(seen);
            return ss_error_set(err, SS_NOMEM, "out of memory");
        }
        size_t end = done;
        for (; end < count && json_array_size(keys) < BATCH_GET_MAX; end++) {
            const ss_op *op = &ops[end];
            json_t *k = key_obj(d, op);
            if (!k) {
                item_fail(&out->items[end], SS_INVALID, "the key is not valid UTF-8");
                continue;
            }
            char *ks = strndup(op->key, op->key_len);
            if (ks && !json_object_get(seen, ks)) {
                json_object_set_new(seen, ks, json_true());
                json_array_append_new(keys, k);
            } else {
                json_decref(k);
            }
            free(ks);
        }
        json_t *found = json_object(); /* key text -> item */
        json_t *pending = keys;
        ss_code code = SS_OK;
        for (int attempt = 1; found && json_array_size(pending) > 0; attempt++) {
            json_t *req = json_pack("{s:{s:{s:O, s:b}}}", "RequestItems", d->table, "Keys", pending,
                                    "ConsistentRead", strong);
            json_decref(pending);
            pending = NULL;
            json_t *resp = NULL;
            code = req ? call(d, "BatchGetItem", req, &resp, NULL, err)
                       : ss_error_set(err, SS_NOMEM, "out of memory");
            json_decref(req);
            if (code != SS_OK) break;
            json_t *items = json_object_get(json_object_get(resp, "Responses"), d->table);
            size_t i;
            json_t *item;
            json_array_foreach(items, i, item)
            {
                const char *ks =
                    json_string_value(json_object_get(json_object_get(item, d->pk), "S"));
                if (ks) json_object_set(found, ks, item);
            }
            json_t *unp = json_object_get(
                json_object_get(json_object_get(resp, "UnprocessedKeys"), d->table), "Keys");
            if (json_array_size(unp) > 0) {
                if (attempt > d->max_retries + 4) {
                    code = ss_error_set(err, SS_UNAVAILABLE,
                                        "BatchGetItem left keys unprocessed after %d attempts",
                                        attempt);
                    json_decref(resp);
                    break;
                }
                pending = json_incref(unp);
                backoff(d, attempt);
            }
            json_decref(resp);
        }
        json_decref(pending);
        if (!found) code = ss_error_set(err, SS_NOMEM, "out of memory");
        for (size_t i = done; i < end; i++) {
            ss_item_result *it = &out->items[i];
            if (it->code != SS_OK) continue;
            if (code != SS_OK) {
                item_fail(it, code, err ? err->message : "batch get failed");
                continue;
            }
            char *ks = strndup(ops[i].key, ops[i].key_len);
            const json_t *item = ks ? json_object_get(found, ks) : NULL;
            free(ks);
            if (item) {
                ss_error e;
                ss_code c = item_to_value(d, item, &it->value, &e);
                if (c != SS_OK) item_fail(it, c, e.message);
            }
        }
        json_decref(found);
        json_decref(seen);
        done = end;
    }
    return SS_OK;
}

/*
 * Bulk writes: unconditional ones go through BatchWriteItem (25 per call; a key repeated in the
 * request starts a new call, because DynamoDB refuses duplicates in one batch, and a later
 * write of a key must land after an earlier one); conditional ones are single calls, since
 * BatchWriteItem has no conditions.
 */
static ss_code bulk_write(dynamo *d, const ss_op *ops, size_t count, ss_results *out, bool del)
{
    size_t i = 0;
    while (i < count) {
        const ss_op *op = &ops[i];
        if (op->cond != SS_COND_ANY) {
            ss_error e;
            char *etag = NULL;
            ss_code c = del ? dyn_del(d, op, &e) : dyn_set(d, op, &etag, &e);
            if (c != SS_OK)
                item_fail(&out->items[i], c, e.message);
            else
                out->items[i].etag = etag;
            i++;
            continue;
        }
        json_t *reqs = json_array();
        json_t *seen = json_object();
        size_t idx[BATCH_WRITE_MAX];
        char etags[BATCH_WRITE_MAX][37];
        size_t n = 0;
        size_t j = i;
        for (; j < count && n < BATCH_WRITE_MAX && reqs && seen; j++) {
            if (ops[j].cond != SS_COND_ANY) break;
            char *ks = strndup(ops[j].key, ops[j].key_len);
            if (!ks) break;
            if (json_object_get(seen, ks)) {
                free(ks);
                break;
            }
            json_object_set_new(seen, ks, json_true());
            free(ks);
            ss_error e = {0};
            json_t *w = NULL;
            if (del) {
                json_t *k = key_obj(d, &ops[j]);
                if (k) w = json_pack("{s:{s:o}}", "DeleteRequest", "Key", k);
                if (!k) ss_error_set(&e, SS_INVALID, "the key is not valid UTF-8");
            } else {
                json_t *item = build_item(d, &ops[j], etags[n], &e);
                if (item) w = json_pack("{s:{s:o}}", "PutRequest", "Item", item);
            }
            if (!w) {
                item_fail(&out->items[j], e.code ? e.code : SS_NOMEM, e.message);
                continue;
            }
            json_array_append_new(reqs, w);
            idx[n++] = j;
        }
        ss_code code = SS_OK;
        ss_error e = {0};
        json_t *pending = reqs;
        reqs = NULL;
        for (int attempt = 1; json_array_size(pending) > 0; attempt++) {
            json_t *req = json_pack("{s:{s:O}}", "RequestItems", d->table, pending);
            json_t *resp = NULL;
            code = req ? call(d, "BatchWriteItem", req, &resp, NULL, &e)
                       : ss_error_set(&e, SS_NOMEM, "out of memory");
            json_decref(req);
            if (code != SS_OK) break;
            json_t *unp = json_object_get(json_object_get(resp, "UnprocessedItems"), d->table);
            json_decref(pending);
            pending = json_array_size(unp) > 0 ? json_incref(unp) : NULL;
            json_decref(resp);
            if (pending) {
                if (attempt > d->max_retries + 4) {
                    code = ss_error_set(&e, SS_UNAVAILABLE,
                                        "BatchWriteItem left items unprocessed after %d attempts",
                                        attempt);
                    break;
                }
                backoff(d, attempt);
            }
        }
        json_decref(pending);
        json_decref(seen);
        for (size_t k = 0; k < n; k++) {
            ss_item_result *it = &out->items[idx[k]];
            if (code != SS_OK)
                item_fail(it, code, e.message);
            else if (!del && !(it->etag = ss_strdup(etags[k])))
                item_fail(it, SS_NOMEM, "out of memory");
        }
        i = j > i ? j : i + 1;
    }
    return SS_OK;
}

static ss_code dyn_bulk_set(void *self, const ss_op *ops, size_t count, ss_results *out,
                            ss_error *err)
{
    (void)err;
    return bulk_write(self, ops, count, out, false);
}

static ss_code dyn_bulk_delete(void *self, const ss_op *ops, size_t count, ss_results *out,
                               ss_error *err)
{
    (void)err;
    return bulk_write(self, ops, count, out, true);
}

/* ------------------------------------------------------------------------------------------ */
/* Transactions                                                                                */
/* ------------------------------------------------------------------------------------------ */

/*
 * DynamoDB refuses two operations on one item in a TransactWriteItems, so ops on the same key
 * are folded into one: the first op's condition (on the state before the transaction) and the
 * last op's effect. The conditions of the later ops are checked here against the state the
 * earlier ops leave: after an upsert the key exists with an ETag nobody could know yet (it is
 * made here), after a delete it is absent. A failed one fails the whole transaction, as
 * DynamoDB would.
 */
typedef struct folded {
    const ss_op *first; /* its condition */
    const ss_op *last;  /* its effect */
    size_t index;       /* the first op's position in the request, for messages */
} folded;

static ss_code fold_ops(const ss_op *ops, size_t count, folded *out, size_t *out_count,
                        ss_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const ss_op *op = &ops[i];
        size_t f = 0;
        for (; f < n; f++)
            if (out[f].last->key_len == op->key_len &&
                memcmp(out[f].last->key, op->key, op->key_len) == 0)
                break;
        if (f == n) {
            out[n++] = (folded){op, op, i};
            continue;
        }
        bool exists = out[f].last->kind == SS_DRV_SET;
        bool ok = op->cond == SS_COND_ANY || (op->cond == SS_COND_ABSENT && !exists);
        if (!ok)
            return ss_error_set_op(err, SS_ETAG_MISMATCH, i, op,
                                   "its condition fails on the state left by an earlier "
                                   "operation on the same key");
        out[f].last = op;
    }
    *out_count = n;
    return SS_OK;
}

/* Builds the TransactWriteItems request of folded ops. */
static json_t *tx_request(const dynamo *d, const folded *fs, size_t n, ss_error *err)
{
    json_t *items = json_array();
    if (!items) {
        ss_error_set(err, SS_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const ss_op *eff = fs[i].last;
        json_t *o = NULL;
        if (eff->kind == SS_DRV_SET) {
            json_t *item = build_item(d, eff, NULL, err);
            if (!item) {
                json_decref(items);
                return NULL;
            }
            o = json_pack("{s:s, s:o}", "TableName", d->table, "Item", item);
        } else {
            json_t *k = key_obj(d, eff);
            if (!k) {
                json_decref(items);
                ss_error_set(err, SS_INVALID, "the key is not valid UTF-8");
                return NULL;
            }
            o = json_pack("{s:s, s:o}", "TableName", d->table, "Key", k);
        }
        if (!o || add_condition(d, o, fs[i].first->cond, fs[i].first->etag, err) != SS_OK) {
            if (!o) ss_error_set(err, SS_NOMEM, "out of memory");
            json_decref(o);
            json_decref(items);
            return NULL;
        }
        json_t *w = json_object();
        if (!w || json_object_set_new(w, eff->kind == SS_DRV_SET ? "Put" : "Delete", o) != 0 ||
            json_array_append_new(items, w) != 0) {
            json_decref(items);
            ss_error_set(err, SS_NOMEM, "out of memory");
            return NULL;
        }
    }
    json_t *req = json_pack("{s:o}", "TransactItems", items);
    if (!req) ss_error_set(err, SS_NOMEM, "out of memory");
    return req;
}

/*
 * Reads a TransactionCanceledException: CancellationReasons has one entry per TransactItem, in
 * order, with Code "None" for the ones that did not fail. A failed condition names its key.
 */
static ss_code tx_error(const folded *fs, size_t n, const json_t *body, ss_code code, ss_error *err)
{
    const char *type = short_type(json_string_value(json_object_get(body, "__type")));
    if (strcmp(type, "TransactionCanceledException") != 0) return code;
    const json_t *reasons = json_object_get(body, "CancellationReasons");
    size_t i;
    const json_t *r;
    ss_code worst = SS_BACKEND;
    const char *worst_code = NULL;
    size_t worst_i = 0;
    json_array_foreach(reasons, i, r)
    {
        const char *c = json_string_value(json_object_get(r, "Code"));
        if (!c || strcmp(c, "None") == 0) continue;
        if (strcmp(c, "ConditionalCheckFailed") == 0 && i < n) {
            const ss_op *op = fs[i].first;
            return ss_error_set_op(err, SS_ETAG_MISMATCH, fs[i].index, op,
                                   "TransactionCanceledException: ConditionalCheckFailed");
        }
        if (!worst_code) {
            worst_code = c;
            worst_i = i;
            worst = (strcmp(c, "TransactionConflict") == 0 || strcmp(c, "ThrottlingError") == 0 ||
                     strcmp(c, "ProvisionedThroughputExceeded") == 0)
                        ? SS_UNAVAILABLE
                    : strcmp(c, "ItemCollectionSizeLimitExceeded") == 0 ? SS_TOO_LARGE
                    : strcmp(c, "ValidationError") == 0                 ? SS_INVALID
                                                                        : SS_BACKEND;
        }
    }
    if (!worst_code) return code;
    return ss_error_set(err, worst, "TransactionCanceledException: %s on operation %zu", worst_code,
                        worst_i < n ? fs[worst_i].index : worst_i);
}

static ss_code dyn_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                            size_t metadata_count, ss_error *err)
{
    dynamo *d = self;
    (void)metadata;
    (void)metadata_count;
    ss_error local;
    if (!err) err = &local; /* tx_request reports its code through err */
    if (count == 0) return SS_OK;
    folded *fs = calloc(count, sizeof *fs);
    if (!fs) return ss_error_set(err, SS_NOMEM, "out of memory");
    size_t n = 0;
    ss_code code = fold_ops(ops, count, fs, &n, err);
    json_t *req = code == SS_OK ? tx_request(d, fs, n, err) : NULL;
    if (code == SS_OK && !req) code = err->code;
    if (code == SS_OK) {
        json_t *resp = NULL, *ebody = NULL;
        code = call(d, "TransactWriteItems", req, &resp, &ebody, err);
        if (code != SS_OK && ebody) code = tx_error(fs, n, ebody, code, err);
        json_decref(resp);
        json_decref(ebody);
    }
    json_decref(req);
    free(fs);
    if (code != SS_OK) scrub_all(d, err);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Open / close                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void dyn_close(void *self)
{
    dynamo *d = self;
    ss_http_free(d->http);
    free(d->url);
    free(d->host);
    free(d->table);
    free(d->region);
    free(d->access_key);
    if (d->secret_key) memset(d->secret_key, 0, strlen(d->secret_key));
    free(d->secret_key);
    free(d->session_token);
    free(d->pk);
    free(d->ttl);
    memset(d, 0, sizeof *d);
}

/* CreateTable (on-demand billing, the partition key as HASH) and wait until it is ACTIVE. */
static ss_code create_table(dynamo *d, ss_error *err)
{
    json_t *req = json_pack("{s:s}", "TableName", d->table);
    json_t *resp = NULL, *ebody = NULL;
    ss_code code = req ? call(d, "DescribeTable", req, &resp, &ebody, err) : SS_NOMEM;
    json_decref(req);
    bool missing = code != SS_OK && ebody &&
                   strcmp(short_type(json_string_value(json_object_get(ebody, "__type"))),
                          "ResourceNotFoundException") == 0;
    json_decref(ebody);
    json_decref(resp);
    resp = NULL;
    if (code == SS_OK) goto wait;
    if (!missing) return code;
    req =
        json_pack("{s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}", "TableName", d->table,
                  "BillingMode", "PAY_PER_REQUEST", "AttributeDefinitions", "AttributeName", d->pk,
                  "AttributeType", "S", "KeySchema", "AttributeName", d->pk, "KeyType", "HASH");
    ebody = NULL;
    code = req ? call(d, "CreateTable", req, &resp, &ebody, err)
               : ss_error_set(err, SS_NOMEM, "out of memory");
    json_decref(req);
    json_decref(resp);
    resp = NULL;
    /* Another process may have created it in between: that is fine. */
    if (code != SS_OK && ebody &&
        strcmp(short_type(json_string_value(json_object_get(ebody, "__type"))),
               "ResourceInUseException") == 0)
        code = SS_OK;
    json_decref(ebody);
    if (code != SS_OK) return code;
wait:
    for (int i = 0; i < 300; i++) {
        req = json_pack("{s:s}", "TableName", d->table);
        code = req ? call(d, "DescribeTable", req, &resp, NULL, err) : SS_NOMEM;
        json_decref(req);
        const char *st =
            json_string_value(json_object_get(json_object_get(resp, "Table"), "TableStatus"));
        bool active = st && strcmp(st, "ACTIVE") == 0;
        json_decref(resp);
        resp = NULL;
        if (code != SS_OK) return code;
        if (active) return SS_OK;
        sleep_ms(100);
    }
    return ss_error_set(err, SS_TIMEOUT, "table %s did not become ACTIVE within 30 s", d->table);
}

static ss_code dyn_open(void *self, ss_ctx *ctx, ss_error *err)
{
    dynamo *d = self;
    d->ctx = ctx;
    ss_code code;
    int64_t timeout_ms = 10000, retries = 3, base = 50;
    bool create = false;
    if ((code = ss_prop_duration_ms(ctx, "timeout", 1000, &timeout_ms, err)) != SS_OK ||
        (code = ss_prop_int(ctx, "maxRetries", 0, 20, &retries, err)) != SS_OK ||
        (code = ss_prop_duration_ms(ctx, "retryInterval", 1, &base, err)) != SS_OK ||
        (code = ss_prop_bool(ctx, "createTable", &create, err)) != SS_OK)
        return code;
    d->max_retries = (int)retries;
    d->retry_base_ms = base > 0 ? base : 1;

    const char *region = ss_prop(ctx, "region");
    if (!region || !*region) region = getenv("AWS_REGION");
    if (!region || !*region) region = getenv("AWS_DEFAULT_REGION");
    if (!region || !*region) region = "us-east-1";
    const char *ak = ss_prop(ctx, "accessKey");
    const char *sk = ss_prop(ctx, "secretKey");
    const char *tok = ss_prop(ctx, "sessionToken");
    if (!ak || !*ak) {
        ak = getenv("AWS_ACCESS_KEY_ID");
        sk = getenv("AWS_SECRET_ACCESS_KEY");
        if (!tok || !*tok) tok = getenv("AWS_SESSION_TOKEN");
    }
    if (!ak || !*ak || !sk || !*sk)
        return ss_error_set(err, SS_INVALID,
                            "no AWS credentials: set the properties accessKey and secretKey, or "
                            "the environment variables AWS_ACCESS_KEY_ID and "
                            "AWS_SECRET_ACCESS_KEY");

    const char *endpoint = ss_prop(ctx, "endpoint");
    char def[256];
    if (!endpoint || !*endpoint) {
        snprintf(def, sizeof def, "https://dynamodb.%s.amazonaws.com", region);
        endpoint = def;
    }
    const char *auth = strstr(endpoint, "://");
    if (!auth || (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0))
        return ss_error_set(err, SS_INVALID,
                            "property endpoint: \"%s\" is not an http:// or https:// URL",
                            endpoint);
    auth += 3;
    size_t alen = strcspn(auth, "/?#");
    if (alen == 0) return ss_error_set(err, SS_INVALID, "property endpoint: no host in the URL");

    d->host = strndup(auth, alen);
    size_t ul = (size_t)(auth - endpoint) + alen;
    d->url = malloc(ul + 2);
    if (d->url) {
        memcpy(d->url, endpoint, ul);
        memcpy(d->url + ul, "/", 2);
    }
    d->table = strdup(ss_prop(ctx, "table"));
    d->region = strdup(region);
    d->access_key = strdup(ak);
    d->secret_key = strdup(sk);
    d->session_token = dup_nonempty(tok);
    const char *pk = ss_prop(ctx, "partitionKey");
    d->pk = strdup(pk && *pk ? pk : "key");
    d->ttl = dup_nonempty(ss_prop(ctx, "ttlAttributeName"));
    ss_http_options ho = {.timeout_ms = (long)timeout_ms};
    d->http = ss_http_new(&ho);
    if (!d->host || !d->url || !d->table || !d->region || !d->access_key || !d->secret_key ||
        (tok && *tok && !d->session_token) || !d->pk || !d->http) {
        dyn_close(d);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    if (d->ttl && (strcmp(d->ttl, d->pk) == 0 || strcmp(d->ttl, "value") == 0 ||
                   strcmp(d->ttl, "etag") == 0)) {
        ss_error_set(err, SS_INVALID,
                     "property ttlAttributeName: \"%s\" clashes with an attribute of the layout",
                     d->ttl);
        dyn_close(d);
        return SS_INVALID;
    }
    if (create && (code = create_table(d, err)) != SS_OK) {
        dyn_close(d);
        return code;
    }
    return SS_OK;
}

/* TTL exists only with ttlAttributeName (as in Dapr); without it the core answers a request with
 * ttlInSeconds > 0 UNSUPPORTED. */
static void dyn_features(void *self, ss_features *out)
{
    const dynamo *d = self;
    if (!d->ttl) out->flags &= ~(unsigned)SS_FEATURE_TTL;
}

static const ss_property dyn_props[] = {
    {"table", true, false, NULL, "the DynamoDB table (partition key: a string, see partitionKey)"},
    {"region", false, false, NULL,
     "AWS region; default AWS_REGION, AWS_DEFAULT_REGION, else us-east-1"},
    {"endpoint", false, false, NULL,
     "service URL; default https://dynamodb.<region>.amazonaws.com (dynalite: http://host:port)"},
    {"accessKey", false, false, NULL, "AWS access key ID; default AWS_ACCESS_KEY_ID"},
    {"secretKey", false, true, NULL, "AWS secret access key; default AWS_SECRET_ACCESS_KEY"},
    {"sessionToken", false, true, NULL, "AWS session token; default AWS_SESSION_TOKEN"},
    {"ttlAttributeName", false, false, NULL,
     "attribute holding the expiry (Unix seconds); TTL requests need it"},
    {"partitionKey", false, false, "key", "name of the table's partition key attribute"},
    {"createTable", false, false, "false",
     "create the table (on-demand billing) at open when it does not exist"},
    {"timeout", false, false, "10s", "per-request timeout"},
    {"maxRetries", false, false, "3", "retries of a throttled request (exponential backoff)"},
    {"retryInterval", false, false, "50ms", "first backoff after throttling; doubles each retry"},
};

static const char *const dyn_aliases[] = {"dynamodb", NULL};

const ss_driver ss_driver_dynamodb = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "aws.dynamodb",
            .aliases = dyn_aliases,
            .version = "v1",
            .summary = "Amazon DynamoDB (JSON API, SigV4); Dapr aws.dynamodb layout",
            .features = {.flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE |
                                  SS_FEATURE_TRANSACTIONAL | SS_FEATURE_TTL |
                                  SS_FEATURE_BULK_NATIVE,
                         .max_tx_ops = MAX_TX_OPS,
                         .max_key_len = MAX_KEY_LEN,
                         .max_value_len = MAX_VALUE_LEN},
            .properties = dyn_props,
            .property_count = sizeof dyn_props / sizeof dyn_props[0],
        },
    .instance_size = sizeof(dynamo),
    .open = dyn_open,
    .close = dyn_close,
    .ping = dyn_ping,
    .get = dyn_get,
    .set = dyn_set,
    .del = dyn_del,
    .bulk_get = dyn_bulk_get,
    .bulk_set = dyn_bulk_set,
    .bulk_delete = dyn_bulk_delete,
    .transact = dyn_transact,
    .features = dyn_features,
};

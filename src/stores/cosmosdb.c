/*
 * azure.cosmosdb driver: Azure Cosmos DB for NoSQL (SQL API) over its REST API, with master-key
 * authorization (support/cosmos_auth.c), over libcurl.
 *
 * Layout (compatible with Dapr's azure.cosmosdb component): one document per key in a container
 * partitioned on /partitionKey: {"id", "partitionKey", "value", "isBinary", "ttl"?}. The value is
 * stored as JSON when the bytes are a JSON object (Dapr's rule, with contentType JSON) — and,
 * so it reads back byte-exact, only when its compact serialisation is exactly those bytes;
 * otherwise as base64 text with isBinary true. The partition key is the request's partitionKey
 * metadata, else the `partitionKey` property, else the key (as Dapr).
 *   - ETag = the document's _etag, sent back in If-Match. first-write = create (409 = exists).
 *   - ETag writes read the document first: an item past its TTL must not match (the local
 *     stand-in never expires anything), and a stale ETag then costs no write.
 *   - TTL = the document's ttl; an item whose _ts + ttl has passed is invisible to reads.
 *   - Transactions = one transactional batch (at most 100 operations, one partition). A delete
 *     without ETag becomes upsert + delete, so deleting a missing key does not fail the batch.
 *   - Ids Cosmos forbids ('/', '\\', '?', '#', control characters) or not UTF-8 are stored as
 *     "~ss~" + base64url(key); so is any key beginning with "~ss~".
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "statestore/driver.h"
#include "support/base64.h"
#include "support/cosmos_auth.h"
#include "support/http.h"
#include "support/strbuf.h"
#include "support/utf8.h"

#define API_VERSION   "2018-12-31"
#define MAX_BATCH_OPS 100
#define MAX_VALUE_LEN 1400000 /* items are at most 2 MB, and base64 grows values by 4/3 */
#define MAX_KEY_LEN   255
#define KEY_MARK      "~ss~"

typedef struct cosmos {
    ss_ctx *ctx;
    ss_http *http;
    ss_cosmos_key *key;
    char *url; /* account URL without a trailing slash */
    /* Resource links of the container and of its documents, built once at open. */
    char *coll_link; /* dbs/<db>/colls/<coll> */
    char *docs_path; /* dbs/<db>/colls/<coll>/docs */
    char *fixed_pk;  /* the partitionKey property, or NULL */
    bool json_values;
    bool text_values;
} cosmos;

/* ------------------------------------------------------------------------------------------ */
/* Ids, values                                                                                 */

static char *doc_id(const char *key, size_t len)
{
    bool plain = !(len >= strlen(KEY_MARK) && memcmp(key, KEY_MARK, strlen(KEY_MARK)) == 0) &&
                 ss_utf8_valid(key, len, true);
    for (size_t i = 0; plain && i < len; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\' || ch == '?' || ch == '#')
            plain = false;
    }
    if (plain) return strndup(key, len);
    char *b = ss_base64_encode_alloc(key, len);
    if (!b) return NULL;
    char *out = malloc(strlen(KEY_MARK) + strlen(b) + 1);
    if (out) {
        size_t j = strlen(KEY_MARK);
        memcpy(out, KEY_MARK, j);
        for (const char *p = b; *p && *p != '='; p++)
            out[j++] = *p == '+' ? '-' : *p == '/' ? '_' : *p;
        out[j] = '\0';
    }
    free(b);
    return out;
}

/* Percent-encodes an id for the URL path (everything but RFC 3986 unreserved characters). */
static char *path_escape(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    if (!out) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out[j++] = (char)ch;
        } else {
            snprintf(out + j, 4, "%%%02X", ch);
            j += 3;
        }
    }
    out[j] = '\0';
    return out;
}

/* True when no object key (at any depth) is an array index: JavaScript-based servers reorder
 * such keys, which would change the bytes read back. */
static bool keys_order_safe(const json_t *j)
{
    if (json_is_object(j)) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            size_t d = strspn(k, "0123456789");
            if ((d > 0 && k[d] == '\0') || !strcmp(k, "__proto__") || !keys_order_safe(v))
                return false;
        }
    } else if (json_is_array(j)) {
        size_t i;
        const json_t *v;
        json_array_foreach(j, i, v) if (!keys_order_safe(v)) return false;
    }
    return true;
}

/* The value as a JSON object when it round-trips byte for byte, else NULL. */
static json_t *json_value_of(const void *data, size_t len)
{
    if (len < 2 || ((const char *)data)[0] != '{') return NULL;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    char *again = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    bool same = again && strlen(again) == len && memcmp(again, data, len) == 0;
    free(again);
    if (!same || !keys_order_safe(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static json_t *doc_json(const cosmos *c, const ss_op *op, const char *id, const char *pk)
{
    json_t *value = NULL;
    bool binary = true;
    if (c->json_values) {
        value = json_value_of(op->value, op->value_len);
    } else if (c->text_values && ss_utf8_valid(op->value, op->value_len, true)) {
        value = json_stringn(op->value, op->value_len);
    }
    if (value) {
        binary = false;
    } else {
        char *b = ss_base64_encode_alloc(op->value, op->value_len);
        value = b ? json_string(b) : NULL;
        free(b);
    }
    if (!value) return NULL;
    json_t *doc = json_pack("{s:s, s:s, s:o, s:b}", "id", id, "partitionKey", pk, "value", value,
                            "isBinary", binary);
    if (doc && op->ttl_mode == SS_TTL_SECONDS)
        json_object_set_new(doc, "ttl", json_integer(op->ttl_seconds));
    else if (doc && op->ttl_mode == SS_TTL_NONE)
        json_object_set_new(doc, "ttl", json_integer(-1));
    return doc;
}

/* A document's expiry in Unix ms (0 = never), from ttl and _ts as Dapr computes it. */
static int64_t doc_expiry(const json_t *doc)
{
    const json_t *ttl = json_object_get(doc, "ttl");
    const json_t *ts = json_object_get(doc, "_ts");
    if (!json_is_integer(ttl) || json_integer_value(ttl) <= 0 || !json_is_integer(ts)) return 0;
    return ((int64_t)json_integer_value(ts) + (int64_t)json_integer_value(ttl)) * 1000;
}

static bool doc_expired(const json_t *doc)
{
    int64_t e = doc_expiry(doc);
    return e && e <= ss_now_unix_ms();
}

static ss_code value_of_doc(const json_t *doc, ss_value **out, ss_error *err)
{
    const json_t *value = json_object_get(doc, "value");
    const char *etag = json_string_value(json_object_get(doc, "_etag"));
    ss_value *v = NULL;
    if (json_is_true(json_object_get(doc, "isBinary"))) {
        const char *t = json_string_value(value);
        char *raw = NULL;
        size_t n = 0;
        if (t && !ss_base64_decode_alloc(&raw, &n, t, json_string_length(value)))
            return ss_error_set(err, SS_BACKEND, "document value: isBinary but not base64");
        v = ss_value_new(raw ? raw : "", n, etag);
        free(raw);
    } else if (json_is_string(value)) {
        v = ss_value_new(json_string_value(value), json_string_length(value), etag);
    } else if (value) {
        char *s = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        if (!s) return ss_error_set(err, SS_NOMEM, "out of memory");
        v = ss_value_new(s, strlen(s), etag);
        free(s);
    } else {
        v = ss_value_new("", 0, etag);
    }
    if (!v) return ss_error_set(err, SS_NOMEM, "out of memory");
    int64_t exp = doc_expiry(doc);
    if (exp && ss_value_set_expiry(v, exp) != SS_OK) {
        ss_value_free(v);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    *out = v;
    return SS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Requests                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct creq {
    const char *method;
    const char *rtype;  /* "docs", "colls" */
    const char *rlink;  /* what is signed: "dbs/d/colls/c[/docs/<id>]" */
    const char *path;   /* URL path, escaped */
    const char *pk;     /* partition key value, or NULL */
    const char *extra1; /* extra header lines, or NULL */
    const char *extra2;
    const char *body;
    size_t body_len;
    bool query; /* the body is a SQL query */
} creq;

static ss_code perform(cosmos *c, const creq *r, ss_http_response *resp, json_t **json,
                       ss_error *err)
{
    *json = NULL;
    char date[64], tok[160], auth[200], xdate[96], pkh[1200] = "";
    ss_cosmos_date(ss_now_unix_ms() / 1000, date, sizeof date);
    if (!ss_cosmos_auth_token(c->key, r->method, r->rtype, r->rlink, date, tok, sizeof tok))
        return ss_error_set(err, SS_NOMEM, "could not sign the request");
    snprintf(auth, sizeof auth, "Authorization: %s", tok);
    snprintf(xdate, sizeof xdate, "x-ms-date: %s", date);
    if (r->pk) {
        json_t *arr = json_pack("[s]", r->pk);
        char *s = arr ? json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(arr);
        if (!s) return ss_error_set(err, SS_NOMEM, "out of memory");
        int n = snprintf(pkh, sizeof pkh, "x-ms-documentdb-partitionkey: %s", s);
        free(s);
        if (n < 0 || (size_t)n >= sizeof pkh)
            return ss_error_set(err, SS_INVALID, "partition key too long");
    }
    const char *hdrs[10];
    size_t h = 0;
    hdrs[h++] = auth;
    hdrs[h++] = xdate;
    hdrs[h++] = "x-ms-version: " API_VERSION;
    hdrs[h++] = "Accept: application/json";
    if (r->body)
        hdrs[h++] =
            r->query ? "Content-Type: application/query+json" : "Content-Type: application/json";
    if (r->pk) hdrs[h++] = pkh;
    if (r->extra1) hdrs[h++] = r->extra1;
    if (r->extra2) hdrs[h++] = r->extra2;
    hdrs[h] = NULL;
    size_t ulen = strlen(c->url) + strlen(r->path) + 2;
    char *url = malloc(ulen);
    if (!url) return ss_error_set(err, SS_NOMEM, "out of memory");
    snprintf(url, ulen, "%s/%s", c->url, r->path);
    ss_http_request hr = {
        .method = r->method, .url = url, .headers = hdrs, .body = r->body, .body_len = r->body_len};
    ss_code rc = ss_http_perform(c->http, &hr, resp, err);
    free(url);
    if (rc != SS_OK) return rc;
    if (resp->body_len) *json = json_loadb(resp->body, resp->body_len, 0, NULL);
    return SS_OK;
}

/* An error for an unexpected answer, with Cosmos's own message (never the key). */
static ss_code http_error(const ss_http_response *resp, const json_t *j, const char *what,
                          ss_error *err)
{
    const char *msg = json_string_value(json_object_get(j, "message"));
    const char *code = json_string_value(json_object_get(j, "code"));
    long s = resp->status;
    ss_code rc = SS_BACKEND;
    if (s == 429 || s == 503 || s == 500 || s == 502 || s == 449)
        rc = SS_UNAVAILABLE;
    else if (s == 408 || s == 504)
        rc = SS_TIMEOUT;
    else if (s == 413)
        rc = SS_TOO_LARGE;
    if (s == 401 || s == 403)
        return ss_error_set(err, SS_BACKEND, "%s: authentication failed (HTTP %ld %s): %s", what, s,
                            code ? code : "", msg ? msg : "check masterKey");
    return ss_error_set(err, rc, "%s: HTTP %ld %s: %s", what, s, code ? code : "",
                        msg ? msg : (resp->body ? resp->body : ""));
}

/* The stand-in answers a read of a missing document with this JavaScript error, not 404. */
static bool standin_missing(const ss_http_response *resp, const json_t *j)
{
    const char *msg = json_string_value(json_object_get(j, "message"));
    return resp->status == 500 && msg && strstr(msg, "Cannot read properties of undefined");
}

typedef struct target {
    char *id;
    char *path;  /* "dbs/d/colls/c/docs/<escaped id>" */
    char *rlink; /* "dbs/d/colls/c/docs/<id>" */
    const char *pk;
} target;

static void target_free(target *t)
{
    free(t->id);
    free(t->path);
    free(t->rlink);
}

static const char *op_pk(const cosmos *c, const ss_op *op, const char *id)
{
    const char *pk = ss_op_meta(op, "partitionKey");
    if (pk && *pk) return pk;
    return c->fixed_pk ? c->fixed_pk : id;
}

static ss_code target_of(const cosmos *c, const ss_op *op, target *t, ss_error *err)
{
    memset(t, 0, sizeof *t);
    t->id = doc_id(op->key, op->key_len);
    char *esc = t->id ? path_escape(t->id) : NULL;
    if (esc) {
        t->path = ss_asprintf("%s/%s", c->docs_path, esc);
        t->rlink = ss_asprintf("%s/%s", c->docs_path, t->id);
    }
    free(esc);
    if (!t->path || !t->rlink) {
        target_free(t);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    t->pk = op_pk(c, op, t->id);
    return SS_OK;
}

/* Reads one document: *doc = NULL when missing or expired. */
static ss_code read_doc(cosmos *c, const target *t, ss_consistency cons, json_t **doc,
                        ss_error *err)
{
    *doc = NULL;
    creq r = {.method = "GET",
              .rtype = "docs",
              .rlink = t->rlink,
              .path = t->path,
              .pk = t->pk,
              .extra1 =
                  cons == SS_CONSISTENCY_EVENTUAL ? "x-ms-consistency-level: Eventual" : NULL};
    ss_http_response resp = {0};
    json_t *j = NULL;
    ss_code rc = perform(c, &r, &resp, &j, err);
    if (rc == SS_OK) {
        if (resp.status == 200 && json_is_object(j)) {
            if (!doc_expired(j)) {
                *doc = j;
                j = NULL;
            }
        } else if (resp.status != 404 && !standin_missing(&resp, j)) {
            rc = http_error(&resp, j, "read", err);
        }
    }
    json_decref(j);
    ss_http_response_clear(&resp);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Driver slots                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void cosmos_close(void *self)
{
    cosmos *c = self;
    ss_http_free(c->http);
    ss_cosmos_key_free(c->key);
    free(c->url);
    free(c->coll_link);
    free(c->docs_path);
    free(c->fixed_pk);
}

static ss_code cosmos_ping(void *self, ss_error *err)
{
    cosmos *c = self;
    creq r = {.method = "GET", .rtype = "colls", .rlink = c->coll_link, .path = c->coll_link};
    ss_http_response resp = {0};
    json_t *j = NULL;
    ss_code rc = perform(c, &r, &resp, &j, err);
    if (rc == SS_OK && resp.status != 200) rc = http_error(&resp, j, "read collection", err);
    json_decref(j);
    ss_http_response_clear(&resp);
    return rc;
}

static ss_code cosmos_open(void *self, ss_ctx *ctx, ss_error *err)
{
    cosmos *c = self;
    c->ctx = ctx;
    int64_t timeout_ms = 20000;
    ss_code rc = ss_prop_duration_ms(ctx, "timeout", 1000, &timeout_ms, err);
    if (rc != SS_OK) return rc;
    const char *ct = ss_prop(ctx, "contentType");
    if (!ct || !*ct) return ss_error_set(err, SS_INVALID, "property contentType: empty");
    /* As Dapr: JSON content types keep JSON objects as JSON; text types keep text as text. */
    c->json_values = strstr(ct, "json") != NULL;
    c->text_values = !c->json_values && strncasecmp(ct, "text/", 5) == 0;
    rc = ss_cosmos_key_new(&c->key, ss_prop(ctx, "masterKey"), err);
    if (rc != SS_OK) return rc;
    const char *url = ss_prop(ctx, "url");
    size_t ul = strlen(url);
    while (ul > 0 && url[ul - 1] == '/') ul--;
    c->url = strndup(url, ul);
    char *db = path_escape(ss_prop(ctx, "database"));
    char *coll = path_escape(ss_prop(ctx, "collection"));
    if (db && coll) c->coll_link = ss_asprintf("dbs/%s/colls/%s", db, coll);
    if (c->coll_link) c->docs_path = ss_asprintf("%s/docs", c->coll_link);
    free(db);
    free(coll);
    const char *pk = ss_prop(ctx, "partitionKey");
    if (pk && *pk) c->fixed_pk = strdup(pk);
    ss_http_options ho = {.timeout_ms = (long)timeout_ms};
    c->http = ss_http_new(&ho);
    if (!c->url || !c->docs_path || !c->http || (pk && *pk && !c->fixed_pk)) {
        cosmos_close(c);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    /* As Dapr: a missing database or container fails here, not at the first request. */
    rc = cosmos_ping(c, err);
    if (rc != SS_OK) cosmos_close(c);
    return rc;
}

static ss_code cosmos_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    cosmos *c = self;
    *out = NULL;
    target t;
    ss_code rc = target_of(c, op, &t, err);
    if (rc != SS_OK) return rc;
    json_t *doc = NULL;
    rc = read_doc(c, &t, op->consistency, &doc, err);
    if (rc == SS_OK && doc) rc = value_of_doc(doc, out, err);
    json_decref(doc);
    target_free(&t);
    return rc;
}

/* Sends a document: upsert/create (POST) or replace (PUT) with If-Match. */
static ss_code send_doc(cosmos *c, const target *t, const ss_op *op, const char *method,
                        const char *if_match, json_t **answer, long *status, ss_error *err)
{
    *answer = NULL;
    json_t *doc = doc_json(c, op, t->id, t->pk);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!body) return ss_error_set(err, SS_NOMEM, "out of memory");
    char ifm[256] = "";
    if (if_match) snprintf(ifm, sizeof ifm, "If-Match: %s", if_match);
    bool put = !strcmp(method, "PUT");
    size_t dl = strlen(t->path);
    /* POST goes to the collection's docs feed; the signed link is the collection. */
    char *coll_path = strndup(t->path, dl - strlen(strrchr(t->path, '/')));
    char *coll_link = strndup(t->rlink, strlen(t->rlink) - strlen(t->id) - 6);
    if (!coll_path || !coll_link) {
        free(body);
        free(coll_path);
        free(coll_link);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    creq r = {.method = method,
              .rtype = "docs",
              .rlink = put ? t->rlink : coll_link,
              .path = put ? t->path : coll_path,
              .pk = t->pk,
              .extra1 = if_match ? ifm : NULL,
              .extra2 = !strcmp(method, "UPSERT") ? "x-ms-documentdb-is-upsert: True" : NULL,
              .body = body,
              .body_len = strlen(body)};
    if (!strcmp(method, "UPSERT")) r.method = "POST";
    ss_http_response resp = {0};
    ss_code rc = perform(c, &r, &resp, answer, err);
    *status = resp.status;
    if (rc == SS_OK && resp.status >= 300 && resp.status != 404 && resp.status != 409 &&
        resp.status != 412)
        rc = http_error(&resp, *answer, "write", err);
    ss_http_response_clear(&resp);
    free(body);
    free(coll_path);
    free(coll_link);
    return rc;
}

static ss_code take_etag(const json_t *answer, char **etag_out, ss_error *err)
{
    const char *e = json_string_value(json_object_get(answer, "_etag"));
    if (!e) return ss_error_set(err, SS_BACKEND, "the answer carries no _etag");
    *etag_out = ss_strdup(e);
    return *etag_out ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
}

static ss_code cosmos_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    cosmos *c = self;
    target t;
    ss_code rc = target_of(c, op, &t, err);
    if (rc != SS_OK) return rc;
    json_t *answer = NULL, *cur = NULL;
    long status = 0;
    if (op->cond == SS_COND_ANY) {
        rc = send_doc(c, &t, op, "UPSERT", NULL, &answer, &status, err);
        if (rc == SS_OK && status >= 300)
            rc = http_error(&(ss_http_response){.status = status}, answer, "upsert", err);
    } else if (op->cond == SS_COND_MATCH) {
        rc = read_doc(c, &t, SS_CONSISTENCY_STRONG, &cur, err);
        const char *have = json_string_value(json_object_get(cur, "_etag"));
        if (rc == SS_OK && (!have || strcmp(have, op->etag) != 0))
            rc = ss_error_set(err, SS_ETAG_MISMATCH, "etag %s is not the current one", op->etag);
        if (rc == SS_OK) rc = send_doc(c, &t, op, "PUT", op->etag, &answer, &status, err);
        if (rc == SS_OK && status >= 300)
            rc = ss_error_set(err, SS_ETAG_MISMATCH, "etag %s is not the current one (HTTP %ld)",
                              op->etag, status);
    } else {
        rc = send_doc(c, &t, op, "POST", NULL, &answer, &status, err);
        if (rc == SS_OK && status == 409) {
            /* The id exists; if only an expired item holds it, replace that one. */
            json_decref(answer);
            answer = NULL;
            creq r = {
                .method = "GET", .rtype = "docs", .rlink = t.rlink, .path = t.path, .pk = t.pk};
            ss_http_response resp = {0};
            rc = perform(c, &r, &resp, &cur, err);
            if (rc == SS_OK && resp.status == 200 && doc_expired(cur)) {
                const char *old = json_string_value(json_object_get(cur, "_etag"));
                rc = send_doc(c, &t, op, "PUT", old ? old : "", &answer, &status, err);
            } else if (rc == SS_OK) {
                status = 409;
            }
            ss_http_response_clear(&resp);
            if (rc == SS_OK && status >= 300)
                rc = ss_error_set(err, SS_ETAG_MISMATCH, "key already exists");
        } else if (rc == SS_OK && status >= 300) {
            rc = http_error(&(ss_http_response){.status = status}, answer, "create", err);
        }
    }
    if (rc == SS_OK) rc = take_etag(answer, etag_out, err);
    json_decref(answer);
    json_decref(cur);
    target_free(&t);
    return rc;
}

static ss_code cosmos_del(void *self, const ss_op *op, ss_error *err)
{
    cosmos *c = self;
    target t;
    ss_code rc = target_of(c, op, &t, err);
    if (rc != SS_OK) return rc;
    json_t *cur = NULL, *j = NULL;
    char ifm[256] = "";
    if (op->cond == SS_COND_MATCH) {
        rc = read_doc(c, &t, SS_CONSISTENCY_STRONG, &cur, err);
        const char *have = json_string_value(json_object_get(cur, "_etag"));
        if (rc == SS_OK && (!have || strcmp(have, op->etag) != 0))
            rc = ss_error_set(err, SS_ETAG_MISMATCH, "etag %s is not the current one", op->etag);
        snprintf(ifm, sizeof ifm, "If-Match: %s", op->etag);
    }
    ss_http_response resp = {0};
    if (rc == SS_OK) {
        creq r = {.method = "DELETE",
                  .rtype = "docs",
                  .rlink = t.rlink,
                  .path = t.path,
                  .pk = t.pk,
                  .extra1 = ifm[0] ? ifm : NULL};
        rc = perform(c, &r, &resp, &j, err);
    }
    if (rc == SS_OK && resp.status >= 300) {
        if (op->cond == SS_COND_MATCH && (resp.status == 404 || resp.status == 412))
            rc = ss_error_set(err, SS_ETAG_MISMATCH, "etag %s is not the current one", op->etag);
        else if (resp.status != 404)
            rc = http_error(&resp, j, "delete", err);
    }
    ss_http_response_clear(&resp);
    json_decref(j);
    json_decref(cur);
    target_free(&t);
    return rc;
}

static json_t *batch_op(const char *type, const char *id, const char *pk_json, json_t *body,
                        const char *if_match)
{
    json_t *o = json_pack("{s:s, s:s}", "operationType", type, "partitionKey", pk_json);
    if (!o) {
        json_decref(body);
        return NULL;
    }
    if (id) json_object_set_new(o, "id", json_string(id));
    if (body) json_object_set_new(o, "resourceBody", body);
    if (if_match) json_object_set_new(o, "ifMatch", json_string(if_match));
    return o;
}

/*
 * The current _etag of every key an unconditional delete names (NULL = missing), by one query
 * in the partition: a batch fails on deleting a missing item, so such deletes are sent only
 * for items that exist, conditioned on the ETag seen here (a change in between fails the batch,
 * and the transaction is tried again).
 */
static ss_code delete_targets(cosmos *c, const ss_op *ops, size_t count, const target *ts,
                              char **etags, ss_error *err)
{
    json_t *ids = json_array();
    if (!ids) return ss_error_set(err, SS_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++)
        if (ops[i].kind == SS_DRV_DELETE && ops[i].cond == SS_COND_ANY)
            json_array_append_new(ids, json_string(ts[i].id));
    if (json_array_size(ids) == 0) {
        json_decref(ids);
        return SS_OK;
    }
    json_t *q = json_pack("{s:s, s:[{s:s, s:o}]}", "query",
                          "SELECT c.id, c._etag, c.ttl, c._ts FROM c WHERE "
                          "ARRAY_CONTAINS(@ids, c.id)",
                          "parameters", "name", "@ids", "value", ids);
    char *body = q ? json_dumps(q, JSON_COMPACT) : NULL;
    json_decref(q);
    ss_code rc = body ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
    if (rc == SS_OK) {
        creq r = {.method = "POST",
                  .rtype = "docs",
                  .rlink = c->coll_link,
                  .path = c->docs_path,
                  .pk = ts[0].pk,
                  .extra1 = "x-ms-documentdb-isquery: True",
                  .extra2 = "x-ms-max-item-count: 1000",
                  .body = body,
                  .body_len = strlen(body),
                  .query = true};
        ss_http_response resp = {0};
        json_t *j = NULL;
        rc = perform(c, &r, &resp, &j, err);
        if (rc == SS_OK && resp.status != 200) rc = http_error(&resp, j, "query", err);
        size_t k;
        const json_t *d;
        json_array_foreach(json_object_get(j, "Documents"), k, d)
        {
            const char *id = json_string_value(json_object_get(d, "id"));
            const char *e = json_string_value(json_object_get(d, "_etag"));
            for (size_t i = 0; rc == SS_OK && id && e && i < count; i++) {
                if (ops[i].kind != SS_DRV_DELETE || ops[i].cond != SS_COND_ANY ||
                    strcmp(ts[i].id, id) != 0 || etags[i])
                    continue;
                etags[i] = strdup(e);
                if (!etags[i]) rc = ss_error_set(err, SS_NOMEM, "out of memory");
            }
        }
        json_decref(j);
        ss_http_response_clear(&resp);
    }
    free(body);
    return rc;
}

/* One attempt at the batch; *retry when an ETag read by delete_targets went stale. */
static ss_code tx_send(cosmos *c, const ss_op *ops, size_t count, const target *ts, bool *retry,
                       ss_error *err)
{
    json_t *pkarr = json_pack("[s]", ts[0].pk);
    char *pk_json = pkarr ? json_dumps(pkarr, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(pkarr);
    json_t *arr = json_array();
    size_t *op_of = calloc(count, sizeof *op_of); /* batch index → request op */
    bool *implicit = calloc(count, sizeof *implicit);
    char **etags = calloc(count, sizeof *etags);
    ss_code rc = pk_json && arr && op_of && implicit && etags
                     ? SS_OK
                     : ss_error_set(err, SS_NOMEM, "out of memory");
    if (rc == SS_OK) rc = delete_targets(c, ops, count, ts, etags, err);
    for (size_t i = 0; rc == SS_OK && i < count; i++) {
        const ss_op *op = &ops[i];
        const target *t = &ts[i];
        json_t *o = NULL;
        if (op->kind == SS_DRV_SET) {
            json_t *doc = doc_json(c, op, t->id, t->pk);
            if (op->cond == SS_COND_ANY)
                o = batch_op("Upsert", NULL, pk_json, doc, NULL);
            else if (op->cond == SS_COND_ABSENT)
                o = batch_op("Create", NULL, pk_json, doc, NULL);
            else
                o = batch_op("Replace", t->id, pk_json, doc, op->etag);
        } else if (op->cond == SS_COND_MATCH) {
            o = batch_op("Delete", t->id, pk_json, NULL, op->etag);
        } else {
            /* Exists at this point of the batch? The last earlier operation on the key says;
             * else the state read before the batch. */
            int state = 0; /* 0 unknown, 1 set earlier, 2 deleted earlier */
            for (size_t j = 0; j < i; j++)
                if (!strcmp(ts[j].id, t->id)) state = ops[j].kind == SS_DRV_SET ? 1 : 2;
            if (state == 2 || (state == 0 && !etags[i])) continue;
            o = batch_op("Delete", t->id, pk_json, NULL, state == 0 ? etags[i] : NULL);
            implicit[json_array_size(arr)] = state == 0;
        }
        if (!o) {
            rc = ss_error_set(err, SS_NOMEM, "out of memory");
            break;
        }
        op_of[json_array_size(arr)] = i;
        json_array_append_new(arr, o);
    }
    char *body = rc == SS_OK && json_array_size(arr) > 0 ? json_dumps(arr, JSON_COMPACT) : NULL;
    if (rc == SS_OK && json_array_size(arr) > 0 && !body)
        rc = ss_error_set(err, SS_NOMEM, "out of memory");
    if (rc == SS_OK && body) {
        creq r = {.method = "POST",
                  .rtype = "docs",
                  .rlink = c->coll_link,
                  .path = c->docs_path,
                  .pk = ts[0].pk,
                  .extra1 = "x-ms-cosmos-is-batch-request: True",
                  .extra2 = "x-ms-cosmos-batch-atomic: True",
                  .body = body,
                  .body_len = strlen(body)};
        ss_http_response resp = {0};
        json_t *j = NULL;
        rc = perform(c, &r, &resp, &j, err);
        if (rc == SS_OK && !json_is_array(j)) {
            rc = http_error(&resp, j, "transactional batch", err);
        } else if (rc == SS_OK) {
            size_t k;
            const json_t *res;
            json_array_foreach(j, k, res)
            {
                json_int_t st = json_integer_value(json_object_get(res, "statusCode"));
                if (st < 400 || st == 424 || k >= json_array_size(arr)) continue;
                const ss_op *op = &ops[op_of[k]];
                if (implicit[k] && (st == 412 || st == 404)) *retry = true;
                if (st == 412 || st == 409 || (st == 404 && op->cond == SS_COND_MATCH))
                    rc = ss_error_set_op(
                        err, SS_ETAG_MISMATCH, op_of[k], op, "%s (batch operation %zu: HTTP %d)",
                        st == 409 ? "already exists" : "etag is not current", k, (int)st);
                else
                    rc = ss_error_set_op(err, st == 429 ? SS_UNAVAILABLE : SS_BACKEND, op_of[k], op,
                                         "batch operation %zu failed: HTTP %d", k, (int)st);
                break;
            }
        }
        json_decref(j);
        ss_http_response_clear(&resp);
    }
    free(body);
    json_decref(arr);
    free(pk_json);
    free(op_of);
    free(implicit);
    for (size_t i = 0; etags && i < count; i++) free(etags[i]);
    free(etags);
    return rc;
}

static ss_code cosmos_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                               size_t metadata_count, ss_error *err)
{
    cosmos *c = self;
    if (count == 0) return SS_OK;
    const char *pk = NULL;
    for (size_t i = 0; i < metadata_count; i++)
        if (metadata[i].name && !strcmp(metadata[i].name, "partitionKey")) pk = metadata[i].value;
    if (pk && !*pk) pk = NULL;
    if (!pk) pk = c->fixed_pk;
    target *ts = calloc(count, sizeof *ts);
    if (!ts) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code rc = SS_OK;
    size_t built = 0;
    for (; built < count && rc == SS_OK; built++) {
        rc = target_of(c, &ops[built], &ts[built], err);
        if (rc != SS_OK) break;
        if (pk)
            ts[built].pk = pk;
        else if (strcmp(ts[built].pk, ts[0].pk) != 0)
            rc = ss_error_set(err, SS_INVALID,
                              "a Cosmos DB transaction runs in one partition: keys \"%s\" and "
                              "\"%s\" are in different ones (give partitionKey metadata)",
                              ops[0].key, ops[built].key);
    }
    for (int attempt = 0; rc == SS_OK && attempt < 3; attempt++) {
        bool retry = false;
        rc = tx_send(c, ops, count, ts, &retry, err);
        if (rc == SS_OK || !retry) break;
        if (attempt < 2) rc = SS_OK;
    }
    for (size_t i = 0; i < count; i++) target_free(&ts[i]);
    free(ts);
    return rc;
}

static const ss_property cosmos_props[] = {
    {"url", true, false, NULL, "account endpoint, e.g. https://<account>.documents.azure.com:443/"},
    {"masterKey", true, true, NULL, "account key (base64)"},
    {"database", true, false, NULL, "database id"},
    {"collection", true, false, NULL, "container id (partition key path /partitionKey)"},
    {"partitionKey", false, false, NULL,
     "partition key for every item (request metadata partitionKey wins); default: the key"},
    {"contentType", false, false, "application/json",
     "JSON types store JSON objects as JSON; text/* stores UTF-8 text as a string"},
    {"timeout", false, false, "20s", "per-request timeout"},
};

const ss_driver ss_driver_cosmosdb = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "azure.cosmosdb",
            .aliases = NULL,
            .version = "v1",
            .summary = "Azure Cosmos DB (SQL API, REST); Dapr azure.cosmosdb layout",
            .features = {.flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE |
                                  SS_FEATURE_TRANSACTIONAL | SS_FEATURE_TTL,
                         .max_tx_ops = MAX_BATCH_OPS,
                         .max_key_len = MAX_KEY_LEN,
                         .max_value_len = MAX_VALUE_LEN},
            .properties = cosmos_props,
            .property_count = sizeof cosmos_props / sizeof cosmos_props[0],
        },
    .instance_size = sizeof(cosmos),
    .open = cosmos_open,
    .close = cosmos_close,
    .ping = cosmos_ping,
    .get = cosmos_get,
    .set = cosmos_set,
    .del = cosmos_del,
    .transact = cosmos_transact,
};

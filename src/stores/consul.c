/*
 * Consul driver: Consul's KV HTTP API (/v1/kv, /v1/txn) over libcurl (src/support/http.c).
 *
 * Layout (Dapr's state.consul): the KV path is keyPrefixPath + "/" + key and the value is the
 * raw bytes. ETag = the entry's ModifyIndex. Conditional writes use Consul's check-and-set:
 * `?cas=<index>` on /v1/kv, `cas=0` for first-write, or the txn verbs cas / delete-cas.
 *
 * A write whose new ETag is wanted goes through /v1/txn, whose answer carries the entry's new
 * ModifyIndex; /v1/kv PUT answers only true/false, and reading the index back afterwards would
 * race with other writers.
 *
 * TTL: Consul has none per key (only sessions with Behavior=delete, whose TTL is a lower bound
 * of up to twice the value and which must be renewed); the driver declares no TTL rather than
 * build that.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statestore/driver.h"
#include "support/base64.h"
#include "support/http.h"
#include "support/strbuf.h"

/* Operations in one /v1/txn: older Consul releases allow 64, current ones 128 ("Create
 * Transaction"); 64 works on both. */
#define CONSUL_MAX_TXN_OPS 64

typedef struct consul {
    ss_ctx *ctx;
    ss_http *http;
    char *base;         /* "scheme://httpAddr" */
    char *dc_q;         /* "dc=<escaped datacenter>" */
    char *prefix;       /* keyPrefixPath */
    char *token_header; /* "X-Consul-Token: ..." or NULL */
} consul;

/* Parses an ETag (a ModifyIndex, which is never 0 for a live entry). */
static ss_code consul_parse_etag(const char *etag, uint64_t *out, ss_error *err)
{
    char *end = NULL;
    if (etag[0] < '0' || etag[0] > '9')
        return ss_error_set(err, SS_ETAG_INVALID, "etag %s is not a ModifyIndex", etag);
    unsigned long long v = strtoull(etag, &end, 10);
    if (*end || v == 0)
        return ss_error_set(err, SS_ETAG_INVALID, "etag %s is not a ModifyIndex", etag);
    *out = v;
    return SS_OK;
}

/* The KV path of a key, as Dapr joins it: prefix "/" key. malloc'd, NULL on OOM. */
static char *consul_kv_path(const consul *c, const char *key, size_t key_len)
{
    size_t pl = strlen(c->prefix), n = pl + 1 + key_len;
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, c->prefix, pl);
    p[pl] = '/';
    memcpy(p + pl + 1, key, key_len);
    p[n] = '\0';
    return p;
}

/* /v1/kv/<path>?dc=..<extra>; every byte of the path but '/' and unreserved ones is escaped. */
static char *consul_kv_url(const consul *c, const char *key, size_t key_len, const char *extra)
{
    char *path = consul_kv_path(c, key, key_len);
    if (!path) return NULL;
    ss_buf b = {0};
    ss_buf_str(&b, c->base);
    ss_buf_str(&b, "/v1/kv/");
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~/", *p);
        if (plain) {
            ss_buf_chr(&b, (char)*p);
        } else {
            ss_buf_chr(&b, '%');
            ss_buf_chr(&b, hex[*p >> 4]);
            ss_buf_chr(&b, hex[*p & 15]);
        }
    }
    ss_buf_chr(&b, '?');
    ss_buf_str(&b, c->dc_q);
    if (extra) ss_buf_str(&b, extra);
    free(path);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* Consul answers errors as plain text (or a JSON txn answer, handled by the caller). */
static ss_code consul_status_error(const ss_http_response *r, ss_error *err)
{
    const char *text = r->body && r->body[0] ? r->body : "no error text";
    int len = (int)strcspn(text, "\n");
    ss_code code = SS_BACKEND;
    if (r->status == 413)
        code = SS_TOO_LARGE;
    else if (r->status == 429 || r->status == 503)
        code = SS_UNAVAILABLE;
    else if (r->status == 500 && (strstr(text, "No cluster leader") || strstr(text, "rpc error")))
        code = SS_UNAVAILABLE; /* a leader election or a server restart: worth a retry */
    return ss_error_set(err, code, "%.*s (HTTP %ld)", len, text, r->status);
}

static ss_code consul_call(consul *c, const char *method, const char *url, const void *body,
                           size_t body_len, ss_http_response *resp, ss_error *err)
{
    const char *headers[3] = {"Content-Type: application/octet-stream", c->token_header, NULL};
    ss_http_request req = {.method = method,
                           .url = url,
                           .headers = headers,
                           .body = body,
                           .body_len = body_len,
                           .capture_header = "X-Consul-Index"};
    memset(resp, 0, sizeof *resp);
    return ss_http_perform(c->http, &req, resp, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Open / close / ping                                                                         */
/* ------------------------------------------------------------------------------------------ */

static void consul_close(void *self)
{
    consul *c = self;
    ss_http_free(c->http);
    free(c->base);
    free(c->dc_q);
    free(c->prefix);
    free(c->token_header);
    memset(c, 0, sizeof *c);
}

static ss_code consul_ping(void *self, ss_error *err)
{
    consul *c = self;
    char *url = ss_asprintf("%s/v1/status/leader", c->base);
    if (!url) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_http_response r;
    ss_code code = consul_call(c, "GET", url, NULL, 0, &r, err);
    free(url);
    if (code == SS_OK && r.status != 200) code = consul_status_error(&r, err);
    /* A cluster without a leader answers 200 with "" and cannot serve writes. */
    if (code == SS_OK && (!r.body || strcmp(r.body, "\"\"") == 0))
        code = ss_error_set(err, SS_UNAVAILABLE, "the cluster has no leader");
    ss_http_response_clear(&r);
    return code;
}

static ss_code consul_open(void *self, ss_ctx *ctx, ss_error *err)
{
    consul *c = self;
    c->ctx = ctx;
    ss_code code;
    int64_t timeout_ms = 5000;
    if ((code = ss_prop_duration_ms(ctx, "timeout", 1000, &timeout_ms, err)) != SS_OK) goto fail;
    if (timeout_ms <= 0) {
        code = ss_error_set(err, SS_INVALID, "property timeout: must be positive");
        goto fail;
    }
    const char *scheme = ss_prop(ctx, "scheme"), *addr = ss_prop(ctx, "httpAddr");
    const char *dc = ss_prop(ctx, "datacenter"), *prefix = ss_prop(ctx, "keyPrefixPath");
    const char *token = ss_prop(ctx, "aclToken");
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        code =
            ss_error_set(err, SS_INVALID, "property scheme: \"%s\" is not http or https", scheme);
        goto fail;
    }
    if (!addr || !*addr || strstr(addr, "://")) {
        code = ss_error_set(err, SS_INVALID, "property httpAddr: give host:port without a scheme");
        goto fail;
    }
    if (!dc || !*dc) {
        code = ss_error_set(err, SS_INVALID, "property datacenter: must not be empty");
        goto fail;
    }
    if (!(c->base = ss_asprintf("%s://%s", scheme, addr))) goto oom;
    char *dc_esc = curl_easy_escape(NULL, dc, 0);
    if (!dc_esc) goto oom;
    c->dc_q = ss_asprintf("dc=%s", dc_esc);
    curl_free(dc_esc);
    if (!c->dc_q) goto oom;
    if (!(c->prefix = strdup(prefix ? prefix : ""))) goto oom;
    if (token && *token) {
        if (strpbrk(token, "\r\n")) {
            code = ss_error_set(err, SS_INVALID, "property aclToken: contains a line break");
            goto fail;
        }
        if (!(c->token_header = ss_asprintf("X-Consul-Token: %s", token))) goto oom;
    }
    ss_http_options ho = {.connect_timeout_ms = timeout_ms < 5000 ? timeout_ms : 5000,
                          .timeout_ms = timeout_ms};
    if (!(c->http = ss_http_new(&ho))) goto oom;
    /* Connect now so a wrong address fails at open, as Dapr's Init does. */
    if ((code = consul_ping(c, err)) != SS_OK) goto fail;
    return SS_OK;
oom:
    code = ss_error_set(err, SS_NOMEM, "out of memory");
fail:
    consul_close(c);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Single operations                                                                           */
/* ------------------------------------------------------------------------------------------ */

/* One KV entry of Consul's JSON answer as a value (ETag = ModifyIndex). */
static ss_value *consul_entry_value(const json_t *entry, ss_code *code, ss_error *err)
{
    const json_t *v = json_object_get(entry, "Value");
    const char *v64 = json_is_string(v) ? json_string_value(v) : ""; /* null: empty value */
    json_int_t idx = json_integer_value(json_object_get(entry, "ModifyIndex"));
    char *raw = NULL;
    size_t raw_len = 0;
    if (idx <= 0 || !ss_base64_decode_alloc(&raw, &raw_len, v64, strlen(v64))) {
        *code = ss_error_set(err, SS_BACKEND, "unexpected KV entry (no ModifyIndex or bad base64)");
        return NULL;
    }
    char etag[32];
    snprintf(etag, sizeof etag, "%lld", (long long)idx);
    ss_value *val = ss_value_new(raw, raw_len, etag);
    free(raw);
    *code = val ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
    return val;
}

static ss_code consul_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    consul *c = self;
    *out = NULL;
    const char *flags = op->consistency == SS_CONSISTENCY_STRONG ? "&consistent" : NULL;
    char *url = consul_kv_url(c, op->key, op->key_len, flags);
    if (!url) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_http_response r;
    ss_code code = consul_call(c, "GET", url, NULL, 0, &r, err);
    free(url);
    if (code != SS_OK) return code;
    if (r.status == 404) {
        ss_http_response_clear(&r);
        return SS_OK;
    }
    if (r.status != 200) {
        code = consul_status_error(&r, err);
        ss_http_response_clear(&r);
        return code;
    }
    json_t *arr = json_loadb(r.body, r.body_len, 0, NULL);
    ss_http_response_clear(&r);
    const json_t *entry = json_array_get(arr, 0);
    if (!entry)
        code = ss_error_set(err, SS_BACKEND, "unexpected answer to a KV read (not a JSON array)");
    else
        *out = consul_entry_value(entry, &code, err);
    json_decref(arr);
    return code;
}

/* One txn KV operation for a write (verbs set / cas / delete / delete-cas). */
static json_t *consul_txn_op(const consul *c, const ss_op *op, ss_error *err, ss_code *code)
{
    uint64_t index = 0;
    if (op->cond == SS_COND_MATCH && (*code = consul_parse_etag(op->etag, &index, err)) != SS_OK)
        return NULL;
    bool cas = op->cond != SS_COND_ANY, set = op->kind == SS_DRV_SET;
    const char *verb = set ? (cas ? "cas" : "set") : (cas ? "delete-cas" : "delete");
    char *path = consul_kv_path(c, op->key, op->key_len);
    json_t *kv = path ? json_pack("{s:s,s:s}", "Verb", verb, "Key", path) : NULL;
    free(path);
    if (kv && set) {
        char *v64 = ss_base64_encode_alloc(op->value, op->value_len);
        if (!v64 || json_object_set_new(kv, "Value", json_string(v64))) json_decref(kv), kv = NULL;
        free(v64);
    }
    if (kv && cas && json_object_set_new(kv, "Index", json_integer((json_int_t)index)))
        json_decref(kv), kv = NULL;
    json_t *o = kv ? json_pack("{s:o}", "KV", kv) : NULL;
    if (!o) *code = ss_error_set(err, SS_NOMEM, "out of memory");
    return o;
}

/*
 * PUTs ops as one /v1/txn. On success *resp_out (may be NULL) receives the answer. A rolled
 * back txn (409) is ETAG_MISMATCH naming the failed op's key when it was a cas verb.
 */
static ss_code consul_txn(consul *c, json_t *ops, const ss_op *src, json_t **resp_out,
                          ss_error *err)
{
    char *body = json_dumps(ops, JSON_COMPACT);
    if (!body) return ss_error_set(err, SS_NOMEM, "out of memory");
    char *url = ss_asprintf("%s/v1/txn?%s", c->base, c->dc_q);
    ss_http_response r;
    ss_code code = url ? consul_call(c, "PUT", url, body, strlen(body), &r, err)
                       : ss_error_set(err, SS_NOMEM, "out of memory");
    free(url);
    free(body);
    if (code != SS_OK) return code;
    json_t *ans = json_loadb(r.body ? r.body : "", r.body_len, 0, NULL);
    if (r.status == 200 && ans) {
        ss_http_response_clear(&r);
        if (resp_out)
            *resp_out = ans;
        else
            json_decref(ans);
        return SS_OK;
    }
    if (r.status == 409 && ans) {
        const json_t *e = json_array_get(json_object_get(ans, "Errors"), 0);
        json_int_t at = json_integer_value(json_object_get(e, "OpIndex"));
        const char *what = json_string_value(json_object_get(e, "What"));
        size_t count = json_array_size(ops);
        const ss_op *op = at >= 0 && (size_t)at < count ? &src[at] : NULL;
        if (op && op->cond != SS_COND_ANY)
            code = ss_error_set(err, SS_ETAG_MISMATCH, "key \"%s\": %s", op->key,
                                op->cond == SS_COND_ABSENT ? "already exists"
                                                           : "ModifyIndex is not the etag");
        else
            code = ss_error_set(err, SS_BACKEND, "transaction rolled back: %s",
                                what ? what : "no error text");
    } else {
        code = consul_status_error(&r, err);
    }
    json_decref(ans);
    ss_http_response_clear(&r);
    return code;
}

static ss_code consul_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    consul *c = self;
    ss_code code = SS_OK;
    if (op->etag_wanted) {
        json_t *one = consul_txn_op(c, op, err, &code);
        json_t *ops = one ? json_pack("[o]", one) : NULL;
        if (!ops) return code != SS_OK ? code : ss_error_set(err, SS_NOMEM, "out of memory");
        json_t *ans = NULL;
        code = consul_txn(c, ops, op, &ans, err);
        json_decref(ops);
        if (code != SS_OK) {
            /* One op: the rolled-back answer's message is the driver's, without the key. */
            if (code == SS_ETAG_MISMATCH)
                code = ss_error_set(err, SS_ETAG_MISMATCH,
                                    op->cond == SS_COND_ABSENT ? "key already exists"
                                                               : "ModifyIndex is not the etag");
            return code;
        }
        const json_t *kv =
            json_object_get(json_array_get(json_object_get(ans, "Results"), 0), "KV");
        json_int_t idx = json_integer_value(json_object_get(kv, "ModifyIndex"));
        json_decref(ans);
        if (idx <= 0) return ss_error_set(err, SS_BACKEND, "txn answer carries no ModifyIndex");
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)idx);
        *etag_out = ss_strdup(buf);
        return *etag_out ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
    }
    uint64_t index = 0;
    if (op->cond == SS_COND_MATCH && (code = consul_parse_etag(op->etag, &index, err)) != SS_OK)
        return code;
    char extra[40] = "";
    if (op->cond != SS_COND_ANY)
        snprintf(extra, sizeof extra, "&cas=%llu", (unsigned long long)index);
    char *url = consul_kv_url(c, op->key, op->key_len, extra);
    if (!url) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_http_response r;
    code = consul_call(c, "PUT", url, op->value, op->value_len, &r, err);
    free(url);
    if (code != SS_OK) return code;
    if (r.status != 200)
        code = consul_status_error(&r, err);
    else if (!r.body || strncmp(r.body, "true", 4) != 0)
        code = ss_error_set(err, SS_ETAG_MISMATCH,
                            op->cond == SS_COND_ABSENT ? "key already exists"
                                                       : "ModifyIndex is not the etag");
    ss_http_response_clear(&r);
    return code;
}

static ss_code consul_del(void *self, const ss_op *op, ss_error *err)
{
    consul *c = self;
    uint64_t index = 0;
    ss_code code;
    if (op->cond == SS_COND_MATCH && (code = consul_parse_etag(op->etag, &index, err)) != SS_OK)
        return code;
    char extra[40] = "";
    if (op->cond == SS_COND_MATCH)
        snprintf(extra, sizeof extra, "&cas=%llu", (unsigned long long)index);
    char *url = consul_kv_url(c, op->key, op->key_len, extra);
    if (!url) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_http_response r;
    code = consul_call(c, "DELETE", url, NULL, 0, &r, err);
    free(url);
    if (code != SS_OK) return code;
    if (r.status != 200)
        code = consul_status_error(&r, err);
    else if (!r.body || strncmp(r.body, "true", 4) != 0)
        code = ss_error_set(err, SS_ETAG_MISMATCH, "ModifyIndex is not the etag");
    ss_http_response_clear(&r);
    return code;
}

static ss_code consul_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                               size_t metadata_count, ss_error *err)
{
    (void)metadata;
    (void)metadata_count;
    consul *c = self;
    json_t *arr = json_array();
    if (!arr) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code code = SS_OK;
    for (size_t i = 0; i < count && code == SS_OK; i++) {
        json_t *o = consul_txn_op(c, &ops[i], err, &code);
        if (o && json_array_append_new(arr, o)) code = ss_error_set(err, SS_NOMEM, "out of memory");
        if (code == SS_ETAG_INVALID) /* the core cannot tell which operation it was */
            code = ss_error_set(err, code, "key \"%s\": etag %s is not a ModifyIndex", ops[i].key,
                                ops[i].etag);
    }
    if (code == SS_OK) code = consul_txn(c, arr, ops, NULL, err);
    json_decref(arr);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Registration                                                                                */
/* ------------------------------------------------------------------------------------------ */

static const ss_property consul_props[] = {
    {"datacenter", true, false, NULL, "Consul datacenter (sent as ?dc=)"},
    {"httpAddr", true, false, NULL, "host:port of a Consul agent's HTTP API"},
    {"aclToken", false, true, NULL, "ACL token (X-Consul-Token header)"},
    {"scheme", false, false, "http", "http or https"},
    {"keyPrefixPath", false, false, "", "prefix of every KV path (joined with \"/\", as Dapr)"},
    {"timeout", false, false, "5s", "per-request timeout"},
};

const ss_driver ss_driver_consul = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "consul",
            .aliases = NULL,
            .version = "v1",
            .summary = "HashiCorp Consul KV over its HTTP API; Dapr state.consul layout",
            .features = {.flags =
                             SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE | SS_FEATURE_TRANSACTIONAL,
                         .max_tx_ops = CONSUL_MAX_TXN_OPS,
                         /* Consul's default kv_max_value_size */
                         .max_value_len = 512 * 1024},
            .properties = consul_props,
            .property_count = sizeof consul_props / sizeof consul_props[0],
        },
    .instance_size = sizeof(consul),
    .open = consul_open,
    .close = consul_close,
    .ping = consul_ping,
    .get = consul_get,
    .set = consul_set,
    .del = consul_del,
    .transact = consul_transact,
};

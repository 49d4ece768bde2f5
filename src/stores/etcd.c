/*
 * etcd driver: etcd v3 through its JSON gateway (grpc-gateway on the client port), over libcurl.
 *
 * Why the gateway and not gRPC: Debian ships no C client for etcd's protos (it would need
 * protobuf codegen and libgrpc's C core, whose API is not meant for applications); the gateway
 * costs one JSON encode/decode per call, which bench/etcd_bench.c measures against raw libcurl.
 *
 * Layout (compatible with Dapr's etcd component, version v2): the etcd key is
 * keyPrefixPath + "/" + key, and the etcd value is the protobuf message
 * dapr.proto.components.state.v2.Value {bytes data = 1; Timestamp ts = 2; Duration ttl = 3}.
 * ETag = the key's mod_revision. TTL = a lease attached to the key.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "statestore/driver.h"
#include "support/base64.h"
#include "support/http.h"

#define DEFAULT_MAX_TXN_OPS 128

typedef struct etcd {
    ss_ctx *ctx;
    ss_http *http;
    char **endpoints; /* "http://host:port", no trailing slash */
    size_t endpoint_count;
    atomic_size_t current; /* the endpoint that answered last; calls start there */
    char *prefix;          /* keyPrefixPath */
    size_t prefix_len;
    size_t max_txn_ops;
    char *username;
    char *password;
    pthread_mutex_t token_lock;
    char *token; /* auth token from /v3/auth/authenticate, NULL without auth */
    unsigned token_gen;
} etcd;

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

static json_t *b64_json(const void *data, size_t len)
{
    char *t = ss_base64_encode_alloc(data, len);
    if (!t) return NULL;
    json_t *j = json_string(t);
    free(t);
    return j;
}

/* etcd's gateway writes int64s as strings and leaves out zero fields. */
static int64_t jint(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

static json_t *jint_str(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return json_string(buf);
}

/* Dapr joins keyPrefixPath and the key with "/" even when the prefix is empty. */
static json_t *full_key_json(const etcd *e, const char *key, size_t key_len)
{
    size_t n = e->prefix_len + 1 + key_len;
    char *buf = malloc(n);
    if (!buf) return NULL;
    memcpy(buf, e->prefix, e->prefix_len);
    buf[e->prefix_len] = '/';
    memcpy(buf + e->prefix_len + 1, key, key_len);
    json_t *j = b64_json(buf, n);
    free(buf);
    return j;
}

/* Parses an ETag (a mod_revision). 0 is a well-formed number no live key can have. */
static ss_code parse_etag(const char *etag, int64_t *out, ss_error *err)
{
    char *end = NULL;
    long long v = strtoll(etag, &end, 10);
    if (!*etag || *end || v < 0 || etag[0] == '+' || etag[0] == ' ')
        return ss_error_set(err, SS_ETAG_INVALID, "etag %s is not a revision number", etag);
    *out = v;
    return SS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Value envelope (protobuf, hand-encoded: three fields)                                       */
/* ------------------------------------------------------------------------------------------ */

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static bool get_varint(const unsigned char *p, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= len) return false;
        unsigned char b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Returns a malloc'd envelope: data, ts = now, ttl when ttl_seconds > 0. */
static unsigned char *envelope_encode(const void *data, size_t len, int64_t ttl_seconds,
                                      size_t *out_len)
{
    int64_t now_ms = ss_now_unix_ms();
    unsigned char ts[24], dur[12];
    size_t ts_len = 0, dur_len = 0;
    ts[ts_len++] = 0x08;
    ts_len += put_varint(ts + ts_len, (uint64_t)(now_ms / 1000));
    if (now_ms % 1000) {
        ts[ts_len++] = 0x10;
        ts_len += put_varint(ts + ts_len, (uint64_t)(now_ms % 1000) * 1000000u);
    }
    if (ttl_seconds > 0) {
        dur[dur_len++] = 0x08;
        dur_len += put_varint(dur + dur_len, (uint64_t)ttl_seconds);
    }
    unsigned char *buf = malloc(len + 64);
    if (!buf) return NULL;
    size_t n = 0;
    if (len > 0) {
        buf[n++] = 0x0a;
        n += put_varint(buf + n, len);
        memcpy(buf + n, data, len);
        n += len;
    }
    buf[n++] = 0x12;
    n += put_varint(buf + n, ts_len);
    memcpy(buf + n, ts, ts_len);
    n += ts_len;
    if (dur_len) {
        buf[n++] = 0x1a;
        n += put_varint(buf + n, dur_len);
        memcpy(buf + n, dur, dur_len);
        n += dur_len;
    }
    *out_len = n;
    return buf;
}

/* Finds field 1 (data) in an envelope. False when the bytes are not a v2 envelope. */
static bool envelope_decode(const unsigned char *p, size_t len, const unsigned char **data,
                            size_t *data_len)
{
    size_t pos = 0;
    *data = p;
    *data_len = 0;
    while (pos < len) {
        uint64_t tag, v;
        if (!get_varint(p, len, &pos, &tag)) return false;
        switch (tag & 7) {
        case 0:
            if (!get_varint(p, len, &pos, &v)) return false;
            break;
        case 1:
            if (len - pos < 8) return false;
            pos += 8;
            break;
        case 2:
            if (!get_varint(p, len, &pos, &v) || v > len - pos) return false;
            if (tag >> 3 == 1) {
                *data = p + pos;
                *data_len = (size_t)v;
            }
            pos += (size_t)v;
            break;
        case 5:
            if (len - pos < 4) return false;
            pos += 4;
            break;
        default:
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Calls                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* gRPC status codes as the gateway reports them in "code". */
enum {
    GRPC_CANCELED = 1, /* e.g. a member shutting down: "the client connection is closing" */
    GRPC_INVALID_ARGUMENT = 3,
    GRPC_DEADLINE = 4,
    GRPC_NOT_FOUND = 5,
    GRPC_DENIED = 7,
    GRPC_EXHAUSTED = 8,
    GRPC_UNAVAILABLE = 14,
    GRPC_UNAUTHENTICATED = 16
};

static ss_code map_error(long status, const json_t *body, ss_error *err)
{
    const char *msg = json_string_value(json_object_get(body, "message"));
    if (!msg) msg = json_string_value(json_object_get(body, "error"));
    if (!msg) msg = "no error text";
    int64_t code = jint(body, "code");
    ss_code c = SS_BACKEND;
    if (strstr(msg, "too large") || strstr(msg, "larger than max") ||
        strstr(msg, "too many operations"))
        c = SS_TOO_LARGE;
    else if (code == GRPC_DEADLINE)
        c = SS_TIMEOUT;
    else if (code == GRPC_UNAVAILABLE || code == GRPC_CANCELED)
        c = SS_UNAVAILABLE;
    else if (code == GRPC_EXHAUSTED && strstr(msg, "too many requests"))
        c = SS_UNAVAILABLE;
    return ss_error_set(err, c, "%s (HTTP %ld)", msg, status);
}

static ss_code authenticate(etcd *e, const char *endpoint, ss_error *err);

/*
 * POSTs body to path on the current endpoint, moving on to the next one when a member cannot
 * be reached. `idempotent` calls (reads, lease grants) also move on after a failure that may have
 * reached the server, since repeating them is harmless; writes then report the error instead.
 */
static ss_code etcd_call(etcd *e, const char *path, const json_t *body, bool idempotent,
                         json_t **out, ss_error *caller_err)
{
    /* The error text decides failover below, so keep one even when the caller passes none. */
    ss_error local;
    ss_error *err = caller_err ? caller_err : &local;
    *out = NULL;
    size_t start = atomic_load(&e->current);
    ss_code code = SS_UNAVAILABLE;
    bool reauthed = false;
    for (size_t attempt = 0; attempt < e->endpoint_count; attempt++) {
        size_t idx = (start + attempt) % e->endpoint_count;
        char url[1024];
        snprintf(url, sizeof url, "%s%s", e->endpoints[idx], path);
        char auth[1100];
        const char *hdrs[2] = {NULL, NULL};
        unsigned gen = 0;
        if (e->username) {
            pthread_mutex_lock(&e->token_lock);
            if (e->token) {
                snprintf(auth, sizeof auth, "Authorization: %s", e->token);
                hdrs[0] = auth;
            }
            gen = e->token_gen;
            pthread_mutex_unlock(&e->token_lock);
        }
        long status = 0;
        bool not_sent = false;
        json_t *resp = NULL;
        code = ss_http_post_json(e->http, url, hdrs, body, &status, &resp, &not_sent, err);
        if (code != SS_OK) {
            if (code == SS_NOMEM) return code;
            if (e->endpoint_count > 1) atomic_store(&e->current, (idx + 1) % e->endpoint_count);
            if (not_sent || idempotent) continue;
            return code;
        }
        if (status == 200) {
            atomic_store(&e->current, idx);
            *out = resp;
            return SS_OK;
        }
        int64_t grpc = jint(resp, "code");
        if (grpc == GRPC_UNAUTHENTICATED && e->username && !reauthed) {
            /* Tokens expire (simple tokens after 5 minutes idle): get a new one, once. */
            json_decref(resp);
            reauthed = true;
            pthread_mutex_lock(&e->token_lock);
            bool stale = gen == e->token_gen;
            pthread_mutex_unlock(&e->token_lock);
            if (stale && (code = authenticate(e, e->endpoints[idx], err)) != SS_OK) return code;
            attempt--;
            continue;
        }
        code = map_error(status, resp, err);
        json_decref(resp);
        /* A member shutting down answers through its gateway that its own gRPC connection is
         * closing: the request never reached etcd, so another member may take it. */
        bool closing = strstr(err->message, "connection is closing") != NULL;
        if (closing ||
            (grpc == GRPC_UNAVAILABLE && (idempotent || strstr(err->message, "leader")))) {
            if (e->endpoint_count > 1) atomic_store(&e->current, (idx + 1) % e->endpoint_count);
            continue;
        }
        return code;
    }
    return code;
}

static ss_code authenticate(etcd *e, const char *endpoint, ss_error *err)
{
    json_t *body = json_pack("{s:s,s:s}", "name", e->username, "password", e->password);
    if (!body) return ss_error_set(err, SS_NOMEM, "out of memory");
    char url[1024];
    snprintf(url, sizeof url, "%s/v3/auth/authenticate", endpoint);
    long status = 0;
    json_t *resp = NULL;
    ss_code code = ss_http_post_json(e->http, url, NULL, body, &status, &resp, NULL, err);
    json_decref(body);
    if (code != SS_OK) return code;
    if (status != 200) {
        code = map_error(status, resp, err);
        json_decref(resp);
        return code;
    }
    const char *tok = json_string_value(json_object_get(resp, "token"));
    char *copy = tok ? strdup(tok) : NULL;
    json_decref(resp);
    if (!copy) return ss_error_set(err, SS_BACKEND, "authentication returned no token");
    pthread_mutex_lock(&e->token_lock);
    free(e->token);
    e->token = copy;
    e->token_gen++;
    pthread_mutex_unlock(&e->token_lock);
    return SS_OK;
}

static ss_code grant_lease(etcd *e, int64_t ttl, int64_t *id, ss_error *err)
{
    json_t *body = json_pack("{s:o}", "TTL", jint_str(ttl));
    if (!body) return ss_error_set(err, SS_NOMEM, "out of memory");
    json_t *resp = NULL;
    ss_code code = etcd_call(e, "/v3/lease/grant", body, true, &resp, err);
    json_decref(body);
    if (code != SS_OK) return code;
    *id = jint(resp, "ID");
    const char *lerr = json_string_value(json_object_get(resp, "error"));
    if (lerr && *lerr)
        code = ss_error_set(err, SS_BACKEND, "lease grant: %s", lerr);
    else if (*id == 0)
        code = ss_error_set(err, SS_BACKEND, "lease grant returned no ID");
    json_decref(resp);
    return code;
}

/* The key's expiry from its lease; 0 when the lease is gone or has no expiry. */
static ss_code lease_expiry(etcd *e, int64_t lease, int64_t *expires_ms, ss_error *err)
{
    *expires_ms = 0;
    json_t *body = json_pack("{s:o}", "ID", jint_str(lease));
    if (!body) return ss_error_set(err, SS_NOMEM, "out of memory");
    json_t *resp = NULL;
    int64_t before = ss_now_unix_ms();
    ss_code code = etcd_call(e, "/v3/lease/timetolive", body, true, &resp, err);
    json_decref(body);
    if (code != SS_OK) return code;
    int64_t ttl = jint(resp, "TTL");
    if (ttl > 0) *expires_ms = before + ttl * 1000;
    json_decref(resp);
    return SS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Request pieces                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* {"request_put": {...}} for one SET; lease 0 = none. */
static json_t *put_request(const etcd *e, const ss_op *op, int64_t lease)
{
    size_t env_len = 0;
    unsigned char *env = envelope_encode(
        op->value, op->value_len, op->ttl_mode == SS_TTL_SECONDS ? op->ttl_seconds : 0, &env_len);
    if (!env) return NULL;
    json_t *put = json_pack("{s:o,s:o}", "key", full_key_json(e, op->key, op->key_len), "value",
                            b64_json(env, env_len));
    free(env);
    if (put && lease) json_object_set_new(put, "lease", jint_str(lease));
    return put ? json_pack("{s:o}", "request_put", put) : NULL;
}

static json_t *delete_request(const etcd *e, const ss_op *op)
{
    return json_pack("{s:{s:o}}", "request_delete_range", "key",
                     full_key_json(e, op->key, op->key_len));
}

/* The compare for an op's condition (MATCH: mod_revision; ABSENT: version 0); NULL for ANY. */
static json_t *compare_for(const etcd *e, const ss_op *op, int64_t rev)
{
    /* A missing key compares as mod_revision 0, so ETag "0" must never match: version < 0
     * is a compare that always fails. */
    if (op->cond == SS_COND_MATCH && rev == 0)
        return json_pack("{s:s,s:s,s:o,s:s}", "result", "LESS", "target", "VERSION", "key",
                         full_key_json(e, op->key, op->key_len), "version", "0");
    if (op->cond == SS_COND_MATCH)
        return json_pack("{s:s,s:s,s:o,s:o}", "result", "EQUAL", "target", "MOD", "key",
                         full_key_json(e, op->key, op->key_len), "mod_revision", jint_str(rev));
    return json_pack("{s:s,s:s,s:o,s:s}", "result", "EQUAL", "target", "VERSION", "key",
                     full_key_json(e, op->key, op->key_len), "version", "0");
}

/* Distinct TTLs in one batch share one lease, so a bulk of TTL'd items costs one grant. */
typedef struct lease_cache {
    int64_t ttl[8];
    int64_t id[8];
    size_t n;
} lease_cache;

static ss_code lease_for(etcd *e, lease_cache *lc, const ss_op *op, int64_t *id, ss_error *err)
{
    *id = 0;
    if (op->kind != SS_DRV_SET || op->ttl_mode != SS_TTL_SECONDS) return SS_OK;
    for (size_t i = 0; i < lc->n; i++)
        if (lc->ttl[i] == op->ttl_seconds) {
            *id = lc->id[i];
            return SS_OK;
        }
    ss_code code = grant_lease(e, op->ttl_seconds, id, err);
    if (code == SS_OK && lc->n < 8) {
        lc->ttl[lc->n] = op->ttl_seconds;
        lc->id[lc->n++] = *id;
    }
    return code;
}

static ss_value *kv_to_value(etcd *e, const json_t *kv, ss_code *code, ss_error *err)
{
    const char *v64 = json_string_value(json_object_get(kv, "value"));
    char *raw = NULL;
    size_t raw_len = 0;
    if (!ss_base64_decode_alloc(&raw, &raw_len, v64 ? v64 : "", v64 ? strlen(v64) : 0)) {
        *code = ss_error_set(err, SS_BACKEND, "value is not valid base64");
        return NULL;
    }
    const unsigned char *data;
    size_t data_len;
    if (!envelope_decode((const unsigned char *)raw, raw_len, &data, &data_len)) {
        free(raw);
        *code = ss_error_set(err, SS_BACKEND,
                             "value is not in the Dapr etcd v2 layout (protobuf Value)");
        return NULL;
    }
    char etag[32];
    snprintf(etag, sizeof etag, "%lld", (long long)jint(kv, "mod_revision"));
    ss_value *val = ss_value_new(data, data_len, etag);
    free(raw);
    if (!val) {
        *code = ss_error_set(err, SS_NOMEM, "out of memory");
        return NULL;
    }
    int64_t lease = jint(kv, "lease");
    if (lease) {
        int64_t exp = 0;
        *code = lease_expiry(e, lease, &exp, err);
        if (*code == SS_OK && exp > 0) *code = ss_value_set_expiry(val, exp);
        if (*code != SS_OK) {
            ss_value_free(val);
            return NULL;
        }
    }
    *code = SS_OK;
    return val;
}

/* ------------------------------------------------------------------------------------------ */
/* Open / close / ping                                                                         */
/* ------------------------------------------------------------------------------------------ */

static void etcd_close(void *self)
{
    etcd *e = self;
    for (size_t i = 0; i < e->endpoint_count; i++) free(e->endpoints[i]);
    free(e->endpoints);
    ss_http_free(e->http);
    free(e->prefix);
    free(e->username);
    free(e->password);
    free(e->token);
    if (e->ctx) pthread_mutex_destroy(&e->token_lock);
    memset(e, 0, sizeof *e);
}

static ss_code parse_endpoints(etcd *e, const char *list, bool tls, ss_error *err)
{
    size_t cap = 1;
    for (const char *p = list; *p; p++) cap += *p == ',';
    e->endpoints = calloc(cap, sizeof *e->endpoints);
    if (!e->endpoints) return ss_error_set(err, SS_NOMEM, "out of memory");
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '/')) b--;
        if (b > a) {
            bool has_scheme = false;
            for (const char *q = a; q + 3 <= b && !has_scheme; q++)
                has_scheme = q[0] == ':' && q[1] == '/' && q[2] == '/';
            const char *scheme = has_scheme ? "" : tls ? "https://" : "http://";
            size_t n = strlen(scheme) + (size_t)(b - a) + 1;
            char *ep = malloc(n);
            if (!ep) return ss_error_set(err, SS_NOMEM, "out of memory");
            snprintf(ep, n, "%s%.*s", scheme, (int)(b - a), a);
            e->endpoints[e->endpoint_count++] = ep;
        }
        p = *end ? end + 1 : end;
    }
    if (e->endpoint_count == 0)
        return ss_error_set(err, SS_INVALID, "property endpoints: no endpoint in \"%s\"", list);
    return SS_OK;
}

static ss_code etcd_ping(void *self, ss_error *err);

static ss_code etcd_open(void *self, ss_ctx *ctx, ss_error *err)
{
    etcd *e = self;
    if (pthread_mutex_init(&e->token_lock, NULL) != 0)
        return ss_error_set(err, SS_NOMEM, "cannot create a mutex");
    e->ctx = ctx;
    ss_code code;
    bool tls = false;
    int64_t max_ops = DEFAULT_MAX_TXN_OPS, timeout_ms = 5000;
    if ((code = ss_prop_bool(ctx, "tlsEnable", &tls, err)) != SS_OK ||
        (code = ss_prop_int(ctx, "maxTxnOps", 1, 1000000, &max_ops, err)) != SS_OK ||
        (code = ss_prop_duration_ms(ctx, "timeout", 1000, &timeout_ms, err)) != SS_OK)
        goto fail;
    if (timeout_ms <= 0) {
        code = ss_error_set(err, SS_INVALID, "property timeout: must be positive");
        goto fail;
    }
    e->max_txn_ops = (size_t)max_ops;
    const char *eps = ss_prop(ctx, "endpoints");
    if ((code = parse_endpoints(e, eps ? eps : "", tls, err)) != SS_OK) goto fail;
    const char *prefix = ss_prop(ctx, "keyPrefixPath");
    e->prefix = strdup(prefix ? prefix : "");
    if (!e->prefix) goto oom;
    e->prefix_len = strlen(e->prefix);

    const char *ca = ss_prop(ctx, "ca"), *cert = ss_prop(ctx, "cert"), *key = ss_prop(ctx, "key");
    if (tls && (!cert || !*cert) != (!key || !*key)) {
        code = ss_error_set(err, SS_INVALID, "properties cert and key: give both or neither");
        goto fail;
    }
    ss_http_options ho = {.connect_timeout_ms = timeout_ms < 5000 ? timeout_ms : 5000,
                          .timeout_ms = timeout_ms,
                          .ca = tls ? ca : NULL,
                          .cert = tls ? cert : NULL,
                          .key = tls ? key : NULL};
    e->http = ss_http_new(&ho);
    if (!e->http) goto oom;

    const char *user = ss_prop(ctx, "username"), *pass = ss_prop(ctx, "password");
    if (user && *user) {
        e->username = strdup(user);
        e->password = strdup(pass ? pass : "");
        if (!e->username || !e->password) goto oom;
        code = SS_UNAVAILABLE;
        for (size_t i = 0; i < e->endpoint_count && code != SS_OK; i++) {
            code = authenticate(e, e->endpoints[i], err);
            if (code == SS_OK)
                atomic_store(&e->current, i);
            else if (code != SS_UNAVAILABLE && code != SS_TIMEOUT)
                break;
        }
        if (code != SS_OK) goto fail;
    }
    /* Connect now so a wrong endpoint fails at open, as Dapr's Init does. */
    if ((code = etcd_ping(e, err)) != SS_OK) goto fail;
    return SS_OK;
oom:
    code = ss_error_set(err, SS_NOMEM, "out of memory");
fail:
    etcd_close(e);
    return code;
}

static ss_code etcd_ping(void *self, ss_error *err)
{
    etcd *e = self;
    json_t *body = json_pack("{s:s,s:b}", "key", "aGVhbHRo", "count_only", 1); /* "health" */
    if (!body) return ss_error_set(err, SS_NOMEM, "out of memory");
    json_t *resp = NULL;
    ss_code code = etcd_call(e, "/v3/kv/range", body, true, &resp, err);
    json_decref(body);
    json_decref(resp);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Single operations                                                                           */
/* ------------------------------------------------------------------------------------------ */

static ss_code etcd_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    etcd *e = self;
    *out = NULL;
    json_t *body = json_pack("{s:o}", "key", full_key_json(e, op->key, op->key_len));
    if (!body) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (op->consistency == SS_CONSISTENCY_EVENTUAL)
        json_object_set_new(body, "serializable", json_true());
    json_t *resp = NULL;
    ss_code code = etcd_call(e, "/v3/kv/range", body, true, &resp, err);
    json_decref(body);
    if (code != SS_OK) return code;
    const json_t *kv = json_array_get(json_object_get(resp, "kvs"), 0);
    if (kv) *out = kv_to_value(e, kv, &code, err);
    json_decref(resp);
    return code;
}

/* Runs a one-op txn guarded by the op's condition: SS_OK, or ETAG_MISMATCH when it failed. */
static ss_code cond_txn(etcd *e, const ss_op *op, json_t *request, int64_t *rev, ss_error *err)
{
    int64_t want = 0;
    ss_code code = SS_OK;
    if (op->cond == SS_COND_MATCH && (code = parse_etag(op->etag, &want, err)) != SS_OK) {
        json_decref(request);
        return code;
    }
    json_t *body =
        json_pack("{s:[o],s:[o]}", "compare", compare_for(e, op, want), "success", request);
    if (!body) return ss_error_set(err, SS_NOMEM, "out of memory");
    json_t *resp = NULL;
    code = etcd_call(e, "/v3/kv/txn", body, false, &resp, err);
    json_decref(body);
    if (code != SS_OK) return code;
    if (!json_is_true(json_object_get(resp, "succeeded"))) {
        code = op->cond == SS_COND_MATCH
                   ? ss_error_set(err, SS_ETAG_MISMATCH, "mod_revision is not %s", op->etag)
                   : ss_error_set(err, SS_ETAG_MISMATCH, "key already exists");
    }
    *rev = jint(json_object_get(resp, "header"), "revision");
    json_decref(resp);
    return code;
}

static ss_code etcd_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    etcd *e = self;
    int64_t lease = 0, rev = 0;
    ss_code code;
    if (op->ttl_mode == SS_TTL_SECONDS &&
        (code = grant_lease(e, op->ttl_seconds, &lease, err)) != SS_OK)
        return code;
    json_t *req = put_request(e, op, lease);
    if (!req) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (op->cond == SS_COND_ANY) {
        json_t *put = json_incref(json_object_get(req, "request_put"));
        json_decref(req);
        json_t *resp = NULL;
        code = etcd_call(e, "/v3/kv/put", put, false, &resp, err);
        json_decref(put);
        if (code != SS_OK) return code;
        rev = jint(json_object_get(resp, "header"), "revision");
        json_decref(resp);
    } else if ((code = cond_txn(e, op, req, &rev, err)) != SS_OK) {
        return code;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)rev);
    *etag_out = ss_strdup(buf);
    return *etag_out ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
}

static ss_code etcd_del(void *self, const ss_op *op, ss_error *err)
{
    etcd *e = self;
    json_t *req = delete_request(e, op);
    if (!req) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (op->cond == SS_COND_ANY) {
        json_t *del = json_incref(json_object_get(req, "request_delete_range"));
        json_decref(req);
        json_t *resp = NULL;
        ss_code code = etcd_call(e, "/v3/kv/deleterange", del, false, &resp, err);
        json_decref(del);
        json_decref(resp);
        return code;
    }
    int64_t rev;
    return cond_txn(e, op, req, &rev, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Bulk: one txn per chunk                                                                     */
/* ------------------------------------------------------------------------------------------ */

static void item_fail(ss_item_result *it, ss_code code, const ss_error *err)
{
    it->code = code;
    it->error = ss_strdup(err && err->message[0] ? err->message : ss_code_text(code));
}

static ss_code etcd_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                             ss_error *err)
{
    etcd *e = self;
    for (size_t base = 0; base < count; base += e->max_txn_ops) {
        size_t n = count - base < e->max_txn_ops ? count - base : e->max_txn_ops;
        json_t *success = json_array();
        json_t *body = json_pack("{s:o}", "success", success);
        if (!body) return ss_error_set(err, SS_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            const ss_op *op = &ops[base + i];
            if (json_array_append_new(success, json_pack("{s:{s:o}}", "request_range", "key",
                                                         full_key_json(e, op->key, op->key_len)))) {
                json_decref(body);
                return ss_error_set(err, SS_NOMEM, "out of memory");
            }
        }
        json_t *resp = NULL;
        ss_error cerr = {0};
        ss_code code = etcd_call(e, "/v3/kv/txn", body, true, &resp, &cerr);
        json_decref(body);
        const json_t *responses = json_object_get(resp, "responses");
        for (size_t i = 0; i < n; i++) {
            ss_item_result *it = &out->items[base + i];
            if (code != SS_OK) {
                item_fail(it, code, &cerr);
                continue;
            }
            const json_t *r = json_object_get(json_array_get(responses, i), "response_range");
            const json_t *kv = json_array_get(json_object_get(r, "kvs"), 0);
            ss_error ierr = {0};
            ss_code ic = SS_OK;
            if (kv) it->value = kv_to_value(e, kv, &ic, &ierr);
            if (ic != SS_OK) item_fail(it, ic, &ierr);
        }
        json_decref(resp);
        if (code == SS_NOMEM) return ss_error_set(err, code, "out of memory");
    }
    return SS_OK;
}

/*
 * Bulk set/delete: each item becomes a nested txn (its own compare, its own success flag) inside
 * one outer txn per chunk, so per-item ETag failures neither stop nor undo the others. etcd
 * rejects the same key written twice in one txn, so a repeated key starts a new chunk.
 */
static ss_code bulk_write(etcd *e, const ss_op *ops, size_t count, ss_results *out, ss_error *err)
{
    /* etcd lets a nested txn use only the operations its parent leaves (maxTxnOps - parent's). */
    size_t chunk = e->max_txn_ops - 1;
    if (chunk == 0) {
        for (size_t i = 0; i < count; i++) {
            ss_error ierr = {0};
            ss_code ic = ops[i].kind == SS_DRV_SET
                             ? etcd_set(e, &ops[i], &out->items[i].etag, &ierr)
                             : etcd_del(e, &ops[i], &ierr);
            if (ic != SS_OK) item_fail(&out->items[i], ic, &ierr);
        }
        return SS_OK;
    }
    lease_cache lc = {0};
    size_t base = 0;
    while (base < count) {
        size_t n = 0;
        while (base + n < count && n < chunk) {
            const ss_op *op = &ops[base + n];
            bool dup = false;
            for (size_t j = base; j < base + n && !dup; j++)
                dup = ops[j].key_len == op->key_len && !memcmp(ops[j].key, op->key, op->key_len);
            if (dup) break;
            n++;
        }
        json_t *success = json_array();
        json_t *body = json_pack("{s:o}", "success", success);
        if (!body) return ss_error_set(err, SS_NOMEM, "out of memory");
        bool *sent = calloc(n, sizeof *sent);
        if (!sent) {
            json_decref(body);
            return ss_error_set(err, SS_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            const ss_op *op = &ops[base + i];
            ss_item_result *it = &out->items[base + i];
            ss_error ierr = {0};
            int64_t rev = 0, lease = 0;
            ss_code ic = SS_OK;
            if (op->cond == SS_COND_MATCH) ic = parse_etag(op->etag, &rev, &ierr);
            if (ic == SS_OK) ic = lease_for(e, &lc, op, &lease, &ierr);
            if (ic != SS_OK) {
                item_fail(it, ic, &ierr);
                continue;
            }
            json_t *req =
                op->kind == SS_DRV_SET ? put_request(e, op, lease) : delete_request(e, op);
            /* Only conditional items need their own nested txn (for their own outcome); an
             * unconditional one is a plain op, which costs etcd much less. */
            json_t *item = req;
            if (req && op->cond != SS_COND_ANY)
                item = json_pack("{s:{s:[o],s:[o]}}", "request_txn", "compare",
                                 compare_for(e, op, rev), "success", req);
            if (!item || json_array_append_new(success, item)) {
                free(sent);
                json_decref(body);
                return ss_error_set(err, SS_NOMEM, "out of memory");
            }
            sent[i] = true;
        }
        json_t *resp = NULL;
        ss_error cerr = {0};
        ss_code code = json_array_size(success)
                           ? etcd_call(e, "/v3/kv/txn", body, false, &resp, &cerr)
                           : SS_OK;
        json_decref(body);
        int64_t rev = jint(json_object_get(resp, "header"), "revision");
        const json_t *responses = json_object_get(resp, "responses");
        size_t r = 0;
        for (size_t i = 0; i < n; i++) {
            if (!sent[i]) continue;
            const ss_op *op = &ops[base + i];
            ss_item_result *it = &out->items[base + i];
            const json_t *tr = json_object_get(json_array_get(responses, r++), "response_txn");
            if (code != SS_OK) {
                item_fail(it, code, &cerr);
            } else if (op->cond != SS_COND_ANY && !json_is_true(json_object_get(tr, "succeeded"))) {
                ss_error ierr = {0};
                item_fail(it,
                          ss_error_set(&ierr, SS_ETAG_MISMATCH,
                                       op->cond == SS_COND_MATCH ? "mod_revision differs"
                                                                 : "key already exists"),
                          &ierr);
            } else if (op->kind == SS_DRV_SET) {
                char buf[32];
                snprintf(buf, sizeof buf, "%lld", (long long)rev);
                it->etag = ss_strdup(buf);
                if (!it->etag) item_fail(it, SS_NOMEM, NULL);
            }
        }
        free(sent);
        json_decref(resp);
        base += n;
    }
    return SS_OK;
}

static ss_code etcd_bulk_set(void *self, const ss_op *ops, size_t count, ss_results *out,
                             ss_error *err)
{
    return bulk_write(self, ops, count, out, err);
}

static ss_code etcd_bulk_delete(void *self, const ss_op *ops, size_t count, ss_results *out,
                                ss_error *err)
{
    return bulk_write(self, ops, count, out, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Transactions                                                                                */
/* ------------------------------------------------------------------------------------------ */

/*
 * One etcd txn: every condition as a compare against the state before the transaction, then the
 * writes. etcd refuses two writes to one key in a txn, so writes to the same key are collapsed
 * to the last one (the final state is the same). A condition on a key that an earlier op of the
 * same transaction already wrote is decided here, as applying in order would decide it: after a
 * put no caller-known ETag can match and the key exists; after a delete the key is absent.
 */
static ss_code etcd_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                             size_t metadata_count, ss_error *err)
{
    etcd *e = self;
    if (count == 0) return SS_OK;
    lease_cache lc = {0};
    json_t *compare = json_array(), *success = json_array();
    json_t *body = json_pack("{s:o,s:o}", "compare", compare, "success", success);
    if (!body) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code code = SS_OK;
    for (size_t i = 0; i < count && code == SS_OK; i++) {
        const ss_op *op = &ops[i];
        int64_t rev = 0;
        if (op->cond == SS_COND_MATCH && (code = parse_etag(op->etag, &rev, err)) != SS_OK) {
            code = ss_error_set_op(err, code, i, op, "etag %s is not a revision number", op->etag);
            break;
        }
        /* Was this key written by an earlier op? Then decide its condition now. */
        const ss_op *prev = NULL;
        for (size_t j = i; j-- > 0 && !prev;)
            if (ops[j].key_len == op->key_len && !memcmp(ops[j].key, op->key, op->key_len))
                prev = &ops[j];
        if (prev && op->cond == SS_COND_MATCH) {
            code = ss_error_set_op(err, SS_ETAG_MISMATCH, i, op,
                                   "written earlier in this transaction, so etag %s cannot match",
                                   op->etag);
            break;
        }
        if (prev && op->cond == SS_COND_ABSENT && prev->kind == SS_DRV_SET) {
            code = ss_error_set_op(err, SS_ETAG_MISMATCH, i, op,
                                   "created earlier in this transaction");
            break;
        }
        if (!prev && op->cond != SS_COND_ANY &&
            json_array_append_new(compare, compare_for(e, op, rev))) {
            code = ss_error_set(err, SS_NOMEM, "out of memory");
            break;
        }
        /* Only the last write to a key goes into the txn. */
        bool later = false;
        for (size_t j = i + 1; j < count && !later; j++)
            later = ops[j].key_len == op->key_len && !memcmp(ops[j].key, op->key, op->key_len);
        if (later) continue;
        int64_t lease = 0;
        if ((code = lease_for(e, &lc, op, &lease, err)) != SS_OK) break;
        json_t *req = op->kind == SS_DRV_SET ? put_request(e, op, lease) : delete_request(e, op);
        if (!req || json_array_append_new(success, req))
            code = ss_error_set(err, SS_NOMEM, "out of memory");
    }
    if (code != SS_OK) {
        json_decref(body);
        return code;
    }
    json_t *resp = NULL;
    code = etcd_call(e, "/v3/kv/txn", body, false, &resp, err);
    json_decref(body);
    if (code != SS_OK) return code;
    bool ok = json_is_true(json_object_get(resp, "succeeded"));
    json_decref(resp);
    if (ok) return SS_OK;
    /* Name the key whose condition failed: the txn reports only that one failed. */
    for (size_t i = 0; i < count; i++) {
        if (ops[i].cond == SS_COND_ANY) continue;
        ss_value *cur = NULL;
        ss_op g = ops[i];
        g.kind = SS_DRV_GET;
        g.consistency = SS_CONSISTENCY_STRONG;
        ss_error gerr = {0};
        if (etcd_get(e, &g, &cur, &gerr) != SS_OK) continue;
        bool bad = ops[i].cond == SS_COND_ABSENT ? cur != NULL
                                                 : !cur || strcmp(cur->etag, ops[i].etag) != 0;
        ss_value_free(cur);
        if (bad)
            return ss_error_set_op(err, SS_ETAG_MISMATCH, i, &ops[i], "%s",
                                   ops[i].cond == SS_COND_ABSENT ? "already exists"
                                                                 : "etag mismatch");
    }
    return ss_error_set(err, SS_ETAG_MISMATCH, "a condition of the transaction failed");
}

/* ------------------------------------------------------------------------------------------ */
/* Registration                                                                                */
/* ------------------------------------------------------------------------------------------ */

static const ss_property etcd_props[] = {
    {"endpoints", true, false, NULL,
     "comma-separated etcd client URLs or host:port; calls fail over to the next"},
    {"keyPrefixPath", false, false, "", "prefix of every key (joined with \"/\", as Dapr)"},
    {"tlsEnable", false, false, "false", "use https with ca/cert/key"},
    {"ca", false, false, NULL, "CA certificate: PEM text or a file path"},
    {"cert", false, false, NULL, "client certificate: PEM text or a file path"},
    {"key", false, true, NULL, "client private key: PEM text or a file path"},
    {"maxTxnOps", false, false, "128", "most operations in one transaction (etcd --max-txn-ops)"},
    {"username", false, false, NULL, "etcd user (auth enabled)"},
    {"password", false, true, NULL, "etcd user's password"},
    {"timeout", false, false, "5s", "per-request timeout"},
};

/* maxTxnOps is a property (it must match the server's --max-txn-ops), so the transaction limit
 * belongs to the instance; the core answers TOO_LARGE above it. */
static void etcd_features(void *self, ss_features *out)
{
    const etcd *e = self;
    out->max_tx_ops = e->max_txn_ops;
}

const ss_driver ss_driver_etcd = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "etcd",
            .aliases = NULL,
            .version = "v2",
            .summary = "etcd v3 through its JSON gateway; Dapr etcd v2 layout",
            .features = {.flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE |
                                  SS_FEATURE_TRANSACTIONAL | SS_FEATURE_TTL |
                                  SS_FEATURE_BULK_NATIVE,
                         .max_tx_ops = DEFAULT_MAX_TXN_OPS},
            .properties = etcd_props,
            .property_count = sizeof etcd_props / sizeof etcd_props[0],
        },
    .instance_size = sizeof(etcd),
    .open = etcd_open,
    .close = etcd_close,
    .ping = etcd_ping,
    .get = etcd_get,
    .set = etcd_set,
    .del = etcd_del,
    .bulk_get = etcd_bulk_get,
    .bulk_set = etcd_bulk_set,
    .bulk_delete = etcd_bulk_delete,
    .transact = etcd_transact,
    .features = etcd_features,
};

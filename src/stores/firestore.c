/*
 * gcp.firestore driver: Cloud Firestore in Datastore mode through the Datastore REST API v1
 * (lookup, beginTransaction, commit, rollback), over libcurl.
 *
 * Layout (compatible with Dapr's gcp.firestore component): one entity per key, kind
 * `entity_kind` (default "DaprState"), key name = the state key, property "Value" holding the
 * value as a string (excluded from indexes when `noindex`). Beyond Dapr:
 *   - ETag = the entity's version. Conditional single writes are one non-transactional commit
 *     whose mutation carries baseVersion: Datastore reports conflictDetected per mutation
 *     (baseVersion 0 = "must not exist", as the emulator honours it).
 *   - Values that are not valid UTF-8 text (or contain NUL) go into "Value" as a blobValue;
 *     values over 1500 bytes are never indexed (Datastore's limit for indexed strings).
 *   - TTL: a timestampValue property "ttlExpireTime" (unindexed); an expired entity is invisible
 *     to reads and treated as absent by first-write. A Datastore TTL policy on that property
 *     makes Google delete such entities.
 *   - Transactions: beginTransaction, one lookup of every key inside it, the conditions checked
 *     in order, then one transactional commit (optimistic: a concurrent change aborts the
 *     commit, and the whole transaction is retried).
 *   - Key names Datastore cannot hold (not UTF-8, the reserved __*__ form, or beginning with
 *     "~ss~") are stored as "~ss~" + base64url(key).
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "statestore/driver.h"
#include "support/base64.h"
#include "support/google_auth.h"
#include "support/http.h"
#include "support/utf8.h"

#define DEFAULT_KIND      "DaprState"
#define VALUE_PROP        "Value"
#define EXPIRY_PROP       "ttlExpireTime"
#define SALT_PROP         "ssWriteId"
#define MAX_MUTATIONS     500  /* Datastore's limit per commit */
#define MAX_LOOKUP        1000 /* Datastore's limit per lookup */
#define MAX_INDEXED_BYTES 1500
#define MAX_VALUE_LEN     1000000 /* the entity limit is 1 MiB; leave room for key and TTL */
#define MAX_KEY_LEN       1024    /* encoded names must stay under Datastore's 1500 bytes */
#define TX_ATTEMPTS       5
#define KEY_MARK          "~ss~"

typedef struct fs {
    ss_ctx *ctx;
    ss_http *http;
    ss_google_auth *auth; /* NULL against the emulator */
    char *project;
    char *kind;
    char *base; /* ".../v1/projects/<project>" */
    bool noindex;
} fs;

/* ------------------------------------------------------------------------------------------ */
/* Keys, values, times                                                                         */

/* The Datastore key name for a state key (malloc'd), see the header comment. */
static char *key_name(const char *key, size_t len)
{
    bool reserved =
        len >= 4 && key[0] == '_' && key[1] == '_' && key[len - 1] == '_' && key[len - 2] == '_';
    bool marked = len >= strlen(KEY_MARK) && memcmp(key, KEY_MARK, strlen(KEY_MARK)) == 0;
    if (!reserved && !marked && ss_utf8_valid(key, len, false)) return strndup(key, len);
    char *b = ss_base64_encode_alloc(key, len);
    if (!b) return NULL;
    size_t n = strlen(KEY_MARK) + strlen(b) + 1;
    char *out = malloc(n);
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

static json_t *key_json(const fs *f, const char *name)
{
    return json_pack("{s:{s:s}, s:[{s:s, s:s}]}", "partitionId", "projectId", f->project, "path",
                     "kind", f->kind, "name", name);
}

/* The key name of an entity/key object in a response. */
static const char *resp_key_name(const json_t *key)
{
    const json_t *path = json_object_get(key, "path");
    return json_string_value(json_object_get(json_array_get(path, 0), "name"));
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* "2026-11-30T00:10:00[.123456]Z" → Unix ms; false when it is not that form. */
static bool parse_rfc3339(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6)
        return false;
    const char *p = s + n;
    int64_t ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3) ms = ms * 10 + (*p - '0');
        for (; digits < 3; digits++) ms *= 10;
    }
    if (*p != 'Z') return false;
    *out =
        ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400) + h * 3600 + mi * 60 + se) * 1000 +
        ms;
    return true;
}

static void format_ts(int64_t unix_ms, char *buf, size_t len)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(unix_ms % 1000));
}

/* The entity for a SET op (key name already computed). NULL on out-of-memory. */
static json_t *entity_json(const fs *f, const ss_op *op, const char *name)
{
    bool unindexed = f->noindex || op->value_len > MAX_INDEXED_BYTES;
    json_t *val;
    if (ss_utf8_valid(op->value, op->value_len, false)) {
        val = json_pack("{s:s%}", "stringValue", (const char *)op->value, op->value_len);
    } else {
        char *b = ss_base64_encode_alloc(op->value, op->value_len);
        val = b ? json_pack("{s:s}", "blobValue", b) : NULL;
        free(b);
    }
    if (!val) return NULL;
    if (unindexed) json_object_set_new(val, "excludeFromIndexes", json_true());
    /* Datastore treats a write of identical properties as a no-op that keeps the version (and
     * skips the baseVersion check); a fresh random salt makes every write a real one. */
    char salt[37];
    ss_uuid4(salt);
    json_t *props = json_pack("{s:o, s:{s:s, s:b}}", VALUE_PROP, val, SALT_PROP, "stringValue",
                              salt, "excludeFromIndexes", 1);
    if (props && op->ttl_mode == SS_TTL_SECONDS) {
        char ts[48];
        format_ts(ss_now_unix_ms() + op->ttl_seconds * 1000, ts, sizeof ts);
        json_object_set_new(props, EXPIRY_PROP,
                            json_pack("{s:s, s:b}", "timestampValue", ts, "excludeFromIndexes", 1));
    }
    return props ? json_pack("{s:o, s:o}", "key", key_json(f, name), "properties", props) : NULL;
}

/* What a looked-up entity holds. */
typedef struct found {
    bool exists; /* present and not expired */
    bool expired;
    int64_t version;
    int64_t expires_ms; /* 0 = never */
} found;

static void parse_found(const json_t *res, found *out)
{
    const json_t *ent = json_object_get(res, "entity");
    const json_t *props = json_object_get(ent, "properties");
    const char *v = json_string_value(json_object_get(res, "version"));
    out->version = v ? strtoll(v, NULL, 10) : 0;
    out->expires_ms = 0;
    const char *ts =
        json_string_value(json_object_get(json_object_get(props, EXPIRY_PROP), "timestampValue"));
    int64_t at;
    if (ts && parse_rfc3339(ts, &at)) out->expires_ms = at;
    out->expired = out->expires_ms && out->expires_ms <= ss_now_unix_ms();
    out->exists = !out->expired;
}

/* The ss_value of a found entity result. */
static ss_code value_of(const json_t *res, const found *fd, ss_value **out, ss_error *err)
{
    const json_t *val =
        json_object_get(json_object_get(json_object_get(res, "entity"), "properties"), VALUE_PROP);
    char etag[32];
    snprintf(etag, sizeof etag, "%lld", (long long)fd->version);
    const json_t *s = json_object_get(val, "stringValue");
    const json_t *b = json_object_get(val, "blobValue");
    ss_value *v = NULL;
    if (json_is_string(s)) {
        v = ss_value_new(json_string_value(s), json_string_length(s), etag);
    } else if (json_is_string(b)) {
        char *raw;
        size_t n;
        if (!ss_base64_decode_alloc(&raw, &n, json_string_value(b), json_string_length(b)))
            return ss_error_set(err, SS_BACKEND, "property %s: bad blobValue", VALUE_PROP);
        v = ss_value_new(raw, n, etag);
        free(raw);
    } else if (!val || json_is_null(json_object_get(val, "nullValue"))) {
        v = ss_value_new("", 0, etag);
    } else {
        return ss_error_set(err, SS_BACKEND, "property %s is neither a string nor a blob",
                            VALUE_PROP);
    }
    if (!v) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (fd->expires_ms && ss_value_set_expiry(v, fd->expires_ms) != SS_OK) {
        ss_value_free(v);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    *out = v;
    return SS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Calls                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* Google's error status names → our codes. */
static ss_code map_error(long http, const char *status, bool *aborted)
{
    if (aborted) *aborted = status && strcmp(status, "ABORTED") == 0;
    if (status) {
        if (!strcmp(status, "ABORTED") || !strcmp(status, "UNAVAILABLE") ||
            !strcmp(status, "RESOURCE_EXHAUSTED") || !strcmp(status, "INTERNAL"))
            return SS_UNAVAILABLE;
        if (!strcmp(status, "DEADLINE_EXCEEDED")) return SS_TIMEOUT;
        if (!strcmp(status, "INVALID_ARGUMENT") && http == 400) return SS_BACKEND;
    }
    if (http == 429 || http >= 500) return http == 504 ? SS_TIMEOUT : SS_UNAVAILABLE;
    return SS_BACKEND;
}

/*
 * POSTs {base}:{method} with body; *out = the parsed 200 answer. Any other answer becomes an
 * error with Google's message; *status_name (may be NULL) receives Google's status ("ABORTED").
 */
static ss_code call(fs *f, const char *method, const json_t *body, json_t **out, char *status_name,
                    size_t status_len, ss_error *err)
{
    *out = NULL;
    if (status_name) status_name[0] = '\0';
    char url[1024];
    snprintf(url, sizeof url, "%s:%s", f->base, method);
    char *auth = NULL;
    if (f->auth) {
        ss_code rc = ss_google_auth_header(f->auth, f->http, &auth, err);
        if (rc != SS_OK) return rc;
    }
    const char *hdrs[] = {auth, NULL};
    long status = 0;
    json_t *resp = NULL;
    ss_code rc =
        ss_http_post_json(f->http, url, auth ? hdrs : NULL, body, &status, &resp, NULL, err);
    free(auth);
    if (rc != SS_OK) return rc;
    if (status == 200 && resp) {
        *out = resp;
        return SS_OK;
    }
    const json_t *e = json_object_get(resp, "error");
    const char *st = json_string_value(json_object_get(e, "status"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (status_name && st) snprintf(status_name, status_len, "%s", st);
    /* A baseVersion above the entity's version is refused as a whole request, not reported
     * as a conflict: for an ETag condition it is still just a mismatch. */
    if (status == 400 && msg && strstr(msg, "base version")) {
        if (status_name) snprintf(status_name, status_len, "%s", "BASE_VERSION");
        rc = ss_error_set(err, SS_ETAG_MISMATCH, "%s", msg);
        json_decref(resp);
        return rc;
    }
    if (status == 401 || status == 403) {
        rc = ss_error_set(err, SS_BACKEND, "%s: authentication failed (HTTP %ld): %s", method,
                          status, msg ? msg : "no message");
    } else {
        rc = ss_error_set(err, map_error(status, st, NULL), "%s: HTTP %ld %s: %s", method, status,
                          st ? st : "", msg ? msg : "no message");
    }
    json_decref(resp);
    return rc;
}

/* Non-transactional commit of `mutations` (stolen), retried while Datastore reports ABORTED. */
static ss_code commit_plain(fs *f, json_t *mutations, json_t **out, char *st, size_t stlen,
                            ss_error *err)
{
    json_t *body = json_pack("{s:s, s:o}", "mode", "NON_TRANSACTIONAL", "mutations", mutations);
    if (!body) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code rc = SS_OK;
    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = call(f, "commit", body, out, st, stlen, err);
        if (rc == SS_OK || strcmp(st, "ABORTED") != 0) break;
    }
    json_decref(body);
    return rc;
}

/* One lookup; `keys` borrowed. */
static ss_code lookup(fs *f, json_t *keys, ss_consistency cons, const char *tx, json_t **out,
                      ss_error *err)
{
    json_t *ro = tx ? json_pack("{s:s}", "transaction", tx)
                    : json_pack("{s:s}", "readConsistency",
                                cons == SS_CONSISTENCY_STRONG ? "STRONG" : "EVENTUAL");
    json_t *body = ro ? json_pack("{s:o, s:O}", "readOptions", ro, "keys", keys) : NULL;
    if (!body) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code rc = call(f, "lookup", body, out, NULL, 0, err);
    json_decref(body);
    return rc;
}

/* The mutation result i of a commit answer: SS_OK (and *version) or ETAG_MISMATCH. */
static ss_code mutation_result(const json_t *resp, size_t i, int64_t *version)
{
    const json_t *r = json_array_get(json_object_get(resp, "mutationResults"), i);
    if (json_is_true(json_object_get(r, "conflictDetected"))) return SS_ETAG_MISMATCH;
    const char *v = json_string_value(json_object_get(r, "version"));
    if (version) *version = v ? strtoll(v, NULL, 10) : 0;
    return SS_OK;
}

/* Parses an ETag as a version: ETAG_INVALID unless decimal digits; a version is >= 1. */
static ss_code parse_etag(const char *etag, int64_t *out, ss_error *err)
{
    char *end;
    if (!etag[0] || etag[0] == '-' || etag[0] == '+' || etag[0] == ' ')
        return ss_error_set(err, SS_ETAG_INVALID, "etag \"%s\" is not a version number", etag);
    errno = 0;
    long long v = strtoll(etag, &end, 10);
    if (*end || errno)
        return ss_error_set(err, SS_ETAG_INVALID, "etag \"%s\" is not a version number", etag);
    *out = v;
    return SS_OK;
}

/*
 * The mutation for one single (non-transactional) SET or DELETE, with its baseVersion:
 * MATCH → the ETag (a missing entity conflicts), ABSENT → 0 (an existing one conflicts).
 * *skip_mismatch is set when the ETag can match nothing (version < 1).
 */
static ss_code op_mutation(fs *f, const ss_op *op, const char *name, json_t **out,
                           bool *skip_mismatch, ss_error *err)
{
    *out = NULL;
    *skip_mismatch = false;
    int64_t base = -1;
    if (op->cond == SS_COND_MATCH) {
        ss_code rc = parse_etag(op->etag, &base, err);
        if (rc != SS_OK) return rc;
        if (base < 1) {
            *skip_mismatch = true;
            return SS_OK;
        }
    } else if (op->cond == SS_COND_ABSENT) {
        base = 0;
    }
    json_t *m;
    if (op->kind == SS_DRV_SET) {
        json_t *ent = entity_json(f, op, name);
        m = ent ? json_pack("{s:o}", "upsert", ent) : NULL;
    } else {
        m = json_pack("{s:o}", "delete", key_json(f, name));
    }
    if (m && base >= 0) {
        char b[32];
        snprintf(b, sizeof b, "%lld", (long long)base);
        json_object_set_new(m, "baseVersion", json_string(b));
    }
    if (!m) return ss_error_set(err, SS_NOMEM, "out of memory");
    *out = m;
    return SS_OK;
}

/*
 * First-write found an entity: it may be an expired one, which counts as absent. Then the write
 * is retried conditioned on that entity's version, so a concurrent writer still wins cleanly.
 */
static ss_code retry_over_expired(fs *f, const ss_op *op, const char *name, int64_t *version,
                                  ss_error *err)
{
    json_t *keys = json_pack("[o]", key_json(f, name));
    json_t *resp = NULL;
    ss_code rc = keys ? lookup(f, keys, SS_CONSISTENCY_STRONG, NULL, &resp, err)
                      : ss_error_set(err, SS_NOMEM, "out of memory");
    json_decref(keys);
    if (rc != SS_OK) return rc;
    const json_t *res = json_array_get(json_object_get(resp, "found"), 0);
    found fd = {0};
    if (res) parse_found(res, &fd);
    json_decref(resp);
    if (!res || !fd.expired) return ss_error_set(err, SS_ETAG_MISMATCH, "key already exists");
    json_t *ent = entity_json(f, op, name);
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)fd.version);
    json_t *muts = ent ? json_pack("[{s:o, s:s}]", "upsert", ent, "baseVersion", b) : NULL;
    if (!muts) return ss_error_set(err, SS_NOMEM, "out of memory");
    char st[64];
    rc = commit_plain(f, muts, &resp, st, sizeof st, err);
    if (rc != SS_OK) return rc;
    rc = mutation_result(resp, 0, version);
    json_decref(resp);
    if (rc != SS_OK) return ss_error_set(err, rc, "key already exists (written concurrently)");
    return SS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Driver slots                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void fs_close(void *self)
{
    fs *f = self;
    ss_http_free(f->http);
    ss_google_auth_free(f->auth);
    free(f->project);
    free(f->kind);
    free(f->base);
}

static ss_code fs_open(void *self, ss_ctx *ctx, ss_error *err)
{
    fs *f = self;
    f->ctx = ctx;
    ss_code rc = ss_prop_bool(ctx, "noindex", &f->noindex, err);
    int64_t timeout_ms = 10000;
    if (rc == SS_OK) rc = ss_prop_duration_ms(ctx, "timeout", 1000, &timeout_ms, err);
    if (rc != SS_OK) return rc;
    const char *project = ss_prop(ctx, "project_id");
    const char *kind = ss_prop(ctx, "entity_kind");
    const char *endpoint = ss_prop(ctx, "endpoint");
    if (!endpoint || !*endpoint) endpoint = getenv("DATASTORE_EMULATOR_HOST");
    const char *pkey = ss_prop(ctx, "private_key");
    f->project = strdup(project);
    f->kind = strdup(kind && *kind ? kind : DEFAULT_KIND);
    char base[512];
    if (endpoint && *endpoint) {
        bool scheme = strstr(endpoint, "://") != NULL;
        size_t el = strlen(endpoint);
        while (el > 0 && endpoint[el - 1] == '/') el--;
        snprintf(base, sizeof base, "%s%.*s/v1/projects/%s", scheme ? "" : "http://", (int)el,
                 endpoint, project);
    } else {
        snprintf(base, sizeof base, "https://datastore.googleapis.com/v1/projects/%s", project);
    }
    f->base = strdup(base);
    ss_http_options ho = {.timeout_ms = (long)timeout_ms};
    f->http = ss_http_new(&ho);
    if (!f->project || !f->kind || !f->base || !f->http) {
        fs_close(f);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    /* Credentials are used whenever they are given (also with a custom endpoint); without
     * them only an emulator can be talked to, as with Google's own client libraries. */
    if (!(endpoint && *endpoint) && (!pkey || !*pkey)) {
        fs_close(f);
        return ss_error_set(err, SS_INVALID,
                            "property private_key: required (with client_email) unless "
                            "endpoint or DATASTORE_EMULATOR_HOST names an emulator");
    }
    if (pkey && *pkey) {
        rc = ss_google_auth_new(&f->auth, ss_prop(ctx, "client_email"), pkey,
                                ss_prop(ctx, "private_key_id"), ss_prop(ctx, "token_uri"),
                                SS_GOOGLE_DATASTORE_SCOPE, err);
        if (rc != SS_OK) {
            fs_close(f);
            return rc;
        }
    }
    return SS_OK;
}

static ss_code fs_ping(void *self, ss_error *err)
{
    fs *f = self;
    char *name = key_name("__ss_ping__", strlen("__ss_ping__"));
    json_t *keys = name ? json_pack("[o]", key_json(f, name)) : NULL;
    free(name);
    if (!keys) return ss_error_set(err, SS_NOMEM, "out of memory");
    json_t *resp = NULL;
    ss_code rc = lookup(f, keys, SS_CONSISTENCY_EVENTUAL, NULL, &resp, err);
    json_decref(keys);
    json_decref(resp);
    return rc;
}

static ss_code fs_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    fs *f = self;
    *out = NULL;
    char *name = key_name(op->key, op->key_len);
    json_t *keys = name ? json_pack("[o]", key_json(f, name)) : NULL;
    free(name);
    if (!keys) return ss_error_set(err, SS_NOMEM, "out of memory");
    json_t *resp = NULL;
    ss_code rc = lookup(f, keys, op->consistency, NULL, &resp, err);
    json_decref(keys);
    if (rc != SS_OK) return rc;
    const json_t *res = json_array_get(json_object_get(resp, "found"), 0);
    if (res) {
        found fd;
        parse_found(res, &fd);
        if (fd.exists) rc = value_of(res, &fd, out, err);
    } else if (json_array_size(json_object_get(resp, "deferred")) > 0) {
        rc = ss_error_set(err, SS_UNAVAILABLE, "lookup deferred the key");
    }
    json_decref(resp);
    return rc;
}

/*
 * The current version of each named entity whose op is an ETag write (0 when missing or
 * expired), by one strong lookup: baseVersion alone would let an ETag match an expired entity.
 */
static ss_code current_versions(fs *f, char *const *names, const ss_op *ops, size_t n, int64_t *out,
                                ss_error *err)
{
    json_t *keys = json_array();
    if (!keys) return ss_error_set(err, SS_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        out[i] = 0;
        if (ops[i].cond == SS_COND_MATCH &&
            json_array_append_new(keys, key_json(f, names[i])) != 0) {
            json_decref(keys);
            return ss_error_set(err, SS_NOMEM, "out of memory");
        }
    }
    if (json_array_size(keys) == 0) {
        json_decref(keys);
        return SS_OK;
    }
    json_t *resp = NULL;
    ss_code rc = lookup(f, keys, SS_CONSISTENCY_STRONG, NULL, &resp, err);
    json_decref(keys);
    if (rc != SS_OK) return rc;
    size_t j;
    const json_t *res;
    json_array_foreach(json_object_get(resp, "found"), j, res)
    {
        const char *nm = resp_key_name(json_object_get(json_object_get(res, "entity"), "key"));
        found fd;
        parse_found(res, &fd);
        for (size_t i = 0; nm && fd.exists && i < n; i++)
            if (ops[i].cond == SS_COND_MATCH && !strcmp(names[i], nm)) out[i] = fd.version;
    }
    if (json_array_size(json_object_get(resp, "deferred")) > 0)
        rc = ss_error_set(err, SS_UNAVAILABLE, "lookup deferred keys; try again");
    json_decref(resp);
    return rc;
}

/* One single SET or DELETE as one commit. */
static ss_code write_one(fs *f, const ss_op *op, char **etag_out, ss_error *err)
{
    char *name = key_name(op->key, op->key_len);
    if (!name) return ss_error_set(err, SS_NOMEM, "out of memory");
    json_t *m = NULL;
    bool skip = false;
    ss_code rc = op_mutation(f, op, name, &m, &skip, err);
    if (rc == SS_OK && skip)
        rc = ss_error_set(err, SS_ETAG_MISMATCH, "no entity has version %s", op->etag);
    int64_t cur = 0, want = 0;
    if (rc == SS_OK && op->cond == SS_COND_MATCH) {
        rc = current_versions(f, &name, op, 1, &cur, err);
        if (rc == SS_OK && parse_etag(op->etag, &want, NULL) == SS_OK && cur != want)
            rc = ss_error_set(err, SS_ETAG_MISMATCH, "version %s is not the current one", op->etag);
    }
    if (rc != SS_OK) json_decref(m);
    json_t *muts = rc == SS_OK ? json_pack("[o]", m) : NULL;
    if (rc == SS_OK && !muts) rc = ss_error_set(err, SS_NOMEM, "out of memory");
    json_t *resp = NULL;
    char st[64];
    if (rc == SS_OK) rc = commit_plain(f, muts, &resp, st, sizeof st, err);
    int64_t version = 0;
    if (rc == SS_OK) {
        rc = mutation_result(resp, 0, &version);
        if (rc == SS_ETAG_MISMATCH) {
            if (op->cond == SS_COND_ABSENT)
                rc = retry_over_expired(f, op, name, &version, err);
            else
                rc = ss_error_set(err, rc, "version %s is not the current one", op->etag);
        }
    }
    json_decref(resp);
    free(name);
    if (rc == SS_OK && etag_out && op->kind == SS_DRV_SET) {
        char e[32];
        snprintf(e, sizeof e, "%lld", (long long)version);
        *etag_out = ss_strdup(e);
        if (!*etag_out) rc = ss_error_set(err, SS_NOMEM, "out of memory");
    }
    return rc;
}

static ss_code fs_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    return write_one(self, op, etag_out, err);
}

static ss_code fs_del(void *self, const ss_op *op, ss_error *err)
{
    return write_one(self, op, NULL, err);
}

static void item_fail(ss_item_result *it, ss_code code, const char *msg)
{
    it->code = code;
    it->error = ss_strdup(msg);
}

static ss_code fs_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                           ss_error *err)
{
    fs *f = self;
    for (size_t start = 0; start < count; start += MAX_LOOKUP) {
        size_t n = count - start < MAX_LOOKUP ? count - start : MAX_LOOKUP;
        char **names = calloc(n, sizeof *names);
        json_t *keys = json_array();
        ss_code rc = names && keys ? SS_OK : SS_NOMEM;
        ss_consistency cons = SS_CONSISTENCY_EVENTUAL;
        for (size_t i = 0; rc == SS_OK && i < n; i++) {
            const ss_op *op = &ops[start + i];
            if (op->consistency == SS_CONSISTENCY_STRONG) cons = SS_CONSISTENCY_STRONG;
            names[i] = key_name(op->key, op->key_len);
            if (!names[i] || json_array_append_new(keys, key_json(f, names[i])) != 0) rc = SS_NOMEM;
        }
        json_t *resp = NULL;
        if (rc == SS_NOMEM)
            ss_error_set(err, rc, "out of memory");
        else
            rc = lookup(f, keys, cons, NULL, &resp, err);
        if (rc == SS_OK) {
            const json_t *foundl = json_object_get(resp, "found");
            const json_t *deferred = json_object_get(resp, "deferred");
            for (size_t i = 0; i < n; i++) {
                ss_item_result *it = &out->items[start + i];
                it->code = SS_OK;
                size_t j;
                const json_t *res;
                json_array_foreach(foundl, j, res)
                {
                    const char *nm =
                        resp_key_name(json_object_get(json_object_get(res, "entity"), "key"));
                    if (!nm || strcmp(nm, names[i]) != 0) continue;
                    found fd;
                    parse_found(res, &fd);
                    if (fd.exists) {
                        ss_error e = {0};
                        if (value_of(res, &fd, &it->value, &e) != SS_OK)
                            item_fail(it, e.code, e.message);
                    }
                    break;
                }
                const json_t *dk;
                json_array_foreach(deferred, j, dk)
                {
                    const char *nm = resp_key_name(dk);
                    if (nm && !strcmp(nm, names[i]) && !it->value) {
                        /* Deferred keys were not read this time: read them one by one. */
                        ss_error e = {0};
                        ss_code c = fs_get(f, &ops[start + i], &it->value, &e);
                        if (c != SS_OK) item_fail(it, c, e.message);
                    }
                }
            }
        }
        json_decref(resp);
        json_decref(keys);
        for (size_t i = 0; names && i < n; i++) free(names[i]);
        free(names);
        if (rc != SS_OK) return rc;
    }
    return SS_OK;
}

/*
 * Bulk SET/DELETE: one non-transactional commit per 500 keys, each mutation conditioned with
 * its own baseVersion, so a conflict fails only that item. A commit may not touch one entity
 * twice, so repeated keys go one by one, in order.
 */
static ss_code fs_bulk_write(void *self, const ss_op *ops, size_t count, ss_results *out,
                             ss_error *err)
{
    fs *f = self;
    char **names = calloc(count ? count : 1, sizeof *names);
    if (!names) return ss_error_set(err, SS_NOMEM, "out of memory");
    bool dup = false;
    ss_code rc = SS_OK;
    for (size_t i = 0; i < count && rc == SS_OK; i++) {
        names[i] = key_name(ops[i].key, ops[i].key_len);
        if (!names[i]) rc = ss_error_set(err, SS_NOMEM, "out of memory");
        for (size_t j = 0; j < i && rc == SS_OK && !dup; j++) dup = strcmp(names[i], names[j]) == 0;
    }
    if (rc == SS_OK && dup) {
        for (size_t i = 0; i < count; i++) {
            ss_error e = {0};
            ss_item_result *it = &out->items[i];
            it->code = write_one(f, &ops[i], ops[i].kind == SS_DRV_SET ? &it->etag : NULL, &e);
            if (it->code != SS_OK) it->error = ss_strdup(e.message);
        }
    }
    for (size_t start = 0; rc == SS_OK && !dup && start < count; start += MAX_MUTATIONS) {
        size_t n = count - start < MAX_MUTATIONS ? count - start : MAX_MUTATIONS;
        int64_t want = 0;
        json_t *muts = json_array();
        size_t *slot = calloc(n, sizeof *slot); /* item → mutation index + 1; 0 = not sent */
        int64_t *cur = calloc(n, sizeof *cur);
        if (!muts || !slot || !cur) rc = ss_error_set(err, SS_NOMEM, "out of memory");
        if (rc == SS_OK) rc = current_versions(f, names + start, ops + start, n, cur, err);
        for (size_t i = 0; rc == SS_OK && i < n; i++) {
            ss_item_result *it = &out->items[start + i];
            json_t *m = NULL;
            bool skip = false;
            ss_error e = {0};
            ss_code c = op_mutation(f, &ops[start + i], names[start + i], &m, &skip, &e);
            if (c == SS_NOMEM)
                rc = ss_error_set(err, c, "out of memory");
            else if (c != SS_OK)
                item_fail(it, c, e.message);
            else if (skip)
                item_fail(it, SS_ETAG_MISMATCH, "no entity has that version");
            else if (ops[start + i].cond == SS_COND_MATCH &&
                     (parse_etag(ops[start + i].etag, &want, NULL) != SS_OK || cur[i] != want)) {
                json_decref(m);
                item_fail(it, SS_ETAG_MISMATCH, "version is not the current one");
            } else if (json_array_append_new(muts, m) != 0)
                rc = ss_error_set(err, SS_NOMEM, "out of memory");
            else
                slot[i] = json_array_size(muts);
        }
        json_t *resp = NULL;
        char st[64];
        if (rc == SS_OK && json_array_size(muts) > 0) {
            ss_error cerr = {0};
            rc = commit_plain(f, muts, &resp, st, sizeof st, &cerr);
            muts = NULL;
            if (rc != SS_OK && !strcmp(st, "BASE_VERSION")) {
                /* One item's ETag failed the whole commit, so nothing was written: go one by
                 * one to tell which. */
                rc = SS_OK;
                for (size_t i = 0; i < n; i++) {
                    if (!slot[i]) continue;
                    slot[i] = 0;
                    ss_error e = {0};
                    ss_item_result *it = &out->items[start + i];
                    const ss_op *op = &ops[start + i];
                    it->code = write_one(f, op, op->kind == SS_DRV_SET ? &it->etag : NULL, &e);
                    if (it->code != SS_OK) it->error = ss_strdup(e.message);
                }
            } else if (rc != SS_OK) {
                if (err) *err = cerr;
            }
        }
        for (size_t i = 0; rc == SS_OK && i < n; i++) {
            if (!slot[i]) continue;
            const ss_op *op = &ops[start + i];
            ss_item_result *it = &out->items[start + i];
            int64_t version = 0;
            ss_code c = mutation_result(resp, slot[i] - 1, &version);
            if (c == SS_ETAG_MISMATCH && op->cond == SS_COND_ABSENT) {
                ss_error e = {0};
                c = retry_over_expired(f, op, names[start + i], &version, &e);
                if (c != SS_OK) {
                    item_fail(it, c, e.message);
                    continue;
                }
            }
            if (c != SS_OK) {
                item_fail(it, c,
                          op->cond == SS_COND_ABSENT ? "key already exists"
                                                     : "version is not the current one");
                continue;
            }
            it->code = SS_OK;
            if (op->kind == SS_DRV_SET) {
                char e[32];
                snprintf(e, sizeof e, "%lld", (long long)version);
                it->etag = ss_strdup(e);
            }
        }
        json_decref(muts);
        json_decref(resp);
        free(slot);
        free(cur);
    }
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
    return rc;
}

/* The state of one key while a transaction's conditions are checked in order. */
typedef struct txkey {
    char *name;
    bool exists;
    int64_t version; /* -1 once written inside the transaction: no ETag matches it then */
    size_t last_op;  /* the last operation on this key: the only mutation sent for it */
} txkey;

static ss_code tx_attempt(fs *f, const ss_op *ops, size_t count, txkey *keys, size_t nkeys,
                          size_t *key_of, bool *retry, ss_error *err)
{
    *retry = false;
    json_t *resp = NULL, *body = NULL;
    json_t *empty = json_object();
    ss_code rc = empty ? call(f, "beginTransaction", empty, &resp, NULL, 0, err)
                       : ss_error_set(err, SS_NOMEM, "out of memory");
    json_decref(empty);
    if (rc != SS_OK) return rc;
    char *tx = strdup(json_string_value(json_object_get(resp, "transaction"))
                          ? json_string_value(json_object_get(resp, "transaction"))
                          : "");
    json_decref(resp);
    resp = NULL;
    if (!tx) return ss_error_set(err, SS_NOMEM, "out of memory");
    json_t *jkeys = json_array();
    for (size_t k = 0; jkeys && k < nkeys; k++)
        json_array_append_new(jkeys, key_json(f, keys[k].name));
    rc = jkeys ? lookup(f, jkeys, SS_CONSISTENCY_STRONG, tx, &resp, err)
               : ss_error_set(err, SS_NOMEM, "out of memory");
    json_decref(jkeys);
    for (size_t k = 0; rc == SS_OK && k < nkeys; k++) {
        keys[k].exists = false;
        keys[k].version = 0;
        size_t j;
        const json_t *res;
        json_array_foreach(json_object_get(resp, "found"), j, res)
        {
            const char *nm = resp_key_name(json_object_get(json_object_get(res, "entity"), "key"));
            if (nm && !strcmp(nm, keys[k].name)) {
                found fd;
                parse_found(res, &fd);
                keys[k].exists = fd.exists;
                keys[k].version = fd.version;
            }
        }
    }
    if (rc == SS_OK && json_array_size(json_object_get(resp, "deferred")) > 0)
        rc = ss_error_set(err, SS_UNAVAILABLE, "lookup deferred keys; try again");
    json_decref(resp);
    resp = NULL;
    /* Conditions in request order, against the state the earlier operations leave. */
    for (size_t i = 0; rc == SS_OK && i < count; i++) {
        txkey *k = &keys[key_of[i]];
        const ss_op *op = &ops[i];
        if (op->cond == SS_COND_MATCH) {
            int64_t want;
            rc = parse_etag(op->etag, &want, err);
            if (rc != SS_OK)
                rc = ss_error_set_op(err, rc, i, op, "etag \"%s\" is not a version number",
                                     op->etag);
            if (rc == SS_OK && (!k->exists || k->version < 1 || k->version != want))
                rc = ss_error_set_op(err, SS_ETAG_MISMATCH, i, op, "etag %s is not current",
                                     op->etag);
        } else if (op->cond == SS_COND_ABSENT && k->exists) {
            rc = ss_error_set_op(err, SS_ETAG_MISMATCH, i, op, "already exists");
        }
        k->exists = op->kind == SS_DRV_SET;
        k->version = -1;
    }
    json_t *muts = rc == SS_OK ? json_array() : NULL;
    if (rc == SS_OK && !muts) rc = ss_error_set(err, SS_NOMEM, "out of memory");
    for (size_t i = 0; rc == SS_OK && i < count; i++) {
        txkey *k = &keys[key_of[i]];
        if (k->last_op != i) continue;
        json_t *m;
        if (ops[i].kind == SS_DRV_SET) {
            json_t *ent = entity_json(f, &ops[i], k->name);
            m = ent ? json_pack("{s:o}", "upsert", ent) : NULL;
        } else {
            m = json_pack("{s:o}", "delete", key_json(f, k->name));
        }
        if (!m || json_array_append_new(muts, m) != 0)
            rc = ss_error_set(err, SS_NOMEM, "out of memory");
    }
    char st[64] = "";
    if (rc == SS_OK) {
        body = json_pack("{s:s, s:s, s:o}", "mode", "TRANSACTIONAL", "transaction", tx, "mutations",
                         muts);
        muts = NULL;
        rc = body ? call(f, "commit", body, &resp, st, sizeof st, err)
                  : ss_error_set(err, SS_NOMEM, "out of memory");
        if (rc != SS_OK && !strcmp(st, "ABORTED")) *retry = true;
    } else {
        /* Give the transaction back; its outcome does not matter, the caller's error does. */
        json_t *rb = json_pack("{s:s}", "transaction", tx);
        json_t *ignored = NULL;
        if (rb) call(f, "rollback", rb, &ignored, NULL, 0, NULL);
        json_decref(ignored);
        json_decref(rb);
    }
    json_decref(muts);
    json_decref(body);
    json_decref(resp);
    free(tx);
    return rc;
}

static ss_code fs_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                           size_t metadata_count, ss_error *err)
{
    (void)metadata;
    (void)metadata_count;
    fs *f = self;
    if (count == 0) return SS_OK;
    txkey *keys = calloc(count, sizeof *keys);
    size_t *key_of = calloc(count, sizeof *key_of);
    size_t nkeys = 0;
    ss_code rc = keys && key_of ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
    for (size_t i = 0; rc == SS_OK && i < count; i++) {
        char *name = key_name(ops[i].key, ops[i].key_len);
        if (!name) {
            rc = ss_error_set(err, SS_NOMEM, "out of memory");
            break;
        }
        size_t k = 0;
        while (k < nkeys && strcmp(keys[k].name, name) != 0) k++;
        if (k == nkeys)
            keys[nkeys++].name = name;
        else
            free(name);
        keys[k].last_op = i;
        key_of[i] = k;
    }
    for (int attempt = 0; rc == SS_OK && attempt < TX_ATTEMPTS; attempt++) {
        bool retry;
        rc = tx_attempt(f, ops, count, keys, nkeys, key_of, &retry, err);
        if (rc == SS_OK || !retry) break;
        if (attempt + 1 < TX_ATTEMPTS) rc = SS_OK;
    }
    for (size_t k = 0; keys && k < nkeys; k++) free(keys[k].name);
    free(keys);
    free(key_of);
    return rc;
}

static const ss_property fs_props[] = {
    {"type", false, false, NULL,
     "credentials type, e.g. \"service_account\" (as Dapr; informative)"},
    {"project_id", true, false, NULL, "Google Cloud project"},
    {"private_key_id", false, false, NULL, "service account key id (JWT kid)"},
    {"private_key", false, true, NULL,
     "service account RSA private key, PEM (\\n escapes allowed)"},
    {"client_email", false, false, NULL, "service account e-mail (JWT issuer)"},
    {"client_id", false, false, NULL, "service account client id (informative)"},
    {"auth_uri", false, false, NULL, "OAuth auth URI (informative)"},
    {"token_uri", false, false, SS_GOOGLE_TOKEN_URI, "OAuth token endpoint the JWT is sent to"},
    {"auth_provider_x509_cert_url", false, false, NULL, "(informative, as Dapr)"},
    {"client_x509_cert_url", false, false, NULL, "(informative, as Dapr)"},
    {"entity_kind", false, false, DEFAULT_KIND, "Datastore kind of the state entities"},
    {"endpoint", false, false, NULL,
     "emulator host:port (or URL); else DATASTORE_EMULATOR_HOST; else Google"},
    {"noindex", false, false, "false", "exclude the Value property from indexes"},
    {"timeout", false, false, "10s", "per-request timeout"},
};

const ss_driver ss_driver_firestore = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "gcp.firestore",
            .aliases = NULL,
            .version = "v1",
            .summary = "Cloud Firestore in Datastore mode (REST v1); Dapr gcp.firestore layout",
            .features = {.flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE |
                                  SS_FEATURE_TRANSACTIONAL | SS_FEATURE_TTL |
                                  SS_FEATURE_BULK_NATIVE,
                         .max_tx_ops = MAX_MUTATIONS,
                         .max_key_len = MAX_KEY_LEN,
                         .max_value_len = MAX_VALUE_LEN},
            .properties = fs_props,
            .property_count = sizeof fs_props / sizeof fs_props[0],
        },
    .instance_size = sizeof(fs),
    .open = fs_open,
    .close = fs_close,
    .ping = fs_ping,
    .get = fs_get,
    .set = fs_set,
    .del = fs_del,
    .bulk_get = fs_bulk_get,
    .bulk_set = fs_bulk_write,
    .bulk_delete = fs_bulk_write,
    .transact = fs_transact,
};

/*
 * Azure Table Storage driver (azure.tablestorage): the Table service REST API (JSON, OData v3)
 * over libcurl, every request signed with SharedKey (src/support/azure_sharedkey.c).
 *
 * Layout (Dapr's azure.tablestorage): one entity per key with a "Value" property. Where an entity
 * lives (PartitionKey, RowKey):
 *   - property partitionKey set (beyond Dapr), or request metadata partitionKey: that partition,
 *     RowKey = the whole key;
 *   - otherwise Dapr's split: "<a>||<b>" -> (a, b); a key without "||" -> (key, "").
 * Table Storage forbids / \ # ? and control characters in keys, so those bytes (and '%', the
 * escape itself) are written %XX; every other byte is kept, so ordinary keys look exactly as
 * Dapr writes them. Values that are valid UTF-8 and at most 32767 bytes are an Edm.String (as
 * Dapr writes them); others an Edm.Binary (at most 64 KiB, the service's property limit).
 *
 * ETags are the service's own (W/"datetime'...'"), sent back in If-Match byte for byte.
 * Transactions are entity group transactions ($batch with one changeset): atomic, at most 100
 * operations, one partition (the driver checks this, because Azurite does not).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "statestore/driver.h"
#include "support/azure_sharedkey.h"
#include "support/base64.h"
#include "support/http.h"
#include "support/strbuf.h"
#include "support/utf8.h"

#define MAX_TX_OPS     100   /* an entity group transaction's limit */
#define MAX_KEY_UNITS  512   /* PartitionKey / RowKey: 1 KiB of UTF-16 */
#define MAX_STRING_LEN 32767 /* an Edm.String property: 64 KiB of UTF-16 */
#define MAX_VALUE_LEN  65536 /* an Edm.Binary property: 64 KiB */
#define API_VERSION    "2019-02-02"

typedef struct azt {
    ss_ctx *ctx;
    ss_http *http;
    ss_azure_key key;
    char *base;      /* "http://127.0.0.1:10002/devstoreaccount1" or "https://acct.table..." */
    char *base_path; /* the URL path of base ("" or "/devstoreaccount1") */
    char *table;
    char *partition; /* property partitionKey, NULL = Dapr's split */
} azt;

/* ------------------------------------------------------------------------------------------ */
/* Keys                                                                                        */
/* ------------------------------------------------------------------------------------------ */

static void b_hex(ss_buf *b, unsigned char c, const char *digits)
{
    char e[3] = {'%', digits[c >> 4], digits[c & 15]};
    ss_buf_add(b, e, 3);
}

/*
 * Writes the bytes Table Storage forbids in keys as %XX: / \ # ? U+0000-U+001F, U+007F-U+009F
 * (C1 controls are the UTF-8 pairs C2 80..C2 9F), and '%' itself so decoding is unambiguous.
 */
static void b_key_escape(ss_buf *b, const char *s, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '/' || c == '\\' || c == '#' || c == '?' || c == '%' || c < 0x20 || c == 0x7f) {
            b_hex(b, c, digits);
        } else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                   (unsigned char)s[i + 1] <= 0x9f) {
            b_hex(b, c, digits);
            b_hex(b, (unsigned char)s[i + 1], digits);
            i++;
        } else {
            ss_buf_add(b, &s[i], 1);
        }
    }
}

/* UTF-16 code units of UTF-8 text (4-byte sequences are 2 units): the service's key limit. */
static size_t utf16_units(const char *s, size_t n)
{
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xc0) != 0x80) u += c >= 0xf0 ? 2 : 1;
    }
    return u;
}

typedef struct entity_key {
    char *pk; /* escaped */
    char *rk;
} entity_key;

static void entity_key_free(entity_key *k)
{
    free(k->pk);
    free(k->rk);
    k->pk = k->rk = NULL;
}

/* Where op's key lives (see the file comment). */
static ss_code entity_key_of(const azt *a, const ss_op *op, entity_key *out, ss_error *err)
{
    memset(out, 0, sizeof *out);
    const char *part = ss_op_meta(op, "partitionKey");
    if (!part || !*part) part = a->partition;
    ss_buf pk = {0}, rk = {0};
    if (part) {
        b_key_escape(&pk, part, strlen(part));
        b_key_escape(&rk, op->key, op->key_len);
    } else {
        const char *sep = NULL;
        for (size_t i = 0; i + 1 < op->key_len; i++)
            if (op->key[i] == '|' && op->key[i + 1] == '|') {
                sep = op->key + i;
                break;
            }
        if (sep) {
            size_t rest = op->key_len - (size_t)(sep - op->key) - 2;
            b_key_escape(&pk, op->key, (size_t)(sep - op->key));
            /* "a||" must not land where "a" does: %00 is no key's escape (keys hold no NUL). */
            if (rest == 0)
                ss_buf_str(&rk, "%00");
            else
                b_key_escape(&rk, sep + 2, rest);
        } else {
            b_key_escape(&pk, op->key, op->key_len);
        }
    }
    if (!pk.p && !pk.oom) ss_buf_str(&pk, "");
    if (!rk.p && !rk.oom) ss_buf_str(&rk, "");
    if (pk.oom || rk.oom) {
        free(pk.p);
        free(rk.p);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    if (utf16_units(pk.p, pk.len) > MAX_KEY_UNITS || utf16_units(rk.p, rk.len) > MAX_KEY_UNITS) {
        free(pk.p);
        free(rk.p);
        return ss_error_set(err, SS_TOO_LARGE,
                            "the key (escaped) is longer than the 1 KiB that PartitionKey and "
                            "RowKey may hold");
    }
    out->pk = pk.p;
    out->rk = rk.p;
    return SS_OK;
}

/* Percent-encodes for a URL path, doubling single quotes for the OData string literal first. */
static void b_odata_literal(ss_buf *b, const char *s)
{
    static const char digits[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            ss_buf_add(b, s, 1);
        } else {
            b_hex(b, c, digits);
            if (c == '\'') b_hex(b, c, digits);
        }
    }
}

/* "/<table>(PartitionKey='..',RowKey='..')", appended to the base path. */
static char *entity_path(const azt *a, const entity_key *k)
{
    ss_buf b = {0};
    ss_buf_str(&b, a->base_path);
    ss_buf_str(&b, "/");
    ss_buf_str(&b, a->table);
    ss_buf_str(&b, "(PartitionKey='");
    b_odata_literal(&b, k->pk);
    ss_buf_str(&b, "',RowKey='");
    b_odata_literal(&b, k->rk);
    ss_buf_str(&b, "')");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ------------------------------------------------------------------------------------------ */
/* Values                                                                                      */

/* The entity body: keys (for inserts) and Value as Edm.String or Edm.Binary. */
static char *entity_body(const entity_key *k, const ss_op *op, bool with_keys, ss_error *err)
{
    json_t *o = json_object();
    bool ok = o != NULL;
    if (ok && with_keys)
        ok = json_object_set_new(o, "PartitionKey", json_string(k->pk)) == 0 &&
             json_object_set_new(o, "RowKey", json_string(k->rk)) == 0;
    if (ok && op->value_len <= MAX_STRING_LEN && ss_utf8_valid(op->value, op->value_len, true)) {
        ok = json_object_set_new(o, "Value", json_stringn(op->value, op->value_len)) == 0;
    } else if (ok) {
        char *b64 = ss_base64_encode_alloc(op->value, op->value_len);
        ok = b64 && json_object_set_new(o, "Value@odata.type", json_string("Edm.Binary")) == 0 &&
             json_object_set_new(o, "Value", json_string(b64)) == 0;
        free(b64);
    }
    char *s = ok ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) ss_error_set(err, SS_NOMEM, "out of memory");
    return s;
}

static ss_code entity_to_value(const json_t *e, const char *etag, ss_value **out, ss_error *err)
{
    const json_t *v = json_object_get(e, "Value");
    const char *type = json_string_value(json_object_get(e, "Value@odata.type"));
    if (!etag) etag = json_string_value(json_object_get(e, "odata.etag"));
    ss_value *val = NULL;
    if (!v) {
        val = ss_value_new("", 0, etag);
    } else if (!json_is_string(v)) {
        return ss_error_set(err, SS_BACKEND, "the entity's Value is not a string or binary");
    } else if (type && strcmp(type, "Edm.Binary") == 0) {
        char *raw = NULL;
        size_t rl = 0;
        if (!ss_base64_decode_alloc(&raw, &rl, json_string_value(v), json_string_length(v)))
            return ss_error_set(err, SS_BACKEND, "the entity's binary Value is not base64");
        val = ss_value_new(raw, rl, etag);
        free(raw);
    } else {
        val = ss_value_new(json_string_value(v), json_string_length(v), etag);
    }
    if (!val) return ss_error_set(err, SS_NOMEM, "out of memory");
    *out = val;
    return SS_OK;
}

/*
 * The service's ETags look like W/"datetime'2026-11-29T22%3A30%3A15.2684803Z'". Anything else
 * cannot be one, and some garbage (a blank, a non-ASCII byte) would change the meaning of the
 * If-Match header, so it is refused before it is sent.
 */
static bool etag_well_formed(const char *e)
{
    size_t n = strlen(e);
    if (n < 4 || strncmp(e, "W/\"", 3) != 0 || e[n - 1] != '"') return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)e[i] <= 0x20 || (unsigned char)e[i] >= 0x7f || e[i] == ',') return false;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Requests and errors                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* The first line of the service's error text, without the RequestId/Time lines. */
static void error_text(const char *body, size_t len, char *code, size_t codelen, char *msg,
                       size_t msglen)
{
    code[0] = msg[0] = '\0';
    json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "odata.error");
    const char *c = json_string_value(json_object_get(e, "code"));
    const char *m = json_string_value(json_object_get(json_object_get(e, "message"), "value"));
    if (c) snprintf(code, codelen, "%s", c);
    if (m) snprintf(msg, msglen, "%.*s", (int)strcspn(m, "\n"), m);
    if (!j && len) {
        /* XML (e.g. Azurite's 403 AuthorizationFailure) or text: keep a short excerpt. */
        const char *cs = strstr(body, "<Code>");
        if (cs) snprintf(code, codelen, "%.*s", (int)strcspn(cs + 6, "<"), cs + 6);
        const char *ms = strstr(body, "<Message>");
        if (ms) snprintf(msg, msglen, "%.*s", (int)strcspn(ms + 9, "<\n"), ms + 9);
    }
    json_decref(j);
}

/* Maps an error answer (status + the service's error code) to our codes. */
static ss_code map_error(long status, const char *code, const char *msg, ss_error *err)
{
    if (status == 412 || strcmp(code, "UpdateConditionNotSatisfied") == 0 ||
        strcmp(code, "EntityAlreadyExists") == 0)
        return ss_error_set(err, SS_ETAG_MISMATCH, "%s: %s", code, msg);
    if (status == 403 || strcmp(code, "AuthenticationFailed") == 0 ||
        strcmp(code, "AuthorizationFailure") == 0)
        return ss_error_set(err, SS_BACKEND,
                            "authentication failed: HTTP %ld %s: %s (check accountName and "
                            "accountKey)",
                            status, code, msg);
    if (status == 503 || status == 500 || status == 429 || strcmp(code, "ServerBusy") == 0 ||
        strcmp(code, "OperationTimedOut") == 0 || status >= 500)
        return ss_error_set(
            err,
            status == 500 && strcmp(code, "OperationTimedOut") == 0 ? SS_TIMEOUT : SS_UNAVAILABLE,
            "HTTP %ld %s: %s", status, code, msg);
    if (status == 413 || strcmp(code, "PropertyValueTooLarge") == 0 ||
        strcmp(code, "EntityTooLarge") == 0 || strcmp(code, "RequestBodyTooLarge") == 0)
        return ss_error_set(err, SS_TOO_LARGE, "%s: %s", code, msg);
    if (strcmp(code, "TableNotFound") == 0)
        return ss_error_set(err, SS_BACKEND,
                            "%s: %s (the table does not exist; skipCreateTable is set?)", code,
                            msg);
    return ss_error_set(err, SS_BACKEND, "HTTP %ld %s: %s", status, *code ? code : "error", msg);
}

typedef struct call_out {
    long status;
    char *etag; /* the ETag response header */
    char *body;
    size_t body_len;
} call_out;

static void call_out_clear(call_out *o)
{
    free(o->etag);
    free(o->body);
    memset(o, 0, sizeof *o);
}

/*
 * One signed request. `path` is the URL path (already encoded); `comp` the ?comp= value or NULL;
 * extra: NULL-terminated extra header lines. Transport failures come back as codes; any HTTP
 * answer is SS_OK with its status in out.
 */
static ss_code call(azt *a, const char *method, const char *path, const char *content_type,
                    const char *const *extra, const char *body, size_t body_len, call_out *out,
                    ss_error *err)
{
    memset(out, 0, sizeof *out);
    char date[40], auth[256];
    ss_azure_rfc1123(ss_now_unix_ms() / 1000, date, sizeof date);
    ss_code code = ss_azure_table_authorization(&a->key, method, NULL, content_type, date, path,
                                                NULL, auth, sizeof auth, err);
    if (code != SS_OK) return code;
    size_t ul = strlen(a->base) - strlen(a->base_path) + strlen(path) + 1;
    char *url = malloc(ul);
    char h_date[64], h_auth[300], h_ct[200];
    if (!url) return ss_error_set(err, SS_NOMEM, "out of memory");
    snprintf(url, ul, "%.*s%s", (int)(strlen(a->base) - strlen(a->base_path)), a->base, path);
    snprintf(h_date, sizeof h_date, "x-ms-date: %s", date);
    snprintf(h_auth, sizeof h_auth, "Authorization: %s", auth);
    const char *hdrs[16] = {h_date,
                            h_auth,
                            "x-ms-version: " API_VERSION,
                            "Accept: application/json;odata=minimalmetadata",
                            "DataServiceVersion: 3.0;NetFx",
                            "MaxDataServiceVersion: 3.0;NetFx"};
    size_t nh = 6;
    if (content_type) {
        snprintf(h_ct, sizeof h_ct, "Content-Type: %s", content_type);
        hdrs[nh++] = h_ct;
    } else {
        /* libcurl would add a form Content-Type to a body-less DELETE, which is signed. */
        hdrs[nh++] = "Content-Type:";
    }
    for (const char *const *p = extra; p && *p && nh < 15; p++) hdrs[nh++] = *p;
    hdrs[nh] = NULL;
    ss_http_request req = {.method = method,
                           .url = url,
                           .headers = hdrs,
                           .body = body,
                           .body_len = body_len,
                           .capture_header = "ETag"};
    ss_http_response resp;
    code = ss_http_perform(a->http, &req, &resp, err);
    free(url);
    if (code != SS_OK) return code;
    out->status = resp.status;
    out->etag = resp.header;
    out->body = resp.body;
    out->body_len = resp.body_len;
    return SS_OK;
}

static ss_code fail_from(const call_out *o, ss_error *err)
{
    char code[128], msg[512];
    error_text(o->body, o->body_len, code, sizeof code, msg, sizeof msg);
    return map_error(o->status, code, msg, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Single operations                                                                           */
/* ------------------------------------------------------------------------------------------ */

static ss_code azt_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    azt *a = self;
    entity_key k;
    ss_code code = entity_key_of(a, op, &k, err);
    if (code != SS_OK) return code;
    char *path = entity_path(a, &k);
    entity_key_free(&k);
    if (!path) return ss_error_set(err, SS_NOMEM, "out of memory");
    call_out o;
    code = call(a, "GET", path, NULL, NULL, NULL, 0, &o, err);
    free(path);
    if (code != SS_OK) return code;
    if (o.status == 200) {
        json_t *e = json_loadb(o.body, o.body_len, JSON_ALLOW_NUL, NULL);
        code = e ? entity_to_value(e, o.etag, out, err)
                 : ss_error_set(err, SS_BACKEND, "the entity is not JSON");
        json_decref(e);
    } else if (o.status == 404) {
        char c[128], m[256];
        error_text(o.body, o.body_len, c, sizeof c, m, sizeof m);
        code = strcmp(c, "TableNotFound") == 0 ? map_error(404, c, m, err) : SS_OK;
    } else {
        code = fail_from(&o, err);
    }
    call_out_clear(&o);
    return code;
}

static ss_code azt_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    azt *a = self;
    if (op->cond == SS_COND_MATCH && !etag_well_formed(op->etag))
        return ss_error_set(err, SS_ETAG_INVALID,
                            "not an ETag of Table Storage (W/\"datetime'...'\")");
    entity_key k;
    ss_code code = entity_key_of(a, op, &k, err);
    if (code != SS_OK) return code;
    bool insert = op->cond == SS_COND_ABSENT;
    char *body = entity_body(&k, op, insert, err);
    char *path = NULL;
    if (body) {
        if (insert) {
            size_t n = strlen(a->base_path) + strlen(a->table) + 2;
            path = malloc(n);
            if (path) snprintf(path, n, "%s/%s", a->base_path, a->table);
        } else {
            path = entity_path(a, &k);
        }
    }
    entity_key_free(&k);
    if (!body || !path) {
        free(body);
        free(path);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    char if_match[512];
    const char *extra[3] = {NULL, NULL, NULL};
    if (insert) {
        extra[0] = "Prefer: return-no-content";
    } else if (op->cond == SS_COND_MATCH) {
        snprintf(if_match, sizeof if_match, "If-Match: %s", op->etag);
        extra[0] = if_match;
    }
    call_out o;
    code = call(a, insert ? "POST" : "PUT", path, "application/json", extra, body, strlen(body), &o,
                err);
    free(body);
    free(path);
    if (code != SS_OK) return code;
    if (o.status == 204 || o.status == 201) {
        if (o.etag && !(*etag_out = ss_strdup(o.etag)))
            code = ss_error_set(err, SS_NOMEM, "out of memory");
    } else if (o.status == 404 && op->cond == SS_COND_MATCH) {
        code = ss_error_set(err, SS_ETAG_MISMATCH, "the entity does not exist");
    } else {
        code = fail_from(&o, err);
    }
    call_out_clear(&o);
    return code;
}

static ss_code azt_del(void *self, const ss_op *op, ss_error *err)
{
    azt *a = self;
    if (op->cond == SS_COND_MATCH && !etag_well_formed(op->etag))
        return ss_error_set(err, SS_ETAG_INVALID,
                            "not an ETag of Table Storage (W/\"datetime'...'\")");
    entity_key k;
    ss_code code = entity_key_of(a, op, &k, err);
    if (code != SS_OK) return code;
    char *path = entity_path(a, &k);
    entity_key_free(&k);
    if (!path) return ss_error_set(err, SS_NOMEM, "out of memory");
    char if_match[512];
    /* DELETE needs If-Match; "*" is the unconditional form. */
    snprintf(if_match, sizeof if_match, "If-Match: %s", op->cond == SS_COND_MATCH ? op->etag : "*");
    const char *extra[] = {if_match, NULL};
    call_out o;
    code = call(a, "DELETE", path, NULL, extra, NULL, 0, &o, err);
    free(path);
    if (code != SS_OK) return code;
    if (o.status == 204) {
        code = SS_OK;
    } else if (o.status == 404) {
        char c[128], m[256];
        error_text(o.body, o.body_len, c, sizeof c, m, sizeof m);
        if (strcmp(c, "TableNotFound") == 0)
            code = map_error(404, c, m, err);
        else if (op->cond == SS_COND_MATCH)
            code = ss_error_set(err, SS_ETAG_MISMATCH, "the entity does not exist");
        else
            code = SS_OK;
    } else {
        code = fail_from(&o, err);
    }
    call_out_clear(&o);
    return code;
}

static ss_code azt_ping(void *self, ss_error *err)
{
    azt *a = self;
    size_t n = strlen(a->base_path) + strlen(a->table) + 32;
    char *path = malloc(n);
    if (!path) return ss_error_set(err, SS_NOMEM, "out of memory");
    snprintf(path, n, "%s/Tables('%s')", a->base_path, a->table);
    call_out o;
    ss_code code = call(a, "GET", path, NULL, NULL, NULL, 0, &o, err);
    free(path);
    if (code == SS_OK && o.status != 200) code = fail_from(&o, err);
    call_out_clear(&o);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Transactions: $batch                                                                        */
/* ------------------------------------------------------------------------------------------ */

/*
 * A changeset may touch an entity only once, so ops on one key are folded as in the DynamoDB
 * driver: the first op's condition and the last op's effect; a later op whose condition fails on
 * the state the earlier ones leave fails the whole transaction here.
 */
typedef struct txop {
    const ss_op *first;
    const ss_op *last;
    size_t index;
    entity_key k;
    char *probe_etag; /* unconditional delete: the ETag read just before (NULL = absent) */
} txop;

/*
 * The changeset response: every part is "HTTP/1.1 <status> ...". On failure the service answers
 * with the failing part only, its message starting "<index>:". Returns the failing operation's
 * index (or -1 when every part succeeded) and fills status/code/msg.
 */
static long batch_failure(const char *body, long *status, char *code, size_t codelen, char *msg,
                          size_t msglen)
{
    *status = 0;
    code[0] = msg[0] = '\0';
    for (const char *p = strstr(body, "HTTP/1.1 "); p; p = strstr(p + 9, "HTTP/1.1 ")) {
        long st = strtol(p + 9, NULL, 10);
        if (st >= 200 && st < 300) continue;
        *status = st;
        const char *j = strchr(p, '{');
        long index = 0;
        if (j) {
            json_t *e = json_loadb(j, strlen(j), JSON_DISABLE_EOF_CHECK, NULL);
            const char *c =
                json_string_value(json_object_get(json_object_get(e, "odata.error"), "code"));
            const char *m = json_string_value(json_object_get(
                json_object_get(json_object_get(e, "odata.error"), "message"), "value"));
            if (c) snprintf(code, codelen, "%s", c);
            if (m) {
                char *end = NULL;
                long v = strtol(m, &end, 10);
                if (end && end != m && *end == ':') {
                    index = v;
                    m = end + 1;
                }
                snprintf(msg, msglen, "%.*s", (int)strcspn(m, "\n"), m);
            }
            json_decref(e);
        }
        return index;
    }
    return -1;
}

static void b_part_head(ss_buf *b, const char *cs, size_t id)
{
    char line[128];
    ss_buf_str(b, "--");
    ss_buf_str(b, cs);
    ss_buf_str(b, "\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
    snprintf(line, sizeof line, "Content-ID: %zu\r\n\r\n", id);
    ss_buf_str(b, line);
}

/* One attempt of the batch. *retry is set when only a probed ETag failed (a race). */
static ss_code batch_once(azt *a, txop *ts, size_t n, bool *retry, ss_error *err)
{
    *retry = false;
    char uuid[37], bb[64], cs[64];
    ss_uuid4(uuid);
    snprintf(bb, sizeof bb, "batch_%s", uuid);
    ss_uuid4(uuid);
    snprintf(cs, sizeof cs, "changeset_%s", uuid);
    size_t *map = calloc(n ? n : 1, sizeof *map); /* part -> txop */
    if (!map) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_buf b = {0};
    ss_buf_str(&b, "--");
    ss_buf_str(&b, bb);
    ss_buf_str(&b, "\r\nContent-Type: multipart/mixed; boundary=");
    ss_buf_str(&b, cs);
    ss_buf_str(&b, "\r\n\r\n");
    size_t parts = 0;
    ss_code code = SS_OK;
    for (size_t i = 0; i < n && code == SS_OK; i++) {
        txop *t = &ts[i];
        const ss_op *eff = t->last;
        bool del = eff->kind == SS_DRV_DELETE;
        /* A delete of an entity that was not there (unconditional, or first-write then delete)
         * is nothing to do. */
        if (del && t->first->cond != SS_COND_MATCH && !t->probe_etag) continue;
        char *epath = entity_path(a, &t->k);
        if (!epath) {
            code = ss_error_set(err, SS_NOMEM, "out of memory");
            break;
        }
        char *body = NULL;
        bool insert = !del && t->first->cond == SS_COND_ABSENT;
        if (!del) {
            /* Keys in the body too: Azurite reads an empty RowKey in a part's URL as missing. */
            body = entity_body(&t->k, eff, true, err);
            if (!body) {
                free(epath);
                code = SS_NOMEM;
                break;
            }
        }
        b_part_head(&b, cs, parts + 1);
        ss_buf_str(&b, insert ? "POST " : del ? "DELETE " : "PUT ");
        ss_buf_add(&b, a->base, strlen(a->base) - strlen(a->base_path));
        if (insert) {
            ss_buf_str(&b, a->base_path);
            ss_buf_str(&b, "/");
            ss_buf_str(&b, a->table);
        } else {
            ss_buf_str(&b, epath);
        }
        ss_buf_str(&b, " HTTP/1.1\r\nAccept: application/json;odata=minimalmetadata\r\n"
                       "DataServiceVersion: 3.0;\r\n");
        if (insert) ss_buf_str(&b, "Prefer: return-no-content\r\n");
        const char *im = t->first->cond == SS_COND_MATCH ? t->first->etag
                         : del                           ? t->probe_etag
                                                         : NULL;
        if (im) {
            ss_buf_str(&b, "If-Match: ");
            ss_buf_str(&b, im);
            ss_buf_str(&b, "\r\n");
        }
        if (body) {
            ss_buf_str(&b, "Content-Type: application/json\r\n\r\n");
            ss_buf_str(&b, body);
        }
        ss_buf_str(&b, "\r\n");
        free(body);
        free(epath);
        map[parts++] = i;
    }
    ss_buf_str(&b, "--");
    ss_buf_str(&b, cs);
    ss_buf_str(&b, "--\r\n--");
    ss_buf_str(&b, bb);
    ss_buf_str(&b, "--\r\n");
    if (code == SS_OK && b.oom) code = ss_error_set(err, SS_NOMEM, "out of memory");
    if (code != SS_OK || parts == 0) {
        free(b.p);
        free(map);
        return code;
    }
    char ct[96], path[512];
    snprintf(ct, sizeof ct, "multipart/mixed; boundary=%s", bb);
    snprintf(path, sizeof path, "%s/$batch", a->base_path);
    call_out o;
    code = call(a, "POST", path, ct, NULL, b.p, b.len, &o, err);
    free(b.p);
    if (code == SS_OK) {
        if (o.status != 202) {
            code = fail_from(&o, err);
        } else {
            long st;
            char c[128], m[512];
            long idx = batch_failure(o.body, &st, c, sizeof c, m, sizeof m);
            if (idx >= 0) {
                size_t ti = (size_t)idx < parts ? map[idx] : map[0];
                txop *t = &ts[ti];
                bool user_cond = t->first->cond == SS_COND_MATCH ||
                                 (t->first->cond == SS_COND_ABSENT && t->last->kind == SS_DRV_SET);
                if ((st == 412 || st == 404) && !user_cond) {
                    /* Our own probe went stale: someone wrote the key since. */
                    *retry = true;
                    code = ss_error_set_op(err, SS_UNAVAILABLE, t->index, t->first,
                                           "changed during the transaction");
                } else if ((st == 412 || st == 404 || st == 409) && user_cond) {
                    code =
                        ss_error_set_op(err, SS_ETAG_MISMATCH, t->index, t->first, "%s: %s", c, m);
                } else {
                    code = map_error(st, c, m, err);
                }
            }
        }
    }
    call_out_clear(&o);
    free(map);
    return code;
}

/* Reads the current ETag of an entity (NULL when absent) for an unconditional delete. */
static ss_code probe(azt *a, txop *t, ss_error *err)
{
    free(t->probe_etag);
    t->probe_etag = NULL;
    char *path = entity_path(a, &t->k);
    if (!path) return ss_error_set(err, SS_NOMEM, "out of memory");
    call_out o;
    ss_code code = call(a, "GET", path, NULL, NULL, NULL, 0, &o, err);
    free(path);
    if (code != SS_OK) return code;
    if (o.status == 200) {
        t->probe_etag = o.etag;
        o.etag = NULL;
        if (!t->probe_etag) code = ss_error_set(err, SS_BACKEND, "the entity came without ETag");
    } else if (o.status != 404) {
        code = fail_from(&o, err);
    }
    call_out_clear(&o);
    return code;
}

static ss_code azt_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                            size_t metadata_count, ss_error *err)
{
    azt *a = self;
    (void)metadata;
    (void)metadata_count;
    if (count == 0) return SS_OK;
    txop *ts = calloc(count, sizeof *ts);
    if (!ts) return ss_error_set(err, SS_NOMEM, "out of memory");
    size_t n = 0;
    ss_code code = SS_OK;
    for (size_t i = 0; i < count && code == SS_OK; i++) {
        const ss_op *op = &ops[i];
        if (op->cond == SS_COND_MATCH && !etag_well_formed(op->etag)) {
            code = ss_error_set_op(err, SS_ETAG_INVALID, i, op,
                                   "not an ETag of Table Storage (W/\"datetime'...'\")");
            break;
        }
        entity_key k;
        code = entity_key_of(a, op, &k, err);
        if (code != SS_OK) break;
        if (n > 0 && strcmp(k.pk, ts[0].k.pk) != 0) {
            code = ss_error_set(err, SS_INVALID,
                                "operation %zu is in partition \"%s\" but operation 0 in \"%s\": a "
                                "Table Storage transaction must stay in one partition (set the "
                                "property partitionKey, or give the keys one \"<prefix>||\")",
                                i, k.pk, ts[0].k.pk);
            entity_key_free(&k);
            break;
        }
        size_t f = 0;
        for (; f < n; f++)
            if (strcmp(ts[f].k.rk, k.rk) == 0) break;
        if (f == n) {
            ts[n++] = (txop){.first = op, .last = op, .index = i, .k = k};
            continue;
        }
        entity_key_free(&k);
        bool exists = ts[f].last->kind == SS_DRV_SET;
        if (!(op->cond == SS_COND_ANY || (op->cond == SS_COND_ABSENT && !exists))) {
            code = ss_error_set_op(err, SS_ETAG_MISMATCH, i, op,
                                   "its condition fails on the state left by an earlier "
                                   "operation on the same key");
            break;
        }
        ts[f].last = op;
    }
    /* One operation is atomic on its own: no $batch needed (and Azurite refuses an empty
     * RowKey, which Dapr's layout gives keys without "||", inside a $batch). */
    if (code == SS_OK && n == 1 && ts[0].first == ts[0].last) {
        const ss_op *op = ts[0].first;
        char *etag = NULL;
        code = op->kind == SS_DRV_SET ? azt_set(a, op, &etag, err) : azt_del(a, op, err);
        free(etag);
        if (code != SS_OK && err) ss_error_set_op(err, code, ts[0].index, op, "%s", err->message);
        entity_key_free(&ts[0].k);
        free(ts);
        return code;
    }
    /* Unconditional deletes are sent with the ETag read just before (a DELETE needs one, and a
     * missing entity would fail the whole batch); a write in between makes the batch fail on
     * that ETag, and the whole transaction is tried again. */
    for (int attempt = 0; code == SS_OK; attempt++) {
        for (size_t i = 0; i < n && code == SS_OK; i++) {
            if (ts[i].last->kind != SS_DRV_DELETE || ts[i].first->cond == SS_COND_MATCH) continue;
            code = probe(a, &ts[i], err);
            if (code == SS_OK && ts[i].first->cond == SS_COND_ABSENT && ts[i].probe_etag)
                code = ss_error_set_op(err, SS_ETAG_MISMATCH, ts[i].index, ts[i].first,
                                       "first-write, but the key exists");
        }
        if (code != SS_OK) break;
        bool retry = false;
        code = batch_once(a, ts, n, &retry, err);
        if (!retry || attempt >= 4) break;
        code = SS_OK;
    }
    for (size_t i = 0; i < n; i++) {
        entity_key_free(&ts[i].k);
        free(ts[i].probe_etag);
    }
    free(ts);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Open / close                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void azt_close(void *self)
{
    azt *a = self;
    ss_http_free(a->http);
    ss_azure_key_clear(&a->key);
    free(a->base);
    free(a->base_path);
    free(a->table);
    free(a->partition);
    memset(a, 0, sizeof *a);
}

static bool table_name_ok(const char *t)
{
    size_t n = strlen(t);
    if (n < 3 || n > 63) return false;
    if (!((t[0] >= 'A' && t[0] <= 'Z') || (t[0] >= 'a' && t[0] <= 'z'))) return false;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z') ||
              (t[i] >= '0' && t[i] <= '9')))
            return false;
    return true;
}

static ss_code create_table(azt *a, ss_error *err)
{
    char body[128], path[512];
    snprintf(body, sizeof body, "{\"TableName\":\"%s\"}", a->table);
    snprintf(path, sizeof path, "%s/Tables", a->base_path);
    const char *extra[] = {"Prefer: return-no-content", NULL};
    call_out o;
    ss_code code = call(a, "POST", path, "application/json", extra, body, strlen(body), &o, err);
    if (code == SS_OK && o.status != 201 && o.status != 204) {
        char c[128], m[512];
        error_text(o.body, o.body_len, c, sizeof c, m, sizeof m);
        if (strcmp(c, "TableAlreadyExists") != 0) code = map_error(o.status, c, m, err);
    }
    call_out_clear(&o);
    return code;
}

static ss_code azt_open(void *self, ss_ctx *ctx, ss_error *err)
{
    azt *a = self;
    a->ctx = ctx;
    ss_code code;
    int64_t timeout_ms = 10000;
    bool cosmos = false, skip_create = false;
    if ((code = ss_prop_duration_ms(ctx, "timeout", 1000, &timeout_ms, err)) != SS_OK ||
        (code = ss_prop_bool(ctx, "cosmosDbMode", &cosmos, err)) != SS_OK ||
        (code = ss_prop_bool(ctx, "skipCreateTable", &skip_create, err)) != SS_OK)
        return code;
    const char *account = ss_prop(ctx, "accountName");
    const char *table = ss_prop(ctx, "tableName");
    if (!table_name_ok(table))
        return ss_error_set(err, SS_INVALID,
                            "property tableName: \"%s\" is not a table name (3-63 letters and "
                            "digits, starting with a letter)",
                            table);
    if ((code = ss_azure_key_init(&a->key, account, ss_prop(ctx, "accountKey"), err)) != SS_OK)
        return code;
    const char *url = ss_prop(ctx, "serviceURL");
    char def[300];
    if (!url || !*url) {
        snprintf(def, sizeof def,
                 cosmos ? "https://%s.table.cosmos.azure.com" : "https://%s.table.core.windows.net",
                 account);
        url = def;
    }
    const char *auth = strstr(url, "://");
    if (!auth || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        ss_azure_key_clear(&a->key);
        return ss_error_set(err, SS_INVALID, "property serviceURL: \"%s\" is not an http(s) URL",
                            url);
    }
    size_t ul = strlen(url);
    while (ul > 0 && url[ul - 1] == '/') ul--;
    a->base = strndup(url, ul);
    const char *path = a->base ? strchr(strstr(a->base, "://") + 3, '/') : NULL;
    a->base_path = strdup(path ? path : "");
    a->table = strdup(table);
    const char *part = ss_prop(ctx, "partitionKey");
    a->partition = part && *part ? strdup(part) : NULL;
    ss_http_options ho = {.timeout_ms = (long)timeout_ms};
    a->http = ss_http_new(&ho);
    if (!a->base || !a->base_path || !a->table || (part && *part && !a->partition) || !a->http) {
        azt_close(a);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    if (!skip_create && (code = create_table(a, err)) != SS_OK) {
        azt_close(a);
        return code;
    }
    return SS_OK;
}

static const ss_property azt_props[] = {
    {"accountName", true, false, NULL, "storage account name"},
    {"accountKey", true, true, NULL, "storage account key (base64), for SharedKey signing"},
    {"tableName", true, false, NULL, "table (created at open unless skipCreateTable)"},
    {"cosmosDbMode", false, false, "false",
     "default serviceURL is Cosmos DB's Table API (<account>.table.cosmos.azure.com)"},
    {"serviceURL", false, false, NULL,
     "service URL; default https://<account>.table.core.windows.net (Azurite: "
     "http://host:port/<account>)"},
    {"skipCreateTable", false, false, "false", "do not create the table at open"},
    {"partitionKey", false, false, NULL,
     "put every key into this partition (RowKey = key); default: Dapr's split at \"||\""},
    {"timeout", false, false, "10s", "per-request timeout"},
};

const ss_driver ss_driver_azure_table = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "azure.tablestorage",
            .aliases = NULL,
            .version = "v1",
            .summary = "Azure Table Storage (REST, SharedKey); Dapr azure.tablestorage layout",
            .features = {.flags =
                             SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE | SS_FEATURE_TRANSACTIONAL,
                         .max_tx_ops = MAX_TX_OPS,
                         .max_key_len = MAX_KEY_UNITS,
                         .max_value_len = MAX_VALUE_LEN},
            .properties = azt_props,
            .property_count = sizeof azt_props / sizeof azt_props[0],
        },
    .instance_size = sizeof(azt),
    .open = azt_open,
    .close = azt_close,
    .ping = azt_ping,
    .get = azt_get,
    .set = azt_set,
    .del = azt_del,
    .transact = azt_transact,
};

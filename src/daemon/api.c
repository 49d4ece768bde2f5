/*
 * api.c — Dapr's state HTTP API (/v1.0/state, healthz, metadata) over the public library.
 * Status codes, error codes and messages follow daprd (pkg/api/http) so Dapr SDKs behave the
 * same against statestored; see docs/DAEMON.md for the differences we chose.
 */
#include "daemon.h"
#include "state_ops.h"
#include "support/arena.h"
#include "support/json.h"
#include "support/pct.h"
#include "support/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                             */
/* ---------------------------------------------------------------------------------------- */

static void set_body(hresp *r, int status, const char *ct, char *body, size_t len)
{
    r->status = status;
    r->content_type = ct;
    r->body = body;
    r->len = len;
}

static void oom_resp(hresp *r)
{
    static const char msg[] = "{\"errorCode\":\"ERR_INTERNAL\",\"message\":\"out of memory\"}";
    char *b = malloc(sizeof msg);
    if (b) memcpy(b, msg, sizeof msg);
    set_body(r, 500, CT_JSON, b, b ? sizeof msg - 1 : 0);
}

/* Dapr's error body: {"errorCode": "...", "message": "..."}. */
static void err_resp(hresp *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_resp(hresp *r, int status, const char *code, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ss_buf b = {0};
    ss_buf_str(&b, "{\"errorCode\":");
    ss_json_put_cstr(&b, code);
    ss_buf_str(&b, ",\"message\":");
    ss_json_put_cstr(&b, msg);
    ss_buf_str(&b, "}");
    size_t len;
    char *body = ss_buf_take(&b, &len);
    if (!body) {
        oom_resp(r);
        return;
    }
    set_body(r, status, CT_JSON, body, len);
    r->errmsg = body;
}

static void empty_resp(hresp *r, int status)
{
    set_body(r, status, NULL, NULL, 0);
}

static int status_of(ss_code c)
{
    int s = ss_code_http_status(c);
    return s >= 400 ? s : 500;
}

/* A shared-layer failure as daprd's HTTP status and error body. */
static void http_err(hresp *r, const derr *e)
{
    static const int status[] = {
        [DF_BAD_REQUEST] = 400,   [DF_NO_STORE] = 400,     [DF_NOT_CONFIGURED] = 500,
        [DF_ETAG_MISMATCH] = 409, [DF_ETAG_INVALID] = 400, [DF_UNSUPPORTED] = 500,
        [DF_BAD_OPERATION] = 400, [DF_STORE] = 500,        [DF_TRANSACTION] = 500,
        [DF_OOM] = 500,
    };
    if (e->fail == DF_OOM) {
        oom_resp(r);
        return;
    }
    int st = e->fail == DF_STORE ? status_of(e->sc) : status[e->fail];
    err_resp(r, st ? st : 500, e->code, "%s", e->msg);
}

static bool add_header(hresp *r, const char *name, size_t nlen, const char *value)
{
    char **h = realloc(r->headers, (r->nheaders + 1) * 2 * sizeof *h);
    if (!h) return false;
    r->headers = h;
    char *n = malloc(nlen + 1);
    char *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return false;
    }
    memcpy(n, name, nlen);
    n[nlen] = '\0';
    h[r->nheaders * 2] = n;
    h[r->nheaders * 2 + 1] = v;
    r->nheaders++;
    return true;
}

void hresp_free(hresp *r)
{
    if (!r) return;
    if (r->value)
        ss_value_free(r->value);
    else
        free(r->body);
    for (size_t i = 0; i < r->nheaders * 2; i++) free(r->headers[i]);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

static const char *query_get(const hreq *q, const char *name)
{
    for (size_t i = 0; i < q->nquery; i++)
        if (strcmp(q->query[i].name, name) == 0) return q->query[i].value;
    return NULL;
}

/* metadata.<k> query parameters, first value of each name wins (as Go's url.Values.Get). */
static bool query_metadata(const hreq *q, ss_arena *a, ss_pair **out, size_t *count)
{
    size_t n = 0;
    for (size_t i = 0; i < q->nquery; i++)
        if (strncmp(q->query[i].name, "metadata.", 9) == 0) n++;
    *out = NULL;
    *count = 0;
    if (!n) return true;
    ss_pair *p = ss_arena_alloc(a, n * sizeof *p);
    if (!p) return false;
    size_t k = 0;
    for (size_t i = 0; i < q->nquery; i++) {
        const char *name = q->query[i].name;
        if (strncmp(name, "metadata.", 9) != 0) continue;
        name += 9;
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++) dup = strcmp(p[j].name, name) == 0;
        if (dup) continue;
        p[k].name = name;
        p[k].value = q->query[i].value ? q->query[i].value : "";
        k++;
    }
    *out = p;
    *count = k;
    return true;
}

/* Request metadata = body metadata with the query's metadata.* merged over it (daprd's order). */
static bool merge_metadata(ss_arena *a, const ss_pair *body, size_t nbody, const ss_pair *q,
                           size_t nq, const ss_pair **out, size_t *count)
{
    if (!nq || !nbody) {
        *out = nq ? q : body;
        *count = nq ? nq : nbody;
        return true;
    }
    ss_pair *p = ss_arena_alloc(a, (nbody + nq) * sizeof *p);
    if (!p) return false;
    size_t k = 0;
    for (size_t i = 0; i < nbody; i++) {
        bool over = false;
        for (size_t j = 0; j < nq && !over; j++) over = strcmp(body[i].name, q[j].name) == 0;
        if (!over) p[k++] = body[i];
    }
    for (size_t j = 0; j < nq; j++) p[k++] = q[j];
    *out = p;
    *count = k;
    return true;
}

/* Resolves the store or writes daprd's error. */
static const dstore *resolve_store(const dserver *s, const char *name, hresp *r)
{
    derr e;
    const dstore *st = ds_store(s, name, &e);
    if (!st) http_err(r, &e);
    return st;
}

static char *make_key_buf(const dserver *s, const dstore *st, const char *key, size_t klen,
                          ss_arena *a, hresp *r, const char *where, char *buf, size_t buflen)
{
    derr e;
    char *k = ds_key(s, st, key, klen, a, &e, where, buf, buflen);
    if (!k) http_err(r, &e);
    return k;
}

static char *make_key(const dserver *s, const dstore *st, const char *key, size_t klen, ss_arena *a,
                      hresp *r, const char *where)
{
    return make_key_buf(s, st, key, klen, a, r, where, NULL, 0);
}

/* --max-bulk-items: checked before anything is allocated per item. */
static bool too_many(const dserver *s, size_t n, const char *what, const char *code, hresp *r)
{
    derr e;
    if (ds_count_ok(s, n, what, code, &e)) return false;
    http_err(r, &e);
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Body items (shared by save and transaction)                                               */
/* ---------------------------------------------------------------------------------------- */

typedef struct item {
    char *key; /* user key, decoded */
    const char *value;
    size_t value_len;
    char *etag;
    ss_pair *md;
    size_t nmd;
    char *concurrency;
    char *consistency;
} item;

/* A string member: absent or null leaves *out NULL; any other non-string is an error. */
static bool str_member(const ss_json *d, int obj, const char *name, ss_arena *a, char **out,
                       size_t *len, char *err, size_t errlen, const char *where)
{
    *out = NULL;
    if (len) *len = 0;
    int v = ss_json_get(d, obj, name, true);
    if (v < 0 || ss_json_typeof(d, v) == SS_JSON_NULL) return true;
    if (ss_json_typeof(d, v) != SS_JSON_STRING) {
        snprintf(err, errlen, "%s%s must be a string", where, name);
        return false;
    }
    *out = ss_json_string(d, v, a, len);
    if (!*out) snprintf(err, errlen, "out of memory");
    return *out != NULL;
}

static bool md_member(const ss_json *d, int obj, const char *name, ss_arena *a, ss_pair **out,
                      size_t *count, char *err, size_t errlen, const char *where)
{
    *out = NULL;
    *count = 0;
    int v = ss_json_get(d, obj, name, true);
    if (v < 0 || ss_json_typeof(d, v) == SS_JSON_NULL) return true;
    if (ss_json_typeof(d, v) != SS_JSON_OBJECT) {
        snprintf(err, errlen, "%s%s must be an object of strings", where, name);
        return false;
    }
    int n = ss_json_size(d, v);
    if (!n) return true;
    ss_pair *p = ss_arena_alloc(a, (size_t)n * sizeof *p);
    if (!p) return snprintf(err, errlen, "out of memory"), false;
    int k = ss_json_child(d, v);
    for (int i = 0; i < n; i++) {
        int val = k + 1;
        ss_json_type t = ss_json_typeof(d, val);
        char *nm = ss_json_string(d, k, a, NULL);
        char *vs = t == SS_JSON_STRING ? ss_json_string(d, val, a, NULL) : (char *)"";
        if (!nm || !vs) return snprintf(err, errlen, "out of memory"), false;
        if (t != SS_JSON_STRING && t != SS_JSON_NULL) {
            snprintf(err, errlen, "%s%s.%s must be a string", where, name, nm);
            return false;
        }
        p[i].name = nm;
        p[i].value = vs;
        k = ss_json_next(d, val);
    }
    *out = p;
    *count = (size_t)n;
    return true;
}

static bool parse_item(const ss_json *d, int obj, ss_arena *a, item *it, char *err, size_t errlen,
                       const char *where)
{
    memset(it, 0, sizeof *it);
    if (ss_json_typeof(d, obj) != SS_JSON_OBJECT) {
        snprintf(err, errlen, "%smust be an object", where);
        return false;
    }
    size_t klen = 0;
    if (!str_member(d, obj, "key", a, &it->key, &klen, err, errlen, where)) return false;
    if (it->key && memchr(it->key, '\0', klen)) {
        snprintf(err, errlen, "%skey must not contain a NUL character", where);
        return false;
    }
    int v = ss_json_get(d, obj, "value", true);
    if (v >= 0) {
        it->value = ss_json_raw(d, v, &it->value_len);
    } else {
        it->value = "null"; /* what daprd stores for a missing value (Go's nil marshalled) */
        it->value_len = 4;
    }
    if (!str_member(d, obj, "etag", a, &it->etag, NULL, err, errlen, where)) return false;
    if (!md_member(d, obj, "metadata", a, &it->md, &it->nmd, err, errlen, where)) return false;
    int o = ss_json_get(d, obj, "options", true);
    if (o >= 0 && ss_json_typeof(d, o) != SS_JSON_NULL) {
        if (ss_json_typeof(d, o) != SS_JSON_OBJECT) {
            snprintf(err, errlen, "%soptions must be an object", where);
            return false;
        }
        if (!str_member(d, o, "concurrency", a, &it->concurrency, NULL, err, errlen, where) ||
            !str_member(d, o, "consistency", a, &it->consistency, NULL, err, errlen, where))
            return false;
    }
    return true;
}

/* parse_item for a save or a transaction operation: a bad item is answered here, with 400 (500
 * when out of memory), and false returned. */
static bool parse_item_or_answer(const ss_json *d, int obj, ss_arena *a, item *it, hresp *r,
                                 const char *where)
{
    char err[512];
    if (parse_item(d, obj, a, it, err, sizeof err, where)) return true;
    if (a->oom)
        oom_resp(r);
    else
        err_resp(r, 400, "ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: %s", err);
    return false;
}

/* ---------------------------------------------------------------------------------------- */
/* Handlers                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static void h_get(const dserver *s, const dstore *st, const char *key, size_t klen, const hreq *q,
                  hresp *r)
{
    ss_arena a = {0};
    char kbuf[512];
    char *k = make_key_buf(s, st, key, klen, &a, r, "", kbuf, sizeof kbuf);
    ss_get_request g = {.key = k, .consistency = query_get(q, "consistency")};
    if (!k || !query_metadata(q, &a, (ss_pair **)&g.metadata, &g.metadata_count)) {
        if (k) oom_resp(r);
        ss_arena_free(&a);
        return;
    }
    ss_value *v = NULL;
    derr e;
    if (!ds_get(st, &g, key, &v, &e)) {
        http_err(r, &e);
    } else if (!v) {
        empty_resp(r, 204);
    } else {
        r->value = v;
        set_body(r, 200, CT_JSON, v->data, v->len);
        bool ok = true;
        if (v->etag && *v->etag) r->etag = v->etag;
        for (size_t i = 0; ok && i < v->metadata_count; i++) {
            char name[256];
            int n = snprintf(name, sizeof name, "metadata.%s", v->metadata[i].name);
            if (n > 0 && (size_t)n < sizeof name)
                ok = add_header(r, name, (size_t)n, v->metadata[i].value);
        }
        if (!ok) {
            hresp_free(r);
            oom_resp(r);
        }
    }
    ss_arena_free(&a);
}

static void h_delete(const dserver *s, const dstore *st, const char *key, size_t klen,
                     const hreq *q, hresp *r)
{
    ss_arena a = {0};
    char kbuf[512];
    char *k = make_key_buf(s, st, key, klen, &a, r, "", kbuf, sizeof kbuf);
    ss_delete_request d = {
        .key = k,
        .etag = q->if_match && *q->if_match ? q->if_match : NULL,
        .options = {.concurrency = query_get(q, "concurrency"),
                    .consistency = query_get(q, "consistency")},
    };
    if (!k || !query_metadata(q, &a, (ss_pair **)&d.metadata, &d.metadata_count)) {
        if (k) oom_resp(r);
        ss_arena_free(&a);
        return;
    }
    derr e;
    if (ds_delete(st, &d, key, &e))
        empty_resp(r, 204);
    else
        http_err(r, &e);
    ss_arena_free(&a);
}

static bool parse_body(const hreq *q, hresp *r, ss_json *doc)
{
    char err[256];
    ss_json_result res =
        ss_json_parse(doc, q->body ? q->body : "", q->body_len, 0, err, sizeof err);
    if (res == SS_JSON_NOMEM)
        oom_resp(r);
    else if (res != SS_JSON_OK)
        err_resp(r, 400, "ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: %s", err);
    return res == SS_JSON_OK;
}

static void h_save(const dserver *s, const dstore *st, const hreq *q, hresp *r)
{
    ss_json doc;
    if (!parse_body(q, r, &doc)) return;
    const ss_json *d = &doc;
    ss_arena a = {0};
    if (ss_json_typeof(d, 0) != SS_JSON_ARRAY) {
        err_resp(r, 400, "ERR_MALFORMED_REQUEST",
                 "failed deserializing HTTP body: the body must be a JSON array of state items");
        goto out;
    }
    size_t n = (size_t)ss_json_size(d, 0);
    if (n == 0) {
        empty_resp(r, 204);
        goto out;
    }
    if (too_many(s, n, "state items", "ERR_MALFORMED_REQUEST", r)) goto out;
    ss_pair *qmd;
    size_t nqmd;
    ss_set_request *reqs = ss_arena_alloc(&a, n * sizeof *reqs);
    if (!reqs || !query_metadata(q, &a, &qmd, &nqmd)) {
        oom_resp(r);
        goto out;
    }
    int t = ss_json_child(d, 0);
    for (size_t i = 0; i < n; i++, t = ss_json_next(d, t)) {
        char where[64];
        snprintf(where, sizeof where, "item %zu: ", i);
        item it;
        if (!parse_item_or_answer(d, t, &a, &it, r, where)) goto out;
        const char *key = it.key ? it.key : "";
        char *k = make_key(s, st, key, strlen(key), &a, r, where);
        if (!k) goto out;
        reqs[i] = (ss_set_request){
            .key = k,
            .value = it.value,
            .value_len = it.value_len,
            .etag = it.etag,
            .options = {.concurrency = it.concurrency, .consistency = it.consistency},
        };
        if (!merge_metadata(&a, it.md, it.nmd, qmd, nqmd, &reqs[i].metadata,
                            &reqs[i].metadata_count)) {
            oom_resp(r);
            goto out;
        }
    }
    derr e;
    if (ds_save(st, reqs, n, &e))
        empty_resp(r, 204);
    else
        http_err(r, &e);
out:
    ss_arena_free(&a);
    ss_json_dispose(&doc);
}

static void h_bulk(const dserver *s, const dstore *st, const hreq *q, hresp *r)
{
    ss_json doc;
    if (!parse_body(q, r, &doc)) return;
    const ss_json *d = &doc;
    ss_arena a = {0};
    ss_results res = {0};
    ss_buf b = {0};
    if (ss_json_typeof(d, 0) != SS_JSON_OBJECT) {
        err_resp(r, 400, "ERR_MALFORMED_REQUEST",
                 "failed deserializing HTTP body: the body must be a JSON object");
        goto out;
    }
    int keys = ss_json_get(d, 0, "keys", true);
    if (keys >= 0 && ss_json_typeof(d, keys) != SS_JSON_ARRAY &&
        ss_json_typeof(d, keys) != SS_JSON_NULL) {
        err_resp(r, 400, "ERR_MALFORMED_REQUEST",
                 "failed deserializing HTTP body: keys must be an array of strings");
        goto out;
    }
    long parallelism = 0;
    int par = ss_json_get(d, 0, "parallelism", true);
    if (par >= 0 && ss_json_typeof(d, par) != SS_JSON_NULL) {
        size_t plen;
        const char *p = ss_json_raw(d, par, &plen);
        char tmp[32];
        char *end = NULL;
        long v = -1;
        if (ss_json_typeof(d, par) == SS_JSON_NUMBER && plen < sizeof tmp) {
            memcpy(tmp, p, plen);
            tmp[plen] = '\0';
            v = strtol(tmp, &end, 10);
        }
        if (v < 0 || !end || *end) {
            err_resp(r, 400, "ERR_MALFORMED_REQUEST",
                     "failed deserializing HTTP body: parallelism must be a non-negative integer");
            goto out;
        }
        parallelism = v;
    }
    ss_pair *bmd, *qmd;
    size_t nbmd, nqmd;
    char err[512];
    if (!md_member(d, 0, "metadata", &a, &bmd, &nbmd, err, sizeof err, "")) {
        if (a.oom)
            oom_resp(r);
        else
            err_resp(r, 400, "ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: %s", err);
        goto out;
    }
    const ss_pair *md;
    size_t nmd;
    if (!query_metadata(q, &a, &qmd, &nqmd) ||
        !merge_metadata(&a, bmd, nbmd, qmd, nqmd, &md, &nmd)) {
        oom_resp(r);
        goto out;
    }
    size_t n =
        keys >= 0 && ss_json_typeof(d, keys) == SS_JSON_ARRAY ? (size_t)ss_json_size(d, keys) : 0;
    if (too_many(s, n, "keys", "ERR_MALFORMED_REQUEST", r)) goto out;
    ss_get_request *reqs = ss_arena_alloc(&a, (n ? n : 1) * sizeof *reqs);
    char **ukeys = ss_arena_alloc(&a, (n ? n : 1) * sizeof *ukeys);
    size_t *ulens = ss_arena_alloc(&a, (n ? n : 1) * sizeof *ulens);
    if (!reqs || !ukeys || !ulens) {
        oom_resp(r);
        goto out;
    }
    int t = n ? ss_json_child(d, keys) : 0;
    for (size_t i = 0; i < n; i++, t = ss_json_next(d, t)) {
        char where[64];
        snprintf(where, sizeof where, "keys[%zu]: ", i);
        if (ss_json_typeof(d, t) != SS_JSON_STRING) {
            err_resp(r, 400, "ERR_MALFORMED_REQUEST",
                     "failed deserializing HTTP body: %skey must be a string", where);
            goto out;
        }
        ukeys[i] = ss_json_string(d, t, &a, &ulens[i]);
        if (!ukeys[i]) {
            oom_resp(r);
            goto out;
        }
        char *k = make_key(s, st, ukeys[i], ulens[i], &a, r, where);
        if (!k) goto out;
        reqs[i] = (ss_get_request){.key = k, .metadata = md, .metadata_count = nmd};
    }
    if (n == 0) {
        char *body = strdup("[]");
        if (body)
            set_body(r, 200, CT_JSON, body, 2);
        else
            oom_resp(r);
        goto out;
    }
    derr e;
    if (!ds_bulk_get(st, reqs, n, parallelism, &res, &e)) {
        http_err(r, &e);
        goto out;
    }
    ss_buf_str(&b, "[");
    for (size_t i = 0; i < n && i < res.count; i++) {
        const ss_item_result *it = &res.items[i];
        if (i) ss_buf_str(&b, ",");
        ss_buf_str(&b, "{\"key\":");
        ss_json_put_str(&b, ukeys[i], ulens[i]);
        if (it->code != SS_OK) {
            ss_buf_str(&b, ",\"error\":");
            ss_json_put_cstr(&b, it->error ? it->error : ss_code_text(it->code));
        } else if (it->value) {
            const ss_value *v = it->value;
            ss_buf_str(&b, ",\"data\":");
            /* Values stored by other clients may not be JSON: send those as a JSON string. */
            if (ss_json_valid(v->data, v->len, 0, NULL, 0))
                ss_buf_add(&b, v->data, v->len);
            else
                ss_json_put_str(&b, v->data, v->len);
            if (v->etag && *v->etag) {
                ss_buf_str(&b, ",\"etag\":");
                ss_json_put_cstr(&b, v->etag);
            }
            if (v->metadata_count) {
                ss_buf_str(&b, ",\"metadata\":{");
                for (size_t m = 0; m < v->metadata_count; m++) {
                    if (m) ss_buf_str(&b, ",");
                    ss_json_put_cstr(&b, v->metadata[m].name);
                    ss_buf_str(&b, ":");
                    ss_json_put_cstr(&b, v->metadata[m].value);
                }
                ss_buf_str(&b, "}");
            }
        }
        ss_buf_str(&b, "}");
    }
    ss_buf_str(&b, "]");
    size_t len;
    char *body = ss_buf_take(&b, &len);
    if (!body)
        oom_resp(r);
    else
        set_body(r, 200, CT_JSON, body, len);
out:
    ss_buf_free(&b);
    ss_results_free(&res);
    ss_arena_free(&a);
    ss_json_dispose(&doc);
}

static void h_transaction(const dserver *s, const dstore *st, const hreq *q, hresp *r)
{
    derr e;
    if (!ds_tx_supported(st, &e)) {
        http_err(r, &e);
        return;
    }
    ss_json doc;
    if (!parse_body(q, r, &doc)) return;
    const ss_json *d = &doc;
    ss_arena a = {0};
    char err[512];
    if (ss_json_typeof(d, 0) != SS_JSON_OBJECT) {
        err_resp(r, 400, "ERR_MALFORMED_REQUEST",
                 "failed deserializing HTTP body: the body must be a JSON object");
        goto out;
    }
    int ops = ss_json_get(d, 0, "operations", true);
    if (ops >= 0 && ss_json_typeof(d, ops) != SS_JSON_ARRAY &&
        ss_json_typeof(d, ops) != SS_JSON_NULL) {
        err_resp(r, 400, "ERR_MALFORMED_REQUEST",
                 "failed deserializing HTTP body: operations must be an array");
        goto out;
    }
    ss_pair *bmd, *qmd;
    size_t nbmd, nqmd;
    if (!md_member(d, 0, "metadata", &a, &bmd, &nbmd, err, sizeof err, "")) {
        if (a.oom)
            oom_resp(r);
        else
            err_resp(r, 400, "ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: %s", err);
        goto out;
    }
    ss_transaction tx = {0};
    if (!query_metadata(q, &a, &qmd, &nqmd) ||
        !merge_metadata(&a, bmd, nbmd, qmd, nqmd, &tx.metadata, &tx.metadata_count)) {
        oom_resp(r);
        goto out;
    }
    size_t n =
        ops >= 0 && ss_json_typeof(d, ops) == SS_JSON_ARRAY ? (size_t)ss_json_size(d, ops) : 0;
    if (n == 0) {
        empty_resp(r, 204);
        goto out;
    }
    if (!ds_count_ok(s, n, "operations", "ERR_STATE_STORE_TOO_MANY_TRANSACTIONS", &e)) {
        http_err(r, &e);
        goto out;
    }
    ss_operation *op = ss_arena_alloc(&a, n * sizeof *op);
    if (!op) {
        oom_resp(r);
        goto out;
    }
    int t = ss_json_child(d, ops);
    for (size_t i = 0; i < n; i++, t = ss_json_next(d, t)) {
        char where[64];
        snprintf(where, sizeof where, "operations[%zu]: ", i);
        if (ss_json_typeof(d, t) != SS_JSON_OBJECT) {
            err_resp(r, 400, "ERR_MALFORMED_REQUEST",
                     "failed deserializing HTTP body: %smust be an object", where);
            goto out;
        }
        char *kind = NULL;
        if (!str_member(d, t, "operation", &a, &kind, NULL, err, sizeof err, where)) {
            if (a.oom)
                oom_resp(r);
            else
                err_resp(r, 400, "ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: %s",
                         err);
            goto out;
        }
        int rq = ss_json_get(d, t, "request", true);
        item it;
        if (rq < 0 || ss_json_typeof(d, rq) == SS_JSON_NULL) {
            memset(&it, 0, sizeof it);
        } else if (!parse_item_or_answer(d, rq, &a, &it, r, where)) {
            goto out;
        }
        const char *key = it.key ? it.key : "";
        char *k = make_key(s, st, key, strlen(key), &a, r, where);
        if (!k) goto out;
        ss_write_options o = {.concurrency = it.concurrency, .consistency = it.consistency};
        if (!ds_tx_kind(kind, &op[i].kind, &e)) {
            http_err(r, &e);
            goto out;
        }
        if (op[i].kind == SS_OP_UPSERT) {
            op[i].set = (ss_set_request){.key = k,
                                         .value = it.value,
                                         .value_len = it.value_len,
                                         .etag = it.etag,
                                         .metadata = it.md,
                                         .metadata_count = it.nmd,
                                         .options = o};
        } else {
            op[i].del = (ss_delete_request){.key = k,
                                            .etag = it.etag,
                                            .metadata = it.md,
                                            .metadata_count = it.nmd,
                                            .options = o};
        }
    }
    tx.ops = op;
    tx.count = n;
    if (ds_tx_check(s, st, n, &e) && ds_transact(st, &tx, &e))
        empty_resp(r, 204);
    else
        http_err(r, &e);
out:
    ss_arena_free(&a);
    ss_json_dispose(&doc);
}

static void write_capabilities(ss_buf *b, const ss_features *f)
{
    const char *caps[4];
    size_t n = ds_capabilities(f, caps);
    ss_buf_str(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) ss_buf_str(b, ",");
        ss_json_put_cstr(b, caps[i]);
    }
    ss_buf_str(b, "]");
}

static void h_metadata(const dserver *s, hresp *r)
{
    ss_buf b = {0};
    ss_buf_str(&b, "{\"id\":");
    ss_json_put_cstr(&b, s->app_id);
    ss_buf_str(&b, ",\"runtimeVersion\":");
    ss_json_put_cstr(&b, SS_VERSION_STRING);
    ss_buf_str(&b, ",\"enabledFeatures\":[],\"actors\":[],\"components\":[");
    for (size_t i = 0; i < s->nstores; i++) {
        const dstore *st = &s->stores[i];
        if (i) ss_buf_str(&b, ",");
        ss_buf_str(&b, "{\"name\":");
        ss_json_put_cstr(&b, st->name);
        ss_buf_str(&b, ",\"type\":");
        ss_json_put_cstr(&b, st->type);
        ss_buf_str(&b, ",\"version\":");
        ss_json_put_cstr(&b, st->version);
        ss_buf_str(&b, ",\"capabilities\":");
        write_capabilities(&b, &st->features);
        ss_buf_str(&b, "}");
    }
    ss_buf_str(&b, "],\"httpEndpoints\":[],\"subscriptions\":[],\"appConnectionProperties\":{},"
                   "\"extended\":{\"daprRuntimeVersion\":\"statestored ");
    ss_buf_str(&b, SS_VERSION_STRING);
    ss_buf_str(&b, "\",\"drivers\":[");
    for (size_t i = 0; i < s->nstores; i++) {
        if (i) ss_buf_str(&b, ",");
        ss_json_put_cstr(&b, ss_store_driver(s->stores[i].store));
    }
    ss_buf_str(&b, "]}}");
    size_t len;
    char *body = ss_buf_take(&b, &len);
    if (!body) {
        oom_resp(r);
        return;
    }
    set_body(r, 200, CT_JSON, body, len);
}

static bool is_write(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0;
}

static void method_not_allowed(hresp *r, const char *method, const char *path)
{
    err_resp(r, 405, "ERR_METHOD_NOT_ALLOWED", "method %s is not allowed on %s", method, path);
}

void api_handle(const dserver *s, const hreq *q, hresp *r)
{
    memset(r, 0, sizeof *r);
    const char *m = q->method;
    size_t plen = strlen(q->path);
    char pathbuf[256];
    char *path = plen < sizeof pathbuf ? pathbuf : malloc(plen + 1);
    if (!path) {
        oom_resp(r);
        return;
    }
    memcpy(path, q->path, plen + 1);
    /* daprd strips trailing slashes before routing */
    while (plen > 1 && path[plen - 1] == '/') path[--plen] = '\0';

    bool get = strcmp(m, "GET") == 0;
    bool health =
        get && (strcmp(path, "/v1.0/healthz") == 0 || strcmp(path, "/v1.0/healthz/outbound") == 0);
    if (s->token && !health && !ds_token_ok(s, q->token, q->token ? strlen(q->token) : 0)) {
        char *b = strdup("invalid api token");
        set_body(r, 401, CT_TEXT, b, b ? strlen(b) : 0);
        r->errmsg = b;
        goto done;
    }
    if (strcmp(path, "/v1.0/healthz") == 0 || strcmp(path, "/v1.0/healthz/outbound") == 0) {
        if (!get) {
            method_not_allowed(r, m, path);
            goto done;
        }
        const char *appid = query_get(q, "appid");
        if (appid && *appid && strcmp(appid, s->app_id) != 0)
            err_resp(r, 500, "ERR_HEALTH_APPID_NOT_MATCH", "dapr app-id does not match");
        else
            empty_resp(r, 204);
        goto done;
    }
    if (strcmp(path, "/v1.0/metadata") == 0) {
        if (get)
            h_metadata(s, r);
        else
            method_not_allowed(r, m, path);
        goto done;
    }
    static const char pfx[] = "/v1.0/state/";
    if (strncmp(path, pfx, sizeof pfx - 1) != 0 || plen == sizeof pfx - 1) {
        err_resp(r, 404, "ERR_NOT_FOUND", "no route for %s %s", m, path);
        goto done;
    }
    char *store_raw = path + sizeof pfx - 1;
    char *rest = strchr(store_raw, '/');
    if (rest) *rest++ = '\0';
    char store[256];
    size_t srl = strlen(store_raw);
    if (srl >= sizeof store) {
        err_resp(r, 400, "ERR_STATE_STORE_NOT_FOUND", "state store name too long (%zu bytes)", srl);
        goto done;
    }
    if (ss_pct_decode(store, store_raw, srl, SS_PCT_PLUS) < 0) {
        err_resp(r, 400, "ERR_MALFORMED_REQUEST", "invalid URL escape in store name: %s",
                 store_raw);
        goto done;
    }
    if (!rest) {
        if (!is_write(m)) {
            method_not_allowed(r, m, q->path);
            goto done;
        }
        const dstore *st = resolve_store(s, store, r);
        if (st) h_save(s, st, q, r);
        goto done;
    }
    if (is_write(m) && (strcmp(rest, "bulk") == 0 || strcmp(rest, "transaction") == 0)) {
        const dstore *st = resolve_store(s, store, r);
        if (!st) goto done;
        if (rest[0] == 'b')
            h_bulk(s, st, q, r);
        else
            h_transaction(s, st, q, r);
        goto done;
    }
    if (!get && strcmp(m, "DELETE") != 0) {
        method_not_allowed(r, m, q->path);
        goto done;
    }
    {
        /* The key is everything after the store: keys may hold '/', as the JS SDK sends them. */
        size_t rl = strlen(rest);
        char kbuf[256];
        char *key = rl < sizeof kbuf ? kbuf : malloc(rl + 1);
        if (!key) {
            oom_resp(r);
            goto done;
        }
        long kl = ss_pct_decode(key, rest, rl, SS_PCT_PLUS);
        if (kl < 0) {
            err_resp(r, 400, "ERR_MALFORMED_REQUEST", "invalid URL escape in key: %s", rest);
        } else {
            const dstore *st = resolve_store(s, store, r);
            if (st && get)
                h_get(s, st, key, (size_t)kl, q, r);
            else if (st)
                h_delete(s, st, key, (size_t)kl, q, r);
        }
        if (key != kbuf) free(key);
    }
done:
    if (path != pathbuf) free(path);
}

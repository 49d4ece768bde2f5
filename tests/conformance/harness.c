/*
 * harness.c — expectations, case-owned memory and the key registry of the conformance suite.
 */
#include "conformance.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What a successful call must leave in the caller's ss_error: it is filled only on failure. */
#define ERR_SENTINEL "\x01 conformance: untouched \x01"

typedef struct cf_owned {
    struct cf_owned *next;
    void *ptr;
    void (*release)(void *);
} cf_owned;

struct cf_t {
    const cf_env *env;
    const cf_case *c;
    cf_status status;
    char msg[4096];
    char step[512];
    cf_owned *owned;
};

/* ------------------------------------------------------------------------------------------ */
/* Case lifecycle                                                                             */
/* ------------------------------------------------------------------------------------------ */

cf_t *cf_case_new(const cf_env *env, const cf_case *c)
{
    cf_t *t = calloc(1, sizeof *t);
    if (!t) {
        fprintf(stderr, "conformance: out of memory\n");
        abort();
    }
    t->env = env;
    t->c = c;
    return t;
}

static void release_all(cf_t *t)
{
    while (t->owned) {
        cf_owned *o = t->owned;
        t->owned = o->next;
        o->release(o->ptr);
        free(o);
    }
}

void cf_case_run(cf_t *t)
{
    t->status = CF_PASS;
    t->msg[0] = '\0';
    t->step[0] = '\0';
    t->c->run(t);
    release_all(t);
}

cf_status cf_case_status(const cf_t *t)
{
    return t->status;
}

const char *cf_case_message(const cf_t *t)
{
    return t->msg;
}

void cf_case_free(cf_t *t)
{
    if (!t) return;
    release_all(t);
    free(t);
}

const cf_env *cf_env_of(const cf_t *t)
{
    return t->env;
}

bool cf_has(const cf_t *t, unsigned feature)
{
    return (t->env->feat.flags & feature) == feature;
}

/* ------------------------------------------------------------------------------------------ */
/* Outcome                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void record(cf_t *t, cf_status status, const char *fmt, va_list ap)
{
    /* The first failure is the cause; later ones are usually its consequences. */
    if (t->status == CF_FAIL) return;
    t->status = status;
    size_t off = 0;
    if (t->step[0] && status == CF_FAIL) {
        int n = snprintf(t->msg, sizeof t->msg, "[%s] ", t->step);
        off = n > 0 && (size_t)n < sizeof t->msg ? (size_t)n : 0;
    }
    vsnprintf(t->msg + off, sizeof t->msg - off, fmt, ap);
    /* One line per case: a store's message may contain newlines. */
    for (char *p = t->msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

bool cf_fail(cf_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(t, CF_FAIL, fmt, ap);
    va_end(ap);
    return false;
}

bool cf_skip(cf_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(t, CF_SKIP, fmt, ap);
    va_end(ap);
    return false;
}

void cf_step(cf_t *t, const char *fmt, ...)
{
    if (!fmt) {
        t->step[0] = '\0';
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->step, sizeof t->step, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------------------------ */
/* Case-owned memory                                                                          */
/* ------------------------------------------------------------------------------------------ */

static void *xcalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fprintf(stderr, "conformance: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

static void *own(cf_t *t, void *ptr, void (*release)(void *))
{
    if (!ptr) return NULL;
    cf_owned *o = xcalloc(sizeof *o);
    o->ptr = ptr;
    o->release = release;
    o->next = t->owned;
    t->owned = o;
    return ptr;
}

static void release_value(void *p)
{
    ss_value_free(p);
}

static void release_lib_string(void *p)
{
    ss_free(p);
}

static void release_results(void *p)
{
    ss_results_free(p);
    free(p);
}

void *cf_alloc(cf_t *t, size_t n)
{
    return own(t, xcalloc(n), free);
}

char *cf_strdup(cf_t *t, const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = cf_alloc(t, n + 1);
    memcpy(d, s, n);
    return d;
}

static char *vfmt(cf_t *t, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) n = 0;
    char *s = cf_alloc(t, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *cf_fmt(cf_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vfmt(t, fmt, ap);
    va_end(ap);
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Keys                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* Every key made during the run, deleted at the end. Cases run in several threads. */
static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static char **run_keys;
static size_t run_keys_len, run_keys_cap;

static const char *register_key(char *key)
{
    pthread_mutex_lock(&keys_lock);
    if (run_keys_len == run_keys_cap) {
        size_t cap = run_keys_cap ? run_keys_cap * 2 : 256;
        char **grown = realloc(run_keys, cap * sizeof *grown);
        if (!grown) {
            fprintf(stderr, "conformance: out of memory\n");
            abort();
        }
        run_keys = grown;
        run_keys_cap = cap;
    }
    run_keys[run_keys_len++] = key;
    pthread_mutex_unlock(&keys_lock);
    return key;
}

const char *cf_key(cf_t *t, const char *suffix)
{
    size_t n = strlen(t->env->prefix) + strlen(t->c->name) + strlen(suffix) + 3;
    char *k = xcalloc(n);
    snprintf(k, n, "%s-%s-%s", t->env->prefix, t->c->name, suffix);
    return register_key(k);
}

const char *cf_key_len(cf_t *t, size_t len, char last)
{
    size_t plen = strlen(t->env->prefix);
    char *k = xcalloc(len + 1);
    memcpy(k, t->env->prefix, plen < len ? plen : len);
    for (size_t i = plen; i < len; i++) k[i] = (char)('a' + (i % 26));
    if (len > plen) k[plen] = '-';
    if (len > plen + 1) k[len - 1] = last;
    return register_key(k);
}

void cf_keys_free(void)
{
    pthread_mutex_lock(&keys_lock);
    for (size_t i = 0; i < run_keys_len; i++) free(run_keys[i]);
    free(run_keys);
    run_keys = NULL;
    run_keys_len = run_keys_cap = 0;
    pthread_mutex_unlock(&keys_lock);
}

size_t cf_cleanup(const cf_env *env, char *msg, size_t msglen)
{
    size_t failed = 0;
    if (msglen) msg[0] = '\0';
    pthread_mutex_lock(&keys_lock);
    for (size_t i = 0; i < run_keys_len; i++) {
        /* Keys made to be refused (longer than the store's limit) were never written. */
        if (env->feat.max_key_len && strlen(run_keys[i]) > env->feat.max_key_len) continue;
        ss_delete_request req = {.key = run_keys[i]};
        ss_error err = {0};
        if (ss_delete(env->store, &req, &err) != SS_OK) {
            if (failed++ == 0 && msglen)
                snprintf(msg, msglen, "%s: %s: %s", run_keys[i], ss_code_name(err.code),
                         err.message);
        }
    }
    pthread_mutex_unlock(&keys_lock);
    return failed;
}

/* ------------------------------------------------------------------------------------------ */
/* Showing bytes                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* Appends an escaped form of data[0..len) to out (cap bytes), at most `shown` input bytes. */
static size_t escape(char *out, size_t cap, const unsigned char *data, size_t len, size_t shown)
{
    size_t o = 0;
    size_t n = len < shown ? len : shown;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char ch = data[i];
        if (ch == '\\' || ch == '"') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch >= 0x20 && ch < 0x7f) {
            out[o++] = (char)ch;
        } else {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
        }
    }
    if (n < len && o + 32 < cap) o += (size_t)snprintf(out + o, cap - o, "...(%zu bytes)", len);
    out[o] = '\0';
    return o;
}

const char *cf_show(cf_t *t, const void *data, size_t len)
{
    if (!data) return "(null)";
    size_t cap = 80 * 4 + 48;
    char *s = cf_alloc(t, cap);
    s[0] = '"';
    size_t o = 1 + escape(s + 1, cap - 3, data, len, 80);
    s[o++] = '"';
    s[o] = '\0';
    return s;
}

const char *cf_show_key(cf_t *t, const char *key)
{
    if (!key) return "(null key)";
    const char *p = t->env->prefix;
    size_t plen = strlen(p);
    size_t cap = 100 * 4 + 64;
    char *s = cf_alloc(t, cap);
    size_t o = 0;
    s[o++] = '"';
    const char *rest = key;
    if (strncmp(key, p, plen) == 0) {
        memcpy(s + o, "$P", 2);
        o += 2;
        rest = key + plen;
    }
    o += escape(s + o, cap - o - 2, (const unsigned char *)rest, strlen(rest), 100);
    s[o++] = '"';
    s[o] = '\0';
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Checks                                                                                     */
/* ------------------------------------------------------------------------------------------ */

void cf_err_init(ss_error *e)
{
    memset(e, 0, sizeof *e);
    e->code = SS_BACKEND;
    snprintf(e->message, sizeof e->message, "%s", ERR_SENTINEL);
}

static const char *want_names(cf_t *t, unsigned want)
{
    char *s = cf_alloc(t, 256);
    size_t o = 0;
    for (unsigned c = 0; c < 32; c++) {
        if (!(want & (1u << c))) continue;
        o += (size_t)snprintf(s + o, 256 - o, "%s%s", o ? " or " : "", ss_code_name((ss_code)c));
        if (o >= 200) break;
    }
    return s;
}

bool cf_code(cf_t *t, const char *what, ss_code got, unsigned want, const ss_error *err)
{
    bool ok = (unsigned)got < 32 && (want & (1u << (unsigned)got));
    if (!ok) {
        if (got == SS_OK) return cf_fail(t, "%s: expected %s, got OK", what, want_names(t, want));
        return cf_fail(t, "%s: expected %s, got %s: %s", what, want_names(t, want),
                       ss_code_name(got), err ? err->message : "(no ss_error)");
    }
    if (!err) return true;
    if (got == SS_OK) {
        if (err->code != SS_BACKEND || strcmp(err->message, ERR_SENTINEL) != 0)
            return cf_fail(t,
                           "%s: succeeded but wrote into the caller's ss_error (code %s, \"%s\")",
                           what, ss_code_name(err->code), err->message);
        return true;
    }
    if (err->code != got)
        return cf_fail(t, "%s: returned %s but ss_error.code is %s", what, ss_code_name(got),
                       ss_code_name(err->code));
    if (err->message[0] == '\0' || strcmp(err->message, ERR_SENTINEL) == 0)
        return cf_fail(t, "%s: returned %s without a message in ss_error", what, ss_code_name(got));
    if (err->retryable != ss_code_retryable(got))
        return cf_fail(t, "%s: %s with retryable=%s (the code's table says %s)", what,
                       ss_code_name(got), err->retryable ? "true" : "false",
                       ss_code_retryable(got) ? "true" : "false");
    return true;
}

bool cf_msg_has(cf_t *t, const char *what, const ss_error *err, const char *needle)
{
    if (strstr(err->message, needle)) return true;
    return cf_fail(t, "%s: the error message should name %s but is: %s", what,
                   cf_show(t, needle, strlen(needle)), err->message);
}

bool cf_same(cf_t *t, const char *what, const void *want, size_t want_len, const void *got,
             size_t got_len)
{
    if (want_len == got_len && (want_len == 0 || memcmp(want, got, want_len) == 0)) return true;
    const unsigned char *a = want, *b = got;
    size_t i = 0;
    while (i < want_len && i < got_len && a[i] == b[i]) i++;
    if (want_len <= 80 && got_len <= 80)
        return cf_fail(t, "%s: expected %zu bytes %s, got %zu bytes %s", what, want_len,
                       cf_show(t, want, want_len), got_len, cf_show(t, got, got_len));
    return cf_fail(t,
                   "%s: expected %zu bytes, got %zu; first difference at byte %zu: expected %s, "
                   "got %s",
                   what, want_len, got_len, i, cf_show(t, a + i, want_len - i),
                   cf_show(t, b + i, got_len - i));
}

bool cf_value_shape(cf_t *t, const char *what, const ss_value *v)
{
    if (!v->data) return cf_fail(t, "%s: value with data == NULL", what);
    if (v->data[v->len] != '\0')
        return cf_fail(t, "%s: value data is not followed by a NUL byte", what);
    if (cf_has(t, SS_FEATURE_ETAG) && (!v->etag || !v->etag[0]))
        return cf_fail(t, "%s: the store declares ETAG but the value has no ETag", what);
    if (!cf_has(t, SS_FEATURE_ETAG) && v->etag)
        return cf_fail(t, "%s: the store does not declare ETAG but the value has ETag %s", what,
                       cf_show(t, v->etag, strlen(v->etag)));
    if (v->metadata_count && !v->metadata)
        return cf_fail(t, "%s: metadata_count %zu with metadata == NULL", what, v->metadata_count);
    for (size_t i = 0; i < v->metadata_count; i++)
        if (!v->metadata[i].name || !v->metadata[i].value)
            return cf_fail(t, "%s: response metadata %zu has a NULL name or value", what, i);
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Single operations                                                                          */
/* ------------------------------------------------------------------------------------------ */

static const char *describe_write(cf_t *t, const char *op, const char *key, const char *etag,
                                  const ss_write_options *o)
{
    const char *s = cf_fmt(t, "%s %s", op, cf_show_key(t, key));
    if (etag) s = cf_fmt(t, "%s with ETag %s", s, cf_show(t, etag, strlen(etag)));
    if (o->concurrency && o->concurrency[0]) s = cf_fmt(t, "%s (%s)", s, o->concurrency);
    return s;
}

bool cf_put(cf_t *t, const char *key, const void *value, size_t len, char **etag_out)
{
    ss_set_request req = {.key = key, .value = value, .value_len = len};
    return cf_set_req(t, &req, CF_WANT(OK), etag_out);
}

bool cf_puts(cf_t *t, const char *key, const char *text)
{
    return cf_put(t, key, text, strlen(text), NULL);
}

bool cf_set_req(cf_t *t, const ss_set_request *req, unsigned want, char **etag_out)
{
    const char *what = describe_write(t, "set", req->key, req->etag, &req->options);
    ss_error err;
    cf_err_init(&err);
    char *etag = NULL;
    ss_code rc = ss_set(&etag, t->env->store, req, &err);
    own(t, etag, release_lib_string);
    if (etag_out) *etag_out = etag;
    if (!cf_code(t, what, rc, want, &err)) return false;
    if (rc != SS_OK && etag)
        return cf_fail(t, "%s: failed with %s but returned an ETag", what, ss_code_name(rc));
    if (rc == SS_OK && cf_has(t, SS_FEATURE_ETAG) && (!etag || !etag[0]))
        return cf_fail(t, "%s: the store declares ETAG but set returned no new ETag", what);
    if (rc == SS_OK && !cf_has(t, SS_FEATURE_ETAG) && etag)
        return cf_fail(t, "%s: the store does not declare ETAG but set returned ETag %s", what,
                       cf_show(t, etag, strlen(etag)));
    return true;
}

bool cf_del(cf_t *t, const char *key, const char *etag, unsigned want)
{
    ss_delete_request req = {.key = key, .etag = etag};
    return cf_del_req(t, &req, want);
}

bool cf_del_req(cf_t *t, const ss_delete_request *req, unsigned want)
{
    const char *what = describe_write(t, "delete", req->key, req->etag, &req->options);
    ss_error err;
    cf_err_init(&err);
    ss_code rc = ss_delete(t->env->store, req, &err);
    return cf_code(t, what, rc, want, &err);
}

bool cf_get_req(cf_t *t, const ss_get_request *req, ss_value **out)
{
    const char *what = cf_fmt(t, "get %s", cf_show_key(t, req->key));
    ss_error err;
    cf_err_init(&err);
    ss_value *v = NULL;
    ss_code rc = ss_get(&v, t->env->store, req, &err);
    own(t, v, release_value);
    if (out) *out = v;
    if (!cf_code(t, what, rc, CF_WANT(OK), &err)) return false;
    return !v || cf_value_shape(t, what, v);
}

bool cf_get(cf_t *t, const char *key, ss_value **out)
{
    ss_get_request req = {.key = key};
    return cf_get_req(t, &req, out);
}

bool cf_expect(cf_t *t, const char *key, const void *value, size_t len, ss_value **out)
{
    ss_value *v = NULL;
    if (out) *out = NULL;
    if (!cf_get(t, key, &v)) return false;
    const char *what = cf_fmt(t, "get %s", cf_show_key(t, key));
    if (!v)
        return cf_fail(t, "%s: expected %zu bytes %s, got: key not found", what, len,
                       cf_show(t, value, len));
    if (!cf_same(t, what, value, len, v->data, v->len)) return false;
    if (out) *out = v;
    return true;
}

bool cf_expects(cf_t *t, const char *key, const char *text)
{
    return cf_expect(t, key, text, strlen(text), NULL);
}

bool cf_expect_missing(cf_t *t, const char *key)
{
    ss_value *v = NULL;
    if (!cf_get(t, key, &v)) return false;
    if (v)
        return cf_fail(t, "get %s: expected the key to be missing, got %zu bytes %s",
                       cf_show_key(t, key), v->len, cf_show(t, v->data, v->len));
    return true;
}

bool cf_etag_of(cf_t *t, const char *key, char **etag)
{
    ss_value *v = NULL;
    *etag = NULL;
    if (!cf_get(t, key, &v)) return false;
    if (!v)
        return cf_fail(t, "get %s: expected the key to exist, got: not found", cf_show_key(t, key));
    if (!v->etag || !v->etag[0])
        return cf_fail(t, "get %s: expected a non-empty ETag, got none", cf_show_key(t, key));
    *etag = v->etag;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Bulk                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static ss_results *new_results(cf_t *t)
{
    return own(t, xcalloc(sizeof(ss_results)), release_results);
}

/* Checks the items of a bulk set (etags == true) or delete. */
static bool check_write_items(cf_t *t, const char *what, const ss_results *r, size_t n,
                              const char *const *keys, const unsigned *want_items, bool etags)
{
    if (r->count != n) return cf_fail(t, "%s: expected %zu results, got %zu", what, n, r->count);
    if (n && !r->items) return cf_fail(t, "%s: %zu results with items == NULL", what, n);
    for (size_t i = 0; i < n; i++) {
        const ss_item_result *it = &r->items[i];
        unsigned want = want_items ? want_items[i] : CF_WANT(OK);
        const char *iw = cf_fmt(t, "%s: item %zu (%s)", what, i, cf_show_key(t, keys[i]));
        if (!((unsigned)it->code < 32 && (want & (1u << (unsigned)it->code))))
            return cf_fail(t, "%s: expected %s, got %s%s%s", iw, want_names(t, want),
                           ss_code_name(it->code), it->error ? ": " : "",
                           it->error ? it->error : "");
        if (it->code != SS_OK && (!it->error || !it->error[0]))
            return cf_fail(t, "%s: %s without an error message", iw, ss_code_name(it->code));
        if (it->code == SS_OK && it->error)
            return cf_fail(t, "%s: OK with an error message \"%s\"", iw, it->error);
        if (it->value) return cf_fail(t, "%s: a write result carries a value", iw);
        bool want_etag = etags && it->code == SS_OK && cf_has(t, SS_FEATURE_ETAG);
        if (want_etag && (!it->etag || !it->etag[0]))
            return cf_fail(t, "%s: the store declares ETAG but the item has no new ETag", iw);
        if (!want_etag && it->etag)
            return cf_fail(t, "%s: unexpected ETag %s in the result", iw,
                           cf_show(t, it->etag, strlen(it->etag)));
    }
    return true;
}

bool cf_bulk_set(cf_t *t, const ss_set_request *reqs, size_t n, unsigned want_call,
                 const unsigned *want_items, ss_results **out)
{
    const char *what = cf_fmt(t, "bulk set of %zu", n);
    ss_error err;
    cf_err_init(&err);
    ss_results *r = new_results(t);
    ss_code rc = ss_bulk_set(r, t->env->store, reqs, n, NULL, &err);
    if (out) *out = r;
    if (!cf_code(t, what, rc, want_call, &err)) return false;
    if (rc != SS_OK && !want_items) return true;
    const char **keys = cf_alloc(t, (n + 1) * sizeof *keys);
    for (size_t i = 0; i < n; i++) keys[i] = reqs[i].key;
    return check_write_items(t, what, r, n, keys, want_items, true);
}

bool cf_bulk_del(cf_t *t, const ss_delete_request *reqs, size_t n, unsigned want_call,
                 const unsigned *want_items)
{
    const char *what = cf_fmt(t, "bulk delete of %zu", n);
    ss_error err;
    cf_err_init(&err);
    ss_results *r = new_results(t);
    ss_code rc = ss_bulk_delete(r, t->env->store, reqs, n, NULL, &err);
    if (!cf_code(t, what, rc, want_call, &err)) return false;
    if (rc != SS_OK && !want_items) return true;
    const char **keys = cf_alloc(t, (n + 1) * sizeof *keys);
    for (size_t i = 0; i < n; i++) keys[i] = reqs[i].key;
    return check_write_items(t, what, r, n, keys, want_items, false);
}

bool cf_bulk_get(cf_t *t, const ss_get_request *reqs, size_t n, const ss_bulk_options *opts,
                 ss_results **out)
{
    const char *what = cf_fmt(t, "bulk get of %zu", n);
    ss_error err;
    cf_err_init(&err);
    ss_results *r = new_results(t);
    ss_code rc = ss_bulk_get(r, t->env->store, reqs, n, opts, &err);
    if (out) *out = r;
    if (!cf_code(t, what, rc, CF_WANT(OK), &err)) return false;
    if (r->count != n) return cf_fail(t, "%s: expected %zu results, got %zu", what, n, r->count);
    if (n && !r->items) return cf_fail(t, "%s: %zu results with items == NULL", what, n);
    for (size_t i = 0; i < n; i++) {
        const ss_item_result *it = &r->items[i];
        const char *iw = cf_fmt(t, "%s: item %zu (%s)", what, i, cf_show_key(t, reqs[i].key));
        if (it->code != SS_OK)
            return cf_fail(t, "%s: expected OK, got %s: %s", iw, ss_code_name(it->code),
                           it->error ? it->error : "(no message)");
        if (it->error) return cf_fail(t, "%s: OK with an error message \"%s\"", iw, it->error);
        if (it->etag)
            return cf_fail(
                t, "%s: bulk get result has a bulk-set ETag (the ETag belongs in the value)", iw);
        if (it->value && !cf_value_shape(t, iw, it->value)) return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Transactions                                                                               */
/* ------------------------------------------------------------------------------------------ */

bool cf_transact(cf_t *t, const ss_operation *ops, size_t n, const ss_pair *meta, size_t meta_n,
                 unsigned want, ss_error *err_out)
{
    const char *what = cf_fmt(t, "transaction of %zu operations", n);
    ss_error err;
    cf_err_init(&err);
    ss_transaction tx = {.ops = ops, .count = n, .metadata = meta, .metadata_count = meta_n};
    ss_code rc = ss_transact(t->env->store, &tx, &err);
    if (err_out) *err_out = err;
    return cf_code(t, what, rc, want, &err);
}

ss_operation cf_op_upsert(const char *key, const char *text, const char *etag)
{
    ss_operation op = {.kind = SS_OP_UPSERT};
    op.set.key = key;
    op.set.value = text;
    op.set.value_len = strlen(text);
    op.set.etag = etag;
    return op;
}

ss_operation cf_op_delete(const char *key, const char *etag)
{
    ss_operation op = {.kind = SS_OP_DELETE};
    op.del.key = key;
    op.del.etag = etag;
    return op;
}

/* ------------------------------------------------------------------------------------------ */
/* Misc                                                                                       */
/* ------------------------------------------------------------------------------------------ */

void cf_fill(void *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed ? seed : 0x9e3779b9u;
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)(x >> 24);
    }
}

int64_t cf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cf_sleep_ms(int64_t ms)
{
    if (ms <= 0) return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

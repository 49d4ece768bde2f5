/* store.c — the front door: opening stores, validating requests once, retries, transactions. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- opening and closing ---- */

ss_code ss_open(ss_store **out, const ss_config *config, ss_error *err)
{
    if (!out) return ss_error_set(err, SS_INVALID, "open: out is NULL");
    *out = NULL;
    if (!config) return ss_error_set(err, SS_INVALID, "open: config is NULL");
    if (!config->driver || !*config->driver)
        return ss_error_set(err, SS_INVALID, "open: no driver given");
    const ss_driver *d = ss_registry_find(config->driver);
    if (!d) {
        char names[512] = "";
        size_t n = ss_driver_count();
        for (size_t i = 0; i < n; i++) {
            ss_driver_info info;
            if (!ss_driver_at(i, &info)) continue;
            size_t used = strlen(names);
            snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", info.name);
        }
        char shown[200];
        ss_escape_key(shown, sizeof shown, config->driver, strlen(config->driver));
        return ss_error_set(err, SS_INVALID, "open: unknown driver \"%s\" (available: %s)", shown,
                            names[0] ? names : "none");
    }
    ss_store *s = calloc(1, sizeof *s);
    if (!s) return ss_error_set(err, SS_NOMEM, "open: out of memory");
    s->driver = d;
    ss_code rc = ss_ctx_init(&s->ctx, d, config, err);
    if (rc != SS_OK) {
        free(s);
        return rc;
    }
    s->self = calloc(1, d->instance_size ? d->instance_size : 1);
    if (!s->self) {
        ss_ctx_free(&s->ctx);
        free(s);
        return ss_error_set(err, SS_NOMEM, "open: out of memory");
    }
    ss_error derr = {0};
    rc = d->open(s->self, &s->ctx, &derr);
    if (rc != SS_OK) {
        ss_error_decorate(err, s, rc, "open", NULL, 0, derr.message);
        free(s->self);
        ss_ctx_free(&s->ctx);
        free(s);
        return rc;
    }
    s->features = d->info.features;
    if (d->features) {
        ss_features f = d->info.features;
        d->features(s->self, &f);
        /* Narrow only: an instance cannot promise what its driver never declared, since the
         * registry checked the declared flags against the slots. */
        s->features.flags &= f.flags;
        s->features.max_tx_ops = f.max_tx_ops;
        s->features.max_key_len = f.max_key_len;
        s->features.max_value_len = f.max_value_len;
    }
    *out = s;
    return SS_OK;
}

void ss_close(ss_store *store)
{
    if (!store) return;
    store->driver->close(store->self);
    free(store->self);
    ss_ctx_free(&store->ctx);
    free(store);
}

const char *ss_store_name(const ss_store *store)
{
    return store ? store->ctx.name : NULL;
}

const char *ss_store_driver(const ss_store *store)
{
    return store ? store->driver->info.name : NULL;
}

void ss_store_features(const ss_store *store, ss_features *out)
{
    if (!out) return;
    if (!store) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = store->features;
}

/* A driver's code outside the table would confuse every caller: report it as a backend fault. */
static ss_code sane_code(ss_code rc)
{
    return ((unsigned)rc <= SS_BACKEND) ? rc : SS_BACKEND;
}

ss_code ss_ping(ss_store *store, ss_error *err)
{
    if (!store) return ss_error_set(err, SS_INVALID, "ping: store is NULL");
    if (!store->driver->ping) return SS_OK;
    ss_error derr;
    ss_error_reset(&derr);
    ss_code rc = sane_code(store->driver->ping(store->self, &derr));
    if (rc != SS_OK) return ss_error_decorate(err, store, rc, "ping", NULL, 0, derr.message);
    return SS_OK;
}

/* ---- validation ---- */

static bool has(const ss_store *s, unsigned feature)
{
    return (s->features.flags & feature) != 0;
}

static ss_code fail(ss_error *err, const ss_store *s, ss_code code, const char *op, const char *key,
                    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

static ss_code fail(ss_error *err, const ss_store *s, ss_code code, const char *op, const char *key,
                    const char *fmt, ...)
{
    char text[SS_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return ss_error_decorate(err, s, code, op, key, key ? strlen(key) : 0, text);
}

static bool opt_is(const char *v, const char *a)
{
    return strcmp(v, a) == 0;
}

/* Out of line, so the common path (an empty or accepted option) stays a few compares inline. */
#if defined(__GNUC__)
__attribute__((noinline, cold))
#endif
static ss_code bad_option(const ss_store *s, const char *op, const char *key, const char *what,
                          const char *v, const char *a, const char *b, ss_error *err)
{
    char shown[200];
    ss_escape_key(shown, sizeof shown, v, strlen(v));
    return fail(err, s, SS_INVALID, op, key,
                "unrecognized %s \"%s\" (accepted: \"%s\", \"%s\" or empty)", what, shown, a, b);
}

/* NULL/"" → default. Otherwise one of the two accepted spellings, or INVALID naming it. */
static inline ss_code check_option(const ss_store *s, const char *op, const char *key,
                                   const char *what, const char *v, const char *a, const char *b,
                                   ss_error *err)
{
    if (!v || !*v || opt_is(v, a) || opt_is(v, b)) return SS_OK;
    return bad_option(s, op, key, what, v, a, b, err);
}

static ss_code check_key(const ss_store *s, const char *op, const char *key, size_t *len,
                         ss_error *err)
{
    if (!key || !*key) return fail(err, s, SS_INVALID, op, NULL, "key is empty");
    *len = strlen(key);
    size_t max = s->features.max_key_len;
    if (max && *len > max)
        return fail(err, s, SS_TOO_LARGE, op, key, "key is %zu bytes, this store allows %zu", *len,
                    max);
    return SS_OK;
}

static ss_code check_meta(const ss_store *s, const char *op, const char *key, const ss_pair *md,
                          size_t count, ss_error *err)
{
    if (count > 0 && !md)
        return fail(err, s, SS_INVALID, op, key, "metadata_count is %zu but metadata is NULL",
                    count);
    for (size_t i = 0; i < count; i++)
        if (!md[i].name || !*md[i].name)
            return fail(err, s, SS_INVALID, op, key, "metadata entry %zu has no name", i);
    return SS_OK;
}

static const char *meta_get(const ss_pair *md, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (md[i].name && strcmp(md[i].name, name) == 0) return md[i].value;
    return NULL;
}

static ss_code check_write_options(const ss_store *s, const char *op, const char *key,
                                   const ss_write_options *o, ss_error *err)
{
    ss_code rc =
        check_option(s, op, key, "concurrency", o->concurrency, SS_FIRST_WRITE, SS_LAST_WRITE, err);
    if (rc == SS_OK)
        rc = check_option(s, op, key, "consistency", o->consistency, SS_STRONG, SS_EVENTUAL, err);
    if (rc == SS_OK)
        rc = check_option(s, op, key, "retry pattern", o->retry.pattern, SS_LINEAR, SS_EXPONENTIAL,
                          err);
    return rc;
}

static ss_consistency consistency_of(const char *v)
{
    return v && strcmp(v, SS_STRONG) == 0 ? SS_CONSISTENCY_STRONG : SS_CONSISTENCY_EVENTUAL;
}

/* Condition and feature rules shared by set and delete. */
static ss_code normalise_write(const ss_store *s, const char *opname, const char *key,
                               const char *etag, const ss_write_options *o, ss_op *op,
                               ss_error *err)
{
    bool first_write = o->concurrency && strcmp(o->concurrency, SS_FIRST_WRITE) == 0;
    bool with_etag = etag && *etag; /* "" is no ETag, as in Dapr */
    if (with_etag && !has(s, SS_FEATURE_ETAG))
        return fail(err, s, SS_UNSUPPORTED, opname, key,
                    "an ETag was given but this store has no ETags");
    if (first_write && !has(s, SS_FEATURE_FIRST_WRITE))
        return fail(err, s, SS_UNSUPPORTED, opname, key,
                    "concurrency \"first-write\" is not supported by this store");
    op->cond = with_etag ? SS_COND_MATCH : first_write ? SS_COND_ABSENT : SS_COND_ANY;
    op->etag = with_etag ? etag : NULL;
    op->consistency = consistency_of(o->consistency);
    return SS_OK;
}

/* Copied rather than memset: gcc turns a memset of this size into `rep stos`, whose start-up
 * cost was a tenth of a whole in-memory set; a struct copy becomes a few vector moves. */
static const ss_op ss_op_empty;

ss_code ss_prep_get(const ss_store *s, const ss_get_request *req, ss_op *op, ss_error *err)
{
    *op = ss_op_empty;
    if (!req) return fail(err, s, SS_INVALID, "get", NULL, "request is NULL");
    ss_code rc = check_key(s, "get", req->key, &op->key_len, err);
    if (rc == SS_OK)
        rc = check_option(s, "get", req->key, "consistency", req->consistency, SS_STRONG,
                          SS_EVENTUAL, err);
    if (rc == SS_OK) rc = check_meta(s, "get", req->key, req->metadata, req->metadata_count, err);
    if (rc != SS_OK) return rc;
    op->kind = SS_DRV_GET;
    op->key = req->key;
    op->consistency = consistency_of(req->consistency);
    op->metadata = req->metadata;
    op->metadata_count = req->metadata_count;
    return SS_OK;
}

ss_code ss_prep_set(const ss_store *s, const ss_set_request *req, bool etag_wanted, ss_op *op,
                    ss_error *err)
{
    *op = ss_op_empty;
    if (!req) return fail(err, s, SS_INVALID, "set", NULL, "request is NULL");
    ss_code rc = check_key(s, "set", req->key, &op->key_len, err);
    if (rc == SS_OK) rc = check_write_options(s, "set", req->key, &req->options, err);
    if (rc == SS_OK) rc = check_meta(s, "set", req->key, req->metadata, req->metadata_count, err);
    if (rc != SS_OK) return rc;
    if (!req->value && req->value_len > 0)
        return fail(err, s, SS_INVALID, "set", req->key, "value is NULL but value_len is %zu",
                    req->value_len);
    size_t maxv = s->features.max_value_len;
    if (maxv && req->value_len > maxv)
        return fail(err, s, SS_TOO_LARGE, "set", req->key,
                    "value is %zu bytes, this store allows %zu", req->value_len, maxv);

    op->ttl_mode = SS_TTL_DEFAULT;
    const char *ttl = meta_get(req->metadata, req->metadata_count, SS_META_TTL);
    if (ttl && *ttl) {
        int64_t secs;
        if (!ss_parse_int64(ttl, &secs) || secs < -1 || secs > 2147483647) {
            char shown[200];
            ss_escape_key(shown, sizeof shown, ttl, strlen(ttl));
            return fail(err, s, SS_INVALID, "set", req->key,
                        "incorrect value for metadata '" SS_META_TTL
                        "': \"%s\" (an integer from -1 to 2147483647)",
                        shown);
        }
        if (!has(s, SS_FEATURE_TTL))
            return fail(err, s, SS_UNSUPPORTED, "set", req->key,
                        "metadata '" SS_META_TTL "' was given but this store has no TTL");
        op->ttl_mode = secs > 0 ? SS_TTL_SECONDS : SS_TTL_NONE;
        op->ttl_seconds = secs > 0 ? secs : 0;
    }
    rc = normalise_write(s, "set", req->key, req->etag, &req->options, op, err);
    if (rc != SS_OK) return rc;
    op->kind = SS_DRV_SET;
    op->etag_wanted = etag_wanted;
    op->key = req->key;
    op->value = req->value ? req->value : "";
    op->value_len = req->value_len;
    op->metadata = req->metadata;
    op->metadata_count = req->metadata_count;
    return SS_OK;
}

ss_code ss_prep_delete(const ss_store *s, const ss_delete_request *req, ss_op *op, ss_error *err)
{
    *op = ss_op_empty;
    if (!req) return fail(err, s, SS_INVALID, "delete", NULL, "request is NULL");
    ss_code rc = check_key(s, "delete", req->key, &op->key_len, err);
    if (rc == SS_OK) rc = check_write_options(s, "delete", req->key, &req->options, err);
    if (rc == SS_OK)
        rc = check_meta(s, "delete", req->key, req->metadata, req->metadata_count, err);
    if (rc == SS_OK) rc = normalise_write(s, "delete", req->key, req->etag, &req->options, op, err);
    if (rc != SS_OK) return rc;
    op->kind = SS_DRV_DELETE;
    op->key = req->key;
    op->metadata = req->metadata;
    op->metadata_count = req->metadata_count;
    return SS_OK;
}

/* ---- running one op (with retries) ---- */

static uint32_t attempts_of(const ss_retry *r)
{
    return r && r->threshold > 1 ? r->threshold : 1;
}

ss_code ss_run_get(ss_store *s, const ss_op *op, ss_value **out, ss_error *err)
{
    ss_error derr;
    ss_error_reset(&derr);
    ss_value *v = NULL;
    ss_code rc = sane_code(s->driver->get(s->self, op, &v, &derr));
    if (rc != SS_OK) {
        ss_value_free(v);
        return ss_error_decorate(err, s, rc, "get", op->key, op->key_len, derr.message);
    }
    if (v && !has(s, SS_FEATURE_ETAG)) ss_value_drop_etag(v);
    *out = v;
    return SS_OK;
}

ss_code ss_run_set(ss_store *s, const ss_op *op, const ss_retry *retry, char **etag_out,
                   ss_error *err)
{
    uint32_t attempts = attempts_of(retry);
    ss_error derr;
    ss_code rc = SS_OK;
    for (uint32_t a = 1;; a++) {
        ss_error_reset(&derr);
        char *etag = NULL;
        rc = sane_code(s->driver->set(s->self, op, &etag, &derr));
        if (rc == SS_OK) {
            /* The API promises no ETag from a store that has none. */
            if (!has(s, SS_FEATURE_ETAG)) {
                free(etag);
                etag = NULL;
            }
            *etag_out = etag;
            return SS_OK;
        }
        free(etag);
        if (a >= attempts || !ss_code_retryable(rc)) break;
        ss_internal_sleep(ss_retry_delay_ms(retry, a));
    }
    return ss_error_decorate(err, s, rc, "set", op->key, op->key_len, derr.message);
}

ss_code ss_run_delete(ss_store *s, const ss_op *op, const ss_retry *retry, ss_error *err)
{
    uint32_t attempts = attempts_of(retry);
    ss_error derr;
    ss_code rc = SS_OK;
    for (uint32_t a = 1;; a++) {
        ss_error_reset(&derr);
        rc = sane_code(s->driver->del(s->self, op, &derr));
        if (rc == SS_OK) return SS_OK;
        if (a >= attempts || !ss_code_retryable(rc)) break;
        ss_internal_sleep(ss_retry_delay_ms(retry, a));
    }
    return ss_error_decorate(err, s, rc, "delete", op->key, op->key_len, derr.message);
}

/* ---- public single operations ---- */

ss_code ss_get(ss_value **out, ss_store *store, const ss_get_request *req, ss_error *err)
{
    if (!out) return ss_error_set(err, SS_INVALID, "get: out is NULL");
    *out = NULL;
    if (!store) return ss_error_set(err, SS_INVALID, "get: store is NULL");
    ss_op op;
    ss_code rc = ss_prep_get(store, req, &op, err);
    if (rc != SS_OK) return rc;
    return ss_run_get(store, &op, out, err);
}

ss_code ss_set(char **etag_out, ss_store *store, const ss_set_request *req, ss_error *err)
{
    if (etag_out) *etag_out = NULL;
    if (!store) return ss_error_set(err, SS_INVALID, "set: store is NULL");
    ss_op op;
    ss_code rc = ss_prep_set(store, req, etag_out != NULL, &op, err);
    if (rc != SS_OK) return rc;
    char *etag = NULL;
    rc = ss_run_set(store, &op, &req->options.retry, &etag, err);
    if (etag_out)
        *etag_out = etag;
    else
        free(etag);
    return rc;
}

ss_code ss_delete(ss_store *store, const ss_delete_request *req, ss_error *err)
{
    if (!store) return ss_error_set(err, SS_INVALID, "delete: store is NULL");
    ss_op op;
    ss_code rc = ss_prep_delete(store, req, &op, err);
    if (rc != SS_OK) return rc;
    return ss_run_delete(store, &op, &req->options.retry, err);
}

/* ---- transactions ---- */

ss_code ss_transact(ss_store *store, const ss_transaction *tx, ss_error *err)
{
    if (!store) return ss_error_set(err, SS_INVALID, "transact: store is NULL");
    if (!tx) return fail(err, store, SS_INVALID, "transact", NULL, "transaction is NULL");
    if (!has(store, SS_FEATURE_TRANSACTIONAL) || !store->driver->transact)
        return fail(err, store, SS_UNSUPPORTED, "transact", NULL,
                    "this store does not support transactions");
    if (tx->count > 0 && !tx->ops)
        return fail(err, store, SS_INVALID, "transact", NULL, "count is %zu but ops is NULL",
                    tx->count);
    ss_code rc = check_meta(store, "transact", NULL, tx->metadata, tx->metadata_count, err);
    if (rc != SS_OK) return rc;
    size_t max = store->features.max_tx_ops;
    if (max && tx->count > max)
        return fail(err, store, SS_TOO_LARGE, "transact", NULL,
                    "%zu operations, this store allows at most %zu in one transaction", tx->count,
                    max);
    if (tx->count == 0) return SS_OK;

    ss_op *ops = calloc(tx->count, sizeof *ops);
    if (!ops) return fail(err, store, SS_NOMEM, "transact", NULL, "out of memory");
    for (size_t i = 0; i < tx->count && rc == SS_OK; i++) {
        const ss_operation *o = &tx->ops[i];
        ss_error oerr;
        ss_error_reset(&oerr);
        if (o->kind == SS_OP_UPSERT)
            rc = ss_prep_set(store, &o->set, false, &ops[i], &oerr); /* no ETags handed out */
        else if (o->kind == SS_OP_DELETE)
            rc = ss_prep_delete(store, &o->del, &ops[i], &oerr);
        else
            rc = ss_error_set(&oerr, SS_INVALID,
                              "operation kind %d is neither upsert (%d) nor delete (%d)",
                              (int)o->kind, (int)SS_OP_UPSERT, (int)SS_OP_DELETE);
        if (rc != SS_OK) {
            /* The op's message already names the store; say which op it was instead. */
            const char *rest = ss_error_skip_store(store, oerr.message);
            char text[SS_ERROR_MESSAGE_MAX];
            snprintf(text, sizeof text, "operation %zu: %s", i, rest);
            ss_error_decorate(err, store, rc, "transact", NULL, 0, text);
        }
    }
    if (rc == SS_OK) {
        ss_error derr;
        ss_error_reset(&derr);
        void *scratch;
        const ss_op *dops = ss_abi_ops(store->driver, ops, tx->count, &scratch);
        rc = dops ? sane_code(store->driver->transact(store->self, dops, tx->count, tx->metadata,
                                                      tx->metadata_count, &derr))
                  : ss_error_set(&derr, SS_NOMEM, "out of memory");
        free(scratch);
        if (rc != SS_OK) ss_error_decorate(err, store, rc, "transact", NULL, 0, derr.message);
    }
    free(ops);
    return rc;
}

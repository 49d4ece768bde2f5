/* faulty.c — the fault-injecting wrapper store described in faulty.h. */
#include "fault/faulty.h"

/* The wrapper forwards already-validated ops straight to the inner driver's slots, so that the
 * inner store sees exactly what it would see without the wrapper, and reads the component's
 * inner.* properties from the context: both need the core's internal view of a store. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum fop {
    FOP_ANY = 0,
    FOP_PING,
    FOP_GET,
    FOP_SET,
    FOP_DELETE,
    FOP_BULK_GET,
    FOP_BULK_SET,
    FOP_BULK_DELETE,
    FOP_TRANSACT,
    FOP_COUNT_
} fop;

static const char *const fop_names[FOP_COUNT_] = {
    "any", "ping", "get", "set", "delete", "bulk_get", "bulk_set", "bulk_delete", "transact"};

typedef struct faulty {
    ss_store *inner;
    const ss_driver *idrv;
    unsigned iflags;
    ss_features ifeat;
    fop op;
    int64_t fail_call;
    int64_t fail_count;
    ss_code code;
    const char *message; /* borrowed from the context, which outlives the instance */
    int64_t at_tx_op;
    pthread_mutex_t lock;
    int64_t calls; /* matching calls seen so far */
} faulty;

#define PREFIX     "inner."
#define PREFIX_LEN (sizeof PREFIX - 1)

/* ---- the rule ---- */

/* Counts one call of kind `k`; true (with *nth set) when this call must fail. */
static bool hit(faulty *f, fop k, int64_t *nth)
{
    if (f->op != FOP_ANY && f->op != k) return false;
    pthread_mutex_lock(&f->lock);
    int64_t n = ++f->calls;
    pthread_mutex_unlock(&f->lock);
    *nth = n;
    if (n < f->fail_call || f->fail_count == 0) return false;
    return f->fail_count < 0 || n - f->fail_call < f->fail_count;
}

static ss_code inject(const faulty *f, fop k, int64_t nth, ss_error *err)
{
    return ss_error_set(err, f->code, "injected fault: %s on %s call %lld (faulty over %s)%s%s",
                        ss_code_name(f->code), fop_names[k], (long long)nth, f->idrv->info.name,
                        f->message && *f->message ? ": " : "", f->message ? f->message : "");
}

/* ---- what the core refuses for the inner store's features (kept as a second line: the
 * wrapper must never hand the inner driver an op it did not declare) ---- */

static ss_code check_op(const faulty *f, const ss_op *op, ss_error *err)
{
    if (f->ifeat.max_key_len && op->key_len > f->ifeat.max_key_len)
        return ss_error_set(err, SS_TOO_LARGE, "key is %zu bytes, this store allows %zu",
                            op->key_len, f->ifeat.max_key_len);
    if (op->kind == SS_DRV_GET) return SS_OK;
    if (op->cond == SS_COND_MATCH && !(f->iflags & SS_FEATURE_ETAG))
        return ss_error_set(err, SS_UNSUPPORTED, "an ETag was given but this store has no ETags");
    if (op->cond == SS_COND_ABSENT && !(f->iflags & SS_FEATURE_FIRST_WRITE))
        return ss_error_set(err, SS_UNSUPPORTED,
                            "concurrency \"first-write\" is not supported by this store");
    if (op->kind != SS_DRV_SET) return SS_OK;
    if (op->ttl_mode != SS_TTL_DEFAULT && !(f->iflags & SS_FEATURE_TTL))
        return ss_error_set(err, SS_UNSUPPORTED,
                            "metadata '" SS_META_TTL "' was given but this store has no TTL");
    if (f->ifeat.max_value_len && op->value_len > f->ifeat.max_value_len)
        return ss_error_set(err, SS_TOO_LARGE, "value is %zu bytes, this store allows %zu",
                            op->value_len, f->ifeat.max_value_len);
    return SS_OK;
}

/* ---- open / close ---- */

static ss_code parse_op(const char *v, fop *out)
{
    if (!v || !*v) {
        *out = FOP_ANY;
        return SS_OK;
    }
    for (int i = 0; i < FOP_COUNT_; i++)
        if (strcasecmp(v, fop_names[i]) == 0) {
            *out = (fop)i;
            return SS_OK;
        }
    return SS_INVALID;
}

static ss_code parse_code(const char *v, ss_code *out)
{
    if (!v || !*v) {
        *out = SS_UNAVAILABLE;
        return SS_OK;
    }
    for (int c = SS_INVALID; c <= SS_BACKEND; c++)
        if (strcasecmp(v, ss_code_name((ss_code)c)) == 0) {
            *out = (ss_code)c;
            return SS_OK;
        }
    return SS_INVALID;
}

static ss_code open_inner(faulty *f, ss_ctx *ctx, const char *inner, ss_error *err)
{
    ss_pair *props = calloc(ctx->prop_count ? ctx->prop_count : 1, sizeof *props);
    if (!props) return ss_error_set(err, SS_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < ctx->prop_count; i++) {
        const char *name = ctx->props[i].name;
        if (name && strncasecmp(name, PREFIX, PREFIX_LEN) == 0 && name[PREFIX_LEN])
            props[n++] = (ss_pair){name + PREFIX_LEN, ctx->props[i].value};
    }
    ss_config cfg = {.driver = inner,
                     .name = ctx->name,
                     .properties = props,
                     .property_count = n,
                     .log = ctx->log,
                     .log_ctx = ctx->log_ctx,
                     .log_level = ctx->level};
    ss_error ierr = {0};
    ss_code rc = ss_open(&f->inner, &cfg, &ierr);
    free(props);
    if (rc != SS_OK) return ss_error_set(err, rc, "inner store: %s", ierr.message);
    return SS_OK;
}

static ss_code faulty_open(void *self, ss_ctx *ctx, ss_error *err)
{
    faulty *f = self;
    const char *inner = ss_prop(ctx, "inner");
    const ss_driver *d = ss_registry_find(inner);
    if (!d)
        return ss_error_set(err, SS_INVALID, "property \"inner\": unknown driver \"%.200s\"",
                            inner ? inner : "");
    if (d == &ss_driver_faulty)
        return ss_error_set(err, SS_INVALID, "property \"inner\": faulty cannot wrap itself");
    const char *v = ss_prop(ctx, "failOp");
    if (parse_op(v, &f->op) != SS_OK)
        return ss_error_set(err, SS_INVALID,
                            "property \"failOp\": \"%.200s\" is not one of get, set, delete, "
                            "bulk_get, bulk_set, bulk_delete, transact, ping, any",
                            v);
    v = ss_prop(ctx, "failCode");
    if (parse_code(v, &f->code) != SS_OK)
        return ss_error_set(err, SS_INVALID,
                            "property \"failCode\": \"%.200s\" is not an error code name", v);
    f->fail_call = 1;
    f->fail_count = 1;
    f->at_tx_op = -1;
    ss_code rc = ss_prop_int(ctx, "failCall", 1, INT64_MAX, &f->fail_call, err);
    if (rc == SS_OK) rc = ss_prop_int(ctx, "failCount", -1, INT64_MAX, &f->fail_count, err);
    if (rc == SS_OK) rc = ss_prop_int(ctx, "failAtTxOp", -1, INT64_MAX, &f->at_tx_op, err);
    if (rc != SS_OK) return rc;
    f->message = ss_prop(ctx, "failMessage");
    f->idrv = d;
    if (pthread_mutex_init(&f->lock, NULL) != 0)
        return ss_error_set(err, SS_NOMEM, "cannot create a mutex");
    rc = open_inner(f, ctx, inner, err);
    if (rc != SS_OK) {
        pthread_mutex_destroy(&f->lock);
        return rc;
    }
    /* The inner instance's own features (they may depend on its properties or server). */
    ss_store_features(f->inner, &f->ifeat);
    f->iflags = f->ifeat.flags;
    return SS_OK;
}

/* The wrapper has every slot; what the core may ask of it is what the inner store can do. The
 * bulk slots stay (the wrapper counts items itself), whether the inner store has them or not. */
static void faulty_features(void *self, ss_features *out)
{
    const faulty *f = self;
    *out = f->ifeat;
    out->flags |= SS_FEATURE_BULK_NATIVE;
}

static void faulty_close(void *self)
{
    faulty *f = self;
    ss_close(f->inner);
    pthread_mutex_destroy(&f->lock);
}

/* ---- single operations ---- */

static ss_code faulty_ping(void *self, ss_error *err)
{
    faulty *f = self;
    int64_t nth;
    if (hit(f, FOP_PING, &nth)) return inject(f, FOP_PING, nth, err);
    return f->idrv->ping ? f->idrv->ping(f->inner->self, err) : SS_OK;
}

static ss_code faulty_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    faulty *f = self;
    int64_t nth;
    if (hit(f, FOP_GET, &nth)) return inject(f, FOP_GET, nth, err);
    ss_code rc = check_op(f, op, err);
    if (rc != SS_OK) return rc;
    rc = f->idrv->get(f->inner->self, op, out, err);
    if (rc == SS_OK && *out && !(f->iflags & SS_FEATURE_ETAG)) {
        free((*out)->etag);
        (*out)->etag = NULL;
    }
    return rc;
}

static ss_code faulty_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    faulty *f = self;
    int64_t nth;
    if (hit(f, FOP_SET, &nth)) return inject(f, FOP_SET, nth, err);
    ss_code rc = check_op(f, op, err);
    if (rc != SS_OK) return rc;
    rc = f->idrv->set(f->inner->self, op, etag_out, err);
    if (!(f->iflags & SS_FEATURE_ETAG)) {
        free(*etag_out);
        *etag_out = NULL;
    }
    return rc;
}

static ss_code faulty_del(void *self, const ss_op *op, ss_error *err)
{
    faulty *f = self;
    int64_t nth;
    if (hit(f, FOP_DELETE, &nth)) return inject(f, FOP_DELETE, nth, err);
    ss_code rc = check_op(f, op, err);
    if (rc != SS_OK) return rc;
    return f->idrv->del(f->inner->self, op, err);
}

/* ---- bulk ---- */

static void item_fail(ss_item_result *it, ss_code code, const ss_error *e)
{
    it->code = code;
    it->error = ss_strdup(e->message);
}

/* One item through the inner driver's single-op slot. */
static void item_single(faulty *f, fop k, const ss_op *op, ss_item_result *it)
{
    ss_error e = {0};
    ss_code rc;
    void *is = f->inner->self;
    if (k == FOP_BULK_GET)
        rc = f->idrv->get(is, op, &it->value, &e);
    else if (k == FOP_BULK_SET)
        rc = f->idrv->set(is, op, &it->etag, &e);
    else
        rc = f->idrv->del(is, op, &e);
    if (rc != SS_OK) {
        ss_value_free(it->value);
        it->value = NULL;
        free(it->etag);
        it->etag = NULL;
        item_fail(it, rc, &e);
    }
}

/*
 * Items that neither fail by injection nor by a feature check go to the inner store: through
 * its bulk slot when it has one (compacted into one call, results moved back into place), one
 * by one otherwise.
 */
static ss_code faulty_bulk(faulty *f, fop k, const ss_op *ops, size_t count, ss_results *out,
                           ss_error *err)
{
    int64_t nth;
    if (hit(f, k, &nth)) return inject(f, k, nth, err);
    fop single = k == FOP_BULK_GET ? FOP_GET : k == FOP_BULK_SET ? FOP_SET : FOP_DELETE;
    size_t *pass = calloc(count ? count : 1, sizeof *pass);
    ss_op *sub = calloc(count ? count : 1, sizeof *sub);
    if (!pass || !sub) {
        free(pass);
        free(sub);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < count; i++) {
        ss_error e = {0};
        ss_code rc = hit(f, single, &nth) ? inject(f, single, nth, &e) : check_op(f, &ops[i], &e);
        if (rc != SS_OK) {
            item_fail(&out->items[i], rc, &e);
            continue;
        }
        pass[m] = i;
        sub[m++] = ops[i];
    }
    ss_code rc = SS_OK;
    typedef ss_code (*bulk_fn)(void *, const ss_op *, size_t, ss_results *, ss_error *);
    bulk_fn fn = k == FOP_BULK_GET   ? f->idrv->bulk_get
                 : k == FOP_BULK_SET ? f->idrv->bulk_set
                                     : f->idrv->bulk_delete;
    if (m > 0 && fn) {
        ss_results r = {m, calloc(m, sizeof(ss_item_result))};
        if (!r.items) {
            rc = ss_error_set(err, SS_NOMEM, "out of memory");
        } else {
            rc = fn(f->inner->self, sub, m, &r, err);
            if (rc == SS_OK)
                for (size_t j = 0; j < m; j++) {
                    out->items[pass[j]] = r.items[j];
                    memset(&r.items[j], 0, sizeof r.items[j]);
                }
            ss_results_free(&r);
        }
    } else {
        for (size_t j = 0; j < m; j++) item_single(f, k, &sub[j], &out->items[pass[j]]);
    }
    free(pass);
    free(sub);
    return rc;
}

static ss_code faulty_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                               ss_error *err)
{
    return faulty_bulk(self, FOP_BULK_GET, ops, count, out, err);
}

static ss_code faulty_bulk_set(void *self, const ss_op *ops, size_t count, ss_results *out,
                               ss_error *err)
{
    return faulty_bulk(self, FOP_BULK_SET, ops, count, out, err);
}

static ss_code faulty_bulk_delete(void *self, const ss_op *ops, size_t count, ss_results *out,
                                  ss_error *err)
{
    return faulty_bulk(self, FOP_BULK_DELETE, ops, count, out, err);
}

/* ---- transactions ---- */

/*
 * The mid-transaction fault: a sentinel key is written first, and a first-write of that same key
 * is slipped in before operation k. The inner store applies operations 0..k-1, then meets a
 * condition that cannot hold and has to undo them — a real rollback inside the database, not
 * a failure in front of it.
 */
static ss_code tx_fail_inside(faulty *f, const ss_op *ops, size_t count, const ss_pair *md,
                              size_t mdn, int64_t nth, ss_error *err)
{
    if (!(f->iflags & SS_FEATURE_FIRST_WRITE))
        return ss_error_set(err, SS_UNSUPPORTED,
                            "faulty: failAtTxOp needs an inner store with first-write");
    size_t k = (uint64_t)f->at_tx_op < count ? (size_t)f->at_tx_op : count;
    char uuid[37], key[64];
    ss_uuid4(uuid);
    snprintf(key, sizeof key, "faulty-sentinel-%s", uuid);
    ss_op s = {.kind = SS_DRV_SET,
               .key = key,
               .key_len = strlen(key),
               .value = "x",
               .value_len = 1,
               .cond = SS_COND_ANY,
               .ttl_mode = SS_TTL_DEFAULT};
    char *etag = NULL;
    ss_code rc = f->idrv->set(f->inner->self, &s, &etag, err);
    free(etag);
    if (rc != SS_OK) return rc;
    ss_op *all = calloc(count + 1, sizeof *all);
    if (!all) {
        rc = ss_error_set(err, SS_NOMEM, "out of memory");
        goto cleanup;
    }
    memcpy(all, ops, k * sizeof *ops);
    all[k] = s;
    all[k].cond = SS_COND_ABSENT;
    memcpy(all + k + 1, ops + k, (count - k) * sizeof *ops);
    ss_error ierr = {0};
    rc = f->idrv->transact(f->inner->self, all, count + 1, md, mdn, &ierr);
    free(all);
    if (rc == SS_ETAG_MISMATCH)
        rc = ss_error_set(err, f->code,
                          "injected fault: %s on transact call %lld at operation %zu of %zu "
                          "(faulty over %s; the inner store said: %s)%s%s",
                          ss_code_name(f->code), (long long)nth, k, count, f->idrv->info.name,
                          ierr.message, f->message && *f->message ? ": " : "",
                          f->message ? f->message : "");
    else if (rc == SS_OK)
        rc = ss_error_set(err, SS_BACKEND,
                          "faulty: the inner store let a first-write of an existing key through "
                          "in a transaction");
    else
        ss_error_copy(err, &ierr);
cleanup:
    s.cond = SS_COND_ANY;
    s.kind = SS_DRV_DELETE;
    ss_error derr = {0};
    f->idrv->del(f->inner->self, &s, &derr);
    return rc;
}

static ss_code faulty_transact(void *self, const ss_op *ops, size_t count, const ss_pair *md,
                               size_t mdn, ss_error *err)
{
    faulty *f = self;
    if (!(f->iflags & SS_FEATURE_TRANSACTIONAL) || !f->idrv->transact)
        return ss_error_set(err, SS_UNSUPPORTED, "this store does not support transactions");
    if (f->ifeat.max_tx_ops && count > f->ifeat.max_tx_ops)
        return ss_error_set(err, SS_TOO_LARGE,
                            "%zu operations, this store allows at most %zu in one transaction",
                            count, f->ifeat.max_tx_ops);
    for (size_t i = 0; i < count; i++) {
        ss_error e = {0};
        ss_code rc = check_op(f, &ops[i], &e);
        if (rc != SS_OK) return ss_error_set(err, rc, "operation %zu: %s", i, e.message);
    }
    int64_t nth;
    if (hit(f, FOP_TRANSACT, &nth)) {
        if (f->at_tx_op >= 0) return tx_fail_inside(f, ops, count, md, mdn, nth, err);
        return inject(f, FOP_TRANSACT, nth, err);
    }
    return f->idrv->transact(f->inner->self, ops, count, md, mdn, err);
}

/* ---- the driver ---- */

static const ss_property faulty_props[] = {
    {"inner", true, false, NULL, "driver to wrap; its properties are given as inner.<name>"},
    {"failOp", false, false, "any",
     "get|set|delete|bulk_get|bulk_set|bulk_delete|transact|ping|any"},
    {"failCall", false, false, "1", "first matching call that fails (1-based)"},
    {"failCount", false, false, "1", "matching calls that fail from there (-1 = all)"},
    {"failCode", false, false, "UNAVAILABLE", "error code name to fail with"},
    {"failMessage", false, false, NULL, "text appended to the injected message"},
    {"failAtTxOp", false, false, "-1",
     "fail inside the inner transaction before operation k (-1 = before it)"},
};

const ss_driver ss_driver_faulty = {
    .abi = SS_DRIVER_ABI,
    .info = {.name = "faulty",
             .version = "1",
             .summary = "test wrapper that injects faults into another store",
             .features = {.flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE |
                                   SS_FEATURE_TRANSACTIONAL | SS_FEATURE_TTL |
                                   SS_FEATURE_BULK_NATIVE},
             .properties = faulty_props,
             .property_count = sizeof faulty_props / sizeof faulty_props[0]},
    .instance_size = sizeof(faulty),
    .open = faulty_open,
    .close = faulty_close,
    .ping = faulty_ping,
    .get = faulty_get,
    .set = faulty_set,
    .del = faulty_del,
    .bulk_get = faulty_bulk_get,
    .bulk_set = faulty_bulk_set,
    .bulk_delete = faulty_bulk_delete,
    .transact = faulty_transact,
    .features = faulty_features,
};

ss_code ss_faulty_register(ss_error *err)
{
    static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
    static bool done;
    pthread_mutex_lock(&once);
    ss_code rc = done ? SS_OK : ss_register_driver(&ss_driver_faulty, err);
    if (rc == SS_OK) done = true;
    pthread_mutex_unlock(&once);
    return rc;
}

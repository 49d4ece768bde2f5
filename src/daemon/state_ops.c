/*
 * state_ops.c — the state API's logic under both front ends (see state_ops.h). Messages and
 * error codes follow daprd (pkg/api/http and pkg/api/grpc share them through pkg/messages).
 */
#include "state_ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bulk get parallelism beyond this is clamped: it only bounds threads the core uses. */
#define MAX_PARALLELISM 1024

void derr_set(derr *e, dfail fail, const char *code, const char *fmt, ...)
{
    e->fail = fail;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

void derr_oom(derr *e)
{
    derr_set(e, DF_OOM, "ERR_INTERNAL", "out of memory");
}

const dstore *ds_store(const dserver *s, const char *name, derr *e)
{
    if (s->nstores == 0) {
        derr_set(e, DF_NOT_CONFIGURED, "ERR_STATE_STORE_NOT_CONFIGURED",
                 "state store %s is not configured", name);
        return NULL;
    }
    for (size_t i = 0; i < s->nstores; i++)
        if (strcmp(s->stores[i].name, name) == 0) return &s->stores[i];
    derr_set(e, DF_NO_STORE, "ERR_STATE_STORE_NOT_FOUND", "state store %s is not found", name);
    return NULL;
}

char *ds_key(const dserver *s, const dstore *st, const char *key, size_t klen, ss_arena *a, derr *e,
             const char *where, char *buf, size_t buflen)
{
    if (klen == 0) {
        derr_set(e, DF_BAD_REQUEST, "ERR_MALFORMED_REQUEST", "%s\"key\" is a required field",
                 where);
        return NULL;
    }
    if (s->max_key_len && klen > s->max_key_len) {
        /* the key itself is not echoed: it may be megabytes */
        derr_set(e, DF_BAD_REQUEST, "ERR_MALFORMED_REQUEST",
                 "%skey is %zu bytes, longer than the limit of %zu (--max-key-length)", where, klen,
                 s->max_key_len);
        return NULL;
    }
    if (memchr(key, '\0', klen)) {
        derr_set(e, DF_BAD_REQUEST, "ERR_MALFORMED_REQUEST",
                 "%skey must not contain a NUL character", where);
        return NULL;
    }
    if (strstr(key, "||")) {
        derr_set(e, DF_BAD_REQUEST, "ERR_MALFORMED_REQUEST",
                 "%sinput key/keyPrefix '%s' can't contain '||'", where, key);
        return NULL;
    }
    size_t need = st->prefix_len + klen + 1;
    char *k = need <= buflen ? buf : ss_arena_alloc(a, need);
    if (!k) {
        derr_oom(e);
        return NULL;
    }
    if (st->prefix_len) memcpy(k, st->prefix, st->prefix_len);
    memcpy(k + st->prefix_len, key, klen);
    k[need - 1] = '\0';
    return k;
}

bool ds_count_ok(const dserver *s, size_t n, const char *what, const char *code, derr *e)
{
    if (!s->max_items || n <= s->max_items) return true;
    derr_set(e, DF_BAD_REQUEST, code,
             "too many %s in one request: %zu, the limit is %zu (--max-bulk-items)", what, n,
             s->max_items);
    return false;
}

/* Compares all of the expected token and the lengths, so timing does not reveal a prefix. */
bool ds_token_ok(const dserver *s, const char *given, size_t glen)
{
    if (!s->token) return true;
    if (!given) return false;
    unsigned char diff = (unsigned char)(glen != s->token_len);
    size_t n = glen < s->token_len ? glen : s->token_len;
    volatile unsigned char acc = 0;
    for (size_t i = 0; i < s->token_len; i++)
        acc |= (unsigned char)(s->token[i] ^ (i < n ? given[i] : 0));
    return (acc | diff) == 0;
}

/* A store error: ETag outcomes get their own class, the rest keep the library's code. */
static void store_fail(derr *e, ss_code c)
{
    e->sc = c;
    e->fail = c == SS_ETAG_MISMATCH  ? DF_ETAG_MISMATCH
              : c == SS_ETAG_INVALID ? DF_ETAG_INVALID
              : c == SS_NOMEM        ? DF_OOM
                                     : DF_STORE;
}

bool ds_get(const dstore *st, const ss_get_request *g, const char *ukey, ss_value **out, derr *e)
{
    ss_error se;
    ss_code c = ss_get(out, st->store, g, &se);
    if (c == SS_OK) return true;
    derr_set(e, DF_STORE, "ERR_STATE_GET", "fail to get %s from state store %s: %s", ukey, st->name,
             se.message);
    store_fail(e, c);
    return false;
}

bool ds_save(const dstore *st, const ss_set_request *reqs, size_t n, derr *e)
{
    ss_error se;
    ss_code c = n == 1 ? ss_set(NULL, st->store, &reqs[0], &se)
                       : ss_bulk_set(NULL, st->store, reqs, n, NULL, &se);
    if (c == SS_OK) return true;
    if (c == SS_ETAG_MISMATCH)
        derr_set(e, DF_STORE, "ERR_STATE_SAVE",
                 "failed saving state in state store %s: possible etag mismatch. error from "
                 "state store: %s",
                 st->name, se.message);
    else if (c == SS_ETAG_INVALID)
        derr_set(e, DF_STORE, "ERR_STATE_SAVE",
                 "failed saving state in state store %s: invalid etag value: %s", st->name,
                 se.message);
    else
        derr_set(e, DF_STORE, "ERR_STATE_SAVE", "failed saving state in state store %s: %s",
                 st->name, se.message);
    store_fail(e, c);
    return false;
}

static void delete_fail(derr *e, ss_code c, const char *what, const char *msg)
{
    if (c == SS_ETAG_MISMATCH)
        derr_set(e, DF_STORE, "ERR_STATE_DELETE",
                 "failed deleting state with key %s: possible etag mismatch. error from state "
                 "store: %s",
                 what, msg);
    else if (c == SS_ETAG_INVALID)
        derr_set(e, DF_STORE, "ERR_STATE_DELETE",
                 "failed deleting state with key %s: invalid etag value: %s", what, msg);
    else
        derr_set(e, DF_STORE, "ERR_STATE_DELETE", "failed deleting state with key %s: %s", what,
                 msg);
    store_fail(e, c);
}

bool ds_delete(const dstore *st, const ss_delete_request *d, const char *ukey, derr *e)
{
    ss_error se;
    ss_code c = ss_delete(st->store, d, &se);
    if (c == SS_OK) return true;
    delete_fail(e, c, ukey, se.message);
    return false;
}

bool ds_delete_bulk(const dstore *st, const ss_delete_request *reqs, size_t n, derr *e)
{
    if (n == 1) return ds_delete(st, &reqs[0], reqs[0].key, e);
    ss_results res = {0};
    ss_error se;
    ss_code c = ss_bulk_delete(&res, st->store, reqs, n, NULL, &se);
    bool ok = c == SS_OK;
    if (!ok) {
        delete_fail(e, c, "(bulk)", se.message);
    } else {
        /* daprd's BulkDelete fails the call on the first failed item */
        for (size_t i = 0; i < res.count && ok; i++) {
            if (res.items[i].code == SS_OK) continue;
            delete_fail(e, res.items[i].code, reqs[i].key,
                        res.items[i].error ? res.items[i].error : ss_code_text(res.items[i].code));
            ok = false;
        }
    }
    ss_results_free(&res);
    return ok;
}

bool ds_bulk_get(const dstore *st, const ss_get_request *reqs, size_t n, long parallelism,
                 ss_results *out, derr *e)
{
    ss_bulk_options opts = {
        .parallelism = (unsigned)(parallelism < 0                 ? 0
                                  : parallelism > MAX_PARALLELISM ? MAX_PARALLELISM
                                                                  : parallelism),
    };
    ss_error se;
    ss_code c = ss_bulk_get(out, st->store, reqs, n, &opts, &se);
    if (c == SS_OK) return true;
    derr_set(e, DF_STORE, "ERR_STATE_BULK_GET", "failed getting state in bulk: %s", se.message);
    store_fail(e, c);
    return false;
}

bool ds_tx_supported(const dstore *st, derr *e)
{
    if (st->features.flags & SS_FEATURE_TRANSACTIONAL) return true;
    derr_set(e, DF_UNSUPPORTED, "ERR_STATE_STORE_NOT_SUPPORTED",
             "state store %s doesn't support transactions", st->name);
    return false;
}

bool ds_tx_check(const dserver *s, const dstore *st, size_t n, derr *e)
{
    if (!ds_count_ok(s, n, "operations", "ERR_STATE_STORE_TOO_MANY_TRANSACTIONS", e)) return false;
    if (st->features.max_tx_ops && n > st->features.max_tx_ops) {
        derr_set(e, DF_BAD_REQUEST, "ERR_STATE_STORE_TOO_MANY_TRANSACTIONS",
                 "the transaction contains %zu operations, which is more than what the state "
                 "store supports: %zu",
                 n, st->features.max_tx_ops);
        return false;
    }
    return true;
}

bool ds_tx_kind(const char *kind, ss_op_kind *out, derr *e)
{
    if (kind && strcmp(kind, "upsert") == 0) {
        *out = SS_OP_UPSERT;
        return true;
    }
    if (kind && strcmp(kind, "delete") == 0) {
        *out = SS_OP_DELETE;
        return true;
    }
    derr_set(e, DF_BAD_OPERATION, "ERR_NOT_SUPPORTED_STATE_OPERATION",
             "operation type %s not supported", kind ? kind : "");
    return false;
}

bool ds_transact(const dstore *st, const ss_transaction *tx, derr *e)
{
    ss_error se;
    ss_code c = ss_transact(st->store, tx, &se);
    if (c == SS_OK) return true;
    /* daprd answers every transaction failure, ETag ones included, as a plain failure */
    derr_set(e, DF_TRANSACTION, "ERR_STATE_TRANSACTION",
             "error while executing state transaction: %s", se.message);
    e->sc = c;
    return false;
}

#define SS_X_COUNT(name, bit, dapr, text) +(dapr)
_Static_assert(0 SS_FEATURE_MAP(SS_X_COUNT) + 1 <= 4,
               "ds_capabilities' out[4] holds the Dapr features of SS_FEATURE_MAP and ACTOR");
#undef SS_X_COUNT

size_t ds_capabilities(const ss_features *f, const char *out[4])
{
    size_t n = 0;
    /* The features SS_FEATURE_MAP marks as Dapr's, in its order. */
#define SS_X_CAP(name, bit, dapr, text)                                                            \
    if ((dapr) && (f->flags & SS_FEATURE_##name)) out[n++] = #name;
    SS_FEATURE_MAP(SS_X_CAP)
#undef SS_X_CAP
    if ((f->flags & SS_FEATURE_ETAG) && (f->flags & SS_FEATURE_TRANSACTIONAL)) out[n++] = "ACTOR";
    return n;
}

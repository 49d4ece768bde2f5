/* sql.c — the SQL drivers' common skeleton; see sql.h. */
#include "stores/sql/sql.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* ETags and conditions                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* Canonical UUID text (what the etag columns hold); anything else can never match. */
static bool sql_is_uuid(const char *s)
{
    if (strlen(s) != 36) return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

ss_code ss_sql_check_etag(const ss_op *op, ss_error *err)
{
    if (op->cond == SS_COND_MATCH && !sql_is_uuid(op->etag))
        return ss_error_set(err, SS_ETAG_INVALID, "etag is not a UUID");
    return SS_OK;
}

/* The dialect's check_op, else ss_sql_check_etag. */
static ss_code sql_check_etag(ss_sql *s, const ss_op *op, ss_error *err)
{
    if (s->dialect->check_op) return s->dialect->check_op(s, op, err);
    return ss_sql_check_etag(op, err);
}

ss_code ss_sql_cond_error(const ss_op *op, ss_error *err)
{
    if (op->cond == SS_COND_ABSENT)
        return ss_error_set(err, SS_ETAG_MISMATCH, "already exists (first-write)");
    return ss_error_set(err, SS_ETAG_MISMATCH, "etag mismatch (missing, expired or changed)");
}

ss_code ss_sql_props(ss_ctx *ctx, const char **conn, const char **table, const char **meta,
                     ss_error *err)
{
    *conn = ss_prop(ctx, "connectionString");
    *table = ss_prop(ctx, "tableName");
    *meta = ss_prop(ctx, "metadataTableName");
    if (!*conn || !**conn)
        return ss_error_set(err, SS_INVALID, "property connectionString is required");
    if (!*table || !**table) *table = "state";
    if (!*meta || !**meta) *meta = "dapr_metadata";
    return SS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Keys                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static int sql_bytescmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) return c;
    return alen == blen ? 0 : alen < blen ? -1 : 1;
}

/* Bytes, then request order: equal keys stay in the order they were asked for. */
static int sql_keycmp(const void *a, const void *b)
{
    const ss_sql_key *x = a, *y = b;
    int c = sql_bytescmp(x->key, x->len, y->key, y->len);
    if (c) return c;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static ss_sql_key *sql_sort_keys(const ss_op *ops, size_t count)
{
    ss_sql_key *k = malloc(count * sizeof *k);
    if (!k) return NULL;
    for (size_t i = 0; i < count; i++) k[i] = (ss_sql_key){ops[i].key, ops[i].key_len, i};
    qsort(k, count, sizeof *k, sql_keycmp);
    return k;
}

size_t ss_sql_keys_lower(const ss_sql_keys *keys, const char *key, size_t len)
{
    size_t lo = 0, hi = keys->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ss_sql_key *m = &keys->sorted[mid];
        if (sql_bytescmp(m->key, m->len, key, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool ss_sql_keys_at(const ss_sql_keys *keys, size_t pos, const char *key, size_t len, size_t *idx)
{
    if (pos >= keys->count) return false;
    const ss_sql_key *k = &keys->sorted[pos];
    if (k->len != len || memcmp(k->key, key, len) != 0) return false;
    *idx = k->idx;
    return true;
}

bool ss_sql_has_duplicate_keys(const ss_op *ops, size_t count)
{
    ss_sql_key *k = sql_sort_keys(ops, count);
    if (!k) return true;
    bool dup = false;
    for (size_t i = 1; i < count && !dup; i++)
        dup = k[i].len == k[i - 1].len && memcmp(k[i].key, k[i - 1].key, k[i].len) == 0;
    free(k);
    return dup;
}

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                */
/* ------------------------------------------------------------------------------------------ */

static ss_code sql_pool_open(void *arg, void **conn, ss_error *err)
{
    ss_sql *s = arg;
    return s->dialect->connect(s, conn, err);
}

static void sql_pool_close(void *arg, void *conn)
{
    ss_sql *s = arg;
    s->dialect->disconnect(conn);
}

static ss_pool_verdict sql_pool_check(void *arg, void *conn)
{
    ss_sql *s = arg;
    return s->dialect->check(conn);
}

static ss_code sql_pool_exhausted(void *arg, ss_error *err)
{
    ss_sql *s = arg;
    return s->dialect->exhausted(s, err);
}

typedef struct sql_job {
    ss_sql *s;
    ss_code (*fn)(ss_sql *s, void *conn, void *arg, ss_error *err);
    void *arg;
} sql_job;

static ss_code sql_job_run(void *conn, void *arg, ss_error *err)
{
    sql_job *j = arg;
    return j->fn(j->s, conn, j->arg, err);
}

ss_code ss_sql_run(ss_sql *s, bool repeatable,
                   ss_code (*fn)(ss_sql *s, void *conn, void *arg, ss_error *err), void *arg,
                   ss_error *err)
{
    if (s->dialect->enter) s->dialect->enter(s);
    sql_job j = {s, fn, arg};
    return ss_pool_run(s->pool, repeatable, sql_job_run, &j, err);
}

ss_code ss_sql_start(ss_sql *s, const ss_sql_dialect *d, ss_ctx *ctx, const ss_pool_config *limits,
                     ss_error *err)
{
    s->dialect = d;
    s->ctx = ctx;
    ss_pool_config cfg = *limits;
    cfg.arg = s;
    cfg.open = sql_pool_open;
    cfg.close = sql_pool_close;
    cfg.check = sql_pool_check;
    cfg.exhausted = sql_pool_exhausted;
    return ss_pool_create(&cfg, &s->pool, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Expired-row sweep                                                                          */
/* ------------------------------------------------------------------------------------------ */

static void sql_sweep_task(void *arg)
{
    ss_sql *s = arg;
    ss_pool_conn *pc;
    ss_error err;
    if (s->dialect->enter) s->dialect->enter(s);
    if (ss_pool_acquire(s->pool, &pc, &err) != SS_OK) {
        ss_log(s->ctx, SS_LOG_WARN, "expired-row sweep skipped: %s", err.message);
        return;
    }
    int64_t removed = -1;
    ss_code rc = s->dialect->sweep(s, ss_pool_conn_get(pc), &removed, &err);
    if (rc != SS_OK)
        ss_log(s->ctx, SS_LOG_WARN, "expired-row sweep: %s", err.message);
    else if (removed >= 0)
        ss_log(s->ctx, SS_LOG_DEBUG, "removed %" PRId64 " expired rows", removed);
    ss_pool_release(s->pool, pc, rc);
}

typedef struct sql_first {
    ss_code (*fn)(ss_sql *s, void *conn, ss_error *err);
} sql_first;

static ss_code sql_first_run(ss_sql *s, void *conn, void *arg, ss_error *err)
{
    const sql_first *f = arg;
    return f->fn ? f->fn(s, conn, err) : SS_OK;
}

ss_code ss_sql_ready(ss_sql *s, int64_t sweep_ms,
                     ss_code (*first)(ss_sql *s, void *conn, ss_error *err), ss_error *err)
{
    sql_first f = {first};
    ss_code rc = ss_sql_run(s, false, sql_first_run, &f, err);
    if (rc != SS_OK) return rc;
    if (sweep_ms > 0) {
        s->gc = ss_periodic_start(sweep_ms, sql_sweep_task, s);
        if (!s->gc) return ss_error_set(err, SS_NOMEM, "cannot start the expired-row sweep thread");
    }
    return SS_OK;
}

void ss_sql_stop(ss_sql *s)
{
    ss_periodic_stop(s->gc);
    s->gc = NULL;
    ss_pool_destroy(s->pool);
    s->pool = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Driver slots                                                                               */
/* ------------------------------------------------------------------------------------------ */

static ss_code sql_ping_run(ss_sql *s, void *conn, void *arg, ss_error *err)
{
    (void)arg;
    return s->dialect->ping(s, conn, err);
}

ss_code ss_sql_ping(void *self, ss_error *err)
{
    return ss_sql_run(self, true, sql_ping_run, NULL, err);
}

typedef struct sql_get_args {
    const ss_op *op;
    ss_value **out;
} sql_get_args;

static ss_code sql_get_run(ss_sql *s, void *conn, void *arg, ss_error *err)
{
    sql_get_args *a = arg;
    return s->dialect->get(s, conn, a->op, a->out, err);
}

ss_code ss_sql_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    sql_get_args a = {op, out};
    return ss_sql_run(self, true, sql_get_run, &a, err);
}

typedef struct sql_write_args {
    const ss_op *op;
    char **etag_out;
} sql_write_args;

static ss_code sql_write_run(ss_sql *s, void *conn, void *arg, ss_error *err)
{
    sql_write_args *a = arg;
    char etag[SS_SQL_ETAG_SIZE] = "";
    ss_code rc = s->dialect->write(s, conn, a->op, etag, err);
    if (rc == SS_OK && a->etag_out && a->op->kind == SS_DRV_SET) {
        *a->etag_out = ss_strdup(etag);
        if (!*a->etag_out) rc = ss_error_set(err, SS_NOMEM, "out of memory");
    }
    return rc;
}

static ss_code sql_write(ss_sql *s, const ss_op *op, char **etag_out, ss_error *err)
{
    ss_code rc = sql_check_etag(s, op, err);
    if (rc != SS_OK) return rc;
    sql_write_args a = {op, etag_out};
    /* Only unconditional writes are repeated: repeating a conditional one that did reach the
     * server would report a false mismatch. */
    return ss_sql_run(s, op->cond == SS_COND_ANY, sql_write_run, &a, err);
}

ss_code ss_sql_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    return sql_write(self, op, etag_out, err);
}

ss_code ss_sql_del(void *self, const ss_op *op, ss_error *err)
{
    return sql_write(self, op, NULL, err);
}

typedef struct sql_bulk_args {
    const ss_op *ops;
    size_t count;
    const ss_sql_keys *keys;
    ss_results *out;
    ss_item_result *items;
} sql_bulk_args;

static ss_code sql_bulk_get_run(ss_sql *s, void *conn, void *arg, ss_error *err)
{
    sql_bulk_args *a = arg;
    ss_code rc = s->dialect->bulk_get(s, conn, a->ops, a->count, a->keys, a->out, err);
    if (rc != SS_OK) {
        for (size_t i = 0; i < a->count; i++) {
            ss_value_free(a->out->items[i].value);
            a->out->items[i].value = NULL;
        }
    }
    return rc;
}

ss_code ss_sql_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out, ss_error *err)
{
    if (count == 0) return SS_OK;
    ss_sql_keys keys = {sql_sort_keys(ops, count), count};
    if (!keys.sorted) return ss_error_set(err, SS_NOMEM, "out of memory");
    sql_bulk_args a = {.ops = ops, .count = count, .keys = &keys, .out = out};
    ss_code rc = ss_sql_run(self, true, sql_bulk_get_run, &a, err);
    free(keys.sorted);
    return rc;
}

static ss_code sql_transact_run(ss_sql *s, void *conn, void *arg, ss_error *err)
{
    sql_bulk_args *a = arg;
    return s->dialect->transact(s, conn, a->ops, a->count, err);
}

ss_code ss_sql_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                        size_t metadata_count, ss_error *err)
{
    (void)metadata;
    (void)metadata_count;
    if (count == 0) return SS_OK;
    for (size_t i = 0; i < count; i++) {
        ss_error e;
        ss_code rc = sql_check_etag(self, &ops[i], &e);
        if (rc != SS_OK) return ss_error_set_op(err, rc, i, &ops[i], "%s", e.message);
    }
    sql_bulk_args a = {.ops = ops, .count = count};
    return ss_sql_run(self, false, sql_transact_run, &a, err);
}

static ss_code sql_bulk_write_run(ss_sql *s, void *conn, void *arg, ss_error *err)
{
    sql_bulk_args *a = arg;
    return s->dialect->bulk_write(s, conn, a->ops, a->count, a->items, err);
}

/* Items with an ETag that is not a UUID fail alone, before anything is sent; the dialect gets
 * the rest. */
ss_code ss_sql_bulk_write(void *self, const ss_op *ops, size_t count, ss_results *out,
                          ss_error *err)
{
    if (count == 0) return SS_OK;
    size_t nsend = 0;
    for (size_t i = 0; i < count; i++) {
        ss_error e;
        if (sql_check_etag(self, &ops[i], &e) != SS_OK) {
            out->items[i].code = e.code;
            out->items[i].error = ss_strdup(e.message);
        } else {
            nsend++;
        }
    }
    if (nsend == 0) return SS_OK;
    sql_bulk_args a = {.ops = ops, .count = count, .items = out->items};
    if (nsend == count) return ss_sql_run(self, false, sql_bulk_write_run, &a, err);

    ss_op *send = malloc(nsend * sizeof *send);
    size_t *map = malloc(nsend * sizeof *map);
    ss_item_result *items = calloc(nsend, sizeof *items);
    ss_code rc = SS_OK;
    if (!send || !map || !items) {
        rc = ss_error_set(err, SS_NOMEM, "out of memory");
    } else {
        for (size_t i = 0, j = 0; i < count; i++) {
            ss_error e;
            if (sql_check_etag(self, &ops[i], &e) != SS_OK) continue;
            send[j] = ops[i];
            map[j++] = i;
        }
        a = (sql_bulk_args){.ops = send, .count = nsend, .items = items};
        rc = ss_sql_run(self, false, sql_bulk_write_run, &a, err);
        for (size_t j = 0; j < nsend; j++) out->items[map[j]] = items[j];
    }
    free(send);
    free(map);
    free(items);
    return rc;
}

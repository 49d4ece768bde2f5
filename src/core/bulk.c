/* bulk.c — bulk get/set/delete: the driver's bulk slot, or the single op on a few threads. */
#include "core/internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PARALLELISM 8

typedef enum bulk_kind { BULK_GET, BULK_SET, BULK_DELETE } bulk_kind;

static const char *const kind_op[] = {"get", "set", "delete"};
static const char *const kind_call[] = {"bulk get", "bulk set", "bulk delete"};

typedef struct bulk_job {
    ss_store *store;
    bulk_kind kind;
    const ss_op *ops;
    const ss_retry *const *retries; /* per item, NULL for gets */
    ss_item_result *items;
    size_t count;
    atomic_size_t next;
} bulk_job;

void ss_results_free(ss_results *results)
{
    if (!results) return;
    for (size_t i = 0; i < results->count && results->items; i++) {
        free(results->items[i].error);
        ss_value_free(results->items[i].value);
        free(results->items[i].etag);
    }
    free(results->items);
    results->items = NULL;
    results->count = 0;
}

static void run_item(bulk_job *job, size_t i)
{
    ss_error e;
    ss_error_reset(&e);
    ss_item_result *it = &job->items[i];
    const ss_op *op = &job->ops[i];
    ss_code rc;
    switch (job->kind) {
    case BULK_GET:
        rc = ss_run_get(job->store, op, &it->value, &e);
        break;
    case BULK_SET:
        rc = ss_run_set(job->store, op, job->retries[i], &it->etag, &e);
        break;
    default:
        rc = ss_run_delete(job->store, op, job->retries[i], &e);
        break;
    }
    it->code = rc;
    if (rc != SS_OK) {
        it->error = ss_strdup(e.message);
        /* Without memory for the text the code still tells the caller what happened. */
    }
}

static void *worker(void *arg)
{
    bulk_job *job = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->count) break;
        run_item(job, i);
    }
    return NULL;
}

static void run_fallback(bulk_job *job, unsigned parallelism)
{
    size_t want = parallelism ? parallelism : DEFAULT_PARALLELISM;
    if (want > job->count) want = job->count;
    /* The calling thread is one of the workers. */
    size_t extra = want > 1 ? want - 1 : 0;
    pthread_t *threads = extra ? calloc(extra, sizeof *threads) : NULL;
    size_t started = 0;
    for (size_t t = 0; threads && t < extra; t++) {
        if (pthread_create(&threads[t], NULL, worker, job) != 0) break;
        started++;
    }
    worker(job);
    for (size_t t = 0; t < started; t++) pthread_join(threads[t], NULL);
    free(threads);
}

/* Turns a driver's per-item texts into full messages naming store, op and key. */
static void decorate_items(ss_store *s, bulk_kind kind, const ss_op *ops, ss_item_result *items,
                           size_t count)
{
    for (size_t i = 0; i < count; i++) {
        ss_item_result *it = &items[i];
        if ((unsigned)it->code > SS_BACKEND) it->code = SS_BACKEND;
        if (it->code == SS_OK) {
            free(it->error);
            it->error = NULL;
            if (!(s->features.flags & SS_FEATURE_ETAG)) {
                free(it->etag);
                it->etag = NULL;
                ss_value_drop_etag(it->value);
            }
            continue;
        }
        ss_value_free(it->value);
        it->value = NULL;
        free(it->etag);
        it->etag = NULL;
        char *msg = ss_error_decorate_dup(s, it->code, kind_op[kind], ops[i].key, ops[i].key_len,
                                          it->error);
        free(it->error);
        it->error = msg;
    }
}

static ss_code run_native(ss_store *s, bulk_kind kind, const ss_op *ops, ss_results *res,
                          ss_error *err)
{
    ss_error derr;
    ss_error_reset(&derr);
    ss_code rc;
    const ss_driver *d = s->driver;
    void *scratch;
    const ss_op *dops = ss_abi_ops(d, ops, res->count, &scratch);
    if (!dops)
        rc = ss_error_set(&derr, SS_NOMEM, "out of memory");
    else if (kind == BULK_GET)
        rc = d->bulk_get(s->self, dops, res->count, res, &derr);
    else if (kind == BULK_SET)
        rc = d->bulk_set(s->self, dops, res->count, res, &derr);
    else
        rc = d->bulk_delete(s->self, dops, res->count, res, &derr);
    free(scratch);
    if ((unsigned)rc > SS_BACKEND) rc = SS_BACKEND;
    if (rc == SS_OK) {
        decorate_items(s, kind, ops, res->items, res->count);
        return SS_OK;
    }
    /* The whole call failed: every item shares that fate and that message. */
    for (size_t i = 0; i < res->count; i++) {
        ss_item_result *it = &res->items[i];
        free(it->error);
        ss_value_free(it->value);
        free(it->etag);
        memset(it, 0, sizeof *it);
        it->code = rc;
        it->error =
            ss_error_decorate_dup(s, rc, kind_op[kind], ops[i].key, ops[i].key_len, derr.message);
    }
    return ss_error_decorate(err, s, rc, kind_call[kind], NULL, 0, derr.message);
}

static bool native_slot(const ss_store *s, bulk_kind kind)
{
    const ss_driver *d = s->driver;
    return kind == BULK_GET   ? d->bulk_get != NULL
           : kind == BULK_SET ? d->bulk_set != NULL
                              : d->bulk_delete != NULL;
}

/* The code a partially failed bulk write reports (see statestore.h), with err summarising. */
static ss_code summarise(ss_store *s, bulk_kind kind, const ss_results *res, ss_error *err)
{
    size_t failed = 0;
    const ss_item_result *first = NULL, *first_etag = NULL;
    for (size_t i = 0; i < res->count; i++) {
        const ss_item_result *it = &res->items[i];
        if (it->code == SS_OK) continue;
        failed++;
        if (!first) first = it;
        if (!first_etag && (it->code == SS_ETAG_MISMATCH || it->code == SS_ETAG_INVALID))
            first_etag = it;
    }
    if (!failed) return SS_OK;
    const ss_item_result *chosen = first_etag ? first_etag : first;
    char text[SS_ERROR_MESSAGE_MAX];
    snprintf(text, sizeof text, "%zu of %zu items failed; %s", failed, res->count,
             chosen->error ? ss_error_skip_store(s, chosen->error) : ss_code_text(chosen->code));
    return ss_error_decorate(err, s, chosen->code, kind_call[kind], NULL, 0, text);
}

static ss_code bulk(ss_results *out, ss_store *s, bulk_kind kind, const void *reqs, size_t count,
                    const ss_bulk_options *opts, ss_error *err)
{
    if (out) memset(out, 0, sizeof *out);
    if (!s) return ss_error_set(err, SS_INVALID, "%s: store is NULL", kind_call[kind]);
    if (kind == BULK_GET && !out)
        return ss_error_decorate(err, s, SS_INVALID, kind_call[kind], NULL, 0, "out is NULL");
    if (count == 0) return SS_OK;
    if (!reqs)
        return ss_error_decorate(err, s, SS_INVALID, kind_call[kind], NULL, 0,
                                 "count is not 0 but the requests are NULL");

    ss_op *ops = calloc(count, sizeof *ops);
    const ss_retry **retries = kind == BULK_GET ? NULL : calloc(count, sizeof *retries);
    ss_results res = {count, calloc(count, sizeof(ss_item_result))};
    ss_code rc = SS_OK;
    if (!ops || (kind != BULK_GET && !retries) || !res.items) {
        rc = ss_error_decorate(err, s, SS_NOMEM, kind_call[kind], NULL, 0, "out of memory");
        goto done;
    }
    /* Everything is validated before anything is attempted. */
    for (size_t i = 0; i < count; i++) {
        if (kind == BULK_GET) {
            rc = ss_prep_get(s, &((const ss_get_request *)reqs)[i], &ops[i], err);
        } else if (kind == BULK_SET) {
            const ss_set_request *r = &((const ss_set_request *)reqs)[i];
            rc = ss_prep_set(s, r, out != NULL, &ops[i], err);
            retries[i] = &r->options.retry;
        } else {
            const ss_delete_request *r = &((const ss_delete_request *)reqs)[i];
            rc = ss_prep_delete(s, r, &ops[i], err);
            retries[i] = &r->options.retry;
        }
        if (rc != SS_OK) goto done;
    }

    if (native_slot(s, kind)) {
        rc = run_native(s, kind, ops, &res, err);
        if (rc != SS_OK && kind == BULK_GET) goto done;
    } else {
        bulk_job job = {.store = s,
                        .kind = kind,
                        .ops = ops,
                        .retries = retries,
                        .items = res.items,
                        .count = count};
        atomic_init(&job.next, 0);
        run_fallback(&job, opts ? opts->parallelism : 0);
    }
    if (kind != BULK_GET && rc == SS_OK) rc = summarise(s, kind, &res, err);
    if (out) {
        *out = res;
        res.items = NULL;
        res.count = 0;
    }
done:
    ss_results_free(&res);
    free(ops);
    free(retries);
    return rc;
}

ss_code ss_bulk_get(ss_results *out, ss_store *store, const ss_get_request *reqs, size_t count,
                    const ss_bulk_options *opts, ss_error *err)
{
    return bulk(out, store, BULK_GET, reqs, count, opts, err);
}

ss_code ss_bulk_set(ss_results *out, ss_store *store, const ss_set_request *reqs, size_t count,
                    const ss_bulk_options *opts, ss_error *err)
{
    return bulk(out, store, BULK_SET, reqs, count, opts, err);
}

ss_code ss_bulk_delete(ss_results *out, ss_store *store, const ss_delete_request *reqs,
                       size_t count, const ss_bulk_options *opts, ss_error *err)
{
    return bulk(out, store, BULK_DELETE, reqs, count, opts, err);
}

/*
 * sql_workload.h — the driver side of the SQL benchmarks (postgresql_bench, mysql_bench): the
 * same single get / set, bulk get / set of BULK and TXOPS-upsert transaction through the public
 * API, so both drivers are measured doing identical work. The including file defines NKEYS,
 * BULK, TXOPS, `keys`, `value` and `die` first.
 */
#ifndef SS_BENCH_SQL_WORKLOAD_H
#define SS_BENCH_SQL_WORKLOAD_H

#include <statestore.h>

static void drv_get(void *ctx, size_t i)
{
    ss_get_request r = {.key = keys[i % NKEYS]};
    ss_value *v = NULL;
    ss_error e;
    if (ss_get(&v, ctx, &r, &e) != SS_OK || !v) die("get", e.message);
    ss_value_free(v);
}

static void drv_set(void *ctx, size_t i)
{
    ss_set_request r = {.key = keys[i % NKEYS], .value = value, .value_len = sizeof value};
    ss_error e;
    if (ss_set(NULL, ctx, &r, &e) != SS_OK) die("set", e.message);
}

static void drv_bulk_get(void *ctx, size_t i)
{
    ss_get_request r[BULK];
    for (size_t k = 0; k < BULK; k++) r[k] = (ss_get_request){.key = keys[(i * BULK + k) % NKEYS]};
    ss_results res;
    ss_error e;
    if (ss_bulk_get(&res, ctx, r, BULK, NULL, &e) != SS_OK) die("bulk get", e.message);
    ss_results_free(&res);
}

static void drv_bulk_set(void *ctx, size_t i)
{
    ss_set_request r[BULK];
    for (size_t k = 0; k < BULK; k++)
        r[k] = (ss_set_request){
            .key = keys[(i * BULK + k) % NKEYS], .value = value, .value_len = sizeof value};
    ss_error e;
    if (ss_bulk_set(NULL, ctx, r, BULK, NULL, &e) != SS_OK) die("bulk set", e.message);
}

static void drv_tx(void *ctx, size_t i)
{
    ss_operation ops[TXOPS];
    for (size_t k = 0; k < TXOPS; k++)
        ops[k] = (ss_operation){.kind = SS_OP_UPSERT,
                                .set = {.key = keys[(i * TXOPS + k) % NKEYS],
                                        .value = value,
                                        .value_len = sizeof value}};
    ss_transaction tx = {.ops = ops, .count = TXOPS};
    ss_error e;
    if (ss_transact(ctx, &tx, &e) != SS_OK) die("transaction", e.message);
}

#endif

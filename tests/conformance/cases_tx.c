/*
 * cases_tx.c — transactions: applied in order, all or nothing, ETags honoured inside, size
 * limits declared and enforced.
 */
#include "conformance.h"

#include <string.h>

static const ss_pair partition = {"partitionKey", "myPartition"};

/* Dapr's "transaction" test: four groups, each checked before the next. */
static void case_tx_groups(cf_t *t)
{
    const char *k_int = cf_key(t, "trx-int"), *k_bool = cf_key(t, "trx-bool");
    const char *k_bytes = cf_key(t, "trx-bytes"), *k_str = cf_key(t, "trx-string");
    const char *k_del = cf_key(t, "trx-to-be-deleted");
    const char *k_struct = cf_key(t, "trx-struct");
    const char *k_del2 = cf_key(t, "trx-to-be-deleted-too");

    cf_step(t, "group 1: upsert int, bool, bytes, string, to-be-deleted");
    ss_operation g1[] = {
        cf_op_upsert(k_int, "123", NULL),
        cf_op_upsert(k_bool, "true", NULL),
        cf_op_upsert(k_bytes, "\x01", NULL),
        cf_op_upsert(k_str, "\"hello world\"", NULL),
        cf_op_upsert(k_del, "\"to be deleted\"", NULL),
    };
    REQUIRE(cf_transact(t, g1, 5, &partition, 1, CF_WANT(OK), NULL));
    REQUIRE(cf_expects(t, k_int, "123"));
    REQUIRE(cf_expects(t, k_bool, "true"));
    REQUIRE(cf_expects(t, k_bytes, "\x01"));
    REQUIRE(cf_expects(t, k_str, "\"hello world\""));
    REQUIRE(cf_expects(t, k_del, "\"to be deleted\""));

    cf_step(t, "group 2: upsert struct, delete to-be-deleted");
    const char *sv = cf_fmt(t, "{\"message\":\"%stest\"}", k_struct);
    ss_operation g2[] = {cf_op_upsert(k_struct, sv, NULL), cf_op_delete(k_del, NULL)};
    REQUIRE(cf_transact(t, g2, 2, &partition, 1, CF_WANT(OK), NULL));
    REQUIRE(cf_expects(t, k_struct, sv));
    REQUIRE(cf_expect_missing(t, k_del));

    cf_step(t, "group 3: upsert to-be-deleted-too");
    ss_operation g3[] = {cf_op_upsert(k_del2, "\"to be deleted too\"", NULL)};
    REQUIRE(cf_transact(t, g3, 1, &partition, 1, CF_WANT(OK), NULL));
    REQUIRE(cf_expects(t, k_del2, "\"to be deleted too\""));

    cf_step(t, "group 4: delete to-be-deleted-too");
    ss_operation g4[] = {cf_op_delete(k_del2, NULL)};
    REQUIRE(cf_transact(t, g4, 1, &partition, 1, CF_WANT(OK), NULL));
    REQUIRE(cf_expect_missing(t, k_del2));
    REQUIRE(cf_expects(t, k_int, "123"));
}

static void case_tx_delete_missing(cf_t *t)
{
    ss_operation op = cf_op_delete(cf_key(t, "non-existent-key"), NULL);
    REQUIRE(cf_transact(t, &op, 1, NULL, 0, CF_WANT(OK), NULL));
}

/* Dapr's "transaction-order": operations apply in request order inside one transaction. */
static void case_tx_order(cf_t *t)
{
    const char *k1 = cf_key(t, "key1"), *k2 = cf_key(t, "key2"), *k3 = cf_key(t, "key3");
    REQUIRE(cf_puts(t, k1, "\"value1\""));
    REQUIRE(cf_del(t, k2, NULL, CF_WANT(OK)));
    REQUIRE(cf_del(t, k3, NULL, CF_WANT(OK)));
    ss_operation ops[] = {
        cf_op_delete(k1, NULL),
        cf_op_upsert(k2, "\"value2\"", NULL),
        cf_op_delete(k2, NULL),
        cf_op_upsert(k3, "\"value3\"", NULL),
    };
    REQUIRE(cf_transact(t, ops, 4, NULL, 0, CF_WANT(OK), NULL));
    REQUIRE(cf_expect_missing(t, k1));
    REQUIRE(cf_expect_missing(t, k2));
    REQUIRE(cf_expects(t, k3, "\"value3\""));

    cf_step(t, "the same key upserted twice: the later value wins");
    ss_operation twice[] = {cf_op_upsert(k1, "\"a\"", NULL), cf_op_upsert(k1, "\"b\"", NULL),
                            cf_op_delete(k3, NULL), cf_op_upsert(k3, "\"c\"", NULL)};
    REQUIRE(cf_transact(t, twice, 4, NULL, 0, CF_WANT(OK), NULL));
    REQUIRE(cf_expects(t, k1, "\"b\""));
    REQUIRE(cf_expects(t, k3, "\"c\""));
}

static void case_tx_etag(cf_t *t)
{
    const char *a = cf_key(t, "a"), *b = cf_key(t, "b");
    REQUIRE(cf_puts(t, a, "\"a1\""));
    REQUIRE(cf_puts(t, b, "\"b1\""));
    char *ea = NULL, *eb = NULL;
    REQUIRE(cf_etag_of(t, a, &ea));
    REQUIRE(cf_etag_of(t, b, &eb));
    ss_operation ops[] = {cf_op_upsert(a, "\"a2\"", ea), cf_op_delete(b, eb)};
    REQUIRE(cf_transact(t, ops, 2, NULL, 0, CF_WANT(OK), NULL));
    REQUIRE(cf_expects(t, a, "\"a2\""));
    REQUIRE(cf_expect_missing(t, b));
    char *ea2 = NULL;
    REQUIRE(cf_etag_of(t, a, &ea2));
    if (strcmp(ea, ea2) == 0) {
        cf_fail(t, "the ETag of an upsert inside a transaction did not change");
        return;
    }
    cf_step(t, "first-write with the ETag the transaction produced");
    ss_operation again = cf_op_upsert(a, "\"a3\"", ea2);
    again.set.options.concurrency = SS_FIRST_WRITE;
    if (cf_has(t, SS_FEATURE_FIRST_WRITE)) {
        REQUIRE(cf_transact(t, &again, 1, NULL, 0, CF_WANT(OK), NULL));
        REQUIRE(cf_expects(t, a, "\"a3\""));
    }
}

typedef struct tx_state {
    const char *k1, *k2, *k3, *k4;
    char *e1, *e4;
} tx_state;

/* k1 "v1", k3 "v3", k4 "v4" exist; k2 does not. */
static bool tx_setup(cf_t *t, tx_state *s)
{
    if (!cf_puts(t, s->k1, "\"v1\"") || !cf_puts(t, s->k3, "\"v3\"") ||
        !cf_puts(t, s->k4, "\"v4\"") || !cf_del(t, s->k2, NULL, CF_WANT(OK)))
        return false;
    if (cf_has(t, SS_FEATURE_ETAG))
        return cf_etag_of(t, s->k1, &s->e1) && cf_etag_of(t, s->k4, &s->e4);
    return true;
}

/* Nothing the failed transaction did may be visible. */
static bool tx_unchanged(cf_t *t, const tx_state *s)
{
    ss_value *v = NULL;
    if (!cf_expect(t, s->k1, "\"v1\"", 4, &v)) return false;
    if (s->e1 && (!v->etag || strcmp(v->etag, s->e1) != 0))
        return cf_fail(t, "key1's ETag changed although the transaction failed");
    if (!cf_expect_missing(t, s->k2) || !cf_expects(t, s->k3, "\"v3\"")) return false;
    if (!cf_expect(t, s->k4, "\"v4\"", 4, &v)) return false;
    if (s->e4 && (!v->etag || strcmp(v->etag, s->e4) != 0))
        return cf_fail(t, "key4's ETag changed although the transaction failed");
    return true;
}

/* A transaction whose LAST condition fails changes nothing: every earlier op is rolled back. */
static void case_tx_rollback(cf_t *t)
{
    bool etag = cf_has(t, SS_FEATURE_ETAG), fw = cf_has(t, SS_FEATURE_FIRST_WRITE);
    if (!etag && !fw) {
        cf_skip(t, "store declares neither ETAG nor FIRST_WRITE, so no condition can fail");
        return;
    }
    tx_state s = {
        cf_key(t, "key1"), cf_key(t, "key2"), cf_key(t, "key3"), cf_key(t, "key4"), NULL, NULL};
    REQUIRE(tx_setup(t, &s));
    char *stale = NULL;
    if (etag) {
        /* A stale ETag of key4, then key4 back to "v4" with a fresh ETag. */
        REQUIRE(cf_put(t, s.k4, "\"tmp\"", 5, NULL));
        REQUIRE(cf_etag_of(t, s.k4, &stale));
        REQUIRE(cf_put(t, s.k4, "\"v4\"", 4, &s.e4));
    }
    for (int variant = 0; variant < 5; variant++) {
        ss_operation last;
        unsigned want = CF_WANT(ETAG_MISMATCH);
        const char *names_key = s.k4;
        switch (variant) {
        case 0:
            if (!etag) continue;
            cf_step(t, "last op: upsert key4 with a stale ETag");
            last = cf_op_upsert(s.k4, "\"never\"", stale);
            break;
        case 1:
            if (!etag) continue;
            cf_step(t, "last op: delete key4 with a stale ETag");
            last = cf_op_delete(s.k4, stale);
            break;
        case 2:
            if (!etag) continue;
            cf_step(t, "last op: delete of a missing key with an ETag");
            names_key = cf_key(t, "missing");
            last = cf_op_delete(names_key, stale);
            break;
        case 3:
            if (!etag) continue;
            cf_step(t, "last op: upsert key4 with a garbage ETag");
            last = cf_op_upsert(s.k4, "\"never\"", "garbage-etag");
            want |= CF_WANT(ETAG_INVALID);
            break;
        default:
            if (!fw) continue;
            cf_step(t, "last op: first-write of the existing key4");
            last = cf_op_upsert(s.k4, "\"never\"", NULL);
            last.set.options.concurrency = SS_FIRST_WRITE;
            break;
        }
        ss_operation ops[] = {
            cf_op_upsert(s.k1, "\"changed\"", NULL),
            cf_op_delete(s.k3, NULL),
            cf_op_upsert(s.k2, "\"created\"", NULL),
            last,
        };
        ss_error err;
        REQUIRE(cf_transact(t, ops, 4, NULL, 0, want, &err));
        REQUIRE(tx_unchanged(t, &s));
        REQUIRE(cf_msg_has(t, "the failed transaction", &err, names_key));
    }
}

/* Conditions inside a transaction see the earlier operations of the same transaction, because
 * operations apply in order: a key first-written by op 1 exists for op 2, and an ETag that op 1
 * replaced no longer matches for op 2. */
static void case_tx_conditions_in_order(cf_t *t)
{
    bool etag = cf_has(t, SS_FEATURE_ETAG), fw = cf_has(t, SS_FEATURE_FIRST_WRITE);
    if (!etag && !fw) {
        cf_skip(t, "store declares neither ETAG nor FIRST_WRITE");
        return;
    }
    const char *k = cf_key(t, "k"), *other = cf_key(t, "other");
    REQUIRE(cf_puts(t, other, "\"other\""));
    if (fw) {
        cf_step(t, "first-write of a new key twice in one transaction");
        ss_operation ops[3] = {cf_op_upsert(other, "\"changed\"", NULL),
                               cf_op_upsert(k, "\"one\"", NULL), cf_op_upsert(k, "\"two\"", NULL)};
        ops[1].set.options.concurrency = SS_FIRST_WRITE;
        ops[2].set.options.concurrency = SS_FIRST_WRITE;
        REQUIRE(cf_transact(t, ops, 3, NULL, 0, CF_WANT(ETAG_MISMATCH), NULL));
        REQUIRE(cf_expect_missing(t, k));
        REQUIRE(cf_expects(t, other, "\"other\""));
    }
    if (etag) {
        char *e = NULL;
        REQUIRE(cf_put(t, k, "\"v1\"", 4, &e));
        cf_step(t, "the same current ETag used by two upserts in one transaction");
        ss_operation ops[3] = {cf_op_upsert(other, "\"changed\"", NULL),
                               cf_op_upsert(k, "\"v2\"", e), cf_op_upsert(k, "\"v3\"", e)};
        REQUIRE(cf_transact(t, ops, 3, NULL, 0, CF_WANT(ETAG_MISMATCH), NULL));
        REQUIRE(cf_expects(t, k, "\"v1\""));
        REQUIRE(cf_expects(t, other, "\"other\""));
        cf_step(t, "delete, then upsert with the deleted item's ETag, in one transaction");
        ss_operation ops2[3] = {cf_op_upsert(other, "\"changed\"", NULL), cf_op_delete(k, NULL),
                                cf_op_upsert(k, "\"v4\"", e)};
        REQUIRE(cf_transact(t, ops2, 3, NULL, 0, CF_WANT(ETAG_MISMATCH), NULL));
        REQUIRE(cf_expects(t, k, "\"v1\""));
        REQUIRE(cf_expects(t, other, "\"other\""));
    }
}

static void case_tx_max_ops(cf_t *t)
{
    size_t max = cf_env_of(t)->feat.max_tx_ops;
    if (!max) {
        cf_skip(t, "store declares no max_tx_ops");
        return;
    }
    if (max > 100000) {
        cf_skip(t, "declared max_tx_ops %zu is beyond what this suite builds", max);
        return;
    }
    ss_operation *ops = cf_alloc(t, (max + 1) * sizeof *ops);
    for (size_t i = 0; i <= max; i++)
        ops[i] = cf_op_upsert(cf_key(t, cf_fmt(t, "%zu", i)), "\"x\"", NULL);
    cf_step(t, "max_tx_ops + 1 = %zu operations", max + 1);
    ss_error err;
    REQUIRE(cf_transact(t, ops, max + 1, NULL, 0, CF_WANT(TOO_LARGE), &err));
    REQUIRE(cf_expect_missing(t, ops[0].set.key));
    REQUIRE(cf_expect_missing(t, ops[max].set.key));
    cf_step(t, "exactly max_tx_ops = %zu operations", max);
    REQUIRE(cf_transact(t, ops, max, NULL, 0, CF_WANT(OK), NULL));
    REQUIRE(cf_expects(t, ops[0].set.key, "\"x\""));
    REQUIRE(cf_expects(t, ops[max - 1].set.key, "\"x\""));
    REQUIRE(cf_expect_missing(t, ops[max].set.key));
}

static void case_tx_many_ops(cf_t *t)
{
    size_t max = cf_env_of(t)->feat.max_tx_ops;
    size_t n = max && max < 200 ? max : 200;
    ss_operation *ops = cf_alloc(t, n * sizeof *ops);
    for (size_t i = 0; i < n; i++)
        ops[i] = cf_op_upsert(cf_key(t, cf_fmt(t, "%zu", i)), cf_fmt(t, "%zu", i), NULL);
    cf_step(t, "%zu upserts", n);
    REQUIRE(cf_transact(t, ops, n, NULL, 0, CF_WANT(OK), NULL));
    ss_get_request *gets = cf_alloc(t, n * sizeof *gets);
    for (size_t i = 0; i < n; i++) gets[i].key = ops[i].set.key;
    ss_results *r = NULL;
    REQUIRE(cf_bulk_get(t, gets, n, NULL, &r));
    for (size_t i = 0; i < n; i++) {
        const ss_value *v = r->items[i].value;
        const char *want = ops[i].set.value;
        if (!v) {
            cf_fail(t, "item %zu: missing after the transaction", i);
            return;
        }
        REQUIRE(cf_same(t, cf_fmt(t, "item %zu", i), want, strlen(want), v->data, v->len));
    }
    cf_step(t, "%zu deletes", n);
    for (size_t i = 0; i < n; i++) ops[i] = cf_op_delete(gets[i].key, NULL);
    REQUIRE(cf_transact(t, ops, n, NULL, 0, CF_WANT(OK), NULL));
    REQUIRE(cf_bulk_get(t, gets, n, NULL, &r));
    for (size_t i = 0; i < n; i++)
        if (r->items[i].value) {
            cf_fail(t, "item %zu: still present after the delete transaction", i);
            return;
        }
}

static void case_tx_empty(cf_t *t)
{
    REQUIRE(cf_transact(t, NULL, 0, NULL, 0, CF_WANT(OK), NULL));
}

/* Invalid input anywhere in a transaction is INVALID, and no operation is applied. */
static void case_tx_invalid(cf_t *t)
{
    const char *a = cf_key(t, "a"), *b = cf_key(t, "b");
    REQUIRE(cf_puts(t, b, "\"b\""));
    for (int variant = 0; variant < 5; variant++) {
        ss_operation bad = cf_op_upsert(cf_key(t, "c"), "\"c\"", NULL);
        switch (variant) {
        case 0:
            cf_step(t, "an op with concurrency \"bogus-value\"");
            bad.set.options.concurrency = "bogus-value";
            break;
        case 1:
            cf_step(t, "a delete with consistency \"bogus-value\"");
            bad = cf_op_delete(b, NULL);
            bad.del.options.consistency = "bogus-value";
            break;
        case 2:
            cf_step(t, "an op with an empty key");
            bad.set.key = "";
            break;
        case 3:
            cf_step(t, "an op of unknown kind");
            bad.kind = (ss_op_kind)99;
            break;
        default:
            cf_step(t, "an upsert with value NULL and value_len 3");
            bad.set.value = NULL;
            break;
        }
        ss_operation ops[] = {cf_op_upsert(a, "\"a\"", NULL), cf_op_delete(b, NULL), bad};
        ss_error err;
        REQUIRE(cf_transact(t, ops, 3, NULL, 0, CF_WANT(INVALID), &err));
        if (variant < 2) REQUIRE(cf_msg_has(t, "the transaction", &err, "bogus-value"));
        REQUIRE(cf_expect_missing(t, a));
        REQUIRE(cf_expects(t, b, "\"b\""));
    }
}

const cf_case cf_cases_tx[] = {
    {"transaction-groups", SS_FEATURE_TRANSACTIONAL, 0, case_tx_groups,
     "Dapr's four transaction groups with partitionKey metadata, each checked in turn"},
    {"transaction-delete-missing", SS_FEATURE_TRANSACTIONAL, 0, case_tx_delete_missing,
     "a transaction deleting a never-written key succeeds"},
    {"transaction-order", SS_FEATURE_TRANSACTIONAL, 0, case_tx_order,
     "Dapr's transaction-order: ops apply in request order; a later upsert of a key wins"},
    {"transaction-etag", SS_FEATURE_TRANSACTIONAL | SS_FEATURE_ETAG, 0, case_tx_etag,
     "current ETags inside a transaction succeed and the ETag changes"},
    {"transaction-rollback", SS_FEATURE_TRANSACTIONAL, 0, case_tx_rollback,
     "the LAST op's failed condition (stale/garbage ETag, first-write) rolls back every earlier "
     "op"},
    {"transaction-conditions-in-order", SS_FEATURE_TRANSACTIONAL, 0, case_tx_conditions_in_order,
     "conditions see earlier ops of the same transaction (first-write twice, ETag reused)"},
    {"transaction-max-ops", SS_FEATURE_TRANSACTIONAL, 0, case_tx_max_ops,
     "max_tx_ops + 1 operations is TOO_LARGE with nothing written; exactly max_tx_ops works"},
    {"transaction-many-ops", SS_FEATURE_TRANSACTIONAL, 0, case_tx_many_ops,
     "200 upserts (or max_tx_ops) in one transaction, then 200 deletes"},
    {"transaction-empty", SS_FEATURE_TRANSACTIONAL, 0, case_tx_empty,
     "an empty transaction succeeds"},
    {"transaction-invalid", SS_FEATURE_TRANSACTIONAL, 0, case_tx_invalid,
     "bad option, empty key, unknown kind, NULL value: INVALID and nothing applied"},
};
const size_t cf_cases_tx_count = sizeof cf_cases_tx / sizeof cf_cases_tx[0];

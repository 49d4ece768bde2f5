/*
 * selftest.c — proves the conformance suite can fail.
 *
 * Each "mutant" is the memory driver with one deliberate bug (an ETag ignored, a value cut at
 * a NUL byte, a transaction applied without rollback, ...), registered under its own name
 * with ss_register_driver. The suite runs against each mutant, restricted to the cases that
 * should catch it, and at least one of them must print FAIL. The unmodified wrapper must pass.
 *
 * Every run happens in a child process (forked before any thread exists) so that a mutant's
 * run cannot disturb the next one; its output is read back through a pipe.
 */
#include "conformance.h"
#include "statestore/driver.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern const ss_driver ss_driver_memory;
#define MEM ss_driver_memory

/* ------------------------------------------------------------------------------------------ */
/* The bugs                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static ss_code set_ignores_etag(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    ss_op o = *op;
    if (o.cond == SS_COND_MATCH) {
        o.cond = SS_COND_ANY;
        o.etag = NULL;
    }
    return MEM.set(self, &o, etag_out, err);
}

static ss_code set_ignores_first_write(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    ss_op o = *op;
    if (o.cond == SS_COND_ABSENT) o.cond = SS_COND_ANY;
    return MEM.set(self, &o, etag_out, err);
}

static ss_code set_ignores_ttl(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    ss_op o = *op;
    o.ttl_mode = SS_TTL_NONE;
    o.ttl_seconds = 0;
    return MEM.set(self, &o, etag_out, err);
}

static ss_code set_minus_one_expires(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    ss_op o = *op;
    if (o.ttl_mode == SS_TTL_NONE) {
        o.ttl_mode = SS_TTL_SECONDS;
        o.ttl_seconds = 1;
    }
    return MEM.set(self, &o, etag_out, err);
}

static ss_code set_truncates_large(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    ss_op o = *op;
    if (o.value_len > 65536) o.value_len = 65536;
    return MEM.set(self, &o, etag_out, err);
}

static ss_code set_returns_no_etag(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    ss_code rc = MEM.set(self, op, etag_out, err);
    ss_free(*etag_out);
    *etag_out = NULL;
    return rc;
}

static ss_code set_mismatch_is_invalid(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    ss_code rc = MEM.set(self, op, etag_out, err);
    if (rc == SS_ETAG_MISMATCH) return ss_error_set(err, SS_ETAG_INVALID, "invalid etag value");
    return rc;
}

static ss_code get_cuts_at_nul(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    ss_code rc = MEM.get(self, op, out, err);
    if (rc != SS_OK || !*out || strlen((*out)->data) == (*out)->len) return rc;
    ss_value *cut = ss_value_new((*out)->data, strlen((*out)->data), (*out)->etag);
    ss_value_free(*out);
    *out = cut;
    return cut ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
}

/* Replies pass through one shared slot, filled and read in two steps: under concurrency a
 * caller can get another caller's reply, as with a connection shared without a lock. */
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static char slot_data[256];
static size_t slot_len;

static ss_code get_shared_slot(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    ss_code rc = MEM.get(self, op, out, err);
    if (rc != SS_OK || !*out || (*out)->len >= sizeof slot_data) return rc;
    pthread_mutex_lock(&slot_lock);
    memcpy(slot_data, (*out)->data, (*out)->len);
    slot_len = (*out)->len;
    pthread_mutex_unlock(&slot_lock);
    cf_sleep_ms(1);
    pthread_mutex_lock(&slot_lock);
    ss_value *crossed = ss_value_new(slot_data, slot_len, (*out)->etag);
    pthread_mutex_unlock(&slot_lock);
    ss_value_free(*out);
    *out = crossed;
    return crossed ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
}

static ss_code get_empty_is_missing(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    ss_code rc = MEM.get(self, op, out, err);
    if (rc == SS_OK && *out && (*out)->len == 0) {
        ss_value_free(*out);
        *out = NULL;
    }
    return rc;
}

static ss_code del_ignores_etag(void *self, const ss_op *op, ss_error *err)
{
    ss_op o = *op;
    if (o.cond == SS_COND_MATCH) {
        o.cond = SS_COND_ANY;
        o.etag = NULL;
    }
    return MEM.del(self, &o, err);
}

static ss_code del_missing_with_etag_ok(void *self, const ss_op *op, ss_error *err)
{
    ss_code rc = MEM.del(self, op, err);
    if (rc != SS_ETAG_MISMATCH) return rc;
    ss_op g = *op;
    g.kind = SS_DRV_GET;
    ss_value *v = NULL;
    ss_error ignored;
    if (MEM.get(self, &g, &v, &ignored) == SS_OK && !v) return SS_OK;
    ss_value_free(v);
    return rc;
}

/* Keys folded to lower case, as a case-insensitive collation would. */
static char *lower_key(const ss_op *op, ss_op *o)
{
    char *k = ss_strdup(op->key);
    if (!k) return NULL;
    for (char *p = k; *p; p++) *p = (char)tolower((unsigned char)*p);
    *o = *op;
    o->key = k;
    return k;
}

static ss_code get_lower(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    ss_op o;
    char *k = lower_key(op, &o);
    if (!k) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code rc = MEM.get(self, &o, out, err);
    ss_free(k);
    return rc;
}

static ss_code set_lower(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    ss_op o;
    char *k = lower_key(op, &o);
    if (!k) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code rc = MEM.set(self, &o, etag_out, err);
    ss_free(k);
    return rc;
}

static ss_code del_lower(void *self, const ss_op *op, ss_error *err)
{
    ss_op o;
    char *k = lower_key(op, &o);
    if (!k) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code rc = MEM.del(self, &o, err);
    ss_free(k);
    return rc;
}

/* Checks the condition, then writes unconditionally: the window a check-then-write leaves. */
static ss_code set_check_then_write(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    if (op->cond == SS_COND_ANY) return MEM.set(self, op, etag_out, err);
    ss_op g = *op;
    g.kind = SS_DRV_GET;
    ss_value *v = NULL;
    ss_code rc = MEM.get(self, &g, &v, err);
    if (rc != SS_OK) return rc;
    bool ok = op->cond == SS_COND_ABSENT ? !v : v && v->etag && strcmp(v->etag, op->etag) == 0;
    ss_value_free(v);
    if (!ok) return ss_error_set(err, SS_ETAG_MISMATCH, "etag mismatch");
    cf_sleep_ms(2);
    ss_op o = *op;
    o.cond = SS_COND_ANY;
    o.etag = NULL;
    return MEM.set(self, &o, etag_out, err);
}

static ss_code bulk_get_swaps(void *self, const ss_op *ops, size_t count, ss_results *out,
                              ss_error *err)
{
    ss_code rc = MEM.bulk_get(self, ops, count, out, err);
    if (rc == SS_OK && count >= 2) {
        ss_item_result tmp = out->items[0];
        out->items[0] = out->items[1];
        out->items[1] = tmp;
    }
    return rc;
}

/* Stops at the first failed item, as a careless loop would. */
static ss_code bulk_set_stops(void *self, const ss_op *ops, size_t count, ss_results *out,
                              ss_error *err)
{
    bool failed = false;
    for (size_t i = 0; i < count; i++) {
        ss_item_result *it = &out->items[i];
        if (failed) {
            it->code = SS_BACKEND;
            it->error = ss_strdup("not attempted");
            continue;
        }
        ss_error e = {0};
        it->code = MEM.set(self, &ops[i], &it->etag, &e);
        if (it->code != SS_OK) {
            it->error = ss_strdup(e.message);
            failed = true;
        }
    }
    return SS_OK;
}

/* Applies operations one by one: no all-or-nothing. */
static ss_code transact_no_rollback(void *self, const ss_op *ops, size_t count,
                                    const ss_pair *metadata, size_t metadata_count, ss_error *err)
{
    for (size_t i = 0; i < count; i++) {
        ss_code rc;
        if (ops[i].kind == SS_DRV_SET) {
            char *etag = NULL;
            rc = MEM.set(self, &ops[i], &etag, err);
            ss_free(etag);
        } else {
            rc = MEM.del(self, &ops[i], err);
        }
        if (rc != SS_OK) return rc;
    }
    return SS_OK;
}

/* Checks every condition against the state before the transaction, then applies the ops
 * unconditionally: conditions do not see earlier ops of the same transaction. */
static ss_code transact_checks_first(void *self, const ss_op *ops, size_t count,
                                     const ss_pair *metadata, size_t metadata_count, ss_error *err)
{
    for (size_t i = 0; i < count; i++) {
        if (ops[i].cond == SS_COND_ANY) continue;
        ss_op g = ops[i];
        g.kind = SS_DRV_GET;
        ss_value *v = NULL;
        ss_code rc = MEM.get(self, &g, &v, err);
        if (rc != SS_OK) return rc;
        bool ok =
            ops[i].cond == SS_COND_ABSENT ? !v : v && v->etag && strcmp(v->etag, ops[i].etag) == 0;
        ss_value_free(v);
        if (!ok) return ss_error_set(err, SS_ETAG_MISMATCH, "etag mismatch on %s", ops[i].key);
    }
    ss_op *plain = calloc(count ? count : 1, sizeof *plain);
    if (!plain) return ss_error_set(err, SS_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        plain[i] = ops[i];
        plain[i].cond = SS_COND_ANY;
        plain[i].etag = NULL;
    }
    ss_code rc = MEM.transact(self, plain, count, metadata, metadata_count, err);
    free(plain);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* The mutants                                                                                */
/* ------------------------------------------------------------------------------------------ */

typedef struct mutant {
    ss_driver drv;
    bool must_pass;             /* a sound variant: the selected cases must all pass */
    const char *catch_cases[4]; /* run only these (NULL: all); at least one must FAIL */
} mutant;

enum { MAX_MUTANTS = 24 };
static mutant mutants[MAX_MUTANTS];
static size_t nmutants;

static ss_driver *add(const char *name, const char *summary, const char *c0, const char *c1,
                      const char *c2)
{
    mutant *m = &mutants[nmutants++];
    m->drv = MEM;
    m->drv.info.name = name;
    m->drv.info.aliases = NULL;
    m->drv.info.summary = summary;
    m->catch_cases[0] = c0;
    m->catch_cases[1] = c1;
    m->catch_cases[2] = c2;
    return &m->drv;
}

static void build_mutants(void)
{
    ss_driver *d;
    d = add("selftest-sound", "the memory driver, unchanged", NULL, NULL, NULL);
    mutants[nmutants - 1].must_pass = true;
    d = add("selftest-limits",
            "declared limits are enforced (max_key_len 200, max_value_len 4096, "
            "max_tx_ops 10)",
            "key-max-len", "value-over-max", "transaction-max-ops");
    mutants[nmutants - 1].must_pass = true;
    d->info.features.max_key_len = 200;
    d->info.features.max_value_len = 4096;
    d->info.features.max_tx_ops = 10;
    d = add("selftest-etag-ignored", "set ignores the ETag condition", "etag-sequence",
            "etag-mismatch", "transaction-rollback");
    d->set = set_ignores_etag;
    d = add("selftest-first-write-ignored", "first-write overwrites", "first-write-no-etag",
            "feature-first-write", NULL);
    d->set = set_ignores_first_write;
    d = add("selftest-ttl-ignored", "ttlInSeconds never expires", "ttl-expiry", NULL, NULL);
    d->set = set_ignores_ttl;
    d = add("selftest-minus-one-expires", "ttlInSeconds=-1 expires", "ttl-remove-minus-one", NULL,
            NULL);
    d->set = set_minus_one_expires;
    d = add("selftest-truncates-large", "values over 64 KiB are cut", "value-large", NULL, NULL);
    d->set = set_truncates_large;
    d = add("selftest-no-new-etag", "set returns no ETag", "etag-set-returns-new", "set-get", NULL);
    d->set = set_returns_no_etag;
    d = add("selftest-mismatch-invalid", "a stale ETag is reported ETAG_INVALID", "etag-sequence",
            "etag-mismatch", NULL);
    d->set = set_mismatch_is_invalid;
    d = add("selftest-cuts-at-nul", "get stops at the first NUL byte", "value-binary", NULL, NULL);
    d->get = get_cuts_at_nul;
    d = add("selftest-empty-missing", "an empty value reads as missing", "value-empty",
            "dapr-values", NULL);
    d->get = get_empty_is_missing;
    d = add("selftest-delete-missing-etag", "delete with an ETag of a missing key succeeds",
            "etag-mismatch", NULL, NULL);
    d->del = del_missing_with_etag_ok;
    d = add("selftest-case-insensitive", "keys folded to lower case", "keys-special", NULL, NULL);
    d->get = get_lower;
    d->set = set_lower;
    d->del = del_lower;
    d->bulk_get = d->bulk_set = NULL;
    d->bulk_delete = NULL;
    d->transact = NULL;
    d->info.features.flags &= ~(unsigned)(SS_FEATURE_BULK_NATIVE | SS_FEATURE_TRANSACTIONAL);
    d = add("selftest-bulk-get-order", "bulk get swaps the first two results", "bulk-get",
            "bulk-many", NULL);
    d->bulk_get = bulk_get_swaps;
    d = add("selftest-bulk-set-stops", "bulk set stops at the first failure", "etag-sequence", NULL,
            NULL);
    d->bulk_set = bulk_set_stops;
    d = add("selftest-no-rollback", "transactions are not all-or-nothing", "transaction-rollback",
            NULL, NULL);
    d->transact = transact_no_rollback;
    d = add("selftest-check-then-write", "conditional sets check, then write unconditionally",
            "race-first-write", "race-etag", NULL);
    d->set = set_check_then_write;
    d = add("selftest-tx-checks-first", "transaction conditions ignore the earlier ops",
            "transaction-conditions-in-order", NULL, NULL);
    d->transact = transact_checks_first;
    d = add("selftest-crossed-replies", "concurrent gets can receive each other's replies",
            "concurrent-mixed", NULL, NULL);
    d->get = get_shared_slot;
    d = add("selftest-delete-ignores-etag", "delete ignores the ETag condition", "etag-sequence",
            "etag-mismatch", NULL);
    d->del = del_ignores_etag;
}

/* Runs the suite in a child; returns its exit status and its output in buf. */
static int run_child(const mutant *m, char *buf, size_t cap)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(stdout); /* or the child would print the parent's buffered lines again */
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[1]);
        for (size_t i = 0; i < nmutants; i++) {
            ss_error err = {0};
            if (ss_register_driver(&mutants[i].drv, &err) != SS_OK) {
                printf("register %s: %s\n", mutants[i].drv.info.name, err.message);
                fflush(stdout);
                _exit(3);
            }
        }
        char *argv[16];
        int argc = 0;
        argv[argc++] = "ss_conformance";
        argv[argc++] = "--driver";
        argv[argc++] = (char *)m->drv.info.name;
        for (size_t i = 0; i < 4 && m->catch_cases[i]; i++) {
            argv[argc++] = "--case";
            argv[argc++] = (char *)m->catch_cases[i];
        }
        argv[argc] = NULL;
        int rc = cf_main(argc, argv);
        fflush(stdout);
        _exit(rc);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + len, cap - 1 - len)) > 0) {
        len += (size_t)n;
        if (len + 1 >= cap) break;
    }
    buf[len] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(void)
{
    build_mutants();
    size_t bad = 0;
    static char out[1 << 16];
    for (size_t i = 0; i < nmutants; i++) {
        const mutant *m = &mutants[i];
        int rc = run_child(m, out, sizeof out);
        const char *fail_line = strstr(out, "\nFAIL ");
        if (m->must_pass) {
            if (rc == 0) {
                printf("ok %s: %s: the suite passes\n", m->drv.info.name, m->drv.info.summary);
            } else {
                printf("FAIL %s: expected the suite to pass, exit %d:\n%s", m->drv.info.name, rc,
                       out);
                bad++;
            }
            continue;
        }
        if (rc == 1 && fail_line) {
            const char *eol = strchr(fail_line + 1, '\n');
            printf("ok %s: %s: caught by %.*s\n", m->drv.info.name, m->drv.info.summary,
                   (int)(eol ? eol - fail_line - 1 : 200), fail_line + 1);
        } else {
            printf("FAIL %s: %s: NOT caught (exit %d):\n%s", m->drv.info.name, m->drv.info.summary,
                   rc, out);
            bad++;
        }
    }
    printf("selftest: %zu mutants, %zu not caught as expected\n", nmutants, bad);
    return bad ? 1 : 0;
}

/*
 * conformance.h — the harness shared by the conformance cases.
 *
 * The suite drives a store through the public API only (statestore.h), so it checks exactly
 * what users of the library see. A case is a function that calls the store through the
 * helpers below; each helper checks one expectation and, when it does not hold, records a
 * failure that says what was expected and what came back (with the ss_error message), then
 * returns false so the case can stop with REQUIRE().
 *
 * Keys: every key the suite uses is <run prefix>-<case>-<suffix>, where the run prefix is a
 * fresh random UUID, so runs against persistent servers never collide. Every key made by
 * cf_key() is deleted when the run ends. Messages show the prefix as "$P".
 *
 * Memory: values, results and strings a helper hands back are owned by the running case and
 * freed when it ends, so cases never free anything themselves.
 */
#ifndef SS_CONFORMANCE_H
#define SS_CONFORMANCE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "statestore.h"

/* A set of acceptable result codes: CF_WANT(OK), CF_WANT(ETAG_MISMATCH) | CF_WANT(ETAG_INVALID). */
#define CF_WANT(c) (1u << SS_##c)

/* Stops the case when a helper reported a failure (or a skip). */
#define REQUIRE(x)                                                                                 \
    do {                                                                                           \
        if (!(x)) return;                                                                          \
    } while (0)

/* Flags of a case. */
enum {
    /* Mostly waits (TTL): runs in its own thread alongside the other cases. */
    CF_SLOW = 1u << 0,
};

typedef enum cf_status {
    CF_PASS = 0,
    CF_FAIL = 1,
    CF_SKIP = 2,
} cf_status;

/* What every case can see; read-only while cases run. */
typedef struct cf_env {
    ss_store *store;
    const char *driver;       /* canonical driver name */
    const char *name;         /* instance name */
    const char *asked_driver; /* as given on the command line */
    const char *asked_name;   /* as given, NULL when not */
    ss_features feat;
    char prefix[40]; /* "cf" + 32 hex digits: fresh per run */
} cf_env;

typedef struct cf_t cf_t;

typedef struct cf_case {
    const char *name;
    unsigned needs; /* SS_FEATURE_* bits: the case is skipped unless all are declared */
    unsigned flags; /* CF_SLOW */
    void (*run)(cf_t *t);
    const char *doc; /* one line: what the case checks (for --list and the README) */
} cf_case;

/* The cases, one table per file. */
extern const cf_case cf_cases_basic[];
extern const size_t cf_cases_basic_count;
extern const cf_case cf_cases_data[];
extern const size_t cf_cases_data_count;
extern const cf_case cf_cases_etag[];
extern const size_t cf_cases_etag_count;
extern const cf_case cf_cases_tx[];
extern const size_t cf_cases_tx_count;
extern const cf_case cf_cases_ttl[];
extern const size_t cf_cases_ttl_count;

/* The whole ss_conformance program (main.c). */
int cf_main(int argc, char **argv);

/* ------------------------------------------------------------------------------------------ */
/* Running one case (used by main.c)                                                          */
/* ------------------------------------------------------------------------------------------ */

cf_t *cf_case_new(const cf_env *env, const cf_case *c);
void cf_case_run(cf_t *t); /* runs the case and frees what it owned */
cf_status cf_case_status(const cf_t *t);
const char *cf_case_message(const cf_t *t);
void cf_case_free(cf_t *t);

/* Deletes every key the run made; returns how many could not be deleted (first error in msg). */
size_t cf_cleanup(const cf_env *env, char *msg, size_t msglen);
void cf_keys_free(void);

/* ------------------------------------------------------------------------------------------ */
/* Outcome of the running case                                                                */
/* ------------------------------------------------------------------------------------------ */

const cf_env *cf_env_of(const cf_t *t);
bool cf_has(const cf_t *t, unsigned feature); /* the store declares this SS_FEATURE_* bit */

/* Records a failure (the first one wins) and returns false. */
bool cf_fail(cf_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Marks the case skipped with a reason and returns false (so REQUIRE stops the case). */
bool cf_skip(cf_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Names the current step; failure messages start with "[step] ". NULL clears it. */
void cf_step(cf_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------------------------------ */
/* Case-owned memory                                                                          */
/* ------------------------------------------------------------------------------------------ */

void *cf_alloc(cf_t *t, size_t n);       /* zeroed; aborts the process on out-of-memory */
char *cf_strdup(cf_t *t, const char *s); /* NULL stays NULL */
char *cf_fmt(cf_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A key of this case: "<prefix>-<case>-<suffix>", registered for deletion at the end. */
const char *cf_key(cf_t *t, const char *suffix);
/* A key of exactly `len` bytes (>= the prefix length + 2) ending in `last`, registered like
 * cf_key; keys of the same length differ only in `last`. */
const char *cf_key_len(cf_t *t, size_t len, char last);
/* A printable form of a key: the run prefix shown as $P, odd bytes escaped, long ones cut. */
const char *cf_show_key(cf_t *t, const char *key);
/* A printable excerpt of bytes. */
const char *cf_show(cf_t *t, const void *data, size_t len);

/* ------------------------------------------------------------------------------------------ */
/* Checks                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Prepares an ss_error so cf_code can tell whether a successful call left it untouched. */
void cf_err_init(ss_error *err);
/* Checks a call's code against a CF_WANT set; `what` describes the call. Pass an err that
 * went through cf_err_init. */
bool cf_code(cf_t *t, const char *what, ss_code got, unsigned want, const ss_error *err);
/* Checks that a failed call's message contains `needle`. */
bool cf_msg_has(cf_t *t, const char *what, const ss_error *err, const char *needle);
/* Checks two byte strings for equality, naming the first difference. */
bool cf_same(cf_t *t, const char *what, const void *want, size_t want_len, const void *got,
             size_t got_len);
/* Checks what every returned value must look like (NUL after data, ETag iff ETAG declared). */
bool cf_value_shape(cf_t *t, const char *what, const ss_value *v);

/* ------------------------------------------------------------------------------------------ */
/* Single operations                                                                          */
/* ------------------------------------------------------------------------------------------ */

/* Unconditional set; expects OK. etag_out (case-owned) may be NULL. */
bool cf_put(cf_t *t, const char *key, const void *value, size_t len, char **etag_out);
bool cf_puts(cf_t *t, const char *key, const char *text);
/* Any set; checks the code; *etag_out (case-owned) receives the new ETag when asked. */
bool cf_set_req(cf_t *t, const ss_set_request *req, unsigned want, char **etag_out);
/* Delete with an optional ETag; checks the code. */
bool cf_del(cf_t *t, const char *key, const char *etag, unsigned want);
bool cf_del_req(cf_t *t, const ss_delete_request *req, unsigned want);
/* Get; expects OK. *out is the (case-owned) value or NULL when the key is missing. */
bool cf_get(cf_t *t, const char *key, ss_value **out);
bool cf_get_req(cf_t *t, const ss_get_request *req, ss_value **out);
/* Get; the key must exist with exactly these bytes. *out (optional) receives the value. */
bool cf_expect(cf_t *t, const char *key, const void *value, size_t len, ss_value **out);
bool cf_expects(cf_t *t, const char *key, const char *text);
/* Get; the key must be missing. */
bool cf_expect_missing(cf_t *t, const char *key);
/* Get; the key must exist with a non-empty ETag, returned in *etag (case-owned). */
bool cf_etag_of(cf_t *t, const char *key, char **etag);

/* ------------------------------------------------------------------------------------------ */
/* Bulk operations and transactions                                                           */
/* ------------------------------------------------------------------------------------------ */

/*
 * Bulk set/delete: checks the call's code against want_call and, when want_items is not NULL,
 * every item's code against want_items[i] (NULL: every item must be OK). *out (optional,
 * case-owned) receives the results.
 */
bool cf_bulk_set(cf_t *t, const ss_set_request *reqs, size_t n, unsigned want_call,
                 const unsigned *want_items, ss_results **out);
bool cf_bulk_del(cf_t *t, const ss_delete_request *reqs, size_t n, unsigned want_call,
                 const unsigned *want_items);
/* Bulk get: expects OK, one item per request, each OK and shaped right. */
bool cf_bulk_get(cf_t *t, const ss_get_request *reqs, size_t n, const ss_bulk_options *opts,
                 ss_results **out);

/* Transaction; checks the code. `err_out` (optional) receives the error. */
bool cf_transact(cf_t *t, const ss_operation *ops, size_t n, const ss_pair *meta, size_t meta_n,
                 unsigned want, ss_error *err_out);
ss_operation cf_op_upsert(const char *key, const char *text, const char *etag);
ss_operation cf_op_delete(const char *key, const char *etag);

/* A pseudo-random fill (deterministic per seed) for large values. */
void cf_fill(void *buf, size_t len, uint32_t seed);
/* Monotonic milliseconds. */
int64_t cf_now_ms(void);
void cf_sleep_ms(int64_t ms);

#endif

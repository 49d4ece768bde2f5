/*
 * internal.h — what the core's files share with each other, with built-in drivers and with the
 * unit tests. Nothing here is part of the public API: symbols keep the `ss_` prefix but are not
 * exported from the shared library (hidden visibility), so only in-tree code links against them.
 */
#ifndef SS_CORE_INTERNAL_H
#define SS_CORE_INTERNAL_H

#include <statestore.h>
#include <statestore/driver.h>

#include <pthread.h>

/* The context a driver is opened with; lives inside the store so its address is stable. */
struct ss_ctx {
    const ss_driver *driver;
    char *name;
    ss_pair *props; /* the given properties, copied */
    size_t prop_count;
    ss_log_fn log;
    void *log_ctx;
    ss_log_level level;
};

struct ss_store {
    const ss_driver *driver;
    ss_ctx ctx;
    void *self;
    ss_features features; /* this instance's: the driver's declaration, narrowed after open */
};

/* Removes a value's ETag (for stores that declare none), wherever it was allocated. */
void ss_value_drop_etag(ss_value *value);

/* ---- errors ---- */

/* Copies src into dst (NULL-safe on dst). */
void ss_error_copy(ss_error *dst, const ss_error *src);

/* Empties a scratch error before a driver call. `= {0}` clears all 1 KiB of message on every
 * operation, which showed in profiles of the in-memory store; readers stop at the NUL. */
static inline void ss_error_reset(ss_error *e)
{
    e->code = SS_OK;
    e->retryable = false;
    e->message[0] = '\0';
}

/*
 * Writes `store "<name>" (<driver>): <op> "<key>": <text>` into err (NULL-safe). key may be
 * NULL (then no key part); text NULL or "" means the code's description. Secret property values
 * are masked.
 */
ss_code ss_error_decorate(ss_error *err, const ss_store *store, ss_code code, const char *op,
                          const char *key, size_t key_len, const char *text);

/* The same text as ss_error_decorate, as a new string (NULL on out-of-memory). */
char *ss_error_decorate_dup(const ss_store *store, ss_code code, const char *op, const char *key,
                            size_t key_len, const char *text);

/*
 * Quotes a key for a message: printable ASCII as is (with `"` and `\` escaped), other bytes as
 * \xHH; long keys are cut to a prefix and "..." so a message always has room for the cause.
 */
void ss_escape_key(char *buf, size_t buflen, const char *key, size_t key_len);

/* msg without its leading `store "<name>" (<driver>): `, for nesting one message in another. */
const char *ss_error_skip_store(const ss_store *store, const char *msg);

/* Replaces every occurrence of a secret property's value in msg with "***" (in place). */
void ss_mask_secrets(const ss_ctx *ctx, char *msg, size_t msgsize);

/* ---- registry ---- */

const ss_driver *ss_registry_find(const char *name);
/* The i-th driver (built-ins first), NULL past the end. */
const ss_driver *ss_registry_at(size_t index);
/* The checks ss_register_driver makes of one driver (not the name clash), for tests of the
 * built-in table. */
ss_code ss_driver_check(const ss_driver *driver, ss_error *err);

/* ---- older driver ABIs (abi.c) ---- */

/* Whether the core can serve a driver compiled against `abi`. */
bool ss_abi_served(unsigned abi);

/*
 * ops as driver d expects an array of them: ops itself for a driver of the current ABI, else a
 * copy in the layout of the driver's ABI, left in *scratch for the caller to free after the
 * call. NULL when that copy cannot be allocated.
 */
const ss_op *ss_abi_ops(const ss_driver *d, const ss_op *ops, size_t count, void **scratch);

/* ---- properties / logging ---- */

ss_code ss_ctx_init(ss_ctx *ctx, const ss_driver *driver, const ss_config *config, ss_error *err);
void ss_ctx_free(ss_ctx *ctx);
void ss_ctx_log(const ss_ctx *ctx, ss_log_level level, const char *message);

/* ---- values ---- */

/* Strictly parses a decimal integer (optional sign, no spaces); false on junk or overflow. */
bool ss_parse_int64(const char *s, int64_t *out);

/* ---- requests (store.c), shared with bulk.c ---- */

/* Validates and normalises one request into op; on failure err names the problem and key. */
ss_code ss_prep_get(const ss_store *store, const ss_get_request *req, ss_op *op, ss_error *err);
/* etag_wanted: whether the caller will read the new ETag (see ss_op.etag_wanted). */
ss_code ss_prep_set(const ss_store *store, const ss_set_request *req, bool etag_wanted, ss_op *op,
                    ss_error *err);
ss_code ss_prep_delete(const ss_store *store, const ss_delete_request *req, ss_op *op,
                       ss_error *err);

/* One validated op through the driver, with the request's retry policy (NULL = one attempt). */
ss_code ss_run_get(ss_store *store, const ss_op *op, ss_value **out, ss_error *err);
ss_code ss_run_set(ss_store *store, const ss_op *op, const ss_retry *retry, char **etag_out,
                   ss_error *err);
ss_code ss_run_delete(ss_store *store, const ss_op *op, const ss_retry *retry, ss_error *err);

/* ---- retries ---- */

/*
 * The wait between attempts. Tests replace it to count attempts and waits exactly; NULL
 * restores the real sleep. Set it before any store is used from other threads.
 */
typedef void (*ss_sleep_fn)(void *ctx, uint32_t ms);
void ss_internal_set_sleep(ss_sleep_fn fn, void *ctx);
void ss_internal_sleep(uint32_t ms);

/* The wait after failed attempt `attempt` (1-based) under policy r; validated pattern. */
uint32_t ss_retry_delay_ms(const ss_retry *r, uint32_t attempt);

#endif

/*
 * statestore.h — one API for keeping state over many databases.
 *
 * This is the only header users of libstatestore include. Everything in it is stable within a
 * major version (the shared library's soname): codes, enum values and feature bits are only ever
 * added, never renumbered, and no struct changes its layout, not even by a field appended at the
 * end. Callers allocate these structs, and the request structs, ss_operation, ss_pair and
 * ss_item_result travel in arrays whose stride is their size, so a program built against an
 * older header would hand the library misplaced fields. A struct that must grow starts a new
 * major version.
 *
 * Conventions (the same for every function):
 *   - Every public symbol starts with `ss_` / `SS_`.
 *   - Functions return an ss_code: SS_OK (0) on success, another code on failure.
 *   - Out-parameters come first and are named `out`. On failure they are left NULL/zeroed.
 *   - The last parameter is `ss_error *err`: a caller-owned struct the library fills on failure.
 *     It may be NULL when the caller only wants the code. Nothing in it needs freeing.
 *   - Everything the library returns through a pointer has exactly one free function
 *     (ss_value_free, ss_results_free, ss_free, ss_close). Every free function accepts NULL.
 *   - Request structs and their strings are borrowed for the duration of the call only.
 *   - An ss_store is thread-safe: any number of threads may call into one handle at once.
 *
 * The contract every store keeps (keys, values, ETags, first-write, TTL, transactions ...) is
 * described in docs/CONTRACT.md; each store's limits are in docs/stores/<name>.md.
 */
#ifndef STATESTORE_H
#define STATESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SS_VERSION_MAJOR  0
#define SS_VERSION_MINOR  1
#define SS_VERSION_PATCH  0
#define SS_VERSION_STRING "0.1.0"

#if defined(__GNUC__) && __GNUC__ >= 4
#define SS_EXPORT __attribute__((visibility("default")))
#else
#define SS_EXPORT
#endif

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/*
 * The one table of error codes. Columns:
 *   name, value (never renumbered), HTTP status the daemon answers with, CLI exit code,
 *   retryable (a retry of the same request may succeed), short description.
 */
#define SS_ERROR_MAP(X)                                                                            \
    X(OK, 0, 200, 0, 0, "success")                                                                 \
    X(INVALID, 1, 400, 2, 0, "invalid input")                                                      \
    X(NOT_FOUND, 2, 404, 3, 0, "not found")                                                        \
    X(ETAG_MISMATCH, 3, 409, 4, 0, "etag mismatch")                                                \
    X(ETAG_INVALID, 4, 400, 5, 0, "etag invalid")                                                  \
    X(UNSUPPORTED, 5, 400, 6, 0, "unsupported by this store")                                      \
    X(UNAVAILABLE, 6, 500, 7, 1, "store unavailable")                                              \
    X(TIMEOUT, 7, 500, 8, 1, "timed out")                                                          \
    X(TOO_LARGE, 8, 413, 9, 0, "too large")                                                        \
    X(NOMEM, 9, 500, 10, 0, "out of memory")                                                       \
    X(BACKEND, 10, 500, 11, 0, "backend error")

typedef enum ss_code {
#define SS_X_ENUM(name, value, http, exitcode, retryable, text) SS_##name = value,
    SS_ERROR_MAP(SS_X_ENUM)
#undef SS_X_ENUM
} ss_code;

#define SS_ERROR_MESSAGE_MAX 1024

/*
 * What went wrong. Caller-allocated (usually on the stack); the library fills it on failure
 * and leaves it untouched on success. `message` names the store, the key and the database's
 * own error text, e.g.
 *   store "orders" (redis): set "cart-42": etag mismatch: version 7 != 9
 * Secrets from the store's properties never appear in it.
 */
typedef struct ss_error {
    ss_code code;
    bool retryable; /* a later retry of the same request may succeed */
    char message[SS_ERROR_MESSAGE_MAX];
} ss_error;

SS_EXPORT const char *ss_code_name(ss_code code); /* "ETAG_MISMATCH"; "UNKNOWN" if out of range */
SS_EXPORT const char *ss_code_text(ss_code code); /* "etag mismatch" */
SS_EXPORT int ss_code_http_status(ss_code code);  /* 409 */
SS_EXPORT int ss_code_exit_status(ss_code code);  /* CLI exit code, 0 for SS_OK */
SS_EXPORT bool ss_code_retryable(ss_code code);

/* ------------------------------------------------------------------------------------------ */
/* Common types                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* A name/value string pair: store properties and per-request metadata (borrowed). */
typedef struct ss_pair {
    const char *name;
    const char *value;
} ss_pair;

/* Option strings, exactly as Dapr spells them. NULL or "" means "the store's default". */
#define SS_FIRST_WRITE "first-write"
#define SS_LAST_WRITE  "last-write"
#define SS_STRONG      "strong"
#define SS_EVENTUAL    "eventual"
#define SS_LINEAR      "linear"
#define SS_EXPONENTIAL "exponential"

/* Well-known metadata names. */
#define SS_META_TTL          "ttlInSeconds"  /* request: integer -1..2147483647; <= 0 = no expiry */
#define SS_META_TTL_EXPIRE   "ttlExpireTime" /* response: RFC 3339 UTC expiry time */
#define SS_META_CONTENT_TYPE "contentType"

/*
 * Retry policy (Dapr's v0.1.0 retryPolicy). threshold = total number of attempts; 0 or 1 means
 * a single attempt. Only retryable errors (UNAVAILABLE, TIMEOUT) are retried — never an ETag
 * mismatch or invalid input. The wait before attempt n+1 is interval_ms for "linear" and
 * interval_ms * 2^(n-1) for "exponential"; there is no wait after the last attempt. The error
 * of the last attempt is the one returned.
 */
typedef struct ss_retry {
    const char *pattern;  /* SS_LINEAR, SS_EXPONENTIAL, or NULL/"" (= linear) */
    uint32_t interval_ms; /* 0 = retry at once */
    uint32_t threshold;   /* total attempts; 0 = 1 */
} ss_retry;

/* Options of a write (set or delete). Strings are validated exactly; anything else is INVALID. */
typedef struct ss_write_options {
    const char *concurrency; /* SS_FIRST_WRITE, SS_LAST_WRITE, or NULL/"" (= last-write) */
    const char *consistency; /* SS_STRONG, SS_EVENTUAL, or NULL/"" (= eventual) */
    ss_retry retry;
} ss_write_options;

/* ------------------------------------------------------------------------------------------ */
/* Opening a store                                                                             */
/* ------------------------------------------------------------------------------------------ */

typedef struct ss_store ss_store;

typedef enum ss_log_level {
    SS_LOG_ERROR = 0,
    SS_LOG_WARN = 1,
    SS_LOG_INFO = 2,
    SS_LOG_DEBUG = 3,
} ss_log_level;

/* Receives the library's diagnostics (e.g. "unknown property"). Called from any thread. */
typedef void (*ss_log_fn)(void *ctx, ss_log_level level, const char *message);

typedef struct ss_config {
    const char *driver;        /* "redis", "sqlite", ...; a "state." prefix is accepted */
    const char *name;          /* instance name used in messages; NULL = the driver name */
    const ss_pair *properties; /* as in a Dapr component's spec.metadata */
    size_t property_count;
    ss_log_fn log; /* NULL = warnings and errors to stderr */
    void *log_ctx;
    ss_log_level log_level; /* INFO/DEBUG pass only up to this; WARN/ERROR always pass */
} ss_config;

/*
 * Opens a store. Properties are matched case-insensitively against the driver's declared ones:
 * a missing required property is INVALID naming it, an unknown one is logged as a warning.
 * On success *out is a thread-safe handle; close it with ss_close.
 */
SS_EXPORT ss_code ss_open(ss_store **out, const ss_config *config, ss_error *err);

/* Closes the store and frees it. Must not race with calls on the same handle. NULL is fine. */
SS_EXPORT void ss_close(ss_store *store);

/* The instance name and the driver's canonical name (owned by the store). */
SS_EXPORT const char *ss_store_name(const ss_store *store);
SS_EXPORT const char *ss_store_driver(const ss_store *store);

/* Checks that the database answers. */
SS_EXPORT ss_code ss_ping(ss_store *store, ss_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Features                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/*
 * The one table of features. Columns: name (SS_FEATURE_<name>, and what ss_feature_name
 * returns), bit, whether Dapr lists it among a state store's features (statestored's
 * capability list shows only those), description.
 */
#define SS_FEATURE_MAP(X)                                                                          \
    X(ETAG, 0, 1, "ETags on get, conditional set/delete")                                          \
    X(FIRST_WRITE, 1, 0, "concurrency first-write (insert-only)")                                  \
    X(TRANSACTIONAL, 2, 1, "all-or-nothing ordered transactions")                                  \
    X(TTL, 3, 1, "ttlInSeconds metadata")                                                          \
    X(BULK_NATIVE, 4, 0, "bulk get/set/delete in few round trips")

enum {
#define SS_X_FEATURE(name, bit, dapr, text) SS_FEATURE_##name = 1u << bit,
    SS_FEATURE_MAP(SS_X_FEATURE)
#undef SS_X_FEATURE
};

typedef struct ss_features {
    unsigned flags;       /* SS_FEATURE_* bits */
    size_t max_tx_ops;    /* most operations in one transaction; 0 = no limit */
    size_t max_key_len;   /* longest key in bytes; 0 = no limit */
    size_t max_value_len; /* largest value in bytes; 0 = no limit */
} ss_features;

SS_EXPORT void ss_store_features(const ss_store *store, ss_features *out);

/* A feature bit's name from SS_FEATURE_MAP ("ETAG", "TRANSACTIONAL"); "UNKNOWN" otherwise. */
SS_EXPORT const char *ss_feature_name(unsigned feature_bit);

/* ------------------------------------------------------------------------------------------ */
/* Values                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/*
 * A stored value as read back. Owned by the caller; free with ss_value_free (which frees
 * every part). `data` is always followed by a NUL byte that is not counted in `len`, so text
 * values can be used as C strings.
 */
typedef struct ss_value {
    char *data;
    size_t len;
    char *etag;        /* NULL when the store has no ETags */
    ss_pair *metadata; /* response metadata, e.g. ttlExpireTime; owned strings */
    size_t metadata_count;
} ss_value;

SS_EXPORT void ss_value_free(ss_value *value);

/* Looks up response metadata by name (case-sensitive); NULL when absent. */
SS_EXPORT const char *ss_value_meta(const ss_value *value, const char *name);

/* Frees a string the library returned (e.g. a new ETag). */
SS_EXPORT void ss_free(void *ptr);

/* ------------------------------------------------------------------------------------------ */
/* Single operations                                                                           */
/* ------------------------------------------------------------------------------------------ */

typedef struct ss_get_request {
    const char *key;         /* non-empty, NUL-terminated; any other bytes allowed */
    const char *consistency; /* SS_STRONG, SS_EVENTUAL, or NULL/"" */
    const ss_pair *metadata;
    size_t metadata_count;
} ss_get_request;

typedef struct ss_set_request {
    const char *key;
    const void *value; /* bytes, stored byte-exact; may be NULL when value_len is 0 */
    size_t value_len;
    const char *etag; /* NULL or "" = no ETag condition */
    const ss_pair *metadata;
    size_t metadata_count;
    ss_write_options options;
} ss_set_request;

typedef struct ss_delete_request {
    const char *key;
    const char *etag; /* NULL or "" = no ETag condition */
    const ss_pair *metadata;
    size_t metadata_count;
    ss_write_options options;
} ss_delete_request;

/*
 * Reads one key. A missing key is success: SS_OK with *out == NULL. Otherwise *out holds the
 * value, its ETag and response metadata; free it with ss_value_free.
 */
SS_EXPORT ss_code ss_get(ss_value **out, ss_store *store, const ss_get_request *req, ss_error *err);

/*
 * Writes one key.
 *   ETag given:            succeeds only if the key exists with that ETag, else ETAG_MISMATCH;
 *                          an ETag the store cannot parse is ETAG_INVALID.
 *   no ETag, first-write:  insert only; an existing key gives ETAG_MISMATCH.
 *   no ETag, last-write:   unconditional.
 * When etag_out is not NULL and the store has ETags, *etag_out receives the new ETag
 * (free with ss_free); otherwise it is set to NULL.
 */
SS_EXPORT ss_code ss_set(char **etag_out, ss_store *store, const ss_set_request *req,
                         ss_error *err);

/* Deletes one key. A missing key without ETag is success; with an ETag it is ETAG_MISMATCH. */
SS_EXPORT ss_code ss_delete(ss_store *store, const ss_delete_request *req, ss_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Bulk operations                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* The outcome of one item of a bulk call, in request order. */
typedef struct ss_item_result {
    ss_code code;    /* SS_OK, or why this item failed */
    char *error;     /* message when code != SS_OK, else NULL */
    ss_value *value; /* bulk get: the value, NULL when missing or failed; else NULL */
    char *etag;      /* bulk set: the new ETag when the store has them; else NULL */
} ss_item_result;

typedef struct ss_results {
    size_t count;
    ss_item_result *items;
} ss_results;

/* Frees every item and the array; leaves *results zeroed. NULL is fine. */
SS_EXPORT void ss_results_free(ss_results *results);

typedef struct ss_bulk_options {
    unsigned parallelism; /* most requests in flight when the store has no native bulk; 0 = 8 */
} ss_bulk_options;

/*
 * Reads many keys. One result per request, in order; a missing key has code SS_OK and value
 * NULL; a per-key failure is in that item and does not fail the call. The call itself fails
 * only for invalid input or when nothing could be attempted. `opts` may be NULL.
 */
SS_EXPORT ss_code ss_bulk_get(ss_results *out, ss_store *store, const ss_get_request *reqs,
                              size_t count, const ss_bulk_options *opts, ss_error *err);

/*
 * Writes many keys, not atomically: a failure on one key (e.g. ETAG_MISMATCH) neither stops nor
 * undoes the others. Returns SS_OK when every item succeeded; otherwise the code of the first
 * failed item (an ETag failure wins over other failures, as Dapr reports it), with `err`
 * summarising, and `out` (when not NULL) holding every item's outcome.
 */
SS_EXPORT ss_code ss_bulk_set(ss_results *out, ss_store *store, const ss_set_request *reqs,
                              size_t count, const ss_bulk_options *opts, ss_error *err);

/* Deletes many keys; per-item outcomes as ss_bulk_set. */
SS_EXPORT ss_code ss_bulk_delete(ss_results *out, ss_store *store, const ss_delete_request *reqs,
                                 size_t count, const ss_bulk_options *opts, ss_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Transactions                                                                                */
/* ------------------------------------------------------------------------------------------ */

typedef enum ss_op_kind {
    SS_OP_UPSERT = 1,
    SS_OP_DELETE = 2,
} ss_op_kind;

typedef struct ss_operation {
    ss_op_kind kind;
    ss_set_request set;    /* used when kind == SS_OP_UPSERT */
    ss_delete_request del; /* used when kind == SS_OP_DELETE */
} ss_operation;

typedef struct ss_transaction {
    const ss_operation *ops;
    size_t count;
    const ss_pair *metadata; /* applies to the whole transaction (e.g. partitionKey) */
    size_t metadata_count;
} ss_transaction;

/*
 * Applies every operation in order, all or nothing: if any ETag condition fails, nothing is
 * changed and the code is ETAG_MISMATCH (or ETAG_INVALID) naming the failing key. A store
 * without SS_FEATURE_TRANSACTIONAL answers UNSUPPORTED; more than max_tx_ops operations is
 * TOO_LARGE. An empty transaction succeeds.
 */
SS_EXPORT ss_code ss_transact(ss_store *store, const ss_transaction *tx, ss_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Drivers                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* A property a driver declares (the same table drives validation, `statestore describe` and docs).
 */
typedef struct ss_property {
    const char *name;
    bool required;
    bool secret;          /* never logged or echoed in messages */
    const char *fallback; /* default value, or NULL */
    const char *doc;      /* one line */
} ss_property;

typedef struct ss_driver_info {
    const char *name;
    const char *const *aliases; /* NULL-terminated, may be NULL */
    const char *version;
    const char *summary;
    ss_features features;
    const ss_property *properties;
    size_t property_count;
} ss_driver_info;

/* Number of registered drivers, and the i-th one's description (borrowed, static). */
SS_EXPORT size_t ss_driver_count(void);
SS_EXPORT bool ss_driver_at(size_t index, ss_driver_info *out);
/* Looks a driver up by name or alias (a "state." prefix is accepted). */
SS_EXPORT bool ss_driver_find(const char *name, ss_driver_info *out);

/* The library version, SS_VERSION_STRING at build time. */
SS_EXPORT const char *ss_version(void);

#ifdef __cplusplus
}
#endif

#endif /* STATESTORE_H */

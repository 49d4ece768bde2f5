/*
 * statestore/driver.h — the interface between the core and one database driver.
 *
 * For people who write a driver (see docs/NEW-STORE.md). Weaker stability promise than
 * statestore.h: a driver declares the ABI it was compiled against (SS_DRIVER_ABI); the core
 * serves every ABI from SS_DRIVER_ABI_MIN to SS_DRIVER_ABI and refuses others at registration.
 *
 * The core does all validation once, before a driver sees a request: keys are non-empty and
 * within the driver's declared max_key_len, option strings are parsed into enums, ttlInSeconds
 * is parsed, ETag-less first-write becomes SS_COND_ABSENT, and a request needing a feature the
 * driver does not declare is answered UNSUPPORTED without calling it. Drivers never re-validate.
 *
 * Error messages: a driver puts only the database's own words into `err` (with ss_error_set):
 * no store or database name, no operation, no key. The core adds the store's name and driver,
 * the operation and the key (for bulk items, each item's); a transaction's failure names its
 * operation and key through ss_error_set_op. Never put a secret (password, key, token) into a
 * message.
 *
 * Threads: every slot may be called from many threads at once on the same instance, except
 * open and close. A driver that holds connections keeps a small pool.
 */
#ifndef STATESTORE_DRIVER_H
#define STATESTORE_DRIVER_H

#include <stdarg.h>
#include <time.h>

#include "../statestore.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The driver ABI: the layout of ss_driver and of every struct the core hands a driver in an
 * array (ss_op; ss_item_result and ss_pair from statestore.h). It goes up by one whenever one of
 * them changes, a field appended at the end included: an array's stride is its element's size,
 * so a field added to ss_op moves every op after the first under a driver built before it.
 *   1  the first
 *   2  ss_op.etag_wanted
 * The core keeps serving the older ABIs it lists here: it gives such a driver its op arrays in
 * the layout it was compiled with. A driver built for an ABI outside the range is refused at
 * registration with a message naming both.
 */
#define SS_DRIVER_ABI     2
#define SS_DRIVER_ABI_MIN 1

/* What the write is conditioned on: explicit, never inferred from NULL/"" strings. */
typedef enum ss_cond {
    SS_COND_ANY = 0,    /* unconditional (last-write without ETag) */
    SS_COND_MATCH = 1,  /* the key must exist with ETag == op->etag (non-empty) */
    SS_COND_ABSENT = 2, /* the key must not exist (first-write without ETag) */
} ss_cond;

typedef enum ss_consistency {
    SS_CONSISTENCY_EVENTUAL = 0,
    SS_CONSISTENCY_STRONG = 1,
} ss_consistency;

typedef enum ss_ttl_mode {
    SS_TTL_DEFAULT = 0, /* request had no ttlInSeconds: the driver's configured default, if any */
    SS_TTL_NONE = 1,    /* ttlInSeconds <= 0: the item never expires (removes an earlier TTL) */
    SS_TTL_SECONDS = 2, /* expire after ttl_seconds (> 0) */
} ss_ttl_mode;

typedef enum ss_drv_kind {
    SS_DRV_GET = 0,
    SS_DRV_SET = 1,
    SS_DRV_DELETE = 2,
} ss_drv_kind;

/* One validated, normalised request, as a driver sees it. Everything is borrowed. */
typedef struct ss_op {
    ss_drv_kind kind;
    const char *key; /* NUL-terminated, key_len > 0 */
    size_t key_len;
    const void *value; /* SET only; never NULL (points at "" when value_len == 0) */
    size_t value_len;
    ss_cond cond;     /* SET/DELETE */
    const char *etag; /* non-NULL, non-empty exactly when cond == SS_COND_MATCH */
    ss_consistency consistency;
    ss_ttl_mode ttl_mode; /* SET only */
    int64_t ttl_seconds;  /* > 0 when ttl_mode == SS_TTL_SECONDS */
    const ss_pair *metadata;
    size_t metadata_count;
    /* SET: whether anyone reads the new ETag (ss_set given etag_out, ss_bulk_set given results).
     * When false a driver may skip work done only to learn it, such as memcached's read-back;
     * storing one anyway is harmless (the core frees it). ABI 2. */
    bool etag_wanted;
} ss_op;

/* Looks up request metadata by name (case-sensitive, as Dapr); NULL when absent. */
SS_EXPORT const char *ss_op_meta(const ss_op *op, const char *name);

/* ------------------------------------------------------------------------------------------ */
/* The context a driver is opened with                                                        */
/* ------------------------------------------------------------------------------------------ */

/* Owned by the store; valid from open until after close returns. Drivers may keep a pointer. */
typedef struct ss_ctx ss_ctx;

/* The instance name ("orders"), for the driver's own log lines. */
SS_EXPORT const char *ss_ctx_name(const ss_ctx *ctx);

/*
 * Property access. Names are matched case-insensitively. The value is the one given, else the
 * declared default, else NULL. Typed getters return SS_OK, or INVALID with a message naming
 * the property and the bad value (and never a secret's value). When the property is absent and
 * has no default, they return SS_OK and leave *out untouched, so callers preset their default.
 */
SS_EXPORT const char *ss_prop(const ss_ctx *ctx, const char *name);
SS_EXPORT ss_code ss_prop_int(const ss_ctx *ctx, const char *name, int64_t min, int64_t max,
                              int64_t *out, ss_error *err);
SS_EXPORT ss_code ss_prop_bool(const ss_ctx *ctx, const char *name, bool *out, ss_error *err);
/* Durations as Dapr writes them: "1500ms", "5s", "1m30s", "2h", or a bare number of `unit_ms`. */
SS_EXPORT ss_code ss_prop_duration_ms(const ss_ctx *ctx, const char *name, int64_t unit_ms,
                                      int64_t *out, ss_error *err);

/* Logs through the store's log callback, prefixed with the instance name. */
SS_EXPORT void ss_log(const ss_ctx *ctx, ss_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ------------------------------------------------------------------------------------------ */
/* The driver                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/*
 * One const struct per driver. Optional slots may be NULL: the core then loops over the single
 * operation (bulk), or answers UNSUPPORTED (transact). Feature bits and slots must agree
 * (SS_FEATURE_TRANSACTIONAL <=> transact != NULL; SS_FEATURE_BULK_NATIVE => a bulk slot); the
 * core checks this at registration.
 */
typedef struct ss_driver {
    unsigned abi; /* SS_DRIVER_ABI when compiled: the layout of ss_op the driver expects */
    ss_driver_info info;
    size_t instance_size; /* the core allocates this many zeroed bytes and passes them as self */

    /* Connects / opens files. On failure the core calls nothing else (close included), so
     * open frees what it allocated before returning an error. */
    ss_code (*open)(void *self, ss_ctx *ctx, ss_error *err);
    /* Frees everything open allocated (not self itself). */
    void (*close)(void *self);
    ss_code (*ping)(void *self, ss_error *err); /* NULL = always healthy */

    /* *out = NULL for a missing key. Otherwise a value from ss_value_new. */
    ss_code (*get)(void *self, const ss_op *op, ss_value **out, ss_error *err);
    /* etag_out is never NULL: store the new ETag (ss_strdup'd) there, or leave it NULL
     * (op->etag_wanted says whether anyone will read it). */
    ss_code (*set)(void *self, const ss_op *op, char **etag_out, ss_error *err);
    ss_code (*del)(void *self, const ss_op *op, ss_error *err);

    /* Bulk slots: `out` arrives with `count` zeroed items; fill each one (code, error, value,
     * etag). Return SS_OK when the items say everything, or an error when the whole call
     * failed (the core then reports that error for every item). */
    ss_code (*bulk_get)(void *self, const ss_op *ops, size_t count, ss_results *out, ss_error *err);
    ss_code (*bulk_set)(void *self, const ss_op *ops, size_t count, ss_results *out, ss_error *err);
    ss_code (*bulk_delete)(void *self, const ss_op *ops, size_t count, ss_results *out,
                           ss_error *err);

    /* All-or-nothing, in order. On an ETag failure change nothing and name the key. */
    ss_code (*transact)(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                        size_t metadata_count, ss_error *err);

    /* Optional: this instance's features, once open succeeded, when they depend on properties
     * or on the server (e.g. a configurable transaction limit, TTL support probed at open).
     * Called once, after open; the core validates requests against the result. It may only
     * narrow info.features: flags not declared there are ignored. NULL = info.features. */
    void (*features)(void *self, ss_features *out);
} ss_driver;

/* Adds a driver (e.g. one compiled outside the library). INVALID if the name is taken, its ABI
 * is outside SS_DRIVER_ABI_MIN..SS_DRIVER_ABI, or its features and slots disagree. The struct
 * must outlive the process's use. */
SS_EXPORT ss_code ss_register_driver(const ss_driver *driver, ss_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Helpers for drivers                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* Fills err (if not NULL) and returns code; retryable defaults to the code's table column. */
SS_EXPORT ss_code ss_error_set(ss_error *err, ss_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
SS_EXPORT ss_code ss_error_setv(ss_error *err, ss_code code, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 0)))
#endif
    ;

/*
 * For transact, whose error the core can tie to no single key: fills err about the operation
 * `op` (&ops[index]) as `operation <index>: <set|delete> "<key>": <text>`, so the driver writes
 * only the database's words and the core's quoting names the key. Returns code.
 */
SS_EXPORT ss_code ss_error_set_op(ss_error *err, ss_code code, size_t index, const ss_op *op,
                                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* A new value holding a copy of data (and etag, if not NULL). NULL on out-of-memory. */
SS_EXPORT ss_value *ss_value_new(const void *data, size_t len, const char *etag);
/* Appends a response metadata pair (copies both). */
SS_EXPORT ss_code ss_value_add_meta(ss_value *value, const char *name, const char *val);
/* Adds ttlExpireTime for an absolute expiry in Unix milliseconds. */
SS_EXPORT ss_code ss_value_set_expiry(ss_value *value, int64_t expires_unix_ms);

/* strdup that survives NULL (returns NULL) and counts as the library's allocation (ss_free). */
SS_EXPORT char *ss_strdup(const char *s);
SS_EXPORT char *ss_strndup(const char *s, size_t n);

/* A random UUIDv4 in canonical text form (37 bytes with the NUL), for stores whose ETags are
 * UUIDs. Unique, not secret: a fast per-thread generator seeded from the OS's random source,
 * never to be used for keys, tokens or anything that must be unpredictable. */
SS_EXPORT void ss_uuid4(char out[37]);

/* Wall clock in Unix milliseconds, and a monotonic clock in milliseconds. */
SS_EXPORT int64_t ss_now_unix_ms(void);
SS_EXPORT int64_t ss_monotonic_ms(void);

/* RFC 3339 UTC text ("2026-11-29T23:30:15Z") of a Unix-milliseconds time; buf >= 32 bytes. */
SS_EXPORT void ss_format_rfc3339(int64_t unix_ms, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif

#endif /* STATESTORE_DRIVER_H */

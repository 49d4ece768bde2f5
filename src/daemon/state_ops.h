/*
 * state_ops.h — the state API's logic shared by both front ends (HTTP/JSON in api.c, gRPC/
 * protobuf in grpc_api.c): store lookup, key checks and prefixing, item limits, the calls into
 * the library, and daprd's error codes and messages. A front end parses its wire format into
 * ss_* requests, calls these, and maps a dfail to its own status (HTTP status, gRPC code).
 */
#ifndef SS_DAEMON_STATE_OPS_H
#define SS_DAEMON_STATE_OPS_H

#include "daemon.h"
#include "support/arena.h"

/* Why a request failed, independent of the protocol. */
typedef enum dfail {
    DF_NONE = 0,
    DF_BAD_REQUEST,    /* malformed input (HTTP 400, gRPC InvalidArgument) */
    DF_NO_STORE,       /* no store of that name (400, InvalidArgument) */
    DF_NOT_CONFIGURED, /* no store at all (500, FailedPrecondition) */
    DF_ETAG_MISMATCH,  /* 409, Aborted */
    DF_ETAG_INVALID,   /* 400, InvalidArgument */
    DF_UNSUPPORTED,    /* the store lacks the feature (500, Unimplemented) */
    DF_BAD_OPERATION,  /* unknown transaction operation (400, Unimplemented) */
    DF_STORE,          /* any other store error; `sc` says which (its HTTP status, Internal) */
    DF_TRANSACTION,    /* a transaction failed, whatever the cause (500, Internal) */
    DF_OOM,            /* 500, ResourceExhausted */
} dfail;

/* A failure: the class, daprd's errorCode and the message sent to the client. */
typedef struct derr {
    dfail fail;
    ss_code sc;       /* the library's code for DF_STORE */
    const char *code; /* daprd's errorCode, e.g. "ERR_STATE_GET" */
    char msg[2048];
} derr;

void derr_set(derr *e, dfail fail, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void derr_oom(derr *e);

/* Everything one request allocates is in an ss_arena (support/arena.h), freed at its end. */

/* The served store of that name, or NULL with daprd's error. */
const dstore *ds_store(const dserver *s, const char *name, derr *e);

/* Checks a user key (non-empty, --max-key-length, no NUL, no "||") and returns the stored key
 * (prefix + key): in buf when it fits, else in the arena. NULL with the error set. `where`
 * prefixes the message ("item 3: "). */
char *ds_key(const dserver *s, const dstore *st, const char *key, size_t klen, ss_arena *a, derr *e,
             const char *where, char *buf, size_t buflen);

/* --max-bulk-items: false with the error when n is over it. */
bool ds_count_ok(const dserver *s, size_t n, const char *what, const char *code, derr *e);

/* API token check in constant time for a given length; true when auth is off. */
bool ds_token_ok(const dserver *s, const char *given, size_t len);

/* The calls. Each returns true on success, else false with the error set as daprd words it.
 * `ukey` is the user's key (without prefix), for messages. */
bool ds_get(const dstore *st, const ss_get_request *g, const char *ukey, ss_value **out, derr *e);
bool ds_save(const dstore *st, const ss_set_request *reqs, size_t n, derr *e);
bool ds_delete(const dstore *st, const ss_delete_request *d, const char *ukey, derr *e);
bool ds_delete_bulk(const dstore *st, const ss_delete_request *reqs, size_t n, derr *e);
/* parallelism: 0 = the library's default; clamped to a sane bound. */
bool ds_bulk_get(const dstore *st, const ss_get_request *reqs, size_t n, long parallelism,
                 ss_results *out, derr *e);

/* Transactions: ds_tx_supported before reading the request, ds_tx_check once the number of
 * operations is known (--max-bulk-items, the store's own limit), ds_tx_kind maps daprd's
 * operation names, ds_transact runs it. */
bool ds_tx_supported(const dstore *st, derr *e);
bool ds_tx_check(const dserver *s, const dstore *st, size_t n, derr *e);
bool ds_tx_kind(const char *kind, ss_op_kind *out, derr *e);
bool ds_transact(const dstore *st, const ss_transaction *tx, derr *e);

/* Dapr's capability names for a store: the features SS_FEATURE_MAP marks as Dapr's (ETAG,
 * TRANSACTIONAL, TTL), then ACTOR; returns the count written to out (at most 4). */
size_t ds_capabilities(const ss_features *f, const char *out[4]);

#endif

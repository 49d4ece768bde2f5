/*
 * internal.h — the store layer the core's files share with each other and with the unit tests.
 * Nothing here is part of the public API: symbols keep the `ss_` prefix but are not exported
 * from the shared library (hidden visibility), so only in-tree code links against them.
 *
 * Layers, each using only those below it (tests/unit/core_layers.sh checks the includes):
 *   errors.h  the code table's helpers (errors.c)
 *   util.h    values, integer parsing, retry waits (util.c)
 *   props.h   a store's properties, secrets and log channel (props.c)
 *   this file the store, its messages, the registry, requests (message.c, registry.c, abi.c,
 *             store.c, bulk.c)
 */
#ifndef SS_CORE_INTERNAL_H
#define SS_CORE_INTERNAL_H

#include <statestore.h>
#include <statestore/driver.h>

#include <pthread.h>

#include "core/errors.h"
#include "core/props.h"
#include "core/util.h"

struct ss_store {
    const ss_driver *driver;
    ss_ctx ctx;
    void *self;
    ss_features features; /* this instance's: the driver's declaration, narrowed after open */
};

/* ---- messages (message.c) ---- */

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

/* msg without its leading `store "<name>" (<driver>): `, for nesting one message in another. */
const char *ss_error_skip_store(const ss_store *store, const char *msg);

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

#endif

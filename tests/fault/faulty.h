/*
 * faulty.h — a fault-injecting wrapper store for tests (like SQLite's test_vfs.c).
 *
 * Driver "faulty" wraps another driver and makes chosen calls fail with a chosen code. It lives
 * in tests/, not in the library: a production daemon must never be one component file away
 * from failing on purpose. Test programs (and the test build of statestored) register it with
 * ss_faulty_register().
 *
 * Properties (names case-insensitive):
 *   inner          required: the driver to wrap ("memory", "sqlite", "state.redis", ...)
 *   inner.<prop>   passed to the inner driver as <prop>
 *   failOp         which calls count and fail: get | set | delete | bulk_get | bulk_set |
 *                  bulk_delete | transact | ping | any (default any). Inside a bulk call every
 *                  item also counts as one get/set/delete call, so failOp=set fails single items
 *                  of a bulk set (a partial failure) while failOp=bulk_set fails the whole call.
 *   failCall       the first matching call (1-based) that fails (default 1)
 *   failCount      how many matching calls fail from there on; -1 = every one (persistent),
 *                  0 = none (a plain pass-through). Default 1 (one transient fault).
 *   failCode       the ss_code name to fail with (default UNAVAILABLE): INVALID, NOT_FOUND,
 *                  ETAG_MISMATCH, ETAG_INVALID, UNSUPPORTED, UNAVAILABLE, TIMEOUT, TOO_LARGE,
 *                  NOMEM, BACKEND
 *   failMessage    extra text appended to the injected error's message
 *   failAtTxOp     for a failing transact: the failure happens inside the inner store's own
 *                  transaction just before operation k (0-based), after the operations before it
 *                  were applied, so the inner store must roll them back. Default -1: the
 *                  transaction fails before it reaches the inner store.
 *
 * Every injected message starts with "injected fault:".
 */
#ifndef SS_TEST_FAULTY_H
#define SS_TEST_FAULTY_H

#include <statestore/driver.h>

extern const ss_driver ss_driver_faulty;

/* Registers the driver once per process; later calls succeed without doing anything. */
ss_code ss_faulty_register(ss_error *err);

#endif

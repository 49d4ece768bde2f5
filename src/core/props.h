/*
 * props.h — a store's context: its properties (validation, typed getters, masking secrets) and
 * its log channel. Below the store layer (internal.h), above errors.h.
 */
#ifndef SS_CORE_PROPS_H
#define SS_CORE_PROPS_H

#include <statestore.h>
#include <statestore/driver.h>

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

ss_code ss_ctx_init(ss_ctx *ctx, const ss_driver *driver, const ss_config *config, ss_error *err);
void ss_ctx_free(ss_ctx *ctx);
void ss_ctx_log(const ss_ctx *ctx, ss_log_level level, const char *message);

/* Replaces every occurrence of a secret property's value in msg with "***" (in place). */
void ss_mask_secrets(const ss_ctx *ctx, char *msg, size_t msgsize);

#endif

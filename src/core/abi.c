/* abi.c — serving drivers built for an older driver ABI (see SS_DRIVER_ABI in driver.h). */
#include "core/internal.h"

#include <stddef.h>
#include <stdlib.h>

/* ss_op as a driver compiled against ABI 1 declares it: the ABI 2 struct without etag_wanted. */
typedef struct ss_op_abi1 {
    ss_drv_kind kind;
    const char *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    ss_cond cond;
    const char *etag;
    ss_consistency consistency;
    ss_ttl_mode ttl_mode;
    int64_t ttl_seconds;
    const ss_pair *metadata;
    size_t metadata_count;
} ss_op_abi1;

/* A single op is passed by pointer, so an ABI 1 driver reading the ABI 2 struct sees its own
 * fields only if they are a prefix of it, at the same offsets. */
#define SS_SAME_OFFSET(f) _Static_assert(offsetof(ss_op, f) == offsetof(ss_op_abi1, f), #f)
SS_SAME_OFFSET(kind);
SS_SAME_OFFSET(key);
SS_SAME_OFFSET(key_len);
SS_SAME_OFFSET(value);
SS_SAME_OFFSET(value_len);
SS_SAME_OFFSET(cond);
SS_SAME_OFFSET(etag);
SS_SAME_OFFSET(consistency);
SS_SAME_OFFSET(ttl_mode);
SS_SAME_OFFSET(ttl_seconds);
SS_SAME_OFFSET(metadata);
SS_SAME_OFFSET(metadata_count);
#undef SS_SAME_OFFSET

bool ss_abi_served(unsigned abi)
{
    return abi >= SS_DRIVER_ABI_MIN && abi <= SS_DRIVER_ABI;
}

const ss_op *ss_abi_ops(const ss_driver *d, const ss_op *ops, size_t count, void **scratch)
{
    *scratch = NULL;
    if (d->abi == SS_DRIVER_ABI || count == 0) return ops;
    /* ABI 1: the same fields one by one, at that ABI's stride. */
    ss_op_abi1 *old = malloc(count * sizeof *old);
    if (!old) return NULL;
    for (size_t i = 0; i < count; i++) {
        const ss_op *o = &ops[i];
        old[i] = (ss_op_abi1){o->kind,      o->key,         o->key_len,  o->value,
                              o->value_len, o->cond,        o->etag,     o->consistency,
                              o->ttl_mode,  o->ttl_seconds, o->metadata, o->metadata_count};
    }
    *scratch = old;
    /* The driver reads this as its own ss_op; the core never does. */
    return (const ss_op *)(const void *)old;
}

/*
 * abi1_driver.c — a small in-memory driver compiled against the frozen ABI 1 header
 * (tests/unit/abi1/statestore/driver.h), whose ss_op is 8 bytes shorter than today's. It logs
 * every op the core hands it, in order, so test_abi.c can see that each element of an op array
 * arrived whole: read at the wrong stride, the second op's key would be garbage.
 */
#include "abi1/statestore/driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi1_driver.h"

_Static_assert(SS_DRIVER_ABI == 1, "this driver must be compiled against the ABI 1 header");

#define SLOTS 16

typedef struct entry {
    char *key;
    char *value;
    size_t len;
    unsigned version; /* the ETag, in decimal */
} entry;

typedef struct a1 {
    entry e[SLOTS];
    unsigned next_version;
} a1;

static char seen[4096];

const char *abi1_seen(void)
{
    return seen;
}

void abi1_seen_clear(void)
{
    seen[0] = '\0';
}

static void log_op(const char *slot, const ss_op *op)
{
    static const char kinds[] = {'g', 's', 'd'};
    size_t used = strlen(seen);
    /* key_len is logged too: it sits after key in the struct, so a wrong stride shows there. */
    snprintf(seen + used, sizeof seen - used, "%s %c %s/%zu/%zu;", slot,
             (unsigned)op->kind < 3 ? kinds[op->kind] : '?', op->key, op->key_len,
             op->kind == SS_DRV_SET ? op->value_len : 0);
}

static entry *find(a1 *s, const ss_op *op)
{
    for (size_t i = 0; i < SLOTS; i++)
        if (s->e[i].key && strcmp(s->e[i].key, op->key) == 0) return &s->e[i];
    return NULL;
}

static ss_code check_cond(const entry *e, const ss_op *op, ss_error *err)
{
    char have[16];
    if (op->cond == SS_COND_ABSENT && e) return ss_error_set(err, SS_ETAG_MISMATCH, "exists");
    if (op->cond != SS_COND_MATCH) return SS_OK;
    if (!e) return ss_error_set(err, SS_ETAG_MISMATCH, "no such key");
    snprintf(have, sizeof have, "%u", e->version);
    if (strcmp(have, op->etag) != 0)
        return ss_error_set(err, SS_ETAG_MISMATCH, "version is %s, not %s", have, op->etag);
    return SS_OK;
}

static ss_code a1_open(void *self, ss_ctx *ctx, ss_error *err)
{
    a1 *s = self;
    s->next_version = 1;
    return SS_OK;
}

static void a1_close(void *self)
{
    a1 *s = self;
    for (size_t i = 0; i < SLOTS; i++) {
        free(s->e[i].key);
        free(s->e[i].value);
    }
}

static ss_code a1_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    entry *e = find(self, op);
    if (!e) return SS_OK;
    char etag[16];
    snprintf(etag, sizeof etag, "%u", e->version);
    *out = ss_value_new(e->value, e->len, etag);
    return *out ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
}

static ss_code apply_set(a1 *s, const ss_op *op, char **etag_out, ss_error *err)
{
    entry *e = find(s, op);
    for (size_t i = 0; !e && i < SLOTS; i++)
        if (!s->e[i].key) e = &s->e[i];
    if (!e) return ss_error_set(err, SS_TOO_LARGE, "full");
    char *value = malloc(op->value_len + 1);
    char *key = e->key ? e->key : strdup(op->key);
    if (!value || !key) {
        free(value);
        if (key != e->key) free(key);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    memcpy(value, op->value, op->value_len);
    free(e->value);
    e->key = key;
    e->value = value;
    e->len = op->value_len;
    e->version = s->next_version++;
    char etag[16];
    snprintf(etag, sizeof etag, "%u", e->version);
    *etag_out = ss_strdup(etag);
    return SS_OK;
}

static void apply_delete(a1 *s, const ss_op *op)
{
    entry *e = find(s, op);
    if (!e) return;
    free(e->key);
    free(e->value);
    memset(e, 0, sizeof *e);
}

static ss_code a1_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    log_op("set", op);
    ss_code rc = check_cond(find(self, op), op, err);
    return rc == SS_OK ? apply_set(self, op, etag_out, err) : rc;
}

static ss_code a1_del(void *self, const ss_op *op, ss_error *err)
{
    log_op("del", op);
    ss_code rc = check_cond(find(self, op), op, err);
    if (rc == SS_OK) apply_delete(self, op);
    return rc;
}

static ss_code a1_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                           ss_error *err)
{
    for (size_t i = 0; i < count; i++) {
        log_op("bulk_get", &ops[i]);
        ss_error e = {0};
        out->items[i].code = a1_get(self, &ops[i], &out->items[i].value, &e);
    }
    return SS_OK;
}

/* Bulk set and bulk delete: each op on its own, its outcome in its item. */
static ss_code bulk_write(void *self, const char *slot, const ss_op *ops, size_t count,
                          ss_results *out)
{
    for (size_t i = 0; i < count; i++) {
        log_op(slot, &ops[i]);
        ss_error e = {0};
        ss_code rc = check_cond(find(self, &ops[i]), &ops[i], &e);
        if (rc == SS_OK && ops[i].kind == SS_DRV_SET)
            rc = apply_set(self, &ops[i], &out->items[i].etag, &e);
        else if (rc == SS_OK)
            apply_delete(self, &ops[i]);
        out->items[i].code = rc;
        if (rc != SS_OK) out->items[i].error = ss_strdup(e.message);
    }
    return SS_OK;
}

static ss_code a1_bulk_set(void *self, const ss_op *ops, size_t count, ss_results *out,
                           ss_error *err)
{
    return bulk_write(self, "bulk_set", ops, count, out);
}

static ss_code a1_bulk_delete(void *self, const ss_op *ops, size_t count, ss_results *out,
                              ss_error *err)
{
    return bulk_write(self, "bulk_delete", ops, count, out);
}

/* All-or-nothing for ops on distinct keys (all the test sends): check every condition, then
 * apply. */
static ss_code a1_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                           size_t metadata_count, ss_error *err)
{
    for (size_t i = 0; i < count; i++) {
        log_op("transact", &ops[i]);
        ss_code rc = check_cond(find(self, &ops[i]), &ops[i], err);
        if (rc != SS_OK) return rc;
    }
    for (size_t i = 0; i < count; i++) {
        if (ops[i].kind == SS_DRV_DELETE) {
            apply_delete(self, &ops[i]);
            continue;
        }
        char *etag = NULL;
        ss_code rc = apply_set(self, &ops[i], &etag, err);
        ss_free(etag);
        if (rc != SS_OK) return rc;
    }
    return SS_OK;
}

static const ss_driver abi1_driver = {
    .abi = SS_DRIVER_ABI,
    .info = {.name = "abi1",
             .version = "1",
             .summary = "test driver compiled against driver ABI 1",
             .features = {.flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE |
                                   SS_FEATURE_TRANSACTIONAL | SS_FEATURE_BULK_NATIVE}},
    .instance_size = sizeof(a1),
    .open = a1_open,
    .close = a1_close,
    .get = a1_get,
    .set = a1_set,
    .del = a1_del,
    .bulk_get = a1_bulk_get,
    .bulk_set = a1_bulk_set,
    .bulk_delete = a1_bulk_delete,
    .transact = a1_transact,
};

ss_code abi1_register(ss_error *err)
{
    return ss_register_driver(&abi1_driver, err);
}

ss_code abi1_register_as(const char *name, unsigned abi, ss_error *err)
{
    /* Registration keeps the pointer, so each variant needs its own lasting copy. */
    static ss_driver variants[8];
    static size_t used;
    if (used == sizeof variants / sizeof variants[0])
        return ss_error_set(err, SS_NOMEM, "abi1_register_as: no room");
    ss_driver *d = &variants[used++];
    *d = abi1_driver;
    d->info.name = name;
    d->abi = abi;
    return ss_register_driver(d, err);
}

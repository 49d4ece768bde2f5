/*
 * memory.c — the in-memory store: the reference implementation of the contract.
 *
 * One hash table under one rwlock. An ETag is the number of the write that made the item (16 hex
 * digits), from a per-store counter that starts at a random point. Expired items are
 * invisible the moment they expire and are purged by a background sweeper. Transactions check
 * every condition against the state as the earlier ops of the same transaction leave it, then
 * apply everything, all under the write lock, so they are atomic and ordered.
 */
#include <statestore.h>
#include <statestore/driver.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "support/periodic.h"

typedef struct mem_item {
    struct mem_item *next;
    uint64_t hash;
    int64_t expires_ms; /* Unix ms; 0 = never */
    size_t key_len;
    size_t len;
    char etag[17]; /* set by stamp() under the write lock */
    char *data;    /* points into bytes, after the key */
    char bytes[];  /* key, NUL, data, NUL */
} mem_item;

typedef struct mem_store {
    pthread_rwlock_t lock;
    mem_item **buckets;
    size_t nbuckets;
    size_t count;
    /* The last write's number. It starts at a random point below 2^62, so an ETag a client kept
     * from an earlier process is never the current one of a new process by accident; a counter
     * instead of random ETags because drawing 128 random bits cost a fifth of a write. */
    uint64_t writes;

    ss_periodic *sweeper; /* purges expired items every sweep_ms */
    int64_t sweep_ms;
} mem_store;

static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* One operation's reading of the wall clock, taken when first needed: most items have no TTL,
 * and the clock read was a tenth of a whole in-memory get. ms == 0 means not read yet. */
typedef struct mem_clock {
    int64_t ms;
} mem_clock;

static int64_t clock_ms(mem_clock *c)
{
    if (c->ms == 0) c->ms = ss_now_unix_ms();
    return c->ms;
}

static bool alive(const mem_item *it, mem_clock *now)
{
    return it->expires_ms == 0 || clock_ms(now) < it->expires_ms;
}

/* The link that points at the key's item (or at the NULL ending its chain). */
static mem_item **find_link(mem_store *m, const char *key, size_t key_len, uint64_t h)
{
    mem_item **link = &m->buckets[h & (m->nbuckets - 1)];
    while (*link) {
        mem_item *it = *link;
        if (it->hash == h && it->key_len == key_len && memcmp(it->bytes, key, key_len) == 0) break;
        link = &it->next;
    }
    return link;
}

/* The live item for the key, or NULL. */
static mem_item *find_live(mem_store *m, const char *key, size_t key_len, mem_clock *now)
{
    mem_item *it = *find_link(m, key, key_len, hash_key(key, key_len));
    return it && alive(it, now) ? it : NULL;
}

static mem_item *item_new(const ss_op *op, mem_clock *now)
{
    if (op->key_len > SIZE_MAX / 2 || op->value_len > SIZE_MAX / 2 - op->key_len - 2) return NULL;
    mem_item *it = malloc(sizeof *it + op->key_len + 1 + op->value_len + 1);
    if (!it) return NULL;
    it->next = NULL;
    it->hash = hash_key(op->key, op->key_len);
    it->key_len = op->key_len;
    it->len = op->value_len;
    memcpy(it->bytes, op->key, op->key_len);
    it->bytes[op->key_len] = '\0';
    it->data = it->bytes + op->key_len + 1;
    if (op->value_len) memcpy(it->data, op->value, op->value_len);
    it->data[op->value_len] = '\0';
    it->expires_ms = op->ttl_mode == SS_TTL_SECONDS ? clock_ms(now) + op->ttl_seconds * 1000 : 0;
    it->etag[0] = '\0';
    return it;
}

/* Gives the item the next write number as its ETag. Under the write lock. */
static void stamp(mem_store *m, mem_item *it)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t v = ++m->writes;
    for (int i = 15; i >= 0; i--, v >>= 4) it->etag[i] = hex[v & 15];
    it->etag[16] = '\0';
}

/* Doubles the table when it is full; without memory it keeps working with longer chains. */
static void maybe_grow(mem_store *m, size_t extra)
{
    if (m->count + extra <= m->nbuckets) return;
    size_t n = m->nbuckets;
    while (n < m->count + extra && n < ((size_t)1 << 40)) n *= 2;
    mem_item **nb = calloc(n, sizeof *nb);
    if (!nb) return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        mem_item *it = m->buckets[i];
        while (it) {
            mem_item *next = it->next;
            it->next = nb[it->hash & (n - 1)];
            nb[it->hash & (n - 1)] = it;
            it = next;
        }
    }
    free(m->buckets);
    m->buckets = nb;
    m->nbuckets = n;
}

/* Puts the item at `link` (from find_link for its key), in place of the key's current one, live
 * or expired. Takes ownership. */
static void put_at(mem_store *m, mem_item **link, mem_item *it)
{
    mem_item *old = *link;
    if (old) {
        it->next = old->next;
        *link = it;
        free(old);
    } else {
        it->next = NULL;
        *link = it;
        m->count++;
    }
}

static void put_item(mem_store *m, mem_item *it)
{
    put_at(m, find_link(m, it->bytes, it->key_len, it->hash), it);
}

/* Unlinks and frees the item at `link` (from find_link), if any. */
static void remove_at(mem_store *m, mem_item **link)
{
    mem_item *old = *link;
    if (!old) return;
    *link = old->next;
    free(old);
    m->count--;
}

/* The ETag rule of the contract, given whether the key exists now and its ETag. */
static ss_code check_cond(const ss_op *op, bool exists, const char *etag, ss_error *err)
{
    switch (op->cond) {
    case SS_COND_MATCH:
        if (!exists)
            return ss_error_set(err, SS_ETAG_MISMATCH, "etag mismatch: the key does not exist");
        if (strcmp(etag, op->etag) != 0)
            return ss_error_set(err, SS_ETAG_MISMATCH, "etag mismatch: the item has another etag");
        return SS_OK;
    case SS_COND_ABSENT:
        if (exists)
            return ss_error_set(err, SS_ETAG_MISMATCH,
                                "etag mismatch: the key already exists (first-write)");
        return SS_OK;
    default:
        return SS_OK;
    }
}

/* ---- sweeper ---- */

static void sweep(void *arg)
{
    mem_store *m = arg;
    mem_clock now = {0};
    pthread_rwlock_wrlock(&m->lock);
    for (size_t i = 0; i < m->nbuckets; i++) {
        mem_item **link = &m->buckets[i];
        while (*link) {
            mem_item *it = *link;
            if (!alive(it, &now)) {
                *link = it->next;
                free(it);
                m->count--;
            } else {
                link = &it->next;
            }
        }
    }
    pthread_rwlock_unlock(&m->lock);
}

/* ---- open / close ---- */

static ss_code mem_open(void *self, ss_ctx *ctx, ss_error *err)
{
    mem_store *m = self;
    int64_t sweep_ms = 1000;
    ss_code rc = ss_prop_duration_ms(ctx, "cleanupInterval", 1000, &sweep_ms, err);
    if (rc != SS_OK) return rc;
    if (sweep_ms <= 0)
        return ss_error_set(err, SS_INVALID, "property \"cleanupInterval\" must be positive");
    m->sweep_ms = sweep_ms;
    uint64_t start = 0;
    if (getrandom(&start, sizeof start, 0) != (ssize_t)sizeof start)
        start = (uint64_t)ss_now_unix_ms() * 1000003u ^ (uint64_t)(uintptr_t)m;
    m->writes = start & ((UINT64_C(1) << 62) - 1); /* 2^62 writes of room before wrapping */
    m->nbuckets = 64;
    m->buckets = calloc(m->nbuckets, sizeof *m->buckets);
    if (!m->buckets) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (pthread_rwlock_init(&m->lock, NULL) != 0) {
        free(m->buckets);
        return ss_error_set(err, SS_BACKEND, "cannot create a lock");
    }
    m->sweeper = ss_periodic_start(m->sweep_ms, sweep, m);
    if (!m->sweeper) {
        pthread_rwlock_destroy(&m->lock);
        free(m->buckets);
        return ss_error_set(err, SS_BACKEND, "cannot start the expiry sweeper thread");
    }
    return SS_OK;
}

static void mem_close(void *self)
{
    mem_store *m = self;
    ss_periodic_stop(m->sweeper);
    m->sweeper = NULL;
    for (size_t i = 0; i < m->nbuckets; i++) {
        mem_item *it = m->buckets[i];
        while (it) {
            mem_item *next = it->next;
            free(it);
            it = next;
        }
    }
    free(m->buckets);
    m->buckets = NULL;
    m->nbuckets = 0;
    pthread_rwlock_destroy(&m->lock);
}

/* ---- single operations ---- */

static ss_code value_of(const mem_item *it, ss_value **out, ss_error *err)
{
    ss_value *v = ss_value_new(it->data, it->len, it->etag);
    if (!v) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (it->expires_ms && ss_value_set_expiry(v, it->expires_ms) != SS_OK) {
        ss_value_free(v);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    *out = v;
    return SS_OK;
}

static ss_code get_locked(mem_store *m, const ss_op *op, mem_clock *now, ss_value **out,
                          ss_error *err)
{
    mem_item *it = find_live(m, op->key, op->key_len, now);
    if (!it) return SS_OK;
    return value_of(it, out, err);
}

static ss_code mem_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    mem_store *m = self;
    mem_clock now = {0};
    pthread_rwlock_rdlock(&m->lock);
    ss_code rc = get_locked(m, op, &now, out, err);
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

/* Applies a prepared set under the write lock; consumes it on success. */
static ss_code set_locked(mem_store *m, const ss_op *op, mem_item *it, mem_clock *now,
                          ss_error *err)
{
    /* Grown first, so the link found once below stays valid for both the check and the put. */
    maybe_grow(m, 1);
    mem_item **link = find_link(m, it->bytes, it->key_len, it->hash);
    mem_item *cur = *link && alive(*link, now) ? *link : NULL;
    ss_code rc = check_cond(op, cur != NULL, cur ? cur->etag : NULL, err);
    if (rc != SS_OK) return rc;
    stamp(m, it);
    put_at(m, link, it);
    return SS_OK;
}

static ss_code mem_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    mem_store *m = self;
    mem_clock now = {0};
    mem_item *it = item_new(op, &now);
    /* Allocated up front: once the write is done, running out of memory must not fail it. */
    char *etag = it && op->etag_wanted ? malloc(sizeof it->etag) : NULL;
    if (!it || (op->etag_wanted && !etag)) {
        free(it);
        free(etag);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    pthread_rwlock_wrlock(&m->lock);
    ss_code rc = set_locked(m, op, it, &now, err);
    /* Copied under the lock: once it is released another write may replace (free) the item. */
    if (rc == SS_OK && etag) memcpy(etag, it->etag, sizeof it->etag);
    pthread_rwlock_unlock(&m->lock);
    if (rc != SS_OK) {
        free(it);
        free(etag);
        return rc;
    }
    *etag_out = etag;
    return SS_OK;
}

static ss_code delete_locked(mem_store *m, const ss_op *op, mem_clock *now, ss_error *err)
{
    mem_item **link = find_link(m, op->key, op->key_len, hash_key(op->key, op->key_len));
    mem_item *cur = *link && alive(*link, now) ? *link : NULL;
    ss_code rc = check_cond(op, cur != NULL, cur ? cur->etag : NULL, err);
    if (rc != SS_OK) return rc;
    remove_at(m, link); /* an expired item goes too */
    return SS_OK;
}

static ss_code mem_del(void *self, const ss_op *op, ss_error *err)
{
    mem_store *m = self;
    mem_clock now = {0};
    pthread_rwlock_wrlock(&m->lock);
    ss_code rc = delete_locked(m, op, &now, err);
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

/* ---- bulk: one lock for the whole batch ---- */

static void item_fail(ss_item_result *r, ss_code rc, const ss_error *e)
{
    r->code = rc;
    r->error = ss_strdup(e->message);
}

static ss_code mem_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                            ss_error *err)
{
    mem_store *m = self;
    mem_clock now = {0};
    pthread_rwlock_rdlock(&m->lock);
    for (size_t i = 0; i < count; i++) {
        ss_error e;
        e.message[0] = '\0';
        ss_code rc = get_locked(m, &ops[i], &now, &out->items[i].value, &e);
        if (rc != SS_OK) item_fail(&out->items[i], rc, &e);
    }
    pthread_rwlock_unlock(&m->lock);
    return SS_OK;
}

static ss_code mem_bulk_set(void *self, const ss_op *ops, size_t count, ss_results *out,
                            ss_error *err)
{
    mem_store *m = self;
    mem_clock now = {0};
    /* Allocate before locking so the lock is held only for the table updates. */
    mem_item **items = calloc(count, sizeof *items);
    if (!items) return ss_error_set(err, SS_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        items[i] = item_new(&ops[i], &now);
        bool want = ops[i].etag_wanted;
        out->items[i].etag = items[i] && want ? malloc(sizeof items[i]->etag) : NULL;
        if (!items[i] || (want && !out->items[i].etag)) {
            for (size_t j = 0; j <= i; j++) {
                free(items[j]);
                free(out->items[j].etag);
                out->items[j].etag = NULL;
            }
            free(items);
            return ss_error_set(err, SS_NOMEM, "out of memory");
        }
    }
    pthread_rwlock_wrlock(&m->lock);
    maybe_grow(m, count);
    for (size_t i = 0; i < count; i++) {
        ss_error e;
        e.message[0] = '\0';
        ss_code rc = set_locked(m, &ops[i], items[i], &now, &e);
        if (rc == SS_OK) {
            if (out->items[i].etag)
                memcpy(out->items[i].etag, items[i]->etag, sizeof items[i]->etag);
            items[i] = NULL;
        } else {
            item_fail(&out->items[i], rc, &e);
            free(out->items[i].etag);
            out->items[i].etag = NULL;
        }
    }
    pthread_rwlock_unlock(&m->lock);
    for (size_t i = 0; i < count; i++) free(items[i]);
    free(items);
    return SS_OK;
}

static ss_code mem_bulk_delete(void *self, const ss_op *ops, size_t count, ss_results *out,
                               ss_error *err)
{
    mem_store *m = self;
    mem_clock now = {0};
    pthread_rwlock_wrlock(&m->lock);
    for (size_t i = 0; i < count; i++) {
        ss_error e;
        e.message[0] = '\0';
        ss_code rc = delete_locked(m, &ops[i], &now, &e);
        if (rc != SS_OK) item_fail(&out->items[i], rc, &e);
    }
    pthread_rwlock_unlock(&m->lock);
    return SS_OK;
}

/* ---- transactions ---- */

static bool same_key(const ss_op *a, const ss_op *b)
{
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

#define NO_EARLIER SIZE_MAX

/*
 * prev[i] = the index of the last op before i on the same key, or NO_EARLIER. One pass over a
 * hash table of keys, done before the lock is taken: a transaction of n ops costs O(n) here,
 * not the O(n^2) of scanning back from every op while every reader waits. NULL on no memory.
 */
static size_t *earlier_same_key(const ss_op *ops, size_t count)
{
    size_t cap = 16;
    while (cap < count * 2) cap *= 2;
    size_t *slot = calloc(cap, sizeof *slot); /* op index + 1; 0 = empty */
    size_t *prev = malloc(count * sizeof *prev);
    if (!slot || !prev) {
        free(slot);
        free(prev);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        size_t pos = hash_key(ops[i].key, ops[i].key_len) & (cap - 1);
        while (slot[pos] && !same_key(&ops[slot[pos] - 1], &ops[i])) pos = (pos + 1) & (cap - 1);
        prev[i] = slot[pos] ? slot[pos] - 1 : NO_EARLIER;
        slot[pos] = i + 1;
    }
    free(slot);
    return prev;
}

static ss_code mem_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                            size_t metadata_count, ss_error *err)
{
    mem_store *m = self;
    mem_clock now = {0};
    mem_item **items = calloc(count, sizeof *items);
    size_t *prev = earlier_same_key(ops, count);
    if (!items || !prev) {
        free(items);
        free(prev);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    ss_code rc = SS_OK;
    for (size_t i = 0; i < count && rc == SS_OK; i++) {
        if (ops[i].kind != SS_DRV_SET) continue;
        items[i] = item_new(&ops[i], &now);
        if (!items[i]) rc = ss_error_set(err, SS_NOMEM, "out of memory");
    }
    if (rc == SS_OK) {
        pthread_rwlock_wrlock(&m->lock);
        /* Numbered first, in order, so a later op's condition can see an earlier op's ETag;
         * numbers of a transaction that fails are simply never used. */
        for (size_t i = 0; i < count; i++)
            if (items[i]) stamp(m, items[i]);
        /* Check every condition first, each against the state the earlier ops leave. */
        for (size_t i = 0; i < count && rc == SS_OK; i++) {
            bool exists;
            const char *etag = NULL;
            size_t j = prev[i];
            if (j != NO_EARLIER) {
                exists = ops[j].kind == SS_DRV_SET;
                etag = exists ? items[j]->etag : NULL;
            } else {
                mem_item *cur = find_live(m, ops[i].key, ops[i].key_len, &now);
                exists = cur != NULL;
                etag = cur ? cur->etag : NULL;
            }
            ss_error e;
            e.message[0] = '\0';
            rc = check_cond(&ops[i], exists, etag, &e);
            if (rc != SS_OK) ss_error_set_op(err, rc, i, &ops[i], "%s", e.message);
        }
        if (rc == SS_OK) {
            maybe_grow(m, count);
            for (size_t i = 0; i < count; i++) {
                if (ops[i].kind == SS_DRV_SET) {
                    put_item(m, items[i]);
                    items[i] = NULL;
                } else {
                    remove_at(m, find_link(m, ops[i].key, ops[i].key_len,
                                           hash_key(ops[i].key, ops[i].key_len)));
                }
            }
        }
        pthread_rwlock_unlock(&m->lock);
    }
    for (size_t i = 0; i < count; i++) free(items[i]);
    free(items);
    free(prev);
    return rc;
}

static const char *const mem_aliases[] = {"in-memory", NULL};

static const ss_property mem_properties[] = {
    {"cleanupInterval", false, false, "1s",
     "how often expired items are purged from memory (they are invisible from the moment they "
     "expire)"},
};

const ss_driver ss_driver_memory = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "memory",
            .aliases = mem_aliases,
            .version = "1",
            .summary = "in-process hash table; the reference implementation of the contract",
            .features = {.flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE |
                                  SS_FEATURE_TRANSACTIONAL | SS_FEATURE_TTL |
                                  SS_FEATURE_BULK_NATIVE,
                         .max_tx_ops = 0,
                         .max_key_len = 0,
                         .max_value_len = 0},
            .properties = mem_properties,
            .property_count = sizeof mem_properties / sizeof mem_properties[0],
        },
    .instance_size = sizeof(mem_store),
    .open = mem_open,
    .close = mem_close,
    .ping = NULL,
    .get = mem_get,
    .set = mem_set,
    .del = mem_del,
    .bulk_get = mem_bulk_get,
    .bulk_set = mem_bulk_set,
    .bulk_delete = mem_bulk_delete,
    .transact = mem_transact,
};

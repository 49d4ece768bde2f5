/*
 * memcached.c — the `memcached` driver, on libmemcached (1.1.x) with its connection pool.
 *
 * Compatible with Dapr's memcached state store for ordinary keys: the value is stored as the
 * raw bytes under the key itself (flags 0), so either side reads what the other wrote. With
 * several hosts, libmemcached's key distribution differs from Dapr's Go client, so share a
 * multi-host cluster with Dapr only through one of them.
 *
 * Beyond Dapr:
 *   - ETags are memcached's CAS values (decimal). Set with ETag = `cas`; first-write = `add`.
 *   - Delete with ETag: libmemcached cannot send a CAS with a delete, so the delete is a `cas`
 *     that stores an empty value with an absolute expiry in the past (PAST_EXPIRY). memcached
 *     checks the CAS atomically and the item is expired at once, so nobody can read it after;
 *     it is a delete conditioned on the CAS, over the same pooled connection. (The meta
 *     command `md <key> C<cas>` would do the same but libmemcached cannot send it.)
 *   - Keys memcached cannot take (over 250 bytes, spaces, control or non-ASCII bytes, or keys
 *     that look like our encoded ones) are stored under "~b64:" + base64url(key), or, when
 *     that is too long, "~sha:" + hex(SHA-256(key)) with the full key stored in front of the
 *     value so a (theoretical) hash collision reads as "not found" rather than another key's
 *     value. Callers never see the encoding.
 *   - The new ETag after a set: memcached's text protocol does not return the CAS of a store,
 *     so the driver reads it back with `gets` and hands it out only when the value read is the
 *     one just written (otherwise another writer came in between, and no ETag is returned).
 *     That costs a second round trip, skipped when the caller passes etag_out == NULL.
 *   - Bulk get is one multi-get (`memcached_mget`), whatever the number of keys.
 */
#include <statestore.h>
#include <statestore/driver.h>

#include <libmemcached/memcached.h>
#include <libmemcached/util.h>
#include <openssl/sha.h>

#include "support/cas.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MC_KEY_MAX     250
#define THIRTY_DAYS    (60 * 60 * 24 * 30)
#define PAST_EXPIRY    ((time_t)THIRTY_DAYS + 1) /* absolute time in 1970: already expired */
#define PREFIX_B64     "~b64:"
#define PREFIX_SHA     "~sha:"
#define PREFIX_LEN     5
#define POOL_MIN_CONNS 8

typedef struct mc_store {
    ss_ctx *ctx;
    memcached_st *master;
    memcached_pool_st *pool;
    int64_t timeout_ms;
    int64_t default_ttl; /* component ttlInSeconds; 0 = none */
} mc_store;

/* An encoded key: either the caller's bytes or our encoding in buf. */
typedef struct mkey {
    const char *ptr;
    size_t len;
    bool hashed; /* the value carries the full key in front */
    char buf[MC_KEY_MAX + 1];
} mkey;

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static ss_code map_rc(memcached_return_t rc)
{
    switch (rc) {
    case MEMCACHED_TIMEOUT:
        return SS_TIMEOUT;
    case MEMCACHED_CONNECTION_FAILURE:
    case MEMCACHED_CONNECTION_SOCKET_CREATE_FAILURE:
    case MEMCACHED_HOST_LOOKUP_FAILURE:
    case MEMCACHED_WRITE_FAILURE:
    case MEMCACHED_READ_FAILURE:
    case MEMCACHED_UNKNOWN_READ_FAILURE:
    case MEMCACHED_PARTIAL_READ:
    case MEMCACHED_ERRNO:
    case MEMCACHED_SERVER_MARKED_DEAD:
    case MEMCACHED_SERVER_TEMPORARILY_DISABLED:
    case MEMCACHED_NO_SERVERS:
    case MEMCACHED_FAIL_UNIX_SOCKET:
    case MEMCACHED_CONNECTION_BIND_FAILURE:
        return SS_UNAVAILABLE;
    case MEMCACHED_E2BIG:
        return SS_TOO_LARGE;
    case MEMCACHED_MEMORY_ALLOCATION_FAILURE:
        return SS_NOMEM;
    default:
        return SS_BACKEND;
    }
}

/* libmemcached's own text, without the "(0x...) " object address in front and the
 * " -> file.cc:line" source location behind, which only add noise for users. */
static ss_code mc_error(ss_error *err, memcached_st *mc, memcached_return_t rc)
{
    const char *msg =
        mc && memcached_last_error(mc) == rc ? memcached_last_error_message(mc) : NULL;
    if (!msg || !*msg) msg = memcached_strerror(mc, rc);
    if (msg[0] == '(' && msg[1] == '0' && msg[2] == 'x') {
        const char *p = strstr(msg, ") ");
        if (p) msg = p + 2;
    }
    const char *end = strstr(msg, " -> ");
    int n = end ? (int)(end - msg) : (int)strlen(msg);
    return ss_error_set(err, map_rc(rc), "%.*s", n, msg);
}

/* ------------------------------------------------------------------------------------------ */
/* Keys and values                                                                             */
/* ------------------------------------------------------------------------------------------ */

static bool plain_key(const char *k, size_t n)
{
    if (n == 0 || n > MC_KEY_MAX) return false;
    if (n >= PREFIX_LEN &&
        (memcmp(k, PREFIX_B64, PREFIX_LEN) == 0 || memcmp(k, PREFIX_SHA, PREFIX_LEN) == 0))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c <= 0x20 || c >= 0x7f) return false;
    }
    return true;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void encode_key(mkey *mk, const char *k, size_t n)
{
    mk->hashed = false;
    if (plain_key(k, n)) {
        mk->ptr = k;
        mk->len = n;
        return;
    }
    size_t enc_len = (n * 4 + 2) / 3; /* unpadded */
    if (PREFIX_LEN + enc_len <= MC_KEY_MAX) {
        memcpy(mk->buf, PREFIX_B64, PREFIX_LEN);
        size_t o = PREFIX_LEN;
        const unsigned char *in = (const unsigned char *)k;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)in[i] << 16;
            if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
            if (i + 2 < n) v |= in[i + 2];
            mk->buf[o++] = b64url[(v >> 18) & 63];
            mk->buf[o++] = b64url[(v >> 12) & 63];
            if (i + 1 < n) mk->buf[o++] = b64url[(v >> 6) & 63];
            if (i + 2 < n) mk->buf[o++] = b64url[v & 63];
        }
        mk->buf[o] = 0;
        mk->ptr = mk->buf;
        mk->len = o;
        return;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)k, n, md);
    memcpy(mk->buf, PREFIX_SHA, PREFIX_LEN);
    for (size_t i = 0; i < sizeof md; i++) snprintf(mk->buf + PREFIX_LEN + 2 * i, 3, "%02x", md[i]);
    mk->ptr = mk->buf;
    mk->len = PREFIX_LEN + 2 * sizeof md;
    mk->hashed = true;
}

/* For hashed keys: [4-byte big-endian key length][key][value]. */
static char *wrap_value(const ss_op *op, size_t *outlen)
{
    size_t n = 4 + op->key_len + op->value_len;
    char *buf = malloc(n ? n : 1);
    if (!buf) return NULL;
    uint32_t kl = (uint32_t)op->key_len;
    buf[0] = (char)(kl >> 24);
    buf[1] = (char)(kl >> 16);
    buf[2] = (char)(kl >> 8);
    buf[3] = (char)kl;
    memcpy(buf + 4, op->key, op->key_len);
    memcpy(buf + 4 + op->key_len, op->value, op->value_len);
    *outlen = n;
    return buf;
}

/* The caller's bytes inside a stored value; false when it belongs to another key. */
static bool unwrap_value(const mkey *mk, const char *key, size_t key_len, const char **data,
                         size_t *len)
{
    if (!mk->hashed) return true;
    if (*len < 4) return false;
    const unsigned char *p = (const unsigned char *)*data;
    size_t kl = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
    if (kl != key_len || *len - 4 < kl || memcmp(*data + 4, key, kl) != 0) return false;
    *data += 4 + kl;
    *len -= 4 + kl;
    return true;
}

static time_t expiry_of(const mc_store *s, const ss_op *op)
{
    int64_t ttl = op->ttl_mode == SS_TTL_SECONDS ? op->ttl_seconds
                  : op->ttl_mode == SS_TTL_NONE  ? 0
                                                 : s->default_ttl;
    if (ttl <= 0) return 0;
    if (ttl <= THIRTY_DAYS) return (time_t)ttl;
    /* memcached reads anything over 30 days as an absolute Unix time, which it parses as a
     * signed 32-bit number: past 2038 it would wrap and expire the item at once, so the
     * expiry is capped at 2038-01-19 instead. */
    int64_t at = (int64_t)time(NULL) + ttl;
    return (time_t)(at > INT32_MAX ? INT32_MAX : at);
}

/* ------------------------------------------------------------------------------------------ */
/* Pool                                                                                        */
/* ------------------------------------------------------------------------------------------ */

static memcached_st *acquire(mc_store *s, ss_error *err)
{
    struct timespec rel = {(time_t)(s->timeout_ms / 1000), (long)(s->timeout_ms % 1000) * 1000000L};
    memcached_return_t rc;
    memcached_st *mc = memcached_pool_fetch(s->pool, &rel, &rc);
    if (!mc) {
        ss_error_set(err, rc == MEMCACHED_TIMEOUT ? SS_TIMEOUT : map_rc(rc),
                     "no free connection in the pool: %s", memcached_strerror(NULL, rc));
        return NULL;
    }
    return mc;
}

static void release(mc_store *s, memcached_st *mc)
{
    memcached_pool_release(s->pool, mc);
}

/* ------------------------------------------------------------------------------------------ */
/* Open / close                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* Every server must answer (as Dapr's Ping). SOME_ERRORS means at least one did not: that is
 * a connection problem, reported with libmemcached's text for it. */
static ss_code version_all(memcached_st *mc, ss_error *err)
{
    memcached_return_t rc = memcached_version(mc);
    if (rc == MEMCACHED_SUCCESS) return SS_OK;
    if (rc == MEMCACHED_SOME_ERRORS) {
        ss_error_set(err, SS_UNAVAILABLE, "a memcached server did not answer");
        if (memcached_last_error(mc) != MEMCACHED_SUCCESS)
            mc_error(err, mc, memcached_last_error(mc));
        if (err) err->code = SS_UNAVAILABLE;
        return SS_UNAVAILABLE;
    }
    return mc_error(err, mc, rc);
}

static void mc_close(void *self)
{
    mc_store *s = self;
    if (s->pool) memcached_pool_destroy(s->pool);
    s->pool = NULL;
    memcached_free(s->master);
    s->master = NULL;
}

static ss_code mc_open(void *self, ss_ctx *ctx, ss_error *err)
{
    mc_store *s = self;
    s->ctx = ctx;
    const char *hosts = ss_prop(ctx, "hosts");
    int64_t idle = 2;
    s->timeout_ms = 1000;
    if (!hosts || !*hosts) return ss_error_set(err, SS_INVALID, "property hosts is required");
    ss_code code = ss_prop_int(ctx, "maxIdleConnections", 0, 1024, &idle, err);
    if (idle == 0) idle = 2; /* Go's memcache client: 0 means its default, 2 */
    if (code == SS_OK) code = ss_prop_duration_ms(ctx, "timeout", 1, &s->timeout_ms, err);
    if (code == SS_OK && ss_prop(ctx, "ttlInSeconds"))
        code = ss_prop_int(ctx, "ttlInSeconds", -1, INT32_MAX, &s->default_ttl, err);
    if (code != SS_OK) return code;
    /* Dapr: a negative timeout means the client's default (1s). */
    if (s->timeout_ms <= 0) s->timeout_ms = 1000;

    memcached_server_st *list = memcached_servers_parse(hosts);
    if (!list || memcached_server_list_count(list) == 0) {
        memcached_server_list_free(list);
        return ss_error_set(err, SS_INVALID,
                            "property hosts: no host:port in \"%s\" (comma-separated list)", hosts);
    }
    s->master = memcached_create(NULL);
    if (!s->master) {
        memcached_server_list_free(list);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    memcached_return_t rc = memcached_server_push(s->master, list);
    memcached_server_list_free(list);
    if (rc != MEMCACHED_SUCCESS) {
        code = mc_error(err, s->master, rc);
        mc_close(s);
        return code;
    }
    memcached_st *m = s->master;
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, (uint64_t)s->timeout_ms);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, (uint64_t)s->timeout_ms);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, (uint64_t)s->timeout_ms * 1000);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SND_TIMEOUT, (uint64_t)s->timeout_ms * 1000);
    /* A restarted server is tried again after a second, not libmemcached's default two. */
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_DEAD_TIMEOUT, 1);

    /* maxIdleConnections is Dapr's idle cap; a pool needs a hard cap, so it is never below
     * POOL_MIN_CONNS to keep a multi-threaded daemon from queueing on two connections. */
    uint32_t max = (uint32_t)(idle > POOL_MIN_CONNS ? idle : POOL_MIN_CONNS);
    s->pool = memcached_pool_create(s->master, 1, max);
    if (!s->pool) {
        mc_close(s);
        return ss_error_set(err, SS_NOMEM, "cannot create the connection pool");
    }
    /* Like Dapr, opening checks that the servers answer. */
    memcached_st *mc = acquire(s, err);
    if (!mc) {
        code = err ? err->code : SS_UNAVAILABLE;
        mc_close(s);
        return code;
    }
    code = version_all(mc, err);
    release(s, mc);
    if (code != SS_OK) mc_close(s);
    return code;
}

static ss_code mc_ping(void *self, ss_error *err)
{
    mc_store *s = self;
    memcached_st *mc = acquire(s, err);
    if (!mc) return err ? err->code : SS_UNAVAILABLE;
    ss_code code = version_all(mc, err);
    release(s, mc);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Get                                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* Reads one key with `gets`: *data is malloc'd (caller frees), *cas its CAS; *found false on a
 * miss. The raw stored bytes, before unwrapping. */
static ss_code gets_raw(memcached_st *mc, const mkey *mk, char **data, size_t *len, uint64_t *cas,
                        bool *found, ss_error *err)
{
    *found = false;
    *data = NULL;
    const char *keys[1] = {mk->ptr};
    size_t lens[1] = {mk->len};
    memcached_return_t rc = memcached_mget(mc, keys, lens, 1);
    if (rc != MEMCACHED_SUCCESS) return mc_error(err, mc, rc);
    memcached_result_st res_buf;
    memcached_result_st *res = memcached_result_create(mc, &res_buf);
    if (!res) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code code = SS_OK;
    while (memcached_fetch_result(mc, res, &rc) != NULL) {
        if (*found) continue; /* drain */
        size_t n = memcached_result_length(res);
        char *copy = malloc(n + 1);
        if (!copy) {
            code = ss_error_set(err, SS_NOMEM, "out of memory");
            continue;
        }
        memcpy(copy, memcached_result_value(res), n);
        *data = copy;
        *len = n;
        *cas = memcached_result_cas(res);
        *found = true;
    }
    memcached_result_free(res);
    if (code == SS_OK && rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND && rc != MEMCACHED_SUCCESS)
        code = mc_error(err, mc, rc);
    if (code != SS_OK) {
        free(*data);
        *data = NULL;
        *found = false;
    }
    return code;
}

static ss_code make_value(const mkey *mk, const ss_op *op, const char *data, size_t len,
                          uint64_t cas, ss_value **out, ss_error *err)
{
    *out = NULL;
    if (!unwrap_value(mk, op->key, op->key_len, &data, &len)) return SS_OK;
    char etag[24];
    ss_cas_text(cas, etag);
    *out = ss_value_new(data, len, etag);
    if (!*out) return ss_error_set(err, SS_NOMEM, "out of memory");
    return SS_OK;
}

static ss_code mc_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    mc_store *s = self;
    *out = NULL;
    mkey mk;
    encode_key(&mk, op->key, op->key_len);
    memcached_st *mc = acquire(s, err);
    if (!mc) return err ? err->code : SS_UNAVAILABLE;
    char *data = NULL;
    size_t len = 0;
    uint64_t cas = 0;
    bool found = false;
    ss_code code = gets_raw(mc, &mk, &data, &len, &cas, &found, err);
    release(s, mc);
    if (code == SS_OK && found) code = make_value(&mk, op, data, len, cas, out, err);
    free(data);
    return code;
}

typedef struct slot {
    size_t index;
    const mkey *mk;
} slot;

static int slot_cmp(const void *a, const void *b)
{
    const mkey *x = ((const slot *)a)->mk, *y = ((const slot *)b)->mk;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Puts one reply into a bulk item, unless the item already has its answer. */
static void fill_item(ss_item_result *it, const mkey *mk, const ss_op *op,
                      const memcached_result_st *res)
{
    if (it->value || it->code != SS_OK) return;
    ss_error e;
    e.message[0] = 0; /* set on failure; zeroing all of it per item is measurable */
    ss_code r = make_value(mk, op, memcached_result_value(res), memcached_result_length(res),
                           memcached_result_cas(res), &it->value, &e);
    if (r != SS_OK) {
        it->code = r;
        it->error = ss_strdup(e.message);
    }
}

/* One multi-get for every key; results are matched back by key (duplicates included). */
static ss_code mc_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                           ss_error *err)
{
    mc_store *s = self;
    mkey *mks = malloc(count * sizeof *mks);
    const char **keys = malloc(count * sizeof *keys);
    size_t *lens = malloc(count * sizeof *lens);
    slot *slots = malloc(count * sizeof *slots);
    ss_code code = SS_OK;
    memcached_st *mc = NULL;
    if (!mks || !keys || !lens || !slots) {
        code = ss_error_set(err, SS_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        encode_key(&mks[i], ops[i].key, ops[i].key_len);
        keys[i] = mks[i].ptr;
        lens[i] = mks[i].len;
        slots[i].index = i;
        slots[i].mk = &mks[i];
    }
    qsort(slots, count, sizeof *slots, slot_cmp);
    mc = acquire(s, err);
    if (!mc) {
        code = err ? err->code : SS_UNAVAILABLE;
        goto done;
    }
    memcached_return_t rc = memcached_mget(mc, keys, lens, count);
    if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_SOME_ERRORS) {
        code = mc_error(err, mc, rc);
        goto done;
    }
    memcached_result_st res_buf;
    memcached_result_st *res = memcached_result_create(mc, &res_buf);
    if (!res) {
        code = ss_error_set(err, SS_NOMEM, "out of memory");
        goto done;
    }
    /* Replies come in request order per server, so the next unanswered request usually
     * matches; otherwise the sorted index finds it (and every duplicate of it). */
    size_t cursor = 0;
    while (memcached_fetch_result(mc, res, &rc) != NULL) {
        const char *kp = memcached_result_key_value(res);
        size_t kl = memcached_result_key_length(res);
        if (cursor < count && mks[cursor].len == kl && memcmp(mks[cursor].ptr, kp, kl) == 0) {
            fill_item(&out->items[cursor], &mks[cursor], &ops[cursor], res);
            cursor++;
            continue;
        }
        mkey probe;
        probe.ptr = kp;
        probe.len = kl;
        slot key = {0, &probe};
        slot *hit = bsearch(&key, slots, count, sizeof *slots, slot_cmp);
        if (!hit) continue;
        while (hit > slots && slot_cmp(hit - 1, &key) == 0) hit--;
        for (; hit < slots + count && slot_cmp(hit, &key) == 0; hit++) {
            fill_item(&out->items[hit->index], hit->mk, &ops[hit->index], res);
            if (hit->index >= cursor) cursor = hit->index + 1;
        }
    }
    memcached_result_free(res);
    /* A failed server leaves its keys unanswered: those are failures, not misses. */
    if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND && rc != MEMCACHED_SUCCESS) {
        ss_error e;
        e.message[0] = 0; /* set on failure; zeroing all of it per item is measurable */
        ss_code r = mc_error(&e, mc, rc);
        for (size_t i = 0; i < count; i++) {
            ss_item_result *it = &out->items[i];
            if (it->value || it->code != SS_OK) continue;
            it->code = r;
            it->error = ss_strdup(e.message);
        }
    }
done:
    if (mc) release(s, mc);
    free(mks);
    free(keys);
    free(lens);
    free(slots);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Set / delete                                                                                */
/* ------------------------------------------------------------------------------------------ */

static ss_code mc_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    mc_store *s = self;
    uint64_t cas = 0;
    if (op->cond == SS_COND_MATCH && !ss_cas_parse(op->etag, &cas))
        return ss_error_set(err, SS_ETAG_INVALID,
                            "invalid etag value: memcached ETags are CAS numbers");
    mkey mk;
    encode_key(&mk, op->key, op->key_len);
    const char *val = op->value;
    size_t vlen = op->value_len;
    char *wrapped = NULL;
    if (mk.hashed) {
        wrapped = wrap_value(op, &vlen);
        if (!wrapped) return ss_error_set(err, SS_NOMEM, "out of memory");
        val = wrapped;
    }
    time_t exp = expiry_of(s, op);
    memcached_st *mc = acquire(s, err);
    if (!mc) {
        free(wrapped);
        return err ? err->code : SS_UNAVAILABLE;
    }
    memcached_return_t rc;
    if (op->cond == SS_COND_MATCH)
        rc = memcached_cas(mc, mk.ptr, mk.len, val, vlen, exp, 0, cas);
    else if (op->cond == SS_COND_ABSENT)
        rc = memcached_add(mc, mk.ptr, mk.len, val, vlen, exp, 0);
    else
        rc = memcached_set(mc, mk.ptr, mk.len, val, vlen, exp, 0);
    ss_code code = SS_OK;
    if (rc == MEMCACHED_DATA_EXISTS || rc == MEMCACHED_NOTFOUND ||
        (rc == MEMCACHED_NOTSTORED && op->cond != SS_COND_ANY))
        code = ss_error_set(err, SS_ETAG_MISMATCH,
                            op->cond == SS_COND_ABSENT
                                ? "possible etag mismatch: the key exists (first-write)"
                                : "possible etag mismatch: the CAS value changed or the key is "
                                  "gone");
    else if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_STORED)
        code = mc_error(err, mc, rc);
    if (code == SS_OK && op->etag_wanted) {
        char *data = NULL;
        size_t len = 0;
        uint64_t newcas = 0;
        bool found = false;
        /* The write succeeded; failing to learn its ETag only means none is returned. */
        ss_error ignored;
        if (gets_raw(mc, &mk, &data, &len, &newcas, &found, &ignored) == SS_OK && found &&
            len == vlen && memcmp(data, val, vlen) == 0) {
            char etag[24];
            ss_cas_text(newcas, etag);
            *etag_out = ss_strdup(etag);
        }
        free(data);
    }
    release(s, mc);
    free(wrapped);
    return code;
}

static ss_code mc_del(void *self, const ss_op *op, ss_error *err)
{
    mc_store *s = self;
    uint64_t cas = 0;
    if (op->cond == SS_COND_MATCH && !ss_cas_parse(op->etag, &cas))
        return ss_error_set(err, SS_ETAG_INVALID,
                            "invalid etag value: memcached ETags are CAS numbers");
    mkey mk;
    encode_key(&mk, op->key, op->key_len);
    memcached_st *mc = acquire(s, err);
    if (!mc) return err ? err->code : SS_UNAVAILABLE;
    memcached_return_t rc;
    ss_code code = SS_OK;
    if (op->cond == SS_COND_MATCH) {
        rc = memcached_cas(mc, mk.ptr, mk.len, "", 0, PAST_EXPIRY, 0, cas);
        if (rc == MEMCACHED_DATA_EXISTS || rc == MEMCACHED_NOTFOUND)
            code = ss_error_set(err, SS_ETAG_MISMATCH,
                                "possible etag mismatch: the CAS value changed or the key is "
                                "gone");
        else if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_STORED)
            code = mc_error(err, mc, rc);
    } else {
        rc = memcached_delete(mc, mk.ptr, mk.len, 0);
        if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_DELETED && rc != MEMCACHED_NOTFOUND)
            code = mc_error(err, mc, rc);
    }
    release(s, mc);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Declaration                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static const ss_property mc_props[] = {
    {"hosts", true, false, NULL, "comma-separated host:port list, e.g. \"127.0.0.1:11211\""},
    {"maxIdleConnections", false, false, "2",
     "idle connections to keep (the pool holds at least 8)"},
    {"timeout", false, false, "1000",
     "timeout of one call: milliseconds, or a duration such as \"5s\""},
    {"ttlInSeconds", false, false, NULL,
     "default TTL of items written without ttlInSeconds; unset = no expiry"},
};

const ss_driver ss_driver_memcached = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "memcached",
            .aliases = NULL,
            .version = "1",
            .summary = "memcached via libmemcached: CAS ETags, first-write, TTL, multi-get",
            .features =
                {
                    .flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE | SS_FEATURE_TTL |
                             SS_FEATURE_BULK_NATIVE,
                    .max_tx_ops = 0,
                    .max_key_len = 0,
                    /* memcached's default item limit (-I) is 1 MiB including the key and the
                     * item header; this leaves room for both. */
                    .max_value_len = 1000000,
                },
            .properties = mc_props,
            .property_count = sizeof mc_props / sizeof mc_props[0],
        },
    .instance_size = sizeof(mc_store),
    .open = mc_open,
    .close = mc_close,
    .ping = mc_ping,
    .get = mc_get,
    .set = mc_set,
    .del = mc_del,
    .bulk_get = mc_bulk_get,
    .bulk_set = NULL,
    .bulk_delete = NULL,
    .transact = NULL,
};

/*
 * ZooKeeper driver on libzookeeper-mt (the C client's synchronous API, which is thread-safe and
 * pipelines concurrent calls on one session).
 *
 * Layout (as Dapr's zookeeper component): one znode per key at keyPrefixPath + "/" + name, the
 * value stored raw as the znode's data, ETag = the znode's data version. `name` is the key with
 * every byte outside printable ASCII, and '/' and '%', written as %XX, so any key maps to exactly
 * one znode name and back; "." and ".." and a top-level "zookeeper" are escaped as well.
 *
 * TTL uses ZooKeeper TTL nodes (server flag zookeeper.extendedTypesEnabled=true). The server
 * hides a node's TTL from clients, so a TTL node is marked by bumping its ACL version once after
 * creation (stat.aversion > 0): a later write without TTL sees the mark and turns the node back
 * into a plain one.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zookeeper/zookeeper.h>

#include "statestore/driver.h"

#define DEFAULT_BUFFER (1024 * 1024)
#define MAX_RETRIES    5
#define MAX_TTL_MS     ((int64_t)0xFFFFFFFFFF)

typedef struct zk {
    ss_ctx *ctx;
    char *servers;
    int session_ms;
    size_t max_buffer;
    char *prefix; /* "" (root) or "/a/b" */
    size_t prefix_len;
    bool ttl_supported;
    pthread_rwlock_t lock; /* readers use zh; a writer replaces it after session expiry */
    bool lock_ready;
    zhandle_t *zh;
    unsigned gen;
    atomic_llong disconnected_since; /* monotonic ms, 0 while connected */
    _Atomic(zhandle_t *) current;    /* zh, readable without the lock (by the watcher) */
} zk;

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    /* Only session events arrive (no watches are set): remember since when we are cut off. */
    zk *z = ctx;
    /* Events of a handle being replaced (or not installed yet) say nothing about the current one.
     */
    if (type != ZOO_SESSION_EVENT || !z || zh != atomic_load(&z->current)) return;
    if (state == ZOO_CONNECTED_STATE)
        atomic_store(&z->disconnected_since, 0);
    else if (state == ZOO_CONNECTING_STATE && atomic_load(&z->disconnected_since) == 0)
        atomic_store(&z->disconnected_since, ss_monotonic_ms());
}

/* The client logs every reconnect attempt to stderr; failures reach callers through ss_error. */
static void drop_log(const char *message) {}

static ss_code map_rc(int rc, ss_error *err)
{
    switch (rc) {
    case ZOK:
        return SS_OK;
    case ZCONNECTIONLOSS:
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
    case ZSESSIONMOVED:
    case ZCLOSING:
    case ZNOTHING:
    case ZTHROTTLEDOP:
        return ss_error_set(err, SS_UNAVAILABLE, "%s", zerror(rc));
    case ZOPERATIONTIMEOUT:
        return ss_error_set(err, SS_TIMEOUT, "%s", zerror(rc));
    case ZBADVERSION:
    case ZNODEEXISTS:
        return ss_error_set(err, SS_ETAG_MISMATCH, "%s", zerror(rc));
    default:
        return ss_error_set(err, SS_BACKEND, "%s", zerror(rc));
    }
}

static int64_t now_ms(void)
{
    return ss_monotonic_ms();
}

/* Connects a new handle and waits until the session is established. */
static ss_code connect_handle(zk *z, zhandle_t **out, ss_error *err)
{
    *out = NULL;
    zhandle_t *zh = zookeeper_init2(z->servers, watcher, z->session_ms, NULL, z, 0, drop_log);
    if (!zh) return ss_error_set(err, SS_UNAVAILABLE, "cannot create a session");
    int64_t deadline = now_ms() + z->session_ms;
    while (zoo_state(zh) != ZOO_CONNECTED_STATE) {
        int st = zoo_state(zh);
        if (st == ZOO_EXPIRED_SESSION_STATE || st == ZOO_AUTH_FAILED_STATE || now_ms() > deadline) {
            zookeeper_close(zh);
            return ss_error_set(err, SS_UNAVAILABLE, "no session with %s within %d ms", z->servers,
                                z->session_ms);
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    *out = zh;
    return SS_OK;
}

/* Creates every node of the prefix path that is missing. */
static ss_code ensure_prefix(zk *z, zhandle_t *zh, ss_error *err)
{
    char *p = z->prefix;
    for (size_t i = 1; i <= z->prefix_len; i++) {
        if (i != z->prefix_len && p[i] != '/') continue;
        char saved = p[i];
        p[i] = '\0';
        int rc = zoo_create(zh, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
        p[i] = saved;
        if (rc != ZOK && rc != ZNODEEXISTS) return map_rc(rc, err);
    }
    return SS_OK;
}

/* Replaces an expired session (the old handle can never recover), once per generation. */
static ss_code reconnect(zk *z, unsigned gen, ss_error *err)
{
    ss_code code = SS_OK;
    pthread_rwlock_wrlock(&z->lock);
    if (z->gen == gen) {
        zhandle_t *zh = NULL;
        code = connect_handle(z, &zh, err);
        if (code == SS_OK) {
            atomic_store(&z->current, zh);
            zookeeper_close(z->zh);
            z->zh = zh;
            z->gen++;
            atomic_store(&z->disconnected_since, 0);
            ss_log(z->ctx, SS_LOG_WARN, "zookeeper session expired; opened a new one");
            code = ensure_prefix(z, zh, err);
        }
    }
    pthread_rwlock_unlock(&z->lock);
    return code;
}

typedef ss_code (*zk_fn)(zk *z, zhandle_t *zh, void *arg, ss_error *err);

/* Runs fn on the current session; after session expiry, on a new session, once more. */
static ss_code run(zk *z, zk_fn fn, void *arg, ss_error *err)
{
    for (int attempt = 0;; attempt++) {
        pthread_rwlock_rdlock(&z->lock);
        zhandle_t *zh = z->zh;
        unsigned gen = z->gen;
        /* Never queue a request on a handle that is not connected: if the server refuses the
         * old session at every attempt, such a request would wait forever. */
        int state = zoo_state(zh);
        ss_code code = state == ZOO_CONNECTED_STATE
                           ? fn(z, zh, arg, err)
                           : ss_error_set(err, SS_UNAVAILABLE, "not connected to %s", z->servers);
        state = zoo_state(zh);
        pthread_rwlock_unlock(&z->lock);
        /* Cut off for longer than the session timeout: the server has expired the session (or
         * lost it, or refuses us as having seen newer data) even if the client cannot learn
         * that until it reconnects, so start a new one, as Curator does. */
        int64_t since = atomic_load(&z->disconnected_since);
        bool lost = since != 0 && ss_monotonic_ms() - since > z->session_ms;
        if (code != SS_UNAVAILABLE || attempt > 0 ||
            (state != ZOO_EXPIRED_SESSION_STATE && state != ZOO_AUTH_FAILED_STATE && !lost))
            return code;
        ss_error rerr;
        if (reconnect(z, gen, &rerr) != SS_OK) return code;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Paths                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static char *make_path(const zk *z, const char *key, size_t len)
{
    char *p = malloc(z->prefix_len + 2 + len * 3 + 1);
    if (!p) return NULL;
    memcpy(p, z->prefix, z->prefix_len);
    size_t n = z->prefix_len;
    p[n++] = '/';
    static const char hex[] = "0123456789ABCDEF";
    bool dots = (len == 1 && key[0] == '.') || (len == 2 && key[0] == '.' && key[1] == '.');
    bool reserved = z->prefix_len == 0 && len == 9 && memcmp(key, "zookeeper", 9) == 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        bool plain = c >= 0x20 && c < 0x7f && c != '/' && c != '%';
        if (dots || (reserved && i == 0)) plain = false;
        if (plain) {
            p[n++] = (char)c;
        } else {
            p[n++] = '%';
            p[n++] = hex[c >> 4];
            p[n++] = hex[c & 15];
        }
    }
    p[n] = '\0';
    return p;
}

static ss_code parse_version(const char *etag, int *out, ss_error *err)
{
    char *end = NULL;
    long v = strtol(etag, &end, 10);
    if (!*etag || *end || v < 0 || v > INT32_MAX || etag[0] == '+' || etag[0] == ' ')
        return ss_error_set(err, SS_ETAG_INVALID, "etag %s is not a znode version", etag);
    *out = (int)v;
    return SS_OK;
}

static char *version_etag(int version)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%d", version);
    return ss_strdup(buf);
}

/* ------------------------------------------------------------------------------------------ */
/* Get                                                                                         */
/* ------------------------------------------------------------------------------------------ */

typedef struct get_arg {
    const char *path;
    bool sync; /* strong: make the server catch up with the leader first */
    ss_value *val;
} get_arg;

static void on_sync(int rc, const char *value, const void *data) {}

static ss_code do_get(zk *z, zhandle_t *zh, void *argp, ss_error *err)
{
    get_arg *a = argp;
    a->val = NULL;
    /* Requests on one session are answered in order, so the read after a sync sees every
     * write the leader had committed when the sync was issued. */
    if (a->sync) {
        int rc = zoo_async(zh, a->path, on_sync, NULL);
        if (rc != ZOK) return map_rc(rc, err);
    }
    int cap = 4096;
    for (;;) {
        char *buf = malloc((size_t)cap);
        if (!buf) return ss_error_set(err, SS_NOMEM, "out of memory");
        int len = cap;
        struct Stat st;
        int rc = zoo_get(zh, a->path, 0, buf, &len, &st);
        if (rc == ZNONODE) {
            free(buf);
            return SS_OK;
        }
        if (rc != ZOK) {
            free(buf);
            return map_rc(rc, err);
        }
        if (st.dataLength > cap) {
            /* Too small: read again with the size the stat reports (it may change again). */
            free(buf);
            cap = st.dataLength;
            continue;
        }
        char etag[16];
        snprintf(etag, sizeof etag, "%d", st.version);
        a->val = ss_value_new(buf, len > 0 ? (size_t)len : 0, etag);
        free(buf);
        return a->val ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
    }
}

static ss_code zk_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    zk *z = self;
    *out = NULL;
    get_arg a = {.path = make_path(z, op->key, op->key_len),
                 .sync = op->consistency == SS_CONSISTENCY_STRONG};
    if (!a.path) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code code = run(z, do_get, &a, err);
    free((char *)a.path);
    *out = a.val;
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Set / delete                                                                                */
/* ------------------------------------------------------------------------------------------ */

typedef struct write_arg {
    const ss_op *op;
    const char *path;
    int version; /* cond MATCH */
    int new_version;
} write_arg;

static int create_node(zk *z, zhandle_t *zh, const write_arg *a)
{
    const ss_op *op = a->op;
    if (op->ttl_mode != SS_TTL_SECONDS)
        return zoo_create(zh, a->path, op->value, (int)op->value_len, &ZOO_OPEN_ACL_UNSAFE,
                          ZOO_PERSISTENT, NULL, 0);
    /* ZooKeeper keeps TTLs in 40 bits of milliseconds (about 34.8 years): longer ones are
     * clamped to that. */
    int64_t ttl_ms = op->ttl_seconds > MAX_TTL_MS / 1000 ? MAX_TTL_MS : op->ttl_seconds * 1000;
    int rc = zoo_create_ttl(zh, a->path, op->value, (int)op->value_len, &ZOO_OPEN_ACL_UNSAFE,
                            ZOO_PERSISTENT_WITH_TTL, ttl_ms, NULL, 0);
    if (rc == ZOK) {
        /* The TTL mark (see the top of the file); a failure only leaves the node unmarked. */
        zoo_set_acl(zh, a->path, 0, &ZOO_OPEN_ACL_UNSAFE);
    }
    return rc;
}

static ss_code do_set(zk *z, zhandle_t *zh, void *argp, ss_error *err)
{
    write_arg *a = argp;
    const ss_op *op = a->op;
    bool want_ttl = op->ttl_mode == SS_TTL_SECONDS;
    for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
        if (op->cond == SS_COND_ABSENT) {
            int rc = create_node(z, zh, a);
            if (rc == ZNODEEXISTS)
                return ss_error_set(err, SS_ETAG_MISMATCH, "the key already exists");
            a->new_version = 0;
            return map_rc(rc, err);
        }
        int expect = op->cond == SS_COND_MATCH ? a->version : -1;
        struct Stat st;
        int rc;
        if (!want_ttl) {
            rc = zoo_set2(zh, a->path, op->value, (int)op->value_len, expect, &st);
            if (rc == ZOK && st.aversion == 0) {
                a->new_version = st.version;
                return SS_OK;
            }
            if (rc == ZOK) {
                /* A TTL node written without TTL: replace it by a plain node, atomically. */
                zoo_op_t ops[2];
                zoo_op_result_t res[2];
                zoo_delete_op_init(&ops[0], a->path, st.version);
                zoo_create_op_init(&ops[1], a->path, op->value, (int)op->value_len,
                                   &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
                rc = zoo_multi(zh, 2, ops, res);
                if (rc == ZOK) {
                    a->new_version = 0;
                    return SS_OK;
                }
                if (rc == ZBADVERSION || rc == ZNONODE) {
                    /* Someone wrote in between: our write happened; theirs is later. */
                    a->new_version = st.version;
                    return SS_OK;
                }
                return map_rc(rc, err);
            }
        } else {
            /* TTL nodes cannot be made from existing nodes: delete (checking the version) and
             * create. Not atomic: a reader may briefly see the key missing. */
            rc = zoo_delete(zh, a->path, expect);
            if (rc == ZOK || (rc == ZNONODE && op->cond == SS_COND_ANY)) {
                rc = create_node(z, zh, a);
                if (rc == ZNODEEXISTS) continue;
                a->new_version = 0;
                return map_rc(rc, err);
            }
        }
        if (rc == ZNONODE && op->cond == SS_COND_MATCH)
            return ss_error_set(err, SS_ETAG_MISMATCH, "the key does not exist");
        if (rc == ZBADVERSION)
            return ss_error_set(err, SS_ETAG_MISMATCH, "version is not %d", a->version);
        if (rc != ZNONODE) return map_rc(rc, err);
        rc = create_node(z, zh, a);
        if (rc == ZOK) {
            a->new_version = 0;
            return SS_OK;
        }
        if (rc != ZNODEEXISTS) return map_rc(rc, err);
        /* Created concurrently: go round again and overwrite it. */
    }
    return ss_error_set(err, SS_UNAVAILABLE, "the key kept changing; try again");
}

static ss_code zk_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    zk *z = self;
    ss_code code;
    write_arg a = {.op = op, .path = make_path(z, op->key, op->key_len)};
    if (!a.path) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (op->cond == SS_COND_MATCH && (code = parse_version(op->etag, &a.version, err)) != SS_OK) {
        free((char *)a.path);
        return code;
    }
    code = run(z, do_set, &a, err);
    free((char *)a.path);
    if (code != SS_OK) return code;
    *etag_out = version_etag(a.new_version);
    return *etag_out ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
}

static ss_code do_del(zk *z, zhandle_t *zh, void *argp, ss_error *err)
{
    write_arg *a = argp;
    int rc = zoo_delete(zh, a->path, a->op->cond == SS_COND_MATCH ? a->version : -1);
    if (rc == ZNONODE && a->op->cond != SS_COND_MATCH) return SS_OK;
    if (rc == ZNONODE) return ss_error_set(err, SS_ETAG_MISMATCH, "no such key");
    if (rc == ZBADVERSION)
        return ss_error_set(err, SS_ETAG_MISMATCH, "version is not %d", a->version);
    return map_rc(rc, err);
}

static ss_code zk_del(void *self, const ss_op *op, ss_error *err)
{
    zk *z = self;
    write_arg a = {.op = op, .path = make_path(z, op->key, op->key_len)};
    if (!a.path) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code code = SS_OK;
    if (op->cond == SS_COND_MATCH) code = parse_version(op->etag, &a.version, err);
    if (code == SS_OK) code = run(z, do_del, &a, err);
    free((char *)a.path);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Pipelined reads (bulk get, and the stats a transaction starts from)                         */
/* ------------------------------------------------------------------------------------------ */

typedef struct batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending;
} batch;

typedef struct batch_item {
    batch *b;
    int rc;
    struct Stat st;
    char *data; /* bulk get only */
    int len;
    bool want_data;
    bool oom;
} batch_item;

static void batch_done(batch *b)
{
    pthread_mutex_lock(&b->mu);
    if (--b->pending == 0) pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void on_data(int rc, const char *value, int value_len, const struct Stat *stat,
                    const void *data)
{
    batch_item *it = (batch_item *)data;
    it->rc = rc;
    if (rc == ZOK) {
        it->st = *stat;
        it->len = value_len > 0 ? value_len : 0;
        it->data = malloc((size_t)it->len + 1);
        if (it->data)
            memcpy(it->data, value ? value : "", (size_t)it->len);
        else
            it->oom = true;
    }
    batch_done(it->b);
}

static void on_stat(int rc, const struct Stat *stat, const void *data)
{
    batch_item *it = (batch_item *)data;
    it->rc = rc;
    if (rc == ZOK) it->st = *stat;
    batch_done(it->b);
}

typedef struct batch_arg {
    char **paths;
    batch_item *items;
    size_t count;
} batch_arg;

/*
 * Sends every read before waiting for any answer: one round trip for the lot. The async get
 * reads the whole value (the client allocates it), so bulk gets have no size retry loop.
 */
static ss_code do_batch(zk *z, zhandle_t *zh, void *argp, ss_error *err)
{
    batch_arg *a = argp;
    batch b = {.pending = a->count};
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    for (size_t i = 0; i < a->count; i++) {
        batch_item *it = &a->items[i];
        free(it->data);
        it->data = NULL;
        it->b = &b;
        it->rc = ZSYSTEMERROR;
        int rc = it->want_data ? zoo_aget(zh, a->paths[i], 0, on_data, it)
                               : zoo_aexists(zh, a->paths[i], 0, on_stat, it);
        if (rc != ZOK) {
            it->rc = rc;
            batch_done(&b);
        }
    }
    pthread_mutex_lock(&b.mu);
    while (b.pending > 0) pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    pthread_cond_destroy(&b.cv);
    pthread_mutex_destroy(&b.mu);
    for (size_t i = 0; i < a->count; i++) {
        int rc = a->items[i].rc;
        if (a->items[i].oom) return ss_error_set(err, SS_NOMEM, "out of memory");
        if (rc != ZOK && rc != ZNONODE) return map_rc(rc, err);
    }
    return SS_OK;
}

static void batch_free(batch_arg *a)
{
    for (size_t i = 0; i < a->count; i++) {
        if (a->paths) free(a->paths[i]);
        if (a->items) free(a->items[i].data);
    }
    free(a->paths);
    free(a->items);
}

static ss_code batch_init(zk *z, batch_arg *a, const ss_op *ops, size_t count, bool data,
                          ss_error *err)
{
    a->count = 0;
    a->paths = calloc(count ? count : 1, sizeof *a->paths);
    a->items = calloc(count ? count : 1, sizeof *a->items);
    if (!a->paths || !a->items) return ss_error_set(err, SS_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        a->paths[i] = make_path(z, ops[i].key, ops[i].key_len);
        a->items[i].want_data = data;
        a->count = i + 1;
        if (!a->paths[i]) return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    return SS_OK;
}

static ss_code zk_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                           ss_error *err)
{
    zk *z = self;
    batch_arg a = {0};
    ss_code code = batch_init(z, &a, ops, count, true, err);
    if (code == SS_OK) code = run(z, do_batch, &a, err);
    for (size_t i = 0; code == SS_OK && i < count; i++) {
        if (a.items[i].rc != ZOK) continue;
        char etag[16];
        snprintf(etag, sizeof etag, "%d", a.items[i].st.version);
        out->items[i].value = ss_value_new(a.items[i].data, (size_t)a.items[i].len, etag);
        if (!out->items[i].value) code = ss_error_set(err, SS_NOMEM, "out of memory");
    }
    batch_free(&a);
    return code;
}

/*
 * Bulk set/delete: every item's request is sent before any answer is awaited (one round trip
 * for the lot). Items the single pipelined request cannot finish (a missing key to create, a
 * TTL, a TTL node to turn plain) go through the single-item path afterwards.
 */
typedef struct wbatch_item {
    batch *b;
    int rc;
    struct Stat st;
    bool slow;    /* to be done by the single-item path */
    bool invalid; /* already failed validation */
} wbatch_item;

static void on_wstat(int rc, const struct Stat *stat, const void *data)
{
    wbatch_item *it = (wbatch_item *)data;
    it->rc = rc;
    if (rc == ZOK && stat) it->st = *stat;
    batch_done(it->b);
}

static void on_wstring(int rc, const char *value, const void *data)
{
    wbatch_item *it = (wbatch_item *)data;
    it->rc = rc;
    batch_done(it->b);
}

static void on_wvoid(int rc, const void *data)
{
    wbatch_item *it = (wbatch_item *)data;
    it->rc = rc;
    batch_done(it->b);
}

typedef struct wbatch_arg {
    const ss_op *ops;
    size_t count;
    char **paths;
    int *versions;
    wbatch_item *items;
} wbatch_arg;

static ss_code do_wbatch(zk *z, zhandle_t *zh, void *argp, ss_error *err)
{
    wbatch_arg *a = argp;
    batch b = {.pending = a->count};
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    for (size_t i = 0; i < a->count; i++) {
        const ss_op *op = &a->ops[i];
        wbatch_item *it = &a->items[i];
        it->b = &b;
        it->rc = ZSYSTEMERROR;
        int rc = ZOK;
        if (it->slow) {
            batch_done(&b);
            continue;
        }
        int version = op->cond == SS_COND_MATCH ? a->versions[i] : -1;
        if (op->kind == SS_DRV_DELETE)
            rc = zoo_adelete(zh, a->paths[i], version, on_wvoid, it);
        else if (op->cond == SS_COND_ABSENT)
            rc = zoo_acreate(zh, a->paths[i], op->value, (int)op->value_len, &ZOO_OPEN_ACL_UNSAFE,
                             ZOO_PERSISTENT, on_wstring, it);
        else
            rc = zoo_aset(zh, a->paths[i], op->value, (int)op->value_len, version, on_wstat, it);
        if (rc != ZOK) {
            it->rc = rc;
            batch_done(&b);
        }
    }
    pthread_mutex_lock(&b.mu);
    while (b.pending > 0) pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    pthread_cond_destroy(&b.cv);
    pthread_mutex_destroy(&b.mu);
    for (size_t i = 0; i < a->count; i++) {
        int rc = a->items[i].rc;
        if (!a->items[i].slow && (rc == ZCONNECTIONLOSS || rc == ZSESSIONEXPIRED ||
                                  rc == ZINVALIDSTATE || rc == ZCLOSING))
            return map_rc(rc, err);
    }
    return SS_OK;
}

static ss_code bulk_write(zk *z, const ss_op *ops, size_t count, ss_results *out, ss_error *err)
{
    wbatch_arg a = {.ops = ops, .count = count};
    a.paths = calloc(count, sizeof *a.paths);
    a.versions = calloc(count, sizeof *a.versions);
    a.items = calloc(count, sizeof *a.items);
    ss_code code = SS_OK;
    if (!a.paths || !a.versions || !a.items) {
        code = ss_error_set(err, SS_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        ss_error ierr;
        ss_code ic = SS_OK;
        a.paths[i] = make_path(z, ops[i].key, ops[i].key_len);
        if (!a.paths[i]) {
            code = ss_error_set(err, SS_NOMEM, "out of memory");
            goto done;
        }
        if (ops[i].cond == SS_COND_MATCH) ic = parse_version(ops[i].etag, &a.versions[i], &ierr);
        /* A repeated key must be written in request order: leave later ones to the slow path. */
        for (size_t j = 0; j < i && ic == SS_OK && !a.items[i].slow; j++)
            a.items[i].slow = strcmp(a.paths[j], a.paths[i]) == 0;
        if (ops[i].kind == SS_DRV_SET && ops[i].ttl_mode == SS_TTL_SECONDS) a.items[i].slow = true;
        if (ic != SS_OK) {
            a.items[i].slow = true;
            a.items[i].invalid = true;
            out->items[i].code = ic;
            out->items[i].error = ss_strdup(ierr.message);
        }
    }
    code = run(z, do_wbatch, &a, err);
    if (code != SS_OK) goto done;
    for (size_t i = 0; i < count; i++) {
        const ss_op *op = &ops[i];
        wbatch_item *it = &a.items[i];
        ss_item_result *r = &out->items[i];
        if (it->invalid) continue;
        bool slow = it->slow;
        if (!slow && op->kind == SS_DRV_SET && op->cond == SS_COND_ANY)
            slow = it->rc == ZNONODE || (it->rc == ZOK && it->st.aversion > 0);
        if (!slow && op->kind == SS_DRV_SET && it->rc == ZOK && it->st.aversion > 0) slow = true;
        ss_error ierr = {0};
        ss_code ic;
        if (slow) {
            ic = op->kind == SS_DRV_SET ? zk_set(z, op, &r->etag, &ierr) : zk_del(z, op, &ierr);
        } else if (op->kind == SS_DRV_DELETE) {
            ic = it->rc == ZNONODE && op->cond != SS_COND_MATCH ? SS_OK
                 : it->rc == ZNONODE || it->rc == ZBADVERSION
                     ? ss_error_set(&ierr, SS_ETAG_MISMATCH, "%s", zerror(it->rc))
                     : map_rc(it->rc, &ierr);
        } else {
            if (it->rc == ZNONODE || it->rc == ZBADVERSION || it->rc == ZNODEEXISTS)
                ic = ss_error_set(&ierr, SS_ETAG_MISMATCH, "%s", zerror(it->rc));
            else
                ic = map_rc(it->rc, &ierr);
            if (ic == SS_OK) {
                r->etag = version_etag(op->cond == SS_COND_ABSENT ? 0 : it->st.version);
                if (!r->etag) ic = ss_error_set(&ierr, SS_NOMEM, "out of memory");
            }
        }
        if (ic != SS_OK) {
            r->code = ic;
            r->error = ss_strdup(ierr.message);
        }
    }
done:
    for (size_t i = 0; a.paths && i < count; i++) free(a.paths[i]);
    free(a.paths);
    free(a.versions);
    free(a.items);
    return code;
}

static ss_code zk_bulk_set(void *self, const ss_op *ops, size_t count, ss_results *out,
                           ss_error *err)
{
    return bulk_write(self, ops, count, out, err);
}

static ss_code zk_bulk_delete(void *self, const ss_op *ops, size_t count, ss_results *out,
                              ss_error *err)
{
    return bulk_write(self, ops, count, out, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Transactions: one zoo_multi                                                                 */
/* ------------------------------------------------------------------------------------------ */

typedef struct tx_arg {
    const ss_op *ops;
    size_t count;
    batch_arg stats; /* one per op (repeated keys read twice; harmless) */
    size_t failed_op;
    bool guard_failed; /* a check we added (not the caller's condition) failed: retry */
} tx_arg;

/* Simulated state of a key while the multi is being built. */
typedef struct key_state {
    bool exists;
    int version;
    bool ttl_marked;
} key_state;

static ss_code do_tx(zk *z, zhandle_t *zh, void *argp, ss_error *err)
{
    tx_arg *t = argp;
    ss_code code = do_batch(z, zh, &t->stats, err);
    if (code != SS_OK) return code;
    size_t n = t->count;
    zoo_op_t *zops = calloc(n * 2, sizeof *zops);
    zoo_op_result_t *res = calloc(n * 2, sizeof *res);
    size_t *owner = calloc(n * 2, sizeof *owner);
    bool *guard = calloc(n * 2, sizeof *guard);
    key_state *ks = calloc(n, sizeof *ks);
    if (!zops || !res || !owner || !guard || !ks) {
        code = ss_error_set(err, SS_NOMEM, "out of memory");
        goto done;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const ss_op *op = &t->ops[i];
        /* The state this key has at this point of the transaction. */
        size_t first = i;
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->stats.paths[j], t->stats.paths[i]) == 0) {
                first = j;
                break;
            }
        key_state *s = &ks[first];
        if (first == i) {
            s->exists = t->stats.items[i].rc == ZOK;
            s->version = t->stats.items[i].st.version;
            s->ttl_marked = s->exists && t->stats.items[i].st.aversion > 0;
        }
        const char *path = t->stats.paths[i];
        int version = 0;
        if (op->cond == SS_COND_MATCH) parse_version(op->etag, &version, NULL);
        if (op->kind == SS_DRV_DELETE) {
            if (op->cond == SS_COND_MATCH || s->exists) {
                owner[m] = i;
                guard[m] = op->cond != SS_COND_MATCH;
                zoo_delete_op_init(&zops[m++], path,
                                   op->cond == SS_COND_MATCH ? version : s->version);
            } else {
                /* Absent: assert it stays absent (create + delete fails if it appeared). */
                owner[m] = i;
                guard[m] = true;
                zoo_create_op_init(&zops[m++], path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                                   NULL, 0);
                owner[m] = i;
                guard[m] = true;
                zoo_delete_op_init(&zops[m++], path, 0);
            }
            s->exists = false;
            continue;
        }
        int expect = op->cond == SS_COND_MATCH ? version : s->version;
        bool is_guard = op->cond == SS_COND_ANY;
        if (op->cond == SS_COND_ABSENT || (!s->exists && op->cond == SS_COND_ANY)) {
            owner[m] = i;
            guard[m] = is_guard;
            zoo_create_op_init(&zops[m++], path, op->value, (int)op->value_len,
                               &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
            *s = (key_state){.exists = true, .version = 0};
        } else if (s->ttl_marked || !s->exists) {
            /* MATCH on a missing key fails at the delete, as it should. */
            owner[m] = i;
            guard[m] = is_guard;
            zoo_delete_op_init(&zops[m++], path, expect);
            owner[m] = i;
            guard[m] = is_guard;
            zoo_create_op_init(&zops[m++], path, op->value, (int)op->value_len,
                               &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
            *s = (key_state){.exists = true, .version = 0};
        } else {
            owner[m] = i;
            guard[m] = is_guard;
            zoo_set_op_init(&zops[m++], path, op->value, (int)op->value_len, expect, NULL);
            *s = (key_state){.exists = true, .version = expect + 1};
        }
    }
    int rc = zoo_multi(zh, (int)m, zops, res);
    if (rc != ZOK) {
        size_t bad = m;
        for (size_t k = 0; k < m && bad == m; k++)
            if (res[k].err != ZOK && res[k].err != ZRUNTIMEINCONSISTENCY) bad = k;
        bool cond_err = rc == ZBADVERSION || rc == ZNONODE || rc == ZNODEEXISTS;
        if (bad < m && cond_err) {
            t->failed_op = owner[bad];
            t->guard_failed = guard[bad];
            code = ss_error_set(err, SS_ETAG_MISMATCH, "%s", zerror(rc));
        } else {
            code = map_rc(rc, err);
        }
    }
done:
    free(zops);
    free(res);
    free(owner);
    free(guard);
    free(ks);
    return code;
}

static ss_code zk_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                           size_t metadata_count, ss_error *err)
{
    zk *z = self;
    if (count == 0) return SS_OK;
    for (size_t i = 0; i < count; i++) {
        ss_code code;
        int v;
        if (ops[i].cond == SS_COND_MATCH && (code = parse_version(ops[i].etag, &v, err)) != SS_OK)
            return ss_error_set_op(err, code, i, &ops[i], "etag %s is not a znode version",
                                   ops[i].etag);
    }
    tx_arg t = {.ops = ops, .count = count};
    ss_code code = batch_init(z, &t.stats, ops, count, false, err);
    for (int attempt = 0; code == SS_OK && attempt < MAX_RETRIES; attempt++) {
        t.guard_failed = false;
        code = run(z, do_tx, &t, err);
        if (code != SS_ETAG_MISMATCH || !t.guard_failed) break;
        /* A concurrent writer changed a key we only read: read again and retry. */
        code = SS_OK;
        if (attempt == MAX_RETRIES - 1)
            code = ss_error_set(err, SS_UNAVAILABLE, "keys kept changing; try again");
    }
    /* The C client cannot put a TTL node into a multi, so keys written with a TTL are turned
     * into TTL nodes right after the multi committed: values and conditions stay atomic, the
     * expiry follows in a second step (docs/stores/zookeeper.md). */
    for (size_t i = 0; code == SS_OK && i < count; i++) {
        if (ops[i].kind != SS_DRV_SET || ops[i].ttl_mode != SS_TTL_SECONDS) continue;
        bool later = false;
        for (size_t j = i + 1; j < count && !later; j++)
            later = strcmp(t.stats.paths[j], t.stats.paths[i]) == 0;
        if (later) continue;
        ss_op o = ops[i];
        o.cond = SS_COND_ANY;
        write_arg a = {.op = &o, .path = t.stats.paths[i]};
        code = run(z, do_set, &a, err);
    }
    if (code == SS_ETAG_MISMATCH)
        code = ss_error_set_op(err, SS_ETAG_MISMATCH, t.failed_op, &ops[t.failed_op], "%s",
                               ops[t.failed_op].cond == SS_COND_ABSENT ? "already exists"
                                                                       : "etag mismatch");
    batch_free(&t.stats);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Open / close / ping                                                                         */
/* ------------------------------------------------------------------------------------------ */

static void zk_close(void *self)
{
    zk *z = self;
    if (z->zh) zookeeper_close(z->zh);
    if (z->lock_ready) pthread_rwlock_destroy(&z->lock);
    free(z->servers);
    free(z->prefix);
    memset(z, 0, sizeof *z);
}

/* Creating (and deleting) a short-lived TTL node tells whether the server allows them. */
static bool probe_ttl(zk *z)
{
    char path[96];
    snprintf(path, sizeof path, "%s/.ss-ttl-probe-%d", z->prefix, (int)(ss_now_unix_ms() % 100000));
    int rc = zoo_create_ttl(z->zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_WITH_TTL,
                            60000, NULL, 0);
    if (rc == ZOK || rc == ZNODEEXISTS) zoo_delete(z->zh, path, -1);
    return rc == ZOK || rc == ZNODEEXISTS;
}

static ss_code zk_open(void *self, ss_ctx *ctx, ss_error *err)
{
    zk *z = self;
    z->ctx = ctx;
    ss_code code;
    int64_t session_ms = 0, maxbuf = 0, maxconn = 0;
    if ((code = ss_prop_duration_ms(ctx, "sessionTimeout", 1000, &session_ms, err)) != SS_OK ||
        (code = ss_prop_int(ctx, "maxBufferSize", 1, INT32_MAX, &maxbuf, err)) != SS_OK ||
        (code = ss_prop_int(ctx, "maxConnBufferSize", 1, INT32_MAX, &maxconn, err)) != SS_OK)
        return code;
    if (session_ms <= 0 || session_ms > INT32_MAX)
        return ss_error_set(err, SS_INVALID, "property sessionTimeout: must be positive");
    z->session_ms = (int)session_ms;
    z->max_buffer = (size_t)maxbuf;
    const char *servers = ss_prop(ctx, "servers");
    if (!servers || !*servers)
        return ss_error_set(err, SS_INVALID, "property servers: no server given");
    const char *prefix = ss_prop(ctx, "keyPrefixPath");
    if (!prefix) prefix = "";
    /* Normalise to "" or "/a/b": a leading slash added, trailing ones dropped. */
    size_t plen = strlen(prefix);
    while (plen > 0 && prefix[plen - 1] == '/') plen--;
    z->servers = strdup(servers);
    z->prefix = malloc(plen + 2);
    if (!z->servers || !z->prefix) {
        zk_close(z);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    size_t n = 0;
    if (plen > 0 && prefix[0] != '/') z->prefix[n++] = '/';
    memcpy(z->prefix + n, prefix, plen);
    z->prefix[n + plen] = '\0';
    z->prefix_len = n + plen;
    if (strstr(z->prefix, "//")) {
        zk_close(z);
        return ss_error_set(err, SS_INVALID, "property keyPrefixPath: empty path segment in %s",
                            prefix);
    }
    if (pthread_rwlock_init(&z->lock, NULL) != 0) {
        zk_close(z);
        return ss_error_set(err, SS_NOMEM, "cannot create a lock");
    }
    z->lock_ready = true;
    if ((code = connect_handle(z, &z->zh, err)) == SS_OK) atomic_store(&z->current, z->zh);
    if (code != SS_OK || (code = ensure_prefix(z, z->zh, err)) != SS_OK) {
        zk_close(z);
        return code;
    }
    z->ttl_supported = probe_ttl(z);
    if (!z->ttl_supported)
        ss_log(ctx, SS_LOG_WARN,
               "server has no TTL nodes (zookeeper.extendedTypesEnabled=false): "
               "this store does not declare TTL; ttlInSeconds requests are refused");
    return SS_OK;
}

/* TTL nodes exist only where the server enables them, and the value limit is a property: both
 * are this instance's features, so the core refuses what this server cannot keep. */
static void zk_features(void *self, ss_features *out)
{
    const zk *z = self;
    if (!z->ttl_supported) out->flags &= ~(unsigned)SS_FEATURE_TTL;
    out->max_value_len = z->max_buffer;
}

static ss_code do_ping(zk *z, zhandle_t *zh, void *arg, ss_error *err)
{
    struct Stat st;
    int rc = zoo_exists(zh, z->prefix_len ? z->prefix : "/", 0, &st);
    return rc == ZNONODE ? ss_error_set(err, SS_BACKEND, "prefix node %s is gone", z->prefix)
                         : map_rc(rc, err);
}

static ss_code zk_ping(void *self, ss_error *err)
{
    return run(self, do_ping, NULL, err);
}

static const ss_property zk_props[] = {
    {"servers", true, false, NULL, "comma-separated host:port list of the ensemble"},
    {"sessionTimeout", false, false, "10s", "session timeout (Go duration, e.g. 5s)"},
    {"maxBufferSize", false, false, "1048576", "largest value in bytes"},
    {"maxConnBufferSize", false, false, "1048576",
     "accepted for Dapr compatibility (the C client sizes its buffers per packet)"},
    {"keyPrefixPath", false, false, "", "parent znode of every key, created when missing"},
};

const ss_driver ss_driver_zookeeper = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "zookeeper",
            .aliases = NULL,
            .version = "v1",
            .summary = "Apache ZooKeeper: one znode per key, ETag = znode version",
            .features = {.flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE |
                                  SS_FEATURE_TRANSACTIONAL | SS_FEATURE_TTL |
                                  SS_FEATURE_BULK_NATIVE},
            .properties = zk_props,
            .property_count = sizeof zk_props / sizeof zk_props[0],
        },
    .instance_size = sizeof(zk),
    .open = zk_open,
    .close = zk_close,
    .ping = zk_ping,
    .get = zk_get,
    .set = zk_set,
    .del = zk_del,
    .bulk_get = zk_bulk_get,
    .bulk_set = zk_bulk_set,
    .bulk_delete = zk_bulk_delete,
    .transact = zk_transact,
    .features = zk_features,
};

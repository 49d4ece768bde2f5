/*
 * hazelcast.c — the `hazelcast` driver: an IMap on a Hazelcast 5.x cluster over the Open Binary
 * Client Protocol 2.x, written by hand (codec.c) because there is no C client to use:
 * Hazelcast's clients are Java, C++, Go, Python, Node.js and C#, Debian packages none of them,
 * and the C++ one would bring Boost and a C++ runtime into a C library. The protocol is plain
 * framed TCP, so sockets, framing and the few Map codecs we need are a small, testable amount
 * of code.
 *
 * Layout (docs/stores/hazelcast.md): the IMap named by `hazelcastMap`; the key is a Hazelcast
 * String of the key's bytes; the value is a byte[] of "SSv1", a 16-byte random version, the
 * expiry (for ttlExpireTime) and the caller's bytes. The version is the ETag (hex). Values without
 * it (a String written by Dapr's hazelcast component, say) are read as their bytes with an ETag
 * hashed from the stored Data.
 *
 * Conditions: Hazelcast compares whole values, so a write with an ETag reads the stored value,
 * checks its version, and then runs Map.ReplaceIfSame (delete: RemoveIfSame) against exactly
 * those bytes: the member applies it only if nobody wrote in between, and since every write
 * carries a fresh random version, "the same bytes" means "the same write". First-write is
 * Map.PutIfAbsent. TTL is the put's ttl; after a ReplaceIfSame (which has none) Map.SetTtl.
 *
 * Routing: every authentication response carries the member list and the partition table
 * (protocol 2.7+), so each new connection refreshes them. A request for a key goes to the
 * partition owner's connection (smart routing); when the owner is unknown or unreachable, any
 * member takes it and forwards it inside the cluster (the unisocket path). Connections are
 * pooled per member; an idle one is retired before the member's client heartbeat timeout
 * (60 s by default), and a heartbeat thread pings every member every 10 s.
 *
 * Failover: a request that failed because a connection broke or a member left is repeated on
 * another member while the timeout allows. A conditional write repeated that way may find its
 * own earlier attempt applied; it recognises it by its version and reports success.
 */
#include <statestore.h>
#include <statestore/driver.h>

#include "codec.h"
#include "support/net.h"
#include "support/periodic.h"
#include "support/pool.h"
#include "support/strbuf.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HZ_MAX_NODES    32
#define HZ_MAX_MESSAGE  (64u << 20)
#define HZ_IDLE_MS      30000 /* below the member's 60 s client heartbeat timeout */
#define HZ_HEARTBEAT_MS 10000
#define HZ_VALUE_MAX    (32u << 20)

typedef struct hz_store hz_store;

/* One cluster member and its connection pool. Never freed before close, so pointers to it
 * stay valid while the member list changes. */
typedef struct hz_node {
    hz_store *s;
    char host[256];
    int port;
    hz_uuid uuid;
    ss_pool *pool;
    _Atomic int64_t down_until; /* monotonic ms: skipped as a target until then */
} hz_node;

typedef struct hz_conn {
    int fd;
    int64_t corr;
    hz_node *node;
} hz_conn;

struct hz_store {
    ss_ctx *ctx;
    char *map;
    char *cluster;
    char *user;
    char *password;
    int64_t timeout_ms;
    bool smart;

    pthread_mutex_t lock; /* guards everything below */
    hz_node *nodes[HZ_MAX_NODES];
    size_t node_count;
    int32_t partition_count;
    int *owner; /* partition -> index in nodes, -1 unknown */
    int32_t partition_version;
    _Atomic unsigned rr;          /* round robin for requests without an owner */
    _Atomic int64_t refreshed_at; /* monotonic ms of the last forced view refresh */
    ss_periodic *heartbeat;
};

/* A received response: the whole message, and an iterator after its initial frame. */
typedef struct hz_reply {
    unsigned char *msg;
    size_t len;
    hz_frame initial;
    hz_iter it;
    bool resent; /* the request went out more than once (an earlier try may have applied) */
} hz_reply;

static void reply_free(hz_reply *r)
{
    free(r->msg);
    r->msg = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Sockets                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static ss_code io_error(ss_error *err, const hz_node *n, const char *what, int e)
{
    if (e == EAGAIN || e == EWOULDBLOCK || e == ETIMEDOUT)
        return ss_error_set(err, SS_TIMEOUT, "%s %s:%d: timed out", what, n->host, n->port);
    if (e == 0)
        return ss_error_set(err, SS_UNAVAILABLE, "%s %s:%d: connection closed by the member", what,
                            n->host, n->port);
    return ss_error_set(err, SS_UNAVAILABLE, "%s %s:%d: %s", what, n->host, n->port, strerror(e));
}

/* Each send or receive gets the whole timeout (as a socket timeout would). */
static ss_code send_all(hz_conn *c, const void *buf, size_t len, ss_error *err)
{
    int e = ss_net_send_all(c->fd, buf, len, ss_monotonic_ms() + c->node->s->timeout_ms);
    return e ? io_error(err, c->node, "send to", e) : SS_OK;
}

static ss_code recv_all(hz_conn *c, void *buf, size_t len, ss_error *err)
{
    int e = ss_net_recv_all(c->fd, buf, len, ss_monotonic_ms() + c->node->s->timeout_ms);
    return e ? io_error(err, c->node, "receive from", e == EPIPE ? 0 : e) : SS_OK;
}

/* Reads one whole message into out (malloc'd). */
static ss_code read_message(hz_conn *c, hz_reply *out, ss_error *err)
{
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        unsigned char hdr[HZ_FRAME_HEADER];
        ss_code code = recv_all(c, hdr, sizeof hdr, err);
        if (code != SS_OK) {
            free(buf);
            return code;
        }
        size_t n = hz_frame_check(hdr, HZ_MAX_MESSAGE - len);
        uint16_t flags = (uint16_t)(hdr[4] | (hdr[5] << 8));
        if (!n || (len == 0 && !(flags & HZ_END_FRAGMENT))) {
            free(buf);
            return ss_error_set(err, SS_BACKEND,
                                !n ? "malformed frame from %s:%d (length %d)"
                                   : "fragmented message from %s:%d (not supported)",
                                c->node->host, c->node->port, (int)hz_get_i32(hdr));
        }
        if (cap < len + n) {
            size_t want = cap ? cap : 256;
            while (want < len + n) want *= 2;
            unsigned char *grown = realloc(buf, want);
            if (!grown) {
                free(buf);
                return ss_error_set(err, SS_NOMEM, "out of memory");
            }
            buf = grown;
            cap = want;
        }
        memcpy(buf + len, hdr, sizeof hdr);
        code = recv_all(c, buf + len + HZ_FRAME_HEADER, n - HZ_FRAME_HEADER, err);
        if (code != SS_OK) {
            free(buf);
            return code;
        }
        len += n;
        if (flags & HZ_IS_FINAL) break;
    }
    out->msg = buf;
    out->len = len;
    return SS_OK;
}

/* Sends a request and reads its response (events and stale responses are skipped). */
static ss_code roundtrip(hz_conn *c, hz_msg *req, hz_reply *rep, ss_error *err)
{
    int64_t corr = ++c->corr;
    hz_msg_set_corr((unsigned char *)req->b.p, corr);
    ss_code code = send_all(c, req->b.p, req->b.len, err);
    if (code != SS_OK) return code;
    for (;;) {
        code = read_message(c, rep, err);
        if (code != SS_OK) return code;
        hz_iter_init(&rep->it, rep->msg, rep->len);
        int32_t type;
        int64_t rcorr;
        if (!hz_next(&rep->it, &rep->initial) || !hz_resp_header(&rep->initial, &type, &rcorr)) {
            reply_free(rep);
            return ss_error_set(err, SS_BACKEND, "malformed response from %s:%d", c->node->host,
                                c->node->port);
        }
        if (rcorr == corr && !(rep->initial.flags & HZ_IS_EVENT)) return SS_OK;
        reply_free(rep);
    }
}

static ss_code connect_to(hz_node *n, int64_t timeout_ms, int *fd_out, ss_error *err)
{
    char port[16];
    snprintf(port, sizeof port, "%d", n->port);
    int gai;
    int fd = ss_net_connect(n->host, port, ss_monotonic_ms() + timeout_ms, &gai);
    if (gai != 0)
        return ss_error_set(err, SS_UNAVAILABLE, "resolve %s: %s", n->host, gai_strerror(gai));
    if (fd < 0) return io_error(err, n, "connect to", -fd);
    *fd_out = fd;
    return SS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Cluster view                                                                                */
/* ------------------------------------------------------------------------------------------ */

static bool uuid_eq(const hz_uuid *a, const hz_uuid *b)
{
    return !a->null && !b->null && a->msb == b->msb && a->lsb == b->lsb;
}

static ss_code node_pool(hz_node *n, ss_error *err);

/* With the lock held: the node for a member (by uuid, else by address), added if new. */
static hz_node *node_for(hz_store *s, const hz_uuid *uuid, const char *host, int port)
{
    for (size_t i = 0; i < s->node_count; i++)
        if (uuid_eq(&s->nodes[i]->uuid, uuid)) return s->nodes[i];
    for (size_t i = 0; i < s->node_count; i++) {
        hz_node *n = s->nodes[i];
        if (n->port == port && strcmp(n->host, host) == 0) {
            n->uuid = *uuid; /* a member restarted at the same address has a new uuid */
            return n;
        }
    }
    if (s->node_count == HZ_MAX_NODES) return NULL;
    hz_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->s = s;
    snprintf(n->host, sizeof n->host, "%s", host);
    n->port = port;
    n->uuid = *uuid;
    if (node_pool(n, NULL) != SS_OK) {
        free(n);
        return NULL;
    }
    s->nodes[s->node_count++] = n;
    return n;
}

/* Takes the member list and partition table of an authentication response when they are
 * newer than ours. */
static void apply_view(hz_store *s, hz_node *from, const hz_auth *a)
{
    pthread_mutex_lock(&s->lock);
    if (from->uuid.null || !uuid_eq(&from->uuid, &a->member)) from->uuid = a->member;
    if (s->partition_count == 0) s->partition_count = a->partition_count;
    if (a->owners && a->partition_count == s->partition_count &&
        a->partition_list_version >= s->partition_version) {
        int *owner = s->owner;
        if (!owner) owner = s->owner = malloc((size_t)s->partition_count * sizeof *owner);
        if (owner) {
            for (size_t i = 0; i < a->member_count; i++)
                node_for(s, &a->members[i].uuid, a->members[i].host, a->members[i].port);
            for (int32_t p = 0; p < s->partition_count; p++) {
                owner[p] = -1;
                for (size_t i = 0; i < s->node_count; i++)
                    if (uuid_eq(&s->nodes[i]->uuid, &a->owners[p])) {
                        owner[p] = (int)i;
                        break;
                    }
            }
            s->partition_version = a->partition_list_version;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void conn_close(void *arg, void *conn)
{
    (void)arg;
    hz_conn *c = conn;
    if (c->fd >= 0) close(c->fd);
    free(c);
}

static ss_code conn_open(void *arg, void **out, ss_error *err)
{
    hz_node *n = arg;
    hz_store *s = n->s;
    hz_conn *c = calloc(1, sizeof *c);
    if (!c) return ss_error_set(err, SS_NOMEM, "out of memory");
    c->node = n;
    c->fd = -1;
    ss_code code = connect_to(n, s->timeout_ms, &c->fd, err);
    if (code == SS_OK) code = send_all(c, "CP2", 3, err);
    hz_msg req;
    hz_reply rep = {0};
    if (code == SS_OK) {
        /* Each connection authenticates as its own client: a member keeps one endpoint per
         * client uuid, and our pool holds several connections to it. */
        char id[37];
        ss_uuid4(id);
        hz_uuid cu = {0, 0, false};
        for (int i = 0, k = 0; id[i] && k < 32; i++) {
            char ch = id[i];
            if (ch == '-') continue;
            uint64_t d = (uint64_t)(ch <= '9' ? ch - '0' : (ch | 32) - 'a' + 10);
            if (k < 16)
                cu.msb = cu.msb << 4 | d;
            else
                cu.lsb = cu.lsb << 4 | d;
            k++;
        }
        char name[64];
        snprintf(name, sizeof name, "statestore-%.8s", id);
        if (!hz_encode_auth(&req, 0, s->cluster, s->user, s->password, &cu, name))
            code = ss_error_set(err, SS_NOMEM, "out of memory");
        else
            code = roundtrip(c, &req, &rep, err);
        hz_msg_free(&req);
    }
    if (code == SS_OK) {
        int32_t type = hz_get_i32(rep.initial.data);
        hz_auth a;
        if (type == HZ_ERROR_RESPONSE) {
            int32_t ec = 0;
            char cls[128], msg[512];
            if (hz_decode_error(&rep.it, &ec, cls, sizeof cls, msg, sizeof msg))
                code = ss_error_set(err, SS_BACKEND, "authentication at %s:%d: %s (%s)", n->host,
                                    n->port, msg, cls);
            else
                code = ss_error_set(err, SS_BACKEND, "authentication at %s:%d failed", n->host,
                                    n->port);
        } else {
            int r = hz_decode_auth(rep.msg, rep.len, &a);
            if (r < 0)
                code = ss_error_set(err, SS_NOMEM, "out of memory");
            else if (r == 0)
                code = ss_error_set(err, SS_BACKEND, "malformed authentication response from %s:%d",
                                    n->host, n->port);
            else if (a.status != 0) {
                static const char *const why[] = {"",
                                                  "credentials failed (cluster name, "
                                                  "username or password)",
                                                  "serialization version mismatch",
                                                  "client not allowed in the cluster"};
                code = ss_error_set(err, a.status == 1 ? SS_INVALID : SS_BACKEND,
                                    "authentication at %s:%d: %s", n->host, n->port,
                                    a.status < 4 ? why[a.status] : "refused");
                hz_auth_free(&a);
            } else {
                apply_view(s, n, &a);
                hz_auth_free(&a);
            }
        }
        reply_free(&rep);
    }
    if (code != SS_OK) {
        conn_close(NULL, c);
        atomic_store(&n->down_until, ss_monotonic_ms() + 1000);
        return code;
    }
    atomic_store(&n->down_until, 0);
    *out = c;
    return SS_OK;
}

/* A connection that failed mid-request is closed: its stream position is unknown. */
static ss_pool_verdict conn_check(void *arg, void *conn)
{
    (void)arg;
    hz_conn *c = conn;
    char b;
    ssize_t r = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return SS_POOL_DEAD;
    return r > 0 ? SS_POOL_DROP : SS_POOL_KEEP;
}

static ss_code conn_exhausted(void *arg, ss_error *err)
{
    hz_node *n = arg;
    return ss_error_set(err, SS_TIMEOUT, "no free connection to %s:%d within the timeout", n->host,
                        n->port);
}

static ss_code node_pool(hz_node *n, ss_error *err)
{
    ss_pool_config cfg = {
        .max_open = 64,
        .max_idle = 8,
        .idle_ms = HZ_IDLE_MS,
        .lifetime_ms = 0,
        .wait_ms = n->s->timeout_ms,
        .arg = n,
        .open = conn_open,
        .close = conn_close,
        .check = conn_check,
        .exhausted = conn_exhausted,
    };
    return ss_pool_create(&cfg, &n->pool, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Requests                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/*
 * After a member failed or answered that the partition moved: a fresh authentication (on a
 * throwaway connection) brings the current member list and partition table. Pooled
 * connections to the remaining members would never bring them. At most twice a second.
 */
static void refresh_view(hz_store *s, hz_node *avoid)
{
    int64_t now = ss_monotonic_ms(), last = atomic_load(&s->refreshed_at);
    if (now - last < 500 || !atomic_compare_exchange_strong(&s->refreshed_at, &last, now)) return;
    pthread_mutex_lock(&s->lock);
    hz_node *list[HZ_MAX_NODES];
    size_t n = s->node_count;
    memcpy(list, s->nodes, n * sizeof *list);
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        if (list[i] == avoid || atomic_load(&list[i]->down_until) > now) continue;
        void *conn = NULL;
        if (conn_open(list[i], &conn, NULL) == SS_OK) {
            conn_close(NULL, conn);
            return;
        }
    }
}

/* The node a request for this partition goes to first, then the others in turn. */
static size_t targets(hz_store *s, int32_t partition, hz_node **out)
{
    pthread_mutex_lock(&s->lock);
    size_t n = 0, count = s->node_count;
    hz_node *first = NULL;
    if (s->smart && partition >= 0 && s->owner && partition < s->partition_count &&
        s->owner[partition] >= 0)
        first = s->nodes[s->owner[partition]];
    if (first) out[n++] = first;
    unsigned start = count ? atomic_fetch_add(&s->rr, 1) % (unsigned)count : 0;
    for (size_t i = 0; i < count; i++) {
        hz_node *x = s->nodes[(start + i) % count];
        if (x != first) out[n++] = x;
    }
    pthread_mutex_unlock(&s->lock);
    /* Members that failed a moment ago go last. */
    int64_t now = ss_monotonic_ms();
    size_t up = 0;
    hz_node *down[HZ_MAX_NODES];
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        if (atomic_load(&out[i]->down_until) > now)
            down[nd++] = out[i];
        else
            out[up++] = out[i];
    }
    memcpy(out + up, down, nd * sizeof *down);
    return n;
}

static ss_code error_reply(hz_reply *rep, int32_t *ec, ss_error *err)
{
    char cls[160], msg[600];
    *ec = 0;
    if (!hz_decode_error(&rep->it, ec, cls, sizeof cls, msg, sizeof msg))
        return ss_error_set(err, SS_BACKEND, "malformed error response");
    ss_code code = SS_BACKEND;
    switch (*ec) {
    case 38: /* OPERATION_TIMEOUT */
    case 54: /* TIMEOUT */
        code = SS_TIMEOUT;
        break;
    case 20: /* HAZELCAST_OVERLOAD */
    case 42: /* SPLIT_BRAIN_PROTECTION */
        code = SS_UNAVAILABLE;
        break;
    case 72: /* OUT_OF_MEMORY_ERROR */
    case 74: /* NATIVE_OUT_OF_MEMORY_ERROR */
        code = SS_BACKEND;
        break;
    default:
        if (hz_error_retryable(*ec)) code = SS_UNAVAILABLE;
    }
    const char *short_cls = strrchr(cls, '.');
    return ss_error_set(err, code, "%s (%s, error code %d)", msg[0] ? msg : "error",
                        short_cls ? short_cls + 1 : cls, (int)*ec);
}

/*
 * Sends a finished request for `partition` and returns its (non-error) response. Repeats it on
 * another member after a broken connection or a retryable member error, while the timeout
 * allows; rep->resent then says an earlier attempt may have been applied.
 */
static ss_code call(hz_store *s, int32_t partition, hz_msg *req, hz_reply *rep, ss_error *err)
{
    memset(rep, 0, sizeof *rep);
    int64_t deadline = ss_monotonic_ms() + s->timeout_ms;
    ss_code code = SS_UNAVAILABLE;
    ss_error_set(err, SS_UNAVAILABLE, "no cluster member known");
    int sent = 0;
    for (int attempt = 0;; attempt++) {
        hz_node *t[HZ_MAX_NODES];
        size_t nt = targets(s, partition, t);
        bool again = false;
        for (size_t i = 0; i < nt && !again; i++) {
            ss_pool_conn *pc = NULL;
            code = ss_pool_acquire(t[i]->pool, &pc, err);
            if (code != SS_OK) {
                if (code == SS_INVALID) return code; /* credentials: no other member helps */
                refresh_view(s, t[i]);
                continue; /* nothing was sent: try the next member */
            }
            hz_conn *c = ss_pool_conn_get(pc);
            code = roundtrip(c, req, rep, err);
            if (code == SS_OK || code == SS_UNAVAILABLE || code == SS_TIMEOUT) sent++;
            if (code == SS_OK && hz_get_i32(rep->initial.data) == HZ_ERROR_RESPONSE) {
                int32_t ec;
                code = error_reply(rep, &ec, err);
                reply_free(rep);
                ss_pool_release(t[i]->pool, pc, SS_OK);
                if (!hz_error_retryable(ec)) return code;
                if (hz_error_not_applied(ec)) sent--;
                refresh_view(s, NULL);
                again = true; /* the cluster view changed: from the top */
                continue;
            }
            if (code == SS_OK) {
                ss_pool_release(t[i]->pool, pc, SS_OK);
                rep->resent = sent > 1;
                return SS_OK;
            }
            ss_pool_release(t[i]->pool, pc, SS_UNAVAILABLE);
            if (code == SS_TIMEOUT || code == SS_NOMEM) return code;
            atomic_store(&t[i]->down_until, ss_monotonic_ms() + 1000);
            refresh_view(s, t[i]);
            again = true;
        }
        if (ss_monotonic_ms() + 100 * (attempt + 1) >= deadline) break;
        struct timespec ts = {0, 100000000L * (attempt < 5 ? attempt + 1 : 5)};
        nanosleep(&ts, NULL);
    }
    rep->resent = sent > 1;
    return code == SS_OK ? SS_UNAVAILABLE : code;
}

/* ------------------------------------------------------------------------------------------ */
/* Requests for one key                                                                        */
/* ------------------------------------------------------------------------------------------ */

typedef struct hz_key {
    ss_buf data; /* the key's serialized Data */
    int32_t partition;
} hz_key;

static ss_code key_make(hz_store *s, const ss_op *op, hz_key *k, ss_error *err)
{
    memset(k, 0, sizeof *k);
    hz_data_encode(&k->data, HZ_TYPE_STRING, op->key, op->key_len);
    if (k->data.oom) {
        free(k->data.p);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&s->lock);
    int32_t count = s->partition_count;
    pthread_mutex_unlock(&s->lock);
    k->partition = hz_partition_of((unsigned char *)k->data.p, k->data.len, count);
    return SS_OK;
}

/* Begins a Map request for key with these fixed-size long parameters (threadId, ttl, ...):
 * the map's name and the key, then the caller adds the rest. False on out of memory. */
static bool begin_key_req(hz_store *s, hz_msg *m, int32_t type, const hz_key *k,
                          const int64_t *fixed, size_t nfixed)
{
    unsigned char *fx = hz_msg_begin(m, type, 0, k->partition, 8 * nfixed);
    if (!fx) return false;
    /* fx is valid only until the next frame is added (the buffer may move). */
    for (size_t i = 0; i < nfixed; i++) hz_put_i64(fx + 8 * i, fixed[i]);
    hz_msg_string(m, s->map);
    hz_msg_frame(m, 0, k->data.p, k->data.len);
    return !m->b.oom;
}

/* threadId: no locks are taken, so 0 for every request. */
static const int64_t no_thread[1] = {0};

static ss_code oom(ss_error *err)
{
    return ss_error_set(err, SS_NOMEM, "out of memory");
}

/* Reads the stored Data of a key (malloc'd copy in *data, NULL when missing). */
static ss_code fetch(hz_store *s, const hz_key *k, unsigned char **data, size_t *len, ss_error *err)
{
    *data = NULL;
    hz_msg m;
    if (!begin_key_req(s, &m, HZ_MAP_GET, k, no_thread, 1) || !hz_msg_finish(&m)) {
        hz_msg_free(&m);
        return oom(err);
    }
    hz_reply rep;
    ss_code code = call(s, k->partition, &m, &rep, err);
    hz_msg_free(&m);
    if (code != SS_OK) return code;
    const unsigned char *v;
    size_t n;
    bool null = true;
    if (!hz_decode_nullable(&rep.it, &v, &n, &null))
        code = ss_error_set(err, SS_BACKEND, "malformed Map.Get response");
    else if (!null) {
        *data = malloc(n ? n : 1);
        if (!*data)
            code = oom(err);
        else {
            memcpy(*data, v, n);
            *len = n;
        }
    }
    reply_free(&rep);
    return code;
}

static ss_code value_from(const unsigned char *data, size_t len, ss_value **out, ss_error *err)
{
    const unsigned char *v;
    size_t n;
    char etag[HZ_ETAG_LEN + 1];
    int64_t expires = 0;
    if (!hz_value_unwrap(data, len, &v, &n, etag, &expires))
        return ss_error_set(
            err, SS_BACKEND, "the stored value is neither a byte[] nor a String (type %d)",
            len >= 8 ? (int)(int32_t)((unsigned)data[4] << 24 | (unsigned)data[5] << 16 |
                                      (unsigned)data[6] << 8 | data[7])
                     : 0);
    *out = ss_value_new(v, n, etag);
    if (!*out) return oom(err);
    if (expires > 0 && ss_value_set_expiry(*out, expires) != SS_OK) {
        ss_value_free(*out);
        *out = NULL;
        return oom(err);
    }
    return SS_OK;
}

static ss_code hz_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    hz_store *s = self;
    *out = NULL;
    hz_key k;
    ss_code code = key_make(s, op, &k, err);
    if (code != SS_OK) return code;
    unsigned char *data = NULL;
    size_t len = 0;
    code = fetch(s, &k, &data, &len, err);
    if (code == SS_OK && data) code = value_from(data, len, out, err);
    free(data);
    free(k.data.p);
    return code;
}

/* Put's ttl argument: ms; 0 = never expires; -1 = the map's configured default. */
static int64_t ttl_ms(const ss_op *op)
{
    if (op->ttl_mode == SS_TTL_SECONDS) return op->ttl_seconds * 1000;
    if (op->ttl_mode == SS_TTL_NONE) return 0;
    return -1;
}

static void random_version(unsigned char v[HZ_VERSION_LEN])
{
    char id[37];
    ss_uuid4(id);
    for (int i = 0, k = 0; id[i] && k < 2 * HZ_VERSION_LEN; i++) {
        char ch = id[i];
        if (ch == '-') continue;
        unsigned d = (unsigned)(ch <= '9' ? ch - '0' : (ch | 32) - 'a' + 10);
        if (k % 2 == 0)
            v[k / 2] = (unsigned char)(d << 4);
        else
            v[k / 2] |= (unsigned char)d;
        k++;
    }
}

static char *etag_of(const unsigned char v[HZ_VERSION_LEN])
{
    static const char hex[] = "0123456789abcdef";
    char *e = malloc(HZ_ETAG_LEN + 1);
    if (!e) return NULL;
    for (int i = 0; i < HZ_VERSION_LEN; i++) {
        e[2 * i] = hex[v[i] >> 4];
        e[2 * i + 1] = hex[v[i] & 15];
    }
    e[HZ_ETAG_LEN] = 0;
    return e;
}

static bool data_has_etag(const unsigned char *data, size_t len, const char *etag)
{
    const unsigned char *v;
    size_t n;
    char cur[HZ_ETAG_LEN + 1];
    int64_t exp;
    return hz_value_unwrap(data, len, &v, &n, cur, &exp) && strcmp(cur, etag) == 0;
}

/* Whether the key now holds the write with this version (an earlier attempt of ours). */
static bool holds_version(hz_store *s, const hz_key *k, const char *etag)
{
    unsigned char *data = NULL;
    size_t len = 0;
    ss_error ignored;
    bool ours =
        fetch(s, k, &data, &len, &ignored) == SS_OK && data && data_has_etag(data, len, etag);
    free(data);
    return ours;
}

static ss_code set_ttl(hz_store *s, const hz_key *k, int64_t ttl, ss_error *err)
{
    hz_msg m;
    if (!begin_key_req(s, &m, HZ_MAP_SET_TTL, k, &ttl, 1) || !hz_msg_finish(&m)) {
        hz_msg_free(&m);
        return oom(err);
    }
    hz_reply rep;
    ss_code code = call(s, k->partition, &m, &rep, err);
    hz_msg_free(&m);
    reply_free(&rep);
    return code;
}

static ss_code mismatch(ss_error *err, const ss_op *op)
{
    return ss_error_set(err, SS_ETAG_MISMATCH,
                        op->cond == SS_COND_ABSENT
                            ? "the key exists (first-write)"
                            : "the key is missing or was written since the ETag was read");
}

/* The stored Data of k (malloc'd in *cur) when its ETag is op->etag, else ETAG_MISMATCH. */
static ss_code fetch_matching(hz_store *s, const hz_key *k, const ss_op *op, unsigned char **cur,
                              size_t *cur_len, ss_error *err)
{
    ss_code code = fetch(s, k, cur, cur_len, err);
    if (code == SS_OK && (!*cur || !data_has_etag(*cur, *cur_len, op->etag)))
        code = mismatch(err, op);
    return code;
}

/* Map.Set or Map.PutIfAbsent (same parameters: name, key, value, threadId, ttl). */
static ss_code put_value(hz_store *s, hz_msg *m, int32_t type, const hz_key *k, int64_t ttl,
                         const ss_buf *val, hz_reply *rep, ss_error *err)
{
    int64_t fixed[2] = {0, ttl}; /* threadId, ttl */
    bool ok = begin_key_req(s, m, type, k, fixed, 2);
    if (ok) hz_msg_frame(m, 0, val->p, val->len);
    if (!ok || !hz_msg_finish(m)) return oom(err);
    return call(s, k->partition, m, rep, err);
}

/* A conditional write's ETag must be one of ours; then the key's Data and partition. */
static ss_code write_key(hz_store *s, const ss_op *op, hz_key *k, ss_error *err)
{
    if (op->cond == SS_COND_MATCH && !hz_etag_valid(op->etag))
        return ss_error_set(err, SS_ETAG_INVALID, "not an ETag of this store: \"%s\"", op->etag);
    return key_make(s, op, k, err);
}

static ss_code hz_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    hz_store *s = self;
    hz_key k;
    ss_code code = write_key(s, op, &k, err);
    if (code != SS_OK) return code;
    unsigned char ver[HZ_VERSION_LEN];
    random_version(ver);
    char *etag = etag_of(ver);
    ss_buf val = {0};
    int64_t ttl = ttl_ms(op);
    hz_value_wrap(&val, ver, ttl > 0 ? ss_now_unix_ms() + ttl : 0, op->value, op->value_len);
    unsigned char *cur = NULL;
    size_t cur_len = 0;
    hz_msg m = {0};
    hz_reply rep = {0};
    if (!etag || val.oom) {
        code = oom(err);
        goto done;
    }
    if (op->cond == SS_COND_MATCH) {
        code = fetch_matching(s, &k, op, &cur, &cur_len, err);
        if (code != SS_OK) goto done;
        bool ok = begin_key_req(s, &m, HZ_MAP_REPLACE_IF_SAME, &k, no_thread, 1);
        if (ok) {
            hz_msg_frame(&m, 0, cur, cur_len);
            hz_msg_frame(&m, 0, val.p, val.len);
        }
        if (!ok || !hz_msg_finish(&m)) {
            code = oom(err);
            goto done;
        }
        code = call(s, k.partition, &m, &rep, err);
        if (code != SS_OK) goto done;
        if (rep.initial.len < HZ_RESP_HEADER + 1) {
            code = ss_error_set(err, SS_BACKEND, "malformed Map.ReplaceIfSame response");
            goto done;
        }
        bool replaced = rep.initial.data[HZ_RESP_HEADER] != 0;
        if (!replaced && !(rep.resent && holds_version(s, &k, etag))) {
            code = mismatch(err, op);
            goto done;
        }
        /* ReplaceIfSame has no TTL: set it as a put would have. */
        code = set_ttl(s, &k, ttl, err);
        if (code != SS_OK && err) {
            char cause[sizeof err->message];
            memcpy(cause, err->message, sizeof cause);
            ss_error_set(err, code, "the value was written, but setting its TTL failed: %.900s",
                         cause);
        }
    } else if (op->cond == SS_COND_ABSENT) {
        code = put_value(s, &m, HZ_MAP_PUT_IF_ABSENT, &k, ttl, &val, &rep, err);
        if (code != SS_OK) goto done;
        const unsigned char *prev;
        size_t plen;
        bool null;
        if (!hz_decode_nullable(&rep.it, &prev, &plen, &null)) {
            code = ss_error_set(err, SS_BACKEND, "malformed Map.PutIfAbsent response");
            goto done;
        }
        if (!null) {
            /* A repeated request finds its own first attempt. */
            if (!(rep.resent && data_has_etag(prev, plen, etag))) code = mismatch(err, op);
        }
    } else {
        /* Map.Set: like Put, but the member does not send the old value back. */
        code = put_value(s, &m, HZ_MAP_SET, &k, ttl, &val, &rep, err);
    }
done:
    if (code == SS_OK) {
        *etag_out = ss_strdup(etag);
    }
    reply_free(&rep);
    hz_msg_free(&m);
    free(cur);
    free(val.p);
    free(etag);
    free(k.data.p);
    return code;
}

static ss_code hz_del(void *self, const ss_op *op, ss_error *err)
{
    hz_store *s = self;
    hz_key k;
    ss_code code = write_key(s, op, &k, err);
    if (code != SS_OK) return code;
    unsigned char *cur = NULL;
    size_t cur_len = 0;
    hz_msg m = {0};
    hz_reply rep = {0};
    bool ok;
    if (op->cond == SS_COND_MATCH) {
        code = fetch_matching(s, &k, op, &cur, &cur_len, err);
        if (code != SS_OK) goto done;
        ok = begin_key_req(s, &m, HZ_MAP_REMOVE_IF_SAME, &k, no_thread, 1);
        if (ok) hz_msg_frame(&m, 0, cur, cur_len);
    } else {
        ok = begin_key_req(s, &m, HZ_MAP_DELETE, &k, no_thread, 1);
    }
    if (!ok || !hz_msg_finish(&m)) {
        code = oom(err);
        goto done;
    }
    code = call(s, k.partition, &m, &rep, err);
    if (code != SS_OK || op->cond != SS_COND_MATCH) goto done;
    if (rep.initial.len < HZ_RESP_HEADER + 1) {
        code = ss_error_set(err, SS_BACKEND, "malformed Map.RemoveIfSame response");
        goto done;
    }
    if (!rep.initial.data[HZ_RESP_HEADER]) {
        /* Repeated after a broken connection: gone now means our first attempt removed it. */
        unsigned char *again = NULL;
        size_t alen = 0;
        ss_error ignored;
        bool gone = rep.resent && fetch(s, &k, &again, &alen, &ignored) == SS_OK && !again;
        free(again);
        if (!gone) code = mismatch(err, op);
    }
done:
    reply_free(&rep);
    hz_msg_free(&m);
    free(cur);
    free(k.data.p);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Bulk get                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct bulk_ctx {
    const ss_op *ops;
    hz_key *keys;
    size_t *idx; /* the ops of this partition */
    size_t n;
    ss_results *out;
} bulk_ctx;

static void bulk_entry(void *arg, const hz_entry *e)
{
    bulk_ctx *b = arg;
    for (size_t j = 0; j < b->n; j++) {
        size_t i = b->idx[j];
        ss_item_result *it = &b->out->items[i];
        const hz_key *k = &b->keys[i];
        if (it->value || it->code != SS_OK || k->data.len != e->key_len ||
            memcmp(k->data.p, e->key, e->key_len) != 0)
            continue;
        ss_error ie;
        ie.message[0] = 0;
        ss_code r = value_from(e->value, e->value_len, &it->value, &ie);
        if (r != SS_OK) {
            it->code = r;
            it->error = ss_strdup(ie.message);
        }
    }
}

typedef struct sort_item {
    size_t index;
    int32_t partition;
} sort_item;

static int sort_cmp(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    if (x->partition != y->partition) return x->partition < y->partition ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* One Map.GetAll: the keys of one partition (a member answers GetAll for one partition). */
typedef struct bulk_group {
    hz_msg m;
    int32_t partition;
    size_t *idx; /* indexes into ops of its keys */
    size_t n;
    hz_node *target;
    hz_reply rep;
    bool answered;
} bulk_group;

#define PIPELINE 64 /* GetAlls in flight on one connection */

/*
 * Sends up to PIPELINE groups bound for one member on one connection, then reads their
 * responses in whatever order they come. Groups left unanswered (an error response, a broken
 * connection) are retried one by one through call(), which knows how to fail over.
 */
static void pipeline(hz_node *node, bulk_group **g, size_t n)
{
    ss_pool_conn *pc = NULL;
    ss_error ignored;
    if (ss_pool_acquire(node->pool, &pc, &ignored) != SS_OK) return;
    hz_conn *c = ss_pool_conn_get(pc);
    int64_t first = c->corr + 1;
    ss_code code = SS_OK;
    for (size_t i = 0; i < n && code == SS_OK; i++) {
        hz_msg_set_corr((unsigned char *)g[i]->m.b.p, ++c->corr);
        code = send_all(c, g[i]->m.b.p, g[i]->m.b.len, &ignored);
    }
    for (size_t left = n; code == SS_OK && left > 0;) {
        hz_reply rep = {0};
        code = read_message(c, &rep, &ignored);
        if (code != SS_OK) break;
        hz_iter_init(&rep.it, rep.msg, rep.len);
        int32_t type;
        int64_t corr;
        if (!hz_next(&rep.it, &rep.initial) || !hz_resp_header(&rep.initial, &type, &corr)) {
            reply_free(&rep);
            code = SS_BACKEND;
            break;
        }
        int64_t k = corr - first;
        if ((rep.initial.flags & HZ_IS_EVENT) || k < 0 || k >= (int64_t)n || g[k]->answered) {
            reply_free(&rep);
            continue;
        }
        left--;
        if (type == HZ_ERROR_RESPONSE) {
            reply_free(&rep); /* call() repeats it and reports the error properly */
            continue;
        }
        g[k]->rep = rep;
        g[k]->answered = true;
    }
    ss_pool_release(node->pool, pc, code == SS_OK ? SS_OK : SS_UNAVAILABLE);
}

static ss_code hz_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                           ss_error *err)
{
    hz_store *s = self;
    hz_key *keys = calloc(count, sizeof *keys);
    sort_item *order = malloc(count * sizeof *order);
    size_t *idx = malloc(count * sizeof *idx);
    bulk_group *groups = calloc(count, sizeof *groups);
    bulk_group **batch = malloc(PIPELINE * sizeof *batch);
    ss_code code = SS_OK;
    size_t made = 0, ng = 0;
    if (!keys || !order || !idx || !groups || !batch) {
        code = oom(err);
        goto done;
    }
    for (; made < count; made++) {
        code = key_make(s, &ops[made], &keys[made], err);
        if (code != SS_OK) goto done;
        order[made].index = made;
        order[made].partition = keys[made].partition;
    }
    qsort(order, count, sizeof *order, sort_cmp);
    for (size_t i = 0; i < count; i++) idx[i] = order[i].index;
    for (size_t i = 0; i < count;) {
        size_t j = i;
        while (j < count && order[j].partition == order[i].partition) j++;
        bulk_group *g = &groups[ng++];
        g->partition = order[i].partition;
        g->idx = idx + i;
        g->n = j - i;
        hz_node *t[HZ_MAX_NODES];
        size_t nt = targets(s, g->partition, t);
        g->target = nt ? t[0] : NULL;
        unsigned char *fx = hz_msg_begin(&g->m, HZ_MAP_GET_ALL, 0, g->partition, 0);
        if (fx) {
            hz_msg_string(&g->m, s->map);
            hz_msg_frame(&g->m, HZ_BEGIN_DATA, NULL, 0);
            for (size_t q = 0; q < g->n; q++)
                hz_msg_frame(&g->m, 0, keys[g->idx[q]].data.p, keys[g->idx[q]].data.len);
            hz_msg_frame(&g->m, HZ_END_DATA, NULL, 0);
        }
        if (!fx || !hz_msg_finish(&g->m)) {
            code = oom(err);
            goto done;
        }
        i = j;
    }
    /* Every member's groups in flight together; a single group needs no pipeline. */
    for (size_t i = 0; i < ng && ng > 1; i++) {
        if (groups[i].answered || !groups[i].target || groups[i].n == 0) continue;
        size_t nb = 0;
        for (size_t j = i; j < ng && nb < PIPELINE; j++)
            if (!groups[j].answered && groups[j].target == groups[i].target && groups[j].n)
                batch[nb++] = &groups[j];
        hz_node *node = groups[i].target;
        for (size_t q = 0; q < nb; q++) batch[q]->target = NULL; /* claimed */
        pipeline(node, batch, nb);
    }
    for (size_t i = 0; i < ng; i++) {
        bulk_group *g = &groups[i];
        ss_error ce;
        ce.message[0] = 0;
        ss_code r = SS_OK;
        if (!g->answered) r = call(s, g->partition, &g->m, &g->rep, &ce);
        if (r == SS_OK) {
            bulk_ctx b = {ops, keys, g->idx, g->n, out};
            if (!hz_decode_entries(&g->rep.it, bulk_entry, &b))
                r = ss_error_set(&ce, SS_BACKEND, "malformed Map.GetAll response");
        }
        if (r != SS_OK)
            for (size_t q = 0; q < g->n; q++) {
                ss_item_result *it = &out->items[g->idx[q]];
                if (it->value || it->code != SS_OK) continue;
                it->code = r;
                it->error = ss_strdup(ce.message);
            }
    }
done:
    if (groups)
        for (size_t i = 0; i < ng; i++) {
            hz_msg_free(&groups[i].m);
            reply_free(&groups[i].rep);
        }
    if (keys)
        for (size_t i = 0; i < made; i++) free(keys[i].data.p);
    free(keys);
    free(order);
    free(idx);
    free(groups);
    free(batch);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Open / close / ping                                                                         */
/* ------------------------------------------------------------------------------------------ */

static void hz_close(void *self)
{
    hz_store *s = self;
    ss_periodic_stop(s->heartbeat); /* first: it uses the pools */
    s->heartbeat = NULL;
    for (size_t i = 0; i < s->node_count; i++) {
        ss_pool_destroy(s->nodes[i]->pool);
        free(s->nodes[i]);
    }
    s->node_count = 0;
    free(s->owner);
    free(s->map);
    free(s->cluster);
    free(s->user);
    free(s->password);
    pthread_mutex_destroy(&s->lock);
}

static ss_code add_server(hz_store *s, const char *spec, size_t len, ss_error *err)
{
    char buf[300];
    if (len == 0 || len >= sizeof buf)
        return ss_error_set(err, SS_INVALID, "property hazelcastServers: bad entry \"%.*s\"",
                            (int)(len < 200 ? len : 200), spec);
    memcpy(buf, spec, len);
    buf[len] = 0;
    int port = 5701;
    char *host = buf;
    char *colon = strrchr(buf, ':');
    if (buf[0] == '[') { /* [v6]:port */
        char *end = strchr(buf, ']');
        if (!end)
            return ss_error_set(err, SS_INVALID, "property hazelcastServers: bad \"%s\"", buf);
        *end = 0;
        host = buf + 1;
        colon = end[1] == ':' ? end + 1 : NULL;
    } else if (colon && strchr(buf, ':') != colon)
        colon = NULL; /* a bare IPv6 address */
    if (colon) {
        char *e;
        long p = strtol(colon + 1, &e, 10);
        if (*e || p <= 0 || p > 65535)
            return ss_error_set(err, SS_INVALID, "property hazelcastServers: bad port in \"%s\"",
                                spec[0] ? buf : "");
        port = (int)p;
        *colon = 0;
    }
    if (s->node_count == HZ_MAX_NODES)
        return ss_error_set(err, SS_INVALID, "property hazelcastServers: more than %d members",
                            HZ_MAX_NODES);
    hz_node *n = calloc(1, sizeof *n);
    if (!n) return oom(err);
    n->s = s;
    snprintf(n->host, sizeof n->host, "%.255s", host);
    n->port = port;
    n->uuid.null = true;
    ss_code code = node_pool(n, err);
    if (code != SS_OK) {
        free(n);
        return code;
    }
    s->nodes[s->node_count++] = n;
    return SS_OK;
}

static ss_code ping_node(hz_node *n, ss_error *err)
{
    ss_pool_conn *pc = NULL;
    ss_code code = ss_pool_acquire(n->pool, &pc, err);
    if (code != SS_OK) return code;
    hz_msg m;
    hz_reply rep = {0};
    if (!hz_msg_begin(&m, HZ_CLIENT_PING, 0, -1, 0) || !hz_msg_finish(&m))
        code = oom(err);
    else
        code = roundtrip(ss_pool_conn_get(pc), &m, &rep, err);
    hz_msg_free(&m);
    reply_free(&rep);
    if (ss_pool_release(n->pool, pc, code)) return ping_node(n, err);
    return code;
}

/* Healthy when at least one member answers Client.Ping: the cluster serves every partition
 * from its remaining members. */
static ss_code hz_ping(void *self, ss_error *err)
{
    hz_store *s = self;
    hz_node *t[HZ_MAX_NODES];
    size_t nt = targets(s, -1, t);
    ss_code code = ss_error_set(err, SS_UNAVAILABLE, "no cluster member known");
    for (size_t i = 0; i < nt; i++) {
        code = ping_node(t[i], err);
        if (code == SS_OK) return SS_OK;
    }
    return code;
}

/* Every HZ_HEARTBEAT_MS: Client.Ping to each member, so a member that died or left is known
 * (and the view refreshed) before a request finds out, and one connection per member stays
 * fresh. */
static void heartbeat(void *arg)
{
    hz_store *s = arg;
    hz_node *t[HZ_MAX_NODES];
    size_t nt = targets(s, -1, t);
    for (size_t i = 0; i < nt; i++)
        if (ping_node(t[i], NULL) != SS_OK) {
            atomic_store(&t[i]->down_until, ss_monotonic_ms() + 1000);
            refresh_view(s, t[i]);
        }
}

static char *dup_prop(hz_store *s, const char *name)
{
    const char *v = ss_prop(s->ctx, name);
    return v && *v ? ss_strdup(v) : NULL;
}

static ss_code hz_open(void *self, ss_ctx *ctx, ss_error *err)
{
    hz_store *s = self;
    s->ctx = ctx;
    pthread_mutex_init(&s->lock, NULL);
    s->timeout_ms = 5000;
    s->smart = true;
    s->partition_version = -1;
    const char *servers = ss_prop(ctx, "hazelcastServers");
    const char *map = ss_prop(ctx, "hazelcastMap");
    ss_code code = SS_OK;
    if (!servers || !*servers)
        code = ss_error_set(err, SS_INVALID, "property hazelcastServers is required");
    else if (!map || !*map)
        code = ss_error_set(err, SS_INVALID, "property hazelcastMap is required");
    if (code == SS_OK) code = ss_prop_duration_ms(ctx, "timeout", 1, &s->timeout_ms, err);
    if (code == SS_OK) code = ss_prop_bool(ctx, "smartRouting", &s->smart, err);
    if (code == SS_OK && s->timeout_ms <= 0)
        code = ss_error_set(err, SS_INVALID, "property timeout must be positive");
    if (code == SS_OK) {
        s->map = ss_strdup(map);
        s->cluster = dup_prop(s, "clusterName");
        s->user = dup_prop(s, "username");
        s->password = dup_prop(s, "password");
        if (!s->map || !s->cluster) code = oom(err);
    }
    for (const char *p = servers; code == SS_OK && p && *p;) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m && p[m - 1] == ' ') m--;
        code = add_server(s, p, m, err);
        p += n;
    }
    if (code == SS_OK && s->node_count == 0)
        code = ss_error_set(err, SS_INVALID, "property hazelcastServers names no member");
    if (code == SS_OK) {
        /* Like Dapr's component, opening connects: one configured member must answer. */
        code = hz_ping(s, err);
    }
    if (code == SS_OK) {
        s->heartbeat = ss_periodic_start(HZ_HEARTBEAT_MS, heartbeat, s);
        if (!s->heartbeat) code = ss_error_set(err, SS_NOMEM, "cannot start the heartbeat thread");
    }
    if (code != SS_OK) hz_close(s);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Declaration                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static const ss_property hz_props[] = {
    {"hazelcastServers", true, false, NULL,
     "comma-separated member addresses host[:port] (port 5701 when omitted)"},
    {"hazelcastMap", true, false, NULL, "name of the IMap holding the state"},
    {"clusterName", false, false, "dev", "cluster name the members are configured with"},
    {"username", false, false, NULL, "user name, when the cluster requires credentials"},
    {"password", false, true, NULL, "password, when the cluster requires credentials"},
    {"timeout", false, false, "5s",
     "deadline of one call, retries on another member included: ms or a duration"},
    {"smartRouting", false, false, "true",
     "send each key's requests to its partition owner (false: any member forwards them)"},
};

const ss_driver ss_driver_hazelcast = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "hazelcast",
            .aliases = NULL,
            .version = "1",
            .summary = "Hazelcast IMap over the client protocol 2.x: ETags, first-write, TTL, "
                       "GetAll",
            .features =
                {
                    .flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE | SS_FEATURE_TTL |
                             SS_FEATURE_BULK_NATIVE,
                    .max_tx_ops = 0,
                    .max_key_len = 0,
                    .max_value_len = HZ_VALUE_MAX,
                },
            .properties = hz_props,
            .property_count = sizeof hz_props / sizeof hz_props[0],
        },
    .instance_size = sizeof(hz_store),
    .open = hz_open,
    .close = hz_close,
    .ping = hz_ping,
    .get = hz_get,
    .set = hz_set,
    .del = hz_del,
    .bulk_get = hz_bulk_get,
    .bulk_set = NULL,
    .bulk_delete = NULL,
    .transact = NULL,
};

/*
 * couchbase.c — the `couchbase` driver: Couchbase Server's KV service over the memcached binary
 * protocol with Couchbase's extensions, written here (no Couchbase C client is packaged in
 * Debian; frames and config parsing in proto.c / config.c).
 *
 * Dapr's state.couchbase layout: the document id is the key, the document body the value's bytes
 * (JSON common flags 0x02000000 when the value is JSON, binary 0x03000000 otherwise), the CAS the
 * ETag (decimal).
 *
 *   - bootstrap: couchbaseURL http(s)://host:port reads the bucket config over REST
 *     (/pools/default/buckets/<bucket>); couchbase://host[:port] connects to the KV port
 *     (default 11210) and asks GET_CLUSTER_CONFIG, falling back to REST on port 8091.
 *   - each connection: HELLO (TCP nodelay, XERROR, SELECT_BUCKET), SASL when a username is set
 *     (SCRAM-SHA512/256/1, the strongest the server lists, else PLAIN), SELECT_BUCKET.
 *   - routing: vBucket = CRC32(key) >> 16 & 0x7fff mod the map size; the active copy's node.
 *     NOT_MY_VBUCKET carries a newer config (or the driver fetches one): the op is resent.
 *   - set: SET (unconditional), SET with CAS (ETag), ADD (first-write); the reply's CAS is the new
 *     ETag. Delete: DELETE with the CAS. TTL: the expiry field.
 *   - bulk get: the GETs of each node written back to back, then the replies read (pipelined).
 *   - durability: numReplicasDurableReplication / numReplicasDurablePersistence are checked
 *     after each write with OBSERVE on the active and replica nodes until enough copies hold the
 *     new CAS (in memory / on disk), within the operation timeout.
 *   - no transactions (Couchbase's KV protocol has no multi-key atomic write).
 */
#include "couchbase_internal.h"

#include <statestore.h>
#include <statestore/driver.h>

#include "support/base64.h"
#include "support/cas.h"
#include "support/http.h"
#include "support/net.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CONNS_PER_NODE 4
#define MAX_NODES      64
#define MAX_REROUTES   5
#define THIRTY_DAYS    (60 * 60 * 24 * 30)
#define FLAGS_JSON     0x02000000u
#define FLAGS_BINARY   0x03000000u

typedef struct cb_conn {
    pthread_mutex_t mu;
    int fd; /* -1 = not connected */
} cb_conn;

typedef struct cb_node {
    char host[256];
    int port;
    int64_t timeout_ms; /* of each send and each receive */
    atomic_uint next;
    cb_conn conns[CONNS_PER_NODE];
} cb_node;

/* A config with its nodes resolved. Replaced ones are kept until close (configs change rarely
 * and readers hold no reference count). */
typedef struct cb_topo {
    cb_config *cfg;
    cb_node **nodes; /* per config server index */
    struct cb_topo *older;
} cb_topo;

typedef struct cb_store {
    ss_ctx *ctx;
    char *user;
    char *pass;
    char *bucket;
    char *rest_base; /* http(s)://host:port, for config fetches */
    char *boot_host;
    int boot_kv_port;
    int64_t timeout_ms;
    int64_t repl;
    int64_t persist;
    ss_http *http;
    pthread_mutex_t mu; /* nodes[] growth and topo swaps */
    cb_node *nodes[MAX_NODES];
    size_t nnodes;
    _Atomic(cb_topo *) topo;
} cb_store;

/* ------------------------------------------------------------------------------------------ */
/* Sockets                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* e: an errno value from src/support/net.h (EPIPE: the node closed the connection). */
static ss_code io_error(ss_error *err, const char *what, const cb_node *n, int e)
{
    bool to = e == EAGAIN || e == EWOULDBLOCK || e == ETIMEDOUT;
    return ss_error_set(err, to ? SS_TIMEOUT : SS_UNAVAILABLE, "%s %s:%d: %s", what, n->host,
                        n->port,
                        to                ? "timed out"
                        : e && e != EPIPE ? strerror(e)
                                          : "connection closed");
}

static int recv_all(int fd, const cb_node *n, uint8_t *p, size_t len)
{
    return ss_net_recv_all(fd, p, len, ss_monotonic_ms() + n->timeout_ms);
}

static int send_all(int fd, const cb_node *n, const uint8_t *p, size_t len)
{
    return ss_net_send_all(fd, p, len, ss_monotonic_ms() + n->timeout_ms);
}

/* Reads one response: header into h, body (malloc'd, may be NULL when empty) into *body. */
static ss_code read_response(int fd, const cb_node *n, cb_hdr *h, uint8_t **body, ss_error *err)
{
    uint8_t hdr[CB_HDR_LEN];
    *body = NULL;
    int e = recv_all(fd, n, hdr, sizeof hdr);
    if (e) return io_error(err, "read from", n, e);
    const char *why = NULL;
    if (!cb_decode_response_header(hdr, h, &why))
        return ss_error_set(err, SS_BACKEND, "%s:%d: %s", n->host, n->port, why);
    if (h->bodylen) {
        *body = malloc(h->bodylen);
        if (!*body) return ss_error_set(err, SS_NOMEM, "out of memory");
        if ((e = recv_all(fd, n, *body, h->bodylen)) != 0) {
            free(*body);
            *body = NULL;
            return io_error(err, "read from", n, e);
        }
    }
    return SS_OK;
}

/* One request and its response on a connected socket. */
static ss_code roundtrip(int fd, const cb_node *n, const uint8_t *req, size_t len, cb_hdr *h,
                         uint8_t **body, ss_error *err)
{
    int e = send_all(fd, n, req, len);
    if (e) return io_error(err, "write to", n, e);
    return read_response(fd, n, h, body, err);
}

static ss_code simple_call(int fd, const cb_node *n, uint8_t op, const void *key, size_t keylen,
                           const void *val, size_t vallen, cb_hdr *h, uint8_t **body, ss_error *err)
{
    size_t sz = cb_request_size(0, keylen, vallen);
    uint8_t *req = malloc(sz);
    if (!req) return ss_error_set(err, SS_NOMEM, "out of memory");
    cb_encode_request(req, op, 0, 0, 0, NULL, 0, key, keylen, val, vallen);
    ss_code code = roundtrip(fd, n, req, sz, h, body, err);
    free(req);
    return code;
}

/* The server's error text: XERROR replies carry JSON {"error": {"context": ...}}, old servers
 * a plain string; either is quoted as it came (at most 200 bytes). */
static ss_code status_error(ss_error *err, ss_code code, const char *what, const cb_hdr *h,
                            const uint8_t *body)
{
    size_t vl = body ? cb_value_len(h) : 0;
    if (vl > 200) vl = 200;
    if (vl)
        return ss_error_set(err, code, "%s: status 0x%02x: %.*s", what, h->status, (int)vl,
                            (const char *)body + cb_value_off(h));
    return ss_error_set(err, code, "%s: status 0x%02x", what, h->status);
}

static ss_code sasl_plain(cb_store *s, int fd, const cb_node *n, ss_error *err)
{
    cb_hdr h;
    uint8_t *body = NULL;
    size_t ul = strlen(s->user), pl = strlen(s->pass);
    char *auth = malloc(ul + pl + 2);
    if (!auth) return ss_error_set(err, SS_NOMEM, "out of memory");
    auth[0] = 0;
    memcpy(auth + 1, s->user, ul);
    auth[1 + ul] = 0;
    if (pl) memcpy(auth + 2 + ul, s->pass, pl);
    ss_code code =
        simple_call(fd, n, CB_OP_SASL_AUTH, "PLAIN", 5, auth, ul + pl + 2, &h, &body, err);
    OPENSSL_cleanse(auth, ul + pl + 2);
    free(auth);
    if (code == SS_OK && h.status != CB_ST_SUCCESS)
        code = status_error(err, h.status == CB_ST_AUTH_ERROR ? SS_BACKEND : SS_UNAVAILABLE,
                            "authentication (SASL PLAIN) failed", &h, body);
    free(body);
    return code;
}

/* SCRAM-SHA512/256/1, the strongest the server lists: client-first (SASL_AUTH), server-first
 * (AUTH_CONTINUE), client-final (SASL_STEP), and the server's signature checked. */
static ss_code sasl_scram(cb_store *s, int fd, const cb_node *n, const char *mech, ss_error *err)
{
    unsigned char rnd[18];
    char cnonce[40];
    if (RAND_bytes(rnd, sizeof rnd) != 1) return ss_error_set(err, SS_BACKEND, "no random bytes");
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(cnonce + 2 * i, 3, "%02x", rnd[i]);
    cb_scram sc;
    char *first = cb_scram_client_first(&sc, mech, s->user, cnonce);
    if (!first) return ss_error_set(err, SS_NOMEM, "out of memory");
    cb_hdr h;
    uint8_t *body = NULL;
    ss_code code = simple_call(fd, n, CB_OP_SASL_AUTH, mech, strlen(mech), first, strlen(first), &h,
                               &body, err);
    free(first);
    char *final = NULL;
    if (code == SS_OK && h.status != CB_ST_AUTH_CONTINUE)
        code = status_error(err, h.status == CB_ST_AUTH_ERROR ? SS_BACKEND : SS_UNAVAILABLE,
                            "authentication failed", &h, body);
    if (code == SS_OK) {
        const char *why = NULL;
        final = cb_scram_client_final(&sc, s->pass, (const char *)body + cb_value_off(&h),
                                      cb_value_len(&h), &why);
        if (!final) code = ss_error_set(err, SS_BACKEND, "%s: %s", mech, why);
    }
    free(body);
    body = NULL;
    if (code == SS_OK)
        code = simple_call(fd, n, CB_OP_SASL_STEP, mech, strlen(mech), final, strlen(final), &h,
                           &body, err);
    if (final) OPENSSL_cleanse(final, strlen(final));
    free(final);
    if (code == SS_OK && h.status != CB_ST_SUCCESS)
        code = status_error(err, h.status == CB_ST_AUTH_ERROR ? SS_BACKEND : SS_UNAVAILABLE,
                            "authentication failed", &h, body);
    if (code == SS_OK &&
        !cb_scram_verify(&sc, (const char *)body + cb_value_off(&h), cb_value_len(&h)))
        code = ss_error_set(err, SS_BACKEND,
                            "%s: the server's signature does not match (it said %.*s)", mech,
                            (int)cb_value_len(&h), (const char *)body + cb_value_off(&h));
    free(body);
    cb_scram_clear(&sc);
    return code;
}

/* SASL: SCRAM when the server lists it, else PLAIN. */
static ss_code authenticate(cb_store *s, int fd, const cb_node *n, ss_error *err)
{
    cb_hdr h;
    uint8_t *body = NULL;
    ss_code code = simple_call(fd, n, CB_OP_SASL_LIST, NULL, 0, NULL, 0, &h, &body, err);
    if (code != SS_OK) return code;
    const char *mech = NULL;
    if (h.status == CB_ST_SUCCESS && body)
        mech = cb_scram_pick((const char *)body + cb_value_off(&h), cb_value_len(&h));
    free(body);
    return mech ? sasl_scram(s, fd, n, mech, err) : sasl_plain(s, fd, n, err);
}

/* HELLO, SASL, SELECT_BUCKET on a fresh connection. */
static ss_code handshake(cb_store *s, int fd, const cb_node *n, ss_error *err)
{
    cb_hdr h;
    uint8_t *body = NULL;
    static const uint8_t features[] = {0x00, 0x03, 0x00, 0x07, 0x00, 0x08};
    ss_code code = simple_call(fd, n, CB_OP_HELLO, "statestore", 10, features, sizeof features, &h,
                               &body, err);
    free(body);
    if (code != SS_OK) return code;
    if (s->user && *s->user) {
        code = authenticate(s, fd, n, err);
        if (code != SS_OK) return code;
    }
    code = simple_call(fd, n, CB_OP_SELECT_BUCKET, s->bucket, strlen(s->bucket), NULL, 0, &h, &body,
                       err);
    /* Servers before 5.0 (and the mock) have no SELECT_BUCKET: the SASL user is the bucket. */
    if (code == SS_OK && h.status != CB_ST_SUCCESS && h.status != CB_ST_UNKNOWN_COMMAND &&
        h.status != CB_ST_NOT_SUPPORTED)
        code = status_error(err, SS_BACKEND, "selecting the bucket failed", &h, body);
    free(body);
    return code;
}

static ss_code dial(cb_store *s, const cb_node *n, int *out, ss_error *err)
{
    char port[8];
    snprintf(port, sizeof port, "%d", n->port);
    int gai;
    int fd = ss_net_connect(n->host, port, ss_monotonic_ms() + s->timeout_ms, &gai);
    if (gai != 0)
        return ss_error_set(err, SS_UNAVAILABLE, "resolve %s: %s", n->host, gai_strerror(gai));
    if (fd < 0) return io_error(err, "connect to", n, -fd);
    ss_code code = handshake(s, fd, n, err);
    if (code != SS_OK) {
        close(fd);
        return code;
    }
    *out = fd;
    return SS_OK;
}

/* A locked, connected connection of node n. */
static ss_code conn_get(cb_store *s, cb_node *n, cb_conn **out, ss_error *err)
{
    cb_conn *c = &n->conns[atomic_fetch_add(&n->next, 1) % CONNS_PER_NODE];
    pthread_mutex_lock(&c->mu);
    if (c->fd < 0) {
        ss_code code = dial(s, n, &c->fd, err);
        if (code != SS_OK) {
            c->fd = -1;
            pthread_mutex_unlock(&c->mu);
            return code;
        }
    }
    *out = c;
    return SS_OK;
}

/* Releases a connection; after an I/O or protocol error the socket is dropped (its stream may
 * hold a half-read reply) and the next user reconnects. */
static void conn_put(cb_conn *c, ss_code code)
{
    if (code == SS_UNAVAILABLE || code == SS_TIMEOUT || code == SS_BACKEND) {
        if (c->fd >= 0) close(c->fd);
        c->fd = -1;
    }
    pthread_mutex_unlock(&c->mu);
}

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                               */
/* ------------------------------------------------------------------------------------------ */

static cb_node *node_for(cb_store *s, const cb_server *sv)
{
    for (size_t i = 0; i < s->nnodes; i++)
        if (s->nodes[i]->port == sv->port && strcmp(s->nodes[i]->host, sv->host) == 0)
            return s->nodes[i];
    if (s->nnodes == MAX_NODES) return NULL;
    cb_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    snprintf(n->host, sizeof n->host, "%s", sv->host);
    n->port = sv->port;
    n->timeout_ms = s->timeout_ms;
    for (int i = 0; i < CONNS_PER_NODE; i++) {
        pthread_mutex_init(&n->conns[i].mu, NULL);
        n->conns[i].fd = -1;
    }
    s->nodes[s->nnodes++] = n;
    return n;
}

/* Same servers and map: a config that changes nothing. */
static bool cfg_same(const cb_config *a, const cb_config *b)
{
    if (a->nservers != b->nservers || a->nvbuckets != b->nvbuckets || a->ncopies != b->ncopies)
        return false;
    for (size_t i = 0; i < a->nservers; i++)
        if (a->servers[i].port != b->servers[i].port ||
            strcmp(a->servers[i].host, b->servers[i].host) != 0)
            return false;
    return memcmp(a->map, b->map, a->nvbuckets * a->ncopies * sizeof *a->map) == 0;
}

/* Installs a parsed config unless the current one is newer or the same. Takes cfg. */
static ss_code install_config(cb_store *s, cb_config *cfg, ss_error *err)
{
    pthread_mutex_lock(&s->mu);
    cb_topo *cur = atomic_load(&s->topo);
    if (cur && (cur->cfg->rev > cfg->rev || cfg_same(cur->cfg, cfg))) {
        pthread_mutex_unlock(&s->mu);
        cb_config_free(cfg);
        return SS_OK;
    }
    cb_topo *t = calloc(1, sizeof *t);
    cb_node **nodes = t ? calloc(cfg->nservers, sizeof *nodes) : NULL;
    bool ok = nodes != NULL;
    for (size_t i = 0; ok && i < cfg->nservers; i++)
        ok = (nodes[i] = node_for(s, &cfg->servers[i]));
    if (!ok) {
        pthread_mutex_unlock(&s->mu);
        free(nodes);
        free(t);
        cb_config_free(cfg);
        return ss_error_set(err, SS_NOMEM, "out of memory (or more than %d nodes)", MAX_NODES);
    }
    t->cfg = cfg;
    t->nodes = nodes;
    t->older = cur;
    atomic_store(&s->topo, t);
    pthread_mutex_unlock(&s->mu);
    return SS_OK;
}

static ss_code apply_config_text(cb_store *s, const char *json, size_t len, const char *host,
                                 ss_error *err)
{
    char why[160];
    cb_config *cfg = cb_config_parse(json, len, host, why, sizeof why);
    if (!cfg) return ss_error_set(err, SS_BACKEND, "cluster config: %s", why);
    return install_config(s, cfg, err);
}

static ss_code fetch_rest_config(cb_store *s, ss_error *err)
{
    if (!s->rest_base) return ss_error_set(err, SS_UNAVAILABLE, "no REST endpoint to bootstrap");
    char *url = NULL;
    size_t ul = strlen(s->rest_base) + strlen(s->bucket) + 32;
    if (!(url = malloc(ul))) return ss_error_set(err, SS_NOMEM, "out of memory");
    snprintf(url, ul, "%s/pools/default/buckets/%s", s->rest_base, s->bucket);
    char *auth = NULL;
    const char *headers[2] = {NULL, NULL};
    if (s->user && *s->user) {
        size_t cl = strlen(s->user) + (s->pass ? strlen(s->pass) : 0) + 2;
        char *cred = malloc(cl);
        if (cred) snprintf(cred, cl, "%s:%s", s->user, s->pass ? s->pass : "");
        char *b64 = cred ? ss_base64_encode_alloc(cred, strlen(cred)) : NULL;
        if (cred) memset(cred, 0, cl);
        free(cred);
        if (b64) {
            size_t al = strlen(b64) + 32;
            auth = malloc(al);
            if (auth) snprintf(auth, al, "Authorization: Basic %s", b64);
            free(b64);
        }
        headers[0] = auth;
    }
    ss_http_request req = {.method = "GET", .url = url, .headers = headers};
    ss_http_response resp = {0};
    ss_code code = ss_http_perform(s->http, &req, &resp, err);
    if (code == SS_OK && resp.status != 200)
        code = ss_error_set(err,
                            resp.status == 401 || resp.status == 404 ? SS_BACKEND : SS_UNAVAILABLE,
                            "GET %s: HTTP %ld", url, resp.status);
    if (code == SS_OK) code = apply_config_text(s, resp.body, resp.body_len, s->boot_host, err);
    ss_http_response_clear(&resp);
    free(auth);
    free(url);
    return code;
}

/* GET_CLUSTER_CONFIG on node n (the node's own host replaces "$HOST"). */
static ss_code fetch_kv_config(cb_store *s, cb_node *n, ss_error *err)
{
    cb_conn *c = NULL;
    ss_code code = conn_get(s, n, &c, err);
    if (code != SS_OK) return code;
    cb_hdr h;
    uint8_t *body = NULL;
    code = simple_call(c->fd, n, CB_OP_GET_CLUSTER_CONFIG, NULL, 0, NULL, 0, &h, &body, err);
    conn_put(c, code);
    if (code == SS_OK && h.status != CB_ST_SUCCESS)
        code = status_error(err, SS_BACKEND, "GET_CLUSTER_CONFIG", &h, body);
    if (code == SS_OK)
        code = apply_config_text(s, (const char *)body + cb_value_off(&h), cb_value_len(&h),
                                 n->host, err);
    free(body);
    return code;
}

/* After NOT_MY_VBUCKET: the reply's config when it has one, else a fresh one from the node
 * (or REST). */
static void refresh_config(cb_store *s, cb_node *n, const cb_hdr *h, const uint8_t *body)
{
    ss_error ignored;
    if (body && cb_value_len(h) > 0 &&
        apply_config_text(s, (const char *)body + cb_value_off(h), cb_value_len(h), n->host,
                          &ignored) == SS_OK)
        return;
    if (fetch_kv_config(s, n, &ignored) != SS_OK) fetch_rest_config(s, &ignored);
}

/* After a node failed: a fresh config over REST, else from any other node. True when the
 * config in force is no longer `seen` (so a call may be routed again). */
static bool refresh_after_failure(cb_store *s, cb_topo *seen)
{
    ss_error ignored;
    if (fetch_rest_config(s, &ignored) != SS_OK) {
        for (size_t i = 0; i < seen->cfg->nservers; i++)
            if (fetch_kv_config(s, seen->nodes[i], &ignored) == SS_OK) break;
    }
    return atomic_load(&s->topo) != seen;
}

/* ------------------------------------------------------------------------------------------ */
/* Keyed calls                                                                                 */
/* ------------------------------------------------------------------------------------------ */

typedef struct kv_req {
    uint8_t opcode;
    const char *key;
    size_t keylen;
    const void *extras;
    size_t extlen;
    const void *val;
    size_t vallen;
    uint64_t cas;
} kv_req;

/* Sends one keyed request to the key's active node, following NOT_MY_VBUCKET; *body is the
 * reply body (malloc'd) and *node the node that answered. */
static ss_code kv_call(cb_store *s, const kv_req *r, cb_hdr *h, uint8_t **body, cb_node **node,
                       uint16_t *vb_out, ss_error *err)
{
    size_t sz = cb_request_size(r->extlen, r->keylen, r->vallen);
    uint8_t *req = malloc(sz);
    if (!req) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code code = SS_OK;
    for (int attempt = 0;; attempt++) {
        cb_topo *t = atomic_load(&s->topo);
        uint16_t vb = cb_vbucket_of(r->key, r->keylen, t->cfg->nvbuckets);
        int si = cb_config_server(t->cfg, vb, 0);
        if (si < 0) {
            code = ss_error_set(err, SS_UNAVAILABLE, "vBucket %u has no active node", vb);
            if (attempt < MAX_REROUTES) {
                ss_error ignored;
                fetch_rest_config(s, &ignored);
                continue;
            }
            break;
        }
        cb_node *n = t->nodes[si];
        cb_encode_request(req, r->opcode, vb, (uint32_t)attempt, r->cas, r->extras, r->extlen,
                          r->key, r->keylen, r->val, r->vallen);
        cb_conn *c = NULL;
        code = conn_get(s, n, &c, err);
        if (code == SS_UNAVAILABLE && attempt < MAX_REROUTES && refresh_after_failure(s, t))
            continue; /* not sent, and the map moved: the new owner gets it */
        if (code != SS_OK) break;
        code = roundtrip(c->fd, n, req, sz, h, body, err);
        conn_put(c, code);
        /* The request may have been applied: not resent, but the next call uses a fresh map. */
        if (code == SS_UNAVAILABLE || code == SS_TIMEOUT) refresh_after_failure(s, t);
        if (code != SS_OK) break;
        if (h->status == CB_ST_NOT_MY_VBUCKET) {
            refresh_config(s, n, h, *body);
            free(*body);
            *body = NULL;
            if (attempt < MAX_REROUTES) continue;
            code = ss_error_set(err, SS_UNAVAILABLE,
                                "NOT_MY_VBUCKET for vBucket %u after %d config refreshes", vb,
                                MAX_REROUTES);
            break;
        }
        if (node) *node = n;
        if (vb_out) *vb_out = vb;
        break;
    }
    free(req);
    return code;
}

static ss_code map_status(ss_error *err, const cb_hdr *h, const uint8_t *body)
{
    switch (h->status) {
    case CB_ST_E2BIG:
        return status_error(err, SS_TOO_LARGE, "value too large", h, body);
    case CB_ST_ENOMEM:
    case CB_ST_TMPFAIL:
    case CB_ST_BUSY:
        return status_error(err, SS_UNAVAILABLE, "temporary failure", h, body);
    default:
        return status_error(err, SS_BACKEND, "server error", h, body);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Open / close                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void cb_close(void *self)
{
    cb_store *s = self;
    cb_topo *t = atomic_load(&s->topo);
    while (t) {
        cb_topo *o = t->older;
        cb_config_free(t->cfg);
        free(t->nodes);
        free(t);
        t = o;
    }
    for (size_t i = 0; i < s->nnodes; i++) {
        for (int j = 0; j < CONNS_PER_NODE; j++) {
            if (s->nodes[i]->conns[j].fd >= 0) close(s->nodes[i]->conns[j].fd);
            pthread_mutex_destroy(&s->nodes[i]->conns[j].mu);
        }
        free(s->nodes[i]);
    }
    s->nnodes = 0;
    ss_http_free(s->http);
    pthread_mutex_destroy(&s->mu);
    free(s->user);
    free(s->pass);
    free(s->bucket);
    free(s->rest_base);
    free(s->boot_host);
}

/* couchbaseURL: http(s)://host[:port][/...] (REST) or couchbase://host[:port] (KV). The first
 * host of a comma-separated list is used to bootstrap. */
static ss_code parse_url(cb_store *s, const char *url, ss_error *err)
{
    bool kv = strncmp(url, "couchbase://", 12) == 0;
    bool http = strncmp(url, "http://", 7) == 0;
    bool https = strncmp(url, "https://", 8) == 0;
    if (!kv && !http && !https)
        return ss_error_set(err, SS_INVALID,
                            "property couchbaseURL: \"%s\" is not http://, https:// or "
                            "couchbase://",
                            url);
    const char *h = url + (kv ? 12 : http ? 7 : 8);
    size_t hl = strcspn(h, ",/?");
    if (hl == 0) return ss_error_set(err, SS_INVALID, "property couchbaseURL: no host");
    char hostport[300];
    if (hl >= sizeof hostport)
        return ss_error_set(err, SS_INVALID, "property couchbaseURL: host too long");
    memcpy(hostport, h, hl);
    hostport[hl] = 0;
    char *colon = strrchr(hostport, ':');
    int port = 0;
    if (colon && !strchr(colon, ']')) {
        port = atoi(colon + 1);
        *colon = 0;
        if (port <= 0 || port > 65535)
            return ss_error_set(err, SS_INVALID, "property couchbaseURL: bad port");
    }
    s->boot_host = strdup(hostport);
    if (!s->boot_host) return ss_error_set(err, SS_NOMEM, "out of memory");
    size_t rl = strlen(hostport) + 32;
    s->rest_base = malloc(rl);
    if (!s->rest_base) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (kv) {
        s->boot_kv_port = port ? port : 11210;
        snprintf(s->rest_base, rl, "http://%s:8091", hostport);
    } else {
        snprintf(s->rest_base, rl, "%s://%s:%d", https ? "https" : "http", hostport,
                 port    ? port
                 : https ? 18091
                         : 8091);
    }
    return SS_OK;
}

static ss_code cb_open(void *self, ss_ctx *ctx, ss_error *err)
{
    cb_store *s = self;
    s->ctx = ctx;
    pthread_mutex_init(&s->mu, NULL);
    s->timeout_ms = 2500;
    ss_code code = ss_prop_duration_ms(ctx, "timeout", 1, &s->timeout_ms, err);
    if (code == SS_OK)
        code = ss_prop_int(ctx, "numReplicasDurableReplication", 0, 3, &s->repl, err);
    if (code == SS_OK)
        code = ss_prop_int(ctx, "numReplicasDurablePersistence", 0, 4, &s->persist, err);
    const char *url = ss_prop(ctx, "couchbaseURL");
    const char *bucket = ss_prop(ctx, "bucketName");
    if (code == SS_OK && (!bucket || !*bucket))
        code = ss_error_set(err, SS_INVALID, "property bucketName is required");
    if (code == SS_OK) code = parse_url(s, url ? url : "", err);
    if (code == SS_OK) {
        s->user = strdup(ss_prop(ctx, "username") ? ss_prop(ctx, "username") : "");
        s->pass = strdup(ss_prop(ctx, "password") ? ss_prop(ctx, "password") : "");
        s->bucket = strdup(bucket);
        ss_http_options ho = {.connect_timeout_ms = (long)s->timeout_ms,
                              .timeout_ms = (long)s->timeout_ms * 2};
        s->http = ss_http_new(&ho);
        if (!s->user || !s->pass || !s->bucket || !s->http)
            code = ss_error_set(err, SS_NOMEM, "out of memory");
    }
    if (code == SS_OK) {
        code = SS_UNAVAILABLE;
        if (s->boot_kv_port) {
            cb_server sv;
            snprintf(sv.host, sizeof sv.host, "%s", s->boot_host);
            sv.port = s->boot_kv_port;
            pthread_mutex_lock(&s->mu);
            cb_node *n = node_for(s, &sv);
            pthread_mutex_unlock(&s->mu);
            code = n ? fetch_kv_config(s, n, err) : ss_error_set(err, SS_NOMEM, "out of memory");
        }
        if (code != SS_OK && s->boot_kv_port) {
            /* Both ways failed: say both. */
            ss_error kv;
            kv.message[0] = 0;
            if (err) kv = *err;
            code = fetch_rest_config(s, err);
            if (code != SS_OK && err) {
                char rest[sizeof err->message];
                snprintf(rest, sizeof rest, "%s", err->message);
                ss_error_set(err, code, "KV bootstrap: %s; REST fallback: %s", kv.message, rest);
            }
        } else if (code != SS_OK) {
            code = fetch_rest_config(s, err);
        }
    }
    if (code != SS_OK) {
        cb_close(s);
        return code;
    }
    cb_topo *t = atomic_load(&s->topo);
    if ((size_t)s->repl >= t->cfg->ncopies || (size_t)s->persist > t->cfg->ncopies) {
        code = ss_error_set(err, SS_INVALID,
                            "durability asks for more copies than the bucket has (%zu replicas)",
                            t->cfg->ncopies - 1);
        cb_close(s);
    }
    return code;
}

static ss_code cb_ping(void *self, ss_error *err)
{
    cb_store *s = self;
    cb_topo *t = atomic_load(&s->topo);
    for (size_t i = 0; i < t->cfg->nservers; i++) {
        cb_conn *c = NULL;
        ss_code code = conn_get(s, t->nodes[i], &c, err);
        if (code != SS_OK) return code;
        cb_hdr h;
        uint8_t *body = NULL;
        code = simple_call(c->fd, t->nodes[i], CB_OP_NOOP, NULL, 0, NULL, 0, &h, &body, err);
        conn_put(c, code);
        free(body);
        if (code != SS_OK) return code;
    }
    return SS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Get                                                                                         */
/* ------------------------------------------------------------------------------------------ */

static ss_code value_from(const cb_hdr *h, const uint8_t *body, ss_value **out, ss_error *err)
{
    char etag[24];
    ss_cas_text(h->cas, etag);
    *out = ss_value_new(body ? body + cb_value_off(h) : (const uint8_t *)"",
                        body ? cb_value_len(h) : 0, etag);
    return *out ? SS_OK : ss_error_set(err, SS_NOMEM, "out of memory");
}

static ss_code cb_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    cb_store *s = self;
    *out = NULL;
    kv_req r = {.opcode = CB_OP_GET, .key = op->key, .keylen = op->key_len};
    cb_hdr h;
    uint8_t *body = NULL;
    ss_code code = kv_call(s, &r, &h, &body, NULL, NULL, err);
    if (code == SS_OK) {
        if (h.status == CB_ST_SUCCESS)
            code = value_from(&h, body, out, err);
        else if (h.status != CB_ST_KEY_ENOENT)
            code = map_status(err, &h, body);
    }
    free(body);
    return code;
}

/* Pipelined bulk get: per node, every GET written, then every reply read (opaque = index).
 * Keys that meet NOT_MY_VBUCKET (a map change in between) are read again one by one. */
static ss_code cb_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                           ss_error *err)
{
    cb_store *s = self;
    cb_topo *t = atomic_load(&s->topo);
    size_t nn = t->cfg->nservers;
    uint16_t *vbs = malloc(count * sizeof *vbs);
    int *owner = malloc(count * sizeof *owner);
    bool *redo = calloc(count, sizeof *redo);
    if (!vbs || !owner || !redo) {
        free(vbs);
        free(owner);
        free(redo);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        vbs[i] = cb_vbucket_of(ops[i].key, ops[i].key_len, t->cfg->nvbuckets);
        owner[i] = cb_config_server(t->cfg, vbs[i], 0);
        if (owner[i] < 0) redo[i] = true;
    }
    for (size_t ni = 0; ni < nn; ni++) {
        size_t total = 0, nreq = 0;
        for (size_t i = 0; i < count; i++)
            if (owner[i] == (int)ni) {
                total += cb_request_size(0, ops[i].key_len, 0);
                nreq++;
            }
        if (!nreq) continue;
        uint8_t *buf = malloc(total);
        if (!buf) {
            for (size_t i = 0; i < count; i++) redo[i] = redo[i] || owner[i] == (int)ni;
            continue;
        }
        size_t off = 0;
        for (size_t i = 0; i < count; i++)
            if (owner[i] == (int)ni) {
                cb_encode_request(buf + off, CB_OP_GET, vbs[i], (uint32_t)i, 0, NULL, 0, ops[i].key,
                                  ops[i].key_len, NULL, 0);
                off += cb_request_size(0, ops[i].key_len, 0);
            }
        cb_node *n = t->nodes[ni];
        cb_conn *c = NULL;
        ss_error e;
        e.message[0] = 0;
        ss_code code = conn_get(s, n, &c, &e);
        if (code == SS_OK) {
            int se = send_all(c->fd, n, buf, total);
            if (se) code = io_error(&e, "write to", n, se);
            for (size_t k = 0; code == SS_OK && k < nreq; k++) {
                cb_hdr h;
                uint8_t *body = NULL;
                code = read_response(c->fd, n, &h, &body, &e);
                if (code != SS_OK) break;
                size_t i = h.opaque;
                if (i >= count || owner[i] != (int)ni) {
                    free(body);
                    code = ss_error_set(&e, SS_BACKEND, "%s:%d: reply to no request", n->host,
                                        n->port);
                    break;
                }
                ss_item_result *it = &out->items[i];
                ss_error ie;
                ie.message[0] = 0;
                if (h.status == CB_ST_SUCCESS) {
                    if (value_from(&h, body, &it->value, &ie) != SS_OK) {
                        it->code = SS_NOMEM;
                        it->error = ss_strdup(ie.message);
                    }
                } else if (h.status == CB_ST_NOT_MY_VBUCKET) {
                    redo[i] = true;
                } else if (h.status != CB_ST_KEY_ENOENT) {
                    it->code = map_status(&ie, &h, body);
                    it->error = ss_strdup(ie.message);
                }
                free(body);
            }
            conn_put(c, code);
        }
        free(buf);
        if (code != SS_OK)
            for (size_t i = 0; i < count; i++)
                if (owner[i] == (int)ni && !out->items[i].value && out->items[i].code == SS_OK &&
                    !redo[i]) {
                    out->items[i].code = code;
                    out->items[i].error = ss_strdup(e.message);
                }
    }
    for (size_t i = 0; i < count; i++) {
        if (!redo[i]) continue;
        ss_error ie;
        ie.message[0] = 0;
        ss_code r = cb_get(s, &ops[i], &out->items[i].value, &ie);
        if (r != SS_OK) {
            out->items[i].code = r;
            out->items[i].error = ss_strdup(ie.message);
        }
    }
    free(vbs);
    free(owner);
    free(redo);
    return SS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Durability                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Polls OBSERVE on every copy of vb until `repl` replicas hold cas (or the key is gone, for a
 * delete) and `persist` copies have it on disk, within the timeout. */
static ss_code observe_durable(cb_store *s, const char *key, size_t keylen, uint16_t vb,
                               uint64_t cas, bool deleted, ss_error *err)
{
    if (s->repl == 0 && s->persist == 0) return SS_OK;
    int64_t deadline = ss_monotonic_ms() + s->timeout_ms;
    size_t vlen = 4 + keylen;
    uint8_t *val = malloc(vlen);
    if (!val) return ss_error_set(err, SS_NOMEM, "out of memory");
    val[0] = (uint8_t)(vb >> 8);
    val[1] = (uint8_t)vb;
    val[2] = (uint8_t)(keylen >> 8);
    val[3] = (uint8_t)keylen;
    memcpy(val + 4, key, keylen);
    ss_code code = SS_OK;
    for (;;) {
        cb_topo *t = atomic_load(&s->topo);
        int replicated = 0, persisted = 0;
        bool superseded = false;
        for (size_t copy = 0; copy < t->cfg->ncopies; copy++) {
            int si = cb_config_server(t->cfg, vb, copy);
            if (si < 0) continue;
            cb_node *n = t->nodes[si];
            cb_conn *c = NULL;
            ss_error ignored;
            if (conn_get(s, n, &c, &ignored) != SS_OK) continue;
            cb_hdr h;
            uint8_t *body = NULL;
            ss_code r =
                simple_call(c->fd, n, CB_OP_OBSERVE, NULL, 0, val, vlen, &h, &body, &ignored);
            conn_put(c, r);
            if (r == SS_OK && h.status == CB_ST_SUCCESS && body) {
                size_t off = cb_value_off(&h);
                uint16_t rvb, kl;
                const uint8_t *k;
                uint8_t st;
                uint64_t rcas;
                const uint8_t *b = body;
                size_t end = h.bodylen;
                while (cb_observe_next(b, end, &off, &rvb, &k, &kl, &st, &rcas)) {
                    if (kl != keylen || memcmp(k, key, keylen) != 0) continue;
                    bool has = deleted ? (st == 0x80 || st == 0x81) : (rcas == cas && st <= 1);
                    bool disk = deleted ? (st == 0x80 || st == 0x81) : (rcas == cas && st == 1);
                    if (has && copy > 0) replicated++;
                    if (disk) persisted++;
                    /* The active copy holds a newer write: ours was superseded, and nothing
                     * more can be learnt about its durability. */
                    if (copy == 0 && !has && (deleted ? st <= 1 : st <= 1 && rcas != cas))
                        superseded = true;
                }
            }
            free(body);
        }
        if (superseded || (replicated >= s->repl && persisted >= s->persist)) break;
        if (ss_monotonic_ms() >= deadline) {
            code = ss_error_set(err, SS_TIMEOUT,
                                "durability not reached: %d of %lld replicas, %d of %lld copies "
                                "persisted (the write itself succeeded)",
                                replicated, (long long)s->repl, persisted, (long long)s->persist);
            break;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    free(val);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Set / delete                                                                                */
/* ------------------------------------------------------------------------------------------ */

static uint32_t expiry_of(const ss_op *op)
{
    if (op->ttl_mode != SS_TTL_SECONDS || op->ttl_seconds <= 0) return 0;
    if (op->ttl_seconds <= THIRTY_DAYS) return (uint32_t)op->ttl_seconds;
    /* Over 30 days the field is an absolute Unix time. Capped at 2038-01-19: servers (and the
     * Java mock) read it as a signed 32-bit number and would take a later one as the past. */
    int64_t at = (int64_t)time(NULL) + op->ttl_seconds;
    return (uint32_t)(at > INT32_MAX ? INT32_MAX : at);
}

static bool is_json(const void *v, size_t n)
{
    json_error_t e;
    json_t *j = json_loadb(v, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    json_decref(j);
    return j != NULL;
}

static void put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static ss_code cb_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    cb_store *s = self;
    uint64_t cas = 0;
    if (op->cond == SS_COND_MATCH && !ss_cas_parse(op->etag, &cas))
        return ss_error_set(err, SS_ETAG_INVALID,
                            "invalid etag value: couchbase ETags are CAS numbers");
    uint8_t extras[8];
    put32be(extras, is_json(op->value, op->value_len) ? FLAGS_JSON : FLAGS_BINARY);
    put32be(extras + 4, expiry_of(op));
    kv_req r = {.opcode = op->cond == SS_COND_ABSENT ? CB_OP_ADD : CB_OP_SET,
                .key = op->key,
                .keylen = op->key_len,
                .extras = extras,
                .extlen = 8,
                .val = op->value,
                .vallen = op->value_len,
                .cas = cas};
    cb_hdr h;
    uint8_t *body = NULL;
    uint16_t vb = 0;
    ss_code code = kv_call(s, &r, &h, &body, NULL, &vb, err);
    if (code == SS_OK) {
        if (h.status == CB_ST_KEY_EEXISTS || (h.status == CB_ST_KEY_ENOENT && cas) ||
            (h.status == CB_ST_NOT_STORED && op->cond != SS_COND_ANY))
            code = ss_error_set(err, SS_ETAG_MISMATCH,
                                op->cond == SS_COND_ABSENT
                                    ? "the key exists (first-write)"
                                    : "the CAS changed or the key is gone (etag mismatch)");
        else if (h.status != CB_ST_SUCCESS)
            code = map_status(err, &h, body);
    }
    free(body);
    if (code == SS_OK) code = observe_durable(s, op->key, op->key_len, vb, h.cas, false, err);
    if (code == SS_OK && op->etag_wanted) {
        char etag[24];
        ss_cas_text(h.cas, etag);
        *etag_out = ss_strdup(etag);
    }
    return code;
}

static ss_code cb_del(void *self, const ss_op *op, ss_error *err)
{
    cb_store *s = self;
    uint64_t cas = 0;
    if (op->cond == SS_COND_MATCH && !ss_cas_parse(op->etag, &cas))
        return ss_error_set(err, SS_ETAG_INVALID,
                            "invalid etag value: couchbase ETags are CAS numbers");
    kv_req r = {.opcode = CB_OP_DELETE, .key = op->key, .keylen = op->key_len, .cas = cas};
    cb_hdr h;
    uint8_t *body = NULL;
    uint16_t vb = 0;
    ss_code code = kv_call(s, &r, &h, &body, NULL, &vb, err);
    bool deleted = false;
    if (code == SS_OK) {
        if (h.status == CB_ST_SUCCESS)
            deleted = true;
        else if (h.status == CB_ST_KEY_ENOENT && !cas)
            ; /* already gone */
        else if (h.status == CB_ST_KEY_EEXISTS || h.status == CB_ST_KEY_ENOENT)
            code = ss_error_set(err, SS_ETAG_MISMATCH,
                                "the CAS changed or the key is gone (etag mismatch)");
        else
            code = map_status(err, &h, body);
    }
    free(body);
    if (code == SS_OK && deleted)
        code = observe_durable(s, op->key, op->key_len, vb, h.cas, true, err);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Declaration                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static const ss_property cb_props[] = {
    {"couchbaseURL", true, false, NULL,
     "http://host:8091 (REST bootstrap) or couchbase://host[:11210] (KV bootstrap)"},
    {"username", false, false, NULL, "user for SASL PLAIN and REST (Couchbase RBAC)"},
    {"password", false, true, NULL, "password (never logged)"},
    {"bucketName", true, false, NULL, "bucket holding the state"},
    {"numReplicasDurableReplication", false, false, "0",
     "replicas that must hold each write before it returns (OBSERVE)"},
    {"numReplicasDurablePersistence", false, false, "0",
     "copies that must have each write on disk before it returns (OBSERVE)"},
    {"timeout", false, false, "2500ms", "connect and per-call timeout, e.g. \"5s\""},
};

const ss_driver ss_driver_couchbase = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "couchbase",
            .aliases = NULL,
            .version = "1",
            .summary = "Couchbase KV (binary protocol, vBucket routing): CAS ETags, first-write, "
                       "TTL, pipelined bulk get",
            .features =
                {
                    .flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE | SS_FEATURE_TTL |
                             SS_FEATURE_BULK_NATIVE,
                    .max_tx_ops = 0,
                    .max_key_len = 250,                /* Couchbase's key limit */
                    .max_value_len = 20 * 1024 * 1024, /* Couchbase's document limit */
                },
            .properties = cb_props,
            .property_count = sizeof cb_props / sizeof cb_props[0],
        },
    .instance_size = sizeof(cb_store),
    .open = cb_open,
    .close = cb_close,
    .ping = cb_ping,
    .get = cb_get,
    .set = cb_set,
    .del = cb_del,
    .bulk_get = cb_bulk_get,
    .bulk_set = NULL,
    .bulk_delete = NULL,
    .transact = NULL,
};

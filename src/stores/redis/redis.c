/*
 * redis driver: standalone Redis, Redis Sentinel (failover=true) and Redis Cluster
 * (redisType=cluster), on Debian's hiredis 0.14.
 *
 * Data layout is Dapr's (components-contrib state/redis): every key is a hash with fields
 * `data` (the value bytes) and `version` (an integer, the ETag), so daprd and this driver read
 * each other's data. Every write is one server-side Lua script (EVALSHA, EVAL on NOSCRIPT):
 * condition check, HSET, HINCRBY version and EXPIRE/PERSIST happen atomically. Unlike Dapr,
 * first-write is per request (the script checks existence) and Dapr's sticky `first-write` hash
 * field is neither written nor consulted. A transaction is one script over all its keys that
 * checks every condition first (simulating earlier operations of the same transaction) and only
 * then applies the writes, so a failed condition changes nothing.
 *
 * Connections: one small pool per node (poolSize), every socket wait bounded by dialTimeout /
 * readTimeout / writeTimeout. A pipeline that fails before any reply arrived (a dead pooled
 * connection after a server restart, a refused connect) is retried up to maxRetries times on a
 * fresh connection with a short backoff; the idle connections of that node are dropped too.
 */
#include "redis_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "statestore/driver.h"

#define MAX_NODES      64
#define MAX_REDIRECTS  5
#define NO_NODE        0xFFFF
#define CMD_ERR_MAX    256
#define WAIT_MAX_MS    1000 /* Dapr's WAIT timeout */
#define BACKOFF_MIN_MS 8
#define BACKOFF_MAX_MS 512

enum { MODE_NODE, MODE_SENTINEL, MODE_CLUSTER };

/* KEYS[1]; ARGV: cond (0 any, 1 match, 2 absent), etag, data, ttl seconds (<= 0: persist).
 * Returns {1, new version} or {0, current version or ""}. A key holding another type counts as
 * existing without version (Dapr's script deletes it on an unconditional write; so do we). */
static const char SET_LUA[] =
    "local k=KEYS[1] local v=redis.pcall('HGET',k,'version') local w=type(v)=='table' "
    "if w then v=false end local c=ARGV[1] "
    "if c=='1' then if w or v~=ARGV[2] then return {0,v or ''} end "
    "elseif c=='2' then if w or v or redis.call('EXISTS',k)==1 then return {0,v or ''} end end "
    "if w then redis.call('DEL',k) end "
    "redis.call('HSET',k,'data',ARGV[3]) local n=redis.call('HINCRBY',k,'version',1) "
    "local t=tonumber(ARGV[4]) if t>0 then redis.call('EXPIRE',k,t) else "
    "redis.call('PERSIST',k) end return {1,n}";

/* KEYS[1]; ARGV: cond (0 any, 1 match, 2 absent: the contract's first-write delete, which
 * only succeeds on a missing key), etag. Returns {1, deleted} or {0, current version or ''}. */
static const char DEL_LUA[] =
    "local k=KEYS[1] local c=ARGV[1] if c=='1' then local v=redis.pcall('HGET',k,'version') "
    "if type(v)~='string' then return {0,''} end if v~=ARGV[2] then return {0,v} end "
    "elseif c=='2' then if redis.call('EXISTS',k)==1 then return {0,''} end end "
    "return {1,redis.call('DEL',k)}";

/* KEYS = the operations' keys in order; ARGV = 5 per operation: kind (s|d), cond, etag, data,
 * ttl. Phase 1 checks every condition against a simulated state (so an operation sees the
 * effect of the earlier ones); only if all pass does phase 2 write. Returns {1} or
 * {0, failing index (1-based), current version or ''}. */
static const char TX_LUA[] =
    "local st={} local wr={} "
    "local function ld(k) local s=st[k] if s then return s end "
    "local v=redis.pcall('HGET',k,'version') s={} "
    "if type(v)=='table' then s.e=true s.v=false wr[k]=true "
    "elseif v then s.e=true s.v=v else s.e=redis.call('EXISTS',k)==1 s.v=false end "
    "st[k]=s return s end "
    "for i=1,#KEYS do local k=KEYS[i] local b=(i-1)*5 local s=ld(k) local c=ARGV[b+2] "
    "if c=='1' then if s.v~=ARGV[b+3] then return {0,i,s.v or ''} end "
    "elseif c=='2' then if s.e then return {0,i,s.v or ''} end end "
    "if s.v and not tonumber(s.v) then return {0,i,s.v} end "
    "if ARGV[b+1]=='s' then s.e=true s.v=tostring((tonumber(s.v) or 0)+1) "
    "else s.e=false s.v=false end end "
    "for i=1,#KEYS do local k=KEYS[i] local b=(i-1)*5 "
    "if wr[k] then redis.call('DEL',k) wr[k]=nil end "
    "if ARGV[b+1]=='s' then redis.call('HSET',k,'data',ARGV[b+4]) "
    "redis.call('HINCRBY',k,'version',1) local t=tonumber(ARGV[b+5]) "
    "if t>0 then redis.call('EXPIRE',k,t) else redis.call('PERSIST',k) end "
    "else redis.call('DEL',k) end end return {1}";

const char *ss_redis_set_script(void)
{
    return SET_LUA;
}

enum { SCRIPT_SET, SCRIPT_DEL, SCRIPT_TX, SCRIPT_COUNT };
static const char *const SCRIPTS[SCRIPT_COUNT] = {SET_LUA, DEL_LUA, TX_LUA};

/* A pooled connection; `gen` is the node's generation when it was opened (a changed generation
 * means the node moved, e.g. a Sentinel failover, and the connection must not be reused). */
typedef struct rconn {
    redisContext *c;
    unsigned gen;
} rconn;

typedef struct rnode {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char host[SS_REDIS_HOST_MAX];
    int port;
    unsigned gen;
    rconn **idle;
    size_t nidle;
    size_t open;         /* idle + checked out */
    int replicas;        /* connected replicas, for WAIT (strong consistency); -1 unknown */
    int64_t replicas_at; /* monotonic ms of that count: recounted when older than 5 s */
} rnode;

typedef struct redis_drv {
    ss_ctx *ctx;
    int mode;
    char (*seeds)[SS_REDIS_HOST_MAX];
    int *seed_ports;
    size_t nseeds;
    const char *username, *password, *master_name; /* borrowed from ctx (valid until close) */
    int db;
    size_t pool_size;
    int64_t dial_ms, read_ms, write_ms, pool_wait_ms;
    int max_retries;
    int64_t default_ttl; /* > 0 when configured */
    char sha[SCRIPT_COUNT][41];

    pthread_rwlock_t topo; /* nodes[] count and slots[] */
    rnode *nodes[MAX_NODES];
    size_t nnodes;
    uint16_t *slots; /* cluster: slot -> node index */
    pthread_mutex_t refresh_mu;
    int64_t last_refresh_ms;
    pthread_mutex_t sentinel_mu;
} redis_drv;

/* One command of a pipeline. argv is borrowed. When `script` is set, argv is an EVALSHA whose
 * argv[1] is the SHA; a NOSCRIPT answer makes the executor resend it as EVAL <script>. */
typedef struct rcmd {
    int argc;
    const char **argv;
    size_t *argvlen;
    const char *script;
    int slot; /* cluster routing; -1 = any node */
    bool write;
    redisReply *reply; /* set when code == SS_OK (may be an error reply) */
    ss_code code;      /* transport outcome */
    bool unacked;      /* strong write not acknowledged by a replica in time */
    char err[CMD_ERR_MAX];
} rcmd;

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* vsnprintf through a wrapper: messages are cut at the buffer size on purpose. */
static void redis_fmt_err(char *buf, size_t len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void redis_fmt_err(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static void redis_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static struct timeval redis_tv_ms(int64_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

static bool redis_reply_is_err(const redisReply *r, const char *prefix)
{
    size_t n = strlen(prefix);
    return r && r->type == REDIS_REPLY_ERROR && r->len >= n && memcmp(r->str, prefix, n) == 0;
}

/* A hiredis context error: a timeout (EAGAIN on a socket with SO_RCVTIMEO/SO_SNDTIMEO) is
 * TIMEOUT; everything else (refused, reset, EOF) is UNAVAILABLE. */
static ss_code redis_ctx_code(const redisContext *c)
{
    if (c && c->err == REDIS_ERR_IO &&
        (strstr(c->errstr, "temporarily unavailable") || strstr(c->errstr, "timed out")))
        return SS_TIMEOUT;
    if (c && c->err == REDIS_ERR_OOM) return SS_NOMEM;
    if (c && c->err == REDIS_ERR_PROTOCOL) return SS_BACKEND;
    return SS_UNAVAILABLE;
}

static const char *redis_ctx_text(const redisContext *c)
{
    if (!c) return "cannot allocate a connection";
    if (c->err == REDIS_ERR_EOF) return "connection closed by server";
    /* hiredis passes on strerror(EAGAIN), which reads like a transient refusal, not a wait. */
    if (redis_ctx_code(c) == SS_TIMEOUT) return "timed out waiting for the server";
    return c->errstr[0] ? c->errstr : "connection error";
}

/* ------------------------------------------------------------------------------------------ */
/* Nodes and their pools                                                                       */
/* ------------------------------------------------------------------------------------------ */

static rnode *redis_node_new(const char *host, int port)
{
    rnode *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    snprintf(n->host, sizeof n->host, "%s", host);
    n->port = port;
    n->replicas = -1;
    return n;
}

static void redis_conn_free(rconn *c)
{
    if (!c) return;
    if (c->c) redisFree(c->c);
    free(c);
}

static void redis_node_free(rnode *n, size_t pool_size)
{
    if (!n) return;
    for (size_t i = 0; i < n->nidle; i++) redis_conn_free(n->idle[i]);
    free(n->idle);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    free(n);
    (void)pool_size;
}

/* Drops every idle connection of a node (after an error they are most likely dead too). */
static void redis_node_flush_idle(rnode *n)
{
    rconn *drop[64];
    size_t k = 0;
    pthread_mutex_lock(&n->mu);
    while (n->nidle > 0 && k < 64) {
        drop[k++] = n->idle[--n->nidle];
        n->open--;
    }
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    for (size_t i = 0; i < k; i++) redis_conn_free(drop[i]);
}

/* Points a node at a new address (Sentinel failover): older connections are not reused. */
static void redis_node_move(rnode *n, const char *host, int port)
{
    pthread_mutex_lock(&n->mu);
    bool same = n->port == port && strcmp(n->host, host) == 0;
    if (!same) {
        snprintf(n->host, sizeof n->host, "%s", host);
        n->port = port;
        n->gen++;
        n->replicas = -1;
    }
    pthread_mutex_unlock(&n->mu);
    redis_node_flush_idle(n);
}

static ss_code redis_run_simple(redisContext *c, int argc, const char **argv, const size_t *lens,
                                redisReply **out, char *err, size_t errlen);

/* Opens one connection to host:port: connect (dialTimeout), socket timeouts, AUTH, SELECT. */
static ss_code redis_connect_addr(redis_drv *d, const char *host, int port, bool select_db,
                                  redisContext **out, char *err, size_t errlen)
{
    *out = NULL;
    redisContext *c = redisConnectWithTimeout(host, port, redis_tv_ms(d->dial_ms));
    if (!c || c->err) {
        ss_code code = c ? redis_ctx_code(c) : SS_NOMEM;
        redis_fmt_err(err, errlen, "connect to %s:%d: %s", host, port, redis_ctx_text(c));
        if (c) redisFree(c);
        return code == SS_TIMEOUT ? SS_TIMEOUT : (code == SS_NOMEM ? SS_NOMEM : SS_UNAVAILABLE);
    }
    if (redisSetTimeout(c, redis_tv_ms(d->read_ms)) != REDIS_OK) {
        redis_fmt_err(err, errlen, "set socket timeout on %s:%d: %s", host, port,
                      redis_ctx_text(c));
        redisFree(c);
        return SS_UNAVAILABLE;
    }
    /* hiredis sets one timeout for both directions; writes get their own. */
    struct timeval wt = redis_tv_ms(d->write_ms);
    (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &wt, sizeof wt);

    redisReply *r = NULL;
    ss_code code = SS_OK;
    if (d->password && *d->password) {
        const char *argv[3] = {"AUTH", NULL, NULL};
        size_t lens[3] = {4, 0, 0};
        int argc = 1;
        if (d->username && *d->username) {
            argv[argc] = d->username;
            lens[argc++] = strlen(d->username);
        }
        argv[argc] = d->password;
        lens[argc++] = strlen(d->password);
        code = redis_run_simple(c, argc, argv, lens, &r, err, errlen);
        if (code == SS_OK && r->type == REDIS_REPLY_ERROR) {
            redis_fmt_err(err, errlen, "authentication to %s:%d failed: %s", host, port, r->str);
            code = SS_BACKEND;
        }
        freeReplyObject(r);
        r = NULL;
    }
    if (code == SS_OK && select_db && d->db != 0) {
        char num[24];
        int nl = snprintf(num, sizeof num, "%d", d->db);
        const char *argv[2] = {"SELECT", num};
        size_t lens[2] = {6, (size_t)nl};
        code = redis_run_simple(c, 2, argv, lens, &r, err, errlen);
        if (code == SS_OK && r->type == REDIS_REPLY_ERROR) {
            redis_fmt_err(err, errlen, "SELECT %d on %s:%d: %s", d->db, host, port, r->str);
            code = SS_INVALID;
        }
        freeReplyObject(r);
    }
    if (code != SS_OK) {
        redisFree(c);
        return code;
    }
    *out = c;
    return SS_OK;
}

/* Sends one command and reads its reply on a private connection (handshakes, discovery). */
static ss_code redis_run_simple(redisContext *c, int argc, const char **argv, const size_t *lens,
                                redisReply **out, char *err, size_t errlen)
{
    *out = redisCommandArgv(c, argc, argv, lens);
    if (!*out) {
        redis_fmt_err(err, errlen, "%s", redis_ctx_text(c));
        return redis_ctx_code(c);
    }
    return SS_OK;
}

/* Counts the node's connected replicas (INFO replication), for strong-consistency WAIT. */
static void redis_probe_replicas(rnode *n, redisContext *c)
{
    const char *argv[2] = {"INFO", "replication"};
    size_t lens[2] = {4, 11};
    redisReply *r = redisCommandArgv(c, 2, argv, lens);
    int count = 0;
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *p = strstr(r->str, "connected_slaves:");
        if (p) count = atoi(p + 17);
    }
    if (r) freeReplyObject(r);
    pthread_mutex_lock(&n->mu);
    n->replicas = count;
    n->replicas_at = ss_monotonic_ms();
    pthread_mutex_unlock(&n->mu);
}

static ss_code redis_checkout(redis_drv *d, rnode *n, rconn **out, char *err, size_t errlen)
{
    *out = NULL;
    pthread_mutex_lock(&n->mu);
    if (n->nidle == 0 && n->open >= d->pool_size) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (d->pool_wait_ms % 1000) * 1000000LL;
        until.tv_sec += (time_t)(d->pool_wait_ms / 1000 + ns / 1000000000LL);
        until.tv_nsec = (long)(ns % 1000000000LL);
        while (n->nidle == 0 && n->open >= d->pool_size) {
            if (pthread_cond_timedwait(&n->cv, &n->mu, &until) == ETIMEDOUT) {
                redis_fmt_err(err, errlen, "all %zu connections to %s:%d busy for %lld ms",
                              d->pool_size, n->host, n->port, (long long)d->pool_wait_ms);
                pthread_mutex_unlock(&n->mu);
                return SS_TIMEOUT;
            }
        }
    }
    if (n->nidle > 0) {
        *out = n->idle[--n->nidle];
        pthread_mutex_unlock(&n->mu);
        return SS_OK;
    }
    n->open++;
    char host[SS_REDIS_HOST_MAX];
    snprintf(host, sizeof host, "%s", n->host);
    int port = n->port;
    unsigned gen = n->gen;
    pthread_mutex_unlock(&n->mu);

    rconn *rc = calloc(1, sizeof *rc);
    ss_code code =
        rc ? redis_connect_addr(d, host, port, d->mode != MODE_CLUSTER, &rc->c, err, errlen)
           : SS_NOMEM;
    if (code != SS_OK) {
        if (!rc) redis_fmt_err(err, errlen, "out of memory");
        free(rc);
        pthread_mutex_lock(&n->mu);
        n->open--;
        pthread_cond_signal(&n->cv);
        pthread_mutex_unlock(&n->mu);
        return code;
    }
    rc->gen = gen;
    *out = rc;
    return SS_OK;
}

static void redis_checkin(rnode *n, rconn *c, bool broken)
{
    if (!c) return;
    pthread_mutex_lock(&n->mu);
    if (broken || c->gen != n->gen || c->c->err) {
        n->open--;
        pthread_cond_signal(&n->cv);
        pthread_mutex_unlock(&n->mu);
        redis_conn_free(c);
        return;
    }
    n->idle[n->nidle++] = c;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* ------------------------------------------------------------------------------------------ */
/* Topology: Sentinel discovery and the cluster slot map                                      */
/* ------------------------------------------------------------------------------------------ */

/* Asks each sentinel in turn for the master's address and points nodes[0] at it. */
static ss_code redis_sentinel_resolve(redis_drv *d, char *err, size_t errlen)
{
    pthread_mutex_lock(&d->sentinel_mu);
    ss_code last = SS_UNAVAILABLE;
    redis_fmt_err(err, errlen, "no sentinel answered");
    for (size_t i = 0; i < d->nseeds; i++) {
        redisContext *c =
            redisConnectWithTimeout(d->seeds[i], d->seed_ports[i], redis_tv_ms(d->dial_ms));
        if (!c || c->err) {
            redis_fmt_err(err, errlen, "sentinel %s:%d: %s", d->seeds[i], d->seed_ports[i],
                          redis_ctx_text(c));
            if (c) redisFree(c);
            continue;
        }
        redisSetTimeout(c, redis_tv_ms(d->read_ms));
        const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", d->master_name};
        size_t lens[3] = {8, 23, strlen(d->master_name)};
        redisReply *r = redisCommandArgv(c, 3, argv, lens);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            int port = atoi(r->element[1]->str);
            if (port > 0 && port <= 65535 && r->element[0]->len < SS_REDIS_HOST_MAX) {
                redis_node_move(d->nodes[0], r->element[0]->str, port);
                freeReplyObject(r);
                redisFree(c);
                pthread_mutex_unlock(&d->sentinel_mu);
                return SS_OK;
            }
        }
        if (r && r->type == REDIS_REPLY_NIL) {
            redis_fmt_err(err, errlen, "sentinel %s:%d does not know master \"%s\"", d->seeds[i],
                          d->seed_ports[i], d->master_name);
            last = SS_INVALID;
        } else if (r && r->type == REDIS_REPLY_ERROR) {
            /* e.g. "unknown command 'SENTINEL'": redisHost names a plain server */
            redis_fmt_err(err, errlen, "sentinel %s:%d: %s", d->seeds[i], d->seed_ports[i], r->str);
            last = SS_INVALID;
        } else if (!r) {
            redis_fmt_err(err, errlen, "sentinel %s:%d: %s", d->seeds[i], d->seed_ports[i],
                          redis_ctx_text(c));
        }
        if (r) freeReplyObject(r);
        redisFree(c);
    }
    pthread_mutex_unlock(&d->sentinel_mu);
    return last;
}

static void redis_resolve_quietly(redis_drv *d)
{
    char serr[CMD_ERR_MAX];
    (void)redis_sentinel_resolve(d, serr, sizeof serr);
}

/* The node serving host:port, added when new. Caller holds topo for writing. */
static int redis_node_index_locked(redis_drv *d, const char *host, int port)
{
    for (size_t i = 0; i < d->nnodes; i++)
        if (d->nodes[i]->port == port && strcmp(d->nodes[i]->host, host) == 0) return (int)i;
    if (d->nnodes >= MAX_NODES) return -1;
    rnode *n = redis_node_new(host, port);
    if (!n) return -1;
    n->idle = calloc(d->pool_size, sizeof *n->idle);
    if (!n->idle) {
        redis_node_free(n, d->pool_size);
        return -1;
    }
    d->nodes[d->nnodes] = n;
    return (int)d->nnodes++;
}

/* Reloads the slot map with CLUSTER SLOTS from the first node or seed that answers. */
static ss_code redis_cluster_refresh(redis_drv *d, bool force, char *err, size_t errlen)
{
    pthread_mutex_lock(&d->refresh_mu);
    int64_t now = ss_monotonic_ms();
    if (!force && now - d->last_refresh_ms < 100) {
        pthread_mutex_unlock(&d->refresh_mu);
        return SS_OK;
    }
    d->last_refresh_ms = now;

    /* Candidates: known nodes first (they reflect the current cluster), then the seeds. */
    char (*cand)[SS_REDIS_HOST_MAX] = calloc(MAX_NODES + d->nseeds, sizeof *cand);
    int *ports = calloc(MAX_NODES + d->nseeds, sizeof *ports);
    size_t nc = 0;
    if (!cand || !ports) {
        free(cand);
        free(ports);
        pthread_mutex_unlock(&d->refresh_mu);
        redis_fmt_err(err, errlen, "out of memory");
        return SS_NOMEM;
    }
    pthread_rwlock_rdlock(&d->topo);
    for (size_t i = 0; i < d->nnodes; i++) {
        snprintf(cand[nc], SS_REDIS_HOST_MAX, "%s", d->nodes[i]->host);
        ports[nc++] = d->nodes[i]->port;
    }
    pthread_rwlock_unlock(&d->topo);
    for (size_t i = 0; i < d->nseeds; i++) {
        snprintf(cand[nc], SS_REDIS_HOST_MAX, "%s", d->seeds[i]);
        ports[nc++] = d->seed_ports[i];
    }

    ss_code code = SS_UNAVAILABLE;
    redis_fmt_err(err, errlen, "no cluster node answered");
    for (size_t i = 0; i < nc; i++) {
        redisContext *c = NULL;
        char cerr[CMD_ERR_MAX];
        if (redis_connect_addr(d, cand[i], ports[i], false, &c, cerr, sizeof cerr) != SS_OK) {
            redis_fmt_err(err, errlen, "%s", cerr);
            continue;
        }
        const char *argv[2] = {"CLUSTER", "SLOTS"};
        size_t lens[2] = {7, 5};
        redisReply *r = redisCommandArgv(c, 2, argv, lens);
        ss_redis_range *ranges = NULL;
        int nr = -1;
        if (r && r->type == REDIS_REPLY_ERROR) {
            redis_fmt_err(err, errlen, "CLUSTER SLOTS on %s:%d: %s", cand[i], ports[i], r->str);
            code = SS_INVALID; /* e.g. "cluster support disabled": a configuration error */
        } else if (r) {
            nr = ss_redis_parse_slots(r, cand[i], &ranges);
            if (nr <= 0)
                redis_fmt_err(err, errlen, "CLUSTER SLOTS on %s:%d: %s", cand[i], ports[i],
                              nr == 0 ? "no slots assigned" : "malformed answer");
        } else {
            redis_fmt_err(err, errlen, "CLUSTER SLOTS on %s:%d: %s", cand[i], ports[i],
                          redis_ctx_text(c));
        }
        if (r) freeReplyObject(r);
        redisFree(c);
        if (nr <= 0) continue;

        pthread_rwlock_wrlock(&d->topo);
        for (int s = 0; s < SS_REDIS_SLOTS; s++) d->slots[s] = NO_NODE;
        bool ok = true;
        for (int j = 0; j < nr; j++) {
            int idx = redis_node_index_locked(d, ranges[j].host, ranges[j].port);
            if (idx < 0) {
                ok = false;
                break;
            }
            rnode *nd = d->nodes[idx];
            pthread_mutex_lock(&nd->mu);
            nd->replicas = ranges[j].replicas;
            nd->replicas_at = now;
            pthread_mutex_unlock(&nd->mu);
            for (int s = ranges[j].start; s <= ranges[j].end; s++) d->slots[s] = (uint16_t)idx;
        }
        pthread_rwlock_unlock(&d->topo);
        free(ranges);
        if (!ok) {
            redis_fmt_err(err, errlen, "more than %d cluster nodes", MAX_NODES);
            code = SS_BACKEND;
            break;
        }
        code = SS_OK;
        break;
    }
    free(cand);
    free(ports);
    pthread_mutex_unlock(&d->refresh_mu);
    return code;
}

static rnode *redis_node_for_slot(redis_drv *d, int slot)
{
    if (d->mode != MODE_CLUSTER) return d->nodes[0];
    rnode *n = NULL;
    pthread_rwlock_rdlock(&d->topo);
    if (slot >= 0 && d->slots[slot] != NO_NODE) n = d->nodes[d->slots[slot]];
    if (!n && d->nnodes > 0) n = d->nodes[0];
    pthread_rwlock_unlock(&d->topo);
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* The executor: pipelines on one connection per node, retries, NOSCRIPT, redirects           */
/* ------------------------------------------------------------------------------------------ */

/* Resets a command without zeroing its message buffer (bulk calls build hundreds). */
static void redis_cmd_init(rcmd *c)
{
    c->argc = 0;
    c->argv = NULL;
    c->argvlen = NULL;
    c->script = NULL;
    c->slot = -1;
    c->write = false;
    c->reply = NULL;
    c->code = SS_OK;
    c->unacked = false;
    c->err[0] = '\0';
}

static void redis_cmd_fail(rcmd *c, ss_code code, const char *text)
{
    if (c->reply) {
        freeReplyObject(c->reply);
        c->reply = NULL;
    }
    c->code = code;
    redis_fmt_err(c->err, sizeof c->err, "%s", text);
}

static int redis_wait_timeout_ms(const redis_drv *d)
{
    int64_t t = d->read_ms / 2;
    if (t > WAIT_MAX_MS) t = WAIT_MAX_MS;
    if (t < 1) t = 1;
    return (int)t;
}

/*
 * Runs cmds (all routed to node n) as one pipeline on one connection. `wait` appends
 * WAIT 1 <timeout> after the writes when the node has replicas. Every cmd ends with code set.
 */
static void redis_run_on_node(redis_drv *d, rnode *n, rcmd **cmds, size_t m, bool wait, bool asking)
{
    char err[CMD_ERR_MAX] = "";
    ss_code last = SS_UNAVAILABLE;
    int attempts = 1 + (d->max_retries > 0 ? d->max_retries : 0);
    for (int attempt = 0; attempt < attempts; attempt++) {
        if (attempt > 0) {
            int64_t b = (int64_t)BACKOFF_MIN_MS << (attempt - 1);
            redis_sleep_ms(b > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b);
            if (d->mode == MODE_SENTINEL) {
                char serr[CMD_ERR_MAX];
                if (redis_sentinel_resolve(d, serr, sizeof serr) != SS_OK)
                    redis_fmt_err(err, sizeof err, "%s", serr);
            }
        }
        rconn *rc = NULL;
        last = redis_checkout(d, n, &rc, err, sizeof err);
        if (last != SS_OK) {
            if (last == SS_UNAVAILABLE) continue;
            /* A master that does not even accept connections in time may be gone for good:
             * ask the sentinels, so the next call goes where they point. */
            if (last == SS_TIMEOUT && d->mode == MODE_SENTINEL) redis_resolve_quietly(d);
            break; /* pool exhausted, auth failure, bad SELECT: retrying does not help */
        }
        redisContext *c = rc->c;
        bool any_write = false;
        for (size_t i = 0; i < m; i++) any_write |= cmds[i]->write;
        int replicas = 0;
        if (wait && any_write) {
            /* Replicas come and go (a failover, a resync): recount before a strong write when
             * the count is older than 5 s (before the pipeline, which must be read in order). */
            pthread_mutex_lock(&n->mu);
            bool stale = n->replicas < 0 || ss_monotonic_ms() - n->replicas_at > 5000;
            pthread_mutex_unlock(&n->mu);
            if (stale) redis_probe_replicas(n, c);
            pthread_mutex_lock(&n->mu);
            replicas = n->replicas;
            pthread_mutex_unlock(&n->mu);
        }
        for (size_t i = 0; i < m; i++) {
            if (asking) redisAppendCommand(c, "ASKING");
            redisAppendCommandArgv(c, cmds[i]->argc, cmds[i]->argv, cmds[i]->argvlen);
        }
        bool do_wait = replicas > 0;
        if (do_wait) redisAppendCommand(c, "WAIT 1 %d", redis_wait_timeout_ms(d));

        size_t got = 0;
        bool broken = false, readonly = false;
        for (size_t i = 0; i < m; i++) {
            void *r = NULL;
            if (asking) {
                if (redisGetReply(c, &r) != REDIS_OK) {
                    broken = true;
                    break;
                }
                freeReplyObject(r);
                r = NULL;
            }
            if (redisGetReply(c, &r) != REDIS_OK) {
                broken = true;
                break;
            }
            cmds[i]->reply = r;
            cmds[i]->code = SS_OK;
            if (redis_reply_is_err(r, "READONLY")) readonly = true;
            got++;
        }
        if (!broken && do_wait) {
            void *r = NULL;
            if (redisGetReply(c, &r) != REDIS_OK) {
                broken = true;
            } else {
                redisReply *w = r;
                if (w->type != REDIS_REPLY_INTEGER || w->integer < 1)
                    for (size_t i = 0; i < m; i++) cmds[i]->unacked = cmds[i]->write;
                freeReplyObject(r);
            }
        }
        if (broken) {
            last = redis_ctx_code(c);
            redis_fmt_err(err, sizeof err, "%s:%d: %s", c->tcp.host ? c->tcp.host : "?",
                          c->tcp.port, redis_ctx_text(c));
            redis_checkin(n, rc, true);
            redis_node_flush_idle(n);
            if (got == 0 && last != SS_TIMEOUT) {
                /* Nothing came back: the commands most likely never ran (a dead pooled
                 * connection, a restarted server), so running them again is safe. */
                continue;
            }
            for (size_t i = got; i < m; i++) redis_cmd_fail(cmds[i], last, err);
            if (last == SS_TIMEOUT && d->mode == MODE_SENTINEL) redis_resolve_quietly(d);
            if (got == m) /* only the WAIT answer was lost: replication is unknown */
                for (size_t i = 0; i < m; i++) cmds[i]->unacked = cmds[i]->write;
            return;
        }
        if (readonly && d->mode == MODE_SENTINEL) {
            /* We reached a demoted master: find the new one and run everything again (a
             * replica rejected every write, and the reads are safe to repeat). */
            for (size_t i = 0; i < m; i++) {
                freeReplyObject(cmds[i]->reply);
                cmds[i]->reply = NULL;
                cmds[i]->unacked = false;
            }
            redis_checkin(n, rc, true);
            redis_node_flush_idle(n);
            last = SS_UNAVAILABLE;
            redis_fmt_err(err, sizeof err, "%s:%d is a replica now (READONLY)",
                          c->tcp.host ? c->tcp.host : "?", c->tcp.port);
            continue;
        }
        /* NOSCRIPT: the script cache is empty (restart, SCRIPT FLUSH, new node): send the
         * script body once with EVAL, which also caches it for the following EVALSHAs. */
        size_t nos = 0;
        for (size_t i = 0; i < m; i++) {
            if (cmds[i]->script && redis_reply_is_err(cmds[i]->reply, "NOSCRIPT")) {
                const char **argv = cmds[i]->argv;
                size_t *lens = cmds[i]->argvlen;
                const char *sv = argv[0], *sh = argv[1];
                size_t sl0 = lens[0], sl1 = lens[1];
                argv[0] = "EVAL";
                lens[0] = 4;
                argv[1] = cmds[i]->script;
                lens[1] = strlen(cmds[i]->script);
                if (asking) redisAppendCommand(c, "ASKING");
                redisAppendCommandArgv(c, cmds[i]->argc, argv, lens);
                argv[0] = sv;
                lens[0] = sl0;
                argv[1] = sh;
                lens[1] = sl1;
                nos++;
            }
        }
        if (nos > 0 && do_wait) redisAppendCommand(c, "WAIT 1 %d", redis_wait_timeout_ms(d));
        for (size_t i = 0; i < m && nos > 0; i++) {
            if (!(cmds[i]->script && redis_reply_is_err(cmds[i]->reply, "NOSCRIPT"))) continue;
            void *r = NULL;
            if (asking && redisGetReply(c, &r) == REDIS_OK) {
                freeReplyObject(r);
                r = NULL;
            }
            if (redisGetReply(c, &r) != REDIS_OK) {
                ss_code cc = redis_ctx_code(c);
                redis_fmt_err(err, sizeof err, "%s:%d: %s", c->tcp.host ? c->tcp.host : "?",
                              c->tcp.port, redis_ctx_text(c));
                for (size_t j = i; j < m; j++)
                    if (cmds[j]->script && redis_reply_is_err(cmds[j]->reply, "NOSCRIPT"))
                        redis_cmd_fail(cmds[j], cc, err);
                redis_checkin(n, rc, true);
                return;
            }
            freeReplyObject(cmds[i]->reply);
            cmds[i]->reply = r;
        }
        if (nos > 0 && do_wait) {
            /* This WAIT covers every earlier write on the connection: its answer wins. */
            void *r = NULL;
            if (redisGetReply(c, &r) == REDIS_OK) {
                redisReply *w = r;
                bool acked = w->type == REDIS_REPLY_INTEGER && w->integer >= 1;
                for (size_t i = 0; i < m; i++) cmds[i]->unacked = cmds[i]->write && !acked;
                freeReplyObject(r);
            } else {
                for (size_t i = 0; i < m; i++) cmds[i]->unacked = cmds[i]->write;
                redis_checkin(n, rc, true);
                return;
            }
        }
        redis_checkin(n, rc, false);
        return;
    }
    for (size_t i = 0; i < m; i++) redis_cmd_fail(cmds[i], last, err[0] ? err : "no connection");
}

/* Runs every command, routing by slot in cluster mode and following MOVED/ASK. */
static ss_code redis_exec_cmds(redis_drv *d, rcmd *cmds, size_t n, bool wait, ss_error *err)
{
    if (n == 0) return SS_OK;
    rcmd *small[4]; /* single operations: no allocation */
    rcmd **list = n <= 4 ? small : malloc(n * sizeof *list);
    if (!list) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (d->mode != MODE_CLUSTER) {
        for (size_t i = 0; i < n; i++) list[i] = &cmds[i];
        redis_run_on_node(d, d->nodes[0], list, n, wait, false);
        if (list != small) free(list);
        return SS_OK;
    }

    /* Group by node: one pipeline per node. */
    bool *done = calloc(n ? n : 1, sizeof *done);
    rnode **owner = malloc((n ? n : 1) * sizeof *owner);
    if (!done || !owner) {
        if (list != small) free(list);
        free(done);
        free(owner);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) owner[i] = redis_node_for_slot(d, cmds[i].slot);
    for (size_t i = 0; i < n; i++) {
        if (done[i]) continue;
        size_t m = 0;
        for (size_t j = i; j < n; j++) {
            if (!done[j] && owner[j] == owner[i]) {
                list[m++] = &cmds[j];
                done[j] = true;
            }
        }
        if (owner[i])
            redis_run_on_node(d, owner[i], list, m, wait, false);
        else
            for (size_t j = 0; j < m; j++)
                redis_cmd_fail(list[j], SS_UNAVAILABLE, "no cluster node known");
    }

    /* Follow redirects one command at a time (rare: only while slots move). */
    bool refresh = false;
    for (size_t i = 0; i < n; i++) {
        for (int hop = 0; hop < MAX_REDIRECTS && cmds[i].code == SS_OK; hop++) {
            redisReply *r = cmds[i].reply;
            if (r->type != REDIS_REPLY_ERROR) break;
            bool ask;
            int slot, port;
            char host[SS_REDIS_HOST_MAX];
            if (redis_reply_is_err(r, "TRYAGAIN") || redis_reply_is_err(r, "CLUSTERDOWN")) {
                redis_cmd_fail(&cmds[i], SS_UNAVAILABLE, r->str);
                refresh = true;
                break;
            }
            if (!ss_redis_parse_redirect(r->str, r->len, &ask, &slot, host, sizeof host, &port))
                break;
            rnode *target = NULL;
            pthread_rwlock_wrlock(&d->topo);
            int idx = redis_node_index_locked(d, host, port);
            if (idx >= 0) {
                target = d->nodes[idx];
                if (!ask) d->slots[slot] = (uint16_t)idx;
            }
            pthread_rwlock_unlock(&d->topo);
            if (!ask) refresh = true;
            if (!target) {
                redis_cmd_fail(&cmds[i], SS_BACKEND, "too many cluster nodes");
                break;
            }
            freeReplyObject(cmds[i].reply);
            cmds[i].reply = NULL;
            rcmd *one = &cmds[i];
            redis_run_on_node(d, target, &one, 1, wait, ask);
        }
    }
    for (size_t i = 0; i < n; i++) refresh |= cmds[i].code == SS_UNAVAILABLE;
    if (refresh) {
        char rerr[CMD_ERR_MAX];
        (void)redis_cluster_refresh(d, false, rerr, sizeof rerr);
    }
    if (list != small) free(list);
    free(done);
    free(owner);
    return SS_OK;
}

static void redis_cmds_release(rcmd *cmds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cmds[i].reply) freeReplyObject(cmds[i].reply);
}

/* ------------------------------------------------------------------------------------------ */
/* Operations                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Dapr's ETag is strconv.Atoi of the text; we accept the same (optional sign, decimal digits)
 * and compare in canonical form, since the stored version is always canonical. */
static bool redis_etag_canon(const char *etag, char out[24])
{
    const char *p = etag;
    bool neg = false;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (!*p) return false;
    unsigned long long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        if (v > (9223372036854775807ULL - (unsigned)(*p - '0')) / 10) return false;
        v = v * 10 + (unsigned)(*p - '0');
    }
    snprintf(out, 24, "%s%llu", neg && v ? "-" : "", v);
    return true;
}

static int64_t op_ttl(const redis_drv *d, const ss_op *op)
{
    if (op->ttl_mode == SS_TTL_SECONDS) return op->ttl_seconds;
    if (op->ttl_mode == SS_TTL_NONE) return -1;
    return d->default_ttl > 0 ? d->default_ttl : -1;
}

/* Argument storage for one write: the numbers the script takes as text. */
typedef struct wargs {
    const char *argv[8];
    size_t lens[8];
    char cond[2];
    char etag[24];
    char ttl[24];
} wargs;

static int redis_key_slot(const redis_drv *d, const ss_op *op)
{
    return d->mode == MODE_CLUSTER ? (int)ss_redis_key_slot(op->key, op->key_len) : -1;
}

/* Fills a SET/DEL command; ETAG_INVALID when the ETag is not a number. */
static ss_code redis_build_write(redis_drv *d, const ss_op *op, wargs *a, rcmd *c, ss_error *err)
{
    redis_cmd_init(c);
    bool set = op->kind == SS_DRV_SET;
    ss_cond cond = op->cond;
    a->cond[0] = (char)('0' + (int)cond);
    a->cond[1] = '\0';
    a->etag[0] = '\0';
    if (cond == SS_COND_MATCH && !redis_etag_canon(op->etag, a->etag))
        return ss_error_set(err, SS_ETAG_INVALID, "invalid etag value: \"%s\" is not a number",
                            op->etag);
    int i = 0;
    a->argv[i] = "EVALSHA";
    a->lens[i++] = 7;
    a->argv[i] = d->sha[set ? SCRIPT_SET : SCRIPT_DEL];
    a->lens[i++] = 40;
    a->argv[i] = "1";
    a->lens[i++] = 1;
    a->argv[i] = op->key;
    a->lens[i++] = op->key_len;
    a->argv[i] = a->cond;
    a->lens[i++] = 1;
    a->argv[i] = a->etag;
    a->lens[i++] = strlen(a->etag);
    if (set) {
        a->argv[i] = op->value;
        a->lens[i++] = op->value_len;
        int tl = snprintf(a->ttl, sizeof a->ttl, "%lld", (long long)op_ttl(d, op));
        a->argv[i] = a->ttl;
        a->lens[i++] = (size_t)tl;
    }
    c->argc = i;
    c->argv = a->argv;
    c->argvlen = a->lens;
    c->script = SCRIPTS[set ? SCRIPT_SET : SCRIPT_DEL];
    c->slot = redis_key_slot(d, op);
    c->write = true;
    return SS_OK;
}

/* Interprets a SET/DEL script answer; on success of a SET, *etag_out gets the new version. */
static ss_code redis_read_write(const ss_op *op, rcmd *c, char **etag_out, ss_error *err)
{
    if (c->code != SS_OK) return ss_error_set(err, c->code, "%s", c->err);
    redisReply *r = c->reply;
    if (r->type == REDIS_REPLY_ERROR) return ss_error_set(err, SS_BACKEND, "%s", r->str);
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        return ss_error_set(err, SS_BACKEND, "unexpected answer from the write script");
    const redisReply *v = r->element[1];
    if (r->element[0]->integer != 1) {
        const char *cur = v->type == REDIS_REPLY_STRING ? v->str : "";
        if (op->cond == SS_COND_ABSENT)
            return ss_error_set(err, SS_ETAG_MISMATCH,
                                "etag mismatch: key already exists (first-write)");
        if (!*cur)
            return ss_error_set(err, SS_ETAG_MISMATCH,
                                "etag mismatch: key does not exist (etag %s)", op->etag);
        return ss_error_set(err, SS_ETAG_MISMATCH, "etag mismatch: version %s != %s", op->etag,
                            cur);
    }
    if (c->unacked)
        return ss_error_set(err, SS_TIMEOUT,
                            "written, but no replica acknowledged it in time (WAIT 1)");
    if (etag_out && op->kind == SS_DRV_SET && v->type == REDIS_REPLY_INTEGER) {
        char buf[24];
        snprintf(buf, sizeof buf, "%lld", v->integer);
        *etag_out = ss_strdup(buf);
        if (!*etag_out) return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    return SS_OK;
}

/* GET reads with HMGET data version + PTTL, pipelined (the same two commands daprd's layout
 * needs; PTTL gives ttlExpireTime). */
typedef struct gargs {
    const char *argv[4];
    size_t lens[4];
    const char *pargv[2];
    size_t plens[2];
} gargs;

static void redis_build_get(redis_drv *d, const ss_op *op, gargs *a, rcmd *hm, rcmd *pt)
{
    redis_cmd_init(hm);
    redis_cmd_init(pt);
    a->argv[0] = "HMGET";
    a->lens[0] = 5;
    a->argv[1] = op->key;
    a->lens[1] = op->key_len;
    a->argv[2] = "data";
    a->lens[2] = 4;
    a->argv[3] = "version";
    a->lens[3] = 7;
    a->pargv[0] = "PTTL";
    a->plens[0] = 4;
    a->pargv[1] = op->key;
    a->plens[1] = op->key_len;
    hm->argc = 4;
    hm->argv = a->argv;
    hm->argvlen = a->lens;
    pt->argc = 2;
    pt->argv = a->pargv;
    pt->argvlen = a->plens;
    hm->slot = pt->slot = redis_key_slot(d, op);
}

/* A key written with plain SET (Dapr's pre-hash layout) is read as a value without ETag. */
static ss_code redis_get_plain(redis_drv *d, const ss_op *op, ss_value **out, ss_error *err)
{
    const char *argv[2] = {"GET", op->key};
    size_t lens[2] = {3, op->key_len};
    rcmd c = {.argc = 2, .argv = argv, .argvlen = lens, .slot = redis_key_slot(d, op)};
    ss_code code = redis_exec_cmds(d, &c, 1, false, err);
    if (code == SS_OK && c.code != SS_OK) code = ss_error_set(err, c.code, "%s", c.err);
    if (code == SS_OK) {
        if (c.reply->type == REDIS_REPLY_STRING) {
            *out = ss_value_new(c.reply->str, c.reply->len, NULL);
            if (!*out) code = ss_error_set(err, SS_NOMEM, "out of memory");
        } else if (c.reply->type == REDIS_REPLY_ERROR) {
            code = ss_error_set(err, SS_BACKEND, "%s", c.reply->str);
        }
    }
    redis_cmds_release(&c, 1);
    return code;
}

static ss_code redis_read_get(redis_drv *d, const ss_op *op, rcmd *hm, rcmd *pt, ss_value **out,
                              ss_error *err)
{
    *out = NULL;
    if (hm->code != SS_OK) return ss_error_set(err, hm->code, "%s", hm->err);
    redisReply *r = hm->reply;
    if (redis_reply_is_err(r, "WRONGTYPE")) return redis_get_plain(d, op, out, err);
    if (r->type == REDIS_REPLY_ERROR) return ss_error_set(err, SS_BACKEND, "%s", r->str);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return ss_error_set(err, SS_BACKEND, "unexpected HMGET answer");
    const redisReply *data = r->element[0], *ver = r->element[1];
    long long pttl = -2;
    if (pt->code == SS_OK && pt->reply->type == REDIS_REPLY_INTEGER) pttl = pt->reply->integer;
    if (data->type == REDIS_REPLY_NIL && ver->type == REDIS_REPLY_NIL) {
        if (pttl == -2) return SS_OK; /* missing */
        return ss_error_set(err, SS_BACKEND,
                            "required hash field 'data' or 'version' was not found");
    }
    if (data->type != REDIS_REPLY_STRING || ver->type != REDIS_REPLY_STRING)
        return ss_error_set(err, SS_BACKEND,
                            "required hash field 'data' or 'version' was not found");
    ss_value *v = ss_value_new(data->str, data->len, ver->str);
    if (!v) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (pttl > 0 && ss_value_set_expiry(v, ss_now_unix_ms() + pttl) != SS_OK) {
        ss_value_free(v);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    *out = v;
    return SS_OK;
}

static ss_code redis_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    redis_drv *d = self;
    gargs a;
    rcmd c[2];
    redis_build_get(d, op, &a, &c[0], &c[1]);
    ss_code code = redis_exec_cmds(d, c, 2, false, err);
    if (code == SS_OK) code = redis_read_get(d, op, &c[0], &c[1], out, err);
    redis_cmds_release(c, 2);
    return code;
}

static ss_code redis_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    redis_drv *d = self;
    wargs a;
    rcmd c;
    ss_code code = redis_build_write(d, op, &a, &c, err);
    if (code != SS_OK) return code;
    code = redis_exec_cmds(d, &c, 1, op->consistency == SS_CONSISTENCY_STRONG, err);
    if (code == SS_OK) code = redis_read_write(op, &c, etag_out, err);
    redis_cmds_release(&c, 1);
    return code;
}

static ss_code redis_del(void *self, const ss_op *op, ss_error *err)
{
    redis_drv *d = self;
    wargs a;
    rcmd c;
    ss_code code = redis_build_write(d, op, &a, &c, err);
    if (code != SS_OK) return code;
    code = redis_exec_cmds(d, &c, 1, op->consistency == SS_CONSISTENCY_STRONG, err);
    if (code == SS_OK) code = redis_read_write(op, &c, NULL, err);
    redis_cmds_release(&c, 1);
    return code;
}

static void redis_item_error(ss_item_result *it, ss_code code, const ss_error *e)
{
    it->code = code;
    it->error = ss_strdup(e->message);
}

static ss_code redis_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                              ss_error *err)
{
    redis_drv *d = self;
    gargs *a = malloc((count ? count : 1) * sizeof *a);
    rcmd *c = malloc((count ? 2 * count : 1) * sizeof *c);
    if (!a || !c) {
        free(a);
        free(c);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) redis_build_get(d, &ops[i], &a[i], &c[2 * i], &c[2 * i + 1]);
    ss_code code = redis_exec_cmds(d, c, 2 * count, false, err);
    for (size_t i = 0; code == SS_OK && i < count; i++) {
        ss_error e; /* filled before it is read */
        ss_value *v = NULL;
        ss_code ic = redis_read_get(d, &ops[i], &c[2 * i], &c[2 * i + 1], &v, &e);
        if (ic == SS_OK)
            out->items[i].value = v;
        else
            redis_item_error(&out->items[i], ic, &e);
    }
    redis_cmds_release(c, 2 * count);
    free(c);
    free(a);
    return code;
}

static ss_code redis_bulk_write(redis_drv *d, const ss_op *ops, size_t count, ss_results *out,
                                ss_error *err)
{
    wargs *a = malloc((count ? count : 1) * sizeof *a);
    rcmd *send = malloc((count ? count : 1) * sizeof *send);
    size_t *idx = malloc((count ? count : 1) * sizeof *idx);
    ss_code code = SS_OK;
    if (!a || !send || !idx) {
        code = ss_error_set(err, SS_NOMEM, "out of memory");
        goto done;
    }
    /* Items with a malformed ETag fail alone; the rest go out in one pipeline. An ss_error is
     * only read after a call filled it, so it is not zeroed (1 KiB per item). */
    size_t m = 0;
    bool strong = false;
    for (size_t i = 0; i < count; i++) {
        ss_error e;
        ss_code bc = redis_build_write(d, &ops[i], &a[i], &send[m], &e);
        if (bc != SS_OK) {
            redis_item_error(&out->items[i], bc, &e);
            continue;
        }
        strong |= ops[i].consistency == SS_CONSISTENCY_STRONG;
        idx[m++] = i;
    }
    code = redis_exec_cmds(d, send, m, strong, err);
    for (size_t j = 0; code == SS_OK && j < m; j++) {
        size_t i = idx[j];
        ss_error e;
        char *etag = NULL;
        ss_code ic =
            redis_read_write(&ops[i], &send[j], ops[i].kind == SS_DRV_SET ? &etag : NULL, &e);
        if (ic == SS_OK)
            out->items[i].etag = etag;
        else
            redis_item_error(&out->items[i], ic, &e);
    }
    redis_cmds_release(send, m);
done:
    free(send);
    free(idx);
    free(a);
    return code;
}

static ss_code redis_bulk_set(void *self, const ss_op *ops, size_t count, ss_results *out,
                              ss_error *err)
{
    return redis_bulk_write(self, ops, count, out, err);
}

static ss_code redis_bulk_delete(void *self, const ss_op *ops, size_t count, ss_results *out,
                                 ss_error *err)
{
    return redis_bulk_write(self, ops, count, out, err);
}

static ss_code redis_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                              size_t metadata_count, ss_error *err)
{
    redis_drv *d = self;
    if (count == 0) return SS_OK;
    if (d->mode == MODE_CLUSTER) {
        uint16_t s0 = ss_redis_key_slot(ops[0].key, ops[0].key_len);
        for (size_t i = 1; i < count; i++) {
            if (ss_redis_key_slot(ops[i].key, ops[i].key_len) != s0)
                return ss_error_set(err, SS_INVALID,
                                    "transaction keys \"%s\" and \"%s\" are in different cluster "
                                    "hash slots; use a hash tag (e.g. \"{order-7}:a\" and "
                                    "\"{order-7}:b\") so all keys of a transaction share one slot",
                                    ops[0].key, ops[i].key);
        }
    }
    size_t argc = 3 + count * 6;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lens = calloc(argc, sizeof *lens);
    char (*nums)[2][24] = calloc(count, sizeof *nums); /* etag, ttl per op */
    char (*conds)[2] = calloc(count, sizeof *conds);
    char numkeys[24];
    ss_code code = SS_OK;
    if (!argv || !lens || !nums || !conds) {
        code = ss_error_set(err, SS_NOMEM, "out of memory");
        goto done;
    }
    argv[0] = "EVALSHA";
    lens[0] = 7;
    argv[1] = d->sha[SCRIPT_TX];
    lens[1] = 40;
    argv[2] = numkeys;
    lens[2] = (size_t)snprintf(numkeys, sizeof numkeys, "%zu", count);
    bool strong = false;
    for (size_t i = 0; i < count; i++) {
        const ss_op *op = &ops[i];
        argv[3 + i] = op->key;
        lens[3 + i] = op->key_len;
        bool set = op->kind == SS_DRV_SET;
        ss_cond cond = op->cond;
        nums[i][0][0] = '\0';
        if (cond == SS_COND_MATCH && !redis_etag_canon(op->etag, nums[i][0])) {
            code = ss_error_set(err, SS_ETAG_INVALID,
                                "operation %zu (key \"%s\"): invalid etag value: \"%s\" is not a "
                                "number",
                                i + 1, op->key, op->etag);
            goto done;
        }
        conds[i][0] = (char)('0' + (int)cond);
        conds[i][1] = '\0';
        size_t b = 3 + count + i * 5;
        argv[b] = set ? "s" : "d";
        lens[b] = 1;
        argv[b + 1] = conds[i];
        lens[b + 1] = 1;
        argv[b + 2] = nums[i][0];
        lens[b + 2] = strlen(nums[i][0]);
        argv[b + 3] = set ? op->value : "";
        lens[b + 3] = set ? op->value_len : 0;
        lens[b + 4] = (size_t)snprintf(nums[i][1], sizeof nums[i][1], "%lld",
                                       (long long)(set ? op_ttl(d, op) : -1));
        argv[b + 4] = nums[i][1];
        strong |= op->consistency == SS_CONSISTENCY_STRONG;
    }
    rcmd c = {.argc = (int)argc,
              .argv = argv,
              .argvlen = lens,
              .script = TX_LUA,
              .slot = redis_key_slot(d, &ops[0]),
              .write = true};
    code = redis_exec_cmds(d, &c, 1, strong, err);
    if (code == SS_OK) {
        redisReply *r = c.reply;
        if (c.code != SS_OK) {
            code = ss_error_set(err, c.code, "%s", c.err);
        } else if (r->type == REDIS_REPLY_ERROR) {
            code = ss_error_set(err, SS_BACKEND, "%s", r->str);
        } else if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
                   r->element[0]->type != REDIS_REPLY_INTEGER) {
            code = ss_error_set(err, SS_BACKEND, "unexpected answer from the transaction script");
        } else if (r->element[0]->integer != 1) {
            long long at = r->elements >= 2 && r->element[1]->type == REDIS_REPLY_INTEGER
                               ? r->element[1]->integer
                               : 0;
            const char *cur = r->elements >= 3 && r->element[2]->type == REDIS_REPLY_STRING
                                  ? r->element[2]->str
                                  : "";
            if (at < 1 || (size_t)at > count) {
                code =
                    ss_error_set(err, SS_BACKEND, "unexpected answer from the transaction script");
            } else {
                const ss_op *op = &ops[at - 1];
                if (op->cond == SS_COND_MATCH && !*cur)
                    code =
                        ss_error_set(err, SS_ETAG_MISMATCH,
                                     "transaction not applied: operation %lld (key \"%s\"): etag "
                                     "mismatch: key does not exist (etag %s)",
                                     at, op->key, op->etag);
                else if (op->cond == SS_COND_MATCH)
                    code =
                        ss_error_set(err, SS_ETAG_MISMATCH,
                                     "transaction not applied: operation %lld (key \"%s\"): etag "
                                     "mismatch: version %s != %s",
                                     at, op->key, op->etag, cur);
                else if (op->cond == SS_COND_ABSENT)
                    code = ss_error_set(err, SS_ETAG_MISMATCH,
                                        "transaction not applied: operation %lld (key \"%s\"): key "
                                        "already exists (first-write)",
                                        at, op->key);
                else
                    code = ss_error_set(err, SS_BACKEND,
                                        "transaction not applied: operation %lld (key \"%s\"): "
                                        "stored version \"%s\" is not a number",
                                        at, op->key, cur);
            }
        } else if (c.unacked) {
            code =
                ss_error_set(err, SS_TIMEOUT,
                             "transaction applied, but no replica acknowledged it in time (WAIT)");
        }
    }
    redis_cmds_release(&c, 1);
done:
    free(argv);
    free(lens);
    free(nums);
    free(conds);
    (void)metadata;
    (void)metadata_count;
    return code;
}

static ss_code redis_ping(void *self, ss_error *err)
{
    redis_drv *d = self;
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    rcmd c = {.argc = 1, .argv = argv, .argvlen = lens, .slot = -1};
    ss_code code = redis_exec_cmds(d, &c, 1, false, err);
    if (code == SS_OK && c.code != SS_OK) code = ss_error_set(err, c.code, "%s", c.err);
    if (code == SS_OK && c.reply->type == REDIS_REPLY_ERROR)
        code = ss_error_set(err, SS_BACKEND, "%s", c.reply->str);
    redis_cmds_release(&c, 1);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Open / close                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void redis_close(void *self)
{
    redis_drv *d = self;
    for (size_t i = 0; i < d->nnodes; i++) redis_node_free(d->nodes[i], d->pool_size);
    d->nnodes = 0;
    free(d->slots);
    free(d->seeds);
    free(d->seed_ports);
    pthread_rwlock_destroy(&d->topo);
    pthread_mutex_destroy(&d->refresh_mu);
    pthread_mutex_destroy(&d->sentinel_mu);
}

static ss_code redis_parse_hosts(redis_drv *d, const char *hosts, ss_error *err)
{
    size_t n = 1;
    for (const char *p = hosts; *p; p++) n += *p == ',';
    d->seeds = calloc(n, sizeof *d->seeds);
    d->seed_ports = calloc(n, sizeof *d->seed_ports);
    if (!d->seeds || !d->seed_ports) return ss_error_set(err, SS_NOMEM, "out of memory");
    const char *p = hosts;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) p++, len--;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
        if (len > 0) {
            if (!ss_redis_split_addr(p, len, d->seeds[d->nseeds], SS_REDIS_HOST_MAX,
                                     &d->seed_ports[d->nseeds]))
                return ss_error_set(err, SS_INVALID,
                                    "property redisHost: \"%.*s\" is not host:port", (int)len, p);
            d->nseeds++;
        }
        if (!e) break;
        p = e + 1;
    }
    if (d->nseeds == 0) return ss_error_set(err, SS_INVALID, "property redisHost is empty");
    return SS_OK;
}

static ss_code redis_read_config(redis_drv *d, ss_ctx *ctx, ss_error *err)
{
    ss_code code =
        redis_parse_hosts(d, ss_prop(ctx, "redisHost") ? ss_prop(ctx, "redisHost") : "", err);
    if (code != SS_OK) return code;
    d->username = ss_prop(ctx, "redisUsername");
    d->password = ss_prop(ctx, "redisPassword");
    d->master_name = ss_prop(ctx, "sentinelMasterName");

    const char *type = ss_prop(ctx, "redisType");
    bool failover = false;
    if ((code = ss_prop_bool(ctx, "failover", &failover, err)) != SS_OK) return code;
    if (!type || !*type || strcasecmp(type, "node") == 0) {
        d->mode = failover ? MODE_SENTINEL : MODE_NODE;
    } else if (strcasecmp(type, "cluster") == 0) {
        if (failover)
            return ss_error_set(err, SS_INVALID,
                                "property failover=true cannot be combined with redisType=cluster");
        d->mode = MODE_CLUSTER;
    } else {
        return ss_error_set(err, SS_INVALID,
                            "property redisType: \"%s\" is not one of node, cluster", type);
    }
    if (d->mode == MODE_SENTINEL && (!d->master_name || !*d->master_name))
        return ss_error_set(err, SS_INVALID,
                            "property sentinelMasterName is required when failover is true");
    if (d->mode == MODE_NODE && d->nseeds > 1)
        return ss_error_set(err, SS_INVALID,
                            "property redisHost lists %zu hosts; a list needs redisType=cluster or "
                            "failover=true",
                            d->nseeds);

    /* The getters leave the preset value when a property is absent or empty. */
    int64_t v = 0;
    if ((code = ss_prop_int(ctx, "redisDB", 0, 65535, &v, err)) != SS_OK) return code;
    d->db = (int)v;
    v = 10;
    if ((code = ss_prop_int(ctx, "poolSize", 1, 1024, &v, err)) != SS_OK) return code;
    d->pool_size = (size_t)v;
    d->dial_ms = 5000;
    d->read_ms = 3000;
    if ((code = ss_prop_duration_ms(ctx, "dialTimeout", 1, &d->dial_ms, err)) != SS_OK) return code;
    if ((code = ss_prop_duration_ms(ctx, "readTimeout", 1, &d->read_ms, err)) != SS_OK) return code;
    if (ss_prop(ctx, "writeTimeout") && *ss_prop(ctx, "writeTimeout")) {
        if ((code = ss_prop_duration_ms(ctx, "writeTimeout", 1, &d->write_ms, err)) != SS_OK)
            return code;
    } else {
        d->write_ms = d->read_ms;
    }
    if (d->dial_ms <= 0 || d->read_ms <= 0 || d->write_ms <= 0)
        return ss_error_set(err, SS_INVALID,
                            "properties dialTimeout, readTimeout and writeTimeout must be > 0");
    d->pool_wait_ms = d->read_ms + 1000; /* go-redis's default poolTimeout */
    v = 3;
    const char *mr = ss_prop(ctx, "redisMaxRetries");
    if (mr && *mr)
        code = ss_prop_int(ctx, "redisMaxRetries", -1, 100, &v, err);
    else
        code = ss_prop_int(ctx, "maxRetries", -1, 100, &v, err);
    if (code != SS_OK) return code;
    d->max_retries = v == 0 ? 3 : (v < 0 ? 0 : (int)v); /* as go-redis: 0 = default, -1 = none */
    const char *ttl = ss_prop(ctx, "ttlInSeconds");
    d->default_ttl = 0;
    if (ttl && *ttl) {
        v = 0;
        if ((code = ss_prop_int(ctx, "ttlInSeconds", -1, 2147483647, &v, err)) != SS_OK)
            return code;
        d->default_ttl = v;
    }
    return SS_OK;
}

/* Loads the scripts on the first node so their SHA1s are known (other nodes answer NOSCRIPT
 * once and get the body by EVAL). */
static ss_code redis_load_scripts(redis_drv *d, ss_error *err)
{
    for (int s = 0; s < SCRIPT_COUNT; s++) {
        const char *argv[3] = {"SCRIPT", "LOAD", SCRIPTS[s]};
        size_t lens[3] = {6, 4, strlen(SCRIPTS[s])};
        rcmd c = {.argc = 3, .argv = argv, .argvlen = lens, .slot = -1};
        ss_code code = redis_exec_cmds(d, &c, 1, false, err);
        if (code == SS_OK && c.code != SS_OK) code = ss_error_set(err, c.code, "%s", c.err);
        if (code == SS_OK && (c.reply->type != REDIS_REPLY_STRING || c.reply->len != 40))
            code = ss_error_set(err, SS_BACKEND, "SCRIPT LOAD: %s",
                                c.reply->type == REDIS_REPLY_ERROR ? c.reply->str
                                                                   : "unexpected answer");
        if (code == SS_OK) memcpy(d->sha[s], c.reply->str, 41);
        redis_cmds_release(&c, 1);
        if (code != SS_OK) return code;
    }
    return SS_OK;
}

static ss_code redis_open(void *self, ss_ctx *ctx, ss_error *err)
{
    redis_drv *d = self;
    d->ctx = ctx;
    pthread_rwlock_init(&d->topo, NULL);
    pthread_mutex_init(&d->refresh_mu, NULL);
    pthread_mutex_init(&d->sentinel_mu, NULL);
    ss_code code = redis_read_config(d, ctx, err);
    if (code != SS_OK) goto fail;

    if (d->mode == MODE_CLUSTER) {
        d->slots = malloc(SS_REDIS_SLOTS * sizeof *d->slots);
        if (!d->slots) {
            code = ss_error_set(err, SS_NOMEM, "out of memory");
            goto fail;
        }
        for (int s = 0; s < SS_REDIS_SLOTS; s++) d->slots[s] = NO_NODE;
        char cerr[CMD_ERR_MAX];
        code = redis_cluster_refresh(d, true, cerr, sizeof cerr);
        if (code != SS_OK) {
            ss_error_set(err, code, "%s", cerr);
            goto fail;
        }
        if (d->db != 0) ss_log(ctx, SS_LOG_WARN, "redisDB is ignored in cluster mode");
    } else {
        /* node: the one host; sentinel: the master the sentinels name. */
        const char *host = d->seeds[0];
        int port = d->seed_ports[0];
        pthread_rwlock_wrlock(&d->topo);
        int idx = redis_node_index_locked(d, host, port);
        pthread_rwlock_unlock(&d->topo);
        if (idx < 0) {
            code = ss_error_set(err, SS_NOMEM, "out of memory");
            goto fail;
        }
        if (d->mode == MODE_SENTINEL) {
            char serr[CMD_ERR_MAX];
            code = redis_sentinel_resolve(d, serr, sizeof serr);
            if (code != SS_OK) {
                ss_error_set(err, code, "%s", serr);
                goto fail;
            }
        }
    }
    code = redis_load_scripts(d, err);
    if (code != SS_OK) goto fail;
    return SS_OK;
fail:
    redis_close(d);
    return code;
}

static const ss_property PROPS[] = {
    {"redisHost", true, false, NULL,
     "host:port of the server; a comma list of nodes (cluster) or sentinels (failover)"},
    {"redisUsername", false, false, NULL, "ACL user name (Redis 6+); empty = default user"},
    {"redisPassword", false, true, NULL, "password (AUTH)"},
    {"redisDB", false, false, "0", "database number selected after connecting (not in cluster)"},
    {"redisType", false, false, "node", "node or cluster"},
    {"failover", false, false, "false",
     "true: redisHost lists sentinels; needs sentinelMasterName"},
    {"sentinelMasterName", false, false, NULL, "the master name the sentinels monitor"},
    {"poolSize", false, false, "10", "most connections per node (callers beyond it wait)"},
    {"dialTimeout", false, false, "5s", "connect timeout (bare number = milliseconds)"},
    {"readTimeout", false, false, "3s", "socket read timeout (bare number = milliseconds)"},
    {"writeTimeout", false, false, NULL, "socket write timeout; default readTimeout"},
    {"maxRetries", false, false, "3",
     "retries of a command whose connection failed before any answer; -1 = none"},
    {"redisMaxRetries", false, false, NULL, "Dapr's spelling of maxRetries (wins when set)"},
    {"ttlInSeconds", false, false, NULL, "default TTL of every write without ttlInSeconds"},
    {"keyPrefix", false, false, NULL, "Dapr key prefixing; applied by the daemon, not the driver"},
};

const ss_driver ss_driver_redis = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "redis",
            .aliases = NULL,
            .version = "1.0.0",
            .summary = "Redis standalone, Sentinel or Cluster; Dapr's hash layout (data, version)",
            .features = {.flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE |
                                  SS_FEATURE_TRANSACTIONAL | SS_FEATURE_TTL |
                                  SS_FEATURE_BULK_NATIVE,
                         .max_tx_ops = 0,
                         .max_key_len = 0,
                         .max_value_len = 512u * 1024u * 1024u},
            .properties = PROPS,
            .property_count = sizeof PROPS / sizeof PROPS[0],
        },
    .instance_size = sizeof(redis_drv),
    .open = redis_open,
    .close = redis_close,
    .ping = redis_ping,
    .get = redis_get,
    .set = redis_set,
    .del = redis_del,
    .bulk_get = redis_bulk_get,
    .bulk_set = redis_bulk_set,
    .bulk_delete = redis_bulk_delete,
    .transact = redis_transact,
};

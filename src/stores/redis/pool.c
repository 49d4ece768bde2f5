/*
 * pool.c — the redis driver's nodes and their connection pools: connecting (dialTimeout, socket
 * timeouts, AUTH, SELECT), check-out/check-in bounded by poolSize, replica counts for WAIT,
 * and the small helpers every part of the driver uses.
 */
#include "redis_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* vsnprintf through a wrapper: messages are cut at the buffer size on purpose. */
void redis_fmt_err(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

void redis_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

struct timeval redis_tv_ms(int64_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

bool redis_reply_is_err(const redisReply *r, const char *prefix)
{
    size_t n = strlen(prefix);
    return r && r->type == REDIS_REPLY_ERROR && r->len >= n && memcmp(r->str, prefix, n) == 0;
}

/* A hiredis context error: a timeout (EAGAIN on a socket with SO_RCVTIMEO/SO_SNDTIMEO) is
 * TIMEOUT; everything else (refused, reset, EOF) is UNAVAILABLE. */
ss_code redis_ctx_code(const redisContext *c)
{
    if (c && c->err == REDIS_ERR_IO &&
        (strstr(c->errstr, "temporarily unavailable") || strstr(c->errstr, "timed out")))
        return SS_TIMEOUT;
    if (c && c->err == REDIS_ERR_OOM) return SS_NOMEM;
    if (c && c->err == REDIS_ERR_PROTOCOL) return SS_BACKEND;
    return SS_UNAVAILABLE;
}

const char *redis_ctx_text(const redisContext *c)
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

rnode *redis_node_new(const char *host, int port)
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

void redis_node_free(rnode *n, size_t pool_size)
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
void redis_node_flush_idle(rnode *n)
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
void redis_node_move(rnode *n, const char *host, int port)
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
ss_code redis_connect_addr(redis_drv *d, const char *host, int port, bool select_db,
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
void redis_probe_replicas(rnode *n, redisContext *c)
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

ss_code redis_checkout(redis_drv *d, rnode *n, rconn **out, char *err, size_t errlen)
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

void redis_checkin(rnode *n, rconn *c, bool broken)
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

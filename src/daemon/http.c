/*
 * http.c — the HTTP front end: libmicrohttpd (thread pool + epoll) turning connections into
 * hreq/hresp for api.c, with the body, header, connection and request-time limits.
 */
#include "daemon.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    if (SS_LOG_WARN > dlog_level) return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    dlog(SS_LOG_WARN, "http: %s", msg);
}

struct http_server {
    const dserver *api;
    struct MHD_Daemon *mhd;
    size_t max_body;
    atomic_long inflight;
    atomic_long conns;  /* open connections, counted by on_connection */
    long max_conns;     /* --max-connections; 0 = no limit of ours */
    long req_timeout_s; /* --request-timeout */
};
typedef struct http_server server;

/* Per request: the body as it arrives. */
typedef struct reqctx {
    char *body;
    size_t len, cap;
    bool too_large;
    bool responded;
    size_t expect;         /* Content-Length, 0 when absent */
    struct timespec start; /* headers complete */
} reqctx;

typedef struct qctx {
    ss_pair *pairs;
    size_t n, cap;
    bool bad;
    bool oom;
} qctx;

/* Identity: keep the raw escaped path and query so they are decoded once, Go's way. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    qctx *q = cls;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 8;
        ss_pair *p = realloc(q->pairs, cap * sizeof *p);
        if (!p) {
            q->oom = true;
            return MHD_NO;
        }
        q->pairs = p;
        q->cap = cap;
    }
    size_t kl = strlen(key), vl = value ? strlen(value) : 0;
    char *k = malloc(kl + 1), *v = malloc(vl + 1);
    if (!k || !v) {
        free(k);
        free(v);
        q->oom = true;
        return MHD_NO;
    }
    if (ss_pct_decode(k, key, kl, SS_PCT_PLUS) < 0 ||
        ss_pct_decode(v, value ? value : "", vl, SS_PCT_PLUS) < 0) {
        free(k);
        free(v);
        q->bad = true;
        return MHD_NO;
    }
    q->pairs[q->n].name = k;
    q->pairs[q->n].value = v;
    q->n++;
    return MHD_YES;
}

static void qctx_free(qctx *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free((char *)q->pairs[i].name);
        free((char *)q->pairs[i].value);
    }
    free(q->pairs);
}

static void free_value(void *cls)
{
    ss_value_free(cls);
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, hresp *r)
{
    struct MHD_Response *mr;
    /* MHD copies header strings, so the borrowed ETag may be added before the value moves. */
    const char *etag = r->etag;
    if (r->value) {
        mr = MHD_create_response_from_buffer_with_free_callback_cls(r->len, r->body, free_value,
                                                                    r->value);
        if (mr) r->value = NULL, r->body = NULL;
    } else if (r->body) {
        mr = MHD_create_response_from_buffer_with_free_callback(r->len, r->body, free);
        if (mr) r->body = NULL;
    } else {
        mr = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    if (!mr) return MHD_NO;
    if (r->content_type) MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (etag) MHD_add_response_header(mr, MHD_HTTP_HEADER_ETAG, etag);
    for (size_t i = 0; i < r->nheaders; i++)
        MHD_add_response_header(mr, r->headers[2 * i], r->headers[2 * i + 1]);
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ok;
}

static void log_request(const char *method, const char *url, const hresp *r)
{
    if (r->status >= 500)
        dlog(SS_LOG_WARN, "%s %s -> %d: %s", method, url, r->status, r->errmsg ? r->errmsg : "");
    else
        dlog(SS_LOG_DEBUG, "%s %s -> %d%s%s", method, url, r->status, r->errmsg ? ": " : "",
             r->errmsg ? r->errmsg : "");
}

static enum MHD_Result simple_error(struct MHD_Connection *conn, const char *method,
                                    const char *url, int status, const char *code, const char *msg)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "{\"errorCode\":\"%s\",\"message\":\"%s\"}", code, msg);
    hresp r = {.status = status, .content_type = "application/json", .errmsg = msg};
    r.body = malloc((size_t)n + 1);
    if (!r.body) return MHD_NO;
    memcpy(r.body, buf, (size_t)n + 1);
    r.len = (size_t)n;
    log_request(method, url, &r);
    r.errmsg = NULL;
    enum MHD_Result ok = send_resp(conn, &r);
    hresp_free(&r);
    return ok;
}

static enum MHD_Result serve(server *srv, struct MHD_Connection *conn, const char *url,
                             const char *method, reqctx *ctx)
{
    qctx q = {0};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, &q);
    if (q.oom) {
        qctx_free(&q);
        return MHD_NO;
    }
    if (q.bad) {
        qctx_free(&q);
        return simple_error(conn, method, url, 400, "ERR_MALFORMED_REQUEST",
                            "invalid URL escape in a query parameter");
    }
    hreq req = {
        .method = method,
        .path = url,
        .query = q.pairs,
        .nquery = q.n,
        .if_match = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-Match"),
        .token = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "dapr-api-token"),
        .body = ctx ? ctx->body : NULL,
        .body_len = ctx ? ctx->len : 0,
    };
    hresp r;
    api_handle(srv->api, &req, &r);
    log_request(method, url, &r);
    enum MHD_Result ok = send_resp(conn, &r);
    hresp_free(&r);
    qctx_free(&q);
    return ok;
}

/* How much of an over-limit body is read and thrown away so the client can read its 413 (a
 * client that is not waiting for "100 Continue" is still sending, and closing on it makes it
 * see a reset instead of the answer). Past this the connection is cut. */
static size_t drain_limit(const server *srv)
{
    return srv->max_body * 4 + (1u << 20);
}

static bool request_late(const server *srv, const reqctx *ctx)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec - ctx->start.tv_sec > srv->req_timeout_s ||
           (now.tv_sec - ctx->start.tv_sec == srv->req_timeout_s &&
            now.tv_nsec >= ctx->start.tv_nsec);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode toe)
{
    server *srv = cls;
    static char over_limit; /* marker: this connection was accepted over --max-connections */
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        long n = atomic_fetch_add(&srv->conns, 1) + 1;
        /* decided at accept time, so connections already open keep being served */
        *socket_ctx = srv->max_conns && n > srv->max_conns ? &over_limit : NULL;
    } else {
        atomic_fetch_sub(&srv->conns, 1);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    server *srv = cls;
    reqctx *ctx = *con_cls;
    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        if (!ctx) return MHD_NO;
        *con_cls = ctx;
        atomic_fetch_add(&srv->inflight, 1);
        clock_gettime(CLOCK_MONOTONIC, &ctx->start);
        /* Over --max-connections: answered (and closed) rather than silently dropped, so the
         * client learns why. MHD's own hard limit is set a little above ours for this. */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (ci && ci->socket_context) {
            ctx->responded = true;
            return simple_error(conn, method, url, 503, "ERR_TOO_MANY_CONNECTIONS",
                                "too many open connections (--max-connections); retry later");
        }
        /* A response queued before MHD has read the whole request makes it close the
         * connection, so only an over-limit body is answered here. */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            bool bad_len = errno != 0;
            if (bad_len || n > srv->max_body) {
                const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
                if (!bad_len && n <= drain_limit(srv) &&
                    !(expect && strcasecmp(expect, "100-continue") == 0)) {
                    /* the body is on its way: read it (discarding), then answer 413 */
                    ctx->too_large = true;
                    ctx->expect = (size_t)n;
                    return MHD_YES;
                }
                /* waiting for 100 Continue (it gets the 413 instead), or too big to drain */
                ctx->responded = true;
                return simple_error(conn, method, url, 413, "ERR_REQUEST_TOO_LARGE",
                                    "the request body is larger than --max-body-size");
            }
            ctx->expect = (size_t)n;
            /* the length is known and within the limit: one allocation for the whole body */
            if (n > 0 && (ctx->body = malloc((size_t)n + 1)) != NULL) ctx->cap = (size_t)n + 1;
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        bool completes = ctx->expect && ctx->len + n >= ctx->expect;
        if (!ctx->responded && !completes && request_late(srv, ctx)) {
            /* MHD accepts no response while a body is still arriving: a client this slow is
             * cut off. The last piece of a late body is let through: it gets a 408 below. */
            dlog(SS_LOG_WARN,
                 "%s %s: closing the connection: the request body did not arrive "
                 "within --request-timeout (%ld s)",
                 method, url, srv->req_timeout_s);
            return MHD_NO;
        }
        if (ctx->responded || ctx->too_large) {
            /* An over-limit body (chunked, or declared without Expect: 100-continue) is
             * drained, bounded, and answered 413 at the end; a client that keeps going far
             * past the limit is cut off. */
            if (ctx->too_large) {
                ctx->len += n;
                if (ctx->len > drain_limit(srv)) return MHD_NO;
            }
            return MHD_YES;
        }
        if (ctx->len + n > srv->max_body) {
            ctx->too_large = true;
            free(ctx->body);
            ctx->body = NULL;
            ctx->len += n;
            return MHD_YES;
        }
        if (ctx->len + n + 1 > ctx->cap) {
            size_t cap = ctx->cap ? ctx->cap : 1024;
            while (cap < ctx->len + n + 1) cap *= 2;
            char *p = realloc(ctx->body, cap);
            if (!p) return MHD_NO;
            ctx->body = p;
            ctx->cap = cap;
        }
        memcpy(ctx->body + ctx->len, upload_data, n);
        ctx->len += n;
        ctx->body[ctx->len] = '\0';
        return MHD_YES;
    }
    if (ctx->responded) return MHD_YES;
    ctx->responded = true;
    if (request_late(srv, ctx))
        return simple_error(conn, method, url, 408, "ERR_REQUEST_TIMEOUT",
                            "the request body did not arrive within --request-timeout");
    if (ctx->too_large)
        return simple_error(conn, method, url, 413, "ERR_REQUEST_TOO_LARGE",
                            "the request body is larger than --max-body-size");
    return serve(srv, conn, url, method, ctx);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    server *srv = cls;
    reqctx *ctx = *con_cls;
    if (!ctx) return;
    free(ctx->body);
    free(ctx);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

http_server *http_start(const dserver *api, const options *o, const struct sockaddr_storage *addr,
                        unsigned conn_limit)
{
    server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        dlog(SS_LOG_ERROR, "out of memory");
        return NULL;
    }
    srv->api = api;
    srv->max_body = o->max_body;
    srv->req_timeout_s = o->request_timeout_s;
    if (o->max_conns) {
        srv->max_conns = o->max_conns;
        /* room above ours to accept, answer 503 and close */
        if (o->max_conns + 64u < conn_limit) conn_limit = o->max_conns + 64u;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (addr->ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* A burst of thousands of connects (a fleet of clients reconnecting at once) must not
     * overflow the accept queue while the workers catch up: the kernel silently drops the
     * handshakes that do not fit. It caps this at net.core.somaxconn. */
    const unsigned listen_backlog = 4096;
    srv->mhd = MHD_start_daemon(
        flags, (uint16_t)o->port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr, MHD_OPTION_THREAD_POOL_SIZE,
        o->threads, MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        conn_limit, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_UNESCAPE_CALLBACK,
        no_unescape, NULL, MHD_OPTION_LISTEN_BACKLOG_SIZE, listen_backlog,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->header_size, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, srv, MHD_OPTION_END);
    if (!srv->mhd) {
        dlog(SS_LOG_ERROR, "cannot listen on %s:%u: %s", o->listen, o->port, strerror(errno));
        free(srv);
        return NULL;
    }
    return srv;
}

unsigned http_port(const http_server *srv, unsigned fallback)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : fallback;
}

void http_quiesce(http_server *srv)
{
    MHD_socket lfd = MHD_quiesce_daemon(srv->mhd);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
}

long http_inflight(const http_server *srv)
{
    return atomic_load(&srv->inflight);
}

void http_stop(http_server *srv)
{
    if (!srv) return;
    MHD_stop_daemon(srv->mhd);
    free(srv);
}

/*
 * grpc_conn.c — gRPC's HTTP/2 mapping (grpc/doc/PROTOCOL-HTTP2.md) for unary calls over
 * libnghttp2's protocol engine: request headers and length-prefixed message in, response
 * headers, message and trailers (or a trailers-only error) out. libnghttp2 does the framing,
 * HPACK and flow control; this file only maps streams to calls.
 */
#include "grpc_conn.h"

#include "grpc_api.h"

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVICE_PREFIX "/dapr.proto.runtime.v1.Dapr/"
/* Go, Java and .NET clients multiplex every call on one connection. */
#define MAX_STREAMS 256
/* A 4 MiB message fits one stream window, so a client never waits for a WINDOW_UPDATE on a
 * request within the limit; the connection window admits several at once. */
#define STREAM_WINDOW (4 << 20)
#define CONN_WINDOW   (32 << 20)
#define MAX_HEADERS   (64u << 10)
/* Request bytes held at once on one connection, over all its streams: 256 streams of a 4 MiB
 * message each would be 1 GiB. Past this a stream is refused (ResourceExhausted). */
#define CONN_BUFFERED(max_msg) ((max_msg) * 4 + (16u << 20))

typedef struct gstream {
    struct gstream *prev, *next; /* the connection's open streams */
    int32_t id;
    char method[8];
    char path[256];
    bool path_long;
    char content_type[96];
    bool has_ct;
    char encoding[32]; /* grpc-encoding */
    char *token;       /* dapr-api-token, owned */
    size_t token_len;
    uint8_t *in; /* request bytes: prefix + message */
    size_t in_len, in_cap;
    bool ended;    /* the client half-closed: the request is complete */
    bool answered; /* a response is queued */
    gresult res;   /* the response message (body + prefix) */
    size_t out_off;
    char status[4]; /* grpc-status text for the trailers */
    char *message;  /* percent-encoded grpc-message, owned */
} gstream;

struct gconn {
    nghttp2_session *session;
    const dserver *api;
    size_t max_msg;
    gstream *streams; /* open streams: nghttp2_session_del does not report them closed */
    size_t nstreams;
    size_t buffered; /* request bytes held by all streams */
    bool failed;
};

/* Drops a stream's request bytes (used, refused or abandoned). */
static void drop_in(gconn *c, gstream *s)
{
    c->buffered -= s->in_len;
    free(s->in);
    s->in = NULL;
    s->in_len = s->in_cap = 0;
}

static void stream_free(gstream *s)
{
    if (!s) return;
    free(s->token);
    free(s->in);
    free(s->message);
    gresult_free(&s->res);
    free(s);
}

/* grpc-message is percent-encoded: bytes outside printable ASCII, and '%', as %XX. */
static char *percent_encode(const char *msg)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(msg);
    char *out = malloc(n * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)msg[i];
        if (ch < 0x20 || ch > 0x7e || ch == '%') {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
    return out;
}

#define NV(n, v)                                                                                   \
    {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME}

static void log_call(const gstream *s, int status, const char *msg)
{
    const char *m = strncmp(s->path, SERVICE_PREFIX, sizeof SERVICE_PREFIX - 1) == 0
                        ? s->path + sizeof SERVICE_PREFIX - 1
                        : s->path;
    if (status == GRPC_INTERNAL || status == GRPC_UNKNOWN)
        dlog(SS_LOG_WARN, "gRPC %s -> %d: %s", m, status, msg);
    else
        dlog(SS_LOG_DEBUG, "gRPC %s -> %d%s%s", m, status, *msg ? ": " : "", msg);
}

/* An error answered in one HEADERS frame that ends the stream (gRPC's "trailers-only"). */
static int answer_error(gconn *c, gstream *s, const char *http_status, int status, const char *msg)
{
    log_call(s, status, msg);
    s->answered = true;
    snprintf(s->status, sizeof s->status, "%d", status);
    free(s->message);
    s->message = percent_encode(msg);
    if (!s->message) return NGHTTP2_ERR_CALLBACK_FAILURE;
    nghttp2_nv hdrs[] = {
        NV(":status", http_status),
        NV("content-type", "application/grpc"),
        NV("grpc-status", s->status),
        NV("grpc-message", s->message),
    };
    int rv = nghttp2_submit_response(c->session, s->id, hdrs, sizeof hdrs / sizeof hdrs[0], NULL);
    return rv == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static ssize_t read_body(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *source, void *user_data)
{
    gstream *s = source->ptr;
    size_t total = s->res.len + 5;
    size_t n = total - s->out_off;
    if (n > length) n = length;
    memcpy(buf, s->res.body + s->out_off, n);
    s->out_off += n;
    if (s->out_off == total) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_nv trailers[] = {NV("grpc-status", "0")};
        if (nghttp2_submit_trailer(session, id, trailers, 1) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

/* The request headers are in: a request that is not a gRPC call to our service is answered at
 * once, before its body is read. */
static int check_headers(gconn *c, gstream *s)
{
    if (strcmp(s->method, "POST") != 0)
        return answer_error(c, s, "405", GRPC_INTERNAL, "gRPC requires the POST method");
    const char *ct = s->content_type;
    bool grpc_ct = s->has_ct && strncmp(ct, "application/grpc", 16) == 0 &&
                   (ct[16] == '\0' || ct[16] == ';' || strncmp(ct + 16, "+proto", 6) == 0);
    if (!grpc_ct) {
        char m[160];
        snprintf(m, sizeof m, "invalid gRPC request content-type \"%s\"", s->has_ct ? ct : "");
        return answer_error(c, s, "415", GRPC_INTERNAL, m);
    }
    if (s->path_long || strncmp(s->path, SERVICE_PREFIX, sizeof SERVICE_PREFIX - 1) != 0) {
        char m[400];
        const char *svc = s->path[0] == '/' ? s->path + 1 : s->path;
        int sl = (int)strcspn(svc, "/");
        snprintf(m, sizeof m, "unknown service %.*s", sl, svc);
        return answer_error(c, s, "200", GRPC_UNIMPLEMENTED, m);
    }
    return 0;
}

/* The request is complete: check the framing, run the call, queue the answer. */
static int serve(gconn *c, gstream *s)
{
    if (s->in_len < 5)
        return answer_error(c, s, "200", GRPC_INTERNAL,
                            s->in_len ? "grpc: the request message prefix is cut short"
                                      : "grpc: a unary call needs one request message, got none");
    uint32_t mlen =
        (uint32_t)s->in[1] << 24 | (uint32_t)s->in[2] << 16 | (uint32_t)s->in[3] << 8 | s->in[4];
    if ((size_t)mlen + 5 != s->in_len) {
        char m[160];
        snprintf(m, sizeof m,
                 (size_t)mlen + 5 < s->in_len
                     ? "grpc: a unary call takes one request message, got more"
                     : "grpc: the request message is cut short (%zu of %u bytes)",
                 s->in_len - 5, mlen);
        return answer_error(c, s, "200", GRPC_INTERNAL, m);
    }
    if (s->in[0] != 0) {
        char m[160];
        if (s->in[0] != 1)
            snprintf(m, sizeof m, "grpc: invalid message flags 0x%02x", s->in[0]);
        else if (!s->encoding[0] || strcmp(s->encoding, "identity") == 0)
            snprintf(m, sizeof m, "grpc: compressed flag set with identity or empty encoding");
        else
            snprintf(m, sizeof m, "grpc: Decompressor is not installed for grpc-encoding \"%s\"",
                     s->encoding);
        return answer_error(
            c, s, "200", s->in[0] == 1 && s->encoding[0] ? GRPC_UNIMPLEMENTED : GRPC_INTERNAL, m);
    }
    grpc_api_call(c->api, s->path + sizeof SERVICE_PREFIX - 1, s->token, s->token_len, s->in + 5,
                  mlen, &s->res);
    drop_in(c, s);
    if (s->res.status != GRPC_OK) return answer_error(c, s, "200", s->res.status, s->res.msg);
    log_call(s, GRPC_OK, "");
    uint8_t *p = s->res.body;
    size_t len = s->res.len;
    p[0] = 0;
    p[1] = (uint8_t)(len >> 24);
    p[2] = (uint8_t)(len >> 16);
    p[3] = (uint8_t)(len >> 8);
    p[4] = (uint8_t)len;
    s->answered = true;
    nghttp2_nv hdrs[] = {
        NV(":status", "200"),
        NV("content-type", "application/grpc"),
        NV("grpc-accept-encoding", "identity"),
    };
    nghttp2_data_provider dp = {.source.ptr = s, .read_callback = read_body};
    return nghttp2_submit_response(c->session, s->id, hdrs, 3, &dp) == 0
               ? 0
               : NGHTTP2_ERR_CALLBACK_FAILURE;
}

/* ---------------------------------------------------------------------------------------- */
/* nghttp2 callbacks                                                                         */
/* ---------------------------------------------------------------------------------------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    gconn *c = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    gstream *s = calloc(1, sizeof *s);
    if (!s) return NGHTTP2_ERR_CALLBACK_FAILURE;
    s->id = frame->hd.stream_id;
    nghttp2_session_set_stream_user_data(session, s->id, s);
    s->next = c->streams;
    if (c->streams) c->streams->prev = s;
    c->streams = s;
    c->nstreams++;
    return 0;
}

static void copy_value(char *dst, size_t cap, const uint8_t *v, size_t vlen, bool *too_long)
{
    if (vlen >= cap) {
        if (too_long) *too_long = true;
        vlen = cap - 1;
    }
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    gstream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!s) return 0;
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
    if (IS(":method")) {
        copy_value(s->method, sizeof s->method, value, valuelen, NULL);
    } else if (IS(":path")) {
        copy_value(s->path, sizeof s->path, value, valuelen, &s->path_long);
    } else if (IS("content-type")) {
        copy_value(s->content_type, sizeof s->content_type, value, valuelen, NULL);
        s->has_ct = true;
    } else if (IS("grpc-encoding")) {
        copy_value(s->encoding, sizeof s->encoding, value, valuelen, NULL);
    } else if (IS("dapr-api-token")) {
        free(s->token);
        s->token = malloc(valuelen + 1);
        if (!s->token) return NGHTTP2_ERR_CALLBACK_FAILURE;
        memcpy(s->token, value, valuelen);
        s->token[valuelen] = '\0';
        s->token_len = valuelen;
    }
#undef IS
    return 0;
}

static int too_big(gconn *c, gstream *s, size_t size)
{
    char m[200];
    snprintf(m, sizeof m, "grpc: received message larger than max (%zu vs. %zu)", size, c->max_msg);
    drop_in(c, s);
    return answer_error(c, s, "200", GRPC_RESOURCE_EXHAUSTED, m);
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    gconn *c = user;
    gstream *s = nghttp2_session_get_stream_user_data(session, id);
    if (!s || s->answered) return 0; /* answered early: the rest is discarded */
    size_t limit = c->max_msg + 5;
    size_t need = s->in_len + len;
    if (need > limit) return too_big(c, s, need - 5);
    if (c->buffered + len > CONN_BUFFERED(c->max_msg)) {
        drop_in(c, s);
        return answer_error(c, s, "200", GRPC_RESOURCE_EXHAUSTED,
                            "grpc: too much request data in flight on this connection");
    }
    if (need > s->in_cap) {
        size_t cap = s->in_cap ? s->in_cap * 2 : 1024;
        if (cap > limit) cap = limit;
        if (cap < need) cap = need;
        uint8_t *p = realloc(s->in, cap);
        if (!p) return NGHTTP2_ERR_CALLBACK_FAILURE;
        s->in = p;
        s->in_cap = cap;
    }
    memcpy(s->in + s->in_len, data, len);
    s->in_len = need;
    c->buffered += len;
    /* the declared length refuses an oversized message before its body is stored */
    if (s->in_len >= 5) {
        size_t declared = (size_t)((uint32_t)s->in[1] << 24 | (uint32_t)s->in[2] << 16 |
                                   (uint32_t)s->in[3] << 8 | s->in[4]);
        if (declared > c->max_msg) return too_big(c, s, declared);
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    gconn *c = user;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    gstream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!s) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        int rv = check_headers(c, s);
        if (rv != 0) return rv;
    }
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    s->ended = true;
    if (s->answered) return 0;
    return serve(c, s);
}

/* After an early answer (a message over the limit) the client may still be sending: tell it
 * to stop, without an error, once the answer is out (RFC 9113 section 8.1). */
static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    gstream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s && !s->ended)
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_NO_ERROR);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t id, uint32_t error_code, void *user)
{
    gconn *c = user;
    gstream *s = nghttp2_session_get_stream_user_data(session, id);
    if (!s) return 0;
    nghttp2_session_set_stream_user_data(session, id, NULL);
    drop_in(c, s);
    if (s->prev)
        s->prev->next = s->next;
    else
        c->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    stream_free(s);
    c->nstreams--;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Connection                                                                                */
/* ---------------------------------------------------------------------------------------- */

gconn *gconn_new(const gconn_config *cfg)
{
    gconn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->api = cfg->api;
    c->max_msg = cfg->max_msg;
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0) {
        free(c);
        return NULL;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_option *opt = NULL;
    int rv = nghttp2_option_new(&opt);
    if (rv == 0) {
        nghttp2_option_set_max_send_header_block_length(opt, MAX_HEADERS);
        rv = nghttp2_session_server_new2(&c->session, cb, c, opt);
        nghttp2_option_del(opt);
    }
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) {
        free(c);
        return NULL;
    }
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADERS},
    };
    if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) ||
        nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW)) {
        gconn_free(c);
        return NULL;
    }
    return c;
}

void gconn_free(gconn *c)
{
    if (!c) return;
    nghttp2_session_del(c->session);
    for (gstream *s = c->streams, *next; s; s = next) {
        next = s->next;
        stream_free(s);
    }
    free(c);
}

bool gconn_recv(gconn *c, const uint8_t *data, size_t len)
{
    ssize_t rv = nghttp2_session_mem_recv(c->session, data, len);
    if (rv < 0) {
        dlog(SS_LOG_DEBUG, "gRPC connection: %s", nghttp2_strerror((int)rv));
        if (rv != NGHTTP2_ERR_BAD_CLIENT_MAGIC)
            nghttp2_session_terminate_session(c->session, NGHTTP2_PROTOCOL_ERROR);
        c->failed = true;
        return false;
    }
    return true;
}

ssize_t gconn_pending(gconn *c, const uint8_t **data)
{
    ssize_t n = nghttp2_session_mem_send(c->session, data);
    return n < 0 ? -1 : n;
}

bool gconn_alive(const gconn *c)
{
    return !c->failed &&
           (nghttp2_session_want_read(c->session) || nghttp2_session_want_write(c->session));
}

size_t gconn_streams(const gconn *c)
{
    return c->nstreams;
}

void gconn_shutdown(gconn *c)
{
    nghttp2_session_terminate_session(c->session, NGHTTP2_NO_ERROR);
}

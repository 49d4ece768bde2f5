/*
 * Cassandra driver: Apache Cassandra (3.x-5.x) over the CQL native protocol v4, by hand.
 *
 * Why by hand: Debian has no C client for Cassandra (the DataStax C/C++ driver is not packaged,
 * and python3-cassandra is Python). The subset a key/value store needs — STARTUP, SASL PLAIN
 * login, PREPARE/EXECUTE, a few result kinds and error frames — is small and fully specified in
 * apache/cassandra doc/native_protocol_v4.spec; the frame codec is in cql.c, apart from the
 * sockets, so it is unit-tested and fuzzed on its own.
 *
 * Layout (Dapr's state.cassandra): keyspace `keyspace` (SimpleStrategy, replicationFactor) and
 * table `table` with `key text PRIMARY KEY, value blob`, both created when missing. statestore
 * adds one column, `etag text`, to a table that lacks it (ALTER TABLE ... ADD), which Dapr's
 * component ignores. ETag = a random UUID written with every value. Writes are UPDATEs (no row
 * marker), so a row lives exactly as long as its value: `USING TTL` expires the whole row.
 *
 * Conditions are lightweight transactions (Paxos): ETag match `IF etag = ?`, first-write
 * `IF value = null` (true for a key with no live value), conditional delete `IF etag = ?`.
 * Their serial phase uses `serialConsistency`.
 *
 * Connections: a small pool (support/pool.c) over `hosts`; a new connection tries the host that
 * answered last, then the next ones. Each connection keeps its own prepared statement ids, and
 * re-prepares when a node answers UNPREPARED (it restarted). Bulk calls pipeline one EXECUTE per
 * key on one connection, each on its own stream id, and match answers by stream.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cql.h"
#include "statestore/driver.h"
#include "support/net.h"
#include "support/pool.h"
#include "support/strbuf.h"
#include "support/utf8.h"

#define CASS_MAX_KEY_LEN   65535     /* a partition key is at most 64 KiB */
#define CASS_MAX_INFLIGHT  128       /* streams in flight per connection in a pipelined bulk call */
#define CASS_ETAG_LEN      36        /* the ETags this driver writes are UUIDs */
#define CASS_MAX_TTL       630720000 /* 20 years: Cassandra's largest TTL */
#define CASS_LIMIT_RESERVE (128u * 1024) /* key, etag and mutation overhead under a size limit */

/* The prepared statements, one text each (built at open from keyspace and table). */
enum {
    ST_GET,
    ST_SET,
    ST_SET_MATCH,
    ST_SET_ABSENT,
    ST_DEL,
    ST_DEL_MATCH,
    ST_COUNT,
};

typedef struct cass {
    ss_ctx *ctx;
    char **hosts; /* "host" or "host:port" as given */
    size_t host_count;
    int port;
    atomic_size_t current; /* the host that answered last; new connections start there */
    char *username, *password;
    char *keyspace, *table;
    int64_t replication;
    uint16_t consistency; /* `consistency`: eventual reads and writes */
    uint16_t serial;      /* `serialConsistency`: the Paxos phase of conditional writes */
    int64_t timeout_ms;
    int64_t max_conns;
    size_t max_value; /* from the server's settings at open; 0 = not known */
    char *stmt[ST_COUNT];
    ss_pool *pool;
} cass;

/* One connection. Used by one thread at a time (the pool hands it out). */
typedef struct cconn {
    int fd;
    bool dead; /* the stream is out of step (timeout, bad frame, I/O error): never reuse */
    uint8_t *id[ST_COUNT];
    uint16_t id_len[ST_COUNT];
    ss_buf out;
} cconn;

/* One request of a round trip, and its answer. */
typedef struct creq {
    int stmt;
    cql_value vals[5];
    uint16_t n;
    uint16_t consistency, serial;
    bool send;    /* still to be sent (run) */
    cql_header h; /* the answer */
    uint8_t *body;
} creq;

static const char *const cass_consistency_names[] = {
    "Any",         "One",        "Two",    "Three",       "Quorum",   "All",
    "LocalQuorum", "EachQuorum", "Serial", "LocalSerial", "LocalOne",
};

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static bool has_text(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(s + i, needle, k)) return true;
    return false;
}

/* Maps an ERROR frame to the project's codes: a node that cannot serve now (unavailable,
 * overloaded, bootstrapping) is UNAVAILABLE and a coordinator timeout is TIMEOUT, both
 * retryable; everything else (syntax, invalid, unauthorized, server errors) is not. */
static ss_code cass_error(const uint8_t *body, size_t len, uint8_t flags, ss_error *err)
{
    cql_rd r;
    cql_error e;
    ss_cql_rd_init(&r, body, len);
    if (!ss_cql_skip_prefix(&r, flags) || !ss_cql_parse_error(&r, &e))
        return ss_error_set(err, SS_BACKEND, "malformed ERROR frame");
    int m = (int)(e.msg_len > 600 ? 600 : e.msg_len);
    switch (e.code) {
    case CQL_ERR_UNAVAILABLE:
        return ss_error_set(err, SS_UNAVAILABLE, "%.*s (consistency %s: %d required, %d alive)", m,
                            e.msg, ss_cql_consistency_name(e.consistency), e.required, e.alive);
    case CQL_ERR_OVERLOADED:
    case CQL_ERR_BOOTSTRAPPING:
        return ss_error_set(err, SS_UNAVAILABLE, "%.*s", m, e.msg);
    case CQL_ERR_WRITE_TIMEOUT:
    case CQL_ERR_READ_TIMEOUT:
        return ss_error_set(err, SS_TIMEOUT, "%.*s (consistency %s: %d of %d replicas answered)", m,
                            e.msg, ss_cql_consistency_name(e.consistency), e.alive, e.required);
    case CQL_ERR_INVALID:
        /* A value over the server's limits: a mutation over half of commitlog_segment_size
         * ("Rejected an oversized mutation") or a frame over native_transport_max_frame_size
         * ("Request is too big"). Cassandra has no error code of its own for them. */
        if (has_text(e.msg, e.msg_len, "oversized mutation") ||
            has_text(e.msg, e.msg_len, "Request is too big"))
            return ss_error_set(err, SS_TOO_LARGE, "%.*s", m, e.msg);
        return ss_error_set(err, SS_BACKEND, "%.*s (error 0x%04x)", m, e.msg, (unsigned)e.code);
    default:
        return ss_error_set(err, SS_BACKEND, "%.*s (error 0x%04x)", m, e.msg, (unsigned)e.code);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Sockets                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static ss_code io_fail(cconn *k, const char *what, int e, ss_error *err)
{
    k->dead = true;
    if (e == ETIMEDOUT) return ss_error_set(err, SS_TIMEOUT, "no answer within the timeout");
    if (e == EPIPE && what[0] == 'r')
        return ss_error_set(err, SS_UNAVAILABLE, "connection closed by the server");
    return ss_error_set(err, SS_UNAVAILABLE, "%s: %s", what, strerror(e));
}

static ss_code io_write(cconn *k, const void *p, size_t n, int64_t deadline, ss_error *err)
{
    int e = ss_net_send_all(k->fd, p, n, deadline);
    return e ? io_fail(k, "send", e, err) : SS_OK;
}

static ss_code io_read(cconn *k, void *p, size_t n, int64_t deadline, ss_error *err)
{
    int e = ss_net_recv_all(k->fd, p, n, deadline);
    return e ? io_fail(k, "recv", e, err) : SS_OK;
}

/* Reads the next response frame that answers a request (server events, stream < 0, are
 * skipped). *body is malloc'd (NULL for an empty body); the caller frees it. */
static ss_code recv_frame(cconn *k, int64_t deadline, cql_header *h, uint8_t **body, ss_error *err)
{
    for (;;) {
        uint8_t raw[CQL_HEADER_LEN];
        const char *why;
        ss_code rc = io_read(k, raw, sizeof raw, deadline, err);
        if (rc != SS_OK) return rc;
        if (!ss_cql_header_decode(raw, h, &why)) {
            k->dead = true;
            return ss_error_set(err, SS_BACKEND, "%s", why);
        }
        uint8_t *b = NULL;
        if (h->length) {
            b = malloc(h->length);
            if (!b) {
                k->dead = true;
                return ss_error_set(err, SS_NOMEM, "out of memory");
            }
            rc = io_read(k, b, h->length, deadline, err);
            if (rc != SS_OK) {
                free(b);
                return rc;
            }
        }
        if (h->stream < 0) {
            free(b);
            continue;
        }
        *body = b;
        return SS_OK;
    }
}

/* Sends the frames in k->out and reads one answer; for the connection handshake. */
static ss_code roundtrip1(cconn *k, int64_t deadline, cql_header *h, uint8_t **body, ss_error *err)
{
    if (k->out.oom) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code rc = io_write(k, k->out.p, k->out.len, deadline, err);
    k->out.len = 0;
    if (rc != SS_OK) return rc;
    return recv_frame(k, deadline, h, body, err);
}

static void conn_free(cconn *k)
{
    if (!k) return;
    if (k->fd >= 0) close(k->fd);
    for (int i = 0; i < ST_COUNT; i++) free(k->id[i]);
    free(k->out.p);
    free(k);
}

/* TCP connect to one host, bounded by the deadline. */
static ss_code tcp_connect(const cass *c, const char *host, int *fd_out, int64_t deadline,
                           ss_error *err)
{
    char name[256], port[16];
    const char *colon = strrchr(host, ':');
    if (colon && !strchr(colon, ']') && strchr(host, ':') == colon) {
        snprintf(name, sizeof name, "%.*s", (int)(colon - host), host);
        snprintf(port, sizeof port, "%s", colon + 1);
    } else {
        snprintf(name, sizeof name, "%s", host);
        snprintf(port, sizeof port, "%d", c->port);
    }
    int g;
    int fd = ss_net_connect(name, port, deadline, &g);
    if (g != 0) return ss_error_set(err, SS_UNAVAILABLE, "resolve %s: %s", name, gai_strerror(g));
    if (fd < 0)
        return ss_error_set(err, SS_UNAVAILABLE, "connect %s:%s: %s", name, port, strerror(-fd));
    *fd_out = fd;
    return SS_OK;
}

/* OPTIONS (the server must speak CQL 3), STARTUP, and the SASL PLAIN login when the server
 * asks for one. */
static ss_code handshake(const cass *c, cconn *k, int64_t deadline, ss_error *err)
{
    cql_header h;
    uint8_t *body = NULL;
    ss_cql_req_options(&k->out, 0);
    ss_code rc = roundtrip1(k, deadline, &h, &body, err);
    if (rc != SS_OK) return rc;
    if (h.opcode == CQL_OP_ERROR) {
        rc = cass_error(body, h.length, h.flags, err);
        free(body);
        return rc;
    }
    char version[32] = "3.0.0";
    if (h.opcode == CQL_OP_SUPPORTED) {
        cql_rd r;
        const char *v[4];
        size_t l[4], n = 0;
        ss_cql_rd_init(&r, body, h.length);
        if (ss_cql_skip_prefix(&r, h.flags) &&
            ss_cql_parse_supported(&r, "CQL_VERSION", v, l, 4, &n) && n > 0 &&
            l[0] < sizeof version && l[0] > 0 && v[0][0] == '3')
            snprintf(version, sizeof version, "%.*s", (int)l[0], v[0]);
    }
    free(body);
    body = NULL;

    ss_cql_req_startup(&k->out, 0, version);
    if ((rc = roundtrip1(k, deadline, &h, &body, err)) != SS_OK) return rc;
    if (h.opcode == CQL_OP_AUTHENTICATE) {
        free(body);
        body = NULL;
        if (!c->username || !*c->username) {
            return ss_error_set(err, SS_INVALID,
                                "the server requires authentication: set username and password");
        }
        ss_cql_req_auth_plain(&k->out, 0, c->username, c->password ? c->password : "");
        if ((rc = roundtrip1(k, deadline, &h, &body, err)) != SS_OK) return rc;
        if (h.opcode == CQL_OP_AUTH_CHALLENGE) {
            free(body);
            return ss_error_set(err, SS_BACKEND,
                                "the server's authenticator wants more than SASL PLAIN");
        }
        if (h.opcode == CQL_OP_AUTH_SUCCESS) h.opcode = CQL_OP_READY;
    }
    if (h.opcode == CQL_OP_ERROR)
        rc = cass_error(body, h.length, h.flags, err);
    else if (h.opcode != CQL_OP_READY)
        rc = ss_error_set(err, SS_BACKEND, "unexpected answer 0x%02x to STARTUP", h.opcode);
    free(body);
    return rc;
}

static ss_code conn_open(void *arg, void **out, ss_error *err)
{
    cass *c = arg;
    size_t first = atomic_load(&c->current);
    ss_code rc = SS_UNAVAILABLE;
    for (size_t i = 0; i < c->host_count; i++) {
        size_t h = (first + i) % c->host_count;
        int64_t deadline = ss_monotonic_ms() + c->timeout_ms;
        cconn *k = calloc(1, sizeof *k);
        if (!k) return ss_error_set(err, SS_NOMEM, "out of memory");
        k->fd = -1;
        rc = tcp_connect(c, c->hosts[h], &k->fd, deadline, err);
        if (rc == SS_OK) rc = handshake(c, k, deadline, err);
        if (rc == SS_OK) {
            atomic_store(&c->current, h);
            *out = k;
            return SS_OK;
        }
        conn_free(k);
        /* A refused login or a bad answer is the same on every host; the next host is only
         * worth a try when this one could not be reached. */
        if (rc != SS_UNAVAILABLE && rc != SS_TIMEOUT) return rc;
    }
    return rc;
}

static void conn_close(void *arg, void *conn)
{
    (void)arg;
    conn_free(conn);
}

static ss_pool_verdict conn_check(void *arg, void *conn)
{
    (void)arg;
    return ((cconn *)conn)->dead ? SS_POOL_DEAD : SS_POOL_KEEP;
}

static ss_code conn_exhausted(void *arg, ss_error *err)
{
    cass *c = arg;
    return ss_error_set(err, SS_TIMEOUT,
                        "no free connection within %" PRId64 " ms (maxConns %" PRId64 ")",
                        c->timeout_ms, c->max_conns);
}

/* ------------------------------------------------------------------------------------------ */
/* Requests                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static ss_code prepare(const cass *c, cconn *k, int st, int64_t deadline, ss_error *err)
{
    cql_header h;
    uint8_t *body = NULL;
    ss_cql_req_prepare(&k->out, 0, c->stmt[st]);
    ss_code rc = roundtrip1(k, deadline, &h, &body, err);
    if (rc != SS_OK) return rc;
    cql_rd r;
    cql_result res;
    ss_cql_rd_init(&r, body, h.length);
    if (h.opcode == CQL_OP_ERROR) {
        rc = cass_error(body, h.length, h.flags, err);
    } else if (h.opcode != CQL_OP_RESULT || !ss_cql_skip_prefix(&r, h.flags) ||
               !ss_cql_parse_result(&r, &res) || res.kind != CQL_RESULT_PREPARED) {
        k->dead = true;
        rc = ss_error_set(err, SS_BACKEND, "malformed answer to PREPARE");
    } else {
        free(k->id[st]);
        k->id[st] = malloc(res.prepared_id_len);
        if (!k->id[st]) {
            rc = ss_error_set(err, SS_NOMEM, "out of memory");
        } else {
            memcpy(k->id[st], res.prepared_id, res.prepared_id_len);
            k->id_len[st] = res.prepared_id_len;
        }
    }
    free(body);
    return rc;
}

static bool is_unprepared(const creq *q)
{
    if (q->h.opcode != CQL_OP_ERROR || q->h.length < 4) return false;
    cql_rd r;
    ss_cql_rd_init(&r, q->body, q->h.length);
    ss_cql_skip_prefix(&r, q->h.flags);
    return ss_cql_get_int(&r) == CQL_ERR_UNPREPARED && !r.bad;
}

/* Sends every request marked `send`, up to CASS_MAX_INFLIGHT at once (stream id = index in
 * the window), and stores each answer in its request. */
static ss_code send_window(const cass *c, cconn *k, creq *q, size_t n, int64_t deadline,
                           ss_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (q[i].send && !k->id[q[i].stmt]) {
            ss_code rc = prepare(c, k, q[i].stmt, deadline, err);
            if (rc != SS_OK) return rc;
        }
    }
    for (size_t base = 0; base < n; base += CASS_MAX_INFLIGHT) {
        size_t end = base + CASS_MAX_INFLIGHT < n ? base + CASS_MAX_INFLIGHT : n;
        size_t sent = 0;
        for (size_t i = base; i < end; i++) {
            if (!q[i].send) continue;
            ss_cql_req_execute(&k->out, (int16_t)(i - base), k->id[q[i].stmt], k->id_len[q[i].stmt],
                               q[i].consistency, q[i].serial, q[i].vals, q[i].n);
            sent++;
        }
        if (k->out.oom) {
            k->out.oom = false;
            k->out.len = 0;
            return ss_error_set(err, SS_NOMEM, "out of memory");
        }
        ss_code rc = io_write(k, k->out.p, k->out.len, deadline, err);
        k->out.len = 0;
        if (rc != SS_OK) return rc;
        for (size_t got = 0; got < sent; got++) {
            cql_header h;
            uint8_t *body = NULL;
            rc = recv_frame(k, deadline, &h, &body, err);
            if (rc != SS_OK) return rc;
            size_t i = base + (size_t)h.stream;
            if ((size_t)h.stream >= end - base || !q[i].send) {
                free(body);
                k->dead = true;
                return ss_error_set(err, SS_BACKEND, "answer on unexpected stream %d", h.stream);
            }
            q[i].send = false;
            q[i].h = h;
            q[i].body = body;
        }
    }
    return SS_OK;
}

/* Runs the requests on one connection. A request a node answers UNPREPARED (it restarted and
 * forgot the id) is prepared again and sent once more. Returns an error only when the
 * connection failed; a server's ERROR answer stays in the request for the caller. */
static ss_code run(const cass *c, cconn *k, creq *q, size_t n, ss_error *err)
{
    int64_t deadline = ss_monotonic_ms() + c->timeout_ms;
    for (size_t i = 0; i < n; i++) q[i].send = true;
    ss_code rc = send_window(c, k, q, n, deadline, err);
    if (rc != SS_OK) return rc;
    bool again = false;
    for (size_t i = 0; i < n; i++) {
        if (!is_unprepared(&q[i])) continue;
        free(q[i].body);
        q[i].body = NULL;
        free(k->id[q[i].stmt]);
        k->id[q[i].stmt] = NULL;
        q[i].send = again = true;
    }
    return again ? send_window(c, k, q, n, deadline, err) : SS_OK;
}

static void reqs_clear(creq *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(q[i].body);
        q[i].body = NULL;
    }
}

/* The RESULT of one request, or its ERROR mapped to a code. */
static ss_code result_of(const creq *q, cql_result *res, ss_error *err)
{
    if (q->h.opcode == CQL_OP_ERROR) return cass_error(q->body, q->h.length, q->h.flags, err);
    cql_rd r;
    ss_cql_rd_init(&r, q->body, q->h.length);
    if (q->h.opcode != CQL_OP_RESULT || !ss_cql_skip_prefix(&r, q->h.flags) ||
        !ss_cql_parse_result(&r, res))
        return ss_error_set(err, SS_BACKEND, "malformed answer (opcode 0x%02x)", q->h.opcode);
    return SS_OK;
}

typedef struct exec_args {
    const cass *c;
    creq *q;
    size_t n;
} exec_args;

static ss_code exec_on(void *conn, void *arg, ss_error *err)
{
    exec_args *a = arg;
    reqs_clear(a->q, a->n); /* answers of an earlier attempt on a connection that died */
    return run(a->c, conn, a->q, a->n, err);
}

/* Runs the requests on a pooled connection. A failure on a reused connection that turns out
 * dead (the node restarted) is run once more on a fresh one when `repeatable`. */
static ss_code exec(cass *c, creq *q, size_t n, bool repeatable, ss_error *err)
{
    exec_args a = {c, q, n};
    return ss_pool_run(c->pool, repeatable, exec_on, &a, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Operations                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static uint16_t read_consistency(const cass *c, const ss_op *op)
{
    return op->consistency == SS_CONSISTENCY_STRONG ? CQL_ALL : c->consistency;
}

/* Strong writes wait for a quorum (as Dapr's component), or for all when that is configured. */
static uint16_t write_consistency(const cass *c, const ss_op *op)
{
    if (op->consistency == SS_CONSISTENCY_STRONG && c->consistency != CQL_ALL) return CQL_QUORUM;
    return c->consistency;
}

static ss_code check_key(const ss_op *op, ss_error *err)
{
    if (!ss_utf8_valid(op->key, op->key_len, false))
        return ss_error_set(err, SS_INVALID,
                            "key is not valid UTF-8 (the key column is text, as in Dapr's layout)");
    return SS_OK;
}

/* Every ETag this driver issues is a UUID; anything else cannot match and must not reach the
 * server (it may not even be UTF-8, which the text column would refuse). */
static ss_code check_etag(const ss_op *op, ss_error *err)
{
    if (op->cond != SS_COND_MATCH) return SS_OK;
    const char *e = op->etag;
    size_t n = strlen(e);
    bool ok = n == CASS_ETAG_LEN;
    for (size_t i = 0; ok && i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        ok = dash ? e[i] == '-'
                  : ((e[i] >= '0' && e[i] <= '9') || (e[i] >= 'a' && e[i] <= 'f') ||
                     (e[i] >= 'A' && e[i] <= 'F'));
    }
    return ok ? SS_OK : ss_error_set(err, SS_ETAG_INVALID, "etag is not a UUID");
}

static void build_get(const cass *c, const ss_op *op, creq *q)
{
    memset(q, 0, sizeof *q);
    q->stmt = ST_GET;
    q->vals[0] = (cql_value){op->key, (int32_t)op->key_len};
    q->n = 1;
    q->consistency = read_consistency(c, op);
}

/* Reads one GET answer into *out (NULL when the key has no live value). */
static ss_code parse_get(const creq *q, ss_value **out, ss_error *err)
{
    cql_result res;
    ss_code rc = result_of(q, &res, err);
    if (rc != SS_OK) return rc;
    *out = NULL;
    if (res.kind != CQL_RESULT_ROWS || res.columns != 3)
        return ss_error_set(err, SS_BACKEND, "unexpected result to SELECT");
    if (res.rows_count == 0) return SS_OK;
    const uint8_t *v, *e, *t;
    int32_t vn, en, tn;
    if (!ss_cql_get_bytes(&res.rows, &v, &vn) || !ss_cql_get_bytes(&res.rows, &e, &en) ||
        !ss_cql_get_bytes(&res.rows, &t, &tn))
        return ss_error_set(err, SS_BACKEND, "malformed row");
    if (vn < 0) return SS_OK; /* a row whose value expired or was never set: no item */
    char etag[CASS_ETAG_LEN + 1] = "";
    if (en > 0 && en <= CASS_ETAG_LEN) {
        memcpy(etag, e, (size_t)en);
        etag[en] = '\0';
    }
    /* A row written by Dapr's component has no etag yet: it is reported with an all-zero one,
     * which no write ever stores, so a conditional write on it fails until statestore
     * rewrites the row. */
    ss_value *val = ss_value_new(vn ? (const void *)v : "", (size_t)vn,
                                 etag[0] ? etag : "00000000-0000-0000-0000-000000000000");
    if (!val) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (tn == 4) {
        int32_t ttl = (int32_t)(((uint32_t)t[0] << 24) | ((uint32_t)t[1] << 16) |
                                ((uint32_t)t[2] << 8) | t[3]);
        if (ttl > 0 && ss_value_set_expiry(val, ss_now_unix_ms() + (int64_t)ttl * 1000) != SS_OK) {
            ss_value_free(val);
            return ss_error_set(err, SS_NOMEM, "out of memory");
        }
    }
    *out = val;
    return SS_OK;
}

static ss_code cass_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    cass *c = self;
    ss_code rc = check_key(op, err);
    if (rc != SS_OK) return rc;
    creq q;
    build_get(c, op, &q);
    rc = exec(c, &q, 1, true, err);
    if (rc == SS_OK) rc = parse_get(&q, out, err);
    reqs_clear(&q, 1);
    return rc;
}

/* The values of a write. ttl and etag are stored in `scratch` the request points into. */
typedef struct wscratch {
    uint8_t ttl[4];
    char etag[37];
} wscratch;

static void build_write(const cass *c, const ss_op *op, creq *q, wscratch *s)
{
    memset(q, 0, sizeof *q);
    if (op->kind == SS_DRV_DELETE) {
        q->stmt = op->cond == SS_COND_MATCH ? ST_DEL_MATCH : ST_DEL;
        q->vals[q->n++] = (cql_value){op->key, (int32_t)op->key_len};
    } else {
        /* Cassandra refuses a TTL over 20 years, and (in its default storage format up to
         * 5.0) one whose expiry passes 2038-01-19 (expiry times are 32-bit seconds). Such a
         * TTL is stored as no expiry: the item outlives its TTL rather than vanish years
         * early, and get reports no ttlExpireTime for it. A minute of margin covers a
         * coordinator clock ahead of ours. */
        int64_t max = INT32_MAX - ss_now_unix_ms() / 1000 - 60;
        if (max > CASS_MAX_TTL) max = CASS_MAX_TTL;
        int32_t ttl =
            op->ttl_mode == SS_TTL_SECONDS && op->ttl_seconds <= max ? (int32_t)op->ttl_seconds : 0;
        s->ttl[0] = (uint8_t)((uint32_t)ttl >> 24);
        s->ttl[1] = (uint8_t)((uint32_t)ttl >> 16);
        s->ttl[2] = (uint8_t)((uint32_t)ttl >> 8);
        s->ttl[3] = (uint8_t)ttl;
        ss_uuid4(s->etag);
        q->stmt = op->cond == SS_COND_MATCH    ? ST_SET_MATCH
                  : op->cond == SS_COND_ABSENT ? ST_SET_ABSENT
                                               : ST_SET;
        q->vals[q->n++] = (cql_value){s->ttl, 4};
        q->vals[q->n++] = (cql_value){op->value, (int32_t)op->value_len};
        q->vals[q->n++] = (cql_value){s->etag, CASS_ETAG_LEN};
        q->vals[q->n++] = (cql_value){op->key, (int32_t)op->key_len};
    }
    if (op->cond == SS_COND_MATCH)
        q->vals[q->n++] = (cql_value){op->etag, (int32_t)strlen(op->etag)};
    q->consistency = write_consistency(c, op);
    if (op->cond != SS_COND_ANY) q->serial = c->serial;
}

/* Reads a write's answer: a conditional one returns a row whose first column is [applied]. */
static ss_code parse_write(const ss_op *op, const creq *q, const wscratch *s, char **etag_out,
                           ss_error *err)
{
    cql_result res;
    ss_code rc = result_of(q, &res, err);
    if (rc != SS_OK) return rc;
    if (op->cond != SS_COND_ANY) {
        const uint8_t *a;
        int32_t an;
        if (res.kind != CQL_RESULT_ROWS || res.rows_count < 1 || res.columns < 1 ||
            !ss_cql_get_bytes(&res.rows, &a, &an) || an != 1)
            return ss_error_set(err, SS_BACKEND, "conditional write answered without [applied]");
        if (!a[0]) {
            return ss_error_set(err, SS_ETAG_MISMATCH,
                                op->cond == SS_COND_ABSENT
                                    ? "the key exists"
                                    : "the key's etag differs or it is gone");
        }
    }
    if (op->kind == SS_DRV_SET && etag_out && op->etag_wanted) {
        *etag_out = ss_strdup(s->etag);
        if (!*etag_out) return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    return SS_OK;
}

static ss_code cass_write(cass *c, const ss_op *op, char **etag_out, ss_error *err)
{
    ss_code rc = check_key(op, err);
    if (rc == SS_OK) rc = check_etag(op, err);
    if (rc != SS_OK) return rc;
    creq q;
    wscratch s;
    build_write(c, op, &q, &s);
    /* A conditional write that reached the server must not be repeated: a second attempt
     * would report a false mismatch. */
    rc = exec(c, &q, 1, op->cond == SS_COND_ANY, err);
    if (rc == SS_OK) rc = parse_write(op, &q, &s, etag_out, err);
    reqs_clear(&q, 1);
    return rc;
}

static ss_code cass_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    return cass_write(self, op, etag_out, err);
}

static ss_code cass_del(void *self, const ss_op *op, ss_error *err)
{
    return cass_write(self, op, NULL, err);
}

static void item_error(ss_item_result *it, ss_code code, const ss_error *e)
{
    it->code = code;
    it->error = ss_strdup(e->message[0] ? e->message : ss_code_text(code));
}

static ss_code cass_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                             ss_error *err)
{
    cass *c = self;
    creq *q = calloc(count, sizeof *q);
    size_t *idx = calloc(count, sizeof *idx);
    ss_code rc = SS_OK;
    if (!q || !idx) {
        free(q);
        free(idx);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    /* Keys that cannot be sent get their error now; the others go in one pipeline. */
    size_t m = 0;
    for (size_t i = 0; i < count; i++) {
        ss_error e = {0};
        ss_code k = check_key(&ops[i], &e);
        if (k != SS_OK) {
            item_error(&out->items[i], k, &e);
            continue;
        }
        build_get(c, &ops[i], &q[m]);
        idx[m++] = i;
    }
    if (m) rc = exec(c, q, m, true, err);
    for (size_t j = 0; rc == SS_OK && j < m; j++) {
        ss_error e = {0};
        ss_item_result *it = &out->items[idx[j]];
        ss_code k = parse_get(&q[j], &it->value, &e);
        if (k != SS_OK) item_error(it, k, &e);
    }
    reqs_clear(q, m);
    free(idx);
    free(q);
    return rc;
}

static ss_code cass_bulk_write(void *self, const ss_op *ops, size_t count, ss_results *out,
                               ss_error *err)
{
    cass *c = self;
    creq *q = calloc(count, sizeof *q);
    wscratch *s = calloc(count, sizeof *s);
    size_t *idx = calloc(count, sizeof *idx);
    ss_code rc = SS_OK;
    if (!q || !s || !idx) {
        rc = ss_error_set(err, SS_NOMEM, "out of memory");
        goto done;
    }
    size_t m = 0;
    bool repeatable = true;
    for (size_t i = 0; i < count; i++) {
        ss_error e = {0};
        ss_code k = check_key(&ops[i], &e);
        if (k == SS_OK) k = check_etag(&ops[i], &e);
        if (k != SS_OK) {
            item_error(&out->items[i], k, &e);
            continue;
        }
        build_write(c, &ops[i], &q[m], &s[m]);
        if (ops[i].cond != SS_COND_ANY) repeatable = false;
        idx[m++] = i;
    }
    if (m) rc = exec(c, q, m, repeatable, err);
    if (rc == SS_OK) {
        for (size_t j = 0; j < m; j++) {
            ss_error e = {0};
            ss_item_result *it = &out->items[idx[j]];
            char *etag = NULL;
            ss_code k = parse_write(&ops[idx[j]], &q[j], &s[j], &etag, &e);
            if (k != SS_OK)
                item_error(it, k, &e);
            else
                it->etag = etag;
        }
    }
    if (q) reqs_clear(q, m);
done:
    free(q);
    free(s);
    free(idx);
    return rc;
}

static ss_code ping_on(void *conn, void *arg, ss_error *err)
{
    const cass *c = arg;
    cconn *k = conn;
    cql_header h;
    uint8_t *body = NULL;
    ss_cql_req_options(&k->out, 0);
    ss_code rc = roundtrip1(k, ss_monotonic_ms() + c->timeout_ms, &h, &body, err);
    if (rc == SS_OK && h.opcode == CQL_OP_ERROR) rc = cass_error(body, h.length, h.flags, err);
    free(body);
    return rc;
}

static ss_code cass_ping(void *self, ss_error *err)
{
    cass *c = self;
    return ss_pool_run(c->pool, true, ping_on, c, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Open / close                                                                                */
/* ------------------------------------------------------------------------------------------ */

static const ss_property cass_props[] = {
    {"hosts", true, false, NULL, "comma-separated Cassandra hosts (host or host:port)"},
    {"port", false, false, "9042", "native transport port of hosts given without one"},
    {"username", false, false, NULL, "user for PasswordAuthenticator (SASL PLAIN)"},
    {"password", false, true, NULL, "password for username"},
    {"consistency", false, false, "All",
     "consistency level: Any, One, Two, Three, Quorum, All, LocalQuorum, EachQuorum, LocalOne"},
    {"serialConsistency", false, false, "Serial",
     "serial consistency of conditional writes: Serial or LocalSerial"},
    {"keyspace", false, false, "dapr", "keyspace (created when missing)"},
    {"table", false, false, "items", "table (created when missing)"},
    {"replicationFactor", false, false, "1", "SimpleStrategy replication of a new keyspace"},
    {"protoVersion", false, false, "4", "CQL native protocol version (only 4 is spoken)"},
    {"timeout", false, false, "10s", "deadline of each call, connect included"},
    {"maxConns", false, false, "8", "most connections open at once"},
};

static ss_code parse_consistency(const char *prop, const char *v, bool serial, uint16_t *out,
                                 ss_error *err)
{
    size_t n = sizeof cass_consistency_names / sizeof cass_consistency_names[0];
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(v, cass_consistency_names[i]) != 0) continue;
        bool is_serial = i == CQL_SERIAL || i == CQL_LOCAL_SERIAL;
        if (is_serial != serial) break;
        *out = (uint16_t)i;
        return SS_OK;
    }
    return ss_error_set(err, SS_INVALID, "%s %s is not %s", prop, v,
                        serial ? "Serial or LocalSerial"
                               : "one of Any, One, Two, Three, Quorum, All, LocalQuorum, "
                                 "EachQuorum, LocalOne");
}

/* Dapr puts keyspace and table into CQL unquoted; so do we, so only plain identifiers pass. */
static ss_code check_ident(const char *prop, const char *v, ss_error *err)
{
    size_t n = strlen(v);
    bool ok = n > 0 && n <= 48;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') || v[i] == '_' ||
             (i > 0 && v[i] >= '0' && v[i] <= '9');
    return ok ? SS_OK
              : ss_error_set(err, SS_INVALID,
                             "%s \"%s\" is not a CQL identifier (letters, digits, _; at most 48)",
                             prop, v);
}

static void cass_close(void *self)
{
    cass *c = self;
    ss_pool_destroy(c->pool);
    for (size_t i = 0; i < c->host_count; i++) free(c->hosts[i]);
    free(c->hosts);
    free(c->username);
    free(c->password);
    free(c->keyspace);
    free(c->table);
    for (int i = 0; i < ST_COUNT; i++) free(c->stmt[i]);
}

/* One unprepared statement on a connection (schema set-up at open). rows_out, when given,
 * receives the number of rows. */
static ss_code simple_query(cass *c, cconn *k, const char *cql, const cql_value *vals, uint16_t n,
                            int32_t *rows_out, void (*row)(cass *c, cql_rd *cells, int32_t cols),
                            ss_error *err)
{
    cql_header h;
    uint8_t *body = NULL;
    ss_cql_req_query(&k->out, 0, cql, CQL_ONE, vals, n);
    /* Schema changes wait for the node to apply them: give them more than one call's time. */
    ss_code rc = roundtrip1(k, ss_monotonic_ms() + c->timeout_ms * 3, &h, &body, err);
    if (rc != SS_OK) return rc;
    creq q = {.h = h, .body = body};
    cql_result res;
    rc = result_of(&q, &res, err);
    if (rc == SS_OK && rows_out) *rows_out = res.kind == CQL_RESULT_ROWS ? res.rows_count : 0;
    for (int32_t i = 0; rc == SS_OK && row && res.kind == CQL_RESULT_ROWS && i < res.rows_count;
         i++)
        row(c, &res.rows, res.columns);
    free(body);
    return rc;
}

/* A size setting in bytes: "8MiB", "16777216B" (Cassandra 5.0) or a bare number of the unit
 * the name ends in ("32" for commitlog_segment_size_in_mb, 4.0); 0 when unreadable. */
static uint64_t setting_bytes(const char *name, size_t nl, const char *v, size_t vl)
{
    uint64_t n = 0;
    size_t i = 0;
    for (; i < vl && v[i] >= '0' && v[i] <= '9' && n < (UINT64_C(1) << 40); i++)
        n = n * 10 + (uint64_t)(v[i] - '0');
    if (i == 0) return 0;
    size_t ul = vl - i;
    const char *u = v + i;
    if (ul == 0) return nl > 6 && !memcmp(name + nl - 6, "_in_mb", 6) ? n << 20 : 0;
    if (ul == 1 && u[0] == 'B') return n;
    if (ul == 3 && !memcmp(u, "KiB", 3)) return n << 10;
    if (ul == 3 && !memcmp(u, "MiB", 3)) return n << 20;
    if (ul == 3 && !memcmp(u, "GiB", 3)) return n << 30;
    return 0;
}

/* One row of system_views.settings: narrows the value limit. A mutation may be at most half a
 * commit log segment and a frame at most native_transport_max_frame_size; the limit leaves
 * room for the longest key (64 KiB) and the statement's own bytes. */
static void limit_row(cass *c, cql_rd *cells, int32_t cols)
{
    const uint8_t *name, *val;
    int32_t nl, vl;
    if (cols != 2 || !ss_cql_get_bytes(cells, &name, &nl) || !ss_cql_get_bytes(cells, &val, &vl) ||
        nl <= 0 || vl <= 0)
        return;
    uint64_t b = setting_bytes((const char *)name, (size_t)nl, (const char *)val, (size_t)vl);
    if (nl >= 22 && !memcmp(name, "commitlog_segment_size", 22)) b /= 2;
    if (b <= CASS_LIMIT_RESERVE) return;
    b -= CASS_LIMIT_RESERVE;
    if (!c->max_value || b < c->max_value) c->max_value = (size_t)b;
}

/* Every statement is idempotent, so the whole set-up may run again on a fresh connection. */
static ss_code setup_schema_on(void *conn, void *arg, ss_error *err)
{
    cass *c = arg;
    cconn *k = conn;
    ss_code rc;
    char *q1 = ss_asprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH REPLICATION = {'class' : "
                           "'SimpleStrategy', 'replication_factor' : %" PRId64 "}",
                           c->keyspace, c->replication);
    char *q2 = ss_asprintf("CREATE TABLE IF NOT EXISTS %s.%s (key text, value blob, etag text, "
                           "PRIMARY KEY (key))",
                           c->keyspace, c->table);
    char *q3 = ss_asprintf("ALTER TABLE %s.%s ADD etag text", c->keyspace, c->table);
    char ks[64], tb[64];
    snprintf(ks, sizeof ks, "%s", c->keyspace);
    snprintf(tb, sizeof tb, "%s", c->table);
    for (char *p = ks; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    for (char *p = tb; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    if (!q1 || !q2 || !q3) {
        rc = ss_error_set(err, SS_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = simple_query(c, k, q1, NULL, 0, NULL, NULL, err)) != SS_OK) goto done;
    if ((rc = simple_query(c, k, q2, NULL, 0, NULL, NULL, err)) != SS_OK) goto done;
    /* A table Dapr's component created has no etag column: add it (Dapr ignores it). */
    cql_value v[2] = {{ks, (int32_t)strlen(ks)}, {tb, (int32_t)strlen(tb)}};
    int32_t rows = 0;
    rc = simple_query(c, k,
                      "SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND "
                      "table_name = ? AND column_name = 'etag'",
                      v, 2, &rows, NULL, err);
    if (rc == SS_OK && rows == 0) rc = simple_query(c, k, q3, NULL, 0, NULL, NULL, err);
    /* The value limit comes from the node's settings (Cassandra 4.0+); a server that does not
     * show them (older, or a user without access) leaves the limit undeclared. */
    if (rc == SS_OK) {
        ss_error ignored;
        simple_query(c, k,
                     "SELECT name, value FROM system_views.settings WHERE name IN "
                     "('commitlog_segment_size', 'commitlog_segment_size_in_mb', "
                     "'native_transport_max_frame_size', 'native_transport_max_frame_size_in_mb')",
                     NULL, 0, NULL, limit_row, &ignored);
    }
done:
    free(q1);
    free(q2);
    free(q3);
    return rc;
}

static ss_code cass_open(void *self, ss_ctx *ctx, ss_error *err)
{
    cass *c = self;
    c->ctx = ctx;
    int64_t port = 9042, proto = 4;
    ss_code rc;
    if ((rc = ss_prop_int(ctx, "port", 1, 65535, &port, err)) != SS_OK) return rc;
    if ((rc = ss_prop_int(ctx, "protoVersion", 1, 127, &proto, err)) != SS_OK) return rc;
    if (proto != 4)
        return ss_error_set(err, SS_INVALID, "protoVersion %" PRId64 ": only 4 is supported",
                            proto);
    c->port = (int)port;
    c->replication = 1;
    c->timeout_ms = 10000;
    c->max_conns = 8;
    if ((rc = ss_prop_int(ctx, "replicationFactor", 1, 1000, &c->replication, err)) != SS_OK ||
        (rc = ss_prop_duration_ms(ctx, "timeout", 1000, &c->timeout_ms, err)) != SS_OK ||
        (rc = ss_prop_int(ctx, "maxConns", 1, 1024, &c->max_conns, err)) != SS_OK)
        return rc;
    if (c->timeout_ms <= 0) return ss_error_set(err, SS_INVALID, "timeout must be positive");
    if ((rc = parse_consistency("consistency", ss_prop(ctx, "consistency"), false, &c->consistency,
                                err)) != SS_OK ||
        (rc = parse_consistency("serialConsistency", ss_prop(ctx, "serialConsistency"), true,
                                &c->serial, err)) != SS_OK ||
        (rc = check_ident("keyspace", ss_prop(ctx, "keyspace"), err)) != SS_OK ||
        (rc = check_ident("table", ss_prop(ctx, "table"), err)) != SS_OK)
        return rc;

    const char *hosts = ss_prop(ctx, "hosts");
    size_t cap = 1;
    for (const char *p = hosts; *p; p++) cap += *p == ',';
    c->hosts = calloc(cap, sizeof *c->hosts);
    if (!c->hosts) return ss_error_set(err, SS_NOMEM, "out of memory");
    for (const char *p = hosts; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t')) p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        if (n) {
            c->hosts[c->host_count] = ss_strndup(p, n);
            if (!c->hosts[c->host_count++]) {
                cass_close(c);
                return ss_error_set(err, SS_NOMEM, "out of memory");
            }
        }
        p = e ? e + 1 : p + n;
        if (!e) break;
    }
    if (c->host_count == 0) {
        cass_close(c);
        return ss_error_set(err, SS_INVALID, "hosts is empty");
    }
    c->username = ss_strdup(ss_prop(ctx, "username"));
    c->password = ss_strdup(ss_prop(ctx, "password"));
    c->keyspace = ss_strdup(ss_prop(ctx, "keyspace"));
    c->table = ss_strdup(ss_prop(ctx, "table"));
    const char *ks = c->keyspace, *tb = c->table;
    if (ks && tb) {
        c->stmt[ST_GET] =
            ss_asprintf("SELECT value, etag, TTL(value) FROM %s.%s WHERE key = ?", ks, tb);
        c->stmt[ST_SET] =
            ss_asprintf("UPDATE %s.%s USING TTL ? SET value = ?, etag = ? WHERE key = ?", ks, tb);
        c->stmt[ST_SET_MATCH] = ss_asprintf(
            "UPDATE %s.%s USING TTL ? SET value = ?, etag = ? WHERE key = ? IF etag = ?", ks, tb);
        c->stmt[ST_SET_ABSENT] = ss_asprintf(
            "UPDATE %s.%s USING TTL ? SET value = ?, etag = ? WHERE key = ? IF value = null", ks,
            tb);
        c->stmt[ST_DEL] = ss_asprintf("DELETE FROM %s.%s WHERE key = ?", ks, tb);
        c->stmt[ST_DEL_MATCH] = ss_asprintf("DELETE FROM %s.%s WHERE key = ? IF etag = ?", ks, tb);
    }
    bool oom = !c->keyspace || !c->table ||
               (c->username == NULL) != (ss_prop(ctx, "username") == NULL) ||
               (c->password == NULL) != (ss_prop(ctx, "password") == NULL);
    for (int i = 0; i < ST_COUNT; i++) oom = oom || !c->stmt[i];
    if (oom) {
        cass_close(c);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }

    ss_pool_config pool = {
        .max_open = c->max_conns,
        .max_idle = -1,
        .wait_ms = c->timeout_ms,
        .arg = c,
        .open = conn_open,
        .close = conn_close,
        .check = conn_check,
        .exhausted = conn_exhausted,
    };
    if ((rc = ss_pool_create(&pool, &c->pool, err)) != SS_OK ||
        (rc = ss_pool_run(c->pool, true, setup_schema_on, c, err)) != SS_OK) {
        cass_close(c);
        return rc;
    }
    return SS_OK;
}

/* The value limit this node's settings allow (see limit_row). */
static void cass_features(void *self, ss_features *out)
{
    const cass *c = self;
    out->max_value_len = c->max_value;
}

const ss_driver ss_driver_cassandra = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "cassandra",
            .aliases = NULL,
            .version = "v1",
            .summary = "Apache Cassandra over CQL native protocol v4, Dapr's state.cassandra "
                       "table layout plus an etag column",
            .features =
                {
                    .flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE | SS_FEATURE_TTL |
                             SS_FEATURE_BULK_NATIVE,
                    .max_key_len = CASS_MAX_KEY_LEN,
                },
            .properties = cass_props,
            .property_count = sizeof cass_props / sizeof cass_props[0],
        },
    .instance_size = sizeof(cass),
    .open = cass_open,
    .close = cass_close,
    .ping = cass_ping,
    .get = cass_get,
    .set = cass_set,
    .del = cass_del,
    .bulk_get = cass_bulk_get,
    .bulk_set = cass_bulk_write,
    .bulk_delete = cass_bulk_write,
    .features = cass_features,
};

/*
 * cassandra_test — the Cassandra driver's own behaviour beyond the conformance suite.
 *
 * Against a scripted CQL server in this process (always runs): each Cassandra error answer maps
 * to the project's code and retryable flag (Unavailable/Overloaded → UNAVAILABLE, timeouts →
 * TIMEOUT, Syntax/Invalid/Unauthorized → BACKEND), an UNPREPARED answer makes the driver prepare
 * again and re-send, and a host that refuses connections is skipped for the next one.
 *
 * Against the real server of scripts/services/cassandra.sh (skipped without
 * SS_TEST_CASSANDRA_PORT): a login is required and a wrong password is refused with Cassandra's
 * words and without the password in the message; a table exactly as Dapr's component creates it
 * (no etag column) and a row as it INSERTs it are read and then taken over by the driver.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "statestore.h"
#include "stores/cassandra/cql.h"
#include "stores/store_check.h"
#include "stores/tcp_fake.h"

/* ------------------------------------------------------------------------------------------ */
/* A scripted server                                                                           */
/* ------------------------------------------------------------------------------------------ */

static atomic_int exec_error;      /* error code EXECUTE answers with; 0 = a row / void */
static atomic_int unprepared_left; /* EXECUTEs still to be answered UNPREPARED */
static atomic_int prepares, executes;
static const char *exec_msg = "scripted failure"; /* the message of a scripted error */

static bool contains(const uint8_t *p, size_t n, const char *s)
{
    size_t m = strlen(s);
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp(p + i, s, m)) return true;
    return false;
}

static void reply(int fd, ss_buf *b, int16_t stream, uint8_t op, const ss_buf *body)
{
    size_t f = ss_cql_frame_begin(b, stream, op);
    b->p[f] = (char)CQL_VERSION_RESP;
    ss_buf_add(b, body->p, body->len);
    ss_cql_frame_end(b, f);
    tcp_fake_write(fd, b->p, b->len);
    b->len = 0;
}

static void serve(int fd, void *ctx)
{
    (void)ctx;
    ss_buf out = {0}, body = {0};
    for (;;) {
        uint8_t h[9];
        if (!tcp_fake_read(fd, h, 9)) break;
        uint32_t len =
            ((uint32_t)h[5] << 24) | ((uint32_t)h[6] << 16) | ((uint32_t)h[7] << 8) | h[8];
        uint8_t *in = malloc(len ? len : 1);
        if (!in || !tcp_fake_read(fd, in, len)) {
            free(in);
            break;
        }
        int16_t stream = (int16_t)((h[2] << 8) | h[3]);
        body.len = 0;
        out.len = 0;
        switch (h[4]) {
        case CQL_OP_OPTIONS:
            ss_cql_put_short(&body, 1);
            ss_cql_put_string(&body, "CQL_VERSION", 11);
            ss_cql_put_short(&body, 1);
            ss_cql_put_string(&body, "3.4.7", 5);
            reply(fd, &out, stream, CQL_OP_SUPPORTED, &body);
            break;
        case CQL_OP_STARTUP:
            reply(fd, &out, stream, CQL_OP_READY, &body);
            break;
        case CQL_OP_QUERY: /* schema set-up; the etag column "exists" (one row) */
            if (contains(in, len, "system_schema")) {
                ss_cql_put_int(&body, CQL_RESULT_ROWS);
                ss_cql_put_int(&body, 4);
                ss_cql_put_int(&body, 1);
                ss_cql_put_int(&body, 1);
                ss_cql_put_bytes(&body, "etag", 4);
            } else {
                ss_cql_put_int(&body, CQL_RESULT_VOID);
            }
            reply(fd, &out, stream, CQL_OP_RESULT, &body);
            break;
        case CQL_OP_PREPARE: {
            atomic_fetch_add(&prepares, 1);
            /* The id is the statement's first 6 bytes after the length: enough to tell the
             * SELECT from the writes. */
            ss_cql_put_int(&body, CQL_RESULT_PREPARED);
            ss_cql_put_short_bytes(&body, in + 4, 6);
            for (int i = 0; i < 2; i++) { /* empty bind and result metadata */
                ss_cql_put_int(&body, 4);
                ss_cql_put_int(&body, 0);
                if (i == 0) ss_cql_put_int(&body, 0);
            }
            reply(fd, &out, stream, CQL_OP_RESULT, &body);
            break;
        }
        case CQL_OP_EXECUTE: {
            atomic_fetch_add(&executes, 1);
            int err = atomic_load(&exec_error);
            bool select = len > 8 && !memcmp(in + 2, "SELECT", 6);
            if (atomic_load(&unprepared_left) > 0) {
                atomic_fetch_sub(&unprepared_left, 1);
                ss_cql_put_int(&body, CQL_ERR_UNPREPARED);
                ss_cql_put_string(&body, "unknown id", 10);
                ss_cql_put_short_bytes(&body, in + 2, 6);
                reply(fd, &out, stream, CQL_OP_ERROR, &body);
            } else if (err) {
                ss_cql_put_int(&body, err);
                ss_cql_put_string(&body, exec_msg, strlen(exec_msg));
                if (err == CQL_ERR_UNAVAILABLE) {
                    ss_cql_put_short(&body, CQL_QUORUM);
                    ss_cql_put_int(&body, 2);
                    ss_cql_put_int(&body, 1);
                } else if (err == CQL_ERR_WRITE_TIMEOUT || err == CQL_ERR_READ_TIMEOUT) {
                    ss_cql_put_short(&body, CQL_ONE);
                    ss_cql_put_int(&body, 0);
                    ss_cql_put_int(&body, 1);
                    if (err == CQL_ERR_WRITE_TIMEOUT)
                        ss_cql_put_string(&body, "SIMPLE", 6);
                    else
                        ss_cql_put_byte(&body, 0);
                }
                reply(fd, &out, stream, CQL_OP_ERROR, &body);
            } else if (select) {
                ss_cql_put_int(&body, CQL_RESULT_ROWS);
                ss_cql_put_int(&body, 4);
                ss_cql_put_int(&body, 3);
                ss_cql_put_int(&body, 1);
                ss_cql_put_bytes(&body, "v", 1);
                ss_cql_put_bytes(&body, "123e4567-e89b-12d3-a456-426614174000", 36);
                ss_cql_put_bytes(&body, NULL, -1);
                reply(fd, &out, stream, CQL_OP_RESULT, &body);
            } else {
                ss_cql_put_int(&body, CQL_RESULT_VOID);
                reply(fd, &out, stream, CQL_OP_RESULT, &body);
            }
            break;
        }
        default:
            ss_cql_put_int(&body, CQL_ERR_PROTOCOL);
            ss_cql_put_string(&body, "unexpected", 10);
            reply(fd, &out, stream, CQL_OP_ERROR, &body);
        }
        free(in);
    }
    free(out.p);
    free(body.p);
}

/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    return ntohs(a.sin_port);
}

static ss_store *open_fake(int server_port)
{
    char hosts[64];
    /* The first host refuses connections: every connection must fail over to the second. */
    snprintf(hosts, sizeof hosts, "127.0.0.1:%d, 127.0.0.1:%d", dead_port(), server_port);
    ss_pair props[] = {{"hosts", hosts}, {"timeout", "5s"}};
    ss_config cfg = {
        .name = "fake", .driver = "cassandra", .properties = props, .property_count = 2};
    ss_store *s = NULL;
    ss_error err;
    ss_code rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_OK, "open against the scripted server (after a dead host): %s", err.message);
    return s;
}

static void test_scripted(void)
{
    tcp_fake srv;
    if (!tcp_fake_start(&srv, serve, NULL)) {
        CHECK(false, "cannot listen on 127.0.0.1");
        return;
    }
    ss_store *s = open_fake(srv.port);
    if (!s) {
        tcp_fake_stop(&srv);
        return;
    }
    ss_get_request g = {.key = "k"};
    ss_value *v = NULL;
    ss_error err;
    ss_code rc = ss_get(&v, s, &g, &err);
    CHECK(rc == SS_OK && v && v->len == 1, "scripted get: %s", err.message);
    CHECK(v && v->etag && !strcmp(v->etag, "123e4567-e89b-12d3-a456-426614174000"), "etag");
    ss_value_free(v);

    static const struct {
        int cql;
        ss_code code;
        bool retryable;
        const char *words;
    } map[] = {
        {CQL_ERR_UNAVAILABLE, SS_UNAVAILABLE, true, "QUORUM: 2 required, 1 alive"},
        {CQL_ERR_OVERLOADED, SS_UNAVAILABLE, true, "scripted failure"},
        {CQL_ERR_BOOTSTRAPPING, SS_UNAVAILABLE, true, "scripted failure"},
        {CQL_ERR_WRITE_TIMEOUT, SS_TIMEOUT, true, "0 of 1 replicas"},
        {CQL_ERR_READ_TIMEOUT, SS_TIMEOUT, true, "0 of 1 replicas"},
        {CQL_ERR_SYNTAX, SS_BACKEND, false, "error 0x2000"},
        {CQL_ERR_INVALID, SS_BACKEND, false, "error 0x2200"},
        {CQL_ERR_UNAUTHORIZED, SS_BACKEND, false, "error 0x2100"},
        {CQL_ERR_CONFIG, SS_BACKEND, false, "error 0x2300"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        atomic_store(&exec_error, map[i].cql);
        v = NULL;
        rc = ss_get(&v, s, &g, &err);
        CHECK(rc == map[i].code && err.retryable == map[i].retryable,
              "error 0x%04x: got %s retryable %d: %s", map[i].cql, ss_code_name(rc), err.retryable,
              err.message);
        CHECK(strstr(err.message, "scripted failure") && strstr(err.message, map[i].words),
              "error 0x%04x message: %s", map[i].cql, err.message);
        ss_value_free(v);
    }
    /* Cassandra reports values over its limits as Invalid; the driver knows them by message. */
    static const char *const too_big[] = {
        "Rejected an oversized mutation (5000106/4194304) for keyspace: dapr. Top keys are: "
        "items.k",
        "Request is too big: length 20000095 exceeds maximum allowed length 16777216."};
    for (size_t i = 0; i < 2; i++) {
        exec_msg = too_big[i];
        atomic_store(&exec_error, CQL_ERR_INVALID);
        rc = set_kv(s, "k", "x", NULL, NULL, NULL, NULL, &err);
        CHECK(rc == SS_TOO_LARGE && strstr(err.message, too_big[i]), "too big %zu: %s %s", i,
              ss_code_name(rc), err.message);
    }
    exec_msg = "scripted failure";
    atomic_store(&exec_error, 0);

    /* UNPREPARED: the driver prepares again and re-sends, invisibly to the caller. */
    int p0 = atomic_load(&prepares), e0 = atomic_load(&executes);
    atomic_store(&unprepared_left, 1);
    v = NULL;
    rc = ss_get(&v, s, &g, &err);
    CHECK(rc == SS_OK && v, "get after UNPREPARED: %s", err.message);
    CHECK(atomic_load(&prepares) == p0 + 1 && atomic_load(&executes) == e0 + 2,
          "one more PREPARE and the EXECUTE again (prepares %d, executes %d)",
          atomic_load(&prepares) - p0, atomic_load(&executes) - e0);
    ss_value_free(v);

    /* Pipelined bulk get with one UNPREPARED in the middle: every item still answered. */
    ss_get_request many[5] = {{.key = "a"}, {.key = "b"}, {.key = "c"}, {.key = "d"}, {.key = "e"}};
    ss_results r = {0};
    atomic_store(&unprepared_left, 2);
    rc = ss_bulk_get(&r, s, many, 5, NULL, &err);
    CHECK(rc == SS_OK && r.count == 5, "bulk get: %s", err.message);
    for (size_t i = 0; i < r.count; i++)
        CHECK(r.items[i].code == SS_OK && r.items[i].value, "bulk item %zu: %s", i,
              r.items[i].error ? r.items[i].error : "");
    ss_results_free(&r);
    atomic_store(&unprepared_left, 0);

    /* Writes: a void answer is success. */
    rc = set_kv(s, "k", "x", NULL, NULL, NULL, NULL, &err);
    CHECK(rc == SS_OK, "scripted set: %s", err.message);
    ss_close(s);
    tcp_fake_stop(&srv);
}

/* ------------------------------------------------------------------------------------------ */
/* The real server's authentication                                                            */
/* ------------------------------------------------------------------------------------------ */

static void test_auth(void)
{
    const char *port = getenv("SS_TEST_CASSANDRA_PORT");
    const char *user = getenv("SS_TEST_CASSANDRA_USER");
    if (!port || !user) {
        printf("skip auth: SS_TEST_CASSANDRA_PORT/USER not set "
               "(start scripts/services/cassandra.sh)\n");
        return;
    }
    ss_pair props[] = {{"hosts", getenv("SS_TEST_CASSANDRA_HOSTS")},
                       {"port", port},
                       {"username", user},
                       {"password", "wrong-password-zz"}};
    ss_config cfg = {.name = "auth", .driver = "cassandra", .properties = props};
    ss_store *s = NULL;
    ss_error err;

    cfg.property_count = 2; /* no login */
    ss_code rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_INVALID && strstr(err.message, "username"), "open without login: %s %s",
          ss_code_name(rc), err.message);
    ss_close(s);
    s = NULL;

    cfg.property_count = 4; /* wrong password */
    rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_BACKEND && strstr(err.message, "0x0100"), "wrong password: %s %s",
          ss_code_name(rc), err.message);
    CHECK(!strstr(err.message, "wrong-password-zz"), "the password leaked: %s", err.message);
    ss_close(s);
}

/* ------------------------------------------------------------------------------------------ */
/* A table Dapr's component made                                                               */
/* ------------------------------------------------------------------------------------------ */

/* One raw request on a blocking socket; returns the answer's opcode, body in *body (malloc'd). */
static int raw_call(int fd, ss_buf *b, uint8_t **body, uint32_t *len)
{
    if (write(fd, b->p, b->len) != (ssize_t)b->len) return -1;
    b->len = 0;
    uint8_t h[9];
    if (!tcp_fake_read(fd, h, 9)) return -1;
    *len = ((uint32_t)h[5] << 24) | ((uint32_t)h[6] << 16) | ((uint32_t)h[7] << 8) | h[8];
    *body = malloc(*len ? *len : 1);
    if (!*body || !tcp_fake_read(fd, *body, *len)) return -1;
    return h[4];
}

/* Runs CQL as Dapr's component would (a plain QUERY); true on a RESULT. */
static bool raw_cql(int fd, const char *cql)
{
    ss_buf b = {0};
    uint8_t *body = NULL;
    uint32_t len = 0;
    ss_cql_req_query(&b, 0, cql, CQL_ONE, NULL, 0);
    int op = raw_call(fd, &b, &body, &len);
    if (op != CQL_OP_RESULT && body && len > 6)
        fprintf(stderr, "  %s: %.*s\n", cql, (int)len - 6, (const char *)body + 6);
    free(body);
    free(b.p);
    return op == CQL_OP_RESULT;
}

static int raw_connect(const char *port, const char *user, const char *pw)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    a.sin_port = htons((uint16_t)atoi(port));
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    ss_buf b = {0};
    uint8_t *body = NULL;
    uint32_t len;
    ss_cql_req_startup(&b, 0, "3.0.0");
    int op = raw_call(fd, &b, &body, &len);
    free(body);
    body = NULL;
    if (op == CQL_OP_AUTHENTICATE) {
        ss_cql_req_auth_plain(&b, 0, user, pw);
        op = raw_call(fd, &b, &body, &len) == CQL_OP_AUTH_SUCCESS ? CQL_OP_READY : -1;
        free(body);
    }
    free(b.p);
    if (op != CQL_OP_READY) {
        close(fd);
        return -1;
    }
    return fd;
}

static void test_dapr_table(void)
{
    const char *port = getenv("SS_TEST_CASSANDRA_PORT");
    const char *user = getenv("SS_TEST_CASSANDRA_USER");
    const char *pw = getenv("SS_TEST_CASSANDRA_PASSWORD");
    if (!port || !user || !pw) {
        printf("skip dapr table: SS_TEST_CASSANDRA_PORT/USER/PASSWORD not set "
               "(start scripts/services/cassandra.sh)\n");
        return;
    }
    int fd = raw_connect(port, user, pw);
    CHECK(fd >= 0, "raw CQL connection");
    if (fd < 0) return;
    /* What Dapr's component creates and writes: no etag column, INSERTs with a row marker. */
    CHECK(raw_cql(fd, "CREATE KEYSPACE IF NOT EXISTS ss_daprcompat WITH REPLICATION = {'class' : "
                      "'SimpleStrategy', 'replication_factor' : 1}"),
          "create keyspace");
    CHECK(raw_cql(fd, "DROP TABLE IF EXISTS ss_daprcompat.items"), "drop table");
    CHECK(raw_cql(fd, "CREATE TABLE ss_daprcompat.items (key text, value blob, PRIMARY KEY (key))"),
          "create Dapr's table");
    CHECK(raw_cql(fd, "INSERT INTO ss_daprcompat.items (key, value) VALUES ('from-dapr', "
                      "0x22686922)"),
          "Dapr-style insert");

    ss_pair props[] = {{"hosts", "127.0.0.1"},
                       {"port", port},
                       {"username", user},
                       {"password", pw},
                       {"keyspace", "ss_daprcompat"}};
    ss_config cfg = {
        .name = "compat", .driver = "cassandra", .properties = props, .property_count = 5};
    ss_store *s = NULL;
    ss_error err;
    ss_code rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_OK, "open on Dapr's table (adds the etag column): %s", err.message);
    if (rc == SS_OK) {
        ss_get_request g = {.key = "from-dapr"};
        ss_value *v = NULL;
        rc = ss_get(&v, s, &g, &err);
        CHECK(rc == SS_OK && v && v->len == 4 && !memcmp(v->data, "\"hi\"", 4),
              "Dapr's row reads back: %s", err.message);
        CHECK(v && v->etag && !strcmp(v->etag, "00000000-0000-0000-0000-000000000000"),
              "Dapr's row has the all-zero ETag");
        /* That ETag never matches; a last-write replaces the row and gives it a real one. */
        if (v) {
            rc = set_kv(s, "from-dapr", "x", v->etag, NULL, NULL, NULL, &err);
            CHECK(rc == SS_ETAG_MISMATCH, "write with the all-zero ETag: %s", ss_code_name(rc));
        }
        ss_value_free(v);
        char *etag = NULL;
        rc = set_kv(s, "from-dapr", "\"new\"", NULL, NULL, NULL, &etag, &err);
        CHECK(rc == SS_OK && etag, "last-write: %s", err.message);
        rc = set_kv(s, "from-dapr", "\"newer\"", etag, NULL, NULL, NULL, &err);
        CHECK(rc == SS_OK, "write with the new ETag: %s", err.message);
        ss_free(etag);
        /* A second open sees the column already there. */
        ss_close(s);
        s = NULL;
        rc = ss_open(&s, &cfg, &err);
        CHECK(rc == SS_OK, "second open: %s", err.message);
        v = NULL;
        rc = ss_get(&v, s, &g, &err);
        CHECK(rc == SS_OK && v && v->len == 7 && !memcmp(v->data, "\"newer\"", 7), "read back");
        ss_value_free(v);
    }
    ss_close(s);
    raw_cql(fd, "DROP KEYSPACE IF EXISTS ss_daprcompat");
    close(fd);
}

/* Values over the server's limits are TOO_LARGE, and the store stays usable. The test server's
 * 8 MiB commit log segments cap a mutation at 4 MiB (the driver reads that from the node's
 * settings and declares max_value_len under it); frames are capped at 16 MiB. */
static void test_too_large(void)
{
    const char *port = getenv("SS_TEST_CASSANDRA_PORT");
    const char *user = getenv("SS_TEST_CASSANDRA_USER");
    const char *pw = getenv("SS_TEST_CASSANDRA_PASSWORD");
    if (!port || !user || !pw) {
        printf("skip too large: SS_TEST_CASSANDRA_PORT/USER/PASSWORD not set "
               "(start scripts/services/cassandra.sh)\n");
        return;
    }
    ss_pair props[] = {{"hosts", "127.0.0.1"},
                       {"port", port},
                       {"username", user},
                       {"password", pw},
                       {"maxConns", "1"}};
    ss_config cfg = {
        .name = "big", .driver = "cassandra", .properties = props, .property_count = 5};
    ss_store *s = NULL;
    ss_error err;
    if (ss_open(&s, &cfg, &err) != SS_OK) {
        CHECK(false, "open: %s", err.message);
        return;
    }
    static const size_t sizes[] = {5u << 20, 20u << 20};
    for (size_t i = 0; i < 2; i++) {
        char *big = malloc(sizes[i] + 1);
        memset(big, 'a', sizes[i]);
        big[sizes[i]] = '\0';
        ss_code rc = set_kv(s, "ss-test-too-large", big, NULL, NULL, NULL, NULL, &err);
        CHECK(rc == SS_TOO_LARGE, "%zu MiB value: %s %s", sizes[i] >> 20, ss_code_name(rc),
              err.message);
        free(big);
        /* The same (only) connection, or a fresh one if the server closed it, still works. */
        rc = set_kv(s, "ss-test-too-large", "small", NULL, NULL, NULL, NULL, &err);
        CHECK(rc == SS_OK, "a write after the refused one: %s", err.message);
    }
    ss_delete_request d = {.key = "ss-test-too-large"};
    ss_delete(s, &d, NULL);
    ss_close(s);
}

int main(void)
{
    test_scripted();
    test_auth();
    test_dapr_table();
    test_too_large();
    return check_summary("cassandra_test");
}

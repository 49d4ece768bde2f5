/*
 * test_daemon_limits.c — statestored's edges: API token (401, healthz open), body limit (413
 * with Content-Length and chunked), slow clients cut off, SIGTERM finishing an in-flight
 * request, start-up failures (bad flags, bad component files, stores that cannot open),
 * --version/--help. argv[1] = the statestored executable.
 */
#include "dtest.h"

#include <statestore.h>

#include <poll.h>
#include <sys/resource.h>

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads until the peer closes, `stop` appears, or `secs` pass. Returns bytes read, -1 on error;
 * *closed tells whether the peer closed the connection. */
static ssize_t recv_some(int fd, char *buf, size_t cap, const char *stop, int secs, bool *closed)
{
    size_t n = 0;
    *closed = false;
    for (int waited = 0; waited < secs * 10;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, 100);
        if (pr == 0) {
            waited++;
            continue;
        }
        if (pr < 0) return -1;
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r < 0) {
            if (errno == ECONNRESET) *closed = true;
            return *closed ? (ssize_t)n : -1;
        }
        if (r == 0) {
            *closed = true;
            break;
        }
        n += (size_t)r;
        buf[n] = '\0';
        if (stop && strstr(buf, stop)) break;
        if (n + 1 >= cap) break;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

static void test_token(const char *exe, const char *dir, const char *res)
{
    const char *args[] = {"--resources-path", res, NULL};
    const char *env[] = {"DAPR_API_TOKEN=s3cret", NULL};
    dt_daemon d;
    if (!dt_start_checked(&d, exe, dir, args, env, "token daemon")) return;
    dt_resp r;
    CHECK(dt_req(&d, &r, "GET", "/v1.0/healthz", NULL) == 204, "healthz stays open %ld", r.status);
    CHECK(dt_req(&d, &r, "GET", "/v1.0/healthz/outbound", NULL) == 204, "outbound open %ld",
          r.status);
    CHECK(dt_req(&d, &r, "GET", "/v1.0/metadata", NULL) == 401, "no token %ld", r.status);
    CHECK(strcmp(r.body, "invalid api token") == 0, "%s", r.body);
    CHECK(dt_req(&d, &r, "POST", "/v1.0/state/mem", "[{\"key\":\"a\",\"value\":1}]") == 401,
          "no token on save %ld", r.status);
    static const char *const wrong[][2] = {{"dapr-api-token: s3cre", NULL},
                                           {"dapr-api-token: s3cret!", NULL},
                                           {"dapr-api-token: S3CRET", NULL},
                                           {"dapr-api-token;", NULL}};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
        CHECK(dt_req_h(&d, &r, "GET", "/v1.0/state/mem/a", NULL, 0, wrong[i]) == 401, "%s -> %ld",
              wrong[i][0], r.status);
    const char *good[] = {"dapr-api-token: s3cret", NULL};
    const char *one = "[{\"key\":\"a\",\"value\":1}]";
    CHECK(dt_req_h(&d, &r, "POST", "/v1.0/state/mem", one, strlen(one), good) == 204,
          "good token %ld %s", r.status, r.body);
    CHECK(dt_req_h(&d, &r, "GET", "/v1.0/state/mem/a", NULL, 0, good) == 200, "%ld", r.status);
    CHECK(dt_req_h(&d, &r, "GET", "/v1.0/metadata", NULL, 0, good) == 200, "%ld", r.status);
    CHECK(dt_stop(&d) == 0, "exit");
    /* the token never reaches the log */
    CHECK(!dt_log_contains(&d, "s3cret"), "the API token appears in the log");
}

static void test_body_limit(const char *exe, const char *dir, const char *res)
{
    const char *args[] = {"--resources-path", res, "--max-body-size", "1Ki", NULL};
    dt_daemon d;
    if (!dt_start_checked(&d, exe, dir, args, NULL, "limit daemon")) return;
    char body[4096];
    int n = snprintf(body, sizeof body, "[{\"key\":\"big\",\"value\":\"");
    memset(body + n, 'x', 2000);
    strcpy(body + n + 2000, "\"}]");
    dt_resp r;
    CHECK(dt_req(&d, &r, "POST", "/v1.0/state/mem", body) == 413, "over limit %ld", r.status);
    CHECK(dt_contains(r.body, "max-body-size"), "%s", r.body);
    n = snprintf(body, sizeof body, "[{\"key\":\"small\",\"value\":\"");
    memset(body + n, 'y', 900);
    strcpy(body + n + 900, "\"}]");
    CHECK(dt_req(&d, &r, "POST", "/v1.0/state/mem", body) == 204, "under limit %ld %s", r.status,
          r.body);

    /* chunked: no length up front */
    int fd = raw_connect(d.port);
    CHECK(fd >= 0, "connect");
    if (fd >= 0) {
        char req[4096];
        int h = snprintf(req, sizeof req,
                         "POST /v1.0/state/mem HTTP/1.1\r\nHost: x\r\n"
                         "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
                         "7d0\r\n");
        memset(req + h, 'z', 2000);
        strcpy(req + h + 2000, "\r\n0\r\n\r\n");
        char out[4096];
        bool closed;
        CHECK(send_all(fd, req, strlen(req)), "send");
        recv_some(fd, out, sizeof out, "}", 10, &closed);
        CHECK(strncmp(out, "HTTP/1.1 413", 12) == 0, "chunked over limit: %s", out);
        close(fd);
    }
    CHECK(dt_req(&d, &r, "GET", "/v1.0/state/mem/small", NULL) == 200, "still serving %ld",
          r.status);
    dt_stop(&d);
}

/* A body over the limit sent without "Expect: 100-continue" (Python's urllib, many SDK HTTP
 * clients): the client is still writing when the 413 is ready, so the daemon must read the
 * body (discarding it) before answering, else the client gets a reset instead of the 413.
 * With Expect, the 413 comes at once, before any body is sent. */
static void test_body_limit_no_expect(const char *exe, const char *dir, const char *res)
{
    const char *args[] = {"--resources-path", res, NULL}; /* the default 4 MiB limit */
    dt_daemon d;
    if (!dt_start_checked(&d, exe, dir, args, NULL, "no-expect daemon")) return;
    size_t blen = 5u << 20;
    char *body = malloc(blen);
    int fd = raw_connect(d.port);
    CHECK(body && fd >= 0, "connect");
    if (body && fd >= 0) {
        memset(body, 'x', blen);
        char head[256];
        int h = snprintf(head, sizeof head,
                         "POST /v1.0/state/mem HTTP/1.1\r\nHost: x\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                         blen);
        /* the headers first, then a pause: the daemon has its answer ready before the body
         * comes, as with a client slower than the loopback */
        bool sent = send_all(fd, head, (size_t)h);
        struct timespec pause = {0, 300 * 1000 * 1000};
        nanosleep(&pause, NULL);
        sent = sent && send_all(fd, body, blen);
        CHECK(sent, "the 5 MiB body could not be sent: %s", strerror(errno));
        char out[4096];
        bool closed;
        ssize_t n = recv_some(fd, out, sizeof out, "}", 10, &closed);
        CHECK(n > 0 && strncmp(out, "HTTP/1.1 413", 12) == 0, "no 413 after the body: %s", out);
        CHECK(dt_contains(out, "ERR_REQUEST_TOO_LARGE") && dt_contains(out, "max-body-size"),
              "413 without its error body: %s", out);
    }
    if (fd >= 0) close(fd);
    fd = raw_connect(d.port);
    CHECK(fd >= 0, "connect");
    if (fd >= 0) {
        char head[256];
        int h = snprintf(head, sizeof head,
                         "POST /v1.0/state/mem HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                         blen);
        char out[4096];
        bool closed;
        CHECK(send_all(fd, head, (size_t)h), "send");
        recv_some(fd, out, sizeof out, "}", 10, &closed);
        CHECK(strncmp(out, "HTTP/1.1 413", 12) == 0, "Expect: no early 413: %s", out);
        close(fd);
    }
    free(body);
    dt_resp r;
    CHECK(dt_req(&d, &r, "GET", "/v1.0/healthz", NULL) == 204, "still serving %ld", r.status);
    dt_stop(&d);
}

static void test_slow_client(const char *exe, const char *dir, const char *res)
{
    const char *args[] = {"--resources-path", res, "--connection-timeout", "1", NULL};
    dt_daemon d;
    if (!dt_start_checked(&d, exe, dir, args, NULL, "timeout daemon")) return;

    /* A client that never finishes its headers is disconnected. */
    int fd = raw_connect(d.port);
    CHECK(fd >= 0, "connect");
    if (fd >= 0) {
        const char partial[] = "GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\n";
        CHECK(send_all(fd, partial, sizeof partial - 1), "send");
        char out[1024];
        bool closed = false;
        recv_some(fd, out, sizeof out, NULL, 15, &closed);
        CHECK(closed, "slow client was not cut off");
        close(fd);
    }
    dt_resp r;
    CHECK(dt_req(&d, &r, "GET", "/v1.0/healthz", NULL) == 204, "serving after %ld", r.status);

    dt_stop(&d);
}

/* SIGTERM while a request is half sent: it still completes, then the daemon exits 0. */
static void test_sigterm_inflight(const char *exe, const char *dir, const char *res)
{
    const char *args[] = {"--resources-path", res, NULL};
    dt_daemon d;
    if (!dt_start_checked(&d, exe, dir, args, NULL, "daemon")) return;
    int fd = raw_connect(d.port);
    CHECK(fd >= 0, "connect");
    if (fd < 0) {
        dt_stop(&d);
        return;
    }
    const char body[] = "[{\"key\":\"inflight\",\"value\":\"done\"}]";
    char head[256];
    /* "Expect: 100-continue": the interim 100 proves the daemon has started this request. */
    snprintf(head, sizeof head,
             "POST /v1.0/state/mem HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
             "Expect: 100-continue\r\n\r\n",
             sizeof body - 1);
    CHECK(send_all(fd, head, strlen(head)), "send head");
    char cont[256];
    bool cclosed;
    recv_some(fd, cont, sizeof cont, "\r\n\r\n", 15, &cclosed);
    CHECK(strncmp(cont, "HTTP/1.1 100", 12) == 0, "no 100 Continue: %s", cont);
    CHECK(send_all(fd, body, 10), "send part of the body");
    kill(d.pid, SIGTERM);
    /* the listener is closed soon after: new connections are refused (bounded wait) */
    bool refused = false;
    for (int i = 0; i < 100 && !refused; i++) {
        int fd2 = raw_connect(d.port);
        if (fd2 < 0) {
            refused = true;
        } else {
            close(fd2);
            dt_sleep_ms(100);
        }
    }
    CHECK(refused, "new connections still accepted 10 s after SIGTERM");
    CHECK(send_all(fd, body + 10, sizeof body - 11), "send rest");
    char out[2048];
    bool closed;
    recv_some(fd, out, sizeof out, "\r\n\r\n", 10, &closed);
    CHECK(strncmp(out, "HTTP/1.1 204", 12) == 0, "in-flight request answered: %s", out);
    close(fd);
    int status = dt_wait_exit(&d);
    CHECK(status == 0, "exit status after SIGTERM: %d", status);
    if (status != -1) d.pid = 0;
    dt_stop(&d);
    CHECK(dt_log_contains(&d, "SIGTERM received"), "no shutdown line in the log");
}

/* Many keep-alive connections open at once, each used twice: all are served. */
static void test_many_connections(const char *exe, const char *dir, const char *res)
{
    enum { WANT = 2000 };
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < WANT + 100 && rl.rlim_max >= WANT + 100) {
        rl.rlim_cur = WANT + 100;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    int count = rl.rlim_cur >= WANT + 100 ? WANT : (int)rl.rlim_cur - 100;
    if (count < WANT) printf("many connections: file limit allows only %d\n", count);
    const char *args[] = {"--resources-path", res, NULL};
    dt_daemon d;
    if (!dt_start_checked(&d, exe, dir, args, NULL, "daemon")) return;
    static int fds[WANT];
    int opened = 0;
    for (int i = 0; i < count; i++) {
        fds[i] = raw_connect(d.port);
        if (fds[i] < 0) break;
        opened++;
    }
    CHECK(opened == count, "opened %d of %d connections", opened, count);
    static const char req[] = "GET /v1.0/state/mem/nothing HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int round = 0; round < 2; round++) {
        int ok = 0;
        for (int i = 0; i < opened; i++)
            if (!send_all(fds[i], req, sizeof req - 1)) break;
        for (int i = 0; i < opened; i++) {
            char out[1024];
            bool closed;
            recv_some(fds[i], out, sizeof out, "\r\n\r\n", 20, &closed);
            ok += strncmp(out, "HTTP/1.1 204", 12) == 0 && !closed;
        }
        CHECK(ok == opened, "round %d: %d of %d keep-alive connections answered", round, ok,
              opened);
    }
    for (int i = 0; i < opened; i++) close(fds[i]);
    CHECK(dt_stop(&d) == 0, "exit");
}

/* Runs the daemon expecting it to exit; returns its status and the output in buf. */
static int run_exit(const char *exe, const char *dir, const char *const *args, char *buf,
                    size_t cap)
{
    dt_daemon d;
    int st = -1;
    if (dt_start(&d, exe, dir, args, NULL, &st)) {
        dt_stop(&d);
        return -1;
    }
    dt_stop(&d);
    buf[0] = '\0';
    FILE *f = fopen(d.log, "r");
    if (f) {
        size_t n = fread(buf, 1, cap - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return st;
}

/* run_exit with --resources-path DIR/sub, a directory holding one component file `file`. */
static int run_exit_component(const char *exe, const char *dir, const char *sub, const char *file,
                              const char *yaml, char *buf, size_t cap)
{
    char res[700], path[800];
    snprintf(res, sizeof res, "%s/%s", dir, sub);
    mkdir(res, 0755);
    snprintf(path, sizeof path, "%s/%s", res, file);
    dt_write_file(path, yaml);
    const char *args[] = {"--resources-path", res, NULL};
    return run_exit(exe, dir, args, buf, cap);
}

static void test_startup_errors(const char *exe, const char *dir)
{
    char out[8192];
    const char *a1[] = {"--max-body-size", "4Xi", NULL};
    CHECK(run_exit(exe, dir, a1, out, sizeof out) == 2 && dt_contains(out, "--max-body-size"),
          "bad size: %s", out);
    const char *a2[] = {"--log-level", "loud", NULL};
    CHECK(run_exit(exe, dir, a2, out, sizeof out) == 2 && dt_contains(out, "log-level"), "%s", out);
    const char *a3[] = {"--no-such-flag", "1", NULL};
    CHECK(run_exit(exe, dir, a3, out, sizeof out) == 2 && dt_contains(out, "no-such-flag"), "%s",
          out);
    const char *a4[] = {"--version", NULL};
    CHECK(run_exit(exe, dir, a4, out, sizeof out) == 0 && dt_contains(out, SS_VERSION_STRING), "%s",
          out);
    const char *a5[] = {"--help", NULL};
    CHECK(run_exit(exe, dir, a5, out, sizeof out) == 0 && dt_contains(out, "--resources-path"),
          "%s", out);

    /* an invalid component file stops start-up naming the file */
    int st =
        run_exit_component(exe, dir, "badyaml", "broken.yaml",
                           "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: b\n"
                           "spec:\n  type: state.memory\n  metadata:\n  - name: [1, 2\n",
                           out, sizeof out);
    CHECK(st != 0 && st != -1 && dt_contains(out, "broken.yaml"), "bad yaml (%d): %s", st, out);

    /* a store that cannot open stops start-up with the store's error */
    st = run_exit_component(
        exe, dir, "badstore", "s.yaml",
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: broken\n"
        "spec:\n  type: state.sqlite\n  version: v1\n  metadata:\n"
        "  - name: connectionString\n    value: /nonexistent-dir/x/y.db\n",
        out, sizeof out);
    CHECK(st != 0 && st != -1 && dt_contains(out, "broken"), "bad store (%d): %s", st, out);

    /* a custom keyPrefix containing || is refused */
    st = run_exit_component(exe, dir, "badprefix", "p.yaml",
                            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: p\n"
                            "spec:\n  type: state.in-memory\n  version: v1\n  metadata:\n"
                            "  - name: keyPrefix\n    value: a||b\n",
                            out, sizeof out);
    CHECK(st != 0 && st != -1 && dt_contains(out, "can't contain '||'"), "bad prefix (%d): %s", st,
          out);

    /* an unknown driver (replacing the component above) */
    st = run_exit_component(exe, dir, "badprefix", "p.yaml",
                            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: p\n"
                            "spec:\n  type: state.nosuchdb\n  version: v1\n",
                            out, sizeof out);
    CHECK(st != 0 && st != -1 && dt_contains(out, "nosuchdb"), "unknown driver (%d): %s", st, out);

    /* a missing resources directory */
    const char *a9[] = {"--resources-path", "/nonexistent-ss-dir", NULL};
    st = run_exit(exe, dir, a9, out, sizeof out);
    CHECK(st != 0 && st != -1 && dt_contains(out, "nonexistent-ss-dir"), "missing dir (%d): %s", st,
          out);
}

int main(int argc, char **argv)
{
    const char *exe;
    char dir[] = "/tmp/ss-daemon-limits-XXXXXX", res[600];
    int rc = dt_setup(argc, argv, &exe, dir, res, sizeof res);
    if (rc) return rc;

    test_token(exe, dir, res);
    test_body_limit(exe, dir, res);
    test_body_limit_no_expect(exe, dir, res);
    test_slow_client(exe, dir, res);
    test_sigterm_inflight(exe, dir, res);
    test_startup_errors(exe, dir);
    test_many_connections(exe, dir, res);

    return dt_teardown(dir, "test_daemon_limits");
}

/*
 * dtest.h — helpers for statestored's tests: start the built daemon on a free port with a
 * temporary resources directory, talk to it over real sockets with libcurl, count failures.
 */
#ifndef SS_DTEST_H
#define SS_DTEST_H

#include <curl/curl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int dt_failures;
static int dt_checks;
static bool dt_quiet; /* no transfer-error lines while polling for start-up */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        dt_checks++;                                                                               \
        if (!(cond)) {                                                                             \
            dt_failures++;                                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

__attribute__((unused)) static void dt_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

__attribute__((unused)) static void dt_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

typedef struct dt_resp {
    long status;
    char body[1 << 16];
    size_t len;
    char etag[256];
    char headers[8192];
    size_t hlen;
} dt_resp;

typedef struct dt_daemon {
    pid_t pid;
    int port;
    char base[64];
    char log[512];
    CURL *curl;
} dt_daemon;

/* Appends what fits of p[0..n) to buf (capacity cap, *len used), keeping it NUL-terminated. */
__attribute__((unused)) static void dt_append(char *buf, size_t cap, size_t *len, const char *p,
                                              size_t n)
{
    size_t room = cap - 1 - *len;
    size_t c = n < room ? n : room;
    memcpy(buf + *len, p, c);
    *len += c;
    buf[*len] = '\0';
}

__attribute__((unused)) static size_t dt_on_body(char *p, size_t size, size_t n, void *ud)
{
    dt_resp *r = ud;
    dt_append(r->body, sizeof r->body, &r->len, p, size * n);
    return size * n;
}

__attribute__((unused)) static size_t dt_on_header(char *p, size_t size, size_t n, void *ud)
{
    dt_resp *r = ud;
    size_t len = size * n;
    dt_append(r->headers, sizeof r->headers, &r->hlen, p, len);
    if (len > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        const char *v = p + 5;
        while (*v == ' ') v++;
        size_t vl = (size_t)(p + len - v);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n')) vl--;
        if (vl >= sizeof r->etag) vl = sizeof r->etag - 1;
        memcpy(r->etag, v, vl);
        r->etag[vl] = '\0';
    }
    return len;
}

/* Value of a response header (case-insensitive name) into out; false when absent. */
__attribute__((unused)) static bool dt_header(const dt_resp *r, const char *name, char *out,
                                              size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = r->headers; *p;) {
        const char *eol = strchr(p, '\n');
        if (!eol) eol = p + strlen(p);
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            size_t vl = (size_t)(eol - v);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n')) vl--;
            if (vl >= outlen) vl = outlen - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return true;
        }
        p = *eol ? eol + 1 : eol;
    }
    return false;
}

/*
 * One request over the daemon's keep-alive connection. `extra` is a NULL-terminated list of
 * header lines. Returns the status (0 when the transfer failed).
 */
__attribute__((unused)) static long dt_req_h(dt_daemon *d, dt_resp *r, const char *method,
                                             const char *path, const char *body, size_t body_len,
                                             const char *const *extra)
{
    memset(r, 0, sizeof *r);
    char url[4096];
    snprintf(url, sizeof url, "%s%s", d->base, path);
    CURL *c = d->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dt_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, dt_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Expect:");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        h = curl_slist_append(h, "Content-Type: application/json");
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    for (; extra && *extra; extra++) h = curl_slist_append(h, *extra);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    if (rc != CURLE_OK) {
        if (!dt_quiet) fprintf(stderr, "  (%s %s: %s)\n", method, path, curl_easy_strerror(rc));
        return r->status = 0;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    return r->status;
}

__attribute__((unused)) static long dt_req(dt_daemon *d, dt_resp *r, const char *method,
                                           const char *path, const char *body)
{
    return dt_req_h(d, r, method, path, body, body ? strlen(body) : 0, NULL);
}

/*
 * Starts argv[0] with argv (NULL-terminated) and env overrides ("NAME=value", may be NULL);
 * stdout goes to the file `out`, stderr to `err` (NULL: to `out` as well). Returns the pid.
 */
__attribute__((unused)) static pid_t dt_spawn(const char *const *argv, const char *out,
                                              const char *err, const char *const *env)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = err ? open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644) : fd;
        if (fd >= 0) dup2(fd, 1);
        if (fe >= 0) dup2(fe, 2);
        for (; env && *env; env++) putenv((char *)*env);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/*
 * Starts `exe` with args (NULL-terminated, after the port flags) and env overrides
 * ("NAME=value", NULL-terminated, may be NULL); waits until /v1.0/healthz answers.
 * Returns false (the daemon's exit status in *exit_status when it died) if it never came up.
 */
__attribute__((unused)) static bool dt_start(dt_daemon *d, const char *exe, const char *dir,
                                             const char *const *args, const char *const *env,
                                             int *exit_status)
{
    memset(d, 0, sizeof *d);
    static int n;
    snprintf(d->log, sizeof d->log, "%s/daemon-%d.log", dir, n++);
    /* Port 0: the daemon binds a free port itself and names it in its log (no race with other
     * processes picking "free" ports at the same time). */
    const char *argv[64];
    int a = 0;
    argv[a++] = exe;
    argv[a++] = "--dapr-http-port";
    argv[a++] = "0";
    for (; args && *args && a < 62; args++) argv[a++] = *args;
    argv[a] = NULL;
    pid_t pid = dt_spawn(argv, d->log, NULL, env);
    d->pid = pid;
    d->curl = curl_easy_init();
    for (int i = 0; i < 200; i++) { /* up to 20 s */
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            d->pid = 0;
            if (exit_status) *exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
            return false;
        }
        if (!d->port) {
            FILE *f = fopen(d->log, "r");
            char line[2048];
            while (f && fgets(line, sizeof line, f)) {
                const char *p = strstr(line, "listening on 127.0.0.1:");
                if (p) d->port = atoi(p + strlen("listening on 127.0.0.1:"));
            }
            if (f) fclose(f);
            if (!d->port) {
                dt_sleep_ms(50);
                continue;
            }
            snprintf(d->base, sizeof d->base, "http://127.0.0.1:%d", d->port);
        }
        dt_resp r;
        CURL *c = d->curl;
        (void)c;
        dt_quiet = true;
        long code = dt_req(d, &r, "GET", "/v1.0/healthz", NULL);
        dt_quiet = false;
        if (code == 204) return true;
        dt_sleep_ms(100);
    }
    return false;
}

/* Waits up to 30 s for the daemon to exit; returns its exit status (128 + signal), or -1. */
__attribute__((unused)) static int dt_wait_exit(const dt_daemon *d)
{
    for (int i = 0; i < 300; i++) {
        int st;
        if (waitpid(d->pid, &st, WNOHANG) == d->pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        dt_sleep_ms(100);
    }
    return -1;
}

/* SIGTERM, then wait (bounded) for exit; returns the exit status, or -1. */
__attribute__((unused)) static int dt_stop(dt_daemon *d)
{
    int status = -1;
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        status = dt_wait_exit(d);
        if (status == -1) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, NULL, 0);
        }
        d->pid = 0;
    }
    if (d->curl) curl_easy_cleanup(d->curl);
    d->curl = NULL;
    return status;
}

__attribute__((unused)) static void dt_dump_log(const dt_daemon *d)
{
    FILE *f = fopen(d->log, "r");
    if (!f) return;
    char line[2048];
    fprintf(stderr, "---- %s\n", d->log);
    while (fgets(line, sizeof line, f)) fputs(line, stderr);
    fclose(f);
}

__attribute__((unused)) static bool dt_contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* Whether a line of the daemon's log contains `needle`. */
__attribute__((unused)) static bool dt_log_contains(const dt_daemon *d, const char *needle)
{
    FILE *f = fopen(d->log, "r");
    char line[4096];
    bool found = false;
    while (f && fgets(line, sizeof line, f)) found |= strstr(line, needle) != NULL;
    if (f) fclose(f);
    return found;
}

/*
 * dt_start, checked: a daemon that does not come up is a failure named by `what`, with its log
 * dumped. Returns whether it is up (when not, *d is already stopped).
 */
__attribute__((unused)) static bool dt_start_checked(dt_daemon *d, const char *exe, const char *dir,
                                                     const char *const *args,
                                                     const char *const *env, const char *what)
{
    int st = -1;
    bool up = dt_start(d, exe, dir, args, env, &st);
    CHECK(up, "%s did not start (exit %d)", what, st);
    if (!up) {
        dt_dump_log(d);
        dt_stop(d);
    }
    return up;
}

__attribute__((unused)) static void dt_rmtree(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

__attribute__((unused)) static int dt_finish(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, dt_checks, dt_failures);
    return dt_failures ? 1 : 0;
}

/* A resources directory's component "mem": the in-memory store. */
static const char DT_MEM_YAML[] = "apiVersion: dapr.io/v1alpha1\n"
                                  "kind: Component\n"
                                  "metadata:\n"
                                  "  name: mem\n"
                                  "spec:\n"
                                  "  type: state.in-memory\n"
                                  "  version: v1\n"
                                  "  metadata: []\n";

/*
 * A test program's start: argv[1] is the statestored executable (*exe); makes the temporary
 * directory `dir` (a mkdtemp template, filled in) and in it the resources directory `res`
 * (capacity reslen) holding DT_MEM_YAML as mem.yaml; initialises libcurl. Returns 0, or the
 * status main() should exit with.
 */
__attribute__((unused)) static int dt_setup(int argc, char **argv, const char **exe, char *dir,
                                            char *res, size_t reslen)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <statestored>\n", argv[0]);
        return 2;
    }
    *exe = argv[1];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[1024];
    snprintf(res, reslen, "%s/res", dir);
    mkdir(res, 0755);
    snprintf(path, sizeof path, "%s/mem.yaml", res);
    dt_write_file(path, DT_MEM_YAML);
    return 0;
}

/* A test program's end: removes `dir`, cleans up libcurl, prints the counts; main()'s status. */
__attribute__((unused)) static int dt_teardown(const char *dir, const char *name)
{
    dt_rmtree(dir);
    curl_global_cleanup();
    return dt_finish(name);
}

#endif

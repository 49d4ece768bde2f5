/*
 * main.c — statestored: flags (daprd's names), stores from Dapr component files, the
 * libmicrohttpd server (thread pool + epoll), and shutdown on SIGTERM/SIGINT that lets
 * in-flight requests finish.
 */
#include "daemon.h"

#ifdef SS_DAEMON_HAVE_COMPONENTS
#include "components/components.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY  (4u << 20)
#define MAX_MAX_BODY      (1u << 30) /* the JSON tokenizer indexes with int */
#define DEFAULT_TIMEOUT_S 30
/* Whole-request deadline: the idle timeout alone lets a client drip one byte per 29 s. */
#define DEFAULT_REQUEST_TIMEOUT_S 60
#define DEFAULT_MAX_KEY_LEN       4096
#define DEFAULT_MAX_ITEMS         10000
#define MIN_HEADER_SIZE           (4u << 10)
#define MAX_HEADER_SIZE           (1u << 20)
#define DRAIN_TIMEOUT_S           30
/* Per-connection buffer for the request line and headers (bodies go to our own buffer): half
 * of libmicrohttpd's 32 KiB default, so thousands of idle keep-alive connections stay cheap. */
#define CONNECTION_MEMORY    (16u << 10)
#define DEFAULT_STORE_NAME   "statestore"
#define DEFAULT_STORE_PATH   "statestore.db"
#define KEY_PREFIX_PROP      "keyPrefix"
#define KEY_PREFIX_SEPARATOR "||"

/* ---------------------------------------------------------------------------------------- */
/* Logging                                                                                   */
/* ---------------------------------------------------------------------------------------- */

ss_log_level dlog_level = SS_LOG_INFO;

static void vdlog(ss_log_level level, const char *fmt, va_list ap)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* logfmt: one line per event, so quotes, backslashes and line breaks are escaped */
    char esc[4096];
    size_t o = 0;
    for (const char *p = msg; *p && o + 2 < sizeof esc; p++) {
        char ch = *p;
        if (ch == '"' || ch == '\\') {
            esc[o++] = '\\';
            esc[o++] = ch;
        } else {
            esc[o++] = ch == '\n' || ch == '\r' ? ' ' : ch;
        }
    }
    esc[o] = '\0';
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    if ((unsigned)level > SS_LOG_DEBUG) level = SS_LOG_DEBUG;
    fprintf(stderr, "time=\"%s.%03ldZ\" level=%s msg=\"%s\"\n", when, ts.tv_nsec / 1000000,
            names[level], esc);
}

void dlog(ss_log_level level, const char *fmt, ...)
{
    if (level > dlog_level) return;
    va_list ap;
    va_start(ap, fmt);
    vdlog(level, fmt, ap);
    va_end(ap);
}

static void lib_log(void *ctx, ss_log_level level, const char *message)
{
    dlog(level, "%s", message);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    if (SS_LOG_WARN > dlog_level) return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    dlog(SS_LOG_WARN, "http: %s", msg);
}

/* ---------------------------------------------------------------------------------------- */
/* Options                                                                                   */
/* ---------------------------------------------------------------------------------------- */

typedef struct options {
    unsigned port;
    const char *listen;
    const char **dirs;
    size_t ndirs;
    const char *app_id;
    size_t max_body;
    const char *default_store_path;
    unsigned threads;
    unsigned timeout_s;
    unsigned request_timeout_s;
    size_t header_size;
    unsigned max_conns; /* 0 = as many as descriptors allow */
    unsigned max_key_len;
    unsigned max_items;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: statestored [flags]\n"
            "Serves Dapr's state HTTP API (/v1.0/state/...) over statestore drivers.\n\n"
            "  --dapr-http-port N            port to listen on (default 3500; 0 = any free)\n"
            "  --dapr-listen-addresses ADDR  address to listen on (default 127.0.0.1)\n"
            "  --resources-path DIR          directory of Dapr component YAML files (repeatable)\n"
            "  --components-path DIR         same as --resources-path\n"
            "  --app-id ID                   app id: the default key prefix \"ID||\"\n"
            "  --log-level LEVEL             debug | info | warn | error (default info)\n"
            "  --max-body-size SIZE          request body limit: bytes, or 512Ki, 4Mi, 1Gi "
            "(default 4Mi)\n"
            "  --default-store-path FILE     SQLite file of the store \"statestore\" served when "
            "no\n"
            "                                component file defines a state store (default "
            "./statestore.db)\n"
            "  --threads N                   HTTP worker threads (default 2 per CPU, at least "
            "4)\n"
            "  --connection-timeout SECONDS  close connections idle or stalled this long "
            "(default 30)\n"
            "  --request-timeout SECONDS     a request body must arrive within this time, else "
            "408\n"
            "                                (default 60)\n"
            "  --max-header-size SIZE        request line + headers per connection, 4Ki..1Mi, "
            "else 431\n"
            "                                (default 16Ki)\n"
            "  --max-connections N           open connections served; more get 503 (default: "
            "as many\n"
            "                                as file descriptors allow)\n"
            "  --max-key-length N            longest key in bytes, else 400 (default 4096; 0 = "
            "no limit)\n"
            "  --max-bulk-items N            most keys/items/operations in one bulk get, save "
            "or\n"
            "                                transaction, else 400 (default 10000; 0 = no "
            "limit)\n"
            "  --version                     print the version and exit\n"
            "  --help                        print this help and exit\n\n"
            "Environment: DAPR_API_TOKEN (require header dapr-api-token on every request but "
            "/v1.0/healthz),\n"
            "NAMESPACE (for keyPrefix namespace).\n");
}

/* Kubernetes-style quantity as daprd's --max-body-size: 4Mi, 512Ki, 1Gi, 4M, 1000, ... */
static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-') return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return false;
    unsigned long long mul = 1;
    if (strcmp(end, "") == 0)
        mul = 1;
    else if (strcmp(end, "Ki") == 0)
        mul = 1ull << 10;
    else if (strcmp(end, "Mi") == 0)
        mul = 1ull << 20;
    else if (strcmp(end, "Gi") == 0)
        mul = 1ull << 30;
    else if (strcmp(end, "k") == 0 || strcmp(end, "K") == 0)
        mul = 1000;
    else if (strcmp(end, "M") == 0)
        mul = 1000000;
    else if (strcmp(end, "G") == 0)
        mul = 1000000000;
    else
        return false;
    if (v > MAX_MAX_BODY / mul) return false;
    *out = (size_t)(v * mul);
    return *out > 0;
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-') return false;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max) return false;
    *out = (unsigned)v;
    return true;
}

/* daprd flags that take a value and mean nothing here: accepted so daprd scripts still run. */
static const char *const ignored_value_flags[] = {
    "app-port",
    "dapr-grpc-port",
    "dapr-internal-grpc-port",
    "metrics-port",
    "profile-port",
    "config",
    "app-protocol",
    "placement-host-address",
    "app-max-concurrency",
    "mode",
    "app-channel-address",
    "dapr-http-read-buffer-size",
    "control-plane-address",
    "sentry-address",
    "dapr-graceful-shutdown-seconds",
    NULL,
};
static const char *const ignored_bool_flags[] = {
    "enable-metrics", "log-as-json", "enable-profiling", "enable-mtls", "app-ssl", NULL,
};

static bool in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0) return true;
    return false;
}

/* Returns 0 to run, 1 to exit 0 (help/version), 2 on a bad flag. */
static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            fprintf(stderr, "statestored: unexpected argument \"%s\" (see --help)\n", a);
            return 2;
        }
        a += a[1] == '-' ? 2 : 1; /* Go's flag package takes -flag and --flag */
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (nlen >= sizeof name) nlen = sizeof name - 1;
        memcpy(name, a, nlen);
        name[nlen] = '\0';
        if (eq) val = eq + 1;
        if (strcmp(name, "help") == 0 || strcmp(name, "h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(name, "version") == 0) {
            printf("statestored %s\n", ss_version());
            return 1;
        }
        if (in_list(ignored_bool_flags, name)) {
            fprintf(stderr, "statestored: ignoring daprd flag --%s\n", name);
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "statestored: flag --%s needs a value\n", name);
                return 2;
            }
            val = argv[++i];
        }
        if (strcmp(name, "dapr-http-port") == 0) {
            if (!parse_uint(val, 65535, &o->port)) {
                fprintf(stderr, "statestored: --dapr-http-port: \"%s\" is not a port\n", val);
                return 2;
            }
        } else if (strcmp(name, "dapr-listen-addresses") == 0) {
            if (strchr(val, ',')) {
                fprintf(stderr, "statestored: --dapr-listen-addresses: only one address is "
                                "supported\n");
                return 2;
            }
            o->listen = val;
        } else if (strcmp(name, "resources-path") == 0 || strcmp(name, "components-path") == 0) {
            const char **d = realloc(o->dirs, (o->ndirs + 1) * sizeof *d);
            if (!d) return 2;
            o->dirs = d;
            o->dirs[o->ndirs++] = val;
        } else if (strcmp(name, "app-id") == 0) {
            o->app_id = val;
        } else if (strcmp(name, "log-level") == 0) {
            if (strcmp(val, "debug") == 0)
                dlog_level = SS_LOG_DEBUG;
            else if (strcmp(val, "info") == 0)
                dlog_level = SS_LOG_INFO;
            else if (strcmp(val, "warn") == 0)
                dlog_level = SS_LOG_WARN;
            else if (strcmp(val, "error") == 0 || strcmp(val, "fatal") == 0)
                dlog_level = SS_LOG_ERROR;
            else {
                fprintf(stderr,
                        "statestored: --log-level: \"%s\" is not debug, info, warn or error\n",
                        val);
                return 2;
            }
        } else if (strcmp(name, "max-body-size") == 0) {
            if (!parse_size(val, &o->max_body)) {
                fprintf(stderr,
                        "statestored: --max-body-size: \"%s\" is not a size (e.g. 4Mi, 512Ki, "
                        "1048576; at most 1Gi)\n",
                        val);
                return 2;
            }
        } else if (strcmp(name, "dapr-http-max-request-size") == 0) { /* older daprd, in MB */
            unsigned mb;
            if (!parse_uint(val, 1024, &mb) || mb == 0) {
                fprintf(stderr,
                        "statestored: --dapr-http-max-request-size: \"%s\" is not a "
                        "size in MB\n",
                        val);
                return 2;
            }
            o->max_body = (size_t)mb << 20;
        } else if (strcmp(name, "default-store-path") == 0) {
            o->default_store_path = val;
        } else if (strcmp(name, "threads") == 0) {
            if (!parse_uint(val, 1024, &o->threads) || o->threads == 0) {
                fprintf(stderr, "statestored: --threads: \"%s\" is not 1..1024\n", val);
                return 2;
            }
        } else if (strcmp(name, "connection-timeout") == 0) {
            if (!parse_uint(val, 86400, &o->timeout_s) || o->timeout_s == 0) {
                fprintf(stderr, "statestored: --connection-timeout: \"%s\" is not 1..86400\n", val);
                return 2;
            }
        } else if (strcmp(name, "request-timeout") == 0) {
            if (!parse_uint(val, 86400, &o->request_timeout_s) || o->request_timeout_s == 0) {
                fprintf(stderr, "statestored: --request-timeout: \"%s\" is not 1..86400\n", val);
                return 2;
            }
        } else if (strcmp(name, "max-header-size") == 0) {
            if (!parse_size(val, &o->header_size) || o->header_size < MIN_HEADER_SIZE ||
                o->header_size > MAX_HEADER_SIZE) {
                fprintf(stderr,
                        "statestored: --max-header-size: \"%s\" is not a size from 4Ki to 1Mi\n",
                        val);
                return 2;
            }
        } else if (strcmp(name, "max-connections") == 0) {
            if (!parse_uint(val, 1000000, &o->max_conns) || o->max_conns == 0) {
                fprintf(stderr, "statestored: --max-connections: \"%s\" is not 1..1000000\n", val);
                return 2;
            }
        } else if (strcmp(name, "max-key-length") == 0) {
            if (!parse_uint(val, UINT_MAX, &o->max_key_len)) {
                fprintf(stderr,
                        "statestored: --max-key-length: \"%s\" is not a byte count (0 = no "
                        "limit)\n",
                        val);
                return 2;
            }
        } else if (strcmp(name, "max-bulk-items") == 0) {
            if (!parse_uint(val, UINT_MAX, &o->max_items)) {
                fprintf(stderr,
                        "statestored: --max-bulk-items: \"%s\" is not a count (0 = no limit)\n",
                        val);
                return 2;
            }
        } else if (in_list(ignored_value_flags, name)) {
            fprintf(stderr, "statestored: ignoring daprd flag --%s\n", name);
        } else {
            fprintf(stderr, "statestored: unknown flag --%s (see --help)\n", name);
            return 2;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Stores                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static void stores_free(dserver *s)
{
    for (size_t i = 0; i < s->nstores; i++) {
        dstore *st = &s->stores[i];
        ss_close(st->store);
        free(st->name);
        free(st->type);
        free(st->version);
        free(st->prefix);
    }
    free(s->stores);
    s->stores = NULL;
    s->nstores = 0;
}

static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", a, b, c);
    return p;
}

/* daprd's keyPrefix rules (pkg/components/state/state_config.go). */
static bool key_prefix(const char *mode, const char *store, const char *app_id, char **out,
                       char *err, size_t errlen)
{
    *out = NULL;
    const char *base = NULL;
    char *owned = NULL;
    if (!mode || !*mode || strcasecmp(mode, "appid") == 0) {
        base = app_id;
    } else if (strcasecmp(mode, "none") == 0) {
        return true;
    } else if (strcasecmp(mode, "name") == 0) {
        base = store;
    } else if (strcasecmp(mode, "namespace") == 0) {
        const char *ns = getenv("NAMESPACE");
        if (ns && *ns && *app_id)
            base = owned = join3(ns, ".", app_id);
        else
            base = app_id;
        if (ns && *ns && *app_id && !owned) return snprintf(err, errlen, "out of memory"), false;
    } else {
        if (strstr(mode, KEY_PREFIX_SEPARATOR)) {
            snprintf(err, errlen, "keyPrefix '%s' can't contain '||'", mode);
            return false;
        }
        base = mode;
    }
    if (!base || !*base) return true;
    *out = join3(base, KEY_PREFIX_SEPARATOR, "");
    free(owned);
    if (!*out) return snprintf(err, errlen, "out of memory"), false;
    return true;
}

/* Opens one store; `props` keep keyPrefix out (it is the daemon's, not the driver's). */
static bool open_store(dserver *s, const char *name, const char *driver, const char *version,
                       const ss_pair *props, size_t nprops, const char *app_id, const char *origin)
{
    for (size_t i = 0; i < s->nstores; i++)
        if (strcmp(s->stores[i].name, name) == 0) {
            dlog(SS_LOG_ERROR, "%s: state store \"%s\" is defined twice", origin, name);
            return false;
        }
    ss_pair *dp = calloc(nprops ? nprops : 1, sizeof *dp);
    dstore *arr = realloc(s->stores, (s->nstores + 1) * sizeof *arr);
    if (!dp || !arr) {
        free(dp);
        if (arr) s->stores = arr;
        dlog(SS_LOG_ERROR, "out of memory");
        return false;
    }
    s->stores = arr;
    const char *mode = NULL;
    size_t n = 0;
    for (size_t i = 0; i < nprops; i++) {
        if (strcasecmp(props[i].name, KEY_PREFIX_PROP) == 0)
            mode = props[i].value;
        else
            dp[n++] = props[i];
    }
    char err[256];
    dstore st = {0};
    if (!key_prefix(mode, name, app_id, &st.prefix, err, sizeof err)) {
        dlog(SS_LOG_ERROR, "%s: state store \"%s\": %s", origin, name, err);
        free(dp);
        return false;
    }
    ss_config cfg = {.driver = driver,
                     .name = name,
                     .properties = dp,
                     .property_count = n,
                     .log = lib_log,
                     .log_level = dlog_level};
    ss_error e;
    ss_code c = ss_open(&st.store, &cfg, &e);
    free(dp);
    if (c != SS_OK) {
        dlog(SS_LOG_ERROR, "%s: cannot open state store \"%s\" (%s): %s", origin, name, driver,
             e.message);
        free(st.prefix);
        return false;
    }
    st.name = strdup(name);
    st.type = strncmp(driver, "state.", 6) == 0 ? strdup(driver) : join3("state.", driver, "");
    st.version = strdup(version && *version ? version : "v1");
    if (!st.name || !st.type || !st.version) {
        ss_close(st.store);
        free(st.name);
        free(st.type);
        free(st.version);
        free(st.prefix);
        dlog(SS_LOG_ERROR, "out of memory");
        return false;
    }
    st.prefix_len = st.prefix ? strlen(st.prefix) : 0;
    ss_store_features(st.store, &st.features);
    s->stores[s->nstores++] = st;
    dlog(SS_LOG_INFO, "state store \"%s\" ready: driver %s, key prefix %s%s%s", name,
         ss_store_driver(st.store), st.prefix ? "\"" : "", st.prefix ? st.prefix : "none",
         st.prefix ? "\"" : "");
    return true;
}

static bool load_stores(dserver *s, const options *o)
{
#ifdef SS_DAEMON_HAVE_COMPONENTS
    ss_component_list list = {0};
    for (size_t i = 0; i < o->ndirs; i++) {
        ss_error e;
        if (ss_components_load_dir(&list, o->dirs[i], &e) != SS_OK) {
            dlog(SS_LOG_ERROR, "loading components: %s", e.message);
            ss_component_list_free(&list);
            return false;
        }
    }
    for (size_t i = 0; i < list.count; i++) {
        const ss_component *c = &list.items[i];
        char origin[1024];
        snprintf(origin, sizeof origin, "%s:%d", c->file ? c->file : "?", c->line);
        if (c->scopes) {
            bool in = false;
            for (size_t j = 0; j < c->scope_count && !in; j++)
                in = strcmp(c->scopes[j], o->app_id) == 0;
            if (!in) {
                dlog(SS_LOG_INFO, "%s: state store \"%s\" skipped: app id \"%s\" not in its scopes",
                     origin, c->name, o->app_id);
                continue;
            }
        }
        if (!open_store(s, c->name, c->driver, c->version, c->properties, c->property_count,
                        o->app_id, origin)) {
            ss_component_list_free(&list);
            return false;
        }
    }
    ss_component_list_free(&list);
#else
    if (o->ndirs) {
        dlog(SS_LOG_ERROR, "this statestored was built without component file support");
        return false;
    }
#endif
    if (s->nstores == 0) {
        ss_pair p = {"connectionString", o->default_store_path};
        dlog(SS_LOG_INFO, "no state store component found: serving \"%s\" on SQLite file %s",
             DEFAULT_STORE_NAME, o->default_store_path);
        return open_store(s, DEFAULT_STORE_NAME, "sqlite", "v1", &p, 1, o->app_id, "default store");
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* HTTP glue                                                                                 */
/* ---------------------------------------------------------------------------------------- */

typedef struct server {
    dserver api;
    size_t max_body;
    atomic_long inflight;
    atomic_long conns;  /* open connections, counted by on_connection */
    long max_conns;     /* --max-connections; 0 = no limit of ours */
    long req_timeout_s; /* --request-timeout */
} server;

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
    if (go_query_unescape(k, key, kl) < 0 || go_query_unescape(v, value ? value : "", vl) < 0) {
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
    api_handle(&srv->api, &req, &r);
    log_request(method, url, &r);
    enum MHD_Result ok = send_resp(conn, &r);
    hresp_free(&r);
    qctx_free(&q);
    return ok;
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
            if (errno || n > srv->max_body) {
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
            /* Chunked uploads have no length up front: drain (bounded) and answer 413 at the
             * end; a client that keeps going far past the limit is cut off. */
            if (ctx->too_large) {
                ctx->len += n;
                if (ctx->len > srv->max_body * 4 + (1u << 20)) return MHD_NO;
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

/* ---------------------------------------------------------------------------------------- */
/* main                                                                                      */
/* ---------------------------------------------------------------------------------------- */

static unsigned default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    n *= 2;
    if (n < 4) n = 4;
    if (n > 64) n = 64;
    return (unsigned)n;
}

/* Thousands of keep-alive connections need as many descriptors: raise the soft limit. */
static unsigned raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1000;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
        if (want > rl.rlim_cur) {
            rl.rlim_cur = want;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    rlim_t lim = rl.rlim_cur > 64 ? rl.rlim_cur - 64 : 16;
    return lim > 60000 ? 60000 : (unsigned)lim;
}

int main(int argc, char **argv)
{
    options o = {.port = 3500,
                 .listen = "127.0.0.1",
                 .app_id = "",
                 .max_body = DEFAULT_MAX_BODY,
                 .default_store_path = DEFAULT_STORE_PATH,
                 .timeout_s = DEFAULT_TIMEOUT_S,
                 .request_timeout_s = DEFAULT_REQUEST_TIMEOUT_S,
                 .header_size = CONNECTION_MEMORY,
                 .max_key_len = DEFAULT_MAX_KEY_LEN,
                 .max_items = DEFAULT_MAX_ITEMS};
    int rc = parse_args(argc, argv, &o);
    if (rc) {
        free(o.dirs);
        return rc == 1 ? 0 : 2;
    }
    if (!o.threads) o.threads = default_threads();

    struct sockaddr_storage ss = {0};
    bool v6 = strchr(o.listen, ':') != NULL;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)o.port);
        if (inet_pton(AF_INET6, o.listen, &a->sin6_addr) != 1) v6 = false, ss.ss_family = 0;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)o.port);
        if (strcmp(o.listen, "localhost") == 0) o.listen = "127.0.0.1";
        if (inet_pton(AF_INET, o.listen, &a->sin_addr) != 1) ss.ss_family = 0;
    }
    if (!ss.ss_family) {
        fprintf(stderr, "statestored: --dapr-listen-addresses: \"%s\" is not an IP address\n",
                o.listen);
        free(o.dirs);
        return 2;
    }

    static server srv;
    srv.max_body = o.max_body;
    srv.req_timeout_s = o.request_timeout_s;
    srv.api.app_id = o.app_id;
    srv.api.max_key_len = o.max_key_len;
    srv.api.max_items = o.max_items;
    unsigned conn_limit = raise_fd_limit();
    if (o.max_conns) {
        srv.max_conns = o.max_conns;
        /* room above ours to accept, answer 503 and close */
        if (o.max_conns + 64u < conn_limit) conn_limit = o.max_conns + 64u;
    }
    const char *tok = getenv("DAPR_API_TOKEN");
    if (tok && *tok) {
        srv.api.token = tok;
        srv.api.token_len = strlen(tok);
    }
    if (!load_stores(&srv.api, &o)) {
        stores_free(&srv.api);
        free(o.dirs);
        return 1;
    }

    /* Signals are taken synchronously by main (sigwait); worker threads inherit the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (v6) flags |= MHD_USE_IPv6;
    /* A burst of thousands of connects (a fleet of clients reconnecting at once) must not
     * overflow the accept queue while the workers catch up: the kernel silently drops the
     * handshakes that do not fit. It caps this at net.core.somaxconn. */
    const unsigned listen_backlog = 4096;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)o.port, NULL, NULL, on_request, &srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, o.threads,
        MHD_OPTION_CONNECTION_TIMEOUT, o.timeout_s, MHD_OPTION_CONNECTION_LIMIT, conn_limit,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, &srv, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape,
        NULL, MHD_OPTION_LISTEN_BACKLOG_SIZE, listen_backlog, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        o.header_size, MHD_OPTION_NOTIFY_CONNECTION, on_connection, &srv, MHD_OPTION_END);
    if (!d) {
        dlog(SS_LOG_ERROR, "cannot listen on %s:%u: %s", o.listen, o.port, strerror(errno));
        stores_free(&srv.api);
        free(o.dirs);
        return 1;
    }
    unsigned port = o.port;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (info) port = info->port;
    dlog(SS_LOG_INFO,
         "statestored %s listening on %s:%u (%zu state store%s, %u threads, body limit %zu "
         "bytes%s)",
         ss_version(), o.listen, port, srv.api.nstores, srv.api.nstores == 1 ? "" : "s", o.threads,
         o.max_body, srv.api.token ? ", API token required" : "");

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    dlog(SS_LOG_INFO, "%s received: finishing in-flight requests",
         sig == SIGTERM ? "SIGTERM" : "SIGINT");
    MHD_socket lfd = MHD_quiesce_daemon(d);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    /* Bounded: a stalled client is cut by the connection timeout anyway. */
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (long waited = 0; atomic_load(&srv.inflight) > 0 && waited < DRAIN_TIMEOUT_S * 100;
         waited++)
        nanosleep(&tick, NULL);
    long left = atomic_load(&srv.inflight);
    MHD_stop_daemon(d);
    stores_free(&srv.api);
    free(o.dirs);
    dlog(SS_LOG_INFO, "stopped%s", left > 0 ? " (some requests were still in flight)" : "");
    return 0;
}

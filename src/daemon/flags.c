/*
 * flags.c — statestored's command line: daprd's flag names (-flag and --flag, "=value" or a
 * separate argument), its size syntax, and daprd flags accepted but ignored.
 */
#include "daemon.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_BODY  (4u << 20)
#define MAX_MAX_BODY      (1u << 30) /* the JSON tokenizer indexes with int */
#define DEFAULT_TIMEOUT_S 30
/* Whole-request deadline: the idle timeout alone lets a client drip one byte per 29 s. */
#define DEFAULT_REQUEST_TIMEOUT_S 60
#define DEFAULT_MAX_KEY_LEN       4096
#define DEFAULT_MAX_ITEMS         10000
#define MIN_HEADER_SIZE           (4u << 10)
#define MAX_HEADER_SIZE           (1u << 20)
/* Per-connection buffer for the request line and headers (bodies go to our own buffer): half
 * of libmicrohttpd's 32 KiB default, so thousands of idle keep-alive connections stay cheap. */
#define CONNECTION_MEMORY  (16u << 10)
#define DEFAULT_STORE_PATH "statestore.db"

void options_default(options *o)
{
    *o = (options){.port = 3500,
                   .listen = "127.0.0.1",
                   .app_id = "",
                   .max_body = DEFAULT_MAX_BODY,
                   .default_store_path = DEFAULT_STORE_PATH,
                   .timeout_s = DEFAULT_TIMEOUT_S,
                   .request_timeout_s = DEFAULT_REQUEST_TIMEOUT_S,
                   .header_size = CONNECTION_MEMORY,
                   .max_key_len = DEFAULT_MAX_KEY_LEN,
                   .max_items = DEFAULT_MAX_ITEMS,
                   .grpc_port = 50001};
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: statestored [flags]\n"
            "Serves Dapr's state HTTP API (/v1.0/state/...) over statestore drivers.\n\n"
            "  --dapr-http-port N            port to listen on (default 3500; 0 = any free)\n"
            "  --dapr-grpc-port N            Dapr's gRPC API port (default 50001; 0 = any free)\n"
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
int parse_args(int argc, char **argv, options *o)
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
        } else if (strcmp(name, "dapr-grpc-port") == 0) {
            if (!parse_uint(val, 65535, &o->grpc_port)) {
                fprintf(stderr, "statestored: --dapr-grpc-port: \"%s\" is not a port\n", val);
                return 2;
            }
            o->grpc_port_set = true;
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

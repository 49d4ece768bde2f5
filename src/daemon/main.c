/*
 * main.c — statestored: flags, the store table, the front end (HTTP), and shutdown on
 * SIGTERM/SIGINT that lets in-flight requests finish.
 */
#include "daemon.h"

#ifdef SS_DAEMON_HAVE_GRPC
#include "grpc/grpc_server.h"
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_TIMEOUT_S 30

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

/* --dapr-listen-addresses and a port as a socket address; false (reported) when it is not an IP
 * address. "localhost" is taken as 127.0.0.1. */
static bool listen_address(options *o, unsigned port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    bool v6 = strchr(o->listen, ':') != NULL;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, o->listen, &a->sin6_addr) != 1) ss->ss_family = 0;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (strcmp(o->listen, "localhost") == 0) o->listen = "127.0.0.1";
        if (inet_pton(AF_INET, o->listen, &a->sin_addr) != 1) ss->ss_family = 0;
    }
    if (!ss->ss_family) {
        fprintf(stderr, "statestored: --dapr-listen-addresses: \"%s\" is not an IP address\n",
                o->listen);
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    options o;
    options_default(&o);
    int rc = parse_args(argc, argv, &o);
    if (rc) {
        free(o.dirs);
        return rc == 1 ? 0 : 2;
    }
    if (!o.threads) o.threads = default_threads();

    struct sockaddr_storage http_addr;
    if (!listen_address(&o, o.port, &http_addr)) {
        free(o.dirs);
        return 2;
    }

    static dserver api;
    api.app_id = o.app_id;
    api.max_key_len = o.max_key_len;
    api.max_items = o.max_items;
    unsigned conn_limit = raise_fd_limit();
    const char *tok = getenv("DAPR_API_TOKEN");
    if (tok && *tok) {
        api.token = tok;
        api.token_len = strlen(tok);
    }
    if (!load_stores(&api, &o)) {
        stores_free(&api);
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

    http_server *http = http_start(&api, &o, &http_addr, conn_limit);
    if (!http) {
        stores_free(&api);
        free(o.dirs);
        return 1;
    }
    unsigned port = http_port(http, o.port);
    dlog(SS_LOG_INFO,
         "statestored %s listening on %s:%u (%zu state store%s, %u threads, body limit %zu "
         "bytes%s)",
         ss_version(), o.listen, port, api.nstores, api.nstores == 1 ? "" : "s", o.threads,
         o.max_body, api.token ? ", API token required" : "");

    /* ---- gRPC API (Dapr's port 50001) ---- */
#ifdef SS_DAEMON_HAVE_GRPC
    dgrpc_config gc = {.api = &api,
                       .listen = o.listen,
                       .port = o.grpc_port,
                       .max_msg = o.max_body,
                       .max_conns = o.max_conns};
    char gerr[256];
    dgrpc *grpc = dgrpc_start(&gc, gerr, sizeof gerr);
    if (grpc) {
        dlog(SS_LOG_INFO, "gRPC API on grpc://%s:%u", o.listen, dgrpc_port(grpc));
    } else if (o.grpc_port_set) {
        dlog(SS_LOG_ERROR, "gRPC API: %s", gerr);
        http_stop(http);
        stores_free(&api);
        free(o.dirs);
        return 1;
    } else {
        /* the default port taken (another sidecar, a second daemon) does not stop HTTP */
        dlog(SS_LOG_WARN, "gRPC API not served: %s (set --dapr-grpc-port)", gerr);
    }
#else
    if (o.grpc_port_set) dlog(SS_LOG_WARN, "this statestored was built without the gRPC API");
#endif
    /* ---- end gRPC ---- */

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    dlog(SS_LOG_INFO, "%s received: finishing in-flight requests",
         sig == SIGTERM ? "SIGTERM" : "SIGINT");
    http_quiesce(http);
    /* Bounded: a stalled client is cut by the connection timeout anyway. */
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (long waited = 0; http_inflight(http) > 0 && waited < DRAIN_TIMEOUT_S * 100; waited++)
        nanosleep(&tick, NULL);
    long left = http_inflight(http);
#ifdef SS_DAEMON_HAVE_GRPC
    dgrpc_stop(grpc, DRAIN_TIMEOUT_S);
#endif
    http_stop(http);
    stores_free(&api);
    free(o.dirs);
    dlog(SS_LOG_INFO, "stopped%s", left > 0 ? " (some requests were still in flight)" : "");
    return 0;
}

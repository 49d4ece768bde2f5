/*
 * grpc_server.c — listening sockets, the accept thread and one thread per connection for the
 * gRPC API. A thread per connection keeps a call's store work (which may block on a database)
 * off the other connections; calls on one connection are served in arrival order.
 */
#include "grpc_server.h"

#include "grpc_conn.h"
#include "support/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTENERS 2
/* A connection with nothing to read this long is closed with GOAWAY; clients reconnect. */
#define IDLE_TIMEOUT_S 300
/* A peer that stops reading our answers is cut off after this. */
#define SEND_TIMEOUT_S 30
#define READ_BUF       (64u << 10)

typedef struct gconn_slot {
    int fd;
    struct gconn_slot *next;
} gconn_slot;

struct dgrpc {
    dgrpc_config cfg;
    int lfd[MAX_LISTENERS];
    int nlfd;
    unsigned port;
    int wake[2]; /* written once at stop: wakes the accept thread */
    atomic_bool stopping;
    pthread_t acceptor;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gconn_slot *conns; /* open connections, for the final shutdown */
    unsigned nconns;
};

typedef struct conn_arg {
    dgrpc *g;
    gconn_slot slot;
} conn_arg;

static bool send_all(int fd, const uint8_t *p, size_t n)
{
    return ss_net_send_all(fd, p, n, ss_monotonic_ms() + SEND_TIMEOUT_S * 1000) == 0;
}

/* Sends everything pending, gathered into `out` (cap bytes) so an answer (HEADERS, DATA,
 * trailers) leaves in one send rather than one per frame. */
static bool flush(gconn *c, int fd, uint8_t *out, size_t cap)
{
    const uint8_t *p;
    ssize_t n;
    size_t used = 0;
    while ((n = gconn_pending(c, &p)) > 0) {
        if (used + (size_t)n > cap) {
            if (used && !send_all(fd, out, used)) return false;
            used = 0;
        }
        if ((size_t)n > cap) {
            if (!send_all(fd, p, (size_t)n)) return false;
        } else {
            memcpy(out + used, p, (size_t)n);
            used += (size_t)n;
        }
    }
    return n == 0 && (!used || send_all(fd, out, used));
}

/* Takes a connection off the open list (under g->mu). */
static void unlink_slot(dgrpc *g, gconn_slot *slot)
{
    for (gconn_slot **p = &g->conns; *p; p = &(*p)->next)
        if (*p == slot) {
            *p = slot->next;
            return;
        }
}

static void *conn_main(void *arg)
{
    conn_arg *a = arg;
    dgrpc *g = a->g;
    int fd = a->slot.fd;
    gconn_config cc = {.api = g->cfg.api, .max_msg = g->cfg.max_msg};
    gconn *c = gconn_new(&cc);
    uint8_t *buf = malloc(2 * READ_BUF); /* what was read, then what is to be sent */
    uint8_t *out = buf ? buf + READ_BUF : NULL;
    if (c && buf) {
        /* A blocking read per call (no poll): it returns for the next request, at the idle
         * timeout (SO_RCVTIMEO), or when dgrpc_stop shuts the read side down. */
        while (flush(c, fd, out, READ_BUF) && gconn_alive(c)) {
            ssize_t n = recv(fd, buf, READ_BUF, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                bool idle = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
                if (idle || atomic_load(&g->stopping)) {
                    /* no new calls, then close */
                    gconn_shutdown(c);
                    flush(c, fd, out, READ_BUF);
                }
                break;
            }
            if (!gconn_recv(c, buf, (size_t)n)) {
                flush(c, fd, out, READ_BUF);
                break;
            }
        }
    }
    gconn_free(c);
    free(buf);
    pthread_mutex_lock(&g->mu);
    unlink_slot(g, &a->slot);
    close(fd);
    g->nconns--;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    free(a);
    return NULL;
}

static void *accept_main(void *arg)
{
    dgrpc *g = arg;
    struct pollfd pf[MAX_LISTENERS + 1];
    for (int i = 0; i < g->nlfd; i++) pf[i] = (struct pollfd){.fd = g->lfd[i], .events = POLLIN};
    pf[g->nlfd] = (struct pollfd){.fd = g->wake[0], .events = POLLIN};
    for (;;) {
        int pr = poll(pf, (nfds_t)g->nlfd + 1, -1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0 || (pf[g->nlfd].revents & POLLIN)) break;
        for (int i = 0; i < g->nlfd; i++) {
            if (!(pf[i].revents & POLLIN)) continue;
            int fd = accept(g->lfd[i], NULL, NULL);
            if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE) {
                    /* out of descriptors: back off instead of spinning on the ready socket */
                    struct timespec ts = {0, 50 * 1000 * 1000};
                    nanosleep(&ts, NULL);
                }
                continue;
            }
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            struct timeval idle = {.tv_sec = IDLE_TIMEOUT_S};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
            pthread_mutex_lock(&g->mu);
            bool over = g->cfg.max_conns && g->nconns >= g->cfg.max_conns;
            pthread_mutex_unlock(&g->mu);
            conn_arg *a = over ? NULL : calloc(1, sizeof *a);
            if (!a) {
                if (over) dlog(SS_LOG_WARN, "gRPC: connection refused: --max-connections reached");
                close(fd);
                continue;
            }
            a->g = g;
            a->slot.fd = fd;
            pthread_mutex_lock(&g->mu);
            a->slot.next = g->conns;
            g->conns = &a->slot;
            g->nconns++;
            pthread_mutex_unlock(&g->mu);
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_t t;
            int rc = pthread_create(&t, &attr, conn_main, a);
            pthread_attr_destroy(&attr);
            if (rc != 0) {
                pthread_mutex_lock(&g->mu);
                unlink_slot(g, &a->slot);
                g->nconns--;
                pthread_mutex_unlock(&g->mu);
                close(fd);
                free(a);
            }
        }
    }
    return NULL;
}

static int listen_on(const char *addr, unsigned port, char *err, size_t errlen)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    int family;
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1) goto bad;
        family = AF_INET6;
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, addr, &a->sin_addr) != 1) goto bad;
        family = AF_INET;
        sl = sizeof *a;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, errlen, "cannot listen on %s%s%s:%u: %s", family == AF_INET6 ? "[" : "", addr,
                 family == AF_INET6 ? "]" : "", port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
bad:
    snprintf(err, errlen, "\"%s\" is not an IP address", addr);
    return -1;
}

dgrpc *dgrpc_start(const dgrpc_config *cfg, char *err, size_t errlen)
{
    dgrpc *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->cfg = *cfg;
    g->wake[0] = g->wake[1] = -1;
    int fd = listen_on(cfg->listen, cfg->port, err, errlen);
    if (fd < 0) {
        free(g);
        return NULL;
    }
    g->lfd[g->nlfd++] = fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    g->port = cfg->port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        g->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    /* .NET resolves "localhost" to ::1 first: serve it there too (as daprd does). */
    if (strcmp(cfg->listen, "127.0.0.1") == 0) {
        char e6[256];
        int fd6 = listen_on("::1", g->port, e6, sizeof e6);
        if (fd6 >= 0)
            g->lfd[g->nlfd++] = fd6;
        else
            dlog(SS_LOG_DEBUG, "gRPC: not also on ::1: %s", e6);
    }
    if (pipe(g->wake) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    if (pthread_create(&g->acceptor, NULL, accept_main, g) != 0) {
        snprintf(err, errlen, "cannot start the gRPC accept thread");
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->cv);
        goto fail;
    }
    return g;
fail:
    for (int i = 0; i < g->nlfd; i++) close(g->lfd[i]);
    if (g->wake[0] >= 0) close(g->wake[0]);
    if (g->wake[1] >= 0) close(g->wake[1]);
    free(g);
    return NULL;
}

unsigned dgrpc_port(const dgrpc *g)
{
    return g->port;
}

/* Waits until no connection is left or the deadline passes; true when none is left. */
static bool wait_conns(dgrpc *g, unsigned seconds)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += seconds;
    pthread_mutex_lock(&g->mu);
    while (g->nconns && pthread_cond_timedwait(&g->cv, &g->mu, &dl) == 0) {
    }
    bool none = g->nconns == 0;
    pthread_mutex_unlock(&g->mu);
    return none;
}

void dgrpc_stop(dgrpc *g, unsigned drain_s)
{
    if (!g) return;
    char one = 1;
    while (write(g->wake[1], &one, 1) < 0 && errno == EINTR) {
    }
    pthread_join(g->acceptor, NULL);
    for (int i = 0; i < g->nlfd; i++) close(g->lfd[i]);
    /* wake every connection thread out of its read: each sends GOAWAY after the call it is
     * serving, if any, and closes */
    atomic_store(&g->stopping, true);
    pthread_mutex_lock(&g->mu);
    for (gconn_slot *s = g->conns; s; s = s->next) shutdown(s->fd, SHUT_RD);
    pthread_mutex_unlock(&g->mu);
    if (!wait_conns(g, drain_s)) {
        /* calls still running past the deadline: cut their sockets so the threads end before
         * the stores they use are closed */
        pthread_mutex_lock(&g->mu);
        for (gconn_slot *s = g->conns; s; s = s->next) shutdown(s->fd, SHUT_RDWR);
        pthread_mutex_unlock(&g->mu);
        while (!wait_conns(g, 1)) {
        }
    }
    close(g->wake[0]);
    close(g->wake[1]);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}

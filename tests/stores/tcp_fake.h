/*
 * tcp_fake.h — a listener on 127.0.0.1 for the fake wire-protocol servers inside driver tests
 * (mongodb_commands_test, couchbase_proto_test): an OS-chosen port, an accept thread, one thread
 * per connection running the test's handler until the client closes. Stopping joins them all,
 * so stop only after the store under test is closed (its sockets too).
 */
#ifndef SS_TESTS_TCP_FAKE_H
#define SS_TESTS_TCP_FAKE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TCP_FAKE_MAX_CONNS 32

/* Serves one connection until it closes; owns nothing (the listener closes fd). */
typedef void (*tcp_fake_handler)(int fd, void *ctx);

typedef struct tcp_fake {
    int lfd;
    int port;
    tcp_fake_handler handler;
    void *ctx;
    atomic_bool stop;
    pthread_t acceptor;
    pthread_t conns[TCP_FAKE_MAX_CONNS];
    int nconns;
} tcp_fake;

typedef struct tcp_fake_conn {
    tcp_fake *t;
    int fd;
} tcp_fake_conn;

static inline bool tcp_fake_read(int fd, void *buf, size_t n)
{
    char *p = (char *)buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static inline bool tcp_fake_write(int fd, const void *buf, size_t n)
{
    const char *p = (const char *)buf;
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r <= 0) return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static inline void *tcp_fake_conn_main(void *arg)
{
    tcp_fake_conn *c = (tcp_fake_conn *)arg;
    c->t->handler(c->fd, c->t->ctx);
    close(c->fd);
    free(c);
    return NULL;
}

static inline void *tcp_fake_accept_main(void *arg)
{
    tcp_fake *t = (tcp_fake *)arg;
    while (!atomic_load(&t->stop)) {
        struct pollfd p = {t->lfd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept(t->lfd, NULL, NULL);
        if (fd < 0) continue;
        tcp_fake_conn *c = (tcp_fake_conn *)malloc(sizeof *c);
        if (!c || t->nconns == TCP_FAKE_MAX_CONNS) {
            free(c);
            close(fd);
            continue;
        }
        c->t = t;
        c->fd = fd;
        if (pthread_create(&t->conns[t->nconns], NULL, tcp_fake_conn_main, c) == 0)
            t->nconns++;
        else {
            close(fd);
            free(c);
        }
    }
    return NULL;
}

/* Listens on 127.0.0.1 (t->port) and serves every connection with handler(fd, ctx). */
static inline bool tcp_fake_start(tcp_fake *t, tcp_fake_handler handler, void *ctx)
{
    memset(t, 0, sizeof *t);
    t->handler = handler;
    t->ctx = ctx;
    t->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (t->lfd < 0 || bind(t->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(t->lfd, 16) != 0 || getsockname(t->lfd, (struct sockaddr *)&a, &al) != 0)
        return false;
    t->port = ntohs(a.sin_port);
    return pthread_create(&t->acceptor, NULL, tcp_fake_accept_main, t) == 0;
}

static inline void tcp_fake_stop(tcp_fake *t)
{
    atomic_store(&t->stop, true);
    pthread_join(t->acceptor, NULL);
    for (int i = 0; i < t->nconns; i++) pthread_join(t->conns[i], NULL);
    if (t->lfd >= 0) close(t->lfd);
}

#endif

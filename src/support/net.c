/* net.c — see net.h. Plain sockets and poll(): no packaged library does just this much. */
#include "support/net.h"

#include <errno.h>
#include <stdbool.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Waits until fd is ready for events or the deadline passes: 0, or an errno value. */
static int net_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - ss_monotonic_ms();
        if (left <= 0) return ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (n > 0) return 0;
        if (n < 0 && errno != EINTR) return errno;
    }
}

int ss_net_connect(const char *host, const char *port, int64_t deadline, int *gai)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    *gai = getaddrinfo(host, port, &hints, &res);
    if (*gai != 0) return -EHOSTUNREACH;
    int last = ECONNREFUSED;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd =
            socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int e = 0;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            e = errno == EINPROGRESS ? net_wait(fd, POLLOUT, deadline) : errno;
            if (!e) {
                socklen_t sl = sizeof e;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0) e = errno;
            }
        }
        if (!e) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            freeaddrinfo(res);
            return fd;
        }
        close(fd);
        last = e;
    }
    freeaddrinfo(res);
    return -last;
}

/* Moves len bytes one way; p is only read when sending. */
static int net_move(int fd, char *p, size_t len, int64_t deadline, bool sending)
{
    while (len) {
        ssize_t n = sending ? send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT)
                            : recv(fd, p, len, MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0) return EPIPE;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
        int e = net_wait(fd, sending ? POLLOUT : POLLIN, deadline);
        if (e) return e;
    }
    return 0;
}

int ss_net_send_all(int fd, const void *buf, size_t len, int64_t deadline)
{
    return net_move(fd, (char *)buf, len, deadline, true);
}

int ss_net_recv_all(int fd, void *buf, size_t len, int64_t deadline)
{
    return net_move(fd, buf, len, deadline, false);
}

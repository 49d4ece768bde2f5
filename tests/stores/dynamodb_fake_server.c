/*
 * A canned-answer HTTP/1.1 server on 127.0.0.1, for the request shapes no local stand-in can
 * answer (DynamoDB's TransactWriteItems, throttling, auth failures; Azure's throttling). It
 * answers each request with the next queued response (Connection: close), records every
 * request it saw, and answers 599 when nothing is queued so a test notices.
 *
 * Used by dynamodb_test.c and azure_table_test.c; the answers they queue are the documented
 * shapes from AWS's and Azure's API references (each test names its source).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dynamodb_fake_server.h"

#define FAKE_MAX 64

struct fake {
    int fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    struct {
        int status;
        char *headers;
        char *body;
    } q[FAKE_MAX];
    size_t q_head, q_len;
    char *reqs[FAKE_MAX]; /* every request seen, raw (the last ones kept when more) */
    size_t count;
};

static void serve(fake *f, int c)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return;
    size_t need = 0;
    for (;;) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = recv(c, buf + len, cap - len, 0);
        if (r <= 0) break;
        len += (size_t)r;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        if (!need) {
            size_t cl = 0;
            for (char *p = buf; p && p < end; p = strstr(p, "\r\n")) {
                if (*p == '\r') p += 2;
                if (strncasecmp(p, "Content-Length:", 15) == 0) cl = strtoul(p + 15, NULL, 10);
            }
            need = (size_t)(end - buf) + 4 + cl;
        }
        if (len >= need) break;
    }
    buf[len] = '\0';
    int status = 599;
    char *headers = NULL, *body = NULL;
    pthread_mutex_lock(&f->lock);
    free(f->reqs[f->count % FAKE_MAX]);
    f->reqs[f->count % FAKE_MAX] = buf;
    f->count++;
    if (f->q_len > 0) {
        status = f->q[f->q_head].status;
        headers = f->q[f->q_head].headers;
        body = f->q[f->q_head].body;
        f->q_head = (f->q_head + 1) % FAKE_MAX;
        f->q_len--;
    }
    pthread_mutex_unlock(&f->lock);
    const char *b = body ? body : "{\"message\":\"fake server: no answer queued\"}";
    char head[2048];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d Canned\r\nContent-Type: application/x-amz-json-1.0\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
                      status, strlen(b), headers ? headers : "");
    if (send(c, head, (size_t)hl, MSG_NOSIGNAL) > 0) send(c, b, strlen(b), MSG_NOSIGNAL);
    free(headers);
    free(body);
}

static void *run(void *arg)
{
    fake *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0) continue;
        serve(f, c);
        close(c);
    }
    return NULL;
}

fake *fake_start(void)
{
    fake *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(f->fd, 16) != 0 ||
        getsockname(f->fd, (struct sockaddr *)&a, &al) != 0) {
        if (f->fd >= 0) close(f->fd);
        free(f);
        return NULL;
    }
    f->port = ntohs(a.sin_port);
    pthread_mutex_init(&f->lock, NULL);
    if (pthread_create(&f->thread, NULL, run, f) != 0) {
        close(f->fd);
        pthread_mutex_destroy(&f->lock);
        free(f);
        return NULL;
    }
    return f;
}

int fake_port(const fake *f)
{
    return f->port;
}

void fake_queue(fake *f, int status, const char *headers, const char *body)
{
    pthread_mutex_lock(&f->lock);
    if (f->q_len < FAKE_MAX) {
        size_t i = (f->q_head + f->q_len) % FAKE_MAX;
        f->q[i].status = status;
        f->q[i].headers = headers ? strdup(headers) : NULL;
        f->q[i].body = body ? strdup(body) : NULL;
        f->q_len++;
    }
    pthread_mutex_unlock(&f->lock);
}

size_t fake_count(fake *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = f->count;
    pthread_mutex_unlock(&f->lock);
    return n;
}

char *fake_last_request(fake *f)
{
    pthread_mutex_lock(&f->lock);
    char *r = f->count ? strdup(f->reqs[(f->count - 1) % FAKE_MAX]) : NULL;
    pthread_mutex_unlock(&f->lock);
    return r;
}

void fake_stop(fake *f)
{
    if (!f) return;
    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    close(f->fd);
    for (size_t i = 0; i < FAKE_MAX; i++) {
        free(f->reqs[i]);
        size_t k = (f->q_head + i) % FAKE_MAX;
        if (i < f->q_len) {
            free(f->q[k].headers);
            free(f->q[k].body);
        }
    }
    pthread_mutex_destroy(&f->lock);
    free(f);
}

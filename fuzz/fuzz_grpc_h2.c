/*
 * fuzz_grpc_h2.c — statestored's gRPC transport (src/daemon/grpc/grpc_conn.c on libnghttp2):
 * the input is what a client sends on one connection (seeds start with the HTTP/2 preface),
 * fed in two reads split where the first byte says; everything the server wants to send is
 * drained after each read, as the socket loop does.
 */
#include "fuzz_daemon.h"
#include "grpc/grpc_conn.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_daemon_init();
    return 0;
}

static bool drain(gconn *c)
{
    const uint8_t *p;
    ssize_t n;
    size_t total = 0;
    while ((n = gconn_pending(c, &p)) > 0) {
        volatile uint8_t sink = p[0] ^ p[n - 1];
        (void)sink;
        total += (size_t)n;
        if (total > (64u << 20)) abort(); /* a reply may not grow without bound */
    }
    return n == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t split = data[0] * size / 256;
    data++, size--;
    if (split > size) split = size;
    gconn_config cfg = {.api = &srv, .max_msg = 1 << 16};
    gconn *c = gconn_new(&cfg);
    if (!c) return 0;
    uint8_t *buf = malloc(size ? size : 1);
    if (buf) {
        memcpy(buf, data, size);
        bool ok = drain(c) && gconn_recv(c, buf, split);
        drain(c);
        if (ok && size > split && gconn_alive(c)) {
            gconn_recv(c, buf + split, size - split);
            drain(c);
        }
        gconn_shutdown(c);
        drain(c);
    }
    free(buf);
    gconn_free(c);
    return 0;
}

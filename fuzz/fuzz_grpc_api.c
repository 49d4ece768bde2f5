/*
 * fuzz_grpc_api.c — the gRPC API's message handling (src/daemon/grpc/grpc_api.c over
 * state_ops.c) without HTTP/2: the first input byte picks the method, the rest is the protobuf
 * request, decoded by protobuf-c and served against a memory store and a prefixed one.
 */
#include "fuzz_daemon.h"
#include "grpc/grpc_api.h"

#include <stdint.h>
#include <string.h>

static const char *const methods[] = {
    "GetState",         "GetBulkState",    "SaveState",
    "QueryStateAlpha1", "DeleteState",     "ExecuteStateTransaction",
    "GetMetadata",      "DeleteBulkState", "NoSuchMethod",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_daemon_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *m = methods[data[0] % (sizeof methods / sizeof methods[0])];
    /* a private copy, so a read past the message is caught */
    uint8_t *msg = malloc(size - 1 ? size - 1 : 1);
    if (!msg) return 0;
    memcpy(msg, data + 1, size - 1);
    gresult r;
    grpc_api_call(&srv, m, (data[0] & 0x80) ? "tok" : NULL, 3, msg, size - 1, &r);
    if (r.status < 0 || r.status > 16) abort();
    if (r.status == 0) {
        if (!r.body) abort();
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < r.len; i++) sink ^= r.body[5 + i];
        (void)sink;
    } else if (!memchr(r.msg, '\0', sizeof r.msg)) {
        abort();
    }
    gresult_free(&r);
    free(msg);
    return 0;
}

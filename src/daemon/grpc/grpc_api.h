/*
 * grpc_api.h — Dapr's gRPC state service (dapr.proto.runtime.v1.Dapr) over the shared state
 * layer: one unary call in, protobuf-c decoding and encoding, daprd's status codes out.
 * Independent of HTTP/2, so the fuzz target drives it directly.
 */
#ifndef SS_DAEMON_GRPC_API_H
#define SS_DAEMON_GRPC_API_H

#include "../daemon.h"

#include <stdint.h>

/* gRPC status codes (grpc/doc/statuscodes.md). */
enum {
    GRPC_OK = 0,
    GRPC_CANCELLED = 1,
    GRPC_UNKNOWN = 2,
    GRPC_INVALID_ARGUMENT = 3,
    GRPC_DEADLINE_EXCEEDED = 4,
    GRPC_NOT_FOUND = 5,
    GRPC_ALREADY_EXISTS = 6,
    GRPC_PERMISSION_DENIED = 7,
    GRPC_RESOURCE_EXHAUSTED = 8,
    GRPC_FAILED_PRECONDITION = 9,
    GRPC_ABORTED = 10,
    GRPC_OUT_OF_RANGE = 11,
    GRPC_UNIMPLEMENTED = 12,
    GRPC_INTERNAL = 13,
    GRPC_UNAVAILABLE = 14,
    GRPC_DATA_LOSS = 15,
    GRPC_UNAUTHENTICATED = 16,
};

/* The outcome of one call: a serialized response message on GRPC_OK, else a status and a
 * message (plain text; the transport percent-encodes it). */
typedef struct gresult {
    int status;
    uint8_t *body; /* owned: 5 bytes left free for the gRPC message prefix, then the message */
    size_t len;    /* of the message, without the prefix */
    char msg[2048];
    const char *err_code; /* daprd's errorCode for the log, or NULL */
} gresult;

/* Serves `method` (the path after "/dapr.proto.runtime.v1.Dapr/") on the message bytes.
 * `token`/`token_len` is the dapr-api-token metadata (NULL when absent). Never fails: every
 * problem becomes a status. */
void grpc_api_call(const dserver *s, const char *method, const char *token, size_t token_len,
                   const uint8_t *msg, size_t len, gresult *out);
void gresult_free(gresult *r);

#endif

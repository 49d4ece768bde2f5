/*
 * grpc_conn.h — one gRPC-over-HTTP/2 server connection on libnghttp2, without sockets: the
 * caller feeds received bytes in and writes out what it is given. Unary calls are served as
 * their request completes (grpc_api_call), in the caller's thread.
 */
#ifndef SS_DAEMON_GRPC_CONN_H
#define SS_DAEMON_GRPC_CONN_H

#include "../daemon.h"

#include <stdint.h>
#include <sys/types.h>

typedef struct gconn gconn;

typedef struct gconn_config {
    const dserver *api;
    size_t max_msg; /* largest request message in bytes (--max-body-size) */
} gconn_config;

/* NULL when out of memory. The server's SETTINGS are queued at once. */
gconn *gconn_new(const gconn_config *cfg);
void gconn_free(gconn *c);

/* Feeds bytes read from the peer. False when the connection is to be closed (protocol error,
 * out of memory); the caller still sends what gconn_pending gives (the GOAWAY), then closes. */
bool gconn_recv(gconn *c, const uint8_t *data, size_t len);

/* The next bytes to send, valid until the next call on c; 0 when nothing is pending, -1 on a
 * fatal error. */
ssize_t gconn_pending(gconn *c, const uint8_t **data);

/* False once the session is over (both sides done or GOAWAY exchanged). */
bool gconn_alive(const gconn *c);

/* Streams currently open: 0 means the connection is idle. */
size_t gconn_streams(const gconn *c);

/* Graceful close: GOAWAY, finishing nothing new. */
void gconn_shutdown(gconn *c);

#endif

/*
 * grpc_server.h — statestored's gRPC listener (Dapr's port 50001): sockets and threads around
 * grpc_conn. One thread accepts; each connection gets a thread that reads, serves its calls
 * and writes (Go, Java and .NET SDKs keep one connection and multiplex on it).
 */
#ifndef SS_DAEMON_GRPC_SERVER_H
#define SS_DAEMON_GRPC_SERVER_H

#include "../daemon.h"

typedef struct dgrpc dgrpc;

typedef struct dgrpc_config {
    const dserver *api;
    const char *listen; /* an IP address; 127.0.0.1 also listens on ::1 when it can */
    unsigned port;      /* 0 = any free port */
    size_t max_msg;     /* largest request message (--max-body-size) */
    unsigned max_conns; /* 0 = no limit of ours */
} dgrpc_config;

/* Binds and starts serving; NULL with a message in err when it cannot listen. */
dgrpc *dgrpc_start(const dgrpc_config *cfg, char *err, size_t errlen);

/* The port bound (useful with port 0). */
unsigned dgrpc_port(const dgrpc *g);

/* Stops accepting, sends GOAWAY on every connection, waits up to drain_s seconds for calls in
 * flight, then closes everything. Accepts NULL. */
void dgrpc_stop(dgrpc *g, unsigned drain_s);

#endif

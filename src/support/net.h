/*
 * net.h — the TCP plumbing of the drivers whose protocols are written by hand (Cassandra,
 * Couchbase, Hazelcast) and of the daemon's gRPC answers: connect with a deadline, send all
 * bytes, receive exactly n bytes. Internal (not public API). Deadlines are ss_monotonic_ms()
 * values; errors are errno values, so each caller words its own message: ETIMEDOUT when the
 * deadline passed, EPIPE when the peer closed the connection before all bytes went or came.
 *
 * The socket may be blocking or not: sends and receives never block (MSG_DONTWAIT) and wait
 * in poll() for the time left, so a blocking socket's SO_RCVTIMEO/SO_SNDTIMEO play no part.
 */
#ifndef SS_SUPPORT_NET_H
#define SS_SUPPORT_NET_H

#include <stddef.h>
#include <stdint.h>

#include "statestore/driver.h" /* ss_monotonic_ms, the deadlines' clock */

/*
 * Connects to host:port, trying every address getaddrinfo gives until one connects or the
 * deadline passes. Returns the descriptor (non-blocking, close-on-exec, TCP_NODELAY), or a
 * negative errno of the last failure (-ETIMEDOUT when the deadline passed). When the name does
 * not resolve, *gai is getaddrinfo's code (for gai_strerror) and the result is -EHOSTUNREACH;
 * otherwise *gai is 0.
 */
int ss_net_connect(const char *host, const char *port, int64_t deadline, int *gai);

/* Sends len bytes; 0 when all went out by the deadline, else an errno value (never 0). */
int ss_net_send_all(int fd, const void *buf, size_t len, int64_t deadline);

/* Receives exactly len bytes; 0 when they all arrived by the deadline, else an errno value
 * (never 0; EPIPE: the peer closed the connection first). */
int ss_net_recv_all(int fd, void *buf, size_t len, int64_t deadline);

#endif

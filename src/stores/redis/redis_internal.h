/*
 * Pieces of the redis driver shared between redis.c (pool, commands, Lua) and cluster.c
 * (Redis Cluster slot routing). Internal: not installed, not exported from the library.
 */
#ifndef SS_REDIS_INTERNAL_H
#define SS_REDIS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define SS_REDIS_SLOTS    16384
#define SS_REDIS_HOST_MAX 256

/* The cluster hash slot of a key: CRC16 (XMODEM) of the key, or of its {hash tag}, mod 16384. */
uint16_t ss_redis_key_slot(const char *key, size_t len);

/*
 * Parses a "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" error reply. Returns
 * false when the text is neither (or malformed).
 */
bool ss_redis_parse_redirect(const char *text, size_t len, bool *ask, int *slot, char *host,
                             size_t hostlen, int *port);

/* One contiguous slot range of a CLUSTER SLOTS answer, and the master serving it. */
typedef struct ss_redis_range {
    int start, end;
    char host[SS_REDIS_HOST_MAX];
    int port;
    int replicas;
} ss_redis_range;

/*
 * Parses a CLUSTER SLOTS reply into *out (malloc'd, caller frees with free()). Returns the
 * number of ranges, 0 when the reply is empty, or -1 when it is malformed or memory ran out.
 * An empty host in the reply means "the address this answer came from" (from_host).
 */
int ss_redis_parse_slots(const redisReply *reply, const char *from_host, ss_redis_range **out);

/* Splits "host:port" / "[v6]:port" / "host" (default port 6379). False on a malformed port. */
bool ss_redis_split_addr(const char *addr, size_t len, char *host, size_t hostlen, int *port);

/* The text of the driver's write script (for bench/redis_bench.c, whose raw-hiredis baseline
 * must issue exactly the driver's commands). */
const char *ss_redis_set_script(void);

#endif

/*
 * The redis driver's parts: redis.c (config, open/close, the driver struct), pool.c (nodes,
 * connections, helpers), topology.c (Sentinel, cluster slot map), pipeline.c (the executor),
 * ops.c (operations, Lua scripts) and cluster.c (slot hashing, redirect and CLUSTER SLOTS
 * parsing). Internal: not installed, not exported from the library.
 */
#ifndef SS_REDIS_INTERNAL_H
#define SS_REDIS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <pthread.h>

#include "statestore/driver.h"

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

#define MAX_NODES      64
#define MAX_REDIRECTS  5
#define NO_NODE        0xFFFF
#define CMD_ERR_MAX    256
#define WAIT_MAX_MS    1000 /* Dapr's WAIT timeout */
#define BACKOFF_MIN_MS 8
#define BACKOFF_MAX_MS 512

enum { MODE_NODE, MODE_SENTINEL, MODE_CLUSTER };

enum { SCRIPT_SET, SCRIPT_DEL, SCRIPT_TX, SCRIPT_COUNT };

/* A pooled connection; `gen` is the node's generation when it was opened (a changed generation
 * means the node moved, e.g. a Sentinel failover, and the connection must not be reused). */
typedef struct rconn {
    redisContext *c;
    unsigned gen;
} rconn;

typedef struct rnode {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char host[SS_REDIS_HOST_MAX];
    int port;
    unsigned gen;
    rconn **idle;
    size_t nidle;
    size_t open;         /* idle + checked out */
    int replicas;        /* connected replicas, for WAIT (strong consistency); -1 unknown */
    int64_t replicas_at; /* monotonic ms of that count: recounted when older than 5 s */
} rnode;

typedef struct redis_drv {
    ss_ctx *ctx;
    int mode;
    char (*seeds)[SS_REDIS_HOST_MAX];
    int *seed_ports;
    size_t nseeds;
    const char *username, *password, *master_name; /* borrowed from ctx (valid until close) */
    int db;
    size_t pool_size;
    int64_t dial_ms, read_ms, write_ms, pool_wait_ms;
    int max_retries;
    int64_t default_ttl; /* > 0 when configured */
    char sha[SCRIPT_COUNT][41];

    pthread_rwlock_t topo; /* nodes[] count and slots[] */
    rnode *nodes[MAX_NODES];
    size_t nnodes;
    uint16_t *slots; /* cluster: slot -> node index */
    pthread_mutex_t refresh_mu;
    int64_t last_refresh_ms;
    pthread_mutex_t sentinel_mu;
} redis_drv;

/* One command of a pipeline. argv is borrowed. When `script` is set, argv is an EVALSHA whose
 * argv[1] is the SHA; a NOSCRIPT answer makes the executor resend it as EVAL <script>. */
typedef struct rcmd {
    int argc;
    const char **argv;
    size_t *argvlen;
    const char *script;
    int slot; /* cluster routing; -1 = any node */
    bool write;
    redisReply *reply; /* set when code == SS_OK (may be an error reply) */
    ss_code code;      /* transport outcome */
    bool unacked;      /* strong write not acknowledged by a replica in time */
    char err[CMD_ERR_MAX];
} rcmd;

/* pool.c */
/* vsnprintf through a wrapper: messages are cut at the buffer size on purpose. */
void redis_fmt_err(char *buf, size_t len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void redis_sleep_ms(int64_t ms);
struct timeval redis_tv_ms(int64_t ms);
bool redis_reply_is_err(const redisReply *r, const char *prefix);
ss_code redis_ctx_code(const redisContext *c);
const char *redis_ctx_text(const redisContext *c);
rnode *redis_node_new(const char *host, int port);
void redis_node_free(rnode *n, size_t pool_size);
void redis_node_flush_idle(rnode *n);
void redis_node_move(rnode *n, const char *host, int port);
ss_code redis_connect_addr(redis_drv *d, const char *host, int port, bool select_db,
                           redisContext **out, char *err, size_t errlen);
void redis_probe_replicas(rnode *n, redisContext *c);
ss_code redis_checkout(redis_drv *d, rnode *n, rconn **out, char *err, size_t errlen);
void redis_checkin(rnode *n, rconn *c, bool broken);

/* topology.c */
ss_code redis_sentinel_resolve(redis_drv *d, char *err, size_t errlen);
void redis_resolve_quietly(redis_drv *d);
int redis_node_index_locked(redis_drv *d, const char *host, int port);
ss_code redis_cluster_refresh(redis_drv *d, bool force, char *err, size_t errlen);
rnode *redis_node_for_slot(redis_drv *d, int slot);

/* pipeline.c */
void redis_cmd_init(rcmd *c);
ss_code redis_exec_cmds(redis_drv *d, rcmd *cmds, size_t n, bool wait, ss_error *err);
void redis_cmds_release(rcmd *cmds, size_t n);

/* ops.c */
ss_code redis_get(void *self, const ss_op *op, ss_value **out, ss_error *err);
ss_code redis_set(void *self, const ss_op *op, char **etag_out, ss_error *err);
ss_code redis_del(void *self, const ss_op *op, ss_error *err);
ss_code redis_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out, ss_error *err);
ss_code redis_bulk_set(void *self, const ss_op *ops, size_t count, ss_results *out, ss_error *err);
ss_code redis_bulk_delete(void *self, const ss_op *ops, size_t count, ss_results *out,
                          ss_error *err);
ss_code redis_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                       size_t metadata_count, ss_error *err);
ss_code redis_ping(void *self, ss_error *err);
ss_code redis_load_scripts(redis_drv *d, ss_error *err);

#endif

/*
 * redis driver: standalone Redis, Redis Sentinel (failover=true) and Redis Cluster
 * (redisType=cluster), on Debian's hiredis 0.14.
 *
 * Data layout is Dapr's (components-contrib state/redis): every key is a hash with fields
 * `data` (the value bytes) and `version` (an integer, the ETag), so daprd and this driver read
 * each other's data. Every write is one server-side Lua script (EVALSHA, EVAL on NOSCRIPT):
 * condition check, HSET, HINCRBY version and EXPIRE/PERSIST happen atomically. Unlike Dapr,
 * first-write is per request (the script checks existence) and Dapr's sticky `first-write` hash
 * field is neither written nor consulted. A transaction is one script over all its keys that
 * checks every condition first (simulating earlier operations of the same transaction) and only
 * then applies the writes, so a failed condition changes nothing.
 *
 * Connections: one small pool per node (poolSize), every socket wait bounded by dialTimeout /
 * readTimeout / writeTimeout. A pipeline that fails before any reply arrived (a dead pooled
 * connection after a server restart, a refused connect) is retried up to maxRetries times on a
 * fresh connection with a short backoff; the idle connections of that node are dropped too.
 *
 * This file reads the properties and opens the driver; the other parts are listed in
 * redis_internal.h.
 */
#include "redis_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "statestore/driver.h"

/* ------------------------------------------------------------------------------------------ */
/* Open / close                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void redis_close(void *self)
{
    redis_drv *d = self;
    for (size_t i = 0; i < d->nnodes; i++) redis_node_free(d->nodes[i], d->pool_size);
    d->nnodes = 0;
    free(d->slots);
    free(d->seeds);
    free(d->seed_ports);
    pthread_rwlock_destroy(&d->topo);
    pthread_mutex_destroy(&d->refresh_mu);
    pthread_mutex_destroy(&d->sentinel_mu);
}

static ss_code redis_parse_hosts(redis_drv *d, const char *hosts, ss_error *err)
{
    size_t n = 1;
    for (const char *p = hosts; *p; p++) n += *p == ',';
    d->seeds = calloc(n, sizeof *d->seeds);
    d->seed_ports = calloc(n, sizeof *d->seed_ports);
    if (!d->seeds || !d->seed_ports) return ss_error_set(err, SS_NOMEM, "out of memory");
    const char *p = hosts;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) p++, len--;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
        if (len > 0) {
            if (!ss_redis_split_addr(p, len, d->seeds[d->nseeds], SS_REDIS_HOST_MAX,
                                     &d->seed_ports[d->nseeds]))
                return ss_error_set(err, SS_INVALID,
                                    "property redisHost: \"%.*s\" is not host:port", (int)len, p);
            d->nseeds++;
        }
        if (!e) break;
        p = e + 1;
    }
    if (d->nseeds == 0) return ss_error_set(err, SS_INVALID, "property redisHost is empty");
    return SS_OK;
}

static ss_code redis_read_config(redis_drv *d, ss_ctx *ctx, ss_error *err)
{
    ss_code code =
        redis_parse_hosts(d, ss_prop(ctx, "redisHost") ? ss_prop(ctx, "redisHost") : "", err);
    if (code != SS_OK) return code;
    d->username = ss_prop(ctx, "redisUsername");
    d->password = ss_prop(ctx, "redisPassword");
    d->master_name = ss_prop(ctx, "sentinelMasterName");

    const char *type = ss_prop(ctx, "redisType");
    bool failover = false;
    if ((code = ss_prop_bool(ctx, "failover", &failover, err)) != SS_OK) return code;
    if (!type || !*type || strcasecmp(type, "node") == 0) {
        d->mode = failover ? MODE_SENTINEL : MODE_NODE;
    } else if (strcasecmp(type, "cluster") == 0) {
        if (failover)
            return ss_error_set(err, SS_INVALID,
                                "property failover=true cannot be combined with redisType=cluster");
        d->mode = MODE_CLUSTER;
    } else {
        return ss_error_set(err, SS_INVALID,
                            "property redisType: \"%s\" is not one of node, cluster", type);
    }
    if (d->mode == MODE_SENTINEL && (!d->master_name || !*d->master_name))
        return ss_error_set(err, SS_INVALID,
                            "property sentinelMasterName is required when failover is true");
    if (d->mode == MODE_NODE && d->nseeds > 1)
        return ss_error_set(err, SS_INVALID,
                            "property redisHost lists %zu hosts; a list needs redisType=cluster or "
                            "failover=true",
                            d->nseeds);

    /* The getters leave the preset value when a property is absent or empty. */
    int64_t v = 0;
    if ((code = ss_prop_int(ctx, "redisDB", 0, 65535, &v, err)) != SS_OK) return code;
    d->db = (int)v;
    v = 10;
    if ((code = ss_prop_int(ctx, "poolSize", 1, 1024, &v, err)) != SS_OK) return code;
    d->pool_size = (size_t)v;
    d->dial_ms = 5000;
    d->read_ms = 3000;
    if ((code = ss_prop_duration_ms(ctx, "dialTimeout", 1, &d->dial_ms, err)) != SS_OK) return code;
    if ((code = ss_prop_duration_ms(ctx, "readTimeout", 1, &d->read_ms, err)) != SS_OK) return code;
    if (ss_prop(ctx, "writeTimeout") && *ss_prop(ctx, "writeTimeout")) {
        if ((code = ss_prop_duration_ms(ctx, "writeTimeout", 1, &d->write_ms, err)) != SS_OK)
            return code;
    } else {
        d->write_ms = d->read_ms;
    }
    if (d->dial_ms <= 0 || d->read_ms <= 0 || d->write_ms <= 0)
        return ss_error_set(err, SS_INVALID,
                            "properties dialTimeout, readTimeout and writeTimeout must be > 0");
    d->pool_wait_ms = d->read_ms + 1000; /* go-redis's default poolTimeout */
    v = 3;
    const char *mr = ss_prop(ctx, "redisMaxRetries");
    if (mr && *mr)
        code = ss_prop_int(ctx, "redisMaxRetries", -1, 100, &v, err);
    else
        code = ss_prop_int(ctx, "maxRetries", -1, 100, &v, err);
    if (code != SS_OK) return code;
    d->max_retries = v == 0 ? 3 : (v < 0 ? 0 : (int)v); /* as go-redis: 0 = default, -1 = none */
    const char *ttl = ss_prop(ctx, "ttlInSeconds");
    d->default_ttl = 0;
    if (ttl && *ttl) {
        v = 0;
        if ((code = ss_prop_int(ctx, "ttlInSeconds", -1, 2147483647, &v, err)) != SS_OK)
            return code;
        d->default_ttl = v;
    }
    return SS_OK;
}

static ss_code redis_open(void *self, ss_ctx *ctx, ss_error *err)
{
    redis_drv *d = self;
    d->ctx = ctx;
    pthread_rwlock_init(&d->topo, NULL);
    pthread_mutex_init(&d->refresh_mu, NULL);
    pthread_mutex_init(&d->sentinel_mu, NULL);
    ss_code code = redis_read_config(d, ctx, err);
    if (code != SS_OK) goto fail;

    if (d->mode == MODE_CLUSTER) {
        d->slots = malloc(SS_REDIS_SLOTS * sizeof *d->slots);
        if (!d->slots) {
            code = ss_error_set(err, SS_NOMEM, "out of memory");
            goto fail;
        }
        for (int s = 0; s < SS_REDIS_SLOTS; s++) d->slots[s] = NO_NODE;
        char cerr[CMD_ERR_MAX];
        code = redis_cluster_refresh(d, true, cerr, sizeof cerr);
        if (code != SS_OK) {
            ss_error_set(err, code, "%s", cerr);
            goto fail;
        }
        if (d->db != 0) ss_log(ctx, SS_LOG_WARN, "redisDB is ignored in cluster mode");
    } else {
        /* node: the one host; sentinel: the master the sentinels name. */
        const char *host = d->seeds[0];
        int port = d->seed_ports[0];
        pthread_rwlock_wrlock(&d->topo);
        int idx = redis_node_index_locked(d, host, port);
        pthread_rwlock_unlock(&d->topo);
        if (idx < 0) {
            code = ss_error_set(err, SS_NOMEM, "out of memory");
            goto fail;
        }
        if (d->mode == MODE_SENTINEL) {
            char serr[CMD_ERR_MAX];
            code = redis_sentinel_resolve(d, serr, sizeof serr);
            if (code != SS_OK) {
                ss_error_set(err, code, "%s", serr);
                goto fail;
            }
        }
    }
    code = redis_load_scripts(d, err);
    if (code != SS_OK) goto fail;
    return SS_OK;
fail:
    redis_close(d);
    return code;
}

static const ss_property PROPS[] = {
    {"redisHost", true, false, NULL,
     "host:port of the server; a comma list of nodes (cluster) or sentinels (failover)"},
    {"redisUsername", false, false, NULL, "ACL user name (Redis 6+); empty = default user"},
    {"redisPassword", false, true, NULL, "password (AUTH)"},
    {"redisDB", false, false, "0", "database number selected after connecting (not in cluster)"},
    {"redisType", false, false, "node", "node or cluster"},
    {"failover", false, false, "false",
     "true: redisHost lists sentinels; needs sentinelMasterName"},
    {"sentinelMasterName", false, false, NULL, "the master name the sentinels monitor"},
    {"poolSize", false, false, "10", "most connections per node (callers beyond it wait)"},
    {"dialTimeout", false, false, "5s", "connect timeout (bare number = milliseconds)"},
    {"readTimeout", false, false, "3s", "socket read timeout (bare number = milliseconds)"},
    {"writeTimeout", false, false, NULL, "socket write timeout; default readTimeout"},
    {"maxRetries", false, false, "3",
     "retries of a command whose connection failed before any answer; -1 = none"},
    {"redisMaxRetries", false, false, NULL, "Dapr's spelling of maxRetries (wins when set)"},
    {"ttlInSeconds", false, false, NULL, "default TTL of every write without ttlInSeconds"},
    {"keyPrefix", false, false, NULL, "Dapr key prefixing; applied by the daemon, not the driver"},
};

const ss_driver ss_driver_redis = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "redis",
            .aliases = NULL,
            .version = "1.0.0",
            .summary = "Redis standalone, Sentinel or Cluster; Dapr's hash layout (data, version)",
            .features = {.flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE |
                                  SS_FEATURE_TRANSACTIONAL | SS_FEATURE_TTL |
                                  SS_FEATURE_BULK_NATIVE,
                         .max_tx_ops = 0,
                         .max_key_len = 0,
                         .max_value_len = 512u * 1024u * 1024u},
            .properties = PROPS,
            .property_count = sizeof PROPS / sizeof PROPS[0],
        },
    .instance_size = sizeof(redis_drv),
    .open = redis_open,
    .close = redis_close,
    .ping = redis_ping,
    .get = redis_get,
    .set = redis_set,
    .del = redis_del,
    .bulk_get = redis_bulk_get,
    .bulk_set = redis_bulk_set,
    .bulk_delete = redis_bulk_delete,
    .transact = redis_transact,
};

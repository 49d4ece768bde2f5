/*
 * topology.c — where the redis driver's commands go: Sentinel discovery of the master
 * (failover=true) and the Redis Cluster slot map (CLUSTER SLOTS, refreshed on MOVED).
 */
#include "redis_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------------------------ */
/* Topology: Sentinel discovery and the cluster slot map                                      */
/* ------------------------------------------------------------------------------------------ */

/* Asks each sentinel in turn for the master's address and points nodes[0] at it. */
ss_code redis_sentinel_resolve(redis_drv *d, char *err, size_t errlen)
{
    pthread_mutex_lock(&d->sentinel_mu);
    ss_code last = SS_UNAVAILABLE;
    redis_fmt_err(err, errlen, "no sentinel answered");
    for (size_t i = 0; i < d->nseeds; i++) {
        redisContext *c =
            redisConnectWithTimeout(d->seeds[i], d->seed_ports[i], redis_tv_ms(d->dial_ms));
        if (!c || c->err) {
            redis_fmt_err(err, errlen, "sentinel %s:%d: %s", d->seeds[i], d->seed_ports[i],
                          redis_ctx_text(c));
            if (c) redisFree(c);
            continue;
        }
        redisSetTimeout(c, redis_tv_ms(d->read_ms));
        const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", d->master_name};
        size_t lens[3] = {8, 23, strlen(d->master_name)};
        redisReply *r = redisCommandArgv(c, 3, argv, lens);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            int port = atoi(r->element[1]->str);
            if (port > 0 && port <= 65535 && r->element[0]->len < SS_REDIS_HOST_MAX) {
                redis_node_move(d->nodes[0], r->element[0]->str, port);
                freeReplyObject(r);
                redisFree(c);
                pthread_mutex_unlock(&d->sentinel_mu);
                return SS_OK;
            }
        }
        if (r && r->type == REDIS_REPLY_NIL) {
            redis_fmt_err(err, errlen, "sentinel %s:%d does not know master \"%s\"", d->seeds[i],
                          d->seed_ports[i], d->master_name);
            last = SS_INVALID;
        } else if (r && r->type == REDIS_REPLY_ERROR) {
            /* e.g. "unknown command 'SENTINEL'": redisHost names a plain server */
            redis_fmt_err(err, errlen, "sentinel %s:%d: %s", d->seeds[i], d->seed_ports[i], r->str);
            last = SS_INVALID;
        } else if (!r) {
            redis_fmt_err(err, errlen, "sentinel %s:%d: %s", d->seeds[i], d->seed_ports[i],
                          redis_ctx_text(c));
        }
        if (r) freeReplyObject(r);
        redisFree(c);
    }
    pthread_mutex_unlock(&d->sentinel_mu);
    return last;
}

void redis_resolve_quietly(redis_drv *d)
{
    char serr[CMD_ERR_MAX];
    (void)redis_sentinel_resolve(d, serr, sizeof serr);
}

/* The node serving host:port, added when new. Caller holds topo for writing. */
int redis_node_index_locked(redis_drv *d, const char *host, int port)
{
    for (size_t i = 0; i < d->nnodes; i++)
        if (d->nodes[i]->port == port && strcmp(d->nodes[i]->host, host) == 0) return (int)i;
    if (d->nnodes >= MAX_NODES) return -1;
    rnode *n = redis_node_new(host, port);
    if (!n) return -1;
    n->idle = calloc(d->pool_size, sizeof *n->idle);
    if (!n->idle) {
        redis_node_free(n, d->pool_size);
        return -1;
    }
    d->nodes[d->nnodes] = n;
    return (int)d->nnodes++;
}

/* Reloads the slot map with CLUSTER SLOTS from the first node or seed that answers. */
ss_code redis_cluster_refresh(redis_drv *d, bool force, char *err, size_t errlen)
{
    pthread_mutex_lock(&d->refresh_mu);
    int64_t now = ss_monotonic_ms();
    if (!force && now - d->last_refresh_ms < 100) {
        pthread_mutex_unlock(&d->refresh_mu);
        return SS_OK;
    }
    d->last_refresh_ms = now;

    /* Candidates: known nodes first (they reflect the current cluster), then the seeds. */
    char (*cand)[SS_REDIS_HOST_MAX] = calloc(MAX_NODES + d->nseeds, sizeof *cand);
    int *ports = calloc(MAX_NODES + d->nseeds, sizeof *ports);
    size_t nc = 0;
    if (!cand || !ports) {
        free(cand);
        free(ports);
        pthread_mutex_unlock(&d->refresh_mu);
        redis_fmt_err(err, errlen, "out of memory");
        return SS_NOMEM;
    }
    pthread_rwlock_rdlock(&d->topo);
    for (size_t i = 0; i < d->nnodes; i++) {
        snprintf(cand[nc], SS_REDIS_HOST_MAX, "%s", d->nodes[i]->host);
        ports[nc++] = d->nodes[i]->port;
    }
    pthread_rwlock_unlock(&d->topo);
    for (size_t i = 0; i < d->nseeds; i++) {
        snprintf(cand[nc], SS_REDIS_HOST_MAX, "%s", d->seeds[i]);
        ports[nc++] = d->seed_ports[i];
    }

    ss_code code = SS_UNAVAILABLE;
    redis_fmt_err(err, errlen, "no cluster node answered");
    for (size_t i = 0; i < nc; i++) {
        redisContext *c = NULL;
        char cerr[CMD_ERR_MAX];
        if (redis_connect_addr(d, cand[i], ports[i], false, &c, cerr, sizeof cerr) != SS_OK) {
            redis_fmt_err(err, errlen, "%s", cerr);
            continue;
        }
        const char *argv[2] = {"CLUSTER", "SLOTS"};
        size_t lens[2] = {7, 5};
        redisReply *r = redisCommandArgv(c, 2, argv, lens);
        ss_redis_range *ranges = NULL;
        int nr = -1;
        if (r && r->type == REDIS_REPLY_ERROR) {
            redis_fmt_err(err, errlen, "CLUSTER SLOTS on %s:%d: %s", cand[i], ports[i], r->str);
            code = SS_INVALID; /* e.g. "cluster support disabled": a configuration error */
        } else if (r) {
            nr = ss_redis_parse_slots(r, cand[i], &ranges);
            if (nr <= 0)
                redis_fmt_err(err, errlen, "CLUSTER SLOTS on %s:%d: %s", cand[i], ports[i],
                              nr == 0 ? "no slots assigned" : "malformed answer");
        } else {
            redis_fmt_err(err, errlen, "CLUSTER SLOTS on %s:%d: %s", cand[i], ports[i],
                          redis_ctx_text(c));
        }
        if (r) freeReplyObject(r);
        redisFree(c);
        if (nr <= 0) continue;

        pthread_rwlock_wrlock(&d->topo);
        for (int s = 0; s < SS_REDIS_SLOTS; s++) d->slots[s] = NO_NODE;
        bool ok = true;
        for (int j = 0; j < nr; j++) {
            int idx = redis_node_index_locked(d, ranges[j].host, ranges[j].port);
            if (idx < 0) {
                ok = false;
                break;
            }
            rnode *nd = d->nodes[idx];
            pthread_mutex_lock(&nd->mu);
            nd->replicas = ranges[j].replicas;
            nd->replicas_at = now;
            pthread_mutex_unlock(&nd->mu);
            for (int s = ranges[j].start; s <= ranges[j].end; s++) d->slots[s] = (uint16_t)idx;
        }
        pthread_rwlock_unlock(&d->topo);
        free(ranges);
        if (!ok) {
            redis_fmt_err(err, errlen, "more than %d cluster nodes", MAX_NODES);
            code = SS_BACKEND;
            break;
        }
        code = SS_OK;
        break;
    }
    free(cand);
    free(ports);
    pthread_mutex_unlock(&d->refresh_mu);
    return code;
}

rnode *redis_node_for_slot(redis_drv *d, int slot)
{
    if (d->mode != MODE_CLUSTER) return d->nodes[0];
    rnode *n = NULL;
    pthread_rwlock_rdlock(&d->topo);
    if (slot >= 0 && d->slots[slot] != NO_NODE) n = d->nodes[d->slots[slot]];
    if (!n && d->nnodes > 0) n = d->nodes[0];
    pthread_rwlock_unlock(&d->topo);
    return n;
}

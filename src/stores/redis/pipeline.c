/*
 * pipeline.c — the redis driver's executor: commands pipelined on one connection per node,
 * routed by slot in cluster mode, retried on a dead connection, EVALSHA resent as EVAL on
 * NOSCRIPT, MOVED/ASK followed, WAIT for strong consistency.
 */
#include "redis_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------------------------ */
/* The executor: pipelines on one connection per node, retries, NOSCRIPT, redirects           */
/* ------------------------------------------------------------------------------------------ */

/* Resets a command without zeroing its message buffer (bulk calls build hundreds). */
void redis_cmd_init(rcmd *c)
{
    c->argc = 0;
    c->argv = NULL;
    c->argvlen = NULL;
    c->script = NULL;
    c->slot = -1;
    c->write = false;
    c->reply = NULL;
    c->code = SS_OK;
    c->unacked = false;
    c->err[0] = '\0';
}

static void redis_cmd_fail(rcmd *c, ss_code code, const char *text)
{
    if (c->reply) {
        freeReplyObject(c->reply);
        c->reply = NULL;
    }
    c->code = code;
    redis_fmt_err(c->err, sizeof c->err, "%s", text);
}

static int redis_wait_timeout_ms(const redis_drv *d)
{
    int64_t t = d->read_ms / 2;
    if (t > WAIT_MAX_MS) t = WAIT_MAX_MS;
    if (t < 1) t = 1;
    return (int)t;
}

/*
 * Runs cmds (all routed to node n) as one pipeline on one connection. `wait` appends
 * WAIT 1 <timeout> after the writes when the node has replicas. Every cmd ends with code set.
 */
static void redis_run_on_node(redis_drv *d, rnode *n, rcmd **cmds, size_t m, bool wait, bool asking)
{
    char err[CMD_ERR_MAX] = "";
    ss_code last = SS_UNAVAILABLE;
    int attempts = 1 + (d->max_retries > 0 ? d->max_retries : 0);
    for (int attempt = 0; attempt < attempts; attempt++) {
        if (attempt > 0) {
            int64_t b = (int64_t)BACKOFF_MIN_MS << (attempt - 1);
            redis_sleep_ms(b > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b);
            if (d->mode == MODE_SENTINEL) {
                char serr[CMD_ERR_MAX];
                if (redis_sentinel_resolve(d, serr, sizeof serr) != SS_OK)
                    redis_fmt_err(err, sizeof err, "%s", serr);
            }
        }
        rconn *rc = NULL;
        last = redis_checkout(d, n, &rc, err, sizeof err);
        if (last != SS_OK) {
            if (last == SS_UNAVAILABLE) continue;
            /* A master that does not even accept connections in time may be gone for good:
             * ask the sentinels, so the next call goes where they point. */
            if (last == SS_TIMEOUT && d->mode == MODE_SENTINEL) redis_resolve_quietly(d);
            break; /* pool exhausted, auth failure, bad SELECT: retrying does not help */
        }
        redisContext *c = rc->c;
        bool any_write = false;
        for (size_t i = 0; i < m; i++) any_write |= cmds[i]->write;
        int replicas = 0;
        if (wait && any_write) {
            /* Replicas come and go (a failover, a resync): recount before a strong write when
             * the count is older than 5 s (before the pipeline, which must be read in order). */
            pthread_mutex_lock(&n->mu);
            bool stale = n->replicas < 0 || ss_monotonic_ms() - n->replicas_at > 5000;
            pthread_mutex_unlock(&n->mu);
            if (stale) redis_probe_replicas(n, c);
            pthread_mutex_lock(&n->mu);
            replicas = n->replicas;
            pthread_mutex_unlock(&n->mu);
        }
        for (size_t i = 0; i < m; i++) {
            if (asking) redisAppendCommand(c, "ASKING");
            redisAppendCommandArgv(c, cmds[i]->argc, cmds[i]->argv, cmds[i]->argvlen);
        }
        bool do_wait = replicas > 0;
        if (do_wait) redisAppendCommand(c, "WAIT 1 %d", redis_wait_timeout_ms(d));

        size_t got = 0;
        bool broken = false, readonly = false;
        for (size_t i = 0; i < m; i++) {
            void *r = NULL;
            if (asking) {
                if (redisGetReply(c, &r) != REDIS_OK) {
                    broken = true;
                    break;
                }
                freeReplyObject(r);
                r = NULL;
            }
            if (redisGetReply(c, &r) != REDIS_OK) {
                broken = true;
                break;
            }
            cmds[i]->reply = r;
            cmds[i]->code = SS_OK;
            if (redis_reply_is_err(r, "READONLY")) readonly = true;
            got++;
        }
        if (!broken && do_wait) {
            void *r = NULL;
            if (redisGetReply(c, &r) != REDIS_OK) {
                broken = true;
            } else {
                redisReply *w = r;
                if (w->type != REDIS_REPLY_INTEGER || w->integer < 1)
                    for (size_t i = 0; i < m; i++) cmds[i]->unacked = cmds[i]->write;
                freeReplyObject(r);
            }
        }
        if (broken) {
            last = redis_ctx_code(c);
            redis_fmt_err(err, sizeof err, "%s:%d: %s", c->tcp.host ? c->tcp.host : "?",
                          c->tcp.port, redis_ctx_text(c));
            redis_checkin(n, rc, true);
            redis_node_flush_idle(n);
            if (got == 0 && last != SS_TIMEOUT) {
                /* Nothing came back: the commands most likely never ran (a dead pooled
                 * connection, a restarted server), so running them again is safe. */
                continue;
            }
            for (size_t i = got; i < m; i++) redis_cmd_fail(cmds[i], last, err);
            if (last == SS_TIMEOUT && d->mode == MODE_SENTINEL) redis_resolve_quietly(d);
            if (got == m) /* only the WAIT answer was lost: replication is unknown */
                for (size_t i = 0; i < m; i++) cmds[i]->unacked = cmds[i]->write;
            return;
        }
        if (readonly && d->mode == MODE_SENTINEL) {
            /* We reached a demoted master: find the new one and run everything again (a
             * replica rejected every write, and the reads are safe to repeat). */
            for (size_t i = 0; i < m; i++) {
                freeReplyObject(cmds[i]->reply);
                cmds[i]->reply = NULL;
                cmds[i]->unacked = false;
            }
            redis_checkin(n, rc, true);
            redis_node_flush_idle(n);
            last = SS_UNAVAILABLE;
            redis_fmt_err(err, sizeof err, "%s:%d is a replica now (READONLY)",
                          c->tcp.host ? c->tcp.host : "?", c->tcp.port);
            continue;
        }
        /* NOSCRIPT: the script cache is empty (restart, SCRIPT FLUSH, new node): send the
         * script body once with EVAL, which also caches it for the following EVALSHAs. */
        size_t nos = 0;
        for (size_t i = 0; i < m; i++) {
            if (cmds[i]->script && redis_reply_is_err(cmds[i]->reply, "NOSCRIPT")) {
                const char **argv = cmds[i]->argv;
                size_t *lens = cmds[i]->argvlen;
                const char *sv = argv[0], *sh = argv[1];
                size_t sl0 = lens[0], sl1 = lens[1];
                argv[0] = "EVAL";
                lens[0] = 4;
                argv[1] = cmds[i]->script;
                lens[1] = strlen(cmds[i]->script);
                if (asking) redisAppendCommand(c, "ASKING");
                redisAppendCommandArgv(c, cmds[i]->argc, argv, lens);
                argv[0] = sv;
                lens[0] = sl0;
                argv[1] = sh;
                lens[1] = sl1;
                nos++;
            }
        }
        if (nos > 0 && do_wait) redisAppendCommand(c, "WAIT 1 %d", redis_wait_timeout_ms(d));
        for (size_t i = 0; i < m && nos > 0; i++) {
            if (!(cmds[i]->script && redis_reply_is_err(cmds[i]->reply, "NOSCRIPT"))) continue;
            void *r = NULL;
            if (asking && redisGetReply(c, &r) == REDIS_OK) {
                freeReplyObject(r);
                r = NULL;
            }
            if (redisGetReply(c, &r) != REDIS_OK) {
                ss_code cc = redis_ctx_code(c);
                redis_fmt_err(err, sizeof err, "%s:%d: %s", c->tcp.host ? c->tcp.host : "?",
                              c->tcp.port, redis_ctx_text(c));
                for (size_t j = i; j < m; j++)
                    if (cmds[j]->script && redis_reply_is_err(cmds[j]->reply, "NOSCRIPT"))
                        redis_cmd_fail(cmds[j], cc, err);
                redis_checkin(n, rc, true);
                return;
            }
            freeReplyObject(cmds[i]->reply);
            cmds[i]->reply = r;
        }
        if (nos > 0 && do_wait) {
            /* This WAIT covers every earlier write on the connection: its answer wins. */
            void *r = NULL;
            if (redisGetReply(c, &r) == REDIS_OK) {
                redisReply *w = r;
                bool acked = w->type == REDIS_REPLY_INTEGER && w->integer >= 1;
                for (size_t i = 0; i < m; i++) cmds[i]->unacked = cmds[i]->write && !acked;
                freeReplyObject(r);
            } else {
                for (size_t i = 0; i < m; i++) cmds[i]->unacked = cmds[i]->write;
                redis_checkin(n, rc, true);
                return;
            }
        }
        redis_checkin(n, rc, false);
        return;
    }
    for (size_t i = 0; i < m; i++) redis_cmd_fail(cmds[i], last, err[0] ? err : "no connection");
}

/* Runs every command, routing by slot in cluster mode and following MOVED/ASK. */
ss_code redis_exec_cmds(redis_drv *d, rcmd *cmds, size_t n, bool wait, ss_error *err)
{
    if (n == 0) return SS_OK;
    rcmd *small[4]; /* single operations: no allocation */
    rcmd **list = n <= 4 ? small : malloc(n * sizeof *list);
    if (!list) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (d->mode != MODE_CLUSTER) {
        for (size_t i = 0; i < n; i++) list[i] = &cmds[i];
        redis_run_on_node(d, d->nodes[0], list, n, wait, false);
        if (list != small) free(list);
        return SS_OK;
    }

    /* Group by node: one pipeline per node. */
    bool *done = calloc(n ? n : 1, sizeof *done);
    rnode **owner = malloc((n ? n : 1) * sizeof *owner);
    if (!done || !owner) {
        if (list != small) free(list);
        free(done);
        free(owner);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) owner[i] = redis_node_for_slot(d, cmds[i].slot);
    for (size_t i = 0; i < n; i++) {
        if (done[i]) continue;
        size_t m = 0;
        for (size_t j = i; j < n; j++) {
            if (!done[j] && owner[j] == owner[i]) {
                list[m++] = &cmds[j];
                done[j] = true;
            }
        }
        if (owner[i])
            redis_run_on_node(d, owner[i], list, m, wait, false);
        else
            for (size_t j = 0; j < m; j++)
                redis_cmd_fail(list[j], SS_UNAVAILABLE, "no cluster node known");
    }

    /* Follow redirects one command at a time (rare: only while slots move). */
    bool refresh = false;
    for (size_t i = 0; i < n; i++) {
        for (int hop = 0; hop < MAX_REDIRECTS && cmds[i].code == SS_OK; hop++) {
            redisReply *r = cmds[i].reply;
            if (r->type != REDIS_REPLY_ERROR) break;
            bool ask;
            int slot, port;
            char host[SS_REDIS_HOST_MAX];
            if (redis_reply_is_err(r, "TRYAGAIN") || redis_reply_is_err(r, "CLUSTERDOWN")) {
                redis_cmd_fail(&cmds[i], SS_UNAVAILABLE, r->str);
                refresh = true;
                break;
            }
            if (!ss_redis_parse_redirect(r->str, r->len, &ask, &slot, host, sizeof host, &port))
                break;
            rnode *target = NULL;
            pthread_rwlock_wrlock(&d->topo);
            int idx = redis_node_index_locked(d, host, port);
            if (idx >= 0) {
                target = d->nodes[idx];
                if (!ask) d->slots[slot] = (uint16_t)idx;
            }
            pthread_rwlock_unlock(&d->topo);
            if (!ask) refresh = true;
            if (!target) {
                redis_cmd_fail(&cmds[i], SS_BACKEND, "too many cluster nodes");
                break;
            }
            freeReplyObject(cmds[i].reply);
            cmds[i].reply = NULL;
            rcmd *one = &cmds[i];
            redis_run_on_node(d, target, &one, 1, wait, ask);
        }
    }
    for (size_t i = 0; i < n; i++) refresh |= cmds[i].code == SS_UNAVAILABLE;
    if (refresh) {
        char rerr[CMD_ERR_MAX];
        (void)redis_cluster_refresh(d, false, rerr, sizeof rerr);
    }
    if (list != small) free(list);
    free(done);
    free(owner);
    return SS_OK;
}

void redis_cmds_release(rcmd *cmds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cmds[i].reply) freeReplyObject(cmds[i].reply);
}

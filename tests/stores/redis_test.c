/*
 * redis driver specifics against real servers. One binary, three modes (argv[1]):
 *   node      SS_TEST_REDIS_ADDR: Dapr layout both ways, plain-string keys, all-or-nothing
 *             transactions, ETags/first-write/TTL, bulk, and a server restart mid-run
 *             (clear UNAVAILABLE while down, recovery after) through scripts/services/redis.sh
 *   cluster   SS_TEST_REDIS_CLUSTER_ADDRS: routing over 3 masters, cross-slot transaction
 *             error, hash-tag transactions, MOVED and ASK after slots are reassigned
 *   sentinel  SS_TEST_REDIS_SENTINEL_ADDR/_MASTER: a forced SENTINEL FAILOVER mid-test; the
 *             driver follows the new master and keeps working
 * Skips (77) when the mode's variables are unset.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "statestore.h"
#include "store_check.h"
#include "stores/redis/redis_internal.h"

static char prefix[48];

static void key(char *out, size_t len, const char *suffix)
{
    snprintf(out, len, "%s-%s", prefix, suffix);
}

static ss_store *open_store(const ss_pair *props, size_t n)
{
    ss_config cfg = {
        .driver = "redis", .name = "redistest", .properties = props, .property_count = n};
    ss_store *s = NULL;
    ss_error err = {0};
    ss_code c = ss_open(&s, &cfg, &err);
    CHECK(c == SS_OK, "open: %s %s", ss_code_name(c), err.message);
    return c == SS_OK ? s : NULL;
}

static ss_value *get_kv(ss_store *s, const char *k, ss_code *code)
{
    ss_value *v = NULL;
    ss_error err = {0};
    ss_get_request r = {.key = k};
    ss_code c = ss_get(&v, s, &r, &err);
    if (code)
        *code = c;
    else
        CHECK(c == SS_OK, "get %s: %s", k, err.message);
    return v;
}

static bool value_is(ss_store *s, const char *k, const char *want)
{
    ss_value *v = get_kv(s, k, NULL);
    bool ok = want ? (v && v->len == strlen(want) && memcmp(v->data, want, v->len) == 0) : !v;
    if (!ok)
        fprintf(stderr, "  %s is %s%.*s%s, want %s\n", k, v ? "\"" : "", v ? (int)v->len : 4,
                v ? v->data : "null", v ? "\"" : "", want ? want : "null");
    ss_value_free(v);
    return ok;
}

static redisContext *raw_connect(const char *addr)
{
    char host[128];
    const char *colon = strrchr(addr, ':');
    if (!colon) return NULL;
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c) redisSetTimeout(c, tv);
    return c;
}

/* The basics every mode must get right, on keys sharing one hash tag (so cluster runs them too). */
static void basics(ss_store *s, const char *tag)
{
    char k1[128], k2[128], k3[128];
    snprintf(k1, sizeof k1, "%s-{%s}-a", prefix, tag);
    snprintf(k2, sizeof k2, "%s-{%s}-b", prefix, tag);
    snprintf(k3, sizeof k3, "%s-{%s}-c", prefix, tag);
    ss_error err = {0};
    char *e1 = NULL, *e2 = NULL;
    CHECK(set_kv(s, k1, "v1", NULL, NULL, NULL, &e1, &err) == SS_OK, "%s", err.message);
    CHECK(e1 && strcmp(e1, "1") == 0, "first etag %s", e1 ? e1 : "null");
    CHECK(value_is(s, k1, "v1"), "get after set");
    /* stale, invalid, right ETag */
    CHECK(set_kv(s, k1, "x", "999", NULL, NULL, NULL, &err) == SS_ETAG_MISMATCH, "%s", err.message);
    CHECK(set_kv(s, k1, "x", "abc", NULL, NULL, NULL, &err) == SS_ETAG_INVALID, "%s", err.message);
    CHECK(set_kv(s, k1, "v2", e1, NULL, NULL, &e2, &err) == SS_OK, "%s", err.message);
    CHECK(e2 && strcmp(e2, "2") == 0, "second etag %s", e2 ? e2 : "null");
    /* first-write is per request: an existing key fails, a new key succeeds */
    CHECK(set_kv(s, k1, "x", NULL, SS_FIRST_WRITE, NULL, NULL, &err) == SS_ETAG_MISMATCH, "%s",
          err.message);
    CHECK(set_kv(s, k2, "fw", NULL, SS_FIRST_WRITE, NULL, NULL, &err) == SS_OK, "%s", err.message);
    /* ... and does not stick to the record (unlike Dapr's first-write field) */
    CHECK(set_kv(s, k2, "lw", NULL, NULL, NULL, NULL, &err) == SS_OK, "%s", err.message);
    /* delete with a stale ETag, then the right one */
    ss_delete_request d = {.key = k1, .etag = "1"};
    CHECK(ss_delete(s, &d, &err) == SS_ETAG_MISMATCH, "%s", err.message);
    d.etag = e2;
    CHECK(ss_delete(s, &d, &err) == SS_OK, "%s", err.message);
    CHECK(value_is(s, k1, NULL), "deleted");
    CHECK(ss_delete(s, &d, &err) == SS_ETAG_MISMATCH, "delete missing with etag: %s", err.message);
    d.etag = NULL;
    CHECK(ss_delete(s, &d, &err) == SS_OK, "delete missing: %s", err.message);
    /* first-write delete without ETag (the contract): only a missing key "succeeds" */
    ss_delete_request fd = {.key = k2};
    fd.options.concurrency = SS_FIRST_WRITE;
    CHECK(ss_delete(s, &fd, &err) == SS_ETAG_MISMATCH, "first-write delete of an existing key: %s",
          err.message);
    CHECK(value_is(s, k2, "lw"), "first-write delete changed the key");
    fd.key = k1;
    CHECK(ss_delete(s, &fd, &err) == SS_OK, "first-write delete of a missing key: %s", err.message);
    ss_free(e1);
    ss_free(e2);

    /* TTL: ttlExpireTime present, and a later set without TTL removes it */
    CHECK(set_kv(s, k3, "t", NULL, NULL, "3600", NULL, &err) == SS_OK, "%s", err.message);
    ss_value *v = get_kv(s, k3, NULL);
    CHECK(v && ss_value_meta(v, "ttlExpireTime"), "ttlExpireTime missing");
    ss_value_free(v);
    CHECK(set_kv(s, k3, "t2", NULL, NULL, NULL, NULL, &err) == SS_OK, "%s", err.message);
    v = get_kv(s, k3, NULL);
    CHECK(v && !ss_value_meta(v, "ttlExpireTime"), "ttlExpireTime should be gone");
    ss_value_free(v);
    CHECK(set_kv(s, k3, "short", NULL, NULL, "1", NULL, &err) == SS_OK, "%s", err.message);
    bool gone = false;
    for (int i = 0; i < 40 && !gone; i++) { /* bounded: 4 s for a 1 s TTL */
        usleep(100000);
        ss_value *g = get_kv(s, k3, NULL);
        gone = g == NULL;
        ss_value_free(g);
    }
    CHECK(gone, "TTL 1 s item still there after 4 s");

    /* transactions: the third condition fails -> nothing changes */
    CHECK(set_kv(s, k1, "orig1", NULL, NULL, NULL, NULL, &err) == SS_OK, "%s", err.message);
    CHECK(set_kv(s, k2, "orig2", NULL, NULL, NULL, NULL, &err) == SS_OK, "%s", err.message);
    ss_operation ops[4] = {0};
    ops[0].kind = SS_OP_UPSERT;
    ops[0].set = (ss_set_request){.key = k1, .value = "new1", .value_len = 4};
    ops[1].kind = SS_OP_DELETE;
    ops[1].del = (ss_delete_request){.key = k2};
    ops[2].kind = SS_OP_UPSERT;
    ops[2].set = (ss_set_request){.key = k3, .value = "new3", .value_len = 4, .etag = "12345"};
    ss_transaction tx = {.ops = ops, .count = 3};
    ss_code c = ss_transact(s, &tx, &err);
    CHECK(c == SS_ETAG_MISMATCH, "tx: %s %s", ss_code_name(c), err.message);
    char want[300];
    snprintf(want, sizeof want, "): transact: operation 2: set \"%s\": etag mismatch: ", k3);
    CHECK(strstr(err.message, want) != NULL && !strstr(err.message, "(key "),
          "tx error should name operation 2 and %s once: %s", k3, err.message);
    CHECK(value_is(s, k1, "orig1"), "k1 changed by a failed tx");
    CHECK(value_is(s, k2, "orig2"), "k2 changed by a failed tx");
    /* a condition that only holds because of an earlier op of the same tx: delete k2, then
     * first-write k2 must succeed; k1 ETag 2 after the upsert at op 0 (version 1 -> 2) */
    ss_value *cur = get_kv(s, k1, NULL);
    char etag1[32] = "";
    if (cur && cur->etag) snprintf(etag1, sizeof etag1, "%s", cur->etag);
    ss_value_free(cur);
    char next1[32];
    snprintf(next1, sizeof next1, "%lld", atoll(etag1) + 1);
    ops[0].set = (ss_set_request){.key = k1, .value = "t1", .value_len = 2, .etag = etag1};
    ops[1].kind = SS_OP_DELETE;
    ops[1].del = (ss_delete_request){.key = k2};
    ops[2].kind = SS_OP_UPSERT;
    ops[2].set = (ss_set_request){.key = k2, .value = "t2", .value_len = 2};
    ops[2].set.options.concurrency = SS_FIRST_WRITE;
    ops[3].kind = SS_OP_UPSERT;
    ops[3].set = (ss_set_request){.key = k1, .value = "t1b", .value_len = 3, .etag = next1};
    tx.count = 4;
    c = ss_transact(s, &tx, &err);
    CHECK(c == SS_OK, "ordered tx: %s %s", ss_code_name(c), err.message);
    CHECK(value_is(s, k1, "t1b"), "ordered tx k1");
    CHECK(value_is(s, k2, "t2"), "ordered tx k2");
    ops[0].set.etag = "nope";
    c = ss_transact(s, &tx, &err);
    CHECK(c == SS_ETAG_INVALID, "tx invalid etag: %s %s", ss_code_name(c), err.message);
    CHECK(strstr(err.message, "): transact: operation 0: set \"") &&
              strstr(err.message, "invalid etag value: \"nope\" is not a number"),
          "tx invalid etag message: %s", err.message);

    /* bulk: set 3 with one stale ETag, get 3 + a missing key, delete */
    ss_set_request bs[3] = {{.key = k1, .value = "b1", .value_len = 2},
                            {.key = k2, .value = "b2", .value_len = 2, .etag = "777"},
                            {.key = k3, .value = "b3", .value_len = 2}};
    ss_results res = {0};
    c = ss_bulk_set(&res, s, bs, 3, NULL, &err);
    CHECK(c == SS_ETAG_MISMATCH, "bulk set: %s %s", ss_code_name(c), err.message);
    CHECK(res.count == 3 && res.items[0].code == SS_OK && res.items[1].code == SS_ETAG_MISMATCH &&
              res.items[2].code == SS_OK,
          "bulk set items");
    ss_results_free(&res);
    char missing[128];
    snprintf(missing, sizeof missing, "%s-{%s}-missing", prefix, tag);
    ss_get_request bg[4] = {{.key = k1}, {.key = k2}, {.key = missing}, {.key = k3}};
    c = ss_bulk_get(&res, s, bg, 4, NULL, &err);
    CHECK(c == SS_OK, "bulk get: %s", err.message);
    CHECK(res.count == 4, "bulk get count");
    if (res.count == 4) {
        CHECK(res.items[0].value && strcmp(res.items[0].value->data, "b1") == 0, "bulk get 0");
        CHECK(res.items[1].value && strcmp(res.items[1].value->data, "t2") == 0, "bulk get 1");
        CHECK(res.items[2].code == SS_OK && !res.items[2].value, "bulk get missing");
        CHECK(res.items[3].value && strcmp(res.items[3].value->data, "b3") == 0, "bulk get 3");
    }
    ss_results_free(&res);
    ss_delete_request bd[3] = {{.key = k1}, {.key = k2}, {.key = k3}};
    c = ss_bulk_delete(&res, s, bd, 3, NULL, &err);
    CHECK(c == SS_OK, "bulk delete: %s", err.message);
    ss_results_free(&res);
    CHECK(value_is(s, k1, NULL) && value_is(s, k2, NULL) && value_is(s, k3, NULL), "bulk deleted");
}

/* ---- node ---------------------------------------------------------------------------- */

static void dapr_layout(ss_store *s, redisContext *raw)
{
    char k[128], kp[128], ko[128];
    key(k, sizeof k, "dapr-written");
    key(kp, sizeof kp, "dapr-plain");
    key(ko, sizeof ko, "ours");
    /* exactly what daprd's set script leaves: HSET data + HINCRBY version (+ first-write) */
    redisReply *r = redisCommand(raw, "HSET %s data %s version 7 first-write 0", k, "\"hello\"");
    CHECK(r && r->type == REDIS_REPLY_INTEGER, "raw HSET");
    freeReplyObject(r);
    ss_value *v = get_kv(s, k, NULL);
    CHECK(v && strcmp(v->data, "\"hello\"") == 0 && v->etag && strcmp(v->etag, "7") == 0,
          "dapr-written value/etag: %s / %s", v ? v->data : "null",
          v && v->etag ? v->etag : "null");
    ss_value_free(v);
    ss_error err = {0};
    char *e = NULL;
    CHECK(set_kv(s, k, "\"bye\"", "7", NULL, NULL, &e, &err) == SS_OK, "%s", err.message);
    CHECK(e && strcmp(e, "8") == 0, "etag after dapr record %s", e ? e : "null");
    ss_free(e);
    /* a plain string (Dapr's oldest layout) reads back without ETag */
    r = redisCommand(raw, "SET %s %s", kp, "plain");
    freeReplyObject(r);
    v = get_kv(s, kp, NULL);
    CHECK(v && strcmp(v->data, "plain") == 0 && !v->etag, "plain string read");
    ss_value_free(v);
    /* ours, as daprd reads it: HGETALL data + version */
    CHECK(set_kv(s, ko, "bin\0ary", NULL, NULL, NULL, NULL, &err) == SS_OK, "%s", err.message);
    const char bin[] = {'a', 0, 'b', (char)0xff};
    ss_set_request sr = {.key = ko, .value = bin, .value_len = sizeof bin};
    CHECK(ss_set(NULL, s, &sr, &err) == SS_OK, "%s", err.message);
    r = redisCommand(raw, "HGETALL %s", ko);
    bool seen_data = false, seen_ver = false;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            if (strcmp(r->element[i]->str, "data") == 0)
                seen_data = r->element[i + 1]->len == sizeof bin &&
                            memcmp(r->element[i + 1]->str, bin, sizeof bin) == 0;
            if (strcmp(r->element[i]->str, "version") == 0)
                seen_ver = strcmp(r->element[i + 1]->str, "2") == 0;
        }
    }
    CHECK(seen_data && seen_ver, "our record in Dapr's layout (data byte-exact, version 2)");
    freeReplyObject(r);
    r = redisCommand(raw, "DEL %s %s %s", k, kp, ko);
    freeReplyObject(r);
}

static void restart_test(ss_store *s, const char *script, const char *dir)
{
    char cmd[1024], k[128];
    key(k, sizeof k, "restart");
    ss_error err = {0};
    CHECK(set_kv(s, k, "before", NULL, NULL, NULL, NULL, &err) == SS_OK, "%s", err.message);
    snprintf(cmd, sizeof cmd, "bash '%s' kill '%s' >/dev/null", script, dir);
    CHECK(system(cmd) == 0, "%s", cmd);
    ss_value *v = NULL;
    ss_get_request g = {.key = k};
    ss_code c = ss_get(&v, s, &g, &err);
    CHECK(c == SS_UNAVAILABLE, "get while down: %s %s", ss_code_name(c), err.message);
    printf("while down: %s: %s\n", ss_code_name(c), err.message);
    CHECK(err.retryable, "UNAVAILABLE should be retryable");
    CHECK(strstr(err.message, "127.0.0.1") != NULL, "message names the server: %s", err.message);
    c = set_kv(s, k, "x", NULL, NULL, NULL, NULL, &err);
    CHECK(c == SS_UNAVAILABLE, "set while down: %s %s", ss_code_name(c), err.message);
    CHECK(ss_ping(s, &err) == SS_UNAVAILABLE, "ping while down");
    snprintf(cmd, sizeof cmd, "bash '%s' restart '%s' >/dev/null", script, dir);
    CHECK(system(cmd) == 0, "%s", cmd);
    /* The data is gone (no persistence); the point is that the same handle works again, and
     * the scripts are reloaded after NOSCRIPT. */
    CHECK(ss_ping(s, &err) == SS_OK, "ping after restart: %s", err.message);
    c = set_kv(s, k, "after", NULL, NULL, NULL, NULL, &err);
    CHECK(c == SS_OK, "set after restart: %s %s", ss_code_name(c), err.message);
    CHECK(value_is(s, k, "after"), "get after restart");
    ss_operation op = {.kind = SS_OP_DELETE, .del = {.key = k}};
    ss_transaction tx = {.ops = &op, .count = 1};
    CHECK(ss_transact(s, &tx, &err) == SS_OK, "tx after restart: %s", err.message);
}

/* Many threads on one handle with a pool of 2 connections: everything succeeds. */
typedef struct worker {
    ss_store *s;
    int id;
    int ok;
} worker;

static void *work(void *p)
{
    worker *w = p;
    for (int i = 0; i < 100; i++) {
        char k[128], v[32];
        snprintf(k, sizeof k, "%s-thr-%d-%d", prefix, w->id, i % 5);
        snprintf(v, sizeof v, "%d-%d", w->id, i);
        ss_error err = {0};
        if (set_kv(w->s, k, v, NULL, NULL, NULL, NULL, &err) != SS_OK) continue;
        ss_value *got = NULL;
        ss_get_request g = {.key = k};
        if (ss_get(&got, w->s, &g, &err) == SS_OK && got && strcmp(got->data, v) == 0) w->ok++;
        ss_value_free(got);
        ss_delete_request d = {.key = k};
        (void)ss_delete(w->s, &d, &err);
    }
    return NULL;
}

static void threads_test(const char *addr)
{
    ss_pair props[] = {{"redisHost", addr}, {"poolSize", "2"}};
    ss_store *s = open_store(props, 2);
    if (!s) return;
    enum { T = 8 };
    pthread_t th[T];
    worker w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (worker){.s = s, .id = i};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    int ok = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
    }
    CHECK(ok == T * 100, "%d of %d set+get pairs from %d threads on 2 connections", ok, T * 100, T);
    ss_close(s);
}

/* A server that stops answering: the read timeout turns the wait into TIMEOUT. */
static void timeout_test(const char *addr, redisContext *raw)
{
    ss_pair props[] = {{"redisHost", addr}, {"readTimeout", "300ms"}};
    ss_store *s = open_store(props, 2);
    if (!s) return;
    char k[128];
    key(k, sizeof k, "paused");
    redisReply *r = redisCommand(raw, "CLIENT PAUSE 1500 ALL");
    CHECK(r && r->type == REDIS_REPLY_STATUS, "CLIENT PAUSE");
    freeReplyObject(r);
    ss_error err = {0};
    ss_value *v = NULL;
    ss_get_request g = {.key = k};
    ss_code c = ss_get(&v, s, &g, &err);
    CHECK(c == SS_TIMEOUT, "get on a paused server: %s %s", ss_code_name(c), err.message);
    ss_value_free(v);
    r = redisCommand(raw, "CLIENT UNPAUSE");
    freeReplyObject(r);
    c = ss_get(&v, s, &g, &err);
    CHECK(c == SS_OK, "get after unpause: %s %s", ss_code_name(c), err.message);
    ss_value_free(v);
    ss_close(s);
}

/* AUTH with a password and with an ACL user, a wrong password (never echoed), and redisDB. */
static void auth_db_test(const char *addr, redisContext *raw)
{
    char k[128];
    key(k, sizeof k, "auth");
    ss_error err = {0};
    /* redisDB: the key lands in database 3 */
    ss_pair dbp[] = {{"redisHost", addr}, {"redisDB", "3"}};
    ss_store *s = open_store(dbp, 2);
    if (s) {
        CHECK(set_kv(s, k, "in-db3", NULL, NULL, NULL, NULL, &err) == SS_OK, "%s", err.message);
        redisReply *r = redisCommand(raw, "SELECT 3");
        freeReplyObject(r);
        r = redisCommand(raw, "HGET %s data", k);
        CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "in-db3") == 0,
              "value not in database 3");
        freeReplyObject(r);
        r = redisCommand(raw, "DEL %s", k);
        freeReplyObject(r);
        r = redisCommand(raw, "SELECT 0");
        freeReplyObject(r);
        ss_close(s);
    }
    /* The raw connection stays authenticated after requirepass is set. */
    redisReply *r = redisCommand(raw, "CONFIG SET requirepass %s", "pw-s3cret");
    CHECK(r && r->type == REDIS_REPLY_STATUS, "CONFIG SET requirepass");
    freeReplyObject(r);
    r = redisCommand(raw, "ACL SETUSER ssuser on >%s ~* &* +@all", "user-pw-9");
    CHECK(r && r->type == REDIS_REPLY_STATUS, "ACL SETUSER");
    freeReplyObject(r);

    ss_store *bad = NULL;
    ss_pair wrong[] = {{"redisHost", addr}, {"redisPassword", "not-the-pw-xyz"}};
    ss_config cfg = {.driver = "redis", .properties = wrong, .property_count = 2};
    ss_code c = ss_open(&bad, &cfg, &err);
    CHECK(c != SS_OK && strstr(err.message, "WRONGPASS") && !strstr(err.message, "not-the-pw-xyz"),
          "wrong password: %s %s", ss_code_name(c), err.message);
    printf("wrong password: %s: %s\n", ss_code_name(c), err.message);
    if (c == SS_OK) ss_close(bad);
    ss_pair none[] = {{"redisHost", addr}};
    cfg.properties = none;
    cfg.property_count = 1;
    c = ss_open(&bad, &cfg, &err);
    CHECK(c != SS_OK && strstr(err.message, "NOAUTH"), "no password: %s %s", ss_code_name(c),
          err.message);
    if (c == SS_OK) ss_close(bad);

    ss_pair good[] = {{"redisHost", addr}, {"redisPassword", "pw-s3cret"}};
    s = open_store(good, 2);
    if (s) {
        CHECK(set_kv(s, k, "authed", NULL, NULL, NULL, NULL, &err) == SS_OK, "%s", err.message);
        CHECK(value_is(s, k, "authed"), "get with password");
        ss_close(s);
    }
    ss_pair user[] = {
        {"redisHost", addr}, {"redisUsername", "ssuser"}, {"redisPassword", "user-pw-9"}};
    s = open_store(user, 3);
    if (s) {
        CHECK(value_is(s, k, "authed"), "get as ACL user");
        ss_delete_request d = {.key = k};
        CHECK(ss_delete(s, &d, &err) == SS_OK, "%s", err.message);
        ss_close(s);
    }
    r = redisCommand(raw, "ACL DELUSER ssuser");
    freeReplyObject(r);
    r = redisCommand(raw, "CONFIG SET requirepass %s", "");
    CHECK(r && r->type == REDIS_REPLY_STATUS, "reset requirepass");
    freeReplyObject(r);
}

static int run_node(void)
{
    const char *addr = getenv("SS_TEST_REDIS_ADDR");
    if (!addr || !*addr) {
        printf("skip: SS_TEST_REDIS_ADDR is not set (start scripts/services/redis.sh)\n");
        return 77;
    }
    ss_pair props[] = {{"redisHost", addr}, {"dialTimeout", "2s"}, {"readTimeout", "2s"}};
    ss_store *s = open_store(props, 3);
    if (!s) return 1;
    redisContext *raw = raw_connect(addr);
    CHECK(raw != NULL, "raw connect");
    basics(s, "node");
    if (raw) dapr_layout(s, raw);
    /* strong on a server without replicas: no WAIT (it could only time out), plain success */
    ss_error err = {0};
    char k[128];
    key(k, sizeof k, "strong");
    ss_set_request sr = {.key = k, .value = "s", .value_len = 1};
    sr.options.consistency = SS_STRONG;
    CHECK(ss_set(NULL, s, &sr, &err) == SS_OK, "strong set: %s", err.message);
    /* bad configuration is a clear INVALID */
    ss_store *bad = NULL;
    ss_pair bp[] = {{"redisHost", addr}, {"redisType", "ring"}};
    ss_config bc = {.driver = "redis", .properties = bp, .property_count = 2};
    CHECK(ss_open(&bad, &bc, &err) == SS_INVALID && strstr(err.message, "redisType"), "%s",
          err.message);
    ss_pair bp2[] = {{"redisHost", "127.0.0.1:notaport"}};
    bc.properties = bp2;
    bc.property_count = 1;
    CHECK(ss_open(&bad, &bc, &err) == SS_INVALID && strstr(err.message, "redisHost"), "%s",
          err.message);
    threads_test(addr);
    if (raw) timeout_test(addr, raw);
    if (raw) auth_db_test(addr, raw);
    /* a plain server named as a cluster seed or as a sentinel: a clear INVALID */
    ss_pair bp3[] = {{"redisHost", addr}, {"redisType", "cluster"}};
    bc.properties = bp3;
    bc.property_count = 2;
    ss_code oc = ss_open(&bad, &bc, &err);
    CHECK(oc == SS_INVALID && strstr(err.message, "cluster"), "cluster on a plain server: %s %s",
          ss_code_name(oc), err.message);
    ss_pair bp4[] = {{"redisHost", addr}, {"failover", "true"}, {"sentinelMasterName", "m"}};
    bc.properties = bp4;
    bc.property_count = 3;
    oc = ss_open(&bad, &bc, &err);
    CHECK(oc == SS_INVALID && strstr(err.message, "SENTINEL"), "sentinel on a plain server: %s %s",
          ss_code_name(oc), err.message);
    ss_pair bp5[] = {{"redisHost", addr}, {"failover", "true"}};
    bc.properties = bp5;
    bc.property_count = 2;
    oc = ss_open(&bad, &bc, &err);
    CHECK(oc == SS_INVALID && strstr(err.message, "sentinelMasterName"), "%s", err.message);
    const char *dir = getenv("SS_TEST_REDIS_DIR");
    if (dir && *dir) {
        restart_test(s, SS_REDIS_SCRIPT, dir);
    } else {
        printf("note: SS_TEST_REDIS_DIR unset: restart part not run\n");
    }
    if (raw) redisFree(raw);
    ss_close(s);
    return 0;
}

/* ---- cluster ------------------------------------------------------------------------- */

/* Node id and address of every master, from CLUSTER NODES. */
typedef struct cnode {
    char id[64];
    char addr[96];
} cnode;

static int cluster_nodes(redisContext *c, cnode *out, int max)
{
    redisReply *r = redisCommand(c, "CLUSTER NODES");
    int n = 0;
    if (r && r->type == REDIS_REPLY_STRING) {
        char *save = NULL;
        for (char *line = strtok_r(r->str, "\n", &save); line && n < max;
             line = strtok_r(NULL, "\n", &save)) {
            if (!strstr(line, "master")) continue;
            char id[64], addr[96];
            if (sscanf(line, "%63s %95s", id, addr) != 2) continue;
            char *at = strchr(addr, '@');
            if (at) *at = '\0';
            snprintf(out[n].id, sizeof out[n].id, "%s", id);
            snprintf(out[n].addr, sizeof out[n].addr, "%s", addr);
            n++;
        }
    }
    freeReplyObject(r);
    return n;
}

/* The master serving a slot, by CLUSTER SLOTS. */
static int slot_owner(redisContext *c, int slot, cnode *nodes, int n)
{
    redisReply *r = redisCommand(c, "CLUSTER SLOTS");
    int owner = -1;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (slot < e->element[0]->integer || slot > e->element[1]->integer) continue;
        char addr[96];
        snprintf(addr, sizeof addr, "%s:%lld", e->element[2]->element[0]->str,
                 e->element[2]->element[1]->integer);
        for (int j = 0; j < n; j++)
            if (strcmp(nodes[j].addr, addr) == 0) owner = j;
    }
    freeReplyObject(r);
    return owner;
}

static void setslot_all(redisContext **raws, int n, int slot, const char *how, const char *id)
{
    for (int i = 0; i < n; i++) {
        redisReply *r = how ? redisCommand(raws[i], "CLUSTER SETSLOT %d %s %s", slot, how, id)
                            : redisCommand(raws[i], "CLUSTER SETSLOT %d STABLE", slot);
        freeReplyObject(r);
    }
}

static int run_cluster(void)
{
    const char *addrs = getenv("SS_TEST_REDIS_CLUSTER_ADDRS");
    if (!addrs || !*addrs) {
        printf("skip: SS_TEST_REDIS_CLUSTER_ADDRS is not set (start "
               "scripts/services/redis-cluster.sh)\n");
        return 77;
    }
    /* Only the first node as seed: the rest is discovered with CLUSTER SLOTS. */
    char first[128];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(addrs, ","), addrs);
    ss_pair props[] = {{"redisHost", first}, {"redisType", "cluster"}};
    ss_store *s = open_store(props, 2);
    if (!s) return 1;
    basics(s, "cl");
    ss_error err = {0};

    /* keys over all slots: bulk set/get across nodes */
    enum { N = 40 };
    char keys[N][64], vals[N][16];
    ss_set_request sr[N];
    ss_get_request gr[N];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "%s-spread-%d", prefix, i);
        snprintf(vals[i], sizeof vals[i], "v%d", i);
        sr[i] = (ss_set_request){.key = keys[i], .value = vals[i], .value_len = strlen(vals[i])};
        gr[i] = (ss_get_request){.key = keys[i]};
    }
    ss_results res = {0};
    CHECK(ss_bulk_set(&res, s, sr, N, NULL, &err) == SS_OK, "bulk set spread: %s", err.message);
    ss_results_free(&res);
    CHECK(ss_bulk_get(&res, s, gr, N, NULL, &err) == SS_OK, "bulk get spread: %s", err.message);
    int good = 0;
    for (size_t i = 0; i < res.count; i++)
        good += res.items[i].value && strcmp(res.items[i].value->data, vals[i]) == 0;
    CHECK(good == N, "bulk get spread: %d of %d right", good, N);
    ss_results_free(&res);

    /* our CRC16 slot (with hash tags) agrees with the server's CLUSTER KEYSLOT; without this a
     * wrong slot function would go unnoticed, hidden by MOVED redirects */
    {
        redisContext *raw = raw_connect(first);
        const char *fixed[] = {"{user1000}.following",
                               "{user1000}.followers",
                               "foo{}{bar}",
                               "foo{{bar}}zap",
                               "foo{bar}{zap}",
                               "{bar",
                               "bar}",
                               "{}",
                               "a",
                               "",
                               "123456789",
                               "\xff\xfe{\x01}"};
        int agree = 0, total = 0;
        for (int i = 0; raw && i < 200 + (int)(sizeof fixed / sizeof fixed[0]); i++) {
            char kbuf[64];
            const char *kk;
            if (i < 200) {
                snprintf(kbuf, sizeof kbuf, "%s-slot-%d%s", prefix, i, i % 3 ? "" : "{t}");
                kk = kbuf;
            } else {
                kk = fixed[i - 200];
            }
            redisReply *ks = redisCommand(raw, "CLUSTER KEYSLOT %b", kk, strlen(kk));
            total++;
            if (ks && ks->type == REDIS_REPLY_INTEGER &&
                ks->integer == ss_redis_key_slot(kk, strlen(kk)))
                agree++;
            else
                fprintf(stderr, "  slot of \"%s\": ours %u, server %lld\n", kk,
                        ss_redis_key_slot(kk, strlen(kk)), ks ? ks->integer : -1);
            freeReplyObject(ks);
        }
        CHECK(raw && agree == total, "slot function: %d of %d keys agree", agree, total);
        if (raw) redisFree(raw);
    }

    /* a transaction over two slots: INVALID, and it says to use hash tags */
    ss_operation ops[2] = {
        {.kind = SS_OP_UPSERT, .set = {.key = keys[0], .value = "x", .value_len = 1}},
        {.kind = SS_OP_UPSERT, .set = {.key = keys[1], .value = "y", .value_len = 1}}};
    ss_transaction tx = {.ops = ops, .count = 2};
    ss_code c = ss_transact(s, &tx, &err);
    bool cross = false;
    {
        /* keys[0] and keys[1] may share a slot by chance: find a pair that does not */
        redisContext *raw = raw_connect(first);
        for (int j = 1; raw && j < N && !cross; j++) {
            redisReply *a = redisCommand(raw, "CLUSTER KEYSLOT %s", keys[0]);
            redisReply *b = redisCommand(raw, "CLUSTER KEYSLOT %s", keys[j]);
            if (a && b && a->integer != b->integer) {
                ops[1].set.key = keys[j];
                cross = true;
            }
            freeReplyObject(a);
            freeReplyObject(b);
        }
        if (raw) redisFree(raw);
    }
    c = ss_transact(s, &tx, &err);
    CHECK(cross && c == SS_INVALID && strstr(err.message, "hash tag"), "cross-slot tx: %s %s",
          ss_code_name(c), err.message);
    CHECK(value_is(s, keys[0], vals[0]), "cross-slot tx changed nothing");

    /* MOVED and ASK: reassign the slot of a fresh key behind the driver's back */
    redisContext *raws[3] = {0};
    cnode nodes[3];
    int nn = 0;
    redisContext *r0 = raw_connect(first);
    if (r0) nn = cluster_nodes(r0, nodes, 3);
    CHECK(nn == 3, "3 masters expected, got %d", nn);
    for (int i = 0; i < nn; i++) raws[i] = raw_connect(nodes[i].addr);
    char mk[128];
    key(mk, sizeof mk, "{moved}");
    redisReply *ks = r0 ? redisCommand(r0, "CLUSTER KEYSLOT %s", mk) : NULL;
    int slot = ks && ks->type == REDIS_REPLY_INTEGER ? (int)ks->integer : -1;
    freeReplyObject(ks);
    int owner = r0 && slot >= 0 && nn == 3 ? slot_owner(r0, slot, nodes, nn) : -1;
    if (owner >= 0 && raws[0] && raws[1] && raws[2]) {
        CHECK(value_is(s, mk, NULL), "fresh key"); /* the driver learns the current owner */
        int other = (owner + 1) % 3;
        /* ASK: the owner migrates the (empty) slot to `other` -> a missing key is answered
         * with ASK, and the driver must retry on `other` with ASKING. */
        redisReply *r =
            redisCommand(raws[other], "CLUSTER SETSLOT %d IMPORTING %s", slot, nodes[owner].id);
        freeReplyObject(r);
        r = redisCommand(raws[owner], "CLUSTER SETSLOT %d MIGRATING %s", slot, nodes[other].id);
        freeReplyObject(r);
        c = set_kv(s, mk, "asked", NULL, NULL, NULL, NULL, &err);
        CHECK(c == SS_OK, "set during migration (ASK): %s %s", ss_code_name(c), err.message);
        r = redisCommand(raws[other], "ASKING");
        freeReplyObject(r);
        r = redisCommand(raws[other], "HGET %s data", mk);
        CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "asked") == 0,
              "ASK write landed on the importing node");
        freeReplyObject(r);
        /* MOVED: finish the move; the driver still routes the slot to the old owner */
        setslot_all(raws, 3, slot, "NODE", nodes[other].id);
        for (int i = 0; i < 50 && slot_owner(raws[owner], slot, nodes, nn) != other; i++)
            usleep(100000);
        CHECK(value_is(s, mk, "asked"), "get after MOVED");
        c = set_kv(s, mk, "moved", "1", NULL, NULL, NULL, &err);
        CHECK(c == SS_OK, "set after MOVED: %s %s", ss_code_name(c), err.message);
        ss_delete_request dr = {.key = mk};
        CHECK(ss_delete(s, &dr, &err) == SS_OK, "delete: %s", err.message);
        /* give the slot back */
        setslot_all(raws, 3, slot, "NODE", nodes[owner].id);
        for (int i = 0; i < 50 && slot_owner(raws[other], slot, nodes, nn) != owner; i++)
            usleep(100000);
        CHECK(value_is(s, mk, NULL), "after moving back");
    } else {
        CHECK(false, "could not prepare the MOVED/ASK part (slot %d owner %d)", slot, owner);
    }
    for (int i = 0; i < 3; i++)
        if (raws[i]) redisFree(raws[i]);
    if (r0) redisFree(r0);
    ss_delete_request dr[N];
    for (int i = 0; i < N; i++) dr[i] = (ss_delete_request){.key = keys[i]};
    CHECK(ss_bulk_delete(&res, s, dr, N, NULL, &err) == SS_OK, "cleanup: %s", err.message);
    ss_results_free(&res);
    ss_close(s);
    return 0;
}

/* ---- sentinel ------------------------------------------------------------------------ */

static int run_sentinel(void)
{
    const char *addr = getenv("SS_TEST_REDIS_SENTINEL_ADDR");
    const char *master = getenv("SS_TEST_REDIS_SENTINEL_MASTER");
    if (!addr || !*addr || !master || !*master) {
        printf("skip: SS_TEST_REDIS_SENTINEL_ADDR/_MASTER are not set (start "
               "scripts/services/redis-sentinel.sh)\n");
        return 77;
    }
    ss_pair props[] = {{"redisHost", addr},
                       {"failover", "true"},
                       {"sentinelMasterName", master},
                       {"dialTimeout", "1s"},
                       {"readTimeout", "2s"}};
    ss_store *s = open_store(props, 5);
    if (!s) return 1;
    basics(s, "sen");
    ss_error err = {0};
    redisContext *sen = raw_connect(addr);
    CHECK(sen != NULL, "connect to sentinel");
    if (!sen) return 1;
    redisReply *r = redisCommand(sen, "SENTINEL get-master-addr-by-name %s", master);
    char before[96] = "";
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        snprintf(before, sizeof before, "%s:%s", r->element[0]->str, r->element[1]->str);
    freeReplyObject(r);

    /* strong writes: WAIT 1 makes sure the replica has them before the failover */
    enum { N = 20 };
    char keys[N][64];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "%s-fo-%d", prefix, i);
        ss_set_request sr = {.key = keys[i], .value = "pre", .value_len = 3};
        sr.options.consistency = SS_STRONG;
        ss_code c = ss_set(NULL, s, &sr, &err);
        CHECK(c == SS_OK, "strong set %d: %s %s", i, ss_code_name(c), err.message);
    }
    /* force the failover (retry while the sentinel still has no good replica view) */
    bool started = false;
    for (int i = 0; i < 100 && !started; i++) {
        r = redisCommand(sen, "SENTINEL FAILOVER %s", master);
        started = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (!started) usleep(200000);
    }
    CHECK(started, "SENTINEL FAILOVER did not start");
    char after[96] = "";
    for (int i = 0; i < 200; i++) { /* bounded: 20 s */
        r = redisCommand(sen, "SENTINEL get-master-addr-by-name %s", master);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
            snprintf(after, sizeof after, "%s:%s", r->element[0]->str, r->element[1]->str);
        freeReplyObject(r);
        if (*after && strcmp(after, before) != 0) break;
        usleep(100000);
    }
    CHECK(strcmp(after, before) != 0, "master did not change (%s)", before);
    printf("failover: %s -> %s\n", before, after);
    /* the same handle keeps working: retry a bounded number of times through the switch */
    int okset = 0, tries = 0;
    for (int i = 0; i < N; i++) {
        ss_code c;
        int t = 0;
        do {
            c = set_kv(s, keys[i], "post", NULL, NULL, NULL, NULL, &err);
            if (c != SS_OK) usleep(200000);
        } while (c != SS_OK && ++t < 100);
        tries += t;
        okset += c == SS_OK;
        if (c != SS_OK) fprintf(stderr, "  set %d after failover: %s\n", i, err.message);
    }
    CHECK(okset == N, "%d of %d writes after the failover succeeded", okset, N);
    printf("writes after failover: %d ok, %d transient failures\n", okset, tries);
    for (int i = 0; i < N; i++) CHECK(value_is(s, keys[i], "post"), "read after failover");
    basics(s, "sen2");
    /* Leave the set-up healthy for the next test: Sentinel turns the old master into a replica
     * of the new one only on its next INFO round (about 10 s), and the replica must finish its
     * sync before a strong write can be acknowledged. Bounded: 40 s. */
    bool settled = false;
    for (int i = 0; i < 400 && !settled; i++) {
        char host[64] = "";
        int port = 0;
        r = redisCommand(sen, "SENTINEL get-master-addr-by-name %s", master);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            snprintf(host, sizeof host, "%s", r->element[0]->str);
            port = atoi(r->element[1]->str);
        }
        freeReplyObject(r);
        char maddr[96];
        snprintf(maddr, sizeof maddr, "%s:%d", host, port);
        redisContext *m = port ? raw_connect(maddr) : NULL;
        if (m) {
            r = redisCommand(m, "INFO replication");
            settled = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "role:master") &&
                      strstr(r->str, "state=online");
            freeReplyObject(r);
            redisFree(m);
        }
        if (!settled) usleep(100000);
    }
    CHECK(settled, "the old master did not rejoin as an online replica within 40 s");
    /* strong writes are acknowledged again once the replica is online */
    {
        ss_set_request sr = {.key = keys[0], .value = "strong", .value_len = 6};
        sr.options.consistency = SS_STRONG;
        ss_code c = ss_set(NULL, s, &sr, &err);
        CHECK(c == SS_OK, "strong set after the replica rejoined: %s %s", ss_code_name(c),
              err.message);
    }
    ss_delete_request dr[N];
    for (int i = 0; i < N; i++) dr[i] = (ss_delete_request){.key = keys[i]};
    ss_results res = {0};
    CHECK(ss_bulk_delete(&res, s, dr, N, NULL, &err) == SS_OK, "cleanup: %s", err.message);
    ss_results_free(&res);
    redisFree(sen);
    ss_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "node";
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    snprintf(prefix, sizeof prefix, "rt%08x%04x", (unsigned)rand(), (unsigned)getpid() & 0xffff);
    int rc;
    if (strcmp(mode, "node") == 0)
        rc = run_node();
    else if (strcmp(mode, "cluster") == 0)
        rc = run_cluster();
    else if (strcmp(mode, "sentinel") == 0)
        rc = run_sentinel();
    else {
        fprintf(stderr, "usage: %s node|cluster|sentinel\n", argv[0]);
        return 2;
    }
    if (rc != 0) return rc;
    return check_summary(mode);
}

/*
 * ops.c — the redis driver's operations (get, set, delete, bulk, transaction, ping) in Dapr's
 * hash layout, and the Lua scripts that make every write one atomic server-side step.
 */
#include "redis_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* KEYS[1]; ARGV: cond (0 any, 1 match, 2 absent), etag, data, ttl seconds (<= 0: persist).
 * Returns {1, new version} or {0, current version or ""}. A key holding another type counts as
 * existing without version (Dapr's script deletes it on an unconditional write; so do we). */
static const char SET_LUA[] =
    "local k=KEYS[1] local v=redis.pcall('HGET',k,'version') local w=type(v)=='table' "
    "if w then v=false end local c=ARGV[1] "
    "if c=='1' then if w or v~=ARGV[2] then return {0,v or ''} end "
    "elseif c=='2' then if w or v or redis.call('EXISTS',k)==1 then return {0,v or ''} end end "
    "if w then redis.call('DEL',k) end "
    "redis.call('HSET',k,'data',ARGV[3]) local n=redis.call('HINCRBY',k,'version',1) "
    "local t=tonumber(ARGV[4]) if t>0 then redis.call('EXPIRE',k,t) else "
    "redis.call('PERSIST',k) end return {1,n}";

/* KEYS[1]; ARGV: cond (0 any, 1 match, 2 absent: the contract's first-write delete, which
 * only succeeds on a missing key), etag. Returns {1, deleted} or {0, current version or ''}. */
static const char DEL_LUA[] =
    "local k=KEYS[1] local c=ARGV[1] if c=='1' then local v=redis.pcall('HGET',k,'version') "
    "if type(v)~='string' then return {0,''} end if v~=ARGV[2] then return {0,v} end "
    "elseif c=='2' then if redis.call('EXISTS',k)==1 then return {0,''} end end "
    "return {1,redis.call('DEL',k)}";

/* KEYS = the operations' keys in order; ARGV = 5 per operation: kind (s|d), cond, etag, data,
 * ttl. Phase 1 checks every condition against a simulated state (so an operation sees the
 * effect of the earlier ones); only if all pass does phase 2 write. Returns {1} or
 * {0, failing index (1-based), current version or ''}. */
static const char TX_LUA[] =
    "local st={} local wr={} "
    "local function ld(k) local s=st[k] if s then return s end "
    "local v=redis.pcall('HGET',k,'version') s={} "
    "if type(v)=='table' then s.e=true s.v=false wr[k]=true "
    "elseif v then s.e=true s.v=v else s.e=redis.call('EXISTS',k)==1 s.v=false end "
    "st[k]=s return s end "
    "for i=1,#KEYS do local k=KEYS[i] local b=(i-1)*5 local s=ld(k) local c=ARGV[b+2] "
    "if c=='1' then if s.v~=ARGV[b+3] then return {0,i,s.v or ''} end "
    "elseif c=='2' then if s.e then return {0,i,s.v or ''} end end "
    "if s.v and not tonumber(s.v) then return {0,i,s.v} end "
    "if ARGV[b+1]=='s' then s.e=true s.v=tostring((tonumber(s.v) or 0)+1) "
    "else s.e=false s.v=false end end "
    "for i=1,#KEYS do local k=KEYS[i] local b=(i-1)*5 "
    "if wr[k] then redis.call('DEL',k) wr[k]=nil end "
    "if ARGV[b+1]=='s' then redis.call('HSET',k,'data',ARGV[b+4]) "
    "redis.call('HINCRBY',k,'version',1) local t=tonumber(ARGV[b+5]) "
    "if t>0 then redis.call('EXPIRE',k,t) else redis.call('PERSIST',k) end "
    "else redis.call('DEL',k) end end return {1}";

const char *ss_redis_set_script(void)
{
    return SET_LUA;
}

static const char *const SCRIPTS[SCRIPT_COUNT] = {SET_LUA, DEL_LUA, TX_LUA};

/* ------------------------------------------------------------------------------------------ */
/* Operations                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Dapr's ETag is strconv.Atoi of the text; we accept the same (optional sign, decimal digits)
 * and compare in canonical form, since the stored version is always canonical. */
static bool redis_etag_canon(const char *etag, char out[24])
{
    const char *p = etag;
    bool neg = false;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (!*p) return false;
    unsigned long long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        if (v > (9223372036854775807ULL - (unsigned)(*p - '0')) / 10) return false;
        v = v * 10 + (unsigned)(*p - '0');
    }
    snprintf(out, 24, "%s%llu", neg && v ? "-" : "", v);
    return true;
}

static int64_t op_ttl(const redis_drv *d, const ss_op *op)
{
    if (op->ttl_mode == SS_TTL_SECONDS) return op->ttl_seconds;
    if (op->ttl_mode == SS_TTL_NONE) return -1;
    return d->default_ttl > 0 ? d->default_ttl : -1;
}

/* Argument storage for one write: the numbers the script takes as text. */
typedef struct wargs {
    const char *argv[8];
    size_t lens[8];
    char cond[2];
    char etag[24];
    char ttl[24];
} wargs;

static int redis_key_slot(const redis_drv *d, const ss_op *op)
{
    return d->mode == MODE_CLUSTER ? (int)ss_redis_key_slot(op->key, op->key_len) : -1;
}

/* Fills a SET/DEL command; ETAG_INVALID when the ETag is not a number. */
static ss_code redis_build_write(redis_drv *d, const ss_op *op, wargs *a, rcmd *c, ss_error *err)
{
    redis_cmd_init(c);
    bool set = op->kind == SS_DRV_SET;
    ss_cond cond = op->cond;
    a->cond[0] = (char)('0' + (int)cond);
    a->cond[1] = '\0';
    a->etag[0] = '\0';
    if (cond == SS_COND_MATCH && !redis_etag_canon(op->etag, a->etag))
        return ss_error_set(err, SS_ETAG_INVALID, "invalid etag value: \"%s\" is not a number",
                            op->etag);
    int i = 0;
    a->argv[i] = "EVALSHA";
    a->lens[i++] = 7;
    a->argv[i] = d->sha[set ? SCRIPT_SET : SCRIPT_DEL];
    a->lens[i++] = 40;
    a->argv[i] = "1";
    a->lens[i++] = 1;
    a->argv[i] = op->key;
    a->lens[i++] = op->key_len;
    a->argv[i] = a->cond;
    a->lens[i++] = 1;
    a->argv[i] = a->etag;
    a->lens[i++] = strlen(a->etag);
    if (set) {
        a->argv[i] = op->value;
        a->lens[i++] = op->value_len;
        int tl = snprintf(a->ttl, sizeof a->ttl, "%lld", (long long)op_ttl(d, op));
        a->argv[i] = a->ttl;
        a->lens[i++] = (size_t)tl;
    }
    c->argc = i;
    c->argv = a->argv;
    c->argvlen = a->lens;
    c->script = SCRIPTS[set ? SCRIPT_SET : SCRIPT_DEL];
    c->slot = redis_key_slot(d, op);
    c->write = true;
    return SS_OK;
}

/* Interprets a SET/DEL script answer; on success of a SET, *etag_out gets the new version. */
static ss_code redis_read_write(const ss_op *op, rcmd *c, char **etag_out, ss_error *err)
{
    if (c->code != SS_OK) return ss_error_set(err, c->code, "%s", c->err);
    redisReply *r = c->reply;
    if (r->type == REDIS_REPLY_ERROR) return ss_error_set(err, SS_BACKEND, "%s", r->str);
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        return ss_error_set(err, SS_BACKEND, "unexpected answer from the write script");
    const redisReply *v = r->element[1];
    if (r->element[0]->integer != 1) {
        const char *cur = v->type == REDIS_REPLY_STRING ? v->str : "";
        if (op->cond == SS_COND_ABSENT)
            return ss_error_set(err, SS_ETAG_MISMATCH,
                                "etag mismatch: key already exists (first-write)");
        if (!*cur)
            return ss_error_set(err, SS_ETAG_MISMATCH,
                                "etag mismatch: key does not exist (etag %s)", op->etag);
        return ss_error_set(err, SS_ETAG_MISMATCH, "etag mismatch: version %s != %s", op->etag,
                            cur);
    }
    if (c->unacked)
        return ss_error_set(err, SS_TIMEOUT,
                            "written, but no replica acknowledged it in time (WAIT 1)");
    if (etag_out && op->kind == SS_DRV_SET && v->type == REDIS_REPLY_INTEGER) {
        char buf[24];
        snprintf(buf, sizeof buf, "%lld", v->integer);
        *etag_out = ss_strdup(buf);
        if (!*etag_out) return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    return SS_OK;
}

/* GET reads with HMGET data version + PTTL, pipelined (the same two commands daprd's layout
 * needs; PTTL gives ttlExpireTime). */
typedef struct gargs {
    const char *argv[4];
    size_t lens[4];
    const char *pargv[2];
    size_t plens[2];
} gargs;

static void redis_build_get(redis_drv *d, const ss_op *op, gargs *a, rcmd *hm, rcmd *pt)
{
    redis_cmd_init(hm);
    redis_cmd_init(pt);
    a->argv[0] = "HMGET";
    a->lens[0] = 5;
    a->argv[1] = op->key;
    a->lens[1] = op->key_len;
    a->argv[2] = "data";
    a->lens[2] = 4;
    a->argv[3] = "version";
    a->lens[3] = 7;
    a->pargv[0] = "PTTL";
    a->plens[0] = 4;
    a->pargv[1] = op->key;
    a->plens[1] = op->key_len;
    hm->argc = 4;
    hm->argv = a->argv;
    hm->argvlen = a->lens;
    pt->argc = 2;
    pt->argv = a->pargv;
    pt->argvlen = a->plens;
    hm->slot = pt->slot = redis_key_slot(d, op);
}

/* A key written with plain SET (Dapr's pre-hash layout) is read as a value without ETag. */
static ss_code redis_get_plain(redis_drv *d, const ss_op *op, ss_value **out, ss_error *err)
{
    const char *argv[2] = {"GET", op->key};
    size_t lens[2] = {3, op->key_len};
    rcmd c = {.argc = 2, .argv = argv, .argvlen = lens, .slot = redis_key_slot(d, op)};
    ss_code code = redis_exec_cmds(d, &c, 1, false, err);
    if (code == SS_OK && c.code != SS_OK) code = ss_error_set(err, c.code, "%s", c.err);
    if (code == SS_OK) {
        if (c.reply->type == REDIS_REPLY_STRING) {
            *out = ss_value_new(c.reply->str, c.reply->len, NULL);
            if (!*out) code = ss_error_set(err, SS_NOMEM, "out of memory");
        } else if (c.reply->type == REDIS_REPLY_ERROR) {
            code = ss_error_set(err, SS_BACKEND, "%s", c.reply->str);
        }
    }
    redis_cmds_release(&c, 1);
    return code;
}

static ss_code redis_read_get(redis_drv *d, const ss_op *op, rcmd *hm, rcmd *pt, ss_value **out,
                              ss_error *err)
{
    *out = NULL;
    if (hm->code != SS_OK) return ss_error_set(err, hm->code, "%s", hm->err);
    redisReply *r = hm->reply;
    if (redis_reply_is_err(r, "WRONGTYPE")) return redis_get_plain(d, op, out, err);
    if (r->type == REDIS_REPLY_ERROR) return ss_error_set(err, SS_BACKEND, "%s", r->str);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return ss_error_set(err, SS_BACKEND, "unexpected HMGET answer");
    const redisReply *data = r->element[0], *ver = r->element[1];
    long long pttl = -2;
    if (pt->code == SS_OK && pt->reply->type == REDIS_REPLY_INTEGER) pttl = pt->reply->integer;
    if (data->type == REDIS_REPLY_NIL && ver->type == REDIS_REPLY_NIL) {
        if (pttl == -2) return SS_OK; /* missing */
        return ss_error_set(err, SS_BACKEND,
                            "required hash field 'data' or 'version' was not found");
    }
    if (data->type != REDIS_REPLY_STRING || ver->type != REDIS_REPLY_STRING)
        return ss_error_set(err, SS_BACKEND,
                            "required hash field 'data' or 'version' was not found");
    ss_value *v = ss_value_new(data->str, data->len, ver->str);
    if (!v) return ss_error_set(err, SS_NOMEM, "out of memory");
    if (pttl > 0 && ss_value_set_expiry(v, ss_now_unix_ms() + pttl) != SS_OK) {
        ss_value_free(v);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    *out = v;
    return SS_OK;
}

ss_code redis_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    redis_drv *d = self;
    gargs a;
    rcmd c[2];
    redis_build_get(d, op, &a, &c[0], &c[1]);
    ss_code code = redis_exec_cmds(d, c, 2, false, err);
    if (code == SS_OK) code = redis_read_get(d, op, &c[0], &c[1], out, err);
    redis_cmds_release(c, 2);
    return code;
}

/* One SET or DEL script (by op->kind); etag_out NULL for a delete. */
static ss_code redis_write_one(redis_drv *d, const ss_op *op, char **etag_out, ss_error *err)
{
    wargs a;
    rcmd c;
    ss_code code = redis_build_write(d, op, &a, &c, err);
    if (code != SS_OK) return code;
    code = redis_exec_cmds(d, &c, 1, op->consistency == SS_CONSISTENCY_STRONG, err);
    if (code == SS_OK) code = redis_read_write(op, &c, etag_out, err);
    redis_cmds_release(&c, 1);
    return code;
}

ss_code redis_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    return redis_write_one(self, op, etag_out, err);
}

ss_code redis_del(void *self, const ss_op *op, ss_error *err)
{
    return redis_write_one(self, op, NULL, err);
}

static void redis_item_error(ss_item_result *it, ss_code code, const ss_error *e)
{
    it->code = code;
    it->error = ss_strdup(e->message);
}

ss_code redis_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out, ss_error *err)
{
    redis_drv *d = self;
    gargs *a = malloc((count ? count : 1) * sizeof *a);
    rcmd *c = malloc((count ? 2 * count : 1) * sizeof *c);
    if (!a || !c) {
        free(a);
        free(c);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) redis_build_get(d, &ops[i], &a[i], &c[2 * i], &c[2 * i + 1]);
    ss_code code = redis_exec_cmds(d, c, 2 * count, false, err);
    for (size_t i = 0; code == SS_OK && i < count; i++) {
        ss_error e; /* filled before it is read */
        ss_value *v = NULL;
        ss_code ic = redis_read_get(d, &ops[i], &c[2 * i], &c[2 * i + 1], &v, &e);
        if (ic == SS_OK)
            out->items[i].value = v;
        else
            redis_item_error(&out->items[i], ic, &e);
    }
    redis_cmds_release(c, 2 * count);
    free(c);
    free(a);
    return code;
}

static ss_code redis_bulk_write(redis_drv *d, const ss_op *ops, size_t count, ss_results *out,
                                ss_error *err)
{
    wargs *a = malloc((count ? count : 1) * sizeof *a);
    rcmd *send = malloc((count ? count : 1) * sizeof *send);
    size_t *idx = malloc((count ? count : 1) * sizeof *idx);
    ss_code code = SS_OK;
    if (!a || !send || !idx) {
        code = ss_error_set(err, SS_NOMEM, "out of memory");
        goto done;
    }
    /* Items with a malformed ETag fail alone; the rest go out in one pipeline. An ss_error is
     * only read after a call filled it, so it is not zeroed (1 KiB per item). */
    size_t m = 0;
    bool strong = false;
    for (size_t i = 0; i < count; i++) {
        ss_error e;
        ss_code bc = redis_build_write(d, &ops[i], &a[i], &send[m], &e);
        if (bc != SS_OK) {
            redis_item_error(&out->items[i], bc, &e);
            continue;
        }
        strong |= ops[i].consistency == SS_CONSISTENCY_STRONG;
        idx[m++] = i;
    }
    code = redis_exec_cmds(d, send, m, strong, err);
    for (size_t j = 0; code == SS_OK && j < m; j++) {
        size_t i = idx[j];
        ss_error e;
        char *etag = NULL;
        ss_code ic =
            redis_read_write(&ops[i], &send[j], ops[i].kind == SS_DRV_SET ? &etag : NULL, &e);
        if (ic == SS_OK)
            out->items[i].etag = etag;
        else
            redis_item_error(&out->items[i], ic, &e);
    }
    redis_cmds_release(send, m);
done:
    free(send);
    free(idx);
    free(a);
    return code;
}

ss_code redis_bulk_set(void *self, const ss_op *ops, size_t count, ss_results *out, ss_error *err)
{
    return redis_bulk_write(self, ops, count, out, err);
}

ss_code redis_bulk_delete(void *self, const ss_op *ops, size_t count, ss_results *out,
                          ss_error *err)
{
    return redis_bulk_write(self, ops, count, out, err);
}

ss_code redis_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                       size_t metadata_count, ss_error *err)
{
    redis_drv *d = self;
    if (count == 0) return SS_OK;
    if (d->mode == MODE_CLUSTER) {
        uint16_t s0 = ss_redis_key_slot(ops[0].key, ops[0].key_len);
        for (size_t i = 1; i < count; i++) {
            if (ss_redis_key_slot(ops[i].key, ops[i].key_len) != s0)
                return ss_error_set(err, SS_INVALID,
                                    "transaction keys \"%s\" and \"%s\" are in different cluster "
                                    "hash slots; use a hash tag (e.g. \"{order-7}:a\" and "
                                    "\"{order-7}:b\") so all keys of a transaction share one slot",
                                    ops[0].key, ops[i].key);
        }
    }
    size_t argc = 3 + count * 6;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lens = calloc(argc, sizeof *lens);
    char (*nums)[2][24] = calloc(count, sizeof *nums); /* etag, ttl per op */
    char (*conds)[2] = calloc(count, sizeof *conds);
    char numkeys[24];
    ss_code code = SS_OK;
    if (!argv || !lens || !nums || !conds) {
        code = ss_error_set(err, SS_NOMEM, "out of memory");
        goto done;
    }
    argv[0] = "EVALSHA";
    lens[0] = 7;
    argv[1] = d->sha[SCRIPT_TX];
    lens[1] = 40;
    argv[2] = numkeys;
    lens[2] = (size_t)snprintf(numkeys, sizeof numkeys, "%zu", count);
    bool strong = false;
    for (size_t i = 0; i < count; i++) {
        const ss_op *op = &ops[i];
        argv[3 + i] = op->key;
        lens[3 + i] = op->key_len;
        bool set = op->kind == SS_DRV_SET;
        ss_cond cond = op->cond;
        nums[i][0][0] = '\0';
        if (cond == SS_COND_MATCH && !redis_etag_canon(op->etag, nums[i][0])) {
            code = ss_error_set_op(err, SS_ETAG_INVALID, i, op,
                                   "invalid etag value: \"%s\" is not a number", op->etag);
            goto done;
        }
        conds[i][0] = (char)('0' + (int)cond);
        conds[i][1] = '\0';
        size_t b = 3 + count + i * 5;
        argv[b] = set ? "s" : "d";
        lens[b] = 1;
        argv[b + 1] = conds[i];
        lens[b + 1] = 1;
        argv[b + 2] = nums[i][0];
        lens[b + 2] = strlen(nums[i][0]);
        argv[b + 3] = set ? op->value : "";
        lens[b + 3] = set ? op->value_len : 0;
        lens[b + 4] = (size_t)snprintf(nums[i][1], sizeof nums[i][1], "%lld",
                                       (long long)(set ? op_ttl(d, op) : -1));
        argv[b + 4] = nums[i][1];
        strong |= op->consistency == SS_CONSISTENCY_STRONG;
    }
    rcmd c = {.argc = (int)argc,
              .argv = argv,
              .argvlen = lens,
              .script = TX_LUA,
              .slot = redis_key_slot(d, &ops[0]),
              .write = true};
    code = redis_exec_cmds(d, &c, 1, strong, err);
    if (code == SS_OK) {
        redisReply *r = c.reply;
        if (c.code != SS_OK) {
            code = ss_error_set(err, c.code, "%s", c.err);
        } else if (r->type == REDIS_REPLY_ERROR) {
            code = ss_error_set(err, SS_BACKEND, "%s", r->str);
        } else if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
                   r->element[0]->type != REDIS_REPLY_INTEGER) {
            code = ss_error_set(err, SS_BACKEND, "unexpected answer from the transaction script");
        } else if (r->element[0]->integer != 1) {
            long long at = r->elements >= 2 && r->element[1]->type == REDIS_REPLY_INTEGER
                               ? r->element[1]->integer
                               : 0;
            const char *cur = r->elements >= 3 && r->element[2]->type == REDIS_REPLY_STRING
                                  ? r->element[2]->str
                                  : "";
            if (at < 1 || (size_t)at > count) {
                code =
                    ss_error_set(err, SS_BACKEND, "unexpected answer from the transaction script");
            } else {
                size_t i = (size_t)at - 1;
                const ss_op *op = &ops[i];
                if (op->cond == SS_COND_MATCH && !*cur)
                    code = ss_error_set_op(err, SS_ETAG_MISMATCH, i, op,
                                           "etag mismatch: key does not exist (etag %s); "
                                           "transaction not applied",
                                           op->etag);
                else if (op->cond == SS_COND_MATCH)
                    code = ss_error_set_op(err, SS_ETAG_MISMATCH, i, op,
                                           "etag mismatch: version %s != %s; transaction not "
                                           "applied",
                                           op->etag, cur);
                else if (op->cond == SS_COND_ABSENT)
                    code = ss_error_set_op(err, SS_ETAG_MISMATCH, i, op,
                                           "key already exists (first-write); transaction not "
                                           "applied");
                else
                    code = ss_error_set_op(err, SS_BACKEND, i, op,
                                           "stored version \"%s\" is not a number; transaction "
                                           "not applied",
                                           cur);
            }
        } else if (c.unacked) {
            code =
                ss_error_set(err, SS_TIMEOUT,
                             "transaction applied, but no replica acknowledged it in time (WAIT)");
        }
    }
    redis_cmds_release(&c, 1);
done:
    free(argv);
    free(lens);
    free(nums);
    free(conds);
    (void)metadata;
    (void)metadata_count;
    return code;
}

ss_code redis_ping(void *self, ss_error *err)
{
    redis_drv *d = self;
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    rcmd c = {.argc = 1, .argv = argv, .argvlen = lens, .slot = -1};
    ss_code code = redis_exec_cmds(d, &c, 1, false, err);
    if (code == SS_OK && c.code != SS_OK) code = ss_error_set(err, c.code, "%s", c.err);
    if (code == SS_OK && c.reply->type == REDIS_REPLY_ERROR)
        code = ss_error_set(err, SS_BACKEND, "%s", c.reply->str);
    redis_cmds_release(&c, 1);
    return code;
}

/* Loads the scripts on the first node so their SHA1s are known (other nodes answer NOSCRIPT
 * once and get the body by EVAL). */
ss_code redis_load_scripts(redis_drv *d, ss_error *err)
{
    for (int s = 0; s < SCRIPT_COUNT; s++) {
        const char *argv[3] = {"SCRIPT", "LOAD", SCRIPTS[s]};
        size_t lens[3] = {6, 4, strlen(SCRIPTS[s])};
        rcmd c = {.argc = 3, .argv = argv, .argvlen = lens, .slot = -1};
        ss_code code = redis_exec_cmds(d, &c, 1, false, err);
        if (code == SS_OK && c.code != SS_OK) code = ss_error_set(err, c.code, "%s", c.err);
        if (code == SS_OK && (c.reply->type != REDIS_REPLY_STRING || c.reply->len != 40))
            code = ss_error_set(err, SS_BACKEND, "SCRIPT LOAD: %s",
                                c.reply->type == REDIS_REPLY_ERROR ? c.reply->str
                                                                   : "unexpected answer");
        if (code == SS_OK) memcpy(d->sha[s], c.reply->str, 41);
        redis_cmds_release(&c, 1);
        if (code != SS_OK) return code;
    }
    return SS_OK;
}

/*
 * mongodb.c — the `mongodb` driver, on libmongoc/libbson (Debian's libmongoc-dev) with its
 * thread-safe client pool.
 *
 * Dapr's state.mongodb layout (mongodb_internal.h): {_id: key, value, _etag, _ttl}, a TTL index
 * on _ttl created at open, so either side reads what the other wrote. Values are kept byte-exact:
 * valid UTF-8 as a BSON string (Dapr stores byte values the same way), anything else as BSON
 * binary, so `1.10` and `12345678901234567890` come back as sent.
 *
 *   - get: find {_id}; expired documents (the TTL monitor deletes them only every 60 s) are
 *     hidden by comparing _ttl with this machine's clock.
 *   - set: unconditional = replace with upsert; ETag = replace filtered on _etag (and not
 *     expired), no upsert, nothing matched = mismatch; first-write = insert, a duplicate key =
 *     mismatch unless the document there has expired (then it is replaced, filtered on that).
 *   - delete: the same filters with delete.
 *   - bulk get: one find {_id: {$in: keys}}; bulk set/delete: ordered bulk writes of the
 *     operations without an ETag (a duplicate key stops an ordered bulk: the rest is sent again
 *     after it), each ETag-conditioned one alone, in request order, so every key gets its own
 *     result (a bulk write only counts matches, it cannot say which filter matched nothing).
 *   - transactions: a session and mongoc_client_session_with_transaction (snapshot read
 *     concern, majority write concern, as Dapr), only on a replica set or mongos, detected at
 *     open from `hello` (`isMaster` on servers before 4.4.2 that lack it); on a standalone
 *     server the instance does not declare TRANSACTIONAL and the core answers UNSUPPORTED.
 */
#include "mongodb_internal.h"
#include "support/strbuf.h"

#include <mongoc/mongoc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MG_DEFAULT_DB   "daprStore"
#define MG_DEFAULT_COLL "daprCollection"
/* MongoDB's document limit is 16 MiB; keep room for the key and the other fields. */
#define MG_MAX_KEY   (64 * 1024)
#define MG_MAX_VALUE (16 * 1024 * 1024 - 2 * MG_MAX_KEY)

typedef struct mg_store {
    ss_ctx *ctx;
    mongoc_client_pool_t *pool;
    char *db;
    char *coll;
    int64_t timeout_ms;
    bool transactional;
} mg_store;

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static bool is_duplicate_key(const bson_error_t *e)
{
    return (e->domain == MONGOC_ERROR_SERVER || e->domain == MONGOC_ERROR_COLLECTION ||
            e->domain == MONGOC_ERROR_COMMAND) &&
           (e->code == 11000 || e->code == 11001 || e->code == 12582);
}

static ss_code map_error(const bson_error_t *e)
{
    switch (e->domain) {
    case MONGOC_ERROR_STREAM:
        return strstr(e->message, "timed out") || strstr(e->message, "timeout") ? SS_TIMEOUT
                                                                                : SS_UNAVAILABLE;
    case MONGOC_ERROR_SERVER_SELECTION:
        return SS_UNAVAILABLE;
    case MONGOC_ERROR_SERVER:
    case MONGOC_ERROR_WRITE_CONCERN:
        switch (e->code) {
        case 50:  /* MaxTimeMSExpired */
        case 262: /* ExceededTimeLimit */
        case 64:  /* WriteConcernFailed (wtimeout) */
            return SS_TIMEOUT;
        case 91:    /* ShutdownInProgress */
        case 189:   /* PrimarySteppedDown */
        case 10107: /* NotWritablePrimary */
        case 11600: /* InterruptedAtShutdown */
        case 11602: /* InterruptedDueToReplStateChange */
        case 13435: /* NotPrimaryNoSecondaryOk */
        case 13436: /* NotPrimaryOrSecondary */
            return SS_UNAVAILABLE;
        case 10334: /* BSONObjectTooLarge */
            return SS_TOO_LARGE;
        default:
            return SS_BACKEND;
        }
    default:
        return SS_BACKEND;
    }
}

static ss_code mg_error(ss_error *err, const bson_error_t *e)
{
    return ss_error_set(err, map_error(e), "%s", e->message);
}

static ss_code nomem(ss_error *err)
{
    return ss_error_set(err, SS_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                 */
/* ------------------------------------------------------------------------------------------ */

typedef struct conn {
    mongoc_client_t *client;
    mongoc_collection_t *coll;
} conn;

static void conn_release(mg_store *s, conn *c)
{
    if (c->coll) mongoc_collection_destroy(c->coll);
    if (c->client) mongoc_client_pool_push(s->pool, c->client);
    c->coll = NULL;
    c->client = NULL;
}

/* The pool blocks until a client is free; libmongoc bounds the wait by the server selection
 * timeout of each command, so this does not hang on a dead server. */
static ss_code conn_acquire(mg_store *s, conn *c, ss_error *err)
{
    c->client = mongoc_client_pool_pop(s->pool);
    if (!c->client) return ss_error_set(err, SS_UNAVAILABLE, "no client from the pool");
    c->coll = mongoc_client_get_collection(c->client, s->db, s->coll);
    if (!c->coll) {
        conn_release(s, c);
        return nomem(err);
    }
    return SS_OK;
}

/* Dapr's connection string (when connectionString is not given): mongodb://[user:pass@]host/db
 * params, or mongodb+srv://[user:pass@]server/params. Credentials are percent-encoded here
 * (Dapr passes them raw, which breaks on '@', ':' and '/'). */
static void append_escaped(ss_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            ss_buf_chr(b, (char)*p);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            ss_buf_add(b, esc, sizeof esc);
        }
    }
}

/* Returns a string the caller frees with free(), or NULL (err set). libbson's bson_string_t is
 * deprecated from libbson 1.29 (Debian 13), so the text is built in the project's ss_buf. */
static char *build_uri(mg_store *s, ss_error *err)
{
    const char *cs = ss_prop(s->ctx, "connectionString");
    const char *host = ss_prop(s->ctx, "host");
    const char *server = ss_prop(s->ctx, "server");
    const char *user = ss_prop(s->ctx, "username");
    const char *pass = ss_prop(s->ctx, "password");
    const char *params = ss_prop(s->ctx, "params");
    bool has_host = host && *host, has_server = server && *server;
    ss_buf b = {0};
    if (cs && *cs) {
        ss_buf_str(&b, cs);
    } else if (has_host == has_server) {
        ss_error_set(err, SS_INVALID,
                     has_host ? "properties host and server are mutually exclusive"
                              : "property host or server (or connectionString) is required");
        return NULL;
    } else {
        ss_buf_str(&b, has_server ? "mongodb+srv://" : "mongodb://");
        if (user && *user && pass && *pass) {
            append_escaped(&b, user);
            ss_buf_chr(&b, ':');
            append_escaped(&b, pass);
            ss_buf_chr(&b, '@');
        }
        ss_buf_str(&b, has_server ? server : host);
        ss_buf_chr(&b, '/');
        ss_buf_str(&b, s->db);
        if (params && *params) ss_buf_str(&b, params);
    }
    if (b.oom) {
        free(b.p);
        nomem(err);
        return NULL;
    }
    return b.p;
}

static ss_code apply_concerns(mg_store *s, mongoc_uri_t *uri, ss_error *err)
{
    const char *wc = ss_prop(s->ctx, "writeConcern");
    const char *rc = ss_prop(s->ctx, "readConcern");
    if (wc && *wc) {
        mongoc_write_concern_t *w = mongoc_write_concern_new();
        if (strcmp(wc, "majority") == 0) {
            mongoc_write_concern_set_wmajority(w, (int32_t)s->timeout_ms);
        } else {
            char *end = NULL;
            long n = strtol(wc, &end, 10);
            if (end == wc || *end || n < 0 || n > 50) {
                mongoc_write_concern_destroy(w);
                return ss_error_set(err, SS_INVALID,
                                    "property writeConcern: \"%s\" is neither \"majority\" nor a "
                                    "number of nodes (0-50)",
                                    wc);
            }
            mongoc_write_concern_set_w(w, (int32_t)n);
            mongoc_write_concern_set_wtimeout_int64(w, s->timeout_ms);
        }
        /* Dapr asks for the journal with any explicit write concern. */
        if (strcmp(wc, "0") != 0) mongoc_write_concern_set_journal(w, true);
        mongoc_uri_set_write_concern(uri, w);
        mongoc_write_concern_destroy(w);
    }
    if (rc && *rc) {
        static const char *const levels[] = {"local", "majority", "available", "linearizable",
                                             "snapshot"};
        bool known = false;
        for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
            known = known || strcmp(rc, levels[i]) == 0;
        if (!known)
            return ss_error_set(err, SS_INVALID,
                                "property readConcern: \"%s\" is not one of local, majority, "
                                "available, linearizable, snapshot",
                                rc);
        mongoc_read_concern_t *r = mongoc_read_concern_new();
        mongoc_read_concern_set_level(r, rc);
        mongoc_uri_set_read_concern(uri, r);
        mongoc_read_concern_destroy(r);
    }
    return SS_OK;
}

/* Runs `hello` (or `isMaster` where the server does not know it) to learn the topology. */
static ss_code probe_server(mg_store *s, mongoc_client_t *client, ss_error *err)
{
    bson_t cmd = BSON_INITIALIZER, reply;
    bson_error_t e;
    BSON_APPEND_INT32(&cmd, "hello", 1);
    bool ok = mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, &e);
    bson_destroy(&cmd);
    if (!ok && e.domain == MONGOC_ERROR_SERVER && (e.code == 59 || strstr(e.message, "hello"))) {
        bson_destroy(&reply);
        bson_init(&cmd);
        BSON_APPEND_INT32(&cmd, "isMaster", 1);
        ok = mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, &e);
        bson_destroy(&cmd);
    }
    if (ok) s->transactional = ss_mongo_hello_transactional(&reply);
    bson_destroy(&reply);
    return ok ? SS_OK : mg_error(err, &e);
}

/* Dapr's TTL index: {_ttl: 1}, expireAfterSeconds 0, so expired documents go at the monitor's
 * next pass. createIndexes of an existing identical index is a no-op. */
static ss_code ensure_ttl_index(conn *c, ss_error *err)
{
    bson_t keys = BSON_INITIALIZER, cmd = BSON_INITIALIZER, idx_arr, idx;
    BSON_APPEND_INT32(&keys, SS_MONGO_TTL, 1);
    BSON_APPEND_UTF8(&cmd, "createIndexes", mongoc_collection_get_name(c->coll));
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &idx_arr);
    BSON_APPEND_DOCUMENT_BEGIN(&idx_arr, "0", &idx);
    BSON_APPEND_DOCUMENT(&idx, "key", &keys);
    BSON_APPEND_UTF8(&idx, "name", SS_MONGO_TTL "_1");
    BSON_APPEND_INT32(&idx, "expireAfterSeconds", 0);
    bson_append_document_end(&idx_arr, &idx);
    bson_append_array_end(&cmd, &idx_arr);
    bson_error_t e;
    bool ok = mongoc_collection_write_command_with_opts(c->coll, &cmd, NULL, NULL, &e);
    bson_destroy(&keys);
    bson_destroy(&cmd);
    if (!ok) return ss_error_set(err, map_error(&e), "creating the TTL index: %s", e.message);
    return SS_OK;
}

static void mg_close(void *self)
{
    mg_store *s = self;
    if (s->pool) mongoc_client_pool_destroy(s->pool);
    s->pool = NULL;
    bson_free(s->db);
    bson_free(s->coll);
    s->db = s->coll = NULL;
}

static ss_code mg_open(void *self, ss_ctx *ctx, ss_error *err)
{
    mg_store *s = self;
    s->ctx = ctx;
    s->timeout_ms = 5000;
    mongoc_init(); /* idempotent; never undone, other instances may still use the library */
    ss_code code = ss_prop_duration_ms(ctx, "operationTimeout", 1, &s->timeout_ms, err);
    if (code != SS_OK) return code;
    if (s->timeout_ms <= 0 || s->timeout_ms > INT32_MAX)
        return ss_error_set(err, SS_INVALID, "property operationTimeout: must be positive");
    const char *db = ss_prop(ctx, "databaseName");
    const char *coll = ss_prop(ctx, "collectionName");
    s->db = bson_strdup(db && *db ? db : MG_DEFAULT_DB);
    s->coll = bson_strdup(coll && *coll ? coll : MG_DEFAULT_COLL);
    char *text = build_uri(s, err);
    if (!text) {
        mg_close(s);
        return err ? err->code : SS_INVALID;
    }
    bson_error_t e;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(text, &e);
    free(text); /* may hold the password */
    if (!uri) {
        mg_close(s);
        return ss_error_set(err, SS_INVALID, "connection string: %s", e.message);
    }
    /* operationTimeout bounds every step of a call; a connection string's own values win. */
    const char *opts[] = {MONGOC_URI_SOCKETTIMEOUTMS, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                          MONGOC_URI_CONNECTTIMEOUTMS};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (!mongoc_uri_has_option(uri, opts[i]))
            mongoc_uri_set_option_as_int32(uri, opts[i], (int32_t)s->timeout_ms);
    if (!mongoc_uri_has_option(uri, MONGOC_URI_APPNAME)) mongoc_uri_set_appname(uri, "statestore");
    code = apply_concerns(s, uri, err);
    if (code == SS_OK) {
        s->pool = mongoc_client_pool_new_with_error(uri, &e);
        if (!s->pool) code = ss_error_set(err, SS_INVALID, "connection string: %s", e.message);
    }
    mongoc_uri_destroy(uri);
    if (code != SS_OK) {
        mg_close(s);
        return code;
    }
    mongoc_client_pool_set_error_api(s->pool, MONGOC_ERROR_API_VERSION_2);
    conn c = {0};
    code = conn_acquire(s, &c, err);
    if (code == SS_OK) code = probe_server(s, c.client, err);
    if (code == SS_OK) code = ensure_ttl_index(&c, err);
    conn_release(s, &c);
    if (code != SS_OK) {
        mg_close(s);
        return code;
    }
    if (!s->transactional)
        ss_log(ctx, SS_LOG_INFO,
               "standalone MongoDB server: transactions need a replica set and are unavailable");
    return SS_OK;
}

static void mg_features(void *self, ss_features *out)
{
    mg_store *s = self;
    if (!s->transactional) out->flags &= ~(unsigned)SS_FEATURE_TRANSACTIONAL;
}

static ss_code mg_ping(void *self, ss_error *err)
{
    mg_store *s = self;
    conn c = {0};
    ss_code code = conn_acquire(s, &c, err);
    if (code != SS_OK) return code;
    bson_t cmd = BSON_INITIALIZER;
    bson_error_t e;
    BSON_APPEND_INT32(&cmd, "ping", 1);
    if (!mongoc_client_command_simple(c.client, "admin", &cmd, NULL, NULL, &e))
        code = mg_error(err, &e);
    bson_destroy(&cmd);
    conn_release(s, &c);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Get                                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* The fields a read needs. Besides not shipping other fields, a projection makes
 * mongo-java-server (the test server) copy each document under its collection lock; without
 * one it serialises the live document after the lock, and a concurrent replace can tear it. */
static bool append_projection(bson_t *opts)
{
    bson_t p;
    bool ok = BSON_APPEND_DOCUMENT_BEGIN(opts, "projection", &p);
    ok = ok && BSON_APPEND_INT32(&p, SS_MONGO_VAL, 1) && BSON_APPEND_INT32(&p, SS_MONGO_ETAG, 1);
    ok = ok && BSON_APPEND_INT32(&p, SS_MONGO_TTL, 1);
    return ok && bson_append_document_end(opts, &p);
}

/* Finds the document of one key (with the session of a transaction, when given). */
static ss_code find_one(conn *c, const bson_t *opts, const char *key, size_t len, ss_value **out,
                        ss_error *err)
{
    *out = NULL;
    bson_t filter, fopts = BSON_INITIALIZER;
    if (opts) bson_concat(&fopts, opts);
    BSON_APPEND_INT64(&fopts, "limit", 1);
    append_projection(&fopts);
    if (!ss_mongo_filter(&filter, key, len, NULL, 0)) {
        bson_destroy(&filter);
        bson_destroy(&fopts);
        return ss_error_set(err, SS_TOO_LARGE, "key too large for a BSON document");
    }
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->coll, &filter, &fopts, NULL);
    bson_destroy(&filter);
    bson_destroy(&fopts);
    const bson_t *doc;
    ss_code code = SS_OK;
    if (mongoc_cursor_next(cur, &doc)) code = ss_mongo_read_doc(doc, ss_now_unix_ms(), out, err);
    bson_error_t e;
    if (code == SS_OK && mongoc_cursor_error(cur, &e)) code = mg_error(err, &e);
    mongoc_cursor_destroy(cur);
    return code;
}

static ss_code mg_get(void *self, const ss_op *op, ss_value **out, ss_error *err)
{
    mg_store *s = self;
    conn c = {0};
    *out = NULL;
    ss_code code = conn_acquire(s, &c, err);
    if (code != SS_OK) return code;
    code = find_one(&c, NULL, op->key, op->key_len, out, err);
    conn_release(s, &c);
    return code;
}

typedef struct slot {
    size_t index;
    const char *key;
    size_t len;
} slot;

static int slot_cmp(const void *a, const void *b)
{
    const slot *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->key, y->key, n);
    if (r) return r;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* The _id of a document as key bytes. */
static bool doc_key(const bson_t *doc, const char **key, size_t *len)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, SS_MONGO_ID)) return false;
    uint32_t n = 0;
    if (BSON_ITER_HOLDS_UTF8(&it)) {
        *key = bson_iter_utf8(&it, &n);
    } else if (BSON_ITER_HOLDS_BINARY(&it)) {
        bson_subtype_t sub;
        const uint8_t *b = NULL;
        bson_iter_binary(&it, &sub, &n, &b);
        *key = (const char *)b;
    } else {
        return false;
    }
    *len = n;
    return true;
}

static void item_fail(ss_item_result *it, ss_code code, const char *msg)
{
    it->code = code;
    free(it->error);
    it->error = ss_strdup(msg);
}

/* One find {_id: {$in: [...]}} for every key; documents are matched back by _id. */
static ss_code mg_bulk_get(void *self, const ss_op *ops, size_t count, ss_results *out,
                           ss_error *err)
{
    mg_store *s = self;
    slot *slots = malloc(count * sizeof *slots);
    if (!slots) return nomem(err);
    bson_t filter = BSON_INITIALIZER, in, arr;
    bool ok = BSON_APPEND_DOCUMENT_BEGIN(&filter, SS_MONGO_ID, &in);
    ok = ok && BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
    char idx[16];
    for (size_t i = 0; ok && i < count; i++) {
        const char *name;
        bson_uint32_to_string((uint32_t)i, &name, idx, sizeof idx);
        ok = ss_mongo_append_key(&arr, name, ops[i].key, ops[i].key_len);
        slots[i] = (slot){i, ops[i].key, ops[i].key_len};
    }
    ok = ok && bson_append_array_end(&in, &arr) && bson_append_document_end(&filter, &in);
    if (!ok) {
        bson_destroy(&filter);
        free(slots);
        return ss_error_set(err, SS_TOO_LARGE, "the keys do not fit in one BSON document");
    }
    qsort(slots, count, sizeof *slots, slot_cmp);
    conn c = {0};
    ss_code code = conn_acquire(s, &c, err);
    if (code != SS_OK) {
        bson_destroy(&filter);
        free(slots);
        return code;
    }
    bson_t fopts = BSON_INITIALIZER;
    append_projection(&fopts);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c.coll, &filter, &fopts, NULL);
    bson_destroy(&fopts);
    int64_t now = ss_now_unix_ms();
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc)) {
        slot probe = {0, NULL, 0};
        if (!doc_key(doc, &probe.key, &probe.len)) continue;
        slot *hit = bsearch(&probe, slots, count, sizeof *slots, slot_cmp);
        if (!hit) continue;
        while (hit > slots && slot_cmp(hit - 1, &probe) == 0) hit--;
        for (; hit < slots + count && slot_cmp(hit, &probe) == 0; hit++) {
            ss_item_result *it = &out->items[hit->index];
            if (it->value || it->code != SS_OK) continue;
            ss_error e;
            e.message[0] = 0;
            ss_code r = ss_mongo_read_doc(doc, now, &it->value, &e);
            if (r != SS_OK) item_fail(it, r, e.message);
        }
    }
    bson_error_t e;
    if (mongoc_cursor_error(cur, &e)) code = mg_error(err, &e);
    mongoc_cursor_destroy(cur);
    conn_release(s, &c);
    bson_destroy(&filter);
    free(slots);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Writes                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* The count a write reply reports under name (matchedCount, deletedCount, ...). */
static int64_t reply_count(const bson_t *reply, const char *name)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, reply, name) && BSON_ITER_HOLDS_NUMBER(&it))
        return bson_iter_as_int64(&it);
    return 0;
}

static ss_code mismatch(ss_error *err, ss_cond cond)
{
    return ss_error_set(err, SS_ETAG_MISMATCH,
                        cond == SS_COND_ABSENT
                            ? "duplicate key: the key exists (first-write)"
                            : "no document with this key and _etag (etag mismatch)");
}

/* One set, alone or inside a transaction (opts then carries the session). In a transaction a
 * duplicate-key error would abort it, so first-write there reads first and upserts; the
 * snapshot makes a concurrent insert a write conflict that withTransaction retries. */
static ss_code write_set(conn *c, const bson_t *opts, bool in_tx, const ss_op *op, const char *etag,
                         ss_error *err)
{
    int64_t now = ss_now_unix_ms();
    bson_t doc, filter, reply, upsert_opts;
    bson_error_t e;
    if (!ss_mongo_document(&doc, op, etag, now)) {
        bson_destroy(&doc);
        return ss_error_set(err, SS_TOO_LARGE, "key and value do not fit in a BSON document");
    }
    ss_code code = SS_OK;
    bool ok;
    bson_init(&upsert_opts);
    if (opts) bson_concat(&upsert_opts, opts);
    if (op->cond == SS_COND_ABSENT && in_tx) {
        ss_value *cur = NULL;
        code = find_one(c, opts, op->key, op->key_len, &cur, err);
        if (code == SS_OK && cur) code = mismatch(err, SS_COND_ABSENT);
        ss_value_free(cur);
        if (code != SS_OK) goto done;
    }
    if (op->cond == SS_COND_ABSENT && !in_tx) {
        ok = mongoc_collection_insert_one(c->coll, &doc, opts, NULL, &e);
        if (ok) goto done;
        if (!is_duplicate_key(&e)) {
            code = mg_error(err, &e);
            goto done;
        }
        /* The key exists; unless its document has expired, that is the first-write conflict. */
        ss_mongo_expired_filter(&filter, op->key, op->key_len, now);
        ok = mongoc_collection_replace_one(c->coll, &filter, &doc, opts, &reply, &e);
        if (!ok)
            code = mg_error(err, &e);
        else if (reply_count(&reply, "matchedCount") == 0)
            code = mismatch(err, SS_COND_ABSENT);
        bson_destroy(&reply);
        bson_destroy(&filter);
        goto done;
    }
    bool conditional = op->cond == SS_COND_MATCH;
    ss_mongo_filter(&filter, op->key, op->key_len, conditional ? op->etag : NULL, now);
    if (!conditional) BSON_APPEND_BOOL(&upsert_opts, "upsert", true);
    ok = mongoc_collection_replace_one(c->coll, &filter, &doc, &upsert_opts, &reply, &e);
    if (!ok)
        code = mg_error(err, &e);
    else if (conditional && reply_count(&reply, "matchedCount") == 0)
        code = mismatch(err, SS_COND_MATCH);
    bson_destroy(&reply);
    bson_destroy(&filter);
done:
    bson_destroy(&upsert_opts);
    bson_destroy(&doc);
    return code;
}

static ss_code write_delete(conn *c, const bson_t *opts, const ss_op *op, ss_error *err)
{
    bson_t filter, reply;
    bson_error_t e;
    bool conditional = op->cond == SS_COND_MATCH;
    ss_mongo_filter(&filter, op->key, op->key_len, conditional ? op->etag : NULL, ss_now_unix_ms());
    ss_code code = SS_OK;
    if (!mongoc_collection_delete_one(c->coll, &filter, opts, &reply, &e))
        code = mg_error(err, &e);
    else if (conditional && reply_count(&reply, "deletedCount") == 0)
        code = mismatch(err, SS_COND_MATCH);
    bson_destroy(&reply);
    bson_destroy(&filter);
    return code;
}

static ss_code mg_set(void *self, const ss_op *op, char **etag_out, ss_error *err)
{
    mg_store *s = self;
    char etag[37];
    ss_uuid4(etag);
    conn c = {0};
    ss_code code = conn_acquire(s, &c, err);
    if (code != SS_OK) return code;
    code = write_set(&c, NULL, false, op, etag, err);
    conn_release(s, &c);
    if (code == SS_OK && op->etag_wanted) *etag_out = ss_strdup(etag);
    return code;
}

static ss_code mg_del(void *self, const ss_op *op, ss_error *err)
{
    mg_store *s = self;
    conn c = {0};
    ss_code code = conn_acquire(s, &c, err);
    if (code != SS_OK) return code;
    code = write_delete(&c, NULL, op, err);
    conn_release(s, &c);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Bulk writes                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* The index and error of the first write error in a bulk reply; false when there is none. */
static bool first_write_error(const bson_t *reply, size_t *index, bson_error_t *e)
{
    bson_iter_t it, arr, item;
    if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &arr) || !bson_iter_next(&arr) || !BSON_ITER_HOLDS_DOCUMENT(&arr) ||
        !bson_iter_recurse(&arr, &item))
        return false;
    *index = 0;
    e->domain = MONGOC_ERROR_SERVER;
    e->code = 0;
    snprintf(e->message, sizeof e->message, "write error");
    while (bson_iter_next(&item)) {
        const char *k = bson_iter_key(&item);
        if (strcmp(k, "index") == 0 && BSON_ITER_HOLDS_NUMBER(&item))
            *index = (size_t)bson_iter_as_int64(&item);
        else if (strcmp(k, "code") == 0 && BSON_ITER_HOLDS_NUMBER(&item))
            e->code = (uint32_t)bson_iter_as_int64(&item);
        else if (strcmp(k, "errmsg") == 0 && BSON_ITER_HOLDS_UTF8(&item))
            snprintf(e->message, sizeof e->message, "%s", bson_iter_utf8(&item, NULL));
    }
    return true;
}

/* Adds ops[i] (no ETag condition) to an ordered bulk write. */
static bool bulk_add(mongoc_bulk_operation_t *bulk, const ss_op *op, const char *etag, int64_t now,
                     bson_error_t *e)
{
    bson_t doc, filter, opts = BSON_INITIALIZER;
    bool ok;
    if (op->kind == SS_DRV_DELETE) {
        ss_mongo_filter(&filter, op->key, op->key_len, NULL, 0);
        ok = mongoc_bulk_operation_remove_one_with_opts(bulk, &filter, NULL, e);
        bson_destroy(&filter);
        return ok;
    }
    if (!ss_mongo_document(&doc, op, etag, now)) {
        bson_destroy(&doc);
        bson_set_error(e, MONGOC_ERROR_BSON, MONGOC_ERROR_BSON_INVALID,
                       "key and value do not fit in a BSON document");
        return false;
    }
    if (op->cond == SS_COND_ABSENT) {
        ok = mongoc_bulk_operation_insert_with_opts(bulk, &doc, NULL, e);
    } else {
        ss_mongo_filter(&filter, op->key, op->key_len, NULL, 0);
        BSON_APPEND_BOOL(&opts, "upsert", true);
        ok = mongoc_bulk_operation_replace_one_with_opts(bulk, &filter, &doc, &opts, e);
        bson_destroy(&filter);
    }
    bson_destroy(&opts);
    bson_destroy(&doc);
    return ok;
}

/*
 * ops[from, to) hold no ETag condition: they go as ordered bulk writes. A write error stops an
 * ordered bulk at that op; it gets its error (a duplicate key from first-write is a mismatch,
 * unless the document there had expired: that op is retried alone) and the rest is sent again.
 */
static void bulk_segment(conn *c, const ss_op *ops, char (*etags)[37], size_t from, size_t to,
                         ss_results *out)
{
    while (from < to) {
        bson_t opts = BSON_INITIALIZER;
        bson_error_t e;
        BSON_APPEND_BOOL(&opts, "ordered", true);
        mongoc_bulk_operation_t *bulk =
            mongoc_collection_create_bulk_operation_with_opts(c->coll, &opts);
        bson_destroy(&opts);
        int64_t now = ss_now_unix_ms();
        size_t end = from;
        while (end < to && bulk_add(bulk, &ops[end], etags[end], now, &e)) end++;
        size_t next = end;
        if (end < to) { /* that op's document could not be built: it alone fails */
            item_fail(&out->items[end], SS_TOO_LARGE, e.message);
            next = end + 1;
        }
        if (end > from) {
            bson_t reply;
            if (!mongoc_bulk_operation_execute(bulk, &reply, &e)) {
                size_t idx = 0;
                bson_error_t we;
                ss_error se;
                se.message[0] = 0;
                if (first_write_error(&reply, &idx, &we) && from + idx < end) {
                    size_t at = from + idx;
                    ss_code r = is_duplicate_key(&we) && ops[at].cond == SS_COND_ABSENT
                                    ? write_set(c, NULL, false, &ops[at], etags[at], &se)
                                    : mg_error(&se, &we);
                    if (r != SS_OK) item_fail(&out->items[at], r, se.message);
                    next = at + 1;
                } else {
                    /* Not one op's error (connection, write concern): every op of the batch
                     * gets it, since none is known to be done. */
                    ss_code r = mg_error(&se, &e);
                    for (size_t k = from; k < end; k++) item_fail(&out->items[k], r, se.message);
                }
            }
            bson_destroy(&reply);
        }
        mongoc_bulk_operation_destroy(bulk);
        from = next;
    }
}

static ss_code bulk_write(mg_store *s, const ss_op *ops, size_t count, ss_results *out,
                          ss_error *err)
{
    char (*etags)[37] = malloc(count * sizeof *etags);
    if (!etags) return nomem(err);
    for (size_t i = 0; i < count; i++) {
        if (ops[i].kind == SS_DRV_SET)
            ss_uuid4(etags[i]);
        else
            etags[i][0] = 0;
    }
    conn c = {0};
    ss_code code = conn_acquire(s, &c, err);
    if (code != SS_OK) {
        free(etags);
        return code;
    }
    size_t i = 0;
    while (i < count) {
        if (ops[i].cond == SS_COND_MATCH) {
            ss_error se;
            se.message[0] = 0;
            ss_code r = ops[i].kind == SS_DRV_SET
                            ? write_set(&c, NULL, false, &ops[i], etags[i], &se)
                            : write_delete(&c, NULL, &ops[i], &se);
            if (r != SS_OK) item_fail(&out->items[i], r, se.message);
            i++;
            continue;
        }
        size_t j = i;
        while (j < count && ops[j].cond != SS_COND_MATCH) j++;
        bulk_segment(&c, ops, etags, i, j, out);
        i = j;
    }
    conn_release(s, &c);
    for (i = 0; i < count; i++)
        if (ops[i].kind == SS_DRV_SET && ops[i].etag_wanted && out->items[i].code == SS_OK)
            out->items[i].etag = ss_strdup(etags[i]);
    free(etags);
    return SS_OK;
}

static ss_code mg_bulk_set(void *self, const ss_op *ops, size_t count, ss_results *out,
                           ss_error *err)
{
    return bulk_write(self, ops, count, out, err);
}

static ss_code mg_bulk_delete(void *self, const ss_op *ops, size_t count, ss_results *out,
                              ss_error *err)
{
    return bulk_write(self, ops, count, out, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Transactions                                                                                */
/* ------------------------------------------------------------------------------------------ */

typedef struct tx_ctx {
    conn *c;
    const ss_op *ops;
    size_t count;
    ss_code code; /* our verdict when an op failed (e.g. ETag mismatch) */
    ss_error *err;
} tx_ctx;

/* withTransaction's callback: every op in order with the session; an op's failure ends the
 * callback with false, and libmongoc aborts (it retries only on TransientTransactionError). */
static bool tx_body(mongoc_client_session_t *session, void *arg, bson_t **reply,
                    bson_error_t *error)
{
    tx_ctx *t = arg;
    (void)reply;
    bson_t opts = BSON_INITIALIZER;
    if (!mongoc_client_session_append(session, &opts, error)) {
        bson_destroy(&opts);
        return false;
    }
    t->code = SS_OK;
    for (size_t i = 0; i < t->count && t->code == SS_OK; i++) {
        const ss_op *op = &t->ops[i];
        char etag[37];
        ss_uuid4(etag);
        t->code = op->kind == SS_DRV_SET ? write_set(t->c, &opts, true, op, etag, t->err)
                                         : write_delete(t->c, &opts, op, t->err);
        if (t->code == SS_ETAG_MISMATCH && t->err)
            snprintf(t->err->message + strlen(t->err->message),
                     sizeof t->err->message - strlen(t->err->message), " (operation %zu)", i);
    }
    bson_destroy(&opts);
    if (t->code != SS_OK) {
        bson_set_error(error, 0, 0, "%s", t->err ? t->err->message : "operation failed");
        return false;
    }
    return true;
}

static ss_code mg_transact(void *self, const ss_op *ops, size_t count, const ss_pair *metadata,
                           size_t metadata_count, ss_error *err)
{
    mg_store *s = self;
    (void)metadata;
    (void)metadata_count;
    if (!s->transactional)
        return ss_error_set(err, SS_UNSUPPORTED,
                            "transactions need a replica set or mongos; this server is standalone");
    conn c = {0};
    ss_code code = conn_acquire(s, &c, err);
    if (code != SS_OK) return code;
    bson_error_t e;
    mongoc_client_session_t *session = mongoc_client_start_session(c.client, NULL, &e);
    if (!session) {
        code = mg_error(err, &e);
        conn_release(s, &c);
        return code;
    }
    mongoc_transaction_opt_t *topts = mongoc_transaction_opts_new();
    mongoc_read_concern_t *rc = mongoc_read_concern_new();
    mongoc_write_concern_t *wc = mongoc_write_concern_new();
    mongoc_read_concern_set_level(rc, MONGOC_READ_CONCERN_LEVEL_SNAPSHOT);
    mongoc_write_concern_set_wmajority(wc, (int32_t)s->timeout_ms);
    mongoc_transaction_opts_set_read_concern(topts, rc);
    mongoc_transaction_opts_set_write_concern(topts, wc);
    tx_ctx t = {&c, ops, count, SS_OK, err};
    bson_t reply;
    if (!mongoc_client_session_with_transaction(session, tx_body, topts, &t, &reply, &e))
        code = t.code != SS_OK ? t.code : mg_error(err, &e);
    bson_destroy(&reply);
    mongoc_read_concern_destroy(rc);
    mongoc_write_concern_destroy(wc);
    mongoc_transaction_opts_destroy(topts);
    mongoc_client_session_destroy(session);
    conn_release(s, &c);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Declaration                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static const ss_property mg_props[] = {
    {"host", false, false, NULL,
     "host:port of a server (or comma-separated list); exclusive with server"},
    {"server", false, false, NULL, "DNS seed list name, connected with mongodb+srv://"},
    {"connectionString", false, true, NULL,
     "a full mongodb:// or mongodb+srv:// URI; replaces host, server, credentials and params"},
    {"username", false, false, NULL, "user name (with password)"},
    {"password", false, true, NULL, "password (never logged)"},
    {"databaseName", false, false, MG_DEFAULT_DB, "database holding the collection"},
    {"collectionName", false, false, MG_DEFAULT_COLL, "collection holding the state"},
    {"writeConcern", false, false, NULL, "\"majority\" or a number of nodes (journaled)"},
    {"readConcern", false, false, NULL, "local, majority, available, linearizable or snapshot"},
    {"operationTimeout", false, false, "5s",
     "connect, server selection and socket timeout, e.g. \"5s\""},
    {"params", false, false, NULL,
     "appended to the connection string, e.g. \"?authSource=admin&tls=true\""},
};

const ss_driver ss_driver_mongodb = {
    .abi = SS_DRIVER_ABI,
    .info =
        {
            .name = "mongodb",
            .aliases = NULL,
            .version = "1",
            .summary = "MongoDB via libmongoc: Dapr's document layout, _etag ETags, TTL index, "
                       "transactions on replica sets",
            .features =
                {
                    .flags = SS_FEATURE_ETAG | SS_FEATURE_FIRST_WRITE | SS_FEATURE_TTL |
                             SS_FEATURE_BULK_NATIVE | SS_FEATURE_TRANSACTIONAL,
                    .max_tx_ops = 0,
                    .max_key_len = MG_MAX_KEY,
                    .max_value_len = MG_MAX_VALUE,
                },
            .properties = mg_props,
            .property_count = sizeof mg_props / sizeof mg_props[0],
        },
    .instance_size = sizeof(mg_store),
    .open = mg_open,
    .close = mg_close,
    .ping = mg_ping,
    .get = mg_get,
    .set = mg_set,
    .del = mg_del,
    .bulk_get = mg_bulk_get,
    .bulk_set = mg_bulk_set,
    .bulk_delete = mg_bulk_delete,
    .transact = mg_transact,
    .features = mg_features,
};

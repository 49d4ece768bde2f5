/*
 * grpc_api.c — the RPCs of dapr.proto.runtime.v1.Dapr that statestored serves: decode with
 * protobuf-c, call the shared state layer (state_ops.c, the same code under the HTTP API), map
 * its failures to the gRPC codes daprd gives, encode the answer.
 */
#include "grpc_api.h"

#include "../state_ops.h"
#include "dapr/proto/runtime/v1/state.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef Dapr__Proto__Common__V1__StateItem StateItem;
typedef Dapr__Proto__Common__V1__StateOptions StateOptions;
typedef Dapr__Proto__Runtime__V1__GetStateRequest GetStateRequest;
typedef Dapr__Proto__Runtime__V1__GetStateResponse GetStateResponse;
typedef Dapr__Proto__Runtime__V1__GetStateResponse__MetadataEntry GetStateMd;
typedef Dapr__Proto__Runtime__V1__GetBulkStateRequest GetBulkStateRequest;
typedef Dapr__Proto__Runtime__V1__GetBulkStateResponse GetBulkStateResponse;
typedef Dapr__Proto__Runtime__V1__BulkStateItem BulkStateItem;
typedef Dapr__Proto__Runtime__V1__BulkStateItem__MetadataEntry BulkStateMd;
typedef Dapr__Proto__Runtime__V1__SaveStateRequest SaveStateRequest;
typedef Dapr__Proto__Runtime__V1__DeleteStateRequest DeleteStateRequest;
typedef Dapr__Proto__Runtime__V1__DeleteBulkStateRequest DeleteBulkStateRequest;
typedef Dapr__Proto__Runtime__V1__ExecuteStateTransactionRequest TxRequest;
typedef Dapr__Proto__Runtime__V1__QueryStateRequest QueryStateRequest;
typedef Dapr__Proto__Runtime__V1__GetMetadataResponse GetMetadataResponse;
typedef Dapr__Proto__Runtime__V1__GetMetadataResponse__ExtendedMetadataEntry ExtendedMd;
typedef Dapr__Proto__Runtime__V1__RegisteredComponents RegisteredComponents;

/* Every map<string,string> entry type that protobuf-c generates has this layout. */
typedef struct md_entry {
    ProtobufCMessage base;
    char *key;
    char *value;
} md_entry;

#define GRPC_PREFIX 5

static void fail(gresult *r, int status, const char *code, const char *msg)
{
    r->status = status;
    r->err_code = code;
    snprintf(r->msg, sizeof r->msg, "%s", msg);
}

/* daprd's gRPC codes for the shared layer's failure classes. */
static void fail_d(gresult *r, const derr *e)
{
    int st = GRPC_INTERNAL;
    switch (e->fail) {
    case DF_BAD_REQUEST:
    case DF_NO_STORE:
    case DF_ETAG_INVALID:
        st = GRPC_INVALID_ARGUMENT;
        break;
    case DF_NOT_CONFIGURED:
        st = GRPC_FAILED_PRECONDITION;
        break;
    case DF_ETAG_MISMATCH:
        st = GRPC_ABORTED;
        break;
    case DF_UNSUPPORTED:
    case DF_BAD_OPERATION:
        st = GRPC_UNIMPLEMENTED;
        break;
    case DF_OOM:
        st = GRPC_RESOURCE_EXHAUSTED;
        break;
    case DF_STORE:
        /* the library's own input checks (a bad metadata value, say) are the caller's fault */
        st = e->sc == SS_INVALID ? GRPC_INVALID_ARGUMENT : GRPC_INTERNAL;
        break;
    case DF_NONE:
    case DF_TRANSACTION:
        st = GRPC_INTERNAL;
        break;
    }
    fail(r, st, e->code, e->msg);
}

/* Packs a response message behind GRPC_PREFIX free bytes. */
static void reply(gresult *r, const ProtobufCMessage *m)
{
    size_t n = m ? protobuf_c_message_get_packed_size(m) : 0;
    r->body = malloc(GRPC_PREFIX + n);
    if (!r->body) {
        fail(r, GRPC_RESOURCE_EXHAUSTED, "ERR_INTERNAL", "out of memory");
        return;
    }
    r->len = m ? protobuf_c_message_pack(m, r->body + GRPC_PREFIX) : 0;
    r->status = GRPC_OK;
}

/* map<string,string> to the library's pairs, borrowing the strings. */
static bool md_pairs(ss_arena *a, md_entry **md, size_t n, const ss_pair **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (!n) return true;
    ss_pair *p = ss_arena_alloc(a, n * sizeof *p);
    if (!p) return false;
    for (size_t i = 0; i < n; i++) {
        p[i].name = md[i]->key;
        p[i].value = md[i]->value;
    }
    *out = p;
    *count = n;
    return true;
}

static const char *consistency_name(int c)
{
    return c == DAPR__PROTO__COMMON__V1__STATE_OPTIONS__STATE_CONSISTENCY__CONSISTENCY_EVENTUAL
               ? "eventual"
           : c == DAPR__PROTO__COMMON__V1__STATE_OPTIONS__STATE_CONSISTENCY__CONSISTENCY_STRONG
               ? "strong"
               : NULL;
}

static ss_write_options write_options(const StateOptions *o)
{
    ss_write_options w = {0};
    if (!o) return w;
    if (o->concurrency ==
        DAPR__PROTO__COMMON__V1__STATE_OPTIONS__STATE_CONCURRENCY__CONCURRENCY_FIRST_WRITE)
        w.concurrency = "first-write";
    else if (o->concurrency ==
             DAPR__PROTO__COMMON__V1__STATE_OPTIONS__STATE_CONCURRENCY__CONCURRENCY_LAST_WRITE)
        w.concurrency = "last-write";
    w.consistency = consistency_name(o->consistency);
    return w;
}

/* One StateItem as a set request (key checked and prefixed). */
static bool item_set(const dserver *s, const dstore *st, const StateItem *it, ss_arena *a,
                     ss_set_request *out, derr *e, const char *where)
{
    const char *key = it->key ? it->key : "";
    char *k = ds_key(s, st, key, strlen(key), a, e, where, NULL, 0);
    if (!k) return false;
    *out = (ss_set_request){
        .key = k,
        .value = (const char *)it->value.data,
        .value_len = it->value.len,
        .etag = it->etag ? it->etag->value : NULL,
        .options = write_options(it->options),
    };
    if (!out->value) out->value = "";
    if (!md_pairs(a, (md_entry **)it->metadata, it->n_metadata, &out->metadata,
                  &out->metadata_count)) {
        derr_oom(e);
        return false;
    }
    return true;
}

static bool item_delete(const dserver *s, const dstore *st, const StateItem *it, ss_arena *a,
                        ss_delete_request *out, derr *e, const char *where)
{
    const char *key = it->key ? it->key : "";
    char *k = ds_key(s, st, key, strlen(key), a, e, where, NULL, 0);
    if (!k) return false;
    *out = (ss_delete_request){
        .key = k,
        .etag = it->etag ? it->etag->value : NULL,
        .options = write_options(it->options),
    };
    if (!md_pairs(a, (md_entry **)it->metadata, it->n_metadata, &out->metadata,
                  &out->metadata_count)) {
        derr_oom(e);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* RPCs                                                                                      */
/* ---------------------------------------------------------------------------------------- */

static void rpc_get(const dserver *s, const GetStateRequest *q, gresult *r)
{
    derr e;
    ss_arena a = {0};
    char kbuf[512];
    const dstore *st = ds_store(s, q->store_name, &e);
    char *k = st ? ds_key(s, st, q->key, strlen(q->key), &a, &e, "", kbuf, sizeof kbuf) : NULL;
    ss_get_request g = {.key = k, .consistency = consistency_name(q->consistency)};
    ss_value *v = NULL;
    if (!k) {
        fail_d(r, &e);
    } else if (!md_pairs(&a, (md_entry **)q->metadata, q->n_metadata, &g.metadata,
                         &g.metadata_count)) {
        derr_oom(&e);
        fail_d(r, &e);
    } else if (!ds_get(st, &g, q->key, &v, &e)) {
        fail_d(r, &e);
    } else {
        /* a missing key is OK with no data, as daprd answers it */
        GetStateResponse m = DAPR__PROTO__RUNTIME__V1__GET_STATE_RESPONSE__INIT;
        GetStateMd *mde = NULL, **mdp = NULL;
        if (v) {
            m.data.data = (uint8_t *)v->data;
            m.data.len = v->len;
            if (v->etag) m.etag = v->etag;
            if (v->metadata_count) {
                mde = calloc(v->metadata_count, sizeof *mde);
                mdp = calloc(v->metadata_count, sizeof *mdp);
                if (!mde || !mdp) {
                    free(mde);
                    free(mdp);
                    ss_value_free(v);
                    ss_arena_free(&a);
                    fail(r, GRPC_RESOURCE_EXHAUSTED, "ERR_INTERNAL", "out of memory");
                    return;
                }
                for (size_t i = 0; i < v->metadata_count; i++) {
                    mde[i] = (GetStateMd)
                        DAPR__PROTO__RUNTIME__V1__GET_STATE_RESPONSE__METADATA_ENTRY__INIT;
                    mde[i].key = (char *)v->metadata[i].name;
                    mde[i].value = (char *)v->metadata[i].value;
                    mdp[i] = &mde[i];
                }
                m.n_metadata = v->metadata_count;
                m.metadata = mdp;
            }
        }
        reply(r, &m.base);
        free(mde);
        free(mdp);
    }
    ss_value_free(v);
    ss_arena_free(&a);
}

static void rpc_bulk_get(const dserver *s, const GetBulkStateRequest *q, gresult *r)
{
    derr e;
    ss_arena a = {0};
    ss_results res = {0};
    const dstore *st = ds_store(s, q->store_name, &e);
    size_t n = q->n_keys;
    if (!st || !ds_count_ok(s, n, "keys", "ERR_MALFORMED_REQUEST", &e)) {
        fail_d(r, &e);
        return;
    }
    GetBulkStateResponse m = DAPR__PROTO__RUNTIME__V1__GET_BULK_STATE_RESPONSE__INIT;
    if (n == 0) {
        reply(r, &m.base);
        return;
    }
    ss_get_request *reqs = ss_arena_alloc(&a, n * sizeof *reqs);
    BulkStateItem *items = ss_arena_alloc(&a, n * sizeof *items);
    BulkStateItem **ptrs = ss_arena_alloc(&a, n * sizeof *ptrs);
    const ss_pair *md;
    size_t nmd;
    if (!reqs || !items || !ptrs ||
        !md_pairs(&a, (md_entry **)q->metadata, q->n_metadata, &md, &nmd)) {
        derr_oom(&e);
        fail_d(r, &e);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char where[64];
        snprintf(where, sizeof where, "keys[%zu]: ", i);
        char *k = ds_key(s, st, q->keys[i], strlen(q->keys[i]), &a, &e, where, NULL, 0);
        if (!k) {
            fail_d(r, &e);
            goto out;
        }
        reqs[i] = (ss_get_request){.key = k, .metadata = md, .metadata_count = nmd};
    }
    if (!ds_bulk_get(st, reqs, n, q->parallelism, &res, &e)) {
        fail_d(r, &e);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        BulkStateItem *it = &items[i];
        *it = (BulkStateItem)DAPR__PROTO__RUNTIME__V1__BULK_STATE_ITEM__INIT;
        it->key = q->keys[i];
        ptrs[i] = it;
        if (i >= res.count) continue;
        const ss_item_result *ir = &res.items[i];
        if (ir->code != SS_OK) {
            it->error = (char *)(ir->error ? ir->error : ss_code_text(ir->code));
        } else if (ir->value) {
            const ss_value *v = ir->value;
            it->data.data = (uint8_t *)v->data;
            it->data.len = v->len;
            if (v->etag) it->etag = v->etag;
            if (v->metadata_count) {
                BulkStateMd *mde = ss_arena_alloc(&a, v->metadata_count * sizeof *mde);
                BulkStateMd **mdp = ss_arena_alloc(&a, v->metadata_count * sizeof *mdp);
                if (!mde || !mdp) {
                    derr_oom(&e);
                    fail_d(r, &e);
                    goto out;
                }
                for (size_t j = 0; j < v->metadata_count; j++) {
                    mde[j] = (BulkStateMd)
                        DAPR__PROTO__RUNTIME__V1__BULK_STATE_ITEM__METADATA_ENTRY__INIT;
                    mde[j].key = (char *)v->metadata[j].name;
                    mde[j].value = (char *)v->metadata[j].value;
                    mdp[j] = &mde[j];
                }
                it->n_metadata = v->metadata_count;
                it->metadata = mdp;
            }
        }
    }
    m.n_items = n;
    m.items = ptrs;
    reply(r, &m.base);
out:
    ss_results_free(&res);
    ss_arena_free(&a);
}

/* SaveState and DeleteBulkState: the same item list, set or deleted. */
static void rpc_write_items(const dserver *s, const char *store_name, StateItem **states, size_t n,
                            bool del, gresult *r)
{
    derr e;
    ss_arena a = {0};
    const dstore *st = ds_store(s, store_name, &e);
    if (!st || !ds_count_ok(s, n, "state items", "ERR_MALFORMED_REQUEST", &e)) {
        fail_d(r, &e);
        return;
    }
    if (n == 0) {
        reply(r, NULL);
        return;
    }
    ss_set_request *sets = del ? NULL : ss_arena_alloc(&a, n * sizeof *sets);
    ss_delete_request *dels = del ? ss_arena_alloc(&a, n * sizeof *dels) : NULL;
    if (!sets && !dels) {
        derr_oom(&e);
        fail_d(r, &e);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char where[64];
        snprintf(where, sizeof where, "item %zu: ", i);
        const char *w = n > 1 ? where : "";
        if (del ? !item_delete(s, st, states[i], &a, &dels[i], &e, w)
                : !item_set(s, st, states[i], &a, &sets[i], &e, w)) {
            fail_d(r, &e);
            goto out;
        }
    }
    if (del ? ds_delete_bulk(st, dels, n, &e) : ds_save(st, sets, n, &e))
        reply(r, NULL);
    else
        fail_d(r, &e);
out:
    ss_arena_free(&a);
}

static void rpc_delete(const dserver *s, const DeleteStateRequest *q, gresult *r)
{
    derr e;
    ss_arena a = {0};
    char kbuf[512];
    const dstore *st = ds_store(s, q->store_name, &e);
    char *k = st ? ds_key(s, st, q->key, strlen(q->key), &a, &e, "", kbuf, sizeof kbuf) : NULL;
    ss_delete_request d = {
        .key = k,
        .etag = q->etag ? q->etag->value : NULL,
        .options = write_options(q->options),
    };
    if (!k) {
        fail_d(r, &e);
    } else if (!md_pairs(&a, (md_entry **)q->metadata, q->n_metadata, &d.metadata,
                         &d.metadata_count)) {
        derr_oom(&e);
        fail_d(r, &e);
    } else if (ds_delete(st, &d, q->key, &e)) {
        reply(r, NULL);
    } else {
        fail_d(r, &e);
    }
    ss_arena_free(&a);
}

static void rpc_transaction(const dserver *s, const TxRequest *q, gresult *r)
{
    derr e;
    ss_arena a = {0};
    const dstore *st = ds_store(s, q->storename, &e);
    size_t n = q->n_operations;
    if (!st || !ds_tx_supported(st, &e) || !ds_tx_check(s, st, n, &e)) {
        fail_d(r, &e);
        return;
    }
    if (n == 0) {
        reply(r, NULL);
        return;
    }
    ss_transaction tx = {0};
    ss_operation *op = ss_arena_alloc(&a, n * sizeof *op);
    if (!op ||
        !md_pairs(&a, (md_entry **)q->metadata, q->n_metadata, &tx.metadata, &tx.metadata_count)) {
        derr_oom(&e);
        fail_d(r, &e);
        goto out;
    }
    static const StateItem none = DAPR__PROTO__COMMON__V1__STATE_ITEM__INIT;
    for (size_t i = 0; i < n; i++) {
        char where[64];
        snprintf(where, sizeof where, "operations[%zu]: ", i);
        const StateItem *it = q->operations[i]->request ? q->operations[i]->request : &none;
        bool ok = ds_tx_kind(q->operations[i]->operationtype, &op[i].kind, &e);
        if (ok && op[i].kind == SS_OP_UPSERT)
            ok = item_set(s, st, it, &a, &op[i].set, &e, where);
        else if (ok)
            ok = item_delete(s, st, it, &a, &op[i].del, &e, where);
        if (!ok) {
            fail_d(r, &e);
            goto out;
        }
    }
    tx.ops = op;
    tx.count = n;
    if (ds_transact(st, &tx, &e))
        reply(r, NULL);
    else
        fail_d(r, &e);
out:
    ss_arena_free(&a);
}

static void rpc_query(const dserver *s, const QueryStateRequest *q, gresult *r)
{
    derr e;
    const dstore *st = ds_store(s, q->store_name, &e);
    if (!st) {
        fail_d(r, &e);
        return;
    }
    /* no driver implements Dapr's query language yet */
    char msg[512];
    snprintf(msg, sizeof msg, "state store %s doesn't support query", st->name);
    fail(r, GRPC_UNIMPLEMENTED, "ERR_STATE_STORE_NOT_SUPPORTED", msg);
}

static void rpc_metadata(const dserver *s, gresult *r)
{
    GetMetadataResponse m = DAPR__PROTO__RUNTIME__V1__GET_METADATA_RESPONSE__INIT;
    size_t n = s->nstores;
    RegisteredComponents *comps = calloc(n ? n : 1, sizeof *comps);
    RegisteredComponents **cptrs = calloc(n ? n : 1, sizeof *cptrs);
    const char *(*caps)[4] = calloc(n ? n : 1, sizeof *caps);
    if (!comps || !cptrs || !caps) {
        fail(r, GRPC_RESOURCE_EXHAUSTED, "ERR_INTERNAL", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const dstore *st = &s->stores[i];
        comps[i] = (RegisteredComponents)DAPR__PROTO__RUNTIME__V1__REGISTERED_COMPONENTS__INIT;
        comps[i].name = st->name;
        comps[i].type = st->type;
        comps[i].version = st->version;
        comps[i].n_capabilities = ds_capabilities(&st->features, caps[i]);
        comps[i].capabilities = (char **)caps[i];
        cptrs[i] = &comps[i];
    }
    m.id = (char *)s->app_id;
    m.runtime_version = SS_VERSION_STRING;
    m.n_registered_components = n;
    m.registered_components = cptrs;
    ExtendedMd ext = DAPR__PROTO__RUNTIME__V1__GET_METADATA_RESPONSE__EXTENDED_METADATA_ENTRY__INIT;
    ExtendedMd *extp = &ext;
    ext.key = "daprRuntimeVersion";
    ext.value = "statestored " SS_VERSION_STRING;
    m.n_extended_metadata = 1;
    m.extended_metadata = &extp;
    reply(r, &m.base);
out:
    free(comps);
    free(cptrs);
    free(caps);
}

/* ---------------------------------------------------------------------------------------- */
/* Dispatch                                                                                  */
/* ---------------------------------------------------------------------------------------- */

typedef enum rpc_id {
    RPC_GET,
    RPC_BULK_GET,
    RPC_SAVE,
    RPC_QUERY,
    RPC_DELETE,
    RPC_DELETE_BULK,
    RPC_TRANSACTION,
    RPC_METADATA,
} rpc_id;

static const struct {
    const char *name;
    rpc_id id;
    const ProtobufCMessageDescriptor *in;
} rpcs[] = {
    {"GetState", RPC_GET, &dapr__proto__runtime__v1__get_state_request__descriptor},
    {"GetBulkState", RPC_BULK_GET, &dapr__proto__runtime__v1__get_bulk_state_request__descriptor},
    {"SaveState", RPC_SAVE, &dapr__proto__runtime__v1__save_state_request__descriptor},
    {"QueryStateAlpha1", RPC_QUERY, &dapr__proto__runtime__v1__query_state_request__descriptor},
    {"DeleteState", RPC_DELETE, &dapr__proto__runtime__v1__delete_state_request__descriptor},
    {"DeleteBulkState", RPC_DELETE_BULK,
     &dapr__proto__runtime__v1__delete_bulk_state_request__descriptor},
    {"ExecuteStateTransaction", RPC_TRANSACTION,
     &dapr__proto__runtime__v1__execute_state_transaction_request__descriptor},
    {"GetMetadata", RPC_METADATA, &dapr__proto__runtime__v1__get_metadata_request__descriptor},
};

void grpc_api_call(const dserver *s, const char *method, const char *token, size_t token_len,
                   const uint8_t *msg, size_t len, gresult *r)
{
    memset(r, 0, sizeof *r);
    size_t i = 0;
    while (i < sizeof rpcs / sizeof rpcs[0] && strcmp(rpcs[i].name, method) != 0) i++;
    if (i == sizeof rpcs / sizeof rpcs[0]) {
        char m[600];
        snprintf(m, sizeof m, "unknown method %.500s for service dapr.proto.runtime.v1.Dapr",
                 method);
        fail(r, GRPC_UNIMPLEMENTED, NULL, m);
        return;
    }
    /* daprd checks the token before anything else, for every method */
    if (s->token && !ds_token_ok(s, token, token_len)) {
        fail(r, GRPC_UNAUTHENTICATED, NULL,
             token ? "authentication error: api token mismatch"
                   : "authentication error: missing api token in request metadata");
        return;
    }
    ProtobufCMessage *in = protobuf_c_message_unpack(rpcs[i].in, NULL, len, msg);
    if (!in) {
        /* protobuf-c does not say what was wrong, only that the bytes are not this message */
        char m[300];
        snprintf(m, sizeof m,
                 "grpc: error unmarshalling request: the %zu-byte message is not a valid %s", len,
                 rpcs[i].in->name);
        fail(r, GRPC_INTERNAL, NULL, m);
        return;
    }
    switch (rpcs[i].id) {
    case RPC_GET:
        rpc_get(s, (const GetStateRequest *)in, r);
        break;
    case RPC_BULK_GET:
        rpc_bulk_get(s, (const GetBulkStateRequest *)in, r);
        break;
    case RPC_SAVE: {
        const SaveStateRequest *q = (const SaveStateRequest *)in;
        rpc_write_items(s, q->store_name, q->states, q->n_states, false, r);
        break;
    }
    case RPC_QUERY:
        rpc_query(s, (const QueryStateRequest *)in, r);
        break;
    case RPC_DELETE:
        rpc_delete(s, (const DeleteStateRequest *)in, r);
        break;
    case RPC_DELETE_BULK: {
        const DeleteBulkStateRequest *q = (const DeleteBulkStateRequest *)in;
        rpc_write_items(s, q->store_name, q->states, q->n_states, true, r);
        break;
    }
    case RPC_TRANSACTION:
        rpc_transaction(s, (const TxRequest *)in, r);
        break;
    case RPC_METADATA:
        rpc_metadata(s, r);
        break;
    }
    protobuf_c_message_free_unpacked(in, NULL);
}

void gresult_free(gresult *r)
{
    if (!r) return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

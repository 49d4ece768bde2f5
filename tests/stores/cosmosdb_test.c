/*
 * cosmosdb_test.c — the azure.cosmosdb driver's own checks against @vercel/cosmosdb-server:
 * Dapr's document layout (id, partitionKey, value as JSON or base64 + isBinary, ttl), the
 * partitionKey metadata, id encoding, transactions' partition rule and what the stand-in can
 * show of them, and the error mapping. The conformance suite covers the rest.
 *
 * Not verifiable on the stand-in (it is said so when run): that a batch whose later operation
 * fails leaves the earlier ones undone (the stand-in's batches are not atomic), and the
 * signature (the stand-in accepts any; cosmos_auth_test checks it against Microsoft's example).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statestore/driver.h"
#include "support/http.h"
#include "unit/check.h"

static const char *url, *mkey, *db, *coll;
static ss_http *http;

/* The raw stored document (the stand-in needs no signature), or NULL. */
static json_t *raw_get(const char *id_escaped, const char *pk)
{
    char u[1024], pkh[512];
    snprintf(u, sizeof u, "%s/dbs/%s/colls/%s/docs/%s", url, db, coll, id_escaped);
    snprintf(pkh, sizeof pkh, "x-ms-documentdb-partitionkey: [\"%s\"]", pk);
    const char *hdrs[] = {pkh, NULL};
    ss_http_response resp = {0};
    ss_error err;
    json_t *j = NULL;
    if (ss_http_perform(http, &(ss_http_request){.url = u, .headers = hdrs}, &resp, &err) ==
            SS_OK &&
        resp.status == 200)
        j = json_loadb(resp.body, resp.body_len, 0, NULL);
    ss_http_response_clear(&resp);
    return j;
}

static bool raw_put(const char *doc, const char *pk)
{
    char u[1024], pkh[512];
    snprintf(u, sizeof u, "%s/dbs/%s/colls/%s/docs", url, db, coll);
    snprintf(pkh, sizeof pkh, "x-ms-documentdb-partitionkey: [\"%s\"]", pk);
    const char *hdrs[] = {pkh, "Content-Type: application/json", "x-ms-documentdb-is-upsert: True",
                          NULL};
    ss_http_response resp = {0};
    ss_error err;
    bool ok =
        ss_http_perform(
            http,
            &(ss_http_request){
                .method = "POST", .url = u, .headers = hdrs, .body = doc, .body_len = strlen(doc)},
            &resp, &err) == SS_OK &&
        resp.status < 300;
    ss_http_response_clear(&resp);
    return ok;
}

static ss_store *open_store(const char *pk_prop)
{
    ss_pair props[] = {{"url", url},
                       {"masterKey", mkey},
                       {"database", db},
                       {"collection", coll},
                       {"partitionKey", pk_prop}};
    ss_config cfg = {
        .driver = "state.azure.cosmosdb", .properties = props, .property_count = pk_prop ? 5 : 4};
    ss_store *s = NULL;
    ss_error err = {0};
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    return s;
}

static bool value_is(ss_store *s, const char *key, const ss_pair *meta, const char *want)
{
    ss_value *v = NULL;
    ss_error err = {0};
    ss_get_request g = {.key = key, .metadata = meta, .metadata_count = meta ? 1 : 0};
    if (ss_get(&v, s, &g, &err) != SS_OK) return false;
    bool ok = want ? v && v->len == strlen(want) && !memcmp(v->data, want, v->len) : v == NULL;
    ss_value_free(v);
    return ok;
}

static ss_code put(ss_store *s, const char *key, const char *val, const ss_pair *meta)
{
    ss_error err = {0};
    ss_set_request r = {.key = key,
                        .value = val,
                        .value_len = strlen(val),
                        .metadata = meta,
                        .metadata_count = meta ? 1 : 0};
    ss_code rc = ss_set(NULL, s, &r, &err);
    if (rc != SS_OK) fprintf(stderr, "set %s: %s\n", key, err.message);
    return rc;
}

int main(void)
{
    url = getenv("SS_TEST_COSMOS_URL");
    mkey = getenv("SS_TEST_COSMOS_KEY");
    db = getenv("SS_TEST_COSMOS_DB");
    coll = getenv("SS_TEST_COSMOS_COLLECTION");
    if (!url || !*url || !mkey || !db || !coll) {
        printf("skip: SS_TEST_COSMOS_URL etc. unset: run scripts/services/cosmosdb.sh start DIR "
               "and source DIR/cosmosdb.env\n");
        return 77;
    }
    http = ss_http_new(&(ss_http_options){0});
    ss_error err = {0};
    char k[96], k2[128];
    snprintf(k, sizeof k, "cdbtest-%lld", (long long)ss_now_unix_ms());
    ss_store *s = open_store(NULL);
    if (!s) return check_done("cosmosdb_test");

    /* A JSON object is stored as JSON (Dapr's rule); the partition key is the key. */
    CHECK_RC(put(s, k, "{\"a\":1,\"b\":[true,null]}", NULL), SS_OK, &err);
    json_t *d = raw_get(k, k);
    CHECK(d != NULL);
    CHECK_STR(json_string_value(json_object_get(d, "id")), k);
    CHECK_STR(json_string_value(json_object_get(d, "partitionKey")), k);
    CHECK(json_is_false(json_object_get(d, "isBinary")));
    CHECK(json_integer_value(json_object_get(json_object_get(d, "value"), "a")) == 1);
    CHECK(json_object_get(d, "ttl") == NULL);
    json_decref(d);

    /* Not an object, or not in compact form: base64 with isBinary, read back byte-exact. */
    const char *others[] = {"\"text\"", "{\"a\": 1}", "\x01\xff", "12345678901234567890"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(k2, sizeof k2, "%s-b%zu", k, i);
        CHECK_RC(put(s, k2, others[i], NULL), SS_OK, &err);
        d = raw_get(k2, k2);
        CHECK(json_is_true(json_object_get(d, "isBinary")));
        CHECK(json_is_string(json_object_get(d, "value")));
        json_decref(d);
        CHECK(value_is(s, k2, NULL, others[i]));
    }

    /* A document as Dapr writes it reads back, with its _etag as the ETag. */
    snprintf(k2, sizeof k2, "%s-dapr", k);
    char doc[512];
    snprintf(doc, sizeof doc,
             "{\"id\":\"%s\",\"partitionKey\":\"%s\",\"value\":{\"x\":[1,2]},\"isBinary\":false}",
             k2, k2);
    CHECK(raw_put(doc, k2));
    d = raw_get(k2, k2);
    ss_value *v = NULL;
    CHECK_RC(ss_get(&v, s, &(ss_get_request){.key = k2}, &err), SS_OK, &err);
    CHECK(v && v->len == 11 && !memcmp(v->data, "{\"x\":[1,2]}", 11));
    CHECK_STR(v ? v->etag : NULL, json_string_value(json_object_get(d, "_etag")));
    ss_value_free(v);
    json_decref(d);

    /* partitionKey metadata chooses the partition; without it the item is elsewhere. */
    ss_pair pa = {"partitionKey", "pA"};
    snprintf(k2, sizeof k2, "%s-pk", k);
    CHECK_RC(put(s, k2, "\"in pA\"", &pa), SS_OK, &err);
    d = raw_get(k2, "pA");
    CHECK_STR(json_string_value(json_object_get(d, "partitionKey")), "pA");
    json_decref(d);
    CHECK(value_is(s, k2, &pa, "\"in pA\""));
    CHECK(value_is(s, k2, NULL, NULL));

    /* Characters Cosmos forbids in ids: stored as ~ss~base64url, invisible to the caller. */
    CHECK_RC(put(s, "dir/file?#", "p", NULL), SS_OK, &err);
    d = raw_get("~ss~ZGlyL2ZpbGU_Iw", "~ss~ZGlyL2ZpbGU_Iw");
    CHECK(d != NULL);
    json_decref(d);
    CHECK(value_is(s, "dir/file?#", NULL, "p"));

    /* TTL: the ttl property (-1 = never, when asked to remove an expiry). */
    snprintf(k2, sizeof k2, "%s-ttl", k);
    ss_pair ttl = {SS_META_TTL, "300"};
    CHECK_RC(put(s, k2, "t", &ttl), SS_OK, &err);
    d = raw_get(k2, k2);
    CHECK(json_integer_value(json_object_get(d, "ttl")) == 300);
    json_decref(d);
    ss_pair nottl = {SS_META_TTL, "-1"};
    CHECK_RC(put(s, k2, "t", &nottl), SS_OK, &err);
    d = raw_get(k2, k2);
    CHECK(json_integer_value(json_object_get(d, "ttl")) == -1);
    json_decref(d);

    /* Transactions: one partition. Different keys without partitionKey metadata are refused. */
    char ta[128], tb[128];
    snprintf(ta, sizeof ta, "%s-ta", k);
    snprintf(tb, sizeof tb, "%s-tb", k);
    ss_operation ops[3] = {
        {.kind = SS_OP_UPSERT, .set = {.key = ta, .value = "1", .value_len = 1}},
        {.kind = SS_OP_UPSERT, .set = {.key = tb, .value = "2", .value_len = 1}},
    };
    CHECK_RC(ss_transact(s, &(ss_transaction){.ops = ops, .count = 2}, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "partitionKey");
    ss_pair pt = {"partitionKey", "pT"};
    CHECK_RC(ss_transact(
                 s, &(ss_transaction){.ops = ops, .count = 2, .metadata = &pt, .metadata_count = 1},
                 &err),
             SS_OK, &err);
    CHECK(value_is(s, ta, &pt, "1") && value_is(s, tb, &pt, "2"));

    /* A failing first operation: ETAG_MISMATCH naming the key, and nothing written. */
    ss_operation bad[2] = {
        {.kind = SS_OP_UPSERT, .set = {.key = ta, .value = "X", .value_len = 1, .etag = "stale"}},
        {.kind = SS_OP_UPSERT, .set = {.key = tb, .value = "Y", .value_len = 1}},
    };
    CHECK_RC(ss_transact(
                 s, &(ss_transaction){.ops = bad, .count = 2, .metadata = &pt, .metadata_count = 1},
                 &err),
             SS_ETAG_MISMATCH, &err);
    CHECK_CONTAINS(err.message, ta);
    CHECK(value_is(s, ta, &pt, "1") && value_is(s, tb, &pt, "2"));

    /* Deleting a missing key inside a transaction succeeds; deleting an existing one works. */
    char tm[128];
    snprintf(tm, sizeof tm, "%s-missing", k);
    ss_operation dels[2] = {{.kind = SS_OP_DELETE, .del = {.key = tm}},
                            {.kind = SS_OP_DELETE, .del = {.key = ta}}};
    CHECK_RC(ss_transact(
                 s,
                 &(ss_transaction){.ops = dels, .count = 2, .metadata = &pt, .metadata_count = 1},
                 &err),
             SS_OK, &err);
    CHECK(value_is(s, ta, &pt, NULL));

    /* A later operation failing: the error is right; the rollback the stand-in cannot show. */
    ss_operation late[2] = {
        {.kind = SS_OP_UPSERT, .set = {.key = ta, .value = "Z", .value_len = 1}},
        {.kind = SS_OP_UPSERT, .set = {.key = tb, .value = "W", .value_len = 1, .etag = "stale"}},
    };
    CHECK_RC(ss_transact(
                 s,
                 &(ss_transaction){.ops = late, .count = 2, .metadata = &pt, .metadata_count = 1},
                 &err),
             SS_ETAG_MISMATCH, &err);
    CHECK_CONTAINS(err.message, tb);
    printf("NOT VERIFIED on the stand-in: rollback of operations before a failing one (its "
           "batches are not atomic; here the first operation %s)\n",
           value_is(s, ta, &pt, NULL) ? "was rolled back" : "stayed applied");
    ss_close(s);

    /* Error mapping: nothing listening → UNAVAILABLE and retryable; a key that is not base64 →
     * INVALID without echoing it; a missing container → the open fails with Cosmos's 404. */
    {
        ss_pair props[] = {{"url", "http://127.0.0.1:1"},
                           {"masterKey", mkey},
                           {"database", db},
                           {"collection", coll}};
        ss_config cfg = {.driver = "azure.cosmosdb", .properties = props, .property_count = 4};
        s = NULL;
        CHECK_RC(ss_open(&s, &cfg, &err), SS_UNAVAILABLE, &err);
        CHECK(err.retryable);
        props[0].value = url;
        props[1].value = "TOPSECRET not base64!";
        CHECK_RC(ss_open(&s, &cfg, &err), SS_INVALID, &err);
        CHECK(strstr(err.message, "TOPSECRET") == NULL);
        props[1].value = mkey;
        props[3].value = "no-such-container";
        CHECK_RC(ss_open(&s, &cfg, &err), SS_BACKEND, &err);
        CHECK_CONTAINS(err.message, "404");
        CHECK(strstr(err.message, mkey) == NULL);
    }
    ss_http_free(http);
    return check_done("cosmosdb_test");
}

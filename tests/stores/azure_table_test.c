/*
 * Azure Table Storage driver specifics.
 *
 * Part 1 (always runs): SharedKey signing. The string to sign follows the Table-service layout
 * Microsoft documents ("Authorize with Shared Key": VERB, Content-MD5, Content-Type, Date,
 * CanonicalizedResource); Microsoft publishes no key+signature pair for it, so the expected
 * signatures were computed independently with `openssl dgst -sha256 -mac HMAC` over the same
 * text and the emulator's documented key. Azurite, which checks signatures, is the other half
 * (part 3). Error mapping against a canned-answer server: ServerBusy/500 retryable, 412 ETag
 * mismatch, 403 authentication failure without the key.
 *
 * Part 3 (needs SS_TEST_AZURITE_*, from scripts/services/azurite.sh) against Azurite: a wrong key
 * is refused clearly; Dapr's layout read back raw (PartitionKey/RowKey split at "||", Value);
 * forbidden key characters escaped reversibly; "a" and "a||" distinct; ETags byte for byte;
 * request metadata partitionKey; the same-partition rule of transactions; binary values.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynamodb_fake_server.h"
#include "statestore.h"
#include "store_check.h"
#include "support/azure_sharedkey.h"
#include "support/http.h"

#define EMU_KEY                                                                                    \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static ss_code get_value(ss_store *s, const char *key, const ss_pair *meta, size_t nmeta,
                         ss_value **out, ss_error *err)
{
    *out = NULL;
    ss_get_request r = {.key = key, .metadata = meta, .metadata_count = nmeta};
    return ss_get(out, s, &r, err);
}

static void test_sharedkey(void)
{
    ss_azure_key k;
    ss_error err;
    CHECK(ss_azure_key_init(&k, "devstoreaccount1", EMU_KEY, &err) == SS_OK, "%s", err.message);

    char *sts = ss_azure_table_string_to_sign(
        "devstoreaccount1", "PUT", NULL, "application/json", "Sun, 29 Nov 2026 23:30:15 GMT",
        "/devstoreaccount1/state(PartitionKey='p',RowKey='k1')", NULL);
    CHECK(sts && strcmp(sts, "PUT\n\napplication/json\nSun, 29 Nov 2026 23:30:15 GMT\n"
                             "/devstoreaccount1/devstoreaccount1/state(PartitionKey='p',"
                             "RowKey='k1')") == 0,
          "string to sign: %s", sts ? sts : "(null)");
    free(sts);
    char auth[256];
    CHECK(ss_azure_table_authorization(&k, "PUT", NULL, "application/json",
                                       "Sun, 29 Nov 2026 23:30:15 GMT",
                                       "/devstoreaccount1/state(PartitionKey='p',RowKey='k1')",
                                       NULL, auth, sizeof auth, &err) == SS_OK,
          "%s", err.message);
    CHECK(strcmp(auth, "SharedKey devstoreaccount1:pG2uE4YAit6lvO4GNcYcqBZUNe9MFU4gLWWJNH8X/Tg=") ==
              0,
          "authorization: %s", auth);
    ss_azure_key_clear(&k);

    /* The shape of Microsoft's documented Table example (GET of /mytable()), with the same key. */
    CHECK(ss_azure_key_init(&k, "myaccount", EMU_KEY, &err) == SS_OK, "%s", err.message);
    CHECK(ss_azure_table_authorization(&k, "GET", NULL, NULL, "Wed, 10 Jul 2013 22:08:24 GMT",
                                       "/mytable()", NULL, auth, sizeof auth, &err) == SS_OK,
          "%s", err.message);
    CHECK(strcmp(auth, "SharedKey myaccount:1TU05TeEYiHjUEZaBzMxA726oJTj2NtmxzQ1tAyco6c=") == 0,
          "authorization: %s", auth);
    ss_azure_key_clear(&k);

    sts = ss_azure_table_string_to_sign("acct", "GET", NULL, NULL, "D", "/x", "list");
    CHECK(sts && strcmp(sts, "GET\n\n\nD\n/acct/x?comp=list") == 0, "comp: %s",
          sts ? sts : "(null)");
    free(sts);

    char date[40];
    ss_azure_rfc1123(1796081415, date, sizeof date);
    CHECK(strcmp(date, "Mon, 30 Nov 2026 23:30:15 GMT") == 0, "rfc1123: %s", date);

    CHECK(ss_azure_key_init(&k, "acct", "not base64!!", &err) == SS_INVALID &&
              strstr(err.message, "acct") && !strstr(err.message, "not base64!!"),
          "bad key: %s", err.message);
}

static void test_errors_fake(void)
{
    fake *f = fake_start();
    CHECK(f != NULL, "fake server");
    if (!f) return;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/acct", fake_port(f));
    ss_pair props[] = {{"accountName", "acct"},
                       {"accountKey", EMU_KEY},
                       {"tableName", "state"},
                       {"serviceURL", url},
                       {"skipCreateTable", "true"}};
    ss_config cfg = {
        .driver = "state.azure.tablestorage", .properties = props, .property_count = 5};
    ss_store *s = NULL;
    ss_error err;
    ss_code rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_OK, "open: %s", err.message);
    if (!s) {
        fake_stop(f);
        return;
    }
    ss_value *v = NULL;
    fake_queue(
        f, 503, NULL,
        "{\"odata.error\":{\"code\":\"ServerBusy\",\"message\":{\"lang\":\"en-US\",\"value\":"
        "\"The server is busy.\\nRequestId:x\"}}}");
    rc = get_value(s, "k", NULL, 0, &v, &err);
    CHECK(rc == SS_UNAVAILABLE && err.retryable && strstr(err.message, "ServerBusy"),
          "throttled: %s %s", ss_code_name(rc), err.message);
    ss_value_free(v);
    fake_queue(f, 500, NULL,
               "{\"odata.error\":{\"code\":\"InternalError\",\"message\":{\"lang\":\"en-US\","
               "\"value\":\"The server encountered an internal error.\"}}}");
    rc = get_value(s, "k", NULL, 0, &v, &err);
    CHECK(rc == SS_UNAVAILABLE && err.retryable, "500: %s", ss_code_name(rc));
    ss_value_free(v);

    /* The request it sent: SharedKey over what was sent, the OData headers. */
    char *raw = fake_last_request(f);
    CHECK(raw && strstr(raw, "GET /acct/state(PartitionKey='k',RowKey='') HTTP/1.1"),
          "request line: %.120s", raw ? raw : "");
    CHECK(raw && strstr(raw, "Authorization: SharedKey acct:") && strstr(raw, "x-ms-date: ") &&
              strstr(raw, "x-ms-version: 2019-02-02"),
          "headers: %s", raw ? raw : "");
    free(raw);

    fake_queue(f, 412, NULL,
               "{\"odata.error\":{\"code\":\"UpdateConditionNotSatisfied\",\"message\":{\"lang\":"
               "\"en-US\",\"value\":\"The update condition specified in the request was not "
               "satisfied.\"}}}");
    rc = ss_set(NULL, s,
                &(ss_set_request){.key = "k",
                                  .value = "v",
                                  .value_len = 1,
                                  .etag = "W/\"datetime'2026-11-29T22%3A30%3A15.2684803Z'\""},
                &err);
    CHECK(rc == SS_ETAG_MISMATCH, "412: %s", ss_code_name(rc));
    raw = fake_last_request(f);
    CHECK(raw && strstr(raw, "If-Match: W/\"datetime'2026-11-29T22%3A30%3A15.2684803Z'\"\r\n"),
          "If-Match byte for byte: %s", raw ? raw : "");
    free(raw);

    fake_queue(f, 403, NULL,
               "{\"odata.error\":{\"code\":\"AuthenticationFailed\",\"message\":{\"lang\":"
               "\"en-US\",\"value\":\"Server failed to authenticate the request. " EMU_KEY "\"}}}");
    rc = get_value(s, "k", NULL, 0, &v, &err);
    CHECK(rc == SS_BACKEND && !err.retryable && strstr(err.message, "authentication failed"),
          "403: %s %s", ss_code_name(rc), err.message);
    CHECK(!strstr(err.message, EMU_KEY), "the key leaked: %s", err.message);
    ss_value_free(v);

    /* Garbage ETags never reach the wire. */
    size_t before = fake_count(f);
    rc = ss_set(NULL, s, &(ss_set_request){.key = "k", .value = "v", .value_len = 1, .etag = " "},
                &err);
    CHECK(rc == SS_ETAG_INVALID, "blank etag: %s", ss_code_name(rc));
    CHECK(fake_count(f) == before, "a garbage ETag was sent");
    ss_close(s);
    fake_stop(f);

    ss_pair bad[] = {{"accountName", "acct"}, {"accountKey", EMU_KEY}, {"tableName", "t1"}};
    cfg.properties = bad;
    cfg.property_count = 3;
    rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_INVALID && strstr(err.message, "tableName"), "short table name: %s",
          err.message);
    ss_close(s);
}

/* ------------------------------------------------------------------------------------------ */
/* Azurite                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static const char *ep, *account, *key;

static ss_store *open_azurite(const char *table, const char *partition, ss_error *err)
{
    ss_pair props[] = {{"accountName", account},
                       {"accountKey", key},
                       {"tableName", table},
                       {"serviceURL", ep},
                       {"partitionKey", partition}};
    ss_config cfg = {
        .driver = "azure.tablestorage", .properties = props, .property_count = partition ? 5 : 4};
    ss_store *s = NULL;
    ss_open(&s, &cfg, err);
    return s;
}

/* A raw, signed GET of one entity; returns the parsed body (NULL on 404) and its ETag header. */
static json_t *raw_entity(const char *table, const char *pk_url, const char *rk_url, char **etag)
{
    ss_azure_key k;
    ss_error err;
    if (ss_azure_key_init(&k, account, key, &err) != SS_OK) return NULL;
    const char *base_path = strchr(strstr(ep, "://") + 3, '/');
    char path[2048], url[2300], date[40], auth[256], h_date[64], h_auth[300];
    snprintf(path, sizeof path, "%s/%s(PartitionKey='%s',RowKey='%s')", base_path, table, pk_url,
             rk_url);
    snprintf(url, sizeof url, "%.*s%s", (int)(base_path - ep), ep, path);
    ss_azure_rfc1123(time(NULL), date, sizeof date);
    ss_azure_table_authorization(&k, "GET", NULL, NULL, date, path, NULL, auth, sizeof auth, &err);
    ss_azure_key_clear(&k);
    snprintf(h_date, sizeof h_date, "x-ms-date: %s", date);
    snprintf(h_auth, sizeof h_auth, "Authorization: %s", auth);
    const char *hdrs[] = {h_date, h_auth, "x-ms-version: 2019-02-02",
                          "Accept: application/json;odata=minimalmetadata", NULL};
    ss_http *http = ss_http_new(NULL);
    ss_http_request req = {.method = "GET", .url = url, .headers = hdrs, .capture_header = "ETag"};
    ss_http_response resp;
    json_t *j = NULL;
    if (etag) *etag = NULL;
    if (ss_http_perform(http, &req, &resp, &err) == SS_OK && resp.status == 200) {
        j = json_loadb(resp.body, resp.body_len, JSON_ALLOW_NUL, NULL);
        if (etag && resp.header) *etag = strdup(resp.header);
    }
    ss_http_response_clear(&resp);
    ss_http_free(http);
    return j;
}

static const char *jstr(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

/* Undoes the driver's key escaping (%XX -> byte), as any reader of the table could. */
static void unescape(const char *in, char *out)
{
    while (*in) {
        unsigned v;
        if (in[0] == '%' && sscanf(in + 1, "%2x", &v) == 1) {
            *out++ = (char)v;
            in += 3;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
}

static void part_azurite(void)
{
    char table[32];
    snprintf(table, sizeof table, "aztest%lld", (long long)time(NULL) % 1000000000);
    ss_error err;

    /* A wrong key: Azurite refuses the signature; the message says so, without the key. */
    const char *wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5";
    ss_pair props[] = {
        {"accountName", account}, {"accountKey", wrong}, {"tableName", table}, {"serviceURL", ep}};
    ss_config cfg = {.driver = "azure.tablestorage", .properties = props, .property_count = 4};
    ss_store *bad = NULL;
    ss_code rc = ss_open(&bad, &cfg, &err);
    CHECK(rc == SS_BACKEND && strstr(err.message, "authentication failed") &&
              !strstr(err.message, wrong),
          "wrong key: %s %s", ss_code_name(rc), err.message);
    ss_close(bad);

    ss_store *s = open_azurite(table, NULL, &err);
    CHECK(s != NULL, "open (Dapr layout): %s", err.message);
    if (!s) return;
    CHECK(ss_ping(s, &err) == SS_OK, "ping: %s", err.message);

    /* Dapr's layout: "app||k1" -> ("app", "k1"); "solo" -> ("solo", ""). */
    char *etag = NULL;
    rc = ss_set(&etag, s, &(ss_set_request){.key = "app||k1", .value = "\"v1\"", .value_len = 4},
                &err);
    CHECK(rc == SS_OK && etag, "set: %s", err.message);
    char *raw_etag = NULL;
    json_t *e = raw_entity(table, "app", "k1", &raw_etag);
    CHECK(e && jstr(e, "Value") && strcmp(jstr(e, "Value"), "\"v1\"") == 0, "Value of app||k1");
    CHECK(etag && raw_etag && strcmp(etag, raw_etag) == 0, "ETag byte for byte: %s vs %s",
          etag ? etag : "-", raw_etag ? raw_etag : "-");
    json_decref(e);
    free(raw_etag);
    ss_free(etag);
    rc = ss_set(NULL, s, &(ss_set_request){.key = "solo", .value = "x", .value_len = 1}, &err);
    e = raw_entity(table, "solo", "", NULL);
    CHECK(rc == SS_OK && e && strcmp(jstr(e, "Value"), "x") == 0, "solo key layout");
    json_decref(e);

    /* "a" and "a||" are different keys. */
    ss_set(NULL, s, &(ss_set_request){.key = "a", .value = "plain", .value_len = 5}, &err);
    ss_set(NULL, s, &(ss_set_request){.key = "a||", .value = "piped", .value_len = 5}, &err);
    ss_value *v = NULL;
    get_value(s, "a", NULL, 0, &v, &err);
    CHECK(v && strcmp(v->data, "plain") == 0, "a");
    ss_value_free(v);
    get_value(s, "a||", NULL, 0, &v, &err);
    CHECK(v && strcmp(v->data, "piped") == 0, "a||");
    ss_value_free(v);

    /* Forbidden characters are escaped %XX in the stored key, and decode back exactly. */
    const char *odd = "p||sl/ash\\back#hash?q%pct\x01\x7f"
                      "c1\xc2\x85"
                      "end";
    rc = ss_set(NULL, s, &(ss_set_request){.key = odd, .value = "odd", .value_len = 3}, &err);
    CHECK(rc == SS_OK, "odd key: %s", err.message);
    e = raw_entity(table, "p",
                   "sl%252Fash%255Cback%2523hash%253Fq%2525pct%2501%257Fc1%25C2%2585end", NULL);
    CHECK(e != NULL, "odd key stored escaped");
    if (e) {
        char dec[256];
        unescape(jstr(e, "RowKey"), dec);
        CHECK(strcmp(dec, strstr(odd, "||") + 2) == 0, "unescaped RowKey %s", dec);
    }
    json_decref(e);
    get_value(s, odd, NULL, 0, &v, &err);
    CHECK(v && strcmp(v->data, "odd") == 0, "odd key read back");
    ss_value_free(v);

    /* Binary values are Edm.Binary. */
    rc = ss_set(NULL, s, &(ss_set_request){.key = "app||bin", .value = "\xff\x00", .value_len = 2},
                &err);
    e = raw_entity(table, "app", "bin", NULL);
    CHECK(rc == SS_OK && e && strcmp(jstr(e, "Value@odata.type"), "Edm.Binary") == 0 &&
              strcmp(jstr(e, "Value"), "/wA=") == 0,
          "binary layout");
    json_decref(e);

    /* Request metadata partitionKey picks the partition (RowKey = the whole key). */
    ss_pair pk = {"partitionKey", "tenant7"};
    rc = ss_set(
        NULL, s,
        &(ss_set_request){
            .key = "m||k", .value = "m", .value_len = 1, .metadata = &pk, .metadata_count = 1},
        &err);
    e = raw_entity(table, "tenant7", "m%7C%7Ck", NULL);
    CHECK(rc == SS_OK && e, "metadata partition: %s", err.message);
    json_decref(e);
    get_value(s, "m||k", NULL, 0, &v, &err);
    CHECK(!v, "found without the metadata");
    ss_value_free(v);
    get_value(s, "m||k", &pk, 1, &v, &err);
    CHECK(v && strcmp(v->data, "m") == 0, "found with the metadata");
    ss_value_free(v);

    /* Transactions: one partition works and is atomic; two partitions are refused up front. */
    ss_operation ops[3] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "app||t1", .value = "1", .value_len = 1}},
        {.kind = SS_OP_UPSERT, .set = {.key = "app||t2", .value = "2", .value_len = 1}},
        {.kind = SS_OP_DELETE, .del = {.key = "app||k1"}},
    };
    rc = ss_transact(s, &(ss_transaction){.ops = ops, .count = 3}, &err);
    CHECK(rc == SS_OK, "one-partition tx: %s", err.message);
    get_value(s, "app||k1", NULL, 0, &v, &err);
    CHECK(!v, "app||k1 deleted by the tx");
    ss_value_free(v);
    ss_operation cross[2] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "app||t3", .value = "3", .value_len = 1}},
        {.kind = SS_OP_UPSERT, .set = {.key = "other||t3", .value = "3", .value_len = 1}},
    };
    rc = ss_transact(s, &(ss_transaction){.ops = cross, .count = 2}, &err);
    CHECK(rc == SS_INVALID && strstr(err.message, "one partition"), "cross-partition: %s %s",
          ss_code_name(rc), err.message);
    get_value(s, "app||t3", NULL, 0, &v, &err);
    CHECK(!v, "a refused tx wrote something");
    ss_value_free(v);
    /* A stale ETag in the last op rolls back the first (Azurite's changesets are atomic). */
    char *cur = NULL;
    ss_set(&cur, s, &(ss_set_request){.key = "app||t2", .value = "2b", .value_len = 2}, &err);
    ss_operation stale[2] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "app||t4", .value = "4", .value_len = 1}},
        {.kind = SS_OP_UPSERT,
         .set = {.key = "app||t2",
                 .value = "x",
                 .value_len = 1,
                 .etag = "W/\"datetime'2001-01-01T00%3A00%3A00.0000000Z'\""}},
    };
    rc = ss_transact(s, &(ss_transaction){.ops = stale, .count = 2}, &err);
    CHECK(rc == SS_ETAG_MISMATCH &&
              strstr(err.message, "): transact: operation 1: set \"app||t2\": ") &&
              !strstr(err.message, "on key"),
          "stale tx, op and key named once by the core: %s %s", ss_code_name(rc), err.message);
    get_value(s, "app||t4", NULL, 0, &v, &err);
    CHECK(!v, "rolled back");
    ss_value_free(v);
    ss_free(cur);
    ss_close(s);

    /* The partitionKey property: every key in one partition, any keys in one transaction. */
    s = open_azurite(table, "shared", &err);
    CHECK(s != NULL, "open (partitionKey): %s", err.message);
    if (s) {
        ss_operation two[2] = {
            {.kind = SS_OP_UPSERT, .set = {.key = "x1", .value = "1", .value_len = 1}},
            {.kind = SS_OP_UPSERT, .set = {.key = "y||2", .value = "2", .value_len = 1}},
        };
        rc = ss_transact(s, &(ss_transaction){.ops = two, .count = 2}, &err);
        CHECK(rc == SS_OK, "tx in the property's partition: %s", err.message);
        e = raw_entity(table, "shared", "y%7C%7C2", NULL);
        CHECK(e != NULL, "y||2 in partition shared");
        json_decref(e);
        ss_close(s);
    }
}

int main(void)
{
    test_sharedkey();
    test_errors_fake();
    ep = getenv("SS_TEST_AZURITE_ENDPOINT");
    account = getenv("SS_TEST_AZURITE_ACCOUNT");
    key = getenv("SS_TEST_AZURITE_KEY");
    if (ep && *ep && account && *account && key && *key) {
        part_azurite();
    } else {
        printf("Azurite part skipped: SS_TEST_AZURITE_ENDPOINT/ACCOUNT/KEY are not set (run "
               "scripts/services/azurite.sh start DIR and source DIR/azurite.env)\n");
    }
    return check_summary("azure_table_test");
}

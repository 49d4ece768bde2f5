/*
 * firestore_test.c — the gcp.firestore driver's own checks against the Datastore emulator:
 * the data layout Dapr's component reads and writes (kind, key name, "Value", noindex), values
 * Datastore cannot hold as text, reserved key names, the hidden TTL property, and the error
 * mapping (unreachable endpoint → retryable, missing or bad credentials → clear error without
 * the key). The conformance suite covers the rest.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statestore/driver.h"
#include "support/http.h"
#include "unit/check.h"

static const char *endpoint, *project;
static ss_http *http;

/* A raw Datastore REST call, as a test's independent view of what is stored. */
static json_t *raw(const char *method, const char *body)
{
    char url[512];
    snprintf(url, sizeof url, "http://%s/v1/projects/%s:%s", endpoint, project, method);
    json_t *b = json_loads(body, 0, NULL), *out = NULL;
    long status = 0;
    ss_error err;
    if (!b || ss_http_post_json(http, url, NULL, b, &status, &out, NULL, &err) != SS_OK ||
        status != 200) {
        fprintf(stderr, "raw %s failed (HTTP %ld)\n", method, status);
        json_decref(out);
        out = NULL;
    }
    json_decref(b);
    return out;
}

/* The raw entity result of kind/name, or NULL. */
static json_t *raw_lookup(const char *kind, const char *name)
{
    char body[1024];
    snprintf(body, sizeof body, "{\"keys\":[{\"path\":[{\"kind\":\"%s\",\"name\":\"%s\"}]}]}", kind,
             name);
    json_t *r = raw("lookup", body);
    json_t *res = json_incref(json_array_get(json_object_get(r, "found"), 0));
    json_decref(r);
    return res;
}

static const json_t *prop(const json_t *res, const char *name)
{
    return json_object_get(json_object_get(json_object_get(res, "entity"), "properties"), name);
}

static ss_store *open_store(const char *kind, const char *noindex)
{
    ss_pair props[] = {{"endpoint", endpoint},
                       {"project_id", project},
                       {"entity_kind", kind},
                       {"noindex", noindex}};
    ss_config cfg = {.driver = "state.gcp.firestore", .properties = props, .property_count = 4};
    ss_store *s = NULL;
    ss_error err = {0};
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    return s;
}

int main(void)
{
    endpoint = getenv("SS_TEST_DATASTORE_ENDPOINT");
    project = getenv("SS_TEST_DATASTORE_PROJECT");
    if (!endpoint || !*endpoint || !project || !*project) {
        printf("skip: Datastore emulator not installed on this machine (google-cloud-cli is not "
               "in Debian), or not started: run scripts/services/datastore.sh start DIR and "
               "source DIR/datastore.env\n");
        return 77;
    }
    http = ss_http_new(&(ss_http_options){0});
    ss_error err = {0};
    char key[128], *etag = NULL;
    snprintf(key, sizeof key, "fstest-%lld", (long long)ss_now_unix_ms());

    /* Dapr's layout: kind DaprState, key name = the key, "Value" as an indexed string. */
    ss_store *s = open_store("", "false");
    if (!s) return check_done("firestore_test");
    ss_set_request set = {.key = key, .value = "{\"a\":1}", .value_len = 7};
    CHECK_RC(ss_set(&etag, s, &set, &err), SS_OK, &err);
    json_t *res = raw_lookup("DaprState", key);
    CHECK(res != NULL);
    CHECK_STR(json_string_value(json_object_get(prop(res, "Value"), "stringValue")), "{\"a\":1}");
    CHECK(!json_is_true(json_object_get(prop(res, "Value"), "excludeFromIndexes")));
    CHECK(prop(res, "ttlExpireTime") == NULL);
    CHECK_STR(json_string_value(json_object_get(res, "version")), etag);
    json_decref(res);
    ss_free(etag);

    /* An entity as Dapr's component writes it (only "Value") reads back, its version the ETag. */
    char dkey[160], body[1024];
    snprintf(dkey, sizeof dkey, "%s-dapr", key);
    snprintf(body, sizeof body,
             "{\"mode\":\"NON_TRANSACTIONAL\",\"mutations\":[{\"upsert\":{\"key\":{\"path\":[{"
             "\"kind\":\"DaprState\",\"name\":\"%s\"}]},\"properties\":{\"Value\":{"
             "\"stringValue\":\"written by dapr\"}}}}]}",
             dkey);
    json_t *c = raw("commit", body);
    const char *ver = json_string_value(
        json_object_get(json_array_get(json_object_get(c, "mutationResults"), 0), "version"));
    ss_value *v = NULL;
    CHECK_RC(ss_get(&v, s, &(ss_get_request){.key = dkey}, &err), SS_OK, &err);
    CHECK(v && v->len == 15 && !memcmp(v->data, "written by dapr", 15));
    CHECK_STR(v ? v->etag : NULL, ver);
    ss_value_free(v);
    json_decref(c);

    /* Bytes that are not UTF-8 text go into "Value" as a blob and come back byte-exact. */
    char bkey[160];
    snprintf(bkey, sizeof bkey, "%s-bin", key);
    CHECK_RC(ss_set(NULL, s,
                    &(ss_set_request){.key = bkey, .value = "\xff\x00\x01", .value_len = 3}, &err),
             SS_OK, &err);
    res = raw_lookup("DaprState", bkey);
    CHECK_STR(json_string_value(json_object_get(prop(res, "Value"), "blobValue")), "/wAB");
    json_decref(res);
    v = NULL;
    CHECK_RC(ss_get(&v, s, &(ss_get_request){.key = bkey}, &err), SS_OK, &err);
    CHECK(v && v->len == 3 && !memcmp(v->data, "\xff\x00\x01", 3));
    ss_value_free(v);

    /* A reserved key name (__x__) is stored encoded, and still reads back under its own key. */
    CHECK_RC(ss_set(NULL, s, &(ss_set_request){.key = "__reserved__", .value = "r", .value_len = 1},
                    &err),
             SS_OK, &err);
    res = raw_lookup("DaprState", "~ss~X19yZXNlcnZlZF9f");
    CHECK(res != NULL);
    json_decref(res);
    v = NULL;
    CHECK_RC(ss_get(&v, s, &(ss_get_request){.key = "__reserved__"}, &err), SS_OK, &err);
    CHECK(v && v->len == 1 && v->data[0] == 'r');
    ss_value_free(v);

    /* TTL: an unindexed timestamp property, not part of the value; reported as ttlExpireTime. */
    char tkey[160];
    snprintf(tkey, sizeof tkey, "%s-ttl", key);
    ss_pair ttl = {SS_META_TTL, "100"};
    CHECK_RC(
        ss_set(
            NULL, s,
            &(ss_set_request){
                .key = tkey, .value = "t", .value_len = 1, .metadata = &ttl, .metadata_count = 1},
            &err),
        SS_OK, &err);
    res = raw_lookup("DaprState", tkey);
    CHECK(json_is_string(json_object_get(prop(res, "ttlExpireTime"), "timestampValue")));
    CHECK(json_is_true(json_object_get(prop(res, "ttlExpireTime"), "excludeFromIndexes")));
    json_decref(res);
    v = NULL;
    CHECK_RC(ss_get(&v, s, &(ss_get_request){.key = tkey}, &err), SS_OK, &err);
    CHECK(v && v->len == 1 && ss_value_meta(v, SS_META_TTL_EXPIRE) != NULL);
    ss_value_free(v);
    ss_close(s);

    /* entity_kind and noindex: another kind, "Value" excluded from indexes. */
    s = open_store("CustomKind", "true");
    CHECK_RC(ss_set(NULL, s, &(ss_set_request){.key = key, .value = "x", .value_len = 1}, &err),
             SS_OK, &err);
    res = raw_lookup("CustomKind", key);
    CHECK(json_is_true(json_object_get(prop(res, "Value"), "excludeFromIndexes")));
    json_decref(res);
    ss_close(s);

    /* Nothing listening: the call fails as UNAVAILABLE, retryable. */
    {
        ss_pair props[] = {{"endpoint", "127.0.0.1:1"}, {"project_id", project}};
        ss_config cfg = {.driver = "gcp.firestore", .properties = props, .property_count = 2};
        s = NULL;
        CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
        CHECK_RC(ss_ping(s, &err), SS_UNAVAILABLE, &err);
        CHECK(err.retryable);
        ss_close(s);
    }

    /* Real Google without credentials, or with a key that is not one: INVALID, key not echoed. */
    unsetenv("DATASTORE_EMULATOR_HOST");
    {
        ss_pair props[] = {{"project_id", project}};
        ss_config cfg = {.driver = "gcp.firestore", .properties = props, .property_count = 1};
        s = NULL;
        CHECK_RC(ss_open(&s, &cfg, &err), SS_INVALID, &err);
        CHECK_CONTAINS(err.message, "private_key");
        ss_pair props2[] = {{"project_id", project},
                            {"client_email", "a@b"},
                            {"private_key", "-----BEGIN PRIVATE KEY-----\nTOPSECRET\n"}};
        ss_config cfg2 = {.driver = "gcp.firestore", .properties = props2, .property_count = 3};
        CHECK_RC(ss_open(&s, &cfg2, &err), SS_INVALID, &err);
        CHECK(strstr(err.message, "TOPSECRET") == NULL);
    }
    ss_http_free(http);
    return check_done("firestore_test");
}

/*
 * couchbase_test — the couchbase driver against CouchbaseMock with two nodes
 * (scripts/services/couchbase.sh; skips without SS_TEST_COUCHBASE_URL): keys spread over both
 * nodes by vBucket (single gets and pipelined bulk gets per node), KV bootstrap (couchbase://)
 * through GET_CLUSTER_CONFIG, durability through OBSERVE on the replica.
 * Not here: NOT_MY_VBUCKET. The mock's failover/respawn commands leave nodes that time out or
 * refuse connections while its config still names them, and regen_vbcoords does not move
 * vBuckets, so no mock command makes a node answer NOT_MY_VBUCKET to a live map.
 */
#include "store_check.h"

#include <curl/curl.h>
#include <jansson.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 200

static const char *url;
static char keys[NKEYS][32];

typedef struct body {
    char buf[65536];
    size_t len;
} body;

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    body *b = ud;
    size_t k = sz * n;
    if (b && b->len + k < sizeof b->buf) {
        memcpy(b->buf + b->len, p, k);
        b->len += k;
        b->buf[b->len] = 0;
    }
    return k;
}

/* GET <url><path>; true on HTTP 200, the body in *b (may be NULL). */
static bool http_get(const char *path, body *b)
{
    char u[512];
    snprintf(u, sizeof u, "%s%s", url, path);
    CURL *c = curl_easy_init();
    long status = 0;
    if (b) b->len = 0;
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    bool ok = curl_easy_perform(c) == CURLE_OK &&
              curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200;
    curl_easy_cleanup(c);
    return ok;
}

/* One mock control command (GET <url>/mock/<cmd>?...). */
static bool mock(const char *cmd)
{
    char path[256];
    snprintf(path, sizeof path, "/mock/%s", cmd);
    return http_get(path, NULL);
}

/* The bucket `protected` (password `secret`) over SASL PLAIN: the mock's SCRAM computes another
 * proof than RFC 5802/7677 (it answers ",e=failed" with a success status), so SCRAM is checked
 * against RFC 7677's test vector in couchbase_proto_test instead. A wrong password fails. */
static void test_auth(void)
{
    CHECK(mock("set_sasl_mechanisms?mechs=%5B%22PLAIN%22%5D"), "mock: PLAIN only");
    /* REST only: the mock gives each bucket its own KV ports (real servers share one and pick
     * the bucket with SELECT_BUCKET), and the REST config of `protected` needs the password
     * too (HTTP basic auth). */
    const char *urls[1] = {url};
    for (int i = 0; i < 1; i++) {
        ss_pair props[] = {{"couchbaseURL", urls[i]},
                           {"bucketName", "protected"},
                           {"username", "protected"},
                           {"password", "secret"}};
        ss_config cfg = {.driver = "couchbase", .properties = props, .property_count = 4};
        ss_store *s = NULL;
        ss_error err;
        ss_code rc = ss_open(&s, &cfg, &err);
        CHECK(rc == SS_OK, "open %s with a password: %s: %s", urls[i], ss_code_name(rc),
              err.message);
        if (s) {
            CHECK(set_kv(s, keys[0], "\"p\"", NULL, NULL, NULL, NULL, &err) == SS_OK, "set: %s",
                  err.message);
            ss_delete_request d = {.key = keys[0]};
            ss_delete(s, &d, &err);
        }
        ss_close(s);
        props[3].value = "wrong";
        s = NULL;
        rc = ss_open(&s, &cfg, &err);
        CHECK(rc != SS_OK && s == NULL, "open %s with a wrong password: %s", urls[i],
              ss_code_name(rc));
        ss_close(s);
    }
    mock("set_sasl_mechanisms?mechs=%5B%22SCRAM-SHA512%22%2C%22SCRAM-SHA256%22%2C%22SCRAM-"
         "SHA1%22%2C%22PLAIN%22%5D");
}

static ss_store *open_store(const char *u, const char *repl)
{
    ss_pair props[] = {{"couchbaseURL", u},
                       {"bucketName", "default"},
                       {"numReplicasDurableReplication", repl ? repl : "0"}};
    ss_config cfg = {.driver = "couchbase", .properties = props, .property_count = 3};
    ss_store *s = NULL;
    ss_error err;
    ss_code rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_OK, "open %s: %s: %s", u, ss_code_name(rc), err.message);
    return s;
}

static void write_all(ss_store *s, const char *tag)
{
    for (int i = 0; i < NKEYS; i++) {
        ss_error err;
        ss_code rc = set_kv(s, keys[i], tag, NULL, NULL, NULL, NULL, &err);
        CHECK(rc == SS_OK, "set %s: %s: %s", keys[i], ss_code_name(rc), err.message);
    }
}

static void read_all(ss_store *s, const char *tag)
{
    int bad = 0;
    for (int i = 0; i < NKEYS; i++) {
        ss_value *v = NULL;
        ss_error err;
        ss_get_request g = {.key = keys[i]};
        ss_code rc = ss_get(&v, s, &g, &err);
        if (rc != SS_OK || !v || v->len != strlen(tag) || memcmp(v->data, tag, v->len) != 0) {
            if (!bad++)
                fprintf(stderr, "get %s: %s: %s\n", keys[i], ss_code_name(rc),
                        rc  ? err.message
                        : v ? "other value"
                            : "not found");
        }
        ss_value_free(v);
    }
    CHECK(bad == 0, "%d of %d keys not read back as \"%s\"", bad, NKEYS, tag);
    /* And all at once (pipelined per node). */
    ss_get_request g[NKEYS];
    for (int i = 0; i < NKEYS; i++) g[i] = (ss_get_request){.key = keys[i]};
    ss_results res = {0};
    ss_error err;
    CHECK(ss_bulk_get(&res, s, g, NKEYS, NULL, &err) == SS_OK, "bulk get: %s", err.message);
    bad = 0;
    for (size_t i = 0; i < res.count; i++)
        bad += !res.items[i].value || res.items[i].value->len != strlen(tag);
    CHECK(bad == 0, "bulk get: %d keys wrong", bad);
    ss_results_free(&res);
}

int main(void)
{
    url = getenv("SS_TEST_COUCHBASE_URL");
    if (!url || !*url) {
        printf("skip: SS_TEST_COUCHBASE_URL is not set (scripts/services/couchbase.sh start DIR; "
               "source DIR/couchbase.env)\n");
        return 77;
    }
    for (int i = 0; i < NKEYS; i++)
        snprintf(keys[i], sizeof keys[i], "cbt-%d-%d", (int)getpid(), i);

    ss_store *s = open_store(url, NULL);
    if (!s) return check_summary("couchbase_test");
    write_all(s, "\"one\"");
    read_all(s, "\"one\"");

    /* KV bootstrap: GET_CLUSTER_CONFIG on one node's KV port. */
    char kvurl[300] = {0};
    static body b;
    if (http_get("/pools/default/buckets/default", &b)) {
        json_t *root = json_loads(b.buf, 0, NULL);
        json_t *first = json_array_get(
            json_object_get(json_object_get(root, "vBucketServerMap"), "serverList"), 0);
        if (json_is_string(first))
            snprintf(kvurl, sizeof kvurl, "couchbase://%s", json_string_value(first));
        json_decref(root);
    }
    CHECK(kvurl[0], "KV port from the REST config");
    if (kvurl[0]) {
        ss_store *k = open_store(kvurl, "1");
        if (k) {
            read_all(k, "\"one\"");
            /* Durability: OBSERVE until the replica holds the write. */
            write_all(k, "\"three\"");
            read_all(s, "\"three\"");
        }
        ss_close(k);
    }

    test_auth();

    for (int i = 0; i < NKEYS; i++) {
        ss_delete_request d = {.key = keys[i]};
        ss_error err;
        ss_delete(s, &d, &err);
    }
    ss_close(s);
    return check_summary("couchbase_test");
}

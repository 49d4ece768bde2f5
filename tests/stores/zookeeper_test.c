/*
 * ZooKeeper driver specifics against a real server (SS_TEST_ZOOKEEPER_SERVERS), checked with raw
 * libzookeeper calls: the znode layout (Dapr's: raw data, ETag = data version), key escaping,
 * maxBufferSize, TTL nodes turned back into plain nodes by a write without TTL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "statestore.h"
#include "store_check.h"

static void nop_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {}

static ss_store *open_store(const char *servers, const char *prefix, const char *maxbuf,
                            ss_error *err)
{
    ss_pair props[] = {{"servers", servers}, {"keyPrefixPath", prefix}, {"maxBufferSize", maxbuf}};
    ss_config cfg = {.driver = "zookeeper", .properties = props, .property_count = maxbuf ? 3 : 2};
    ss_store *s = NULL;
    ss_open(&s, &cfg, err);
    return s;
}

static ss_code put(ss_store *s, const char *key, const void *val, size_t len, const char *ttl,
                   char **etag)
{
    ss_pair meta[] = {{"ttlInSeconds", ttl}};
    ss_set_request r = {.key = key,
                        .value = val,
                        .value_len = len,
                        .metadata = meta,
                        .metadata_count = ttl ? 1 : 0};
    ss_error err;
    ss_code c = ss_set(etag, s, &r, &err);
    if (c != SS_OK && c != SS_TOO_LARGE) fprintf(stderr, "set %s: %s\n", key, err.message);
    return c;
}

int main(void)
{
    const char *servers = getenv("SS_TEST_ZOOKEEPER_SERVERS");
    if (!servers || !*servers) {
        printf(
            "skip: SS_TEST_ZOOKEEPER_SERVERS is not set (start scripts/services/zookeeper.sh)\n");
        return 77;
    }
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/zktest-%ld/nested", (long)time(NULL));
    ss_error err;
    ss_store *s = open_store(servers, prefix + 1, NULL, &err); /* no leading slash: added */
    if (!s) {
        fprintf(stderr, "FAIL open: %s\n", err.message);
        return 1;
    }
    zhandle_t *zh = zookeeper_init(servers, nop_watcher, 10000, NULL, NULL, 0);
    for (int i = 0; i < 1000 && zoo_state(zh) != ZOO_CONNECTED_STATE; i++) usleep(10000);

    /* Layout and escaping. */
    char *etag = NULL;
    CHECK(put(s, "a/b%c d", "v1", 2, NULL, &etag) == SS_OK, "set");
    char path[256], buf[64];
    snprintf(path, sizeof path, "%s/a%%2Fb%%25c d", prefix);
    int len = sizeof buf;
    struct Stat st;
    int rc = zoo_get(zh, path, 0, buf, &len, &st);
    CHECK(rc == ZOK && len == 2 && memcmp(buf, "v1", 2) == 0, "raw znode %s: %s", path, zerror(rc));
    char want[16];
    snprintf(want, sizeof want, "%d", st.version);
    CHECK(etag && strcmp(etag, want) == 0, "ETag is the data version (%s vs %s)", etag, want);
    ss_free(etag);

    /* A node written by someone else (a Dapr sidecar) reads back as is. */
    snprintf(path, sizeof path, "%s/dapr||key", prefix);
    rc = zoo_create(zh, path, "from-dapr", 9, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
    CHECK(rc == ZOK, "raw create: %s", zerror(rc));
    ss_value *v = NULL;
    ss_get_request g = {.key = "dapr||key", .consistency = SS_STRONG};
    CHECK(ss_get(&v, s, &g, &err) == SS_OK && v && v->len == 9 && strcmp(v->etag, "0") == 0,
          "read a raw node");
    ss_value_free(v);

    /* Names ZooKeeper would refuse or treat specially, and bytes outside ASCII. */
    const char *odd[] = {".", "..", "zookeeper", "\xff\x01\xc3\xa9", "with\nnewline", "%41"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        CHECK(put(s, odd[i], odd[i], strlen(odd[i]), NULL, NULL) == SS_OK, "odd key %zu", i);
        v = NULL;
        g.key = odd[i];
        CHECK(ss_get(&v, s, &g, &err) == SS_OK && v && v->len == strlen(odd[i]) &&
                  memcmp(v->data, odd[i], v->len) == 0,
              "odd key %zu reads back", i);
        ss_value_free(v);
    }
    /* "%41" and "A" are different keys. */
    v = NULL;
    g.key = "A";
    CHECK(ss_get(&v, s, &g, &err) == SS_OK && v == NULL, "escaping is reversible");
    ss_value_free(v);

    /* A 1 MiB value (the default maxBufferSize) fits; one byte more is too large. */
    size_t big = 1024 * 1024;
    char *data = malloc(big + 1);
    for (size_t i = 0; i <= big; i++) data[i] = (char)(i * 7);
    CHECK(put(s, "big", data, big, NULL, NULL) == SS_OK, "1 MiB value");
    v = NULL;
    g.key = "big";
    CHECK(ss_get(&v, s, &g, &err) == SS_OK && v && v->len == big && memcmp(v->data, data, big) == 0,
          "1 MiB value reads back");
    ss_value_free(v);
    CHECK(put(s, "big", data, big + 1, NULL, NULL) == SS_TOO_LARGE, "1 MiB + 1 is too large");
    free(data);
    ss_close(s);

    s = open_store(servers, prefix, "10", &err);
    CHECK(s != NULL, "open with maxBufferSize 10: %s", err.message);
    if (s) {
        CHECK(put(s, "small", "0123456789", 10, NULL, NULL) == SS_OK, "10 bytes");
        CHECK(put(s, "small", "0123456789a", 11, NULL, NULL) == SS_TOO_LARGE, "11 bytes");
        ss_operation op = {.kind = SS_OP_UPSERT,
                           .set = {.key = "small", .value = "0123456789a", .value_len = 11}};
        ss_transaction tx = {.ops = &op, .count = 1};
        CHECK(ss_transact(s, &tx, &err) == SS_TOO_LARGE, "11 bytes in a transaction");
        /* The core enforces the narrowed limit; the driver does not check it again. */
        CHECK(strstr(err.message, "value is 11 bytes, this store allows 10") != NULL,
              "the core's size message: %s", err.message);

        /* A failing condition in a transaction: the core's words name the op and the key once,
         * the driver's say only why. */
        ss_operation two[2] = {
            {.kind = SS_OP_UPSERT, .set = {.key = "tx-new", .value = "n", .value_len = 1}},
            {.kind = SS_OP_UPSERT,
             .set = {.key = "small", .value = "x", .value_len = 1, .etag = "999"}}};
        tx = (ss_transaction){.ops = two, .count = 2};
        CHECK(ss_transact(s, &tx, &err) == SS_ETAG_MISMATCH, "stale version in a transaction");
        CHECK(strstr(err.message, " (zookeeper): transact: operation 1: set \"small\": etag "
                                  "mismatch") &&
                  !strstr(err.message, "zookeeper:"),
              "transaction message: %s", err.message);
        CHECK(put(s, "small", "y", 1, NULL, NULL) == SS_OK, "plain set");
        ss_set_request stale = {.key = "small", .value = "z", .value_len = 1, .etag = "999"};
        CHECK(ss_set(NULL, s, &stale, &err) == SS_ETAG_MISMATCH, "stale version");
        CHECK(strstr(err.message, " (zookeeper): set \"small\": version is not 999") &&
                  !strstr(err.message, "zookeeper:"),
              "set message: %s", err.message);

        /* TTL node, then a write without TTL makes it a plain node again. */
        CHECK(put(s, "ttl", "t", 1, "100", NULL) == SS_OK, "set with TTL");
        snprintf(path, sizeof path, "%s/ttl", prefix);
        rc = zoo_exists(zh, path, 0, &st);
        CHECK(rc == ZOK && st.aversion > 0, "TTL node is marked (aversion %d)", st.aversion);
        CHECK(put(s, "ttl", "u", 1, NULL, NULL) == SS_OK, "set without TTL");
        rc = zoo_exists(zh, path, 0, &st);
        CHECK(rc == ZOK && st.aversion == 0, "plain node again (aversion %d)", st.aversion);
        ss_close(s);
    }

    ss_pair bad[] = {{"servers", servers}, {"sessionTimeout", "soon"}};
    ss_config cfg = {.driver = "zookeeper", .properties = bad, .property_count = 2};
    s = NULL;
    CHECK(ss_open(&s, &cfg, &err) == SS_INVALID, "bad sessionTimeout: %s", err.message);
    ss_close(s);
    ss_pair dead[] = {{"servers", "127.0.0.1:1"}, {"sessionTimeout", "1s"}};
    cfg.properties = dead;
    s = NULL;
    CHECK(ss_open(&s, &cfg, &err) == SS_UNAVAILABLE, "dead server: %s", err.message);
    ss_close(s);
    zookeeper_close(zh);
    return check_summary("zookeeper driver tests");
}

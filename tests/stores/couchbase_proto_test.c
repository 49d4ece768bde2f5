/*
 * couchbase_proto_test — the couchbase driver's frame codec and config parser
 * (src/stores/couchbase/proto.c, config.c), against the memcached binary protocol's documented
 * layout and Couchbase's vBucket hashing. No server needed.
 */
#include "stores/couchbase/couchbase_internal.h"
#include "store_check.h"
#include "tcp_fake.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_encode(void)
{
    uint8_t extras[8] = {0x02, 0, 0, 0, 0, 0, 0x0e, 0x10};
    size_t n = cb_request_size(8, 3, 5);
    CHECK(n == 24 + 16, "size %zu", n);
    uint8_t buf[64];
    cb_encode_request(buf, CB_OP_SET, 0x0203, 0xa1b2c3d4, 0x0102030405060708ULL, extras, 8, "key",
                      3, "value", 5);
    /* Request header: magic, opcode, key length (BE16), extras length, data type, vBucket
     * (BE16), total body (BE32), opaque (copied as is), CAS (BE64). */
    static const uint8_t want[24] = {0x80, 0x01, 0x00, 0x03, 0x08, 0x00, 0x02, 0x03,
                                     0x00, 0x00, 0x00, 0x10, 0xa1, 0xb2, 0xc3, 0xd4,
                                     0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    CHECK(memcmp(buf, want, 24) == 0, "request header bytes");
    CHECK(memcmp(buf + 24, extras, 8) == 0 && memcmp(buf + 32, "key", 3) == 0 &&
              memcmp(buf + 35, "value", 5) == 0,
          "extras, key, value in order");
}

static void test_decode(void)
{
    uint8_t r[24] = {0x81, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x09,
                     0x00, 0x00, 0x00, 0x07, 0,    0,    0,    0,    0,    0,    0x12, 0x34};
    cb_hdr h;
    const char *why = NULL;
    CHECK(cb_decode_response_header(r, &h, &why), "decode: %s", why ? why : "");
    CHECK(h.opcode == CB_OP_GET && h.status == CB_ST_KEY_ENOENT && h.extlen == 4 &&
              h.bodylen == 9 && h.opaque == 7 && h.cas == 0x1234,
          "fields");
    CHECK(cb_value_off(&h) == 4 && cb_value_len(&h) == 5, "value at 4, 5 bytes");
    uint8_t alt[24];
    memcpy(alt, r, 24);
    alt[0] = CB_MAGIC_ALT_RES;
    alt[2] = 3; /* framing extras */
    alt[3] = 2; /* key length (one byte) */
    CHECK(cb_decode_response_header(alt, &h, &why) && h.framing_len == 3 && h.keylen == 2 &&
              cb_key_off(&h) == 7 && cb_value_off(&h) == 9 && cb_value_len(&h) == 0,
          "alt response");
    uint8_t bad[24];
    memcpy(bad, r, 24);
    bad[0] = 0x80;
    CHECK(!cb_decode_response_header(bad, &h, &why) && why, "a request is not a response");
    memcpy(bad, r, 24);
    bad[3] = 0x10; /* key 16 > body 9 */
    CHECK(!cb_decode_response_header(bad, &h, &why), "parts longer than the body");
    memcpy(bad, r, 24);
    bad[8] = 0x7f; /* body 2 GiB */
    CHECK(!cb_decode_response_header(bad, &h, &why), "body too large");
}

static void test_vbucket(void)
{
    /* CRC-32 (IEEE, zlib) of "hello" is 0x3610a686: (crc >> 16) & 0x7fff = 0x3610 = 13840. */
    CHECK(cb_vbucket_of("hello", 5, 1024) == 13840 % 1024, "hello -> %u",
          cb_vbucket_of("hello", 5, 1024));
    CHECK(cb_vbucket_of("hello", 5, 64) == 13840 % 64, "hello in 64");
    /* CRC-32 of "" is 0. */
    CHECK(cb_vbucket_of("", 0, 1024) == 0, "empty key");
}

static void test_observe(void)
{
    uint8_t body[] = {0x00, 0x05, 0x00, 0x01, 'k',  0x01, 0, 0, 0, 0, 0, 0, 0,    0x2a, 0x00,
                      0x05, 0x00, 0x01, 'x',  0x80, 0,    0, 0, 0, 0, 0, 0, 0x00, 0xff};
    size_t off = 0;
    uint16_t vb, kl;
    const uint8_t *k;
    uint8_t st;
    uint64_t cas;
    CHECK(cb_observe_next(body, sizeof body, &off, &vb, &k, &kl, &st, &cas) && vb == 5 && kl == 1 &&
              k[0] == 'k' && st == 1 && cas == 42,
          "first entry");
    CHECK(cb_observe_next(body, sizeof body, &off, &vb, &k, &kl, &st, &cas) && st == 0x80,
          "second entry");
    CHECK(!cb_observe_next(body, sizeof body, &off, &vb, &k, &kl, &st, &cas), "trailing byte");
}

static void test_config(void)
{
    char why[160];
    const char *ok = "{\"rev\":7,\"vBucketServerMap\":{\"hashAlgorithm\":\"CRC\",\"numReplicas\":1,"
                     "\"serverList\":[\"$HOST:11210\",\"10.0.0.2:11211\"],"
                     "\"vBucketMap\":[[0,1],[1,0],[1,-1],[0,1]]}}";
    cb_config *c = cb_config_parse(ok, strlen(ok), "node1.example", why, sizeof why);
    CHECK(c != NULL, "parse: %s", why);
    if (c) {
        CHECK(c->rev == 7 && c->nservers == 2 && c->nvbuckets == 4 && c->ncopies == 2, "shape");
        CHECK(strcmp(c->servers[0].host, "node1.example") == 0 && c->servers[0].port == 11210,
              "$HOST replaced");
        CHECK(strcmp(c->servers[1].host, "10.0.0.2") == 0 && c->servers[1].port == 11211,
              "second server");
        CHECK(cb_config_server(c, 1, 0) == 1 && cb_config_server(c, 2, 1) == -1, "map");
    }
    cb_config_free(c);
    static const char *const bad[] = {
        "not json",
        "[]",
        "{\"rev\":1}",
        "{\"vBucketServerMap\":{\"serverList\":[],\"vBucketMap\":[[0]]}}",
        "{\"vBucketServerMap\":{\"serverList\":[\"a:1\"],\"vBucketMap\":[[1]]}}",
        "{\"vBucketServerMap\":{\"serverList\":[\"a:1\"],\"vBucketMap\":[[0],[0,0]]}}",
        "{\"vBucketServerMap\":{\"serverList\":[\"a\"],\"vBucketMap\":[[0]]}}",
        "{\"vBucketServerMap\":{\"serverList\":[\"a:99999\"],\"vBucketMap\":[[0]]}}",
        "{\"vBucketServerMap\":{\"hashAlgorithm\":\"MD5\",\"serverList\":[\"a:1\"],"
        "\"vBucketMap\":[[0]]}}",
        "{\"vBucketServerMap\":{\"serverList\":[\"a:1\"],\"vBucketMap\":[[\"0\"]]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = 0;
        c = cb_config_parse(bad[i], strlen(bad[i]), "h", why, sizeof why);
        CHECK(c == NULL && why[0], "bad config %zu accepted", i);
        cb_config_free(c);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Routing: two fake KV nodes                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* A fake Couchbase KV node: answers HELLO, SELECT_BUCKET, NOOP, GET_CLUSTER_CONFIG (the shared
 * current config) and GET (a value naming the node when the current config makes it the owner
 * of the request's vBucket, else NOT_MY_VBUCKET with the config in the body, or with an empty
 * body when `bare_nmvb`). Counts the NOT_MY_VBUCKET replies. */
typedef struct fnode {
    tcp_fake tcp;
    int port, idx;
} fnode;

static fnode nodes[2];
static pthread_mutex_t cfg_mu = PTHREAD_MUTEX_INITIALIZER;
static char cfg_json[4096];
static int owner_of_all; /* every vBucket's active node in the current config */
static atomic_int nmvb_count;
static atomic_bool bare_nmvb;

static void set_config(int owner, int rev)
{
    pthread_mutex_lock(&cfg_mu);
    int n =
        snprintf(cfg_json, sizeof cfg_json,
                 "{\"rev\":%d,\"vBucketServerMap\":{\"hashAlgorithm\":\"CRC\",\"numReplicas\":0,"
                 "\"serverList\":[\"$HOST:%d\",\"127.0.0.1:%d\"],\"vBucketMap\":[",
                 rev, nodes[0].port, nodes[1].port);
    for (int v = 0; v < 16; v++)
        n += snprintf(cfg_json + n, sizeof cfg_json - (size_t)n, "%s[%d]", v ? "," : "", owner);
    snprintf(cfg_json + n, sizeof cfg_json - (size_t)n, "]}}");
    owner_of_all = owner;
    pthread_mutex_unlock(&cfg_mu);
}

static void fn_reply(int fd, uint8_t op, uint16_t status, uint32_t opaque, uint64_t cas,
                     const void *extras, size_t extlen, const void *val, size_t vallen)
{
    uint8_t h[24] = {0x81, op};
    h[4] = (uint8_t)extlen;
    h[6] = (uint8_t)(status >> 8);
    h[7] = (uint8_t)status;
    uint32_t body = (uint32_t)(extlen + vallen);
    for (int i = 0; i < 4; i++) h[8 + i] = (uint8_t)(body >> (24 - 8 * i));
    for (int i = 0; i < 4; i++) h[12 + i] = (uint8_t)(opaque >> (24 - 8 * i));
    for (int i = 0; i < 8; i++) h[16 + i] = (uint8_t)(cas >> (56 - 8 * i));
    if (tcp_fake_write(fd, h, 24) && tcp_fake_write(fd, extras, extlen))
        tcp_fake_write(fd, val, vallen);
}

static void fn_serve(int fd, void *ctx)
{
    fnode *n = ctx;
    uint8_t h[24];
    while (tcp_fake_read(fd, h, 24)) {
        uint32_t body = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
        uint32_t opaque =
            (uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 | (uint32_t)h[14] << 8 | h[15];
        uint8_t *b = body ? malloc(body) : NULL;
        if (body && (!b || !tcp_fake_read(fd, b, body))) {
            free(b);
            break;
        }
        free(b);
        pthread_mutex_lock(&cfg_mu);
        char cfg[4096];
        snprintf(cfg, sizeof cfg, "%s", cfg_json);
        int owner = owner_of_all;
        pthread_mutex_unlock(&cfg_mu);
        if (h[1] == CB_OP_GET_CLUSTER_CONFIG) {
            fn_reply(fd, h[1], 0, opaque, 0, NULL, 0, cfg, strlen(cfg));
        } else if (h[1] == CB_OP_GET) {
            if (owner != n->idx) {
                atomic_fetch_add(&nmvb_count, 1);
                bool bare = atomic_load(&bare_nmvb);
                fn_reply(fd, h[1], CB_ST_NOT_MY_VBUCKET, opaque, 0, NULL, 0, bare ? "" : cfg,
                         bare ? 0 : strlen(cfg));
            } else {
                uint8_t flags[4] = {0x02, 0, 0, 0};
                char val[16];
                snprintf(val, sizeof val, "node%d", n->idx);
                fn_reply(fd, h[1], 0, opaque, 100 + (uint64_t)n->idx, flags, 4, val, strlen(val));
            }
        } else {
            fn_reply(fd, h[1], 0, opaque, 0, NULL, 0, NULL, 0); /* HELLO, SELECT_BUCKET, NOOP */
        }
    }
}

static bool fn_start(fnode *n, int idx)
{
    memset(n, 0, sizeof *n);
    n->idx = idx;
    if (!tcp_fake_start(&n->tcp, fn_serve, n)) return false;
    n->port = n->tcp.port;
    return true;
}

static void fn_stop(fnode *n)
{
    tcp_fake_stop(&n->tcp);
}

static void get_expect(ss_store *s, const char *key, const char *want, const char *what)
{
    ss_value *v = NULL;
    ss_error err;
    ss_get_request g = {.key = key};
    ss_code rc = ss_get(&v, s, &g, &err);
    CHECK(rc == SS_OK && v && v->len == strlen(want) && memcmp(v->data, want, v->len) == 0,
          "%s: get %s: %s %s", what, key, ss_code_name(rc),
          rc  ? err.message
          : v ? ""
              : "missing");
    ss_value_free(v);
}

static void test_routing(void)
{
    CHECK(fn_start(&nodes[0], 0) && fn_start(&nodes[1], 1), "fake nodes");
    set_config(0, 1);
    char url[64];
    snprintf(url, sizeof url, "couchbase://127.0.0.1:%d", nodes[0].port);
    ss_pair props[] = {{"couchbaseURL", url}, {"bucketName", "b"}, {"timeout", "2s"}};
    ss_config cfg = {.driver = "couchbase", .properties = props, .property_count = 3};
    ss_store *s = NULL;
    ss_error err;
    ss_code rc = ss_open(&s, &cfg, &err);
    CHECK(rc == SS_OK, "open over KV (GET_CLUSTER_CONFIG): %s: %s", ss_code_name(rc), err.message);
    if (s) {
        get_expect(s, "k1", "node0", "all on node 0");
        CHECK(atomic_load(&nmvb_count) == 0, "no NOT_MY_VBUCKET yet");
        /* Every vBucket moves to node 1: node 0 answers NOT_MY_VBUCKET with the new config. */
        set_config(1, 2);
        get_expect(s, "k2", "node1", "after the move");
        CHECK(atomic_load(&nmvb_count) == 1, "one NOT_MY_VBUCKET, then routed by the new map (%d)",
              atomic_load(&nmvb_count));
        get_expect(s, "k3", "node1", "the new map kept");
        CHECK(atomic_load(&nmvb_count) == 1, "no more NOT_MY_VBUCKET");
        /* Back to node 0, with a bare NOT_MY_VBUCKET: the driver asks for the config. */
        atomic_store(&bare_nmvb, true);
        set_config(0, 3);
        get_expect(s, "k4", "node0", "after a bare NOT_MY_VBUCKET");
        CHECK(atomic_load(&nmvb_count) == 2, "one more NOT_MY_VBUCKET (%d)",
              atomic_load(&nmvb_count));
        /* Pipelined bulk get across a move. */
        set_config(1, 4);
        atomic_store(&bare_nmvb, false);
        ss_get_request g[3] = {{.key = "a"}, {.key = "b"}, {.key = "c"}};
        ss_results res = {0};
        CHECK(ss_bulk_get(&res, s, g, 3, NULL, &err) == SS_OK, "bulk get");
        for (size_t i = 0; i < res.count; i++)
            CHECK(res.items[i].value && res.items[i].value->len == 5 &&
                      memcmp(res.items[i].value->data, "node1", 5) == 0,
                  "bulk item %zu after the move", i);
        ss_results_free(&res);
    }
    ss_close(s);
    fn_stop(&nodes[0]);
    fn_stop(&nodes[1]);
}

/* RFC 7677 section 3's SCRAM-SHA-256 example: user "user", password "pencil". */
static void test_scram(void)
{
    CHECK(strcmp(cb_scram_pick("PLAIN SCRAM-SHA1 SCRAM-SHA512 SCRAM-SHA256", 42), "SCRAM-SHA512") ==
              0,
          "strongest mechanism");
    CHECK(strcmp(cb_scram_pick("SCRAM-SHA1 PLAIN", 16), "SCRAM-SHA1") == 0, "SHA1");
    CHECK(cb_scram_pick("PLAIN CRAM-MD5", 14) == NULL, "no SCRAM");
    CHECK(cb_scram_pick("SCRAM-SHA5120", 13) == NULL, "whole names only");
    cb_scram sc;
    char *first = cb_scram_client_first(&sc, "SCRAM-SHA256", "user", "rOprNGfwEbeRWgbNEkqO");
    CHECK(first && strcmp(first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO") == 0, "client-first: %s",
          first ? first : "NULL");
    free(first);
    const char *sf = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                     "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const char *why = NULL;
    char *final = cb_scram_client_final(&sc, "pencil", sf, strlen(sf), &why);
    CHECK(final && strcmp(final, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                 "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") == 0,
          "client-final: %s", final ? final : why);
    free(final);
    const char *v = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
    CHECK(cb_scram_verify(&sc, v, strlen(v)), "server signature accepted");
    const char *bad = "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
    CHECK(!cb_scram_verify(&sc, bad, strlen(bad)), "wrong server signature refused");
    cb_scram_clear(&sc);
    /* A server nonce that does not extend ours is refused. */
    first = cb_scram_client_first(&sc, "SCRAM-SHA1", "a,b=c", "abc");
    CHECK(first && strcmp(first, "n,,n=a=2Cb=3Dc,r=abc") == 0, "saslname escaping");
    free(first);
    const char *evil = "r=xyz123,s=QSXCR+Q6sek8bf92,i=4096";
    CHECK(cb_scram_client_final(&sc, "p", evil, strlen(evil), &why) == NULL && why,
          "foreign nonce refused");
    cb_scram_clear(&sc);
}

int main(void)
{
    test_encode();
    test_decode();
    test_vbucket();
    test_observe();
    test_config();
    test_routing();
    test_scram();
    return check_summary("couchbase_proto_test");
}

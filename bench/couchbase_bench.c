/*
 * couchbase_bench.c — the couchbase driver through the public API against a raw binary-protocol
 * loop doing the same work on the same cluster (SS_TEST_COUCHBASE_URL, CouchbaseMock with two
 * nodes; exits 77 without it): one socket per node, HELLO and SELECT_BUCKET, then GET / SET
 * frames routed by the same vBucket map, and a pipelined GET of 100 keys per node.
 * Targets: single operations >= 0.9x raw, bulk >= 0.8x raw.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <statestore.h>

#include "driver_side.h"
#include "harness.h"
#include "stores/couchbase/couchbase_internal.h"
#include "support/strbuf.h"

#define NKEYS   10000
#define VAL_LEN 100
#define BULK    100
#define ROUNDS  3

typedef struct bench {
    ss_store *store;
    cb_config *cfg;
    int fds[8];
    char keys[NKEYS][32];
    char value[VAL_LEN];
    ss_get_request greqs[NKEYS];
    ss_set_request sreqs[NKEYS];
    uint8_t buf[BULK * 64];
} bench;

static bench b;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "couchbase_bench: %s: %s\n", what, msg);
    exit(1);
}

static void rd(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) die("raw read", "connection closed");
        p += r;
        n -= (size_t)r;
    }
}

/* Reads one reply; returns its status, copies the value out like a client would. */
static int reply(int fd, uint64_t *cas)
{
    uint8_t h[CB_HDR_LEN];
    cb_hdr hdr;
    const char *why = NULL;
    rd(fd, h, sizeof h);
    if (!cb_decode_response_header(h, &hdr, &why)) die("raw reply", why);
    uint8_t *body = malloc(hdr.bodylen + 1);
    rd(fd, body, hdr.bodylen);
    free(body);
    if (cas) *cas = hdr.cas;
    return hdr.status;
}

static int node_of(size_t k, uint16_t *vb)
{
    *vb = cb_vbucket_of(b.keys[k], strlen(b.keys[k]), b.cfg->nvbuckets);
    return cb_config_server(b.cfg, *vb, 0);
}

static void raw_set(void *ctx, size_t i)
{
    (void)ctx;
    size_t k = i % NKEYS;
    uint16_t vb;
    int n = node_of(k, &vb);
    uint8_t extras[8] = {0x02, 0, 0, 0, 0, 0, 0, 0};
    size_t kl = strlen(b.keys[k]);
    size_t sz = cb_request_size(8, kl, VAL_LEN);
    cb_encode_request(b.buf, CB_OP_SET, vb, 0, 0, extras, 8, b.keys[k], kl, b.value, VAL_LEN);
    if (write(b.fds[n], b.buf, sz) != (ssize_t)sz) die("raw write", "short");
    if (reply(b.fds[n], NULL) != 0) die("raw set", "status");
}

static void raw_get(void *ctx, size_t i)
{
    (void)ctx;
    size_t k = (i * 7) % NKEYS;
    uint16_t vb;
    int n = node_of(k, &vb);
    size_t kl = strlen(b.keys[k]);
    size_t sz = cb_request_size(0, kl, 0);
    cb_encode_request(b.buf, CB_OP_GET, vb, 0, 0, NULL, 0, b.keys[k], kl, NULL, 0);
    if (write(b.fds[n], b.buf, sz) != (ssize_t)sz) die("raw write", "short");
    if (reply(b.fds[n], NULL) != 0) die("raw get", "status");
}

static void raw_bulk(void *ctx, size_t i)
{
    (void)ctx;
    size_t base = (i * BULK) % (NKEYS - BULK);
    for (size_t n = 0; n < b.cfg->nservers; n++) {
        size_t off = 0, cnt = 0;
        for (size_t j = 0; j < BULK; j++) {
            uint16_t vb;
            if (node_of(base + j, &vb) != (int)n) continue;
            size_t kl = strlen(b.keys[base + j]);
            cb_encode_request(b.buf + off, CB_OP_GET, vb, (uint32_t)j, 0, NULL, 0, b.keys[base + j],
                              kl, NULL, 0);
            off += cb_request_size(0, kl, 0);
            cnt++;
        }
        if (off && write(b.fds[n], b.buf, off) != (ssize_t)off) die("raw write", "short");
        for (size_t j = 0; j < cnt; j++)
            if (reply(b.fds[n], NULL) != 0) die("raw bulk", "status");
    }
}

/* libcurl's write callback: the body into an ss_buf (whose oom flag a failed append sets). */
static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    ss_buf *t = ud;
    ss_buf_add(t, p, sz * n);
    return t->oom ? 0 : sz * n;
}

int main(void)
{
    const char *url = getenv("SS_TEST_COUCHBASE_URL");
    const char *bucket = getenv("SS_TEST_COUCHBASE_BUCKET");
    if (!url || !*url || !bucket) {
        printf("skip: SS_TEST_COUCHBASE_URL is not set (scripts/services/couchbase.sh start DIR; "
               "source DIR/couchbase.env)\n");
        return 77;
    }
    memset(b.value, 'v', VAL_LEN);
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(b.keys[i], sizeof b.keys[i], "bench-%d-%05zu", (int)getpid(), i);
        b.greqs[i].key = b.keys[i];
        b.sreqs[i] = (ss_set_request){.key = b.keys[i], .value = b.value, .value_len = VAL_LEN};
    }
    /* The raw side's map, over the same REST endpoint. */
    char u[512];
    snprintf(u, sizeof u, "%s/pools/default/buckets/%s", url, bucket);
    ss_buf t = {0};
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    if (curl_easy_perform(c) != CURLE_OK || !t.p) die("config", u);
    curl_easy_cleanup(c);
    char why[160];
    b.cfg = cb_config_parse(t.p, t.len, "127.0.0.1", why, sizeof why);
    free(t.p);
    if (!b.cfg || b.cfg->nservers > 8) die("config", why);
    for (size_t n = 0; n < b.cfg->nservers; n++) {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)b.cfg->servers[n].port)};
        inet_pton(AF_INET, b.cfg->servers[n].host, &a.sin_addr);
        b.fds[n] = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(b.fds[n], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(b.fds[n], (struct sockaddr *)&a, sizeof a) != 0) die("connect", "node");
        /* HELLO with TCP nodelay, as the driver sends: without it the server's replies to a
         * pipelined batch wait on Nagle. */
        static const uint8_t features[] = {0x00, 0x03};
        size_t sz = cb_request_size(0, 3, sizeof features);
        cb_encode_request(b.buf, CB_OP_HELLO, 0, 0, 0, NULL, 0, "raw", 3, features,
                          sizeof features);
        if (write(b.fds[n], b.buf, sz) != (ssize_t)sz) die("raw write", "short");
        reply(b.fds[n], NULL);
        sz = cb_request_size(0, strlen(bucket), 0);
        cb_encode_request(b.buf, CB_OP_SELECT_BUCKET, 0, 0, 0, NULL, 0, bucket, strlen(bucket),
                          NULL, 0);
        if (write(b.fds[n], b.buf, sz) != (ssize_t)sz) die("raw write", "short");
        reply(b.fds[n], NULL); /* the mock has no SELECT_BUCKET: either answer is fine */
    }

    ss_pair props[] = {{"couchbaseURL", url}, {"bucketName", bucket}};
    ss_config cfg = {
        .driver = "couchbase", .name = "bench", .properties = props, .property_count = 2};
    ss_error err;
    if (ss_open(&b.store, &cfg, &err) != SS_OK) die("open", err.message);

    bench_driver drv = {"couchbase", b.store, b.greqs, b.sreqs, NKEYS, BULK};
    size_t n = bench_iters(5000);
    size_t nb = n / 50 > 0 ? n / 50 : 1;
    printf("couchbase driver vs a raw binary-protocol loop (%d keys, %d-byte values, %zu nodes)\n",
           NKEYS, VAL_LEN, b.cfg->nservers);
    for (size_t i = 0; i < NKEYS; i++) raw_set(NULL, i);
    double rs, os, rg, og, rb, ob;
    printf("(best of %d alternating rounds each)\n", ROUNDS);
    bench_compare(ROUNDS, BENCH_WALL, n, 1, (bench_side){"raw SET", raw_set, NULL},
                  (bench_side){"driver set", bench_driver_set, &drv}, &rs, &os);
    bench_compare(ROUNDS, BENCH_WALL, n, 1, (bench_side){"raw GET", raw_get, NULL},
                  (bench_side){"driver get", bench_driver_get, &drv}, &rg, &og);
    bench_compare(ROUNDS, BENCH_WALL, nb, BULK,
                  (bench_side){"raw pipelined GET of 100", raw_bulk, NULL},
                  (bench_side){"driver bulk get of 100", bench_driver_bulk_get, &drv}, &rb, &ob);
    bench_ratio("couchbase set", os, rs, 0.9);
    bench_ratio("couchbase get", og, rg, 0.9);
    bench_ratio("couchbase bulk get 100", ob, rb, 0.8);

    for (size_t i = 0; i < NKEYS; i++) {
        ss_delete_request d = {.key = b.keys[i]};
        ss_delete(b.store, &d, &err);
    }
    ss_close(b.store);
    for (size_t k = 0; k < b.cfg->nservers; k++) close(b.fds[k]);
    cb_config_free(b.cfg);
    return 0;
}

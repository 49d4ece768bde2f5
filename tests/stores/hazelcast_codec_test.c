/*
 * The Hazelcast client protocol codec (src/stores/hazelcast/codec.c) without a server: the
 * request bytes of the protocol documentation's examples, response and error frames, the
 * authentication response with its member list and partition table, Map.GetAll entries, our
 * value layout, murmur3 against the reference vectors, and truncated or hostile input (every
 * prefix of every message, lengths out of range, structures never closed).
 */
#include "store_check.h"

#include "stores/hazelcast/codec.h"

#include <stdlib.h>
#include <string.h>

static bool same(const void *a, size_t alen, const unsigned char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* Documentation §5.3.1: Client.CreateProxy("map-name", "hz:impl:mapService"), correlation 0x30,
 * partition -1. */
static void test_create_proxy_example(void)
{
    static const unsigned char want[] = {
        0x16, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x04, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6d, 0x61,
        0x70, 0x2d, 0x6e, 0x61, 0x6d, 0x65, 0x18, 0x00, 0x00, 0x00, 0x00, 0x20, 0x68, 0x7a, 0x3a,
        0x69, 0x6d, 0x70, 0x6c, 0x3a, 0x6d, 0x61, 0x70, 0x53, 0x65, 0x72, 0x76, 0x69, 0x63, 0x65};
    hz_msg m;
    CHECK(hz_msg_begin(&m, 0x000400, 0x30, -1, 0) != NULL, "begin");
    hz_msg_string(&m, "map-name");
    hz_msg_string(&m, "hz:impl:mapService");
    CHECK(hz_msg_finish(&m), "finish");
    CHECK(same(m.b.p, m.b.len, want, sizeof want), "CreateProxy bytes differ (%zu bytes)", m.b.len);
    hz_msg_free(&m);
}

/* Documentation §5.3.4: Map.Put("map", "key1", 54) with threadId 654321 and ttl 10000. The
 * example leaves IS_FINAL off its last frame, which the flag table requires; we set it. */
static void test_map_put_example(void)
{
    static const unsigned char want[] = {
        0x26, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x01, 0x01, 0x00, 0x15, 0x02, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x11, 0x01, 0x00, 0x00, 0xf1, 0xfb, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x10, 0x27, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6d,
        0x61, 0x70, 0x16, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
        0xf5, 0x00, 0x00, 0x00, 0x04, 0x6b, 0x65, 0x79, 0x31, 0x12, 0x00, 0x00, 0x00, 0x00, 0x20,
        0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xf9, 0x00, 0x00, 0x00, 0x36};
    hz_msg m;
    unsigned char *fx = hz_msg_begin(&m, HZ_MAP_PUT, 0x215, 0x111, 16);
    CHECK(fx != NULL, "begin");
    hz_put_i64(fx, 654321);
    hz_put_i64(fx + 8, 10000);
    hz_msg_string(&m, "map");
    ss_buf key = {0};
    hz_data_encode(&key, HZ_TYPE_STRING, "key1", 4);
    hz_msg_frame(&m, 0, key.p, key.len);
    static const unsigned char int54[] = {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf9, 0, 0, 0, 0x36};
    hz_msg_frame(&m, 0, int54, sizeof int54);
    CHECK(hz_msg_finish(&m), "finish");
    /* The example's thread id bytes are f1 fb 90 ... for 654321 = 0x09FBF1: its third byte is
     * a typo (0x90 for 0x09); the little-endian encoding of 654321 is what we check. */
    CHECK(same(m.b.p, m.b.len, want, sizeof want), "Map.Put bytes differ");
    hz_msg_set_corr((unsigned char *)m.b.p, 7);
    CHECK(hz_get_i64((unsigned char *)m.b.p + 10) == 7, "correlation id rewritten");
    free(key.p);
    hz_msg_free(&m);
}

/* The Map.Put response of §5.3.4 (a null previous value) and the Queue.Size response of §5.3.5,
 * with the flags the flag table defines. */
static void test_responses(void)
{
    static const unsigned char put_resp[] = {0x13, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x01, 0x01, 0x01,
                                             0x00, 0x15, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                             0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x24};
    size_t len = 0;
    CHECK(hz_split(put_resp, sizeof put_resp, 1 << 20, &len) == 1 && len == sizeof put_resp,
          "split");
    for (size_t i = 0; i < sizeof put_resp; i++)
        CHECK(hz_split(put_resp, i, 1 << 20, &len) == 0, "prefix %zu is incomplete", i);
    hz_iter it;
    hz_frame f;
    int32_t type;
    int64_t corr;
    hz_iter_init(&it, put_resp, sizeof put_resp);
    CHECK(hz_next(&it, &f) && hz_resp_header(&f, &type, &corr), "header");
    CHECK(type == HZ_RESPONSE_OF(HZ_MAP_PUT) && corr == 0x215, "type %x corr %lld", type,
          (long long)corr);
    const unsigned char *d;
    size_t n;
    bool null = false;
    CHECK(hz_decode_nullable(&it, &d, &n, &null) && null, "null previous value");

    static const unsigned char size_resp[] = {0x17, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x01, 0x03,
                                              0x03, 0x00, 0x12, 0x33, 0x00, 0x00, 0x00, 0x00,
                                              0x00, 0x00, 0x00, 0x19, 0x00, 0x00, 0x00};
    CHECK(hz_split(size_resp, sizeof size_resp, 1 << 20, &len) == 1 && len == sizeof size_resp,
          "split");
    hz_iter_init(&it, size_resp, sizeof size_resp);
    CHECK(hz_next(&it, &f) && hz_resp_header(&f, &type, &corr), "header");
    CHECK(type == 0x030301 && corr == 0x3312, "type");
    CHECK(f.len == HZ_RESP_HEADER + 4 && hz_get_i32(f.data + HZ_RESP_HEADER) == 25, "size 25");
}

/* An error response: List_ErrorHolder with one holder and a one-element stack trace. */
static size_t build_error(hz_msg *m, bool piggyback)
{
    hz_msg_begin(m, 0, 0, 0, 0);
    m->b.len -= 3; /* response initial frame: 13 bytes, not the request's 16 */
    hz_put_i32((unsigned char *)m->b.p, HZ_FRAME_HEADER + HZ_RESP_HEADER);
    hz_msg_frame(m, HZ_BEGIN_DATA, NULL, 0);
    unsigned char code[4];
    hz_put_i32(code, 62);
    if (piggyback)
        hz_msg_frame(m, HZ_BEGIN_DATA, code, 4);
    else {
        hz_msg_frame(m, HZ_BEGIN_DATA, NULL, 0);
        hz_msg_frame(m, 0, code, 4);
    }
    hz_msg_string(m, "com.hazelcast.spi.exception.WrongTargetException");
    hz_msg_string(m, "WrongTarget! this: 127.0.0.1:5701");
    hz_msg_frame(m, HZ_BEGIN_DATA, NULL, 0); /* stack trace */
    hz_msg_frame(m, HZ_BEGIN_DATA, NULL, 0);
    hz_msg_frame(m, 0, code, 4);
    hz_msg_string(m, "Cls");
    hz_msg_string(m, "method");
    hz_msg_null(m);
    hz_msg_frame(m, HZ_END_DATA, NULL, 0);
    hz_msg_frame(m, HZ_END_DATA, NULL, 0);
    hz_msg_frame(m, HZ_END_DATA, NULL, 0); /* holder */
    hz_msg_frame(m, HZ_END_DATA, NULL, 0); /* list */
    hz_msg_finish(m);
    return m->b.len;
}

static void test_error(void)
{
    for (int pig = 0; pig < 2; pig++) {
        hz_msg m;
        size_t len = build_error(&m, pig);
        const unsigned char *msg = (const unsigned char *)m.b.p;
        size_t got;
        CHECK(hz_split(msg, len, 1 << 20, &got) == 1 && got == len, "split");
        hz_iter it;
        hz_frame f;
        hz_iter_init(&it, msg, len);
        CHECK(hz_next(&it, &f), "initial");
        int32_t code = 0;
        char cls[64], text[16];
        CHECK(hz_decode_error(&it, &code, cls, sizeof cls, text, sizeof text), "decode");
        CHECK(code == 62, "code %d", code);
        CHECK(strcmp(cls, "com.hazelcast.spi.exception.WrongTargetException") == 0, "%s", cls);
        CHECK(strcmp(text, "WrongTarget! th") == 0, "truncated to the buffer: %s", text);
        CHECK(hz_error_retryable(62) && hz_error_not_applied(62), "WRONG_TARGET retryable");
        CHECK(!hz_error_retryable(23) && !hz_error_not_applied(33), "others not");
        /* Every truncation fails cleanly. */
        for (size_t i = 0; i < len; i++) {
            unsigned char *cut = malloc(i ? i : 1);
            memcpy(cut, msg, i);
            hz_iter_init(&it, cut, i);
            if (hz_next(&it, &f)) (void)hz_decode_error(&it, &code, cls, sizeof cls, text, 4);
            free(cut);
        }
        hz_msg_free(&m);
    }
}

/* A Client.Authentication response as a 5.5 member sends it. */
static size_t build_auth(hz_msg *m, int32_t partitions)
{
    /* A response's fixed fields start at byte 13 of the initial frame (after type, correlation
     * id and the backup-ack count), where a request has 16: begin a request 3 bytes shorter. */
    unsigned char *fx = hz_msg_begin(m, HZ_RESPONSE_OF(HZ_CLIENT_AUTH), 1, 0, 49 - 3);
    unsigned char *p = fx - 3;
    p[-1] = 0; /* backup acks */
    p[0] = 0;  /* status: authenticated */
    p[1] = 0;  /* member uuid not null */
    hz_put_i64(p + 2, 0x1111);
    hz_put_i64(p + 10, 0x2222);
    p[18] = 1; /* serialization version */
    hz_put_i32(p + 19, partitions);
    p[23] = 1; /* cluster id: null */
    p[40] = 1; /* failover supported */
    hz_put_i32(p + 41, 3);
    hz_put_i32(p + 45, 9);
    /* address */
    unsigned char port[4];
    hz_put_i32(port, 5701);
    hz_msg_frame(m, HZ_BEGIN_DATA, NULL, 0);
    hz_msg_frame(m, 0, port, 4);
    hz_msg_string(m, "127.0.0.1");
    hz_msg_frame(m, HZ_END_DATA, NULL, 0);
    hz_msg_string(m, "5.5.0");
    hz_msg_null(m);                          /* tpcPorts */
    hz_msg_null(m);                          /* tpcToken */
    hz_msg_frame(m, HZ_BEGIN_DATA, NULL, 0); /* members */
    for (int i = 0; i < 2; i++) {
        unsigned char fixed[18] = {0};
        hz_put_i64(fixed + 1, 0x1111 + i);
        hz_put_i64(fixed + 9, 0x2222 + i);
        hz_msg_frame(m, HZ_BEGIN_DATA, NULL, 0);
        hz_msg_frame(m, 0, fixed, sizeof fixed);
        hz_put_i32(port, 5701 + i);
        hz_msg_frame(m, HZ_BEGIN_DATA, NULL, 0);
        hz_msg_frame(m, 0, port, 4);
        hz_msg_string(m, "127.0.0.1");
        hz_msg_frame(m, HZ_END_DATA, NULL, 0);
        hz_msg_frame(m, HZ_BEGIN_DATA, NULL, 0); /* attributes */
        hz_msg_string(m, "k");
        hz_msg_string(m, "v");
        hz_msg_frame(m, HZ_END_DATA, NULL, 0);
        unsigned char ver[3] = {5, 5, 0};
        hz_msg_frame(m, HZ_BEGIN_DATA, ver, 3); /* version, piggybacked */
        hz_msg_frame(m, HZ_END_DATA, NULL, 0);
        hz_msg_frame(m, HZ_BEGIN_DATA, NULL, 0); /* address map */
        hz_msg_frame(m, HZ_END_DATA, NULL, 0);
        hz_msg_frame(m, HZ_END_DATA, NULL, 0);
    }
    hz_msg_frame(m, HZ_END_DATA, NULL, 0);
    hz_msg_frame(m, HZ_BEGIN_DATA, NULL, 0); /* partitions: member 0 even, member 1 odd */
    for (int i = 0; i < 2; i++) {
        unsigned char ids[4 * 64];
        size_t k = 0;
        for (int32_t pid = i; pid < partitions; pid += 2) hz_put_i32(ids + 4 * k++, pid);
        hz_msg_frame(m, 0, ids, 4 * k);
    }
    hz_msg_frame(m, HZ_END_DATA, NULL, 0);
    unsigned char uuids[34] = {0};
    for (int i = 0; i < 2; i++) {
        hz_put_i64(uuids + 17 * i + 1, 0x1111 + i);
        hz_put_i64(uuids + 17 * i + 9, 0x2222 + i);
    }
    hz_msg_frame(m, 0, uuids, sizeof uuids);
    hz_msg_frame(m, HZ_BEGIN_DATA, NULL, 0); /* keyValuePairs */
    hz_msg_frame(m, HZ_END_DATA, NULL, 0);
    hz_msg_finish(m);
    return m->b.len;
}

static void test_auth(void)
{
    hz_msg m;
    size_t len = build_auth(&m, 7);
    const unsigned char *msg = (const unsigned char *)m.b.p;
    hz_auth a;
    CHECK(hz_decode_auth(msg, len, &a) == 1, "decode");
    CHECK(a.status == 0 && a.partition_count == 7, "status %d count %d", a.status,
          a.partition_count);
    CHECK(a.member.msb == 0x1111 && a.member.lsb == 0x2222 && !a.member.null, "member uuid");
    CHECK(a.cluster.null, "cluster uuid null");
    CHECK(a.member_list_version == 3 && a.partition_list_version == 9, "versions");
    CHECK(strcmp(a.server_version, "5.5.0") == 0, "version %s", a.server_version);
    CHECK(a.member_count == 2, "members %zu", a.member_count);
    if (a.member_count == 2) {
        CHECK(a.members[1].port == 5702 && strcmp(a.members[1].host, "127.0.0.1") == 0,
              "member 2 address");
        CHECK(a.members[1].uuid.msb == 0x1112, "member 2 uuid");
    }
    CHECK(a.owners && a.owners[4].msb == 0x1111 && a.owners[5].msb == 0x1112, "owners");
    hz_auth_free(&a);
    for (size_t i = 0; i < len; i++) {
        unsigned char *cut = malloc(i ? i : 1);
        memcpy(cut, msg, i);
        int r = hz_decode_auth(cut, i, &a);
        /* Only the trailing keyValuePairs (2 frames, protocol 2.8) may be missing. */
        CHECK(r != 1 || a.owners == NULL || i >= len - 2 * HZ_FRAME_HEADER,
              "prefix %zu decoded a partition table", i);
        if (r == 1) hz_auth_free(&a);
        free(cut);
    }
    hz_msg_free(&m);

    /* A partition id outside the table is refused: announce fewer partitions than listed. */
    len = build_auth(&m, 7);
    unsigned char *fx = (unsigned char *)m.b.p + HZ_FRAME_HEADER + HZ_RESP_HEADER;
    hz_put_i32(fx + 19, 3);
    CHECK(hz_decode_auth((unsigned char *)m.b.p, len, &a) == 0, "ids beyond the count");
    hz_msg_free(&m);
}

static void entry(void *arg, const hz_entry *e)
{
    int *n = arg;
    CHECK(e->key_len == 1 && e->value_len == 2, "entry sizes");
    (*n)++;
}

static void test_entries_and_values(void)
{
    hz_msg m;
    hz_msg_begin(&m, 0, 0, 0, 0);
    hz_msg_frame(&m, HZ_BEGIN_DATA, NULL, 0);
    for (int i = 0; i < 3; i++) {
        hz_msg_frame(&m, 0, "k", 1);
        hz_msg_frame(&m, 0, "vv", 2);
    }
    hz_msg_frame(&m, HZ_END_DATA, NULL, 0);
    hz_msg_finish(&m);
    hz_iter it;
    hz_frame f;
    hz_iter_init(&it, (unsigned char *)m.b.p, m.b.len);
    hz_next(&it, &f);
    int n = 0;
    CHECK(hz_decode_entries(&it, entry, &n) && n == 3, "3 entries (%d)", n);
    /* Never closed: malformed. */
    hz_iter_init(&it, (unsigned char *)m.b.p, m.b.len - HZ_FRAME_HEADER);
    hz_next(&it, &f);
    n = 0;
    CHECK(!hz_decode_entries(&it, entry, &n), "unterminated list");
    hz_msg_free(&m);

    unsigned char ver[HZ_VERSION_LEN];
    for (int i = 0; i < HZ_VERSION_LEN; i++) ver[i] = (unsigned char)(0xa0 + i);
    ss_buf b = {0};
    hz_value_wrap(&b, ver, 1700000000123, "hello\0x", 7);
    const unsigned char *v;
    size_t vlen;
    char etag[HZ_ETAG_LEN + 1];
    int64_t exp = -1;
    CHECK(hz_value_unwrap((unsigned char *)b.p, b.len, &v, &vlen, etag, &exp), "unwrap");
    CHECK(exp == 1700000000123, "expiry %lld", (long long)exp);
    CHECK(vlen == 7 && memcmp(v, "hello\0x", 7) == 0, "value bytes");
    CHECK(strcmp(etag, "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf") == 0, "etag %s", etag);
    CHECK(hz_etag_valid(etag) && !hz_etag_valid("xyz") &&
              !hz_etag_valid("A0a1a2a3a4a5a6a7a8a9aaabacadaeaf"),
          "etag shapes");
    /* A length beyond the Data is refused. */
    b.p[HZ_DATA_HEADER + 3]++;
    CHECK(!hz_value_unwrap((unsigned char *)b.p, b.len, &v, &vlen, etag, &exp), "length too long");
    free(b.p);

    /* A String written by another client: its bytes, a hashed ETag. */
    ss_buf s = {0};
    hz_data_encode(&s, HZ_TYPE_STRING, "{\"a\":1}", 7);
    CHECK(hz_value_unwrap((unsigned char *)s.p, s.len, &v, &vlen, etag, &exp), "plain string");
    CHECK(vlen == 7 && etag[0] == 'h' && strlen(etag) == 17 && hz_etag_valid(etag), "%s", etag);
    free(s.p);
    static const unsigned char int54[] = {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf9, 0, 0, 0, 0x36};
    CHECK(!hz_value_unwrap(int54, sizeof int54, &v, &vlen, etag, &exp), "an int is not a value");
}

static void test_murmur(void)
{
    /* The reference implementation's published results (SMHasher's MurmurHash3_x86_32). */
    CHECK(hz_murmur3("", 0, 0) == 0, "empty");
    CHECK(hz_murmur3("", 0, 1) == 0x514e28b7u, "empty seed 1");
    CHECK(hz_murmur3("hello", 5, 0) == 0x248bfa47u, "hello %08x", hz_murmur3("hello", 5, 0));
    CHECK(hz_murmur3("The quick brown fox jumps over the lazy dog", 43, 0) == 0x2e4ff723u, "fox");
    CHECK(hz_murmur3("\xff\xff\xff\xff", 4, 0) == 0x76293b50u, "ffffffff");
    /* Partition ids are within range, also for the hash INT32_MIN would break abs() on. */
    ss_buf k = {0};
    hz_data_encode(&k, HZ_TYPE_STRING, "key1", 4);
    int32_t p = hz_partition_of((unsigned char *)k.p, k.len, 271);
    CHECK(p >= 0 && p < 271, "partition %d", p);
    CHECK(hz_partition_of((unsigned char *)k.p, 4, 271) == -1, "short data");
    k.p[0] = (char)0x80; /* explicit partition hash INT32_MIN */
    k.p[1] = k.p[2] = k.p[3] = 0;
    CHECK(hz_partition_of((unsigned char *)k.p, k.len, 271) == 0, "INT32_MIN hash");
    free(k.p);
}

static void test_hostile(void)
{
    unsigned char buf[32] = {0};
    size_t len;
    /* Frame lengths below the header, above the cap, negative. */
    hz_put_i32(buf, 5);
    CHECK(hz_split(buf, sizeof buf, 1 << 20, &len) == -1, "length 5");
    hz_put_i32(buf, -1);
    CHECK(hz_split(buf, sizeof buf, 1 << 20, &len) == -1, "length -1");
    hz_put_i32(buf, 1 << 21);
    CHECK(hz_split(buf, sizeof buf, 1 << 20, &len) == -1, "over the cap");
    /* Frames without IS_FINAL up to the cap. */
    hz_put_i32(buf, 6);
    hz_put_i32(buf + 6, 6);
    CHECK(hz_split(buf, 12, 12, &len) == -1, "no final frame within the cap");
    /* hz_skip over a BEGIN never closed, and over deep nesting. */
    unsigned char nest[6 * 40];
    for (int i = 0; i < 40; i++) {
        hz_put_i32(nest + 6 * i, 6);
        nest[6 * i + 4] = 0;
        nest[6 * i + 5] = HZ_BEGIN_DATA >> 8;
    }
    hz_iter it;
    hz_iter_init(&it, nest, sizeof nest);
    CHECK(!hz_skip(&it), "unclosed nesting");
    /* Data shorter than its header, unknown types, a length that overflows. */
    int32_t type;
    const unsigned char *b;
    size_t n;
    static const unsigned char bad[] = {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf4, 0x7f, 0xff, 0xff, 0xff};
    CHECK(!hz_data_decode(bad, sizeof bad, &type, &b, &n), "huge byte[] length");
    CHECK(!hz_data_decode(bad, 7, &type, &b, &n), "short Data");
}

int main(void)
{
    test_create_proxy_example();
    test_map_put_example();
    test_responses();
    test_error();
    test_auth();
    test_entries_and_values();
    test_murmur();
    test_hostile();
    return check_summary("hazelcast_codec_test");
}

/*
 * cassandra_cql_test — the CQL native protocol v4 frame codec (src/stores/cassandra/cql.c)
 * without a server: request frames byte for byte as apache/cassandra
 * doc/native_protocol_v4.spec lays them out, response decoding (RESULT kinds, ERROR bodies,
 * SUPPORTED, the tracing/warning/payload prefix), and hostile input: every truncation of every
 * response, lengths past the frame, impossible row counts, runaway type nesting.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stores/cassandra/cql.h"
#include "stores/store_check.h"

/* Builds expected bytes from a hex string ("04 00 0001" — spaces ignored). */
static size_t hex(const char *s, uint8_t *out)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s == ' ') continue;
        unsigned v;
        sscanf(s, "%2x", &v);
        out[n++] = (uint8_t)v;
        s++;
    }
    return n;
}

static bool same(const ss_buf *b, const char *want_hex)
{
    uint8_t want[1024];
    size_t n = hex(want_hex, want);
    if (b->len != n || memcmp(b->p, want, n) != 0) {
        fprintf(stderr, "  got  ");
        for (size_t i = 0; i < b->len; i++) fprintf(stderr, "%02x", (uint8_t)b->p[i]);
        fprintf(stderr, "\n  want %s\n", want_hex);
        return false;
    }
    return true;
}

static void test_requests(void)
{
    ss_buf b = {0};

    /* OPTIONS: header only; stream 5; body length 0. */
    ss_cql_req_options(&b, 5);
    CHECK(same(&b, "04 00 0005 05 00000000"), "OPTIONS");
    b.len = 0;

    /* STARTUP: [string map] {"CQL_VERSION": "3.0.0"}. */
    ss_cql_req_startup(&b, 0, "3.0.0");
    CHECK(same(&b, "04 00 0000 01 00000016"
                   "0001 000b 43514c5f56455253494f4e 0005 332e302e30"),
          "STARTUP");
    b.len = 0;

    /* AUTH_RESPONSE: [bytes] SASL PLAIN token "\0ab\0xyz". */
    ss_cql_req_auth_plain(&b, 1, "ab", "xyz");
    CHECK(same(&b, "04 00 0001 0f 0000000b 00000007 00 6162 00 78797a"), "AUTH_RESPONSE");
    b.len = 0;

    /* QUERY: [long string] query, consistency ONE, flags Values, 2 values (one null). */
    cql_value v[2] = {{"k", 1}, {NULL, -1}};
    ss_cql_req_query(&b, 2, "SELECT 1", CQL_ONE, v, 2);
    CHECK(same(&b, "04 00 0002 07 0000001a 00000008 53454c4543542031 0001 01 0002"
                   "00000001 6b ffffffff"),
          "QUERY");
    b.len = 0;

    /* QUERY without values: flags 0, no value count. */
    ss_cql_req_query(&b, 0, "X", CQL_ALL, NULL, 0);
    CHECK(same(&b, "04 00 0000 07 00000008 00000001 58 0005 00"), "QUERY no values");
    b.len = 0;

    /* PREPARE: [long string]. */
    ss_cql_req_prepare(&b, 3, "Q");
    CHECK(same(&b, "04 00 0003 09 00000005 00000001 51"), "PREPARE");
    b.len = 0;

    /* EXECUTE: [short bytes] id, QUORUM, flags Values|Serial, one empty value, LOCAL_SERIAL. */
    const uint8_t id[2] = {0xab, 0xcd};
    cql_value e[1] = {{"", 0}};
    ss_cql_req_execute(&b, 0x7fff, id, 2, CQL_QUORUM, CQL_LOCAL_SERIAL, e, 1);
    CHECK(same(&b, "04 00 7fff 0a 0000000f 0002 abcd 0004 11 0001 00000000 0009"), "EXECUTE");
    b.len = 0;

    /* BATCH: logged, one prepared statement with one value, ONE, serial SERIAL. */
    cql_value bv[1] = {{"z", 1}};
    cql_batch_stmt st = {id, 2, bv, 1};
    ss_cql_req_batch(&b, 4, 0, &st, 1, CQL_ONE, CQL_SERIAL);
    CHECK(same(&b, "04 00 0004 0d 00000014 00 0001 01 0002 abcd 0001 00000001 7a 0001 10 0008"),
          "BATCH");
    b.len = 0;

    /* Two frames in one buffer keep their own lengths (pipelining). */
    ss_cql_req_options(&b, 0);
    ss_cql_req_prepare(&b, 1, "Q");
    CHECK(same(&b, "04 00 0000 05 00000000 04 00 0001 09 00000005 00000001 51"), "pipelined");
    CHECK(!b.oom, "no allocation failure");
    free(b.p);
}

static void test_header(void)
{
    uint8_t h[9];
    cql_header out;
    const char *why = NULL;
    hex("84 00 ffff 0c 00000010", h);
    CHECK(ss_cql_header_decode(h, &out, &why), "event header");
    CHECK(out.stream == -1 && out.opcode == CQL_OP_EVENT && out.length == 16, "fields");

    hex("84 08 0102 08 00000004", h);
    CHECK(ss_cql_header_decode(h, &out, &why) && out.stream == 0x0102 && out.flags == 8, "flags");

    hex("04 00 0000 08 00000000", h);
    CHECK(!ss_cql_header_decode(h, &out, &why) && strstr(why, "not a response"), "request: %s",
          why);
    hex("83 00 0000 08 00000000", h);
    CHECK(!ss_cql_header_decode(h, &out, &why) && strstr(why, "version"), "v3: %s", why);
    hex("84 01 0000 08 00000000", h);
    CHECK(!ss_cql_header_decode(h, &out, &why) && strstr(why, "compress"), "compressed: %s", why);
    hex("84 00 0000 08 10000001", h);
    CHECK(!ss_cql_header_decode(h, &out, &why) && strstr(why, "256 MiB"), "too long: %s", why);
    hex("84 00 0000 08 10000000", h);
    CHECK(ss_cql_header_decode(h, &out, &why), "exactly 256 MiB is allowed");
}

/* Every proper prefix of a valid body must be refused by `parse` (never read past it). */
static void check_truncations(const char *name, const uint8_t *body, size_t n,
                              bool (*parse)(const uint8_t *, size_t))
{
    for (size_t i = 0; i < n; i++) {
        /* A copy of exactly i bytes, so AddressSanitizer sees any read past the end. */
        uint8_t *p = malloc(i ? i : 1);
        memcpy(p, body, i);
        CHECK(!parse(p, i), "%s truncated to %zu of %zu bytes was accepted", name, i, n);
        free(p);
    }
}

static bool parse_err(const uint8_t *p, size_t n)
{
    cql_rd r;
    cql_error e;
    ss_cql_rd_init(&r, p, n);
    return ss_cql_parse_error(&r, &e);
}

static bool parse_res(const uint8_t *p, size_t n)
{
    cql_rd r;
    cql_result res;
    ss_cql_rd_init(&r, p, n);
    if (!ss_cql_parse_result(&r, &res)) return false;
    /* Rows: every cell must be readable too. */
    for (int64_t i = 0; res.kind == CQL_RESULT_ROWS && i < (int64_t)res.rows_count * res.columns;
         i++) {
        const uint8_t *c;
        int32_t cn;
        if (!ss_cql_get_bytes(&res.rows, &c, &cn)) return false;
    }
    return true;
}

static void test_errors(void)
{
    uint8_t b[256];
    size_t n;
    cql_rd r;
    cql_error e;

    /* Unavailable: <cl><required><alive>. */
    n = hex("00001000 0003 6e6f21 0005 00000003 00000001", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_error(&r, &e), "unavailable");
    CHECK(e.code == CQL_ERR_UNAVAILABLE && e.msg_len == 3 && !memcmp(e.msg, "no!", 3) &&
              e.consistency == CQL_ALL && e.required == 3 && e.alive == 1,
          "unavailable fields");
    CHECK(!strcmp(ss_cql_consistency_name(e.consistency), "ALL"), "name");
    check_truncations("unavailable", b, n, parse_err);

    /* Write_timeout: <cl><received><blockfor><writeType>. */
    n = hex("00001100 0000 0004 00000000 00000001 0003 434153", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_error(&r, &e) && e.code == CQL_ERR_WRITE_TIMEOUT && e.alive == 0 &&
              e.required == 1 && e.write_type_len == 3 && !memcmp(e.write_type, "CAS", 3),
          "write timeout");
    check_truncations("write timeout", b, n, parse_err);

    /* Read_timeout: <cl><received><blockfor><data_present>. */
    n = hex("00001200 0000 0001 00000000 00000001 00", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_error(&r, &e) && e.code == CQL_ERR_READ_TIMEOUT && e.required == 1,
          "read timeout");
    check_truncations("read timeout", b, n, parse_err);

    /* Read_failure and Write_failure carry a failure count too. */
    n = hex("00001300 0000 0001 00000000 00000001 00000001 01", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_error(&r, &e) && e.code == CQL_ERR_READ_FAILURE, "read failure");
    check_truncations("read failure", b, n, parse_err);
    n = hex("00001500 0000 0001 00000000 00000001 00000001 0006 53494d504c45", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_error(&r, &e) && e.code == CQL_ERR_WRITE_FAILURE && e.write_type_len == 6,
          "write failure");
    check_truncations("write failure", b, n, parse_err);

    /* Unprepared: [short bytes] id. */
    n = hex("00002500 0000 0004 01020304", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_error(&r, &e) && e.code == CQL_ERR_UNPREPARED && e.unprepared_id_len == 4 &&
              e.unprepared_id[3] == 4,
          "unprepared");
    check_truncations("unprepared", b, n, parse_err);

    /* Syntax error: nothing after the message; extra bytes are allowed by the spec. */
    n = hex("00002000 0002 6869 deadbeef", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_error(&r, &e) && e.code == CQL_ERR_SYNTAX && e.msg_len == 2, "syntax");

    /* A message length past the frame. */
    n = hex("00002200 ffff 41", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(!ss_cql_parse_error(&r, &e), "message past the end");
}

static void test_results(void)
{
    uint8_t b[512];
    size_t n;
    cql_rd r;
    cql_result res;

    n = hex("00000001", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_result(&r, &res) && res.kind == CQL_RESULT_VOID, "void");

    /* Rows: Global_tables_spec, ks "k", table "t", columns value blob, etag varchar,
     * ttl(value) int; 2 rows: ("\x00\xff", "e", 7) and (empty, null, null). */
    n = hex("00000002 00000001 00000003 0001 6b 0001 74"
            " 0005 76616c7565 0003 0004 65746167 000d 0003 74746c 0009"
            " 00000002"
            " 00000002 00ff 00000001 65 00000004 00000007"
            " 00000000 ffffffff ffffffff",
            b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_result(&r, &res) && res.kind == CQL_RESULT_ROWS && res.columns == 3 &&
              res.rows_count == 2,
          "rows");
    const uint8_t *c;
    int32_t cn;
    CHECK(ss_cql_get_bytes(&res.rows, &c, &cn) && cn == 2 && c[0] == 0 && c[1] == 0xff,
          "binary cell");
    CHECK(ss_cql_get_bytes(&res.rows, &c, &cn) && cn == 1 && c[0] == 'e', "text cell");
    CHECK(ss_cql_get_bytes(&res.rows, &c, &cn) && cn == 4 && c[3] == 7, "int cell");
    CHECK(ss_cql_get_bytes(&res.rows, &c, &cn) && cn == 0, "empty cell is not null");
    CHECK(ss_cql_get_bytes(&res.rows, &c, &cn) && cn == -1 && !c, "null cell");
    CHECK(ss_cql_get_bytes(&res.rows, &c, &cn) && cn == -1, "null cell 2");
    CHECK(!ss_cql_get_bytes(&res.rows, &c, &cn) && res.rows.bad, "no seventh cell");
    check_truncations("rows", b, n, parse_res);

    /* Rows with per-column table specs, collection types, paging state. */
    n = hex("00000002 00000002 00000002 00000002 abcd"
            " 0001 6b 0001 74 0001 61 0021 000d 0020 0009" /* a map<text, list<int>> */
            " 0001 6b 0001 74 0001 62 0030 0001 6b 0001 75 0001 0001 78 0031 0002 0001 0003"
            " 00000001 00000000 00000001 58",
            b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_result(&r, &res) && res.columns == 2 && res.rows_count == 1,
          "collections, UDT, tuple, paging");
    check_truncations("rows with types", b, n, parse_res);

    /* No_metadata: only flags and count. */
    n = hex("00000002 00000004 00000001 00000001 00000001 01", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_result(&r, &res) && res.columns == 1 && res.rows_count == 1 &&
              ss_cql_get_bytes(&res.rows, &c, &cn) && cn == 1 && c[0] == 1,
          "no metadata ([applied] true)");

    /* Prepared: id, bind metadata with pk indexes, empty result metadata. */
    n = hex("00000004 0002 beef"
            " 00000001 00000001 00000001 0000 0001 6b 0001 74 0003 6b6579 000d"
            " 00000004 00000000",
            b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_result(&r, &res) && res.kind == CQL_RESULT_PREPARED &&
              res.prepared_id_len == 2 && res.prepared_id[0] == 0xbe,
          "prepared");
    check_truncations("prepared", b, n, parse_res);

    n = hex("00000003 0004 64617072", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_result(&r, &res) && res.kind == CQL_RESULT_SET_KEYSPACE &&
              res.keyspace_len == 4 && !memcmp(res.keyspace, "dapr", 4),
          "set keyspace");
    check_truncations("set keyspace", b, n, parse_res);

    n = hex("00000005 0007 43524541544544 0008 4b455953504143 45 0004 64617072", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_result(&r, &res) && res.kind == CQL_RESULT_SCHEMA_CHANGE, "schema change");

    /* Hostile: unknown kind, impossible row counts, negative counts, deep nesting, bad type. */
    n = hex("00000009", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(!ss_cql_parse_result(&r, &res), "unknown kind");
    n = hex("00000002 00000004 00000001 7fffffff 00000000", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(!ss_cql_parse_result(&r, &res), "2^31 rows in 4 bytes");
    n = hex("00000002 00000004 00000001 ffffffff", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(!ss_cql_parse_result(&r, &res), "negative rows");
    n = hex("00000002 00000004 ffffffff 00000000", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(!ss_cql_parse_result(&r, &res), "negative columns");
    n = hex("00000002 00000001 00000001 0001 6b 0001 74 0001 61 0099 00000000", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(!ss_cql_parse_result(&r, &res), "type id 0x99");
    /* list<list<...>> 40 deep. */
    n = hex("00000002 00000001 00000001 0001 6b 0001 74 0001 61", b);
    for (int i = 0; i < 40; i++) n += hex("0020", b + n);
    n += hex("0009 00000000", b + n);
    ss_cql_rd_init(&r, b, n);
    CHECK(!ss_cql_parse_result(&r, &res), "nesting 40 deep");
    n = hex("00000004 0000 00000000 00000000 00000000 00000004 00000000", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(!ss_cql_parse_result(&r, &res), "prepared with an empty id");
    n = hex("00000004 0001 01 00000000 00000000 7fffffff", b);
    ss_cql_rd_init(&r, b, n);
    CHECK(!ss_cql_parse_result(&r, &res), "2^31 pk indexes");
}

static void test_prefix_and_supported(void)
{
    uint8_t b[256];
    /* Tracing id, one warning, a custom payload {"p": "\x01"}, then the message. */
    size_t n = hex("00112233445566778899aabbccddeeff"
                   " 0001 0004 7761726e"
                   " 0001 0001 70 00000001 01"
                   " 00000001",
                   b);
    cql_rd r;
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_skip_prefix(&r, CQL_FLAG_TRACING | CQL_FLAG_WARNING | CQL_FLAG_CUSTOM_PAYLOAD) &&
              ss_cql_get_int(&r) == CQL_RESULT_VOID && r.pos == n,
          "prefix skipped");
    ss_cql_rd_init(&r, b, 20);
    CHECK(!ss_cql_skip_prefix(&r, CQL_FLAG_TRACING | CQL_FLAG_WARNING), "truncated warnings");

    /* SUPPORTED {"COMPRESSION": ["lz4", "snappy"], "CQL_VERSION": ["3.4.7"]}. */
    n = hex("0002 000b 434f4d5052455353494f4e 0002 0003 6c7a34 0006 736e61707079"
            " 000b 43514c5f56455253494f4e 0001 0005 332e342e37",
            b);
    const char *v[4];
    size_t l[4], count = 0;
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_supported(&r, "CQL_VERSION", v, l, 4, &count) && count == 1 && l[0] == 5 &&
              !memcmp(v[0], "3.4.7", 5),
          "CQL_VERSION");
    ss_cql_rd_init(&r, b, n);
    CHECK(ss_cql_parse_supported(&r, "COMPRESSION", v, l, 1, &count) && count == 1,
          "capped at max");
    ss_cql_rd_init(&r, b, n - 1);
    CHECK(!ss_cql_parse_supported(&r, "CQL_VERSION", v, l, 4, &count), "truncated multimap");
}

static void test_scalars(void)
{
    ss_buf b = {0};
    ss_cql_put_long(&b, -2);
    ss_cql_put_short(&b, 0xfffe);
    cql_rd r;
    ss_cql_rd_init(&r, b.p, b.len);
    CHECK(ss_cql_get_long(&r) == -2 && ss_cql_get_short(&r) == 0xfffe && !r.bad, "long, short");
    CHECK(ss_cql_get_byte(&r) == 0 && r.bad, "read past the end marks the reader bad");
    CHECK(ss_cql_get_int(&r) == 0 && r.bad, "and stays bad");
    b.len = 0;
    ss_cql_put_bytes(&b, NULL, -5);
    CHECK(same(&b, "ffffffff"), "any negative length is null");
    free(b.p);
    uint8_t x[] = {0x80, 0, 0, 0};
    ss_cql_rd_init(&r, x, 4);
    const char *s;
    size_t sn;
    CHECK(!ss_cql_get_long_string(&r, &s, &sn), "negative long string length");
}

int main(void)
{
    test_requests();
    test_header();
    test_errors();
    test_results();
    test_prefix_and_supported();
    test_scalars();
    return check_summary("cassandra_cql_test");
}

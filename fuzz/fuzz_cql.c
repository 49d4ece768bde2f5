/*
 * fuzz_cql.c — the Cassandra driver's CQL frame decoder (src/stores/cassandra/cql.c) on
 * arbitrary server bytes: a response header, then its body decoded as every message kind the
 * driver reads (ERROR, RESULT with all its cells, SUPPORTED). The decoder must refuse what is
 * malformed and never read outside the frame; what it accepts must be self-consistent.
 *
 * Input: a 9-byte response header followed by the body (the header's length is ignored: the
 * body is whatever follows, as a truncated or overlong frame would arrive).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stores/cassandra/cql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < CQL_HEADER_LEN) return 0;
    cql_header h;
    const char *why = NULL;
    bool ok = ss_cql_header_decode(data, &h, &why);
    if (!ok && (!why || !*why)) abort();
    /* A private copy of exactly the body, so any read past it is caught. */
    size_t n = size - CQL_HEADER_LEN;
    uint8_t *body = malloc(n ? n : 1);
    if (!body) return 0;
    memcpy(body, data + CQL_HEADER_LEN, n);
    uint8_t flags = data[1];

    cql_rd r;
    cql_error e;
    ss_cql_rd_init(&r, body, n);
    if (ss_cql_skip_prefix(&r, flags) && ss_cql_parse_error(&r, &e)) {
        if (r.pos > n || (e.msg_len && !e.msg)) abort();
        if (e.unprepared_id_len && !e.unprepared_id) abort();
    }

    cql_result res;
    ss_cql_rd_init(&r, body, n);
    if (ss_cql_skip_prefix(&r, flags) && ss_cql_parse_result(&r, &res)) {
        if (r.pos > n || res.rows_count < 0 || res.columns < 0) abort();
        if (res.kind == CQL_RESULT_PREPARED && !res.prepared_id_len) abort();
        for (int64_t i = 0;
             res.kind == CQL_RESULT_ROWS && i < (int64_t)res.rows_count * res.columns; i++) {
            const uint8_t *c;
            int32_t cn;
            if (!ss_cql_get_bytes(&res.rows, &c, &cn)) break;
            if (cn >= 0 && (size_t)cn > n) abort();
        }
    }

    const char *vals[4];
    size_t lens[4], count = 0;
    ss_cql_rd_init(&r, body, n);
    if (ss_cql_parse_supported(&r, "CQL_VERSION", vals, lens, 4, &count) && count > 4) abort();
    free(body);
    return 0;
}

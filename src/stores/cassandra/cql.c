/*
 * cql.c — CQL native protocol v4 frame codec (see cql.h). Written by hand: Debian ships no C
 * client for Cassandra (the DataStax C/C++ driver is not packaged), and the subset a key/value
 * store needs is small.
 */
#include "cql.h"

#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Encoding                                                                                    */
/* ------------------------------------------------------------------------------------------ */

void ss_cql_put_byte(ss_buf *b, uint8_t v)
{
    ss_buf_add(b, &v, 1);
}

void ss_cql_put_short(ss_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    ss_buf_add(b, x, 2);
}

void ss_cql_put_int(ss_buf *b, int32_t v)
{
    uint32_t u = (uint32_t)v;
    uint8_t x[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    ss_buf_add(b, x, 4);
}

void ss_cql_put_long(ss_buf *b, int64_t v)
{
    uint64_t u = (uint64_t)v;
    ss_cql_put_int(b, (int32_t)(uint32_t)(u >> 32));
    ss_cql_put_int(b, (int32_t)(uint32_t)u);
}

void ss_cql_put_string(ss_buf *b, const char *s, size_t n)
{
    ss_cql_put_short(b, (uint16_t)n);
    ss_buf_add(b, s, n);
}

void ss_cql_put_long_string(ss_buf *b, const char *s, size_t n)
{
    ss_cql_put_int(b, (int32_t)n);
    ss_buf_add(b, s, n);
}

void ss_cql_put_bytes(ss_buf *b, const void *p, int32_t n)
{
    ss_cql_put_int(b, n < 0 ? -1 : n);
    if (n > 0) ss_buf_add(b, p, (size_t)n);
}

void ss_cql_put_short_bytes(ss_buf *b, const void *p, uint16_t n)
{
    ss_cql_put_short(b, n);
    ss_buf_add(b, p, n);
}

size_t ss_cql_frame_begin(ss_buf *b, int16_t stream, uint8_t opcode)
{
    size_t start = b->len;
    ss_cql_put_byte(b, CQL_VERSION_REQ);
    ss_cql_put_byte(b, 0);
    ss_cql_put_short(b, (uint16_t)stream);
    ss_cql_put_byte(b, opcode);
    ss_cql_put_int(b, 0);
    return start;
}

void ss_cql_frame_end(ss_buf *b, size_t start)
{
    if (b->oom || b->len < start + CQL_HEADER_LEN) return;
    uint32_t n = (uint32_t)(b->len - start - CQL_HEADER_LEN);
    uint8_t *h = (uint8_t *)b->p + start + 5;
    h[0] = (uint8_t)(n >> 24);
    h[1] = (uint8_t)(n >> 16);
    h[2] = (uint8_t)(n >> 8);
    h[3] = (uint8_t)n;
}

void ss_cql_req_startup(ss_buf *b, int16_t stream, const char *cql_version)
{
    size_t f = ss_cql_frame_begin(b, stream, CQL_OP_STARTUP);
    ss_cql_put_short(b, 1);
    ss_cql_put_string(b, "CQL_VERSION", 11);
    ss_cql_put_string(b, cql_version, strlen(cql_version));
    ss_cql_frame_end(b, f);
}

void ss_cql_req_options(ss_buf *b, int16_t stream)
{
    ss_cql_frame_end(b, ss_cql_frame_begin(b, stream, CQL_OP_OPTIONS));
}

void ss_cql_req_auth_plain(ss_buf *b, int16_t stream, const char *user, const char *password)
{
    size_t f = ss_cql_frame_begin(b, stream, CQL_OP_AUTH_RESPONSE);
    size_t ul = strlen(user), pl = strlen(password);
    ss_cql_put_int(b, (int32_t)(2 + ul + pl));
    ss_cql_put_byte(b, 0);
    ss_buf_add(b, user, ul);
    ss_cql_put_byte(b, 0);
    ss_buf_add(b, password, pl);
    ss_cql_frame_end(b, f);
}

/* <consistency><flags>[values][serial]: the query parameters shared by QUERY and EXECUTE. */
static void put_params(ss_buf *b, uint16_t consistency, uint16_t serial, const cql_value *values,
                       uint16_t count)
{
    ss_cql_put_short(b, consistency);
    uint8_t flags = 0;
    if (count) flags |= 0x01;
    if (serial) flags |= 0x10;
    ss_cql_put_byte(b, flags);
    if (count) {
        ss_cql_put_short(b, count);
        for (uint16_t i = 0; i < count; i++) ss_cql_put_bytes(b, values[i].p, values[i].n);
    }
    if (serial) ss_cql_put_short(b, serial);
}

void ss_cql_req_query(ss_buf *b, int16_t stream, const char *cql, uint16_t consistency,
                      const cql_value *values, uint16_t count)
{
    size_t f = ss_cql_frame_begin(b, stream, CQL_OP_QUERY);
    ss_cql_put_long_string(b, cql, strlen(cql));
    put_params(b, consistency, 0, values, count);
    ss_cql_frame_end(b, f);
}

void ss_cql_req_prepare(ss_buf *b, int16_t stream, const char *cql)
{
    size_t f = ss_cql_frame_begin(b, stream, CQL_OP_PREPARE);
    ss_cql_put_long_string(b, cql, strlen(cql));
    ss_cql_frame_end(b, f);
}

void ss_cql_req_execute(ss_buf *b, int16_t stream, const uint8_t *id, uint16_t id_len,
                        uint16_t consistency, uint16_t serial, const cql_value *values,
                        uint16_t count)
{
    size_t f = ss_cql_frame_begin(b, stream, CQL_OP_EXECUTE);
    ss_cql_put_short_bytes(b, id, id_len);
    put_params(b, consistency, serial, values, count);
    ss_cql_frame_end(b, f);
}

void ss_cql_req_batch(ss_buf *b, int16_t stream, uint8_t type, const cql_batch_stmt *stmts,
                      uint16_t count, uint16_t consistency, uint16_t serial)
{
    size_t f = ss_cql_frame_begin(b, stream, CQL_OP_BATCH);
    ss_cql_put_byte(b, type);
    ss_cql_put_short(b, count);
    for (uint16_t i = 0; i < count; i++) {
        ss_cql_put_byte(b, 1); /* prepared */
        ss_cql_put_short_bytes(b, stmts[i].id, stmts[i].id_len);
        ss_cql_put_short(b, stmts[i].count);
        for (uint16_t j = 0; j < stmts[i].count; j++)
            ss_cql_put_bytes(b, stmts[i].values[j].p, stmts[i].values[j].n);
    }
    ss_cql_put_short(b, consistency);
    ss_cql_put_byte(b, serial ? 0x10 : 0);
    if (serial) ss_cql_put_short(b, serial);
    ss_cql_frame_end(b, f);
}

/* ------------------------------------------------------------------------------------------ */
/* Decoding                                                                                    */
/* ------------------------------------------------------------------------------------------ */

bool ss_cql_header_decode(const uint8_t h[CQL_HEADER_LEN], cql_header *out, const char **why)
{
    out->version = h[0];
    out->flags = h[1];
    out->stream = (int16_t)(uint16_t)((h[2] << 8) | h[3]);
    out->opcode = h[4];
    out->length = ((uint32_t)h[5] << 24) | ((uint32_t)h[6] << 16) | ((uint32_t)h[7] << 8) | h[8];
    if (out->version != CQL_VERSION_RESP) {
        *why = (out->version & 0x7f) != 4 ? "response frame of another protocol version"
                                          : "frame is not a response";
        return false;
    }
    if (out->flags & CQL_FLAG_COMPRESSION) {
        *why = "compressed frame, but no compression was negotiated";
        return false;
    }
    if (out->length > CQL_MAX_BODY) {
        *why = "frame body longer than the protocol's 256 MiB limit";
        return false;
    }
    return true;
}

void ss_cql_rd_init(cql_rd *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->bad = false;
}

/* Whether n more bytes are there; marks the reader bad when not. */
static bool need(cql_rd *r, size_t n)
{
    if (r->bad || r->len - r->pos < n) {
        r->bad = true;
        return false;
    }
    return true;
}

uint8_t ss_cql_get_byte(cql_rd *r)
{
    if (!need(r, 1)) return 0;
    return r->p[r->pos++];
}

uint16_t ss_cql_get_short(cql_rd *r)
{
    if (!need(r, 2)) return 0;
    uint16_t v = (uint16_t)((r->p[r->pos] << 8) | r->p[r->pos + 1]);
    r->pos += 2;
    return v;
}

int32_t ss_cql_get_int(cql_rd *r)
{
    if (!need(r, 4)) return 0;
    const uint8_t *p = r->p + r->pos;
    uint32_t v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    r->pos += 4;
    return (int32_t)v;
}

int64_t ss_cql_get_long(cql_rd *r)
{
    uint64_t hi = (uint32_t)ss_cql_get_int(r);
    uint64_t lo = (uint32_t)ss_cql_get_int(r);
    return (int64_t)((hi << 32) | lo);
}

bool ss_cql_skip(cql_rd *r, size_t n)
{
    if (!need(r, n)) return false;
    r->pos += n;
    return true;
}

bool ss_cql_get_string(cql_rd *r, const char **s, size_t *n)
{
    uint16_t len = ss_cql_get_short(r);
    if (!need(r, len)) return false;
    *s = (const char *)r->p + r->pos;
    *n = len;
    r->pos += len;
    return true;
}

bool ss_cql_get_long_string(cql_rd *r, const char **s, size_t *n)
{
    int32_t len = ss_cql_get_int(r);
    if (r->bad || len < 0 || !need(r, (size_t)len)) {
        r->bad = true;
        return false;
    }
    *s = (const char *)r->p + r->pos;
    *n = (size_t)len;
    r->pos += (size_t)len;
    return true;
}

bool ss_cql_get_bytes(cql_rd *r, const uint8_t **p, int32_t *n)
{
    int32_t len = ss_cql_get_int(r);
    if (r->bad) return false;
    if (len < 0) {
        *p = NULL;
        *n = -1;
        return true;
    }
    if (!need(r, (size_t)len)) return false;
    *p = r->p + r->pos;
    *n = len;
    r->pos += (size_t)len;
    return true;
}

bool ss_cql_get_short_bytes(cql_rd *r, const uint8_t **p, uint16_t *n)
{
    uint16_t len = ss_cql_get_short(r);
    if (!need(r, len)) return false;
    *p = r->p + r->pos;
    *n = len;
    r->pos += len;
    return true;
}

static bool skip_string(cql_rd *r)
{
    const char *s;
    size_t n;
    return ss_cql_get_string(r, &s, &n);
}

static bool skip_string_list(cql_rd *r)
{
    uint16_t n = ss_cql_get_short(r);
    for (uint16_t i = 0; i < n && !r->bad; i++) skip_string(r);
    return !r->bad;
}

bool ss_cql_skip_prefix(cql_rd *r, uint8_t flags)
{
    if (flags & CQL_FLAG_TRACING) ss_cql_skip(r, 16);
    if (flags & CQL_FLAG_WARNING) skip_string_list(r);
    if (flags & CQL_FLAG_CUSTOM_PAYLOAD) {
        uint16_t n = ss_cql_get_short(r);
        for (uint16_t i = 0; i < n && !r->bad; i++) {
            const uint8_t *p;
            int32_t len;
            skip_string(r);
            ss_cql_get_bytes(r, &p, &len);
        }
    }
    return !r->bad;
}

bool ss_cql_parse_error(cql_rd *r, cql_error *out)
{
    memset(out, 0, sizeof *out);
    out->code = ss_cql_get_int(r);
    if (!ss_cql_get_string(r, &out->msg, &out->msg_len)) return false;
    switch (out->code) {
    case CQL_ERR_UNAVAILABLE:
        out->consistency = ss_cql_get_short(r);
        out->required = ss_cql_get_int(r);
        out->alive = ss_cql_get_int(r);
        break;
    case CQL_ERR_WRITE_TIMEOUT:
        out->consistency = ss_cql_get_short(r);
        out->alive = ss_cql_get_int(r);
        out->required = ss_cql_get_int(r);
        ss_cql_get_string(r, &out->write_type, &out->write_type_len);
        break;
    case CQL_ERR_READ_TIMEOUT:
        out->consistency = ss_cql_get_short(r);
        out->alive = ss_cql_get_int(r);
        out->required = ss_cql_get_int(r);
        ss_cql_get_byte(r);
        break;
    case CQL_ERR_READ_FAILURE:
        out->consistency = ss_cql_get_short(r);
        out->alive = ss_cql_get_int(r);
        out->required = ss_cql_get_int(r);
        ss_cql_get_int(r);
        ss_cql_get_byte(r);
        break;
    case CQL_ERR_WRITE_FAILURE:
        out->consistency = ss_cql_get_short(r);
        out->alive = ss_cql_get_int(r);
        out->required = ss_cql_get_int(r);
        ss_cql_get_int(r);
        ss_cql_get_string(r, &out->write_type, &out->write_type_len);
        break;
    case CQL_ERR_UNPREPARED:
        ss_cql_get_short_bytes(r, &out->unprepared_id, &out->unprepared_id_len);
        break;
    default: /* the rest carries nothing we use; extra bytes are allowed by the spec */
        break;
    }
    return !r->bad;
}

const char *ss_cql_consistency_name(uint16_t c)
{
    static const char *const names[] = {
        "ANY",          "ONE",         "TWO",    "THREE",        "QUORUM",    "ALL",
        "LOCAL_QUORUM", "EACH_QUORUM", "SERIAL", "LOCAL_SERIAL", "LOCAL_ONE",
    };
    return c < sizeof names / sizeof names[0] ? names[c] : "UNKNOWN";
}

/* Skips one [option] type; collections nest, so depth bounds hostile recursion. */
static bool skip_type(cql_rd *r, int depth)
{
    if (depth > 16) {
        r->bad = true;
        return false;
    }
    uint16_t id = ss_cql_get_short(r);
    switch (id) {
    case 0x0000: /* custom: class name */
        return skip_string(r);
    case 0x0020: /* list */
    case 0x0022: /* set */
        return skip_type(r, depth + 1);
    case 0x0021: /* map */
        return skip_type(r, depth + 1) && skip_type(r, depth + 1);
    case 0x0030: { /* UDT */
        if (!skip_string(r) || !skip_string(r)) return false;
        uint16_t n = ss_cql_get_short(r);
        for (uint16_t i = 0; i < n && !r->bad; i++)
            if (!skip_string(r) || !skip_type(r, depth + 1)) return false;
        return !r->bad;
    }
    case 0x0031: { /* tuple */
        uint16_t n = ss_cql_get_short(r);
        for (uint16_t i = 0; i < n && !r->bad; i++)
            if (!skip_type(r, depth + 1)) return false;
        return !r->bad;
    }
    default:
        if (id > 0x0031) r->bad = true; /* no such type in v4 */
        return !r->bad;
    }
}

/* <flags><columns_count>[<paging_state>][<global_table_spec>?<col_spec_1>...]. pk indexes are
 * only in a PREPARED result's bind metadata. */
static bool skip_metadata(cql_rd *r, bool with_pk, int32_t *columns)
{
    int32_t flags = ss_cql_get_int(r);
    int32_t n = ss_cql_get_int(r);
    if (r->bad || n < 0) {
        r->bad = true;
        return false;
    }
    if (with_pk) {
        int32_t pk = ss_cql_get_int(r);
        if (pk < 0 || !ss_cql_skip(r, (size_t)pk * 2)) {
            r->bad = true;
            return false;
        }
    }
    if (!with_pk && (flags & 0x0002)) { /* Has_more_pages: paging state */
        const uint8_t *p;
        int32_t len;
        if (!ss_cql_get_bytes(r, &p, &len)) return false;
    }
    if (!(flags & 0x0004)) { /* column specs unless No_metadata */
        bool global = flags & 0x0001;
        if (global && (!skip_string(r) || !skip_string(r))) return false;
        for (int32_t i = 0; i < n && !r->bad; i++) {
            if (!global && (!skip_string(r) || !skip_string(r))) return false;
            if (!skip_string(r) || !skip_type(r, 0)) return false;
        }
    }
    if (columns) *columns = n;
    return !r->bad;
}

bool ss_cql_parse_result(cql_rd *r, cql_result *out)
{
    memset(out, 0, sizeof *out);
    out->kind = ss_cql_get_int(r);
    switch (out->kind) {
    case CQL_RESULT_VOID:
        break;
    case CQL_RESULT_ROWS: {
        if (!skip_metadata(r, false, &out->columns)) return false;
        out->rows_count = ss_cql_get_int(r);
        if (r->bad || out->rows_count < 0) return !(r->bad = true);
        /* Every cell is at least its 4-byte length: a count the frame cannot hold is hostile. */
        size_t left = r->len - r->pos;
        if (out->columns > 0 && (size_t)out->rows_count > left / 4 / (size_t)out->columns)
            return !(r->bad = true);
        ss_cql_rd_init(&out->rows, r->p + r->pos, left);
        break;
    }
    case CQL_RESULT_SET_KEYSPACE:
        ss_cql_get_string(r, &out->keyspace, &out->keyspace_len);
        break;
    case CQL_RESULT_PREPARED:
        if (!ss_cql_get_short_bytes(r, &out->prepared_id, &out->prepared_id_len)) return false;
        if (out->prepared_id_len == 0) return !(r->bad = true);
        if (!skip_metadata(r, true, NULL) || !skip_metadata(r, false, NULL)) return false;
        break;
    case CQL_RESULT_SCHEMA_CHANGE:
        /* <change_type><target><options>: nothing a driver needs beyond "it happened". */
        skip_string(r);
        skip_string(r);
        break;
    default:
        r->bad = true;
        break;
    }
    return !r->bad;
}

bool ss_cql_parse_supported(cql_rd *r, const char *option, const char **vals, size_t *lens,
                            size_t max, size_t *count)
{
    *count = 0;
    size_t olen = strlen(option);
    uint16_t n = ss_cql_get_short(r);
    for (uint16_t i = 0; i < n && !r->bad; i++) {
        const char *k;
        size_t kl;
        if (!ss_cql_get_string(r, &k, &kl)) break;
        uint16_t m = ss_cql_get_short(r);
        bool match = kl == olen && memcmp(k, option, kl) == 0;
        for (uint16_t j = 0; j < m && !r->bad; j++) {
            const char *v;
            size_t vl;
            if (!ss_cql_get_string(r, &v, &vl)) break;
            if (match && *count < max) {
                vals[*count] = v;
                lens[*count] = vl;
                (*count)++;
            }
        }
    }
    return !r->bad;
}

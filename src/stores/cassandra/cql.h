/*
 * cql.h — the frame codec of Cassandra's CQL native protocol, version 4
 * (apache/cassandra doc/native_protocol_v4.spec). No I/O and no driver state: requests are
 * appended to a byte buffer, responses are decoded from bytes the caller read, so the codec is
 * unit-tested and fuzzed on its own (tests/stores/cassandra_cql_test.c, fuzz/fuzz_cql.c).
 *
 * Decoding never trusts a length: every read is bounds-checked against the frame, and a
 * malformed frame makes the decoder return false (the reader's `bad` flag), never read past it.
 */
#ifndef SS_CASSANDRA_CQL_H
#define SS_CASSANDRA_CQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "support/strbuf.h"

#define CQL_VERSION_REQ  0x04
#define CQL_VERSION_RESP 0x84
#define CQL_HEADER_LEN   9
/* The spec caps a frame at 256 MiB; a longer length is a corrupt or hostile stream. */
#define CQL_MAX_BODY (256u * 1024 * 1024)

enum cql_opcode {
    CQL_OP_ERROR = 0x00,
    CQL_OP_STARTUP = 0x01,
    CQL_OP_READY = 0x02,
    CQL_OP_AUTHENTICATE = 0x03,
    CQL_OP_OPTIONS = 0x05,
    CQL_OP_SUPPORTED = 0x06,
    CQL_OP_QUERY = 0x07,
    CQL_OP_RESULT = 0x08,
    CQL_OP_PREPARE = 0x09,
    CQL_OP_EXECUTE = 0x0A,
    CQL_OP_REGISTER = 0x0B,
    CQL_OP_EVENT = 0x0C,
    CQL_OP_BATCH = 0x0D,
    CQL_OP_AUTH_CHALLENGE = 0x0E,
    CQL_OP_AUTH_RESPONSE = 0x0F,
    CQL_OP_AUTH_SUCCESS = 0x10,
};

enum cql_flag {
    CQL_FLAG_COMPRESSION = 0x01,
    CQL_FLAG_TRACING = 0x02,
    CQL_FLAG_CUSTOM_PAYLOAD = 0x04,
    CQL_FLAG_WARNING = 0x08,
};

enum cql_consistency {
    CQL_ANY = 0x0000,
    CQL_ONE = 0x0001,
    CQL_TWO = 0x0002,
    CQL_THREE = 0x0003,
    CQL_QUORUM = 0x0004,
    CQL_ALL = 0x0005,
    CQL_LOCAL_QUORUM = 0x0006,
    CQL_EACH_QUORUM = 0x0007,
    CQL_SERIAL = 0x0008,
    CQL_LOCAL_SERIAL = 0x0009,
    CQL_LOCAL_ONE = 0x000A,
};

enum cql_result_kind {
    CQL_RESULT_VOID = 1,
    CQL_RESULT_ROWS = 2,
    CQL_RESULT_SET_KEYSPACE = 3,
    CQL_RESULT_PREPARED = 4,
    CQL_RESULT_SCHEMA_CHANGE = 5,
};

enum cql_error_code {
    CQL_ERR_SERVER = 0x0000,
    CQL_ERR_PROTOCOL = 0x000A,
    CQL_ERR_AUTH = 0x0100,
    CQL_ERR_UNAVAILABLE = 0x1000,
    CQL_ERR_OVERLOADED = 0x1001,
    CQL_ERR_BOOTSTRAPPING = 0x1002,
    CQL_ERR_TRUNCATE = 0x1003,
    CQL_ERR_WRITE_TIMEOUT = 0x1100,
    CQL_ERR_READ_TIMEOUT = 0x1200,
    CQL_ERR_READ_FAILURE = 0x1300,
    CQL_ERR_FUNCTION_FAILURE = 0x1400,
    CQL_ERR_WRITE_FAILURE = 0x1500,
    CQL_ERR_SYNTAX = 0x2000,
    CQL_ERR_UNAUTHORIZED = 0x2100,
    CQL_ERR_INVALID = 0x2200,
    CQL_ERR_CONFIG = 0x2300,
    CQL_ERR_ALREADY_EXISTS = 0x2400,
    CQL_ERR_UNPREPARED = 0x2500,
};

/* ------------------------------------------------------------------------------------------ */
/* Encoding                                                                                    */
/* ------------------------------------------------------------------------------------------ */

void ss_cql_put_byte(ss_buf *b, uint8_t v);
void ss_cql_put_short(ss_buf *b, uint16_t v);
void ss_cql_put_int(ss_buf *b, int32_t v);
void ss_cql_put_long(ss_buf *b, int64_t v);
void ss_cql_put_string(ss_buf *b, const char *s, size_t n);      /* [string]; n <= 65535 */
void ss_cql_put_long_string(ss_buf *b, const char *s, size_t n); /* [long string] */
void ss_cql_put_bytes(ss_buf *b, const void *p, int32_t n);      /* [bytes]; n < 0 is null */
void ss_cql_put_short_bytes(ss_buf *b, const void *p, uint16_t n);

/* Starts a request frame (header with length 0); returns where it starts, for cql_frame_end. */
size_t ss_cql_frame_begin(ss_buf *b, int16_t stream, uint8_t opcode);
/* Patches the body length of the frame begun at `start`. */
void ss_cql_frame_end(ss_buf *b, size_t start);

/* One bound value of a statement: n < 0 is null. */
typedef struct cql_value {
    const void *p;
    int32_t n;
} cql_value;

/* STARTUP with {"CQL_VERSION": cql_version}. */
void ss_cql_req_startup(ss_buf *b, int16_t stream, const char *cql_version);
void ss_cql_req_options(ss_buf *b, int16_t stream);
/* AUTH_RESPONSE with the SASL PLAIN token "\0user\0password". */
void ss_cql_req_auth_plain(ss_buf *b, int16_t stream, const char *user, const char *password);
void ss_cql_req_query(ss_buf *b, int16_t stream, const char *cql, uint16_t consistency,
                      const cql_value *values, uint16_t count);
void ss_cql_req_prepare(ss_buf *b, int16_t stream, const char *cql);
/* EXECUTE; serial is the serial consistency for conditional statements (0 = server default). */
void ss_cql_req_execute(ss_buf *b, int16_t stream, const uint8_t *id, uint16_t id_len,
                        uint16_t consistency, uint16_t serial, const cql_value *values,
                        uint16_t count);

/* One statement of a BATCH: a prepared id and its values. */
typedef struct cql_batch_stmt {
    const uint8_t *id;
    uint16_t id_len;
    const cql_value *values;
    uint16_t count;
} cql_batch_stmt;

/* BATCH of prepared statements; type 0 logged, 1 unlogged. */
void ss_cql_req_batch(ss_buf *b, int16_t stream, uint8_t type, const cql_batch_stmt *stmts,
                      uint16_t count, uint16_t consistency, uint16_t serial);

/* ------------------------------------------------------------------------------------------ */
/* Decoding                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct cql_header {
    uint8_t version;
    uint8_t flags;
    int16_t stream;
    uint8_t opcode;
    uint32_t length;
} cql_header;

/* Decodes and checks a response header: version 0x84, no compression (never negotiated),
 * length within CQL_MAX_BODY. On failure *why names what was wrong. */
bool ss_cql_header_decode(const uint8_t h[CQL_HEADER_LEN], cql_header *out, const char **why);

/* A bounds-checked reader over one frame body. */
typedef struct cql_rd {
    const uint8_t *p;
    size_t len, pos;
    bool bad; /* set by the first read past the end or malformed field; later reads return 0 */
} cql_rd;

void ss_cql_rd_init(cql_rd *r, const void *p, size_t len);
uint8_t ss_cql_get_byte(cql_rd *r);
uint16_t ss_cql_get_short(cql_rd *r);
int32_t ss_cql_get_int(cql_rd *r);
int64_t ss_cql_get_long(cql_rd *r);
/* [string] / [long string]: points into the frame (not NUL-terminated). */
bool ss_cql_get_string(cql_rd *r, const char **s, size_t *n);
bool ss_cql_get_long_string(cql_rd *r, const char **s, size_t *n);
/* [bytes]: *n < 0 is null (then *p is NULL). */
bool ss_cql_get_bytes(cql_rd *r, const uint8_t **p, int32_t *n);
bool ss_cql_get_short_bytes(cql_rd *r, const uint8_t **p, uint16_t *n);
bool ss_cql_skip(cql_rd *r, size_t n);

/* Skips the tracing id, warnings and custom payload that the header's flags announce, so the
 * reader is at the message proper. */
bool ss_cql_skip_prefix(cql_rd *r, uint8_t flags);

/* An ERROR body. Strings point into the frame. */
typedef struct cql_error {
    int32_t code;
    const char *msg;
    size_t msg_len;
    /* Unavailable, Write_timeout, Read_timeout, Read/Write_failure: */
    uint16_t consistency;
    int32_t required, alive; /* received/blockfor for timeouts and failures */
    const char *write_type;  /* Write_timeout / Write_failure, else NULL */
    size_t write_type_len;
    /* Unprepared: the statement id the node does not know. */
    const uint8_t *unprepared_id;
    uint16_t unprepared_id_len;
} cql_error;

bool ss_cql_parse_error(cql_rd *r, cql_error *out);

/* The name of a consistency level ("LOCAL_QUORUM"); "UNKNOWN" when out of range. */
const char *ss_cql_consistency_name(uint16_t c);

/* A RESULT body. For ROWS, `rows` is positioned at the first cell: read rows * columns cells
 * with cql_get_bytes. */
typedef struct cql_result {
    int32_t kind;
    int32_t columns;
    int32_t rows_count;
    cql_rd rows;
    const uint8_t *prepared_id; /* PREPARED */
    uint16_t prepared_id_len;
    const char *keyspace; /* SET_KEYSPACE */
    size_t keyspace_len;
} cql_result;

bool ss_cql_parse_result(cql_rd *r, cql_result *out);

/* SUPPORTED: finds the values of one option; *count = 0 when the option is absent. Up to
 * `max` values are stored (pointers into the frame). */
bool ss_cql_parse_supported(cql_rd *r, const char *option, const char **vals, size_t *lens,
                            size_t max, size_t *count);

#endif

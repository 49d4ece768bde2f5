/*
 * codec.h — the Hazelcast Open Binary Client Protocol 2.x, as far as the hazelcast driver needs
 * it: frames and client messages, the few codecs it sends and receives (Client.Authentication,
 * Client.Ping, Map.*), error responses, Hazelcast's serialized `Data` for byte arrays and
 * strings, and murmur3 partition ids. Pure functions over memory, no sockets, so the unit tests
 * and the fuzz target drive them alone.
 *
 * Wire summary (hazelcast-client-protocol, documentation template §2): a message is a run of
 * frames, each `int32 length (header included) | uint16 flags | payload`, little-endian. The
 * initial frame carries the message type, the correlation id, then the partition id (requests)
 * or the backup-ack count (responses), then the fixed-size parameters; each variable-size
 * parameter follows in frames of its own (a string or Data in one frame, a null as a frame
 * flagged IS_NULL, lists and custom types between BEGIN and END frames). The last frame of a
 * message carries IS_FINAL.
 */
#ifndef SS_HAZELCAST_CODEC_H
#define SS_HAZELCAST_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "support/strbuf.h"

#define HZ_BEGIN_FRAGMENT 0x8000
#define HZ_END_FRAGMENT   0x4000
#define HZ_IS_FINAL       0x2000
#define HZ_BEGIN_DATA     0x1000
#define HZ_END_DATA       0x0800
#define HZ_IS_NULL        0x0400
#define HZ_IS_EVENT       0x0200

#define HZ_FRAME_HEADER   6
#define HZ_REQ_HEADER     16 /* type, correlation id, partition id */
#define HZ_RESP_HEADER    13 /* type, correlation id, backup acks */

/* Message types: service << 16 | method << 8 | (0 request, 1 response). */
#define HZ_ERROR_RESPONSE      0x000000
#define HZ_CLIENT_AUTH         0x000100
#define HZ_CLIENT_PING         0x000B00
#define HZ_MAP_PUT             0x010100
#define HZ_MAP_GET             0x010200
#define HZ_MAP_REMOVE          0x010300
#define HZ_MAP_REPLACE_IF_SAME 0x010500
#define HZ_MAP_REMOVE_IF_SAME  0x010800
#define HZ_MAP_DELETE          0x010900
#define HZ_MAP_PUT_IF_ABSENT   0x010E00
#define HZ_MAP_SET             0x010F00
#define HZ_MAP_SET_TTL         0x014300
#define HZ_MAP_GET_ALL         0x012300
#define HZ_RESPONSE_OF(req)    ((req) | 1)

/* Hazelcast serialization type ids of the two value types we read and write. */
#define HZ_TYPE_STRING     (-11)
#define HZ_TYPE_BYTE_ARRAY (-12)
#define HZ_DATA_HEADER     8 /* partition hash (big-endian int) + type id (big-endian int) */

/* The murmur3 seed Hazelcast uses for partition hashes (HashUtil's default). */
#define HZ_MURMUR_SEED 0x01000193u

/* Our stored value: a byte[] whose bytes are this magic, a 16-byte random version, the expiry
 * (big-endian int64 Unix ms, 0 = none; members expire the entry by the put's TTL, this only
 * reports it), then the caller's value. */
#define HZ_VALUE_MAGIC     "SSv1"
#define HZ_VALUE_MAGIC_LEN 4
#define HZ_VERSION_LEN     16
#define HZ_EXPIRY_LEN      8
#define HZ_ETAG_LEN        32 /* hex of the version; "h" + 16 hex for values without one */

/* ------------------------------------------------------------------------------------------ */
/* Encoding                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* A request being built. last is the offset of the last frame, which finish flags IS_FINAL. */
typedef struct hz_msg {
    ss_buf b;
    size_t last;
} hz_msg;

/* Starts a request: the initial frame with type, correlation id, partition id and room for
 * fixed_len bytes of fixed-size parameters (zeroed), returned for the caller to fill before
 * adding the next frame (which may move the buffer). NULL on out of memory. */
unsigned char *hz_msg_begin(hz_msg *m, int32_t type, int64_t corr, int32_t partition,
                            size_t fixed_len);
/* Appends one frame with these flags and this payload. */
void hz_msg_frame(hz_msg *m, uint16_t flags, const void *data, size_t len);
void hz_msg_string(hz_msg *m, const char *s);
void hz_msg_null(hz_msg *m);
/* Flags the last frame IS_FINAL; false when any step ran out of memory. */
bool hz_msg_finish(hz_msg *m);
void hz_msg_free(hz_msg *m);

/* Sets the correlation id of a built message (the connection numbers its requests). */
void hz_msg_set_corr(unsigned char *msg, int64_t corr);

void hz_put_i32(unsigned char *p, int32_t v);
void hz_put_i64(unsigned char *p, int64_t v);
int32_t hz_get_i32(const unsigned char *p);
int64_t hz_get_i64(const unsigned char *p);

/* Serialized Data: HZ_DATA_HEADER bytes then the type's payload (for strings and byte arrays a
 * big-endian int32 length and the bytes). Appended to b. */
void hz_data_encode(ss_buf *b, int32_t type, const void *bytes, size_t len);
/* The payload of a String or byte[] Data; false when data is neither or is malformed. */
bool hz_data_decode(const unsigned char *data, size_t len, int32_t *type,
                    const unsigned char **bytes, size_t *bytes_len);

/* MurmurHash3 x86 32-bit. */
uint32_t hz_murmur3(const void *data, size_t len, uint32_t seed);
/* The partition of a serialized key, as members compute it; -1 when count <= 0 or the Data is
 * shorter than its header. */
int32_t hz_partition_of(const unsigned char *data, size_t len, int32_t count);

/* ------------------------------------------------------------------------------------------ */
/* Decoding                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct hz_frame {
    const unsigned char *data; /* payload */
    size_t len;
    uint16_t flags;
} hz_frame;

/* Walks the frames of one received message. */
typedef struct hz_iter {
    const unsigned char *p;
    size_t left;
} hz_iter;

/*
 * Validates a frame header: the length covers at least the header and at most max bytes.
 * Returns the whole frame's length (header included), or 0 when invalid.
 */
size_t hz_frame_check(const unsigned char hdr[HZ_FRAME_HEADER], size_t max);

/*
 * Finds the end of the first message in a byte stream: 1 with *msg_len when buf holds a whole
 * one, 0 when more bytes are needed, -1 when a frame is malformed or the message would exceed
 * max bytes.
 */
int hz_split(const unsigned char *buf, size_t len, size_t max, size_t *msg_len);

void hz_iter_init(hz_iter *it, const unsigned char *msg, size_t len);
/* The next frame: true, or false at the end or on a malformed frame. */
bool hz_next(hz_iter *it, hz_frame *f);
/* Skips one parameter: a single frame, or a BEGIN..END structure with everything nested in it.
 * False when the message ends first. */
bool hz_skip(hz_iter *it);

/* A response's initial frame: type and correlation id; false when too short. */
bool hz_resp_header(const hz_frame *initial, int32_t *type, int64_t *corr);

/* An error response (type 0), decoded after its initial frame: the first error holder's code,
 * Java class name and message, truncated to the buffers. False when malformed. */
bool hz_decode_error(hz_iter *it, int32_t *code, char *cls, size_t cls_size, char *msg,
                     size_t msg_size);

/* Whether a Hazelcast error code is worth another attempt on another connection (the member
 * left, the partition moved, the instance is not active yet, ...). */
bool hz_error_retryable(int32_t code);
/* True when the code means the operation did not reach a member's partition (safe to repeat). */
bool hz_error_not_applied(int32_t code);

/* A nullable Data frame: *null true for an IS_NULL frame. False when missing. */
bool hz_decode_nullable(hz_iter *it, const unsigned char **data, size_t *len, bool *null);

typedef struct hz_uuid {
    uint64_t msb, lsb;
    bool null;
} hz_uuid;

typedef struct hz_member {
    hz_uuid uuid;
    char host[256];
    int port;
} hz_member;

/* What the driver reads from an authentication response. Owns members and owners. */
typedef struct hz_auth {
    uint8_t status; /* 0 authenticated, 1 credentials failed, 2 serialization, 3 not allowed */
    uint8_t serialization_version;
    hz_uuid member;
    hz_uuid cluster;
    int32_t partition_count;
    int32_t member_list_version;
    int32_t partition_list_version;
    char server_version[32];
    hz_member *members;
    size_t member_count;
    hz_uuid *owners; /* partition id -> owner's uuid (null uuid: unknown); partition_count long */
} hz_auth;

/* Decodes a Client.Authentication response (the whole message). 1 ok, 0 malformed, -1 out of
 * memory. Members and partition table are optional (servers before protocol 2.7 omit them). */
int hz_decode_auth(const unsigned char *msg, size_t len, hz_auth *out);
void hz_auth_free(hz_auth *a);

/* Encodes a Client.Authentication request. */
bool hz_encode_auth(hz_msg *m, int64_t corr, const char *cluster, const char *user,
                    const char *password, const hz_uuid *client, const char *client_name);

/* One entry of a Map.GetAll response. */
typedef struct hz_entry {
    const unsigned char *key, *value;
    size_t key_len, value_len;
} hz_entry;

/* Decodes a Map.GetAll response's entries after its initial frame; calls fn for each. False
 * when malformed. */
bool hz_decode_entries(hz_iter *it, void (*fn)(void *arg, const hz_entry *e), void *arg);

/* ------------------------------------------------------------------------------------------ */
/* Our stored value                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* The Data of a stored value: byte[] of magic + version + expiry + value. */
void hz_value_wrap(ss_buf *b, const unsigned char version[HZ_VERSION_LEN], int64_t expires_ms,
                   const void *value, size_t len);
/*
 * Reads a stored value's Data: the caller's bytes, and its ETag (NUL-terminated, at least
 * HZ_ETAG_LEN + 1 bytes) and expiry (0 = none). A byte[] with our magic yields its version in
 * hex; any other String
 * or byte[] (written by Dapr or another client) yields its bytes and "h" + a 64-bit hash of the
 * Data, so a conditional write still compares against exactly what is stored. False when the
 * Data is neither a String nor a byte[].
 */
bool hz_value_unwrap(const unsigned char *data, size_t len, const unsigned char **value,
                     size_t *value_len, char etag[HZ_ETAG_LEN + 1], int64_t *expires_ms);
/* Whether text has the shape of one of our ETags. */
bool hz_etag_valid(const char *etag);

#endif

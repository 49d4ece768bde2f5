/*
 * couchbase_internal.h — the parts of the couchbase driver that read outside input, kept apart
 * so that unit tests and fuzzers can drive them alone: the memcached binary protocol frame
 * codec with Couchbase's extensions (proto.c) and the cluster configuration parser (config.c).
 *
 * Debian packages no Couchbase C client (libcouchbase is not in Debian), so the KV protocol is
 * written here from Couchbase's public protocol documentation (kv_engine docs/BinaryProtocol.md,
 * the memcached binary protocol plus HELLO, SELECT_BUCKET, GET_CLUSTER_CONFIG, NOT_MY_VBUCKET).
 */
#ifndef SS_COUCHBASE_INTERNAL_H
#define SS_COUCHBASE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------------ */
/* Frames                                                                                      */
/* ------------------------------------------------------------------------------------------ */

#define CB_HDR_LEN       24
#define CB_MAGIC_REQ     0x80
#define CB_MAGIC_RES     0x81
#define CB_MAGIC_ALT_RES 0x18 /* response with framing extras */
#define CB_MAX_BODY      (32u * 1024 * 1024)

enum {
    CB_OP_GET = 0x00,
    CB_OP_SET = 0x01,
    CB_OP_ADD = 0x02,
    CB_OP_DELETE = 0x04,
    CB_OP_NOOP = 0x0a,
    CB_OP_HELLO = 0x1f,
    CB_OP_SASL_LIST = 0x20,
    CB_OP_SASL_AUTH = 0x21,
    CB_OP_SASL_STEP = 0x22,
    CB_OP_SELECT_BUCKET = 0x89,
    CB_OP_OBSERVE = 0x92,
    CB_OP_GET_CLUSTER_CONFIG = 0xb5,
};

enum {
    CB_ST_SUCCESS = 0x00,
    CB_ST_KEY_ENOENT = 0x01,
    CB_ST_KEY_EEXISTS = 0x02,
    CB_ST_E2BIG = 0x03,
    CB_ST_EINVAL = 0x04,
    CB_ST_NOT_STORED = 0x05,
    CB_ST_NOT_MY_VBUCKET = 0x07,
    CB_ST_AUTH_ERROR = 0x20,
    CB_ST_AUTH_CONTINUE = 0x21,
    CB_ST_UNKNOWN_COMMAND = 0x81,
    CB_ST_ENOMEM = 0x82,
    CB_ST_NOT_SUPPORTED = 0x83,
    CB_ST_BUSY = 0x85,
    CB_ST_TMPFAIL = 0x86,
};

/* A decoded header. For a request `status` is the vBucket id. */
typedef struct cb_hdr {
    uint8_t magic;
    uint8_t opcode;
    uint8_t framing_len; /* alt response only */
    uint8_t extlen;
    uint8_t datatype;
    uint16_t keylen;
    uint16_t status;
    uint32_t bodylen;
    uint32_t opaque;
    uint64_t cas;
} cb_hdr;

/* Size of a request with these parts. */
size_t cb_request_size(size_t extlen, size_t keylen, size_t vallen);

/* Writes a request (header, extras, key, value) into out (cb_request_size bytes). */
void cb_encode_request(uint8_t *out, uint8_t opcode, uint16_t vbucket, uint32_t opaque,
                       uint64_t cas, const void *extras, size_t extlen, const void *key,
                       size_t keylen, const void *val, size_t vallen);

/* Decodes a response header; false (with why) when it is not a response the driver can read:
 * wrong magic, parts longer than the body, a body over CB_MAX_BODY. */
bool cb_decode_response_header(const uint8_t in[CB_HDR_LEN], cb_hdr *h, const char **why);

/* Where the parts of a response body start (after the framing extras). */
static inline size_t cb_extras_off(const cb_hdr *h)
{
    return h->framing_len;
}
static inline size_t cb_key_off(const cb_hdr *h)
{
    return (size_t)h->framing_len + h->extlen;
}
static inline size_t cb_value_off(const cb_hdr *h)
{
    return cb_key_off(h) + h->keylen;
}
static inline size_t cb_value_len(const cb_hdr *h)
{
    return h->bodylen - cb_value_off(h);
}

/* The vBucket of a key: CRC32 (zlib's polynomial) >> 16 & 0x7fff, modulo the count. */
uint16_t cb_vbucket_of(const void *key, size_t len, size_t nvbuckets);

/* One OBSERVE reply entry at *off in body: advances *off; false at the end or when malformed. */
bool cb_observe_next(const uint8_t *body, size_t len, size_t *off, uint16_t *vb,
                     const uint8_t **key, uint16_t *keylen, uint8_t *state, uint64_t *cas);

/* ------------------------------------------------------------------------------------------ */
/* Cluster configuration                                                                       */
/* ------------------------------------------------------------------------------------------ */

typedef struct cb_server {
    char host[256];
    int port;
} cb_server;

typedef struct cb_config {
    int64_t rev;
    size_t nservers;
    cb_server *servers;
    size_t nvbuckets;
    size_t ncopies; /* 1 + numReplicas: entries per vBucket in map */
    int16_t *map;   /* nvbuckets * ncopies server indexes, -1 = none */
} cb_config;

/*
 * Parses a bucket configuration (the terse one from GET_CLUSTER_CONFIG / NOT_MY_VBUCKET, or the
 * REST /pools/default/buckets/<bucket> one): vBucketServerMap's serverList, vBucketMap,
 * numReplicas and hashAlgorithm ("CRC"), and rev. "$HOST" in a server name is the host the
 * config came from (this_host). NULL with a message in why (buflen bytes) when it is not one.
 */
cb_config *cb_config_parse(const char *json, size_t len, const char *this_host, char *why,
                           size_t whylen);
void cb_config_free(cb_config *cfg);

/* The server index of copy `copy` (0 = active) of vBucket vb, or -1. */
static inline int cb_config_server(const cb_config *cfg, uint16_t vb, size_t copy)
{
    return cfg->map[(size_t)vb * cfg->ncopies + copy];
}

/* ------------------------------------------------------------------------------------------ */
/* SASL SCRAM (scram.c)                                                                        */
/* ------------------------------------------------------------------------------------------ */

typedef struct cb_scram {
    const void *md; /* OpenSSL EVP_MD */
    char *client_first_bare;
    char cnonce[64];
    unsigned char server_sig[64];
    unsigned sig_len;
} cb_scram;

/* The strongest SCRAM mechanism in a SASL_LIST_MECHS reply (space-separated), or NULL. */
const char *cb_scram_pick(const char *mechs, size_t len);
/* The client-first message ("n,,n=<user>,r=<cnonce>"), malloc'd; NULL on a bad mechanism or
 * out of memory. Starts the exchange in s. */
char *cb_scram_client_first(cb_scram *s, const char *mech, const char *user, const char *cnonce);
/* The client-final message for the server-first one, malloc'd; NULL with *why when the server's
 * message is malformed (or its nonce does not extend ours). */
char *cb_scram_client_final(cb_scram *s, const char *password, const char *server_first, size_t len,
                            const char **why);
/* Whether the server-final message ("v=...") proves the server knows the password. */
bool cb_scram_verify(const cb_scram *s, const char *server_final, size_t len);
void cb_scram_clear(cb_scram *s);

#endif

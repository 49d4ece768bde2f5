/*
 * proto.c — the memcached binary protocol frames the couchbase driver sends and reads (see
 * couchbase_internal.h). Written by hand: no packaged C library speaks Couchbase's KV protocol.
 */
#include "couchbase_internal.h"

#include <string.h>
#include <zlib.h>

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

size_t cb_request_size(size_t extlen, size_t keylen, size_t vallen)
{
    return CB_HDR_LEN + extlen + keylen + vallen;
}

void cb_encode_request(uint8_t *out, uint8_t opcode, uint16_t vbucket, uint32_t opaque,
                       uint64_t cas, const void *extras, size_t extlen, const void *key,
                       size_t keylen, const void *val, size_t vallen)
{
    out[0] = CB_MAGIC_REQ;
    out[1] = opcode;
    put16(out + 2, (uint16_t)keylen);
    out[4] = (uint8_t)extlen;
    out[5] = 0; /* raw bytes */
    put16(out + 6, vbucket);
    put32(out + 8, (uint32_t)(extlen + keylen + vallen));
    put32(out + 12, opaque);
    put32(out + 16, (uint32_t)(cas >> 32));
    put32(out + 20, (uint32_t)cas);
    uint8_t *p = out + CB_HDR_LEN;
    if (extlen) memcpy(p, extras, extlen);
    p += extlen;
    if (keylen) memcpy(p, key, keylen);
    p += keylen;
    if (vallen) memcpy(p, val, vallen);
}

bool cb_decode_response_header(const uint8_t in[CB_HDR_LEN], cb_hdr *h, const char **why)
{
    memset(h, 0, sizeof *h);
    h->magic = in[0];
    h->opcode = in[1];
    if (in[0] == CB_MAGIC_RES) {
        h->keylen = get16(in + 2);
    } else if (in[0] == CB_MAGIC_ALT_RES) {
        h->framing_len = in[2];
        h->keylen = in[3];
    } else {
        *why = "not a response (bad magic byte)";
        return false;
    }
    h->extlen = in[4];
    h->datatype = in[5];
    h->status = get16(in + 6);
    h->bodylen = get32(in + 8);
    h->opaque = get32(in + 12);
    h->cas = get64(in + 16);
    if (h->bodylen > CB_MAX_BODY) {
        *why = "response body too large";
        return false;
    }
    if ((size_t)h->framing_len + h->extlen + h->keylen > h->bodylen) {
        *why = "response parts longer than its body";
        return false;
    }
    return true;
}

uint16_t cb_vbucket_of(const void *key, size_t len, size_t nvbuckets)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, key, (uInt)len);
    uint32_t h = (uint32_t)((crc >> 16) & 0x7fff);
    return (uint16_t)(nvbuckets ? h % nvbuckets : 0);
}

bool cb_observe_next(const uint8_t *body, size_t len, size_t *off, uint16_t *vb,
                     const uint8_t **key, uint16_t *keylen, uint8_t *state, uint64_t *cas)
{
    size_t o = *off;
    if (o + 4 > len) return false;
    *vb = get16(body + o);
    *keylen = get16(body + o + 2);
    o += 4;
    if (len - o < (size_t)*keylen + 9) return false;
    *key = body + o;
    o += *keylen;
    *state = body[o];
    *cas = get64(body + o + 1);
    *off = o + 9;
    return true;
}

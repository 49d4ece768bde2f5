/*
 * Redis Cluster routing on top of hiredis. Debian's hiredis 0.14 has no cluster support (and
 * hiredis-cluster is not packaged), so the slot computation, redirect parsing and CLUSTER SLOTS
 * parsing live here; redis.c keeps one connection pool per node and follows MOVED/ASK.
 */
#include "redis_internal.h"

#include <stdlib.h>
#include <string.h>

/* CRC16-CCITT (XMODEM: poly 0x1021, init 0), the checksum Redis Cluster specifies for slots. */
static uint16_t crc16(const unsigned char *p, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

uint16_t ss_redis_key_slot(const char *key, size_t len)
{
    /* Only the part between the first '{' and the next '}' is hashed, when it is non-empty. */
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return crc16((const unsigned char *)open + 1, (size_t)(close - open - 1)) & 16383;
    }
    return crc16((const unsigned char *)key, len) & 16383;
}

bool ss_redis_split_addr(const char *addr, size_t len, char *host, size_t hostlen, int *port)
{
    const char *hs = addr, *he = addr + len, *ps = NULL;
    if (len > 0 && addr[0] == '[') {
        const char *rb = memchr(addr, ']', len);
        if (!rb) return false;
        hs = addr + 1;
        he = rb;
        if (rb + 1 < addr + len) {
            if (rb[1] != ':') return false;
            ps = rb + 2;
        }
    } else {
        const char *colon = NULL;
        for (const char *p = addr; p < addr + len; p++)
            if (*p == ':') colon = p;
        if (colon) {
            he = colon;
            ps = colon + 1;
        }
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= hostlen) return false;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    if (!ps) {
        *port = 6379;
        return true;
    }
    long v = 0;
    const char *end = addr + len;
    if (ps == end) return false;
    for (const char *p = ps; p < end; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (*p - '0');
        if (v > 65535) return false;
    }
    if (v == 0) return false;
    *port = (int)v;
    return true;
}

bool ss_redis_parse_redirect(const char *text, size_t len, bool *ask, int *slot, char *host,
                             size_t hostlen, int *port)
{
    size_t skip;
    if (len > 6 && memcmp(text, "MOVED ", 6) == 0) {
        *ask = false;
        skip = 6;
    } else if (len > 4 && memcmp(text, "ASK ", 4) == 0) {
        *ask = true;
        skip = 4;
    } else {
        return false;
    }
    const char *p = text + skip, *end = text + len;
    long s = 0;
    const char *digits = p;
    while (p < end && *p >= '0' && *p <= '9') {
        s = s * 10 + (*p - '0');
        if (s >= SS_REDIS_SLOTS) return false;
        p++;
    }
    if (p == digits || p >= end || *p != ' ') return false;
    p++;
    *slot = (int)s;
    return ss_redis_split_addr(p, (size_t)(end - p), host, hostlen, port);
}

int ss_redis_parse_slots(const redisReply *reply, const char *from_host, ss_redis_range **out)
{
    *out = NULL;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) return -1;
    if (reply->elements == 0) return 0;
    ss_redis_range *r = calloc(reply->elements, sizeof *r);
    if (!r) return -1;
    size_t n = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3) goto bad;
        const redisReply *a = e->element[0], *b = e->element[1], *m = e->element[2];
        if (a->type != REDIS_REPLY_INTEGER || b->type != REDIS_REPLY_INTEGER) goto bad;
        if (a->integer < 0 || b->integer >= SS_REDIS_SLOTS || a->integer > b->integer) goto bad;
        if (m->type != REDIS_REPLY_ARRAY || m->elements < 2) goto bad;
        const redisReply *h = m->element[0], *p = m->element[1];
        if (h->type != REDIS_REPLY_STRING || p->type != REDIS_REPLY_INTEGER) goto bad;
        if (p->integer <= 0 || p->integer > 65535) goto bad;
        const char *host = h->len > 0 ? h->str : from_host;
        size_t hl = strlen(host);
        if (hl >= sizeof r[n].host) goto bad;
        memcpy(r[n].host, host, hl + 1);
        r[n].start = (int)a->integer;
        r[n].end = (int)b->integer;
        r[n].port = (int)p->integer;
        r[n].replicas = (int)(e->elements - 3);
        n++;
    }
    *out = r;
    return (int)n;
bad:
    free(r);
    return -1;
}

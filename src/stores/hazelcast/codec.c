/*
 * codec.c — Hazelcast client protocol 2.x frames and codecs (see codec.h). Written from the
 * protocol's documentation template and the protocol-definitions YAML files of
 * hazelcast/hazelcast-client-protocol; Debian packages no C client for it.
 *
 * Every decoder here takes bytes from the network: lengths are checked before each read, and
 * a short or inconsistent message is reported as malformed, never read past.
 */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Little- and big-endian integers                                                            */
/* ------------------------------------------------------------------------------------------ */

void hz_put_i32(unsigned char *p, int32_t v)
{
    uint32_t u = (uint32_t)v;
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(u >> (8 * i));
}

void hz_put_i64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(u >> (8 * i));
}

int32_t hz_get_i32(const unsigned char *p)
{
    uint32_t u = 0;
    for (int i = 3; i >= 0; i--) u = (u << 8) | p[i];
    return (int32_t)u;
}

int64_t hz_get_i64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--) u = (u << 8) | p[i];
    return (int64_t)u;
}

static uint16_t get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_uuid(unsigned char *p, const hz_uuid *u)
{
    if (!u || u->null) {
        p[0] = 1;
        memset(p + 1, 0, 16);
        return;
    }
    p[0] = 0;
    hz_put_i64(p + 1, (int64_t)u->msb);
    hz_put_i64(p + 9, (int64_t)u->lsb);
}

static hz_uuid get_uuid(const unsigned char *p)
{
    hz_uuid u = {0, 0, p[0] != 0};
    if (!u.null) {
        u.msb = (uint64_t)hz_get_i64(p + 1);
        u.lsb = (uint64_t)hz_get_i64(p + 9);
    }
    return u;
}

/* ------------------------------------------------------------------------------------------ */
/* Encoding                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static unsigned char *frame_start(hz_msg *m, uint16_t flags, size_t len)
{
    unsigned char hdr[HZ_FRAME_HEADER];
    if (len > (size_t)INT32_MAX - HZ_FRAME_HEADER) {
        m->b.oom = true;
        return NULL;
    }
    hz_put_i32(hdr, (int32_t)(len + HZ_FRAME_HEADER));
    hdr[4] = (unsigned char)(flags & 0xff);
    hdr[5] = (unsigned char)(flags >> 8);
    m->last = m->b.len;
    ss_buf_add(&m->b, hdr, sizeof hdr);
    return m->b.oom ? NULL : (unsigned char *)m->b.p + m->last + HZ_FRAME_HEADER;
}

unsigned char *hz_msg_begin(hz_msg *m, int32_t type, int64_t corr, int32_t partition,
                            size_t fixed_len)
{
    memset(m, 0, sizeof *m);
    size_t n = HZ_REQ_HEADER + fixed_len;
    if (!frame_start(m, HZ_BEGIN_FRAGMENT | HZ_END_FRAGMENT, n)) return NULL;
    unsigned char zero[64] = {0};
    for (size_t left = n; left > 0;) {
        size_t k = left < sizeof zero ? left : sizeof zero;
        ss_buf_add(&m->b, zero, k);
        left -= k;
    }
    if (m->b.oom) return NULL;
    unsigned char *p = (unsigned char *)m->b.p + HZ_FRAME_HEADER;
    hz_put_i32(p, type);
    hz_put_i64(p + 4, corr);
    hz_put_i32(p + 12, partition);
    return p + HZ_REQ_HEADER;
}

void hz_msg_frame(hz_msg *m, uint16_t flags, const void *data, size_t len)
{
    if (frame_start(m, flags, len) && len) ss_buf_add(&m->b, data, len);
}

void hz_msg_string(hz_msg *m, const char *s)
{
    hz_msg_frame(m, 0, s, strlen(s));
}

void hz_msg_null(hz_msg *m)
{
    hz_msg_frame(m, HZ_IS_NULL, NULL, 0);
}

bool hz_msg_finish(hz_msg *m)
{
    if (m->b.oom || m->b.len < HZ_FRAME_HEADER) return false;
    m->b.p[m->last + 5] = (char)((unsigned char)m->b.p[m->last + 5] | (HZ_IS_FINAL >> 8));
    return true;
}

void hz_msg_free(hz_msg *m)
{
    free(m->b.p);
    memset(m, 0, sizeof *m);
}

void hz_msg_set_corr(unsigned char *msg, int64_t corr)
{
    hz_put_i64(msg + HZ_FRAME_HEADER + 4, corr);
}

void hz_data_encode(ss_buf *b, int32_t type, const void *bytes, size_t len)
{
    unsigned char hdr[HZ_DATA_HEADER + 4];
    if (len > (size_t)INT32_MAX - 64) {
        b->oom = true;
        return;
    }
    put_be32(hdr, 0); /* no explicit partition hash: members hash the payload */
    put_be32(hdr + 4, (uint32_t)type);
    put_be32(hdr + 8, (uint32_t)len);
    ss_buf_add(b, hdr, sizeof hdr);
    if (len) ss_buf_add(b, bytes, len);
}

bool hz_data_decode(const unsigned char *data, size_t len, int32_t *type,
                    const unsigned char **bytes, size_t *bytes_len)
{
    if (len < HZ_DATA_HEADER + 4) return false;
    int32_t t = (int32_t)get_be32(data + 4);
    if (t != HZ_TYPE_STRING && t != HZ_TYPE_BYTE_ARRAY) return false;
    uint32_t n = get_be32(data + HZ_DATA_HEADER);
    if (n > len - HZ_DATA_HEADER - 4) return false;
    *type = t;
    *bytes = data + HZ_DATA_HEADER + 4;
    *bytes_len = n;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Partitions                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

uint32_t hz_murmur3(const void *data, size_t len, uint32_t seed)
{
    const unsigned char *p = data;
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    uint32_t h = seed;
    size_t blocks = len / 4;
    for (size_t i = 0; i < blocks; i++) {
        const unsigned char *b = p + 4 * i;
        uint32_t k = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
                     ((uint32_t)b[3] << 24);
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
        h = rotl32(h, 13);
        h = h * 5 + 0xe6546b64u;
    }
    const unsigned char *tail = p + 4 * blocks;
    uint32_t k = 0;
    switch (len & 3) {
    case 3:
        k ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        k ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        k ^= tail[0];
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
    }
    h ^= (uint32_t)len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

int32_t hz_partition_of(const unsigned char *data, size_t len, int32_t count)
{
    if (count <= 0 || len < HZ_DATA_HEADER) return -1;
    /* A non-zero partition hash in the header overrides the payload's (PartitionAware keys);
     * we never write one, but honour it when present. */
    int32_t hash = (int32_t)get_be32(data);
    if (hash == 0)
        hash = (int32_t)hz_murmur3(data + HZ_DATA_HEADER, len - HZ_DATA_HEADER, HZ_MURMUR_SEED);
    if (hash == INT32_MIN) return 0;
    return (hash < 0 ? -hash : hash) % count;
}

/* ------------------------------------------------------------------------------------------ */
/* Frames                                                                                      */
/* ------------------------------------------------------------------------------------------ */

size_t hz_frame_check(const unsigned char hdr[HZ_FRAME_HEADER], size_t max)
{
    int32_t n = hz_get_i32(hdr);
    if (n < HZ_FRAME_HEADER || (size_t)n > max) return 0;
    return (size_t)n;
}

int hz_split(const unsigned char *buf, size_t len, size_t max, size_t *msg_len)
{
    size_t off = 0;
    for (;;) {
        if (len - off < HZ_FRAME_HEADER) return 0;
        size_t n = hz_frame_check(buf + off, max - off);
        if (!n) return -1;
        if (len - off < n) return 0;
        uint16_t flags = get_u16(buf + off + 4);
        off += n;
        if (flags & HZ_IS_FINAL) {
            *msg_len = off;
            return 1;
        }
        if (off >= max) return -1;
    }
}

void hz_iter_init(hz_iter *it, const unsigned char *msg, size_t len)
{
    it->p = msg;
    it->left = len;
}

bool hz_next(hz_iter *it, hz_frame *f)
{
    if (it->left < HZ_FRAME_HEADER) return false;
    size_t n = hz_frame_check(it->p, it->left);
    if (!n) return false;
    f->flags = get_u16(it->p + 4);
    f->data = it->p + HZ_FRAME_HEADER;
    f->len = n - HZ_FRAME_HEADER;
    it->p += n;
    it->left -= n;
    return true;
}

/* Skips to just past the END frame closing a structure whose BEGIN was already read. */
static bool skip_to_end(hz_iter *it)
{
    size_t depth = 1;
    hz_frame f;
    while (hz_next(it, &f)) {
        if (f.flags & HZ_BEGIN_DATA)
            depth++;
        else if (f.flags & HZ_END_DATA) {
            if (--depth == 0) return true;
        }
    }
    return false;
}

bool hz_skip(hz_iter *it)
{
    hz_frame f;
    if (!hz_next(it, &f)) return false;
    if (f.flags & HZ_BEGIN_DATA) return skip_to_end(it);
    return true;
}

bool hz_resp_header(const hz_frame *initial, int32_t *type, int64_t *corr)
{
    if (initial->len < HZ_RESP_HEADER) return false;
    *type = hz_get_i32(initial->data);
    *corr = hz_get_i64(initial->data + 4);
    return true;
}

/* The initial frame of a custom type after its BEGIN frame: fixed-size fields may ride on the
 * BEGIN frame itself (the ABNF allows it), else they are the next frame. */
static bool custom_initial(hz_iter *it, const hz_frame *begin, hz_frame *initial)
{
    if (begin->len > 0) {
        *initial = *begin;
        return true;
    }
    return hz_next(it, initial);
}

static void copy_text(char *dst, size_t size, const hz_frame *f)
{
    if (!size) return;
    size_t n = f->len < size - 1 ? f->len : size - 1;
    if (f->flags & HZ_IS_NULL) n = 0;
    memcpy(dst, f->data, n);
    dst[n] = 0;
}

bool hz_decode_error(hz_iter *it, int32_t *code, char *cls, size_t cls_size, char *msg,
                     size_t msg_size)
{
    hz_frame list, begin, initial, fcls, fmsg;
    if (cls_size) cls[0] = 0;
    if (msg_size) msg[0] = 0;
    if (!hz_next(it, &list) || !(list.flags & HZ_BEGIN_DATA)) return false;
    if (!hz_next(it, &begin) || !(begin.flags & HZ_BEGIN_DATA)) return false;
    if (!custom_initial(it, &begin, &initial) || initial.len < 4) return false;
    *code = hz_get_i32(initial.data);
    if (!hz_next(it, &fcls) || !hz_next(it, &fmsg)) return false;
    if (fcls.flags & (HZ_BEGIN_DATA | HZ_END_DATA)) return false;
    if (fmsg.flags & (HZ_BEGIN_DATA | HZ_END_DATA)) return false;
    copy_text(cls, cls_size, &fcls);
    copy_text(msg, msg_size, &fmsg);
    return true;
}

/* Member errors worth repeating elsewhere, and whether they are raised before the operation
 * runs on the partition owner (MEMBER_LEFT and TARGET_DISCONNECTED are not: the owner may have
 * applied it and then gone). */
static const struct {
    int32_t code;
    bool not_applied;
} retryable[] = {
    {8, false},  /* CALLER_NOT_MEMBER */
    {19, true},  /* HAZELCAST_INSTANCE_NOT_ACTIVE */
    {33, false}, /* MEMBER_LEFT */
    {39, true},  /* PARTITION_MIGRATING */
    {46, false}, /* RETRYABLE_HAZELCAST */
    {47, false}, /* RETRYABLE_IO */
    {52, false}, /* TARGET_DISCONNECTED */
    {53, true},  /* TARGET_NOT_MEMBER */
    {62, true},  /* WRONG_TARGET */
    {67, true},  /* NO_DATA_MEMBER */
};

bool hz_error_retryable(int32_t code)
{
    for (size_t i = 0; i < sizeof retryable / sizeof retryable[0]; i++)
        if (retryable[i].code == code) return true;
    return false;
}

bool hz_error_not_applied(int32_t code)
{
    for (size_t i = 0; i < sizeof retryable / sizeof retryable[0]; i++)
        if (retryable[i].code == code) return retryable[i].not_applied;
    return false;
}

bool hz_decode_nullable(hz_iter *it, const unsigned char **data, size_t *len, bool *null)
{
    hz_frame f;
    if (!hz_next(it, &f)) return false;
    if (f.flags & (HZ_BEGIN_DATA | HZ_END_DATA)) return false;
    *null = (f.flags & HZ_IS_NULL) != 0;
    *data = f.data;
    *len = f.len;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Authentication                                                                              */
/* ------------------------------------------------------------------------------------------ */

bool hz_encode_auth(hz_msg *m, int64_t corr, const char *cluster, const char *user,
                    const char *password, const hz_uuid *client, const char *client_name)
{
    /* uuid, serializationVersion, routingMode (1 = SMART), cpDirectToLeaderRouting */
    unsigned char *fx = hz_msg_begin(m, HZ_CLIENT_AUTH, corr, -1, 17 + 1 + 1 + 1);
    if (!fx) return false;
    put_uuid(fx, client);
    fx[17] = 1;
    fx[18] = 1;
    fx[19] = 0;
    hz_msg_string(m, cluster);
    if (user)
        hz_msg_string(m, user);
    else
        hz_msg_null(m);
    if (password)
        hz_msg_string(m, password);
    else
        hz_msg_null(m);
    /* The member accepts any client type; this one names us in its logs and metrics. */
    hz_msg_string(m, "STATESTORE");
    hz_msg_string(m, "5.5.0");
    hz_msg_string(m, client_name);
    hz_msg_frame(m, HZ_BEGIN_DATA, NULL, 0); /* labels: an empty list */
    hz_msg_frame(m, HZ_END_DATA, NULL, 0);
    return hz_msg_finish(m);
}

/* Address custom type, after its BEGIN frame: port (fixed), host (string), then maybe fields
 * of later protocol versions, up to END. */
static bool decode_address(hz_iter *it, const hz_frame *begin, char *host, size_t host_size,
                           int *port)
{
    hz_frame initial, fhost;
    if (!custom_initial(it, begin, &initial) || initial.len < 4) return false;
    *port = hz_get_i32(initial.data);
    if (!hz_next(it, &fhost) || (fhost.flags & (HZ_BEGIN_DATA | HZ_END_DATA | HZ_IS_NULL)))
        return false;
    copy_text(host, host_size, &fhost);
    return skip_to_end(it);
}

/* MemberInfo, after its BEGIN frame: uuid (fixed), address, then the rest up to END. */
static bool decode_member(hz_iter *it, const hz_frame *begin, hz_member *m)
{
    hz_frame initial, abegin;
    if (!custom_initial(it, begin, &initial) || initial.len < 17) return false;
    m->uuid = get_uuid(initial.data);
    if (!hz_next(it, &abegin) || !(abegin.flags & HZ_BEGIN_DATA)) return false;
    if (!decode_address(it, &abegin, m->host, sizeof m->host, &m->port)) return false;
    return skip_to_end(it);
}

static int decode_members(hz_iter *it, hz_auth *out)
{
    hz_frame f;
    if (!hz_next(it, &f) || !(f.flags & HZ_BEGIN_DATA)) return 0;
    for (;;) {
        if (!hz_next(it, &f)) return 0;
        if (f.flags & HZ_END_DATA) return 1;
        if (!(f.flags & HZ_BEGIN_DATA)) return 0;
        if (out->member_count % 8 == 0) {
            hz_member *grown =
                realloc(out->members, (out->member_count + 8) * sizeof *out->members);
            if (!grown) return -1;
            out->members = grown;
        }
        hz_member *m = &out->members[out->member_count];
        memset(m, 0, sizeof *m);
        if (!decode_member(it, &f, m)) return 0;
        out->member_count++;
    }
}

/* EntryList_UUID_List_Integer: BEGIN, one int list frame per member, END, then one frame with
 * every member's uuid in the same order. */
static int decode_partitions(hz_iter *it, hz_auth *out)
{
    hz_frame f;
    if (!hz_next(it, &f) || !(f.flags & HZ_BEGIN_DATA)) return 0;
    hz_iter lists = *it;
    size_t n = 0;
    for (;;) {
        if (!hz_next(it, &f)) return 0;
        if (f.flags & HZ_END_DATA) break;
        if ((f.flags & (HZ_BEGIN_DATA | HZ_IS_NULL)) || f.len % 4) return 0;
        n++;
    }
    hz_frame uuids;
    if (!hz_next(it, &uuids) || uuids.len != n * 17) return 0;
    if (out->partition_count <= 0 || out->partition_count > 1000000) return 0;
    out->owners = calloc((size_t)out->partition_count, sizeof *out->owners);
    if (!out->owners) return -1;
    for (int32_t i = 0; i < out->partition_count; i++) out->owners[i].null = true;
    for (size_t k = 0; k < n; k++) {
        if (!hz_next(&lists, &f)) return 0;
        hz_uuid owner = get_uuid(uuids.data + 17 * k);
        for (size_t j = 0; j + 4 <= f.len; j += 4) {
            int32_t pid = hz_get_i32(f.data + j);
            if (pid < 0 || pid >= out->partition_count) return 0;
            out->owners[pid] = owner;
        }
    }
    return 1;
}

int hz_decode_auth(const unsigned char *msg, size_t len, hz_auth *out)
{
    memset(out, 0, sizeof *out);
    hz_iter it;
    hz_frame f;
    int32_t type;
    int64_t corr;
    hz_iter_init(&it, msg, len);
    if (!hz_next(&it, &f) || !hz_resp_header(&f, &type, &corr)) return 0;
    if (type != HZ_RESPONSE_OF(HZ_CLIENT_AUTH)) return 0;
    /* status, memberUuid, serializationVersion, partitionCount, clusterId, failoverSupported;
     * since 2.7 memberListVersion and partitionListVersion. */
    const unsigned char *p = f.data + HZ_RESP_HEADER;
    size_t fixed = f.len - HZ_RESP_HEADER;
    if (fixed < 1 + 17 + 1 + 4 + 17 + 1) return 0;
    out->status = p[0];
    out->member = get_uuid(p + 1);
    out->serialization_version = p[18];
    out->partition_count = hz_get_i32(p + 19);
    out->cluster = get_uuid(p + 23);
    bool has_views = fixed >= 41 + 8;
    out->member_list_version = has_views ? hz_get_i32(p + 41) : -1;
    out->partition_list_version = has_views ? hz_get_i32(p + 45) : -1;
    if (out->status != 0) return 1; /* the rest is not needed to report the refusal */
    if (out->partition_count <= 0) return 0;

    /* address (nullable Address), serverHazelcastVersion */
    if (!hz_skip(&it)) return 0;
    if (!hz_next(&it, &f) || (f.flags & (HZ_BEGIN_DATA | HZ_END_DATA))) return 0;
    copy_text(out->server_version, sizeof out->server_version, &f);
    if (!has_views) return 1;
    /* tpcPorts, tpcToken (both nullable, one frame each), memberInfos, partitions */
    if (!hz_skip(&it) || !hz_skip(&it)) return 0;
    int r = decode_members(&it, out);
    if (r == 1) r = decode_partitions(&it, out);
    if (r != 1) hz_auth_free(out);
    return r;
}

void hz_auth_free(hz_auth *a)
{
    free(a->members);
    free(a->owners);
    a->members = NULL;
    a->owners = NULL;
    a->member_count = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Map.GetAll                                                                                  */
/* ------------------------------------------------------------------------------------------ */

bool hz_decode_entries(hz_iter *it, void (*fn)(void *arg, const hz_entry *e), void *arg)
{
    hz_frame f, k, v;
    if (!hz_next(it, &f) || !(f.flags & HZ_BEGIN_DATA)) return false;
    for (;;) {
        if (!hz_next(it, &k)) return false;
        if (k.flags & HZ_END_DATA) return true;
        if (!hz_next(it, &v)) return false;
        if ((k.flags | v.flags) & (HZ_BEGIN_DATA | HZ_END_DATA | HZ_IS_NULL)) return false;
        hz_entry e = {k.data, v.data, k.len, v.len};
        fn(arg, &e);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Stored values                                                                               */
/* ------------------------------------------------------------------------------------------ */

void hz_value_wrap(ss_buf *b, const unsigned char version[HZ_VERSION_LEN], int64_t expires_ms,
                   const void *value, size_t len)
{
    size_t n = HZ_VALUE_MAGIC_LEN + HZ_VERSION_LEN + HZ_EXPIRY_LEN + len;
    unsigned char hdr[HZ_DATA_HEADER + 4];
    if (n > (size_t)INT32_MAX - 64) {
        b->oom = true;
        return;
    }
    put_be32(hdr, 0);
    put_be32(hdr + 4, (uint32_t)HZ_TYPE_BYTE_ARRAY);
    put_be32(hdr + 8, (uint32_t)n);
    ss_buf_add(b, hdr, sizeof hdr);
    ss_buf_add(b, HZ_VALUE_MAGIC, HZ_VALUE_MAGIC_LEN);
    ss_buf_add(b, version, HZ_VERSION_LEN);
    unsigned char exp[HZ_EXPIRY_LEN];
    put_be32(exp, (uint32_t)((uint64_t)expires_ms >> 32));
    put_be32(exp + 4, (uint32_t)expires_ms);
    ss_buf_add(b, exp, sizeof exp);
    if (len) ss_buf_add(b, value, len);
}

static const char hexdigits[] = "0123456789abcdef";

bool hz_value_unwrap(const unsigned char *data, size_t len, const unsigned char **value,
                     size_t *value_len, char etag[HZ_ETAG_LEN + 1], int64_t *expires_ms)
{
    int32_t type;
    const unsigned char *bytes;
    size_t n;
    if (!hz_data_decode(data, len, &type, &bytes, &n)) return false;
    *expires_ms = 0;
    if (type == HZ_TYPE_BYTE_ARRAY && n >= HZ_VALUE_MAGIC_LEN + HZ_VERSION_LEN + HZ_EXPIRY_LEN &&
        memcmp(bytes, HZ_VALUE_MAGIC, HZ_VALUE_MAGIC_LEN) == 0) {
        const unsigned char *v = bytes + HZ_VALUE_MAGIC_LEN;
        for (int i = 0; i < HZ_VERSION_LEN; i++) {
            etag[2 * i] = hexdigits[v[i] >> 4];
            etag[2 * i + 1] = hexdigits[v[i] & 15];
        }
        etag[HZ_ETAG_LEN] = 0;
        const unsigned char *e = v + HZ_VERSION_LEN;
        *expires_ms = (int64_t)((uint64_t)get_be32(e) << 32 | get_be32(e + 4));
        *value = e + HZ_EXPIRY_LEN;
        *value_len = n - HZ_VALUE_MAGIC_LEN - HZ_VERSION_LEN - HZ_EXPIRY_LEN;
        return true;
    }
    /* FNV-1a over the whole Data (type included), so a String and a byte[] of the same bytes
     * differ: the ETag stands for exactly what a conditional write will compare against. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= data[i];
        h *= 0x100000001b3ull;
    }
    etag[0] = 'h';
    for (int i = 0; i < 16; i++) etag[1 + i] = hexdigits[(h >> (60 - 4 * i)) & 15];
    etag[17] = 0;
    *value = bytes;
    *value_len = n;
    return true;
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

bool hz_etag_valid(const char *etag)
{
    size_t n = strlen(etag);
    if (n == HZ_ETAG_LEN) return all_hex(etag, n);
    return n == 17 && etag[0] == 'h' && all_hex(etag + 1, 16);
}

/*
 * fuzz_hazelcast.c — the Hazelcast client protocol decoders (src/stores/hazelcast/codec.c) on
 * bytes as a member could send them: the input is a byte stream cut into messages by hz_split,
 * and every message goes through each response decoder the driver uses (authentication, error,
 * nullable Data, GetAll entries, skipping structures), and every frame's payload through the
 * stored-value and Data readers. Nothing may read outside the input or leak.
 */
#include "stores/hazelcast/codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void on_entry(void *arg, const hz_entry *e)
{
    size_t *n = arg;
    const unsigned char *v;
    size_t vl;
    char etag[HZ_ETAG_LEN + 1];
    int64_t exp;
    if (hz_value_unwrap(e->value, e->value_len, &v, &vl, etag, &exp) && vl > e->value_len) abort();
    *n += e->key_len;
}

static void one_message(const unsigned char *msg, size_t len)
{
    hz_auth a;
    if (hz_decode_auth(msg, len, &a) == 1) {
        for (size_t i = 0; i < a.member_count; i++)
            if (strlen(a.members[i].host) >= sizeof a.members[i].host) abort();
        hz_auth_free(&a);
    }

    hz_iter it;
    hz_frame f;
    int32_t type;
    int64_t corr;
    hz_iter_init(&it, msg, len);
    if (!hz_next(&it, &f) || !hz_resp_header(&f, &type, &corr)) return;
    hz_iter rest = it;

    int32_t code;
    char cls[64], text[64];
    if (hz_decode_error(&it, &code, cls, sizeof cls, text, sizeof text)) {
        if (strlen(cls) >= sizeof cls || strlen(text) >= sizeof text) abort();
        (void)hz_error_retryable(code);
    }
    it = rest;
    const unsigned char *d;
    size_t n;
    bool null;
    if (hz_decode_nullable(&it, &d, &n, &null) && !null) {
        int32_t t;
        const unsigned char *b;
        size_t bl;
        if (hz_data_decode(d, n, &t, &b, &bl) && (b < d || b + bl > d + n)) abort();
        (void)hz_partition_of(d, n, 271);
    }
    it = rest;
    size_t total = 0;
    (void)hz_decode_entries(&it, on_entry, &total);
    it = rest;
    while (hz_skip(&it)) {
    }
    it = rest;
    while (hz_next(&it, &f)) {
        const unsigned char *v;
        size_t vl;
        char etag[HZ_ETAG_LEN + 1];
        int64_t exp;
        if (hz_value_unwrap(f.data, f.len, &v, &vl, etag, &exp) &&
            (v < f.data || v + vl > f.data + f.len || !hz_etag_valid(etag)))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0, len;
    /* Each message is copied to a buffer of its own size, so ASan sees any read past it. */
    while (off < size && hz_split(data + off, size - off, 1u << 20, &len) == 1) {
        unsigned char *copy = malloc(len);
        if (!copy) return 0;
        memcpy(copy, data + off, len);
        one_message(copy, len);
        free(copy);
        off += len;
    }
    return 0;
}

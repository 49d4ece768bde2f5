/*
 * fuzz_couchbase_frame.c — the couchbase driver's response frame decoder and OBSERVE reply
 * walker (src/stores/couchbase/proto.c): whatever 24-byte header and body arrive, an accepted
 * header's parts must lie inside its body, and walking OBSERVE entries must stay inside the
 * buffer and always advance.
 */
#include "stores/couchbase/couchbase_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= CB_HDR_LEN) {
        cb_hdr h;
        const char *why = NULL;
        if (cb_decode_response_header(data, &h, &why)) {
            if (cb_value_off(&h) > h.bodylen || h.bodylen > CB_MAX_BODY) abort();
            if (cb_value_off(&h) + cb_value_len(&h) != h.bodylen) abort();
        } else if (!why) {
            abort();
        }
    }
    size_t off = 0, prev = 0;
    uint16_t vb, kl;
    const uint8_t *k;
    uint8_t st;
    uint64_t cas;
    while (cb_observe_next(data, size, &off, &vb, &k, &kl, &st, &cas)) {
        if (off <= prev || off > size || k < data || k + kl > data + size) abort();
        prev = off;
    }
    if (size) (void)cb_vbucket_of(data, size, 1 + data[0]);
    return 0;
}

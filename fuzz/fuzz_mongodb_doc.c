/*
 * fuzz_mongodb_doc.c — the mongodb driver's document reader and writers
 * (src/stores/mongodb/documents.c). BSON parsing itself is libbson's; what is ours is how a
 * stored document becomes a value. Input byte 0 picks the mode:
 *   0: the rest is a BSON document (as a server could send): ss_mongo_read_doc must return OK
 *      with a value and ETag, OK with none (expired), or an error with a message; never crash.
 *   1: the rest is a value: written with ss_mongo_document and read back, it must come back
 *      byte-exact with its ETag.
 *   2: the rest is a key: written with ss_mongo_append_key, ss_mongo_key_equals must match it.
 */
#include "stores/mongodb/mongodb_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t mode = data[0] % 3;
    data++;
    size--;
    ss_error err;
    ss_value *v = NULL;
    if (mode == 0) {
        bson_t doc;
        if (!bson_init_static(&doc, data, size)) return 0;
        ss_code rc = ss_mongo_read_doc(&doc, NOW, &v, &err);
        if (rc == SS_OK && v && (!v->etag || !*v->etag)) abort();
        if (rc != SS_OK && (v || !err.message[0])) abort();
        ss_value_free(v);
        return 0;
    }
    if (mode == 1) {
        ss_op op;
        memset(&op, 0, sizeof op);
        op.kind = SS_DRV_SET;
        op.key = "k";
        op.key_len = 1;
        op.value = size ? (const void *)data : "";
        op.value_len = size;
        op.ttl_mode = size % 2 ? SS_TTL_SECONDS : SS_TTL_NONE;
        op.ttl_seconds = 10;
        bson_t doc;
        if (!ss_mongo_document(&doc, &op, "etag-1", NOW)) abort();
        if (ss_mongo_read_doc(&doc, NOW, &v, &err) != SS_OK || !v) abort();
        if (v->len != size || (size && memcmp(v->data, data, size) != 0)) abort();
        if (strcmp(v->etag, "etag-1") != 0) abort();
        ss_value_free(v);
        bson_destroy(&doc);
        return 0;
    }
    if (size == 0 || memchr(data, 0, size)) return 0; /* keys are non-empty, without NUL */
    bson_t doc = BSON_INITIALIZER;
    bson_iter_t it;
    if (!ss_mongo_append_key(&doc, "_id", (const char *)data, size)) abort();
    if (!bson_iter_init_find(&it, &doc, "_id") ||
        !ss_mongo_key_equals(&it, (const char *)data, size))
        abort();
    bson_destroy(&doc);
    return 0;
}

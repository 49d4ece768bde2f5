/*
 * documents.c — the documents of the mongodb driver (see mongodb_internal.h for the layout).
 */
#include "mongodb_internal.h"

#include "support/utf8.h"

#include <stdlib.h>
#include <string.h>

bool ss_mongo_append_key(bson_t *doc, const char *field, const char *key, size_t len)
{
    if (ss_utf8_valid(key, len, false)) return bson_append_utf8(doc, field, -1, key, (int)len);
    return bson_append_binary(doc, field, -1, BSON_SUBTYPE_BINARY, (const uint8_t *)key,
                              (uint32_t)len);
}

bool ss_mongo_key_equals(const bson_iter_t *iter, const char *key, size_t len)
{
    if (BSON_ITER_HOLDS_UTF8(iter)) {
        uint32_t n = 0;
        const char *s = bson_iter_utf8(iter, &n);
        return n == len && memcmp(s, key, len) == 0 && ss_utf8_valid(key, len, false);
    }
    if (BSON_ITER_HOLDS_BINARY(iter)) {
        bson_subtype_t sub;
        uint32_t n = 0;
        const uint8_t *b = NULL;
        bson_iter_binary(iter, &sub, &n, &b);
        return sub == BSON_SUBTYPE_BINARY && n == len && (n == 0 || memcmp(b, key, len) == 0) &&
               !ss_utf8_valid(key, len, false);
    }
    return false;
}

static bool append_alive(bson_t *out, int64_t now_ms)
{
    bson_t or, a, b, gt;
    bool ok = bson_append_array_begin(out, "$or", 3, &or);
    ok = ok && bson_append_document_begin(&or, "0", 1, &a);
    ok = ok && bson_append_null(&a, SS_MONGO_TTL, -1);
    ok = ok && bson_append_document_end(&or, &a);
    ok = ok && bson_append_document_begin(&or, "1", 1, &b);
    ok = ok && bson_append_document_begin(&b, SS_MONGO_TTL, -1, &gt);
    ok = ok && bson_append_date_time(&gt, "$gt", 3, now_ms);
    ok = ok && bson_append_document_end(&b, &gt);
    ok = ok && bson_append_document_end(&or, &b);
    return ok && bson_append_array_end(out, &or);
}

bool ss_mongo_filter(bson_t *out, const char *key, size_t len, const char *etag, int64_t now_ms)
{
    bson_init(out);
    bool ok = ss_mongo_append_key(out, SS_MONGO_ID, key, len);
    if (etag) {
        ok = ok && bson_append_utf8(out, SS_MONGO_ETAG, -1, etag, -1);
        if (now_ms > 0) ok = ok && append_alive(out, now_ms);
    }
    return ok;
}

bool ss_mongo_expired_filter(bson_t *out, const char *key, size_t len, int64_t now_ms)
{
    bson_t lte;
    bson_init(out);
    bool ok = ss_mongo_append_key(out, SS_MONGO_ID, key, len);
    ok = ok && bson_append_document_begin(out, SS_MONGO_TTL, -1, &lte);
    ok = ok && bson_append_date_time(&lte, "$lte", 4, now_ms);
    return ok && bson_append_document_end(out, &lte);
}

bool ss_mongo_document(bson_t *out, const ss_op *op, const char *etag, int64_t now_ms)
{
    bson_init(out);
    bool ok = ss_mongo_append_key(out, SS_MONGO_ID, op->key, op->key_len);
    if (ss_utf8_valid(op->value, op->value_len, false))
        ok = ok && bson_append_utf8(out, SS_MONGO_VAL, -1, op->value, (int)op->value_len);
    else
        ok = ok && bson_append_binary(out, SS_MONGO_VAL, -1, BSON_SUBTYPE_BINARY,
                                      (const uint8_t *)op->value, (uint32_t)op->value_len);
    ok = ok && bson_append_utf8(out, SS_MONGO_ETAG, -1, etag, -1);
    if (op->ttl_mode == SS_TTL_SECONDS)
        ok = ok && bson_append_date_time(out, SS_MONGO_TTL, -1, now_ms + op->ttl_seconds * 1000);
    else
        ok = ok && bson_append_null(out, SS_MONGO_TTL, -1);
    return ok;
}

/* Relaxed Extended JSON of one BSON element, without the wrapper document libbson needs:
 * `{ "v" : <json> }` -> `<json>`. */
static char *element_json(const bson_iter_t *iter, size_t *len)
{
    bson_t wrap = BSON_INITIALIZER;
    char *json = NULL;
    if (bson_append_iter(&wrap, "v", 1, iter)) json = bson_as_relaxed_extended_json(&wrap, len);
    bson_destroy(&wrap);
    if (!json) return NULL;
    static const char head[] = "{ \"v\" : ";
    static const char tail[] = " }";
    size_t hl = sizeof head - 1, tl = sizeof tail - 1;
    if (*len < hl + tl || memcmp(json, head, hl) != 0 || memcmp(json + *len - tl, tail, tl) != 0) {
        bson_free(json);
        return NULL;
    }
    memmove(json, json + hl, *len - hl - tl);
    *len -= hl + tl;
    json[*len] = 0;
    return json;
}

ss_code ss_mongo_read_doc(const bson_t *doc, int64_t now_ms, ss_value **out, ss_error *err)
{
    *out = NULL;
    bson_iter_t it;
    const char *data = NULL;
    uint32_t len = 0;
    char *json = NULL;
    const char *etag = NULL;
    bool have_value = false;
    int64_t expires = 0;
    if (!bson_iter_init(&it, doc)) return ss_error_set(err, SS_BACKEND, "malformed BSON document");
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (strcmp(k, SS_MONGO_VAL) == 0 && !have_value) {
            have_value = true;
            if (BSON_ITER_HOLDS_UTF8(&it)) {
                data = bson_iter_utf8(&it, &len);
            } else if (BSON_ITER_HOLDS_BINARY(&it)) {
                bson_subtype_t sub;
                const uint8_t *b = NULL;
                bson_iter_binary(&it, &sub, &len, &b);
                data = (const char *)b;
            } else {
                size_t jl = 0;
                json = element_json(&it, &jl);
                if (!json)
                    return ss_error_set(err, SS_BACKEND,
                                        "field value of type 0x%02x cannot be read as JSON",
                                        (unsigned)bson_iter_type(&it));
                data = json;
                len = (uint32_t)jl;
            }
        } else if (strcmp(k, SS_MONGO_ETAG) == 0 && BSON_ITER_HOLDS_UTF8(&it)) {
            etag = bson_iter_utf8(&it, NULL);
        } else if (strcmp(k, SS_MONGO_TTL) == 0 && BSON_ITER_HOLDS_DATE_TIME(&it)) {
            expires = bson_iter_date_time(&it);
        }
    }
    ss_code code = SS_OK;
    if (expires != 0 && expires <= now_ms) goto done; /* expired: not found */
    if (!have_value) {
        code = ss_error_set(err, SS_BACKEND, "document has no field value");
        goto done;
    }
    if (!etag || !*etag) {
        code = ss_error_set(err, SS_BACKEND, "document has no string field _etag");
        goto done;
    }
    *out = ss_value_new(data ? data : "", len, etag);
    if (!*out || (expires != 0 && ss_value_set_expiry(*out, expires) != SS_OK)) {
        ss_value_free(*out);
        *out = NULL;
        code = ss_error_set(err, SS_NOMEM, "out of memory");
    }
done:
    bson_free(json);
    return code;
}

bool ss_mongo_hello_transactional(const bson_t *hello)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, hello, "setName") && BSON_ITER_HOLDS_UTF8(&it)) return true;
    if (bson_iter_init_find(&it, hello, "msg") && BSON_ITER_HOLDS_UTF8(&it) &&
        strcmp(bson_iter_utf8(&it, NULL), "isdbgrid") == 0)
        return true;
    return false;
}

/* message.c — messages naming the store, the operation and the key around a driver's text. */
#include "core/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void build_message(char *out, size_t outsize, const ss_store *store, ss_code code,
                          const char *op, const char *key, size_t key_len, const char *text)
{
    char ekey[400];
    if (!text || !*text) text = ss_code_text(code);
    const char *name = store && store->ctx.name ? store->ctx.name : "?";
    const char *drv = store && store->driver ? store->driver->info.name : "?";
    if (key && key_len > 0) {
        ss_escape_key(ekey, sizeof ekey, key, key_len);
        snprintf(out, outsize, "store \"%s\" (%s): %s \"%s\": %s", name, drv, op ? op : "call",
                 ekey, text);
    } else {
        snprintf(out, outsize, "store \"%s\" (%s): %s: %s", name, drv, op ? op : "call", text);
    }
    if (store) ss_mask_secrets(&store->ctx, out, outsize);
}

ss_code ss_error_decorate(ss_error *err, const ss_store *store, ss_code code, const char *op,
                          const char *key, size_t key_len, const char *text)
{
    if (!err) return code;
    char buf[SS_ERROR_MESSAGE_MAX];
    /* text may point into err->message, hence the scratch buffer. */
    build_message(buf, sizeof buf, store, code, op, key, key_len, text);
    err->code = code;
    err->retryable = ss_code_retryable(code);
    memcpy(err->message, buf, sizeof buf);
    return code;
}

char *ss_error_decorate_dup(const ss_store *store, ss_code code, const char *op, const char *key,
                            size_t key_len, const char *text)
{
    char buf[SS_ERROR_MESSAGE_MAX];
    build_message(buf, sizeof buf, store, code, op, key, key_len, text);
    return ss_strdup(buf);
}

const char *ss_error_skip_store(const ss_store *store, const char *msg)
{
    if (!store || !msg) return msg;
    char prefix[600];
    int n = snprintf(prefix, sizeof prefix, "store \"%s\" (%s): ", store->ctx.name,
                     store->driver->info.name);
    if (n > 0 && (size_t)n < sizeof prefix && strncmp(msg, prefix, (size_t)n) == 0) return msg + n;
    return msg;
}

ss_code ss_error_set_op(ss_error *err, ss_code code, size_t index, const ss_op *op, const char *fmt,
                        ...)
{
    if (!err) return code;
    static const char *const kinds[] = {"get", "set", "delete"};
    char text[SS_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char ekey[400] = "";
    const char *kind = "op";
    if (op) {
        ss_escape_key(ekey, sizeof ekey, op->key, op->key_len);
        if ((unsigned)op->kind < sizeof kinds / sizeof kinds[0]) kind = kinds[op->kind];
    }
    return ss_error_set(err, code, "operation %zu: %s \"%s\": %s", index, kind, ekey, text);
}

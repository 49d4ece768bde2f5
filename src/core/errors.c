/* errors.c — the error table, and filling an ss_error. Knows nothing of stores (message.c). */
#include "core/errors.h"

#include <statestore/driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct code_row {
    const char *name;
    int http;
    int exit_status;
    bool retryable;
    const char *text;
} code_row;

static const code_row code_rows[] = {
#define SS_X_ROW(name, value, http, exitcode, retryable, text)                                     \
    [value] = {#name, http, exitcode, retryable, text},
    SS_ERROR_MAP(SS_X_ROW)
#undef SS_X_ROW
};

#define CODE_ROWS (sizeof code_rows / sizeof code_rows[0])

static const code_row *row(ss_code code)
{
    /* Casting through unsigned also rejects negative values an enum may hold. */
    if ((unsigned)code >= CODE_ROWS || !code_rows[code].name) return NULL;
    return &code_rows[code];
}

const char *ss_code_name(ss_code code)
{
    const code_row *r = row(code);
    return r ? r->name : "UNKNOWN";
}

const char *ss_code_text(ss_code code)
{
    const code_row *r = row(code);
    return r ? r->text : "unknown error";
}

int ss_code_http_status(ss_code code)
{
    const code_row *r = row(code);
    return r ? r->http : 500;
}

int ss_code_exit_status(ss_code code)
{
    const code_row *r = row(code);
    return r ? r->exit_status : 1;
}

bool ss_code_retryable(ss_code code)
{
    const code_row *r = row(code);
    return r ? r->retryable : false;
}

ss_code ss_error_setv(ss_error *err, ss_code code, const char *fmt, va_list ap)
{
    if (!err) return code;
    /* Format into a scratch buffer first: callers may pass err->message as an argument. */
    char buf[SS_ERROR_MESSAGE_MAX];
    if (fmt)
        vsnprintf(buf, sizeof buf, fmt, ap);
    else
        snprintf(buf, sizeof buf, "%s", ss_code_text(code));
    err->code = code;
    err->retryable = ss_code_retryable(code);
    memcpy(err->message, buf, sizeof buf);
    return code;
}

ss_code ss_error_set(ss_error *err, ss_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ss_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void ss_error_copy(ss_error *dst, const ss_error *src)
{
    if (dst && src && dst != src) *dst = *src;
}

void ss_escape_key(char *buf, size_t buflen, const char *key, size_t key_len)
{
    /* Enough of a key to recognise it; the database's text after it matters more. */
    enum { KEY_SHOWN = 96 };
    static const char hex[] = "0123456789abcdef";
    if (!buf || buflen == 0) return;
    size_t o = 0;
    size_t shown = key_len > KEY_SHOWN ? KEY_SHOWN : key_len;
    for (size_t i = 0; key && i < shown; i++) {
        unsigned char c = (unsigned char)key[i];
        char tmp[4];
        size_t n;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            n = 2;
        } else if (c >= 0x20 && c < 0x7f) {
            tmp[0] = (char)c;
            n = 1;
        } else {
            tmp[0] = '\\';
            tmp[1] = 'x';
            tmp[2] = hex[c >> 4];
            tmp[3] = hex[c & 15];
            n = 4;
        }
        if (o + n + 4 >= buflen) {
            shown = 0; /* out of room: force the "..." marker */
            break;
        }
        memcpy(buf + o, tmp, n);
        o += n;
    }
    if (key_len > KEY_SHOWN || shown == 0) {
        if (key_len > 0 && o + 4 <= buflen) {
            memcpy(buf + o, "...", 3);
            o += 3;
        }
    }
    buf[o < buflen ? o : buflen - 1] = '\0';
}

/*
 * json.c — the CLI's JSON records: writers that keep any bytes exact (JSON text as itself, other
 * UTF-8 as a string, anything else as base64) and the reader of the same item fields. Parsing
 * and string escaping are support/json.h's.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "support/base64.h"
#include "support/strbuf.h"
#include "support/utf8.h"

void json_put_string(FILE *f, const char *s, size_t len)
{
    ss_buf b = {0};
    ss_json_put_str(&b, s, len);
    if (b.p) fwrite(b.p, 1, b.len, f);
    ss_buf_free(&b);
}

static void put_base64(FILE *f, const char *data, size_t len)
{
    char *b = ss_base64_encode_alloc(data, len);
    fprintf(f, "\"%s\"", b ? b : "");
    free(b);
}

void json_put_bytes_field(FILE *f, const char *field, const char *s, size_t len)
{
    if (ss_utf8_valid(s, len, true)) {
        fprintf(f, "\"%s\":", field);
        json_put_string(f, s, len);
        return;
    }
    fprintf(f, "\"%s_base64\":", field);
    put_base64(f, s, len);
}

void json_put_value_fields(FILE *f, const char *data, size_t len)
{
    if (len > 0 && !memchr(data, '\n', len) && !memchr(data, '\r', len) &&
        ss_json_valid(data, len, SS_JSON_UTF8, NULL, 0)) {
        fputs("\"value\":", f);
        fwrite(data, 1, len, f);
        return;
    }
    if (ss_utf8_valid(data, len, true)) {
        fputs("\"text\":", f);
        json_put_string(f, data, len);
        return;
    }
    fputs("\"base64\":", f);
    put_base64(f, data, len);
}

int json_get_value_fields(const ss_json *d, int obj, bool nocase, ss_arena *keep, const char **data,
                          size_t *len, bool *present, char *why, size_t why_len)
{
    int tv = ss_json_get(d, obj, "value", nocase);
    int tt = ss_json_get(d, obj, "text", nocase);
    int tb = ss_json_get(d, obj, "base64", nocase);
    *present = false;
    *data = NULL;
    *len = 0;
    if ((tv >= 0) + (tt >= 0) + (tb >= 0) > 1) {
        snprintf(why, why_len, "more than one of \"value\", \"text\" and \"base64\"");
        return 1;
    }
    if (tv >= 0) {
        /* The exact JSON text, as statestored stores a request's value. */
        *data = ss_json_raw(d, tv, len);
        *present = true;
        return 0;
    }
    int t = tt >= 0 ? tt : tb;
    if (t < 0) return 0;
    size_t n;
    char *s = ss_json_string(d, t, keep, &n);
    if (!s) {
        if (keep->oom)
            snprintf(why, why_len, "out of memory");
        else
            snprintf(why, why_len, "\"%s\" must be a string", tt >= 0 ? "text" : "base64");
        return 1;
    }
    if (tb >= 0) {
        char *b;
        if (!ss_base64_decode_alloc(&b, &n, s, n)) {
            snprintf(why, why_len, "\"base64\" is not valid base64");
            return 1;
        }
        if (!(s = ss_arena_keep(keep, b))) {
            snprintf(why, why_len, "out of memory");
            return 1;
        }
    }
    *data = s;
    *len = n;
    *present = true;
    return 0;
}

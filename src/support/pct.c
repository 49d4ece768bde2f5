/* pct.c — see pct.h. */
#include "support/pct.h"

#include <stdlib.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long ss_pct_decode(char *out, const char *in, size_t len, unsigned flags)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            int h = i + 2 < len ? hexval(in[i + 1]) : -1;
            int l = h >= 0 ? hexval(in[i + 2]) : -1;
            if (l >= 0) {
                out[o++] = (char)(h << 4 | l);
                i += 2;
                continue;
            }
            if (!(flags & SS_PCT_LENIENT)) return -1;
        } else if (c == '+' && (flags & SS_PCT_PLUS)) {
            c = ' ';
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

char *ss_pct_decode_alloc(const char *in, size_t len, unsigned flags, size_t *out_len)
{
    char *out = malloc(len + 1);
    long n = out ? ss_pct_decode(out, in, len, flags) : -1;
    if (n < 0) {
        free(out);
        return NULL;
    }
    if (out_len) *out_len = (size_t)n;
    return out;
}

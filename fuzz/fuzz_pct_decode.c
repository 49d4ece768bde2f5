/*
 * fuzz_pct_decode.c — ss_pct_decode (src/support/pct.c), the percent-decoding of the daemon's
 * paths and query parameters and of the drivers' connection strings. Every input is decoded with
 * each combination of flags; the result must fit in len + 1 bytes, be -1 only when strict, and
 * agree with a plain reference decoder written here from Go's url.QueryUnescape rules (with
 * SS_PCT_PLUS) and their lenient and plus-less variants.
 */
#include "support/pct.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int hex(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static long reference(unsigned char *out, const unsigned char *in, size_t len, unsigned flags)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%') {
            int a = i + 2 < len ? hex(in[i + 1]) : -1;
            int b = i + 2 < len ? hex(in[i + 2]) : -1;
            if (a >= 0 && b >= 0) {
                out[o++] = (unsigned char)(a * 16 + b);
                i += 2;
            } else if (flags & SS_PCT_LENIENT) {
                out[o++] = '%';
            } else {
                return -1;
            }
        } else {
            out[o++] = in[i] == '+' && (flags & SS_PCT_PLUS) ? ' ' : in[i];
        }
    }
    return (long)o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The daemon passes NUL-terminated strings: cut at the first NUL as C would. */
    const uint8_t *nul = memchr(data, 0, size);
    size_t len = nul ? (size_t)(nul - data) : size;
    char *in = malloc(len + 1);
    char *out = malloc(len + 1);
    unsigned char *ref = malloc(len + 1);
    if (!in || !out || !ref) goto done;
    memcpy(in, data, len);
    in[len] = '\0';
    for (unsigned flags = 0; flags < 4; flags++) {
        long n = ss_pct_decode(out, in, len, flags);
        long r = reference(ref, (const unsigned char *)in, len, flags);
        if (n != r) abort();
        if (n > (long)len) abort();
        if (n < 0 && (flags & SS_PCT_LENIENT)) abort();
        if (n >= 0 && (memcmp(out, ref, (size_t)n) != 0 || out[n] != '\0')) abort();
        size_t al = 0;
        char *a = ss_pct_decode_alloc(in, len, flags, &al);
        if ((a == NULL) != (n < 0) || (a && (al != (size_t)n || memcmp(a, ref, al) != 0))) abort();
        free(a);
    }
done:
    free(in);
    free(out);
    free(ref);
    return 0;
}

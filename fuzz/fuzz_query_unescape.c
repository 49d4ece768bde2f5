/*
 * fuzz_query_unescape.c — go_query_unescape (src/daemon/api.c), the percent/plus decoding of
 * query names and values: it must write at most strlen(in) + 1 bytes, return -1 or the decoded
 * length, and agree with a plain reference decoder written here from Go's url.QueryUnescape
 * rules.
 */
#include "daemon.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

ss_log_level dlog_level = SS_LOG_ERROR;
void dlog(ss_log_level level, const char *fmt, ...)
{
    (void)level;
    (void)fmt;
}

static int hex(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static long reference(unsigned char *out, const unsigned char *in, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%') {
            if (i + 2 >= len) return -1;
            int a = hex(in[i + 1]), b = hex(in[i + 2]);
            if (a < 0 || b < 0) return -1;
            out[o++] = (unsigned char)(a * 16 + b);
            i += 2;
        } else {
            out[o++] = in[i] == '+' ? ' ' : in[i];
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
    long n = go_query_unescape(out, in, len);
    long r = reference(ref, (const unsigned char *)in, len);
    if (n != r) abort();
    if (n > (long)len) abort();
    if (n >= 0 && memcmp(out, ref, (size_t)n) != 0) abort();
done:
    free(in);
    free(out);
    free(ref);
    return 0;
}

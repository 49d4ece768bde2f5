#include "support/base64.h"

#include <stdint.h>
#include <stdlib.h>

static const char enc_table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t ss_base64_encoded_size(size_t n)
{
    return (n + 2) / 3 * 4 + 1;
}

size_t ss_base64_encode(char *out, const void *data, size_t n)
{
    const unsigned char *in = data;
    char *p = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *p++ = enc_table[v >> 18 & 63];
        *p++ = enc_table[v >> 12 & 63];
        *p++ = enc_table[v >> 6 & 63];
        *p++ = enc_table[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *p++ = enc_table[v >> 18 & 63];
        *p++ = enc_table[v >> 12 & 63];
        *p++ = '=';
        *p++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *p++ = enc_table[v >> 18 & 63];
        *p++ = enc_table[v >> 12 & 63];
        *p++ = enc_table[v >> 6 & 63];
        *p++ = '=';
    }
    *p = '\0';
    return (size_t)(p - out);
}

char *ss_base64_encode_alloc(const void *data, size_t n)
{
    if (n > (SIZE_MAX - 4) / 4 * 3) return NULL;
    char *out = malloc(ss_base64_encoded_size(n));
    if (out) ss_base64_encode(out, data, n);
    return out;
}

static int dec_char(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

bool ss_base64_decode_alloc(char **out, size_t *out_len, const char *text, size_t len)
{
    *out = NULL;
    *out_len = 0;
    /* Padding is optional, but when present it is one or two '=' completing a 4-byte group. */
    size_t pad = 0;
    while (pad < len && text[len - 1 - pad] == '=') pad++;
    if (pad > 2 || (pad && len % 4 != 0)) return false;
    len -= pad;
    if (len % 4 == 1) return false;
    char *buf = malloc(len / 4 * 3 + 3);
    if (!buf) return false;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int d = dec_char((unsigned char)text[i]);
        if (d < 0) {
            free(buf);
            return false;
        }
        acc = acc << 6 | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (char)(acc >> bits & 0xff);
        }
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return true;
}

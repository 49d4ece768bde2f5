/* utf8.c — strict UTF-8 validation shared by the drivers and the JSON code (see utf8.h). */
#include "support/utf8.h"

#include <stdint.h>

size_t ss_utf8_seq(const void *p, size_t n)
{
    const unsigned char *s = p;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t min;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len) return 0;
    uint32_t cp = c & (0xffu >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* Overlong forms, UTF-16 surrogates and code points past Unicode are not UTF-8. */
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

bool ss_utf8_valid(const void *data, size_t len, bool allow_nul)
{
    const unsigned char *s = data;
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            if (s[i] == 0 && !allow_nul) return false;
            i++;
            continue;
        }
        size_t n = ss_utf8_seq(s + i, len - i);
        if (!n) return false;
        i += n;
    }
    return true;
}

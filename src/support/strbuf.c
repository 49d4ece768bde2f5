/* strbuf.c — see strbuf.h. */
#include "support/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ss_buf_reserve(ss_buf *b, size_t n)
{
    if (b->oom) return false;
    if (n > (size_t)-1 / 2 - b->len) {
        b->oom = true;
        return false;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return false;
        }
        b->p = p;
        b->cap = cap;
    }
    return true;
}

void ss_buf_add(ss_buf *b, const void *s, size_t n)
{
    if (!ss_buf_reserve(b, n)) return;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void ss_buf_str(ss_buf *b, const char *s)
{
    ss_buf_add(b, s, strlen(s));
}

void ss_buf_chr(ss_buf *b, char c)
{
    ss_buf_add(b, &c, 1);
}

char *ss_buf_take(ss_buf *b, size_t *len)
{
    if (!ss_buf_reserve(b, 0)) {
        ss_buf_free(b);
        return NULL;
    }
    b->p[b->len] = '\0';
    char *p = b->p;
    if (len) *len = b->len;
    *b = (ss_buf){0};
    return p;
}

void ss_buf_free(ss_buf *b)
{
    if (!b) return;
    free(b->p);
    *b = (ss_buf){0};
}

char *ss_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *out = malloc((size_t)n + 1);
    if (!out) return NULL;
    va_start(ap, fmt);
    vsnprintf(out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return out;
}

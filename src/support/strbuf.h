/*
 * strbuf.h — a growable, always NUL-terminated byte buffer for building texts (URLs, canonical
 * requests, batch bodies, JSON answers), and formatting into a new string. An allocation failure
 * sets `oom` and turns every later append into a no-op, so a builder appends freely and checks once
 * at the end.
 */
#ifndef SS_SUPPORT_STRBUF_H
#define SS_SUPPORT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

/* Zero-initialise ({0}) to start; p is NULL until the first append. The owner frees p. */
typedef struct ss_buf {
    char *p;
    size_t len, cap;
    bool oom;
} ss_buf;

/* Room for n more bytes after len (and the NUL); false, with oom set, when it cannot be had.
 * Lets a writer fill p + len directly (then it advances len and writes the NUL itself). */
bool ss_buf_reserve(ss_buf *b, size_t n);
void ss_buf_add(ss_buf *b, const void *s, size_t n);
void ss_buf_str(ss_buf *b, const char *s);
void ss_buf_chr(ss_buf *b, char c);

/* Hands the text over (NUL-terminated, free with free(); *len may be NULL) and resets b; NULL
 * when an append failed (b is then freed). */
char *ss_buf_take(ss_buf *b, size_t *len);
/* Frees the text and resets b for reuse. Accepts NULL. */
void ss_buf_free(ss_buf *b);

/* A newly allocated formatted string (free with free()); NULL on out-of-memory. */
char *ss_asprintf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif

/*
 * fuzz_input.h — splitting one fuzz input into fields. Fields are separated by a newline so
 * seed files stay readable; the last field takes the rest of the input (a body may hold
 * newlines). Every field is copied into its own NUL-terminated allocation, so a read past a
 * field's end is caught by AddressSanitizer instead of landing in the next field.
 */
#ifndef SS_FUZZ_INPUT_H
#define SS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_FIELDS 16

typedef struct fuzz_fields {
    char *f[FUZZ_MAX_FIELDS];
    size_t len[FUZZ_MAX_FIELDS];
    size_t n;
} fuzz_fields;

/* Splits into at most `want` fields; missing ones are "" (never NULL). False on OOM. */
static inline int fuzz_split(fuzz_fields *ff, const uint8_t *data, size_t size, size_t want)
{
    memset(ff, 0, sizeof *ff);
    if (want > FUZZ_MAX_FIELDS) want = FUZZ_MAX_FIELDS;
    size_t pos = 0;
    for (size_t i = 0; i < want; i++) {
        size_t end = pos;
        if (i + 1 < want) {
            while (end < size && data[end] != '\n') end++;
        } else {
            end = size;
        }
        size_t n = end > pos ? end - pos : 0;
        ff->f[i] = malloc(n + 1);
        if (!ff->f[i]) return 0;
        if (n) memcpy(ff->f[i], data + pos, n);
        ff->f[i][n] = '\0';
        ff->len[i] = n;
        ff->n = i + 1;
        pos = end < size ? end + 1 : size;
    }
    return 1;
}

static inline void fuzz_free(fuzz_fields *ff)
{
    for (size_t i = 0; i < ff->n; i++) free(ff->f[i]);
    ff->n = 0;
}

/* NULL for "" so both spellings of "not given" are reached; "\x01" stands for "". */
static inline const char *fuzz_opt(const char *s)
{
    if (!*s) return NULL;
    if (s[0] == '\x01' && !s[1]) return "";
    return s;
}

#endif

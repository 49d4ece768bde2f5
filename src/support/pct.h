/*
 * pct.h — percent-decoding (%XX escapes) of URL parts, query strings and DSN fields: the one
 * decoder for the daemon's paths and queries and the drivers' connection strings.
 */
#ifndef SS_SUPPORT_PCT_H
#define SS_SUPPORT_PCT_H

#include <stddef.h>

enum {
    SS_PCT_PLUS = 1u,    /* '+' is a space (query strings: Go's url.QueryUnescape) */
    SS_PCT_LENIENT = 2u, /* a '%' without two hex digits is kept as it is, not an error */
};

/*
 * Decodes in[0..len) into out, which has room for len + 1 bytes (the output is never longer
 * than the input, so out may be in itself), and NUL-terminates it. Returns the decoded length,
 * or -1 on a malformed escape (never with SS_PCT_LENIENT).
 */
long ss_pct_decode(char *out, const char *in, size_t len, unsigned flags);

/* The same into a new string (free with free()); *out_len (may be NULL) gets its length, which
 * %00 makes differ from strlen. NULL on a malformed escape or out-of-memory. */
char *ss_pct_decode_alloc(const char *in, size_t len, unsigned flags, size_t *out_len);

#endif

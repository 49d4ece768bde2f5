/*
 * utf8.h — strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF),
 * for drivers whose databases keep text (they store valid UTF-8 as text and other bytes in an
 * encoding that round-trips: base64, a binary attribute) and for the JSON reader and writer.
 */
#ifndef SS_SUPPORT_UTF8_H
#define SS_SUPPORT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when data[0..len) is valid UTF-8; a NUL byte counts as invalid unless allow_nul. */
bool ss_utf8_valid(const void *data, size_t len, bool allow_nul);

/* The length (1 to 4) of the valid UTF-8 sequence at p (n > 0 bytes available), or 0. */
size_t ss_utf8_seq(const void *p, size_t n);

#endif

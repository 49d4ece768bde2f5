/*
 * utf8.h — strict UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF), for drivers whose databases keep text: they store valid UTF-8 as text and other
 * bytes in an encoding that round-trips (base64, a binary attribute).
 */
#ifndef SS_SUPPORT_UTF8_H
#define SS_SUPPORT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when data[0..len) is valid UTF-8; a NUL byte counts as invalid unless allow_nul. */
bool ss_utf8_valid(const void *data, size_t len, bool allow_nul);

#endif

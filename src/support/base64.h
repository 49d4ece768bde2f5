/*
 * base64.h — standard base64 (RFC 4648 §4, with padding), for drivers whose wire formats carry
 * bytes as base64 text (etcd's JSON gateway, cloud APIs).
 */
#ifndef SS_SUPPORT_BASE64_H
#define SS_SUPPORT_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes needed for the encoding of n input bytes, including the terminating NUL. */
size_t ss_base64_encoded_size(size_t n);

/* Writes the encoding of data[0..n) and a NUL to out (ss_base64_encoded_size(n) bytes); returns
 * the text length. */
size_t ss_base64_encode(char *out, const void *data, size_t n);

/* Newly allocated NUL-terminated encoding (free with free()); NULL on out-of-memory. */
char *ss_base64_encode_alloc(const void *data, size_t n);

/*
 * Decodes text[0..len) (padding optional, but when present it completes the last 4-character
 * group; whitespace not allowed) into a newly allocated buffer
 * followed by a NUL byte that is not counted in *out_len (free with free()). Returns false on
 * malformed input or out-of-memory (then *out is NULL).
 */
bool ss_base64_decode_alloc(char **out, size_t *out_len, const char *text, size_t len);

#endif

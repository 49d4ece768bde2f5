/*
 * cas.h — ETags that are CAS numbers (memcached, Couchbase): 1..2^64-1 in decimal, nothing else.
 */
#ifndef SS_SUPPORT_CAS_H
#define SS_SUPPORT_CAS_H

#include <stdbool.h>
#include <stdint.h>

/* Parses an ETag; false for anything but a decimal number in 1..2^64-1. */
bool ss_cas_parse(const char *s, uint64_t *out);

/* The CAS as decimal text (buf >= 21 bytes), without printf (it is on bulk paths). */
void ss_cas_text(uint64_t v, char *buf);

#endif

/*
 * util.h — the core's helpers that need nothing but the public headers: values, integer
 * parsing, retry waits (util.c).
 */
#ifndef SS_CORE_UTIL_H
#define SS_CORE_UTIL_H

#include <statestore.h>
#include <statestore/driver.h>

/* Removes a value's ETag (for stores that declare none), wherever it was allocated. */
void ss_value_drop_etag(ss_value *value);

/* Strictly parses a decimal integer (optional sign, no spaces); false on junk or overflow. */
bool ss_parse_int64(const char *s, int64_t *out);

/*
 * The wait between attempts. Tests replace it to count attempts and waits exactly; NULL
 * restores the real sleep. Set it before any store is used from other threads.
 */
typedef void (*ss_sleep_fn)(void *ctx, uint32_t ms);
void ss_internal_set_sleep(ss_sleep_fn fn, void *ctx);
void ss_internal_sleep(uint32_t ms);

/* The wait after failed attempt `attempt` (1-based) under policy r; validated pattern. */
uint32_t ss_retry_delay_ms(const ss_retry *r, uint32_t attempt);

#endif

/*
 * errors.h — the error table's helpers the core's files share. This layer knows codes and
 * texts only: nothing of stores, drivers or properties (decoration with the store's name, op
 * and key is in message.c, masking secrets in props.c), so it sits below everything else.
 */
#ifndef SS_CORE_ERRORS_H
#define SS_CORE_ERRORS_H

#include <statestore.h>

/* Copies src into dst (NULL-safe on dst). */
void ss_error_copy(ss_error *dst, const ss_error *src);

/* Empties a scratch error before a driver call. `= {0}` clears all 1 KiB of message on every
 * operation, which showed in profiles of the in-memory store; readers stop at the NUL. */
static inline void ss_error_reset(ss_error *e)
{
    e->code = SS_OK;
    e->retryable = false;
    e->message[0] = '\0';
}

/*
 * Quotes a key for a message: printable ASCII as is (with `"` and `\` escaped), other bytes as
 * \xHH; long keys are cut to a prefix and "..." so a message always has room for the cause.
 */
void ss_escape_key(char *buf, size_t buflen, const char *key, size_t key_len);

#endif

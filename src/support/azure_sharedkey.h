/*
 * azure_sharedkey.h — Azure Storage "SharedKey" authorization for the Table service, as
 * Microsoft's "Authorize with Shared Key" documents it (the Table service's own string to sign):
 *
 *   StringToSign = VERB \n Content-MD5 \n Content-Type \n Date \n CanonicalizedResource
 *   CanonicalizedResource = "/" account URL-path [ "?comp=" value ]
 *   Authorization: SharedKey <account>:base64(HMAC-SHA256(base64decode(key), StringToSign))
 *
 * Date is the x-ms-date value (RFC 1123). With path-style URLs (Azurite), the URL path itself
 * starts with the account, so it appears twice.
 */
#ifndef SS_SUPPORT_AZURE_SHAREDKEY_H
#define SS_SUPPORT_AZURE_SHAREDKEY_H

#include <stddef.h>
#include <stdint.h>

#include "statestore.h"

typedef struct ss_azure_key {
    char *account;
    unsigned char *key; /* decoded */
    size_t key_len;
} ss_azure_key;

/* INVALID (naming the account, never the key) when the key is not base64. */
ss_code ss_azure_key_init(ss_azure_key *k, const char *account, const char *base64_key,
                          ss_error *err);
/* Wipes and frees; NULL is fine. */
void ss_azure_key_clear(ss_azure_key *k);

/* The string to sign (malloc'd; NULL on out-of-memory). content_md5/content_type may be NULL. */
char *ss_azure_table_string_to_sign(const char *account, const char *verb, const char *content_md5,
                                    const char *content_type, const char *date,
                                    const char *url_path, const char *comp);

/* The Authorization header value "SharedKey account:signature" into out (>= 128 bytes). */
ss_code ss_azure_table_authorization(const ss_azure_key *k, const char *verb,
                                     const char *content_md5, const char *content_type,
                                     const char *date, const char *url_path, const char *comp,
                                     char *out, size_t outlen, ss_error *err);

/* RFC 1123 date of a Unix time ("Sun, 29 Nov 2026 23:30:15 GMT"); out >= 32 bytes. */
void ss_azure_rfc1123(int64_t unix_seconds, char *out, size_t outlen);

#endif

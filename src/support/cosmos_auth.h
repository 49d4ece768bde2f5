/*
 * cosmos_auth.h — Azure Cosmos DB master-key authorization (the REST API's "type=master" token):
 * base64(HMAC-SHA256(base64decode(key), lower(verb) \n lower(resourceType) \n resourceLink \n
 * lower(date) \n \n)), URL-encoded into type=master&ver=1.0&sig=<signature>.
 */
#ifndef SS_SUPPORT_COSMOS_AUTH_H
#define SS_SUPPORT_COSMOS_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "statestore.h"

/* A decoded master key. The bytes are wiped on free. */
typedef struct ss_cosmos_key ss_cosmos_key;

/* INVALID when the key is not base64 (the message never contains the key). */
ss_code ss_cosmos_key_new(ss_cosmos_key **out, const char *master_key_base64, ss_error *err);
void ss_cosmos_key_free(ss_cosmos_key *key);

/*
 * The value of the Authorization header for one request, URL-encoded, into out (>= 128 bytes).
 * verb "GET"; resource_type "docs"; resource_link "dbs/db/colls/c/docs/id" (ids as sent, not
 * percent-encoded); date the x-ms-date header's RFC 1123 text. Returns false if out is too small.
 */
bool ss_cosmos_auth_token(const ss_cosmos_key *key, const char *verb, const char *resource_type,
                          const char *resource_link, const char *date, char *out, size_t outlen);

/* RFC 1123 date ("Thu, 27 Apr 2017 00:51:12 GMT") of a Unix time, into buf (>= 32 bytes). */
void ss_cosmos_date(int64_t unix_s, char *buf, size_t buflen);

#endif

/*
 * google_auth.h — Google service-account credentials: a signed JWT (RS256, OpenSSL) exchanged at
 * the account's token_uri for an OAuth access token, cached until shortly before it expires.
 */
#ifndef SS_SUPPORT_GOOGLE_AUTH_H
#define SS_SUPPORT_GOOGLE_AUTH_H

#include <stdint.h>

#include "statestore.h"
#include "support/http.h"

#define SS_GOOGLE_TOKEN_URI       "https://oauth2.googleapis.com/token"
#define SS_GOOGLE_DATASTORE_SCOPE "https://www.googleapis.com/auth/datastore"

/*
 * The JWT assertion of RFC 7523 for a service account: header {"alg":"RS256","typ":"JWT","kid"}
 * and claims iss, scope, aud, iat, exp (iat + 3600). *out is NUL-terminated (free with free()).
 * INVALID when the private key is not an RSA PEM key (the message never contains the key).
 */
ss_code ss_google_jwt(char **out, const char *client_email, const char *private_key_pem,
                      const char *private_key_id, const char *scope, const char *audience,
                      int64_t issued_at_unix, ss_error *err);

typedef struct ss_google_auth ss_google_auth;

/* Copies every string. token_uri NULL = SS_GOOGLE_TOKEN_URI. Checks the key once here. */
ss_code ss_google_auth_new(ss_google_auth **out, const char *client_email,
                           const char *private_key_pem, const char *private_key_id,
                           const char *token_uri, const char *scope, ss_error *err);
void ss_google_auth_free(ss_google_auth *auth);

/*
 * Writes "Authorization: Bearer <token>" into *out_header (free with free()), fetching a new
 * token through `http` when there is none or it expires within a minute. Thread-safe. A token
 * endpoint refusal is UNAVAILABLE when it answered 5xx, else INVALID with Google's own text.
 */
ss_code ss_google_auth_header(ss_google_auth *auth, ss_http *http, char **out_header,
                              ss_error *err);

#endif

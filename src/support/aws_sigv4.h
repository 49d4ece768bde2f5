/*
 * aws_sigv4.h — AWS Signature Version 4 (header signing), as specified in AWS's "Signature
 * Version 4 signing process", checked against its documented example and AWS's published SigV4
 * test suite (tests/stores/sigv4_test.c).
 *
 * The signer adds the headers it signs itself (X-Amz-Date, X-Amz-Security-Token when a session
 * token is given and not omitted, X-Amz-Content-Sha256 when sign_body is set); callers send those
 * from the result together with their own headers.
 */
#ifndef SS_SUPPORT_AWS_SIGV4_H
#define SS_SUPPORT_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "statestore.h"

typedef struct ss_sigv4_request {
    const char *method;     /* "POST" */
    const char *path;       /* the path as sent, not yet percent-encoded for signing ("/") */
    const char *query;      /* the text after '?', or NULL */
    const ss_pair *headers; /* every header that is sent and signed (Host included) */
    size_t header_count;
    const void *payload;
    size_t payload_len;
} ss_sigv4_request;

typedef struct ss_sigv4_params {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" = none */
    const char *region;
    const char *service;
    int64_t unix_seconds;    /* signing time */
    bool normalize_path;     /* remove dot segments and duplicate slashes (every service but S3) */
    bool sign_body;          /* add and sign X-Amz-Content-Sha256 */
    bool omit_session_token; /* send the token unsigned (STS-style "header after") */
} ss_sigv4_params;

typedef struct ss_sigv4_result {
    char amz_date[17];       /* "20150830T123600Z" */
    char payload_hash[65];   /* hex SHA-256 of the payload */
    char signature[65];      /* hex */
    char *canonical_request; /* the intermediate texts, for tests and debugging */
    char *string_to_sign;
    char *authorization; /* the Authorization header's value */
} ss_sigv4_result;

/* Signs; INVALID for a missing field, NOMEM. On failure *out is cleared. */
ss_code ss_sigv4_sign(const ss_sigv4_request *req, const ss_sigv4_params *params,
                      ss_sigv4_result *out, ss_error *err);

/* Frees the strings in *res and zeroes it; NULL is fine. */
void ss_sigv4_result_clear(ss_sigv4_result *res);

#endif

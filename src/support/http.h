/*
 * http.h — a small HTTP client on libcurl for drivers that talk HTTP/JSON (etcd's gateway, cloud
 * stores). One ss_http holds shared settings (timeouts, TLS) and a pool of keep-alive handles, so
 * any number of threads may call ss_http_request on it at once; each call borrows one handle.
 */
#ifndef SS_SUPPORT_HTTP_H
#define SS_SUPPORT_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "statestore.h"

typedef struct ss_http ss_http;

typedef struct ss_http_options {
    long connect_timeout_ms; /* 0 = 5000 */
    long timeout_ms;         /* whole request; 0 = 10000 */
    size_t pool_size;        /* idle handles kept; 0 = 16 */
    /* TLS. Each is either PEM text (starts with "-----BEGIN") or a file path; NULL = unset. */
    const char *ca;
    const char *cert;
    const char *key;
    bool insecure; /* skip peer verification (tests with self-signed certs only) */
} ss_http_options;

/* NULL on out-of-memory. The options' strings are copied. */
ss_http *ss_http_new(const ss_http_options *opts);
void ss_http_free(ss_http *http);

typedef struct ss_http_request {
    const char *method; /* NULL = "POST" when body is set, else "GET" */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" lines, may be NULL */
    const void *body;
    size_t body_len;
    /* A response header to keep (name matched case-insensitively), e.g. "ETag"; NULL = none. */
    const char *capture_header;
} ss_http_request;

typedef struct ss_http_response {
    long status; /* HTTP status; 0 when no response arrived */
    char *body;  /* NUL-terminated (not counted in body_len); free with ss_http_response_clear */
    size_t body_len;
    bool not_sent; /* the connection could not be made: the request surely had no effect */
    char *header;  /* the value of request.capture_header (trimmed); NULL when absent */
} ss_http_response;

void ss_http_response_clear(ss_http_response *resp);

/*
 * Performs one request. SS_OK when an HTTP response arrived (whatever its status). Otherwise
 * UNAVAILABLE (connection failed/reset) or TIMEOUT, with libcurl's words in err, and
 * resp->not_sent telling whether the request may be retried elsewhere without risk.
 */
ss_code ss_http_perform(ss_http *http, const ss_http_request *req, ss_http_response *resp,
                        ss_error *err);

/*
 * POSTs `body` as JSON and parses a JSON answer. *status receives the HTTP status; *out the
 * parsed body (NULL when it was empty or not JSON; json_decref it). Transport errors as above,
 * and *not_sent (may be NULL) as resp->not_sent.
 */
ss_code ss_http_post_json(ss_http *http, const char *url, const char *const *headers,
                          const json_t *body, long *status, json_t **out, bool *not_sent,
                          ss_error *err);

#endif

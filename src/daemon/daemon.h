/*
 * daemon.h — statestored's internal interfaces: the request/response model the Dapr state API
 * handlers work on (independent of the HTTP library), the store table, and logging.
 */
#ifndef SS_DAEMON_H
#define SS_DAEMON_H

#include <statestore.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* One served store: a component, opened. */
typedef struct dstore {
    char *name;    /* URL name (component metadata.name) */
    char *type;    /* "state.<driver>" as the component said it */
    char *version; /* spec.version, "v1" when absent */
    char *prefix;  /* "<prefix>||" prepended to every key, or NULL (keyPrefix none / no app id) */
    size_t prefix_len;
    ss_store *store;
    ss_features features;
} dstore;

typedef struct dserver {
    dstore *stores;
    size_t nstores;
    const char *app_id; /* "" when not given */
    const char *token;  /* DAPR_API_TOKEN, or NULL when auth is off */
    size_t token_len;
    size_t max_key_len; /* longest key a request may name, in bytes; 0 = no limit */
    size_t max_items;   /* most keys in a bulk get, items in a save, operations in a
                           transaction; 0 = no limit */
} dserver;

typedef struct hreq {
    const char *method;
    const char *path;     /* raw path, still percent-encoded */
    const ss_pair *query; /* query parameters, already decoded */
    size_t nquery;
    const char *if_match; /* NULL when the header is absent */
    const char *token;    /* dapr-api-token header, NULL when absent */
    const char *body;
    size_t body_len;
} hreq;

typedef struct hresp {
    int status;
    const char *content_type; /* static string, NULL for none */
    char *body;               /* owned malloc'd text, or points into `value` */
    size_t len;
    ss_value *value;    /* when set, owns the body bytes */
    const char *etag;   /* ETag header value, borrowed from `value`, or NULL */
    char **headers;     /* owned, flat name/value pairs */
    size_t nheaders;    /* number of pairs */
    const char *errmsg; /* for the log line: the error message (points into body), or NULL */
} hresp;

/* Serves one request. Never fails: every problem becomes an HTTP status and error body. */
void api_handle(const dserver *srv, const hreq *req, hresp *resp);
void hresp_free(hresp *resp);

/* Go's url.QueryUnescape: '+' is a space, %XX is a byte, any other '%' is an error.
 * Writes at most strlen(in) + 1 bytes to out; returns the decoded length or -1. */
long go_query_unescape(char *out, const char *in, size_t len);

/* Logging to stderr, one line per event, at or above the configured level. */
extern ss_log_level dlog_level;
void dlog(ss_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

/*
 * daemon.h — statestored's internal interfaces: the command line (flags.c), the store table
 * (stores.c), the request/response model the Dapr state API handlers work on, independent of
 * any wire protocol (api.c), the HTTP front end that feeds it (http.c), and logging (log.c).
 */
#ifndef SS_DAEMON_H
#define SS_DAEMON_H

#include <statestore.h>

/* Paths and query parameters are decoded as Go's url.QueryUnescape does: ss_pct_decode with
 * SS_PCT_PLUS. */
#include "support/pct.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct sockaddr_storage;

/* What the command line said (flags.c). Strings point into argv; `dirs` is owned. */
typedef struct options {
    unsigned port;
    const char *listen;
    const char **dirs;
    size_t ndirs;
    const char *app_id;
    size_t max_body;
    const char *default_store_path;
    unsigned threads;
    unsigned timeout_s;
    unsigned request_timeout_s;
    size_t header_size;
    unsigned max_conns; /* 0 = as many as descriptors allow */
    unsigned max_key_len;
    unsigned max_items;
    unsigned grpc_port;
    bool grpc_port_set; /* given on the command line: failing to listen is then fatal */
} options;

/* Fills *o with every flag's default. */
void options_default(options *o);
/* Returns 0 to run, 1 to exit 0 (help/version), 2 on a bad flag (reported on stderr). */
int parse_args(int argc, char **argv, options *o);

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

/* Opens every state component of o->dirs (or the embedded SQLite default) into s. False after
 * logging why; s then holds what was opened, for stores_free. */
bool load_stores(dserver *s, const options *o);
void stores_free(dserver *s);

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

/*
 * The HTTP front end (libmicrohttpd). A front end turns requests into hreq, calls api_handle
 * and sends hresp; several may serve one dserver. Shutdown: quiesce (stop accepting), wait
 * while requests are in flight, stop.
 */
typedef struct http_server http_server;
/* Starts listening on addr (port o->port) with o's limits; NULL after logging why.
 * conn_limit: the most connections the process's descriptors allow. */
http_server *http_start(const dserver *api, const options *o, const struct sockaddr_storage *addr,
                        unsigned conn_limit);
unsigned http_port(const http_server *srv, unsigned fallback); /* the port actually bound */
void http_quiesce(http_server *srv);
long http_inflight(const http_server *srv);
void http_stop(http_server *srv); /* NULL is fine */

/* Logging to stderr, one line per event, at or above the configured level. */
extern ss_log_level dlog_level;
void dlog(ss_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An ss_config.log callback: the library's diagnostics as daemon log lines. */
void lib_log(void *ctx, ss_log_level level, const char *message);

#endif

/*
 * cosmosdb_errors_test.c — the azure.cosmosdb driver against a scripted local server
 * (libmicrohttpd): the Authorization header of real requests is recomputed from the request's
 * own x-ms-date and compared (the stand-in never checks it), and answers the stand-in never gives
 * (429 throttling, 401, 408, 412 on replace, a failed batch) must map to the right codes without
 * the key in any message. Needs no Cosmos server.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statestore/driver.h"
#include "support/cosmos_auth.h"
#include "unit/check.h"

static const char master[] =
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

typedef struct seen {
    char method[16], url[512], auth[256], date[64], pk[256], batch[16];
} seen;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int get_status = 200, post_status = 200, put_status = 200;
static const char *get_body = "{}", *post_body = "{}", *put_body = "{}";
static seen last;

static void copy_hdr(struct MHD_Connection *c, const char *name, char *out, size_t n)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(out, n, "%s", v ? v : "");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls)
{
    (void)cls, (void)version, (void)data;
    if (!*con_cls) {
        *con_cls = conn;
        return MHD_YES;
    }
    if (*size) {
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&lock);
    int status = 200;
    const char *body = "{\"id\":\"c\"}";
    if (!strstr(url, "/docs")) {
        /* the container read of open/ping: always fine */
    } else {
        snprintf(last.method, sizeof last.method, "%s", method);
        snprintf(last.url, sizeof last.url, "%s", url);
        copy_hdr(conn, "Authorization", last.auth, sizeof last.auth);
        copy_hdr(conn, "x-ms-date", last.date, sizeof last.date);
        copy_hdr(conn, "x-ms-documentdb-partitionkey", last.pk, sizeof last.pk);
        copy_hdr(conn, "x-ms-cosmos-is-batch-request", last.batch, sizeof last.batch);
        if (!strcmp(method, "GET"))
            status = get_status, body = get_body;
        else if (!strcmp(method, "POST"))
            status = post_status, body = post_body;
        else
            status = put_status, body = put_body;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    pthread_mutex_unlock(&lock);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static void script(int gs, const char *gb, int ps, const char *pb, int us, const char *ub)
{
    pthread_mutex_lock(&lock);
    get_status = gs, get_body = gb, post_status = ps, post_body = pb, put_status = us,
    put_body = ub;
    memset(&last, 0, sizeof last);
    pthread_mutex_unlock(&lock);
}

/* The Authorization the server saw equals the token recomputed for verb and resource link. */
static bool signed_as(const ss_cosmos_key *k, const char *verb, const char *rtype,
                      const char *rlink)
{
    char want[160];
    pthread_mutex_lock(&lock);
    bool ok = last.date[0] &&
              ss_cosmos_auth_token(k, verb, rtype, rlink, last.date, want, sizeof want) &&
              !strcmp(want, last.auth);
    if (!ok) fprintf(stderr, "saw Authorization \"%s\" for %s %s\n", last.auth, verb, rlink);
    pthread_mutex_unlock(&lock);
    return ok;
}

static const char doc_k[] = "{\"id\":\"k\",\"partitionKey\":\"k\",\"value\":{\"a\":1},"
                            "\"isBinary\":false,\"_etag\":\"e1\",\"_ts\":1}";

int main(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, NULL,
                         MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cannot start the scripted server\n");
        return 1;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/",
             MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
    ss_cosmos_key *key = NULL;
    ss_error err = {0};
    CHECK_RC(ss_cosmos_key_new(&key, master, &err), SS_OK, &err);
    ss_pair props[] = {{"url", url}, {"masterKey", master}, {"database", "d"}, {"collection", "c"}};
    ss_config cfg = {.driver = "azure.cosmosdb", .properties = props, .property_count = 4};
    ss_store *s = NULL;
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    if (!s || !key) return check_done("cosmosdb_errors_test");
    ss_value *v = NULL;

    /* A point read: signed for GET docs dbs/d/colls/c/docs/k, partition ["k"]. */
    script(200, doc_k, 200, "{}", 200, "{}");
    CHECK_RC(ss_get(&v, s, &(ss_get_request){.key = "k"}, &err), SS_OK, &err);
    CHECK(v && v->len == 7 && !memcmp(v->data, "{\"a\":1}", 7));
    CHECK_STR(v ? v->etag : NULL, "e1");
    ss_value_free(v);
    CHECK(signed_as(key, "GET", "docs", "dbs/d/colls/c/docs/k"));
    CHECK_STR(last.pk, "[\"k\"]");
    CHECK_STR(last.url, "/dbs/d/colls/c/docs/k");

    /* An id with a space: escaped in the URL, signed as the id itself. */
    v = NULL;
    CHECK_RC(ss_get(&v, s, &(ss_get_request){.key = "a b"}, &err), SS_OK, &err);
    ss_value_free(v);
    CHECK(signed_as(key, "GET", "docs", "dbs/d/colls/c/docs/a b"));

    /* An upsert: signed for POST on the collection. */
    ss_set_request set = {.key = "k", .value = "{\"a\":1}", .value_len = 7};
    script(200, doc_k, 201, doc_k, 200, "{}");
    CHECK_RC(ss_set(NULL, s, &set, &err), SS_OK, &err);
    CHECK(signed_as(key, "POST", "docs", "dbs/d/colls/c"));

    /* Throttled: UNAVAILABLE, retryable, with Cosmos's words. */
    script(429, "{\"code\":\"TooManyRequests\",\"message\":\"Request rate is large.\"}", 200, "{}",
           200, "{}");
    v = NULL;
    CHECK_RC(ss_get(&v, s, &(ss_get_request){.key = "k"}, &err), SS_UNAVAILABLE, &err);
    CHECK(err.retryable);
    CHECK_CONTAINS(err.message, "Request rate is large");

    /* Refused authorization: a clear error without the key. */
    script(401,
           "{\"code\":\"Unauthorized\",\"message\":\"The input authorization token can't "
           "serve the request.\"}",
           200, "{}", 200, "{}");
    CHECK_RC(ss_get(&v, s, &(ss_get_request){.key = "k"}, &err), SS_BACKEND, &err);
    CHECK_CONTAINS(err.message, "authentication failed");
    CHECK(strstr(err.message, "C2y6yDjf5") == NULL);

    /* Request timeout: TIMEOUT. */
    script(408, "{\"code\":\"RequestTimeout\",\"message\":\"slow\"}", 200, "{}", 200, "{}");
    CHECK_RC(ss_get(&v, s, &(ss_get_request){.key = "k"}, &err), SS_TIMEOUT, &err);

    /* An ETag write whose replace Cosmos refuses with 412: ETAG_MISMATCH, PUT signed on the id. */
    script(200, doc_k, 200, "{}", 412,
           "{\"code\":\"PreconditionFailed\",\"message\":\"precondition not met\"}");
    set.etag = "e1";
    CHECK_RC(ss_set(NULL, s, &set, &err), SS_ETAG_MISMATCH, &err);
    CHECK_STR(last.method, "PUT");
    CHECK(signed_as(key, "PUT", "docs", "dbs/d/colls/c/docs/k"));

    /* A failed batch: the first failing operation (not 424) names its key. */
    ss_pair pk = {"partitionKey", "p"};
    ss_operation ops[2] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "k", .value = "1", .value_len = 1, .etag = "old"}},
        {.kind = SS_OP_UPSERT, .set = {.key = "k2", .value = "2", .value_len = 1}},
    };
    ss_transaction tx = {.ops = ops, .count = 2, .metadata = &pk, .metadata_count = 1};
    script(200, "{}", 412, "[{\"statusCode\":412},{\"statusCode\":424}]", 200, "{}");
    CHECK_RC(ss_transact(s, &tx, &err), SS_ETAG_MISMATCH, &err);
    CHECK_CONTAINS(err.message, "\"k\"");
    CHECK_STR(last.batch, "True");
    CHECK_STR(last.pk, "[\"p\"]");
    CHECK(signed_as(key, "POST", "docs", "dbs/d/colls/c"));
    script(200, "{}", 207, "[{\"statusCode\":200},{\"statusCode\":429}]", 200, "{}");
    CHECK_RC(ss_transact(s, &tx, &err), SS_UNAVAILABLE, &err);
    CHECK_CONTAINS(err.message, "k2");
    script(200, "{}", 200, "[{\"statusCode\":200},{\"statusCode\":201}]", 200, "{}");
    CHECK_RC(ss_transact(s, &tx, &err), SS_OK, &err);

    ss_close(s);
    ss_cosmos_key_free(key);
    MHD_stop_daemon(d);
    return check_done("cosmosdb_errors_test");
}

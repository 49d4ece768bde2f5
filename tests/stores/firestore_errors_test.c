/*
 * firestore_errors_test.c — the gcp.firestore driver's error mapping and its authenticated path,
 * against a scripted local server (libmicrohttpd) that plays both Google's token endpoint and
 * the Datastore REST API: answers the emulator never gives (throttling, authentication failure,
 * deadline, contention) must map to the right codes, and messages must never carry the private
 * key or the access token. Needs no emulator.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statestore/driver.h"
#include "unit/check.h"

/* The script: what each method answers, and what the server saw. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int lookup_status = 200, commit_status = 200, token_status = 200;
static const char *lookup_body = "{}", *commit_body = "{}";
static char last_auth[512];
static int commit_calls, token_calls;

typedef struct upload {
    char *data;
    size_t len;
} upload;

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls)
{
    (void)cls, (void)method, (void)version, (void)data;
    if (!*con_cls) {
        *con_cls = calloc(1, sizeof(upload));
        return MHD_YES;
    }
    if (*size) {
        *size = 0; /* the body is not needed */
        return MHD_YES;
    }
    int status = 404;
    const char *body =
        "{\"error\":{\"code\":404,\"message\":\"no route\",\"status\":\"NOT_FOUND\"}}";
    pthread_mutex_lock(&lock);
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (strstr(url, "/token")) {
        token_calls++;
        status = token_status;
        body = token_status == 200
                   ? "{\"access_token\":\"tok-SECRET-123\",\"expires_in\":3600}"
                   : "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid grant: account "
                     "not found\"}";
    } else {
        snprintf(last_auth, sizeof last_auth, "%s", auth ? auth : "");
        if (strstr(url, ":lookup")) {
            status = lookup_status;
            body = lookup_body;
        } else if (strstr(url, ":commit")) {
            commit_calls++;
            status = commit_status;
            body = commit_body;
        }
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    pthread_mutex_unlock(&lock);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static void script(int ls, const char *lb, int cs, const char *cb)
{
    pthread_mutex_lock(&lock);
    lookup_status = ls;
    lookup_body = lb;
    commit_status = cs;
    commit_body = cb;
    commit_calls = 0;
    pthread_mutex_unlock(&lock);
}

static const char found5[] =
    "{\"found\":[{\"entity\":{\"key\":{\"path\":[{\"kind\":\"DaprState\",\"name\":\"k\"}]},"
    "\"properties\":{\"Value\":{\"stringValue\":\"v\"}}},\"version\":\"5\"}]}";

int main(void)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    char *pemdata;
    long pemlen = BIO_get_mem_data(bio, &pemdata);
    char *pem = strndup(pemdata, (size_t)pemlen);
    BIO_free(bio);
    EVP_PKEY_free(key);

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, NULL, MHD_OPTION_NOTIFY_COMPLETED,
        completed, NULL, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cannot start the scripted server\n");
        return 1;
    }
    unsigned port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char endpoint[64], token_uri[96];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%u", port);
    snprintf(token_uri, sizeof token_uri, "http://127.0.0.1:%u/token", port);
    ss_pair props[] = {{"project_id", "p"},  {"endpoint", endpoint},   {"client_email", "sa@p"},
                       {"private_key", pem}, {"token_uri", token_uri}, {"private_key_id", "kid"}};
    ss_config cfg = {.driver = "gcp.firestore", .properties = props, .property_count = 6};
    ss_store *s = NULL;
    ss_error err = {0};
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    if (!s) return check_done("firestore_errors_test");
    ss_value *v = NULL;
    ss_get_request get = {.key = "k"};

    /* The credentials are used: a bearer token from the token endpoint, fetched once. */
    script(200, "{\"missing\":[]}", 200, "{}");
    CHECK_RC(ss_get(&v, s, &get, &err), SS_OK, &err);
    CHECK(v == NULL);
    CHECK_STR(last_auth, "Bearer tok-SECRET-123");
    CHECK_RC(ss_get(&v, s, &get, &err), SS_OK, &err);
    CHECK(token_calls == 1);

    /* Throttling / quota: UNAVAILABLE and retryable, with Google's words. */
    script(429,
           "{\"error\":{\"code\":429,\"message\":\"Quota exceeded.\",\"status\":"
           "\"RESOURCE_EXHAUSTED\"}}",
           200, "{}");
    CHECK_RC(ss_get(&v, s, &get, &err), SS_UNAVAILABLE, &err);
    CHECK(err.retryable);
    CHECK_CONTAINS(err.message, "Quota exceeded");

    /* Authentication refused: a clear error, with neither the token nor the key in it. */
    script(401,
           "{\"error\":{\"code\":401,\"message\":\"Request had invalid authentication "
           "credentials.\",\"status\":\"UNAUTHENTICATED\"}}",
           200, "{}");
    CHECK_RC(ss_get(&v, s, &get, &err), SS_BACKEND, &err);
    CHECK(!err.retryable);
    CHECK_CONTAINS(err.message, "authentication failed");
    CHECK(strstr(err.message, "tok-SECRET") == NULL);
    CHECK(strstr(err.message, "PRIVATE") == NULL);

    /* Deadline exceeded: TIMEOUT. */
    script(504,
           "{\"error\":{\"code\":504,\"message\":\"Deadline\",\"status\":"
           "\"DEADLINE_EXCEEDED\"}}",
           200, "{}");
    CHECK_RC(ss_get(&v, s, &get, &err), SS_TIMEOUT, &err);
    CHECK(err.retryable);

    /* A conditional write Datastore reports as a conflict: ETAG_MISMATCH. */
    script(200, found5, 200,
           "{\"mutationResults\":[{\"version\":\"5\",\"conflictDetected\":true}]}");
    ss_set_request set = {.key = "k", .value = "x", .value_len = 1, .etag = "5"};
    CHECK_RC(ss_set(NULL, s, &set, &err), SS_ETAG_MISMATCH, &err);
    CHECK(commit_calls == 1);

    /* A baseVersion above the stored one is a 400 in Datastore: still just a mismatch. */
    script(200, found5, 400,
           "{\"error\":{\"code\":400,\"message\":\"Invalid base version, it is "
           "greater than the stored version\",\"status\":\"INVALID_ARGUMENT\"}}");
    CHECK_RC(ss_set(NULL, s, &set, &err), SS_ETAG_MISMATCH, &err);

    /* Contention (ABORTED): retried inside the driver, then UNAVAILABLE and retryable. */
    script(200, "{}", 409,
           "{\"error\":{\"code\":409,\"message\":\"too much contention\","
           "\"status\":\"ABORTED\"}}");
    set.etag = NULL;
    CHECK_RC(ss_set(NULL, s, &set, &err), SS_UNAVAILABLE, &err);
    CHECK(err.retryable);
    CHECK(commit_calls == 5);

    /* A server error is retryable; the core's retry policy then tries again. */
    script(200, "{}", 503,
           "{\"error\":{\"code\":503,\"message\":\"backend down\",\"status\":"
           "\"UNAVAILABLE\"}}");
    set.options.retry = (ss_retry){.pattern = SS_LINEAR, .interval_ms = 1, .threshold = 3};
    CHECK_RC(ss_set(NULL, s, &set, &err), SS_UNAVAILABLE, &err);
    CHECK(commit_calls == 3);
    ss_close(s);

    /* The token endpoint refusing the service account: INVALID with Google's description. */
    pthread_mutex_lock(&lock);
    token_status = 400;
    pthread_mutex_unlock(&lock);
    s = NULL;
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    CHECK_RC(ss_get(&v, s, &get, &err), SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "account not found");
    CHECK(strstr(err.message, "PRIVATE") == NULL);
    ss_close(s);

    MHD_stop_daemon(d);
    free(pem);
    return check_done("firestore_errors_test");
}

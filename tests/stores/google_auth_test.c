/*
 * google_auth_test.c — the service-account JWT (RS256) and the OAuth token exchange.
 *
 * The key is generated here; the signature is verified with OpenSSL against its public half,
 * and the exchange runs against a token endpoint on 127.0.0.1 (libmicrohttpd) that verifies the
 * assertion the same way, so no Google account is needed.
 */
#include <jansson.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statestore/driver.h"
#include "support/base64.h"
#include "support/google_auth.h"
#include "support/http.h"
#include "unit/check.h"

static EVP_PKEY *the_key;

static char *pem_of(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}

/* base64url (no padding) → bytes. */
static char *unb64url(const char *s, size_t n, size_t *out_len)
{
    char *t = malloc(n + 4);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) t[j++] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    while (j % 4) t[j++] = '=';
    char *out = NULL;
    if (!ss_base64_decode_alloc(&out, out_len, t, j)) out = NULL;
    free(t);
    return out;
}

/* Verifies a JWT's RS256 signature with the key's public half; fills header and claims. */
static bool verify_jwt(const char *jwt, json_t **hdr, json_t **claims)
{
    *hdr = *claims = NULL;
    const char *d1 = strchr(jwt, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.')) return false;
    size_t hl, cl, sl;
    char *h = unb64url(jwt, (size_t)(d1 - jwt), &hl);
    char *c = unb64url(d1 + 1, (size_t)(d2 - d1 - 1), &cl);
    char *sig = unb64url(d2 + 1, strlen(d2 + 1), &sl);
    bool ok = h && c && sig;
    if (ok) {
        *hdr = json_loadb(h, hl, 0, NULL);
        *claims = json_loadb(c, cl, 0, NULL);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, the_key) == 1 &&
             EVP_DigestVerify(md, (unsigned char *)sig, sl, (const unsigned char *)jwt,
                              (size_t)(d2 - jwt)) == 1;
        EVP_MD_CTX_free(md);
    }
    free(h);
    free(c);
    free(sig);
    return ok;
}

/* ---- a token endpoint ---- */
static int token_calls;
static bool refuse;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct upload {
    char *data;
    size_t len;
} upload;

static enum MHD_Result answer(struct MHD_Connection *conn, int status, const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls)
{
    (void)cls, (void)url, (void)version;
    if (!*con_cls) {
        *con_cls = calloc(1, sizeof(upload));
        return MHD_YES;
    }
    upload *u = *con_cls;
    if (*size) {
        u->data = realloc(u->data, u->len + *size + 1);
        memcpy(u->data + u->len, data, *size);
        u->len += *size;
        u->data[u->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    static const char prefix[] =
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    int status = 400;
    const char *body = "{\"error\":\"invalid_request\"}";
    json_t *h = NULL, *c = NULL;
    pthread_mutex_lock(&lock);
    token_calls++;
    char tok[64];
    snprintf(tok, sizeof tok, "{\"access_token\":\"tok-%d\",\"expires_in\":3600}", token_calls);
    bool refusing = refuse;
    pthread_mutex_unlock(&lock);
    if (refusing) {
        body = "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}";
    } else if (!strcmp(method, "POST") && ct && !strcmp(ct, "application/x-www-form-urlencoded") &&
               u->data && !strncmp(u->data, prefix, sizeof prefix - 1) &&
               verify_jwt(u->data + sizeof prefix - 1, &h, &c)) {
        status = 200;
        body = tok;
    }
    json_decref(h);
    json_decref(c);
    return answer(conn, status, body);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    upload *u = *con_cls;
    if (u) free(u->data);
    free(u);
    *con_cls = NULL;
}

int main(void)
{
    the_key = EVP_RSA_gen(2048);
    if (!the_key) {
        fprintf(stderr, "could not generate an RSA key\n");
        return 1;
    }
    char *pem = pem_of(the_key);
    ss_error err = {0};

    /* The assertion: RS256 over header.claims, verified with the public key. */
    char *jwt = NULL;
    CHECK_RC(ss_google_jwt(&jwt, "sa@proj.iam.gserviceaccount.com", pem, "kid-1",
                           SS_GOOGLE_DATASTORE_SCOPE, SS_GOOGLE_TOKEN_URI, 1700000000, &err),
             SS_OK, &err);
    json_t *h = NULL, *c = NULL;
    CHECK(jwt && verify_jwt(jwt, &h, &c));
    CHECK_STR(json_string_value(json_object_get(h, "alg")), "RS256");
    CHECK_STR(json_string_value(json_object_get(h, "typ")), "JWT");
    CHECK_STR(json_string_value(json_object_get(h, "kid")), "kid-1");
    CHECK_STR(json_string_value(json_object_get(c, "iss")), "sa@proj.iam.gserviceaccount.com");
    CHECK_STR(json_string_value(json_object_get(c, "scope")), SS_GOOGLE_DATASTORE_SCOPE);
    CHECK_STR(json_string_value(json_object_get(c, "aud")), SS_GOOGLE_TOKEN_URI);
    CHECK(json_integer_value(json_object_get(c, "iat")) == 1700000000);
    CHECK(json_integer_value(json_object_get(c, "exp")) == 1700003600);
    json_decref(h);
    json_decref(c);

    /* A tampered assertion must not verify: the check above can fail. */
    if (jwt) {
        char *dot = strrchr(jwt, '.');
        dot[1] = dot[1] == 'A' ? 'B' : 'A';
        CHECK(!verify_jwt(jwt, &h, &c));
        json_decref(h);
        json_decref(c);
    }
    free(jwt);

    /* The PEM as a service-account JSON file carries it, with "\n" escapes. */
    size_t pl = strlen(pem);
    char *esc = malloc(pl * 2 + 1);
    size_t j = 0;
    for (size_t i = 0; i < pl; i++) {
        if (pem[i] == '\n')
            esc[j++] = '\\', esc[j++] = 'n';
        else
            esc[j++] = pem[i];
    }
    esc[j] = '\0';
    jwt = NULL;
    CHECK_RC(ss_google_jwt(&jwt, "a@b", esc, NULL, "s", "aud", 1, &err), SS_OK, &err);
    CHECK(jwt && verify_jwt(jwt, &h, &c));
    CHECK(json_object_get(h, "kid") == NULL);
    json_decref(h);
    json_decref(c);
    free(jwt);

    /* A key that is not a PEM RSA key: INVALID, and the message does not echo it. */
    jwt = NULL;
    CHECK_RC(ss_google_jwt(&jwt, "a@b", "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleQ==\n", NULL,
                           "s", "aud", 1, &err),
             SS_INVALID, &err);
    CHECK(jwt == NULL);
    CHECK(strstr(err.message, "c2VjcmV0") == NULL);
    CHECK_CONTAINS(err.message, "private_key");

    /* The exchange against a local token endpoint; the token is cached. */
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, NULL,
                         MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_SOCK_ADDR,
                         (const struct sockaddr *)&(struct sockaddr_in){
                             .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)},
                         MHD_OPTION_END);
    CHECK(d != NULL);
    if (d) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        char uri[64];
        snprintf(uri, sizeof uri, "http://127.0.0.1:%u/token", (unsigned)info->port);
        ss_http *http = ss_http_new(&(ss_http_options){0});
        ss_google_auth *a = NULL;
        CHECK_RC(ss_google_auth_new(&a, "sa@p", esc, "k1", uri, NULL, &err), SS_OK, &err);
        char *hdr = NULL;
        CHECK_RC(ss_google_auth_header(a, http, &hdr, &err), SS_OK, &err);
        CHECK_STR(hdr, "Authorization: Bearer tok-1");
        free(hdr);
        hdr = NULL;
        CHECK_RC(ss_google_auth_header(a, http, &hdr, &err), SS_OK, &err);
        CHECK_STR(hdr, "Authorization: Bearer tok-1");
        free(hdr);
        CHECK(token_calls == 1);
        ss_google_auth_free(a);

        /* A refusal: a clear error with Google's words, no key material. */
        refuse = true;
        CHECK_RC(ss_google_auth_new(&a, "sa@p", pem, "k1", uri, NULL, &err), SS_OK, &err);
        hdr = NULL;
        CHECK_RC(ss_google_auth_header(a, http, &hdr, &err), SS_INVALID, &err);
        CHECK(hdr == NULL);
        CHECK_CONTAINS(err.message, "Invalid JWT Signature");
        CHECK(strstr(err.message, "PRIVATE") == NULL);
        ss_google_auth_free(a);
        ss_google_auth_free(NULL);
        ss_http_free(http);
        MHD_stop_daemon(d);
    }
    CHECK_RC(ss_google_auth_new(&(ss_google_auth *){NULL}, "", pem, NULL, NULL, NULL, &err),
             SS_INVALID, &err);
    free(esc);
    free(pem);
    EVP_PKEY_free(the_key);
    return check_done("google_auth_test");
}

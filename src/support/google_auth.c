/*
 * google_auth.c — service-account JWT (RS256) and the OAuth token cache (see google_auth.h).
 */
#include "support/google_auth.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statestore/driver.h"
#include "support/base64.h"

struct ss_google_auth {
    char *email;
    char *key_id;
    char *token_uri;
    char *scope;
    EVP_PKEY *pkey;
    pthread_mutex_t lock;
    char *token;        /* "Authorization: Bearer ..." */
    int64_t expires_ms; /* Unix ms */
};

/* base64url without padding (RFC 7515 §2), appended to out at *pos. */
static char *b64url(const void *data, size_t n)
{
    char *s = ss_base64_encode_alloc(data, n);
    if (!s) return NULL;
    size_t j = 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (c == '=') break;
        s[j++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    s[j] = '\0';
    return s;
}

/* Service-account JSON files carry the PEM with "\n" escapes; properties often keep them. */
static char *unescape_pem(const char *pem)
{
    size_t n = strlen(pem);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (pem[i] == '\\' && pem[i + 1] == 'n') {
            out[j++] = '\n';
            i++;
        } else {
            out[j++] = pem[i];
        }
    }
    out[j] = '\0';
    return out;
}

static ss_code load_key(EVP_PKEY **out, const char *pem, ss_error *err)
{
    *out = NULL;
    if (!pem || !*pem) return ss_error_set(err, SS_INVALID, "property private_key: empty");
    char *text = unescape_pem(pem);
    if (!text) return ss_error_set(err, SS_NOMEM, "out of memory");
    BIO *bio = BIO_new_mem_buf(text, -1);
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    free(text);
    if (!k || EVP_PKEY_base_id(k) != EVP_PKEY_RSA) {
        EVP_PKEY_free(k);
        return ss_error_set(err, SS_INVALID, "property private_key: not a PEM RSA private key");
    }
    *out = k;
    return SS_OK;
}

static ss_code sign_jwt(char **out, EVP_PKEY *pkey, const char *email, const char *key_id,
                        const char *scope, const char *aud, int64_t iat, ss_error *err)
{
    *out = NULL;
    json_t *hdr = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
    json_t *cl = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", email ? email : "", "scope",
                           scope ? scope : "", "aud", aud ? aud : "", "iat", (json_int_t)iat, "exp",
                           (json_int_t)(iat + 3600));
    if (hdr && key_id && *key_id) json_object_set_new(hdr, "kid", json_string(key_id));
    char *h = hdr ? json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    char *c = cl ? json_dumps(cl, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(hdr);
    json_decref(cl);
    char *h64 = h ? b64url(h, strlen(h)) : NULL;
    char *c64 = c ? b64url(c, strlen(c)) : NULL;
    free(h);
    free(c);
    char *input = NULL, *sig64 = NULL;
    unsigned char *sig = NULL;
    ss_code rc = SS_NOMEM;
    if (!h64 || !c64) goto done;
    size_t in_len = strlen(h64) + 1 + strlen(c64);
    input = malloc(in_len + 1);
    if (!input) goto done;
    snprintf(input, in_len + 1, "%s.%s", h64, c64);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t sig_len = 0;
    rc = SS_BACKEND;
    if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
        EVP_DigestSign(md, NULL, &sig_len, (const unsigned char *)input, in_len) == 1 &&
        (sig = malloc(sig_len)) != NULL &&
        EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)input, in_len) == 1)
        rc = SS_OK;
    EVP_MD_CTX_free(md);
    if (rc != SS_OK) {
        ss_error_set(err, rc, "RS256 signing failed");
        goto done;
    }
    rc = SS_NOMEM;
    sig64 = b64url(sig, sig_len);
    if (!sig64) goto done;
    size_t total = in_len + 1 + strlen(sig64) + 1;
    *out = malloc(total);
    if (!*out) goto done;
    snprintf(*out, total, "%s.%s", input, sig64);
    rc = SS_OK;
done:
    if (rc == SS_NOMEM) ss_error_set(err, rc, "out of memory");
    free(h64);
    free(c64);
    free(input);
    free(sig);
    free(sig64);
    return rc;
}

ss_code ss_google_jwt(char **out, const char *client_email, const char *private_key_pem,
                      const char *private_key_id, const char *scope, const char *audience,
                      int64_t issued_at_unix, ss_error *err)
{
    *out = NULL;
    EVP_PKEY *k;
    ss_code rc = load_key(&k, private_key_pem, err);
    if (rc != SS_OK) return rc;
    rc = sign_jwt(out, k, client_email, private_key_id, scope, audience, issued_at_unix, err);
    EVP_PKEY_free(k);
    return rc;
}

ss_code ss_google_auth_new(ss_google_auth **out, const char *client_email,
                           const char *private_key_pem, const char *private_key_id,
                           const char *token_uri, const char *scope, ss_error *err)
{
    *out = NULL;
    if (!client_email || !*client_email)
        return ss_error_set(err, SS_INVALID, "property client_email: required with private_key");
    ss_google_auth *a = calloc(1, sizeof *a);
    if (!a) return ss_error_set(err, SS_NOMEM, "out of memory");
    ss_code rc = load_key(&a->pkey, private_key_pem, err);
    if (rc != SS_OK) {
        free(a);
        return rc;
    }
    a->email = strdup(client_email);
    a->key_id = strdup(private_key_id ? private_key_id : "");
    a->token_uri = strdup(token_uri && *token_uri ? token_uri : SS_GOOGLE_TOKEN_URI);
    a->scope = strdup(scope ? scope : SS_GOOGLE_DATASTORE_SCOPE);
    pthread_mutex_init(&a->lock, NULL);
    if (!a->email || !a->key_id || !a->token_uri || !a->scope) {
        ss_google_auth_free(a);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    *out = a;
    return SS_OK;
}

void ss_google_auth_free(ss_google_auth *a)
{
    if (!a) return;
    EVP_PKEY_free(a->pkey);
    free(a->email);
    free(a->key_id);
    free(a->token_uri);
    free(a->scope);
    free(a->token);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

static ss_code fetch_token(ss_google_auth *a, ss_http *http, ss_error *err)
{
    int64_t now_ms = ss_now_unix_ms();
    char *jwt;
    ss_code rc =
        sign_jwt(&jwt, a->pkey, a->email, a->key_id, a->scope, a->token_uri, now_ms / 1000, err);
    if (rc != SS_OK) return rc;
    static const char grant[] =
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
    size_t blen = sizeof grant - 1 + strlen(jwt);
    char *body = malloc(blen + 1);
    if (!body) {
        free(jwt);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    snprintf(body, blen + 1, "%s%s", grant, jwt);
    free(jwt);
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
                          "Accept: application/json", NULL};
    ss_http_request req = {
        .method = "POST", .url = a->token_uri, .headers = hdrs, .body = body, .body_len = blen};
    ss_http_response resp = {0};
    rc = ss_http_perform(http, &req, &resp, err);
    free(body);
    if (rc != SS_OK) return rc;
    json_t *j = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
    const char *tok = json_string_value(json_object_get(j, "access_token"));
    json_int_t exp = json_integer_value(json_object_get(j, "expires_in"));
    if (resp.status != 200 || !tok || !*tok) {
        const char *why = json_string_value(json_object_get(j, "error_description"));
        if (!why) why = json_string_value(json_object_get(j, "error"));
        rc = ss_error_set(err, resp.status >= 500 ? SS_UNAVAILABLE : SS_INVALID,
                          "OAuth token endpoint answered %ld: %s", resp.status,
                          why ? why : "no access_token");
    } else {
        size_t n = strlen(tok) + 32;
        char *h = malloc(n);
        if (!h) {
            rc = ss_error_set(err, SS_NOMEM, "out of memory");
        } else {
            snprintf(h, n, "Authorization: Bearer %s", tok);
            free(a->token);
            a->token = h;
            a->expires_ms = now_ms + (exp > 0 ? (int64_t)exp : 3600) * 1000;
        }
    }
    json_decref(j);
    ss_http_response_clear(&resp);
    return rc;
}

ss_code ss_google_auth_header(ss_google_auth *a, ss_http *http, char **out_header, ss_error *err)
{
    *out_header = NULL;
    pthread_mutex_lock(&a->lock);
    ss_code rc = SS_OK;
    /* A minute's margin: a token must not expire between here and Google checking it. */
    if (!a->token || ss_now_unix_ms() + 60000 >= a->expires_ms) rc = fetch_token(a, http, err);
    if (rc == SS_OK) {
        *out_header = strdup(a->token);
        if (!*out_header) rc = ss_error_set(err, SS_NOMEM, "out of memory");
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

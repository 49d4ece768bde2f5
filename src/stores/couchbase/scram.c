/*
 * scram.c — the client side of SASL SCRAM-SHA1/256/512 (RFC 5802, RFC 7677) as Couchbase's KV
 * service speaks it (mechanism names SCRAM-SHA1, SCRAM-SHA256, SCRAM-SHA512), on OpenSSL's
 * PBKDF2 and HMAC. No packaged SASL library is used: Cyrus SASL's Couchbase mechanism names
 * differ, and the exchange is three messages.
 */
#include "couchbase_internal.h"

#include "support/base64.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const EVP_MD *mech_md(const char *mech)
{
    if (strcmp(mech, "SCRAM-SHA512") == 0) return EVP_sha512();
    if (strcmp(mech, "SCRAM-SHA256") == 0) return EVP_sha256();
    if (strcmp(mech, "SCRAM-SHA1") == 0) return EVP_sha1();
    return NULL;
}

const char *cb_scram_pick(const char *mechs, size_t len)
{
    static const char *const order[] = {"SCRAM-SHA512", "SCRAM-SHA256", "SCRAM-SHA1"};
    for (size_t i = 0; i < 3; i++) {
        size_t ml = strlen(order[i]);
        for (size_t p = 0; p + ml <= len; p++) {
            bool start = p == 0 || mechs[p - 1] == ' ';
            bool end = p + ml == len || mechs[p + ml] == ' ';
            if (start && end && memcmp(mechs + p, order[i], ml) == 0) return order[i];
        }
    }
    return NULL;
}

/* user with '=' -> "=3D" and ',' -> "=2C" (RFC 5802 saslname). */
static char *saslname(const char *user)
{
    size_t n = 0;
    for (const char *p = user; *p; p++) n += (*p == '=' || *p == ',') ? 3 : 1;
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    for (const char *p = user; *p; p++) {
        if (*p == '=')
            o += sprintf(o, "=3D");
        else if (*p == ',')
            o += sprintf(o, "=2C");
        else
            *o++ = *p;
    }
    *o = 0;
    return out;
}

char *cb_scram_client_first(cb_scram *s, const char *mech, const char *user, const char *cnonce)
{
    memset(s, 0, sizeof *s);
    s->md = mech_md(mech);
    char *name = saslname(user);
    if (!s->md || !name) {
        free(name);
        return NULL;
    }
    size_t n = strlen(name) + strlen(cnonce) + 8;
    s->client_first_bare = malloc(n);
    char *first = malloc(n + 3);
    if (!s->client_first_bare || !first) {
        free(name);
        free(first);
        cb_scram_clear(s);
        return NULL;
    }
    snprintf(s->client_first_bare, n, "n=%s,r=%s", name, cnonce);
    snprintf(first, n + 3, "n,,%s", s->client_first_bare);
    snprintf(s->cnonce, sizeof s->cnonce, "%s", cnonce);
    free(name);
    return first;
}

/* The value of attribute `a` ("r", "s", "i", "v") in a comma-separated message, or NULL. */
static const char *attr(const char *msg, char a, size_t *len)
{
    for (const char *p = msg; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n >= 2 && p[0] == a && p[1] == '=') {
            *len = n - 2;
            return p + 2;
        }
        if (!end) break;
        p = end + 1;
    }
    return NULL;
}

char *cb_scram_client_final(cb_scram *s, const char *password, const char *server_first,
                            size_t sflen, const char **why)
{
    char *sf = malloc(sflen + 1);
    char *salt = NULL, *final = NULL, *proof64 = NULL;
    size_t salt_len = 0, nl = 0, sl = 0, il = 0;
    *why = "out of memory";
    if (!sf) return NULL;
    memcpy(sf, server_first, sflen);
    sf[sflen] = 0;
    const char *nonce = attr(sf, 'r', &nl), *salt64 = attr(sf, 's', &sl), *it = attr(sf, 'i', &il);
    long iters = it ? strtol(it, NULL, 10) : 0;
    size_t cl = strlen(s->cnonce);
    if (!nonce || !salt64 || !it || iters < 1 || iters > 10000000 || nl <= cl ||
        memcmp(nonce, s->cnonce, cl) != 0) {
        *why = "malformed SCRAM server-first message";
        goto done;
    }
    if (!ss_base64_decode_alloc(&salt, &salt_len, salt64, sl)) {
        *why = "bad salt in the SCRAM server-first message";
        goto done;
    }
    unsigned dl = (unsigned)EVP_MD_size(s->md);
    unsigned char salted[EVP_MAX_MD_SIZE], ckey[EVP_MAX_MD_SIZE], skey[EVP_MAX_MD_SIZE];
    unsigned char stored[EVP_MAX_MD_SIZE], csig[EVP_MAX_MD_SIZE], proof[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), (unsigned char *)salt, (int)salt_len,
                           (int)iters, s->md, (int)dl, salted)) {
        *why = "PBKDF2 failed";
        goto done;
    }
    HMAC(s->md, salted, (int)dl, (const unsigned char *)"Client Key", 10, ckey, &len);
    HMAC(s->md, salted, (int)dl, (const unsigned char *)"Server Key", 10, skey, &len);
    EVP_Digest(ckey, dl, stored, &len, s->md, NULL);
    /* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
    size_t wl = 9 + nl + 1;
    char *without = malloc(wl);
    size_t al = strlen(s->client_first_bare) + sflen + wl + 3;
    char *auth = malloc(al);
    if (!without || !auth) {
        free(without);
        free(auth);
        goto done;
    }
    snprintf(without, wl, "c=biws,r=%.*s", (int)nl, nonce);
    snprintf(auth, al, "%s,%s,%s", s->client_first_bare, sf, without);
    HMAC(s->md, stored, (int)dl, (const unsigned char *)auth, strlen(auth), csig, &len);
    HMAC(s->md, skey, (int)dl, (const unsigned char *)auth, strlen(auth), s->server_sig, &len);
    s->sig_len = dl;
    for (unsigned i = 0; i < dl; i++) proof[i] = ckey[i] ^ csig[i];
    proof64 = ss_base64_encode_alloc(proof, dl);
    if (proof64) {
        size_t fl = strlen(without) + strlen(proof64) + 4;
        final = malloc(fl);
        if (final) snprintf(final, fl, "%s,p=%s", without, proof64);
    }
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(ckey, sizeof ckey);
    free(without);
    free(auth);
    if (final) *why = NULL;
done:
    free(proof64);
    free(salt);
    free(sf);
    return final;
}

bool cb_scram_verify(const cb_scram *s, const char *server_final, size_t len)
{
    char *msg = malloc(len + 1);
    if (!msg) return false;
    memcpy(msg, server_final, len);
    msg[len] = 0;
    size_t vl = 0;
    const char *v = attr(msg, 'v', &vl);
    char *sig = NULL;
    size_t sig_len = 0;
    bool ok = v && ss_base64_decode_alloc(&sig, &sig_len, v, vl) && sig_len == s->sig_len &&
              CRYPTO_memcmp(sig, s->server_sig, sig_len) == 0;
    free(sig);
    free(msg);
    return ok;
}

void cb_scram_clear(cb_scram *s)
{
    free(s->client_first_bare);
    memset(s, 0, sizeof *s);
}

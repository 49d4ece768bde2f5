/*
 * cosmos_auth.c — Cosmos DB master-key authorization tokens (see cosmos_auth.h).
 */
#include "support/cosmos_auth.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "statestore/driver.h"
#include "support/base64.h"

struct ss_cosmos_key {
    char *bytes;
    size_t len;
};

ss_code ss_cosmos_key_new(ss_cosmos_key **out, const char *master_key_base64, ss_error *err)
{
    *out = NULL;
    ss_cosmos_key *k = calloc(1, sizeof *k);
    if (!k) return ss_error_set(err, SS_NOMEM, "out of memory");
    size_t n = master_key_base64 ? strlen(master_key_base64) : 0;
    if (n == 0 || !ss_base64_decode_alloc(&k->bytes, &k->len, master_key_base64, n) ||
        k->len == 0) {
        free(k);
        return ss_error_set(err, SS_INVALID, "property masterKey: not base64 text");
    }
    *out = k;
    return SS_OK;
}

void ss_cosmos_key_free(ss_cosmos_key *key)
{
    if (!key) return;
    if (key->bytes) OPENSSL_cleanse(key->bytes, key->len);
    free(key->bytes);
    free(key);
}

/* Appends s lower-cased to buf at *pos; false when it does not fit. */
static bool put(char *buf, size_t cap, size_t *pos, const char *s, bool lower)
{
    for (; *s; s++) {
        if (*pos + 1 >= cap) return false;
        buf[(*pos)++] = lower ? (char)tolower((unsigned char)*s) : *s;
    }
    buf[*pos] = '\0';
    return true;
}

bool ss_cosmos_auth_token(const ss_cosmos_key *key, const char *verb, const char *resource_type,
                          const char *resource_link, const char *date, char *out, size_t outlen)
{
    size_t cap = strlen(verb) + strlen(resource_type) + strlen(resource_link) + strlen(date) + 8;
    char *sts = malloc(cap);
    if (!sts) return false;
    size_t pos = 0;
    bool ok = put(sts, cap, &pos, verb, true) && put(sts, cap, &pos, "\n", false) &&
              put(sts, cap, &pos, resource_type, true) && put(sts, cap, &pos, "\n", false) &&
              put(sts, cap, &pos, resource_link, false) && put(sts, cap, &pos, "\n", false) &&
              put(sts, cap, &pos, date, true) && put(sts, cap, &pos, "\n\n", false);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (ok)
        ok = HMAC(EVP_sha256(), key->bytes, (int)key->len, (const unsigned char *)sts, pos, mac,
                  &maclen) != NULL;
    free(sts);
    if (!ok) return false;
    char sig[64];
    ss_base64_encode(sig, mac, maclen);
    /* The documented token is URL-encoded with lower-case escapes (%3d, %26, %2b). */
    static const char prefix[] = "type%3dmaster%26ver%3d1.0%26sig%3d";
    pos = 0;
    if (!put(out, outlen, &pos, prefix, false)) return false;
    for (const char *p = sig; *p; p++) {
        const char *esc = NULL;
        if (*p == '+')
            esc = "%2b";
        else if (*p == '/')
            esc = "%2f";
        else if (*p == '=')
            esc = "%3d";
        char one[2] = {*p, 0};
        if (!put(out, outlen, &pos, esc ? esc : one, false)) return false;
    }
    return true;
}

void ss_cosmos_date(int64_t unix_s, char *buf, size_t buflen)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    /* Not strftime: its day and month names follow the locale, the header's must be English. */
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(buf, buflen, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

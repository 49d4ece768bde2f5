#include "support/azure_sharedkey.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "statestore/driver.h"
#include "support/base64.h"

ss_code ss_azure_key_init(ss_azure_key *k, const char *account, const char *base64_key,
                          ss_error *err)
{
    memset(k, 0, sizeof *k);
    if (!account || !*account) return ss_error_set(err, SS_INVALID, "no account name");
    char *raw = NULL;
    size_t len = 0;
    if (!base64_key || !*base64_key ||
        !ss_base64_decode_alloc(&raw, &len, base64_key, strlen(base64_key)) || len == 0) {
        free(raw);
        return ss_error_set(err, SS_INVALID, "the account key of \"%s\" is not valid base64",
                            account);
    }
    k->account = strdup(account);
    if (!k->account) {
        memset(raw, 0, len);
        free(raw);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    k->key = (unsigned char *)raw;
    k->key_len = len;
    return SS_OK;
}

void ss_azure_key_clear(ss_azure_key *k)
{
    if (!k) return;
    if (k->key) memset(k->key, 0, k->key_len);
    free(k->key);
    free(k->account);
    memset(k, 0, sizeof *k);
}

char *ss_azure_table_string_to_sign(const char *account, const char *verb, const char *content_md5,
                                    const char *content_type, const char *date,
                                    const char *url_path, const char *comp)
{
    const char *md5 = content_md5 ? content_md5 : "";
    const char *ct = content_type ? content_type : "";
    size_t n = strlen(verb) + strlen(md5) + strlen(ct) + strlen(date) + strlen(account) +
               strlen(url_path) + (comp ? strlen(comp) + 6 : 0) + 8;
    char *s = malloc(n);
    if (!s) return NULL;
    snprintf(s, n, "%s\n%s\n%s\n%s\n/%s%s%s%s", verb, md5, ct, date, account, url_path,
             comp ? "?comp=" : "", comp ? comp : "");
    return s;
}

ss_code ss_azure_table_authorization(const ss_azure_key *k, const char *verb,
                                     const char *content_md5, const char *content_type,
                                     const char *date, const char *url_path, const char *comp,
                                     char *out, size_t outlen, ss_error *err)
{
    char *sts = ss_azure_table_string_to_sign(k->account, verb, content_md5, content_type, date,
                                              url_path, comp);
    if (!sts) return ss_error_set(err, SS_NOMEM, "out of memory");
    unsigned char mac[32];
    unsigned int ml = 0;
    bool ok = HMAC(EVP_sha256(), k->key, (int)k->key_len, (const unsigned char *)sts, strlen(sts),
                   mac, &ml) != NULL &&
              ml == 32;
    free(sts);
    if (!ok) return ss_error_set(err, SS_NOMEM, "HMAC-SHA256 failed");
    char sig[48];
    ss_base64_encode(sig, mac, 32);
    int w = snprintf(out, outlen, "SharedKey %s:%s", k->account, sig);
    if (w < 0 || (size_t)w >= outlen)
        return ss_error_set(err, SS_INVALID, "the account name is too long");
    return SS_OK;
}

void ss_azure_rfc1123(int64_t unix_seconds, char *out, size_t outlen)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    /* Not strftime: %a/%b follow the locale, and the header must be English. */
    snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

#include "support/aws_sigv4.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "statestore/driver.h"
#include "support/pct.h"
#include "support/strbuf.h"

/* ------------------------------------------------------------------------------------------ */
/* A growable string                                                                           */
/* ------------------------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------------------------ */
/* Hashes                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    if (!EVP_Digest(data ? data : "", len, md, &n, EVP_sha256(), NULL) || n != 32) return false;
    hex(md, 32, out);
    return true;
}

static bool hmac(const void *key, size_t key_len, const char *msg, size_t msg_len,
                 unsigned char out[32])
{
    unsigned int n = 0;
    return HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, msg_len, out, &n) &&
           n == 32;
}

/* ------------------------------------------------------------------------------------------ */
/* Canonical parts                                                                             */
/* ------------------------------------------------------------------------------------------ */

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* Percent-encodes as SigV4 requires: unreserved bytes as they are, the rest %XX upper-case. */
static void b_uri_encode(ss_buf *b, const char *s, size_t n, bool keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            ss_buf_chr(b, (char)c);
        } else {
            char e[3] = {'%', digits[c >> 4], digits[c & 15]};
            ss_buf_add(b, e, 3);
        }
    }
}

static void canonical_path(ss_buf *b, const char *path, bool normalize)
{
    if (!path || !*path) path = "/";
    if (!normalize) {
        b_uri_encode(b, path, strlen(path), true);
        return;
    }
    /* Segments are kept as (start, len) pairs; ".." drops the last kept one. */
    size_t n = strlen(path), count = 0;
    size_t (*seg)[2] = malloc((n + 1) * sizeof *seg);
    if (!seg) {
        b->oom = true;
        return;
    }
    for (size_t i = 0; i < n;) {
        while (i < n && path[i] == '/') i++;
        size_t start = i;
        while (i < n && path[i] != '/') i++;
        size_t len = i - start;
        if (len == 0 || (len == 1 && path[start] == '.')) continue;
        if (len == 2 && path[start] == '.' && path[start + 1] == '.') {
            if (count) count--;
            continue;
        }
        seg[count][0] = start;
        seg[count][1] = len;
        count++;
    }
    for (size_t i = 0; i < count; i++) {
        ss_buf_chr(b, '/');
        b_uri_encode(b, path + seg[i][0], seg[i][1], false);
    }
    if (count == 0 || path[n - 1] == '/') ss_buf_chr(b, '/');
    free(seg);
}

typedef struct qparam {
    char *name; /* encoded */
    char *value;
} qparam;

static int qparam_cmp(const void *a, const void *b)
{
    const qparam *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static char *encode_alloc(const char *s, size_t n)
{
    /* Decoded first, so that already-encoded and raw query text canonicalise alike. */
    size_t dl = 0;
    char *d = ss_pct_decode_alloc(s, n, SS_PCT_LENIENT, &dl);
    if (!d) return NULL;
    ss_buf b = {0};
    b_uri_encode(&b, d, dl, false);
    free(d);
    if (!b.p && !b.oom) return calloc(1, 1);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static void canonical_query(ss_buf *b, const char *query)
{
    if (!query || !*query) return;
    size_t n = 1;
    for (const char *p = query; *p; p++) n += *p == '&';
    qparam *qs = calloc(n, sizeof *qs);
    if (!qs) {
        b->oom = true;
        return;
    }
    size_t count = 0;
    bool oom = false;
    for (const char *p = query; *p && !oom;) {
        const char *end = strchr(p, '&');
        if (!end) end = p + strlen(p);
        if (end > p) {
            const char *eq = memchr(p, '=', (size_t)(end - p));
            const char *nend = eq ? eq : end;
            qs[count].name = encode_alloc(p, (size_t)(nend - p));
            qs[count].value = eq ? encode_alloc(eq + 1, (size_t)(end - eq - 1)) : calloc(1, 1);
            oom = !qs[count].name || !qs[count].value;
            count++;
        }
        p = *end ? end + 1 : end;
    }
    if (!oom) {
        qsort(qs, count, sizeof *qs, qparam_cmp);
        for (size_t i = 0; i < count; i++) {
            if (i) ss_buf_chr(b, '&');
            ss_buf_str(b, qs[i].name);
            ss_buf_chr(b, '=');
            ss_buf_str(b, qs[i].value);
        }
    }
    for (size_t i = 0; i < count; i++) {
        free(qs[i].name);
        free(qs[i].value);
    }
    free(qs);
    if (oom) b->oom = true;
}

typedef struct hdr {
    char *name; /* lower-cased */
    char *value;
    size_t order;
} hdr;

static int hdr_cmp(const void *a, const void *b)
{
    const hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Trims and collapses runs of whitespace to one space, as the canonical form asks. */
static char *clean_value(const char *v)
{
    size_t n = strlen(v);
    char *o = malloc(n + 1);
    if (!o) return NULL;
    size_t k = 0;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = k > 0;
            continue;
        }
        if (space) o[k++] = ' ';
        space = false;
        o[k++] = (char)c;
    }
    o[k] = '\0';
    return o;
}

static char *lower_dup(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    char *o = malloc(n + 1);
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) o[i] = (char)tolower((unsigned char)s[i]);
    o[n] = '\0';
    return o;
}

/* ------------------------------------------------------------------------------------------ */
/* Signing                                                                                     */
/* ------------------------------------------------------------------------------------------ */

void ss_sigv4_result_clear(ss_sigv4_result *res)
{
    if (!res) return;
    free(res->canonical_request);
    free(res->string_to_sign);
    free(res->authorization);
    memset(res, 0, sizeof *res);
}

ss_code ss_sigv4_sign(const ss_sigv4_request *req, const ss_sigv4_params *p, ss_sigv4_result *out,
                      ss_error *err)
{
    memset(out, 0, sizeof *out);
    if (!req || !p || !req->method || !p->access_key || !*p->access_key || !p->secret_key ||
        !p->region || !*p->region || !p->service || !*p->service)
        return ss_error_set(err, SS_INVALID,
                            "sigv4: method, access key, secret key, region and service are needed");
    for (size_t i = 0; i < req->header_count; i++)
        if (!req->headers[i].name || !req->headers[i].value)
            return ss_error_set(err, SS_INVALID, "sigv4: header %zu has no name or value", i);

    time_t t = (time_t)p->unix_seconds;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) return ss_error_set(err, SS_INVALID, "sigv4: bad signing time");
    strftime(out->amz_date, sizeof out->amz_date, "%Y%m%dT%H%M%SZ", &tm);
    char date[9];
    memcpy(date, out->amz_date, 8);
    date[8] = '\0';
    if (!sha256_hex(req->payload, req->payload_len, out->payload_hash))
        return ss_error_set(err, SS_NOMEM, "sigv4: SHA-256 failed");

    bool token = p->session_token && *p->session_token && !p->omit_session_token;
    size_t nh = req->header_count + 3, count = 0;
    hdr *hs = calloc(nh, sizeof *hs);
    if (!hs) return ss_error_set(err, SS_NOMEM, "sigv4: out of memory");
    bool oom = false;
    for (size_t i = 0; i < req->header_count && !oom; i++, count++) {
        hs[count].name = lower_dup(req->headers[i].name);
        hs[count].value = clean_value(req->headers[i].value);
        hs[count].order = count;
        oom = !hs[count].name || !hs[count].value;
    }
    const char *extra[3][2] = {{"x-amz-date", out->amz_date},
                               {"x-amz-security-token", token ? p->session_token : NULL},
                               {"x-amz-content-sha256", p->sign_body ? out->payload_hash : NULL}};
    for (size_t i = 0; i < 3 && !oom; i++) {
        if (!extra[i][1]) continue;
        hs[count].name = strdup(extra[i][0]);
        hs[count].value = clean_value(extra[i][1]);
        hs[count].order = count;
        oom = !hs[count].name || !hs[count].value;
        count++;
    }

    ss_buf canon = {0}, signed_hdrs = {0}, sts = {0}, auth = {0};
    if (!oom) {
        qsort(hs, count, sizeof *hs, hdr_cmp);
        ss_buf_str(&canon, req->method);
        ss_buf_chr(&canon, '\n');
        canonical_path(&canon, req->path, p->normalize_path);
        ss_buf_chr(&canon, '\n');
        canonical_query(&canon, req->query);
        ss_buf_chr(&canon, '\n');
        for (size_t i = 0; i < count; i++) {
            bool same = i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0;
            if (same) {
                /* Repeated headers become one line with the values comma-joined, in order. */
                ss_buf_chr(&canon, ',');
            } else {
                if (i > 0) {
                    ss_buf_chr(&canon, '\n');
                    ss_buf_chr(&signed_hdrs, ';');
                }
                ss_buf_str(&canon, hs[i].name);
                ss_buf_chr(&canon, ':');
                ss_buf_str(&signed_hdrs, hs[i].name);
            }
            ss_buf_str(&canon, hs[i].value);
        }
        ss_buf_str(&canon, "\n\n");
        ss_buf_str(&canon, signed_hdrs.p ? signed_hdrs.p : "");
        ss_buf_chr(&canon, '\n');
        ss_buf_str(&canon, out->payload_hash);
        oom = canon.oom || signed_hdrs.oom;
    }
    for (size_t i = 0; i < count; i++) {
        free(hs[i].name);
        free(hs[i].value);
    }
    free(hs);

    char canon_hash[65] = "";
    if (!oom && !sha256_hex(canon.p, canon.len, canon_hash)) oom = true;
    if (!oom) {
        ss_buf_str(&sts, "AWS4-HMAC-SHA256\n");
        ss_buf_str(&sts, out->amz_date);
        ss_buf_chr(&sts, '\n');
        ss_buf_str(&sts, date);
        ss_buf_chr(&sts, '/');
        ss_buf_str(&sts, p->region);
        ss_buf_chr(&sts, '/');
        ss_buf_str(&sts, p->service);
        ss_buf_str(&sts, "/aws4_request\n");
        ss_buf_str(&sts, canon_hash);
        oom = sts.oom;
    }
    unsigned char k[32], sig[32];
    if (!oom) {
        size_t sl = strlen(p->secret_key);
        char *kk = malloc(sl + 5);
        oom = !kk;
        if (kk) {
            memcpy(kk, "AWS4", 4);
            memcpy(kk + 4, p->secret_key, sl + 1);
            oom = !hmac(kk, sl + 4, date, 8, k) || !hmac(k, 32, p->region, strlen(p->region), k) ||
                  !hmac(k, 32, p->service, strlen(p->service), k) ||
                  !hmac(k, 32, "aws4_request", 12, k) || !hmac(k, 32, sts.p, sts.len, sig);
            /* The secret must not linger in freed memory. */
            memset(kk, 0, sl + 4);
            free(kk);
        }
        memset(k, 0, sizeof k);
    }
    if (!oom) {
        hex(sig, 32, out->signature);
        ss_buf_str(&auth, "AWS4-HMAC-SHA256 Credential=");
        ss_buf_str(&auth, p->access_key);
        ss_buf_chr(&auth, '/');
        ss_buf_str(&auth, date);
        ss_buf_chr(&auth, '/');
        ss_buf_str(&auth, p->region);
        ss_buf_chr(&auth, '/');
        ss_buf_str(&auth, p->service);
        ss_buf_str(&auth, "/aws4_request, SignedHeaders=");
        ss_buf_str(&auth, signed_hdrs.p ? signed_hdrs.p : "");
        ss_buf_str(&auth, ", Signature=");
        ss_buf_str(&auth, out->signature);
        oom = auth.oom;
    }
    free(signed_hdrs.p);
    if (oom) {
        free(canon.p);
        free(sts.p);
        free(auth.p);
        memset(out, 0, sizeof *out);
        return ss_error_set(err, SS_NOMEM, "sigv4: out of memory");
    }
    out->canonical_request = canon.p;
    out->string_to_sign = sts.p;
    out->authorization = auth.p;
    return SS_OK;
}

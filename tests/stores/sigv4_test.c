/*
 * sigv4_test — src/support/aws_sigv4.c against AWS's documented signing example and, where the
 * files are on the machine, AWS's published SigV4 test suite.
 *
 * The worked example of AWS's "Signature Version 4 signing process" documentation (IAM
 * ListUsers, 2015-08-30) is always checked: canonical request hash, string to sign, signature.
 *
 * The suite itself (one directory per vector, as shipped in awslabs/aws-c-auth
 * tests/aws-signing-test-suite/v4: context.json, request.txt, and the expected canonical
 * request, string to sign and signature) is third-party data this repository does not carry;
 * it is read from $SS_SIGV4_VECTORS, else from SS_SIGV4_DIR (the shared reference folder beside
 * the checkout). Every vector found must match all three texts exactly.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "support/aws_sigv4.h"

#include <openssl/sha.h>

#ifndef SS_SIGV4_DIR
#define SS_SIGV4_DIR ""
#endif

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *p = malloc(cap);
    size_t r;
    while (p && (r = fread(p + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            char *q = realloc(p, cap * 2);
            if (!q) {
                free(p);
                p = NULL;
                break;
            }
            p = q;
            cap *= 2;
        }
    }
    fclose(f);
    if (!p) return NULL;
    p[n] = '\0';
    if (len) *len = n;
    return p;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0';
}

typedef struct parsed {
    char method[16];
    char *path;
    char *query;
    ss_pair headers[32];
    char *names[32];
    char *values[32];
    size_t header_count;
    const char *body;
    size_t body_len;
} parsed;

static void parsed_free(parsed *p)
{
    free(p->path);
    free(p->query);
    for (size_t i = 0; i < p->header_count; i++) {
        free(p->names[i]);
        free(p->values[i]);
    }
}

/* request.txt: "METHOD URI HTTP/1.1", header lines (continuations start with blanks), a blank
 * line, the body. The URI may hold spaces, so it runs up to the last " HTTP/". */
static int parse_request(char *text, size_t len, parsed *p)
{
    memset(p, 0, sizeof *p);
    char *eol = strchr(text, '\n');
    if (!eol) return -1;
    *eol = '\0';
    char *sp = strchr(text, ' ');
    char *ver = strstr(text, " HTTP/");
    if (!sp || !ver || ver <= sp || (size_t)(sp - text) >= sizeof p->method) return -1;
    memcpy(p->method, text, (size_t)(sp - text));
    char *uri = sp + 1;
    *ver = '\0';
    char *q = strchr(uri, '?');
    if (q) {
        *q = '\0';
        p->query = strdup(q + 1);
    }
    p->path = strdup(uri);
    char *line = eol + 1;
    while (*line && *line != '\n') {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        if ((line[0] == ' ' || line[0] == '\t') && p->header_count > 0) {
            char *prev = p->values[p->header_count - 1];
            size_t n = strlen(prev) + strlen(line) + 2;
            char *v = malloc(n);
            snprintf(v, n, "%s %s", prev, line);
            free(prev);
            p->values[p->header_count - 1] = v;
        } else {
            char *colon = strchr(line, ':');
            if (!colon || p->header_count == 32) return -1;
            p->names[p->header_count] = strndup(line, (size_t)(colon - line));
            p->values[p->header_count] = strdup(colon + 1);
            p->header_count++;
        }
        if (!end) {
            line += strlen(line);
            break;
        }
        line = end + 1;
    }
    if (*line == '\n') line++;
    p->body = line;
    p->body_len = len - (size_t)(line - text);
    for (size_t i = 0; i < p->header_count; i++)
        p->headers[i] = (ss_pair){p->names[i], p->values[i]};
    return 0;
}

static int check(const char *vec, const char *what, const char *want, const char *got)
{
    if (want && got && strcmp(want, got) == 0) return 0;
    printf("FAIL %s: %s differs\n--- want\n%s\n--- got\n%s\n", vec, what, want ? want : "(none)",
           got ? got : "(none)");
    return 1;
}

static int run_vector(const char *root, const char *name)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    size_t rlen = 0;
    char *ctx_text = slurp(dir, "context.json", NULL);
    char *req_text = slurp(dir, "request.txt", &rlen);
    char *want_creq = slurp(dir, "header-canonical-request.txt", NULL);
    char *want_sts = slurp(dir, "header-string-to-sign.txt", NULL);
    char *want_sig = slurp(dir, "header-signature.txt", NULL);
    int fails = 0;
    json_t *ctx = ctx_text ? json_loads(ctx_text, 0, NULL) : NULL;
    parsed p;
    memset(&p, 0, sizeof p);
    if (!ctx || !req_text || !want_creq || !want_sts || !want_sig ||
        parse_request(req_text, rlen, &p) != 0) {
        printf("FAIL %s: vector files missing or unreadable\n", name);
        fails = 1;
        goto out;
    }
    chomp(want_creq);
    chomp(want_sts);
    chomp(want_sig);
    json_t *cred = json_object_get(ctx, "credentials");
    struct tm tm = {0};
    const char *ts = json_string_value(json_object_get(ctx, "timestamp"));
    if (!ts || sscanf(ts, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                      &tm.tm_min, &tm.tm_sec) != 6) {
        printf("FAIL %s: bad timestamp\n", name);
        fails = 1;
        goto out;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    ss_sigv4_params params = {
        .access_key = json_string_value(json_object_get(cred, "access_key_id")),
        .secret_key = json_string_value(json_object_get(cred, "secret_access_key")),
        .session_token = json_string_value(json_object_get(cred, "token")),
        .region = json_string_value(json_object_get(ctx, "region")),
        .service = json_string_value(json_object_get(ctx, "service")),
        .unix_seconds = (int64_t)timegm(&tm),
        .normalize_path = json_is_true(json_object_get(ctx, "normalize")),
        .sign_body = json_is_true(json_object_get(ctx, "sign_body")),
        .omit_session_token = json_is_true(json_object_get(ctx, "omit_session_token")),
    };
    ss_sigv4_request req = {.method = p.method,
                            .path = p.path,
                            .query = p.query,
                            .headers = p.headers,
                            .header_count = p.header_count,
                            .payload = p.body,
                            .payload_len = p.body_len};
    ss_sigv4_result res;
    ss_error err;
    if (ss_sigv4_sign(&req, &params, &res, &err) != SS_OK) {
        printf("FAIL %s: sign failed: %s\n", name, err.message);
        fails = 1;
        goto out;
    }
    fails += check(name, "canonical request", want_creq, res.canonical_request);
    fails += check(name, "string to sign", want_sts, res.string_to_sign);
    fails += check(name, "signature", want_sig, res.signature);
    if (!strstr(res.authorization, want_sig) || !strstr(res.authorization, "Credential=")) {
        printf("FAIL %s: authorization header lacks the signature: %s\n", name, res.authorization);
        fails++;
    }
    ss_sigv4_result_clear(&res);
    if (!fails) printf("ok   %s\n", name);
out:
    parsed_free(&p);
    json_decref(ctx);
    free(ctx_text);
    free(req_text);
    free(want_creq);
    free(want_sts);
    free(want_sig);
    return fails ? 1 : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Bad input must be refused with a message, never crash. */
static int check_bad_input(void)
{
    ss_sigv4_request req = {.method = "POST", .path = "/"};
    ss_sigv4_params params = {.access_key = "AK", .secret_key = "SK", .region = "us-east-1"};
    ss_sigv4_result res;
    ss_error err;
    if (ss_sigv4_sign(&req, &params, &res, &err) != SS_INVALID || !strstr(err.message, "service")) {
        printf("FAIL bad-input: a missing service was not refused\n");
        return 1;
    }
    if (strstr(err.message, "SK")) {
        printf("FAIL bad-input: the message shows the secret\n");
        return 1;
    }
    printf("ok   bad-input\n");
    return 0;
}

/* The worked example from AWS's SigV4 documentation; its published values are the oracle. */
static int check_documented_example(void)
{
    ss_pair headers[] = {
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"Host", "iam.amazonaws.com"},
    };
    ss_sigv4_request req = {.method = "GET",
                            .path = "/",
                            .query = "Action=ListUsers&Version=2010-05-08",
                            .headers = headers,
                            .header_count = 2};
    ss_sigv4_params params = {.access_key = "AKIDEXAMPLE",
                              .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                              .region = "us-east-1",
                              .service = "iam",
                              .unix_seconds = 1440938160, /* 2015-08-30T12:36:00Z */
                              .normalize_path = true};
    ss_sigv4_result res;
    ss_error err;
    if (ss_sigv4_sign(&req, &params, &res, &err) != SS_OK) {
        printf("FAIL documented-example: sign failed: %s\n", err.message);
        return 1;
    }
    int fails = 0;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)res.canonical_request, strlen(res.canonical_request), digest);
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    for (size_t i = 0; i < sizeof digest; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    fails += check("documented-example", "canonical request hash",
                   "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59", hex);
    fails += check("documented-example", "string to sign",
                   "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
                   "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59",
                   res.string_to_sign);
    fails +=
        check("documented-example", "signature",
              "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7", res.signature);
    ss_sigv4_result_clear(&res);
    if (!fails) printf("ok   documented-example\n");
    return fails ? 1 : 0;
}

int main(void)
{
    int fails = check_documented_example();
    fails += check_bad_input();
    const char *dir = getenv("SS_SIGV4_VECTORS");
    if (!dir || !*dir) dir = SS_SIGV4_DIR;
    DIR *d = *dir ? opendir(dir) : NULL;
    if (!d) {
        printf("note: AWS's SigV4 test-suite files are not on this machine (looked in \"%s\"; "
               "set SS_SIGV4_VECTORS): only the documented example was checked\n",
               dir);
        printf("%d failed\n", fails);
        return fails ? 1 : 0;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        /* One directory per vector; files beside them (README.md) are not vectors. */
        char path[1024];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        fails += run_vector(dir, names[i]);
        free(names[i]);
    }
    printf("%zu vectors, %d failed\n", n, fails);
    /* A suite folder with fewer vectors than AWS publishes means the data went missing. */
    if (n < 30) {
        printf("FAIL: expected at least 30 vectors in %s\n", dir);
        return 1;
    }
    return fails ? 1 : 0;
}

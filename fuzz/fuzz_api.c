/*
 * fuzz_api.c — statestored's request handling (src/daemon/api.c, with the JSON reader and
 * writer of src/support/json.c) without the HTTP library: method, raw path, query string,
 * If-Match, dapr-api-token and body come from the input and go through api_handle against a
 * memory store and a prefixed memory store, exactly as main.c hands them over (query names and
 * values decoded with ss_pct_decode and SS_PCT_PLUS).
 *
 * Input: METHOD \n PATH \n QUERY \n IF-MATCH \n TOKEN \n BODY...
 * ("-" as If-Match or token means the header is absent).
 */
#include "fuzz_daemon.h"
#include "fuzz_input.h"

#include <stdio.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_daemon_init();
    return 0;
}

/* Splits "a=b&c=d" as Go's url.ParseQuery does, decoding names and values. */
static size_t parse_query(char *q, ss_pair *out, size_t max, char **bufs)
{
    size_t n = 0;
    for (char *part = q; part && *part && n < max;) {
        char *amp = strchr(part, '&');
        if (amp) *amp = '\0';
        char *eq = strchr(part, '=');
        if (eq) *eq = '\0';
        const char *val = eq ? eq + 1 : "";
        char *name = malloc(strlen(part) + 1), *value = malloc(strlen(val) + 1);
        if (name && value && ss_pct_decode(name, part, strlen(part), SS_PCT_PLUS) >= 0 &&
            ss_pct_decode(value, val, strlen(val), SS_PCT_PLUS) >= 0) {
            bufs[2 * n] = name;
            bufs[2 * n + 1] = value;
            out[n] = (ss_pair){name, value};
            n++;
        } else {
            free(name);
            free(value);
        }
        part = amp ? amp + 1 : NULL;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fields ff;
    if (!fuzz_split(&ff, data, size, 6)) {
        fuzz_free(&ff);
        return 0;
    }
    ss_pair query[16];
    char *bufs[32] = {0};
    size_t nq = parse_query(ff.f[2], query, 16, bufs);
    hreq req = {.method = ff.f[0],
                .path = ff.f[1],
                .query = query,
                .nquery = nq,
                .if_match = strcmp(ff.f[3], "-") == 0 ? NULL : ff.f[3],
                .token = strcmp(ff.f[4], "-") == 0 ? NULL : ff.f[4],
                .body = ff.f[5],
                .body_len = ff.len[5]};
    hresp resp = {0};
    api_handle(&srv, &req, &resp);
    if (resp.status < 100 || resp.status > 599) abort();
    if (resp.len && !resp.body) abort();
    /* Touch every byte the response claims to have. */
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < resp.len; i++) sink ^= (unsigned char)resp.body[i];
    (void)sink;
    hresp_free(&resp);
    for (size_t i = 0; i < 2 * nq; i++) free(bufs[i]);
    fuzz_free(&ff);
    return 0;
}

/*
 * fuzz_json.c — the strict JSON reader and string writer shared by the daemon and the CLI
 * (src/support/json.c), in both modes (Go-like strings for the daemon, SS_JSON_UTF8 for the
 * CLI): ss_json_parse must agree with ss_json_valid, and every token of an accepted document
 * must be walkable, decodable, found again by its own name and re-encodable as valid JSON
 * without reading outside the input.
 */
#include "support/json.h"
#include "support/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void walk(const ss_json *d, int tok, ss_arena *a, ss_buf *out)
{
    ss_json_type t = ss_json_typeof(d, tok);
    size_t rl;
    const char *raw = ss_json_raw(d, tok, &rl);
    if (!raw && rl) abort();
    if (t == SS_JSON_STRING) {
        size_t n;
        char *s = ss_json_string(d, tok, a, &n);
        if (s) {
            /* A decoded string is never longer than its escaped text. */
            if (n > rl) abort();
            ss_json_put_str(out, s, n);
        } else {
            ss_buf_str(out, "null"); /* a lone surrogate with SS_JSON_UTF8 */
        }
        return;
    }
    if (t != SS_JSON_OBJECT && t != SS_JSON_ARRAY) {
        ss_buf_add(out, raw, rl);
        return;
    }
    ss_buf_chr(out, t == SS_JSON_OBJECT ? '{' : '[');
    int n = ss_json_size(d, tok);
    int c = n > 0 ? ss_json_child(d, tok) : -1;
    for (int i = 0; i < n && c >= 0; i++) {
        if (i) ss_buf_chr(out, ',');
        if (t == SS_JSON_OBJECT) {
            size_t kn;
            char *k = ss_json_string(d, c, a, &kn);
            if (k) {
                /* Lookups by every member's own decoded name must find a member, whatever its
                 * length or escapes, as with Go's encoding/json. */
                if (strlen(k) == kn &&
                    (ss_json_get(d, tok, k, false) < 0 || ss_json_get(d, tok, k, true) < 0))
                    abort();
                ss_json_put_str(out, k, kn);
            } else {
                ss_buf_str(out, "\"\"");
            }
            ss_buf_chr(out, ':');
            int v = ss_json_next(d, c);
            walk(d, v, a, out);
            c = ss_json_next(d, v);
        } else {
            walk(d, c, a, out);
            c = ss_json_next(d, c);
        }
    }
    ss_buf_chr(out, t == SS_JSON_OBJECT ? '}' : ']');
}

static void run(const char *text, size_t size, unsigned flags)
{
    char errbuf[256];
    ss_json d;
    ss_json_result r = ss_json_parse(&d, text, size, flags, errbuf, sizeof errbuf);
    bool valid = ss_json_valid(text, size, flags, NULL, 0);
    if (r != SS_JSON_NOMEM && (r == SS_JSON_OK) != valid) abort();
    if (r == SS_JSON_INVALID && !memchr(errbuf, '\0', sizeof errbuf)) abort();
    if (r != SS_JSON_OK) return;
    ss_arena a = {0};
    ss_buf out = {0};
    walk(&d, 0, &a, &out);
    /* The re-encoding is valid JSON and valid UTF-8, whatever bytes the input strings held. */
    if (!out.oom && !a.oom &&
        (!ss_json_valid(out.p, out.len, SS_JSON_UTF8, NULL, 0) ||
         !ss_utf8_valid(out.p, out.len, false)))
        abort();
    ss_buf_free(&out);
    ss_arena_free(&a);
    ss_json_dispose(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    run(text, size, 0);
    run(text, size, SS_JSON_UTF8);
    free(text);
    return 0;
}

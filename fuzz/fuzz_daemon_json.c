/*
 * fuzz_daemon_json.c — the daemon's strict JSON reader (src/daemon/json.c): jdoc_parse must
 * agree with json_valid, and every token of an accepted document must be walkable, decodable
 * and re-encodable without reading outside the input.
 */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Lookups are checked for decoded names up to this length: every member name the daemon looks
 * up is at most 11 characters, and a fully escaped one ("\u0063\u006f..." for "consistency")
 * must still match, as with Go's encoding/json (a bug this target found; the seed
 * regress-escaped-long-name keeps it fixed).
 */
#define NAME_ORACLE_MAX 21

static void walk(const jdoc *d, int tok, int depth, jbuf *out)
{
    jtype t = jdoc_type(d, tok);
    size_t rl;
    const char *raw = jdoc_raw(d, tok, &rl);
    if (!raw && rl) abort();
    if (t == J_STRING) {
        size_t n;
        char *s = jdoc_strdup(d, tok, &n);
        if (s) {
            jb_str(out, s, n);
            free(s);
        }
        return;
    }
    if (t != J_OBJECT && t != J_ARRAY) {
        jb_raw(out, raw, rl);
        return;
    }
    int n = jdoc_size(d, tok);
    int c = n > 0 ? jdoc_child(d, tok) : -1;
    for (int i = 0; i < n && c >= 0; i++) {
        if (t == J_OBJECT) {
            size_t kn;
            char *k = jdoc_strdup(d, c, &kn);
            if (k) {
                /* Lookups by every member's own name must find a member. */
                if (kn <= NAME_ORACLE_MAX && strlen(k) == kn && jdoc_get(d, tok, k) < 0) abort();
                free(k);
            }
            int v = jdoc_next(d, c);
            walk(d, v, depth + 1, out);
            c = jdoc_next(d, v);
        } else {
            walk(d, c, depth + 1, out);
            c = jdoc_next(d, c);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    char errbuf[256];
    bool oom = false;
    jdoc *d = jdoc_parse(text, size, errbuf, sizeof errbuf, &oom);
    bool valid = json_valid(text, size);
    if (!oom && (d != NULL) != valid) abort();
    if (!d && !oom && !memchr(errbuf, '\0', sizeof errbuf)) abort();
    if (d) {
        jbuf out = {0};
        walk(d, 0, 0, &out);
        size_t n;
        char *s = jb_take(&out, &n);
        free(s);
        jb_free(&out);
        jdoc_free(d);
    }
    free(text);
    return 0;
}

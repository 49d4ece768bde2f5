/*
 * fuzz_cli_json.c — what the CLI reads from user files (src/cli/json.c over the shared reader in
 * src/support/json.c, in SS_JSON_UTF8 mode): the value/text/base64 item fields that import and
 * transact read, member lookups in both case modes, the record writers (to /dev/null) and the
 * base64 and UTF-8 helpers they use.
 */
#include "cli.h"
#include "support/base64.h"
#include "support/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static FILE *sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sink) sink = fopen("/dev/null", "w");
    char *text = malloc(size ? size : 1);
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    char why[256];
    bool valid = ss_json_valid(text, size, SS_JSON_UTF8, why, sizeof why);
    ss_json d;
    ss_json_result rc = ss_json_parse(&d, text, size, SS_JSON_UTF8, why, sizeof why);
    if (rc == SS_JSON_OK && !valid) abort();
    if (rc == SS_JSON_OK) {
        ss_arena keep = {0};
        for (int t = 0; t < d.count; t++) {
            if (ss_json_next(&d, t) <= t || ss_json_next(&d, t) > d.count) abort();
            if (ss_json_typeof(&d, t) != SS_JSON_OBJECT) continue;
            (void)ss_json_get(&d, t, "key", (t & 1) != 0);
            const char *val;
            size_t vl;
            bool present;
            if (json_get_value_fields(&d, t, (t & 1) != 0, &keep, &val, &vl, &present, why,
                                      sizeof why) == 0 &&
                present) {
                if (vl && !val) abort();
                if (sink) {
                    json_put_value_fields(sink, val, vl);
                    json_put_bytes_field(sink, "key", val, vl);
                }
            }
        }
        ss_arena_free(&keep);
        ss_json_dispose(&d);
    }
    char *b = NULL;
    size_t bl = 0;
    if (ss_base64_decode_alloc(&b, &bl, text, size)) {
        /* What decodes survives an encode and decode unchanged. */
        char *e = ss_base64_encode_alloc(b, bl);
        char *b2 = NULL;
        size_t bl2 = 0;
        if (e && ss_base64_decode_alloc(&b2, &bl2, e, strlen(e)) &&
            (bl2 != bl || memcmp(b, b2, bl) != 0))
            abort();
        free(b2);
        free(e);
    }
    free(b);
    (void)ss_utf8_valid(text, size, true);
    free(text);
    return 0;
}

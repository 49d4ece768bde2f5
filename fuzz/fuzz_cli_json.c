/*
 * fuzz_cli_json.c — the CLI's JSON reading (src/cli/json.c): the strict validator, the
 * tokenizer, key lookups, string decoding and the value/text/base64 item fields that import
 * and set --file read from user files.
 */
#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    char why[256];
    bool valid = json_valid(text, size, why, sizeof why);
    jdoc d;
    memset(&d, 0, sizeof d);
    int rc = jdoc_parse(&d, text, size, why, sizeof why);
    if (rc == 0 && !valid) abort();
    if (rc == 0) {
        for (int t = 0; t < d.count; t++) {
            if (jdoc_skip(&d, t) <= t || jdoc_skip(&d, t) > d.count) abort();
            size_t n;
            const char *raw = jdoc_raw(&d, t, &n);
            if (!raw && n) abort();
            char *s = jdoc_string(&d, t, &n);
            free(s);
            (void)jdoc_is_null(&d, t);
            if (jdoc_type(&d, t) == J_OBJECT) {
                (void)jdoc_get(&d, t, "key", true);
                pool keep;
                memset(&keep, 0, sizeof keep);
                const char *val;
                size_t vl;
                bool present;
                (void)json_get_value_fields(&d, t, (t & 1) != 0, &keep, &val, &vl, &present, why,
                                            sizeof why);
                if (present && vl && !val) abort();
                pool_free(&keep);
            }
        }
        jdoc_free(&d);
    }
    size_t bl;
    bool bad;
    char *b = base64_decode(text, size, &bl, &bad);
    free(b);
    (void)utf8_valid(text, size);
    free(text);
    return 0;
}

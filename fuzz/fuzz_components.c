/*
 * fuzz_components.c — Dapr component YAML (src/components: ss_components_parse). Every
 * accepted component must be fully formed (name, driver, property names), and every rejected
 * file must say why. envRef / secretKeyRef values resolve from the environment, so the harness
 * sets a couple of variables the seeds refer to.
 */
#include "components/components.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("FUZZ_SECRET", "s3cret", 1);
    setenv("FUZZ_EMPTY", "", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    ss_component_list list = {0};
    ss_error err;
    memset(&err, 0, sizeof err);
    ss_code rc = ss_components_parse(&list, text, size, "fuzz.yaml", &err);
    if (rc == SS_OK) {
        for (size_t i = 0; i < list.count; i++) {
            const ss_component *c = &list.items[i];
            if (!c->name || !c->driver) abort();
            for (size_t p = 0; p < c->property_count; p++) {
                if (!c->properties[p].name || !c->properties[p].value) abort();
                if (ss_component_prop(c, c->properties[p].name) == NULL) abort();
            }
            for (size_t s = 0; s < c->scope_count; s++)
                if (!c->scopes[s]) abort();
        }
    } else {
        if (list.count != 0 && list.items == NULL) abort();
        if (!err.message[0] || !memchr(err.message, '\0', sizeof err.message)) abort();
    }
    ss_component_list_free(&list);
    free(text);
    return 0;
}

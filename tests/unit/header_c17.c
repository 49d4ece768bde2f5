/* Compiles statestore.h alone as strict C17 (-pedantic-errors) and uses a little of it. */
#include <statestore.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    ss_error err = {0};
    ss_store *s = NULL;
    ss_config cfg = {.driver = "memory"};
    if (ss_open(&s, &cfg, &err) != SS_OK) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    ss_set_request set = {.key = "k", .value = "v", .value_len = 1};
    ss_get_request get = {.key = "k"};
    ss_value *v = NULL;
    int bad = ss_set(NULL, s, &set, &err) != SS_OK || ss_get(&v, s, &get, &err) != SS_OK || !v ||
              strcmp(v->data, "v") != 0 || strcmp(ss_version(), SS_VERSION_STRING) != 0;
    ss_value_free(v);
    ss_close(s);
    if (bad) {
        fprintf(stderr, "header_c17: round trip failed: %s\n", err.message);
        return 1;
    }
    printf("header_c17: ok\n");
    return 0;
}

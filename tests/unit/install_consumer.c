#include <statestore.h>
#include <stdio.h>
int main(void)
{
    ss_store *s;
    ss_error err;
    ss_config cfg = {.driver = "memory"};
    if (ss_open(&s, &cfg, &err) != SS_OK) return 1;
    ss_set_request set = {.key = "k", .value = "v", .value_len = 1};
    char *etag = NULL;
    if (ss_set(&etag, s, &set, &err) != SS_OK) return 2;
    ss_value *v = NULL;
    ss_get(&v, s, &(ss_get_request){.key = "k"}, &err);
    printf("%s %s\n", v ? v->data : "?", etag ? "etag" : "none");
    ss_value_free(v);
    ss_free(etag);
    ss_close(s);
    return 0;
}

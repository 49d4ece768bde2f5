// Compiles statestore.h alone as C++ (-pedantic-errors) and links against the C library.
#include <statestore.h>

#include <cstdio>
#include <cstring>

int main()
{
    ss_error err{};
    ss_store *s = nullptr;
    ss_config cfg{};
    cfg.driver = "memory";
    if (ss_open(&s, &cfg, &err) != SS_OK) {
        std::fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    ss_set_request set{};
    set.key = "k";
    set.value = "v";
    set.value_len = 1;
    ss_get_request get{};
    get.key = "k";
    ss_value *v = nullptr;
    bool bad = ss_set(nullptr, s, &set, &err) != SS_OK || ss_get(&v, s, &get, &err) != SS_OK ||
               !v || std::strcmp(v->data, "v") != 0 || ss_code_http_status(SS_ETAG_MISMATCH) != 409;
    ss_value_free(v);
    ss_close(s);
    if (bad) {
        std::fprintf(stderr, "header_cpp: round trip failed: %s\n", err.message);
        return 1;
    }
    std::printf("header_cpp: ok\n");
    return 0;
}

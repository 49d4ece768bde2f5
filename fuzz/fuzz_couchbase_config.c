/*
 * fuzz_couchbase_config.c — the couchbase driver's cluster config parser
 * (src/stores/couchbase/config.c): any input is a config whose every vBucket entry names a
 * server in its list (or -1), or NULL with a reason; never a crash.
 */
#include "stores/couchbase/couchbase_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[160];
    why[0] = 0;
    cb_config *c = cb_config_parse((const char *)data, size, "fuzz.host", why, sizeof why);
    if (!c) {
        if (!why[0]) abort();
        return 0;
    }
    if (!c->nservers || !c->nvbuckets || !c->ncopies) abort();
    for (size_t v = 0; v < c->nvbuckets; v++)
        for (size_t k = 0; k < c->ncopies; k++) {
            int s = cb_config_server(c, (uint16_t)v, k);
            if (s < -1 || s >= (int)c->nservers) abort();
        }
    for (size_t i = 0; i < c->nservers; i++)
        if (!c->servers[i].host[0] || c->servers[i].port <= 0) abort();
    cb_config_free(c);
    return 0;
}

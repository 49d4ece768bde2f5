/*
 * The check helpers the driver tests in tests/stores share: a failure counter, a CHECK that
 * counts a failed condition and prints where it failed with a printf-style message, and the
 * summary line and exit status at the end of main(); a plain set for the drivers' own tests.
 */
#ifndef SS_TESTS_STORE_CHECK_H
#define SS_TESTS_STORE_CHECK_H

#include <stdio.h>
#include <string.h>

#include "statestore.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

/* Prints how many checks failed under `name` and returns main()'s exit status (0 or 1). */
static inline int check_summary(const char *name)
{
    if (failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

/* ss_set of a text value with an optional ETag, concurrency mode and ttlInSeconds (NULL: none). */
static inline ss_code set_kv(ss_store *s, const char *key, const char *val, const char *etag,
                             const char *concurrency, const char *ttl, char **etag_out,
                             ss_error *err)
{
    ss_pair meta[] = {{"ttlInSeconds", ttl}};
    ss_set_request r = {.key = key,
                        .value = val,
                        .value_len = strlen(val),
                        .etag = etag,
                        .metadata = ttl ? meta : NULL,
                        .metadata_count = ttl ? 1 : 0};
    r.options.concurrency = concurrency;
    return ss_set(etag_out, s, &r, err);
}

#endif

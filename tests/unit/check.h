/* check.h — the unit tests' assertions: print where and what, count failures, never abort. */
#ifndef SS_UNIT_CHECK_H
#define SS_UNIT_CHECK_H

#include <stdio.h>
#include <string.h>

#include <statestore.h>

static int check_failures;

static inline const char *check_msg(const ss_error *e)
{
    return e ? e->message : "";
}

static int check_count;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!(cond)) {                                                                             \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

/* Checks a call's code and prints the error message when it differs. */
#define CHECK_RC(call, want, errp)                                                                 \
    do {                                                                                           \
        check_count++;                                                                             \
        ss_code got_ = (call);                                                                     \
        if (got_ != (want)) {                                                                      \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: %s returned %s, want %s (message: %s)\n", __FILE__, __LINE__,  \
                    #call, ss_code_name(got_), ss_code_name(want), check_msg(errp));               \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        check_count++;                                                                             \
        const char *g_ = (got), *w_ = (want);                                                      \
        if (!g_ || !w_ || strcmp(g_, w_) != 0) {                                                   \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n", __FILE__, __LINE__, #got,        \
                    g_ ? g_ : "(null)", w_ ? w_ : "(null)");                                       \
        }                                                                                          \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        check_count++;                                                                             \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_)) {                                                              \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,         \
                    h_ ? h_ : "(null)", n_);                                                       \
        }                                                                                          \
    } while (0)

static inline int check_done(const char *name)
{
    if (check_failures) {
        fprintf(stderr, "%s: %d of %d checks FAILED\n", name, check_failures, check_count);
        return 1;
    }
    printf("%s: all %d checks passed\n", name, check_count);
    return 0;
}

#endif

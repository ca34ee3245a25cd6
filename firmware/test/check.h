/*
 * Minimal assertion helpers for the host unit tests. Each test program prints
 * "<file>: N passed, M failed" and exits non-zero when anything failed (or nothing ran).
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed;
static int check_failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            check_passed++;                                                          \
        } else {                                                                     \
            check_failed++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_INT(actual, expected)                                                          \
    do {                                                                                     \
        long long a_ = (long long)(actual), e_ = (long long)(expected);                      \
        if (a_ == e_) {                                                                      \
            check_passed++;                                                                  \
        } else {                                                                             \
            check_failed++;                                                                  \
            fprintf(stderr, "%s:%d: CHECK_INT failed: %s == %lld, expected %lld\n", __FILE__, \
                    __LINE__, #actual, a_, e_);                                              \
        }                                                                                    \
    } while (0)

#define CHECK_STR(actual, expected)                                                              \
    do {                                                                                         \
        const char *a_ = (actual), *e_ = (expected);                                             \
        if (a_ != NULL && e_ != NULL && strcmp(a_, e_) == 0) {                                   \
            check_passed++;                                                                      \
        } else {                                                                                 \
            check_failed++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s == \"%s\", expected \"%s\"\n", __FILE__, \
                    __LINE__, #actual, a_ ? a_ : "(null)", e_ ? e_ : "(null)");                  \
        }                                                                                        \
    } while (0)

/* err must mention text (so refusals say what is allowed). */
#define CHECK_CONTAINS(haystack, needle) CHECK(strstr((haystack), (needle)) != NULL)

static inline int check_report(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    if (check_passed == 0) {
        fprintf(stderr, "%s: no checks ran\n", name);
        return 1;
    }
    return check_failed ? 1 : 0;
}

#endif /* CHECK_H */

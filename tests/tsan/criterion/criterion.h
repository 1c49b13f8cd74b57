/*
 * tests/tsan/criterion/criterion.h: a stand-in for Criterion's header, used
 * only by `make tsan`.
 *
 * Why: Criterion's runner cannot start under ThreadSanitizer (its BoxFort
 * sandbox maps a shared arena at random fixed addresses in the range TSan
 * reserves: "Could not initialize inheritable arena", Criterion issue #274).
 * So that `make tsan` runs the very same test files, this header provides
 * the part of Criterion's API the suite uses, and tests/tsan/runner.c runs
 * each test in a forked child as Criterion does.  A test file that uses
 * more of Criterion fails to compile under `make tsan`: add it here.
 *
 * Registration: each Test() and TestSuite() adds itself to a list from a
 * constructor, before main() runs.  A failing assertion prints where and
 * why; cr_assert* ends the test, cr_expect* marks it failed and goes on.
 */
#ifndef STRATA_TSAN_CRITERION_H
#define STRATA_TSAN_CRITERION_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tsan_test {
    const char *suite, *name;
    void (*fn)(void);
    struct tsan_test *next;
};

struct tsan_suite {
    const char *name;
    void (*init)(void);
    void (*fini)(void);
    struct tsan_suite *next;
};

void tsan_register_test(struct tsan_test *t);
void tsan_register_suite(struct tsan_suite *s);
/* No format attribute: an assertion without a message passes "" as its
 * format, which -Wformat-zero-length would refuse.  The Criterion build
 * checks the formats of the same calls. */
void tsan_fail(const char *file, int line, int fatal, const char *cond, const char *fmt, ...);
/* A failed cr_assert ends the test (the compiler must know, or it warns
 * about variables a later line reads). */
void tsan_fail_fatal(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn));

#define TestSuite(suite, ...)                                                      \
    static struct tsan_suite tsan_suite_##suite = { .name = #suite, __VA_ARGS__ }; \
    __attribute__((constructor)) static void tsan_add_suite_##suite(void)          \
    {                                                                              \
        tsan_register_suite(&tsan_suite_##suite);                                  \
    }

#define Test(suite, name, ...)                                                     \
    static void suite##_##name##_body(void);                                       \
    static struct tsan_test tsan_test_##suite##_##name = { #suite, #name,          \
                                                          suite##_##name##_body, 0 }; \
    __attribute__((constructor)) static void tsan_add_##suite##_##name(void)       \
    {                                                                              \
        tsan_register_test(&tsan_test_##suite##_##name);                           \
    }                                                                              \
    static void suite##_##name##_body(void)

/* The message arguments are optional, as in Criterion; "" keeps the format
 * a literal when they are absent. */
#define cr_assert(cond, ...) \
    do { if (!(cond)) tsan_fail_fatal(__FILE__, __LINE__, #cond, "" __VA_ARGS__); } while (0)
#define cr_expect(cond, ...) \
    do { if (!(cond)) tsan_fail(__FILE__, __LINE__, 0, #cond, "" __VA_ARGS__); } while (0)
#define cr_assert_fail(...) tsan_fail_fatal(__FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)

#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_null(a, ...) cr_assert((a) == NULL, __VA_ARGS__)
#define cr_assert_not_null(a, ...) cr_assert((a) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...) cr_assert(strcmp((a), (b)) != 0, __VA_ARGS__)

#define cr_expect_eq(a, b, ...) cr_expect((a) == (b), __VA_ARGS__)
#define cr_expect_neq(a, b, ...) cr_expect((a) != (b), __VA_ARGS__)
#define cr_expect_lt(a, b, ...) cr_expect((a) < (b), __VA_ARGS__)
#define cr_expect_leq(a, b, ...) cr_expect((a) <= (b), __VA_ARGS__)
#define cr_expect_gt(a, b, ...) cr_expect((a) > (b), __VA_ARGS__)
#define cr_expect_geq(a, b, ...) cr_expect((a) >= (b), __VA_ARGS__)
#define cr_expect_null(a, ...) cr_expect((a) == NULL, __VA_ARGS__)
#define cr_expect_not_null(a, ...) cr_expect((a) != NULL, __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...) cr_expect(strcmp((a), (b)) == 0, __VA_ARGS__)

#define cr_log_info(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))

#endif

/*
 * test_status.c: the thread-local error message behind strata_last_error():
 * formatting, wrapping the previous message, constant messages, errno
 * messages, truncation of long messages, and one message per thread.
 * Deterministic.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "src/status.h"
#include "strata.h"

Test(status, empty_before_any_failure)
{
    /* Each Criterion test runs in a fresh process. */
    cr_assert_not_null(strata_last_error());
    cr_assert_str_eq(strata_last_error(), "");
}

Test(status, set_formats_and_returns_the_code)
{
    int rc = status_set(STRATA_IO_ERROR, "write of %d bytes to %s at offset %llu", 42, "/x/000001.log",
                        1234ULL);
    cr_assert_eq(rc, STRATA_IO_ERROR);
    cr_assert_str_eq(strata_last_error(), "write of 42 bytes to /x/000001.log at offset 1234");
    cr_assert_eq(status_set(STRATA_CORRUPTION, "plain"), STRATA_CORRUPTION);
    cr_assert_str_eq(strata_last_error(), "plain");
}

Test(status, set_can_wrap_the_previous_message)
{
    status_set(STRATA_IO_ERROR, "inner %s", "cause");
    int rc = status_set(STRATA_CORRUPTION, "outer: %s", strata_last_error());
    cr_assert_eq(rc, STRATA_CORRUPTION);
    cr_assert_str_eq(strata_last_error(), "outer: inner cause");
    /* Wrapping several times, with the argument also at the front. */
    status_set(STRATA_IO_ERROR, "%s (again)", strata_last_error());
    cr_assert_str_eq(strata_last_error(), "outer: inner cause (again)");
    status_set(STRATA_IO_ERROR, "[%s] [%s]", strata_last_error(), strata_last_error());
    cr_assert_str_eq(strata_last_error(), "[outer: inner cause (again)] [outer: inner cause (again)]");
}

Test(status, wrapping_a_const_message)
{
    status_set_const(STRATA_NOT_FOUND, "key not found");
    status_set(STRATA_IO_ERROR, "while reading: %s", strata_last_error());
    cr_assert_str_eq(strata_last_error(), "while reading: key not found");
}

Test(status, set_const_keeps_the_pointer)
{
    static const char msg[] = "a constant message";
    int rc = status_set_const(STRATA_NOT_FOUND, msg);
    cr_assert_eq(rc, STRATA_NOT_FOUND);
    cr_assert_eq(strata_last_error(), msg);
    /* A formatted message replaces it, and a const one replaces that. */
    status_set(STRATA_IO_ERROR, "formatted %d", 7);
    cr_assert_str_eq(strata_last_error(), "formatted 7");
    status_set_const(STRATA_BUSY, "busy now");
    cr_assert_str_eq(strata_last_error(), "busy now");
    status_set(STRATA_IO_ERROR, "formatted %d", 8);
    cr_assert_str_eq(strata_last_error(), "formatted 8");
}

Test(status, set_errno_appends_the_reason)
{
    int rc = status_set_errno(STRATA_IO_ERROR, ENOSPC, "write %s", "/d/f");
    cr_assert_eq(rc, STRATA_IO_ERROR);
    char want[256];
    snprintf(want, sizeof want, "write /d/f: %s", strerror(ENOSPC));
    cr_assert_str_eq(strata_last_error(), want);
    cr_assert_eq(status_from_errno(ENOMEM), STRATA_NO_MEMORY);
    cr_assert_eq(status_from_errno(EIO), STRATA_IO_ERROR);
    cr_assert_eq(status_from_errno(ENOSPC), STRATA_IO_ERROR);
}

Test(status, long_messages_are_cut_not_overflowed)
{
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    status_set(STRATA_IO_ERROR, "%s", big);
    size_t n = strlen(strata_last_error());
    cr_assert_gt(n, 500);
    cr_assert_lt(n, sizeof big - 1);
    /* Wrapping a full-length message. */
    status_set(STRATA_IO_ERROR, "wrap: %s", strata_last_error());
    cr_assert_eq(strncmp(strata_last_error(), "wrap: xxx", 9), 0);
    cr_assert_eq(strlen(strata_last_error()), n);
    status_set_errno(STRATA_IO_ERROR, EIO, "%s", big);
    cr_assert_leq(strlen(strata_last_error()), n);
}

Test(status, strerror_names_every_code)
{
    static const struct {
        int code;
        const char *name;
    } codes[] = {
        { STRATA_OK, "ok" },
        { STRATA_NOT_FOUND, "not found" },
        { STRATA_CORRUPTION, "corruption" },
        { STRATA_IO_ERROR, "I/O error" },
        { STRATA_INVALID_ARGUMENT, "invalid argument" },
        { STRATA_NOT_SUPPORTED, "not supported" },
        { STRATA_BUSY, "busy" },
        { STRATA_NO_MEMORY, "out of memory" },
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        cr_assert_not_null(strata_strerror(codes[i].code));
        cr_assert_str_eq(strata_strerror(codes[i].code), codes[i].name);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(strata_strerror(codes[i].code), strata_strerror(codes[j].code));
    }
    cr_assert_not_null(strata_strerror(1));
    cr_assert_not_null(strata_strerror(-8));
    cr_assert_not_null(strata_strerror(-1000000));
    cr_assert_str_eq(strata_strerror(12345), "unknown status");
}

/* ---- one message per thread ------------------------------------------------------ */

struct thread_arg {
    int id;
    pthread_barrier_t *barrier;
    int ok;
    char seen[64];
    char seen_after[64];
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    /* A fresh thread starts with no message, whatever the others did. */
    int empty = strata_last_error()[0] == '\0';
    status_set(STRATA_IO_ERROR, "thread %d message", a->id);
    pthread_barrier_wait(a->barrier); /* both have set theirs */
    snprintf(a->seen, sizeof a->seen, "%s", strata_last_error());
    pthread_barrier_wait(a->barrier); /* both have read theirs */
    if (a->id == 0)
        status_set_const(STRATA_BUSY, "thread 0 const");
    pthread_barrier_wait(a->barrier);
    snprintf(a->seen_after, sizeof a->seen_after, "%s", strata_last_error());
    a->ok = empty;
    return NULL;
}

Test(status, messages_are_thread_local)
{
    status_set(STRATA_CORRUPTION, "main thread message");
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    struct thread_arg args[2] = { { .id = 0, .barrier = &barrier }, { .id = 1, .barrier = &barrier } };
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, thread_main, &args[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < 2; i++) {
        char want[64];
        snprintf(want, sizeof want, "thread %d message", i);
        cr_expect(args[i].ok, "thread %d did not start with an empty message", i);
        cr_expect_str_eq(args[i].seen, want);
    }
    cr_expect_str_eq(args[0].seen_after, "thread 0 const");
    cr_expect_str_eq(args[1].seen_after, "thread 1 message");
    cr_expect_str_eq(strata_last_error(), "main thread message");
}

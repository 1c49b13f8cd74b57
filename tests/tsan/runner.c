/*
 * tests/tsan/runner.c: runs the test suite under ThreadSanitizer, where
 * Criterion's own runner cannot start (see criterion/criterion.h here).
 *
 * Each test runs in a forked child, as under Criterion, so a crash or an
 * exit() in one test cannot take the others along; two run at a time (the
 * machines have two cores).  A test fails when its child exits non-zero or
 * is killed (TSan exits with 66 after a report).  The last line is
 * "N passed, N failed".  --filter=GLOB selects tests by "suite/name", as
 * Criterion's does; other Criterion flags are accepted and ignored.
 */
#include <criterion/criterion.h>

#include <fnmatch.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

enum { JOBS = 2 };

static struct tsan_test *tests;
static struct tsan_suite *suites;
static int failed_expectation;

void tsan_register_test(struct tsan_test *t)
{
    t->next = tests;
    tests = t;
}

void tsan_register_suite(struct tsan_suite *s)
{
    s->next = suites;
    suites = s;
}

void tsan_fail(const char *file, int line, int fatal, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: assertion failed: %s: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    failed_expectation = 1;
    if (fatal)
        exit(1);
}

void tsan_fail_fatal(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: assertion failed: %s: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void run_in_child(const struct tsan_test *t)
{
    const struct tsan_suite *s = suites;
    while (s && strcmp(s->name, t->suite) != 0)
        s = s->next;
    if (s && s->init)
        s->init();
    t->fn();
    if (s && s->fini)
        s->fini();
    exit(failed_expectation);
}

struct running {
    pid_t pid;
    const struct tsan_test *test;
};

/* Wait for one child of the slots; report it and free its slot. */
static int reap(struct running *slots, int *n)
{
    int status;
    pid_t pid = wait(&status);
    for (int i = 0; i < *n; i++) {
        if (slots[i].pid != pid)
            continue;
        int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        printf("[%s] %s/%s\n", ok ? "PASS" : "FAIL", slots[i].test->suite, slots[i].test->name);
        fflush(stdout);
        slots[i] = slots[--*n];
        return ok;
    }
    return 1;
}

static int selected(const struct tsan_test *t, const char *filter)
{
    char full[256];
    snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
    return !filter || fnmatch(filter, full, 0) == 0;
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "--filter=", 9))
            filter = argv[i] + 9;
    struct running slots[JOBS];
    int running = 0, passed = 0, failed = 0;
    for (const struct tsan_test *t = tests; t; t = t->next) {
        if (!selected(t, filter))
            continue;
        if (running == JOBS)
            reap(slots, &running) ? passed++ : failed++;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0)
            run_in_child(t);
        slots[running++] = (struct running){ pid, t };
    }
    while (running > 0)
        reap(slots, &running) ? passed++ : failed++;
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}

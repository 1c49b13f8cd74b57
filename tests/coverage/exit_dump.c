/*
 * exit_dump.c: linked into the test binary of `make coverage` only, which
 * is linked with -Wl,--wrap=_exit (Makefile, section "coverage").
 *
 * Several tests run their database work in a process they fork, which ends
 * with _exit() so that it does not run Criterion's exit handlers in the
 * copy of the test process (tests/test_fault.c, test_damage.c, test_api.c,
 * ...).  _exit() also skips the exit handler through which gcov writes a
 * process's counters, so whatever those children alone executed would show
 * as never run.  With the wrap, every _exit() call of the test code lands
 * here: the counters are written (merged into the .gcda files under gcov's
 * file lock), then the process exits for real.  A child killed by a signal
 * (the crash tests' victims) still loses its counts; nothing can save them.
 */
#include <stdnoreturn.h>

/* libgcov's, linked in by --coverage. */
void __gcov_dump(void);

/* The linker sends the test code's calls of _exit here, and calls of
 * __real__exit to the C library's _exit. */
noreturn void __real__exit(int status);
noreturn void __wrap__exit(int status);

noreturn void __wrap__exit(int status)
{
    __gcov_dump();
    __real__exit(status);
}

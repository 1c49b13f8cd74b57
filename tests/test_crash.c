/*
 * test_crash.c: process crashes at random moments.
 *
 * A forked child opens the database and writes: puts of key p<i> with a
 * value derived from i, deletes of an earlier put, and batches that set four
 * shared keys grp-0..3 to the same tag b<i> and create three keys b<i>-0..2.
 * After each write returns STRATA_OK the child sends the operation's id to
 * the parent through a pipe.  The parent collects acknowledgements for a
 * random 50-300 ms (10-100 ms without sync), kills the child with SIGKILL, reopens the database and
 * checks:
 *   - every acknowledged write is there (and every acknowledged delete);
 *   - the one operation in flight (the one after the last acknowledged) is
 *     there entirely or not at all; what recovery decided for it holds in
 *     every later cycle;
 *   - no operation that never started is there, and nothing else is;
 *   - no batch is half-applied: grp-0..3 always carry the same tag, the tag
 *     of the last applied batch.
 * Several cycles run on the same directory, each continuing the sequence of
 * operations.  With sync on, and with sync off (a process crash loses
 * nothing acknowledged either: the data is in the kernel's page cache).
 * The seed (for the kill times) is printed.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "strata.h"
#include "tests/testutil.h"

static char *dir;
static char *dbpath;

static void setup(void)
{
    dir = tu_mkdtemp("crash");
    cr_assert_not_null(dir);
    dbpath = tu_join(dir, "db");
}

static void teardown(void)
{
    if (dir)
        tu_rmrf(dir);
    free(dir);
    free(dbpath);
}

TestSuite(crash, .init = setup, .fini = teardown);

enum { MAX_OPS = 120000, OPS_PER_CYCLE = 20000, GROUP = 4, BATCH_KEYS = 3 };

enum op_kind { OP_PUT, OP_DELETE, OP_BATCH };

static enum op_kind kind_of(uint64_t i)
{
    switch (i % 8) {
    case 0: return OP_BATCH;
    case 5: return OP_DELETE; /* deletes p<i-3>, a put (i-3 = 2 mod 8) */
    default: return OP_PUT;
    }
}

static size_t put_key(char *buf, uint64_t i)
{
    return tu_key(buf, 32, "p", i);
}

static size_t put_value(char *buf, uint64_t i)
{
    size_t len = 10 + i % 50;
    tu_value(buf, len, i, 0);
    return len;
}

static size_t batch_key(char *buf, uint64_t i, int j)
{
    int n = snprintf(buf, 32, "b%08llu-%d", (unsigned long long)i, j);
    return (size_t)n;
}

static size_t tag_of(char *buf, uint64_t i)
{
    return (size_t)snprintf(buf, 32, "b%08llu", (unsigned long long)i);
}

/* ---- the child ---------------------------------------------------------------------------- */

static void child_fail(const char *what)
{
    fprintf(stderr, "crash child: %s: %s\n", what, strata_last_error());
    _exit(2);
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(3);
        c += w;
        n -= (size_t)w;
    }
}

static void child_main(int ackfd, uint64_t first, uint64_t last, int sync)
{
    strata_db *db;
    if (strata_open(dbpath, NULL, &db) != STRATA_OK)
        child_fail("open");
    strata_write_options *wo = strata_write_options_new();
    strata_write_options_set_sync(wo, sync);
    strata_batch *b = strata_batch_new();
    char k[32], v[64];
    for (uint64_t i = first; i <= last; i++) {
        int rc;
        switch (kind_of(i)) {
        case OP_PUT: {
            size_t kl = put_key(k, i), vl = put_value(v, i);
            rc = strata_put(db, wo, k, kl, v, vl);
            break;
        }
        case OP_DELETE: {
            size_t kl = put_key(k, i - 3);
            rc = strata_delete(db, wo, k, kl);
            break;
        }
        default: {
            strata_batch_clear(b);
            size_t tl = tag_of(v, i);
            for (int j = 0; j < GROUP; j++) {
                int kl = snprintf(k, sizeof k, "grp-%d", j);
                strata_batch_put(b, k, (size_t)kl, v, tl);
            }
            for (int j = 0; j < BATCH_KEYS; j++) {
                size_t kl = batch_key(k, i, j);
                strata_batch_put(b, k, kl, v, tl);
            }
            rc = strata_write(db, wo, b);
            break;
        }
        }
        if (rc != STRATA_OK)
            child_fail("write");
        write_all(ackfd, &i, sizeof i);
    }
    /* Out of operations: wait to be killed. */
    for (;;)
        pause();
}

/* ---- the parent's bookkeeping ------------------------------------------------------------------ */

enum op_state { NOT_STARTED = 0, ACKED, IN_FLIGHT, APPLIED, NOT_APPLIED };

struct history {
    unsigned char state[MAX_OPS + 16];
    uint64_t next; /* the next operation to run */
};

/* Whether op i is known to have happened (1), known not (0), or unknown (-1). */
static int happened(const struct history *h, uint64_t i)
{
    switch (h->state[i]) {
    case ACKED:
    case APPLIED: return 1;
    case IN_FLIGHT: return -1;
    default: return 0;
    }
}

static int get(strata_db *db, const char *k, size_t kl, char *out, size_t *outlen)
{
    void *v;
    size_t vl;
    int rc = strata_get(db, NULL, k, kl, &v, &vl);
    if (rc == STRATA_OK) {
        cr_assert_lt(vl, 64);
        memcpy(out, v, vl);
        *outlen = vl;
        strata_free(v);
        return 1;
    }
    cr_assert_eq(rc, STRATA_NOT_FOUND, "get: %s", strata_last_error());
    return 0;
}

/* Check the reopened database against the history, and settle the
 * operations that were in flight. */
static void verify(strata_db *db, struct history *h, int cycle)
{
    char k[32], v[64], want[64];
    size_t vl;
    uint64_t expected_keys = 0, last_batch_done = 0;
    int last_batch_unknown = 0;
    for (uint64_t i = 1; i < h->next; i++) {
        int did = happened(h, i);
        switch (kind_of(i)) {
        case OP_PUT: {
            size_t kl = put_key(k, i);
            int present = get(db, k, kl, v, &vl);
            /* Deleted later for sure / maybe? */
            int del = kind_of(i + 3) == OP_DELETE && i + 3 < h->next ? happened(h, i + 3) : 0;
            if (present) {
                size_t wl = put_value(want, i);
                cr_assert(vl == wl && memcmp(v, want, wl) == 0, "cycle %d: p%llu has a wrong value",
                          cycle, (unsigned long long)i);
                expected_keys++;
            }
            if (del == 1) {
                cr_assert(!present, "cycle %d: p%llu is back although its delete (op %llu) was %s", cycle,
                          (unsigned long long)i, (unsigned long long)(i + 3),
                          h->state[i + 3] == ACKED ? "acknowledged" : "recovered before");
            } else if (did == 1 && del == 0) {
                cr_assert(present, "cycle %d: acknowledged put p%llu is lost", cycle,
                          (unsigned long long)i);
            } else if (did == 0) {
                cr_assert(!present, "cycle %d: p%llu is there but its put never %s", cycle,
                          (unsigned long long)i, h->state[i] == NOT_STARTED ? "started" : "applied");
            }
            /* Settle an in-flight put when its delete cannot hide it. */
            if (did == -1 && del == 0)
                h->state[i] = present ? APPLIED : NOT_APPLIED;
            break;
        }
        case OP_DELETE:
            if (did == -1) {
                /* Settled by looking at its key, unless the put never happened. */
                size_t kl = put_key(k, i - 3);
                int present = get(db, k, kl, v, &vl);
                if (happened(h, i - 3) == 1)
                    h->state[i] = present ? NOT_APPLIED : APPLIED;
            }
            break;
        case OP_BATCH: {
            int n = 0;
            for (int j = 0; j < BATCH_KEYS; j++) {
                size_t kl = batch_key(k, i, j);
                if (get(db, k, kl, v, &vl)) {
                    size_t tl = tag_of(want, i);
                    cr_assert(vl == tl && memcmp(v, want, tl) == 0);
                    n++;
                }
            }
            expected_keys += (uint64_t)n;
            cr_assert(n == 0 || n == BATCH_KEYS, "cycle %d: batch %llu half-applied: %d of %d keys",
                      cycle, (unsigned long long)i, n, BATCH_KEYS);
            if (did == 1)
                cr_assert_eq(n, BATCH_KEYS, "cycle %d: acknowledged batch %llu is lost", cycle,
                             (unsigned long long)i);
            if (did == 0)
                cr_assert_eq(n, 0, "cycle %d: batch %llu is there but never %s", cycle,
                             (unsigned long long)i,
                             h->state[i] == NOT_STARTED ? "started" : "applied");
            if (did == -1)
                h->state[i] = n ? APPLIED : NOT_APPLIED;
            if (n) {
                last_batch_done = i;
                last_batch_unknown = 0;
            }
            break;
        }
        }
    }
    (void)last_batch_unknown;
    /* The shared group: all four keys carry the tag of the last applied batch. */
    for (int j = 0; j < GROUP; j++) {
        int kl = snprintf(k, sizeof k, "grp-%d", j);
        int present = get(db, k, (size_t)kl, v, &vl);
        if (!last_batch_done) {
            cr_assert(!present, "cycle %d: grp-%d is set but no batch was applied", cycle, j);
            continue;
        }
        expected_keys++;
        size_t tl = tag_of(want, last_batch_done);
        cr_assert(present && vl == tl && memcmp(v, want, tl) == 0,
                  "cycle %d: grp-%d is '%.*s', expected the last batch's tag %s (a batch half-applied?)",
                  cycle, j, present ? (int)vl : 4, present ? v : "none", want);
    }
    /* Nothing else in the database. */
    strata_iter *it = strata_iter_new(db, NULL);
    uint64_t n = 0;
    for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it))
        n++;
    cr_assert_eq(strata_iter_status(it), STRATA_OK);
    strata_iter_free(it);
    cr_assert_eq(n, expected_keys, "cycle %d: %llu keys in the database, expected %llu", cycle,
                 (unsigned long long)n, (unsigned long long)expected_keys);
}

/* One cycle: run a child, kill it after ms milliseconds, collect its acks. */
static uint64_t run_child(struct history *h, int sync, unsigned ms, int cycle)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    uint64_t first = h->next, last = h->next + OPS_PER_CYCLE - 1;
    cr_assert_lt(last, (uint64_t)MAX_OPS);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        child_main(fds[1], first, last, sync);
    }
    close(fds[1]);
    uint64_t expect = first, acks = 0;
    /* The kill window starts at the first acknowledgement: a slow start
     * (a sanitizer build on a busy machine, an open that flushes what the
     * last cycle left) must not leave a cycle without writes.  A child
     * that never acknowledges is killed after 10 s. */
    uint64_t deadline = tu_now_ms() + 10000;
    int killed = 0, eof = 0;
    char buf[8 * 512];
    size_t have = 0;
    while (!eof) {
        if (!killed && tu_now_ms() >= deadline) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        struct pollfd p = { fds[0], POLLIN, 0 };
        int timeout = killed ? 1000 : (int)(deadline > tu_now_ms() ? deadline - tu_now_ms() : 0);
        int r = poll(&p, 1, timeout);
        if (r < 0 && errno == EINTR)
            continue;
        cr_assert_geq(r, 0);
        if (r == 0)
            continue;
        ssize_t got = read(fds[0], buf + have, sizeof buf - have);
        if (got < 0 && errno == EINTR)
            continue;
        cr_assert_geq(got, 0);
        if (got == 0) {
            eof = 1;
            break;
        }
        have += (size_t)got;
        size_t whole = have / 8 * 8;
        for (size_t off = 0; off < whole; off += 8) {
            uint64_t id;
            memcpy(&id, buf + off, 8);
            cr_assert_eq(id, expect, "acknowledgements out of order: %llu after %llu",
                         (unsigned long long)id, (unsigned long long)expect - 1);
            h->state[id] = ACKED;
            expect++;
            if (acks++ == 0 && !killed)
                deadline = tu_now_ms() + ms;
        }
        memmove(buf, buf + whole, have - whole);
        have -= whole;
    }
    cr_assert_eq(have, 0, "a torn acknowledgement in the pipe");
    close(fds[0]);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
              "cycle %d: the child ended by itself (status %#x): it failed, see its stderr", cycle, st);
    /* The op after the last acknowledged one may have been under way; the
     * rest never started.  The next cycle continues after it. */
    if (expect <= last)
        h->state[expect] = IN_FLIGHT;
    h->next = expect + 1;
    fprintf(stderr, "crash: cycle %d (sync=%d): killed after %u ms, %llu writes acknowledged\n", cycle,
            sync, ms, (unsigned long long)acks);
    return acks;
}

static void crash_cycles(int sync, int cycles)
{
    uint64_t seed = tu_clock_seed();
    fprintf(stderr, "crash/%s: seed %llu\n", sync ? "sync" : "nosync", (unsigned long long)seed);
    cr_log_info("seed %llu", (unsigned long long)seed);
    struct tu_rng r;
    tu_rng_seed(&r, seed);
    struct history *h = calloc(1, sizeof *h);
    h->next = 1;
    uint64_t total = 0;
    for (int c = 0; c < cycles; c++) {
        /* Unsynced writes are fast: a shorter window, so that the kill
         * lands in the middle of them rather than after the last. */
        unsigned ms = sync ? 50 + (unsigned)tu_rng_uniform(&r, 251) : 10 + (unsigned)tu_rng_uniform(&r, 91);
        total += run_child(h, sync, ms, c);
        strata_db *db;
        int rc = strata_open(dbpath, NULL, &db);
        cr_assert_eq(rc, STRATA_OK, "seed %llu cycle %d: reopen after the crash: %s: %s",
                     (unsigned long long)seed, c, strata_strerror(rc), strata_last_error());
        verify(db, h, c);
        cr_assert_eq(strata_close(db), STRATA_OK);
    }
    /* One clean reopen at the end: the same again. */
    strata_db *db;
    cr_assert_eq(strata_open(dbpath, NULL, &db), STRATA_OK, "%s", strata_last_error());
    verify(db, h, cycles);
    cr_assert_eq(strata_close(db), STRATA_OK);
    cr_assert_gt(total, 0, "seed %llu: no write was ever acknowledged", (unsigned long long)seed);
    free(h);
}

Test(crash, kill_during_synced_writes)
{
    crash_cycles(1, 5);
}

Test(crash, kill_during_unsynced_writes)
{
    crash_cycles(0, 5);
}

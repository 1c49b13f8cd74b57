/*
 * test_wal_mmap.c: the database on top of the mapped write-ahead log
 * (wal/log_writer.h, src/db_files.c): what a killed process leaves, and
 * what a full disk does to a put.
 *
 * A log a database is writing is reserved a chunk (1 MiB) at a time and
 * written through a shared mapping, so while it is open it ends in zeros.
 * The tests check that the file really is in that state when the process
 * dies (the new path is the one under test), that recovery with
 * paranoid_checks on reads the zeros as the end of the log and keeps every
 * acknowledged put, that sst-dump reports such a log as sound, and that a
 * grow that fails (injected ENOSPC) fails the put with a message naming the
 * log, stops later writes and leaves the database readable and reopenable.
 * Keys are k<i> (tu_key), values tu_value(i); a forked child writes and is
 * killed with SIGKILL, reporting each acknowledged put through a pipe.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/db_impl.h"
#include "src/env.h"
#include "strata.h"
#include "tests/testutil.h"
#include "tools/sst_dump_lib.h"

enum { CHUNK = 1 << 20, VLEN = 400 };

static char *dir;
static char *dbpath;

static void setup(void)
{
    dir = tu_mkdtemp("wal-mmap");
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

TestSuite(wal_mmap, .init = setup, .fini = teardown);

/* Open dbpath with paranoid_checks on (the default, set anyway: the point
 * is that a zero tail is no damage) and the given write buffer. */
static int open_db(size_t write_buffer, strata_db **db)
{
    strata_options *o = strata_options_new();
    strata_options_set_paranoid_checks(o, 1);
    if (write_buffer)
        strata_options_set_write_buffer_size(o, write_buffer);
    *db = NULL;
    int rc = strata_open(dbpath, o, db);
    strata_options_free(o);
    return rc;
}

static void put_i(strata_db *db, uint64_t i)
{
    char k[32], v[VLEN];
    size_t kl = tu_key(k, sizeof k, "k", i);
    tu_value(v, VLEN, i, 0);
    int rc = strata_put(db, NULL, k, kl, v, VLEN);
    cr_assert_eq(rc, STRATA_OK, "put %llu: %s", (unsigned long long)i, strata_last_error());
}

/* 1 when key i holds its value, 0 when it is absent. */
static int has_i(strata_db *db, uint64_t i)
{
    char k[32], want[VLEN];
    size_t kl = tu_key(k, sizeof k, "k", i);
    void *v;
    size_t vl;
    int rc = strata_get(db, NULL, k, kl, &v, &vl);
    if (rc == STRATA_NOT_FOUND)
        return 0;
    cr_assert_eq(rc, STRATA_OK, "get %s: %s", k, strata_last_error());
    tu_value(want, VLEN, i, 0);
    cr_assert(vl == VLEN && memcmp(v, want, VLEN) == 0, "%s has the wrong value", k);
    strata_free(v);
    return 1;
}

/* ---- SIGKILL --------------------------------------------------------------- */

/* The child: opens the database, says so on fd, then puts keys 0.. (no
 * sync), sending each index once its put returned; never returns. */
static void writer_child(size_t write_buffer, int fd)
{
    strata_db *db;
    uint32_t ready = UINT32_MAX;
    if (open_db(write_buffer, &db) != STRATA_OK ||
        write(fd, &ready, sizeof ready) != (ssize_t)sizeof ready)
        _exit(2);
    char k[32], v[VLEN];
    for (uint32_t i = 0; i < UINT32_MAX; i++) {
        size_t kl = tu_key(k, sizeof k, "k", i);
        tu_value(v, VLEN, i, 0);
        if (strata_put(db, NULL, k, kl, v, VLEN) != STRATA_OK)
            _exit(3);
        if (write(fd, &i, sizeof i) != (ssize_t)sizeof i)
            _exit(4);
    }
    _exit(5);
}

/* Run the writer, kill it once it acknowledged kill_after puts; the number
 * of puts it acknowledged in all. */
static uint64_t run_and_kill(size_t write_buffer, uint64_t kill_after)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        writer_child(write_buffer, fds[1]);
    }
    close(fds[1]);
    uint32_t ack;
    cr_assert_eq(read(fds[0], &ack, sizeof ack), (ssize_t)sizeof ack, "the writer did not start");
    uint64_t acked = 0;
    while (acked < kill_after && read(fds[0], &ack, sizeof ack) == (ssize_t)sizeof ack)
        acked++;
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the writer ended with %#x",
              status);
    while (read(fds[0], &ack, sizeof ack) == (ssize_t)sizeof ack)
        acked++;
    close(fds[0]);
    return acked;
}

/* sst-dump --wal --check on path: sound, with a zero tail reported (and
 * maybe a torn tail before it: the put in flight, cut by the kill). */
static void expect_dump_ok_with_zero_tail(const char *path)
{
    char *out = NULL, *err = NULL;
    size_t out_len, err_len;
    FILE *fo = open_memstream(&out, &out_len), *fe = open_memstream(&err, &err_len);
    cr_assert(fo != NULL && fe != NULL);
    char *argv[] = { (char *)"sst-dump", (char *)"--wal", (char *)"--check", (char *)path, NULL };
    int status = dump_main(4, argv, fo, fe);
    fclose(fo);
    fclose(fe);
    cr_assert_eq(status, DUMP_EXIT_OK, "sst-dump: %d\n%s%s", status, out, err);
    cr_assert_not_null(strstr(out, "check: ok\n"), "%s", out);
    cr_assert_not_null(strstr(out, "zero tail: "), "%s", out);
    cr_assert_null(strstr(out, "problem"), "%s", out);
    free(out);
    free(err);
}

/* The live log of the killed writer ends in the zeros of its chunk. */
static void expect_killed_log(void)
{
    char *log = tu_last_log(dbpath);
    cr_assert_not_null(log, "no log in %s", dbpath);
    long long size = tu_file_size(log);
    cr_assert(size > 0 && size % CHUNK == 0, "%s is %lld bytes: not a mapped log", log, size);
    cr_assert_eq(tu_get_byte(log, size - 1), 0);
    expect_dump_ok_with_zero_tail(log);
    free(log);
}

/* Every acknowledged put is there after the reopen; the one in flight may
 * be; none after it. */
static void expect_acknowledged(uint64_t acked, size_t write_buffer)
{
    strata_db *db;
    cr_assert_eq(open_db(write_buffer, &db), STRATA_OK, "reopen: %s", strata_last_error());
    for (uint64_t i = 0; i < acked; i++)
        if (!has_i(db, i))
            cr_assert_fail("acknowledged put %llu of %llu is lost", (unsigned long long)i,
                           (unsigned long long)acked);
    has_i(db, acked);
    cr_assert(!has_i(db, acked + 1), "a put that never started is there");
    cr_assert_eq(strata_close(db), STRATA_OK, "%s", strata_last_error());
}

/* Killed with puts in one log (several chunks), then with several logs,
 * the older ones closed by memtable switches: recovery keeps everything
 * acknowledged, and each reopen writes on where the last left off. */
Test(wal_mmap, kill_keeps_every_acknowledged_put)
{
    uint64_t acked = run_and_kill(0, 4000); /* 4000 puts of 400 bytes: two chunks */
    fprintf(stderr, "wal_mmap: killed after %llu acknowledged puts\n", (unsigned long long)acked);
    expect_killed_log();
    expect_acknowledged(acked, 0);

    tu_rmrf(dbpath);
    acked = run_and_kill(256 << 10, 3000);
    fprintf(stderr, "wal_mmap: killed after %llu acknowledged puts, 256 KiB memtables\n",
            (unsigned long long)acked);
    expect_killed_log();
    expect_acknowledged(acked, 256 << 10);
}

/* ---- a full disk --------------------------------------------------------- */

static void expect_error_mentions(const char *what)
{
    cr_assert_not_null(strstr(strata_last_error(), what), "\"%s\" not in \"%s\"", what,
                       strata_last_error());
}

/* A put whose record needs a new chunk when the disk is full: the grow's
 * ENOSPC fails it with a message naming the log; later writes fail too
 * (the WAL is in an unknown state until a reopen), reads keep working, and
 * a reopen has every put but the failed one. */
Test(wal_mmap, failed_grow_fails_the_put_and_stops_writes)
{
    strata_db *db;
    cr_assert_eq(open_db(0, &db), STRATA_OK, "%s", strata_last_error());
    for (uint64_t i = 0; i < 10; i++)
        put_i(db, i);
    char *log = tu_last_log(dbpath);
    cr_assert_not_null(log);
    size_t n = CHUNK + 1000; /* more than is left of the first chunk */
    char *big = malloc(n);
    cr_assert_not_null(big);
    tu_value(big, n, 1, 1);
    env_set_fault(db_env(db), 1, ENV_OP_WRITE, ENOSPC);
    int rc = strata_put(db, NULL, "big", 3, big, n);
    cr_assert_eq(rc, STRATA_IO_ERROR, "the put: %s", strata_last_error());
    expect_error_mentions(log);
    expect_error_mentions("allocate");
    expect_error_mentions(strerror(ENOSPC));
    rc = strata_put(db, NULL, "later", 5, "x", 1);
    cr_assert_eq(rc, STRATA_IO_ERROR, "a put after the failure: %s", strata_strerror(rc));
    expect_error_mentions("WAL");
    for (uint64_t i = 0; i < 10; i++)
        cr_assert(has_i(db, i), "put %llu is gone", (unsigned long long)i);
    void *v;
    size_t vl;
    cr_assert_eq(strata_get(db, NULL, "big", 3, &v, &vl), STRATA_NOT_FOUND);
    strata_close(db); /* may report the failure; the handle is freed anyway */

    cr_assert_eq(open_db(0, &db), STRATA_OK, "reopen: %s", strata_last_error());
    for (uint64_t i = 0; i < 10; i++)
        cr_assert(has_i(db, i), "put %llu is gone after the reopen", (unsigned long long)i);
    cr_assert_eq(strata_get(db, NULL, "big", 3, &v, &vl), STRATA_NOT_FOUND);
    cr_assert_eq(strata_get(db, NULL, "later", 5, &v, &vl), STRATA_NOT_FOUND);
    cr_assert_eq(strata_put(db, NULL, "big", 3, big, n), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(strata_close(db), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(open_db(0, &db), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(strata_get(db, NULL, "big", 3, &v, &vl), STRATA_OK);
    cr_assert(vl == n && memcmp(v, big, n) == 0);
    strata_free(v);
    cr_assert_eq(strata_close(db), STRATA_OK, "%s", strata_last_error());
    free(big);
    free(log);
}

/* The first chunk of a new log is reserved when the memtable switches to
 * it: a full disk then fails the put that needed the switch, naming the
 * new log, before anything is written to it; what was acknowledged stays
 * readable and survives a reopen. */
Test(wal_mmap, full_disk_at_a_new_log_fails_the_put)
{
    strata_db *db;
    cr_assert_eq(open_db(64 << 10, &db), STRATA_OK, "%s", strata_last_error());
    size_t n = 70 << 10; /* fills the memtable: the next put switches */
    char *big = malloc(n);
    cr_assert_not_null(big);
    tu_value(big, n, 2, 2);
    cr_assert_eq(strata_put(db, NULL, "big", 3, big, n), STRATA_OK, "%s", strata_last_error());
    env_set_fault(db_env(db), 1, ENV_OP_WRITE, ENOSPC);
    int rc = strata_put(db, NULL, "next", 4, "x", 1);
    cr_assert_eq(rc, STRATA_IO_ERROR, "the put: %s", strata_last_error());
    expect_error_mentions(".log");
    expect_error_mentions("allocate");
    expect_error_mentions(strerror(ENOSPC));
    void *v;
    size_t vl;
    cr_assert_eq(strata_get(db, NULL, "big", 3, &v, &vl), STRATA_OK, "%s", strata_last_error());
    strata_free(v);
    strata_close(db);
    cr_assert_eq(open_db(64 << 10, &db), STRATA_OK, "reopen: %s", strata_last_error());
    cr_assert_eq(strata_get(db, NULL, "big", 3, &v, &vl), STRATA_OK, "%s", strata_last_error());
    cr_assert(vl == n && memcmp(v, big, n) == 0);
    strata_free(v);
    cr_assert_eq(strata_get(db, NULL, "next", 4, &v, &vl), STRATA_NOT_FOUND);
    cr_assert_eq(strata_close(db), STRATA_OK, "%s", strata_last_error());
    free(big);
}

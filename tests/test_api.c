/*
 * test_api.c: every public function of strata.h with good and bad input:
 * NULL handles, NULL keys with a length, sizes over 2^32-1 (with a small
 * buffer followed by an inaccessible page, so that a check that reads
 * before rejecting faults), open and destroy in every situation the
 * contract names, with strata_last_error() naming the cause and the path;
 * round trips, batches, snapshots, properties and the version.
 * Deterministic.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/options.h"
#include "strata.h"
#include "tests/testutil.h"

static char *dir;    /* a fresh temporary directory per test */
static char *dbpath; /* dir/db */

static void setup(void)
{
    dir = tu_mkdtemp("api");
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

TestSuite(api, .init = setup, .fini = teardown);

static strata_db *open_db(const char *path)
{
    strata_db *db = NULL;
    int rc = strata_open(path, NULL, &db);
    cr_assert_eq(rc, STRATA_OK, "strata_open(%s): %s: %s", path, strata_strerror(rc),
                 strata_last_error());
    cr_assert_not_null(db);
    return db;
}

static void put_str(strata_db *db, const char *k, const char *v)
{
    int rc = strata_put(db, NULL, k, strlen(k), v, strlen(v));
    cr_assert_eq(rc, STRATA_OK, "put %s: %s", k, strata_last_error());
}

/* The value of k as a string ("" when empty), or NULL when not found. */
static char *get_str(strata_db *db, const strata_read_options *ro, const char *k)
{
    void *v = (void *)1;
    size_t vlen = 12345;
    int rc = strata_get(db, ro, k, strlen(k), &v, &vlen);
    if (rc == STRATA_NOT_FOUND)
        return NULL;
    cr_assert_eq(rc, STRATA_OK, "get %s: %s", k, strata_last_error());
    cr_assert_not_null(v);
    char *s = malloc(vlen + 1);
    memcpy(s, v, vlen);
    s[vlen] = '\0';
    strata_free(v);
    return s;
}

static void expect_value(strata_db *db, const strata_read_options *ro, const char *k, const char *want)
{
    char *got = get_str(db, ro, k);
    if (!want) {
        cr_expect_null(got, "get %s: \"%s\", expected not found", k, got ? got : "");
    } else {
        cr_expect_not_null(got, "get %s: not found, expected \"%s\"", k, want);
        if (got)
            cr_expect_str_eq(got, want, "get %s", k);
    }
    free(got);
}

/* "k1=v1,k2=v2," for the whole iteration forward, then checks backward
 * gives the same. */
static char *dump(strata_db *db, const strata_read_options *ro)
{
    strata_iter *it = strata_iter_new(db, ro);
    cr_assert_not_null(it, "%s", strata_last_error());
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it)) {
        size_t kl, vl;
        const char *k = strata_iter_key(it, &kl);
        const char *v = strata_iter_value(it, &vl);
        cr_assert_not_null(k);
        cr_assert_not_null(v);
        cr_assert_lt(n + kl + vl + 3, cap);
        n += (size_t)snprintf(out + n, cap - n, "%.*s=%.*s,", (int)kl, k, (int)vl, v);
    }
    cr_assert_eq(strata_iter_status(it), STRATA_OK);
    /* Backward, the same entries in reverse. */
    char *back = malloc(cap);
    size_t m = 0;
    back[0] = '\0';
    int count = 0;
    for (strata_iter_seek_last(it); strata_iter_valid(it); strata_iter_prev(it))
        count++;
    char **items = calloc((size_t)count + 1, sizeof *items);
    int i = count;
    for (strata_iter_seek_last(it); strata_iter_valid(it); strata_iter_prev(it)) {
        size_t kl, vl;
        const char *k = strata_iter_key(it, &kl);
        const char *v = strata_iter_value(it, &vl);
        items[--i] = malloc(kl + vl + 3);
        snprintf(items[i], kl + vl + 3, "%.*s=%.*s,", (int)kl, k, (int)vl, v);
    }
    for (i = 0; i < count; i++) {
        m += (size_t)snprintf(back + m, cap - m, "%s", items[i]);
        free(items[i]);
    }
    free(items);
    cr_assert_str_eq(back, out, "backward iteration differs from forward");
    free(back);
    strata_iter_free(it);
    return out;
}

static void expect_dump(strata_db *db, const strata_read_options *ro, const char *want)
{
    char *got = dump(db, ro);
    cr_expect_str_eq(got, want);
    free(got);
}

static void expect_error_mentions(const char *what)
{
    cr_expect_not_null(strstr(strata_last_error(), what), "strata_last_error() \"%s\" does not mention \"%s\"",
                       strata_last_error(), what);
}

/* ---- version and status names ------------------------------------------------ */

Test(api, version_matches_macros)
{
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", STRATA_VERSION_MAJOR, STRATA_VERSION_MINOR,
             STRATA_VERSION_PATCH);
    cr_assert_not_null(strata_version());
    cr_assert_str_eq(strata_version(), want);
}

Test(api, strerror_for_every_code)
{
    const int codes[] = { STRATA_OK, STRATA_NOT_FOUND, STRATA_CORRUPTION, STRATA_IO_ERROR,
                          STRATA_INVALID_ARGUMENT, STRATA_NOT_SUPPORTED, STRATA_BUSY,
                          STRATA_NO_MEMORY };
    const char *names[] = { "ok", "not found", "corruption", "I/O error", "invalid argument",
                            "not supported", "busy", "out of memory" };
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(codes[i], -i, "codes are 0..-7");
        cr_assert_str_eq(strata_strerror(codes[i]), names[i]);
    }
    cr_assert_not_null(strata_strerror(-8));
    cr_assert_not_null(strata_strerror(1));
    cr_assert_str_neq(strata_strerror(-8), "ok");
}

/* ---- NULL handles ----------------------------------------------------------------- */

Test(api, null_handles_never_crash)
{
    /* Option objects: setters and frees on NULL do nothing. */
    strata_options_free(NULL);
    strata_options_set_create_if_missing(NULL, 1);
    strata_options_set_error_if_exists(NULL, 1);
    strata_options_set_paranoid_checks(NULL, 1);
    strata_options_set_write_buffer_size(NULL, 1 << 20);
    strata_write_options_free(NULL);
    strata_write_options_set_sync(NULL, 1);
    strata_read_options_free(NULL);
    strata_read_options_set_snapshot(NULL, NULL);
    strata_read_options_set_verify_checksums(NULL, 1);
    strata_read_options_set_fill_cache(NULL, 1);
    strata_read_options_set_lower_bound(NULL, "a", 1);
    strata_read_options_set_upper_bound(NULL, "a", 1);

    /* Open, close, destroy. */
    cr_assert_eq(strata_open(dbpath, NULL, NULL), STRATA_INVALID_ARGUMENT);
    cr_assert(!tu_exists(dbpath), "a failed open must not create the directory");
    cr_assert_eq(strata_close(NULL), STRATA_INVALID_ARGUMENT);
    expect_error_mentions("NULL");
    cr_assert_eq(strata_destroy(NULL, NULL), STRATA_INVALID_ARGUMENT);

    /* Reads and writes on a NULL db. */
    void *v = NULL;
    size_t vlen = 0;
    cr_assert_eq(strata_put(NULL, NULL, "k", 1, "v", 1), STRATA_INVALID_ARGUMENT);
    expect_error_mentions("strata_put");
    cr_assert_eq(strata_delete(NULL, NULL, "k", 1), STRATA_INVALID_ARGUMENT);
    expect_error_mentions("strata_delete");
    cr_assert_eq(strata_get(NULL, NULL, "k", 1, &v, &vlen), STRATA_INVALID_ARGUMENT);
    expect_error_mentions("strata_get");
    strata_free(NULL);

    /* Batches. */
    strata_batch_put(NULL, "k", 1, "v", 1);
    strata_batch_delete(NULL, "k", 1);
    strata_batch_clear(NULL);
    cr_assert_eq(strata_batch_count(NULL), 0);
    strata_batch_free(NULL);
    strata_batch *b = strata_batch_new();
    cr_assert_not_null(b);
    strata_batch_put(b, "k", 1, "v", 1);
    cr_assert_eq(strata_write(NULL, NULL, b), STRATA_INVALID_ARGUMENT);
    expect_error_mentions("strata_write");

    /* Snapshots, iterators, properties on a NULL db. */
    cr_assert_null(strata_snapshot_new(NULL));
    expect_error_mentions("strata_snapshot_new");
    strata_snapshot_release(NULL, NULL);
    cr_assert_null(strata_iter_new(NULL, NULL));
    expect_error_mentions("strata_iter_new");
    cr_assert_null(strata_property(NULL, "strata.stats"));

    /* Iterator functions on a NULL iterator. */
    strata_iter_seek_first(NULL);
    strata_iter_seek_last(NULL);
    strata_iter_seek(NULL, "a", 1);
    strata_iter_seek_for_prev(NULL, "a", 1);
    strata_iter_next(NULL);
    strata_iter_prev(NULL);
    cr_assert_eq(strata_iter_valid(NULL), 0);
    size_t kl = 99, vl = 99;
    cr_assert_null(strata_iter_key(NULL, &kl));
    cr_assert_eq(kl, 0);
    cr_assert_null(strata_iter_value(NULL, &vl));
    cr_assert_eq(vl, 0);
    cr_assert_null(strata_iter_key(NULL, NULL));
    cr_assert_null(strata_iter_value(NULL, NULL));
    cr_assert_eq(strata_iter_status(NULL), STRATA_INVALID_ARGUMENT);
    strata_iter_free(NULL);

    /* With a real db: NULL batch, NULL out-pointers, NULL snapshot, NULL name. */
    strata_db *db = open_db(dbpath);
    cr_assert_eq(strata_write(db, NULL, NULL), STRATA_INVALID_ARGUMENT);
    expect_error_mentions("batch");
    cr_assert_eq(strata_get(db, NULL, "k", 1, NULL, &vlen), STRATA_INVALID_ARGUMENT);
    cr_assert_eq(strata_get(db, NULL, "k", 1, &v, NULL), STRATA_INVALID_ARGUMENT);
    strata_snapshot_release(db, NULL);
    cr_assert_null(strata_property(db, NULL));
    cr_assert_eq(strata_write(db, NULL, b), STRATA_OK);
    expect_value(db, NULL, "k", "v");
    strata_batch_free(b);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(api, null_key_with_length_is_invalid)
{
    strata_db *db = open_db(dbpath);
    void *v = NULL;
    size_t vlen = 0;
    cr_assert_eq(strata_put(db, NULL, NULL, 3, "v", 1), STRATA_INVALID_ARGUMENT);
    expect_error_mentions("key is NULL");
    cr_assert_eq(strata_put(db, NULL, "k", 1, NULL, 3), STRATA_INVALID_ARGUMENT);
    expect_error_mentions("value is NULL");
    cr_assert_eq(strata_get(db, NULL, NULL, 3, &v, &vlen), STRATA_INVALID_ARGUMENT);
    expect_error_mentions("key is NULL");
    cr_assert_eq(strata_delete(db, NULL, NULL, 3), STRATA_INVALID_ARGUMENT);
    expect_error_mentions("key is NULL");

    put_str(db, "a", "1");
    strata_iter *it = strata_iter_new(db, NULL);
    cr_assert_not_null(it);
    strata_iter_seek_first(it);
    cr_assert(strata_iter_valid(it));
    strata_iter_seek(it, NULL, 3);
    cr_assert(!strata_iter_valid(it));
    cr_assert_eq(strata_iter_status(it), STRATA_INVALID_ARGUMENT);
    strata_iter_seek_first(it); /* a good seek clears the error */
    cr_assert(strata_iter_valid(it));
    cr_assert_eq(strata_iter_status(it), STRATA_OK);
    strata_iter_seek_for_prev(it, NULL, 3);
    cr_assert(!strata_iter_valid(it));
    cr_assert_eq(strata_iter_status(it), STRATA_INVALID_ARGUMENT);
    strata_iter_free(it);

    /* NULL with length 0 is the empty key and the empty value. */
    cr_assert_eq(strata_put(db, NULL, NULL, 0, NULL, 0), STRATA_OK);
    cr_assert_eq(strata_get(db, NULL, NULL, 0, &v, &vlen), STRATA_OK);
    cr_assert_not_null(v);
    cr_assert_eq(vlen, 0);
    strata_free(v);
    cr_assert_eq(strata_delete(db, NULL, NULL, 0), STRATA_OK);
    cr_assert_eq(strata_get(db, NULL, NULL, 0, &v, &vlen), STRATA_NOT_FOUND);
    /* None of the refused writes happened. */
    expect_dump(db, NULL, "a=1,");
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(api, sizes_over_4gib_rejected_before_reading)
{
    strata_db *db = open_db(dbpath);
    char *g = tu_guarded_alloc(8); /* 8 readable bytes, then a fault */
    cr_assert_not_null(g);
    const size_t huge[] = { (size_t)UINT32_MAX + 1, (size_t)UINT32_MAX + 4096, SIZE_MAX };
    for (int i = 0; i < 3; i++) {
        size_t n = huge[i];
        void *v = NULL;
        size_t vlen = 0;
        cr_assert_eq(strata_put(db, NULL, g, n, "v", 1), STRATA_INVALID_ARGUMENT);
        expect_error_mentions("2^32-1");
        cr_assert_eq(strata_put(db, NULL, "k", 1, g, n), STRATA_INVALID_ARGUMENT);
        expect_error_mentions("value");
        cr_assert_eq(strata_get(db, NULL, g, n, &v, &vlen), STRATA_INVALID_ARGUMENT);
        cr_assert_eq(strata_delete(db, NULL, g, n), STRATA_INVALID_ARGUMENT);
        strata_iter *it = strata_iter_new(db, NULL);
        strata_iter_seek(it, g, n);
        cr_assert(!strata_iter_valid(it));
        cr_assert_eq(strata_iter_status(it), STRATA_INVALID_ARGUMENT);
        strata_iter_seek_for_prev(it, g, n);
        cr_assert(!strata_iter_valid(it));
        cr_assert_eq(strata_iter_status(it), STRATA_INVALID_ARGUMENT);
        strata_iter_free(it);
        strata_batch *b = strata_batch_new();
        strata_batch_put(b, "ok", 2, "1", 1);
        strata_batch_put(b, g, n, "v", 1);
        strata_batch_put(b, "k", 1, g, n);
        strata_batch_delete(b, g, n);
        cr_assert_eq(strata_write(db, NULL, b), STRATA_INVALID_ARGUMENT);
        expect_error_mentions("2^32-1");
        strata_batch_free(b);
    }
    /* The largest legal length is not refused by the size check (a NULL
     * pointer with it is refused as NULL, without reading). */
    cr_assert_eq(strata_put(db, NULL, NULL, UINT32_MAX, "v", 1), STRATA_INVALID_ARGUMENT);
    expect_error_mentions("NULL");
    expect_dump(db, NULL, "");
    tu_guarded_free(g, 8);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

/* strata.h: keys are at most 2^32-1 bytes, and the bounds are keys.  A
 * bound over the limit must be refused (remembered and reported by
 * strata_iter_new, as a failed copy is) without reading the bytes.  The
 * calls run in a child process so that a fault is reported as a failure
 * with an explanation instead of a crash of the test. */
static int over_long_bound_child(strata_db *db, int stage_fd)
{
    char *g = tu_guarded_alloc(8);
    if (!g)
        return 3;
    int rc = 0;
    for (int upper = 0; upper < 2; upper++) {
        char stage = upper ? 'U' : 'L';
        if (write(stage_fd, &stage, 1) != 1)
            return 3;
        strata_read_options *ro = strata_read_options_new();
        if (upper)
            strata_read_options_set_upper_bound(ro, g, (size_t)UINT32_MAX + 1);
        else
            strata_read_options_set_lower_bound(ro, g, (size_t)UINT32_MAX + 1);
        strata_iter *it = strata_iter_new(db, ro);
        if (it)
            rc = 2;
        strata_iter_free(it);
        strata_read_options_free(ro);
    }
    tu_guarded_free(g, 8);
    return rc;
}

Test(api, iter_bound_over_4gib_rejected_before_reading)
{
    strata_db *db = open_db(dbpath);
    put_str(db, "a", "1");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        _exit(over_long_bound_child(db, fds[1]));
    }
    close(fds[1]);
    char stages[8] = "";
    ssize_t n = read(fds[0], stages, sizeof stages - 1);
    while (n > 0 && (size_t)n < sizeof stages - 1) {
        ssize_t m = read(fds[0], stages + n, sizeof stages - 1 - (size_t)n);
        if (m <= 0)
            break;
        n += m;
    }
    close(fds[0]);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    const char *which = n > 0 && stages[n - 1] == 'U' ? "upper" : "lower";
    int crashed = WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 1);
    cr_expect(!crashed, "strata_read_options_set_%s_bound(ro, buf, 2^32) read past the 8-byte buffer "
              "(%s): the length is not checked before the copy", which,
              WIFSIGNALED(st) ? "killed by a signal" : "sanitizer report");
    if (!crashed)
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "a bound of 2^32 bytes: strata_iter_new accepted it (status %#x)", st);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

/* ---- open --------------------------------------------------------------------------- */

Test(api, open_null_and_empty_path)
{
    strata_db *db = (strata_db *)1;
    cr_assert_eq(strata_open(NULL, NULL, &db), STRATA_INVALID_ARGUMENT);
    cr_assert_null(db, "*db must be NULL after a failed open");
    expect_error_mentions("NULL");
    db = (strata_db *)1;
    cr_assert_eq(strata_open("", NULL, &db), STRATA_INVALID_ARGUMENT);
    cr_assert_null(db);
    expect_error_mentions("empty");
}

Test(api, open_regular_file_fails_naming_it)
{
    char *file = tu_join(dir, "plainfile");
    cr_assert_eq(tu_write_file(file, "hello", 5), 0);
    strata_db *db = (strata_db *)1;
    int rc = strata_open(file, NULL, &db);
    cr_assert_eq(rc, STRATA_INVALID_ARGUMENT, "%s", strata_strerror(rc));
    cr_assert_null(db);
    expect_error_mentions(file);
    expect_error_mentions("not a directory");
    size_t n;
    char *data = tu_read_file(file, &n);
    cr_assert(n == 5 && memcmp(data, "hello", 5) == 0, "the file was changed");
    free(data);
    free(file);
}

Test(api, open_missing_dir_without_create_fails_naming_it)
{
    strata_options *o = strata_options_new();
    strata_options_set_create_if_missing(o, 0);
    strata_db *db = (strata_db *)1;
    int rc = strata_open(dbpath, o, &db);
    cr_assert_eq(rc, STRATA_INVALID_ARGUMENT, "%s", strata_strerror(rc));
    cr_assert_null(db);
    expect_error_mentions(dbpath);
    expect_error_mentions("create_if_missing");
    cr_assert(!tu_exists(dbpath), "the directory was created");
    /* An existing empty directory holds no database either. */
    cr_assert_eq(mkdir(dbpath, 0755), 0);
    rc = strata_open(dbpath, o, &db);
    cr_assert_neq(rc, STRATA_OK);
    cr_assert_null(db);
    expect_error_mentions(dbpath);
    char *current = tu_join(dbpath, "CURRENT");
    cr_assert(!tu_exists(current));
    free(current);
    strata_options_free(o);
}

Test(api, open_missing_parent_fails_naming_path)
{
    char *deep = tu_join(dir, "no/such/parent/db");
    strata_db *db = (strata_db *)1;
    int rc = strata_open(deep, NULL, &db);
    cr_assert_neq(rc, STRATA_OK);
    cr_assert_null(db);
    expect_error_mentions(deep);
    free(deep);
}

Test(api, open_path_too_long_fails_cleanly)
{
    size_t n = 5000;
    char *longpath = malloc(n + 1);
    snprintf(longpath, n + 1, "%s/", dir);
    for (size_t i = strlen(longpath); i < n; i++)
        longpath[i] = i % 200 == 0 ? '/' : 'x';
    longpath[n] = '\0';
    strata_db *db = (strata_db *)1;
    int rc = strata_open(longpath, NULL, &db);
    cr_assert_neq(rc, STRATA_OK);
    cr_assert_null(db);
    cr_assert_neq(strata_last_error()[0], '\0');
    cr_assert_neq(strata_destroy(longpath, NULL), STRATA_OK);
    free(longpath);
}

Test(api, open_existing_with_error_if_exists_fails_naming_it)
{
    strata_options *o = strata_options_new();
    strata_options_set_error_if_exists(o, 1);
    strata_db *db = NULL;
    /* A new database: error_if_exists does not stand in the way. */
    cr_assert_eq(strata_open(dbpath, o, &db), STRATA_OK, "%s", strata_last_error());
    put_str(db, "k", "v");
    cr_assert_eq(strata_close(db), STRATA_OK);
    db = (strata_db *)1;
    int rc = strata_open(dbpath, o, &db);
    cr_assert_eq(rc, STRATA_INVALID_ARGUMENT, "%s", strata_strerror(rc));
    cr_assert_null(db);
    expect_error_mentions(dbpath);
    expect_error_mentions("exists");
    /* The refused open left the database as it was. */
    strata_options_set_error_if_exists(o, 0);
    cr_assert_eq(strata_open(dbpath, o, &db), STRATA_OK, "%s", strata_last_error());
    expect_value(db, NULL, "k", "v");
    cr_assert_eq(strata_close(db), STRATA_OK);
    strata_options_free(o);
}

Test(api, second_open_in_same_process_is_busy)
{
    strata_db *db = open_db(dbpath);
    put_str(db, "k", "v1");
    strata_db *db2 = (strata_db *)1;
    int rc = strata_open(dbpath, NULL, &db2);
    cr_assert_eq(rc, STRATA_BUSY, "%s: %s", strata_strerror(rc), strata_last_error());
    cr_assert_null(db2);
    expect_error_mentions(dbpath);
    /* The first handle is unharmed, and its LOG was not replaced. */
    put_str(db, "k", "v2");
    expect_value(db, NULL, "k", "v2");
    cr_assert_eq(strata_close(db), STRATA_OK);
    /* Closed: it opens again. */
    db = open_db(dbpath);
    expect_value(db, NULL, "k", "v2");
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(api, options_are_copied_at_open)
{
    strata_options *o = strata_options_new();
    cr_assert_not_null(o);
    strata_options_set_write_buffer_size(o, 10);
    cr_assert_eq(o->write_buffer_size, (size_t)MIN_WRITE_BUFFER_SIZE, "below 64 KiB is raised");
    strata_options_set_write_buffer_size(o, 8 << 20);
    cr_assert_eq(o->write_buffer_size, (size_t)8 << 20);
    cr_assert_eq(o->create_if_missing, 1);
    cr_assert_eq(o->error_if_exists, 0);
    cr_assert_eq(o->paranoid_checks, 1);
    strata_db *db = NULL;
    cr_assert_eq(strata_open(dbpath, o, &db), STRATA_OK);
    strata_options_free(o); /* the database keeps its own copy */
    put_str(db, "k", "v");
    expect_value(db, NULL, "k", "v");
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(api, last_error_survives_successful_calls)
{
    strata_db *db = open_db(dbpath);
    cr_assert_eq(strata_put(db, NULL, NULL, 3, "v", 1), STRATA_INVALID_ARGUMENT);
    char saved[512];
    snprintf(saved, sizeof saved, "%s", strata_last_error());
    cr_assert_neq(saved[0], '\0');
    put_str(db, "k", "v");
    expect_value(db, NULL, "k", "v");
    strata_iter *it = strata_iter_new(db, NULL);
    strata_iter_seek_first(it);
    strata_iter_free(it);
    cr_assert_str_eq(strata_last_error(), saved);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

/* ---- put, get, delete ---------------------------------------------------------------- */

Test(api, put_get_delete_round_trips)
{
    strata_db *db = open_db(dbpath);
    void *v = (void *)1;
    size_t vlen = 77;
    cr_assert_eq(strata_get(db, NULL, "missing", 7, &v, &vlen), STRATA_NOT_FOUND);
    cr_assert_null(v, "*val must not be left pointing anywhere on NOT_FOUND");
    cr_assert_neq(strata_last_error()[0], '\0');

    put_str(db, "key", "value");
    expect_value(db, NULL, "key", "value");
    /* Overwrite, several times. */
    put_str(db, "key", "second");
    put_str(db, "key", "third, longer than before");
    expect_value(db, NULL, "key", "third, longer than before");
    /* Delete, delete again (absent is fine), delete a never-written key. */
    cr_assert_eq(strata_delete(db, NULL, "key", 3), STRATA_OK);
    expect_value(db, NULL, "key", NULL);
    cr_assert_eq(strata_delete(db, NULL, "key", 3), STRATA_OK);
    cr_assert_eq(strata_delete(db, NULL, "never", 5), STRATA_OK);
    expect_value(db, NULL, "never", NULL);
    /* Put after delete. */
    put_str(db, "key", "back");
    expect_value(db, NULL, "key", "back");

    /* Empty key and empty value. */
    cr_assert_eq(strata_put(db, NULL, "", 0, "empty-key", 9), STRATA_OK);
    cr_assert_eq(strata_put(db, NULL, "ev", 2, "", 0), STRATA_OK);
    cr_assert_eq(strata_get(db, NULL, "", 0, &v, &vlen), STRATA_OK);
    cr_assert(vlen == 9 && memcmp(v, "empty-key", 9) == 0);
    strata_free(v);
    v = NULL;
    vlen = 99;
    cr_assert_eq(strata_get(db, NULL, "ev", 2, &v, &vlen), STRATA_OK);
    cr_assert_not_null(v, "an empty value must come back as a non-NULL pointer");
    cr_assert_eq(vlen, 0);
    strata_free(v);
    cr_assert_eq(strata_put(db, NULL, "", 0, "", 0), STRATA_OK);
    cr_assert_eq(strata_get(db, NULL, "", 0, &v, &vlen), STRATA_OK);
    cr_assert_not_null(v);
    cr_assert_eq(vlen, 0);
    strata_free(v);

    /* Binary keys: embedded NULs, 0xff, prefixes. */
    const char k1[] = { 'a', 0, 'b' }, k2[] = { 'a', 0 }, k3[] = { (char)0xff, (char)0xff };
    cr_assert_eq(strata_put(db, NULL, k1, 3, "k1", 2), STRATA_OK);
    cr_assert_eq(strata_put(db, NULL, k2, 2, "k2", 2), STRATA_OK);
    cr_assert_eq(strata_put(db, NULL, k3, 2, "k3", 2), STRATA_OK);
    cr_assert_eq(strata_put(db, NULL, "a", 1, "k4", 2), STRATA_OK);
    cr_assert_eq(strata_get(db, NULL, k1, 3, &v, &vlen), STRATA_OK);
    cr_assert(vlen == 2 && memcmp(v, "k1", 2) == 0);
    strata_free(v);
    cr_assert_eq(strata_get(db, NULL, k2, 2, &v, &vlen), STRATA_OK);
    cr_assert(vlen == 2 && memcmp(v, "k2", 2) == 0);
    strata_free(v);
    cr_assert_eq(strata_get(db, NULL, "a\0bc", 4, &v, &vlen), STRATA_NOT_FOUND);
    /* Iteration order: "", "a", "a\0", "a\0b", "ev", "key", "\xff\xff". */
    strata_iter *it = strata_iter_new(db, NULL);
    const char *want[] = { "", "a", "a\0", "a\0b", "ev", "key", "\xff\xff" };
    const size_t wlen[] = { 0, 1, 2, 3, 2, 3, 2 };
    int i = 0;
    for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it), i++) {
        size_t kl;
        const char *k = strata_iter_key(it, &kl);
        cr_assert_lt(i, 7);
        cr_assert(kl == wlen[i] && memcmp(k, want[i], kl) == 0, "entry %d", i);
    }
    cr_assert_eq(i, 7);
    strata_iter_free(it);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(api, one_mib_value_and_sync_writes)
{
    strata_db *db = open_db(dbpath);
    size_t n = 1 << 20;
    char *big = malloc(n);
    tu_value(big, n, 1, 2);
    strata_write_options *wo = strata_write_options_new();
    cr_assert_not_null(wo);
    strata_write_options_set_sync(wo, 1);
    cr_assert_eq(strata_put(db, wo, "big", 3, big, n), STRATA_OK, "%s", strata_last_error());
    void *v;
    size_t vlen;
    cr_assert_eq(strata_get(db, NULL, "big", 3, &v, &vlen), STRATA_OK);
    cr_assert_eq(vlen, n);
    cr_assert(memcmp(v, big, n) == 0);
    strata_free(v);
    /* A 1 MiB key as well. */
    cr_assert_eq(strata_put(db, wo, big, n, "small", 5), STRATA_OK);
    cr_assert_eq(strata_get(db, NULL, big, n, &v, &vlen), STRATA_OK);
    cr_assert(vlen == 5 && memcmp(v, "small", 5) == 0);
    strata_free(v);
    cr_assert_eq(strata_close(db), STRATA_OK);
    /* And both survive a reopen. */
    db = open_db(dbpath);
    cr_assert_eq(strata_get(db, NULL, "big", 3, &v, &vlen), STRATA_OK);
    cr_assert(vlen == n && memcmp(v, big, n) == 0);
    strata_free(v);
    cr_assert_eq(strata_get(db, NULL, big, n, &v, &vlen), STRATA_OK);
    strata_free(v);
    cr_assert_eq(strata_close(db), STRATA_OK);
    strata_write_options_free(wo);
    free(big);
}

/* ---- batches --------------------------------------------------------------------------- */

Test(api, batch_put_delete_clear_count)
{
    strata_db *db = open_db(dbpath);
    put_str(db, "old", "x");
    strata_batch *b = strata_batch_new();
    cr_assert_not_null(b);
    cr_assert_eq(strata_batch_count(b), 0);
    strata_batch_put(b, "a", 1, "1", 1);
    strata_batch_put(b, "b", 1, "2", 1);
    strata_batch_delete(b, "old", 3);
    cr_assert_eq(strata_batch_count(b), 3);
    strata_batch_clear(b);
    cr_assert_eq(strata_batch_count(b), 0);
    cr_assert_eq(strata_write(db, NULL, b), STRATA_OK, "an empty batch writes fine");
    expect_dump(db, NULL, "old=x,");

    /* Order inside a batch: the later update of a key wins. */
    strata_batch_put(b, "a", 1, "1", 1);
    strata_batch_put(b, "a", 1, "2", 1);
    strata_batch_put(b, "c", 1, "3", 1);
    strata_batch_delete(b, "c", 1);
    strata_batch_delete(b, "d", 1);
    strata_batch_put(b, "d", 1, "4", 1);
    strata_batch_delete(b, "old", 3);
    strata_batch_put(b, "", 0, "", 0);
    cr_assert_eq(strata_batch_count(b), 8);
    cr_assert_eq(strata_write(db, NULL, b), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(strata_batch_count(b), 8, "strata_write must not change the batch");
    expect_dump(db, NULL, "=,a=2,d=4,");

    /* The same batch again (reuse), after other writes changed things. */
    put_str(db, "a", "other");
    put_str(db, "c", "again");
    cr_assert_eq(strata_write(db, NULL, b), STRATA_OK);
    expect_dump(db, NULL, "=,a=2,d=4,");
    strata_batch_free(b);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(api, batch_is_atomic_for_snapshots_and_iterators)
{
    strata_db *db = open_db(dbpath);
    put_str(db, "k0", "before");
    const strata_snapshot *s = strata_snapshot_new(db);
    strata_iter *it_before = strata_iter_new(db, NULL);
    strata_batch *b = strata_batch_new();
    for (int i = 0; i < 100; i++) {
        char k[16];
        size_t kl = tu_key(k, sizeof k, "k", (uint64_t)i);
        strata_batch_put(b, k, kl, "batch", 5);
    }
    strata_batch_delete(b, "k0", 2);
    strata_write_options *wo = strata_write_options_new();
    strata_write_options_set_sync(wo, 1);
    cr_assert_eq(strata_write(db, wo, b), STRATA_OK);
    /* The iterator made before sees none of it. */
    int n = 0;
    for (strata_iter_seek_first(it_before); strata_iter_valid(it_before); strata_iter_next(it_before))
        n++;
    cr_assert_eq(n, 1);
    strata_iter_free(it_before);
    /* The snapshot sees none of it; the latest state sees all of it. */
    strata_read_options *ro = strata_read_options_new();
    strata_read_options_set_snapshot(ro, s);
    expect_dump(db, ro, "k0=before,");
    strata_iter *it = strata_iter_new(db, NULL);
    n = 0;
    for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it)) {
        size_t vl;
        const char *v = strata_iter_value(it, &vl);
        cr_assert(vl == 5 && memcmp(v, "batch", 5) == 0);
        n++;
    }
    cr_assert_eq(n, 100);
    strata_iter_free(it);
    expect_value(db, NULL, "k0", NULL);
    strata_snapshot_release(db, s);
    strata_read_options_free(ro);
    strata_write_options_free(wo);
    strata_batch_free(b);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(api, batch_with_invalid_put_writes_nothing)
{
    strata_db *db = open_db(dbpath);
    put_str(db, "keep", "1");
    strata_batch *b = strata_batch_new();
    strata_batch_put(b, "a", 1, "1", 1);
    strata_batch_delete(b, "keep", 4);
    strata_batch_put(b, NULL, 3, "x", 1); /* invalid */
    strata_batch_put(b, "z", 1, "26", 2);
    int rc = strata_write(db, NULL, b);
    cr_assert_eq(rc, STRATA_INVALID_ARGUMENT, "%s", strata_strerror(rc));
    expect_error_mentions("key is NULL");
    expect_dump(db, NULL, "keep=1,");
    /* Still refused the second time; a value NULL with length too. */
    cr_assert_eq(strata_write(db, NULL, b), STRATA_INVALID_ARGUMENT);
    strata_batch_clear(b);
    strata_batch_put(b, "v", 1, NULL, 2);
    cr_assert_eq(strata_write(db, NULL, b), STRATA_INVALID_ARGUMENT);
    expect_error_mentions("value is NULL");
    expect_dump(db, NULL, "keep=1,");
    /* Cleared, the batch works again. */
    strata_batch_clear(b);
    strata_batch_put(b, "a", 1, "1", 1);
    cr_assert_eq(strata_write(db, NULL, b), STRATA_OK);
    expect_dump(db, NULL, "a=1,keep=1,");
    strata_batch_free(b);
    /* Nothing of the refused batches reappears after a reopen. */
    cr_assert_eq(strata_close(db), STRATA_OK);
    db = open_db(dbpath);
    expect_dump(db, NULL, "a=1,keep=1,");
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(api, empty_batch_write_is_ok_and_uses_no_sequence)
{
    strata_db *db = open_db(dbpath);
    put_str(db, "a", "1");
    const strata_snapshot *s1 = strata_snapshot_new(db);
    strata_batch *b = strata_batch_new();
    strata_write_options *wo = strata_write_options_new();
    strata_write_options_set_sync(wo, 1);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(strata_write(db, i ? wo : NULL, b), STRATA_OK);
    put_str(db, "a", "2");
    strata_read_options *ro = strata_read_options_new();
    strata_read_options_set_snapshot(ro, s1);
    expect_value(db, ro, "a", "1");
    expect_value(db, NULL, "a", "2");
    strata_snapshot_release(db, s1);
    strata_read_options_free(ro);
    strata_write_options_free(wo);
    strata_batch_free(b);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

/* ---- snapshots --------------------------------------------------------------------------- */

Test(api, snapshots_see_exactly_the_writes_before_them)
{
    strata_db *db = open_db(dbpath);
    const strata_snapshot *s0 = strata_snapshot_new(db); /* empty database */
    cr_assert_not_null(s0);
    put_str(db, "a", "1");
    put_str(db, "b", "1");
    const strata_snapshot *s1 = strata_snapshot_new(db);
    put_str(db, "a", "2");
    cr_assert_eq(strata_delete(db, NULL, "b", 1), STRATA_OK);
    put_str(db, "c", "2");
    const strata_snapshot *s2 = strata_snapshot_new(db);
    const strata_snapshot *s2b = strata_snapshot_new(db); /* two at the same point */
    put_str(db, "b", "3");
    cr_assert_eq(strata_delete(db, NULL, "a", 1), STRATA_OK);

    strata_read_options *ro = strata_read_options_new();
    strata_read_options_set_snapshot(ro, s0);
    expect_value(db, ro, "a", NULL);
    expect_dump(db, ro, "");
    strata_read_options_set_snapshot(ro, s1);
    expect_value(db, ro, "a", "1");
    expect_value(db, ro, "b", "1");
    expect_value(db, ro, "c", NULL);
    expect_dump(db, ro, "a=1,b=1,");
    strata_read_options_set_snapshot(ro, s2);
    expect_value(db, ro, "a", "2");
    expect_value(db, ro, "b", NULL);
    expect_dump(db, ro, "a=2,c=2,");
    strata_read_options_set_snapshot(ro, s2b);
    expect_dump(db, ro, "a=2,c=2,");
    strata_read_options_set_snapshot(ro, NULL);
    expect_dump(db, ro, "b=3,c=2,");
    expect_dump(db, NULL, "b=3,c=2,");

    /* Release in any order; the others keep working. */
    strata_snapshot_release(db, s1);
    strata_read_options_set_snapshot(ro, s2);
    expect_dump(db, ro, "a=2,c=2,");
    strata_snapshot_release(db, s2b);
    strata_snapshot_release(db, s0);
    expect_dump(db, ro, "a=2,c=2,");
    strata_snapshot_release(db, s2);
    strata_read_options_free(ro);

    /* Many snapshots, released newest first. */
    const strata_snapshot *many[50];
    for (int i = 0; i < 50; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        put_str(db, "m", v);
        many[i] = strata_snapshot_new(db);
        cr_assert_not_null(many[i]);
    }
    ro = strata_read_options_new();
    for (int i = 49; i >= 0; i--) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        strata_read_options_set_snapshot(ro, many[i]);
        expect_value(db, ro, "m", v);
        strata_snapshot_release(db, many[i]);
    }
    strata_read_options_free(ro);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(api, iterator_view_is_fixed_at_creation)
{
    strata_db *db = open_db(dbpath);
    put_str(db, "a", "1");
    put_str(db, "c", "1");
    strata_read_options *ro = strata_read_options_new();
    strata_read_options_set_lower_bound(ro, "b", 1);
    strata_iter *it = strata_iter_new(db, ro);
    strata_iter *all = strata_iter_new(db, NULL);
    /* Changing the options afterwards changes nothing for it. */
    strata_read_options_set_lower_bound(ro, NULL, 0);
    put_str(db, "b", "new");
    put_str(db, "c", "2");
    cr_assert_eq(strata_delete(db, NULL, "a", 1), STRATA_OK);
    strata_iter_seek_first(it);
    cr_assert(strata_iter_valid(it));
    size_t kl, vl;
    const char *k = strata_iter_key(it, &kl);
    const char *v = strata_iter_value(it, &vl);
    cr_assert(kl == 1 && k[0] == 'c' && vl == 1 && v[0] == '1');
    strata_iter_next(it);
    cr_assert(!strata_iter_valid(it));
    cr_assert_null(strata_iter_key(it, &kl));
    cr_assert_eq(kl, 0);
    cr_assert_null(strata_iter_value(it, &vl));
    cr_assert_eq(vl, 0);
    /* next/prev on an invalid iterator do nothing. */
    strata_iter_next(it);
    strata_iter_prev(it);
    cr_assert(!strata_iter_valid(it));
    cr_assert_eq(strata_iter_status(it), STRATA_OK);
    strata_iter_seek_first(all);
    k = strata_iter_key(all, &kl);
    cr_assert(kl == 1 && k[0] == 'a', "the older view still has a");
    strata_iter_free(it);
    strata_iter_free(all);
    expect_dump(db, NULL, "b=new,c=2,");
    strata_read_options_free(ro);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(api, read_options_setters)
{
    strata_db *db = open_db(dbpath);
    put_str(db, "a", "1");
    put_str(db, "b", "2");
    put_str(db, "c", "3");
    strata_read_options *ro = strata_read_options_new();
    cr_assert_not_null(ro);
    strata_read_options_set_verify_checksums(ro, 1);
    strata_read_options_set_fill_cache(ro, 0);
    expect_value(db, ro, "b", "2");
    strata_read_options_set_lower_bound(ro, "b", 1);
    strata_read_options_set_upper_bound(ro, "c", 1);
    expect_dump(db, ro, "b=2,");
    strata_read_options_set_upper_bound(ro, NULL, 5); /* NULL removes it */
    expect_dump(db, ro, "b=2,c=3,");
    strata_read_options_set_lower_bound(ro, "", 0); /* the empty key: everything */
    expect_dump(db, ro, "a=1,b=2,c=3,");
    strata_read_options_set_upper_bound(ro, "", 0); /* below everything */
    expect_dump(db, ro, "");
    strata_read_options_free(ro);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

/* ---- properties ------------------------------------------------------------------------------ */

static unsigned long long memory_usage(strata_db *db)
{
    char *p = strata_property(db, "strata.approximate-memory-usage");
    cr_assert_not_null(p);
    cr_assert_neq(p[0], '\0');
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    cr_assert(errno == 0 && *end == '\0', "not a number: \"%s\"", p);
    strata_free(p);
    return v;
}

Test(api, properties)
{
    strata_db *db = open_db(dbpath);
    unsigned long long before = memory_usage(db);
    char v[200];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < 2000; i++) {
        char k[32];
        size_t kl = tu_key(k, sizeof k, "key", (uint64_t)i);
        cr_assert_eq(strata_put(db, NULL, k, kl, v, sizeof v), STRATA_OK);
    }
    unsigned long long after = memory_usage(db);
    cr_assert_gt(after, before, "memory usage %llu did not grow from %llu", after, before);
    cr_assert_geq(after, 2000ULL * 200, "memory usage %llu below the data written", after);

    strata_write_options *wo = strata_write_options_new();
    strata_write_options_set_sync(wo, 1);
    cr_assert_eq(strata_put(db, wo, "s", 1, "1", 1), STRATA_OK);
    char *stats = strata_property(db, "strata.stats");
    cr_assert_not_null(stats);
    cr_assert_not_null(strstr(stats, "writes"), "%s", stats);
    cr_assert_not_null(strstr(stats, "syncs"), "%s", stats);
    cr_assert_not_null(strstr(stats, "2001"), "the stats should count 2001 batches:\n%s", stats);
    strata_free(stats);

    cr_assert_null(strata_property(db, "strata.no-such-property"));
    expect_error_mentions("strata.no-such-property");
    cr_assert_null(strata_property(db, ""));
    cr_assert_null(strata_property(db, "strata.stats.extra"));
    cr_assert_null(strata_property(db, "strata.approximate-memory-usag"));
    strata_write_options_free(wo);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

/* ---- destroy ------------------------------------------------------------------------------------ */

Test(api, destroy_removes_database_and_directory)
{
    strata_db *db = open_db(dbpath);
    put_str(db, "k", "v");
    cr_assert_eq(strata_close(db), STRATA_OK);
    db = open_db(dbpath); /* two sessions: several logs, LOG.old */
    put_str(db, "k2", "v");
    cr_assert_eq(strata_close(db), STRATA_OK);
    cr_assert(tu_is_dir(dbpath));
    cr_assert_eq(strata_destroy(dbpath, NULL), STRATA_OK, "%s", strata_last_error());
    cr_assert(!tu_exists(dbpath), "the directory is still there (%d entries)",
              tu_count_entries(dbpath));
    /* A new database opens there, empty. */
    db = open_db(dbpath);
    expect_dump(db, NULL, "");
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(api, destroy_keeps_foreign_files)
{
    strata_db *db = open_db(dbpath);
    put_str(db, "k", "v");
    cr_assert_eq(strata_close(db), STRATA_OK);
    char *foreign = tu_join(dbpath, "notes.txt");
    char *sub = tu_join(dbpath, "subdir");
    cr_assert_eq(tu_write_file(foreign, "mine", 4), 0);
    cr_assert_eq(mkdir(sub, 0755), 0);
    cr_assert_eq(strata_destroy(dbpath, NULL), STRATA_OK, "%s", strata_last_error());
    cr_assert(tu_is_dir(dbpath), "the directory must stay while foreign files are in it");
    cr_assert(tu_exists(foreign));
    cr_assert(tu_is_dir(sub));
    cr_assert_eq(tu_count_entries(dbpath), 2, "strata's files must be gone");
    /* No database is left: opening without create fails. */
    strata_options *o = strata_options_new();
    strata_options_set_create_if_missing(o, 0);
    cr_assert_neq(strata_open(dbpath, o, &db), STRATA_OK);
    strata_options_free(o);
    free(foreign);
    free(sub);
}

/* strata.h: "Files in the directory that are not strata's are kept".  A
 * temporary file is strata's only when its base name is (CURRENT.tmp); this
 * once matched every "*.tmp", so destroy and every open deleted a user's own
 * "*.tmp" file. */
Test(api, destroy_keeps_foreign_tmp_file)
{
    strata_db *db = open_db(dbpath);
    cr_assert_eq(strata_close(db), STRATA_OK);
    char *foreign = tu_join(dbpath, "backup.tmp");
    cr_assert_eq(tu_write_file(foreign, "mine", 4), 0);
    cr_assert_eq(strata_destroy(dbpath, NULL), STRATA_OK, "%s", strata_last_error());
    cr_expect(tu_exists(foreign), "strata_destroy removed the user's file %s", foreign);
    free(foreign);
}

Test(api, destroy_busy_while_open_and_ok_when_missing)
{
    strata_db *db = open_db(dbpath);
    put_str(db, "k", "v");
    int before = tu_count_entries(dbpath);
    int rc = strata_destroy(dbpath, NULL);
    cr_assert_eq(rc, STRATA_BUSY, "%s: %s", strata_strerror(rc), strata_last_error());
    expect_error_mentions(dbpath);
    cr_assert_eq(tu_count_entries(dbpath), before, "a refused destroy removed files");
    /* The open database is unharmed and still reopens with its data. */
    put_str(db, "k2", "v2");
    expect_value(db, NULL, "k", "v");
    cr_assert_eq(strata_close(db), STRATA_OK);
    db = open_db(dbpath);
    expect_dump(db, NULL, "k=v,k2=v2,");
    cr_assert_eq(strata_close(db), STRATA_OK);

    char *missing = tu_join(dir, "never-created");
    cr_assert_eq(strata_destroy(missing, NULL), STRATA_OK);
    cr_assert(!tu_exists(missing));
    free(missing);
    cr_assert_eq(strata_destroy("", NULL), STRATA_INVALID_ARGUMENT);
    /* A regular file is not a database directory: refused, kept. */
    char *file = tu_join(dir, "plain");
    cr_assert_eq(tu_write_file(file, "x", 1), 0);
    cr_assert_eq(strata_destroy(file, NULL), STRATA_INVALID_ARGUMENT);
    expect_error_mentions(file);
    cr_assert(tu_exists(file));
    free(file);
}

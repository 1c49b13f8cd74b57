/*
 * test_env_map.c: the mapped-file operations of the file-system layer
 * (src/env.h: env_allocate, env_map, env_map_write, env_unmap,
 * env_truncate): what each does to the file, what each refuses rather than
 * letting a store raise SIGBUS, and each as a fault point of its own kind
 * whose message names the operation, the file and the offset.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/env.h"
#include "src/status.h"

static struct env *env;
static char dir[64];
static char path[128];

static void setup(void)
{
    env = env_new();
    cr_assert_not_null(env);
    strcpy(dir, "/tmp/strata_env_map_XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/000007.log", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
    env_free(env);
}

TestSuite(env_map, .init = setup, .fini = teardown);

static struct env_file *open_rw(void)
{
    struct env_file *f;
    cr_assert_eq(env_open(env, path, ENV_OPEN_READ_WRITE, &f), STRATA_OK, "%s",
                 strata_last_error());
    return f;
}

static uint64_t size_of(struct env_file *f)
{
    uint64_t size;
    cr_assert_eq(env_file_size(f, &size), STRATA_OK);
    return size;
}

/* n bytes at offset, read back through the file (not the mapping). */
static char *read_back(struct env_file *f, uint64_t offset, size_t n)
{
    char *p = malloc(n);
    size_t got;
    cr_assert_not_null(p);
    cr_assert_eq(env_read_at(f, offset, p, n, &got), STRATA_OK);
    cr_assert_eq(got, n);
    return p;
}

static void expect_message(const char *a, const char *b, const char *c)
{
    const char *msg = strata_last_error();
    cr_assert(strstr(msg, a) && strstr(msg, b) && strstr(msg, c), "\"%s\", \"%s\", \"%s\" in \"%s\"",
              a, b, c, msg);
}

Test(env_map, allocate_grows_the_file_with_zeros)
{
    struct env_file *f = open_rw();
    cr_assert_eq(env_allocate(f, 0, 100000), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(size_of(f), 100000);
    char *p = read_back(f, 0, 100000);
    for (size_t i = 0; i < 100000; i++)
        if (p[i])
            cr_assert_fail("byte %zu is %d", i, p[i]);
    free(p);
    /* A range already inside the file leaves its size alone. */
    cr_assert_eq(env_allocate(f, 10, 20), STRATA_OK);
    cr_assert_eq(size_of(f), 100000);
    cr_assert_eq(env_close(f), STRATA_OK);
}

/* Bytes copied into a shared mapping are the file's bytes, at once and
 * after the unmap; an offset need not be page-aligned. */
Test(env_map, map_write_reaches_the_file)
{
    struct env_file *f = open_rw();
    cr_assert_eq(env_allocate(f, 0, 3 * 4096), STRATA_OK);
    struct env_map *m;
    cr_assert_eq(env_map(f, 5000, 3 * 4096 - 5000, &m), STRATA_OK, "%s", strata_last_error());
    char data[6000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7 + 1);
    cr_assert_eq(env_map_write(m, 5001, data, sizeof data), STRATA_OK, "%s", strata_last_error());
    char *p = read_back(f, 5001, sizeof data);
    cr_assert_eq(memcmp(p, data, sizeof data), 0, "the file does not see the mapping's bytes");
    free(p);
    cr_assert_eq(env_unmap(m), STRATA_OK);
    p = read_back(f, 5000, 1 + sizeof data);
    cr_assert_eq(p[0], 0);
    cr_assert_eq(memcmp(p + 1, data, sizeof data), 0);
    free(p);
    cr_assert_eq(env_unmap(NULL), STRATA_OK);
    cr_assert_eq(env_close(f), STRATA_OK);
}

/* Stores past the end of the file would raise SIGBUS: such a mapping is
 * refused, as is a copy outside the mapping. */
Test(env_map, refuses_what_would_fault)
{
    struct env_file *f = open_rw();
    cr_assert_eq(env_allocate(f, 0, 8192), STRATA_OK);
    struct env_map *m = (struct env_map *)&m;
    cr_assert_eq(env_map(f, 4096, 8192, &m), STRATA_INVALID_ARGUMENT);
    cr_assert_null(m);
    expect_message(path, "offset 4096", "8192 bytes");
    cr_assert_eq(env_map(f, 0, 0, &m), STRATA_INVALID_ARGUMENT);
    cr_assert_eq(env_map(f, 100, 8000, &m), STRATA_OK, "%s", strata_last_error());
    char x[16] = "0123456789abcdef";
    cr_assert_eq(env_map_write(m, 99, x, 1), STRATA_INVALID_ARGUMENT);
    expect_message(path, "offset 99", "outside its mapping");
    cr_assert_eq(env_map_write(m, 8090, x, 11), STRATA_INVALID_ARGUMENT);
    cr_assert_eq(env_map_write(m, 8090, x, 10), STRATA_OK);
    cr_assert_eq(env_unmap(m), STRATA_OK);
    cr_assert_eq(env_close(f), STRATA_OK);
}

/* A file opened for writing only cannot be mapped for writing. */
Test(env_map, write_only_file_cannot_be_mapped)
{
    struct env_file *f;
    cr_assert_eq(env_open(env, path, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    cr_assert_eq(env_allocate(f, 0, 4096), STRATA_OK, "%s", strata_last_error());
    struct env_map *m;
    cr_assert_eq(env_map(f, 0, 4096, &m), STRATA_IO_ERROR);
    expect_message("map 4096 bytes at offset 0", path, strerror(EACCES));
    cr_assert_eq(env_close(f), STRATA_OK);
}

Test(env_map, truncate_cuts_the_file)
{
    struct env_file *f = open_rw();
    cr_assert_eq(env_allocate(f, 0, 1 << 20), STRATA_OK);
    cr_assert_eq(env_truncate(f, 1234), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(size_of(f), 1234);
    cr_assert_eq(env_close(f), STRATA_OK);
}

/* Each operation is a fault point of its kind: allocate, copy and truncate
 * count as writes, map and unmap as ENV_OP_MAP; a fault of one kind is not
 * spent on the other, and every message names the file and the offset. */
Test(env_map, fault_points)
{
    struct env_file *f = open_rw();
    uint64_t ops = env_op_count(env);
    env_set_fault(env, 1, ENV_OP_MAP, EIO);
    cr_assert_eq(env_allocate(f, 0, 8192), STRATA_OK, "a MAP fault spent on a write");
    struct env_map *m;
    cr_assert_eq(env_map(f, 0, 8192, &m), STRATA_IO_ERROR);
    expect_message("map 8192 bytes at offset 0", path, "(injected)");
    cr_assert_null(m);

    env_set_fault(env, 1, ENV_OP_WRITE, ENOSPC);
    cr_assert_eq(env_allocate(f, 8192, 4096), STRATA_IO_ERROR);
    expect_message("allocate 4096 bytes at offset 8192", path, strerror(ENOSPC));
    cr_assert_eq(size_of(f), 8192);

    cr_assert_eq(env_map(f, 0, 8192, &m), STRATA_OK);
    env_set_fault(env, 1, ENV_OP_WRITE, EIO);
    cr_assert_eq(env_map_write(m, 100, "abc", 3), STRATA_IO_ERROR);
    expect_message("write of 3 bytes at offset 100", path, "(injected)");
    char *p = read_back(f, 100, 3);
    cr_assert(p[0] == 0 && p[1] == 0 && p[2] == 0, "a failed copy wrote");
    free(p);

    env_set_fault(env, 1, ENV_OP_MAP, EIO);
    cr_assert_eq(env_unmap(m), STRATA_IO_ERROR);
    expect_message("unmap 8192 bytes at offset 0", path, "(injected)");

    env_set_fault(env, 1, ENV_OP_WRITE, EIO);
    cr_assert_eq(env_truncate(f, 10), STRATA_IO_ERROR);
    expect_message("truncate", path, "10 bytes");
    cr_assert_eq(size_of(f), 8192);
    /* allocate, map (failed), allocate (failed), map, copy (failed), the
     * read that checks it, unmap (failed), truncate (failed) */
    cr_assert_eq(env_op_count(env) - ops, 8);
    cr_assert_eq(env_close(f), STRATA_OK);
}

/* With ENV_FAULT_PARTIAL a failing copy writes its first half, as a failing
 * write(2) does, and a failing allocate reserves half the range, as a disk
 * that filled up part way may. */
Test(env_map, partial_faults)
{
    struct env_file *f = open_rw();
    env_set_fault(env, 1, ENV_OP_WRITE | ENV_FAULT_PARTIAL, ENOSPC);
    cr_assert_eq(env_allocate(f, 0, 8192), STRATA_IO_ERROR);
    cr_assert_eq(size_of(f), 4096);
    cr_assert_eq(env_allocate(f, 0, 8192), STRATA_OK);
    struct env_map *m;
    cr_assert_eq(env_map(f, 0, 8192, &m), STRATA_OK);
    env_set_fault(env, 1, ENV_OP_WRITE | ENV_FAULT_PARTIAL, EIO);
    cr_assert_eq(env_map_write(m, 4000, "abcdefgh", 8), STRATA_IO_ERROR);
    char *p = read_back(f, 4000, 8);
    cr_assert(memcmp(p, "abcd\0\0\0\0", 8) == 0, "not the first half");
    free(p);
    cr_assert_eq(env_unmap(m), STRATA_OK);
    cr_assert_eq(env_close(f), STRATA_OK);
}

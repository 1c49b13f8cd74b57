/*
 * env.c: the POSIX file-system layer (see env.h).  Each function reports its
 * own failure with the path, the operation and the system's reason.
 *
 * Invariants of a mapping (struct env_map): data points at file offset
 * offset, len bytes are usable from there, and base/base_len are what mmap
 * returned (base is page-aligned, data - base = offset % page size), so that
 * env_unmap can give back exactly what was mapped.
 */
#include "src/env.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/status.h"

enum { ENV_NUM_OPS = 8 }; /* the ENV_OP_* bits */

struct env {
    atomic_uint_fast64_t ops;
    atomic_uint_fast64_t ops_of[ENV_NUM_OPS]; /* by kind, bit i of ENV_OP_* */
    /* The fault: fault_countdown operations of a kind in fault_kinds remain
     * until the one that fails; 0 means none is armed. */
    atomic_uint_fast64_t fault_countdown;
    atomic_uint fault_kinds;
    atomic_int fault_errno;
    /* Set (release) once fault_what names the operation the fault failed;
     * only the thread that takes the last count writes fault_what. */
    atomic_int fault_fired;
    char fault_what[PATH_MAX + 16];
    /* Test-only (env_set_sync_hook); NULL in production, so env_sync pays
     * one well-predicted branch for it. */
    env_sync_hook_fn *sync_hook;
    void *sync_hook_arg;
};

struct env_file {
    struct env *env;
    int fd;
    /* The end of the bytes written through this handle (appends, mapped
     * writes), for the sync hook: an add or a compare per write.  A
     * file opened ENV_OPEN_APPEND starts at 0 even if it held bytes: they
     * were written (and synced or not) by an earlier handle. */
    uint64_t written_end;
    char path[];
};

struct env_map {
    struct env_file *file;
    char *base;
    size_t base_len;
    char *data;
    uint64_t offset;
    size_t len;
};

/* env_map_write copies in pieces of this size, aligned on file offsets (see
 * env.h): a power of two dividing the log block size (32 KiB), so that no
 * piece spans two blocks of a log. */
enum { ENV_MAP_PIECE = 4096 };

struct env *env_new(void)
{
    struct env *env = calloc(1, sizeof *env);
    if (!env)
        status_set(STRATA_NO_MEMORY, "out of memory allocating the file-system layer");
    return env;
}

void env_free(struct env *env)
{
    free(env);
}

uint64_t env_op_count(const struct env *env)
{
    return atomic_load((atomic_uint_fast64_t *)&env->ops);
}

uint64_t env_op_count_of(const struct env *env, unsigned kinds)
{
    uint64_t n = 0;
    for (int i = 0; i < ENV_NUM_OPS; i++)
        if (kinds & (1u << i))
            n += atomic_load((atomic_uint_fast64_t *)&env->ops_of[i]);
    return n;
}

int env_fault_fired(const struct env *env, const char **what)
{
    int fired = atomic_load_explicit((atomic_int *)&env->fault_fired, memory_order_acquire);
    if (what)
        *what = fired ? env->fault_what : "";
    return fired;
}

void env_set_fault(struct env *env, uint64_t nth, unsigned kinds, int err)
{
    atomic_store(&env->fault_fired, 0);
    atomic_store(&env->fault_kinds, kinds);
    atomic_store(&env->fault_errno, err);
    atomic_store(&env->fault_countdown, nth);
}

void env_set_sync_hook(struct env *env, env_sync_hook_fn *fn, void *arg)
{
    env->sync_hook = fn;
    env->sync_hook_arg = arg;
}

void env_clear_fault(struct env *env)
{
    atomic_store(&env->fault_countdown, 0);
}

/* Remember which operation the fault failed, for env_fault_fired. */
static void fault_record(struct env *env, const char *verb, const char *path)
{
    snprintf(env->fault_what, sizeof env->fault_what, "%s %s", verb, path);
    atomic_store_explicit(&env->fault_fired, 1, memory_order_release);
}

/* Count one operation of kind op (what verb does to path, for
 * env_fault_fired); return the errno to fail it with, or 0.  Only
 * operations of the armed kinds count down toward the fault. */
static int env_tick(struct env *env, unsigned op, const char *verb, const char *path)
{
    atomic_fetch_add_explicit(&env->ops, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&env->ops_of[__builtin_ctz(op)], 1, memory_order_relaxed);
    if (!(atomic_load(&env->fault_kinds) & op))
        return 0;
    uint_fast64_t left = atomic_load(&env->fault_countdown);
    while (left > 0) {
        if (atomic_compare_exchange_weak(&env->fault_countdown, &left, left - 1)) {
            if (left != 1)
                return 0;
            fault_record(env, verb, path);
            return atomic_load(&env->fault_errno);
        }
    }
    return 0;
}

static int fail_partial(struct env *env)
{
    return (atomic_load(&env->fault_kinds) & ENV_FAULT_PARTIAL) != 0;
}

int env_open(struct env *env, const char *path, enum env_open_mode mode, struct env_file **out)
{
    *out = NULL;
    int err = env_tick(env, ENV_OP_OPEN, "open", path);
    if (err)
        return status_set_errno(status_from_errno(err), err, "open %s (injected)", path);
    int flags = O_CLOEXEC;
    if (mode == ENV_OPEN_READ)
        flags |= O_RDONLY;
    else if (mode == ENV_OPEN_TRUNCATE)
        flags |= O_WRONLY | O_CREAT | O_TRUNC;
    else if (mode == ENV_OPEN_READ_WRITE)
        flags |= O_RDWR | O_CREAT | O_TRUNC;
    else
        flags |= O_WRONLY | O_CREAT | O_APPEND;
    size_t plen = strlen(path);
    struct env_file *f = malloc(sizeof *f + plen + 1);
    if (!f)
        return status_set(STRATA_NO_MEMORY, "out of memory opening %s", path);
    int fd;
    do {
        fd = open(path, flags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        free(f);
        return status_set_errno(status_from_errno(e), e, "open %s", path);
    }
    f->env = env;
    f->fd = fd;
    f->written_end = 0;
    memcpy(f->path, path, plen + 1);
    *out = f;
    return STRATA_OK;
}

int env_close(struct env_file *f)
{
    if (!f)
        return STRATA_OK;
    int rc = STRATA_OK;
    if (close(f->fd) != 0 && errno != EINTR)
        rc = status_set_errno(STRATA_IO_ERROR, errno, "close %s", f->path);
    free(f);
    return rc;
}

const char *env_file_path(const struct env_file *f)
{
    return f->path;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int env_append(struct env_file *f, const void *data, size_t n)
{
    int err = env_tick(f->env, ENV_OP_WRITE, "write", f->path);
    if (err) {
        if (fail_partial(f->env) && n > 1)
            (void)write_all(f->fd, data, n / 2);
        return status_set_errno(status_from_errno(err), err,
                                "write of %zu bytes to %s (injected)", n, f->path);
    }
    err = write_all(f->fd, data, n);
    if (err)
        return status_set_errno(status_from_errno(err), err, "write of %zu bytes to %s", n, f->path);
    f->written_end += n;
    return STRATA_OK;
}

int env_read_at(struct env_file *f, uint64_t offset, void *buf, size_t n, size_t *got)
{
    *got = 0;
    int err = env_tick(f->env, ENV_OP_READ, "read", f->path);
    if (err)
        return status_set_errno(status_from_errno(err), err,
                                "read of %zu bytes at offset %llu of %s (injected)", n,
                                (unsigned long long)offset, f->path);
    char *p = buf;
    while (*got < n) {
        ssize_t r = pread(f->fd, p + *got, n - *got, (off_t)(offset + *got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return status_set_errno(STRATA_IO_ERROR, errno, "read of %zu bytes at offset %llu of %s",
                                    n, (unsigned long long)offset, f->path);
        }
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return STRATA_OK;
}

int env_sync(struct env_file *f)
{
    int err = env_tick(f->env, ENV_OP_SYNC, "sync", f->path);
    if (err)
        return status_set_errno(status_from_errno(err), err, "fdatasync %s (injected)", f->path);
    if (fdatasync(f->fd) != 0)
        return status_set_errno(STRATA_IO_ERROR, errno, "fdatasync %s", f->path);
    if (f->env->sync_hook)
        f->env->sync_hook(f->env->sync_hook_arg, f->path, f->written_end);
    return STRATA_OK;
}

int env_file_size(struct env_file *f, uint64_t *size)
{
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return status_set_errno(STRATA_IO_ERROR, errno, "stat %s", f->path);
    *size = (uint64_t)st.st_size;
    return STRATA_OK;
}

/* ---- mapped files ---------------------------------------------------------- */

static int allocate(int fd, uint64_t offset, uint64_t len)
{
    int err;
    do {
        err = posix_fallocate(fd, (off_t)offset, (off_t)len); /* returns the error, no errno */
    } while (err == EINTR);
    return err;
}

int env_allocate(struct env_file *f, uint64_t offset, uint64_t len)
{
    int err = env_tick(f->env, ENV_OP_WRITE, "allocate", f->path);
    if (err) {
        if (fail_partial(f->env) && len > 1)
            (void)allocate(f->fd, offset, len / 2); /* a full disk may grant part */
        return status_set_errno(status_from_errno(err), err,
                                "allocate %llu bytes at offset %llu of %s (injected)",
                                (unsigned long long)len, (unsigned long long)offset, f->path);
    }
    err = allocate(f->fd, offset, len);
    if (err)
        return status_set_errno(status_from_errno(err), err,
                                "allocate %llu bytes at offset %llu of %s",
                                (unsigned long long)len, (unsigned long long)offset, f->path);
    return STRATA_OK;
}

/* A store to a mapped page past the end of the file raises SIGBUS: refuse
 * to map one instead. */
static int map_check_range(struct env_file *f, uint64_t offset, size_t len)
{
    uint64_t size;
    int rc = env_file_size(f, &size);
    if (rc != STRATA_OK)
        return rc;
    if (len == 0 || offset > size || size - offset < len)
        return status_set(STRATA_INVALID_ARGUMENT,
                          "map %zu bytes at offset %llu of %s: the file has %llu bytes", len,
                          (unsigned long long)offset, f->path, (unsigned long long)size);
    return STRATA_OK;
}

/* Fault the mapping's pages in, writable, now: one system call instead of
 * one page fault per page at the first store to it, which costs several
 * microseconds each (a hardware exception, the file system's page_mkwrite).
 * A kernel without MADV_POPULATE_WRITE (before Linux 5.14) or an
 * interrupted call leaves the pages to fault on demand, as they would
 * anyway; a page that cannot be faulted in (EFAULT: what would be a SIGBUS,
 * EHWPOISON, ENOMEM) is reported, since a store to it would not survive. */
static int map_populate(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
    if (madvise(p, len, MADV_POPULATE_WRITE) != 0 && errno != EINVAL && errno != EINTR &&
        errno != EAGAIN)
        return errno;
#else
    (void)p, (void)len;
#endif
    return 0;
}

int env_map(struct env_file *f, uint64_t offset, size_t len, struct env_map **out)
{
    *out = NULL;
    int err = env_tick(f->env, ENV_OP_MAP, "map", f->path);
    if (err)
        return status_set_errno(status_from_errno(err), err,
                                "map %zu bytes at offset %llu of %s (injected)", len,
                                (unsigned long long)offset, f->path);
    int rc = map_check_range(f, offset, len);
    if (rc != STRATA_OK)
        return rc;
    struct env_map *m = malloc(sizeof *m);
    if (!m)
        return status_set(STRATA_NO_MEMORY, "out of memory mapping %s", f->path);
    size_t skip = (size_t)(offset % (uint64_t)sysconf(_SC_PAGESIZE));
    void *p = mmap(NULL, len + skip, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd,
                   (off_t)(offset - skip));
    int e = p == MAP_FAILED ? errno : map_populate(p, len + skip);
    if (e) {
        if (p != MAP_FAILED)
            munmap(p, len + skip);
        free(m);
        return status_set_errno(status_from_errno(e), e, "map %zu bytes at offset %llu of %s",
                                len, (unsigned long long)offset, f->path);
    }
    *m = (struct env_map){ f, p, len + skip, (char *)p + skip, offset, len };
    *out = m;
    return STRATA_OK;
}

/* Copy in file order, one aligned piece at a time.  The signal fence keeps
 * the compiler from merging or reordering the pieces' stores; the CPU
 * retires them in order as far as the process itself is concerned, and a
 * SIGKILL stops it between two instructions, so the page cache is left
 * with a prefix of the pieces. */
static void map_copy(char *dst, uint64_t offset, const char *src, size_t n)
{
    while (n > 0) {
        size_t piece = ENV_MAP_PIECE - (size_t)(offset % ENV_MAP_PIECE);
        if (piece > n)
            piece = n;
        memcpy(dst, src, piece);
        atomic_signal_fence(memory_order_seq_cst);
        dst += piece;
        src += piece;
        offset += piece;
        n -= piece;
    }
}

int env_map_write(struct env_map *m, uint64_t offset, const void *data, size_t n)
{
    const char *path = m->file->path;
    if (offset < m->offset || offset - m->offset > m->len || m->len - (offset - m->offset) < n)
        return status_set(STRATA_INVALID_ARGUMENT,
                          "write of %zu bytes at offset %llu of %s: outside its mapping of "
                          "[%llu, %llu)",
                          n, (unsigned long long)offset, path, (unsigned long long)m->offset,
                          (unsigned long long)(m->offset + m->len));
    char *dst = m->data + (offset - m->offset);
    int err = env_tick(m->file->env, ENV_OP_WRITE, "write", path);
    if (err) {
        if (fail_partial(m->file->env) && n > 1)
            map_copy(dst, offset, data, n / 2);
        return status_set_errno(status_from_errno(err), err,
                                "write of %zu bytes at offset %llu of %s (injected)", n,
                                (unsigned long long)offset, path);
    }
    map_copy(dst, offset, data, n);
    if (offset + n > m->file->written_end)
        m->file->written_end = offset + n;
    return STRATA_OK;
}

int env_unmap(struct env_map *m)
{
    if (!m)
        return STRATA_OK;
    struct env_file *f = m->file;
    int err = env_tick(f->env, ENV_OP_MAP, "unmap", f->path);
    int rc = STRATA_OK;
    if (munmap(m->base, m->base_len) != 0)
        rc = status_set_errno(STRATA_IO_ERROR, errno, "unmap %zu bytes at offset %llu of %s",
                              m->len, (unsigned long long)m->offset, f->path);
    else if (err)
        rc = status_set_errno(status_from_errno(err), err,
                              "unmap %zu bytes at offset %llu of %s (injected)", m->len,
                              (unsigned long long)m->offset, f->path);
    free(m);
    return rc;
}

int env_truncate(struct env_file *f, uint64_t size)
{
    int err = env_tick(f->env, ENV_OP_WRITE, "truncate", f->path);
    if (err)
        return status_set_errno(status_from_errno(err), err, "truncate %s to %llu bytes (injected)",
                                f->path, (unsigned long long)size);
    int rc;
    do {
        rc = ftruncate(f->fd, (off_t)size);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0)
        return status_set_errno(status_from_errno(errno), errno, "truncate %s to %llu bytes",
                                f->path, (unsigned long long)size);
    return STRATA_OK;
}

int env_path_kind(struct env *env, const char *path, enum env_path_kind *kind)
{
    (void)env; /* stat is not a fault point: it changes nothing */
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) {
            *kind = ENV_PATH_MISSING;
            return STRATA_OK;
        }
        return status_set_errno(STRATA_IO_ERROR, errno, "stat %s", path);
    }
    *kind = S_ISDIR(st.st_mode) ? ENV_PATH_DIR : S_ISREG(st.st_mode) ? ENV_PATH_FILE : ENV_PATH_OTHER;
    return STRATA_OK;
}

int env_mkdir(struct env *env, const char *path)
{
    int err = env_tick(env, ENV_OP_DIR, "mkdir", path);
    if (err)
        return status_set_errno(status_from_errno(err), err, "mkdir %s (injected)", path);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return status_set_errno(STRATA_IO_ERROR, errno, "mkdir %s", path);
    return STRATA_OK;
}

int env_rmdir(struct env *env, const char *path)
{
    int err = env_tick(env, ENV_OP_DIR, "rmdir", path);
    if (err)
        return status_set_errno(status_from_errno(err), err, "rmdir %s (injected)", path);
    if (rmdir(path) != 0)
        return status_set_errno(STRATA_IO_ERROR, errno, "rmdir %s", path);
    return STRATA_OK;
}

int env_rename(struct env *env, const char *from, const char *to)
{
    int err = env_tick(env, ENV_OP_RENAME, "rename", from);
    if (err)
        return status_set_errno(status_from_errno(err), err, "rename %s to %s (injected)", from, to);
    if (rename(from, to) != 0)
        return status_set_errno(STRATA_IO_ERROR, errno, "rename %s to %s", from, to);
    return STRATA_OK;
}

int env_unlink(struct env *env, const char *path)
{
    int err = env_tick(env, ENV_OP_UNLINK, "unlink", path);
    if (err)
        return status_set_errno(status_from_errno(err), err, "unlink %s (injected)", path);
    if (unlink(path) != 0)
        return status_set_errno(STRATA_IO_ERROR, errno, "unlink %s", path);
    return STRATA_OK;
}

int env_sync_dir(struct env *env, const char *dir)
{
    int err = env_tick(env, ENV_OP_DIR, "fsync-dir", dir);
    if (err)
        return status_set_errno(status_from_errno(err), err, "fsync directory %s (injected)", dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return status_set_errno(STRATA_IO_ERROR, errno, "open directory %s", dir);
    int rc = STRATA_OK;
    if (fsync(fd) != 0)
        rc = status_set_errno(STRATA_IO_ERROR, errno, "fsync directory %s", dir);
    close(fd);
    return rc;
}

void env_free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int env_list_dir(struct env *env, const char *dir, char ***names, size_t *count)
{
    *names = NULL;
    *count = 0;
    int err = env_tick(env, ENV_OP_DIR, "list", dir);
    if (err)
        return status_set_errno(status_from_errno(err), err, "list directory %s (injected)", dir);
    DIR *d = opendir(dir);
    if (!d)
        return status_set_errno(STRATA_IO_ERROR, errno, "list directory %s", dir);
    char **list = NULL;
    size_t n = 0, cap = 0;
    int rc = STRATA_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **bigger = realloc(list, ncap * sizeof *list);
            if (!bigger) {
                rc = status_set(STRATA_NO_MEMORY, "out of memory listing %s", dir);
                break;
            }
            list = bigger;
            cap = ncap;
        }
        if (!(list[n] = strdup(e->d_name))) {
            rc = status_set(STRATA_NO_MEMORY, "out of memory listing %s", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (rc != STRATA_OK) {
        env_free_names(list, n);
        return rc;
    }
    *names = list;
    *count = n;
    return STRATA_OK;
}

int env_lock_file(struct env *env, const char *path, struct env_file **lock)
{
    int rc = env_open(env, path, ENV_OPEN_APPEND, lock);
    if (rc != STRATA_OK)
        return rc;
    int err = env_tick(env, ENV_OP_DIR, "lock", path);
    if (err) {
        env_close(*lock);
        *lock = NULL;
        return status_set_errno(status_from_errno(err), err, "lock %s (injected)", path);
    }
    if (flock((*lock)->fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        env_close(*lock);
        *lock = NULL;
        if (e == EWOULDBLOCK)
            return status_set(STRATA_BUSY, "lock %s: the database is open in this or another process",
                              path);
        return status_set_errno(STRATA_IO_ERROR, e, "lock %s", path);
    }
    return STRATA_OK;
}

int env_write_file_atomic(struct env *env, const char *dir, const char *name,
                          const void *data, size_t n)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name) >= (int)sizeof tmp ||
        snprintf(final, sizeof final, "%s/%s", dir, name) >= (int)sizeof final)
        return status_set(STRATA_INVALID_ARGUMENT, "path %s/%s is too long", dir, name);
    struct env_file *f;
    int rc = env_open(env, tmp, ENV_OPEN_TRUNCATE, &f);
    if (rc != STRATA_OK)
        return rc;
    rc = env_append(f, data, n);
    if (rc == STRATA_OK)
        rc = env_sync(f);
    int crc = env_close(f);
    if (rc == STRATA_OK)
        rc = crc;
    if (rc == STRATA_OK)
        rc = env_rename(env, tmp, final);
    if (rc != STRATA_OK) {
        unlink(tmp); /* best effort: a stray .tmp is removed at the next open */
        return rc;
    }
    return env_sync_dir(env, dir);
}

int env_read_file(struct env *env, const char *path, char **data, size_t *n)
{
    *data = NULL;
    *n = 0;
    struct env_file *f;
    int rc = env_open(env, path, ENV_OPEN_READ, &f);
    if (rc != STRATA_OK)
        return rc;
    uint64_t size;
    rc = env_file_size(f, &size);
    char *p = NULL;
    if (rc == STRATA_OK && !(p = malloc(size + 1)))
        rc = status_set(STRATA_NO_MEMORY, "out of memory reading %s", path);
    size_t got = 0;
    if (rc == STRATA_OK)
        rc = env_read_at(f, 0, p, size, &got);
    env_close(f);
    if (rc != STRATA_OK) {
        free(p);
        return rc;
    }
    p[got] = '\0';
    *data = p;
    *n = got;
    return STRATA_OK;
}

uint64_t env_now_micros(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- read-only mappings ---------------------------------------------------- */

int env_map_readonly(struct env_file *f, uint64_t size, const char **map)
{
    *map = NULL;
    int err = env_tick(f->env, ENV_OP_READ, "map-read", f->path);
    if (err)
        return status_set_errno(status_from_errno(err), err, "map %llu bytes of %s (injected)",
                                (unsigned long long)size, f->path);
    if (size == 0 || size > SIZE_MAX)
        return status_set(STRATA_INVALID_ARGUMENT, "cannot map %llu bytes of %s",
                          (unsigned long long)size, f->path);
    void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, f->fd, 0);
    if (p == MAP_FAILED)
        return status_set_errno(status_from_errno(errno), errno, "map %llu bytes of %s",
                                (unsigned long long)size, f->path);
    *map = p;
    return STRATA_OK;
}

void env_unmap_readonly(const char *map, uint64_t size)
{
    if (map)
        munmap((void *)map, (size_t)size);
}

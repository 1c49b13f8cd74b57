/*
 * env.h: the file-system layer.  Every open, read, write, sync, rename,
 * unlink and directory operation of the engine goes through it, so that
 * errors are reported the same way everywhere (a status code and a message
 * naming the operation, the path and the offset) and so that tests can make
 * any operation fail.
 *
 * One struct env belongs to each open database (no global state); the
 * functions that take an env_file use the env it was opened with.
 *
 * Fault injection: env_set_fault(env, n, kinds, err) makes the n-th
 * operation from now whose kind is in kinds fail with errno err (EIO,
 * ENOSPC, ...); operations of other kinds do not count.  A failing write
 * first writes half of its data when ENV_FAULT_PARTIAL is in kinds, as a
 * full disk may.  The fault fires once.  env_op_count() counts every
 * operation of every kind, and env_op_count_of() those of some kinds, so a
 * test can enumerate a workload's I/O points; env_fault_fired() tells
 * whether the fault has fired and which operation on which file it failed.
 * A database opened with strata_options.env set (tests only, see
 * src/options.h) uses that env, so faults can hit strata_open too.
 *
 * Mapped files (env_allocate, env_map, env_map_write, env_unmap,
 * env_truncate) let a writer append without a system call per append: the
 * space is reserved on disk first, so that a full disk is an error status
 * and never a SIGBUS on a later store, then mapped shared, so that the
 * bytes copied in belong to the page cache and survive the process.  A copy
 * into a mapping is a WRITE operation like env_append (it can be made to
 * fail, half done with ENV_FAULT_PARTIAL), so fault tests that count writes
 * count the same appends whichever way they reach the file.
 */
#ifndef STRATA_ENV_H
#define STRATA_ENV_H

#include <stddef.h>
#include <stdint.h>

struct env;
struct env_file;

enum env_op {
    ENV_OP_OPEN = 1 << 0,
    ENV_OP_READ = 1 << 1,
    ENV_OP_WRITE = 1 << 2,
    ENV_OP_SYNC = 1 << 3,
    ENV_OP_RENAME = 1 << 4,
    ENV_OP_UNLINK = 1 << 5,
    ENV_OP_DIR = 1 << 6, /* mkdir, rmdir, listing, directory sync, lock */
    ENV_OP_MAP = 1 << 7, /* mapping or unmapping part of a file */
    ENV_OP_ALL = 0xff,
    ENV_FAULT_PARTIAL = 1 << 8,
};

enum env_open_mode {
    ENV_OPEN_READ,       /* existing file, read only */
    ENV_OPEN_TRUNCATE,   /* create or truncate, write only */
    ENV_OPEN_APPEND,     /* create or keep, writes go to the end */
    ENV_OPEN_READ_WRITE, /* create or truncate, read and write: a file to map */
};

enum env_path_kind { ENV_PATH_MISSING, ENV_PATH_FILE, ENV_PATH_DIR, ENV_PATH_OTHER };

/* NULL when out of memory. */
struct env *env_new(void);
void env_free(struct env *env);

/* Operations attempted through env so far (all kinds). */
uint64_t env_op_count(const struct env *env);
/* Operations of the kinds in kinds (ENV_OP_* bits) attempted so far. */
uint64_t env_op_count_of(const struct env *env, unsigned kinds);
void env_set_fault(struct env *env, uint64_t nth, unsigned kinds, int err);
void env_clear_fault(struct env *env);
/* 1 once the fault armed by the last env_set_fault has failed an
 * operation; *what (when what is not NULL) then names it, "<verb> <path>"
 * ("write /db/000005.log", "fsync-dir /db", "list /db"), and is "" before.
 * The string lives in env. */
int env_fault_fired(const struct env *env, const char **what);

/* Test-only: fn(arg, path, durable) is called after every successful
 * env_sync(f), with f's path and the number of bytes of f that the sync
 * made durable: the end of what was written to f through this env_file
 * (appends, env_map_write ranges), as far as it reached.  A machine-crash
 * test (tests/test_machine_crash.c) records these to know which bytes a
 * power loss could not have taken, and zeroes the rest.  NULL fn removes
 * the hook.  Set it before the env is used: it is not synchronized. */
typedef void env_sync_hook_fn(void *arg, const char *path, uint64_t durable);
void env_set_sync_hook(struct env *env, env_sync_hook_fn *fn, void *arg);

int env_open(struct env *env, const char *path, enum env_open_mode mode, struct env_file **out);
/* Closes and frees f (NULL allowed); reports a failed close(2). */
int env_close(struct env_file *f);
const char *env_file_path(const struct env_file *f);

/* Write all n bytes at the end of f. */
int env_append(struct env_file *f, const void *data, size_t n);
/* Read up to n bytes at offset; *got < n only at the end of the file. */
int env_read_at(struct env_file *f, uint64_t offset, void *buf, size_t n, size_t *got);
/* fdatasync.  On Linux this also covers the bytes stored through a mapping
 * of f (env_map_write): a store through a shared mapping marks its page
 * dirty in the file's page cache, as write(2) does, and fdatasync writes
 * every dirty page of the file back (mm/msync.c: "dirty pages are properly
 * tracked ... the application may now run fsync() to write out the dirty
 * pages"), so no msync is needed. */
int env_sync(struct env_file *f);
int env_file_size(struct env_file *f, uint64_t *size);

/* ---- mapped files -------------------------------------------------------- */

struct env_map;

/* Reserve the disk blocks of [offset, offset + len) of f (posix_fallocate),
 * growing the file to offset + len when it is shorter; the new bytes read
 * as zeros.  After it, stores into a mapping of the range need no space
 * from the file system, on file systems that allocate in place (ext4, xfs,
 * tmpfs; not on copy-on-write ones such as btrfs).  A WRITE operation:
 * ENOSPC here is how a full disk shows. */
int env_allocate(struct env_file *f, uint64_t offset, uint64_t len);

/* Map [offset, offset + len) of f, which must lie inside the file (the
 * bytes past its end could not be stored to), shared and writable; f must
 * have been opened ENV_OPEN_READ_WRITE.  offset need not be page-aligned.
 * The pages are faulted in writable at once where the kernel can
 * (MADV_POPULATE_WRITE, Linux 5.14), rather than one page fault at a time
 * on the first store to each; a page that cannot be (what would be a
 * SIGBUS on a store) fails the call.  A MAP operation.  *out is NULL on
 * failure. */
int env_map(struct env_file *f, uint64_t offset, size_t len, struct env_map **out);

/* Copy n bytes to file offset offset, which must lie inside m.  No system
 * call.  The bytes land in file order, in pieces of at most 4 KiB aligned
 * on file offsets: a process killed during the copy leaves a prefix of
 * them, plus perhaps part of the piece being copied, and never a later
 * piece without the earlier ones.  A WRITE operation. */
int env_map_write(struct env_map *m, uint64_t offset, const void *data, size_t n);

/* Unmap and free m (NULL allowed); the mapping is gone whatever the status.
 * A MAP operation. */
int env_unmap(struct env_map *m);

/* Set f's size to size (ftruncate): bytes past it are gone.  A WRITE
 * operation. */
int env_truncate(struct env_file *f, uint64_t size);

int env_path_kind(struct env *env, const char *path, enum env_path_kind *kind);
int env_mkdir(struct env *env, const char *path);
int env_rmdir(struct env *env, const char *path);
int env_rename(struct env *env, const char *from, const char *to);
int env_unlink(struct env *env, const char *path);
/* fsync the directory, so that the names created, renamed and removed in it
 * survive a machine crash. */
int env_sync_dir(struct env *env, const char *dir);
/* The names in dir except "." and ".." in *names (an array of *count
 * strings, freed with env_free_names). */
int env_list_dir(struct env *env, const char *dir, char ***names, size_t *count);
void env_free_names(char **names, size_t count);

/* Create path if needed and take an exclusive lock on it (flock, so that a
 * second open of the same file fails even inside one process).
 * STRATA_BUSY when another holder has it.  Release with env_close. */
int env_lock_file(struct env *env, const char *path, struct env_file **lock);

/* Replace dir/name with data atomically: write dir/name.tmp, sync it,
 * rename it over dir/name, sync dir. */
int env_write_file_atomic(struct env *env, const char *dir, const char *name,
                          const void *data, size_t n);
/* A monotonic clock in microseconds, for durations (stall and busy times). */
uint64_t env_now_micros(void);

/* Read a whole (small) file into a new malloc'ed buffer. */
int env_read_file(struct env *env, const char *path, char **data, size_t *n);

/* Map the first size bytes of f (which holds at least that many) read-only
 * and shared, for reads without a system call each.  A READ operation.
 * The mapping stays valid after f is closed, until env_unmap_readonly.
 * The price of reading through it: a file shortened behind the mapping's
 * back, or a disk error while a page is read in, kills the process with
 * SIGBUS where pread would have returned an error; only immutable files
 * (tables) are mapped.  *map is NULL on failure. */
int env_map_readonly(struct env_file *f, uint64_t size, const char **map);
/* NULL allowed. */
void env_unmap_readonly(const char *map, uint64_t size);

#endif

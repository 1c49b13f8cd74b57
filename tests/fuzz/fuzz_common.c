/*
 * fuzz_common.c: the helpers of tests/fuzz/fuzz_common.h.
 *
 * The fix-ups rewrite only checksum fields, never lengths, types or
 * handles: what the fuzzer mutated stays as it made it, and only the guard
 * in front of it is made to agree, so that the decoders behind the
 * checksums see the damage.
 */
#include "tests/fuzz/fuzz_common.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sstable/block.h"
#include "sstable/format.h"
#include "src/coding.h"
#include "src/hash.h"
#include "src/status.h"
#include "wal/log_format.h"

/* ASan's defaults halve the executions per second here: freed memory
 * waits in a 256 MiB quarantine, so each input's allocations land on fresh
 * pages (a page fault each, costly in a VM), and the first 4 KiB of every
 * allocation is filled.  A 16 MiB quarantine still holds several inputs'
 * worth of frees, so a use after free is still caught.  ASAN_OPTIONS
 * overrides these. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=16:max_malloc_fill_size=0";
}

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    fprintf(stderr, "\n%s:%d: property broken: %s\n  ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  last status message: %s\n", strata_last_error());
    abort();
}

/* ---- taking an input apart ---------------------------------------------- */

uint8_t fuzz_byte(struct fuzz_input *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

struct slice fuzz_bytes(struct fuzz_input *in, size_t n)
{
    if (n > in->left)
        n = in->left;
    struct slice s = slice_make(in->p, n);
    in->p += n;
    in->left -= n;
    return s;
}

struct slice fuzz_lp(struct fuzz_input *in)
{
    return fuzz_bytes(in, fuzz_byte(in));
}

struct slice fuzz_rest(struct fuzz_input *in)
{
    return fuzz_bytes(in, in->left);
}

/* ---- the scratch file --------------------------------------------------- */

static struct env *the_env;
static char scratch_path[512];

struct env *fuzz_env(void)
{
    if (the_env == NULL && (the_env = env_new()) == NULL) {
        fprintf(stderr, "fuzz: env_new: out of memory\n");
        abort();
    }
    return the_env;
}

static void fuzz_remove_scratch(void)
{
    if (scratch_path[0])
        unlink(scratch_path);
}

/* STRATA_FUZZ_TMPDIR (run.sh makes one per run and removes it, with what
 * a crashed target left), else /dev/shm, which keeps the per-input write
 * and read in memory. */
static const char *fuzz_scratch_dir(void)
{
    const char *d = getenv("STRATA_FUZZ_TMPDIR");
    if (d && *d)
        return d;
    if (access("/dev/shm", W_OK) == 0)
        return "/dev/shm";
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

const char *fuzz_write_scratch(const void *data, size_t n)
{
    if (!scratch_path[0]) {
        snprintf(scratch_path, sizeof scratch_path, "%s/strata-fuzz-%ld", fuzz_scratch_dir(),
                 (long)getpid());
        atexit(fuzz_remove_scratch);
    }
    int fd = open(scratch_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(scratch_path);
        abort();
    }
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            perror(scratch_path);
            abort();
        }
        p += w;
        n -= (size_t)w;
    }
    close(fd);
    return scratch_path;
}

const char *fuzz_scratch_path(void)
{
    return scratch_path;
}

static struct env_file *fuzz_open_mode(enum env_open_mode mode)
{
    struct env_file *f;
    if (env_open(fuzz_env(), scratch_path, mode, &f) != STRATA_OK) {
        fprintf(stderr, "fuzz: %s\n", strata_last_error());
        abort();
    }
    return f;
}

struct env_file *fuzz_create_scratch(int rw)
{
    fuzz_write_scratch("", 0);
    return fuzz_open_mode(rw ? ENV_OPEN_READ_WRITE : ENV_OPEN_TRUNCATE);
}

struct env_file *fuzz_open_scratch(void)
{
    return fuzz_open_mode(ENV_OPEN_READ);
}

/* ---- the log ------------------------------------------------------------------ */

void fuzz_fix_log_checksums(char *image, size_t n)
{
    for (size_t block = 0; block < n; block += LOG_BLOCK_SIZE) {
        size_t end = block + LOG_BLOCK_SIZE < n ? block + LOG_BLOCK_SIZE : n;
        size_t pos = block;
        while (end - pos >= LOG_HEADER_SIZE) {
            size_t len = decode_fixed16(image + pos + 4);
            unsigned type = (unsigned char)image[pos + 6];
            if (len > end - pos - LOG_HEADER_SIZE)
                break;
            encode_fixed32(image + pos, checksum32(image + pos + LOG_HEADER_SIZE, len, type));
            pos += LOG_HEADER_SIZE + len;
        }
    }
}

/* ---- the table ---------------------------------------------------------------- */

/* Fix the trailer of the block at h; 1 when h lies inside the image. */
static int fuzz_fix_trailer(char *image, size_t n, const struct block_handle *h)
{
    if (h->size > n || n - h->size < BLOCK_TRAILER_SIZE ||
        h->offset > n - h->size - BLOCK_TRAILER_SIZE)
        return 0;
    char *raw = image + h->offset;
    size_t size = (size_t)h->size;
    unsigned type = (unsigned char)raw[size];
    encode_fixed32(raw + size + 1, checksum32(raw, size, type));
    return 1;
}

/* Fix the trailer of the block at h, then that of every block named by a
 * handle in its values (all of them, for the index; for the metaindex,
 * the filter and the properties).  Values that are not handles are
 * skipped. */
static void fuzz_fix_block_and_children(char *image, size_t n, const struct block_handle *h)
{
    if (!fuzz_fix_trailer(image, n, h))
        return;
    struct slice contents;
    int copied;
    if (block_read_mapped(image, n, "fuzz", h, 0, &contents, &copied) != STRATA_OK)
        return;
    struct block *b;
    /* block_open frees the contents itself when it owns them. */
    if (block_open(contents, copied, NULL, &b) != STRATA_OK)
        return;
    struct iter *it = block_iter_new(b, slice_compare, NULL, NULL);
    if (it != NULL) {
        for (iter_seek_to_first(it); iter_valid(it); iter_next(it)) {
            struct slice v = iter_value(it);
            const char *p = v.data;
            struct block_handle child;
            if (block_handle_decode(&p, v.data + v.len, &child) && p == v.data + v.len)
                fuzz_fix_trailer(image, n, &child);
        }
        iter_destroy(it);
    }
    block_free(b);
}

void fuzz_fix_table_checksums(char *image, size_t n)
{
    if (n < FOOTER_SIZE)
        return;
    char *footer = image + n - FOOTER_SIZE;
    /* The footer's checksum covers its first 44 bytes (format.c). */
    encode_fixed32(footer + 44, checksum32(footer, 44, 0));
    struct footer f;
    if (footer_decode(footer, "fuzz", &f) != STRATA_OK)
        return;
    fuzz_fix_block_and_children(image, n, &f.index);
    fuzz_fix_block_and_children(image, n, &f.metaindex);
}

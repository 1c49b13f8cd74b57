/*
 * fuzz_common.h: what the libFuzzer targets of tests/fuzz/ share: a cursor
 * that takes bytes off the front of an input, a failure macro that aborts
 * (so libFuzzer records the input as a crash), a scratch file for the
 * decoders that read through the env layer, and the checksum fix-ups that
 * let mutated tables and logs get past their checksums to the decoders
 * behind them.
 *
 * The layout of each target's input (its flag byte, its modes) is
 * described at the top of that target's file; tests/fuzz/make_corpus.c
 * writes seeds in those layouts.
 */
#ifndef STRATA_FUZZ_COMMON_H
#define STRATA_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "src/env.h"
#include "src/slice.h"

/* A broken property: print where and why, then abort, which libFuzzer
 * reports as a crash and saves the input for. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                     \
    } while (0)

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* ---- taking an input apart ---------------------------------------------- */

struct fuzz_input {
    const uint8_t *p;
    size_t left;
};

static inline struct fuzz_input fuzz_input_make(const uint8_t *data, size_t size)
{
    struct fuzz_input in = { data, size };
    return in;
}

/* The next byte, or 0 when the input is used up. */
uint8_t fuzz_byte(struct fuzz_input *in);
/* Up to n bytes (fewer at the end of the input). */
struct slice fuzz_bytes(struct fuzz_input *in, size_t n);
/* A length byte, then that many bytes. */
struct slice fuzz_lp(struct fuzz_input *in);
/* Whatever is left. */
struct slice fuzz_rest(struct fuzz_input *in);

/* ---- the scratch file --------------------------------------------------- */

/* The one env every target uses (created on first use, never freed). */
struct env *fuzz_env(void);

/* Replace this process's scratch file (in $STRATA_FUZZ_TMPDIR when set,
 * else /dev/shm when it is writable, else $TMPDIR or /tmp; removed at a
 * normal exit) with the bytes, and return its path. */
const char *fuzz_write_scratch(const void *data, size_t n);

/* The scratch file's path (valid once a scratch file was written or
 * created, and for the life of the process). */
const char *fuzz_scratch_path(void);

/* Create (or empty) the scratch file and open it through the env for
 * writing (ENV_OPEN_READ_WRITE when rw, else ENV_OPEN_TRUNCATE); aborts on
 * failure. */
struct env_file *fuzz_create_scratch(int rw);

/* Open the scratch file for reading through the env; aborts on failure
 * (the file was just written: failing to open it is the harness's
 * problem, not a finding). */
struct env_file *fuzz_open_scratch(void);

/* ---- checksum fix-ups ----------------------------------------------------- */

/* Recompute the checksum of every fragment of the log image whose header
 * and length fit in its 32 KiB block, following the fragment chain as the
 * reader would. */
void fuzz_fix_log_checksums(char *image, size_t n);

/* Recompute the checksums of a table image: the footer's, then the
 * trailers of the index and metaindex blocks it points to, then those of
 * the data blocks the index points to and of the blocks the metaindex
 * names (filter, properties).  A handle that points outside the image is
 * left alone; so is anything behind a block that cannot be decoded. */
void fuzz_fix_table_checksums(char *image, size_t n);

#endif

/*
 * testutil.h: small helpers shared by the database-level tests: temporary
 * directories under /tmp, file surgery (read, write, truncate, flip a byte),
 * a deterministic PRNG, key formatting, and a buffer followed by an
 * inaccessible page (to prove a size check rejects before reading).
 *
 * Nothing here calls Criterion: the helpers return status values and the
 * tests assert on them.
 */
#ifndef STRATA_TESTUTIL_H
#define STRATA_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* ---- directories and files ------------------------------------------------ */

/* A new empty directory /tmp/strata-<tag>-XXXXXX (malloc'ed path), or NULL. */
char *tu_mkdtemp(const char *tag);
/* Remove path and everything below it (a missing path is fine).  0 or -1. */
int tu_rmrf(const char *path);
/* "dir/name" in a new malloc'ed string. */
char *tu_join(const char *dir, const char *name);

int tu_exists(const char *path);
int tu_is_dir(const char *path);
/* File size, or -1. */
long long tu_file_size(const char *path);
/* Read a whole file into a new malloc'ed, NUL-terminated buffer; NULL on
 * failure. */
char *tu_read_file(const char *path, size_t *len);
/* Create or replace path with the bytes.  0 or -1. */
int tu_write_file(const char *path, const void *data, size_t len);
/* XOR the byte at offset with mask.  0 or -1. */
int tu_xor_byte(const char *path, long long offset, unsigned char mask);
/* The byte at offset, or -1. */
int tu_get_byte(const char *path, long long offset);
int tu_truncate(const char *path, long long len);
/* Copy every regular file of dir src into dir dst (created if needed). */
int tu_copy_dir(const char *src, const char *dst);

/* The numbers of the files "NNNNNN<suffix>" in dir (suffix ".log"), sorted
 * ascending, in a malloc'ed array; *count their number.  NULL on failure
 * (or when there are none: then *count is 0). */
uint64_t *tu_numbered_files(const char *dir, const char *suffix, size_t *count);
/* The path of the highest-numbered non-empty .log file in dir (malloc'ed),
 * or NULL. */
char *tu_last_log(const char *dir);
/* Number of names in dir except . and .., or -1. */
int tu_count_entries(const char *dir);

/* ---- a deterministic PRNG (splitmix64) -------------------------------------- */

struct tu_rng {
    uint64_t state;
};

void tu_rng_seed(struct tu_rng *r, uint64_t seed);
uint64_t tu_rng_next(struct tu_rng *r);
/* Uniform in [0, n) (n > 0). */
uint64_t tu_rng_uniform(struct tu_rng *r, uint64_t n);
/* 1 with probability num/den. */
int tu_rng_chance(struct tu_rng *r, uint64_t num, uint64_t den);
/* A seed from the clock, for tests that print theirs. */
uint64_t tu_clock_seed(void);

/* ---- keys and values --------------------------------------------------------- */

/* "<prefix><i as %08llu>" into buf (size n); returns the length. */
size_t tu_key(char *buf, size_t n, const char *prefix, uint64_t i);
/* A deterministic value for (i, tag) of length len into buf (size >= len). */
void tu_value(char *buf, size_t len, uint64_t i, uint64_t tag);

/* ---- a buffer with an inaccessible page right after it ----------------------- */

/* n (<= 4096) readable bytes immediately followed by a PROT_NONE page: any
 * read past the n bytes faults.  NULL on failure.  Free with tu_guarded_free. */
void *tu_guarded_alloc(size_t n);
void tu_guarded_free(void *p, size_t n);

/* ---- time ----------------------------------------------------------------------- */

/* Monotonic milliseconds. */
uint64_t tu_now_ms(void);
void tu_sleep_ms(unsigned ms);

#endif

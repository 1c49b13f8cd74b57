/*
 * options.h: the option structs behind strata.h's opaque handles, and their
 * defaults.  The database copies the options at open, so the caller may free
 * or change its strata_options afterwards.
 */
#ifndef STRATA_OPTIONS_H
#define STRATA_OPTIONS_H

#include <stddef.h>

#include "src/buf.h"
#include "strata.h"

struct env;

enum {
    DEFAULT_WRITE_BUFFER_SIZE = 4 << 20,
    MIN_WRITE_BUFFER_SIZE = 64 << 10,
    DEFAULT_BLOCK_SIZE = 4096,
    MIN_BLOCK_SIZE = 256,
    DEFAULT_BLOCK_CACHE_SIZE = 8 << 20,
    DEFAULT_BLOOM_BITS_PER_KEY = 10,
    MAX_BLOOM_BITS_PER_KEY = 30,
    DEFAULT_COMPRESSION_LEVEL = -1,
    DEFAULT_MAX_OPEN_FILES = 1000,
    MIN_MAX_OPEN_FILES = 16,
    DEFAULT_TARGET_FILE_SIZE = 2 << 20,
    MIN_TARGET_FILE_SIZE = 16 << 10,
    DEFAULT_MAX_BYTES_FOR_LEVEL_BASE = 10 << 20,
    MIN_MAX_BYTES_FOR_LEVEL_BASE = 64 << 10,
    DEFAULT_LEVEL_MULTIPLIER = 10,
    MIN_LEVEL_MULTIPLIER = 2,
    MAX_LEVEL_MULTIPLIER = 100,
    LEVEL0_COMPACTION_TRIGGER = 4,
    DEFAULT_LEVEL0_SLOWDOWN_TRIGGER = 8,
    DEFAULT_LEVEL0_STOP_TRIGGER = 12,
};

struct strata_options {
    int create_if_missing;
    int error_if_exists;
    int paranoid_checks;
    size_t write_buffer_size;
    size_t block_size;
    size_t block_cache_size;
    int bloom_bits_per_key;
    int compression;         /* STRATA_COMPRESSION_* */
    int compression_level;
    int max_open_files;
    int mmap_reads;
    size_t target_file_size;
    size_t max_bytes_for_level_base;
    int max_bytes_for_level_multiplier;
    int level0_slowdown_trigger;
    int level0_stop_trigger; /* >= level0_slowdown_trigger, enforced at open */
    /* Tests only, not settable through strata.h: the file-system layer the
     * database uses instead of a new one of its own, so that faults can be
     * injected from the first operation of strata_open on.  Not owned: the
     * caller frees it after strata_close.  NULL (the default): a new one. */
    struct env *env;
};

struct strata_write_options {
    int sync;
};

struct strata_read_options {
    const strata_snapshot *snapshot;
    int verify_checksums;
    int fill_cache;
    int has_lower, has_upper;
    int bound_error; /* a bound over 2^32-1 bytes, or a failed copy of one */
    struct buf lower, upper;
};

/* The defaults, for a NULL options argument. */
void options_init_defaults(struct strata_options *o);
extern const struct strata_write_options default_write_options;

#endif

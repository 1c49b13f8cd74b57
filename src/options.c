/* options.c: option objects and their setters (see strata.h for meanings). */
#include "src/options.h"

#include <stdlib.h>

#include "src/status.h"

const struct strata_write_options default_write_options = { 0 };

void options_init_defaults(struct strata_options *o)
{
    o->create_if_missing = 1;
    o->error_if_exists = 0;
    o->paranoid_checks = 1;
    o->write_buffer_size = DEFAULT_WRITE_BUFFER_SIZE;
    o->block_size = DEFAULT_BLOCK_SIZE;
    o->block_cache_size = DEFAULT_BLOCK_CACHE_SIZE;
    o->bloom_bits_per_key = DEFAULT_BLOOM_BITS_PER_KEY;
    o->compression = STRATA_COMPRESSION_ZSTD;
    o->compression_level = DEFAULT_COMPRESSION_LEVEL;
    o->max_open_files = DEFAULT_MAX_OPEN_FILES;
    o->mmap_reads = sizeof(void *) >= 8; /* 32-bit address space is too small to map tables */
    o->target_file_size = DEFAULT_TARGET_FILE_SIZE;
    o->max_bytes_for_level_base = DEFAULT_MAX_BYTES_FOR_LEVEL_BASE;
    o->max_bytes_for_level_multiplier = DEFAULT_LEVEL_MULTIPLIER;
    o->level0_slowdown_trigger = DEFAULT_LEVEL0_SLOWDOWN_TRIGGER;
    o->level0_stop_trigger = DEFAULT_LEVEL0_STOP_TRIGGER;
    o->env = NULL;
}

strata_options *strata_options_new(void)
{
    strata_options *o = malloc(sizeof *o);
    if (!o) {
        status_set(STRATA_NO_MEMORY, "strata_options_new: out of memory");
        return NULL;
    }
    options_init_defaults(o);
    return o;
}

void strata_options_free(strata_options *o)
{
    free(o);
}

void strata_options_set_create_if_missing(strata_options *o, int on)
{
    if (o)
        o->create_if_missing = on != 0;
}

void strata_options_set_error_if_exists(strata_options *o, int on)
{
    if (o)
        o->error_if_exists = on != 0;
}

void strata_options_set_paranoid_checks(strata_options *o, int on)
{
    if (o)
        o->paranoid_checks = on != 0;
}

void strata_options_set_write_buffer_size(strata_options *o, size_t bytes)
{
    if (o)
        o->write_buffer_size = bytes < MIN_WRITE_BUFFER_SIZE ? MIN_WRITE_BUFFER_SIZE : bytes;
}

void strata_options_set_block_size(strata_options *o, size_t bytes)
{
    if (o)
        o->block_size = bytes < MIN_BLOCK_SIZE ? MIN_BLOCK_SIZE : bytes;
}

void strata_options_set_block_cache_size(strata_options *o, size_t bytes)
{
    if (o)
        o->block_cache_size = bytes;
}

void strata_options_set_bloom_bits_per_key(strata_options *o, int bits)
{
    if (o)
        o->bloom_bits_per_key = bits < 0 ? 0 : bits > MAX_BLOOM_BITS_PER_KEY ? MAX_BLOOM_BITS_PER_KEY : bits;
}

/* An unknown codec is kept and refused by strata_open with a message: the
 * setter cannot report it, and silently storing data uncompressed would
 * hide the mistake. */
void strata_options_set_compression(strata_options *o, int codec)
{
    if (o)
        o->compression = codec;
}

void strata_options_set_compression_level(strata_options *o, int level)
{
    if (o)
        o->compression_level = level;
}

void strata_options_set_max_open_files(strata_options *o, int n)
{
    if (o)
        o->max_open_files = n < MIN_MAX_OPEN_FILES ? MIN_MAX_OPEN_FILES : n;
}

strata_write_options *strata_write_options_new(void)
{
    strata_write_options *wo = calloc(1, sizeof *wo);
    if (!wo)
        status_set(STRATA_NO_MEMORY, "strata_write_options_new: out of memory");
    return wo;
}

void strata_write_options_free(strata_write_options *wo)
{
    free(wo);
}

void strata_write_options_set_sync(strata_write_options *wo, int on)
{
    if (wo)
        wo->sync = on != 0;
}

strata_read_options *strata_read_options_new(void)
{
    strata_read_options *ro = calloc(1, sizeof *ro);
    if (!ro) {
        status_set(STRATA_NO_MEMORY, "strata_read_options_new: out of memory");
        return NULL;
    }
    ro->fill_cache = 1;
    return ro;
}

void strata_read_options_free(strata_read_options *ro)
{
    if (!ro)
        return;
    buf_free(&ro->lower);
    buf_free(&ro->upper);
    free(ro);
}

void strata_read_options_set_snapshot(strata_read_options *ro, const strata_snapshot *s)
{
    if (ro)
        ro->snapshot = s;
}

void strata_read_options_set_verify_checksums(strata_read_options *ro, int on)
{
    if (ro)
        ro->verify_checksums = on != 0;
}

void strata_read_options_set_fill_cache(strata_read_options *ro, int on)
{
    if (ro)
        ro->fill_cache = on != 0;
}

/* Copy a bound.  The setters return void, so a bound that is too long or
 * could not be copied is remembered in bound_error: strata_iter_new refuses
 * such options rather than iterate without the bound the caller asked for. */
static void set_bound(strata_read_options *ro, struct buf *b, int *has, const void *key, size_t klen)
{
    buf_clear(b);
    *has = 0;
    ro->bound_error = STRATA_OK;
    if (!key)
        return;
    if (klen > UINT32_MAX)
        ro->bound_error = STRATA_INVALID_ARGUMENT;
    else if (buf_append(b, key, klen) == STRATA_OK)
        *has = 1;
    else
        ro->bound_error = STRATA_NO_MEMORY;
}

void strata_read_options_set_lower_bound(strata_read_options *ro, const void *key, size_t klen)
{
    if (ro)
        set_bound(ro, &ro->lower, &ro->has_lower, key, klen);
}

void strata_read_options_set_upper_bound(strata_read_options *ro, const void *key, size_t klen)
{
    if (ro)
        set_bound(ro, &ro->upper, &ro->has_upper, key, klen);
}

void strata_options_set_target_file_size(strata_options *o, size_t bytes)
{
    if (o)
        o->target_file_size = bytes < MIN_TARGET_FILE_SIZE ? MIN_TARGET_FILE_SIZE : bytes;
}

void strata_options_set_max_bytes_for_level_base(strata_options *o, size_t bytes)
{
    if (o)
        o->max_bytes_for_level_base =
            bytes < MIN_MAX_BYTES_FOR_LEVEL_BASE ? MIN_MAX_BYTES_FOR_LEVEL_BASE : bytes;
}

void strata_options_set_max_bytes_for_level_multiplier(strata_options *o, int m)
{
    if (o)
        o->max_bytes_for_level_multiplier = m < MIN_LEVEL_MULTIPLIER   ? MIN_LEVEL_MULTIPLIER
                                            : m > MAX_LEVEL_MULTIPLIER ? MAX_LEVEL_MULTIPLIER
                                                                       : m;
}

void strata_options_set_level0_slowdown_trigger(strata_options *o, int n)
{
    if (o)
        o->level0_slowdown_trigger = n < 1 ? 1 : n;
}

void strata_options_set_level0_stop_trigger(strata_options *o, int n)
{
    if (o)
        o->level0_stop_trigger = n < 1 ? 1 : n;
}

void strata_options_set_mmap_reads(strata_options *o, int on)
{
    if (o)
        o->mmap_reads = on != 0;
}

/*
 * table_builder.h: writes a table (sstable/format.h) from internal keys
 * added in increasing order.
 *
 * Data blocks are cut when they reach block_size; the index gets, for each
 * data block, a short separator: an internal key >= every key of the block
 * and < every key of the next (the shortest such user key, tagged to sort
 * first), so the index stays small.  The bloom filter covers the user keys.
 * The properties block records counts, sizes, the key and sequence-number
 * ranges, the settings and the creation time.  One thread at a time.
 */
#ifndef STRATA_TABLE_BUILDER_H
#define STRATA_TABLE_BUILDER_H

#include <stdint.h>

#include "src/buf.h"
#include "src/env.h"
#include "src/slice.h"

struct table_builder_options {
    size_t block_size;       /* target bytes of a data block before compression */
    int restart_interval;    /* entries between restart points in data blocks */
    int bloom_bits_per_key;  /* 0: no filter */
    int compression;         /* STRATA_COMPRESSION_* */
    int compression_level;
};

struct table_properties {
    uint64_t entries, deletions;
    uint64_t raw_key_bytes, raw_value_bytes;
    uint64_t data_bytes;        /* stored bytes of the data blocks, trailers included */
    uint64_t index_bytes, filter_bytes; /* stored bytes, trailer included (0: no filter) */
    uint64_t data_blocks;
    uint64_t smallest_seq, largest_seq;
    uint64_t creation_time;     /* seconds since the epoch */
    uint64_t bloom_bits_per_key, compression;
    uint64_t compression_level; /* a negative level as two's complement: cast to int64_t */
    struct buf smallest_key, largest_key; /* internal keys (largest_key: set by finish) */
};

struct table_builder;

/* A builder writing to file from its current end (the caller opened it
 * empty; the builder does not own it).  NULL when out of memory. */
struct table_builder *table_builder_new(const struct table_builder_options *o,
                                        struct env_file *file);
/* key is an internal key greater than every key added before. */
int table_builder_add(struct table_builder *b, struct slice key, struct slice value);
/* Write the remaining blocks and the footer (not synced: the caller syncs,
 * renames and syncs the directory). */
int table_builder_finish(struct table_builder *b);
/* Bytes written so far (the file size after finish). */
uint64_t table_builder_file_size(const struct table_builder *b);
const struct table_properties *table_builder_properties(const struct table_builder *b);
/* Free the builder, finished or not (an unfinished file is the caller's to
 * delete). */
void table_builder_free(struct table_builder *b);

void table_properties_free(struct table_properties *p);

/* Set the field of p that the property name stands for from its stored
 * value (docs/sstable_format.md, "Properties block"): what table_open uses
 * on each entry of the properties block.  Names this version does not know
 * are ignored, so newer writers may add properties.  STRATA_CORRUPTION
 * (without a message: the caller names the file) when a number is
 * malformed, STRATA_NO_MEMORY. */
int table_properties_decode_one(struct table_properties *p, struct slice name, struct slice value);

#endif

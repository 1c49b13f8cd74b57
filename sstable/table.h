/*
 * table.h: reads a table (sstable/format.h).  Opening reads and checks the
 * footer, the index block, the metaindex, the filter and the properties,
 * and keeps them in memory while the table is open; data blocks are read
 * on demand through the block cache (when one is given): the cache holds
 * decompressed blocks, charged by their size, keyed by (cache id of this
 * table, block offset).
 *
 * An open table is immutable and may be read from many threads at once.
 */
#ifndef STRATA_TABLE_H
#define STRATA_TABLE_H

#include <stdint.h>

#include "sstable/cache.h"
#include "sstable/table_builder.h"
#include "src/env.h"
#include "src/iterator.h"

struct table;

struct table_open_options {
    struct cache *block_cache;  /* NULL: blocks are read for each use */
    int paranoid_checks;        /* verify every checksum on every read */
    int mmap_reads;             /* read data blocks from a mapping of the file, not with pread */
};

/* Per-read choices (strata_read_options). */
struct table_read_options {
    int verify_checksums;  /* in addition to paranoid_checks */
    int fill_cache;        /* keep blocks read in the block cache */
};

/* Open the table in file (which the table owns from now on, and closes in
 * table_close, also when opening fails) of file_size bytes.  Damage gives
 * STRATA_CORRUPTION naming the file and offset. */
int table_open(struct env_file *file, uint64_t file_size, const struct table_open_options *o,
               struct table **out);
void table_close(struct table *t);

enum table_get_result { TABLE_ABSENT = 0, TABLE_FOUND = 1, TABLE_DELETED = 2 };

/* The newest entry for the user key of lookup (an internal key: user key,
 * sequence, TYPE_FOR_SEEK) with a sequence number <= lookup's.  On FOUND the
 * value is appended to value (reset first).  Returns the result (>= 0) or a
 * negative status (STRATA_CORRUPTION, STRATA_IO_ERROR, STRATA_NO_MEMORY).
 * The bloom filter is consulted first. */
int table_get(struct table *t, const struct table_read_options *ro, struct slice lookup,
              struct buf *value);

/* 0 when the filter rules the user key out (hash = hash64(user key, 0)). */
int table_may_contain(const struct table *t, uint64_t user_key_hash);

/* An iterator over every entry (internal keys).  NULL when out of memory.
 * The table must stay open until the iterator is destroyed. */
struct iter *table_iter_new(struct table *t, const struct table_read_options *ro);

/* The file offset where the entry for key (internal key) would be: for
 * estimating sizes of key ranges. */
uint64_t table_approximate_offset(const struct table *t, struct slice key);

const struct table_properties *table_get_properties(const struct table *t);
const char *table_path(const struct table *t);

#endif

/*
 * block_builder.h: builds one block of a table: key-sorted entries with
 * prefix-compressed keys and restart points (docs/sstable_format.md).
 *
 * Entry: varint32 shared | varint32 unshared | varint32 value length |
 *        unshared key bytes | value
 * where shared is the number of leading bytes the key has in common with
 * the previous key; at a restart point shared is 0 (the key is whole), so a
 * reader can binary-search the restart points and decode from there.  After
 * the entries: fixed32 offset of each restart point, then fixed32 count.
 * The first entry is a restart point, then every restart_interval-th entry.
 * An empty block has no restart point: it is the count alone, 4 zero bytes
 * (and the reader accepts no other spelling of it).
 *
 * The caller adds keys in strictly increasing order of its comparator (the
 * builder never compares).  One thread at a time.
 */
#ifndef STRATA_BLOCK_BUILDER_H
#define STRATA_BLOCK_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"

struct block_builder {
    struct buf data;       /* entries, then (after finish) the restart array */
    struct buf restarts;   /* uint32 offsets, native order, encoded at finish */
    struct buf last_key;
    int restart_interval;  /* entries between restart points (>= 1) */
    int since_restart;
    uint32_t entries;
    int finished;
};

/* restart_interval below 1 is taken as 1. */
void block_builder_init(struct block_builder *b, int restart_interval);
void block_builder_free(struct block_builder *b);
/* Forget the contents, keep the allocations: ready for the next block. */
void block_builder_reset(struct block_builder *b);
/* STRATA_OK or STRATA_NO_MEMORY; STRATA_INVALID_ARGUMENT after finish, or
 * when the entries would pass UINT32_MAX bytes (offsets are 32-bit).  On
 * failure the builder is unchanged. */
int block_builder_add(struct block_builder *b, struct slice key, struct slice value);
/* Append the restart array; the block's bytes stay valid until reset or
 * free.  STRATA_OK or STRATA_NO_MEMORY.  Calling it again returns the same
 * block. */
int block_builder_finish(struct block_builder *b, struct slice *contents);
/* The size the block would have if finished now (exact): entries +
 * 4 * (restart points + 1). */
size_t block_builder_size_estimate(const struct block_builder *b);
static inline int block_builder_empty(const struct block_builder *b) { return b->entries == 0; }

#endif

/*
 * memtable.h: the in-memory write buffer, a skiplist of internal keys.
 *
 * Each update is one entry in the memtable's arena:
 *     varint32 user key length | user key | fixed64 tag | varint32 value length | value
 * where tag = (sequence number << 8) | value type (src/dbformat.h).  The
 * skiplist orders entries by internal key: user key ascending, then newest
 * first.
 *
 * One writer at a time calls memtable_add (the write path serializes);
 * memtable_get and iterators may run at any time in other threads without a
 * lock.  A memtable is reference-counted: the database holds one reference
 * while it is the current or immutable memtable, and each iterator holds
 * one, so that a flushed memtable stays readable until its last reader is
 * done.
 */
#ifndef STRATA_MEMTABLE_H
#define STRATA_MEMTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "src/dbformat.h"
#include "src/iterator.h"
#include "src/slice.h"

struct memtable;
struct arena_pool;

/* A new memtable with one reference, or NULL when out of memory.  Its arena
 * mallocs fresh blocks and frees them with the memtable. */
struct memtable *memtable_new(void);
/* The same, with the arena's blocks taken from pool and given back to it
 * when the memtable is freed (pool NULL: memtable_new()).  Every memtable
 * of a pool must be freed before the pool. */
struct memtable *memtable_new_pooled(struct arena_pool *pool);
void memtable_ref(struct memtable *m);
/* Drops a reference; frees the memtable when it was the last. */
void memtable_unref(struct memtable *m);

/* Add an update.  (user_key, sequence) must be new to this memtable.
 * value is ignored for TYPE_DELETION.  STRATA_OK or STRATA_NO_MEMORY (the
 * memtable is unchanged then). */
int memtable_add(struct memtable *m, uint64_t sequence, enum value_type type,
                 struct slice user_key, struct slice value);

enum memtable_get_result {
    MEMTABLE_ABSENT = 0,  /* no entry for the key at or below the sequence */
    MEMTABLE_FOUND = 1,   /* *value points into the memtable's arena */
    MEMTABLE_DELETED = 2, /* the newest visible entry is a deletion */
};

/* The newest entry for user_key with sequence number <= sequence.  A found
 * value stays valid while the caller holds a reference. */
enum memtable_get_result memtable_get(struct memtable *m, struct slice user_key,
                                      uint64_t sequence, struct slice *value);

/* An iterator over all entries in internal-key order (key(): the internal
 * key; value(): the value, empty for deletions).  It holds a reference on
 * the memtable until destroyed.  NULL when out of memory. */
struct iter *memtable_iter_new(struct memtable *m);

/* Bytes of memory the memtable holds (its arena's blocks). */
size_t memtable_memory_usage(const struct memtable *m);
/* Bytes its entries and nodes take: what write_buffer_size is compared
 * against.  Unlike the memory usage it does not jump by a whole arena block
 * at the first write, so a small write buffer still holds many writes. */
size_t memtable_data_size(const struct memtable *m);
/* Number of entries added. */
uint64_t memtable_count(const struct memtable *m);

#endif

/*
 * table_cache.h: the open tables of a database, by file number.
 *
 * At most max_open_files tables are open at once: an LRU (sstable/cache.h,
 * charge 1 per table) closes the least recently used unpinned table when a
 * new one must open.  A table is pinned while a get or an iterator uses it.
 * Thread-safe.
 */
#ifndef STRATA_TABLE_CACHE_H
#define STRATA_TABLE_CACHE_H

#include <stdint.h>

#include "sstable/cache.h"
#include "sstable/table.h"
#include "src/env.h"
#include "src/iterator.h"

struct table_cache;

/* NULL when out of memory.  Tables open with o (copied). */
struct table_cache *table_cache_new(struct env *env, const char *dir, int max_open_files,
                                    const struct table_open_options *o);
void table_cache_free(struct table_cache *tc);

/* table_get on table number (of file_size bytes), opening it if needed. */
int table_cache_get(struct table_cache *tc, uint64_t number, uint64_t file_size,
                    const struct table_read_options *ro, struct slice lookup, struct buf *value);

/* An iterator over table number that keeps it pinned until destroyed, in
 * *out; on failure (the table does not open, or out of memory) the status
 * code, with the message set, and *out is NULL. */
int table_cache_iter(struct table_cache *tc, uint64_t number, uint64_t file_size,
                     const struct table_read_options *ro, struct iter **out);

/* Close table number if open and unpinned (its file is being deleted). */
void table_cache_evict(struct table_cache *tc, uint64_t number);

void table_cache_get_stats(struct table_cache *tc, struct cache_stats *s);

#endif

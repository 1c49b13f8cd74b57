/*
 * level_iter.h: one iterator over the tables of a level from L1 down (or
 * any list of tables sorted by key whose ranges do not overlap).
 *
 * Only the table under the cursor is open (through the table cache): a seek
 * binary-searches the list by the tables' key ranges and opens one table,
 * so seeking a level costs one table seek however many tables it holds,
 * where one iterator per table would cost a seek in each.
 *
 * The iterator borrows the list and its table metadata: the caller keeps
 * them alive (by holding the version they belong to) until it is destroyed.
 */
#ifndef STRATA_LEVEL_ITER_H
#define STRATA_LEVEL_ITER_H

#include <stddef.h>

#include "sstable/table.h"
#include "src/iterator.h"
#include "src/table_cache.h"
#include "src/version.h"

/* NULL when out of memory (message set).  ro is copied. */
struct iter *level_iter_new(struct table_cache *tc, struct table_meta *const *tables, size_t n,
                            const struct table_read_options *ro);

#endif

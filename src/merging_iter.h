/*
 * merging_iter.h: one sorted view over several sorted internal iterators
 * (the memtable, the immutable memtable, the tables).
 *
 * Children are kept in a binary heap by their current key: a min-heap while
 * moving forward, a max-heap while moving backward, so each step costs
 * O(log n) comparisons.  Internal keys are unique across children (each
 * update has its own sequence number), so there are no ties to break.
 * Changing direction repositions every other child around the current key.
 */
#ifndef STRATA_MERGING_ITER_H
#define STRATA_MERGING_ITER_H

#include "src/iterator.h"

/* A merging iterator that owns the n children (and destroys them).  With one
 * child, that child itself is returned.  On failure (NULL, out of memory)
 * the children are destroyed. */
struct iter *merging_iter_new(struct iter **children, int n);

#endif

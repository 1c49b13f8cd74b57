/*
 * iterator.h: the internal iterator interface.
 *
 * Every sorted source of entries (a memtable, a table, a merge of several)
 * offers the same operations over internal keys, so that the merging
 * iterator and the database iterator work on any mix of them.  An iterator
 * is used by one thread at a time.  key() and value() are valid while the
 * iterator is valid and until it moves.  next() and prev() require a valid
 * iterator.  seek() positions at the first entry >= target (an internal
 * key); seek_for_prev() at the last entry <= target.  When a source fails
 * (a read error, a checksum mismatch), the iterator becomes invalid and
 * status() returns the error; status_set() has recorded its message.
 */
#ifndef STRATA_ITERATOR_H
#define STRATA_ITERATOR_H

#include "src/slice.h"

struct iter;

struct iter_ops {
    int (*valid)(const struct iter *it);
    void (*seek_to_first)(struct iter *it);
    void (*seek_to_last)(struct iter *it);
    void (*seek)(struct iter *it, struct slice target);
    void (*seek_for_prev)(struct iter *it, struct slice target);
    void (*next)(struct iter *it);
    void (*prev)(struct iter *it);
    struct slice (*key)(const struct iter *it);
    struct slice (*value)(const struct iter *it);
    int (*status)(const struct iter *it);
    void (*destroy)(struct iter *it);
};

/* Embedded as the first member of each implementation. */
struct iter {
    const struct iter_ops *ops;
};

static inline int iter_valid(const struct iter *it) { return it->ops->valid(it); }
static inline void iter_seek_to_first(struct iter *it) { it->ops->seek_to_first(it); }
static inline void iter_seek_to_last(struct iter *it) { it->ops->seek_to_last(it); }
static inline void iter_seek(struct iter *it, struct slice t) { it->ops->seek(it, t); }
static inline void iter_seek_for_prev(struct iter *it, struct slice t) { it->ops->seek_for_prev(it, t); }
static inline void iter_next(struct iter *it) { it->ops->next(it); }
static inline void iter_prev(struct iter *it) { it->ops->prev(it); }
static inline struct slice iter_key(const struct iter *it) { return it->ops->key(it); }
static inline struct slice iter_value(const struct iter *it) { return it->ops->value(it); }
static inline int iter_status(const struct iter *it) { return it->ops->status(it); }
/* NULL is allowed. */
static inline void iter_destroy(struct iter *it) { if (it) it->ops->destroy(it); }

#endif

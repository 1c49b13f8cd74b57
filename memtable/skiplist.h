/*
 * skiplist.h: an ordered set of keys, one writer and any number of readers.
 *
 * Keys are pointers to bytes the caller owns (in the memtable, entries in
 * its arena) and must outlive the list; the list never copies or frees
 * them.  Nodes are allocated from the arena given at creation.
 *
 * Concurrency: inserts are serialized by the caller (one writer at a time).
 * Readers need no lock: a node is fully built before it is published with a
 * release store, and readers follow next pointers with acquire loads, so a
 * reader sees each node either not at all or whole.  Nodes are never
 * removed while the list lives.
 */
#ifndef STRATA_SKIPLIST_H
#define STRATA_SKIPLIST_H

#include <stddef.h>
#include <stdint.h>

#include "memtable/arena.h"

/* Orders two keys: < 0, 0, > 0. */
typedef int (*skiplist_cmp_fn)(const char *a, const char *b);

struct skiplist;
struct skiplist_node;

/* NULL when out of memory.  The list lives in the arena (nothing to free
 * besides the arena).  seed makes the node heights deterministic. */
struct skiplist *skiplist_new(struct arena *arena, skiplist_cmp_fn cmp, uint64_t seed);

/* Insert key, which must not compare equal to any key in the list.
 * STRATA_OK or STRATA_NO_MEMORY. */
int skiplist_insert(struct skiplist *list, const char *key);

int skiplist_contains(const struct skiplist *list, const char *key);

/* Two-step insert for a key built in place right after its node: one
 * allocation instead of two, and the key's first bytes share cache lines
 * with the node's pointers, which a search reads together.
 * skiplist_reserve() allocates the node with key_size bytes for the key
 * (STRATA_OK or STRATA_NO_MEMORY); the caller writes the key at slot->key,
 * then skiplist_insert_reserved() links the node in.  The same rules as
 * skiplist_insert() apply to the key.  A slot never inserted only wastes
 * its arena bytes.  The slot's other fields belong to the list. */
struct skiplist_slot {
    char *key;
    struct skiplist_node *node;
    int height;
};
int skiplist_reserve(struct skiplist *list, size_t key_size, struct skiplist_slot *slot);
void skiplist_insert_reserved(struct skiplist *list, const struct skiplist_slot *slot);

/* A position in the list; a plain struct, no allocation.  node == NULL
 * means not valid. */
struct skiplist_iter {
    const struct skiplist *list;
    const struct skiplist_node *node;
};

void skiplist_iter_init(struct skiplist_iter *it, const struct skiplist *list);
static inline int skiplist_iter_valid(const struct skiplist_iter *it) { return it->node != 0; }
const char *skiplist_iter_key(const struct skiplist_iter *it);
void skiplist_iter_next(struct skiplist_iter *it);
/* Moves to the last key before the current one (a search from the head:
 * O(log n), as there are no back pointers). */
void skiplist_iter_prev(struct skiplist_iter *it);
/* First key >= target. */
void skiplist_iter_seek(struct skiplist_iter *it, const char *target);
/* Last key <= target. */
void skiplist_iter_seek_for_prev(struct skiplist_iter *it, const char *target);
void skiplist_iter_seek_to_first(struct skiplist_iter *it);
void skiplist_iter_seek_to_last(struct skiplist_iter *it);

#endif

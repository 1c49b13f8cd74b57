/*
 * arena.h: a bump allocator for the memtable.
 *
 * Memory comes from large blocks and is freed all at once when the arena is
 * destroyed; there are no individual frees.  Allocation is for one thread at
 * a time (the memtable's single writer); arena_memory_usage() may be read
 * from any thread.
 */
#ifndef STRATA_ARENA_H
#define STRATA_ARENA_H

#include <stdatomic.h>
#include <stddef.h>

struct arena_block;

struct arena {
    char *ptr;               /* next free byte in the current block */
    size_t remaining;        /* bytes left in the current block */
    struct arena_block *blocks; /* every block, newest first */
    atomic_size_t usage;     /* bytes of blocks plus bookkeeping */
    atomic_size_t allocated; /* bytes handed out (padding included) */
};

void arena_init(struct arena *a);
/* n bytes with no particular alignment, or NULL when out of memory.
 * n must be > 0. */
char *arena_alloc(struct arena *a, size_t n);
/* n bytes aligned to alignof(max_align_t) (at least 8), or NULL. */
char *arena_alloc_aligned(struct arena *a, size_t n);
size_t arena_memory_usage(const struct arena *a);
/* Bytes handed out so far: what the arena's contents take, without the
 * unused tail of its newest block.  May be read from any thread. */
size_t arena_allocated(const struct arena *a);
/* Frees every block; the arena is then empty and may be reused. */
void arena_destroy(struct arena *a);

#endif

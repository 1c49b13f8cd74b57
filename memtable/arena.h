/*
 * arena.h: a bump allocator for the memtable, and a pool that recycles its
 * blocks from one memtable to the next.
 *
 * Memory comes from large blocks and is freed all at once when the arena is
 * destroyed; there are no individual frees.  Allocation is for one thread at
 * a time (the memtable's single writer); arena_memory_usage() may be read
 * from any thread.
 *
 * A pool (optional, one per database) keeps the ordinary blocks of destroyed
 * arenas, at most max_bytes of them, and hands them to the next arena: the
 * next memtable then writes to pages that are already mapped instead of
 * taking a page fault per fresh 4 KiB page, whatever the application's
 * malloc does with freed memory.  Whoever creates a pool frees it, after
 * destroying every arena that uses it.
 */
#ifndef STRATA_ARENA_H
#define STRATA_ARENA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct arena_block;
struct arena_pool;

struct arena {
    char *ptr;               /* next free byte in the current block */
    size_t remaining;        /* bytes left in the current block */
    struct arena_block *blocks; /* every block, newest first */
    struct arena_pool *pool; /* where ordinary blocks come from and go back to, or NULL */
    atomic_size_t usage;     /* bytes of blocks plus bookkeeping */
    atomic_size_t allocated; /* bytes handed out (padding included) */
};

/* An arena that mallocs its blocks and frees them when destroyed. */
void arena_init(struct arena *a);
/* An arena that takes its ordinary blocks from pool (malloc when the pool
 * is empty) and gives them back when destroyed.  pool NULL: arena_init(). */
void arena_init_pooled(struct arena *a, struct arena_pool *pool);
/* n bytes with no particular alignment, or NULL when out of memory.
 * n must be > 0. */
char *arena_alloc(struct arena *a, size_t n);
/* n bytes aligned to alignof(max_align_t) (at least 8), or NULL. */
char *arena_alloc_aligned(struct arena *a, size_t n);
size_t arena_memory_usage(const struct arena *a);
/* Bytes handed out so far: what the arena's contents take, without the
 * unused tail of its newest block.  May be read from any thread. */
size_t arena_allocated(const struct arena *a);
/* Frees every block (ordinary ones go back to the pool, up to its bound);
 * the arena is then empty and may be reused, with the same pool.  May run
 * in any thread, concurrently with other arenas of the same pool. */
void arena_destroy(struct arena *a);

/* A pool that keeps at most max_bytes of idle blocks (0: keeps none), or
 * NULL when out of memory.  Thread-safe. */
struct arena_pool *arena_pool_new(size_t max_bytes);
/* Frees the idle blocks and the pool.  Every arena that uses the pool must
 * have been destroyed. */
void arena_pool_free(struct arena_pool *p);
/* Bytes of idle blocks the pool holds (blocks an arena uses count in that
 * arena's usage instead).  Never above max_bytes.  Any thread. */
size_t arena_pool_memory_usage(const struct arena_pool *p);

struct arena_pool_stats {
    size_t idle_bytes;  /* as arena_pool_memory_usage() */
    uint64_t reused;    /* blocks handed out again */
    uint64_t allocated; /* blocks malloc'd because the pool was empty */
    uint64_t released;  /* blocks freed because the pool was full */
};
void arena_pool_get_stats(struct arena_pool *p, struct arena_pool_stats *s);

#endif

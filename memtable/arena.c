/*
 * arena.c: the memtable's bump allocator and its block pool (see arena.h).
 *
 * Why a pool.  Without one, each memtable starts on memory fresh from
 * malloc, and a flushed memtable's blocks go back to malloc, which may
 * return them to the kernel (glibc trims the top of a heap); the next
 * memtable then page-faults them back, at about 11 us per 4 KiB page on
 * the project's machine (a guest with costly traps), where filling a
 * resident page costs about 0.3 us.  How often that happens is up to the
 * application's allocator and threads, which the library does not choose:
 * measured per 1000 puts in steady state, 18 faults (a memtable-only loop
 * on glibc that frees each memtable in the writing thread: inserts 2-3x
 * slower), 5.6 (glibc, writes from the main thread, flushes in the
 * background thread), 0.7 (db_bench with jemalloc).  With the pool, for any
 * allocator, only the first two memtables of a database fault, and then
 * about one block per memtable (0.6 faults per 1000 puts): a full memtable
 * holds a block or two more than write_buffer_size, the pool's bound.
 *
 * Alternatives weighed: pre-faulting (MAP_POPULATE, MADV_POPULATE_WRITE:
 * about 0.65 us per page here) still pays the kernel for every page of
 * every memtable, off the hot path only with a thread to do it, and needs
 * page-aligned mmap'd blocks; larger mmap'd blocks reused need the same
 * pool anyway, and mmap/munmap of each would fault even more.  The pool
 * pays a mutex per 64 KiB block and holds only what the next memtable is
 * about to use: with max_bytes = write_buffer_size the blocks of a flushed
 * memtable wait for the one being filled, which takes from the pool before
 * it mallocs, so the memory held peaks at two memtables as without the
 * pool (but stays there while the database is open), and is freed at close.
 *
 * Invariants:
 * - a->ptr .. a->ptr + a->remaining is the unused tail of the newest
 *   ordinary block (empty before the first allocation).
 * - Every block ever allocated is on a->blocks until arena_destroy(); a
 *   large allocation gets a block of its own that is linked in but never
 *   becomes the current block, so the current block's tail stays usable.
 * - An ordinary block is exactly ARENA_BLOCK_BYTES from malloc, header
 *   included: a power of two that allocators serve without rounding up
 *   (jemalloc would put 64 KiB + a header in an 80 KiB size class).  Only
 *   ordinary blocks enter a pool, so every pooled block fits any arena;
 *   b->size tells them from large ones.
 * - a->usage is the sum over the blocks of their malloc'd size (header
 *   plus data).  Only the allocating thread writes it, so a relaxed
 *   load-then-store is enough; the store is atomic so that other threads
 *   can read it without a data race.
 * - A block is in at most one place: one arena's list or the pool's idle
 *   list, so arena and pool usages add up without counting a block twice.
 * - The pool: idle_count <= max_count, so idle bytes <= max_bytes; lent
 *   counts the ordinary blocks out in arenas and is 0 when it is freed.
 *   Its fields are guarded by mu; idle_bytes is also stored atomically
 *   for lock-free readers.
 */
#include "memtable/arena.h"

#include <assert.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

struct arena_block {
    struct arena_block *next;
    size_t size; /* bytes from malloc, header included */
    /* max_align_t elements so that the data starts at an address malloc
     * would return: aligned for anything. */
    max_align_t data[];
};

enum {
    ARENA_BLOCK_BYTES = 64 * 1024,
    ARENA_HEADER = offsetof(struct arena_block, data),
    ARENA_BLOCK_DATA = ARENA_BLOCK_BYTES - ARENA_HEADER,
    /* Larger requests get their own block: carving them from the current
     * block could waste up to this much of its tail. */
    ARENA_LARGE_ALLOC = ARENA_BLOCK_BYTES / 4,
    ARENA_ALIGN = alignof(max_align_t),
};

struct arena_pool {
    pthread_mutex_t mu;
    struct arena_block *idle; /* newest first */
    size_t idle_count;
    size_t max_count;
    atomic_size_t idle_bytes;
    size_t lent;
    uint64_t reused, allocated, released;
};

/* ---- the pool ------------------------------------------------------------ */

struct arena_pool *arena_pool_new(size_t max_bytes)
{
    struct arena_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return NULL;
    }
    p->max_count = max_bytes / ARENA_BLOCK_BYTES;
    atomic_init(&p->idle_bytes, 0);
    return p;
}

static void free_blocks(struct arena_block *b)
{
    while (b != NULL) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
}

void arena_pool_free(struct arena_pool *p)
{
    if (p == NULL)
        return;
    assert(p->lent == 0); /* an arena still uses the pool */
    free_blocks(p->idle);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

size_t arena_pool_memory_usage(const struct arena_pool *p)
{
    return atomic_load_explicit(&p->idle_bytes, memory_order_relaxed);
}

void arena_pool_get_stats(struct arena_pool *p, struct arena_pool_stats *s)
{
    pthread_mutex_lock(&p->mu);
    s->idle_bytes = p->idle_count * ARENA_BLOCK_BYTES;
    s->reused = p->reused;
    s->allocated = p->allocated;
    s->released = p->released;
    pthread_mutex_unlock(&p->mu);
}

/* (mu) */
static void publish_idle(struct arena_pool *p)
{
    atomic_store_explicit(&p->idle_bytes, p->idle_count * ARENA_BLOCK_BYTES,
                          memory_order_relaxed);
}

/* The newest idle block, or NULL when there is none. */
static struct arena_block *pool_pop(struct arena_pool *p)
{
    pthread_mutex_lock(&p->mu);
    struct arena_block *b = p->idle;
    if (b != NULL) {
        p->idle = b->next;
        p->idle_count--;
        p->reused++;
        p->lent++;
        publish_idle(p);
    }
    pthread_mutex_unlock(&p->mu);
    return b;
}

static void pool_count_fresh(struct arena_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->allocated++;
    p->lent++;
    pthread_mutex_unlock(&p->mu);
}

/* Takes the ordinary blocks of list while there is room; returns the rest
 * (ordinary blocks over the bound and large blocks) for the caller to free
 * outside the lock. */
static struct arena_block *pool_push(struct arena_pool *p, struct arena_block *list)
{
    struct arena_block *excess = NULL;
    pthread_mutex_lock(&p->mu);
    while (list != NULL) {
        struct arena_block *b = list;
        list = b->next;
        int ordinary = b->size == ARENA_BLOCK_BYTES;
        if (ordinary)
            p->lent--;
        if (ordinary && p->idle_count < p->max_count) {
            b->next = p->idle;
            p->idle = b;
            p->idle_count++;
        } else {
            p->released += ordinary;
            b->next = excess;
            excess = b;
        }
    }
    publish_idle(p);
    pthread_mutex_unlock(&p->mu);
    return excess;
}

/* ---- the arena ----------------------------------------------------------- */

void arena_init_pooled(struct arena *a, struct arena_pool *pool)
{
    a->ptr = NULL;
    a->remaining = 0;
    a->blocks = NULL;
    a->pool = pool;
    atomic_init(&a->usage, 0);
    atomic_init(&a->allocated, 0);
}

void arena_init(struct arena *a)
{
    arena_init_pooled(a, NULL);
}

/* Links b (size bytes from malloc) into the arena; returns its data. */
static char *link_block(struct arena *a, struct arena_block *b, size_t size)
{
    b->next = a->blocks;
    b->size = size;
    a->blocks = b;
    size_t used = atomic_load_explicit(&a->usage, memory_order_relaxed);
    atomic_store_explicit(&a->usage, used + size, memory_order_relaxed);
    return (char *)b->data;
}

/* A block of its own for a large request of n bytes, or NULL.  Never
 * pooled: its size fits no other request. */
static char *new_large_block(struct arena *a, size_t n)
{
    if (n > SIZE_MAX - ARENA_HEADER)
        return NULL;
    struct arena_block *b = malloc(ARENA_HEADER + n);
    return b != NULL ? link_block(a, b, ARENA_HEADER + n) : NULL;
}

/* An ordinary block: the pool's newest idle one, or a fresh one. */
static struct arena_block *take_block(struct arena_pool *pool)
{
    struct arena_block *b = pool != NULL ? pool_pop(pool) : NULL;
    if (b != NULL)
        return b;
    b = malloc(ARENA_BLOCK_BYTES);
    if (b != NULL && pool != NULL)
        pool_count_fresh(pool);
    return b;
}

/* Start a new current block and take n bytes from its front. */
static char *alloc_from_new_block(struct arena *a, size_t n)
{
    struct arena_block *b = take_block(a->pool);
    if (b == NULL)
        return NULL;
    char *data = link_block(a, b, ARENA_BLOCK_BYTES);
    a->ptr = data + n;
    a->remaining = ARENA_BLOCK_DATA - n;
    return data;
}

/* One writer: a plain add, atomic only for readers in other threads. */
static void count_allocated(struct arena *a, size_t n)
{
    size_t before = atomic_load_explicit(&a->allocated, memory_order_relaxed);
    atomic_store_explicit(&a->allocated, before + n, memory_order_relaxed);
}

char *arena_alloc(struct arena *a, size_t n)
{
    count_allocated(a, n);
    if (n <= a->remaining) {
        char *p = a->ptr;
        a->ptr += n;
        a->remaining -= n;
        return p;
    }
    if (n > ARENA_LARGE_ALLOC)
        return new_large_block(a, n);
    return alloc_from_new_block(a, n);
}

char *arena_alloc_aligned(struct arena *a, size_t n)
{
    size_t misalign = (uintptr_t)a->ptr & (ARENA_ALIGN - 1);
    size_t pad = misalign ? ARENA_ALIGN - misalign : 0;
    count_allocated(a, n + pad);
    if (n <= a->remaining && pad <= a->remaining - n) {
        char *p = a->ptr + pad;
        a->ptr = p + n;
        a->remaining -= pad + n;
        return p;
    }
    /* Block data is always aligned, so a fresh block needs no padding. */
    if (n > ARENA_LARGE_ALLOC)
        return new_large_block(a, n);
    return alloc_from_new_block(a, n);
}

size_t arena_allocated(const struct arena *a)
{
    return atomic_load_explicit(&a->allocated, memory_order_relaxed);
}

size_t arena_memory_usage(const struct arena *a)
{
    return atomic_load_explicit(&a->usage, memory_order_relaxed);
}

void arena_destroy(struct arena *a)
{
    struct arena_block *rest = a->blocks;
    if (a->pool != NULL && rest != NULL)
        rest = pool_push(a->pool, rest);
    free_blocks(rest);
    arena_init_pooled(a, a->pool);
}

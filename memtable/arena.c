/*
 * arena.c: the memtable's bump allocator (see arena.h).
 *
 * Invariants:
 * - a->ptr .. a->ptr + a->remaining is the unused tail of the newest
 *   ordinary block (empty before the first allocation).
 * - Every block ever allocated is on a->blocks until arena_destroy(); a
 *   large allocation gets a block of its own that is linked in but never
 *   becomes the current block, so the current block's tail stays usable.
 * - a->usage is the sum over the blocks of their malloc'd size (header
 *   plus data).  Only the allocating thread writes it, so a relaxed
 *   load-then-store is enough; the store is atomic so that other threads
 *   can read it without a data race.
 */
#include "memtable/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

enum {
    ARENA_BLOCK_SIZE = 64 * 1024,
    /* Larger requests get their own block: carving them from the current
     * block could waste up to this much of its tail. */
    ARENA_LARGE_ALLOC = ARENA_BLOCK_SIZE / 4,
    ARENA_ALIGN = alignof(max_align_t),
};

struct arena_block {
    struct arena_block *next;
    /* max_align_t elements so that the data starts at an address malloc
     * would return: aligned for anything. */
    max_align_t data[];
};

void arena_init(struct arena *a)
{
    a->ptr = NULL;
    a->remaining = 0;
    a->blocks = NULL;
    atomic_init(&a->usage, 0);
    atomic_init(&a->allocated, 0);
}

/* A new block with size bytes of data, linked into the arena, or NULL. */
static char *new_block(struct arena *a, size_t size)
{
    size_t header = offsetof(struct arena_block, data);
    if (size > SIZE_MAX - header)
        return NULL;
    struct arena_block *b = malloc(header + size);
    if (b == NULL)
        return NULL;
    b->next = a->blocks;
    a->blocks = b;
    size_t used = atomic_load_explicit(&a->usage, memory_order_relaxed);
    atomic_store_explicit(&a->usage, used + header + size, memory_order_relaxed);
    return (char *)b->data;
}

/* Start a new current block and take n bytes from its front. */
static char *alloc_from_new_block(struct arena *a, size_t n)
{
    char *data = new_block(a, ARENA_BLOCK_SIZE);
    if (data == NULL)
        return NULL;
    a->ptr = data + n;
    a->remaining = ARENA_BLOCK_SIZE - n;
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
        return new_block(a, n);
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
        return new_block(a, n);
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
    struct arena_block *b = a->blocks;
    while (b != NULL) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    arena_init(a);
}

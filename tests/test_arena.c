/*
 * test_arena.c: the memtable's bump allocator and its block pool.
 * Deterministic: random sizes come from a fixed seed.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memtable/arena.h"

enum { BLOCK = 64 * 1024 };

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(arena, starts_empty)
{
    struct arena a;
    arena_init(&a);
    cr_expect_eq(arena_memory_usage(&a), 0);
    arena_destroy(&a);
    cr_expect_eq(arena_memory_usage(&a), 0);
}

Test(arena, small_allocations_are_contiguous)
{
    struct arena a;
    arena_init(&a);
    char *first = arena_alloc(&a, 10);
    cr_assert_not_null(first);
    char *second = arena_alloc(&a, 7);
    char *third = arena_alloc(&a, 1);
    cr_expect_eq(second, first + 10, "unaligned allocations are packed");
    cr_expect_eq(third, second + 7);
    size_t usage = arena_memory_usage(&a);
    cr_expect_geq(usage, BLOCK, "one block of 64 KiB: %zu", usage);
    cr_expect_lt(usage, BLOCK + 256, "and only its bookkeeping on top: %zu", usage);
    arena_destroy(&a);
}

Test(arena, large_allocation_gets_its_own_block)
{
    struct arena a;
    arena_init(&a);
    /* Leave 1436 bytes in the current block: too few for the large one. */
    char *small = arena_alloc(&a, 100);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(arena_alloc(&a, 16000), small + 100 + 16000 * i);
    size_t before = arena_memory_usage(&a);
    size_t big = BLOCK / 4 + 1;
    char *large = arena_alloc(&a, big);
    cr_assert_not_null(large);
    size_t after = arena_memory_usage(&a);
    cr_expect_geq(after - before, big, "a block of exactly the request");
    cr_expect_lt(after - before, big + 256, "and no more: %zu", after - before);
    memset(large, 0xab, big);
    char *next = arena_alloc(&a, 50);
    cr_expect_eq(next, small + 100 + 4 * 16000, "the current block's tail is still used");
    cr_expect_eq(arena_memory_usage(&a), after);
    arena_destroy(&a);
}

Test(arena, one_mebibyte)
{
    struct arena a;
    arena_init(&a);
    size_t n = 1 << 20;
    char *p = arena_alloc_aligned(&a, n);
    cr_assert_not_null(p);
    cr_expect_eq((uintptr_t)p % alignof(max_align_t), 0);
    memset(p, 0x5a, n);
    cr_expect_eq(p[0], 0x5a);
    cr_expect_eq(p[n - 1], 0x5a);
    cr_expect_geq(arena_memory_usage(&a), n);
    arena_destroy(&a);
}

Test(arena, aligned_allocations_are_aligned)
{
    struct arena a;
    arena_init(&a);
    cr_assert_geq(alignof(max_align_t), 8);
    uint64_t seed = 42;
    for (int i = 0; i < 20000; i++) {
        /* Misalign the bump pointer with an odd unaligned allocation. */
        cr_assert_not_null(arena_alloc(&a, (size_t)(rng_next(&seed) % 13) + 1));
        size_t n = (size_t)(rng_next(&seed) % 200) + 1;
        if (i % 1000 == 0)
            n = BLOCK / 2; /* a large one now and then */
        char *p = arena_alloc_aligned(&a, n);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % alignof(max_align_t), 0, "allocation %d of %zu bytes at %p",
                     i, n, (void *)p);
    }
    arena_destroy(&a);
}

Test(arena, usage_grows_with_allocations)
{
    struct arena a;
    arena_init(&a);
    size_t last = 0, total = 0;
    int growths = 0;
    while (total < 10 * BLOCK) {
        cr_assert_not_null(arena_alloc(&a, 1000));
        total += 1000;
        size_t usage = arena_memory_usage(&a);
        cr_assert_geq(usage, last, "usage never shrinks");
        cr_assert_geq(usage, total, "usage covers what was handed out");
        if (usage > last)
            growths++;
        last = usage;
    }
    cr_expect_geq(growths, 10, "a new block about every 64 KiB: %d", growths);
    cr_expect_lt(last, total + 2 * BLOCK, "little waste: %zu for %zu", last, total);
    arena_destroy(&a);
    cr_expect_eq(arena_memory_usage(&a), 0);
}

struct piece {
    unsigned char *p;
    size_t n;
};

/* Fill every allocation with its own pattern, then check them all: any
 * overlap between two allocations shows up as a wrong byte. */
Test(arena, many_allocations_do_not_overlap)
{
    struct arena a;
    arena_init(&a);
    enum { COUNT = 20000 };
    struct piece *pieces = calloc(COUNT, sizeof *pieces);
    cr_assert_not_null(pieces);
    uint64_t seed = 7;
    for (int i = 0; i < COUNT; i++) {
        uint64_t r = rng_next(&seed);
        size_t n = (size_t)(r % 300) + 1;
        if (r % 97 == 0)
            n = BLOCK / 4 + (size_t)(r % 5000); /* some large ones */
        unsigned char *p = (unsigned char *)((r >> 20) & 1 ? arena_alloc_aligned(&a, n)
                                                           : arena_alloc(&a, n));
        cr_assert_not_null(p);
        memset(p, (unsigned char)(i * 31 + 1), n);
        pieces[i].p = p;
        pieces[i].n = n;
    }
    for (int i = 0; i < COUNT; i++) {
        unsigned char want = (unsigned char)(i * 31 + 1);
        for (size_t j = 0; j < pieces[i].n; j++)
            cr_assert_eq(pieces[i].p[j], want, "allocation %d byte %zu was overwritten", i, j);
    }
    free(pieces);
    arena_destroy(&a);
}

Test(arena, reusable_after_destroy)
{
    struct arena a;
    arena_init(&a);
    cr_assert_not_null(arena_alloc(&a, 100));
    arena_destroy(&a);
    char *p = arena_alloc(&a, 100);
    cr_assert_not_null(p);
    memset(p, 1, 100);
    cr_expect_geq(arena_memory_usage(&a), BLOCK);
    arena_destroy(&a);
}

/* ---- the block pool ------------------------------------------------------- */

Test(arena, ordinary_block_is_exactly_64_kib)
{
    /* A power of two from malloc: no allocator rounds it up to a larger
     * size class, and the pool's bound counts whole blocks. */
    struct arena a;
    arena_init(&a);
    cr_assert_not_null(arena_alloc(&a, 1));
    cr_expect_eq(arena_memory_usage(&a), BLOCK);
    arena_destroy(&a);
}

Test(arena, pool_reuses_a_freed_block)
{
    struct arena_pool *pool = arena_pool_new(16 * BLOCK);
    cr_assert_not_null(pool);
    struct arena a, b;
    arena_init_pooled(&a, pool);
    char *first = arena_alloc(&a, 100);
    cr_assert_not_null(first);
    memset(first, 0xa5, 100);
    arena_destroy(&a);
    cr_expect_eq(arena_pool_memory_usage(pool), BLOCK, "the block waits in the pool");

    arena_init_pooled(&b, pool);
    char *again = arena_alloc(&b, 100);
    cr_expect_eq(again, first, "the next arena starts on the same block");
    cr_expect_eq(arena_pool_memory_usage(pool), 0);
    cr_expect_eq(arena_memory_usage(&b), BLOCK, "the block counts in its arena now");
    struct arena_pool_stats s;
    arena_pool_get_stats(pool, &s);
    cr_expect_eq(s.allocated, 1);
    cr_expect_eq(s.reused, 1);
    cr_expect_eq(s.released, 0);
    arena_destroy(&b);
    arena_pool_free(pool);
}

/* Allocates about n bytes in 1000-byte pieces. */
static void fill(struct arena *a, size_t n)
{
    for (size_t done = 0; done < n; done += 1000)
        cr_assert_not_null(arena_alloc(a, 1000));
}

Test(arena, pool_never_holds_more_than_its_bound)
{
    /* A bound that is not a whole number of blocks rounds down. */
    struct arena_pool *pool = arena_pool_new(4 * BLOCK + BLOCK / 2);
    cr_assert_not_null(pool);
    struct arena a;
    arena_init_pooled(&a, pool);
    fill(&a, 10 * BLOCK);
    size_t blocks = arena_memory_usage(&a) / BLOCK;
    cr_assert_geq(blocks, 10);
    arena_destroy(&a);
    cr_expect_eq(arena_pool_memory_usage(pool), 4 * BLOCK);
    struct arena_pool_stats s;
    arena_pool_get_stats(pool, &s);
    cr_expect_eq(s.released, blocks - 4, "the %zu blocks over the bound are freed", blocks - 4);

    /* A second arena takes the four, mallocs the rest, and gives back
     * only four again. */
    arena_init_pooled(&a, pool);
    fill(&a, 10 * BLOCK);
    arena_pool_get_stats(pool, &s);
    cr_expect_eq(s.reused, 4);
    cr_expect_eq(s.allocated, 2 * blocks - 4);
    arena_destroy(&a);
    cr_expect_eq(arena_pool_memory_usage(pool), 4 * BLOCK);
    arena_pool_free(pool);
}

Test(arena, pool_of_zero_keeps_nothing)
{
    struct arena_pool *pool = arena_pool_new(BLOCK - 1);
    cr_assert_not_null(pool);
    struct arena a;
    arena_init_pooled(&a, pool);
    fill(&a, 3 * BLOCK);
    arena_destroy(&a);
    cr_expect_eq(arena_pool_memory_usage(pool), 0);
    arena_pool_free(pool);
}

Test(arena, large_blocks_are_not_pooled)
{
    struct arena_pool *pool = arena_pool_new(16 * BLOCK);
    cr_assert_not_null(pool);
    struct arena a;
    arena_init_pooled(&a, pool);
    cr_assert_not_null(arena_alloc(&a, 100));
    cr_assert_not_null(arena_alloc(&a, 3 * BLOCK)); /* its own block */
    cr_expect_gt(arena_memory_usage(&a), 4 * BLOCK);
    arena_destroy(&a);
    cr_expect_eq(arena_pool_memory_usage(pool), BLOCK, "only the ordinary block is kept");
    arena_pool_free(pool);
}

Test(arena, usage_adds_up_across_arena_and_pool)
{
    struct arena_pool *pool = arena_pool_new(64 * BLOCK);
    cr_assert_not_null(pool);
    struct arena a, b;
    arena_init_pooled(&a, pool);
    fill(&a, 8 * BLOCK);
    size_t total = arena_memory_usage(&a);
    arena_destroy(&a);
    cr_expect_eq(arena_memory_usage(&a), 0);
    cr_expect_eq(arena_pool_memory_usage(pool), total);
    arena_init_pooled(&b, pool);
    fill(&b, 3 * BLOCK);
    cr_expect_eq(arena_memory_usage(&b) + arena_pool_memory_usage(pool), total,
                 "each block counts once, in the arena or in the pool");
    arena_destroy(&b);
    cr_expect_eq(arena_pool_memory_usage(pool), total);
    arena_pool_free(pool); /* ASan: every idle block is freed here */
}

/* Two threads recycle blocks through one pool; each checks that nothing
 * else wrote into its allocations, so a block handed to two arenas at
 * once shows up (and TSan checks the pool's locking). */
struct churn {
    struct arena_pool *pool;
    unsigned char tag;
    int failures;
};

static void *churn_main(void *arg)
{
    struct churn *c = arg;
    enum { PIECES = 300, SIZE = 700 };
    unsigned char *p[PIECES];
    for (int round = 0; round < 50; round++) {
        struct arena a;
        arena_init_pooled(&a, c->pool);
        for (int i = 0; i < PIECES; i++) {
            p[i] = (unsigned char *)arena_alloc(&a, SIZE);
            if (p[i] == NULL) {
                c->failures++;
                return NULL;
            }
            memset(p[i], c->tag, SIZE);
        }
        for (int i = 0; i < PIECES; i++)
            for (int j = 0; j < SIZE; j += 97)
                c->failures += p[i][j] != c->tag;
        arena_destroy(&a);
    }
    return NULL;
}

Test(arena, pool_is_shared_safely_between_threads)
{
    struct arena_pool *pool = arena_pool_new(3 * BLOCK);
    cr_assert_not_null(pool);
    struct churn c[2] = { { pool, 0x11, 0 }, { pool, 0x22, 0 } };
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, churn_main, &c[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cr_expect_eq(c[0].failures + c[1].failures, 0);
    cr_expect_leq(arena_pool_memory_usage(pool), 3 * BLOCK);
    struct arena_pool_stats s;
    arena_pool_get_stats(pool, &s);
    cr_expect_gt(s.reused, 0);
    arena_pool_free(pool);
}

/*
 * test_arena.c: the memtable's bump allocator.  Deterministic: random sizes
 * come from a fixed seed.
 */
#include <criterion/criterion.h>

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

/*
 * test_skiplist.c: the skiplist on its own, with 8-byte integer keys.
 *
 * Keys are even numbers so that odd numbers fall between them for seeks.
 * Deterministic: every shuffle uses a fixed seed.  The concurrency test has
 * one writer and four readers; readers check that what they see is sorted
 * and never loses a key it saw before.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memtable/arena.h"
#include "memtable/skiplist.h"
#include "strata.h"

static uint64_t key_of(const char *k)
{
    uint64_t v;
    memcpy(&v, k, sizeof v);
    return v;
}

static int cmp_u64(const char *a, const char *b)
{
    uint64_t x = key_of(a), y = key_of(b);
    return (x > y) - (x < y);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* keys[i] = 2 * i, in a shuffled order given by seed. */
static uint64_t *shuffled_keys(size_t n, uint64_t seed)
{
    uint64_t *keys = malloc(n * sizeof *keys);
    cr_assert_not_null(keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = 2 * i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rng_next(&seed) % i);
        uint64_t t = keys[i - 1];
        keys[i - 1] = keys[j];
        keys[j] = t;
    }
    return keys;
}

static const char *as_key(const uint64_t *v)
{
    return (const char *)v;
}

Test(skiplist, empty)
{
    struct arena a;
    arena_init(&a);
    struct skiplist *l = skiplist_new(&a, cmp_u64, 1);
    cr_assert_not_null(l);
    uint64_t probe = 10;
    cr_expect(!skiplist_contains(l, as_key(&probe)));
    struct skiplist_iter it;
    skiplist_iter_init(&it, l);
    cr_expect(!skiplist_iter_valid(&it));
    skiplist_iter_seek_to_first(&it);
    cr_expect(!skiplist_iter_valid(&it));
    skiplist_iter_seek_to_last(&it);
    cr_expect(!skiplist_iter_valid(&it));
    skiplist_iter_seek(&it, as_key(&probe));
    cr_expect(!skiplist_iter_valid(&it));
    skiplist_iter_seek_for_prev(&it, as_key(&probe));
    cr_expect(!skiplist_iter_valid(&it));
    arena_destroy(&a);
}

Test(skiplist, single_key)
{
    struct arena a;
    arena_init(&a);
    struct skiplist *l = skiplist_new(&a, cmp_u64, 1);
    uint64_t k = 10, lo = 5, hi = 15;
    cr_assert_eq(skiplist_insert(l, as_key(&k)), STRATA_OK);
    struct skiplist_iter it;
    skiplist_iter_init(&it, l);
    skiplist_iter_seek_to_first(&it);
    cr_assert(skiplist_iter_valid(&it));
    cr_expect_eq(key_of(skiplist_iter_key(&it)), 10);
    skiplist_iter_next(&it);
    cr_expect(!skiplist_iter_valid(&it));
    skiplist_iter_seek_to_last(&it);
    cr_assert(skiplist_iter_valid(&it));
    skiplist_iter_prev(&it);
    cr_expect(!skiplist_iter_valid(&it));
    skiplist_iter_seek(&it, as_key(&hi));
    cr_expect(!skiplist_iter_valid(&it));
    skiplist_iter_seek_for_prev(&it, as_key(&lo));
    cr_expect(!skiplist_iter_valid(&it));
    skiplist_iter_seek(&it, as_key(&lo));
    cr_expect(skiplist_iter_valid(&it) && key_of(skiplist_iter_key(&it)) == 10);
    skiplist_iter_seek_for_prev(&it, as_key(&hi));
    cr_expect(skiplist_iter_valid(&it) && key_of(skiplist_iter_key(&it)) == 10);
    arena_destroy(&a);
}

enum { N = 5000 };

/* Checks the whole list against keys 0, 2, ..., 2(n-1). */
static void check_order(const struct skiplist *l, size_t n)
{
    struct skiplist_iter it;
    skiplist_iter_init(&it, l);
    size_t i = 0;
    for (skiplist_iter_seek_to_first(&it); skiplist_iter_valid(&it); skiplist_iter_next(&it), i++)
        cr_assert_eq(key_of(skiplist_iter_key(&it)), 2 * i, "forward position %zu", i);
    cr_assert_eq(i, n, "forward saw %zu keys", i);
    for (skiplist_iter_seek_to_last(&it); skiplist_iter_valid(&it); skiplist_iter_prev(&it)) {
        cr_assert_gt(i, 0, "backward saw too many keys");
        i--;
        cr_assert_eq(key_of(skiplist_iter_key(&it)), 2 * i, "backward position %zu", i);
    }
    cr_assert_eq(i, 0, "backward missed %zu keys", i);
}

static void check_seeks(const struct skiplist *l, uint64_t n)
{
    struct skiplist_iter it;
    skiplist_iter_init(&it, l);
    for (uint64_t t = 0; t <= 2 * n; t++) {
        int present = t % 2 == 0 && t < 2 * n;
        cr_assert_eq(skiplist_contains(l, as_key(&t)), present, "contains %llu",
                     (unsigned long long)t);
        uint64_t ge = t % 2 ? t + 1 : t; /* first key >= t */
        skiplist_iter_seek(&it, as_key(&t));
        if (ge < 2 * n)
            cr_assert(skiplist_iter_valid(&it) && key_of(skiplist_iter_key(&it)) == ge,
                      "seek %llu", (unsigned long long)t);
        else
            cr_assert(!skiplist_iter_valid(&it), "seek %llu past the end", (unsigned long long)t);
        uint64_t le = t % 2 ? t - 1 : t; /* last key <= t */
        if (le > 2 * (n - 1))
            le = 2 * (n - 1);
        skiplist_iter_seek_for_prev(&it, as_key(&t));
        cr_assert(skiplist_iter_valid(&it) && key_of(skiplist_iter_key(&it)) == le,
                  "seek_for_prev %llu", (unsigned long long)t);
    }
}

Test(skiplist, random_order_inserts)
{
    struct arena a;
    arena_init(&a);
    struct skiplist *l = skiplist_new(&a, cmp_u64, 12345);
    uint64_t *keys = shuffled_keys(N, 99);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(skiplist_insert(l, as_key(&keys[i])), STRATA_OK);
    check_order(l, N);
    check_seeks(l, N);
    free(keys);
    arena_destroy(&a);
}

/* Keys built in place after their node, as the memtable does. */
Test(skiplist, reserved_inserts)
{
    struct arena a;
    arena_init(&a);
    struct skiplist *l = skiplist_new(&a, cmp_u64, 777);
    uint64_t *keys = shuffled_keys(N, 5);
    for (size_t i = 0; i < N; i++) {
        struct skiplist_slot slot;
        cr_assert_eq(skiplist_reserve(l, sizeof(uint64_t), &slot), STRATA_OK);
        memcpy(slot.key, &keys[i], sizeof(uint64_t));
        skiplist_insert_reserved(l, &slot);
    }
    free(keys); /* the list holds its own copies now */
    check_order(l, N);
    check_seeks(l, N);
    arena_destroy(&a);
}

Test(skiplist, ascending_and_descending_inserts)
{
    struct arena a;
    arena_init(&a);
    struct skiplist *up = skiplist_new(&a, cmp_u64, 3);
    struct skiplist *down = skiplist_new(&a, cmp_u64, 4);
    uint64_t *keys = malloc(N * sizeof *keys);
    for (size_t i = 0; i < N; i++)
        keys[i] = 2 * i;
    for (size_t i = 0; i < N; i++) {
        cr_assert_eq(skiplist_insert(up, as_key(&keys[i])), STRATA_OK);
        cr_assert_eq(skiplist_insert(down, as_key(&keys[N - 1 - i])), STRATA_OK);
    }
    check_order(up, N);
    check_order(down, N);
    check_seeks(down, N);
    free(keys);
    arena_destroy(&a);
}

static long comparisons;

static int counting_cmp(const char *a, const char *b)
{
    comparisons++;
    return cmp_u64(a, b);
}

/* The upper levels are really used: a search costs O(log n) comparisons,
 * not the O(n) of a plain linked list. */
Test(skiplist, searches_are_logarithmic)
{
    struct arena a;
    arena_init(&a);
    struct skiplist *l = skiplist_new(&a, counting_cmp, 8);
    uint64_t *keys = shuffled_keys(N, 17);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(skiplist_insert(l, as_key(&keys[i])), STRATA_OK);
    comparisons = 0;
    struct skiplist_iter it;
    skiplist_iter_init(&it, l);
    for (size_t i = 0; i < N; i++)
        skiplist_iter_seek(&it, as_key(&keys[i]));
    double per_seek = (double)comparisons / N;
    cr_log_info("%.1f comparisons per seek among %d keys", per_seek, N);
    cr_expect_lt(per_seek, 60.0, "%.1f comparisons per seek among %d keys", per_seek, N);
    free(keys);
    arena_destroy(&a);
}

/* ---- one writer, several readers ------------------------------------- */

enum { CONC_KEYS = 20000, READERS = 4 };

struct shared {
    struct skiplist *list;
    atomic_int done;
};

struct reader {
    struct shared *sh;
    int backward;
    long passes;
    const char *error; /* first failure seen, NULL if none */
};

/* One pass over the list: sorted, and a superset of the previous pass. */
static const char *reader_pass(struct reader *r, unsigned char *seen, unsigned char *now,
                               size_t *prev_count)
{
    struct skiplist_iter it;
    skiplist_iter_init(&it, r->sh->list);
    memset(now, 0, CONC_KEYS);
    size_t count = 0;
    uint64_t last = 0;
    if (r->backward)
        skiplist_iter_seek_to_last(&it);
    else
        skiplist_iter_seek_to_first(&it);
    for (; skiplist_iter_valid(&it); count++) {
        uint64_t k = key_of(skiplist_iter_key(&it));
        if (k % 2 != 0 || k / 2 >= CONC_KEYS)
            return "a key that was never inserted";
        if (count > 0 && (r->backward ? k >= last : k <= last))
            return "keys out of order";
        now[k / 2] = 1;
        last = k;
        if (r->backward)
            skiplist_iter_prev(&it);
        else
            skiplist_iter_next(&it);
    }
    if (count < *prev_count)
        return "the list shrank";
    for (size_t i = 0; i < CONC_KEYS; i++)
        if (seen[i] && !now[i])
            return "a key seen before disappeared";
    memcpy(seen, now, CONC_KEYS);
    *prev_count = count;
    return NULL;
}

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    unsigned char *seen = calloc(CONC_KEYS, 1), *now = malloc(CONC_KEYS);
    size_t prev_count = 0;
    if (seen == NULL || now == NULL) {
        r->error = "out of memory";
    } else {
        int last_round = 0;
        while (r->error == NULL && !last_round) {
            /* One more full pass after the writer finished. */
            last_round = atomic_load(&r->sh->done);
            r->error = reader_pass(r, seen, now, &prev_count);
            r->passes++;
        }
        if (r->error == NULL && prev_count != CONC_KEYS)
            r->error = "the final pass did not see every key";
    }
    free(seen);
    free(now);
    return NULL;
}

Test(skiplist, concurrent_readers_see_a_growing_sorted_list)
{
    struct arena a;
    arena_init(&a);
    struct shared sh = { .list = skiplist_new(&a, cmp_u64, 2024) };
    atomic_init(&sh.done, 0);
    cr_assert_not_null(sh.list);
    uint64_t *keys = shuffled_keys(CONC_KEYS, 31337);

    pthread_t threads[READERS];
    struct reader readers[READERS];
    for (int i = 0; i < READERS; i++) {
        readers[i] = (struct reader){ .sh = &sh, .backward = i == READERS - 1 };
        cr_assert_eq(pthread_create(&threads[i], NULL, reader_main, &readers[i]), 0);
    }
    for (size_t i = 0; i < CONC_KEYS; i++)
        cr_assert_eq(skiplist_insert(sh.list, as_key(&keys[i])), STRATA_OK);
    atomic_store(&sh.done, 1);
    for (int i = 0; i < READERS; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < READERS; i++) {
        cr_expect_null(readers[i].error, "reader %d after %ld passes: %s", i, readers[i].passes,
                       readers[i].error);
        cr_log_info("reader %d: %ld passes", i, readers[i].passes);
    }
    check_order(sh.list, CONC_KEYS);
    free(keys);
    arena_destroy(&a);
}

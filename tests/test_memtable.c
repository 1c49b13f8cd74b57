/*
 * test_memtable.c: the memtable: versions, deletions, odd sizes, the
 * iterator against a sorted reference array, and memtables recycling their
 * arena blocks through a pool.  Deterministic: random keys come from fixed
 * seeds.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memtable/arena.h"
#include "memtable/memtable.h"
#include "src/buf.h"
#include "src/dbformat.h"
#include "strata.h"

static struct slice S(const char *s)
{
    return slice_make(s, strlen(s));
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void put(struct memtable *m, uint64_t seq, const char *k, const char *v)
{
    cr_assert_eq(memtable_add(m, seq, TYPE_VALUE, S(k), S(v)), STRATA_OK);
}

static void del(struct memtable *m, uint64_t seq, const char *k)
{
    cr_assert_eq(memtable_add(m, seq, TYPE_DELETION, S(k), S("")), STRATA_OK);
}

/* get() must find exactly want (NULL: absent, "<deleted>": a deletion). */
static void expect_get(struct memtable *m, const char *k, uint64_t seq, const char *want)
{
    struct slice v = { 0 };
    enum memtable_get_result r = memtable_get(m, S(k), seq, &v);
    if (want == NULL) {
        cr_expect_eq(r, MEMTABLE_ABSENT, "get(%s @%llu): %d, expected absent", k,
                     (unsigned long long)seq, r);
    } else if (strcmp(want, "<deleted>") == 0) {
        cr_expect_eq(r, MEMTABLE_DELETED, "get(%s @%llu): %d, expected deleted", k,
                     (unsigned long long)seq, r);
    } else {
        cr_expect_eq(r, MEMTABLE_FOUND, "get(%s @%llu): %d, expected %s", k,
                     (unsigned long long)seq, r, want);
        if (r == MEMTABLE_FOUND)
            cr_expect(slice_equal(v, S(want)), "get(%s @%llu): '%.*s', expected '%s'", k,
                      (unsigned long long)seq, (int)v.len, v.data, want);
    }
}

Test(memtable, empty)
{
    struct memtable *m = memtable_new();
    cr_assert_not_null(m);
    expect_get(m, "a", MAX_SEQUENCE, NULL);
    expect_get(m, "", MAX_SEQUENCE, NULL);
    cr_expect_eq(memtable_count(m), 0);
    struct iter *it = memtable_iter_new(m);
    cr_assert_not_null(it);
    iter_seek_to_first(it);
    cr_expect(!iter_valid(it));
    iter_seek_to_last(it);
    cr_expect(!iter_valid(it));
    cr_expect_eq(iter_status(it), STRATA_OK);
    iter_destroy(it);
    memtable_unref(m);
}

Test(memtable, versions_by_sequence)
{
    struct memtable *m = memtable_new();
    put(m, 1, "k", "v1");
    put(m, 3, "k", "v3");
    del(m, 5, "k");
    put(m, 7, "k", "v7");
    put(m, 2, "j", "j2");
    put(m, 4, "l", "l4");
    cr_expect_eq(memtable_count(m), 6);

    expect_get(m, "k", 0, NULL);
    expect_get(m, "k", 1, "v1");
    expect_get(m, "k", 2, "v1");
    expect_get(m, "k", 3, "v3");
    expect_get(m, "k", 4, "v3");
    expect_get(m, "k", 5, "<deleted>");
    expect_get(m, "k", 6, "<deleted>");
    expect_get(m, "k", 7, "v7");
    expect_get(m, "k", MAX_SEQUENCE, "v7");
    expect_get(m, "k", UINT64_MAX, "v7");
    expect_get(m, "j", 1, NULL);
    expect_get(m, "j", 2, "j2");
    expect_get(m, "l", 3, NULL);
    expect_get(m, "l", 100, "l4");
    /* Neighbours and prefixes are other keys. */
    expect_get(m, "", 100, NULL);
    expect_get(m, "kk", 100, NULL);
    expect_get(m, "i", 100, NULL);
    expect_get(m, "m", 100, NULL);
    memtable_unref(m);
}

Test(memtable, deleted_versus_absent)
{
    struct memtable *m = memtable_new();
    del(m, 1, "gone");
    put(m, 2, "back", "x");
    del(m, 3, "back");
    put(m, 4, "back", "y");
    expect_get(m, "gone", 10, "<deleted>");
    expect_get(m, "gone", 0, NULL);
    expect_get(m, "never", 10, NULL);
    expect_get(m, "back", 1, NULL);
    expect_get(m, "back", 2, "x");
    expect_get(m, "back", 3, "<deleted>");
    expect_get(m, "back", 4, "y");

    /* A deletion's value is empty whatever was passed. */
    cr_assert_eq(memtable_add(m, 5, TYPE_DELETION, S("z"), S("ignored")), STRATA_OK);
    struct iter *it = memtable_iter_new(m);
    iter_seek_to_last(it);
    cr_assert(iter_valid(it));
    struct parsed_internal_key pk = { 0 };
    cr_assert(parse_internal_key(iter_key(it), &pk));
    cr_expect(slice_equal(pk.user_key, S("z")));
    cr_expect_eq(pk.type, TYPE_DELETION);
    cr_expect_eq(pk.sequence, 5);
    cr_expect_eq(iter_value(it).len, 0);
    iter_destroy(it);
    memtable_unref(m);
}

Test(memtable, empty_key_and_empty_value)
{
    struct memtable *m = memtable_new();
    put(m, 1, "", "");
    put(m, 2, "a", "");
    put(m, 3, "", "second");
    expect_get(m, "", 1, "");
    expect_get(m, "", 2, "");
    expect_get(m, "", 3, "second");
    expect_get(m, "a", 3, "");

    struct iter *it = memtable_iter_new(m);
    iter_seek_to_first(it);
    cr_assert(iter_valid(it));
    cr_expect_eq(iter_key(it).len, INTERNAL_KEY_TAG_LEN, "the empty key sorts first");
    cr_expect_eq(internal_key_tag(iter_key(it)), pack_tag(3, TYPE_VALUE), "newest first");
    cr_expect(slice_equal(iter_value(it), S("second")));
    iter_next(it);
    cr_assert(iter_valid(it));
    cr_expect_eq(internal_key_tag(iter_key(it)), pack_tag(1, TYPE_VALUE));
    cr_expect_eq(iter_value(it).len, 0);
    iter_destroy(it);
    memtable_unref(m);
}

Test(memtable, one_mebibyte_value)
{
    struct memtable *m = memtable_new();
    size_t n = 1 << 20;
    char *big = malloc(n);
    cr_assert_not_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 7 + (i >> 12));
    put(m, 1, "a", "small");
    cr_assert_eq(memtable_add(m, 2, TYPE_VALUE, S("big"), slice_make(big, n)), STRATA_OK);
    put(m, 3, "c", "small");
    struct slice v;
    cr_assert_eq(memtable_get(m, S("big"), 10, &v), MEMTABLE_FOUND);
    cr_assert_eq(v.len, n);
    cr_expect_eq(memcmp(v.data, big, n), 0);
    cr_expect_geq(memtable_memory_usage(m), n);
    expect_get(m, "a", 10, "small");
    expect_get(m, "c", 10, "small");
    free(big);
    memtable_unref(m);
}

/* Three decimal digits at p. */
static void set_suffix(char *p, int n)
{
    p[0] = (char)('0' + n / 100 % 10);
    p[1] = (char)('0' + n / 10 % 10);
    p[2] = (char)('0' + n % 10);
}

/* Keys longer than the iterator's inline probe buffer, sharing a long
 * prefix. */
Test(memtable, long_keys)
{
    struct memtable *m = memtable_new();
    enum { LEN = 1000, COUNT = 50 };
    char key[LEN + 1];
    memset(key, 'p', LEN);
    key[LEN] = 0;
    for (int i = 0; i < COUNT; i++) {
        set_suffix(key + LEN - 3, i * 2);
        char val[16];
        snprintf(val, sizeof val, "v%d", i * 2);
        put(m, (uint64_t)i + 1, key, val);
    }
    struct iter *it = memtable_iter_new(m);
    for (int i = 0; i < COUNT * 2; i++) {
        set_suffix(key + LEN - 3, i);
        char val[16];
        snprintf(val, sizeof val, "v%d", i);
        expect_get(m, key, MAX_SEQUENCE, i % 2 == 0 ? val : NULL);

        struct buf target = { 0 };
        cr_assert_eq(buf_put_internal_key(&target, S(key), MAX_SEQUENCE, TYPE_FOR_SEEK), STRATA_OK);
        iter_seek(it, buf_slice(&target));
        int want = i % 2 == 0 ? i : i + 1;
        if (want >= COUNT * 2) {
            cr_expect(!iter_valid(it), "seek %d", i);
        } else {
            cr_assert(iter_valid(it), "seek %d", i);
            snprintf(val, sizeof val, "v%d", want);
            cr_expect(slice_equal(iter_value(it), S(val)), "seek %d", i);
        }
        /* Sequence 0 sorts after every version of the key. */
        buf_clear(&target);
        cr_assert_eq(buf_put_internal_key(&target, S(key), 0, TYPE_DELETION), STRATA_OK);
        iter_seek_for_prev(it, buf_slice(&target));
        want = i % 2 == 0 ? i : i - 1;
        cr_assert(iter_valid(it), "seek_for_prev %d", i);
        snprintf(val, sizeof val, "v%d", want);
        cr_expect(slice_equal(iter_value(it), S(val)), "seek_for_prev %d", i);
        buf_free(&target);
    }
    cr_expect_eq(iter_status(it), STRATA_OK);
    iter_destroy(it);
    memtable_unref(m);
}

/* ---- against a reference ------------------------------------------------ */

struct ref {
    struct buf ikey;
    struct buf value;
};

static int ref_cmp(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    return internal_key_compare(buf_slice(&x->ikey), buf_slice(&y->ikey));
}

/* Index of the first reference entry >= target (n when none). */
static size_t lower_bound(const struct ref *refs, size_t n, struct slice target)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (internal_key_compare(buf_slice(&refs[mid].ikey), target) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void expect_at(struct iter *it, const struct ref *r, const char *what, size_t i)
{
    cr_assert(iter_valid(it), "%s %zu: iterator invalid", what, i);
    cr_assert(slice_equal(iter_key(it), buf_slice(&r->ikey)), "%s %zu: wrong key", what, i);
    cr_assert(slice_equal(iter_value(it), buf_slice(&r->value)), "%s %zu: wrong value", what, i);
}

/* A random user key from a small alphabet, so that keys repeat (several
 * versions) and share prefixes; lengths 0..12. */
static void random_key(uint64_t *seed, struct buf *out)
{
    size_t len = (size_t)(rng_next(seed) % 13);
    for (size_t i = 0; i < len; i++) {
        char c = (char)("abcz\0\xff"[rng_next(seed) % 6]);
        cr_assert_eq(buf_append(out, &c, 1), STRATA_OK);
    }
}

Test(memtable, iterator_matches_reference)
{
    enum { COUNT = 3000, SEEKS = 3000 };
    uint64_t seed = 0xC0FFEE;
    struct memtable *m = memtable_new();
    struct ref *refs = calloc(COUNT, sizeof *refs);
    cr_assert_not_null(refs);
    for (size_t i = 0; i < COUNT; i++) {
        struct buf ukey = { 0 };
        random_key(&seed, &ukey);
        uint64_t seq = i + 1;
        enum value_type type = rng_next(&seed) % 5 == 0 ? TYPE_DELETION : TYPE_VALUE;
        if (type == TYPE_VALUE) {
            char v[32];
            int n = snprintf(v, sizeof v, "value-%zu", i);
            cr_assert_eq(buf_append(&refs[i].value, v, (size_t)n), STRATA_OK);
        }
        cr_assert_eq(buf_put_internal_key(&refs[i].ikey, buf_slice(&ukey), seq, type), STRATA_OK);
        cr_assert_eq(memtable_add(m, seq, type, buf_slice(&ukey), buf_slice(&refs[i].value)),
                     STRATA_OK);
        buf_free(&ukey);
    }
    qsort(refs, COUNT, sizeof *refs, ref_cmp);
    cr_expect_eq(memtable_count(m), COUNT);

    struct iter *it = memtable_iter_new(m);
    cr_assert_not_null(it);
    size_t i = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it), i++) {
        cr_assert_lt(i, COUNT, "forward: too many entries");
        expect_at(it, &refs[i], "forward", i);
    }
    cr_assert_eq(i, COUNT, "forward saw %zu entries", i);
    for (iter_seek_to_last(it); iter_valid(it); iter_prev(it)) {
        cr_assert_gt(i, 0, "backward: too many entries");
        i--;
        expect_at(it, &refs[i], "backward", i);
    }
    cr_assert_eq(i, 0, "backward missed %zu entries", i);

    for (size_t s = 0; s < SEEKS; s++) {
        struct buf ukey = { 0 }, target = { 0 };
        random_key(&seed, &ukey);
        uint64_t seq = rng_next(&seed) % (COUNT + 2);
        cr_assert_eq(buf_put_internal_key(&target, buf_slice(&ukey), seq, TYPE_FOR_SEEK), STRATA_OK);
        struct slice t = buf_slice(&target);
        size_t lb = lower_bound(refs, COUNT, t);

        iter_seek(it, t);
        if (lb == COUNT) {
            cr_assert(!iter_valid(it), "seek %zu: expected the end", s);
        } else {
            expect_at(it, &refs[lb], "seek", s);
            /* Step both ways from the seek position. */
            iter_prev(it);
            if (lb == 0)
                cr_assert(!iter_valid(it), "prev after seek %zu", s);
            else
                expect_at(it, &refs[lb - 1], "prev after seek", s);
        }

        /* Last entry <= t: lb - 1, or lb itself when it equals t. */
        size_t le = lb < COUNT && internal_key_compare(buf_slice(&refs[lb].ikey), t) == 0 ? lb + 1 : lb;
        iter_seek_for_prev(it, t);
        if (le == 0) {
            cr_assert(!iter_valid(it), "seek_for_prev %zu: expected nothing", s);
        } else {
            expect_at(it, &refs[le - 1], "seek_for_prev", s);
            iter_next(it);
            if (le == COUNT)
                cr_assert(!iter_valid(it), "next after seek_for_prev %zu", s);
            else
                expect_at(it, &refs[le], "next after seek_for_prev", s);
        }

        /* get() agrees: the first entry at or after (ukey, seq). */
        struct slice v;
        enum memtable_get_result r = memtable_get(m, buf_slice(&ukey), seq, &v);
        enum memtable_get_result want = MEMTABLE_ABSENT;
        if (lb < COUNT) {
            struct parsed_internal_key pk = { 0 };
            cr_assert(parse_internal_key(buf_slice(&refs[lb].ikey), &pk));
            if (slice_equal(pk.user_key, buf_slice(&ukey)))
                want = pk.type == TYPE_VALUE ? MEMTABLE_FOUND : MEMTABLE_DELETED;
        }
        cr_assert_eq(r, want, "get %zu", s);
        if (r == MEMTABLE_FOUND)
            cr_assert(slice_equal(v, buf_slice(&refs[lb].value)), "get %zu: value", s);
        buf_free(&ukey);
        buf_free(&target);
    }
    cr_expect_eq(iter_status(it), STRATA_OK);
    iter_destroy(it);
    for (size_t k = 0; k < COUNT; k++) {
        buf_free(&refs[k].ikey);
        buf_free(&refs[k].value);
    }
    free(refs);
    memtable_unref(m);
}

Test(memtable, memory_usage_grows)
{
    struct memtable *m = memtable_new();
    size_t last = memtable_memory_usage(m);
    size_t bytes = 0;
    int growths = 0;
    char key[32], val[100];
    memset(val, 'v', sizeof val);
    for (uint64_t i = 1; i <= 20000; i++) {
        int n = snprintf(key, sizeof key, "key%016llu", (unsigned long long)i);
        cr_assert_eq(memtable_add(m, i, TYPE_VALUE, slice_make(key, (size_t)n),
                                  slice_make(val, sizeof val)),
                     STRATA_OK);
        bytes += (size_t)n + sizeof val;
        size_t usage = memtable_memory_usage(m);
        cr_assert_geq(usage, last, "usage never shrinks");
        growths += usage > last;
        last = usage;
    }
    cr_expect_geq(last, bytes, "usage %zu covers the %zu bytes of keys and values", last, bytes);
    cr_expect_lt(last, bytes * 2, "usage %zu is not far above %zu", last, bytes);
    cr_expect_gt(growths, 10);
    cr_expect_eq(memtable_count(m), 20000);
    memtable_unref(m);
}

Test(memtable, iterator_keeps_memtable_alive)
{
    struct memtable *m = memtable_new();
    put(m, 1, "a", "1");
    put(m, 2, "b", "2");
    struct iter *it = memtable_iter_new(m);
    cr_assert_not_null(it);
    memtable_unref(m); /* the creator is done; the iterator still reads */
    iter_seek_to_first(it);
    cr_assert(iter_valid(it));
    cr_expect(slice_equal(internal_key_user_key(iter_key(it)), S("a")));
    cr_expect(slice_equal(iter_value(it), S("1")));
    iter_next(it);
    cr_assert(iter_valid(it));
    cr_expect(slice_equal(iter_value(it), S("2")));
    iter_destroy(it); /* frees the memtable; ASan checks nothing leaks */
}

Test(memtable, refcount_with_extra_refs)
{
    struct memtable *m = memtable_new();
    put(m, 1, "a", "1");
    memtable_ref(m);
    memtable_unref(m);
    expect_get(m, "a", 1, "1"); /* still alive: one reference left */
    memtable_unref(m);
}

Test(memtable, bad_seek_target)
{
    struct memtable *m = memtable_new();
    put(m, 1, "a", "1");
    struct iter *it = memtable_iter_new(m);
    iter_seek_to_first(it);
    iter_seek(it, S("short"));
    cr_expect(!iter_valid(it));
    cr_expect_eq(iter_status(it), STRATA_INVALID_ARGUMENT);
    iter_destroy(it);
    memtable_unref(m);
}

Test(memtable, bad_add_arguments)
{
    struct memtable *m = memtable_new();
    cr_expect_eq(memtable_add(m, MAX_SEQUENCE + 1, TYPE_VALUE, S("a"), S("b")),
                 STRATA_INVALID_ARGUMENT);
    cr_expect_eq(memtable_add(m, 1, (enum value_type)7, S("a"), S("b")), STRATA_INVALID_ARGUMENT);
    cr_expect_eq(memtable_count(m), 0);
    expect_get(m, "a", MAX_SEQUENCE, NULL);
    memtable_unref(m);
}

/* ---- memtables on a block pool -------------------------------------------- */

enum { ARENA_BLOCK = 64 * 1024 }; /* what an ordinary arena block takes */

/* Adds count entries "<prefix>NNNNNN" -> 100 bytes of fill, from seq. */
static void add_many(struct memtable *m, const char *prefix, int count, uint64_t seq, char fill)
{
    char key[32], val[100];
    memset(val, fill, sizeof val);
    for (int i = 0; i < count; i++) {
        int n = snprintf(key, sizeof key, "%s%06d", prefix, i);
        cr_assert_eq(memtable_add(m, seq + (uint64_t)i, TYPE_VALUE, slice_make(key, (size_t)n),
                                  slice_make(val, sizeof val)),
                     STRATA_OK);
    }
}

Test(memtable, pooled_memtable_reuses_the_flushed_ones_blocks)
{
    enum { LIMIT = 4 << 20, COUNT = 5000 };
    struct arena_pool *pool = arena_pool_new(LIMIT);
    cr_assert_not_null(pool);
    struct memtable *old = memtable_new_pooled(pool);
    cr_assert_not_null(old);
    add_many(old, "old", COUNT, 1, 'o');
    size_t old_usage = memtable_memory_usage(old);
    memtable_unref(old);
    cr_expect_eq(arena_pool_memory_usage(pool), old_usage, "all of it waits in the pool");

    /* The new memtable sits on the old one's bytes: none of them may show. */
    struct memtable *m = memtable_new_pooled(pool);
    cr_assert_not_null(m);
    add_many(m, "new", COUNT, 1, 'n');
    cr_expect_eq(memtable_count(m), COUNT);
    cr_expect_eq(memtable_memory_usage(m) + arena_pool_memory_usage(pool), old_usage,
                 "the same entries need the same blocks, all recycled");
    struct arena_pool_stats s;
    arena_pool_get_stats(pool, &s);
    cr_expect_eq(s.allocated * ARENA_BLOCK, old_usage, "only the first memtable mallocs");
    struct slice v;
    cr_expect_eq(memtable_get(m, S("old000007"), MAX_SEQUENCE, &v), MEMTABLE_ABSENT);
    cr_expect_eq(memtable_get(m, S("new000007"), MAX_SEQUENCE, &v), MEMTABLE_FOUND);
    struct iter *it = memtable_iter_new(m);
    cr_assert_not_null(it);
    int seen = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it), seen++) {
        struct slice uk = internal_key_user_key(iter_key(it));
        cr_assert(uk.len == 9 && memcmp(uk.data, "new", 3) == 0, "entry %d: '%.*s'", seen,
                  (int)uk.len, uk.data);
        cr_assert_eq(iter_value(it).data[0], 'n');
    }
    cr_expect_eq(seen, COUNT);
    iter_destroy(it);
    memtable_unref(m);
    arena_pool_free(pool);
}

Test(memtable, pool_bound_holds_across_memtables)
{
    enum { LIMIT = 256 * 1024 };
    struct arena_pool *pool = arena_pool_new(LIMIT);
    cr_assert_not_null(pool);
    for (int round = 0; round < 5; round++) {
        struct memtable *m = memtable_new_pooled(pool);
        cr_assert_not_null(m);
        add_many(m, "k", 4000, 1, 'v'); /* about 600 KiB: more than the bound */
        memtable_unref(m);
        cr_expect_leq(arena_pool_memory_usage(pool), LIMIT);
    }
    cr_expect_eq(arena_pool_memory_usage(pool), LIMIT);
    arena_pool_free(pool);
}

Test(memtable, null_pool_is_the_plain_memtable)
{
    struct memtable *m = memtable_new_pooled(NULL);
    cr_assert_not_null(m);
    put(m, 1, "a", "1");
    expect_get(m, "a", 1, "1");
    memtable_unref(m);
}

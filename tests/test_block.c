/*
 * test_block.c: the block builder and reader (sstable/block_builder.c,
 * sstable/block.c).
 *
 * Round trips check every iterator operation against a model: the sorted
 * array of entries the block was built from, searched with the same
 * comparator (lower bound for seek, upper bound minus one for
 * seek_for_prev).  Every block is read from a heap buffer of exactly its
 * size, so that under `make asan` a read one byte past a block is a
 * failure.  Damage tests truncate, flip and rewrite blocks and require
 * STRATA_CORRUPTION from block_open() or from the iterator, never a crash.
 * One test spells out the bytes of a small block, so that the format in
 * docs/sstable_format.md, not only the round trip, is under test.  Random
 * inputs come from fixed seeds, printed.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/buf.h"
#include "src/coding.h"
#include "src/dbformat.h"
#include "src/iterator.h"
#include "src/status.h"
#include "sstable/block.h"
#include "sstable/block_builder.h"

/* Under `make asan`, a leak found after a test has reported does not fail
 * it, so the test that needs the leak checker calls it itself. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HAVE_LEAK_CHECK 1
#endif

/* Criterion reports every assertion to its runner; the loops below make
 * millions, so they only call it on failure. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            cr_assert_fail(__VA_ARGS__);                                                           \
    } while (0)

static const struct block_origin origin = { "test.sst", 4096 };
static const char corrupt_prefix[] = "corrupted block in test.sst at offset 4096: ";

static int raw_cmp(struct slice a, struct slice b)
{
    return slice_compare(a, b);
}

static int ikey_cmp(struct slice a, struct slice b)
{
    return internal_key_compare(a, b);
}

/* ---- random numbers ------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static size_t rng_below(size_t n)
{
    return n ? (size_t)(rng_next() % n) : 0;
}

static void rng_seed(const char *test, uint64_t seed)
{
    fprintf(stderr, "block/%s: seed %#" PRIx64 "\n", test, seed);
    rng_state = seed;
}

/* ---- the model: a sorted array of entries ---------------------------------------- */

struct entry {
    char *key, *value;
    size_t klen, vlen;
};

struct model {
    struct entry *e;
    size_t n, cap;
    block_cmp_fn cmp;
};

static void model_add(struct model *m, const void *k, size_t klen, const void *v, size_t vlen)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->e = realloc(m->e, m->cap * sizeof *m->e);
        cr_assert_not_null(m->e);
    }
    struct entry *e = &m->e[m->n++];
    e->key = malloc(klen ? klen : 1);
    e->value = malloc(vlen ? vlen : 1);
    cr_assert(e->key && e->value);
    if (klen)
        memcpy(e->key, k, klen);
    if (vlen)
        memcpy(e->value, v, vlen);
    e->klen = klen;
    e->vlen = vlen;
}

static struct slice ekey(const struct entry *e)
{
    return slice_make(e->key, e->klen);
}

static struct slice evalue(const struct entry *e)
{
    return slice_make(e->value, e->vlen);
}

static block_cmp_fn sort_cmp;

static int entry_order(const void *a, const void *b)
{
    return sort_cmp(ekey(a), ekey(b));
}

/* Sort by the model's comparator and drop repeated keys. */
static void model_sort(struct model *m)
{
    sort_cmp = m->cmp;
    qsort(m->e, m->n, sizeof *m->e, entry_order);
    size_t out = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (out > 0 && m->cmp(ekey(&m->e[out - 1]), ekey(&m->e[i])) == 0) {
            free(m->e[i].key);
            free(m->e[i].value);
            continue;
        }
        m->e[out++] = m->e[i];
    }
    m->n = out;
}

static void model_free(struct model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].key);
        free(m->e[i].value);
    }
    free(m->e);
    memset(m, 0, sizeof *m);
}

/* First index with key >= t (n when none). */
static size_t model_lower(const struct model *m, struct slice t)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->cmp(ekey(&m->e[mid]), t) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Last index with key <= t, as a signed index (-1 when none). */
static long model_last_leq(const struct model *m, struct slice t)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->cmp(ekey(&m->e[mid]), t) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

/* ---- building and opening ---------------------------------------------------------- */

/* The block of the model's entries, in a new heap buffer of exactly its
 * size; also checks that the size estimate was exact. */
static char *build_block(const struct model *m, int interval, size_t *len)
{
    struct block_builder b;
    block_builder_init(&b, interval);
    for (size_t i = 0; i < m->n; i++)
        cr_assert_eq(block_builder_add(&b, ekey(&m->e[i]), evalue(&m->e[i])), STRATA_OK);
    size_t estimate = block_builder_size_estimate(&b);
    struct slice c;
    cr_assert_eq(block_builder_finish(&b, &c), STRATA_OK);
    cr_assert_eq(c.len, estimate, "estimate %zu, finished %zu", estimate, c.len);
    char *copy = malloc(c.len ? c.len : 1);
    cr_assert_not_null(copy);
    memcpy(copy, c.data, c.len);
    *len = c.len;
    block_builder_free(&b);
    return copy;
}

static struct block *open_copy(const char *data, size_t len)
{
    char *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    memcpy(copy, data, len);
    struct block *blk;
    int rc = block_open(slice_make(copy, len), 1, &origin, &blk);
    cr_assert_eq(rc, STRATA_OK, "block_open: %s", strata_last_error());
    return blk;
}

/* ---- checking a block against its model --------------------------------------------- */

/* The iterator is at model index i (-1 or n: invalid with a clean status). */
static void expect_at(struct iter *it, const struct model *m, long i, const char *what)
{
    if (i < 0 || (size_t)i >= m->n) {
        CHECK(!iter_valid(it), "%s: valid, expected the end (%ld of %zu)", what, i, m->n);
        CHECK(iter_status(it) == STRATA_OK, "%s: %s", what, strata_last_error());
        return;
    }
    CHECK(iter_valid(it), "%s: invalid, expected entry %ld of %zu (%s)", what, i, m->n,
          iter_status(it) ? strata_last_error() : "status ok");
    const struct entry *e = &m->e[i];
    CHECK(slice_equal(iter_key(it), ekey(e)), "%s: wrong key at entry %ld", what, i);
    CHECK(slice_equal(iter_value(it), evalue(e)), "%s: wrong value at entry %ld", what, i);
}

static void check_scans(struct iter *it, const struct model *m)
{
    iter_seek_to_first(it);
    for (size_t i = 0; i < m->n; i++) {
        expect_at(it, m, (long)i, "forward");
        iter_next(it);
    }
    expect_at(it, m, (long)m->n, "forward end");
    iter_seek_to_last(it);
    for (long i = (long)m->n - 1; i >= 0; i--) {
        expect_at(it, m, i, "backward");
        iter_prev(it);
    }
    expect_at(it, m, -1, "backward end");
}

static void check_target(struct iter *it, const struct model *m, struct slice t)
{
    iter_seek(it, t);
    expect_at(it, m, (long)model_lower(m, t), "seek");
    iter_seek_for_prev(it, t);
    expect_at(it, m, model_last_leq(m, t), "seek_for_prev");
}

/* Raw keys: each key, and keys just around it in bytewise order. */
static void check_raw_targets(struct iter *it, const struct model *m)
{
    char *t = NULL;
    size_t tcap = 0, maxlen = 0;
    check_target(it, m, slice_make("", 0));
    for (size_t i = 0; i < m->n; i++) {
        const struct entry *e = &m->e[i];
        if (e->klen + 2 > tcap) {
            tcap = 2 * (e->klen + 2);
            t = realloc(t, tcap);
            cr_assert_not_null(t);
        }
        if (e->klen > maxlen)
            maxlen = e->klen;
        memcpy(t, e->key, e->klen);
        check_target(it, m, slice_make(t, e->klen));
        t[e->klen] = 0; /* just after the key */
        check_target(it, m, slice_make(t, e->klen + 1));
        t[e->klen] = (char)0xff;
        check_target(it, m, slice_make(t, e->klen + 1));
        if (e->klen > 0) {
            check_target(it, m, slice_make(t, e->klen - 1)); /* a prefix: before it */
            unsigned char last = (unsigned char)t[e->klen - 1];
            if (last > 0) { /* before the key and after every key it follows */
                t[e->klen - 1] = (char)(last - 1);
                t[e->klen] = (char)0xff;
                check_target(it, m, slice_make(t, e->klen + 1));
            }
            if (last < 0xff) {
                t[e->klen - 1] = (char)(last + 1);
                check_target(it, m, slice_make(t, e->klen));
            }
        }
    }
    /* After the last key. */
    char *after = malloc(maxlen + 1);
    cr_assert_not_null(after);
    memset(after, 0xff, maxlen + 1);
    check_target(it, m, slice_make(after, maxlen + 1));
    free(after);
    free(t);
}

/* Internal keys: each key, and the same user key at other sequence numbers,
 * and the user keys around it. */
static void check_internal_targets(struct iter *it, const struct model *m)
{
    struct buf t = { 0 };
#define IKEY(uk, seq, type)                                                                        \
    do {                                                                                           \
        buf_clear(&t);                                                                             \
        cr_assert_eq(buf_put_internal_key(&t, (uk), (seq), (type)), 0);                           \
        check_target(it, m, buf_slice(&t));                                                        \
    } while (0)
    IKEY(slice_make("", 0), MAX_SEQUENCE, TYPE_FOR_SEEK);
    for (size_t i = 0; i < m->n; i++) {
        struct parsed_internal_key p = { .sequence = 0 };
        cr_assert(parse_internal_key(ekey(&m->e[i]), &p));
        check_target(it, m, ekey(&m->e[i]));
        IKEY(p.user_key, p.sequence + 1, TYPE_VALUE);
        IKEY(p.user_key, p.sequence, p.type == TYPE_VALUE ? TYPE_DELETION : TYPE_VALUE);
        if (p.sequence > 0)
            IKEY(p.user_key, p.sequence - 1, TYPE_VALUE);
        IKEY(p.user_key, MAX_SEQUENCE, TYPE_FOR_SEEK);
        IKEY(p.user_key, 0, TYPE_DELETION);
        char uk[64];
        cr_assert_lt(p.user_key.len + 1, sizeof uk);
        memcpy(uk, p.user_key.data, p.user_key.len);
        uk[p.user_key.len] = 0;
        IKEY(slice_make(uk, p.user_key.len + 1), MAX_SEQUENCE, TYPE_FOR_SEEK);
        if (p.user_key.len > 0)
            IKEY(slice_make(uk, p.user_key.len - 1), 0, TYPE_DELETION);
    }
    IKEY(slice_make("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
                    19),
         0, TYPE_DELETION);
#undef IKEY
    buf_free(&t);
}

/* Random sequences of every operation, tracking the model's index. */
static void check_walk(struct iter *it, const struct model *m, int steps)
{
    iter_seek_to_first(it);
    long at = 0;
    for (int s = 0; s < steps; s++) {
        int op = (int)rng_below(7);
        if ((op == 0 || op == 1) && !iter_valid(it))
            op = 2 + op;
        switch (op) {
        case 0: iter_next(it); at++; break;
        case 1: iter_prev(it); at--; break;
        case 2: iter_seek_to_first(it); at = 0; break;
        case 3: iter_seek_to_last(it); at = (long)m->n - 1; break;
        default: {
            if (m->n == 0) {
                iter_seek(it, slice_make("", 0));
                at = 0;
                break;
            }
            const struct entry *e = &m->e[rng_below(m->n)];
            if (op == 6) {
                iter_seek_for_prev(it, ekey(e));
                at = model_last_leq(m, ekey(e));
            } else {
                iter_seek(it, ekey(e));
                at = (long)model_lower(m, ekey(e));
            }
        }
        }
        if (at >= (long)m->n)
            at = (long)m->n;
        if (at < 0)
            at = -1;
        expect_at(it, m, at, "walk");
    }
}

static int release_calls;

static void count_release(void *arg)
{
    (void)arg;
    release_calls++;
}

/* Build at each restart interval, open, and check everything. */
static void check_model(const struct model *m, const int *intervals, size_t nint, int internal)
{
    for (size_t k = 0; k < nint; k++) {
        size_t len;
        char *data = build_block(m, intervals[k], &len);
        struct block *blk;
        cr_assert_eq(block_open(slice_make(data, len), 1, &origin, &blk), STRATA_OK, "open: %s",
                     strata_last_error());
        size_t want_restarts = (m->n + (size_t)intervals[k] - 1) / (size_t)intervals[k];
        cr_assert_eq(block_num_restarts(blk), want_restarts, "interval %d: %u restarts, want %zu",
                     intervals[k], block_num_restarts(blk), want_restarts);
        cr_assert_eq(block_size(blk), len);
        release_calls = 0;
        struct iter *it = block_iter_new(blk, m->cmp, count_release, NULL);
        cr_assert_not_null(it);
        check_scans(it, m);
        if (internal)
            check_internal_targets(it, m);
        else
            check_raw_targets(it, m);
        check_walk(it, m, 2000);
        cr_assert_eq(release_calls, 0, "released before destroy");
        iter_destroy(it);
        cr_assert_eq(release_calls, 1, "release called %d times", release_calls);
        block_free(blk);
    }
}

static const int all_intervals[] = { 1, 2, 16, 1000 };
#define ALL_INTERVALS all_intervals, sizeof all_intervals / sizeof all_intervals[0]

static void fill_bytes(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)rng_next();
}

/* ---- round trips ------------------------------------------------------------------- */

Test(block, empty_block)
{
    struct block_builder b;
    block_builder_init(&b, 16);
    cr_assert(block_builder_empty(&b));
    cr_assert_eq(block_builder_size_estimate(&b), 4);
    struct slice c;
    cr_assert_eq(block_builder_finish(&b, &c), STRATA_OK);
    cr_assert_eq(c.len, 4, "an empty block is its restart count");
    cr_assert_eq(decode_fixed32(c.data), 0, "with no restart point");
    struct model m = { .cmp = raw_cmp };
    check_model(&m, ALL_INTERVALS, 0);
    struct block *blk = open_copy(c.data, c.len);
    struct iter *it = block_iter_new(blk, raw_cmp, NULL, NULL);
    iter_seek(it, slice_make("x", 1));
    cr_assert(!iter_valid(it));
    iter_seek_for_prev(it, slice_make("x", 1));
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_status(it), STRATA_OK);
    iter_destroy(it);
    block_free(blk);
    block_builder_free(&b);
}

/* The other way to spell an empty block (one restart point at 0, count 1)
 * is not what the builder writes, and the reader refuses it: its restart
 * point is not inside the (empty) entries. */
Test(block, empty_block_with_a_restart_point_is_refused)
{
    static const char bytes[8] = { 0, 0, 0, 0, 1, 0, 0, 0 };
    char *copy = malloc(8);
    cr_assert_not_null(copy);
    memcpy(copy, bytes, 8);
    struct block *blk;
    cr_assert_eq(block_open(slice_make(copy, 8), 1, &origin, &blk), STRATA_CORRUPTION);
    cr_assert_null(blk);
}

Test(block, one_entry)
{
    struct model m = { .cmp = raw_cmp };
    model_add(&m, "only", 4, "value", 5);
    check_model(&m, ALL_INTERVALS, 0);
    model_free(&m);
    /* And the empty key with the empty value. */
    m.cmp = raw_cmp;
    model_add(&m, "", 0, "", 0);
    check_model(&m, ALL_INTERVALS, 0);
    model_free(&m);
}

/* Short random keys over a small alphabet (which includes 0x00 and 0xff),
 * so that keys share prefixes of every length and some are prefixes of
 * others; the empty key; empty and non-empty values. */
Test(block, random_short_keys)
{
    rng_seed("random_short_keys", 0xB10C0001);
    static const char alphabet[] = { 'a', 'b', 'c', 0, (char)0xff };
    for (int round = 0; round < 6; round++) {
        struct model m = { .cmp = raw_cmp };
        model_add(&m, "", 0, "empty key", 9);
        size_t n = 50 + rng_below(400);
        for (size_t i = 0; i < n; i++) {
            char k[16], v[64];
            size_t kl = rng_below(sizeof k + 1), vl = rng_below(3) == 0 ? 0 : rng_below(sizeof v);
            for (size_t j = 0; j < kl; j++)
                k[j] = alphabet[rng_below(sizeof alphabet)];
            fill_bytes(v, vl);
            model_add(&m, k, kl, v, vl);
        }
        model_sort(&m);
        check_model(&m, ALL_INTERVALS, 0);
        model_free(&m);
    }
}

/* Keys sharing 300 bytes, longer than the iterator's inline key space, and
 * empty values. */
Test(block, long_shared_prefixes)
{
    struct model m = { .cmp = raw_cmp };
    char k[320];
    memset(k, 'p', 300);
    for (int i = 0; i < 300; i++) {
        int l = snprintf(k + 300, sizeof k - 300, "%05d", i * 7);
        model_add(&m, k, 300 + (size_t)l, "", 0);
    }
    model_sort(&m);
    check_model(&m, ALL_INTERVALS, 0);
    model_free(&m);
}

/* No two keys share a first byte. */
Test(block, no_shared_prefixes)
{
    rng_seed("no_shared_prefixes", 0xB10C0002);
    struct model m = { .cmp = raw_cmp };
    for (int i = 0; i < 256; i++) {
        char k[8], v[40];
        k[0] = (char)i;
        size_t kl = 1 + rng_below(sizeof k);
        fill_bytes(k + 1, kl - 1);
        size_t vl = rng_below(sizeof v);
        fill_bytes(v, vl);
        model_add(&m, k, kl, v, vl);
    }
    model_sort(&m);
    check_model(&m, ALL_INTERVALS, 0);
    model_free(&m);
}

/* A 1 MiB value between small entries; then a 1 MiB key, and keys sharing
 * all of it but the last byte (the iterator's key buffer grows twice). */
Test(block, huge_entries)
{
    rng_seed("huge_entries", 0xB10C0003);
    const size_t MiB = 1 << 20;
    char *big = malloc(MiB + 1);
    cr_assert_not_null(big);
    fill_bytes(big, MiB + 1);

    struct model m = { .cmp = raw_cmp };
    model_add(&m, "a", 1, "small", 5);
    model_add(&m, "b", 1, big, MiB);
    model_add(&m, "c", 1, "", 0);
    check_model(&m, ALL_INTERVALS, 0);
    model_free(&m);

    m.cmp = raw_cmp;
    big[0] = 'k';
    model_add(&m, "a", 1, "before", 6);
    model_add(&m, big, MiB, "huge key", 8);
    big[MiB - 1] ^= 1;
    model_add(&m, big, MiB, "sibling", 7);
    model_add(&m, big, MiB + 1, "longer", 6);
    model_add(&m, "z", 1, "after", 5);
    model_sort(&m);
    check_model(&m, ALL_INTERVALS, 0);
    model_free(&m);
    free(big);
}

/* Internal keys ordered by internal_key_compare: several versions of each
 * user key (newest first), values and deletions. */
Test(block, internal_keys)
{
    rng_seed("internal_keys", 0xB10C0004);
    for (int round = 0; round < 3; round++) {
        struct model m = { .cmp = ikey_cmp };
        struct buf k = { 0 };
        uint64_t seq = 1000;
        for (int u = 0; u < 300; u++) {
            char uk[32];
            int ul = snprintf(uk, sizeof uk, "user%06d", (int)rng_below(100000));
            int versions = 1 + (int)rng_below(4);
            for (int v = 0; v < versions; v++) {
                buf_clear(&k);
                enum value_type type = rng_below(4) == 0 ? TYPE_DELETION : TYPE_VALUE;
                cr_assert_eq(buf_put_internal_key(&k, slice_make(uk, (size_t)ul), seq++, type), 0);
                char val[100];
                size_t vl = type == TYPE_DELETION ? 0 : rng_below(sizeof val);
                fill_bytes(val, vl);
                model_add(&m, k.data, k.len, val, vl);
            }
        }
        buf_free(&k);
        model_sort(&m);
        check_model(&m, ALL_INTERVALS, 1);
        model_free(&m);
    }
}

/* db_bench's shape: 16-byte decimal user keys, 8-byte tags, 100-byte
 * values, about 4 KiB: the block the performance figures are about. */
Test(block, db_bench_shaped_block)
{
    rng_seed("db_bench_shaped_block", 0xB10C0005);
    struct model m = { .cmp = ikey_cmp };
    struct buf k = { 0 };
    for (int i = 0; i < 35; i++) {
        char uk[17];
        snprintf(uk, sizeof uk, "%016d", 1000 * i + (int)rng_below(1000));
        buf_clear(&k);
        uint64_t seq = 100 + (uint64_t)i;
        cr_assert_eq(buf_put_internal_key(&k, slice_make(uk, 16), seq, TYPE_VALUE), 0);
        char val[100];
        fill_bytes(val, sizeof val);
        model_add(&m, k.data, k.len, val, sizeof val);
    }
    buf_free(&k);
    model_sort(&m);
    check_model(&m, ALL_INTERVALS, 1);
    model_free(&m);
}

/* ---- the builder -------------------------------------------------------------------- */

/* The bytes of a small block, spelled out from docs/sstable_format.md. */
Test(block, encoding_is_the_documented_one)
{
    struct block_builder b;
    block_builder_init(&b, 2);
    cr_assert_eq(block_builder_add(&b, slice_make("apple", 5), slice_make("1", 1)), 0);
    cr_assert_eq(block_builder_add(&b, slice_make("applet", 6), slice_make("", 0)), 0);
    cr_assert_eq(block_builder_add(&b, slice_make("apricot", 7), slice_make("33", 2)), 0);
    struct slice c;
    cr_assert_eq(block_builder_finish(&b, &c), 0);
    static const char want[] = {
        /* offset 0, restart point: shared 0, unshared 5, value 1 */
        0, 5, 1, 'a', 'p', 'p', 'l', 'e', '1',
        /* offset 9: shares "apple", adds "t", no value */
        5, 1, 0, 't',
        /* offset 13, restart point: whole key */
        0, 7, 2, 'a', 'p', 'r', 'i', 'c', 'o', 't', '3', '3',
        /* restart offsets 0 and 13, count 2, all fixed32 little-endian */
        0, 0, 0, 0, 13, 0, 0, 0, 2, 0, 0, 0,
    };
    cr_assert_eq(c.len, sizeof want, "%zu bytes", c.len);
    cr_assert_eq(memcmp(c.data, want, sizeof want), 0);
    block_builder_free(&b);
}

/* Reset keeps the allocations and forgets everything else: a rebuilt block
 * is byte for byte the one a fresh builder makes.  Finish twice gives the
 * same block; add after finish is refused. */
Test(block, builder_reset_and_reuse)
{
    rng_seed("builder_reset_and_reuse", 0xB10C0006);
    struct model m = { .cmp = raw_cmp };
    for (int i = 0; i < 200; i++) {
        char k[12], v[30];
        size_t kl = 1 + rng_below(sizeof k - 1), vl = rng_below(sizeof v);
        fill_bytes(k, kl);
        fill_bytes(v, vl);
        model_add(&m, k, kl, v, vl);
    }
    model_sort(&m);
    size_t len;
    char *fresh = build_block(&m, 16, &len);

    struct block_builder b;
    block_builder_init(&b, 16);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < m.n / (size_t)(round + 1); i++)
            cr_assert_eq(block_builder_add(&b, ekey(&m.e[i]), evalue(&m.e[i])), 0);
        block_builder_reset(&b);
        cr_assert(block_builder_empty(&b));
        cr_assert_eq(block_builder_size_estimate(&b), 4);
    }
    char *data_before = b.data.data;
    for (size_t i = 0; i < m.n; i++) {
        cr_assert_eq(block_builder_add(&b, ekey(&m.e[i]), evalue(&m.e[i])), 0);
        /* The estimate tracks the size as entries go in. */
        size_t restarts = i / 16 + 1;
        CHECK(block_builder_size_estimate(&b) == b.data.len + 4 * (restarts + 1), "estimate");
    }
    struct slice c, again;
    cr_assert_eq(block_builder_finish(&b, &c), 0);
    cr_assert_eq(b.data.data, data_before, "reset kept the buffer (it was big enough)");
    cr_assert_eq(c.len, len);
    cr_assert_eq(memcmp(c.data, fresh, len), 0);
    cr_assert_eq(block_builder_finish(&b, &again), 0);
    cr_assert(again.data == c.data && again.len == c.len);
    cr_assert_eq(block_builder_size_estimate(&b), len);
    cr_assert_eq(block_builder_add(&b, slice_make("zzz", 3), slice_make("", 0)),
                 STRATA_INVALID_ARGUMENT);
    block_builder_free(&b);
    free(fresh);
    model_free(&m);
}

/* ---- damaged blocks ---------------------------------------------------------------- */

/* Run every operation over a block that may be damaged, checking only that
 * nothing crashes and that what comes out is either entries or
 * STRATA_CORRUPTION with the documented message; return the first failing
 * status (or STRATA_OK). */
static int exercise(struct block *blk, const struct model *m)
{
    int status = STRATA_OK;
    struct iter *it = block_iter_new(blk, m->cmp, NULL, NULL);
    cr_assert_not_null(it);
#define NOTE()                                                                                     \
    do {                                                                                           \
        int s_ = iter_status(it);                                                                  \
        if (s_ != STRATA_OK) {                                                                     \
            CHECK(s_ == STRATA_CORRUPTION, "status %d", s_);                                       \
            CHECK(!iter_valid(it), "valid with a failed status");                                  \
            CHECK(strncmp(strata_last_error(), corrupt_prefix, sizeof corrupt_prefix - 1) == 0,    \
                  "message: %s", strata_last_error());                                             \
            if (status == STRATA_OK)                                                               \
                status = s_;                                                                       \
        }                                                                                          \
    } while (0)
    size_t steps = 0;
    for (iter_seek_to_first(it); iter_valid(it) && steps < 10 * m->n + 10; iter_next(it), steps++)
        (void)iter_key(it), (void)iter_value(it);
    NOTE();
    steps = 0;
    for (iter_seek_to_last(it); iter_valid(it) && steps < 10 * m->n + 10; iter_prev(it), steps++)
        (void)iter_key(it);
    NOTE();
    for (size_t i = 0; i < m->n; i++) {
        iter_seek(it, ekey(&m->e[i]));
        if (iter_valid(it))
            iter_prev(it);
        NOTE();
        iter_seek_for_prev(it, ekey(&m->e[i]));
        if (iter_valid(it))
            iter_next(it);
        NOTE();
    }
#undef NOTE
    iter_destroy(it);
    return status;
}

/* Open a damaged copy (owned, so a failed open must free it: the leak
 * checker of `make asan` watches) and exercise it.  Returns the failing
 * status from either step, STRATA_OK when the damage went unnoticed. */
static int try_damaged(const char *data, size_t len, const struct model *m)
{
    char *copy = malloc(len);
    cr_assert(copy || len == 0);
    if (len)
        memcpy(copy, data, len);
    struct block *blk = NULL;
    int rc = block_open(slice_make(copy, len), 1, &origin, &blk);
    if (rc != STRATA_OK) {
        CHECK(rc == STRATA_CORRUPTION, "block_open: %d", rc);
        CHECK(blk == NULL, "block set on failure");
        CHECK(strncmp(strata_last_error(), corrupt_prefix, sizeof corrupt_prefix - 1) == 0,
              "message: %s", strata_last_error());
        return rc;
    }
    rc = exercise(blk, m);
    block_free(blk);
    return rc;
}

/* Entries with printable values, about 40 of them in 10 restart intervals. */
static void small_model(struct model *m, uint64_t seed)
{
    fprintf(stderr, "block: small model from seed %#" PRIx64 "\n", seed);
    rng_state = seed;
    m->cmp = raw_cmp;
    for (int i = 0; i < 40; i++) {
        char k[16], v[12];
        int kl = snprintf(k, sizeof k, "key%03d%s", (int)rng_below(1000), i % 3 ? "" : "x");
        size_t vl = rng_below(sizeof v);
        for (size_t j = 0; j < vl; j++)
            v[j] = (char)('a' + rng_below(26));
        model_add(m, k, (size_t)kl, v, vl);
    }
    model_sort(m);
}

Test(block, truncated_at_every_length)
{
    rng_seed("truncated_at_every_length", 0xB10C0007);
    struct model m = { 0 };
    small_model(&m, 0xB10C0007);
    const int intervals[] = { 1, 4, 16 };
    for (size_t k = 0; k < 3; k++) {
        size_t len;
        char *data = build_block(&m, intervals[k], &len);
        for (size_t l = 0; l < len; l++) {
            int rc = try_damaged(data, l, &m);
            CHECK(rc == STRATA_CORRUPTION,
                  "interval %d: block cut to %zu of %zu bytes read as whole", intervals[k], l, len);
        }
        cr_assert_eq(try_damaged(data, len, &m), STRATA_OK, "the whole block");
        free(data);
    }
    model_free(&m);
}

Test(block, flipped_bytes)
{
    rng_seed("flipped_bytes", 0xB10C0008);
    struct model m = { 0 };
    small_model(&m, 0xB10C0008);
    size_t len;
    char *data = build_block(&m, 4, &len);
    char *copy = malloc(len);
    cr_assert_not_null(copy);
    const unsigned char masks[] = { 0x01, 0x80, 0xff };
    int detected = 0, total = 0;
    for (size_t pos = 0; pos < len; pos++) {
        for (size_t k = 0; k < sizeof masks; k++) {
            memcpy(copy, data, len);
            copy[pos] ^= (char)masks[k];
            int rc = try_damaged(copy, len, &m);
            total++;
            detected += rc != STRATA_OK;
            /* The restart count is checked against the size: a changed
             * count never passes. */
            if (pos >= len - 4)
                CHECK(rc == STRATA_CORRUPTION, "flip %#x of count byte %zu unnoticed", masks[k],
                      pos);
        }
    }
    fprintf(stderr,
            "block/flipped_bytes: %d of %d flips detected (the rest changed keys or values, "
            "which only the table's checksum can see)\n",
            detected, total);
    cr_assert_gt(detected, 0);
    free(copy);
    free(data);
    model_free(&m);
}

/* Random garbage never crashes the reader. */
Test(block, random_garbage)
{
    rng_seed("random_garbage", 0xB10C0009);
    struct model m = { 0 };
    small_model(&m, 0xB10C0009);
    for (int round = 0; round < 3000; round++) {
        size_t len = rng_below(200);
        char *g = malloc(len ? len : 1);
        cr_assert_not_null(g);
        fill_bytes(g, len);
        /* A plausible restart array half the time, so that the entries are
         * reached. */
        if (len >= 12 && rng_below(2)) {
            uint32_t n = 1 + (uint32_t)rng_below(2);
            encode_fixed32(g + len - 4, n);
            encode_fixed32(g + len - 4 - 4 * n, 0);
            if (n == 2)
                encode_fixed32(g + len - 8, (uint32_t)rng_below(len - 12) + 1);
        }
        try_damaged(g, len, &m);
        free(g);
    }
    model_free(&m);
}

/* Where the second entry of a block starts: after the first's header, key
 * and value. */
static uint32_t second_entry_offset(const char *data, size_t len)
{
    uint32_t shared, unshared, vlen;
    const char *p = decode_varint32(data, data + len, &shared);
    cr_assert_not_null(p);
    p = decode_varint32(p, data + len, &unshared);
    cr_assert_not_null(p);
    p = decode_varint32(p, data + len, &vlen);
    cr_assert_not_null(p);
    return (uint32_t)(p - data) + unshared + vlen;
}

/* The status after one forward scan and nothing else. */
static int scan_status(const char *data, size_t len)
{
    struct block *blk = open_copy(data, len);
    struct iter *it = block_iter_new(blk, raw_cmp, NULL, NULL);
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it)) {
    }
    int rc = iter_status(it);
    iter_destroy(it);
    block_free(blk);
    return rc;
}

/* Rewrite the restart array of a good block in each bad way. */
Test(block, bogus_restart_arrays)
{
    struct model m = { 0 };
    small_model(&m, 0xB10C000A);
    size_t len;
    char *data = build_block(&m, 4, &len);
    char *b = malloc(len);
    cr_assert_not_null(b);
    uint32_t n = decode_fixed32(data + len - 4);
    uint32_t end = (uint32_t)(len - 4 - 4 * n);
    char *r = b + end; /* the restart array in b */
    cr_assert_geq(n, 3);
    uint32_t r1 = decode_fixed32(data + end + 4);

#define RESTART_CASE(what, must_fail_open, edit)                                                   \
    do {                                                                                           \
        memcpy(b, data, len);                                                                      \
        edit;                                                                                      \
        int rc_ = try_damaged(b, len, &m);                                                         \
        cr_expect_eq(rc_, STRATA_CORRUPTION, "%s: unnoticed", what);                               \
        if (must_fail_open) {                                                                      \
            struct block *blk_;                                                                    \
            char *c_ = malloc(len);                                                                \
            memcpy(c_, b, len);                                                                    \
            cr_expect_eq(block_open(slice_make(c_, len), 1, &origin, &blk_), STRATA_CORRUPTION,    \
                         "%s: block_open accepted it", what);                                      \
            if (blk_)                                                                              \
                block_free(blk_);                                                                  \
        }                                                                                          \
    } while (0)

    RESTART_CASE("count 0 with entries", 1, encode_fixed32(b + len - 4, 0));
    RESTART_CASE("count too big", 1, encode_fixed32(b + len - 4, n + 1000));
    RESTART_CASE("count 2^32-1", 1, encode_fixed32(b + len - 4, UINT32_MAX));
    RESTART_CASE("count one more", 1, encode_fixed32(b + len - 4, n + 1));
    RESTART_CASE("count one less", 1, encode_fixed32(b + len - 4, n - 1));
    RESTART_CASE("first restart not 0", 1, encode_fixed32(r, 1));
    RESTART_CASE("restarts equal", 1, encode_fixed32(r + 8, r1));
    uint32_t r2 = decode_fixed32(data + end + 8);
    RESTART_CASE("restarts decreasing", 1, encode_fixed32(r + 4, r2 + 1));
    RESTART_CASE("restart at the end of the entries", 1, encode_fixed32(r + 4 * (n - 1), end));
    RESTART_CASE("restart past the entries", 1, encode_fixed32(r + 4 * (n - 1), end + 100));
    /* The next two pass block_open; a forward scan alone must see them, so
     * that scans and seeks never decode different entries. */
    RESTART_CASE("restart inside an entry", 0, encode_fixed32(r + 4, r1 + 1));
    cr_expect_eq(scan_status(b, len), STRATA_CORRUPTION, "scan over a restart inside an entry");
    /* One byte before a real restart point: the scan reaches the real one,
     * whose key is whole, having run across the false one. */
    RESTART_CASE("restart just before a restart point", 0, encode_fixed32(r + 4, r1 - 1));
    cr_expect_eq(scan_status(b, len), STRATA_CORRUPTION, "scan over a restart one byte early");
    /* An entry boundary, but one whose key shares a prefix with the key
     * before it (every key starts with "key"). */
    RESTART_CASE("restart at an entry that is not whole", 0,
                 encode_fixed32(r + 4, second_entry_offset(data, len)));
    cr_expect_eq(scan_status(b, len), STRATA_CORRUPTION, "scan over a restart that is not whole");
#undef RESTART_CASE
    free(b);
    free(data);
    model_free(&m);
}

/* The last entry of a block runs across the restart points after it, to
 * the end of the entries: a scan must not accept it, since a seek or a
 * backward scan starts at those restart points and decodes other entries
 * there (found by tests/fuzz/fuzz_block.c: the forward scan succeeded, the
 * backward one failed). */
Test(block, last_entry_across_restart_points)
{
    /* Entries: "a" -> "x" at 0, then "b" -> 10 bytes at 5, running to 19;
     * restart points 0, 5 and 8 (inside the second entry). */
    char b[35];
    memcpy(b, "\0\1\1ax\0\1\x0a" "b", 9);
    memset(b + 9, 'v', 10);
    encode_fixed32(b + 19, 0);
    encode_fixed32(b + 23, 5);
    encode_fixed32(b + 27, 8);
    encode_fixed32(b + 31, 3);
    cr_expect_eq(scan_status(b, sizeof b), STRATA_CORRUPTION, "scan over the last restart points");
    struct block *blk = open_copy(b, sizeof b);
    struct iter *it = block_iter_new(blk, raw_cmp, NULL, NULL);
    iter_seek_to_last(it);
    cr_expect(!iter_valid(it) && iter_status(it) == STRATA_CORRUPTION);
    iter_destroy(it);
    block_free(blk);
}

/* The message names the file and the block's offset; the failure is
 * sticky; a failed open of an owned buffer frees it (the ASan leak check
 * would report it otherwise). */
Test(block, corruption_is_reported_and_sticky)
{
    struct model m = { 0 };
    small_model(&m, 0xB10C000B);
    size_t len;
    char *data = build_block(&m, 4, &len);
    /* Make the third entry's key claim more shared bytes than exist. */
    uint32_t second = second_entry_offset(data, len);
    char *b = malloc(len);
    cr_assert_not_null(b);
    memcpy(b, data, len);
    b[second] = 100;
    struct block *blk;
    cr_assert_eq(block_open(slice_make(b, len), 1, &origin, &blk), STRATA_OK);
    struct iter *it = block_iter_new(blk, raw_cmp, NULL, NULL);
    iter_seek_to_first(it);
    cr_assert(iter_valid(it));
    iter_next(it);
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_status(it), STRATA_CORRUPTION);
    cr_log_info("%s", strata_last_error());
    cr_assert_eq(strncmp(strata_last_error(), corrupt_prefix, sizeof corrupt_prefix - 1), 0,
                 "message: %s", strata_last_error());
    char where[64];
    snprintf(where, sizeof where, "entry at byte %u of the block", second);
    cr_assert_not_null(strstr(strata_last_error(), where), "message: %s", strata_last_error());
    /* Sticky: no operation makes the iterator valid again. */
    iter_seek_to_first(it);
    cr_assert(!iter_valid(it));
    iter_seek(it, ekey(&m.e[0]));
    cr_assert(!iter_valid(it));
    iter_seek_to_last(it);
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_status(it), STRATA_CORRUPTION);
    iter_destroy(it);
    block_free(blk);

    /* Too short to hold a count: the owned buffer is freed by block_open. */
    char *tiny = malloc(3);
    cr_assert_not_null(tiny);
    memset(tiny, 0, 3);
    cr_assert_eq(block_open(slice_make(tiny, 3), 1, &origin, &blk), STRATA_CORRUPTION);
    cr_assert_eq(strncmp(strata_last_error(), corrupt_prefix, sizeof corrupt_prefix - 1), 0);
    /* Not owned: left to the caller. */
    cr_assert_eq(block_open(slice_make(data, 3), 0, &origin, &blk), STRATA_CORRUPTION);
    free(data);
    model_free(&m);
}

/* A failed block_open of an owned buffer frees it, whatever the reason. */
Test(block, failed_open_frees_owned_buffer)
{
    const size_t lens[] = { 0, 1, 3, 4, 8, 100 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char *p = malloc(lens[i] ? lens[i] : 1);
        cr_assert_not_null(p);
        memset(p, 0x5a, lens[i]); /* a restart count far too big */
        struct block *blk;
        cr_assert_eq(block_open(slice_make(p, lens[i]), 1, &origin, &blk), STRATA_CORRUPTION);
        cr_assert_null(blk);
    }
#ifdef HAVE_LEAK_CHECK
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "block_open leaked an owned buffer");
#else
    cr_log_info("no leak checker in this build: run `make asan` to check the frees");
#endif
}

/* ---- concurrency -------------------------------------------------------------------- */

struct reader_arg {
    struct block *blk;
    const struct model *m;
    int failures;
};

static void *reader(void *p)
{
    struct reader_arg *a = p;
    for (int round = 0; round < 50; round++) {
        struct iter *it = block_iter_new(a->blk, a->m->cmp, NULL, NULL);
        if (!it) {
            a->failures++;
            continue;
        }
        size_t i = 0;
        for (iter_seek_to_first(it); iter_valid(it); iter_next(it), i++)
            a->failures += i >= a->m->n || !slice_equal(iter_key(it), ekey(&a->m->e[i]));
        a->failures += i != a->m->n;
        for (size_t j = 0; j < a->m->n; j++) {
            iter_seek(it, ekey(&a->m->e[j]));
            a->failures += !iter_valid(it) || !slice_equal(iter_value(it), evalue(&a->m->e[j]));
        }
        iter_destroy(it);
    }
    return NULL;
}

/* Blocks are immutable: iterators in several threads share one. */
Test(block, iterators_in_threads)
{
    struct model m = { 0 };
    small_model(&m, 0xB10C000C);
    size_t len;
    char *data = build_block(&m, 4, &len);
    struct block *blk;
    cr_assert_eq(block_open(slice_make(data, len), 1, &origin, &blk), STRATA_OK);
    struct reader_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct reader_arg){ blk, &m, 0 };
        cr_assert_eq(pthread_create(&th[i], NULL, reader, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(args[i].failures, 0, "reader %d: %d mismatches", i, args[i].failures);
    }
    block_free(blk);
    model_free(&m);
}

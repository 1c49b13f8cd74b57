/*
 * test_bloom.c: the table bloom filter (sstable/bloom.c).
 *
 * Keys are generated from fixed seeds (printed) and hashed with hash64,
 * seed 0, as the table builder does.  The false-positive tests compare the
 * measured rate with bloom_expected_fp_rate(), the prediction of the
 * filter's own layout, and print both.  The layout test rebuilds a filter
 * from the description in docs/sstable_format.md with code written apart
 * from bloom.c, so that the bytes on disk, not only the round trip, are
 * under test.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/buf.h"
#include "src/coding.h"
#include "src/hash.h"
#include "sstable/bloom.h"

/* Criterion reports every assertion to its runner; the loops below make
 * millions, so they only call it on failure. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            cr_assert_fail(__VA_ARGS__);                                                           \
    } while (0)

/* ---- keys ---------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The hash of key number i of a family: "<tag><16 hex digits of a random
 * number>".  Present and absent keys use different tags, so they never
 * coincide. */
static uint64_t key_hash(char tag, uint64_t *rng)
{
    char k[24];
    uint64_t r = splitmix(rng);
    k[0] = tag;
    for (int i = 0; i < 16; i++)
        k[1 + i] = "0123456789abcdef"[(r >> (4 * i)) & 15];
    return hash64(k, 17, 0);
}

static uint64_t *present_hashes(size_t n, uint64_t seed)
{
    uint64_t *h = malloc(n * sizeof *h);
    cr_assert_not_null(h);
    uint64_t rng = seed;
    for (size_t i = 0; i < n; i++)
        h[i] = key_hash('p', &rng);
    return h;
}

static struct slice build(const uint64_t *h, size_t n, int bits_per_key, struct buf *out)
{
    buf_clear(out);
    cr_assert_eq(bloom_build(h, n, bits_per_key, out), 0);
    return buf_slice(out);
}

/* ---- no false negatives ------------------------------------------------------- */

Test(bloom, no_false_negatives)
{
    const size_t n = 100000;
    const uint64_t seed = 0xB100F001;
    const int bits[] = { 1, 2, 5, 10, 20, 30 };
    fprintf(stderr, "bloom/no_false_negatives: seed %#" PRIx64 ", %zu keys\n", seed, n);
    uint64_t *h = present_hashes(n, seed);
    struct buf f = { 0 };
    for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
        struct slice s = build(h, n, bits[b], &f);
        for (size_t i = 0; i < n; i++)
            CHECK(bloom_may_contain(s, h[i]), "key %zu missing at %d bits/key", i, bits[b]);
    }
    /* Small sets too: one line, a few lines, every count up to 200. */
    for (size_t m = 1; m <= 200; m++) {
        struct slice s = build(h, m, 10, &f);
        for (size_t i = 0; i < m; i++)
            CHECK(bloom_may_contain(s, h[i]), "key %zu of %zu missing", i, m);
    }
    buf_free(&f);
    free(h);
}

/* ---- the false-positive rate ------------------------------------------------------- */

/* Build a filter of n keys and probe it with `absent` other keys; the
 * measured rate must be within 10% of the predicted one. */
static void check_fp_rate(int bits_per_key, size_t n, size_t absent, uint64_t seed)
{
    uint64_t *h = present_hashes(n, seed);
    struct buf f = { 0 };
    struct slice s = build(h, n, bits_per_key, &f);
    uint64_t rng = seed ^ 0xA95E47;
    size_t hits = 0;
    for (size_t i = 0; i < absent; i++)
        hits += (size_t)bloom_may_contain(s, key_hash('a', &rng));
    double measured = (double)hits / (double)absent;
    double expected = bloom_expected_fp_rate(n, bits_per_key);
    fprintf(stderr,
            "bloom/fp_rate: %d bits/key, %zu keys, %zu absent probes (seed %#" PRIx64
            "): measured %.4f%%, expected %.4f%% (ratio %.3f), filter %zu bytes\n",
            bits_per_key, n, absent, seed, 100 * measured, 100 * expected, measured / expected,
            s.len);
    cr_expect(measured >= expected * 0.9 && measured <= expected * 1.1,
              "measured %.5f%% vs expected %.5f%% at %d bits/key", 100 * measured, 100 * expected,
              bits_per_key);
    buf_free(&f);
    free(h);
}

Test(bloom, fp_rate_10_bits)
{
    check_fp_rate(10, 1000000, 1000000, 0xB100F010);
}

Test(bloom, fp_rate_5_bits)
{
    check_fp_rate(5, 1000000, 1000000, 0xB100F005);
}

/* At 20 bits/key the rate is about 0.02%: 1M probes would see ~190 false
 * positives, a standard deviation of 7% on its own, too close to the 10%
 * bound to mean anything; 8M probes bring it to 2.5%. */
Test(bloom, fp_rate_20_bits)
{
    check_fp_rate(20, 1000000, 8000000, 0xB100F020);
}

Test(bloom, expected_rate_is_sane)
{
    /* Every added bit per key helps; at 10 bits/key the blocked layout sits
     * between a textbook filter (0.82%) and 1%. */
    double prev = 1.0;
    for (int b = 1; b <= 30; b++) {
        double e = bloom_expected_fp_rate(1000000, b);
        CHECK(e > 0 && e < prev, "%d bits/key: %g after %g", b, e, prev);
        prev = e;
    }
    double e10 = bloom_expected_fp_rate(1000000, 10);
    cr_expect(e10 > 0.0082 && e10 < 0.0100, "10 bits/key: %g", e10);
    cr_expect_eq(bloom_expected_fp_rate(0, 10), 0.0);
}

/* ---- the empty filter and malformed filters --------------------------------------- */

Test(bloom, empty_filter_answers_no)
{
    struct buf f = { 0 };
    cr_assert_eq(buf_append(&f, "prefix", 6), 0);
    cr_assert_eq(bloom_build(NULL, 0, 10, &f), 0);
    cr_assert_eq(f.len, 6 + 6, "an empty filter is its 6-byte tail");
    cr_assert_eq(memcmp(f.data, "prefix", 6), 0, "bloom_build appends");
    struct slice s = slice_make(f.data + 6, 6);
    uint64_t rng = 0xB100F0E0;
    for (int i = 0; i < 10000; i++)
        CHECK(!bloom_may_contain(s, splitmix(&rng)), "empty filter said yes");
    buf_free(&f);
}

/* Every way a filter's tail can disagree with its length or hold
 * parameters no builder writes: each must answer "may contain". */
Test(bloom, malformed_filters_answer_yes)
{
    const size_t n = 1000;
    uint64_t *h = present_hashes(n, 0xB100F0BA);
    struct buf f = { 0 };
    struct slice good = build(h, n, 10, &f);
    size_t len = good.len;
    char *copy = malloc(len + 64);
    cr_assert_not_null(copy);

    uint64_t absent[2000];
    uint64_t rng = 0xB100F0BB;
    int no = 0;
    for (int i = 0; i < 2000; i++) {
        absent[i] = key_hash('a', &rng);
        no += !bloom_may_contain(good, absent[i]);
    }
    cr_assert_gt(no, 1900, "the intact filter must reject most absent keys (%d)", no);

#define EXPECT_ALL_YES(data, l, what)                                                              \
    do {                                                                                           \
        struct slice bad_ = slice_make((data), (l));                                               \
        for (int i_ = 0; i_ < 2000; i_++)                                                          \
            CHECK(bloom_may_contain(bad_, absent[i_]), "%s: said no", what);                       \
    } while (0)

    for (size_t l = 0; l < 6; l++)
        EXPECT_ALL_YES(good.data + len - l, l, "shorter than the tail");
    EXPECT_ALL_YES(good.data, len - 1, "one byte short");
    memcpy(copy, good.data, len);
    copy[len] = 0;
    EXPECT_ALL_YES(copy, len + 1, "one byte long");

    const unsigned char formats[] = { 0, 2, 0x81, 0xff };
    for (size_t i = 0; i < sizeof formats; i++) {
        memcpy(copy, good.data, len);
        copy[len - 1] = (char)formats[i];
        EXPECT_ALL_YES(copy, len, "unknown format");
    }
    const unsigned char probes[] = { 0, 31, 64, 255 };
    for (size_t i = 0; i < sizeof probes; i++) {
        memcpy(copy, good.data, len);
        copy[len - 2] = (char)probes[i];
        EXPECT_ALL_YES(copy, len, "impossible number of probes");
    }
    const uint32_t lines = decode_fixed32(good.data + len - 6);
    const uint32_t wrong[] = { 0, lines - 1, lines + 1, lines * 2, UINT32_MAX };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        memcpy(copy, good.data, len);
        encode_fixed32(copy + len - 6, wrong[i]);
        EXPECT_ALL_YES(copy, len, "line count disagrees with the length");
    }
#undef EXPECT_ALL_YES
    free(copy);
    buf_free(&f);
    free(h);
}

/* ---- the layout, rebuilt from the documentation ------------------------------------ */

/* docs/sstable_format.md, "Bloom filter": lines = ceil(n * bits / 512);
 * line = (high 32 bits of the hash * lines) >> 32; state = low 32 bits;
 * each probe: state *= 0x9E3779B1 (mod 2^32), bit = state >> 23, set bit
 * (bit % 8) of byte (bit / 8) of the line. */
static void model_filter(const uint64_t *h, size_t n, int bits, int probes, struct buf *out)
{
    uint32_t lines = (uint32_t)(((uint64_t)n * (uint64_t)bits + 511) / 512);
    buf_clear(out);
    cr_assert_eq(buf_reserve(out, (size_t)lines * 64 + 6), 0);
    memset(out->data, 0, (size_t)lines * 64);
    for (size_t i = 0; i < n; i++) {
        uint64_t line = ((h[i] >> 32) * lines) >> 32;
        uint32_t state = (uint32_t)h[i];
        for (int p = 0; p < probes; p++) {
            state *= 0x9E3779B1u;
            unsigned bit = state >> 23;
            out->data[line * 64 + bit / 8] |= (char)(1 << (bit % 8));
        }
    }
    out->len = (size_t)lines * 64;
    char tail[6];
    encode_fixed32(tail, lines);
    tail[4] = (char)probes;
    tail[5] = 1;
    cr_assert_eq(buf_append(out, tail, 6), 0);
}

Test(bloom, layout_matches_the_documentation)
{
    /* The probe counts the documentation lists for these sizes. */
    const struct { int bits, probes; } cases[] = { { 5, 3 }, { 10, 6 }, { 20, 11 } };
    const size_t sizes[] = { 1, 7, 51, 52, 1000, 33333 };
    uint64_t *h = present_hashes(33333, 0xB100F0DC);
    struct buf got = { 0 }, want = { 0 };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            build(h, sizes[s], cases[c].bits, &got);
            model_filter(h, sizes[s], cases[c].bits, cases[c].probes, &want);
            cr_assert_eq(got.len, want.len, "%zu keys at %d bits: %zu bytes, want %zu", sizes[s],
                         cases[c].bits, got.len, want.len);
            cr_assert_eq(memcmp(got.data, want.data, got.len), 0,
                         "%zu keys at %d bits: bytes differ from the documented layout", sizes[s],
                         cases[c].bits);
        }
    }
    buf_free(&got);
    buf_free(&want);
    free(h);
}

/*
 * fuzz_block.c: libFuzzer target for the block decoder (sstable/block.c).
 *
 * Input: a flag byte, then
 *   flag bit 0 clear (raw mode): a byte T, T bytes of seek targets (split
 *     into pieces by their first byte: a length, then the bytes), and the
 *     rest is a block's contents (without trailer), opened as such;
 *   flag bit 0 set (build mode): a restart interval byte, then pairs of
 *     length-prefixed key and value (fuzz_lp); the keys are sorted and
 *     deduplicated, built into a block by block_builder, and opened.
 * Flag bit 1 picks the comparator: internal_key_compare (data and index
 * blocks) or slice_compare (the metaindex and properties).
 *
 * What it checks besides "no crash, no sanitizer report, no leak":
 *   - a scan forwards and a scan backwards decode the same entries (same
 *     keys, same values, reverse order) and agree on success; a failed
 *     iterator stays failed (seeks do not revive it);
 *   - when the block decodes and its keys are strictly increasing (under a
 *     comparator that is a total order on them), seek(k) and
 *     seek_for_prev(k) land on k for every key k, next/prev from there
 *     agree with the scan, and seeks to the targets land where a linear
 *     search of the scan says;
 *   - in build mode, the block reads back exactly the model it was built
 *     from (so the builder and the reader agree on the format).
 * The decoder does not promise that arbitrary bytes decode to sorted keys
 * (checksums stand in front of it), so order is a precondition of the seek
 * checks, not a property.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sstable/block.h"
#include "sstable/block_builder.h"
#include "src/dbformat.h"
#include "src/hash.h"
#include "src/status.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_TARGETS = 16 };

/* One entry of a scan, as hashes: keys of a damaged block can grow by a
 * byte per entry, so copying them all would be quadratic in memory. */
struct seen {
    uint64_t key_hash, value_hash;
    size_t key_len, value_len;
};

struct scan {
    struct seen *e;
    size_t n, cap;
    int status;
    int sorted;  /* keys strictly increasing under the comparator */
};

static struct seen seen_of(struct iter *it)
{
    struct slice k = iter_key(it), v = iter_value(it);
    struct seen s = { hash64(k.data, k.len, 0), hash64(v.data, v.len, 0), k.len, v.len };
    return s;
}

static int seen_equal(struct seen a, struct seen b)
{
    return a.key_hash == b.key_hash && a.value_hash == b.value_hash && a.key_len == b.key_len &&
           a.value_len == b.value_len;
}

static void scan_push(struct scan *s, struct seen e)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->e = realloc(s->e, s->cap * sizeof *s->e);
        FUZZ_CHECK(s->e != NULL, "out of memory");
    }
    s->e[s->n++] = e;
}

/* Is every key at least a tag long, so that internal_key_compare orders
 * them totally (it falls back to bytes for shorter ones)? */
static int comparator_total(block_cmp_fn cmp, struct slice k)
{
    return cmp != internal_key_compare || k.len >= INTERNAL_KEY_TAG_LEN;
}

static void scan_forward(struct block *b, block_cmp_fn cmp, struct scan *s)
{
    struct iter *it = block_iter_new(b, cmp, NULL, NULL);
    FUZZ_CHECK(it != NULL, "block_iter_new");
    char *prev = NULL;
    size_t prev_len = 0;
    s->sorted = 1;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it)) {
        struct slice k = iter_key(it);
        if (!comparator_total(cmp, k) || (prev && cmp(slice_make(prev, prev_len), k) >= 0))
            s->sorted = 0;
        if (s->sorted) {
            char *copy = realloc(prev, k.len ? k.len : 1);
            FUZZ_CHECK(copy != NULL, "out of memory");
            memcpy(copy, k.data, k.len);
            prev = copy;
            prev_len = k.len;
        }
        scan_push(s, seen_of(it));
    }
    s->status = iter_status(it);
    if (s->status != STRATA_OK) {
        /* Sticky: no seek makes a failed iterator valid again. */
        iter_seek_to_first(it);
        FUZZ_CHECK(!iter_valid(it), "failed iterator valid after seek_to_first");
        iter_seek_to_last(it);
        FUZZ_CHECK(!iter_valid(it), "failed iterator valid after seek_to_last");
        FUZZ_CHECK(iter_status(it) == s->status, "status changed");
    }
    free(prev);
    iter_destroy(it);
}

/* Backwards from the last entry: the same entries in reverse. */
static void check_backward(struct block *b, block_cmp_fn cmp, const struct scan *fwd)
{
    struct iter *it = block_iter_new(b, cmp, NULL, NULL);
    FUZZ_CHECK(it != NULL, "block_iter_new");
    size_t i = fwd->n;
    for (iter_seek_to_last(it); iter_valid(it); iter_prev(it)) {
        if (fwd->status != STRATA_OK)
            continue; /* a failed forward scan says nothing about what precedes the damage */
        FUZZ_CHECK(i > 0, "backward scan yields more than the %zu entries of the forward one",
                   fwd->n);
        i--;
        FUZZ_CHECK(seen_equal(seen_of(it), fwd->e[i]), "backward entry %zu differs", i);
    }
    if (fwd->status == STRATA_OK) {
        FUZZ_CHECK(iter_status(it) == STRATA_OK, "backward scan fails, forward did not");
        FUZZ_CHECK(i == 0, "backward scan stops with %zu entries unseen", i);
    }
    iter_destroy(it);
}

/* With sorted keys: seek and seek_for_prev to each key land on it, and
 * stepping from there meets its neighbours. */
static void check_seeks_to_keys(struct block *b, block_cmp_fn cmp, const struct scan *fwd)
{
    struct iter *walk = block_iter_new(b, cmp, NULL, NULL);
    struct iter *it = block_iter_new(b, cmp, NULL, NULL);
    FUZZ_CHECK(walk && it, "block_iter_new");
    size_t i = 0;
    for (iter_seek_to_first(walk); iter_valid(walk); iter_next(walk), i++) {
        struct slice k = iter_key(walk);
        iter_seek(it, k);
        FUZZ_CHECK(iter_valid(it) && seen_equal(seen_of(it), fwd->e[i]), "seek to key %zu", i);
        iter_prev(it);
        if (i == 0)
            FUZZ_CHECK(!iter_valid(it) && iter_status(it) == STRATA_OK, "prev before the first");
        else
            FUZZ_CHECK(iter_valid(it) && seen_equal(seen_of(it), fwd->e[i - 1]), "prev of %zu", i);
        iter_seek_for_prev(it, k);
        FUZZ_CHECK(iter_valid(it) && seen_equal(seen_of(it), fwd->e[i]), "seek_for_prev to %zu", i);
        iter_next(it);
        if (i + 1 == fwd->n)
            FUZZ_CHECK(!iter_valid(it) && iter_status(it) == STRATA_OK, "next after the last");
        else
            FUZZ_CHECK(iter_valid(it) && seen_equal(seen_of(it), fwd->e[i + 1]), "next of %zu", i);
    }
    FUZZ_CHECK(i == fwd->n && iter_status(walk) == STRATA_OK, "second scan differs");
    iter_destroy(it);
    iter_destroy(walk);
}

/* With sorted keys: a seek to target lands on the first key >= target, a
 * seek_for_prev on the last key <= target (found here by a linear walk). */
static void check_seek_target(struct block *b, block_cmp_fn cmp, const struct scan *fwd,
                              struct slice target)
{
    if (!comparator_total(cmp, target))
        return;
    struct iter *walk = block_iter_new(b, cmp, NULL, NULL);
    struct iter *it = block_iter_new(b, cmp, NULL, NULL);
    FUZZ_CHECK(walk && it, "block_iter_new");
    size_t lower = fwd->n, upper = 0; /* first >= target; one past the last <= target */
    size_t i = 0;
    for (iter_seek_to_first(walk); iter_valid(walk); iter_next(walk), i++) {
        int c = cmp(iter_key(walk), target);
        if (c >= 0 && lower == fwd->n)
            lower = i;
        if (c <= 0)
            upper = i + 1;
    }
    iter_seek(it, target);
    if (lower == fwd->n)
        FUZZ_CHECK(!iter_valid(it) && iter_status(it) == STRATA_OK, "seek past the last key");
    else
        FUZZ_CHECK(iter_valid(it) && seen_equal(seen_of(it), fwd->e[lower]),
                   "seek lands off entry %zu", lower);
    iter_seek_for_prev(it, target);
    if (upper == 0)
        FUZZ_CHECK(!iter_valid(it) && iter_status(it) == STRATA_OK, "seek_for_prev before the first");
    else
        FUZZ_CHECK(iter_valid(it) && seen_equal(seen_of(it), fwd->e[upper - 1]),
                   "seek_for_prev lands off entry %zu", upper - 1);
    iter_destroy(it);
    iter_destroy(walk);
}

/* Everything above on an opened block; targets may be NULL. */
static void check_block(struct block *b, block_cmp_fn cmp, const struct slice *targets,
                        size_t ntargets, struct scan *fwd)
{
    scan_forward(b, cmp, fwd);
    check_backward(b, cmp, fwd);
    if (fwd->status != STRATA_OK || !fwd->sorted)
        return;
    check_seeks_to_keys(b, cmp, fwd);
    for (size_t i = 0; i < ntargets; i++)
        check_seek_target(b, cmp, fwd, targets[i]);
}

/* ---- raw mode ------------------------------------------------------------------ */

static void fuzz_raw(struct fuzz_input *in, block_cmp_fn cmp)
{
    struct slice tbytes = fuzz_bytes(in, fuzz_byte(in));
    struct fuzz_input tin = fuzz_input_make((const uint8_t *)tbytes.data, tbytes.len);
    struct slice targets[MAX_TARGETS];
    size_t ntargets = 0;
    while (tin.left > 0 && ntargets < MAX_TARGETS)
        targets[ntargets++] = fuzz_lp(&tin);

    /* A buffer of exactly the block's size, so that ASan sees any read
     * past its end. */
    struct slice rest = fuzz_rest(in);
    char *contents = malloc(rest.len ? rest.len : 1);
    FUZZ_CHECK(contents != NULL, "out of memory");
    memcpy(contents, rest.data, rest.len);
    struct block *b;
    if (block_open(slice_make(contents, rest.len), 1, NULL, &b) != STRATA_OK)
        return; /* the block freed contents */
    struct scan fwd = { 0 };
    check_block(b, cmp, targets, ntargets, &fwd);
    free(fwd.e);
    block_free(b);
}

/* ---- build mode ---------------------------------------------------------------- */

static int cmp_for_qsort;

static int slice_qsort(const void *a, const void *b)
{
    const struct slice *x = a, *y = b;
    return cmp_for_qsort ? internal_key_compare(*x, *y) : slice_compare(*x, *y);
}

static void fuzz_build(struct fuzz_input *in, block_cmp_fn cmp)
{
    int interval = 1 + fuzz_byte(in) % 32;
    size_t cap = in->left / 2 + 1, n = 0;
    struct slice *kv = malloc(2 * cap * sizeof *kv);
    FUZZ_CHECK(kv != NULL, "out of memory");
    while (in->left > 0) {
        struct slice k = fuzz_lp(in), v = fuzz_lp(in);
        if (!comparator_total(cmp, k))
            continue;
        kv[2 * n] = k;
        kv[2 * n + 1] = v;
        n++;
    }
    cmp_for_qsort = cmp == internal_key_compare;
    qsort(kv, n, 2 * sizeof *kv, slice_qsort);
    size_t m = 0; /* drop duplicates, keeping the first of each */
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && cmp(kv[2 * (m - 1)], kv[2 * i]) == 0)
            continue;
        kv[2 * m] = kv[2 * i];
        kv[2 * m + 1] = kv[2 * i + 1];
        m++;
    }

    struct block_builder bb;
    block_builder_init(&bb, interval);
    for (size_t i = 0; i < m; i++)
        FUZZ_CHECK(block_builder_add(&bb, kv[2 * i], kv[2 * i + 1]) == STRATA_OK, "add %zu", i);
    size_t estimate = block_builder_size_estimate(&bb);
    struct slice built;
    FUZZ_CHECK(block_builder_finish(&bb, &built) == STRATA_OK, "finish");
    FUZZ_CHECK(built.len == estimate, "size estimate %zu, block %zu", estimate, built.len);
    char *contents = malloc(built.len);
    FUZZ_CHECK(contents != NULL, "out of memory");
    memcpy(contents, built.data, built.len);
    block_builder_free(&bb);

    struct block *b;
    FUZZ_CHECK(block_open(slice_make(contents, built.len), 1, NULL, &b) == STRATA_OK,
               "a built block does not open");
    struct slice targets[MAX_TARGETS];
    size_t ntargets = 0;
    for (size_t i = 0; i < m && ntargets < MAX_TARGETS; i += 1 + m / MAX_TARGETS)
        targets[ntargets++] = kv[2 * i];
    struct scan fwd = { 0 };
    check_block(b, cmp, targets, ntargets, &fwd);
    FUZZ_CHECK(fwd.status == STRATA_OK && fwd.sorted, "a built block does not read back");
    FUZZ_CHECK(fwd.n == m, "built %zu entries, read %zu", m, fwd.n);
    for (size_t i = 0; i < m; i++) {
        struct slice k = kv[2 * i], v = kv[2 * i + 1];
        struct seen want = { hash64(k.data, k.len, 0), hash64(v.data, v.len, 0), k.len, v.len };
        FUZZ_CHECK(seen_equal(fwd.e[i], want), "entry %zu reads back different", i);
    }
    free(fwd.e);
    block_free(b);
    free(kv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = fuzz_input_make(data, size);
    uint8_t flags = fuzz_byte(&in);
    block_cmp_fn cmp = (flags & 2) ? internal_key_compare : slice_compare;
    if (flags & 1)
        fuzz_build(&in, cmp);
    else
        fuzz_raw(&in, cmp);
    return 0;
}

/*
 * fuzz_batch.c: libFuzzer target for the write-batch decoder
 * (src/write_batch.c, batch_iterate), which decodes every WAL record in
 * recovery.
 *
 * Input: the bytes of one encoded batch, header included (no flag byte).
 *
 * What it checks besides "no crash, no sanitizer report, no leak":
 *   - checking alone (handler NULL) and walking with a handler agree on
 *     the status; a failure is STRATA_CORRUPTION naming the origin, after
 *     no more updates than the header's count;
 *   - a batch that decodes delivers exactly the header's count of updates,
 *     numbered sequence, sequence + 1, ...;
 *   - rebuilding it with strata_batch_put/delete gives a batch that walks
 *     to the same updates, whose encoding is stable when rebuilt again,
 *     and appending it to itself (batch_append) doubles the count and
 *     walks to the updates twice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/coding.h"
#include "src/status.h"
#include "src/write_batch.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char origin[] = "fuzz-batch";

struct update {
    uint64_t sequence;
    enum value_type type;
    struct slice key, value;  /* into the batch walked, which outlives the list */
};

struct updates {
    struct update *u;
    size_t n, cap;
};

static int collect(void *ctx, uint64_t sequence, enum value_type type, struct slice key,
                   struct slice value)
{
    struct updates *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->u = realloc(l->u, l->cap * sizeof *l->u);
        FUZZ_CHECK(l->u != NULL, "out of memory");
    }
    struct update up = { sequence, type, key, value };
    l->u[l->n++] = up;
    return STRATA_OK;
}

static int walk(struct slice rep, struct updates *l)
{
    l->n = 0;
    const struct batch_handler h = { l, collect };
    return batch_iterate(rep, &h, origin);
}

/* The same updates in the same order (sequence numbers from first on). */
static void check_same(const struct updates *a, const struct updates *b, size_t b_from,
                       uint64_t first)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct update *x = &a->u[i], *y = &b->u[b_from + i];
        FUZZ_CHECK(x->type == y->type && slice_equal(x->key, y->key) &&
                       slice_equal(x->value, y->value),
                   "update %zu differs", i);
        FUZZ_CHECK(y->sequence == first + b_from + i, "update %zu numbered %llu", i,
                   (unsigned long long)y->sequence);
    }
}

static strata_batch *rebuild(const struct updates *l, uint64_t sequence)
{
    strata_batch *b = strata_batch_new();
    FUZZ_CHECK(b != NULL, "strata_batch_new");
    for (size_t i = 0; i < l->n; i++) {
        const struct update *u = &l->u[i];
        if (u->type == TYPE_VALUE)
            strata_batch_put(b, u->key.data, u->key.len, u->value.data, u->value.len);
        else
            strata_batch_delete(b, u->key.data, u->key.len);
    }
    FUZZ_CHECK(batch_error(b) == STRATA_OK, "rebuilding fails");
    batch_set_sequence(b, sequence);
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice rep = slice_make(data, size);
    struct updates orig = { 0 }, copy = { 0 };
    int checked = batch_iterate(rep, NULL, origin);
    int walked = walk(rep, &orig);
    FUZZ_CHECK(checked == walked, "checking says %d, walking %d", checked, walked);
    if (walked != STRATA_OK) {
        FUZZ_CHECK(walked == STRATA_CORRUPTION, "status %d", walked);
        FUZZ_CHECK(strstr(strata_last_error(), origin) != NULL, "message does not name the origin");
        FUZZ_CHECK(size < BATCH_HEADER_SIZE || orig.n <= decode_fixed32((const char *)data + 8),
                   "%zu updates before the damage, count %u", orig.n,
                   decode_fixed32((const char *)data + 8));
        free(orig.u);
        return 0;
    }
    uint64_t sequence = decode_fixed64((const char *)data);
    FUZZ_CHECK(orig.n == decode_fixed32((const char *)data + 8), "count %u, updates %zu",
               decode_fixed32((const char *)data + 8), orig.n);
    for (size_t i = 0; i < orig.n; i++)
        FUZZ_CHECK(orig.u[i].sequence == sequence + i, "update %zu numbered %llu", i,
                   (unsigned long long)orig.u[i].sequence);

    strata_batch *b = rebuild(&orig, sequence);
    FUZZ_CHECK(walk(batch_contents(b), &copy) == STRATA_OK, "a rebuilt batch does not walk");
    FUZZ_CHECK(copy.n == orig.n, "rebuilt %zu updates of %zu", copy.n, orig.n);
    check_same(&orig, &copy, 0, sequence);

    strata_batch *b2 = rebuild(&copy, sequence);
    FUZZ_CHECK(slice_equal(batch_contents(b), batch_contents(b2)), "rebuilding is not stable");
    strata_batch_free(b2);

    /* b2 = b + b, through what group commit uses. */
    b2 = rebuild(&orig, sequence);
    FUZZ_CHECK(batch_append(b2, b) == STRATA_OK, "batch_append");
    FUZZ_CHECK(batch_count(b2) == 2 * orig.n, "appended count %u", batch_count(b2));
    FUZZ_CHECK(walk(batch_contents(b2), &copy) == STRATA_OK && copy.n == 2 * orig.n,
               "an appended batch does not walk");
    check_same(&orig, &copy, 0, sequence);
    check_same(&orig, &copy, orig.n, sequence);
    strata_batch_free(b2);
    strata_batch_free(b);
    free(orig.u);
    free(copy.u);
    return 0;
}

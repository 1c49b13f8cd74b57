/*
 * test_batch.c: the write-batch encoding (src/write_batch.h): round trips
 * through batch_iterate with sequence numbers, batch_append, errors
 * remembered by put/delete, and damaged encodings (truncated at every byte,
 * wrong counts, unknown types), which must give STRATA_CORRUPTION without
 * reading outside the bytes (every damaged copy lives in a heap block of
 * exactly its size, so AddressSanitizer sees any overrun).  Deterministic.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/coding.h"
#include "src/write_batch.h"
#include "strata.h"
#include "tests/testutil.h"

struct rec {
    uint64_t seq;
    int type;
    char key[300];
    size_t klen;
    char val[300];
    size_t vlen;
};

struct collect {
    struct rec recs[512];
    int n;
    int stop_at; /* return an error on this update (-1: never) */
};

static int collect_update(void *ctx, uint64_t sequence, enum value_type type, struct slice key,
                          struct slice value)
{
    struct collect *c = ctx;
    if (c->n == c->stop_at)
        return STRATA_NO_MEMORY;
    cr_assert_lt(c->n, 512);
    struct rec *r = &c->recs[c->n++];
    r->seq = sequence;
    r->type = type;
    cr_assert_leq(key.len, sizeof r->key);
    cr_assert_leq(value.len, sizeof r->val);
    memcpy(r->key, key.data, key.len);
    r->klen = key.len;
    if (value.len)
        memcpy(r->val, value.data, value.len);
    r->vlen = value.len;
    return STRATA_OK;
}

static int iterate(struct slice rep, struct collect *c)
{
    c->n = 0;
    const struct batch_handler h = { c, collect_update };
    return batch_iterate(rep, &h, "test-batch");
}

/* A heap copy of exactly n bytes. */
static char *dup_exact(const char *p, size_t n)
{
    char *q = malloc(n ? n : 1);
    cr_assert_not_null(q);
    if (n)
        memcpy(q, p, n);
    return q;
}

Test(batch, new_batch_is_empty_and_iterates_to_nothing)
{
    strata_batch *b = strata_batch_new();
    cr_assert_not_null(b);
    cr_assert_eq(strata_batch_count(b), 0);
    cr_assert_eq(b->rep.len, BATCH_HEADER_SIZE);
    struct collect c = { .stop_at = -1 };
    cr_assert_eq(iterate(batch_contents(b), &c), STRATA_OK);
    cr_assert_eq(c.n, 0);
    strata_batch_free(b);
}

Test(batch, round_trip_with_sequence_numbers)
{
    struct tu_rng rng;
    tu_rng_seed(&rng, 1);
    strata_batch *b = strata_batch_new();
    struct rec want[200];
    for (int i = 0; i < 200; i++) {
        struct rec *r = &want[i];
        r->type = tu_rng_chance(&rng, 1, 4) ? TYPE_DELETION : TYPE_VALUE;
        r->klen = tu_rng_uniform(&rng, 64);
        for (size_t j = 0; j < r->klen; j++)
            r->key[j] = (char)tu_rng_next(&rng);
        /* Values crossing the one-byte varint boundary (127/128). */
        r->vlen = r->type == TYPE_VALUE ? tu_rng_uniform(&rng, 300) : 0;
        for (size_t j = 0; j < r->vlen; j++)
            r->val[j] = (char)tu_rng_next(&rng);
        if (r->type == TYPE_VALUE)
            strata_batch_put(b, r->key, r->klen, r->val, r->vlen);
        else
            strata_batch_delete(b, r->key, r->klen);
        cr_assert_eq(strata_batch_count(b), (size_t)i + 1);
    }
    cr_assert_eq(batch_error(b), STRATA_OK);
    const uint64_t seqs[] = { 0, 1, 1000, (UINT64_C(1) << 56) - 300 };
    for (int s = 0; s < 4; s++) {
        batch_set_sequence(b, seqs[s]);
        cr_assert_eq(batch_sequence(b), seqs[s]);
        struct collect c = { .stop_at = -1 };
        cr_assert_eq(iterate(batch_contents(b), &c), STRATA_OK, "%s", strata_last_error());
        cr_assert_eq(c.n, 200);
        for (int i = 0; i < 200; i++) {
            cr_assert_eq(c.recs[i].seq, seqs[s] + (uint64_t)i);
            cr_assert_eq(c.recs[i].type, want[i].type);
            cr_assert_eq(c.recs[i].klen, want[i].klen);
            cr_assert(memcmp(c.recs[i].key, want[i].key, want[i].klen) == 0);
            cr_assert_eq(c.recs[i].vlen, want[i].vlen, "update %d", i);
            cr_assert(want[i].vlen == 0 || memcmp(c.recs[i].val, want[i].val, want[i].vlen) == 0);
        }
        /* A NULL handler only checks. */
        cr_assert_eq(batch_iterate(batch_contents(b), NULL, "x"), STRATA_OK);
    }
    strata_batch_free(b);
}

Test(batch, handler_error_stops_the_walk)
{
    strata_batch *b = strata_batch_new();
    for (int i = 0; i < 10; i++)
        strata_batch_put(b, "k", 1, "v", 1);
    struct collect c = { .stop_at = 4 };
    const struct batch_handler h = { &c, collect_update };
    cr_assert_eq(batch_iterate(batch_contents(b), &h, "x"), STRATA_NO_MEMORY);
    cr_assert_eq(c.n, 4);
    strata_batch_free(b);
}

Test(batch, clear_forgets_updates_and_errors)
{
    strata_batch *b = strata_batch_new();
    strata_batch_put(b, "a", 1, "1", 1);
    strata_batch_put(b, NULL, 3, "x", 1);
    strata_batch_delete(b, "b", 1);
    cr_assert_eq(strata_batch_count(b), 2, "the failed put must not be counted");
    cr_assert_eq(batch_error(b), STRATA_INVALID_ARGUMENT);
    cr_assert_not_null(strstr(strata_last_error(), "strata_batch_put"), "%s", strata_last_error());
    strata_batch_clear(b);
    cr_assert_eq(strata_batch_count(b), 0);
    cr_assert_eq(batch_error(b), STRATA_OK);
    cr_assert_eq(b->rep.len, BATCH_HEADER_SIZE);
    cr_assert_eq(batch_sequence(b), 0);
    strata_batch_put(b, "c", 1, "3", 1);
    struct collect c = { .stop_at = -1 };
    cr_assert_eq(iterate(batch_contents(b), &c), STRATA_OK);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(c.recs[0].key[0], 'c');
    strata_batch_free(b);
}

Test(batch, invalid_arguments_are_remembered_first_one_wins)
{
    strata_batch *b = strata_batch_new();
    void *g = tu_guarded_alloc(4);
    cr_assert_not_null(g);
    size_t huge = (size_t)UINT32_MAX + 1;
    strata_batch_put(b, g, huge, "v", 1); /* must not read g past 4 bytes */
    strata_batch_put(b, "k", 1, NULL, 2);
    strata_batch_delete(b, NULL, 1);
    strata_batch_put(b, "k", 1, g, huge);
    strata_batch_delete(b, g, huge);
    cr_assert_eq(strata_batch_count(b), 0);
    cr_assert_eq(b->rep.len, BATCH_HEADER_SIZE, "a failed update must leave the encoding as it was");
    cr_assert_eq(batch_error(b), STRATA_INVALID_ARGUMENT);
    cr_assert_not_null(strstr(strata_last_error(), "2^32-1"), "%s", strata_last_error());
    /* Valid updates still encode (and are still refused by strata_write). */
    strata_batch_put(b, "k", 1, "v", 1);
    cr_assert_eq(strata_batch_count(b), 1);
    cr_assert_eq(batch_error(b), STRATA_INVALID_ARGUMENT);
    /* NULL with length 0 is the empty key / value. */
    strata_batch_clear(b);
    strata_batch_put(b, NULL, 0, NULL, 0);
    strata_batch_delete(b, NULL, 0);
    cr_assert_eq(batch_error(b), STRATA_OK);
    cr_assert_eq(strata_batch_count(b), 2);
    tu_guarded_free(g, 4);
    strata_batch_free(b);
}

Test(batch, append_concatenates)
{
    strata_batch *a = strata_batch_new(), *b = strata_batch_new(), *e = strata_batch_new();
    strata_batch_put(a, "a1", 2, "x", 1);
    strata_batch_delete(a, "a2", 2);
    strata_batch_put(b, "b1", 2, "", 0);
    strata_batch_put(b, "b2", 2, "yy", 2);
    strata_batch_put(b, "b3", 2, "zzz", 3);
    cr_assert_eq(batch_append(a, e), STRATA_OK); /* empty: no change */
    cr_assert_eq(strata_batch_count(a), 2);
    cr_assert_eq(batch_append(a, b), STRATA_OK);
    cr_assert_eq(strata_batch_count(a), 5);
    cr_assert_eq(strata_batch_count(b), 3, "the source is unchanged");
    cr_assert_eq(batch_append(e, b), STRATA_OK);
    cr_assert_eq(strata_batch_count(e), 3);
    batch_set_sequence(a, 100);
    struct collect c = { .stop_at = -1 };
    cr_assert_eq(iterate(batch_contents(a), &c), STRATA_OK);
    cr_assert_eq(c.n, 5);
    const char *keys[] = { "a1", "a2", "b1", "b2", "b3" };
    const int types[] = { TYPE_VALUE, TYPE_DELETION, TYPE_VALUE, TYPE_VALUE, TYPE_VALUE };
    const size_t vlens[] = { 1, 0, 0, 2, 3 };
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(c.recs[i].seq, 100 + (uint64_t)i);
        cr_assert(c.recs[i].klen == 2 && memcmp(c.recs[i].key, keys[i], 2) == 0);
        cr_assert_eq(c.recs[i].type, types[i]);
        cr_assert_eq(c.recs[i].vlen, vlens[i]);
    }
    /* Appending a batch to itself doubles it. */
    cr_assert_eq(batch_append(b, b), STRATA_OK);
    cr_assert_eq(strata_batch_count(b), 6);
    cr_assert_eq(iterate(batch_contents(b), &c), STRATA_OK);
    cr_assert_eq(c.n, 6);
    cr_assert(memcmp(c.recs[3].key, "b1", 2) == 0 && memcmp(c.recs[5].key, "b3", 2) == 0);
    strata_batch_free(a);
    strata_batch_free(b);
    strata_batch_free(e);
}

static strata_batch *sample_batch(void)
{
    strata_batch *b = strata_batch_new();
    strata_batch_put(b, "alpha", 5, "one", 3);
    strata_batch_delete(b, "beta", 4);
    strata_batch_put(b, "", 0, "", 0);
    char big[200];
    memset(big, 'v', sizeof big);
    strata_batch_put(b, "gamma", 5, big, sizeof big); /* a two-byte length */
    strata_batch_delete(b, "", 0);
    batch_set_sequence(b, 77);
    return b;
}

Test(batch, truncated_at_every_byte_is_corruption)
{
    strata_batch *b = sample_batch();
    struct slice full = batch_contents(b);
    for (size_t cut = 0; cut < full.len; cut++) {
        char *copy = dup_exact(full.data, cut);
        struct collect c = { .stop_at = -1 };
        int rc = iterate(slice_make(copy, cut), &c);
        cr_assert_eq(rc, STRATA_CORRUPTION, "cut at %zu of %zu: %d", cut, full.len, rc);
        cr_assert_not_null(strstr(strata_last_error(), "test-batch"), "%s", strata_last_error());
        cr_assert_eq(batch_iterate(slice_make(copy, cut), NULL, "x"), STRATA_CORRUPTION);
        free(copy);
    }
    strata_batch_free(b);
}

Test(batch, wrong_counts_are_corruption)
{
    strata_batch *b = sample_batch();
    struct slice full = batch_contents(b);
    uint32_t count = batch_count(b);
    cr_assert_eq(count, 5);
    const uint32_t wrong[] = { 0, 1, count - 1, count + 1, count + 100, UINT32_MAX };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        char *copy = dup_exact(full.data, full.len);
        encode_fixed32(copy + 8, wrong[i]);
        struct collect c = { .stop_at = -1 };
        int rc = iterate(slice_make(copy, full.len), &c);
        cr_assert_eq(rc, STRATA_CORRUPTION, "count %u: %d", wrong[i], rc);
        cr_assert_not_null(strstr(strata_last_error(), wrong[i] > count ? "fewer" : "more"), "%s",
                           strata_last_error());
        cr_assert_eq(batch_iterate(slice_make(copy, full.len), NULL, "x"), STRATA_CORRUPTION);
        free(copy);
    }
    /* A header alone claiming updates. */
    char header[BATCH_HEADER_SIZE] = { 0 };
    encode_fixed32(header + 8, 1);
    char *copy = dup_exact(header, sizeof header);
    cr_assert_eq(batch_iterate(slice_make(copy, sizeof header), NULL, "x"), STRATA_CORRUPTION);
    free(copy);
    strata_batch_free(b);
}

Test(batch, unknown_type_is_corruption)
{
    strata_batch *b = sample_batch();
    struct slice full = batch_contents(b);
    const unsigned char types[] = { 2, 3, 0x7f, 0x80, 0xff };
    for (size_t i = 0; i < sizeof types; i++) {
        char *copy = dup_exact(full.data, full.len);
        copy[BATCH_HEADER_SIZE] = (char)types[i]; /* the first update's type */
        struct collect c = { .stop_at = -1 };
        cr_assert_eq(iterate(slice_make(copy, full.len), &c), STRATA_CORRUPTION, "type %u", types[i]);
        cr_assert_not_null(strstr(strata_last_error(), "type"), "%s", strata_last_error());
        cr_assert_eq(c.n, 0);
        free(copy);
    }
    strata_batch_free(b);
}

Test(batch, random_damage_never_overruns)
{
    /* Flip random bytes and lengths: any outcome but an overrun (which
     * AddressSanitizer reports) or an update reaching outside the bytes. */
    strata_batch *b = sample_batch();
    struct slice full = batch_contents(b);
    struct tu_rng rng;
    tu_rng_seed(&rng, 0xba7c4);
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = full.len - tu_rng_uniform(&rng, 4);
        char *copy = dup_exact(full.data, len);
        int flips = 1 + (int)tu_rng_uniform(&rng, 3);
        for (int f = 0; f < flips; f++)
            copy[BATCH_HEADER_SIZE + tu_rng_uniform(&rng, len - BATCH_HEADER_SIZE)] ^=
                (char)(1 + tu_rng_uniform(&rng, 255));
        if (tu_rng_chance(&rng, 1, 4))
            encode_fixed32(copy + 8, (uint32_t)tu_rng_uniform(&rng, 8));
        struct collect c = { .stop_at = -1 };
        int rc = iterate(slice_make(copy, len), &c);
        cr_assert(rc == STRATA_OK || rc == STRATA_CORRUPTION, "rc %d", rc);
        free(copy);
    }
    strata_batch_free(b);
}

/*
 * test_level_iter.c: the iterator over one sorted level (src/level_iter.h),
 * over real tables written with the table builder and opened through a
 * table cache.
 *
 * The tables: #5 k000..k099, #7 k100..k199, #9 k300..k399 (a gap before
 * it), #11 k400..k409 with three versions of k405; small blocks, so that a
 * table has several.  Checked against a model of every entry in internal
 * key order: full scans both ways, seeks and seeks-for-prev to keys inside
 * tables, on table boundaries, in the gap, before and after everything,
 * direction changes across table boundaries, a long random walk (fixed
 * seed), an empty list, an empty table in the list, and tables that fail
 * to open (missing, damaged): the iterator stops with the table's error
 * status, naming it, until the next seek.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sstable/table_builder.h"
#include "src/dbformat.h"
#include "src/env.h"
#include "src/filename.h"
#include "src/level_iter.h"
#include "src/status.h"
#include "src/table_cache.h"
#include "src/version.h"
#include "tests/testutil.h"

struct entry {
    char user[8];
    uint64_t seq;
    char value[24];
    int table; /* its table's number */
};

enum { MAX_ENTRIES = 512 };

static char *dir;
static struct env *env;
static struct table_cache *tc;
static struct entry model[MAX_ENTRIES];
static size_t nmodel;
static const struct table_read_options ro = { .verify_checksums = 1, .fill_cache = 1 };

static void add_entry(int table, int k, uint64_t seq)
{
    cr_assert_lt(nmodel, MAX_ENTRIES);
    struct entry *e = &model[nmodel++];
    snprintf(e->user, sizeof e->user, "k%03d", k);
    e->seq = seq;
    snprintf(e->value, sizeof e->value, "v%03d-%" PRIu64 "-%d", k, seq, table);
    e->table = table;
}

static struct buf entry_key(const struct entry *e)
{
    struct buf b = { 0 };
    cr_assert_eq(buf_put_internal_key(&b, slice_make(e->user, strlen(e->user)), e->seq, TYPE_VALUE),
                 STRATA_OK);
    return b;
}

/* Write table number from the model entries of that table (possibly none);
 * the file size. */
static uint64_t write_table(int number)
{
    char path[PATH_MAX];
    struct env_file *f;
    cr_assert_eq(table_file_name(path, sizeof path, dir, (uint64_t)number), STRATA_OK);
    cr_assert_eq(env_open(env, path, ENV_OPEN_TRUNCATE, &f), STRATA_OK, "%s", strata_last_error());
    struct table_builder_options o = { .block_size = 256, .restart_interval = 4,
                                       .bloom_bits_per_key = 10,
                                       .compression = STRATA_COMPRESSION_NONE };
    struct table_builder *b = table_builder_new(&o, f);
    cr_assert_not_null(b);
    for (size_t i = 0; i < nmodel; i++) {
        if (model[i].table != number)
            continue;
        struct buf k = entry_key(&model[i]);
        cr_assert_eq(table_builder_add(b, buf_slice(&k),
                                       slice_make(model[i].value, strlen(model[i].value))),
                     STRATA_OK, "%s", strata_last_error());
        buf_free(&k);
    }
    cr_assert_eq(table_builder_finish(b), STRATA_OK, "%s", strata_last_error());
    uint64_t size = table_builder_file_size(b);
    table_builder_free(b);
    cr_assert_eq(env_close(f), STRATA_OK);
    return size;
}

static uint64_t sizes[32];

static void setup(void)
{
    dir = tu_mkdtemp("leveliter");
    cr_assert_not_null(dir);
    env = env_new();
    cr_assert_not_null(env);
    nmodel = 0;
    for (int k = 0; k < 100; k++)
        add_entry(5, k, 1000 + (uint64_t)k);
    for (int k = 100; k < 200; k++)
        add_entry(7, k, 1000 + (uint64_t)k);
    for (int k = 300; k < 400; k++)
        add_entry(9, k, 1000 + (uint64_t)k);
    for (int k = 400; k < 410; k++) {
        if (k == 405) { /* three versions, newest first */
            add_entry(11, k, 3000);
            add_entry(11, k, 2000);
        }
        add_entry(11, k, 1000 + (uint64_t)k);
    }
    const int numbers[] = { 5, 7, 9, 11 };
    for (size_t i = 0; i < 4; i++)
        sizes[numbers[i]] = write_table(numbers[i]);
    tc = table_cache_new(env, dir, 16, &(struct table_open_options){ 0 });
    cr_assert_not_null(tc);
}

static void teardown(void)
{
    if (tc)
        table_cache_free(tc);
    if (env)
        env_free(env);
    if (dir)
        tu_rmrf(dir);
    free(dir);
}

TestSuite(level_iter, .init = setup, .fini = teardown);

/* A version whose level 1 holds the given tables, with the key ranges of
 * their model entries (or lo..hi for a table without entries). */
static struct version *level_of(const int *numbers, size_t n)
{
    struct version_edit e = { 0 };
    for (size_t t = 0; t < n; t++) {
        struct buf lo = { 0 }, hi = { 0 };
        for (size_t i = 0; i < nmodel; i++) {
            if (model[i].table != numbers[t])
                continue;
            struct buf k = entry_key(&model[i]);
            if (lo.len == 0)
                buf_append(&lo, k.data, k.len);
            buf_clear(&hi);
            buf_append(&hi, k.data, k.len);
            buf_free(&k);
        }
        cr_assert_gt(lo.len, 0, "table %d has entries", numbers[t]);
        cr_assert_eq(version_edit_add_table(&e, 1, (uint64_t)numbers[t], sizes[numbers[t]],
                                            buf_slice(&lo), buf_slice(&hi)),
                     STRATA_OK);
        buf_free(&lo);
        buf_free(&hi);
    }
    struct version *empty = version_new(), *v;
    cr_assert_eq(version_apply(empty, &e, "test", &v), STRATA_OK, "%s", strata_last_error());
    version_unref(empty);
    version_edit_clear(&e);
    return v;
}

static struct version *all_tables(void)
{
    const int numbers[] = { 5, 7, 9, 11 };
    return level_of(numbers, 4);
}

static struct iter *iter_over(struct version *v)
{
    struct iter *it = level_iter_new(tc, v->tables[1], v->count[1], &ro);
    cr_assert_not_null(it);
    return it;
}

/* The model's entries restricted to tables present in v. */
static size_t visible(struct version *v, const struct entry **out)
{
    size_t n = 0;
    for (size_t i = 0; i < nmodel; i++)
        for (size_t t = 0; t < v->count[1]; t++)
            if (v->tables[1][t]->number == (uint64_t)model[i].table)
                out[n++] = &model[i];
    return n;
}

/* The iterator is at entry e (NULL: invalid with an OK status). */
static void at(struct iter *it, const struct entry *e, const char *what)
{
    if (!e) {
        cr_assert(!iter_valid(it), "%s: expected the end, at %.*s", what,
                  iter_valid(it) ? (int)iter_key(it).len - 8 : 0,
                  iter_valid(it) ? iter_key(it).data : "");
        cr_assert_eq(iter_status(it), STRATA_OK, "%s: %s", what, strata_last_error());
        return;
    }
    cr_assert(iter_valid(it), "%s: expected %s@%" PRIu64 ", status %d", what, e->user, e->seq,
              iter_status(it));
    struct buf k = entry_key(e);
    cr_assert(slice_equal(iter_key(it), buf_slice(&k)), "%s: at %.*s, expected %s@%" PRIu64, what,
              (int)iter_key(it).len - 8, iter_key(it).data, e->user, e->seq);
    cr_assert(slice_equal(iter_value(it), slice_make(e->value, strlen(e->value))), "%s", what);
    buf_free(&k);
}

static struct buf target(const char *user, uint64_t seq, enum value_type type)
{
    struct buf b = { 0 };
    cr_assert_eq(buf_put_internal_key(&b, slice_make(user, strlen(user)), seq, type), STRATA_OK);
    return b;
}

/* Seek to the first entry of user (or after). */
static void seek_user(struct iter *it, const char *user)
{
    struct buf t = target(user, MAX_SEQUENCE, TYPE_FOR_SEEK);
    iter_seek(it, buf_slice(&t));
    buf_free(&t);
}

/* Seek to the last entry at or before every entry of user. */
static void seek_for_prev_user(struct iter *it, const char *user)
{
    struct buf t = target(user, 0, TYPE_DELETION);
    iter_seek_for_prev(it, buf_slice(&t));
    buf_free(&t);
}

/* The index in es of the first entry >= key (n when none). */
static size_t lower_bound(const struct entry **es, size_t n, struct slice key)
{
    for (size_t i = 0; i < n; i++) {
        struct buf k = entry_key(es[i]);
        int c = internal_key_compare(buf_slice(&k), key);
        buf_free(&k);
        if (c >= 0)
            return i;
    }
    return n;
}

static const struct entry *find(const char *user, uint64_t seq)
{
    for (size_t i = 0; i < nmodel; i++)
        if (!strcmp(model[i].user, user) && model[i].seq == seq)
            return &model[i];
    cr_assert_fail("no entry %s@%" PRIu64, user, seq);
    return NULL;
}

static const struct entry *first_of(const char *user)
{
    for (size_t i = 0; i < nmodel; i++)
        if (!strcmp(model[i].user, user))
            return &model[i];
    cr_assert_fail("no entry %s", user);
    return NULL;
}

static const struct entry *last_of(const char *user)
{
    const struct entry *e = NULL;
    for (size_t i = 0; i < nmodel; i++)
        if (!strcmp(model[i].user, user))
            e = &model[i];
    cr_assert_not_null(e, "no entry %s", user);
    return e;
}

/* ---- scans ----------------------------------------------------------------------- */

Test(level_iter, full_scans_cross_every_table_both_ways)
{
    struct version *v = all_tables();
    struct iter *it = iter_over(v);
    at(it, NULL, "a new iterator is unpositioned");
    size_t i = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it), i++)
        at(it, &model[i], "forward");
    cr_assert_eq(iter_status(it), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(i, nmodel, "forward: %zu of %zu entries", i, nmodel);
    i = nmodel;
    for (iter_seek_to_last(it); iter_valid(it); iter_prev(it))
        at(it, &model[--i], "backward");
    cr_assert_eq(iter_status(it), STRATA_OK);
    cr_assert_eq(i, 0, "backward: %zu entries left", i);
    iter_destroy(it);
    version_unref(v);
}

Test(level_iter, seeks_inside_between_and_outside_tables)
{
    struct version *v = all_tables();
    struct iter *it = iter_over(v);
    seek_user(it, "k150");
    at(it, first_of("k150"), "inside a table");
    seek_user(it, "k100");
    at(it, first_of("k100"), "a table's first key");
    seek_user(it, "k099");
    at(it, first_of("k099"), "a table's last key");
    seek_user(it, "k0995");
    at(it, first_of("k100"), "after a table's last key: the next table's first");
    seek_user(it, "k250");
    at(it, first_of("k300"), "in the gap: the first key after it");
    seek_user(it, "k200");
    at(it, first_of("k300"), "just after a table");
    seek_user(it, "");
    at(it, first_of("k000"), "before everything");
    seek_user(it, "k999");
    at(it, NULL, "after everything");
    seek_user(it, "k409");
    at(it, first_of("k409"), "the last key");
    /* Between versions of one user key. */
    struct buf t = target("k405", 2500, TYPE_FOR_SEEK);
    iter_seek(it, buf_slice(&t));
    at(it, find("k405", 2000), "between two versions of a key");
    buf_free(&t);
    t = target("k405", 1, TYPE_FOR_SEEK);
    iter_seek(it, buf_slice(&t));
    at(it, first_of("k406"), "below the oldest version of a key");
    buf_free(&t);
    iter_destroy(it);
    version_unref(v);
}

Test(level_iter, seeks_for_prev_inside_between_and_outside_tables)
{
    struct version *v = all_tables();
    struct iter *it = iter_over(v);
    seek_for_prev_user(it, "k150");
    at(it, last_of("k150"), "inside a table");
    seek_for_prev_user(it, "k1505");
    at(it, last_of("k150"), "between keys of a table");
    seek_for_prev_user(it, "k250");
    at(it, last_of("k199"), "in the gap: the last key before it");
    seek_for_prev_user(it, "k300");
    at(it, last_of("k300"), "a table's first key");
    seek_for_prev_user(it, "k2999");
    at(it, last_of("k199"), "just before a table");
    seek_for_prev_user(it, "a");
    at(it, NULL, "before everything");
    seek_for_prev_user(it, "k999");
    at(it, last_of("k409"), "after everything");
    seek_for_prev_user(it, "k405");
    at(it, find("k405", 1405), "the oldest version of a key");
    struct buf t = target("k405", 2500, TYPE_FOR_SEEK);
    iter_seek_for_prev(it, buf_slice(&t));
    at(it, find("k405", 3000), "between two versions of a key");
    buf_free(&t);
    t = target("k405", MAX_SEQUENCE, TYPE_FOR_SEEK);
    iter_seek_for_prev(it, buf_slice(&t));
    at(it, last_of("k404"), "before the newest version of a key");
    buf_free(&t);
    iter_destroy(it);
    version_unref(v);
}

Test(level_iter, direction_changes_across_table_boundaries)
{
    struct version *v = all_tables();
    struct iter *it = iter_over(v);
    seek_user(it, "k100");
    iter_prev(it);
    at(it, last_of("k099"), "prev from a table's first key");
    iter_next(it);
    at(it, first_of("k100"), "next back");
    seek_for_prev_user(it, "k250");
    iter_next(it);
    at(it, first_of("k300"), "next from the last key before the gap");
    iter_prev(it);
    at(it, last_of("k199"), "and back over the gap");
    iter_seek_to_last(it);
    at(it, last_of("k409"), "seek_to_last");
    iter_next(it);
    at(it, NULL, "next from the last entry");
    iter_seek_to_first(it);
    iter_prev(it);
    at(it, NULL, "prev from the first entry");
    iter_destroy(it);
    version_unref(v);
}

/* Random seeks and steps, each position compared with the model. */
Test(level_iter, random_walk_matches_the_model)
{
    const int numbers[] = { 5, 9, 11 }; /* a gap of 200 keys too */
    struct version *v = level_of(numbers, 3);
    const struct entry *es[MAX_ENTRIES];
    size_t n = visible(v, es);
    struct iter *it = iter_over(v);
    struct tu_rng r;
    tu_rng_seed(&r, 20261123);
    size_t pos = n; /* n: invalid */
    for (int step = 0; step < 4000; step++) {
        char what[64];
        snprintf(what, sizeof what, "step %d", step);
        int op = (int)tu_rng_uniform(&r, 10);
        if (op == 0 || pos == n) {
            char user[16];
            snprintf(user, sizeof user, "k%03d", (int)tu_rng_uniform(&r, 420));
            if (tu_rng_chance(&r, 1, 2)) {
                seek_user(it, user);
                struct buf t = target(user, MAX_SEQUENCE, TYPE_FOR_SEEK);
                pos = lower_bound(es, n, buf_slice(&t));
                buf_free(&t);
            } else {
                seek_for_prev_user(it, user);
                struct buf t = target(user, 0, TYPE_DELETION);
                size_t lb = lower_bound(es, n, buf_slice(&t));
                /* The last entry <= t: before the first one > t. */
                if (lb < n) {
                    struct buf k = entry_key(es[lb]);
                    if (internal_key_compare(buf_slice(&k), buf_slice(&t)) > 0)
                        pos = lb == 0 ? n : lb - 1;
                    else
                        pos = lb;
                    buf_free(&k);
                } else {
                    pos = n - 1;
                }
                buf_free(&t);
            }
        } else if (op < 6) {
            iter_next(it);
            pos = pos + 1 < n ? pos + 1 : n;
        } else {
            iter_prev(it);
            pos = pos == 0 ? n : pos - 1;
        }
        at(it, pos == n ? NULL : es[pos], what);
    }
    iter_destroy(it);
    version_unref(v);
}

/* ---- edge cases ---------------------------------------------------------------- */

Test(level_iter, empty_list_is_never_valid)
{
    struct iter *it = level_iter_new(tc, NULL, 0, &ro);
    cr_assert_not_null(it);
    iter_seek_to_first(it);
    at(it, NULL, "seek_to_first");
    iter_seek_to_last(it);
    at(it, NULL, "seek_to_last");
    seek_user(it, "k100");
    at(it, NULL, "seek");
    seek_for_prev_user(it, "k100");
    at(it, NULL, "seek_for_prev");
    iter_destroy(it);
}

Test(level_iter, single_table)
{
    const int numbers[] = { 7 };
    struct version *v = level_of(numbers, 1);
    struct iter *it = iter_over(v);
    seek_user(it, "k050");
    at(it, first_of("k100"), "before the table");
    seek_for_prev_user(it, "k050");
    at(it, NULL, "seek_for_prev before the table");
    seek_user(it, "k250");
    at(it, NULL, "after the table");
    seek_for_prev_user(it, "k250");
    at(it, last_of("k199"), "seek_for_prev after the table");
    iter_destroy(it);
    version_unref(v);
}

/* A table without entries in the list (its metadata claims k200..k250)
 * is stepped over in both directions. */
Test(level_iter, empty_table_is_skipped)
{
    sizes[8] = write_table(8); /* no model entries: an empty table */
    const int numbers[] = { 5, 7, 9 };
    struct version *v = level_of(numbers, 3);
    struct version_edit e = { 0 };
    struct buf lo = target("k200", 1, TYPE_VALUE), hi = target("k250", 1, TYPE_VALUE);
    cr_assert_eq(version_edit_add_table(&e, 1, 8, sizes[8], buf_slice(&lo), buf_slice(&hi)),
                 STRATA_OK);
    buf_free(&lo);
    buf_free(&hi);
    struct version *v2;
    cr_assert_eq(version_apply(v, &e, "test", &v2), STRATA_OK);
    version_edit_clear(&e);
    cr_assert_eq(v2->count[1], 4);
    cr_assert_eq(v2->tables[1][2]->number, 8);
    struct iter *it = iter_over(v2);
    seek_user(it, "k220");
    at(it, first_of("k300"), "a seek into the empty table");
    iter_prev(it);
    at(it, last_of("k199"), "prev over the empty table");
    iter_next(it);
    at(it, first_of("k300"), "next over the empty table");
    seek_for_prev_user(it, "k220");
    at(it, last_of("k199"), "a seek_for_prev into the empty table");
    size_t count = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it))
        count++;
    cr_assert_eq(count, 300);
    for (iter_seek_to_last(it); iter_valid(it); iter_prev(it))
        count--;
    cr_assert_eq(count, 0);
    cr_assert_eq(iter_status(it), STRATA_OK);
    iter_destroy(it);
    version_unref(v2);
    version_unref(v);
}

/* ---- tables that fail to open --------------------------------------------------------- */

static char *file_of(int number)
{
    char path[PATH_MAX];
    cr_assert_eq(table_file_name(path, sizeof path, dir, (uint64_t)number), STRATA_OK);
    return strdup(path);
}

static void expect_error(struct iter *it, const char *name, const char *what)
{
    cr_assert(!iter_valid(it), "%s: stopped at the table that fails", what);
    cr_assert_neq(iter_status(it), STRATA_OK, "%s: the table's error is the status", what);
    cr_assert(strstr(strata_last_error(), name) != NULL, "%s: the message names %s: %s", what, name,
              strata_last_error());
}

Test(level_iter, missing_table_reports_its_error)
{
    char *path = file_of(7);
    cr_assert_eq(unlink(path), 0);
    free(path);
    struct version *v = all_tables();
    struct iter *it = iter_over(v);
    /* Forward: through table 5, then table 7 does not open. */
    size_t i = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it), i++)
        at(it, &model[i], "forward");
    cr_assert_eq(i, 100, "the entries of table 5 come first (%zu)", i);
    expect_error(it, "000007.sst", "forward");
    /* A seek clears the error: table 9 is fine. */
    seek_user(it, "k300");
    at(it, first_of("k300"), "a seek after the error");
    /* Backward from table 9 into table 7. */
    iter_prev(it);
    expect_error(it, "000007.sst", "backward");
    seek_user(it, "k150");
    expect_error(it, "000007.sst", "a seek into the missing table");
    seek_for_prev_user(it, "k250");
    expect_error(it, "000007.sst", "a seek_for_prev into the missing table");
    iter_seek_to_last(it);
    at(it, last_of("k409"), "seek_to_last");
    iter_destroy(it);
    version_unref(v);

    /* The first table missing: seek_to_first fails at once. */
    const int first[] = { 7, 9 };
    v = level_of(first, 2);
    it = iter_over(v);
    iter_seek_to_first(it);
    expect_error(it, "000007.sst", "seek_to_first");
    iter_destroy(it);
    version_unref(v);
}

Test(level_iter, damaged_table_reports_corruption)
{
    char *path = file_of(9);
    long long size = tu_file_size(path);
    cr_assert_gt(size, 48);
    cr_assert_eq(tu_xor_byte(path, size - 3, 0x5a), 0); /* in the footer's magic */
    free(path);
    struct version *v = all_tables();
    struct iter *it = iter_over(v);
    seek_user(it, "k199");
    at(it, first_of("k199"), "table 7 is fine");
    iter_next(it);
    expect_error(it, "000009.sst", "next into the damaged table");
    cr_assert_eq(iter_status(it), STRATA_CORRUPTION, "%s", strata_last_error());
    seek_for_prev_user(it, "k420");
    at(it, last_of("k409"), "table 11 is fine");
    seek_user(it, "k400");
    at(it, first_of("k400"), "table 11's first key");
    iter_prev(it);
    expect_error(it, "000009.sst", "prev into the damaged table");
    cr_assert_eq(iter_status(it), STRATA_CORRUPTION);
    iter_destroy(it);
    version_unref(v);
}

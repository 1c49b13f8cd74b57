/*
 * test_picker.c: the compaction picker and the level rules of a compaction,
 * on versions built by version_apply from hand-made edits (no files: the
 * picker and compaction_new only read table metadata).
 *
 * - picker_level_target and picker_scores: level 0 by table count over the
 *   trigger, deeper levels by bytes over their target, the bottom level 0.
 * - picker_pick: nothing below a score of 1, the highest score wins, the
 *   compaction pointer walks a level round-robin (also through
 *   compaction_record_inputs and version_apply, as the database does it),
 *   level 0 takes every overlapping level-0 table.
 * - compaction_new: the next level's overlapping tables, the expansion of
 *   the level's inputs when (and only when) it costs no more of the next
 *   level and stays under its byte limit, the grandparents.
 * - compaction_is_trivial_move, compaction_is_base_level_for_key,
 *   compaction_should_stop_before, picker_pick_range.
 * - Versions carry the compaction pointers: version_apply keeps the base's,
 *   an edit's replaces it, version_snapshot records them.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "compaction/compaction.h"
#include "compaction/picker.h"
#include "src/dbformat.h"
#include "src/status.h"
#include "src/version.h"

/* ---- building versions ------------------------------------------------------ */

static struct buf ikey(const char *user, uint64_t seq)
{
    struct buf b = { 0 };
    cr_assert_eq(buf_put_internal_key(&b, slice_make(user, strlen(user)), seq, TYPE_VALUE),
                 STRATA_OK);
    return b;
}

/* Table number at level, user keys lo..hi, size bytes.  Within a table the
 * smallest key is newer than... nothing in particular: the sequence numbers
 * only need to be valid. */
static void add(struct version_edit *e, int level, uint64_t number, uint64_t size, const char *lo,
                const char *hi)
{
    struct buf a = ikey(lo, number * 10 + 1), b = ikey(hi, number * 10);
    cr_assert_eq(version_edit_add_table(e, level, number, size, buf_slice(&a), buf_slice(&b)),
                 STRATA_OK);
    buf_free(&a);
    buf_free(&b);
}

static struct version *apply(struct version *base, struct version_edit *e)
{
    struct version *v;
    cr_assert_eq(version_apply(base, e, "test", &v), STRATA_OK, "%s", strata_last_error());
    version_edit_clear(e);
    return v;
}

/* A version holding only the tables of e. */
static struct version *build(struct version_edit *e)
{
    struct version *empty = version_new();
    cr_assert_not_null(empty);
    struct version *v = apply(empty, e);
    version_unref(empty);
    return v;
}

static const struct compaction_config cfg = {
    .target_file_size = 1000,
    .max_bytes_for_level_base = 10000,
    .level_multiplier = 10,
    .level0_trigger = 4,
};

/* The numbers of the tables of list, in list order, as a string "3,1,2". */
static const char *numbers(struct table_meta *const *list, size_t n)
{
    static char out[4][256];
    static int which;
    char *s = out[which++ % 4];
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char one[32];
        snprintf(one, sizeof one, "%s%llu", i ? "," : "", (unsigned long long)list[i]->number);
        strcat(s, one);
    }
    return s;
}

static const char *inputs(const struct compaction *c, int which)
{
    return numbers(c->inputs[which], c->num_inputs[which]);
}

static struct compaction *pick(struct version *v)
{
    struct compaction *c = NULL;
    cr_assert_eq(picker_pick(v, &cfg, &c), STRATA_OK, "%s", strata_last_error());
    return c;
}

/* ---- targets and scores ---------------------------------------------------- */

Test(picker, level_targets_grow_by_the_multiplier_and_saturate)
{
    cr_assert_eq(picker_level_target(&cfg, 1), 10000);
    cr_assert_eq(picker_level_target(&cfg, 2), 100000);
    cr_assert_eq(picker_level_target(&cfg, 3), 1000000);
    cr_assert_eq(picker_level_target(&cfg, 6), UINT64_C(1000000000));
    struct compaction_config huge = cfg;
    huge.max_bytes_for_level_base = UINT64_MAX / 4;
    cr_assert_eq(picker_level_target(&huge, 1), UINT64_MAX / 4);
    cr_assert_eq(picker_level_target(&huge, 3), UINT64_MAX, "an overflowing target saturates");
    cr_assert_eq(picker_level_target(&huge, 6), UINT64_MAX);
}

Test(picker, scores_count_level0_tables_and_deeper_bytes)
{
    struct version_edit e = { 0 };
    add(&e, 0, 10, 500, "a", "b");
    add(&e, 0, 11, 500, "a", "b");
    add(&e, 1, 20, 15000, "a", "z");
    add(&e, 2, 30, 50000, "a", "z");
    add(&e, 6, 60, UINT64_C(1) << 40, "a", "z");
    struct version *v = build(&e);
    double s[NUM_LEVELS];
    picker_scores(v, &cfg, s);
    cr_assert_eq(s[0], 0.5, "2 tables of a trigger of 4: %f", s[0]);
    cr_assert_eq(s[1], 1.5, "%f", s[1]);
    cr_assert_eq(s[2], 0.5, "%f", s[2]);
    cr_assert_eq(s[3], 0.0);
    cr_assert_eq(s[6], 0.0, "the bottom level has no score, however big");
    version_unref(v);
}

/* ---- picker_pick ------------------------------------------------------------- */

Test(picker, nothing_to_do_below_a_score_of_one)
{
    struct version_edit e = { 0 };
    add(&e, 0, 10, 100, "a", "b");
    add(&e, 0, 11, 100, "c", "d");
    add(&e, 0, 12, 100, "e", "f");
    add(&e, 1, 20, 9999, "a", "z");
    add(&e, 6, 60, UINT64_C(1) << 40, "a", "z");
    struct version *v = build(&e);
    cr_assert_null(pick(v));
    version_unref(v);
    struct version *empty = version_new();
    cr_assert_null(pick(empty), "an empty version needs nothing");
    version_unref(empty);
}

Test(picker, highest_score_wins)
{
    struct version_edit e = { 0 };
    for (int i = 0; i < 4; i++) /* level 0 scores 1 */
        add(&e, 0, 10 + (uint64_t)i, 100, "a", "b");
    add(&e, 1, 20, 30000, "c", "d"); /* level 1 scores 3 */
    add(&e, 2, 30, 150000, "e", "f"); /* level 2 scores 1.5 */
    struct version *v = build(&e);
    struct compaction *c = pick(v);
    cr_assert_not_null(c);
    cr_assert_eq(c->level, 1);
    cr_assert_str_eq(inputs(c, 0), "20");
    cr_assert_eq(c->manual, 0);
    compaction_free(c);
    version_unref(v);

    for (int i = 0; i < 8; i++) /* level 0 scores 2 */
        add(&e, 0, 10 + (uint64_t)i, 100, "a", "b");
    add(&e, 1, 20, 15000, "c", "d");
    v = build(&e);
    c = pick(v);
    cr_assert_eq(c->level, 0);
    cr_assert_eq(c->num_inputs[0], 8, "level-0 tables overlapping the first go along: %s",
                 inputs(c, 0));
    compaction_free(c);
    version_unref(v);
}

/* The scores decide, also with level 0 at the slowdown trigger: level 0
 * first would let level 1 grow, and each level-0 compaction rewrites it. */
Test(picker, scores_decide_even_at_the_slowdown_trigger)
{
    struct version_edit e = { 0 };
    for (int i = 0; i < 7; i++) /* 1.75 */
        add(&e, 0, 10 + (uint64_t)i, 100, "a", "b");
    add(&e, 1, 20, 50000, "c", "d"); /* 5 */
    struct version *v = build(&e);
    struct compaction *c = pick(v);
    cr_assert_eq(c->level, 1, "below the slowdown trigger the score decides");
    compaction_free(c);
    version_unref(v);
    for (int i = 0; i < 8; i++)
        add(&e, 0, 10 + (uint64_t)i, 100, "a", "b");
    add(&e, 1, 20, 50000, "c", "d");
    v = build(&e);
    c = pick(v);
    cr_assert_eq(c->level, 1, "8 level-0 tables score 2, level 1 scores 5: level 1 goes first");
    compaction_free(c);
    version_unref(v);
}

Test(picker, level0_takes_the_oldest_and_every_table_overlapping_it)
{
    struct version_edit e = { 0 };
    add(&e, 0, 10, 100, "a", "c");
    add(&e, 0, 11, 100, "b", "d");
    add(&e, 0, 12, 100, "x", "z");
    add(&e, 0, 13, 100, "f", "g");
    add(&e, 1, 20, 100, "a", "b");
    add(&e, 1, 21, 100, "c", "e");
    add(&e, 1, 22, 100, "g", "h");
    add(&e, 2, 30, 100, "a", "a");
    add(&e, 2, 31, 100, "m", "n");
    struct version *v = build(&e);
    struct compaction *c = pick(v);
    cr_assert_not_null(c);
    cr_assert_eq(c->level, 0);
    /* The oldest (10, a..c) and 11 (b..d) which overlaps it, newest first. */
    cr_assert_str_eq(inputs(c, 0), "11,10");
    /* a..d at level 1: 20 and 21; 21 reaches e, and expanding level 0 to
     * a..e would take nothing more (13 starts at f). */
    cr_assert_str_eq(inputs(c, 1), "20,21");
    cr_assert_str_eq(numbers(c->grandparents, c->num_grandparents), "30");
    cr_assert(!compaction_is_trivial_move(c));
    compaction_free(c);
    version_unref(v);
}

/* The level's inputs grow when the grown set brings no new table of the
 * next level, and not when it would. */
Test(picker, inputs_expand_only_when_the_next_level_does_not_grow)
{
    struct version_edit e = { 0 };
    add(&e, 1, 1, 4000, "a", "b");
    add(&e, 1, 2, 4000, "d", "e");
    add(&e, 1, 3, 4000, "g", "h");
    add(&e, 2, 10, 1000, "a", "f"); /* covers tables 1 and 2 */
    add(&e, 2, 11, 1000, "g", "i");
    struct version *v = build(&e);
    struct compaction *c = pick(v); /* level 1 scores 1.2; no pointer: table 1 */
    cr_assert_not_null(c);
    cr_assert_eq(c->level, 1);
    cr_assert_str_eq(inputs(c, 0), "1,2", "table 2 lies inside table 10's range: taken along");
    cr_assert_str_eq(inputs(c, 1), "10");
    compaction_free(c);
    version_unref(v);

    add(&e, 1, 1, 4000, "a", "b");
    add(&e, 1, 2, 4000, "d", "g");
    add(&e, 1, 3, 4000, "m", "n");
    add(&e, 2, 10, 1000, "a", "e");
    add(&e, 2, 11, 1000, "f", "h");
    v = build(&e);
    c = pick(v);
    cr_assert_str_eq(inputs(c, 0), "1", "taking table 2 would add table 11 of level 2");
    cr_assert_str_eq(inputs(c, 1), "10");
    compaction_free(c);
    version_unref(v);
}

Test(picker, expansion_stops_at_25_target_file_sizes)
{
    struct version_edit e = { 0 };
    add(&e, 1, 1, 5000, "a", "b");
    add(&e, 1, 2, 30000, "c", "d"); /* inside 10's range, but too big to take along */
    add(&e, 2, 10, 1000, "a", "e");
    struct version *v = build(&e);
    struct compaction *c = NULL;
    struct table_meta *first = v->tables[1][0];
    c = compaction_new(v, 1, &first, 1, cfg.target_file_size);
    cr_assert_not_null(c);
    cr_assert_str_eq(inputs(c, 0), "1", "35000 bytes are over 25 target file sizes");
    cr_assert_str_eq(inputs(c, 1), "10");
    compaction_free(c);
    /* With bigger outputs the same expansion is fine. */
    c = compaction_new(v, 1, &first, 1, 2000);
    cr_assert_str_eq(inputs(c, 0), "1,2");
    compaction_free(c);
    version_unref(v);
}

Test(picker, level0_expansion_widens_through_overlaps)
{
    struct version_edit e = { 0 };
    add(&e, 0, 10, 100, "a", "c");
    add(&e, 0, 11, 100, "e", "f");
    add(&e, 0, 12, 100, "f", "h");
    add(&e, 0, 13, 100, "x", "y");
    add(&e, 1, 20, 100, "b", "g"); /* reaches into 11 and, through it, 12 */
    add(&e, 1, 21, 100, "k", "l");
    struct version *v = build(&e);
    struct compaction *c = pick(v);
    cr_assert_not_null(c);
    cr_assert_eq(c->level, 0);
    /* 10 first; level 1 gives b..g, level 0 over a..g takes 11 and, as
     * 12 overlaps 11, 12 too (a..h); level 1 over a..h is still only 20. */
    cr_assert_str_eq(inputs(c, 0), "12,11,10");
    cr_assert_str_eq(inputs(c, 1), "20");
    compaction_free(c);
    version_unref(v);
}

/* ---- the compaction pointer ---------------------------------------------------- */

static struct version *with_pointer(struct version *base, int level, const char *user, uint64_t seq)
{
    struct version_edit e = { 0 };
    struct buf k = ikey(user, seq);
    cr_assert_eq(version_edit_set_pointer(&e, level, buf_slice(&k)), STRATA_OK);
    buf_free(&k);
    return apply(base, &e);
}

Test(picker, pointer_walks_a_level_round_robin)
{
    struct version_edit e = { 0 };
    add(&e, 1, 1, 5000, "a", "b");
    add(&e, 1, 2, 5000, "c", "d");
    add(&e, 1, 3, 5000, "e", "f");
    struct version *v = build(&e);
    struct compaction *c = pick(v);
    cr_assert_str_eq(inputs(c, 0), "1", "no pointer yet: the first table");
    compaction_free(c);

    /* The pointer at table 1's largest key: table 2 is next. */
    struct version *v2 = with_pointer(v, 1, "b", 10);
    c = pick(v2);
    cr_assert_str_eq(inputs(c, 0), "2");
    compaction_free(c);
    version_unref(v2);
    /* A pointer inside a table's range: that table (its largest is after). */
    v2 = with_pointer(v, 1, "c", 5);
    c = pick(v2);
    cr_assert_str_eq(inputs(c, 0), "2");
    compaction_free(c);
    version_unref(v2);
    /* At or past the last table: the walk starts over. */
    v2 = with_pointer(v, 1, "f", 30);
    c = pick(v2);
    cr_assert_str_eq(inputs(c, 0), "1");
    compaction_free(c);
    version_unref(v2);
    v2 = with_pointer(v, 1, "zzz", 1);
    c = pick(v2);
    cr_assert_str_eq(inputs(c, 0), "1");
    compaction_free(c);
    version_unref(v2);
    /* Another level's pointer changes nothing here. */
    v2 = with_pointer(v, 2, "b", 10);
    c = pick(v2);
    cr_assert_str_eq(inputs(c, 0), "1");
    compaction_free(c);
    version_unref(v2);
    version_unref(v);
}

/* The database's loop: pick, record the inputs (removal and pointer),
 * apply; a level over its target gives each of its tables a turn. */
Test(picker, record_inputs_moves_the_pointer_past_the_inputs)
{
    struct version_edit e = { 0 };
    /* Level 1 at 4 x 6000 bytes scores 2.4 and stays over 1 while the
     * walk removes tables (nothing is added back: only the order counts). */
    add(&e, 1, 1, 6000, "a", "b");
    add(&e, 1, 2, 6000, "c", "d");
    add(&e, 1, 3, 6000, "e", "f");
    add(&e, 1, 4, 6000, "g", "h");
    add(&e, 2, 9, 100, "c", "c");
    struct version *v = build(&e);
    const char *expect[] = { "1", "2", "3" };
    for (int round = 0; round < 3; round++) {
        struct compaction *c = pick(v);
        cr_assert_not_null(c, "round %d", round);
        cr_assert_str_eq(inputs(c, 0), expect[round], "round %d", round);
        cr_assert_eq(compaction_record_inputs(c), STRATA_OK);
        /* The edit removes inputs[0] at 1 and inputs[1] at 2, and sets
         * level 1's pointer to the largest key taken. */
        cr_assert_eq(c->edit.num_deleted, c->num_inputs[0] + c->num_inputs[1]);
        cr_assert_eq(c->edit.num_pointers, 1);
        cr_assert_eq(c->edit.pointers[0].level, 1);
        cr_assert(slice_equal(buf_slice(&c->edit.pointers[0].key),
                              buf_slice(&c->inputs[0][c->num_inputs[0] - 1]->largest)));
        struct version *next;
        cr_assert_eq(version_apply(v, &c->edit, "test", &next), STRATA_OK, "%s",
                     strata_last_error());
        compaction_free(c);
        version_unref(v);
        v = next;
        cr_assert_gt(v->compact_pointer[1].len, 0);
    }
    cr_assert_eq(v->count[1], 1);
    cr_assert_eq(v->tables[1][0]->number, 4);
    cr_assert_eq(v->count[2], 0, "table 9 went with table 2");
    version_unref(v);
}

Test(picker, record_inputs_takes_the_largest_key_of_unordered_level0_inputs)
{
    struct version_edit e = { 0 };
    add(&e, 0, 10, 100, "a", "m"); /* oldest, largest key m */
    add(&e, 0, 11, 100, "b", "z");
    add(&e, 0, 12, 100, "c", "d");
    add(&e, 0, 13, 100, "e", "f");
    struct version *v = build(&e);
    struct compaction *c = pick(v);
    cr_assert_eq(c->level, 0);
    cr_assert_str_eq(inputs(c, 0), "13,12,11,10");
    cr_assert_eq(compaction_record_inputs(c), STRATA_OK);
    struct slice p = buf_slice(&c->edit.pointers[0].key);
    cr_assert_eq(c->edit.pointers[0].level, 0);
    cr_assert(slice_equal(internal_key_user_key(p), slice_make("z", 1)),
              "the pointer is the largest key of all inputs, not of the last listed");
    compaction_free(c);
    version_unref(v);
}

Test(picker, level0_pointer_picks_the_next_range)
{
    struct version_edit e = { 0 };
    add(&e, 0, 10, 100, "g", "h");
    add(&e, 0, 11, 100, "a", "b");
    add(&e, 0, 12, 100, "e", "f");
    add(&e, 0, 13, 100, "c", "d");
    struct version *v = build(&e);
    struct compaction *c = pick(v);
    cr_assert_str_eq(inputs(c, 0), "10", "no pointer: the oldest table");
    compaction_free(c);
    struct version *v2 = with_pointer(v, 0, "b", 110);
    c = pick(v2);
    cr_assert_str_eq(inputs(c, 0), "13", "the table with the smallest key after b");
    compaction_free(c);
    version_unref(v2);
    version_unref(v);
}

/* ---- compaction_is_trivial_move -------------------------------------------------- */

Test(picker, trivial_move_needs_one_input_and_no_overlap_below)
{
    struct version_edit e = { 0 };
    add(&e, 1, 1, 11000, "a", "b");
    add(&e, 2, 20, 100, "x", "y");
    add(&e, 3, 30, 10000, "a", "c"); /* grandparent overlap: exactly the limit */
    struct version *v = build(&e);
    struct compaction *c = pick(v);
    cr_assert_not_null(c);
    cr_assert_eq(c->num_inputs[1], 0);
    cr_assert(compaction_is_trivial_move(c), "one table, nothing below, 10 target sizes of grandparents");
    compaction_free(c);
    version_unref(v);

    add(&e, 1, 1, 11000, "a", "b");
    add(&e, 3, 30, 6000, "a", "a");
    add(&e, 3, 31, 6000, "b", "c");
    v = build(&e);
    c = pick(v);
    cr_assert_eq(c->num_grandparents, 2);
    cr_assert(!compaction_is_trivial_move(c), "12000 bytes of grandparents: a move would make a "
                                              "table too expensive to compact later");
    compaction_free(c);
    version_unref(v);

    add(&e, 1, 1, 11000, "a", "b");
    add(&e, 2, 20, 100, "b", "c");
    v = build(&e);
    c = pick(v);
    cr_assert_eq(c->num_inputs[1], 1);
    cr_assert(!compaction_is_trivial_move(c), "overlap at the next level");
    compaction_free(c);
    version_unref(v);

    /* Two level-0 tables that overlap each other. */
    for (int i = 0; i < 4; i++)
        add(&e, 0, 10 + (uint64_t)i, 100, "a", "b");
    v = build(&e);
    c = pick(v);
    cr_assert_eq(c->num_inputs[0], 4);
    cr_assert(!compaction_is_trivial_move(c));
    compaction_free(c);
    version_unref(v);

    /* A lone level-0 table moves. */
    add(&e, 0, 10, 100, "a", "b");
    add(&e, 0, 11, 100, "c", "d");
    add(&e, 0, 12, 100, "e", "f");
    add(&e, 0, 13, 100, "g", "h");
    v = build(&e);
    c = pick(v);
    cr_assert_str_eq(inputs(c, 0), "10");
    cr_assert(compaction_is_trivial_move(c));
    compaction_free(c);
    version_unref(v);
}

Test(picker, manual_compactions_never_move)
{
    struct version_edit e = { 0 };
    add(&e, 1, 1, 100, "a", "b");
    struct version *v = build(&e);
    struct key_range all = { { NULL, 0 }, { NULL, 0 } };
    struct compaction *c;
    cr_assert_eq(picker_pick_range(v, &cfg, 1, &all, &c), STRATA_OK);
    cr_assert_not_null(c);
    cr_assert_eq(c->manual, 1);
    cr_assert_str_eq(inputs(c, 0), "1");
    cr_assert_eq(c->num_inputs[1], 0);
    cr_assert(!compaction_is_trivial_move(c), "a manual compaction rewrites, so that it drops "
                                              "what can be dropped");
    compaction_free(c);
    version_unref(v);
}

/* ---- picker_pick_range -------------------------------------------------------------- */

static struct key_range range(const char *lo, const char *hi)
{
    struct key_range r = { lo ? slice_make(lo, strlen(lo)) : slice_make(NULL, 0),
                           hi ? slice_make(hi, strlen(hi)) : slice_make(NULL, 0) };
    return r;
}

Test(picker, pick_range_takes_only_overlapping_tables)
{
    struct version_edit e = { 0 };
    add(&e, 1, 1, 100, "a", "b");
    add(&e, 1, 2, 100, "c", "d");
    add(&e, 1, 3, 100, "e", "f");
    add(&e, 1, 4, 100, "g", "h");
    add(&e, 2, 20, 100, "c", "c");
    add(&e, 2, 21, 100, "e", "e");
    add(&e, 0, 10, 100, "a", "b");
    add(&e, 0, 11, 100, "b", "k");
    add(&e, 0, 12, 100, "x", "y");
    struct version *v = build(&e);
    struct compaction *c;
    struct key_range r = range("cc", "e");
    cr_assert_eq(picker_pick_range(v, &cfg, 1, &r, &c), STRATA_OK);
    cr_assert_str_eq(inputs(c, 0), "2,3");
    cr_assert_str_eq(inputs(c, 1), "20,21");
    cr_assert_eq(c->manual, 1);
    compaction_free(c);

    r = range("i", "w");
    cr_assert_eq(picker_pick_range(v, &cfg, 1, &r, &c), STRATA_OK);
    cr_assert_null(c, "no table of level 1 meets i..w");

    r = range(NULL, "c");
    cr_assert_eq(picker_pick_range(v, &cfg, 1, &r, &c), STRATA_OK);
    cr_assert_str_eq(inputs(c, 0), "1,2", "an open start");
    compaction_free(c);
    r = range("g", NULL);
    cr_assert_eq(picker_pick_range(v, &cfg, 1, &r, &c), STRATA_OK);
    cr_assert_str_eq(inputs(c, 0), "4", "an open end");
    compaction_free(c);

    /* Level 0: a..a meets 10, 10 meets 11 (b), and 11 reaches k. */
    r = range("a", "a");
    cr_assert_eq(picker_pick_range(v, &cfg, 0, &r, &c), STRATA_OK);
    cr_assert_str_eq(inputs(c, 0), "11,10");
    compaction_free(c);
    version_unref(v);
}

/* Ten level-2 tables of 10000 bytes; with next_bytes > 0, each overlaps
 * a level-3 table of that size. */
static struct version *manual_levels(uint64_t next_bytes)
{
    struct version_edit e = { 0 };
    for (int i = 0; i < 10; i++) {
        char lo[16], hi[16];
        snprintf(lo, sizeof lo, "k%d0", i);
        snprintf(hi, sizeof hi, "k%d5", i);
        add(&e, 2, 100 + (uint64_t)i, 10000, lo, hi);
        if (next_bytes > 0)
            add(&e, 3, 200 + (uint64_t)i, next_bytes, lo, hi);
    }
    return build(&e);
}

Test(picker, pick_range_takes_at_most_25_target_sizes_above_level0)
{
    struct version *v = manual_levels(0);
    struct key_range all = range(NULL, NULL);
    struct compaction *c;
    cr_assert_eq(picker_pick_range(v, &cfg, 2, &all, &c), STRATA_OK);
    /* 25 x 1000 bytes: a third table of 10000 would go past it. */
    cr_assert_str_eq(inputs(c, 0), "100,101");
    compaction_free(c);
    version_unref(v);
}

Test(picker, pick_range_counts_the_next_level_in_its_bound)
{
    struct version *v = manual_levels(9000);
    struct key_range all = range(NULL, NULL);
    struct compaction *c;
    cr_assert_eq(picker_pick_range(v, &cfg, 2, &all, &c), STRATA_OK);
    /* 10000 + 9000 fits in 25000, twice that does not. */
    cr_assert_str_eq(inputs(c, 0), "100");
    cr_assert_str_eq(inputs(c, 1), "200");
    compaction_free(c);
    version_unref(v);
    v = manual_levels(40000);
    cr_assert_eq(picker_pick_range(v, &cfg, 2, &all, &c), STRATA_OK);
    cr_assert_str_eq(inputs(c, 0), "100", "one table at least, however much it overlaps");
    compaction_free(c);
    version_unref(v);
}

/* ---- compaction_is_base_level_for_key --------------------------------------------------- */

Test(picker, base_level_for_key_looks_below_the_output_level)
{
    struct version_edit e = { 0 };
    add(&e, 1, 1, 100, "a", "z");
    add(&e, 2, 20, 100, "a", "z"); /* the output level: an input, not "below" */
    add(&e, 3, 30, 100, "c", "e");
    add(&e, 3, 31, 100, "g", "g");
    add(&e, 5, 50, 100, "m", "p");
    struct version *v = build(&e);
    struct table_meta *first = v->tables[1][0];
    struct compaction *c = compaction_new(v, 1, &first, 1, 1000);
    cr_assert_not_null(c);
    struct {
        const char *key;
        int base;
    } cases[] = {
        { "a", 1 }, { "b", 1 }, { "c", 0 }, { "d", 0 }, { "e", 0 }, { "f", 1 }, { "g", 0 },
        { "h", 1 }, { "m", 0 }, { "o", 0 }, { "p", 0 }, { "pa", 1 }, { "z", 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(compaction_is_base_level_for_key(c, slice_make(cases[i].key, strlen(cases[i].key))),
                     cases[i].base, "key %s", cases[i].key);
    compaction_free(c);

    /* Compacting into the bottom two levels: nothing is below. */
    first = v->tables[5][0];
    c = compaction_new(v, 5, &first, 1, 1000);
    cr_assert(compaction_is_base_level_for_key(c, slice_make("n", 1)));
    compaction_free(c);
    version_unref(v);
}

/* ---- compaction_should_stop_before --------------------------------------------------------- */

Test(picker, outputs_stop_at_too_much_grandparent_overlap)
{
    struct version_edit e = { 0 };
    add(&e, 1, 1, 100, "a", "z");
    add(&e, 3, 30, 6000, "b", "c");
    add(&e, 3, 31, 6000, "d", "e");
    add(&e, 3, 32, 6000, "f", "g");
    add(&e, 3, 33, 6000, "h", "i");
    struct version *v = build(&e);
    struct table_meta *first = v->tables[1][0];
    struct compaction *c = compaction_new(v, 1, &first, 1, 1000); /* 10000 bytes of overlap */
    cr_assert_not_null(c);
    cr_assert_eq(c->max_grandparent_overlap, 10000);
    cr_assert_eq(c->num_grandparents, 4);
    const char *keys[] = { "a", "b", "ba", "d", "f", "fa", "h", "x" };
    const int stop[] = { 0, 0, 0, 0, 1, 0, 0, 1 };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        struct buf k = ikey(keys[i], 5);
        cr_assert_eq(compaction_should_stop_before(c, buf_slice(&k)), stop[i],
                     "key %s (overlap %llu)", keys[i], (unsigned long long)c->overlapped_bytes);
        buf_free(&k);
    }
    compaction_free(c);

    /* The grandparents passed before the first key do not count. */
    c = compaction_new(v, 1, &first, 1, 1000);
    struct buf k = ikey("j", 5);
    cr_assert_eq(compaction_should_stop_before(c, buf_slice(&k)), 0);
    cr_assert_eq(c->overlapped_bytes, 0);
    buf_free(&k);
    compaction_free(c);
    version_unref(v);
}

/* ---- versions carry the pointers ---------------------------------------------------------- */

Test(picker, versions_carry_pointers_and_edits_replace_them)
{
    struct version *v0 = version_new();
    struct version *v1 = with_pointer(v0, 1, "k1", 7);
    struct version *v2 = with_pointer(v1, 3, "k3", 8);
    struct buf k1 = ikey("k1", 7), k3 = ikey("k3", 8), k9 = ikey("k9", 9);
    cr_assert(slice_equal(buf_slice(&v2->compact_pointer[1]), buf_slice(&k1)), "carried forward");
    cr_assert(slice_equal(buf_slice(&v2->compact_pointer[3]), buf_slice(&k3)));
    cr_assert_eq(v2->compact_pointer[0].len, 0);
    cr_assert_eq(v2->compact_pointer[2].len, 0);
    /* An edit that only adds a table keeps them too. */
    struct version_edit e = { 0 };
    add(&e, 2, 5, 100, "a", "b");
    struct version *v3 = apply(v2, &e);
    cr_assert(slice_equal(buf_slice(&v3->compact_pointer[1]), buf_slice(&k1)));
    /* A new pointer for level 1 replaces the old one; the older version keeps its own. */
    struct version *v4 = with_pointer(v3, 1, "k9", 9);
    cr_assert(slice_equal(buf_slice(&v4->compact_pointer[1]), buf_slice(&k9)));
    cr_assert(slice_equal(buf_slice(&v4->compact_pointer[3]), buf_slice(&k3)));
    cr_assert(slice_equal(buf_slice(&v3->compact_pointer[1]), buf_slice(&k1)));
    /* Two pointers for one level in one edit: the later one counts, as
     * when the MANIFEST's edits are applied one by one. */
    cr_assert_eq(version_edit_set_pointer(&e, 1, buf_slice(&k3)), STRATA_OK);
    cr_assert_eq(version_edit_set_pointer(&e, 1, buf_slice(&k1)), STRATA_OK);
    struct version *v5 = apply(v4, &e);
    cr_assert(slice_equal(buf_slice(&v5->compact_pointer[1]), buf_slice(&k1)));

    /* A snapshot records every pointer, and applying it rebuilds them. */
    struct version_edit snap = { 0 };
    cr_assert_eq(version_snapshot(v5, &snap), STRATA_OK);
    cr_assert_eq(snap.num_pointers, 2);
    cr_assert_eq(snap.num_new_tables, 1);
    struct version *again = apply(v0, &snap);
    for (int level = 0; level < NUM_LEVELS; level++)
        cr_assert(slice_equal(buf_slice(&again->compact_pointer[level]),
                              buf_slice(&v5->compact_pointer[level])),
                  "level %d", level);
    /* And through the encoding, as the MANIFEST stores it. */
    cr_assert_eq(version_snapshot(v5, &snap), STRATA_OK);
    struct buf enc = { 0 };
    cr_assert_eq(version_edit_encode(&snap, &enc), STRATA_OK);
    version_edit_clear(&snap);
    struct version_edit dec;
    cr_assert_eq(version_edit_decode(&dec, buf_slice(&enc), "MANIFEST-test", 0), STRATA_OK);
    struct version *decoded = apply(v0, &dec);
    for (int level = 0; level < NUM_LEVELS; level++)
        cr_assert(slice_equal(buf_slice(&decoded->compact_pointer[level]),
                              buf_slice(&v5->compact_pointer[level])),
                  "level %d", level);
    buf_free(&enc);
    buf_free(&k1);
    buf_free(&k3);
    buf_free(&k9);
    struct version *all[] = { v0, v1, v2, v3, v4, v5, again, decoded };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        version_unref(all[i]);
}

/*
 * test_version.c: versions built from edits: level order, removal, the
 * checks against an inconsistent MANIFEST, and reference counting (a table
 * outlives the version that dropped it while an older version holds it:
 * ASan reports a use after free or a leak otherwise).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "src/dbformat.h"
#include "src/status.h"
#include "src/version.h"

static void add(struct version_edit *e, int level, uint64_t number, const char *lo, const char *hi)
{
    struct buf a = { 0 }, b = { 0 };
    buf_put_internal_key(&a, slice_make(lo, strlen(lo)), number, TYPE_VALUE);
    buf_put_internal_key(&b, slice_make(hi, strlen(hi)), number, TYPE_VALUE);
    cr_assert_eq(version_edit_add_table(e, level, number, 100 * number, buf_slice(&a), buf_slice(&b)),
                 STRATA_OK);
    buf_free(&a);
    buf_free(&b);
}

static struct version *apply(struct version *base, struct version_edit *e)
{
    struct version *v;
    cr_assert_eq(version_apply(base, e, "MANIFEST-test", &v), STRATA_OK, "%s", strata_last_error());
    version_edit_clear(e);
    return v;
}

Test(version, level0_is_newest_first_and_levels_by_key)
{
    struct version *v0 = version_new();
    struct version_edit e = { 0 };
    add(&e, 0, 4, "a", "z");
    add(&e, 0, 9, "b", "c");
    add(&e, 0, 6, "a", "b");
    add(&e, 1, 5, "m", "p");
    add(&e, 1, 7, "a", "f");
    add(&e, 1, 8, "g", "k");
    struct version *v = apply(v0, &e);
    cr_assert_eq(v->count[0], 3);
    cr_assert_eq(v->tables[0][0]->number, 9);
    cr_assert_eq(v->tables[0][1]->number, 6);
    cr_assert_eq(v->tables[0][2]->number, 4);
    cr_assert_eq(v->count[1], 3);
    cr_assert_eq(v->tables[1][0]->number, 7);
    cr_assert_eq(v->tables[1][1]->number, 8);
    cr_assert_eq(v->tables[1][2]->number, 5);
    cr_assert_eq(version_level_bytes(v, 1), 2000);
    version_unref(v0);
    version_unref(v);
}

Test(version, removal_and_shared_tables)
{
    struct version *v0 = version_new();
    struct version_edit e = { 0 };
    add(&e, 0, 1, "a", "b");
    add(&e, 0, 2, "c", "d");
    struct version *v1 = apply(v0, &e);
    cr_assert_eq(version_edit_delete_table(&e, 0, 1), STRATA_OK);
    add(&e, 1, 3, "a", "b");
    struct version *v2 = apply(v1, &e);
    cr_assert_eq(v2->count[0], 1);
    cr_assert_eq(v2->tables[0][0]->number, 2);
    cr_assert_eq(v2->count[1], 1);
    /* Table 2 is shared: dropping v1 first must leave it whole for v2. */
    struct table_meta *shared = v2->tables[0][0];
    version_unref(v1);
    cr_assert_eq(shared->number, 2);
    cr_assert_eq(shared->smallest.len, 9);
    version_unref(v2);
    version_unref(v0);
}

Test(version, inconsistent_edits_are_corruption)
{
    struct version *v0 = version_new(), *v;
    struct version_edit e = { 0 };
    cr_assert_eq(version_edit_delete_table(&e, 0, 42), STRATA_OK);
    cr_assert_eq(version_apply(v0, &e, "MANIFEST-000007", &v), STRATA_CORRUPTION);
    cr_assert_null(v);
    cr_assert(strstr(strata_last_error(), "MANIFEST-000007") != NULL, "%s", strata_last_error());
    version_edit_clear(&e);
    add(&e, 2, 5, "a", "b");
    struct version *v1 = apply(v0, &e);
    add(&e, 2, 5, "a", "b");
    cr_assert_eq(version_apply(v1, &e, "M", &v), STRATA_CORRUPTION, "the same table added twice");
    version_edit_clear(&e);
    version_unref(v1);
    version_unref(v0);
}

Test(version, snapshot_lists_every_table)
{
    struct version *v0 = version_new();
    struct version_edit e = { 0 }, snap = { 0 };
    add(&e, 0, 3, "a", "b");
    add(&e, 4, 8, "x", "y");
    struct version *v = apply(v0, &e);
    cr_assert_eq(version_snapshot(v, &snap), STRATA_OK);
    cr_assert_eq(snap.num_new_tables, 2);
    struct version *again = apply(v0, &snap);
    cr_assert_eq(again->count[0], 1);
    cr_assert_eq(again->count[4], 1);
    cr_assert_eq(again->tables[4][0]->number, 8);
    version_unref(again);
    version_unref(v);
    version_unref(v0);
}

/*
 * test_version_edit.c: the table records of version edits (tags 6 and 7):
 * round trips, and damage that must be refused without a crash or a leak.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "src/dbformat.h"
#include "src/status.h"
#include "src/version_edit.h"

static struct buf ikey(const char *user, uint64_t seq)
{
    struct buf b = { 0 };
    cr_assert_eq(buf_put_internal_key(&b, slice_make(user, strlen(user)), seq, TYPE_VALUE), STRATA_OK);
    return b;
}

static void add(struct version_edit *e, int level, uint64_t number, const char *lo, const char *hi)
{
    struct buf a = ikey(lo, 5), b = ikey(hi, 9);
    cr_assert_eq(version_edit_add_table(e, level, number, number * 1000, buf_slice(&a), buf_slice(&b)),
                 STRATA_OK);
    buf_free(&a);
    buf_free(&b);
}

Test(version_edit, tables_round_trip)
{
    struct version_edit e = { 0 }, d;
    e.has_log_number = 1;
    e.log_number = 12;
    add(&e, 0, 7, "apple", "pear");
    add(&e, 3, 8, "", "zz");
    cr_assert_eq(version_edit_delete_table(&e, 1, 4), STRATA_OK);
    cr_assert_eq(version_edit_delete_table(&e, 6, 5), STRATA_OK);
    struct buf out = { 0 };
    cr_assert_eq(version_edit_encode(&e, &out), STRATA_OK);
    cr_assert_eq(version_edit_decode(&d, buf_slice(&out), "MANIFEST-000001", 0), STRATA_OK, "%s",
                 strata_last_error());
    cr_assert_eq(d.log_number, 12);
    cr_assert_eq(d.num_new_tables, 2);
    cr_assert_eq(d.num_deleted, 2);
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(d.new_tables[i].level, e.new_tables[i].level);
        cr_assert_eq(d.new_tables[i].number, e.new_tables[i].number);
        cr_assert_eq(d.new_tables[i].size, e.new_tables[i].size);
        cr_assert(slice_equal(buf_slice(&d.new_tables[i].smallest), buf_slice(&e.new_tables[i].smallest)));
        cr_assert(slice_equal(buf_slice(&d.new_tables[i].largest), buf_slice(&e.new_tables[i].largest)));
        cr_assert_eq(d.deleted[i].level, e.deleted[i].level);
        cr_assert_eq(d.deleted[i].number, e.deleted[i].number);
    }
    version_edit_clear(&d);
    version_edit_clear(&e);
    buf_free(&out);
}

/* Every truncation of an edit with tables is refused or decodes a prefix
 * of its fields; none reads past the end (the copy is exactly cut bytes,
 * so ASan would see it) or leaks what it decoded before the damage. */
Test(version_edit, truncated_table_records_are_refused)
{
    struct version_edit e = { 0 }, d;
    add(&e, 2, 99, "key-a", "key-b");
    cr_assert_eq(version_edit_delete_table(&e, 2, 98), STRATA_OK);
    struct buf out = { 0 };
    cr_assert_eq(version_edit_encode(&e, &out), STRATA_OK);
    int refused = 0;
    for (size_t cut = 1; cut < out.len; cut++) {
        char *copy = malloc(cut);
        memcpy(copy, out.data, cut);
        int rc = version_edit_decode(&d, slice_make(copy, cut), "MANIFEST-000002", 40);
        if (rc == STRATA_CORRUPTION) {
            refused++;
            cr_assert(strstr(strata_last_error(), "MANIFEST-000002") != NULL);
            cr_assert_eq(d.num_new_tables, 0, "a refused edit is cleared");
        } else {
            cr_assert_eq(rc, STRATA_OK);
        }
        version_edit_clear(&d);
        free(copy);
    }
    cr_assert_gt(refused, 0);
    version_edit_clear(&e);
    buf_free(&out);
}

Test(version_edit, level_out_of_range_is_refused)
{
    struct version_edit e = { 0 }, d;
    add(&e, 0, 1, "a", "b");
    e.new_tables[0].level = NUM_LEVELS; /* written as is, refused when read */
    struct buf out = { 0 };
    cr_assert_eq(version_edit_encode(&e, &out), STRATA_OK);
    cr_assert_eq(version_edit_decode(&d, buf_slice(&out), "M", 0), STRATA_CORRUPTION);
    cr_assert(strstr(strata_last_error(), "new table") != NULL, "%s", strata_last_error());
    version_edit_clear(&e);
    buf_free(&out);
}

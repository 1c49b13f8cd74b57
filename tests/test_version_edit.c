/*
 * test_version_edit.c: the table records of version edits (tags 6 and 7)
 * and the compaction pointers (tag 5): round trips, the exact encoding of a
 * pointer, and damage that must be refused (naming the MANIFEST and the
 * record's offset) without a crash or a leak.
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

/* ---- compaction pointers (tag 5) ------------------------------------------------ */

static void set_pointer(struct version_edit *e, int level, const char *user, size_t ulen,
                        uint64_t seq)
{
    struct buf k = { 0 };
    cr_assert_eq(buf_put_internal_key(&k, slice_make(user, ulen), seq, TYPE_VALUE), STRATA_OK);
    cr_assert_eq(version_edit_set_pointer(e, level, buf_slice(&k)), STRATA_OK);
    buf_free(&k);
}

Test(version_edit, compaction_pointers_round_trip)
{
    struct version_edit e = { 0 }, d;
    e.has_next_file_number = 1;
    e.next_file_number = 77;
    set_pointer(&e, 0, "apple", 5, 3);
    set_pointer(&e, 3, "", 0, 1);                   /* the empty user key */
    set_pointer(&e, NUM_LEVELS - 1, "\x00\xff\x80", 3, MAX_SEQUENCE); /* binary, the top sequence */
    add(&e, 1, 9, "a", "b");
    cr_assert_eq(version_edit_delete_table(&e, 2, 4), STRATA_OK);
    struct buf out = { 0 };
    cr_assert_eq(version_edit_encode(&e, &out), STRATA_OK);
    cr_assert_eq(version_edit_decode(&d, buf_slice(&out), "MANIFEST-000003", 0), STRATA_OK, "%s",
                 strata_last_error());
    cr_assert_eq(d.num_pointers, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(d.pointers[i].level, e.pointers[i].level);
        cr_assert(slice_equal(buf_slice(&d.pointers[i].key), buf_slice(&e.pointers[i].key)),
                  "pointer %zu", i);
    }
    cr_assert_eq(d.next_file_number, 77);
    cr_assert_eq(d.num_new_tables, 1);
    cr_assert_eq(d.num_deleted, 1);
    /* Encoding the decoded edit gives the same bytes. */
    struct buf again = { 0 };
    cr_assert_eq(version_edit_encode(&d, &again), STRATA_OK);
    cr_assert(slice_equal(buf_slice(&out), buf_slice(&again)));
    buf_free(&again);
    version_edit_clear(&d);
    version_edit_clear(&e);
    cr_assert_eq(e.num_pointers, 0);
    cr_assert_null(e.pointers);
    buf_free(&out);
}

/* The exact bytes: tag 5, the level, the key with its length. */
Test(version_edit, compaction_pointer_encoding_is_tag_5)
{
    struct version_edit e = { 0 };
    set_pointer(&e, 2, "k", 1, 0x0102);
    struct buf out = { 0 };
    cr_assert_eq(version_edit_encode(&e, &out), STRATA_OK);
    const unsigned char want[] = { 5, 2, 9, 'k', 0x01, 0x02, 0x01, 0, 0, 0, 0, 0 };
    /* The tag: (0x0102 << 8) | TYPE_VALUE, little-endian. */
    cr_assert_eq(out.len, sizeof want);
    cr_assert(memcmp(out.data, want, sizeof want) == 0);
    version_edit_clear(&e);
    buf_free(&out);
}

/* Every cut inside a pointer field is refused as corruption naming the
 * MANIFEST and the record's offset; a cut at a field boundary decodes the
 * fields before it. */
Test(version_edit, truncated_compaction_pointer_is_corruption_with_offset)
{
    struct version_edit e = { 0 }, d;
    set_pointer(&e, 1, "pointer-key", 11, 42);
    set_pointer(&e, 4, "second", 6, 43);
    struct buf out = { 0 };
    cr_assert_eq(version_edit_encode(&e, &out), STRATA_OK);
    size_t first_len = 1 + 1 + 1 + 11 + 8; /* tag, level, length, key */
    cr_assert_eq(out.len, first_len + 1 + 1 + 1 + 6 + 8);
    for (size_t cut = 1; cut < out.len; cut++) {
        char *copy = malloc(cut);
        memcpy(copy, out.data, cut);
        int rc = version_edit_decode(&d, slice_make(copy, cut), "MANIFEST-000009", 4242);
        if (cut == first_len) {
            cr_assert_eq(rc, STRATA_OK, "cut %zu: a whole first field", cut);
            cr_assert_eq(d.num_pointers, 1);
        } else {
            cr_assert_eq(rc, STRATA_CORRUPTION, "cut %zu of %zu", cut, out.len);
            const char *msg = strata_last_error();
            cr_assert(strstr(msg, "MANIFEST-000009") != NULL, "%s", msg);
            cr_assert(strstr(msg, "offset 4242") != NULL, "the record's offset: %s", msg);
            cr_assert(strstr(msg, "compaction pointer") != NULL, "%s", msg);
            cr_assert_eq(d.num_pointers, 0, "a refused edit is cleared");
            cr_assert_null(d.pointers);
        }
        version_edit_clear(&d);
        free(copy);
    }
    version_edit_clear(&e);
    buf_free(&out);
}

Test(version_edit, damaged_compaction_pointers_are_refused)
{
    struct version_edit d;
    /* A key shorter than an internal key's tag. */
    const unsigned char short_key[] = { 5, 1, 7, 'a', 'b', 'c', 'd', 'e', 'f', 'g' };
    cr_assert_eq(version_edit_decode(&d, slice_make(short_key, sizeof short_key), "M", 8),
                 STRATA_CORRUPTION);
    cr_assert(strstr(strata_last_error(), "compaction pointer") != NULL, "%s", strata_last_error());
    /* A level past the last. */
    const unsigned char bad_level[] = { 5, NUM_LEVELS, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
    cr_assert_eq(version_edit_decode(&d, slice_make(bad_level, sizeof bad_level), "M", 8),
                 STRATA_CORRUPTION);
    cr_assert(strstr(strata_last_error(), "compaction pointer") != NULL, "%s", strata_last_error());
    /* A length past the end, after a good pointer: nothing leaks. */
    const unsigned char long_key[] = { 5, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 5, 0, 200, 1, 2 };
    cr_assert_eq(version_edit_decode(&d, slice_make(long_key, sizeof long_key), "M", 8),
                 STRATA_CORRUPTION);
    cr_assert_eq(d.num_pointers, 0);
    /* A level written out of range is refused when read back. */
    struct version_edit e = { 0 };
    set_pointer(&e, 0, "k", 1, 1);
    e.pointers[0].level = NUM_LEVELS + 3;
    struct buf out = { 0 };
    cr_assert_eq(version_edit_encode(&e, &out), STRATA_OK);
    cr_assert_eq(version_edit_decode(&d, buf_slice(&out), "M", 0), STRATA_CORRUPTION);
    version_edit_clear(&e);
    buf_free(&out);
}

/* An empty record given as {NULL, 0} (what the log reader hands out for a
 * record made of empty FIRST and LAST fragments) is an empty edit, decoded
 * without arithmetic on the NULL pointer, which C leaves undefined (clang's UBSan,
 * `make asan CC=clang`, aborted here; found by tests/fuzz/fuzz_version_edit.c). */
Test(version_edit, empty_record_with_null_bytes)
{
    struct version_edit e;
    cr_assert_eq(version_edit_decode(&e, slice_make(NULL, 0), "MANIFEST-000001", 0), STRATA_OK);
    cr_assert(!e.has_comparator && !e.has_log_number && !e.has_next_file_number &&
              !e.has_last_sequence && e.num_new_tables == 0 && e.num_deleted == 0 &&
              e.num_pointers == 0);
    version_edit_clear(&e);
}

/*
 * fuzz_version_edit.c: libFuzzer target for the version-edit decoder
 * (src/version_edit.c), which reads every MANIFEST record.
 *
 * Input: the bytes of one encoded edit (no flag byte).
 *
 * What it checks besides "no crash, no sanitizer report, no leak":
 *   - a failure is STRATA_CORRUPTION naming the origin, and leaves the
 *     edit empty;
 *   - an edit that decodes re-encodes to bytes that decode to the same
 *     edit (every field, in order within each kind), and encoding that
 *     edit again gives the same bytes (the encoding is canonical once
 *     re-encoded, whatever spelling of varints the input used).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/buf.h"
#include "src/status.h"
#include "src/version_edit.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char origin[] = "fuzz-MANIFEST";

static int buf_equal(const struct buf *a, const struct buf *b)
{
    return slice_equal(buf_slice(a), buf_slice(b));
}

/* The name of the first field in which a and b differ, or NULL. */
static const char *edit_diff(const struct version_edit *a, const struct version_edit *b)
{
    if (a->has_comparator != b->has_comparator ||
        (a->has_comparator && strcmp(a->comparator, b->comparator) != 0))
        return "comparator";
    if (a->has_log_number != b->has_log_number || a->log_number != b->log_number)
        return "log number";
    if (a->has_next_file_number != b->has_next_file_number ||
        a->next_file_number != b->next_file_number)
        return "next file number";
    if (a->has_last_sequence != b->has_last_sequence || a->last_sequence != b->last_sequence)
        return "last sequence";
    if (a->num_new_tables != b->num_new_tables)
        return "number of new tables";
    for (size_t i = 0; i < a->num_new_tables; i++) {
        const struct edit_table *x = &a->new_tables[i], *y = &b->new_tables[i];
        if (x->level != y->level || x->number != y->number || x->size != y->size ||
            !buf_equal(&x->smallest, &y->smallest) || !buf_equal(&x->largest, &y->largest))
            return "a new table";
    }
    if (a->num_deleted != b->num_deleted)
        return "number of deleted tables";
    for (size_t i = 0; i < a->num_deleted; i++)
        if (a->deleted[i].level != b->deleted[i].level || a->deleted[i].number != b->deleted[i].number)
            return "a deleted table";
    if (a->num_pointers != b->num_pointers)
        return "number of compaction pointers";
    for (size_t i = 0; i < a->num_pointers; i++)
        if (a->pointers[i].level != b->pointers[i].level ||
            !buf_equal(&a->pointers[i].key, &b->pointers[i].key))
            return "a compaction pointer";
    return NULL;
}

static int edit_is_empty(const struct version_edit *e)
{
    static const struct version_edit zero;
    return memcmp(e, &zero, sizeof zero) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct version_edit e;
    int rc = version_edit_decode(&e, slice_make(data, size), origin, 42);
    if (rc != STRATA_OK) {
        FUZZ_CHECK(rc == STRATA_CORRUPTION, "decode: status %d", rc);
        FUZZ_CHECK(strstr(strata_last_error(), origin) != NULL, "message does not name the origin");
        FUZZ_CHECK(edit_is_empty(&e), "a failed decode leaves the edit non-empty");
        return 0;
    }
    struct buf once = { 0 }, twice = { 0 };
    FUZZ_CHECK(version_edit_encode(&e, &once) == STRATA_OK, "encode");
    struct version_edit again;
    rc = version_edit_decode(&again, buf_slice(&once), origin, 0);
    FUZZ_CHECK(rc == STRATA_OK, "the re-encoded edit does not decode");
    const char *diff = edit_diff(&e, &again);
    FUZZ_CHECK(diff == NULL, "the re-encoded edit decodes with another %s", diff);
    FUZZ_CHECK(version_edit_encode(&again, &twice) == STRATA_OK, "encode");
    FUZZ_CHECK(buf_equal(&once, &twice), "encoding is not stable (%zu then %zu bytes)", once.len,
               twice.len);
    version_edit_clear(&again);
    version_edit_clear(&e);
    buf_free(&once);
    buf_free(&twice);
    return 0;
}

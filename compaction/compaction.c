/*
 * compaction.c: building a compaction's input sets, and the level rules a
 * merge asks about (see compaction.h).
 *
 * Invariants:
 * - inputs[1] is every table of level + 1 that overlaps inputs[0]'s user
 *   key range, and grandparents every table of level + 2 that overlaps the
 *   range of both; so the output, which covers the same range, replaces
 *   inputs[0] and inputs[1] without overlapping anything else at level + 1.
 * - At level 0, inputs[0] holds every level-0 table overlapping its range
 *   (version_overlapping widens it), so no older version of a key stays
 *   behind in level 0 while a newer one moves down.
 */
#include "compaction/compaction.h"

#include <stdlib.h>
#include <string.h>

#include "src/dbformat.h"
#include "src/status.h"

/* Expanding the level's inputs is worth it only while the whole
 * compaction stays below this many target file sizes. */
enum { EXPANDED_COMPACTION_FILES = 25, GRANDPARENT_OVERLAP_FILES = 10 };

static int copy_tables(struct table_meta ***out, size_t *n, struct table_meta *const *tables,
                       size_t count)
{
    *out = NULL;
    *n = 0;
    if (count == 0)
        return STRATA_OK;
    if (!(*out = malloc(count * sizeof **out)))
        return status_set(STRATA_NO_MEMORY, "out of memory picking a compaction");
    memcpy(*out, tables, count * sizeof **out);
    *n = count;
    return STRATA_OK;
}

static struct key_range inputs_range(const struct compaction *c)
{
    struct key_range r = tables_range(c->inputs[0], c->num_inputs[0]);
    if (c->num_inputs[1] > 0) {
        struct key_range r1 = tables_range(c->inputs[1], c->num_inputs[1]);
        if (slice_compare(r1.smallest, r.smallest) < 0)
            r.smallest = r1.smallest;
        if (slice_compare(r1.largest, r.largest) > 0)
            r.largest = r1.largest;
    }
    return r;
}

/* Take more tables of the level when they fall inside the range the
 * compaction covers anyway and bring no new table of level + 1: they are
 * merged for the price of reading them. */
static int try_expand(struct compaction *c)
{
    if (c->num_inputs[1] == 0)
        return STRATA_OK;
    struct key_range all = inputs_range(c);
    struct table_meta **grown, **next;
    size_t ngrown, nnext;
    int rc = version_overlapping(c->input_version, c->level, &all, &grown, &ngrown);
    if (rc != STRATA_OK || ngrown <= c->num_inputs[0])
        goto out_grown;
    uint64_t limit = EXPANDED_COMPACTION_FILES * c->max_output_file_size;
    if (tables_bytes(grown, ngrown) + compaction_input_bytes(c, 1) >= limit)
        goto out_grown;
    struct key_range r = tables_range(grown, ngrown);
    rc = version_overlapping(c->input_version, c->level + 1, &r, &next, &nnext);
    if (rc == STRATA_OK && nnext == c->num_inputs[1]) {
        free(c->inputs[0]);
        c->inputs[0] = grown;
        c->num_inputs[0] = ngrown;
        grown = NULL;
    }
    free(next);
out_grown:
    free(grown);
    return rc;
}

static int find_grandparents(struct compaction *c)
{
    if (c->level + 2 >= NUM_LEVELS)
        return STRATA_OK;
    struct key_range all = inputs_range(c);
    return version_overlapping(c->input_version, c->level + 2, &all, &c->grandparents,
                               &c->num_grandparents);
}

static int setup_inputs(struct compaction *c, struct table_meta *const *tables, size_t n)
{
    int rc = copy_tables(&c->inputs[0], &c->num_inputs[0], tables, n);
    if (rc == STRATA_OK && c->level + 1 < NUM_LEVELS) {
        struct key_range r = tables_range(c->inputs[0], c->num_inputs[0]);
        rc = version_overlapping(c->input_version, c->level + 1, &r, &c->inputs[1],
                                 &c->num_inputs[1]);
    }
    if (rc == STRATA_OK)
        rc = try_expand(c);
    if (rc == STRATA_OK)
        rc = find_grandparents(c);
    return rc;
}

struct compaction *compaction_new(struct version *v, int level, struct table_meta *const *tables,
                                  size_t n, uint64_t max_output_file_size)
{
    struct compaction *c = calloc(1, sizeof *c);
    if (!c) {
        status_set(STRATA_NO_MEMORY, "out of memory picking a compaction");
        return NULL;
    }
    c->level = level;
    c->input_version = v;
    version_ref(v);
    c->max_output_file_size = max_output_file_size;
    c->max_grandparent_overlap = GRANDPARENT_OVERLAP_FILES * max_output_file_size;
    if (setup_inputs(c, tables, n) != STRATA_OK) {
        compaction_free(c);
        return NULL;
    }
    return c;
}

void compaction_free(struct compaction *c)
{
    if (!c)
        return;
    free(c->inputs[0]);
    free(c->inputs[1]);
    free(c->grandparents);
    version_edit_clear(&c->edit);
    version_unref(c->input_version);
    free(c);
}

uint64_t compaction_input_bytes(const struct compaction *c, int which)
{
    return tables_bytes(c->inputs[which], c->num_inputs[which]);
}

int compaction_is_trivial_move(const struct compaction *c)
{
    return !c->manual && c->num_inputs[0] == 1 && c->num_inputs[1] == 0 &&
           tables_bytes(c->grandparents, c->num_grandparents) <= c->max_grandparent_overlap;
}

int compaction_record_inputs(struct compaction *c)
{
    int rc = STRATA_OK;
    for (int which = 0; which < 2 && rc == STRATA_OK; which++)
        for (size_t i = 0; i < c->num_inputs[which] && rc == STRATA_OK; i++)
            rc = version_edit_delete_table(&c->edit, c->level + which, c->inputs[which][i]->number);
    /* The next compaction of the level starts after the largest key taken. */
    const struct buf *largest = &c->inputs[0][0]->largest;
    for (size_t i = 1; i < c->num_inputs[0]; i++)
        if (internal_key_compare(buf_slice(&c->inputs[0][i]->largest), buf_slice(largest)) > 0)
            largest = &c->inputs[0][i]->largest;
    if (rc == STRATA_OK)
        rc = version_edit_set_pointer(&c->edit, c->level, buf_slice(largest));
    return rc;
}

int compaction_is_base_level_for_key(struct compaction *c, struct slice user_key)
{
    const struct version *v = c->input_version;
    for (int level = c->level + 2; level < NUM_LEVELS; level++) {
        size_t *i = &c->level_cursor[level];
        for (; *i < v->count[level]; (*i)++) {
            const struct table_meta *t = v->tables[level][*i];
            struct slice largest = internal_key_user_key(buf_slice(&t->largest));
            if (slice_compare(user_key, largest) > 0)
                continue; /* keys only grow: this table is behind us for good */
            if (slice_compare(user_key, internal_key_user_key(buf_slice(&t->smallest))) >= 0)
                return 0;
            break;
        }
    }
    return 1;
}

int compaction_should_stop_before(struct compaction *c, struct slice internal_key)
{
    while (c->grandparent_index < c->num_grandparents &&
           internal_key_compare(internal_key,
                                buf_slice(&c->grandparents[c->grandparent_index]->largest)) > 0) {
        if (c->seen_key)
            c->overlapped_bytes += c->grandparents[c->grandparent_index]->size;
        c->grandparent_index++;
    }
    c->seen_key = 1;
    if (c->overlapped_bytes > c->max_grandparent_overlap) {
        c->overlapped_bytes = 0;
        return 1;
    }
    return 0;
}

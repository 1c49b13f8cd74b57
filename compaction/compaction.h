/*
 * compaction.h: one compaction, the unit of work of leveled compaction:
 * tables of a level (the inputs) merged with the tables of the next level
 * that overlap them, written to the next level (the output level).
 *
 * A compaction holds a reference on the version its inputs were picked
 * from, so the inputs stay listed while it runs.  Its edit collects what
 * installing it changes: the inputs removed, the outputs added, the level's
 * compaction pointer moved past the inputs.
 *
 * The rules that decide what a merge keeps depend on the level structure
 * and live here: whether a user key may exist below the output level
 * (compaction_is_base_level_for_key, for dropping deletion markers) and
 * where to end an output table so that it does not overlap too much of the
 * level after the output level (compaction_should_stop_before): a table
 * overlapping many bytes of its next level makes its own later compaction
 * expensive.
 */
#ifndef STRATA_COMPACTION_H
#define STRATA_COMPACTION_H

#include <stddef.h>
#include <stdint.h>

#include "src/version.h"
#include "src/version_edit.h"

struct compaction {
    int level;                        /* inputs[0] come from it, outputs go to level + 1 */
    int manual;                       /* asked for by strata_compact_range */
    struct version *input_version;    /* one reference, held until compaction_free */
    struct table_meta **inputs[2];    /* [0] at level, [1] at level + 1; borrowed from input_version */
    size_t num_inputs[2];
    struct table_meta **grandparents; /* tables of level + 2 overlapping the inputs */
    size_t num_grandparents;
    uint64_t max_output_file_size;
    uint64_t max_grandparent_overlap; /* bytes of level + 2 one output may overlap */
    struct version_edit edit;

    /* Cursor state of the merge (compaction_should_stop_before). */
    size_t grandparent_index;
    int seen_key;
    uint64_t overlapped_bytes;
    /* Per level below the output level, the first table that may still
     * hold a key (compaction_is_base_level_for_key: keys come in order). */
    size_t level_cursor[NUM_LEVELS];
};

/* A compaction of level with inputs[0] = tables (copied; n > 0) from v (a
 * reference is taken).  Adds the overlapping tables of level + 1, grows the
 * level's inputs when that takes no more tables of level + 1, and finds the
 * grandparents.  NULL when out of memory (message set). */
struct compaction *compaction_new(struct version *v, int level, struct table_meta *const *tables,
                                  size_t n, uint64_t max_output_file_size);
void compaction_free(struct compaction *c);

/* One input table, nothing overlapping it at level + 1, and not too much at
 * level + 2: the table can move down by an edit, without being rewritten. */
int compaction_is_trivial_move(const struct compaction *c);

/* Record in c->edit the removal of every input and the level's new
 * compaction pointer. */
int compaction_record_inputs(struct compaction *c);

/* Whether no level below the output level may hold user_key, so that a
 * deletion marker for it has nothing left to hide.  Calls must come in key
 * order. */
int compaction_is_base_level_for_key(struct compaction *c, struct slice user_key);

/* Whether the output being written should end before internal_key, since
 * it already overlaps more than max_grandparent_overlap of level + 2.
 * Calls must come in key order. */
int compaction_should_stop_before(struct compaction *c, struct slice internal_key);

uint64_t compaction_input_bytes(const struct compaction *c, int which);

#endif

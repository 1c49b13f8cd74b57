/*
 * picker.c: scores and the choice of a compaction's first inputs (see
 * picker.h).
 */
#include "compaction/picker.h"

#include <stdlib.h>

#include "src/dbformat.h"
#include "src/status.h"

enum { MANUAL_COMPACTION_FILES = 25 };

uint64_t picker_level_target(const struct compaction_config *cfg, int level)
{
    uint64_t target = cfg->max_bytes_for_level_base;
    for (int l = 1; l < level; l++) {
        if (target > UINT64_MAX / (uint64_t)cfg->level_multiplier)
            return UINT64_MAX;
        target *= (uint64_t)cfg->level_multiplier;
    }
    return target;
}

void picker_scores(const struct version *v, const struct compaction_config *cfg,
                   double scores[NUM_LEVELS])
{
    scores[0] = (double)v->count[0] / cfg->level0_trigger;
    for (int level = 1; level < NUM_LEVELS - 1; level++)
        scores[level] =
            (double)version_level_bytes(v, level) / (double)picker_level_target(cfg, level);
    scores[NUM_LEVELS - 1] = 0;
}

/* The first table of level whose largest key is after the compaction
 * pointer; the first table when none is (the walk starts over). */
static size_t after_pointer(const struct version *v, int level)
{
    const struct buf *pointer = &v->compact_pointer[level];
    if (pointer->len == 0)
        return level == 0 ? v->count[0] - 1 : 0;
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < v->count[level]; i++) {
        const struct table_meta *t = v->tables[level][i];
        if (internal_key_compare(buf_slice(&t->largest), buf_slice(pointer)) <= 0)
            continue;
        /* Level 0 is ordered by age, not key: look for the smallest such key. */
        if (best == SIZE_MAX || internal_key_compare(buf_slice(&t->smallest),
                                                     buf_slice(&v->tables[level][best]->smallest)) < 0)
            best = i;
        if (level > 0)
            break;
    }
    return best == SIZE_MAX ? 0 : best;
}

static int pick_level(struct version *v, const struct compaction_config *cfg, int level,
                      struct compaction **out)
{
    struct table_meta *first = v->tables[level][after_pointer(v, level)];
    struct table_meta **inputs = &first;
    size_t n = 1;
    if (level == 0) {
        /* Every level-0 table overlapping it goes too (version_overlapping). */
        struct key_range r = tables_range(&first, 1);
        int rc = version_overlapping(v, 0, &r, &inputs, &n);
        if (rc != STRATA_OK)
            return rc;
    }
    *out = compaction_new(v, level, inputs, n, cfg->target_file_size);
    if (level == 0)
        free(inputs);
    return *out ? STRATA_OK : STRATA_NO_MEMORY;
}

int picker_pick(struct version *v, const struct compaction_config *cfg, struct compaction **out)
{
    double scores[NUM_LEVELS];
    int best = -1;
    *out = NULL;
    picker_scores(v, cfg, scores);
    for (int level = 0; level < NUM_LEVELS - 1; level++)
        if (scores[level] >= 1 && (best < 0 || scores[level] > scores[best]))
            best = level;
    if (best < 0)
        return STRATA_OK;
    return pick_level(v, cfg, best, out);
}

/* How many of the n sorted tables of level, from the first, one manual
 * compaction takes: while they and what they overlap in level + 1 stay
 * within MANUAL_COMPACTION_FILES target sizes (at least one table).  The
 * next level counts too: it is ~10 times larger, and a bound on the input
 * level alone let one step rewrite ~250 tables (at 10M keys: 550 MB in
 * one compaction, every table of it mapped at once). */
static int manual_input_count(struct version *v, const struct compaction_config *cfg, int level,
                              struct table_meta **inputs, size_t n, size_t *count)
{
    uint64_t limit = MANUAL_COMPACTION_FILES * cfg->target_file_size, bytes = 0;
    *count = 1;
    for (size_t i = 0; i < n; i++) {
        bytes += inputs[i]->size;
        struct key_range r = tables_range(inputs, i + 1);
        struct table_meta **next;
        size_t nnext;
        int rc = version_overlapping(v, level + 1, &r, &next, &nnext);
        if (rc != STRATA_OK)
            return rc;
        uint64_t total = bytes + tables_bytes(next, nnext);
        free(next);
        if (i > 0 && total > limit)
            break;
        *count = i + 1;
    }
    return STRATA_OK;
}

int picker_pick_range(struct version *v, const struct compaction_config *cfg, int level,
                      const struct key_range *r, struct compaction **out)
{
    struct table_meta **inputs;
    size_t n;
    *out = NULL;
    int rc = version_overlapping(v, level, r, &inputs, &n);
    if (rc != STRATA_OK || n == 0)
        return rc;
    if (level > 0 && level + 1 < NUM_LEVELS &&
        (rc = manual_input_count(v, cfg, level, inputs, n, &n)) != STRATA_OK) {
        free(inputs);
        return rc;
    }
    *out = compaction_new(v, level, inputs, n, cfg->target_file_size);
    free(inputs);
    if (!*out)
        return STRATA_NO_MEMORY;
    (*out)->manual = 1;
    return STRATA_OK;
}

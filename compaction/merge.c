/*
 * merge.c: the merge loop of a compaction (see merge.h for what it keeps
 * and where it cuts outputs).
 *
 * Invariants:
 * - user_key is the user key of the last entry read; last_stripe the stripe
 *   of the newest entry of that key still kept or dropped as a shadow
 *   (NO_STRIPE before the first entry of a key).
 * - builder is non-NULL exactly while an output is open; its smallest and
 *   largest keys are out_smallest and out_largest.
 * - Every output finished is listed in c->edit, so a failure can delete
 *   them all.
 */
#include "compaction/merge.h"

#include <limits.h>
#include <stdlib.h>

#include "src/dbformat.h"
#include "src/filename.h"
#include "src/level_iter.h"
#include "src/merging_iter.h"
#include "src/status.h"

enum { BETWEEN_EVERY = 1024 };
#define NO_STRIPE SIZE_MAX

struct merge {
    struct compaction *c;
    const struct merge_context *mc;
    struct merge_stats *st;
    struct buf user_key;
    int has_user_key;
    size_t last_stripe;
    struct env_file *file;
    struct table_builder *builder;
    uint64_t number;
    struct buf out_smallest, out_largest;
    struct buf out_last_user_key;
};

/* ---- the input ------------------------------------------------------------ */

/* One iterator over every input: a table iterator per level-0 table (they
 * may overlap), a level iterator over each deeper level's tables. */
static int open_input(const struct compaction *c, struct table_cache *tc, struct iter **out)
{
    *out = NULL;
    /* Compaction reads every block once: verify it, and keep it out of the
     * block cache, which holds what the readers use. */
    const struct table_read_options ro = { .verify_checksums = 1, .fill_cache = 0 };
    size_t max = c->num_inputs[0] + 1;
    struct iter **children = malloc(max * sizeof *children);
    int n = 0, rc = STRATA_OK;
    if (!children)
        return status_set(STRATA_NO_MEMORY, "out of memory starting a compaction");
    if (c->level == 0) {
        for (size_t i = 0; i < c->num_inputs[0] && rc == STRATA_OK; i++) {
            const struct table_meta *t = c->inputs[0][i];
            rc = table_cache_iter(tc, t->number, t->size, &ro, &children[n]);
            n += rc == STRATA_OK;
        }
    } else if (!(children[n++] = level_iter_new(tc, c->inputs[0], c->num_inputs[0], &ro))) {
        rc = STRATA_NO_MEMORY;
    }
    if (rc == STRATA_OK && c->num_inputs[1] > 0 &&
        !(children[n++] = level_iter_new(tc, c->inputs[1], c->num_inputs[1], &ro)))
        rc = STRATA_NO_MEMORY;
    if (rc == STRATA_OK && !(*out = merging_iter_new(children, n)))
        rc = STRATA_NO_MEMORY; /* merging_iter_new destroyed the children */
    else if (rc != STRATA_OK)
        for (int i = 0; i < n; i++)
            iter_destroy(children[i]);
    free(children);
    return rc;
}

/* ---- what to drop ---------------------------------------------------------- */

/* The index of the first snapshot at or above sequence (num_snapshots when
 * none is): entries in one stripe are seen by the same snapshots. */
static size_t stripe_of(const struct merge_context *mc, uint64_t sequence)
{
    size_t lo = 0, hi = mc->num_snapshots;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mc->snapshots[mid] < sequence)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Whether the entry (already parsed from the input) can be dropped. */
static int should_drop(struct merge *m, const struct parsed_internal_key *k, int *rc)
{
    *rc = STRATA_OK;
    if (!m->has_user_key || !slice_equal(k->user_key, buf_slice(&m->user_key))) {
        buf_clear(&m->user_key);
        if ((*rc = buf_append(&m->user_key, k->user_key.data, k->user_key.len)) != STRATA_OK)
            return 0;
        m->has_user_key = 1;
        m->last_stripe = NO_STRIPE;
    }
    size_t stripe = stripe_of(m->mc, k->sequence);
    int shadowed = stripe == m->last_stripe;
    m->last_stripe = stripe;
    if (shadowed)
        return 1;
    return k->type == TYPE_DELETION && stripe == 0 &&
           compaction_is_base_level_for_key(m->c, k->user_key);
}

/* ---- outputs --------------------------------------------------------------- */

static int open_output(struct merge *m)
{
    char path[PATH_MAX];
    int rc = m->mc->new_output(m->mc->arg, &m->number);
    if (rc == STRATA_OK)
        rc = table_file_name(path, sizeof path, m->mc->dir, m->number);
    if (rc == STRATA_OK)
        rc = env_open(m->mc->env, path, ENV_OPEN_TRUNCATE, &m->file);
    if (rc != STRATA_OK)
        return rc;
    if (!(m->builder = table_builder_new(&m->mc->builder, m->file))) {
        env_close(m->file);
        m->file = NULL;
        env_unlink(m->mc->env, path);
        return status_set(STRATA_NO_MEMORY, "out of memory writing table %s", path);
    }
    buf_clear(&m->out_smallest);
    return STRATA_OK;
}

/* Delete the output being written (after a failure). */
static void abandon_output(struct merge *m)
{
    char path[PATH_MAX];
    if (!m->builder)
        return;
    table_builder_free(m->builder);
    m->builder = NULL;
    env_close(m->file);
    m->file = NULL;
    if (table_file_name(path, sizeof path, m->mc->dir, m->number) == STRATA_OK)
        env_unlink(m->mc->env, path);
}

static int finish_output(struct merge *m)
{
    struct compaction *c = m->c;
    int rc = table_builder_finish(m->builder);
    uint64_t size = table_builder_file_size(m->builder);
    if (rc == STRATA_OK)
        rc = env_sync(m->file);
    if (rc != STRATA_OK) {
        abandon_output(m);
        return rc;
    }
    table_builder_free(m->builder);
    m->builder = NULL;
    rc = env_close(m->file);
    m->file = NULL;
    if (rc == STRATA_OK)
        rc = version_edit_add_table(&c->edit, c->level + 1, m->number, size,
                                    buf_slice(&m->out_smallest), buf_slice(&m->out_largest));
    if (rc != STRATA_OK) {
        char path[PATH_MAX];
        if (table_file_name(path, sizeof path, m->mc->dir, m->number) == STRATA_OK)
            env_unlink(m->mc->env, path);
        return rc;
    }
    m->st->bytes_written += size;
    m->st->outputs++;
    return STRATA_OK;
}

/* Whether the output must end before key: only at a new user key (the
 * grandparent check is made there too, so a cut it asks for is never lost
 * inside a user key). */
static int output_full(struct merge *m, struct slice key, struct slice user_key)
{
    if (m->builder && slice_equal(user_key, buf_slice(&m->out_last_user_key)))
        return 0;
    int stop = compaction_should_stop_before(m->c, key);
    return m->builder && (stop || table_builder_file_size(m->builder) >= m->c->max_output_file_size);
}

static int add_entry(struct merge *m, struct slice key, struct slice value, struct slice user_key)
{
    int rc = STRATA_OK;
    if (output_full(m, key, user_key))
        rc = finish_output(m);
    if (rc == STRATA_OK && !m->builder)
        rc = open_output(m);
    if (rc == STRATA_OK && m->out_smallest.len == 0)
        rc = buf_append(&m->out_smallest, key.data, key.len);
    if (rc == STRATA_OK)
        rc = table_builder_add(m->builder, key, value);
    if (rc == STRATA_OK) {
        buf_clear(&m->out_largest);
        buf_clear(&m->out_last_user_key);
        rc = buf_append(&m->out_largest, key.data, key.len);
    }
    if (rc == STRATA_OK)
        rc = buf_append(&m->out_last_user_key, user_key.data, user_key.len);
    m->st->entries_written++;
    return rc;
}

/* ---- the loop -------------------------------------------------------------- */

static int merge_one(struct merge *m, struct iter *in)
{
    struct slice key = iter_key(in);
    struct parsed_internal_key k;
    int rc;
    if (!parse_internal_key(key, &k))
        return status_set(STRATA_CORRUPTION,
                          "compaction of level %d: an input table holds a malformed internal key",
                          m->c->level);
    m->st->entries_read++;
    if (should_drop(m, &k, &rc) || rc != STRATA_OK)
        return rc;
    return add_entry(m, key, iter_value(in), k.user_key);
}

static int run(struct merge *m, struct iter *in)
{
    int rc = STRATA_OK;
    uint64_t count = 0;
    for (iter_seek_to_first(in); iter_valid(in) && rc == STRATA_OK; iter_next(in)) {
        if (++count % BETWEEN_EVERY == 0) {
            if (m->mc->stop && atomic_load_explicit(m->mc->stop, memory_order_relaxed)) {
                m->st->stopped = 1;
                return STRATA_OK;
            }
            if (m->mc->between && (rc = m->mc->between(m->mc->arg)) != STRATA_OK)
                return rc;
        }
        rc = merge_one(m, in);
    }
    if (rc == STRATA_OK)
        rc = iter_status(in);
    if (rc == STRATA_OK && m->builder)
        rc = finish_output(m);
    return rc;
}

/* Delete every output listed in the edit (the merge failed or stopped). */
static void delete_outputs(struct compaction *c, const struct merge_context *mc)
{
    char path[PATH_MAX];
    for (size_t i = 0; i < c->edit.num_new_tables; i++)
        if (table_file_name(path, sizeof path, mc->dir, c->edit.new_tables[i].number) == STRATA_OK)
            env_unlink(mc->env, path);
    version_edit_clear(&c->edit);
}

int compaction_merge(struct compaction *c, const struct merge_context *mc, struct merge_stats *st)
{
    struct merge m = { .c = c, .mc = mc, .st = st };
    struct iter *in;
    *st = (struct merge_stats){ 0 };
    st->bytes_read = compaction_input_bytes(c, 0) + compaction_input_bytes(c, 1);
    int rc = open_input(c, mc->table_cache, &in);
    if (rc == STRATA_OK)
        rc = run(&m, in);
    iter_destroy(in);
    abandon_output(&m);
    if (rc != STRATA_OK || st->stopped)
        delete_outputs(c, mc);
    buf_free(&m.user_key);
    buf_free(&m.out_smallest);
    buf_free(&m.out_largest);
    buf_free(&m.out_last_user_key);
    return rc;
}

/*
 * db_compact.c: picking, running and installing compactions in the
 * background thread, and strata_compact_range (see db_compact.h).
 *
 * Invariants:
 * - One compaction runs at a time, in the background thread, which is also
 *   the only thread that appends to the MANIFEST and replaces
 *   db->current; so the version a compaction installs onto differs from
 *   its input version only by level-0 tables flushed meanwhile, which the
 *   compaction's edit does not touch.
 * - The outputs of a running compaction are pending outputs: the sweep
 *   leaves them alone until the edit listing them is installed (or the
 *   compaction gave up and deleted them).
 * - Inputs removed by an installed compaction stay on disk while an older
 *   version (a read or an iterator) lists them (db_add_obsolete_tables).
 */
#include "src/db_compact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compaction/merge.h"
#include "src/db_files.h"
#include "src/db_flush.h"
#include "src/manifest.h"
#include "src/status.h"

/* A flushed table never goes deeper than this: deeper, a range that is
 * rewritten often would skip levels that should absorb its overwrites. */
enum { MAX_FLUSH_LEVEL = 2 };

struct compaction_config db_compaction_config(const strata_db *db)
{
    const struct strata_options *o = &db->options;
    int trigger = o->level0_slowdown_trigger < LEVEL0_COMPACTION_TRIGGER
                      ? o->level0_slowdown_trigger
                      : LEVEL0_COMPACTION_TRIGGER;
    struct compaction_config cfg = {
        .target_file_size = o->target_file_size,
        .max_bytes_for_level_base = o->max_bytes_for_level_base,
        .level_multiplier = o->max_bytes_for_level_multiplier,
        .level0_trigger = trigger,
    };
    return cfg;
}

int db_compact_needed(strata_db *db)
{
    if (db->manual && !db->manual->done)
        return 1;
    struct compaction_config cfg = db_compaction_config(db);
    double scores[NUM_LEVELS];
    picker_scores(db->current, &cfg, scores);
    for (int level = 0; level < NUM_LEVELS; level++)
        if (scores[level] >= 1)
            return 1;
    return 0;
}

int db_level_for_flush(strata_db *db, const struct version *v, const struct key_range *r)
{
    struct compaction_config cfg = db_compaction_config(db);
    int level = 0;
    if (version_level_overlaps(v, 0, r))
        return 0;
    while (level < MAX_FLUSH_LEVEL && !version_level_overlaps(v, level + 1, r)) {
        if (level + 2 < NUM_LEVELS) {
            struct table_meta **gp;
            size_t n;
            if (version_overlapping(v, level + 2, r, &gp, &n) != STRATA_OK)
                break;
            uint64_t bytes = tables_bytes(gp, n);
            free(gp);
            if (bytes > 10 * cfg.target_file_size)
                break;
        }
        level++;
    }
    return level;
}

/* ---- the merge's callbacks (mu not held) ---------------------------------- */

static int new_output(void *arg, uint64_t *number)
{
    strata_db *db = arg;
    pthread_mutex_lock(&db->mu);
    *number = db->next_file_number++;
    int rc = db_add_pending_output(db, *number);
    pthread_mutex_unlock(&db->mu);
    return rc;
}

/* Flush the immutable memtable when one waits, so that writers do not
 * stall behind a long merge. */
static int between_entries(void *arg)
{
    strata_db *db = arg;
    if (!atomic_load_explicit(&db->imm_pending, memory_order_acquire))
        return STRATA_OK;
    pthread_mutex_lock(&db->mu);
    if (db->imm && db->bg_error == STRATA_OK)
        db_flush_imm(db);
    pthread_mutex_unlock(&db->mu);
    return STRATA_OK;
}

/* The live snapshots' sequence numbers, ascending, in a new array.  (mu) */
static int snapshot_list(strata_db *db, uint64_t **out, size_t *n)
{
    size_t count = 0;
    for (struct strata_snapshot *s = db->snapshots.next; s != &db->snapshots; s = s->next)
        count++;
    *n = 0;
    *out = malloc((count ? count : 1) * sizeof **out);
    if (!*out)
        return status_set(STRATA_NO_MEMORY, "out of memory starting a compaction");
    /* The list is oldest first: sequence numbers never decrease along it. */
    for (struct strata_snapshot *s = db->snapshots.next; s != &db->snapshots; s = s->next)
        (*out)[(*n)++] = s->sequence;
    return STRATA_OK;
}

/* ---- installing ------------------------------------------------------------ */

/* Record c's edit in the MANIFEST and make its version current.  (mu held,
 * released while the MANIFEST is written) */
static int install(strata_db *db, struct compaction *c)
{
    struct version *next;
    struct version_edit *e = &c->edit;
    int rc = compaction_record_inputs(c);
    e->has_next_file_number = 1;
    e->next_file_number = db->next_file_number;
    if (rc == STRATA_OK)
        rc = version_apply(db->current, e, "a compaction", &next);
    if (rc != STRATA_OK)
        return rc;
    pthread_mutex_unlock(&db->mu);
    rc = manifest_append(db->manifest, e);
    pthread_mutex_lock(&db->mu);
    if (rc != STRATA_OK) {
        version_unref(next);
        return rc;
    }
    version_unref(db->current);
    db->current = next;
    for (int which = 0; which < 2 && rc == STRATA_OK; which++)
        rc = db_add_obsolete_tables(db, c->inputs[which], c->num_inputs[which]);
    return rc;
}

static int run_trivial_move(strata_db *db, struct compaction *c)
{
    const struct table_meta *t = c->inputs[0][0];
    int rc = version_edit_add_table(&c->edit, c->level + 1, t->number, t->size,
                                    buf_slice(&t->smallest), buf_slice(&t->largest));
    if (rc == STRATA_OK)
        rc = install(db, c);
    if (rc == STRATA_OK) {
        db->stats.level[c->level + 1].moves++;
        info_log_printf(db->info_log, "moved table %llu (%llu bytes) from level %d to %d",
                        (unsigned long long)t->number, (unsigned long long)t->size, c->level,
                        c->level + 1);
    }
    return rc;
}

static void account(strata_db *db, const struct compaction *c, const struct merge_stats *st,
                    uint64_t micros)
{
    struct level_stats *ls = &db->stats.level[c->level + 1];
    ls->compactions++;
    ls->bytes_read_above += compaction_input_bytes(c, 0);
    ls->bytes_read_here += compaction_input_bytes(c, 1);
    ls->bytes_written += st->bytes_written;
    ls->micros += micros;
    db->stats.compactions++;
    info_log_printf(db->info_log,
                    "compacted %zu@%d + %zu@%d tables (%llu bytes) into %llu@%d tables "
                    "(%llu bytes), %llu of %llu entries kept, %.1f ms",
                    c->num_inputs[0], c->level, c->num_inputs[1], c->level + 1,
                    (unsigned long long)st->bytes_read, (unsigned long long)st->outputs,
                    c->level + 1, (unsigned long long)st->bytes_written,
                    (unsigned long long)st->entries_written, (unsigned long long)st->entries_read,
                    (double)micros / 1000.0);
}

static int run_merge(strata_db *db, struct compaction *c)
{
    struct merge_stats st;
    struct merge_context mc = {
        .env = db->env,
        .dir = db->path,
        .table_cache = db->table_cache,
        .builder = db_table_builder_options(&db->options, c->level + 1),
        .new_output = new_output,
        .between = between_entries,
        .arg = db,
        .stop = &db->shutting_down,
    };
    uint64_t *snapshots, start = env_now_micros();
    int rc = snapshot_list(db, &snapshots, &mc.num_snapshots);
    if (rc != STRATA_OK)
        return rc;
    mc.snapshots = snapshots;
    pthread_mutex_unlock(&db->mu);
    rc = compaction_merge(c, &mc, &st);
    free(snapshots);
    /* The outputs' names must be durable before the MANIFEST lists them. */
    if (rc == STRATA_OK && !st.stopped && c->edit.num_new_tables > 0)
        rc = env_sync_dir(db->env, db->path);
    pthread_mutex_lock(&db->mu);
    if (rc == STRATA_OK && !st.stopped)
        rc = install(db, c);
    if (rc == STRATA_OK && !st.stopped)
        account(db, c, &st, env_now_micros() - start);
    return rc;
}

/* ---- one compaction -------------------------------------------------------- */

static int pick(strata_db *db, struct manual_compaction *m, struct compaction **c)
{
    struct compaction_config cfg = db_compaction_config(db);
    if (m)
        return picker_pick_range(db->current, &cfg, m->level, &m->range, c);
    return picker_pick(db->current, &cfg, c);
}

static void finish_manual(struct manual_compaction *m, int rc)
{
    m->done = 1;
    m->status = rc;
    if (rc != STRATA_OK)
        snprintf(m->error, sizeof m->error, "%s", strata_last_error());
}

void db_compact_once(strata_db *db)
{
    struct manual_compaction *m = db->manual && !db->manual->done ? db->manual : NULL;
    struct compaction *c = NULL;
    uint64_t start = env_now_micros();
    int rc = pick(db, m, &c);
    if (rc == STRATA_OK && c) {
        db->compacting = 1;
        rc = compaction_is_trivial_move(c) ? run_trivial_move(db, c) : run_merge(db, c);
        db->compacting = 0;
        /* Only a compaction has pending outputs: they are installed or gone. */
        db->num_pending_outputs = 0;
    }
    int stopping = atomic_load(&db->shutting_down);
    if (rc != STRATA_OK && !stopping) {
        db->stats.compaction_errors++;
        db_keep_bg_error(db, rc, "a compaction");
    }
    if (m && (rc != STRATA_OK || !c || stopping))
        finish_manual(m, stopping && rc == STRATA_OK ? STRATA_BUSY : rc);
    compaction_free(c);
    db->stats.bg_busy_micros += env_now_micros() - start;
    pthread_cond_broadcast(&db->bg_done_cv);
    if (rc == STRATA_OK && c)
        db_sweep_obsolete_files(db);
}

/* ---- strata_compact_range --------------------------------------------------- */

/* Have the background thread compact level's tables overlapping r into the
 * next level until none is left.  (mu, released while waiting) */
static int compact_level(strata_db *db, int level, const struct key_range *r)
{
    struct manual_compaction m = { .level = level, .range = *r };
    while (db->manual) /* another caller's request runs first */
        pthread_cond_wait(&db->bg_done_cv, &db->mu);
    db->manual = &m;
    pthread_cond_signal(&db->bg_work_cv);
    while (!m.done && db->bg_error == STRATA_OK && !atomic_load(&db->shutting_down))
        pthread_cond_wait(&db->bg_done_cv, &db->mu);
    db->manual = NULL;
    pthread_cond_broadcast(&db->bg_done_cv);
    if (!m.done)
        return db->bg_error != STRATA_OK
                   ? status_set(db->bg_error, "%s", db->bg_error_msg)
                   : status_set(STRATA_INVALID_ARGUMENT, "strata_compact_range: the database is being closed");
    if (m.status != STRATA_OK)
        return status_set(m.status, "strata_compact_range: %s", m.error);
    return STRATA_OK;
}

/* The deepest level holding a table that overlaps r (at least 1, so that
 * level 0 always goes down).  (mu) */
static int deepest_overlapping_level(const struct version *v, const struct key_range *r)
{
    int deepest = 1;
    for (int level = 1; level < NUM_LEVELS; level++)
        if (version_level_overlaps(v, level, r))
            deepest = level;
    return deepest;
}

int strata_compact_range(strata_db *db, const void *start, size_t slen, const void *limit,
                         size_t llen)
{
    if (!db)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_compact_range: db is NULL");
    int rc = db_check_bytes("strata_compact_range", "start", start, slen);
    if (rc == STRATA_OK)
        rc = db_check_bytes("strata_compact_range", "limit", limit, llen);
    if (rc != STRATA_OK)
        return rc;
    struct key_range r = { slice_make(start, slen), slice_make(limit, llen) };
    if (r.smallest.data && r.largest.data && slice_compare(r.smallest, r.largest) > 0)
        return STRATA_OK; /* an empty range */
    rc = db_flush_memtable(db);
    if (rc != STRATA_OK)
        return rc;
    pthread_mutex_lock(&db->mu);
    int deepest = deepest_overlapping_level(db->current, &r);
    for (int level = 0; level < deepest && rc == STRATA_OK; level++)
        rc = compact_level(db, level, &r);
    pthread_mutex_unlock(&db->mu);
    return rc;
}

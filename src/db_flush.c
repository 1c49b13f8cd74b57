/*
 * db_flush.c: the background thread and flushes (see db_flush.h).
 *
 * Invariants:
 * - At most one immutable memtable exists (db->imm); the write path switches
 *   memtables only when imm is NULL, so every update in imm is in a log
 *   numbered below db->wal_number, and once imm is a table those logs hold
 *   nothing needed: the log number advances to db->wal_number.
 * - A table becomes part of the database only through a MANIFEST edit that
 *   has been synced; a table file not in the current version is an orphan
 *   of a crash and is deleted at the next open.
 * - Only the background thread (or recovery, before it starts) appends to
 *   the MANIFEST, so edits never interleave.
 */
#include "src/db_flush.h"

#include <limits.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sstable/table_builder.h"
#include "src/db_compact.h"
#include "src/db_files.h"
#include "src/dbformat.h"
#include "src/filename.h"
#include "src/manifest.h"
#include "src/status.h"

struct table_builder_options db_table_builder_options(const struct strata_options *o, int level)
{
    /* Every level alike: storing level 0 raw saves the flush its
     * compression but doubles the bytes flushes write (measured: +25% of
     * all table bytes written by fillrandom), and bytes written are what
     * write amplification counts. */
    (void)level;
    struct table_builder_options b = {
        .block_size = o->block_size,
        .restart_interval = 16,
        .bloom_bits_per_key = o->bloom_bits_per_key,
        .compression = o->compression,
        .compression_level = o->compression_level,
    };
    return b;
}

/* Write every entry of it into an open table file; *size gets its size. */
static int build_table(const struct strata_options *o, struct iter *it, struct env_file *f,
                       struct edit_table *meta)
{
    struct table_builder_options bo = db_table_builder_options(o, meta->level);
    struct table_builder *b = table_builder_new(&bo, f);
    if (!b)
        return STRATA_NO_MEMORY;
    int rc = STRATA_OK;
    for (iter_seek_to_first(it); iter_valid(it) && rc == STRATA_OK; iter_next(it)) {
        struct slice key = iter_key(it);
        if (meta->smallest.len == 0)
            rc = buf_append(&meta->smallest, key.data, key.len);
        if (rc == STRATA_OK)
            rc = table_builder_add(b, key, iter_value(it));
        if (rc == STRATA_OK) {
            buf_clear(&meta->largest);
            rc = buf_append(&meta->largest, key.data, key.len);
        }
    }
    if (rc == STRATA_OK)
        rc = iter_status(it);
    if (rc == STRATA_OK)
        rc = table_builder_finish(b);
    meta->size = table_builder_file_size(b);
    table_builder_free(b);
    return rc;
}

/* Write mem as table number for level meta->level: NNNNNN.sst.tmp, synced,
 * renamed, directory synced.  meta gets its size and key range; an empty
 * memtable leaves meta->size 0 and writes nothing. */
static int write_table(strata_db *db, struct memtable *mem, uint64_t number, struct edit_table *meta)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    struct env_file *f = NULL;
    if (memtable_count(mem) == 0)
        return STRATA_OK;
    struct iter *it = memtable_iter_new(mem);
    if (!it)
        return STRATA_NO_MEMORY;
    int rc = table_file_name(path, sizeof path, db->path, number);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (rc == STRATA_OK)
        rc = env_open(db->env, tmp, ENV_OPEN_TRUNCATE, &f);
    if (rc == STRATA_OK)
        rc = build_table(&db->options, it, f, meta);
    if (rc == STRATA_OK)
        rc = env_sync(f);
    int crc = env_close(f);
    if (rc == STRATA_OK)
        rc = crc;
    if (rc == STRATA_OK)
        rc = env_rename(db->env, tmp, path);
    if (rc == STRATA_OK)
        rc = env_sync_dir(db->env, db->path);
    if (rc != STRATA_OK && f)
        env_unlink(db->env, tmp); /* best effort; a leftover .tmp goes at the next open */
    iter_destroy(it);
    return rc;
}

/* The edit recording a flushed table and the new log number.  (mu) */
static void fill_flush_edit(strata_db *db, struct version_edit *e, uint64_t log_number)
{
    e->has_log_number = 1;
    e->log_number = log_number;
    e->has_next_file_number = 1;
    e->next_file_number = db->next_file_number;
    e->has_last_sequence = 1;
    e->last_sequence = atomic_load(&db->last_sequence);
}

/* The user keys mem spans (mem not empty); they point into mem. */
static struct key_range memtable_range(struct memtable *mem, int *rc)
{
    struct key_range r = { { 0 }, { 0 } };
    struct iter *it = memtable_iter_new(mem);
    *rc = it ? STRATA_OK : STRATA_NO_MEMORY;
    if (!it)
        return r;
    iter_seek_to_first(it);
    r.smallest = internal_key_user_key(iter_key(it));
    iter_seek_to_last(it);
    r.largest = internal_key_user_key(iter_key(it));
    iter_destroy(it);
    return r;
}

/* Write mem as a table at the level db_level_for_flush picks (level 0 with
 * push_down off), and build the edit and the version that record it.  (mu
 * not held; push_down was decided under it) */
static int flush_to_version(strata_db *db, struct memtable *mem, uint64_t number,
                            struct version_edit *e, struct version *base, int push_down,
                            struct version **next)
{
    struct edit_table meta = { 0 };
    int rc = STRATA_OK;
    if (push_down && memtable_count(mem) > 0) {
        struct key_range r = memtable_range(mem, &rc);
        meta.level = rc == STRATA_OK ? db_level_for_flush(db, base, &r) : 0;
    }
    if (rc == STRATA_OK)
        rc = write_table(db, mem, number, &meta);
    if (rc == STRATA_OK && meta.size > 0)
        rc = version_edit_add_table(e, meta.level, number, meta.size, buf_slice(&meta.smallest),
                                    buf_slice(&meta.largest));
    buf_free(&meta.smallest);
    buf_free(&meta.largest);
    if (rc == STRATA_OK)
        rc = manifest_append(db->manifest, e);
    if (rc == STRATA_OK)
        rc = version_apply(base, e, "a flush", next);
    return rc;
}

int db_flush_memtable_now(strata_db *db, struct memtable *mem, uint64_t log_number)
{
    struct version_edit e = { 0 };
    struct version *next;
    uint64_t number = db->next_file_number++;
    fill_flush_edit(db, &e, log_number);
    int rc = flush_to_version(db, mem, number, &e, db->current, 0, &next);
    version_edit_clear(&e);
    if (rc != STRATA_OK)
        return rc;
    version_unref(db->current);
    db->current = next;
    db->log_number = log_number;
    return STRATA_OK;
}

static void account_flush(strata_db *db, const struct version_edit *e, uint64_t micros)
{
    if (e->num_new_tables == 0)
        return;
    const struct edit_table *t = &e->new_tables[0];
    db->stats.flushes++;
    db->stats.flush_bytes += t->size;
    db->stats.flush_micros += micros;
    if (!db->compacting) /* else the compaction's time includes it */
        db->stats.bg_busy_micros += micros;
    db->stats.level[t->level].bytes_written += t->size;
    info_log_printf(db->info_log, "flushed table %llu (%llu bytes) to level %d",
                    (unsigned long long)t->number, (unsigned long long)t->size, t->level);
}

void db_flush_imm(strata_db *db)
{
    struct version_edit e = { 0 };
    struct version *base = db->current, *next = NULL;
    struct memtable *imm = db->imm;
    uint64_t number = db->next_file_number++, log_number = db->wal_number;
    uint64_t start = env_now_micros();
    int push_down = !db->compacting;
    version_ref(base);
    fill_flush_edit(db, &e, log_number);
    pthread_mutex_unlock(&db->mu);
    int rc = flush_to_version(db, imm, number, &e, base, push_down, &next);
    pthread_mutex_lock(&db->mu);
    version_unref(base);
    if (rc != STRATA_OK) {
        version_edit_clear(&e);
        db_keep_bg_error(db, rc, "a flush");
        pthread_cond_broadcast(&db->bg_done_cv);
        return;
    }
    version_unref(db->current); /* base: only this thread changes the version */
    db->current = next;
    db->imm = NULL;
    atomic_store_explicit(&db->imm_pending, 0, memory_order_release);
    db->log_number = log_number;
    account_flush(db, &e, env_now_micros() - start);
    version_edit_clear(&e);
    pthread_cond_broadcast(&db->bg_done_cv);
    /* The old log goes before mu is let go with imm gone, so that no one
     * sees the flush done ("strata.compaction-pending" 0) and its file
     * still there. */
    db_sweep_obsolete_files(db);
    pthread_mutex_unlock(&db->mu);
    memtable_unref(imm);
    pthread_mutex_lock(&db->mu);
}

static void *bg_main(void *arg)
{
    strata_db *db = arg;
    pthread_mutex_lock(&db->mu);
    while (!atomic_load(&db->shutting_down)) {
        if (db->bg_error != STRATA_OK)
            pthread_cond_wait(&db->bg_work_cv, &db->mu);
        else if (db->imm) /* flushes first: writers may be waiting for them */
            db_flush_imm(db);
        else if (db_compact_needed(db))
            db_compact_once(db);
        else
            pthread_cond_wait(&db->bg_work_cv, &db->mu);
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

int db_bg_start(strata_db *db)
{
    db->open_micros = env_now_micros();
    int err = pthread_create(&db->bg_thread, NULL, bg_main, db);
    if (err)
        return status_set_errno(STRATA_IO_ERROR, err, "starting the background thread of %s", db->path);
    db->bg_started = 1;
    return STRATA_OK;
}

void db_bg_stop(strata_db *db)
{
    if (!db->bg_started)
        return;
    pthread_mutex_lock(&db->mu);
    atomic_store(&db->shutting_down, 1);
    pthread_cond_broadcast(&db->bg_work_cv);
    pthread_cond_broadcast(&db->bg_done_cv);
    pthread_mutex_unlock(&db->mu);
    pthread_join(db->bg_thread, NULL);
    db->bg_started = 0;
}

/* Give the writes a new memtable and a new WAL; the full one becomes
 * immutable and goes to the background thread.  (mu) */
static int switch_memtable(strata_db *db)
{
    struct wal_writer *w;
    struct memtable *mem = memtable_new_pooled(db->arena_pool);
    if (!mem)
        return STRATA_NO_MEMORY;
    /* Sync the old log first: a synced write into the new log must not
     * survive a machine crash that loses the unsynced writes acknowledged
     * before it in the old one (found by tests/test_machine_crash.c). */
    int rc = wal_writer_sync(db->wal);
    uint64_t number = db->next_file_number;
    if (rc == STRATA_OK) {
        db->next_file_number++;
        rc = db_create_log(db, number, &w);
    }
    if (rc != STRATA_OK) {
        memtable_unref(mem);
        return rc;
    }
    /* The old log is complete: nothing is appended to it any more.  Its
     * close reports a failure the data already written does not suffer
     * from, so it is only logged. */
    if (wal_writer_close(db->wal) != STRATA_OK)
        info_log_printf(db->info_log, "closing log %llu: %s", (unsigned long long)db->wal_number,
                        strata_last_error());
    db->wal = w;
    db->wal_number = number;
    db->imm = db->mem;
    db->mem = mem;
    atomic_store_explicit(&db->imm_pending, 1, memory_order_release);
    pthread_cond_signal(&db->bg_work_cv);
    return STRATA_OK;
}

/* Wait on bg_done_cv, adding the time waited to *micros.  (mu) */
static void wait_for_background(strata_db *db, uint64_t *micros)
{
    uint64_t start = env_now_micros();
    pthread_cond_wait(&db->bg_done_cv, &db->mu);
    *micros += env_now_micros() - start;
}

/* Level 0 nears the stop trigger: let compaction catch up by delaying this
 * write by about a millisecond, once, rather than stopping every write
 * later for as long as a compaction takes. */
static void slow_down(strata_db *db)
{
    uint64_t start = env_now_micros();
    db->stats.slowdowns++;
    pthread_mutex_unlock(&db->mu);
    struct timespec ms = { 0, 1000 * 1000 };
    nanosleep(&ms, NULL);
    pthread_mutex_lock(&db->mu);
    db->stats.slowdown_micros += env_now_micros() - start;
}

int db_make_room_for_write(strata_db *db, int force)
{
    int delayed = 0;
    for (;;) {
        size_t level0 = db->current->count[0];
        if (db->bg_error != STRATA_OK)
            return status_set(db->bg_error, "%s", db->bg_error_msg);
        if (atomic_load(&db->shutting_down))
            return status_set(STRATA_INVALID_ARGUMENT, "the database is being closed");
        if (!force && !delayed && level0 >= (size_t)db->options.level0_slowdown_trigger) {
            slow_down(db);
            delayed = 1;
        } else if (force ? memtable_count(db->mem) == 0
                         : memtable_data_size(db->mem) < db->options.write_buffer_size) {
            return STRATA_OK;
        } else if (db->imm) { /* the previous memtable is still being flushed */
            db->stats.stalls++;
            wait_for_background(db, &db->stats.stall_micros);
        } else if (level0 >= (size_t)db->options.level0_stop_trigger) {
            db->stats.l0_stops++;
            wait_for_background(db, &db->stats.l0_stop_micros);
        } else {
            return switch_memtable(db);
        }
    }
}

/*
 * db_open.c: opening a database (directory checks, the LOCK, recovery of the
 * MANIFEST and the write-ahead logs), closing it, and destroying it.
 *
 * Recovery replays, oldest first, every log numbered at or above the
 * MANIFEST's log number into a fresh memtable.  A torn record at the tail of
 * a log, the usual trace of a crash, is dropped by the log reader.  Damage
 * before the tail fails the open with STRATA_CORRUPTION when paranoid_checks
 * is on; when it is off, the rest of that log is skipped and the loss is
 * written to the LOG.  Then a new log takes the writes and a new MANIFEST
 * records the state, so that the next open starts from it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/db_files.h"
#include "src/db_flush.h"
#include "src/db_impl.h"
#include "src/filename.h"
#include "src/manifest.h"
#include "src/status.h"
#include "wal/log_reader.h"

struct env *db_env(strata_db *db)
{
    return db->env;
}

int db_check_bytes(const char *fn, const char *what, const void *p, size_t len)
{
    if (!p && len)
        return status_set(STRATA_INVALID_ARGUMENT, "%s: %s is NULL with length %zu", fn, what, len);
    if (len > UINT32_MAX)
        return status_set(STRATA_INVALID_ARGUMENT, "%s: %s of %zu bytes is over the limit of 2^32-1",
                          fn, what, len);
    return STRATA_OK;
}

/* ---- the directory and the database's existence -------------------------- */

static int prepare_directory(strata_db *db)
{
    enum env_path_kind kind;
    int rc = env_path_kind(db->env, db->path, &kind);
    if (rc != STRATA_OK)
        return rc;
    if (kind == ENV_PATH_MISSING) {
        if (!db->options.create_if_missing)
            return status_set(STRATA_INVALID_ARGUMENT,
                              "strata_open: %s does not exist and create_if_missing is off", db->path);
        return env_mkdir(db->env, db->path);
    }
    if (kind != ENV_PATH_DIR)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_open: %s is not a directory", db->path);
    return STRATA_OK;
}

/* Create the MANIFEST of a new database, or check the options against an
 * existing one. */
static int create_or_check(strata_db *db)
{
    char current[PATH_MAX];
    enum env_path_kind kind;
    int rc = db_file_name(current, sizeof current, db->path, "CURRENT");
    if (rc == STRATA_OK)
        rc = env_path_kind(db->env, current, &kind);
    if (rc != STRATA_OK)
        return rc;
    if (kind != ENV_PATH_MISSING) {
        if (db->options.error_if_exists)
            return status_set(STRATA_INVALID_ARGUMENT,
                              "strata_open: a database exists in %s and error_if_exists is on",
                              db->path);
        return STRATA_OK;
    }
    if (!db->options.create_if_missing)
        return status_set(STRATA_INVALID_ARGUMENT,
                          "strata_open: %s holds no database (no CURRENT) and create_if_missing is off",
                          db->path);
    struct manifest_state state = { .log_number = 0, .next_file_number = 2, .last_sequence = 0 };
    struct manifest *m;
    if (!(state.version = version_new()))
        return STRATA_NO_MEMORY;
    info_log_printf(db->info_log, "creating a new database in %s", db->path);
    rc = manifest_create(db->env, db->path, 1, &state, &m);
    version_unref(state.version);
    if (rc != STRATA_OK)
        return rc;
    return manifest_close(m);
}

/* ---- replaying the logs --------------------------------------------------- */

struct replay {
    strata_db *db;
    uint64_t max_sequence;
};

static int replay_update(void *ctx, uint64_t sequence, enum value_type type,
                         struct slice key, struct slice value)
{
    struct replay *r = ctx;
    if (sequence > r->max_sequence)
        r->max_sequence = sequence;
    return memtable_add(r->db->mem, sequence, type, key, value);
}

/* Handle damage found in a log: fail, or skip the rest of the log. */
static int log_damage(strata_db *db, int rc, const char *path)
{
    if (rc != STRATA_CORRUPTION || db->options.paranoid_checks)
        return rc;
    info_log_printf(db->info_log, "paranoid_checks off: skipping the rest of %s after: %s", path,
                    strata_last_error());
    return STRATA_OK;
}

static int replay_record(struct replay *r, struct slice record, const char *path)
{
    const struct batch_handler handler = { r, replay_update };
    int rc = batch_iterate(record, NULL, path); /* check it all before applying any */
    if (rc == STRATA_OK)
        rc = batch_iterate(record, &handler, path);
    return rc;
}

static int replay_log(strata_db *db, uint64_t number, struct replay *r)
{
    char path[PATH_MAX];
    struct env_file *f;
    int rc = log_file_name(path, sizeof path, db->path, number);
    if (rc == STRATA_OK)
        rc = env_open(db->env, path, ENV_OPEN_READ, &f);
    if (rc != STRATA_OK)
        return rc;
    struct wal_reader *reader = wal_reader_new(f);
    if (!reader) {
        env_close(f);
        return status_set(STRATA_NO_MEMORY, "out of memory reading %s", path);
    }
    struct slice record;
    uint64_t records = 0;
    while ((rc = wal_reader_read(reader, &record)) == 1) {
        rc = replay_record(r, record, path);
        if (rc != STRATA_OK)
            break;
        records++;
    }
    if (rc < 0)
        rc = log_damage(db, rc, path);
    if (wal_reader_dropped_bytes(reader) > 0)
        info_log_printf(db->info_log, "%s: dropped a torn tail of %llu bytes", path,
                        (unsigned long long)wal_reader_dropped_bytes(reader));
    info_log_printf(db->info_log, "recovered %llu records from %s", (unsigned long long)records, path);
    wal_reader_free(reader);
    env_close(f);
    return rc;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* A MANIFEST that lost its last edits (cut short, or damaged so that the
 * log reader took them for a torn tail) describes an older state whose
 * files are gone: the first live log it names was deleted once a later
 * edit was durable, and so were the tables a later compaction replaced.
 * Opening it would serve old data and sweep the tables it does not list
 * (all the newer data) away: refuse instead.  tables: the table numbers in
 * the directory, sorted. */
static int check_manifest_files(strata_db *db, int have_first_log, const uint64_t *tables,
                                size_t ntables)
{
    char manifest[PATH_MAX];
    int rc = manifest_file_name(manifest, sizeof manifest, db->path, db->manifest_number);
    if (rc != STRATA_OK)
        return rc;
    if (db->log_number != 0 && !have_first_log)
        return status_set(STRATA_CORRUPTION,
                          "%s names log %06llu as the first live one, which is missing: the "
                          "MANIFEST lost edits",
                          manifest, (unsigned long long)db->log_number);
    for (int level = 0; level < NUM_LEVELS; level++)
        for (size_t i = 0; i < db->current->count[level]; i++) {
            uint64_t number = db->current->tables[level][i]->number;
            if (!bsearch(&number, tables, ntables, sizeof number, compare_u64))
                return status_set(STRATA_CORRUPTION,
                                  "%s lists table %06llu.sst (level %d), which is missing", manifest,
                                  (unsigned long long)number, level);
        }
    return STRATA_OK;
}

/* The live logs, sorted, in *logs (malloc'ed); also raises next_file_number
 * past every numbered file in the directory, so that a file left by a crash
 * is never overwritten, and checks that the files the MANIFEST needs are
 * there. */
static int find_logs(strata_db *db, uint64_t **logs, size_t *count)
{
    char **names;
    size_t n;
    *logs = NULL;
    *count = 0;
    int rc = env_list_dir(db->env, db->path, &names, &n);
    if (rc != STRATA_OK)
        return rc;
    uint64_t *list = malloc((n ? n : 1) * sizeof *list);
    uint64_t *tables = malloc((n ? n : 1) * sizeof *tables);
    if (!list || !tables) {
        free(list);
        free(tables);
        env_free_names(names, n);
        return status_set(STRATA_NO_MEMORY, "out of memory listing %s", db->path);
    }
    size_t ntables = 0;
    int have_first_log = 0;
    for (size_t i = 0; i < n; i++) {
        enum file_type type;
        uint64_t number;
        if (!parse_file_name(names[i], &type, &number))
            continue;
        if (number >= db->next_file_number)
            db->next_file_number = number + 1;
        if (type == FILE_LOG && number >= db->log_number)
            list[(*count)++] = number;
        have_first_log |= type == FILE_LOG && number == db->log_number;
        if (type == FILE_TABLE)
            tables[ntables++] = number;
    }
    env_free_names(names, n);
    qsort(list, *count, sizeof *list, compare_u64);
    qsort(tables, ntables, sizeof *tables, compare_u64);
    rc = check_manifest_files(db, have_first_log, tables, ntables);
    free(tables);
    if (rc != STRATA_OK) {
        free(list);
        *count = 0;
        return rc;
    }
    *logs = list;
    return STRATA_OK;
}

static int recover(strata_db *db, uint64_t *first_live_log)
{
    struct manifest_state state;
    int rc = manifest_recover(db->env, db->path, &state, &db->manifest_number);
    if (rc != STRATA_OK)
        return rc;
    db->log_number = state.log_number;
    db->next_file_number = state.next_file_number;
    db->current = state.version;
    uint64_t *logs;
    size_t nlogs;
    rc = find_logs(db, &logs, &nlogs);
    if (rc != STRATA_OK)
        return rc;
    struct replay r = { db, state.last_sequence };
    for (size_t i = 0; i < nlogs && rc == STRATA_OK; i++)
        rc = replay_log(db, logs[i], &r);
    *first_live_log = nlogs ? logs[0] : 0;
    free(logs);
    atomic_store(&db->last_sequence, r.max_sequence);
    return rc;
}

/* ---- after recovery: a new log, a new MANIFEST, old files removed -------- */

static int open_new_log(strata_db *db)
{
    uint64_t number = db->next_file_number++;
    int rc = db_create_log(db, number, &db->wal);
    if (rc == STRATA_OK)
        db->wal_number = number;
    return rc;
}

/* The recovered updates become a level-0 table, so that the logs they came
 * from (damaged ones included, with paranoid_checks off) are obsolete. */
static int flush_recovered(strata_db *db)
{
    if (memtable_count(db->mem) == 0)
        return STRATA_OK;
    struct memtable *fresh = memtable_new_pooled(db->arena_pool);
    if (!fresh)
        return STRATA_NO_MEMORY;
    int rc = db_flush_memtable_now(db, db->mem, db->wal_number);
    if (rc != STRATA_OK) {
        memtable_unref(fresh);
        return rc;
    }
    info_log_printf(db->info_log, "wrote the %llu recovered updates to a table",
                    (unsigned long long)memtable_count(db->mem));
    memtable_unref(db->mem);
    db->mem = fresh;
    return STRATA_OK;
}

static int finish_open(strata_db *db, uint64_t first_live_log)
{
    int rc = open_new_log(db);
    if (rc != STRATA_OK)
        return rc;
    /* The replayed logs stay live until their updates are in a table. */
    db->log_number = first_live_log ? first_live_log : db->wal_number;
    struct manifest_state state = {
        .log_number = db->log_number,
        .next_file_number = db->next_file_number + 1,
        .last_sequence = atomic_load(&db->last_sequence),
        .version = db->current,
    };
    uint64_t manifest_number = db->next_file_number++;
    rc = manifest_create(db->env, db->path, manifest_number, &state, &db->manifest);
    if (rc != STRATA_OK)
        return rc;
    db->manifest_number = manifest_number;
    rc = flush_recovered(db);
    if (rc != STRATA_OK)
        return rc;
    pthread_mutex_lock(&db->mu);
    db_sweep_obsolete_files(db);
    pthread_mutex_unlock(&db->mu);
    return db_bg_start(db);
}

/* ---- the handle ------------------------------------------------------------ */

static void db_free(strata_db *db)
{
    db_bg_stop(db);
    wal_writer_close(db->wal);
    manifest_close(db->manifest);
    version_unref(db->current);
    for (size_t i = 0; i < db->num_obsolete_tables; i++)
        table_meta_unref(db->obsolete_tables[i]);
    free(db->obsolete_tables);
    free(db->pending_outputs);
    if (db->mem)
        memtable_unref(db->mem);
    if (db->imm)
        memtable_unref(db->imm);
    arena_pool_free(db->arena_pool); /* after the last memtable (NULL allowed) */
    while (db->snapshots.next != &db->snapshots) {
        struct strata_snapshot *s = db->snapshots.next;
        s->prev->next = s->next;
        s->next->prev = s->prev;
        free(s);
    }
    strata_batch_free(db->group_batch);
    table_cache_free(db->table_cache); /* closes the tables before their block cache goes */
    if (db->block_cache)
        cache_free(db->block_cache);
    pthread_cond_destroy(&db->bg_work_cv);
    pthread_cond_destroy(&db->bg_done_cv);
    info_log_close(db->info_log);
    env_close(db->lock);
    if (!db->options.env)
        env_free(db->env);
    pthread_mutex_destroy(&db->mu);
    free(db->path);
    free(db);
}

static strata_db *db_alloc(const char *path, const strata_options *opts)
{
    strata_db *db = calloc(1, sizeof *db);
    if (!db)
        return NULL;
    pthread_mutex_init(&db->mu, NULL);
    pthread_cond_init(&db->bg_work_cv, NULL);
    pthread_cond_init(&db->bg_done_cv, NULL);
    db->snapshots.next = db->snapshots.prev = &db->snapshots;
    if (opts)
        db->options = *opts;
    else
        options_init_defaults(&db->options);
    if (db->options.level0_stop_trigger < db->options.level0_slowdown_trigger)
        db->options.level0_stop_trigger = db->options.level0_slowdown_trigger;
    db->path = strdup(path);
    /* A test's env (options.env), through which it injects faults into
     * the open itself; it outlives the database. */
    db->env = db->options.env ? db->options.env : env_new();
    db->arena_pool = arena_pool_new(db->options.write_buffer_size);
    db->mem = db->arena_pool ? memtable_new_pooled(db->arena_pool) : NULL;
    db->group_batch = strata_batch_new();
    /* 16 shards: readers of different blocks rarely share a lock. */
    if (db->options.block_cache_size > 0)
        db->block_cache = cache_new(db->options.block_cache_size, 4);
    struct table_open_options to = {
        .block_cache = db->block_cache,
        .paranoid_checks = db->options.paranoid_checks,
        .mmap_reads = db->options.mmap_reads,
    };
    if (db->path && db->env)
        db->table_cache = table_cache_new(db->env, db->path, db->options.max_open_files, &to);
    if (!db->path || !db->env || !db->arena_pool || !db->mem || !db->group_batch || !db->table_cache ||
        (db->options.block_cache_size > 0 && !db->block_cache)) {
        db_free(db);
        return NULL;
    }
    return db;
}

static int check_options(const struct strata_options *o)
{
    if (o->compression != STRATA_COMPRESSION_NONE && o->compression != STRATA_COMPRESSION_ZSTD)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_open: unknown compression codec %d",
                          o->compression);
    return STRATA_OK;
}

static int open_locked(strata_db *db)
{
    char lock_path[PATH_MAX];
    int rc = check_options(&db->options);
    if (rc == STRATA_OK)
        rc = prepare_directory(db);
    if (rc == STRATA_OK)
        rc = db_file_name(lock_path, sizeof lock_path, db->path, "LOCK");
    if (rc == STRATA_OK)
        rc = env_lock_file(db->env, lock_path, &db->lock);
    if (rc == STRATA_OK)
        rc = info_log_open(db->env, db->path, &db->info_log);
    if (rc == STRATA_OK)
        rc = create_or_check(db);
    uint64_t first_live_log = 0;
    if (rc == STRATA_OK)
        rc = recover(db, &first_live_log);
    if (rc == STRATA_OK)
        rc = finish_open(db, first_live_log);
    return rc;
}

int strata_open(const char *path, const strata_options *opts, strata_db **dbp)
{
    if (!dbp)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_open: db pointer is NULL");
    *dbp = NULL;
    if (!path || !*path)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_open: path is %s", path ? "empty" : "NULL");
    strata_db *db = db_alloc(path, opts);
    if (!db)
        return status_set(STRATA_NO_MEMORY, "strata_open: out of memory opening %s", path);
    int rc = open_locked(db);
    if (rc != STRATA_OK) {
        info_log_printf(db->info_log, "open failed: %s", strata_last_error());
        /* Freeing must not replace the message of the failure. */
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", strata_last_error());
        db_free(db);
        return status_set(rc, "%s", saved);
    }
    info_log_printf(db->info_log, "opened %s at sequence %llu, log %llu", db->path,
                    (unsigned long long)atomic_load(&db->last_sequence),
                    (unsigned long long)db->wal_number);
    *dbp = db;
    return STRATA_OK;
}

int strata_close(strata_db *db)
{
    if (!db)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_close: db is NULL");
    db_bg_stop(db); /* waits for a running flush or compaction */
    /* Tables a reader kept after their compaction, or a compaction
     * installed while closing, are unlisted now: remove them (the
     * caller has freed its iterators). */
    pthread_mutex_lock(&db->mu);
    db_sweep_obsolete_files(db);
    pthread_mutex_unlock(&db->mu);
    int rc = wal_writer_close(db->wal);
    db->wal = NULL;
    int mrc = manifest_close(db->manifest);
    db->manifest = NULL;
    if (rc == STRATA_OK)
        rc = mrc;
    info_log_printf(db->info_log, "closed at sequence %llu",
                    (unsigned long long)atomic_load(&db->last_sequence));
    db_free(db);
    return rc;
}

/* ---- destroy ----------------------------------------------------------------- */

static int remove_db_files(struct env *env, const char *path)
{
    char **names, file[PATH_MAX];
    size_t n;
    int rc = env_list_dir(env, path, &names, &n);
    if (rc != STRATA_OK)
        return rc;
    for (size_t i = 0; i < n && rc == STRATA_OK; i++) {
        enum file_type type;
        uint64_t number;
        if (!parse_file_name(names[i], &type, &number) || type == FILE_LOCK)
            continue;
        rc = db_file_name(file, sizeof file, path, names[i]);
        if (rc == STRATA_OK)
            rc = env_unlink(env, file);
    }
    env_free_names(names, n);
    return rc;
}

/* rmdir when nothing but strata's files was there; otherwise keep it. */
static void remove_dir_if_empty(struct env *env, const char *path)
{
    char **names;
    size_t n;
    if (env_list_dir(env, path, &names, &n) != STRATA_OK)
        return;
    env_free_names(names, n);
    if (n == 0)
        env_rmdir(env, path);
}

int strata_destroy(const char *path, const strata_options *opts)
{
    (void)opts; /* nothing in the options changes what is removed */
    if (!path || !*path)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_destroy: path is %s", path ? "empty" : "NULL");
    struct env *env = env_new();
    if (!env)
        return STRATA_NO_MEMORY;
    enum env_path_kind kind;
    char lock_path[PATH_MAX];
    struct env_file *lock = NULL;
    int rc = env_path_kind(env, path, &kind);
    if (rc == STRATA_OK && kind == ENV_PATH_MISSING) {
        env_free(env);
        return STRATA_OK;
    }
    if (rc == STRATA_OK && kind != ENV_PATH_DIR)
        rc = status_set(STRATA_INVALID_ARGUMENT, "strata_destroy: %s is not a directory", path);
    if (rc == STRATA_OK)
        rc = db_file_name(lock_path, sizeof lock_path, path, "LOCK");
    if (rc == STRATA_OK)
        rc = env_lock_file(env, lock_path, &lock);
    if (rc == STRATA_OK)
        rc = remove_db_files(env, path);
    if (lock) {
        env_unlink(env, lock_path);
        env_close(lock);
    }
    if (rc == STRATA_OK)
        remove_dir_if_empty(env, path);
    env_free(env);
    return rc;
}

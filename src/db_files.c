/* db_files.c: creating logs and removing obsolete files (see db_files.h). */
#include "src/db_files.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/filename.h"
#include "src/status.h"

/* The log is written through a mapping (wal/log_writer.h): no system call
 * per write.  Its first chunk is reserved here, so a full disk fails the
 * switch to a new log, before any write is acknowledged into it. */
int db_create_log(strata_db *db, uint64_t number, struct wal_writer **out)
{
    char path[PATH_MAX];
    struct env_file *f;
    *out = NULL;
    int rc = log_file_name(path, sizeof path, db->path, number);
    if (rc == STRATA_OK)
        rc = env_open(db->env, path, ENV_OPEN_READ_WRITE, &f);
    if (rc != STRATA_OK)
        return rc;
    rc = wal_writer_new_mapped(f, out);
    if (rc != STRATA_OK) {
        char why[1024]; /* the cleanup must not replace the message of the cause */
        snprintf(why, sizeof why, "%s", strata_last_error());
        env_close(f);
        env_unlink(db->env, path);
        return status_set(rc, "%s", why);
    }
    rc = env_sync_dir(db->env, db->path);
    if (rc != STRATA_OK) {
        wal_writer_close(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- what the sweep keeps -------------------------------------------------- */

static int grow_numbers(uint64_t **a, size_t *cap, size_t need)
{
    if (need <= *cap)
        return STRATA_OK;
    size_t cap2 = *cap ? *cap * 2 : 16;
    while (cap2 < need)
        cap2 *= 2;
    uint64_t *bigger = realloc(*a, cap2 * sizeof *bigger);
    if (!bigger)
        return status_set(STRATA_NO_MEMORY, "out of memory tracking table files");
    *a = bigger;
    *cap = cap2;
    return STRATA_OK;
}

int db_add_pending_output(strata_db *db, uint64_t number)
{
    int rc = grow_numbers(&db->pending_outputs, &db->cap_pending_outputs,
                          db->num_pending_outputs + 1);
    if (rc == STRATA_OK)
        db->pending_outputs[db->num_pending_outputs++] = number;
    return rc;
}

void db_forget_pending_output(strata_db *db, uint64_t number)
{
    for (size_t i = 0; i < db->num_pending_outputs; i++) {
        if (db->pending_outputs[i] == number) {
            db->pending_outputs[i] = db->pending_outputs[--db->num_pending_outputs];
            return;
        }
    }
}

int db_add_obsolete_tables(strata_db *db, struct table_meta *const *tables, size_t n)
{
    size_t need = db->num_obsolete_tables + n;
    if (need > db->cap_obsolete_tables) {
        size_t cap = need * 2;
        struct table_meta **bigger = realloc(db->obsolete_tables, cap * sizeof *bigger);
        if (!bigger)
            return status_set(STRATA_NO_MEMORY, "out of memory tracking table files");
        db->obsolete_tables = bigger;
        db->cap_obsolete_tables = cap;
    }
    for (size_t i = 0; i < n; i++) {
        table_meta_ref(tables[i]);
        db->obsolete_tables[db->num_obsolete_tables++] = tables[i];
    }
    return STRATA_OK;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* What a sweep must not delete, gathered under mu. */
struct keep {
    uint64_t *tables; /* sorted */
    size_t n, cap;
    uint64_t log_number, manifest_number;
};

/* Obsolete tables no version lists any more are released (their files go);
 * the others are kept.  Only the background thread builds versions, always
 * from the current one, so a table's count of versions never grows again
 * once it has left the current version.  (mu) */
static int keep_obsolete_tables(strata_db *db, struct keep *k)
{
    size_t kept = 0;
    for (size_t i = 0; i < db->num_obsolete_tables; i++) {
        struct table_meta *t = db->obsolete_tables[i];
        if (atomic_load(&t->refs) == 1) {
            table_meta_unref(t);
            continue;
        }
        if (grow_numbers(&k->tables, &k->cap, k->n + 1) != STRATA_OK)
            return STRATA_NO_MEMORY;
        k->tables[k->n++] = t->number;
        db->obsolete_tables[kept++] = t;
    }
    db->num_obsolete_tables = kept;
    return STRATA_OK;
}

static int gather_keep(strata_db *db, struct keep *k)
{
    const struct version *v = db->current;
    size_t n = db->num_pending_outputs;
    for (int level = 0; level < NUM_LEVELS; level++)
        n += v->count[level];
    memset(k, 0, sizeof *k);
    k->log_number = db->log_number;
    k->manifest_number = db->manifest_number;
    if (grow_numbers(&k->tables, &k->cap, n + 1) != STRATA_OK)
        return STRATA_NO_MEMORY;
    for (int level = 0; level < NUM_LEVELS; level++)
        for (size_t i = 0; i < v->count[level]; i++)
            k->tables[k->n++] = v->tables[level][i]->number;
    for (size_t i = 0; i < db->num_pending_outputs; i++)
        k->tables[k->n++] = db->pending_outputs[i];
    if (keep_obsolete_tables(db, k) != STRATA_OK)
        return STRATA_NO_MEMORY;
    qsort(k->tables, k->n, sizeof *k->tables, compare_u64);
    return STRATA_OK;
}

static int is_obsolete(const char *name, const struct keep *k, uint64_t *table)
{
    enum file_type type;
    uint64_t number;
    *table = 0;
    if (!parse_file_name(name, &type, &number))
        return 0;
    switch (type) {
    case FILE_MANIFEST: return number != k->manifest_number;
    case FILE_LOG: return number < k->log_number;
    case FILE_TABLE:
        *table = number;
        return !bsearch(&number, k->tables, k->n, sizeof number, compare_u64);
    case FILE_TEMP: return 1;
    default: return 0;
    }
}

static void delete_files(strata_db *db, const struct keep *k)
{
    char **names, path[PATH_MAX];
    size_t n;
    uint64_t table;
    if (env_list_dir(db->env, db->path, &names, &n) != STRATA_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!is_obsolete(names[i], k, &table) ||
            db_file_name(path, sizeof path, db->path, names[i]) != STRATA_OK)
            continue;
        if (table)
            table_cache_evict(db->table_cache, table);
        if (env_unlink(db->env, path) == STRATA_OK)
            info_log_printf(db->info_log, "removed obsolete file %s", path);
        else
            info_log_printf(db->info_log, "could not remove %s: %s", path, strata_last_error());
    }
    env_free_names(names, n);
}

void db_sweep_obsolete_files(strata_db *db)
{
    struct keep k;
    /* After a failed MANIFEST write it is unknown which tables the MANIFEST
     * lists: delete nothing until a reopen has read it back. */
    if (db->bg_error != STRATA_OK)
        return;
    if (gather_keep(db, &k) != STRATA_OK) {
        free(k.tables);
        info_log_printf(db->info_log, "obsolete files kept: %s", strata_last_error());
        return;
    }
    db->sweeping++;
    pthread_mutex_unlock(&db->mu);
    delete_files(db, &k);
    free(k.tables);
    pthread_mutex_lock(&db->mu);
    db->sweeping--;
}

/* db_files.c: creating logs and removing obsolete files (see db_files.h). */
#include "src/db_files.h"

#include <limits.h>

#include "src/filename.h"
#include "src/status.h"

int db_create_log(strata_db *db, uint64_t number, struct wal_writer **out)
{
    char path[PATH_MAX];
    struct env_file *f;
    int rc = log_file_name(path, sizeof path, db->path, number);
    if (rc == STRATA_OK)
        rc = env_open(db->env, path, ENV_OPEN_TRUNCATE, &f);
    if (rc != STRATA_OK)
        return rc;
    if (!(*out = wal_writer_new(f, 0))) {
        env_close(f);
        env_unlink(db->env, path);
        return status_set(STRATA_NO_MEMORY, "out of memory opening %s", path);
    }
    rc = env_sync_dir(db->env, db->path);
    if (rc != STRATA_OK) {
        wal_writer_close(*out);
        *out = NULL;
    }
    return rc;
}

static int table_is_live(const struct version *v, uint64_t number)
{
    for (int level = 0; level < NUM_LEVELS; level++)
        for (size_t i = 0; i < v->count[level]; i++)
            if (v->tables[level][i]->number == number)
                return 1;
    return 0;
}

static int is_obsolete(const char *name, const struct version *live, uint64_t log_number,
                       uint64_t manifest_number)
{
    enum file_type type;
    uint64_t number;
    if (!parse_file_name(name, &type, &number))
        return 0;
    switch (type) {
    case FILE_MANIFEST: return number != manifest_number;
    case FILE_LOG: return number < log_number;
    case FILE_TABLE: return !table_is_live(live, number);
    case FILE_TEMP: return 1;
    default: return 0;
    }
}

void db_remove_obsolete_files(strata_db *db, const struct version *live, uint64_t log_number,
                              uint64_t manifest_number)
{
    char **names, path[PATH_MAX];
    size_t n;
    if (env_list_dir(db->env, db->path, &names, &n) != STRATA_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!is_obsolete(names[i], live, log_number, manifest_number) ||
            db_file_name(path, sizeof path, db->path, names[i]) != STRATA_OK)
            continue;
        if (env_unlink(db->env, path) == STRATA_OK)
            info_log_printf(db->info_log, "removed obsolete file %s", path);
        else
            info_log_printf(db->info_log, "could not remove %s: %s", path, strata_last_error());
    }
    env_free_names(names, n);
}

/* manifest.c: writing, appending to and recovering the MANIFEST and CURRENT
 * (see manifest.h). */
#include "src/manifest.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/dbformat.h"
#include "src/filename.h"
#include "src/status.h"
#include "src/version_edit.h"
#include "wal/log_reader.h"
#include "wal/log_writer.h"

struct manifest {
    struct wal_writer *log;
    struct buf record; /* reused for each edit */
};

static int snapshot_edit(const struct manifest_state *state, struct version_edit *e)
{
    memset(e, 0, sizeof *e);
    e->has_comparator = 1;
    snprintf(e->comparator, sizeof e->comparator, "%s", COMPARATOR_NAME);
    e->has_log_number = 1;
    e->log_number = state->log_number;
    e->has_next_file_number = 1;
    e->next_file_number = state->next_file_number;
    e->has_last_sequence = 1;
    e->last_sequence = state->last_sequence;
    return version_snapshot(state->version, e);
}

int manifest_append(struct manifest *m, const struct version_edit *edit)
{
    buf_clear(&m->record);
    int rc = version_edit_encode(edit, &m->record);
    if (rc == STRATA_OK)
        rc = wal_writer_add_record(m->log, buf_slice(&m->record));
    if (rc == STRATA_OK)
        rc = wal_writer_sync(m->log);
    return rc;
}

int manifest_close(struct manifest *m)
{
    if (!m)
        return STRATA_OK;
    int rc = wal_writer_close(m->log);
    buf_free(&m->record);
    free(m);
    return rc;
}

static int open_manifest(struct env *env, const char *path, struct manifest **out)
{
    struct env_file *f;
    struct manifest *m = calloc(1, sizeof *m);
    if (!m)
        return status_set(STRATA_NO_MEMORY, "out of memory opening %s", path);
    int rc = env_open(env, path, ENV_OPEN_TRUNCATE, &f);
    if (rc == STRATA_OK && !(m->log = wal_writer_new(f, 0))) {
        env_close(f);
        rc = status_set(STRATA_NO_MEMORY, "out of memory opening %s", path);
    }
    if (rc != STRATA_OK) {
        free(m);
        return rc;
    }
    *out = m;
    return STRATA_OK;
}

int manifest_create(struct env *env, const char *dir, uint64_t number,
                    const struct manifest_state *state, struct manifest **out)
{
    char path[PATH_MAX], current[64];
    struct manifest *m = NULL;
    struct version_edit e;
    *out = NULL;
    int rc = manifest_file_name(path, sizeof path, dir, number);
    if (rc == STRATA_OK)
        rc = open_manifest(env, path, &m);
    if (rc != STRATA_OK)
        return rc;
    rc = snapshot_edit(state, &e);
    if (rc == STRATA_OK)
        rc = manifest_append(m, &e);
    version_edit_clear(&e);
    int n = snprintf(current, sizeof current, "MANIFEST-%06" PRIu64 "\n", number);
    int current_tried = rc == STRATA_OK;
    if (rc == STRATA_OK)
        rc = env_write_file_atomic(env, dir, "CURRENT", current, (size_t)n);
    if (rc != STRATA_OK) {
        manifest_close(m);
        /* Never made current: an orphan otherwise.  Once CURRENT was being
         * replaced, it may name this MANIFEST (the directory sync after the
         * rename can fail): keep it then, or the database could not be
         * opened; the next open's sweep removes it if CURRENT does not. */
        if (!current_tried)
            env_unlink(env, path);
        return rc;
    }
    *out = m;
    return STRATA_OK;
}

/* Parse CURRENT's contents: "MANIFEST-<number>\n". */
static int parse_current(const char *data, size_t n, const char *path, uint64_t *number)
{
    enum file_type type;
    char name[64];
    if (n < 2 || n >= sizeof name || data[n - 1] != '\n')
        return status_set(STRATA_CORRUPTION, "%s: not a MANIFEST name followed by a newline", path);
    memcpy(name, data, n - 1);
    name[n - 1] = '\0';
    if (strlen(name) != n - 1 || !parse_file_name(name, &type, number) || type != FILE_MANIFEST)
        return status_set(STRATA_CORRUPTION, "%s: \"%s\" is not a MANIFEST name", path, name);
    return STRATA_OK;
}

static int apply_edit(const struct version_edit *e, struct manifest_state *state, int *seen,
                      const char *path)
{
    if (e->has_comparator && strcmp(e->comparator, COMPARATOR_NAME) != 0)
        return status_set(STRATA_INVALID_ARGUMENT,
                          "%s: database sorted by comparator \"%s\", not \"%s\"", path,
                          e->comparator, COMPARATOR_NAME);
    struct version *next;
    int rc = version_apply(state->version, e, path, &next);
    if (rc != STRATA_OK)
        return rc;
    version_unref(state->version);
    state->version = next;
    if (e->has_log_number)
        state->log_number = e->log_number;
    if (e->has_next_file_number)
        state->next_file_number = e->next_file_number;
    if (e->has_last_sequence)
        state->last_sequence = e->last_sequence;
    *seen |= (e->has_log_number ? 1 : 0) | (e->has_next_file_number ? 2 : 0) |
             (e->has_last_sequence ? 4 : 0);
    return STRATA_OK;
}

static int read_edits(struct env *env, const char *path, struct manifest_state *state)
{
    struct env_file *f;
    int rc = env_open(env, path, ENV_OPEN_READ, &f);
    if (rc != STRATA_OK)
        return rc == STRATA_IO_ERROR
                   ? status_set(STRATA_CORRUPTION, "CURRENT names %s, which cannot be opened: %s",
                                path, strata_last_error())
                   : rc;
    struct wal_reader *r = wal_reader_new(f);
    if (!r) {
        env_close(f);
        return status_set(STRATA_NO_MEMORY, "out of memory reading %s", path);
    }
    int seen = 0;
    struct slice record;
    while ((rc = wal_reader_read(r, &record)) == 1) {
        struct version_edit e;
        rc = version_edit_decode(&e, record, path, wal_reader_record_offset(r));
        if (rc == STRATA_OK)
            rc = apply_edit(&e, state, &seen, path);
        version_edit_clear(&e);
        if (rc != STRATA_OK)
            break;
    }
    wal_reader_free(r);
    env_close(f);
    if (rc == 0 && seen != 7)
        rc = status_set(STRATA_CORRUPTION, "%s: no log number, next file number or last sequence",
                        path);
    return rc;
}

int manifest_recover(struct env *env, const char *dir, struct manifest_state *state,
                     uint64_t *number)
{
    char current[PATH_MAX], path[PATH_MAX];
    char *data;
    size_t n;
    memset(state, 0, sizeof *state);
    if (!(state->version = version_new()))
        return STRATA_NO_MEMORY;
    int rc = db_file_name(current, sizeof current, dir, "CURRENT");
    if (rc == STRATA_OK)
        rc = env_read_file(env, current, &data, &n);
    if (rc == STRATA_OK) { /* on failure, fall through to free the version */
        rc = parse_current(data, n, current, number);
        free(data);
    }
    if (rc == STRATA_OK)
        rc = manifest_file_name(path, sizeof path, dir, *number);
    if (rc == STRATA_OK)
        rc = read_edits(env, path, state);
    if (rc != STRATA_OK) {
        version_unref(state->version);
        state->version = NULL;
    }
    return rc;
}

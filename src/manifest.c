/* manifest.c: writing and recovering the MANIFEST and CURRENT (see
 * manifest.h). */
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

static int write_snapshot(struct env *env, const char *path, const struct manifest_state *state)
{
    struct version_edit e = {
        .has_comparator = 1,
        .has_log_number = 1, .log_number = state->log_number,
        .has_next_file_number = 1, .next_file_number = state->next_file_number,
        .has_last_sequence = 1, .last_sequence = state->last_sequence,
    };
    snprintf(e.comparator, sizeof e.comparator, "%s", COMPARATOR_NAME);
    struct buf record = { 0 };
    int rc = version_edit_encode(&e, &record);
    struct env_file *f = NULL;
    if (rc == STRATA_OK)
        rc = env_open(env, path, ENV_OPEN_TRUNCATE, &f);
    struct wal_writer *w = NULL;
    if (rc == STRATA_OK && !(w = wal_writer_new(f, 0))) {
        env_close(f);
        rc = status_set(STRATA_NO_MEMORY, "out of memory writing %s", path);
    }
    if (rc == STRATA_OK)
        rc = wal_writer_add_record(w, buf_slice(&record));
    if (rc == STRATA_OK)
        rc = wal_writer_sync(w);
    int crc = wal_writer_close(w);
    buf_free(&record);
    return rc == STRATA_OK ? crc : rc;
}

int manifest_create(struct env *env, const char *dir, uint64_t number,
                    const struct manifest_state *state)
{
    char path[PATH_MAX], current[64];
    int rc = manifest_file_name(path, sizeof path, dir, number);
    if (rc == STRATA_OK)
        rc = write_snapshot(env, path, state);
    if (rc != STRATA_OK)
        return rc;
    int n = snprintf(current, sizeof current, "MANIFEST-%06" PRIu64 "\n", number);
    rc = env_write_file_atomic(env, dir, "CURRENT", current, (size_t)n);
    if (rc != STRATA_OK)
        env_unlink(env, path); /* never made current: an orphan otherwise */
    return rc;
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
    int rc = db_file_name(current, sizeof current, dir, "CURRENT");
    if (rc == STRATA_OK)
        rc = env_read_file(env, current, &data, &n);
    if (rc != STRATA_OK)
        return rc;
    rc = parse_current(data, n, current, number);
    free(data);
    if (rc == STRATA_OK)
        rc = manifest_file_name(path, sizeof path, dir, *number);
    if (rc == STRATA_OK)
        rc = read_edits(env, path, state);
    return rc;
}

/*
 * manifest.h: the MANIFEST and CURRENT files.
 *
 * The MANIFEST is a log (wal/ record format) of version edits; applying
 * them in order gives the database's persistent state: its tables per level
 * (a version), the log number, the next file number and the last sequence.
 * CURRENT holds the name of the live MANIFEST followed by a newline and is
 * replaced atomically (temporary file, sync, rename, directory sync), so a
 * crash leaves either the old or the new MANIFEST live, never neither.
 *
 * Each open writes a fresh MANIFEST that starts with one edit holding the
 * whole state (a snapshot), makes it current, and keeps it open: every
 * flush and compaction appends its edit and syncs it before the change
 * takes effect.
 */
#ifndef STRATA_MANIFEST_H
#define STRATA_MANIFEST_H

#include <stdint.h>

#include "src/env.h"
#include "src/version.h"
#include "src/version_edit.h"

struct manifest_state {
    uint64_t log_number;       /* logs numbered below it hold nothing needed */
    uint64_t next_file_number; /* the next number to give a file */
    uint64_t last_sequence;    /* the last sequence number recorded here */
    struct version *version;   /* the tables (one reference, owned) */
};

/* The MANIFEST being appended to. */
struct manifest;

/* Write dir/MANIFEST-number holding state, sync it, make it current, and
 * keep it open for manifest_append. */
int manifest_create(struct env *env, const char *dir, uint64_t number,
                    const struct manifest_state *state, struct manifest **out);

/* Append one edit and sync it: once this returns STRATA_OK the edit
 * survives a crash. */
int manifest_append(struct manifest *m, const struct version_edit *edit);

/* Close the file (NULL allowed). */
int manifest_close(struct manifest *m);

/* Read CURRENT and the MANIFEST it names into *state (state->version is a
 * new reference); *number is the MANIFEST's number.  A damaged or missing
 * file gives STRATA_CORRUPTION naming it; a different comparator,
 * STRATA_INVALID_ARGUMENT. */
int manifest_recover(struct env *env, const char *dir, struct manifest_state *state,
                     uint64_t *number);

#endif

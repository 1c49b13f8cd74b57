/*
 * manifest.h: the MANIFEST and CURRENT files.
 *
 * The MANIFEST is a log (wal/ record format) of version edits; applying
 * them in order gives the database's persistent state.  CURRENT holds the
 * name of the live MANIFEST followed by a newline and is replaced atomically
 * (temporary file, sync, rename, directory sync), so a crash leaves either
 * the old or the new MANIFEST live, never neither.
 *
 * For now each open writes a fresh MANIFEST holding one edit with the whole
 * state (a snapshot) and makes it current; the version set (issue 5) keeps
 * one open and appends an edit per flush and compaction.
 */
#ifndef STRATA_MANIFEST_H
#define STRATA_MANIFEST_H

#include <stdint.h>

#include "src/env.h"

struct manifest_state {
    uint64_t log_number;       /* logs numbered below it hold nothing needed */
    uint64_t next_file_number; /* the next number to give a file */
    uint64_t last_sequence;    /* the last sequence number recorded here */
};

/* Write dir/MANIFEST-number holding state, sync it, and make it current. */
int manifest_create(struct env *env, const char *dir, uint64_t number,
                    const struct manifest_state *state);

/* Read CURRENT and the MANIFEST it names into *state; *number is the
 * MANIFEST's number.  A damaged or missing file gives STRATA_CORRUPTION
 * naming it; a different comparator, STRATA_INVALID_ARGUMENT. */
int manifest_recover(struct env *env, const char *dir, struct manifest_state *state,
                     uint64_t *number);

#endif

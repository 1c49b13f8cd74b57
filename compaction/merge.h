/*
 * merge.h: running a compaction: merge its inputs, drop what no reader can
 * see any more, and write the rest as tables of the output level.
 *
 * What is dropped.  The live snapshots cut the sequence numbers into
 * stripes: stripe i holds the sequence numbers in (snapshot[i-1],
 * snapshot[i]], and the last stripe those above the newest snapshot (read
 * by readers without a snapshot).  A reader in a stripe sees, of each user
 * key, the newest entry at or below its sequence number; so of the entries
 * of one user key within one stripe only the newest can ever be read, and
 * the others are dropped.  A deletion marker in the oldest stripe hides
 * nothing from anyone once it is the newest of its stripe and no level
 * below the output level may hold its key: it is dropped too, with the
 * older entries it shadows.
 *
 * Outputs.  An output table ends once it reaches the target file size, or
 * when it would overlap too many bytes of the level after the output level
 * (compaction_should_stop_before), but never between two entries of one
 * user key: a user key's entries always sit in one table of a level, which
 * keeps the tables of a level disjoint in user keys.  Outputs are written
 * under their final names and synced; until the caller installs the edit
 * they are in no version, and the caller keeps them from the obsolete-file
 * sweep (pending outputs); a crash leaves them unlisted, and the next open
 * deletes them.
 */
#ifndef STRATA_MERGE_H
#define STRATA_MERGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "compaction/compaction.h"
#include "sstable/table_builder.h"
#include "src/env.h"
#include "src/table_cache.h"

struct merge_context {
    struct env *env;
    const char *dir;
    struct table_cache *table_cache;            /* to read the inputs */
    struct table_builder_options builder;
    const uint64_t *snapshots;                  /* live snapshots' sequence numbers, ascending */
    size_t num_snapshots;
    /* A new file number for an output, which the caller keeps from the
     * obsolete-file sweep until the compaction is installed or abandoned. */
    int (*new_output)(void *arg, uint64_t *number);
    /* Called between entries from time to time, so that the caller can
     * flush an immutable memtable during a long merge; its non-OK return
     * fails the merge.  May be NULL. */
    int (*between)(void *arg);
    void *arg;
    const atomic_int *stop;                     /* when non-zero, the merge gives up (shutdown) */
};

struct merge_stats {
    uint64_t bytes_read;     /* input tables' sizes */
    uint64_t bytes_written;  /* output tables' sizes */
    uint64_t entries_read;
    uint64_t entries_written;
    uint64_t outputs;
    int stopped;             /* gave up on *stop: nothing to install */
};

/* Merge c's inputs into output tables recorded in c->edit (level + 1);
 * the caller then adds compaction_record_inputs and installs the edit.  On
 * failure the outputs written so far are deleted. */
int compaction_merge(struct compaction *c, const struct merge_context *mc, struct merge_stats *st);

#endif

/*
 * db_flush.h: the background thread, and flushes: writing a memtable out
 * as a level-0 table.
 *
 * When the memtable reaches write_buffer_size, the write path's leader
 * makes it immutable, gives the writes a new memtable and a new WAL, and
 * wakes the background thread; writers wait only when the immutable slot
 * is still full.  The background thread writes the immutable memtable to
 * NNNNNN.sst.tmp, syncs it, renames it, syncs the directory, records the
 * table and the new log number in the MANIFEST, installs the new version,
 * and deletes the WALs the table made obsolete.  A failure becomes the
 * database's background error: later writes fail with it; reads go on.
 */
#ifndef STRATA_DB_FLUSH_H
#define STRATA_DB_FLUSH_H

#include "sstable/table_builder.h"
#include "src/db_impl.h"

/* Start the background thread.  (mu not held) */
int db_bg_start(strata_db *db);
/* Ask the background thread to stop after its current job and wait for it.
 * (mu not held) */
void db_bg_stop(strata_db *db);

/* Make sure the memtable has room for a write: switch to a new memtable and
 * WAL when it is full, waiting while the previous one is still being
 * flushed or while level 0 holds level0_stop_trigger tables, after a
 * one-time delay of ~1 ms from level0_slowdown_trigger tables on.  With
 * force, switch as soon as the memtable holds anything (to flush it).
 * Only the write queue's leader calls it: the memtable it switches must
 * have no writer.  (mu held; may release it while waiting) */
int db_make_room_for_write(strata_db *db, int force);

/* Flush the memtable if it holds anything, and wait until it is a table:
 * it queues like a write, so that no write is inserting into it.  (mu not
 * held; defined in db_write.c) */
int db_flush_memtable(strata_db *db);

/* Flush db->imm (not NULL) and install the table.  A failure becomes the
 * background error.  (mu held, released during I/O; background thread) */
void db_flush_imm(strata_db *db);

/* The settings of a table builder writing a table for level. */
struct table_builder_options db_table_builder_options(const struct strata_options *o, int level);

/* Write mem to a new level-0 table and record it with edit's other fields
 * in the MANIFEST (used by recovery, before the thread runs).  An empty
 * memtable writes nothing.  (mu not held) */
int db_flush_memtable_now(strata_db *db, struct memtable *mem, uint64_t log_number);

#endif

/*
 * db_files.h: the files of an open database that the core creates and
 * removes besides tables: write-ahead logs, and the sweep of obsolete
 * files.
 */
#ifndef STRATA_DB_FILES_H
#define STRATA_DB_FILES_H

#include "src/db_impl.h"

/* Create log number and a writer for it, and sync the directory: a synced
 * write to a log whose name could vanish in a machine crash would not be
 * durable.  The log's first 1 MiB is reserved and faulted in here (~1 ms
 * on this machine's VMs), once per memtable.  (mu may be held.) */
int db_create_log(strata_db *db, uint64_t number, struct wal_writer **out);

/* Record table number as being written: the sweep keeps it until
 * db_forget_pending_output.  (mu) */
int db_add_pending_output(strata_db *db, uint64_t number);
void db_forget_pending_output(strata_db *db, uint64_t number);

/* Keep the tables a compaction removed from the current version until no
 * version lists them (each takes one reference).  (mu) */
int db_add_obsolete_tables(strata_db *db, struct table_meta *const *tables, size_t n);

/* Remove what no longer belongs to the database: MANIFESTs but the live
 * one, logs below the log number, temporary files, and tables that no
 * version lists and that are not being written (left by a compaction, or by
 * a crash during a flush or a compaction).  A table an older version still
 * lists (a reader's or an iterator's) stays until a later sweep finds it
 * unlisted.  Failures are only logged: a leftover file costs space, not
 * correctness.  (mu held, released while the directory is read) */
void db_sweep_obsolete_files(strata_db *db);

#endif

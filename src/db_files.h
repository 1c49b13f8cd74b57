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
 * durable.  (mu may be held: a few system calls once per memtable.) */
int db_create_log(strata_db *db, uint64_t number, struct wal_writer **out);

/* Remove what no longer belongs to the database: MANIFESTs other than
 * manifest_number, logs below log_number, tables live does not list (left
 * by a crash during a flush), temporary files.  Failures are only logged: a
 * leftover file costs space, not correctness.  The caller makes sure no
 * table is being written that live does not list yet.  (mu not held) */
void db_remove_obsolete_files(strata_db *db, const struct version *live, uint64_t log_number,
                              uint64_t manifest_number);

#endif

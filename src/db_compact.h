/*
 * db_compact.h: compactions as the database runs them: the background
 * thread asks db_compact_needed and runs db_compact_once after any flush;
 * strata_compact_range hands it manual requests.
 */
#ifndef STRATA_DB_COMPACT_H
#define STRATA_DB_COMPACT_H

#include "compaction/picker.h"
#include "src/db_impl.h"

/* The picker's settings from the database's options. */
struct compaction_config db_compaction_config(const strata_db *db);

/* Whether a manual request waits or a level scores 1 or more.  (mu) */
int db_compact_needed(strata_db *db);

/* Run one compaction (a manual request's first, else the neediest level's)
 * and install it.  A failure becomes the background error, except when the
 * database is shutting down.  (mu held, released during I/O) */
void db_compact_once(strata_db *db);

/* The level a flushed table of range r goes to: level 0, or as deep as
 * level 2 when nothing overlaps it there, so that keys written in order
 * skip compactions that would only move them.  Not while a compaction runs:
 * its outputs are not in v yet, and a table pushed down could land where
 * they will (the caller checks db->compacting under mu).  (mu not needed:
 * reads the options and v) */
int db_level_for_flush(strata_db *db, const struct version *v, const struct key_range *r);

#endif

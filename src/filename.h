/*
 * filename.h: the names of the files in a database directory.
 *
 *   NNNNNN.log        a write-ahead log          (number from the file counter)
 *   NNNNNN.sst        a table (issue 4)
 *   MANIFEST-NNNNNN   the log of version edits
 *   CURRENT           the name of the live MANIFEST, one line
 *   LOCK              held with flock while the database is open
 *   LOG, LOG.old      the info log of this and the previous open
 *   <name>.tmp        one of the names above being written before a rename
 *                     (CURRENT.tmp, ...); a leftover after a crash
 *
 * Every numbered file takes its number from one counter (the MANIFEST's next
 * file number), so numbers never repeat within a database.
 */
#ifndef STRATA_FILENAME_H
#define STRATA_FILENAME_H

#include <stddef.h>
#include <stdint.h>

enum file_type {
    FILE_LOG,
    FILE_TABLE,
    FILE_MANIFEST,
    FILE_CURRENT,
    FILE_LOCK,
    FILE_INFO_LOG,
    FILE_TEMP,
};

/* Write "dir/NNNNNN.log" etc. into out (size n); STRATA_OK, or
 * STRATA_INVALID_ARGUMENT when the path does not fit. */
int log_file_name(char *out, size_t n, const char *dir, uint64_t number);
int table_file_name(char *out, size_t n, const char *dir, uint64_t number);
int manifest_file_name(char *out, size_t n, const char *dir, uint64_t number);
/* "dir/name" for the fixed names (CURRENT, LOCK, LOG, LOG.old). */
int db_file_name(char *out, size_t n, const char *dir, const char *name);

/* Classify a directory entry: 1 with *type and *number (0 for unnumbered
 * files) when it is one of strata's files, 0 otherwise. */
int parse_file_name(const char *name, enum file_type *type, uint64_t *number);

#endif

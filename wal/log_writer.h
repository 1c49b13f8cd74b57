/*
 * log_writer.h: appends records to a log file (wal/log_format.h).
 *
 * Each wal_writer_add_record() call builds all fragments of the record in
 * memory and hands them to the file in one write, so a record costs one
 * system call however many fragments it has, and a crash in the middle
 * leaves at most one torn record at the tail.  Not thread-safe: the write
 * path's group-commit leader is its only user at any time.
 */
#ifndef STRATA_LOG_WRITER_H
#define STRATA_LOG_WRITER_H

#include <stdint.h>

#include "src/env.h"
#include "src/slice.h"

struct wal_writer;

/* A writer appending to file, which already holds file_size bytes (0 for a
 * new log).  The writer owns file from now on and closes it in
 * wal_writer_close.  NULL when out of memory (the file is then not taken). */
struct wal_writer *wal_writer_new(struct env_file *file, uint64_t file_size);

/* Append one record (any length, 0 included).  On failure the log may hold
 * part of the record; the caller must stop writing to it. */
int wal_writer_add_record(struct wal_writer *w, struct slice record);

/* fdatasync the file. */
int wal_writer_sync(struct wal_writer *w);

/* Bytes in the file. */
uint64_t wal_writer_size(const struct wal_writer *w);

/* Close the file and free the writer (NULL allowed); reports a failed close. */
int wal_writer_close(struct wal_writer *w);

#endif

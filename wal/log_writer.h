/*
 * log_writer.h: appends records to a log file (wal/log_format.h).
 *
 * Each wal_writer_add_record() call builds all fragments of the record in
 * memory and hands them to the file in one piece, so a crash in the middle
 * leaves at most one torn record at the tail.  Two ways to reach the file:
 * - plain (wal_writer_new): one write(2) per record;
 * - mapped (wal_writer_new_mapped): the file is reserved on disk a chunk at
 *   a time and mapped shared; a record is copied into the mapping, with no
 *   system call except when a new chunk is needed.  While the writer is
 *   open the file ends in zeros up to the chunk's end (what a killed
 *   process leaves behind, and what the reader takes for the end of the
 *   log); wal_writer_close cuts them off.
 * Both promise the same: a record the call returned for survives the
 * process being killed (it is in the page cache), and survives a machine
 * crash once wal_writer_sync returned.  Not thread-safe: the write path's
 * group-commit leader is its only user at any time.
 */
#ifndef STRATA_LOG_WRITER_H
#define STRATA_LOG_WRITER_H

#include <stdint.h>

#include "src/env.h"
#include "src/slice.h"

struct wal_writer;

/* A plain writer appending to file, which already holds file_size bytes (0
 * for a new log).  The writer owns file from now on and closes it in
 * wal_writer_close.  NULL when out of memory (the file is then not taken). */
struct wal_writer *wal_writer_new(struct env_file *file, uint64_t file_size);

/* A mapped writer for the new, empty file (opened ENV_OPEN_READ_WRITE).
 * The first chunk is reserved and mapped here, so that a full disk fails
 * the creation of the log rather than a later write.  On success the
 * writer owns file; on failure *out is NULL, and file is not taken (the
 * caller closes and removes it). */
int wal_writer_new_mapped(struct env_file *file, struct wal_writer **out);

/* Append one record (any length, 0 included).  On failure the log may hold
 * part of the record; the writer refuses every later record. */
int wal_writer_add_record(struct wal_writer *w, struct slice record);

/* Make every record appended so far durable (fdatasync). */
int wal_writer_sync(struct wal_writer *w);

/* Bytes of records in the file (padding included, a mapped writer's zeros
 * past them not). */
uint64_t wal_writer_size(const struct wal_writer *w);

/* Close the file and free the writer (NULL allowed); a mapped writer first
 * unmaps it and cuts it to wal_writer_size().  Reports the first failure;
 * the writer is freed either way. */
int wal_writer_close(struct wal_writer *w);

#endif

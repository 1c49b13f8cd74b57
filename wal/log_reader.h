/*
 * log_reader.h: reads the records of a log file back (wal/log_format.h).
 *
 * Damage is classified by what follows it:
 * - a torn tail: damage (a bad checksum, a fragment running past the end of
 *   the file, zeroed bytes, a missing LAST fragment) after which the file
 *   holds no valid fragment.  This is what a crash in the middle of a write
 *   leaves; the reader drops it silently and reports the end of the log.
 *   wal_reader_dropped_bytes() tells how much was dropped.
 * - corruption: damage followed by at least one valid fragment.  The reader
 *   returns STRATA_CORRUPTION with a message naming the file and the offset
 *   of the damage.  The caller may stop there or keep reading: the next call
 *   resumes at the next valid record after the damage.
 * A zero tail is neither: when the file holds only zeros from where a
 * fragment header or block padding was due to its end (the space a mapped
 * writer reserved and its killed process never wrote), the log ends there,
 * exactly as if the file did; wal_reader_zero_tail_bytes() tells how long
 * the tail was.
 * The reader never reads outside the file or its buffers, whatever the
 * bytes.
 */
#ifndef STRATA_LOG_READER_H
#define STRATA_LOG_READER_H

#include <stdint.h>

#include "src/env.h"
#include "src/slice.h"

struct wal_reader;

/* A reader of file from its start.  It does not own file (the caller closes
 * it after wal_reader_free).  NULL when out of memory. */
struct wal_reader *wal_reader_new(struct env_file *file);

/* Read the next record.  Returns 1 with *record set (valid until the next
 * call or wal_reader_free), 0 at the end of the log, or a negative status
 * code (STRATA_CORRUPTION, STRATA_IO_ERROR, STRATA_NO_MEMORY) with a message
 * naming the file and offset. */
int wal_reader_read(struct wal_reader *r, struct slice *record);

/* File offset where the last record returned starts. */
uint64_t wal_reader_record_offset(const struct wal_reader *r);

/* Bytes dropped as a torn tail (0 when the log ended cleanly).  They end
 * where the zero tail starts, or at the end of the file. */
uint64_t wal_reader_dropped_bytes(const struct wal_reader *r);

/* Bytes of zeros after the end of the log (0 unless it ended in a zero
 * tail).  Not data: nothing was lost in them. */
uint64_t wal_reader_zero_tail_bytes(const struct wal_reader *r);

void wal_reader_free(struct wal_reader *r);

#endif

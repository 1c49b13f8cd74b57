/*
 * log_format.h: the record log format shared by the write-ahead log and the
 * MANIFEST (docs/wal_format.md describes every byte).
 *
 * A log is a sequence of 32 KiB blocks.  A record is stored as one or more
 * fragments, each with a 7-byte header:
 *     checksum: fixed32 | length: fixed16 | type: 1 byte | payload
 * checksum is checksum32(payload, length, seed = type) (src/hash.h), so it
 * covers the type and the payload.  A fragment never crosses a block
 * boundary; when fewer than 7 bytes are left in a block they are zero
 * padding.  Types: FULL holds a whole record; FIRST, MIDDLE and LAST hold
 * its pieces in order.  Type 0 never appears in a valid fragment: zeroed
 * space is either the zero tail that ends a log (space a mapped writer
 * reserved and never wrote, or the file grew and the data never reached
 * the disk) or, when valid fragments follow it, damage.
 */
#ifndef STRATA_LOG_FORMAT_H
#define STRATA_LOG_FORMAT_H

enum {
    LOG_BLOCK_SIZE = 32768,
    LOG_HEADER_SIZE = 7,
};

enum log_record_type {
    LOG_ZERO = 0,
    LOG_FULL = 1,
    LOG_FIRST = 2,
    LOG_MIDDLE = 3,
    LOG_LAST = 4,
};

#endif

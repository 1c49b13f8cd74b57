/*
 * log_writer.c: appends records to a log file (see log_writer.h and
 * docs/wal_format.md).
 *
 * Invariants:
 * - block_offset is the writer's position inside the current 32 KiB block,
 *   always in [0, LOG_BLOCK_SIZE], and equals size % LOG_BLOCK_SIZE except
 *   right after a fragment that ended exactly on a block boundary (then it
 *   is LOG_BLOCK_SIZE until the next record starts a new block).  Starting
 *   from file_size % LOG_BLOCK_SIZE lets a new writer continue the block
 *   structure of an existing log.
 * - A record is built in full in the scratch buffer (padding, headers,
 *   payloads) and reaches the file in one env_append, so a crash tears at
 *   most the last record.  size and block_offset change only after that
 *   write succeeds.
 * - After a failed write the file may end in the middle of a record, so the
 *   writer refuses further records instead of appending after the tear.
 */
#include "wal/log_writer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/buf.h"
#include "src/coding.h"
#include "src/hash.h"
#include "src/status.h"
#include "wal/log_format.h"

struct wal_writer {
    struct env_file *file;
    uint64_t size;
    size_t block_offset;
    struct buf scratch; /* reused by every record: no allocation in steady state */
    int failed;
};

/* A buffer grown past this by one huge record is released after it, so that
 * a single large batch does not pin its size in memory for the log's life. */
enum { WAL_WRITER_KEEP_SCRATCH = 1 << 20 };

/* The largest payload one fragment can carry. */
enum { WAL_WRITER_MAX_PAYLOAD = LOG_BLOCK_SIZE - LOG_HEADER_SIZE };

struct wal_writer *wal_writer_new(struct env_file *file, uint64_t file_size)
{
    struct wal_writer *w = calloc(1, sizeof *w);
    if (!w) {
        status_set(STRATA_NO_MEMORY, "out of memory creating a log writer for %s",
                   env_file_path(file));
        return NULL;
    }
    w->file = file;
    w->size = file_size;
    w->block_offset = (size_t)(file_size % LOG_BLOCK_SIZE);
    return w;
}

/* An upper bound on the bytes a record of n bytes takes in the file: at most
 * 6 bytes of padding (only before the first fragment: later fragments start
 * on a block boundary) and one header per block touched, plus one for a
 * first fragment that may carry no payload at all. */
static size_t wal_writer_bound(size_t n)
{
    return (LOG_HEADER_SIZE - 1) + n + LOG_HEADER_SIZE * (n / WAL_WRITER_MAX_PAYLOAD + 2);
}

static enum log_record_type wal_writer_type(int first, int last)
{
    if (first)
        return last ? LOG_FULL : LOG_FIRST;
    return last ? LOG_LAST : LOG_MIDDLE;
}

/* Append one fragment to the scratch buffer, whose room is reserved. */
static void wal_writer_put_fragment(struct wal_writer *w, enum log_record_type type,
                                    const char *payload, size_t n)
{
    char *h = w->scratch.data + w->scratch.len;
    encode_fixed32(h, checksum32(payload, n, (uint64_t)type));
    encode_fixed16(h + 4, (uint16_t)n);
    h[6] = (char)type;
    if (n)
        memcpy(h + LOG_HEADER_SIZE, payload, n);
    w->scratch.len += LOG_HEADER_SIZE + n;
}

/* Lay out the record's fragments in the scratch buffer starting at block
 * offset *block_offset; leave in *block_offset the offset after them. */
static void wal_writer_build(struct wal_writer *w, struct slice record, size_t *block_offset)
{
    const char *p = record.data;
    size_t left = record.len;
    size_t off = *block_offset;
    int first = 1;
    do {
        size_t room = LOG_BLOCK_SIZE - off;
        if (room < LOG_HEADER_SIZE) {
            /* Too small for a header: the reader knows to skip it. */
            memset(w->scratch.data + w->scratch.len, 0, room);
            w->scratch.len += room;
            off = 0;
            room = LOG_BLOCK_SIZE;
        }
        size_t n = room - LOG_HEADER_SIZE;
        if (n > left)
            n = left;
        wal_writer_put_fragment(w, wal_writer_type(first, n == left), p, n);
        p += n;
        left -= n;
        off += LOG_HEADER_SIZE + n;
        first = 0;
    } while (left > 0);
    *block_offset = off;
}

int wal_writer_add_record(struct wal_writer *w, struct slice record)
{
    const char *path = env_file_path(w->file);
    if (w->failed)
        return status_set(STRATA_IO_ERROR, "log %s: no more records after a failed write", path);
    if (record.len > SIZE_MAX / 4)
        return status_set(STRATA_INVALID_ARGUMENT, "log %s: record of %zu bytes is too large",
                          path, record.len);
    buf_clear(&w->scratch);
    int rc = buf_reserve(&w->scratch, wal_writer_bound(record.len));
    if (rc != STRATA_OK)
        return rc;
    size_t block_offset = w->block_offset;
    wal_writer_build(w, record, &block_offset);
    rc = env_append(w->file, w->scratch.data, w->scratch.len);
    if (rc != STRATA_OK) {
        w->failed = 1;
        return rc;
    }
    w->size += w->scratch.len;
    w->block_offset = block_offset;
    if (w->scratch.cap > WAL_WRITER_KEEP_SCRATCH)
        buf_free(&w->scratch);
    return STRATA_OK;
}

int wal_writer_sync(struct wal_writer *w)
{
    return env_sync(w->file);
}

uint64_t wal_writer_size(const struct wal_writer *w)
{
    return w->size;
}

int wal_writer_close(struct wal_writer *w)
{
    if (!w)
        return STRATA_OK;
    int rc = env_close(w->file);
    buf_free(&w->scratch);
    free(w);
    return rc;
}

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
 *   payloads) and reaches the file in one env_append or one env_map_write,
 *   so a crash tears at most the last record.  size and block_offset change
 *   only after that write succeeds.
 * - After a failed write the file may end in the middle of a record, so the
 *   writer refuses further records instead of appending after the tear.
 * - Mapped writers, until a write fails (failed set; the writer is then
 *   only closed): the file is map_end bytes long, map_end a multiple of
 *   WAL_WRITER_CHUNK with size <= map_end; [size, map_end) is reserved on
 *   disk (env_allocate) and reads as zeros; map covers [s, map_end) for
 *   some s <= size.  Close unmaps and cuts the file to size in any state.
 *   A record that does not fit in [size, map_end) first grows the file to
 *   the chunk boundary after its end and maps that range whole, so a
 *   record is always one copy into one mapping, whatever its size.
 * - A process killed during that copy leaves a prefix of its 4 KiB pieces
 *   (env_map_write), and no piece spans two blocks, so a later fragment of
 *   the record never shows up without the earlier ones: the tear reads as
 *   a torn tail, never as corruption.
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
    int mapped;
    struct env_map *map; /* mapped writers: the window records are copied to */
    uint64_t map_end;    /* mapped writers: the file's reserved length */
};

/* A buffer grown past this by one huge record is released after it, so that
 * a single large batch does not pin its size in memory for the log's life. */
enum { WAL_WRITER_KEEP_SCRATCH = 1 << 20 };

/* The largest payload one fragment can carry. */
enum { WAL_WRITER_MAX_PAYLOAD = LOG_BLOCK_SIZE - LOG_HEADER_SIZE };

/* A mapped writer reserves and maps the file this much at a time.  A grow
 * is three system calls (fallocate, munmap, mmap: tens of microseconds, a
 * few nanoseconds per record of 150 bytes at 1 MiB) plus faulting the
 * chunk's pages in (env_map), which costs the same per page whatever the
 * chunk and is most of the grow's time (about 1 ms per MiB on a 2-core VM,
 * against 15-20 us per page when each page faults on its own).  Bigger
 * chunks would save little more, and add to the one-time stall of a grow,
 * to what a killed process leaves behind (at most one chunk of zeros per
 * log) and to the dirty pages a log holds ahead of its records.  A
 * multiple of the block size and of any page size. */
enum { WAL_WRITER_CHUNK = 1 << 20 };

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
    /* An empty record may be {NULL, 0} (an empty struct buf): C leaves
     * even NULL + 0 undefined. */
    const char *p = record.len ? record.data : "";
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

/* Grow a mapped writer's file so that n more bytes fit: reserve it up to
 * the chunk boundary past size + n (past size when n is 0) and map
 * [size, that boundary) in place of the old window. */
static int wal_writer_grow(struct wal_writer *w, size_t n)
{
    uint64_t need = w->size + (n ? n : 1);
    uint64_t end = (need + WAL_WRITER_CHUNK - 1) / WAL_WRITER_CHUNK * WAL_WRITER_CHUNK;
    int rc = env_allocate(w->file, w->size, end - w->size);
    if (rc != STRATA_OK)
        return rc;
    rc = env_unmap(w->map);
    w->map = NULL;
    if (rc == STRATA_OK)
        rc = env_map(w->file, w->size, (size_t)(end - w->size), &w->map);
    if (rc == STRATA_OK)
        w->map_end = end;
    return rc;
}

int wal_writer_new_mapped(struct env_file *file, struct wal_writer **out)
{
    *out = NULL;
    struct wal_writer *w = wal_writer_new(file, 0);
    if (!w)
        return STRATA_NO_MEMORY;
    w->mapped = 1;
    int rc = wal_writer_grow(w, 0);
    if (rc != STRATA_OK) {
        free(w); /* a failed grow leaves nothing mapped */
        return rc;
    }
    *out = w;
    return STRATA_OK;
}

/* Hand n bytes of a built record to the file, after the size bytes
 * already there. */
static int wal_writer_emit(struct wal_writer *w, const char *p, size_t n)
{
    if (!w->mapped)
        return env_append(w->file, p, n);
    if (n > w->map_end - w->size) {
        int rc = wal_writer_grow(w, n);
        if (rc != STRATA_OK)
            return rc;
    }
    return env_map_write(w->map, w->size, p, n);
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
    rc = wal_writer_emit(w, w->scratch.data, w->scratch.len);
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

/* env_sync is fdatasync, which on Linux also writes back the pages stored
 * to through the mapping (see env.h), with the metadata needed to read
 * them back: the size env_allocate set and the blocks' change from
 * reserved to written (ext4 journals both for fdatasync, as fallocate'd
 * files need).  So everything up to size is durable after it, as after a
 * write(2) and fdatasync. */
int wal_writer_sync(struct wal_writer *w)
{
    return env_sync(w->file);
}

uint64_t wal_writer_size(const struct wal_writer *w)
{
    return w->size;
}

/* A mapped writer's file is cut back to the records' end: a log closed
 * cleanly has no zero tail. */
int wal_writer_close(struct wal_writer *w)
{
    if (!w)
        return STRATA_OK;
    int rc = STRATA_OK;
    if (w->mapped) {
        rc = env_unmap(w->map);
        int trc = env_truncate(w->file, w->size);
        if (rc == STRATA_OK)
            rc = trc;
    }
    int crc = env_close(w->file);
    if (rc == STRATA_OK)
        rc = crc;
    buf_free(&w->scratch);
    free(w);
    return rc;
}

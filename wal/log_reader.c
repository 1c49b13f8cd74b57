/*
 * log_reader.c: reads the records of a log file back (see log_reader.h and
 * docs/wal_format.md).
 *
 * The file is read one 32 KiB block at a time into a block buffer; a FULL
 * fragment is handed out as a slice of that buffer, and the pieces of a
 * multi-fragment record are gathered in a struct buf.
 *
 * Invariants:
 * - pos <= block_len <= LOG_BLOCK_SIZE: every byte examined lies in
 *   block[0, block_len), and every length read from the file is checked
 *   against what is left of the block before it is used, so no content of
 *   the file can make the reader leave its buffers.
 * - block_start is the file offset of block[0] and a multiple of
 *   LOG_BLOCK_SIZE; next_block is the offset of the block to load next.
 * - in_record is set between a FIRST fragment and its LAST; record_start is
 *   then the file offset of that FIRST.
 * - Damage is classified by scanning forward from it (wal_reader_scan),
 *   trying every byte position: finding any valid fragment makes it
 *   corruption, reaching the end of the file makes it a torn tail.  Every
 *   scan starts strictly after the start of the damage, so a damaged file
 *   cannot make the reader loop.
 * - A zero tail is not damage: when the bytes where a fragment header (or
 *   block padding) was due are zeros, and so is every byte after them to the
 *   end of the file, the log ends there, exactly as if the file did.  That
 *   is what a mapped writer (log_writer.h) leaves when its process dies: the
 *   rest of the space it reserved.  After real damage, zeros that run to the
 *   end of the file are not counted as dropped either (they are the zero
 *   tail).  nonzero_end, the offset after the last non-zero byte the damage
 *   handling has seen, tells the two apart; the scan keeps it on its way,
 *   since it reads every later byte anyway, and skips all-zero stretches
 *   without trying each position: they hold no fragment (type 0 is
 *   invalid).
 * - resync is set after reporting corruption: valid MIDDLE and LAST
 *   fragments are skipped silently until a record starts, since they belong
 *   to the record the damage already cost.
 * - After a torn tail (done) every read reports the end; after an I/O error
 *   (error) every read reports that error, since the block buffer may no
 *   longer match the position.
 */
#include "wal/log_reader.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/buf.h"
#include "src/coding.h"
#include "src/hash.h"
#include "src/status.h"
#include "wal/log_format.h"

struct wal_reader {
    struct env_file *file;
    char *block;
    size_t block_len;
    size_t pos;
    uint64_t block_start;
    uint64_t next_block;
    int last_block; /* no block follows this one: a short read was seen */
    struct buf record;
    int in_record;
    uint64_t record_start;
    uint64_t record_offset;
    uint64_t frag_end; /* file offset after the last valid fragment seen */
    uint64_t dropped;
    uint64_t zero_tail;
    uint64_t nonzero_end;
    int resync;
    int done;
    int error;
};

/* A fragment that passed every check, as found in the block buffer. */
struct wal_frag {
    int type;
    const char *data;
    size_t len;
    size_t pos; /* of its header within the block */
};

/* Where wal_reader_scan starts looking after damage. */
enum { WAL_READER_NEXT_BLOCK = -1 };

struct wal_damage {
    uint64_t offset;     /* file offset of the first damaged byte */
    long resume;         /* position in the block to scan from, or WAL_READER_NEXT_BLOCK */
    char why[160];
};

/* What wal_reader_next and wal_reader_assemble report besides errors. */
enum { WAL_END = 0, WAL_GOT = 1, WAL_MORE = 2, WAL_DAMAGED = 3 };

static const char *const wal_reader_type_names[] = { "zero", "FULL", "FIRST", "MIDDLE", "LAST" };

struct wal_reader *wal_reader_new(struct env_file *file)
{
    struct wal_reader *r = calloc(1, sizeof *r);
    char *block = malloc(LOG_BLOCK_SIZE);
    if (!r || !block) {
        free(r);
        free(block);
        status_set(STRATA_NO_MEMORY, "out of memory creating a log reader for %s",
                   env_file_path(file));
        return NULL;
    }
    r->file = file;
    r->block = block;
    /* Pose as an exhausted full block before the file, so that the first
     * read loads block 0 through the ordinary path. */
    r->block_len = LOG_BLOCK_SIZE;
    r->pos = LOG_BLOCK_SIZE;
    return r;
}

void wal_reader_free(struct wal_reader *r)
{
    if (!r)
        return;
    buf_free(&r->record);
    free(r->block);
    free(r);
}

uint64_t wal_reader_record_offset(const struct wal_reader *r)
{
    return r->record_offset;
}

uint64_t wal_reader_dropped_bytes(const struct wal_reader *r)
{
    return r->dropped;
}

uint64_t wal_reader_zero_tail_bytes(const struct wal_reader *r)
{
    return r->zero_tail;
}

/* The file's size once the last block has been loaded. */
static uint64_t wal_reader_file_end(const struct wal_reader *r)
{
    return r->block_start + r->block_len;
}

/* Load the next block.  1 when loaded, 0 at the end of the file, or the
 * status of a failed read. */
static int wal_reader_load(struct wal_reader *r)
{
    if (r->last_block)
        return 0;
    size_t got;
    int rc = env_read_at(r->file, r->next_block, r->block, LOG_BLOCK_SIZE, &got);
    if (rc != STRATA_OK) {
        r->error = rc;
        return rc;
    }
    r->block_start = r->next_block;
    r->next_block += LOG_BLOCK_SIZE;
    r->block_len = got;
    r->pos = 0;
    r->last_block = got < LOG_BLOCK_SIZE;
    return got > 0;
}

/* Check the fragment whose header starts at pos (pos + LOG_HEADER_SIZE <=
 * block_len).  Returns 1 and fills *f when it is valid; otherwise 0, with
 * *next the position just after it when its length fits in the block (else
 * WAL_READER_NEXT_BLOCK) and the reason in why (when not NULL). */
static int wal_reader_check(const struct wal_reader *r, size_t pos, struct wal_frag *f,
                            long *next, char *why, size_t why_size)
{
    const char *h = r->block + pos;
    uint32_t sum = decode_fixed32(h);
    size_t len = decode_fixed16(h + 4);
    int type = (unsigned char)h[6];
    size_t room = r->block_len - pos - LOG_HEADER_SIZE;
    *next = WAL_READER_NEXT_BLOCK;
    if (len > room) {
        if (why && pos + LOG_HEADER_SIZE + len > LOG_BLOCK_SIZE)
            snprintf(why, why_size, "bad length %zu (the fragment would cross the block end)", len);
        else if (why)
            snprintf(why, why_size, "fragment of %zu bytes runs past the end of the file", len);
        return 0;
    }
    *next = (long)(pos + LOG_HEADER_SIZE + len);
    if (type == LOG_ZERO && len == 0 && sum == 0) {
        if (why)
            snprintf(why, why_size, "zeroed bytes");
        return 0;
    }
    if (type < LOG_FULL || type > LOG_LAST) {
        if (why)
            snprintf(why, why_size, "unknown fragment type %d", type);
        return 0;
    }
    if (checksum32(h + LOG_HEADER_SIZE, len, (uint64_t)type) != sum) {
        if (why)
            snprintf(why, why_size, "checksum mismatch");
        return 0;
    }
    f->type = type;
    f->data = h + LOG_HEADER_SIZE;
    f->len = len;
    f->pos = pos;
    return 1;
}

/* Whether p[0, n) is all zero: the first byte is, and each byte equals the
 * next (memcmp runs vectorized, which matters over a megabyte of tail). */
static int wal_reader_all_zero(const char *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* The next fragment that passes its own checks (its place in the record
 * sequence is wal_reader_assemble's business).  WAL_GOT, WAL_END,
 * WAL_DAMAGED with *d filled, or a failed read's status. */
static int wal_reader_next(struct wal_reader *r, struct wal_frag *f, struct wal_damage *d)
{
    for (;;) {
        size_t avail = r->block_len - r->pos;
        if (avail >= LOG_HEADER_SIZE)
            break;
        d->offset = r->block_start + r->pos;
        d->resume = WAL_READER_NEXT_BLOCK;
        if (r->block_len < LOG_BLOCK_SIZE) {
            if (avail == 0)
                return WAL_END;
            snprintf(d->why, sizeof d->why, "file ends inside a fragment header");
            return WAL_DAMAGED;
        }
        /* The tail of a full block: the writer leaves zeros there. */
        if (!wal_reader_all_zero(r->block + r->pos, avail)) {
            snprintf(d->why, sizeof d->why, "non-zero padding at the end of a block");
            return WAL_DAMAGED;
        }
        int rc = wal_reader_load(r);
        if (rc < 0)
            return rc;
        if (rc == 0 && avail == 0)
            return WAL_END;
        if (rc == 0) {
            /* Padding is written with the fragment after it, so padding
             * at the very end is what is left of a torn record. */
            snprintf(d->why, sizeof d->why, "file ends in block padding");
            return WAL_DAMAGED;
        }
    }
    long next;
    if (!wal_reader_check(r, r->pos, f, &next, d->why, sizeof d->why)) {
        d->offset = r->block_start + r->pos;
        d->resume = (long)r->pos + 1; /* the scan tries every later byte */
        return WAL_DAMAGED;
    }
    r->pos = f->pos + LOG_HEADER_SIZE + f->len;
    r->frag_end = r->block_start + r->pos;
    return WAL_GOT;
}

/* Raise nonzero_end past the last non-zero byte of block[from, block_len);
 * whether there is one. */
static int wal_reader_see_nonzero(struct wal_reader *r, size_t from)
{
    if (from >= r->block_len || wal_reader_all_zero(r->block + from, r->block_len - from))
        return 0;
    size_t end = r->block_len;
    while (r->block[end - 1] == 0)
        end--;
    if (r->block_start + end > r->nonzero_end)
        r->nonzero_end = r->block_start + end;
    return 1;
}

/* Look for a valid fragment from position pos of the current block on,
 * trying every byte position, in this block and then in every later one.
 * Following the chain of fragment lengths instead would be cheaper, but the
 * damage may be in a length: the chain then skips over the valid fragments
 * behind it, and damage in the middle of a log would pass for a torn tail.
 * Most positions fail on the length or type before any checksum is
 * computed, so a scan to the end of a damaged log costs milliseconds; the
 * rest of a block that is all zeros cannot hold a fragment and is skipped.
 * Keeps nonzero_end up to date on the way.  1 with r->pos on the fragment
 * found, 0 when the file holds none, or a failed read's status. */
static int wal_reader_scan(struct wal_reader *r, long pos)
{
    if (pos == WAL_READER_NEXT_BLOCK)
        pos = (long)r->block_len;
    for (;;) {
        size_t from = wal_reader_see_nonzero(r, (size_t)pos) ? (size_t)pos : r->block_len;
        for (size_t p = from; p + LOG_HEADER_SIZE <= r->block_len; p++) {
            struct wal_frag f;
            long next;
            if (wal_reader_check(r, p, &f, &next, NULL, 0)) {
                r->pos = f.pos;
                r->frag_end = r->block_start + f.pos;
                return 1;
            }
        }
        int rc = wal_reader_load(r);
        if (rc <= 0)
            return rc;
        pos = 0;
    }
}

static void wal_reader_drop_record(struct wal_reader *r)
{
    r->in_record = 0;
    buf_clear(&r->record);
}

/* The file holds zeros from offset tail on, where a fragment or padding
 * was due: the log ends there, as if the file did.  A record in progress
 * is then a torn tail, as at the end of a file (wal_reader_end). */
static void wal_reader_zero_tail(struct wal_reader *r, uint64_t tail)
{
    if (r->in_record)
        r->dropped = tail - r->record_start;
    r->zero_tail = wal_reader_file_end(r) - tail;
    wal_reader_drop_record(r);
    r->done = 1;
}

/* Decide what the damage d is: the end of the log when it is a zero tail;
 * else corruption when a valid fragment follows it (reading then resumes at
 * the next record that starts after it), a torn tail otherwise.  A record
 * in progress is lost either way.  A torn tail counts as dropped everything
 * after the last valid fragment kept up to the zeros that end the file, if
 * any: that takes in the record in progress, and padding before the
 * damage, which was written with the fragment that followed it. */
static int wal_reader_damage(struct wal_reader *r, const struct wal_damage *d)
{
    /* Between the last fragment and the damage lies only padding, checked
     * to be zeros, so a zero tail would start at the first of the two. */
    uint64_t tail = d->offset < r->frag_end ? d->offset : r->frag_end;
    r->nonzero_end = tail;
    if (d->offset >= r->block_start)
        wal_reader_see_nonzero(r, (size_t)(d->offset - r->block_start));
    int rc = wal_reader_scan(r, d->resume);
    if (rc < 0)
        return rc;
    if (rc == 0 && r->nonzero_end == tail) {
        wal_reader_zero_tail(r, tail);
        return 0;
    }
    uint64_t lost_from = r->in_record ? r->record_start : tail;
    wal_reader_drop_record(r);
    if (rc == 0) {
        r->done = 1;
        r->dropped = r->nonzero_end - lost_from;
        r->zero_tail = wal_reader_file_end(r) - r->nonzero_end;
        return 0;
    }
    r->resync = 1;
    return status_set(STRATA_CORRUPTION, "corruption in %s at offset %llu: %s",
                      env_file_path(r->file), (unsigned long long)d->offset, d->why);
}

/* Reached the end of the file: a record still missing its LAST fragment is
 * what a crash in the middle of its write leaves, so it is a torn tail. */
static int wal_reader_end(struct wal_reader *r)
{
    if (r->in_record) {
        r->dropped = wal_reader_file_end(r) - r->record_start;
        wal_reader_drop_record(r);
    }
    r->done = 1;
    return 0;
}

static void wal_reader_out_of_order(const struct wal_reader *r, const struct wal_frag *f,
                                    struct wal_damage *d)
{
    uint64_t at = r->block_start + f->pos;
    const char *name = wal_reader_type_names[f->type];
    if (r->in_record) {
        /* The dropped record is the damage; the fragment that interrupted
         * it is valid and starts the next record. */
        d->offset = r->record_start;
        d->resume = (long)f->pos;
        snprintf(d->why, sizeof d->why,
                 "fragment out of order (the record lacks its LAST fragment: a %s fragment "
                 "follows at offset %llu)",
                 name, (unsigned long long)at);
    } else {
        d->offset = at;
        d->resume = (long)r->pos;
        snprintf(d->why, sizeof d->why, "fragment out of order (a %s fragment without a FIRST)",
                 name);
    }
}

static int wal_reader_append(struct wal_reader *r, const struct wal_frag *f)
{
    int rc = buf_append(&r->record, f->data, f->len);
    if (rc != STRATA_OK) {
        /* Skip the rest of this record rather than return it short. */
        wal_reader_drop_record(r);
        r->resync = 1;
    }
    return rc;
}

/* Fit fragment f into the record sequence.  WAL_GOT with *record set,
 * WAL_MORE when the record needs more fragments (or f was skipped),
 * WAL_DAMAGED with *d filled, or a status. */
static int wal_reader_assemble(struct wal_reader *r, const struct wal_frag *f,
                               struct slice *record, struct wal_damage *d)
{
    int starts = f->type == LOG_FULL || f->type == LOG_FIRST;
    if (r->resync && !starts)
        return WAL_MORE;
    r->resync = 0;
    if (starts == r->in_record) {
        wal_reader_out_of_order(r, f, d);
        return WAL_DAMAGED;
    }
    if (f->type == LOG_FULL) {
        *record = slice_make(f->data, f->len);
        r->record_offset = r->block_start + f->pos;
        return WAL_GOT;
    }
    if (f->type == LOG_FIRST) {
        r->in_record = 1;
        r->record_start = r->block_start + f->pos;
        buf_clear(&r->record);
    }
    int rc = wal_reader_append(r, f);
    if (rc != STRATA_OK)
        return rc;
    if (f->type != LOG_LAST)
        return WAL_MORE;
    r->in_record = 0;
    r->record_offset = r->record_start;
    *record = buf_slice(&r->record);
    return WAL_GOT;
}

int wal_reader_read(struct wal_reader *r, struct slice *record)
{
    if (r->error)
        return status_set(r->error, "log %s: reading stopped at an earlier error",
                          env_file_path(r->file));
    if (r->done)
        return 0;
    for (;;) {
        struct wal_frag f;
        struct wal_damage d;
        int rc = wal_reader_next(r, &f, &d);
        if (rc == WAL_GOT)
            rc = wal_reader_assemble(r, &f, record, &d);
        switch (rc) {
        case WAL_MORE:
            continue;
        case WAL_GOT:
            return 1;
        case WAL_END:
            return wal_reader_end(r);
        case WAL_DAMAGED:
            return wal_reader_damage(r, &d);
        default:
            return rc;
        }
    }
}

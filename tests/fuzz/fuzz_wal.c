/*
 * fuzz_wal.c: libFuzzer target for the log reader (wal/log_reader.c), the
 * reader of both the write-ahead logs and the MANIFEST, through a scratch
 * file, as recovery reads logs.
 *
 * Input: a flag byte, then
 *   flag bit 0 clear (read mode): a log image.  Bits: 1 recompute the
 *     fragment checksums first (fuzz_fix_log_checksums), so that mutations
 *     reach the fragment assembly and the damage classification behind
 *     them; 2 paranoid: stop at the first error, and decode each record as
 *     a write batch the way recovery does (check all, then apply);
 *     otherwise read on past every corruption to the end, as the reader
 *     allows.
 *   flag bit 0 set (write mode): records, each a 16-bit length and a
 *     length-prefixed pattern repeated to that length (so that small inputs
 *     make records that span blocks), written with the log writer, then
 *     read back.  Bits: 1 the mapped writer; 2 (mapped) read while the
 *     writer is still open, so that the file ends in the zero tail of its
 *     reserved chunk, as a killed process leaves it; 3 cut the file at an
 *     offset taken from the input first, as a crash may.
 *
 * What it checks besides "no crash, no sanitizer report, no leak, no hang":
 *   - read mode: errors are STRATA_CORRUPTION naming the file; reading
 *     past errors ends within a bound (each call moves forwards), records
 *     start at strictly increasing offsets and fit in the file, the bytes
 *     dropped and the zero tail fit in the file, the end is sticky;
 *   - write mode: the log reads back exactly the records written, with
 *     nothing dropped and no error (with the zero tail counted as such);
 *     cut short, it reads back exactly the records that end before the
 *     cut, or, if a record's payload happens to hold a well-formed fragment
 *     that the damage scan finds, a prefix of them before the error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/buf.h"
#include "src/status.h"
#include "src/write_batch.h"
#include "wal/log_reader.h"
#include "wal/log_writer.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    F_WRITE = 1,
    F_FIX = 2, F_PARANOID = 4,                 /* read mode */
    F_MAPPED = 2, F_OPEN_TAIL = 4, F_CUT = 8,  /* write mode */
    MAX_RECORDS = 256,
};

static const char *path;

static void check_error(int rc, const char *what)
{
    FUZZ_CHECK(rc == STRATA_CORRUPTION, "%s: status %d", what, rc);
    FUZZ_CHECK(strstr(strata_last_error(), path) != NULL, "%s: message does not name %s", what,
               path);
}

/* ---- read mode ---------------------------------------------------------------------- */

static int count_update(void *ctx, uint64_t sequence, enum value_type type, struct slice key,
                        struct slice value)
{
    (void)sequence, (void)type, (void)key, (void)value;
    (*(uint32_t *)ctx)++;
    return STRATA_OK;
}

/* What recovery does with a record: check the whole batch, then apply it. */
static void replay_record(struct slice record)
{
    uint32_t n = 0;
    const struct batch_handler h = { &n, count_update };
    int rc = batch_iterate(record, NULL, path);
    if (rc != STRATA_OK) {
        check_error(rc, "batch");
        return;
    }
    FUZZ_CHECK(batch_iterate(record, &h, path) == STRATA_OK, "a checked batch fails");
    FUZZ_CHECK(n == decode_fixed32(record.data + 8), "batch count %u, updates %u",
               decode_fixed32(record.data + 8), n);
}

static void fuzz_read(uint8_t flags, struct slice image)
{
    char *copy = malloc(image.len ? image.len : 1);
    FUZZ_CHECK(copy != NULL, "out of memory");
    memcpy(copy, image.data, image.len);
    if (flags & F_FIX)
        fuzz_fix_log_checksums(copy, image.len);
    path = fuzz_write_scratch(copy, image.len);
    free(copy);

    struct env_file *f = fuzz_open_scratch();
    struct wal_reader *r = wal_reader_new(f);
    FUZZ_CHECK(r != NULL, "wal_reader_new");
    int paranoid = (flags & F_PARANOID) != 0;
    uint64_t last_offset = 0;
    size_t records = 0;
    /* Every call either returns a record (7 bytes of header at least) or
     * moves past damage (a byte at least), so the calls are bounded. */
    for (size_t calls = 0;; calls++) {
        FUZZ_CHECK(calls <= image.len + 2, "%zu calls on a %zu-byte log", calls, image.len);
        struct slice record;
        int rc = wal_reader_read(r, &record);
        if (rc == 0)
            break;
        if (rc < 0) {
            check_error(rc, "read");
            if (paranoid)
                break;
            continue;
        }
        FUZZ_CHECK(rc == 1, "read returns %d", rc);
        uint64_t at = wal_reader_record_offset(r);
        FUZZ_CHECK(records == 0 || at > last_offset, "record at %llu after one at %llu",
                   (unsigned long long)at, (unsigned long long)last_offset);
        FUZZ_CHECK(at + record.len <= image.len, "record of %zu bytes at %llu in %zu", record.len,
                   (unsigned long long)at, image.len);
        last_offset = at;
        records++;
        if (paranoid)
            replay_record(record);
    }
    FUZZ_CHECK(wal_reader_dropped_bytes(r) + wal_reader_zero_tail_bytes(r) <= image.len,
               "dropped %llu and zero tail %llu of %zu bytes",
               (unsigned long long)wal_reader_dropped_bytes(r),
               (unsigned long long)wal_reader_zero_tail_bytes(r), image.len);
    if (!paranoid) {
        struct slice record;
        FUZZ_CHECK(wal_reader_read(r, &record) == 0, "the end is not sticky");
    }
    wal_reader_free(r);
    env_close(f);
}

/* ---- write mode ---------------------------------------------------------------------- */

struct written {
    struct buf data[MAX_RECORDS];
    uint64_t end[MAX_RECORDS]; /* the log's size once the record was written */
    size_t n;
};

static void make_records(struct fuzz_input *in, struct written *w)
{
    while (in->left > 0 && w->n < MAX_RECORDS) {
        size_t len = fuzz_byte(in);
        len |= (size_t)fuzz_byte(in) << 8;
        struct slice pattern = fuzz_lp(in);
        struct buf *b = &w->data[w->n++];
        FUZZ_CHECK(buf_reserve(b, len) == STRATA_OK, "out of memory");
        /* The pattern, then the bytes so far again, doubling: a byte loop
         * would pay libFuzzer's comparison tracing on every byte. */
        size_t have = pattern.len < len ? pattern.len : len;
        if (len == 0)
            continue; /* b->data may be NULL */
        if (pattern.len == 0)
            memset(b->data, 'p', have = len);
        else
            memcpy(b->data, pattern.data, have);
        while (have < len) {
            size_t n = have < len - have ? have : len - have;
            memcpy(b->data + have, b->data, n);
            have += n;
        }
        b->len = len;
    }
}

/* Read the log back; the records must be w's first `want` ones, or with
 * an error (lenient), any prefix of them before it. */
static void read_back(const struct written *w, size_t want, int lenient, uint64_t zero_tail)
{
    struct env_file *f = fuzz_open_scratch();
    struct wal_reader *r = wal_reader_new(f);
    FUZZ_CHECK(r != NULL, "wal_reader_new");
    size_t i = 0;
    struct slice record;
    int rc;
    while ((rc = wal_reader_read(r, &record)) == 1) {
        FUZZ_CHECK(i < want, "record %zu read back, %zu expected", i, want);
        FUZZ_CHECK(slice_equal(record, buf_slice(&w->data[i])), "record %zu differs", i);
        i++;
    }
    if (rc < 0 && lenient) {
        check_error(rc, "read of a cut log");
    } else {
        FUZZ_CHECK(rc == 0, "read back fails: %d", rc);
        FUZZ_CHECK(i == want, "%zu records read back, %zu written", i, want);
        if (zero_tail != UINT64_MAX)
            FUZZ_CHECK(wal_reader_dropped_bytes(r) == 0 &&
                           wal_reader_zero_tail_bytes(r) == zero_tail,
                       "dropped %llu, zero tail %llu (want %llu)",
                       (unsigned long long)wal_reader_dropped_bytes(r),
                       (unsigned long long)wal_reader_zero_tail_bytes(r),
                       (unsigned long long)zero_tail);
    }
    wal_reader_free(r);
    env_close(f);
}

static void fuzz_write(uint8_t flags, struct fuzz_input *in)
{
    uint64_t cut = fuzz_byte(in);
    cut |= (uint64_t)fuzz_byte(in) << 8;
    cut |= (uint64_t)fuzz_byte(in) << 16;
    static struct written w;
    w.n = 0;
    make_records(in, &w);

    int mapped = (flags & F_MAPPED) != 0;
    struct env_file *f = fuzz_create_scratch(mapped);
    path = fuzz_scratch_path();
    struct wal_writer *lw;
    if (mapped)
        FUZZ_CHECK(wal_writer_new_mapped(f, &lw) == STRATA_OK, "wal_writer_new_mapped");
    else
        FUZZ_CHECK((lw = wal_writer_new(f, 0)) != NULL, "wal_writer_new");
    for (size_t i = 0; i < w.n; i++) {
        FUZZ_CHECK(wal_writer_add_record(lw, buf_slice(&w.data[i])) == STRATA_OK, "add %zu", i);
        w.end[i] = wal_writer_size(lw);
    }
    uint64_t size = wal_writer_size(lw);
    if (mapped && (flags & F_OPEN_TAIL)) {
        /* As a killed process leaves it: the records, then zeros to the
         * end of the reserved chunk. */
        struct env_file *rf = fuzz_open_scratch();
        uint64_t file_size;
        FUZZ_CHECK(env_file_size(rf, &file_size) == STRATA_OK, "size");
        env_close(rf);
        read_back(&w, w.n, 0, file_size - size);
    }
    FUZZ_CHECK(wal_writer_close(lw) == STRATA_OK, "close");
    if (flags & F_CUT) {
        cut = size ? cut % size : 0;
        FUZZ_CHECK(truncate(path, (off_t)cut) == 0, "truncate");
        size_t want = 0;
        while (want < w.n && w.end[want] <= cut)
            want++;
        read_back(&w, want, 1, UINT64_MAX);
    } else {
        read_back(&w, w.n, 0, 0);
    }
    for (size_t i = 0; i < w.n; i++)
        buf_free(&w.data[i]);
    memset(&w, 0, sizeof w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = fuzz_input_make(data, size);
    uint8_t flags = fuzz_byte(&in);
    if (flags & F_WRITE)
        fuzz_write(flags, &in);
    else
        fuzz_read(flags, fuzz_rest(&in));
    return 0;
}

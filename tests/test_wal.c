/*
 * test_wal.c: the record log (wal/log_writer.c, wal/log_reader.c).
 *
 * Each test writes logs in its own temporary directory through an env, then
 * damages them with plain stdio, the way a crash or a bad disk would, and
 * checks what the reader makes of them.  The layout tests run with both
 * writers, plain and mapped; the mapped writer's own tests (zero tails, a
 * writer killed with SIGKILL, failed grows) are at the end.  Expected file offsets come from
 * log_model_add(), an arithmetic model of the format written independently
 * of the writer, so that the layout itself (padding, fragment headers) is
 * under test and not only the round trip.  Random tests use fixed seeds,
 * printed so that a failure can be replayed.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/buf.h"
#include "src/coding.h"
#include "src/env.h"
#include "src/hash.h"
#include "src/status.h"
#include "wal/log_format.h"
#include "wal/log_reader.h"
#include "wal/log_writer.h"

/* Criterion reports every assertion to its runner, even a passing one; the
 * loops below check millions of bytes, so they only call it on failure. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            cr_assert_fail(__VA_ARGS__);                                                           \
    } while (0)

enum { BLOCK = LOG_BLOCK_SIZE, HDR = LOG_HEADER_SIZE };

/* The mapped writer reserves its file this much at a time
 * (WAL_WRITER_CHUNK in wal/log_writer.c). */
enum { CHUNK = 1 << 20 };

/* Set by the tests of the mapped writer: log_write() then writes a new log
 * through a mapping.  log_write_from() appends with a plain writer, since
 * nothing appends to a mapped log once it is closed. */
static int mapped_writer;

static struct env *env;
static char dir[64];
static char path[128];

static void wal_setup(void)
{
    mapped_writer = 0;
    env = env_new();
    cr_assert_not_null(env);
    strcpy(dir, "/tmp/strata_wal_XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/000003.log", dir);
}

static void wal_teardown(void)
{
    unlink(path);
    rmdir(dir);
    env_free(env);
}

TestSuite(wal, .init = wal_setup, .fini = wal_teardown);

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    /* xorshift64*: deterministic and good enough to spread bytes around */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static uint64_t rng_below(uint64_t n)
{
    return n ? rng_next() % n : 0;
}

/* The records a test writes: their bytes and the offsets the model gives. */
struct log {
    char **data;
    size_t *len;
    uint64_t *off;
    uint64_t *end; /* of the record's last fragment */
    size_t n;
    uint64_t size; /* of the file, per the model */
};

/* Where a record of len bytes starts when appended to a log of *size bytes;
 * *size becomes the size after it. */
static uint64_t log_model_add(uint64_t *size, size_t len)
{
    uint64_t at = *size;
    if (BLOCK - at % BLOCK < HDR)
        at += BLOCK - at % BLOCK;
    uint64_t end = at;
    size_t left = len;
    do {
        size_t room = BLOCK - end % BLOCK - HDR;
        size_t n = left < room ? left : room;
        end += HDR + n;
        left -= n;
    } while (left > 0);
    *size = end;
    return at;
}

static char *record_bytes(size_t len, uint64_t seed)
{
    char *p = malloc(len ? len : 1);
    cr_assert_not_null(p);
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + len + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = (char)(x >> 56);
    }
    return p;
}

static void log_add(struct log *lg, size_t len)
{
    size_t n = lg->n + 1;
    lg->data = realloc(lg->data, n * sizeof *lg->data);
    lg->len = realloc(lg->len, n * sizeof *lg->len);
    lg->off = realloc(lg->off, n * sizeof *lg->off);
    lg->end = realloc(lg->end, n * sizeof *lg->end);
    cr_assert(lg->data && lg->len && lg->off && lg->end);
    lg->data[lg->n] = record_bytes(len, lg->n);
    lg->len[lg->n] = len;
    lg->off[lg->n] = log_model_add(&lg->size, len);
    lg->end[lg->n] = lg->size;
    lg->n = n;
}

static void log_free(struct log *lg)
{
    for (size_t i = 0; i < lg->n; i++)
        free(lg->data[i]);
    free(lg->data);
    free(lg->len);
    free(lg->off);
    free(lg->end);
    memset(lg, 0, sizeof *lg);
}

static void expect_log_while_mapped(const struct log *lg);

/* A new mapped writer of a new file at path. */
static struct wal_writer *mapped_open(void)
{
    struct env_file *f;
    struct wal_writer *w;
    cr_assert_eq(env_open(env, path, ENV_OPEN_READ_WRITE, &f), STRATA_OK, "%s",
                 strata_last_error());
    cr_assert_eq(wal_writer_new_mapped(f, &w), STRATA_OK, "%s", strata_last_error());
    return w;
}

/* Write records [from, lg->n) with a new writer: to a new file when from is
 * 0, else appended to the file as it is. */
static void log_write_from(const struct log *lg, size_t from)
{
    struct env_file *f;
    struct wal_writer *w;
    if (mapped_writer && from == 0) {
        w = mapped_open();
    } else {
        cr_assert_eq(env_open(env, path, from ? ENV_OPEN_APPEND : ENV_OPEN_TRUNCATE, &f),
                     STRATA_OK, "%s", strata_last_error());
        uint64_t size = 0;
        cr_assert_eq(env_file_size(f, &size), STRATA_OK);
        cr_assert_eq(size, from ? lg->end[from - 1] : 0, "unexpected starting size");
        cr_assert_not_null(w = wal_writer_new(f, size));
    }
    for (size_t i = from; i < lg->n; i++) {
        int rc = wal_writer_add_record(w, slice_make(lg->data[i], lg->len[i]));
        CHECK(rc == STRATA_OK, "add record %zu: %s", i, strata_last_error());
    }
    cr_assert_eq(wal_writer_size(w), lg->size, "writer size %" PRIu64 ", model %" PRIu64,
                 wal_writer_size(w), lg->size);
    if (mapped_writer && from == 0)
        expect_log_while_mapped(lg);
    cr_assert_eq(wal_writer_close(w), STRATA_OK);
}

static void log_write(const struct log *lg)
{
    log_write_from(lg, 0);
}

static struct wal_reader *reader_open(struct env_file **f)
{
    cr_assert_eq(env_open(env, path, ENV_OPEN_READ, f), STRATA_OK, "%s", strata_last_error());
    struct wal_reader *r = wal_reader_new(*f);
    cr_assert_not_null(r);
    return r;
}

static void reader_close(struct wal_reader *r, struct env_file *f)
{
    wal_reader_free(r);
    cr_assert_eq(env_close(f), STRATA_OK);
}

/* Read the next record and check that it is record i of lg. */
static void expect_record(struct wal_reader *r, const struct log *lg, size_t i)
{
    struct slice rec;
    int rc = wal_reader_read(r, &rec);
    CHECK(rc == 1, "record %zu (offset %" PRIu64 "): got %d (%s)", i, lg->off[i], rc,
          strata_last_error());
    CHECK(rec.len == lg->len[i], "record %zu: length %zu, wrote %zu", i, rec.len, lg->len[i]);
    CHECK(rec.len == 0 || memcmp(rec.data, lg->data[i], rec.len) == 0, "record %zu: bytes differ",
          i);
    CHECK(wal_reader_record_offset(r) == lg->off[i], "record %zu: offset %" PRIu64 ", expected %" PRIu64,
          i, wal_reader_record_offset(r), lg->off[i]);
}

/* The end of the log, after dropping a torn tail of dropped bytes and
 * before a zero tail of zero_tail bytes. */
static void expect_end_zeros(struct wal_reader *r, uint64_t dropped, uint64_t zero_tail)
{
    struct slice rec;
    int rc = wal_reader_read(r, &rec);
    CHECK(rc == 0, "expected the end, got %d (%s)", rc, strata_last_error());
    CHECK(wal_reader_dropped_bytes(r) == dropped, "dropped %" PRIu64 " bytes, expected %" PRIu64,
          wal_reader_dropped_bytes(r), dropped);
    CHECK(wal_reader_zero_tail_bytes(r) == zero_tail,
          "zero tail of %" PRIu64 " bytes, expected %" PRIu64, wal_reader_zero_tail_bytes(r),
          zero_tail);
    rc = wal_reader_read(r, &rec);
    CHECK(rc == 0, "the end must stay the end, got %d", rc);
}

static void expect_end(struct wal_reader *r, uint64_t dropped)
{
    expect_end_zeros(r, dropped, 0);
}

/* The file holds exactly lg's records, and ends cleanly. */
static void expect_log(const struct log *lg)
{
    struct env_file *f;
    struct wal_reader *r = reader_open(&f);
    for (size_t i = 0; i < lg->n; i++)
        expect_record(r, lg, i);
    expect_end(r, 0);
    uint64_t size;
    cr_assert_eq(env_file_size(f, &size), STRATA_OK);
    cr_assert_eq(size, lg->size, "the file is %" PRIu64 " bytes, its records %" PRIu64, size,
                 lg->size);
    reader_close(r, f);
}

/* With its mapped writer still open, the file is what the writer's process
 * leaves if it is killed now: whole chunks, lg's records, then zeros that
 * read as the end of the log. */
static void expect_log_while_mapped(const struct log *lg)
{
    struct env_file *f;
    struct wal_reader *r = reader_open(&f);
    uint64_t size;
    cr_assert_eq(env_file_size(f, &size), STRATA_OK);
    cr_assert(size % CHUNK == 0 && size >= lg->size && size - lg->size < CHUNK,
              "a mapped log of %" PRIu64 " bytes of records is %" PRIu64 " bytes long", lg->size,
              size);
    for (size_t i = 0; i < lg->n; i++)
        expect_record(r, lg, i);
    expect_end_zeros(r, 0, size - lg->size);
    reader_close(r, f);
}

static char *file_load(size_t *n)
{
    char *data;
    cr_assert_eq(env_read_file(env, path, &data, n), STRATA_OK, "%s", strata_last_error());
    return data;
}

/* Where the zeros that end data[0, n) start: after its last non-zero byte.
 * A torn tail's dropped bytes stop there; the zeros are the zero tail. */
static uint64_t zeros_start(const char *data, uint64_t n)
{
    while (n > 0 && data[n - 1] == 0)
        n--;
    return n;
}

/* The end of a log whose records end at good_end and whose file is
 * data[0, n): a torn tail up to the zeros that end the file, or, when only
 * zeros follow good_end, a zero tail and nothing dropped. */
static void expect_end_after(struct wal_reader *r, const char *data, uint64_t n, uint64_t good_end)
{
    uint64_t z = zeros_start(data, n);
    if (z <= good_end)
        expect_end_zeros(r, 0, n - good_end);
    else
        expect_end_zeros(r, z - good_end, n - z);
}

/* Replace the file with n bytes, as stdio does it: the damage under test. */
static void file_store(const char *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(data, 1, n, fp), n);
    cr_assert_eq(fclose(fp), 0);
}

static void expect_corruption(struct wal_reader *r, uint64_t offset)
{
    struct slice rec;
    int rc = wal_reader_read(r, &rec);
    CHECK(rc == STRATA_CORRUPTION, "expected corruption at %" PRIu64 ", got %d (%s)", offset, rc,
          strata_last_error());
    char want[64];
    snprintf(want, sizeof want, "at offset %" PRIu64 ":", offset);
    CHECK(strstr(strata_last_error(), path) != NULL, "no file name in \"%s\"", strata_last_error());
    CHECK(strstr(strata_last_error(), want) != NULL, "no \"%s\" in \"%s\"", want,
          strata_last_error());
}

/* ---- round trips ----------------------------------------------------------- */

Test(wal, empty_file_is_an_empty_log)
{
    file_store("", 0);
    struct log lg = { 0 };
    expect_log(&lg);
}

Test(wal, empty_record_is_one_full_fragment)
{
    struct log lg = { 0 };
    log_add(&lg, 0);
    log_write(&lg);
    size_t n;
    char *raw = file_load(&n);
    cr_assert_eq(n, (size_t)HDR);
    cr_assert_eq(raw[6], LOG_FULL);
    cr_assert_eq(decode_fixed16(raw + 4), 0);
    cr_assert_eq(decode_fixed32(raw), checksum32("", 0, LOG_FULL));
    free(raw);
    expect_log(&lg);
    log_free(&lg);
}

/* An empty record given as {NULL, 0}, as an empty struct buf gives it: no
 * arithmetic on the NULL pointer, which C leaves undefined (clang's UBSan,
 * `make asan CC=clang`, aborted here; found by tests/fuzz/fuzz_wal.c). */
Test(wal, empty_record_with_null_bytes)
{
    struct env_file *f;
    cr_assert_eq(env_open(env, path, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    struct wal_writer *w = wal_writer_new(f, 0);
    cr_assert_not_null(w);
    cr_assert_eq(wal_writer_add_record(w, slice_make(NULL, 0)), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(wal_writer_close(w), STRATA_OK);
    struct log lg = { 0 };
    log_add(&lg, 0);
    expect_log(&lg);
    log_free(&lg);
}

Test(wal, header_layout)
{
    struct log lg = { 0 };
    log_add(&lg, 5);
    log_add(&lg, BLOCK); /* FIRST in block 0, LAST in block 1 */
    log_write(&lg);
    size_t n;
    char *raw = file_load(&n);
    cr_assert_eq(decode_fixed32(raw), checksum32(lg.data[0], 5, LOG_FULL));
    cr_assert_eq(decode_fixed16(raw + 4), 5);
    cr_assert_eq(raw[6], LOG_FULL);
    cr_assert_eq(memcmp(raw + HDR, lg.data[0], 5), 0);
    const char *first = raw + 12;
    size_t first_len = BLOCK - 12 - HDR;
    cr_assert_eq(first[6], LOG_FIRST);
    cr_assert_eq(decode_fixed16(first + 4), first_len);
    cr_assert_eq(decode_fixed32(first), checksum32(lg.data[1], first_len, LOG_FIRST));
    const char *last = raw + BLOCK;
    cr_assert_eq(last[6], LOG_LAST);
    cr_assert_eq(decode_fixed16(last + 4), BLOCK - first_len);
    cr_assert_eq(decode_fixed32(last),
                 checksum32(lg.data[1] + first_len, BLOCK - first_len, LOG_LAST));
    cr_assert_eq(n, (size_t)BLOCK + HDR + (BLOCK - first_len));
    free(raw);
    log_free(&lg);
}

/* Sizes around one block's payload: one fragment, exactly full, two. */
static size_t near_block_size(size_t i)
{
    return BLOCK - HDR - 10 + i;
}
enum { NEAR_BLOCK_SIZES = HDR + 10 + 10 + 1 };

static void round_trip_alone(void)
{
    for (size_t i = 0; i < NEAR_BLOCK_SIZES + 2; i++) {
        size_t len = i < NEAR_BLOCK_SIZES ? near_block_size(i) : i - NEAR_BLOCK_SIZES;
        struct log lg = { 0 };
        log_add(&lg, len);
        log_write(&lg);
        expect_log(&lg);
        log_free(&lg);
    }
}

/* A first record leaves `left` bytes in block 0 (0: it ends on the
 * boundary; 1..6: padding; 7: room for a header only), then comes a record
 * of len bytes, then two small records that must be found after it. */
static void boundary_case(size_t left, size_t len)
{
    struct log lg = { 0 };
    log_add(&lg, BLOCK - HDR - left);
    log_add(&lg, len);
    log_add(&lg, 1);
    log_add(&lg, 0);
    log_write(&lg);
    cr_assert_eq(lg.off[1], left < HDR ? (uint64_t)BLOCK : (uint64_t)BLOCK - left);
    if (left > 0 && left < HDR) {
        size_t n;
        char *raw = file_load(&n);
        for (size_t i = BLOCK - left; i < BLOCK; i++)
            CHECK(raw[i] == 0, "padding byte %zu is %d", i, raw[i]);
        free(raw);
    }
    expect_log(&lg);
    log_free(&lg);
}

static void round_trip_at_block_boundaries(void)
{
    for (size_t left = 0; left <= 12; left++) {
        size_t small[] = { 0, 1, 2, 5, 100 };
        for (size_t i = 0; i < sizeof small / sizeof *small; i++)
            boundary_case(left, small[i]);
        /* Ending exactly at the boundary, just before, just after. */
        for (int d = -3; d <= 3; d++)
            if ((int)left - HDR + d >= 0)
                boundary_case(left, (size_t)((int)left - HDR + d));
        for (size_t i = 0; i < NEAR_BLOCK_SIZES; i++)
            boundary_case(left, near_block_size(i));
        boundary_case(left, 2 * (BLOCK - HDR));
    }
}

static void large_records(void)
{
    struct log lg = { 0 };
    size_t sizes[] = { 100000, 1, 1 << 20, 100, 100 * 1000, (1 << 20) + 7, 0 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        log_add(&lg, sizes[i]);
    log_write(&lg);
    expect_log(&lg);
    log_free(&lg);
}

static void append_to_existing_log(void)
{
    /* Stop the first writer at several places in a block: mid-block, with
     * padding ahead (block offset 32766), and on a block boundary. */
    size_t first_ends[] = { 1000, BLOCK - 2, BLOCK };
    for (size_t k = 0; k < sizeof first_ends / sizeof *first_ends; k++) {
        struct log lg = { 0 };
        log_add(&lg, 10);
        log_add(&lg, first_ends[k] - 17 - HDR);
        log_write(&lg);
        cr_assert_eq(lg.size, first_ends[k]);
        log_add(&lg, 3);
        log_add(&lg, 70000);
        log_add(&lg, 0);
        log_write_from(&lg, 2);
        log_add(&lg, 5);
        log_write_from(&lg, 5);
        expect_log(&lg);
        log_free(&lg);
    }
}

Test(wal, round_trip_alone)
{
    round_trip_alone();
}

Test(wal, round_trip_at_block_boundaries)
{
    round_trip_at_block_boundaries();
}

Test(wal, large_records)
{
    large_records();
}

Test(wal, append_to_existing_log)
{
    append_to_existing_log();
}

/* The same layouts through the mapped writer: records of a megabyte and
 * more need a window larger than a chunk. */
Test(wal, mapped_round_trip_alone)
{
    mapped_writer = 1;
    round_trip_alone();
}

Test(wal, mapped_round_trip_at_block_boundaries)
{
    mapped_writer = 1;
    round_trip_at_block_boundaries();
}

Test(wal, mapped_large_records)
{
    mapped_writer = 1;
    large_records();
}

/* A mapped log, closed, then appended to by a plain writer. */
Test(wal, mapped_then_appended)
{
    mapped_writer = 1;
    append_to_existing_log();
}

/* ---- torn tails ------------------------------------------------------------ */

/* Truncate a log at every offset inside its last record (which spans two
 * blocks) and inside the padding before it, when there is some. */
static void torn_at_every_offset(size_t pad)
{
    struct log lg = { 0 };
    log_add(&lg, 100);
    log_add(&lg, 29000);
    /* Without padding, record 3 starts 3347 bytes before block 1; with it,
     * record 2 ends pad bytes before block 1. */
    log_add(&lg, pad ? BLOCK - pad - lg.size - HDR : 300);
    log_add(&lg, 5000);
    if (pad)
        cr_assert_eq(lg.off[3], (uint64_t)BLOCK);
    else
        cr_assert(lg.off[3] < BLOCK && lg.end[3] > BLOCK, "record 3 must span two blocks");
    log_write(&lg);
    size_t n;
    char *raw = file_load(&n);
    cr_assert_eq(n, lg.size);
    uint64_t good_end = lg.end[2];
    for (uint64_t t = good_end; t < n; t++) {
        file_store(raw, t);
        struct env_file *f;
        struct wal_reader *r = reader_open(&f);
        for (size_t i = 0; i < 3; i++)
            expect_record(r, &lg, i);
        /* Cut inside the padding, the file ends in zeros where a header
         * was due: a zero tail, not a torn record.  After it, a torn tail
         * (less any zeros it happens to end with). */
        if (t <= good_end + pad)
            expect_end_zeros(r, 0, t - good_end);
        else
            expect_end_after(r, raw, t, good_end);
        reader_close(r, f);
    }
    free(raw);
    log_free(&lg);
}

Test(wal, torn_tail_at_every_offset)
{
    torn_at_every_offset(0);
}

Test(wal, torn_tail_at_every_offset_after_padding)
{
    torn_at_every_offset(3);
}

/* A crash after the file grew but before its data reached the disk, or a
 * mapped writer killed with its chunk half used, leaves zeros: past the
 * end, or over the last record too.  Starting where a record was due, they
 * are the end of the log, not a torn record: nothing is dropped. */
static void zeroed_tail(size_t len1, size_t zeros, int over_last)
{
    struct log lg = { 0 };
    log_add(&lg, 10);
    log_add(&lg, len1);
    log_add(&lg, 300);
    log_write(&lg);
    size_t n;
    char *raw = file_load(&n);
    uint64_t cut = over_last ? lg.off[2] : n;
    char *z = calloc(1, cut + zeros);
    cr_assert_not_null(z);
    memcpy(z, raw, cut);
    file_store(z, cut + zeros);
    struct env_file *f;
    struct wal_reader *r = reader_open(&f);
    expect_record(r, &lg, 0);
    expect_record(r, &lg, 1);
    if (!over_last)
        expect_record(r, &lg, 2);
    expect_end_zeros(r, 0, zeros);
    reader_close(r, f);
    free(z);
    free(raw);
    log_free(&lg);
}

Test(wal, zero_tail_is_the_end)
{
    zeroed_tail(1000, 10, 0);
    zeroed_tail(1000, 5000, 1);
    zeroed_tail(30000, 100000, 0); /* zeros over several whole blocks */
    zeroed_tail(30000, 3, 0);      /* fewer zeros than a header */
    zeroed_tail(BLOCK - 17 - 2 * HDR - 300, 20, 0); /* zeros start on a block boundary */
}

/* The rest of a record cut short by zeros, after a whole fragment of it (a
 * mapped writer killed between the fragments of a copy): the zeros start
 * where a fragment was due, so the record is a torn tail ending there and
 * the zeros after it a zero tail. */
Test(wal, zero_tail_after_a_record_in_progress)
{
    struct log lg = { 0 };
    log_add(&lg, 100);
    log_add(&lg, 70000); /* FIRST to the end of block 0, MIDDLE, LAST in block 2 */
    log_write(&lg);
    size_t n;
    char *raw = file_load(&n);
    uint64_t cuts[] = { BLOCK, 2 * BLOCK }; /* after the FIRST, after the MIDDLE */
    for (size_t k = 0; k < 2; k++) {
        char *z = calloc(1, n + 5000);
        cr_assert_not_null(z);
        memcpy(z, raw, cuts[k]);
        file_store(z, n + 5000);
        free(z);
        struct env_file *f;
        struct wal_reader *r = reader_open(&f);
        expect_record(r, &lg, 0);
        expect_end_zeros(r, cuts[k] - lg.off[1], n + 5000 - cuts[k]);
        reader_close(r, f);
    }
    free(raw);
    log_free(&lg);
}

/* Zeros followed by a valid record are damage, not a tail: corruption at
 * the first zero, exactly as before zero tails existed, then the records
 * after them, then the zero tail after those. */
Test(wal, zeros_then_a_record_are_corruption)
{
    size_t zeroed_lens[] = { 300, 70000 }; /* in one block; over three */
    for (size_t k = 0; k < 2; k++) {
        struct log lg = { 0 };
        log_add(&lg, 100);
        log_add(&lg, zeroed_lens[k]);
        log_add(&lg, 50);
        log_write(&lg);
        size_t n;
        char *raw = file_load(&n);
        char *z = calloc(1, n + 4000);
        cr_assert_not_null(z);
        memcpy(z, raw, n);
        memset(z + lg.off[1], 0, lg.end[1] - lg.off[1]);
        file_store(z, n + 4000);
        struct env_file *f;
        struct wal_reader *r = reader_open(&f);
        expect_record(r, &lg, 0);
        expect_corruption(r, lg.off[1]);
        CHECK(strstr(strata_last_error(), "zeroed bytes") != NULL, "reason: %s",
              strata_last_error());
        expect_record(r, &lg, 2);
        expect_end_zeros(r, 0, 4000);
        reader_close(r, f);
        free(z);
        free(raw);
        log_free(&lg);
    }
}

/* A fragment cut short with zeros after it to the end of the file (a
 * mapped writer killed in the middle of copying it): the damage is not
 * zeros, so it is a torn tail as before, dropped to the end of the file. */
Test(wal, torn_fragment_then_zeros_is_a_torn_tail)
{
    struct log lg = { 0 };
    log_add(&lg, 100);
    log_add(&lg, 3000);
    log_write(&lg);
    size_t n;
    char *raw = file_load(&n);
    size_t size = n + 6000;
    char *zbuf = calloc(1, size);
    cr_assert_not_null(zbuf);
    memcpy(zbuf, raw, lg.off[1] + HDR + 1000);
    file_store(zbuf, size);
    struct env_file *f;
    struct wal_reader *r = reader_open(&f);
    expect_record(r, &lg, 0);
    uint64_t z = zeros_start(zbuf, size);
    cr_assert(z > lg.off[1] + HDR, "the cut fragment reads as zeros");
    expect_end_zeros(r, z - lg.off[1], size - z);
    reader_close(r, f);
    free(zbuf);
    free(raw);
    log_free(&lg);
}

Test(wal, all_zero_file_is_an_empty_log)
{
    size_t sizes[] = { 3, HDR, BLOCK, 3 * BLOCK + 5, CHUNK };
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        char *z = calloc(1, sizes[k]);
        cr_assert_not_null(z);
        file_store(z, sizes[k]);
        free(z);
        struct env_file *f;
        struct wal_reader *r = reader_open(&f);
        expect_end_zeros(r, 0, sizes[k]);
        reader_close(r, f);
    }
}

/* ---- corruption ------------------------------------------------------------ */

struct flip {
    const char *what;
    size_t at; /* byte of the fragment; SIZE_MAX: the middle of the payload */
    int mask;
};

static const struct flip flips[] = {
    { "payload", SIZE_MAX, 0x01 },
    { "checksum low byte", 0, 0x80 },
    { "checksum high byte", 3, 0x01 },
    { "length low byte", 4, 0x01 },
    { "length low byte, smaller", 4, 0x08 },
    { "length high byte", 5, 0x40 },
    { "type, still in range", 6, 0x02 },
    { "type, out of range", 6, 0x40 },
};
enum { NFLIPS = sizeof flips / sizeof *flips };

/* Flip one byte of the fragment at offset frag (payload of plen bytes). */
static void flip_byte(char *raw, uint64_t frag, size_t plen, const struct flip *fl)
{
    size_t at = fl->at == SIZE_MAX ? HDR + plen / 2 : fl->at;
    raw[frag + at] ^= (char)fl->mask;
}

/* Record t of lg is damaged by fl and valid records follow it: the reader
 * returns the records before it, reports corruption at its offset, then
 * returns every later record (all_later) or at least those in later blocks,
 * and nothing else. */
static void expect_flip_corruption(const struct log *lg, size_t t, const struct flip *fl,
                                   int all_later)
{
    size_t n;
    char *raw = file_load(&n);
    flip_byte(raw, lg->off[t], lg->len[t], fl);
    file_store(raw, n);
    struct env_file *f;
    struct wal_reader *r = reader_open(&f);
    for (size_t i = 0; i < t; i++)
        expect_record(r, lg, i);
    expect_corruption(r, lg->off[t]);
    if (all_later) {
        for (size_t i = t + 1; i < lg->n; i++)
            expect_record(r, lg, i);
        expect_end(r, 0);
    } else {
        /* Records sharing the damaged record's block may be lost with it
         * (its length no longer leads to them); later blocks come back. */
        uint64_t next_block = (lg->off[t] / BLOCK + 1) * BLOCK;
        size_t i = t + 1;
        struct slice rec;
        int rc;
        while ((rc = wal_reader_read(r, &rec)) == 1) {
            uint64_t off = wal_reader_record_offset(r);
            while (i < lg->n && lg->off[i] < off) {
                CHECK(lg->off[i] < next_block, "record %zu was skipped", i);
                i++;
            }
            CHECK(i < lg->n && lg->off[i] == off && rec.len == lg->len[i] &&
                      memcmp(rec.data, lg->data[i], rec.len) == 0,
                  "unexpected record at %" PRIu64, off);
            i++;
        }
        CHECK(rc == 0 && i == lg->n, "reading ended with %d at record %zu", rc, i);
    }
    reader_close(r, f);
    free(raw);
}

/* Records 0-2 share block 0; record 2 ends exactly on the block boundary. */
static void corruption_log(struct log *lg)
{
    log_add(lg, 100);
    log_add(lg, 200);
    log_add(lg, BLOCK - 3 * HDR - 300);
    log_add(lg, 40);
    log_add(lg, 70000);
    log_add(lg, 0);
    log_add(lg, 50);
    log_write(lg);
    cr_assert_eq(lg->off[3], (uint64_t)BLOCK);
}

Test(wal, corruption_in_a_full_record_is_reported_and_skipped)
{
    for (size_t k = 0; k < NFLIPS; k++) {
        struct log lg = { 0 };
        corruption_log(&lg);
        int length_flip = flips[k].at == 4 || flips[k].at == 5;
        /* Record 1's length leads to record 2 in the same block. */
        expect_flip_corruption(&lg, 1, &flips[k], !length_flip);
        log_write(&lg);
        /* Record 2 ends the block: whatever its length says, nothing of
         * value is lost. */
        expect_flip_corruption(&lg, 2, &flips[k], 1);
        log_write(&lg);
        expect_flip_corruption(&lg, 3, &flips[k], !length_flip);
        log_free(&lg);
    }
}

Test(wal, corruption_in_each_fragment_of_a_long_record)
{
    struct log lg = { 0 };
    corruption_log(&lg);
    /* Record 4 (70000 bytes) starts in block 1 and ends in block 3. */
    uint64_t frags[3] = { lg.off[4], 2 * BLOCK, 3 * BLOCK };
    cr_assert(lg.off[4] < 2 * BLOCK && lg.off[5] > 3 * BLOCK && lg.off[5] < 4 * BLOCK);
    for (size_t k = 0; k < 3; k++) {
        log_write(&lg);
        size_t n;
        char *raw = file_load(&n);
        raw[frags[k] + HDR + 10] ^= 0x20;
        file_store(raw, n);
        free(raw);
        struct env_file *f;
        struct wal_reader *r = reader_open(&f);
        for (size_t i = 0; i < 4; i++)
            expect_record(r, &lg, i);
        expect_corruption(r, frags[k]);
        CHECK(strstr(strata_last_error(), "checksum mismatch") != NULL, "reason: %s",
              strata_last_error());
        /* One report for the whole record: its other fragments go quietly. */
        expect_record(r, &lg, 5);
        expect_record(r, &lg, 6);
        expect_end(r, 0);
        reader_close(r, f);
    }
    log_free(&lg);
}

Test(wal, damage_in_the_last_record_is_a_torn_tail)
{
    for (size_t k = 0; k < NFLIPS; k++) {
        struct log lg = { 0 };
        log_add(&lg, 100);
        log_add(&lg, 200);
        log_add(&lg, 300);
        log_write(&lg);
        size_t n;
        char *raw = file_load(&n);
        flip_byte(raw, lg.off[2], lg.len[2], &flips[k]);
        file_store(raw, n);
        free(raw);
        struct env_file *f;
        struct wal_reader *r = reader_open(&f);
        expect_record(r, &lg, 0);
        expect_record(r, &lg, 1);
        raw = file_load(&n);
        expect_end_after(r, raw, n, lg.off[2]);
        free(raw);
        reader_close(r, f);
        log_free(&lg);
    }
}

/* Fragments laid out by hand, valid each but in an order no writer makes. */
static void put_frag(struct buf *b, int type, const char *payload)
{
    size_t n = strlen(payload);
    char h[HDR];
    encode_fixed32(h, checksum32(payload, n, (uint64_t)type));
    encode_fixed16(h + 4, (uint16_t)n);
    h[6] = (char)type;
    cr_assert_eq(buf_append(b, h, HDR), STRATA_OK);
    cr_assert_eq(buf_append(b, payload, n), STRATA_OK);
}

static void expect_text(struct wal_reader *r, const char *text, uint64_t offset)
{
    struct slice rec;
    int rc = wal_reader_read(r, &rec);
    cr_assert_eq(rc, 1, "expected \"%s\", got %d (%s)", text, rc, strata_last_error());
    cr_assert(slice_equal(rec, slice_make(text, strlen(text))), "expected \"%s\", got \"%.*s\"",
              text, (int)rec.len, rec.data);
    cr_assert_eq(wal_reader_record_offset(r), offset);
}

static struct wal_reader *open_frags(struct buf *b, struct env_file **f)
{
    file_store(b->data, b->len);
    buf_clear(b);
    return reader_open(f);
}

Test(wal, fragments_out_of_order)
{
    struct buf b = { 0 };
    struct env_file *f;
    struct wal_reader *r;

    /* A FULL interrupts a record: the record is dropped, the FULL kept. */
    put_frag(&b, LOG_FIRST, "ab");
    put_frag(&b, LOG_FULL, "x");
    put_frag(&b, LOG_FULL, "y");
    r = open_frags(&b, &f);
    expect_corruption(r, 0);
    cr_assert(strstr(strata_last_error(), "out of order") != NULL, "%s", strata_last_error());
    expect_text(r, "x", 9);
    expect_text(r, "y", 17);
    expect_end(r, 0);
    reader_close(r, f);

    /* A FIRST interrupts a record. */
    put_frag(&b, LOG_FIRST, "a");
    put_frag(&b, LOG_FIRST, "b");
    put_frag(&b, LOG_MIDDLE, "c");
    put_frag(&b, LOG_LAST, "d");
    r = open_frags(&b, &f);
    expect_corruption(r, 0);
    expect_text(r, "bcd", 8);
    expect_end(r, 0);
    reader_close(r, f);

    /* A MIDDLE without a FIRST, followed by a record. */
    put_frag(&b, LOG_FULL, "w");
    put_frag(&b, LOG_MIDDLE, "m");
    put_frag(&b, LOG_LAST, "l");
    put_frag(&b, LOG_FULL, "x");
    r = open_frags(&b, &f);
    expect_text(r, "w", 0);
    expect_corruption(r, 8);
    expect_text(r, "x", 24);
    expect_end(r, 0);
    reader_close(r, f);

    /* A LAST without a FIRST ends the file: nothing valid follows. */
    put_frag(&b, LOG_FULL, "x");
    put_frag(&b, LOG_LAST, "l");
    r = open_frags(&b, &f);
    expect_text(r, "x", 0);
    expect_end(r, 8);
    reader_close(r, f);

    /* A record whose LAST never came. */
    put_frag(&b, LOG_FULL, "x");
    put_frag(&b, LOG_FIRST, "a");
    put_frag(&b, LOG_MIDDLE, "b");
    r = open_frags(&b, &f);
    expect_text(r, "x", 0);
    expect_end(r, 16);
    reader_close(r, f);

    /* Empty fragments are fragments too. */
    put_frag(&b, LOG_FIRST, "");
    put_frag(&b, LOG_MIDDLE, "");
    put_frag(&b, LOG_LAST, "z");
    put_frag(&b, LOG_FULL, "");
    r = open_frags(&b, &f);
    expect_text(r, "z", 0);
    expect_text(r, "", 22);
    expect_end(r, 0);
    reader_close(r, f);

    buf_free(&b);
}

Test(wal, non_zero_padding_is_damage)
{
    struct log lg = { 0 };
    log_add(&lg, BLOCK - HDR - 3);
    log_add(&lg, 10);
    log_write(&lg);
    size_t n;
    char *raw = file_load(&n);
    raw[BLOCK - 2] = 'x';
    file_store(raw, n);
    free(raw);
    struct env_file *f;
    struct wal_reader *r = reader_open(&f);
    expect_record(r, &lg, 0);
    expect_corruption(r, BLOCK - 3);
    expect_record(r, &lg, 1);
    expect_end(r, 0);
    reader_close(r, f);
    log_free(&lg);
}

/* A fragment whose length reaches one byte past its block, with a checksum
 * that would match if the reader looked at that byte: a reader that trusts
 * the length returns a record that was never written (or reads past its
 * buffer under ASAN). */
Test(wal, length_one_past_the_block)
{
    struct log lg = { 0 };
    log_add(&lg, BLOCK - HDR);
    log_add(&lg, 10);
    log_write(&lg);
    size_t n;
    char *raw = file_load(&n);
    encode_fixed16(raw + 4, BLOCK - HDR + 1);
    encode_fixed32(raw, checksum32(raw + HDR, BLOCK - HDR + 1, LOG_FULL));
    file_store(raw, n);
    free(raw);
    struct env_file *f;
    struct wal_reader *r = reader_open(&f);
    expect_corruption(r, 0);
    CHECK(strstr(strata_last_error(), "bad length") != NULL, "reason: %s", strata_last_error());
    expect_record(r, &lg, 1);
    expect_end(r, 0);
    reader_close(r, f);
    log_free(&lg);
}

/* ---- random damage ------------------------------------------------------- */

/* Read everything; every record returned must be one that was written, at
 * the offset it was written to, in order.  Returns the index after the last
 * record returned. */
static size_t read_checked(const struct log *lg, uint64_t intact_below, size_t *errors)
{
    struct env_file *f;
    struct wal_reader *r = reader_open(&f);
    size_t next = 0;
    *errors = 0;
    for (int iter = 0;; iter++) {
        CHECK(iter < 1000000, "the reader does not end");
        struct slice rec;
        int rc = wal_reader_read(r, &rec);
        if (rc == 0)
            break;
        if (rc == STRATA_CORRUPTION) {
            ++*errors;
            continue;
        }
        CHECK(rc == 1, "unexpected status %d (%s)", rc, strata_last_error());
        uint64_t off = wal_reader_record_offset(r);
        size_t i = next;
        while (i < lg->n && lg->off[i] < off) {
            /* A record that ends before the first damaged byte is never lost. */
            CHECK(lg->end[i] > intact_below, "intact record %zu at %" PRIu64 " was skipped", i,
                  lg->off[i]);
            i++;
        }
        CHECK(i < lg->n && lg->off[i] == off, "a record at %" PRIu64 " that was never written",
              off);
        CHECK(rec.len == lg->len[i] && memcmp(rec.data, lg->data[i], rec.len) == 0,
              "record %zu at %" PRIu64 " comes back changed", i, off);
        next = i + 1;
    }
    for (size_t i = next; i < lg->n; i++)
        CHECK(lg->end[i] > intact_below, "intact record %zu at %" PRIu64 " is missing", i,
              lg->off[i]);
    reader_close(r, f);
    return next;
}

Test(wal, random_bytes_never_make_records)
{
    uint64_t seed = 0x5EED0001;
    fprintf(stderr, "wal/random_bytes_never_make_records: seed %#" PRIx64 "\n", seed);
    rng_state = seed;
    struct log none = { 0 };
    for (int trial = 0; trial < 200; trial++) {
        size_t n = (size_t)rng_below(trial < 100 ? 200 : 140000);
        char *raw = malloc(n + 1);
        cr_assert_not_null(raw);
        int mode = trial % 4;
        for (size_t i = 0; i < n; i++) {
            /* Some files look like logs: valid types, small lengths, zeros. */
            unsigned char c = (unsigned char)rng_next();
            if (mode == 1 && i % 7 == 6)
                c = (unsigned char)(1 + c % 4);
            if (mode == 1 && i % 7 == 5)
                c = 0;
            if (mode == 2 && rng_below(4) != 0)
                c = 0;
            raw[i] = (char)c;
        }
        file_store(raw, n);
        size_t errors;
        size_t got = read_checked(&none, 0, &errors);
        CHECK(got == 0, "trial %d: a record out of random bytes", trial);
        free(raw);
    }
}

Test(wal, random_flips_never_make_wrong_records)
{
    uint64_t seed = 0x5EED0002;
    fprintf(stderr, "wal/random_flips_never_make_wrong_records: seed %#" PRIx64 "\n", seed);
    rng_state = seed;
    struct log lg = { 0 };
    for (int i = 0; i < 60; i++) {
        uint64_t kind = rng_below(10);
        log_add(&lg, kind < 6 ? rng_below(300) : kind < 9 ? rng_below(5000) : rng_below(80000));
    }
    log_write(&lg);
    size_t n;
    char *raw = file_load(&n);
    char *copy = malloc(n);
    cr_assert_not_null(copy);
    size_t total_errors = 0;
    for (int trial = 0; trial < 400; trial++) {
        memcpy(copy, raw, n);
        uint64_t first = n;
        int nflips = 1 + (int)rng_below(4);
        for (int k = 0; k < nflips; k++) {
            uint64_t at = rng_below(n);
            copy[at] ^= (char)(1 + rng_below(255));
            if (at < first)
                first = at;
        }
        size_t len = n;
        if (trial % 5 == 0) {
            len = (size_t)rng_below(n);
            if (len < first)
                first = len;
        }
        file_store(copy, len);
        size_t errors;
        read_checked(&lg, first, &errors);
        total_errors += errors;
    }
    CHECK(total_errors > 0, "400 damaged logs and never a corruption report");
    free(copy);
    free(raw);
    log_free(&lg);
}

/* ---- I/O faults ------------------------------------------------------------ */

Test(wal, write_fault)
{
    struct env_file *f;
    cr_assert_eq(env_open(env, path, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    struct wal_writer *w = wal_writer_new(f, 0);
    cr_assert_not_null(w);
    cr_assert_eq(wal_writer_add_record(w, slice_make("first", 5)), STRATA_OK);
    env_set_fault(env, 1, ENV_OP_WRITE, EIO);
    cr_assert_eq(wal_writer_add_record(w, slice_make("second", 6)), STRATA_IO_ERROR);
    cr_assert(strstr(strata_last_error(), path) != NULL, "%s", strata_last_error());
    /* The log may end inside a record now: no more appends to it. */
    cr_assert_eq(wal_writer_add_record(w, slice_make("third", 5)), STRATA_IO_ERROR);
    cr_assert_eq(wal_writer_size(w), (uint64_t)HDR + 5);
    cr_assert_eq(wal_writer_close(w), STRATA_OK);

    cr_assert_eq(env_open(env, path, ENV_OPEN_READ, &f), STRATA_OK);
    struct wal_reader *r = wal_reader_new(f);
    expect_text(r, "first", 0);
    expect_end(r, 0);
    reader_close(r, f);
}

Test(wal, partial_write_leaves_a_torn_tail)
{
    struct log lg = { 0 };
    log_add(&lg, 10);
    log_add(&lg, 100000);
    struct env_file *f;
    cr_assert_eq(env_open(env, path, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    struct wal_writer *w = wal_writer_new(f, 0);
    cr_assert_eq(wal_writer_add_record(w, slice_make(lg.data[0], lg.len[0])), STRATA_OK);
    env_set_fault(env, 1, ENV_OP_WRITE | ENV_FAULT_PARTIAL, ENOSPC);
    cr_assert_eq(wal_writer_add_record(w, slice_make(lg.data[1], lg.len[1])), STRATA_IO_ERROR);
    cr_assert_eq(wal_writer_close(w), STRATA_OK);
    struct wal_reader *r = reader_open(&f);
    expect_record(r, &lg, 0);
    size_t size;
    char *raw = file_load(&size);
    cr_assert(size > lg.off[1], "the partial write wrote nothing");
    expect_end_after(r, raw, size, lg.off[1]);
    free(raw);
    reader_close(r, f);
    log_free(&lg);
}

Test(wal, sync_fault)
{
    struct env_file *f;
    cr_assert_eq(env_open(env, path, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    struct wal_writer *w = wal_writer_new(f, 0);
    cr_assert_eq(wal_writer_add_record(w, slice_make("x", 1)), STRATA_OK);
    cr_assert_eq(wal_writer_sync(w), STRATA_OK);
    env_set_fault(env, 1, ENV_OP_SYNC, EIO);
    cr_assert_eq(wal_writer_sync(w), STRATA_IO_ERROR);
    cr_assert(strstr(strata_last_error(), path) != NULL, "%s", strata_last_error());
    cr_assert_eq(wal_writer_close(w), STRATA_OK);
}

Test(wal, read_fault)
{
    struct log lg = { 0 };
    log_add(&lg, 10);
    log_add(&lg, 40000);
    log_write(&lg);

    struct env_file *f;
    struct wal_reader *r = reader_open(&f);
    env_set_fault(env, 1, ENV_OP_READ, EIO);
    struct slice rec;
    cr_assert_eq(wal_reader_read(r, &rec), STRATA_IO_ERROR);
    reader_close(r, f);

    /* A fault on the second block, in the middle of a record. */
    r = reader_open(&f);
    expect_record(r, &lg, 0);
    env_set_fault(env, 1, ENV_OP_READ, EIO);
    cr_assert_eq(wal_reader_read(r, &rec), STRATA_IO_ERROR);
    cr_assert(strstr(strata_last_error(), path) != NULL, "%s", strata_last_error());
    cr_assert_eq(wal_reader_read(r, &rec), STRATA_IO_ERROR, "an I/O error must stick");
    reader_close(r, f);
    log_free(&lg);
}

/* ---- the mapped writer -------------------------------------------------------- */

/* Thousands of small records cross chunk boundaries one grow at a time. */
Test(wal, mapped_small_records_cross_chunks)
{
    mapped_writer = 1;
    struct log lg = { 0 };
    while (lg.size < 2 * CHUNK + 5000)
        log_add(&lg, 50 + (size_t)(lg.n * 37 % 400));
    log_write(&lg); /* checks the file while the writer is open, too */
    expect_log(&lg);
    log_free(&lg);
}

/* The child of a kill test: makes a mapped writer and says so on fd, then
 * appends lg's records, sending the index of each one once it was added,
 * then waits to be killed with the log still open.  Never returns. */
static void kill_child(const struct log *lg, int fd)
{
    struct env_file *f;
    struct wal_writer *w;
    uint32_t ready = UINT32_MAX;
    if (env_open(env, path, ENV_OPEN_READ_WRITE, &f) != STRATA_OK ||
        wal_writer_new_mapped(f, &w) != STRATA_OK ||
        write(fd, &ready, sizeof ready) != (ssize_t)sizeof ready)
        _exit(2);
    for (uint32_t i = 0; i < lg->n; i++) {
        if (wal_writer_add_record(w, slice_make(lg->data[i], lg->len[i])) != STRATA_OK)
            _exit(3);
        if (write(fd, &i, sizeof i) != (ssize_t)sizeof i)
            _exit(4);
    }
    for (;;)
        pause();
}

/* Run a writer in a child, kill it with SIGKILL once it acknowledged
 * kill_after records; then every acknowledged record reads back, maybe the
 * one in flight too, and the rest of the file is a torn tail or zeros. */
static void kill_cycle(const struct log *lg, size_t kill_after)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        kill_child(lg, fds[1]);
    }
    close(fds[1]);
    size_t acked = 0;
    uint32_t ack;
    cr_assert_eq(read(fds[0], &ack, sizeof ack), (ssize_t)sizeof ack, "the writer did not start");
    cr_assert_eq(ack, UINT32_MAX);
    while (acked < kill_after && read(fds[0], &ack, sizeof ack) == (ssize_t)sizeof ack)
        acked++;
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the writer ended with %#x",
              status);
    while (read(fds[0], &ack, sizeof ack) == (ssize_t)sizeof ack)
        acked++; /* sent before it died */
    close(fds[0]);

    struct env_file *f;
    struct wal_reader *r = reader_open(&f);
    for (size_t i = 0; i < acked; i++)
        expect_record(r, lg, i);
    size_t got = acked;
    struct slice rec;
    int rc = wal_reader_read(r, &rec);
    if (rc == 1 && got < lg->n) { /* the record in flight made it whole */
        CHECK(rec.len == lg->len[got] && memcmp(rec.data, lg->data[got], rec.len) == 0,
              "the record after the last acknowledged one is not record %zu", got);
        got++;
        rc = wal_reader_read(r, &rec);
    }
    CHECK(rc == 0, "after %zu records: %d (%s)", got, rc, strata_last_error());
    uint64_t size;
    cr_assert_eq(env_file_size(f, &size), STRATA_OK);
    uint64_t end = got ? lg->end[got - 1] : 0;
    CHECK(size % CHUNK == 0 && size > end, "a killed mapped log of %" PRIu64 " bytes", size);
    CHECK(end + wal_reader_dropped_bytes(r) + wal_reader_zero_tail_bytes(r) == size,
          "records to %" PRIu64 ", %" PRIu64 " dropped, %" PRIu64 " zeros, file %" PRIu64, end,
          wal_reader_dropped_bytes(r), wal_reader_zero_tail_bytes(r), size);
    fprintf(stderr, "wal/mapped_writer_killed: %zu acknowledged, %zu read, %" PRIu64
            " dropped, zero tail %" PRIu64 "\n", acked, got, wal_reader_dropped_bytes(r),
            wal_reader_zero_tail_bytes(r));
    reader_close(r, f);
}

/* SIGKILL loses nothing a mapped writer acknowledged: the records are in
 * the page cache, and the reserved zeros after them are the end of the log. */
Test(wal, mapped_writer_killed)
{
    struct log lg = { 0 };
    rng_state = 0x5EED0003;
    while (lg.n < 2000)
        log_add(&lg, lg.n % 50 == 7 ? 5000 + rng_below(65000) : rng_below(400));
    cr_assert_gt(lg.size, CHUNK, "the writer must grow its file");
    size_t kill_after[] = { 0, 1, 17, 300, 1200, 1999, 2000 };
    for (size_t k = 0; k < sizeof kill_after / sizeof *kill_after; k++)
        kill_cycle(&lg, kill_after[k]);
    log_free(&lg);
}

/* What a process killed now would leave: record 0 and zeros. */
static void expect_first_then_zeros(const char *first)
{
    struct env_file *f;
    struct wal_reader *r = reader_open(&f);
    expect_text(r, first, 0);
    uint64_t size;
    cr_assert_eq(env_file_size(f, &size), STRATA_OK);
    expect_end_zeros(r, 0, size - HDR - strlen(first));
    reader_close(r, f);
}

/* The log holds exactly the record first, cut to its length. */
static void expect_only(const char *first)
{
    struct env_file *f;
    struct wal_reader *r = reader_open(&f);
    expect_text(r, first, 0);
    expect_end(r, 0);
    uint64_t size;
    cr_assert_eq(env_file_size(f, &size), STRATA_OK);
    cr_assert_eq(size, HDR + strlen(first));
    reader_close(r, f);
}

/* Check that the last error names the log file, offset and reason. */
static void expect_message(const char *offset, const char *reason)
{
    const char *msg = strata_last_error();
    cr_assert(strstr(msg, path) != NULL, "no file name in \"%s\"", msg);
    cr_assert(strstr(msg, offset) != NULL, "no \"%s\" in \"%s\"", offset, msg);
    cr_assert(strstr(msg, reason) != NULL, "no \"%s\" in \"%s\"", reason, msg);
}

/* A full disk when a record needs a new chunk: the record fails with the
 * grow's status and message, nothing of it reaches the file, the writer
 * takes no more records, and the log keeps those before. */
Test(wal, mapped_grow_fails_on_a_full_disk)
{
    unsigned kinds[] = { ENV_OP_WRITE, ENV_OP_WRITE | ENV_FAULT_PARTIAL };
    char *big = record_bytes(CHUNK, 1); /* does not fit in what is left of chunk 0 */
    for (size_t k = 0; k < 2; k++) {
        struct wal_writer *w = mapped_open();
        cr_assert_eq(wal_writer_add_record(w, slice_make("first", 5)), STRATA_OK);
        env_set_fault(env, 1, kinds[k], ENOSPC);
        cr_assert_eq(wal_writer_add_record(w, slice_make(big, CHUNK)), STRATA_IO_ERROR);
        expect_message("allocate", strerror(ENOSPC));
        expect_message("at offset 12 ", strerror(ENOSPC));
        cr_assert_eq(wal_writer_add_record(w, slice_make("third", 5)), STRATA_IO_ERROR);
        cr_assert_eq(wal_writer_size(w), (uint64_t)HDR + 5);
        expect_first_then_zeros("first");
        cr_assert_eq(wal_writer_close(w), STRATA_OK, "%s", strata_last_error());
        expect_only("first");
    }
    free(big);
}

/* The two mapping operations of a grow fail: the old window's unmap, then
 * the new one's map. */
Test(wal, mapped_grow_map_faults)
{
    char *big = record_bytes(CHUNK, 1);
    const char *what[] = { "unmap", "map " };
    for (uint64_t nth = 1; nth <= 2; nth++) {
        struct wal_writer *w = mapped_open();
        cr_assert_eq(wal_writer_add_record(w, slice_make("first", 5)), STRATA_OK);
        env_set_fault(env, nth, ENV_OP_MAP, EIO);
        cr_assert_eq(wal_writer_add_record(w, slice_make(big, CHUNK)), STRATA_IO_ERROR);
        expect_message(what[nth - 1], strerror(EIO));
        cr_assert_eq(wal_writer_add_record(w, slice_make("third", 5)), STRATA_IO_ERROR);
        cr_assert_eq(wal_writer_close(w), STRATA_OK, "%s", strata_last_error());
        expect_only("first");
    }
    free(big);
}

/* The first chunk is reserved when the writer is made: a full disk fails
 * the new log, not a write into it. */
Test(wal, mapped_creation_fails_on_a_full_disk)
{
    unsigned kinds[] = { ENV_OP_WRITE, ENV_OP_MAP };
    for (size_t k = 0; k < 2; k++) {
        struct env_file *f;
        cr_assert_eq(env_open(env, path, ENV_OPEN_READ_WRITE, &f), STRATA_OK);
        env_set_fault(env, 1, kinds[k], ENOSPC);
        struct wal_writer *w = (struct wal_writer *)&w;
        cr_assert_eq(wal_writer_new_mapped(f, &w), STRATA_IO_ERROR);
        cr_assert_null(w);
        expect_message("at offset 0 ", strerror(ENOSPC));
        cr_assert_eq(env_close(f), STRATA_OK);
    }
}

/* The copy into the mapping fails (injected: a real one cannot fail), whole
 * or after half the bytes: the record is refused, and a torn tail is all a
 * kill at that moment would leave; close cuts it off. */
Test(wal, mapped_write_fault)
{
    unsigned kinds[] = { ENV_OP_WRITE, ENV_OP_WRITE | ENV_FAULT_PARTIAL };
    for (size_t k = 0; k < 2; k++) {
        struct log lg = { 0 };
        log_add(&lg, 10);
        log_add(&lg, 100000);
        struct wal_writer *w = mapped_open();
        cr_assert_eq(wal_writer_add_record(w, slice_make(lg.data[0], lg.len[0])), STRATA_OK);
        env_set_fault(env, 1, kinds[k], EIO);
        cr_assert_eq(wal_writer_add_record(w, slice_make(lg.data[1], lg.len[1])),
                     STRATA_IO_ERROR);
        expect_message("at offset 17 ", strerror(EIO));
        cr_assert_eq(wal_writer_add_record(w, slice_make("x", 1)), STRATA_IO_ERROR);
        struct env_file *f;
        struct wal_reader *r = reader_open(&f);
        expect_record(r, &lg, 0);
        size_t size;
        char *raw = file_load(&size);
        cr_assert_eq(size % CHUNK, 0);
        cr_assert(k == 0 || zeros_start(raw, size) > lg.off[1], "the partial copy wrote nothing");
        expect_end_after(r, raw, size, lg.off[1]);
        free(raw);
        reader_close(r, f);
        cr_assert_eq(wal_writer_close(w), STRATA_OK);
        lg.n = 1;
        lg.size = lg.end[0];
        expect_log(&lg);
        lg.n = 2;
        log_free(&lg);
    }
}

Test(wal, mapped_sync)
{
    struct wal_writer *w = mapped_open();
    cr_assert_eq(wal_writer_add_record(w, slice_make("x", 1)), STRATA_OK);
    cr_assert_eq(wal_writer_sync(w), STRATA_OK, "%s", strata_last_error());
    env_set_fault(env, 1, ENV_OP_SYNC, EIO);
    cr_assert_eq(wal_writer_sync(w), STRATA_IO_ERROR);
    cr_assert(strstr(strata_last_error(), path) != NULL, "%s", strata_last_error());
    cr_assert_eq(wal_writer_close(w), STRATA_OK);
    expect_only("x");
}

/* A real failure of the grow, not an injected one: past the file size
 * limit (RLIMIT_FSIZE) fallocate fails with EFBIG, as it fails with ENOSPC
 * on a full disk.  The record gets the error status; no signal kills the
 * process, and the records before it stay. */
Test(wal, mapped_grow_fails_past_the_file_size_limit)
{
    struct rlimit old, rl;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    if (old.rlim_max != RLIM_INFINITY && old.rlim_max < 2 * CHUNK)
        cr_assert_fail("the file size limit is already %llu", (unsigned long long)old.rlim_max);
    signal(SIGXFSZ, SIG_IGN); /* else the kernel's SIGXFSZ would end the test */
    rl = old;
    rl.rlim_cur = CHUNK + CHUNK / 2;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    struct log lg = { 0 };
    struct wal_writer *w = mapped_open();
    int rc = STRATA_OK;
    while (rc == STRATA_OK && lg.size < 2 * CHUNK) {
        log_add(&lg, 1000);
        rc = wal_writer_add_record(w, slice_make(lg.data[lg.n - 1], 1000));
    }
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    cr_assert_eq(rc, STRATA_IO_ERROR, "the records went past the limit: %d", rc);
    expect_message("allocate", strerror(EFBIG));
    cr_assert_gt(lg.end[lg.n - 1], (uint64_t)CHUNK, "it failed before the first chunk was full");
    cr_assert_eq(wal_writer_close(w), STRATA_OK, "%s", strata_last_error());
    lg.n--;
    lg.size = lg.end[lg.n - 1];
    expect_log(&lg);
    lg.n++;
    log_free(&lg);
}

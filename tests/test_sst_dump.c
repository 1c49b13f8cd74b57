/*
 * test_sst_dump.c: sst-dump (tools/), the inspection tool.
 *
 * Each test builds a small database through the public API (a 64 KiB
 * write buffer and 1 KiB blocks, so that 3000 puts make several tables and
 * leave a write-ahead log; deletes of every seventh key; one batch with a
 * binary key), closes it, and runs the tool on its files: in-process
 * through dump_main() for the output and the exit status, and once as
 * build/.../sst-dump, the binary next to the test binary.  The sequence
 * numbers the writes get are computed here the way the database assigns
 * them (one per update, from 1, in write order), so the output can be
 * compared line by line.  Damage is done to copies, with plain file I/O.
 * What a checksum cannot catch (keys out of order, a wrong separator, a
 * count that does not add up, a filter missing a key) is forged: small
 * tables written block by block here, checksums and all.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sstable/block_builder.h"
#include "sstable/bloom.h"
#include "sstable/format.h"
#include "src/buf.h"
#include "src/coding.h"
#include "src/dbformat.h"
#include "src/hash.h"
#include "strata.h"
#include "tests/testutil.h"
#include "tools/dump_out.h"
#include "tools/sst_dump_lib.h"

/* Criterion reports every assertion to its runner; the loops below check
 * thousands of results, so they only call it on failure. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            cr_assert_fail(__VA_ARGS__);                                                           \
    } while (0)

enum { NUM_KEYS = 3000, DELETE_EVERY = 7 };

static char *dir;  /* the database */
static char *work; /* copies to damage */

static void setup(void)
{
    dir = tu_mkdtemp("dump-db");
    work = tu_mkdtemp("dump-work");
    cr_assert(dir != NULL && work != NULL, "mkdtemp: %s", strerror(errno));
}

static void teardown(void)
{
    tu_rmrf(dir);
    tu_rmrf(work);
    free(dir);
    free(work);
}

TestSuite(sst_dump, .init = setup, .fini = teardown);

/* ---- the database --------------------------------------------------------------- */

static size_t key_of(char *k, int i)
{
    return (size_t)snprintf(k, 16, "key%06d", i);
}

static size_t value_of(char *v, int i)
{
    int n = snprintf(v, 32, "value-%d-", i);
    memset(v + n, 'a' + i % 26, 100);
    return (size_t)n + 100;
}

/* The sequence number of the put of key i: one per update in write order,
 * the delete of key i right after its put when i % 7 == 0. */
static uint64_t put_seq(int i)
{
    return (uint64_t)i + (uint64_t)(i + DELETE_EVERY - 1) / DELETE_EVERY + 1;
}

/* The batch's binary key: a NUL, a 0xff, a quote and a backslash. */
static const char batch_key[] = "bin\0\xff'\\";
#define BATCH_KEY_LEN 7
#define BATCH_KEY_ESCAPED "bin\\x00\\xff\\x27\\x5c"

static void build_db(void)
{
    strata_options *o = strata_options_new();
    strata_options_set_write_buffer_size(o, 64 << 10);
    strata_options_set_block_size(o, 1024);
    strata_db *db = NULL;
    int rc = strata_open(dir, o, &db);
    strata_options_free(o);
    cr_assert_eq(rc, STRATA_OK, "open: %s", strata_last_error());
    char k[16], v[160];
    for (int i = 0; i < NUM_KEYS; i++) {
        size_t kl = key_of(k, i);
        rc = strata_put(db, NULL, k, kl, v, value_of(v, i));
        if (rc == STRATA_OK && i % DELETE_EVERY == 0)
            rc = strata_delete(db, NULL, k, kl);
        CHECK(rc == STRATA_OK, "write %d: %s", i, strata_last_error());
    }
    strata_batch *b = strata_batch_new();
    strata_batch_put(b, batch_key, BATCH_KEY_LEN, "v\n", 2);
    strata_batch_delete(b, "key000001", 9);
    cr_assert_eq(strata_write(db, NULL, b), STRATA_OK, "%s", strata_last_error());
    strata_batch_free(b);
    cr_assert_eq(strata_close(db), STRATA_OK, "%s", strata_last_error());
}

/* The path of the n-th (from 0) file "NNNNNN<suffix>" of dir (malloc'ed),
 * or of the last one when n is -1. */
static char *numbered_path(const char *suffix, int n)
{
    size_t count;
    uint64_t *nums = tu_numbered_files(dir, suffix, &count);
    cr_assert(nums != NULL && count > 0, "no %s file in %s", suffix, dir);
    size_t i = n < 0 ? count - 1 : (size_t)n;
    cr_assert_lt(i, count);
    char name[32];
    snprintf(name, sizeof name, "%06" PRIu64 "%s", nums[i], suffix);
    free(nums);
    return tu_join(dir, name);
}

/* Copy src to work/name; the copy's path (malloc'ed). */
static char *copy_to_work(const char *src, const char *name)
{
    size_t len;
    char *data = tu_read_file(src, &len);
    cr_assert_not_null(data, "read %s", src);
    char *dst = tu_join(work, name);
    cr_assert_eq(tu_write_file(dst, data, len), 0, "write %s", dst);
    free(data);
    return dst;
}

/* ---- running the tool --------------------------------------------------------------- */

struct run {
    int status;
    char *out, *err;
    size_t out_len, err_len;
};

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

/* dump_main on the NULL-terminated arguments, its output captured. */
static struct run run_args(const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"sst-dump";
    for (; args[argc - 1] != NULL; argc++) {
        cr_assert_lt(argc, 31);
        argv[argc] = (char *)args[argc - 1];
    }
    argv[argc] = NULL;
    struct run r;
    FILE *out = open_memstream(&r.out, &r.out_len);
    FILE *err = open_memstream(&r.err, &r.err_len);
    cr_assert(out != NULL && err != NULL);
    r.status = dump_main(argc, argv, out, err);
    fclose(out);
    fclose(err);
    return r;
}

#define RUN(...) run_args((const char *const[]){ __VA_ARGS__, NULL })

static int count_of(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The number after "name" on its line in the properties, or -1. */
static long long property(const char *out, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "  %s ", name);
    const char *p = strstr(out, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/* ---- properties, entries, ranges -------------------------------------------------- */

Test(sst_dump, properties_of_a_table)
{
    build_db();
    char *t = numbered_path(".sst", 0);
    struct run r = RUN(t);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    char header[512];
    snprintf(header, sizeof header, "== %s (table, %lld bytes) ==\n", t, tu_file_size(t));
    cr_assert_not_null(strstr(r.out, header), "%s", r.out);
    long long entries = property(r.out, "strata.entries");
    long long blocks = property(r.out, "strata.data.blocks");
    long long deletions = property(r.out, "strata.deletions");
    cr_assert(entries > 100 && blocks >= 2 && deletions > 0, "%s", r.out);
    /* The first table holds the first writes: key000000's delete (seq 2)
     * sorts before its put. */
    cr_assert_not_null(strstr(r.out, "strata.smallest.key          'key000000' @ 2 : delete\n"),
                       "%s", r.out);
    cr_assert_eq(property(r.out, "strata.filter.bits.per.key"), 10);
    cr_assert_eq(property(r.out, "strata.seq.smallest"), 1);
    run_free(&r);
    free(t);
}

Test(sst_dump, scan_prints_keys_sequences_and_types)
{
    build_db();
    char *t = numbered_path(".sst", 0);
    struct run r = RUN("--scan", t);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    char line[256], v[160];
    for (int i = 0; i < 60; i++) {
        char k[16];
        key_of(k, i);
        size_t vl = value_of(v, i);
        snprintf(line, sizeof line, "\n  '%s' @ %" PRIu64 " : put => '%.*s'\n", k, put_seq(i),
                 (int)vl, v);
        CHECK(strstr(r.out, line) != NULL, "missing %s in\n%.2000s", line, r.out);
        if (i % DELETE_EVERY == 0) {
            snprintf(line, sizeof line, "\n  '%s' @ %" PRIu64 " : delete\n", k, put_seq(i) + 1);
            CHECK(strstr(r.out, line) != NULL, "missing %s", line);
        }
    }
    /* Every entry of the table, as many as the properties say. */
    struct run p = RUN(t);
    char count[64];
    snprintf(count, sizeof count, "  (%lld entries)\n", property(p.out, "strata.entries"));
    cr_assert_not_null(strstr(r.out, count), "want %s", count);
    run_free(&p);
    run_free(&r);
    free(t);
}

/* Every entry line's user key, checked against [from, to); returns how
 * many there are and whether want appears. */
static int keys_in_range(const char *out, const char *from, const char *to, const char *want,
                         int *found)
{
    int n = 0;
    *found = 0;
    for (const char *p = strstr(out, "\n  '"); p != NULL; p = strstr(p + 1, "\n  '")) {
        const char *k = p + 4, *end = strchr(k, '\'');
        cr_assert_not_null(end);
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(end - k), k);
        cr_assert(strcmp(key, from) >= 0 && strcmp(key, to) < 0, "key %s outside [%s, %s)", key,
                  from, to);
        *found |= !strcmp(key, want);
        n++;
    }
    return n;
}

Test(sst_dump, from_and_to_bound_the_scan)
{
    build_db();
    /* The whole directory: tables and logs, all bounded alike. */
    struct run r = RUN("--scan", "--from", "key000010", "--to=key000013", dir);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    int found;
    int n = keys_in_range(r.out, "key000010", "key000013", "key000012", &found);
    cr_assert(found, "%s", r.out);
    cr_assert_eq(n, 3, "%s", r.out); /* 10, 11, 12: no delete among them, no overwrite */
    char line[64];
    snprintf(line, sizeof line, "  'key000010' @ %" PRIu64 " : put => 'value-10-", put_seq(10));
    cr_assert_not_null(strstr(r.out, line), "%s", r.out);
    run_free(&r);

    /* An escaped bound: the batch's binary key and nothing else starts with "bin". */
    r = RUN("--scan", "--from", "bin\\x00", "--to", "bin\\x01", dir);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_eq(count_of(r.out, "\n  '"), 1, "%s", r.out);
    cr_assert_not_null(strstr(r.out, "  '" BATCH_KEY_ESCAPED "' @ "), "%s", r.out);
    cr_assert_not_null(strstr(r.out, " : put => 'v\\x0a'\n"), "%s", r.out);
    run_free(&r);
}

Test(sst_dump, hex_prints_every_byte_in_hex)
{
    build_db();
    char *t = numbered_path(".sst", 0);
    struct run r = RUN("--scan", "--hex", "--from", "key000010", "--to", "key000011", t);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    /* "key000010" and the start of "value-10-". */
    char line[128];
    snprintf(line, sizeof line, "  '6b6579303030303130' @ %" PRIu64 " : put => '76616c75652d31302d",
             put_seq(10));
    cr_assert_not_null(strstr(r.out, line), "%s", r.out);
    cr_assert_null(strstr(r.out, "'key000010'"), "%s", r.out);
    cr_assert_eq(count_of(r.out, "\n  '"), 1, "%s", r.out);
    run_free(&r);
    free(t);
}

Test(sst_dump, escaping_round_trips)
{
    struct buf esc = { 0 }, back = { 0 };
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    for (int hex = 0; hex < 2; hex++) {
        cr_assert_eq(dump_escape(slice_make(all, sizeof all), hex, &esc), STRATA_OK);
        for (size_t i = 0; i < esc.len; i++)
            CHECK(esc.data[i] >= 0x20 && esc.data[i] < 0x7f, "byte %zu of the form", i);
    }
    cr_assert_eq(dump_escape(slice_make(all, sizeof all), 0, &esc), STRATA_OK);
    cr_assert_eq(esc.len, 95 - 2 + 4 * (256 - 95 + 2), "printable bytes but \\ and ' stay");
    buf_append(&esc, "", 1);
    cr_assert_eq(dump_unescape(esc.data, &back), STRATA_OK);
    cr_assert(back.len == sizeof all && memcmp(back.data, all, sizeof all) == 0);
    cr_assert_eq(dump_unescape("a\\x4", &back), STRATA_INVALID_ARGUMENT);
    cr_assert_eq(dump_unescape("a\\n", &back), STRATA_INVALID_ARGUMENT);
    cr_assert_eq(dump_unescape("\\X41\\x4A", &back), STRATA_INVALID_ARGUMENT);
    cr_assert_eq(dump_unescape("\\x41\\x4A", &back), STRATA_OK);
    cr_assert(back.len == 2 && !memcmp(back.data, "AJ", 2));
    buf_free(&esc);
    buf_free(&back);
}

/* ---- blocks and the filter ---------------------------------------------------------- */

struct block_row {
    char kind[16], compression[16];
    long long offset, stored, raw, restarts;
};

/* The rows of --blocks in out; returns their number. */
static int parse_blocks(const char *out, struct block_row *rows, int max)
{
    const char *p = strstr(out, "\nblocks:\n");
    cr_assert_not_null(p, "%s", out);
    p = strchr(p + 9, '\n'); /* the column titles */
    int n = 0;
    while (p != NULL && n < max && !strncmp(p, "\n  ", 3)) {
        struct block_row *r = &rows[n];
        char raw[32], restarts[32];
        if (sscanf(p + 1, "%15s %lld %lld %31s %15s %31s", r->kind, &r->offset, &r->stored, raw,
                   r->compression, restarts) != 6)
            break;
        r->raw = atoll(raw);
        r->restarts = restarts[0] == '-' ? -1 : atoll(restarts);
        n++;
        p = strchr(p + 1, '\n');
    }
    return n;
}

Test(sst_dump, blocks_are_listed_in_file_order)
{
    build_db();
    char *t = numbered_path(".sst", 0);
    struct run r = RUN("--blocks", t);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    static struct block_row rows[512];
    int n = parse_blocks(r.out, rows, 512);
    long long data_blocks = property(r.out, "strata.data.blocks");
    cr_assert_eq(n, data_blocks + 5,
                 "data blocks, filter, properties, metaindex, index, footer\n%s", r.out);
    long long next = 0;
    for (int i = 0; i < n - 1; i++) {
        const struct block_row *b = &rows[i];
        /* Blocks tile the file: each starts where the last trailer ends. */
        cr_assert_eq(b->offset, next, "row %d of\n%s", i, r.out);
        cr_assert(b->stored > 0 && b->stored < 64 << 10 && b->raw >= b->stored / 2, "row %d", i);
        next = b->offset + b->stored + 5;
        if (i < data_blocks) {
            cr_assert_str_eq(b->kind, "data");
            cr_assert(b->raw >= 1024 || i == data_blocks - 1, "a 1 KiB block size: row %d", i);
            cr_assert_geq(b->restarts, 1);
            cr_assert(!strcmp(b->compression, "zstd") || !strcmp(b->compression, "none"));
        }
    }
    cr_assert_eq(next, property(r.out, "strata.data.bytes") +
                           property(r.out, "strata.filter.bytes") + rows[data_blocks + 1].stored +
                           5 + rows[data_blocks + 2].stored + 5 +
                           property(r.out, "strata.index.bytes"));
    cr_assert_str_eq(rows[data_blocks].kind, "filter");
    cr_assert_str_eq(rows[data_blocks + 3].kind, "index");
    cr_assert_eq(rows[data_blocks + 3].restarts, data_blocks, "one index entry per data block");
    cr_assert_str_eq(rows[n - 1].kind, "footer");
    cr_assert_eq(rows[n - 1].offset + 56, tu_file_size(t));
    cr_assert_eq(rows[n - 1].offset, next);
    run_free(&r);
    free(t);
}

Test(sst_dump, bloom_says_maybe_for_present_keys_and_mostly_no_for_absent_ones)
{
    build_db();
    char *t = numbered_path(".sst", 0);
    struct run r = RUN("--bloom", "key000005", t);
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "bloom 'key000005': may contain\n"), "%s", r.out);
    run_free(&r);
    int absent = 0, total = 300;
    for (int i = 0; i < total; i++) {
        char k[32];
        snprintf(k, sizeof k, "nokey%d", i);
        r = RUN("--bloom", k, t);
        CHECK(r.status == 0, "%s", r.err);
        absent += strstr(r.out, ": absent (the filter rules it out)\n") != NULL;
        run_free(&r);
    }
    cr_log_info("%d of %d absent keys ruled out", absent, total);
    cr_assert_geq(absent, total * 9 / 10, "about 1%% false positives at 10 bits per key");
    free(t);
}

/* ---- --check on good files ---------------------------------------------------------- */

Test(sst_dump, check_passes_on_good_tables_and_logs)
{
    build_db();
    char *t = numbered_path(".sst", 0), *log = numbered_path(".log", -1);
    struct run r = RUN("--check", t, log);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_eq(count_of(r.out, "check: ok\n"), 2, "%s", r.out);
    cr_assert_eq(count_of(r.out, "problem"), 0, "%s", r.out);
    char checked[128];
    snprintf(checked, sizeof checked, "checked: %lld entries in %lld data blocks\n",
             property(r.out, "strata.entries"), property(r.out, "strata.data.blocks"));
    cr_assert_not_null(strstr(r.out, checked), "%s", r.out);
    /* The log's last record is the batch: two updates after the 3000 puts
     * and 429 deletes. */
    char last[128];
    uint64_t last_seq = put_seq(NUM_KEYS - 1) + 2;
    snprintf(last, sizeof last, "..%" PRIu64 "\n", last_seq);
    cr_assert_not_null(strstr(r.out, last), "want %s in\n%s", last, r.out);
    run_free(&r);
    free(t);
    free(log);
}

/* ---- damage ------------------------------------------------------------------------------ */

/* The offset of the first block of kind (the n-th of its kind) in the
 * --blocks listing of path. */
static long long block_offset(const char *path, const char *kind, int nth)
{
    struct run r = RUN("--blocks", path);
    static struct block_row rows[512];
    int n = parse_blocks(r.out, rows, 512);
    run_free(&r);
    for (int i = 0; i < n; i++)
        if (!strcmp(rows[i].kind, kind) && nth-- == 0)
            return rows[i].offset;
    cr_assert_fail("no %s block in %s", kind, path);
    return -1;
}

/* --check on path exits 1 naming path and the offset; the plain dump
 * exits plain_status and --scan and --blocks do not crash. */
static void expect_damage(const char *path, long long offset, int plain_status)
{
    char where[512];
    snprintf(where, sizeof where, "problem: %s at offset %lld: ", path, offset);
    struct run r = RUN("--check", path);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert_not_null(strstr(r.out, where), "want %s in\n%s", where, r.out);
    cr_assert_not_null(strstr(r.err, "problem"), "%s", r.err);
    run_free(&r);
    r = RUN(path);
    cr_assert_eq(r.status, plain_status, "%s", r.out);
    run_free(&r);
    r = RUN("--scan", "--blocks", "--bloom", "key000001", path);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert_not_null(strstr(r.out, where), "want %s in\n%s", where, r.out);
    run_free(&r);
}

Test(sst_dump, damaged_data_block)
{
    build_db();
    char *t = numbered_path(".sst", 0);
    char *copy = copy_to_work(t, "000100.sst");
    long long at = block_offset(copy, "data", 1);
    cr_assert_eq(tu_xor_byte(copy, at + 10, 0x20), 0);
    /* The footer, index and properties are intact: the plain dump is fine. */
    expect_damage(copy, at, 0);
    free(t);
    free(copy);
}

Test(sst_dump, damaged_index_block)
{
    build_db();
    char *t = numbered_path(".sst", 0);
    char *copy = copy_to_work(t, "copy.sst");
    long long at = block_offset(copy, "index", 0);
    cr_assert_eq(tu_xor_byte(copy, at + 3, 0x01), 0);
    expect_damage(copy, at, 1);
    free(t);
    free(copy);
}

Test(sst_dump, damaged_footer)
{
    build_db();
    char *t = numbered_path(".sst", 0);
    char *copy = copy_to_work(t, "000100.sst");
    long long size = tu_file_size(copy);
    cr_assert_eq(tu_xor_byte(copy, size - 56 + 2, 0x80), 0); /* in the index handle */
    expect_damage(copy, size - 56, 1);
    free(t);
    free(copy);
}

/* Every byte of a table is under a checksum (blocks and trailers under
 * their trailers', the footer under its own and its magic), so flipping
 * any one must make --check fail, and the reads --scan does too: never
 * pass, never crash.  Every ninth byte, to keep the sanitizer runs short;
 * truncations likewise. */
Test(sst_dump, every_flipped_byte_is_found)
{
    build_db();
    char *t = numbered_path(".sst", 0);
    char *copy = copy_to_work(t, "000100.sst");
    long long size = tu_file_size(copy);
    for (long long at = 0; at < size; at += 9) {
        cr_assert_eq(tu_xor_byte(copy, at, 0x10), 0);
        struct run r = RUN("--check", "--json", copy);
        CHECK(r.status == 1, "a flip at %lld: status %d\n%s", at, r.status, r.out);
        CHECK(strstr(r.out, "\"problems\":[{\"offset\":") != NULL, "a flip at %lld: no offset\n%s",
              at, r.out);
        run_free(&r);
        r = RUN("--scan", "--blocks", "--bloom", "key000003", copy);
        CHECK(r.status == 1, "a flip at %lld: status %d\n%s", at, r.status, r.out);
        run_free(&r);
        cr_assert_eq(tu_xor_byte(copy, at, 0x10), 0);
    }
    for (long long len = size - 1; len > 0; len = len * 2 / 3) {
        cr_assert_eq(tu_truncate(copy, len), 0);
        struct run r = RUN("--check", "--scan", "--blocks", copy);
        CHECK(r.status == 1, "cut to %lld bytes: status %d\n%s", len, r.status, r.out);
        run_free(&r);
    }
    free(t);
    free(copy);
}

Test(sst_dump, torn_and_corrupted_logs)
{
    build_db();
    char *log = numbered_path(".log", -1);
    char *torn = copy_to_work(log, "000100.log");
    long long size = tu_file_size(torn);
    /* Cut inside the last record (the batch, about 30 bytes). */
    cr_assert_eq(tu_truncate(torn, size - 10), 0);
    struct run r = RUN("--wal", "--check", torn);
    cr_assert_eq(r.status, 0, "a torn tail is not damage\n%s", r.out);
    cr_assert_not_null(strstr(r.out, "torn tail: "), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "check: ok\n"), "%s", r.out);
    cr_assert_null(strstr(r.out, BATCH_KEY_ESCAPED), "the torn batch is dropped");
    run_free(&r);
    r = RUN("--json", torn);
    cr_assert_not_null(strstr(r.out, "\"torn_tail\":{\"offset\":"), "%s", r.out);
    run_free(&r);

    /* Damage in the middle is corruption: problem, exit 1, and the records
     * after it are still printed. */
    char *bad = copy_to_work(log, "damaged.bin");
    cr_assert_eq(tu_xor_byte(bad, 20, 0x01), 0); /* in the first record's payload */
    r = RUN("--wal", bad);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert_not_null(strstr(r.out, "checksum mismatch"), "%s", r.out);
    char where[512];
    snprintf(where, sizeof where, "problem: %s at offset 0: ", bad);
    cr_assert_not_null(strstr(r.out, where), "%s", r.out);
    cr_assert_not_null(strstr(r.out, BATCH_KEY_ESCAPED), "records after the damage:\n%s", r.out);
    run_free(&r);
    /* Without --wal the name says nothing. */
    r = RUN(bad);
    cr_assert_eq(r.status, 1);
    cr_assert_not_null(strstr(r.out, "cannot tell the kind of file"), "%s", r.out);
    run_free(&r);
    free(log);
    free(torn);
    free(bad);
}

/* ---- directories, MANIFEST and CURRENT -------------------------------------------------- */

Test(sst_dump, directory_mode_lists_every_file_in_name_order)
{
    build_db();
    struct run r = RUN("--check", dir);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    int n = 0;
    FILE *ls;
    char cmd[512], name[256];
    snprintf(cmd, sizeof cmd, "ls -1 '%s' | LC_ALL=C sort", dir);
    cr_assert_not_null(ls = popen(cmd, "r"));
    const char *last = r.out;
    while (fgets(name, sizeof name, ls) != NULL) {
        name[strcspn(name, "\n")] = '\0';
        char header[512];
        snprintf(header, sizeof header, "== %s/%s (", dir, name);
        const char *at = strstr(r.out, header);
        cr_assert_not_null(at, "no header for %s in\n%s", name, r.out);
        cr_assert(at >= last, "%s out of name order", name);
        last = at;
        n++;
    }
    pclose(ls);
    cr_assert_geq(n, 8, "tables, logs, MANIFEST, CURRENT, LOCK, LOG");
    cr_assert_eq(count_of(r.out, "\n== ") + 1, n, "%s", r.out);
    cr_assert_eq(count_of(r.out, "(table, "),
                 count_of(r.out, "check: ok\n") - count_of(r.out, "(wal, ") - 2);
    cr_assert_not_null(strstr(r.out, "(lock, 0 bytes) ==\nskipped: "), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "manifest: 'MANIFEST-"), "%s", r.out);
    run_free(&r);
}

Test(sst_dump, manifest_edits_and_state)
{
    build_db();
    struct run r = RUN(dir);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    size_t ntables;
    uint64_t *tables = tu_numbered_files(dir, ".sst", &ntables);
    cr_assert(tables != NULL && ntables >= 3, "several tables");
    cr_assert_geq(count_of(r.out, "  comparator 'strata.bytewise'\n"), 1, "%s", r.out);
    char line[128];
    for (size_t i = 0; i < ntables; i++) {
        /* Flushes of keys written in order may land below level 0. */
        int added = 0, listed = 0;
        for (int level = 0; level < 7; level++) {
            snprintf(line, sizeof line, "  new table: level %d, #%06" PRIu64 ", ", level, tables[i]);
            added += strstr(r.out, line) != NULL;
            snprintf(line, sizeof line, "  level %d: #%06" PRIu64 " (", level, tables[i]);
            listed += strstr(r.out, line) != NULL;
        }
        CHECK(added, "no edit adds #%06" PRIu64 "\n%s", tables[i], r.out);
        CHECK(listed == 1, "#%06" PRIu64 " not in the state once\n%s", tables[i], r.out);
    }
    snprintf(line, sizeof line, ", %zu tables\n", ntables);
    cr_assert_not_null(strstr(r.out, line), "%s", r.out);
    run_free(&r);

    /* A live table gone: --check on the directory says so in the MANIFEST's report. */
    char *t = numbered_path(".sst", 0);
    cr_assert_eq(unlink(t), 0);
    r = RUN("--check", dir);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert_not_null(strstr(r.out, "cannot be opened"), "%s", r.out);
    run_free(&r);
    free(t);
    free(tables);
}

Test(sst_dump, damaged_current)
{
    build_db();
    char *current = tu_join(dir, "CURRENT");
    cr_assert_eq(tu_write_file(current, "MANIFEST-99\n", 12), 0);
    struct run r = RUN(current);
    cr_assert_eq(r.status, 1);
    cr_assert_not_null(strstr(r.out, "names MANIFEST-99, which is not in "), "%s", r.out);
    run_free(&r);
    cr_assert_eq(tu_write_file(current, "nonsense", 8), 0);
    r = RUN("--json", current);
    cr_assert_eq(r.status, 1);
    cr_assert_not_null(strstr(r.out, "\"manifest\":\"nonsense\""), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "\"offset\":0,\"message\":\"CURRENT is not"), "%s", r.out);
    run_free(&r);
    free(current);
}

/* ---- forged tables: valid checksums, wrong contents ---------------------------------- */

struct forge_entry {
    const char *key;
    uint64_t seq;
    enum value_type type;
    const char *value;
};

struct forge {
    const struct forge_entry *e;
    int n;
    const int *block_ends; /* block i holds entries [end[i-1], end[i]) */
    int nblocks;
    const struct forge_entry *seps; /* the index separators; NULL: each block's last key */
    long long entries;              /* -1: the true count */
    const char *unfiltered;         /* a user key the filter leaves out, or NULL */
    int gap;                        /* zero bytes written before the second data block */
};

static void forge_ikey(struct buf *b, const struct forge_entry *e)
{
    buf_clear(b);
    cr_assert_eq(buf_put_internal_key(b, slice_make(e->key, strlen(e->key)), e->seq, e->type),
                 STRATA_OK);
}

/* Append raw as a stored block (uncompressed) with its trailer. */
static void forge_block(struct buf *file, struct slice raw, struct block_handle *h)
{
    h->offset = file->len;
    h->size = raw.len;
    char trailer[BLOCK_TRAILER_SIZE] = { STRATA_COMPRESSION_NONE };
    encode_fixed32(trailer + 1, checksum32(raw.data, raw.len, STRATA_COMPRESSION_NONE));
    cr_assert_eq(buf_append(file, raw.data, raw.len), STRATA_OK);
    cr_assert_eq(buf_append(file, trailer, sizeof trailer), STRATA_OK);
}

static void forge_add(struct block_builder *b, struct slice key, struct slice value)
{
    cr_assert_eq(block_builder_add(b, key, value), STRATA_OK);
}

static void forge_add_handle(struct block_builder *b, struct slice key,
                             const struct block_handle *h)
{
    struct buf v = { 0 };
    cr_assert_eq(block_handle_encode(h, &v), STRATA_OK);
    forge_add(b, key, buf_slice(&v));
    buf_free(&v);
}

static void forge_add_number(struct block_builder *b, const char *name, uint64_t n)
{
    char enc[VARINT64_MAX_LEN];
    forge_add(b, slice_make(name, strlen(name)),
              slice_make(enc, (size_t)(encode_varint64(enc, n) - enc)));
}

/* The data blocks and the index; *raw_key, *raw_value, *deletions summed. */
static void forge_data(struct buf *file, const struct forge *f, struct block_builder *index,
                       uint64_t sums[3])
{
    struct block_builder bb;
    struct buf k = { 0 };
    for (int b = 0, i = 0; b < f->nblocks; b++) {
        for (int g = 0; b == 1 && g < f->gap; g++)
            cr_assert_eq(buf_append(file, "", 1), STRATA_OK);
        block_builder_init(&bb, 16);
        for (; i < f->block_ends[b]; i++) {
            forge_ikey(&k, &f->e[i]);
            forge_add(&bb, buf_slice(&k), slice_make(f->e[i].value, strlen(f->e[i].value)));
            sums[0] += k.len;
            sums[1] += strlen(f->e[i].value);
            sums[2] += f->e[i].type == TYPE_DELETION;
        }
        struct slice raw;
        struct block_handle h;
        cr_assert_eq(block_builder_finish(&bb, &raw), STRATA_OK);
        forge_block(file, raw, &h);
        forge_ikey(&k, f->seps ? &f->seps[b] : &f->e[i - 1]);
        forge_add_handle(index, buf_slice(&k), &h);
        block_builder_free(&bb);
    }
    buf_free(&k);
}

static void forge_filter(struct buf *file, const struct forge *f, struct block_handle *h)
{
    uint64_t hashes[64];
    size_t n = 0;
    for (int i = 0; i < f->n; i++)
        if ((i == 0 || strcmp(f->e[i].key, f->e[i - 1].key)) &&
            !(f->unfiltered && !strcmp(f->e[i].key, f->unfiltered)))
            hashes[n++] = hash64(f->e[i].key, strlen(f->e[i].key), 0);
    struct buf filter = { 0 };
    cr_assert_eq(bloom_build(hashes, n, 10, &filter), STRATA_OK);
    forge_block(file, buf_slice(&filter), h);
    buf_free(&filter);
}

/* The properties a builder would write, in bytewise order of the names. */
static void forge_properties(struct buf *file, const struct forge *f, const uint64_t sums[3],
                             uint64_t data_bytes, uint64_t filter_bytes, uint64_t index_bytes,
                             struct block_handle *h)
{
    struct block_builder pb;
    struct buf smallest = { 0 }, largest = { 0 };
    uint64_t min_seq = UINT64_MAX, max_seq = 0;
    for (int i = 0; i < f->n; i++) {
        min_seq = f->e[i].seq < min_seq ? f->e[i].seq : min_seq;
        max_seq = f->e[i].seq > max_seq ? f->e[i].seq : max_seq;
    }
    forge_ikey(&smallest, &f->e[0]);
    forge_ikey(&largest, &f->e[f->n - 1]);
    block_builder_init(&pb, 1);
    forge_add_number(&pb, "strata.compression", 0);
    forge_add_number(&pb, "strata.compression.level", 0);
    forge_add_number(&pb, "strata.creation.time", 0);
    forge_add_number(&pb, "strata.data.blocks", (uint64_t)f->nblocks);
    forge_add_number(&pb, "strata.data.bytes", data_bytes);
    forge_add_number(&pb, "strata.deletions", sums[2]);
    forge_add_number(&pb, "strata.entries",
                     f->entries >= 0 ? (uint64_t)f->entries : (uint64_t)f->n);
    forge_add_number(&pb, "strata.filter.bits.per.key", 10);
    forge_add_number(&pb, "strata.filter.bytes", filter_bytes);
    forge_add_number(&pb, "strata.index.bytes", index_bytes);
    forge_add(&pb, slice_make("strata.largest.key", 18), buf_slice(&largest));
    forge_add_number(&pb, "strata.raw.key.bytes", sums[0]);
    forge_add_number(&pb, "strata.raw.value.bytes", sums[1]);
    forge_add_number(&pb, "strata.seq.largest", max_seq);
    forge_add_number(&pb, "strata.seq.smallest", min_seq);
    forge_add(&pb, slice_make("strata.smallest.key", 19), buf_slice(&smallest));
    struct slice raw;
    cr_assert_eq(block_builder_finish(&pb, &raw), STRATA_OK);
    forge_block(file, raw, h);
    block_builder_free(&pb);
    buf_free(&smallest);
    buf_free(&largest);
}

/* Write the table f describes to work/name; its path (malloc'ed). */
static char *forge_table(const char *name, const struct forge *f)
{
    struct buf file = { 0 };
    struct block_builder index, meta;
    block_builder_init(&index, 1);
    block_builder_init(&meta, 1);
    uint64_t sums[3] = { 0, 0, 0 };
    forge_data(&file, f, &index, sums);
    uint64_t data_bytes = file.len;
    struct footer footer;
    struct block_handle fh, ph;
    struct slice index_raw;
    cr_assert_eq(block_builder_finish(&index, &index_raw), STRATA_OK);
    forge_filter(&file, f, &fh);
    forge_properties(&file, f, sums, data_bytes, fh.size + BLOCK_TRAILER_SIZE,
                     index_raw.len + BLOCK_TRAILER_SIZE, &ph);
    forge_add_handle(&meta, slice_make("filter.strata.bloom", 19), &fh);
    forge_add_handle(&meta, slice_make("properties", 10), &ph);
    struct slice meta_raw;
    cr_assert_eq(block_builder_finish(&meta, &meta_raw), STRATA_OK);
    forge_block(&file, meta_raw, &footer.metaindex);
    forge_block(&file, index_raw, &footer.index);
    char enc[FOOTER_SIZE];
    footer_encode(&footer, enc);
    cr_assert_eq(buf_append(&file, enc, sizeof enc), STRATA_OK);
    char *path = tu_join(work, name);
    cr_assert_eq(tu_write_file(path, file.data, file.len), 0);
    block_builder_free(&index);
    block_builder_free(&meta);
    buf_free(&file);
    return path;
}

/* --check on a forged table: exit 1 with a problem at offset that says what. */
static void expect_forged_problem(const struct forge *f, long long offset, const char *what)
{
    char *path = forge_table("000100.sst", f);
    struct run r = RUN("--check", path);
    char where[512];
    snprintf(where, sizeof where, "problem: %s at offset %lld: ", path, offset);
    cr_assert_eq(r.status, 1, "%s", r.out);
    const char *at = strstr(r.out, where);
    cr_assert(at != NULL && strstr(at, what) != NULL, "want %s%s... in\n%s", where, what, r.out);
    run_free(&r);
    /* The rest reads it without a crash. */
    r = RUN("--scan", "--blocks", "--bloom", "b", path);
    cr_assert_lt(r.status, 2);
    run_free(&r);
    free(path);
}

/* Four keys in two blocks: a@1 b@2 | c@3 d@4 (d deleted). */
static const struct forge_entry good_entries[] = {
    { "a", 1, TYPE_VALUE, "va" },
    { "b", 2, TYPE_VALUE, "vb" },
    { "c", 3, TYPE_VALUE, "vc" },
    { "d", 4, TYPE_DELETION, "" },
};
static const int two_blocks[] = { 2, 4 };

Test(sst_dump, forged_good_table_passes)
{
    struct forge f = { good_entries, 4, two_blocks, 2, NULL, -1, NULL, 0 };
    char *path = forge_table("000100.sst", &f);
    struct run r = RUN("--check", "--scan", path);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_not_null(strstr(r.out, "  'b' @ 2 : put => 'vb'\n  'c' @ 3 : put => 'vc'\n"
                                     "  'd' @ 4 : delete\n  (4 entries)\n"),
                       "%s", r.out);
    cr_assert_not_null(strstr(r.out, "checked: 4 entries in 2 data blocks\ncheck: ok\n"), "%s",
                       r.out);
    run_free(&r);
    free(path);
}

Test(sst_dump, forged_keys_out_of_order)
{
    static const struct forge_entry e[] = {
        { "a", 1, TYPE_VALUE, "va" },
        { "c", 3, TYPE_VALUE, "vc" },
        { "b", 2, TYPE_VALUE, "vb" },
        { "d", 4, TYPE_VALUE, "vd" },
    };
    static const struct forge_entry seps[] = { { "c", 3, TYPE_VALUE, "" },
                                               { "d", 4, TYPE_VALUE, "" } };
    /* b is out of order inside the second block, after c ends the first. */
    struct forge f = { e, 4, two_blocks, 2, seps, -1, NULL, 0 };
    char *path = forge_table("000100.sst", &f);
    long long at = block_offset(path, "data", 1);
    free(path);
    expect_forged_problem(&f, at,
                          "key 'b' @ 2 : put is not above the key before it, 'c' @ 3 : put");
}

Test(sst_dump, forged_separator_below_its_block)
{
    /* Block 0 ends with b, but its separator is a. */
    static const struct forge_entry seps[] = { { "a", 1, TYPE_VALUE, "" },
                                               { "d", 4, TYPE_DELETION, "" } };
    struct forge f = { good_entries, 4, two_blocks, 2, seps, -1, NULL, 0 };
    expect_forged_problem(
        &f, 0, "the index separator 'a' @ 1 : put is below the block's last key 'b' @ 2 : put");
}

Test(sst_dump, forged_separator_past_the_next_block)
{
    /* Block 0's separator c@1 sorts after c@3, block 1's first key. */
    static const struct forge_entry seps[] = { { "c", 1, TYPE_VALUE, "" },
                                               { "d", 4, TYPE_DELETION, "" } };
    struct forge f = { good_entries, 4, two_blocks, 2, seps, -1, NULL, 0 };
    char *path = forge_table("000100.sst", &f);
    long long at = block_offset(path, "data", 1);
    free(path);
    expect_forged_problem(&f, at,
                          "the index separator of the block before, 'c' @ 1 : put, is not below");
}

Test(sst_dump, forged_entry_count)
{
    struct forge f = { good_entries, 4, two_blocks, 2, NULL, 5, NULL, 0 };
    char *path = forge_table("000100.sst", &f);
    long long at = block_offset(path, "properties", 0);
    free(path);
    expect_forged_problem(&f, at, "the properties say 5 entries, the data has 4");
}

Test(sst_dump, forged_gap_between_blocks)
{
    struct forge f = { good_entries, 4, two_blocks, 2, NULL, -1, NULL, 3 };
    char *path = forge_table("000100.sst", &f);
    long long at = block_offset(path, "data", 1);
    free(path);
    char what[128];
    snprintf(what, sizeof what,
             "data block 1 starts at %lld, not where the block before it ends (%lld)", at, at - 3);
    expect_forged_problem(&f, at, what);
}

Test(sst_dump, forged_malformed_key)
{
    /* b's tag has type 5: no such type. */
    static const struct forge_entry e[] = {
        { "a", 1, TYPE_VALUE, "va" },
        { "b", 2, (enum value_type)5, "vb" },
        { "c", 3, TYPE_VALUE, "vc" },
        { "d", 4, TYPE_DELETION, "" },
    };
    struct forge f = { e, 4, two_blocks, 2, NULL, -1, NULL, 0 };
    expect_forged_problem(&f, 0, "malformed internal key 'b\\x05\\x02");
    /* The scan goes through the table reader, which passes the key on:
     * it is printed raw, and a problem in the block the index names. */
    char *path = forge_table("000100.sst", &f);
    struct run r = RUN("--scan", path);
    char where[512];
    snprintf(where, sizeof where, "problem: %s at offset 0: malformed internal key", path);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert_not_null(strstr(r.out, where), "%s", r.out);
    cr_assert_not_null(
        strstr(r.out, "  'b\\x05\\x02\\x00\\x00\\x00\\x00\\x00\\x00' (malformed internal key)\n"),
        "%s", r.out);
    run_free(&r);
    free(path);
}

Test(sst_dump, forged_filter_missing_a_key)
{
    /* A filter without "b" rules it out (a filter of three keys in 10
     * bits each would let it through by chance with about 1% odds). */
    struct forge f = { good_entries, 4, two_blocks, 2, NULL, -1, "b", 0 };
    char *path = forge_table("000100.sst", &f);
    long long at = block_offset(path, "filter", 0);
    struct run r = RUN("--bloom", "b", path);
    int ruled_out = strstr(r.out, "absent") != NULL;
    run_free(&r);
    free(path);
    cr_assert(ruled_out, "this filter happens to let b through: pick another key");
    expect_forged_problem(
        &f, at, "the filter rules out 1 of the table's 4 user keys (the first: 'b' @ 2 : put)");
}

/* ---- usage ------------------------------------------------------------------------------- */

Test(sst_dump, usage_errors_exit_2)
{
    const char *const *cases[] = {
        (const char *const[]){ "--frobnicate", "x", NULL },
        (const char *const[]){ NULL },
        (const char *const[]){ "--scan", NULL },
        (const char *const[]){ "x", "--from", NULL },
        (const char *const[]){ "--bloom", "bad\\q", "x", NULL },
        (const char *const[]){ "--scan=1", "x", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct run r = run_args(cases[i]);
        cr_assert_eq(r.status, 2, "case %zu", i);
        cr_assert_not_null(strstr(r.err, "usage: sst-dump"), "case %zu: %s", i, r.err);
        cr_assert_eq(r.out_len, 0, "case %zu", i);
        run_free(&r);
    }
    struct run r = RUN("--help");
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "--bloom KEY"));
    run_free(&r);
    r = RUN("/nonexistent/000001.sst");
    cr_assert_eq(r.status, 1, "a missing file is a problem, not a usage error");
    run_free(&r);
}

/* ---- the binary, and JSON ---------------------------------------------------------------- */

/* build/.../sst-dump, next to this test binary. */
static char *tool_path(void)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(n, 0);
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    cr_assert_not_null(slash);
    *slash = '\0';
    char *tool = tu_join(self, "sst-dump");
    cr_assert(tu_exists(tool), "%s is missing: `make test` builds it (make tools)", tool);
    return tool;
}

static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The exit status of a shell command. */
static int shell(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    cr_assert(st != -1 && WIFEXITED(st), "%s", cmd);
    return WEXITSTATUS(st);
}

Test(sst_dump, the_binary_and_its_json)
{
    build_db();
    char *tool = tool_path();
    char *t = numbered_path(".sst", 0);
    cr_assert_eq(shell("'%s' '%s' >/dev/null", tool, t), 0);
    cr_assert_eq(shell("'%s' --no-such-flag '%s' 2>/dev/null", tool, t), 2);
    char *copy = copy_to_work(t, "000100.sst");
    cr_assert_eq(tu_xor_byte(copy, 100, 0x01), 0);
    cr_assert_eq(shell("'%s' --check '%s' >/dev/null 2>&1", tool, copy), 1);

    char *json = tu_join(work, "out.json");
    cr_assert_eq(
        shell("'%s' --json --scan --blocks --check --bloom key000001 '%s' > '%s'", tool, t, json),
        0);
    cr_assert_eq(shell("'%s' --json --scan --check '%s' >> '%s'", tool, dir, json), 0);
    cr_assert_eq(shell("'%s' --json --scan --check '%s' >> '%s' 2>/dev/null", tool, copy, json), 1);
    size_t len;
    char *text = tu_read_file(json, &len);
    cr_assert_not_null(text);
    /* The escaped form's backslashes, escaped once more for JSON. */
    cr_assert_not_null(strstr(text, "\"key\":\"bin\\\\x00\\\\xff\\\\x27\\\\x5c\""));
    cr_assert_not_null(strstr(text, "\"ok\":false"));
    free(text);
    if (shell("command -v python3 >/dev/null 2>&1") != 0) {
        cr_log_info("no python3: the JSON is not parsed");
    } else {
        /* The first line alone is one document; every line is one. */
        cr_assert_eq(
            shell("head -1 '%s' | python3 -c 'import json,sys; json.load(sys.stdin)'", json), 0);
        cr_assert_eq(
            shell("python3 -c 'import json,sys\n"
                  "objs = [json.loads(l) for l in open(sys.argv[1])]\n"
                  "assert len(objs) > 8, len(objs)\n"
                  "t = objs[0]\n"
                  "assert t[\"kind\"] == \"table\" and t[\"ok\"] and t[\"problems\"] == []\n"
                  "assert len(t[\"entries\"]) == t[\"properties\"][\"strata.entries\"]\n"
                  "assert t[\"bloom\"][\"may_contain\"] is True\n"
                  "assert [b[\"kind\"] for b in t[\"blocks\"]][-2:] == [\"index\", \"footer\"]\n"
                  "keys = [u[\"key\"] for o in objs if o[\"kind\"] == \"wal\"\n"
                  "        for r in o[\"records\"] for u in r[\"updates\"]]\n"
                  "assert \"bin\\\\x00\\\\xff\\\\x27\\\\x5c\" in keys, keys[-3:]\n"
                  "bad = objs[-1]\n"
                  "assert not bad[\"ok\"] and bad[\"problems\"][0][\"offset\"] == 0, bad\n"
                  "' '%s'",
                  json),
            0, "the JSON does not parse or is not what it should be");
    }
    free(json);
    free(copy);
    free(t);
    free(tool);
}

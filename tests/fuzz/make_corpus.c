/*
 * make_corpus.c: writes the seed corpus of the fuzz targets, made by the
 * engine's own builders (block_builder, table_builder, the log writer,
 * version_edit_encode, strata_batch), so that no binary file lives in the
 * source tree and the seeds follow the format when it changes.
 *
 *     make_corpus DIR    writes DIR/<target>/seed-NNN for each target
 *
 * Each seed is in the input layout its target describes at the top of its
 * file (flag byte first for block, table and wal).  The seeds are small
 * (at most a few tens of KiB) and the same from run to run but for the
 * tables' creation time (a property).  Exit status 0, or 1 with a message
 * naming what failed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sstable/block_builder.h"
#include "sstable/table_builder.h"
#include "src/buf.h"
#include "src/coding.h"
#include "src/dbformat.h"
#include "src/env.h"
#include "src/status.h"
#include "src/version_edit.h"
#include "src/write_batch.h"
#include "wal/log_writer.h"

static const char *out_dir;
static struct env *env;
static char scratch[4096];

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "make_corpus: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (%s)\n", strata_last_error());
    exit(1);
}

static void ok(int rc, const char *what)
{
    if (rc != STRATA_OK)
        die("%s failed with %d", what, rc);
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die("mkdir %s: %s", path, strerror(errno));
}

/* Write flag (when >= 0) and the bytes as the next seed of target. */
static void seed(const char *target, int flag, const void *data, size_t n)
{
    static int counter;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    make_dir(path);
    snprintf(path, sizeof path, "%s/%s/seed-%03d", out_dir, target, counter++);
    FILE *f = fopen(path, "wb");
    if (!f)
        die("open %s: %s", path, strerror(errno));
    unsigned char fl = (unsigned char)flag;
    if ((flag >= 0 && fwrite(&fl, 1, 1, f) != 1) || (n && fwrite(data, 1, n, f) != n) ||
        fclose(f) != 0)
        die("write %s: %s", path, strerror(errno));
}

static void internal_key(struct buf *b, const char *user_key, uint64_t seq, enum value_type t)
{
    buf_clear(b);
    ok(buf_put_internal_key(b, slice_make(user_key, strlen(user_key)), seq, t), "internal key");
}

/* ---- blocks ---------------------------------------------------------------------- */

/* A block of n keys (internal keys when internal, else bytewise), with
 * seek targets in front, in the raw-mode layout of fuzz_block.c. */
static void block_seed(int n, int interval, int internal, size_t key_pad)
{
    struct block_builder bb;
    struct buf key = { 0 }, in = { 0 };
    block_builder_init(&bb, interval);
    for (int i = 0; i < n; i++) {
        char uk[256];
        snprintf(uk, sizeof uk, "%0*d", (int)key_pad, i * 7);
        if (internal)
            internal_key(&key, uk, (uint64_t)(1000 - i), TYPE_VALUE);
        else
            buf_clear(&key), ok(buf_append(&key, uk, strlen(uk)), "key");
        char v[32];
        snprintf(v, sizeof v, "value-%d", i);
        ok(block_builder_add(&bb, buf_slice(&key), slice_make(v, strlen(v))), "block add");
    }
    struct slice contents;
    ok(block_builder_finish(&bb, &contents), "block finish");
    /* Targets: the key of entry 3 and one between entries. */
    char targets[64];
    size_t tn = 0;
    const char *t1 = internal ? "00000021\1\0\0\0\0\0\0\0" : "00000021";
    size_t t1n = internal ? 16 : 8;
    targets[tn++] = (char)t1n;
    memcpy(targets + tn, t1, t1n), tn += t1n;
    targets[tn++] = 3;
    memcpy(targets + tn, "000", 3), tn += 3;
    ok(buf_append(&in, (char[]){ (char)tn }, 1), "seed");
    ok(buf_append(&in, targets, tn), "seed");
    ok(buf_append(&in, contents.data, contents.len), "seed");
    seed("block", internal ? 2 : 0, in.data, in.len);
    block_builder_free(&bb);
    buf_free(&key);
    buf_free(&in);
}

static void block_build_seed(int internal)
{
    struct buf in = { 0 }, key = { 0 };
    ok(buf_append(&in, "\4", 1), "seed"); /* restart interval */
    for (int i = 0; i < 40; i++) {
        char uk[32];
        snprintf(uk, sizeof uk, "key%03d", (i * 17) % 40);
        if (internal)
            internal_key(&key, uk, (uint64_t)i, TYPE_VALUE);
        else
            buf_clear(&key), ok(buf_append(&key, uk, strlen(uk)), "key");
        ok(buf_append(&in, (char[]){ (char)key.len }, 1), "seed");
        ok(buf_append(&in, key.data, key.len), "seed");
        ok(buf_append(&in, "\3val", 4), "seed");
    }
    seed("block", internal ? 3 : 1, in.data, in.len);
    buf_free(&in);
    buf_free(&key);
}

static void make_blocks(void)
{
    block_seed(0, 1, 0, 1);   /* empty: the 4 zero bytes */
    block_seed(1, 1, 0, 8);
    block_seed(30, 1, 0, 8);
    block_seed(30, 4, 1, 8);
    block_seed(60, 16, 1, 8);
    block_seed(12, 3, 1, 80); /* keys over the iterator's 64 inline bytes */
    block_build_seed(0);
    block_build_seed(1);
}

/* ---- tables ------------------------------------------------------------------------ */

struct table_shape {
    int entries;
    size_t block_size;
    int restart_interval;
    int bloom_bits;
    int compression;
    int deletions; /* every third entry a deletion, and two versions of some keys */
    size_t value_len;
};

/* Build a table of this shape in the scratch file; its bytes in *image. */
static void build_table(const struct table_shape *s, struct buf *image)
{
    struct table_builder_options o = { s->block_size, s->restart_interval, s->bloom_bits,
                                       s->compression, 1 };
    struct env_file *f;
    ok(env_open(env, scratch, ENV_OPEN_TRUNCATE, &f), "open scratch");
    struct table_builder *b = table_builder_new(&o, f);
    if (!b)
        die("table_builder_new");
    struct buf key = { 0 };
    char value[512];
    for (int i = 0; i < s->entries; i++) {
        char uk[32];
        snprintf(uk, sizeof uk, "user%05d", i);
        int versions = s->deletions && i % 5 == 0 ? 2 : 1;
        for (int v = 0; v < versions; v++) {
            enum value_type t = s->deletions && (i + v) % 3 == 0 ? TYPE_DELETION : TYPE_VALUE;
            internal_key(&key, uk, (uint64_t)(10 * i + 2 - v), t);
            size_t vl = t == TYPE_VALUE ? s->value_len : 0;
            for (size_t j = 0; j < vl; j++)
                value[j] = (char)('a' + (i + j / 8) % 4); /* compressible */
            ok(table_builder_add(b, buf_slice(&key), slice_make(value, vl)), "table add");
        }
    }
    ok(table_builder_finish(b), "table finish");
    table_builder_free(b);
    ok(env_close(f), "close scratch");
    buf_free(&key);
    char *data;
    size_t n;
    ok(env_read_file(env, scratch, &data, &n), "read scratch");
    buf_clear(image);
    ok(buf_append(image, data, n), "image");
    free(data);
}

static void table_build_seed(int flags)
{
    struct buf in = { 0 };
    ok(buf_append(&in, "\x08\x02\x0a", 3), "seed"); /* block size 65, interval 3, 10 bits */
    for (int i = 0; i < 30; i++) {
        char uk[16];
        int n = snprintf(uk, sizeof uk, "k%02d", i % 20);
        ok(buf_append(&in, (char[]){ (char)n }, 1), "seed");
        ok(buf_append(&in, uk, (size_t)n), "seed");
        ok(buf_append(&in, (char[]){ (char)(2 * i + (i % 4 != 0)) }, 1), "seed");
        ok(buf_append(&in, "\5value", 6), "seed");
    }
    seed("table", flags, in.data, in.len);
    buf_free(&in);
}

static void make_tables(void)
{
    static const struct table_shape shapes[] = {
        { 100, 256, 16, 0, STRATA_COMPRESSION_NONE, 0, 12 },
        { 120, 512, 4, 10, STRATA_COMPRESSION_ZSTD, 1, 40 },
        { 1, 4096, 16, 10, STRATA_COMPRESSION_NONE, 0, 5 },
        { 0, 4096, 16, 0, STRATA_COMPRESSION_NONE, 0, 0 },
        { 40, 128, 1, 4, STRATA_COMPRESSION_NONE, 1, 0 },
    };
    /* Raw-mode flags: plain; checksums fixed; verify + cache + fill;
     * mmap + paranoid. */
    static const int flags[] = { 0x00, 0x01, 0x32, 0x0d };
    struct buf image = { 0 };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        build_table(&shapes[i], &image);
        for (size_t j = 0; j < sizeof flags / sizeof flags[0]; j++)
            seed("table", flags[j], image.data, image.len);
    }
    buf_free(&image);
    table_build_seed(0x80);
    table_build_seed(0x81 | 0x10 | 0x20); /* zstd, cache, fill */
    table_build_seed(0x80 | 0x08);        /* mmap */
}

/* ---- logs ------------------------------------------------------------------------------ */

/* A batch of n updates from sequence seq, as a log record holds it. */
static strata_batch *sample_batch(int n, uint64_t seq, size_t value_len)
{
    strata_batch *b = strata_batch_new();
    if (!b)
        die("strata_batch_new");
    char value[1024];
    memset(value, 'v', sizeof value);
    for (int i = 0; i < n; i++) {
        char k[32];
        int kn = snprintf(k, sizeof k, "key-%04d", i * 3);
        if (i % 4 == 3)
            strata_batch_delete(b, k, (size_t)kn);
        else
            strata_batch_put(b, k, (size_t)kn, value, value_len < sizeof value ? value_len : sizeof value);
    }
    batch_set_sequence(b, seq);
    ok(batch_error(b), "batch");
    return b;
}

/* A log of batches (and, when big, one record spanning two blocks). */
static void build_log(int records, int big, struct buf *image)
{
    struct env_file *f;
    ok(env_open(env, scratch, ENV_OPEN_TRUNCATE, &f), "open scratch");
    struct wal_writer *w = wal_writer_new(f, 0);
    if (!w)
        die("wal_writer_new");
    for (int i = 0; i < records; i++) {
        strata_batch *b = sample_batch(1 + i % 5, (uint64_t)(1 + 10 * i), (size_t)(8 * i));
        ok(wal_writer_add_record(w, batch_contents(b)), "log add");
        strata_batch_free(b);
    }
    if (big) {
        strata_batch *b = sample_batch(48, 1000, 1000); /* about 37 KB: spans two blocks */
        ok(wal_writer_add_record(w, batch_contents(b)), "log add");
        strata_batch_free(b);
    }
    ok(wal_writer_close(w), "log close");
    char *data;
    size_t n;
    ok(env_read_file(env, scratch, &data, &n), "read scratch");
    buf_clear(image);
    ok(buf_append(image, data, n), "image");
    free(data);
}

static void make_logs(void)
{
    /* Read-mode flags: plain; checksums fixed; paranoid; both. */
    static const int flags[] = { 0x00, 0x02, 0x04, 0x06 };
    struct buf image = { 0 };
    for (int shape = 0; shape < 3; shape++) {
        build_log(shape == 0 ? 0 : 6, shape == 2, &image);
        for (size_t j = 0; j < sizeof flags / sizeof flags[0]; j++)
            seed("wal", flags[j], image.data, image.len);
    }
    buf_free(&image);
    /* Write mode: a cut offset, then records (16-bit length, pattern). */
    static const char records[] = "\x10\x20\x00"          /* cut at 0x2010 */
                                  "\x40\x00\x03" "abc"    /* 64 bytes */
                                  "\x00\x00\x00"          /* empty */
                                  "\x10\x81\x05" "hello"  /* 33040 bytes: spans a block */
                                  "\xf9\x7f\x01" "z";     /* 32761: fills a block */
    static const int wflags[] = { 0x01, 0x03, 0x07, 0x09, 0x0b };
    for (size_t j = 0; j < sizeof wflags / sizeof wflags[0]; j++)
        seed("wal", wflags[j], records, sizeof records - 1);
}

/* ---- version edits and batches --------------------------------------------------------------- */

static void make_edits(void)
{
    struct buf smallest = { 0 }, largest = { 0 }, enc = { 0 };
    internal_key(&smallest, "apple", 5, TYPE_VALUE);
    internal_key(&largest, "zebra", 9, TYPE_DELETION);

    struct version_edit e = { 0 };
    e.has_comparator = 1;
    strcpy(e.comparator, COMPARATOR_NAME);
    e.has_log_number = 1, e.log_number = 12;
    e.has_next_file_number = 1, e.next_file_number = 40;
    e.has_last_sequence = 1, e.last_sequence = 123456789;
    ok(version_edit_add_table(&e, 0, 17, 4096, buf_slice(&smallest), buf_slice(&largest)), "edit");
    ok(version_edit_add_table(&e, 3, 21, 1 << 20, buf_slice(&smallest), buf_slice(&largest)), "edit");
    ok(version_edit_delete_table(&e, 2, 9), "edit");
    ok(version_edit_set_pointer(&e, 1, buf_slice(&largest)), "edit");
    ok(version_edit_encode(&e, &enc), "encode");
    seed("version_edit", -1, enc.data, enc.len);
    version_edit_clear(&e);

    buf_clear(&enc);
    e.has_log_number = 1, e.log_number = 3;
    e.has_last_sequence = 1, e.last_sequence = 70;
    ok(version_edit_encode(&e, &enc), "encode");
    seed("version_edit", -1, enc.data, enc.len);
    version_edit_clear(&e);

    buf_clear(&enc);
    for (int i = 0; i < 6; i++)
        ok(version_edit_delete_table(&e, i, (uint64_t)(100 + i)), "edit");
    ok(version_edit_add_table(&e, 6, 300, 77, buf_slice(&largest), buf_slice(&largest)), "edit");
    ok(version_edit_encode(&e, &enc), "encode");
    seed("version_edit", -1, enc.data, enc.len);
    version_edit_clear(&e);
    buf_free(&smallest);
    buf_free(&largest);
    buf_free(&enc);
}

static void make_batches(void)
{
    static const struct { int n; uint64_t seq; size_t value_len; } shapes[] = {
        { 0, 1, 0 }, { 1, 7, 3 }, { 8, 1000, 20 }, { 3, MAX_SEQUENCE - 2, 200 },
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        strata_batch *b = sample_batch(shapes[i].n, shapes[i].seq, shapes[i].value_len);
        seed("batch", -1, batch_contents(b).data, batch_contents(b).len);
        strata_batch_free(b);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus DIR\n");
        return 2;
    }
    out_dir = argv[1];
    make_dir(out_dir);
    env = env_new();
    if (!env)
        die("env_new");
    snprintf(scratch, sizeof scratch, "%s/.scratch-%ld", out_dir, (long)getpid());
    make_blocks();
    make_tables();
    make_logs();
    make_edits();
    make_batches();
    unlink(scratch);
    env_free(env);
    return 0;
}

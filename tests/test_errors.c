/*
 * test_errors.c: error paths that the rest of the suite leaves unrun (found
 * with `make coverage`), each checked for its exact status and for a
 * message from strata_last_error() that names the cause and, where there
 * is one, the file.
 *
 * - env: real (not injected) refusals of the operating system: a read of
 *   a write-only file, a write or truncate of a read-only one, renaming,
 *   listing, syncing and reading what is missing, removing a directory that
 *   is not empty, mapping an empty or write-only file, a path too long;
 *   and an injected rmdir, which no database operation reaches.  Messages
 *   about paths near PATH_MAX keep the file's name and the reason.
 * - decoders fed damage that checksums cannot catch, because the damage is
 *   checksummed too: a footer whose block handles do not decode, block
 *   handles no file can hold, a block whose restart point holds half a key,
 *   tables whose metaindex, properties or index hold malformed entries
 *   (made by a small assembler below that writes correctly checksummed
 *   blocks of our choosing), version edits cut at every byte or holding
 *   keys too short for a sequence number.
 * - sizes past 2^32-1 refused from the length alone (blocks, length
 *   prefixes, memtable entries, table values, log records, batch counts),
 *   a builder used after finish or after a failure, a memtable iterator
 *   given a target that is no internal key.
 * - strata_open failing on the open of a log to replay, of CURRENT, or the
 *   open or first write of its new MANIFEST (faults through the test-only
 *   options.env): the error names the file, nothing half-made stays, no
 *   memory leaks (checked with LeakSanitizer under `make asan`), and the
 *   database opens intact afterwards; a MANIFEST naming a missing table.
 * - odds and ends no other test reaches: escaped key bytes in the
 *   "strata.sstables" property, a snapshot left at strata_close, and
 *   strata_options_set_compression_level.
 *
 * All deterministic; the file runs in about a second.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memtable/memtable.h"
#include "sstable/block.h"
#include "sstable/block_builder.h"
#include "sstable/format.h"
#include "sstable/table.h"
#include "sstable/table_builder.h"
#include "src/buf.h"
#include "src/coding.h"
#include "src/dbformat.h"
#include "src/env.h"
#include "src/hash.h"
#include "src/options.h"
#include "src/status.h"
#include "src/version_edit.h"
#include "src/write_batch.h"
#include "strata.h"
#include "tests/testutil.h"
#include "wal/log_writer.h"

/* Under AddressSanitizer a test can ask LeakSanitizer for unreachable
 * memory at once: the suite's own leak report at exit does not fail a
 * Criterion test. */
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* Fails the test when memory has leaked so far (only under ASan). */
static void check_no_leaks(const char *what)
{
#ifdef HAVE_LSAN
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "%s: memory leaked (report above)", what);
#else
    (void)what;
#endif
}

static char *dir;
static struct env *env;

static void setup(void)
{
    dir = tu_mkdtemp("errors");
    cr_assert_not_null(dir);
    env = env_new();
    cr_assert_not_null(env);
}

static void teardown(void)
{
    env_free(env);
    tu_rmrf(dir);
    free(dir);
}

TestSuite(errors, .init = setup, .fini = teardown);

/* rc must be want, and strata_last_error() must contain a and b (either
 * may be NULL). */
static void check_error(const char *what, int rc, int want, const char *a, const char *b)
{
    const char *msg = strata_last_error();
    cr_assert_eq(rc, want, "%s: status %d (%s), want %d (%s); last error: %s", what, rc,
                 strata_strerror(rc), want, strata_strerror(want), msg);
    cr_assert(!a || strstr(msg, a), "%s: \"%s\" does not mention \"%s\"", what, msg, a);
    cr_assert(!b || strstr(msg, b), "%s: \"%s\" does not mention \"%s\"", what, msg, b);
}

/* A slice of 2^32 bytes at p, of which only the first exists: for size
 * checks that must refuse before reading. */
static struct slice over_4gib(const char *p)
{
    return slice_make(p, (size_t)UINT32_MAX + 1);
}

/* dir/name, created with the bytes given (NULL: not created). */
static char *make_file(const char *name, const char *data, size_t n)
{
    char *p = tu_join(dir, name);
    cr_assert_not_null(p);
    if (data)
        cr_assert_eq(tu_write_file(p, data, n), 0);
    return p;
}

/* ---- env: what the operating system refuses ---------------------------------- */

Test(errors, env_read_of_a_write_only_file)
{
    char *p = make_file("w", NULL, 0);
    struct env_file *f;
    cr_assert_eq(env_open(env, p, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    char buf[16];
    size_t got = 99;
    check_error("read", env_read_at(f, 0, buf, sizeof buf, &got), STRATA_IO_ERROR,
                "read of 16 bytes at offset 0 of", p);
    cr_assert_not_null(strstr(strata_last_error(), strerror(EBADF)));
    cr_assert_eq(got, 0);
    cr_assert_eq(env_close(f), STRATA_OK);
    free(p);
}

Test(errors, env_write_and_truncate_of_a_read_only_file)
{
    char *p = make_file("r", "abc", 3);
    struct env_file *f;
    cr_assert_eq(env_open(env, p, ENV_OPEN_READ, &f), STRATA_OK);
    check_error("append", env_append(f, "xyz", 3), STRATA_IO_ERROR, "write of 3 bytes to", p);
    check_error("truncate", env_truncate(f, 1), STRATA_IO_ERROR, "truncate", p);
    cr_assert_not_null(strstr(strata_last_error(), "to 1 bytes"));
    cr_assert_eq(env_close(f), STRATA_OK);
    cr_assert_eq(tu_file_size(p), 3, "the failed calls changed the file");
    free(p);
}

Test(errors, env_rename_sync_list_of_missing_paths)
{
    char *from = make_file("missing", NULL, 0), *to = make_file("there", NULL, 0);
    check_error("rename", env_rename(env, from, to), STRATA_IO_ERROR, from, to);
    cr_assert_not_null(strstr(strata_last_error(), strerror(ENOENT)));
    check_error("sync-dir", env_sync_dir(env, from), STRATA_IO_ERROR, "open directory", from);
    char **names = (char **)1;
    size_t n = 7;
    check_error("list", env_list_dir(env, from, &names, &n), STRATA_IO_ERROR, "list directory",
                from);
    cr_assert_null(names);
    cr_assert_eq(n, 0);
    char *data = (char *)1;
    check_error("read-file", env_read_file(env, from, &data, &n), STRATA_IO_ERROR, "open", from);
    cr_assert_null(data);
    free(from);
    free(to);
}

Test(errors, env_rmdir_real_and_injected)
{
    char *file = make_file("f", "x", 1);
    check_error("rmdir non-empty", env_rmdir(env, dir), STRATA_IO_ERROR, "rmdir", dir);
    cr_assert_not_null(strstr(strata_last_error(), strerror(ENOTEMPTY)));
    char *sub = tu_join(dir, "sub");
    cr_assert_eq(env_mkdir(env, sub), STRATA_OK);
    env_set_fault(env, 1, ENV_OP_DIR, EIO);
    check_error("rmdir injected", env_rmdir(env, sub), STRATA_IO_ERROR, "(injected)", sub);
    const char *what;
    cr_assert(env_fault_fired(env, &what));
    cr_assert_not_null(strstr(what, "rmdir"), "%s", what);
    cr_assert(tu_is_dir(sub), "an injected rmdir removed the directory");
    cr_assert_eq(env_rmdir(env, sub), STRATA_OK); /* the fault fires once */
    free(sub);
    free(file);
}

Test(errors, env_write_file_atomic_refuses_a_long_path_and_a_missing_dir)
{
    char longdir[PATH_MAX + 8];
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[sizeof longdir - 1] = '\0';
    check_error("long", env_write_file_atomic(env, longdir, "CURRENT", "x", 1),
                STRATA_INVALID_ARGUMENT, "is too long", "/CURRENT");
    char *missing = tu_join(dir, "nodir");
    check_error("missing", env_write_file_atomic(env, missing, "CURRENT", "x", 1), STRATA_IO_ERROR,
                "open", "nodir/CURRENT.tmp");
    free(missing);
}

/* A message longer than strata_last_error() holds (a path near PATH_MAX)
 * keeps its start and its end: the file's name and the reason (regression:
 * the end was cut off, and with it the cause). */
Test(errors, long_paths_keep_the_file_name_and_the_cause)
{
    char path[3100];
    int n = snprintf(path, sizeof path, "%s", dir);
    while (n < 3000)
        n += snprintf(path + n, sizeof path - (size_t)n, "/%0200d", n);
    snprintf(path + n, sizeof path - (size_t)n, "/000123.log");
    struct env_file *f;
    check_error("open", env_open(env, path, ENV_OPEN_READ, &f), STRATA_IO_ERROR, "open ",
                "/000123.log: ");
    cr_assert_not_null(strstr(strata_last_error(), strerror(ENOENT)), "%s", strata_last_error());
    cr_assert_eq(strncmp(strata_last_error(), "open ", 5), 0);
    cr_assert_lt(strlen(strata_last_error()), 1024);

    char huge[5000];
    memset(huge, 'x', sizeof huge - 1);
    huge[0] = '/';
    huge[sizeof huge - 1] = '\0';
    strata_db *db = (strata_db *)1;
    check_error("strata_open", strata_open(huge, NULL, &db), STRATA_IO_ERROR, "stat /xxx",
                strerror(ENAMETOOLONG));
    cr_assert_null(db);
}

Test(errors, env_map_readonly_refuses_empty_and_write_only_files)
{
    char *p = make_file("m", NULL, 0);
    struct env_file *f;
    const char *map = (const char *)1;
    cr_assert_eq(env_open(env, p, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    check_error("empty", env_map_readonly(f, 0, &map), STRATA_INVALID_ARGUMENT,
                "cannot map 0 bytes of", p);
    cr_assert_null(map);
    char data[100] = { 0 };
    cr_assert_eq(env_append(f, data, sizeof data), STRATA_OK);
    /* PROT_READ needs a descriptor open for reading: EACCES. */
    check_error("write-only", env_map_readonly(f, sizeof data, &map), STRATA_IO_ERROR,
                "map 100 bytes of", p);
    cr_assert_null(map);
    cr_assert_eq(env_close(f), STRATA_OK);
    free(p);
}

/* ---- the footer and raw blocks ------------------------------------------------- */

/* format.h's footer layout: handles padded to 40 bytes, the format version
 * (fixed32), the checksum of the 44 bytes before it (fixed32), the magic. */
enum { HANDLES_LEN = 40, CHECKSUM_AT = 44 };

Test(errors, footer_with_undecodable_handles)
{
    struct footer f = { { 0, 10 }, { 15, 20 } }, out;
    char raw[FOOTER_SIZE];
    footer_encode(&f, raw);
    cr_assert_eq(footer_decode(raw, "t.sst", &out), STRATA_OK, "the encoding itself decodes");
    /* Varints that never end; checksum, version and magic stay right. */
    memset(raw, 0x80, HANDLES_LEN);
    encode_fixed32(raw + CHECKSUM_AT, checksum32(raw, CHECKSUM_AT, 0));
    check_error("footer", footer_decode(raw, "t.sst", &out), STRATA_CORRUPTION,
                "malformed block handles in the footer of", "t.sst");
}

Test(errors, block_read_of_an_impossible_or_truncated_handle)
{
    char *p = make_file("b", "0123456789", 10);
    struct env_file *f;
    cr_assert_eq(env_open(env, p, ENV_OPEN_READ, &f), STRATA_OK);
    struct slice contents;
    struct block_handle huge = { 3, UINT64_MAX - 2 };
    check_error("impossible", block_read(f, &huge, 1, &contents), STRATA_CORRUPTION,
                "impossible size of block at offset 3 of", p);
    int copied;
    struct block_handle past = { 4, 6 };
    check_error("mapped", block_read_mapped("0123456789", 10, p, &past, 1, &contents, &copied),
                STRATA_CORRUPTION, "truncated block at offset 4 of", p);
    cr_assert_eq(env_close(f), STRATA_OK);
    free(p);
}

Test(errors, block_restart_point_with_a_shared_prefix)
{
    /* Two entries, each a restart point; the second claims to share a byte
     * with a previous key, which a restart point has not. */
    const char contents[] = {
        0, 1, 0, 'a',       /* shared 0, unshared 1, value 0: "a" */
        1, 1, 0, 'b',       /* shared 1: damage */
        0, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, /* restarts 0 and 4, count 2 */
    };
    struct block_origin origin = { "blk.sst", 77 };
    struct block *b;
    cr_assert_eq(block_open(slice_make(contents, sizeof contents), 0, &origin, &b), STRATA_OK);
    struct iter *it = block_iter_new(b, slice_compare, NULL, NULL);
    cr_assert_not_null(it);
    iter_seek(it, slice_make("b", 1)); /* the binary search reads restart 1 */
    cr_assert(!iter_valid(it));
    check_error("seek", iter_status(it), STRATA_CORRUPTION, "key at a restart point is not whole",
                "corrupted block in blk.sst at offset 77");
    iter_seek_to_first(it); /* a failed iterator stays failed */
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_status(it), STRATA_CORRUPTION);
    iter_destroy(it);
    it = block_iter_new(b, slice_compare, NULL, NULL);
    cr_assert_not_null(it);
    iter_seek_for_prev(it, slice_make("c", 1));
    cr_assert(!iter_valid(it));
    check_error("seek_for_prev", iter_status(it), STRATA_CORRUPTION,
                "key at a restart point is not whole", "(entry at byte 4 of the block)");
    iter_destroy(it);
    block_free(b);
}

/* Sizes past what 32-bit offsets and lengths can say are refused from the
 * length alone: the bytes behind the pointer are never read (one byte
 * exists). */
Test(errors, block_and_length_prefix_over_4gib)
{
    char one = 0;
    struct block_origin origin = { "big.sst", 5 };
    struct block *b = (struct block *)1;
    check_error("block", block_open(over_4gib(&one), 0, &origin, &b),
                STRATA_CORRUPTION, "corrupted block in big.sst at offset 5",
                "over the 4 GiB that 32-bit offsets reach");
    struct buf out = { 0 };
    check_error("length-prefixed", buf_put_length_prefixed(&out, over_4gib(&one)),
                STRATA_INVALID_ARGUMENT, "length 4294967296", "does not fit in 32 bits");
    cr_assert_eq(out.len, 0);
    buf_free(&out);
}

/* A failed add leaves the builder failed: every later add and the finish
 * return the first error, so a half-built table is never finished. */
Test(errors, table_builder_stays_failed_after_a_refused_value)
{
    char *p = make_file("fail.sst", NULL, 0);
    struct env_file *f;
    cr_assert_eq(env_open(env, p, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    struct table_builder_options o = { 4096, 16, 10, STRATA_COMPRESSION_NONE, 0 };
    struct table_builder *b = table_builder_new(&o, f);
    cr_assert_not_null(b);
    struct buf k1 = { 0 }, k2 = { 0 };
    cr_assert_eq(buf_put_internal_key(&k1, slice_make("a", 1), 1, TYPE_VALUE), STRATA_OK);
    cr_assert_eq(buf_put_internal_key(&k2, slice_make("b", 1), 1, TYPE_VALUE), STRATA_OK);
    char one = 0;
    check_error("add", table_builder_add(b, buf_slice(&k1), over_4gib(&one)),
                STRATA_INVALID_ARGUMENT, "block builder", "value of 4294967296 bytes");
    check_error("next add", table_builder_add(b, buf_slice(&k2), slice_make("v", 1)),
                STRATA_INVALID_ARGUMENT, NULL, NULL);
    check_error("finish", table_builder_finish(b), STRATA_INVALID_ARGUMENT, NULL, NULL);
    table_builder_free(b);
    cr_assert_eq(env_close(f), STRATA_OK);
    buf_free(&k1);
    buf_free(&k2);
    free(p);
}

/* The memtable refuses, from the lengths alone, what its 32-bit entry
 * lengths cannot hold; its iterator refuses a seek target too short to be
 * an internal key, and then shows no entry. */
Test(errors, memtable_refuses_over_4gib_and_short_targets)
{
    struct memtable *m = memtable_new();
    cr_assert_not_null(m);
    char one = 'x';
    check_error("key", memtable_add(m, 1, TYPE_VALUE, over_4gib(&one), slice_make("v", 1)),
                STRATA_INVALID_ARGUMENT, "memtable: key (4294967296 bytes)", "over 2^32-1 bytes");
    check_error("value", memtable_add(m, 1, TYPE_VALUE, slice_make("k", 1), over_4gib(&one)),
                STRATA_INVALID_ARGUMENT, "value (4294967296 bytes)", "over 2^32-1 bytes");
    cr_assert_eq(memtable_count(m), 0);
    cr_assert_eq(memtable_add(m, 1, TYPE_VALUE, slice_make("k", 1), slice_make("v", 1)), STRATA_OK);
    struct iter *it = memtable_iter_new(m);
    cr_assert_not_null(it);
    iter_seek_for_prev(it, slice_make("abc", 3));
    cr_assert(!iter_valid(it));
    check_error("seek_for_prev", iter_status(it), STRATA_INVALID_ARGUMENT,
                "memtable iterator", "seek target of 3 bytes is not an internal key");
    cr_assert_eq(iter_key(it).len, 0);
    cr_assert_eq(iter_value(it).len, 0);
    iter_destroy(it);
    memtable_unref(m);
}

/* ---- tables with malformed meta blocks ------------------------------------------
 *
 * A tiny table assembler: each block is built by a block builder from the
 * entries given and written raw with a correct trailer, so that the table
 * reader's checksums pass and the damage is in what the entries say. */

struct kv {
    const char *key;
    size_t klen;
    const char *value;
    size_t vlen;
};

#define KV(k, v) { k, sizeof k - 1, v, sizeof v - 1 }

/* Append a block holding entries[0..n) to file; its handle. */
static struct block_handle put_block(struct buf *file, const struct kv *entries, size_t n)
{
    struct block_builder bb;
    block_builder_init(&bb, 16);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(block_builder_add(&bb, slice_make(entries[i].key, entries[i].klen),
                                       slice_make(entries[i].value, entries[i].vlen)),
                     STRATA_OK);
    struct slice raw;
    cr_assert_eq(block_builder_finish(&bb, &raw), STRATA_OK);
    struct block_handle h = { file->len, raw.len };
    char trailer[BLOCK_TRAILER_SIZE];
    trailer[0] = STRATA_COMPRESSION_NONE;
    encode_fixed32(trailer + 1, checksum32(raw.data, raw.len, STRATA_COMPRESSION_NONE));
    cr_assert_eq(buf_append(file, raw.data, raw.len), STRATA_OK);
    cr_assert_eq(buf_append(file, trailer, sizeof trailer), STRATA_OK);
    block_builder_free(&bb);
    return h;
}

/* The encoding of h, in enc (at least BLOCK_HANDLE_MAX_LEN bytes); its length. */
static size_t handle_bytes(const struct block_handle *h, char *enc)
{
    struct buf b = { 0 };
    cr_assert_eq(block_handle_encode(h, &b), STRATA_OK);
    memcpy(enc, b.data, b.len);
    size_t n = b.len;
    buf_free(&b);
    return n;
}

/* How to damage the assembled table. */
enum table_damage {
    TABLE_SOUND,
    TABLE_BAD_PROPS_HANDLE,   /* the metaindex's "properties" value is not a handle */
    TABLE_NO_PROPS,           /* the metaindex lists no properties block */
    TABLE_BAD_PROPERTY,       /* "strata.entries" is not a varint */
    TABLE_BAD_INDEX_HANDLE,   /* the index entry's value is not a handle */
};

/* One data block with the entry "k"@5 = "v"; then properties, metaindex,
 * index and footer; written to dir/name and opened (paranoid).  The table
 * or NULL, with the status in *rc. */
static struct table *assemble_table(const char *name, enum table_damage damage, int *rc,
                                    char **path)
{
    struct buf file = { 0 }, ikey = { 0 };
    cr_assert_eq(buf_put_internal_key(&ikey, slice_make("k", 1), 5, TYPE_VALUE), STRATA_OK);
    struct kv data = { ikey.data, ikey.len, "v", 1 };
    struct block_handle data_h = put_block(&file, &data, 1);

    struct kv props_ok[] = { KV("strata.entries", "\x01") };
    struct kv props_bad[] = { KV("strata.entries", "\xff") };
    struct block_handle props_h =
        put_block(&file, damage == TABLE_BAD_PROPERTY ? props_bad : props_ok, 1);

    char enc[BLOCK_HANDLE_MAX_LEN];
    size_t n = handle_bytes(&props_h, enc);
    struct kv meta = { "properties", 10, enc, damage == TABLE_BAD_PROPS_HANDLE ? 1 : n };
    struct block_handle meta_h = put_block(&file, &meta, damage == TABLE_NO_PROPS ? 0 : 1);

    char ienc[BLOCK_HANDLE_MAX_LEN];
    size_t in = handle_bytes(&data_h, ienc);
    struct kv index = { ikey.data, ikey.len, damage == TABLE_BAD_INDEX_HANDLE ? "\xff" : ienc,
                        damage == TABLE_BAD_INDEX_HANDLE ? 1 : in };
    struct block_handle index_h = put_block(&file, &index, 1);

    struct footer f = { meta_h, index_h };
    char footer[FOOTER_SIZE];
    footer_encode(&f, footer);
    cr_assert_eq(buf_append(&file, footer, sizeof footer), STRATA_OK);

    *path = make_file(name, file.data, file.len);
    struct env_file *ef;
    cr_assert_eq(env_open(env, *path, ENV_OPEN_READ, &ef), STRATA_OK);
    struct table_open_options o = { .block_cache = NULL, .paranoid_checks = 1, .mmap_reads = 0 };
    struct table *t = NULL;
    *rc = table_open(ef, file.len, &o, &t);
    buf_free(&file);
    buf_free(&ikey);
    return t;
}

/* The lookup key for "k", newest first. */
static struct buf lookup_k(void)
{
    struct buf k = { 0 };
    cr_assert_eq(buf_put_internal_key(&k, slice_make("k", 1), MAX_SEQUENCE, TYPE_FOR_SEEK),
                 STRATA_OK);
    return k;
}

Test(errors, assembled_table_is_sound_when_undamaged)
{
    /* The assembler makes tables the reader accepts, so each failure
     * below comes from its damage alone. */
    int rc;
    char *path;
    struct table *t = assemble_table("sound.sst", TABLE_SOUND, &rc, &path);
    cr_assert_eq(rc, STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(table_get_properties(t)->entries, 1);
    struct buf k = lookup_k(), v = { 0 };
    struct table_read_options ro = { 1, 0 };
    cr_assert_eq(table_get(t, &ro, buf_slice(&k), &v), TABLE_FOUND, "%s", strata_last_error());
    cr_assert(v.len == 1 && v.data[0] == 'v');
    buf_free(&k);
    buf_free(&v);
    table_close(t);
    free(path);
}

Test(errors, table_metaindex_with_a_malformed_properties_handle)
{
    int rc;
    char *path;
    cr_assert_null(assemble_table("meta.sst", TABLE_BAD_PROPS_HANDLE, &rc, &path));
    check_error("open", rc, STRATA_CORRUPTION, "malformed block handle in the metaindex of", path);
    free(path);
}

Test(errors, table_without_a_properties_block)
{
    int rc;
    char *path;
    cr_assert_null(assemble_table("noprops.sst", TABLE_NO_PROPS, &rc, &path));
    check_error("open", rc, STRATA_CORRUPTION, "no properties block in", path);
    free(path);
}

Test(errors, table_with_a_malformed_property)
{
    int rc;
    char *path;
    cr_assert_null(assemble_table("prop.sst", TABLE_BAD_PROPERTY, &rc, &path));
    check_error("open", rc, STRATA_CORRUPTION, "malformed property strata.entries in", path);
    free(path);
}

Test(errors, table_index_with_a_malformed_data_handle)
{
    int rc;
    char *path;
    struct table *t = assemble_table("index.sst", TABLE_BAD_INDEX_HANDLE, &rc, &path);
    cr_assert_eq(rc, STRATA_OK, "the index is only read by lookups: %s", strata_last_error());
    struct buf k = lookup_k(), v = { 0 };
    struct table_read_options ro = { 1, 0 };
    check_error("get", table_get(t, &ro, buf_slice(&k), &v), STRATA_CORRUPTION,
                "malformed block handle in the index of", path);
    struct iter *it = table_iter_new(t, &ro);
    cr_assert_not_null(it);
    iter_seek_to_first(it);
    cr_assert(!iter_valid(it));
    check_error("iterate", iter_status(it), STRATA_CORRUPTION,
                "malformed block handle in the index of", path);
    iter_destroy(it);
    buf_free(&k);
    buf_free(&v);
    table_close(t);
    free(path);
}

/* ---- builders used wrongly ----------------------------------------------------- */

Test(errors, block_builder_add_after_finish)
{
    struct block_builder bb;
    block_builder_init(&bb, 16);
    struct slice raw;
    cr_assert_eq(block_builder_add(&bb, slice_make("a", 1), slice_make("1", 1)), STRATA_OK);
    cr_assert_eq(block_builder_finish(&bb, &raw), STRATA_OK);
    check_error("add", block_builder_add(&bb, slice_make("b", 1), slice_make("2", 1)),
                STRATA_INVALID_ARGUMENT, "block builder", "add after finish");
    block_builder_free(&bb);
}

Test(errors, table_builder_finished_twice)
{
    char *p = make_file("twice.sst", NULL, 0);
    struct env_file *f;
    cr_assert_eq(env_open(env, p, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    struct table_builder_options o = { 4096, 16, 10, STRATA_COMPRESSION_NONE, 0 };
    struct table_builder *b = table_builder_new(&o, f);
    cr_assert_not_null(b);
    struct buf k = lookup_k();
    cr_assert_eq(table_builder_add(b, buf_slice(&k), slice_make("v", 1)), STRATA_OK);
    cr_assert_eq(table_builder_finish(b), STRATA_OK, "%s", strata_last_error());
    uint64_t size = table_builder_file_size(b);
    check_error("finish", table_builder_finish(b), STRATA_INVALID_ARGUMENT, "table builder",
                "finish called twice");
    cr_assert_eq(table_builder_file_size(b), size, "the second finish wrote more");
    table_builder_free(b);
    cr_assert_eq(env_close(f), STRATA_OK);
    buf_free(&k);
    free(p);
}

Test(errors, log_record_too_large_for_the_writer)
{
    char *p = make_file("000009.log", NULL, 0);
    struct env_file *f;
    cr_assert_eq(env_open(env, p, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    struct wal_writer *w = wal_writer_new(f, 0);
    cr_assert_not_null(w);
    /* The length is refused before a byte of the record is read. */
    char one = 'x';
    check_error("add", wal_writer_add_record(w, slice_make(&one, SIZE_MAX / 4 + 1)),
                STRATA_INVALID_ARGUMENT, "is too large", p);
    cr_assert_eq(wal_writer_size(w), 0);
    cr_assert_eq(wal_writer_add_record(w, slice_make("ok", 2)), STRATA_OK, "%s",
                 strata_last_error());
    cr_assert_eq(wal_writer_close(w), STRATA_OK);
    free(p);
}

/* ---- version edits ------------------------------------------------------------- */

/* Decode every strict prefix of an edit's encoding: each fails with
 * STRATA_CORRUPTION naming the origin, none crashes or succeeds with a
 * field half read (a prefix may end between fields: then it decodes). */
Test(errors, version_edit_cut_at_every_byte)
{
    struct version_edit e = { 0 }, d;
    struct buf ikey = { 0 }, enc = { 0 };
    cr_assert_eq(buf_put_internal_key(&ikey, slice_make("key", 3), 9, TYPE_VALUE), STRATA_OK);
    e.has_log_number = 1;
    e.log_number = 300;
    cr_assert_eq(version_edit_add_table(&e, 2, 1234567, 1 << 20, buf_slice(&ikey),
                                        buf_slice(&ikey)),
                 STRATA_OK);
    cr_assert_eq(version_edit_delete_table(&e, 1, 77777), STRATA_OK);
    cr_assert_eq(version_edit_set_pointer(&e, 3, buf_slice(&ikey)), STRATA_OK);
    cr_assert_eq(version_edit_encode(&e, &enc), STRATA_OK);
    size_t failed = 0;
    for (size_t len = 0; len < enc.len; len++) {
        int rc = version_edit_decode(&d, slice_make(enc.data, len), "MANIFEST-000042", 4096);
        if (rc != STRATA_OK) {
            check_error("prefix", rc, STRATA_CORRUPTION,
                        "corrupted version edit in MANIFEST-000042", "at offset 4096");
            failed++;
        }
        version_edit_clear(&d);
    }
    cr_assert_gt(failed, enc.len / 2, "only %zu of %zu prefixes failed", failed, enc.len);
    cr_assert_eq(version_edit_decode(&d, buf_slice(&enc), "MANIFEST-000042", 0), STRATA_OK);
    cr_assert_eq(d.num_new_tables, 1);
    cr_assert_eq(d.num_deleted, 1);
    cr_assert_eq(d.num_pointers, 1);
    version_edit_clear(&d);
    version_edit_clear(&e);
    buf_free(&enc);
    buf_free(&ikey);
}

/* Internal keys are at least 8 bytes (the tag): shorter ones in a table
 * record or a compaction pointer are damage. */
Test(errors, version_edit_keys_shorter_than_a_tag)
{
    struct version_edit e = { 0 }, d;
    struct buf enc = { 0 };
    cr_assert_eq(version_edit_add_table(&e, 1, 5, 100, slice_make("1234567", 7),
                                        slice_make("12345678", 8)), STRATA_OK);
    cr_assert_eq(version_edit_encode(&e, &enc), STRATA_OK);
    check_error("smallest", version_edit_decode(&d, buf_slice(&enc), "M1", 8), STRATA_CORRUPTION,
                "bad new table", "M1");
    version_edit_clear(&d);
    version_edit_clear(&e);

    memset(&e, 0, sizeof e);
    buf_clear(&enc);
    cr_assert_eq(version_edit_add_table(&e, 1, 5, 100, slice_make("12345678", 8),
                                        slice_make("1", 1)), STRATA_OK);
    cr_assert_eq(version_edit_encode(&e, &enc), STRATA_OK);
    check_error("largest", version_edit_decode(&d, buf_slice(&enc), "M2", 8), STRATA_CORRUPTION,
                "bad new table", "M2");
    version_edit_clear(&d);
    version_edit_clear(&e);

    memset(&e, 0, sizeof e);
    buf_clear(&enc);
    cr_assert_eq(version_edit_set_pointer(&e, 2, slice_make("abc", 3)), STRATA_OK);
    cr_assert_eq(version_edit_encode(&e, &enc), STRATA_OK);
    check_error("pointer", version_edit_decode(&d, buf_slice(&enc), "M3", 8), STRATA_CORRUPTION,
                "bad compaction pointer", "M3");
    version_edit_clear(&d);
    version_edit_clear(&e);
    buf_free(&enc);
}

/* ---- batches past 2^32-1 updates ----------------------------------------------- */

/* The count is the fixed32 after the 8-byte sequence (write_batch.h). */
static void set_count(strata_batch *b, uint32_t n)
{
    encode_fixed32(b->rep.data + 8, n);
    cr_assert_eq(batch_count(b), n);
}

Test(errors, batch_full_of_updates_refuses_one_more)
{
    strata_db *db;
    cr_assert_eq(strata_open(dir, NULL, &db), STRATA_OK, "%s", strata_last_error());
    strata_batch *b = strata_batch_new();
    cr_assert_not_null(b);
    set_count(b, UINT32_MAX);
    strata_batch_put(b, "k", 1, "v", 1);
    cr_assert_eq(batch_count(b), UINT32_MAX);
    check_error("write", strata_write(db, NULL, b), STRATA_INVALID_ARGUMENT, "strata_batch_put",
                "at most 2^32-1 updates");
    void *v;
    size_t vlen;
    cr_assert_eq(strata_get(db, NULL, "k", 1, &v, &vlen), STRATA_NOT_FOUND);
    strata_batch_clear(b);
    set_count(b, UINT32_MAX);
    strata_batch_delete(b, "k", 1);
    check_error("delete", batch_error(b), STRATA_INVALID_ARGUMENT, "strata_batch_delete",
                "at most 2^32-1 updates");
    strata_batch_free(b);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(errors, merging_batches_past_the_count_limit)
{
    strata_batch *a = strata_batch_new(), *b = strata_batch_new();
    cr_assert(a && b);
    strata_batch_put(a, "a", 1, "1", 1);
    strata_batch_put(b, "b", 1, "2", 1);
    set_count(a, UINT32_MAX);
    size_t len = batch_contents(a).len;
    check_error("append", batch_append(a, b), STRATA_INVALID_ARGUMENT, "merged batch",
                "over 2^32-1 updates");
    cr_assert_eq(batch_contents(a).len, len, "the failed merge changed the batch");
    cr_assert_eq(batch_count(a), UINT32_MAX);
    strata_batch_free(a);
    strata_batch_free(b);
}

/* ---- strata_open with the replay of a log failing ------------------------------- */

Test(errors, open_fails_naming_the_log_it_cannot_reopen)
{
    struct strata_options *o = strata_options_new();
    cr_assert_not_null(o);
    o->env = env;
    strata_db *db;
    cr_assert_eq(strata_open(dir, o, &db), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(strata_put(db, NULL, "k", 1, "v", 1), STRATA_OK);
    cr_assert_eq(strata_close(db), STRATA_OK);
    char *log = tu_last_log(dir);
    cr_assert_not_null(log, "no log holds the put");
    char want[PATH_MAX + 8];
    snprintf(want, sizeof want, "open %s", log);
    /* Fail each open of strata_open in turn until the log's. */
    int found = 0;
    for (uint64_t nth = 1; nth <= 32 && !found; nth++) {
        env_set_fault(env, nth, ENV_OP_OPEN, EIO);
        int rc = strata_open(dir, o, &db);
        const char *what;
        int fired = env_fault_fired(env, &what);
        env_clear_fault(env);
        if (rc == STRATA_OK) {
            cr_assert_eq(strata_close(db), STRATA_OK);
            cr_assert(!fired, "the fault at open #%llu (%s) was ignored", (unsigned long long)nth,
                      what);
            break;
        }
        cr_assert(fired, "open failed without the fault: %s", strata_last_error());
        if (strcmp(what, want) == 0) {
            check_error("reopen", rc, STRATA_IO_ERROR, "(injected)", log);
            found = 1;
        }
    }
    cr_assert(found, "no open of %s during strata_open", log);
    check_no_leaks("failed opens");
    /* The log was only read: everything is there once the fault is gone. */
    cr_assert_eq(strata_open(dir, o, &db), STRATA_OK, "%s", strata_last_error());
    void *v;
    size_t vlen;
    cr_assert_eq(strata_get(db, NULL, "k", 1, &v, &vlen), STRATA_OK, "%s", strata_last_error());
    cr_assert(vlen == 1 && memcmp(v, "v", 1) == 0);
    strata_free(v);
    cr_assert_eq(strata_close(db), STRATA_OK);
    free(log);
    strata_options_free(o);
}

/* ---- the database directory ------------------------------------------------------ */

/* A MANIFEST listing a table that is gone is refused with both names; a
 * file that is not strata's is left alone. */
Test(errors, open_refuses_a_manifest_naming_a_missing_table)
{
    strata_db *db;
    cr_assert_eq(strata_open(dir, NULL, &db), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(strata_put(db, NULL, "k", 1, "v", 1), STRATA_OK);
    cr_assert_eq(strata_compact_range(db, NULL, 0, NULL, 0), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(strata_close(db), STRATA_OK);
    char *notes = make_file("notes.txt", "mine", 4);
    cr_assert_eq(strata_open(dir, NULL, &db), STRATA_OK, "a foreign file: %s", strata_last_error());
    cr_assert_eq(strata_close(db), STRATA_OK);
    cr_assert(tu_exists(notes), "open removed a file that is not strata's");
    size_t n;
    uint64_t *tables = tu_numbered_files(dir, ".sst", &n);
    cr_assert_eq(n, 1);
    char name[32];
    snprintf(name, sizeof name, "%06llu.sst", (unsigned long long)tables[0]);
    char *table = tu_join(dir, name);
    cr_assert_eq(unlink(table), 0);
    db = (strata_db *)1;
    check_error("open", strata_open(dir, NULL, &db), STRATA_CORRUPTION, "MANIFEST-", name);
    cr_assert_not_null(strstr(strata_last_error(), "which is missing"), "%s", strata_last_error());
    cr_assert_null(db);
    free(table);
    free(tables);
    free(notes);
}

/* strata.sstables prints key bytes that are not printable ASCII (and the
 * quote and backslash) as \xHH, so that the listing stays one line per
 * table whatever the keys hold. */
Test(errors, sstables_property_escapes_key_bytes)
{
    strata_db *db;
    cr_assert_eq(strata_open(dir, NULL, &db), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(strata_put(db, NULL, "a\x01'\\\n\xff", 6, "v", 1), STRATA_OK);
    cr_assert_eq(strata_compact_range(db, NULL, 0, NULL, 0), STRATA_OK, "%s", strata_last_error());
    char *s = strata_property(db, "strata.sstables");
    cr_assert_not_null(s);
    cr_assert_not_null(strstr(s, "a\\x01\\x27\\x5c\\x0a\\xff"), "%s", s);
    strata_free(s);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

/* strata.h asks for snapshots to be released before strata_close; one
 * that is not is freed with the handle rather than leaked (ASan checks). */
Test(errors, close_frees_an_unreleased_snapshot)
{
    strata_db *db;
    cr_assert_eq(strata_open(dir, NULL, &db), STRATA_OK, "%s", strata_last_error());
    cr_assert_not_null(strata_snapshot_new(db));
    cr_assert_not_null(strata_snapshot_new(db));
    cr_assert_eq(strata_close(db), STRATA_OK, "%s", strata_last_error());
}

/* Regression: strata_open leaked the version it had started when reading
 * CURRENT failed (src/manifest.c, manifest_recover; found by the test
 * above under ASan).  The leak shows only under `make asan`. */
Test(errors, open_with_current_unreadable_fails_naming_it)
{
    struct strata_options *o = strata_options_new();
    cr_assert_not_null(o);
    o->env = env;
    strata_db *db;
    cr_assert_eq(strata_open(dir, o, &db), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(strata_close(db), STRATA_OK);
    char *current = tu_join(dir, "CURRENT");
    char want[PATH_MAX + 8];
    snprintf(want, sizeof want, "open %s", current);
    int found = 0;
    for (uint64_t nth = 1; nth <= 16 && !found; nth++) {
        env_set_fault(env, nth, ENV_OP_OPEN, EIO);
        int rc = strata_open(dir, o, &db);
        const char *what;
        int fired = env_fault_fired(env, &what);
        env_clear_fault(env);
        cr_assert(rc != STRATA_OK, "open #%llu: the fault did not fail strata_open",
                  (unsigned long long)nth);
        cr_assert(fired);
        if (strcmp(what, want) == 0) {
            check_error("open", rc, STRATA_IO_ERROR, "(injected)", current);
            found = 1;
        }
    }
    cr_assert(found, "no open of %s", current);
    check_no_leaks("a failed read of CURRENT");
    free(current);
    strata_options_free(o);
}

/* strata_open ends by writing a new MANIFEST and pointing CURRENT at it.
 * When the open or the first write of that MANIFEST fails, the open fails
 * naming it, the half-made MANIFEST is removed rather than left as an
 * orphan, and the database opens intact once the fault is gone.  kind is
 * ENV_OP_OPEN or ENV_OP_WRITE; verb the env's name for it. */
static void fail_new_manifest(unsigned kind, const char *verb)
{
    struct strata_options *o = strata_options_new();
    cr_assert_not_null(o);
    o->env = env;
    strata_db *db;
    cr_assert_eq(strata_open(dir, o, &db), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(strata_put(db, NULL, "k", 1, "v", 1), STRATA_OK);
    cr_assert_eq(strata_close(db), STRATA_OK);
    char *current = tu_join(dir, "CURRENT");
    char prefix[PATH_MAX + 32];
    snprintf(prefix, sizeof prefix, "%s %s/MANIFEST-", verb, dir);
    int found = 0;
    for (uint64_t nth = 1; nth <= 200 && !found; nth++) {
        /* The MANIFEST in use now (each open that succeeds makes a new one). */
        char *before = tu_read_file(current, NULL), in_use[PATH_MAX + 64];
        cr_assert_not_null(before);
        snprintf(in_use, sizeof in_use, "%s %s/%.*s", verb, dir, (int)strcspn(before, "\n"),
                 before);
        env_set_fault(env, nth, kind, EIO);
        int rc = strata_open(dir, o, &db);
        const char *what;
        int fired = env_fault_fired(env, &what);
        env_clear_fault(env);
        if (rc == STRATA_OK) {
            cr_assert_eq(strata_close(db), STRATA_OK);
            cr_assert(fired, "no %s of a new MANIFEST in strata_open", verb);
        } else if (strncmp(what, prefix, strlen(prefix)) == 0 && strcmp(what, in_use) != 0) {
            const char *manifest = what + strlen(verb) + 1;
            check_error("open", rc, STRATA_IO_ERROR, "(injected)", manifest);
            cr_assert(!tu_exists(manifest), "%s was left behind", manifest);
            char *after = tu_read_file(current, NULL);
            cr_assert_str_eq(after, before, "CURRENT moved to a MANIFEST that failed");
            free(after);
            found = 1;
        }
        free(before);
    }
    cr_assert(found);
    cr_assert_eq(strata_open(dir, o, &db), STRATA_OK, "%s", strata_last_error());
    void *v;
    size_t vlen;
    cr_assert_eq(strata_get(db, NULL, "k", 1, &v, &vlen), STRATA_OK, "%s", strata_last_error());
    strata_free(v);
    cr_assert_eq(strata_close(db), STRATA_OK);
    check_no_leaks("failed opens");
    free(current);
    strata_options_free(o);
}

Test(errors, open_fails_cleanly_when_the_new_manifest_cannot_be_created)
{
    fail_new_manifest(ENV_OP_OPEN, "open");
}

Test(errors, open_fails_cleanly_when_the_new_manifest_cannot_be_written)
{
    fail_new_manifest(ENV_OP_WRITE, "write");
}

/* ---- options ------------------------------------------------------------------------ */

Test(errors, compression_level_reaches_the_tables)
{
    strata_options_set_compression_level(NULL, 3); /* ignored, as every setter does */
    strata_options *o = strata_options_new();
    cr_assert_not_null(o);
    strata_options_set_compression_level(o, 19);
    cr_assert_eq(o->compression_level, 19);
    strata_options_set_compression_level(o, -1);
    cr_assert_eq(o->compression_level, -1);
    strata_options_set_compression_level(o, 19);
    strata_db *db;
    cr_assert_eq(strata_open(dir, o, &db), STRATA_OK, "%s", strata_last_error());
    char key[32], val[200];
    for (int i = 0; i < 200; i++) {
        size_t kl = tu_key(key, sizeof key, "k", (uint64_t)i);
        memset(val, 'a' + i % 3, sizeof val);
        cr_assert_eq(strata_put(db, NULL, key, kl, val, sizeof val), STRATA_OK);
    }
    cr_assert_eq(strata_compact_range(db, NULL, 0, NULL, 0), STRATA_OK, "%s", strata_last_error());
    /* Every table written records level 19 in its properties. */
    size_t n;
    uint64_t *numbers = tu_numbered_files(dir, ".sst", &n);
    cr_assert_gt(n, 0);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "%06llu.sst", (unsigned long long)numbers[i]);
        char *p = tu_join(dir, name);
        struct env_file *f;
        struct table *t;
        cr_assert_eq(env_open(env, p, ENV_OPEN_READ, &f), STRATA_OK);
        cr_assert_eq(table_open(f, (uint64_t)tu_file_size(p), NULL, &t), STRATA_OK, "%s",
                     strata_last_error());
        cr_assert_eq((int64_t)table_get_properties(t)->compression_level, 19, "%s", p);
        table_close(t);
        free(p);
    }
    free(numbers);
    void *v;
    size_t vlen;
    size_t kl = tu_key(key, sizeof key, "k", 101);
    cr_assert_eq(strata_get(db, NULL, key, kl, &v, &vlen), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(vlen, sizeof val);
    cr_assert_eq(((char *)v)[0], 'a' + 101 % 3);
    strata_free(v);
    cr_assert_eq(strata_close(db), STRATA_OK);
    strata_options_free(o);
}

/*
 * test_flush.c: memtables flushed to level-0 tables, and the read path over
 * memtable, immutable memtable and tables: data written beyond several
 * write buffers reads back through gets and iterators, before and after a
 * restart; overwrites and deletions at every layer resolve to the newest;
 * snapshots read older versions out of tables; obsolete logs and orphan
 * tables go away; a damaged table gives STRATA_CORRUPTION naming it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"
#include "strata.h"

static char *dir;

static void setup(void)
{
    dir = tu_mkdtemp("flush");
    cr_assert_not_null(dir);
}

static void teardown(void)
{
    tu_rmrf(dir);
    free(dir);
}

TestSuite(flush, .init = setup, .fini = teardown);

/* Small buffers so that a few thousand writes cross many flushes. */
static strata_db *open_small(int block_cache)
{
    strata_options *o = strata_options_new();
    strata_options_set_write_buffer_size(o, 64 << 10);
    strata_options_set_block_size(o, 1024);
    strata_options_set_block_cache_size(o, block_cache ? 256 << 10 : 0);
    strata_db *db = NULL;
    int rc = strata_open(dir, o, &db);
    strata_options_free(o);
    cr_assert_eq(rc, STRATA_OK, "open: %s", strata_last_error());
    return db;
}

static void key_of(char *k, int i)
{
    snprintf(k, 17, "%016d", i);
}

/* The value of key i in generation g: long enough to fill buffers fast,
 * half of it compressible. */
static size_t value_of(char *v, int i, int g)
{
    int n = snprintf(v, 64, "value-%d-gen-%d-", i, g);
    memset(v + n, 'a' + (i % 26), 100);
    return (size_t)n + 100;
}

static void put(strata_db *db, int i, int g)
{
    char k[17], v[200];
    key_of(k, i);
    size_t vlen = value_of(v, i, g);
    cr_assert_eq(strata_put(db, NULL, k, 16, v, vlen), STRATA_OK, "%s", strata_last_error());
}

static void expect(strata_db *db, const strata_read_options *ro, int i, int g)
{
    char k[17], want[200];
    key_of(k, i);
    void *val;
    size_t vlen;
    int rc = strata_get(db, ro, k, 16, &val, &vlen);
    if (g < 0) {
        cr_assert_eq(rc, STRATA_NOT_FOUND, "key %d should be absent (rc %d)", i, rc);
        return;
    }
    cr_assert_eq(rc, STRATA_OK, "key %d: %s", i, strata_last_error());
    size_t wlen = value_of(want, i, g);
    cr_assert(vlen == wlen && memcmp(val, want, wlen) == 0, "key %d: got %.*s, want gen %d", i,
              (int)vlen, (char *)val, g);
    strata_free(val);
}

static long property_number(strata_db *db, const char *name)
{
    char *p = strata_property(db, name);
    cr_assert_not_null(p, "%s", name);
    long n = atol(p);
    strata_free(p);
    return n;
}

/* Tables at every level: flushed tables of keys written in order go below
 * level 0 when nothing there overlaps them. */
static long total_tables(strata_db *db)
{
    long n = 0;
    char name[64];
    for (int level = 0; level < 7; level++) {
        snprintf(name, sizeof name, "strata.num-files-at-level%d", level);
        n += property_number(db, name);
    }
    return n;
}

/* Every key 0..n-1 in generation gen[i] (or absent when gen[i] < 0),
 * through gets and a full scan both ways. */
static void check_all(strata_db *db, const int *gen, int n)
{
    int present = 0;
    for (int i = 0; i < n; i++) {
        expect(db, NULL, i, gen[i]);
        present += gen[i] >= 0;
    }
    strata_iter *it = strata_iter_new(db, NULL);
    cr_assert_not_null(it);
    int seen = 0, last = -1;
    for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it), seen++) {
        size_t klen;
        const char *k = strata_iter_key(it, &klen);
        int i = atoi(k);
        cr_assert(i > last && gen[i] >= 0, "scan: key %d after %d", i, last);
        last = i;
    }
    cr_assert_eq(strata_iter_status(it), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(seen, present);
    seen = 0;
    for (strata_iter_seek_last(it); strata_iter_valid(it); strata_iter_prev(it))
        seen++;
    cr_assert_eq(seen, present);
    strata_iter_free(it);
}

Test(flush, data_beyond_several_buffers_survives_restart)
{
    enum { N = 4000 };
    static int gen[N];
    strata_db *db = open_small(1);
    for (int i = 0; i < N; i++) {
        put(db, i, 0);
        gen[i] = 0;
    }
    check_all(db, gen, N);
    cr_assert_eq(strata_close(db), STRATA_OK);
    db = open_small(1);
    check_all(db, gen, N);
    long tables = total_tables(db);
    /* ~560 KB of writes over 64 KiB buffers: about 9 tables.  One table per
     * write once came from counting a whole arena block as a full buffer. */
    cr_assert(tables > 3 && tables < 30, "4000 writes of ~140 bytes over 64 KiB buffers: %ld tables",
              tables);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(flush, newest_wins_across_every_layer)
{
    enum { N = 3000 };
    static int gen[N];
    strata_db *db = open_small(0);
    for (int g = 0; g < 4; g++) {
        for (int i = g; i < N; i += 1 + g) {
            if (g == 2 && i % 2 == 0) {
                char k[17];
                key_of(k, i);
                cr_assert_eq(strata_delete(db, NULL, k, 16), STRATA_OK);
                gen[i] = -1;
            } else {
                put(db, i, g);
                gen[i] = g;
            }
        }
    }
    int per_gen[4] = { 0 }, deleted = 0;
    for (int i = 0; i < N; i++)
        gen[i] < 0 ? deleted++ : per_gen[gen[i]]++;
    cr_assert(deleted > 0 && per_gen[0] > 0 && per_gen[1] > 0 && per_gen[3] > 0,
              "the model holds every kind of entry");
    check_all(db, gen, N);
    cr_assert_eq(strata_close(db), STRATA_OK);
    db = open_small(0);
    check_all(db, gen, N);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(flush, snapshot_reads_old_versions_from_tables)
{
    enum { N = 2000 };
    strata_db *db = open_small(1);
    for (int i = 0; i < N; i++)
        put(db, i, 1);
    const strata_snapshot *snap = strata_snapshot_new(db);
    for (int i = 0; i < N; i++)
        put(db, i, 2); /* pushes generation 1 into tables */
    strata_read_options *ro = strata_read_options_new();
    strata_read_options_set_snapshot(ro, snap);
    for (int i = 0; i < N; i += 7) {
        expect(db, ro, i, 1);
        expect(db, NULL, i, 2);
    }
    strata_read_options_free(ro);
    strata_snapshot_release(db, snap);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(flush, iterator_keeps_its_view_across_flushes)
{
    enum { N = 1500 };
    strata_db *db = open_small(1);
    for (int i = 0; i < N; i++)
        put(db, i, 1);
    strata_iter *it = strata_iter_new(db, NULL);
    for (int i = 0; i < N; i++)
        put(db, i + N, 2); /* several flushes while the iterator is open */
    int seen = 0;
    for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it))
        seen++;
    cr_assert_eq(strata_iter_status(it), STRATA_OK);
    cr_assert_eq(seen, N, "the iterator sees exactly the keys written before it");
    strata_iter_free(it);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(flush, obsolete_logs_and_orphan_tables_are_removed)
{
    strata_db *db = open_small(1);
    for (int i = 0; i < 3000; i++)
        put(db, i, 0);
    cr_assert_eq(strata_close(db), STRATA_OK);
    char *orphan = tu_join(dir, "999999.sst");
    cr_assert_eq(tu_write_file(orphan, "not a table", 11), 0);
    db = open_small(1);
    size_t logs;
    uint64_t *nums = tu_numbered_files(dir, ".log", &logs);
    free(nums);
    cr_assert_eq(logs, 1, "after reopening, the only log is the new one (%zu)", logs);
    cr_assert(!tu_exists(orphan), "an orphan table is removed at open");
    free(orphan);
    expect(db, NULL, 2999, 0);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(flush, damaged_table_is_corruption_naming_it)
{
    strata_db *db = open_small(0);
    for (int i = 0; i < 1000; i++)
        put(db, i, 0);
    cr_assert_eq(strata_close(db), STRATA_OK); /* the reopen writes the rest to a table */
    size_t count;
    uint64_t *nums = tu_numbered_files(dir, ".sst", &count);
    cr_assert_gt(count, 0);
    char name[32];
    snprintf(name, sizeof name, "%06llu.sst", (unsigned long long)nums[0]);
    free(nums);
    char *path = tu_join(dir, name);
    cr_assert_eq(tu_xor_byte(path, 10, 0x40), 0); /* inside the first data block */
    db = open_small(0);
    int corrupt = 0;
    for (int i = 0; i < 1000; i++) {
        char k[17];
        key_of(k, i);
        void *val;
        size_t vlen;
        int rc = strata_get(db, NULL, k, 16, &val, &vlen);
        if (rc == STRATA_OK) {
            strata_free(val);
            continue;
        }
        cr_assert_eq(rc, STRATA_CORRUPTION, "key %d: %d %s", i, rc, strata_last_error());
        cr_assert(strstr(strata_last_error(), name) != NULL, "%s", strata_last_error());
        corrupt++;
    }
    cr_assert_gt(corrupt, 0, "the damaged block was read");
    free(path);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(flush, stats_report_flushes)
{
    strata_db *db = open_small(1);
    for (int i = 0; i < 3000; i++)
        put(db, i, 0);
    char *s = strata_property(db, "strata.stats");
    cr_assert_not_null(s);
    cr_assert(strstr(s, "tables written") != NULL, "%s", s);
    cr_assert(strstr(s, "block cache") != NULL, "%s", s);
    strata_free(s);
    cr_assert_gt(total_tables(db), 0);
    cr_assert_null(strata_property(db, "strata.num-files-at-level7"));
    cr_assert_eq(strata_close(db), STRATA_OK);
}

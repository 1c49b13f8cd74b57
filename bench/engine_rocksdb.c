/*
 * engine_rocksdb.c: the db_bench adapter for RocksDB, through its C API
 * (Debian's librocksdb-dev).  Built only into build/db_bench_compare.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "bench/engine.h"

/* The Debian package version, set by the Makefile: the C API has no
 * function that returns the library's version. */
#ifndef BENCH_ROCKSDB_VERSION
#define BENCH_ROCKSDB_VERSION "unknown"
#endif

/* What rocksdb.stats says about the default column family (write_amp). */
struct cf_stats {
    double uptime, interval;      /* seconds since the open, and since the last stats call */
    double flush_gb, flush_int_gb;
    double write_gb, write_int_gb;
    double sum_wamp, int_wamp;
    long sum_jobs, int_jobs;
};

/* The handle behind bench_db.  The table options own the filter policy and
 * share the cache, so both live as long as the database.  mark: the stats
 * at the start of the current workload. */
struct rdb {
    rocksdb_t *db;
    rocksdb_options_t *options;
    rocksdb_block_based_table_options_t *table;
    rocksdb_cache_t *cache;
    rocksdb_readoptions_t *ro;
    rocksdb_writeoptions_t *wo[2];
    struct cf_stats mark;
    int marked;
};

#define RDB(d) ((struct rdb *)(void *)(d))
#define RBATCH(b) ((rocksdb_writebatch_t *)(void *)(b))
#define RITER(i) ((rocksdb_iterator_t *)(void *)(i))

/* Moves RocksDB's error string into e. */
static int fail(bench_err *e, const char *what, char *err)
{
    bench_set_err(e, "rocksdb %s: %s", what, err);
    rocksdb_free(err);
    return BENCH_ERROR;
}

/* ---- settings ------------------------------------------------------------ */

static int compression_of(const bench_settings *s)
{
    switch (s->compression) {
    case BENCH_COMPRESSION_SNAPPY: return rocksdb_snappy_compression;
    case BENCH_COMPRESSION_ZSTD: return rocksdb_zstd_compression;
    case BENCH_COMPRESSION_LZ4: return rocksdb_lz4_compression;
    default: return rocksdb_no_compression;
    }
}

static void check_settings(const bench_settings *s, bench_notes *n)
{
    bench_note(n, "rocksdb", "background_threads",
               "%d compaction thread(s) plus one flush thread (max_background_jobs=%d, "
               "max_background_compactions=%d, max_background_flushes=1): RocksDB always "
               "flushes in a pool of its own",
               s->background_threads, s->background_threads, s->background_threads);
    if (s->bloom_bits > 0)
        bench_note(n, "rocksdb", "bloom_bits",
                   "a full filter per table (RocksDB's format); LevelDB builds one per 2 KiB "
                   "of table data");
    bench_note(n, "rocksdb", "table_sizes",
               "RocksDB's defaults kept: 64 MiB table files, 256 MiB level-1 target "
               "(LevelDB: 2 MiB and 10 MiB), L0 stop at 36 files (LevelDB 12)");
    bench_note(n, "rocksdb", "stats_dump_period_sec",
               "0, not 600: RocksDB's dump of its stats to its LOG (first at or seconds after "
               "each open) would restart the interval that write amp is read from");
}

static void configure_table(struct rdb *d, const bench_settings *s)
{
    rocksdb_block_based_options_set_block_size(d->table, s->block_size);
    rocksdb_block_based_options_set_block_cache(d->table, d->cache);
    if (s->bloom_bits > 0)
        rocksdb_block_based_options_set_filter_policy(
            d->table, rocksdb_filterpolicy_create_bloom_full(s->bloom_bits));
    rocksdb_options_set_block_based_table_factory(d->options, d->table);
}

static void configure(struct rdb *d, const bench_settings *s)
{
    rocksdb_options_set_create_if_missing(d->options, 1);
    rocksdb_options_set_write_buffer_size(d->options, s->write_buffer_size);
    rocksdb_options_set_max_open_files(d->options, s->max_open_files);
    rocksdb_options_set_compression(d->options, compression_of(s));
    /* window bits and strategy as RocksDB's defaults; no dictionary */
    rocksdb_options_set_compression_options(d->options, -14, s->compression_level, 0, 0);
    rocksdb_options_set_max_background_jobs(d->options, s->background_threads);
    rocksdb_options_set_max_background_compactions(d->options, s->background_threads);
    rocksdb_options_set_max_background_flushes(d->options, 1);
    /* write_amp reads the stats interval; a dump would restart it. */
    rocksdb_options_set_stats_dump_period_sec(d->options, 0);
    configure_table(d, s);
}

static const char *version(void)
{
    return BENCH_ROCKSDB_VERSION;
}

/* ---- open, close, destroy ---------------------------------------------- */

static void free_handle(struct rdb *d)
{
    if (d->db)
        rocksdb_close(d->db);
    if (d->ro)
        rocksdb_readoptions_destroy(d->ro);
    for (int i = 0; i < 2; i++)
        if (d->wo[i])
            rocksdb_writeoptions_destroy(d->wo[i]);
    if (d->options)
        rocksdb_options_destroy(d->options);
    if (d->table)
        rocksdb_block_based_options_destroy(d->table);
    if (d->cache)
        rocksdb_cache_destroy(d->cache);
    free(d);
}

static int close_db(bench_db *db, bench_err *e)
{
    (void)e;
    free_handle(RDB(db));
    return BENCH_OK;
}

static struct rdb *new_handle(const bench_settings *s)
{
    struct rdb *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->options = rocksdb_options_create();
    d->table = rocksdb_block_based_options_create();
    d->cache = rocksdb_cache_create_lru(s->cache_size);
    d->ro = rocksdb_readoptions_create();
    for (int sync = 0; sync < 2; sync++) {
        d->wo[sync] = rocksdb_writeoptions_create();
        rocksdb_writeoptions_set_sync(d->wo[sync], (unsigned char)sync);
    }
    configure(d, s);
    return d;
}

static int open_db(const bench_settings *s, const char *path, bench_db **db, bench_err *e)
{
    struct rdb *d = new_handle(s);
    if (!d) {
        bench_set_err(e, "rocksdb open: out of memory");
        return BENCH_ERROR;
    }
    char *err = NULL;
    d->db = rocksdb_open(d->options, path, &err);
    if (err) {
        d->db = NULL;
        free_handle(d);
        return fail(e, "open", err);
    }
    *db = (bench_db *)(void *)d;
    return BENCH_OK;
}

static int destroy_db(const bench_settings *s, const char *path, bench_err *e)
{
    (void)s;
    rocksdb_options_t *o = rocksdb_options_create();
    char *err = NULL;
    rocksdb_destroy_db(o, path, &err);
    rocksdb_options_destroy(o);
    return err ? fail(e, "destroy", err) : BENCH_OK;
}

/* ---- reads and writes --------------------------------------------------- */

static int put(bench_db *db, int sync, const char *k, size_t klen, const char *v, size_t vlen,
               bench_err *e)
{
    char *err = NULL;
    rocksdb_put(RDB(db)->db, RDB(db)->wo[sync != 0], k, klen, v, vlen, &err);
    return err ? fail(e, "put", err) : BENCH_OK;
}

static int get(bench_db *db, const char *k, size_t klen, char **v, size_t *vlen, bench_err *e)
{
    char *err = NULL;
    *v = rocksdb_get(RDB(db)->db, RDB(db)->ro, k, klen, vlen, &err);
    if (err)
        return fail(e, "get", err);
    return *v ? BENCH_OK : BENCH_NOT_FOUND;
}

static void free_value(char *v)
{
    rocksdb_free(v);
}

static int del(bench_db *db, int sync, const char *k, size_t klen, bench_err *e)
{
    char *err = NULL;
    rocksdb_delete(RDB(db)->db, RDB(db)->wo[sync != 0], k, klen, &err);
    return err ? fail(e, "delete", err) : BENCH_OK;
}

/* ---- batches ------------------------------------------------------------- */

static bench_batch *batch_new(void)
{
    return (bench_batch *)(void *)rocksdb_writebatch_create();
}

static void batch_put(bench_batch *b, const char *k, size_t klen, const char *v, size_t vlen)
{
    rocksdb_writebatch_put(RBATCH(b), k, klen, v, vlen);
}

static void batch_delete(bench_batch *b, const char *k, size_t klen)
{
    rocksdb_writebatch_delete(RBATCH(b), k, klen);
}

static void batch_clear(bench_batch *b)
{
    rocksdb_writebatch_clear(RBATCH(b));
}

static void batch_free(bench_batch *b)
{
    rocksdb_writebatch_destroy(RBATCH(b));
}

static int write_batch(bench_db *db, int sync, bench_batch *b, bench_err *e)
{
    char *err = NULL;
    rocksdb_write(RDB(db)->db, RDB(db)->wo[sync != 0], RBATCH(b), &err);
    return err ? fail(e, "write", err) : BENCH_OK;
}

/* ---- iterators ----------------------------------------------------------- */

static bench_iter *iter_new(bench_db *db, bench_err *e)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(RDB(db)->db, RDB(db)->ro);
    if (!it)
        bench_set_err(e, "rocksdb iterator: out of memory");
    return (bench_iter *)(void *)it;
}

static void iter_seek_first(bench_iter *it)
{
    rocksdb_iter_seek_to_first(RITER(it));
}

static void iter_seek_last(bench_iter *it)
{
    rocksdb_iter_seek_to_last(RITER(it));
}

static void iter_seek(bench_iter *it, const char *k, size_t klen)
{
    rocksdb_iter_seek(RITER(it), k, klen);
}

static void iter_next(bench_iter *it)
{
    rocksdb_iter_next(RITER(it));
}

static void iter_prev(bench_iter *it)
{
    rocksdb_iter_prev(RITER(it));
}

static int iter_valid(bench_iter *it)
{
    return rocksdb_iter_valid(RITER(it));
}

static const char *iter_key(bench_iter *it, size_t *klen)
{
    return rocksdb_iter_key(RITER(it), klen);
}

static const char *iter_value(bench_iter *it, size_t *vlen)
{
    return rocksdb_iter_value(RITER(it), vlen);
}

static int iter_status(bench_iter *it, bench_err *e)
{
    char *err = NULL;
    rocksdb_iter_get_error(RITER(it), &err);
    return err ? fail(e, "iterator", err) : BENCH_OK;
}

static void iter_free(bench_iter *it)
{
    rocksdb_iter_destroy(RITER(it));
}

/* ---- compaction and properties ------------------------------------------- */

static int compact(bench_db *db, bench_err *e)
{
    (void)e;
    rocksdb_compact_range(RDB(db)->db, NULL, 0, NULL, 0);
    return BENCH_OK;
}

/* 1 when the integer property is not 0 (or cannot be read). */
static int property_nonzero(bench_db *db, const char *name)
{
    char *v = rocksdb_property_value(RDB(db)->db, name);
    int nonzero = v == NULL || strcmp(v, "0") != 0;
    rocksdb_free(v);
    return nonzero;
}

static int wait_for_compaction(bench_db *db, bench_err *e)
{
    (void)e;
    while (property_nonzero(db, "rocksdb.compaction-pending") ||
           property_nonzero(db, "rocksdb.num-running-compactions") ||
           property_nonzero(db, "rocksdb.mem-table-flush-pending") ||
           property_nonzero(db, "rocksdb.num-running-flushes"))
        bench_sleep_ms(10);
    return BENCH_OK;
}

static char *stats(bench_db *db)
{
    return rocksdb_property_value(RDB(db)->db, "rocksdb.stats");
}

/* ---- write amplification ---------------------------------------------------
 *
 * rocksdb.stats, for the default column family:
 *   ** Compaction Stats [default] **
 *   Level    Files   Size     Score Read(GB)  Rn(GB) Rnp1(GB) Write(GB) Wnew(GB) Moved(GB) W-Amp ... Comp(cnt) ...
 *   ----------------------------------------------------------------------------------------------
 *     L0      3/0    4.80 MB   0.8      0.0     0.0      0.0       0.0      0.0       0.0   1.0 ...         7 ...
 *    Sum      4/0    9.68 MB   0.0      0.0     0.0      0.0       0.0      0.0       0.0   1.4 ...         8 ...
 *    Int      0/0    0.00 KB   0.0      0.0     0.0      0.0       0.0      0.0       0.0   1.4 ...         8 ...
 *   ...
 *   Uptime(secs): 3.4 total, 3.4 interval
 *   Flush(GB): cumulative 0.011, interval 0.011
 *   ...
 *   Cumulative compaction: 0.02 GB write, 4.68 MB/s write, 0.01 GB read, 1.86 MB/s read, 1.4 seconds
 *   Interval compaction: 0.02 GB write, 4.74 MB/s write, 0.01 GB read, 1.89 MB/s read, 1.4 seconds
 * Sum is since the open and Int since the previous call of this property;
 * W-Amp is their bytes written to tables (flushes are compactions to level
 * 0 there) over bytes flushed: this benchmark's definition; Comp(cnt)
 * counts flushes and compactions; "compaction ... GB write" is the bytes
 * written to tables, flushes included.  All rounded as shown: W-Amp to 0.1,
 * the GB to 0.01 and 0.001.  So write_amp calls the property just before a
 * workload, which starts a new interval, and takes the Int figures just
 * after it.  RocksDB's own dump of its stats to its LOG would start one
 * too (at the open or seconds after it, the delay growing with each open
 * in the process, then every 10 minutes), so configure() turns it off.
 * If an interval was started in between all the same, it is shorter than
 * the time since that call, and the Sum figures' differences are used,
 * which round more. */

static int unparsed(bench_err *e, const char *what)
{
    bench_set_err(e, "rocksdb.stats: no %s", what);
    return BENCH_NOT_SUPPORTED;
}

enum { MAX_COLUMNS = 40 };

/* Splits line (up to its end) into at most MAX_COLUMNS words in buf. */
static int split_line(const char *line, char *buf, size_t size, char **words)
{
    size_t n = strcspn(line, "\n");
    if (n >= size)
        return 0;
    memcpy(buf, line, n);
    buf[n] = '\0';
    int count = 0;
    char *save = NULL;
    for (char *w = strtok_r(buf, " \t", &save); w && count < MAX_COLUMNS;
         w = strtok_r(NULL, " \t", &save))
        words[count++] = w;
    return count;
}

static int column(char **head, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(head[i], name))
            return i;
    return -1;
}

/* W-Amp and Comp(cnt) of the row called name (Sum or Int) of the level
 * table whose header is head.  A row's Size is two words ("9.68 MB"), the
 * header's one. */
static int level_row(const char *table, char **head, int nhead, const char *name, double *wamp,
                     long *jobs, bench_err *e)
{
    char prefix[8], buf[1024], *w[MAX_COLUMNS], *end;
    snprintf(prefix, sizeof prefix, "%s ", name);
    const char *line = bench_find_line(table, prefix);
    int n = line ? split_line(line, buf, sizeof buf, w) : 0;
    int size = column(head, nhead, "Size");
    if (size > 0 && n == nhead + 1 && isalpha((unsigned char)w[size + 1][0])) {
        memmove(&w[size + 1], &w[size + 2], (size_t)(n - size - 2) * sizeof w[0]);
        n--;
    }
    int iw = column(head, nhead, "W-Amp"), ij = column(head, nhead, "Comp(cnt)");
    if (n != nhead || iw < 0 || ij < 0)
        return unparsed(e, name[0] == 'S' ? "Sum row with W-Amp and Comp(cnt) in the level table"
                                          : "Int row with W-Amp and Comp(cnt) in the level table");
    *wamp = strtod(w[iw], &end);
    if (*end)
        return unparsed(e, "number under W-Amp");
    *jobs = strtol(w[ij], &end, 10);
    if (*end)
        return unparsed(e, "number under Comp(cnt)");
    return BENCH_OK;
}

static int parse_cf_stats(const char *s, struct cf_stats *c, bench_err *e)
{
    const char *cf = strstr(s, "** Compaction Stats [default] **");
    if (!cf)
        return unparsed(e, "\"** Compaction Stats [default] **\"");
    const char *header = bench_find_line(cf, "Level ");
    char hbuf[1024], *head[MAX_COLUMNS];
    int nhead = header ? split_line(header, hbuf, sizeof hbuf, head) : 0;
    if (nhead == 0)
        return unparsed(e, "header of the level table");
    int st = level_row(header, head, nhead, "Sum", &c->sum_wamp, &c->sum_jobs, e);
    if (st == BENCH_OK)
        st = level_row(header, head, nhead, "Int", &c->int_wamp, &c->int_jobs, e);
    if (st != BENCH_OK)
        return st;
    const char *p = bench_find_line(cf, "Uptime(secs): ");
    if (!p || sscanf(p, "Uptime(secs): %lf total, %lf interval", &c->uptime, &c->interval) != 2)
        return unparsed(e, "\"Uptime(secs): T total, I interval\"");
    p = bench_find_line(cf, "Flush(GB): ");
    if (!p || sscanf(p, "Flush(GB): cumulative %lf, interval %lf", &c->flush_gb,
                     &c->flush_int_gb) != 2)
        return unparsed(e, "\"Flush(GB): cumulative F, interval F\"");
    p = bench_find_line(cf, "Cumulative compaction: ");
    if (!p || sscanf(p, "Cumulative compaction: %lf GB write", &c->write_gb) != 1)
        return unparsed(e, "\"Cumulative compaction: X GB write\"");
    p = bench_find_line(cf, "Interval compaction: ");
    if (!p || sscanf(p, "Interval compaction: %lf GB write", &c->write_int_gb) != 1)
        return unparsed(e, "\"Interval compaction: X GB write\"");
    return BENCH_OK;
}

static int write_amp(bench_db *db, int start, bench_write_amp *w, bench_err *e)
{
    static const double GB = 1024.0 * 1024.0 * 1024.0;
    struct rdb *d = RDB(db);
    char *s = rocksdb_property_value(d->db, "rocksdb.stats");
    if (!s)
        return unparsed(e, "rocksdb.stats property");
    struct cf_stats c;
    memset(&c, 0, sizeof c);
    int st = parse_cf_stats(s, &c, e);
    rocksdb_free(s);
    if (st != BENCH_OK || start) {
        d->mark = c;
        d->marked = st == BENCH_OK;
        return st;
    }
    const struct cf_stats *m = &d->mark;
    if (!d->marked) {
        bench_set_err(e, "rocksdb.stats: no figures from the start of the workload");
        return BENCH_NOT_SUPPORTED;
    }
    /* Uptimes are printed to 0.1 s. */
    if (fabs(c.uptime - m->uptime - c.interval) <= 0.16) {
        if (c.int_jobs == 0)
            return bench_write_amp_from(w, 0, 0, 0, 0, -1, 0, "rocksdb", e);
        return bench_write_amp_from(w, c.write_int_gb * GB, 0.005 * GB, c.flush_int_gb * GB,
                                    0.0005 * GB, c.int_wamp, 0.05, "rocksdb", e);
    }
    if (c.sum_jobs == m->sum_jobs)
        return bench_write_amp_from(w, 0, 0, 0, 0, -1, 0, "rocksdb", e);
    /* Two roundings, unless the first figures were all exactly 0. */
    int twice = m->sum_jobs != 0;
    return bench_write_amp_from(w, (c.write_gb - m->write_gb) * GB, (twice ? 0.01 : 0.005) * GB,
                                (c.flush_gb - m->flush_gb) * GB, (twice ? 0.001 : 0.0005) * GB,
                                twice ? -1 : c.sum_wamp, 0.05, "rocksdb", e);
}

const bench_engine bench_engine_rocksdb = {
    .name = "rocksdb",
    .version = version,
    .check_settings = check_settings,
    .open = open_db,
    .close = close_db,
    .destroy = destroy_db,
    .put = put,
    .get = get,
    .free_value = free_value,
    .del = del,
    .batch_new = batch_new,
    .batch_put = batch_put,
    .batch_delete = batch_delete,
    .batch_clear = batch_clear,
    .batch_free = batch_free,
    .write = write_batch,
    .iter_new = iter_new,
    .iter_seek_first = iter_seek_first,
    .iter_seek_last = iter_seek_last,
    .iter_seek = iter_seek,
    .iter_next = iter_next,
    .iter_prev = iter_prev,
    .iter_valid = iter_valid,
    .iter_key = iter_key,
    .iter_value = iter_value,
    .iter_status = iter_status,
    .iter_free = iter_free,
    .compact = compact,
    .wait_for_compaction = wait_for_compaction,
    .stats = stats,
    .write_amp = write_amp,
};

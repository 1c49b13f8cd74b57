/*
 * engine_leveldb.c: the db_bench adapter for LevelDB, through its C API
 * (Debian's libleveldb-dev).  Built only into build/db_bench_compare.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leveldb/c.h>

#include "bench/engine.h"

/* Table bytes written since the open, from LevelDB's LOG (write_amp). */
struct table_counts {
    double flushed, written;
};

/* The handle behind bench_db.  LevelDB keeps pointers to the cache and the
 * filter policy, so they live as long as the database.  log_path is the
 * database's info LOG; mark, its counts at the start of the workload. */
struct ldb {
    leveldb_t *db;
    leveldb_options_t *options;
    leveldb_cache_t *cache;
    leveldb_filterpolicy_t *filter;
    leveldb_readoptions_t *ro;
    leveldb_writeoptions_t *wo[2];
    char *log_path;
    struct table_counts mark;
    int marked;
};

#define LDB(d) ((struct ldb *)(void *)(d))
#define LBATCH(b) ((leveldb_writebatch_t *)(void *)(b))
#define LITER(i) ((leveldb_iterator_t *)(void *)(i))

/* Moves LevelDB's error string into e. */
static int fail(bench_err *e, const char *what, char *err)
{
    bench_set_err(e, "leveldb %s: %s", what, err);
    leveldb_free(err);
    return BENCH_ERROR;
}

/* ---- settings ------------------------------------------------------------ */

/* LevelDB 1.23 compresses with snappy or not at all. */
static int compression_of(const bench_settings *s)
{
    return s->compression == BENCH_COMPRESSION_NONE ? leveldb_no_compression
                                                    : leveldb_snappy_compression;
}

static void check_settings(const bench_settings *s, bench_notes *n)
{
    if (s->compression != BENCH_COMPRESSION_NONE && s->compression != BENCH_COMPRESSION_SNAPPY)
        bench_note(n, "leveldb", "compression",
                   "snappy instead of %s: LevelDB 1.23 has only snappy",
                   bench_compression_name(s->compression));
    if (s->compression != BENCH_COMPRESSION_NONE)
        bench_note(n, "leveldb", "compression_level", "ignored: snappy has no levels");
    bench_note(n, "leveldb", "background_threads",
               "always one thread, which does both memtable flushes and compactions");
}

static void configure(struct ldb *d, const bench_settings *s)
{
    leveldb_options_set_create_if_missing(d->options, 1);
    leveldb_options_set_write_buffer_size(d->options, s->write_buffer_size);
    leveldb_options_set_block_size(d->options, s->block_size);
    leveldb_options_set_cache(d->options, d->cache);
    if (d->filter)
        leveldb_options_set_filter_policy(d->options, d->filter);
    leveldb_options_set_compression(d->options, compression_of(s));
    leveldb_options_set_max_open_files(d->options, s->max_open_files);
}

static const char *version(void)
{
    static char v[32];
    snprintf(v, sizeof v, "%d.%d", leveldb_major_version(), leveldb_minor_version());
    return v;
}

/* ---- open, close, destroy ---------------------------------------------- */

static void free_handle(struct ldb *d)
{
    if (d->db)
        leveldb_close(d->db);
    if (d->ro)
        leveldb_readoptions_destroy(d->ro);
    for (int i = 0; i < 2; i++)
        if (d->wo[i])
            leveldb_writeoptions_destroy(d->wo[i]);
    if (d->options)
        leveldb_options_destroy(d->options);
    if (d->filter)
        leveldb_filterpolicy_destroy(d->filter);
    if (d->cache)
        leveldb_cache_destroy(d->cache);
    free(d->log_path);
    free(d);
}

static int close_db(bench_db *db, bench_err *e)
{
    (void)e;
    free_handle(LDB(db));
    return BENCH_OK;
}

static struct ldb *new_handle(const bench_settings *s)
{
    struct ldb *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->options = leveldb_options_create();
    d->cache = leveldb_cache_create_lru(s->cache_size);
    d->filter = s->bloom_bits > 0 ? leveldb_filterpolicy_create_bloom(s->bloom_bits) : NULL;
    d->ro = leveldb_readoptions_create();
    for (int sync = 0; sync < 2; sync++) {
        d->wo[sync] = leveldb_writeoptions_create();
        leveldb_writeoptions_set_sync(d->wo[sync], (uint8_t)sync);
    }
    configure(d, s);
    return d;
}

static int open_db(const bench_settings *s, const char *path, bench_db **db, bench_err *e)
{
    struct ldb *d = new_handle(s);
    if (!d) {
        bench_set_err(e, "leveldb open: out of memory");
        return BENCH_ERROR;
    }
    char *err = NULL;
    size_t n = strlen(path) + sizeof "/LOG";
    if ((d->log_path = malloc(n)) != NULL)
        snprintf(d->log_path, n, "%s/LOG", path);
    d->db = leveldb_open(d->options, path, &err);
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
    leveldb_options_t *o = leveldb_options_create();
    char *err = NULL;
    leveldb_destroy_db(o, path, &err);
    leveldb_options_destroy(o);
    return err ? fail(e, "destroy", err) : BENCH_OK;
}

/* ---- reads and writes --------------------------------------------------- */

static int put(bench_db *db, int sync, const char *k, size_t klen, const char *v, size_t vlen,
               bench_err *e)
{
    char *err = NULL;
    leveldb_put(LDB(db)->db, LDB(db)->wo[sync != 0], k, klen, v, vlen, &err);
    return err ? fail(e, "put", err) : BENCH_OK;
}

static int get(bench_db *db, const char *k, size_t klen, char **v, size_t *vlen, bench_err *e)
{
    char *err = NULL;
    *v = leveldb_get(LDB(db)->db, LDB(db)->ro, k, klen, vlen, &err);
    if (err)
        return fail(e, "get", err);
    return *v ? BENCH_OK : BENCH_NOT_FOUND;
}

static void free_value(char *v)
{
    leveldb_free(v);
}

static int del(bench_db *db, int sync, const char *k, size_t klen, bench_err *e)
{
    char *err = NULL;
    leveldb_delete(LDB(db)->db, LDB(db)->wo[sync != 0], k, klen, &err);
    return err ? fail(e, "delete", err) : BENCH_OK;
}

/* ---- batches ------------------------------------------------------------- */

static bench_batch *batch_new(void)
{
    return (bench_batch *)(void *)leveldb_writebatch_create();
}

static void batch_put(bench_batch *b, const char *k, size_t klen, const char *v, size_t vlen)
{
    leveldb_writebatch_put(LBATCH(b), k, klen, v, vlen);
}

static void batch_delete(bench_batch *b, const char *k, size_t klen)
{
    leveldb_writebatch_delete(LBATCH(b), k, klen);
}

static void batch_clear(bench_batch *b)
{
    leveldb_writebatch_clear(LBATCH(b));
}

static void batch_free(bench_batch *b)
{
    leveldb_writebatch_destroy(LBATCH(b));
}

static int write_batch(bench_db *db, int sync, bench_batch *b, bench_err *e)
{
    char *err = NULL;
    leveldb_write(LDB(db)->db, LDB(db)->wo[sync != 0], LBATCH(b), &err);
    return err ? fail(e, "write", err) : BENCH_OK;
}

/* ---- iterators ----------------------------------------------------------- */

static bench_iter *iter_new(bench_db *db, bench_err *e)
{
    leveldb_iterator_t *it = leveldb_create_iterator(LDB(db)->db, LDB(db)->ro);
    if (!it)
        bench_set_err(e, "leveldb iterator: out of memory");
    return (bench_iter *)(void *)it;
}

static void iter_seek_first(bench_iter *it)
{
    leveldb_iter_seek_to_first(LITER(it));
}

static void iter_seek_last(bench_iter *it)
{
    leveldb_iter_seek_to_last(LITER(it));
}

static void iter_seek(bench_iter *it, const char *k, size_t klen)
{
    leveldb_iter_seek(LITER(it), k, klen);
}

static void iter_next(bench_iter *it)
{
    leveldb_iter_next(LITER(it));
}

static void iter_prev(bench_iter *it)
{
    leveldb_iter_prev(LITER(it));
}

static int iter_valid(bench_iter *it)
{
    return leveldb_iter_valid(LITER(it));
}

static const char *iter_key(bench_iter *it, size_t *klen)
{
    return leveldb_iter_key(LITER(it), klen);
}

static const char *iter_value(bench_iter *it, size_t *vlen)
{
    return leveldb_iter_value(LITER(it), vlen);
}

static int iter_status(bench_iter *it, bench_err *e)
{
    char *err = NULL;
    leveldb_iter_get_error(LITER(it), &err);
    return err ? fail(e, "iterator", err) : BENCH_OK;
}

static void iter_free(bench_iter *it)
{
    leveldb_iter_destroy(LITER(it));
}

/* ---- compaction and properties ------------------------------------------- */

static int compact(bench_db *db, bench_err *e)
{
    (void)e;
    leveldb_compact_range(LDB(db)->db, NULL, 0, NULL, 0);
    return BENCH_OK;
}

static int wait_for_compaction(bench_db *db, bench_err *e)
{
    (void)db;
    bench_set_err(e, "n/a: LevelDB has no property that says whether a compaction is due");
    return BENCH_NOT_SUPPORTED;
}

static char *stats(bench_db *db)
{
    return leveldb_property_value(LDB(db)->db, "leveldb.stats");
}

/* ---- write amplification ---------------------------------------------------
 *
 * leveldb.stats cannot give it: its table,
 *                                  Compactions
 *   Level  Files Size(MB) Time(sec) Read(MB) Write(MB)
 *   --------------------------------------------------
 *     0        4        7         1        0        22
 *     1        5        9         1       23        17
 *     2        1        2         0        0         2
 * adds each flush to the Write of the level its table went to, and LevelDB
 * puts a flushed table in level 1 or 2 when it overlaps nothing there
 * (PickLevelForMemTableOutput; after fillseq, nearly every one), so level
 * 0's Write is not the bytes flushed; and it prints whole MB.  LevelDB's
 * info LOG, which it starts afresh at each open, has each flush and each
 * compaction to the byte:
 *   2026/11/23-17:00:01.407233 140347627271872 Level-0 table #5: 1901985 bytes OK
 *   2026/11/23-17:00:04.421661 140347627271872 Compacted 4@0 + 1@1 files => 6741770 bytes
 * (a flush logs "Level-0 table" whatever level its table goes to).  Those
 * are counted, and checked against the stats table's Write column: its sum
 * read just before the LOG and just after it must bracket the LOG's total. */

static int log_unreadable(const char *path, bench_err *e)
{
    bench_set_err(e, "leveldb: cannot read %s: %s", path ? path : "LOG", strerror(errno));
    return BENCH_NOT_SUPPORTED;
}

static int parse_log(const char *path, struct table_counts *c, bench_err *e)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return log_unreadable(path, e);
    char line[1024];
    int at_start = 1;
    c->flushed = c->written = 0;
    while (fgets(line, sizeof line, f)) {
        int starts = at_start;
        at_start = strchr(line, '\n') != NULL;
        /* The message follows the date and the thread id. */
        char *msg = starts ? strchr(line, ' ') : NULL;
        msg = msg ? strchr(msg + 1, ' ') : NULL;
        if (!msg)
            continue;
        msg++;
        unsigned long long number, bytes;
        int n0, l0, n1, l1;
        char status[8];
        if (sscanf(msg, "Level-0 table #%llu: %llu bytes %7s", &number, &bytes, status) == 3 &&
            !strcmp(status, "OK")) {
            c->flushed += (double)bytes;
            c->written += (double)bytes;
        } else if (sscanf(msg, "Compacted %d@%d + %d@%d files => %llu bytes", &n0, &l0, &n1, &l1,
                          &bytes) == 5) {
            c->written += (double)bytes;
        }
    }
    int failed = ferror(f);
    fclose(f);
    return failed ? log_unreadable(path, e) : BENCH_OK;
}

/* The sum of leveldb.stats' Write(MB) column, and its number of rows. */
static int stats_written_mb(leveldb_t *db, double *mb, int *rows, bench_err *e)
{
    char *s = leveldb_property_value(db, "leveldb.stats");
    const char *p = s ? bench_find_line(s, "-----") : NULL;
    *mb = 0;
    *rows = 0;
    while (p && (p = strchr(p, '\n')) != NULL && *++p) {
        int level, files;
        double size, secs, read, write;
        if (sscanf(p, "%d %d %lf %lf %lf %lf", &level, &files, &size, &secs, &read, &write) != 6)
            break;
        *mb += write;
        (*rows)++;
    }
    int ok = s && bench_find_line(s, "Level  Files Size(MB) Time(sec) Read(MB) Write(MB)") &&
             (!p || !*p);
    if (s)
        leveldb_free(s);
    if (ok)
        return BENCH_OK;
    bench_set_err(e, "leveldb.stats: not the table of \"Level  Files Size(MB) Time(sec) Read(MB) "
                     "Write(MB)\" rows");
    return BENCH_NOT_SUPPORTED;
}

static int read_counts(struct ldb *d, struct table_counts *c, bench_err *e)
{
    double before, after;
    int rows_before, rows_after;
    int st = stats_written_mb(d->db, &before, &rows_before, e);
    if (st == BENCH_OK)
        st = parse_log(d->log_path, c, e);
    if (st == BENCH_OK)
        st = stats_written_mb(d->db, &after, &rows_after, e);
    if (st != BENCH_OK)
        return st;
    /* Each row is rounded to a whole MB. */
    double mb = c->written / 1048576.0;
    if (mb < before - 0.5 * rows_before - 0.01 || mb > after + 0.5 * rows_after + 0.01) {
        bench_set_err(e, "leveldb: its LOG has %.1f MB written to tables, leveldb.stats %.0f MB",
                      mb, after);
        return BENCH_NOT_SUPPORTED;
    }
    return BENCH_OK;
}

static int write_amp(bench_db *db, int start, bench_write_amp *w, bench_err *e)
{
    struct ldb *d = LDB(db);
    struct table_counts c = {0, 0};
    int st = read_counts(d, &c, e);
    if (st != BENCH_OK || start) {
        d->mark = c;
        d->marked = st == BENCH_OK;
        return st;
    }
    if (!d->marked || c.flushed < d->mark.flushed || c.written < d->mark.written) {
        bench_set_err(e, "leveldb: no counts from the start of the workload");
        return BENCH_NOT_SUPPORTED;
    }
    return bench_write_amp_from(w, c.written - d->mark.written, 0, c.flushed - d->mark.flushed, 0,
                                -1, 0, "leveldb", e);
}

const bench_engine bench_engine_leveldb = {
    .name = "leveldb",
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

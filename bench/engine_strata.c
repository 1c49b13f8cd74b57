/*
 * engine_strata.c: the db_bench adapter for strata, through include/strata.h
 * only.
 *
 * Each knob of bench_settings has one function below (set_*): the one place
 * to change when strata's options change.  What strata cannot do yet is
 * said in check_settings() and compact().
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/engine.h"
#include "strata.h"

/* Table bytes written since the open, from strata.stats (write_amp). */
struct table_counts {
    unsigned long long flushed, written;
};

/* The handle behind bench_db: the database and a write options object for
 * each value of sync, made once so that a put allocates nothing; the
 * counters at the start of the current workload. */
struct sdb {
    strata_db *db;
    strata_write_options *wo[2];
    struct table_counts mark;
    int marked;
};

#define SDB(d) ((struct sdb *)(void *)(d))
#define SBATCH(b) ((strata_batch *)(void *)(b))
#define SITER(i) ((strata_iter *)(void *)(i))

static int fail(bench_err *e, const char *what, int st)
{
    bench_set_err(e, "strata %s: %s: %s", what, strata_strerror(st), strata_last_error());
    return BENCH_ERROR;
}

/* ---- one function per setting ------------------------------------------ */

static void set_write_buffer_size(strata_options *o, const bench_settings *s, bench_notes *n)
{
    (void)n;
    strata_options_set_write_buffer_size(o, s->write_buffer_size);
}

static void set_block_size(strata_options *o, const bench_settings *s, bench_notes *n)
{
    (void)n;
    strata_options_set_block_size(o, s->block_size);
}

static void set_cache_size(strata_options *o, const bench_settings *s, bench_notes *n)
{
    (void)n;
    strata_options_set_block_cache_size(o, s->cache_size);
}

static void set_bloom_bits(strata_options *o, const bench_settings *s, bench_notes *n)
{
    (void)n;
    strata_options_set_bloom_bits_per_key(o, s->bloom_bits);
}

/* strata has zstd or nothing: snappy and lz4 become zstd. */
static void set_compression(strata_options *o, const bench_settings *s, bench_notes *n)
{
    int none = s->compression == BENCH_COMPRESSION_NONE;
    strata_options_set_compression(o, none ? STRATA_COMPRESSION_NONE : STRATA_COMPRESSION_ZSTD);
    if (!none && s->compression != BENCH_COMPRESSION_ZSTD)
        bench_note(n, "strata", "compression", "zstd instead of %s: strata has only zstd",
                   bench_compression_name(s->compression));
}

static void set_compression_level(strata_options *o, const bench_settings *s, bench_notes *n)
{
    (void)n;
    strata_options_set_compression_level(o, s->compression_level);
}

static void set_max_open_files(strata_options *o, const bench_settings *s, bench_notes *n)
{
    (void)n;
    strata_options_set_max_open_files(o, s->max_open_files);
}

static void set_background_threads(strata_options *o, const bench_settings *s, bench_notes *n)
{
    (void)o, (void)s;
    bench_note(n, "strata", "background_threads",
               "no option: strata has one background thread, which flushes memtables first and "
               "compacts between flushes");
}

/* Every set_* above, on o; notes (may be NULL) collects what was not
 * honoured. */
static void configure(strata_options *o, const bench_settings *s, bench_notes *n)
{
    strata_options_set_create_if_missing(o, 1);
    set_write_buffer_size(o, s, n);
    set_block_size(o, s, n);
    set_cache_size(o, s, n);
    set_bloom_bits(o, s, n);
    set_compression(o, s, n);
    set_compression_level(o, s, n);
    set_max_open_files(o, s, n);
    set_background_threads(o, s, n);
}

static void check_settings(const bench_settings *s, bench_notes *n)
{
    strata_options *o = strata_options_new();
    if (!o)
        return;
    configure(o, s, n);
    strata_options_free(o);
    bench_note(n, "strata", "paranoid_checks",
               "strata's default (on) kept (LevelDB's is off, RocksDB's on)");
}

/* ---- open, close, destroy ---------------------------------------------- */

static const char *version(void)
{
    return strata_version();
}

static int make_write_options(struct sdb *d)
{
    for (int sync = 0; sync < 2; sync++) {
        d->wo[sync] = strata_write_options_new();
        if (!d->wo[sync])
            return -1;
        strata_write_options_set_sync(d->wo[sync], sync);
    }
    return 0;
}

static int close_db(bench_db *db, bench_err *e)
{
    struct sdb *d = SDB(db);
    int st = d->db ? strata_close(d->db) : STRATA_OK;
    strata_write_options_free(d->wo[0]);
    strata_write_options_free(d->wo[1]);
    free(d);
    return st == STRATA_OK ? BENCH_OK : fail(e, "close", st);
}

static int open_db(const bench_settings *s, const char *path, bench_db **db, bench_err *e)
{
    struct sdb *d = calloc(1, sizeof *d);
    strata_options *o = strata_options_new();
    if (!d || !o || make_write_options(d) != 0) {
        strata_options_free(o);
        if (d)
            close_db((bench_db *)(void *)d, e);
        bench_set_err(e, "strata open: out of memory");
        return BENCH_ERROR;
    }
    configure(o, s, NULL);
    int st = strata_open(path, o, &d->db);
    strata_options_free(o);
    if (st != STRATA_OK) {
        fail(e, "open", st);
        d->db = NULL;
        bench_err ignored;
        close_db((bench_db *)(void *)d, &ignored);
        return BENCH_ERROR;
    }
    *db = (bench_db *)(void *)d;
    return BENCH_OK;
}

static int destroy_db(const bench_settings *s, const char *path, bench_err *e)
{
    (void)s;
    int st = strata_destroy(path, NULL);
    return st == STRATA_OK ? BENCH_OK : fail(e, "destroy", st);
}

/* ---- reads and writes --------------------------------------------------- */

static int put(bench_db *db, int sync, const char *k, size_t klen, const char *v, size_t vlen,
               bench_err *e)
{
    int st = strata_put(SDB(db)->db, SDB(db)->wo[sync != 0], k, klen, v, vlen);
    return st == STRATA_OK ? BENCH_OK : fail(e, "put", st);
}

static int get(bench_db *db, const char *k, size_t klen, char **v, size_t *vlen, bench_err *e)
{
    void *val;
    int st = strata_get(SDB(db)->db, NULL, k, klen, &val, vlen);
    if (st == STRATA_NOT_FOUND)
        return BENCH_NOT_FOUND;
    if (st != STRATA_OK)
        return fail(e, "get", st);
    *v = val;
    return BENCH_OK;
}

static void free_value(char *v)
{
    strata_free(v);
}

static int del(bench_db *db, int sync, const char *k, size_t klen, bench_err *e)
{
    int st = strata_delete(SDB(db)->db, SDB(db)->wo[sync != 0], k, klen);
    return st == STRATA_OK ? BENCH_OK : fail(e, "delete", st);
}

/* ---- batches ------------------------------------------------------------- */

static bench_batch *batch_new(void)
{
    return (bench_batch *)(void *)strata_batch_new();
}

static void batch_put(bench_batch *b, const char *k, size_t klen, const char *v, size_t vlen)
{
    strata_batch_put(SBATCH(b), k, klen, v, vlen);
}

static void batch_delete(bench_batch *b, const char *k, size_t klen)
{
    strata_batch_delete(SBATCH(b), k, klen);
}

static void batch_clear(bench_batch *b)
{
    strata_batch_clear(SBATCH(b));
}

static void batch_free(bench_batch *b)
{
    strata_batch_free(SBATCH(b));
}

static int write_batch(bench_db *db, int sync, bench_batch *b, bench_err *e)
{
    int st = strata_write(SDB(db)->db, SDB(db)->wo[sync != 0], SBATCH(b));
    return st == STRATA_OK ? BENCH_OK : fail(e, "write", st);
}

/* ---- iterators ----------------------------------------------------------- */

static bench_iter *iter_new(bench_db *db, bench_err *e)
{
    strata_iter *it = strata_iter_new(SDB(db)->db, NULL);
    if (!it)
        fail(e, "iterator", STRATA_NO_MEMORY);
    return (bench_iter *)(void *)it;
}

static void iter_seek_first(bench_iter *it)
{
    strata_iter_seek_first(SITER(it));
}

static void iter_seek_last(bench_iter *it)
{
    strata_iter_seek_last(SITER(it));
}

static void iter_seek(bench_iter *it, const char *k, size_t klen)
{
    strata_iter_seek(SITER(it), k, klen);
}

static void iter_next(bench_iter *it)
{
    strata_iter_next(SITER(it));
}

static void iter_prev(bench_iter *it)
{
    strata_iter_prev(SITER(it));
}

static int iter_valid(bench_iter *it)
{
    return strata_iter_valid(SITER(it));
}

static const char *iter_key(bench_iter *it, size_t *klen)
{
    return strata_iter_key(SITER(it), klen);
}

static const char *iter_value(bench_iter *it, size_t *vlen)
{
    return strata_iter_value(SITER(it), vlen);
}

static int iter_status(bench_iter *it, bench_err *e)
{
    int st = strata_iter_status(SITER(it));
    return st == STRATA_OK ? BENCH_OK : fail(e, "iterator", st);
}

static void iter_free(bench_iter *it)
{
    strata_iter_free(SITER(it));
}

/* ---- compaction and properties ------------------------------------------- */

static int compact(bench_db *db, bench_err *e)
{
    if (strata_compact_range(SDB(db)->db, NULL, 0, NULL, 0) == STRATA_OK)
        return BENCH_OK;
    bench_set_err(e, "%s", strata_last_error());
    return BENCH_ERROR;
}

static int wait_for_compaction(bench_db *db, bench_err *e)
{
    for (;;) {
        char *p = strata_property(SDB(db)->db, "strata.compaction-pending");
        if (p == NULL) {
            bench_set_err(e, "%s", strata_last_error());
            return BENCH_ERROR;
        }
        int pending = strcmp(p, "0") != 0;
        strata_free(p);
        if (!pending)
            return BENCH_OK;
        bench_sleep_ms(10);
    }
}

static char *stats(bench_db *db)
{
    return strata_property(SDB(db)->db, "strata.stats");
}

static int unparsed(bench_err *e, const char *what)
{
    bench_set_err(e, "strata.stats: no line \"%s\"", what);
    return BENCH_NOT_SUPPORTED;
}

/* strata.stats has, since the open,
 *   flushes:
 *     tables written      6 (10950954 bytes, 588.8 ms)
 *   compaction:
 *     table bytes written 41002310 (flushes and compactions)
 *     write amplification 3.74 (table bytes written / bytes flushed)
 * The last line is strata's own ratio of the other two: it must agree,
 * else these are not the figures this parser takes them for. */
static int parse_counts(const char *s, struct table_counts *c, bench_err *e)
{
    const char *p;
    unsigned long long tables;
    double wamp;
    if (!(p = bench_find_line(s, "tables written ")) ||
        sscanf(p, "tables written %llu (%llu bytes", &tables, &c->flushed) != 2)
        return unparsed(e, "tables written N (B bytes, ...)");
    if (!(p = bench_find_line(s, "table bytes written ")) ||
        sscanf(p, "table bytes written %llu (flushes and compactions", &c->written) != 1)
        return unparsed(e, "table bytes written N (flushes and compactions)");
    if (!(p = bench_find_line(s, "write amplification ")) ||
        sscanf(p, "write amplification %lf (table bytes written / bytes flushed", &wamp) != 1)
        return unparsed(e, "write amplification X (table bytes written / bytes flushed)");
    double ratio = c->flushed ? (double)c->written / (double)c->flushed : 0;
    if (c->written < c->flushed || fabs(ratio - wamp) > 0.0051) {
        bench_set_err(e, "strata.stats: write amplification %.2f is not %llu / %llu table bytes",
                      wamp, c->written, c->flushed);
        return BENCH_NOT_SUPPORTED;
    }
    return BENCH_OK;
}

static int write_amp(bench_db *db, int start, bench_write_amp *w, bench_err *e)
{
    struct sdb *d = SDB(db);
    char *s = strata_property(d->db, "strata.stats");
    if (!s) {
        bench_set_err(e, "strata.stats: %s", strata_last_error());
        return BENCH_NOT_SUPPORTED;
    }
    struct table_counts c = {0, 0};
    int st = parse_counts(s, &c, e);
    strata_free(s);
    if (st != BENCH_OK || start) {
        d->mark = c;
        d->marked = st == BENCH_OK;
        return st;
    }
    if (!d->marked || c.flushed < d->mark.flushed || c.written < d->mark.written) {
        bench_set_err(e, "strata.stats: no counters from the start of the workload");
        return BENCH_NOT_SUPPORTED;
    }
    return bench_write_amp_from(w, (double)(c.written - d->mark.written), 0,
                                (double)(c.flushed - d->mark.flushed), 0, -1, 0, "strata", e);
}

const bench_engine bench_engine_strata = {
    .name = "strata",
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

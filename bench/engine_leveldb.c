/*
 * engine_leveldb.c: the db_bench adapter for LevelDB, through its C API
 * (Debian's libleveldb-dev).  Built only into build/db_bench_compare.
 */
#include <stdio.h>
#include <stdlib.h>

#include <leveldb/c.h>

#include "bench/engine.h"

/* The handle behind bench_db.  LevelDB keeps pointers to the cache and the
 * filter policy, so they live as long as the database. */
struct ldb {
    leveldb_t *db;
    leveldb_options_t *options;
    leveldb_cache_t *cache;
    leveldb_filterpolicy_t *filter;
    leveldb_readoptions_t *ro;
    leveldb_writeoptions_t *wo[2];
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

static char *stats(bench_db *db)
{
    return leveldb_property_value(LDB(db)->db, "leveldb.stats");
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
    .stats = stats,
};

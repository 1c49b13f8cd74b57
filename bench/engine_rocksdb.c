/*
 * engine_rocksdb.c: the db_bench adapter for RocksDB, through its C API
 * (Debian's librocksdb-dev).  Built only into build/db_bench_compare.
 */
#include <stdio.h>
#include <stdlib.h>

#include <rocksdb/c.h>

#include "bench/engine.h"

/* The Debian package version, set by the Makefile: the C API has no
 * function that returns the library's version. */
#ifndef BENCH_ROCKSDB_VERSION
#define BENCH_ROCKSDB_VERSION "unknown"
#endif

/* The handle behind bench_db.  The table options own the filter policy and
 * share the cache, so both live as long as the database. */
struct rdb {
    rocksdb_t *db;
    rocksdb_options_t *options;
    rocksdb_block_based_table_options_t *table;
    rocksdb_cache_t *cache;
    rocksdb_readoptions_t *ro;
    rocksdb_writeoptions_t *wo[2];
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

static char *stats(bench_db *db)
{
    return rocksdb_property_value(RDB(db)->db, "rocksdb.stats");
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
    .stats = stats,
};

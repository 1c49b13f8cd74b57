/*
 * engine.h: the small interface db_bench drives every storage engine through.
 *
 * Each engine (strata, LevelDB, RocksDB) is one adapter file that fills a
 * bench_engine: a table of functions over opaque handles.  db_bench never
 * calls an engine's own API, so that one workload loop measures all three the
 * same way.  The settings struct holds every knob a run can set; an adapter
 * that cannot honour one says so in a bench_notes list, which db_bench prints
 * under its header and under the comparison table.
 */
#ifndef BENCH_ENGINE_H
#define BENCH_ENGINE_H

#include <stddef.h>

/* Results of the engine calls. */
enum {
    BENCH_OK = 0,
    BENCH_NOT_FOUND = 1,      /* get: the key is absent */
    BENCH_ERROR = -1,         /* the engine failed: bench_err says why */
    BENCH_NOT_SUPPORTED = -2  /* the engine cannot do this (yet): bench_err says why */
};

/* Compression algorithms a run can ask for.  An engine without the one asked
 * for uses its nearest and notes it. */
enum bench_compression {
    BENCH_COMPRESSION_NONE = 0,
    BENCH_COMPRESSION_SNAPPY,
    BENCH_COMPRESSION_ZSTD,
    BENCH_COMPRESSION_LZ4
};

/* Every knob of a run.  The same values go to every engine. */
typedef struct bench_settings {
    size_t write_buffer_size; /* memtable bytes before a flush */
    size_t block_size;        /* sorted-table block bytes */
    size_t cache_size;        /* block cache bytes */
    int bloom_bits;           /* bloom filter bits per key; 0: no filter */
    int compression;          /* enum bench_compression */
    int compression_level;
    int max_open_files;
    int background_threads;   /* compaction threads */
} bench_settings;

/* A message from a failed engine call. */
typedef struct bench_err {
    char msg[512];
} bench_err;

/* Settings an engine could not honour, each with the reason. */
#define BENCH_MAX_NOTES 32
typedef struct bench_notes {
    int count;
    struct {
        char engine[16];
        char setting[32];
        char text[224];
    } note[BENCH_MAX_NOTES];
} bench_notes;

/* What an engine wrote to table files between two moments (write_amp):
 * write amplification = bytes written to table files by flushes and
 * compactions / bytes written by flushes, the same definition for every
 * engine (RocksDB's "Sum" W-Amp).  The engines print some figures rounded:
 * each has the most it can be off by, 0 when it is exact. */
typedef struct bench_write_amp {
    double wamp, wamp_err;
    double table_mb, table_err_mb;  /* by flushes and compactions */
    double flush_mb, flush_err_mb;  /* by flushes */
} bench_write_amp;

typedef struct bench_db bench_db;       /* an open database */
typedef struct bench_batch bench_batch; /* a write batch */
typedef struct bench_iter bench_iter;   /* an iterator */

typedef struct bench_engine {
    const char *name;
    /* The library version actually linked, e.g. "1.23". */
    const char *(*version)(void);
    /* Append to n every setting of s this engine cannot honour, and why. */
    void (*check_settings)(const bench_settings *s, bench_notes *n);

    int (*open)(const bench_settings *s, const char *path, bench_db **db, bench_err *e);
    int (*close)(bench_db *db, bench_err *e);
    /* Delete the database in path (closed). A missing one is not an error. */
    int (*destroy)(const bench_settings *s, const char *path, bench_err *e);

    int (*put)(bench_db *db, int sync, const char *k, size_t klen, const char *v, size_t vlen,
               bench_err *e);
    /* BENCH_OK with *v (free with free_value) and *vlen, or BENCH_NOT_FOUND. */
    int (*get)(bench_db *db, const char *k, size_t klen, char **v, size_t *vlen, bench_err *e);
    void (*free_value)(char *v);
    int (*del)(bench_db *db, int sync, const char *k, size_t klen, bench_err *e);

    bench_batch *(*batch_new)(void);
    void (*batch_put)(bench_batch *b, const char *k, size_t klen, const char *v, size_t vlen);
    void (*batch_delete)(bench_batch *b, const char *k, size_t klen);
    void (*batch_clear)(bench_batch *b);
    void (*batch_free)(bench_batch *b);
    int (*write)(bench_db *db, int sync, bench_batch *b, bench_err *e);

    /* NULL with e filled on failure. */
    bench_iter *(*iter_new)(bench_db *db, bench_err *e);
    void (*iter_seek_first)(bench_iter *it);
    void (*iter_seek_last)(bench_iter *it);
    void (*iter_seek)(bench_iter *it, const char *k, size_t klen);
    void (*iter_next)(bench_iter *it);
    void (*iter_prev)(bench_iter *it);
    int (*iter_valid)(bench_iter *it);
    const char *(*iter_key)(bench_iter *it, size_t *klen);
    const char *(*iter_value)(bench_iter *it, size_t *vlen);
    int (*iter_status)(bench_iter *it, bench_err *e);
    void (*iter_free)(bench_iter *it);

    /* Compact the whole key range. */
    int (*compact)(bench_db *db, bench_err *e);
    /* Wait until the engine's background thread(s) have no flush or
     * compaction left to run (polling its own property), so that what is
     * on disk is what the engine leaves once it has caught up.
     * BENCH_NOT_SUPPORTED when the engine cannot tell. */
    int (*wait_for_compaction)(bench_db *db, bench_err *e);
    /* The engine's "stats" property (free with free_value), NULL if none. */
    char *(*stats)(bench_db *db);
    /* Write amplification, from the engine's own statistics: called with
     * start=1 just before a workload (it reads and keeps the counters; *w
     * is left alone), then with start=0 just after it, which fills *w with
     * what was written in between.  Neither call waits for anything.
     * BENCH_NOT_FOUND when there is no ratio to give (nothing flushed, or
     * too few bytes for the engine's rounding: e says which; *w still has
     * the bytes), BENCH_NOT_SUPPORTED when the statistics text does not
     * parse (e says where): never a guessed figure. */
    int (*write_amp)(bench_db *db, int start, bench_write_amp *w, bench_err *e);
} bench_engine;

/* ---- the registry (engines.c) ----------------------------------------- */

/* The engines built into this binary, strata first. */
size_t bench_engine_count(void);
const bench_engine *bench_engine_at(size_t i);
/* The engine called name, or NULL. */
const bench_engine *bench_engine_find(const char *name);

/* ---- helpers for the adapters (engines.c) ----------------------------- */

void bench_note(bench_notes *n, const char *engine, const char *setting, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void bench_set_err(bench_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sleep ms milliseconds (for adapters that poll). */
void bench_sleep_ms(unsigned ms);
const char *bench_compression_name(int c);
/* The enum value for a name, or -1. */
int bench_compression_parse(const char *name);

/* The line of text whose first non-blank characters are prefix (the
 * pointer is to prefix in it), or NULL. */
const char *bench_find_line(const char *text, const char *prefix);
/* Fills w from the bytes an engine wrote between start and end, each with
 * the most its rounding can be off by (0: exact), and the engine's own
 * ratio over the same span if it prints one (own < 0: none), which is used
 * when it is the more precise and agrees with the bytes.  Returns
 * BENCH_OK, or BENCH_NOT_FOUND with e saying why there is no ratio. */
int bench_write_amp_from(bench_write_amp *w, double table_bytes, double table_err,
                         double flush_bytes, double flush_err, double own, double own_err,
                         const char *engine, bench_err *e);

#endif /* BENCH_ENGINE_H */

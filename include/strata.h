/*
 * strata.h: the whole public API of strata, an embeddable key-value store
 * built as a log-structured merge tree.
 *
 * Conventions, the same for every function below:
 * - Handles are opaque.  Whoever creates a handle with *_new() or
 *   strata_open() frees it with the matching *_free(), strata_close() or
 *   strata_snapshot_release().
 * - Functions that can fail return an int status: STRATA_OK (0) or one of the
 *   negative codes below.  strata_last_error() then describes the failure:
 *   what went wrong, and the file and offset where there is one.  A
 *   successful call leaves the message of the last failure in place, as
 *   errno does.
 * - NULL for any options argument means the defaults.
 * - Keys and values are arbitrary bytes (the empty key and empty values
 *   included) of at most 2^32-1 bytes, ordered bytewise: memcmp, and the
 *   shorter key first when one is a prefix of the other.
 * - One strata_db may be used from many threads at once.  A batch, an
 *   iterator or an options object is used by one thread at a time.
 */
#ifndef STRATA_H
#define STRATA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1
#define STRATA_VERSION_PATCH 0

/* Status codes. */
enum {
    STRATA_OK = 0,
    STRATA_NOT_FOUND = -1,        /* the key is absent or deleted */
    STRATA_CORRUPTION = -2,       /* a checksum or a format check failed */
    STRATA_IO_ERROR = -3,         /* the operating system refused an operation */
    STRATA_INVALID_ARGUMENT = -4, /* bad handle, bad size, bad path, ... */
    STRATA_NOT_SUPPORTED = -5,
    STRATA_BUSY = -6,             /* the database is open elsewhere */
    STRATA_NO_MEMORY = -7
};

/* A short constant name for a status code ("corruption", ...). */
STRATA_API const char *strata_strerror(int status);

/* The detail of this thread's last failed call: what failed and why, and the
 * file and offset where there is one.  The string belongs to strata and stays
 * valid until this thread's next failing call.  "" before any failure. */
STRATA_API const char *strata_last_error(void);

/* "MAJOR.MINOR.PATCH" of the library actually linked. */
STRATA_API const char *strata_version(void);

typedef struct strata_db strata_db;
typedef struct strata_options strata_options;
typedef struct strata_read_options strata_read_options;
typedef struct strata_write_options strata_write_options;
typedef struct strata_batch strata_batch;
typedef struct strata_iter strata_iter;
typedef struct strata_snapshot strata_snapshot;

/* ---- Options for opening a database ------------------------------------ */

/* A new options object holding the defaults, or NULL when out of memory. */
STRATA_API strata_options *strata_options_new(void);
STRATA_API void strata_options_free(strata_options *o);

/* Create the directory and the database when missing.  Default 1. */
STRATA_API void strata_options_set_create_if_missing(strata_options *o, int on);

/* Fail with STRATA_INVALID_ARGUMENT when the database already exists.
 * Default 0. */
STRATA_API void strata_options_set_error_if_exists(strata_options *o, int on);

/* Treat any damage found as an error.  On: every block read from a table
 * is checksum-verified (as verify_checksums does per read), and a
 * corrupted write-ahead log record that is not a torn tail fails
 * strata_open with STRATA_CORRUPTION.  Off: table blocks are verified when
 * a read asks, when they may enter the block cache and in compactions; the
 * rest of a damaged log is skipped, the loss is written to the LOG file in
 * the database directory, and the database opens.  Either way, a damaged
 * CURRENT, MANIFEST or table footer, index, filter or properties block is
 * STRATA_CORRUPTION naming the file (docs/reliability.md).  Default 1. */
STRATA_API void strata_options_set_paranoid_checks(strata_options *o, int on);

/* Bytes of writes gathered in memory (the memtable) before they are written
 * out as a sorted table.  Default 4 MiB.  Values below 64 KiB are raised to
 * 64 KiB. */
STRATA_API void strata_options_set_write_buffer_size(strata_options *o, size_t bytes);

/* Block compression codecs. */
enum { STRATA_COMPRESSION_NONE = 0, STRATA_COMPRESSION_ZSTD = 1 };

/* Bytes of key-value data per table block before compression: the unit a
 * read fetches, decompresses and caches.  Default 4 KiB; values below
 * 256 bytes are raised to 256. */
STRATA_API void strata_options_set_block_size(strata_options *o, size_t bytes);

/* Capacity of the cache of decompressed blocks, in bytes.  Default 8 MiB;
 * 0 disables the cache (every read goes to the file). */
STRATA_API void strata_options_set_block_cache_size(strata_options *o, size_t bytes);

/* Bits per key of each table's bloom filter, which lets a read skip a table
 * that cannot hold its key.  Default 10 (about 1% false positives); 0
 * builds no filter.  At most 30. */
STRATA_API void strata_options_set_bloom_bits_per_key(strata_options *o, int bits);

/* STRATA_COMPRESSION_NONE or STRATA_COMPRESSION_ZSTD (default).  A block is
 * stored compressed only when that saves at least an eighth of it. */
STRATA_API void strata_options_set_compression(strata_options *o, int codec);

/* The codec's level: for zstd, -1 (default) or 1 (fast) to 19 (smallest).
 * -1 compresses 35% faster than 1 and stores literals raw, so a 4 KiB
 * block decompresses in ~1.4 us whatever the data, where level 1 takes
 * ~4.4 us on text (its Huffman-coded literals); the price is ~11% more
 * space on text-like values and nothing measurable on random ones.  Levels
 * below -2 lose much of the compression. */
STRATA_API void strata_options_set_compression_level(strata_options *o, int level);

/* Tables kept open at once (each holds a file descriptor and its index and
 * filter in memory).  Default 1000; at least 16. */
STRATA_API void strata_options_set_max_open_files(strata_options *o, int n);

/* Read tables through a read-only memory mapping of each open table
 * instead of a pread per block: a block-cache miss then costs no system
 * call (~2 us here), and raw blocks are read in place.  Default on (64-bit
 * builds).  The trade: a table file truncated by someone else, or a disk
 * error while a page is read in, kills the process with SIGBUS where
 * pread would return STRATA_IO_ERROR.  Damaged bytes are still caught by
 * the checksums.  Turn it off where files may change under the database. */
STRATA_API void strata_options_set_mmap_reads(strata_options *o, int on);

/* ---- The shape of the tree (leveled compaction) --------------------------
 *
 * Tables flushed from the memtable land in level 0, where they may overlap;
 * from level 1 down each level is one sorted run of tables that do not.
 * The background thread compacts level 0 into level 1 once it holds 4
 * tables, and a deeper level into the next once it outgrows its target. */

/* Size at which a compaction ends an output table.  Default 2 MiB: small
 * enough that a compaction of one table into the next level rewrites about
 * 11 tables (22 MiB) and keeps the background thread's steps short, large
 * enough that a 100 GiB database needs ~50k files.  At least 16 KiB. */
STRATA_API void strata_options_set_target_file_size(strata_options *o, size_t bytes);

/* Target size of level 1.  Default 10 MiB: about what level 0 holds at its
 * compaction trigger (4 flushed memtables of 4 MiB, compressed), so that a
 * level-0 compaction rewrites about as much of level 1 as it brings.  At
 * least 64 KiB. */
STRATA_API void strata_options_set_max_bytes_for_level_base(strata_options *o, size_t bytes);

/* Each level's target is this many times the one above it.  Default 10,
 * which puts ~90% of the data in the last level (so ~90% of the space used
 * is live data) with a write amplification of about the multiplier per
 * level.  2 to 100. */
STRATA_API void strata_options_set_max_bytes_for_level_multiplier(strata_options *o, int m);

/* From this many level-0 tables on, each write is delayed about 1 ms once,
 * so that compaction catches up gradually instead of writes stopping all
 * at once.  Default 8; at least 1. */
STRATA_API void strata_options_set_level0_slowdown_trigger(strata_options *o, int n);

/* From this many level-0 tables on, writes wait until compaction brings
 * the count down: every get reads every level-0 table.  Default 12; never
 * below the slowdown trigger. */
STRATA_API void strata_options_set_level0_stop_trigger(strata_options *o, int n);

/* ---- Options for each write -------------------------------------------- */

STRATA_API strata_write_options *strata_write_options_new(void);
STRATA_API void strata_write_options_free(strata_write_options *wo);

/* Sync the write-ahead log (fdatasync) before the write returns, so that the
 * write survives a machine crash.  Without it a write survives a crash of
 * the process but may be lost if the machine crashes.  Default 0. */
STRATA_API void strata_write_options_set_sync(strata_write_options *wo, int on);

/* ---- Options for each read --------------------------------------------- */

STRATA_API strata_read_options *strata_read_options_new(void);
STRATA_API void strata_read_options_free(strata_read_options *ro);

/* Read as of a snapshot (NULL: the latest state).  The snapshot must stay
 * alive while the options are used. */
STRATA_API void strata_read_options_set_snapshot(strata_read_options *ro,
                                                 const strata_snapshot *s);

/* Verify the checksum of everything read from disk for this read, even when
 * paranoid_checks is off.  Default 0. */
STRATA_API void strata_read_options_set_verify_checksums(strata_read_options *ro, int on);

/* Keep the blocks this read loads in the block cache.  Default 1; turn off
 * for a bulk scan that should not evict the working set. */
STRATA_API void strata_read_options_set_fill_cache(strata_read_options *ro, int on);

/* Iterator bounds: keys >= lower (inclusive) and < upper (exclusive).  The
 * bytes are copied.  key == NULL removes the bound. */
STRATA_API void strata_read_options_set_lower_bound(strata_read_options *ro,
                                                    const void *key, size_t klen);
STRATA_API void strata_read_options_set_upper_bound(strata_read_options *ro,
                                                    const void *key, size_t klen);

/* ---- Opening and closing ----------------------------------------------- */

/* Open the database in directory path.  On success *db is a new handle to
 * close with strata_close().  Fails with STRATA_BUSY when the database is
 * open already, in this process or another. */
STRATA_API int strata_open(const char *path, const strata_options *opts, strata_db **db);

/* Close the handle and free it, whatever the status: the status reports a
 * failure to release a resource.  Iterators and snapshots must be released
 * first. */
STRATA_API int strata_close(strata_db *db);

/* Delete the database in path and its directory.  Fails with STRATA_BUSY
 * when it is open.  A missing directory is not an error.  Files in the
 * directory that are not strata's are kept, and then the directory too. */
STRATA_API int strata_destroy(const char *path, const strata_options *opts);

/* ---- Reads and writes -------------------------------------------------- */

STRATA_API int strata_put(strata_db *db, const strata_write_options *wo,
                          const void *key, size_t klen, const void *val, size_t vlen);

/* Deleting a key that is absent is not an error. */
STRATA_API int strata_delete(strata_db *db, const strata_write_options *wo,
                             const void *key, size_t klen);

/* On STRATA_OK, *val is a new buffer from malloc (free it with strata_free;
 * never NULL, even for an empty value) and *vlen its length.  Returns
 * STRATA_NOT_FOUND when the key is absent or deleted. */
STRATA_API int strata_get(strata_db *db, const strata_read_options *ro,
                          const void *key, size_t klen, void **val, size_t *vlen);

/* Frees what strata_get and strata_property hand out.  NULL is allowed. */
STRATA_API void strata_free(void *p);

/* ---- Write batches: several updates applied atomically ----------------- */

/* A new empty batch, or NULL when out of memory. */
STRATA_API strata_batch *strata_batch_new(void);

/* Add an update.  These cannot report errors themselves: an invalid argument
 * (NULL with a non-zero length, a size over 2^32-1) or a failed allocation
 * is remembered in the batch, and strata_write() then fails with it and
 * writes nothing.  strata_batch_clear() forgets it. */
STRATA_API void strata_batch_put(strata_batch *b, const void *key, size_t klen,
                                 const void *val, size_t vlen);
STRATA_API void strata_batch_delete(strata_batch *b, const void *key, size_t klen);
STRATA_API void strata_batch_clear(strata_batch *b);
STRATA_API size_t strata_batch_count(const strata_batch *b);
STRATA_API void strata_batch_free(strata_batch *b);

/* Apply every update of b, in order, atomically: after a crash either all of
 * them are there or none.  b is not changed and may be reused. */
STRATA_API int strata_write(strata_db *db, const strata_write_options *wo, strata_batch *b);

/* ---- Snapshots --------------------------------------------------------- */

/* A view of the database that sees exactly the writes made before it.
 * NULL when db is NULL or memory runs out (see strata_last_error). */
STRATA_API const strata_snapshot *strata_snapshot_new(strata_db *db);
STRATA_API void strata_snapshot_release(strata_db *db, const strata_snapshot *s);

/* ---- Iterators --------------------------------------------------------- */

/* An iterator over a consistent view fixed when it is created (the read
 * options' snapshot, or the latest state), within the read options' bounds.
 * It starts unpositioned.  NULL when db is NULL or memory runs out. */
STRATA_API strata_iter *strata_iter_new(strata_db *db, const strata_read_options *ro);
STRATA_API void strata_iter_seek_first(strata_iter *it);
STRATA_API void strata_iter_seek_last(strata_iter *it);
/* Position at the first key >= key. */
STRATA_API void strata_iter_seek(strata_iter *it, const void *key, size_t klen);
/* Position at the last key <= key. */
STRATA_API void strata_iter_seek_for_prev(strata_iter *it, const void *key, size_t klen);
/* next and prev require a valid iterator; on an invalid one they do nothing. */
STRATA_API void strata_iter_next(strata_iter *it);
STRATA_API void strata_iter_prev(strata_iter *it);
STRATA_API int strata_iter_valid(const strata_iter *it);
/* The current key and value; valid until the iterator moves or is freed.
 * NULL (and length 0) when the iterator is not valid. */
STRATA_API const void *strata_iter_key(const strata_iter *it, size_t *klen);
STRATA_API const void *strata_iter_value(const strata_iter *it, size_t *vlen);
/* STRATA_OK, or the error that stopped the iterator. */
STRATA_API int strata_iter_status(const strata_iter *it);
STRATA_API void strata_iter_free(strata_iter *it);

/* ---- Properties -------------------------------------------------------- */

/* A new string from malloc (free with strata_free), or NULL when the name is
 * unknown.  Names:
 *   "strata.approximate-memory-usage"  bytes held by the memtables, the
 *                                      block cache and the memtable block pool
 *   "strata.stats"                     human-readable counters: writes, WAL
 *                                      syncs and group commits; per level
 *                                      tables, bytes, score, compaction bytes
 *                                      and write amplification; stalls;
 *                                      caches; background busy time, pending
 *                                      bytes and error
 *   "strata.sstables"                  every table of each level, with its
 *                                      key range
 *   "strata.num-files-at-level<N>"     tables at level N (0 to 6)
 *   "strata.compaction-pending"        "1" while a flush or compaction waits
 *                                      or runs, "0" when the background
 *                                      thread has nothing to do (also after
 *                                      a background error: nothing more will
 *                                      run) */
STRATA_API char *strata_property(strata_db *db, const char *name);

/* Compact the user keys in [start, limit] (a NULL start or limit is an open
 * bound: NULL and NULL is the whole database) down to the deepest level
 * holding any of them: the memtable is flushed first, then each level's
 * tables overlapping the range are merged into the next, dropping
 * overwritten values and deletions nothing older needs.  As in LevelDB
 * (and RocksDB by default), the deepest level is not rewritten on its own:
 * versions kept there for snapshots since released stay until a later
 * merge rewrites their keys.  Returns when done, or with the background
 * error that stopped it.  Other reads and writes go on meanwhile. */
STRATA_API int strata_compact_range(strata_db *db, const void *start, size_t slen,
                                    const void *limit, size_t llen);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_H */

/*
 * db_impl.h: the database handle behind strata_db, shared by the files that
 * implement it: db_open.c (open, recovery, close, destroy), db_write.c (the
 * write path and group commit), db_flush.c (the background thread, flushes
 * and write stalls), db_compact.c (compactions), db_files.c (logs and the
 * obsolete-file sweep), db_read.c (gets and snapshots), db_iter.c (the
 * user-facing iterator) and db_property.c (properties).
 *
 * Locking: mu protects every field marked (mu).  The current memtable is
 * written only by the group-commit leader, outside mu, while readers read it
 * without a lock (the skiplist allows one writer and many readers).
 * last_sequence is published with a release store after the memtable holds
 * every update up to it, so a reader that loads it (acquire) finds all those
 * updates in the memtable.
 */
#ifndef STRATA_DB_IMPL_H
#define STRATA_DB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "memtable/arena.h"
#include "memtable/memtable.h"
#include "sstable/cache.h"
#include "src/table_cache.h"
#include "src/env.h"
#include "src/info_log.h"
#include "src/options.h"
#include "src/version.h"
#include "src/write_batch.h"
#include "wal/log_writer.h"

struct strata_snapshot {
    uint64_t sequence;
    struct strata_snapshot *prev, *next; /* in db->snapshots, oldest first (mu) */
};

/* One caller of strata_write waiting in the queue (on its own stack). */
struct writer {
    strata_batch *batch;
    int sync;
    int done;          /* (mu) set by the leader that wrote it */
    int status;        /* (mu) the result, when done */
    char error[256];   /* (mu) the leader's message when status is an error */
    pthread_cond_t cv;
    struct writer *next; /* (mu) */
};

/* What compaction did to one level (the output level of its compactions). */
struct level_stats {
    uint64_t compactions;     /* compactions into this level (trivial moves apart) */
    uint64_t moves;           /* tables moved into it without rewriting */
    uint64_t bytes_read_above;/* bytes read from the level above */
    uint64_t bytes_read_here; /* bytes read from this level */
    uint64_t bytes_written;   /* bytes written to this level (flushes count at L0..L2) */
    uint64_t micros;
};

struct db_stats {             /* (mu) */
    uint64_t flushes;         /* memtables written as tables */
    uint64_t flush_bytes;     /* bytes of the tables written */
    uint64_t flush_micros;
    uint64_t stalls;          /* writes that waited for a flush */
    uint64_t stall_micros;
    uint64_t l0_stops;        /* writes that waited for level 0 to shrink below the stop trigger */
    uint64_t l0_stop_micros;
    uint64_t slowdowns;       /* writes delayed by ~1 ms at the slowdown trigger */
    uint64_t slowdown_micros;
    uint64_t compactions;
    uint64_t compaction_errors;
    uint64_t bg_busy_micros;  /* time the background thread spent flushing and compacting */
    struct level_stats level[NUM_LEVELS];
    uint64_t batches;         /* strata_write calls that succeeded */
    uint64_t updates;         /* puts and deletes in them */
    uint64_t user_bytes;      /* key and value bytes in them */
    uint64_t wal_bytes;       /* bytes appended to the WAL */
    uint64_t wal_records;     /* WAL records, one per group commit */
    uint64_t wal_syncs;
    uint64_t group_max;       /* most batches in one group commit */
};

struct strata_db {
    char *path;
    struct strata_options options;
    struct env *env;
    struct env_file *lock;
    struct info_log *info_log;

    pthread_mutex_t mu;
    struct memtable *mem;           /* (mu) takes the writes */
    struct memtable *imm;           /* (mu) being flushed, or NULL */
    struct arena_pool *arena_pool;  /* blocks of flushed memtables, for the next ones */
    struct writer *writers_head;    /* (mu) the queue; the head is the leader */
    struct writer *writers_tail;    /* (mu) */
    strata_batch *group_batch;      /* the leader's scratch for merging a group */
    struct wal_writer *wal;         /* written by the leader only */
    uint64_t wal_number;            /* (mu) */
    uint64_t log_number;            /* (mu) logs below it are obsolete */
    uint64_t next_file_number;      /* (mu) */
    uint64_t manifest_number;       /* (mu) */
    struct manifest *manifest;      /* (mu) the open MANIFEST edits are appended to */
    struct version *current;        /* (mu) the live tables */
    struct cache *block_cache;      /* NULL when block_cache_size is 0 */
    struct table_cache *table_cache;
    pthread_t bg_thread;
    int bg_started;
    uint64_t open_micros;           /* when the database opened (for utilization) */
    atomic_int shutting_down;       /* the background thread must stop (set under mu) */
    atomic_int imm_pending;         /* imm waits for a flush: a merge should let it through */
    int compacting;                 /* (mu) the background thread runs a compaction */
    int sweeping;                   /* (mu) obsolete files are being deleted, mu released */
    struct manual_compaction *manual; /* (mu) a strata_compact_range call's request, or NULL */
    uint64_t *pending_outputs;      /* (mu) tables being written that no version lists yet */
    size_t num_pending_outputs, cap_pending_outputs;
    struct table_meta **obsolete_tables; /* (mu) tables compacted away that old versions may
                                          * still list; each holds one reference */
    size_t num_obsolete_tables, cap_obsolete_tables;
    pthread_cond_t bg_work_cv;      /* (mu) the background thread waits for work */
    pthread_cond_t bg_done_cv;      /* (mu) writers wait for a flush to finish */
    struct strata_snapshot snapshots; /* (mu) sentinel of the snapshot list */
    int bg_error;                   /* (mu) a sticky write error, or STRATA_OK */
    char bg_error_msg[512];         /* (mu) its message */
    struct db_stats stats;          /* (mu) */
    atomic_uint_fast64_t last_sequence;
};

/* A strata_compact_range request for one level, handed to the background
 * thread; it sets done (and status) when no table of level overlaps the
 * range any more.  (mu) */
struct manual_compaction {
    int level;
    struct key_range range;
    int done;
    int status;
    char error[256];
};

/* Take references on the memtables and the version, and the sequence
 * number a read at snapshot s (NULL: the latest) sees.  Release with
 * db_release_read_view. */
struct db_read_view {
    struct memtable *mem, *imm;
    struct version *version;
    uint64_t sequence;
};
void db_get_read_view(strata_db *db, const strata_snapshot *s, struct db_read_view *v);
void db_release_read_view(struct db_read_view *v);

/* Check a (pointer, length) argument pair: STRATA_OK, or
 * STRATA_INVALID_ARGUMENT naming fn and what. */
int db_check_bytes(const char *fn, const char *what, const void *p, size_t len);

/* Make rc the sticky background error, unless one is kept already: later
 * writes fail with "writes stopped after <what> failed: <the current
 * message>", which also goes to the LOG.  Returns rc.  (mu) */
int db_keep_bg_error(strata_db *db, int rc, const char *what);

/* The database's file-system layer (for tests that inject faults). */
struct env *db_env(strata_db *db);

#endif

/*
 * db_property.c: strata_property, the database's self-description.  Each
 * property is a string from malloc that the caller frees with strata_free.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "src/db_compact.h"
#include "src/db_impl.h"
#include "src/dbformat.h"
#include "src/status.h"

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) {
        status_set(STRATA_NO_MEMORY, "strata_property: out of memory");
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Memtables and the block cache: the memory the options bound.  (mu) */
static size_t memory_usage(strata_db *db)
{
    size_t n = memtable_memory_usage(db->mem) + (db->imm ? memtable_memory_usage(db->imm) : 0);
    n += arena_pool_memory_usage(db->arena_pool); /* idle blocks kept for the next memtable */
    if (db->block_cache) {
        struct cache_stats cs;
        cache_get_stats(db->block_cache, &cs);
        n += cs.usage;
    }
    return n;
}

/* What stats() prints, copied under mu so that formatting runs unlocked. */
struct stats_view {
    struct db_stats s;
    size_t mem;
    uint64_t entries, seq, uptime_micros, pending_bytes;
    int bg;
    char bg_msg[512];
    size_t files[NUM_LEVELS];
    uint64_t bytes[NUM_LEVELS];
    double scores[NUM_LEVELS];
    struct cache_stats block, tables;
};

/* Bytes compaction has yet to move down for every level to be within its
 * target: all of level 0 once it reaches its trigger, and each deeper
 * level's excess.  (mu) */
static uint64_t pending_compaction_bytes(strata_db *db, const double *scores)
{
    struct compaction_config cfg = db_compaction_config(db);
    uint64_t pending = scores[0] >= 1 ? version_level_bytes(db->current, 0) : 0;
    for (int level = 1; level < NUM_LEVELS - 1; level++) {
        uint64_t bytes = version_level_bytes(db->current, level);
        uint64_t target = picker_level_target(&cfg, level);
        if (bytes > target)
            pending += bytes - target;
    }
    return pending;
}

static void take_stats(strata_db *db, struct stats_view *v)
{
    struct compaction_config cfg = db_compaction_config(db);
    memset(v, 0, sizeof *v);
    pthread_mutex_lock(&db->mu);
    v->s = db->stats;
    v->mem = memory_usage(db);
    v->entries = memtable_count(db->mem);
    v->seq = atomic_load(&db->last_sequence);
    v->bg = db->bg_error;
    snprintf(v->bg_msg, sizeof v->bg_msg, "%s", db->bg_error_msg);
    v->uptime_micros = env_now_micros() - db->open_micros;
    picker_scores(db->current, &cfg, v->scores);
    v->pending_bytes = pending_compaction_bytes(db, v->scores);
    for (int level = 0; level < NUM_LEVELS; level++) {
        v->files[level] = db->current->count[level];
        v->bytes[level] = version_level_bytes(db->current, level);
    }
    pthread_mutex_unlock(&db->mu);
    if (db->block_cache)
        cache_get_stats(db->block_cache, &v->block);
    table_cache_get_stats(db->table_cache, &v->tables);
}

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

/* The per-level table: what each level holds, and what compaction read
 * and wrote to fill it.  W-amp is the bytes written into a level over the
 * bytes that came from the level above (RocksDB's definition). */
static size_t format_levels(const struct stats_view *v, char *out, size_t n)
{
    size_t used = (size_t)snprintf(out, n,
                                   "levels:\n"
                                   "  level files   size(MiB) score  read-above(MiB) read-here(MiB) "
                                   "written(MiB) w-amp compactions moves time(s)\n");
    for (int level = 0; level < NUM_LEVELS && used < n; level++) {
        const struct level_stats *ls = &v->s.level[level];
        double above = mib(ls->bytes_read_above), wamp = 0;
        if (level == 0 && v->s.flush_bytes)
            wamp = 1.0;
        else if (ls->bytes_read_above)
            wamp = (double)ls->bytes_written / (double)ls->bytes_read_above;
        used += (size_t)snprintf(out + used, n - used,
                                 "  L%d  %6zu %11.1f %5.2f %16.1f %14.1f %12.1f %5.2f %11llu %5llu %7.1f\n",
                                 level, v->files[level], mib(v->bytes[level]), v->scores[level], above,
                                 mib(ls->bytes_read_here), mib(ls->bytes_written), wamp,
                                 (unsigned long long)ls->compactions, (unsigned long long)ls->moves,
                                 (double)ls->micros / 1e6);
    }
    return used;
}

static uint64_t table_bytes_written(const struct stats_view *v)
{
    uint64_t total = 0;
    for (int level = 0; level < NUM_LEVELS; level++)
        total += v->s.level[level].bytes_written;
    return total;
}

static char *stats(strata_db *db)
{
    struct stats_view v;
    char levels[2048];
    take_stats(db, &v);
    format_levels(&v, levels, sizeof levels);
    double per_group = v.s.wal_records ? (double)v.s.batches / (double)v.s.wal_records : 0.0;
    uint64_t written = table_bytes_written(&v);
    double wamp = v.s.flush_bytes ? (double)written / (double)v.s.flush_bytes : 0.0;
    double busy = v.uptime_micros ? 100.0 * (double)v.s.bg_busy_micros / (double)v.uptime_micros : 0;
    return format("writes:\n"
                  "  batches written     %llu\n"
                  "  updates             %llu\n"
                  "  user bytes          %llu\n"
                  "  last sequence       %llu\n"
                  "write-ahead log:\n"
                  "  records             %llu\n"
                  "  bytes               %llu\n"
                  "  syncs               %llu\n"
                  "group commit:\n"
                  "  groups              %llu\n"
                  "  batches per group   %.2f average, %llu max\n"
                  "memtable:\n"
                  "  entries             %llu\n"
                  "  memory              %zu bytes\n"
                  "flushes:\n"
                  "  tables written      %llu (%llu bytes, %.1f ms)\n"
                  "%s"
                  "compaction:\n"
                  "  compactions         %llu (errors %llu)\n"
                  "  table bytes written %llu (flushes and compactions)\n"
                  "  write amplification %.2f (table bytes written / bytes flushed)\n"
                  "  pending bytes       %llu (above their level's target)\n"
                  "  background busy     %.1f s of %.1f s (%.1f%%)\n"
                  "write stalls:\n"
                  "  memtable full       %llu (%.1f ms waiting for a flush)\n"
                  "  level-0 stop        %llu (%.1f ms waiting for compaction)\n"
                  "  level-0 slowdown    %llu (%.1f ms delayed)\n"
                  "  total               %.1f ms\n"
                  "block cache:\n"
                  "  hits %llu, misses %llu, evictions %llu, usage %zu of %zu bytes\n"
                  "table cache:\n"
                  "  hits %llu, misses %llu, evictions %llu, open %zu of %zu\n"
                  "background error:     %s%s%s\n",
                  (unsigned long long)v.s.batches, (unsigned long long)v.s.updates,
                  (unsigned long long)v.s.user_bytes, (unsigned long long)v.seq,
                  (unsigned long long)v.s.wal_records, (unsigned long long)v.s.wal_bytes,
                  (unsigned long long)v.s.wal_syncs, (unsigned long long)v.s.wal_records, per_group,
                  (unsigned long long)v.s.group_max, (unsigned long long)v.entries, v.mem,
                  (unsigned long long)v.s.flushes, (unsigned long long)v.s.flush_bytes,
                  (double)v.s.flush_micros / 1000.0, levels,
                  (unsigned long long)v.s.compactions, (unsigned long long)v.s.compaction_errors,
                  (unsigned long long)written, wamp, (unsigned long long)v.pending_bytes,
                  (double)v.s.bg_busy_micros / 1e6, (double)v.uptime_micros / 1e6, busy,
                  (unsigned long long)v.s.stalls, (double)v.s.stall_micros / 1000.0,
                  (unsigned long long)v.s.l0_stops, (double)v.s.l0_stop_micros / 1000.0,
                  (unsigned long long)v.s.slowdowns, (double)v.s.slowdown_micros / 1000.0,
                  (double)(v.s.stall_micros + v.s.l0_stop_micros + v.s.slowdown_micros) / 1000.0,
                  (unsigned long long)v.block.hits,
                  (unsigned long long)v.block.misses, (unsigned long long)v.block.evictions,
                  v.block.usage, v.block.capacity, (unsigned long long)v.tables.hits,
                  (unsigned long long)v.tables.misses, (unsigned long long)v.tables.evictions,
                  v.tables.entries, v.tables.capacity, v.bg == STRATA_OK ? "none" : strata_strerror(v.bg),
                  v.bg == STRATA_OK ? "" : ": ", v.bg == STRATA_OK ? "" : v.bg_msg);
}

/* Append key to out, printable bytes as they are and others as \xHH. */
static int put_key(struct buf *out, struct slice key)
{
    int rc = STRATA_OK;
    for (size_t i = 0; i < key.len && rc == STRATA_OK; i++) {
        unsigned char ch = (unsigned char)key.data[i];
        char esc[8];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'')
            rc = buf_append(out, &key.data[i], 1);
        else
            rc = buf_append(out, esc, (size_t)snprintf(esc, sizeof esc, "\\x%02x", ch));
    }
    return rc;
}

static int put_table(struct buf *out, const struct table_meta *t)
{
    char head[96];
    int n = snprintf(head, sizeof head, "  #%06llu %10llu bytes '", (unsigned long long)t->number,
                     (unsigned long long)t->size);
    int rc = buf_append(out, head, (size_t)n);
    if (rc == STRATA_OK)
        rc = put_key(out, internal_key_user_key(buf_slice(&t->smallest)));
    if (rc == STRATA_OK)
        rc = buf_append(out, "' .. '", 6);
    if (rc == STRATA_OK)
        rc = put_key(out, internal_key_user_key(buf_slice(&t->largest)));
    if (rc == STRATA_OK)
        rc = buf_append(out, "'\n", 2);
    return rc;
}

/* "strata.sstables": every table of each level with its user key range. */
static char *sstables(strata_db *db)
{
    struct buf out = { 0 };
    struct version *v;
    pthread_mutex_lock(&db->mu);
    v = db->current;
    version_ref(v);
    pthread_mutex_unlock(&db->mu);
    int rc = STRATA_OK;
    for (int level = 0; level < NUM_LEVELS && rc == STRATA_OK; level++) {
        char head[64];
        int n = snprintf(head, sizeof head, "level %d: %zu tables\n", level, v->count[level]);
        rc = buf_append(&out, head, (size_t)n);
        for (size_t i = 0; i < v->count[level] && rc == STRATA_OK; i++)
            rc = put_table(&out, v->tables[level][i]);
    }
    version_unref(v);
    char *s = rc == STRATA_OK ? format("%.*s", (int)out.len, out.data ? out.data : "") : NULL;
    buf_free(&out);
    if (rc != STRATA_OK)
        status_set(STRATA_NO_MEMORY, "strata_property: out of memory");
    return s;
}

/* "strata.num-files-at-level<N>": N in 0..6. */
static char *files_at_level(strata_db *db, const char *suffix)
{
    if (suffix[0] < '0' || suffix[0] >= '0' + NUM_LEVELS || suffix[1] != '\0')
        return NULL;
    pthread_mutex_lock(&db->mu);
    size_t n = db->current->count[suffix[0] - '0'];
    pthread_mutex_unlock(&db->mu);
    return format("%zu", n);
}

/* "strata.compaction-pending": 1 while the background thread has a flush
 * or a compaction to run or running (deleting the files it made obsolete
 * included), 0 when it has nothing to do.  After a background error
 * nothing more will run: 0. */
static char *compaction_pending(strata_db *db)
{
    pthread_mutex_lock(&db->mu);
    int pending = db->bg_error == STRATA_OK && (db->imm != NULL || db->compacting ||
                                                db->sweeping || db_compact_needed(db));
    pthread_mutex_unlock(&db->mu);
    return format("%d", pending);
}

char *strata_property(strata_db *db, const char *name)
{
    if (!db || !name) {
        status_set(STRATA_INVALID_ARGUMENT, "strata_property: %s is NULL", db ? "name" : "db");
        return NULL;
    }
    if (!strcmp(name, "strata.approximate-memory-usage")) {
        pthread_mutex_lock(&db->mu);
        size_t mem = memory_usage(db);
        pthread_mutex_unlock(&db->mu);
        return format("%zu", mem);
    }
    if (!strcmp(name, "strata.stats"))
        return stats(db);
    if (!strcmp(name, "strata.sstables"))
        return sstables(db);
    if (!strcmp(name, "strata.compaction-pending"))
        return compaction_pending(db);
    static const char level_prefix[] = "strata.num-files-at-level";
    char *level = NULL;
    if (!strncmp(name, level_prefix, sizeof level_prefix - 1) &&
        (level = files_at_level(db, name + sizeof level_prefix - 1)) != NULL)
        return level;
    status_set(STRATA_INVALID_ARGUMENT, "strata_property: unknown property \"%s\"", name);
    return NULL;
}

const char *strata_version(void)
{
    return "0.1.0";
}

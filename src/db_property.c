/*
 * db_property.c: strata_property, the database's self-description.  Each
 * property is a string from malloc that the caller frees with strata_free.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/db_impl.h"
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

/* (mu) */
static size_t memory_usage(strata_db *db)
{
    return memtable_memory_usage(db->mem) + (db->imm ? memtable_memory_usage(db->imm) : 0);
}

/* What stats() prints, copied under mu so that formatting runs unlocked. */
struct stats_view {
    struct db_stats s;
    size_t mem;
    uint64_t entries, seq;
    int bg;
    size_t files[NUM_LEVELS];
    uint64_t bytes[NUM_LEVELS];
    struct cache_stats block, tables;
};

static void take_stats(strata_db *db, struct stats_view *v)
{
    memset(v, 0, sizeof *v);
    pthread_mutex_lock(&db->mu);
    v->s = db->stats;
    v->mem = memory_usage(db);
    v->entries = memtable_count(db->mem);
    v->seq = atomic_load(&db->last_sequence);
    v->bg = db->bg_error;
    for (int level = 0; level < NUM_LEVELS; level++) {
        v->files[level] = db->current->count[level];
        v->bytes[level] = version_level_bytes(db->current, level);
    }
    pthread_mutex_unlock(&db->mu);
    if (db->block_cache)
        cache_get_stats(db->block_cache, &v->block);
    table_cache_get_stats(db->table_cache, &v->tables);
}

/* Append the per-level table counts to out (a buffer of size n). */
static void format_levels(const struct stats_view *v, char *out, size_t n)
{
    size_t used = (size_t)snprintf(out, n, "tables:\n  level  files        bytes\n");
    for (int level = 0; level < NUM_LEVELS && used < n; level++)
        used += (size_t)snprintf(out + used, n - used, "  L%d   %6zu %12llu\n", level, v->files[level],
                                 (unsigned long long)v->bytes[level]);
}

static char *stats(strata_db *db)
{
    struct stats_view v;
    char levels[512];
    take_stats(db, &v);
    format_levels(&v, levels, sizeof levels);
    double per_group = v.s.wal_records ? (double)v.s.batches / (double)v.s.wal_records : 0.0;
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
                  "  writes stalled      %llu (%.1f ms waiting for a flush)\n"
                  "%s"
                  "block cache:\n"
                  "  hits %llu, misses %llu, evictions %llu, usage %zu of %zu bytes\n"
                  "table cache:\n"
                  "  hits %llu, misses %llu, evictions %llu, open %zu of %zu\n"
                  "background error:     %s\n",
                  (unsigned long long)v.s.batches, (unsigned long long)v.s.updates,
                  (unsigned long long)v.s.user_bytes, (unsigned long long)v.seq,
                  (unsigned long long)v.s.wal_records, (unsigned long long)v.s.wal_bytes,
                  (unsigned long long)v.s.wal_syncs, (unsigned long long)v.s.wal_records, per_group,
                  (unsigned long long)v.s.group_max, (unsigned long long)v.entries, v.mem,
                  (unsigned long long)v.s.flushes, (unsigned long long)v.s.flush_bytes,
                  (double)v.s.flush_micros / 1000.0, (unsigned long long)v.s.stalls,
                  (double)v.s.stall_micros / 1000.0, levels, (unsigned long long)v.block.hits,
                  (unsigned long long)v.block.misses, (unsigned long long)v.block.evictions,
                  v.block.usage, v.block.capacity, (unsigned long long)v.tables.hits,
                  (unsigned long long)v.tables.misses, (unsigned long long)v.tables.evictions,
                  v.tables.entries, v.tables.capacity, v.bg == STRATA_OK ? "none" : strata_strerror(v.bg));
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

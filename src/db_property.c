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

static char *stats(strata_db *db)
{
    pthread_mutex_lock(&db->mu);
    struct db_stats s = db->stats;
    size_t mem = memory_usage(db);
    uint64_t entries = memtable_count(db->mem);
    uint64_t seq = atomic_load(&db->last_sequence);
    int bg = db->bg_error;
    pthread_mutex_unlock(&db->mu);
    double per_group = s.wal_records ? (double)s.batches / (double)s.wal_records : 0.0;
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
                  "background error:     %s\n",
                  (unsigned long long)s.batches, (unsigned long long)s.updates,
                  (unsigned long long)s.user_bytes, (unsigned long long)seq,
                  (unsigned long long)s.wal_records, (unsigned long long)s.wal_bytes,
                  (unsigned long long)s.wal_syncs, (unsigned long long)s.wal_records, per_group,
                  (unsigned long long)s.group_max, (unsigned long long)entries, mem,
                  bg == STRATA_OK ? "none" : strata_strerror(bg));
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
    status_set(STRATA_INVALID_ARGUMENT, "strata_property: unknown property \"%s\"", name);
    return NULL;
}

const char *strata_version(void)
{
    return "0.1.0";
}

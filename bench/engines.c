/*
 * engines.c: the registry of the engines built into this binary, and small
 * helpers the adapters share.
 *
 * build/db_bench has strata only: it needs nothing but libstrata.  The
 * LevelDB and RocksDB adapters need those libraries, so they are compiled in
 * only for build/db_bench_compare (make bench-compare), which builds this
 * file with -DBENCH_COMPARE.  That #if is the only one about it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bench/engine.h"

extern const bench_engine bench_engine_strata;
#ifdef BENCH_COMPARE
extern const bench_engine bench_engine_leveldb;
extern const bench_engine bench_engine_rocksdb;
#endif

static const bench_engine *const engines[] = {
    &bench_engine_strata,
#ifdef BENCH_COMPARE
    &bench_engine_leveldb,
    &bench_engine_rocksdb,
#endif
};

size_t bench_engine_count(void)
{
    return sizeof engines / sizeof engines[0];
}

const bench_engine *bench_engine_at(size_t i)
{
    return i < bench_engine_count() ? engines[i] : NULL;
}

const bench_engine *bench_engine_find(const char *name)
{
    for (size_t i = 0; i < bench_engine_count(); i++)
        if (!strcmp(engines[i]->name, name))
            return engines[i];
    return NULL;
}

void bench_note(bench_notes *n, const char *engine, const char *setting, const char *fmt, ...)
{
    if (!n || n->count >= BENCH_MAX_NOTES)
        return;
    snprintf(n->note[n->count].engine, sizeof n->note[0].engine, "%s", engine);
    snprintf(n->note[n->count].setting, sizeof n->note[0].setting, "%s", setting);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->note[n->count].text, sizeof n->note[0].text, fmt, ap);
    va_end(ap);
    n->count++;
}

void bench_set_err(bench_err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

static const char *const compression_names[] = {"none", "snappy", "zstd", "lz4"};

const char *bench_compression_name(int c)
{
    if (c < 0 || c >= (int)(sizeof compression_names / sizeof compression_names[0]))
        return "?";
    return compression_names[c];
}

int bench_compression_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof compression_names / sizeof compression_names[0]); i++)
        if (!strcmp(compression_names[i], name))
            return i;
    return -1;
}

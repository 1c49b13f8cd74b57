/*
 * engines.c: the registry of the engines built into this binary, and small
 * helpers the adapters share.
 *
 * build/db_bench has strata only: it needs nothing but libstrata.  The
 * LevelDB and RocksDB adapters need those libraries, so they are compiled in
 * only for build/db_bench_compare (make bench-compare), which builds this
 * file with -DBENCH_COMPARE.  That #if is the only one about it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

void bench_sleep_ms(unsigned ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
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

const char *bench_find_line(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *line = text; line && *line;) {
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!strncmp(p, prefix, n))
            return p;
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return NULL;
}

int bench_write_amp_from(bench_write_amp *w, double table_bytes, double table_err,
                         double flush_bytes, double flush_err, double own, double own_err,
                         const char *engine, bench_err *e)
{
    const double mb = 1024.0 * 1024.0;
    w->wamp = w->wamp_err = 0;
    w->table_mb = table_bytes / mb;
    w->table_err_mb = table_err / mb;
    w->flush_mb = flush_bytes / mb;
    w->flush_err_mb = flush_err / mb;
    if (flush_bytes <= 0 && flush_err <= 0) {
        if (table_bytes > 0 || table_err > 0)
            bench_set_err(e, "nothing flushed (compactions only)");
        else
            bench_set_err(e, "nothing flushed");
        return BENCH_NOT_FOUND;
    }
    if (flush_bytes <= flush_err) {
        bench_set_err(e, "under %.1f MB flushed, too few bytes for %s's rounding", flush_err / mb,
                      engine);
        return BENCH_NOT_FOUND;
    }
    /* Where the true ratio can be, given how the figures were rounded. */
    double r = table_bytes / flush_bytes;
    double lo = (table_bytes > table_err ? table_bytes - table_err : 0) / (flush_bytes + flush_err);
    double hi = (table_bytes + table_err) / (flush_bytes - flush_err);
    double err = hi - r > r - lo ? hi - r : r - lo;
    if (own >= 0 && own_err < err && own + own_err >= lo && own - own_err <= hi) {
        r = own;
        err = own_err;
        /* The table bytes are then also own x flushed, which may be the
         * closer figure. */
        double t_err = own_err * flush_bytes + own * flush_err + own_err * flush_err;
        if (t_err < table_err) {
            w->table_mb = own * flush_bytes / mb;
            w->table_err_mb = t_err / mb;
        }
    }
    if (err > 0.1 * r) {
        bench_set_err(e, "too few bytes for %s's rounding (%.1f MB flushed, ratio %.2f to %.2f)",
                      engine, flush_bytes / mb, lo, hi);
        return BENCH_NOT_FOUND;
    }
    w->wamp = r;
    w->wamp_err = err;
    return BENCH_OK;
}

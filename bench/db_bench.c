/*
 * db_bench.c: strata's benchmark, modelled on LevelDB's db_bench: named
 * workloads run in order on one database, one result line each.
 *
 *   build/db_bench --benchmarks=fillrandom,readrandom --num=1000000
 *   build/db_bench_compare --engine=all      (strata, LevelDB, RocksDB side by side)
 *
 * This file: main, the session (database directory, value pool, interval
 * CSV), an engine's database across workloads, and the one-engine suite.
 * The side-by-side run is compare.c; the workloads are workloads.c; the
 * threads and timing runner.c.  docs/benchmarks.md says how to use it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/bench.h"
#include "bench/report.h"
#include "bench/sysinfo.h"

/* ---- an engine's database -------------------------------------------------- */

int edb_close(engine_db *d)
{
    if (!d->db)
        return 0;
    bench_err e;
    int st = d->eng->close(d->db, &e);
    d->db = NULL;
    if (st != BENCH_OK) {
        fprintf(stderr, "db_bench: %s\n", e.msg);
        return -1;
    }
    return 0;
}

int edb_destroy(engine_db *d, const session *s)
{
    bench_err e;
    if (edb_close(d) != 0)
        return -1;
    if (d->eng->destroy(&s->cfg->settings, d->path, &e) != BENCH_OK) {
        fprintf(stderr, "db_bench: %s\n", e.msg);
        return -1;
    }
    return 0;
}

int edb_prepare(engine_db *d, const session *s, const workload *wl)
{
    if (wl->fresh && !s->cfg->use_existing_db && edb_destroy(d, s) != 0)
        return -1;
    if (d->db)
        return 0;
    bench_err e;
    if (d->eng->open(&s->cfg->settings, d->path, &d->db, &e) != BENCH_OK) {
        d->db = NULL;
        fprintf(stderr, "db_bench: %s\n", e.msg);
        return -1;
    }
    return 0;
}

/* The engine's table-write counters, read just before a write workload
 * (start) and just after it, outside the timed run: neither read waits for
 * the engine's background work. */
static void measure_wamp(engine_db *d, const workload *wl, int start, wamp_figure *wa)
{
    if (start) {
        memset(wa, 0, sizeof *wa);
        wa->measured = wl->writes && d->eng->write_amp;
    }
    if (!wa->measured || (!start && wa->status != BENCH_OK))
        return;
    bench_err e;
    e.msg[0] = '\0';
    wa->status = d->eng->write_amp(d->db, start, &wa->w, &e);
    if (wa->status != BENCH_OK)
        snprintf(wa->why, sizeof wa->why, "%s", e.msg);
}

int run_and_print(const session *s, engine_db *d, const workload *wl, uint64_t stream, int tag,
                  run_result *r, wamp_figure *wa)
{
    run_report rep = s->rep;
    char label[64];
    snprintf(label, sizeof label, tag ? "%s[%s]" : "%s", wl->name, d->eng->name);
    rep.label = label;
    measure_wamp(d, wl, 1, wa);
    int st = run_workload(s->cfg, d->eng, d->db, &s->pool, wl, stream, &rep, r);
    measure_wamp(d, wl, 0, wa);
    if (st == BENCH_ERROR) {
        printf("%-12s : FAILED%s%s%s\n", wl->name, tag ? " [" : "", tag ? d->eng->name : "",
               tag ? "]" : "");
        fflush(stdout);
        fprintf(stderr, "db_bench: %s failed: %s\n", wl->name, r->err.msg);
        return st;
    }
    print_result(s, d, wl, r, wa, tag);
    return st;
}

/* ---- the session ------------------------------------------------------------ */

/* --db, or a fresh directory under $TMPDIR that the session removes. */
static int session_dir(session *s)
{
    if (s->cfg->db) {
        snprintf(s->base, sizeof s->base, "%s", s->cfg->db);
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(s->base, sizeof s->base, "%s/strata_bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->base)) {
        perror("db_bench: cannot make a temporary directory");
        return -1;
    }
    s->temp = 1;
    return 0;
}

static int session_open(session *s, const bench_config *c)
{
    memset(s, 0, sizeof *s);
    s->cfg = c;
    if (session_dir(s) != 0)
        return -1;
    if (value_pool_init(&s->pool, c->compression_ratio, c->value_size > 100000 ? c->value_size
                                                                                : 100000) != 0) {
        fprintf(stderr, "db_bench: out of memory\n");
        return -1;
    }
    if (c->report_file) {
        s->rep.csv = fopen(c->report_file, "w");
        if (!s->rep.csv) {
            perror(c->report_file);
            return -1;
        }
        report_csv_header(s->rep.csv);
    }
    s->rep.origin_ns = now_ns();
    return 0;
}

static void session_close(session *s)
{
    if (s->temp)
        sys_remove_tree(s->base);
    if (s->rep.csv)
        fclose(s->rep.csv);
    value_pool_free(&s->pool);
}

/* ---- the workload list ------------------------------------------------------ */

/* Splits --benchmarks into names and checks each; NULL (after a message)
 * when one is unknown.  names[] points into the returned buffer. */
static char *split_benchmarks(const char *list, const char **names, int *n, int max)
{
    char *buf = strdup(list);
    *n = 0;
    for (char *save = NULL, *t = buf ? strtok_r(buf, ",", &save) : NULL; t;
         t = strtok_r(NULL, ",", &save)) {
        if (!workload_find(t)) {
            fprintf(stderr, "db_bench: unknown benchmark '%s'\n", t);
            flags_usage(stderr);
            free(buf);
            return NULL;
        }
        if (*n < max)
            names[(*n)++] = t;
    }
    return buf;
}

/* Each workload's threads get random streams of their own, from its name
 * and its place in the list, and the same for every engine: fillrandom's
 * keys and readrandom's are different sequences, also when they run in
 * separate invocations (reading keys in the order they were written would
 * flatter any engine that lays them out in that order). */
uint64_t stream_of(int index, const char *name)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h ^ ((uint64_t)index << 20);
}

/* ---- one engine --------------------------------------------------------------- */

static int run_suite(session *s, const bench_engine *eng, const char **names, int n)
{
    engine_db d = {.eng = eng};
    snprintf(d.path, sizeof d.path, "%s", s->base);
    print_header(s, &eng, 1);
    if (!s->cfg->use_existing_db && edb_destroy(&d, s) != 0)
        return 1;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const workload *wl = workload_find(names[i]);
        run_result r = {0};
        wamp_figure wa;
        if (edb_prepare(&d, s, wl) != 0 ||
            run_and_print(s, &d, wl, stream_of(i, wl->name), 0, &r, &wa) == BENCH_ERROR)
            rc = 1;
        run_result_free(&r);
    }
    if (edb_close(&d) != 0)
        rc = 1;
    return rc;
}

int main(int argc, char **argv)
{
    bench_config c;
    if (flags_parse(&c, argc, argv) != 0)
        return 2;
    int compare = !strcmp(c.engine, "all");
    const bench_engine *eng = compare ? NULL : bench_engine_find(c.engine);
    if (!compare && !eng) {
        fprintf(stderr, "db_bench: engine '%s' is not built in (this binary has:", c.engine);
        for (size_t i = 0; i < bench_engine_count(); i++)
            fprintf(stderr, " %s", bench_engine_at(i)->name);
        fprintf(stderr, "; build/db_bench_compare from `make bench-compare` has all three)\n");
        return 2;
    }
    enum { MAX_WORKLOADS = 256 };
    const char *names[MAX_WORKLOADS];
    int n;
    char *buf = split_benchmarks(c.benchmarks, names, &n, MAX_WORKLOADS);
    if (!buf)
        return 2;
    session s;
    int rc = 1;
    if (session_open(&s, &c) == 0)
        rc = compare ? run_compare(&s, names, n) : run_suite(&s, eng, names, n);
    session_close(&s);
    free(buf);
    return rc;
}

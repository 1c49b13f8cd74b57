/*
 * compare.c: --engine=all, strata side by side with LevelDB and RocksDB in
 * one invocation.  Each engine keeps its own database (a subdirectory of
 * the run's directory); the workloads run in order and each one runs on
 * every engine in turn before the next starts, so that the machine's drift
 * (it is shared and noisy) lands on all engines alike.  At the end: one
 * table of micros/op, workload by engine, with strata's ratio to the best of
 * the others; one of write amplification for the workloads that write; and
 * every setting that differs between the engines.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

enum { MAX_ENGINES = 8 };

/* micros/op of [workload][engine]; NAN where there is none.  wa: the write
 * amplification of the same cells. */
typedef struct table {
    int rows, cols;
    const char **names;
    double (*us)[MAX_ENGINES];
    wamp_figure (*wa)[MAX_ENGINES];
} table;

/* Runs workload w on engine e; its micros/op goes into the table.  The
 * database is closed after each run: no engine's background work (flushes,
 * compactions) then runs during another engine's timed workload; what is
 * pending resumes when it reopens, inside its own next workload. */
static int run_cell(session *s, engine_db *d, const workload *wl, int w, table *t, int e)
{
    run_result r = {0};
    int rc = 0;
    t->us[w][e] = NAN;
    if (edb_prepare(d, s, wl) != 0)
        return -1;
    int st = run_and_print(s, d, wl, stream_of(w, wl->name), 1, &r, &t->wa[w][e]);
    if (st == BENCH_ERROR)
        rc = -1;
    else if (st == BENCH_OK && !wl->once)
        t->us[w][e] = micros_per_op(&r);
    else if (st == BENCH_OK && wl->once && r.ops)
        t->us[w][e] = r.thread_seconds * 1e6;
    run_result_free(&r);
    if (edb_close(d) != 0)
        rc = -1;
    return rc;
}

static void print_cell(double us)
{
    if (isnan(us))
        printf(" %12s", "n/a");
    else
        printf(" %12.3f", us);
}

/* strata (column 0) divided by the best of the others. */
static void print_ratio(const double *us, int cols)
{
    double best = NAN;
    for (int e = 1; e < cols; e++)
        if (!isnan(us[e]) && (isnan(best) || us[e] < best))
            best = us[e];
    if (isnan(us[0]) || isnan(best) || best <= 0)
        printf(" %13s\n", "n/a");
    else
        printf(" %13.2f\n", us[0] / best);
}

static void print_table(const table *t, const bench_engine *const *engines)
{
    printf("\nmicros/op, lower is better.  strata/best = strata's micros/op divided by the\n"
           "lower of the other engines' (below 1: strata is faster; above 1: slower).\n\n");
    printf("%-17s", "workload");
    for (int e = 0; e < t->cols; e++)
        printf(" %12s", engines[e]->name);
    printf(" %13s\n", "strata/best");
    for (int w = 0; w < t->rows; w++) {
        if (!strcmp(t->names[w], "stats"))
            continue;
        printf("%-17s", t->names[w]);
        for (int e = 0; e < t->cols; e++)
            print_cell(t->us[w][e]);
        print_ratio(t->us[w], t->cols);
    }
}

/* The workloads that write, but compact: its figure would divide a whole
 * compaction by the flush of whatever the memtable held, if anything. */
static int wamp_row(const char *name)
{
    const workload *wl = workload_find(name);
    return wl && wl->writes && !wl->once;
}

static void print_wamp_table(const table *t, const bench_engine *const *engines)
{
    int any = 0;
    for (int w = 0; w < t->rows; w++)
        any |= wamp_row(t->names[w]);
    if (!any)
        return;
    printf("\nwrite amp, lower is better: bytes written to table files by flushes and compactions\n"
           "divided by bytes flushed, from just before each workload to just after it: that\n"
           "workload only, with the flushes and compactions that finished by its end.  Each\n"
           "engine's database is closed after each workload; what was still pending resumes in\n"
           "its next one.  n/a: nothing flushed, or too few bytes for the engine's rounding\n"
           "(the workload's \"write amp\" line says which).  X+-E: the engine prints its\n"
           "figures rounded, and E is the most X can be off by (RocksDB: W-Amp to 0.1).\n\n");
    printf("%-17s", "workload");
    for (int e = 0; e < t->cols; e++)
        printf(" %12s", engines[e]->name);
    printf("\n");
    for (int w = 0; w < t->rows; w++) {
        if (!wamp_row(t->names[w]))
            continue;
        printf("%-17s", t->names[w]);
        for (int e = 0; e < t->cols; e++) {
            char cell[64];
            format_wamp(&t->wa[w][e], cell, sizeof cell);
            printf(" %12s", cell);
        }
        printf("\n");
    }
}

static void print_differences(const session *s, const bench_engine *const *engines, int n)
{
    printf("\nSettings that differ between the engines, and why:\n");
    print_notes(s->cfg, engines, n, "  ");
    printf("  %-8s %s\n", "all",
           "run order: each workload on every engine in turn; each engine's database is closed "
           "after each of its workloads and reopened before its next, so that no engine's "
           "background work runs during another engine's timed workload");
    printf("  %-8s %s\n", "all", "every setting not named here is each engine's default");
}

static int setup_dbs(session *s, engine_db *dbs, const bench_engine **engines, int n)
{
    for (int e = 0; e < n; e++) {
        engines[e] = bench_engine_at((size_t)e);
        dbs[e].eng = engines[e];
        dbs[e].db = NULL;
        snprintf(dbs[e].path, sizeof dbs[e].path, "%s/%s", s->base, engines[e]->name);
    }
    print_header(s, engines, n);
    for (int e = 0; e < n && !s->cfg->use_existing_db; e++)
        if (edb_destroy(&dbs[e], s) != 0)
            return -1;
    return 0;
}

int run_compare(session *s, const char **names, int nnames)
{
    int n = (int)bench_engine_count();
    if (n < 2 || n > MAX_ENGINES) {
        fprintf(stderr, "db_bench: --engine=all needs the LevelDB and RocksDB adapters: "
                        "run build/db_bench_compare (make bench-compare)\n");
        return 2;
    }
    const bench_engine *engines[MAX_ENGINES];
    engine_db dbs[MAX_ENGINES];
    table t = {nnames, n, names, calloc((size_t)nnames, sizeof *t.us),
               calloc((size_t)nnames, sizeof *t.wa)};
    if (!t.us || !t.wa || setup_dbs(s, dbs, engines, n) != 0) {
        free(t.us);
        free(t.wa);
        return 1;
    }
    int rc = 0;
    for (int w = 0; w < nnames && rc == 0; w++)
        for (int e = 0; e < n && rc == 0; e++)
            rc = run_cell(s, &dbs[e], workload_find(names[w]), w, &t, e) ? 1 : 0;
    if (rc == 0) {
        print_table(&t, engines);
        print_wamp_table(&t, engines);
        print_differences(s, engines, n);
    }
    free(t.us);
    free(t.wa);
    return rc;
}

/*
 * bench.h: what db_bench.c (one engine) and compare.c (all engines) share:
 * the session, an engine's database through a run, and the printing.
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stdio.h>

#include "bench/engine.h"
#include "bench/flags.h"
#include "bench/gen.h"
#include "bench/runner.h"

typedef struct session {
    const bench_config *cfg;
    value_pool pool;
    run_report rep;      /* the interval CSV and its time zero */
    char base[4096];     /* the database directory (compare: one subdirectory per engine) */
    int temp;            /* base is a temporary directory of ours, removed at the end */
} session;

/* One engine's database through a run. */
typedef struct engine_db {
    const bench_engine *eng;
    char path[4200];
    bench_db *db;        /* NULL while closed */
} engine_db;

/* The write amplification of one workload on one engine: measured for the
 * workloads that write (workload.writes), from just before the workload
 * to just after it (bench_engine.write_amp). */
typedef struct wamp_figure {
    int measured;        /* 0: not a write workload, or the engine has no write_amp */
    int status;          /* BENCH_OK: w.wamp holds it; else why says why not */
    bench_write_amp w;   /* the bytes also when status is BENCH_NOT_FOUND */
    char why[512];
} wamp_figure;

/* Makes d's database ready for wl: destroyed and reopened for a fill*
 * workload (unless --use_existing_db), opened if closed.  On failure prints
 * the engine's message and returns -1. */
int edb_prepare(engine_db *d, const session *s, const workload *wl);
int edb_close(engine_db *d);
int edb_destroy(engine_db *d, const session *s);

/* Runs wl on d and prints its result line (tagged with the engine's name
 * when tag).  Returns the run's status; r holds the result (free it) and
 * wa the write amplification. */
int run_and_print(const session *s, engine_db *d, const workload *wl, uint64_t stream, int tag,
                  run_result *r, wamp_figure *wa);

/* The random streams of workload name, index-th in the list (db_bench.c). */
uint64_t stream_of(int index, const char *name);

/* output.c */
void print_header(const session *s, const bench_engine *const *engines, int n);
void print_result(const session *s, const engine_db *d, const workload *wl, const run_result *r,
                  const wamp_figure *wa, int tag);
/* A write amplification as it is printed: "3.41", "3.6+-0.05" (the engine
 * rounds its figures), or "n/a". */
void format_wamp(const wamp_figure *wa, char *buf, size_t len);
/* micros per op of a result, as LevelDB reports it: thread time / ops */
double micros_per_op(const run_result *r);
/* Every setting that an engine of engines[] cannot honour, and why. */
void print_notes(const bench_config *c, const bench_engine *const *engines, int n,
                 const char *indent);

/* compare.c: --engine=all; returns the exit status */
int run_compare(session *s, const char **names, int nnames);

#endif

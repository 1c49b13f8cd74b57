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

/* Makes d's database ready for wl: destroyed and reopened for a fill*
 * workload (unless --use_existing_db), opened if closed.  On failure prints
 * the engine's message and returns -1. */
int edb_prepare(engine_db *d, const session *s, const workload *wl);
int edb_close(engine_db *d);
int edb_destroy(engine_db *d, const session *s);

/* Runs wl on d and prints its result line (tagged with the engine's name
 * when tag).  Returns the run's status; r holds the result (free it). */
int run_and_print(const session *s, engine_db *d, const workload *wl, uint64_t stream, int tag,
                  run_result *r);

/* The random streams of workload name, index-th in the list (db_bench.c). */
uint64_t stream_of(int index, const char *name);

/* output.c */
void print_header(const session *s, const bench_engine *const *engines, int n);
void print_result(const session *s, const engine_db *d, const workload *wl, const run_result *r,
                  int tag);
/* micros per op of a result, as LevelDB reports it: thread time / ops */
double micros_per_op(const run_result *r);
/* Every setting that an engine of engines[] cannot honour, and why. */
void print_notes(const bench_config *c, const bench_engine *const *engines, int n,
                 const char *indent);

/* compare.c: --engine=all; returns the exit status */
int run_compare(session *s, const char **names, int nnames);

#endif

/*
 * runner.h: running one workload on one open database: the worker threads,
 * the timing (whole-loop, per-op, or open-loop against a schedule), and the
 * merged result.  The workloads themselves are in workloads.c.
 */
#ifndef BENCH_RUNNER_H
#define BENCH_RUNNER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/engine.h"
#include "bench/flags.h"
#include "bench/gen.h"
#include "bench/histogram.h"

/* An op function's answer besides BENCH_OK and BENCH_ERROR: the workload
 * ran out of work early (a scan reached the end of the database). */
enum { OP_STOP = 2 };

typedef struct worker worker;
typedef struct run_ctx run_ctx;
typedef struct run_result run_result;

/* Operation number i of a worker. */
typedef int (*op_fn)(worker *w, uint64_t i);

typedef struct workload {
    const char *name;
    int fresh;   /* starts from a destroyed and recreated database */
    int writes;  /* the db size on disk is printed after it */
    int reads;   /* "(found of total found)" is printed */
    uint64_t (*ops)(const bench_config *c);          /* per thread */
    size_t (*value_size)(const bench_config *c);     /* NULL: --value_size */
    int sync;                                        /* syncs every write whatever --sync says */
    int (*setup)(worker *w);                         /* NULL: none */
    op_fn op;
    int (*teardown)(worker *w);                      /* NULL: none */
    op_fn writer;  /* readwhilewriting: the extra thread's op, run until the readers end */
    /* compact, stats: run once on the calling thread instead of op */
    int (*once)(run_ctx *ctx, run_result *r);
} workload;

struct run_ctx {
    const bench_config *cfg;
    const bench_engine *eng;
    bench_db *db;
    const value_pool *pool;
    const workload *wl;
    uint64_t ops;            /* per measured thread */
    size_t value_size;
    int sync;
    int timed;               /* per-op latency is measured */
    int nmeasured;           /* workers 0..nmeasured-1; a writer after them */
    atomic_int abort;        /* a worker failed: the others stop */
    atomic_int readers_left; /* readwhilewriting: the writer stops at 0 */
    pthread_mutex_t gate_mu; /* the workers start together when gate_open */
    pthread_cond_t gate_cv;
    int gate_open;
};

struct worker {
    _Atomic uint64_t done;   /* ops completed, read by the monitor */
    run_ctx *ctx;
    int id;
    rng rng;
    value_gen values;
    char key[KEY_SIZE + 1];  /* + readmissing's suffix */
    bench_batch *batch;
    bench_iter *iter;
    uint64_t found, bytes;
    uint64_t start_ns, end_ns;
    double sched_step_ns;    /* --rate: time between this thread's ops */
    uint64_t sched_origin_ns;
    int64_t behind_ns;       /* --rate: end of run minus scheduled end */
    int status;
    bench_err err;
    histogram hist;
};

struct run_result {
    uint64_t ops, found, bytes;
    double thread_seconds;   /* summed over the measured threads */
    double wall_seconds;
    hist_counts *hist;       /* measured threads' latencies; NULL when not timed */
    uint64_t writer_ops;
    double writer_seconds;
    double behind_s;         /* --rate: the latest thread's lag at its end */
    int status;              /* BENCH_OK, BENCH_ERROR or BENCH_NOT_SUPPORTED */
    bench_err err;
};

/* Where a run reports intervals: the CSV (or NULL) and its time zero. */
typedef struct run_report {
    FILE *csv;
    uint64_t origin_ns;
    const char *label;   /* the workload's name in the CSV and progress lines; NULL: its name */
} run_report;

/* Runs wl on db.  stream picks the threads' random streams: the same stream
 * gives the same keys, so every engine sees the same ones.  r is filled
 * (free it with run_result_free) and its status returned. */
int run_workload(const bench_config *c, const bench_engine *e, bench_db *db,
                 const value_pool *pool, const workload *wl, uint64_t stream,
                 const run_report *rep, run_result *r);
void run_result_free(run_result *r);

/* workloads.c */
const workload *workload_find(const char *name);

#endif

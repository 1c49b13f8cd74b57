/*
 * report.h: the monitor thread that runs beside a workload.  It writes one
 * CSV row per --report_interval (elapsed seconds, ops/s in the interval, p99
 * in the interval, cumulative ops, workload) and a progress line on stderr
 * every few seconds.  It only reads counters the workers keep anyway (their
 * done counters and live histograms), so the hot loop does no extra work.
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/histogram.h"

typedef struct monitor {
    /* set by the caller before monitor_start */
    const char *name;                /* workload */
    int nthreads;
    _Atomic uint64_t *const *done;   /* each thread's ops so far */
    const histogram *const *hist;    /* each thread's latencies, or NULL */
    uint64_t total;                  /* expected ops of all threads, 0: unknown */
    FILE *csv;                       /* NULL: no interval report */
    double interval;                 /* seconds between CSV rows */
    uint64_t origin_ns;              /* CSV time zero: the start of the first workload */
    void *arrays[2];                 /* the caller's, to free after monitor_stop */
    /* private */
    pthread_t thread;
    atomic_int stop;
    hist_counts *prev, *cur, *delta;
    uint64_t prev_ops;
} monitor;

/* Writes the header row of a new CSV file. */
void report_csv_header(FILE *csv);
/* 0, or -1 when the thread or its buffers could not be made. */
int monitor_start(monitor *m);
/* Stops the thread; writes a last partial-interval row. */
void monitor_stop(monitor *m);

#endif

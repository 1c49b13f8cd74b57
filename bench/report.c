/*
 * report.c: interval CSV rows and progress lines for db_bench (see
 * report.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/report.h"
#include "bench/sysinfo.h"

/* How often the monitor wakes to look at the clock and the stop flag. */
enum { TICK_NS = 10 * 1000 * 1000 };
static const double PROGRESS_SECONDS = 5.0;

void report_csv_header(FILE *csv)
{
    fprintf(csv, "elapsed_s,ops_per_s,p99_us,cumulative_ops,workload\n");
    fflush(csv);
}

static uint64_t ops_so_far(const monitor *m)
{
    uint64_t n = 0;
    for (int i = 0; i < m->nthreads; i++)
        n += atomic_load_explicit(m->done[i], memory_order_relaxed);
    return n;
}

/* One CSV row for the interval that ends now and lasted seconds. */
static void write_row(monitor *m, uint64_t now, double seconds)
{
    uint64_t ops = ops_so_far(m);
    double rate = seconds > 0 ? (double)(ops - m->prev_ops) / seconds : 0;
    fprintf(m->csv, "%.3f,%.0f,", (double)(now - m->origin_ns) / 1e9, rate);
    if (m->hist) {
        memset(m->cur, 0, sizeof *m->cur);
        for (int i = 0; i < m->nthreads; i++)
            hist_accumulate(m->cur, m->hist[i]);
        hist_difference(m->delta, m->cur, m->prev);
        /* No operation finished in the interval (a stall): leave p99 empty,
         * the gap is what the chart should show. */
        if (m->delta->count)
            fprintf(m->csv, "%.2f", hist_percentile(m->delta, 0.99) / 1e3);
        hist_counts *t = m->prev;
        m->prev = m->cur;
        m->cur = t;
    }
    fprintf(m->csv, ",%llu,%s\n", (unsigned long long)ops, m->name);
    fflush(m->csv);
    m->prev_ops = ops;
}

static void progress(const monitor *m, double elapsed)
{
    uint64_t ops = ops_so_far(m);
    if (m->total)
        fprintf(stderr, "... %s: %llu of %llu ops (%.0f%%) in %.0f s\n", m->name,
                (unsigned long long)ops, (unsigned long long)m->total,
                100.0 * (double)ops / (double)m->total, elapsed);
    else
        fprintf(stderr, "... %s: %llu ops in %.0f s\n", m->name, (unsigned long long)ops, elapsed);
}

static void *run(void *arg)
{
    monitor *m = arg;
    uint64_t start = now_ns(), last_row = start;
    double next_progress = PROGRESS_SECONDS;
    struct timespec tick = {0, TICK_NS};
    while (!atomic_load(&m->stop)) {
        nanosleep(&tick, NULL);
        uint64_t now = now_ns();
        double since_row = (double)(now - last_row) / 1e9;
        if (m->csv && since_row >= m->interval) {
            write_row(m, now, since_row);
            last_row = now;
        }
        double elapsed = (double)(now - start) / 1e9;
        if (elapsed >= next_progress) {
            progress(m, elapsed);
            next_progress += PROGRESS_SECONDS;
        }
    }
    uint64_t now = now_ns();
    if (m->csv && ops_so_far(m) > m->prev_ops)
        write_row(m, now, (double)(now - last_row) / 1e9);
    return NULL;
}

int monitor_start(monitor *m)
{
    atomic_init(&m->stop, 0);
    m->prev_ops = 0;
    m->prev = m->cur = m->delta = NULL;
    if (m->hist) {
        m->prev = calloc(1, sizeof *m->prev);
        m->cur = calloc(1, sizeof *m->cur);
        m->delta = calloc(1, sizeof *m->delta);
        if (!m->prev || !m->cur || !m->delta)
            goto fail;
    }
    if (pthread_create(&m->thread, NULL, run, m) == 0)
        return 0;
fail:
    free(m->prev);
    free(m->cur);
    free(m->delta);
    return -1;
}

void monitor_stop(monitor *m)
{
    atomic_store(&m->stop, 1);
    pthread_join(m->thread, NULL);
    free(m->prev);
    free(m->cur);
    free(m->delta);
}

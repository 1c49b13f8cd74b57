/*
 * runner.c: threads, timing and results of one workload (see runner.h).
 *
 * The loop around an op costs nothing but a function call and two plain
 * stores (the done counter for the monitor, the abort check) unless
 * latencies are wanted: then one clock_gettime per op (the end of one op is
 * the start of the next).  With --rate the loop is open: op i of a thread is
 * due at origin + i * step, the thread sleeps until then if it is early, and
 * the latency is measured from when the op was due, not from when it could
 * start, so that time spent queued behind a slow op (a stall) counts as the
 * user would feel it.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "bench/report.h"
#include "bench/runner.h"
#include "bench/sysinfo.h"

/* A sleep on this kind of machine (a VM on a shared host) wakes up late by
 * ~50 us at the median and by milliseconds at the tail, and under --rate
 * that lateness would count as the engine's latency.  So a paced thread
 * sleeps only through waits longer than this, until this long before the
 * op is due, and spins the rest: it keeps a core busy, and its timing is
 * right to a microsecond. */
enum { SPIN_NS = 5 * 1000 * 1000 };

static inline void done_set(worker *w, uint64_t n)
{
    atomic_store_explicit(&w->done, n, memory_order_relaxed);
}

static inline int aborted(const worker *w)
{
    return atomic_load_explicit(&w->ctx->abort, memory_order_relaxed);
}

static int loop_untimed(worker *w, op_fn op, uint64_t n)
{
    for (uint64_t i = 0; i < n && !aborted(w); i++) {
        int st = op(w, i);
        if (st != BENCH_OK)
            return st;
        done_set(w, i + 1);
    }
    return BENCH_OK;
}

static int loop_timed(worker *w, op_fn op, uint64_t n)
{
    uint64_t t = now_ns();
    for (uint64_t i = 0; i < n && !aborted(w); i++) {
        int st = op(w, i);
        if (st != BENCH_OK)
            return st;
        uint64_t t2 = now_ns();
        hist_add(&w->hist, t2 - t);
        t = t2;
        done_set(w, i + 1);
    }
    return BENCH_OK;
}

static void wait_until(uint64_t due)
{
    uint64_t now = now_ns();
    if (now >= due)
        return;
    if (due - now > SPIN_NS) {
        uint64_t wake = due - SPIN_NS;
        struct timespec ts = {(time_t)(wake / 1000000000u), (long)(wake % 1000000000u)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    while (now_ns() < due)
        ;
}

static int loop_paced(worker *w, op_fn op, uint64_t n)
{
    /* Sleeps end late by the timer slack (50 us by default): ask for none. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    w->sched_origin_ns = now_ns();
    uint64_t i;
    for (i = 0; i < n && !aborted(w); i++) {
        uint64_t due = w->sched_origin_ns + (uint64_t)((double)i * w->sched_step_ns);
        wait_until(due);
        int st = op(w, i);
        if (st != BENCH_OK)
            return st;
        hist_add(&w->hist, now_ns() - due);
        done_set(w, i + 1);
    }
    uint64_t sched_end = w->sched_origin_ns + (uint64_t)((double)i * w->sched_step_ns);
    w->behind_ns = (int64_t)(now_ns() - sched_end);
    return BENCH_OK;
}

/* readwhilewriting's writer: writes until the last reader is done. */
static int loop_writer(worker *w, op_fn op)
{
    uint64_t i = 0;
    while (atomic_load_explicit(&w->ctx->readers_left, memory_order_relaxed) > 0 && !aborted(w)) {
        int st = op(w, i);
        if (st != BENCH_OK)
            return st;
        done_set(w, ++i);
    }
    return BENCH_OK;
}

static int measured_loop(worker *w)
{
    run_ctx *ctx = w->ctx;
    if (ctx->cfg->rate > 0)
        return loop_paced(w, ctx->wl->op, ctx->ops);
    if (ctx->timed)
        return loop_timed(w, ctx->wl->op, ctx->ops);
    return loop_untimed(w, ctx->wl->op, ctx->ops);
}

static void *thread_main(void *arg)
{
    worker *w = arg;
    run_ctx *ctx = w->ctx;
    int writer = w->id >= ctx->nmeasured;
    pthread_mutex_lock(&ctx->gate_mu);
    while (!ctx->gate_open)
        pthread_cond_wait(&ctx->gate_cv, &ctx->gate_mu);
    pthread_mutex_unlock(&ctx->gate_mu);
    w->start_ns = now_ns();
    int st = !writer && ctx->wl->setup ? ctx->wl->setup(w) : BENCH_OK;
    if (st == BENCH_OK)
        st = writer ? loop_writer(w, ctx->wl->writer) : measured_loop(w);
    if (st == OP_STOP)
        st = BENCH_OK;
    if (!writer && ctx->wl->teardown) {
        int st2 = ctx->wl->teardown(w);
        if (st == BENCH_OK)
            st = st2;
    }
    w->end_ns = now_ns();
    if (!writer)
        atomic_fetch_sub(&ctx->readers_left, 1);
    w->status = st;
    if (st != BENCH_OK)
        atomic_store(&ctx->abort, 1);
    return NULL;
}

/* ---- setting up and merging --------------------------------------------- */

static worker *new_worker(run_ctx *ctx, int id, uint64_t stream)
{
    /* Each worker on its own cache lines: done is written on every op. */
    size_t size = (sizeof(worker) + 63) & ~(size_t)63;
    worker *w = aligned_alloc(64, size);
    if (!w)
        return NULL;
    memset(w, 0, sizeof *w);
    atomic_init(&w->done, 0);
    w->ctx = ctx;
    w->id = id;
    rng_init(&w->rng, ctx->cfg->seed, stream + (uint64_t)id);
    value_gen_init(&w->values, ctx->pool, (size_t)id * 100003u);
    hist_init(&w->hist);
    if (ctx->cfg->rate > 0)
        w->sched_step_ns = 1e9 * ctx->nmeasured / ctx->cfg->rate;
    return w;
}

static void merge(run_ctx *ctx, worker **ws, int n, run_result *r)
{
    uint64_t first = UINT64_MAX, last = 0;
    for (int i = 0; i < n; i++) {
        worker *w = ws[i];
        if (i >= ctx->nmeasured) {
            r->writer_ops = atomic_load(&w->done);
            r->writer_seconds = (double)(w->end_ns - w->start_ns) / 1e9;
            continue;
        }
        r->ops += atomic_load(&w->done);
        r->found += w->found;
        r->bytes += w->bytes;
        r->thread_seconds += (double)(w->end_ns - w->start_ns) / 1e9;
        first = w->start_ns < first ? w->start_ns : first;
        last = w->end_ns > last ? w->end_ns : last;
        if (r->hist)
            hist_accumulate(r->hist, &w->hist);
        if ((double)w->behind_ns / 1e9 > r->behind_s)
            r->behind_s = (double)w->behind_ns / 1e9;
    }
    r->wall_seconds = (double)(last - first) / 1e9;
}

/* The first failure, if any, becomes the run's. */
static void collect_status(worker **ws, int n, run_result *r)
{
    for (int i = 0; i < n; i++)
        if (ws[i]->status != BENCH_OK) {
            r->status = ws[i]->status;
            r->err = ws[i]->err;
            return;
        }
}

static void init_ctx(run_ctx *ctx, const bench_config *c, const bench_engine *e, bench_db *db,
                     const value_pool *pool, const workload *wl)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->cfg = c;
    ctx->eng = e;
    ctx->db = db;
    ctx->pool = pool;
    ctx->wl = wl;
    ctx->ops = wl->ops ? wl->ops(c) : 1;
    ctx->value_size = wl->value_size ? wl->value_size(c) : c->value_size;
    ctx->sync = wl->sync || c->sync;
    ctx->timed = c->histogram || c->rate > 0 || c->report_interval > 0;
    ctx->nmeasured = c->threads;
    atomic_init(&ctx->abort, 0);
    atomic_init(&ctx->readers_left, c->threads);
    pthread_mutex_init(&ctx->gate_mu, NULL);
    pthread_cond_init(&ctx->gate_cv, NULL);
}

/* The monitor reads the measured workers' counters through these arrays. */
static int start_monitor(monitor *m, run_ctx *ctx, worker **ws, const run_report *rep)
{
    memset(m, 0, sizeof *m);
    int n = ctx->nmeasured;
    _Atomic uint64_t **done = calloc((size_t)n, sizeof *done);
    const histogram **hist = calloc((size_t)n, sizeof *hist);
    if (!done || !hist)
        goto fail;
    for (int i = 0; i < n; i++) {
        done[i] = &ws[i]->done;
        hist[i] = &ws[i]->hist;
    }
    m->name = rep && rep->label ? rep->label : ctx->wl->name;
    m->nthreads = n;
    m->done = done;
    m->hist = ctx->timed ? hist : NULL;
    m->total = ctx->ops * (uint64_t)n;
    m->csv = rep ? rep->csv : NULL;
    m->interval = ctx->cfg->report_interval;
    m->origin_ns = rep ? rep->origin_ns : now_ns();
    m->arrays[0] = done;
    m->arrays[1] = hist;
    if (monitor_start(m) == 0)
        return 0;
fail:
    free(done);
    free(hist);
    return -1;
}

static void stop_monitor(monitor *m)
{
    monitor_stop(m);
    free(m->arrays[0]);
    free(m->arrays[1]);
}

/* Lets the workers go, all at once. */
static void open_gate(run_ctx *ctx)
{
    pthread_mutex_lock(&ctx->gate_mu);
    ctx->gate_open = 1;
    pthread_cond_broadcast(&ctx->gate_cv);
    pthread_mutex_unlock(&ctx->gate_mu);
}

/* Starts the threads, waits for them, merges.  0, or -1 when a thread or
 * the memory for one could not be had. */
static int run_threads(run_ctx *ctx, worker **ws, int n, uint64_t stream, const run_report *rep,
                       run_result *r)
{
    int started = 0, ok = 0;
    pthread_t *th = calloc((size_t)n, sizeof *th);
    monitor m;
    for (int i = 0; th && i < n; i++)
        if (!(ws[i] = new_worker(ctx, i, stream)))
            goto out;
    if (!th || start_monitor(&m, ctx, ws, rep) != 0)
        goto out;
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, thread_main, ws[started]) != 0)
            break;
    ok = started == n;
    if (!ok) /* the started ones stop at once */
        atomic_store(&ctx->abort, 1);
    open_gate(ctx);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    stop_monitor(&m);
    merge(ctx, ws, n, r);
    collect_status(ws, n, r);
out:
    for (int i = 0; i < n; i++)
        free(ws[i]);
    free(th);
    return ok ? 0 : -1;
}

int run_workload(const bench_config *c, const bench_engine *e, bench_db *db,
                 const value_pool *pool, const workload *wl, uint64_t stream,
                 const run_report *rep, run_result *r)
{
    memset(r, 0, sizeof *r);
    run_ctx ctx;
    init_ctx(&ctx, c, e, db, pool, wl);
    int n = ctx.nmeasured + (wl->writer ? 1 : 0);
    worker **ws = NULL;
    if (wl->once) {
        r->status = wl->once(&ctx, r);
    } else if ((ctx.timed && !(r->hist = calloc(1, sizeof *r->hist))) ||
               !(ws = calloc((size_t)n, sizeof *ws)) ||
               run_threads(&ctx, ws, n, stream, rep, r) != 0) {
        r->status = BENCH_ERROR;
        bench_set_err(&r->err, "db_bench: out of memory or threads for %s", wl->name);
    }
    free(ws);
    pthread_mutex_destroy(&ctx.gate_mu);
    pthread_cond_destroy(&ctx.gate_cv);
    return r->status;
}

void run_result_free(run_result *r)
{
    free(r->hist);
    r->hist = NULL;
}

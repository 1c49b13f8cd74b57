/*
 * output.c: what db_bench prints, in LevelDB's format: a header describing
 * the machine and the run, then one line per workload,
 *   name : X micros/op; Y MB/s; Z ops/s[; (found of total found)]
 * followed by indented detail lines (latency percentiles, rate, memory).
 */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/sysinfo.h"

static const double MB = 1024.0 * 1024.0;

static void print_settings(const bench_config *c)
{
    const bench_settings *s = &c->settings;
    printf("Settings:     write_buffer_size=%zu block_size=%zu cache_size=%zu bloom_bits=%d\n"
           "              compression=%s compression_level=%d open_files=%d "
           "background_threads=%d\n"
           "              sync=%d (fillsync: 1) WAL=on threads=%d\n",
           s->write_buffer_size, s->block_size, s->cache_size, s->bloom_bits,
           bench_compression_name(s->compression), s->compression_level, s->max_open_files,
           s->background_threads, c->sync, c->threads);
    if (c->rate > 0)
        printf("Timing:       open loop at %.0f ops/s (split over the threads); latencies from "
               "each op's scheduled start\n", c->rate);
    else
        printf("Timing:       closed loop%s\n",
               c->histogram || c->report_interval > 0 ? "; latency of each op" : "");
}

static void print_engines(const bench_engine *const *engines, int n)
{
    printf("Engine%s      ", n > 1 ? "s:" : ": ");
    for (int i = 0; i < n; i++)
        printf("%s%s %s", i ? ", " : "", engines[i]->name, engines[i]->version());
    printf("\n");
}

void print_header(const session *s, const bench_engine *const *engines, int n)
{
    const bench_config *c = s->cfg;
    char buf[512];
    sys_date(buf, sizeof buf);
    printf("Date:         %s\n", buf);
    sys_cpu(buf, sizeof buf);
    printf("CPU:          %s\n", buf);
    double vc = (double)c->value_size * c->compression_ratio;
    printf("Keys:         %d bytes each\n", KEY_SIZE);
    printf("Values:       %zu bytes each (%.0f bytes after compression)\n", c->value_size, vc);
    printf("Entries:      %llu\n", (unsigned long long)c->num);
    printf("RawSize:      %.1f MB (estimated)\n",
           (double)(KEY_SIZE + c->value_size) * (double)c->num / MB);
    printf("FileSize:     %.1f MB (estimated)\n", (KEY_SIZE + vc) * (double)c->num / MB);
    print_engines(engines, n);
    sys_allocator(buf, sizeof buf);
    printf("Allocator:    %s (db_bench's; libstrata leaves the allocator to the application)\n",
           buf);
    printf("Seed:         %llu\n", (unsigned long long)c->seed);
    print_settings(c);
    printf("Database:     %s%s\n", s->base, s->temp ? " (temporary)" : "");
    printf("Not honoured:\n");
    print_notes(c, engines, n, "  ");
    printf("------------------------------------------------\n");
    fflush(stdout);
}

void print_notes(const bench_config *c, const bench_engine *const *engines, int n,
                 const char *indent)
{
    bench_notes notes;
    notes.count = 0;
    for (int i = 0; i < n; i++)
        engines[i]->check_settings(&c->settings, &notes);
    for (int i = 0; i < notes.count; i++)
        printf("%s%-8s %s: %s\n", indent, notes.note[i].engine, notes.note[i].setting,
               notes.note[i].text);
    if (notes.count == 0)
        printf("%s(none)\n", indent);
}

double micros_per_op(const run_result *r)
{
    return r->thread_seconds * 1e6 / (double)(r->ops ? r->ops : 1);
}

static void print_latency(const run_result *r)
{
    const hist_counts *h = r->hist;
    if (!h || !h->count)
        return;
    printf("               latency us: p50 %.2f  p95 %.2f  p99 %.2f  p99.9 %.2f  max %.2f"
           "  (%llu ops)\n",
           hist_percentile(h, 0.50) / 1e3, hist_percentile(h, 0.95) / 1e3,
           hist_percentile(h, 0.99) / 1e3, hist_percentile(h, 0.999) / 1e3,
           (double)h->max_ns / 1e3, (unsigned long long)h->count);
}

void format_wamp(const wamp_figure *wa, char *buf, size_t len)
{
    const bench_write_amp *w = &wa->w;
    if (!wa->measured || wa->status != BENCH_OK)
        snprintf(buf, len, "n/a");
    else if (w->wamp_err <= 0)
        snprintf(buf, len, "%.2f", w->wamp);
    else
        snprintf(buf, len, "%.*f+-%.2g", w->wamp_err < 0.5 ? 1 : 0, w->wamp, w->wamp_err);
}

/* "412.3 MB", or with the most the engine's rounding can be off by. */
static const char *format_mb(double mb, double err, char *buf, size_t len)
{
    if (err <= 0)
        snprintf(buf, len, "%.1f MB", mb);
    else if (err < 1)
        snprintf(buf, len, "%.1f+-%.1f MB", mb, err);
    else
        snprintf(buf, len, "%.0f+-%.0f MB", mb, err);
    return buf;
}

/* Write amplification over the workload alone, from just before it to
 * just after it. */
static void print_wamp(const wamp_figure *wa)
{
    if (!wa || !wa->measured)
        return;
    const bench_write_amp *w = &wa->w;
    char v[64], t[64], f[64];
    format_wamp(wa, v, sizeof v);
    format_mb(w->table_mb, w->table_err_mb, t, sizeof t);
    format_mb(w->flush_mb, w->flush_err_mb, f, sizeof f);
    if (wa->status == BENCH_OK)
        printf("               write amp %s: %s written to tables / %s flushed, during this "
               "workload\n", v, t, f);
    else if (wa->status == BENCH_NOT_FOUND && w->table_mb <= 0 && w->table_err_mb <= 0)
        printf("               write amp n/a: %s during this workload\n", wa->why);
    else if (wa->status == BENCH_NOT_FOUND)
        printf("               write amp n/a: %s; %s written to tables during this workload\n",
               wa->why, t);
    else
        printf("               write amp n/a: %s\n", wa->why);
}

static void print_details(const session *s, const engine_db *d, const workload *wl,
                          const run_result *r, const wamp_figure *wa)
{
    const bench_config *c = s->cfg;
    print_wamp(wa);
    if (c->histogram || c->rate > 0)
        print_latency(r);
    if (c->rate > 0)
        printf("               rate: target %.0f ops/s, achieved %.0f ops/s, ended %.3f ms "
               "behind schedule; latencies from scheduled starts\n",
               c->rate, r->wall_seconds > 0 ? (double)r->ops / r->wall_seconds : 0,
               r->behind_s > 0 ? r->behind_s * 1e3 : 0.0);
    if (wl->writer)
        printf("               writer: %llu writes while the readers ran (%.0f ops/s)\n",
               (unsigned long long)r->writer_ops,
               r->writer_seconds > 0 ? (double)r->writer_ops / r->writer_seconds : 0);
    printf("               peak RSS %.1f MB", (double)sys_peak_rss() / MB);
    if (wl->writes)
        printf("; database %.1f MB on disk", (double)sys_dir_size(d->path) / MB);
    printf("\n");
}

void print_result(const session *s, const engine_db *d, const workload *wl, const run_result *r,
                  const wamp_figure *wa, int tag)
{
    char tagbuf[32] = "";
    if (tag)
        snprintf(tagbuf, sizeof tagbuf, "  [%s]", d->eng->name);
    if (!strcmp(wl->name, "stats")) /* printed its own text */
        return;
    if (r->status == BENCH_NOT_SUPPORTED) {
        printf("%-12s : %s%s\n", wl->name, r->err.msg, tagbuf);
        return;
    }
    double secs = r->wall_seconds > 0 ? r->wall_seconds : 1e-9;
    printf("%-12s : %10.3f micros/op; %6.1f MB/s; %9.0f ops/s", wl->name, micros_per_op(r),
           (double)r->bytes / MB / secs, (double)r->ops / secs);
    if (wl->reads)
        printf("; (%llu of %llu found)", (unsigned long long)r->found,
               (unsigned long long)r->ops);
    printf("%s\n", tagbuf);
    print_details(s, d, wl, r, wa);
    fflush(stdout);
}

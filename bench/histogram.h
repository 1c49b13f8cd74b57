/*
 * histogram.h: latency histograms for db_bench.
 *
 * Buckets are log-spaced: exact below 128 ns, then 128 buckets per power of
 * two, so a bucket is at most 1/128 (0.8%) wide relative to its values and
 * p99.9 comes out to better than 1%.  A thread records into its own live
 * histogram; only that thread writes it, so an add is a plain load and store
 * (relaxed atomics, no locked instruction), and the reporter thread may read
 * it at any time.  Results are merged into plain hist_counts.
 */
#ifndef BENCH_HISTOGRAM_H
#define BENCH_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

enum { HIST_SUB_BITS = 7, HIST_SUB = 1 << HIST_SUB_BITS, HIST_BUCKETS = (64 - HIST_SUB_BITS + 1) * HIST_SUB };

/* A live histogram: one writer, any readers. */
typedef struct histogram {
    _Atomic uint64_t b[HIST_BUCKETS];
    _Atomic uint64_t count, sum_ns, max_ns;
} histogram;

/* Plain counts: a merge of live histograms, or the difference of two. */
typedef struct hist_counts {
    uint64_t b[HIST_BUCKETS];
    uint64_t count, sum_ns, max_ns;
} hist_counts;

void hist_init(histogram *h);

static inline unsigned hist_bucket(uint64_t ns)
{
    if (ns < HIST_SUB)
        return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns);
    return (e - HIST_SUB_BITS + 1) * HIST_SUB + (unsigned)((ns >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* Only the owning thread calls this. */
static inline void hist_add(histogram *h, uint64_t ns)
{
    _Atomic uint64_t *c = &h->b[hist_bucket(ns)];
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
    atomic_store_explicit(&h->count, atomic_load_explicit(&h->count, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&h->sum_ns, atomic_load_explicit(&h->sum_ns, memory_order_relaxed) + ns,
                          memory_order_relaxed);
    if (ns > atomic_load_explicit(&h->max_ns, memory_order_relaxed))
        atomic_store_explicit(&h->max_ns, ns, memory_order_relaxed);
}

/* acc += h (h may be being written: the result is a consistent-enough
 * snapshot for interval reports, and exact once the writer has stopped). */
void hist_accumulate(hist_counts *acc, const histogram *h);
/* out = a - b, bucket by bucket (a and b cumulative, a later); max is a's. */
void hist_difference(hist_counts *out, const hist_counts *a, const hist_counts *b);
/* The latency in ns below which a fraction p of the operations fall. */
double hist_percentile(const hist_counts *c, double p);

#endif

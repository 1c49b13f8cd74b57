/*
 * histogram.c: merging and percentiles of db_bench's latency histograms
 * (see histogram.h for the bucket layout).
 */
#include <string.h>

#include "bench/histogram.h"

void hist_init(histogram *h)
{
    for (int i = 0; i < HIST_BUCKETS; i++)
        atomic_init(&h->b[i], 0);
    atomic_init(&h->count, 0);
    atomic_init(&h->sum_ns, 0);
    atomic_init(&h->max_ns, 0);
}

void hist_accumulate(hist_counts *acc, const histogram *h)
{
    uint64_t n = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        uint64_t v = atomic_load_explicit(&h->b[i], memory_order_relaxed);
        acc->b[i] += v;
        n += v;
    }
    /* Count from the buckets read, so that percentiles add up even while
     * the owner is writing. */
    acc->count += n;
    acc->sum_ns += atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
    uint64_t max = atomic_load_explicit(&h->max_ns, memory_order_relaxed);
    if (max > acc->max_ns)
        acc->max_ns = max;
}

void hist_difference(hist_counts *out, const hist_counts *a, const hist_counts *b)
{
    for (int i = 0; i < HIST_BUCKETS; i++)
        out->b[i] = a->b[i] - b->b[i];
    out->count = a->count - b->count;
    out->sum_ns = a->sum_ns - b->sum_ns;
    out->max_ns = a->max_ns;
}

/* The middle of bucket i. */
static double bucket_value(int i)
{
    if (i < HIST_SUB)
        return i;
    int e = i / HIST_SUB + HIST_SUB_BITS - 1;
    uint64_t sub = (uint64_t)(i % HIST_SUB);
    double width = (double)(1ULL << (e - HIST_SUB_BITS));
    return (double)((HIST_SUB + sub) << (e - HIST_SUB_BITS)) + width / 2;
}

double hist_percentile(const hist_counts *c, double p)
{
    if (c->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(p * (double)c->count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += c->b[i];
        if (seen >= rank) {
            double v = bucket_value(i);
            /* The real max can be inside the top bucket. */
            return c->max_ns && v > (double)c->max_ns ? (double)c->max_ns : v;
        }
    }
    return (double)c->max_ns;
}

/*
 * bloom.c: a cache-line-blocked bloom filter over 64-bit key hashes
 * (docs/sstable_format.md, "Bloom filter").
 *
 * Layout: num_lines lines of 64 bytes (512 bits), then a 6-byte tail:
 *     fixed32 num_lines | u8 num_probes | u8 format (BLOOM_FORMAT_BLOCKED)
 * A key's hash picks one line with its high 32 bits, and its low 32 bits
 * seed the probes, which all fall in that line: a lookup touches one cache
 * line (one miss) however many probes it makes.
 *
 * Invariants of a filter bloom_build() writes: its length is exactly
 * 64 * num_lines + 6; num_lines is 0 only when there were no keys (a
 * filter that answers 0 for everything); 1 <= num_probes <= 30.  Anything
 * else is "malformed", and a malformed filter answers 1 (may contain).
 *
 * Confining a key's probes to one line costs some accuracy: lines receive
 * a binomially distributed number of keys, and the crowded ones answer yes
 * more often than the average saves.  bloom_expected_fp_rate() predicts
 * the rate of this layout (not of a textbook bloom filter), and the number
 * of probes is the one that minimizes that prediction.
 */
#include "sstable/bloom.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "src/coding.h"
#include "src/status.h"

enum {
    BLOOM_LINE_BYTES = 64,
    BLOOM_LINE_BITS = 512,
    BLOOM_TAIL_LEN = 6,
    BLOOM_FORMAT_BLOCKED = 1,
    BLOOM_MAX_PROBES = 30,
};

/* Odd, and 2^32 divided by the golden ratio: multiplying by it mixes all
 * 32 bits of the probe state into the top 9, which pick the bit. */
#define BLOOM_PROBE_MUL 0x9E3779B1u

/* ---- the layout, shared by the builder and the reader ----------------------- */

static inline uint32_t bloom_line_of(uint64_t hash, uint32_t num_lines)
{
    /* Multiply-shift maps the high 32 bits uniformly onto [0, num_lines)
     * without a division. */
    return (uint32_t)(((hash >> 32) * (uint64_t)num_lines) >> 32);
}

static void bloom_set(unsigned char *line, uint32_t state, int num_probes)
{
    for (int i = 0; i < num_probes; i++) {
        state *= BLOOM_PROBE_MUL;
        uint32_t bit = state >> 23; /* 0 .. 511 */
        line[bit >> 3] |= (unsigned char)(1u << (bit & 7));
    }
}

static int bloom_test(const unsigned char *line, uint32_t state, int num_probes)
{
    for (int i = 0; i < num_probes; i++) {
        state *= BLOOM_PROBE_MUL;
        uint32_t bit = state >> 23;
        if (!(line[bit >> 3] & (1u << (bit & 7))))
            return 0;
    }
    return 1;
}

/* ---- the model ------------------------------------------------------------------ */

static double bloom_powi(double x, uint64_t e)
{
    double r = 1.0;
    while (e) {
        if (e & 1)
            r *= x;
        x *= x;
        e >>= 1;
    }
    return r;
}

/* How many keys a line receives: Binomial(n, 1/lines), as weights over
 * [lo, hi] built outward from the mode (so that no term underflows however
 * many keys a line expects), dropping the tails below 1e-18 of the mode's
 * weight.  weight(j + 1) = weight(j) * ratio_up(j). */
struct bloom_spread {
    uint64_t n, lo, hi;
    double q;       /* p / (1 - p), p = 1 / lines */
    double w_lo;    /* weight of lo, the mode's being 1 */
    double total;   /* sum of the weights */
};

static double bloom_ratio_up(const struct bloom_spread *s, uint64_t j)
{
    return (double)(s->n - j) / (double)(j + 1) * s->q;
}

static void bloom_spread_init(struct bloom_spread *s, uint64_t n, uint64_t lines)
{
    const double tiny = 1e-18;
    s->n = n;
    if (lines == 1) { /* every key in the one line */
        s->lo = s->hi = n;
        s->q = 0;
        s->w_lo = s->total = 1.0;
        return;
    }
    s->q = 1.0 / (double)(lines - 1);
    uint64_t mode = (uint64_t)(((double)n + 1.0) / (double)lines);
    if (mode > n)
        mode = n;
    double w = 1.0;
    s->total = 1.0;
    s->lo = mode;
    while (s->lo > 0) {
        double below = w / bloom_ratio_up(s, s->lo - 1);
        if (below < tiny)
            break;
        w = below;
        s->lo--;
        s->total += w;
    }
    s->w_lo = w;
    w = 1.0;
    s->hi = mode;
    while (s->hi < n) {
        double above = w * bloom_ratio_up(s, s->hi);
        if (above < tiny)
            break;
        w = above;
        s->hi++;
        s->total += w;
    }
}

/* The rate of the layout for n keys in `lines` lines at k probes.  A line
 * holding j keys has had k * j probes set bits in it; an absent key is a
 * false positive when its k probes all find set bits, which happens with
 * probability E[(X / 512)^k], X the number of distinct bits set.  X's
 * distribution after t probes follows from t - 1 by one more uniform
 * probe (it lands on a set bit with probability X / 512), so a single
 * pass over t = 0 .. k * hi yields every line size's rate.  (The textbook
 * (1 - (1 - 1/m)^(kj))^k replaces E[(X/m)^k] by (E[X]/m)^k, which
 * underestimates by about 1% at m = 512.) */
static double bloom_model_rate(uint64_t n, uint64_t lines, int k)
{
    if (n == 0 || lines == 0)
        return 0.0;
    struct bloom_spread s;
    bloom_spread_init(&s, n, lines);

    double pk[BLOOM_LINE_BITS + 1]; /* (x / 512)^k */
    for (int x = 0; x <= BLOOM_LINE_BITS; x++)
        pk[x] = bloom_powi((double)x / BLOOM_LINE_BITS, (uint64_t)k);
    double set[BLOOM_LINE_BITS + 1] = { 1.0 }; /* P(X = x) after t probes */
    uint64_t t = 0;
    double w = s.w_lo, sum = 0.0;
    for (uint64_t j = s.lo; j <= s.hi; j++) {
        for (; t < (uint64_t)k * j; t++) {
            int top = t + 1 < BLOOM_LINE_BITS ? (int)(t + 1) : BLOOM_LINE_BITS;
            for (int x = top; x > 0; x--)
                set[x] = set[x] * x / BLOOM_LINE_BITS +
                         set[x - 1] * (BLOOM_LINE_BITS - x + 1) / BLOOM_LINE_BITS;
            set[0] = 0.0;
        }
        double rate = 0.0;
        int top = t < BLOOM_LINE_BITS ? (int)t : BLOOM_LINE_BITS;
        for (int x = 1; x <= top; x++)
            rate += set[x] * pk[x];
        sum += w * rate;
        if (j < s.hi)
            w *= bloom_ratio_up(&s, j);
    }
    return sum / s.total;
}

static int bloom_clamp_bits(int bits_per_key)
{
    return bits_per_key < 1 ? 1 : bits_per_key;
}

/* ceil(n * bits_per_key / 512), saturating instead of wrapping around. */
static uint64_t bloom_num_lines(size_t n, int bits_per_key)
{
    if ((uint64_t)n > (UINT64_MAX - BLOOM_LINE_BITS) / (uint64_t)bits_per_key)
        return UINT64_MAX;
    uint64_t bits = (uint64_t)n * (uint64_t)bits_per_key;
    return (bits + BLOOM_LINE_BITS - 1) / BLOOM_LINE_BITS;
}

/* The probe count that minimizes the predicted rate of a large filter at
 * bits_per_key (512 / bits_per_key keys per line on average).  The rate
 * falls and then rises with k, so the search stops at the first rise. */
static int bloom_search_probes(int bits_per_key)
{
    const uint64_t lines = 1024 * (uint64_t)bits_per_key;
    const uint64_t n = 1024 * BLOOM_LINE_BITS; /* n / lines = 512 / bits_per_key */
    int best = 1;
    double best_rate = bloom_model_rate(n, lines, 1);
    for (int k = 2; k <= BLOOM_MAX_PROBES; k++) {
        double r = bloom_model_rate(n, lines, k);
        if (r >= best_rate)
            break;
        best = k;
        best_rate = r;
    }
    return best;
}

/* The search costs a few milliseconds, so its answers for the usual sizes
 * are kept (0: not yet known).  Threads that race compute the same value. */
static _Atomic unsigned char bloom_probes_known[64];

static int bloom_num_probes(int bits_per_key)
{
    if (bits_per_key >= (int)sizeof bloom_probes_known)
        return bloom_search_probes(bits_per_key);
    int k = atomic_load_explicit(&bloom_probes_known[bits_per_key], memory_order_relaxed);
    if (k == 0) {
        k = bloom_search_probes(bits_per_key);
        atomic_store_explicit(&bloom_probes_known[bits_per_key], (unsigned char)k,
                              memory_order_relaxed);
    }
    return k;
}

double bloom_expected_fp_rate(size_t n, int bits_per_key)
{
    int bpk = bloom_clamp_bits(bits_per_key);
    return bloom_model_rate(n, bloom_num_lines(n, bpk), bloom_num_probes(bpk));
}

/* ---- building and probing ---------------------------------------------------- */

int bloom_build(const uint64_t *hashes, size_t n, int bits_per_key, struct buf *out)
{
    int bpk = bloom_clamp_bits(bits_per_key);
    if (bloom_num_lines(n, bpk) > UINT32_MAX)
        return status_set(STRATA_NO_MEMORY,
                          "bloom filter for %zu keys at %d bits each is too large", n, bpk);
    uint32_t lines = (uint32_t)bloom_num_lines(n, bpk);
    int k = bloom_num_probes(bpk);
    size_t bytes = (size_t)lines * BLOOM_LINE_BYTES;

    int rc = buf_reserve(out, bytes + BLOOM_TAIL_LEN);
    if (rc != STRATA_OK)
        return rc;
    unsigned char *f = (unsigned char *)out->data + out->len;
    memset(f, 0, bytes);
    for (size_t i = 0; i < n; i++) {
        unsigned char *line = f + (size_t)bloom_line_of(hashes[i], lines) * BLOOM_LINE_BYTES;
        bloom_set(line, (uint32_t)hashes[i], k);
    }
    char *tail = (char *)f + bytes;
    encode_fixed32(tail, lines);
    tail[4] = (char)k;
    tail[5] = (char)BLOOM_FORMAT_BLOCKED;
    out->len += bytes + BLOOM_TAIL_LEN;
    return STRATA_OK;
}

int bloom_may_contain(struct slice filter, uint64_t hash)
{
    if (filter.len < BLOOM_TAIL_LEN)
        return 1;
    const char *tail = filter.data + filter.len - BLOOM_TAIL_LEN;
    uint32_t lines = decode_fixed32(tail);
    int k = (unsigned char)tail[4];
    if ((unsigned char)tail[5] != BLOOM_FORMAT_BLOCKED || k < 1 || k > BLOOM_MAX_PROBES ||
        (uint64_t)lines * BLOOM_LINE_BYTES != filter.len - BLOOM_TAIL_LEN)
        return 1;
    if (lines == 0)
        return 0; /* the filter of no keys */
    const unsigned char *line = (const unsigned char *)filter.data +
                                (size_t)bloom_line_of(hash, lines) * BLOOM_LINE_BYTES;
    return bloom_test(line, (uint32_t)hash, k);
}

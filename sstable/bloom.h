/*
 * bloom.h: the bloom filter of a table, over its user keys
 * (docs/sstable_format.md).
 *
 * The builder is given the 64-bit hash of each user key (hash64 from
 * src/hash.h, seed 0), so the table builder hashes each key once.  The
 * filter's last bytes record its parameters, so a reader needs nothing but
 * the filter's bytes.  A filter that is malformed answers "may contain"
 * for every key: a damaged filter costs reads, never a wrong answer (the
 * filter block is checksummed like every block, so damage is found there).
 *
 * The layout is cache-line blocked: each key's probes all fall in one
 * 64-byte line, so a lookup costs one cache miss, for a slightly higher
 * false-positive rate than a textbook filter of the same size (0.97%
 * instead of 0.82% at 10 bits per key).
 */
#ifndef STRATA_BLOOM_H
#define STRATA_BLOOM_H

#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"

/* Append to out a filter for the n hashes at bits_per_key bits per key
 * (>= 1; smaller values are taken as 1).  n = 0 gives a 6-byte filter that
 * answers 0 for every key.  STRATA_OK or STRATA_NO_MEMORY. */
int bloom_build(const uint64_t *hashes, size_t n, int bits_per_key, struct buf *out);

/* 0 when the key with this hash is certainly not in the set, 1 when it may
 * be. */
int bloom_may_contain(struct slice filter, uint64_t hash);

/* The false-positive rate the filter's layout predicts for n keys at
 * bits_per_key (what the test measures against). */
double bloom_expected_fp_rate(size_t n, int bits_per_key);

#endif

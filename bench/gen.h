/*
 * gen.h: what db_bench writes and looks up: keys, values and the seeded
 * random numbers that pick them.
 */
#ifndef BENCH_GEN_H
#define BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>

/* Keys are 16-byte zero-padded decimal numbers, as in LevelDB's db_bench. */
enum { KEY_SIZE = 16 };

/* A small, fast PRNG (splitmix64): each thread has its own, derived from the
 * run's seed and the thread's number, so runs repeat exactly. */
typedef struct rng {
    uint64_t s;
} rng;

void rng_init(rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_next(rng *r);
/* Uniform over [0, n). */
uint64_t rng_below(rng *r, uint64_t n);

/* Writes the 16-digit key of n into out (not terminated). */
void key_format(char *out, uint64_t n);

/* A fixed pool of value bytes, built once from a fixed seed, whose every
 * 100-byte piece compresses to about ratio of its size: a random run of
 * ratio * 100 bytes repeated to fill the piece. */
typedef struct value_pool {
    char *data;
    size_t size;
} value_pool;

int value_pool_init(value_pool *p, double ratio, size_t min_value_size);
void value_pool_free(value_pool *p);

/* Each thread walks the pool from its own place. */
typedef struct value_gen {
    const value_pool *pool;
    size_t pos;
} value_gen;

void value_gen_init(value_gen *g, const value_pool *p, size_t start);
/* len bytes of value, valid as long as the pool is. */
const char *value_gen_next(value_gen *g, size_t len);

#endif

/*
 * gen.c: keys, values and random numbers for db_bench (see gen.h).
 */
#include <stdlib.h>
#include <string.h>

#include "bench/gen.h"

/* The value pool's own seed: values are the same in every run and for every
 * engine, whatever --seed says. */
enum { POOL_SEED = 301, POOL_PIECE = 100, POOL_MIN = 1 << 20 };

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_init(rng *r, uint64_t seed, uint64_t stream)
{
    /* Mix the stream in through one splitmix step, so that neighbouring
     * threads get unrelated sequences. */
    uint64_t s = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    r->s = splitmix(&s);
}

uint64_t rng_next(rng *r)
{
    return splitmix(&r->s);
}

uint64_t rng_below(rng *r, uint64_t n)
{
    /* Lemire's multiply-shift: no division, bias below 2^-40 for any num. */
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

void key_format(char *out, uint64_t n)
{
    for (int i = KEY_SIZE - 1; i >= 0; i--) {
        out[i] = (char)('0' + n % 10);
        n /= 10;
    }
}

/* One piece: a random run of ratio * len bytes, repeated. */
static void fill_piece(char *out, size_t len, double ratio, uint64_t *s)
{
    size_t run = (size_t)(ratio * (double)len);
    if (run < 1)
        run = 1;
    if (run > len)
        run = len;
    for (size_t i = 0; i < run; i++)
        out[i] = (char)(splitmix(s) & 0xff);
    for (size_t i = run; i < len; i++)
        out[i] = out[i - run];
}

int value_pool_init(value_pool *p, double ratio, size_t min_value_size)
{
    /* Large enough that a value never wraps and consecutive values differ. */
    size_t size = POOL_MIN;
    while (size < 4 * min_value_size)
        size *= 2;
    p->data = malloc(size);
    p->size = size;
    if (!p->data)
        return -1;
    uint64_t s = POOL_SEED;
    for (size_t off = 0; off < size; off += POOL_PIECE)
        fill_piece(p->data + off, size - off < POOL_PIECE ? size - off : POOL_PIECE, ratio, &s);
    return 0;
}

void value_pool_free(value_pool *p)
{
    free(p->data);
    p->data = NULL;
}

void value_gen_init(value_gen *g, const value_pool *p, size_t start)
{
    g->pool = p;
    g->pos = start % p->size;
}

const char *value_gen_next(value_gen *g, size_t len)
{
    if (g->pos + len > g->pool->size)
        g->pos = 0;
    const char *v = g->pool->data + g->pos;
    g->pos += len;
    return v;
}

/*
 * workloads.c: db_bench's workloads, named and defined as in LevelDB's
 * db_bench.  Each is one op function (operation i of a thread) plus a row
 * in the table at the end saying how many ops, which values, and whether it
 * starts from a fresh database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/runner.h"
#include "bench/sysinfo.h"

/* fillbatch writes this many entries per batch, as LevelDB's does. */
enum { FILLBATCH_SIZE = 1000, SEEK_NEXTS = 10, BIG_VALUE = 100 * 1000 };

/* ---- op counts and value sizes ------------------------------------------ */

static uint64_t ops_num(const bench_config *c)
{
    return c->num;
}

/* fillsync and fill100K: a thousandth of --num, at least one. */
static uint64_t ops_thousandth(const bench_config *c)
{
    return c->num >= 1000 ? c->num / 1000 : 1;
}

static uint64_t ops_reads(const bench_config *c)
{
    return c->reads;
}

static size_t big_value(const bench_config *c)
{
    (void)c;
    return BIG_VALUE;
}

/* ---- writes ---------------------------------------------------------------- */

static uint64_t random_key(worker *w)
{
    return rng_below(&w->rng, w->ctx->cfg->num);
}

static int put_key(worker *w, uint64_t k)
{
    run_ctx *c = w->ctx;
    key_format(w->key, k);
    const char *v = value_gen_next(&w->values, c->value_size);
    w->bytes += KEY_SIZE + c->value_size;
    return c->eng->put(c->db, c->sync, w->key, KEY_SIZE, v, c->value_size, &w->err);
}

static int op_fillseq(worker *w, uint64_t i)
{
    return put_key(w, i);
}

static int op_fillrandom(worker *w, uint64_t i)
{
    (void)i;
    return put_key(w, random_key(w));
}

static int del_key(worker *w, uint64_t k)
{
    run_ctx *c = w->ctx;
    key_format(w->key, k);
    w->bytes += KEY_SIZE;
    return c->eng->del(c->db, c->sync, w->key, KEY_SIZE, &w->err);
}

static int op_deleteseq(worker *w, uint64_t i)
{
    return del_key(w, i);
}

static int op_deleterandom(worker *w, uint64_t i)
{
    (void)i;
    return del_key(w, random_key(w));
}

static int batch_setup(worker *w)
{
    w->batch = w->ctx->eng->batch_new();
    if (!w->batch)
        bench_set_err(&w->err, "%s: cannot make a write batch", w->ctx->eng->name);
    return w->batch ? BENCH_OK : BENCH_ERROR;
}

static int batch_teardown(worker *w)
{
    if (w->batch)
        w->ctx->eng->batch_free(w->batch);
    w->batch = NULL;
    return BENCH_OK;
}

/* Entry i goes into the batch; every FILLBATCH_SIZE entries (and the last)
 * the batch is written. */
static int op_fillbatch(worker *w, uint64_t i)
{
    run_ctx *c = w->ctx;
    key_format(w->key, i);
    c->eng->batch_put(w->batch, w->key, KEY_SIZE, value_gen_next(&w->values, c->value_size),
                      c->value_size);
    w->bytes += KEY_SIZE + c->value_size;
    if ((i + 1) % FILLBATCH_SIZE != 0 && i + 1 != c->ops)
        return BENCH_OK;
    int st = c->eng->write(c->db, c->sync, w->batch, &w->err);
    c->eng->batch_clear(w->batch);
    return st;
}

/* ---- point reads ----------------------------------------------------------- */

static int get_key(worker *w, size_t klen)
{
    run_ctx *c = w->ctx;
    char *v;
    size_t vlen;
    int st = c->eng->get(c->db, w->key, klen, &v, &vlen, &w->err);
    if (st == BENCH_NOT_FOUND)
        return BENCH_OK;
    if (st != BENCH_OK)
        return st;
    w->found++;
    w->bytes += klen + vlen;
    c->eng->free_value(v);
    return BENCH_OK;
}

static int op_readrandom(worker *w, uint64_t i)
{
    (void)i;
    key_format(w->key, random_key(w));
    return get_key(w, KEY_SIZE);
}

/* A key that cannot exist: an existing one's 16 digits and a suffix. */
static int op_readmissing(worker *w, uint64_t i)
{
    (void)i;
    key_format(w->key, random_key(w));
    w->key[KEY_SIZE] = '.';
    return get_key(w, KEY_SIZE + 1);
}

/* Random reads over the first 1% of the keys. */
static int op_readhot(worker *w, uint64_t i)
{
    (void)i;
    uint64_t hot = (w->ctx->cfg->num + 99) / 100;
    key_format(w->key, rng_below(&w->rng, hot));
    return get_key(w, KEY_SIZE);
}

/* ---- iterators -------------------------------------------------------------- */

/* Counts the entry the iterator is on. */
static void take_entry(worker *w, bench_iter *it)
{
    const bench_engine *e = w->ctx->eng;
    size_t klen, vlen;
    e->iter_key(it, &klen);
    e->iter_value(it, &vlen);
    w->bytes += klen + vlen;
}

/* A new iterator per seek, as LevelDB's and RocksDB's db_bench do; found
 * when the seek lands on the key itself. */
static int op_seekrandom(worker *w, uint64_t i)
{
    (void)i;
    const bench_engine *e = w->ctx->eng;
    bench_iter *it = e->iter_new(w->ctx->db, &w->err);
    if (!it)
        return BENCH_ERROR;
    key_format(w->key, random_key(w));
    e->iter_seek(it, w->key, KEY_SIZE);
    if (e->iter_valid(it)) {
        size_t klen;
        const char *k = e->iter_key(it, &klen);
        if (klen == KEY_SIZE && !memcmp(k, w->key, KEY_SIZE))
            w->found++;
    }
    for (int n = 0; n < SEEK_NEXTS && e->iter_valid(it); n++) {
        take_entry(w, it);
        e->iter_next(it);
    }
    int st = e->iter_status(it, &w->err);
    e->iter_free(it);
    return st;
}

static int scan_setup(worker *w, int forward)
{
    const bench_engine *e = w->ctx->eng;
    w->iter = e->iter_new(w->ctx->db, &w->err);
    if (!w->iter)
        return BENCH_ERROR;
    if (forward)
        e->iter_seek_first(w->iter);
    else
        e->iter_seek_last(w->iter);
    return BENCH_OK;
}

static int readseq_setup(worker *w)
{
    return scan_setup(w, 1);
}

static int readreverse_setup(worker *w)
{
    return scan_setup(w, 0);
}

static int scan_teardown(worker *w)
{
    if (!w->iter)
        return BENCH_OK;
    int st = w->ctx->eng->iter_status(w->iter, &w->err);
    w->ctx->eng->iter_free(w->iter);
    w->iter = NULL;
    return st;
}

/* One entry of the scan; OP_STOP at the end of the database. */
static int scan_step(worker *w, int forward)
{
    const bench_engine *e = w->ctx->eng;
    if (!e->iter_valid(w->iter))
        return OP_STOP;
    take_entry(w, w->iter);
    w->found++;
    if (forward)
        e->iter_next(w->iter);
    else
        e->iter_prev(w->iter);
    return BENCH_OK;
}

static int op_readseq(worker *w, uint64_t i)
{
    (void)i;
    return scan_step(w, 1);
}

static int op_readreverse(worker *w, uint64_t i)
{
    (void)i;
    return scan_step(w, 0);
}

/* ---- once: compact, waitforcompaction, stats --------------------------------------------------- */

static int once_compact(run_ctx *ctx, run_result *r)
{
    uint64_t t = now_ns();
    int st = ctx->eng->compact(ctx->db, &r->err);
    r->thread_seconds = r->wall_seconds = (double)(now_ns() - t) / 1e9;
    r->ops = 1;
    return st;
}

static int once_waitforcompaction(run_ctx *ctx, run_result *r)
{
    uint64_t t = now_ns();
    int st = ctx->eng->wait_for_compaction(ctx->db, &r->err);
    r->thread_seconds = r->wall_seconds = (double)(now_ns() - t) / 1e9;
    r->ops = 1;
    return st;
}

static int once_stats(run_ctx *ctx, run_result *r)
{
    char *s = ctx->eng->stats(ctx->db);
    printf("%-12s : %s stats follow\n%s%s", "stats", ctx->eng->name, s ? s : "(none)\n",
           s && *s && s[strlen(s) - 1] != '\n' ? "\n" : "");
    if (s)
        ctx->eng->free_value(s);
    r->ops = 0;
    return BENCH_OK;
}

/* ---- the table ---------------------------------------------------------------- */

#define WRITE(name, fresh, ops, op) {name, fresh, 1, 0, ops, NULL, 0, NULL, op, NULL, NULL, NULL}
#define READ(name, ops, op) {name, 0, 0, 1, ops, NULL, 0, NULL, op, NULL, NULL, NULL}

static const workload workloads[] = {
    WRITE("fillseq", 1, ops_num, op_fillseq),
    WRITE("fillrandom", 1, ops_num, op_fillrandom),
    WRITE("overwrite", 0, ops_num, op_fillrandom),
    {"fillsync", 1, 1, 0, ops_thousandth, NULL, 1, NULL, op_fillrandom, NULL, NULL, NULL},
    {"fill100K", 1, 1, 0, ops_thousandth, big_value, 0, NULL, op_fillrandom, NULL, NULL, NULL},
    {"fillbatch", 1, 1, 0, ops_num, NULL, 0, batch_setup, op_fillbatch, batch_teardown, NULL,
     NULL},
    READ("readrandom", ops_reads, op_readrandom),
    READ("readmissing", ops_reads, op_readmissing),
    READ("readhot", ops_reads, op_readhot),
    READ("seekrandom", ops_reads, op_seekrandom),
    {"readseq", 0, 0, 1, ops_reads, NULL, 0, readseq_setup, op_readseq, scan_teardown, NULL, NULL},
    {"readreverse", 0, 0, 1, ops_reads, NULL, 0, readreverse_setup, op_readreverse,
     scan_teardown, NULL, NULL},
    WRITE("deleteseq", 0, ops_num, op_deleteseq),
    WRITE("deleterandom", 0, ops_num, op_deleterandom),
    {"readwhilewriting", 0, 0, 1, ops_reads, NULL, 0, NULL, op_readrandom, NULL, op_fillrandom,
     NULL},
    {"compact", 0, 1, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, once_compact},
    {"waitforcompaction", 0, 1, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL,
     once_waitforcompaction},
    {"stats", 0, 0, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, once_stats},
};

const workload *workload_find(const char *name)
{
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        if (!strcmp(workloads[i].name, name))
            return &workloads[i];
    return NULL;
}

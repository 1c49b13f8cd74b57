/*
 * crash_test.c: the crash-test driver (`make crash-test CYCLES=N`), in the
 * manner of RocksDB's db_crashtest.py and db_stress with an expected state.
 *
 * What it checks: a process crash (SIGKILL, at any instruction) loses no
 * acknowledged write, with sync on or off; a write batch is applied whole or
 * not at all; recovery never invents data (no key that was never written,
 * no value of a version never written, no deleted key back); and gets,
 * forward iteration and backward iteration all agree on what recovered.
 *
 * How: each cycle forks a child that opens the database with tiny buffers
 * and tables (flushes and compactions run all the time) and writes random
 * puts, deletes and batches over a bounded key space from several threads,
 * plus a compact_range now and then.  Before each write it records the
 * write as pending in the shared expected-state file (expected_state.h);
 * after the write returns it commits it.  The parent kills the child with
 * SIGKILL after a random delay (sometimes during its open, while it
 * recovers), reopens the database and reads the whole key space three
 * ways: a get of every key, a full forward and a full backward iteration.
 * Every key must hold its expected version; the keys of an in-flight
 * operation must all hold their old versions or all their new ones.  The
 * parent records which, and the next cycle continues on the same
 * directory.  One cycle in four the parent verifies a copy of the
 * directory instead, so that the next child itself recovers from the crash
 * (and may be killed while it does): the copy's answer then binds it.
 * While it runs, the child also reads its own keys back (read-your-writes)
 * and exits on a mismatch, which the parent reports.
 *
 * Reproducing: the seed is printed and fixes every random choice of the
 * parent and the child's operations; when the kill lands depends on timing,
 * so a rerun explores the same neighbourhood, not the same instant.
 *
 * Exit status: 0 when every cycle verified, 1 on any failure (each printed
 * with the key, the expected and the found version), 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "strata.h"
#include "tests/crash/expected_state.h"
#include "tests/testutil.h"

#define VER_BAD UINT64_MAX /* a value that is no key_value() of its key */

/* ---- settings ------------------------------------------------------------------------------ */

struct config {
    int cycles;
    int sync_mode; /* 0, 1, or 2 = alternate */
    uint64_t seed;
    uint32_t nkeys;
    int threads;
    unsigned max_delay_ms; /* a kill comes 0..max_delay_ms after the child opened */
    const char *dir;       /* NULL: a new directory under /tmp, removed on success */
    int inject_lost_write; /* self-test: the child acknowledges puts it never made */
    int verbose;
};

static void usage(void)
{
    fprintf(stderr,
            "usage: crash_test [--cycles=N] [--sync=0|1|both] [--seed=S] [--keys=N]\n"
            "                  [--threads=N] [--max-delay-ms=MS] [--dir=PATH]\n"
            "                  [--inject=lost-write] [--verbose]\n");
    exit(2);
}

static int flag(const char *arg, const char *name, const char **val)
{
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0 || arg[n] != '=')
        return 0;
    *val = arg + n + 1;
    return 1;
}

static void parse_args(int argc, char **argv, struct config *c)
{
    *c = (struct config){ .cycles = 20, .sync_mode = 2, .nkeys = 10000, .threads = 2, .max_delay_ms = 400 };
    c->seed = tu_clock_seed();
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (flag(argv[i], "--cycles", &v))
            c->cycles = atoi(v);
        else if (flag(argv[i], "--sync", &v))
            c->sync_mode = !strcmp(v, "both") ? 2 : atoi(v) != 0;
        else if (flag(argv[i], "--seed", &v))
            c->seed = strtoull(v, NULL, 0);
        else if (flag(argv[i], "--keys", &v))
            c->nkeys = (uint32_t)strtoul(v, NULL, 0);
        else if (flag(argv[i], "--threads", &v))
            c->threads = atoi(v);
        else if (flag(argv[i], "--max-delay-ms", &v))
            c->max_delay_ms = (unsigned)atoi(v);
        else if (flag(argv[i], "--dir", &v))
            c->dir = v;
        else if (flag(argv[i], "--inject", &v) && !strcmp(v, "lost-write"))
            c->inject_lost_write = 1;
        else if (!strcmp(argv[i], "--verbose"))
            c->verbose = 1;
        else
            usage();
    }
    if (c->cycles < 1 || c->threads < 1 || c->threads > EXP_MAX_THREADS || c->nkeys < 100 ||
        c->nkeys > 10000000)
        usage();
}

/* Tiny buffers and tables: a flush every few hundred writes, and a tree of
 * three or four levels over ~1.5 MiB of live data, so that most kills land
 * near a flush or a compaction. */
static strata_options *db_options(void)
{
    strata_options *o = strata_options_new();
    strata_options_set_write_buffer_size(o, 64 << 10);
    strata_options_set_target_file_size(o, 32 << 10);
    strata_options_set_max_bytes_for_level_base(o, 128 << 10);
    strata_options_set_max_bytes_for_level_multiplier(o, 4);
    strata_options_set_block_size(o, 1024);
    strata_options_set_block_cache_size(o, 256 << 10);
    return o;
}

static uint64_t mix64(uint64_t z)
{
    struct tu_rng r;
    tu_rng_seed(&r, z);
    return tu_rng_next(&r);
}

/* ---- the child: writers ------------------------------------------------------------------------ */

struct writer {
    const struct config *cfg;
    struct expected_state *es;
    strata_db *db;
    const strata_write_options *wo;
    int id;
    struct tu_rng rng;
};

static void child_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void child_die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "crash child: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fflush(stderr);
    _exit(code);
}

/* A key this writer owns (k % threads == id): no other thread touches it,
 * so its version in the expected state changes only here.  A third of the
 * picks come from a hot 5% of the keys, for many versions of one key
 * across the levels. */
static uint32_t pick_key(struct writer *w)
{
    uint32_t t = (uint32_t)w->cfg->threads, owned = w->cfg->nkeys / t;
    uint32_t range = tu_rng_chance(&w->rng, 1, 3) ? owned / 20 + 1 : owned;
    return (uint32_t)tu_rng_uniform(&w->rng, range) * t + (uint32_t)w->id;
}

/* Add key k going to version v (0: delete) to the pending record: a key met
 * twice in one batch keeps its first old version and its last new one. */
static void pend_add(struct exp_pending *p, const uint64_t *ver, uint32_t k, uint64_t v)
{
    for (uint32_t i = 0; i < p->n; i++)
        if (p->key[i] == k) {
            p->new_ver[i] = v;
            return;
        }
    p->key[p->n] = k;
    p->old_ver[p->n] = ver[k];
    p->new_ver[p->n] = v;
    p->n++;
}

/* The write is acknowledged: the expected state takes its versions, and
 * only then does the pending record go (a kill in between leaves the
 * record, which the parent resolves as it would any other). */
static void commit(struct writer *w, struct exp_pending *p)
{
    for (uint32_t i = 0; i < p->n; i++)
        w->es->ver[p->key[i]] = p->new_ver[i];
    atomic_fetch_add(&w->es->h->thread[w->id].acked, 1);
    atomic_store(&p->active, 0);
}

static int do_put(struct writer *w, struct exp_pending *p)
{
    char k[EXP_KEY_LEN], v[EXP_MAX_VALUE];
    uint32_t key = pick_key(w);
    uint64_t ver = atomic_fetch_add(&w->es->h->next_version, 1);
    p->kind = EXP_PUT;
    p->n = 0;
    pend_add(p, w->es->ver, key, ver);
    atomic_store(&p->active, 1);
    key_name(k, key);
    size_t vl = key_value(v, key, ver);
    /* The self-test: now and then acknowledge a put that never happens. */
    if (w->cfg->inject_lost_write && tu_rng_chance(&w->rng, 1, 500))
        return STRATA_OK;
    return strata_put(w->db, w->wo, k, EXP_KEY_LEN, v, vl);
}

static int do_delete(struct writer *w, struct exp_pending *p)
{
    char k[EXP_KEY_LEN];
    uint32_t key = pick_key(w);
    p->kind = EXP_DELETE;
    p->n = 0;
    pend_add(p, w->es->ver, key, 0);
    atomic_store(&p->active, 1);
    key_name(k, key);
    return strata_delete(w->db, w->wo, k, EXP_KEY_LEN);
}

/* A batch of 2 to 10 updates, three in four puts; now and then a key twice
 * (the later update wins). */
static int do_batch(struct writer *w, struct exp_pending *p, strata_batch *b)
{
    char k[EXP_KEY_LEN], v[EXP_MAX_VALUE];
    int n = 2 + (int)tu_rng_uniform(&w->rng, 9);
    uint32_t last = 0;
    p->kind = EXP_BATCH;
    p->n = 0;
    strata_batch_clear(b);
    for (int i = 0; i < n; i++) {
        uint32_t key = i > 0 && tu_rng_chance(&w->rng, 1, 10) ? last : pick_key(w);
        key_name(k, key);
        if (tu_rng_chance(&w->rng, 3, 4)) {
            uint64_t ver = atomic_fetch_add(&w->es->h->next_version, 1);
            size_t vl = key_value(v, key, ver);
            strata_batch_put(b, k, EXP_KEY_LEN, v, vl);
            pend_add(p, w->es->ver, key, ver);
        } else {
            strata_batch_delete(b, k, EXP_KEY_LEN);
            pend_add(p, w->es->ver, key, 0);
        }
        last = key;
    }
    atomic_store(&p->active, 1);
    return strata_write(w->db, w->wo, b);
}

/* Read one owned key back: it must hold exactly its expected version. */
static void check_read(struct writer *w)
{
    char k[EXP_KEY_LEN];
    uint32_t key = pick_key(w);
    uint64_t want = w->es->ver[key], got = 0;
    void *v;
    size_t vl;
    key_name(k, key);
    int rc = strata_get(w->db, NULL, k, EXP_KEY_LEN, &v, &vl);
    if (rc == STRATA_OK) {
        if (!value_check(v, vl, key, &got))
            got = VER_BAD;
        strata_free(v);
    } else if (rc != STRATA_NOT_FOUND) {
        child_die(2, "get key%07" PRIu32 ": %s: %s", key, strata_strerror(rc), strata_last_error());
    }
    if (got != want)
        child_die(3, "read-your-writes: key%07" PRIu32 " expected version %" PRIu64 ", found %" PRIu64, key,
                  want, got);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct exp_pending *p = &w->es->h->thread[w->id].pend;
    strata_batch *b = strata_batch_new();
    for (;;) {
        uint64_t r = tu_rng_uniform(&w->rng, 100);
        int rc;
        if (r < 5) {
            check_read(w);
            continue;
        }
        rc = r < 45 ? do_put(w, p) : r < 60 ? do_delete(w, p) : do_batch(w, p, b);
        if (rc != STRATA_OK)
            child_die(2, "write (kind %u): %s: %s", p->kind, strata_strerror(rc), strata_last_error());
        commit(w, p);
    }
    return NULL;
}

/* ---- the child: its main thread ------------------------------------------------------------------ */

/* The number after label in strata.stats, or 0. */
static uint64_t stat_counter(const char *stats, const char *label)
{
    const char *s = stats ? strstr(stats, label) : NULL;
    return s ? strtoull(s + strlen(label), NULL, 10) : 0;
}

static void publish_stats(strata_db *db, struct exp_header *h)
{
    char *s = strata_property(db, "strata.stats");
    atomic_store(&h->flushes, stat_counter(s, "tables written"));
    atomic_store(&h->compactions, stat_counter(s, "compaction:\n  compactions"));
    strata_free(s);
}

/* A manual compaction of a random key range (an open bound one time in
 * four), concurrent with the writers. */
static void random_compaction(strata_db *db, struct tu_rng *r, uint32_t nkeys)
{
    char a[EXP_KEY_LEN], b[EXP_KEY_LEN];
    uint32_t x = (uint32_t)tu_rng_uniform(r, nkeys), y = (uint32_t)tu_rng_uniform(r, nkeys);
    key_name(a, x < y ? x : y);
    key_name(b, x < y ? y : x);
    int open_start = tu_rng_chance(r, 1, 4), open_end = tu_rng_chance(r, 1, 4);
    int rc = strata_compact_range(db, open_start ? NULL : a, open_start ? 0 : EXP_KEY_LEN,
                                  open_end ? NULL : b, open_end ? 0 : EXP_KEY_LEN);
    if (rc != STRATA_OK)
        child_die(2, "compact_range: %s: %s", strata_strerror(rc), strata_last_error());
}

static void child_main(const struct config *cfg, struct expected_state *es, const char *dbdir, int sync,
                       uint64_t seed)
{
    strata_options *o = db_options();
    strata_db *db;
    int rc = strata_open(dbdir, o, &db);
    if (rc != STRATA_OK)
        child_die(2, "open %s: %s: %s", dbdir, strata_strerror(rc), strata_last_error());
    strata_write_options *wo = strata_write_options_new();
    strata_write_options_set_sync(wo, sync);
    atomic_store(&es->h->ready, 1);
    struct writer w[EXP_MAX_THREADS];
    pthread_t tid[EXP_MAX_THREADS];
    for (int i = 0; i < cfg->threads; i++) {
        w[i] = (struct writer){ .cfg = cfg, .es = es, .db = db, .wo = wo, .id = i };
        tu_rng_seed(&w[i].rng, mix64(seed + (uint64_t)i + 1));
        if (pthread_create(&tid[i], NULL, writer_main, &w[i]) != 0)
            child_die(4, "pthread_create failed");
    }
    struct tu_rng r;
    tu_rng_seed(&r, mix64(seed));
    for (;;) {
        tu_sleep_ms(20);
        publish_stats(db, es->h);
        if (tu_rng_chance(&r, 1, 25))
            random_compaction(db, &r, cfg->nkeys);
    }
}

/* ---- the parent: failures and figures ------------------------------------------------------------- */

struct totals {
    int cycles[2];           /* by sync mode */
    uint64_t acked[2];       /* operations acknowledged, by sync mode */
    uint64_t pend_applied, pend_dropped, pend_either; /* in-flight operations at the kill */
    int early_kills;         /* killed before the child's open returned */
    int copy_verifies;       /* verified on a copy; the next child recovered */
    uint64_t flushes, compactions;
    uint64_t max_file;
    uint64_t failures;
};

static struct totals tot;
static int cur_cycle, cur_sync;
static uint64_t run_seed;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    if (tot.failures++ >= 40) {
        if (tot.failures == 41)
            fprintf(stderr, "FAIL ... (further failures not printed)\n");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL seed %" PRIu64 " cycle %d (sync=%d): ", run_seed, cur_cycle, cur_sync);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
}

static void describe(char *out, size_t n, uint64_t ver)
{
    if (ver == 0)
        snprintf(out, n, "absent");
    else if (ver == VER_BAD)
        snprintf(out, n, "a corrupt value");
    else
        snprintf(out, n, "version %" PRIu64, ver);
}

/* ---- the parent: reading the database back ----------------------------------------------------------- */

/* The version key k holds, from its value: 0 when absent, VER_BAD when the
 * value is no value of k (printed). */
static uint64_t version_of(const void *val, size_t vlen, uint32_t k, const char *how)
{
    uint64_t claimed;
    if (value_check(val, vlen, k, &claimed))
        return claimed;
    fail("%s: key%07" PRIu32 " has a %zu-byte value that is no value of it: '%.40s' (claims version %" PRIu64
         ")",
         how, k, vlen, (const char *)val, claimed);
    return VER_BAD;
}

static void read_by_gets(strata_db *db, uint32_t nkeys, uint64_t *found)
{
    char k[EXP_KEY_LEN];
    for (uint32_t i = 0; i < nkeys; i++) {
        void *v;
        size_t vl;
        key_name(k, i);
        int rc = strata_get(db, NULL, k, EXP_KEY_LEN, &v, &vl);
        found[i] = 0;
        if (rc == STRATA_OK) {
            found[i] = version_of(v, vl, i, "get");
            strata_free(v);
        } else if (rc != STRATA_NOT_FOUND) {
            fail("get key%07" PRIu32 ": %s: %s", i, strata_strerror(rc), strata_last_error());
            found[i] = VER_BAD;
        }
    }
}

/* The whole database by iterator, forwards (dir 1) or backwards (-1):
 * keys strictly in order, only keys of ours, each once. */
static void read_by_iter(strata_db *db, uint32_t nkeys, uint64_t *found, int dir)
{
    const char *how = dir > 0 ? "forward iteration" : "backward iteration";
    memset(found, 0, nkeys * sizeof *found);
    strata_iter *it = strata_iter_new(db, NULL);
    int64_t prev = -1;
    if (dir > 0)
        strata_iter_seek_first(it);
    else
        strata_iter_seek_last(it);
    for (; strata_iter_valid(it); dir > 0 ? strata_iter_next(it) : strata_iter_prev(it)) {
        size_t kl, vl;
        const void *key = strata_iter_key(it, &kl), *val = strata_iter_value(it, &vl);
        int64_t k = key_index(key, kl, nkeys);
        if (k < 0) {
            fail("%s: a key that was never written: '%.*s'", how, (int)(kl < 40 ? kl : 40), (const char *)key);
            continue;
        }
        if (prev >= 0 && (dir > 0 ? k <= prev : k >= prev))
            fail("%s: key%07" PRId64 " after key%07" PRId64 ": out of order or repeated", how, k, prev);
        prev = k;
        found[k] = version_of(val, vl, (uint32_t)k, how);
    }
    if (strata_iter_status(it) != STRATA_OK)
        fail("%s stopped: %s: %s", how, strata_strerror(strata_iter_status(it)), strata_last_error());
    strata_iter_free(it);
}

/* ---- the parent: judging --------------------------------------------------------------------------- */

/* What recovery made of one writer's in-flight operation, judged from the
 * gets: every key at its new version (applied), every key at its old one
 * (not applied), or a mix (a half-applied batch: a failure).  The expected
 * state then takes the outcome, which every later cycle must confirm. */
static void resolve_pending(struct expected_state *es, int t, const uint64_t *found)
{
    struct exp_pending *p = &es->h->thread[t].pend;
    if (!atomic_load(&p->active))
        return;
    int applied = -1, bad = 0; /* unknown until a key tells */
    uint32_t first = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        uint64_t f = found[p->key[i]], o = p->old_ver[i], n = p->new_ver[i];
        char fs[48], os[48], ns[48];
        int says = f == n && f != o ? 1 : f == o && f != n ? 0 : -1;
        if (f != o && f != n) {
            describe(fs, sizeof fs, f), describe(os, sizeof os, o), describe(ns, sizeof ns, n);
            fail("key%07" PRIu32 " of an in-flight %s (writer %d): expected %s (before) or %s (after), found %s",
                 p->key[i], p->kind == EXP_BATCH ? "batch" : p->kind == EXP_PUT ? "put" : "delete", t, os, ns,
                 fs);
            bad = 1;
        }
        if (says < 0)
            continue;
        if (applied < 0) {
            applied = says;
            first = i;
        } else if (says != applied) {
            fail("batch of writer %d half applied: key%07" PRIu32 " %s, key%07" PRIu32 " %s", t, p->key[first],
                 applied ? "has its new version" : "has its old version", p->key[i],
                 says ? "its new one" : "its old one");
            bad = 1;
        }
    }
    /* Once reported, a damaged operation's keys take what was found, so
     * that one fault is not reported again as lost writes. */
    for (uint32_t i = 0; i < p->n; i++)
        es->ver[p->key[i]] = bad ? found[p->key[i]] : applied == 1 ? p->new_ver[i] : p->old_ver[i];
    if (applied == 1)
        tot.pend_applied++;
    else if (applied == 0)
        tot.pend_dropped++;
    else
        tot.pend_either++;
    atomic_store(&p->active, 0);
}

static void compare(const struct expected_state *es, const uint64_t *found, const char *how)
{
    for (uint32_t k = 0; k < es->h->nkeys; k++) {
        if (found[k] == es->ver[k] || found[k] == VER_BAD) /* a bad value is reported already */
            continue;
        char want[48], got[48];
        describe(want, sizeof want, es->ver[k]);
        describe(got, sizeof got, found[k]);
        fail("%s: key%07" PRIu32 ": expected %s, found %s%s", how, k, want, got,
             es->ver[k] && !found[k] ? " (an acknowledged write is lost)"
             : found[k] > es->ver[k] && es->ver[k] ? " (a newer version that was never acknowledged)"
             : !es->ver[k] ? " (a deleted or never-written key is back)"
                           : "");
    }
}

/* Open dbdir, read it three ways, settle the in-flight operations, and
 * check every key.  The expected state is updated with the outcomes. */
static void verify(const struct config *cfg, struct expected_state *es, const char *dbdir)
{
    strata_options *o = db_options();
    strata_db *db;
    int rc = strata_open(dbdir, o, &db);
    strata_options_free(o);
    if (rc != STRATA_OK) {
        fail("reopen after the crash: %s: %s", strata_strerror(rc), strata_last_error());
        return;
    }
    uint64_t *found = malloc(cfg->nkeys * sizeof *found);
    read_by_gets(db, cfg->nkeys, found);
    for (int t = 0; t < cfg->threads; t++)
        resolve_pending(es, t, found);
    compare(es, found, "get");
    read_by_iter(db, cfg->nkeys, found, 1);
    compare(es, found, "forward iteration");
    read_by_iter(db, cfg->nkeys, found, -1);
    compare(es, found, "backward iteration");
    free(found);
    rc = strata_close(db);
    if (rc != STRATA_OK)
        fail("close: %s: %s", strata_strerror(rc), strata_last_error());
}

/* ---- the parent: one cycle ----------------------------------------------------------------------- */

static uint64_t max_file_number(const char *dbdir)
{
    static const char *const suffixes[] = { ".sst", ".log" };
    uint64_t m = 0;
    for (size_t i = 0; i < 2; i++) {
        size_t n;
        uint64_t *nums = tu_numbered_files(dbdir, suffixes[i], &n);
        if (n && nums[n - 1] > m)
            m = nums[n - 1];
        free(nums);
    }
    return m;
}

/* Wait for the child to open the database (or to end by itself: a
 * failure).  Returns 1 when it is ready, 0 when it died. */
static int wait_ready(struct expected_state *es, pid_t pid, int *status)
{
    uint64_t deadline = tu_now_ms() + 120000;
    while (!atomic_load(&es->h->ready)) {
        if (waitpid(pid, status, WNOHANG) == pid)
            return 0;
        if (tu_now_ms() > deadline) {
            fail("the child did not open the database within 120 s");
            return 1;
        }
        tu_sleep_ms(1);
    }
    return 1;
}

/* Fork the child, kill it at a random moment, and add up what it did. */
static void run_child(const struct config *cfg, struct expected_state *es, const char *dbdir, int sync,
                      uint64_t seed, struct tu_rng *r, int early)
{
    for (int t = 0; t < cfg->threads; t++)
        atomic_store(&es->h->thread[t].acked, 0);
    atomic_store(&es->h->ready, 0);
    atomic_store(&es->h->flushes, 0);
    atomic_store(&es->h->compactions, 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0)
        child_main(cfg, es, dbdir, sync, seed);
    int status = 0, exited = 0;
    if (early) {
        /* Somewhere in its open: while it recovers from the last crash. */
        struct timespec ts = { 0, (long)tu_rng_uniform(r, 20000) * 1000 };
        nanosleep(&ts, NULL);
        if (!atomic_load(&es->h->ready))
            tot.early_kills++;
    } else {
        exited = !wait_ready(es, pid, &status);
        /* One cycle in ten runs long enough for the tree to grow deeper. */
        unsigned max = tu_rng_chance(r, 1, 10) ? cfg->max_delay_ms * 5 : cfg->max_delay_ms;
        if (!exited)
            tu_sleep_ms((unsigned)tu_rng_uniform(r, max + 1));
    }
    if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail("the child ended by itself (status %#x) instead of being killed: see its message above", status);
    for (int t = 0; t < cfg->threads; t++)
        tot.acked[sync] += atomic_load(&es->h->thread[t].acked);
    tot.flushes += atomic_load(&es->h->flushes);
    tot.compactions += atomic_load(&es->h->compactions);
}

/* One cycle in four the parent verifies a byte-for-byte copy, leaving the
 * crashed directory for the next child to recover. */
static int run_cycle(const struct config *cfg, struct expected_state *es, const char *dbdir, int cycle,
                     int *prev_copied)
{
    struct tu_rng r;
    uint64_t seed = mix64(run_seed ^ mix64((uint64_t)cycle + 1));
    tu_rng_seed(&r, seed);
    int sync = cfg->sync_mode == 2 ? cycle % 2 == 0 : cfg->sync_mode;
    int early = tu_rng_chance(&r, 1, *prev_copied ? 2 : 10);
    cur_cycle = cycle;
    cur_sync = sync;
    uint64_t before = tot.failures, acked0 = tot.acked[sync];
    run_child(cfg, es, dbdir, sync, seed, &r, early);
    uint64_t m = max_file_number(dbdir);
    tot.max_file = m > tot.max_file ? m : tot.max_file;
    *prev_copied = cycle + 1 < cfg->cycles && tu_rng_chance(&r, 1, 4);
    if (*prev_copied) {
        char *copy = tu_join(dbdir, "../verify-copy");
        tu_rmrf(copy);
        if (tu_copy_dir(dbdir, copy) != 0)
            fail("copying %s to %s failed", dbdir, copy);
        verify(cfg, es, copy);
        tu_rmrf(copy);
        free(copy);
        tot.copy_verifies++;
    } else {
        verify(cfg, es, dbdir);
    }
    tot.cycles[sync]++;
    if (cfg->verbose)
        fprintf(stderr, "cycle %d sync=%d%s%s: %" PRIu64 " acknowledged, highest file %" PRIu64 "\n", cycle,
                sync, early ? " early-kill" : "", *prev_copied ? " copy-verified" : "",
                tot.acked[sync] - acked0, m);
    return tot.failures == before;
}

static void report(double secs)
{
    printf("crash-test: seed %" PRIu64 "\n", run_seed);
    printf("  cycles          %d (sync on %d, sync off %d) in %.1f s\n", tot.cycles[0] + tot.cycles[1],
           tot.cycles[1], tot.cycles[0], secs);
    printf("  acknowledged    %" PRIu64 " operations (sync on %" PRIu64 ", sync off %" PRIu64 ")\n",
           tot.acked[0] + tot.acked[1], tot.acked[1], tot.acked[0]);
    printf("  in flight       %" PRIu64 " at the kill: %" PRIu64 " recovered, %" PRIu64 " dropped, %" PRIu64
           " undecidable (no visible change)\n",
           tot.pend_applied + tot.pend_dropped + tot.pend_either, tot.pend_applied, tot.pend_dropped,
           tot.pend_either);
    printf("  kills in open   %d; verified on a copy %d (the next child recovered)\n", tot.early_kills,
           tot.copy_verifies);
    printf("  background      %" PRIu64 " flushes, %" PRIu64 " compactions seen by the children; "
           "highest file number %" PRIu64 "\n",
           tot.flushes, tot.compactions, tot.max_file);
    printf("  failures        %" PRIu64 "\n", tot.failures);
}

int main(int argc, char **argv)
{
    struct config cfg;
    parse_args(argc, argv, &cfg);
    run_seed = cfg.seed;
    char *top = cfg.dir ? strdup(cfg.dir) : tu_mkdtemp("crashtest");
    if (!top || (mkdir(top, 0755) != 0 && errno != EEXIST)) {
        fprintf(stderr, "crash-test: cannot create the work directory\n");
        return 2;
    }
    char *dbdir = tu_join(top, "db"), *state = tu_join(top, "expected-state");
    tu_rmrf(dbdir);
    struct expected_state es;
    if (exp_create(&es, state, cfg.nkeys) != 0) {
        fprintf(stderr, "crash-test: %s: %s\n", state, strerror(errno));
        return 2;
    }
    printf("crash-test: seed %" PRIu64 " (rerun with SEED=%" PRIu64 "), %d cycles, sync=%s, %u keys, %d writers, "
           "in %s\n",
           run_seed, run_seed, cfg.cycles, cfg.sync_mode == 2 ? "both" : cfg.sync_mode ? "1" : "0", cfg.nkeys,
           cfg.threads, top);
    fflush(stdout);
    uint64_t t0 = tu_now_ms();
    int prev_copied = 0;
    for (int c = 0; c < cfg.cycles; c++)
        if (!run_cycle(&cfg, &es, dbdir, c, &prev_copied))
            break; /* the expected state is no longer trustworthy */
    /* A last clean open: the same again, with nothing in flight. */
    if (tot.failures == 0) {
        cur_cycle = cfg.cycles;
        verify(&cfg, &es, dbdir);
    }
    report((double)(tu_now_ms() - t0) / 1000.0);
    exp_close(&es);
    if (tot.failures == 0 && !cfg.dir)
        tu_rmrf(top);
    else if (tot.failures)
        printf("crash-test: FAILED; the database and expected state are kept in %s\n", top);
    free(dbdir);
    free(state);
    free(top);
    return tot.failures ? 1 : 0;
}

/*
 * test_concurrency.c: one database shared by threads, and write errors.
 *
 * - Four writer threads, each on its own key range, puts and small batches
 *   with sync on and off mixed, while two readers do gets, snapshot gets and
 *   bounded iterations.  Every writer publishes how many of its writes have
 *   returned; a reader that sees n must find the writer's first n keys
 *   (a returned write is visible to every thread), and an iterator over a
 *   writer's range must show a gapless prefix of its keys (writes become
 *   visible in order, batches whole).  At the end everything is there and
 *   the statistics count every write.
 * - An injected I/O error on the WAL write (or on its sync) fails that
 *   write with STRATA_IO_ERROR; later writes fail too (the sticky error
 *   names the WAL), reads keep working, and after a reopen every
 *   acknowledged write is there.  Also with concurrent writers.
 * Deterministic apart from thread scheduling; must pass under TSan.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/db_impl.h"
#include "src/env.h"
#include "strata.h"
#include "tests/testutil.h"

static char *dir;
static char *dbpath;

static void setup(void)
{
    dir = tu_mkdtemp("conc");
    cr_assert_not_null(dir);
    dbpath = tu_join(dir, "db");
}

static void teardown(void)
{
    if (dir)
        tu_rmrf(dir);
    free(dir);
    free(dbpath);
}

TestSuite(concurrency, .init = setup, .fini = teardown);

static strata_db *open_db(void)
{
    strata_db *db = NULL;
    int rc = strata_open(dbpath, NULL, &db);
    cr_assert_eq(rc, STRATA_OK, "open: %s", strata_last_error());
    return db;
}

enum { WRITERS = 4, READERS = 2, PER_WRITER = 1200, SYNC_EVERY = 8, BATCH_EVERY = 10, BATCH_N = 3 };

static size_t wkey(char *buf, int w, uint64_t i)
{
    return (size_t)snprintf(buf, 32, "w%d-%08llu", w, (unsigned long long)i);
}

static size_t wval(char *buf, int w, uint64_t i)
{
    size_t len = 8 + (size_t)(i % 40);
    tu_value(buf, len, i, (uint64_t)w + 1);
    return len;
}

struct shared {
    strata_db *db;
    atomic_uint_fast64_t progress[WRITERS]; /* keys of writer w below this are written */
    atomic_int writers_done;
    atomic_int failures;
    char failure[512];
    pthread_mutex_t failure_mu;
    uint64_t writes[WRITERS];  /* strata_put / strata_write calls */
    uint64_t updates[WRITERS]; /* puts inside them */
    uint64_t synced[WRITERS];
    uint64_t reader_gets[READERS], reader_iters[READERS];
};

static void fail(struct shared *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct shared *s, const char *fmt, ...)
{
    pthread_mutex_lock(&s->failure_mu);
    if (atomic_fetch_add(&s->failures, 1) == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->failure, sizeof s->failure, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&s->failure_mu);
}

struct writer_arg {
    struct shared *s;
    int w;
};

static void *writer_main(void *p)
{
    struct writer_arg *a = p;
    struct shared *s = a->s;
    strata_write_options *wo = strata_write_options_new();
    strata_batch *b = strata_batch_new();
    char k[32], v[64];
    uint64_t i = 0;
    while (i < PER_WRITER && atomic_load(&s->failures) == 0) {
        int sync = (i / BATCH_N) % SYNC_EVERY == (uint64_t)a->w % SYNC_EVERY;
        strata_write_options_set_sync(wo, sync);
        int rc;
        uint64_t n;
        if ((i / BATCH_N) % BATCH_EVERY == 1 && i + BATCH_N <= PER_WRITER) {
            /* A batch of the next BATCH_N keys: visible all at once. */
            strata_batch_clear(b);
            for (uint64_t j = i; j < i + BATCH_N; j++)
                strata_batch_put(b, k, wkey(k, a->w, j), v, wval(v, a->w, j));
            rc = strata_write(s->db, wo, b);
            n = BATCH_N;
        } else {
            rc = strata_put(s->db, wo, k, wkey(k, a->w, i), v, wval(v, a->w, i));
            n = 1;
        }
        if (rc != STRATA_OK) {
            fail(s, "writer %d, key %llu: %s: %s", a->w, (unsigned long long)i, strata_strerror(rc),
                 strata_last_error());
            break;
        }
        s->writes[a->w]++;
        s->updates[a->w] += n;
        s->synced[a->w] += (uint64_t)sync;
        i += n;
        atomic_store_explicit(&s->progress[a->w], i, memory_order_release);
    }
    atomic_fetch_add(&s->writers_done, 1);
    strata_batch_free(b);
    strata_write_options_free(wo);
    return NULL;
}

static int check_value(const char *k, const void *v, size_t vl, int w, uint64_t i)
{
    char want[64];
    size_t wl = wval(want, w, i);
    (void)k;
    return vl == wl && memcmp(v, want, wl) == 0;
}

struct reader_arg {
    struct shared *s;
    int r;
};

static void *reader_main(void *p)
{
    struct reader_arg *a = p;
    struct shared *s = a->s;
    struct tu_rng rng;
    tu_rng_seed(&rng, 1000 + (uint64_t)a->r);
    char k[32], lo[32], hi[32];
    while (atomic_load(&s->writers_done) < WRITERS && atomic_load(&s->failures) == 0) {
        int w = (int)tu_rng_uniform(&rng, WRITERS);
        uint64_t seen = atomic_load_explicit(&s->progress[w], memory_order_acquire);
        uint64_t op = tu_rng_uniform(&rng, 10);
        if (op < 6) {
            /* A key the writer has finished must be there. */
            if (seen == 0)
                continue;
            uint64_t i = tu_rng_uniform(&rng, seen);
            size_t kl = wkey(k, w, i);
            void *v;
            size_t vl;
            int rc = strata_get(s->db, NULL, k, kl, &v, &vl);
            s->reader_gets[a->r]++;
            if (rc != STRATA_OK) {
                fail(s, "reader %d: get %s after the writer reported %llu done: %s", a->r, k,
                     (unsigned long long)seen, strata_strerror(rc));
                break;
            }
            if (!check_value(k, v, vl, w, i))
                fail(s, "reader %d: %s has a wrong value", a->r, k);
            strata_free(v);
        } else if (op < 7) {
            /* A snapshot: a key beyond it stays invisible through it. */
            const strata_snapshot *snap = strata_snapshot_new(s->db);
            strata_read_options *ro = strata_read_options_new();
            strata_read_options_set_snapshot(ro, snap);
            /* Count the writer's keys visible in the snapshot, twice: the
             * same both times whatever is written meanwhile. */
            uint64_t counts[2];
            for (int t = 0; t < 2; t++) {
                wkey(lo, w, 0);
                wkey(hi, w, PER_WRITER);
                strata_read_options_set_lower_bound(ro, lo, strlen(lo));
                strata_read_options_set_upper_bound(ro, hi, strlen(hi));
                strata_iter *it = strata_iter_new(s->db, ro);
                counts[t] = 0;
                for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it))
                    counts[t]++;
                strata_iter_free(it);
            }
            if (counts[0] != counts[1] || counts[0] < seen)
                fail(s, "reader %d: snapshot of writer %d shows %llu then %llu keys (at least %llu)",
                     a->r, w, (unsigned long long)counts[0], (unsigned long long)counts[1],
                     (unsigned long long)seen);
            strata_read_options_free(ro);
            strata_snapshot_release(s->db, snap);
        } else {
            /* A bounded scan of the writer's range, forward or backward:
             * a gapless prefix 0..m-1 with m >= seen, right values. */
            strata_read_options *ro = strata_read_options_new();
            wkey(lo, w, 0);
            wkey(hi, w, PER_WRITER);
            strata_read_options_set_lower_bound(ro, lo, strlen(lo));
            strata_read_options_set_upper_bound(ro, hi, strlen(hi));
            strata_iter *it = strata_iter_new(s->db, ro);
            strata_read_options_free(ro);
            s->reader_iters[a->r]++;
            int backward = tu_rng_chance(&rng, 1, 2);
            uint64_t n = 0, m = 0;
            if (!backward)
                strata_iter_seek_first(it);
            if (backward) {
                strata_iter_seek_last(it);
                if (strata_iter_valid(it)) {
                    size_t kl;
                    const char *key = strata_iter_key(it, &kl);
                    char digits[16] = { 0 };
                    if (kl == strlen(lo))
                        memcpy(digits, key + kl - 8, 8);
                    m = strtoull(digits, NULL, 10) + 1;
                }
            }
            uint64_t expect = backward ? m : 0;
            for (; strata_iter_valid(it); backward ? strata_iter_prev(it) : strata_iter_next(it)) {
                uint64_t i = backward ? --expect : expect++;
                size_t kl, vl;
                const char *key = strata_iter_key(it, &kl);
                const void *v = strata_iter_value(it, &vl);
                size_t wl = wkey(k, w, i);
                if (kl != wl || memcmp(key, k, kl) != 0) {
                    fail(s, "reader %d: scan of writer %d: '%.*s' where %s was expected (a gap)", a->r,
                         w, (int)kl, key, k);
                    break;
                }
                if (!check_value(k, v, vl, w, i)) {
                    fail(s, "reader %d: scan: %s has a wrong value", a->r, k);
                    break;
                }
                n++;
            }
            if (!backward)
                m = n;
            if (strata_iter_status(it) != STRATA_OK)
                fail(s, "reader %d: scan status %d", a->r, strata_iter_status(it));
            if (n != m || m < seen)
                fail(s, "reader %d: scan of writer %d (%s): %llu keys, last %llu, at least %llu done",
                     a->r, w, backward ? "backward" : "forward", (unsigned long long)n,
                     (unsigned long long)m, (unsigned long long)seen);
            strata_iter_free(it);
        }
    }
    return NULL;
}

static uint64_t stat_u64(const char *stats, const char *label)
{
    const char *p = strstr(stats, label);
    cr_assert_not_null(p, "no \"%s\" in:\n%s", label, stats);
    return strtoull(p + strlen(label), NULL, 10);
}

Test(concurrency, writers_and_readers)
{
    struct shared *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->failure_mu, NULL);
    s->db = open_db();
    pthread_t wt[WRITERS], rt[READERS];
    struct writer_arg wa[WRITERS];
    struct reader_arg ra[READERS];
    uint64_t t0 = tu_now_ms();
    for (int r = 0; r < READERS; r++) {
        ra[r] = (struct reader_arg){ s, r };
        cr_assert_eq(pthread_create(&rt[r], NULL, reader_main, &ra[r]), 0);
    }
    for (int w = 0; w < WRITERS; w++) {
        wa[w] = (struct writer_arg){ s, w };
        cr_assert_eq(pthread_create(&wt[w], NULL, writer_main, &wa[w]), 0);
    }
    for (int w = 0; w < WRITERS; w++)
        pthread_join(wt[w], NULL);
    for (int r = 0; r < READERS; r++)
        pthread_join(rt[r], NULL);
    uint64_t elapsed = tu_now_ms() - t0;
    cr_assert_eq(atomic_load(&s->failures), 0, "%d failures; the first: %s", atomic_load(&s->failures),
                 s->failure);

    uint64_t writes = 0, updates = 0, synced = 0;
    for (int w = 0; w < WRITERS; w++) {
        cr_assert_eq(atomic_load(&s->progress[w]), PER_WRITER);
        writes += s->writes[w];
        updates += s->updates[w];
        synced += s->synced[w];
    }
    /* Everything is there, seen by a fresh iterator and by gets. */
    char k[32];
    for (int w = 0; w < WRITERS; w++) {
        for (uint64_t i = 0; i < PER_WRITER; i++) {
            size_t kl = wkey(k, w, i);
            void *v;
            size_t vl;
            cr_assert_eq(strata_get(s->db, NULL, k, kl, &v, &vl), STRATA_OK, "%s is missing", k);
            cr_assert(check_value(k, v, vl, w, i));
            strata_free(v);
        }
    }
    strata_iter *it = strata_iter_new(s->db, NULL);
    uint64_t n = 0;
    for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it))
        n++;
    strata_iter_free(it);
    cr_assert_eq(n, (uint64_t)WRITERS * PER_WRITER);

    char *stats = strata_property(s->db, "strata.stats");
    cr_assert_not_null(stats);
    uint64_t batches = stat_u64(stats, "batches written");
    uint64_t st_updates = stat_u64(stats, "updates");
    uint64_t groups = stat_u64(stats, "groups");
    uint64_t syncs = stat_u64(stats, "syncs");
    const char *per = strstr(stats, "batches per group");
    fprintf(stderr,
            "concurrency: %llu writes (%llu synced) by %d threads in %llu ms; %llu groups, %llu "
            "syncs; %.*s; reader gets %llu+%llu, scans %llu+%llu\n",
            (unsigned long long)writes, (unsigned long long)synced, WRITERS,
            (unsigned long long)elapsed, (unsigned long long)groups, (unsigned long long)syncs,
            per ? (int)strcspn(per, "\n") : 0, per ? per : "", (unsigned long long)s->reader_gets[0],
            (unsigned long long)s->reader_gets[1], (unsigned long long)s->reader_iters[0],
            (unsigned long long)s->reader_iters[1]);
    /* Only what group commit guarantees. */
    cr_assert_eq(batches, writes, "stats count %llu batches for %llu writes:\n%s",
                 (unsigned long long)batches, (unsigned long long)writes, stats);
    cr_assert_eq(st_updates, updates, "stats count %llu updates for %llu:\n%s",
                 (unsigned long long)st_updates, (unsigned long long)updates, stats);
    cr_assert_leq(groups, batches);
    cr_assert_geq(groups, 1);
    cr_assert_leq(syncs, synced, "more WAL syncs (%llu) than synced writes (%llu)",
                  (unsigned long long)syncs, (unsigned long long)synced);
    cr_assert_eq(stat_u64(stats, "last sequence"), updates);
    strata_free(stats);
    cr_assert_eq(strata_close(s->db), STRATA_OK);

    /* And all of it after a reopen. */
    strata_db *db = open_db();
    for (int w = 0; w < WRITERS; w++) {
        for (uint64_t i = 0; i < PER_WRITER; i += 7) {
            size_t kl = wkey(k, w, i);
            void *v;
            size_t vl;
            cr_assert_eq(strata_get(db, NULL, k, kl, &v, &vl), STRATA_OK, "%s lost by the reopen", k);
            strata_free(v);
        }
    }
    cr_assert_eq(strata_close(db), STRATA_OK);
    pthread_mutex_destroy(&s->failure_mu);
    free(s);
}

/* ---- injected write errors ---------------------------------------------------------------------- */

static void expect_error_mentions(const char *what)
{
    cr_expect_not_null(strstr(strata_last_error(), what),
                       "strata_last_error() \"%s\" does not mention \"%s\"", strata_last_error(), what);
}

static void put_n(strata_db *db, const strata_write_options *wo, const char *prefix, int from, int to)
{
    char k[32];
    for (int i = from; i < to; i++) {
        size_t kl = tu_key(k, sizeof k, prefix, (uint64_t)i);
        cr_assert_eq(strata_put(db, wo, k, kl, k, kl), STRATA_OK, "put %s: %s", k, strata_last_error());
    }
}

static void expect_n(strata_db *db, const char *prefix, int from, int to)
{
    char k[32];
    for (int i = from; i < to; i++) {
        size_t kl = tu_key(k, sizeof k, prefix, (uint64_t)i);
        void *v;
        size_t vl;
        int rc = strata_get(db, NULL, k, kl, &v, &vl);
        cr_assert_eq(rc, STRATA_OK, "%s is missing: %s", k, strata_strerror(rc));
        cr_assert(vl == kl && memcmp(v, k, kl) == 0);
        strata_free(v);
    }
}

static int present(strata_db *db, const char *k)
{
    void *v;
    size_t vl;
    int rc = strata_get(db, NULL, k, strlen(k), &v, &vl);
    if (rc == STRATA_OK)
        strata_free(v);
    else
        cr_assert_eq(rc, STRATA_NOT_FOUND);
    return rc == STRATA_OK;
}

/* A write fault, then: the write fails, later writes fail with a message
 * naming the WAL, reads work; after a reopen the acknowledged writes are
 * there.  kinds: ENV_OP_WRITE or ENV_OP_SYNC, maybe | ENV_FAULT_PARTIAL. */
static void fault_scenario(unsigned kinds, int sync)
{
    strata_db *db = open_db();
    strata_write_options *wo = strata_write_options_new();
    strata_write_options_set_sync(wo, sync);
    put_n(db, wo, "ok", 0, 50);
    char *log = tu_last_log(dbpath);
    cr_assert_not_null(log);
    env_set_fault(db_env(db), 1, kinds, EIO);
    int rc = strata_put(db, wo, "bad", 3, "x", 1);
    cr_assert_eq(rc, STRATA_IO_ERROR, "the faulty write: %s: %s", strata_strerror(rc),
                 strata_last_error());
    expect_error_mentions(log);
    expect_error_mentions(strerror(EIO));
    /* Sticky: every later write fails, whatever its kind, naming the WAL. */
    rc = strata_put(db, wo, "later", 5, "x", 1);
    cr_assert_eq(rc, STRATA_IO_ERROR, "a write after the failure: %s", strata_strerror(rc));
    expect_error_mentions("WAL");
    cr_assert_eq(strata_delete(db, NULL, "ok00000001", 10), STRATA_IO_ERROR);
    expect_error_mentions("WAL");
    strata_batch *b = strata_batch_new();
    strata_batch_put(b, "batch", 5, "x", 1);
    cr_assert_eq(strata_write(db, NULL, b), STRATA_IO_ERROR);
    expect_error_mentions("WAL");
    strata_batch_free(b);
    char *stats = strata_property(db, "strata.stats");
    cr_assert_not_null(stats);
    cr_assert_not_null(strstr(stats, "I/O error"), "the stats do not show the background error:\n%s",
                       stats);
    strata_free(stats);
    /* Reads keep working and see exactly the acknowledged writes. */
    expect_n(db, "ok", 0, 50);
    cr_assert(!present(db, "bad"), "the failed write is visible");
    cr_assert(!present(db, "later"));
    cr_assert(present(db, "ok00000001"), "the failed delete took effect");
    strata_iter *it = strata_iter_new(db, NULL);
    int n = 0;
    for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it))
        n++;
    cr_assert_eq(strata_iter_status(it), STRATA_OK);
    strata_iter_free(it);
    cr_assert_eq(n, 50);
    strata_close(db); /* may report the failure; the handle is freed anyway */

    db = open_db();
    expect_n(db, "ok", 0, 50);
    cr_assert(!present(db, "later"), "a refused write came back after the reopen");
    cr_assert(!present(db, "batch"));
    if (!(kinds & ENV_OP_SYNC))
        cr_assert(!present(db, "bad"), "a write that failed before reaching the WAL came back");
    /* Writes work again, and survive the next reopen. */
    put_n(db, wo, "new", 0, 20);
    cr_assert_eq(strata_close(db), STRATA_OK);
    db = open_db();
    expect_n(db, "ok", 0, 50);
    expect_n(db, "new", 0, 20);
    cr_assert_eq(strata_close(db), STRATA_OK);
    strata_write_options_free(wo);
    free(log);
}

Test(concurrency, wal_write_fault_is_sticky_and_recoverable)
{
    fault_scenario(ENV_OP_WRITE, 0);
}

Test(concurrency, wal_partial_write_fault_is_sticky_and_recoverable)
{
    fault_scenario(ENV_OP_WRITE | ENV_FAULT_PARTIAL, 1);
}

Test(concurrency, wal_sync_fault_is_sticky_and_recoverable)
{
    fault_scenario(ENV_OP_SYNC, 1);
}

/* The fault hits while four threads write: each writer stops at its first
 * error; every acknowledged write is there after the reopen. */
struct fault_writer {
    strata_db *db;
    int w;
    int acked;
    int first_error;
    char msg[256];
};

static void *fault_writer_main(void *p)
{
    struct fault_writer *f = p;
    strata_write_options *wo = strata_write_options_new();
    strata_write_options_set_sync(wo, f->w % 2);
    char k[32];
    for (int i = 0; i < 2000; i++) {
        size_t kl = wkey(k, f->w, (uint64_t)i);
        int rc = strata_put(f->db, wo, k, kl, k, kl);
        if (rc != STRATA_OK) {
            f->first_error = rc;
            snprintf(f->msg, sizeof f->msg, "%s", strata_last_error());
            break;
        }
        f->acked = i + 1;
    }
    strata_write_options_free(wo);
    return NULL;
}

Test(concurrency, wal_fault_under_concurrent_writers)
{
    strata_db *db = open_db();
    put_n(db, NULL, "pre", 0, 10);
    /* The 200th WAL write from now fails (partially written). */
    env_set_fault(db_env(db), 200, ENV_OP_WRITE | ENV_FAULT_PARTIAL, EIO);
    struct fault_writer f[WRITERS];
    pthread_t t[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        f[w] = (struct fault_writer){ .db = db, .w = w };
        cr_assert_eq(pthread_create(&t[w], NULL, fault_writer_main, &f[w]), 0);
    }
    for (int w = 0; w < WRITERS; w++)
        pthread_join(t[w], NULL);
    int total = 0;
    for (int w = 0; w < WRITERS; w++) {
        cr_assert_eq(f[w].first_error, STRATA_IO_ERROR, "writer %d: %d (%s)", w, f[w].first_error,
                     f[w].msg);
        cr_assert(strstr(f[w].msg, ".log") || strstr(f[w].msg, "WAL"), "writer %d: %s", w, f[w].msg);
        total += f[w].acked;
    }
    fprintf(stderr, "concurrency: fault after %d acknowledged concurrent writes\n", total);
    cr_assert_lt(total, WRITERS * 2000);
    strata_close(db);
    db = open_db();
    expect_n(db, "pre", 0, 10);
    char k[32];
    for (int w = 0; w < WRITERS; w++) {
        for (int i = 0; i < f[w].acked; i++) {
            size_t kl = wkey(k, w, (uint64_t)i);
            void *v;
            size_t vl;
            cr_assert_eq(strata_get(db, NULL, k, kl, &v, &vl), STRATA_OK,
                         "acknowledged %s lost after the fault and reopen", k);
            strata_free(v);
        }
        /* Nothing beyond the acknowledged prefix except maybe the writes of
         * the failed group, which never reached the log whole. */
        size_t kl = wkey(k, w, (uint64_t)f[w].acked);
        void *v;
        size_t vl;
        int rc = strata_get(db, NULL, k, kl, &v, &vl);
        cr_assert_eq(rc, STRATA_NOT_FOUND, "%s, whose write failed, is there after the reopen", k);
    }
    cr_assert_eq(strata_close(db), STRATA_OK);
}

/* env.h: env_set_fault(env, n, kinds, err) makes the n-th operation from now
 * whose kind is in kinds fail: operations of other kinds do not count, so
 * with synced puts (one WRITE and one SYNC each) the fault set for the 3rd
 * WAL write fires on the 3rd put. */
Test(concurrency, env_fault_counts_only_armed_kinds)
{
    strata_db *db = open_db();
    strata_write_options *wo = strata_write_options_new();
    strata_write_options_set_sync(wo, 1);
    env_set_fault(db_env(db), 3, ENV_OP_WRITE, EIO);
    int failed_at = 0;
    for (int i = 1; i <= 5 && !failed_at; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "k%d", i);
        if (strata_put(db, wo, k, (size_t)kl, "v", 1) != STRATA_OK)
            failed_at = i;
    }
    cr_expect_eq(failed_at, 3, "the fault for the 3rd WAL write hit synced put number %d", failed_at);
    strata_close(db);
    strata_write_options_free(wo);
}

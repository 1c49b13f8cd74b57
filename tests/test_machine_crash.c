/*
 * test_machine_crash.c: machine crashes (power loss, kernel crash), where
 * what was written but not yet fdatasync'ed is lost.
 *
 * The promise (docs/reliability.md, "Durability, per sync mode"): a write
 * acknowledged with sync survives a machine crash, and so does every write
 * acknowledged before it.
 *
 * A forked child opens a fresh database with an env of its own whose sync
 * hook (env_set_sync_hook) records, in memory shared with the parent, how
 * many bytes of each log file every successful fdatasync made durable.  It
 * writes operations 1, 2, ... (puts, deletes of an earlier put, batches),
 * a random few of them with sync, a small write buffer making logs rotate
 * and memtables flush, and after each acknowledgement bumps a shared
 * counter.  The parent SIGKILLs it at a random moment and then plays the
 * machine crash: in every log file, the bytes past what a sync made durable
 * become zeros, as the never-written-back pages of a preallocated file read
 * after a power loss (a log never synced is zeroed whole).  Tables, the
 * MANIFEST and CURRENT are left alone: each is synced, and its directory,
 * before anything refers to it.  The parent reopens with paranoid_checks
 * and checks that the database holds exactly the effect of operations
 * 1..k for some k with
 *   - k >= the last operation acknowledged with sync (nothing synced, nor
 *     acknowledged before a synced write, is lost);
 *   - k <= the last acknowledged + 1 (the one in flight may be there;
 *     nothing never started is);
 * which also means no batch is half there (grp-0..3 carry the tag of the
 * last applied batch) and nothing else is in the database.
 *
 * Each cycle uses a fresh directory.  The seed (kill times, which writes
 * sync) is printed; STRATA_MCRASH_SEED=n repeats a run.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/env.h"
#include "src/options.h"
#include "strata.h"
#include "tests/testutil.h"

/* The sanitizers run the child several times slower: fewer cycles. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MC_CYCLES 3
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MC_CYCLES 3
#endif
#endif
#ifndef MC_CYCLES
#define MC_CYCLES 10
#endif

enum {
    MAX_OPS = 200000,
    MAX_LOGS = 1 << 16, /* log file numbers the shared table can hold */
    GROUP = 4,
    BATCH_KEYS = 3,
};

/* What the child tells the parent. */
struct shared {
    atomic_uint_fast64_t acked;                  /* operations 1..acked acknowledged */
    atomic_uint_fast64_t durable[MAX_LOGS];      /* log number -> bytes made durable */
    atomic_uint_fast64_t log_syncs;              /* successful syncs of logs */
    atomic_int bad_log_number;                   /* a log number past MAX_LOGS */
    unsigned char synced[MAX_OPS + 2];           /* operation i was written with sync */
};

static char *dir;

static void setup(void)
{
    dir = tu_mkdtemp("mcrash");
    cr_assert_not_null(dir);
}

static void teardown(void)
{
    if (dir)
        tu_rmrf(dir);
    free(dir);
}

TestSuite(machine_crash, .init = setup, .fini = teardown);

/* ---- the operations (as in test_crash.c) ------------------------------------------------ */

enum op_kind { OP_PUT, OP_DELETE, OP_BATCH };

static enum op_kind kind_of(uint64_t i)
{
    switch (i % 8) {
    case 0: return OP_BATCH;
    case 5: return OP_DELETE; /* deletes p<i-3>, a put (i-3 = 2 mod 8) */
    default: return OP_PUT;
    }
}

static size_t put_key(char *buf, uint64_t i)
{
    return tu_key(buf, 32, "p", i);
}

static size_t put_value(char *buf, uint64_t i)
{
    size_t len = 10 + i % 50;
    tu_value(buf, len, i, 0);
    return len;
}

static size_t batch_key(char *buf, uint64_t i, int j)
{
    return (size_t)snprintf(buf, 32, "b%08llu-%d", (unsigned long long)i, j);
}

static size_t tag_of(char *buf, uint64_t i)
{
    return (size_t)snprintf(buf, 32, "b%08llu", (unsigned long long)i);
}

/* ---- the child ------------------------------------------------------------------------------ */

/* The sync hook: remember how far each log is durable.  Other files
 * (tables, MANIFEST, CURRENT) are not touched by the simulated crash. */
static void record_sync(void *arg, const char *path, uint64_t durable)
{
    struct shared *sh = arg;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *end;
    unsigned long long n = strtoull(base, &end, 10);
    if (end == base || strcmp(end, ".log") != 0)
        return;
    if (n >= MAX_LOGS) {
        atomic_store(&sh->bad_log_number, 1);
        return;
    }
    uint_fast64_t old = atomic_load(&sh->durable[n]);
    while (old < durable && !atomic_compare_exchange_weak(&sh->durable[n], &old, durable))
        ;
    atomic_fetch_add(&sh->log_syncs, 1);
}

static void child_fail(const char *what)
{
    fprintf(stderr, "machine-crash child: %s: %s\n", what, strata_last_error());
    _exit(2);
}

static void child_main(struct shared *sh, const char *dbpath, uint64_t seed, unsigned sync_one_in)
{
    struct env *env = env_new();
    if (!env)
        child_fail("env_new");
    env_set_sync_hook(env, record_sync, sh);
    strata_options *o = strata_options_new();
    strata_options_set_create_if_missing(o, 1);
    strata_options_set_write_buffer_size(o, 64 << 10);
    strata_options_set_target_file_size(o, 16 << 10);
    strata_options_set_max_bytes_for_level_base(o, 64 << 10);
    o->env = env;
    strata_db *db;
    if (strata_open(dbpath, o, &db) != STRATA_OK)
        child_fail("open");
    strata_write_options *plain = strata_write_options_new();
    strata_write_options *synced = strata_write_options_new();
    strata_write_options_set_sync(synced, 1);
    strata_batch *b = strata_batch_new();
    struct tu_rng r;
    tu_rng_seed(&r, seed);
    char k[32], v[64];
    for (uint64_t i = 1; i <= MAX_OPS; i++) {
        int sync = tu_rng_chance(&r, 1, sync_one_in);
        sh->synced[i] = (unsigned char)sync; /* before the write: the parent reads it after */
        strata_write_options *wo = sync ? synced : plain;
        int rc;
        switch (kind_of(i)) {
        case OP_PUT: {
            size_t kl = put_key(k, i), vl = put_value(v, i);
            rc = strata_put(db, wo, k, kl, v, vl);
            break;
        }
        case OP_DELETE:
            rc = strata_delete(db, wo, k, put_key(k, i - 3));
            break;
        default: {
            strata_batch_clear(b);
            size_t tl = tag_of(v, i);
            for (int j = 0; j < GROUP; j++) {
                int kl = snprintf(k, sizeof k, "grp-%d", j);
                strata_batch_put(b, k, (size_t)kl, v, tl);
            }
            for (int j = 0; j < BATCH_KEYS; j++)
                strata_batch_put(b, k, batch_key(k, i, j), v, tl);
            rc = strata_write(db, wo, b);
            break;
        }
        }
        if (rc != STRATA_OK)
            child_fail("write");
        atomic_store(&sh->acked, i);
    }
    for (;;) /* out of operations: wait to be killed */
        pause();
}

/* ---- the machine crash ------------------------------------------------------------------------ */

/* Zero [from, end of file) of path: the pages no sync wrote back. */
static uint64_t zero_tail(const char *path, uint64_t from)
{
    long long size = tu_file_size(path);
    cr_assert_geq(size, 0, "stat %s", path);
    if ((uint64_t)size <= from)
        return 0;
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    static const char zeros[4096];
    for (uint64_t off = from; off < (uint64_t)size;) {
        size_t n = (uint64_t)size - off < sizeof zeros ? (size_t)((uint64_t)size - off) : sizeof zeros;
        ssize_t w = pwrite(fd, zeros, n, (off_t)off);
        cr_assert_gt(w, 0, "zero %s: %s", path, strerror(errno));
        off += (uint64_t)w;
    }
    close(fd);
    return (uint64_t)size - from;
}

/* Lose every log byte no sync made durable; returns the bytes zeroed. */
static uint64_t lose_unsynced(const struct shared *sh, const char *dbpath)
{
    size_t count;
    uint64_t *logs = tu_numbered_files(dbpath, ".log", &count);
    uint64_t lost = 0;
    for (size_t i = 0; i < count; i++) {
        cr_assert_lt(logs[i], (uint64_t)MAX_LOGS);
        char name[32];
        snprintf(name, sizeof name, "%06llu.log", (unsigned long long)logs[i]);
        char *path = tu_join(dbpath, name);
        lost += zero_tail(path, atomic_load(&sh->durable[logs[i]]));
        free(path);
    }
    free(logs);
    return lost;
}

/* ---- the check -------------------------------------------------------------------------------- */

/* 1 with its value in out when k is in db. */
static int get(strata_db *db, const char *k, size_t kl, char *out, size_t *outlen)
{
    void *v;
    size_t vl;
    int rc = strata_get(db, NULL, k, kl, &v, &vl);
    if (rc == STRATA_NOT_FOUND)
        return 0;
    cr_assert_eq(rc, STRATA_OK, "get %.*s: %s", (int)kl, k, strata_last_error());
    cr_assert_lt(vl, 64);
    memcpy(out, v, vl);
    *outlen = vl;
    strata_free(v);
    return 1;
}

/* The highest operation whose effect shows (a put's key, a batch's keys),
 * 0 if none; operations past limit never started. */
static uint64_t last_visible(strata_db *db, uint64_t limit)
{
    char k[32], v[64];
    size_t vl;
    for (uint64_t i = limit; i >= 1; i--) {
        if (kind_of(i) == OP_PUT && get(db, k, put_key(k, i), v, &vl))
            return i;
        if (kind_of(i) == OP_BATCH && get(db, k, batch_key(k, i, 0), v, &vl))
            return i;
    }
    return 0;
}

/* Whether db holds exactly the effect of operations 1..n; *why says what
 * differs first. */
static int holds_prefix(strata_db *db, uint64_t n, char *why, size_t whylen)
{
    char k[32], v[64], want[64];
    size_t vl, wl;
    uint64_t keys = 0, last_batch = 0;
    for (uint64_t i = 1; i <= n; i++) {
        if (kind_of(i) == OP_PUT) {
            int deleted = i + 3 <= n && kind_of(i + 3) == OP_DELETE;
            int present = get(db, k, put_key(k, i), v, &vl);
            wl = put_value(want, i);
            if (present != !deleted || (present && (vl != wl || memcmp(v, want, wl) != 0))) {
                snprintf(why, whylen, "p%llu is %s", (unsigned long long)i,
                         !present ? "missing" : deleted ? "back after its delete" : "wrong");
                return 0;
            }
            keys += (uint64_t)present;
        } else if (kind_of(i) == OP_BATCH) {
            wl = tag_of(want, i);
            for (int j = 0; j < BATCH_KEYS; j++) {
                if (!get(db, k, batch_key(k, i, j), v, &vl) || vl != wl || memcmp(v, want, wl)) {
                    snprintf(why, whylen, "batch %llu: key %d missing or wrong",
                             (unsigned long long)i, j);
                    return 0;
                }
            }
            keys += BATCH_KEYS;
            last_batch = i;
        }
    }
    for (int j = 0; j < GROUP; j++) {
        int kl = snprintf(k, sizeof k, "grp-%d", j);
        int present = get(db, k, (size_t)kl, v, &vl);
        wl = last_batch ? tag_of(want, last_batch) : 0;
        if (present != (last_batch != 0) || (present && (vl != wl || memcmp(v, want, wl)))) {
            snprintf(why, whylen, "grp-%d is '%.*s', expected the tag of batch %llu", j,
                     present ? (int)vl : 4, present ? v : "none", (unsigned long long)last_batch);
            return 0;
        }
        keys += (uint64_t)present;
    }
    strata_iter *it = strata_iter_new(db, NULL);
    uint64_t total = 0;
    for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it))
        total++;
    cr_assert_eq(strata_iter_status(it), STRATA_OK, "%s", strata_last_error());
    strata_iter_free(it);
    if (total != keys) {
        snprintf(why, whylen, "%llu keys in the database, expected %llu",
                 (unsigned long long)total, (unsigned long long)keys);
        return 0;
    }
    return 1;
}

/* ---- the cycles ------------------------------------------------------------------------------- */

struct totals {
    uint64_t acked, synced_acked, kept_past_last_sync, lost_bytes, log_syncs;
};

static void one_cycle(struct shared *sh, uint64_t seed, int cycle, unsigned sync_one_in,
                      unsigned kill_ms, struct totals *t)
{
    char name[32];
    snprintf(name, sizeof name, "c%d", cycle);
    char *dbpath = tu_join(dir, name);
    memset(sh, 0, sizeof *sh);
    uint64_t child_seed = seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(cycle + 1));
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        child_main(sh, dbpath, child_seed, sync_one_in);
    /* The kill window starts at the first acknowledgement, so that a slow
     * start (sanitizers, a loaded machine) still leaves writes to check. */
    uint64_t give_up = tu_now_ms() + 10000;
    while (atomic_load(&sh->acked) == 0 && tu_now_ms() < give_up &&
           waitpid(pid, NULL, WNOHANG) == 0)
        tu_sleep_ms(1);
    tu_sleep_ms(kill_ms);
    kill(pid, SIGKILL);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
              "seed %llu cycle %d: the child ended by itself (status %#x): see its stderr",
              (unsigned long long)seed, cycle, st);
    cr_assert_eq(atomic_load(&sh->bad_log_number), 0, "a log number past %d", MAX_LOGS);

    uint64_t acked = atomic_load(&sh->acked), last_sync = 0, nsync = 0;
    for (uint64_t i = 1; i <= acked; i++)
        if (sh->synced[i]) {
            last_sync = i;
            nsync++;
        }
    uint64_t lost = lose_unsynced(sh, dbpath);

    strata_options *o = strata_options_new();
    strata_options_set_paranoid_checks(o, 1);
    strata_db *db;
    int rc = strata_open(dbpath, o, &db);
    strata_options_free(o);
    cr_assert_eq(rc, STRATA_OK, "seed %llu cycle %d: reopen after the machine crash: %s: %s",
                 (unsigned long long)seed, cycle, strata_strerror(rc), strata_last_error());
    uint64_t limit = acked < MAX_OPS ? acked + 1 : acked;
    uint64_t k = last_visible(db, limit);
    /* A delete right after the last visible operation shows only through
     * the put it removes: try k + 1 too. */
    char why[160] = "", why2[160] = "";
    int ok = holds_prefix(db, k, why, sizeof why);
    if (!ok && k + 1 <= limit && kind_of(k + 1) == OP_DELETE && holds_prefix(db, k + 1, why2, sizeof why2)) {
        ok = 1;
        k++;
    }
    cr_assert(ok,
              "seed %llu cycle %d: the database is not operations 1..%llu: %s (%llu "
              "acknowledged, the last with sync %llu): a write acknowledged before a synced "
              "one is lost, or a batch is half there",
              (unsigned long long)seed, cycle, (unsigned long long)k, why,
              (unsigned long long)acked, (unsigned long long)last_sync);
    cr_assert(k >= last_sync,
              "seed %llu cycle %d: lost acknowledged writes: only operations 1..%llu survived, "
              "but operation %llu was acknowledged with sync (%llu acknowledged in all)",
              (unsigned long long)seed, cycle, (unsigned long long)k,
              (unsigned long long)last_sync, (unsigned long long)acked);
    cr_assert_eq(strata_close(db), STRATA_OK);
    fprintf(stderr,
            "machine_crash: seed %llu cycle %d: killed after %u ms, %llu acknowledged (%llu with "
            "sync, the last %llu), %llu log syncs, %llu log bytes lost, %llu operations survived\n",
            (unsigned long long)seed, cycle, kill_ms, (unsigned long long)acked,
            (unsigned long long)nsync, (unsigned long long)last_sync,
            (unsigned long long)atomic_load(&sh->log_syncs), (unsigned long long)lost,
            (unsigned long long)k);
    t->acked += acked;
    t->synced_acked += nsync;
    t->kept_past_last_sync += k - last_sync;
    t->lost_bytes += lost;
    t->log_syncs += atomic_load(&sh->log_syncs);
    tu_rmrf(dbpath);
    free(dbpath);
}

static void machine_crash_cycles(const char *label, unsigned sync_one_in)
{
    const char *env_seed = getenv("STRATA_MCRASH_SEED");
    uint64_t seed = env_seed ? strtoull(env_seed, NULL, 10) : tu_clock_seed();
    fprintf(stderr, "machine_crash/%s: seed %llu (STRATA_MCRASH_SEED=%llu repeats it)\n", label,
            (unsigned long long)seed, (unsigned long long)seed);
    cr_log_info("seed %llu", (unsigned long long)seed);
    struct tu_rng r;
    tu_rng_seed(&r, seed);
    struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                             -1, 0);
    cr_assert_neq(sh, MAP_FAILED);
    struct totals t = { 0 };
    for (int c = 0; c < MC_CYCLES; c++)
        one_cycle(sh, seed, c, sync_one_in, 20 + (unsigned)tu_rng_uniform(&r, 481), &t);
    fprintf(stderr,
            "machine_crash/%s: %d cycles, %llu writes acknowledged, %llu with sync (all checked), "
            "%llu log syncs, %llu log bytes zeroed\n",
            label, MC_CYCLES, (unsigned long long)t.acked, (unsigned long long)t.synced_acked,
            (unsigned long long)t.log_syncs, (unsigned long long)t.lost_bytes);
    cr_assert_gt(t.synced_acked, 0, "seed %llu: no synced write was acknowledged",
                 (unsigned long long)seed);
    munmap(sh, sizeof *sh);
}

/* Synced writes now and then among many unsynced ones: each crash loses
 * the unsynced tail, which crosses log switches and flushes. */
Test(machine_crash, rare_syncs)
{
    machine_crash_cycles("rare_syncs", 64);
}

/* Frequent syncs: little is lost, but every synced write is checked. */
Test(machine_crash, frequent_syncs)
{
    machine_crash_cycles("frequent_syncs", 8);
}

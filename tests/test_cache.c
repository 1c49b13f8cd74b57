/*
 * test_cache.c: the sharded LRU cache (sstable/cache.h).
 *
 * Values are slots of a static pool whose deleter only counts, so a test can
 * check after the fact that each value was deleted exactly once, and when.
 * Single-shard caches (shard_bits 0) make eviction order exact; the thread
 * test uses fixed seeds per thread and checks only invariants that hold
 * under any interleaving.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sstable/cache.h"

/* ---- counted values ----------------------------------------------------------- */

struct val {
    uint64_t key;
    size_t charge;
    atomic_int deleted;
};

enum { POOL = 1 << 19 };
static struct val pool[POOL];
static atomic_size_t pool_used;
/* The order of deletions, for the LRU test. */
static uint64_t deleted_keys[64];
static atomic_size_t ndeleted;

static struct val *val_new(uint64_t key, size_t charge)
{
    size_t i = atomic_fetch_add(&pool_used, 1);
    cr_assert_lt(i, POOL, "the value pool is exhausted");
    pool[i].key = key;
    pool[i].charge = charge;
    atomic_init(&pool[i].deleted, 0);
    return &pool[i];
}

static void val_deleter(void *p)
{
    struct val *v = p;
    atomic_fetch_add(&v->deleted, 1);
    size_t i = atomic_fetch_add(&ndeleted, 1);
    if (i < sizeof deleted_keys / sizeof deleted_keys[0])
        deleted_keys[i] = v->key;
}

static int deleted(const struct val *v)
{
    return atomic_load(&v->deleted);
}

/* Insert a new value for key and return its handle (pinned). */
static struct cache_handle *put(struct cache *c, uint64_t key, size_t charge)
{
    struct val *v = val_new(key, charge);
    struct cache_handle *h = cache_insert(c, key, key * 7, v, charge, val_deleter);
    cr_assert_not_null(h);
    cr_assert_eq(cache_value(h), v);
    return h;
}

/* Insert and release at once. */
static struct val *put_released(struct cache *c, uint64_t key, size_t charge)
{
    struct cache_handle *h = put(c, key, charge);
    struct val *v = cache_value(h);
    cache_release(c, h);
    return v;
}

static struct cache_handle *get(struct cache *c, uint64_t key)
{
    return cache_lookup(c, key, key * 7);
}

/* Whether key is in the cache (a lookup, released at once). */
static int present(struct cache *c, uint64_t key)
{
    struct cache_handle *h = get(c, key);
    if (h)
        cache_release(c, h);
    return h != NULL;
}

static struct cache_stats stats(struct cache *c)
{
    struct cache_stats s;
    cache_get_stats(c, &s);
    return s;
}

static void check_all_deleted_once(void)
{
    size_t n = atomic_load(&pool_used);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(deleted(&pool[i]), 1, "value %zu (key %llu) deleted %d times", i,
                     (unsigned long long)pool[i].key, deleted(&pool[i]));
}

/* ---- basics -------------------------------------------------------------------- */

Test(cache, insert_lookup_release)
{
    struct cache *c = cache_new(100, 0);
    cr_assert_not_null(c);
    struct cache_handle *h = put(c, 1, 10);
    struct val *v = cache_value(h);
    struct cache_handle *h2 = get(c, 1);
    cr_assert_eq(h2, h, "a handle is the entry");
    cr_assert_eq(cache_value(h2), v);
    cr_expect_eq(v->key, 1);
    cache_release(c, h2);
    cache_release(c, h);
    cr_expect_eq(deleted(v), 0, "still in the cache");
    cr_expect(present(c, 1));
    /* k2 is part of the key. */
    cr_expect_null(cache_lookup(c, 1, 8));
    cr_expect_null(cache_lookup(c, 7, 1));
    cache_free(c);
    cr_expect_eq(deleted(v), 1);
}

Test(cache, miss)
{
    struct cache *c = cache_new(100, 4);
    cr_assert_not_null(c);
    cr_expect_null(get(c, 42));
    put_released(c, 41, 1);
    cr_expect_null(get(c, 42));
    struct cache_stats s = stats(c);
    cr_expect_eq(s.misses, 2);
    cr_expect_eq(s.hits, 0);
    cache_free(c);
}

Test(cache, bad_shard_bits)
{
    cr_expect_null(cache_new(100, -1));
    cr_expect_null(cache_new(100, 9));
    struct cache *c = cache_new(100, 8);
    cr_expect_not_null(c);
    cache_free(c);
    cache_free(NULL);
}

Test(cache, value_may_be_null_and_deleter_too)
{
    struct cache *c = cache_new(10, 0);
    cr_assert_not_null(c);
    struct cache_handle *h = cache_insert(c, 5, 5, NULL, 1, NULL);
    cr_assert_not_null(h);
    cr_expect_null(cache_value(h));
    cache_release(c, h);
    cache_erase(c, 5, 5);
    cr_expect_eq(stats(c).entries, 0);
    cache_free(c);
}

/* ---- replacement ------------------------------------------------------------- */

Test(cache, replace_while_pinned)
{
    struct cache *c = cache_new(100, 0);
    cr_assert_not_null(c);
    struct cache_handle *old = put(c, 1, 10);
    struct val *a = cache_value(old);
    struct val *b = put_released(c, 1, 20);
    cr_expect_eq(deleted(a), 0, "the old value is pinned");
    struct cache_stats s = stats(c);
    cr_expect_eq(s.entries, 1);
    cr_expect_eq(s.usage, 20, "the old one no longer counts: %zu", s.usage);
    struct cache_handle *h = get(c, 1);
    cr_assert_not_null(h);
    cr_expect_eq(cache_value(h), b, "a lookup finds the new value");
    cache_release(c, h);
    cr_expect_eq(cache_value(old), a, "the old handle still reads its value");
    cache_release(c, old);
    cr_expect_eq(deleted(a), 1, "deleted at its release");
    cr_expect_eq(deleted(b), 0);
    cr_expect(present(c, 1));
    cache_free(c);
    cr_expect_eq(deleted(a), 1);
    cr_expect_eq(deleted(b), 1);
}

Test(cache, replace_unpinned_deletes_at_once)
{
    struct cache *c = cache_new(100, 0);
    cr_assert_not_null(c);
    struct val *a = put_released(c, 1, 10);
    struct val *b = put_released(c, 1, 10);
    cr_expect_eq(deleted(a), 1);
    cr_expect_eq(deleted(b), 0);
    cr_expect_eq(stats(c).usage, 10);
    cache_free(c);
    check_all_deleted_once();
}

/* ---- eviction ----------------------------------------------------------------- */

Test(cache, eviction_is_lru)
{
    struct cache *c = cache_new(4, 0);
    cr_assert_not_null(c);
    for (uint64_t k = 1; k <= 4; k++)
        put_released(c, k, 1);
    cr_expect_eq(atomic_load(&ndeleted), 0);
    cr_expect(present(c, 1)); /* touch 1: now 2 is the oldest */
    put_released(c, 5, 1);
    cr_assert_eq(atomic_load(&ndeleted), 1);
    cr_expect_eq(deleted_keys[0], 2);
    put_released(c, 6, 1);
    cr_assert_eq(atomic_load(&ndeleted), 2);
    cr_expect_eq(deleted_keys[1], 3);
    /* A charge of 2 takes the two oldest: 4, then 1. */
    put_released(c, 7, 2);
    cr_assert_eq(atomic_load(&ndeleted), 4);
    cr_expect_eq(deleted_keys[2], 4, "%llu", (unsigned long long)deleted_keys[2]);
    cr_expect_eq(deleted_keys[3], 1);
    cr_expect(!present(c, 1));
    cr_expect(!present(c, 2));
    cr_expect(present(c, 5));
    cr_expect(present(c, 6));
    cr_expect(present(c, 7));
    cr_expect_eq(stats(c).evictions, 4);
    cache_free(c);
    check_all_deleted_once();
}

Test(cache, usage_never_exceeds_capacity)
{
    enum { CAP = 1000 };
    struct cache *c = cache_new(CAP, 2); /* 4 shards of 250 */
    cr_assert_not_null(c);
    uint64_t seed = 12345;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t key = (seed >> 33) % 500;
        size_t charge = 1 + (size_t)((seed >> 20) % 60);
        put_released(c, key, charge);
        struct cache_stats s = stats(c);
        cr_assert_leq(s.usage, CAP, "insert %d: usage %zu", i, s.usage);
    }
    /* Pinned entries may push the usage over; their releases bring it back. */
    struct cache_handle *held[40];
    for (int i = 0; i < 40; i++)
        held[i] = put(c, 1000 + (uint64_t)i, 60);
    cr_expect_gt(stats(c).usage, CAP, "40 x 60 pinned");
    for (int i = 0; i < 40; i++)
        cache_release(c, held[i]);
    struct cache_stats s = stats(c);
    cr_expect_leq(s.usage, CAP, "all released: usage %zu", s.usage);
    cr_expect_gt(s.usage, CAP / 2, "but not emptied: usage %zu", s.usage);
    cache_free(c);
    check_all_deleted_once();
}

Test(cache, pinned_entries_are_never_evicted)
{
    struct cache *c = cache_new(4, 0);
    cr_assert_not_null(c);
    struct cache_handle *h1 = put(c, 1, 1);
    put_released(c, 2, 1);
    struct cache_handle *h2 = get(c, 2); /* pinned by a lookup */
    cr_assert_not_null(h2);
    for (uint64_t k = 10; k < 100; k++)
        put_released(c, k, 1);
    cr_expect_eq(deleted(cache_value(h1)), 0);
    cr_expect_eq(deleted(cache_value(h2)), 0);
    cr_expect(present(c, 1), "still in the cache, not only alive");
    cr_expect(present(c, 2));
    struct cache_stats s = stats(c);
    cr_expect_eq(s.usage, 4);
    cr_expect_eq(s.entries, 4);
    cache_release(c, h1);
    cache_release(c, h2);
    cache_free(c);
    check_all_deleted_once();
}

Test(cache, charge_above_capacity_is_returned_not_kept)
{
    struct cache *c = cache_new(10, 0);
    cr_assert_not_null(c);
    struct val *small = put_released(c, 1, 3);
    struct cache_handle *h = put(c, 2, 11);
    struct val *big = cache_value(h);
    cr_expect_eq(big->key, 2);
    cr_expect(!present(c, 2), "not kept");
    cr_expect(present(c, 1), "and it evicted nothing");
    struct cache_stats s = stats(c);
    cr_expect_eq(s.usage, 3);
    cr_expect_eq(s.entries, 1);
    cr_expect_eq(s.inserts, 1);
    cr_expect_eq(s.evictions, 0);
    cr_expect_eq(deleted(big), 0, "pinned");
    cache_release(c, h);
    cr_expect_eq(deleted(big), 1, "deleted at its release");
    /* Too big for the cache, but newer than the entry with its key: a
     * lookup must not find the old value any more. */
    struct cache_handle *h3 = put(c, 1, 50);
    cr_expect_eq(deleted(small), 1);
    cr_expect(!present(c, 1));
    cache_release(c, h3);
    cr_expect_eq(stats(c).usage, 0);
    cache_free(c);
    check_all_deleted_once();
}

Test(cache, capacity_is_split_between_shards)
{
    /* 16 shards of 100: keys spread by the hash fill each far less than its
     * capacity, so nothing is evicted; with every key in one shard, or a
     * shard capacity rounded down to 0, most would be. */
    struct cache *c = cache_new(1590, 4); /* rounded up to 100 each */
    cr_assert_not_null(c);
    for (uint64_t k = 0; k < 800; k++)
        put_released(c, k, 1);
    struct cache_stats s = stats(c);
    cr_expect_eq(s.evictions, 0);
    cr_expect_eq(s.entries, 800);
    cr_expect_eq(s.capacity, 1590);
    struct cache_handle *h = put(c, 5000, 100);
    cr_expect(present(c, 5000), "a charge of a whole shard's capacity is kept");
    cache_release(c, h);
    cache_free(c);
    check_all_deleted_once();
}

Test(cache, many_entries_grow_the_table)
{
    enum { N = 50000 };
    struct cache *c = cache_new(2 * N, 1); /* room for an uneven split */
    cr_assert_not_null(c);
    for (uint64_t k = 0; k < N; k++)
        cache_release(c, cache_insert(c, k, ~k, val_new(k, 1), 1, val_deleter));
    for (uint64_t k = 0; k < N; k++) {
        struct cache_handle *h = cache_lookup(c, k, ~k);
        cr_assert_not_null(h, "key %llu", (unsigned long long)k);
        cr_assert_eq(((struct val *)cache_value(h))->key, k);
        cache_release(c, h);
    }
    struct cache_stats s = stats(c);
    cr_expect_eq(s.entries, N);
    cr_expect_eq(s.hits, N);
    cr_expect_eq(s.evictions, 0);
    cache_free(c);
    check_all_deleted_once();
}

/* ---- erase ---------------------------------------------------------------------- */

Test(cache, erase_unpinned)
{
    struct cache *c = cache_new(10, 0);
    cr_assert_not_null(c);
    struct val *v = put_released(c, 1, 4);
    cache_erase(c, 1, 7);
    cr_expect_eq(deleted(v), 1, "deleted at once");
    cr_expect(!present(c, 1));
    struct cache_stats s = stats(c);
    cr_expect_eq(s.usage, 0);
    cr_expect_eq(s.entries, 0);
    cache_erase(c, 1, 7); /* absent: nothing happens */
    cache_erase(c, 99, 0);
    cache_free(c);
    check_all_deleted_once();
}

Test(cache, erase_pinned)
{
    struct cache *c = cache_new(10, 0);
    cr_assert_not_null(c);
    struct cache_handle *h = put(c, 1, 4);
    struct val *v = cache_value(h);
    cache_erase(c, 1, 7);
    cr_expect_eq(deleted(v), 0, "pinned");
    cr_expect(!present(c, 1));
    cr_expect_eq(stats(c).usage, 0);
    cr_expect_eq(cache_value(h), v);
    /* A new entry with the key is independent of the erased one. */
    struct val *w = put_released(c, 1, 4);
    cache_release(c, h);
    cr_expect_eq(deleted(v), 1, "deleted at its release");
    cr_expect_eq(deleted(w), 0);
    cr_expect(present(c, 1));
    cache_free(c);
    check_all_deleted_once();
}

/* ---- stats and deleters ------------------------------------------------------------ */

Test(cache, stats_are_exact)
{
    struct cache *c = cache_new(3, 0);
    cr_assert_not_null(c);
    put_released(c, 1, 1);            /* insert 1 */
    put_released(c, 2, 1);            /* insert 2 */
    cr_expect(present(c, 1));         /* hit 1 */
    cr_expect(!present(c, 9));        /* miss 1 */
    put_released(c, 3, 1);            /* insert 3 */
    put_released(c, 4, 1);            /* insert 4, evicts 2 */
    put_released(c, 1, 1);            /* insert 5, replaces 1 */
    cr_expect(!present(c, 2));        /* miss 2 */
    cr_expect(present(c, 4));         /* hit 2 */
    cache_erase(c, 3, 21);            /* not an eviction */
    cache_release(c, put(c, 8, 100)); /* too big: not an insert */
    struct cache_stats s = stats(c);
    cr_expect_eq(s.hits, 2);
    cr_expect_eq(s.misses, 2);
    cr_expect_eq(s.inserts, 5);
    cr_expect_eq(s.evictions, 1);
    cr_expect_eq(s.usage, 2);
    cr_expect_eq(s.entries, 2);
    cr_expect_eq(s.capacity, 3);
    cache_free(c);
    check_all_deleted_once();
}

Test(cache, each_value_deleted_once_including_at_free)
{
    struct cache *c = cache_new(8, 0);
    cr_assert_not_null(c);
    for (uint64_t k = 0; k < 20; k++) /* 12 evicted */
        put_released(c, k, 1);
    struct cache_handle *h = put(c, 19, 1); /* replaces 19, pinned */
    cache_erase(c, 18, 18 * 7);
    put_released(c, 17, 1);
    cache_release(c, put(c, 30, 9)); /* too big */
    cache_release(c, h);
    size_t n = atomic_load(&pool_used);
    size_t before = atomic_load(&ndeleted);
    cr_expect_eq(before, 12 + 1 + 1 + 1 + 1, "evicted, erased, 2 replaced, too big: %zu", before);
    cache_free(c);
    cr_expect_eq(atomic_load(&ndeleted), n, "the rest at cache_free");
    check_all_deleted_once();
}

/* In a child process: cache_free with a handle still pinned, a caller bug.
 * Asserts on: caught (SIGABRT).  Asserts off: both values freed anyway.
 * The exit code says how many deleters ran. */
static void free_pinned_child(void)
{
    struct rlimit none = { 0, 0 };
    setrlimit(RLIMIT_CORE, &none);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0)
        dup2(devnull, STDERR_FILENO); /* the assert's message is expected */
    struct cache *c = cache_new(10, 0);
    if (!c)
        _exit(100);
    struct cache_handle *h = cache_insert(c, 1, 0, val_new(1, 1), 1, val_deleter);
    struct cache_handle *h2 = cache_insert(c, 2, 0, val_new(2, 1), 1, val_deleter);
    if (!h || !h2)
        _exit(101);
    cache_erase(c, 2, 0); /* pinned and out of the cache: still freed */
    cache_free(c);
    _exit((int)atomic_load(&ndeleted));
}

Test(cache, free_with_a_pinned_handle)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        free_pinned_child();
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
#ifdef NDEBUG
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status %#x", status);
#else
    cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x", status);
#endif
}

static struct cache *reentrant_cache;

/* A deleter that calls into the cache: it would deadlock if run under the
 * shard's lock (every key lands in the one shard). */
static void reentrant_deleter(void *p)
{
    struct val *v = p;
    struct cache_handle *h = cache_lookup(reentrant_cache, v->key + 1000, 0);
    if (h)
        cache_release(reentrant_cache, h);
    cache_erase(reentrant_cache, v->key + 2000, 0);
    val_deleter(p);
}

Test(cache, deleters_run_without_the_lock)
{
    alarm(20); /* a deadlock fails the test instead of hanging it */
    struct cache *c = reentrant_cache = cache_new(2, 0);
    cr_assert_not_null(c);
    for (uint64_t k = 0; k < 10; k++) /* evictions */
        cache_release(c, cache_insert(c, k, 0, val_new(k, 1), 1, reentrant_deleter));
    cache_release(c, cache_insert(c, 9, 0, val_new(9, 1), 1, reentrant_deleter)); /* replace */
    cache_erase(c, 8, 0);
    struct cache_handle *h = cache_insert(c, 50, 0, val_new(50, 1), 5, reentrant_deleter);
    cache_release(c, h); /* too big: deleted at release */
    cr_expect_eq(atomic_load(&ndeleted), 8 + 1 + 1 + 1);
    cache_free(c);
    check_all_deleted_once();
    alarm(0);
}

/* ---- ids ------------------------------------------------------------------------------ */

enum { ID_THREADS = 4, IDS_PER_THREAD = 20000 };

struct id_job {
    struct cache *c;
    uint64_t ids[IDS_PER_THREAD];
};

static void *id_worker(void *arg)
{
    struct id_job *j = arg;
    for (int i = 0; i < IDS_PER_THREAD; i++)
        j->ids[i] = cache_new_id(j->c);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

Test(cache, new_id_is_unique)
{
    struct cache *c = cache_new(10, 0);
    cr_assert_not_null(c);
    cr_expect_eq(cache_new_id(c), 1, "starts at 1");
    cr_expect_eq(cache_new_id(c), 2);
    struct id_job *jobs = calloc(ID_THREADS, sizeof *jobs);
    cr_assert_not_null(jobs);
    pthread_t t[ID_THREADS];
    for (int i = 0; i < ID_THREADS; i++) {
        jobs[i].c = c;
        cr_assert_eq(pthread_create(&t[i], NULL, id_worker, &jobs[i]), 0);
    }
    for (int i = 0; i < ID_THREADS; i++)
        pthread_join(t[i], NULL);
    uint64_t *all = malloc(sizeof(uint64_t) * ID_THREADS * IDS_PER_THREAD);
    cr_assert_not_null(all);
    size_t n = 0;
    for (int i = 0; i < ID_THREADS; i++)
        for (int k = 0; k < IDS_PER_THREAD; k++)
            all[n++] = jobs[i].ids[k];
    qsort(all, n, sizeof *all, cmp_u64);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(all[i], 3 + i, "every id from 3 to %zu, once", n + 2);
    free(all);
    free(jobs);
    /* Each cache has its own counter. */
    struct cache *d = cache_new(10, 0);
    cr_assert_not_null(d);
    cr_expect_eq(cache_new_id(d), 1);
    cache_free(d);
    cache_free(c);
}

/* ---- threads ------------------------------------------------------------------------------ */

enum { THREADS = 4, OPS = 60000, KEYS = 300, CAPACITY = 128, HELD = 4 };

struct stress_job {
    struct cache *c;
    uint64_t seed;
    int bad_values;
};

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A handle's value must be one inserted for its key and not yet deleted. */
static int value_ok(struct cache_handle *h, uint64_t key)
{
    struct val *v = cache_value(h);
    return v->key == key && deleted(v) == 0;
}

static void *stress_worker(void *arg)
{
    struct stress_job *j = arg;
    struct cache_handle *held[HELD] = { 0 };
    for (int i = 0; i < OPS; i++) {
        uint64_t r = xorshift(&j->seed);
        uint64_t key = (r >> 8) % KEYS;
        int slot = (int)((r >> 40) % HELD);
        /* Hold a few handles across operations, so that entries are pinned
         * while others evict, replace or erase them. */
        if (held[slot]) {
            cache_release(j->c, held[slot]);
            held[slot] = NULL;
        }
        switch (r % 8) {
        case 0:
        case 1:
        case 2:
        case 3:
            held[slot] = cache_lookup(j->c, key, 0);
            if (held[slot] && !value_ok(held[slot], key))
                j->bad_values++;
            break;
        case 4:
        case 5:
        case 6: {
            size_t charge = 1 + (size_t)((r >> 50) % 16);
            held[slot] = cache_insert(j->c, key, 0, val_new(key, charge), charge, val_deleter);
            if (!held[slot] || !value_ok(held[slot], key))
                j->bad_values++;
            break;
        }
        default:
            cache_erase(j->c, key, 0);
        }
    }
    for (int s = 0; s < HELD; s++)
        if (held[s])
            cache_release(j->c, held[s]);
    return NULL;
}

Test(cache, threads_delete_each_value_once)
{
    struct cache *c = cache_new(CAPACITY, 2); /* 4 shards of 32 */
    cr_assert_not_null(c);
    struct stress_job jobs[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (struct stress_job){ .c = c, .seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1) };
        cr_assert_eq(pthread_create(&t[i], NULL, stress_worker, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(jobs[i].bad_values, 0, "thread %d saw %d wrong values", i,
                     jobs[i].bad_values);
    }
    /* Nothing is pinned: the usage fits, and it is the sum of the charges of
     * the entries a lookup finds. */
    struct cache_stats s = stats(c);
    cr_expect_leq(s.usage, CAPACITY);
    size_t usage = 0, entries = 0;
    for (uint64_t k = 0; k < KEYS; k++) {
        struct cache_handle *h = cache_lookup(c, k, 0);
        if (!h)
            continue;
        struct val *v = cache_value(h);
        cr_expect_eq(deleted(v), 0);
        usage += v->charge;
        entries++;
        cache_release(c, h);
    }
    cr_expect_eq(usage, s.usage);
    cr_expect_eq(entries, s.entries);
    cr_expect_gt(s.evictions, 0, "the cache was small enough to evict");
    /* Every value not in the cache is deleted already; the rest at free. */
    size_t n = atomic_load(&pool_used);
    cr_expect_eq(atomic_load(&ndeleted), n - entries);
    cache_free(c);
    check_all_deleted_once();
}

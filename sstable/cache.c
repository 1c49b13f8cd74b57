/*
 * cache.c: the sharded LRU cache of cache.h.
 *
 * The key (k1, k2) is hashed once with hash64; the top bits of the hash pick
 * the shard and the low bits the bucket, so the two choices stay independent.
 * Each shard is a small LRU cache of its own behind its own mutex, with a
 * capacity of capacity / shards rounded up (so that a tiny capacity still
 * lets every shard hold something; the shards together may hold up to
 * shards - 1 more than the capacity).
 *
 * A handle is the entry itself.  An entry's refs count one for being in the
 * cache plus one per handle; it is "pinned" while it has a handle.  Under
 * the shard's mutex, every shard keeps these invariants:
 *   - an entry is in the hash table iff it is in the cache (in_cache);
 *   - an entry is on the LRU list iff it is in the cache and unpinned
 *     (refs == 1), most recently used at the head;
 *   - an entry is on the in-use list iff it is pinned (refs > in_cache),
 *     in the cache or not: so cache_free can reach every live entry;
 *   - refs == 0 only for an entry on its way to its deleter: it is on no
 *     list and in no table, and nobody else can reach it;
 *   - usage = sum of the charges of the entries in the cache; entries =
 *     their number; pinned = the length of the in-use list;
 *   - once an insert or release returns, usage <= capacity unless the
 *     pinned entries alone exceed it (only unpinned entries are evicted).
 * Deleters run with no shard lock held: a deleter may take other locks or
 * even call back into the cache.  Entries leaving the cache under the lock
 * are gathered on a private chain and deleted after the unlock.
 */
#include "sstable/cache.h"

#include <assert.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "src/hash.h"
#include "src/status.h"

enum {
    CACHE_MAX_SHARD_BITS = 8,
    /* Buckets of a new shard's table; it doubles as entries outgrow it. */
    CACHE_MIN_BUCKETS = 16,
    /* Keeps shards on separate cache lines: their mutexes are the hot data. */
    CACHE_LINE = 64
};

struct cache_handle {
    struct cache_handle *next_hash; /* bucket chain; the victim chain after */
    struct cache_handle *prev, *next; /* LRU list or in-use list */
    uint64_t k1, k2, hash;
    void *value;
    size_t charge;
    cache_deleter_fn deleter;
    uint32_t refs;
    bool in_cache;
};

/* A circular doubly-linked list with a dummy head: no NULL checks on the
 * hot path.  head.next is the most recent entry, head.prev the oldest. */
struct cache_list {
    struct cache_handle head;
};

struct cache_shard {
    alignas(CACHE_LINE) pthread_mutex_t mu;
    size_t capacity, usage, entries, pinned;
    struct cache_handle **buckets;
    size_t nbuckets; /* a power of two */
    struct cache_list lru, in_use;
    uint64_t hits, misses, inserts, evictions;
};

struct cache {
    size_t capacity;
    int shard_bits;
    atomic_uint_fast64_t next_id;
    struct cache_shard *shards;
};

/* ---- lists ------------------------------------------------------------------ */

static void cache_list_init(struct cache_list *l)
{
    l->head.next = l->head.prev = &l->head;
}

static bool cache_list_empty(const struct cache_list *l)
{
    return l->head.next == &l->head;
}

static void cache_list_remove(struct cache_handle *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = NULL;
}

static void cache_list_push_head(struct cache_list *l, struct cache_handle *e)
{
    e->next = l->head.next;
    e->prev = &l->head;
    e->next->prev = e;
    l->head.next = e;
}

/* ---- hash table ----------------------------------------------------------- */

static uint64_t cache_hash(uint64_t k1, uint64_t k2)
{
    const uint64_t key[2] = { k1, k2 };
    return hash64(key, sizeof key, 0);
}

/* The link that points at the entry with the key, or at the NULL ending the
 * chain: both a lookup and an unlink need it. */
static struct cache_handle **cache_table_find(struct cache_shard *s, uint64_t k1, uint64_t k2,
                                              uint64_t hash)
{
    struct cache_handle **link = &s->buckets[hash & (s->nbuckets - 1)];
    while (*link && ((*link)->hash != hash || (*link)->k1 != k1 || (*link)->k2 != k2))
        link = &(*link)->next_hash;
    return link;
}

/* Double the buckets once the entries outnumber them, keeping chains about
 * one long.  When the allocation fails the old table stays: chains grow
 * longer, which is slower but still correct. */
static void cache_table_grow(struct cache_shard *s)
{
    size_t n = s->nbuckets * 2;
    struct cache_handle **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct cache_handle *e = s->buckets[i];
        while (e) {
            struct cache_handle *next = e->next_hash;
            struct cache_handle **head = &b[e->hash & (n - 1)];
            e->next_hash = *head;
            *head = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

/* ---- entries ------------------------------------------------------------------ */

static void cache_entry_delete(struct cache_handle *e)
{
    if (e->deleter)
        e->deleter(e->value);
    free(e);
}

/* Entries that left the cache under the lock, chained by next_hash in the
 * order they left (so that deleters run in eviction order), to be deleted
 * once the lock is released. */
struct cache_victims {
    struct cache_handle *head, **tail;
};

#define CACHE_VICTIMS_INIT(v) { NULL, &(v).head }

static void cache_victims_add(struct cache_victims *v, struct cache_handle *e)
{
    e->next_hash = NULL;
    *v->tail = e;
    v->tail = &e->next_hash;
}

/* Call with no lock held. */
static void cache_delete_victims(struct cache_victims *v)
{
    struct cache_handle *e = v->head;
    while (e) {
        struct cache_handle *next = e->next_hash;
        cache_entry_delete(e);
        e = next;
    }
}

/* Drop the cache's reference to e, which the caller has just unlinked from
 * the hash table.  Unpinned, it goes onto *victims for deletion after the
 * unlock; pinned, it stays on the in-use list until its last release. */
static void cache_detach(struct cache_shard *s, struct cache_handle *e,
                         struct cache_victims *victims)
{
    e->in_cache = false;
    s->usage -= e->charge;
    s->entries--;
    if (--e->refs == 0) {
        cache_list_remove(e); /* it was on the LRU list */
        cache_victims_add(victims, e);
    }
}

/* Take the entry with the key, if any, out of the cache. */
static void cache_shard_remove(struct cache_shard *s, uint64_t k1, uint64_t k2, uint64_t hash,
                               struct cache_victims *victims)
{
    struct cache_handle **link = cache_table_find(s, k1, k2, hash);
    struct cache_handle *e = *link;
    if (e) {
        *link = e->next_hash;
        cache_detach(s, e, victims);
    }
}

/* Evict from the LRU tail until the usage fits the capacity (or nothing
 * unpinned is left). */
static void cache_evict(struct cache_shard *s, struct cache_victims *victims)
{
    while (s->usage > s->capacity && !cache_list_empty(&s->lru)) {
        struct cache_handle *old = s->lru.head.prev;
        cache_shard_remove(s, old->k1, old->k2, old->hash, victims);
        s->evictions++;
    }
}

/* ---- shards ------------------------------------------------------------------ */

static int cache_shard_init(struct cache_shard *s, size_t capacity)
{
    *s = (struct cache_shard){ .capacity = capacity, .nbuckets = CACHE_MIN_BUCKETS };
    s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
    if (!s->buckets)
        return -1;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s->buckets);
        return -1;
    }
    cache_list_init(&s->lru);
    cache_list_init(&s->in_use);
    return 0;
}

/* Free every entry the shard can reach: those in the cache (both lists) and
 * those pinned after leaving it (the in-use list). */
static void cache_shard_destroy(struct cache_shard *s)
{
    struct cache_list *lists[2] = { &s->lru, &s->in_use };
    for (int i = 0; i < 2; i++) {
        while (!cache_list_empty(lists[i])) {
            struct cache_handle *e = lists[i]->head.next;
            cache_list_remove(e);
            cache_entry_delete(e);
        }
    }
    free(s->buckets);
    pthread_mutex_destroy(&s->mu);
}

static struct cache_shard *cache_shard_of(struct cache *c, uint64_t hash)
{
    /* The top bits: the low ones pick the bucket.  A shift by 64 would be
     * undefined, hence the special case of a single shard. */
    if (c->shard_bits == 0)
        return &c->shards[0];
    return &c->shards[hash >> (64 - c->shard_bits)];
}

/* ---- the API ------------------------------------------------------------------ */

struct cache *cache_new(size_t capacity, int shard_bits)
{
    if (shard_bits < 0 || shard_bits > CACHE_MAX_SHARD_BITS) {
        status_set(STRATA_INVALID_ARGUMENT, "cache: shard_bits %d is outside 0..%d", shard_bits,
                   CACHE_MAX_SHARD_BITS);
        return NULL;
    }
    size_t n = (size_t)1 << shard_bits;
    struct cache *c = malloc(sizeof *c);
    /* sizeof is a multiple of the alignment, as aligned_alloc requires. */
    struct cache_shard *shards = aligned_alloc(alignof(struct cache_shard), n * sizeof *shards);
    if (!c || !shards)
        goto nomem;
    size_t per_shard = capacity / n + (capacity % n != 0);
    for (size_t i = 0; i < n; i++) {
        if (cache_shard_init(&shards[i], per_shard) != 0) {
            while (i-- > 0)
                cache_shard_destroy(&shards[i]);
            goto nomem;
        }
    }
    c->capacity = capacity;
    c->shard_bits = shard_bits;
    atomic_init(&c->next_id, 1);
    c->shards = shards;
    return c;
nomem:
    free(shards);
    free(c);
    status_set(STRATA_NO_MEMORY, "cache: out of memory creating %zu shards", n);
    return NULL;
}

void cache_free(struct cache *c)
{
    if (!c)
        return;
    size_t n = (size_t)1 << c->shard_bits;
    for (size_t i = 0; i < n; i++) {
        /* A pinned entry here is a caller bug (a handle never released). */
        assert(c->shards[i].pinned == 0);
        cache_shard_destroy(&c->shards[i]);
    }
    free(c->shards);
    free(c);
}

struct cache_handle *cache_lookup(struct cache *c, uint64_t k1, uint64_t k2)
{
    uint64_t hash = cache_hash(k1, k2);
    struct cache_shard *s = cache_shard_of(c, hash);
    pthread_mutex_lock(&s->mu);
    struct cache_handle *e = *cache_table_find(s, k1, k2, hash);
    if (e) {
        if (e->refs == 1) { /* unpinned until now: off the LRU list */
            cache_list_remove(e);
            cache_list_push_head(&s->in_use, e);
            s->pinned++;
        }
        e->refs++;
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

/* Put the new, pinned entry e in the shard's cache in place of any entry
 * with its key; then evict what no longer fits. */
static void cache_shard_insert(struct cache_shard *s, struct cache_handle *e,
                               struct cache_victims *victims)
{
    struct cache_handle **link = cache_table_find(s, e->k1, e->k2, e->hash);
    struct cache_handle *old = *link;
    e->next_hash = old ? old->next_hash : NULL;
    *link = e;
    e->in_cache = true;
    e->refs++;
    s->usage += e->charge;
    s->entries++;
    s->inserts++;
    if (old)
        cache_detach(s, old, victims);
    else if (s->entries > s->nbuckets)
        cache_table_grow(s);
    cache_evict(s, victims);
}

struct cache_handle *cache_insert(struct cache *c, uint64_t k1, uint64_t k2, void *value,
                                  size_t charge, cache_deleter_fn deleter)
{
    struct cache_handle *e = malloc(sizeof *e);
    if (!e) {
        status_set(STRATA_NO_MEMORY, "cache: out of memory inserting an entry");
        return NULL;
    }
    *e = (struct cache_handle){ .k1 = k1, .k2 = k2, .hash = cache_hash(k1, k2), .value = value,
                                .charge = charge, .deleter = deleter, .refs = 1 };
    struct cache_shard *s = cache_shard_of(c, e->hash);
    struct cache_victims victims = CACHE_VICTIMS_INIT(victims);
    pthread_mutex_lock(&s->mu);
    cache_list_push_head(&s->in_use, e);
    s->pinned++;
    /* Too big to keep even alone: the caller gets it pinned and its
     * release deletes it.  An older entry with the key still leaves the
     * cache, as after any insert: a lookup must never find a value older
     * than the one last inserted. */
    if (charge <= s->capacity)
        cache_shard_insert(s, e, &victims);
    else
        cache_shard_remove(s, k1, k2, e->hash, &victims);
    pthread_mutex_unlock(&s->mu);
    cache_delete_victims(&victims);
    return e;
}

void *cache_value(const struct cache_handle *h)
{
    return h->value;
}

void cache_release(struct cache *c, struct cache_handle *h)
{
    struct cache_shard *s = cache_shard_of(c, h->hash);
    struct cache_victims victims = CACHE_VICTIMS_INIT(victims);
    pthread_mutex_lock(&s->mu);
    assert(h->refs > (uint32_t)h->in_cache); /* a handle is outstanding */
    bool dead = --h->refs == 0;
    if (dead) { /* out of the cache already: nobody else can reach it */
        cache_list_remove(h);
        s->pinned--;
    } else if (h->in_cache && h->refs == 1) { /* in the cache, now unpinned */
        cache_list_remove(h);
        s->pinned--;
        cache_list_push_head(&s->lru, h);
        /* Pinned entries may have pushed the usage over the capacity: now
         * that one of them can be evicted, bring the usage back under. */
        cache_evict(s, &victims);
    }
    pthread_mutex_unlock(&s->mu);
    if (dead)
        cache_entry_delete(h);
    cache_delete_victims(&victims);
}

void cache_erase(struct cache *c, uint64_t k1, uint64_t k2)
{
    uint64_t hash = cache_hash(k1, k2);
    struct cache_shard *s = cache_shard_of(c, hash);
    struct cache_victims victims = CACHE_VICTIMS_INIT(victims);
    pthread_mutex_lock(&s->mu);
    cache_shard_remove(s, k1, k2, hash, &victims);
    pthread_mutex_unlock(&s->mu);
    cache_delete_victims(&victims);
}

uint64_t cache_new_id(struct cache *c)
{
    return atomic_fetch_add_explicit(&c->next_id, 1, memory_order_relaxed);
}

void cache_get_stats(struct cache *c, struct cache_stats *st)
{
    *st = (struct cache_stats){ .capacity = c->capacity };
    size_t n = (size_t)1 << c->shard_bits;
    for (size_t i = 0; i < n; i++) {
        struct cache_shard *s = &c->shards[i];
        pthread_mutex_lock(&s->mu);
        st->hits += s->hits;
        st->misses += s->misses;
        st->inserts += s->inserts;
        st->evictions += s->evictions;
        st->usage += s->usage;
        st->entries += s->entries;
        pthread_mutex_unlock(&s->mu);
    }
}

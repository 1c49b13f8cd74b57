/*
 * cache.h: a sharded LRU cache with a capacity in bytes of charge, keyed by
 * two 64-bit numbers.  The block cache (key: table id, block offset; charge:
 * the decompressed block's size) and the table cache (key: file number, 0;
 * charge: 1 per open table, capacity: max_open_files) are both instances.
 *
 * Entries are reference-counted: a lookup or insert returns a handle that
 * pins the entry until released, so an entry in use is never freed, even
 * when evicted or replaced (it is then freed by its last release).  Eviction
 * takes the least recently used unpinned entries until the usage fits the
 * capacity; pinned entries may push usage above the capacity for as long as
 * they are pinned.  Each shard has its own mutex; the shard is picked by a
 * hash of the key, so threads reading different blocks rarely meet.
 * Each shard gets capacity / shards, rounded up (so a small capacity such as
 * max_open_files still lets every shard hold something): the usage of all
 * shards together may exceed the capacity by up to shards - 1.
 * Thread-safe.
 */
#ifndef STRATA_CACHE_H
#define STRATA_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct cache;
struct cache_handle;

/* Frees a value when its entry leaves the cache and is no longer pinned.
 * Called exactly once per inserted value, with no cache lock held (it may
 * take other locks or call into the cache).  May be NULL: nothing to free. */
typedef void (*cache_deleter_fn)(void *value);

/* hits and misses count lookups; inserts, the entries put in the cache
 * (not those too big to keep); evictions, the entries taken out to make
 * room (not those replaced or erased).  usage: the sum of the charges of
 * the entries in the cache (entries: their number), pinned or not; an entry
 * replaced or erased while pinned no longer counts. */
struct cache_stats {
    uint64_t hits, misses, inserts, evictions;
    size_t usage, capacity, entries;
};

/* shard_bits: 2^shard_bits shards (0..8).  NULL when out of memory or when
 * shard_bits is out of range (status_set says which). */
struct cache *cache_new(size_t capacity, int shard_bits);
/* Every handle must be released first: a handle still pinned is a caller
 * bug, caught by an assert.  Without asserts (NDEBUG), every value is still
 * freed, pinned or not, and using such a handle afterwards is a use after
 * free.  NULL is a no-op. */
void cache_free(struct cache *c);

/* A pinned handle, or NULL on a miss. */
struct cache_handle *cache_lookup(struct cache *c, uint64_t k1, uint64_t k2);

/* Insert value (replacing any entry with the key) and return it pinned.
 * When the cache cannot hold it (charge > its shard's capacity), it is
 * still returned pinned but not kept (any older entry with the key is
 * dropped all the same): released, it is deleted at once.  NULL when out of
 * memory: value is then not taken (the caller still owns it). */
struct cache_handle *cache_insert(struct cache *c, uint64_t k1, uint64_t k2, void *value,
                                  size_t charge, cache_deleter_fn deleter);

void *cache_value(const struct cache_handle *h);
/* Unpin a handle from cache_lookup() or cache_insert() on this cache. */
void cache_release(struct cache *c, struct cache_handle *h);

/* Drop the entry for the key if present (freed when unpinned). */
void cache_erase(struct cache *c, uint64_t k1, uint64_t k2);

/* A number unique within this cache, so that each opened table gets its own
 * key space even when file numbers are reused by another database. */
uint64_t cache_new_id(struct cache *c);

void cache_get_stats(struct cache *c, struct cache_stats *s);

#endif

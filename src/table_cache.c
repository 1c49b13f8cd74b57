/*
 * table_cache.c: open tables by file number (see table_cache.h).
 *
 * Invariant: every table in the cache is open; a handle returned by
 * find_table pins its table until released, so a table is never closed
 * while a get or an iterator reads it.
 */
#include "src/table_cache.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "src/filename.h"
#include "src/status.h"

struct table_cache {
    struct env *env;
    char *dir;
    struct cache *tables; /* key (file number, 0) -> struct table * */
    struct table_open_options open_options;
};

struct table_cache *table_cache_new(struct env *env, const char *dir, int max_open_files,
                                    const struct table_open_options *o)
{
    struct table_cache *tc = calloc(1, sizeof *tc);
    if (tc) {
        tc->env = env;
        tc->dir = strdup(dir);
        /* Shards spread the lookups of busy readers, but each rounds the
         * capacity up and hashing fills them unevenly: keep at least 64
         * tables per shard so max_open_files stays close to the truth. */
        int shard_bits = max_open_files >= 1024 ? 4 : max_open_files >= 256 ? 2 : 0;
        tc->tables = cache_new((size_t)max_open_files, shard_bits);
        tc->open_options = *o;
    }
    if (!tc || !tc->dir || !tc->tables) {
        table_cache_free(tc);
        status_set(STRATA_NO_MEMORY, "out of memory creating the table cache");
        return NULL;
    }
    return tc;
}

void table_cache_free(struct table_cache *tc)
{
    if (!tc)
        return;
    if (tc->tables)
        cache_free(tc->tables);
    free(tc->dir);
    free(tc);
}

static void close_table(void *value)
{
    table_close(value);
}

/* Open table number and insert it, pinned.  Two threads missing at once
 * both open it; the second insert replaces the first, which closes when
 * its user releases it: rare, and simpler than a wait. */
static int open_table(struct table_cache *tc, uint64_t number, uint64_t file_size,
                      struct cache_handle **h)
{
    char path[PATH_MAX];
    struct env_file *f;
    struct table *t;
    int rc = table_file_name(path, sizeof path, tc->dir, number);
    if (rc == STRATA_OK)
        rc = env_open(tc->env, path, ENV_OPEN_READ, &f);
    if (rc == STRATA_OK)
        rc = table_open(f, file_size, &tc->open_options, &t); /* takes f */
    if (rc != STRATA_OK)
        return rc;
    if (!(*h = cache_insert(tc->tables, number, 0, t, 1, close_table))) {
        table_close(t);
        return STRATA_NO_MEMORY;
    }
    return STRATA_OK;
}

static int find_table(struct table_cache *tc, uint64_t number, uint64_t file_size,
                      struct cache_handle **h)
{
    *h = cache_lookup(tc->tables, number, 0);
    return *h ? STRATA_OK : open_table(tc, number, file_size, h);
}

int table_cache_get(struct table_cache *tc, uint64_t number, uint64_t file_size,
                    const struct table_read_options *ro, struct slice lookup, struct buf *value)
{
    struct cache_handle *h;
    int rc = find_table(tc, number, file_size, &h);
    if (rc != STRATA_OK)
        return rc;
    rc = table_get(cache_value(h), ro, lookup, value);
    cache_release(tc->tables, h);
    return rc;
}

/* ---- an iterator that keeps its table pinned ---------------------------- */

struct pinned_iter {
    struct iter base;
    struct iter *inner;
    struct table_cache *tc;
    struct cache_handle *h;
};

static struct iter *inner_of(const struct iter *it)
{
    return ((const struct pinned_iter *)it)->inner;
}

static int pi_valid(const struct iter *it) { return iter_valid(inner_of(it)); }
static void pi_seek_to_first(struct iter *it) { iter_seek_to_first(inner_of(it)); }
static void pi_seek_to_last(struct iter *it) { iter_seek_to_last(inner_of(it)); }
static void pi_seek(struct iter *it, struct slice t) { iter_seek(inner_of(it), t); }
static void pi_seek_for_prev(struct iter *it, struct slice t) { iter_seek_for_prev(inner_of(it), t); }
static void pi_next(struct iter *it) { iter_next(inner_of(it)); }
static void pi_prev(struct iter *it) { iter_prev(inner_of(it)); }
static struct slice pi_key(const struct iter *it) { return iter_key(inner_of(it)); }
static struct slice pi_value(const struct iter *it) { return iter_value(inner_of(it)); }
static int pi_status(const struct iter *it) { return iter_status(inner_of(it)); }

static void pi_destroy(struct iter *it)
{
    struct pinned_iter *p = (struct pinned_iter *)it;
    iter_destroy(p->inner);
    cache_release(p->tc->tables, p->h);
    free(p);
}

static const struct iter_ops pinned_iter_ops = {
    pi_valid, pi_seek_to_first, pi_seek_to_last, pi_seek, pi_seek_for_prev,
    pi_next, pi_prev, pi_key, pi_value, pi_status, pi_destroy,
};

int table_cache_iter(struct table_cache *tc, uint64_t number, uint64_t file_size,
                     const struct table_read_options *ro, struct iter **out)
{
    struct cache_handle *h;
    *out = NULL;
    int rc = find_table(tc, number, file_size, &h);
    if (rc != STRATA_OK)
        return rc;
    struct pinned_iter *p = malloc(sizeof *p);
    struct iter *inner = p ? table_iter_new(cache_value(h), ro) : NULL;
    if (!inner) {
        free(p);
        cache_release(tc->tables, h);
        return status_set(STRATA_NO_MEMORY, "out of memory iterating table %llu",
                          (unsigned long long)number);
    }
    *p = (struct pinned_iter){ { &pinned_iter_ops }, inner, tc, h };
    *out = &p->base;
    return STRATA_OK;
}

void table_cache_evict(struct table_cache *tc, uint64_t number)
{
    cache_erase(tc->tables, number, 0);
}

void table_cache_get_stats(struct table_cache *tc, struct cache_stats *s)
{
    cache_get_stats(tc->tables, s);
}

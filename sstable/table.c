/*
 * table.c: reads a table (sstable/table.h, docs/sstable_format.md): open,
 * point lookups, the two-level iterator and offset estimates.
 *
 * Invariants of an open table (established by table_open, never changed,
 * so any number of threads may read it at once):
 *   - the footer, index, metaindex, filter and properties were read with
 *     their checksums verified, whatever the options say: they are read
 *     once and everything depends on them;
 *   - index is the whole index block, kept open; filter is the filter's
 *     bytes (NULL when the table has none);
 *   - every block handle is checked to lie inside the file before it is
 *     read (data blocks: below the metaindex), so damage to a handle reads
 *     as corruption, never as a huge allocation;
 *   - cached data blocks are keyed by (cache_id, block offset); cache_id
 *     comes from the cache at open, so two tables never share keys.
 * A data block in use is pinned by a struct block_pin: a cache handle, or
 * the block itself when it is not in the cache; the block iterator's
 * release callback unpins it.
 */
#include "sstable/table.h"

#include <stdlib.h>
#include <string.h>

#include "sstable/block.h"
#include "sstable/bloom.h"
#include "sstable/format.h"
#include "src/dbformat.h"
#include "src/hash.h"
#include "src/status.h"

struct table {
    struct env_file *file;
    const char *name;          /* the file's path, for messages */
    uint64_t file_size;
    const char *map;           /* the whole file mapped, or NULL: read with pread */
    struct block_handle metaindex;
    struct block *index;
    char *filter;              /* NULL: no filter */
    size_t filter_len;
    struct table_properties props;
    struct cache *cache;
    uint64_t cache_id;
    int paranoid;
};

static const struct table_read_options table_default_read = { 0, 1 };

/* ---- checks and block reads ------------------------------------------------------ */

/* Does the block at h, trailer included, end at or before limit? */
static int table_check_handle(const struct table *t, const struct block_handle *h, uint64_t limit,
                              const char *what)
{
    if (h->size <= limit && h->offset <= limit - h->size &&
        limit - h->size - h->offset >= BLOCK_TRAILER_SIZE)
        return STRATA_OK;
    return status_set(STRATA_CORRUPTION,
                      "%s handle (offset %llu, size %llu) outside the %llu bytes it may use in %s",
                      what, (unsigned long long)h->offset, (unsigned long long)h->size,
                      (unsigned long long)limit, t->name);
}

/* Read and open the block at h (checked against limit).  *in_map is set
 * when the block's contents are the mapped file's own bytes (a raw block
 * of a mapped table): such a block must not outlive the table. */
static int table_read_block(const struct table *t, const struct block_handle *h, uint64_t limit,
                            const char *what, int verify, struct block **out, int *in_map)
{
    int rc = table_check_handle(t, h, limit, what);
    struct slice contents;
    int owned = 1;
    if (rc == STRATA_OK && t->map)
        rc = block_read_mapped(t->map, t->file_size, t->name, h, verify, &contents, &owned);
    else if (rc == STRATA_OK)
        rc = block_read(t->file, h, verify, &contents);
    if (rc != STRATA_OK)
        return rc;
    if (in_map)
        *in_map = !owned;
    struct block_origin origin = { t->name, h->offset };
    return block_open(contents, owned, &origin, out);
}

static int table_bad_handle(const struct table *t, const char *where)
{
    return status_set(STRATA_CORRUPTION, "malformed block handle in the %s of %s", where, t->name);
}

/* Decode the whole of v as a handle. */
static int table_decode_handle(struct slice v, struct block_handle *h)
{
    const char *p = v.data;
    return block_handle_decode(&p, v.data + v.len, h) && p == v.data + v.len;
}

/* ---- data blocks and the cache --------------------------------------------------------- */

struct block_pin {
    struct cache *cache;
    struct cache_handle *handle;  /* the block is in the cache */
    struct block *owned;          /* or it is ours alone */
};

static void block_pin_release(void *arg)
{
    struct block_pin *pin = arg;
    if (pin->handle != NULL)
        cache_release(pin->cache, pin->handle);
    block_free(pin->owned);
    pin->handle = NULL;
    pin->owned = NULL;
}

static void table_block_deleter(void *value)
{
    block_free(value);
}

/* The data block at h, pinned in pin: from the cache when it is there,
 * else read (and, with fill_cache, inserted). */
static int table_data_block(const struct table *t, const struct block_handle *h, int verify,
                            int fill_cache, struct block_pin *pin, struct block **out)
{
    pin->cache = t->cache;
    pin->handle = NULL;
    pin->owned = NULL;
    if (t->cache != NULL) {
        pin->handle = cache_lookup(t->cache, t->cache_id, h->offset);
        if (pin->handle != NULL) {
            *out = cache_value(pin->handle);
            return STRATA_OK;
        }
    }
    struct block *b;
    int in_map;
    /* A block that may enter the cache is verified whatever this read asked:
     * a later read that asks for verification takes it from there. */
    verify = verify || (t->cache != NULL && fill_cache);
    int rc = table_read_block(t, h, t->metaindex.offset, "data block", verify, &b, &in_map);
    if (rc != STRATA_OK)
        return rc;
    /* A raw block of a mapped table costs nothing to read again, and its
     * bytes go with the mapping: it stays out of the cache. */
    if (t->cache != NULL && fill_cache && !in_map)
        pin->handle = cache_insert(t->cache, t->cache_id, h->offset, b, block_size(b),
                                   table_block_deleter);
    /* Not cached (or no memory for the entry): the block is ours alone. */
    if (pin->handle == NULL)
        pin->owned = b;
    *out = b;
    return STRATA_OK;
}

/* An iterator over the pinned block, which it unpins when destroyed. */
static struct iter *table_block_iter(struct block *b, struct block_pin *pin)
{
    struct iter *it = block_iter_new(b, internal_key_compare, block_pin_release, pin);
    if (it == NULL)
        status_set(STRATA_NO_MEMORY, "out of memory for a block iterator");
    return it;
}

/* ---- opening ------------------------------------------------------------------------------ */

static int table_read_footer(struct table *t, struct footer *f)
{
    if (t->file_size < FOOTER_SIZE)
        return status_set(STRATA_CORRUPTION, "%s is %llu bytes, too short for a table", t->name,
                          (unsigned long long)t->file_size);
    char buf[FOOTER_SIZE];
    size_t got;
    uint64_t at = t->file_size - FOOTER_SIZE;
    int rc = env_read_at(t->file, at, buf, sizeof buf, &got);
    if (rc != STRATA_OK)
        return rc;
    if (got < sizeof buf)
        return status_set(STRATA_CORRUPTION, "truncated footer at offset %llu of %s",
                          (unsigned long long)at, t->name);
    rc = footer_decode(buf, t->name, f);
    if (rc != STRATA_OK) /* footer_decode knows the file, not where its footer lies */
        return status_set(rc, "%s (footer at offset %llu)", strata_last_error(), (unsigned long long)at);
    return STRATA_OK;
}

static int table_load_filter(struct table *t, const struct block_handle *h)
{
    int rc = table_check_handle(t, h, t->metaindex.offset, "filter");
    struct slice contents;
    if (rc == STRATA_OK) /* read once, into memory of its own: the filter is freed at close */
        rc = block_read(t->file, h, 1, &contents);
    if (rc != STRATA_OK)
        return rc;
    free(t->filter);
    t->filter = (char *)contents.data;
    t->filter_len = contents.len;
    return STRATA_OK;
}

static int table_load_properties(struct table *t, const struct block_handle *h)
{
    struct block *b;
    int rc = table_read_block(t, h, t->metaindex.offset, "properties", 1, &b, NULL);
    if (rc != STRATA_OK)
        return rc;
    struct iter *it = block_iter_new(b, slice_compare, NULL, NULL);
    if (it == NULL) {
        block_free(b);
        return status_set(STRATA_NO_MEMORY, "out of memory reading the properties of %s", t->name);
    }
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it)) {
        rc = table_properties_decode_one(&t->props, iter_key(it), iter_value(it));
        if (rc == STRATA_CORRUPTION)
            status_set(rc, "malformed property %.*s in %s", (int)iter_key(it).len,
                       iter_key(it).data, t->name);
        if (rc != STRATA_OK)
            break;
    }
    if (rc == STRATA_OK)
        rc = iter_status(it);
    iter_destroy(it);
    block_free(b);
    return rc;
}

/* One metaindex entry: the filter, the properties, or a block this
 * version does not know (skipped, for forward compatibility). */
static int table_load_meta_entry(struct table *t, struct slice name, struct slice value,
                                 int *have_props)
{
    int is_filter = slice_equal(name, slice_make("filter.strata.bloom", 19));
    int is_props = slice_equal(name, slice_make("properties", 10));
    if (!is_filter && !is_props)
        return STRATA_OK;
    struct block_handle h;
    if (!table_decode_handle(value, &h))
        return table_bad_handle(t, "metaindex");
    if (is_filter)
        return table_load_filter(t, &h);
    *have_props = 1;
    return table_load_properties(t, &h);
}

static int table_load_metaindex(struct table *t)
{
    struct block *mb;
    int rc = table_read_block(t, &t->metaindex, t->file_size - FOOTER_SIZE, "metaindex", 1, &mb,
                              NULL);
    if (rc != STRATA_OK)
        return rc;
    struct iter *it = block_iter_new(mb, slice_compare, NULL, NULL);
    if (it == NULL) {
        block_free(mb);
        return status_set(STRATA_NO_MEMORY, "out of memory reading the metaindex of %s", t->name);
    }
    int have_props = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it)) {
        rc = table_load_meta_entry(t, iter_key(it), iter_value(it), &have_props);
        if (rc != STRATA_OK)
            break;
    }
    if (rc == STRATA_OK)
        rc = iter_status(it);
    if (rc == STRATA_OK && !have_props)
        rc = status_set(STRATA_CORRUPTION, "no properties block in %s", t->name);
    iter_destroy(it);
    block_free(mb);
    return rc;
}

static int table_load(struct table *t)
{
    struct footer f;
    int rc = table_read_footer(t, &f);
    if (rc != STRATA_OK)
        return rc;
    t->metaindex = f.metaindex;
    uint64_t limit = t->file_size - FOOTER_SIZE;
    rc = table_read_block(t, &f.index, limit, "index", 1, &t->index, NULL);
    if (rc == STRATA_OK)
        rc = table_load_metaindex(t);
    return rc;
}

int table_open(struct env_file *file, uint64_t file_size, const struct table_open_options *o,
               struct table **out)
{
    *out = NULL;
    struct table *t = calloc(1, sizeof *t);
    if (t == NULL) {
        env_close(file);
        return status_set(STRATA_NO_MEMORY, "out of memory opening %s", env_file_path(file));
    }
    t->file = file;
    t->name = env_file_path(file);
    t->file_size = file_size;
    t->cache = o ? o->block_cache : NULL;
    t->paranoid = o ? o->paranoid_checks : 0;
    /* Mapping is an optimisation: when it fails, reads use pread. */
    if (o && o->mmap_reads && file_size > 0 && env_map_readonly(file, file_size, &t->map) != STRATA_OK)
        t->map = NULL;
    int rc = table_load(t);
    if (rc != STRATA_OK) {
        table_close(t);
        return rc;
    }
    if (t->cache != NULL)
        t->cache_id = cache_new_id(t->cache);
    *out = t;
    return STRATA_OK;
}

void table_close(struct table *t)
{
    if (t == NULL)
        return;
    block_free(t->index);
    free(t->filter);
    table_properties_free(&t->props);
    env_unmap_readonly(t->map, t->file_size);
    env_close(t->file);
    free(t);
}

const struct table_properties *table_get_properties(const struct table *t)
{
    return &t->props;
}

const char *table_path(const struct table *t)
{
    return t->name;
}

int table_may_contain(const struct table *t, uint64_t user_key_hash)
{
    if (t->filter == NULL)
        return 1;
    return bloom_may_contain(slice_make(t->filter, t->filter_len), user_key_hash);
}

/* ---- point lookups -------------------------------------------------------------------------- */

static int table_verify(const struct table *t, const struct table_read_options *ro)
{
    return ro->verify_checksums || t->paranoid;
}

/* The handle of the data block that holds the first entry >= key, found
 * through the index; 0 when key is past the last block, 1 when found, or
 * a negative status. */
static int table_find_block(const struct table *t, struct slice key, struct block_handle *h)
{
    struct iter *ii = block_iter_new(t->index, internal_key_compare, NULL, NULL);
    if (ii == NULL)
        return status_set(STRATA_NO_MEMORY, "out of memory for an index iterator");
    iter_seek(ii, key);
    int rc = iter_valid(ii) ? 1 : iter_status(ii);
    if (rc == 1 && !table_decode_handle(iter_value(ii), h))
        rc = table_bad_handle(t, "index");
    iter_destroy(ii);
    return rc;
}

/* Judge the entry the data iterator stopped at for lookup. */
static int table_get_match(const struct table *t, const struct block_handle *h, struct iter *di,
                           struct slice lookup, struct buf *value)
{
    if (!iter_valid(di))
        return iter_status(di) != STRATA_OK ? iter_status(di) : TABLE_ABSENT;
    struct parsed_internal_key pk;
    if (!parse_internal_key(iter_key(di), &pk))
        return status_set(STRATA_CORRUPTION, "malformed internal key in block at offset %llu of %s",
                          (unsigned long long)h->offset, t->name);
    if (!slice_equal(pk.user_key, internal_key_user_key(lookup)))
        return TABLE_ABSENT;
    if (pk.type == TYPE_DELETION)
        return TABLE_DELETED;
    struct slice v = iter_value(di);
    buf_clear(value);
    return buf_append(value, v.data, v.len) == STRATA_OK ? TABLE_FOUND : STRATA_NO_MEMORY;
}

int table_get(struct table *t, const struct table_read_options *ro, struct slice lookup,
              struct buf *value)
{
    if (ro == NULL)
        ro = &table_default_read;
    if (lookup.len < INTERNAL_KEY_TAG_LEN)
        return status_set(STRATA_INVALID_ARGUMENT, "table_get: lookup key of %zu bytes", lookup.len);
    struct slice uk = internal_key_user_key(lookup);
    if (t->filter != NULL && !table_may_contain(t, hash64(uk.data, uk.len, 0)))
        return TABLE_ABSENT;
    struct block_handle h;
    int rc = table_find_block(t, lookup, &h);
    if (rc <= 0)
        return rc == 0 ? TABLE_ABSENT : rc;
    /* The separator after a block sorts before every entry of the user
     * keys of the next block, so the entry for lookup is in this block or
     * nowhere: one block read per lookup. */
    struct block_pin pin;
    struct block *b;
    rc = table_data_block(t, &h, table_verify(t, ro), ro->fill_cache, &pin, &b);
    if (rc != STRATA_OK)
        return rc;
    struct iter *di = table_block_iter(b, &pin);
    if (di == NULL)
        return STRATA_NO_MEMORY;
    iter_seek(di, lookup);
    rc = table_get_match(t, &h, di, lookup, value);
    iter_destroy(di);
    return rc;
}

uint64_t table_approximate_offset(const struct table *t, struct slice key)
{
    struct block_handle h;
    /* Past the last block (or on any failure, or at a handle past the
     * data: a damaged index): the data ends about where the metaindex
     * starts. */
    return table_find_block(t, key, &h) == 1 && h.offset < t->metaindex.offset
               ? h.offset
               : t->metaindex.offset;
}

/* ---- the two-level iterator -------------------------------------------------------------------- */

/* An index iterator picks the data block; a block iterator walks it.  The
 * current block stays pinned (pin) while data iterates it.  status is
 * sticky: after a read error the iterator stays invalid. */
struct table_iter {
    struct iter base;
    struct table *t;
    int verify, fill_cache;
    struct iter *index;
    struct iter *data;              /* over the block at data_handle, or NULL */
    struct block_handle data_handle;
    struct block_pin pin;
    int status;
};

static void table_iter_drop_data(struct table_iter *it)
{
    iter_destroy(it->data); /* unpins the block */
    it->data = NULL;
}

static void table_iter_fail(struct table_iter *it, int rc)
{
    if (it->status == STRATA_OK)
        it->status = rc;
    table_iter_drop_data(it);
}

/* Make data iterate the block the index is at (keeping the iterator when
 * it already does); data is NULL when the index is not valid. */
static void table_iter_load_block(struct table_iter *it)
{
    if (!iter_valid(it->index)) {
        table_iter_drop_data(it);
        if (iter_status(it->index) != STRATA_OK)
            table_iter_fail(it, iter_status(it->index));
        return;
    }
    struct block_handle h;
    if (!table_decode_handle(iter_value(it->index), &h)) {
        table_iter_fail(it, table_bad_handle(it->t, "index"));
        return;
    }
    if (it->data != NULL && h.offset == it->data_handle.offset && h.size == it->data_handle.size)
        return;
    table_iter_drop_data(it);
    struct block *b;
    int rc = table_data_block(it->t, &h, it->verify, it->fill_cache, &it->pin, &b);
    if (rc == STRATA_OK && (it->data = table_block_iter(b, &it->pin)) == NULL)
        rc = STRATA_NO_MEMORY;
    if (rc != STRATA_OK) {
        table_iter_fail(it, rc);
        return;
    }
    it->data_handle = h;
}

/* Until data is at an entry: on to the following blocks (empty blocks
 * are skipped), stopping at the end or at an error. */
static void table_iter_skip_forward(struct table_iter *it)
{
    while (it->status == STRATA_OK && (it->data == NULL || !iter_valid(it->data))) {
        if (it->data != NULL && iter_status(it->data) != STRATA_OK) {
            table_iter_fail(it, iter_status(it->data));
            return;
        }
        if (!iter_valid(it->index)) {
            table_iter_load_block(it); /* drops data, records an index error */
            return;
        }
        iter_next(it->index);
        table_iter_load_block(it);
        if (it->data != NULL)
            iter_seek_to_first(it->data);
    }
}

static void table_iter_skip_backward(struct table_iter *it)
{
    while (it->status == STRATA_OK && (it->data == NULL || !iter_valid(it->data))) {
        if (it->data != NULL && iter_status(it->data) != STRATA_OK) {
            table_iter_fail(it, iter_status(it->data));
            return;
        }
        if (!iter_valid(it->index)) {
            table_iter_load_block(it);
            return;
        }
        iter_prev(it->index);
        table_iter_load_block(it);
        if (it->data != NULL)
            iter_seek_to_last(it->data);
    }
}

static int table_iter_valid(const struct iter *base)
{
    const struct table_iter *it = (const struct table_iter *)base;
    return it->status == STRATA_OK && it->data != NULL && iter_valid(it->data);
}

static void table_iter_seek_to_first(struct iter *base)
{
    struct table_iter *it = (struct table_iter *)base;
    if (it->status != STRATA_OK)
        return;
    iter_seek_to_first(it->index);
    table_iter_load_block(it);
    if (it->data != NULL)
        iter_seek_to_first(it->data);
    table_iter_skip_forward(it);
}

static void table_iter_seek_to_last(struct iter *base)
{
    struct table_iter *it = (struct table_iter *)base;
    if (it->status != STRATA_OK)
        return;
    iter_seek_to_last(it->index);
    table_iter_load_block(it);
    if (it->data != NULL)
        iter_seek_to_last(it->data);
    table_iter_skip_backward(it);
}

static void table_iter_seek(struct iter *base, struct slice target)
{
    struct table_iter *it = (struct table_iter *)base;
    if (it->status != STRATA_OK)
        return;
    iter_seek(it->index, target);
    table_iter_load_block(it);
    if (it->data != NULL)
        iter_seek(it->data, target);
    table_iter_skip_forward(it);
}

/* The block whose separator is the first >= target holds the last entry
 * <= target, or that entry is the last of the block before (every entry
 * there is <= its separator < target).  No such separator: every entry is
 * < target, and the answer is the last entry. */
static void table_iter_seek_for_prev(struct iter *base, struct slice target)
{
    struct table_iter *it = (struct table_iter *)base;
    if (it->status != STRATA_OK)
        return;
    iter_seek(it->index, target);
    if (!iter_valid(it->index)) {
        if (iter_status(it->index) != STRATA_OK)
            table_iter_fail(it, iter_status(it->index));
        else
            table_iter_seek_to_last(base);
        return;
    }
    table_iter_load_block(it);
    if (it->data != NULL)
        iter_seek_for_prev(it->data, target);
    table_iter_skip_backward(it);
}

static void table_iter_next(struct iter *base)
{
    struct table_iter *it = (struct table_iter *)base;
    iter_next(it->data);
    table_iter_skip_forward(it);
}

static void table_iter_prev(struct iter *base)
{
    struct table_iter *it = (struct table_iter *)base;
    iter_prev(it->data);
    table_iter_skip_backward(it);
}

static struct slice table_iter_key(const struct iter *base)
{
    const struct table_iter *it = (const struct table_iter *)base;
    return iter_key(it->data);
}

static struct slice table_iter_value(const struct iter *base)
{
    const struct table_iter *it = (const struct table_iter *)base;
    return iter_value(it->data);
}

static int table_iter_status(const struct iter *base)
{
    const struct table_iter *it = (const struct table_iter *)base;
    return it->status;
}

static void table_iter_destroy(struct iter *base)
{
    struct table_iter *it = (struct table_iter *)base;
    table_iter_drop_data(it);
    iter_destroy(it->index);
    free(it);
}

static const struct iter_ops table_iter_ops = {
    .valid = table_iter_valid,
    .seek_to_first = table_iter_seek_to_first,
    .seek_to_last = table_iter_seek_to_last,
    .seek = table_iter_seek,
    .seek_for_prev = table_iter_seek_for_prev,
    .next = table_iter_next,
    .prev = table_iter_prev,
    .key = table_iter_key,
    .value = table_iter_value,
    .status = table_iter_status,
    .destroy = table_iter_destroy,
};

struct iter *table_iter_new(struct table *t, const struct table_read_options *ro)
{
    if (ro == NULL)
        ro = &table_default_read;
    struct table_iter *it = calloc(1, sizeof *it);
    if (it == NULL) {
        status_set(STRATA_NO_MEMORY, "out of memory for a table iterator");
        return NULL;
    }
    it->base.ops = &table_iter_ops;
    it->t = t;
    it->verify = table_verify(t, ro);
    it->fill_cache = ro->fill_cache;
    it->index = block_iter_new(t->index, internal_key_compare, NULL, NULL);
    if (it->index == NULL) {
        free(it);
        status_set(STRATA_NO_MEMORY, "out of memory for a table iterator");
        return NULL;
    }
    return &it->base;
}

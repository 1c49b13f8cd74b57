/*
 * fuzz_table.c: libFuzzer target for the table reader (sstable/table.c,
 * sstable/format.c), through a scratch file, as the reader reads tables.
 *
 * Input: a flag byte, then
 *   flag bit 7 clear (raw mode): a table image.  Bits: 0 recompute the
 *     checksums of the image first (fuzz_fix_table_checksums: footer, index,
 *     metaindex, data, filter and properties trailers), so that mutations
 *     reach the decoders behind them; 1 verify_checksums on reads; 2
 *     paranoid_checks; 3 mmap_reads; 4 a block cache; 5 fill_cache.
 *   flag bit 7 set (build mode): builder settings (block size, restart
 *     interval, bloom bits; bit 0 of the flags: zstd), then entries
 *     (length-prefixed user key, a byte of sequence and type,
 *     length-prefixed value), built into a table by table_builder and read
 *     back with the reader options of bits 1..5.
 *
 * What it checks besides "no crash, no sanitizer report, no leak, no hang":
 *   - raw mode: a failure to open is STRATA_CORRUPTION naming the file;
 *     an opened table scans forwards and backwards to the same entries in
 *     reverse order when both scans succeed; with a cache, a second scan
 *     (from cached blocks) gives the same; gets and seeks to keys met in
 *     the scan and approximate offsets never fail with anything but
 *     STRATA_CORRUPTION naming the file, and offsets stay inside the file;
 *   - build mode: the table reads back exactly its model: both scans, a
 *     get of every entry at its own sequence number and of every user key
 *     at the newest, absent keys absent, seeks and seek_for_prev to every
 *     key, approximate offsets non-decreasing in key order and inside the
 *     file, the entry and deletion counts of the properties.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sstable/cache.h"
#include "sstable/table.h"
#include "sstable/table_builder.h"
#include "src/buf.h"
#include "src/dbformat.h"
#include "src/hash.h"
#include "src/status.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    F_FIX = 1, F_VERIFY = 2, F_PARANOID = 4, F_MMAP = 8, F_CACHE = 16, F_FILL = 32, F_BUILD = 128,
    /* keys of a scan that are tried with get and seek (evenly spread) */
    MAX_PROBES = 64,
    MAX_ENTRIES = 512, /* of a built table */
};

static const char *path;  /* the scratch file, for the messages' check */

/* An error from the reader must be corruption and must name the file. */
static void check_error(int rc, const char *what)
{
    FUZZ_CHECK(rc == STRATA_CORRUPTION, "%s: status %d", what, rc);
    FUZZ_CHECK(strstr(strata_last_error(), path) != NULL, "%s: message does not name %s", what,
               path);
}

/* ---- scans ---------------------------------------------------------------------- */

struct seen {
    uint64_t key_hash, value_hash;
    size_t key_len, value_len;
};

struct scan {
    struct seen *e;
    size_t n, cap;
    int status;
};

static struct seen seen_of(struct slice k, struct slice v)
{
    struct seen s = { hash64(k.data, k.len, 0), hash64(v.data, v.len, 0), k.len, v.len };
    return s;
}

static int seen_equal(struct seen a, struct seen b)
{
    return a.key_hash == b.key_hash && a.value_hash == b.value_hash && a.key_len == b.key_len &&
           a.value_len == b.value_len;
}

static void scan_push(struct scan *s, struct seen e)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->e = realloc(s->e, s->cap * sizeof *s->e);
        FUZZ_CHECK(s->e != NULL, "out of memory");
    }
    s->e[s->n++] = e;
}

/* Forwards (or backwards), each entry as hashes, in the order met. */
static void scan_table(struct table *t, const struct table_read_options *ro, int backward,
                       struct scan *s)
{
    struct iter *it = table_iter_new(t, ro);
    FUZZ_CHECK(it != NULL, "table_iter_new");
    if (backward)
        iter_seek_to_last(it);
    else
        iter_seek_to_first(it);
    while (iter_valid(it)) {
        scan_push(s, seen_of(iter_key(it), iter_value(it)));
        if (backward)
            iter_prev(it);
        else
            iter_next(it);
    }
    s->status = iter_status(it);
    if (s->status != STRATA_OK) {
        check_error(s->status, "scan");
        iter_seek_to_first(it);
        FUZZ_CHECK(!iter_valid(it), "a failed table iterator is valid again");
    }
    iter_destroy(it);
}

static void check_reverse(const struct scan *fwd, const struct scan *bwd)
{
    if (fwd->status != STRATA_OK || bwd->status != STRATA_OK)
        return;
    FUZZ_CHECK(fwd->n == bwd->n, "forward scan %zu entries, backward %zu", fwd->n, bwd->n);
    for (size_t i = 0; i < fwd->n; i++)
        FUZZ_CHECK(seen_equal(fwd->e[i], bwd->e[fwd->n - 1 - i]), "entry %zu differs", i);
}

static void check_same(const struct scan *a, const struct scan *b)
{
    FUZZ_CHECK(a->status == b->status && a->n == b->n, "a second scan differs");
    for (size_t i = 0; i < a->n; i++)
        FUZZ_CHECK(seen_equal(a->e[i], b->e[i]), "a second scan differs at %zu", i);
}

/* ---- raw mode ------------------------------------------------------------------------ */

/* Get, seek and estimate at the keys the scan meets (every step-th). */
static void probe_keys(struct table *t, const struct table_read_options *ro, uint64_t file_size,
                       size_t step)
{
    struct iter *walk = table_iter_new(t, ro);
    struct iter *it = table_iter_new(t, ro);
    FUZZ_CHECK(walk && it, "table_iter_new");
    struct buf value = { 0 };
    size_t i = 0;
    for (iter_seek_to_first(walk); iter_valid(walk); iter_next(walk), i++) {
        if (i % step)
            continue;
        struct slice k = iter_key(walk);
        FUZZ_CHECK(table_approximate_offset(t, k) <= file_size, "offset past the file");
        if (k.len >= INTERNAL_KEY_TAG_LEN) {
            int rc = table_get(t, ro, k, &value);
            if (rc < 0)
                check_error(rc, "get");
        }
        iter_seek(it, k);
        if (!iter_valid(it) && iter_status(it) != STRATA_OK)
            check_error(iter_status(it), "seek");
        iter_seek_for_prev(it, k);
        if (!iter_valid(it) && iter_status(it) != STRATA_OK)
            check_error(iter_status(it), "seek_for_prev");
    }
    buf_free(&value);
    iter_destroy(it);
    iter_destroy(walk);
}

static void open_options(uint8_t flags, struct cache *cache, struct table_open_options *o,
                         struct table_read_options *ro)
{
    o->block_cache = (flags & F_CACHE) ? cache : NULL;
    o->paranoid_checks = (flags & F_PARANOID) != 0;
    o->mmap_reads = (flags & F_MMAP) != 0;
    ro->verify_checksums = (flags & F_VERIFY) != 0;
    ro->fill_cache = (flags & F_FILL) != 0;
}

static void fuzz_raw(uint8_t flags, struct slice image, struct cache *cache)
{
    char *copy = malloc(image.len ? image.len : 1);
    FUZZ_CHECK(copy != NULL, "out of memory");
    memcpy(copy, image.data, image.len);
    if (flags & F_FIX)
        fuzz_fix_table_checksums(copy, image.len);
    path = fuzz_write_scratch(copy, image.len);
    free(copy);

    struct table_open_options o;
    struct table_read_options ro;
    open_options(flags, cache, &o, &ro);
    struct table *t;
    int rc = table_open(fuzz_open_scratch(), image.len, &o, &t);
    if (rc != STRATA_OK) {
        check_error(rc, "open");
        return;
    }
    struct scan fwd = { 0 }, bwd = { 0 }, again = { 0 };
    scan_table(t, &ro, 0, &fwd);
    scan_table(t, &ro, 1, &bwd);
    check_reverse(&fwd, &bwd);
    if (o.block_cache) {
        scan_table(t, &ro, 0, &again);
        check_same(&fwd, &again);
    }
    probe_keys(t, &ro, image.len, fwd.n / MAX_PROBES + 1);
    free(fwd.e);
    free(bwd.e);
    free(again.e);
    table_close(t);
}

/* ---- build mode ------------------------------------------------------------------------ */

struct entry {
    struct slice user_key, value;
    uint64_t sequence;
    enum value_type type;
    struct buf ikey;
};

static int entry_compare(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    return internal_key_compare(buf_slice(&x->ikey), buf_slice(&y->ikey));
}

/* Parse the entries, sort them and drop duplicate internal keys. */
static struct entry *build_model(struct fuzz_input *in, size_t *count)
{
    /* Bounded: the model's lookups are linear. */
    size_t cap = in->left / 3 + 1 < MAX_ENTRIES ? in->left / 3 + 1 : MAX_ENTRIES, n = 0;
    struct entry *e = calloc(cap, sizeof *e);
    FUZZ_CHECK(e != NULL, "out of memory");
    while (in->left > 0 && n < cap) {
        struct entry *x = &e[n++];
        x->user_key = fuzz_lp(in);
        uint8_t st = fuzz_byte(in);
        x->value = fuzz_lp(in);
        x->sequence = st >> 1;
        x->type = (st & 1) ? TYPE_VALUE : TYPE_DELETION;
        FUZZ_CHECK(buf_put_internal_key(&x->ikey, x->user_key, x->sequence, x->type) == STRATA_OK,
                   "out of memory");
    }
    qsort(e, n, sizeof *e, entry_compare);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && entry_compare(&e[m - 1], &e[i]) == 0) {
            buf_free(&e[i].ikey);
            continue;
        }
        e[m++] = e[i];
    }
    *count = m;
    return e;
}

/* The newest entry of user key uk at or below sequence seq in the model. */
static const struct entry *model_get(const struct entry *e, size_t n, struct slice uk, uint64_t seq)
{
    for (size_t i = 0; i < n; i++)
        if (slice_equal(e[i].user_key, uk) && e[i].sequence <= seq)
            return &e[i]; /* sorted newest first within a user key */
    return NULL;
}

static void check_get(struct table *t, const struct table_read_options *ro, const struct entry *e,
                      size_t n, struct slice uk, uint64_t seq, struct buf *lookup, struct buf *value)
{
    buf_clear(lookup);
    FUZZ_CHECK(buf_put_internal_key(lookup, uk, seq, TYPE_FOR_SEEK) == STRATA_OK, "out of memory");
    int rc = table_get(t, ro, buf_slice(lookup), value);
    const struct entry *want = model_get(e, n, uk, seq);
    if (want == NULL) {
        FUZZ_CHECK(rc == TABLE_ABSENT, "get of an absent key: %d", rc);
    } else if (want->type == TYPE_DELETION) {
        FUZZ_CHECK(rc == TABLE_DELETED, "get of a deleted key: %d", rc);
    } else {
        FUZZ_CHECK(rc == TABLE_FOUND, "get of a present key: %d", rc);
        FUZZ_CHECK(slice_equal(buf_slice(value), want->value), "get returns another value");
    }
}

static void check_built(struct table *t, const struct table_read_options *ro,
                        const struct entry *e, size_t n, uint64_t file_size)
{
    struct scan fwd = { 0 }, bwd = { 0 };
    scan_table(t, ro, 0, &fwd);
    scan_table(t, ro, 1, &bwd);
    FUZZ_CHECK(fwd.status == STRATA_OK && bwd.status == STRATA_OK, "a built table fails to scan");
    FUZZ_CHECK(fwd.n == n, "built %zu entries, scanned %zu", n, fwd.n);
    check_reverse(&fwd, &bwd);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(seen_equal(fwd.e[i], seen_of(buf_slice(&e[i].ikey), e[i].value)),
                   "entry %zu reads back different", i);
    free(fwd.e);
    free(bwd.e);

    const struct table_properties *p = table_get_properties(t);
    uint64_t deletions = 0;
    for (size_t i = 0; i < n; i++)
        deletions += e[i].type == TYPE_DELETION;
    FUZZ_CHECK(p->entries == n && p->deletions == deletions, "properties: %llu entries, %llu deletions",
               (unsigned long long)p->entries, (unsigned long long)p->deletions);

    struct buf lookup = { 0 }, value = { 0 }, absent = { 0 };
    struct iter *it = table_iter_new(t, ro);
    FUZZ_CHECK(it != NULL, "table_iter_new");
    uint64_t last_offset = 0;
    for (size_t i = 0; i < n; i++) {
        struct slice ik = buf_slice(&e[i].ikey);
        check_get(t, ro, e, n, e[i].user_key, e[i].sequence, &lookup, &value);
        check_get(t, ro, e, n, e[i].user_key, MAX_SEQUENCE, &lookup, &value);
        /* The user key with a zero byte appended is absent unless it is
         * itself a key of the model; check_get knows which. */
        buf_clear(&absent);
        FUZZ_CHECK(buf_append(&absent, e[i].user_key.data, e[i].user_key.len) == STRATA_OK &&
                       buf_append(&absent, "", 1) == STRATA_OK,
                   "out of memory");
        check_get(t, ro, e, n, buf_slice(&absent), MAX_SEQUENCE, &lookup, &value);
        iter_seek(it, ik);
        FUZZ_CHECK(iter_valid(it) && slice_equal(iter_key(it), ik), "seek to entry %zu", i);
        iter_seek_for_prev(it, ik);
        FUZZ_CHECK(iter_valid(it) && slice_equal(iter_key(it), ik), "seek_for_prev to entry %zu", i);
        uint64_t off = table_approximate_offset(t, ik);
        FUZZ_CHECK(off >= last_offset && off <= file_size, "offset %llu after %llu (file %llu)",
                   (unsigned long long)off, (unsigned long long)last_offset,
                   (unsigned long long)file_size);
        last_offset = off;
    }
    iter_destroy(it);
    buf_free(&lookup);
    buf_free(&value);
    buf_free(&absent);
}

static void fuzz_build(uint8_t flags, struct fuzz_input *in, struct cache *cache)
{
    struct table_builder_options bo = { 0 };
    bo.block_size = 1 + (size_t)fuzz_byte(in) * 8;
    bo.restart_interval = 1 + fuzz_byte(in) % 16;
    bo.bloom_bits_per_key = fuzz_byte(in) % 16;
    bo.compression = (flags & F_FIX) ? STRATA_COMPRESSION_ZSTD : STRATA_COMPRESSION_NONE;
    bo.compression_level = 1;
    size_t n;
    struct entry *e = build_model(in, &n);

    struct env_file *f = fuzz_create_scratch(0);
    path = fuzz_scratch_path();
    struct table_builder *b = table_builder_new(&bo, f);
    FUZZ_CHECK(b != NULL, "table_builder_new");
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(table_builder_add(b, buf_slice(&e[i].ikey), e[i].value) == STRATA_OK, "add %zu", i);
    FUZZ_CHECK(table_builder_finish(b) == STRATA_OK, "finish");
    uint64_t file_size = table_builder_file_size(b);
    table_builder_free(b);
    FUZZ_CHECK(env_close(f) == STRATA_OK, "close");

    struct table_open_options o;
    struct table_read_options ro;
    open_options(flags, cache, &o, &ro);
    struct table *t;
    FUZZ_CHECK(table_open(fuzz_open_scratch(), file_size, &o, &t) == STRATA_OK,
               "a built table does not open");
    check_built(t, &ro, e, n, file_size);
    table_close(t);
    for (size_t i = 0; i < n; i++)
        buf_free(&e[i].ikey);
    free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A small cache, so that inputs also exercise eviction; one per input,
     * so that no state carries over from one input to the next. */
    struct cache *cache = cache_new(16 << 10, 1);
    FUZZ_CHECK(cache != NULL, "cache_new");
    struct fuzz_input in = fuzz_input_make(data, size);
    uint8_t flags = fuzz_byte(&in);
    if (flags & F_BUILD)
        fuzz_build(flags, &in, cache);
    else
        fuzz_raw(flags, fuzz_rest(&in), cache);
    cache_free(cache);
    return 0;
}

/*
 * test_table.c: the table files (sstable/format.c, table_builder.c,
 * table.c).
 *
 * Every test builds tables in its own temporary directory from a model: a
 * sorted array of (internal key, value) that is the oracle for lookups,
 * seeks and walks.  table_layout() reads a table back with the format
 * functions alone (footer, index, metaindex, trailers), independently of
 * table.c, so that the layout itself is under test: separators bracket
 * their blocks, blocks tile the data region, the raw fallback happens.
 * Damage tests flip bytes with plain file I/O and require
 * STRATA_CORRUPTION naming the file, never a crash or wrong data.  Random
 * tests use fixed seeds, printed so that a failure can be replayed.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "sstable/block.h"
#include "sstable/block_builder.h"
#include "sstable/cache.h"
#include "sstable/format.h"
#include "sstable/table.h"
#include "sstable/table_builder.h"
#include "src/buf.h"
#include "src/coding.h"
#include "src/dbformat.h"
#include "src/env.h"
#include "src/hash.h"
#include "src/status.h"
#include "tests/testutil.h"

/* Criterion reports every assertion to its runner, even a passing one; the
 * loops below check hundreds of thousands of results, so they only call it
 * on failure. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            cr_assert_fail(__VA_ARGS__);                                                           \
    } while (0)

static struct env *env;
static char *dir;

static void table_setup(void)
{
    env = env_new();
    cr_assert_not_null(env);
    dir = tu_mkdtemp("table");
    cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
}

static void table_teardown(void)
{
    tu_rmrf(dir);
    free(dir);
    env_free(env);
}

TestSuite(table, .init = table_setup, .fini = table_teardown);

/* ---- the model ----------------------------------------------------------------- */

struct entry {
    struct buf key;  /* internal key */
    struct buf value;
};

struct model {
    struct entry *e;
    size_t n, cap;
};

static void model_add(struct model *m, const void *uk, size_t uklen, uint64_t seq,
                      enum value_type type, const void *v, size_t vlen)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->e = realloc(m->e, m->cap * sizeof *m->e);
        cr_assert_not_null(m->e);
    }
    struct entry *e = &m->e[m->n++];
    memset(e, 0, sizeof *e);
    cr_assert_eq(buf_put_internal_key(&e->key, slice_make(uk, uklen), seq, type), STRATA_OK);
    if (vlen)
        cr_assert_eq(buf_append(&e->value, v, vlen), STRATA_OK);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    return internal_key_compare(buf_slice(&x->key), buf_slice(&y->key));
}

static void entry_free(struct entry *e)
{
    buf_free(&e->key);
    buf_free(&e->value);
}

/* Sort, and keep one entry per internal key. */
static void model_finish(struct model *m)
{
    qsort(m->e, m->n, sizeof *m->e, entry_cmp);
    size_t out = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (out > 0 && entry_cmp(&m->e[out - 1], &m->e[i]) == 0) {
            entry_free(&m->e[i]);
            continue;
        }
        m->e[out++] = m->e[i];
    }
    m->n = out;
}

static void model_free(struct model *m)
{
    for (size_t i = 0; i < m->n; i++)
        entry_free(&m->e[i]);
    free(m->e);
    memset(m, 0, sizeof *m);
}

static struct slice mkey(const struct model *m, size_t i)
{
    return buf_slice(&m->e[i].key);
}

static struct slice mval(const struct model *m, size_t i)
{
    return buf_slice(&m->e[i].value);
}

/* The first entry >= target (m->n when none). */
static size_t model_lower_bound(const struct model *m, struct slice target)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (internal_key_compare(mkey(m, mid), target) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* What table_get should answer for lookup. */
static int model_get(const struct model *m, struct slice lookup, struct slice *value)
{
    size_t i = model_lower_bound(m, lookup);
    if (i == m->n ||
        !slice_equal(internal_key_user_key(mkey(m, i)), internal_key_user_key(lookup)))
        return TABLE_ABSENT;
    uint64_t tag = internal_key_tag(mkey(m, i));
    if ((tag & 0xff) == TYPE_DELETION)
        return TABLE_DELETED;
    *value = mval(m, i);
    return TABLE_FOUND;
}

/* ---- model shapes -------------------------------------------------------------- */

enum shape { SHAPE_DECIMAL, SHAPE_SHORT, SHAPE_LONG_PREFIX, SHAPE_BINARY, SHAPE_VERSIONS };
enum vshape { V_COMPRESSIBLE, V_RANDOM, V_EMPTY, V_MIXED };

/* A value of len bytes of the kind asked for: compressible ones repeat a
 * random piece, as db_bench's values do (about 50% with zstd). */
static size_t make_value(char *buf, size_t cap, enum vshape v, struct tu_rng *r)
{
    static const size_t mixed_lens[] = { 0, 1, 10, 100, 1000, 5000 };
    size_t len = v == V_EMPTY ? 0 : v == V_MIXED ? mixed_lens[tu_rng_uniform(r, 6)] : 100;
    if (len > cap)
        len = cap;
    size_t piece = len / 2 ? len / 2 : 1;
    for (size_t j = 0; j < len; j++)
        buf[j] = j < piece || v == V_RANDOM ? (char)tu_rng_next(r) : buf[j - piece];
    return len;
}

static void model_put(struct model *m, const void *uk, size_t uklen, uint64_t seq,
                      enum value_type type, enum vshape v, struct tu_rng *r)
{
    char val[5000];
    size_t vlen = type == TYPE_VALUE ? make_value(val, sizeof val, v, r) : 0;
    model_add(m, uk, uklen, seq, type, val, vlen);
}

static uint64_t random_seq(struct tu_rng *r)
{
    /* Mostly small, sometimes near the top of the 56 bits. */
    return tu_rng_chance(r, 1, 10) ? MAX_SEQUENCE - tu_rng_uniform(r, 1000)
                                   : 1 + tu_rng_uniform(r, 1000000);
}

static void make_model(struct model *m, enum shape s, enum vshape v, size_t n, struct tu_rng *r)
{
    char k[400];
    switch (s) {
    case SHAPE_DECIMAL:
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(k, sizeof k, "key%013llu", (unsigned long long)(i * 3));
            model_put(m, k, (size_t)len, random_seq(r), TYPE_VALUE, v, r);
        }
        break;
    case SHAPE_SHORT: /* the empty key, every 1-byte key, then 2-byte keys */
        for (int ver = 0; ver < 3; ver++)
            model_put(m, "", 0, 10 + (uint64_t)ver, ver == 1 ? TYPE_DELETION : TYPE_VALUE, v, r);
        for (size_t i = 0; i + 3 < n; i++) {
            k[0] = (char)(i % 256);
            k[1] = (char)(i / 256);
            model_put(m, k, i < 256 ? 1 : 2, random_seq(r), TYPE_VALUE, v, r);
        }
        break;
    case SHAPE_LONG_PREFIX: /* 300 shared bytes; some keys prefixes of others */
        memset(k, 'p', 300);
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(k + 300, sizeof k - 300, "%06llu", (unsigned long long)(i / 3));
            size_t extra = i % 3; /* "...N", "...N\0", "...N\xff" */
            k[300 + len] = extra == 1 ? '\0' : '\xff';
            model_put(m, k, 300 + (size_t)len + (extra ? 1 : 0), random_seq(r), TYPE_VALUE, v, r);
        }
        break;
    case SHAPE_BINARY:
        for (size_t i = 0; i < n; i++) {
            size_t len = tu_rng_uniform(r, 25);
            for (size_t j = 0; j < len; j++)
                k[j] = tu_rng_chance(r, 1, 4) ? (char)(tu_rng_chance(r, 1, 2) ? 0xff : 0)
                                              : (char)tu_rng_next(r);
            model_put(m, k, len, random_seq(r), tu_rng_chance(r, 1, 10) ? TYPE_DELETION : TYPE_VALUE,
                      v, r);
        }
        break;
    case SHAPE_VERSIONS: /* few user keys, many versions, deletions among them */
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(k, sizeof k, "user%03llu", (unsigned long long)tu_rng_uniform(r, 50));
            model_put(m, k, (size_t)len, 1 + tu_rng_uniform(r, 5000),
                      tu_rng_chance(r, 3, 10) ? TYPE_DELETION : TYPE_VALUE, v, r);
        }
        break;
    }
    model_finish(m);
}

/* ---- building and opening ------------------------------------------------------------ */

static struct table_builder_options topts(size_t block_size, int codec, int bloom)
{
    struct table_builder_options o = { block_size, 16, bloom, codec, 1 };
    return o;
}

static char *table_path_in_dir(const char *name)
{
    char *p = tu_join(dir, name);
    cr_assert_not_null(p);
    return p;
}

/* Build path from the model; the file size. */
static uint64_t build_table(const char *path, const struct table_builder_options *o,
                            const struct model *m)
{
    struct env_file *f;
    cr_assert_eq(env_open(env, path, ENV_OPEN_TRUNCATE, &f), STRATA_OK, "%s", strata_last_error());
    struct table_builder *b = table_builder_new(o, f);
    cr_assert_not_null(b);
    for (size_t i = 0; i < m->n; i++) {
        int rc = table_builder_add(b, mkey(m, i), mval(m, i));
        CHECK(rc == STRATA_OK, "add %zu: %s", i, strata_last_error());
    }
    cr_assert_eq(table_builder_finish(b), STRATA_OK, "%s", strata_last_error());
    uint64_t size = table_builder_file_size(b);
    const struct table_properties *p = table_builder_properties(b);
    cr_assert_eq(p->entries, m->n);
    table_builder_free(b);
    cr_assert_eq(env_close(f), STRATA_OK);
    cr_assert_eq((long long)size, tu_file_size(path), "the builder's size is the file's");
    return size;
}

/* Tables open with pread, or through a mapping of the file when set: the
 * tests that flip every byte and the round trips run both ways. */
static int open_mapped;

static int try_open(const char *path, struct cache *c, int paranoid, struct table **t)
{
    struct env_file *f;
    int rc = env_open(env, path, ENV_OPEN_READ, &f);
    if (rc != STRATA_OK)
        return rc;
    uint64_t size;
    rc = env_file_size(f, &size);
    if (rc != STRATA_OK) {
        env_close(f);
        return rc;
    }
    struct table_open_options oo = { c, paranoid, open_mapped };
    return table_open(f, size, &oo, t);
}

static struct table *open_table(const char *path, struct cache *c, int paranoid)
{
    struct table *t = NULL;
    int rc = try_open(path, c, paranoid, &t);
    cr_assert_eq(rc, STRATA_OK, "open %s: %s", path, strata_last_error());
    cr_assert_str_eq(table_path(t), path);
    return t;
}

/* The error names the file: what every damage test requires. */
static void expect_corruption_naming(int rc, const char *path, const char *what)
{
    CHECK(rc == STRATA_CORRUPTION, "%s: got %d (%s), want corruption", what, rc,
          strata_last_error());
    CHECK(strstr(strata_last_error(), path) != NULL, "%s: message \"%s\" does not name %s", what,
          strata_last_error(), path);
}

/* ---- the layout, read with the format functions alone -------------------------------- */

struct layout {
    size_t blocks, zstd_blocks;
    struct block_handle *handles;  /* data blocks in file order */
    struct buf *first_keys, *seps;
    uint64_t data_end;             /* where the first meta block starts */
    struct block_handle metaindex, index, filter, props;
    int has_filter;
    size_t max_sep_len;
};

static void layout_free(struct layout *l)
{
    for (size_t i = 0; i < l->blocks; i++) {
        buf_free(&l->first_keys[i]);
        buf_free(&l->seps[i]);
    }
    free(l->handles);
    free(l->first_keys);
    free(l->seps);
    memset(l, 0, sizeof *l);
}

static struct block *read_block(struct env_file *f, const struct block_handle *h)
{
    struct slice c;
    int rc = block_read(f, h, 1, &c);
    cr_assert_eq(rc, STRATA_OK, "block at %llu: %s", (unsigned long long)h->offset,
                 strata_last_error());
    struct block *b;
    struct block_origin origin = { "layout", h->offset };
    cr_assert_eq(block_open(c, 1, &origin, &b), STRATA_OK);
    return b;
}

static void layout_metaindex(struct env_file *f, struct layout *l)
{
    struct block *mb = read_block(f, &l->metaindex);
    struct iter *it = block_iter_new(mb, slice_compare, NULL, NULL);
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it)) {
        const char *p = iter_value(it).data;
        struct block_handle h;
        cr_assert(block_handle_decode(&p, p + iter_value(it).len, &h));
        if (slice_equal(iter_key(it), slice_make("filter.strata.bloom", 19))) {
            l->filter = h;
            l->has_filter = 1;
        } else {
            cr_assert(slice_equal(iter_key(it), slice_make("properties", 10)));
            l->props = h;
        }
    }
    cr_assert_eq(iter_status(it), STRATA_OK);
    iter_destroy(it);
    block_free(mb);
    l->data_end = l->has_filter ? l->filter.offset : l->props.offset;
}

/* Check one data block against its separator and the previous one, and
 * its entries against the model from *next on. */
static void layout_check_block(struct env_file *f, struct layout *l, size_t bi,
                               const struct model *m, size_t *next)
{
    struct block *b = read_block(f, &l->handles[bi]);
    struct iter *it = block_iter_new(b, internal_key_compare, NULL, NULL);
    struct slice sep = buf_slice(&l->seps[bi]);
    size_t n = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it), n++) {
        struct slice k = iter_key(it);
        CHECK(internal_key_compare(k, sep) <= 0, "block %zu: a key above its separator", bi);
        if (n == 0) {
            buf_append(&l->first_keys[bi], k.data, k.len);
            CHECK(bi == 0 || internal_key_compare(buf_slice(&l->seps[bi - 1]), k) < 0,
                  "block %zu: its first key is not above the previous separator", bi);
        }
        CHECK(*next < m->n && slice_equal(k, mkey(m, *next)) &&
                  slice_equal(iter_value(it), mval(m, *next)),
              "block %zu entry %zu differs from model entry %zu", bi, n, *next);
        (*next)++;
    }
    cr_assert_eq(iter_status(it), STRATA_OK);
    CHECK(n > 0, "block %zu is empty", bi);
    iter_destroy(it);
    block_free(b);
}

static void layout_read(const char *path, const struct model *m, struct layout *l)
{
    memset(l, 0, sizeof *l);
    size_t len;
    char *bytes = tu_read_file(path, &len);
    cr_assert_not_null(bytes);
    cr_assert_geq(len, FOOTER_SIZE);
    struct footer ft;
    cr_assert_eq(footer_decode(bytes + len - FOOTER_SIZE, path, &ft), STRATA_OK);
    l->metaindex = ft.metaindex;
    l->index = ft.index;
    struct env_file *f;
    cr_assert_eq(env_open(env, path, ENV_OPEN_READ, &f), STRATA_OK);
    layout_metaindex(f, l);

    struct block *ib = read_block(f, &ft.index);
    size_t cap = block_num_restarts(ib) + 1;
    l->handles = calloc(cap, sizeof *l->handles);
    l->first_keys = calloc(cap, sizeof *l->first_keys);
    l->seps = calloc(cap, sizeof *l->seps);
    struct iter *it = block_iter_new(ib, internal_key_compare, NULL, NULL);
    uint64_t expect_off = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it)) {
        cr_assert_lt(l->blocks, cap);
        struct block_handle *h = &l->handles[l->blocks];
        const char *p = iter_value(it).data;
        cr_assert(block_handle_decode(&p, p + iter_value(it).len, h));
        CHECK(h->offset == expect_off, "block %zu at %llu, want %llu (blocks tile the data)",
              l->blocks, (unsigned long long)h->offset, (unsigned long long)expect_off);
        expect_off = h->offset + h->size + BLOCK_TRAILER_SIZE;
        unsigned char type = (unsigned char)bytes[h->offset + h->size];
        CHECK(type <= STRATA_COMPRESSION_ZSTD, "block %zu has type %u", l->blocks, type);
        l->zstd_blocks += type == STRATA_COMPRESSION_ZSTD;
        buf_append(&l->seps[l->blocks], iter_key(it).data, iter_key(it).len);
        if (iter_key(it).len > l->max_sep_len)
            l->max_sep_len = iter_key(it).len;
        l->blocks++;
    }
    cr_assert_eq(iter_status(it), STRATA_OK);
    iter_destroy(it);
    block_free(ib);
    cr_assert_eq(expect_off, l->data_end, "the data blocks end where the meta blocks start");

    size_t next = 0;
    for (size_t bi = 0; bi < l->blocks; bi++)
        layout_check_block(f, l, bi, m, &next);
    cr_assert_eq(next, m->n, "the blocks hold every entry");
    env_close(f);
    free(bytes);
}

/* ---- checking lookups and iterators against the model ------------------------------------ */

static void check_one_get(struct table *t, const struct table_read_options *ro,
                          const struct model *m, struct slice uk, uint64_t seq, struct buf *scratch)
{
    struct buf lookup = { 0 };
    buf_put_internal_key(&lookup, uk, seq, TYPE_FOR_SEEK);
    struct slice want_v = { 0 };
    int want = model_get(m, buf_slice(&lookup), &want_v);
    buf_clear(scratch);
    int got = table_get(t, ro, buf_slice(&lookup), scratch);
    CHECK(got == want, "get of a %zu-byte key at seq %llu: %d, want %d (%s)", uk.len,
          (unsigned long long)seq, got, want, strata_last_error());
    CHECK(got != TABLE_FOUND || slice_equal(buf_slice(scratch), want_v),
          "get of a %zu-byte key at seq %llu: wrong value", uk.len, (unsigned long long)seq);
    buf_free(&lookup);
}

/* Every user key at several sequence numbers, and keys near each that may
 * be absent (the model says). */
static void check_gets(struct table *t, const struct table_read_options *ro, const struct model *m,
                       struct tu_rng *r)
{
    struct buf v = { 0 }, near = { 0 };
    for (size_t i = 0; i < m->n; i++) {
        struct slice uk = internal_key_user_key(mkey(m, i));
        uint64_t seq = internal_key_tag(mkey(m, i)) >> 8;
        uint64_t seqs[] = { seq, seq + 1, seq - 1, MAX_SEQUENCE, 0 };
        for (size_t j = 0; j < 5; j++)
            if (seqs[j] <= MAX_SEQUENCE)
                check_one_get(t, ro, m, uk, seqs[j], &v);
        /* Just after uk, and uk with its last byte lowered. */
        buf_clear(&near);
        buf_append(&near, uk.data, uk.len);
        buf_append(&near, "", 1);
        check_one_get(t, ro, m, buf_slice(&near), MAX_SEQUENCE, &v);
        if (uk.len > 0 && (unsigned char)uk.data[uk.len - 1] > 0) {
            near.len = uk.len;
            near.data[uk.len - 1]--;
            check_one_get(t, ro, m, buf_slice(&near), random_seq(r), &v);
        }
    }
    static const char *const probes[] = { "", "\xff\xff\xff\xff", "key", "zzz", "user",
                                          "\x01" };
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
        check_one_get(t, ro, m, slice_make(probes[i], strlen(probes[i])), MAX_SEQUENCE, &v);
    buf_free(&v);
    buf_free(&near);
}

/* A target to seek to: an entry's key, the same user key at another
 * sequence, or a neighbour. */
static void random_target(const struct model *m, struct tu_rng *r, struct buf *out)
{
    buf_clear(out);
    if (m->n == 0 || tu_rng_chance(r, 1, 10)) {
        char k[8];
        size_t len = tu_rng_uniform(r, sizeof k);
        for (size_t j = 0; j < len; j++)
            k[j] = (char)tu_rng_next(r);
        buf_put_internal_key(out, slice_make(k, len), random_seq(r), TYPE_FOR_SEEK);
        return;
    }
    struct slice key = mkey(m, tu_rng_uniform(r, m->n));
    struct slice uk = internal_key_user_key(key);
    switch (tu_rng_uniform(r, 3)) {
    case 0:
        buf_append(out, key.data, key.len);
        break;
    case 1:
        buf_put_internal_key(out, uk, random_seq(r), TYPE_FOR_SEEK);
        break;
    default:
        buf_append(out, uk.data, uk.len);
        buf_append(out, "\0", 1);
        buf_put_fixed64(out, pack_tag(random_seq(r), TYPE_VALUE));
        break;
    }
}

/* The iterator is at model entry i (or invalid when i == m->n). */
static void expect_at(struct iter *it, const struct model *m, size_t i, const char *what)
{
    if (i >= m->n) {
        CHECK(!iter_valid(it), "%s: valid, want the end", what);
        CHECK(iter_status(it) == STRATA_OK, "%s: status %s", what, strata_last_error());
        return;
    }
    CHECK(iter_valid(it), "%s: invalid (status %d: %s), want entry %zu", what, iter_status(it),
          strata_last_error(), i);
    CHECK(slice_equal(iter_key(it), mkey(m, i)), "%s: wrong key, want entry %zu", what, i);
    CHECK(slice_equal(iter_value(it), mval(m, i)), "%s: wrong value at entry %zu", what, i);
}

static void check_scans(struct iter *it, const struct model *m)
{
    size_t i = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it), i++)
        expect_at(it, m, i, "forward scan");
    expect_at(it, m, m->n, "forward scan end");
    cr_assert_eq(i, m->n);
    i = m->n;
    for (iter_seek_to_last(it); iter_valid(it); iter_prev(it))
        expect_at(it, m, --i, "backward scan");
    cr_assert_eq(i, 0);
    cr_assert_eq(iter_status(it), STRATA_OK);
}

/* Seeks, seek_for_prevs and random walks mixing next and prev. */
static void check_seeks(struct iter *it, const struct model *m, struct tu_rng *r, int rounds)
{
    struct buf target = { 0 };
    for (int round = 0; round < rounds; round++) {
        random_target(m, r, &target);
        size_t lb = model_lower_bound(m, buf_slice(&target));
        size_t pos;
        if (tu_rng_chance(r, 1, 2)) {
            iter_seek(it, buf_slice(&target));
            pos = lb;
            expect_at(it, m, pos, "seek");
        } else {
            iter_seek_for_prev(it, buf_slice(&target));
            /* The last entry <= target. */
            pos = lb < m->n && internal_key_compare(mkey(m, lb), buf_slice(&target)) == 0 ? lb
                  : lb > 0 ? lb - 1
                           : m->n;
            expect_at(it, m, pos, "seek_for_prev");
        }
        for (int step = 0; step < 30 && pos < m->n; step++) {
            if (tu_rng_chance(r, 1, 2)) {
                iter_next(it);
                pos++;
            } else {
                iter_prev(it);
                pos = pos == 0 ? m->n : pos - 1;
            }
            expect_at(it, m, pos, "walk");
        }
    }
    buf_free(&target);
}

static void check_iter(struct table *t, const struct table_read_options *ro, const struct model *m,
                       struct tu_rng *r)
{
    struct iter *it = table_iter_new(t, ro);
    cr_assert_not_null(it);
    check_scans(it, m);
    check_seeks(it, m, r, 300);
    iter_destroy(it);
}

/* ---- round trips ---------------------------------------------------------------------------- */

enum cache_mode { NO_CACHE, BIG_CACHE, TINY_CACHE };

/* Build and check one configuration. */
static void round_trip(const struct model *m, const struct table_builder_options *o,
                       enum cache_mode cm, struct tu_rng *r, struct layout *l)
{
    char *path = table_path_in_dir("000001.sst");
    build_table(path, o, m);
    layout_read(path, m, l);
    struct cache *c = cm == NO_CACHE ? NULL : cache_new(cm == BIG_CACHE ? 8 << 20 : 1, 0);
    struct table *t = open_table(path, c, 0);
    cr_assert_eq(table_get_properties(t)->entries, m->n);
    cr_assert_eq(table_get_properties(t)->data_blocks, l->blocks);
    cr_assert_eq(table_get_properties(t)->data_bytes, l->data_end);
    struct table_read_options ro = { (int)tu_rng_uniform(r, 2), 1 };
    check_gets(t, &ro, m, r);
    check_iter(t, &ro, m, r);
    /* (Raw blocks of a mapped table are read in place, never cached.) */
    if (cm == BIG_CACHE && l->blocks > 0 && (!open_mapped || l->zstd_blocks > 0)) {
        struct cache_stats st;
        cache_get_stats(c, &st);
        cr_assert_gt(st.hits, 0, "a second read of a block comes from the cache");
    }
    table_close(t);
    cache_free(c);
    free(path);
}

static void round_trips(enum shape s, enum vshape v, size_t n, uint64_t seed)
{
    static const size_t block_sizes[] = { 64, 1024, 4096, 65536 };
    cr_log_info("table round trips: shape %d, values %d, %zu entries, seed %llu", (int)s, (int)v,
                n, (unsigned long long)seed);
    struct tu_rng r;
    tu_rng_seed(&r, seed);
    struct model m = { 0 };
    make_model(&m, s, v, n, &r);
    /* The cache modes take turns, so each meets every block size, both
     * codecs and both filter settings across the 16 configurations. */
    int cm = 0;
    for (size_t bs = 0; bs < 4; bs++)
        for (int codec = 0; codec < 2; codec++)
            for (int bloom = 0; bloom <= 10; bloom += 10, cm = (cm + 1) % 3) {
                struct table_builder_options o = topts(block_sizes[bs], codec, bloom);
                struct layout l;
                open_mapped = (int)((bs + (size_t)bloom / 10) % 2);
                round_trip(&m, &o, (enum cache_mode)cm, &r, &l);
                cr_assert_eq(l.has_filter, bloom > 0);
                if (block_sizes[bs] <= 1024 && m.n > 100)
                    cr_assert_gt(l.blocks, 1, "small blocks make several blocks");
                /* (Empty values leave the keys, which compress.) */
                if (codec == STRATA_COMPRESSION_NONE || v == V_RANDOM)
                    cr_assert_eq(l.zstd_blocks, 0, "raw blocks only: %zu of %zu compressed",
                                 l.zstd_blocks, l.blocks);
                else if (v == V_COMPRESSIBLE && block_sizes[bs] >= 1024)
                    cr_assert_gt(l.zstd_blocks, 0, "compressible blocks are compressed");
                layout_free(&l);
            }
    model_free(&m);
}

Test(table, round_trip_decimal_compressible)
{
    round_trips(SHAPE_DECIMAL, V_COMPRESSIBLE, 1000, 1);
}

Test(table, round_trip_decimal_random_values)
{
    round_trips(SHAPE_DECIMAL, V_RANDOM, 1000, 2);
}

Test(table, round_trip_short_keys_empty_values)
{
    round_trips(SHAPE_SHORT, V_EMPTY, 700, 3);
}

Test(table, round_trip_long_prefixes)
{
    round_trips(SHAPE_LONG_PREFIX, V_MIXED, 600, 4);
}

Test(table, round_trip_binary_keys)
{
    round_trips(SHAPE_BINARY, V_MIXED, 1000, 5);
}

Test(table, round_trip_versions_and_deletions)
{
    round_trips(SHAPE_VERSIONS, V_COMPRESSIBLE, 1000, 6);
}

/* Compressible blocks are stored compressed, random ones raw. */
Test(table, compression_and_raw_fallback)
{
    struct tu_rng r;
    tu_rng_seed(&r, 7);
    for (int v = V_COMPRESSIBLE; v <= V_RANDOM; v++) {
        struct model m = { 0 };
        make_model(&m, SHAPE_DECIMAL, (enum vshape)v, 2000, &r);
        struct table_builder_options o = topts(4096, STRATA_COMPRESSION_ZSTD, 10);
        struct layout l;
        round_trip(&m, &o, BIG_CACHE, &r, &l);
        if (v == V_COMPRESSIBLE)
            cr_assert_eq(l.zstd_blocks, l.blocks, "%zu of %zu blocks compressed", l.zstd_blocks,
                         l.blocks);
        else
            cr_assert_eq(l.zstd_blocks, 0, "random values stay raw");
        /* The stored bytes vs the values' (keys are prefix-compressed
         * either way). */
        uint64_t raw = 0;
        for (size_t i = 0; i < m.n; i++)
            raw += mval(&m, i).len;
        if (v == V_COMPRESSIBLE)
            cr_assert_lt(l.data_end, raw * 3 / 4, "stored %llu for %llu value bytes",
                         (unsigned long long)l.data_end, (unsigned long long)raw);
        else
            cr_assert_gt(l.data_end, raw, "random values are stored whole");
        layout_free(&l);
        model_free(&m);
    }
}

Test(table, one_key)
{
    struct tu_rng r;
    tu_rng_seed(&r, 8);
    struct model m = { 0 };
    model_add(&m, "k", 1, 5, TYPE_VALUE, "v", 1);
    for (int codec = 0; codec < 2; codec++) {
        struct table_builder_options o = topts(4096, codec, 10);
        struct layout l;
        round_trip(&m, &o, NO_CACHE, &r, &l);
        cr_assert_eq(l.blocks, 1);
        layout_free(&l);
    }
    model_free(&m);
}

Test(table, empty_table)
{
    struct model m = { 0 };
    char *path = table_path_in_dir("000002.sst");
    struct table_builder_options o = topts(4096, STRATA_COMPRESSION_ZSTD, 10);
    build_table(path, &o, &m);
    struct table *t = open_table(path, NULL, 1);
    struct buf v = { 0 }, k = { 0 };
    buf_put_internal_key(&k, slice_make("a", 1), MAX_SEQUENCE, TYPE_FOR_SEEK);
    cr_assert_eq(table_get(t, NULL, buf_slice(&k), &v), TABLE_ABSENT);
    struct iter *it = table_iter_new(t, NULL);
    iter_seek_to_first(it);
    cr_assert(!iter_valid(it));
    iter_seek_for_prev(it, buf_slice(&k));
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_status(it), STRATA_OK);
    iter_destroy(it);
    cr_assert_eq(table_get_properties(t)->entries, 0);
    table_close(t);
    buf_free(&v);
    buf_free(&k);
    free(path);
}

/* One entry bigger than the block size, compressible or not. */
Test(table, one_huge_entry)
{
    struct tu_rng r;
    tu_rng_seed(&r, 9);
    size_t big = 1 << 20;
    char *val = malloc(big);
    cr_assert_not_null(val);
    for (int v = V_COMPRESSIBLE; v <= V_RANDOM; v++) {
        for (size_t j = 0; j < big; j++)
            val[j] = v == V_RANDOM || j < 1000 ? (char)tu_rng_next(&r) : val[j - 1000];
        struct model m = { 0 };
        model_add(&m, "a", 1, 1, TYPE_VALUE, "x", 1);
        model_add(&m, "huge", 4, 2, TYPE_VALUE, val, big);
        model_add(&m, "z", 1, 3, TYPE_VALUE, "y", 1);
        model_finish(&m);
        struct table_builder_options o = topts(4096, STRATA_COMPRESSION_ZSTD, 10);
        struct layout l;
        round_trip(&m, &o, BIG_CACHE, &r, &l);
        cr_assert_eq(l.zstd_blocks, v == V_COMPRESSIBLE ? 1u : 0u);
        layout_free(&l);
        model_free(&m);
    }
    free(val);
}

Test(table, properties_round_trip)
{
    struct tu_rng r;
    tu_rng_seed(&r, 10);
    struct model m = { 0 };
    make_model(&m, SHAPE_VERSIONS, V_MIXED, 800, &r);
    uint64_t dels = 0, kbytes = 0, vbytes = 0, smin = UINT64_MAX, smax = 0;
    for (size_t i = 0; i < m.n; i++) {
        uint64_t tag = internal_key_tag(mkey(&m, i));
        dels += (tag & 0xff) == TYPE_DELETION;
        kbytes += mkey(&m, i).len;
        vbytes += mval(&m, i).len;
        smin = (tag >> 8) < smin ? tag >> 8 : smin;
        smax = (tag >> 8) > smax ? tag >> 8 : smax;
    }
    char *path = table_path_in_dir("000003.sst");
    struct table_builder_options o = { 1024, 4, 12, STRATA_COMPRESSION_ZSTD, -3 };
    uint64_t before = (uint64_t)time(NULL);
    uint64_t size = build_table(path, &o, &m);
    uint64_t after = (uint64_t)time(NULL);
    struct layout l;
    layout_read(path, &m, &l);
    struct table *t = open_table(path, NULL, 0);
    const struct table_properties *p = table_get_properties(t);
    cr_assert_eq(p->entries, m.n);
    cr_assert_eq(p->deletions, dels);
    cr_assert_gt(dels, 0);
    cr_assert_eq(p->raw_key_bytes, kbytes);
    cr_assert_eq(p->raw_value_bytes, vbytes);
    cr_assert_eq(p->smallest_seq, smin);
    cr_assert_eq(p->largest_seq, smax);
    cr_assert(slice_equal(buf_slice(&p->smallest_key), mkey(&m, 0)));
    cr_assert(slice_equal(buf_slice(&p->largest_key), mkey(&m, m.n - 1)));
    cr_assert_eq(p->data_blocks, l.blocks);
    cr_assert_eq(p->data_bytes, l.data_end);
    cr_assert_eq(p->index_bytes, l.index.size + BLOCK_TRAILER_SIZE);
    cr_assert_eq(p->filter_bytes, l.filter.size + BLOCK_TRAILER_SIZE);
    cr_assert_eq(p->bloom_bits_per_key, 12);
    cr_assert_eq(p->compression, STRATA_COMPRESSION_ZSTD);
    cr_assert_eq((int64_t)p->compression_level, -3);
    cr_assert(p->creation_time >= before && p->creation_time <= after);
    cr_assert_lt(l.index.offset + l.index.size, size);
    table_close(t);
    layout_free(&l);
    model_free(&m);
    free(path);
}

/* An unknown property (from a newer writer) is ignored; a malformed number
 * is damage. */
Test(table, properties_decode)
{
    struct table_properties p = { 0 };
    char enc[VARINT64_MAX_LEN];
    size_t n = (size_t)(encode_varint64(enc, 123456789) - enc);
    cr_assert_eq(table_properties_decode_one(&p, slice_make("strata.entries", 14),
                                             slice_make(enc, n)),
                 STRATA_OK);
    cr_assert_eq(p.entries, 123456789);
    cr_assert_eq(table_properties_decode_one(&p, slice_make("strata.future", 13),
                                             slice_make("??", 2)),
                 STRATA_OK);
    cr_assert_eq(table_properties_decode_one(&p, slice_make("strata.entries", 14),
                                             slice_make(enc, n - 1)),
                 STRATA_CORRUPTION);
    cr_assert_eq(table_properties_decode_one(&p, slice_make("strata.deletions", 16),
                                             slice_make("\x01\x02", 2)),
                 STRATA_CORRUPTION, "trailing bytes after the varint");
    cr_assert_eq(table_properties_decode_one(&p, slice_make("strata.largest.key", 18),
                                             slice_make("abc", 3)),
                 STRATA_OK);
    cr_assert(slice_equal(buf_slice(&p.largest_key), slice_make("abc", 3)));
    table_properties_free(&p);
}

/* Long keys that differ early: the index holds short separators. */
Test(table, short_separators)
{
    struct tu_rng r;
    tu_rng_seed(&r, 11);
    struct model m = { 0 };
    char k[200];
    for (size_t i = 0; i < 3000; i++) {
        /* Differences in the first bytes, 190 common bytes after. */
        snprintf(k, sizeof k, "%08llu", (unsigned long long)(i * 7));
        memset(k + 8, 'x', sizeof k - 8);
        model_put(&m, k, sizeof k, 100, TYPE_VALUE, V_COMPRESSIBLE, &r);
    }
    model_finish(&m);
    struct table_builder_options o = topts(1024, STRATA_COMPRESSION_NONE, 0);
    struct layout l;
    round_trip(&m, &o, NO_CACHE, &r, &l);
    cr_assert_gt(l.blocks, 100);
    /* "00000123" + incremented byte + tag: at most 9 + 8 bytes. */
    cr_assert_leq(l.max_sep_len, 9 + INTERNAL_KEY_TAG_LEN, "separator of %zu bytes",
                  l.max_sep_len);
    char *path = table_path_in_dir("000001.sst");
    struct table *t = open_table(path, NULL, 0);
    uint64_t ib = table_get_properties(t)->index_bytes;
    cr_assert_lt(ib, l.blocks * 40, "index of %llu bytes for %zu blocks", (unsigned long long)ib,
                 l.blocks);
    table_close(t);
    free(path);
    layout_free(&l);
    model_free(&m);
}

/* Separators in the corner cases: 0xff bytes, a key that is a prefix of the
 * next, the same user key across a block boundary, the empty key. */
Test(table, separator_corner_cases)
{
    struct tu_rng r;
    tu_rng_seed(&r, 12);
    static const char *const keys[] = {
        "", "\x00", "\x00\x00", "a", "a\xff", "a\xff\xff", "a\xff\xff\x01", "ab", "abc",
        "abc\xff\xff\xff", "abd", "abe", "b", "b\x00", "ba", "c\xff\xff\xff", "d",
        "\xff", "\xff\xff", "\xff\xff\xff",
    };
    struct model m = { 0 };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        size_t len = i == 1 ? 1 : i == 2 ? 2 : i == 13 ? 2 : strlen(keys[i]);
        for (uint64_t ver = 0; ver < 3; ver++)
            model_put(&m, keys[i], len, 100 - ver, ver == 1 ? TYPE_DELETION : TYPE_VALUE,
                      V_COMPRESSIBLE, &r);
    }
    model_finish(&m);
    /* 64-byte blocks: one or two entries per block, so every pair of
     * neighbours meets at a block boundary in one table or another. */
    for (int rs = 1; rs <= 2; rs++) {
        struct table_builder_options o = topts(rs == 1 ? 64 : 200, STRATA_COMPRESSION_NONE, 10);
        struct layout l;
        round_trip(&m, &o, NO_CACHE, &r, &l);
        layout_free(&l);
    }
    model_free(&m);
}

/* ---- reads through the cache -------------------------------------------------------------------- */

Test(table, fill_cache_off_leaves_the_cache_empty)
{
    struct tu_rng r;
    tu_rng_seed(&r, 13);
    struct model m = { 0 };
    make_model(&m, SHAPE_DECIMAL, V_COMPRESSIBLE, 1000, &r);
    char *path = table_path_in_dir("000004.sst");
    struct table_builder_options o = topts(1024, STRATA_COMPRESSION_ZSTD, 10);
    build_table(path, &o, &m);
    struct cache *c = cache_new(1 << 20, 2);
    struct table *t = open_table(path, c, 0);
    struct table_read_options ro = { 1, 0 };
    check_gets(t, &ro, &m, &r);
    check_iter(t, &ro, &m, &r);
    struct cache_stats st;
    cache_get_stats(c, &st);
    cr_assert_eq(st.usage, 0);
    cr_assert_eq(st.entries, 0);
    ro.fill_cache = 1;
    check_gets(t, &ro, &m, &r);
    cache_get_stats(c, &st);
    cr_assert_gt(st.entries, 0);
    table_close(t);
    cache_free(c);
    model_free(&m);
    free(path);
}

/* Two tables in one cache do not see each other's blocks (cache ids). */
Test(table, two_tables_share_a_cache)
{
    struct tu_rng r;
    tu_rng_seed(&r, 14);
    struct model m1 = { 0 }, m2 = { 0 };
    make_model(&m1, SHAPE_DECIMAL, V_COMPRESSIBLE, 800, &r);
    make_model(&m2, SHAPE_DECIMAL, V_RANDOM, 800, &r);
    char *p1 = table_path_in_dir("000005.sst"), *p2 = table_path_in_dir("000006.sst");
    struct table_builder_options o = topts(1024, STRATA_COMPRESSION_ZSTD, 0);
    build_table(p1, &o, &m1);
    build_table(p2, &o, &m2);
    struct cache *c = cache_new(8 << 20, 4);
    struct table *t1 = open_table(p1, c, 0), *t2 = open_table(p2, c, 0);
    struct table_read_options ro = { 0, 1 };
    for (int pass = 0; pass < 2; pass++) {
        check_gets(t1, &ro, &m1, &r);
        check_gets(t2, &ro, &m2, &r);
        check_iter(t1, &ro, &m1, &r);
        check_iter(t2, &ro, &m2, &r);
    }
    table_close(t1);
    table_close(t2);
    cache_free(c);
    model_free(&m1);
    model_free(&m2);
    free(p1);
    free(p2);
}

/* ---- approximate offsets --------------------------------------------------------------------------- */

Test(table, approximate_offset_is_monotone)
{
    struct tu_rng r;
    tu_rng_seed(&r, 15);
    struct model m = { 0 };
    make_model(&m, SHAPE_DECIMAL, V_COMPRESSIBLE, 3000, &r);
    char *path = table_path_in_dir("000007.sst");
    struct table_builder_options o = topts(1024, STRATA_COMPRESSION_ZSTD, 10);
    uint64_t size = build_table(path, &o, &m);
    struct layout l;
    layout_read(path, &m, &l);
    struct table *t = open_table(path, NULL, 0);
    /* Probes in increasing order: every entry and a key just after each. */
    uint64_t prev = 0;
    struct buf k = { 0 };
    for (size_t i = 0; i < m.n; i++) {
        uint64_t a = table_approximate_offset(t, mkey(&m, i));
        CHECK(a >= prev && a <= size, "entry %zu: offset %llu after %llu", i,
              (unsigned long long)a, (unsigned long long)prev);
        prev = a;
        buf_clear(&k);
        buf_append(&k, internal_key_user_key(mkey(&m, i)).data,
                   internal_key_user_key(mkey(&m, i)).len);
        buf_append(&k, "\0", 1);
        buf_put_fixed64(&k, pack_tag(MAX_SEQUENCE, TYPE_FOR_SEEK));
        a = table_approximate_offset(t, buf_slice(&k));
        CHECK(a >= prev && a <= size, "after entry %zu: offset %llu after %llu", i,
              (unsigned long long)a, (unsigned long long)prev);
        prev = a;
    }
    cr_assert_eq(table_approximate_offset(t, mkey(&m, 0)), 0);
    cr_assert_eq(prev, l.handles[l.blocks - 1].offset, "just after the last key: the last block");
    buf_clear(&k);
    buf_put_internal_key(&k, slice_make("\xff", 1), MAX_SEQUENCE, TYPE_FOR_SEEK);
    cr_assert_eq(table_approximate_offset(t, buf_slice(&k)), l.metaindex.offset,
                 "past the last key: the metaindex offset");
    /* The middle key lies near the middle of the data. */
    uint64_t mid = table_approximate_offset(t, mkey(&m, m.n / 2));
    cr_assert(mid > l.data_end / 3 && mid < l.data_end * 2 / 3, "middle at %llu of %llu",
              (unsigned long long)mid, (unsigned long long)l.data_end);
    buf_free(&k);
    table_close(t);
    layout_free(&l);
    model_free(&m);
    free(path);
}

/* ---- the builder's errors ----------------------------------------------------------------------------- */

Test(table, builder_rejects_bad_input)
{
    char *path = table_path_in_dir("000008.sst");
    struct env_file *f;
    cr_assert_eq(env_open(env, path, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    struct table_builder_options o = topts(4096, STRATA_COMPRESSION_NONE, 10);
    struct table_builder *b = table_builder_new(&o, f);
    struct buf k1 = { 0 }, k2 = { 0 };
    buf_put_internal_key(&k1, slice_make("b", 1), 5, TYPE_VALUE);
    buf_put_internal_key(&k2, slice_make("a", 1), 9, TYPE_VALUE);
    cr_assert_eq(table_builder_add(b, buf_slice(&k1), slice_make("v", 1)), STRATA_OK);
    cr_assert_eq(table_builder_add(b, buf_slice(&k1), slice_make("v", 1)),
                 STRATA_INVALID_ARGUMENT, "the same key twice");
    cr_assert_eq(table_builder_add(b, buf_slice(&k2), slice_make("v", 1)),
                 STRATA_INVALID_ARGUMENT, "a smaller key");
    cr_assert_eq(table_builder_add(b, slice_make("short", 5), slice_make("v", 1)),
                 STRATA_INVALID_ARGUMENT, "not an internal key");
    /* Rejected keys changed nothing: the table holds the one good key. */
    cr_assert_eq(table_builder_finish(b), STRATA_OK);
    cr_assert_eq(table_builder_add(b, buf_slice(&k1), slice_make("v", 1)),
                 STRATA_INVALID_ARGUMENT, "add after finish");
    table_builder_free(b);
    env_close(f);
    struct table *t = open_table(path, NULL, 1);
    cr_assert_eq(table_get_properties(t)->entries, 1);
    table_close(t);

    cr_assert_eq(env_open(env, path, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    o.compression = 7;
    b = table_builder_new(&o, f);
    cr_assert_eq(table_builder_add(b, buf_slice(&k1), slice_make("v", 1)), STRATA_NOT_SUPPORTED);
    cr_assert_eq(table_builder_finish(b), STRATA_NOT_SUPPORTED);
    table_builder_free(b);
    env_close(f);
    buf_free(&k1);
    buf_free(&k2);
    free(path);
}

/* A failed write is reported, and every later call reports it again. */
Test(table, builder_write_error_is_sticky)
{
    struct tu_rng r;
    tu_rng_seed(&r, 16);
    struct model m = { 0 };
    make_model(&m, SHAPE_DECIMAL, V_RANDOM, 3000, &r);
    for (uint64_t nth = 1; nth <= 4; nth++) {
        char *path = table_path_in_dir("000009.sst");
        struct env_file *f;
        cr_assert_eq(env_open(env, path, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
        struct table_builder_options o = topts(4096, STRATA_COMPRESSION_ZSTD, 10);
        struct table_builder *b = table_builder_new(&o, f);
        env_set_fault(env, nth, ENV_OP_WRITE | ENV_FAULT_PARTIAL, ENOSPC);
        int rc = STRATA_OK;
        for (size_t i = 0; i < m.n && rc == STRATA_OK; i++)
            rc = table_builder_add(b, mkey(&m, i), mval(&m, i));
        if (rc == STRATA_OK)
            rc = table_builder_finish(b);
        cr_assert_eq(rc, STRATA_IO_ERROR, "write %llu failed: %s", (unsigned long long)nth,
                     strata_last_error());
        cr_assert_eq(table_builder_add(b, mkey(&m, m.n - 1), mval(&m, 0)), STRATA_IO_ERROR);
        cr_assert_eq(table_builder_finish(b), STRATA_IO_ERROR);
        table_builder_free(b);
        env_clear_fault(env);
        env_close(f);
        free(path);
    }
    model_free(&m);
}

/* ---- damage ----------------------------------------------------------------------------------------------- */

struct damage_fixture {
    struct model m;
    char *path;
    uint64_t size;
    struct layout l;
};

static void damage_fixture_init(struct damage_fixture *d, size_t n, size_t block_size, int codec,
                                uint64_t seed)
{
    struct tu_rng r;
    tu_rng_seed(&r, seed);
    memset(d, 0, sizeof *d);
    make_model(&d->m, SHAPE_VERSIONS, V_COMPRESSIBLE, n, &r);
    d->path = table_path_in_dir("000010.sst");
    struct table_builder_options o = topts(block_size, codec, 10);
    d->size = build_table(d->path, &o, &d->m);
    layout_read(d->path, &d->m, &d->l);
}

static void damage_fixture_free(struct damage_fixture *d)
{
    layout_free(&d->l);
    model_free(&d->m);
    free(d->path);
}

static void flip(const char *path, uint64_t off)
{
    cr_assert_eq(tu_xor_byte(path, (long long)off, 0x20), 0);
}

/* Every byte of the meta region (filter, properties, metaindex, index,
 * their trailers, the footer) is checked at open: any flip fails it. */
Test(table, damage_anywhere_in_the_meta_region_fails_open)
{
    struct damage_fixture d;
    damage_fixture_init(&d, 400, 1024, STRATA_COMPRESSION_ZSTD, 17);
    cr_log_info("flipping each of %llu meta bytes",
                (unsigned long long)(d.size - d.l.data_end));
    for (uint64_t off = d.l.data_end; off < d.size; off++) {
        flip(d.path, off);
        struct table *t = NULL;
        int rc = try_open(d.path, NULL, 0, &t);
        if (rc == STRATA_OK)
            table_close(t);
        expect_corruption_naming(rc, d.path, "meta byte flipped");
        CHECK(rc != STRATA_OK, "flip at %llu went unnoticed", (unsigned long long)off);
        flip(d.path, off);
    }
    struct table *t = open_table(d.path, NULL, 0);
    table_close(t);
    damage_fixture_free(&d);
}

/* Named regions, with the message each gives. */
static void expect_open_fails(const char *path, uint64_t off, const char *what, const char *msg)
{
    flip(path, off);
    struct table *t = NULL;
    int rc = try_open(path, NULL, 0, &t);
    expect_corruption_naming(rc, path, what);
    cr_assert_null(t);
    cr_assert(strstr(strata_last_error(), msg) != NULL, "%s: \"%s\" lacks \"%s\"", what,
              strata_last_error(), msg);
    flip(path, off);
}

Test(table, damage_by_region)
{
    struct damage_fixture d;
    damage_fixture_init(&d, 400, 1024, STRATA_COMPRESSION_ZSTD, 18);
    struct layout *l = &d.l;
    cr_assert(l->has_filter);
    expect_open_fails(d.path, l->index.offset + l->index.size / 2, "index", "checksum mismatch");
    expect_open_fails(d.path, l->filter.offset + 3, "filter", "checksum mismatch");
    expect_open_fails(d.path, l->props.offset + l->props.size / 2, "properties",
                      "checksum mismatch");
    expect_open_fails(d.path, l->metaindex.offset + 1, "metaindex", "checksum mismatch");
    expect_open_fails(d.path, l->index.offset + l->index.size, "index trailer type",
                      "checksum mismatch");
    expect_open_fails(d.path, l->index.offset + l->index.size + 2, "index trailer checksum",
                      "checksum mismatch");
    expect_open_fails(d.path, d.size - 8, "footer magic", "magic");
    expect_open_fails(d.path, d.size - 12, "footer checksum", "checksum mismatch in the footer");
    expect_open_fails(d.path, d.size - 16, "footer version", "checksum mismatch in the footer");
    expect_open_fails(d.path, d.size - FOOTER_SIZE, "footer handle",
                      "checksum mismatch in the footer");
    damage_fixture_free(&d);
}

/* strata.h promises the file and the offset: footer damage names where the
 * footer lies, not only the file. */
Test(table, footer_damage_names_the_footer_offset)
{
    struct damage_fixture d;
    damage_fixture_init(&d, 50, 1024, STRATA_COMPRESSION_NONE, 19);
    char want[64];
    snprintf(want, sizeof want, "footer at offset %llu", (unsigned long long)(d.size - FOOTER_SIZE));
    expect_open_fails(d.path, d.size - 8, "footer magic", want);
    expect_open_fails(d.path, d.size - 12, "footer checksum", want);
    damage_fixture_free(&d);
}

/* A version this reader does not know, with a valid checksum. */
Test(table, footer_version_is_checked)
{
    struct damage_fixture d;
    damage_fixture_init(&d, 100, 1024, STRATA_COMPRESSION_NONE, 19);
    size_t len;
    char *bytes = tu_read_file(d.path, &len);
    char *ft = bytes + len - FOOTER_SIZE;
    encode_fixed32(ft + 40, TABLE_FORMAT_VERSION + 1);
    encode_fixed32(ft + 44, checksum32(ft, 44, 0));
    cr_assert_eq(tu_write_file(d.path, bytes, len), 0);
    struct table *t = NULL;
    expect_corruption_naming(try_open(d.path, NULL, 0, &t), d.path, "version 2");
    cr_assert(strstr(strata_last_error(), "version") != NULL, "%s", strata_last_error());
    /* And handles that point outside the file, with a valid checksum. */
    struct footer f = { { d.size, 100 }, d.l.index };
    char enc[FOOTER_SIZE];
    footer_encode(&f, enc);
    memcpy(ft, enc, FOOTER_SIZE);
    cr_assert_eq(tu_write_file(d.path, bytes, len), 0);
    expect_corruption_naming(try_open(d.path, NULL, 0, &t), d.path, "metaindex outside");
    /* A size no allocation could satisfy: refused before reading. */
    f.metaindex = d.l.metaindex;
    f.index.size = UINT64_C(1) << 42;
    footer_encode(&f, enc);
    memcpy(ft, enc, FOOTER_SIZE);
    cr_assert_eq(tu_write_file(d.path, bytes, len), 0);
    expect_corruption_naming(try_open(d.path, NULL, 0, &t), d.path, "index of 4 TiB");
    cr_assert(strstr(strata_last_error(), "outside") != NULL, "%s", strata_last_error());
    free(bytes);
    damage_fixture_free(&d);
}

Test(table, truncation_fails_open)
{
    struct damage_fixture d;
    damage_fixture_init(&d, 400, 1024, STRATA_COMPRESSION_ZSTD, 20);
    size_t len;
    char *bytes = tu_read_file(d.path, &len);
    char *cut = table_path_in_dir("000011.sst");
    uint64_t points[] = { 0, 1, FOOTER_SIZE - 1, FOOTER_SIZE, len / 2, d.l.data_end,
                          d.l.data_end + 1, len - FOOTER_SIZE, len - FOOTER_SIZE + 1, len - 1 };
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        cr_assert_eq(tu_write_file(cut, bytes, points[i]), 0);
        struct table *t = NULL;
        int rc = try_open(cut, NULL, 0, &t);
        expect_corruption_naming(rc, cut, "truncated");
        cr_assert_null(t);
    }
    free(cut);
    free(bytes);
    damage_fixture_free(&d);
}

/* Which data block holds file offset off (blocks tile the data region). */
static size_t block_of(const struct layout *l, uint64_t off)
{
    size_t bi = 0;
    while (bi + 1 < l->blocks && l->handles[bi + 1].offset <= off)
        bi++;
    return bi;
}

/* Read everything; with verify, the damaged block must be reported. */
static int read_all(struct table *t, const struct table_read_options *ro, const struct model *m,
                    size_t *entries)
{
    struct iter *it = table_iter_new(t, ro);
    cr_assert_not_null(it);
    *entries = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it))
        (*entries)++;
    int rc = iter_status(it);
    for (iter_seek_to_last(it); iter_valid(it); iter_prev(it))
        ;
    iter_destroy(it);
    struct buf v = { 0 };
    for (size_t i = 0; i < m->n; i += 7)
        table_get(t, ro, mkey(m, i), &v);
    buf_free(&v);
    return rc;
}

/* Every byte of every data block and trailer: with checksums verified the
 * damage is reported (by the iterator and by a get in that block) naming
 * the file; without, reads may see the damage but never crash (the
 * sanitizer builds check that no read strays outside a buffer). */
static void damage_every_data_byte(int codec, uint64_t seed)
{
    struct damage_fixture d;
    damage_fixture_init(&d, 100, 512, codec, seed);
    struct table_read_options verify = { 1, 1 }, noverify = { 0, 0 };
    struct buf v = { 0 };
    cr_log_info("flipping each of %llu data bytes", (unsigned long long)d.l.data_end);
    for (uint64_t off = 0; off < d.l.data_end; off++) {
        flip(d.path, off);
        struct table *t = open_table(d.path, NULL, 0);
        size_t n;
        int rc = read_all(t, &verify, &d.m, &n);
        expect_corruption_naming(rc, d.path, "iterator over a damaged block");
        CHECK(n < d.m.n, "flip at %llu: the scan got all %zu entries", (unsigned long long)off, n);
        size_t bi = block_of(&d.l, off);
        rc = table_get(t, &verify, buf_slice(&d.l.first_keys[bi]), &v);
        expect_corruption_naming(rc, d.path, "get in a damaged block");
        rc = read_all(t, &noverify, &d.m, &n);
        CHECK(rc == STRATA_OK || rc == STRATA_CORRUPTION, "flip at %llu: status %d",
              (unsigned long long)off, rc);
        table_close(t);
        /* paranoid_checks verifies without being asked. */
        t = open_table(d.path, NULL, 1);
        rc = table_get(t, &noverify, buf_slice(&d.l.first_keys[bi]), &v);
        expect_corruption_naming(rc, d.path, "paranoid get in a damaged block");
        table_close(t);
        flip(d.path, off);
    }
    buf_free(&v);
    damage_fixture_free(&d);
}

Test(table, damage_every_data_byte_raw)
{
    damage_every_data_byte(STRATA_COMPRESSION_NONE, 21);
}

Test(table, damage_every_data_byte_zstd)
{
    damage_every_data_byte(STRATA_COMPRESSION_ZSTD, 22);
}

Test(table, damage_every_data_byte_mapped)
{
    open_mapped = 1;
    damage_every_data_byte(STRATA_COMPRESSION_NONE, 23);
    damage_every_data_byte(STRATA_COMPRESSION_ZSTD, 24);
}

Test(table, damage_anywhere_in_the_meta_region_fails_open_mapped)
{
    open_mapped = 1;
    struct damage_fixture d;
    damage_fixture_init(&d, 200, 1024, STRATA_COMPRESSION_ZSTD, 25);
    for (uint64_t off = d.l.data_end; off < d.size; off++) {
        flip(d.path, off);
        struct table *t = NULL;
        int rc = try_open(d.path, NULL, 0, &t);
        if (rc == STRATA_OK)
            table_close(t);
        expect_corruption_naming(rc, d.path, "meta byte flipped");
        flip(d.path, off);
    }
    damage_fixture_free(&d);
}

/* A raw block of a mapped table is read in place and stays out of the
 * block cache (its bytes go with the mapping); a compressed one is
 * decompressed into the cache as with pread. */
Test(table, mapped_raw_blocks_bypass_the_cache)
{
    struct tu_rng r;
    tu_rng_seed(&r, 26);
    struct model m = { 0 };
    make_model(&m, SHAPE_DECIMAL, V_COMPRESSIBLE, 500, &r);
    char *path = table_path_in_dir("000030.sst");
    for (int codec = 0; codec < 2; codec++) {
        struct table_builder_options o = topts(1024, codec, 10);
        build_table(path, &o, &m);
        struct cache *c = cache_new(8 << 20, 0);
        open_mapped = 1;
        struct table *t = open_table(path, c, 1);
        struct table_read_options ro = { 1, 1 };
        check_gets(t, &ro, &m, &r);
        struct cache_stats st;
        cache_get_stats(c, &st);
        if (codec == STRATA_COMPRESSION_NONE)
            cr_assert_eq(st.usage, 0, "raw mapped blocks were cached (%zu bytes)", st.usage);
        else
            cr_assert_gt(st.usage, 0, "decompressed blocks are cached");
        table_close(t);
        cache_free(c);
    }
    model_free(&m);
    free(path);
}

/* A block whose checksum is right but whose entries are not (written so
 * by a bug, say): the block reader's checks report it, through gets and
 * iterators, naming the file. */
Test(table, malformed_block_with_a_valid_checksum)
{
    struct damage_fixture d;
    damage_fixture_init(&d, 100, 512, STRATA_COMPRESSION_NONE, 26);
    size_t len;
    char *bytes = tu_read_file(d.path, &len);
    struct block_handle h = d.l.handles[1];
    /* The first entry's shared length: a restart entry must share 0. */
    bytes[h.offset] = 5;
    encode_fixed32(bytes + h.offset + h.size + 1, checksum32(bytes + h.offset, h.size, 0));
    cr_assert_eq(tu_write_file(d.path, bytes, len), 0);
    struct table *t = open_table(d.path, NULL, 1);
    struct table_read_options verify = { 1, 1 };
    size_t n;
    expect_corruption_naming(read_all(t, &verify, &d.m, &n), d.path, "scan");
    struct buf v = { 0 };
    expect_corruption_naming(table_get(t, &verify, buf_slice(&d.l.first_keys[1]), &v), d.path,
                             "get");
    struct iter *it = table_iter_new(t, &verify);
    iter_seek(it, buf_slice(&d.l.first_keys[2]));
    cr_assert(iter_valid(it), "block 2 is fine");
    iter_prev(it);
    cr_assert(!iter_valid(it), "stepping back into block 1 fails");
    expect_corruption_naming(iter_status(it), d.path, "prev into the bad block");
    iter_destroy(it);
    buf_free(&v);
    table_close(t);
    free(bytes);
    damage_fixture_free(&d);
}

/* ---- a table built by hand ---------------------------------------------------------------------- */

/* Append a raw block and its trailer to file; *h gets where it went. */
static void hb_block(struct buf *file, struct block_builder *bb, struct block_handle *h)
{
    struct slice c;
    cr_assert_eq(block_builder_finish(bb, &c), STRATA_OK);
    h->offset = file->len;
    h->size = c.len;
    buf_append(file, c.data, c.len);
    buf_append(file, "", 1);
    buf_put_fixed32(file, checksum32(c.data, c.len, 0));
    block_builder_reset(bb);
}

static void hb_add(struct block_builder *bb, const char *uk, uint64_t seq, enum value_type type,
                   const char *v)
{
    struct buf k = { 0 };
    buf_put_internal_key(&k, slice_make(uk, strlen(uk)), seq, type);
    cr_assert_eq(block_builder_add(bb, buf_slice(&k), slice_make(v, strlen(v))), STRATA_OK);
    buf_free(&k);
}

static void hb_add_handle(struct block_builder *bb, struct slice key, const struct block_handle *h)
{
    struct buf enc = { 0 };
    block_handle_encode(h, &enc);
    cr_assert_eq(block_builder_add(bb, key, buf_slice(&enc)), STRATA_OK);
    buf_free(&enc);
}

static void hb_index_entry(struct block_builder *ib, const char *uk, uint64_t seq,
                           const struct block_handle *h)
{
    struct buf k = { 0 };
    buf_put_internal_key(&k, slice_make(uk, strlen(uk)), seq, TYPE_FOR_SEEK);
    hb_add_handle(ib, buf_slice(&k), h);
    buf_free(&k);
}

/* Data blocks: [a b] [] [c d] [] — empty blocks in the middle and at the
 * end; the metaindex names a block this version does not know, and the
 * properties hold one it does not know: both are ignored. */
static void hand_built_table(const char *path)
{
    struct buf file = { 0 };
    struct block_builder bb, ib, mb;
    block_builder_init(&bb, 16);
    block_builder_init(&ib, 1);
    block_builder_init(&mb, 1);
    struct block_handle h[4], props, future, meta, index;
    hb_add(&bb, "a", 4, TYPE_VALUE, "va");
    hb_add(&bb, "b", 3, TYPE_VALUE, "vb");
    hb_block(&file, &bb, &h[0]);
    hb_block(&file, &bb, &h[1]);
    hb_add(&bb, "c", 2, TYPE_DELETION, "");
    hb_add(&bb, "d", 1, TYPE_VALUE, "vd");
    hb_block(&file, &bb, &h[2]);
    hb_block(&file, &bb, &h[3]);
    hb_index_entry(&ib, "b", 3, &h[0]);
    hb_index_entry(&ib, "bb", MAX_SEQUENCE, &h[1]);
    hb_index_entry(&ib, "d", 1, &h[2]);
    hb_index_entry(&ib, "e", MAX_SEQUENCE, &h[3]);
    char enc[VARINT64_MAX_LEN];
    size_t n = (size_t)(encode_varint64(enc, 4) - enc);
    cr_assert_eq(block_builder_add(&bb, slice_make("strata.entries", 14), slice_make(enc, n)),
                 STRATA_OK);
    cr_assert_eq(block_builder_add(&bb, slice_make("strata.zzz", 10), slice_make("?", 1)),
                 STRATA_OK);
    hb_block(&file, &bb, &props);
    cr_assert_eq(block_builder_add(&bb, slice_make("x", 1), slice_make("y", 1)), STRATA_OK);
    hb_block(&file, &bb, &future);
    hb_add_handle(&mb, slice_make("properties", 10), &props);
    hb_add_handle(&mb, slice_make("zzz.future", 10), &future);
    hb_block(&file, &mb, &meta);
    hb_block(&file, &ib, &index);
    struct footer f = { meta, index };
    char ft[FOOTER_SIZE];
    footer_encode(&f, ft);
    buf_append(&file, ft, sizeof ft);
    cr_assert_eq(tu_write_file(path, file.data, file.len), 0);
    block_builder_free(&bb);
    block_builder_free(&ib);
    block_builder_free(&mb);
    buf_free(&file);
}

static void expect_user_key(struct iter *it, const char *uk, const char *what)
{
    cr_assert(iter_valid(it), "%s: invalid, want %s", what, uk);
    cr_assert(slice_equal(internal_key_user_key(iter_key(it)), slice_make(uk, strlen(uk))),
              "%s: want %s", what, uk);
}

static struct slice seek_key(struct buf *b, const char *uk)
{
    buf_clear(b);
    buf_put_internal_key(b, slice_make(uk, strlen(uk)), MAX_SEQUENCE, TYPE_FOR_SEEK);
    return buf_slice(b);
}

Test(table, hand_built_table_with_empty_blocks)
{
    char *path = table_path_in_dir("000015.sst");
    hand_built_table(path);
    struct table *t = open_table(path, NULL, 1);
    cr_assert_eq(table_get_properties(t)->entries, 4);
    struct buf k = { 0 }, v = { 0 };
    cr_assert_eq(table_get(t, NULL, seek_key(&k, "a"), &v), TABLE_FOUND);
    cr_assert(slice_equal(buf_slice(&v), slice_make("va", 2)));
    cr_assert_eq(table_get(t, NULL, seek_key(&k, "bb"), &v), TABLE_ABSENT);
    cr_assert_eq(table_get(t, NULL, seek_key(&k, "c"), &v), TABLE_DELETED);
    cr_assert_eq(table_get(t, NULL, seek_key(&k, "d"), &v), TABLE_FOUND);
    cr_assert_eq(table_get(t, NULL, seek_key(&k, "dd"), &v), TABLE_ABSENT);
    cr_assert_eq(table_get(t, NULL, seek_key(&k, "z"), &v), TABLE_ABSENT);

    struct iter *it = table_iter_new(t, NULL);
    const char *fwd[] = { "a", "b", "c", "d" };
    size_t i = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it))
        expect_user_key(it, fwd[i++], "forward");
    cr_assert_eq(i, 4);
    for (iter_seek_to_last(it); iter_valid(it); iter_prev(it))
        expect_user_key(it, fwd[--i], "backward");
    cr_assert_eq(i, 0);
    iter_seek(it, seek_key(&k, "bb"));
    expect_user_key(it, "c", "seek into the empty block");
    iter_prev(it);
    expect_user_key(it, "b", "prev across the empty block");
    iter_next(it);
    expect_user_key(it, "c", "next across the empty block");
    iter_seek_for_prev(it, seek_key(&k, "bc"));
    expect_user_key(it, "b", "seek_for_prev into the empty block");
    iter_seek_for_prev(it, seek_key(&k, "z"));
    expect_user_key(it, "d", "seek_for_prev past the end");
    iter_seek(it, seek_key(&k, "dd"));
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_status(it), STRATA_OK);
    iter_destroy(it);
    buf_free(&k);
    buf_free(&v);
    table_close(t);
    free(path);
}

/* An index entry that points past the data (a table written wrong, with
 * right checksums): a get fails as corruption naming the file, and the
 * offset estimate stays inside the data instead of pointing past the end
 * of the file (found by tests/fuzz/fuzz_table.c). */
Test(table, index_handle_past_the_data)
{
    char *path = table_path_in_dir("000016.sst");
    struct buf file = { 0 }, k = { 0 }, v = { 0 };
    struct block_builder bb, ib, mb;
    block_builder_init(&bb, 16);
    block_builder_init(&ib, 1);
    block_builder_init(&mb, 1);
    struct block_handle data, props, meta, index, bogus = { (uint64_t)1 << 40, 10 };
    hb_add(&bb, "a", 1, TYPE_VALUE, "va");
    hb_block(&file, &bb, &data);
    hb_block(&file, &bb, &props); /* no properties: an empty block */
    hb_add_handle(&mb, slice_make("properties", 10), &props);
    hb_block(&file, &mb, &meta);
    hb_index_entry(&ib, "a", 1, &bogus);
    hb_block(&file, &ib, &index);
    struct footer f = { meta, index };
    char ft[FOOTER_SIZE];
    footer_encode(&f, ft);
    buf_append(&file, ft, sizeof ft);
    cr_assert_eq(tu_write_file(path, file.data, file.len), 0);

    struct table *t = open_table(path, NULL, 1);
    uint64_t off = table_approximate_offset(t, seek_key(&k, "a"));
    cr_assert_leq(off, meta.offset, "offset %llu, data ends at %llu", (unsigned long long)off,
                  (unsigned long long)meta.offset);
    expect_corruption_naming(table_get(t, NULL, seek_key(&k, "a"), &v), path, "get");
    table_close(t);
    block_builder_free(&bb);
    block_builder_free(&ib);
    block_builder_free(&mb);
    buf_free(&file);
    buf_free(&k);
    buf_free(&v);
    free(path);
}

/* A flipped byte of a raw value, read without verification, shows as that
 * byte: the damage is the damage, nothing else changes. */
Test(table, unverified_damage_shows_as_the_damaged_byte)
{
    struct model m = { 0 };
    char val[64];
    memset(val, 'v', sizeof val);
    model_add(&m, "key", 3, 1, TYPE_VALUE, val, sizeof val);
    char *path = table_path_in_dir("000012.sst");
    struct table_builder_options o = topts(4096, STRATA_COMPRESSION_NONE, 0);
    build_table(path, &o, &m);
    /* Entry: 3 one-byte varints, the 11-byte key, then the value. */
    flip(path, 3 + 11 + 10);
    struct table *t = open_table(path, NULL, 0);
    struct buf v = { 0 };
    struct table_read_options noverify = { 0, 1 }, verify = { 1, 1 };
    cr_assert_eq(table_get(t, &noverify, mkey(&m, 0), &v), TABLE_FOUND);
    cr_assert_eq(v.len, sizeof val);
    cr_assert_eq(v.data[10], 'v' ^ 0x20);
    cr_assert_eq(memcmp(v.data, val, 10), 0);
    table_close(t);
    t = open_table(path, NULL, 0);
    expect_corruption_naming(table_get(t, &verify, mkey(&m, 0), &v), path, "verified");
    table_close(t);
    buf_free(&v);
    model_free(&m);
    free(path);
}

/* Read errors from the file system come back as I/O errors. */
Test(table, read_errors_are_reported)
{
    struct damage_fixture d;
    damage_fixture_init(&d, 300, 1024, STRATA_COMPRESSION_ZSTD, 23);
    struct table *t = open_table(d.path, NULL, 0);
    struct buf v = { 0 };
    env_set_fault(env, 1, ENV_OP_READ, EIO);
    cr_assert_eq(table_get(t, NULL, mkey(&d.m, d.m.n / 2), &v), STRATA_IO_ERROR);
    env_set_fault(env, 3, ENV_OP_READ, EIO);
    struct iter *it = table_iter_new(t, NULL);
    size_t n = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it))
        n++;
    cr_assert_eq(iter_status(it), STRATA_IO_ERROR, "after %zu entries", n);
    cr_assert_gt(n, 0);
    cr_assert_lt(n, d.m.n);
    /* The error is sticky: the iterator stays invalid. */
    iter_seek_to_first(it);
    cr_assert(!iter_valid(it));
    iter_destroy(it);
    env_clear_fault(env);
    for (uint64_t nth = 1; nth <= 4; nth++) {
        env_set_fault(env, nth, ENV_OP_READ, EIO);
        struct table *t2 = NULL;
        cr_assert_eq(try_open(d.path, NULL, 0, &t2), STRATA_IO_ERROR);
        env_clear_fault(env);
    }
    table_close(t);
    buf_free(&v);
    damage_fixture_free(&d);
}

/* ---- format pieces ----------------------------------------------------------------------------------- */

Test(table, handles_and_footer_encode_decode)
{
    struct buf b = { 0 };
    struct block_handle h = { UINT64_MAX, UINT64_MAX - 1 }, h2;
    cr_assert_eq(block_handle_encode(&h, &b), STRATA_OK);
    cr_assert_eq(b.len, BLOCK_HANDLE_MAX_LEN);
    const char *p = b.data;
    cr_assert(block_handle_decode(&p, b.data + b.len, &h2));
    cr_assert_eq(h2.offset, h.offset);
    cr_assert_eq(h2.size, h.size);
    cr_assert_eq(p, b.data + b.len);
    for (size_t cut = 0; cut < b.len; cut++) {
        p = b.data;
        cr_assert(!block_handle_decode(&p, b.data + cut, &h2), "a handle cut at %zu", cut);
    }
    /* The largest handles still fit the footer's 40 bytes. */
    struct footer f = { h, h }, g;
    char enc[FOOTER_SIZE];
    footer_encode(&f, enc);
    cr_assert_eq(footer_decode(enc, "f", &g), STRATA_OK);
    cr_assert_eq(g.index.size, h.size);
    cr_assert_eq(decode_fixed64(enc + 48), TABLE_MAGIC);
    cr_assert_eq(memcmp(enc + 48, "10ATARTS", 8), 0, "the magic's bytes");
    buf_free(&b);
}

Test(table, compress_keeps_raw_unless_an_eighth_is_saved)
{
    struct tu_rng r;
    tu_rng_seed(&r, 24);
    char raw[4096];
    struct buf out = { 0 };
    int type;
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (char)tu_rng_next(&r);
    cr_assert_eq(block_compress(slice_make(raw, sizeof raw), STRATA_COMPRESSION_ZSTD, 1, &out,
                                &type),
                 STRATA_OK);
    cr_assert_eq(type, STRATA_COMPRESSION_NONE);
    cr_assert_eq(out.len, 0);
    /* One eighth zeros: zstd saves about an eighth, minus its overhead:
     * not enough.  Half zeros: plenty. */
    memset(raw, 0, sizeof raw / 8);
    cr_assert_eq(block_compress(slice_make(raw, sizeof raw), STRATA_COMPRESSION_ZSTD, 1, &out,
                                &type),
                 STRATA_OK);
    cr_assert_eq(type, STRATA_COMPRESSION_NONE);
    memset(raw, 0, sizeof raw / 2);
    cr_assert_eq(block_compress(slice_make(raw, sizeof raw), STRATA_COMPRESSION_ZSTD, 1, &out,
                                &type),
                 STRATA_OK);
    cr_assert_eq(type, STRATA_COMPRESSION_ZSTD);
    cr_assert_leq(out.len, sizeof raw - sizeof raw / 8);
    cr_assert_eq(block_compress(slice_make(raw, sizeof raw), 9, 1, &out, &type),
                 STRATA_NOT_SUPPORTED);
    buf_free(&out);
}

/* Write one block (stored bytes + trailer of type) as the whole of path. */
static void write_one_block(const char *path, struct slice stored, unsigned type)
{
    struct buf file = { 0 };
    buf_append(&file, stored.data, stored.len);
    char t = (char)type;
    buf_append(&file, &t, 1);
    buf_put_fixed32(&file, checksum32(stored.data, stored.len, type));
    cr_assert_eq(tu_write_file(path, file.data, file.len), 0);
    buf_free(&file);
}

/* block_read of the one block in path. */
static int read_one_block(const char *path, uint64_t size, struct slice *c)
{
    struct env_file *f;
    cr_assert_eq(env_open(env, path, ENV_OPEN_READ, &f), STRATA_OK);
    struct block_handle h = { 0, size };
    int rc = block_read(f, &h, 1, c);
    env_close(f);
    return rc;
}

/* A zstd frame of raw without its content size in the header. */
static size_t compress_without_size(const char *raw, size_t n, char *out, size_t cap)
{
    ZSTD_CCtx *z = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 0);
    size_t r = ZSTD_compress2(z, out, cap, raw, n);
    ZSTD_freeCCtx(z);
    cr_assert(!ZSTD_isError(r));
    return r;
}

/* Frames that are well checksummed but wrong are damage, refused before
 * any allocation of the size they claim. */
Test(table, block_read_refuses_bad_frames)
{
    char *path = table_path_in_dir("000013.sst");
    struct buf blk = { 0 };
    char raw[1000];
    memset(raw, 'a', sizeof raw);
    int type;
    cr_assert_eq(block_compress(slice_make(raw, sizeof raw), STRATA_COMPRESSION_ZSTD, 1, &blk,
                                &type),
                 STRATA_OK);
    cr_assert_eq(type, STRATA_COMPRESSION_ZSTD);
    struct slice c;
    write_one_block(path, buf_slice(&blk), STRATA_COMPRESSION_ZSTD);
    cr_assert_eq(read_one_block(path, blk.len, &c), STRATA_OK);
    cr_assert_eq(c.len, sizeof raw);
    cr_assert_eq(memcmp(c.data, raw, sizeof raw), 0);
    free((void *)c.data);

    expect_corruption_naming(read_one_block(path, blk.len + 1, &c), path, "past the end");
    cr_assert(strstr(strata_last_error(), "truncated block at offset 0 of") != NULL, "%s",
              strata_last_error());

    write_one_block(path, slice_make(blk.data, blk.len - 3), STRATA_COMPRESSION_ZSTD);
    expect_corruption_naming(read_one_block(path, blk.len - 3, &c), path, "a cut frame");

    write_one_block(path, buf_slice(&blk), 7);
    expect_corruption_naming(read_one_block(path, blk.len, &c), path, "type 7");
    cr_assert(strstr(strata_last_error(), "unknown block type 7") != NULL, "%s",
              strata_last_error());

    char frame[2000];
    size_t n = compress_without_size(raw, sizeof raw, frame, sizeof frame);
    write_one_block(path, slice_make(frame, n), STRATA_COMPRESSION_ZSTD);
    expect_corruption_naming(read_one_block(path, n, &c), path, "no content size");

    /* 65 MiB of zeros compress to a few KiB whose header claims 65 MiB. */
    size_t huge = BLOCK_MAX_DECOMPRESSED_SIZE + (1 << 20);
    char *zeros = calloc(1, huge);
    cr_assert_not_null(zeros);
    size_t bound = ZSTD_compressBound(huge);
    char *big = malloc(bound);
    n = ZSTD_compress(big, bound, zeros, huge, 1);
    cr_assert(!ZSTD_isError(n));
    write_one_block(path, slice_make(big, n), STRATA_COMPRESSION_ZSTD);
    expect_corruption_naming(read_one_block(path, n, &c), path, "over the size limit");
    /* The builder never compresses a block that big. */
    cr_assert_eq(block_compress(slice_make(zeros, huge), STRATA_COMPRESSION_ZSTD, 1, &blk, &type),
                 STRATA_OK);
    cr_assert_eq(type, STRATA_COMPRESSION_NONE);
    free(zeros);
    free(big);
    free(path);
    buf_free(&blk);
}

/* ---- threads ----------------------------------------------------------------------------------------------- */

struct reader_arg {
    struct table *t;
    const struct model *m;
    uint64_t seed;
    int failures;  /* asserted on by the main thread */
};

static void *reader_main(void *p)
{
    struct reader_arg *a = p;
    struct tu_rng r;
    tu_rng_seed(&r, a->seed);
    struct table_read_options ro = { (int)(a->seed & 1), 1 };
    struct buf v = { 0 }, target = { 0 };
    for (int round = 0; round < 2000; round++) {
        size_t i = tu_rng_uniform(&r, a->m->n);
        struct slice want = { 0 };
        int expect = model_get(a->m, mkey(a->m, i), &want);
        int got = table_get(a->t, &ro, mkey(a->m, i), &v);
        a->failures += got != expect || (got == TABLE_FOUND && !slice_equal(buf_slice(&v), want));
    }
    struct iter *it = table_iter_new(a->t, &ro);
    for (int round = 0; round < 300; round++) {
        random_target(a->m, &r, &target);
        size_t pos = model_lower_bound(a->m, buf_slice(&target));
        iter_seek(it, buf_slice(&target));
        for (int step = 0; step < 20 && pos < a->m->n; step++, pos++) {
            a->failures += !iter_valid(it) || !slice_equal(iter_key(it), mkey(a->m, pos));
            if (iter_valid(it))
                iter_next(it);
        }
    }
    a->failures += iter_status(it) != STRATA_OK;
    iter_destroy(it);
    buf_free(&v);
    buf_free(&target);
    return NULL;
}

/* Readers share one table and a cache small enough to evict constantly. */
Test(table, concurrent_readers)
{
    struct tu_rng r;
    tu_rng_seed(&r, 25);
    struct model m = { 0 };
    make_model(&m, SHAPE_VERSIONS, V_COMPRESSIBLE, 2000, &r);
    char *path = table_path_in_dir("000014.sst");
    struct table_builder_options o = topts(512, STRATA_COMPRESSION_ZSTD, 10);
    build_table(path, &o, &m);
    struct cache *c = cache_new(8 << 10, 2);
    struct table *t = open_table(path, c, 0);
    enum { THREADS = 4 };
    pthread_t th[THREADS];
    struct reader_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct reader_arg){ t, &m, 100 + (uint64_t)i, 0 };
        cr_assert_eq(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(args[i].failures, 0, "thread %d: %d wrong results", i, args[i].failures);
    }
    table_close(t);
    cache_free(c);
    model_free(&m);
    free(path);
}

/*
 * test_model.c: the model-based randomized test.  Random operations on a
 * database, each checked against an in-memory reference written here.
 *
 * The reference: a fixed universe of keys (varied lengths and bytes: the
 * empty key, 0x00 and 0xff bytes, keys that are prefixes of others), sorted
 * bytewise, with the version each key holds (0: absent).  A value is a
 * function of its key and version (empty values and ~10 KiB ones
 * included), so the reference keeps one number per key, and a snapshot of
 * it is a copy of that array.
 *
 * The operations: put, delete, batches (a key possibly twice), gets (of
 * keys in and outside the universe, at the latest state or a snapshot),
 * iterators (random lower and upper bounds, seek_first/last, seek,
 * seek_for_prev, walks forwards and backwards with changes of direction,
 * writes made while the iterator lives, which it must not see), snapshots
 * taken, read and released, close and reopen, and strata_compact_range over
 * random ranges.  The options are tiny (64 KiB memtable, 16 KiB tables, a
 * 64 KiB level 1), so a run crosses hundreds of flushes and compactions,
 * and vary per seed (compression, mmap reads, block size, bloom filter,
 * block cache).
 *
 * `make test` runs a fixed set of seeds.  A longer run, of other seeds:
 *   make model-test SEED=7,8,9 OPS=1000000
 * (STRATA_MODEL_SEED, a comma-separated list, and STRATA_MODEL_OPS, the
 * operations per seed).  Every failure names the seed and the operation.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata.h"
#include "tests/testutil.h"

enum {
    UNIVERSE = 2000,  /* keys the operations draw from */
    MAX_SNAPS = 6,    /* snapshots alive at once */
    MAX_VALUE = 12000,
};

/* Operations per fixed seed in `make test`.  The sanitizers run the suite
 * 3 (ASan) to 8 (TSan) times slower: a quarter there keeps `make asan` and
 * `make tsan` from waiting minutes on this file. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DEFAULT_OPS 5000
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define DEFAULT_OPS 5000
#endif
#endif
#ifndef DEFAULT_OPS
#define DEFAULT_OPS 20000
#endif

/* ---- the reference ---------------------------------------------------------------------------- */

struct mkey {
    unsigned char *data;
    size_t len;
};

struct msnap {
    const strata_snapshot *snap;
    uint64_t *ver; /* the versions when it was taken */
};

struct model {
    struct mkey *keys; /* sorted, distinct */
    size_t n;
    uint64_t *ver;     /* the latest state */
    uint64_t next_version;
    struct msnap snaps[MAX_SNAPS];
    int nsnaps;
};

/* The database's order: bytewise, a prefix first. */
static int key_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static int mkey_cmp(const void *x, const void *y)
{
    const struct mkey *a = x, *b = y;
    return key_cmp(a->data, a->len, b->data, b->len);
}

/* A random key: readable ("k" and digits), raw bytes drawn from the
 * extremes of the byte range, or a prefix or extension of an earlier key. */
static size_t random_key(struct tu_rng *r, unsigned char *out, const struct mkey *prev, size_t nprev)
{
    static const unsigned char alphabet[] = { 0x00, 0x01, 'a', 'b', 'k', 'z', 0x7f, 0x80, 0xfe, 0xff };
    uint64_t style = tu_rng_uniform(r, 100);
    if (style < 20 && nprev > 0) {
        const struct mkey *p = &prev[tu_rng_uniform(r, nprev)];
        size_t len = p->len;
        memcpy(out, p->data, len);
        if (len > 0 && tu_rng_chance(r, 1, 2))
            return tu_rng_uniform(r, len); /* a proper prefix */
        out[len] = alphabet[tu_rng_uniform(r, sizeof alphabet)];
        return len + 1; /* an extension */
    }
    if (style < 50) {
        size_t len = 1 + tu_rng_uniform(r, 12);
        for (size_t i = 0; i < len; i++)
            out[i] = alphabet[tu_rng_uniform(r, sizeof alphabet)];
        return len;
    }
    return (size_t)snprintf((char *)out, 32, "k%0*" PRIu64, 1 + (int)tu_rng_uniform(r, 6),
                            tu_rng_uniform(r, 100000));
}

static void model_init(struct model *m, struct tu_rng *r)
{
    memset(m, 0, sizeof *m);
    m->keys = calloc(UNIVERSE, sizeof *m->keys);
    cr_assert_not_null(m->keys);
    size_t n = 0;
    m->keys[n++] = (struct mkey){ malloc(1), 0 }; /* the empty key */
    unsigned char buf[64];
    while (n < UNIVERSE) {
        size_t len = random_key(r, buf, m->keys, n);
        m->keys[n].data = malloc(len + 1);
        memcpy(m->keys[n].data, buf, len);
        m->keys[n++].len = len;
    }
    qsort(m->keys, n, sizeof *m->keys, mkey_cmp);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out > 0 && mkey_cmp(&m->keys[out - 1], &m->keys[i]) == 0) {
            free(m->keys[i].data);
            continue;
        }
        m->keys[out++] = m->keys[i];
    }
    m->n = out;
    m->ver = calloc(m->n, sizeof *m->ver);
    m->next_version = 1;
}

static void model_free(struct model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->keys[i].data);
    for (int i = 0; i < m->nsnaps; i++)
        free(m->snaps[i].ver);
    free(m->keys);
    free(m->ver);
}

/* The first rank whose key is >= key (m->n when none). */
static size_t lower_rank(const struct model *m, const void *key, size_t len)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(m->keys[mid].data, m->keys[mid].len, key, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The value of rank k at version v: a function of both, of length 0 (one
 * in 23), ~10 KiB (one in 97), or up to 200 bytes. */
static size_t model_value(unsigned char *buf, size_t k, uint64_t v)
{
    struct tu_rng r;
    tu_rng_seed(&r, (uint64_t)k * 0x100000001b3ull ^ v * 0x9e3779b97f4a7c15ull);
    uint64_t h = tu_rng_next(&r);
    size_t len = h % 23 == 0 ? 0 : h % 97 == 0 ? 8000 + (size_t)(h >> 20) % 4000 : (size_t)(h >> 20) % 200;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t x = tu_rng_next(&r) & 0x3f3f3f3f3f3f3f3full; /* compressible */
        memcpy(buf + i, &x, len - i < 8 ? len - i : 8);
    }
    return len;
}

/* ---- the run ----------------------------------------------------------------------------------- */

struct run {
    uint64_t seed, op, ops;
    const char *what; /* the operation under way, for messages */
    struct tu_rng r;
    struct model m;
    char *dir, *path;
    strata_options *opts;
    strata_write_options *wo, *wo_sync;
    strata_db *db;
    uint64_t counts[12];
    uint64_t flushes, compactions; /* of the sessions closed so far */
};

#define CHECK(run, cond, ...)                                                                          \
    cr_assert(cond, "model seed %" PRIu64 " op %" PRIu64 " (%s): %s", (run)->seed, (run)->op, (run)->what, \
              check_msg(__VA_ARGS__))

static char *check_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *check_msg(const char *fmt, ...)
{
    static char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return msg;
}

/* Printable key for messages. */
static const char *show(const void *key, size_t len)
{
    static char out[4][96];
    static int slot;
    char *s = out[slot++ % 4];
    size_t o = 0;
    const unsigned char *p = key;
    for (size_t i = 0; i < len && o < 80; i++)
        o += (size_t)snprintf(s + o, 96 - o, p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' ? "%c" : "\\x%02x",
                              p[i]);
    s[o] = '\0';
    return s;
}

/* The per-seed options: always tiny buffers, the rest varies. */
static strata_options *seed_options(struct tu_rng *r)
{
    strata_options *o = strata_options_new();
    strata_options_set_write_buffer_size(o, 64 << 10);
    strata_options_set_target_file_size(o, 16 << 10);
    strata_options_set_max_bytes_for_level_base(o, 64 << 10);
    strata_options_set_max_bytes_for_level_multiplier(o, 2 + (int)tu_rng_uniform(r, 4));
    strata_options_set_block_size(o, 256u << tu_rng_uniform(r, 5));
    strata_options_set_compression(o, tu_rng_chance(r, 2, 3) ? STRATA_COMPRESSION_ZSTD : STRATA_COMPRESSION_NONE);
    strata_options_set_mmap_reads(o, tu_rng_chance(r, 1, 2));
    strata_options_set_bloom_bits_per_key(o, tu_rng_chance(r, 1, 4) ? 0 : 10);
    strata_options_set_block_cache_size(o, tu_rng_chance(r, 1, 4) ? 0 : 64u << 10);
    return o;
}

static void db_open(struct run *x)
{
    int rc = strata_open(x->path, x->opts, &x->db);
    CHECK(x, rc == STRATA_OK, "open: %s: %s", strata_strerror(rc), strata_last_error());
}

/* A key to operate on: mostly from the universe (a third of those from a
 * hot 5%), sometimes one outside it (only for reads and bounds). */
static size_t pick_rank(struct run *x)
{
    size_t n = x->m.n;
    return tu_rng_chance(&x->r, 1, 3) ? tu_rng_uniform(&x->r, n / 20 + 1) * 20 % n : tu_rng_uniform(&x->r, n);
}

/* ---- writes ------------------------------------------------------------------------------------- */

static const strata_write_options *pick_wo(struct run *x)
{
    return tu_rng_chance(&x->r, 1, 500) ? x->wo_sync : x->wo;
}

static void op_put(struct run *x, unsigned char *vbuf)
{
    size_t k = pick_rank(x);
    uint64_t v = x->m.next_version++;
    size_t vl = model_value(vbuf, k, v);
    const struct mkey *key = &x->m.keys[k];
    int rc = strata_put(x->db, pick_wo(x), key->data, key->len, vbuf, vl);
    CHECK(x, rc == STRATA_OK, "put %s: %s", show(key->data, key->len), strata_last_error());
    x->m.ver[k] = v;
}

static void op_delete(struct run *x)
{
    size_t k = pick_rank(x);
    const struct mkey *key = &x->m.keys[k];
    int rc = strata_delete(x->db, pick_wo(x), key->data, key->len);
    CHECK(x, rc == STRATA_OK, "delete %s: %s", show(key->data, key->len), strata_last_error());
    x->m.ver[k] = 0;
}

/* 0 to 10 updates (a key now and then twice: the later one wins), applied
 * to the reference only once the write returned. */
static void op_batch(struct run *x, unsigned char *vbuf)
{
    size_t ranks[16];
    uint64_t vers[16];
    int n = (int)tu_rng_uniform(&x->r, 11);
    strata_batch *b = strata_batch_new();
    for (int i = 0; i < n; i++) {
        size_t k = i > 0 && tu_rng_chance(&x->r, 1, 8) ? ranks[i - 1] : pick_rank(x);
        const struct mkey *key = &x->m.keys[k];
        ranks[i] = k;
        vers[i] = tu_rng_chance(&x->r, 3, 4) ? x->m.next_version++ : 0;
        if (vers[i]) {
            size_t vl = model_value(vbuf, k, vers[i]);
            strata_batch_put(b, key->data, key->len, vbuf, vl);
        } else {
            strata_batch_delete(b, key->data, key->len);
        }
    }
    int rc = strata_write(x->db, pick_wo(x), b);
    CHECK(x, rc == STRATA_OK, "batch of %d: %s", n, strata_last_error());
    strata_batch_free(b);
    for (int i = 0; i < n; i++)
        x->m.ver[ranks[i]] = vers[i];
}

/* ---- reads -------------------------------------------------------------------------------------- */

/* One of the live snapshots (its index), or -1 for the latest state. */
static int pick_view(struct run *x)
{
    if (x->m.nsnaps == 0 || tu_rng_chance(&x->r, 1, 2))
        return -1;
    return (int)tu_rng_uniform(&x->r, (uint64_t)x->m.nsnaps);
}

static strata_read_options *view_options(struct run *x, int view)
{
    strata_read_options *ro = strata_read_options_new();
    if (view >= 0)
        strata_read_options_set_snapshot(ro, x->m.snaps[view].snap);
    if (tu_rng_chance(&x->r, 1, 10))
        strata_read_options_set_verify_checksums(ro, 1);
    return ro;
}

/* key (rank k, or k == SIZE_MAX for a key outside the universe) must read
 * as version want (0: not found). */
static void check_get(struct run *x, const strata_read_options *ro, const void *key, size_t klen, size_t k,
                      uint64_t want, unsigned char *vbuf)
{
    void *val;
    size_t vl;
    int rc = strata_get(x->db, ro, key, klen, &val, &vl);
    if (want == 0) {
        CHECK(x, rc == STRATA_NOT_FOUND, "get %s: expected not found, got %s (%zu-byte value)", show(key, klen),
              strata_strerror(rc), rc == STRATA_OK ? vl : 0);
        return;
    }
    CHECK(x, rc == STRATA_OK, "get %s: expected version %" PRIu64 ", got %s: %s", show(key, klen), want,
          strata_strerror(rc), strata_last_error());
    size_t wl = model_value(vbuf, k, want);
    int same = vl == wl && memcmp(val, vbuf, wl) == 0;
    strata_free(val);
    CHECK(x, same, "get %s: wrong value (%zu bytes, expected version %" PRIu64 " of %zu bytes)", show(key, klen),
          vl, want, wl);
}

static void op_get(struct run *x, unsigned char *vbuf)
{
    int view = pick_view(x);
    const uint64_t *ver = view >= 0 ? x->m.snaps[view].ver : x->m.ver;
    strata_read_options *ro = view_options(x, view);
    if (tu_rng_chance(&x->r, 1, 10)) {
        unsigned char key[64];
        size_t len = random_key(&x->r, key, x->m.keys, x->m.n);
        size_t k = lower_rank(&x->m, key, len);
        int in = k < x->m.n && key_cmp(x->m.keys[k].data, x->m.keys[k].len, key, len) == 0;
        check_get(x, ro, key, len, in ? k : SIZE_MAX, in ? ver[k] : 0, vbuf);
    } else {
        size_t k = pick_rank(x);
        check_get(x, ro, x->m.keys[k].data, x->m.keys[k].len, k, ver[k], vbuf);
    }
    strata_read_options_free(ro);
}

/* Every key, by get, at the latest state. */
static void check_all_gets(struct run *x, unsigned char *vbuf)
{
    for (size_t k = 0; k < x->m.n; k++)
        check_get(x, NULL, x->m.keys[k].data, x->m.keys[k].len, k, x->m.ver[k], vbuf);
}

/* ---- iterators ----------------------------------------------------------------------------------- */

/* An iterator over a view, with bounds as ranks: keys of rank in [lo, hi)
 * are inside (bounds outside the universe round to the ranks they
 * separate). */
struct miter {
    const uint64_t *ver;
    size_t lo, hi;
    size_t pos; /* SIZE_MAX: not valid */
};

static size_t mi_next_from(const struct miter *mi, size_t r)
{
    for (; r < mi->hi; r++)
        if (mi->ver[r])
            return r;
    return SIZE_MAX;
}

/* The last present rank <= r (r may be SIZE_MAX - 1 style "all"). */
static size_t mi_prev_from(const struct miter *mi, size_t r)
{
    if (r >= mi->hi)
        r = mi->hi;
    else
        r++;
    while (r > mi->lo) {
        r--;
        if (mi->ver[r])
            return r;
    }
    return SIZE_MAX;
}

/* A bound: a universe key, a random key, or none (returns 0). */
static int pick_bound(struct run *x, unsigned char *buf, size_t *len)
{
    uint64_t c = tu_rng_uniform(&x->r, 10);
    if (c < 4)
        return 0;
    if (c < 7) {
        const struct mkey *k = &x->m.keys[pick_rank(x)];
        memcpy(buf, k->data, k->len);
        *len = k->len;
    } else {
        *len = random_key(&x->r, buf, x->m.keys, x->m.n);
    }
    return 1;
}

/* The iterator and the reference must agree on the position. */
static void check_pos(struct run *x, strata_iter *it, const struct miter *mi, const char *move,
                      unsigned char *vbuf)
{
    int rc = strata_iter_status(it);
    CHECK(x, rc == STRATA_OK, "iterator %s: status %s: %s", move, strata_strerror(rc), strata_last_error());
    size_t kl = 0, vl = 0;
    const void *key = strata_iter_key(it, &kl);
    if (mi->pos == SIZE_MAX) {
        CHECK(x, !strata_iter_valid(it), "iterator %s: expected the end, at %s", move, show(key, kl));
        return;
    }
    const struct mkey *want = &x->m.keys[mi->pos];
    CHECK(x, strata_iter_valid(it), "iterator %s: expected %s, but not valid", move, show(want->data, want->len));
    CHECK(x, kl == want->len && memcmp(key, want->data, kl) == 0, "iterator %s: expected %s, at %s", move,
          show(want->data, want->len), show(key, kl));
    const void *val = strata_iter_value(it, &vl);
    size_t wl = model_value(vbuf, mi->pos, mi->ver[mi->pos]);
    CHECK(x, vl == wl && memcmp(val, vbuf, wl) == 0, "iterator %s at %s: wrong value (%zu bytes, expected %zu)",
          move, show(key, kl), vl, wl);
}

/* Position both with one of the four seeks. */
static const char *iter_seek(struct run *x, strata_iter *it, struct miter *mi)
{
    unsigned char t[64];
    size_t tl;
    switch (tu_rng_uniform(&x->r, 4)) {
    case 0:
        strata_iter_seek_first(it);
        mi->pos = mi_next_from(mi, mi->lo);
        return "seek_first";
    case 1:
        strata_iter_seek_last(it);
        mi->pos = mi->hi > mi->lo ? mi_prev_from(mi, mi->hi - 1) : SIZE_MAX;
        return "seek_last";
    case 2:
        if (!pick_bound(x, t, &tl))
            tl = 0;
        strata_iter_seek(it, t, tl);
        {
            size_t r = lower_rank(&x->m, t, tl);
            mi->pos = mi_next_from(mi, r > mi->lo ? r : mi->lo);
        }
        return "seek";
    default:
        if (!pick_bound(x, t, &tl))
            tl = 0;
        strata_iter_seek_for_prev(it, t, tl);
        {
            /* The last key <= t: below the first key > t. */
            size_t r = lower_rank(&x->m, t, tl);
            if (r < x->m.n && key_cmp(x->m.keys[r].data, x->m.keys[r].len, t, tl) == 0)
                r++;
            mi->pos = r > mi->lo ? mi_prev_from(mi, r - 1) : SIZE_MAX;
        }
        return "seek_for_prev";
    }
}

/* A walk of up to 60 steps in one direction, changing direction now and
 * then, with writes in between that the iterator must not see. */
static void iter_walk(struct run *x, strata_iter *it, struct miter *mi, unsigned char *vbuf)
{
    int forward = tu_rng_chance(&x->r, 1, 2);
    int steps = (int)tu_rng_uniform(&x->r, 60);
    for (int s = 0; s < steps && mi->pos != SIZE_MAX; s++) {
        if (tu_rng_chance(&x->r, 1, 15))
            forward = !forward;
        if (tu_rng_chance(&x->r, 1, 20))
            op_put(x, vbuf); /* changes x->m.ver, not the iterator's view */
        if (forward) {
            strata_iter_next(it);
            mi->pos = mi_next_from(mi, mi->pos + 1);
        } else {
            strata_iter_prev(it);
            mi->pos = mi->pos > mi->lo ? mi_prev_from(mi, mi->pos - 1) : SIZE_MAX;
        }
        check_pos(x, it, mi, forward ? "next" : "prev", vbuf);
    }
}

static void op_iterate(struct run *x, unsigned char *vbuf)
{
    int view = pick_view(x);
    strata_read_options *ro = view_options(x, view);
    unsigned char lo[64], hi[64];
    size_t lol = 0, hil = 0;
    int has_lo = pick_bound(x, lo, &lol), has_hi = pick_bound(x, hi, &hil);
    if (has_lo)
        strata_read_options_set_lower_bound(ro, lo, lol);
    if (has_hi)
        strata_read_options_set_upper_bound(ro, hi, hil);
    /* The iterator's view: a copy, since the walk writes. */
    uint64_t *ver = malloc(x->m.n * sizeof *ver);
    memcpy(ver, view >= 0 ? x->m.snaps[view].ver : x->m.ver, x->m.n * sizeof *ver);
    struct miter mi = { ver, has_lo ? lower_rank(&x->m, lo, lol) : 0, has_hi ? lower_rank(&x->m, hi, hil) : x->m.n,
                        SIZE_MAX };
    if (mi.hi < mi.lo)
        mi.hi = mi.lo; /* upper below lower: nothing inside */
    strata_iter *it = strata_iter_new(x->db, ro);
    CHECK(x, it != NULL, "iter_new: %s", strata_last_error());
    for (int seeks = 1 + (int)tu_rng_uniform(&x->r, 3); seeks > 0; seeks--) {
        const char *how = iter_seek(x, it, &mi);
        check_pos(x, it, &mi, how, vbuf);
        iter_walk(x, it, &mi, vbuf);
    }
    strata_iter_free(it);
    strata_read_options_free(ro);
    free(ver);
}

/* Whole-database scans, both ways, at the latest state. */
static void check_scans(struct run *x, unsigned char *vbuf)
{
    struct miter mi = { x->m.ver, 0, x->m.n, SIZE_MAX };
    strata_iter *it = strata_iter_new(x->db, NULL);
    strata_iter_seek_first(it);
    mi.pos = mi_next_from(&mi, 0);
    check_pos(x, it, &mi, "scan seek_first", vbuf);
    while (mi.pos != SIZE_MAX) {
        strata_iter_next(it);
        mi.pos = mi_next_from(&mi, mi.pos + 1);
        check_pos(x, it, &mi, "scan next", vbuf);
    }
    strata_iter_seek_last(it);
    mi.pos = mi_prev_from(&mi, x->m.n - 1);
    check_pos(x, it, &mi, "scan seek_last", vbuf);
    while (mi.pos != SIZE_MAX) {
        strata_iter_prev(it);
        mi.pos = mi.pos > 0 ? mi_prev_from(&mi, mi.pos - 1) : SIZE_MAX;
        check_pos(x, it, &mi, "scan prev", vbuf);
    }
    strata_iter_free(it);
}

/* ---- snapshots, reopen, compaction ----------------------------------------------------------------- */

static void op_snapshot(struct run *x)
{
    if (x->m.nsnaps == MAX_SNAPS || (x->m.nsnaps > 0 && tu_rng_chance(&x->r, 1, 2))) {
        int i = (int)tu_rng_uniform(&x->r, (uint64_t)x->m.nsnaps);
        strata_snapshot_release(x->db, x->m.snaps[i].snap);
        free(x->m.snaps[i].ver);
        x->m.snaps[i] = x->m.snaps[--x->m.nsnaps];
        x->what = "snapshot release";
        return;
    }
    struct msnap *s = &x->m.snaps[x->m.nsnaps];
    s->snap = strata_snapshot_new(x->db);
    CHECK(x, s->snap != NULL, "snapshot_new: %s", strata_last_error());
    s->ver = malloc(x->m.n * sizeof *s->ver);
    memcpy(s->ver, x->m.ver, x->m.n * sizeof *s->ver);
    x->m.nsnaps++;
}

/* The "tables written" and "compactions" counters of strata.stats. */
static uint64_t stat_counter(strata_db *db, const char *label)
{
    char *s = strata_property(db, "strata.stats");
    const char *p = s ? strstr(s, label) : NULL;
    uint64_t v = p ? strtoull(p + strlen(label), NULL, 10) : 0;
    strata_free(s);
    return v;
}

/* Close (snapshots go first) and open again: everything must be there. */
static void op_reopen(struct run *x, unsigned char *vbuf)
{
    while (x->m.nsnaps > 0) {
        struct msnap *s = &x->m.snaps[--x->m.nsnaps];
        strata_snapshot_release(x->db, s->snap);
        free(s->ver);
    }
    /* The counters restart at each open. */
    x->flushes += stat_counter(x->db, "tables written");
    x->compactions += stat_counter(x->db, "compaction:\n  compactions");
    int rc = strata_close(x->db);
    CHECK(x, rc == STRATA_OK, "close: %s", strata_last_error());
    x->db = NULL;
    db_open(x);
    check_all_gets(x, vbuf);
    check_scans(x, vbuf);
}

static void op_compact(struct run *x)
{
    unsigned char a[64], b[64];
    size_t al = 0, bl = 0;
    int has_a = pick_bound(x, a, &al), has_b = pick_bound(x, b, &bl);
    int rc = strata_compact_range(x->db, has_a ? a : NULL, al, has_b ? b : NULL, bl);
    CHECK(x, rc == STRATA_OK, "compact_range: %s: %s", strata_strerror(rc), strata_last_error());
}

/* ---- the driver ------------------------------------------------------------------------------------ */

enum { C_PUT, C_DELETE, C_BATCH, C_GET, C_ITER, C_SNAP, C_REOPEN, C_COMPACT, C_SCAN };

static void one_op(struct run *x, unsigned char *vbuf)
{
    uint64_t r = tu_rng_uniform(&x->r, 10000);
    if (r < 3000) {
        x->what = "put", x->counts[C_PUT]++, op_put(x, vbuf);
    } else if (r < 4200) {
        x->what = "delete", x->counts[C_DELETE]++, op_delete(x);
    } else if (r < 5500) {
        x->what = "batch", x->counts[C_BATCH]++, op_batch(x, vbuf);
    } else if (r < 8300) {
        x->what = "get", x->counts[C_GET]++, op_get(x, vbuf);
    } else if (r < 9700) {
        x->what = "iterate", x->counts[C_ITER]++, op_iterate(x, vbuf);
    } else if (r < 9900) {
        x->what = "snapshot", x->counts[C_SNAP]++, op_snapshot(x);
    } else if (r < 9915) {
        x->what = "compact_range", x->counts[C_COMPACT]++, op_compact(x);
    } else if (r < 9919) {
        x->what = "reopen", x->counts[C_REOPEN]++, op_reopen(x, vbuf);
    } else if (r < 9922) {
        x->what = "full scan", x->counts[C_SCAN]++, check_scans(x, vbuf);
    } else {
        x->what = "get", x->counts[C_GET]++, op_get(x, vbuf);
    }
}

static void run_seed(uint64_t seed, uint64_t ops)
{
    struct run *x = calloc(1, sizeof *x);
    unsigned char *vbuf = malloc(MAX_VALUE);
    x->seed = seed;
    x->ops = ops;
    x->what = "setup";
    tu_rng_seed(&x->r, seed);
    model_init(&x->m, &x->r);
    x->opts = seed_options(&x->r);
    x->wo = strata_write_options_new();
    x->wo_sync = strata_write_options_new();
    strata_write_options_set_sync(x->wo_sync, 1);
    x->dir = tu_mkdtemp("model");
    cr_assert_not_null(x->dir);
    x->path = tu_join(x->dir, "db");
    db_open(x);
    uint64_t t0 = tu_now_ms();
    for (x->op = 0; x->op < ops; x->op++)
        one_op(x, vbuf);
    x->what = "final check";
    check_all_gets(x, vbuf);
    check_scans(x, vbuf);
    uint64_t flushes = x->flushes + stat_counter(x->db, "tables written");
    uint64_t compactions = x->compactions + stat_counter(x->db, "compaction:\n  compactions");
    fprintf(stderr,
            "model: seed %" PRIu64 ": %" PRIu64 " ops in %.1f s (%" PRIu64 " puts, %" PRIu64 " deletes, %" PRIu64
            " batches, %" PRIu64 " gets, %" PRIu64 " iterators, %" PRIu64 " snapshot ops, %" PRIu64
            " compact_range, %" PRIu64 " reopens); %" PRIu64 " flushes, %" PRIu64 " compactions\n",
            seed, ops, (double)(tu_now_ms() - t0) / 1000.0, x->counts[C_PUT], x->counts[C_DELETE],
            x->counts[C_BATCH], x->counts[C_GET], x->counts[C_ITER], x->counts[C_SNAP], x->counts[C_COMPACT],
            x->counts[C_REOPEN], flushes, compactions);
    op_reopen(x, vbuf); /* releases the snapshots; then the same again */
    cr_assert_eq(strata_close(x->db), STRATA_OK);
    strata_options_free(x->opts);
    strata_write_options_free(x->wo);
    strata_write_options_free(x->wo_sync);
    tu_rmrf(x->dir);
    free(x->dir);
    free(x->path);
    model_free(&x->m);
    free(vbuf);
    free(x);
}

/* ---- the tests --------------------------------------------------------------------------------------- */

/* STRATA_MODEL_OPS, or the default; 0 when unset or empty. */
static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    return s && *s ? strtoull(s, NULL, 0) : dflt;
}

/* With STRATA_MODEL_SEED set, only its seeds run (make model-test). */
static int on_demand(void)
{
    const char *s = getenv("STRATA_MODEL_SEED");
    return s && *s;
}

static void fixed_seed(uint64_t seed)
{
    if (on_demand())
        return;
    run_seed(seed, env_u64("STRATA_MODEL_OPS", DEFAULT_OPS));
}

TestSuite(model);

Test(model, seed_1) { fixed_seed(1); }
Test(model, seed_2) { fixed_seed(2); }
Test(model, seed_3) { fixed_seed(3); }
Test(model, seed_4) { fixed_seed(4); }

Test(model, on_demand)
{
    if (!on_demand())
        return;
    uint64_t ops = env_u64("STRATA_MODEL_OPS", 200000);
    const char *s = getenv("STRATA_MODEL_SEED");
    while (*s) {
        char *end;
        uint64_t seed = strtoull(s, &end, 0);
        cr_assert(end != s, "STRATA_MODEL_SEED: a comma-separated list of numbers, not '%s'", s);
        run_seed(seed, ops);
        s = *end == ',' ? end + 1 : end;
    }
}

/*
 * test_db_iter.c: the database iterator against a reference model.
 *
 * The randomized test applies random puts, deletes and batches over a small
 * key space (the empty key, keys that are prefixes of others, bytes 0x00
 * and 0xff) both to the database and to a plain array of key -> value,
 * taking snapshots (with a copy of the model) along the way.  Iterators are
 * opened at random views (the latest state or a snapshot), with random
 * bounds (or none), sometimes before more writes happen; then random
 * operations (seek_first, seek_last, seek, seek_for_prev, next, prev, in
 * any mix of directions) are applied to the iterator and to the model, and
 * valid/key/value are compared after every step.  The seeds are fixed; every
 * failure message starts with the seed and the step.
 *
 * The targeted tests cover the empty database, a fully deleted one, bounds
 * that exclude everything, lower == upper, direction switches at the first
 * and last key, and a key overwritten many times under an older iterator.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata.h"
#include "tests/testutil.h"

static char *dir;
static char *dbpath;

static void setup(void)
{
    dir = tu_mkdtemp("iter");
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

TestSuite(db_iter, .init = setup, .fini = teardown);

static strata_db *open_db(void)
{
    strata_db *db = NULL;
    int rc = strata_open(dbpath, NULL, &db);
    cr_assert_eq(rc, STRATA_OK, "open: %s", strata_last_error());
    return db;
}

/* ---- the model --------------------------------------------------------------------- */

enum { MAX_KEYS = 256, MAX_KLEN = 12, MAX_VLEN = 20 };

struct key {
    unsigned char b[MAX_KLEN];
    size_t len;
};

static int key_cmp(const void *pa, size_t la, const void *pb, size_t lb)
{
    size_t n = la < lb ? la : lb;
    int r = n ? memcmp(pa, pb, n) : 0;
    if (r)
        return r;
    return (la > lb) - (la < lb);
}

static int key_sort(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    return key_cmp(x->b, x->len, y->b, y->len);
}

/* One state of the database: a value (or none) per key of the key space. */
struct state {
    unsigned char present[MAX_KEYS];
    unsigned char vlen[MAX_KEYS];
    char val[MAX_KEYS][MAX_VLEN];
};

struct model {
    struct key keys[MAX_KEYS];
    int nkeys;
    struct state cur;
};

static const unsigned char alphabet[] = { 0x00, 'a', 'b', 'c', 0x7f, 0x80, 0xff };

static void random_bytes_key(struct tu_rng *r, struct key *k)
{
    k->len = tu_rng_uniform(r, MAX_KLEN + 1);
    for (size_t i = 0; i < k->len; i++)
        k->b[i] = alphabet[tu_rng_uniform(r, sizeof alphabet)];
}

/* 200 distinct keys, sorted: the empty key, random keys of 0..12 bytes, and
 * prefixes of some of them. */
static void build_keys(struct model *m, struct tu_rng *r)
{
    int n = 0;
    m->keys[n++].len = 0; /* the empty key */
    while (n < 200) {
        struct key k;
        random_bytes_key(r, &k);
        int dup = 0;
        for (int i = 0; i < n && !dup; i++)
            dup = m->keys[i].len == k.len && memcmp(m->keys[i].b, k.b, k.len) == 0;
        if (dup)
            continue;
        m->keys[n++] = k;
        /* Often also a prefix of it, so that prefixes sit next to their
         * extensions. */
        if (k.len > 1 && n < 200 && tu_rng_chance(r, 1, 2)) {
            struct key p = k;
            p.len = 1 + tu_rng_uniform(r, k.len - 1);
            dup = 0;
            for (int i = 0; i < n && !dup; i++)
                dup = m->keys[i].len == p.len && memcmp(m->keys[i].b, p.b, p.len) == 0;
            if (!dup)
                m->keys[n++] = p;
        }
    }
    qsort(m->keys, (size_t)n, sizeof m->keys[0], key_sort);
    m->nkeys = n;
    memset(&m->cur, 0, sizeof m->cur);
}

/* A bound: none, a key of the key space, or a random byte string. */
struct bound {
    int has;
    struct key k;
};

/* The view an iterator sees: the entries of a state within bounds, sorted. */
struct view {
    int n;
    int idx[MAX_KEYS]; /* key indexes */
};

static int in_bounds(const struct key *k, const struct bound *lo, const struct bound *hi)
{
    if (lo->has && key_cmp(k->b, k->len, lo->k.b, lo->k.len) < 0)
        return 0;
    if (hi->has && key_cmp(k->b, k->len, hi->k.b, hi->k.len) >= 0)
        return 0;
    return 1;
}

static void make_view(const struct model *m, const struct state *s, const struct bound *lo,
                      const struct bound *hi, struct view *v)
{
    v->n = 0;
    for (int i = 0; i < m->nkeys; i++)
        if (s->present[i] && in_bounds(&m->keys[i], lo, hi))
            v->idx[v->n++] = i;
}

/* ---- comparing an iterator with the model ------------------------------------------- */

struct ctx {
    uint64_t seed;
    long step;
    const char *op;
};

static void hex(char *out, size_t n, const void *p, size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < len && o + 3 < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%02x", ((const unsigned char *)p)[i]);
    if (len == 0)
        snprintf(out, n, "(empty)");
}

static void check(const struct ctx *c, const struct model *m, const struct state *s,
                  const struct view *v, int pos, strata_iter *it)
{
    int valid = strata_iter_valid(it);
    cr_assert_eq(strata_iter_status(it), STRATA_OK, "seed %llu step %ld (%s): status %s: %s",
                 (unsigned long long)c->seed, c->step, c->op, strata_strerror(strata_iter_status(it)),
                 strata_last_error());
    if (pos < 0) {
        if (valid) {
            size_t kl;
            const void *k = strata_iter_key(it, &kl);
            char kh[64];
            hex(kh, sizeof kh, k, kl);
            cr_assert(0, "seed %llu step %ld (%s): iterator valid at key %s, model invalid",
                      (unsigned long long)c->seed, c->step, c->op, kh);
        }
        size_t kl = 7;
        cr_assert_null(strata_iter_key(it, &kl));
        cr_assert_eq(kl, 0);
        return;
    }
    int i = v->idx[pos];
    char want[64];
    hex(want, sizeof want, m->keys[i].b, m->keys[i].len);
    cr_assert(valid, "seed %llu step %ld (%s): iterator invalid, model at key %s (entry %d of %d)",
              (unsigned long long)c->seed, c->step, c->op, want, pos, v->n);
    size_t kl, vl;
    const void *k = strata_iter_key(it, &kl);
    const void *val = strata_iter_value(it, &vl);
    char got[64];
    hex(got, sizeof got, k, kl);
    cr_assert(k != NULL && key_cmp(k, kl, m->keys[i].b, m->keys[i].len) == 0,
              "seed %llu step %ld (%s): key %s, model %s (entry %d of %d)",
              (unsigned long long)c->seed, c->step, c->op, got, want, pos, v->n);
    cr_assert_not_null(val, "seed %llu step %ld: NULL value on a valid iterator",
                       (unsigned long long)c->seed, c->step);
    cr_assert(vl == s->vlen[i] && (vl == 0 || memcmp(val, s->val[i], vl) == 0),
              "seed %llu step %ld (%s): key %s: value of %zu bytes '%.*s', model %u bytes '%.*s'",
              (unsigned long long)c->seed, c->step, c->op, want, vl, (int)vl, (const char *)val,
              s->vlen[i], (int)s->vlen[i], s->val[i]);
}

/* Model operations: the new position. */
static int model_seek(const struct model *m, const struct view *v, const void *t, size_t tl)
{
    for (int p = 0; p < v->n; p++) {
        const struct key *k = &m->keys[v->idx[p]];
        if (key_cmp(k->b, k->len, t, tl) >= 0)
            return p;
    }
    return -1;
}

static int model_seek_for_prev(const struct model *m, const struct view *v, const void *t, size_t tl)
{
    for (int p = v->n - 1; p >= 0; p--) {
        const struct key *k = &m->keys[v->idx[p]];
        if (key_cmp(k->b, k->len, t, tl) <= 0)
            return p;
    }
    return -1;
}

/* One random iterator operation, applied to both; returns the new position. */
static int random_op(struct tu_rng *r, struct ctx *c, const struct model *m, const struct view *v,
                     int pos, strata_iter *it)
{
    uint64_t op = tu_rng_uniform(r, 100);
    struct key t;
    if (op < 8) {
        c->op = "seek_first";
        strata_iter_seek_first(it);
        return v->n ? 0 : -1;
    }
    if (op < 16) {
        c->op = "seek_last";
        strata_iter_seek_last(it);
        return v->n ? v->n - 1 : -1;
    }
    if (op < 32) {
        /* A target from the key space (exact hits) or random bytes. */
        if (tu_rng_chance(r, 1, 2))
            t = m->keys[tu_rng_uniform(r, (uint64_t)m->nkeys)];
        else
            random_bytes_key(r, &t);
        if (op < 24) {
            c->op = "seek";
            strata_iter_seek(it, t.b, t.len);
            return model_seek(m, v, t.b, t.len);
        }
        c->op = "seek_for_prev";
        strata_iter_seek_for_prev(it, t.b, t.len);
        return model_seek_for_prev(m, v, t.b, t.len);
    }
    if (op < 66) {
        c->op = "next";
        strata_iter_next(it);
        if (pos < 0)
            return -1;
        return pos + 1 < v->n ? pos + 1 : -1;
    }
    c->op = "prev";
    strata_iter_prev(it);
    if (pos < 0)
        return -1;
    return pos - 1;
}

/* ---- the randomized test ------------------------------------------------------------------ */

enum { MAX_SNAPS = 8, MAX_ITERS = 6 };

struct snap {
    const strata_snapshot *s;
    struct state st;
};

struct open_iter {
    strata_iter *it;
    struct state st; /* the state it was made on */
    struct bound lo, hi;
    struct view v;
    int pos;
};

static void random_value(struct tu_rng *r, char *buf, unsigned char *len)
{
    *len = (unsigned char)(tu_rng_chance(r, 1, 8) ? 0 : tu_rng_uniform(r, MAX_VLEN + 1));
    for (int i = 0; i < *len; i++)
        buf[i] = (char)('A' + tu_rng_uniform(r, 26));
}

/* Random writes: puts, deletes (of present and absent keys) and batches. */
static void random_writes(struct tu_rng *r, strata_db *db, struct model *m, int n)
{
    strata_batch *b = strata_batch_new();
    for (int done = 0; done < n;) {
        if (tu_rng_chance(r, 1, 10)) {
            /* A batch of 1..8 updates, applied to a copy of the model in order. */
            strata_batch_clear(b);
            int count = 1 + (int)tu_rng_uniform(r, 8);
            for (int j = 0; j < count; j++) {
                int i = (int)tu_rng_uniform(r, (uint64_t)m->nkeys);
                if (tu_rng_chance(r, 1, 3)) {
                    strata_batch_delete(b, m->keys[i].b, m->keys[i].len);
                    m->cur.present[i] = 0;
                } else {
                    random_value(r, m->cur.val[i], &m->cur.vlen[i]);
                    strata_batch_put(b, m->keys[i].b, m->keys[i].len, m->cur.val[i], m->cur.vlen[i]);
                    m->cur.present[i] = 1;
                }
            }
            cr_assert_eq(strata_write(db, NULL, b), STRATA_OK, "%s", strata_last_error());
            done += count;
            continue;
        }
        int i = (int)tu_rng_uniform(r, (uint64_t)m->nkeys);
        if (tu_rng_chance(r, 1, 3)) {
            cr_assert_eq(strata_delete(db, NULL, m->keys[i].b, m->keys[i].len), STRATA_OK);
            m->cur.present[i] = 0;
        } else {
            random_value(r, m->cur.val[i], &m->cur.vlen[i]);
            cr_assert_eq(strata_put(db, NULL, m->keys[i].b, m->keys[i].len, m->cur.val[i],
                                    m->cur.vlen[i]),
                         STRATA_OK);
            m->cur.present[i] = 1;
        }
        done++;
    }
    strata_batch_free(b);
}

static void random_bound(struct tu_rng *r, const struct model *m, struct bound *b)
{
    uint64_t c = tu_rng_uniform(r, 10);
    b->has = c >= 4;
    if (c >= 4 && c < 8)
        b->k = m->keys[tu_rng_uniform(r, (uint64_t)m->nkeys)];
    else if (c >= 8)
        random_bytes_key(r, &b->k);
}

static strata_iter *new_iter(strata_db *db, const strata_snapshot *s, const struct bound *lo,
                             const struct bound *hi)
{
    strata_read_options *ro = strata_read_options_new();
    strata_read_options_set_snapshot(ro, s);
    if (lo->has)
        strata_read_options_set_lower_bound(ro, lo->k.b, lo->k.len);
    if (hi->has)
        strata_read_options_set_upper_bound(ro, hi->k.b, hi->k.len);
    strata_iter *it = strata_iter_new(db, ro);
    strata_read_options_free(ro); /* the iterator copied the bounds */
    cr_assert_not_null(it, "%s", strata_last_error());
    return it;
}

static void run_model(uint64_t seed)
{
    fprintf(stderr, "db_iter/randomized_against_model: seed %llu\n", (unsigned long long)seed);
    struct tu_rng r;
    tu_rng_seed(&r, seed);
    struct model *m = calloc(1, sizeof *m);
    struct snap *snaps = calloc(MAX_SNAPS, sizeof *snaps);
    struct open_iter *iters = calloc(MAX_ITERS, sizeof *iters);
    int nsnaps = 0;
    build_keys(m, &r);
    strata_db *db = open_db();
    struct ctx c = { .seed = seed };

    for (int round = 0; round < 40; round++) {
        random_writes(&r, db, m, 20 + (int)tu_rng_uniform(&r, 60));
        /* Sometimes a new snapshot (replacing a random old one when full). */
        if (tu_rng_chance(&r, 1, 2)) {
            int slot = nsnaps < MAX_SNAPS ? nsnaps++ : (int)tu_rng_uniform(&r, MAX_SNAPS);
            if (snaps[slot].s)
                strata_snapshot_release(db, snaps[slot].s);
            snaps[slot].s = strata_snapshot_new(db);
            cr_assert_not_null(snaps[slot].s);
            snaps[slot].st = m->cur;
        }
        /* Open iterators on random views; they stay open across the next
         * rounds of writes. */
        for (int k = 0; k < MAX_ITERS; k++) {
            struct open_iter *oi = &iters[k];
            if (oi->it && tu_rng_chance(&r, 2, 3))
                continue;
            strata_iter_free(oi->it);
            const strata_snapshot *s = NULL;
            if (nsnaps && tu_rng_chance(&r, 1, 2)) {
                int si = (int)tu_rng_uniform(&r, (uint64_t)nsnaps);
                s = snaps[si].s;
                oi->st = snaps[si].st;
            } else {
                oi->st = m->cur;
            }
            random_bound(&r, m, &oi->lo);
            random_bound(&r, m, &oi->hi);
            if (oi->lo.has && tu_rng_chance(&r, 1, 10))
                oi->hi = oi->lo; /* lower == upper: nothing */
            oi->it = new_iter(db, s, &oi->lo, &oi->hi);
            make_view(m, &oi->st, &oi->lo, &oi->hi, &oi->v);
            oi->pos = -1;
            c.op = "new";
            c.step++;
            check(&c, m, &oi->st, &oi->v, oi->pos, oi->it);
        }
        /* Drive every open iterator for a while. */
        for (int k = 0; k < MAX_ITERS; k++) {
            struct open_iter *oi = &iters[k];
            int steps = 10 + (int)tu_rng_uniform(&r, 60);
            for (int s = 0; s < steps; s++) {
                c.step++;
                oi->pos = random_op(&r, &c, m, &oi->v, oi->pos, oi->it);
                check(&c, m, &oi->st, &oi->v, oi->pos, oi->it);
            }
        }
        /* Point reads agree with the model too, latest and at a snapshot. */
        for (int k = 0; k < 20; k++) {
            int i = (int)tu_rng_uniform(&r, (uint64_t)m->nkeys);
            const struct state *st = &m->cur;
            strata_read_options *ro = NULL;
            if (nsnaps && tu_rng_chance(&r, 1, 2)) {
                int si = (int)tu_rng_uniform(&r, (uint64_t)nsnaps);
                ro = strata_read_options_new();
                strata_read_options_set_snapshot(ro, snaps[si].s);
                st = &snaps[si].st;
            }
            void *v;
            size_t vl;
            int rc = strata_get(db, ro, m->keys[i].b, m->keys[i].len, &v, &vl);
            cr_assert_eq(rc, st->present[i] ? STRATA_OK : STRATA_NOT_FOUND,
                         "seed %llu round %d: get of key %d: %s", (unsigned long long)seed, round, i,
                         strata_strerror(rc));
            if (rc == STRATA_OK) {
                cr_assert(vl == st->vlen[i] && (vl == 0 || memcmp(v, st->val[i], vl) == 0),
                          "seed %llu round %d: get of key %d: wrong value", (unsigned long long)seed,
                          round, i);
                strata_free(v);
            }
            strata_read_options_free(ro);
        }
    }
    for (int k = 0; k < MAX_ITERS; k++)
        strata_iter_free(iters[k].it);
    for (int k = 0; k < nsnaps; k++)
        strata_snapshot_release(db, snaps[k].s);
    cr_assert_eq(strata_close(db), STRATA_OK);
    free(m);
    free(snaps);
    free(iters);
}

Test(db_iter, randomized_against_model_seed_1) { run_model(1); }
Test(db_iter, randomized_against_model_seed_2) { run_model(2); }
Test(db_iter, randomized_against_model_seed_3) { run_model(3); }
Test(db_iter, randomized_against_model_seed_4) { run_model(0xdeadbeef); }
Test(db_iter, randomized_against_model_seed_5) { run_model(20260101); }
Test(db_iter, randomized_against_model_seed_6) { run_model(777); }

/* ---- targeted cases ------------------------------------------------------------------------ */

static void expect_at(strata_iter *it, const char *k, const char *v)
{
    if (!k) {
        size_t al = 0;
        const char *at = strata_iter_key(it, &al);
        cr_assert(!strata_iter_valid(it), "expected an invalid iterator, at '%.*s'", (int)al,
                  at ? at : "");
        cr_assert_eq(strata_iter_status(it), STRATA_OK);
        return;
    }
    cr_assert(strata_iter_valid(it), "expected %s, iterator invalid", k);
    size_t kl, vl;
    const char *key = strata_iter_key(it, &kl);
    const char *val = strata_iter_value(it, &vl);
    cr_assert(key != NULL && kl == strlen(k) && (kl == 0 || memcmp(key, k, kl) == 0),
              "at '%.*s', expected '%s'",
              (int)kl, key ? key : "", k);
    if (v)
        cr_assert(vl == strlen(v) && (vl == 0 || memcmp(val, v, vl) == 0), "%s: '%.*s', expected '%s'",
                  k, (int)vl, val, v);
}

static strata_iter *iter_bounds(strata_db *db, const char *lo, const char *hi, const strata_snapshot *s)
{
    strata_read_options *ro = strata_read_options_new();
    if (lo)
        strata_read_options_set_lower_bound(ro, lo, strlen(lo));
    if (hi)
        strata_read_options_set_upper_bound(ro, hi, strlen(hi));
    strata_read_options_set_snapshot(ro, s);
    strata_iter *it = strata_iter_new(db, ro);
    strata_read_options_free(ro);
    cr_assert_not_null(it);
    return it;
}

/* Every positioning operation leaves it invalid with an OK status. */
static void expect_always_empty(strata_iter *it)
{
    expect_at(it, NULL, NULL);
    strata_iter_seek_first(it);
    expect_at(it, NULL, NULL);
    strata_iter_seek_last(it);
    expect_at(it, NULL, NULL);
    const char *targets[] = { "", "a", "m", "zzzz", "\xff\xff" };
    for (int i = 0; i < 5; i++) {
        strata_iter_seek(it, targets[i], strlen(targets[i]));
        expect_at(it, NULL, NULL);
        strata_iter_seek_for_prev(it, targets[i], strlen(targets[i]));
        expect_at(it, NULL, NULL);
        strata_iter_next(it);
        strata_iter_prev(it);
        expect_at(it, NULL, NULL);
    }
}

Test(db_iter, empty_database)
{
    strata_db *db = open_db();
    strata_iter *it = strata_iter_new(db, NULL);
    expect_always_empty(it);
    strata_iter_free(it);
    it = iter_bounds(db, "b", "x", NULL);
    expect_always_empty(it);
    strata_iter_free(it);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(db_iter, all_keys_deleted)
{
    strata_db *db = open_db();
    char k[16];
    for (int i = 0; i < 50; i++) {
        size_t kl = tu_key(k, sizeof k, "k", (uint64_t)i);
        cr_assert_eq(strata_put(db, NULL, k, kl, "v", 1), STRATA_OK);
    }
    cr_assert_eq(strata_put(db, NULL, "", 0, "empty", 5), STRATA_OK);
    const strata_snapshot *before = strata_snapshot_new(db);
    for (int i = 49; i >= 0; i--) {
        size_t kl = tu_key(k, sizeof k, "k", (uint64_t)i);
        cr_assert_eq(strata_delete(db, NULL, k, kl), STRATA_OK);
    }
    cr_assert_eq(strata_delete(db, NULL, "", 0), STRATA_OK);
    strata_iter *it = strata_iter_new(db, NULL);
    expect_always_empty(it);
    strata_iter_free(it);
    it = iter_bounds(db, "k00000010", "k00000020", NULL);
    expect_always_empty(it);
    strata_iter_free(it);
    /* The snapshot from before the deletions still sees all 51. */
    it = iter_bounds(db, NULL, NULL, before);
    int n = 0;
    for (strata_iter_seek_last(it); strata_iter_valid(it); strata_iter_prev(it))
        n++;
    cr_assert_eq(n, 51);
    strata_iter_seek_first(it);
    expect_at(it, "", "empty");
    strata_iter_free(it);
    strata_snapshot_release(db, before);
    /* Re-put one in the middle: it is the only one. */
    cr_assert_eq(strata_put(db, NULL, "k00000025", 9, "again", 5), STRATA_OK);
    it = strata_iter_new(db, NULL);
    strata_iter_seek_first(it);
    expect_at(it, "k00000025", "again");
    strata_iter_next(it);
    expect_at(it, NULL, NULL);
    strata_iter_seek_last(it);
    expect_at(it, "k00000025", "again");
    strata_iter_prev(it);
    expect_at(it, NULL, NULL);
    strata_iter_seek_for_prev(it, "k00000024", 9);
    expect_at(it, NULL, NULL);
    strata_iter_seek(it, "k00000026", 9);
    expect_at(it, NULL, NULL);
    strata_iter_free(it);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

static strata_db *abc_db(void)
{
    strata_db *db = open_db();
    const char *keys[] = { "b", "c", "d", "e" };
    for (int i = 0; i < 4; i++)
        cr_assert_eq(strata_put(db, NULL, keys[i], 1, keys[i], 1), STRATA_OK);
    return db;
}

Test(db_iter, bounds_excluding_everything)
{
    strata_db *db = abc_db();
    const char *cases[][2] = {
        { "f", NULL },  /* lower above every key */
        { NULL, "b" },  /* upper at the first key */
        { NULL, "a" },  /* upper below every key */
        { NULL, "" },   /* upper is the empty key */
        { "d", "c" },   /* lower above upper */
        { "c", "c" },   /* lower == upper, on a key */
        { "ca", "ca" }, /* lower == upper, between keys */
        { "c\x01", "d" }, /* nothing between */
        { "e\x00", "z" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        strata_read_options *ro = strata_read_options_new();
        if (cases[i][0])
            strata_read_options_set_lower_bound(ro, cases[i][0], i == 8 ? 2 : strlen(cases[i][0]));
        if (cases[i][1])
            strata_read_options_set_upper_bound(ro, cases[i][1], strlen(cases[i][1]));
        strata_iter *it = strata_iter_new(db, ro);
        strata_read_options_free(ro);
        expect_always_empty(it);
        strata_iter_free(it);
    }
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(db_iter, bounds_are_inclusive_exclusive)
{
    strata_db *db = abc_db();
    strata_iter *it = iter_bounds(db, "c", "e", NULL);
    strata_iter_seek_first(it);
    expect_at(it, "c", "c");
    strata_iter_next(it);
    expect_at(it, "d", "d");
    strata_iter_next(it);
    expect_at(it, NULL, NULL);
    strata_iter_seek_last(it);
    expect_at(it, "d", "d");
    strata_iter_prev(it);
    expect_at(it, "c", "c");
    strata_iter_prev(it);
    expect_at(it, NULL, NULL);
    /* Seeks outside the bounds land inside them, or nowhere. */
    strata_iter_seek(it, "a", 1);
    expect_at(it, "c", "c");
    strata_iter_seek(it, "e", 1);
    expect_at(it, NULL, NULL);
    strata_iter_seek_for_prev(it, "z", 1);
    expect_at(it, "d", "d");
    strata_iter_seek_for_prev(it, "b", 1);
    expect_at(it, NULL, NULL);
    strata_iter_seek_for_prev(it, "e", 1);
    expect_at(it, "d", "d");
    strata_iter_free(it);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

static void direction_switches(strata_iter *it, const char *first, const char *second,
                               const char *before_last, const char *last)
{
    /* At the first key: prev falls off; next and back again. */
    strata_iter_seek_first(it);
    expect_at(it, first, NULL);
    strata_iter_prev(it);
    expect_at(it, NULL, NULL);
    strata_iter_next(it); /* invalid: stays invalid */
    expect_at(it, NULL, NULL);
    strata_iter_seek_first(it);
    strata_iter_next(it);
    expect_at(it, second, NULL);
    strata_iter_prev(it);
    expect_at(it, first, NULL);
    strata_iter_next(it);
    expect_at(it, second, NULL);
    strata_iter_prev(it);
    strata_iter_prev(it);
    expect_at(it, NULL, NULL);
    /* At the last key: next falls off; prev and forward again. */
    strata_iter_seek_last(it);
    expect_at(it, last, NULL);
    strata_iter_next(it);
    expect_at(it, NULL, NULL);
    strata_iter_prev(it);
    expect_at(it, NULL, NULL);
    strata_iter_seek_last(it);
    strata_iter_prev(it);
    expect_at(it, before_last, NULL);
    strata_iter_next(it);
    expect_at(it, last, NULL);
    strata_iter_prev(it);
    expect_at(it, before_last, NULL);
    strata_iter_next(it);
    strata_iter_next(it);
    expect_at(it, NULL, NULL);
    /* seek_for_prev then next; seek then prev. */
    strata_iter_seek_for_prev(it, first, strlen(first));
    expect_at(it, first, NULL);
    strata_iter_next(it);
    expect_at(it, second, NULL);
    strata_iter_seek(it, last, strlen(last));
    expect_at(it, last, NULL);
    strata_iter_prev(it);
    expect_at(it, before_last, NULL);
    strata_iter_next(it);
    expect_at(it, last, NULL);
}

Test(db_iter, direction_switches_at_first_and_last_key)
{
    strata_db *db = abc_db();
    /* Deleted and overwritten neighbours add hidden entries around the
     * edges. */
    cr_assert_eq(strata_put(db, NULL, "a", 1, "x", 1), STRATA_OK);
    cr_assert_eq(strata_delete(db, NULL, "a", 1), STRATA_OK);
    cr_assert_eq(strata_put(db, NULL, "f", 1, "x", 1), STRATA_OK);
    cr_assert_eq(strata_delete(db, NULL, "f", 1), STRATA_OK);
    cr_assert_eq(strata_put(db, NULL, "b", 1, "b", 1), STRATA_OK);
    cr_assert_eq(strata_put(db, NULL, "e", 1, "e", 1), STRATA_OK);
    strata_iter *it = strata_iter_new(db, NULL);
    direction_switches(it, "b", "c", "d", "e");
    strata_iter_free(it);
    it = iter_bounds(db, "c", "e", NULL);
    strata_iter_seek_first(it);
    expect_at(it, "c", NULL);
    strata_iter_prev(it);
    expect_at(it, NULL, NULL);
    strata_iter_seek_last(it);
    expect_at(it, "d", NULL);
    strata_iter_next(it);
    expect_at(it, NULL, NULL);
    strata_iter_seek_last(it);
    strata_iter_prev(it);
    strata_iter_next(it);
    expect_at(it, "d", NULL);
    strata_iter_free(it);
    /* Two keys only, and one key only. */
    strata_iter *two = iter_bounds(db, "c", "e", NULL);
    direction_switches(two, "c", "d", "c", "d");
    strata_iter_free(two);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(db_iter, key_overwritten_many_times_under_older_iterator)
{
    strata_db *db = open_db();
    cr_assert_eq(strata_put(db, NULL, "a", 1, "a0", 2), STRATA_OK);
    cr_assert_eq(strata_put(db, NULL, "k", 1, "k0", 2), STRATA_OK);
    cr_assert_eq(strata_put(db, NULL, "z", 1, "z0", 2), STRATA_OK);
    const strata_snapshot *snap = strata_snapshot_new(db);
    strata_iter *old = strata_iter_new(db, NULL);
    strata_iter *old_snap = iter_bounds(db, NULL, NULL, snap);
    strata_iter_seek(old, "k", 1);
    expect_at(old, "k", "k0");
    /* 3000 newer versions of k, and new keys around it, deletes of a and z. */
    for (int i = 1; i <= 3000; i++) {
        char v[16];
        int n = snprintf(v, sizeof v, "k%d", i);
        cr_assert_eq(strata_put(db, NULL, "k", 1, v, (size_t)n), STRATA_OK);
        if (i % 1000 == 0) {
            cr_assert_eq(strata_put(db, NULL, "j", 1, v, (size_t)n), STRATA_OK);
            cr_assert_eq(strata_put(db, NULL, "l", 1, v, (size_t)n), STRATA_OK);
        }
    }
    cr_assert_eq(strata_delete(db, NULL, "a", 1), STRATA_OK);
    cr_assert_eq(strata_delete(db, NULL, "z", 1), STRATA_OK);
    /* The old iterator, already positioned, moves both ways across k. */
    for (int round = 0; round < 3; round++) {
        strata_iter *its[2] = { old, old_snap };
        for (int w = 0; w < 2; w++) {
            strata_iter *it = its[w];
            strata_iter_seek(it, "k", 1);
            expect_at(it, "k", "k0");
            strata_iter_next(it);
            expect_at(it, "z", "z0");
            strata_iter_prev(it);
            expect_at(it, "k", "k0");
            strata_iter_prev(it);
            expect_at(it, "a", "a0");
            strata_iter_next(it);
            expect_at(it, "k", "k0");
            strata_iter_seek_for_prev(it, "l", 1);
            expect_at(it, "k", "k0");
            strata_iter_seek_last(it);
            expect_at(it, "z", "z0");
            strata_iter_prev(it);
            expect_at(it, "k", "k0");
            strata_iter_prev(it);
            expect_at(it, "a", "a0");
            strata_iter_prev(it);
            expect_at(it, NULL, NULL);
            strata_iter_seek_first(it);
            expect_at(it, "a", "a0");
            strata_iter_next(it);
            expect_at(it, "k", "k0");
        }
        if (round == 1) { /* and while more versions keep coming */
            for (int i = 0; i < 500; i++)
                cr_assert_eq(strata_put(db, NULL, "k", 1, "later", 5), STRATA_OK);
        }
    }
    /* A new iterator sees only the newest. */
    strata_iter *now = strata_iter_new(db, NULL);
    strata_iter_seek_first(now);
    expect_at(now, "j", "k3000");
    strata_iter_next(now);
    expect_at(now, "k", "later");
    strata_iter_next(now);
    expect_at(now, "l", "k3000");
    strata_iter_next(now);
    expect_at(now, NULL, NULL);
    strata_iter_seek_last(now);
    expect_at(now, "l", "k3000");
    strata_iter_prev(now);
    expect_at(now, "k", "later");
    strata_iter_prev(now);
    expect_at(now, "j", "k3000");
    strata_iter_free(now);
    strata_iter_free(old);
    strata_iter_free(old_snap);
    strata_snapshot_release(db, snap);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(db_iter, empty_values_and_empty_key)
{
    strata_db *db = open_db();
    cr_assert_eq(strata_put(db, NULL, "", 0, "", 0), STRATA_OK);
    cr_assert_eq(strata_put(db, NULL, "a", 1, "", 0), STRATA_OK);
    strata_iter *it = strata_iter_new(db, NULL);
    for (int dir2 = 0; dir2 < 2; dir2++) {
        if (dir2)
            strata_iter_seek_last(it);
        else
            strata_iter_seek_first(it);
        for (int n = 0; n < 2; n++) {
            cr_assert(strata_iter_valid(it));
            size_t kl = 9, vl = 9;
            cr_assert_not_null(strata_iter_key(it, &kl));
            cr_assert_not_null(strata_iter_value(it, &vl), "an empty value must be non-NULL");
            cr_assert_eq(vl, 0);
            cr_assert_eq(kl, dir2 ? (size_t)(1 - n) : (size_t)n);
            if (dir2)
                strata_iter_prev(it);
            else
                strata_iter_next(it);
        }
        cr_assert(!strata_iter_valid(it));
    }
    /* The empty key as a seek target and as a bound. */
    strata_iter_seek(it, "", 0);
    expect_at(it, "", "");
    strata_iter_seek_for_prev(it, "", 0);
    expect_at(it, "", "");
    strata_iter_free(it);
    it = iter_bounds(db, "", "a", NULL);
    strata_iter_seek_last(it);
    expect_at(it, "", "");
    strata_iter_prev(it);
    expect_at(it, NULL, NULL);
    strata_iter_free(it);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

/* strata.h: strata_iter_key returns "NULL (and length 0) when the iterator is
 * not valid", so a valid iterator must give a non-NULL key, the empty key
 * included (strata_iter_value already does this for empty values).  In the
 * REVERSE direction the key comes from saved_key, whose buffer was never
 * allocated when the empty key is the first key saved. */
Test(db_iter, iter_key_not_null_for_the_empty_key_in_reverse)
{
    strata_db *db = open_db();
    cr_assert_eq(strata_put(db, NULL, "", 0, "v", 1), STRATA_OK);
    cr_assert_eq(strata_put(db, NULL, "b", 1, "v", 1), STRATA_OK);
    const char *how[] = { "seek_last+prev", "seek_for_prev(\"a\")", "seek_first+next+prev" };
    for (int i = 0; i < 3; i++) {
        strata_iter *it = strata_iter_new(db, NULL);
        if (i == 0) {
            strata_iter_seek_last(it);
            strata_iter_prev(it);
        } else if (i == 1) {
            strata_iter_seek_for_prev(it, "a", 1);
        } else {
            strata_iter_seek_first(it);
            strata_iter_next(it);
            strata_iter_prev(it);
        }
        cr_assert(strata_iter_valid(it), "%s", how[i]);
        size_t kl = 99;
        const void *k = strata_iter_key(it, &kl);
        cr_expect_eq(kl, 0, "%s", how[i]);
        cr_expect_not_null(k, "%s: strata_iter_key returned NULL on a valid iterator (the empty key)",
                           how[i]);
        strata_iter_free(it);
    }
    cr_assert_eq(strata_close(db), STRATA_OK);
}

/* ---- the merging iterator under the database iterator ------------------------------------
 *
 * Today a database has one memtable, so the database iterator runs on a
 * single child and merging_iter_new hands it back unchanged; the merging
 * iterator proper (heap, direction changes) only runs once the immutable
 * memtable and tables exist.  These tests drive it directly over several
 * memtables holding interleaved entries, against the sorted union of the
 * entries, with random seeks and steps in both directions. */

#include "memtable/memtable.h"
#include "src/merging_iter.h"

struct ientry {
    struct key k;
    uint64_t seq;
    int type;
    char val[8];
    size_t vlen;
};

static int ientry_cmp(const void *a, const void *b)
{
    const struct ientry *x = a, *y = b;
    int r = key_cmp(x->k.b, x->k.len, y->k.b, y->k.len);
    if (r)
        return r;
    return (x->seq < y->seq) - (x->seq > y->seq); /* newest first */
}

/* Position of the first entry >= (ukey, seq, type) in internal order, or n. */
static int ientry_lower(const struct ientry *e, int n, const struct key *k, uint64_t seq, int type)
{
    for (int i = 0; i < n; i++) {
        int r = key_cmp(e[i].k.b, e[i].k.len, k->b, k->len);
        if (r > 0)
            return i;
        if (r == 0) {
            uint64_t te = (e[i].seq << 8) | (uint64_t)e[i].type, tt = (seq << 8) | (uint64_t)type;
            if (te <= tt)
                return i;
        }
    }
    return n;
}

static void check_merge(uint64_t seed, long step, const char *op, const struct ientry *e, int pos,
                        struct iter *it)
{
    if (pos < 0) {
        cr_assert(!iter_valid(it), "merge seed %llu step %ld (%s): valid, model at the end",
                  (unsigned long long)seed, step, op);
        return;
    }
    cr_assert(iter_valid(it), "merge seed %llu step %ld (%s): invalid, model at entry %d",
              (unsigned long long)seed, step, op, pos);
    struct parsed_internal_key p;
    memset(&p, 0, sizeof p);
    cr_assert(parse_internal_key(iter_key(it), &p));
    cr_assert(key_cmp(p.user_key.data, p.user_key.len, e[pos].k.b, e[pos].k.len) == 0 &&
                  p.sequence == e[pos].seq && (int)p.type == e[pos].type,
              "merge seed %llu step %ld (%s): at seq %llu, model entry %d seq %llu",
              (unsigned long long)seed, step, op, (unsigned long long)p.sequence, pos,
              (unsigned long long)e[pos].seq);
    struct slice v = iter_value(it);
    if (e[pos].type == TYPE_VALUE)
        cr_assert(v.len == e[pos].vlen && (v.len == 0 || memcmp(v.data, e[pos].val, v.len) == 0));
}

static void run_merge(uint64_t seed, int nchildren)
{
    struct tu_rng r;
    tu_rng_seed(&r, seed);
    enum { N = 600 };
    struct ientry *e = calloc(N, sizeof *e);
    struct memtable *mt[4];
    for (int c = 0; c < nchildren; c++)
        mt[c] = memtable_new();
    /* Few user keys, many versions each, spread over the children. */
    struct key pool[40];
    for (int i = 0; i < 40; i++)
        random_bytes_key(&r, &pool[i]);
    for (int i = 0; i < N; i++) {
        e[i].k = pool[tu_rng_uniform(&r, 40)];
        e[i].seq = (uint64_t)i + 1;
        e[i].type = tu_rng_chance(&r, 1, 4) ? TYPE_DELETION : TYPE_VALUE;
        e[i].vlen = e[i].type == TYPE_VALUE ? tu_rng_uniform(&r, 8) : 0;
        for (size_t j = 0; j < e[i].vlen; j++)
            e[i].val[j] = (char)('a' + tu_rng_uniform(&r, 26));
        /* Runs of consecutive entries in one child, as flushes make. */
        int c = (int)((i / (1 + tu_rng_uniform(&r, 30))) % (uint64_t)nchildren);
        cr_assert_eq(memtable_add(mt[c], e[i].seq, (enum value_type)e[i].type,
                                  slice_make(e[i].k.b, e[i].k.len), slice_make(e[i].val, e[i].vlen)),
                     STRATA_OK);
    }
    qsort(e, N, sizeof *e, ientry_cmp);
    struct iter *children[4];
    for (int c = 0; c < nchildren; c++) {
        children[c] = memtable_iter_new(mt[c]);
        memtable_unref(mt[c]); /* the iterator holds its own reference */
    }
    struct iter *it = merging_iter_new(children, nchildren);
    cr_assert_not_null(it);
    int pos = -1;
    struct buf target = { 0 };
    for (long step = 0; step < 4000; step++) {
        uint64_t op = tu_rng_uniform(&r, 100);
        const char *name;
        if (op < 5) {
            name = "seek_to_first";
            iter_seek_to_first(it);
            pos = 0;
        } else if (op < 10) {
            name = "seek_to_last";
            iter_seek_to_last(it);
            pos = N - 1;
        } else if (op < 25) {
            struct key k = tu_rng_chance(&r, 3, 4) ? pool[tu_rng_uniform(&r, 40)] : (random_bytes_key(&r, &k), k);
            uint64_t seq = tu_rng_uniform(&r, N + 2);
            int type = (int)tu_rng_uniform(&r, 2);
            buf_clear(&target);
            cr_assert_eq(buf_put_internal_key(&target, slice_make(k.b, k.len), seq, (enum value_type)type),
                         STRATA_OK);
            int lo = ientry_lower(e, N, &k, seq, type);
            if (op < 17) {
                name = "seek";
                iter_seek(it, buf_slice(&target));
                pos = lo < N ? lo : -1;
            } else {
                name = "seek_for_prev";
                iter_seek_for_prev(it, buf_slice(&target));
                /* The last entry <= target: lo if it equals target, else lo-1. */
                int eq = lo < N && key_cmp(e[lo].k.b, e[lo].k.len, k.b, k.len) == 0 &&
                         e[lo].seq == seq && e[lo].type == type;
                pos = eq ? lo : lo - 1;
            }
        } else if (pos < 0) {
            continue; /* next/prev need a valid iterator */
        } else if (op < 62) {
            name = "next";
            iter_next(it);
            pos = pos + 1 < N ? pos + 1 : -1;
        } else {
            name = "prev";
            iter_prev(it);
            pos = pos - 1;
        }
        check_merge(seed, step, name, e, pos, it);
    }
    cr_assert_eq(iter_status(it), STRATA_OK);
    iter_destroy(it);
    buf_free(&target);
    free(e);
}

Test(db_iter, merging_iter_two_children) { run_merge(11, 2); }
Test(db_iter, merging_iter_three_children) { run_merge(12, 3); }
Test(db_iter, merging_iter_four_children) { run_merge(13, 4); }

Test(db_iter, merging_iter_with_empty_children)
{
    struct memtable *a = memtable_new(), *b = memtable_new(), *c = memtable_new();
    cr_assert_eq(memtable_add(b, 5, TYPE_VALUE, slice_make("k", 1), slice_make("v", 1)), STRATA_OK);
    struct iter *children[3] = { memtable_iter_new(a), memtable_iter_new(b), memtable_iter_new(c) };
    memtable_unref(a);
    memtable_unref(b);
    memtable_unref(c);
    struct iter *it = merging_iter_new(children, 3);
    iter_seek_to_first(it);
    cr_assert(iter_valid(it));
    iter_next(it);
    cr_assert(!iter_valid(it));
    iter_seek_to_last(it);
    cr_assert(iter_valid(it));
    iter_prev(it);
    cr_assert(!iter_valid(it));
    iter_seek_to_last(it);
    iter_next(it);
    cr_assert(!iter_valid(it));
    iter_seek_to_first(it);
    iter_prev(it);
    cr_assert(!iter_valid(it));
    iter_destroy(it);
    /* No children at all. */
    struct iter *none = merging_iter_new(NULL, 0);
    cr_assert_not_null(none);
    iter_seek_to_first(none);
    cr_assert(!iter_valid(none));
    iter_seek_to_last(none);
    cr_assert(!iter_valid(none));
    cr_assert_eq(iter_status(none), STRATA_OK);
    iter_destroy(none);
}

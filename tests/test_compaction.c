/*
 * test_compaction.c: leveled compaction as the database runs it, through
 * the public API, with the internals (src/db_impl.h: db->current under
 * db->mu, the statistics, the env for fault injection) where a property
 * cannot be seen from outside.
 *
 * - Recovery after many flushes and compactions: random puts, deletes and
 *   overwrites over a key space kept in a model, several reopens; every
 *   get and a full scan both ways match the model each time.
 * - The compaction pointers survive in the MANIFEST and across reopens.
 * - A SIGKILL while compactions run (a forked writer, ten kills at random
 *   moments, the seed printed) loses no acknowledged write; the reopen
 *   removes the tables and temporary files the kill left, and after the
 *   reopen and a close the directory holds exactly the tables the
 *   MANIFEST lists.  Closing never leaves an obsolete table behind.
 * - Snapshots: a compaction keeps the entries snapshots can read, and
 *   drops the others (counted in the tables' properties); once the
 *   snapshots are released, strata_compact_range(NULL, NULL) drops what
 *   only they needed.
 * - Deletion markers leave the bottom level with the values they hide,
 *   unless a snapshot still needs both.
 * - Level invariants after random workloads at small sizes (three seeds):
 *   level 0 newest first, levels 1 and below sorted and disjoint in user
 *   keys, every listed table on disk at its size, each level below its
 *   target once the background is idle, level 0 under the stop trigger.
 * - Write stalls: the slowdown and stop triggers fire (counted in
 *   strata.stats) and lose nothing; the stop trigger is raised to the
 *   slowdown trigger.
 * - strata_compact_range: argument checks, an empty range, an empty
 *   database, a sub-range rewrites only the tables it overlaps; sequential
 *   fills move tables down without rewriting them, manual compactions
 *   never move.
 * - A failed compaction (every sync point, and some writes, enumerated by
 *   fault injection) becomes the sticky background error: writes fail
 *   with its message, reads work, the statistics show it, and a reopen
 *   recovers everything without leaving orphans.  A compaction syncs the
 *   directory before its MANIFEST edit names its outputs.
 * - An iterator keeps the tables it reads alive through a compaction that
 *   removes them; the next sweep after it is freed deletes them.
 * - Writers, readers and manual compactions in threads while the
 *   background compacts: every value read is whole and belongs to its key,
 *   scans are ordered, and the end state matches each writer's model.
 *   Writers stalled at the level-0 stop trigger wake up with the
 *   background error when a flush or compaction fails.
 * - strata.sstables and strata.num-files-at-level<N> describe the version.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compaction/picker.h"
#include "sstable/table.h"
#include "src/db_compact.h"
#include "src/db_flush.h"
#include "src/db_impl.h"
#include "src/dbformat.h"
#include "src/env.h"
#include "src/filename.h"
#include "src/manifest.h"
#include "src/status.h"
#include "strata.h"
#include "tests/testutil.h"

static char *dir;
static char *dbpath;

static void setup(void)
{
    dir = tu_mkdtemp("compact");
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

TestSuite(compaction, .init = setup, .fini = teardown);

/* ---- options ---------------------------------------------------------------------- */

struct shape {
    size_t write_buffer, target, base;
    int multiplier, slowdown, stop;
};

/* Small enough that a few megabytes of writes fill four or five levels. */
static const struct shape SMALL = { 64 << 10, 16 << 10, 64 << 10, 10, 8, 12 };
/* Big levels: no automatic compaction below level 0 in these tests. */
static const struct shape BIG_LEVELS = { 64 << 10, 32 << 10, 8 << 20, 10, 8, 12 };

static strata_options *options_for(const struct shape *s)
{
    strata_options *o = strata_options_new();
    cr_assert_not_null(o);
    strata_options_set_write_buffer_size(o, s->write_buffer);
    strata_options_set_target_file_size(o, s->target);
    strata_options_set_max_bytes_for_level_base(o, s->base);
    strata_options_set_max_bytes_for_level_multiplier(o, s->multiplier);
    strata_options_set_level0_slowdown_trigger(o, s->slowdown);
    strata_options_set_level0_stop_trigger(o, s->stop);
    strata_options_set_block_size(o, 1024);
    strata_options_set_block_cache_size(o, 1 << 20);
    return o;
}

static strata_db *open_at(const char *path, const struct shape *s)
{
    strata_options *o = options_for(s);
    strata_db *db = NULL;
    int rc = strata_open(path, o, &db);
    strata_options_free(o);
    cr_assert_eq(rc, STRATA_OK, "open %s: %s", path, strata_last_error());
    return db;
}

/* ---- the model ------------------------------------------------------------------------ */

/* Key i holds version ver[i] (-1: absent); a version's value is derived
 * from (i, ver). */
struct model {
    int n;
    int64_t *ver;
};

static struct model *model_new(int n)
{
    struct model *m = malloc(sizeof *m);
    cr_assert_not_null(m);
    m->n = n;
    m->ver = malloc((size_t)n * sizeof *m->ver);
    cr_assert_not_null(m->ver);
    for (int i = 0; i < n; i++)
        m->ver[i] = -1;
    return m;
}

static struct model *model_copy(const struct model *m)
{
    struct model *c = model_new(m->n);
    memcpy(c->ver, m->ver, (size_t)m->n * sizeof *m->ver);
    return c;
}

static void model_free(struct model *m)
{
    free(m->ver);
    free(m);
}

static int model_live(const struct model *m)
{
    int n = 0;
    for (int i = 0; i < m->n; i++)
        n += m->ver[i] >= 0;
    return n;
}

enum { MAX_VALUE = 256 };

static size_t key_of(char *buf, int i)
{
    return (size_t)snprintf(buf, 16, "key%06d", i);
}

static size_t value_of(char *buf, int i, int64_t ver)
{
    size_t len = 40 + (size_t)(((uint64_t)i * 31 + (uint64_t)ver * 17) % 160);
    tu_value(buf, len, (uint64_t)i, (uint64_t)ver);
    return len;
}

static void put_ver(strata_db *db, struct model *m, int i, int64_t ver)
{
    char k[16], v[MAX_VALUE];
    size_t kl = key_of(k, i), vl = value_of(v, i, ver);
    int rc = strata_put(db, NULL, k, kl, v, vl);
    cr_assert_eq(rc, STRATA_OK, "put %s: %s", k, strata_last_error());
    if (m)
        m->ver[i] = ver;
}

static void del(strata_db *db, struct model *m, int i)
{
    char k[16];
    size_t kl = key_of(k, i);
    int rc = strata_delete(db, NULL, k, kl);
    cr_assert_eq(rc, STRATA_OK, "delete %s: %s", k, strata_last_error());
    if (m)
        m->ver[i] = -1;
}

/* Random puts (new versions), deletes and overwrites of a hot set. */
static void random_ops(strata_db *db, struct model *m, struct tu_rng *r, int nops, int64_t *ver)
{
    for (int op = 0; op < nops; op++) {
        int i = tu_rng_chance(r, 1, 4) ? (int)tu_rng_uniform(r, (uint64_t)m->n / 20 + 1)
                                       : (int)tu_rng_uniform(r, (uint64_t)m->n);
        if (tu_rng_chance(r, 1, 6))
            del(db, m, i);
        else
            put_ver(db, m, i, ++*ver);
    }
}

static int key_index(const void *k, size_t kl)
{
    char buf[16];
    cr_assert(kl == 9 && memcmp(k, "key", 3) == 0, "unexpected key '%.*s'", (int)kl, (const char *)k);
    memcpy(buf, (const char *)k + 3, 6);
    buf[6] = '\0';
    return atoi(buf);
}

static void check_entry(const struct model *m, int i, const void *v, size_t vl, const char *ctx)
{
    char want[MAX_VALUE];
    cr_assert(i >= 0 && i < m->n && m->ver[i] >= 0, "%s: key%06d should be absent", ctx, i);
    size_t wl = value_of(want, i, m->ver[i]);
    cr_assert(vl == wl && memcmp(v, want, wl) == 0, "%s: key%06d has a wrong value (version %lld)",
              ctx, i, (long long)m->ver[i]);
}

/* Every get, and a full scan both ways, match the model. */
static void check_model(strata_db *db, const strata_read_options *ro, const struct model *m,
                        const char *ctx)
{
    for (int i = 0; i < m->n; i++) {
        char k[16];
        size_t kl = key_of(k, i);
        void *v;
        size_t vl;
        int rc = strata_get(db, ro, k, kl, &v, &vl);
        if (m->ver[i] < 0) {
            cr_assert_eq(rc, STRATA_NOT_FOUND, "%s: get %s: %d %s", ctx, k, rc,
                         rc == STRATA_OK ? "found" : strata_last_error());
            continue;
        }
        cr_assert_eq(rc, STRATA_OK, "%s: get %s: %s", ctx, k, strata_last_error());
        check_entry(m, i, v, vl, ctx);
        strata_free(v);
    }
    int live = model_live(m), seen = 0, last = -1;
    strata_iter *it = strata_iter_new(db, ro);
    cr_assert_not_null(it);
    for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it), seen++) {
        size_t kl, vl;
        const void *k = strata_iter_key(it, &kl), *v = strata_iter_value(it, &vl);
        int i = key_index(k, kl);
        cr_assert_gt(i, last, "%s: scan out of order", ctx);
        check_entry(m, i, v, vl, ctx);
        last = i;
    }
    cr_assert_eq(strata_iter_status(it), STRATA_OK, "%s: %s", ctx, strata_last_error());
    cr_assert_eq(seen, live, "%s: the scan saw %d keys of %d", ctx, seen, live);
    seen = 0;
    last = m->n;
    for (strata_iter_seek_last(it); strata_iter_valid(it); strata_iter_prev(it), seen++) {
        size_t kl, vl;
        const void *k = strata_iter_key(it, &kl), *v = strata_iter_value(it, &vl);
        int i = key_index(k, kl);
        cr_assert_lt(i, last, "%s: reverse scan out of order", ctx);
        check_entry(m, i, v, vl, ctx);
        last = i;
    }
    cr_assert_eq(strata_iter_status(it), STRATA_OK, "%s: %s", ctx, strata_last_error());
    cr_assert_eq(seen, live, "%s: the reverse scan saw %d keys of %d", ctx, seen, live);
    strata_iter_free(it);
}

static strata_read_options *at_snapshot(const strata_snapshot *s)
{
    strata_read_options *ro = strata_read_options_new();
    cr_assert_not_null(ro);
    strata_read_options_set_snapshot(ro, s);
    return ro;
}

/* ---- statistics ---------------------------------------------------------------------------- */

static char *stats_of(strata_db *db)
{
    char *s = strata_property(db, "strata.stats");
    cr_assert_not_null(s, "%s", strata_last_error());
    return s;
}

/* The number after label in the statistics. */
static uint64_t stat_value(const char *stats, const char *label)
{
    const char *p = strstr(stats, label);
    cr_assert_not_null(p, "no '%s' in the statistics:\n%s", label, stats);
    p += strlen(label);
    while (*p == ' ')
        p++;
    return strtoull(p, NULL, 10);
}

static uint64_t db_stat(strata_db *db, const char *label)
{
    char *s = stats_of(db);
    uint64_t v = stat_value(s, label);
    strata_free(s);
    return v;
}

#define STAT_COMPACTIONS "\n  compactions"
#define STAT_ERRORS "(errors"
#define STAT_STOPS "\n  level-0 stop"
#define STAT_SLOWDOWNS "\n  level-0 slowdown"
#define STAT_PENDING "\n  pending bytes"

/* A level's compactions and moves, from the statistics' level table. */
static void level_row(const char *stats, int level, uint64_t *compactions, uint64_t *moves)
{
    char tag[16];
    snprintf(tag, sizeof tag, "\n  L%d ", level);
    const char *p = strstr(stats, tag);
    cr_assert_not_null(p, "no row for level %d in:\n%s", level, stats);
    int n = sscanf(p, " L%*d %*s %*s %*s %*s %*s %*s %*s %" SCNu64 " %" SCNu64, compactions, moves);
    cr_assert_eq(n, 2, "level %d's row: %.100s", level, p);
}

static void level_totals(strata_db *db, uint64_t *compactions, uint64_t *moves)
{
    char *s = stats_of(db);
    *compactions = *moves = 0;
    for (int level = 0; level < NUM_LEVELS; level++) {
        uint64_t c, m;
        level_row(s, level, &c, &m);
        *compactions += c;
        *moves += m;
    }
    strata_free(s);
}

/* ---- the version, the background ------------------------------------------------------------- */

static struct version *current_version(strata_db *db)
{
    pthread_mutex_lock(&db->mu);
    struct version *v = db->current;
    version_ref(v);
    pthread_mutex_unlock(&db->mu);
    return v;
}

static int idle_now(strata_db *db)
{
    pthread_mutex_lock(&db->mu);
    int idle = !db->imm && !db->compacting && !db->manual && !db_compact_needed(db);
    pthread_mutex_unlock(&db->mu);
    return idle;
}

/* Wait until no flush or compaction is due or running. */
static void wait_idle(strata_db *db, unsigned timeout_ms)
{
    uint64_t deadline = tu_now_ms() + timeout_ms;
    while (!idle_now(db)) {
        if (tu_now_ms() > deadline) {
            char *s = stats_of(db);
            cr_assert_fail("the background did not settle within %u ms:\n%s", timeout_ms, s);
        }
        tu_sleep_ms(5);
    }
}

static int table_in(const struct version *v, uint64_t number)
{
    for (int level = 0; level < NUM_LEVELS; level++)
        for (size_t i = 0; i < v->count[level]; i++)
            if (v->tables[level][i]->number == number)
                return level;
    return -1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static char *table_file(const char *path, uint64_t number)
{
    char p[PATH_MAX];
    cr_assert_eq(table_file_name(p, sizeof p, path, number), STRATA_OK);
    return strdup(p);
}

/* The structure of a version: level 0 newest first; levels 1 and below
 * sorted by key and disjoint in user keys; every table once, on disk, of
 * its recorded size. */
static void check_levels(const char *path, const struct version *v, const char *ctx)
{
    size_t total = 0;
    for (int level = 0; level < NUM_LEVELS; level++)
        total += v->count[level];
    uint64_t *numbers = malloc((total + 1) * sizeof *numbers);
    size_t n = 0;
    for (int level = 0; level < NUM_LEVELS; level++) {
        for (size_t i = 0; i < v->count[level]; i++) {
            const struct table_meta *t = v->tables[level][i];
            numbers[n++] = t->number;
            cr_assert_leq(internal_key_compare(buf_slice(&t->smallest), buf_slice(&t->largest)), 0,
                          "%s: table %" PRIu64 " at level %d: smallest > largest", ctx, t->number, level);
            char *file = table_file(path, t->number);
            cr_assert_eq(tu_file_size(file), (long long)t->size,
                         "%s: table %" PRIu64 " at level %d: %s has %lld bytes, the version says %" PRIu64,
                         ctx, t->number, level, file, tu_file_size(file), t->size);
            free(file);
            if (i == 0)
                continue;
            const struct table_meta *prev = v->tables[level][i - 1];
            if (level == 0) {
                cr_assert_gt(prev->number, t->number, "%s: level 0 is newest first", ctx);
                continue;
            }
            struct slice prev_last = internal_key_user_key(buf_slice(&prev->largest));
            struct slice first = internal_key_user_key(buf_slice(&t->smallest));
            cr_assert_lt(slice_compare(prev_last, first), 0,
                         "%s: level %d: table %" PRIu64 " ('%.*s') and table %" PRIu64
                         " ('%.*s') overlap or are out of order",
                         ctx, level, prev->number, (int)prev_last.len, prev_last.data, t->number,
                         (int)first.len, first.data);
        }
    }
    qsort(numbers, n, sizeof *numbers, cmp_u64);
    for (size_t i = 1; i < n; i++)
        cr_assert_neq(numbers[i - 1], numbers[i], "%s: table %" PRIu64 " is listed twice", ctx,
                      numbers[i]);
    free(numbers);
}

static void check_db_levels(strata_db *db, const char *ctx)
{
    struct version *v = current_version(db);
    check_levels(dbpath, v, ctx);
    version_unref(v);
}

/* ---- tables on disk -------------------------------------------------------------------------- */

/* The tables the MANIFEST of the closed database at path lists, sorted. */
static uint64_t *manifest_tables(const char *path, size_t *n)
{
    struct env *env = env_new();
    struct manifest_state state;
    uint64_t number;
    int rc = manifest_recover(env, path, &state, &number);
    cr_assert_eq(rc, STRATA_OK, "reading the MANIFEST of %s: %s", path, strata_last_error());
    size_t total = 0;
    for (int level = 0; level < NUM_LEVELS; level++)
        total += state.version->count[level];
    uint64_t *list = malloc((total + 1) * sizeof *list);
    *n = 0;
    for (int level = 0; level < NUM_LEVELS; level++)
        for (size_t i = 0; i < state.version->count[level]; i++)
            list[(*n)++] = state.version->tables[level][i]->number;
    qsort(list, *n, sizeof *list, cmp_u64);
    version_unref(state.version);
    env_free(env);
    return list;
}

static int count_suffix(const char *path, const char *suffix)
{
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s", path);
    int n = 0;
    size_t sl = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len > sl && strcmp(e->d_name + len - sl, suffix) == 0;
    }
    closedir(d);
    return n;
}

/* The last lines of the database's LOG (a static buffer), for messages. */
static const char *log_tail(const char *path, int lines)
{
    static char tail[4096];
    char *log_path = tu_join(path, "LOG");
    size_t n = 0;
    char *log = tu_read_file(log_path, &n);
    free(log_path);
    tail[0] = '\0';
    if (!log)
        return tail;
    const char *p = log + n;
    while (p > log && lines >= 0)
        if (*--p == '\n')
            lines--;
    snprintf(tail, sizeof tail, "%s", p);
    free(log);
    return tail;
}

/* Whether the closed database at path holds exactly the tables its
 * MANIFEST lists and no temporary file; if not, why in msg. */
static int orphan_free(const char *path, char *msg, size_t len)
{
    size_t nl, nf;
    int ok = 1;
    uint64_t *listed = manifest_tables(path, &nl);
    uint64_t *files = tu_numbered_files(path, ".sst", &nf);
    for (size_t i = 0; i < nf && ok; i++)
        if (!bsearch(&files[i], listed, nl, sizeof *listed, cmp_u64)) {
            snprintf(msg, len, "%06" PRIu64 ".sst is an orphan: the MANIFEST does not list it; the "
                     "LOG ends with:\n%s", files[i], log_tail(path, 12));
            ok = 0;
        }
    for (size_t i = 0; i < nl && ok; i++)
        if (!bsearch(&listed[i], files, nf, sizeof *files, cmp_u64)) {
            snprintf(msg, len, "the MANIFEST lists table %06" PRIu64 ", which is missing", listed[i]);
            ok = 0;
        }
    free(listed);
    free(files);
    if (ok && count_suffix(path, ".tmp") > 0) {
        snprintf(msg, len, "a temporary file is left");
        ok = 0;
    }
    return ok;
}

/* A closed database: the directory holds exactly the tables its MANIFEST
 * lists, and no temporary file. */
static void check_no_orphans(const char *path, const char *ctx)
{
    char msg[4096 + 256];
    cr_assert(orphan_free(path, msg, sizeof msg), "%s: %s", ctx, msg);
}

/* Whether path disappears within ms (the sweep after a flush or a
 * compaction runs after the version changes: wait_idle may return first). */
static int gone_within(const char *path, unsigned ms)
{
    uint64_t deadline = tu_now_ms() + ms;
    while (tu_exists(path)) {
        if (tu_now_ms() > deadline)
            return 0;
        tu_sleep_ms(2);
    }
    return 1;
}

static long long dir_table_bytes(const char *path)
{
    size_t n;
    uint64_t *files = tu_numbered_files(path, ".sst", &n);
    long long total = 0;
    for (size_t i = 0; i < n; i++) {
        char *f = table_file(path, files[i]);
        total += tu_file_size(f);
        free(f);
    }
    free(files);
    return total;
}

struct totals {
    uint64_t tables, bytes, entries, deletions;
};

/* What the tables of the current version hold, from their properties. */
static struct totals table_totals(strata_db *db)
{
    struct totals t = { 0 };
    struct version *v = current_version(db);
    struct env *env = env_new();
    for (int level = 0; level < NUM_LEVELS; level++) {
        for (size_t i = 0; i < v->count[level]; i++) {
            const struct table_meta *m = v->tables[level][i];
            char *path = table_file(dbpath, m->number);
            struct env_file *f;
            struct table *tab;
            struct table_open_options oo = { .block_cache = NULL, .paranoid_checks = 1 };
            cr_assert_eq(env_open(env, path, ENV_OPEN_READ, &f), STRATA_OK, "%s", strata_last_error());
            cr_assert_eq(table_open(f, m->size, &oo, &tab), STRATA_OK, "%s", strata_last_error());
            const struct table_properties *p = table_get_properties(tab);
            t.tables++;
            t.bytes += m->size;
            t.entries += p->entries;
            t.deletions += p->deletions;
            table_close(tab);
            free(path);
        }
    }
    env_free(env);
    version_unref(v);
    return t;
}

static void compact_all(strata_db *db)
{
    int rc = strata_compact_range(db, NULL, 0, NULL, 0);
    cr_assert_eq(rc, STRATA_OK, "strata_compact_range: %s", strata_last_error());
}

static void flush(strata_db *db)
{
    int rc = db_flush_memtable(db);
    cr_assert_eq(rc, STRATA_OK, "flush: %s", strata_last_error());
}

/* ==== recovery ============================================================================== */

Test(compaction, recovery_after_many_flushes_and_compactions)
{
    const uint64_t seed = 0xc0ffee01;
    fprintf(stderr, "compaction/recovery: seed %" PRIu64 "\n", seed);
    struct tu_rng r;
    tu_rng_seed(&r, seed);
    struct model *m = model_new(10000);
    int64_t ver = 0;
    uint64_t compactions = 0;
    strata_db *db = open_at(dbpath, &SMALL);
    for (int round = 0; round < 5; round++) {
        char ctx[64];
        random_ops(db, m, &r, 10000, &ver);
        if (round == 2)
            compact_all(db);
        compactions += db_stat(db, STAT_COMPACTIONS);
        snprintf(ctx, sizeof ctx, "round %d, before the reopen", round);
        check_model(db, NULL, m, ctx);
        cr_assert_eq(strata_close(db), STRATA_OK, "%s", strata_last_error());
        db = open_at(dbpath, &SMALL);
        snprintf(ctx, sizeof ctx, "round %d, after the reopen", round);
        check_model(db, NULL, m, ctx);
        check_db_levels(db, ctx);
    }
    cr_assert_gt(compactions, 5, "the workload compacted (%" PRIu64 ")", compactions);
    /* Once more after the background settles: compactions after a reopen
     * change nothing either. */
    wait_idle(db, 20000);
    check_model(db, NULL, m, "settled");
    check_db_levels(db, "settled");
    cr_assert_eq(strata_close(db), STRATA_OK);
    check_no_orphans(dbpath, "closed");
    model_free(m);
}

/* The compaction pointers are in the MANIFEST (tag 5 of the edits a
 * compaction appends, and the snapshot each open writes). */
Test(compaction, compaction_pointers_survive_reopen)
{
    struct tu_rng r;
    tu_rng_seed(&r, 77);
    struct model *m = model_new(6000);
    int64_t ver = 0;
    strata_db *db = open_at(dbpath, &SMALL);
    random_ops(db, m, &r, 20000, &ver);
    /* Nothing left for the reopens to flush, and so to compact: a
     * compaction after a reopen would move a pointer legitimately. */
    cr_assert_eq(db_flush_memtable(db), STRATA_OK, "%s", strata_last_error());
    wait_idle(db, 20000);
    struct buf before[NUM_LEVELS];
    int set = 0;
    struct version *v = current_version(db);
    for (int level = 0; level < NUM_LEVELS; level++) {
        before[level] = (struct buf){ 0 };
        buf_append(&before[level], v->compact_pointer[level].data, v->compact_pointer[level].len);
        set += before[level].len > 0;
    }
    version_unref(v);
    cr_assert_gt(set, 0, "compactions set pointers");
    cr_assert_eq(strata_close(db), STRATA_OK);

    struct env *env = env_new();
    struct manifest_state state;
    uint64_t number;
    cr_assert_eq(manifest_recover(env, dbpath, &state, &number), STRATA_OK, "%s", strata_last_error());
    for (int level = 0; level < NUM_LEVELS; level++)
        cr_assert(slice_equal(buf_slice(&state.version->compact_pointer[level]), buf_slice(&before[level])),
                  "level %d: the MANIFEST's pointer differs", level);
    version_unref(state.version);
    env_free(env);

    for (int reopen = 0; reopen < 2; reopen++) {
        db = open_at(dbpath, &SMALL);
        v = current_version(db);
        for (int level = 0; level < NUM_LEVELS; level++)
            cr_assert(slice_equal(buf_slice(&v->compact_pointer[level]), buf_slice(&before[level])),
                      "reopen %d, level %d: the pointer differs", reopen, level);
        version_unref(v);
        check_model(db, NULL, m, "reopened");
        cr_assert_eq(strata_close(db), STRATA_OK);
    }
    for (int level = 0; level < NUM_LEVELS; level++)
        buf_free(&before[level]);
    model_free(m);
}

/* ==== SIGKILL during compactions ============================================================ */

enum { KILL_KEYS = 6000, KILL_CYCLES = 10 };
static const uint64_t KILL_MARKER = UINT64_MAX; /* "compactions have run" */
static uint64_t kill_seed;

/* Operation i: a put of a value derived from i, or (one in seven) a delete. */
static int kill_op(uint64_t i, int *is_delete)
{
    struct tu_rng r;
    tu_rng_seed(&r, kill_seed ^ (i * UINT64_C(0x9e3779b97f4a7c15)));
    int key = (int)tu_rng_uniform(&r, KILL_KEYS);
    *is_delete = tu_rng_chance(&r, 1, 7);
    return key;
}

static size_t kill_value(char *buf, uint64_t i)
{
    size_t len = 50 + (size_t)(i % 120);
    tu_value(buf, len, i, 99);
    return len;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(3);
        c += w;
        n -= (size_t)w;
    }
}

static void kill_child(int fd, uint64_t first)
{
    strata_options *o = options_for(&SMALL);
    strata_db *db;
    if (strata_open(dbpath, o, &db) != STRATA_OK) {
        fprintf(stderr, "kill child: open: %s\n", strata_last_error());
        _exit(2);
    }
    int told = 0;
    for (uint64_t i = first;; i++) {
        char k[16], v[MAX_VALUE];
        int is_delete, key = kill_op(i, &is_delete), rc;
        size_t kl = key_of(k, key);
        if (is_delete)
            rc = strata_delete(db, NULL, k, kl);
        else
            rc = strata_put(db, NULL, k, kl, v, kill_value(v, i));
        if (rc != STRATA_OK) {
            fprintf(stderr, "kill child: op %" PRIu64 ": %s\n", i, strata_last_error());
            _exit(2);
        }
        write_all(fd, &i, sizeof i);
        if (!told && i % 64 == 0) {
            pthread_mutex_lock(&db->mu);
            told = db->stats.compactions > 0;
            pthread_mutex_unlock(&db->mu);
            if (told)
                write_all(fd, &KILL_MARKER, sizeof KILL_MARKER);
        }
    }
}

/* model[key] is the op whose put the key holds, -1 when absent. */
static void kill_apply(int64_t *model, uint64_t i)
{
    int is_delete, key = kill_op(i, &is_delete);
    model[key] = is_delete ? -1 : (int64_t)i;
}

/* Whether the database holds for key what model says. */
static int kill_matches(strata_db *db, const int64_t *model, int key)
{
    char k[16], want[MAX_VALUE];
    size_t kl = key_of(k, key);
    void *v;
    size_t vl;
    int rc = strata_get(db, NULL, k, kl, &v, &vl);
    cr_assert(rc == STRATA_OK || rc == STRATA_NOT_FOUND, "get %s: %s", k, strata_last_error());
    if (rc == STRATA_NOT_FOUND)
        return model[key] < 0;
    int same = 0;
    if (model[key] >= 0) {
        size_t wl = kill_value(want, (uint64_t)model[key]);
        same = vl == wl && memcmp(v, want, wl) == 0;
    }
    strata_free(v);
    return same;
}

/* Run a child from op first; kill it delay_ms after it reports compactions.
 * Returns the first op not acknowledged. */
static uint64_t kill_cycle(int64_t *model, uint64_t first, unsigned delay_ms, int cycle)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        kill_child(fds[1], first);
        _exit(4);
    }
    close(fds[1]);
    uint64_t expect = first, start = tu_now_ms(), deadline = 0;
    int killed = 0, marker = 0;
    char buf[8 * 512];
    size_t have = 0;
    for (;;) {
        uint64_t now = tu_now_ms();
        if (!killed && ((marker && now >= deadline) || now > start + 30000)) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        struct pollfd p = { fds[0], POLLIN, 0 };
        int r = poll(&p, 1, killed ? 1000 : 2);
        if (r < 0 && errno == EINTR)
            continue;
        cr_assert_geq(r, 0);
        if (r == 0)
            continue;
        ssize_t got = read(fds[0], buf + have, sizeof buf - have);
        if (got < 0 && errno == EINTR)
            continue;
        cr_assert_geq(got, 0);
        if (got == 0)
            break;
        have += (size_t)got;
        size_t whole = have / 8 * 8;
        for (size_t off = 0; off < whole; off += 8) {
            uint64_t id;
            memcpy(&id, buf + off, 8);
            if (id == KILL_MARKER) {
                if (!marker)
                    deadline = tu_now_ms() + delay_ms;
                marker = 1;
                continue;
            }
            cr_assert_eq(id, expect, "acknowledgements out of order");
            kill_apply(model, id);
            expect++;
        }
        memmove(buf, buf + whole, have - whole);
        have -= whole;
    }
    close(fds[0]);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
              "cycle %d: the child ended by itself (status %#x): see its stderr", cycle, st);
    cr_assert(marker, "cycle %d: no compaction ran within 30 s of writes", cycle);
    return expect;
}

/* The numbers of the table files the MANIFEST of the closed database does
 * not list. */
static uint64_t *unlisted_list(const char *path, size_t *n)
{
    size_t nl, nf;
    uint64_t *listed = manifest_tables(path, &nl);
    uint64_t *files = tu_numbered_files(path, ".sst", &nf);
    uint64_t *out = malloc((nf + 1) * sizeof *out);
    *n = 0;
    for (size_t i = 0; i < nf; i++)
        if (!bsearch(&files[i], listed, nl, sizeof *listed, cmp_u64))
            out[(*n)++] = files[i];
    free(listed);
    free(files);
    return out;
}

Test(compaction, sigkill_during_compactions_loses_nothing)
{
    kill_seed = tu_clock_seed();
    fprintf(stderr, "compaction/sigkill: seed %" PRIu64 "\n", kill_seed);
    struct tu_rng r;
    tu_rng_seed(&r, kill_seed);
    int64_t *model = malloc(KILL_KEYS * sizeof *model);
    for (int k = 0; k < KILL_KEYS; k++)
        model[k] = -1;
    uint64_t next = 1, acked = 0;
    size_t caught = 0;
    int close_orphans = 0;
    char close_msg[8192] = "";
    for (int cycle = 0; cycle < KILL_CYCLES; cycle++) {
        unsigned delay = (unsigned)tu_rng_uniform(&r, 150);
        uint64_t in_flight = kill_cycle(model, next, delay, cycle);
        acked += in_flight - next;
        /* What the kill left: tables no MANIFEST lists (outputs of an
         * unfinished compaction, inputs of a finished one not yet swept,
         * a flushed table not yet recorded) and temporary files. */
        size_t nunlisted;
        uint64_t *unlisted = unlisted_list(dbpath, &nunlisted);
        int tmp = count_suffix(dbpath, ".tmp");
        caught += nunlisted > 0 || tmp > 0;
        fprintf(stderr,
                "compaction/sigkill: cycle %d: killed %u ms after compactions began, ops %" PRIu64
                "..%" PRIu64 " acknowledged, %zu unlisted tables and %d .tmp left\n",
                cycle, delay, next, in_flight - 1, nunlisted, tmp);
        strata_db *db = open_at(dbpath, &SMALL);
        /* The open removes them before it returns. */
        for (size_t i = 0; i < nunlisted; i++) {
            char *f = table_file(dbpath, unlisted[i]);
            cr_assert(!tu_exists(f), "seed %" PRIu64 " cycle %d: the reopen left %s, which the "
                      "MANIFEST does not list", kill_seed, cycle, f);
            free(f);
        }
        free(unlisted);
        cr_assert_eq(count_suffix(dbpath, ".tmp"), 0, "seed %" PRIu64 " cycle %d: the reopen left "
                     "a temporary file", kill_seed, cycle);
        /* The op in flight may or may not have happened; recovery decides. */
        int is_delete, key = kill_op(in_flight, &is_delete);
        if (!kill_matches(db, model, key)) {
            kill_apply(model, in_flight);
            cr_assert(kill_matches(db, model, key),
                      "seed %" PRIu64 " cycle %d: key%06d holds neither its acknowledged value nor "
                      "the one of the op in flight",
                      kill_seed, cycle, key);
        }
        for (int k = 0; k < KILL_KEYS; k++)
            cr_assert(kill_matches(db, model, k),
                      "seed %" PRIu64 " cycle %d: key%06d lost its acknowledged state (op %lld)",
                      kill_seed, cycle, k, (long long)model[k]);
        strata_iter *it = strata_iter_new(db, NULL);
        int live = 0, seen = 0;
        for (int k = 0; k < KILL_KEYS; k++)
            live += model[k] >= 0;
        for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it))
            seen++;
        cr_assert_eq(strata_iter_status(it), STRATA_OK, "%s", strata_last_error());
        cr_assert_eq(seen, live, "seed %" PRIu64 " cycle %d: %d keys in a scan, %d in the model",
                     kill_seed, cycle, seen, live);
        seen = 0;
        for (strata_iter_seek_last(it); strata_iter_valid(it); strata_iter_prev(it))
            seen++;
        cr_assert_eq(seen, live);
        strata_iter_free(it);
        check_db_levels(db, "after a kill");
        cr_assert_eq(strata_close(db), STRATA_OK, "%s", strata_last_error());
        /* After the reopen and a close: no table the MANIFEST does not
         * list.  Collected, so that every kill cycle runs. */
        char msg[4096 + 256];
        if (!orphan_free(dbpath, msg, sizeof msg) && close_orphans++ == 0)
            snprintf(close_msg, sizeof close_msg, "cycle %d: %s", cycle, msg);
        next = in_flight + 1;
    }
    fprintf(stderr, "compaction/sigkill: %" PRIu64 " writes acknowledged; %zu of %d kills left "
            "unfinished tables behind\n", acked, caught, KILL_CYCLES);
    cr_assert_gt(caught, 0, "seed %" PRIu64 ": no kill landed while a table was being written",
                 kill_seed);
    cr_assert_eq(close_orphans, 0,
                 "seed %" PRIu64 ": after %d of %d reopen-and-close cycles the directory held a table "
                 "the MANIFEST does not list; the first: %s",
                 kill_seed, close_orphans, KILL_CYCLES, close_msg);
    free(model);
}

/* Tables a compaction removed while an iterator read them are kept for
 * it; once it is freed they are obsolete, and closing the database must
 * not leave them behind (a closed database's directory holds what its
 * MANIFEST lists). */
Test(compaction, close_leaves_no_unlisted_tables)
{
    strata_db *db = open_at(dbpath, &BIG_LEVELS);
    struct model *m = model_new(3000);
    struct tu_rng r;
    tu_rng_seed(&r, 12);
    int64_t ver = 0;
    random_ops(db, m, &r, 6000, &ver);
    flush(db);
    wait_idle(db, 20000);
    strata_iter *it = strata_iter_new(db, NULL);
    compact_all(db);
    wait_idle(db, 20000);
    strata_iter_free(it);
    cr_assert_eq(strata_close(db), STRATA_OK);
    check_no_orphans(dbpath, "closed after the iterator was freed");
    model_free(m);
}

/* ==== snapshots ============================================================================== */

/* Generations: 1 for every key, snapshot s1; 2 for every key; 3 for every
 * key, snapshot s3; then 4 for a third of the keys and deletes of another
 * third.  A compaction must keep 1 (s1 reads it), drop 2 (every reader
 * that could see it sees 3), keep 3 (s3) and the newest. */
enum { SNAP_KEYS = 1500 };

static void snapshot_history(strata_db *db, struct model *g1, struct model *g3, struct model *now,
                             const strata_snapshot **s1, const strata_snapshot **s3)
{
    for (int i = 0; i < SNAP_KEYS; i++)
        put_ver(db, g1, i, 1);
    *s1 = strata_snapshot_new(db);
    for (int i = 0; i < SNAP_KEYS; i++)
        put_ver(db, NULL, i, 2);
    for (int i = 0; i < SNAP_KEYS; i++)
        put_ver(db, g3, i, 3);
    *s3 = strata_snapshot_new(db);
    memcpy(now->ver, g3->ver, SNAP_KEYS * sizeof *now->ver);
    for (int i = 0; i < SNAP_KEYS; i++) {
        if (i % 3 == 0)
            put_ver(db, now, i, 4);
        else if (i % 3 == 1)
            del(db, now, i);
    }
}

Test(compaction, compaction_keeps_what_snapshots_see_and_drops_the_rest)
{
    strata_db *db = open_at(dbpath, &BIG_LEVELS);
    struct model *g1 = model_new(SNAP_KEYS), *g3 = model_new(SNAP_KEYS), *now = model_new(SNAP_KEYS);
    const strata_snapshot *s1, *s3;
    snapshot_history(db, g1, g3, now, &s1, &s3);
    wait_idle(db, 20000);
    compact_all(db);
    wait_idle(db, 20000);
    strata_read_options *r1 = at_snapshot(s1), *r3 = at_snapshot(s3);
    check_model(db, r1, g1, "snapshot 1 after the compaction");
    check_model(db, r3, g3, "snapshot 3 after the compaction");
    check_model(db, NULL, now, "the latest after the compaction");
    struct totals t = table_totals(db);
    uint64_t want = SNAP_KEYS /* 1 */ + SNAP_KEYS /* 3 */ + 2 * SNAP_KEYS / 3 /* 4 and deletes */;
    cr_assert_eq(t.entries, want,
                 "%" PRIu64 " entries in %" PRIu64 " tables, expected %" PRIu64
                 " (every generation 2 entry dropped, the rest kept)",
                 t.entries, t.tables, want);
    cr_assert_eq(t.deletions, SNAP_KEYS / 3);
    /* Releasing s3 makes generation 3 droppable where 4 or a delete
     * covers it; a compaction that rewrites the keys (here: an overwrite
     * of every key of the first kind, then a compaction) drops them. */
    strata_snapshot_release(db, s3);
    for (int i = 0; i < SNAP_KEYS; i += 3)
        put_ver(db, now, i, 5);
    put_ver(db, now, SNAP_KEYS - 1, 5); /* the range of the overwrite spans every key */
    compact_all(db);
    wait_idle(db, 20000);
    check_model(db, r1, g1, "snapshot 1 after the second compaction");
    check_model(db, NULL, now, "the latest after the second compaction");
    t = table_totals(db);
    /* s1's generation 1 everywhere, and the newest: 5 for the first
     * third (and the last key), 3 for the last third, the delete of the
     * middle third (s1 still reads generation 1 under it). */
    want = SNAP_KEYS + SNAP_KEYS;
    cr_assert_eq(t.entries, want, "%" PRIu64 " entries, expected %" PRIu64, t.entries, want);
    cr_assert_eq(t.deletions, SNAP_KEYS / 3);
    strata_snapshot_release(db, s1);
    strata_read_options_free(r1);
    strata_read_options_free(r3);
    cr_assert_eq(strata_close(db), STRATA_OK);
    model_free(g1);
    model_free(g3);
    model_free(now);
}

/* The words: "after releasing the snapshots and compacting again,
 * the older versions are gone".  strata_compact_range, like LevelDB's and
 * RocksDB's by default, merges each level into the next down to the
 * deepest level holding the range, and does not rewrite that deepest
 * level on its own: the versions released snapshots kept there go when a
 * merge next rewrites their keys, which one more generation of writes
 * brings about here. */
Test(compaction, compact_range_drops_versions_of_released_snapshots)
{
    strata_db *db = open_at(dbpath, &BIG_LEVELS);
    struct model *g1 = model_new(SNAP_KEYS), *g3 = model_new(SNAP_KEYS), *now = model_new(SNAP_KEYS);
    const strata_snapshot *s1, *s3;
    snapshot_history(db, g1, g3, now, &s1, &s3);
    compact_all(db);
    wait_idle(db, 20000);
    strata_read_options *r1 = at_snapshot(s1), *r3 = at_snapshot(s3);
    check_model(db, r1, g1, "snapshot 1");
    check_model(db, r3, g3, "snapshot 3");
    strata_read_options_free(r1);
    strata_read_options_free(r3);
    strata_snapshot_release(db, s1);
    strata_snapshot_release(db, s3);
    for (int i = 0; i < SNAP_KEYS; i++)
        put_ver(db, now, i, 5);
    compact_all(db);
    wait_idle(db, 20000);
    check_model(db, NULL, now, "after the snapshots are gone");
    struct totals t = table_totals(db);
    uint64_t live = (uint64_t)model_live(now);
    cr_assert_eq(t.entries, live,
                 "%" PRIu64 " entries in %" PRIu64 " tables after strata_compact_range(NULL, NULL) with "
                 "no snapshot left, but only %" PRIu64 " keys are live: the versions the released "
                 "snapshots needed are still there",
                 t.entries, t.tables, live);
    cr_assert_eq(t.deletions, 0, "%" PRIu64 " deletion markers are left", t.deletions);
    cr_assert_eq(strata_close(db), STRATA_OK);
    model_free(g1);
    model_free(g3);
    model_free(now);
}

/* ==== deletion markers ======================================================================== */

enum { DEL_KEYS = 3000 };

Test(compaction, deletions_leave_the_bottom_level)
{
    strata_db *db = open_at(dbpath, &SMALL);
    struct model *m = model_new(DEL_KEYS);
    for (int i = 0; i < DEL_KEYS; i++)
        put_ver(db, m, (i * 7) % DEL_KEYS, 1);
    compact_all(db);
    struct totals t = table_totals(db);
    cr_assert_eq(t.entries, DEL_KEYS);
    cr_assert_gt(dir_table_bytes(dbpath), 100000);
    for (int i = 0; i < DEL_KEYS; i++)
        del(db, m, i);
    compact_all(db);
    wait_idle(db, 20000);
    check_model(db, NULL, m, "everything deleted");
    t = table_totals(db);
    cr_assert_eq(t.deletions, 0, "%" PRIu64 " deletion markers left in %" PRIu64 " tables", t.deletions,
                 t.tables);
    cr_assert_eq(t.entries, 0, "%" PRIu64 " entries left in %" PRIu64 " tables", t.entries, t.tables);
    uint64_t deadline = tu_now_ms() + 5000;
    while (dir_table_bytes(dbpath) >= 4096 && tu_now_ms() < deadline)
        tu_sleep_ms(2);
    cr_assert_lt(dir_table_bytes(dbpath), 4096, "the table files are gone (%lld bytes left)",
                 dir_table_bytes(dbpath));
    cr_assert_eq(strata_close(db), STRATA_OK);
    db = open_at(dbpath, &SMALL);
    check_model(db, NULL, m, "reopened");
    cr_assert_eq(strata_close(db), STRATA_OK);
    check_no_orphans(dbpath, "closed");
    model_free(m);
}

Test(compaction, deletions_stay_while_a_snapshot_reads_under_them)
{
    strata_db *db = open_at(dbpath, &SMALL);
    struct model *m = model_new(DEL_KEYS);
    for (int i = 0; i < DEL_KEYS; i++)
        put_ver(db, m, i, 1);
    compact_all(db);
    const strata_snapshot *s = strata_snapshot_new(db);
    struct model *before = model_copy(m);
    for (int i = 0; i < DEL_KEYS; i++)
        del(db, m, i);
    compact_all(db);
    wait_idle(db, 20000);
    strata_read_options *ro = at_snapshot(s);
    check_model(db, ro, before, "the snapshot under the deletions");
    check_model(db, NULL, m, "the latest");
    struct totals t = table_totals(db);
    cr_assert_eq(t.deletions, DEL_KEYS, "the deletions must stay: the snapshot reads older values");
    cr_assert_eq(t.entries, 2 * DEL_KEYS, "and the values under them");
    strata_read_options_free(ro);
    strata_snapshot_release(db, s);
    cr_assert_eq(strata_close(db), STRATA_OK);
    model_free(m);
    model_free(before);
}

/* ==== level invariants ========================================================================= */

/* Per seed: a random workload at small sizes, the structure checked while
 * the background works and again once it is idle, with every level under
 * its target and level 0 under its trigger. */
static void invariants_run(uint64_t seed)
{
    fprintf(stderr, "compaction/invariants: seed %" PRIu64 "\n", seed);
    struct tu_rng r;
    tu_rng_seed(&r, seed);
    struct shape s = SMALL;
    s.multiplier = 4 + (int)tu_rng_uniform(&r, 5); /* 4..8: more levels */
    s.target = (16 + 16 * tu_rng_uniform(&r, 2)) << 10;
    s.base = (64 + 64 * tu_rng_uniform(&r, 2)) << 10;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s-%" PRIu64, dbpath, seed);
    strata_options *o = options_for(&s);
    strata_db *db;
    cr_assert_eq(strata_open(path, o, &db), STRATA_OK, "%s", strata_last_error());
    strata_options_free(o);
    struct model *m = model_new(12000);
    int64_t ver = 0;
    char ctx[96];
    for (int chunk = 0; chunk < 6; chunk++) {
        random_ops(db, m, &r, 5000, &ver);
        struct version *v = current_version(db);
        snprintf(ctx, sizeof ctx, "seed %" PRIu64 ", while writing (chunk %d)", seed, chunk);
        check_levels(path, v, ctx);
        cr_assert_leq(v->count[0], (size_t)s.stop, "%s: level 0 holds %zu tables", ctx, v->count[0]);
        version_unref(v);
    }
    wait_idle(db, 30000);
    snprintf(ctx, sizeof ctx, "seed %" PRIu64 ", idle", seed);
    struct version *v = current_version(db);
    check_levels(path, v, ctx);
    struct compaction_config cfg = db_compaction_config(db);
    double scores[NUM_LEVELS];
    picker_scores(v, &cfg, scores);
    for (int level = 0; level < NUM_LEVELS; level++) {
        uint64_t bytes = version_level_bytes(v, level);
        fprintf(stderr, "  L%d: %zu tables, %" PRIu64 " bytes, target %" PRIu64 ", score %.2f\n",
                level, v->count[level], bytes, level ? picker_level_target(&cfg, level) : 0,
                scores[level]);
        if (level < NUM_LEVELS - 1)
            cr_assert_lt(scores[level], 1.0, "%s: level %d scores %.2f", ctx, level, scores[level]);
        for (size_t i = 0; i < v->count[level] && level > 0; i++)
            cr_assert_leq(v->tables[level][i]->size, 2 * (s.target > s.write_buffer ? s.target : s.write_buffer),
                          "%s: table %" PRIu64 " at level %d has %" PRIu64 " bytes", ctx,
                          v->tables[level][i]->number, level, v->tables[level][i]->size);
    }
    cr_assert_lt(v->count[0], (size_t)LEVEL0_COMPACTION_TRIGGER, "%s", ctx);
    version_unref(v);
    cr_assert_eq(db_stat(db, STAT_PENDING), 0, "%s: nothing pending once idle", ctx);
    check_model(db, NULL, m, ctx);
    cr_assert_eq(strata_close(db), STRATA_OK);
    check_no_orphans(path, ctx);
    model_free(m);
}

Test(compaction, level_invariants_after_random_workloads)
{
    const uint64_t seeds[] = { 1, 0xdecafbad, 424242 };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        invariants_run(seeds[i]);
}

/* ==== write stalls ============================================================================= */

Test(compaction, write_stall_triggers_fire_and_lose_nothing)
{
    struct shape s = SMALL;
    s.slowdown = 1;
    s.stop = 2;
    strata_db *db = open_at(dbpath, &s);
    struct model *m = model_new(4000);
    struct tu_rng r;
    tu_rng_seed(&r, 99);
    char k[16], v[1100];
    static size_t len_of[4000];
    uint64_t stops = 0, slowdowns = 0;
    int op;
    for (op = 0; op < 20000; op++) {
        int i = (int)tu_rng_uniform(&r, (uint64_t)m->n);
        size_t kl = key_of(k, i);
        /* Big values fill the memtable in ~60 writes. */
        size_t vl = 1000 + (size_t)(i + op) % 50;
        tu_value(v, vl, (uint64_t)i, (uint64_t)op + 1);
        cr_assert_eq(strata_put(db, NULL, k, kl, v, vl), STRATA_OK, "%s", strata_last_error());
        m->ver[i] = op + 1;
        len_of[i] = vl;
        if (op % 100 == 99) {
            char *st = stats_of(db);
            stops = stat_value(st, STAT_STOPS);
            slowdowns = stat_value(st, STAT_SLOWDOWNS);
            strata_free(st);
            if (stops > 0 && slowdowns > 0 && op >= 999)
                break;
        }
    }
    fprintf(stderr, "compaction/stalls: %d writes, %" PRIu64 " slowdowns, %" PRIu64 " stops\n", op + 1,
            slowdowns, stops);
    cr_assert_gt(slowdowns, 0, "level 0 reached the slowdown trigger of 1");
    cr_assert_gt(stops, 0, "level 0 reached the stop trigger of 2");
    check_db_levels(db, "after the stalls");
    /* The values are not value_of's: check them directly. */
    for (int i = 0; i < m->n; i++) {
        if (m->ver[i] < 0)
            continue;
        size_t kl = key_of(k, i);
        char want[1100];
        size_t wl = len_of[i];
        tu_value(want, wl, (uint64_t)i, (uint64_t)m->ver[i]);
        void *got;
        size_t gl;
        cr_assert_eq(strata_get(db, NULL, k, kl, &got, &gl), STRATA_OK, "%s", strata_last_error());
        cr_assert(gl == wl && memcmp(got, want, wl) == 0, "key %d", i);
        strata_free(got);
    }
    cr_assert_eq(strata_close(db), STRATA_OK);
    model_free(m);
}

Test(compaction, stop_trigger_is_raised_to_the_slowdown_trigger)
{
    struct shape s = SMALL;
    s.slowdown = 6;
    s.stop = 2;
    strata_db *db = open_at(dbpath, &s);
    cr_assert_eq(db->options.level0_slowdown_trigger, 6);
    cr_assert_eq(db->options.level0_stop_trigger, 6, "the stop trigger never below the slowdown");
    cr_assert_eq(strata_close(db), STRATA_OK);
    s.slowdown = 0; /* raised to 1 */
    s.stop = -5;
    db = open_at(dbpath, &s);
    cr_assert_eq(db->options.level0_slowdown_trigger, 1);
    cr_assert_eq(db->options.level0_stop_trigger, 1);
    /* Level 0's compaction trigger follows a low slowdown trigger. */
    cr_assert_eq(db_compaction_config(db).level0_trigger, 1);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

/* ==== strata_compact_range ===================================================================== */

Test(compaction, compact_range_checks_its_arguments)
{
    cr_assert_eq(strata_compact_range(NULL, NULL, 0, NULL, 0), STRATA_INVALID_ARGUMENT);
    cr_assert(strstr(strata_last_error(), "db is NULL") != NULL, "%s", strata_last_error());
    strata_db *db = open_at(dbpath, &SMALL);
    cr_assert_eq(strata_compact_range(db, NULL, 3, NULL, 0), STRATA_INVALID_ARGUMENT);
    cr_assert(strstr(strata_last_error(), "start") != NULL, "%s", strata_last_error());
    cr_assert_eq(strata_compact_range(db, "a", 1, NULL, 3), STRATA_INVALID_ARGUMENT);
    cr_assert(strstr(strata_last_error(), "limit") != NULL, "%s", strata_last_error());
    /* On an empty database: nothing to do. */
    compact_all(db);
    cr_assert_eq(strata_compact_range(db, "a", 1, "z", 1), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(strata_compact_range(db, "", 0, "", 0), STRATA_OK, "the empty key is a key");
    struct version *v = current_version(db);
    for (int level = 0; level < NUM_LEVELS; level++)
        cr_assert_eq(v->count[level], 0);
    version_unref(v);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(compaction, compact_range_with_start_after_limit_does_nothing)
{
    strata_db *db = open_at(dbpath, &BIG_LEVELS);
    struct model *m = model_new(2000);
    for (int i = 0; i < 2000; i++)
        put_ver(db, m, (i * 13) % 2000, 1);
    wait_idle(db, 20000);
    struct version *before = current_version(db);
    uint64_t c0 = db_stat(db, STAT_COMPACTIONS);
    pthread_mutex_lock(&db->mu);
    uint64_t mem0 = memtable_count(db->mem);
    pthread_mutex_unlock(&db->mu);
    cr_assert_gt(mem0, 0);
    cr_assert_eq(strata_compact_range(db, "key001000", 9, "key000100", 9), STRATA_OK, "%s",
                 strata_last_error());
    struct version *after = current_version(db);
    cr_assert_eq(before, after, "the version is unchanged");
    pthread_mutex_lock(&db->mu);
    cr_assert_eq(memtable_count(db->mem), mem0, "the memtable is not even flushed");
    pthread_mutex_unlock(&db->mu);
    cr_assert_eq(db_stat(db, STAT_COMPACTIONS), c0);
    version_unref(before);
    version_unref(after);
    check_model(db, NULL, m, "after an empty range");
    /* A range of one key is not empty. */
    cr_assert_eq(strata_compact_range(db, "key000100", 9, "key000100", 9), STRATA_OK);
    pthread_mutex_lock(&db->mu);
    cr_assert_eq(memtable_count(db->mem), 0, "flushed");
    pthread_mutex_unlock(&db->mu);
    check_model(db, NULL, m, "after a one-key range");
    cr_assert_eq(strata_close(db), STRATA_OK);
    model_free(m);
}

struct table_id {
    int level;
    uint64_t number;
    char lo[16], hi[16];
};

static size_t tables_of(strata_db *db, struct table_id *out, size_t max)
{
    struct version *v = current_version(db);
    size_t n = 0;
    for (int level = 0; level < NUM_LEVELS; level++) {
        for (size_t i = 0; i < v->count[level]; i++) {
            cr_assert_lt(n, max);
            const struct table_meta *t = v->tables[level][i];
            struct slice lo = internal_key_user_key(buf_slice(&t->smallest));
            struct slice hi = internal_key_user_key(buf_slice(&t->largest));
            out[n].level = level;
            out[n].number = t->number;
            snprintf(out[n].lo, sizeof out[n].lo, "%.*s", (int)lo.len, lo.data);
            snprintf(out[n].hi, sizeof out[n].hi, "%.*s", (int)hi.len, hi.data);
            n++;
        }
    }
    version_unref(v);
    return n;
}

Test(compaction, compact_range_rewrites_only_overlapping_tables)
{
    strata_db *db = open_at(dbpath, &BIG_LEVELS);
    struct model *m = model_new(4000);
    /* In key order: each flushed table goes below level 0, to level 2. */
    for (int i = 0; i < 4000; i++)
        put_ver(db, m, i, 1);
    flush(db);
    wait_idle(db, 20000);
    /* Two overwritten ranges, flushed apart: each lands at level 1. */
    for (int i = 1000; i < 1200; i++)
        put_ver(db, m, i, 2);
    flush(db);
    for (int i = 3000; i < 3050; i++)
        put_ver(db, m, i, 2);
    flush(db);
    wait_idle(db, 20000);
    struct table_id before[256], after[256];
    size_t nb = tables_of(db, before, 256);
    int l1 = 0, l2 = 0;
    for (size_t i = 0; i < nb; i++) {
        l1 += before[i].level == 1;
        l2 += before[i].level == 2;
    }
    cr_assert_eq(l1, 2, "the two overwrites sit at level 1 (%d)", l1);
    cr_assert_gt(l2, 4, "the sequential fill sits at level 2 (%d tables)", l2);
    uint64_t c0 = db_stat(db, STAT_COMPACTIONS);
    cr_assert_eq(strata_compact_range(db, "key001050", 9, "key001100", 9), STRATA_OK, "%s",
                 strata_last_error());
    wait_idle(db, 20000);
    cr_assert_gt(db_stat(db, STAT_COMPACTIONS), c0, "the range was compacted");
    size_t na = tables_of(db, after, 256);
    /* The level-1 table of 1000..1199 went down with the level-2 tables it
     * overlapped; every other table is untouched. */
    for (size_t i = 0; i < nb; i++) {
        int overlaps = strcmp(before[i].hi, "key001000") >= 0 && strcmp(before[i].lo, "key001199") <= 0;
        int kept = 0;
        for (size_t j = 0; j < na; j++)
            kept |= after[j].number == before[i].number && after[j].level == before[i].level;
        if (overlaps)
            cr_assert(!kept, "table %" PRIu64 " (L%d %s..%s) overlaps the compacted tables: rewritten",
                      before[i].number, before[i].level, before[i].lo, before[i].hi);
        else
            cr_assert(kept, "table %" PRIu64 " (L%d %s..%s) is outside the range: untouched",
                      before[i].number, before[i].level, before[i].lo, before[i].hi);
    }
    check_model(db, NULL, m, "after a range compaction");
    check_db_levels(db, "after a range compaction");
    cr_assert_eq(strata_close(db), STRATA_OK);
    db = open_at(dbpath, &BIG_LEVELS);
    check_model(db, NULL, m, "reopened");
    cr_assert_eq(strata_close(db), STRATA_OK);
    model_free(m);
}

Test(compaction, sequential_fill_moves_tables_and_manual_compaction_rewrites)
{
    strata_db *db = open_at(dbpath, &SMALL);
    struct model *m = model_new(12000);
    for (int i = 0; i < m->n; i++)
        put_ver(db, m, i, 1);
    flush(db);
    wait_idle(db, 20000);
    uint64_t merges, moves;
    level_totals(db, &merges, &moves);
    fprintf(stderr, "compaction/sequential: %" PRIu64 " compactions, %" PRIu64 " moves\n", merges, moves);
    cr_assert_gt(moves, 0, "keys written in order move down without being rewritten");
    check_db_levels(db, "after a sequential fill");
    check_model(db, NULL, m, "after a sequential fill");
    /* The LOG names the moves too. */
    char *log_path = tu_join(dbpath, "LOG");
    char *log = tu_read_file(log_path, NULL);
    cr_assert_not_null(log);
    cr_assert(strstr(log, "moved table") != NULL);
    free(log);
    free(log_path);

    struct table_id before[512];
    size_t nb = tables_of(db, before, 512);
    int deepest = 0;
    for (size_t i = 0; i < nb; i++)
        deepest = before[i].level > deepest ? before[i].level : deepest;
    compact_all(db);
    wait_idle(db, 20000);
    uint64_t merges2, moves2;
    level_totals(db, &merges2, &moves2);
    cr_assert_eq(moves2, moves, "a manual compaction never moves a table");
    cr_assert_gt(merges2, merges, "it rewrites them");
    struct table_id after[512];
    size_t na = tables_of(db, after, 512);
    for (size_t i = 0; i < nb; i++) {
        if (before[i].level == deepest)
            continue;
        for (size_t j = 0; j < na; j++)
            cr_assert_neq(after[j].number, before[i].number,
                          "table %" PRIu64 " of level %d was above the deepest level: rewritten",
                          before[i].number, before[i].level);
    }
    check_model(db, NULL, m, "after the manual compaction");
    check_db_levels(db, "after the manual compaction");
    cr_assert_eq(strata_close(db), STRATA_OK);
    model_free(m);
}

/* ==== compaction errors ======================================================================== */

/* A closed database at path whose next strata_compact_range merges:
 * tables above the deepest level, the memtable empty.  Returns its model. */
static struct model *prepare_merge(const char *path)
{
    struct model *m = model_new(3000);
    struct tu_rng r;
    tu_rng_seed(&r, 5);
    int64_t ver = 0;
    strata_db *db = open_at(path, &BIG_LEVELS);
    random_ops(db, m, &r, 4000, &ver);
    flush(db);
    wait_idle(db, 20000);
    random_ops(db, m, &r, 1500, &ver);
    flush(db);
    wait_idle(db, 20000);
    struct version *v = current_version(db);
    int above = 0;
    for (int level = 0; level < 2; level++)
        above += (int)v->count[level];
    version_unref(v);
    cr_assert_gt(above, 0, "tables above the deepest level: the compaction will merge");
    cr_assert_eq(strata_close(db), STRATA_OK);
    return m;
}

/* After a failed compaction: the sticky error, reads, the statistics. */
static void check_failed(strata_db *db, const struct model *m, int rc, const char *ctx)
{
    cr_assert_eq(rc, STRATA_IO_ERROR, "%s: %s", ctx, strata_last_error());
    cr_assert(strstr(strata_last_error(), "injected") != NULL, "%s: the cause: %s", ctx,
              strata_last_error());
    char k[16];
    size_t kl = key_of(k, 1);
    rc = strata_put(db, NULL, k, kl, "x", 1);
    cr_assert_eq(rc, STRATA_IO_ERROR, "%s: a write after the failure", ctx);
    cr_assert(strstr(strata_last_error(), "compaction failed") != NULL, "%s: %s", ctx,
              strata_last_error());
    cr_assert_eq(strata_delete(db, NULL, k, kl), STRATA_IO_ERROR, "%s: the error is sticky", ctx);
    cr_assert_neq(strata_compact_range(db, NULL, 0, NULL, 0), STRATA_OK, "%s", ctx);
    check_model(db, NULL, m, ctx);
    char *st = stats_of(db);
    cr_assert_geq(stat_value(st, STAT_ERRORS), 1, "%s", ctx);
    char line[128];
    snprintf(line, sizeof line, "background error:     %s: writes stopped after a compaction failed",
             strata_strerror(STRATA_IO_ERROR));
    cr_assert(strstr(st, line) != NULL, "%s: the statistics show the error:\n%s", ctx, st);
    strata_free(st);
}

static void fault_point(const char *base, const struct model *m, int nth, unsigned kinds,
                        int *failed, int *passed)
{
    char path[PATH_MAX], ctx[96];
    snprintf(path, sizeof path, "%s-fault-%x-%d", dbpath, kinds, nth);
    snprintf(ctx, sizeof ctx, "fault on op %d of kinds %#x", nth, kinds);
    cr_assert_eq(tu_copy_dir(base, path), 0);
    strata_db *db = open_at(path, &BIG_LEVELS);
    wait_idle(db, 20000);
    env_set_fault(db_env(db), (uint64_t)nth, kinds, EIO);
    int rc = strata_compact_range(db, NULL, 0, NULL, 0);
    if (rc == STRATA_OK) {
        /* The compaction needed fewer such operations (or the LOG took
         * the fault): it must have worked. */
        env_clear_fault(db_env(db));
        check_model(db, NULL, m, ctx);
        ++*passed;
    } else {
        check_failed(db, m, rc, ctx);
        ++*failed;
    }
    cr_assert_eq(strata_close(db), STRATA_OK);
    db = open_at(path, &BIG_LEVELS);
    check_model(db, NULL, m, ctx);
    struct version *v = current_version(db);
    check_levels(path, v, ctx);
    version_unref(v);
    compact_all(db); /* recovered: compactions work again */
    check_model(db, NULL, m, ctx);
    cr_assert_eq(strata_close(db), STRATA_OK);
    check_no_orphans(path, ctx);
    tu_rmrf(path);
}

Test(compaction, failed_syncs_become_the_sticky_error_and_reopen_recovers)
{
    char *base = tu_join(dir, "base");
    struct model *m = prepare_merge(base);
    int failed = 0, passed = 0, nth;
    /* Every sync of the compaction: its outputs', then the MANIFEST's. */
    for (nth = 1; nth <= 40 && passed == 0; nth++)
        fault_point(base, m, nth, ENV_OP_SYNC, &failed, &passed);
    fprintf(stderr, "compaction/sync faults: %d sync points failed the compaction\n", failed);
    cr_assert_geq(failed, 2, "at least an output's sync and the MANIFEST's");
    cr_assert_eq(passed, 1, "past the last sync point the compaction works");
    free(base);
    model_free(m);
}

Test(compaction, failed_writes_become_the_sticky_error_and_reopen_recovers)
{
    char *base = tu_join(dir, "base");
    struct model *m = prepare_merge(base);
    int failed = 0, passed = 0;
    const int points[] = { 1, 2, 7, 20 };
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
        fault_point(base, m, points[i], ENV_OP_WRITE | ENV_FAULT_PARTIAL, &failed, &passed);
    cr_assert_gt(failed, 0);
    /* An output that cannot be created. */
    fault_point(base, m, 1, ENV_OP_OPEN, &failed, &passed);
    free(base);
    model_free(m);
}

/* A table's name is durable only once its directory is synced: the
 * MANIFEST must not name a compaction's outputs before that (the flush
 * path syncs the directory after its rename).  With the first directory
 * operation made to fail, the compaction must fail. */
Test(compaction, outputs_directory_is_synced_before_the_manifest_names_them)
{
    char *base = tu_join(dir, "base");
    struct model *m = prepare_merge(base);
    cr_assert_eq(tu_copy_dir(base, dbpath), 0);
    strata_db *db = open_at(dbpath, &BIG_LEVELS);
    wait_idle(db, 20000);
    struct version *before = current_version(db);
    env_set_fault(db_env(db), 1, ENV_OP_DIR, EIO);
    int rc = strata_compact_range(db, NULL, 0, NULL, 0);
    struct version *after = current_version(db);
    int installed = before != after;
    version_unref(before);
    version_unref(after);
    cr_assert(rc != STRATA_OK || !installed,
              "a compaction installed its outputs without a directory sync succeeding first: after a "
              "machine crash the MANIFEST could name tables whose directory entries are lost");
    env_clear_fault(db_env(db));
    cr_assert_eq(strata_close(db), STRATA_OK);
    free(base);
    model_free(m);
}

/* ==== readers keep tables alive ================================================================= */

Test(compaction, iterator_keeps_compacted_tables_until_freed)
{
    strata_db *db = open_at(dbpath, &BIG_LEVELS);
    struct model *m = model_new(3000);
    struct tu_rng r;
    tu_rng_seed(&r, 11);
    int64_t ver = 0;
    random_ops(db, m, &r, 6000, &ver);
    flush(db);
    wait_idle(db, 20000);
    struct model *seen = model_copy(m);
    struct version *v0 = current_version(db);
    strata_iter *it = strata_iter_new(db, NULL); /* unpositioned: it opens tables later */
    cr_assert_not_null(it);
    /* New writes and a compaction of everything. */
    random_ops(db, m, &r, 500, &ver);
    compact_all(db);
    wait_idle(db, 20000);
    struct version *v1 = current_version(db);
    uint64_t gone[256];
    size_t ngone = 0;
    for (int level = 0; level < NUM_LEVELS; level++)
        for (size_t i = 0; i < v0->count[level]; i++)
            if (table_in(v1, v0->tables[level][i]->number) < 0) {
                cr_assert_lt(ngone, 256);
                gone[ngone++] = v0->tables[level][i]->number;
            }
    version_unref(v0);
    version_unref(v1);
    cr_assert_gt(ngone, 0, "the compaction replaced tables the iterator reads");
    for (size_t i = 0; i < ngone; i++) {
        char *f = table_file(dbpath, gone[i]);
        cr_assert(tu_exists(f), "%s is still read by an iterator", f);
        free(f);
    }
    /* The iterator sees its own view, whole. */
    int count = 0, last = -1;
    for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it), count++) {
        size_t kl, vl;
        const void *k = strata_iter_key(it, &kl), *v = strata_iter_value(it, &vl);
        int i = key_index(k, kl);
        cr_assert_gt(i, last);
        check_entry(seen, i, v, vl, "the old iterator");
        last = i;
    }
    cr_assert_eq(strata_iter_status(it), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(count, model_live(seen));
    for (strata_iter_seek_last(it); strata_iter_valid(it); strata_iter_prev(it))
        count--;
    cr_assert_eq(count, 0);
    strata_iter_free(it);
    /* The next flush's sweep deletes them. */
    put_ver(db, m, 0, ++ver);
    flush(db);
    wait_idle(db, 20000);
    for (size_t i = 0; i < ngone; i++) {
        char *f = table_file(dbpath, gone[i]);
        cr_assert(gone_within(f, 5000), "%s is obsolete once no reader holds it; the LOG ends "
                  "with:\n%s", f, log_tail(dbpath, 12));
        free(f);
    }
    check_model(db, NULL, m, "after the sweep");
    cr_assert_eq(strata_close(db), STRATA_OK);
    check_no_orphans(dbpath, "closed");
    model_free(m);
    model_free(seen);
}

/* ==== properties =============================================================================== */

static int pending_property(strata_db *db)
{
    char *p = strata_property(db, "strata.compaction-pending");
    cr_assert_not_null(p, "%s", strata_last_error());
    cr_assert(!strcmp(p, "0") || !strcmp(p, "1"), "compaction-pending is '%s'", p);
    int pending = p[0] == '1';
    strata_free(p);
    return pending;
}

/* Without writes, work only ends: when the property says 0, the background
 * thread must be idle from then on; while it is not idle, the property
 * read before must have said 1.  It must reach 0 once compaction is done. */
Test(compaction, compaction_pending_says_when_the_background_is_idle)
{
    strata_db *db = open_at(dbpath, &SMALL);
    cr_assert_eq(pending_property(db), 0, "an empty database has nothing to do");
    struct model *m = model_new(5000);
    struct tu_rng r;
    tu_rng_seed(&r, 11);
    int64_t ver = 0;
    random_ops(db, m, &r, 15000, &ver);
    uint64_t deadline = tu_now_ms() + 20000;
    int said_pending = 0;
    for (;;) {
        int pending = pending_property(db);
        int idle = idle_now(db);
        cr_assert(pending || idle, "compaction-pending said 0 while work was due or running");
        said_pending |= pending;
        if (!pending)
            break;
        cr_assert(tu_now_ms() < deadline, "compaction-pending still 1 after 20 s");
        tu_sleep_ms(1);
    }
    /* Idle includes having deleted what the work made obsolete. */
    size_t nfiles;
    uint64_t *files = tu_numbered_files(dbpath, ".sst", &nfiles);
    struct version *v = current_version(db);
    size_t listed = 0;
    for (int level = 0; level < NUM_LEVELS; level++)
        listed += v->count[level];
    for (size_t i = 0; i < nfiles; i++)
        cr_assert_geq(table_in(v, files[i]), 0, "%06" PRIu64 ".sst is obsolete but still there",
                      files[i]);
    cr_assert_eq(nfiles, listed);
    version_unref(v);
    free(files);
    cr_assert(idle_now(db));
    cr_assert_eq(pending_property(db), 0);
    cr_log_info("compaction-pending said 1 before 0: %s", said_pending ? "yes" : "no");
    model_free(m);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(compaction, properties_describe_the_levels)
{
    strata_db *db = open_at(dbpath, &SMALL);
    struct model *m = model_new(5000);
    struct tu_rng r;
    tu_rng_seed(&r, 3);
    int64_t ver = 0;
    random_ops(db, m, &r, 15000, &ver);
    wait_idle(db, 20000);
    struct version *v = current_version(db);
    char *sst = strata_property(db, "strata.sstables");
    cr_assert_not_null(sst);
    for (int level = 0; level < NUM_LEVELS; level++) {
        char name[64], head[64];
        snprintf(name, sizeof name, "strata.num-files-at-level%d", level);
        char *p = strata_property(db, name);
        cr_assert_not_null(p, "%s", name);
        cr_assert_eq(strtoull(p, NULL, 10), v->count[level], "%s", name);
        strata_free(p);
        snprintf(head, sizeof head, "level %d: %zu tables\n", level, v->count[level]);
        cr_assert(strstr(sst, head) != NULL, "'%s' in:\n%s", head, sst);
        for (size_t i = 0; i < v->count[level]; i++) {
            const struct table_meta *t = v->tables[level][i];
            struct slice lo = internal_key_user_key(buf_slice(&t->smallest));
            struct slice hi = internal_key_user_key(buf_slice(&t->largest));
            char line[128];
            snprintf(line, sizeof line, "  #%06" PRIu64 " %10" PRIu64 " bytes '%.*s' .. '%.*s'\n",
                     t->number, t->size, (int)lo.len, lo.data, (int)hi.len, hi.data);
            cr_assert(strstr(sst, line) != NULL, "'%s' in:\n%s", line, sst);
        }
    }
    strata_free(sst);
    cr_assert_null(strata_property(db, "strata.num-files-at-level7"));
    cr_assert_null(strata_property(db, "strata.num-files-at-level"));
    cr_assert_null(strata_property(db, "strata.num-files-at-level00"));
    version_unref(v);
    char *st = stats_of(db);
    for (int level = 0; level < NUM_LEVELS; level++) {
        uint64_t c, mv;
        level_row(st, level, &c, &mv);
    }
    cr_assert_gt(stat_value(st, STAT_COMPACTIONS), 0);
    cr_assert(strstr(st, "background error:     none") != NULL, "%s", st);
    strata_free(st);
    cr_assert_eq(strata_close(db), STRATA_OK);
    model_free(m);
}

/* ==== threads ================================================================================= */

enum { CW_WRITERS = 2, CW_KEYS = 2500, CW_OPS = 8000 };

struct cshared {
    strata_db *db;
    atomic_int stop;
    atomic_int failures;
    atomic_uint_fast64_t reads, scans;
    pthread_mutex_t mu;
    char failure[512];
    int64_t ver[CW_WRITERS][CW_KEYS]; /* writer w's keys; read after the joins */
};

static void cfail(struct cshared *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cfail(struct cshared *s, const char *fmt, ...)
{
    pthread_mutex_lock(&s->mu);
    if (atomic_fetch_add(&s->failures, 1) == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->failure, sizeof s->failure, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&s->mu);
}

static size_t ckey(char *buf, int w, int k)
{
    return (size_t)snprintf(buf, 16, "c%d%06d", w, k);
}

/* "w:k:ver:" and letters derived from them: a value says whose it is. */
static size_t cvalue(char *buf, int w, int k, int64_t ver)
{
    int n = snprintf(buf, 48, "%d:%d:%lld:", w, k, (long long)ver);
    size_t len = (size_t)n + 20 + (size_t)((k + ver) % 100);
    tu_value(buf + n, len - (size_t)n, (uint64_t)k * 8 + (uint64_t)w, (uint64_t)ver);
    return len;
}

/* Whether v is a whole value of writer w's key k; its version in *ver. */
static int cvalue_ok(const void *v, size_t vl, int w, int k, int64_t *ver)
{
    char buf[MAX_VALUE], want[MAX_VALUE];
    if (vl >= sizeof buf)
        return 0;
    memcpy(buf, v, vl);
    buf[vl] = '\0';
    int vw, vk;
    long long vv;
    if (sscanf(buf, "%d:%d:%lld:", &vw, &vk, &vv) != 3 || vw != w || vk != k)
        return 0;
    *ver = vv;
    size_t wl = cvalue(want, w, k, vv);
    return wl == vl && memcmp(want, buf, vl) == 0;
}

struct cwriter {
    struct cshared *s;
    int w;
};

static void *cwriter_main(void *p)
{
    struct cwriter *a = p;
    struct cshared *s = a->s;
    struct tu_rng r;
    tu_rng_seed(&r, 1000 + (uint64_t)a->w);
    char k[16], v[MAX_VALUE];
    for (int op = 1; op <= CW_OPS && atomic_load(&s->failures) == 0; op++) {
        int key = (int)tu_rng_uniform(&r, CW_KEYS), rc;
        size_t kl = ckey(k, a->w, key);
        if (tu_rng_chance(&r, 1, 8)) {
            rc = strata_delete(s->db, NULL, k, kl);
            s->ver[a->w][key] = -1;
        } else {
            rc = strata_put(s->db, NULL, k, kl, v, cvalue(v, a->w, key, op));
            s->ver[a->w][key] = op;
        }
        if (rc != STRATA_OK) {
            cfail(s, "writer %d, op %d: %s", a->w, op, strata_last_error());
            break;
        }
        if (op % 2500 == 0) { /* a manual compaction of the writer's range, or of all */
            char lo[16], hi[16];
            size_t ll = ckey(lo, a->w, 0), hl = ckey(hi, a->w, CW_KEYS);
            rc = a->w == 0 ? strata_compact_range(s->db, lo, ll, hi, hl)
                           : strata_compact_range(s->db, NULL, 0, NULL, 0);
            if (rc != STRATA_OK)
                cfail(s, "writer %d: compact_range: %s", a->w, strata_last_error());
        }
    }
    return NULL;
}

static void *creader_main(void *p)
{
    struct cshared *s = p;
    struct tu_rng r;
    tu_rng_seed(&r, 77);
    char k[16];
    while (!atomic_load(&s->stop) && atomic_load(&s->failures) == 0) {
        int w = (int)tu_rng_uniform(&r, CW_WRITERS);
        if (!tu_rng_chance(&r, 1, 200)) {
            int key = (int)tu_rng_uniform(&r, CW_KEYS);
            size_t kl = ckey(k, w, key);
            void *v;
            size_t vl;
            int64_t ver;
            int rc = strata_get(s->db, NULL, k, kl, &v, &vl);
            if (rc == STRATA_OK) {
                if (!cvalue_ok(v, vl, w, key, &ver))
                    cfail(s, "get %s: a wrong value '%.*s'", k, (int)(vl < 40 ? vl : 40), (char *)v);
                strata_free(v);
            } else if (rc != STRATA_NOT_FOUND) {
                cfail(s, "get %s: %s", k, strata_last_error());
            }
            atomic_fetch_add(&s->reads, 1);
            continue;
        }
        /* A scan of one writer's keys, forward or backward, with bounds. */
        strata_read_options *ro = strata_read_options_new();
        char lo[16], hi[16];
        size_t ll = ckey(lo, w, 0), hl = ckey(hi, w, CW_KEYS);
        strata_read_options_set_lower_bound(ro, lo, ll);
        strata_read_options_set_upper_bound(ro, hi, hl);
        strata_iter *it = strata_iter_new(s->db, ro);
        int backward = tu_rng_chance(&r, 1, 2), last = backward ? CW_KEYS : -1;
        if (backward)
            strata_iter_seek_last(it);
        else
            strata_iter_seek_first(it);
        while (strata_iter_valid(it)) {
            size_t kl, vl;
            const char *key = strata_iter_key(it, &kl);
            const void *v = strata_iter_value(it, &vl);
            char kb[16];
            int64_t ver;
            snprintf(kb, sizeof kb, "%.*s", (int)kl, key);
            int kw = kb[1] - '0', ki = atoi(kb + 2);
            if (kw != w || (backward ? ki >= last : ki <= last) || !cvalue_ok(v, vl, w, ki, &ver)) {
                cfail(s, "scan of writer %d: %s after key %d, or its value is wrong", w, kb, last);
                break;
            }
            last = ki;
            if (backward)
                strata_iter_prev(it);
            else
                strata_iter_next(it);
        }
        if (strata_iter_status(it) != STRATA_OK)
            cfail(s, "scan: %s", strata_last_error());
        strata_iter_free(it);
        strata_read_options_free(ro);
        atomic_fetch_add(&s->scans, 1);
    }
    return NULL;
}

static void cverify(strata_db *db, struct cshared *s, const char *ctx)
{
    char k[16];
    for (int w = 0; w < CW_WRITERS; w++) {
        for (int key = 0; key < CW_KEYS; key++) {
            size_t kl = ckey(k, w, key);
            void *v;
            size_t vl;
            int64_t ver;
            int rc = strata_get(db, NULL, k, kl, &v, &vl);
            if (s->ver[w][key] < 0) {
                cr_assert_eq(rc, STRATA_NOT_FOUND, "%s: %s should be absent", ctx, k);
                continue;
            }
            cr_assert_eq(rc, STRATA_OK, "%s: %s: %s", ctx, k, strata_last_error());
            cr_assert(cvalue_ok(v, vl, w, key, &ver) && ver == s->ver[w][key],
                      "%s: %s holds the wrong version", ctx, k);
            strata_free(v);
        }
    }
}

Test(compaction, threads_read_write_and_compact_while_the_background_compacts)
{
    struct cshared *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    pthread_mutex_init(&s->mu, NULL);
    for (int w = 0; w < CW_WRITERS; w++)
        for (int k = 0; k < CW_KEYS; k++)
            s->ver[w][k] = -1;
    s->db = open_at(dbpath, &SMALL);
    pthread_t writers[CW_WRITERS], reader;
    struct cwriter args[CW_WRITERS];
    cr_assert_eq(pthread_create(&reader, NULL, creader_main, s), 0);
    for (int w = 0; w < CW_WRITERS; w++) {
        args[w] = (struct cwriter){ s, w };
        cr_assert_eq(pthread_create(&writers[w], NULL, cwriter_main, &args[w]), 0);
    }
    for (int w = 0; w < CW_WRITERS; w++)
        pthread_join(writers[w], NULL);
    atomic_store(&s->stop, 1);
    pthread_join(reader, NULL);
    cr_assert_eq(atomic_load(&s->failures), 0, "%s", s->failure);
    fprintf(stderr, "compaction/threads: %llu gets, %llu scans, %llu compactions\n",
            (unsigned long long)atomic_load(&s->reads), (unsigned long long)atomic_load(&s->scans),
            (unsigned long long)db_stat(s->db, STAT_COMPACTIONS));
    cr_assert_gt(db_stat(s->db, STAT_COMPACTIONS), 0);
    wait_idle(s->db, 20000);
    check_db_levels(s->db, "after the threads");
    cverify(s->db, s, "after the threads");
    cr_assert_eq(strata_close(s->db), STRATA_OK);
    s->db = open_at(dbpath, &SMALL);
    cverify(s->db, s, "reopened");
    cr_assert_eq(strata_close(s->db), STRATA_OK);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

struct stall_writer {
    strata_db *db;
    atomic_int done;
    int rc;
    char error[512];
    int acked; /* puts 0..acked-1 returned STRATA_OK */
};

static void *stall_writer_main(void *p)
{
    struct stall_writer *a = p;
    char k[16], v[1100];
    int rc = STRATA_OK, i;
    for (i = 0; i < 200000; i++) {
        size_t kl = key_of(k, (int)((uint64_t)i * 7919 % 5000));
        tu_value(v, 1000, (uint64_t)i, 3);
        rc = strata_put(a->db, NULL, k, kl, v, 1000);
        if (rc != STRATA_OK) {
            snprintf(a->error, sizeof a->error, "%s", strata_last_error());
            break;
        }
    }
    a->rc = rc;
    a->acked = i;
    atomic_store(&a->done, 1);
    return NULL;
}

/* A writer waiting at the stop trigger must not wait forever when the
 * flush or compaction it waits for fails. */
Test(compaction, stalled_writers_wake_up_with_the_background_error)
{
    struct shape s = SMALL;
    s.slowdown = 2;
    s.stop = 3;
    strata_db *db = open_at(dbpath, &s);
    struct stall_writer *a = calloc(1, sizeof *a);
    a->db = db;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stall_writer_main, a), 0);
    uint64_t deadline = tu_now_ms() + 20000, stops = 0;
    while (stops == 0 && !atomic_load(&a->done) && tu_now_ms() < deadline) {
        tu_sleep_ms(5);
        pthread_mutex_lock(&db->mu);
        stops = db->stats.l0_stops;
        pthread_mutex_unlock(&db->mu);
    }
    cr_assert_gt(stops, 0, "the writer reached the stop trigger");
    env_set_fault(db_env(db), 1, ENV_OP_SYNC, EIO);
    deadline = tu_now_ms() + 10000;
    while (!atomic_load(&a->done) && tu_now_ms() < deadline)
        tu_sleep_ms(5);
    cr_assert(atomic_load(&a->done), "the writer still waits 10 s after the background failed:\n%s",
              stats_of(db));
    pthread_join(t, NULL);
    cr_assert_eq(a->rc, STRATA_IO_ERROR, "%s", a->error);
    cr_assert(strstr(a->error, "failed") != NULL, "%s", a->error);
    int acked = a->acked;
    free(a);
    cr_assert_eq(strata_close(db), STRATA_OK);
    db = open_at(dbpath, &s);
    /* The last acknowledged put of each key is there. */
    char k[16], want[1100];
    for (int i = acked - 1, seen = 0; i >= 0 && seen < 5000; i--) {
        int key = (int)((uint64_t)i * 7919 % 5000);
        if (i + 5000 < acked)
            break; /* every key's last put is within the last 5000 */
        size_t kl = key_of(k, key);
        void *v;
        size_t vl;
        tu_value(want, 1000, (uint64_t)i, 3);
        cr_assert_eq(strata_get(db, NULL, k, kl, &v, &vl), STRATA_OK, "%s", strata_last_error());
        cr_assert(vl == 1000 && memcmp(v, want, 1000) == 0, "key %d (put %d) lost", key, i);
        strata_free(v);
        seen++;
    }
    cr_assert_eq(strata_close(db), STRATA_OK);
}

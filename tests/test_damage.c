/*
 * test_damage.c: damaged files.  Random bytes of a database's write-ahead
 * log, tables, MANIFEST and CURRENT are flipped, zeroed or cut off
 * (seeded; the seed is printed and STRATA_DAMAGE_SEED repeats it), and the
 * database is opened and read: gets of every key and full iterations in
 * both directions, with verify_checksums on.
 *
 * The database (make_base) holds data everywhere: a first round of writes
 * compacted down to the deepest level, a second round flushed into a level
 * above it, a third left in the log.  Values are self-describing
 * ("<key>@<version>:" and filler derived from both), so any value read can
 * be checked against what was written for its key.
 *
 * What each case checks (in a child process with a deadline, so that a
 * crash or a hang fails it with its seed):
 * - an error, at open or on a read, names the damaged file;
 * - with paranoid_checks on and no error: every key reads exactly as
 *   written, except that damage to the log's last records may drop them as
 *   a torn tail would (the keys they wrote then read as before them);
 * - with paranoid_checks off and no error: every value read is one written
 *   for its key, no key appears that was never written;
 * - gets and iterations in both directions agree;
 * - `sst-dump --check` on the damaged file exits 1 (problems found) for a
 *   table or CURRENT, 0 or 1 for a log or MANIFEST (a cut at a record
 *   boundary leaves a valid shorter file), and never crashes or hangs.
 * And one path in particular: a get with verify_checksums after a get
 * without it must still check the block (the block cache must not hand out
 * an unverified block to a read that asked for verification).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "strata.h"
#include "tests/testutil.h"

enum {
    NUM_KEYS = 400,
    ROUNDS = 6,              /* cases per (file kind, damage, paranoid) in `make test` */
    CASE_DEADLINE_MS = 30000,
    MAX_VERSION = 3,
};

/* ---- keys, values, and what was written ----------------------------------------------------- */

static size_t key_of(char *buf, size_t n, int key)
{
    return tu_key(buf, n, "dk", (uint64_t)key);
}

static size_t value_of(char *buf, size_t n, int key, int ver)
{
    char k[32];
    key_of(k, sizeof k, key);
    int len = snprintf(buf, n, "%s@%d:", k, ver);
    size_t filler = 150 + (size_t)((key * 31 + ver * 7) % 200);
    cr_assert(len > 0 && (size_t)len + filler <= n);
    tu_value(buf + len, filler, (uint64_t)ver, (uint64_t)key);
    return (size_t)len + filler;
}

/* The version a value read for key says it is, or 0 when it is not one
 * written for that key. */
static int version_in(int key, const char *val, size_t vlen)
{
    char want[512];
    for (int ver = 1; ver <= MAX_VERSION; ver++) {
        size_t wlen = value_of(want, sizeof want, key, ver);
        if (wlen == vlen && memcmp(want, val, vlen) == 0)
            return ver;
    }
    return 0;
}

/* What round r (1..3) does to key: 0 nothing, -1 delete, else a put of
 * version r. */
static int round_op(int r, int key)
{
    switch (r) {
    case 1: return 1;
    case 2: return key % 7 == 0 ? -1 : key % 3 == 0 ? 2 : 0;
    default: return key % 5 == 0 ? 3 : key % 11 == 0 ? -1 : 0;
    }
}

/* The state of key after rounds 1..r: 0 absent, else the version. */
static int state_after(int r, int key)
{
    int s = 0;
    for (int i = 1; i <= r; i++) {
        int op = round_op(i, key);
        if (op)
            s = op < 0 ? 0 : op;
    }
    return s;
}

/* Was version ver ever written for key? */
static int was_written(int key, int ver)
{
    for (int r = 1; r <= MAX_VERSION; r++)
        if (round_op(r, key) == ver)
            return 1;
    return 0;
}

/* ---- the database ------------------------------------------------------------------------------ */

static char *work;      /* per test: /tmp/strata-damage-XXXXXX */
static char *base;      /* the undamaged database */

static strata_options *options(int paranoid)
{
    strata_options *o = strata_options_new();
    strata_options_set_write_buffer_size(o, 64 << 10);
    strata_options_set_target_file_size(o, 16 << 10);
    strata_options_set_max_bytes_for_level_base(o, 64 << 10);
    strata_options_set_max_bytes_for_level_multiplier(o, 4);
    strata_options_set_block_size(o, 1024);
    strata_options_set_paranoid_checks(o, paranoid);
    return o;
}

static void write_round(strata_db *db, int r)
{
    char k[32], v[512];
    for (int key = 0; key < NUM_KEYS; key++) {
        int op = round_op(r, key);
        size_t kl = key_of(k, sizeof k, key);
        if (op < 0)
            cr_assert_eq(strata_delete(db, NULL, k, kl), STRATA_OK, "%s", strata_last_error());
        else if (op > 0)
            cr_assert_eq(strata_put(db, NULL, k, kl, v, value_of(v, sizeof v, key, op)), STRATA_OK,
                         "%s", strata_last_error());
    }
}

/* Levels holding tables, from strata.stats' "levels:" table. */
static int levels_with_tables(strata_db *db)
{
    char *st = strata_property(db, "strata.stats");
    cr_assert_not_null(st);
    const char *p = strstr(st, "levels:");
    cr_assert_not_null(p, "%s", st);
    int n = 0;
    for (int level = 0; level < 7; level++) {
        char pat[32];
        snprintf(pat, sizeof pat, "\n  L%d ", level);
        const char *line = strstr(p, pat);
        unsigned files = 0;
        if (line && sscanf(line + strlen(pat), "%u", &files) == 1 && files > 0)
            n++;
    }
    strata_free(st);
    return n;
}

/* Round 1 compacted to the bottom, round 2 flushed above it, round 3 in
 * the log only. */
static void make_base(void)
{
    strata_options *o = options(1);
    strata_db *db;
    cr_assert_eq(strata_open(base, o, &db), STRATA_OK, "%s", strata_last_error());
    write_round(db, 1);
    cr_assert_eq(strata_compact_range(db, NULL, 0, NULL, 0), STRATA_OK, "%s", strata_last_error());
    write_round(db, 2);
    /* A range that holds no key: the memtable is flushed, nothing else. */
    cr_assert_eq(strata_compact_range(db, "~", 1, "~", 1), STRATA_OK, "%s", strata_last_error());
    write_round(db, 3);
    int levels = levels_with_tables(db);
    cr_assert_eq(strata_close(db), STRATA_OK, "%s", strata_last_error());
    strata_options_free(o);
    cr_assert_geq(levels, 2, "tables on several levels");
    size_t nlogs;
    uint64_t *logs = tu_numbered_files(base, ".log", &nlogs);
    char *log = tu_last_log(base);
    cr_assert_not_null(log, "round 3 is in a log");
    cr_assert_gt(tu_file_size(log), 1000);
    free(log);
    free(logs);
}

static void setup(void)
{
    work = tu_mkdtemp("damage");
    cr_assert_not_null(work);
    base = tu_join(work, "base");
    make_base();
}

static void teardown(void)
{
    if (getenv("STRATA_DAMAGE_KEEP")) /* for a look at the last case */
        fprintf(stderr, "damage: kept %s\n", work);
    else
        tu_rmrf(work);
    free(work);
    free(base);
}

/* No suite timeout: each case and each sst-dump run has its own deadline. */
TestSuite(damage, .init = setup, .fini = teardown);

/* ---- damage -------------------------------------------------------------------------------------- */

enum file_kind { KIND_LOG, KIND_TABLE, KIND_MANIFEST, KIND_CURRENT };
enum damage { DAMAGE_FLIP, DAMAGE_ZERO, DAMAGE_CUT };
static const char *const kind_names[] = { "log", "table", "MANIFEST", "CURRENT" };

/* The files of a kind in dir: names in a malloc'ed array. */
static char **files_of(const char *dir, enum file_kind kind, int *count)
{
    static const char *const suffix[] = { ".log", ".sst" };
    char **names = NULL;
    *count = 0;
    if (kind == KIND_LOG || kind == KIND_TABLE) {
        size_t n;
        uint64_t *nums = tu_numbered_files(dir, suffix[kind], &n);
        names = calloc(n ? n : 1, sizeof *names);
        for (size_t i = 0; i < n; i++) {
            char name[64];
            snprintf(name, sizeof name, "%06" PRIu64 "%s", nums[i], suffix[kind]);
            char *path = tu_join(dir, name);
            if (tu_file_size(path) > 0)
                names[(*count)++] = strdup(name);
            free(path);
        }
        free(nums);
        return names;
    }
    names = calloc(1, sizeof *names);
    if (kind == KIND_CURRENT) {
        names[(*count)++] = strdup("CURRENT");
        return names;
    }
    char *cur = tu_join(dir, "CURRENT");
    size_t len;
    char *text = tu_read_file(cur, &len);
    cr_assert(text && len > 1);
    text[len - 1] = '\0'; /* the newline */
    names[(*count)++] = strdup(text);
    free(text);
    free(cur);
    return names;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Damage path (size > 0); describe what was done in how. */
static void do_damage(const char *path, enum damage d, struct tu_rng *r, char *how, size_t n)
{
    long long size = tu_file_size(path);
    cr_assert_gt(size, 0);
    if (d == DAMAGE_CUT) {
        long long at = (long long)tu_rng_uniform(r, (uint64_t)size);
        cr_assert_eq(tu_truncate(path, at), 0);
        snprintf(how, n, "cut at %lld of %lld bytes", at, size);
        return;
    }
    if (d == DAMAGE_FLIP) {
        int flips = 1 + (int)tu_rng_uniform(r, 4);
        int used = snprintf(how, n, "flipped");
        long long prev[4];
        for (int i = 0; i < flips; i++) {
            long long at;
            int again;
            do { /* distinct bytes: two flips of one bit would undo each other */
                at = (long long)tu_rng_uniform(r, (uint64_t)size);
                again = 0;
                for (int j = 0; j < i; j++)
                    again |= prev[j] == at;
            } while (again && size > 4);
            prev[i] = at;
            unsigned char mask = (unsigned char)(1u << tu_rng_uniform(r, 8));
            cr_assert_eq(tu_xor_byte(path, at, mask), 0);
            used += snprintf(how + used, n - (size_t)used, " %lld^%#x", at, mask);
        }
        return;
    }
    /* Zero a range that is not all zeros already (so that something changes). */
    for (int tries = 0;; tries++) {
        long long len = 1 + (long long)tu_rng_uniform(r, 64);
        long long at = (long long)tu_rng_uniform(r, (uint64_t)size);
        if (at + len > size)
            len = size - at;
        int nonzero = 0;
        for (long long i = at; i < at + len; i++)
            nonzero |= tu_get_byte(path, i) != 0;
        if (!nonzero && tries < 100)
            continue;
        for (long long i = at; i < at + len; i++) {
            int b = tu_get_byte(path, i);
            if (b > 0)
                cr_assert_eq(tu_xor_byte(path, i, (unsigned char)b), 0);
        }
        snprintf(how, n, "zeroed %lld bytes at %lld", len, at);
        return;
    }
}

/* ---- one case, in a child ------------------------------------------------------------------------- */

enum {
    CASE_FAILED = 1,
    CASE_ERROR = 10,   /* an error naming the file */
    CASE_INTACT = 11,  /* opened, everything as written */
    CASE_LOSS = 12,    /* opened, some keys read as before their last write (allowed) */
};

struct dcase {
    const char *dir;
    const char *file; /* the damaged file's name */
    const char *ctx;
    enum file_kind kind;
    int paranoid;
};

static void die(const struct dcase *c, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void die(const struct dcase *c, const char *fmt, ...)
{
    fprintf(stderr, "damage case %s: ", c->ctx);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    _exit(CASE_FAILED);
}

/* A failed call: its message must name the damaged file. */
static int named_error(const struct dcase *c, int rc, const char *call)
{
    const char *msg = strata_last_error();
    if (!strstr(msg, c->file))
        die(c, "%s failed (%s) without naming %s: %s", call, strata_strerror(rc), c->file, msg);
    if (getenv("STRATA_DAMAGE_VERBOSE"))
        fprintf(stderr, "damage case %s: %s: %s\n", c->ctx, call, msg);
    return CASE_ERROR;
}

/* Is ver (0: absent) what key may read as? */
static int allowed(const struct dcase *c, int key, int ver, int *loss)
{
    if (ver == state_after(3, key))
        return 1;
    /* The log's last records dropped as a torn tail: as before round 3. */
    if (c->kind == KIND_LOG && ver == state_after(2, key)) {
        ++*loss;
        return 1;
    }
    if (c->paranoid)
        return 0;
    ++*loss;
    return ver == 0 || was_written(key, ver);
}

static int read_all(const struct dcase *c, strata_db *db)
{
    strata_read_options *ro = strata_read_options_new();
    strata_read_options_set_verify_checksums(ro, 1);
    int got[NUM_KEYS], loss = 0;
    char k[32];
    for (int key = 0; key < NUM_KEYS; key++) {
        size_t kl = key_of(k, sizeof k, key);
        void *val;
        size_t vlen;
        int rc = strata_get(db, ro, k, kl, &val, &vlen);
        if (rc != STRATA_OK && rc != STRATA_NOT_FOUND) {
            strata_read_options_free(ro);
            return named_error(c, rc, "get");
        }
        got[key] = 0;
        if (rc == STRATA_OK) {
            got[key] = version_in(key, val, vlen);
            strata_free(val);
            if (!got[key])
                die(c, "get %s: a value never written for it", k);
        }
        if (!allowed(c, key, got[key], &loss))
            die(c, "get %s reads version %d; written last: %d", k, got[key], state_after(3, key));
    }
    for (int dir = 0; dir < 2; dir++) {
        strata_iter *it = strata_iter_new(db, ro);
        int expect = dir ? NUM_KEYS - 1 : 0;
        for (dir ? strata_iter_seek_last(it) : strata_iter_seek_first(it); strata_iter_valid(it);
             dir ? strata_iter_prev(it) : strata_iter_next(it)) {
            size_t kl, vl;
            const char *ik = strata_iter_key(it, &kl);
            const char *iv = strata_iter_value(it, &vl);
            int key = kl == 10 && !memcmp(ik, "dk", 2) ? atoi(ik + 2) : -1;
            while (expect >= 0 && expect < NUM_KEYS && expect != key && !got[expect])
                expect += dir ? -1 : 1;
            if (key < 0 || key != expect)
                die(c, "iteration %s shows %.*s where get finds key %d next", dir ? "back" : "forward",
                    (int)kl, ik, expect);
            if (version_in(key, iv, vl) != got[key])
                die(c, "iteration %s: key %d reads version %d, get %d", dir ? "back" : "forward", key,
                    version_in(key, iv, vl), got[key]);
            expect += dir ? -1 : 1;
        }
        int rc = strata_iter_status(it);
        strata_iter_free(it);
        if (rc != STRATA_OK) {
            strata_read_options_free(ro);
            return named_error(c, rc, "iteration");
        }
        while (expect >= 0 && expect < NUM_KEYS && !got[expect])
            expect += dir ? -1 : 1;
        if (expect >= 0 && expect < NUM_KEYS)
            die(c, "iteration %s misses key %d, which get finds", dir ? "back" : "forward", expect);
    }
    strata_read_options_free(ro);
    return loss ? CASE_LOSS : CASE_INTACT;
}

static int run_case(const struct dcase *c)
{
    strata_options *o = options(c->paranoid);
    strata_options_set_create_if_missing(o, 0);
    strata_db *db;
    int rc = strata_open(c->dir, o, &db);
    strata_options_free(o);
    if (rc != STRATA_OK)
        return named_error(c, rc, "open");
    int outcome = read_all(c, db);
    if (getenv("STRATA_DAMAGE_VERBOSE"))
        fprintf(stderr, "damage case %s: %s\n", c->ctx,
                outcome == CASE_INTACT ? "opened, intact" : "opened, with losses");
    strata_close(db); /* its status is not the point */
    return outcome;
}

/* ---- the parent ------------------------------------------------------------------------------------ */

static int fork_case(const struct dcase *c)
{
    fflush(stderr);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0)
        _exit(run_case(c));
    uint64_t deadline = tu_now_ms() + CASE_DEADLINE_MS;
    int st;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (tu_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            cr_assert_fail("damage case %s: no result after %d ms: a hang", c->ctx, CASE_DEADLINE_MS);
        }
        tu_sleep_ms(1);
    }
    cr_assert(WIFEXITED(st), "damage case %s: killed by signal %d", c->ctx,
              WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    int outcome = WEXITSTATUS(st);
    cr_assert(outcome >= CASE_ERROR && outcome <= CASE_LOSS, "damage case %s failed (above)", c->ctx);
    return outcome;
}

/* build/.../sst-dump, next to this test binary. */
static char *tool_path(void)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(n, 0);
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    char *tool = tu_join(self, "sst-dump");
    cr_assert(tu_exists(tool), "%s is missing: `make test` builds it (make tools)", tool);
    return tool;
}

/* sst-dump --check's exit status on path; a crash, a hang or a usage
 * error fails the test. */
static int dump_check(const char *tool, const char *path, const char *ctx)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "timeout -s KILL 30 '%s' --check '%s' >/dev/null 2>&1", tool, path);
    int st = system(cmd);
    cr_assert(st != -1 && WIFEXITED(st), "%s: %s", ctx, cmd);
    int code = WEXITSTATUS(st);
    cr_assert(code == 0 || code == 1, "damage case %s: sst-dump --check exits %d (%s)", ctx, code,
              code == 137 ? "killed after 30 s: a hang" : code > 128 ? "a crash" : "usage?");
    return code;
}

static uint64_t damage_seed(void)
{
    const char *s = getenv("STRATA_DAMAGE_SEED");
    return s && *s ? strtoull(s, NULL, 10) : tu_clock_seed();
}

static void damage_kind(enum file_kind kind)
{
    uint64_t seed = damage_seed();
    fprintf(stderr, "damage/%s: seed %" PRIu64 " (STRATA_DAMAGE_SEED=%" PRIu64 " repeats it)\n",
            kind_names[kind], seed, seed);
    struct tu_rng r;
    tu_rng_seed(&r, seed);
    char *tool = tool_path();
    int outcomes[CASE_LOSS + 1] = { 0 }, dump_found = 0, cases = 0;
    const char *rounds_env = getenv("STRATA_DAMAGE_ROUNDS");
    int rounds = rounds_env && *rounds_env ? atoi(rounds_env) : ROUNDS;
    uint64_t t0 = tu_now_ms();
    for (int round = 0; round < rounds; round++)
        for (int d = DAMAGE_FLIP; d <= DAMAGE_CUT; d++)
            for (int paranoid = 1; paranoid >= 0; paranoid--) {
                char dir[4096], ctx[512], how[256];
                snprintf(dir, sizeof dir, "%s/case", work);
                tu_rmrf(dir);
                cr_assert_eq(tu_copy_dir(base, dir), 0);
                int n;
                char **names = files_of(dir, kind, &n);
                cr_assert_gt(n, 0);
                const char *file = names[tu_rng_uniform(&r, (uint64_t)n)];
                char *path = tu_join(dir, file);
                do_damage(path, (enum damage)d, &r, how, sizeof how);
                snprintf(ctx, sizeof ctx, "seed %" PRIu64 " round %d: %s %s, %s, paranoid_checks %s",
                         seed, round, kind_names[kind], file, how, paranoid ? "on" : "off");
                /* The tool first: on the file as damaged, before an open
                 * (paranoid_checks off) rewrites anything. */
                int code = dump_check(tool, path, ctx);
                if (kind == KIND_TABLE || kind == KIND_CURRENT)
                    cr_assert_eq(code, 1, "damage case %s: sst-dump --check finds nothing", ctx);
                dump_found += code == 1;
                struct dcase c = { dir, file, ctx, kind, paranoid };
                outcomes[fork_case(&c)]++;
                cases++;
                free(path);
                free_names(names, n);
            }
    fprintf(stderr,
            "damage/%s: %d cases: %d errors naming the file, %d opened intact, %d opened with "
            "allowed losses; sst-dump --check found %d; %.1f s\n",
            kind_names[kind], cases, outcomes[CASE_ERROR], outcomes[CASE_INTACT], outcomes[CASE_LOSS],
            dump_found, (double)(tu_now_ms() - t0) / 1000.0);
    free(tool);
}

Test(damage, write_ahead_log)
{
    damage_kind(KIND_LOG);
}

Test(damage, tables)
{
    damage_kind(KIND_TABLE);
}

Test(damage, manifest)
{
    damage_kind(KIND_MANIFEST);
}

Test(damage, current)
{
    damage_kind(KIND_CURRENT);
}

/* ---- a verified read after an unverified one --------------------------------------------------- */

/* With paranoid_checks off, a get without verify_checksums reads a damaged
 * block as it is (the caller did not ask); the block cache must not then
 * hand that block to a get that does ask.  pread (no mapping: a mapped
 * table's raw blocks stay out of the cache) and no compression, so that a
 * flipped value byte leaves a block that decodes. */
Test(damage, verified_get_after_unverified_get_of_a_damaged_block)
{
    char *dir = tu_join(work, "cache");
    strata_options *o = options(0);
    strata_options_set_mmap_reads(o, 0);
    strata_options_set_compression(o, STRATA_COMPRESSION_NONE);
    strata_db *db;
    cr_assert_eq(strata_open(dir, o, &db), STRATA_OK, "%s", strata_last_error());
    char v[512];
    size_t vl = value_of(v, sizeof v, 7, 1);
    cr_assert_eq(strata_put(db, NULL, "k", 1, v, vl), STRATA_OK);
    cr_assert_eq(strata_compact_range(db, NULL, 0, NULL, 0), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(strata_close(db), STRATA_OK);
    int n;
    char **names = files_of(dir, KIND_TABLE, &n);
    cr_assert_eq(n, 1);
    char *path = tu_join(dir, names[0]);
    size_t len;
    char *bytes = tu_read_file(path, &len);
    long long at = -1;
    for (size_t i = 0; i + vl <= len && at < 0; i++)
        if (!memcmp(bytes + i, v, vl))
            at = (long long)i;
    cr_assert_geq(at, 0, "the value is stored as it is");
    cr_assert_eq(tu_xor_byte(path, at + 40, 0x01), 0);
    free(bytes);

    cr_assert_eq(strata_open(dir, o, &db), STRATA_OK, "%s", strata_last_error());
    void *got;
    size_t glen;
    int rc = strata_get(db, NULL, "k", 1, &got, &glen);
    if (rc == STRATA_OK)
        strata_free(got);
    strata_read_options *ro = strata_read_options_new();
    strata_read_options_set_verify_checksums(ro, 1);
    rc = strata_get(db, ro, "k", 1, &got, &glen);
    if (rc == STRATA_OK)
        strata_free(got);
    cr_assert_eq(rc, STRATA_CORRUPTION,
                 "a get with verify_checksums returned %s: the cached block was not verified",
                 strata_strerror(rc));
    cr_assert(strstr(strata_last_error(), names[0]) != NULL, "%s", strata_last_error());
    strata_read_options_free(ro);
    cr_assert_eq(strata_close(db), STRATA_OK);
    strata_options_free(o);
    free(path);
    free_names(names, n);
    free(dir);
}

/* ---- regressions: an iteration stops at a damaged block; a MANIFEST cut short ---------------- */

/* The offset of needle in the file at path, or -1. */
static long long find_in_file(const char *path, const char *needle, size_t n)
{
    size_t len;
    char *bytes = tu_read_file(path, &len);
    long long at = -1;
    for (size_t i = 0; bytes && i + n <= len && at < 0; i++)
        if (!memcmp(bytes + i, needle, n))
            at = (long long)i;
    free(bytes);
    return at;
}

/* A damaged block of the deepest level, holding key 1 (which no other
 * table has): an iteration must stop there with the error, not go on with
 * the other levels' keys (it skipped keys 1 and 2, and showed key 3 from
 * level 1, before reporting the error at the end).  So the keys shown
 * before the error are a prefix (going forward) or a suffix (going back)
 * of the database's keys. */
Test(damage, iteration_stops_at_a_damaged_block)
{
    char *dir = tu_join(work, "iter");
    cr_assert_eq(tu_copy_dir(base, dir), 0);
    char v[512];
    size_t vl = value_of(v, sizeof v, 1, 1);
    int n;
    char **names = files_of(dir, KIND_TABLE, &n);
    const char *damaged = NULL;
    for (int i = 0; i < n && !damaged; i++) {
        char *path = tu_join(dir, names[i]);
        long long at = find_in_file(path, v, vl);
        if (at >= 0) {
            cr_assert_eq(tu_xor_byte(path, at + 30, 0x04), 0);
            damaged = names[i];
        }
        free(path);
    }
    cr_assert_not_null(damaged, "key 1's value is stored as it is in one table");
    int live[NUM_KEYS], nlive = 0;
    for (int key = 0; key < NUM_KEYS; key++)
        if (state_after(3, key))
            live[nlive++] = key;
    strata_options *o = options(1);
    strata_db *db;
    cr_assert_eq(strata_open(dir, o, &db), STRATA_OK, "%s", strata_last_error());
    strata_read_options *ro = strata_read_options_new();
    strata_read_options_set_verify_checksums(ro, 1);
    for (int back = 0; back < 2; back++) {
        strata_iter *it = strata_iter_new(db, ro);
        int shown = 0;
        for (back ? strata_iter_seek_last(it) : strata_iter_seek_first(it); strata_iter_valid(it);
             back ? strata_iter_prev(it) : strata_iter_next(it)) {
            size_t kl;
            const char *k = strata_iter_key(it, &kl);
            int want = live[back ? nlive - 1 - shown : shown];
            cr_assert(kl == 10 && atoi(k + 2) == want, "%s: key %.*s shown where %d comes first",
                      back ? "backward" : "forward", (int)kl, k, want);
            shown++;
        }
        cr_assert_eq(strata_iter_status(it), STRATA_CORRUPTION, "%s: the damage is reported",
                     back ? "backward" : "forward");
        cr_assert(strstr(strata_last_error(), damaged) != NULL, "%s", strata_last_error());
        strata_iter_free(it);
    }
    strata_read_options_free(ro);
    cr_assert_eq(strata_close(db), STRATA_OK);
    strata_options_free(o);
    free_names(names, n);
    free(dir);
}

/* A MANIFEST cut short at any byte: what is left is a valid log whose last
 * record may be torn, so the reader takes it for the tail of a crash, but
 * the edits it lost were durable: the logs and tables they replaced are
 * gone.  Opening must fail naming the MANIFEST (it opened on the old state
 * and swept every newer table away as obsolete), or, when nothing needed
 * was lost, serve everything as written. */
Test(damage, manifest_cut_at_every_byte)
{
    char *dir = tu_join(work, "cut");
    int n;
    char **names = files_of(base, KIND_MANIFEST, &n);
    char *src = tu_join(base, names[0]);
    long long size = tu_file_size(src);
    int refused = 0, intact = 0;
    for (long long cut = 0; cut < size; cut++) {
        tu_rmrf(dir);
        cr_assert_eq(tu_copy_dir(base, dir), 0);
        char *path = tu_join(dir, names[0]);
        cr_assert_eq(tu_truncate(path, cut), 0);
        char ctx[128];
        snprintf(ctx, sizeof ctx, "%s cut at %lld of %lld bytes", names[0], cut, size);
        struct dcase c = { dir, names[0], ctx, KIND_MANIFEST, 1 };
        int outcome = fork_case(&c);
        refused += outcome == CASE_ERROR;
        intact += outcome == CASE_INTACT;
        free(path);
    }
    fprintf(stderr, "damage/manifest cuts: %lld cuts: %d refused naming the MANIFEST, %d intact\n",
            size, refused, intact);
    cr_assert_eq(refused + intact, size);
    free(src);
    free_names(names, n);
    free(dir);
}

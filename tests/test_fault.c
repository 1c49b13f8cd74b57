/*
 * test_fault.c: every I/O operation of a representative workload made to
 * fail in turn, as SQLite's I/O-error tests do.
 *
 * The workload (run_workload): strata_open creating the database, through
 * an env of the test's own (options.env, src/options.h) so that faults can
 * hit the open itself; a fixed list of puts, deletes and batches, some
 * synced, with a 64 KiB memtable, 16 KiB tables and a 64 KiB level 1, so
 * that several memtables are flushed and compactions run; a
 * strata_compact_range; close; reopen; gets of every key and iterations in
 * both directions; more writes; another strata_compact_range; close.
 *
 * It runs once with no fault, counting its operations (env_op_count).
 * Then, for each fault kind (EIO on any operation, ENOSPC on writes and
 * syncs, ENOSPC on writes that first write half their data) and each n up
 * to that kind's count, it runs again from an empty directory with the
 * n-th operation of that kind failing, in a child process a parent
 * watches with a deadline (a hang or a crash fails the case).  Each case
 * checks:
 * - a call that fails does so only after the fault fired, and
 *   strata_last_error() names a file or the directory of the database;
 * - a fault that fired surfaces: as a failed call, as the background error
 *   in strata.stats, or (when it hit during strata_close, after the last
 *   call that could show it) in the LOG; only the faults that lose nothing
 *   may pass unnoticed: a LOG write, the removal of obsolete files (kept,
 *   removed at the next open), and the mapping of a table (read with pread
 *   instead);
 * - with the fault lifted, close returns (its status may be the error) and
 *   the database reopens with paranoid_checks on; then every write
 *   acknowledged before the failure is there, synced or not (no process
 *   crashed: the page cache keeps what the log got), the write that failed
 *   is there entirely or not at all, and nothing else: values are
 *   self-describing ("<key>@<version>:" and filler derived from both), so
 *   any value read can be checked against what was written for its key;
 *   gets and iterations in both directions agree; the database takes new
 *   writes.
 *
 * `make test` runs about FAULT_SAMPLE cases per kind, every stride-th n
 * from a printed offset (STRATA_FAULT_SEED=<offset> repeats it);
 * STRATA_FAULT_ALL=1 runs every n (make fault-all).  STRATA_FAULT_ONLY=n
 * runs one case of each kind, with its output.
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

#include "src/env.h"
#include "src/options.h"
#include "strata.h"
#include "tests/testutil.h"

enum {
    NUM_KEYS = 150,
    NUM_OPS = 560,        /* before the first close */
    NUM_OPS_AFTER = 40,   /* after the reopen */
    MAX_BATCH = 5,
    FAULT_SAMPLE = 35,    /* cases per kind in `make test` */
    CASE_DEADLINE_MS = 60000,
    WORKLOAD_SEED = 20261123,
};

/* ---- the workload's operations -------------------------------------------------------------- */

struct update {
    int key;
    int del;
    uint64_t ver; /* unique over the workload: the value says it */
};

struct op {
    int sync;
    int is_batch; /* a strata_write, else a single put or delete */
    int n;
    struct update u[MAX_BATCH];
};

static struct op ops[NUM_OPS + NUM_OPS_AFTER];

/* The list is the same in every case: the fault is the only difference. */
static void make_ops(void)
{
    struct tu_rng r;
    tu_rng_seed(&r, WORKLOAD_SEED);
    uint64_t ver = 0;
    for (int i = 0; i < NUM_OPS + NUM_OPS_AFTER; i++) {
        struct op *o = &ops[i];
        o->sync = tu_rng_chance(&r, 1, 25);
        o->is_batch = tu_rng_chance(&r, 1, 5);
        o->n = o->is_batch ? 2 + (int)tu_rng_uniform(&r, MAX_BATCH - 1) : 1;
        for (int j = 0; j < o->n; j++) {
            int key, dup;
            do { /* distinct keys within a batch: its effect is one value per key */
                key = (int)tu_rng_uniform(&r, NUM_KEYS);
                dup = 0;
                for (int k = 0; k < j; k++)
                    dup |= o->u[k].key == key;
            } while (dup);
            o->u[j] = (struct update){ key, tu_rng_chance(&r, 1, 8), ++ver };
        }
    }
}

static size_t key_of(char *buf, size_t n, int key)
{
    return tu_key(buf, n, "fk", (uint64_t)key);
}

/* "<key>@<ver>:" then filler of a length and bytes both derive from. */
static size_t value_of(char *buf, size_t n, int key, uint64_t ver)
{
    char k[32];
    key_of(k, sizeof k, key);
    int len = snprintf(buf, n, "%s@%llu:", k, (unsigned long long)ver);
    size_t filler = 200 + (size_t)((ver * 7919u) % 1200u);
    cr_assert(len > 0 && (size_t)len + filler <= n);
    tu_value(buf + len, filler, ver, (uint64_t)key);
    return (size_t)len + filler;
}

/* The version a value read for key says it is, or 0 when it is not a value
 * written for that key. */
static uint64_t version_in(int key, const char *val, size_t vlen)
{
    char k[32], want[2048];
    size_t klen = key_of(k, sizeof k, key);
    if (vlen < klen + 3 || memcmp(val, k, klen) != 0 || val[klen] != '@')
        return 0;
    uint64_t ver = 0;
    size_t i = klen + 1;
    for (; i < vlen && val[i] >= '0' && val[i] <= '9' && i < klen + 12; i++)
        ver = ver * 10 + (uint64_t)(val[i] - '0');
    if (ver == 0 || ver > NUM_OPS * MAX_BATCH + NUM_OPS_AFTER * MAX_BATCH)
        return 0;
    size_t wlen = value_of(want, sizeof want, key, ver);
    return wlen == vlen && memcmp(want, val, vlen) == 0 ? ver : 0;
}

/* ---- one case, in a child process --------------------------------------------------------- */

/* Exit codes of a case. */
enum {
    CASE_FAILED = 1,
    CASE_SURFACED = 10,   /* the fault made a call fail */
    CASE_BACKGROUND = 11, /* it became the background error, in strata.stats */
    CASE_LOGGED = 12,     /* it hit during close: the LOG has it */
    CASE_ABSORBED = 13,   /* it hit a LOG write or the removal of an obsolete file */
    CASE_NOT_FIRED = 14,  /* this run had fewer operations of the kind */
    CASE_CLEAN = 15,      /* no fault armed */
};

struct fault_kind {
    const char *name;
    unsigned kinds;
    int err;
};

static const struct fault_kind fault_kinds[] = {
    { "eio", ENV_OP_ALL, EIO },
    { "enospc", ENV_OP_WRITE | ENV_OP_SYNC, ENOSPC },
    { "partial", ENV_OP_WRITE | ENV_FAULT_PARTIAL, ENOSPC },
};

struct run {
    const char *dir;
    const char *ctx;   /* "eio n=17" */
    struct env *env;
    strata_db *db;
    int acked;         /* ops acknowledged */
    int failed_op;     /* the op whose call failed, or -1 */
    int errors;        /* calls that failed */
    int bg_seen;       /* the background error showed in strata.stats */
    int in_close;      /* a close was running when the first error came */
};

static void die(const struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void die(const struct run *r, const char *fmt, ...)
{
    const char *what;
    env_fault_fired(r->env, &what);
    fprintf(stderr, "fault case %s (dir %s, fault on: %s): ", r->ctx, r->dir,
            *what ? what : "not fired");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    _exit(CASE_FAILED);
}

static strata_options *workload_options(struct env *env)
{
    strata_options *o = strata_options_new();
    strata_options_set_write_buffer_size(o, 64 << 10);
    strata_options_set_target_file_size(o, 16 << 10);
    strata_options_set_max_bytes_for_level_base(o, 64 << 10);
    strata_options_set_max_bytes_for_level_multiplier(o, 4);
    strata_options_set_block_cache_size(o, 64 << 10);
    o->env = env;
    return o;
}

/* A call returned rc: a failure must come from the fault and name a file
 * (or the directory) of the database.  Returns whether it failed. */
static int check_call(struct run *r, int rc, const char *call)
{
    if (rc == STRATA_OK)
        return 0;
    const char *msg = strata_last_error();
    if (!env_fault_fired(r->env, NULL))
        die(r, "%s failed with no fault fired: %s: %s", call, strata_strerror(rc), msg);
    if (!strstr(msg, r->dir))
        die(r, "%s: the message names no file of the database: %s", call, msg);
    r->errors++;
    return 1;
}

/* After a step that succeeded: a fault that fired in the background must
 * show as the background error. */
static void check_background(struct run *r)
{
    if (!r->db || r->errors > 0 || !env_fault_fired(r->env, NULL))
        return;
    char *st = strata_property(r->db, "strata.stats");
    if (!st)
        die(r, "no strata.stats");
    const char *line = strstr(st, "background error:");
    if (line && !strstr(line, "background error:     none")) {
        if (!strstr(line, r->dir))
            die(r, "the background error names no file: %s", line);
        r->bg_seen = 1;
    }
    strata_free(st);
}

/* Apply ops[i]; 0 when acknowledged. */
static int apply_op(struct run *r, int i, strata_write_options *wo, strata_batch *b)
{
    const struct op *o = &ops[i];
    char k[32], v[2048], call[64];
    strata_write_options_set_sync(wo, o->sync);
    int rc;
    if (o->is_batch) {
        strata_batch_clear(b);
        for (int j = 0; j < o->n; j++) {
            size_t kl = key_of(k, sizeof k, o->u[j].key);
            if (o->u[j].del) {
                strata_batch_delete(b, k, kl);
            } else {
                size_t vl = value_of(v, sizeof v, o->u[j].key, o->u[j].ver);
                strata_batch_put(b, k, kl, v, vl);
            }
        }
        rc = strata_write(r->db, wo, b);
    } else {
        size_t kl = key_of(k, sizeof k, o->u[0].key);
        if (o->u[0].del) {
            rc = strata_delete(r->db, wo, k, kl);
        } else {
            size_t vl = value_of(v, sizeof v, o->u[0].key, o->u[0].ver);
            rc = strata_put(r->db, wo, k, kl, v, vl);
        }
    }
    snprintf(call, sizeof call, "write %d", i);
    if (check_call(r, rc, call)) {
        r->failed_op = i;
        return -1;
    }
    r->acked = i + 1;
    return 0;
}

static int apply_ops(struct run *r, int from, int to)
{
    strata_write_options *wo = strata_write_options_new();
    strata_batch *b = strata_batch_new();
    int rc = 0;
    for (int i = from; i < to && rc == 0; i++) {
        rc = apply_op(r, i, wo, b);
        if (rc == 0 && (i & 63) == 0)
            check_background(r);
    }
    strata_batch_free(b);
    strata_write_options_free(wo);
    return rc;
}

/* ---- what the database must hold ------------------------------------------------------------- */

/* Per key: the version of the last acknowledged update (0: none), whether
 * it was a delete, and the failed op's update of the key (ver 0: none). */
struct expect {
    uint64_t acked_ver;
    int acked_del;
    uint64_t failed_ver;
    int failed_del;
};

static void expected_state(const struct run *r, struct expect *e)
{
    memset(e, 0, NUM_KEYS * sizeof *e);
    for (int i = 0; i < r->acked; i++)
        for (int j = 0; j < ops[i].n; j++) {
            const struct update *u = &ops[i].u[j];
            e[u->key].acked_ver = u->ver;
            e[u->key].acked_del = u->del;
        }
    if (r->failed_op >= 0)
        for (int j = 0; j < ops[r->failed_op].n; j++) {
            const struct update *u = &ops[r->failed_op].u[j];
            e[u->key].failed_ver = u->ver;
            e[u->key].failed_del = u->del;
        }
}

/* What the database shows for a key: 0 absent, else the version its
 * value says. */
enum { SHOWS_FAILED = 1, SHOWS_ACKED = 2 };

/* Which of the allowed states ver (0: absent) is: SHOWS_ACKED,
 * SHOWS_FAILED, both (indistinguishable), or 0 (wrong). */
static int judge(const struct expect *e, uint64_t ver)
{
    int acked_absent = e->acked_ver == 0 || e->acked_del;
    int ok = 0;
    if (ver == 0 ? acked_absent : ver == e->acked_ver && !e->acked_del)
        ok |= SHOWS_ACKED;
    if (e->failed_ver && (ver == 0 ? e->failed_del : ver == e->failed_ver && !e->failed_del))
        ok |= SHOWS_FAILED;
    return ok;
}

/* Gets of every key, a full scan forward and one backward, all with
 * checksums verified, and the failed batch all or nothing.  In the
 * workload (strict: no failure before), or after the fault, on reopen. */
static int verify_db(struct run *r, strata_db *db, int strict)
{
    struct expect e[NUM_KEYS];
    uint64_t got[NUM_KEYS];
    char k[32];
    expected_state(r, e);
    strata_read_options *ro = strata_read_options_new();
    strata_read_options_set_verify_checksums(ro, 1);
    int failed = 0;
    for (int key = 0; key < NUM_KEYS && !failed; key++) {
        size_t kl = key_of(k, sizeof k, key);
        void *val;
        size_t vlen;
        int rc = strata_get(db, ro, k, kl, &val, &vlen);
        if (rc == STRATA_NOT_FOUND) {
            got[key] = 0;
        } else if (rc == STRATA_OK) {
            got[key] = version_in(key, val, vlen);
            if (!got[key])
                die(r, "get %s: a value never written for it: %.*s", k, (int)(vlen < 60 ? vlen : 60),
                    (char *)val);
            strata_free(val);
        } else if (strict) {
            failed = check_call(r, rc, "get");
            break;
        } else {
            die(r, "get %s after the fault was lifted: %s", k, strata_last_error());
        }
        int j = judge(&e[key], got[key]);
        if (!j || (strict && !(j & SHOWS_ACKED)))
            die(r, "key %s shows version %llu; last acknowledged %llu%s, failed write's %llu%s", k,
                (unsigned long long)got[key], (unsigned long long)e[key].acked_ver,
                e[key].acked_del ? " (delete)" : "", (unsigned long long)e[key].failed_ver,
                e[key].failed_del ? " (delete)" : "");
    }
    if (!failed && r->failed_op >= 0) { /* the failed write: all of it or none */
        int applied = 0, missing = 0;
        for (int key = 0; key < NUM_KEYS; key++) {
            if (!e[key].failed_ver)
                continue;
            int j = judge(&e[key], got[key]);
            applied += j == SHOWS_FAILED;
            missing += j == SHOWS_ACKED;
        }
        if (applied && missing)
            die(r, "write %d (a batch of %d) is half there: %d keys show it, %d do not", r->failed_op,
                ops[r->failed_op].n, applied, missing);
    }
    for (int dir = 0; dir < 2 && !failed; dir++) {
        strata_iter *it = strata_iter_new(db, ro);
        int seen = 0, last = dir ? NUM_KEYS : -1;
        if (!it)
            die(r, "no iterator: %s", strata_last_error());
        for (dir ? strata_iter_seek_last(it) : strata_iter_seek_first(it); strata_iter_valid(it);
             dir ? strata_iter_prev(it) : strata_iter_next(it)) {
            size_t kl, vl;
            const char *ik = strata_iter_key(it, &kl);
            const char *iv = strata_iter_value(it, &vl);
            int key = -1;
            if (kl == 10 && !memcmp(ik, "fk", 2))
                key = atoi(ik + 2);
            if (key < 0 || key >= NUM_KEYS || (dir ? key >= last : key <= last))
                die(r, "iteration %s: key %.*s never written or out of order", dir ? "back" : "forward",
                    (int)kl, ik);
            for (int skipped = last + (dir ? -1 : 1); skipped != key; skipped += dir ? -1 : 1)
                if (got[skipped])
                    die(r, "iteration %s skips key %d, which get finds", dir ? "back" : "forward",
                        skipped);
            if (version_in(key, iv, vl) != got[key])
                die(r, "iteration %s: key %d shows version %llu, get %llu", dir ? "back" : "forward",
                    key, (unsigned long long)version_in(key, iv, vl), (unsigned long long)got[key]);
            last = key;
            seen++;
        }
        for (int skipped = last + (dir ? -1 : 1); skipped != (dir ? -1 : NUM_KEYS);
             skipped += dir ? -1 : 1)
            if (got[skipped])
                die(r, "iteration %s ends before key %d, which get finds", dir ? "back" : "forward",
                    skipped);
        int rc = strata_iter_status(it);
        strata_iter_free(it);
        if (rc != STRATA_OK) {
            if (!strict)
                die(r, "iteration after the fault was lifted: %s", strata_last_error());
            failed = check_call(r, rc, "iteration");
        }
        (void)seen;
    }
    strata_read_options_free(ro);
    return failed ? -1 : 0;
}

/* ---- the workload, and the check after it ------------------------------------------------------ */

static int close_db(struct run *r)
{
    check_background(r);
    r->in_close = r->errors == 0;
    int rc = strata_close(r->db);
    r->db = NULL;
    if (check_call(r, rc, "close"))
        return -1;
    r->in_close = 0;
    return 0;
}

static int open_db(struct run *r)
{
    strata_options *o = workload_options(r->env);
    int rc = strata_open(r->dir, o, &r->db);
    strata_options_free(o);
    return check_call(r, rc, "open") ? -1 : 0;
}

static int compact(struct run *r)
{
    return check_call(r, strata_compact_range(r->db, NULL, 0, NULL, 0), "compact_range") ? -1 : 0;
}

/* Stops at the first call that fails; the database may be left open. */
static void run_workload(struct run *r)
{
    if (open_db(r) || apply_ops(r, 0, NUM_OPS) || compact(r) || close_db(r) || open_db(r) ||
        verify_db(r, r->db, 1) || apply_ops(r, NUM_OPS, NUM_OPS + NUM_OPS_AFTER) || compact(r))
        return;
    check_background(r);
    close_db(r);
}

/* Does the LOG (or LOG.old) of the database mention the fault's error? */
static int log_mentions_fault(const struct run *r)
{
    const char *names[] = { "LOG", "LOG.old" };
    int found = 0;
    for (int i = 0; i < 2 && !found; i++) {
        char *path = tu_join(r->dir, names[i]);
        size_t len;
        char *text = tu_read_file(path, &len);
        found = text && strstr(text, "(injected)") != NULL;
        free(text);
        free(path);
    }
    return found;
}

/* Faults that lose nothing and may go unreported: the LOG is advice, an
 * obsolete file that is not removed now (or whose directory cannot be
 * listed) is removed at the next open, and a table that cannot be mapped
 * is read with pread instead. */
static int harmless(const struct run *r, const char *what)
{
    char log[4096 + 8];
    snprintf(log, sizeof log, "write %s/LOG", r->dir);
    return !strcmp(what, log) || !strncmp(what, "unlink ", 7) || !strncmp(what, "list ", 5) ||
           !strncmp(what, "map-read ", 9);
}

/* After the workload, with the fault lifted: close, reopen, check, write. */
static void recover_and_check(struct run *r)
{
    env_clear_fault(r->env);
    if (r->db)
        strata_close(r->db); /* may report the error; must return */
    r->db = NULL;
    strata_options *o = workload_options(NULL);
    strata_db *db;
    int rc = strata_open(r->dir, o, &db);
    strata_options_free(o);
    if (rc != STRATA_OK)
        die(r, "reopen after the fault was lifted: %s: %s", strata_strerror(rc), strata_last_error());
    verify_db(r, db, 0);
    if (strata_put(db, NULL, "after", 5, "x", 1) != STRATA_OK)
        die(r, "a write after recovery: %s", strata_last_error());
    rc = strata_close(db);
    if (rc != STRATA_OK)
        die(r, "close after recovery: %s", strata_last_error());
}

static int run_case(const char *dir, const char *ctx, const struct fault_kind *k, uint64_t n,
                    uint64_t counts[3])
{
    struct run r = { .dir = dir, .ctx = ctx, .failed_op = -1 };
    if (!(r.env = env_new()))
        die(&r, "env_new");
    if (n)
        env_set_fault(r.env, n, k->kinds, k->err);
    run_workload(&r);
    int fired = env_fault_fired(r.env, NULL);
    const char *what;
    env_fault_fired(r.env, &what);
    if (counts) {
        counts[0] = env_op_count(r.env);
        counts[1] = env_op_count_of(r.env, ENV_OP_WRITE | ENV_OP_SYNC);
        counts[2] = env_op_count_of(r.env, ENV_OP_WRITE);
    }
    int outcome;
    if (!n)
        outcome = CASE_CLEAN;
    else if (!fired)
        outcome = CASE_NOT_FIRED;
    else if (r.errors && !r.in_close)
        outcome = CASE_SURFACED;
    else if (r.bg_seen)
        outcome = CASE_BACKGROUND;
    else if (harmless(&r, what))
        outcome = CASE_ABSORBED;
    else if (r.errors) /* close reported it */
        outcome = CASE_SURFACED;
    else if (log_mentions_fault(&r))
        outcome = CASE_LOGGED;
    else
        die(&r, "the fault fired and nothing reported it");
    if (!n && (r.errors || r.acked != NUM_OPS + NUM_OPS_AFTER))
        die(&r, "the run with no fault failed");
    recover_and_check(&r);
    env_free(r.env);
    return outcome;
}

/* ---- the parent: cases in children, with a deadline ---------------------------------------------- */

static char *base_dir;

static void setup(void)
{
    make_ops();
    base_dir = tu_mkdtemp("fault");
    cr_assert_not_null(base_dir);
}

static void teardown(void)
{
    tu_rmrf(base_dir);
    free(base_dir);
}

/* No suite timeout: each case has its own deadline, and STRATA_FAULT_ALL runs long. */
TestSuite(fault, .init = setup, .fini = teardown);

/* Wait for pid until the deadline; kill it then.  The exit code, or -signal. */
static int wait_case(pid_t pid, const char *ctx)
{
    uint64_t deadline = tu_now_ms() + CASE_DEADLINE_MS;
    int st;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        cr_assert(w == 0, "waitpid: %s", strerror(errno));
        if (tu_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            cr_assert_fail("fault case %s: no result after %d ms: a hang", ctx, CASE_DEADLINE_MS);
        }
        tu_sleep_ms(1);
    }
    if (WIFSIGNALED(st))
        return -WTERMSIG(st);
    return WEXITSTATUS(st);
}

/* One case in a child: its outcome (CASE_*). */
static int fork_case(const struct fault_kind *k, uint64_t n, uint64_t counts[3])
{
    char dir[4096], ctx[64];
    snprintf(dir, sizeof dir, "%s/%s-%llu", base_dir, k->name, (unsigned long long)n);
    snprintf(ctx, sizeof ctx, "%s n=%llu", k->name, (unsigned long long)n);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(stderr);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        uint64_t c[3] = { 0, 0, 0 };
        int outcome = run_case(dir, ctx, k, n, c);
        ssize_t w = write(fds[1], c, sizeof c);
        _exit(w == (ssize_t)sizeof c ? outcome : CASE_FAILED);
    }
    close(fds[1]);
    int outcome = wait_case(pid, ctx);
    if (counts)
        cr_assert_eq(read(fds[0], counts, 3 * sizeof *counts), (ssize_t)(3 * sizeof *counts));
    close(fds[0]);
    cr_assert(outcome >= CASE_SURFACED && outcome <= CASE_CLEAN,
              "fault case %s (dir %s): %s %d (its message is above)", ctx, dir,
              outcome < 0 ? "killed by signal" : "exit", outcome < 0 ? -outcome : outcome);
    tu_rmrf(dir);
    return outcome;
}

static uint64_t env_number(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    return s && *s ? strtoull(s, NULL, 10) : dflt;
}

static void enumerate(int kind_index)
{
    const struct fault_kind *k = &fault_kinds[kind_index];
    uint64_t counts[3];
    uint64_t t0 = tu_now_ms();
    cr_assert_eq(fork_case(k, 0, counts), CASE_CLEAN);
    uint64_t count = counts[kind_index];
    cr_assert_gt(count, 100, "the workload has I/O to fail");
    uint64_t only = env_number("STRATA_FAULT_ONLY", 0);
    uint64_t stride = env_number("STRATA_FAULT_ALL", 0) ? 1 : (count + FAULT_SAMPLE - 1) / FAULT_SAMPLE;
    uint64_t offset = env_number("STRATA_FAULT_SEED", tu_clock_seed() % stride) % stride;
    /* A few more than counted: another run may interleave more operations. */
    uint64_t last = count + count / 20;
    int outcomes[CASE_CLEAN + 1] = { 0 };
    int cases = 0;
    for (uint64_t n = only ? only : 1 + offset; n <= (only ? only : last); n += stride) {
        outcomes[fork_case(k, n, NULL)]++;
        cases++;
    }
    fprintf(stderr,
            "fault/%s: %llu operations of the kind in the workload (%llu of all kinds); %d cases "
            "(every %llu-th n from %llu; STRATA_FAULT_SEED=%llu repeats, STRATA_FAULT_ALL=1 runs "
            "all): %d failed a call, %d the background error, %d during close (LOG), %d harmless "
            "(LOG, obsolete-file removal, table mapping), %d past the run's last operation; %.1f s\n",
            k->name, (unsigned long long)count, (unsigned long long)counts[0], cases,
            (unsigned long long)stride, (unsigned long long)(1 + offset),
            (unsigned long long)offset, outcomes[CASE_SURFACED], outcomes[CASE_BACKGROUND],
            outcomes[CASE_LOGGED], outcomes[CASE_ABSORBED], outcomes[CASE_NOT_FIRED],
            (double)(tu_now_ms() - t0) / 1000.0);
    cr_assert(only || outcomes[CASE_SURFACED] > 0, "some faults make a call fail");
}

Test(fault, eio_on_every_operation)
{
    enumerate(0);
}

Test(fault, enospc_on_every_write_and_sync)
{
    enumerate(1);
}

Test(fault, partial_write_on_every_write)
{
    enumerate(2);
}

/* Regression: a failed directory sync after CURRENT was renamed into
 * place made strata_open remove the MANIFEST CURRENT named, and no later
 * open could succeed.  Every directory operation and rename of an open
 * that creates the database, and of one that reopens it, failed in turn:
 * the next open must succeed and find what was written. */
static void open_with_fault(int reopen, uint64_t n, int *failed)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/open-%d-%llu", base_dir, reopen, (unsigned long long)n);
    struct env *env = env_new();
    strata_options *o = workload_options(env);
    strata_db *db;
    if (reopen) { /* a first session writes the key; the second open takes the fault */
        cr_assert_eq(strata_open(dir, o, &db), STRATA_OK, "%s", strata_last_error());
        cr_assert_eq(strata_put(db, NULL, "k", 1, "v", 1), STRATA_OK);
        cr_assert_eq(strata_close(db), STRATA_OK);
    }
    env_set_fault(env, n, ENV_OP_DIR | ENV_OP_RENAME, EIO);
    int rc = strata_open(dir, o, &db);
    if (rc == STRATA_OK)
        strata_close(db);
    else
        ++*failed;
    const char *what;
    env_fault_fired(env, &what);
    env_clear_fault(env);
    cr_assert_eq(strata_open(dir, o, &db), STRATA_OK, "fault on %s: the next open: %s", what,
                 strata_last_error());
    void *v;
    size_t vl;
    rc = strata_get(db, NULL, "k", 1, &v, &vl);
    cr_assert_eq(rc, reopen ? STRATA_OK : STRATA_NOT_FOUND, "fault on %s: %s", what,
                 strata_last_error());
    if (rc == STRATA_OK)
        strata_free(v);
    cr_assert_eq(strata_close(db), STRATA_OK);
    strata_options_free(o);
    env_free(env);
}

Test(fault, open_survives_a_fault_on_any_directory_operation)
{
    for (int reopen = 0; reopen < 2; reopen++) {
        int failed = 0;
        for (uint64_t n = 1; n <= 12; n++)
            open_with_fault(reopen, n, &failed);
        cr_assert_gt(failed, 2, "the faults hit the open");
    }
}

/*
 * test_reopen.c: durability across close and reopen, and recovery from
 * damage.
 *
 * - Several sessions of puts, deletes and batches (values from empty to
 *   100 KiB, so records span WAL blocks), each followed by a reopen and a
 *   full comparison with a model (gets, and iteration both ways).
 * - Sequence numbers continue after a reopen.
 * - The LOG file, and the files left in the directory.
 * - paranoid_checks: a damaged record followed by valid ones fails the open
 *   with STRATA_CORRUPTION naming the .log file; off, the open succeeds with
 *   the records before the damage.
 * - A torn tail (the log cut inside its last record) is dropped silently.
 * - A damaged CURRENT, a CURRENT naming a missing MANIFEST, a damaged
 *   MANIFEST, a MANIFEST of another comparator, a deleted CURRENT.
 * Deterministic.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/buf.h"
#include "src/coding.h"
#include "src/dbformat.h"
#include "src/env.h"
#include "src/version_edit.h"
#include "src/write_batch.h"
#include "strata.h"
#include "tests/testutil.h"
#include "wal/log_writer.h"

static char *dir;
static char *dbpath;

static void setup(void)
{
    dir = tu_mkdtemp("reopen");
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

TestSuite(reopen, .init = setup, .fini = teardown);

static strata_db *open_path(const char *path, int paranoid)
{
    strata_options *o = strata_options_new();
    strata_options_set_paranoid_checks(o, paranoid);
    strata_db *db = NULL;
    int rc = strata_open(path, o, &db);
    strata_options_free(o);
    cr_assert_eq(rc, STRATA_OK, "open %s: %s: %s", path, strata_strerror(rc), strata_last_error());
    return db;
}

static strata_db *open_db(void)
{
    return open_path(dbpath, 1);
}

static int try_open(const char *path, int paranoid, int create, strata_db **db)
{
    strata_options *o = strata_options_new();
    strata_options_set_paranoid_checks(o, paranoid);
    strata_options_set_create_if_missing(o, create);
    *db = NULL;
    int rc = strata_open(path, o, db);
    strata_options_free(o);
    return rc;
}

static void expect_error_mentions(const char *what)
{
    cr_expect_not_null(strstr(strata_last_error(), what),
                       "strata_last_error() \"%s\" does not mention \"%s\"", strata_last_error(), what);
}

/* ---- a model of the whole database ---------------------------------------------------- */

enum { NKEYS = 400 };

struct model {
    char *val[NKEYS]; /* NULL: absent */
    size_t len[NKEYS];
};

static size_t key_of(char *buf, int i)
{
    return tu_key(buf, 32, "key", (uint64_t)i);
}

static void model_set(struct model *m, int i, const char *v, size_t len)
{
    free(m->val[i]);
    m->val[i] = NULL;
    if (v) {
        m->val[i] = malloc(len ? len : 1);
        memcpy(m->val[i], v, len);
        m->len[i] = len;
    }
}

static void model_free(struct model *m)
{
    for (int i = 0; i < NKEYS; i++)
        free(m->val[i]);
}

/* Compare everything: a get per key, then full iteration both ways. */
static void verify(strata_db *db, const struct model *m, const char *when)
{
    char k[32];
    for (int i = 0; i < NKEYS; i++) {
        size_t kl = key_of(k, i);
        void *v;
        size_t vl;
        int rc = strata_get(db, NULL, k, kl, &v, &vl);
        if (!m->val[i]) {
            cr_assert_eq(rc, STRATA_NOT_FOUND, "%s: %s should be absent: %s", when, k,
                         strata_strerror(rc));
            continue;
        }
        cr_assert_eq(rc, STRATA_OK, "%s: get %s: %s", when, k, strata_strerror(rc));
        cr_assert(vl == m->len[i] && (vl == 0 || memcmp(v, m->val[i], vl) == 0),
                  "%s: %s has a value of %zu bytes, expected %zu", when, k, vl, m->len[i]);
        strata_free(v);
    }
    strata_iter *it = strata_iter_new(db, NULL);
    int i = 0;
    for (strata_iter_seek_first(it); strata_iter_valid(it); strata_iter_next(it), i++) {
        while (i < NKEYS && !m->val[i])
            i++;
        cr_assert_lt(i, NKEYS, "%s: iteration shows more keys than the model", when);
        size_t kl, vl;
        const char *key = strata_iter_key(it, &kl);
        const char *val = strata_iter_value(it, &vl);
        size_t wl = key_of(k, i);
        cr_assert(kl == wl && memcmp(key, k, kl) == 0, "%s: iteration at '%.*s', expected %s", when,
                  (int)kl, key, k);
        cr_assert(vl == m->len[i] && (vl == 0 || memcmp(val, m->val[i], vl) == 0),
                  "%s: iteration: wrong value for %s", when, k);
    }
    while (i < NKEYS && !m->val[i])
        i++;
    cr_assert_eq(i, NKEYS, "%s: iteration ended before %s", when, k);
    i = NKEYS - 1;
    for (strata_iter_seek_last(it); strata_iter_valid(it); strata_iter_prev(it), i--) {
        while (i >= 0 && !m->val[i])
            i--;
        cr_assert_geq(i, 0, "%s: backward iteration shows more keys than the model", when);
        size_t kl;
        const char *key = strata_iter_key(it, &kl);
        size_t wl = key_of(k, i);
        cr_assert(kl == wl && memcmp(key, k, kl) == 0, "%s: backward at '%.*s', expected %s", when,
                  (int)kl, key, k);
    }
    while (i >= 0 && !m->val[i])
        i--;
    cr_assert_lt(i, 0, "%s: backward iteration ended early", when);
    cr_assert_eq(strata_iter_status(it), STRATA_OK);
    strata_iter_free(it);
}

static void random_session(struct tu_rng *r, strata_db *db, struct model *m, int ops)
{
    char k[32];
    static char big[100 << 10];
    strata_batch *b = strata_batch_new();
    strata_write_options *wo = strata_write_options_new();
    for (int n = 0; n < ops; n++) {
        strata_write_options_set_sync(wo, tu_rng_chance(r, 1, 20));
        uint64_t what = tu_rng_uniform(r, 100);
        if (what < 10) {
            /* A batch of several updates. */
            strata_batch_clear(b);
            int count = 2 + (int)tu_rng_uniform(r, 10);
            for (int j = 0; j < count; j++) {
                int i = (int)tu_rng_uniform(r, NKEYS);
                size_t kl = key_of(k, i);
                if (tu_rng_chance(r, 1, 4)) {
                    strata_batch_delete(b, k, kl);
                    model_set(m, i, NULL, 0);
                } else {
                    size_t vl = tu_rng_uniform(r, 64);
                    tu_value(big, vl, (uint64_t)i, tu_rng_next(r));
                    strata_batch_put(b, k, kl, big, vl);
                    model_set(m, i, big, vl);
                }
            }
            cr_assert_eq(strata_write(db, wo, b), STRATA_OK, "%s", strata_last_error());
            continue;
        }
        int i = (int)tu_rng_uniform(r, NKEYS);
        size_t kl = key_of(k, i);
        if (what < 30) {
            cr_assert_eq(strata_delete(db, wo, k, kl), STRATA_OK);
            model_set(m, i, NULL, 0);
        } else {
            /* Mostly small values; some empty; a few spanning WAL blocks. */
            size_t vl = what < 33 ? 0 : what < 35 ? sizeof big - tu_rng_uniform(r, 1000)
                                                   : tu_rng_uniform(r, 200);
            tu_value(big, vl, (uint64_t)i, tu_rng_next(r));
            cr_assert_eq(strata_put(db, wo, k, kl, big, vl), STRATA_OK, "%s", strata_last_error());
            model_set(m, i, big, vl);
        }
    }
    strata_write_options_free(wo);
    strata_batch_free(b);
}

Test(reopen, sessions_append_and_everything_comes_back)
{
    struct tu_rng r;
    tu_rng_seed(&r, 4242);
    struct model m;
    memset(&m, 0, sizeof m);
    for (int session = 0; session < 6; session++) {
        strata_db *db = open_db();
        char when[64];
        snprintf(when, sizeof when, "start of session %d", session);
        verify(db, &m, when);
        random_session(&r, db, &m, 300);
        snprintf(when, sizeof when, "end of session %d", session);
        verify(db, &m, when);
        cr_assert_eq(strata_close(db), STRATA_OK);
    }
    /* And once more with paranoid checks off: the same. */
    strata_db *db = open_path(dbpath, 0);
    verify(db, &m, "final reopen");
    cr_assert_eq(strata_close(db), STRATA_OK);
    model_free(&m);
}

static uint64_t stat_value(strata_db *db, const char *label)
{
    char *s = strata_property(db, "strata.stats");
    cr_assert_not_null(s);
    const char *p = strstr(s, label);
    cr_assert_not_null(p, "no \"%s\" in the stats:\n%s", label, s);
    p += strlen(label);
    unsigned long long v = strtoull(p, NULL, 10);
    strata_free(s);
    return v;
}

Test(reopen, sequence_numbers_continue)
{
    strata_db *db = open_db();
    for (int i = 0; i < 10; i++)
        cr_assert_eq(strata_put(db, NULL, "k", 1, "old", 3), STRATA_OK);
    cr_assert_eq(strata_put(db, NULL, "a", 1, "1", 1), STRATA_OK);
    cr_assert_eq(stat_value(db, "last sequence"), 11);
    cr_assert_eq(strata_close(db), STRATA_OK);
    /* Two reopens without writes in between. */
    for (int i = 0; i < 2; i++) {
        db = open_db();
        cr_assert_eq(stat_value(db, "last sequence"), 11, "reopen %d", i);
        cr_assert_eq(strata_close(db), STRATA_OK);
    }
    db = open_db();
    /* A snapshot taken now sees everything written before. */
    const strata_snapshot *s = strata_snapshot_new(db);
    /* A new write wins over the recovered ones (it must get a higher
     * sequence number than every recovered update). */
    cr_assert_eq(strata_put(db, NULL, "k", 1, "new", 3), STRATA_OK);
    cr_assert_eq(strata_delete(db, NULL, "a", 1), STRATA_OK);
    cr_assert_eq(stat_value(db, "last sequence"), 13);
    void *v;
    size_t vl;
    cr_assert_eq(strata_get(db, NULL, "k", 1, &v, &vl), STRATA_OK);
    cr_assert(vl == 3 && memcmp(v, "new", 3) == 0, "a write after reopen lost to an older one");
    strata_free(v);
    cr_assert_eq(strata_get(db, NULL, "a", 1, &v, &vl), STRATA_NOT_FOUND);
    strata_read_options *ro = strata_read_options_new();
    strata_read_options_set_snapshot(ro, s);
    cr_assert_eq(strata_get(db, ro, "k", 1, &v, &vl), STRATA_OK);
    cr_assert(vl == 3 && memcmp(v, "old", 3) == 0);
    strata_free(v);
    cr_assert_eq(strata_get(db, ro, "a", 1, &v, &vl), STRATA_OK, "the snapshot must see a");
    strata_free(v);
    strata_read_options_free(ro);
    strata_snapshot_release(db, s);
    cr_assert_eq(strata_close(db), STRATA_OK);
    /* And after one more reopen, the newest still win. */
    db = open_db();
    cr_assert_eq(stat_value(db, "last sequence"), 13);
    cr_assert_eq(strata_get(db, NULL, "k", 1, &v, &vl), STRATA_OK);
    cr_assert(vl == 3 && memcmp(v, "new", 3) == 0);
    strata_free(v);
    cr_assert_eq(strata_get(db, NULL, "a", 1, &v, &vl), STRATA_NOT_FOUND);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

static int count_prefixed(const char *d, const char *prefix)
{
    DIR *dp = opendir(d);
    cr_assert_not_null(dp);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(dp);
    return n;
}

Test(reopen, log_file_and_directory_contents)
{
    strata_db *db = open_db();
    char *log = tu_join(dbpath, "LOG"), *old = tu_join(dbpath, "LOG.old");
    cr_assert(tu_exists(log), "no LOG file");
    cr_assert_eq(strata_put(db, NULL, "k", 1, "v", 1), STRATA_OK);
    cr_assert_eq(strata_close(db), STRATA_OK);
    for (int i = 0; i < 3; i++) {
        db = open_db();
        cr_assert_eq(strata_put(db, NULL, "k", 1, "v", 1), STRATA_OK);
        cr_assert_eq(strata_close(db), STRATA_OK);
    }
    cr_assert(tu_exists(log));
    cr_assert(tu_exists(old), "no LOG.old after a reopen");
    size_t n;
    char *text = tu_read_file(log, &n);
    cr_assert_not_null(text);
    cr_assert_gt(n, 0, "the LOG is empty");
    cr_assert_not_null(strstr(text, "recovered"), "the LOG does not tell about recovery:\n%s", text);
    free(text);
    /* One MANIFEST, the one CURRENT names; no temporary files. */
    char *current = tu_join(dbpath, "CURRENT");
    char *cur = tu_read_file(current, &n);
    cr_assert_not_null(cur);
    cr_assert(n > 10 && strncmp(cur, "MANIFEST-", 9) == 0 && cur[n - 1] == '\n', "CURRENT: %s", cur);
    cur[n - 1] = '\0';
    char *manifest = tu_join(dbpath, cur);
    cr_assert(tu_exists(manifest), "CURRENT names %s, which is missing", cur);
    size_t count = 0;
    uint64_t *nums = tu_numbered_files(dbpath, ".tmp", &count);
    cr_assert_eq(count, 0, "temporary files left");
    free(nums);
    int manifests = count_prefixed(dbpath, "MANIFEST-");
    cr_assert_eq(manifests, 1, "%d MANIFEST files, expected 1", manifests);
    free(manifest);
    free(cur);
    free(current);
    free(log);
    free(old);
}

/* ---- damage in the write-ahead log ------------------------------------------------------- */

enum { NREC = 10, VLEN = 20 };
/* Each put is one WAL record of one FULL fragment: a 7-byte header, then the
 * batch: 12-byte header, type, key length, 8-byte key, value length, value. */
enum { PAYLOAD = 12 + 1 + 1 + 8 + 1 + VLEN, RECORD = 7 + PAYLOAD };

static void value_of(char *v, int i)
{
    memset(v, 'a' + i, VLEN);
}

/* A closed database holding records 0..NREC-1 in one log; the log's path. */
static char *make_ten_records(const char *path)
{
    strata_db *db = open_path(path, 1);
    char k[32], v[VLEN];
    for (int i = 0; i < NREC; i++) {
        size_t kl = tu_key(k, sizeof k, "k", (uint64_t)i);
        cr_assert_eq(kl, 9);
        value_of(v, i);
        cr_assert_eq(strata_put(db, NULL, k + 1, 8, v, VLEN), STRATA_OK); /* key: 8 digits */
    }
    cr_assert_eq(strata_close(db), STRATA_OK);
    char *log = tu_last_log(path);
    cr_assert_not_null(log);
    cr_assert_eq(tu_file_size(log), (long long)NREC * RECORD, "unexpected log layout");
    return log;
}

/* Which of the ten records are readable, as a bit mask. */
static unsigned present_records(strata_db *db)
{
    unsigned mask = 0;
    char k[32], want[VLEN];
    for (int i = 0; i < NREC; i++) {
        tu_key(k, sizeof k, "k", (uint64_t)i);
        void *v;
        size_t vl;
        int rc = strata_get(db, NULL, k + 1, 8, &v, &vl);
        if (rc == STRATA_OK) {
            value_of(want, i);
            cr_assert(vl == VLEN && memcmp(v, want, VLEN) == 0, "record %d has a wrong value", i);
            strata_free(v);
            mask |= 1u << i;
        } else {
            cr_assert_eq(rc, STRATA_NOT_FOUND);
        }
    }
    return mask;
}

Test(reopen, paranoid_corruption_in_the_middle_of_the_wal)
{
    char *log = make_ten_records(dbpath);
    /* A payload byte of record 5 (its value). */
    cr_assert_eq(tu_xor_byte(log, 5 * RECORD + 7 + PAYLOAD - 3, 0x20), 0);
    strata_db *db;
    int rc = try_open(dbpath, 1, 1, &db);
    cr_assert_eq(rc, STRATA_CORRUPTION, "%s: %s", strata_strerror(rc), strata_last_error());
    cr_assert_null(db);
    expect_error_mentions(log);
    char off[32];
    snprintf(off, sizeof off, "%d", 5 * RECORD);
    expect_error_mentions(off);
    /* Still refused the second time (nothing was "repaired" by the failure). */
    cr_assert_eq(try_open(dbpath, 1, 1, &db), STRATA_CORRUPTION);

    /* paranoid_checks off: opens, with the records before the damage. */
    db = open_path(dbpath, 0);
    unsigned mask = present_records(db);
    cr_assert_eq(mask & 0x1f, 0x1f, "records before the damage lost: mask %#x", mask);
    cr_assert_eq(mask & 0x20, 0, "the damaged record was applied");
    /* The database works: new writes survive the next (lenient) reopen. */
    cr_assert_eq(strata_put(db, NULL, "after", 5, "1", 1), STRATA_OK);
    cr_assert_eq(strata_close(db), STRATA_OK);
    char *info = tu_join(dbpath, "LOG.old");
    size_t n;
    char *text = tu_read_file(info, &n);
    cr_assert_not_null(text);
    cr_assert_not_null(strstr(text, log), "the LOG does not record the loss in %s:\n%s", log, text);
    free(text);
    db = open_path(dbpath, 0);
    cr_assert_eq(present_records(db) & 0x3f, mask & 0x3f);
    void *v;
    size_t vl;
    cr_assert_eq(strata_get(db, NULL, "after", 5, &v, &vl), STRATA_OK);
    strata_free(v);
    cr_assert_eq(strata_close(db), STRATA_OK);
    free(info);
    free(log);
}

/* Flip one byte of record 5 of 10 at the offsets [from, to) of the record
 * (header or payload, several masks): the record is lost, but records 6..9
 * are valid and follow it, so with paranoid_checks the open must fail with
 * STRATA_CORRUPTION naming the log, never succeed without them
 * (log_reader.h: damage followed by at least one valid fragment is
 * corruption, not a torn tail).  Returns how many damages opened anyway,
 * and describes them in report. */
static int damage_record_bytes(int from, int to, char *report, size_t size)
{
    char *pristine = tu_join(dir, "pristine");
    char *log = make_ten_records(pristine);
    const char *logname = strrchr(log, '/') + 1;
    const unsigned char masks[] = { 0x01, 0x80, 0xff };
    int failures = 0;
    size_t rl = 0;
    report[0] = '\0';
    for (int b = from; b < to; b++) {
        for (int mi = 0; mi < 3; mi++) {
            char name[64];
            snprintf(name, sizeof name, "trial-%d-%d", b, mi);
            char *trial = tu_join(dir, name);
            cr_assert_eq(tu_copy_dir(pristine, trial), 0);
            char *tlog = tu_join(trial, logname);
            cr_assert_eq(tu_xor_byte(tlog, 5 * RECORD + b, masks[mi]), 0);
            strata_db *db;
            int rc = try_open(trial, 1, 1, &db);
            if (rc == STRATA_OK) {
                unsigned mask = present_records(db);
                strata_close(db);
                failures++;
                if (rl + 200 < size)
                    rl += (size_t)snprintf(report + rl, size - rl,
                                           "  byte %d of the record ^ %#x: open OK, records %#x\n", b,
                                           masks[mi], mask);
            } else {
                cr_assert_eq(rc, STRATA_CORRUPTION, "byte %d ^ %#x: %s: %s", b, masks[mi],
                             strata_strerror(rc), strata_last_error());
                cr_assert_not_null(strstr(strata_last_error(), tlog), "%s", strata_last_error());
            }
            tu_rmrf(trial);
            free(tlog);
            free(trial);
        }
    }
    free(log);
    free(pristine);
    return failures;
}

/* Record layout: checksum (bytes 0-3), length (4-5), type (6), payload. */
Test(reopen, paranoid_detects_damage_at_every_byte_of_a_middle_record)
{
    char report[4096];
    int failures = damage_record_bytes(0, 4, report, sizeof report);
    failures += damage_record_bytes(6, RECORD, report + strlen(report), sizeof report - strlen(report));
    cr_expect_eq(failures, 0,
                 "%d one-byte damages of a middle WAL record opened without error "
                 "(acknowledged records 6..9 silently dropped):\n%s", failures, report);
}

/* Regression: damage in a fragment's length field once sent the reader's
 * forward scan along the damaged length, past the valid records behind it,
 * so the damage passed for a torn tail: the open succeeded with
 * paranoid_checks on and acknowledged writes 6..9 were silently lost. */
Test(reopen, damaged_length_of_a_middle_wal_record_is_corruption)
{
    char report[4096];
    int failures = damage_record_bytes(4, 6, report, sizeof report);
    cr_expect_eq(failures, 0,
                 "%d of 6 one-byte damages of the length field of a middle WAL record opened "
                 "without error with paranoid_checks on (acknowledged records 6..9 silently "
                 "dropped as a \"torn tail\"):\n%s", failures, report);
}

Test(reopen, torn_tail_is_dropped_at_every_cut)
{
    char *pristine = tu_join(dir, "pristine");
    char *log = make_ten_records(pristine);
    const char *logname = strrchr(log, '/') + 1;
    /* Cut anywhere inside the last record, header included. */
    for (int cut = 1; cut < RECORD; cut++) {
        char name[64];
        snprintf(name, sizeof name, "cut-%d", cut);
        char *trial = tu_join(dir, name);
        cr_assert_eq(tu_copy_dir(pristine, trial), 0);
        char *tlog = tu_join(trial, logname);
        cr_assert_eq(tu_truncate(tlog, (long long)(NREC - 1) * RECORD + cut), 0);
        strata_db *db;
        int rc = try_open(trial, 1, 1, &db);
        cr_assert_eq(rc, STRATA_OK, "cut %d bytes into the last record: %s: %s", cut,
                     strata_strerror(rc), strata_last_error());
        cr_assert_eq(present_records(db), 0x1ff, "cut %d: records %#x", cut, present_records(db));
        /* Writes continue, and survive another reopen with the torn log. */
        cr_assert_eq(strata_put(db, NULL, "more", 4, "x", 1), STRATA_OK);
        cr_assert_eq(strata_close(db), STRATA_OK);
        cr_assert_eq(try_open(trial, 1, 1, &db), STRATA_OK, "%s", strata_last_error());
        cr_assert_eq(present_records(db), 0x1ff);
        void *v;
        size_t vl;
        cr_assert_eq(strata_get(db, NULL, "more", 4, &v, &vl), STRATA_OK);
        strata_free(v);
        cr_assert_eq(strata_close(db), STRATA_OK);
        tu_rmrf(trial);
        free(tlog);
        free(trial);
    }
    /* Cut exactly at a record boundary: nothing torn, nine records. */
    char *tlog = tu_join(pristine, logname);
    cr_assert_eq(tu_truncate(tlog, (long long)(NREC - 1) * RECORD), 0);
    strata_db *db;
    cr_assert_eq(try_open(pristine, 1, 1, &db), STRATA_OK);
    cr_assert_eq(present_records(db), 0x1ff);
    cr_assert_eq(strata_close(db), STRATA_OK);
    free(tlog);
    free(log);
    free(pristine);
}

Test(reopen, torn_tail_of_a_record_spanning_blocks)
{
    strata_db *db = open_db();
    cr_assert_eq(strata_put(db, NULL, "small", 5, "1", 1), STRATA_OK);
    size_t n = 100 << 10; /* four blocks: FIRST, MIDDLE, MIDDLE, LAST */
    char *big = malloc(n);
    tu_value(big, n, 7, 7);
    cr_assert_eq(strata_put(db, NULL, "big", 3, big, n), STRATA_OK);
    cr_assert_eq(strata_put(db, NULL, "small2", 6, "2", 1), STRATA_OK);
    cr_assert_eq(strata_close(db), STRATA_OK);
    char *log = tu_last_log(dbpath);
    long long size = tu_file_size(log);
    /* Cut inside the big record: in the second block (the record lacks its
     * LAST fragment). */
    cr_assert_eq(tu_truncate(log, 40000), 0);
    cr_assert_lt(40000, size);
    db = open_db();
    void *v;
    size_t vl;
    cr_assert_eq(strata_get(db, NULL, "small", 5, &v, &vl), STRATA_OK);
    strata_free(v);
    cr_assert_eq(strata_get(db, NULL, "big", 3, &v, &vl), STRATA_NOT_FOUND);
    cr_assert_eq(strata_get(db, NULL, "small2", 6, &v, &vl), STRATA_NOT_FOUND);
    /* A new big value after that recovery round-trips. */
    cr_assert_eq(strata_put(db, NULL, "big", 3, big, n), STRATA_OK);
    cr_assert_eq(strata_close(db), STRATA_OK);
    db = open_db();
    cr_assert_eq(strata_get(db, NULL, "big", 3, &v, &vl), STRATA_OK);
    cr_assert(vl == n && memcmp(v, big, n) == 0);
    strata_free(v);
    cr_assert_eq(strata_close(db), STRATA_OK);
    free(log);
    free(big);
}

/* ---- damage in CURRENT and the MANIFEST --------------------------------------------------- */

static void make_db_with_data(void)
{
    strata_db *db = open_db();
    cr_assert_eq(strata_put(db, NULL, "k", 1, "v", 1), STRATA_OK);
    cr_assert_eq(strata_close(db), STRATA_OK);
}

Test(reopen, damaged_current_is_corruption_naming_it)
{
    make_db_with_data();
    char *current = tu_join(dbpath, "CURRENT");
    size_t n;
    char *good = tu_read_file(current, &n);
    cr_assert_not_null(good);
    const char *bad[] = { "garbage\n", "", "\n", "MANIFEST-\n", "MANIFEST-12x\n", "MANIFEST-000001",
                          "MANIFEST-000001\n\n", "000003.log\n", "CURRENT\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(tu_write_file(current, bad[i], strlen(bad[i])), 0);
        strata_db *db;
        int rc = try_open(dbpath, 1, 1, &db);
        cr_assert_eq(rc, STRATA_CORRUPTION, "CURRENT \"%s\": %s: %s", bad[i], strata_strerror(rc),
                     strata_last_error());
        cr_assert_null(db);
        expect_error_mentions(current);
    }
    /* Binary garbage with a NUL inside. */
    const char nul[] = { 'M', 'A', 'N', 0, 'X', '\n' };
    cr_assert_eq(tu_write_file(current, nul, sizeof nul), 0);
    strata_db *db;
    cr_assert_eq(try_open(dbpath, 1, 1, &db), STRATA_CORRUPTION);
    expect_error_mentions(current);
    /* Restored, the database opens with its data. */
    cr_assert_eq(tu_write_file(current, good, n), 0);
    db = open_db();
    void *v;
    size_t vl;
    cr_assert_eq(strata_get(db, NULL, "k", 1, &v, &vl), STRATA_OK);
    strata_free(v);
    cr_assert_eq(strata_close(db), STRATA_OK);
    free(good);
    free(current);
}

Test(reopen, current_naming_a_missing_manifest_is_corruption)
{
    make_db_with_data();
    char *current = tu_join(dbpath, "CURRENT");
    const char text[] = "MANIFEST-999999\n";
    cr_assert_eq(tu_write_file(current, text, strlen(text)), 0);
    strata_db *db;
    int rc = try_open(dbpath, 1, 1, &db);
    cr_assert_eq(rc, STRATA_CORRUPTION, "%s: %s", strata_strerror(rc), strata_last_error());
    cr_assert_null(db);
    expect_error_mentions("MANIFEST-999999");
    expect_error_mentions(dbpath);
    free(current);
}

Test(reopen, damaged_manifest_is_corruption_naming_it)
{
    make_db_with_data();
    char *current = tu_join(dbpath, "CURRENT");
    size_t n;
    char *cur = tu_read_file(current, &n);
    cur[n - 1] = '\0';
    char *manifest = tu_join(dbpath, cur);
    long long size = tu_file_size(manifest);
    cr_assert_gt(size, 8);
    /* Every byte of the (one-record) MANIFEST, flipped in turn. */
    for (long long off = 0; off < size; off++) {
        cr_assert_eq(tu_xor_byte(manifest, off, 0x40), 0);
        strata_db *db;
        int rc = try_open(dbpath, 1, 1, &db);
        cr_assert_eq(rc, STRATA_CORRUPTION, "MANIFEST byte %lld flipped: %s: %s", off,
                     strata_strerror(rc), strata_last_error());
        expect_error_mentions(manifest);
        cr_assert_eq(tu_xor_byte(manifest, off, 0x40), 0);
    }
    /* Empty MANIFEST. */
    size_t mlen;
    char *saved = tu_read_file(manifest, &mlen);
    cr_assert_eq(tu_truncate(manifest, 0), 0);
    strata_db *db;
    cr_assert_eq(try_open(dbpath, 1, 1, &db), STRATA_CORRUPTION);
    expect_error_mentions(manifest);
    cr_assert_eq(tu_write_file(manifest, saved, mlen), 0);
    db = open_db();
    cr_assert_eq(strata_close(db), STRATA_OK);
    free(saved);
    free(manifest);
    free(cur);
    free(current);
}

Test(reopen, manifest_of_another_comparator_is_refused)
{
    make_db_with_data();
    /* Write MANIFEST-000100 by hand, recorded with another key order. */
    char *mpath = tu_join(dbpath, "MANIFEST-000100");
    struct env *env = env_new();
    struct env_file *f;
    cr_assert_eq(env_open(env, mpath, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    struct wal_writer *w = wal_writer_new(f, 0);
    struct version_edit e = { .has_comparator = 1, .has_log_number = 1, .log_number = 0,
                              .has_next_file_number = 1, .next_file_number = 200,
                              .has_last_sequence = 1, .last_sequence = 0 };
    snprintf(e.comparator, sizeof e.comparator, "other.reverse");
    struct buf rec = { 0 };
    cr_assert_eq(version_edit_encode(&e, &rec), STRATA_OK);
    cr_assert_eq(wal_writer_add_record(w, buf_slice(&rec)), STRATA_OK);
    cr_assert_eq(wal_writer_close(w), STRATA_OK);
    env_free(env);
    buf_free(&rec);
    char *current = tu_join(dbpath, "CURRENT");
    cr_assert_eq(tu_write_file(current, "MANIFEST-000100\n", 16), 0);
    strata_db *db;
    int rc = try_open(dbpath, 1, 1, &db);
    cr_assert_eq(rc, STRATA_INVALID_ARGUMENT, "%s: %s", strata_strerror(rc), strata_last_error());
    expect_error_mentions("other.reverse");
    /* The same hand-written MANIFEST with strata's comparator opens. */
    snprintf(e.comparator, sizeof e.comparator, "%s", COMPARATOR_NAME);
    env = env_new();
    cr_assert_eq(env_open(env, mpath, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    w = wal_writer_new(f, 0);
    rec = (struct buf){ 0 };
    cr_assert_eq(version_edit_encode(&e, &rec), STRATA_OK);
    cr_assert_eq(wal_writer_add_record(w, buf_slice(&rec)), STRATA_OK);
    cr_assert_eq(wal_writer_close(w), STRATA_OK);
    env_free(env);
    buf_free(&rec);
    db = open_db();
    void *v;
    size_t vl;
    cr_assert_eq(strata_get(db, NULL, "k", 1, &v, &vl), STRATA_OK, "the logs are replayed");
    strata_free(v);
    cr_assert_eq(strata_close(db), STRATA_OK);
    free(current);
    free(mpath);
}

Test(reopen, deleted_current_without_create_is_an_error)
{
    make_db_with_data();
    char *current = tu_join(dbpath, "CURRENT");
    cr_assert_eq(remove(current), 0);
    strata_db *db;
    int rc = try_open(dbpath, 1, 0, &db);
    cr_assert_neq(rc, STRATA_OK);
    cr_assert_null(db);
    expect_error_mentions(dbpath);
    cr_assert(!tu_exists(current), "a refused open created CURRENT");
    free(current);
}

/* A WAL record whose checksum is right but whose batch is damaged (its count
 * says more updates than it holds): with paranoid_checks the open fails
 * naming the log; without, the records before it are recovered, none of the
 * damaged batch, and the rest of that log is skipped. */
Test(reopen, damaged_batch_inside_a_valid_wal_record)
{
    make_db_with_data();
    char *log = tu_join(dbpath, "000900.log");
    struct env *env = env_new();
    struct env_file *f;
    cr_assert_eq(env_open(env, log, ENV_OPEN_TRUNCATE, &f), STRATA_OK);
    struct wal_writer *w = wal_writer_new(f, 0);
    const char *keys[] = { "a", "b", "c" };
    for (int i = 0; i < 3; i++) {
        strata_batch *b = strata_batch_new();
        strata_batch_put(b, keys[i], 1, "x", 1);
        strata_batch_put(b, keys[i], 1, "y", 1);
        struct buf rec = { 0 };
        cr_assert_eq(buf_append(&rec, batch_contents(b).data, batch_contents(b).len), STRATA_OK);
        encode_fixed64(rec.data, 1000 + 10 * (uint64_t)i);
        if (i == 1)
            encode_fixed32(rec.data + 8, 3); /* two updates, count 3 */
        cr_assert_eq(wal_writer_add_record(w, buf_slice(&rec)), STRATA_OK);
        buf_free(&rec);
        strata_batch_free(b);
    }
    cr_assert_eq(wal_writer_close(w), STRATA_OK);
    env_free(env);
    strata_db *db;
    int rc = try_open(dbpath, 1, 1, &db);
    cr_assert_eq(rc, STRATA_CORRUPTION, "%s: %s", strata_strerror(rc), strata_last_error());
    expect_error_mentions(log);
    db = open_path(dbpath, 0);
    void *v;
    size_t vl;
    cr_assert_eq(strata_get(db, NULL, "k", 1, &v, &vl), STRATA_OK);
    strata_free(v);
    cr_assert_eq(strata_get(db, NULL, "a", 1, &v, &vl), STRATA_OK);
    cr_assert(vl == 1 && *(char *)v == 'y', "the later update of a batch wins");
    strata_free(v);
    cr_assert_eq(strata_get(db, NULL, "b", 1, &v, &vl), STRATA_NOT_FOUND, "part of a damaged batch applied");
    cr_assert_eq(strata_get(db, NULL, "c", 1, &v, &vl), STRATA_NOT_FOUND);
    /* New writes after the recovered sequence numbers win. */
    cr_assert_eq(strata_put(db, NULL, "a", 1, "z", 1), STRATA_OK);
    cr_assert_eq(strata_get(db, NULL, "a", 1, &v, &vl), STRATA_OK);
    cr_assert(vl == 1 && *(char *)v == 'z');
    strata_free(v);
    cr_assert_eq(strata_close(db), STRATA_OK);
    free(log);
}

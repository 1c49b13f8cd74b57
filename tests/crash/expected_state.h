/*
 * expected_state.h: what the crash-test driver knows must (or may) be in the
 * database, kept in a file that the driver and its child map with
 * MAP_SHARED, so that it survives the child's SIGKILL.
 *
 * Per key, the version of its last acknowledged write (0: absent).  Per
 * writer thread of the child, a "pending" record of the one operation it has
 * in flight: written completely and then marked active before the call into
 * strata, and cleared only after the call returned STRATA_OK and the key
 * versions were updated.  After a kill the parent therefore knows, for
 * every key, either its exact version or the two versions (before and
 * after one in-flight operation) it may have; and that all the keys of one
 * in-flight operation must agree, since a batch is atomic.
 *
 * Versions come from one counter in the file and are never reused, so a
 * lost write, a resurrected one or one applied twice cannot look right.
 * Values are self-describing (key_value() below): a wrong value names the
 * key and version it belongs to.
 */
#ifndef STRATA_CRASH_EXPECTED_STATE_H
#define STRATA_CRASH_EXPECTED_STATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum {
    EXP_MAX_THREADS = 8,
    EXP_MAX_BATCH = 12,   /* distinct keys of one operation */
    EXP_KEY_LEN = 10,     /* "key%07u" */
    EXP_MAX_VALUE = 4200, /* longest value key_value() makes */
};

enum exp_kind { EXP_PUT = 1, EXP_DELETE, EXP_BATCH };

/* One in-flight operation.  Only its owner thread writes it while the child
 * lives; the parent reads it after the child is dead. */
struct exp_pending {
    atomic_uint active; /* set last, cleared last */
    uint32_t kind;      /* enum exp_kind, for messages */
    uint32_t n;         /* distinct keys touched */
    uint32_t key[EXP_MAX_BATCH];
    uint64_t old_ver[EXP_MAX_BATCH]; /* before the operation */
    uint64_t new_ver[EXP_MAX_BATCH]; /* after it (0: deleted) */
};

struct exp_thread {
    struct exp_pending pend;
    atomic_uint_fast64_t acked; /* operations acknowledged in this cycle */
};

struct exp_header {
    uint64_t magic;
    uint64_t nkeys;
    atomic_uint_fast64_t next_version;
    /* Published by the child: it opened the database; flushes and
     * compactions it has seen so far in this cycle (strata.stats). */
    atomic_uint ready;
    atomic_uint_fast64_t flushes, compactions;
    struct exp_thread thread[EXP_MAX_THREADS];
};

struct expected_state {
    struct exp_header *h;
    uint64_t *ver; /* h->nkeys entries, right after the header */
    size_t map_len;
};

/* Create (or truncate) path, size it for nkeys keys, map it shared, and
 * start with every key absent.  0, or -1 with errno set. */
int exp_create(struct expected_state *es, const char *path, uint64_t nkeys);
void exp_close(struct expected_state *es);

/* The key of index k ("key0000042"), EXP_KEY_LEN bytes, into buf.  Keys
 * sort in index order. */
void key_name(char *buf, uint32_t k);
/* Parse a key back: its index, or -1 when it is no key of ours. */
int64_t key_index(const void *key, size_t klen, uint64_t nkeys);

/* The value of key k at version ver (> 0) into buf (EXP_MAX_VALUE bytes);
 * returns its length.  "k<index> v<version> " then bytes derived from both;
 * 16 to ~300 bytes, one in 64 around 4 KiB. */
size_t key_value(char *buf, uint32_t k, uint64_t ver);
/* The version a value claims to be (0 when it claims nothing), and whether
 * its bytes are exactly key_value(k, that version): 1 or 0. */
int value_check(const void *val, size_t vlen, uint32_t k, uint64_t *claimed);

#endif

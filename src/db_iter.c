/*
 * db_iter.c: strata_iter, the iterator applications use.  It walks a merged
 * internal iterator (all entries of all sources, in internal-key order) and
 * shows each user key once: its newest entry visible at the iterator's
 * sequence number, unless that entry is a deletion.
 *
 * Invariants, by direction:
 * - FORWARD: the internal iterator is on the entry that is shown; key() and
 *   value() read it in place.
 * - REVERSE: the internal iterator is before every entry of the shown user
 *   key (on the last entry of a smaller key, or invalid); the shown key and
 *   value are copies in saved_key and saved_value, since reaching them meant
 *   walking past them.
 * Bounds: keys below lower or at and above upper are never shown; a walk
 * stops as soon as it crosses a bound, so a bounded scan never reads far
 * beyond it.
 */
#include <stdlib.h>

#include "src/db_impl.h"
#include "src/level_iter.h"
#include "src/merging_iter.h"
#include "src/status.h"

enum direction { FORWARD, REVERSE };

struct strata_iter {
    struct iter *internal;
    struct db_read_view view; /* holds the memtables and the version read */
    uint64_t sequence;
    enum direction direction;
    int valid;
    int status;
    int has_lower, has_upper;
    struct buf lower, upper;
    struct buf saved_key;   /* REVERSE: the shown key; FORWARD: the key being skipped */
    struct buf saved_value; /* REVERSE: the shown value */
    struct buf target;      /* scratch for seek targets */
};

static void fail(strata_iter *it, int rc)
{
    it->status = rc;
    it->valid = 0;
}

static int save(strata_iter *it, struct buf *b, struct slice s)
{
    buf_clear(b);
    int rc = buf_append(b, s.data, s.len);
    if (rc != STRATA_OK)
        fail(it, rc);
    return rc;
}

/* Parse the internal iterator's key; damage stops the iterator. */
static int parse_current(strata_iter *it, struct parsed_internal_key *p)
{
    if (parse_internal_key(iter_key(it->internal), p))
        return 1;
    fail(it, status_set(STRATA_CORRUPTION, "iterator: malformed internal key"));
    return 0;
}

static int above_upper(const strata_iter *it, struct slice ukey)
{
    return it->has_upper && slice_compare(ukey, buf_slice(&it->upper)) >= 0;
}

static int below_lower(const strata_iter *it, struct slice ukey)
{
    return it->has_lower && slice_compare(ukey, buf_slice(&it->lower)) < 0;
}

/* Finish a walk: an exhausted internal iterator may hide an error. */
static void end_walk(strata_iter *it)
{
    it->valid = 0;
    if (it->status == STRATA_OK)
        it->status = iter_status(it->internal);
}

/* Move forward to the first visible, live entry; with skipping set, entries
 * of user keys <= saved_key are hidden (already shown or deleted). */
static void find_next_user_entry(strata_iter *it, int skipping)
{
    it->direction = FORWARD;
    for (; iter_valid(it->internal); iter_next(it->internal)) {
        struct parsed_internal_key p;
        if (!parse_current(it, &p))
            return;
        if (above_upper(it, p.user_key))
            break;
        if (p.sequence > it->sequence)
            continue;
        if (p.type == TYPE_DELETION) {
            if (save(it, &it->saved_key, p.user_key) != STRATA_OK)
                return;
            skipping = 1;
        } else if (!skipping || slice_compare(p.user_key, buf_slice(&it->saved_key)) > 0) {
            it->valid = 1;
            return;
        }
    }
    end_walk(it);
}

/* Move backward to the previous visible, live user key, leaving the
 * internal iterator before all its entries. */
static void find_prev_user_entry(strata_iter *it)
{
    enum value_type candidate = TYPE_DELETION; /* none yet */
    it->direction = REVERSE;
    for (; iter_valid(it->internal); iter_prev(it->internal)) {
        struct parsed_internal_key p;
        if (!parse_current(it, &p))
            return;
        if (below_lower(it, p.user_key))
            break;
        if (p.sequence > it->sequence)
            continue;
        if (candidate == TYPE_VALUE && slice_compare(p.user_key, buf_slice(&it->saved_key)) < 0)
            break; /* every entry of the candidate's key has been seen */
        candidate = p.type;
        if (p.type == TYPE_VALUE &&
            (save(it, &it->saved_key, p.user_key) != STRATA_OK ||
             save(it, &it->saved_value, iter_value(it->internal)) != STRATA_OK))
            return;
    }
    if (candidate == TYPE_VALUE && it->status == STRATA_OK)
        it->valid = 1;
    else
        end_walk(it);
}

/* Seek target: (user key, sequence, TYPE_FOR_SEEK) sorts before every entry
 * of that user key visible at sequence. */
static int make_target(strata_iter *it, struct slice ukey, uint64_t sequence, enum value_type type)
{
    buf_clear(&it->target);
    int rc = buf_put_internal_key(&it->target, ukey, sequence, type);
    if (rc != STRATA_OK)
        fail(it, rc);
    return rc;
}

static void reset(strata_iter *it)
{
    it->valid = 0;
    it->status = STRATA_OK;
}

void strata_iter_seek(strata_iter *it, const void *key, size_t klen)
{
    if (!it)
        return;
    reset(it);
    if (db_check_bytes("strata_iter_seek", "key", key, klen) != STRATA_OK) {
        fail(it, STRATA_INVALID_ARGUMENT);
        return;
    }
    struct slice ukey = slice_make(key, klen);
    if (below_lower(it, ukey))
        ukey = buf_slice(&it->lower);
    if (make_target(it, ukey, it->sequence, TYPE_FOR_SEEK) != STRATA_OK)
        return;
    iter_seek(it->internal, buf_slice(&it->target));
    find_next_user_entry(it, 0);
}

void strata_iter_seek_first(strata_iter *it)
{
    if (!it)
        return;
    if (it->has_lower) {
        strata_iter_seek(it, it->lower.data, it->lower.len);
        return;
    }
    reset(it);
    iter_seek_to_first(it->internal);
    find_next_user_entry(it, 0);
}

void strata_iter_seek_last(strata_iter *it)
{
    if (!it)
        return;
    reset(it);
    if (it->has_upper) {
        /* The last entry before the first entry of the upper bound. */
        if (make_target(it, buf_slice(&it->upper), MAX_SEQUENCE, TYPE_FOR_SEEK) != STRATA_OK)
            return;
        iter_seek_for_prev(it->internal, buf_slice(&it->target));
    } else {
        iter_seek_to_last(it->internal);
    }
    find_prev_user_entry(it);
}

void strata_iter_seek_for_prev(strata_iter *it, const void *key, size_t klen)
{
    if (!it)
        return;
    reset(it);
    if (db_check_bytes("strata_iter_seek_for_prev", "key", key, klen) != STRATA_OK) {
        fail(it, STRATA_INVALID_ARGUMENT);
        return;
    }
    struct slice ukey = slice_make(key, klen);
    if (above_upper(it, ukey)) {
        strata_iter_seek_last(it);
        return;
    }
    /* (key, 0, deletion) is the last possible entry of key. */
    if (make_target(it, ukey, 0, TYPE_DELETION) != STRATA_OK)
        return;
    iter_seek_for_prev(it->internal, buf_slice(&it->target));
    find_prev_user_entry(it);
}

void strata_iter_next(strata_iter *it)
{
    if (!it || !it->valid)
        return;
    if (it->direction == REVERSE) {
        /* The internal iterator is before the shown key's entries: step
         * onto them, then past them. */
        if (iter_valid(it->internal))
            iter_next(it->internal);
        else
            iter_seek_to_first(it->internal);
    } else {
        if (save(it, &it->saved_key, internal_key_user_key(iter_key(it->internal))) != STRATA_OK)
            return;
        iter_next(it->internal);
    }
    find_next_user_entry(it, 1);
}

void strata_iter_prev(strata_iter *it)
{
    if (!it || !it->valid)
        return;
    if (it->direction == FORWARD) {
        /* Step back before every entry of the shown key, newer invisible
         * ones included. */
        struct slice shown = internal_key_user_key(iter_key(it->internal));
        if (save(it, &it->saved_key, shown) != STRATA_OK)
            return;
        for (iter_prev(it->internal); iter_valid(it->internal); iter_prev(it->internal)) {
            struct slice ukey = internal_key_user_key(iter_key(it->internal));
            if (slice_compare(ukey, buf_slice(&it->saved_key)) < 0)
                break;
        }
    }
    find_prev_user_entry(it);
}

int strata_iter_valid(const strata_iter *it)
{
    return it && it->valid;
}

const void *strata_iter_key(const strata_iter *it, size_t *klen)
{
    struct slice k = { NULL, 0 };
    if (it && it->valid)
        k = it->direction == FORWARD ? internal_key_user_key(iter_key(it->internal))
                                     : buf_slice(&it->saved_key);
    if (klen)
        *klen = k.len;
    /* A valid empty key still gets a non-NULL pointer (saved_key may never
     * have been allocated for it): NULL means not valid. */
    return k.data ? k.data : (it && it->valid ? "" : NULL);
}

const void *strata_iter_value(const strata_iter *it, size_t *vlen)
{
    struct slice v = { NULL, 0 };
    if (it && it->valid)
        v = it->direction == FORWARD ? iter_value(it->internal) : buf_slice(&it->saved_value);
    if (vlen)
        *vlen = v.len;
    /* An empty value still gets a non-NULL pointer, as a valid entry should. */
    return v.data ? v.data : (it && it->valid ? "" : NULL);
}

int strata_iter_status(const strata_iter *it)
{
    if (!it)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_iter_status: iterator is NULL");
    return it->status;
}

void strata_iter_free(strata_iter *it)
{
    if (!it)
        return;
    iter_destroy(it->internal);
    if (it->view.mem)
        db_release_read_view(&it->view);
    buf_free(&it->lower);
    buf_free(&it->upper);
    buf_free(&it->saved_key);
    buf_free(&it->saved_value);
    buf_free(&it->target);
    free(it);
}

/* Level 0's tables may overlap: one iterator each.  Each deeper level is
 * one sorted run: one level iterator each. */
static int count_children(const struct version *v)
{
    int n = (int)v->count[0];
    for (int level = 1; level < NUM_LEVELS; level++)
        n += v->count[level] > 0;
    return n;
}

/* The iterators over the version's tables, appended to children[*n]. */
static int add_table_iters(strata_db *db, const struct version *v,
                           const struct table_read_options *tro, struct iter **children, int *n)
{
    for (size_t i = 0; i < v->count[0]; i++) {
        const struct table_meta *t = v->tables[0][i];
        int rc = table_cache_iter(db->table_cache, t->number, t->size, tro, &children[*n]);
        if (rc != STRATA_OK)
            return rc;
        (*n)++;
    }
    for (int level = 1; level < NUM_LEVELS; level++) {
        if (v->count[level] == 0)
            continue;
        children[*n] = level_iter_new(db->table_cache, v->tables[level], v->count[level], tro);
        if (!children[*n])
            return STRATA_NO_MEMORY;
        (*n)++;
    }
    return STRATA_OK;
}

/* The internal iterator over every source of the read view, or NULL with
 * the message set. */
static struct iter *build_internal(strata_db *db, const struct db_read_view *v,
                                   const strata_read_options *ro)
{
    struct table_read_options tro = { ro ? ro->verify_checksums : 0, ro ? ro->fill_cache : 1 };
    struct iter **children = malloc((size_t)(2 + count_children(v->version)) * sizeof *children);
    int n = 0;
    if (!children) {
        status_set(STRATA_NO_MEMORY, "strata_iter_new: out of memory");
        return NULL;
    }
    int rc = (children[n++] = memtable_iter_new(v->mem)) ? STRATA_OK : STRATA_NO_MEMORY;
    if (rc == STRATA_OK && v->imm)
        rc = (children[n++] = memtable_iter_new(v->imm)) ? STRATA_OK : STRATA_NO_MEMORY;
    if (rc == STRATA_OK)
        rc = add_table_iters(db, v->version, &tro, children, &n);
    struct iter *merged = NULL;
    if (rc == STRATA_OK)
        merged = merging_iter_new(children, n); /* takes the children, even on failure */
    else
        for (int i = 0; i < n; i++)
            iter_destroy(children[i]);
    free(children);
    return merged;
}

static int copy_bounds(strata_iter *it, const strata_read_options *ro)
{
    if (ro->bound_error == STRATA_INVALID_ARGUMENT)
        return status_set(ro->bound_error, "strata_iter_new: an iterator bound is over 2^32-1 bytes");
    if (ro->bound_error != STRATA_OK)
        return status_set(ro->bound_error, "strata_iter_new: out of memory copying an iterator bound");
    it->has_lower = ro->has_lower;
    it->has_upper = ro->has_upper;
    int rc = STRATA_OK;
    if (ro->has_lower)
        rc = buf_append(&it->lower, ro->lower.data, ro->lower.len);
    if (rc == STRATA_OK && ro->has_upper)
        rc = buf_append(&it->upper, ro->upper.data, ro->upper.len);
    return rc;
}

strata_iter *strata_iter_new(strata_db *db, const strata_read_options *ro)
{
    if (!db) {
        status_set(STRATA_INVALID_ARGUMENT, "strata_iter_new: db is NULL");
        return NULL;
    }
    strata_iter *it = calloc(1, sizeof *it);
    if (!it) {
        status_set(STRATA_NO_MEMORY, "strata_iter_new: out of memory");
        return NULL;
    }
    if (ro && copy_bounds(it, ro) != STRATA_OK) {
        strata_iter_free(it);
        return NULL;
    }
    db_get_read_view(db, ro ? ro->snapshot : NULL, &it->view);
    it->sequence = it->view.sequence;
    it->internal = build_internal(db, &it->view, ro);
    if (!it->internal) {
        strata_iter_free(it);
        return NULL;
    }
    return it;
}

/*
 * merging_iter.c: the heap-based merging iterator (see merging_iter.h).
 *
 * Invariants: heap[0..heap_len) holds the indexes of the valid children,
 * ordered as a min-heap by key when direction is FORWARD and a max-heap when
 * it is REVERSE; the current entry is heap[0]'s.  Outside the heap, children
 * are exhausted in the current direction.  Once a child has failed, the
 * heap is empty: the iterator is invalid and its status is the error.
 */
#include "src/merging_iter.h"

#include <stdlib.h>

#include "src/dbformat.h"
#include "src/status.h"

enum direction { FORWARD = 1, REVERSE = -1 };

struct merging_iter {
    struct iter base;
    struct iter **children;
    int n;
    int *heap;
    int heap_len;
    enum direction direction;
};

/* Whether child a belongs above child b in the heap. */
static int heap_before(const struct merging_iter *m, int a, int b)
{
    int c = internal_key_compare(iter_key(m->children[a]), iter_key(m->children[b]));
    return m->direction == FORWARD ? c < 0 : c > 0;
}

static void sift_down(struct merging_iter *m, int i)
{
    for (;;) {
        int best = i, l = 2 * i + 1, r = l + 1;
        if (l < m->heap_len && heap_before(m, m->heap[l], m->heap[best]))
            best = l;
        if (r < m->heap_len && heap_before(m, m->heap[r], m->heap[best]))
            best = r;
        if (best == i)
            return;
        int t = m->heap[i];
        m->heap[i] = m->heap[best];
        m->heap[best] = t;
        i = best;
    }
}

/* Rebuild the heap from every valid child, ordered for direction d.  A
 * child that failed empties it: merging the others alone would skip its
 * keys, or show older versions of them from deeper levels, as if they were
 * the data (mi_status reports the error). */
static void rebuild(struct merging_iter *m, enum direction d)
{
    m->direction = d;
    m->heap_len = 0;
    for (int i = 0; i < m->n; i++) {
        if (iter_status(m->children[i]) != STRATA_OK) {
            m->heap_len = 0;
            return;
        }
        if (iter_valid(m->children[i]))
            m->heap[m->heap_len++] = i;
    }
    for (int i = m->heap_len / 2 - 1; i >= 0; i--)
        sift_down(m, i);
}

/* After the top child moved: restore the heap or drop the child; a child
 * that failed stops the whole iterator (see rebuild). */
static void fix_top(struct merging_iter *m)
{
    if (!iter_valid(m->children[m->heap[0]])) {
        if (iter_status(m->children[m->heap[0]]) != STRATA_OK) {
            m->heap_len = 0;
            return;
        }
        m->heap[0] = m->heap[--m->heap_len];
    }
    if (m->heap_len > 0)
        sift_down(m, 0);
}

static int mi_valid(const struct iter *it)
{
    return ((const struct merging_iter *)it)->heap_len > 0;
}

static void mi_seek_to_first(struct iter *it)
{
    struct merging_iter *m = (struct merging_iter *)it;
    for (int i = 0; i < m->n; i++)
        iter_seek_to_first(m->children[i]);
    rebuild(m, FORWARD);
}

static void mi_seek_to_last(struct iter *it)
{
    struct merging_iter *m = (struct merging_iter *)it;
    for (int i = 0; i < m->n; i++)
        iter_seek_to_last(m->children[i]);
    rebuild(m, REVERSE);
}

static void mi_seek(struct iter *it, struct slice target)
{
    struct merging_iter *m = (struct merging_iter *)it;
    for (int i = 0; i < m->n; i++)
        iter_seek(m->children[i], target);
    rebuild(m, FORWARD);
}

static void mi_seek_for_prev(struct iter *it, struct slice target)
{
    struct merging_iter *m = (struct merging_iter *)it;
    for (int i = 0; i < m->n; i++)
        iter_seek_for_prev(m->children[i], target);
    rebuild(m, REVERSE);
}

/* Turn around at the current key: every other child moves to its nearest
 * entry past the current key in direction d (keys are unique, so a seek
 * never lands on the current key itself); the current child steps once. */
static void change_direction(struct merging_iter *m, enum direction d)
{
    int cur = m->heap[0];
    struct slice key = iter_key(m->children[cur]);
    for (int i = 0; i < m->n; i++) {
        if (i == cur)
            continue;
        if (d == FORWARD)
            iter_seek(m->children[i], key);
        else
            iter_seek_for_prev(m->children[i], key);
    }
    if (d == FORWARD)
        iter_next(m->children[cur]);
    else
        iter_prev(m->children[cur]);
    rebuild(m, d);
}

static void mi_next(struct iter *it)
{
    struct merging_iter *m = (struct merging_iter *)it;
    if (m->direction != FORWARD) {
        change_direction(m, FORWARD);
        return;
    }
    iter_next(m->children[m->heap[0]]);
    fix_top(m);
}

static void mi_prev(struct iter *it)
{
    struct merging_iter *m = (struct merging_iter *)it;
    if (m->direction != REVERSE) {
        change_direction(m, REVERSE);
        return;
    }
    iter_prev(m->children[m->heap[0]]);
    fix_top(m);
}

static struct slice mi_key(const struct iter *it)
{
    const struct merging_iter *m = (const struct merging_iter *)it;
    return iter_key(m->children[m->heap[0]]);
}

static struct slice mi_value(const struct iter *it)
{
    const struct merging_iter *m = (const struct merging_iter *)it;
    return iter_value(m->children[m->heap[0]]);
}

static int mi_status(const struct iter *it)
{
    const struct merging_iter *m = (const struct merging_iter *)it;
    for (int i = 0; i < m->n; i++) {
        int rc = iter_status(m->children[i]);
        if (rc != STRATA_OK)
            return rc;
    }
    return STRATA_OK;
}

static void destroy_children(struct iter **children, int n)
{
    for (int i = 0; i < n; i++)
        iter_destroy(children[i]);
}

static void mi_destroy(struct iter *it)
{
    struct merging_iter *m = (struct merging_iter *)it;
    destroy_children(m->children, m->n);
    free(m->children);
    free(m->heap);
    free(m);
}

static const struct iter_ops merging_iter_ops = {
    mi_valid, mi_seek_to_first, mi_seek_to_last, mi_seek, mi_seek_for_prev,
    mi_next, mi_prev, mi_key, mi_value, mi_status, mi_destroy,
};

struct iter *merging_iter_new(struct iter **children, int n)
{
    if (n == 1)
        return children[0];
    struct merging_iter *m = calloc(1, sizeof *m);
    if (m) {
        m->children = malloc((size_t)(n ? n : 1) * sizeof *m->children);
        m->heap = malloc((size_t)(n ? n : 1) * sizeof *m->heap);
    }
    if (!m || !m->children || !m->heap) {
        if (m) {
            free(m->children);
            free(m->heap);
            free(m);
        }
        destroy_children(children, n);
        status_set(STRATA_NO_MEMORY, "out of memory merging %d iterators", n);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        m->children[i] = children[i];
    m->base.ops = &merging_iter_ops;
    m->n = n;
    m->direction = FORWARD;
    return &m->base;
}

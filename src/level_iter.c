/*
 * level_iter.c: an iterator over a sorted run of tables (see level_iter.h).
 *
 * Invariants:
 * - cur is the iterator of tables[index] when index < n, else NULL; the
 *   iterator is valid only when cur is valid.
 * - An error (a table that fails to open, or a table iterator's error)
 *   stops the iterator: it becomes invalid and status() returns the error
 *   until the next seek.
 */
#include "src/level_iter.h"

#include <stdlib.h>

#include "src/dbformat.h"
#include "src/status.h"

struct level_iter {
    struct iter base;
    struct table_cache *tc;
    struct table_meta *const *tables;
    size_t n;
    struct table_read_options ro;
    size_t index;
    struct iter *cur;
    int status;
};

/* Make tables[index] current (index == n: none). */
static void open_table(struct level_iter *li, size_t index)
{
    if (li->cur && li->index == index)
        return;
    iter_destroy(li->cur);
    li->cur = NULL;
    li->index = index;
    if (index >= li->n)
        return;
    const struct table_meta *t = li->tables[index];
    int rc = table_cache_iter(li->tc, t->number, t->size, &li->ro, &li->cur);
    if (rc != STRATA_OK)
        li->status = rc;
}

/* After the current table ran out going forward, move to the next tables. */
static void skip_empty_forward(struct level_iter *li)
{
    while (li->cur && !iter_valid(li->cur) && iter_status(li->cur) == STRATA_OK &&
           li->index + 1 < li->n) {
        open_table(li, li->index + 1);
        if (li->cur)
            iter_seek_to_first(li->cur);
    }
    if (li->cur && iter_status(li->cur) != STRATA_OK)
        li->status = iter_status(li->cur);
}

static void skip_empty_backward(struct level_iter *li)
{
    while (li->cur && !iter_valid(li->cur) && iter_status(li->cur) == STRATA_OK && li->index > 0) {
        open_table(li, li->index - 1);
        if (li->cur)
            iter_seek_to_last(li->cur);
    }
    if (li->cur && iter_status(li->cur) != STRATA_OK)
        li->status = iter_status(li->cur);
}

static int li_valid(const struct iter *it)
{
    const struct level_iter *li = (const struct level_iter *)it;
    return li->status == STRATA_OK && li->cur && iter_valid(li->cur);
}

static void li_seek_to_first(struct iter *it)
{
    struct level_iter *li = (struct level_iter *)it;
    li->status = STRATA_OK;
    open_table(li, 0);
    if (li->cur)
        iter_seek_to_first(li->cur);
    skip_empty_forward(li);
}

static void li_seek_to_last(struct iter *it)
{
    struct level_iter *li = (struct level_iter *)it;
    li->status = STRATA_OK;
    if (li->n == 0)
        return;
    open_table(li, li->n - 1);
    if (li->cur)
        iter_seek_to_last(li->cur);
    skip_empty_backward(li);
}

static void li_seek(struct iter *it, struct slice target)
{
    struct level_iter *li = (struct level_iter *)it;
    li->status = STRATA_OK;
    open_table(li, tables_find(li->tables, li->n, target));
    if (li->cur)
        iter_seek(li->cur, target);
    skip_empty_forward(li);
}

static void li_seek_for_prev(struct iter *it, struct slice target)
{
    struct level_iter *li = (struct level_iter *)it;
    li->status = STRATA_OK;
    /* The last table whose smallest key is <= target. */
    size_t i = tables_find(li->tables, li->n, target);
    if (i == li->n || internal_key_compare(buf_slice(&li->tables[i]->smallest), target) > 0) {
        if (i == 0) {
            open_table(li, li->n); /* nothing at or before target */
            return;
        }
        i--;
    }
    open_table(li, i);
    if (li->cur)
        iter_seek_for_prev(li->cur, target);
    skip_empty_backward(li);
}

static void li_next(struct iter *it)
{
    struct level_iter *li = (struct level_iter *)it;
    iter_next(li->cur);
    skip_empty_forward(li);
}

static void li_prev(struct iter *it)
{
    struct level_iter *li = (struct level_iter *)it;
    iter_prev(li->cur);
    skip_empty_backward(li);
}

static struct slice li_key(const struct iter *it)
{
    return iter_key(((const struct level_iter *)it)->cur);
}

static struct slice li_value(const struct iter *it)
{
    return iter_value(((const struct level_iter *)it)->cur);
}

static int li_status(const struct iter *it)
{
    return ((const struct level_iter *)it)->status;
}

static void li_destroy(struct iter *it)
{
    struct level_iter *li = (struct level_iter *)it;
    iter_destroy(li->cur);
    free(li);
}

static const struct iter_ops level_iter_ops = {
    li_valid, li_seek_to_first, li_seek_to_last, li_seek, li_seek_for_prev,
    li_next, li_prev, li_key, li_value, li_status, li_destroy,
};

struct iter *level_iter_new(struct table_cache *tc, struct table_meta *const *tables, size_t n,
                            const struct table_read_options *ro)
{
    struct level_iter *li = calloc(1, sizeof *li);
    if (!li) {
        status_set(STRATA_NO_MEMORY, "out of memory creating a level iterator");
        return NULL;
    }
    li->base.ops = &level_iter_ops;
    li->tc = tc;
    li->tables = tables;
    li->n = n;
    li->ro = *ro;
    li->index = n;
    return &li->base;
}

/*
 * version.c: building versions from edits (see version.h).
 *
 * Invariant: a table_meta's refs counts the versions listing it; a version
 * frees its table list when its own refs reach 0, and a table_meta is freed
 * with the last version listing it.
 */
#include "src/version.h"

#include <stdlib.h>
#include <string.h>

#include "src/dbformat.h"
#include "src/status.h"

struct version *version_new(void)
{
    struct version *v = calloc(1, sizeof *v);
    if (!v) {
        status_set(STRATA_NO_MEMORY, "out of memory creating a version");
        return NULL;
    }
    atomic_init(&v->refs, 1);
    return v;
}

void version_ref(struct version *v)
{
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

void table_meta_ref(struct table_meta *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void table_meta_unref(struct table_meta *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    buf_free(&t->smallest);
    buf_free(&t->largest);
    free(t);
}

void version_unref(struct version *v)
{
    if (!v || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int level = 0; level < NUM_LEVELS; level++) {
        for (size_t i = 0; i < v->count[level]; i++)
            table_meta_unref(v->tables[level][i]);
        free(v->tables[level]);
        buf_free(&v->compact_pointer[level]);
    }
    free(v);
}

static struct table_meta *table_meta_new(const struct edit_table *t)
{
    struct table_meta *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    atomic_init(&m->refs, 1);
    m->number = t->number;
    m->size = t->size;
    if (buf_append(&m->smallest, t->smallest.data, t->smallest.len) != STRATA_OK ||
        buf_append(&m->largest, t->largest.data, t->largest.len) != STRATA_OK) {
        buf_free(&m->smallest);
        free(m);
        return NULL;
    }
    return m;
}

static int deleted_here(const struct version_edit *e, int level, uint64_t number)
{
    for (size_t i = 0; i < e->num_deleted; i++)
        if (e->deleted[i].level == level && e->deleted[i].number == number)
            return 1;
    return 0;
}

static int held_at(const struct version *v, int level, uint64_t number)
{
    for (size_t i = 0; i < v->count[level]; i++)
        if (v->tables[level][i]->number == number)
            return 1;
    return 0;
}

/* Every deleted table must be held by base, every new table must not. */
static int check_edit(const struct version *base, const struct version_edit *e, const char *origin)
{
    for (size_t i = 0; i < e->num_deleted; i++)
        if (!held_at(base, e->deleted[i].level, e->deleted[i].number))
            return status_set(STRATA_CORRUPTION, "%s removes table %llu from level %d, which does not hold it",
                              origin, (unsigned long long)e->deleted[i].number, e->deleted[i].level);
    for (size_t i = 0; i < e->num_new_tables; i++) {
        const struct edit_table *t = &e->new_tables[i];
        if (held_at(base, t->level, t->number) && !deleted_here(e, t->level, t->number))
            return status_set(STRATA_CORRUPTION, "%s adds table %llu to level %d twice", origin,
                              (unsigned long long)t->number, t->level);
    }
    return STRATA_OK;
}

static int newest_first(const void *a, const void *b)
{
    uint64_t x = (*(struct table_meta *const *)a)->number, y = (*(struct table_meta *const *)b)->number;
    return (x < y) - (x > y);
}

static int by_smallest_key(const void *a, const void *b)
{
    const struct table_meta *x = *(struct table_meta *const *)a, *y = *(struct table_meta *const *)b;
    return internal_key_compare(buf_slice(&x->smallest), buf_slice(&y->smallest));
}

/* Fill one level of v from base's level and the edit. */
static int build_level(struct version *v, const struct version *base, const struct version_edit *e,
                       int level)
{
    size_t cap = base->count[level] + e->num_new_tables;
    if (cap == 0)
        return STRATA_OK;
    if (!(v->tables[level] = malloc(cap * sizeof *v->tables[level])))
        return status_set(STRATA_NO_MEMORY, "out of memory building a version");
    for (size_t i = 0; i < base->count[level]; i++) {
        struct table_meta *t = base->tables[level][i];
        if (deleted_here(e, level, t->number))
            continue;
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
        v->tables[level][v->count[level]++] = t;
    }
    for (size_t i = 0; i < e->num_new_tables; i++) {
        if (e->new_tables[i].level != level)
            continue;
        struct table_meta *t = table_meta_new(&e->new_tables[i]);
        if (!t)
            return status_set(STRATA_NO_MEMORY, "out of memory building a version");
        v->tables[level][v->count[level]++] = t;
    }
    qsort(v->tables[level], v->count[level], sizeof *v->tables[level],
          level == 0 ? newest_first : by_smallest_key);
    return STRATA_OK;
}

/* The edit's pointers replace base's; the others carry over. */
static int copy_pointers(struct version *v, const struct version *base,
                         const struct version_edit *e)
{
    for (int level = 0; level < NUM_LEVELS; level++) {
        const struct buf *from = &base->compact_pointer[level];
        for (size_t i = 0; i < e->num_pointers; i++)
            if (e->pointers[i].level == level)
                from = &e->pointers[i].key;
        if (buf_append(&v->compact_pointer[level], from->data, from->len) != STRATA_OK)
            return status_set(STRATA_NO_MEMORY, "out of memory building a version");
    }
    return STRATA_OK;
}

int version_apply(const struct version *base, const struct version_edit *edit,
                  const char *origin, struct version **out)
{
    *out = NULL;
    int rc = check_edit(base, edit, origin);
    if (rc != STRATA_OK)
        return rc;
    struct version *v = version_new();
    if (!v)
        return STRATA_NO_MEMORY;
    for (int level = 0; level < NUM_LEVELS && rc == STRATA_OK; level++)
        rc = build_level(v, base, edit, level);
    if (rc == STRATA_OK)
        rc = copy_pointers(v, base, edit);
    if (rc != STRATA_OK) {
        version_unref(v);
        return rc;
    }
    *out = v;
    return STRATA_OK;
}

int version_snapshot(const struct version *v, struct version_edit *edit)
{
    for (int level = 0; level < NUM_LEVELS; level++) {
        const struct buf *p = &v->compact_pointer[level];
        if (p->len > 0 && version_edit_set_pointer(edit, level, buf_slice(p)) != STRATA_OK)
            return STRATA_NO_MEMORY;
        for (size_t i = 0; i < v->count[level]; i++) {
            const struct table_meta *t = v->tables[level][i];
            int rc = version_edit_add_table(edit, level, t->number, t->size, buf_slice(&t->smallest),
                                            buf_slice(&t->largest));
            if (rc != STRATA_OK)
                return rc;
        }
    }
    return STRATA_OK;
}

uint64_t version_level_bytes(const struct version *v, int level)
{
    uint64_t total = 0;
    for (size_t i = 0; i < v->count[level]; i++)
        total += v->tables[level][i]->size;
    return total;
}

uint64_t tables_bytes(struct table_meta *const *tables, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += tables[i]->size;
    return total;
}

static struct slice smallest_user_key(const struct table_meta *t)
{
    return internal_key_user_key(buf_slice(&t->smallest));
}

static struct slice largest_user_key(const struct table_meta *t)
{
    return internal_key_user_key(buf_slice(&t->largest));
}

size_t tables_find(struct table_meta *const *tables, size_t n, struct slice ikey)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (internal_key_compare(buf_slice(&tables[mid]->largest), ikey) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int table_overlaps(const struct table_meta *t, const struct key_range *r)
{
    if (r->smallest.data && slice_compare(largest_user_key(t), r->smallest) < 0)
        return 0;
    if (r->largest.data && slice_compare(smallest_user_key(t), r->largest) > 0)
        return 0;
    return 1;
}

int version_level_overlaps(const struct version *v, int level, const struct key_range *r)
{
    for (size_t i = 0; i < v->count[level]; i++)
        if (table_overlaps(v->tables[level][i], r))
            return 1;
    return 0;
}

struct key_range tables_range(struct table_meta *const *tables, size_t n)
{
    struct key_range r = { smallest_user_key(tables[0]), largest_user_key(tables[0]) };
    for (size_t i = 1; i < n; i++) {
        if (slice_compare(smallest_user_key(tables[i]), r.smallest) < 0)
            r.smallest = smallest_user_key(tables[i]);
        if (slice_compare(largest_user_key(tables[i]), r.largest) > 0)
            r.largest = largest_user_key(tables[i]);
    }
    return r;
}

/* Widen r to t's range where t reaches past it; 1 when r grew. */
static int widen(struct key_range *r, const struct table_meta *t)
{
    int grew = 0;
    if (r->smallest.data && slice_compare(smallest_user_key(t), r->smallest) < 0) {
        r->smallest = smallest_user_key(t);
        grew = 1;
    }
    if (r->largest.data && slice_compare(largest_user_key(t), r->largest) > 0) {
        r->largest = largest_user_key(t);
        grew = 1;
    }
    return grew;
}

int version_overlapping(const struct version *v, int level, const struct key_range *range,
                        struct table_meta ***out, size_t *n)
{
    struct key_range r = *range;
    *out = NULL;
    *n = 0;
    if (v->count[level] == 0)
        return STRATA_OK;
    struct table_meta **list = malloc(v->count[level] * sizeof *list);
    if (!list)
        return status_set(STRATA_NO_MEMORY, "out of memory listing overlapping tables");
    int grew;
    do { /* at level 0, until the range stops growing */
        grew = 0;
        *n = 0;
        for (size_t i = 0; i < v->count[level]; i++) {
            struct table_meta *t = v->tables[level][i];
            if (!table_overlaps(t, &r))
                continue;
            list[(*n)++] = t;
            if (level == 0)
                grew |= widen(&r, t);
        }
    } while (grew);
    if (*n == 0) {
        free(list);
        list = NULL;
    }
    *out = list;
    return STRATA_OK;
}

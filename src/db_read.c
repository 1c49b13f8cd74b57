/*
 * db_read.c: point reads and snapshots.
 *
 * A read takes, under mu, references on the memtables and the sequence
 * number it reads at (its snapshot's, or the last published one), then
 * reads without the lock: the memtable, then the immutable memtable; the
 * tables join this path with flushes (issue 4).
 */
#include <stdlib.h>
#include <string.h>

#include "src/db_impl.h"
#include "src/status.h"

void db_get_read_view(strata_db *db, const strata_snapshot *s, struct db_read_view *v)
{
    pthread_mutex_lock(&db->mu);
    v->mem = db->mem;
    memtable_ref(v->mem);
    v->imm = db->imm;
    if (v->imm)
        memtable_ref(v->imm);
    v->sequence = s ? s->sequence : atomic_load_explicit(&db->last_sequence, memory_order_acquire);
    pthread_mutex_unlock(&db->mu);
}

void db_release_read_view(struct db_read_view *v)
{
    memtable_unref(v->mem);
    if (v->imm)
        memtable_unref(v->imm);
}

static int check_get_args(strata_db *db, const void *key, size_t klen, void **val, size_t *vlen)
{
    if (!db)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_get: db is NULL");
    if (!val || !vlen)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_get: %s is NULL", val ? "vlen" : "val");
    return db_check_bytes("strata_get", "key", key, klen);
}

int strata_get(strata_db *db, const strata_read_options *ro,
               const void *key, size_t klen, void **val, size_t *vlen)
{
    int rc = check_get_args(db, key, klen, val, vlen);
    if (rc != STRATA_OK)
        return rc;
    *val = NULL;
    *vlen = 0;
    struct db_read_view v;
    db_get_read_view(db, ro ? ro->snapshot : NULL, &v);
    struct slice ukey = slice_make(key, klen), value;
    enum memtable_get_result r = memtable_get(v.mem, ukey, v.sequence, &value);
    if (r == MEMTABLE_ABSENT && v.imm)
        r = memtable_get(v.imm, ukey, v.sequence, &value);
    if (r == MEMTABLE_FOUND) {
        /* malloc(1) for an empty value: the caller gets a non-NULL pointer. */
        char *copy = malloc(value.len ? value.len : 1);
        if (copy) {
            memcpy(copy, value.data, value.len);
            *val = copy;
            *vlen = value.len;
        } else {
            rc = status_set(STRATA_NO_MEMORY, "strata_get: out of memory copying a value of %zu bytes",
                            value.len);
        }
    } else {
        rc = status_set_const(STRATA_NOT_FOUND, "strata_get: key not found");
    }
    db_release_read_view(&v);
    return rc;
}

void strata_free(void *p)
{
    free(p);
}

const strata_snapshot *strata_snapshot_new(strata_db *db)
{
    if (!db) {
        status_set(STRATA_INVALID_ARGUMENT, "strata_snapshot_new: db is NULL");
        return NULL;
    }
    strata_snapshot *s = malloc(sizeof *s);
    if (!s) {
        status_set(STRATA_NO_MEMORY, "strata_snapshot_new: out of memory");
        return NULL;
    }
    pthread_mutex_lock(&db->mu);
    s->sequence = atomic_load_explicit(&db->last_sequence, memory_order_acquire);
    s->next = &db->snapshots; /* newest at the tail */
    s->prev = db->snapshots.prev;
    s->prev->next = s;
    db->snapshots.prev = s;
    pthread_mutex_unlock(&db->mu);
    return s;
}

void strata_snapshot_release(strata_db *db, const strata_snapshot *cs)
{
    if (!db || !cs)
        return;
    strata_snapshot *s = (strata_snapshot *)cs; /* handed out const so callers cannot change it */
    pthread_mutex_lock(&db->mu);
    s->prev->next = s->next;
    s->next->prev = s->prev;
    pthread_mutex_unlock(&db->mu);
    free(s);
}

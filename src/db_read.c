/*
 * db_read.c: point reads and snapshots.
 *
 * A read takes, under mu, references on the memtables and the version and
 * the sequence number it reads at (its snapshot's, or the last published
 * one), then reads without the lock, newest data first: the memtable, the
 * immutable memtable, the level-0 tables newest first, then one table per
 * deeper level.  The first entry found for the key (a value or a deletion)
 * answers.  A table is skipped when its key range rules the key out; the
 * table itself then asks its bloom filter.
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
    v->version = db->current;
    version_ref(v->version);
    v->sequence = s ? s->sequence : atomic_load_explicit(&db->last_sequence, memory_order_acquire);
    pthread_mutex_unlock(&db->mu);
}

void db_release_read_view(struct db_read_view *v)
{
    memtable_unref(v->mem);
    if (v->imm)
        memtable_unref(v->imm);
    version_unref(v->version);
}

/* TABLE_FOUND, TABLE_DELETED or TABLE_ABSENT from one table, or an error. */
static int get_from_table(strata_db *db, const struct table_meta *t,
                          const struct table_read_options *tro, struct slice lookup,
                          struct buf *value)
{
    struct slice ukey = internal_key_user_key(lookup);
    if (!table_overlaps(t, &(struct key_range){ ukey, ukey }))
        return TABLE_ABSENT;
    return table_cache_get(db->table_cache, t->number, t->size, tro, lookup, value);
}

/* Search the version's tables, newest first. */
static int get_from_tables(strata_db *db, const struct version *v,
                           const struct table_read_options *tro, struct slice lookup,
                           struct buf *value)
{
    for (size_t i = 0; i < v->count[0]; i++) {
        int r = get_from_table(db, v->tables[0][i], tro, lookup, value);
        if (r != TABLE_ABSENT)
            return r;
    }
    for (int level = 1; level < NUM_LEVELS; level++) {
        size_t i = tables_find(v->tables[level], v->count[level], lookup);
        const struct table_meta *t = i < v->count[level] ? v->tables[level][i] : NULL;
        int r = t ? get_from_table(db, t, tro, lookup, value) : TABLE_ABSENT;
        if (r != TABLE_ABSENT)
            return r;
    }
    return TABLE_ABSENT;
}

static int check_get_args(strata_db *db, const void *key, size_t klen, void **val, size_t *vlen)
{
    if (!db)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_get: db is NULL");
    if (!val || !vlen)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_get: %s is NULL", val ? "vlen" : "val");
    return db_check_bytes("strata_get", "key", key, klen);
}

/* Hand the value to the caller: the buffer itself when it has one (no
 * copy), else a 1-byte allocation so that *val is never NULL. */
static int hand_out(struct buf *value, void **val, size_t *vlen)
{
    if (!value->data && !(value->data = malloc(1)))
        return status_set(STRATA_NO_MEMORY, "strata_get: out of memory");
    *val = value->data;
    *vlen = value->len;
    *value = (struct buf){ 0 };
    return STRATA_OK;
}

static int get_from_memtables(const struct db_read_view *v, struct slice ukey, struct buf *value)
{
    struct slice found;
    enum memtable_get_result r = memtable_get(v->mem, ukey, v->sequence, &found);
    if (r == MEMTABLE_ABSENT && v->imm)
        r = memtable_get(v->imm, ukey, v->sequence, &found);
    if (r == MEMTABLE_FOUND && buf_append(value, found.data, found.len) != STRATA_OK)
        return STRATA_NO_MEMORY;
    return r == MEMTABLE_FOUND ? TABLE_FOUND : r == MEMTABLE_DELETED ? TABLE_DELETED : TABLE_ABSENT;
}

static int get_in_view(strata_db *db, const strata_read_options *ro, const struct db_read_view *v,
                       struct slice ukey, struct buf *value)
{
    int r = get_from_memtables(v, ukey, value);
    if (r != TABLE_ABSENT)
        return r;
    struct table_read_options tro = { ro ? ro->verify_checksums : 0, ro ? ro->fill_cache : 1 };
    /* The lookup key lives on the stack when it fits: a buf never grows
     * while it has room, so the appends below cannot realloc it. */
    char stack[256];
    struct buf lookup = { 0 };
    if (ukey.len + INTERNAL_KEY_TAG_LEN <= sizeof stack)
        lookup = (struct buf){ stack, 0, sizeof stack };
    if (buf_put_internal_key(&lookup, ukey, v->sequence, TYPE_FOR_SEEK) != STRATA_OK)
        return STRATA_NO_MEMORY;
    r = get_from_tables(db, v->version, &tro, buf_slice(&lookup), value);
    if (lookup.data != stack)
        buf_free(&lookup);
    return r;
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
    struct buf value = { 0 };
    db_get_read_view(db, ro ? ro->snapshot : NULL, &v);
    int r = get_in_view(db, ro, &v, slice_make(key, klen), &value);
    db_release_read_view(&v);
    if (r == TABLE_FOUND)
        rc = hand_out(&value, val, vlen);
    else if (r < 0)
        rc = r; /* the message names the table and offset */
    else
        rc = status_set_const(STRATA_NOT_FOUND, "strata_get: key not found");
    buf_free(&value);
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

/* version_edit.c: encoding of MANIFEST records (see version_edit.h). */
#include "src/version_edit.h"

#include <stdlib.h>
#include <string.h>

#include "src/coding.h"
#include "src/status.h"

enum edit_tag {
    TAG_COMPARATOR = 1,
    TAG_LOG_NUMBER = 2,
    TAG_NEXT_FILE_NUMBER = 3,
    TAG_LAST_SEQUENCE = 4,
    TAG_COMPACTION_POINTER = 5,
    TAG_DELETED_TABLE = 6,
    TAG_NEW_TABLE = 7,
};

/* Grow *array (of *n elements of size each) by one zeroed element. */
static void *grow_one(void **array, size_t *n, size_t size)
{
    char *bigger = realloc(*array, (*n + 1) * size);
    if (!bigger)
        return NULL;
    *array = bigger;
    memset(bigger + *n * size, 0, size);
    return bigger + (*n)++ * size;
}

int version_edit_add_table(struct version_edit *e, int level, uint64_t number, uint64_t size,
                           struct slice smallest, struct slice largest)
{
    struct edit_table *t = grow_one((void **)&e->new_tables, &e->num_new_tables, sizeof *t);
    if (!t)
        return status_set(STRATA_NO_MEMORY, "out of memory recording table %llu",
                          (unsigned long long)number);
    t->level = level;
    t->number = number;
    t->size = size;
    int rc = buf_append(&t->smallest, smallest.data, smallest.len);
    if (rc == STRATA_OK)
        rc = buf_append(&t->largest, largest.data, largest.len);
    return rc;
}

int version_edit_delete_table(struct version_edit *e, int level, uint64_t number)
{
    struct edit_deleted *d = grow_one((void **)&e->deleted, &e->num_deleted, sizeof *d);
    if (!d)
        return status_set(STRATA_NO_MEMORY, "out of memory recording a deleted table");
    d->level = level;
    d->number = number;
    return STRATA_OK;
}

int version_edit_set_pointer(struct version_edit *e, int level, struct slice key)
{
    struct edit_pointer *p = grow_one((void **)&e->pointers, &e->num_pointers, sizeof *p);
    if (!p)
        return status_set(STRATA_NO_MEMORY, "out of memory recording a compaction pointer");
    p->level = level;
    return buf_append(&p->key, key.data, key.len);
}

void version_edit_clear(struct version_edit *e)
{
    for (size_t i = 0; i < e->num_pointers; i++)
        buf_free(&e->pointers[i].key);
    free(e->pointers);
    for (size_t i = 0; i < e->num_new_tables; i++) {
        buf_free(&e->new_tables[i].smallest);
        buf_free(&e->new_tables[i].largest);
    }
    free(e->new_tables);
    free(e->deleted);
    memset(e, 0, sizeof *e);
}

static int encode_tables(const struct version_edit *e, struct buf *out)
{
    int rc = STRATA_OK;
    for (size_t i = 0; i < e->num_pointers && rc == STRATA_OK; i++) {
        rc = buf_put_varint32(out, TAG_COMPACTION_POINTER);
        if (rc == STRATA_OK)
            rc = buf_put_varint32(out, (uint32_t)e->pointers[i].level);
        if (rc == STRATA_OK)
            rc = buf_put_length_prefixed(out, buf_slice(&e->pointers[i].key));
    }
    for (size_t i = 0; i < e->num_deleted && rc == STRATA_OK; i++) {
        rc = buf_put_varint32(out, TAG_DELETED_TABLE);
        if (rc == STRATA_OK)
            rc = buf_put_varint32(out, (uint32_t)e->deleted[i].level);
        if (rc == STRATA_OK)
            rc = buf_put_varint64(out, e->deleted[i].number);
    }
    for (size_t i = 0; i < e->num_new_tables && rc == STRATA_OK; i++) {
        const struct edit_table *t = &e->new_tables[i];
        rc = buf_put_varint32(out, TAG_NEW_TABLE);
        if (rc == STRATA_OK)
            rc = buf_put_varint32(out, (uint32_t)t->level);
        if (rc == STRATA_OK)
            rc = buf_put_varint64(out, t->number);
        if (rc == STRATA_OK)
            rc = buf_put_varint64(out, t->size);
        if (rc == STRATA_OK)
            rc = buf_put_length_prefixed(out, buf_slice(&t->smallest));
        if (rc == STRATA_OK)
            rc = buf_put_length_prefixed(out, buf_slice(&t->largest));
    }
    return rc;
}

static int put_u64_field(struct buf *out, uint32_t tag, uint64_t v)
{
    int rc = buf_put_varint32(out, tag);
    return rc == STRATA_OK ? buf_put_varint64(out, v) : rc;
}

int version_edit_encode(const struct version_edit *e, struct buf *out)
{
    int rc = STRATA_OK;
    if (e->has_comparator) {
        rc = buf_put_varint32(out, TAG_COMPARATOR);
        if (rc == STRATA_OK)
            rc = buf_put_length_prefixed(out, slice_make(e->comparator, strlen(e->comparator)));
    }
    if (rc == STRATA_OK && e->has_log_number)
        rc = put_u64_field(out, TAG_LOG_NUMBER, e->log_number);
    if (rc == STRATA_OK && e->has_next_file_number)
        rc = put_u64_field(out, TAG_NEXT_FILE_NUMBER, e->next_file_number);
    if (rc == STRATA_OK && e->has_last_sequence)
        rc = put_u64_field(out, TAG_LAST_SEQUENCE, e->last_sequence);
    if (rc == STRATA_OK)
        rc = encode_tables(e, out);
    return rc;
}

static int edit_damage(const char *origin, uint64_t offset, const char *what)
{
    return status_set(STRATA_CORRUPTION, "corrupted version edit in %s at offset %llu: %s",
                      origin, (unsigned long long)offset, what);
}

static const char *decode_level(const char *p, const char *limit, int *level)
{
    uint32_t v;
    if (!(p = decode_varint32(p, limit, &v)) || v >= NUM_LEVELS)
        return NULL;
    *level = (int)v;
    return p;
}

/* One "new table" field; NULL on damage (or out of memory, with *rc set). */
static const char *decode_new_table(struct version_edit *e, const char *p, const char *limit,
                                    int *rc)
{
    int level;
    uint64_t number, size;
    struct slice smallest, largest;
    if (!(p = decode_level(p, limit, &level)) || !(p = decode_varint64(p, limit, &number)) ||
        !(p = decode_varint64(p, limit, &size)) ||
        !(p = decode_length_prefixed(p, limit, &smallest)) ||
        !(p = decode_length_prefixed(p, limit, &largest)) || smallest.len < 8 || largest.len < 8)
        return NULL;
    *rc = version_edit_add_table(e, level, number, size, smallest, largest);
    return *rc == STRATA_OK ? p : NULL;
}

static const char *decode_deleted(struct version_edit *e, const char *p, const char *limit,
                                  int *rc)
{
    int level;
    uint64_t number;
    if (!(p = decode_level(p, limit, &level)) || !(p = decode_varint64(p, limit, &number)))
        return NULL;
    *rc = version_edit_delete_table(e, level, number);
    return *rc == STRATA_OK ? p : NULL;
}

static const char *decode_pointer(struct version_edit *e, const char *p, const char *limit,
                                  int *rc)
{
    int level;
    struct slice key;
    if (!(p = decode_level(p, limit, &level)) || !(p = decode_length_prefixed(p, limit, &key)) ||
        key.len < 8)
        return NULL;
    *rc = version_edit_set_pointer(e, level, key);
    return *rc == STRATA_OK ? p : NULL;
}

static int decode_fields(struct version_edit *e, struct slice in, const char *origin,
                         uint64_t offset)
{
    const char *p = in.data, *limit = in.data + in.len;
    while (p < limit) {
        uint32_t tag;
        uint64_t *field;
        int *has;
        int rc = STRATA_CORRUPTION;
        if (!(p = decode_varint32(p, limit, &tag)))
            return edit_damage(origin, offset, "bad field tag");
        switch (tag) {
        case TAG_NEW_TABLE:
            if (!(p = decode_new_table(e, p, limit, &rc)))
                return rc == STRATA_CORRUPTION ? edit_damage(origin, offset, "bad new table") : rc;
            continue;
        case TAG_DELETED_TABLE:
            if (!(p = decode_deleted(e, p, limit, &rc)))
                return rc == STRATA_CORRUPTION ? edit_damage(origin, offset, "bad deleted table") : rc;
            continue;
        case TAG_COMPACTION_POINTER:
            if (!(p = decode_pointer(e, p, limit, &rc)))
                return rc == STRATA_CORRUPTION ? edit_damage(origin, offset, "bad compaction pointer")
                                               : rc;
            continue;
        case TAG_COMPARATOR: {
            struct slice name;
            if (!(p = decode_length_prefixed(p, limit, &name)) || name.len > VERSION_EDIT_MAX_COMPARATOR)
                return edit_damage(origin, offset, "bad comparator name");
            memcpy(e->comparator, name.data, name.len);
            e->comparator[name.len] = '\0';
            e->has_comparator = 1;
            continue;
        }
        case TAG_LOG_NUMBER: field = &e->log_number; has = &e->has_log_number; break;
        case TAG_NEXT_FILE_NUMBER: field = &e->next_file_number; has = &e->has_next_file_number; break;
        case TAG_LAST_SEQUENCE: field = &e->last_sequence; has = &e->has_last_sequence; break;
        default: return edit_damage(origin, offset, "unknown field tag");
        }
        if (!(p = decode_varint64(p, limit, field)))
            return edit_damage(origin, offset, "bad field value");
        *has = 1;
    }
    return STRATA_OK;
}

int version_edit_decode(struct version_edit *e, struct slice in, const char *origin,
                        uint64_t offset)
{
    memset(e, 0, sizeof *e);
    /* An empty record may be {NULL, 0} (the log reader's empty struct buf):
     * C leaves even NULL + 0 undefined. */
    if (in.len == 0)
        in = slice_make("", 0);
    int rc = decode_fields(e, in, origin, offset);
    if (rc != STRATA_OK)
        version_edit_clear(e);
    return rc;
}

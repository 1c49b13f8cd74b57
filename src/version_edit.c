/* version_edit.c: encoding of MANIFEST records (see version_edit.h). */
#include "src/version_edit.h"

#include <string.h>

#include "src/coding.h"
#include "src/status.h"

enum edit_tag {
    TAG_COMPARATOR = 1,
    TAG_LOG_NUMBER = 2,
    TAG_NEXT_FILE_NUMBER = 3,
    TAG_LAST_SEQUENCE = 4,
};

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
    return rc;
}

static int edit_damage(const char *origin, uint64_t offset, const char *what)
{
    return status_set(STRATA_CORRUPTION, "corrupted version edit in %s at offset %llu: %s",
                      origin, (unsigned long long)offset, what);
}

int version_edit_decode(struct version_edit *e, struct slice in, const char *origin,
                        uint64_t offset)
{
    memset(e, 0, sizeof *e);
    const char *p = in.data, *limit = in.data + in.len;
    while (p < limit) {
        uint32_t tag;
        uint64_t *field;
        int *has;
        if (!(p = decode_varint32(p, limit, &tag)))
            return edit_damage(origin, offset, "bad field tag");
        switch (tag) {
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

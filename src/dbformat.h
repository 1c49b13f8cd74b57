/*
 * dbformat.h: internal keys, the keys every layer below the API sorts by.
 *
 * An internal key is the user key followed by an 8-byte little-endian tag,
 * (sequence number << 8) | value type.  Internal keys order by user key
 * (bytewise), then by tag descending: among entries for one user key the
 * newest comes first, and a deletion (type 0) sorts after a value (type 1)
 * with the same sequence number, which never happens since every update has
 * its own sequence number.
 *
 * Sequence numbers are 56 bits: one per update, assigned in write order,
 * starting at 1.  A reader at sequence s sees the updates numbered <= s.
 */
#ifndef STRATA_DBFORMAT_H
#define STRATA_DBFORMAT_H

#include <stdint.h>

#include "src/coding.h"
#include "src/slice.h"

enum value_type {
    TYPE_DELETION = 0,
    TYPE_VALUE = 1,
};

/* Seeking to (user key, s) must land on the newest entry with sequence <= s;
 * since the tag sorts descending, the highest type makes the target sort
 * before every entry with sequence s. */
#define TYPE_FOR_SEEK TYPE_VALUE

#define MAX_SEQUENCE ((UINT64_C(1) << 56) - 1)
#define INTERNAL_KEY_TAG_LEN 8

/* The name recorded in the MANIFEST, so that a future comparator cannot
 * silently open a database sorted by another. */
#define COMPARATOR_NAME "strata.bytewise"

struct parsed_internal_key {
    struct slice user_key;
    uint64_t sequence;
    enum value_type type;
};

static inline uint64_t pack_tag(uint64_t sequence, enum value_type type)
{
    return (sequence << 8) | (uint64_t)type;
}

/* The user key of a well-formed internal key (at least 8 bytes). */
static inline struct slice internal_key_user_key(struct slice ikey)
{
    return slice_make(ikey.data, ikey.len - INTERNAL_KEY_TAG_LEN);
}

static inline uint64_t internal_key_tag(struct slice ikey)
{
    return decode_fixed64(ikey.data + ikey.len - INTERNAL_KEY_TAG_LEN);
}

/* 1 when ikey is long enough and its type is known, 0 otherwise. */
static inline int parse_internal_key(struct slice ikey, struct parsed_internal_key *out)
{
    if (ikey.len < INTERNAL_KEY_TAG_LEN)
        return 0;
    uint64_t tag = internal_key_tag(ikey);
    unsigned type = (unsigned)(tag & 0xff);
    if (type > TYPE_VALUE)
        return 0;
    out->user_key = internal_key_user_key(ikey);
    out->sequence = tag >> 8;
    out->type = (enum value_type)type;
    return 1;
}

/* User key ascending, then tag descending.  Keys read from a damaged block
 * (with checksums off) may be shorter than a tag: those compare bytewise,
 * so a comparison never reads outside its keys; the reader reports the
 * damage when it parses the key. */
static inline int internal_key_compare(struct slice a, struct slice b)
{
    if (a.len < INTERNAL_KEY_TAG_LEN || b.len < INTERNAL_KEY_TAG_LEN)
        return slice_compare(a, b);
    int r = slice_compare(internal_key_user_key(a), internal_key_user_key(b));
    if (r != 0)
        return r;
    uint64_t ta = internal_key_tag(a), tb = internal_key_tag(b);
    return (ta < tb) - (ta > tb);
}

/* Append user_key + tag to b: STRATA_OK or STRATA_NO_MEMORY. */
static inline int buf_put_internal_key(struct buf *b, struct slice user_key,
                                       uint64_t sequence, enum value_type type)
{
    int rc = buf_reserve(b, user_key.len + INTERNAL_KEY_TAG_LEN);
    if (rc != 0)
        return rc;
    buf_append(b, user_key.data, user_key.len);
    return buf_put_fixed64(b, pack_tag(sequence, type));
}

#endif

/*
 * slice.h: a borrowed byte range.  A slice never owns its bytes: whoever
 * hands one out says how long the bytes stay valid.
 */
#ifndef STRATA_SLICE_H
#define STRATA_SLICE_H

#include <stddef.h>
#include <string.h>

struct slice {
    const char *data;
    size_t len;
};

static inline struct slice slice_make(const void *data, size_t len)
{
    struct slice s = { (const char *)data, len };
    return s;
}

/* Bytewise order: memcmp, the shorter first when one is a prefix of the
 * other.  This is the user-key order of the whole database. */
static inline int slice_compare(struct slice a, struct slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int r = n ? memcmp(a.data, b.data, n) : 0;
    if (r != 0)
        return r;
    return (a.len > b.len) - (a.len < b.len);
}

static inline int slice_equal(struct slice a, struct slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

#endif

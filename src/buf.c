/* buf.c: the growable byte buffer (see buf.h). */
#include "src/buf.h"

#include <stdlib.h>
#include <string.h>

#include "src/status.h"

int buf_reserve(struct buf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return STRATA_OK;
    if (extra > SIZE_MAX / 2 - b->len)
        return status_set(STRATA_NO_MEMORY, "buffer of %zu bytes cannot grow by %zu", b->len, extra);
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return status_set(STRATA_NO_MEMORY, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return STRATA_OK;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc != STRATA_OK)
        return rc;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    return STRATA_OK;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

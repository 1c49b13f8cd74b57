/*
 * buf.h: a growable byte buffer that owns its bytes.
 *
 * A zeroed struct buf is a valid empty buffer.  Appends return STRATA_OK or
 * STRATA_NO_MEMORY (with a message); on failure the buffer is unchanged.
 */
#ifndef STRATA_BUF_H
#define STRATA_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "src/slice.h"

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Make room for at least extra more bytes. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t n);
/* Keep the allocation, forget the contents. */
static inline void buf_clear(struct buf *b) { b->len = 0; }
void buf_free(struct buf *b);
static inline struct slice buf_slice(const struct buf *b) { return slice_make(b->data, b->len); }

#endif

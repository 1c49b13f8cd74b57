/*
 * write_batch.h: the encoding of a write batch, shared by the API's
 * strata_batch, the WAL (a batch is one log record) and recovery.
 *
 * Encoding (docs/wal_format.md, "Write batch record"):
 *     fixed64 sequence number of the first update | fixed32 count |
 *     count times: type byte (1 put, 0 delete) | varint32 key length | key |
 *                  (puts only) varint32 value length | value
 * The i-th update (from 0) gets sequence number sequence + i.
 *
 * strata_batch remembers the first invalid argument or failed allocation of
 * its put/delete calls (they return void); batch_error() hands it to
 * strata_write.
 */
#ifndef STRATA_WRITE_BATCH_H
#define STRATA_WRITE_BATCH_H

#include <stdint.h>

#include "src/buf.h"
#include "src/dbformat.h"
#include "strata.h"

enum { BATCH_HEADER_SIZE = 12 };

struct strata_batch {
    struct buf rep;    /* the encoding above, header included */
    int error;         /* STRATA_OK or the first error of a put/delete */
    char error_msg[256];
};

uint64_t batch_sequence(const strata_batch *b);
void batch_set_sequence(strata_batch *b, uint64_t sequence);
uint32_t batch_count(const strata_batch *b);
static inline struct slice batch_contents(const strata_batch *b) { return buf_slice(&b->rep); }

/* STRATA_OK, or the remembered error with its message set again. */
int batch_error(const strata_batch *b);

/* Append src's updates to dst (group commit merges batches this way). */
int batch_append(strata_batch *dst, const strata_batch *src);

/* Receives the updates of a batch in order, each with its sequence number.
 * A non-zero return stops the walk and is returned by batch_iterate. */
struct batch_handler {
    void *ctx;
    int (*update)(void *ctx, uint64_t sequence, enum value_type type,
                  struct slice key, struct slice value);
};

/* Walk an encoded batch, checking every length against the bytes and the
 * count against the entries found.  Damage returns STRATA_CORRUPTION with a
 * message naming origin (a file name, or "batch") and the offset within the
 * batch.  The walk may have delivered some updates before it finds damage:
 * callers that need all-or-nothing check first with handler NULL. */
int batch_iterate(struct slice rep, const struct batch_handler *handler, const char *origin);

#endif

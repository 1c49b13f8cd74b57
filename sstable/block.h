/*
 * block.h: reads a block built by block_builder (docs/sstable_format.md):
 * checks its restart array once when it is opened, then iterates it with a
 * binary search over the restart points for seeks.
 *
 * A block never trusts its bytes: every varint and length is checked
 * against the block's end, and a malformed entry stops the iterator with
 * STRATA_CORRUPTION naming the file and the block's offset, never a read
 * outside the block.  Blocks are immutable, so any number of iterators may
 * read one block from different threads.
 */
#ifndef STRATA_BLOCK_H
#define STRATA_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "src/iterator.h"
#include "src/slice.h"

struct block;

/* Orders the block's keys: internal_key_compare for data and index blocks,
 * slice_compare for the metaindex. */
typedef int (*block_cmp_fn)(struct slice a, struct slice b);

/* Where a block came from, for error messages.  block_open copies the
 * struct; NULL gives messages naming "(unknown file)" at offset 0. */
struct block_origin {
    const char *file;  /* borrowed: must outlive the block's iterators */
    uint64_t offset;   /* of the block in the file */
};

/* Parse contents (the block without its trailer).  With owned set the
 * block takes contents.data (from malloc) and frees it in block_free, also
 * when opening fails.  STRATA_CORRUPTION when the restart array is
 * malformed, STRATA_NO_MEMORY. */
int block_open(struct slice contents, int owned, const struct block_origin *origin,
               struct block **out);
void block_free(struct block *b);
/* Bytes of the block's contents (what a cache charges for it). */
size_t block_size(const struct block *b);
uint32_t block_num_restarts(const struct block *b);

/* An iterator over b.  release(arg) is called when the iterator is
 * destroyed (a cache handle is released this way); NULL for none.  b must
 * stay alive until then.  NULL when out of memory (release is then called
 * at once).  Once the iterator has met a damaged entry its status stays
 * STRATA_CORRUPTION and no later seek makes it valid.  Steady-state seeks
 * and steps do not allocate (keys up to 64 bytes are rebuilt inside the
 * iterator; a longer one grows a heap buffer once). */
struct iter *block_iter_new(struct block *b, block_cmp_fn cmp,
                            void (*release)(void *arg), void *arg);

#endif

/*
 * format.h: the file-level pieces of a table (docs/sstable_format.md):
 * block handles, the block trailer, compression, and the footer.
 *
 * Table layout:
 *     data block 0 .. data block n-1
 *     filter block       (absent when bloom_bits_per_key is 0)
 *     properties block
 *     metaindex block    (name -> handle: "filter.strata.bloom", "properties")
 *     index block        (separator internal key -> data block handle)
 *     footer             (FOOTER_SIZE bytes)
 * Every block is followed by a 5-byte trailer: the compression type (1
 * byte) and checksum32(stored bytes, seed = type) (fixed32), so both the
 * bytes and the way to read them are covered.  A block is stored
 * compressed only when that saves at least an eighth of its size.
 */
#ifndef STRATA_SSTABLE_FORMAT_H
#define STRATA_SSTABLE_FORMAT_H

#include <stdint.h>

#include "src/buf.h"
#include "src/env.h"
#include "strata.h" /* STRATA_COMPRESSION_*: the trailer's type byte */

enum {
    BLOCK_TRAILER_SIZE = 5,
    BLOCK_HANDLE_MAX_LEN = 20,  /* two varint64 */
    /* metaindex handle + index handle, padded to 40 bytes | fixed32 format
     * version | fixed32 checksum32 of the 44 bytes before it | fixed64 magic */
    FOOTER_SIZE = 56,
    TABLE_FORMAT_VERSION = 1,
};

/* The largest block that is ever stored compressed.  Bigger blocks (one
 * huge value) are stored raw, so a reader can refuse, as damage, any
 * compressed block that claims to decompress to more: a flipped size can
 * never make it allocate gigabytes. */
#define BLOCK_MAX_DECOMPRESSED_SIZE ((size_t)64 << 20)

#define TABLE_MAGIC UINT64_C(0x5354524154413031) /* "STRATA01" read as a number */

/* Where a block lies: offset of its first byte, size without the trailer. */
struct block_handle {
    uint64_t offset;
    uint64_t size;
};

int block_handle_encode(const struct block_handle *h, struct buf *out);
/* Decode from [*p, limit) and advance *p; 0 on damage. */
int block_handle_decode(const char **p, const char *limit, struct block_handle *h);

struct footer {
    struct block_handle metaindex;
    struct block_handle index;
};

/* Write the FOOTER_SIZE bytes into out. */
void footer_encode(const struct footer *f, char out[FOOTER_SIZE]);
/* Check version, checksum and magic; STRATA_CORRUPTION naming file. */
int footer_decode(const char in[FOOTER_SIZE], const char *file, struct footer *f);

/* Compress raw with codec (STRATA_COMPRESSION_*) at level into out (reset
 * first), or leave it raw: *type gets the codec actually used, so a block
 * that does not shrink by an eighth is stored as STRATA_COMPRESSION_NONE
 * (and then out is left empty: the caller stores raw itself, saving a
 * copy).  Blocks over BLOCK_MAX_DECOMPRESSED_SIZE always stay raw. */
int block_compress(struct slice raw, int codec, int level, struct buf *out, int *type);

/* The same with a compression context kept from block to block: creating a
 * zstd context costs more than compressing a 4 KiB block, so the table
 * builder owns one of these.  A zeroed struct is valid (no context yet). */
struct block_compressor {
    void *zstd;  /* ZSTD_CCtx *, created on first use */
};

/* STRATA_NOT_SUPPORTED for an unknown codec, STRATA_NO_MEMORY. */
int block_compressor_compress(struct block_compressor *c, struct slice raw, int codec, int level,
                              struct buf *out, int *type);
void block_compressor_free(struct block_compressor *c);

/* Read the block at h from file: check the trailer's checksum when verify
 * is set, and decompress (with a zstd context kept per thread, freed when
 * the thread exits: a new context per block would cost 4x the
 * decompression itself).  *contents is a new malloc'ed buffer (the caller
 * frees it).  STRATA_CORRUPTION or STRATA_IO_ERROR naming file and offset. */
int block_read(struct env_file *file, const struct block_handle *h, int verify,
               struct slice *contents);

/* The same from map, the whole file (map_size bytes) mapped in memory, so
 * that no system call is made: a raw block's contents point into map
 * (*copied = 0), a compressed one is decompressed into a new malloc'ed
 * buffer (*copied = 1).  path names the file in messages. */
int block_read_mapped(const char *map, uint64_t map_size, const char *path,
                      const struct block_handle *h, int verify, struct slice *contents,
                      int *copied);

#endif

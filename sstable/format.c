/*
 * format.c: block handles, the footer, block compression and block reads
 * (sstable/format.h, docs/sstable_format.md).
 *
 * Invariants:
 *   - a block on disk is its stored bytes followed by a 5-byte trailer:
 *     type byte, fixed32 checksum32(stored bytes, seed = type);
 *   - a block is stored compressed only when compression saves at least an
 *     eighth of it and the raw block is at most BLOCK_MAX_DECOMPRESSED_SIZE,
 *     so a reader rejects any compressed block that claims more;
 *   - nothing read from a file is trusted: every length is checked before
 *     it is used to allocate or to index, and every failure names the file
 *     and the offset.
 */
#include "sstable/format.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "src/coding.h"
#include "src/hash.h"
#include "src/status.h"

/* ---- block handles ----------------------------------------------------------- */

int block_handle_encode(const struct block_handle *h, struct buf *out)
{
    char tmp[BLOCK_HANDLE_MAX_LEN];
    char *p = encode_varint64(tmp, h->offset);
    p = encode_varint64(p, h->size);
    return buf_append(out, tmp, (size_t)(p - tmp));
}

int block_handle_decode(const char **p, const char *limit, struct block_handle *h)
{
    const char *q = decode_varint64(*p, limit, &h->offset);
    if (q == NULL)
        return 0;
    q = decode_varint64(q, limit, &h->size);
    if (q == NULL)
        return 0;
    *p = q;
    return 1;
}

/* ---- footer -------------------------------------------------------------------- */

enum {
    FOOTER_HANDLES_LEN = 40,  /* two handles, zero-padded */
    FOOTER_VERSION_AT = 40,
    FOOTER_CHECKSUM_AT = 44,
    FOOTER_MAGIC_AT = 48,
};

void footer_encode(const struct footer *f, char out[FOOTER_SIZE])
{
    /* Two handles take at most 2 * BLOCK_HANDLE_MAX_LEN = 40 bytes. */
    memset(out, 0, FOOTER_SIZE);
    char *p = encode_varint64(out, f->metaindex.offset);
    p = encode_varint64(p, f->metaindex.size);
    p = encode_varint64(p, f->index.offset);
    encode_varint64(p, f->index.size);
    encode_fixed32(out + FOOTER_VERSION_AT, TABLE_FORMAT_VERSION);
    encode_fixed32(out + FOOTER_CHECKSUM_AT, checksum32(out, FOOTER_CHECKSUM_AT, 0));
    encode_fixed64(out + FOOTER_MAGIC_AT, TABLE_MAGIC);
}

int footer_decode(const char in[FOOTER_SIZE], const char *file, struct footer *f)
{
    /* The magic first: a file that is not a table at all deserves that
     * message rather than "checksum mismatch". */
    if (decode_fixed64(in + FOOTER_MAGIC_AT) != TABLE_MAGIC)
        return status_set(STRATA_CORRUPTION, "bad table magic number in the footer of %s", file);
    uint32_t want = decode_fixed32(in + FOOTER_CHECKSUM_AT);
    if (checksum32(in, FOOTER_CHECKSUM_AT, 0) != want)
        return status_set(STRATA_CORRUPTION, "checksum mismatch in the footer of %s", file);
    uint32_t version = decode_fixed32(in + FOOTER_VERSION_AT);
    if (version != TABLE_FORMAT_VERSION)
        return status_set(STRATA_CORRUPTION, "unsupported table format version %u in %s",
                          (unsigned)version, file);
    const char *p = in, *limit = in + FOOTER_HANDLES_LEN;
    if (!block_handle_decode(&p, limit, &f->metaindex) ||
        !block_handle_decode(&p, limit, &f->index))
        return status_set(STRATA_CORRUPTION, "malformed block handles in the footer of %s", file);
    return STRATA_OK;
}

/* ---- compression ------------------------------------------------------------------ */

/* Stored compressed only when that saves at least an eighth: below that,
 * the decompression a read pays costs more than the bytes saved. */
static int block_worth_compressing(size_t raw, size_t compressed)
{
    return compressed <= raw - raw / 8;
}

static int block_compress_zstd(ZSTD_CCtx *cctx, struct slice raw, int level, struct buf *out,
                               int *type)
{
    size_t bound = ZSTD_compressBound(raw.len);
    int rc = buf_reserve(out, bound);
    if (rc != STRATA_OK)
        return rc;
    size_t n = cctx ? ZSTD_compressCCtx(cctx, out->data, bound, raw.data, raw.len, level)
                    : ZSTD_compress(out->data, bound, raw.data, raw.len, level);
    /* A failure to compress is not a failure to store: keep the block raw. */
    if (ZSTD_isError(n) || !block_worth_compressing(raw.len, n))
        return STRATA_OK;
    out->len = n;
    *type = STRATA_COMPRESSION_ZSTD;
    return STRATA_OK;
}

int block_compressor_compress(struct block_compressor *c, struct slice raw, int codec, int level,
                              struct buf *out, int *type)
{
    buf_clear(out);
    *type = STRATA_COMPRESSION_NONE;
    if (codec == STRATA_COMPRESSION_NONE)
        return STRATA_OK;
    if (codec != STRATA_COMPRESSION_ZSTD)
        return status_set(STRATA_NOT_SUPPORTED, "unknown compression type %d", codec);
    if (raw.len > BLOCK_MAX_DECOMPRESSED_SIZE)
        return STRATA_OK;
    if (c != NULL && c->zstd == NULL) {
        c->zstd = ZSTD_createCCtx();
        if (c->zstd == NULL)
            return status_set(STRATA_NO_MEMORY, "out of memory for a zstd context");
    }
    return block_compress_zstd(c ? c->zstd : NULL, raw, level, out, type);
}

int block_compress(struct slice raw, int codec, int level, struct buf *out, int *type)
{
    return block_compressor_compress(NULL, raw, codec, level, out, type);
}

void block_compressor_free(struct block_compressor *c)
{
    ZSTD_freeCCtx(c->zstd);
    c->zstd = NULL;
}

/* ---- the per-thread decompression context ------------------------------------------- */

static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static pthread_key_t dctx_key;
static int dctx_key_ok;

static void dctx_destroy(void *p)
{
    ZSTD_freeDCtx(p);
}

static void dctx_key_init(void)
{
    dctx_key_ok = pthread_key_create(&dctx_key, dctx_destroy) == 0;
}

/* This thread's context, or NULL when none can be kept (then the caller
 * lets zstd make a temporary one). */
static ZSTD_DCtx *dctx_for_thread(void)
{
    pthread_once(&dctx_once, dctx_key_init);
    if (!dctx_key_ok)
        return NULL;
    ZSTD_DCtx *d = pthread_getspecific(dctx_key);
    if (d != NULL)
        return d;
    d = ZSTD_createDCtx();
    if (d != NULL && pthread_setspecific(dctx_key, d) != 0) {
        ZSTD_freeDCtx(d);
        d = NULL;
    }
    return d;
}

/* ---- block reads ------------------------------------------------------------------------ */

static int block_corrupt(const char *what, const struct block_handle *h, const char *path)
{
    return status_set(STRATA_CORRUPTION, "%s at offset %llu of %s", what,
                      (unsigned long long)h->offset, path);
}

/* Decompress the zstd frame src into a new malloc'ed buffer. */
static int block_uncompress_zstd(struct slice src, const struct block_handle *h, const char *path,
                                 struct slice *out)
{
    unsigned long long n = ZSTD_getFrameContentSize(src.data, src.len);
    if (n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR ||
        n > BLOCK_MAX_DECOMPRESSED_SIZE)
        return block_corrupt("bad zstd frame header in block", h, path);
    /* malloc(0) may return NULL: ask for at least a byte. */
    char *dst = malloc(n ? (size_t)n : 1);
    if (dst == NULL)
        return status_set(STRATA_NO_MEMORY, "out of memory for a block of %llu bytes", n);
    ZSTD_DCtx *d = dctx_for_thread();
    size_t got = d ? ZSTD_decompressDCtx(d, dst, (size_t)n, src.data, src.len)
                   : ZSTD_decompress(dst, (size_t)n, src.data, src.len);
    if (ZSTD_isError(got) || got != n) {
        free(dst);
        return block_corrupt("zstd decompression failed in block", h, path);
    }
    *out = slice_make(dst, (size_t)n);
    return STRATA_OK;
}

/* Check the trailer of the stored block at raw (h->size bytes, then the
 * trailer) and decode it: *contents is raw itself for a raw block
 * (*copied = 0), else a new buffer (*copied = 1). */
static int block_decode(const char *raw, const struct block_handle *h, int verify, const char *path,
                        struct slice *contents, int *copied)
{
    size_t size = (size_t)h->size;
    unsigned type = (unsigned char)raw[size];
    *copied = 0;
    if (verify && checksum32(raw, size, type) != decode_fixed32(raw + size + 1))
        return block_corrupt("checksum mismatch in block", h, path);
    switch (type) {
    case STRATA_COMPRESSION_NONE:
        *contents = slice_make(raw, size);
        return STRATA_OK;
    case STRATA_COMPRESSION_ZSTD:
        *copied = 1;
        return block_uncompress_zstd(slice_make(raw, size), h, path, contents);
    default:
        return status_set(STRATA_CORRUPTION, "unknown block type %u in block at offset %llu of %s",
                          type, (unsigned long long)h->offset, path);
    }
}

int block_read_mapped(const char *map, uint64_t map_size, const char *path,
                      const struct block_handle *h, int verify, struct slice *contents,
                      int *copied)
{
    if (h->size > map_size || map_size - h->size < BLOCK_TRAILER_SIZE ||
        h->offset > map_size - h->size - BLOCK_TRAILER_SIZE)
        return block_corrupt("truncated block", h, path);
    return block_decode(map + h->offset, h, verify, path, contents, copied);
}

int block_read(struct env_file *file, const struct block_handle *h, int verify,
               struct slice *contents)
{
    if (h->size > SIZE_MAX - BLOCK_TRAILER_SIZE || h->offset > UINT64_MAX - h->size)
        return block_corrupt("impossible size of block", h, env_file_path(file));
    size_t n = (size_t)h->size + BLOCK_TRAILER_SIZE;
    char *raw = malloc(n);
    if (raw == NULL)
        return status_set(STRATA_NO_MEMORY, "out of memory for a block of %zu bytes", n);
    size_t got;
    int rc = env_read_at(file, h->offset, raw, n, &got);
    if (rc == STRATA_OK && got < n)
        rc = block_corrupt("truncated block", h, env_file_path(file));
    if (rc != STRATA_OK) {
        free(raw);
        return rc;
    }
    int copied;
    rc = block_decode(raw, h, verify, env_file_path(file), contents, &copied);
    if (rc != STRATA_OK || copied)
        free(raw); /* a raw block keeps its buffer: the trailer stays behind as slack */
    return rc;
}

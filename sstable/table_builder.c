/*
 * table_builder.c: writes a table from internal keys added in increasing
 * order (sstable/table_builder.h, docs/sstable_format.md).
 *
 * Layout written: data blocks, filter, properties, metaindex, index,
 * footer.  Invariants between calls:
 *   - offset is the number of bytes handed to the file so far, counting
 *     those still waiting in wbuf: every handle is computed from it;
 *   - last_key is the last internal key added (empty before the first);
 *   - pending_index is set when a data block has been written but its
 *     index entry not yet, because the separator needs the first key of
 *     the next block (or, at finish, only the last key);
 *   - hashes holds hash64(user key, 0) of each distinct user key added,
 *     when a filter is wanted;
 *   - status is the first write or memory error: once set, every call
 *     returns it (the file is then the caller's to delete).
 * In steady state adding a key allocates nothing: the block builders, the
 * compression buffer, the write buffer and the scratch key are reused.
 */
#include "sstable/table_builder.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sstable/block_builder.h"
#include "sstable/bloom.h"
#include "sstable/format.h"
#include "src/coding.h"
#include "src/dbformat.h"
#include "src/hash.h"
#include "src/status.h"

enum {
    TABLE_DEFAULT_BLOCK_SIZE = 4096,
    TABLE_DEFAULT_RESTART_INTERVAL = 16,
    /* Blocks are gathered into writes of about this size: one system call
     * per 4 KiB block would cost as much as compressing it. */
    TABLE_WRITE_BUFFER = 64 << 10,
};

struct table_builder {
    struct table_builder_options o;
    struct env_file *file;
    uint64_t offset;
    int status;
    int finished;

    struct block_builder data;
    struct block_builder index;
    struct buf last_key;
    struct buf scratch;  /* separators, encoded handles */
    int pending_index;
    struct block_handle pending_handle;

    uint64_t *hashes;
    size_t nhashes, hashes_cap;

    struct block_compressor compressor;
    struct buf cbuf;  /* compressed block */
    struct buf wbuf;  /* bytes not yet written */

    struct table_properties props;
};

/* ---- creation -------------------------------------------------------------------- */

struct table_builder *table_builder_new(const struct table_builder_options *o,
                                        struct env_file *file)
{
    struct table_builder *b = calloc(1, sizeof *b);
    if (b == NULL) {
        status_set(STRATA_NO_MEMORY, "out of memory for a table builder");
        return NULL;
    }
    b->o = *o;
    if (b->o.block_size == 0)
        b->o.block_size = TABLE_DEFAULT_BLOCK_SIZE;
    if (b->o.restart_interval < 1)
        b->o.restart_interval = TABLE_DEFAULT_RESTART_INTERVAL;
    if (b->o.bloom_bits_per_key < 0)
        b->o.bloom_bits_per_key = 0;
    b->file = file;
    block_builder_init(&b->data, b->o.restart_interval);
    /* Interval 1: every index key is whole, so a seek is a pure binary
     * search with no prefix decoding. */
    block_builder_init(&b->index, 1);
    if (b->o.compression != STRATA_COMPRESSION_NONE && b->o.compression != STRATA_COMPRESSION_ZSTD)
        b->status = status_set(STRATA_NOT_SUPPORTED, "table builder: unknown compression type %d",
                               b->o.compression);
    b->props.compression = (uint64_t)b->o.compression;
    /* Negative zstd levels are stored as two's complement. */
    b->props.compression_level = (uint64_t)(int64_t)b->o.compression_level;
    b->props.bloom_bits_per_key = (uint64_t)b->o.bloom_bits_per_key;
    b->props.creation_time = (uint64_t)time(NULL);
    return b;
}

void table_properties_free(struct table_properties *p)
{
    buf_free(&p->smallest_key);
    buf_free(&p->largest_key);
}

void table_builder_free(struct table_builder *b)
{
    if (b == NULL)
        return;
    block_builder_free(&b->data);
    block_builder_free(&b->index);
    buf_free(&b->last_key);
    buf_free(&b->scratch);
    free(b->hashes);
    block_compressor_free(&b->compressor);
    buf_free(&b->cbuf);
    buf_free(&b->wbuf);
    table_properties_free(&b->props);
    free(b);
}

uint64_t table_builder_file_size(const struct table_builder *b)
{
    return b->offset;
}

const struct table_properties *table_builder_properties(const struct table_builder *b)
{
    return &b->props;
}

/* Record the first failure; every later call returns it. */
static int table_builder_fail(struct table_builder *b, int rc)
{
    if (b->status == STRATA_OK)
        b->status = rc;
    return rc;
}

/* ---- writing bytes ------------------------------------------------------------------- */

static int table_builder_flush_wbuf(struct table_builder *b)
{
    if (b->wbuf.len == 0)
        return STRATA_OK;
    int rc = env_append(b->file, b->wbuf.data, b->wbuf.len);
    buf_clear(&b->wbuf);
    return rc;
}

/* Queue n bytes for the file; a piece as big as the buffer goes straight
 * to the file rather than through a copy. */
static int table_builder_emit(struct table_builder *b, const char *p, size_t n)
{
    int rc;
    if (n >= TABLE_WRITE_BUFFER) {
        rc = table_builder_flush_wbuf(b);
        if (rc == STRATA_OK)
            rc = env_append(b->file, p, n);
    } else {
        rc = buf_append(&b->wbuf, p, n);
        if (rc == STRATA_OK && b->wbuf.len >= TABLE_WRITE_BUFFER)
            rc = table_builder_flush_wbuf(b);
    }
    if (rc == STRATA_OK)
        b->offset += n;
    return rc;
}

/* Store raw (compressed when asked and worth it) with its trailer; *h gets
 * where it went. */
static int table_builder_write_block(struct table_builder *b, struct slice raw, int compress,
                                     struct block_handle *h)
{
    struct slice stored = raw;
    int type = STRATA_COMPRESSION_NONE;
    if (compress) {
        int rc = block_compressor_compress(&b->compressor, raw, b->o.compression,
                                           b->o.compression_level, &b->cbuf, &type);
        if (rc != STRATA_OK)
            return rc;
        if (type != STRATA_COMPRESSION_NONE)
            stored = buf_slice(&b->cbuf);
    }
    char trailer[BLOCK_TRAILER_SIZE];
    trailer[0] = (char)type;
    encode_fixed32(trailer + 1, checksum32(stored.data, stored.len, (uint64_t)type));
    h->offset = b->offset;
    h->size = stored.len;
    int rc = table_builder_emit(b, stored.data, stored.len);
    if (rc == STRATA_OK)
        rc = table_builder_emit(b, trailer, sizeof trailer);
    return rc;
}

/* ---- separators ------------------------------------------------------------------------ */

/* Into out: the shortest user key s with a <= s < b when one shorter than
 * a exists past their common prefix, else a itself.  Returns 1 when s > a.
 * (a <= b: the keys come from consecutive internal keys.) */
static int table_separator_user_key(struct slice a, struct slice b, struct buf *out)
{
    size_t n = a.len < b.len ? a.len : b.len, i = 0;
    while (i < n && a.data[i] == b.data[i])
        i++;
    buf_clear(out);
    if (i == n) /* a is a prefix of b (or equal): nothing lies between */
        return buf_append(out, a.data, a.len) == STRATA_OK ? 0 : -1;
    unsigned char c = (unsigned char)a.data[i];
    /* Incrementing the first differing byte gives a key of length i + 1,
     * the shortest possible, when it stays below b's byte. */
    size_t j = i;
    if (c + 1 >= (unsigned char)b.data[i]) {
        /* Keep a's byte i (below b's) and increment the first later byte
         * of a that can be: still below b, above a, shorter than a. */
        for (j = i + 1; j < a.len && (unsigned char)a.data[j] == 0xff; j++)
            ;
        if (j >= a.len)
            return buf_append(out, a.data, a.len) == STRATA_OK ? 0 : -1;
    }
    if (buf_append(out, a.data, j + 1) != STRATA_OK)
        return -1;
    out->data[j]++;
    return 1;
}

/* Into out: the shortest user key s >= a (a's first byte that is not 0xff,
 * incremented, and nothing after it), or a itself.  1 when s > a. */
static int table_successor_user_key(struct slice a, struct buf *out)
{
    buf_clear(out);
    size_t j = 0;
    while (j < a.len && (unsigned char)a.data[j] == 0xff)
        j++;
    if (j == a.len)
        return buf_append(out, a.data, a.len) == STRATA_OK ? 0 : -1;
    if (buf_append(out, a.data, j + 1) != STRATA_OK)
        return -1;
    out->data[j]++;
    return 1;
}

/* Turn the user key in scratch into the index key: tagged to sort before
 * every real entry of that user key when it is a new key (shorter = 1),
 * else replaced by the last internal key itself (shorter = 0). */
static int table_builder_index_key(struct table_builder *b, int shorter)
{
    if (shorter < 0)
        return status_set(STRATA_NO_MEMORY, "out of memory for an index key");
    if (shorter)
        return buf_put_fixed64(&b->scratch, pack_tag(MAX_SEQUENCE, TYPE_FOR_SEEK));
    buf_clear(&b->scratch);
    return buf_append(&b->scratch, b->last_key.data, b->last_key.len);
}

/* The index entry of the block just written, now that the key after it is
 * known (next: the next block's first key, or NULL at the end). */
static int table_builder_add_index_entry(struct table_builder *b, const struct slice *next)
{
    struct slice last = internal_key_user_key(buf_slice(&b->last_key));
    int shorter = next ? table_separator_user_key(last, internal_key_user_key(*next), &b->scratch)
                       : table_successor_user_key(last, &b->scratch);
    int rc = table_builder_index_key(b, shorter);
    if (rc != STRATA_OK)
        return rc;
    char enc[BLOCK_HANDLE_MAX_LEN];
    char *p = encode_varint64(enc, b->pending_handle.offset);
    p = encode_varint64(p, b->pending_handle.size);
    rc = block_builder_add(&b->index, buf_slice(&b->scratch), slice_make(enc, (size_t)(p - enc)));
    if (rc == STRATA_OK)
        b->pending_index = 0;
    return rc;
}

/* ---- adding entries ------------------------------------------------------------------ */

static int table_builder_flush_data_block(struct table_builder *b)
{
    struct slice raw;
    int rc = block_builder_finish(&b->data, &raw);
    if (rc == STRATA_OK)
        rc = table_builder_write_block(b, raw, 1, &b->pending_handle);
    if (rc != STRATA_OK)
        return rc;
    b->props.data_blocks++;
    b->props.data_bytes += b->pending_handle.size + BLOCK_TRAILER_SIZE;
    b->pending_index = 1;
    block_builder_reset(&b->data);
    return STRATA_OK;
}

static int table_builder_add_hash(struct table_builder *b, struct slice user_key)
{
    if (b->nhashes == b->hashes_cap) {
        size_t cap = b->hashes_cap ? 2 * b->hashes_cap : 1024;
        uint64_t *h = realloc(b->hashes, cap * sizeof *h);
        if (h == NULL)
            return status_set(STRATA_NO_MEMORY, "out of memory for %zu filter hashes", cap);
        b->hashes = h;
        b->hashes_cap = cap;
    }
    b->hashes[b->nhashes++] = hash64(user_key.data, user_key.len, 0);
    return STRATA_OK;
}

/* Counts, sizes, key and sequence ranges of one added entry. */
static void table_builder_count(struct table_builder *b, struct slice key, struct slice value)
{
    struct table_properties *p = &b->props;
    uint64_t tag = internal_key_tag(key);
    uint64_t seq = tag >> 8;
    if (p->entries == 0 || seq < p->smallest_seq)
        p->smallest_seq = seq;
    if (p->entries == 0 || seq > p->largest_seq)
        p->largest_seq = seq;
    p->entries++;
    if ((tag & 0xff) == TYPE_DELETION)
        p->deletions++;
    p->raw_key_bytes += key.len;
    p->raw_value_bytes += value.len;
}

/* The filter hash, when the user key differs from the previous one. */
static int table_builder_filter_key(struct table_builder *b, struct slice key)
{
    if (b->o.bloom_bits_per_key == 0)
        return STRATA_OK;
    struct slice uk = internal_key_user_key(key);
    if (b->props.entries > 0 && slice_equal(uk, internal_key_user_key(buf_slice(&b->last_key))))
        return STRATA_OK;
    return table_builder_add_hash(b, uk);
}

static int table_builder_check_key(const struct table_builder *b, struct slice key)
{
    if (b->finished)
        return status_set(STRATA_INVALID_ARGUMENT, "table builder: add after finish");
    if (key.len < INTERNAL_KEY_TAG_LEN)
        return status_set(STRATA_INVALID_ARGUMENT, "table builder: internal key of %zu bytes",
                          key.len);
    /* One comparison per key keeps a caller's ordering bug from writing a
     * table whose seeks silently miss keys. */
    if (b->props.entries > 0 && internal_key_compare(key, buf_slice(&b->last_key)) <= 0)
        return status_set(STRATA_INVALID_ARGUMENT, "table builder: keys added out of order");
    return STRATA_OK;
}

int table_builder_add(struct table_builder *b, struct slice key, struct slice value)
{
    if (b->status != STRATA_OK)
        return b->status;
    int rc = table_builder_check_key(b, key);
    if (rc != STRATA_OK)
        return rc;
    if (b->pending_index && (rc = table_builder_add_index_entry(b, &key)) != STRATA_OK)
        return table_builder_fail(b, rc);
    if ((rc = table_builder_filter_key(b, key)) != STRATA_OK)
        return table_builder_fail(b, rc);
    if ((rc = block_builder_add(&b->data, key, value)) != STRATA_OK)
        return table_builder_fail(b, rc);
    if (b->props.entries == 0 && buf_append(&b->props.smallest_key, key.data, key.len) != STRATA_OK)
        return table_builder_fail(b, STRATA_NO_MEMORY);
    table_builder_count(b, key, value);
    buf_clear(&b->last_key);
    if (buf_append(&b->last_key, key.data, key.len) != STRATA_OK)
        return table_builder_fail(b, STRATA_NO_MEMORY);
    if (block_builder_size_estimate(&b->data) >= b->o.block_size &&
        (rc = table_builder_flush_data_block(b)) != STRATA_OK)
        return table_builder_fail(b, rc);
    return STRATA_OK;
}

/* ---- finishing ------------------------------------------------------------------------- */

/* Property names in increasing bytewise order (the block requires it); the
 * value is a varint64 except for the two keys, stored as raw bytes. */
enum prop_id {
    P_COMPRESSION, P_COMPRESSION_LEVEL, P_CREATION_TIME, P_DATA_BLOCKS, P_DATA_BYTES,
    P_DELETIONS, P_ENTRIES, P_FILTER_BITS, P_FILTER_BYTES, P_INDEX_BYTES, P_LARGEST_KEY,
    P_RAW_KEY_BYTES, P_RAW_VALUE_BYTES, P_SEQ_LARGEST, P_SEQ_SMALLEST, P_SMALLEST_KEY,
    P_COUNT
};

static const char *const prop_names[P_COUNT] = {
    "strata.compression", "strata.compression.level", "strata.creation.time",
    "strata.data.blocks", "strata.data.bytes", "strata.deletions", "strata.entries",
    "strata.filter.bits.per.key", "strata.filter.bytes", "strata.index.bytes",
    "strata.largest.key", "strata.raw.key.bytes", "strata.raw.value.bytes",
    "strata.seq.largest", "strata.seq.smallest", "strata.smallest.key",
};

/* The varint properties' fields, by id (NULL for the raw-bytes keys). */
static uint64_t *table_prop_field(struct table_properties *p, enum prop_id id)
{
    switch (id) {
    case P_COMPRESSION: return &p->compression;
    case P_COMPRESSION_LEVEL: return &p->compression_level;
    case P_CREATION_TIME: return &p->creation_time;
    case P_DATA_BLOCKS: return &p->data_blocks;
    case P_DATA_BYTES: return &p->data_bytes;
    case P_DELETIONS: return &p->deletions;
    case P_ENTRIES: return &p->entries;
    case P_FILTER_BITS: return &p->bloom_bits_per_key;
    case P_FILTER_BYTES: return &p->filter_bytes;
    case P_INDEX_BYTES: return &p->index_bytes;
    case P_RAW_KEY_BYTES: return &p->raw_key_bytes;
    case P_RAW_VALUE_BYTES: return &p->raw_value_bytes;
    case P_SEQ_LARGEST: return &p->largest_seq;
    case P_SEQ_SMALLEST: return &p->smallest_seq;
    default: return NULL;
    }
}

int table_properties_decode_one(struct table_properties *p, struct slice name, struct slice value)
{
    for (int id = 0; id < P_COUNT; id++) {
        if (!slice_equal(name, slice_make(prop_names[id], strlen(prop_names[id]))))
            continue;
        uint64_t *field = table_prop_field(p, (enum prop_id)id);
        if (field == NULL) {
            struct buf *k = id == P_LARGEST_KEY ? &p->largest_key : &p->smallest_key;
            buf_clear(k);
            return buf_append(k, value.data, value.len);
        }
        const char *end = decode_varint64(value.data, value.data + value.len, field);
        return end == value.data + value.len ? STRATA_OK : STRATA_CORRUPTION;
    }
    return STRATA_OK; /* a property from a newer writer: ignored */
}

static int table_builder_properties_block(struct table_builder *b, struct block_builder *pb)
{
    for (int id = 0; id < P_COUNT; id++) {
        uint64_t *field = table_prop_field(&b->props, (enum prop_id)id);
        struct slice value;
        char enc[VARINT64_MAX_LEN];
        if (field != NULL)
            value = slice_make(enc, (size_t)(encode_varint64(enc, *field) - enc));
        else
            value = buf_slice(id == P_LARGEST_KEY ? &b->props.largest_key : &b->props.smallest_key);
        int rc = block_builder_add(pb, slice_make(prop_names[id], strlen(prop_names[id])), value);
        if (rc != STRATA_OK)
            return rc;
    }
    return STRATA_OK;
}

/* Build a block with a scratch builder and write it raw. */
static int table_builder_write_meta(struct table_builder *b, struct block_builder *mb,
                                    struct block_handle *h)
{
    struct slice raw;
    int rc = block_builder_finish(mb, &raw);
    if (rc == STRATA_OK)
        rc = table_builder_write_block(b, raw, 0, h);
    return rc;
}

static int table_builder_write_filter(struct table_builder *b, struct block_handle *h)
{
    struct buf filter = { 0 };
    int rc = bloom_build(b->hashes, b->nhashes, b->o.bloom_bits_per_key, &filter);
    if (rc == STRATA_OK)
        rc = table_builder_write_block(b, buf_slice(&filter), 0, h);
    buf_free(&filter);
    if (rc == STRATA_OK)
        b->props.filter_bytes = h->size + BLOCK_TRAILER_SIZE;
    return rc;
}

static int table_builder_metaindex_add(struct block_builder *mb, const char *name,
                                       const struct block_handle *h)
{
    char enc[BLOCK_HANDLE_MAX_LEN];
    char *p = encode_varint64(enc, h->offset);
    p = encode_varint64(p, h->size);
    return block_builder_add(mb, slice_make(name, strlen(name)), slice_make(enc, (size_t)(p - enc)));
}

/* Filter, properties, metaindex and index (finished as index_raw, whose
 * size the properties record before it is written). */
static int table_builder_write_meta_blocks(struct table_builder *b, struct slice index_raw,
                                           struct footer *f)
{
    struct block_handle filter_h, props_h;
    struct block_builder mb;
    int has_filter = b->o.bloom_bits_per_key > 0;
    int rc = has_filter ? table_builder_write_filter(b, &filter_h) : STRATA_OK;
    b->props.index_bytes = index_raw.len + BLOCK_TRAILER_SIZE;
    if (rc == STRATA_OK && buf_append(&b->props.largest_key, b->last_key.data, b->last_key.len))
        rc = STRATA_NO_MEMORY;
    block_builder_init(&mb, 1);
    if (rc == STRATA_OK)
        rc = table_builder_properties_block(b, &mb);
    if (rc == STRATA_OK)
        rc = table_builder_write_meta(b, &mb, &props_h);
    block_builder_reset(&mb);
    /* "filter.strata.bloom" < "properties": the order the block needs. */
    if (rc == STRATA_OK && has_filter)
        rc = table_builder_metaindex_add(&mb, "filter.strata.bloom", &filter_h);
    if (rc == STRATA_OK)
        rc = table_builder_metaindex_add(&mb, "properties", &props_h);
    if (rc == STRATA_OK)
        rc = table_builder_write_meta(b, &mb, &f->metaindex);
    block_builder_free(&mb);
    if (rc == STRATA_OK)
        rc = table_builder_write_block(b, index_raw, 0, &f->index);
    return rc;
}

int table_builder_finish(struct table_builder *b)
{
    if (b->status != STRATA_OK)
        return b->status;
    if (b->finished)
        return status_set(STRATA_INVALID_ARGUMENT, "table builder: finish called twice");
    b->finished = 1;
    int rc = STRATA_OK;
    if (!block_builder_empty(&b->data))
        rc = table_builder_flush_data_block(b);
    if (rc == STRATA_OK && b->pending_index)
        rc = table_builder_add_index_entry(b, NULL);
    struct slice index_raw;
    if (rc == STRATA_OK)
        rc = block_builder_finish(&b->index, &index_raw);
    struct footer f;
    if (rc == STRATA_OK)
        rc = table_builder_write_meta_blocks(b, index_raw, &f);
    if (rc == STRATA_OK) {
        char enc[FOOTER_SIZE];
        footer_encode(&f, enc);
        rc = table_builder_emit(b, enc, sizeof enc);
    }
    if (rc == STRATA_OK)
        rc = table_builder_flush_wbuf(b);
    return rc == STRATA_OK ? STRATA_OK : table_builder_fail(b, rc);
}

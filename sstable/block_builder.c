/*
 * block_builder.c: builds one block of prefix-compressed, key-sorted
 * entries followed by its restart array (format in block_builder.h and
 * docs/sstable_format.md, "Block").
 *
 * Invariants between calls:
 * - data holds the encoded entries (and, once finished, the restart array
 *   and count after them); nothing else.
 * - restarts holds one uint32 per restart point, the offset in data of an
 *   entry whose shared length is 0.  A restart point is opened for the
 *   first entry and then after every restart_interval entries, so the
 *   number of restart points is ceil(entries / restart_interval), and an
 *   empty block has none (its restart count is 0: four zero bytes).
 * - last_key is the whole key of the last entry added.
 * - Every entry ends at or below UINT32_MAX bytes into the block, so that
 *   every offset the reader sees fits the restart array's 32-bit fields.
 * - A failed add leaves the builder exactly as it was: all memory is
 *   reserved before anything is written.
 */
#include "sstable/block_builder.h"

#include <stdint.h>
#include <string.h>

#include "src/coding.h"
#include "src/status.h"

void block_builder_init(struct block_builder *b, int restart_interval)
{
    memset(b, 0, sizeof *b);
    /* 1 (every entry a restart point) is the smallest interval that means
     * anything; smaller values are taken as 1 rather than refused. */
    b->restart_interval = restart_interval < 1 ? 1 : restart_interval;
}

void block_builder_free(struct block_builder *b)
{
    buf_free(&b->data);
    buf_free(&b->restarts);
    buf_free(&b->last_key);
    b->entries = 0;
    b->since_restart = 0;
    b->finished = 0;
}

void block_builder_reset(struct block_builder *b)
{
    buf_clear(&b->data);
    buf_clear(&b->restarts);
    buf_clear(&b->last_key);
    b->entries = 0;
    b->since_restart = 0;
    b->finished = 0;
}

static size_t block_builder_num_restarts(const struct block_builder *b)
{
    return b->restarts.len / sizeof(uint32_t);
}

size_t block_builder_size_estimate(const struct block_builder *b)
{
    if (b->finished)
        return b->data.len;
    /* The entries, one fixed32 per restart point, and the count. */
    return b->data.len + 4 * (block_builder_num_restarts(b) + 1);
}

static size_t block_builder_common_prefix(struct slice a, struct slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    size_t i = 0;
    /* Eight bytes at a time first: keys often share most of their length
     * (a common user-key prefix and, for internal keys, often more). */
    while (i + 8 <= n) {
        uint64_t x, y;
        memcpy(&x, a.data + i, 8);
        memcpy(&y, b.data + i, 8);
        if (x != y)
            break;
        i += 8;
    }
    while (i < n && a.data[i] == b.data[i])
        i++;
    return i;
}

int block_builder_add(struct block_builder *b, struct slice key, struct slice value)
{
    if (b->finished)
        return status_set(STRATA_INVALID_ARGUMENT, "block builder: add after finish");
    if (key.len > UINT32_MAX || value.len > UINT32_MAX)
        return status_set(STRATA_INVALID_ARGUMENT,
                          "block builder: key of %zu or value of %zu bytes over 4 GiB - 1",
                          key.len, value.len);

    int restart = b->entries == 0 || b->since_restart >= b->restart_interval;
    size_t shared = restart ? 0 : block_builder_common_prefix(buf_slice(&b->last_key), key);
    size_t unshared = key.len - shared;

    char header[3 * VARINT32_MAX_LEN];
    char *p = encode_varint32(header, (uint32_t)shared);
    p = encode_varint32(p, (uint32_t)unshared);
    p = encode_varint32(p, (uint32_t)value.len);
    size_t header_len = (size_t)(p - header);

    size_t entry_len = header_len + unshared + value.len;
    if (entry_len > UINT32_MAX - b->data.len)
        return status_set(STRATA_INVALID_ARGUMENT,
                          "block builder: an entry of %zu bytes would take the block past 4 GiB",
                          entry_len);

    /* Reserve everything first so that a failure changes nothing. */
    int rc = buf_reserve(&b->data, entry_len);
    if (rc == STRATA_OK && restart)
        rc = buf_reserve(&b->restarts, sizeof(uint32_t));
    if (rc == STRATA_OK && key.len > b->last_key.len)
        rc = buf_reserve(&b->last_key, key.len - b->last_key.len);
    if (rc != STRATA_OK)
        return rc;

    if (restart) {
        uint32_t off = (uint32_t)b->data.len;
        buf_append(&b->restarts, &off, sizeof off);
        b->since_restart = 0;
    }
    buf_append(&b->data, header, header_len);
    buf_append(&b->data, key.data + shared, unshared);
    buf_append(&b->data, value.data, value.len);

    /* The first shared bytes of last_key are already the key's. */
    b->last_key.len = shared;
    buf_append(&b->last_key, key.data + shared, unshared);

    b->since_restart++;
    b->entries++;
    return STRATA_OK;
}

int block_builder_finish(struct block_builder *b, struct slice *contents)
{
    if (!b->finished) {
        size_t n = block_builder_num_restarts(b);
        int rc = buf_reserve(&b->data, 4 * (n + 1));
        if (rc != STRATA_OK)
            return rc;
        const uint32_t *offs = (const uint32_t *)(const void *)b->restarts.data;
        for (size_t i = 0; i < n; i++)
            buf_put_fixed32(&b->data, offs[i]);
        buf_put_fixed32(&b->data, (uint32_t)n);
        b->finished = 1;
    }
    *contents = buf_slice(&b->data);
    return STRATA_OK;
}

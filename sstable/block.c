/*
 * block.c: opens and iterates a block written by block_builder.c (format in
 * block_builder.h and docs/sstable_format.md, "Block").
 *
 * What block_open() establishes, once, so that iterators can rely on it:
 * - the block is 4 .. UINT32_MAX bytes and its restart array fits in it;
 * - a block with no restart point has no entries (it is exactly 4 zero
 *   bytes: what the builder writes for an empty block);
 * - otherwise the first restart point is offset 0 and the offsets increase
 *   strictly and stay below entries_end, the start of the restart array.
 *
 * What the iterator checks as it decodes, before using any byte:
 * - every varint and length stays below entries_end (never into the
 *   restart array, never past the block);
 * - a key shares no more bytes than the previous key has, and the first
 *   entry of each restart interval shares none (its key is whole, which is
 *   what lets a seek decode it directly);
 * - entries tile the restart intervals: no entry runs across a restart
 *   point.  Scans and seeks therefore decode the same entries at the same
 *   offsets, whichever restart point they start from.
 * A failed check makes the iterator invalid with STRATA_CORRUPTION, and it
 * stays so (the status is sticky): a damaged block yields no more entries.
 *
 * Iterator state: pos.cur is the current entry, pos.restart_index its
 * restart interval and pos.interval_end where that interval ends (the next
 * restart point, or entries_end).  key holds the current key rebuilt from
 * the prefix compression; scratch is where seek_for_prev builds the next
 * key before deciding whether to step onto it.  Both start in space inside
 * the iterator and move to the heap only for keys longer than that, so
 * that steady-state seeks and steps never allocate.
 */
#include "sstable/block.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/coding.h"
#include "src/status.h"

struct block {
    const char *data;
    size_t size;
    uint32_t entries_end;  /* the entries are [0, entries_end) */
    uint32_t num_restarts;
    int owned;
    const char *file;      /* borrowed from the origin */
    uint64_t offset;
};

/* ---- opening ------------------------------------------------------------- */

/* Check the restart array of contents; 0, or -1 with the reason in why. */
static int block_check_restarts(struct slice c, uint32_t *entries_end, uint32_t *num_restarts,
                                char *why, size_t why_len)
{
    if (c.len < 4) {
        snprintf(why, why_len, "%zu bytes, too short for a restart count", c.len);
        return -1;
    }
    if (c.len > UINT32_MAX) {
        snprintf(why, why_len, "%zu bytes, over the 4 GiB that 32-bit offsets reach", c.len);
        return -1;
    }
    uint32_t n = decode_fixed32(c.data + c.len - 4);
    if (n > (c.len - 4) / 4) {
        snprintf(why, why_len, "restart count %" PRIu32 " does not fit in %zu bytes", n, c.len);
        return -1;
    }
    uint32_t end = (uint32_t)(c.len - 4 - 4 * (size_t)n);
    if (n == 0 && end != 0) {
        snprintf(why, why_len, "%" PRIu32 " bytes of entries but no restart point", end);
        return -1;
    }
    const char *r = c.data + end;
    uint32_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t off = decode_fixed32(r + 4 * (size_t)i);
        if ((i == 0 && off != 0) || (i > 0 && off <= prev) || off >= end) {
            snprintf(why, why_len,
                     "restart point %" PRIu32 " at %" PRIu32 " (previous %" PRIu32
                     ", entries end at %" PRIu32 ")",
                     i, off, prev, end);
            return -1;
        }
        prev = off;
    }
    *entries_end = end;
    *num_restarts = n;
    return 0;
}

int block_open(struct slice contents, int owned, const struct block_origin *origin,
               struct block **out)
{
    const char *file = origin && origin->file ? origin->file : "(unknown file)";
    uint64_t offset = origin ? origin->offset : 0;
    uint32_t end = 0, n = 0;
    char why[160];
    *out = NULL;

    if (block_check_restarts(contents, &end, &n, why, sizeof why) != 0) {
        if (owned)
            free((void *)contents.data);
        return status_set(STRATA_CORRUPTION, "corrupted block in %s at offset %" PRIu64 ": %s",
                          file, offset, why);
    }
    struct block *b = malloc(sizeof *b);
    if (!b) {
        if (owned)
            free((void *)contents.data);
        return status_set(STRATA_NO_MEMORY,
                          "out of memory opening the block in %s at offset %" PRIu64, file, offset);
    }
    b->data = contents.data;
    b->size = contents.len;
    b->entries_end = end;
    b->num_restarts = n;
    b->owned = owned;
    b->file = file;
    b->offset = offset;
    *out = b;
    return STRATA_OK;
}

void block_free(struct block *b)
{
    if (!b)
        return;
    if (b->owned)
        free((void *)b->data);
    free(b);
}

size_t block_size(const struct block *b)
{
    return b->size;
}

uint32_t block_num_restarts(const struct block *b)
{
    return b->num_restarts;
}

/* ---- the iterator ------------------------------------------------------------ */

/* Keys up to this long are rebuilt inside the iterator (an internal key of
 * a 16-byte user key is 24 bytes). */
enum { BLOCK_INLINE_KEY = 64 };

struct block_key {
    char *data;  /* an inline array of the iterator, or malloc'ed */
    size_t len, cap;
};

/* Where the iterator stands.  Steps update it in place; seek_for_prev
 * keeps a copy to undo the one step it decides against. */
struct block_pos {
    uint32_t cur;            /* offset of the entry */
    uint32_t next;           /* offset just past it */
    uint32_t restart_index;  /* its restart interval */
    uint32_t interval_end;   /* the next restart point, or entries_end */
    const char *value;
    uint32_t value_len;
};

struct block_iter {
    struct iter base;
    const struct block *block;
    block_cmp_fn cmp;
    void (*release)(void *arg);
    void *arg;
    const char *data;
    const char *restarts;
    uint32_t entries_end;
    uint32_t num_restarts;
    int valid;
    int status;
    struct block_pos pos;
    struct block_key key, scratch;
    char inline_key[2][BLOCK_INLINE_KEY];
};

static uint32_t block_restart_offset(const struct block_iter *it, uint32_t i)
{
    return decode_fixed32(it->restarts + 4 * (size_t)i);
}

static void block_iter_fail(struct block_iter *it, uint32_t off, const char *reason)
{
    it->valid = 0;
    it->status = status_set(STRATA_CORRUPTION,
                            "corrupted block in %s at offset %" PRIu64
                            ": %s (entry at byte %" PRIu32 " of the block)",
                            it->block->file, it->block->offset, reason, off);
}

static int block_key_is_inline(const struct block_iter *it, const struct block_key *k)
{
    return k->data == it->inline_key[0] || k->data == it->inline_key[1];
}

/* Make room for need bytes in k, keeping its first k->len bytes. */
static int block_key_grow(struct block_iter *it, struct block_key *k, size_t need)
{
    size_t cap = k->cap * 2 > need ? k->cap * 2 : need;
    char *p = malloc(cap);
    if (!p) {
        it->valid = 0;
        it->status = status_set(STRATA_NO_MEMORY,
                                "out of memory for a key of %zu bytes in the block in %s"
                                " at offset %" PRIu64,
                                need, it->block->file, it->block->offset);
        return -1;
    }
    memcpy(p, k->data, k->len);
    if (!block_key_is_inline(it, k))
        free(k->data);
    k->data = p;
    k->cap = cap;
    return 0;
}

/* The header of one entry, checked against entries_end. */
struct block_entry {
    uint32_t shared, unshared, value_len;
    const char *delta;  /* the unshared key bytes; the value follows them */
};

/* Decode the entry at off; NULL, or the reason it is malformed. */
static inline const char *block_decode_header(const struct block_iter *it, uint32_t off,
                                              struct block_entry *e)
{
    const char *p = it->data + off;
    const char *limit = it->data + it->entries_end;
    const unsigned char *u = (const unsigned char *)p;
    if (limit - p >= 3 && !((u[0] | u[1] | u[2]) & 0x80)) {
        /* The usual case: all three lengths under 128, one byte each. */
        e->shared = u[0];
        e->unshared = u[1];
        e->value_len = u[2];
        p += 3;
    } else {
        p = decode_varint32(p, limit, &e->shared);
        if (p)
            p = decode_varint32(p, limit, &e->unshared);
        if (p)
            p = decode_varint32(p, limit, &e->value_len);
        if (!p)
            return "entry header runs past the entries or is not a varint";
    }
    size_t room = (size_t)(limit - p);
    if (e->unshared > room || e->value_len > room - e->unshared)
        return "key or value runs past the entries";
    e->delta = p;
    return NULL;
}

/* Decode the entry after pos (at pos->next, which opens the next restart
 * interval when it is that interval's restart point), move pos onto it,
 * and rebuild its key in dst from the current key (dst may be the current
 * key itself).  1 on success; 0 when the entries end, pos untouched; -1 on
 * damage: the iterator has failed.  pos is updated in place rather than
 * copied whole: a struct written field by field and read back at once as
 * a whole stalls store forwarding, which cost half the time of a step. */
static int block_decode_next(struct block_iter *it, struct block_pos *pos,
                             struct block_key *dst)
{
    uint32_t off = pos->next;
    int opens_interval = 0;
    if (off >= pos->interval_end) {
        /* Checked before the end of the entries: the last entry may run
         * across the restart points after it too. */
        if (off > pos->interval_end) {
            block_iter_fail(it, pos->cur, "entry runs across a restart point");
            return -1;
        }
        if (off >= it->entries_end)
            return 0;
        pos->restart_index++;
        pos->interval_end = pos->restart_index + 1 < it->num_restarts
                                ? block_restart_offset(it, pos->restart_index + 1)
                                : it->entries_end;
        opens_interval = 1;
    }
    struct block_entry e;
    const char *why = block_decode_header(it, off, &e);
    if (!why && opens_interval && e.shared != 0)
        why = "key at a restart point is not whole";
    if (!why && e.shared > it->key.len)
        why = "key shares more bytes than the previous key has";
    if (why) {
        block_iter_fail(it, off, why);
        return -1;
    }
    size_t len = (size_t)e.shared + e.unshared;
    if (len > dst->cap && block_key_grow(it, dst, len) != 0)
        return -1;
    if (dst != &it->key)
        memcpy(dst->data, it->key.data, e.shared);
    memcpy(dst->data + e.shared, e.delta, e.unshared);
    dst->len = len;
    pos->cur = off;
    pos->value = e.delta + e.unshared;
    pos->value_len = e.value_len;
    pos->next = (uint32_t)(pos->value + e.value_len - it->data);
    return 1;
}

/* Move to the next entry: 1, or 0 (invalid) at the end or on damage. */
static int block_iter_step(struct block_iter *it)
{
    it->valid = block_decode_next(it, &it->pos, &it->key) > 0;
    return it->valid;
}

/* Get ready to decode the first entry of restart interval i. */
static void block_iter_to_restart(struct block_iter *it, uint32_t i)
{
    it->key.len = 0; /* so that a non-zero shared length fails */
    it->pos.restart_index = i;
    it->pos.cur = it->pos.next = block_restart_offset(it, i);
    it->pos.interval_end =
        i + 1 < it->num_restarts ? block_restart_offset(it, i + 1) : it->entries_end;
    it->valid = 0;
}

/* The whole key at restart point i, read in place; 0, or -1 on damage. */
static int block_restart_key(struct block_iter *it, uint32_t i, struct slice *key)
{
    uint32_t off = block_restart_offset(it, i);
    struct block_entry e;
    const char *why = block_decode_header(it, off, &e);
    if (!why && e.shared != 0)
        why = "key at a restart point is not whole";
    if (why) {
        block_iter_fail(it, off, why);
        return -1;
    }
    *key = slice_make(e.delta, e.unshared);
    return 0;
}

/* A failed iterator stays failed; an empty block has nothing to find. */
static int block_iter_usable(struct block_iter *it)
{
    it->valid = 0;
    return it->status == STRATA_OK && it->num_restarts > 0;
}

static int block_iter_valid(const struct iter *base)
{
    return ((const struct block_iter *)base)->valid;
}

static void block_iter_seek_to_first(struct iter *base)
{
    struct block_iter *it = (struct block_iter *)base;
    if (!block_iter_usable(it))
        return;
    block_iter_to_restart(it, 0);
    block_iter_step(it);
}

static void block_iter_seek_to_last(struct iter *base)
{
    struct block_iter *it = (struct block_iter *)base;
    if (!block_iter_usable(it))
        return;
    block_iter_to_restart(it, it->num_restarts - 1);
    while (block_iter_step(it) && it->pos.next < it->entries_end) {
    }
}

static void block_iter_seek(struct iter *base, struct slice target)
{
    struct block_iter *it = (struct block_iter *)base;
    if (!block_iter_usable(it))
        return;
    /* The last restart point whose key is < target: the first entry >= target
     * lies in its interval or is the next restart point's. */
    uint32_t lo = 0, hi = it->num_restarts - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        struct slice k;
        if (block_restart_key(it, mid, &k) != 0)
            return;
        int c = it->cmp(k, target);
        if (c == 0) { /* exact hit: no need to scan the interval before it */
            lo = mid;
            break;
        }
        if (c < 0)
            lo = mid;
        else
            hi = mid - 1;
    }
    block_iter_to_restart(it, lo);
    while (block_iter_step(it) && it->cmp(slice_make(it->key.data, it->key.len), target) < 0) {
    }
}

static void block_key_swap(struct block_key *a, struct block_key *b)
{
    struct block_key t = *a;
    *a = *b;
    *b = t;
}

static void block_iter_seek_for_prev(struct iter *base, struct slice target)
{
    struct block_iter *it = (struct block_iter *)base;
    if (!block_iter_usable(it))
        return;
    /* The last restart point whose key is <= target. */
    uint32_t lo = 0, hi = it->num_restarts - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        struct slice k;
        if (block_restart_key(it, mid, &k) != 0)
            return;
        if (it->cmp(k, target) <= 0)
            lo = mid;
        else
            hi = mid - 1;
    }
    block_iter_to_restart(it, lo);
    if (!block_iter_step(it))
        return;
    if (it->cmp(slice_make(it->key.data, it->key.len), target) > 0) {
        it->valid = 0; /* lo is 0: every key is > target */
        return;
    }
    /* Step while the next key is still <= target, building it in scratch
     * first so that the current key survives when it is not. */
    for (;;) {
        struct block_pos saved = it->pos;
        int r = block_decode_next(it, &it->pos, &it->scratch);
        if (r <= 0)
            return; /* the entries end here, or the iterator has failed */
        if (it->cmp(slice_make(it->scratch.data, it->scratch.len), target) > 0) {
            it->pos = saved;
            return;
        }
        block_key_swap(&it->key, &it->scratch);
    }
}

static void block_iter_next(struct iter *base)
{
    block_iter_step((struct block_iter *)base);
}

static void block_iter_prev(struct iter *base)
{
    struct block_iter *it = (struct block_iter *)base;
    uint32_t original = it->pos.cur;
    uint32_t r = it->pos.restart_index;
    /* The entry before: in this restart interval unless the current entry
     * opens it, then at the end of the previous one.  Scan to it. */
    if (block_restart_offset(it, r) == original) {
        if (r == 0) {
            it->valid = 0;
            return;
        }
        r--;
    }
    block_iter_to_restart(it, r);
    while (block_iter_step(it) && it->pos.next < original) {
    }
}

static struct slice block_iter_key(const struct iter *base)
{
    const struct block_iter *it = (const struct block_iter *)base;
    return slice_make(it->key.data, it->key.len);
}

static struct slice block_iter_value(const struct iter *base)
{
    const struct block_iter *it = (const struct block_iter *)base;
    return slice_make(it->pos.value, it->pos.value_len);
}

static int block_iter_status(const struct iter *base)
{
    return ((const struct block_iter *)base)->status;
}

static void block_iter_destroy(struct iter *base)
{
    struct block_iter *it = (struct block_iter *)base;
    if (!block_key_is_inline(it, &it->key))
        free(it->key.data);
    if (!block_key_is_inline(it, &it->scratch))
        free(it->scratch.data);
    if (it->release)
        it->release(it->arg);
    free(it);
}

static const struct iter_ops block_iter_ops = {
    .valid = block_iter_valid,
    .seek_to_first = block_iter_seek_to_first,
    .seek_to_last = block_iter_seek_to_last,
    .seek = block_iter_seek,
    .seek_for_prev = block_iter_seek_for_prev,
    .next = block_iter_next,
    .prev = block_iter_prev,
    .key = block_iter_key,
    .value = block_iter_value,
    .status = block_iter_status,
    .destroy = block_iter_destroy,
};

struct iter *block_iter_new(struct block *b, block_cmp_fn cmp, void (*release)(void *arg),
                            void *arg)
{
    struct block_iter *it = malloc(sizeof *it);
    if (!it) {
        status_set(STRATA_NO_MEMORY,
                   "out of memory for an iterator over the block in %s at offset %" PRIu64,
                   b->file, b->offset);
        if (release)
            release(arg);
        return NULL;
    }
    memset(it, 0, offsetof(struct block_iter, inline_key));
    it->base.ops = &block_iter_ops;
    it->block = b;
    it->cmp = cmp;
    it->release = release;
    it->arg = arg;
    it->data = b->data;
    it->restarts = b->data + b->entries_end;
    it->entries_end = b->entries_end;
    it->num_restarts = b->num_restarts;
    it->key.data = it->inline_key[0];
    it->key.cap = BLOCK_INLINE_KEY;
    it->scratch.data = it->inline_key[1];
    it->scratch.cap = BLOCK_INLINE_KEY;
    return &it->base;
}

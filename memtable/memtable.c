/*
 * memtable.c: the in-memory write buffer (see memtable.h).
 *
 * Layout: each entry is built in place right after its skiplist node, in
 * one arena allocation (skiplist_reserve), so a search that reaches a node
 * finds the key it compares on the same or the next cache line:
 *     node: key pointer | next[height] | entry:
 *     varint32 user key length | user key | fixed64 tag | varint32 value length | value
 *
 * Invariants:
 * - Entries are immutable once inserted and live as long as the arena,
 *   which lives until the last reference is dropped: slices handed out by
 *   memtable_get and the iterator stay valid while the caller holds a
 *   reference.
 * - Searches compare entries with a probe in the same format, built from
 *   the user key and a tag (the value part is never read by the
 *   comparator).  A probe that does not fit the caller's buffer and cannot
 *   be allocated is replaced by a prefix of the user key and a walk
 *   forward, so lookups never fail: they can only be slower.  The
 *   iterator's status() therefore only ever reports a seek target too
 *   short to be an internal key (STRATA_INVALID_ARGUMENT, kept until the
 *   iterator is destroyed).
 * - memtable_add rejects, with STRATA_INVALID_ARGUMENT, what the entry
 *   format cannot hold (a sequence over 56 bits, an unknown type, a length
 *   over 2^32-1) rather than storing an entry that would decode wrongly.
 */
#include "memtable/memtable.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "memtable/arena.h"
#include "memtable/skiplist.h"
#include "src/coding.h"
#include "src/status.h"

enum {
    /* Probes (varint length, user key, tag) up to this size are built on
     * the stack or inside the iterator: no allocation for ordinary keys. */
    PROBE_INLINE = 256,
    /* The skiplist's height sequence; fixed so that runs are repeatable. */
    MEMTABLE_SEED = 0x5EED,
};

struct memtable {
    atomic_int refs;
    _Atomic(uint64_t) count;
    struct skiplist *list;
    struct arena arena;
};

/* ---- entries ------------------------------------------------------------ */

/* Entries were encoded by memtable_add and probes by encode_probe, so the
 * varint is well formed; a one-byte length is by far the most common case
 * and is decoded inline.  Every entry and probe is at least 9 bytes, so the
 * limit stays inside it. */
static inline const char *decode_len(const char *p, uint32_t *len)
{
    unsigned char first = (unsigned char)*p;
    if (first < 0x80) {
        *len = first;
        return p + 1;
    }
    return decode_varint32(p, p + VARINT32_MAX_LEN, len);
}

/* User key + tag. */
static inline struct slice entry_internal_key(const char *entry)
{
    uint32_t len;
    const char *p = decode_len(entry, &len);
    return slice_make(p, (size_t)len + INTERNAL_KEY_TAG_LEN);
}

static struct slice entry_value(const char *entry)
{
    struct slice ikey = entry_internal_key(entry);
    uint32_t len;
    const char *p = decode_len(ikey.data + ikey.len, &len);
    return slice_make(p, len);
}

/* 8 bytes as a big-endian integer: integers compare as memcmp would. */
static inline uint64_t load_be64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* memcmp's sign for n bytes.  Short keys are compared inline, a word at a
 * time: a skiplist search compares some 30 keys, and with 16-byte keys the
 * calls into libc's memcmp took a quarter of a memtable insert (inline,
 * inserts of random keys take about 15% less time).  Long keys go to
 * memcmp, which is vectorized. */
static inline int bytes_compare(const unsigned char *a, const unsigned char *b, size_t n)
{
    if (n > 32)
        return memcmp(a, b, n);
    for (; n >= 8; a += 8, b += 8, n -= 8) {
        uint64_t x = load_be64(a), y = load_be64(b);
        if (x != y)
            return x < y ? -1 : 1;
    }
    for (; n > 0; a++, b++, n--) {
        if (*a != *b)
            return *a < *b ? -1 : 1;
    }
    return 0;
}

/* The skiplist's order: internal keys, user key ascending then newest
 * first (internal_key_compare, without its checks: every entry and probe
 * has a tag). */
static int entry_compare(const char *a, const char *b)
{
    uint32_t alen, blen;
    const char *ka = decode_len(a, &alen);
    const char *kb = decode_len(b, &blen);
    int r = bytes_compare((const unsigned char *)ka, (const unsigned char *)kb,
                          alen < blen ? alen : blen);
    if (r != 0)
        return r;
    if (alen != blen)
        return alen < blen ? -1 : 1;
    uint64_t ta = decode_fixed64(ka + alen), tb = decode_fixed64(kb + blen);
    return (ta < tb) - (ta > tb);
}

/* entry against (user_key, tag) when they are not one encoded probe. */
static int entry_compare_parts(const char *entry, struct slice user_key, uint64_t tag)
{
    struct slice ikey = entry_internal_key(entry);
    int r = slice_compare(internal_key_user_key(ikey), user_key);
    if (r != 0)
        return r;
    uint64_t t = internal_key_tag(ikey);
    return (t < tag) - (t > tag);
}

static size_t entry_size(size_t klen, size_t vlen)
{
    return (size_t)varint_length(klen) + klen + INTERNAL_KEY_TAG_LEN +
           (size_t)varint_length(vlen) + vlen;
}

/* ---- probes ------------------------------------------------------------- */

/* Whether the probe for a user key of klen bytes fits in cap bytes. */
static int probe_fits(size_t klen, size_t cap)
{
    return klen <= UINT32_MAX && klen < cap &&
           cap - klen >= (size_t)varint_length(klen) + INTERNAL_KEY_TAG_LEN;
}

/* The size of a probe for klen bytes, or 0 when it cannot be built. */
static size_t probe_size(size_t klen)
{
    if (klen > UINT32_MAX || klen > SIZE_MAX - VARINT32_MAX_LEN - INTERNAL_KEY_TAG_LEN)
        return 0;
    return (size_t)varint_length(klen) + klen + INTERNAL_KEY_TAG_LEN;
}

static void encode_probe(char *buf, struct slice user_key, uint64_t tag)
{
    char *p = encode_varint32(buf, (uint32_t)user_key.len);
    if (user_key.len > 0)
        memcpy(p, user_key.data, user_key.len);
    encode_fixed64(p + user_key.len, tag);
}

/*
 * First entry >= (user_key, tag), with a probe built in buf (cap >=
 * PROBE_INLINE bytes).  When the probe does not fit, seek to a prefix of
 * the user key with the highest tag, which sorts at or before the target,
 * and walk forward over the entries that share that prefix.
 */
static void seek_ge(struct skiplist_iter *it, struct slice user_key, uint64_t tag,
                    char *buf, size_t cap)
{
    if (probe_fits(user_key.len, cap)) {
        encode_probe(buf, user_key, tag);
        skiplist_iter_seek(it, buf);
        return;
    }
    struct slice prefix = slice_make(user_key.data, cap - VARINT32_MAX_LEN - INTERNAL_KEY_TAG_LEN);
    encode_probe(buf, prefix, UINT64_MAX);
    skiplist_iter_seek(it, buf);
    while (skiplist_iter_valid(it) && entry_compare_parts(skiplist_iter_key(it), user_key, tag) < 0)
        skiplist_iter_next(it);
}

/* Last entry <= (user_key, tag); buf and cap as for seek_ge. */
static void seek_le(struct skiplist_iter *it, struct slice user_key, uint64_t tag,
                    char *buf, size_t cap)
{
    if (probe_fits(user_key.len, cap)) {
        encode_probe(buf, user_key, tag);
        skiplist_iter_seek_for_prev(it, buf);
        return;
    }
    seek_ge(it, user_key, tag, buf, cap);
    if (!skiplist_iter_valid(it))
        skiplist_iter_seek_to_last(it);
    else if (entry_compare_parts(skiplist_iter_key(it), user_key, tag) != 0)
        skiplist_iter_prev(it);
}

/* ---- the memtable ------------------------------------------------------- */

struct memtable *memtable_new_pooled(struct arena_pool *pool)
{
    struct memtable *m = malloc(sizeof *m);
    if (m == NULL) {
        status_set(STRATA_NO_MEMORY, "memtable: out of memory");
        return NULL;
    }
    arena_init_pooled(&m->arena, pool);
    m->list = skiplist_new(&m->arena, entry_compare, MEMTABLE_SEED);
    if (m->list == NULL) {
        arena_destroy(&m->arena);
        free(m);
        return NULL;
    }
    atomic_init(&m->refs, 1);
    atomic_init(&m->count, 0);
    return m;
}

struct memtable *memtable_new(void)
{
    return memtable_new_pooled(NULL);
}

void memtable_ref(struct memtable *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void memtable_unref(struct memtable *m)
{
    /* acq_rel: every holder's last use happens before the free. */
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    arena_destroy(&m->arena);
    free(m);
}

static int check_add_args(uint64_t sequence, enum value_type type, struct slice user_key,
                          struct slice value)
{
    if (sequence > MAX_SEQUENCE)
        return status_set(STRATA_INVALID_ARGUMENT, "memtable: sequence %llu exceeds 56 bits",
                          (unsigned long long)sequence);
    if (type != TYPE_VALUE && type != TYPE_DELETION)
        return status_set(STRATA_INVALID_ARGUMENT, "memtable: unknown value type %d", (int)type);
    if (user_key.len > UINT32_MAX || value.len > UINT32_MAX)
        return status_set(STRATA_INVALID_ARGUMENT,
                          "memtable: key (%zu bytes) or value (%zu bytes) over 2^32-1 bytes",
                          user_key.len, value.len);
    return STRATA_OK;
}

int memtable_add(struct memtable *m, uint64_t sequence, enum value_type type,
                 struct slice user_key, struct slice value)
{
    if (type == TYPE_DELETION)
        value = slice_make("", 0);
    int rc = check_add_args(sequence, type, user_key, value);
    if (rc != STRATA_OK)
        return rc;

    struct skiplist_slot slot;
    rc = skiplist_reserve(m->list, entry_size(user_key.len, value.len), &slot);
    if (rc != STRATA_OK)
        return rc;
    char *p = encode_varint32(slot.key, (uint32_t)user_key.len);
    if (user_key.len > 0)
        memcpy(p, user_key.data, user_key.len);
    p += user_key.len;
    encode_fixed64(p, pack_tag(sequence, type));
    p = encode_varint32(p + INTERNAL_KEY_TAG_LEN, (uint32_t)value.len);
    if (value.len > 0)
        memcpy(p, value.data, value.len);
    skiplist_insert_reserved(m->list, &slot);

    /* One writer: a plain increment, atomic only for the readers. */
    uint64_t n = atomic_load_explicit(&m->count, memory_order_relaxed);
    atomic_store_explicit(&m->count, n + 1, memory_order_relaxed);
    return STRATA_OK;
}

enum memtable_get_result memtable_get(struct memtable *m, struct slice user_key,
                                      uint64_t sequence, struct slice *value)
{
    if (sequence > MAX_SEQUENCE)
        sequence = MAX_SEQUENCE;
    uint64_t tag = pack_tag(sequence, TYPE_FOR_SEEK);

    char stack_probe[PROBE_INLINE];
    char *heap_probe = NULL;
    size_t need = probe_size(user_key.len);
    if (need > sizeof stack_probe)
        heap_probe = malloc(need); /* on failure seek_ge walks instead */

    struct skiplist_iter it;
    skiplist_iter_init(&it, m->list);
    if (heap_probe != NULL)
        seek_ge(&it, user_key, tag, heap_probe, need);
    else
        seek_ge(&it, user_key, tag, stack_probe, sizeof stack_probe);
    free(heap_probe);

    if (!skiplist_iter_valid(&it))
        return MEMTABLE_ABSENT;
    const char *entry = skiplist_iter_key(&it);
    struct slice ikey = entry_internal_key(entry);
    if (!slice_equal(internal_key_user_key(ikey), user_key))
        return MEMTABLE_ABSENT;
    if ((internal_key_tag(ikey) & 0xff) == TYPE_DELETION)
        return MEMTABLE_DELETED;
    *value = entry_value(entry);
    return MEMTABLE_FOUND;
}

size_t memtable_memory_usage(const struct memtable *m)
{
    return arena_memory_usage(&m->arena);
}

size_t memtable_data_size(const struct memtable *m)
{
    return arena_allocated(&m->arena);
}

uint64_t memtable_count(const struct memtable *m)
{
    return atomic_load_explicit(&m->count, memory_order_relaxed);
}

/* ---- the iterator ------------------------------------------------------- */

struct memtable_iter {
    struct iter base;
    struct memtable *mem;
    struct skiplist_iter pos;
    int status;
    /* Kept across seeks for probes larger than PROBE_INLINE. */
    char *heap_probe;
    size_t heap_cap;
    char probe[PROBE_INLINE];
};

static struct memtable_iter *as_mi(struct iter *it)
{
    return (struct memtable_iter *)it;
}

static const struct memtable_iter *as_cmi(const struct iter *it)
{
    return (const struct memtable_iter *)it;
}

static int mi_valid(const struct iter *it)
{
    return skiplist_iter_valid(&as_cmi(it)->pos);
}

static void mi_seek_to_first(struct iter *it)
{
    skiplist_iter_seek_to_first(&as_mi(it)->pos);
}

static void mi_seek_to_last(struct iter *it)
{
    skiplist_iter_seek_to_last(&as_mi(it)->pos);
}

/* A buffer for a probe of a klen-byte user key: the inline one, a heap one
 * grown on demand, or the inline one again when growing fails (seek_ge and
 * seek_le then fall back to their walk). */
static char *probe_buffer(struct memtable_iter *mi, size_t klen, size_t *cap)
{
    size_t need = probe_size(klen);
    if (need != 0 && need > sizeof mi->probe) {
        if (need > mi->heap_cap) {
            free(mi->heap_probe);
            mi->heap_probe = malloc(need);
            mi->heap_cap = mi->heap_probe != NULL ? need : 0;
        }
        if (mi->heap_probe != NULL) {
            *cap = mi->heap_cap;
            return mi->heap_probe;
        }
    }
    *cap = sizeof mi->probe;
    return mi->probe;
}

/* Splits an internal-key target; 0 (and the iterator invalid, with an
 * error status) when it is too short to be one. */
static int split_target(struct memtable_iter *mi, struct slice target, struct slice *user_key,
                        uint64_t *tag)
{
    if (target.len < INTERNAL_KEY_TAG_LEN) {
        mi->pos.node = NULL;
        mi->status = status_set(STRATA_INVALID_ARGUMENT,
                                "memtable iterator: seek target of %zu bytes is not an internal key",
                                target.len);
        return 0;
    }
    *user_key = internal_key_user_key(target);
    *tag = internal_key_tag(target);
    return 1;
}

static void mi_seek(struct iter *it, struct slice target)
{
    struct memtable_iter *mi = as_mi(it);
    struct slice user_key;
    uint64_t tag;
    if (!split_target(mi, target, &user_key, &tag))
        return;
    size_t cap;
    char *buf = probe_buffer(mi, user_key.len, &cap);
    seek_ge(&mi->pos, user_key, tag, buf, cap);
}

static void mi_seek_for_prev(struct iter *it, struct slice target)
{
    struct memtable_iter *mi = as_mi(it);
    struct slice user_key;
    uint64_t tag;
    if (!split_target(mi, target, &user_key, &tag))
        return;
    size_t cap;
    char *buf = probe_buffer(mi, user_key.len, &cap);
    seek_le(&mi->pos, user_key, tag, buf, cap);
}

static void mi_next(struct iter *it)
{
    skiplist_iter_next(&as_mi(it)->pos);
}

static void mi_prev(struct iter *it)
{
    skiplist_iter_prev(&as_mi(it)->pos);
}

static struct slice mi_key(const struct iter *it)
{
    const struct skiplist_iter *pos = &as_cmi(it)->pos;
    if (!skiplist_iter_valid(pos))
        return slice_make("", 0);
    return entry_internal_key(skiplist_iter_key(pos));
}

static struct slice mi_value(const struct iter *it)
{
    const struct skiplist_iter *pos = &as_cmi(it)->pos;
    if (!skiplist_iter_valid(pos))
        return slice_make("", 0);
    return entry_value(skiplist_iter_key(pos));
}

static int mi_status(const struct iter *it)
{
    return as_cmi(it)->status;
}

static void mi_destroy(struct iter *it)
{
    struct memtable_iter *mi = as_mi(it);
    free(mi->heap_probe);
    memtable_unref(mi->mem);
    free(mi);
}

static const struct iter_ops memtable_iter_ops = {
    .valid = mi_valid,
    .seek_to_first = mi_seek_to_first,
    .seek_to_last = mi_seek_to_last,
    .seek = mi_seek,
    .seek_for_prev = mi_seek_for_prev,
    .next = mi_next,
    .prev = mi_prev,
    .key = mi_key,
    .value = mi_value,
    .status = mi_status,
    .destroy = mi_destroy,
};

struct iter *memtable_iter_new(struct memtable *m)
{
    struct memtable_iter *mi = malloc(sizeof *mi);
    if (mi == NULL) {
        status_set(STRATA_NO_MEMORY, "memtable: out of memory for an iterator");
        return NULL;
    }
    mi->base.ops = &memtable_iter_ops;
    mi->mem = m;
    skiplist_iter_init(&mi->pos, m->list);
    mi->status = STRATA_OK;
    mi->heap_probe = NULL;
    mi->heap_cap = 0;
    memtable_ref(m);
    return &mi->base;
}

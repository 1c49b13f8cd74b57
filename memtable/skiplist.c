/*
 * skiplist.c: a lock-free-for-readers skiplist with one writer (see
 * skiplist.h).
 *
 * Invariants:
 * - Level 0 links every node in key order; level i links a subset of level
 *   i-1 in the same order.  A node of height h is on levels 0..h-1.
 * - A node's key and its own next pointers are written before the node is
 *   published, and it is published with a release store at each level from
 *   the bottom up.  Readers load next pointers with acquire, so whatever
 *   node they reach is complete.  Each level stays a sorted list at every
 *   instant, so a reader never misses a node that was published before its
 *   search started and never sees keys out of order.
 * - max_height only grows.  Readers read it relaxed: a stale value only
 *   makes them start lower, and with a fresh one the head's pointers above
 *   the old height may still be NULL, which reads as an empty level.
 * - Nodes are never unlinked or freed while the list lives; the arena owns
 *   them.
 */
#include "memtable/skiplist.h"

#include <stdatomic.h>
#include <stddef.h>

#include "src/status.h"

enum {
    SKIPLIST_MAX_HEIGHT = 12,
};

struct skiplist_node {
    const char *key;
    /* Sized by the node's height when allocated. */
    _Atomic(struct skiplist_node *) next[];
};

struct skiplist {
    skiplist_cmp_fn cmp;
    struct arena *arena;
    struct skiplist_node *head; /* no key; SKIPLIST_MAX_HEIGHT pointers */
    atomic_int max_height;
    uint64_t rng; /* xorshift64* state; the writer's alone */
};

static size_t node_size(int height)
{
    return offsetof(struct skiplist_node, next) +
           (size_t)height * sizeof(_Atomic(struct skiplist_node *));
}

static struct skiplist_node *next_of(const struct skiplist_node *n, int level)
{
    return atomic_load_explicit(&n->next[level], memory_order_acquire);
}

static int current_height(const struct skiplist *list)
{
    return atomic_load_explicit(&list->max_height, memory_order_relaxed);
}

/* xorshift64*: tiny, fast and good enough to shape a skiplist; its high
 * bits are the better ones. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* Height h with probability (1/4)^(h-1) * 3/4, capped: two random bits per
 * level decide whether the node goes one level higher. */
static int random_height(struct skiplist *list)
{
    uint64_t bits = next_random(&list->rng) >> 32;
    int height = 1;
    while (height < SKIPLIST_MAX_HEIGHT && (bits & 3) == 0) {
        height++;
        bits >>= 2;
    }
    return height;
}

struct skiplist *skiplist_new(struct arena *arena, skiplist_cmp_fn cmp, uint64_t seed)
{
    struct skiplist *list = (struct skiplist *)arena_alloc_aligned(arena, sizeof *list);
    struct skiplist_node *head =
        (struct skiplist_node *)arena_alloc_aligned(arena, node_size(SKIPLIST_MAX_HEIGHT));
    if (list == NULL || head == NULL) {
        status_set(STRATA_NO_MEMORY, "skiplist: out of memory creating a list");
        return NULL;
    }
    head->key = NULL;
    for (int i = 0; i < SKIPLIST_MAX_HEIGHT; i++)
        atomic_init(&head->next[i], NULL);
    list->cmp = cmp;
    list->arena = arena;
    list->head = head;
    atomic_init(&list->max_height, 1);
    /* xorshift's state must never be zero. */
    list->rng = seed ^ UINT64_C(0x9E3779B97F4A7C15);
    if (list->rng == 0)
        list->rng = UINT64_C(0x9E3779B97F4A7C15);
    return list;
}

/*
 * The first node whose key is >= key (NULL if none).  When prev is not
 * NULL, prev[i] receives the last node before that position on level i,
 * for every level below the height read at the start.
 */
static struct skiplist_node *find_ge(const struct skiplist *list, const char *key,
                                     struct skiplist_node **prev)
{
    struct skiplist_node *x = list->head;
    int level = current_height(list) - 1;
    /* A node already found >= key on a higher level is often the next one
     * on the level below too: recognizing it saves a comparison (and the
     * cache miss of reading its key again). */
    const struct skiplist_node *known_ge = NULL;
    for (;;) {
        struct skiplist_node *next = next_of(x, level);
        if (next != NULL && next != known_ge && list->cmp(next->key, key) < 0) {
            x = next;
            continue;
        }
        if (prev != NULL)
            prev[level] = x;
        if (level == 0)
            return next;
        known_ge = next;
        level--;
    }
}

/* The last node whose key is < key, or <= key when or_equal; the head
 * when there is none. */
static const struct skiplist_node *find_last_before(const struct skiplist *list,
                                                    const char *key, int or_equal)
{
    const struct skiplist_node *x = list->head;
    int level = current_height(list) - 1;
    int bound = or_equal ? 1 : 0;
    const struct skiplist_node *known_after = NULL;
    for (;;) {
        struct skiplist_node *next = next_of(x, level);
        if (next != NULL && next != known_after && list->cmp(next->key, key) < bound) {
            x = next;
            continue;
        }
        if (level == 0)
            return x;
        known_after = next;
        level--;
    }
}

static const struct skiplist_node *find_last(const struct skiplist *list)
{
    const struct skiplist_node *x = list->head;
    int level = current_height(list) - 1;
    for (;;) {
        struct skiplist_node *next = next_of(x, level);
        if (next != NULL) {
            x = next;
            continue;
        }
        if (level == 0)
            return x;
        level--;
    }
}

int skiplist_reserve(struct skiplist *list, size_t key_size, struct skiplist_slot *slot)
{
    int height = random_height(list);
    size_t header = node_size(height);
    if (key_size > SIZE_MAX - header)
        return status_set(STRATA_NO_MEMORY, "skiplist: key of %zu bytes is too large", key_size);
    char *mem = arena_alloc_aligned(list->arena, header + key_size);
    if (mem == NULL)
        return status_set(STRATA_NO_MEMORY, "skiplist: out of memory for a node of %zu bytes",
                          header + key_size);
    slot->node = (struct skiplist_node *)mem;
    slot->key = mem + header;
    slot->height = height;
    return STRATA_OK;
}

void skiplist_insert_reserved(struct skiplist *list, const struct skiplist_slot *slot)
{
    struct skiplist_node *node = slot->node;
    struct skiplist_node *prev[SKIPLIST_MAX_HEIGHT];
    node->key = slot->key;
    find_ge(list, node->key, prev);

    int height = slot->height;
    int old_height = current_height(list);
    if (height > old_height) {
        for (int i = old_height; i < height; i++)
            prev[i] = list->head;
        atomic_store_explicit(&list->max_height, height, memory_order_relaxed);
    }
    /* Nobody can see the node yet: relaxed stores for its own pointers;
     * the release stores below publish them along with the key. */
    for (int i = 0; i < height; i++) {
        struct skiplist_node *succ = atomic_load_explicit(&prev[i]->next[i], memory_order_relaxed);
        atomic_store_explicit(&node->next[i], succ, memory_order_relaxed);
    }
    for (int i = 0; i < height; i++)
        atomic_store_explicit(&prev[i]->next[i], node, memory_order_release);
}

int skiplist_insert(struct skiplist *list, const char *key)
{
    struct skiplist_slot slot;
    int rc = skiplist_reserve(list, 0, &slot);
    if (rc != STRATA_OK)
        return rc;
    slot.key = (char *)key; /* only ever read through node->key */
    skiplist_insert_reserved(list, &slot);
    return STRATA_OK;
}

int skiplist_contains(const struct skiplist *list, const char *key)
{
    const struct skiplist_node *n = find_ge(list, key, NULL);
    return n != NULL && list->cmp(n->key, key) == 0;
}

void skiplist_iter_init(struct skiplist_iter *it, const struct skiplist *list)
{
    it->list = list;
    it->node = NULL;
}

const char *skiplist_iter_key(const struct skiplist_iter *it)
{
    return it->node->key;
}

void skiplist_iter_next(struct skiplist_iter *it)
{
    if (it->node != NULL)
        it->node = next_of(it->node, 0);
}

/* The head stands for "before the first node": not a position. */
static const struct skiplist_node *unless_head(const struct skiplist_iter *it,
                                               const struct skiplist_node *n)
{
    return n == it->list->head ? NULL : n;
}

void skiplist_iter_prev(struct skiplist_iter *it)
{
    if (it->node != NULL)
        it->node = unless_head(it, find_last_before(it->list, it->node->key, 0));
}

void skiplist_iter_seek(struct skiplist_iter *it, const char *target)
{
    it->node = find_ge(it->list, target, NULL);
}

void skiplist_iter_seek_for_prev(struct skiplist_iter *it, const char *target)
{
    it->node = unless_head(it, find_last_before(it->list, target, 1));
}

void skiplist_iter_seek_to_first(struct skiplist_iter *it)
{
    it->node = next_of(it->list->head, 0);
}

void skiplist_iter_seek_to_last(struct skiplist_iter *it)
{
    it->node = unless_head(it, find_last(it->list));
}

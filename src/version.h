/*
 * version.h: a version, the set of live tables per level, and the tables'
 * metadata.
 *
 * A version never changes once built: a flush or a compaction builds the
 * next one from the current one and an edit (version_apply).  Versions and
 * table metadata are reference-counted with atomics: the database holds its
 * current version, and each read and iterator holds the version it started
 * on, so the tables it reads stay listed (and, once compaction deletes
 * files, on disk) until it is done.
 *
 * Order within a level: level 0 newest table first (highest file number),
 * since its tables may overlap and the newest must be read first; the
 * other levels by smallest key (their tables do not overlap, not even in
 * one user key: compaction never splits a user key's entries between two
 * tables of a level).
 *
 * A version also carries the compaction pointers: per level, the largest
 * internal key of that level's last compaction input (empty: none yet), so
 * that the next compaction of the level starts after it and every table of
 * a level takes its turn (round-robin).
 */
#ifndef STRATA_VERSION_H
#define STRATA_VERSION_H

#include <stdatomic.h>
#include <stdint.h>

#include "src/buf.h"
#include "src/version_edit.h"

struct table_meta {
    atomic_int refs;
    uint64_t number;
    uint64_t size;
    struct buf smallest, largest; /* internal keys */
};

struct version {
    atomic_int refs;
    struct table_meta **tables[NUM_LEVELS];
    size_t count[NUM_LEVELS];
    struct buf compact_pointer[NUM_LEVELS];
};

/* A user key range; an empty slice with NULL data is an open bound. */
struct key_range {
    struct slice smallest, largest; /* user keys */
};

/* An empty version with one reference, or NULL when out of memory. */
struct version *version_new(void);
void version_ref(struct version *v);
void version_unref(struct version *v);
void table_meta_ref(struct table_meta *t);
/* Frees t with its last reference. */
void table_meta_unref(struct table_meta *t);

/* A new version (one reference): base with edit's tables removed and added.
 * Removing a table base does not hold, or adding one it already holds, is
 * STRATA_CORRUPTION naming origin (the MANIFEST being read). */
int version_apply(const struct version *base, const struct version_edit *edit,
                  const char *origin, struct version **out);

/* Record every table of v as new tables in edit (a MANIFEST snapshot). */
int version_snapshot(const struct version *v, struct version_edit *edit);

uint64_t version_level_bytes(const struct version *v, int level);

/* The first of the n tables of a sorted run (a level from 1 down) whose
 * largest internal key is >= ikey: the only one that may hold it (n when
 * none does). */
size_t tables_find(struct table_meta *const *tables, size_t n, struct slice ikey);

/* Whether table t's user key range and r meet. */
int table_overlaps(const struct table_meta *t, const struct key_range *r);

/* The tables of level that overlap r, in level order, in a new array *out
 * (free it; *out is NULL when *n is 0).  At level 0 the range grows to
 * every table that overlaps a table found, as their keys may interleave
 * (LevelDB does the same): a compaction must take all of them or none.
 * STRATA_OK or STRATA_NO_MEMORY. */
int version_overlapping(const struct version *v, int level, const struct key_range *r,
                        struct table_meta ***out, size_t *n);

/* Whether any table of level overlaps r. */
int version_level_overlaps(const struct version *v, int level, const struct key_range *r);

/* The user key range covered by tables (n > 0). */
struct key_range tables_range(struct table_meta *const *tables, size_t n);

uint64_t tables_bytes(struct table_meta *const *tables, size_t n);

#endif

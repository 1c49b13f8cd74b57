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
 * other levels by smallest key (their tables do not overlap).
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
};

/* An empty version with one reference, or NULL when out of memory. */
struct version *version_new(void);
void version_ref(struct version *v);
void version_unref(struct version *v);

/* A new version (one reference): base with edit's tables removed and added.
 * Removing a table base does not hold, or adding one it already holds, is
 * STRATA_CORRUPTION naming origin (the MANIFEST being read). */
int version_apply(const struct version *base, const struct version_edit *edit,
                  const char *origin, struct version **out);

/* Record every table of v as new tables in edit (a MANIFEST snapshot). */
int version_snapshot(const struct version *v, struct version_edit *edit);

uint64_t version_level_bytes(const struct version *v, int level);

#endif

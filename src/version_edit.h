/*
 * version_edit.h: a change to the database's persistent state, one MANIFEST
 * record (docs/manifest_format.md).
 *
 * Encoding: a sequence of fields, each a varint32 tag followed by its value:
 *     1 comparator name     varint32 length | bytes
 *     2 log number          varint64: logs numbered below it are obsolete
 *     3 next file number    varint64
 *     4 last sequence       varint64
 *     5 compaction pointer  varint32 level | internal key (varint32 length | bytes):
 *                           the next compaction of that level starts after it
 *     6 deleted table       varint32 level | varint64 file number
 *     7 new table           varint32 level | varint64 file number |
 *                           varint64 file size | smallest internal key |
 *                           largest internal key (each varint32 length | bytes)
 * Tags are never reused; a reader fails on a tag it does not know, since
 * skipping a change it cannot understand would rebuild the wrong state.
 */
#ifndef STRATA_VERSION_EDIT_H
#define STRATA_VERSION_EDIT_H

#include <stdint.h>

#include "src/buf.h"

enum { VERSION_EDIT_MAX_COMPARATOR = 128, NUM_LEVELS = 7 };

/* A table as an edit names it.  The keys are owned by the edit. */
struct edit_table {
    int level;
    uint64_t number;
    uint64_t size;
    struct buf smallest, largest; /* internal keys */
};

struct edit_deleted {
    int level;
    uint64_t number;
};

/* Where the next compaction of a level starts (the largest key of the
 * level's last compaction input).  The key is owned by the edit. */
struct edit_pointer {
    int level;
    struct buf key; /* internal key */
};

struct version_edit {
    int has_comparator;
    char comparator[VERSION_EDIT_MAX_COMPARATOR + 1];
    int has_log_number;
    uint64_t log_number;
    int has_next_file_number;
    uint64_t next_file_number;
    int has_last_sequence;
    uint64_t last_sequence;
    struct edit_table *new_tables;
    size_t num_new_tables;
    struct edit_deleted *deleted;
    size_t num_deleted;
    struct edit_pointer *pointers;
    size_t num_pointers;
};

/* Record a new table (the keys are copied); STRATA_OK or STRATA_NO_MEMORY. */
int version_edit_add_table(struct version_edit *e, int level, uint64_t number, uint64_t size,
                           struct slice smallest, struct slice largest);
int version_edit_delete_table(struct version_edit *e, int level, uint64_t number);
/* Record a compaction pointer (the key is copied). */
int version_edit_set_pointer(struct version_edit *e, int level, struct slice key);
/* Free what the edit owns; the edit is then empty (zeroed). */
void version_edit_clear(struct version_edit *e);

/* Append the encoding of e to out. */
int version_edit_encode(const struct version_edit *e, struct buf *out);

/* Decode in into *e (zeroed first: clear it after use).  Damage returns
 * STRATA_CORRUPTION with a message naming origin and the record's offset in
 * it; e is then cleared. */
int version_edit_decode(struct version_edit *e, struct slice in, const char *origin,
                        uint64_t offset);

#endif

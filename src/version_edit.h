/*
 * version_edit.h: a change to the database's persistent state, one MANIFEST
 * record (docs/manifest_format.md).
 *
 * Encoding: a sequence of fields, each a varint32 tag followed by its value:
 *     1 comparator name     varint32 length | bytes
 *     2 log number          varint64: logs numbered below it are obsolete
 *     3 next file number    varint64
 *     4 last sequence       varint64
 * Tags are never reused; a reader fails on a tag it does not know, since
 * skipping a change it cannot understand would rebuild the wrong state.
 * The tables added and removed join this list with the version set.
 */
#ifndef STRATA_VERSION_EDIT_H
#define STRATA_VERSION_EDIT_H

#include <stdint.h>

#include "src/buf.h"

enum { VERSION_EDIT_MAX_COMPARATOR = 128 };

struct version_edit {
    int has_comparator;
    char comparator[VERSION_EDIT_MAX_COMPARATOR + 1];
    int has_log_number;
    uint64_t log_number;
    int has_next_file_number;
    uint64_t next_file_number;
    int has_last_sequence;
    uint64_t last_sequence;
};

/* Append the encoding of e to out. */
int version_edit_encode(const struct version_edit *e, struct buf *out);

/* Decode in into *e (zeroed first).  Damage returns STRATA_CORRUPTION with a
 * message naming origin and the record's offset in it. */
int version_edit_decode(struct version_edit *e, struct slice in, const char *origin,
                        uint64_t offset);

#endif

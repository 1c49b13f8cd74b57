/*
 * dump.h: what the parts of sst-dump share: the options, the per-file
 * context, and problems.
 *
 * A problem is anything wrong found in a file (a bad checksum, keys out of
 * order, a count that does not add up, a file that cannot be read).  Each
 * names the file and, when known, the offset it concerns; any problem
 * makes the exit status 1.  In text mode problems are printed where they
 * are found; in JSON mode they are kept until the file's object ends.
 */
#ifndef STRATA_TOOLS_DUMP_H
#define STRATA_TOOLS_DUMP_H

#include <stdint.h>
#include <stdio.h>

#include "src/buf.h"
#include "src/dbformat.h"
#include "src/env.h"
#include "tools/dump_out.h"

struct dump_options {
    int scan, check, blocks, hex, json, force_wal;
    int has_from, has_to, has_bloom;
    struct buf from, to, bloom_key; /* user keys, unescaped */
};

/* No offset: the problem concerns the file as a whole. */
#define DUMP_NO_OFFSET UINT64_MAX

/* Problems printed per file; more are counted, and their number said. */
enum { DUMP_MAX_SHOWN_PROBLEMS = 100 };

struct dump_problem {
    uint64_t offset;
    char *message;
};

struct dump_ctx {
    const struct dump_options *o;
    struct env *env; /* all file I/O goes through it */
    FILE *out;
    const char *path;
    struct json json;
    struct buf esc;                /* scratch for escaped bytes */
    size_t num_problems;           /* found, shown or not */
    struct dump_problem *problems; /* JSON mode: kept for the end of the object */
    size_t num_kept, problems_cap;
};

/* Record a problem at offset (DUMP_NO_OFFSET: none). */
void dump_problem(struct dump_ctx *c, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A problem whose message is strata_last_error(): its offset is the one
 * the message names ("at offset N"), else fallback. */
void dump_problem_status(struct dump_ctx *c, uint64_t fallback);

/* ---- printing keys and values ----------------------------------------------- */

/* The escaped or hex form of s (per --hex), valid until the next call. */
const char *dump_bytes(struct dump_ctx *c, struct slice s);
/* Text: 'key' @ seq : put => 'value' (value only for puts; with_value 0
 * leaves it out), on its own line after indent spaces. */
void dump_text_entry(struct dump_ctx *c, int indent, struct slice user_key, uint64_t seq,
                     enum value_type type, struct slice value, int with_value);
/* JSON: {"key":..,"sequence":..,"type":..,"value":..} (value for puts,
 * with with_value). */
void dump_json_entry(struct dump_ctx *c, struct slice user_key, uint64_t seq, enum value_type type,
                     struct slice value, int with_value);
/* An internal key as an entry without a value: text 'key' @ seq : type,
 * JSON the object above; a malformed one as its raw bytes. */
void dump_text_ikey(struct dump_ctx *c, struct slice ikey);
void dump_json_ikey(struct dump_ctx *c, struct slice ikey);
const char *dump_type_name(enum value_type type);
/* 'key' @ seq : type (or 'bytes' (malformed)) into out, for messages and
 * one-line summaries; returns out. */
const char *dump_ikey_text(struct dump_ctx *c, struct slice ikey, char *out, size_t n);

/* Is the user key inside --from/--to? */
int dump_in_range(const struct dump_options *o, struct slice user_key);

/* ---- the kinds of files ---------------------------------------------------- */

/* Each writes the body of the file's report (text lines, or the members
 * of the file's JSON object after "file", "kind" and "size") and records
 * the problems it finds. */
void dump_table(struct dump_ctx *c);
void dump_wal(struct dump_ctx *c);
void dump_manifest(struct dump_ctx *c);
void dump_current(struct dump_ctx *c);

#endif

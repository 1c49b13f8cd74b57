/*
 * dump_out.h: how sst-dump writes bytes and JSON (docs/sst_dump.md).
 *
 * Keys and values are arbitrary bytes, and a terminal or a JSON parser
 * cannot take them as they are, so they are written in one of two forms:
 * - escaped: printable ASCII as is, every other byte as \xNN; the
 *   backslash and the single quote are escaped too (\x5c, \x27), so that
 *   the form reads back unambiguously (dump_unescape) and the quotes
 *   around a key in the text output always pair up;
 * - hex: two lowercase digits per byte.
 * The JSON writer takes care of commas and of escaping strings, so that
 * the output is valid JSON whatever the bytes of a path or a message.
 */
#ifndef STRATA_TOOLS_DUMP_OUT_H
#define STRATA_TOOLS_DUMP_OUT_H

#include <stdint.h>
#include <stdio.h>

#include "src/buf.h"
#include "src/slice.h"

/* Append the escaped (or, with hex, the hex) form of s to out (reset
 * first).  STRATA_OK or STRATA_NO_MEMORY. */
int dump_escape(struct slice s, int hex, struct buf *out);

/* The bytes an escaped form stands for, into out (reset first): \xNN is a
 * byte (either case of hex digit), every other character itself, except
 * that a backslash must start \xNN.  STRATA_OK, STRATA_INVALID_ARGUMENT
 * for a malformed escape, STRATA_NO_MEMORY. */
int dump_unescape(const char *text, struct buf *out);

/* ---- JSON ------------------------------------------------------------------ */

enum { JSON_MAX_DEPTH = 32 };

/* A streaming writer: values go into the innermost open object or array,
 * with the commas between them.  Zero it, set f, and start with
 * json_begin.  Nesting deeper than JSON_MAX_DEPTH is a programming error
 * (sst-dump nests five deep at most). */
struct json {
    FILE *f;
    int depth;
    int after_key; /* a key was written: the value follows */
    unsigned char nonempty[JSON_MAX_DEPTH + 1];
};

/* open is '{' or '['; json_end writes the matching close. */
void json_begin(struct json *j, char open);
void json_end(struct json *j, char close);
/* The key of the next value, inside an object. */
void json_key(struct json *j, const char *key);
/* A string value: any bytes; valid UTF-8 passes as it is, control
 * characters and the bytes of invalid UTF-8 are written as \u00XX. */
void json_str(struct json *j, const char *s, size_t n);
void json_cstr(struct json *j, const char *s);
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
void json_bool(struct json *j, int v);
/* A key and its string / number value in one call. */
void json_kv_str(struct json *j, const char *key, const char *value);
void json_kv_u64(struct json *j, const char *key, uint64_t v);

#endif

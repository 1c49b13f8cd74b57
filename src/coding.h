/*
 * coding.h: fixed-width little-endian integers and varints, the two integer
 * encodings of every strata file (docs/wal_format.md describes them).
 *
 * A varint stores 7 bits per byte, low bits first, the high bit set on every
 * byte but the last: at most 5 bytes for 32 bits, 10 for 64.  Decoders take
 * the end of the input and return NULL instead of reading past it, so that
 * damaged bytes can never make them overrun a buffer.
 */
#ifndef STRATA_CODING_H
#define STRATA_CODING_H

#include <stdint.h>
#include <string.h>

#include "src/buf.h"

enum { VARINT32_MAX_LEN = 5, VARINT64_MAX_LEN = 10 };

static inline void encode_fixed16(char *p, uint16_t v)
{
    p[0] = (char)(v & 0xff);
    p[1] = (char)(v >> 8);
}

static inline void encode_fixed32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)(v >> (8 * i));
}

static inline void encode_fixed64(char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (char)(v >> (8 * i));
}

static inline uint16_t decode_fixed16(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint16_t)(u[0] | (u[1] << 8));
}

static inline uint32_t decode_fixed32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* every platform strata targets is little-endian */
    return v;
}

static inline uint64_t decode_fixed64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Write v at p; return the byte after it. */
char *encode_varint32(char *p, uint32_t v);
char *encode_varint64(char *p, uint64_t v);
/* The number of bytes encode_varint64 writes for v. */
int varint_length(uint64_t v);

/* Decode a varint from [p, limit); return the byte after it, or NULL when
 * the bytes end first or the value does not fit. */
const char *decode_varint64(const char *p, const char *limit, uint64_t *v);
const char *decode_varint32_slow(const char *p, const char *limit, uint32_t *v);

/* Inline for the one-byte case (every length under 128), which every key
 * comparison in the memtable and the blocks decodes. */
static inline const char *decode_varint32(const char *p, const char *limit, uint32_t *v)
{
    if (p < limit && !((unsigned char)*p & 0x80)) {
        *v = (unsigned char)*p;
        return p + 1;
    }
    return decode_varint32_slow(p, limit, v);
}

/* Append to a buffer; STRATA_OK or STRATA_NO_MEMORY. */
int buf_put_fixed32(struct buf *b, uint32_t v);
int buf_put_fixed64(struct buf *b, uint64_t v);
int buf_put_varint32(struct buf *b, uint32_t v);
int buf_put_varint64(struct buf *b, uint64_t v);
/* A varint32 length followed by the bytes. */
int buf_put_length_prefixed(struct buf *b, struct slice s);

/* Read a varint32 length and that many bytes from [p, limit) into *s;
 * return the byte after them, or NULL when they do not fit. */
const char *decode_length_prefixed(const char *p, const char *limit, struct slice *s);

#endif

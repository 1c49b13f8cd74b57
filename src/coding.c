/* coding.c: varints and fixed-width integers (see coding.h). */
#include "src/coding.h"

#include "src/status.h"

char *encode_varint32(char *p, uint32_t v)
{
    return encode_varint64(p, v);
}

char *encode_varint64(char *p, uint64_t v)
{
    unsigned char *u = (unsigned char *)p;
    while (v >= 0x80) {
        *u++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *u++ = (unsigned char)v;
    return (char *)u;
}

int varint_length(uint64_t v)
{
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

const char *decode_varint64(const char *p, const char *limit, uint64_t *v)
{
    uint64_t result = 0;
    for (unsigned shift = 0; shift <= 63 && p < limit; shift += 7) {
        uint64_t byte = (unsigned char)*p++;
        if (shift == 63 && byte > 1)
            return NULL; /* more than 64 bits */
        result |= (byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = result;
            return p;
        }
    }
    return NULL;
}

const char *decode_varint32_slow(const char *p, const char *limit, uint32_t *v)
{
    uint64_t wide;
    const char *q = decode_varint64(p, limit, &wide);
    if (!q || wide > UINT32_MAX || q - p > VARINT32_MAX_LEN)
        return NULL;
    *v = (uint32_t)wide;
    return q;
}

int buf_put_fixed32(struct buf *b, uint32_t v)
{
    char tmp[4];
    encode_fixed32(tmp, v);
    return buf_append(b, tmp, sizeof tmp);
}

int buf_put_fixed64(struct buf *b, uint64_t v)
{
    char tmp[8];
    encode_fixed64(tmp, v);
    return buf_append(b, tmp, sizeof tmp);
}

int buf_put_varint32(struct buf *b, uint32_t v)
{
    char tmp[VARINT32_MAX_LEN];
    return buf_append(b, tmp, (size_t)(encode_varint32(tmp, v) - tmp));
}

int buf_put_varint64(struct buf *b, uint64_t v)
{
    char tmp[VARINT64_MAX_LEN];
    return buf_append(b, tmp, (size_t)(encode_varint64(tmp, v) - tmp));
}

int buf_put_length_prefixed(struct buf *b, struct slice s)
{
    if (s.len > UINT32_MAX)
        return status_set(STRATA_INVALID_ARGUMENT, "length %zu does not fit in 32 bits", s.len);
    int rc = buf_reserve(b, VARINT32_MAX_LEN + s.len);
    if (rc != STRATA_OK)
        return rc;
    buf_put_varint32(b, (uint32_t)s.len);
    return buf_append(b, s.data, s.len);
}

const char *decode_length_prefixed(const char *p, const char *limit, struct slice *s)
{
    uint32_t n;
    p = decode_varint32(p, limit, &n);
    if (!p || n > (size_t)(limit - p))
        return NULL;
    *s = slice_make(p, n);
    return p + n;
}

/*
 * write_batch.c: strata_batch and the batch encoding (see write_batch.h).
 *
 * Invariant: rep always holds at least the 12-byte header, and its count
 * field equals the number of updates encoded after it.  A put or delete that
 * fails leaves rep as it was and records the error instead.
 */
#include "src/write_batch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "src/coding.h"
#include "src/status.h"

static int batch_init_header(strata_batch *b)
{
    static const char zero[BATCH_HEADER_SIZE];
    b->rep.len = 0;
    return buf_append(&b->rep, zero, sizeof zero);
}

strata_batch *strata_batch_new(void)
{
    strata_batch *b = calloc(1, sizeof *b);
    if (!b || batch_init_header(b) != STRATA_OK) {
        free(b);
        status_set(STRATA_NO_MEMORY, "strata_batch_new: out of memory");
        return NULL;
    }
    return b;
}

void strata_batch_free(strata_batch *b)
{
    if (!b)
        return;
    buf_free(&b->rep);
    free(b);
}

void strata_batch_clear(strata_batch *b)
{
    if (!b)
        return;
    b->rep.len = BATCH_HEADER_SIZE;
    memset(b->rep.data, 0, BATCH_HEADER_SIZE);
    b->error = STRATA_OK;
    b->error_msg[0] = '\0';
}

size_t strata_batch_count(const strata_batch *b)
{
    return b ? batch_count(b) : 0;
}

uint64_t batch_sequence(const strata_batch *b)
{
    return decode_fixed64(b->rep.data);
}

void batch_set_sequence(strata_batch *b, uint64_t sequence)
{
    encode_fixed64(b->rep.data, sequence);
}

uint32_t batch_count(const strata_batch *b)
{
    return decode_fixed32(b->rep.data + 8);
}

static void batch_set_count(strata_batch *b, uint32_t n)
{
    encode_fixed32(b->rep.data + 8, n);
}

/* Remember the first error of a put/delete; later ones add nothing. */
static void batch_fail(strata_batch *b, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void batch_fail(strata_batch *b, int code, const char *fmt, ...)
{
    if (b->error != STRATA_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->error_msg, sizeof b->error_msg, fmt, ap);
    va_end(ap);
    b->error = code;
}

int batch_error(const strata_batch *b)
{
    if (b->error == STRATA_OK)
        return STRATA_OK;
    return status_set(b->error, "%s", b->error_msg);
}

/* Check one put/delete's arguments; 1 when they are usable. */
static int batch_check_args(strata_batch *b, const char *fn, const void *key, size_t klen,
                            const void *val, size_t vlen)
{
    if (!key && klen) {
        batch_fail(b, STRATA_INVALID_ARGUMENT, "%s: key is NULL with length %zu", fn, klen);
        return 0;
    }
    if (!val && vlen) {
        batch_fail(b, STRATA_INVALID_ARGUMENT, "%s: value is NULL with length %zu", fn, vlen);
        return 0;
    }
    if (klen > UINT32_MAX || vlen > UINT32_MAX) {
        batch_fail(b, STRATA_INVALID_ARGUMENT, "%s: %s of %zu bytes is over the limit of 2^32-1",
                   fn, klen > UINT32_MAX ? "key" : "value", klen > UINT32_MAX ? klen : vlen);
        return 0;
    }
    if (batch_count(b) == UINT32_MAX) {
        batch_fail(b, STRATA_INVALID_ARGUMENT, "%s: a batch holds at most 2^32-1 updates", fn);
        return 0;
    }
    return 1;
}

static void batch_add(strata_batch *b, const char *fn, enum value_type type,
                      const void *key, size_t klen, const void *val, size_t vlen)
{
    if (!b || !batch_check_args(b, fn, key, klen, val, vlen))
        return;
    size_t need = 1 + VARINT32_MAX_LEN + klen + (type == TYPE_VALUE ? VARINT32_MAX_LEN + vlen : 0);
    if (buf_reserve(&b->rep, need) != STRATA_OK) {
        batch_fail(b, STRATA_NO_MEMORY, "%s: out of memory growing a batch of %zu bytes", fn,
                   b->rep.len);
        return;
    }
    char type_byte = (char)type;
    buf_append(&b->rep, &type_byte, 1);
    buf_put_length_prefixed(&b->rep, slice_make(key, klen));
    if (type == TYPE_VALUE)
        buf_put_length_prefixed(&b->rep, slice_make(val, vlen));
    batch_set_count(b, batch_count(b) + 1);
}

void strata_batch_put(strata_batch *b, const void *key, size_t klen, const void *val, size_t vlen)
{
    batch_add(b, "strata_batch_put", TYPE_VALUE, key, klen, val, vlen);
}

void strata_batch_delete(strata_batch *b, const void *key, size_t klen)
{
    batch_add(b, "strata_batch_delete", TYPE_DELETION, key, klen, NULL, 0);
}

int batch_append(strata_batch *dst, const strata_batch *src)
{
    uint64_t total = (uint64_t)batch_count(dst) + batch_count(src);
    if (total > UINT32_MAX)
        return status_set(STRATA_INVALID_ARGUMENT, "merged batch would hold over 2^32-1 updates");
    int rc = buf_append(&dst->rep, src->rep.data + BATCH_HEADER_SIZE,
                        src->rep.len - BATCH_HEADER_SIZE);
    if (rc == STRATA_OK)
        batch_set_count(dst, (uint32_t)total);
    return rc;
}

static int batch_damage(const char *origin, size_t offset, const char *what)
{
    return status_set(STRATA_CORRUPTION, "corrupted write batch in %s at batch offset %zu: %s",
                      origin, offset, what);
}

int batch_iterate(struct slice rep, const struct batch_handler *handler, const char *origin)
{
    if (rep.len < BATCH_HEADER_SIZE)
        return batch_damage(origin, 0, "shorter than its 12-byte header");
    uint64_t sequence = decode_fixed64(rep.data);
    uint32_t count = decode_fixed32(rep.data + 8);
    const char *p = rep.data + BATCH_HEADER_SIZE, *limit = rep.data + rep.len;
    uint32_t found = 0;
    while (p < limit) {
        size_t offset = (size_t)(p - rep.data);
        enum value_type type = (enum value_type)(unsigned char)*p++;
        struct slice key, value = { "", 0 };
        if (type != TYPE_VALUE && type != TYPE_DELETION)
            return batch_damage(origin, offset, "unknown update type");
        if (!(p = decode_length_prefixed(p, limit, &key)))
            return batch_damage(origin, offset, "key runs past the end");
        if (type == TYPE_VALUE && !(p = decode_length_prefixed(p, limit, &value)))
            return batch_damage(origin, offset, "value runs past the end");
        if (found == count)
            return batch_damage(origin, offset, "more updates than the header's count");
        if (handler) {
            int rc = handler->update(handler->ctx, sequence + found, type, key, value);
            if (rc != STRATA_OK)
                return rc;
        }
        found++;
    }
    if (found != count)
        return batch_damage(origin, rep.len, "fewer updates than the header's count");
    return STRATA_OK;
}

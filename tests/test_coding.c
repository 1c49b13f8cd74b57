/*
 * test_coding.c: varints and fixed-width integers at every boundary,
 * truncated and over-long varints, length-prefixed slices, file-name
 * parsing, and version edits (round trip and damaged input).
 * Deterministic.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/buf.h"
#include "src/coding.h"
#include "src/filename.h"
#include "src/version_edit.h"
#include "strata.h"

/* Every 2^k - 1 and 2^k for k = 0..64, and a few more. */
static size_t boundaries(uint64_t *out)
{
    size_t n = 0;
    out[n++] = 0;
    for (int k = 1; k < 64; k++) {
        uint64_t p = UINT64_C(1) << k;
        out[n++] = p - 1;
        out[n++] = p;
        out[n++] = p + 1;
    }
    out[n++] = UINT64_MAX - 1;
    out[n++] = UINT64_MAX;
    return n;
}

static int expected_len(uint64_t v)
{
    int n = 1;
    while (v >= 128) {
        v >>= 7;
        n++;
    }
    return n;
}

Test(coding, varint64_round_trip_at_every_boundary)
{
    uint64_t vals[256];
    size_t n = boundaries(vals);
    for (size_t i = 0; i < n; i++) {
        char buf[VARINT64_MAX_LEN + 4];
        memset(buf, 0x55, sizeof buf);
        char *end = encode_varint64(buf, vals[i]);
        int len = (int)(end - buf);
        cr_assert_eq(len, expected_len(vals[i]), "varint64(%" PRIu64 "): %d bytes", vals[i], len);
        cr_assert_eq(varint_length(vals[i]), len);
        cr_assert_leq(len, VARINT64_MAX_LEN);
        uint64_t got = 0;
        const char *p = decode_varint64(buf, end, &got);
        cr_assert_eq(p, end, "decode_varint64(%" PRIu64 ") stopped at %td", vals[i], p ? p - buf : -1);
        cr_assert_eq(got, vals[i]);
        /* Decoding with extra bytes after it stops at the end of the varint. */
        p = decode_varint64(buf, buf + sizeof buf, &got);
        cr_assert_eq(p, end);
        /* Every truncation is refused. */
        for (int cut = 0; cut < len; cut++)
            cr_assert_null(decode_varint64(buf, buf + cut, &got),
                           "varint64(%" PRIu64 ") truncated to %d bytes decoded", vals[i], cut);
    }
}

Test(coding, varint32_round_trip_at_every_boundary)
{
    uint64_t vals[256];
    size_t n = boundaries(vals);
    for (size_t i = 0; i < n; i++) {
        if (vals[i] > UINT32_MAX)
            continue;
        uint32_t v = (uint32_t)vals[i];
        char buf[VARINT32_MAX_LEN + 4];
        char *end = encode_varint32(buf, v);
        int len = (int)(end - buf);
        cr_assert_eq(len, expected_len(v));
        cr_assert_leq(len, VARINT32_MAX_LEN);
        uint32_t got = 0;
        cr_assert_eq(decode_varint32(buf, end, &got), end, "varint32(%" PRIu32 ")", v);
        cr_assert_eq(got, v);
        for (int cut = 0; cut < len; cut++)
            cr_assert_null(decode_varint32(buf, buf + cut, &got),
                           "varint32(%" PRIu32 ") truncated to %d bytes decoded", v, cut);
    }
    /* Named boundaries of the brief. */
    const uint32_t named[] = { 0, 127, 128, (1u << 14) - 1, 1u << 14, (1u << 21) - 1, 1u << 21,
                               (1u << 28) - 1, 1u << 28, UINT32_MAX };
    const int lens[] = { 1, 1, 2, 2, 3, 3, 4, 4, 5, 5 };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        char buf[8];
        cr_assert_eq(encode_varint32(buf, named[i]) - buf, lens[i], "%" PRIu32, named[i]);
    }
}

Test(coding, varint32_rejects_values_over_32_bits)
{
    char buf[VARINT64_MAX_LEN];
    uint32_t got;
    const uint64_t too_big[] = { (uint64_t)UINT32_MAX + 1, UINT64_C(1) << 35, UINT64_MAX };
    for (size_t i = 0; i < 3; i++) {
        char *end = encode_varint64(buf, too_big[i]);
        cr_assert_null(decode_varint32(buf, end, &got), "%" PRIu64 " decoded as a varint32",
                       too_big[i]);
    }
}

Test(coding, overlong_varints_are_rejected)
{
    /* Six bytes for a varint32 (0 padded with continuation bytes). */
    const char six[] = { (char)0x80, (char)0x80, (char)0x80, (char)0x80, (char)0x80, 0x00 };
    uint32_t v32;
    cr_assert_null(decode_varint32(six, six + sizeof six, &v32));
    /* Eleven bytes for a varint64. */
    char eleven[11];
    memset(eleven, 0x80, 10);
    eleven[10] = 0x00;
    uint64_t v64;
    cr_assert_null(decode_varint64(eleven, eleven + sizeof eleven, &v64));
    /* Ten bytes whose last carries more than the 64th bit. */
    char ten[10];
    memset(ten, 0xff, 9);
    ten[9] = 0x02;
    cr_assert_null(decode_varint64(ten, ten + 10, &v64));
    ten[9] = 0x01; /* exactly UINT64_MAX */
    cr_assert_eq(decode_varint64(ten, ten + 10, &v64), ten + 10);
    cr_assert_eq(v64, UINT64_MAX);
    /* Continuation bits forever: never a value, never past the limit. */
    char ff[32];
    memset(ff, 0xff, sizeof ff);
    for (size_t lim = 0; lim <= sizeof ff; lim++) {
        cr_assert_null(decode_varint64(ff, ff + lim, &v64));
        cr_assert_null(decode_varint32(ff, ff + lim, &v32));
    }
}

Test(coding, empty_input_decodes_nothing)
{
    char b = 0;
    uint32_t v32;
    uint64_t v64;
    struct slice s;
    cr_assert_null(decode_varint32(&b, &b, &v32));
    cr_assert_null(decode_varint64(&b, &b, &v64));
    cr_assert_null(decode_length_prefixed(&b, &b, &s));
}

Test(coding, fixed_width_round_trip_little_endian)
{
    const uint32_t v32[] = { 0, 1, 0xff, 0x100, 0x12345678, UINT32_MAX };
    for (size_t i = 0; i < 6; i++) {
        char b[4];
        encode_fixed32(b, v32[i]);
        cr_assert_eq((unsigned char)b[0], v32[i] & 0xff);
        cr_assert_eq((unsigned char)b[3], v32[i] >> 24);
        cr_assert_eq(decode_fixed32(b), v32[i]);
    }
    const uint64_t v64[] = { 0, 1, 0xff, UINT64_C(0x0102030405060708), UINT64_MAX };
    for (size_t i = 0; i < 5; i++) {
        char b[8];
        encode_fixed64(b, v64[i]);
        cr_assert_eq((unsigned char)b[0], v64[i] & 0xff);
        cr_assert_eq((unsigned char)b[7], v64[i] >> 56);
        cr_assert_eq(decode_fixed64(b), v64[i]);
    }
    char b[2];
    encode_fixed16(b, 0xabcd);
    cr_assert_eq((unsigned char)b[0], 0xcd);
    cr_assert_eq(decode_fixed16(b), 0xabcd);
    struct buf out = { 0 };
    cr_assert_eq(buf_put_fixed32(&out, 0xdeadbeef), STRATA_OK);
    cr_assert_eq(buf_put_fixed64(&out, UINT64_C(0x1122334455667788)), STRATA_OK);
    cr_assert_eq(out.len, 12u);
    cr_assert_eq(decode_fixed32(out.data), 0xdeadbeef);
    cr_assert_eq(decode_fixed64(out.data + 4), UINT64_C(0x1122334455667788));
    buf_free(&out);
}

Test(coding, buf_varints_match_encoders)
{
    struct buf out = { 0 };
    uint64_t vals[256];
    size_t n = boundaries(vals);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(buf_put_varint64(&out, vals[i]), STRATA_OK);
        if (vals[i] <= UINT32_MAX)
            cr_assert_eq(buf_put_varint32(&out, (uint32_t)vals[i]), STRATA_OK);
    }
    const char *p = out.data, *limit = out.data + out.len;
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        p = decode_varint64(p, limit, &v);
        cr_assert_not_null(p);
        cr_assert_eq(v, vals[i]);
        if (vals[i] <= UINT32_MAX) {
            uint32_t w;
            p = decode_varint32(p, limit, &w);
            cr_assert_not_null(p);
            cr_assert_eq(w, vals[i]);
        }
    }
    cr_assert_eq(p, limit);
    buf_free(&out);
}

Test(coding, length_prefixed_round_trip_and_truncation)
{
    struct buf out = { 0 };
    size_t lens[] = { 0, 1, 127, 128, 300, 20000 };
    char *data = malloc(20000);
    for (size_t i = 0; i < 20000; i++)
        data[i] = (char)(i * 7);
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(buf_put_length_prefixed(&out, slice_make(data, lens[i])), STRATA_OK);
    const char *p = out.data, *limit = out.data + out.len;
    for (size_t i = 0; i < 6; i++) {
        struct slice s;
        const char *start = p;
        p = decode_length_prefixed(p, limit, &s);
        cr_assert_not_null(p);
        cr_assert_eq(s.len, lens[i]);
        cr_assert(lens[i] == 0 || memcmp(s.data, data, lens[i]) == 0);
        /* Any truncation of this slice is refused. */
        for (const char *cut = start; cut < p; cut++) {
            struct slice t;
            cr_assert_null(decode_length_prefixed(start, cut, &t), "slice %zu cut at %td decoded",
                           lens[i], cut - start);
        }
    }
    cr_assert_eq(p, limit);
    /* A length near 2^32 with a few bytes after it: refused, no overflow. */
    char big[8];
    char *e = encode_varint32(big, UINT32_MAX);
    e[0] = 'x';
    struct slice s;
    cr_assert_null(decode_length_prefixed(big, e + 1, &s));
    buf_free(&out);
    free(data);
}

/* ---- file names ------------------------------------------------------------------- */

Test(coding, file_names_build_and_parse)
{
    char path[256];
    cr_assert_eq(log_file_name(path, sizeof path, "/d", 7), STRATA_OK);
    cr_assert_str_eq(path, "/d/000007.log");
    cr_assert_eq(table_file_name(path, sizeof path, "/d", 1234567), STRATA_OK);
    cr_assert_str_eq(path, "/d/1234567.sst");
    cr_assert_eq(manifest_file_name(path, sizeof path, "/d", 5), STRATA_OK);
    cr_assert_str_eq(path, "/d/MANIFEST-000005");
    cr_assert_eq(db_file_name(path, sizeof path, "/d", "CURRENT"), STRATA_OK);
    cr_assert_str_eq(path, "/d/CURRENT");
    /* Too long for the buffer: refused, with the directory in the message. */
    char small[8];
    cr_assert_eq(log_file_name(small, sizeof small, "/a/long/dir", 1), STRATA_INVALID_ARGUMENT);
    cr_assert_not_null(strstr(strata_last_error(), "/a/long/dir"));

    static const struct {
        const char *name;
        int ok;
        enum file_type type;
        uint64_t number;
    } cases[] = {
        { "000007.log", 1, FILE_LOG, 7 },
        { "7.log", 1, FILE_LOG, 7 },
        { "18446744073709551615.log", 1, FILE_LOG, UINT64_MAX },
        { "000012.sst", 1, FILE_TABLE, 12 },
        { "MANIFEST-000003", 1, FILE_MANIFEST, 3 },
        { "MANIFEST-1", 1, FILE_MANIFEST, 1 },
        { "CURRENT", 1, FILE_CURRENT, 0 },
        { "LOCK", 1, FILE_LOCK, 0 },
        { "LOG", 1, FILE_INFO_LOG, 0 },
        { "LOG.old", 1, FILE_INFO_LOG, 0 },
        { "CURRENT.tmp", 1, FILE_TEMP, 0 },
        { "", 0, 0, 0 },
        { ".log", 0, 0, 0 },
        { "abc.log", 0, 0, 0 },
        { "12.log.bak", 0, 0, 0 },
        { "12.logx", 0, 0, 0 },
        { "12", 0, 0, 0 },
        { "12.ldb", 0, 0, 0 },
        { "-1.log", 0, 0, 0 },
        { "18446744073709551616.log", 0, 0, 0 }, /* overflows 64 bits */
        { "99999999999999999999999.log", 0, 0, 0 },
        { "MANIFEST-", 0, 0, 0 },
        { "MANIFEST-12x", 0, 0, 0 },
        { "MANIFEST", 0, 0, 0 },
        { "manifest-000001", 0, 0, 0 },
        { "CURRENTX", 0, 0, 0 },
        { "LOCK.old", 0, 0, 0 },
        { "LOG.older", 0, 0, 0 },
        { ".tmp", 0, 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum file_type type = (enum file_type)99;
        uint64_t number = 4242;
        int ok = parse_file_name(cases[i].name, &type, &number);
        cr_expect_eq(ok, cases[i].ok, "parse_file_name(\"%s\") = %d", cases[i].name, ok);
        if (ok && cases[i].ok) {
            cr_expect_eq(type, cases[i].type, "\"%s\": type %d", cases[i].name, type);
            cr_expect_eq(number, cases[i].number, "\"%s\": number %" PRIu64, cases[i].name, number);
        }
    }
}

Test(coding, file_names_round_trip)
{
    const uint64_t nums[] = { 0, 1, 999999, 1000000, UINT64_MAX };
    for (size_t i = 0; i < 5; i++) {
        char path[128];
        enum file_type type;
        uint64_t number;
        cr_assert_eq(log_file_name(path, sizeof path, "d", nums[i]), STRATA_OK);
        cr_assert(parse_file_name(path + 2, &type, &number));
        cr_assert_eq(type, FILE_LOG);
        cr_assert_eq(number, nums[i]);
        cr_assert_eq(manifest_file_name(path, sizeof path, "d", nums[i]), STRATA_OK);
        cr_assert(parse_file_name(path + 2, &type, &number));
        cr_assert_eq(type, FILE_MANIFEST);
        cr_assert_eq(number, nums[i]);
        cr_assert_eq(table_file_name(path, sizeof path, "d", nums[i]), STRATA_OK);
        cr_assert(parse_file_name(path + 2, &type, &number));
        cr_assert_eq(type, FILE_TABLE);
        cr_assert_eq(number, nums[i]);
    }
}

/* ---- version edits -------------------------------------------------------------------- */

static void expect_same_edit(const struct version_edit *a, const struct version_edit *b)
{
    cr_assert_eq(a->has_comparator, b->has_comparator);
    if (a->has_comparator)
        cr_assert_str_eq(a->comparator, b->comparator);
    cr_assert_eq(a->has_log_number, b->has_log_number);
    if (a->has_log_number)
        cr_assert_eq(a->log_number, b->log_number);
    cr_assert_eq(a->has_next_file_number, b->has_next_file_number);
    if (a->has_next_file_number)
        cr_assert_eq(a->next_file_number, b->next_file_number);
    cr_assert_eq(a->has_last_sequence, b->has_last_sequence);
    if (a->has_last_sequence)
        cr_assert_eq(a->last_sequence, b->last_sequence);
}

Test(coding, version_edit_round_trip)
{
    /* Every subset of the fields, with boundary values. */
    const uint64_t vals[] = { 0, 127, 128, UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX };
    for (int mask = 0; mask < 16; mask++) {
        for (size_t vi = 0; vi < 6; vi++) {
            struct version_edit e;
            memset(&e, 0, sizeof e);
            if (mask & 1) {
                e.has_comparator = 1;
                snprintf(e.comparator, sizeof e.comparator, "%s", vi & 1 ? "strata.bytewise" : "");
            }
            if (mask & 2) {
                e.has_log_number = 1;
                e.log_number = vals[vi];
            }
            if (mask & 4) {
                e.has_next_file_number = 1;
                e.next_file_number = vals[(vi + 1) % 6];
            }
            if (mask & 8) {
                e.has_last_sequence = 1;
                e.last_sequence = vals[(vi + 2) % 6];
            }
            struct buf out = { 0 };
            cr_assert_eq(version_edit_encode(&e, &out), STRATA_OK);
            struct version_edit d;
            memset(&d, 0xa5, sizeof d);
            cr_assert_eq(version_edit_decode(&d, buf_slice(&out), "MANIFEST-x", 0), STRATA_OK,
                         "mask %d: %s", mask, strata_last_error());
            expect_same_edit(&e, &d);
            buf_free(&out);
        }
    }
    /* The longest comparator name allowed. */
    struct version_edit e = { .has_comparator = 1 };
    memset(e.comparator, 'c', VERSION_EDIT_MAX_COMPARATOR);
    e.comparator[VERSION_EDIT_MAX_COMPARATOR] = '\0';
    struct buf out = { 0 };
    cr_assert_eq(version_edit_encode(&e, &out), STRATA_OK);
    struct version_edit d;
    cr_assert_eq(version_edit_decode(&d, buf_slice(&out), "m", 0), STRATA_OK);
    expect_same_edit(&e, &d);
    buf_free(&out);
}

static struct buf full_edit(void)
{
    struct version_edit e = {
        .has_comparator = 1, .has_log_number = 1, .log_number = 300,
        .has_next_file_number = 1, .next_file_number = UINT64_C(1) << 40,
        .has_last_sequence = 1, .last_sequence = 123456789,
    };
    snprintf(e.comparator, sizeof e.comparator, "strata.bytewise");
    struct buf out = { 0 };
    cr_assert_eq(version_edit_encode(&e, &out), STRATA_OK);
    return out;
}

Test(coding, version_edit_truncated_at_every_byte_is_refused_or_partial)
{
    struct buf full = full_edit();
    for (size_t cut = 0; cut < full.len; cut++) {
        /* A copy of exactly cut bytes on the heap, so that a read past the
         * end shows up under AddressSanitizer. */
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, full.data, cut);
        struct version_edit d;
        int rc = version_edit_decode(&d, slice_make(copy, cut), "MANIFEST-000009", 77);
        /* A cut between fields is a valid shorter edit; a cut inside a field
         * is damage. */
        if (rc != STRATA_OK) {
            cr_assert_eq(rc, STRATA_CORRUPTION, "cut %zu: %d", cut, rc);
            cr_assert_not_null(strstr(strata_last_error(), "MANIFEST-000009"), "%s",
                               strata_last_error());
            cr_assert_not_null(strstr(strata_last_error(), "77"), "%s", strata_last_error());
        } else {
            /* Whatever decoded must match the original's values. */
            if (d.has_log_number)
                cr_assert_eq(d.log_number, 300);
            if (d.has_comparator)
                cr_assert_str_eq(d.comparator, "strata.bytewise");
            cr_assert(!d.has_last_sequence, "cut %zu decoded the last field", cut);
        }
        free(copy);
    }
    buf_free(&full);
}

Test(coding, version_edit_damage)
{
    struct version_edit d;
    /* An unknown tag. */
    const char unknown[] = { 9, 1 };
    cr_assert_eq(version_edit_decode(&d, slice_make(unknown, 2), "M", 0), STRATA_CORRUPTION);
    cr_assert_not_null(strstr(strata_last_error(), "tag"), "%s", strata_last_error());
    /* Tag 0. */
    const char zero[] = { 0, 1 };
    cr_assert_eq(version_edit_decode(&d, slice_make(zero, 2), "M", 0), STRATA_CORRUPTION);
    /* A comparator name over 128 bytes. */
    struct buf b = { 0 };
    char name[200];
    memset(name, 'n', sizeof name);
    buf_put_varint32(&b, 1);
    buf_put_length_prefixed(&b, slice_make(name, VERSION_EDIT_MAX_COMPARATOR + 1));
    cr_assert_eq(version_edit_decode(&d, buf_slice(&b), "M", 0), STRATA_CORRUPTION);
    /* A comparator length running past the end. */
    buf_clear(&b);
    buf_put_varint32(&b, 1);
    buf_put_varint32(&b, 50);
    buf_append(&b, "abc", 3);
    cr_assert_eq(version_edit_decode(&d, buf_slice(&b), "M", 0), STRATA_CORRUPTION);
    /* A field value that is an over-long varint. */
    buf_clear(&b);
    buf_put_varint32(&b, 2);
    char eleven[11];
    memset(eleven, 0x80, 10);
    eleven[10] = 0;
    buf_append(&b, eleven, 11);
    cr_assert_eq(version_edit_decode(&d, buf_slice(&b), "M", 0), STRATA_CORRUPTION);
    /* A tag that is an over-long varint32. */
    buf_clear(&b);
    char six[] = { (char)0x82, (char)0x80, (char)0x80, (char)0x80, (char)0x80, 0 };
    buf_append(&b, six, 6);
    buf_put_varint64(&b, 5);
    cr_assert_eq(version_edit_decode(&d, buf_slice(&b), "M", 0), STRATA_CORRUPTION);
    buf_free(&b);
    /* The empty edit is valid and empty. */
    cr_assert_eq(version_edit_decode(&d, slice_make("", 0), "M", 0), STRATA_OK);
    cr_assert(!d.has_comparator && !d.has_log_number && !d.has_next_file_number &&
              !d.has_last_sequence);
}

Test(coding, version_edit_random_bytes_never_overrun)
{
    /* Random garbage of random lengths: any result is fine, as long as the
     * decoder stays inside the bytes (AddressSanitizer checks that) and
     * only ever reports STRATA_OK or STRATA_CORRUPTION. */
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (int iter = 0; iter < 5000; iter++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        size_t len = s % 40;
        char *p = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            /* Bias towards small tags so that fields get decoded. */
            p[i] = (char)(i % 3 == 0 ? s % 6 : s);
        }
        struct version_edit d;
        int rc = version_edit_decode(&d, slice_make(p, len), "M", 0);
        cr_assert(rc == STRATA_OK || rc == STRATA_CORRUPTION, "rc %d", rc);
        if (rc == STRATA_OK && d.has_comparator)
            cr_assert_leq(strlen(d.comparator), VERSION_EDIT_MAX_COMPARATOR);
        free(p);
    }
}

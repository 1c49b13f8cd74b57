/*
 * dump_out.c: escaped and hex forms of bytes, and a streaming JSON writer
 * (tools/dump_out.h).
 */
#include "tools/dump_out.h"

#include <inttypes.h>
#include <string.h>

#include "strata.h"

/* ---- escaped and hex forms ----------------------------------------------------- */

static const char hex_digits[] = "0123456789abcdef";

static int is_plain(unsigned char c)
{
    return c >= 0x20 && c <= 0x7e && c != '\\' && c != '\'';
}

int dump_escape(struct slice s, int hex, struct buf *out)
{
    buf_clear(out);
    /* At most four characters per byte: one reservation, no failure later. */
    int rc = buf_reserve(out, 4 * s.len + 1);
    if (rc != STRATA_OK)
        return rc;
    char *p = out->data;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.data[i];
        if (!hex && is_plain(c)) {
            *p++ = (char)c;
            continue;
        }
        if (!hex) {
            *p++ = '\\';
            *p++ = 'x';
        }
        *p++ = hex_digits[c >> 4];
        *p++ = hex_digits[c & 15];
    }
    out->len = (size_t)(p - out->data);
    return STRATA_OK;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int dump_unescape(const char *text, struct buf *out)
{
    buf_clear(out);
    for (const char *p = text; *p; p++) {
        char c = *p;
        if (c == '\\') {
            int hi = p[1] == 'x' ? hex_value(p[2]) : -1;
            int lo = hi >= 0 ? hex_value(p[3]) : -1;
            if (lo < 0)
                return STRATA_INVALID_ARGUMENT;
            c = (char)(hi * 16 + lo);
            p += 3;
        }
        int rc = buf_append(out, &c, 1);
        if (rc != STRATA_OK)
            return rc;
    }
    return STRATA_OK;
}

/* ---- JSON ------------------------------------------------------------------------------ */

/* The comma before a value, unless it is the first of its container or
 * follows its key. */
static void json_sep(struct json *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->nonempty[j->depth])
        fputc(',', j->f);
    j->nonempty[j->depth] = 1;
}

void json_begin(struct json *j, char open)
{
    json_sep(j);
    fputc(open, j->f);
    if (j->depth < JSON_MAX_DEPTH)
        j->depth++;
    j->nonempty[j->depth] = 0;
}

void json_end(struct json *j, char close)
{
    fputc(close, j->f);
    if (j->depth > 0)
        j->depth--;
}

/* The length of the well-formed UTF-8 sequence at s (of n bytes left), or
 * 0: overlong forms, surrogates and code points past U+10FFFF are not
 * well formed, and a JSON parser would refuse them. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void json_write_string(FILE *f, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            i++;
        } else if (c >= 0x20 && c < 0x7f) {
            fputc((int)c, f);
            i++;
        } else if (c >= 0x80 && utf8_sequence(u + i, n - i) > 0) {
            size_t len = utf8_sequence(u + i, n - i);
            fwrite(u + i, 1, len, f);
            i += len;
        } else {
            fprintf(f, "\\u%04x", c);
            i++;
        }
    }
    fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
    json_sep(j);
    json_write_string(j->f, key, strlen(key));
    fputc(':', j->f);
    j->after_key = 1;
}

void json_str(struct json *j, const char *s, size_t n)
{
    json_sep(j);
    json_write_string(j->f, s, n);
}

void json_cstr(struct json *j, const char *s)
{
    json_str(j, s, strlen(s));
}

void json_u64(struct json *j, uint64_t v)
{
    json_sep(j);
    fprintf(j->f, "%" PRIu64, v);
}

void json_i64(struct json *j, int64_t v)
{
    json_sep(j);
    fprintf(j->f, "%" PRId64, v);
}

void json_bool(struct json *j, int v)
{
    json_sep(j);
    fputs(v ? "true" : "false", j->f);
}

void json_kv_str(struct json *j, const char *key, const char *value)
{
    json_key(j, key);
    json_cstr(j, value);
}

void json_kv_u64(struct json *j, const char *key, uint64_t v)
{
    json_key(j, key);
    json_u64(j, v);
}

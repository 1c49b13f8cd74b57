/*
 * dump_table.c: sst-dump on a table (docs/sstable_format.md): properties,
 * blocks, the bloom filter, entries, and --check.
 *
 * The table is read twice over, on purpose:
 * - a layout of its own (footer, index, metaindex, properties, filter),
 *   read here block by block with block_read, so that every problem is
 *   reported with the offset of the block it is in, and so that --blocks
 *   and --check see every handle, which the table reader keeps private;
 * - the table reader (table_open, table_iter_new) for --scan, so that the
 *   entries printed are the ones the database itself reads.
 * --check does not trust the reader: it walks the index and every data
 * block itself, checksums on, and compares what it finds with the index,
 * the properties and the filter.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sstable/block.h"
#include "sstable/bloom.h"
#include "sstable/format.h"
#include "sstable/table.h"
#include "src/coding.h"
#include "src/hash.h"
#include "src/status.h"
#include "tools/dump.h"

/* What the table's footer and meta blocks say, as far as they could be
 * read; every part that could not be read was reported as a problem. */
struct table_layout {
    struct env_file *file;
    uint64_t size;
    int has_footer;
    struct footer footer;
    struct block *index; /* NULL: unreadable */
    int has_props_h, has_filter_h;
    struct block_handle props_h, filter_h;
    struct block *props_block; /* NULL: unreadable */
    int props_ok;              /* props decoded without a problem */
    struct table_properties props;
    char *filter; /* the filter's bytes; NULL: none or unreadable */
    size_t filter_len;
    int complete; /* every part read: the table reader will open it */
};

/* ---- reading the layout ---------------------------------------------------------- */

/* Does the block at h, trailer included, end at or before limit?  Every
 * handle is checked before block_read, which would allocate its size. */
static int handle_fits(const struct block_handle *h, uint64_t limit)
{
    return h->size <= limit && h->offset <= limit - h->size &&
           limit - h->size - h->offset >= BLOCK_TRAILER_SIZE;
}

/* handle_fits, or a problem at where (the offset of what holds the handle). */
static int layout_check_handle(struct dump_ctx *c, const struct block_handle *h, uint64_t limit,
                               const char *what, uint64_t where)
{
    if (handle_fits(h, limit))
        return 1;
    dump_problem(c, where,
                 "%s handle (offset %" PRIu64 ", size %" PRIu64 ") reaches past the %" PRIu64
                 " bytes it may use",
                 what, h->offset, h->size, limit);
    return 0;
}

/* Read (checksum verified) and open the block at h; NULL after a problem. */
static struct block *layout_read_block(struct dump_ctx *c, struct table_layout *L,
                                       const struct block_handle *h)
{
    struct slice contents;
    if (block_read(L->file, h, 1, &contents) != STRATA_OK) {
        dump_problem_status(c, h->offset);
        return NULL;
    }
    struct block_origin origin = { c->path, h->offset };
    struct block *b;
    if (block_open(contents, 1, &origin, &b) != STRATA_OK) {
        dump_problem_status(c, h->offset);
        return NULL;
    }
    return b;
}

static int layout_read_footer(struct dump_ctx *c, struct table_layout *L)
{
    if (L->size < FOOTER_SIZE) {
        dump_problem(c, 0, "%" PRIu64 " bytes, too short for a table (the footer is %d)", L->size,
                     FOOTER_SIZE);
        return 0;
    }
    char buf[FOOTER_SIZE];
    size_t got;
    uint64_t at = L->size - FOOTER_SIZE;
    if (env_read_at(L->file, at, buf, sizeof buf, &got) != STRATA_OK) {
        dump_problem_status(c, at);
        return 0;
    }
    if (got < sizeof buf) {
        dump_problem(c, at, "the footer is cut short");
        return 0;
    }
    if (footer_decode(buf, c->path, &L->footer) != STRATA_OK) {
        dump_problem_status(c, at);
        return 0;
    }
    L->has_footer = 1;
    return 1;
}

/* A metaindex value must be exactly one handle. */
static int decode_whole_handle(struct slice v, struct block_handle *h)
{
    const char *p = v.data;
    return block_handle_decode(&p, v.data + v.len, h) && p == v.data + v.len;
}

static void layout_meta_entry(struct dump_ctx *c, struct table_layout *L, struct slice name,
                              struct slice value)
{
    int is_filter = slice_equal(name, slice_make("filter.strata.bloom", 19));
    int is_props = slice_equal(name, slice_make("properties", 10));
    if (!is_filter && !is_props)
        return; /* a meta block of a later version */
    struct block_handle h;
    uint64_t where = L->footer.metaindex.offset;
    if (!decode_whole_handle(value, &h)) {
        dump_problem(c, where, "malformed %s handle in the metaindex",
                     is_filter ? "filter" : "properties");
        return;
    }
    if (!layout_check_handle(c, &h, where, is_filter ? "filter" : "properties", where))
        return;
    if (is_filter) {
        L->has_filter_h = 1;
        L->filter_h = h;
    } else {
        L->has_props_h = 1;
        L->props_h = h;
    }
}

static void layout_read_metaindex(struct dump_ctx *c, struct table_layout *L)
{
    const struct block_handle *h = &L->footer.metaindex;
    if (!layout_check_handle(c, h, L->size - FOOTER_SIZE, "metaindex", L->size - FOOTER_SIZE))
        return;
    struct block *mb = layout_read_block(c, L, h);
    if (mb == NULL)
        return;
    struct iter *it = block_iter_new(mb, slice_compare, NULL, NULL);
    if (it == NULL) {
        dump_problem(c, h->offset, "out of memory reading the metaindex");
    } else {
        for (iter_seek_to_first(it); iter_valid(it); iter_next(it))
            layout_meta_entry(c, L, iter_key(it), iter_value(it));
        if (iter_status(it) != STRATA_OK)
            dump_problem_status(c, h->offset);
        iter_destroy(it);
    }
    block_free(mb);
    if (!L->has_props_h)
        dump_problem(c, h->offset, "the metaindex names no properties block");
}

static void layout_read_properties(struct dump_ctx *c, struct table_layout *L)
{
    L->props_block = layout_read_block(c, L, &L->props_h);
    if (L->props_block == NULL)
        return;
    struct iter *it = block_iter_new(L->props_block, slice_compare, NULL, NULL);
    if (it == NULL) {
        dump_problem(c, L->props_h.offset, "out of memory reading the properties");
        return;
    }
    int ok = 1;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it)) {
        struct slice name = iter_key(it);
        if (table_properties_decode_one(&L->props, name, iter_value(it)) != STRATA_OK) {
            dump_problem(c, L->props_h.offset, "malformed property %s", dump_bytes(c, name));
            ok = 0;
        }
    }
    if (iter_status(it) != STRATA_OK) {
        dump_problem_status(c, L->props_h.offset);
        ok = 0;
    }
    iter_destroy(it);
    L->props_ok = ok;
}

static void layout_read_filter(struct dump_ctx *c, struct table_layout *L)
{
    struct slice contents;
    if (block_read(L->file, &L->filter_h, 1, &contents) != STRATA_OK) {
        dump_problem_status(c, L->filter_h.offset);
        return;
    }
    L->filter = (char *)contents.data;
    L->filter_len = contents.len;
}

/* Read what locates and describes the data; 0 when the file cannot even
 * be opened. */
static int layout_load(struct dump_ctx *c, struct table_layout *L)
{
    size_t before = c->num_problems;
    if (env_open(c->env, c->path, ENV_OPEN_READ, &L->file) != STRATA_OK ||
        env_file_size(L->file, &L->size) != STRATA_OK) {
        dump_problem_status(c, DUMP_NO_OFFSET);
        return 0;
    }
    if (!layout_read_footer(c, L))
        return 1;
    uint64_t footer_at = L->size - FOOTER_SIZE;
    if (layout_check_handle(c, &L->footer.index, footer_at, "index", footer_at))
        L->index = layout_read_block(c, L, &L->footer.index);
    layout_read_metaindex(c, L);
    if (L->has_props_h)
        layout_read_properties(c, L);
    if (L->has_filter_h)
        layout_read_filter(c, L);
    L->complete = c->num_problems == before;
    return 1;
}

static void layout_free(struct table_layout *L)
{
    block_free(L->index);
    block_free(L->props_block);
    table_properties_free(&L->props);
    free(L->filter);
    env_close(L->file);
}

/* ---- properties ----------------------------------------------------------------------- */

static int is_key_property(struct slice name)
{
    return slice_equal(name, slice_make("strata.smallest.key", 19)) ||
           slice_equal(name, slice_make("strata.largest.key", 18));
}

/* A property's value as a number, if it is exactly one varint64. */
static int property_number(struct slice v, uint64_t *n)
{
    return v.len > 0 && decode_varint64(v.data, v.data + v.len, n) == v.data + v.len;
}

static void print_property_text(struct dump_ctx *c, struct slice name, struct slice value)
{
    fprintf(c->out, "  %-28.*s ", (int)name.len, name.data);
    uint64_t n;
    if (is_key_property(name)) {
        if (value.len == 0)
            fprintf(c->out, "(none: empty table)\n");
        else
            dump_text_ikey(c, value);
    } else if (!property_number(value, &n)) {
        fprintf(c->out, "'%s'\n", dump_bytes(c, value));
    } else if (slice_equal(name, slice_make("strata.compression.level", 24))) {
        fprintf(c->out, "%" PRId64 "\n", (int64_t)n);
    } else if (slice_equal(name, slice_make("strata.creation.time", 20))) {
        time_t t = (time_t)n;
        struct tm tm;
        char when[64] = "?";
        if (gmtime_r(&t, &tm) != NULL)
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        fprintf(c->out, "%" PRIu64 " (%s)\n", n, when);
    } else {
        fprintf(c->out, "%" PRIu64 "\n", n);
    }
}

static void print_property_json(struct dump_ctx *c, struct slice name, struct slice value)
{
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(name.len < 100 ? name.len : 100), name.data);
    json_key(&c->json, key);
    uint64_t n;
    if (is_key_property(name) && value.len > 0)
        dump_json_ikey(c, value);
    else if (!property_number(value, &n))
        json_cstr(&c->json, dump_bytes(c, value));
    else if (slice_equal(name, slice_make("strata.compression.level", 24)))
        json_i64(&c->json, (int64_t)n);
    else
        json_u64(&c->json, n);
}

/* Every property as stored, names this version does not know included. */
static void print_properties(struct dump_ctx *c, const struct table_layout *L)
{
    if (L->props_block == NULL)
        return;
    struct iter *it = block_iter_new(L->props_block, slice_compare, NULL, NULL);
    if (it == NULL)
        return;
    if (c->o->json) {
        json_key(&c->json, "properties");
        json_begin(&c->json, '{');
    } else {
        fprintf(c->out, "properties:\n");
    }
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it)) {
        if (c->o->json)
            print_property_json(c, iter_key(it), iter_value(it));
        else
            print_property_text(c, iter_key(it), iter_value(it));
    }
    if (c->o->json)
        json_end(&c->json, '}');
    iter_destroy(it); /* its status was checked when the layout was read */
}

/* ---- blocks ---------------------------------------------------------------------------- */

static const char *compression_name(int type)
{
    switch (type) {
    case STRATA_COMPRESSION_NONE: return "none";
    case STRATA_COMPRESSION_ZSTD: return "zstd";
    default: return "unknown";
    }
}

/* One row of --blocks: what the block's trailer and contents say.
 * raw_size, restarts: -1 when unknown or (filter) not applicable. */
struct block_row {
    const char *kind;
    struct block_handle h;
    int type; /* trailer's byte; -1 unreadable, -2 none (the footer) */
    int64_t raw_size, restarts;
};

static const char *row_compression(const struct block_row *r)
{
    if (r->type >= 0)
        return compression_name(r->type);
    return r->type == -1 ? "?" : "-";
}

static void print_block_row(struct dump_ctx *c, const struct block_row *r)
{
    if (c->o->json) {
        json_begin(&c->json, '{');
        json_kv_str(&c->json, "kind", r->kind);
        json_kv_u64(&c->json, "offset", r->h.offset);
        json_kv_u64(&c->json, "stored_size", r->h.size);
        if (r->raw_size >= 0)
            json_kv_u64(&c->json, "raw_size", (uint64_t)r->raw_size);
        if (r->type != -2)
            json_kv_str(&c->json, "compression", row_compression(r));
        if (r->restarts >= 0)
            json_kv_u64(&c->json, "restarts", (uint64_t)r->restarts);
        json_end(&c->json, '}');
        return;
    }
    char raw[32] = "?", restarts[32] = "-";
    if (r->raw_size >= 0)
        snprintf(raw, sizeof raw, "%" PRId64, r->raw_size);
    if (r->restarts >= 0)
        snprintf(restarts, sizeof restarts, "%" PRId64, r->restarts);
    fprintf(c->out, "  %-10s %10" PRIu64 " %10" PRIu64 " %10s  %-11s %8s\n", r->kind, r->h.offset,
            r->h.size, raw, row_compression(r), restarts);
}

/* Fill and print the row of the block at h.  A block that cannot be read
 * is a problem when report is set; the meta blocks were read with the
 * layout, and --check reads the data blocks, so that one damaged block is
 * one problem. */
static void list_block(struct dump_ctx *c, struct table_layout *L, const char *kind,
                       struct block_handle h, int is_block_format, int report)
{
    struct block_row r = { kind, h, -1, -1, -1 };
    unsigned char type;
    size_t got;
    if (env_read_at(L->file, h.offset + h.size, &type, 1, &got) == STRATA_OK && got == 1)
        r.type = type;
    struct slice contents;
    struct block *b = NULL;
    if (block_read(L->file, &h, 1, &contents) != STRATA_OK) {
        if (report)
            dump_problem_status(c, h.offset);
    } else {
        r.raw_size = (int64_t)contents.len;
        struct block_origin origin = { c->path, h.offset };
        if (!is_block_format)
            free((void *)contents.data);
        else if (block_open(contents, 1, &origin, &b) != STRATA_OK && report)
            dump_problem_status(c, h.offset);
        if (b != NULL)
            r.restarts = block_num_restarts(b);
        block_free(b);
    }
    print_block_row(c, &r);
}

/* The data blocks, through the index.  Damaged handles are problems here
 * unless --check walks the index too (and reports them). */
static void list_data_blocks(struct dump_ctx *c, struct table_layout *L)
{
    struct iter *it = block_iter_new(L->index, internal_key_compare, NULL, NULL);
    if (it == NULL)
        return;
    uint64_t limit = L->footer.metaindex.offset, index_at = L->footer.index.offset;
    int report = !c->o->check;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it)) {
        struct block_handle h;
        if (!decode_whole_handle(iter_value(it), &h)) {
            if (report)
                dump_problem(c, index_at, "malformed data block handle in the index");
        } else if (handle_fits(&h, limit)) {
            list_block(c, L, "data", h, 1, report);
        } else if (report) {
            layout_check_handle(c, &h, limit, "data block", index_at);
        }
    }
    if (iter_status(it) != STRATA_OK && report)
        dump_problem_status(c, index_at);
    iter_destroy(it);
}

static void print_blocks(struct dump_ctx *c, struct table_layout *L)
{
    if (!L->has_footer)
        return;
    if (c->o->json) {
        json_key(&c->json, "blocks");
        json_begin(&c->json, '[');
    } else {
        fprintf(c->out, "blocks:\n  %-10s %10s %10s %10s  %-11s %8s\n", "kind", "offset", "stored",
                "raw", "compression", "restarts");
    }
    if (L->index != NULL)
        list_data_blocks(c, L);
    if (L->has_filter_h)
        list_block(c, L, "filter", L->filter_h, 0, 0);
    if (L->has_props_h)
        list_block(c, L, "properties", L->props_h, 1, 0);
    uint64_t footer_at = L->size - FOOTER_SIZE;
    if (handle_fits(&L->footer.metaindex, footer_at))
        list_block(c, L, "metaindex", L->footer.metaindex, 1, 0);
    if (handle_fits(&L->footer.index, footer_at))
        list_block(c, L, "index", L->footer.index, 1, 0);
    struct block_row footer = { "footer", { footer_at, FOOTER_SIZE }, -2, FOOTER_SIZE, -1 };
    print_block_row(c, &footer);
    if (c->o->json)
        json_end(&c->json, ']');
}

/* ---- the filter -------------------------------------------------------------------------- */

static const char *bloom_answer(int has_filter, int may)
{
    if (!has_filter)
        return "may contain (the table has no filter)";
    return may ? "may contain" : "absent (the filter rules it out)";
}

static void print_bloom(struct dump_ctx *c, const struct table_layout *L)
{
    struct slice key = buf_slice(&c->o->bloom_key);
    int has_filter = L->filter != NULL;
    int may = !has_filter ||
              bloom_may_contain(slice_make(L->filter, L->filter_len), hash64(key.data, key.len, 0));
    if (c->o->json) {
        json_key(&c->json, "bloom");
        json_begin(&c->json, '{');
        json_kv_str(&c->json, "key", dump_bytes(c, key));
        json_key(&c->json, "filter");
        json_bool(&c->json, has_filter);
        json_key(&c->json, "may_contain");
        json_bool(&c->json, may);
        json_end(&c->json, '}');
        return;
    }
    fprintf(c->out, "bloom '%s': %s\n", dump_bytes(c, key), bloom_answer(has_filter, may));
}

/* ---- entries ----------------------------------------------------------------------------- */

/* Where --from starts: its newest possible entry. */
static void scan_seek(struct dump_ctx *c, struct iter *it, struct buf *target)
{
    if (!c->o->has_from) {
        iter_seek_to_first(it);
        return;
    }
    if (buf_put_internal_key(target, buf_slice(&c->o->from), MAX_SEQUENCE, TYPE_FOR_SEEK) !=
        STRATA_OK) {
        dump_problem(c, DUMP_NO_OFFSET, "out of memory");
        return;
    }
    iter_seek(it, buf_slice(target));
}

/* A key that does not parse passed the block's checksum: damage from
 * before the checksum was computed.  The reader does not say where it
 * is; the index does (the block it sends the key to). */
static void scan_print(struct dump_ctx *c, struct table *t, struct slice ikey, struct slice value)
{
    struct parsed_internal_key pk;
    if (!parse_internal_key(ikey, &pk)) {
        char text[320];
        dump_problem(c, table_approximate_offset(t, ikey),
                     "malformed internal key %s in the data block there",
                     dump_ikey_text(c, ikey, text, sizeof text));
        if (c->o->json)
            dump_json_ikey(c, ikey);
        else
            fprintf(c->out, "  '%s' (malformed internal key)\n", dump_bytes(c, ikey));
        return;
    }
    if (c->o->json)
        dump_json_entry(c, pk.user_key, pk.sequence, pk.type, value, 1);
    else
        dump_text_entry(c, 2, pk.user_key, pk.sequence, pk.type, value, 1);
}

/* The entries in [--from, --to), through the table reader, checksums on. */
static void scan_entries(struct dump_ctx *c, struct table *t, struct iter *it)
{
    struct buf target = { 0 };
    uint64_t n = 0;
    scan_seek(c, it, &target);
    for (; iter_valid(it); iter_next(it)) {
        struct slice k = iter_key(it);
        if (c->o->has_to && k.len >= INTERNAL_KEY_TAG_LEN &&
            slice_compare(internal_key_user_key(k), buf_slice(&c->o->to)) >= 0)
            break;
        scan_print(c, t, k, iter_value(it));
        n++;
    }
    if (iter_status(it) != STRATA_OK)
        dump_problem_status(c, DUMP_NO_OFFSET);
    if (!c->o->json)
        fprintf(c->out, "  (%" PRIu64 " entr%s)\n", n, n == 1 ? "y" : "ies");
    buf_free(&target);
}

static void print_entries(struct dump_ctx *c)
{
    if (c->o->json) {
        json_key(&c->json, "entries");
        json_begin(&c->json, '[');
    } else {
        fprintf(c->out, "entries:\n");
    }
    struct env_file *f;
    uint64_t size;
    struct table *t = NULL;
    struct table_open_options to = { .block_cache = NULL, .paranoid_checks = 1, .mmap_reads = 0 };
    if (env_open(c->env, c->path, ENV_OPEN_READ, &f) != STRATA_OK) {
        dump_problem_status(c, DUMP_NO_OFFSET);
    } else if (env_file_size(f, &size) != STRATA_OK) {
        dump_problem_status(c, DUMP_NO_OFFSET);
        env_close(f);
    } else if (table_open(f, size, &to, &t) != STRATA_OK) { /* closes f on failure */
        dump_problem_status(c, DUMP_NO_OFFSET);
    } else {
        struct table_read_options ro = { 1, 0 };
        struct iter *it = table_iter_new(t, &ro);
        if (it == NULL)
            dump_problem_status(c, DUMP_NO_OFFSET);
        else
            scan_entries(c, t, it);
        iter_destroy(it);
        table_close(t);
    }
    if (c->o->json)
        json_end(&c->json, ']');
}

/* ---- --check ----------------------------------------------------------------------------- */

/* What the walk over the data has found so far. */
struct check_state {
    struct buf prev; /* the last internal key seen */
    int have_prev;
    struct buf sep; /* the separator of the previous data block */
    int have_sep;
    uint64_t next_offset; /* where the next data block must start; UINT64_MAX: unknown */
    uint64_t blocks, entries, deletions, raw_key, raw_value, min_seq, max_seq;
    uint64_t user_keys, filter_misses;
    struct buf first_key, first_miss;
    uint64_t unreadable; /* data blocks not read in full: counts cannot be compared */
};

static void check_state_free(struct check_state *s)
{
    buf_free(&s->prev);
    buf_free(&s->sep);
    buf_free(&s->first_key);
    buf_free(&s->first_miss);
}

static int buf_set(struct buf *b, struct slice s)
{
    buf_clear(b);
    return buf_append(b, s.data, s.len);
}

/* The filter must answer "may contain" for each user key of the table
 * (asked once per user key, as the builder added it once). */
static void check_filter_key(const struct table_layout *L, struct check_state *s, struct slice ikey,
                             struct slice user_key)
{
    if (L->filter == NULL)
        return;
    if (s->have_prev && s->prev.len >= INTERNAL_KEY_TAG_LEN &&
        slice_equal(internal_key_user_key(buf_slice(&s->prev)), user_key))
        return;
    s->user_keys++;
    if (bloom_may_contain(slice_make(L->filter, L->filter_len),
                          hash64(user_key.data, user_key.len, 0)))
        return;
    if (s->filter_misses++ == 0)
        buf_set(&s->first_miss, ikey);
}

static void check_entry(struct dump_ctx *c, const struct table_layout *L, struct check_state *s,
                        uint64_t block_offset, struct slice key, struct slice value)
{
    char a[320], b[320];
    struct parsed_internal_key pk;
    if (!parse_internal_key(key, &pk)) {
        dump_problem(c, block_offset, "malformed internal key %s",
                     dump_ikey_text(c, key, a, sizeof a));
    } else {
        check_filter_key(L, s, key, pk.user_key);
        s->deletions += pk.type == TYPE_DELETION;
        if (s->entries == 0 || pk.sequence < s->min_seq)
            s->min_seq = pk.sequence;
        if (pk.sequence > s->max_seq)
            s->max_seq = pk.sequence;
    }
    if (s->have_prev && internal_key_compare(buf_slice(&s->prev), key) >= 0)
        dump_problem(c, block_offset, "key %s is not above the key before it, %s",
                     dump_ikey_text(c, key, a, sizeof a),
                     dump_ikey_text(c, buf_slice(&s->prev), b, sizeof b));
    if (s->entries == 0)
        buf_set(&s->first_key, key);
    s->entries++;
    s->raw_key += key.len;
    s->raw_value += value.len;
    s->have_prev = buf_set(&s->prev, key) == STRATA_OK;
}

/* Every entry of the data block at h, whose index separator is sep. */
static void check_block_entries(struct dump_ctx *c, const struct table_layout *L,
                                struct check_state *s, struct block *b,
                                const struct block_handle *h, struct slice sep)
{
    char a[320], bb[320];
    struct iter *it = block_iter_new(b, internal_key_compare, NULL, NULL);
    if (it == NULL) {
        dump_problem(c, h->offset, "out of memory for a block iterator");
        s->unreadable++;
        return;
    }
    uint64_t n = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it), n++) {
        struct slice k = iter_key(it);
        if (n == 0 && s->have_sep && internal_key_compare(buf_slice(&s->sep), k) >= 0)
            dump_problem(c, h->offset,
                         "the index separator of the block before, %s, is not below this "
                         "block's first key %s",
                         dump_ikey_text(c, buf_slice(&s->sep), a, sizeof a),
                         dump_ikey_text(c, k, bb, sizeof bb));
        check_entry(c, L, s, h->offset, k, iter_value(it));
    }
    if (iter_status(it) != STRATA_OK) {
        dump_problem_status(c, h->offset);
        s->unreadable++;
    } else if (n == 0) {
        dump_problem(c, h->offset, "empty data block (the builder never writes one)");
    } else if (internal_key_compare(buf_slice(&s->prev), sep) > 0) {
        dump_problem(c, h->offset, "the index separator %s is below the block's last key %s",
                     dump_ikey_text(c, sep, a, sizeof a),
                     dump_ikey_text(c, buf_slice(&s->prev), bb, sizeof bb));
    }
    iter_destroy(it);
}

/* Where the data blocks must end: before the first meta block. */
static uint64_t data_limit(const struct table_layout *L)
{
    uint64_t limit = L->footer.metaindex.offset;
    if (L->has_props_h && L->props_h.offset < limit)
        limit = L->props_h.offset;
    if (L->has_filter_h && L->filter_h.offset < limit)
        limit = L->filter_h.offset;
    return limit;
}

/* One index entry: its separator and handle, and the block it names. */
static void check_index_entry(struct dump_ctx *c, struct table_layout *L, struct check_state *s,
                              struct slice sep, struct slice value)
{
    struct parsed_internal_key pk;
    struct block_handle h;
    uint64_t index_at = L->footer.index.offset;
    if (!parse_internal_key(sep, &pk))
        dump_problem(c, index_at, "index entry %" PRIu64 ": malformed separator", s->blocks);
    s->blocks++;
    if (!decode_whole_handle(value, &h)) {
        dump_problem(c, index_at, "index entry %" PRIu64 ": malformed block handle", s->blocks - 1);
        s->unreadable++;
        s->next_offset = UINT64_MAX;
    } else if (!layout_check_handle(c, &h, data_limit(L), "data block", index_at)) {
        s->unreadable++;
        s->next_offset = UINT64_MAX;
    } else {
        if (s->next_offset != UINT64_MAX && h.offset != s->next_offset)
            dump_problem(c, h.offset,
                         "data block %" PRIu64 " starts at %" PRIu64 ", not where the block "
                         "before it ends (%" PRIu64 ")",
                         s->blocks - 1, h.offset, s->next_offset);
        s->next_offset = h.offset + h.size + BLOCK_TRAILER_SIZE;
        struct block *b = layout_read_block(c, L, &h);
        if (b == NULL)
            s->unreadable++;
        else
            check_block_entries(c, L, s, b, &h, sep);
        block_free(b);
    }
    s->have_sep = buf_set(&s->sep, sep) == STRATA_OK;
}

static void check_count(struct dump_ctx *c, const struct table_layout *L, const char *what,
                        uint64_t recorded, uint64_t found)
{
    if (recorded != found)
        dump_problem(c, L->props_h.offset,
                     "the properties say %" PRIu64 " %s, the data has %" PRIu64, recorded, what,
                     found);
}

static void check_key_property(struct dump_ctx *c, const struct table_layout *L, const char *what,
                               const struct buf *recorded, struct slice found)
{
    char a[320], b[320];
    if (!slice_equal(buf_slice(recorded), found))
        dump_problem(c, L->props_h.offset, "the properties' %s key is %s, the data's is %s", what,
                     dump_ikey_text(c, buf_slice(recorded), a, sizeof a),
                     dump_ikey_text(c, found, b, sizeof b));
}

/* The properties against what the walk found. */
static void check_properties(struct dump_ctx *c, const struct table_layout *L,
                             const struct check_state *s)
{
    const struct table_properties *p = &L->props;
    check_count(c, L, "entries", p->entries, s->entries);
    check_count(c, L, "deletions", p->deletions, s->deletions);
    check_count(c, L, "data blocks", p->data_blocks, s->blocks);
    check_count(c, L, "bytes of data blocks", p->data_bytes, s->blocks ? s->next_offset : 0);
    check_count(c, L, "bytes of internal keys", p->raw_key_bytes, s->raw_key);
    check_count(c, L, "bytes of values", p->raw_value_bytes, s->raw_value);
    check_count(c, L, "as the smallest sequence", p->smallest_seq, s->min_seq);
    check_count(c, L, "as the largest sequence", p->largest_seq, s->max_seq);
    check_key_property(c, L, "smallest", &p->smallest_key, buf_slice(&s->first_key));
    check_key_property(c, L, "largest", &p->largest_key,
                       s->entries ? buf_slice(&s->prev) : slice_make("", 0));
    if (p->bloom_bits_per_key > 0 && !L->has_filter_h)
        dump_problem(c, L->props_h.offset,
                     "the properties say %" PRIu64 " filter bits per key, the metaindex names "
                     "no filter",
                     p->bloom_bits_per_key);
}

static void check_summary(struct dump_ctx *c, const struct table_layout *L,
                          const struct check_state *s)
{
    char a[320];
    if (s->filter_misses > 0)
        dump_problem(c, L->filter_h.offset,
                     "the filter rules out %" PRIu64 " of the table's %" PRIu64
                     " user keys (the first: %s)",
                     s->filter_misses, s->user_keys,
                     dump_ikey_text(c, buf_slice(&s->first_miss), a, sizeof a));
    if (s->unreadable == 0 && L->props_ok)
        check_properties(c, L, s);
    if (c->o->json) {
        json_key(&c->json, "checked");
        json_begin(&c->json, '{');
        json_kv_u64(&c->json, "data_blocks", s->blocks);
        json_kv_u64(&c->json, "entries", s->entries);
        json_kv_u64(&c->json, "unreadable_blocks", s->unreadable);
        json_end(&c->json, '}');
    } else {
        fprintf(c->out, "checked: %" PRIu64 " entries in %" PRIu64 " data blocks", s->entries,
                s->blocks);
        if (s->unreadable > 0)
            fprintf(c->out,
                    " (%" PRIu64 " not read in full: counts not compared with the "
                    "properties)",
                    s->unreadable);
        fputc('\n', c->out);
    }
}

/* Walk the index and every data block, checksums on.  Without an index
 * there is nothing to walk: its problem was reported when it was read. */
static void check_table(struct dump_ctx *c, struct table_layout *L)
{
    if (L->index == NULL)
        return;
    struct check_state s;
    memset(&s, 0, sizeof s);
    struct iter *it = block_iter_new(L->index, internal_key_compare, NULL, NULL);
    if (it == NULL) {
        dump_problem(c, L->footer.index.offset, "out of memory for an index iterator");
        return;
    }
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it))
        check_index_entry(c, L, &s, iter_key(it), iter_value(it));
    if (iter_status(it) != STRATA_OK) {
        dump_problem_status(c, L->footer.index.offset);
        s.unreadable++;
    }
    iter_destroy(it);
    check_summary(c, L, &s);
    check_state_free(&s);
}

/* ---- the table's report ------------------------------------------------------------------ */

void dump_table(struct dump_ctx *c)
{
    struct table_layout L;
    memset(&L, 0, sizeof L);
    if (layout_load(c, &L)) {
        print_properties(c, &L);
        if (c->o->blocks)
            print_blocks(c, &L);
        if (c->o->has_bloom && L.complete)
            print_bloom(c, &L);
        /* A table the layout found damaged would not open: its problem is
         * reported already. */
        if (c->o->scan && L.complete)
            print_entries(c);
        if (c->o->check)
            check_table(c, &L);
    }
    layout_free(&L);
}

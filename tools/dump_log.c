/*
 * dump_log.c: sst-dump on the logs (docs/wal_format.md) and the files
 * that name them (docs/manifest_format.md): write-ahead logs (one write
 * batch per record), MANIFESTs (one version edit per record, replayed
 * into the state they describe) and CURRENT.
 *
 * Records are read with the database's own reader (wal/log_reader.h), so
 * damage is judged as recovery judges it: corruption (damage followed by
 * valid data) is a problem; a torn tail (damage at the very end, what a
 * crash in the middle of a write leaves) is reported but is not a
 * problem, since recovery drops it too and loses nothing that was
 * written whole.  Nor is a zero tail (the space a write-ahead log's writer
 * reserved and never filled, left by a killed process): it is reported,
 * since the file is longer than its records, and is no damage at all.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "src/filename.h"
#include "src/status.h"
#include "src/version_edit.h"
#include "src/write_batch.h"
#include "tools/dump.h"
#include "wal/log_reader.h"

/* Called for each record; offset is where it starts in the file. */
typedef void (*record_fn)(struct dump_ctx *c, void *state, uint64_t offset, struct slice record);

/* Print records, or only summarize them: --check alone checks quietly. */
static int show_records(const struct dump_ctx *c)
{
    return !c->o->check || c->o->scan;
}

/* end: where the log's bytes end (the file's size less any zero tail). */
static void print_torn_tail(struct dump_ctx *c, uint64_t end, uint64_t dropped)
{
    if (dropped == 0)
        return;
    uint64_t at = dropped <= end ? end - dropped : 0;
    if (c->o->json) {
        json_key(&c->json, "torn_tail");
        json_begin(&c->json, '{');
        json_kv_u64(&c->json, "offset", at);
        json_kv_u64(&c->json, "dropped_bytes", dropped);
        json_end(&c->json, '}');
    } else {
        fprintf(c->out,
                "torn tail: %" PRIu64 " bytes dropped at offset %" PRIu64
                " (an interrupted write; recovery drops them too)\n",
                dropped, at);
    }
}

static void print_zero_tail(struct dump_ctx *c, uint64_t size, uint64_t zeros)
{
    if (zeros == 0)
        return;
    uint64_t at = zeros <= size ? size - zeros : 0;
    if (c->o->json) {
        json_key(&c->json, "zero_tail");
        json_begin(&c->json, '{');
        json_kv_u64(&c->json, "offset", at);
        json_kv_u64(&c->json, "bytes", zeros);
        json_end(&c->json, '}');
    } else {
        fprintf(c->out,
                "zero tail: %" PRIu64 " bytes at offset %" PRIu64
                " (space the writer reserved and never wrote, as a killed process leaves it;"
                " not data)\n",
                zeros, at);
    }
}

/* Every record of the log at c->path, to fn; damage is a problem, and the
 * reader goes on after it as recovery would with paranoid_checks off. */
static void read_log(struct dump_ctx *c, const char *array, record_fn fn, void *state)
{
    struct env_file *f;
    uint64_t size = 0;
    if (env_open(c->env, c->path, ENV_OPEN_READ, &f) != STRATA_OK) {
        dump_problem_status(c, DUMP_NO_OFFSET);
        return;
    }
    struct wal_reader *r = env_file_size(f, &size) == STRATA_OK ? wal_reader_new(f) : NULL;
    if (r == NULL) {
        dump_problem_status(c, DUMP_NO_OFFSET);
        env_close(f);
        return;
    }
    if (show_records(c) && c->o->json) {
        json_key(&c->json, array);
        json_begin(&c->json, '[');
    }
    for (;;) {
        struct slice record;
        int rc = wal_reader_read(r, &record);
        if (rc == 0)
            break;
        if (rc == 1) {
            fn(c, state, wal_reader_record_offset(r), record);
            continue;
        }
        dump_problem_status(c, DUMP_NO_OFFSET);
        if (rc != STRATA_CORRUPTION)
            break; /* an I/O error or no memory: reading on would not help */
    }
    if (show_records(c) && c->o->json)
        json_end(&c->json, ']');
    uint64_t zeros = wal_reader_zero_tail_bytes(r);
    print_torn_tail(c, zeros <= size ? size - zeros : 0, wal_reader_dropped_bytes(r));
    print_zero_tail(c, size, zeros);
    wal_reader_free(r);
    env_close(f);
}

/* ---- write-ahead logs ------------------------------------------------------------------ */

struct wal_state {
    uint64_t records, updates;
    uint64_t first_seq, next_seq; /* next_seq: one past the last update's */
    int have_seq;
};

struct update_printer {
    struct dump_ctx *c;
    uint64_t in_range;
};

static int print_update(void *ctx, uint64_t sequence, enum value_type type, struct slice key,
                        struct slice value)
{
    struct update_printer *p = ctx;
    if (!dump_in_range(p->c->o, key))
        return STRATA_OK;
    p->in_range++;
    if (p->c->o->json)
        dump_json_entry(p->c, key, sequence, type, value, 1);
    else
        dump_text_entry(p->c, 2, key, sequence, type, value, 1);
    return STRATA_OK;
}

static int tally_update(void *ctx, uint64_t sequence, enum value_type type, struct slice key,
                        struct slice value)
{
    (void)sequence, (void)type, (void)value;
    struct update_printer *p = ctx;
    p->in_range += dump_in_range(p->c->o, key);
    return STRATA_OK;
}

static void print_batch(struct dump_ctx *c, uint64_t offset, struct slice record)
{
    uint64_t seq = decode_fixed64(record.data);
    uint32_t count = decode_fixed32(record.data + 8);
    struct update_printer p = { c, 0 };
    struct batch_handler tally = { &p, tally_update };
    /* With --from/--to, a batch without an update in range is left out. */
    if (c->o->has_from || c->o->has_to) {
        batch_iterate(record, &tally, c->path); /* checked whole by the caller */
        if (p.in_range == 0)
            return;
    }
    struct batch_handler printer = { &p, print_update };
    if (c->o->json) {
        json_begin(&c->json, '{');
        json_kv_u64(&c->json, "offset", offset);
        json_kv_u64(&c->json, "sequence", seq);
        json_kv_u64(&c->json, "count", count);
        json_key(&c->json, "updates");
        json_begin(&c->json, '[');
        batch_iterate(record, &printer, c->path);
        json_end(&c->json, ']');
        json_end(&c->json, '}');
    } else {
        fprintf(c->out,
                "record at offset %" PRIu64 ": sequence %" PRIu64 ", %" PRIu32 " update%s\n",
                offset, seq, count, count == 1 ? "" : "s");
        batch_iterate(record, &printer, c->path);
    }
}

/* Batches take consecutive sequence numbers in write order: a log whose
 * numbers go back would make recovery apply updates out of order. */
static void check_sequence(struct dump_ctx *c, struct wal_state *s, uint64_t offset, uint64_t seq,
                           uint32_t count)
{
    if (c->o->check && s->have_seq && seq < s->next_seq)
        dump_problem(c, offset,
                     "batch sequence %" PRIu64 " is below the %" PRIu64
                     " that follows the batch before it",
                     seq, s->next_seq);
    if (!s->have_seq)
        s->first_seq = seq;
    s->have_seq = 1;
    s->next_seq = seq + count;
}

static void wal_record(struct dump_ctx *c, void *state, uint64_t offset, struct slice record)
{
    struct wal_state *s = state;
    s->records++;
    /* The whole batch is checked before any of it is printed. */
    if (batch_iterate(record, NULL, c->path) != STRATA_OK) {
        dump_problem_status(c, offset);
        return;
    }
    uint32_t count = decode_fixed32(record.data + 8);
    check_sequence(c, s, offset, decode_fixed64(record.data), count);
    s->updates += count;
    if (show_records(c))
        print_batch(c, offset, record);
}

void dump_wal(struct dump_ctx *c)
{
    struct wal_state s;
    memset(&s, 0, sizeof s);
    if (!c->o->json && show_records(c))
        fprintf(c->out, "records:\n");
    read_log(c, "records", wal_record, &s);
    uint64_t last = s.updates ? s.next_seq - 1 : 0;
    if (c->o->json) {
        json_key(&c->json, "summary");
        json_begin(&c->json, '{');
        json_kv_u64(&c->json, "records", s.records);
        json_kv_u64(&c->json, "updates", s.updates);
        if (s.updates) {
            json_kv_u64(&c->json, "first_sequence", s.first_seq);
            json_kv_u64(&c->json, "last_sequence", last);
        }
        json_end(&c->json, '}');
    } else if (s.updates) {
        fprintf(c->out,
                "%" PRIu64 " records, %" PRIu64 " updates, sequences %" PRIu64 "..%" PRIu64 "\n",
                s.records, s.updates, s.first_seq, last);
    } else {
        fprintf(c->out, "%" PRIu64 " records, no updates\n", s.records);
    }
}

/* ---- MANIFESTs -------------------------------------------------------------------------- */

struct live_table {
    int level;
    uint64_t number, size;
};

/* The state the edits read so far add up to, as recovery replays it. */
struct manifest_state {
    uint64_t records;
    int has_comparator, has_log, has_next, has_last;
    char comparator[VERSION_EDIT_MAX_COMPARATOR + 1];
    uint64_t log_number, next_file, last_seq;
    struct live_table *tables;
    size_t ntables, cap;
};

static void print_edit_text(struct dump_ctx *c, uint64_t offset, const struct version_edit *e)
{
    char a[320], b[320];
    fprintf(c->out, "edit at offset %" PRIu64 ":\n", offset);
    if (e->has_comparator)
        fprintf(c->out, "  comparator '%s'\n",
                dump_bytes(c, slice_make(e->comparator, strlen(e->comparator))));
    if (e->has_log_number)
        fprintf(c->out, "  log number %" PRIu64 "\n", e->log_number);
    if (e->has_next_file_number)
        fprintf(c->out, "  next file number %" PRIu64 "\n", e->next_file_number);
    if (e->has_last_sequence)
        fprintf(c->out, "  last sequence %" PRIu64 "\n", e->last_sequence);
    for (size_t i = 0; i < e->num_pointers; i++)
        fprintf(c->out, "  compaction pointer: level %d, %s\n", e->pointers[i].level,
                dump_ikey_text(c, buf_slice(&e->pointers[i].key), a, sizeof a));
    for (size_t i = 0; i < e->num_deleted; i++)
        fprintf(c->out, "  deleted table: level %d, #%06" PRIu64 "\n", e->deleted[i].level,
                e->deleted[i].number);
    for (size_t i = 0; i < e->num_new_tables; i++) {
        const struct edit_table *t = &e->new_tables[i];
        fprintf(c->out, "  new table: level %d, #%06" PRIu64 ", %" PRIu64 " bytes, %s .. %s\n",
                t->level, t->number, t->size,
                dump_ikey_text(c, buf_slice(&t->smallest), a, sizeof a),
                dump_ikey_text(c, buf_slice(&t->largest), b, sizeof b));
    }
}

static void print_edit_tables_json(struct dump_ctx *c, const struct version_edit *e)
{
    json_key(&c->json, "compaction_pointers");
    json_begin(&c->json, '[');
    for (size_t i = 0; i < e->num_pointers; i++) {
        json_begin(&c->json, '{');
        json_kv_u64(&c->json, "level", (uint64_t)e->pointers[i].level);
        json_key(&c->json, "key");
        dump_json_ikey(c, buf_slice(&e->pointers[i].key));
        json_end(&c->json, '}');
    }
    json_end(&c->json, ']');
    json_key(&c->json, "deleted_tables");
    json_begin(&c->json, '[');
    for (size_t i = 0; i < e->num_deleted; i++) {
        json_begin(&c->json, '{');
        json_kv_u64(&c->json, "level", (uint64_t)e->deleted[i].level);
        json_kv_u64(&c->json, "number", e->deleted[i].number);
        json_end(&c->json, '}');
    }
    json_end(&c->json, ']');
    json_key(&c->json, "new_tables");
    json_begin(&c->json, '[');
    for (size_t i = 0; i < e->num_new_tables; i++) {
        const struct edit_table *t = &e->new_tables[i];
        json_begin(&c->json, '{');
        json_kv_u64(&c->json, "level", (uint64_t)t->level);
        json_kv_u64(&c->json, "number", t->number);
        json_kv_u64(&c->json, "size", t->size);
        json_key(&c->json, "smallest");
        dump_json_ikey(c, buf_slice(&t->smallest));
        json_key(&c->json, "largest");
        dump_json_ikey(c, buf_slice(&t->largest));
        json_end(&c->json, '}');
    }
    json_end(&c->json, ']');
}

static void print_edit_json(struct dump_ctx *c, uint64_t offset, const struct version_edit *e)
{
    json_begin(&c->json, '{');
    json_kv_u64(&c->json, "offset", offset);
    if (e->has_comparator)
        json_kv_str(&c->json, "comparator", e->comparator);
    if (e->has_log_number)
        json_kv_u64(&c->json, "log_number", e->log_number);
    if (e->has_next_file_number)
        json_kv_u64(&c->json, "next_file_number", e->next_file_number);
    if (e->has_last_sequence)
        json_kv_u64(&c->json, "last_sequence", e->last_sequence);
    print_edit_tables_json(c, e);
    json_end(&c->json, '}');
}

static struct live_table *find_table(struct manifest_state *s, int level, uint64_t number)
{
    for (size_t i = 0; i < s->ntables; i++)
        if (s->tables[i].number == number && s->tables[i].level == level)
            return &s->tables[i];
    return NULL;
}

static void add_table(struct dump_ctx *c, struct manifest_state *s, uint64_t offset,
                      const struct edit_table *t)
{
    if (find_table(s, t->level, t->number) != NULL) {
        if (c->o->check)
            dump_problem(c, offset, "table #%06" PRIu64 " is added to level %d twice", t->number,
                         t->level);
        return;
    }
    if (s->ntables == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        struct live_table *p = realloc(s->tables, cap * sizeof *p);
        if (p == NULL) {
            dump_problem(c, offset, "out of memory replaying the MANIFEST");
            return;
        }
        s->tables = p;
        s->cap = cap;
    }
    s->tables[s->ntables++] = (struct live_table){ t->level, t->number, t->size };
}

/* Recovery applies deletions first, then additions (src/version.c). */
static void apply_edit(struct dump_ctx *c, struct manifest_state *s, uint64_t offset,
                       const struct version_edit *e)
{
    if (e->has_comparator) {
        s->has_comparator = 1;
        memcpy(s->comparator, e->comparator, sizeof s->comparator);
    }
    if (e->has_log_number)
        s->has_log = 1, s->log_number = e->log_number;
    if (e->has_next_file_number)
        s->has_next = 1, s->next_file = e->next_file_number;
    if (e->has_last_sequence)
        s->has_last = 1, s->last_seq = e->last_sequence;
    for (size_t i = 0; i < e->num_deleted; i++) {
        struct live_table *t = find_table(s, e->deleted[i].level, e->deleted[i].number);
        if (t != NULL)
            *t = s->tables[--s->ntables];
        else if (c->o->check)
            dump_problem(c, offset, "deleted table #%06" PRIu64 " is not in level %d",
                         e->deleted[i].number, e->deleted[i].level);
    }
    for (size_t i = 0; i < e->num_new_tables; i++)
        add_table(c, s, offset, &e->new_tables[i]);
}

static void manifest_record(struct dump_ctx *c, void *state, uint64_t offset, struct slice record)
{
    struct manifest_state *s = state;
    struct version_edit e;
    s->records++;
    if (version_edit_decode(&e, record, c->path, offset) != STRATA_OK) {
        dump_problem_status(c, offset);
        return;
    }
    if (show_records(c)) {
        if (c->o->json)
            print_edit_json(c, offset, &e);
        else
            print_edit_text(c, offset, &e);
    }
    apply_edit(c, s, offset, &e);
    version_edit_clear(&e);
}

static int compare_live(const void *a, const void *b)
{
    const struct live_table *x = a, *y = b;
    if (x->level != y->level)
        return x->level < y->level ? -1 : 1;
    return (x->number > y->number) - (x->number < y->number);
}

static void print_state_text(struct dump_ctx *c, const struct manifest_state *s)
{
    fprintf(c->out, "state after %" PRIu64 " edits:", s->records);
    if (s->has_log)
        fprintf(c->out, " log number %" PRIu64 ",", s->log_number);
    if (s->has_next)
        fprintf(c->out, " next file number %" PRIu64 ",", s->next_file);
    if (s->has_last)
        fprintf(c->out, " last sequence %" PRIu64 ",", s->last_seq);
    fprintf(c->out, " %zu tables\n", s->ntables);
    for (size_t i = 0; i < s->ntables; i++)
        fprintf(c->out, "  level %d: #%06" PRIu64 " (%" PRIu64 " bytes)\n", s->tables[i].level,
                s->tables[i].number, s->tables[i].size);
}

static void print_state_json(struct dump_ctx *c, const struct manifest_state *s)
{
    json_key(&c->json, "state");
    json_begin(&c->json, '{');
    json_kv_u64(&c->json, "edits", s->records);
    if (s->has_comparator)
        json_kv_str(&c->json, "comparator", s->comparator);
    if (s->has_log)
        json_kv_u64(&c->json, "log_number", s->log_number);
    if (s->has_next)
        json_kv_u64(&c->json, "next_file_number", s->next_file);
    if (s->has_last)
        json_kv_u64(&c->json, "last_sequence", s->last_seq);
    json_key(&c->json, "tables");
    json_begin(&c->json, '[');
    for (size_t i = 0; i < s->ntables; i++) {
        json_begin(&c->json, '{');
        json_kv_u64(&c->json, "level", (uint64_t)s->tables[i].level);
        json_kv_u64(&c->json, "number", s->tables[i].number);
        json_kv_u64(&c->json, "size", s->tables[i].size);
        json_end(&c->json, '}');
    }
    json_end(&c->json, ']');
    json_end(&c->json, '}');
}

/* What recovery requires of the state (docs/manifest_format.md). */
static void check_manifest_state(struct dump_ctx *c, const struct manifest_state *s)
{
    if (!s->has_log || !s->has_next || !s->has_last)
        dump_problem(c, DUMP_NO_OFFSET,
                     "the edits never set the%s%s%s: recovery refuses this MANIFEST",
                     s->has_log ? "" : " log number", s->has_next ? "" : " next file number",
                     s->has_last ? "" : " last sequence");
    if (s->has_comparator && strcmp(s->comparator, COMPARATOR_NAME) != 0)
        dump_problem(c, DUMP_NO_OFFSET, "comparator '%s', not strata's '%s'", s->comparator,
                     COMPARATOR_NAME);
    for (size_t i = 0; s->has_next && i < s->ntables; i++)
        if (s->tables[i].number >= s->next_file)
            dump_problem(c, DUMP_NO_OFFSET,
                         "table #%06" PRIu64 " is not below the next file number %" PRIu64,
                         s->tables[i].number, s->next_file);
}

/* The directory part of path ("." for none) into out. */
static void dir_of(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(out, n, ".");
    else if (slash == path)
        snprintf(out, n, "/");
    else
        snprintf(out, n, "%.*s", (int)(slash - path), path);
}

/* Does CURRENT, next to path, name path? */
static int is_current_manifest(struct dump_ctx *c, const char *dir)
{
    char current[4096];
    char *data;
    size_t n;
    if (db_file_name(current, sizeof current, dir, "CURRENT") != STRATA_OK ||
        env_read_file(c->env, current, &data, &n) != STRATA_OK)
        return 0;
    const char *slash = strrchr(c->path, '/');
    const char *base = slash ? slash + 1 : c->path;
    int is = n == strlen(base) + 1 && !memcmp(data, base, n - 1) && data[n - 1] == '\n';
    free(data);
    return is;
}

/* The live MANIFEST's tables must be there, at the size it recorded: a
 * missing one is data lost, and the database will not open. */
static void check_live_tables(struct dump_ctx *c, const struct manifest_state *s)
{
    char dir[4096], path[4096];
    dir_of(c->path, dir, sizeof dir);
    if (!is_current_manifest(c, dir))
        return;
    for (size_t i = 0; i < s->ntables; i++) {
        const struct live_table *t = &s->tables[i];
        struct env_file *f;
        uint64_t size;
        if (table_file_name(path, sizeof path, dir, t->number) != STRATA_OK)
            continue;
        if (env_open(c->env, path, ENV_OPEN_READ, &f) != STRATA_OK) {
            dump_problem(c, DUMP_NO_OFFSET, "table %s of level %d cannot be opened: %s", path,
                         t->level, strata_last_error());
            continue;
        }
        if (env_file_size(f, &size) == STRATA_OK && size != t->size)
            dump_problem(c, DUMP_NO_OFFSET,
                         "table %s is %" PRIu64 " bytes, the MANIFEST says %" PRIu64, path, size,
                         t->size);
        env_close(f);
    }
}

void dump_manifest(struct dump_ctx *c)
{
    struct manifest_state s;
    memset(&s, 0, sizeof s);
    read_log(c, "edits", manifest_record, &s);
    qsort(s.tables, s.ntables, sizeof *s.tables, compare_live);
    if (c->o->json)
        print_state_json(c, &s);
    else
        print_state_text(c, &s);
    if (c->o->check) {
        check_manifest_state(c, &s);
        check_live_tables(c, &s);
    }
    free(s.tables);
}

/* ---- CURRENT ----------------------------------------------------------------------------- */

/* Exactly "MANIFEST-<decimal number>\n", as recovery requires; the name
 * into name (64 bytes). */
static int current_is_valid(const char *data, size_t n, char *name)
{
    enum file_type type;
    uint64_t number;
    if (n < 2 || n > 64 || data[n - 1] != '\n' || memchr(data, '\0', n) != NULL)
        return 0;
    memcpy(name, data, n - 1);
    name[n - 1] = '\0';
    return parse_file_name(name, &type, &number) && type == FILE_MANIFEST;
}

void dump_current(struct dump_ctx *c)
{
    char *data;
    size_t n;
    if (env_read_file(c->env, c->path, &data, &n) != STRATA_OK) {
        dump_problem_status(c, DUMP_NO_OFFSET);
        return;
    }
    char manifest[64];
    int valid = current_is_valid(data, n, manifest);
    struct slice name = slice_make(data, valid ? n - 1 : n);
    if (c->o->json)
        json_kv_str(&c->json, "manifest", dump_bytes(c, name));
    else
        fprintf(c->out, "manifest: '%s'\n", dump_bytes(c, name));
    if (!valid) {
        dump_problem(c, 0, "CURRENT is not MANIFEST-<number> and a newline");
    } else {
        char dir[4096], path[4096];
        enum env_path_kind kind = ENV_PATH_MISSING;
        dir_of(c->path, dir, sizeof dir);
        if (db_file_name(path, sizeof path, dir, manifest) == STRATA_OK)
            env_path_kind(c->env, path, &kind);
        if (kind != ENV_PATH_FILE)
            dump_problem(c, DUMP_NO_OFFSET, "names %s, which is not in %s", manifest, dir);
    }
    free(data);
}

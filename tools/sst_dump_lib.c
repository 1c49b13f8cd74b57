/*
 * sst_dump_lib.c: the command line of sst-dump (tools/sst_dump_lib.h):
 * flags, what kind each file is, directories, the report around each
 * file, problems and the exit status.  The kinds of files are dumped by
 * tools/dump_table.c and tools/dump_log.c.
 *
 * The kind of a file is decided by its name, as the database itself
 * decides (src/filename.h), so that a directory is read the way strata
 * reads it; a file named on the command line may also be a copy with
 * another name (.sst, .log, MANIFEST*), and --wal reads anything as a log.
 */
#include "tools/sst_dump_lib.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "src/filename.h"
#include "src/status.h"
#include "tools/dump.h"

enum dump_kind {
    KIND_UNKNOWN,
    KIND_TABLE,
    KIND_WAL,
    KIND_MANIFEST,
    KIND_CURRENT,
    KIND_LOCK,
    KIND_INFO_LOG,
    KIND_TEMP,
    KIND_DIRECTORY,
    KIND_MISSING,
};

static const char *const kind_names[] = {
    [KIND_UNKNOWN] = "unknown",   [KIND_TABLE] = "table",     [KIND_WAL] = "wal",
    [KIND_MANIFEST] = "manifest", [KIND_CURRENT] = "current", [KIND_LOCK] = "lock",
    [KIND_INFO_LOG] = "info-log", [KIND_TEMP] = "temporary",  [KIND_DIRECTORY] = "directory",
    [KIND_MISSING] = "missing",
};

static const char usage_text[] =
    "usage: sst-dump [options] FILE|DIR...\n"
    "Prints strata's tables (NNNNNN.sst), write-ahead logs (NNNNNN.log), MANIFESTs\n"
    "and CURRENT; a directory stands for every file in it.\n"
    "  --scan          print the entries of tables (and only the updates in range of logs)\n"
    "  --from KEY      start at this user key (inclusive)\n"
    "  --to KEY        stop before this user key (exclusive)\n"
    "  --hex           print keys and values in hex\n"
    "  --check         verify checksums, key order, the index, counts and the filter\n"
    "  --blocks        list every block of tables: offset, sizes, compression, restarts\n"
    "  --bloom KEY     say whether each table's filter may hold KEY\n"
    "  --wal           read the files named as write-ahead logs, whatever their names\n"
    "  --json          one JSON object per file, one per line\n"
    "  -h, --help      this message\n"
    "KEY is bytes as printed: \\xNN for any byte.  Exit status: 0 nothing wrong,\n"
    "1 a problem was found, 2 usage error.  See docs/sst_dump.md.\n";

/* ---- problems ------------------------------------------------------------------------ */

static void problem_print(struct dump_ctx *c, uint64_t offset, const char *msg)
{
    if (offset == DUMP_NO_OFFSET)
        fprintf(c->out, "problem: %s: %s\n", c->path, msg);
    else
        fprintf(c->out, "problem: %s at offset %" PRIu64 ": %s\n", c->path, offset, msg);
}

/* JSON mode: keep it for the "problems" member.  Out of memory, it is
 * still counted, only its message is lost. */
static void problem_keep(struct dump_ctx *c, uint64_t offset, const char *msg)
{
    if (c->num_kept == c->problems_cap) {
        size_t cap = c->problems_cap ? 2 * c->problems_cap : 8;
        struct dump_problem *p = realloc(c->problems, cap * sizeof *p);
        if (p == NULL)
            return;
        c->problems = p;
        c->problems_cap = cap;
    }
    char *copy = strdup(msg);
    if (copy == NULL)
        return;
    c->problems[c->num_kept].offset = offset;
    c->problems[c->num_kept].message = copy;
    c->num_kept++;
}

static void problem_add(struct dump_ctx *c, uint64_t offset, const char *msg)
{
    if (c->num_problems < DUMP_MAX_SHOWN_PROBLEMS) {
        if (c->o->json)
            problem_keep(c, offset, msg);
        else
            problem_print(c, offset, msg);
    }
    c->num_problems++;
}

void dump_problem(struct dump_ctx *c, uint64_t offset, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    problem_add(c, offset, msg);
}

/* The first "at offset N" of a message, the convention of strata's
 * messages about damage. */
static uint64_t offset_in_message(const char *msg, uint64_t fallback)
{
    const char *p = strstr(msg, " at offset ");
    if (p == NULL)
        return fallback;
    p += strlen(" at offset ");
    if (*p < '0' || *p > '9')
        return fallback;
    return strtoull(p, NULL, 10);
}

void dump_problem_status(struct dump_ctx *c, uint64_t fallback)
{
    const char *msg = strata_last_error();
    problem_add(c, offset_in_message(msg, fallback), msg);
}

/* ---- keys and values ------------------------------------------------------------------ */

const char *dump_bytes(struct dump_ctx *c, struct slice s)
{
    if (dump_escape(s, c->o->hex, &c->esc) != STRATA_OK)
        return "(out of memory)";
    c->esc.data[c->esc.len] = '\0'; /* dump_escape reserves the byte */
    return c->esc.data;
}

const char *dump_type_name(enum value_type type)
{
    return type == TYPE_VALUE ? "put" : type == TYPE_DELETION ? "delete" : "unknown";
}

void dump_text_entry(struct dump_ctx *c, int indent, struct slice user_key, uint64_t seq,
                     enum value_type type, struct slice value, int with_value)
{
    fprintf(c->out, "%*s'%s'", indent, "", dump_bytes(c, user_key));
    fprintf(c->out, " @ %" PRIu64 " : %s", seq, dump_type_name(type));
    if (with_value && type == TYPE_VALUE)
        fprintf(c->out, " => '%s'", dump_bytes(c, value));
    fputc('\n', c->out);
}

void dump_json_entry(struct dump_ctx *c, struct slice user_key, uint64_t seq, enum value_type type,
                     struct slice value, int with_value)
{
    json_begin(&c->json, '{');
    json_kv_str(&c->json, "key", dump_bytes(c, user_key));
    json_kv_u64(&c->json, "sequence", seq);
    json_kv_str(&c->json, "type", dump_type_name(type));
    if (with_value && type == TYPE_VALUE)
        json_kv_str(&c->json, "value", dump_bytes(c, value));
    json_end(&c->json, '}');
}

const char *dump_ikey_text(struct dump_ctx *c, struct slice ikey, char *out, size_t n)
{
    struct parsed_internal_key pk;
    if (!parse_internal_key(ikey, &pk))
        snprintf(out, n, "'%s' (malformed)", dump_bytes(c, ikey));
    else
        snprintf(out, n, "'%s' @ %" PRIu64 " : %s", dump_bytes(c, pk.user_key), pk.sequence,
                 dump_type_name(pk.type));
    return out;
}

void dump_text_ikey(struct dump_ctx *c, struct slice ikey)
{
    struct parsed_internal_key pk;
    if (parse_internal_key(ikey, &pk))
        dump_text_entry(c, 0, pk.user_key, pk.sequence, pk.type, slice_make("", 0), 0);
    else
        fprintf(c->out, "'%s' (malformed internal key)\n", dump_bytes(c, ikey));
}

void dump_json_ikey(struct dump_ctx *c, struct slice ikey)
{
    struct parsed_internal_key pk;
    if (parse_internal_key(ikey, &pk)) {
        dump_json_entry(c, pk.user_key, pk.sequence, pk.type, slice_make("", 0), 0);
        return;
    }
    json_begin(&c->json, '{');
    json_kv_str(&c->json, "malformed", dump_bytes(c, ikey));
    json_end(&c->json, '}');
}

int dump_in_range(const struct dump_options *o, struct slice user_key)
{
    if (o->has_from && slice_compare(user_key, buf_slice(&o->from)) < 0)
        return 0;
    return !o->has_to || slice_compare(user_key, buf_slice(&o->to)) < 0;
}

/* ---- the kind of a file ---------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static enum dump_kind kind_of_type(enum file_type t)
{
    switch (t) {
    case FILE_LOG: return KIND_WAL;
    case FILE_TABLE: return KIND_TABLE;
    case FILE_MANIFEST: return KIND_MANIFEST;
    case FILE_CURRENT: return KIND_CURRENT;
    case FILE_LOCK: return KIND_LOCK;
    case FILE_INFO_LOG: return KIND_INFO_LOG;
    case FILE_TEMP: return KIND_TEMP;
    }
    return KIND_UNKNOWN;
}

/* A directory entry: strata's names only, as the database sees them. */
static enum dump_kind kind_in_directory(const char *name)
{
    enum file_type t;
    uint64_t number;
    return parse_file_name(name, &t, &number) ? kind_of_type(t) : KIND_UNKNOWN;
}

/* A file named on the command line: also a leftover NAME.tmp (read as
 * NAME would be) and copies named *.sst, *.log or MANIFEST*. */
static enum dump_kind kind_of_argument(const char *path)
{
    const char *name = base_name(path);
    enum dump_kind k = kind_in_directory(name);
    if (k == KIND_TEMP || (k == KIND_UNKNOWN && ends_with(name, ".tmp"))) {
        char base[256];
        size_t n = strlen(name) - 4;
        if (n >= sizeof base)
            return KIND_UNKNOWN;
        memcpy(base, name, n);
        base[n] = '\0';
        return kind_of_argument(base);
    }
    if (k != KIND_UNKNOWN)
        return k;
    if (ends_with(name, ".sst"))
        return KIND_TABLE;
    if (ends_with(name, ".log"))
        return KIND_WAL;
    if (!strncmp(name, "MANIFEST", 8))
        return KIND_MANIFEST;
    return KIND_UNKNOWN;
}

/* ---- one file's report ------------------------------------------------------------------ */

static void report_begin(struct dump_ctx *c, enum dump_kind kind, uint64_t size, int has_size)
{
    if (c->o->json) {
        json_begin(&c->json, '{');
        json_kv_str(&c->json, "file", c->path);
        json_kv_str(&c->json, "kind", kind_names[kind]);
        if (has_size)
            json_kv_u64(&c->json, "size", size);
    } else if (has_size) {
        fprintf(c->out, "== %s (%s, %" PRIu64 " bytes) ==\n", c->path, kind_names[kind], size);
    } else {
        fprintf(c->out, "== %s (%s) ==\n", c->path, kind_names[kind]);
    }
}

static void report_json_problems(struct dump_ctx *c)
{
    json_key(&c->json, "problems");
    json_begin(&c->json, '[');
    for (size_t i = 0; i < c->num_kept; i++) {
        json_begin(&c->json, '{');
        if (c->problems[i].offset != DUMP_NO_OFFSET)
            json_kv_u64(&c->json, "offset", c->problems[i].offset);
        json_kv_str(&c->json, "message", c->problems[i].message);
        json_end(&c->json, '}');
    }
    json_end(&c->json, ']');
    if (c->num_problems > c->num_kept)
        json_kv_u64(&c->json, "problems_not_shown", c->num_problems - c->num_kept);
}

static void report_end(struct dump_ctx *c, int skipped)
{
    if (c->o->json) {
        if (skipped) {
            json_key(&c->json, "skipped");
            json_bool(&c->json, 1);
        }
        report_json_problems(c);
        json_key(&c->json, "ok");
        json_bool(&c->json, c->num_problems == 0);
        json_end(&c->json, '}');
        fputc('\n', c->out);
        return;
    }
    if (c->num_problems > DUMP_MAX_SHOWN_PROBLEMS)
        fprintf(c->out, "(%zu more problems not shown)\n",
                c->num_problems - DUMP_MAX_SHOWN_PROBLEMS);
    if (c->o->check && !skipped) {
        if (c->num_problems == 0)
            fprintf(c->out, "check: ok\n");
        else
            fprintf(c->out, "check: %zu problem%s\n", c->num_problems,
                    c->num_problems == 1 ? "" : "s");
    }
    fputc('\n', c->out);
}

static void ctx_free(struct dump_ctx *c)
{
    for (size_t i = 0; i < c->num_kept; i++)
        free(c->problems[i].message);
    free(c->problems);
    buf_free(&c->esc);
}

static void dump_kind_body(struct dump_ctx *c, enum dump_kind kind)
{
    switch (kind) {
    case KIND_TABLE: dump_table(c); break;
    case KIND_WAL: dump_wal(c); break;
    case KIND_MANIFEST: dump_manifest(c); break;
    case KIND_CURRENT: dump_current(c); break;
    default: break;
    }
}

/* Why a file is not inspected, or NULL when it is. */
static const char *skip_reason(enum dump_kind kind, int in_directory)
{
    switch (kind) {
    case KIND_LOCK: return "the lock file holds nothing";
    case KIND_INFO_LOG: return "the info log is text: read it as it is";
    case KIND_TEMP: return "a leftover of an interrupted write (name it to inspect it)";
    case KIND_DIRECTORY: return "a subdirectory";
    case KIND_UNKNOWN: return in_directory ? "not one of strata's files" : NULL;
    default: return NULL;
    }
}

/* Report path (of the given kind) and return its number of problems. */
static size_t dump_one(const struct dump_options *o, struct env *env, FILE *out, const char *path,
                       enum dump_kind kind, int in_directory)
{
    struct dump_ctx c = { .o = o, .env = env, .out = out, .path = path };
    c.json.f = out;
    enum env_path_kind pk = ENV_PATH_MISSING;
    env_path_kind(env, path, &pk);
    uint64_t size = 0;
    struct env_file *f;
    int has_size = pk == ENV_PATH_FILE && env_open(env, path, ENV_OPEN_READ, &f) == STRATA_OK;
    if (has_size) {
        has_size = env_file_size(f, &size) == STRATA_OK;
        env_close(f);
    }
    if (pk == ENV_PATH_MISSING)
        kind = KIND_MISSING;
    report_begin(&c, kind, size, has_size);
    const char *why = skip_reason(kind, in_directory);
    if (why != NULL && !o->json)
        fprintf(out, "skipped: %s\n", why);
    if (kind == KIND_MISSING)
        dump_problem(&c, DUMP_NO_OFFSET, "no such file or directory");
    else if (kind == KIND_UNKNOWN && !in_directory)
        dump_problem(&c, DUMP_NO_OFFSET,
                     "cannot tell the kind of file from its name (NNNNNN.sst, NNNNNN.log, "
                     "MANIFEST-NNNNNN, CURRENT); --wal reads it as a write-ahead log");
    else if (why == NULL)
        dump_kind_body(&c, kind);
    report_end(&c, why != NULL);
    size_t n = c.num_problems;
    ctx_free(&c);
    return n;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every entry of dir in name order, each with its report. */
static size_t dump_directory(const struct dump_options *o, struct env *env, FILE *out,
                             const char *dir, size_t *files)
{
    char **names;
    size_t n;
    if (env_list_dir(env, dir, &names, &n) != STRATA_OK) {
        struct dump_ctx c = { .o = o, .env = env, .out = out, .path = dir };
        c.json.f = out;
        report_begin(&c, KIND_DIRECTORY, 0, 0);
        dump_problem_status(&c, DUMP_NO_OFFSET);
        report_end(&c, 0);
        ctx_free(&c);
        return 1;
    }
    qsort(names, n, sizeof *names, compare_names);
    size_t problems = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(len);
        if (path == NULL) {
            problems++; /* counted in the summary; nothing can be printed about it */
            continue;
        }
        snprintf(path, len, "%s%s%s", dir, ends_with(dir, "/") ? "" : "/", names[i]);
        enum env_path_kind pk = ENV_PATH_MISSING;
        env_path_kind(env, path, &pk);
        enum dump_kind kind = pk == ENV_PATH_DIR ? KIND_DIRECTORY : kind_in_directory(names[i]);
        problems += dump_one(o, env, out, path, kind, 1);
        (*files)++;
        free(path);
    }
    env_free_names(names, n);
    return problems;
}

static size_t dump_argument(const struct dump_options *o, struct env *env, FILE *out,
                            const char *path, size_t *files)
{
    enum env_path_kind pk = ENV_PATH_MISSING;
    env_path_kind(env, path, &pk);
    if (pk == ENV_PATH_DIR)
        return dump_directory(o, env, out, path, files);
    (*files)++;
    enum dump_kind kind = o->force_wal ? KIND_WAL : kind_of_argument(path);
    return dump_one(o, env, out, path, kind, 0);
}

/* ---- flags ------------------------------------------------------------------------------- */

static int usage_error(FILE *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(FILE *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sst-dump: ", err);
    vfprintf(err, fmt, ap);
    fputs("\n", err);
    va_end(ap);
    fputs(usage_text, err);
    return DUMP_EXIT_USAGE;
}

/* A flag that takes a key: "--from KEY" or "--from=KEY".  *i moves past
 * what it used. */
static int parse_key_flag(int argc, char **argv, int *i, const char *flag, struct buf *key,
                          int *has, FILE *err)
{
    const char *arg = argv[*i];
    size_t n = strlen(flag);
    const char *text;
    if (arg[n] == '=') {
        text = arg + n + 1;
    } else if (*i + 1 < argc) {
        text = argv[++*i];
    } else {
        return usage_error(err, "%s needs a key", flag);
    }
    if (dump_unescape(text, key) != STRATA_OK)
        return usage_error(err, "malformed key '%s': a backslash must start \\xNN", text);
    *has = 1;
    return DUMP_EXIT_OK;
}

static int flag_is(const char *arg, const char *flag)
{
    size_t n = strlen(flag);
    return !strncmp(arg, flag, n) && (arg[n] == '\0' || arg[n] == '=');
}

/* Fill o and files (argv entries) from the arguments; DUMP_EXIT_OK, or
 * DUMP_EXIT_USAGE after the message. */
static int parse_one_flag(int argc, char **argv, int *i, struct dump_options *o, FILE *err)
{
    const char *a = argv[*i];
    static const struct {
        const char *name;
        size_t field;
    } bools[] = {
        { "--scan", offsetof(struct dump_options, scan) },
        { "--check", offsetof(struct dump_options, check) },
        { "--blocks", offsetof(struct dump_options, blocks) },
        { "--hex", offsetof(struct dump_options, hex) },
        { "--json", offsetof(struct dump_options, json) },
        { "--wal", offsetof(struct dump_options, force_wal) },
    };
    for (size_t k = 0; k < sizeof bools / sizeof bools[0]; k++) {
        if (!strcmp(a, bools[k].name)) {
            *(int *)((char *)o + bools[k].field) = 1;
            return DUMP_EXIT_OK;
        }
    }
    if (flag_is(a, "--from"))
        return parse_key_flag(argc, argv, i, "--from", &o->from, &o->has_from, err);
    if (flag_is(a, "--to"))
        return parse_key_flag(argc, argv, i, "--to", &o->to, &o->has_to, err);
    if (flag_is(a, "--bloom"))
        return parse_key_flag(argc, argv, i, "--bloom", &o->bloom_key, &o->has_bloom, err);
    return usage_error(err, "unknown flag %s", a);
}

static int parse_args(int argc, char **argv, struct dump_options *o, char **files, int *nfiles,
                      FILE *err)
{
    int only_files = 0;
    *nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_files || a[0] != '-' || a[1] == '\0') {
            files[(*nfiles)++] = argv[i];
        } else if (!strcmp(a, "--")) {
            only_files = 1;
        } else {
            int rc = parse_one_flag(argc, argv, &i, o, err);
            if (rc != DUMP_EXIT_OK)
                return rc;
        }
    }
    if (*nfiles == 0)
        return usage_error(err, "%s", "no file or directory given");
    return DUMP_EXIT_OK;
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

static void options_free(struct dump_options *o)
{
    buf_free(&o->from);
    buf_free(&o->to);
    buf_free(&o->bloom_key);
}

static int run(const struct dump_options *o, char **files, int nfiles, FILE *out, FILE *err)
{
    struct env *env = env_new();
    if (env == NULL) {
        fputs("sst-dump: out of memory\n", err);
        return DUMP_EXIT_PROBLEMS;
    }
    size_t problems = 0, nread = 0;
    for (int i = 0; i < nfiles; i++)
        problems += dump_argument(o, env, out, files[i], &nread);
    env_free(env);
    fflush(out);
    if (problems == 0)
        return DUMP_EXIT_OK;
    fprintf(err, "sst-dump: %zu problem%s found in %zu file%s\n", problems,
            problems == 1 ? "" : "s", nread, nread == 1 ? "" : "s");
    return DUMP_EXIT_PROBLEMS;
}

int dump_main(int argc, char **argv, FILE *out, FILE *err)
{
    if (wants_help(argc, argv)) {
        fputs(usage_text, out);
        return DUMP_EXIT_OK;
    }
    struct dump_options o;
    memset(&o, 0, sizeof o);
    char **files = calloc(argc > 0 ? (size_t)argc : 1, sizeof *files);
    if (files == NULL) {
        fputs("sst-dump: out of memory\n", err);
        return DUMP_EXIT_PROBLEMS;
    }
    int nfiles;
    int rc = parse_args(argc, argv, &o, files, &nfiles, err);
    if (rc == DUMP_EXIT_OK)
        rc = run(&o, files, nfiles, out, err);
    free(files);
    options_free(&o);
    return rc;
}

/*
 * flags.c: parsing db_bench's flags.  One table lists every flag, its type,
 * where it goes and its help line, so that parsing and usage cannot drift.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/flags.h"

const char *const BENCH_DEFAULT_SUITE =
    "fillseq,fillsync,fillrandom,overwrite,readrandom,readseq,readreverse,readmissing,readhot,"
    "seekrandom,deleterandom,fill100K,stats";
const char *const BENCH_COMPARE_SUITE =
    "fillseq,fillrandom,overwrite,readrandom,readseq,readreverse,readmissing,seekrandom,"
    "deleterandom,fillsync";

enum flag_type { F_U64, F_INT, F_SINT, F_SIZE, F_DOUBLE, F_STR, F_BOOL, F_COMPRESSION };

struct flag {
    const char *name;
    enum flag_type type;
    size_t offset;
    const char *help;
};

#define AT(field) offsetof(bench_config, field)

static const struct flag flags[] = {
    {"benchmarks", F_STR, AT(benchmarks), "comma list of workloads, run in order"},
    {"num", F_U64, AT(num), "number of keys"},
    {"reads", F_U64, AT(reads), "reads per thread for the read workloads (0: --num)"},
    {"threads", F_INT, AT(threads), "threads running each workload (readers for readwhilewriting)"},
    {"value_size", F_SIZE, AT(value_size), "bytes per value"},
    {"compression_ratio", F_DOUBLE, AT(compression_ratio), "values compress to this fraction"},
    {"write_buffer_size", F_SIZE, AT(settings.write_buffer_size), "memtable bytes"},
    {"block_size", F_SIZE, AT(settings.block_size), "table block bytes"},
    {"cache_size", F_SIZE, AT(settings.cache_size), "block cache bytes"},
    {"bloom_bits", F_INT, AT(settings.bloom_bits), "bloom filter bits per key (0: none)"},
    {"compression", F_COMPRESSION, AT(settings.compression), "none|snappy|zstd|lz4"},
    {"compression_level", F_SINT, AT(settings.compression_level), "compression level"},
    {"open_files", F_INT, AT(settings.max_open_files), "table files kept open"},
    {"sync", F_BOOL, AT(sync), "sync every write (fillsync always does)"},
    {"db", F_STR, AT(db), "database directory (default: a fresh one under $TMPDIR, removed after)"},
    {"use_existing_db", F_BOOL, AT(use_existing_db), "do not destroy the database first"},
    {"seed", F_U64, AT(seed), "seed of the random keys"},
    {"histogram", F_BOOL, AT(histogram), "print latency percentiles per workload"},
    {"report_interval", F_DOUBLE, AT(report_interval), "seconds between rows of --report_file"},
    {"report_file", F_STR, AT(report_file), "CSV of throughput and p99 over time"},
    {"rate", F_DOUBLE, AT(rate), "open loop: operations per second (all threads), 0: closed loop"},
    {"engine", F_STR, AT(engine), "strata|leveldb|rocksdb, or all to compare (db_bench_compare)"},
};

static void set_defaults(bench_config *c)
{
    memset(c, 0, sizeof *c);
    c->num = 1000000;
    c->threads = 1;
    c->value_size = 100;
    c->compression_ratio = 0.5;
    c->settings.write_buffer_size = 4 << 20;
    c->settings.block_size = 4096;
    c->settings.cache_size = 8 << 20;
    c->settings.bloom_bits = 10;
    c->settings.compression = BENCH_COMPRESSION_ZSTD;
    c->settings.compression_level = -1; /* strata's default */
    c->settings.max_open_files = 1000;
    c->settings.background_threads = 1;
    c->seed = 301;
    c->engine = "strata";
}

static const char *type_name(enum flag_type t)
{
    /* Indexed by type, so that a new type cannot shift the others' names. */
    static const char *const names[] = {
        [F_U64] = "N", [F_INT] = "N", [F_SINT] = "N", [F_SIZE] = "BYTES", [F_DOUBLE] = "X",
        [F_STR] = "S", [F_BOOL] = "0|1", [F_COMPRESSION] = "NAME",
    };
    return names[t];
}

/* The default value of f, as text. */
static void default_text(const struct flag *f, char *out, size_t len)
{
    bench_config d;
    set_defaults(&d);
    const void *p = (const char *)&d + f->offset;
    switch (f->type) {
    case F_U64: snprintf(out, len, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case F_SIZE: snprintf(out, len, "%zu", *(const size_t *)p); break;
    case F_INT:
    case F_SINT:
    case F_BOOL: snprintf(out, len, "%d", *(const int *)p); break;
    case F_DOUBLE: snprintf(out, len, "%g", *(const double *)p); break;
    case F_STR: snprintf(out, len, "%s", *(const char *const *)p ? *(const char *const *)p : "-"); break;
    case F_COMPRESSION: snprintf(out, len, "%s", bench_compression_name(*(const int *)p)); break;
    }
}

void flags_usage(FILE *out)
{
    fprintf(out, "usage: db_bench [--flag=value ...]   (default in brackets)\n");
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char left[64], def[64];
        snprintf(left, sizeof left, "--%s=%s", flags[i].name, type_name(flags[i].type));
        default_text(&flags[i], def, sizeof def);
        fprintf(out, "  %-26s %s [%s]\n", left, flags[i].help, def);
    }
    fprintf(out, "  --benchmarks defaults to:\n    %s\n  and with --engine=all to:\n    %s\n",
            BENCH_DEFAULT_SUITE, BENCH_COMPARE_SUITE);
    fprintf(out, "workloads: fillseq fillrandom overwrite fillsync fill100K fillbatch readrandom\n"
                 "  readseq readreverse readmissing readhot seekrandom deleteseq deleterandom\n"
                 "  readwhilewriting compact waitforcompaction stats\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-')
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* Stores value into the field of f; -1 when it does not parse. */
static int set_flag(bench_config *c, const struct flag *f, const char *value)
{
    void *p = (char *)c + f->offset;
    uint64_t u;
    switch (f->type) {
    case F_U64: return parse_u64(value, (uint64_t *)p);
    case F_SIZE:
        if (parse_u64(value, &u))
            return -1;
        *(size_t *)p = (size_t)u;
        return 0;
    case F_SINT: /* zstd's fast compression levels are negative */
        if (parse_u64(value[0] == '-' ? value + 1 : value, &u) || u > 1000000000)
            return -1;
        *(int *)p = value[0] == '-' ? -(int)u : (int)u;
        return 0;
    case F_INT:
    case F_BOOL:
        if (parse_u64(value, &u) || u > (f->type == F_BOOL ? 1 : 1000000000))
            return -1;
        *(int *)p = (int)u;
        return 0;
    case F_DOUBLE: return parse_double(value, (double *)p);
    case F_STR: *(const char **)p = value; return 0;
    case F_COMPRESSION: return (*(int *)p = bench_compression_parse(value)) < 0 ? -1 : 0;
    }
    return -1;
}

static int parse_one(bench_config *c, const char *arg)
{
    if (strncmp(arg, "--", 2) != 0)
        return -1;
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (strlen(flags[i].name) != len || strncmp(flags[i].name, name, len) != 0)
            continue;
        if (!eq) /* --histogram alone means --histogram=1 */
            return flags[i].type == F_BOOL ? set_flag(c, &flags[i], "1") : -1;
        return set_flag(c, &flags[i], eq + 1);
    }
    return -1;
}

static const char *check(const bench_config *c)
{
    if (c->num == 0)
        return "--num must be at least 1";
    if (c->threads < 1)
        return "--threads must be at least 1";
    if (c->compression_ratio <= 0 || c->compression_ratio > 1)
        return "--compression_ratio must be in (0, 1]";
    if (c->report_file && c->report_interval <= 0)
        return "--report_file needs --report_interval=SECONDS";
    if (c->report_interval > 0 && !c->report_file)
        return "--report_interval needs --report_file=FILE.csv";
    return NULL;
}

int flags_parse(bench_config *c, int argc, char **argv)
{
    set_defaults(c);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            flags_usage(stdout);
            exit(0);
        }
        if (parse_one(c, argv[i]) != 0) {
            fprintf(stderr, "db_bench: bad flag: %s\n", argv[i]);
            flags_usage(stderr);
            return -1;
        }
    }
    const char *why = check(c);
    if (why) {
        fprintf(stderr, "db_bench: %s\n", why);
        flags_usage(stderr);
        return -1;
    }
    if (c->reads == 0)
        c->reads = c->num;
    if (!c->benchmarks)
        c->benchmarks = strcmp(c->engine, "all") ? BENCH_DEFAULT_SUITE : BENCH_COMPARE_SUITE;
    return 0;
}

/*
 * flags.h: db_bench's command line, LevelDB-style --name=value flags.
 */
#ifndef BENCH_FLAGS_H
#define BENCH_FLAGS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "bench/engine.h"

typedef struct bench_config {
    const char *benchmarks;    /* comma list, run in order */
    uint64_t num;              /* keys */
    uint64_t reads;            /* 0: num */
    int threads;
    size_t value_size;
    double compression_ratio;  /* of the generated values */
    bench_settings settings;   /* the engine knobs */
    int sync;                  /* sync every write */
    const char *db;            /* NULL: a fresh directory under the temp dir */
    int use_existing_db;
    uint64_t seed;
    int histogram;
    double report_interval;    /* seconds; 0: no interval report */
    const char *report_file;
    double rate;               /* ops/s for open-loop runs; 0: closed loop */
    const char *engine;        /* an engine's name, or "all" to compare */
} bench_config;

/* The defaults, then argv.  Returns 0, or -1 after printing what is wrong
 * and the usage to stderr. */
int flags_parse(bench_config *c, int argc, char **argv);
void flags_usage(FILE *out);

/* The suites of `make bench` and of --engine=all when --benchmarks is not
 * given. */
extern const char *const BENCH_DEFAULT_SUITE;
extern const char *const BENCH_COMPARE_SUITE;

#endif

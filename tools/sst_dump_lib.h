/*
 * sst_dump_lib.h: sst-dump, the inspection tool of strata, as functions,
 * so that the test suite runs it in-process (tests/test_sst_dump.c) and
 * tools/sst_dump.c is only its main().  docs/sst_dump.md describes the
 * command line, the output and the exit statuses.
 */
#ifndef STRATA_TOOLS_SST_DUMP_LIB_H
#define STRATA_TOOLS_SST_DUMP_LIB_H

#include <stdio.h>

/* Exit statuses. */
enum {
    DUMP_EXIT_OK = 0,       /* every file read, nothing wrong found */
    DUMP_EXIT_PROBLEMS = 1, /* a file is damaged, unreadable or of unknown kind */
    DUMP_EXIT_USAGE = 2,    /* bad flags or no file */
};

/* Run sst-dump with argv[1..argc-1] as its arguments, writing the report
 * to out and the usage message and summary to err; returns the exit
 * status.  Never exits, and keeps no state between calls. */
int dump_main(int argc, char **argv, FILE *out, FILE *err);

#endif

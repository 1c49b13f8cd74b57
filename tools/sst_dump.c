/*
 * sst_dump.c: build/sst-dump, the inspection tool of strata: prints and
 * checks tables, write-ahead logs, MANIFESTs and whole database
 * directories (docs/sst_dump.md).  Everything but main() is in
 * tools/sst_dump_lib.c, so that the test suite can run it in-process.
 */
#include <stdio.h>

#include "tools/sst_dump_lib.h"

int main(int argc, char **argv)
{
    return dump_main(argc, argv, stdout, stderr);
}

/*
 * sysinfo.h: what db_bench says about the machine and the process: the
 * date, the CPU, the allocator, the peak RSS, the size of a directory, and
 * the clock.
 */
#ifndef BENCH_SYSINFO_H
#define BENCH_SYSINFO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* "Sun Nov 23 14:00:00 2026" */
void sys_date(char *out, size_t len);
/* "2 * AMD EPYC ..." from /proc/cpuinfo */
void sys_cpu(char *out, size_t len);
/* "jemalloc 5.3.0-..." when jemalloc is linked, else glibc's */
void sys_allocator(char *out, size_t len);
/* Peak resident set of this process so far, in bytes. */
uint64_t sys_peak_rss(void);
/* Bytes of the regular files in dir and its subdirectories. */
uint64_t sys_dir_size(const char *dir);
/* Remove dir and everything in it (for the temporary database dirs). */
void sys_remove_tree(const char *dir);

#endif

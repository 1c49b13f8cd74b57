/*
 * sysinfo.c: the machine and process facts db_bench prints (see sysinfo.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <gnu/libc-version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/sysinfo.h"

/* jemalloc's introspection call.  Weak, so that a build without jemalloc
 * (the AddressSanitizer check, which brings its own allocator) still links
 * and says which allocator it has. */
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

void sys_date(char *out, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, len, "%a %b %e %H:%M:%S %Y %Z", &tm);
}

/* The text after "name<tabs>: " on a /proc/cpuinfo line, or NULL. */
static const char *cpuinfo_field(const char *line, const char *name)
{
    const char *colon = strchr(line, ':');
    if (!colon || strncmp(line, name, strlen(name)) != 0)
        return NULL;
    return colon[1] == ' ' ? colon + 2 : colon + 1;
}

void sys_cpu(char *out, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512], model[256] = "unknown", mhz[32] = "?", cache[32] = "?";
    const char *v;
    int count = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if ((v = cpuinfo_field(line, "model name")) != NULL) {
            count++;
            snprintf(model, sizeof model, "%s", v);
        } else if ((v = cpuinfo_field(line, "cpu MHz")) != NULL) {
            snprintf(mhz, sizeof mhz, "%.0f", atof(v));
        } else if ((v = cpuinfo_field(line, "cache size")) != NULL) {
            snprintf(cache, sizeof cache, "%s", v);
        }
    }
    if (f)
        fclose(f);
    snprintf(out, len, "%d * %s, %s MHz, %s cache", count, model, mhz, cache);
}

void sys_allocator(char *out, size_t len)
{
    const char *v = NULL;
    size_t sz = sizeof v;
    if (mallctl && mallctl("version", &v, &sz, NULL, 0) == 0 && v)
        snprintf(out, len, "jemalloc %s", v);
    else
        snprintf(out, len, "glibc %s malloc (jemalloc not linked)", gnu_get_libc_version());
}

uint64_t sys_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_maxrss * 1024;
}

/* Calls fn on every entry of dir but . and .. with its full path. */
static void each_entry(const char *dir, void (*fn)(const char *path, const struct stat *st, void *arg),
                       void *arg)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0)
            fn(path, &st, arg);
    }
    closedir(d);
}

static void add_size(const char *path, const struct stat *st, void *arg)
{
    if (S_ISDIR(st->st_mode))
        *(uint64_t *)arg += sys_dir_size(path);
    else if (S_ISREG(st->st_mode))
        *(uint64_t *)arg += (uint64_t)st->st_size;
}

uint64_t sys_dir_size(const char *dir)
{
    uint64_t total = 0;
    each_entry(dir, add_size, &total);
    return total;
}

static void remove_entry(const char *path, const struct stat *st, void *arg)
{
    (void)arg;
    if (S_ISDIR(st->st_mode))
        sys_remove_tree(path);
    else
        unlink(path);
}

void sys_remove_tree(const char *dir)
{
    each_entry(dir, remove_entry, NULL);
    rmdir(dir);
}

/* testutil.c: helpers shared by the database-level tests (see testutil.h). */
#include "tests/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- directories and files ------------------------------------------------ */

char *tu_mkdtemp(const char *tag)
{
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "/tmp/strata-%s-XXXXXX", tag);
    if (!mkdtemp(tmpl))
        return NULL;
    return strdup(tmpl);
}

char *tu_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int tu_rmrf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 ? 0 : -1;
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *child = tu_join(path, e->d_name);
        if (!child || tu_rmrf(child) != 0)
            rc = -1;
        free(child);
    }
    closedir(d);
    if (rmdir(path) != 0)
        rc = -1;
    return rc;
}

int tu_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int tu_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

long long tu_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (long long)st.st_size;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *p = malloc(cap + 1);
    while (p) {
        size_t got = fread(p + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        cap *= 2;
        char *bigger = realloc(p, cap + 1);
        if (!bigger) {
            free(p);
            p = NULL;
        }
        p = bigger;
    }
    fclose(f);
    if (!p)
        return NULL;
    p[n] = '\0';
    if (len)
        *len = n;
    return p;
}

int tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int rc = fwrite(data, 1, len, f) == len ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

int tu_xor_byte(const char *path, long long offset, unsigned char mask)
{
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return -1;
    unsigned char c;
    int rc = -1;
    if (pread(fd, &c, 1, (off_t)offset) == 1) {
        c ^= mask;
        if (pwrite(fd, &c, 1, (off_t)offset) == 1)
            rc = 0;
    }
    close(fd);
    return rc;
}

int tu_get_byte(const char *path, long long offset)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    unsigned char c;
    int rc = pread(fd, &c, 1, (off_t)offset) == 1 ? c : -1;
    close(fd);
    return rc;
}

int tu_truncate(const char *path, long long len)
{
    return truncate(path, (off_t)len) == 0 ? 0 : -1;
}

int tu_copy_dir(const char *src, const char *dst)
{
    if (mkdir(dst, 0755) != 0 && errno != EEXIST)
        return -1;
    DIR *d = opendir(src);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *from = tu_join(src, e->d_name), *to = tu_join(dst, e->d_name);
        size_t n;
        char *data = from && to && !tu_is_dir(from) ? tu_read_file(from, &n) : NULL;
        if (!data || tu_write_file(to, data, n) != 0)
            rc = -1;
        free(data);
        free(from);
        free(to);
    }
    closedir(d);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

uint64_t *tu_numbered_files(const char *dir, const char *suffix, size_t *count)
{
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t cap = 16, n = 0, slen = strlen(suffix);
    uint64_t *list = malloc(cap * sizeof *list);
    struct dirent *e;
    while (list && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= slen || strcmp(e->d_name + len - slen, suffix) != 0)
            continue;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(e->d_name, &end, 10);
        if (errno || end != e->d_name + len - slen || end == e->d_name)
            continue;
        if (n == cap) {
            uint64_t *bigger = realloc(list, 2 * cap * sizeof *list);
            if (!bigger) {
                free(list);
                list = NULL;
                break;
            }
            list = bigger;
            cap *= 2;
        }
        list[n++] = v;
    }
    closedir(d);
    if (!list || n == 0) {
        free(list);
        return NULL;
    }
    qsort(list, n, sizeof *list, cmp_u64);
    *count = n;
    return list;
}

char *tu_last_log(const char *dir)
{
    size_t n;
    uint64_t *logs = tu_numbered_files(dir, ".log", &n);
    char *found = NULL;
    for (size_t i = n; i-- > 0 && !found;) {
        char name[64];
        snprintf(name, sizeof name, "%06" PRIu64 ".log", logs[i]);
        char *path = tu_join(dir, name);
        if (path && tu_file_size(path) > 0)
            found = path;
        else
            free(path);
    }
    free(logs);
    return found;
}

int tu_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* ---- PRNG ----------------------------------------------------------------------- */

void tu_rng_seed(struct tu_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t tu_rng_next(struct tu_rng *r)
{
    uint64_t z = (r->state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

uint64_t tu_rng_uniform(struct tu_rng *r, uint64_t n)
{
    return n ? tu_rng_next(r) % n : 0;
}

int tu_rng_chance(struct tu_rng *r, uint64_t num, uint64_t den)
{
    return tu_rng_uniform(r, den) < num;
}

uint64_t tu_clock_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
}

/* ---- keys and values -------------------------------------------------------------- */

size_t tu_key(char *buf, size_t n, const char *prefix, uint64_t i)
{
    int len = snprintf(buf, n, "%s%08llu", prefix, (unsigned long long)i);
    return len < 0 ? 0 : (size_t)len < n ? (size_t)len : n - 1;
}

void tu_value(char *buf, size_t len, uint64_t i, uint64_t tag)
{
    struct tu_rng r;
    tu_rng_seed(&r, i * 1000003u + tag);
    for (size_t j = 0; j < len; j++)
        buf[j] = (char)('a' + tu_rng_uniform(&r, 26));
}

/* ---- guarded buffers ------------------------------------------------------------------- */

void *tu_guarded_alloc(size_t n)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || n > (size_t)page)
        return NULL;
    char *base = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    if (mprotect(base + page, (size_t)page, PROT_NONE) != 0) {
        munmap(base, 2 * (size_t)page);
        return NULL;
    }
    memset(base, 'g', (size_t)page);
    return base + page - n;
}

void tu_guarded_free(void *p, size_t n)
{
    if (!p)
        return;
    long page = sysconf(_SC_PAGESIZE);
    char *base = (char *)p + n - page;
    munmap(base, 2 * (size_t)page);
}

/* ---- time ---------------------------------------------------------------------------------- */

uint64_t tu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void tu_sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

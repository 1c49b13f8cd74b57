/*
 * expected_state.c: the crash test's shared expected-state file (see
 * expected_state.h) and its self-describing keys and values.
 */
#include "tests/crash/expected_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXP_MAGIC UINT64_C(0x5354524154414352) /* "STRATACR" */

int exp_create(struct expected_state *es, const char *path, uint64_t nkeys)
{
    size_t len = sizeof(struct exp_header) + nkeys * sizeof(uint64_t);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) {
        errno = e;
        return -1;
    }
    /* A new file reads as zeros: every key absent, nothing pending. */
    es->h = p;
    es->ver = (uint64_t *)((char *)p + sizeof(struct exp_header));
    es->map_len = len;
    es->h->magic = EXP_MAGIC;
    es->h->nkeys = nkeys;
    atomic_store(&es->h->next_version, 1);
    return 0;
}

void exp_close(struct expected_state *es)
{
    if (es->h)
        munmap(es->h, es->map_len);
    es->h = NULL;
    es->ver = NULL;
}

void key_name(char *buf, uint32_t k)
{
    char tmp[16];
    snprintf(tmp, sizeof tmp, "key%07" PRIu32, k % 10000000u);
    memcpy(buf, tmp, EXP_KEY_LEN);
}

int64_t key_index(const void *key, size_t klen, uint64_t nkeys)
{
    const char *p = key;
    if (klen != EXP_KEY_LEN || memcmp(p, "key", 3) != 0)
        return -1;
    int64_t k = 0;
    for (size_t i = 3; i < EXP_KEY_LEN; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        k = k * 10 + (p[i] - '0');
    }
    return (uint64_t)k < nkeys ? k : -1;
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

size_t key_value(char *buf, uint32_t k, uint64_t ver)
{
    uint64_t h = mix(((uint64_t)k << 40) ^ ver ^ UINT64_C(0x9e3779b97f4a7c15));
    /* Mostly small values, so that many keys share a block; now and then a
     * large one, so that a table fills in a few writes. */
    size_t len = h % 64 == 0 ? 3800 + (size_t)(h >> 8) % 400 : 16 + (size_t)(h >> 8) % 280;
    int head = snprintf(buf, EXP_MAX_VALUE, "k%" PRIu32 " v%" PRIu64 " ", k, ver);
    size_t i = (size_t)head;
    /* Compressible filler (runs of one letter), so that zstd has work. */
    for (uint64_t z = h; i < len; z = mix(z + i)) {
        size_t run = 1 + (size_t)(z % 12);
        char c = (char)('a' + (z >> 8) % 26);
        for (; run > 0 && i < len; run--)
            buf[i++] = c;
    }
    return len > (size_t)head ? len : (size_t)head;
}

int value_check(const void *val, size_t vlen, uint32_t k, uint64_t *claimed)
{
    char head[48];
    size_t n = vlen < sizeof head - 1 ? vlen : sizeof head - 1;
    memcpy(head, val, n);
    head[n] = '\0';
    unsigned long long ck, cv;
    *claimed = 0;
    if (sscanf(head, "k%llu v%llu ", &ck, &cv) != 2)
        return 0;
    *claimed = cv;
    if (ck != k || cv == 0)
        return 0;
    char want[EXP_MAX_VALUE];
    size_t wl = key_value(want, k, cv);
    return wl == vlen && memcmp(want, val, vlen) == 0;
}

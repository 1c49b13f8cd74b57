/*
 * hash.h: the checksum of every strata record and block.
 *
 * checksum32() is the low 32 bits of XXH3-64 over the bytes, seeded with a
 * small integer that the caller uses to bind a type to the bytes (a WAL
 * record's fragment type, for example), so that a flipped type byte fails
 * the check as surely as a flipped payload byte.  XXH3 runs at about
 * 70 GB/s here, so checksums stay off the list of costs worth designing
 * around (crc32c is seven times slower on a 4 KiB block).
 */
#ifndef STRATA_HASH_H
#define STRATA_HASH_H

#include <stddef.h>
#include <stdint.h>

uint32_t checksum32(const void *data, size_t n, uint64_t seed);

/* XXH3-64 of the bytes with a seed: for hash tables (the caches, seed 0)
 * and bloom filters (the user key with seed 0, so a table builder hashes
 * each key once for the filter). */
uint64_t hash64(const void *data, size_t n, uint64_t seed);

#endif

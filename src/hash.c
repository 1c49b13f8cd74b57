/* hash.c: XXH3 compiled in (header-only) so that no libxxhash is needed at
 * run time and the compiler sees the whole hash. */
#include "src/hash.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

uint64_t hash64(const void *data, size_t n, uint64_t seed)
{
    return XXH3_64bits_withSeed(data, n, seed);
}

uint32_t checksum32(const void *data, size_t n, uint64_t seed)
{
    return (uint32_t)XXH3_64bits_withSeed(data, n, seed);
}

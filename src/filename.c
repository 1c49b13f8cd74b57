/* filename.c: database file names (see filename.h). */
#include "src/filename.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "src/status.h"

static int fit(int written, size_t n, const char *dir)
{
    if (written < 0 || (size_t)written >= n)
        return status_set(STRATA_INVALID_ARGUMENT, "path %s is too long", dir);
    return STRATA_OK;
}

int log_file_name(char *out, size_t n, const char *dir, uint64_t number)
{
    return fit(snprintf(out, n, "%s/%06" PRIu64 ".log", dir, number), n, dir);
}

int table_file_name(char *out, size_t n, const char *dir, uint64_t number)
{
    return fit(snprintf(out, n, "%s/%06" PRIu64 ".sst", dir, number), n, dir);
}

int manifest_file_name(char *out, size_t n, const char *dir, uint64_t number)
{
    return fit(snprintf(out, n, "%s/MANIFEST-%06" PRIu64, dir, number), n, dir);
}

int db_file_name(char *out, size_t n, const char *dir, const char *name)
{
    return fit(snprintf(out, n, "%s/%s", dir, name), n, dir);
}

/* Parse a decimal number of at least one digit that ends at *end. */
static int parse_number(const char *s, uint64_t *number, const char **end)
{
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (p == s)
        return 0;
    *number = v;
    *end = p;
    return 1;
}

int parse_file_name(const char *name, enum file_type *type, uint64_t *number)
{
    static const struct { const char *name; enum file_type type; } fixed[] = {
        { "CURRENT", FILE_CURRENT }, { "LOCK", FILE_LOCK },
        { "LOG", FILE_INFO_LOG }, { "LOG.old", FILE_INFO_LOG },
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (!strcmp(name, fixed[i].name)) {
            *type = fixed[i].type;
            *number = 0;
            return 1;
        }
    }
    /* A temporary file is one of strata's names plus ".tmp"; a user's own
     * "backup.tmp" in the directory is not strata's to delete. */
    size_t len = strlen(name);
    if (len > 4 && len < 64 && !strcmp(name + len - 4, ".tmp")) {
        char base[64];
        enum file_type base_type;
        memcpy(base, name, len - 4);
        base[len - 4] = '\0';
        if (!parse_file_name(base, &base_type, number) || base_type == FILE_TEMP)
            return 0;
        *type = FILE_TEMP;
        return 1;
    }
    const char *end;
    if (!strncmp(name, "MANIFEST-", 9)) {
        if (!parse_number(name + 9, number, &end) || *end)
            return 0;
        *type = FILE_MANIFEST;
        return 1;
    }
    if (!parse_number(name, number, &end))
        return 0;
    if (!strcmp(end, ".log"))
        *type = FILE_LOG;
    else if (!strcmp(end, ".sst"))
        *type = FILE_TABLE;
    else
        return 0;
    return 1;
}

/*
 * status.c: status names and the thread-local message behind
 * strata_last_error().
 */
#include "src/status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* 1 KiB holds two paths and a reason; longer messages are cut, never
 * overflowed. */
static _Thread_local char last_error[1024];

const char *strata_strerror(int status)
{
    switch (status) {
    case STRATA_OK: return "ok";
    case STRATA_NOT_FOUND: return "not found";
    case STRATA_CORRUPTION: return "corruption";
    case STRATA_IO_ERROR: return "I/O error";
    case STRATA_INVALID_ARGUMENT: return "invalid argument";
    case STRATA_NOT_SUPPORTED: return "not supported";
    case STRATA_BUSY: return "busy";
    case STRATA_NO_MEMORY: return "out of memory";
    default: return "unknown status";
    }
}

const char *strata_last_error(void)
{
    return last_error;
}

int status_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

int status_set_errno(int code, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof last_error)
        snprintf(last_error + n, sizeof last_error - (size_t)n, ": %s", strerror(err));
    return code;
}

int status_from_errno(int err)
{
    return err == ENOMEM ? STRATA_NO_MEMORY : STRATA_IO_ERROR;
}

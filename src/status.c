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
/* The message strata_last_error() returns: last_error, or a constant string
 * set by status_set_const() on hot paths. */
static _Thread_local const char *last_error_ptr;

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
    return last_error_ptr ? last_error_ptr : "";
}

int status_set_const(int code, const char *msg)
{
    last_error_ptr = msg;
    return code;
}

/* Messages are formatted into a temporary and then copied, so that a caller
 * may wrap the previous message: status_set(rc, "...: %s", strata_last_error()). */
static void set_message(const char *fmt, va_list ap, int err)
{
    char tmp[sizeof last_error];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (err && n >= 0 && (size_t)n < sizeof tmp)
        snprintf(tmp + n, sizeof tmp - (size_t)n, ": %s", strerror(err));
    memcpy(last_error, tmp, sizeof tmp);
    last_error_ptr = last_error;
}

int status_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(fmt, ap, 0);
    va_end(ap);
    return code;
}

int status_set_errno(int code, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(fmt, ap, err);
    va_end(ap);
    return code;
}

int status_from_errno(int err)
{
    return err == ENOMEM ? STRATA_NO_MEMORY : STRATA_IO_ERROR;
}

/*
 * status.c: status names and the thread-local message behind
 * strata_last_error().
 */
#include "src/status.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* 1 KiB holds two paths and a reason; longer messages are cut, never
 * overflowed (set_message keeps their head and their tail). */
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
 * may wrap the previous message: status_set(rc, "...: %s", strata_last_error()).
 * The temporary holds two paths of PATH_MAX and a reason.  A message too
 * long for last_error (a path of over ~900 bytes) keeps its first
 * MESSAGE_HEAD bytes (the operation, the start of the path) and its tail
 * (the file's name and the reason, which a plain cut would lose). */
enum { MESSAGE_MAX = 2 * PATH_MAX + 256, MESSAGE_HEAD = 400 };

/* Append s to the n bytes of buf (cap bytes), cut to fit; the new length. */
static size_t append(char *buf, size_t n, size_t cap, const char *s)
{
    size_t len = strlen(s);
    if (len > cap - 1 - n)
        len = cap - 1 - n;
    memcpy(buf + n, s, len);
    buf[n + len] = '\0';
    return n + len;
}

static void set_message(const char *fmt, va_list ap, int err)
{
    char tmp[MESSAGE_MAX];
    int r = vsnprintf(tmp, sizeof tmp, fmt, ap);
    size_t n = r < 0 ? 0 : (size_t)r < sizeof tmp ? (size_t)r : sizeof tmp - 1;
    tmp[n] = '\0';
    if (err)
        n = append(tmp, append(tmp, n, sizeof tmp, ": "), sizeof tmp, strerror(err));
    if (n < sizeof last_error) {
        memcpy(last_error, tmp, n + 1);
    } else {
        size_t tail = sizeof last_error - 1 - MESSAGE_HEAD - 3;
        memcpy(last_error, tmp, MESSAGE_HEAD);
        memcpy(last_error + MESSAGE_HEAD, "...", 3);
        memcpy(last_error + MESSAGE_HEAD + 3, tmp + n - tail, tail + 1);
    }
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

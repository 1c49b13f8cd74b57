/*
 * status.h: status codes and this thread's error message.
 *
 * Errors travel as int return codes (the STRATA_* codes of strata.h).  The
 * function that first sees a failure calls status_set() with a message that
 * names the cause, and the file and offset where there is one; callers pass
 * the code up unchanged, so the message stays the one closest to the cause.
 * The message lives in a thread-local buffer and is read by
 * strata_last_error().
 */
#ifndef STRATA_STATUS_H
#define STRATA_STATUS_H

#include "strata.h"

/* Record a message for this thread and return code, so that a failing
 * function can write: return status_set(STRATA_IO_ERROR, "...", ...); */
int status_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like status_set() with a constant message, for hot paths such as a get
 * that finds nothing: no formatting, one pointer store. */
int status_set_const(int code, const char *msg);

/* Like status_set(), with ": strerror(err)" appended to the message. */
int status_set_errno(int code, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The status code that best describes errno value err from a file operation
 * (ENOMEM: STRATA_NO_MEMORY; everything else: STRATA_IO_ERROR). */
int status_from_errno(int err);

#endif

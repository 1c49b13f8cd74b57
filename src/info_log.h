/*
 * info_log.h: the LOG file in the database directory, where strata writes
 * what a person needs to understand what happened (recovery, data skipped
 * with paranoid_checks off, background errors).  Writes go through the env.
 * The previous open's LOG is kept as LOG.old.  Thread-safe.  A failure to
 * write the LOG never fails a database operation: the LOG is for people.
 */
#ifndef STRATA_INFO_LOG_H
#define STRATA_INFO_LOG_H

#include "src/env.h"

struct info_log;

/* Rename dir/LOG to dir/LOG.old and start a new dir/LOG. */
int info_log_open(struct env *env, const char *dir, struct info_log **out);
/* One line, prefixed with the time.  log may be NULL (then nothing). */
void info_log_printf(struct info_log *log, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void info_log_close(struct info_log *log);

#endif

/* info_log.c: the human-readable LOG file (see info_log.h). */
#include "src/info_log.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#include "src/filename.h"
#include "src/status.h"

struct info_log {
    pthread_mutex_t mu;
    struct env_file *file;
};

int info_log_open(struct env *env, const char *dir, struct info_log **out)
{
    char path[PATH_MAX], old[PATH_MAX];
    enum env_path_kind kind;
    *out = NULL;
    int rc = db_file_name(path, sizeof path, dir, "LOG");
    if (rc == STRATA_OK)
        rc = db_file_name(old, sizeof old, dir, "LOG.old");
    if (rc == STRATA_OK)
        rc = env_path_kind(env, path, &kind);
    if (rc == STRATA_OK && kind == ENV_PATH_FILE)
        rc = env_rename(env, path, old);
    struct info_log *log = NULL;
    if (rc == STRATA_OK && !(log = calloc(1, sizeof *log)))
        rc = status_set(STRATA_NO_MEMORY, "out of memory opening %s", path);
    if (rc == STRATA_OK)
        rc = env_open(env, path, ENV_OPEN_TRUNCATE, &log->file);
    if (rc != STRATA_OK) {
        free(log);
        return rc;
    }
    pthread_mutex_init(&log->mu, NULL);
    *out = log;
    return STRATA_OK;
}

void info_log_printf(struct info_log *log, const char *fmt, ...)
{
    if (!log)
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y/%m/%d-%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%06ld ", (long)tv.tv_usec);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n = (size_t)(n + m) >= sizeof line - 1 ? (int)sizeof line - 2 : n + m;
    line[n++] = '\n';
    pthread_mutex_lock(&log->mu);
    /* The message of a failed LOG write must not replace the caller's. */
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", strata_last_error());
    if (env_append(log->file, line, (size_t)n) != STRATA_OK)
        status_set(STRATA_OK, "%s", saved);
    pthread_mutex_unlock(&log->mu);
}

void info_log_close(struct info_log *log)
{
    if (!log)
        return;
    env_close(log->file);
    pthread_mutex_destroy(&log->mu);
    free(log);
}

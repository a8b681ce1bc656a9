/* backend.c: which backend `factdb serve TARGET` uses. A database file is the embedded engine; a
 * PostgreSQL URL or libpq conninfo string is src/pg (server.c's backend_open chooses, once: handlers only
 * see the table of operations of backend.h). Also what both backends share: query cancellation, metrics. */
#include "backend.h"
#include <stdio.h>
#include <string.h>
#include <pthread.h>

bool http_target_is_pg(const char *target)
{
    if (!strncmp(target, "postgresql://", 13) || !strncmp(target, "postgres://", 11))
        return true;
    /* a conninfo string starts with one of libpq's keywords and '=' ("host=/run/postgresql dbname=facts") */
    static const char *const KEYS[] = {"host=", "hostaddr=", "port=", "dbname=", "user=", "service=", "password=",
                                       "sslmode=", "application_name=", "connect_timeout=", "options="};
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
        if (!strncmp(target, KEYS[i], strlen(KEYS[i])))
            return true;
    return false;
}

void http_watch_set(http_watch *w, void (*cancel)(void *arg), void *arg)
{
    if (!w->s)
        return;  /* not armed (no --query-timeout) */
    pthread_mutex_lock(&w->s->wmu);
    w->cancel = cancel;
    w->arg = arg;
    bool late = cancel && atomic_load(&w->fired);  /* the deadline passed before the query started */
    if (late)
        cancel(arg);
    pthread_mutex_unlock(&w->s->wmu);
}

void http_metric_gauge(base_buf *out, const char *name, const char *help, uint64_t value)
{
    char line[600];
    int n = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
                     (unsigned long long)value);
    if (n > 0)
        base_buf_append(out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

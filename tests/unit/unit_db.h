/* unit_db.h: a scratch database per test process for the unit tests (criterion runs each suite's tests
 * in forked processes, so the pid keeps them apart). */
#ifndef FACTDB_UNIT_DB_H
#define FACTDB_UNIT_DB_H
#include "factdb.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

/* Removes the database `path` and its lock file. */
static inline void unit_db_remove(const char *path)
{
    char lock[300];
    snprintf(lock, sizeof lock, "%s-lock", path);
    unlink(path);
    unlink(lock);
}

/* Creates an empty database /tmp/factdb-test-NAME-PID.db (its path into `path`) and a session on it. */
static inline void unit_db_open(const char *name, char *path, size_t cap, factdb **db, factdb_session **s)
{
    snprintf(path, cap, "/tmp/factdb-test-%s-%d.db", name, (int)getpid());
    unit_db_remove(path);
    factdb_error err;
    cr_assert_eq(factdb_open(path, NULL, db, &err), 0, "%s", err.message);
    cr_assert_eq(factdb_session_new(*db, s, &err), 0);
}

static inline void unit_db_close(const char *path, factdb *db, factdb_session *s)
{
    factdb_session_free(s);
    factdb_close(db);
    unit_db_remove(path);
}
#endif

/* test_store.c: storage promises that need no second process: the fault classification a SIGSEGV/SIGBUS
 * handler relies on (factdb_addr_in_map), open flags that must not create files, and read-only handles. */
#include "unit_db.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A scratch database path for test `name`, with nothing left there. */
static void scratch_path(char db[256], const char *name)
{
    snprintf(db, 256, "/tmp/factdb-test-store-%s-%d.db", name, (int)getpid());
    unit_db_remove(db);
}

Test(store, addr_in_map_tells_the_database_map_from_other_memory)
{
    char path[256];
    scratch_path(path, "map");
    factdb *db;
    factdb_error err;
    cr_assert_eq(factdb_open(path, NULL, &db, &err), 0, "%s", err.message);
    factdb_column_def col = {"x", FACTDB_DOUBLE, 0, 0, false};
    cr_assert_eq(factdb_create_table(db, "t", &col, 1, &err), 0, "%s", err.message);
    factdb_appender *a;
    cr_assert_eq(factdb_appender_new(db, "t", &a, &err), 0);
    for (int i = 0; i < 4000; i++) {  /* irregular doubles: stored plain, read in place from the map */
        cr_assert_eq(factdb_append_double(a, 0, 1.0 / (i + 3) + i * 1e-7, &err), 0);
        cr_assert_eq(factdb_append_row_end(a, &err), 0);
    }
    cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
    factdb_appender_free(a);
    factdb_scan *s;
    cr_assert_eq(factdb_scan_open(db, "t", NULL, 0, &s, &err), 0);
    factdb_batch b;
    factdb_batch_init(&b);
    cr_assert_eq(factdb_scan_next(s, &b, &err), 0);
    cr_assert_eq(b.count, 4000);
    uint64_t off = 0;
    int64_t size = 0;
    cr_assert(factdb_addr_in_map(b.cols[0].data, &off, &size), "a zero-copy vector points into the map");
    cr_assert(size > 0 && off < (uint64_t)size, "offset %llu, size %lld", (unsigned long long)off, (long long)size);
    /* Past the end of the file but inside the map: still the database's (a truncated file faults there). */
    cr_assert(factdb_addr_in_map((const char *)b.cols[0].data + (size_t)size, &off, &size));
    cr_assert(off >= (uint64_t)size);
    int local = 0;
    void *heap = malloc(16);
    cr_assert(!factdb_addr_in_map(&local, NULL, NULL));
    cr_assert(!factdb_addr_in_map(heap, NULL, NULL));
    cr_assert(!factdb_addr_in_map(NULL, NULL, NULL));
    free(heap);
    const void *inside = b.cols[0].data;
    factdb_batch_cleanup(&b);
    factdb_scan_free(s);
    factdb_close(db);
    cr_assert(!factdb_addr_in_map(inside, NULL, NULL), "a closed database's map is forgotten");
    unit_db_remove(path);
}

Test(store, open_existing_creates_nothing)
{
    char path[256], lock[300];
    scratch_path(path, "existing");
    snprintf(lock, sizeof lock, "%s-lock", path);
    factdb *db;
    factdb_error err;
    factdb_options o = {.busy_timeout_ms = -1, .flags = FACTDB_OPEN_EXISTING};
    cr_assert_eq(factdb_open(path, &o, &db, &err), FACTDB_IO);
    cr_assert(strstr(err.message, "does not exist"), "%s", err.message);
    cr_assert(access(path, F_OK) != 0 && access(lock, F_OK) != 0, "nothing may be created");
    o.flags = FACTDB_OPEN_READ_ONLY;
    cr_assert_eq(factdb_open(path, &o, &db, &err), FACTDB_IO);
    cr_assert(access(path, F_OK) != 0 && access(lock, F_OK) != 0);
    /* The default still creates, as before the flags existed. */
    cr_assert_eq(factdb_open(path, NULL, &db, &err), 0, "%s", err.message);
    cr_assert_null(factdb_read_only_reason(db));
    factdb_close(db);
    o.flags = FACTDB_OPEN_READ_ONLY;
    cr_assert_eq(factdb_open(path, &o, &db, &err), 0, "%s", err.message);
    cr_assert_not_null(factdb_read_only_reason(db));
    factdb_column_def col = {"x", FACTDB_BIGINT, 0, 0, false};
    cr_assert_eq(factdb_create_table(db, "t", &col, 1, &err), FACTDB_PERMISSION);
    cr_assert(strstr(err.message, "read-only"), "%s", err.message);
    factdb_close(db);
    unit_db_remove(path);
}

Test(store, appender_create_makes_the_table_only_at_commit)
{
    char path[256];
    scratch_path(path, "create");
    factdb *db;
    factdb_error err;
    cr_assert_eq(factdb_open(path, NULL, &db, &err), 0, "%s", err.message);
    factdb_column_def cols[] = {{"a", FACTDB_BIGINT, 0, 0, false}, {"s", FACTDB_TEXT, 0, 0, false}};
    factdb_appender *a;
    cr_assert_eq(factdb_appender_create(db, "t", cols, 2, &a, &err), 0, "%s", err.message);
    for (int i = 0; i < 3 * FACTDB_CHUNK_ROWS + 5; i++) {  /* a load: several transactions */
        cr_assert_eq(factdb_append_int64(a, 0, i, &err), 0);
        cr_assert_eq(factdb_append_text(a, 1, i % 2 ? "odd" : "", i % 2 ? 3 : 0, &err), 0);
        cr_assert_eq(factdb_append_row_end(a, &err), 0, "%s", err.message);
        if (i == 2 * FACTDB_CHUNK_ROWS) {
            factdb_table_info ti;
            cr_assert_eq(factdb_table_info_get(db, "t", &ti, &err), FACTDB_NO_TABLE, "invisible during the load");
        }
    }
    factdb_appender_rollback(a);  /* gives up: no table */
    factdb_table_info ti;
    cr_assert_eq(factdb_table_info_get(db, "t", &ti, &err), FACTDB_NO_TABLE);
    for (int i = 0; i < 2 * FACTDB_CHUNK_ROWS; i++) {
        cr_assert_eq(factdb_append_int64(a, 0, i, &err), 0);
        cr_assert_eq(factdb_append_row_end(a, &err), 0, "%s", err.message);
    }
    cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
    cr_assert_eq(factdb_table_info_get(db, "t", &ti, &err), 0, "%s", err.message);
    cr_assert_eq(ti.row_count, 2 * FACTDB_CHUNK_ROWS);
    factdb_table_info_free(&ti);
    factdb_appender_free(a);
    cr_assert_eq(factdb_appender_create(db, "t", cols, 2, &a, &err), FACTDB_TABLE_EXISTS);
    cr_assert_eq(factdb_check(db, NULL, NULL, &err), 0, "%s", err.message);
    factdb_close(db);
    unit_db_remove(path);
}

/* A child of fork() that opens the file again gets its own environment (the parent's, inherited, refuses
 * writes and must not be used there), and both processes go on writing. */
Test(store, reopening_after_fork_gives_the_child_its_own_handle)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/factdb-test-store-fork-%d.db", (int)getpid());
    unit_db_remove(path);
    factdb *db;
    factdb_error err;
    factdb_column_def col = {"x", FACTDB_BIGINT, 0, 0, false};
    cr_assert_eq(factdb_open(path, NULL, &db, &err), 0, "%s", err.message);
    cr_assert_eq(factdb_create_table(db, "t", &col, 1, &err), 0, "%s", err.message);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        factdb *db2;
        factdb_appender *a;
        if (factdb_open(path, NULL, &db2, &err) || db2 == db || factdb_appender_new(db2, "t", &a, &err) ||
            factdb_append_int64(a, 0, 1, &err) || factdb_append_row_end(a, &err) || factdb_appender_commit(a, &err))
            _exit(2);
        factdb_appender_free(a);
        factdb_close(db2);  /* never the inherited handle */
        _exit(0);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child failed to write through its own handle");
    factdb_appender *a;
    cr_assert_eq(factdb_appender_new(db, "t", &a, &err), 0);
    cr_assert_eq(factdb_append_int64(a, 0, 2, &err), 0);
    cr_assert_eq(factdb_append_row_end(a, &err), 0);
    cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
    factdb_appender_free(a);
    factdb_table_info ti;
    cr_assert_eq(factdb_table_info_get(db, "t", &ti, &err), 0);
    cr_assert_eq(ti.row_count, 2);
    factdb_table_info_free(&ti);
    factdb_close(db);
    unit_db_remove(path);
}

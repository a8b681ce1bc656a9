/* test_sql.c: the SQL session API: parameters are bound as values (never spliced into the text), typed
 * by their context like quoted literals; results carry PostgreSQL type names; errors carry positions. */
#include "unit_db.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static factdb *db;
static factdb_session *s;
static char path[256];

static void setup(void)
{
    unit_db_open("sql", path, sizeof path, &db, &s);
}

static void teardown(void) { unit_db_close(path, db, s); }

static factdb_result *exec(const char *sql, const factdb_param *p, size_t np)
{
    factdb_error err;
    factdb_result *r = NULL;
    size_t used;
    int rc = factdb_session_exec(s, sql, strlen(sql), p, np, &used, &r, &err);
    cr_assert_eq(rc, 0, "%s: %s", sql, err.message);
    return r;
}

static const char *cell(factdb_result *r, uint64_t row, size_t col, char *buf)
{
    size_t len;
    const char *v = factdb_result_text(r, row, col, buf, 128, &len);
    if (!v)
        return "NULL";
    if (v != buf)
        memmove(buf, v, len);
    buf[len] = 0;
    return buf;
}

TestSuite(sql, .init = setup, .fini = teardown);

Test(sql, parameters_are_values)
{
    factdb_result_free(exec("CREATE TABLE t (id integer, name text, day date, price numeric(8,2))", NULL, 0));
    factdb_param ins[4] = {{.kind = FACTDB_PARAM_INT, .i = 7},
                           {.kind = FACTDB_PARAM_TEXT, .s = "x'); DROP TABLE t; --", .len = 21},
                           {.kind = FACTDB_PARAM_TEXT, .s = "2024-02-29", .len = 10},
                           {.kind = FACTDB_PARAM_DOUBLE, .d = 12.5}};
    factdb_result_free(exec("INSERT INTO t VALUES ($1, $2, $3, $4)", ins, 4));
    factdb_param nul = {.kind = FACTDB_PARAM_NULL};
    factdb_param two = {.kind = FACTDB_PARAM_INT, .i = 8};
    factdb_param ps[2] = {two, nul};
    factdb_result_free(exec("INSERT INTO t (id, name) VALUES ($1, $2)", ps, 2));
    /* a text parameter compared with a date column is a date */
    factdb_param d = {.kind = FACTDB_PARAM_TEXT, .s = "2024-02-01", .len = 10};
    factdb_result *r = exec("SELECT id, name, day + 1, price FROM t WHERE day > $1", &d, 1);
    char buf[128];
    cr_assert_eq(factdb_result_nrows(r), 1);
    cr_assert_str_eq(cell(r, 0, 0, buf), "7");
    cr_assert_str_eq(cell(r, 0, 1, buf), "x'); DROP TABLE t; --");
    cr_assert_str_eq(cell(r, 0, 2, buf), "2024-03-01");
    cr_assert_str_eq(cell(r, 0, 3, buf), "12.50");
    cr_assert_str_eq(factdb_result_column_type(r, 2), "date");
    cr_assert_str_eq(factdb_result_column_type(r, 3), "numeric");
    cr_assert_eq(factdb_result_json_kind(r, 0), 1);
    cr_assert_eq(factdb_result_json_kind(r, 1), 0);
    factdb_result_free(r);
    factdb_param name = {.kind = FACTDB_PARAM_TEXT, .s = "x'); DROP TABLE t; --", .len = 21};
    r = exec("SELECT count(*) FROM t WHERE name = $1 OR name IS NULL", &name, 1);
    cr_assert_str_eq(cell(r, 0, 0, buf), "2");
    cr_assert_str_eq(factdb_result_tag(r), "SELECT 1");
    factdb_result_free(r);
    /* a missing parameter and a bad value are errors with positions */
    factdb_error err;
    size_t used;
    cr_assert_eq(factdb_session_exec(s, "SELECT $2", 9, &two, 1, &used, &r, &err), FACTDB_INVALID_ARGUMENT);
    cr_assert_eq(err.position, 8);
    factdb_param bad = {.kind = FACTDB_PARAM_TEXT, .s = "soon", .len = 4};
    cr_assert_eq(factdb_session_exec(s, "SELECT count(*) FROM t WHERE day < $1", 37, &bad, 1, &used, &r, &err),
                 FACTDB_INVALID_VALUE);
    cr_assert(strstr(err.message, "invalid input syntax for type date: \"soon\""), "%s", err.message);
    factdb_param badutf = {.kind = FACTDB_PARAM_TEXT, .s = "\xe8", .len = 1};
    cr_assert_eq(factdb_session_exec(s, "SELECT $1", 9, &badutf, 1, &used, &r, &err), FACTDB_INVALID_UTF8);
}

Test(sql, scripts_run_statement_by_statement)
{
    const char *script = "CREATE TABLE a (x bigint); ; INSERT INTO a VALUES (1), (2);\n SELECT sum(x) FROM a; -- done\n";
    size_t at = 0, len = strlen(script);
    int n = 0;
    char buf[128];
    while (at < len) {
        size_t used;
        factdb_result *r;
        factdb_error err;
        cr_assert_eq(factdb_session_exec(s, script + at, len - at, NULL, 0, &used, &r, &err), 0, "%s", err.message);
        if (r) {
            n++;
            if (factdb_result_has_rows(r))
                cr_assert_str_eq(cell(r, 0, 0, buf), "3");
            factdb_result_free(r);
        }
        cr_assert(used > 0);
        at += used;
    }
    cr_assert_eq(n, 3);
}

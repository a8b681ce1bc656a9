/* test_sql.c: the SQL session API: parameters are bound as values (never spliced into the text), typed
 * by their context like quoted literals; results carry PostgreSQL type names; errors carry positions. */
#include "unit_db.h"
#include "sql/bind.h"
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

/* ---- expression equality (bind_ast_equal): GROUP BY keys, aggregates and ORDER BY items are matched with
 * it. Property: for every node kind, two expressions that differ in exactly one attribute are never equal;
 * the same expression written with other spacing, keyword case or qualifier is. ---- */

static ast *parse_item(sql_arena *a, const char *expr_text)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM t", expr_text);
    sql_stmt *st = NULL;
    size_t used;
    factdb_error err;
    cr_assert_eq(sql_parse(a, sql, strlen(sql), &st, &used, &err), 0, "%s: %s", sql, err.message);
    cr_assert(st && st->select && st->select->nitems == 1, "%s", sql);
    return st->select->items[0];
}

/* pairs that differ in one attribute of their top node (the kind named first) or of one child */
static const char *const DIFFERENT[][3] = {
    {"A_CONST", "1", "2"},
    {"A_CONST", "1", "1.0"},                                     /* literal kind */
    {"A_CONST", "'a'", "'a '"},                                  /* text length */
    {"A_CONST", "'1'", "1"},
    {"A_CONST", "NULL", "'NULL'"},
    {"A_CONST", "TRUE", "FALSE"},
    {"A_CONST", "DATE '2024-01-01'", "TIMESTAMP '2024-01-01'"},
    {"A_CONST", "INTERVAL '1' DAY", "INTERVAL '1' HOUR"},        /* interval unit */
    {"A_CONST", "INTERVAL '1 day'", "INTERVAL '2 days'"},
    {"A_PARAM", "$1", "$2"},                                     /* parameter number */
    {"A_COLUMN", "x", "y"},
    {"A_COLUMN", "x", "\"X\""},                                 /* quoted name keeps its case */
    {"A_STAR", "t.*", "u.*"},                                    /* qualifier of t.* */
    {"A_NEG", "-x", "-y"},
    {"A_NOT", "NOT x", "NOT y"},
    {"A_BIN", "x + y", "x - y"},                                 /* operator */
    {"A_BIN", "x + y - z", "x - y + z"},                         /* operators of a mixed chain */
    {"A_BIN", "x + y - z", "x + y + z"},
    {"A_BIN", "x * y", "x / y"},
    {"A_BIN", "x % y", "x / y"},
    {"A_BIN", "x < y", "x <= y"},
    {"A_BIN", "x = y", "x <> y"},
    {"A_BIN", "x AND y", "x OR y"},
    {"A_BIN", "x || y", "x + y"},
    {"A_BIN", "x + y", "y + x"},                                 /* argument order */
    {"A_ISNULL", "x IS NULL", "x IS NOT NULL"},                  /* neg */
    {"A_IN", "x IN (1, 2)", "x NOT IN (1, 2)"},                  /* neg */
    {"A_IN", "x IN (1, 2)", "x IN (1, 3)"},
    {"A_IN", "x IN (1, 2)", "x IN (1, 2, 3)"},
    {"A_BETWEEN", "x BETWEEN 1 AND 2", "x NOT BETWEEN 1 AND 2"}, /* neg */
    {"A_BETWEEN", "x BETWEEN 1 AND 2", "x BETWEEN 1 AND 3"},
    {"A_LIKE", "x LIKE 'a%'", "x NOT LIKE 'a%'"},                /* neg */
    {"A_LIKE", "x LIKE 'a%'", "x ILIKE 'a%'"},                   /* ilike */
    {"A_LIKE", "x LIKE 'a\\%'", "x LIKE 'a%'"},                  /* escaped wildcard */
    {"A_CASE", "CASE WHEN x THEN 1 ELSE 2 END", "CASE WHEN x THEN 1 ELSE 3 END"},   /* ELSE branch */
    {"A_CASE", "CASE WHEN x THEN 1 ELSE 2 END", "CASE WHEN x THEN 4 ELSE 2 END"},   /* THEN branch */
    {"A_CASE", "CASE WHEN x THEN 1 ELSE 2 END", "CASE WHEN y THEN 1 ELSE 2 END"},   /* WHEN */
    {"A_CASE", "CASE WHEN x THEN 1 ELSE 2 END", "CASE WHEN x THEN 1 END"},          /* has ELSE */
    {"A_CASE", "CASE WHEN x THEN 1 WHEN y THEN 2 END", "CASE x WHEN y THEN 1 ELSE 2 END"}, /* operand */
    {"A_CASE", "CASE x WHEN 1 THEN 2 END", "CASE y WHEN 1 THEN 2 END"},
    {"A_CAST", "x::integer", "x::bigint"},                       /* target */
    {"A_CAST", "x::numeric(6,1)", "x::numeric(6,2)"},            /* scale */
    {"A_CAST", "x::numeric(6,1)", "x::numeric(7,1)"},            /* precision */
    {"A_CAST", "CAST(x AS text)", "CAST(x AS date)"},
    {"A_FUNC", "lower(x)", "upper(x)"},                          /* name */
    {"A_FUNC", "count(x)", "count(DISTINCT x)"},                 /* DISTINCT */
    {"A_FUNC", "count(*)", "count(x)"},                          /* star */
    {"A_FUNC", "sum(x)", "sum(x) FILTER (WHERE y)"},             /* FILTER */
    {"A_FUNC", "sum(x) FILTER (WHERE y)", "sum(x) FILTER (WHERE z)"},
    {"A_FUNC", "date_part('year', x)", "date_part('month', x)"},
    {"A_FUNC", "round(x, 1)", "round(x, 2)"},
    {"A_FUNC", "substring(x FROM 1 FOR 2)", "substring(x FROM 1)"},
    {"A_EXTRACT", "extract(year FROM x)", "extract(quarter FROM x)"}, /* field */
    {"A_EXTRACT", "extract('year' FROM x)", "extract(month FROM x)"},
    {"A_EXTRACT", "extract(year FROM x)", "extract(year FROM y)"},
};

static const char *const SAME[][2] = {
    {"extract(YEAR FROM x)", "extract(year from x)"},
    {"extract('Year' FROM x)", "extract(year FROM x)"},
    {"x+1", "x + 1"},
    {"t.x", "x"},
    {"public.t.x", "x"},
    {"COUNT(*)", "count(*)"},
    {"sum(x) FILTER (WHERE y > 1)", "SUM(x) filter (where y>1)"},
    {"CASE WHEN x THEN 1 ELSE 2 END", "case when x then 1 else 2 end"},
    {"x::NUMERIC(6,1)", "CAST(x AS numeric(6,1))"},
    {"INTERVAL '1' DAY", "interval '1' day"},
};

Test(sql, expression_equality_never_merges_different_expressions)
{
    sql_arena a;
    sql_arena_init(&a, 0);
    bool covered[A_EXTRACT + 1] = {0};
    static const char *const kinds[] = {"A_CONST", "A_PARAM", "A_COLUMN", "A_STAR", "A_NEG", "A_NOT", "A_BIN",
                                        "A_ISNULL", "A_IN", "A_BETWEEN", "A_LIKE", "A_CASE", "A_CAST", "A_FUNC",
                                        "A_EXTRACT"};
    cr_assert_eq(sizeof kinds / sizeof *kinds, (size_t)A_EXTRACT + 1, "a new node kind needs pairs here");
    for (size_t i = 0; i < sizeof DIFFERENT / sizeof *DIFFERENT; i++) {
        ast *x = parse_item(&a, DIFFERENT[i][1]), *y = parse_item(&a, DIFFERENT[i][2]);
        cr_assert_str_eq(kinds[x->kind], DIFFERENT[i][0], "%s parses as %s", DIFFERENT[i][1], kinds[x->kind]);
        covered[x->kind] = true;
        cr_assert(!bind_ast_equal(x, y), "%s and %s were taken for the same expression", DIFFERENT[i][1],
                  DIFFERENT[i][2]);
        cr_assert(!bind_ast_equal(y, x), "%s and %s were taken for the same expression", DIFFERENT[i][2],
                  DIFFERENT[i][1]);
        cr_assert(bind_ast_equal(x, x) && bind_ast_equal(y, y));
        /* and as a child of an otherwise equal parent */
        char px[256], py[256];
        snprintf(px, sizeof px, "coalesce(%s, %s)", DIFFERENT[i][1], DIFFERENT[i][1]);
        snprintf(py, sizeof py, "coalesce(%s, %s)", DIFFERENT[i][1], DIFFERENT[i][2]);
        if (x->kind != A_STAR)
            cr_assert(!bind_ast_equal(parse_item(&a, px), parse_item(&a, py)), "%s vs %s", px, py);
    }
    for (int k = 0; k <= A_EXTRACT; k++)
        cr_assert(covered[k], "no pair of expressions for node kind %s", kinds[k]);
    for (size_t i = 0; i < sizeof SAME / sizeof *SAME; i++)
        cr_assert(bind_ast_equal(parse_item(&a, SAME[i][0]), parse_item(&a, SAME[i][1])), "%s and %s should be one "
                  "expression", SAME[i][0], SAME[i][1]);
    sql_arena_cleanup(&a);
}

/* End to end: parameters that differ only in their number are two GROUP BY keys with their own values. */
Test(sql, parameters_of_different_numbers_are_different_keys)
{
    factdb_result_free(exec("CREATE TABLE g (x integer)", NULL, 0));
    factdb_result_free(exec("INSERT INTO g VALUES (1), (2)", NULL, 0));
    factdb_param p[2] = {{.kind = FACTDB_PARAM_INT, .i = 10}, {.kind = FACTDB_PARAM_INT, .i = 20}};
    factdb_result *r = exec("SELECT x + $1 AS a, x + $2 AS b, count(*) FROM g GROUP BY x + $1, x + $2 ORDER BY 1", p, 2);
    char buf[128];
    cr_assert_eq(factdb_result_nrows(r), 2);
    cr_assert_str_eq(cell(r, 0, 0, buf), "11");
    cr_assert_str_eq(cell(r, 0, 1, buf), "21");
    cr_assert_str_eq(cell(r, 1, 0, buf), "12");
    cr_assert_str_eq(cell(r, 1, 1, buf), "22");
    factdb_result_free(r);
}

/* Typed parameters (numeric, date, timestamps) and typed reads of results, for bindings: no text on the way. */
Test(sql, typed_params_and_reads)
{
    factdb_result_free(exec("CREATE TABLE ty (n numeric(10,3), d date, ts timestamp, tz timestamptz, b boolean, f double precision, t text)", NULL, 0));
    factdb_param p[7] = {{.kind = FACTDB_PARAM_DECIMAL, .i = 980, .scale = 2},
                         {.kind = FACTDB_PARAM_DATE, .i = 19753},
                         {.kind = FACTDB_PARAM_TIMESTAMP, .i = 1706702400123456},
                         {.kind = FACTDB_PARAM_TIMESTAMPTZ, .i = -1},
                         {.kind = FACTDB_PARAM_BOOL, .b = true},
                         {.kind = FACTDB_PARAM_DOUBLE, .d = 2.5},
                         {.kind = FACTDB_PARAM_TEXT, .s = "x", .len = 1}};
    factdb_result_free(exec("INSERT INTO ty VALUES ($1, $2, $3, $4, $5, $6, $7)", p, 7));
    factdb_result_free(exec("INSERT INTO ty (t) VALUES ('null row')", NULL, 0));
    factdb_result *r = exec("SELECT n, d, ts, tz, b, f, t, n / 3 FROM ty ORDER BY t DESC", NULL, 0);
    char buf[128];
    cr_assert_str_eq(cell(r, 0, 0, buf), "9.800");
    cr_assert_str_eq(cell(r, 0, 1, buf), "2024-01-31");
    int scale = -1;
    cr_assert_eq(factdb_result_column_ctype(r, 0, &scale), FACTDB_DECIMAL);
    cr_assert_eq(scale, 3);
    cr_assert_eq(factdb_result_column_ctype(r, 1, NULL), FACTDB_DATE);
    cr_assert_eq(factdb_result_column_ctype(r, 3, NULL), FACTDB_TIMESTAMPTZ);
    cr_assert_eq(factdb_result_column_ctype(r, 6, NULL), FACTDB_TEXT);
    int64_t v[2];
    uint8_t ok[2];
    cr_assert_eq(factdb_result_read_int64(r, 0, 0, 2, v, ok), 0);
    cr_assert(v[0] == 9800 && ok[0] == 1 && v[1] == 0 && ok[1] == 0);
    cr_assert_eq(factdb_result_read_int64(r, 2, 0, 1, v, NULL), 0);
    cr_assert_eq(v[0], 1706702400123456);
    cr_assert_eq(factdb_result_read_int64(r, 3, 0, 1, v, NULL), 0);
    cr_assert_eq(v[0], -1);
    cr_assert_eq(factdb_result_read_int64(r, 4, 0, 1, v, NULL), 0);
    cr_assert_eq(v[0], 1);
    double d;
    cr_assert_eq(factdb_result_read_double(r, 5, 0, 1, &d, NULL), 0);
    cr_assert(d == 2.5);
    cr_assert_eq(factdb_result_read_int64(r, 5, 0, 1, v, NULL), FACTDB_INVALID_ARGUMENT);
    cr_assert_eq(factdb_result_read_int64(r, 6, 0, 1, v, NULL), FACTDB_INVALID_ARGUMENT);
    cr_assert_eq(factdb_result_read_int64(r, 0, 1, 2, v, NULL), FACTDB_INVALID_ARGUMENT);
    factdb_result_free(r);
    factdb_param bad = {.kind = FACTDB_PARAM_DECIMAL, .i = 1, .scale = 19};
    factdb_error err;
    size_t used;
    cr_assert_eq(factdb_session_exec(s, "SELECT $1", 9, &bad, 1, &used, &r, &err), FACTDB_INVALID_ARGUMENT);
}

/* An appender's rows join the session's BEGIN block while it is attached: invisible to others until
 * COMMIT, gone on ROLLBACK, also when they fill full chunks written as they go. */
Test(sql, appender_rows_join_an_attached_block)
{
    factdb_result_free(exec("CREATE TABLE ap (x bigint)", NULL, 0));
    factdb_error err;
    for (int commit = 0; commit < 2; commit++) {
        factdb_result_free(exec("BEGIN", NULL, 0));
        factdb_result_free(exec("INSERT INTO ap VALUES (-1)", NULL, 0));
        cr_assert_eq(factdb_session_attach(s, &err), 0, "%s", err.message);
        factdb_appender *a;
        cr_assert_eq(factdb_appender_new(db, "ap", &a, &err), 0);
        for (int i = 0; i < FACTDB_CHUNK_ROWS + 10; i++) {
            cr_assert_eq(factdb_append_int64(a, 0, i, &err), 0);
            cr_assert_eq(factdb_append_row_end(a, &err), 0, "%s", err.message);
        }
        cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
        factdb_appender_free(a);
        factdb_session_detach(s, false);
        char buf[128];
        factdb_result *r = exec("SELECT count(*) FROM ap", NULL, 0);
        cr_assert_str_eq(cell(r, 0, 0, buf), "65547");  /* the block sees its rows */
        factdb_result_free(r);
        factdb_result_free(exec(commit ? "COMMIT" : "ROLLBACK", NULL, 0));
        r = exec("SELECT count(*) FROM ap", NULL, 0);
        cr_assert_str_eq(cell(r, 0, 0, buf), commit ? "65547" : "0");
        factdb_result_free(r);
    }
    /* a failed append fails the block */
    factdb_result_free(exec("BEGIN", NULL, 0));
    cr_assert_eq(factdb_session_attach(s, &err), 0);
    factdb_session_detach(s, true);
    cr_assert_eq(factdb_session_attach(s, &err), FACTDB_INVALID_ARGUMENT);
    factdb_result_free(exec("ROLLBACK", NULL, 0));
    cr_assert_eq(factdb_session_attach(s, &err), 0);  /* outside a block: nothing */
    factdb_session_detach(s, false);
}

/* INSERT / UPDATE / DELETE ... RETURNING over the C API: rows like a SELECT's, the write's tag; inside
 * BEGIN ... ROLLBACK the write and its rows go together. */
Test(sql, returning_rows_and_the_write_tag)
{
    char buf[128];
    factdb_result_free(exec("CREATE TABLE t (id integer PRIMARY KEY, name text)", NULL, 0));
    factdb_param p[2] = {{.kind = FACTDB_PARAM_INT, .i = 1}, {.kind = FACTDB_PARAM_TEXT, .s = "a", .len = 1}};
    factdb_result *r = exec("INSERT INTO t VALUES ($1, $2), (2, 'b') RETURNING id, upper(name) AS up", p, 2);
    cr_assert(factdb_result_has_rows(r));
    cr_assert_str_eq(factdb_result_tag(r), "INSERT 0 2");
    cr_assert_eq(factdb_result_nrows(r), 2);
    cr_assert_eq(factdb_result_ncols(r), 2);
    cr_assert_str_eq(factdb_result_column_name(r, 1), "up");
    cr_assert_str_eq(factdb_result_column_type(r, 0), "integer");
    cr_assert_str_eq(cell(r, 1, 0, buf), "2");
    cr_assert_str_eq(cell(r, 0, 1, buf), "A");
    factdb_result_free(r);
    factdb_result_free(exec("BEGIN", NULL, 0));
    r = exec("DELETE FROM t WHERE id = 2 RETURNING *", NULL, 0);
    cr_assert_str_eq(factdb_result_tag(r), "DELETE 1");
    cr_assert_str_eq(cell(r, 0, 1, buf), "b");
    factdb_result_free(r);
    factdb_result_free(exec("ROLLBACK", NULL, 0));
    r = exec("UPDATE t SET name = name || '!' RETURNING name", NULL, 0);
    cr_assert_str_eq(factdb_result_tag(r), "UPDATE 2");
    cr_assert_eq(factdb_result_nrows(r), 2);
    factdb_result_free(r);
    /* an error in RETURNING changes nothing */
    factdb_error err;
    size_t used;
    const char *bad = "DELETE FROM t RETURNING 1 / 0";
    cr_assert_eq(factdb_session_exec(s, bad, strlen(bad), NULL, 0, &used, &r, &err), FACTDB_INVALID_VALUE,
                 "%s", err.message);
    r = exec("SELECT count(*) FROM t", NULL, 0);
    cr_assert_str_eq(cell(r, 0, 0, buf), "2");
    factdb_result_free(r);
}

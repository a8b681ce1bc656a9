/* test_sql_limits.c: no statement can take the process down or outlive a cancel. Expressions nested up to
 * the limit run on a thread with libmicrohttpd's 4 MiB stack (and the stack actually used is measured);
 * one level more is a clear error; wide flat chains (10,000-term OR or sum) answer; SQL text that is not
 * NUL-terminated is never read past its length; a cancel stops parsing and binding. Run under ASan. */
#include "unit_db.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEPTH_LIMIT 200         /* SQL_MAX_DEPTH in src/sql/sql.h */
#define HTTP_STACK ((size_t)4 << 20)
#define MIN_(a, b) ((a) < (b) ? (a) : (b))

static factdb *db;
static factdb_session *s;
static char path[256];

static void setup(void)
{
    unit_db_open("limits", path, sizeof path, &db, &s);
    factdb_session_set_threads(s, 2);
}

static void teardown(void) { unit_db_close(path, db, s); }

TestSuite(limits, .init = setup, .fini = teardown, .timeout = 600);

/* Runs sql (len bytes, no NUL needed); returns the error code and fills *first with row 0, column 0. */
static int run_len(const char *sql, size_t len, char *first, size_t cap, factdb_error *err)
{
    factdb_result *r = NULL;
    size_t used;
    int rc = factdb_session_exec(s, sql, len, NULL, 0, &used, &r, err);
    if (first && cap)
        first[0] = 0;
    if (!rc && r && first && factdb_result_has_rows(r) && factdb_result_nrows(r) > 0) {
        size_t l;
        const char *v = factdb_result_text(r, 0, 0, first, cap, &l);
        if (v && v != first)
            snprintf(first, cap, "%.*s", (int)l, v);
        else if (v)
            first[MIN_(l, cap - 1)] = 0;
    }
    factdb_result_free(r);
    return rc;
}

static int run(const char *sql, char *first, size_t cap, factdb_error *err)
{
    return run_len(sql, strlen(sql), first, cap, err);
}

static void ok(const char *sql)
{
    factdb_error err;
    cr_assert_eq(run(sql, NULL, 0, &err), 0, "%.80s: %s", sql, err.message);
}

static void load_rows(void)
{
    ok("CREATE TABLE t (x integer, y bigint, s text)");
    ok("INSERT INTO t SELECT 1, 2, 'a'");
    char sql[200];
    for (int i = 0; i < 12; i++) {
        /* doubling: 4,096 rows, two vectors, so evaluation runs on the worker threads too */
        snprintf(sql, sizeof sql, "INSERT INTO t SELECT x + %d, y, s FROM t", 1 << i);
        ok(sql);
    }
}

/* ---- one query on a thread with a given stack, the stack pre-filled to measure its high-water mark ---- */
typedef struct job {
    const char *sql;
    int rc;
    factdb_error err;
    char first[128];
} job;

static void *job_run(void *arg)
{
    job *j = arg;
    j->rc = run(j->sql, j->first, sizeof j->first, &j->err);
    return NULL;
}

/* Returns the bytes of stack the query used. */
static size_t run_on_stack(job *j, size_t stack)
{
    unsigned char *mem = aligned_alloc(4096, stack);
    cr_assert(mem);
    memset(mem, 0xA5, stack);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, mem, stack);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, &attr, job_run, j), 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
    size_t untouched = 0;
    while (untouched < stack && mem[untouched] == 0xA5)
        untouched++;
    free(mem);
    return stack - untouched;
}

/* Appends to a growable string. */
typedef struct sb {
    char *p;
    size_t n, cap;
} sb;

static void put(sb *b, const char *text)
{
    size_t l = strlen(text);
    if (b->n + l + 1 > b->cap) {
        b->cap = (b->n + l + 1) * 2;
        b->p = realloc(b->p, b->cap);
        cr_assert(b->p);
    }
    memcpy(b->p + b->n, text, l + 1);
    b->n += l;
}

static void repeat(sb *b, const char *text, int n)
{
    for (int i = 0; i < n; i++)
        put(b, text);
}

/* The nestings that cost the most stack per level in each pass, `levels` deep, over a column (nothing
 * folds away, so the executor recurses as deep as the binder). */
static char *nested(int kind, int levels)
{
    sb b = {0};
    put(&b, "SELECT ");
    switch (kind) {
    case 0: /* CASE: a 3-array selection per level in the executor */
        repeat(&b, "CASE WHEN x > 0 THEN ", levels - 1);
        put(&b, "x");
        repeat(&b, " ELSE 0 END", levels - 1);
        break;
    case 1: /* coalesce */
        repeat(&b, "coalesce(", levels - 1);
        put(&b, "x");
        repeat(&b, ", 0)", levels - 1);
        break;
    case 2: /* parentheses around AND/OR: parser descent through every precedence level */
        repeat(&b, "(x > 0 OR ", levels - 1);
        put(&b, "x < 0");
        repeat(&b, ")", levels - 1);
        break;
    case 3: /* functions and casts: binder typing per level */
        repeat(&b, "abs(", (levels - 1) / 2);
        put(&b, "x");
        for (int i = 0; i < (levels - 1) / 2; i++)
            put(&b, ")::bigint");
        break;
    case 4: /* unary minus and NOT */
        repeat(&b, "- ", levels - 1);
        put(&b, "x");
        break;
    }
    put(&b, " FROM t LIMIT 1");
    return b.p;
}

Test(limits, nesting_just_under_the_limit_runs_on_a_4_MiB_thread)
{
    load_rows();
    size_t worst = 0;
    for (int kind = 0; kind < 5; kind++) {
        char *sql = nested(kind, DEPTH_LIMIT - 1);
        job j = {.sql = sql};
        size_t used = run_on_stack(&j, HTTP_STACK);
        cr_assert_eq(j.rc, 0, "kind %d: %s", kind, j.err.message);
        fprintf(stderr, "nesting kind %d, %d levels: %zu KiB of stack\n", kind, DEPTH_LIMIT - 1, used >> 10);
        worst = used > worst ? used : worst;
        free(sql);
    }
    /* a margin of at least 2x on the smallest stack a statement runs on */
    cr_assert_lt(worst, HTTP_STACK / 2, "%zu bytes of stack used", worst);
}

Test(limits, one_level_more_is_a_clear_error)
{
    load_rows();
    for (int kind = 0; kind < 5; kind++) {
        char *sql = nested(kind, DEPTH_LIMIT + 2);
        factdb_error err;
        cr_assert_eq(run(sql, NULL, 0, &err), FACTDB_INVALID_ARGUMENT, "kind %d", kind);
        cr_assert(strstr(err.message, "nested too deeply (more than 200 levels)"), "%s", err.message);
        cr_assert_gt(err.position, 0);
        free(sql);
    }
    /* the reports of issue 9: 8,000 casts, 520 parentheses */
    sb b = {0};
    put(&b, "SELECT 1");
    repeat(&b, "::int", 8000);
    factdb_error err;
    cr_assert_eq(run(b.p, NULL, 0, &err), FACTDB_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "nested too deeply"), "%s", err.message);
    free(b.p);
}

Test(limits, wide_flat_chains_answer)
{
    load_rows();
    sb b = {0};
    char term[64], first[128];
    factdb_error err;
    /* 10,000 x = k OR ...: what tools generate instead of IN */
    put(&b, "SELECT count(*) FROM t WHERE ");
    for (int i = 0; i < 10000; i++) {
        snprintf(term, sizeof term, "%sx = %d", i ? " OR " : "", i * 2);
        put(&b, term);
    }
    cr_assert_eq(run(b.p, first, sizeof first, &err), 0, "%s", err.message);
    cr_assert_str_eq(first, "2048");
    /* the same with a term that is not an equality in the middle, and NULL */
    b.n = 0;
    put(&b, "SELECT count(*) FROM t WHERE ");
    for (int i = 0; i < 10000; i++) {
        snprintf(term, sizeof term, "%s%s", i ? " OR " : "", i == 5000 ? "y IS NULL OR x = NULL" : "x = ");
        put(&b, term);
        if (i != 5000) {
            snprintf(term, sizeof term, "%d", i * 2);
            put(&b, term);
        }
    }
    cr_assert_eq(run(b.p, first, sizeof first, &err), 0, "%s", err.message);
    cr_assert_str_eq(first, "2048");
    /* 5,000 ANDs */
    b.n = 0;
    put(&b, "SELECT count(*) FROM t WHERE ");
    for (int i = 0; i < 5000; i++) {
        snprintf(term, sizeof term, "%sx <> %d", i ? " AND " : "", i);
        put(&b, term);
    }
    cr_assert_eq(run(b.p, first, sizeof first, &err), 0, "%s", err.message);
    cr_assert_str_eq(first, "0");  /* x is 1..4096 */
    /* 10,000-term sums: constant, and over a column (a left-deep chain evaluated in a loop) */
    b.n = 0;
    put(&b, "SELECT 1");
    repeat(&b, "+1", 9999);
    cr_assert_eq(run(b.p, first, sizeof first, &err), 0, "%s", err.message);
    cr_assert_str_eq(first, "10000");
    b.n = 0;
    put(&b, "SELECT sum(x");
    repeat(&b, " + 1 - 1", 5000);
    put(&b, ") FROM t");
    cr_assert_eq(run(b.p, first, sizeof first, &err), 0, "%s", err.message);
    cr_assert_str_eq(first, "8390656");
    /* overflow is still checked at every step of a chain */
    b.n = 0;
    put(&b, "SELECT max(x");
    repeat(&b, " + 2147483647", 3);
    put(&b, ") FROM t");
    cr_assert_eq(run(b.p, first, sizeof first, &err), FACTDB_INVALID_VALUE);
    cr_assert(strstr(err.message, "integer out of range"), "%s", err.message);
    /* 10,000 concatenations */
    b.n = 0;
    put(&b, "SELECT length(s");
    repeat(&b, " || 'b'", 10000);
    put(&b, ") FROM t LIMIT 1");
    cr_assert_eq(run(b.p, first, sizeof first, &err), 0, "%s", err.message);
    cr_assert_str_eq(first, "10001");
    free(b.p);
}

Test(limits, sql_text_is_never_read_past_its_length)
{
    ok("CREATE TABLE t (x integer)");
    /* every input ends mid-token; each is copied into a heap block of exactly its length, so ASan
     * reports any read past the end (as strtol/atoi on token text did) */
    static const char *const inputs[] = {
        "SELECT $1", "SELECT $12", "SELECT 1::numeric(18", "SELECT 1::numeric(18,2", "SELECT 1::varchar(10",
        "SELECT 12", "SELECT 1.5", "SELECT 1e", "SELECT 1.5e+", "SELECT 'abc", "SELECT \"ab", "SELECT x",
        "SELECT 1 -- c", "SELECT 1 /* c", "SELECT 1 /* c *", "SELECT DATE '2024-01-01", "SELECT 1 <",
        "SELECT 1 |", "SELECT 1 ::", "SELECT x FROM t WHERE x IN (1, 2", "SELECT 'a''", "SELECT $",
        "SELECT count(*) FILTER (WHERE x > 1", "SELECT CASE WHEN", "SELECT INTERVAL '1 day' DAY",
        "INSERT INTO t VALUES ($1", "SELECT 1 LIMIT 1", "COPY t FROM 'x' WITH (DELIMITER ',",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        size_t len = strlen(inputs[i]);
        char *buf = malloc(len);
        cr_assert(buf);
        memcpy(buf, inputs[i], len);
        factdb_error err;
        run_len(buf, len, NULL, 0, &err);  /* an error or a result; never a read past buf + len */
        free(buf);
    }
}

Test(limits, nul_bytes_are_rejected)
{
    ok("CREATE TABLE t (s text)");
    factdb_error err;
    static const char sql[] = "INSERT INTO t VALUES ('a\0b')";
    cr_assert_eq(run_len(sql, sizeof sql - 1, NULL, 0, &err), FACTDB_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "NUL byte (0x00) at byte 25"), "%s", err.message);
    factdb_param p = {.kind = FACTDB_PARAM_TEXT, .s = "a\0b", .len = 3};
    factdb_result *r = NULL;
    size_t used;
    const char *ins = "INSERT INTO t VALUES ($1)";
    cr_assert_eq(factdb_session_exec(s, ins, strlen(ins), &p, 1, &used, &r, &err), FACTDB_INVALID_VALUE);
    cr_assert(strstr(err.message, "parameter $1 contains a NUL byte"), "%s", err.message);
    char first[128];
    cr_assert_eq(run("SELECT count(*) FROM t", first, sizeof first, &err), 0);
    cr_assert_str_eq(first, "0");
}

/* ---- cancel during parsing and binding ---- */
typedef struct canceler {
    factdb_session *s;
    useconds_t after;
} canceler;

static void *cancel_later(void *arg)
{
    canceler *c = arg;
    usleep(c->after);
    factdb_session_cancel(c->s);
    return NULL;
}

Test(limits, cancel_stops_parsing_and_binding)
{
    ok("CREATE TABLE t (x integer)");
    /* a 2,000,000-value IN list: parsing and binding take far longer than the cancel's 50 ms */
    sb b = {0};
    put(&b, "SELECT count(*) FROM t WHERE x IN (0");
    char v[32];
    for (int i = 1; i < 2000000; i++) {
        snprintf(v, sizeof v, ",%d", i);
        put(&b, v);
    }
    put(&b, ")");
    canceler c = {.s = s, .after = 50000};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, cancel_later, &c), 0);
    factdb_error err;
    int rc = run(b.p, NULL, 0, &err);
    pthread_join(t, NULL);
    cr_assert_neq(rc, 0, "the statement finished before the cancel");
    cr_assert(strstr(err.message, "canceling statement due to user request"), "%s", err.message);
    free(b.p);
}

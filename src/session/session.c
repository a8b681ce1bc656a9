/* session.c: the public SQL API (factdb_session_*, factdb_result_*): parses one statement, binds it and
 * runs it on the engine. Every statement is its own snapshot (reads) or its own atomic, durable commit
 * (writes). */
#include "sql/bind.h"
#include "plan/plan.h"
#include "ingest/ingest.h"
#include "store/store.h"
#include <errno.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct factdb_session {
    factdb *db;
    int threads;
    size_t mem_limit;
    atomic_bool cancel;
    bool in_block;       /* between BEGIN and COMMIT/ROLLBACK */
    bool failed;         /* a statement of the block failed: only ROLLBACK/COMMIT are accepted */
    store_txn *xact;     /* the block's write transaction, from its first write on */
    bool no_file_access; /* COPY to/from a server file refused (factdb_session_set_file_access) */
};

struct factdb_result {
    exec_result er;
    int ncols;
    char **names;
    char **types;
    char tag[64];
    bool has_rows;
    uint64_t version;
    sql_arena arena;
};

int factdb_session_new(factdb *db, factdb_session **out, factdb_error *err)
{
    factdb_session *s = calloc(1, sizeof *s);
    if (!s)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    s->db = db;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    s->threads = n > 0 ? (int)MIN(n, 64) : 1;
    s->mem_limit = (size_t)4 << 30;
    *out = s;
    return 0;
}

void factdb_session_free(factdb_session *s)
{
    if (!s)
        return;
    factdb_session_rollback(s);
    free(s);
}

bool factdb_session_in_transaction(const factdb_session *s) { return s->in_block; }
bool factdb_session_holds_write_lock(const factdb_session *s) { return s->xact != NULL; }

void factdb_session_rollback(factdb_session *s)
{
    if (s->xact)
        store_xact_rollback(s->db, s->xact);
    s->xact = NULL;
    s->in_block = false;
    s->failed = false;
}
int factdb_session_attach(factdb_session *s, factdb_error *err)
{
    base_err_clear(err);
    if (!s->in_block)
        return 0;
    if (s->failed)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "current transaction is aborted, commands ignored until end of "
                        "transaction block; run ROLLBACK");
    int rc;
    if (!s->xact && (rc = store_xact_begin(s->db, &s->xact, err)))
        return rc;  /* the block stays usable, nothing was written */
    store_xact_bind(s->db, s->xact);
    return 0;
}

void factdb_session_detach(factdb_session *s, bool failed)
{
    if (!s->in_block)
        return;
    store_xact_bind(s->db, NULL);
    if (failed)
        s->failed = true;
}

void factdb_session_set_threads(factdb_session *s, int threads) { s->threads = threads > 0 ? MIN(threads, 256) : 1; }
void factdb_session_set_memory_limit(factdb_session *s, size_t bytes) { s->mem_limit = bytes; }
void factdb_session_cancel(factdb_session *s) { atomic_store(&s->cancel, true); }
void factdb_session_set_file_access(factdb_session *s, bool allow) { s->no_file_access = !allow; }

/* ---- results ---- */
static factdb_result *result_new(void)
{
    factdb_result *r = calloc(1, sizeof *r);
    if (r)
        sql_arena_init(&r->arena, 0);
    return r;
}

void factdb_result_free(factdb_result *r)
{
    if (!r)
        return;
    exec_result_free(&r->er);
    sql_arena_cleanup(&r->arena);
    free(r);
}

size_t factdb_result_ncols(const factdb_result *r) { return r->has_rows ? (size_t)r->ncols : 0; }
const char *factdb_result_column_name(const factdb_result *r, size_t c) { return r->names[c]; }
const char *factdb_result_column_type(const factdb_result *r, size_t c) { return r->types[c]; }
uint64_t factdb_result_nrows(const factdb_result *r) { return r->has_rows ? r->er.n : 0; }
const char *factdb_result_tag(const factdb_result *r) { return r->tag; }
bool factdb_result_has_rows(const factdb_result *r) { return r->has_rows; }
uint64_t factdb_result_data_version(const factdb_result *r) { return r->version; }

bool factdb_result_is_null(const factdb_result *r, uint64_t row, size_t col)
{
    return !r->er.rs->cols[col].valid[r->er.idx[row]];
}

const char *factdb_result_text(const factdb_result *r, uint64_t row, size_t col, char *buf, size_t cap, size_t *len)
{
    sql_value v;
    rowset_get(r->er.rs, (int)col, r->er.idx[row], &v);
    if (v.null) {
        *len = 0;
        return NULL;
    }
    if (v.type.id == TY_TEXT) {
        *len = v.s.len;
        return v.s.p;
    }
    *len = exec_format_value(&v, buf, cap);
    return buf;
}

int factdb_result_json_kind(const factdb_result *r, size_t col)
{
    switch (r->er.rs->cols[col].type.id) {
    case TY_BOOL: return 2;
    case TY_INT:
    case TY_BIGINT:
    case TY_NUMERIC:
    case TY_DOUBLE: return 1;
    default: return 0;
    }
}

factdb_type factdb_result_column_ctype(const factdb_result *r, size_t col, int *scale)
{
    sql_type t = r->er.rs->cols[col].type;
    int prec, sc;
    /* a 128-bit numeric (per-value scales) has no fixed-scale C form: read it as text */
    int ft = t.id == TY_NUMERIC && exec_phys(t) != P_I64 ? 0 : sql_type_to_store(t, &prec, &sc);
    if (scale)
        *scale = ft == FACTDB_DECIMAL ? sc : 0;
    return (factdb_type)ft;
}

/* Both readers copy through the result's row index: a sorted or limited result is a permutation of its
 * rowset's rows. */
static int read_check(const factdb_result *r, size_t col, uint64_t first, size_t n, bool dbl)
{
    if (!r->has_rows || col >= (size_t)r->ncols || first > r->er.n || n > r->er.n - first)
        return FACTDB_INVALID_ARGUMENT;
    factdb_type t = factdb_result_column_ctype(r, col, NULL);
    if (!t || t == FACTDB_TEXT || (t == FACTDB_DOUBLE) != dbl)
        return FACTDB_INVALID_ARGUMENT;
    return 0;
}

int factdb_result_read_int64(const factdb_result *r, size_t col, uint64_t first, size_t n, int64_t *out,
                             uint8_t *valid)
{
    int rc = read_check(r, col, first, n, false);
    if (rc)
        return rc;
    const rs_col *c = &r->er.rs->cols[col];
    const size_t *idx = r->er.idx + first;
    if (c->ph == P_U8) {
        const uint8_t *d = c->data;
        for (size_t i = 0; i < n; i++)
            out[i] = c->valid[idx[i]] ? d[idx[i]] : 0;
    } else {
        const int64_t *d = (const int64_t *)(const void *)c->data;
        for (size_t i = 0; i < n; i++)
            out[i] = c->valid[idx[i]] ? d[idx[i]] : 0;
    }
    if (valid)
        for (size_t i = 0; i < n; i++)
            valid[i] = c->valid[idx[i]];
    return 0;
}

int factdb_result_read_double(const factdb_result *r, size_t col, uint64_t first, size_t n, double *out,
                              uint8_t *valid)
{
    int rc = read_check(r, col, first, n, true);
    if (rc)
        return rc;
    const rs_col *c = &r->er.rs->cols[col];
    const size_t *idx = r->er.idx + first;
    const double *d = (const double *)(const void *)c->data;
    for (size_t i = 0; i < n; i++)
        out[i] = c->valid[idx[i]] ? d[idx[i]] : 0;
    if (valid)
        for (size_t i = 0; i < n; i++)
            valid[i] = c->valid[idx[i]];
    return 0;
}

static int set_columns(factdb_result *r, int n, char *const *names, const sql_type *types, factdb_error *err)
{
    r->ncols = n;
    r->names = sql_arena_alloc(&r->arena, (size_t)(n + 1) * sizeof *r->names);
    r->types = sql_arena_alloc(&r->arena, (size_t)(n + 1) * sizeof *r->types);
    if (!r->names || !r->types)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        char tb[40];
        const char *t = sql_type_name(types[i], tb, sizeof tb);
        if (types[i].id == TY_NUMERIC)
            t = "numeric";  /* expression results carry no declared precision */
        r->names[i] = sql_arena_strndup(&r->arena, names[i], strlen(names[i]));
        r->types[i] = sql_arena_strndup(&r->arena, t, strlen(t));
        if (!r->names[i] || !r->types[i])
            return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    return 0;
}

/* A result built from rows of values (SHOW TABLES, DESCRIBE, EXPLAIN). */
static int rows_result(factdb_result *r, int ncols, char *const *names, const sql_type *types, factdb_error *err)
{
    r->has_rows = true;
    r->er.rs = calloc(1, sizeof *r->er.rs);
    if (!r->er.rs)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    r->er.ncols = ncols;
    if (rowset_init(r->er.rs, ncols, types, NULL, 0, err))
        return err->code;
    return set_columns(r, ncols, names, types, err);
}

static int rows_finish(factdb_result *r, factdb_error *err)
{
    r->er.n = r->er.rs->n;
    r->er.idx = malloc((r->er.n ? r->er.n : 1) * sizeof *r->er.idx);
    if (!r->er.idx)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    for (size_t i = 0; i < r->er.n; i++)
        r->er.idx[i] = i;
    snprintf(r->tag, sizeof r->tag, "SELECT %zu", r->er.n);
    return 0;
}

static sql_value text_value(const char *s)
{
    sql_value v;
    memset(&v, 0, sizeof v);
    v.type.id = TY_TEXT;
    v.s.p = s;
    v.s.len = strlen(s);
    return v;
}

/* ---- statements ---- */
/* RETURNING: the rows a write produced, gathered while it runs (the table's columns, of its types). */
typedef struct ret_rows {
    rowset rs;
    bool ready;
    size_t nprops;          /* INSERT: rows proposed (the first nprops of rs) */
    unsigned char *skip;    /* INSERT ... ON CONFLICT: per proposal, 1 = not inserted */
    size_t skip_cap;
    size_t *upd_prop;       /* DO UPDATE: per row of rs past nprops, the proposal it answers */
} ret_rows;

typedef struct stmt_ctx {
    factdb_session *s;
    sql_arena *a;
    const char *sql;
    sql_value *params;
    int nparams;
    int64_t now_us;
    factdb_error *err;
    /* CREATE TABLE AS: the query's result, run before the table existed, which the INSERT that fills the
     * table takes instead of running the query again */
    exec_result *pre;
    query *pre_q;
    ret_rows *ret;          /* the statement has RETURNING: its rows go here */
} stmt_ctx;

/* The RETURNING rowset of c, made on first use with the table's types; NULL without RETURNING. */
static rowset *ret_rowset(stmt_ctx *c, int ncols, const sql_type *types, int *rc)
{
    *rc = 0;
    if (!c->ret)
        return NULL;
    if (!c->ret->ready) {
        if ((*rc = rowset_init(&c->ret->rs, ncols, types, NULL, 0, c->err)))
            return NULL;
        c->ret->ready = true;
    }
    return &c->ret->rs;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool view_exists(stmt_ctx *c, const char *name);

static int table_info(stmt_ctx *c, const char *name, int pos, factdb_table_info *ti)
{
    int rc = factdb_table_info_get(c->s->db, name, ti, c->err);
    if (rc == FACTDB_NO_TABLE && view_exists(c, name))
        return sql_err(c->err, FACTDB_INVALID_ARGUMENT, pos, "\"%s\" is a view, not a table: this statement needs a "
                       "table (change the tables the view reads)", name);
    if (rc == FACTDB_NO_TABLE)
        return sql_err(c->err, FACTDB_NO_TABLE, pos, "relation \"%s\" does not exist", name);
    if (rc)
        c->err->position = pos;
    return rc;
}

static void plan_start(stmt_ctx *c, plan_ctx *pc)
{
    *pc = (plan_ctx){.db = c->s->db, .a = c->a, .params = c->params, .nparams = c->nparams, .now_us = c->now_us,
                     .cancel = &c->s->cancel, .threads = c->s->threads, .mem_limit = c->s->mem_limit, .err = c->err};
    plan_init(pc);
}

/* Plans and runs a SELECT (src/plan); *q describes the result's columns. */
static int run_select(stmt_ctx *c, sql_select *sel, query *q, exec_result *er, exec_stats *st)
{
    if (c->pre) {
        *er = *c->pre;
        *q = *c->pre_q;
        memset(st, 0, sizeof *st);
        c->pre = NULL;
        return 0;
    }
    plan_ctx pc;
    plan_start(c, &pc);
    plan_node *root;
    memset(st, 0, sizeof *st);
    int rc = plan_select(&pc, sel, &root);
    if (!rc)
        rc = plan_execute(&pc, root, er);
    if (!rc) {
        *q = root->q;
        st->chunks_total = root->chunks_total;
        st->chunks_skipped = root->chunks_skipped;
    }
    plan_done(&pc);
    return rc;
}

static int do_select(stmt_ctx *c, sql_select *sel, factdb_result *r)
{
    query q;
    exec_stats st;
    int rc = run_select(c, sel, &q, &r->er, &st);
    if (rc)
        return rc;
    sql_type types[1024];
    for (int i = 0; i < q.nvisible; i++)
        types[i] = q.outs[i]->type;
    r->has_rows = true;
    if ((rc = set_columns(r, q.nvisible, q.names, types, c->err)))
        return rc;
    snprintf(r->tag, sizeof r->tag, "SELECT %zu", r->er.n);
    return 0;
}

/* names: what each input of the expression's scope is called (scan columns, or group keys and aggregates).
 * Each level prints into 512 bytes, so below 32 levels nothing would show anyway: stop there, which also
 * bounds the recursion for the left-deep trees of long arithmetic chains. */
static void explain_expr(const query *q, const bexpr *e, char *buf, size_t cap, char **names, int depth)
{
    static const char *ops[] = {"+", "-", "*", "/", "%", "||"};
    static const char *cmps[] = {"=", "<>", "<", "<=", ">", ">="};
    char a[512] = "", b[512] = "";
    if (depth > 32) {
        snprintf(buf, cap, "...");
        return;
    }
    if (e->kind == B_AND || e->kind == B_OR) {
        size_t o = (size_t)snprintf(buf, cap, "(");
        for (int i = 0; i < e->nargs && o + 4 < cap; i++) {
            explain_expr(q, e->args[i], a, sizeof a, names, depth + 1);
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? (e->kind == B_AND ? " AND " : " OR ") : "", a);
        }
        if (o + 1 < cap)
            snprintf(buf + o, cap - o, ")");
        return;
    }
    if (e->nargs > 0 && e->args[0])
        explain_expr(q, e->args[0], a, sizeof a, names, depth + 1);
    if (e->nargs > 1 && e->args[1])
        explain_expr(q, e->args[1], b, sizeof b, names, depth + 1);
    switch (e->kind) {
    case B_INPUT:
        snprintf(buf, cap, "%s", names && names[e->input] ? names[e->input] : "?");
        return;
    case B_CONST: {
        char v[128];
        exec_format_value(&e->val, v, sizeof v);
        snprintf(buf, cap, e->val.null ? "NULL" : exec_phys(e->type) == P_STR ? "'%s'" : "%s", v);
        return;
    }
    case B_ARITH: snprintf(buf, cap, "(%s %s %s)", a, ops[e->op], b); return;
    case B_CMP: snprintf(buf, cap, "(%s %s %s)", a, cmps[e->op], b); return;
    case B_NOT: snprintf(buf, cap, "(NOT %s)", a); return;
    case B_CAST: {
        char tb[40];
        snprintf(buf, cap, "%s::%s", a, sql_type_name(e->type, tb, sizeof tb));
        return;
    }
    case B_ISNULL: snprintf(buf, cap, "(%s IS %sNULL)", a, e->neg ? "NOT " : ""); return;
    case B_IN: snprintf(buf, cap, "(%s %sIN (%d values))", a, e->neg ? "NOT " : "", e->nset); return;
    case B_LIKE: snprintf(buf, cap, "(%s %s%s %s)", a, e->neg ? "NOT " : "", e->ilike ? "ILIKE" : "LIKE", b); return;
    default: snprintf(buf, cap, "%s(%s%s%s)", e->kind == B_CASE ? "CASE" : e->kind == B_COALESCE ? "coalesce" : "f", a,
                      e->nargs > 1 ? ", " : "", b);
    }
}

int exec_explain_chunks(factdb *db, query *q, size_t *total, size_t *skipped, factdb_error *err);

static int do_explain(stmt_ctx *c, sql_stmt *stmt, factdb_result *r)
{
    sql_select *sel = stmt->select;
    plan_ctx pc;
    plan_start(c, &pc);
    plan_node *root;
    int rc = plan_select(&pc, sel, &root);
    if (!rc && (stmt->analyze || root->input)) {
        /* a plan of several operators: one line per operator */
        char *names[] = {"plan"};
        sql_type types[] = {{TY_TEXT, 0, 0}};
        rc = rows_result(r, 1, names, types, c->err);
        if (!rc)
            rc = plan_explain(&pc, root, stmt->analyze, r->er.rs);
        plan_done(&pc);
        return rc ? rc : rows_finish(r, c->err);
    }
    query q;
    if (!rc)
        q = root->q;
    size_t total = 0, skipped = 0;
    if (!rc && q.table)
        rc = exec_explain_chunks(c->s->db, &q, &total, &skipped, c->err);
    char *names[] = {"plan"};
    sql_type types[] = {{TY_TEXT, 0, 0}};
    if (!rc)
        rc = rows_result(r, 1, names, types, c->err);
    char line[2048], e[1024];
    int depth = 0;
    /* input names: scan columns for WHERE and the aggregates' arguments; keys and aggregates after grouping */
    char *scan_names[FACTDB_MAX_COLUMNS + 1] = {0};
    char **agg_names = NULL;
    if (!rc) {
        for (int i = 0; i < q.ncols && i < FACTDB_MAX_COLUMNS; i++)
            scan_names[i] = q.cols[i].name;
        agg_names = sql_arena_alloc(c->a, (size_t)(q.nkeys + q.naggs + 1) * sizeof *agg_names);
        static const char *fns[] = {"count", "count", "sum", "avg", "min", "max", "var_samp", "stddev_samp", "bool_and",
                                    "bool_or"};
        for (int k = 0; agg_names && k < q.nkeys; k++) {
            explain_expr(&q, q.keys[k], e, sizeof e, scan_names, 0);
            agg_names[k] = sql_arena_strndup(c->a, e, strlen(e));
        }
        for (int j = 0; agg_names && j < q.naggs; j++) {
            char arg[400] = "*";
            if (q.aggs[j].arg)
                explain_expr(&q, q.aggs[j].arg, arg, sizeof arg, scan_names, 0);
            char filt[500] = "";
            if (q.aggs[j].filter) {
                char fx[400];
                explain_expr(&q, q.aggs[j].filter, fx, sizeof fx, scan_names, 0);
                snprintf(filt, sizeof filt, " FILTER (WHERE %s)", fx);
            }
            snprintf(e, sizeof e, "%s(%s%s)%s", fns[q.aggs[j].fn], q.aggs[j].distinct ? "DISTINCT " : "", arg, filt);
            agg_names[q.nkeys + j] = sql_arena_strndup(c->a, e, strlen(e));
        }
    }
#define LINE(...)                                                                      \
    do {                                                                               \
        int o_ = snprintf(line, sizeof line, "%*s", depth * 2, "");                    \
        snprintf(line + o_, sizeof line - (size_t)o_, __VA_ARGS__);                    \
        sql_value v_ = text_value(line);                                               \
        if (!rc)                                                                       \
            rc = rowset_add_row(r->er.rs, &v_, c->err);                                \
    } while (0)
    if (!rc) {
        if (q.limit >= 0 || q.offset)
        {
            LINE("Limit %lld offset %lld", (long long)q.limit, (long long)q.offset);
            depth++;
        }
        if (q.nsort)
            {
            LINE("%s (%d keys)", q.limit >= 0 ? "TopN" : "Sort", q.nsort);
            depth++;
        }
        if (q.distinct)
            {
            LINE("Distinct");
            depth++;
        }
        {
            LINE("Project (%d columns)", q.nvisible);
            depth++;
        }
        if (q.having) {
            explain_expr(&q, q.having, e, sizeof e, agg_names, 0);
            {
            LINE("Filter (HAVING) %s", e);
            depth++;
        }
        }
        if (q.agg) {
            char keys[600] = "", aggs[1000] = "";
            size_t o = 0;
            for (int k = 0; k < q.nkeys && o + 80 < sizeof keys; k++)
                o += (size_t)snprintf(keys + o, sizeof keys - o, "%s%s", k ? ", " : "", agg_names ? agg_names[k] : "?");
            o = 0;
            for (int j = 0; j < q.naggs && o + 80 < sizeof aggs; j++)
                o += (size_t)snprintf(aggs + o, sizeof aggs - o, "%s%s", j ? ", " : "",
                                      agg_names ? agg_names[q.nkeys + j] : "?");
            if (q.nkeys)
                LINE("Aggregate by %s: %s (per-thread dense or hash group tables, merged)", keys, aggs);
            else
                LINE("Aggregate: %s", aggs);
            depth++;
        }
        if (q.where) {
            explain_expr(&q, q.where, e, sizeof e, scan_names, 0);
            {
            LINE("Filter %s", e);
            depth++;
        }
        }
        if (q.table) {
            char cols[1024] = "";
            size_t o = 0;
            for (int i = 0; i < q.ncols && o + 70 < sizeof cols; i++)
                o += (size_t)snprintf(cols + o, sizeof cols - o, "%s%s", i ? ", " : "", q.cols[i].name);
            LINE("Scan %s (%s): %zu chunks, %zu skipped by zone maps, %d threads", q.table, cols, total, skipped,
                 c->s->threads);
        } else {
            LINE("Result (one row)");
        }
    }
#undef LINE
    plan_done(&pc);
    return rc ? rc : rows_finish(r, c->err);
}

static int make_defs(stmt_ctx *c, sql_stmt *st, factdb_column_def *defs)
{
    for (int i = 0; i < st->ndefs; i++) {
        sql_coldef *d = &st->defs[i];
        int prec, scale;
        sql_type t = d->type;
        if (t.id == TY_INTERVAL)
            return sql_err(c->err, FACTDB_INVALID_ARGUMENT, d->pos, "columns of type interval are not supported");
        defs[i].name = d->name;
        defs[i].type = (factdb_type)sql_type_to_store(t, &prec, &scale);
        defs[i].precision = prec;
        defs[i].scale = scale;
        defs[i].not_null = d->not_null;
    }
    return 0;
}

static int create_apply(store_txn *t, void *ctx, factdb_error *err)
{
    return store_table_insert(t, ctx, true, err);
}

/* CREATE TABLE; PRIMARY KEY and UNIQUE constraints (column ones first, then the table's, as PostgreSQL
 * names and orders them) go into the table record with the columns. */
static int create_table(stmt_ctx *c, sql_stmt *st, factdb_column_def *defs)
{
    bool any = st->ncons > 0;
    for (int i = 0; i < st->ndefs; i++)
        any |= st->defs[i].primary || st->defs[i].unique;
    if (!any)
        return factdb_create_table(c->s->db, st->table, defs, (size_t)st->ndefs, c->err);
    store_table tab;
    int rc = store_table_build(st->table, defs, (size_t)st->ndefs, &tab, c->err);
    if (rc)
        return rc;
    for (int i = 0; i < st->ndefs && !rc; i++) {
        const sql_coldef *d = &st->defs[i];
        uint16_t col = (uint16_t)i;
        if ((d->primary || d->unique) && (rc = store_table_add_unique(&tab, d->cname, d->primary, &col, 1, c->err)))
            c->err->position = d->cpos;
    }
    for (int k = 0; k < st->ncons && !rc; k++) {
        const sql_constraint *u = &st->cons[k];
        uint16_t cols[STORE_UNIQUE_COLS];
        if (u->ncols > STORE_UNIQUE_COLS) {
            rc = sql_err(c->err, FACTDB_INVALID_ARGUMENT, u->col_pos[STORE_UNIQUE_COLS], "a key may have at most %d "
                         "columns", STORE_UNIQUE_COLS);
            break;
        }
        for (int j = 0; j < u->ncols && !rc; j++) {
            int i = 0;
            while (i < st->ndefs && strcmp(st->defs[i].name, u->cols[j]))
                i++;
            if (i == st->ndefs)
                rc = sql_err(c->err, FACTDB_NO_COLUMN, u->col_pos[j], "column \"%s\" named in key does not exist",
                             u->cols[j]);
            cols[j] = (uint16_t)i;
        }
        if (!rc && (rc = store_table_add_unique(&tab, u->name, u->primary, cols, u->ncols, c->err)))
            c->err->position = u->pos;
    }
    if (!rc)
        rc = store_write(c->s->db, create_apply, &tab, c->err);
    store_table_cleanup(&tab);
    return rc;
}

/* The constraint an ON CONFLICT (cols) names: the one with exactly these columns (in any order). */
static int conflict_target(stmt_ctx *c, sql_stmt *st, const store_table *tab, int *only)
{
    *only = -1;
    if (!st->nconflict_cols) {
        if (st->on_conflict == 2)
            return sql_err(c->err, FACTDB_INVALID_ARGUMENT, st->conflict_pos, "ON CONFLICT DO UPDATE requires "
                           "inference specification or constraint name; name the key's columns: ON CONFLICT (id)");
        return 0;
    }
    uint8_t want[FACTDB_MAX_COLUMNS] = {0};
    int nwant = 0;
    for (int j = 0; j < st->nconflict_cols; j++) {
        int i = 0;
        while (i < tab->ncols && strcmp(tab->cols[i].name, st->conflict_cols[j]))
            i++;
        if (i == tab->ncols)
            return sql_err(c->err, FACTDB_NO_COLUMN, st->conflict_col_pos[j], "column \"%s\" does not exist",
                           st->conflict_cols[j]);
        nwant += !want[i];
        want[i] = 1;
    }
    for (int u = 0; u < tab->nuniq; u++) {
        const store_unique *k = &tab->uniq[u];
        bool same = k->ncols == nwant;
        for (int i = 0; same && i < k->ncols; i++)
            same = want[k->cols[i]];
        if (same) {
            *only = u;
            return 0;
        }
    }
    return sql_err(c->err, FACTDB_INVALID_ARGUMENT, st->conflict_pos, "there is no unique or exclusion constraint "
                   "matching the ON CONFLICT specification; name the columns of a PRIMARY KEY or UNIQUE "
                   "constraint of \"%s\"", st->table);
}

/* What INSERT ... ON CONFLICT leaves out; for DO UPDATE also each proposed row and what it collided with. */
typedef struct conflict_count {
    uint64_t skipped;
    bool upsert;
    uint64_t start_next;        /* chunks at or past it hold rows of this statement */
    rowset props;               /* every proposed row, one column per table column */
    bool props_ready;
    sql_value *full;            /* one row being proposed */
    exec_upsert_row *rows;      /* the collisions: proposal number, then the row they hit */
    unsigned char (*keys)[STORE_UNIQUE_KEY_MAX];
    uint32_t *key_len;
    size_t n, cap;
    ret_rows *ret;              /* RETURNING: the proposals skipped are marked in ret->skip */
} conflict_count;

static int count_conflict(void *ctx, uint64_t row, const store_conflict *cf, factdb_error *err)
{
    conflict_count *cc = ctx;
    cc->skipped++;
    if (cc->ret) {
        if (row >= cc->ret->skip_cap) {
            size_t cap = (size_t)row * 2 + 64;
            unsigned char *k = realloc(cc->ret->skip, cap);
            if (!k)
                return base_err(err, FACTDB_NOMEM, "out of memory");
            memset(k + cc->ret->skip_cap, 0, cap - cc->ret->skip_cap);
            cc->ret->skip = k;
            cc->ret->skip_cap = cap;
        }
        cc->ret->skip[row] = 1;
    }
    if (!cc->upsert)
        return 0;
    if (cf->with_chunk >= cc->start_next)
        return base_err(err, FACTDB_UNIQUE_VIOLATION, "ON CONFLICT DO UPDATE command cannot affect row a second "
                        "time; ensure that no rows proposed for insertion within the same command have duplicate "
                        "constrained values (row %llu repeats the key of an earlier one)", (unsigned long long)row + 1);
    if (cc->n == cc->cap) {
        size_t cap = cc->cap ? cc->cap * 2 : 64;
        exec_upsert_row *r = realloc(cc->rows, cap * sizeof *r);
        if (r)
            cc->rows = r;
        unsigned char (*k)[STORE_UNIQUE_KEY_MAX] = realloc(cc->keys, cap * sizeof *k);
        if (k)
            cc->keys = k;
        uint32_t *kl = realloc(cc->key_len, cap * sizeof *kl);
        if (kl)
            cc->key_len = kl;
        if (!r || !k || !kl)
            return base_err(err, FACTDB_NOMEM, "out of memory");
        cc->cap = cap;
    }
    /* where the row it hit lives is looked up again by key at the end: a merge may move it meanwhile */
    cc->rows[cc->n] = (exec_upsert_row){0, 0, (size_t)row};
    memcpy(cc->keys[cc->n], cf->key, cf->key_len);
    cc->key_len[cc->n++] = cf->key_len;
    return 0;
}

static void conflict_cleanup(conflict_count *cc)
{
    if (cc->props_ready)
        rowset_cleanup(&cc->props);
    free(cc->full);
    free(cc->rows);
    free(cc->keys);
    free(cc->key_len);
}

/* Keeps the proposed row for DO UPDATE's EXCLUDED. */
static int keep_proposal(conflict_count *cc, factdb_error *err)
{
    return cc && cc->upsert ? rowset_add_row(&cc->props, cc->full, err) : 0;
}

static int insert_rows(stmt_ctx *c, sql_stmt *st, factdb_result *r, conflict_count *up);
static int do_upsert(stmt_ctx *c, sql_stmt *st, factdb_result *r);

static bool view_exists(stmt_ctx *c, const char *name) { return store_view_exists(c->s->db, name); }

typedef struct view_put {
    stmt_ctx *c;
    sql_stmt *st;
    const char *const *cols;
    int ncols;
} view_put;

static int view_put_apply(store_txn *t, void *ctx, factdb_error *err)
{
    view_put *vp = ctx;
    sql_stmt *st = vp->st;
    store_table tab;
    int rc = store_table_get(t, st->table, &tab, err);
    if (rc == FACTDB_OK) {
        store_table_cleanup(&tab);
        return sql_err(err, FACTDB_TABLE_EXISTS, st->table_pos, "relation \"%s\" already exists (a table)", st->table);
    }
    if (rc != FACTDB_NO_TABLE)
        return rc;
    base_err_clear(err);
    store_view old;
    rc = store_view_get(t, st->table, &old, err);
    store_view_free(&old);
    if (rc == FACTDB_OK && !st->or_replace)
        return sql_err(err, FACTDB_TABLE_EXISTS, st->table_pos, "relation \"%s\" already exists; use CREATE OR "
                       "REPLACE VIEW to change it", st->table);
    if (rc != FACTDB_OK && rc != FACTDB_NO_TABLE)
        return rc;
    base_err_clear(err);
    if ((rc = store_view_put(t, st->table, vp->cols, vp->ncols, st->view_sql, st->view_len, err)))
        return rc;
    /* with the new definition in place (this transaction), the view must plan: a replaced view that now
     * reaches itself through other views is refused here, not at its next use */
    sql_select probe = {0};
    ast star = {.kind = A_STAR, .pos = st->table_pos, .depth = 1}, *items[] = {&star};
    char *aliases[] = {NULL};
    probe.items = items;
    probe.aliases = aliases;
    probe.nitems = 1;
    probe.table = st->table;
    probe.table_pos = st->table_pos;
    probe.pos = st->pos;
    plan_ctx pc;
    plan_start(vp->c, &pc);
    pc.err = err;
    plan_node *root;
    rc = plan_select(&pc, &probe, &root);
    plan_done(&pc);
    return rc;
}

/* CREATE [OR REPLACE] VIEW v [(cols)] AS query: the query is planned once now, so that a view that cannot
 * run is refused when it is created (its columns are checked against the names given), then its text is
 * stored; every query that names the view plans the text again (src/plan). */
static int do_create_view(stmt_ctx *c, sql_stmt *st, factdb_result *r)
{
    if (c->nparams)
        return sql_err(c->err, FACTDB_INVALID_ARGUMENT, st->pos, "a view's query cannot have parameters ($n)");
    plan_ctx pc;
    plan_start(c, &pc);
    plan_node *root;
    int rc = plan_select(&pc, st->select, &root);
    int ncols = rc ? 0 : root->q.nvisible;
    if (!rc && st->ncols > ncols)
        rc = sql_err(c->err, FACTDB_INVALID_ARGUMENT, st->col_pos[ncols], "CREATE VIEW specifies more column names "
                     "than the query has columns (%d)", ncols);
    for (int i = 0; !rc && i < ncols; i++)
        for (int k = 0; k < i; k++) {
            const char *a = i < st->ncols ? st->cols[i] : root->q.names[i];
            const char *b = k < st->ncols ? st->cols[k] : root->q.names[k];
            if (!strcmp(a, b)) {
                rc = sql_err(c->err, FACTDB_INVALID_ARGUMENT, i < st->ncols ? st->col_pos[i] : st->table_pos,
                             "column \"%s\" specified more than once; name the view's columns apart", a);
                break;
            }
        }
    plan_done(&pc);
    if (rc)
        return rc;
    view_put vp = {c, st, (const char *const *)st->cols, st->ncols};
    if ((rc = store_write(c->s->db, view_put_apply, &vp, c->err)))
        return rc;
    snprintf(r->tag, sizeof r->tag, "CREATE VIEW");
    return 0;
}

static int view_drop_apply(store_txn *t, void *ctx, factdb_error *err)
{
    sql_stmt *st = ctx;
    int rc = store_view_drop(t, st->table, err);
    if (rc == FACTDB_NO_TABLE && st->if_exists)
        return 0;
    if (rc == FACTDB_NO_TABLE) {
        store_table tab;
        if (store_table_get(t, st->table, &tab, err) == FACTDB_OK) {
            store_table_cleanup(&tab);
            return sql_err(err, FACTDB_INVALID_ARGUMENT, st->table_pos, "\"%s\" is not a view; use DROP TABLE",
                           st->table);
        }
        return sql_err(err, FACTDB_NO_TABLE, st->table_pos, "view \"%s\" does not exist", st->table);
    }
    return rc;
}

static int do_drop_view(stmt_ctx *c, sql_stmt *st, factdb_result *r)
{
    int rc = store_write(c->s->db, view_drop_apply, st, c->err);
    if (!rc)
        snprintf(r->tag, sizeof r->tag, "DROP VIEW");
    return rc;
}

/* CREATE TABLE t [(names)] AS query [WITH [NO] DATA]: the query runs first, its result's types make the
 * columns (PostgreSQL's rules: names from the query or the list, NOT NULL nowhere), then the table is created
 * and filled in one transaction, so no other process ever sees it empty or half filled. */
static int do_create_as(stmt_ctx *c, sql_stmt *st, factdb_result *r)
{
    query q;
    exec_result er;
    exec_stats es;
    memset(&er, 0, sizeof er);
    int rc = run_select(c, st->select, &q, &er, &es);
    if (rc)
        return rc;
    store_txn *own = NULL;
    bool handed = false;
    if (st->ncols > q.nvisible) {
        rc = sql_err(c->err, FACTDB_INVALID_ARGUMENT, st->col_pos[q.nvisible], "CREATE TABLE AS specifies too many "
                     "column names (the query has %d columns)", q.nvisible);
        goto out;
    }
    st->ndefs = q.nvisible;
    if (!(st->defs = sql_arena_alloc(c->a, (size_t)(q.nvisible + 1) * sizeof *st->defs))) {
        rc = base_err(c->err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < q.nvisible; i++) {
        sql_coldef *d = &st->defs[i];
        d->name = i < st->ncols ? st->cols[i] : q.names[i];
        d->pos = i < st->ncols ? st->col_pos[i] : st->table_pos;
        d->type = q.outs[i]->type;
        int prec, scale;
        if (d->type.id == TY_UNKNOWN)
            d->type = (sql_type){TY_TEXT, 0, 0};
        if (d->type.id == TY_NUMERIC && d->type.scale >= 0 && !d->type.prec)
            d->type.prec = 18;  /* PostgreSQL's unconstrained numeric; factdb's columns hold up to 18 digits */
        if (d->type.id == TY_NUMERIC && d->type.scale < 0) {
            /* a 128-bit result (a sum, a product): the column takes the largest scale its values have, if a
             * numeric(18, s) holds it */
            /* a 128-bit result (a sum, a product): when its values share one scale of at most 12 (a sum of
             * money keeps 2), the column is numeric(18, that scale); a division's result (scales that
             * vary, or long fractions) must be cast to the type wanted */
            const rs_col *col = &er.rs->cols[i];
            int sc = -1;
            bool uniform = true;
            for (size_t k = 0; k < er.n; k++)
                if (col->valid[er.idx[k]] && col->scales) {
                    int v = col->scales[er.idx[k]];
                    uniform &= sc < 0 || v == sc;
                    sc = MAX(sc, v);
                }
            if (!uniform || sc > 12) {
                rc = sql_err(c->err, FACTDB_INVALID_ARGUMENT, d->pos, "column \"%s\" would be a numeric whose scale "
                             "is %s (a division's result); cast it in the query to the type the table should have, "
                             "e.g. ::numeric(18,4)", d->name, uniform ? "longer than a table column's usual 12" :
                             "not the same in every row");
                goto out;
            }
            d->type = (sql_type){TY_NUMERIC, (int8_t)MAX(sc, 0), 18};
        }
        for (int k = 0; k < i; k++)
            if (!strcmp(st->defs[k].name, d->name)) {
                rc = sql_err(c->err, FACTDB_INVALID_ARGUMENT, d->pos, "column \"%s\" specified more than once; name "
                             "the query's columns apart (AS) or list the table's column names", d->name);
                goto out;
            }
        if (d->type.id != TY_INTERVAL && !sql_type_to_store(d->type, &prec, &scale)) {
            char tn[40];
            rc = sql_err(c->err, FACTDB_INVALID_ARGUMENT, d->pos, "column \"%s\" would have type %s, which a table "
                         "cannot hold; cast it in the query (for a numeric of varying scale, ::numeric(18,4))", d->name,
                         sql_type_name(d->type, tn, sizeof tn));
            goto out;
        }
    }
    factdb_column_def defs[FACTDB_MAX_COLUMNS];
    if ((rc = make_defs(c, st, defs)))
        goto out;
    /* one transaction for the table and its rows (inside BEGIN ... COMMIT, the block's) */
    if (!store_xact_current(c->s->db)) {
        if ((rc = store_xact_begin(c->s->db, &own, c->err)))
            goto out;
        store_xact_bind(c->s->db, own);
    }
    rc = create_table(c, st, defs);
    if (rc == FACTDB_TABLE_EXISTS && st->if_not_exists) {
        rc = 0;
        snprintf(r->tag, sizeof r->tag, "CREATE TABLE AS");  /* PostgreSQL's notice: nothing created, nothing inserted */
        goto out;
    }
    if (rc == FACTDB_TABLE_EXISTS)
        rc = sql_err(c->err, rc, st->table_pos, "relation \"%s\" already exists", st->table);
    if (rc)
        goto out;
    if (st->no_data) {
        snprintf(r->tag, sizeof r->tag, "CREATE TABLE AS");
        goto out;
    }
    int ncols = st->ncols;
    st->ncols = 0;  /* the INSERT fills every column */
    c->pre = &er;
    c->pre_q = &q;
    handed = true;
    rc = insert_rows(c, st, r, NULL);
    st->ncols = ncols;
    if (!rc)
        snprintf(r->tag, sizeof r->tag, "SELECT %zu", er.n);
out:
    if (!handed || c->pre)  /* else insert_rows took the result and freed it */
        exec_result_free(&er);
    c->pre = NULL;
    c->pre_q = NULL;
    if (own) {
        store_xact_bind(c->s->db, NULL);
        if (rc)
            store_xact_rollback(c->s->db, own);
        else
            rc = store_xact_commit(c->s->db, own, c->err);
    }
    return rc;
}

static int do_insert(stmt_ctx *c, sql_stmt *st, factdb_result *r)
{
    return st->on_conflict == 2 ? do_upsert(c, st, r) : insert_rows(c, st, r, NULL);
}

static int insert_rows(stmt_ctx *c, sql_stmt *st, factdb_result *r, conflict_count *up)
{
    factdb_appender *app;
    int rc = factdb_appender_new(c->s->db, st->table, &app, c->err);
    if (rc == FACTDB_NO_TABLE && view_exists(c, st->table))
        return sql_err(c->err, FACTDB_INVALID_ARGUMENT, st->table_pos, "cannot insert into view \"%s\"; insert into "
                       "the tables it reads", st->table);
    if (rc == FACTDB_NO_TABLE)
        return sql_err(c->err, rc, st->table_pos, "relation \"%s\" does not exist", st->table);
    if (rc)
        return rc;
    size_t ncols = factdb_appender_ncols(app);
    conflict_count own = {0}, *cc = up ? up : &own;
    cc->ret = c->ret;
    if (st->on_conflict) {
        int only;
        if ((rc = conflict_target(c, st, store_appender_table(app), &only)))
            goto out;
        store_appender_on_conflict(app, STORE_CONFLICT_SKIP, only, count_conflict, cc);
    }
    int target[FACTDB_MAX_COLUMNS];
    int ntarget = st->ncols ? st->ncols : (int)ncols;
    for (int i = 0; i < ntarget; i++) {
        if (!st->ncols) {
            target[i] = i;
            continue;
        }
        target[i] = -1;
        for (size_t k = 0; k < ncols; k++)
            if (!strcmp(factdb_appender_column(app, k)->name, st->cols[i]))
                target[i] = (int)k;
        if (target[i] < 0) {
            rc = sql_err(c->err, FACTDB_NO_COLUMN, st->col_pos[i], "column \"%s\" of relation \"%s\" does not exist",
                         st->cols[i], st->table);
            goto out;
        }
        for (int j = 0; j < i; j++)
            if (target[j] == target[i]) {
                rc = sql_err(c->err, FACTDB_INVALID_ARGUMENT, st->col_pos[i], "column \"%s\" specified more than once",
                             st->cols[i]);
                goto out;
            }
    }
    sql_type ctype[FACTDB_MAX_COLUMNS];
    for (size_t k = 0; k < ncols; k++) {
        const factdb_column_info *ci = factdb_appender_column(app, k);
        ctype[k] = sql_type_from_store(ci->type, ci->precision, ci->scale);
    }
    if (up) {
        if ((rc = rowset_init(&up->props, (int)ncols, ctype, NULL, 0, c->err)))
            goto out;
        up->props_ready = true;
        if (!(up->full = calloc(ncols, sizeof *up->full))) {
            rc = base_err(c->err, FACTDB_NOMEM, "out of memory");
            goto out;
        }
        for (size_t k = 0; k < ncols; k++)
            up->full[k] = (sql_value){.type = ctype[k], .null = true};
    }
    /* RETURNING: each proposed row as stored (columns not named are NULL) */
    rowset *ret = ret_rowset(c, (int)ncols, ctype, &rc);
    sql_value rfull[FACTDB_MAX_COLUMNS];
    for (size_t k = 0; k < ncols; k++)
        rfull[k] = (sql_value){.type = ctype[k], .null = true};
    if (rc)
        goto out;
    uint64_t rows = 0;
    if (st->select) {
        query q;
        exec_result er;
        exec_stats es;
        if ((rc = run_select(c, st->select, &q, &er, &es)))
            goto out;
        if (q.nvisible != ntarget) {
            rc = sql_err(c->err, FACTDB_INVALID_ARGUMENT, st->pos, "INSERT has %s expressions than target columns",
                         q.nvisible > ntarget ? "more" : "fewer");
            exec_result_free(&er);
            goto out;
        }
        sql_arena scratch;
        sql_arena_init(&scratch, 0);
        for (size_t i = 0; i < er.n && !rc; i++) {
            for (int k = 0; k < ntarget && !rc; k++) {
                sql_value v, cv;
                rowset_get(er.rs, k, er.idx[i], &v);
                if (!(rc = exec_cast_value(&v, ctype[target[k]], st->pos, &scratch, &cv, c->err)))
                    rc = exec_append_value(app, (size_t)target[k], &cv, c->err);
                if (up)
                    up->full[target[k]] = cv;
                rfull[target[k]] = cv;
            }
            if (!rc && !(rc = factdb_append_row_end(app, c->err)))
                rc = keep_proposal(up, c->err);
            if (!rc && ret)
                rc = rowset_add_row(ret, rfull, c->err);
            if (rc && !c->err->line)
                c->err->line = (int64_t)i + 1;
            rows++;
            if ((i & 1023) == 1023) {
                sql_arena_cleanup(&scratch);
                sql_arena_init(&scratch, 0);
            }
        }
        sql_arena_cleanup(&scratch);
        exec_result_free(&er);
    } else {
        if (st->row_width != ntarget) {
            rc = sql_err(c->err, FACTDB_INVALID_ARGUMENT, st->rows[0][0]->pos, "INSERT has %s expressions than target columns",
                         st->row_width > ntarget ? "more" : "fewer");
            goto out;
        }
        for (int i = 0; i < st->nrows && !rc; i++) {
            for (int k = 0; k < ntarget && !rc; k++) {
                sql_value v;
                int ns;
                if (!(rc = bind_value(c->a, st->rows[i][k], c->params, c->nparams, c->now_us, ctype[target[k]], &ns, &v,
                                      c->err)))
                    rc = exec_append_value(app, (size_t)target[k], &v, c->err);
                if (up)
                    up->full[target[k]] = v;
                rfull[target[k]] = v;
                if (rc && !c->err->position)
                    c->err->position = st->rows[i][k]->pos;
            }
            if (!rc && (rc = factdb_append_row_end(app, c->err)))
                c->err->position = st->rows[i][0]->pos;
            if (!rc)
                rc = keep_proposal(up, c->err);
            if (!rc && ret)
                rc = rowset_add_row(ret, rfull, c->err);
            rows++;
        }
    }
    if (!rc)
        rc = factdb_appender_commit(app, c->err);
    if (rc == FACTDB_UNIQUE_VIOLATION && !st->on_conflict) {
        size_t l = strlen(c->err->message);
        snprintf(c->err->message + l, sizeof c->err->message - l, " of the INSERT, or add ON CONFLICT DO NOTHING "
                 "to skip such rows");
    }
    if (rc == FACTDB_UNIQUE_VIOLATION)
        c->err->position = !st->select && c->err->line > 0 && c->err->line <= st->nrows
                               ? st->rows[c->err->line - 1][0]->pos : st->pos;
    if (!rc) {
        snprintf(r->tag, sizeof r->tag, "INSERT 0 %llu", (unsigned long long)(rows - cc->skipped));
        if (c->ret)
            c->ret->nprops = (size_t)rows;
    }
out:
    factdb_appender_free(app);
    return rc;
}

static int do_copy_to(stmt_ctx *c, sql_stmt *st, factdb_result *r)
{
    sql_select *sel = st->select;
    if (!sel) {
        sel = sql_arena_alloc(c->a, sizeof *sel);
        ast *star = sql_arena_alloc(c->a, sizeof *star);
        ast **items = sql_arena_alloc(c->a, sizeof *items);
        char **aliases = sql_arena_alloc(c->a, sizeof *aliases);
        if (!sel || !star || !items || !aliases)
            return base_err(c->err, FACTDB_NOMEM, "out of memory");
        star->kind = A_STAR;
        star->pos = st->table_pos;
        items[0] = star;
        sel->items = items;
        sel->aliases = aliases;
        sel->nitems = 1;
        sel->table = st->table;
        sel->table_pos = st->table_pos;
    }
    query q;
    exec_result er;
    exec_stats es;
    int rc = run_select(c, sel, &q, &er, &es);
    if (rc)
        return rc;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", st->file, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        exec_result_free(&er);
        return base_err(c->err, FACTDB_IO, "cannot write \"%s\": %s", st->file, base_errno_text(errno));
    }
    char d = st->copy.delimiter ? st->copy.delimiter : ',';
    if (st->copy.header)
        for (int i = 0; i < q.nvisible; i++)
            fprintf(f, "%s%s", i ? (char[]){d, 0} : "", q.names[i]);
    if (st->copy.header)
        fputc('\n', f);
    char buf[128];
    for (size_t i = 0; i < er.n; i++) {
        for (int k = 0; k < q.nvisible; k++) {
            if (k)
                fputc(d, f);
            sql_value v;
            rowset_get(er.rs, k, er.idx[i], &v);
            if (v.null)
                continue;
            const char *s = v.s.p;
            size_t len = v.s.len;
            if (v.type.id != TY_TEXT) {
                len = exec_format_value(&v, buf, sizeof buf);
                s = buf;
            }
            bool quote = len == 0 && v.type.id == TY_TEXT;
            for (size_t j = 0; j < len && !quote; j++)
                quote = s[j] == d || s[j] == '"' || s[j] == '\n' || s[j] == '\r';
            if (!quote) {
                fwrite(s, 1, len, f);
                continue;
            }
            fputc('"', f);
            for (size_t j = 0; j < len; j++) {
                if (s[j] == '"')
                    fputc('"', f);
                fputc(s[j], f);
            }
            fputc('"', f);
        }
        fputc('\n', f);
    }
    int bad = ferror(f);
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, st->file)) {
        unlink(tmp);
        exec_result_free(&er);
        return base_err(c->err, FACTDB_IO, "cannot write \"%s\": %s", st->file, base_errno_text(errno));
    }
    snprintf(r->tag, sizeof r->tag, "COPY %zu", er.n);
    exec_result_free(&er);
    return 0;
}

static int do_delete(stmt_ctx *c, sql_stmt *st, factdb_result *r)
{
    factdb_table_info ti;
    int rc = table_info(c, st->table, st->table_pos, &ti);
    if (rc)
        return rc;
    /* bind the condition as SELECT 1 FROM t WHERE cond */
    sql_select sel;
    memset(&sel, 0, sizeof sel);
    ast one = {.kind = A_CONST, .lit = L_TRUE, .pos = st->pos};
    ast *items[FACTDB_MAX_COLUMNS] = {&one};
    char *aliases[FACTDB_MAX_COLUMNS] = {NULL};
    ast cols[FACTDB_MAX_COLUMNS];
    sel.items = items;
    sel.aliases = aliases;
    sel.nitems = 1;
    if (c->ret) {  /* RETURNING: the rows deleted, every column */
        for (size_t k = 0; k < ti.ncols && k < FACTDB_MAX_COLUMNS; k++) {
            cols[k] = (ast){.kind = A_COLUMN, .pos = st->pos, .name = ti.cols[k].name, .depth = 1};
            items[k] = &cols[k];
            aliases[k] = NULL;
        }
        sel.nitems = (int)ti.ncols;
    }
    sel.table = st->table;
    sel.table_pos = st->table_pos;
    sel.where = st->where;
    sel.alias = st->alias;  /* DELETE FROM t AS a WHERE a.x ...: qualifiers are checked by the binder */
    query q;
    rc = bind_select(c->a, &sel, &ti, c->params, c->nparams, c->now_us, &c->s->cancel, &q, c->err);
    if (!rc) {
        q.table = sql_arena_strndup(c->a, q.table, strlen(q.table));
        for (int i = 0; i < q.ncols; i++)
            q.cols[i].name = sql_arena_strndup(c->a, q.cols[i].name, strlen(q.cols[i].name));
    }
    factdb_table_info_free(&ti);
    uint64_t n = 0;
    sql_type types[FACTDB_MAX_COLUMNS];
    for (int i = 0; !rc && c->ret && i < q.nouts; i++)
        types[i] = q.outs[i]->type;
    rowset *ret = rc ? NULL : ret_rowset(c, q.nouts, types, &rc);
    if (!rc)
        rc = exec_delete(c->s->db, &q, ret, &n, c->err);
    if (!rc)
        snprintf(r->tag, sizeof r->tag, "DELETE %llu", (unsigned long long)n);
    return rc;
}

/* UPDATE t SET ... WHERE cond is bound as SELECT <every column's new value> FROM t WHERE cond: the
 * executor computes the new rows from the old ones, deletes the old and appends the new. */
/* The select list of an UPDATE (or ON CONFLICT DO UPDATE): per column of ti, its SET expression, or the
 * column itself (cols[k]) when not assigned. ctype: the columns' types. */
static int set_items(stmt_ctx *c, sql_stmt *st, const factdb_table_info *ti, ast **items, ast *cols, sql_type *ctype,
                     const char *what)
{
    int ncols = (int)ti->ncols;
    for (int k = 0; k < ncols; k++) {
        const factdb_column_info *ci = &ti->cols[k];
        ctype[k] = sql_type_from_store(ci->type, ci->precision, ci->scale);
        cols[k] = (ast){.kind = A_COLUMN, .pos = st->pos, .name = (char *)ci->name, .depth = 1};
        items[k] = &cols[k];
    }
    for (int i = 0; i < st->nset; i++) {
        int k = 0;
        while (k < ncols && strcmp(ti->cols[k].name, st->set_cols[i]))
            k++;
        if (k == ncols) {
            char hint[256];
            int h = bind_column_hint(ti, st->set_cols[i], hint, sizeof hint);
            return sql_err(c->err, FACTDB_NO_COLUMN, st->set_pos[i], "column \"%s\" of relation \"%s\" does not "
                           "exist%s%s", st->set_cols[i], st->table, h ? "; did you mean " : "", h ? hint : "");
        }
        if (items[k] != &cols[k])
            return sql_err(c->err, FACTDB_INVALID_ARGUMENT, st->set_pos[i], "multiple assignments to same column "
                           "\"%s\"", st->set_cols[i]);
        if (bind_has_agg(st->set_vals[i]))
            return sql_err(c->err, FACTDB_INVALID_ARGUMENT, st->set_vals[i]->pos,
                           "aggregate functions are not allowed in %s", what);
        items[k] = st->set_vals[i];
    }
    return 0;
}

/* After binding: every assigned value must be assignable to its column. */
static int check_assignments(stmt_ctx *c, const factdb_table_info *ti, ast **items, const ast *cols,
                             const query *q, const sql_type *ctype)
{
    for (size_t k = 0; k < ti->ncols; k++) {
        char b1[32], b2[32];
        if (items[k] != &cols[k] && !bind_assignable(items[k], q->outs[k]->type, ctype[k]))
            return sql_err(c->err, FACTDB_INVALID_VALUE, items[k]->pos,
                           "column \"%s\" is of type %s but expression is of type %s; add a cast", ti->cols[k].name,
                           sql_type_name(ctype[k], b1, sizeof b1), sql_type_name(q->outs[k]->type, b2, sizeof b2));
    }
    return 0;
}

static bool has_window_call(const ast *x)
{
    if (!x)
        return false;
    if (x->kind == A_FUNC && x->over)
        return true;
    for (int i = 0; i < x->nargs; i++)
        if (has_window_call(x->args[i]))
            return true;
    return has_window_call(x->filter);
}

/* UPDATE t [AS a] SET ... FROM items WHERE cond, in one write transaction: t's live rows are read with their
 * places (exec_target_read) and named in FROM like a WITH query, under t's name or alias; the planner runs
 * SELECT place, <every column's new value> FROM <those rows> AS a CROSS JOIN items WHERE cond; and the rows
 * it names are replaced (exec_update_places: a row that joins several FROM rows is updated once). */
typedef struct update_from {
    stmt_ctx *c;
    sql_stmt *st;
    factdb_result *r;
} update_from;

/* Whether x reads only columns qualified by q (no subquery, aggregate or window call): a condition on the
 * target alone, which can filter the target's rows as they are read. */
static bool target_only(const ast *x, const char *q)
{
    if (!x || x->kind == A_SUBQUERY || x->kind == A_STAR || (x->kind == A_FUNC && x->over) || x->agg_order_pos)
        return x == NULL;
    if (x->kind == A_COLUMN)
        return x->qual && !x->schema && !strcmp(x->qual, q);
    if (x->kind == A_FUNC && bind_has_agg(x))
        return false;
    for (int i = 0; i < x->nargs; i++)
        if (!target_only(x->args[i], q))
            return false;
    return target_only(x->filter, q);
}

/* The conjuncts of where that read only the target (qualified by q), as one condition; NULL for none. The
 * trees are shared with where (the binder only reads them). */
static ast *target_filter(sql_arena *a, ast *where, const char *q)
{
    if (!where)
        return NULL;
    bool chain = where->kind == A_BIN && !strcmp(where->op, "and") && !where->ops;
    if (!chain)
        return target_only(where, q) ? where : NULL;
    ast **keep = sql_arena_alloc(a, (size_t)where->nargs * sizeof *keep);
    int n = 0, depth = 0;
    for (int i = 0; keep && i < where->nargs; i++)
        if (target_only(where->args[i], q)) {
            keep[n++] = where->args[i];
            depth = MAX(depth, where->args[i]->depth);
        }
    if (n < 2)
        return n ? keep[0] : NULL;
    ast *x = sql_arena_alloc(a, sizeof *x);
    if (!x)
        return NULL;
    *x = (ast){.kind = A_BIN, .op = "and", .pos = where->pos, .args = keep, .nargs = n, .depth = depth + 1};
    return x;
}

#define UPDATE_TARGET "\x1fupdate target"
#define UPDATE_PLACE "\x1fplace"

static int update_from_apply(store_txn *t, void *ctx, factdb_error *err)
{
    (void)t;
    update_from *u = ctx;
    stmt_ctx *c = u->c;
    sql_stmt *st = u->st;
    factdb_table_info ti;
    int rc = table_info(c, st->table, st->table_pos, &ti);
    if (rc)
        return rc;
    int ncols = (int)ti.ncols;
    char *qual = st->alias ? st->alias : st->table;
    ast **items = sql_arena_alloc(c->a, (size_t)(ncols + 1) * sizeof *items);
    ast **titems = sql_arena_alloc(c->a, (size_t)ncols * sizeof *titems);
    char **aliases = sql_arena_alloc(c->a, (size_t)(ncols + 1) * sizeof *aliases);
    char **names = sql_arena_alloc(c->a, (size_t)(ncols + 1) * sizeof *names);
    ast *cols = sql_arena_alloc(c->a, (size_t)ncols * sizeof *cols);
    ast *tcols = sql_arena_alloc(c->a, (size_t)ncols * sizeof *tcols);
    sql_from *left = sql_arena_alloc(c->a, sizeof *left), *right = st->select->from, *join;
    ast place = {.kind = A_COLUMN, .pos = st->pos, .name = UPDATE_PLACE, .qual = qual, .depth = 1};
    sql_type ctype[FACTDB_MAX_COLUMNS];
    int pos[FACTDB_MAX_COLUMNS];
    exec_target tg = {0};
    exec_result er = {0};
    plan_ctx pc;
    bool planning = false;
    if (!items || !titems || !aliases || !names || !cols || !tcols || !left ||
        !(join = sql_arena_alloc(c->a, sizeof *join))) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = set_items(c, st, &ti, items + 1, cols, ctype, "UPDATE")))
        goto out;
    for (int i = 0; i < st->nset; i++)
        if (has_window_call(st->set_vals[i])) {
            rc = sql_err(err, FACTDB_INVALID_ARGUMENT, st->set_vals[i]->pos, "window functions are not allowed in "
                         "UPDATE");
            goto out;
        }
    /* the target's rows: SELECT every column FROM t, with each row's place */
    for (int k = 0; k < ncols; k++) {
        tcols[k] = cols[k];
        titems[k] = &tcols[k];
        cols[k].qual = qual;  /* an unassigned column keeps its value even when FROM has a column of its name */
        names[k] = sql_arena_strndup(c->a, ti.cols[k].name, strlen(ti.cols[k].name));
        pos[k] = items[k + 1] == &cols[k] ? st->pos : items[k + 1]->pos;
        aliases[k] = NULL;
    }
    names[ncols] = UPDATE_PLACE;
    aliases[ncols] = NULL;
    items[0] = &place;
    sql_select ts;
    memset(&ts, 0, sizeof ts);
    ts.items = titems;
    ts.aliases = aliases;
    ts.nitems = ncols;
    ts.table = st->table;
    ts.table_pos = st->table_pos;
    ts.alias = st->alias;
    /* conditions on the target alone filter its rows as they are read (they are checked again after the join) */
    ts.where = target_filter(c->a, st->where, qual);
    query q;
    if ((rc = bind_select(c->a, &ts, &ti, c->params, c->nparams, c->now_us, &c->s->cancel, &q, err)))
        goto out;
    q.table = sql_arena_strndup(c->a, q.table, strlen(q.table));
    for (int i = 0; i < q.ncols; i++)
        q.cols[i].name = sql_arena_strndup(c->a, q.cols[i].name, strlen(q.cols[i].name));
    if ((rc = exec_target_read(c->s->db, &q, &tg, err)))
        goto out;
    plan_start(c, &pc);
    pc.err = err;
    planning = true;
    rowset *rows = tg.rows;
    tg.rows = NULL;  /* the plan owns them now */
    if ((rc = plan_relation(&pc, UPDATE_TARGET, rows, names, 1, err)))
        goto out;
    /* SELECT place, new values FROM <target> AS qual CROSS JOIN items WHERE cond */
    *left = (sql_from){.kind = F_TABLE, .pos = st->table_pos, .table = UPDATE_TARGET, .alias = qual};
    if (!right) {
        if (!(right = sql_arena_alloc(c->a, sizeof *right))) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory");
            goto out;
        }
        *right = (sql_from){.kind = F_TABLE, .pos = st->select->table_pos, .table = st->select->table,
                            .alias = st->select->alias};
    }
    *join = (sql_from){.kind = F_JOIN, .pos = st->select->table_pos, .join = J_CROSS, .left = left, .right = right};
    sql_select sel;
    memset(&sel, 0, sizeof sel);
    sel.items = items;
    sel.aliases = aliases;
    sel.nitems = ncols + 1;
    sel.from = join;
    sel.table_pos = st->table_pos;
    sel.where = st->where;
    sel.pos = st->pos;
    plan_node *root;
    if ((rc = plan_select(&pc, &sel, &root))) {
        /* the target is read under its alias: its own name is PostgreSQL's "invalid reference" */
        char missing[sizeof err->message];
        snprintf(missing, sizeof missing, "missing FROM-clause entry for table \"%s\"", st->table);
        if (st->alias && !strcmp(err->message, missing))
            snprintf(err->message, sizeof err->message, "invalid reference to FROM-clause entry for table \"%s\"; "
                     "perhaps you meant to reference the table alias \"%s\"", st->table, st->alias);
        goto out;
    }
    for (int k = 0; k < ncols; k++) {
        char b1[32], b2[32];
        if (items[k + 1] != &cols[k] && !bind_assignable(items[k + 1], root->q.outs[k + 1]->type, ctype[k])) {
            rc = sql_err(err, FACTDB_INVALID_VALUE, items[k + 1]->pos, "column \"%s\" is of type %s but expression is "
                         "of type %s; add a cast", ti.cols[k].name, sql_type_name(ctype[k], b1, sizeof b1),
                         sql_type_name(root->q.outs[k + 1]->type, b2, sizeof b2));
            goto out;
        }
    }
    uint64_t n = 0;
    rowset *ret = ret_rowset(c, ncols, ctype, &rc);
    if (rc || (rc = plan_execute(&pc, root, &er)) ||
        (rc = exec_update_places(c->s->db, st->table, ctype, pos, &tg, &er, ret, &n, err)))
        goto out;
    snprintf(u->r->tag, sizeof u->r->tag, "UPDATE %llu", (unsigned long long)n);
out:
    if (er.rs)
        exec_result_free(&er);
    if (planning)
        plan_done(&pc);
    exec_target_cleanup(&tg);
    factdb_table_info_free(&ti);
    if (rc == FACTDB_UNIQUE_VIOLATION && !err->position)
        err->position = st->pos;
    return rc;
}

static int do_update(stmt_ctx *c, sql_stmt *st, factdb_result *r)
{
    if (st->select) {
        update_from u = {c, st, r};
        return store_write(c->s->db, update_from_apply, &u, c->err);
    }

    factdb_table_info ti;
    int rc = table_info(c, st->table, st->table_pos, &ti);
    if (rc)
        return rc;
    int ncols = (int)ti.ncols;
    ast **items = sql_arena_alloc(c->a, (size_t)ncols * sizeof *items);
    char **aliases = sql_arena_alloc(c->a, (size_t)ncols * sizeof *aliases);
    ast *cols = sql_arena_alloc(c->a, (size_t)ncols * sizeof *cols);
    sql_type ctype[FACTDB_MAX_COLUMNS];
    if (!items || !aliases || !cols) {
        rc = base_err(c->err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = set_items(c, st, &ti, items, cols, ctype, "UPDATE")))
        goto out;
    sql_select sel;
    memset(&sel, 0, sizeof sel);
    sel.items = items;
    sel.aliases = aliases;
    sel.nitems = ncols;
    sel.table = st->table;
    sel.table_pos = st->table_pos;
    sel.where = st->where;
    sel.alias = st->alias;
    query q;
    if ((rc = bind_select(c->a, &sel, &ti, c->params, c->nparams, c->now_us, &c->s->cancel, &q, c->err)) ||
        (rc = check_assignments(c, &ti, items, cols, &q, ctype)))
        goto out;
    q.table = sql_arena_strndup(c->a, q.table, strlen(q.table));
    for (int i = 0; i < q.ncols; i++)
        q.cols[i].name = sql_arena_strndup(c->a, q.cols[i].name, strlen(q.cols[i].name));
    uint64_t n = 0;
    rowset *ret = ret_rowset(c, ncols, ctype, &rc);
    if (!rc && !(rc = exec_update(c->s->db, &q, ctype, ret, &n, c->err)))
        snprintf(r->tag, sizeof r->tag, "UPDATE %llu", (unsigned long long)n);
    else if (rc == FACTDB_UNIQUE_VIOLATION && !c->err->position)
        c->err->position = st->pos;
out:
    factdb_table_info_free(&ti);
    return rc;
}

/* EXCLUDED.col in ON CONFLICT DO UPDATE becomes input column ncols + k of the binding (named "\x1f<k>", which
 * no column can be). */
static int rename_excluded(stmt_ctx *c, const factdb_table_info *ti, ast *x)
{
    if (!x)
        return 0;
    if ((x->kind == A_COLUMN || x->kind == A_STAR) && x->qual && !strcmp(x->qual, "excluded") && !x->schema) {
        if (x->kind == A_STAR)
            return sql_err(c->err, FACTDB_INVALID_ARGUMENT, x->pos, "excluded.* is not supported here; name the "
                           "columns");
        size_t k = 0;
        while (k < ti->ncols && strcmp(ti->cols[k].name, x->name))
            k++;
        if (k == ti->ncols)
            return sql_err(c->err, FACTDB_NO_COLUMN, x->pos, "column excluded.%s does not exist", x->name);
        char buf[32];
        snprintf(buf, sizeof buf, "\x1f%zu", k);
        if (!(x->name = sql_arena_strndup(c->a, buf, strlen(buf))))
            return base_err(c->err, FACTDB_NOMEM, "out of memory");
        x->qual = NULL;
        return 0;
    }
    for (int i = 0; i < x->nargs; i++)
        if (rename_excluded(c, ti, x->args[i]))
            return c->err->code;
    return rename_excluded(c, ti, x->filter);
}

typedef struct upsert_ctx {
    stmt_ctx *c;
    sql_stmt *st;
    factdb_result *r;
} upsert_ctx;

static int upsert_apply(store_txn *t, void *ctx, factdb_error *err)
{
    upsert_ctx *u = ctx;
    stmt_ctx *c = u->c;
    sql_stmt *st = u->st;
    conflict_count cc = {.upsert = true};
    factdb_table_info ti = {0}, both = {0};
    store_table tab;
    int rc = store_table_get(t, st->table, &tab, err);
    if (rc == FACTDB_NO_TABLE)
        return sql_err(err, rc, st->table_pos, "relation \"%s\" does not exist", st->table);
    if (rc)
        return rc;
    cc.start_next = tab.next_chunk;
    store_table_cleanup(&tab);
    if ((rc = insert_rows(c, st, u->r, &cc)) || !cc.n)
        goto out;
    /* the rows the proposals collided with, where they are now */
    for (size_t i = 0; i < cc.n && !rc; i++) {
        bool found;
        rc = store_unique_lookup(t, cc.keys[i], cc.key_len[i], &found, &cc.rows[i].chunk, &cc.rows[i].row, err);
        if (!rc && !found)
            rc = base_err(err, FACTDB_INTERNAL, "ON CONFLICT DO UPDATE: the row a proposal collided with is gone");
    }
    if (rc || (rc = table_info(c, st->table, st->table_pos, &ti)))
        goto out;
    size_t n = ti.ncols;
    both = ti;
    both.ncols = 2 * n;
    if (both.ncols > FACTDB_MAX_COLUMNS) {
        rc = sql_err(err, FACTDB_LIMIT, st->conflict_pos, "ON CONFLICT DO UPDATE supports tables of at most %d "
                     "columns", FACTDB_MAX_COLUMNS / 2);
        goto out;
    }
    if (!(both.cols = calloc(both.ncols, sizeof *both.cols))) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    memcpy(both.cols, ti.cols, n * sizeof *ti.cols);
    memcpy(both.cols + n, ti.cols, n * sizeof *ti.cols);
    for (size_t k = 0; k < n; k++)
        snprintf(both.cols[n + k].name, sizeof both.cols[n + k].name, "\x1f%zu", k);
    ast **items = sql_arena_alloc(c->a, n * sizeof *items);
    char **aliases = sql_arena_alloc(c->a, n * sizeof *aliases);
    ast *cols = sql_arena_alloc(c->a, n * sizeof *cols);
    sql_type ctype[FACTDB_MAX_COLUMNS];
    if (!items || !aliases || !cols) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = set_items(c, st, &ti, items, cols, ctype, "ON CONFLICT DO UPDATE")))
        goto out;
    for (int i = 0; i < st->nset && !rc; i++)
        rc = rename_excluded(c, &ti, st->set_vals[i]);
    if (rc || (rc = rename_excluded(c, &ti, st->conflict_where)))
        goto out;
    sql_select sel;
    memset(&sel, 0, sizeof sel);
    sel.items = items;
    sel.aliases = aliases;
    sel.nitems = (int)n;
    sel.table = st->table;
    sel.table_pos = st->table_pos;
    sel.where = st->conflict_where;
    query q;
    if ((rc = bind_select(c->a, &sel, &both, c->params, c->nparams, c->now_us, &c->s->cancel, &q, err)) ||
        (rc = check_assignments(c, &ti, items, cols, &q, ctype)))
        goto out;
    q.table = sql_arena_strndup(c->a, q.table, strlen(q.table));
    for (int i = 0; i < q.ncols; i++)
        q.cols[i].name = sql_arena_strndup(c->a, q.cols[i].name, strlen(q.cols[i].name));
    uint64_t updated = 0;
    rowset *ret = ret_rowset(c, (int)n, ctype, &rc);
    if (!rc && ret && !(c->ret->upd_prop = calloc(cc.n, sizeof *c->ret->upd_prop)))
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
    if (rc || (rc = exec_upsert(c->s->db, &q, (int)n, ctype, &cc.props, cc.rows, cc.n, ret,
                                ret ? c->ret->upd_prop : NULL, &updated, err)))
        goto out;
    /* PostgreSQL counts inserted and updated rows alike */
    unsigned long long inserted = 0;
    sscanf(u->r->tag, "INSERT 0 %llu", &inserted);
    snprintf(u->r->tag, sizeof u->r->tag, "INSERT 0 %llu", inserted + (unsigned long long)updated);
out:
    if (rc && !err->position)
        err->position = st->pos;
    free(both.cols);
    if (ti.cols)
        factdb_table_info_free(&ti);
    conflict_cleanup(&cc);
    return rc;
}

/* INSERT ... ON CONFLICT (cols) DO UPDATE: the rows, the collisions and the updates in one write transaction. */
static int do_upsert(stmt_ctx *c, sql_stmt *st, factdb_result *r)
{
    upsert_ctx u = {c, st, r};
    return store_write(c->s->db, upsert_apply, &u, c->err);
}

/* ---- RETURNING ---- */
#define RETURNING_ROWS "\x1freturning"

/* Evaluates RETURNING's list over the rows the statement produced (rr), named in FROM under the table's
 * name or alias: SELECT items FROM <those rows> AS t. The result becomes r's rows; r's tag stays the
 * statement's ("INSERT 0 2"). */
static int returning_eval(stmt_ctx *c, sql_stmt *st, ret_rows *rr, factdb_result *r, factdb_error *err)
{
    for (int i = 0; i < st->returning->nitems; i++) {
        const ast *x = st->returning->items[i];
        if (bind_has_agg(x) || has_window_call(x))
            return sql_err(err, FACTDB_INVALID_ARGUMENT, x->pos, "%s functions are not allowed in RETURNING",
                           bind_has_agg(x) ? "aggregate" : "window");
    }
    factdb_table_info ti;
    int rc = table_info(c, st->table, st->table_pos, &ti);
    if (rc)
        return rc;
    int ncols = (int)ti.ncols;
    char **names = sql_arena_alloc(c->a, (size_t)(ncols ? ncols : 1) * sizeof *names);
    sql_type types[FACTDB_MAX_COLUMNS];
    for (int k = 0; names && k < ncols; k++) {
        types[k] = sql_type_from_store(ti.cols[k].type, ti.cols[k].precision, ti.cols[k].scale);
        names[k] = sql_arena_strndup(c->a, ti.cols[k].name, strlen(ti.cols[k].name));
    }
    factdb_table_info_free(&ti);
    rowset *rows = calloc(1, sizeof *rows);
    if (!names || !rows) {
        free(rows);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    /* the statement's rows, less the proposals ON CONFLICT skipped */
    for (int k = 0; rr->ready && k < ncols; k++)
        types[k] = rr->rs.cols[k].type;
    if ((rc = rowset_init(rows, ncols, types, NULL, 0, err))) {
        free(rows);
        return rc;
    }
    /* in the order of the proposals: an updated row where its proposal was skipped (as PostgreSQL) */
    size_t nupd = rr->ready && rr->upd_prop ? rr->rs.n - rr->nprops : 0;
    size_t *upd_of = nupd ? malloc(rr->nprops * sizeof *upd_of) : NULL;
    if (nupd && !upd_of) {
        exec_rowset_free(rows);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    for (size_t i = 0; upd_of && i < rr->nprops; i++)
        upd_of[i] = SIZE_MAX;
    for (size_t j = 0; upd_of && j < nupd; j++)
        if (rr->upd_prop[j] < rr->nprops)
            upd_of[rr->upd_prop[j]] = rr->nprops + j;
    sql_value vals[FACTDB_MAX_COLUMNS];
    size_t limit = upd_of ? rr->nprops : (rr->ready ? rr->rs.n : 0);
    for (size_t i = 0; i < limit && !rc; i++) {
        size_t row = i;
        if (i < rr->nprops && i < rr->skip_cap && rr->skip[i]) {
            if (!upd_of || upd_of[i] == SIZE_MAX)
                continue;
            row = upd_of[i];
        }
        for (int k = 0; k < ncols; k++)
            rowset_get(&rr->rs, k, row, &vals[k]);
        rc = rowset_add_row(rows, vals, err);
    }
    free(upd_of);
    if (rc) {
        exec_rowset_free(rows);
        return rc;
    }
    plan_ctx pc;
    plan_start(c, &pc);
    pc.err = err;
    sql_from from = {.kind = F_TABLE, .pos = st->table_pos, .table = RETURNING_ROWS,
                     .alias = st->alias ? st->alias : st->table};
    sql_select sel = *st->returning;
    sel.from = &from;
    plan_node *root;
    if (!(rc = plan_relation(&pc, RETURNING_ROWS, rows, names, 0, err)) && !(rc = plan_select(&pc, &sel, &root))) {
        exec_result er = {0};
        if (!(rc = plan_execute(&pc, root, &er))) {
            r->er = er;
            r->has_rows = true;
            for (int i = 0; i < root->q.nvisible; i++)
                types[i] = root->q.outs[i]->type;
            rc = set_columns(r, root->q.nvisible, root->q.names, types, err);
        }
    }
    plan_done(&pc);
    return rc;
}

typedef struct returning_run {
    stmt_ctx *c;
    sql_stmt *st;
    factdb_result *r;
} returning_run;

static int run_stmt(stmt_ctx *c, sql_stmt *st, factdb_result *r);

/* INSERT / UPDATE / DELETE ... RETURNING in one write transaction: the statement (whose own store_write
 * joins it) gathers its rows, then RETURNING is evaluated; an error in either changes nothing. */
static int returning_apply(store_txn *t, void *ctx, factdb_error *err)
{
    (void)t;
    returning_run *u = ctx;
    ret_rows rr = {0};
    u->c->ret = &rr;
    int rc = run_stmt(u->c, u->st, u->r);
    u->c->ret = NULL;
    if (!rc)
        rc = returning_eval(u->c, u->st, &rr, u->r, err);
    if (rr.ready)
        rowset_cleanup(&rr.rs);
    free(rr.skip);
    free(rr.upd_prop);
    return rc;
}

static int run_stmt(stmt_ctx *c, sql_stmt *st, factdb_result *r)
{
    if (st->returning && !c->ret) {
        returning_run u = {c, st, r};
        return store_write(c->s->db, returning_apply, &u, c->err);
    }
    factdb *db = c->s->db;
    factdb_error *err = c->err;
    int rc = 0;
    switch (st->kind) {
    case S_SELECT: return do_select(c, st->select, r);
    case S_EXPLAIN: return do_explain(c, st, r);
    case S_INSERT: return do_insert(c, st, r);
    case S_DELETE: return do_delete(c, st, r);
    case S_UPDATE: return do_update(c, st, r);
    case S_CREATE: {
        if (view_exists(c, st->table)) {
            if (st->if_not_exists) {
                snprintf(r->tag, sizeof r->tag, "CREATE TABLE");
                return 0;
            }
            return sql_err(err, FACTDB_TABLE_EXISTS, st->table_pos, "relation \"%s\" already exists (a view)",
                           st->table);
        }
        if (st->select)
            return do_create_as(c, st, r);
        factdb_column_def defs[FACTDB_MAX_COLUMNS];
        if ((rc = make_defs(c, st, defs)))
            return rc;
        rc = create_table(c, st, defs);
        if (rc == FACTDB_TABLE_EXISTS && st->if_not_exists) {
            rc = 0;
            snprintf(r->tag, sizeof r->tag, "CREATE TABLE");
        } else if (rc == FACTDB_TABLE_EXISTS) {
            return sql_err(err, rc, st->table_pos, "relation \"%s\" already exists", st->table);
        }
        snprintf(r->tag, sizeof r->tag, "CREATE TABLE");
        break;
    }
    case S_DROP:
        rc = factdb_drop_table(db, st->table, err);
        if (rc == FACTDB_NO_TABLE && view_exists(c, st->table))
            return sql_err(err, FACTDB_INVALID_ARGUMENT, st->table_pos, "\"%s\" is not a table; use DROP VIEW",
                           st->table);
        if (rc == FACTDB_NO_TABLE && st->if_exists)
            rc = 0;
        else if (rc == FACTDB_NO_TABLE)
            return sql_err(err, rc, st->table_pos, "table \"%s\" does not exist", st->table);
        snprintf(r->tag, sizeof r->tag, "DROP TABLE");
        break;
    case S_CREATE_VIEW: return do_create_view(c, st, r);
    case S_DROP_VIEW: return do_drop_view(c, st, r);
    case S_TRUNCATE:
        rc = factdb_truncate_table(db, st->table, err);
        if (rc == FACTDB_NO_TABLE)
            return sql_err(err, rc, st->table_pos, "relation \"%s\" does not exist", st->table);
        snprintf(r->tag, sizeof r->tag, "TRUNCATE TABLE");
        break;
    case S_ALTER_ADD: {
        factdb_column_def def;
        if ((rc = make_defs(c, st, &def)))
            return rc;
        rc = factdb_add_column(db, st->table, &def, err);
        if (rc == FACTDB_NO_TABLE)
            return sql_err(err, rc, st->table_pos, "relation \"%s\" does not exist", st->table);
        if (rc)
            err->position = st->defs[0].pos;
        snprintf(r->tag, sizeof r->tag, "ALTER TABLE");
        break;
    }
    case S_COPY_FROM: {
        ingest_load_opts o = {.header = st->copy.header, .delim = st->copy.delimiter ? st->copy.delimiter : ',',
                              .encoding = st->copy.encoding ? st->copy.encoding : "utf-8"};
        if (o.encoding && (!strcasecmp(o.encoding, "latin1") || !strcasecmp(o.encoding, "iso-8859-1") ||
                           !strcasecmp(o.encoding, "iso88591")))
            o.encoding = "latin-1";
        if (o.encoding && (!strcasecmp(o.encoding, "utf8") || !strcasecmp(o.encoding, "utf-8")))
            o.encoding = "utf-8";
        if (o.encoding && (!strcasecmp(o.encoding, "win1252") || !strcasecmp(o.encoding, "windows-1252")))
            o.encoding = "cp1252";
        uint64_t rows = 0;
        rc = ingest_load_csv(db, st->table, st->file, &o, &rows, err);
        if (rc == FACTDB_NO_TABLE)
            return sql_err(err, rc, st->table_pos, "relation \"%s\" does not exist", st->table);
        snprintf(r->tag, sizeof r->tag, "COPY %llu", (unsigned long long)rows);
        break;
    }
    case S_COPY_TO: return do_copy_to(c, st, r);
    case S_SHOW_TABLES: {
        factdb_table_info *list;
        size_t n;
        if ((rc = factdb_table_list(db, &list, &n, err)))
            return rc;
        char *names[] = {"name", "row_count"};
        sql_type types[] = {{TY_TEXT, 0, 0}, {TY_BIGINT, 0, 0}};
        rc = rows_result(r, 2, names, types, err);
        for (size_t i = 0; i < n && !rc; i++) {
            sql_value v[2] = {text_value(list[i].name), {.type = {TY_BIGINT, 0, 0}, .i = (int64_t)list[i].row_count}};
            rc = rowset_add_row(r->er.rs, v, err);
        }
        factdb_table_list_free(list, n);
        return rc ? rc : rows_finish(r, err);
    }
    case S_DESCRIBE: {
        factdb_table_info ti;
        if ((rc = table_info(c, st->table, st->table_pos, &ti)))
            return rc;
        char *names[] = {"column_name", "column_type", "null"};
        sql_type types[] = {{TY_TEXT, 0, 0}, {TY_TEXT, 0, 0}, {TY_TEXT, 0, 0}};
        rc = rows_result(r, 3, names, types, err);
        for (size_t i = 0; i < ti.ncols && !rc; i++) {
            char tb[40];
            const factdb_column_info *ci = &ti.cols[i];
            sql_value v[3] = {text_value(ci->name), text_value(factdb_type_name(ci->type, ci->precision, ci->scale, tb, sizeof tb)),
                              text_value(ci->not_null ? "NO" : "YES")};
            rc = rowset_add_row(r->er.rs, v, err);
        }
        factdb_table_info_free(&ti);
        return rc ? rc : rows_finish(r, err);
    }
    default:
        return base_err(err, FACTDB_INTERNAL, "transaction statement outside the block logic");
    }
    return rc;
}

static bool writes(stmt_kind k)
{
    return k == S_INSERT || k == S_DELETE || k == S_UPDATE || k == S_CREATE || k == S_DROP || k == S_ALTER_ADD ||
           k == S_TRUNCATE || k == S_COPY_FROM || k == S_CREATE_VIEW || k == S_DROP_VIEW;
}

/* Runs a statement with PostgreSQL's transaction-block rules. */
static int run_block_stmt(stmt_ctx *c, sql_stmt *st, factdb_result *r)
{
    factdb_session *s = c->s;
    int rc;
    switch (st->kind) {
    case S_BEGIN:
        s->in_block = true;  /* a second BEGIN is a no-op, as PostgreSQL's warning says */
        snprintf(r->tag, sizeof r->tag, "BEGIN");
        return 0;
    case S_COMMIT:
        if (s->failed) {
            factdb_session_rollback(s);
            snprintf(r->tag, sizeof r->tag, "ROLLBACK");
            return 0;
        }
        rc = s->xact ? store_xact_commit(s->db, s->xact, c->err) : 0;
        s->xact = NULL;
        s->in_block = false;
        snprintf(r->tag, sizeof r->tag, "COMMIT");
        return rc;
    case S_ROLLBACK:
        factdb_session_rollback(s);
        snprintf(r->tag, sizeof r->tag, "ROLLBACK");
        return 0;
    default:
        break;
    }
    if (s->failed)
        return sql_err(c->err, FACTDB_INVALID_ARGUMENT, st->pos,
                       "current transaction is aborted, commands ignored until end of transaction block; run "
                       "ROLLBACK");
    /* checked before the write lock is taken: a refused COPY touches neither the file nor the database */
    if ((st->kind == S_COPY_FROM || st->kind == S_COPY_TO) && s->no_file_access) {
        if (s->in_block)
            s->failed = true;
        return sql_err(c->err, FACTDB_PERMISSION, st->pos,
                       "COPY %s a file is disabled in this session: it would %s a file on the server with the "
                       "server's permissions (factdb serve allows it with --allow-file-access)",
                       st->kind == S_COPY_FROM ? "FROM" : "TO", st->kind == S_COPY_FROM ? "read" : "write");
    }
    if (s->in_block && !s->xact && writes(st->kind) && (rc = store_xact_begin(s->db, &s->xact, c->err)))
        return rc;  /* could not get the write lock: the block stays usable, nothing was written */
    store_xact_bind(s->db, s->xact);
    rc = run_stmt(c, st, r);
    store_xact_bind(s->db, NULL);
    if (rc && s->in_block)
        s->failed = true;
    return rc;
}

int factdb_session_exec(factdb_session *s, const char *sql, size_t len, const factdb_param *params, size_t nparams,
                        size_t *consumed, factdb_result **out, factdb_error *err)
{
    base_err_clear(err);
    *out = NULL;
    *consumed = len;
    atomic_store(&s->cancel, false);
    if (len > (64u << 20))
        return base_err(err, FACTDB_LIMIT, "the SQL text is longer than 64 MiB");
    if (nparams > 65535)
        return base_err(err, FACTDB_LIMIT, "too many parameters (at most 65535)");
    sql_arena a;
    sql_arena_init(&a, (size_t)1 << 30);
    sql_stmt *st;
    int rc = sql_parse_cancelable(&a, sql, len, &s->cancel, &st, consumed, err);
    if (rc || !st) {
        sql_arena_cleanup(&a);
        return rc;
    }
    sql_value *pv = sql_arena_alloc(&a, (nparams ? nparams : 1) * sizeof *pv);
    if (!pv) {
        sql_arena_cleanup(&a);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < nparams; i++) {
        const factdb_param *p = &params[i];
        switch (p->kind) {
        case FACTDB_PARAM_NULL: pv[i].null = true; pv[i].type.id = TY_UNKNOWN; break;
        case FACTDB_PARAM_BOOL: pv[i].type.id = TY_BOOL; pv[i].i = p->b; break;
        case FACTDB_PARAM_INT: pv[i].type.id = TY_BIGINT; pv[i].i = p->i; break;
        case FACTDB_PARAM_DOUBLE: pv[i].type.id = TY_DOUBLE; pv[i].d = p->d; break;
        case FACTDB_PARAM_DECIMAL:
            if (p->scale < 0 || p->scale > 18) {
                sql_arena_cleanup(&a);
                return base_err(err, FACTDB_INVALID_ARGUMENT, "parameter $%zu: a numeric's scale must be 0..18, not %d",
                                i + 1, p->scale);
            }
            pv[i].type = (sql_type){TY_NUMERIC, (int8_t)p->scale, 0};
            pv[i].i = p->i;
            break;
        case FACTDB_PARAM_DATE: pv[i].type.id = TY_DATE; pv[i].i = p->i; break;
        case FACTDB_PARAM_TIMESTAMP: pv[i].type.id = TY_TIMESTAMP; pv[i].i = p->i; break;
        case FACTDB_PARAM_TIMESTAMPTZ: pv[i].type.id = TY_TIMESTAMPTZ; pv[i].i = p->i; break;
        default:
            sql_arena_cleanup(&a);
            return base_err(err, FACTDB_INVALID_ARGUMENT, "parameter $%zu has an unknown kind %d", i + 1, (int)p->kind);
        case FACTDB_PARAM_TEXT: {
            size_t ok = base_utf8_valid_prefix((const unsigned char *)p->s, p->len);
            if (ok != p->len) {
                sql_arena_cleanup(&a);
                if (!p->s[ok])
                    return base_err(err, FACTDB_INVALID_VALUE, "parameter $%zu contains a NUL byte (0x00) at byte %zu; "
                                    "text values cannot contain NUL", i + 1, ok + 1);
                return base_err(err, FACTDB_INVALID_UTF8, "parameter $%zu is not valid UTF-8 (byte %zu)", i + 1, ok + 1);
            }
            pv[i].type.id = TY_TEXT;
            pv[i].s.p = p->s;
            pv[i].s.len = p->len;
            break;
        }
        }
    }
    factdb_result *r = result_new();
    if (!r) {
        sql_arena_cleanup(&a);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    stmt_ctx c = {.s = s, .a = &a, .sql = sql, .params = pv, .nparams = (int)nparams, .now_us = now_us(), .err = err};
    rc = run_block_stmt(&c, st, r);
    sql_arena_cleanup(&a);
    if (rc) {
        factdb_result_free(r);
        return rc;
    }
    r->version = factdb_data_version(s->db);
    *out = r;
    return 0;
}

int factdb_sql_writes(const char *sql, size_t len, bool *writes_out, factdb_error *err)
{
    base_err_clear(err);
    *writes_out = false;
    size_t at = 0;
    while (at < len) {
        sql_arena a;
        sql_arena_init(&a, (size_t)1 << 30);
        sql_stmt *st;
        size_t used;
        int rc = sql_parse(&a, sql + at, len - at, &st, &used, err);
        if (rc) {
            err->position += err->position ? (int64_t)at : 0;
            sql_arena_cleanup(&a);
            return rc;
        }
        /* COPY ... TO writes a file on the server: it needs the same trust as a write */
        if (st && (writes(st->kind) || st->kind == S_COPY_TO))
            *writes_out = true;
        sql_arena_cleanup(&a);
        if (!used)
            break;
        at += used;
    }
    return 0;
}

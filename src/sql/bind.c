/* bind.c: resolves names against the table, applies PostgreSQL's typing rules (implicit casts, result
 * types and scales, unknown-typed literals taking their context's type) and turns a SELECT into a `query`
 * for the executor: scan columns, filter, group keys, aggregates, outputs, sort keys and zone-map
 * predicates. Constant subexpressions are folded here, so bad literals fail before any row is read. */
#include "bind.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SCOPE_NONE, SCOPE_SCAN, SCOPE_AGG };

typedef struct binder {
    sql_arena *a;
    factdb_error *err;
    query *q;
    const bind_rel *rel;    /* what FROM reads; NULL: no FROM */
    const bind_hooks *hooks;
    const sql_value *params;
    int nparams;
    int scope;
    bool in_agg;
    ast **group_asts;      /* agg scope: keys as written */
    int ngroup;
    int64_t now_us;
    atomic_bool *cancel;    /* NULL: not cancelable */
    unsigned nbind;
    int nerrors;            /* B_ERROR nodes made (folding errors kept until pruning decides) */
    int aggs_cap, zones_cap; /* q->aggs and q->zones grow by doubling (one copy per item was quadratic) */
    ast **agg_src;          /* per q->aggs[i]: the call it was bound from (de-duplication; exec never sees it) */
    int agg_src_cap;
} binder;

/* Returns v (n used, *cap allocated) with room for one more element, doubled when full; NULL when out of
 * memory. */
static void *grow(binder *b, void *v, int n, int *cap, size_t size)
{
    if (n < *cap)
        return v;
    int nc = *cap ? *cap * 2 : 8;
    void *nv = sql_arena_alloc(b->a, (size_t)nc * size);
    if (!nv)
        return NULL;
    if (n)
        memcpy(nv, v, (size_t)n * size);
    *cap = nc;
    return nv;
}

static const sql_type T_BOOL = {TY_BOOL, 0, 0}, T_INT = {TY_INT, 0, 0}, T_BIGINT = {TY_BIGINT, 0, 0},
                      T_DOUBLE = {TY_DOUBLE, 0, 0}, T_TEXT = {TY_TEXT, 0, 0}, T_DATE = {TY_DATE, 0, 0},
                      T_TS = {TY_TIMESTAMP, 0, 0}, T_TSTZ = {TY_TIMESTAMPTZ, 0, 0}, T_NUMDYN = {TY_NUMERIC, -1, 0};

/* date, timestamp or timestamptz: the types date_trunc, extract and interval arithmetic take */
static bool is_datetime(uint8_t id) { return id == TY_DATE || id == TY_TIMESTAMP || id == TY_TIMESTAMPTZ; }

static bexpr *bind(binder *b, ast *x);

static bexpr *mk(binder *b, bkind k, sql_type t, int pos, int nargs)
{
    bexpr *e = sql_arena_alloc(b->a, sizeof *e);
    if (!e) {
        sql_err(b->err, FACTDB_LIMIT, pos, "the query is too large (memory limit while binding)");
        return NULL;
    }
    e->kind = k;
    e->type = t;
    e->pos = pos;
    e->slot = b->q->nslots++;
    if (nargs) {
        e->args = sql_arena_alloc(b->a, (size_t)nargs * sizeof *e->args);
        if (!e->args) {
            sql_err(b->err, FACTDB_LIMIT, pos, "the query is too large (memory limit while binding)");
            return NULL;
        }
        e->nargs = nargs;
    }
    return e;
}

static const char *tname(sql_type t, char *buf) { return sql_type_name(t, buf, 32); }

static bool is_numeric_family(uint8_t id) { return id == TY_INT || id == TY_BIGINT || id == TY_NUMERIC || id == TY_DOUBLE; }

static int bind_err(binder *b, int pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bind_err(binder *b, int pos, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sql_err(b->err, FACTDB_INVALID_ARGUMENT, pos, "%s", msg);
}

/* Turns the error in b->err (of folding a constant at `pos`) into a B_ERROR node of type t, as PostgreSQL's
 * planner raises such an error only if it simplifies that subexpression: not in a CASE branch, COALESCE
 * argument or AND/OR operand after a constant that decides the result (`CASE WHEN 1=1 THEN 1 ELSE 1/0
 * END` is 1). Errors other than a value's (memory, cancel) stay errors. */
static bexpr *keep_error(binder *b, sql_type t, int pos)
{
    if (b->err->code != FACTDB_INVALID_VALUE)
        return NULL;
    factdb_error *saved = sql_arena_alloc(b->a, sizeof *saved);
    if (!saved)
        return NULL;
    *saved = *b->err;
    base_err_clear(b->err);
    bexpr *c = mk(b, B_ERROR, t, pos, 0);
    if (c) {
        c->error = saved;
        b->nerrors++;
    }
    return c;
}

/* Folds a constant subtree into a B_CONST (or a B_ERROR when evaluating it fails). */
static bexpr *fold(binder *b, bexpr *e)
{
    sql_value v;
    if (eval_const(e, b->q->nslots, b->now_us, b->a, &v, b->err))
        return keep_error(b, e->type, e->pos);
    bexpr *c = mk(b, B_CONST, e->type, e->pos, 0);
    if (!c)
        return NULL;
    v.type = e->type;
    c->val = v;
    return c;
}

/* Whether e can be folded. Every node is folded as soon as it is built (bottom-up), so a constant
 * subtree is already one B_CONST: looking one level down suffices. (Walking the whole subtree here made
 * binding `x + 1 + 1 + ...` quadratic.) */
static bool is_const(const bexpr *e)
{
    if (e->kind == B_INPUT)
        return false;
    for (int i = 0; i < e->nargs; i++)
        if (e->args[i] && e->args[i]->kind != B_CONST && e->args[i]->kind != B_ERROR)
            return false;
    return true;
}

/* Whether the subtree e holds a B_ERROR (iterative: arithmetic chains are deep trees). -1: no memory. */
static int has_error(binder *b, bexpr *e)
{
    if (!b->nerrors)
        return 0;
    size_t cap = 64, n = 0;
    bexpr **st = malloc(cap * sizeof *st);
    if (!st)
        return -1;
    st[n++] = e;
    int found = 0;
    while (n && !found) {
        bexpr *x = st[--n];
        found = x->kind == B_ERROR;
        for (int i = 0; i < x->nargs && !found; i++) {
            if (!x->args[i])
                continue;
            if (n == cap) {
                bexpr **g = realloc(st, cap * 2 * sizeof *st);
                if (!g) {
                    free(st);
                    return -1;
                }
                st = g;
                cap *= 2;
            }
            st[n++] = x->args[i];
        }
    }
    free(st);
    return found;
}

static bool const_bool(const bexpr *e, bool v) { return e->kind == B_CONST && !e->val.null && (e->val.i != 0) == v; }

/* PostgreSQL's simplification of CASE, COALESCE, AND and OR (eval_const_expressions), applied when some
 * folding failed: arguments are looked at in order and those after a constant that decides the result
 * are dropped unseen, with any B_ERROR in them; a B_ERROR met before such a constant stays (and is raised).
 * Returns the node to use instead of e. */
/* A NULL constant of its own type, for the folds below. */
static bexpr *null_const(binder *b, sql_type t, int pos)
{
    bexpr *c = mk(b, B_CONST, t, pos, 0);
    if (c) {
        c->val.type = t;
        c->val.null = true;
    }
    return c;
}

static bexpr *prune(binder *b, bexpr *e)
{
    if (!e || !b->nerrors)
        return e;
    int h;
    if (e->kind == B_AND || e->kind == B_OR) {
        for (int i = 0; i < e->nargs; i++) {
            if ((h = has_error(b, e->args[i])))
                return h < 0 ? (base_err(b->err, FACTDB_NOMEM, "out of memory"), NULL) : e;
            if (const_bool(e->args[i], e->kind == B_OR))
                return e->args[i];
        }
        return e;
    }
    if (e->kind == B_COALESCE) {
        for (int i = 0; i < e->nargs; i++) {
            if ((h = has_error(b, e->args[i])))
                return h < 0 ? (base_err(b->err, FACTDB_NOMEM, "out of memory"), NULL) : e;
            if (e->args[i]->kind == B_CONST && !e->args[i]->val.null) {
                e->nargs = i + 1;
                return e;
            }
        }
        return e;
    }
    if (e->kind != B_CASE)
        return e;
    int npairs = (e->nargs - (e->has_else ? 1 : 0)) / 2, k = 0, next = 0;  /* next: first arg not yet kept */
    for (int i = 0; i < npairs; i++) {
        bexpr *c = e->args[2 * i], *v = e->args[2 * i + 1];
        next = 2 * i;
        if ((h = has_error(b, c)))
            goto stop;
        if (c->kind == B_CONST && (c->val.null || !c->val.i))
            continue;  /* never taken: its result is never simplified */
        if (const_bool(c, true)) {
            /* always taken from here on: its result is the ELSE, later WHENs and the old ELSE go */
            e->args[2 * k] = v;
            e->nargs = 2 * k + 1;
            e->has_else = true;
            return k ? e : v;
        }
        e->args[2 * k] = c;
        e->args[2 * k + 1] = v;
        k++;
        next = 2 * i + 2;
        if ((h = has_error(b, v)))
            goto stop;
    }
    if (!k)
        return e->has_else ? e->args[e->nargs - 1] : null_const(b, e->type, e->pos);
    if (e->has_else)
        e->args[2 * k] = e->args[e->nargs - 1];
    e->nargs = 2 * k + (e->has_else ? 1 : 0);
    return e;
stop:
    if (h < 0)
        return base_err(b->err, FACTDB_NOMEM, "out of memory"), NULL;
    /* the rest stays as written, after the clauses kept (each node keeps one parent) */
    int m = 2 * k;
    for (int i = next; i < e->nargs; i++)
        e->args[m++] = e->args[i];
    e->nargs = m;
    return e;
}

static bool same_type(sql_type a, sql_type b)
{
    return a.id == b.id && (a.id != TY_NUMERIC || (a.scale == b.scale && (a.prec == b.prec || !b.prec)));
}

/* Casts e to t (explicit = CAST/::, which allows more conversions). Constants fold at once. */
static bexpr *cast_to(binder *b, bexpr *e, sql_type t, int pos)
{
    if (!e)
        return NULL;
    if (same_type(e->type, t))
        return e;
    if (e->kind == B_ERROR) {
        e->type = t;  /* raised before any conversion */
        return e;
    }
    if (e->kind == B_CONST) {
        sql_value v;
        if (exec_cast_value(&e->val, t, e->pos ? e->pos : pos, b->a, &v, b->err))
            return keep_error(b, t, e->pos ? e->pos : pos);
        bexpr *c = mk(b, B_CONST, t, e->pos, 0);
        if (c)
            c->val = v;
        return c;
    }
    bexpr *c = mk(b, B_CAST, t, pos ? pos : e->pos, 1);
    if (!c)
        return NULL;
    c->args[0] = e;
    c->op = e->type.id;
    return c;
}

/* PostgreSQL's common type for comparison, CASE, COALESCE, IN, UNION-like contexts. Two unknowns (NULL,
 * quoted literals) stay unknown, so that a later typed item decides (CASE ... THEN NULL ELSE 3 is an
 * integer); callers that end with unknown make it text, as PostgreSQL does. */
static int common_type(binder *b, sql_type x, sql_type y, int pos, const char *ctx, sql_type *out)
{
    char b1[32], b2[32];
    if (x.id == TY_UNKNOWN) {
        *out = y;
        return 0;
    }
    if (y.id == TY_UNKNOWN || same_type(x, y)) {
        *out = x;
        return 0;
    }
    if (is_numeric_family(x.id) && is_numeric_family(y.id)) {
        if (x.id == TY_DOUBLE || y.id == TY_DOUBLE)
            *out = T_DOUBLE;
        else if (x.id == TY_NUMERIC || y.id == TY_NUMERIC) {
            int sx = x.id == TY_NUMERIC ? x.scale : 0, sy = y.id == TY_NUMERIC ? y.scale : 0;
            *out = (sql_type){TY_NUMERIC, (int8_t)(sx < 0 || sy < 0 ? -1 : MAX(sx, sy)), 0};
        } else
            *out = (x.id == TY_BIGINT || y.id == TY_BIGINT) ? T_BIGINT : T_INT;
        return 0;
    }
    if (is_datetime(x.id) && is_datetime(y.id)) {
        /* PostgreSQL's preferred type of the datetime category is timestamptz */
        *out = x.id == TY_TIMESTAMPTZ || y.id == TY_TIMESTAMPTZ ? T_TSTZ : T_TS;
        return 0;
    }
    if (x.id == y.id) {
        *out = x;
        return 0;
    }
    return bind_err(b, pos, "%s types %s and %s cannot be matched", ctx, tname(x, b1), tname(y, b2));
}

static sql_type unknown_to_text(sql_type t) { return t.id == TY_UNKNOWN ? T_TEXT : t; }

/* PostgreSQL numeric values keep their own display scale through CASE, COALESCE, GREATEST and LEAST
 * (coalesce(1.50, 2) prints 2, not 2.00): when the branches' scales differ, use per-value scales. */
static sql_type branch_type(sql_type t, bexpr *const *args, int n, int stride, int first)
{
    if (t.id != TY_NUMERIC || t.scale < 0)
        return t;
    for (int i = first; i < n; i += stride) {
        sql_type a = args[i]->type;
        if (a.id == TY_UNKNOWN || (a.id == TY_NUMERIC && a.scale == t.scale))
            continue;
        return T_NUMDYN;
    }
    return t;
}

/* ---- literals ---- */
static bexpr *literal(binder *b, ast *x)
{
    sql_value v;
    memset(&v, 0, sizeof v);
    const char *why;
    switch (x->lit) {
    case L_NULL:
        v.null = true;
        v.type.id = TY_UNKNOWN;
        break;
    case L_TRUE:
    case L_FALSE:
        v.type = T_BOOL;
        v.i = x->lit == L_TRUE;
        break;
    case L_INT:
        if (!base_parse_int64(x->text, x->text_len, &v.i, &why)) {
            v.type = (v.i >= INT32_MIN && v.i <= INT32_MAX) ? T_INT : T_BIGINT;
            break;
        }
        /* too large for bigint -> numeric */
        __attribute__((fallthrough));
    case L_DEC:
    case L_FLOAT: {
        sql_value s = {.type = T_TEXT, .s = {x->text, x->text_len}};
        if (exec_cast_value(&s, T_NUMDYN, x->pos, b->a, &v, b->err))
            return NULL;
        /* a literal that fits 18 digits gets a static scale, so arithmetic stays in 64 bits */
        int digits = 0;
        for (i128 n = v.n < 0 ? -v.n : v.n; n; n /= 10)
            digits++;
        if (digits <= 18 && v.nscale <= 18) {
            sql_value st = {.type = {TY_NUMERIC, v.nscale, 0}, .i = (int64_t)v.n};
            v = st;
        }
        break;
    }
    case L_STRING:
        v.type.id = TY_UNKNOWN;
        v.s.p = x->text;
        v.s.len = x->text_len;
        break;
    case L_DATE:
    case L_TIMESTAMP:
    case L_TIMESTAMPTZ:
    case L_INTERVAL: {
        sql_value s = {.type = T_TEXT, .s = {x->text, x->text_len}};
        sql_type to = x->lit == L_DATE ? T_DATE : x->lit == L_TIMESTAMP ? T_TS : x->lit == L_TIMESTAMPTZ ? T_TSTZ
                                                                                : (sql_type){TY_INTERVAL, 0, 0};
        if (x->lit == L_INTERVAL) {
            v.type = to;
            if (sql_parse_interval(x->text, x->text_len, x->name, &v.iv, &why))
                return bind_err(b, x->pos, "invalid input syntax for type interval: \"%s\": %s", x->text, why), NULL;
        } else if (exec_cast_value(&s, to, x->pos, b->a, &v, b->err)) {
            return NULL;
        }
        break;
    }
    }
    bexpr *e = mk(b, B_CONST, v.type, x->pos, 0);
    if (e)
        e->val = v;
    return e;
}

static bexpr *param(binder *b, ast *x)
{
    if (x->ival > b->nparams)
        return bind_err(b, x->pos, "there is no parameter $%lld (%d given)", (long long)x->ival, b->nparams), NULL;
    sql_value v = b->params[x->ival - 1];
    if (v.type.id == TY_TEXT)
        v.type.id = TY_UNKNOWN;  /* typed by its context, like a quoted literal */
    if (v.type.id == TY_BIGINT && v.i >= INT32_MIN && v.i <= INT32_MAX)
        v.type = T_INT;
    bexpr *e = mk(b, B_CONST, v.type, x->pos, 0);
    if (e)
        e->val = v;
    return e;
}

/* ---- columns ---- */
static int edit_distance(const char *s, const char *t)
{
    size_t n = strlen(s), m = strlen(t);
    if (n > 64 || m > 64)
        return 99;
    int d[65][65];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int c = d[i - 1][j - 1] + (s[i - 1] != t[j - 1]);
            c = MIN(c, d[i - 1][j] + 1);
            d[i][j] = MIN(c, d[i][j - 1] + 1);
        }
    return d[n][m];
}

/* The column an unqualified or qualified name means: its index, -1 when none, -2 when ambiguous. */
static int rel_find(const bind_rel *rel, const char *qual, const char *name)
{
    int found = -1;
    for (int i = 0; i < rel->ncols; i++) {
        const bind_col *c = &rel->cols[i];
        if (strcmp(c->name, name))
            continue;
        if (qual ? (c->qual < 0 || strcmp(rel->quals[c->qual], qual)) : c->hidden)
            continue;
        if (found >= 0)
            return -2;
        found = i;
    }
    return found;
}

/* The names a message about rel may suggest: its readable columns, or every column of the tables behind it
 * (a planner's relation keeps only the columns a query names). */
static int hint_count(const bind_rel *rel) { return rel->hint_names ? rel->nhint : rel->ncols; }
static const char *hint_name(const bind_rel *rel, int i)
{
    if (rel->hint_names)
        return rel->hint_names[i];
    return rel->cols[i].hidden ? NULL : rel->cols[i].name;
}

static int rel_hint(const bind_rel *rel, const char *name, char *buf, size_t cap)
{
    int best = 99, n = hint_count(rel);
    for (int i = 0; i < n; i++)
        if (hint_name(rel, i))
            best = MIN(best, edit_distance(name, hint_name(rel, i)));
    size_t o = 0;
    buf[0] = 0;
    if (best > 3 && best >= (int)strlen(name))
        best = -1;
    for (int i = 0; i < n && best >= 0; i++) {
        const char *h = hint_name(rel, i);
        if (h && edit_distance(name, h) == best && o + strlen(h) + 8 < cap && !strstr(buf, h))
            o += (size_t)snprintf(buf + o, cap - o, "%s\"%s\"", o ? ", " : "", h);
    }
    return (int)o;
}

int bind_column_hint(const factdb_table_info *tab, const char *name, char *buf, size_t cap)
{
    buf[0] = 0;
    bind_col *cols = calloc(tab->ncols ? tab->ncols : 1, sizeof *cols);
    if (!cols)
        return 0;
    for (size_t i = 0; i < tab->ncols; i++)
        cols[i] = (bind_col){.name = tab->cols[i].name, .qual = -1, .index = (int)i};
    bind_rel rel = {.cols = cols, .ncols = (int)tab->ncols};
    int n = rel_hint(&rel, name, buf, cap);
    free(cols);
    return n;
}

static bexpr *column(binder *b, ast *x)
{
    const bind_rel *rel = b->rel;
    if (!rel || b->scope == SCOPE_NONE)
        return bind_err(b, x->pos, "column \"%s\" does not exist%s", x->name,
                        rel ? "" : " (the query has no FROM clause)"), NULL;
    int tc = x->ival > 0 && x->ival <= rel->ncols ? (int)x->ival - 1 : x->fixed ? -1 : rel_find(rel, x->qual, x->name);
    if (tc == -2)
        return bind_err(b, x->pos, "column reference \"%s\" is ambiguous; qualify it with its table's name or alias",
                        x->name), NULL;
    if (tc < 0) {
        char hint[400];
        if (x->qual)  /* PostgreSQL's spelling for a qualified name: column t.x does not exist */
            return bind_err(b, x->pos, "column %s.%s does not exist%s%s", x->qual, x->name,
                            rel_hint(rel, x->name, hint, sizeof hint) ? "; perhaps you meant " : "", hint), NULL;
        const char *what = rel->name ? rel->name : "the FROM clause";
        if (rel_hint(rel, x->name, hint, sizeof hint))
            return bind_err(b, x->pos, "column \"%s\" does not exist in %s%s%s; perhaps you meant %s", x->name,
                            rel->name ? "table \"" : "", what, rel->name ? "\"" : "", hint), NULL;
        char all[600];
        size_t o = 0;
        all[0] = 0;
        for (int i = 0; i < hint_count(rel) && o + 70 < sizeof all; i++)
            if (hint_name(rel, i) && !strstr(all, hint_name(rel, i)))
                o += (size_t)snprintf(all + o, sizeof all - o, "%s%s", o ? ", " : "", hint_name(rel, i));
        return bind_err(b, x->pos, "column \"%s\" does not exist in %s%s%s (its columns: %s)", x->name,
                        rel->name ? "table \"" : "", what, rel->name ? "\"" : "", all), NULL;
    }
    const bind_col *ci = &rel->cols[tc];
    if (b->scope == SCOPE_AGG && !b->in_agg)
        return bind_err(b, x->pos, "column \"%s.%s\" must appear in the GROUP BY clause or be used in an aggregate "
                                   "function", ci->qual >= 0 ? rel->quals[ci->qual] : "?", x->name), NULL;  /* PostgreSQL's form */
    query *q = b->q;
    int k = -1;
    for (int i = 0; i < q->ncols; i++)
        if (q->cols[i].table_col == ci->index)
            k = i;
    if (k < 0) {
        scan_col *nc = sql_arena_alloc(b->a, (size_t)(q->ncols + 1) * sizeof *nc);
        if (!nc)
            return bind_err(b, x->pos, "out of memory"), NULL;
        if (q->ncols)
            memcpy(nc, q->cols, (size_t)q->ncols * sizeof *nc);
        nc[q->ncols] = (scan_col){.name = (char *)ci->name, .table_col = ci->index, .type = ci->type,
                                  .store_type = ci->store_type};
        q->cols = nc;
        k = q->ncols++;
    }
    bexpr *e = mk(b, B_INPUT, q->cols[k].type, x->pos, 0);
    if (e)
        e->input = k;
    return e;
}

/* ---- qualified names ---- */
/* Checks the qualifier of a column reference or t.* against the FROM clause, as PostgreSQL does for a
 * query over one table: the qualifier is the alias when there is one, else the table name (which may
 * carry the schema public). */
static int check_qual(binder *b, ast *x)
{
    const bind_rel *rel = b->rel;
    const char *q = x->qual;
    if (rel && x->kind == A_COLUMN && !x->fixed) {
        /* resolve now (kept in ival): GROUP BY matching must tell n1.x from n2.x; a name that is no column
         * may be an output name (ORDER BY, GROUP BY) and is left to the binder. The same tree may be bound
         * again against another relation (a condition pushed into a scan and checked after a join), so
         * the name is resolved every time. */
        int tc = rel_find(rel, q, x->name);
        x->ival = tc >= 0 ? tc + 1 : 0;
    }
    if (!q)
        return 0;
    for (int i = 0; rel && i < rel->nquals; i++)
        if (rel->quals[i] && !strcmp(q, rel->quals[i])) {
            if (!x->schema || (rel->schema_ok && !strcmp(x->schema, "public")))
                return 0;
            /* over a join the binder does not know which schema each name is in: accept the three there are
             * (pg_catalog.pg_class.relname, as SQLAlchemy writes it) */
            if (rel->relation && (!strcmp(x->schema, "public") || !strcmp(x->schema, "pg_catalog") ||
                                  !strcmp(x->schema, "information_schema")))
                return 0;
            return bind_err(b, x->pos, "invalid reference to FROM-clause entry for table \"%s\"; there is an entry "
                                       "for table \"%s\", but it cannot be referenced from this part of the query",
                            q, q);
        }
    if (rel && rel->table && rel->nquals == 1 && rel->quals[0] && !strcmp(q, rel->table))
        return bind_err(b, x->pos, "invalid reference to FROM-clause entry for table \"%s\"; perhaps you meant to "
                                   "reference the table alias \"%s\"", q, rel->quals[0]);
    return bind_err(b, x->pos, "missing FROM-clause entry for table \"%s\"", q);
}

/* check_qual over a whole expression (before any matching of GROUP BY keys, which ignores qualifiers). */
static int check_quals(binder *b, ast *x)
{
    if (!x)
        return 0;
    if ((x->kind == A_COLUMN || x->kind == A_STAR) && check_qual(b, x))
        return b->err->code;
    if (check_quals(b, x->filter))
        return b->err->code;
    for (int i = 0; i < x->nargs; i++)
        if (check_quals(b, x->args[i]))
            return b->err->code;
    return 0;
}

static int check_select_quals(binder *b, const sql_select *s)
{
    for (int i = 0; i < s->nitems; i++)
        if (check_quals(b, s->items[i]))
            return b->err->code;
    if (check_quals(b, s->where))
        return b->err->code;
    for (int i = 0; i < s->ngroup; i++)
        if (check_quals(b, s->group[i]))
            return b->err->code;
    if (check_quals(b, s->having))
        return b->err->code;
    for (int i = 0; i < s->norder; i++)
        if (check_quals(b, s->order[i].expr))
            return b->err->code;
    if (check_quals(b, s->limit) || check_quals(b, s->offset))
        return b->err->code;
    return 0;
}

/* ---- operators ---- */
static bexpr *bin2(binder *b, bkind k, int op, sql_type t, int pos, bexpr *l, bexpr *r)
{
    if (!l || !r)
        return NULL;
    bexpr *e = mk(b, k, t, pos, 2);
    if (!e)
        return NULL;
    e->op = op;
    e->args[0] = l;
    e->args[1] = r;
    return e;
}

/* Comparisons and arithmetic are strict: an operand that is the NULL constant makes the result NULL
 * whatever the other one is, and PostgreSQL folds them so before any row is read (`i * 2 <= NULL` is NULL
 * even where i * 2 would overflow). */
static bool strict_with_null(const bexpr *e)
{
    if (e->kind != B_CMP && e->kind != B_ARITH)
        return false;
    for (int i = 0; i < e->nargs; i++)
        if (e->args[i]->kind == B_CONST && e->args[i]->val.null)
            return true;
    return false;
}

static bexpr *maybe_fold(binder *b, bexpr *e)
{
    if (e && strict_with_null(e))
        return null_const(b, e->type, e->pos);
    e = prune(b, e);
    if (e && e->kind != B_CONST && e->kind != B_ERROR && is_const(e))
        return fold(b, e);
    return e;
}

static bexpr *func_call(binder *b, func_id f, sql_type t, int pos, bexpr **args, int nargs, int aux)
{
    bexpr *e = mk(b, B_FUNC, t, pos, nargs);
    if (!e)
        return NULL;
    e->op = f;
    e->aux = aux;
    for (int i = 0; i < nargs; i++)
        e->args[i] = args[i];
    return maybe_fold(b, e);
}

/* At most how many decimal digits (scaled, as stored) a value of integer or static numeric e has: a
 * constant's own, a column's declared precision, 10 for integer, 19 for bigint, a static numeric
 * arithmetic node's bound (aux), else the 18 of a 64-bit static numeric. */
static int num_digits(const bexpr *e)
{
    if (e->kind == B_CONST && !e->val.null && exec_phys(e->type) == P_I64) {
        uint64_t v = e->val.i < 0 ? 0 - (uint64_t)e->val.i : (uint64_t)e->val.i;
        int d = 1;
        while (v >= 10) {
            v /= 10;
            d++;
        }
        return d;
    }
    if (e->type.id == TY_INT)
        return 10;
    if (e->type.id == TY_BIGINT)
        return 19;
    if (e->kind == B_ARITH && e->aux > 0)
        return e->aux;
    if (e->type.id == TY_NUMERIC && e->type.prec)
        return e->type.prec;
    return 18;
}

static bexpr *arith(binder *b, const char *opname, int pos, bexpr *l, bexpr *r)
{
    if (!l || !r)
        return NULL;
    char b1[32], b2[32];
    int op = !strcmp(opname, "+") ? OP_ADD : !strcmp(opname, "-") ? OP_SUB : !strcmp(opname, "*") ? OP_MUL
             : !strcmp(opname, "/") ? OP_DIV : !strcmp(opname, "%") ? OP_MOD : OP_CONCAT;
    sql_type lt = l->type, rt = r->type;
    if (op == OP_CONCAT) {
        if (lt.id == TY_INTERVAL || rt.id == TY_INTERVAL)
            goto no_op;
        l = cast_to(b, l, T_TEXT, pos);
        r = cast_to(b, r, T_TEXT, pos);
        return maybe_fold(b, bin2(b, B_ARITH, OP_CONCAT, T_TEXT, pos, l, r));
    }
    /* unknown literals take the other side's type ('5' + 1, date_col - '2024-01-01') */
    if (lt.id == TY_UNKNOWN && rt.id == TY_UNKNOWN)
        goto no_op;
    if (lt.id == TY_UNKNOWN) {
        l = cast_to(b, l, rt.id == TY_DATE && op == OP_SUB ? T_DATE : rt, pos);
        lt = l ? l->type : lt;
    }
    if (rt.id == TY_UNKNOWN) {
        sql_type want = rt;
        if (is_datetime(lt.id))
            want = (op == OP_SUB && lt.id == TY_DATE) ? T_DATE : (sql_type){TY_INTERVAL, 0, 0};
        else
            want = lt;
        if (lt.id == TY_DATE && op == OP_ADD)
            want = T_INT;
        r = cast_to(b, r, want, pos);
        rt = r ? r->type : rt;
    }
    if (!l || !r)
        return NULL;
    /* dates and timestamps */
    if (is_datetime(lt.id) || is_datetime(rt.id) || lt.id == TY_INTERVAL || rt.id == TY_INTERVAL) {
        if (lt.id == TY_DATE && (rt.id == TY_INT || rt.id == TY_BIGINT) && (op == OP_ADD || op == OP_SUB))
            return maybe_fold(b, bin2(b, B_ARITH, op, T_DATE, pos, l, cast_to(b, r, T_BIGINT, pos)));
        if (rt.id == TY_DATE && lt.id == TY_INT && op == OP_ADD)
            return maybe_fold(b, bin2(b, B_ARITH, op, T_DATE, pos, cast_to(b, l, T_BIGINT, pos), r));
        if (lt.id == TY_DATE && rt.id == TY_DATE && op == OP_SUB)
            return maybe_fold(b, bin2(b, B_ARITH, OP_SUB, T_INT, pos, l, r));
        if (is_datetime(lt.id) && rt.id == TY_INTERVAL && (op == OP_ADD || op == OP_SUB)) {
            if (r->kind != B_CONST)
                return bind_err(b, pos, "interval values must be constants in factdb"), NULL;
            /* timestamptz +/- interval is timestamptz; in UTC its days are 24 hours, as for timestamp */
            sql_type rty = lt.id == TY_TIMESTAMPTZ ? T_TSTZ : T_TS;
            bexpr *args[2] = {cast_to(b, l, rty, pos), r};
            return args[0] ? func_call(b, F_DATE_ADD_IV, rty, pos, args, 2, op == OP_ADD ? 1 : -1) : NULL;
        }
        if (lt.id == TY_INTERVAL && is_datetime(rt.id) && op == OP_ADD)
            return arith(b, "+", pos, r, l);
        if ((lt.id == TY_TIMESTAMP || lt.id == TY_TIMESTAMPTZ) && (rt.id == TY_TIMESTAMP || rt.id == TY_TIMESTAMPTZ) &&
            op == OP_SUB)
            return bind_err(b, pos, "timestamp - timestamp (an interval) is not supported yet; use "
                                    "extract(epoch FROM a) - extract(epoch FROM b) for seconds"), NULL;
        goto no_op;
    }
    if (!is_numeric_family(lt.id) || !is_numeric_family(rt.id))
        goto no_op;
    if (lt.id == TY_DOUBLE || rt.id == TY_DOUBLE) {
        if (op == OP_MOD)
            goto no_op;
        return maybe_fold(b, bin2(b, B_ARITH, op, T_DOUBLE, pos, cast_to(b, l, T_DOUBLE, pos), cast_to(b, r, T_DOUBLE, pos)));
    }
    if (lt.id == TY_NUMERIC || rt.id == TY_NUMERIC) {
        int sl = lt.id == TY_NUMERIC ? lt.scale : 0, sr = rt.id == TY_NUMERIC ? rt.scale : 0;
        bool dyn = sl < 0 || sr < 0 || op == OP_DIV;
        /* A 64-bit static-scale result holds 18 digits; a result that may need more is computed with
         * 128-bit per-value scales (38 digits), so `numeric(18,0) * 10` widens instead of failing. */
        int dl = num_digits(l), dr = num_digits(r), digits;
        if (op == OP_MUL)
            digits = dl + dr;
        else
            digits = MAX(dl - sl, dr - sr) + 1 + MAX(sl, sr);
        if (digits > 18)
            dyn = true;
        if (dyn)
            return maybe_fold(b, bin2(b, B_ARITH, op, T_NUMDYN, pos, l, r));
        bexpr *e;
        if (op == OP_MUL) {
            sql_type t = {TY_NUMERIC, (int8_t)(sl + sr), 0};
            e = bin2(b, B_ARITH, op, t, pos, cast_to(b, l, (sql_type){TY_NUMERIC, (int8_t)sl, 0}, pos),
                     cast_to(b, r, (sql_type){TY_NUMERIC, (int8_t)sr, 0}, pos));
        } else {
            sql_type t = {TY_NUMERIC, (int8_t)MAX(sl, sr), 0};
            e = bin2(b, B_ARITH, op, t, pos, cast_to(b, l, t, pos), cast_to(b, r, t, pos));
        }
        if (e)
            e->aux = digits;
        return maybe_fold(b, e);
    }
    sql_type t = (lt.id == TY_BIGINT || rt.id == TY_BIGINT) ? T_BIGINT : T_INT;
    return maybe_fold(b, bin2(b, B_ARITH, op, t, pos, cast_to(b, l, t, pos), cast_to(b, r, t, pos)));
no_op:
    return bind_err(b, pos, "operator does not exist: %s %s %s", tname(unknown_to_text(lt), b1), opname,
                    tname(unknown_to_text(rt), b2)), NULL;
}

static bexpr *compare(binder *b, int op, int pos, bexpr *l, bexpr *r, const char *opname)
{
    if (!l || !r)
        return NULL;
    sql_type t;
    if (l->type.id == TY_UNKNOWN && r->type.id == TY_UNKNOWN)
        t = T_TEXT;
    else if (common_type(b, l->type, r->type, pos, "comparison:", &t)) {
        char b1[32], b2[32];
        return bind_err(b, pos, "operator does not exist: %s %s %s (cast one side, e.g. x::text)",
                        tname(unknown_to_text(l->type), b1), opname, tname(unknown_to_text(r->type), b2)), NULL;
    }
    if (t.id == TY_INTERVAL)
        return bind_err(b, pos, "comparing intervals is not supported"), NULL;
    l = cast_to(b, l, t, pos);
    r = cast_to(b, r, t, pos);
    /* put a constant on the right, so dictionary columns can compare by code */
    if (l && r && l->kind == B_CONST && r->kind != B_CONST) {
        bexpr *tmp = l;
        l = r;
        r = tmp;
        static const int flip[] = {CMP_EQ, CMP_NE, CMP_GT, CMP_GE, CMP_LT, CMP_LE};
        op = flip[op];
    }
    return maybe_fold(b, bin2(b, B_CMP, op, T_BOOL, pos, l, r));
}

static bexpr *to_bool(binder *b, bexpr *e, const char *ctx)
{
    if (!e)
        return NULL;
    char b1[32];
    if (e->type.id == TY_UNKNOWN)
        return cast_to(b, e, T_BOOL, e->pos);
    if (e->type.id != TY_BOOL)
        return bind_err(b, e->pos, "argument of %s must be type boolean, not type %s", ctx, tname(e->type, b1)), NULL;
    return e;
}

/* ---- aggregates ---- */
static const char *const AGG_NAMES[] = {"count", "sum", "avg", "min", "max", "var_samp", "variance", "stddev_samp",
                                        "stddev", "bool_and", "bool_or", "every"};

static bool is_agg_name(const char *n)
{
    for (size_t i = 0; i < ARRAY_LEN(AGG_NAMES); i++)
        if (!strcmp(n, AGG_NAMES[i]))
            return true;
    return false;
}

bool bind_has_agg(const ast *x)
{
    if (!x)
        return false;
    if (x->kind == A_FUNC && is_agg_name(x->name))
        return true;
    for (int i = 0; i < x->nargs; i++)
        if (bind_has_agg(x->args[i]))
            return true;
    return false;
}

static bool str_equal(const char *x, const char *y) { return x == y || (x && y && !strcmp(x, y)); }

static bool text_equal(const ast *x, const ast *y)
{
    if (!x->text || !y->text)
        return x->text == y->text;
    return x->text_len == y->text_len && !memcmp(x->text, y->text, x->text_len);
}

/* The operator joining args[i-1] and args[i] of an A_BIN chain. */
static const char *chain_op(const ast *x, int i) { return x->ops ? x->ops[i] : x->op; }

/* Whether x and y mean the same expression: GROUP BY keys, aggregates and ORDER BY items are matched
 * with it, so two expressions that differ in any attribute that changes a value must never be equal
 * (two extracts of different fields were once "equal" and a query returned the year as the quarter).
 * Every kind lists the attributes it uses; the switch has no default, so a new kind fails to compile
 * with -Wswitch until it is added here. Positions, depths and column qualifiers are not compared: the
 * binder has checked every qualifier against the one table of the FROM clause (resolve_quals). */
bool bind_ast_equal(const ast *x, const ast *y)
{
    if (!x || !y)
        return x == y;
    if (x->kind != y->kind || x->nargs != y->nargs)
        return false;
    switch (x->kind) {
    case A_CONST:
        if (x->lit != y->lit || !text_equal(x, y))
            return false;
        if (x->lit == L_INTERVAL && !str_equal(x->name, y->name))  /* INTERVAL '1' DAY vs '1' HOUR */
            return false;
        break;
    case A_PARAM:
        if (x->ival != y->ival)
            return false;
        break;
    case A_COLUMN:
        /* ival: the resolved column + 1 (bind_select resolves every reference first), which tells n1.x
         * from n2.x in a join */
        if (!str_equal(x->name, y->name) || (x->ival && y->ival && x->ival != y->ival))
            return false;
        break;
    case A_SUBQUERY:
        if (x->sub != y->sub || x->neg != y->neg || !str_equal(x->op, y->op))
            return false;
        break;
    case A_STAR:
        if (!str_equal(x->qual, y->qual) || !str_equal(x->schema, y->schema))
            return false;
        break;
    case A_NEG:
    case A_NOT:
        break;
    case A_BIN:
        for (int i = 1; i < x->nargs; i++)
            if (!str_equal(chain_op(x, i), chain_op(y, i)))
                return false;
        if (x->nargs < 2 && !str_equal(x->op, y->op))
            return false;
        break;
    case A_ISNULL:
    case A_IN:
    case A_BETWEEN:
        if (x->neg != y->neg)
            return false;
        break;
    case A_LIKE:
        if (x->neg != y->neg || x->ilike != y->ilike)
            return false;
        break;
    case A_CASE:
        if (x->ival != y->ival || x->has_else != y->has_else)
            return false;
        break;
    case A_CAST:
        if (x->cast_type.id != y->cast_type.id || x->cast_type.scale != y->cast_type.scale ||
            x->cast_type.prec != y->cast_type.prec)
            return false;
        break;
    case A_FUNC:
        if (!str_equal(x->name, y->name) || x->distinct != y->distinct || x->star != y->star ||
            !bind_ast_equal(x->filter, y->filter) || x->over || y->over)
            return false;
        break;
    case A_EXTRACT:
        if (!text_equal(x, y))
            return false;
        break;
    }
    for (int i = 0; i < x->nargs; i++)
        if (!bind_ast_equal(x->args[i], y->args[i]))
            return false;
    return true;
}


static bexpr *aggregate(binder *b, ast *x)
{
    if (b->scope != SCOPE_AGG)
        return bind_err(b, x->pos, "aggregate functions are not allowed %s",
                        b->scope == SCOPE_SCAN ? "in WHERE or GROUP BY" : "here"), NULL;
    if (b->in_agg)
        return bind_err(b, x->pos, "aggregate function calls cannot be nested"), NULL;
    query *q = b->q;
    for (int i = 0; i < q->naggs; i++)
        if (bind_ast_equal(b->agg_src[i], x)) {
            bexpr *e = mk(b, B_INPUT, q->aggs[i].type, x->pos, 0);
            if (e)
                e->input = q->nkeys + i;
            return e;
        }
    agg_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.distinct = x->distinct;
    const char *n = x->name;
    char b1[32];
    if (!strcmp(n, "count") && x->star) {
        sp.fn = AG_COUNT_STAR;
    } else {
        if (x->star)
            return bind_err(b, x->pos, "%s(*) is not allowed; only count(*)", n), NULL;
        if (x->nargs != 1)
            return bind_err(b, x->pos, "%s takes exactly one argument", n), NULL;
        b->in_agg = true;
        b->scope = SCOPE_SCAN;
        sp.arg = bind(b, x->args[0]);
        b->scope = SCOPE_AGG;
        b->in_agg = false;
        if (!sp.arg)
            return NULL;
        if (sp.arg->type.id == TY_UNKNOWN)
            sp.arg = cast_to(b, sp.arg, T_TEXT, x->pos);
        if (!sp.arg)
            return NULL;
        sql_type at = sp.arg->type;
        bool num = is_numeric_family(at.id);
        if (!strcmp(n, "count"))
            sp.fn = AG_COUNT;
        else if (!strcmp(n, "sum") || !strcmp(n, "avg")) {
            sp.fn = n[0] == 's' ? AG_SUM : AG_AVG;
            if (!num && at.id != TY_INTERVAL)
                return bind_err(b, x->pos, "function %s(%s) does not exist", n, tname(at, b1)), NULL;
            if (at.id == TY_INTERVAL)
                return bind_err(b, x->pos, "%s over intervals is not supported", n), NULL;
        } else if (!strcmp(n, "min") || !strcmp(n, "max"))
            sp.fn = n[1] == 'i' ? AG_MIN : AG_MAX;
        else if (!strcmp(n, "var_samp") || !strcmp(n, "variance") || !strcmp(n, "stddev_samp") || !strcmp(n, "stddev")) {
            sp.fn = (n[0] == 'v') ? AG_VAR : AG_STDDEV;
            if (!num)
                return bind_err(b, x->pos, "function %s(%s) does not exist", n, tname(at, b1)), NULL;
        } else {
            sp.fn = !strcmp(n, "bool_or") ? AG_BOOL_OR : AG_BOOL_AND;
            if (at.id != TY_BOOL)
                return bind_err(b, x->pos, "function %s(%s) does not exist", n, tname(at, b1)), NULL;
        }
        /* DISTINCT cannot change min, max, bool_and or bool_or: they run as the plain aggregate */
        if (sp.fn == AG_MIN || sp.fn == AG_MAX || sp.fn == AG_BOOL_AND || sp.fn == AG_BOOL_OR)
            sp.distinct = false;
    }
    switch (sp.fn) {
    case AG_COUNT_STAR:
    case AG_COUNT: sp.type = T_BIGINT; break;
    case AG_SUM:
        sp.type = sp.arg->type.id == TY_DOUBLE ? T_DOUBLE : sp.arg->type.id == TY_INT ? T_BIGINT : T_NUMDYN;
        break;
    case AG_AVG: sp.type = sp.arg->type.id == TY_DOUBLE ? T_DOUBLE : T_NUMDYN; break;
    case AG_MIN:
    case AG_MAX: sp.type = sp.arg->type; break;
    case AG_VAR:
    case AG_STDDEV: sp.type = T_DOUBLE; break;
    default: sp.type = T_BOOL; break;
    }
    if (x->filter) {
        b->in_agg = true;
        b->scope = SCOPE_SCAN;
        sp.filter = to_bool(b, bind(b, x->filter), "FILTER");
        b->scope = SCOPE_AGG;
        b->in_agg = false;
        if (!sp.filter)
            return NULL;
    }
    agg_spec *na = grow(b, q->aggs, q->naggs, &b->aggs_cap, sizeof *q->aggs);
    if (!na)
        return bind_err(b, x->pos, "out of memory"), NULL;
    q->aggs = na;
    q->aggs[q->naggs] = sp;
    ast **ns = grow(b, b->agg_src, q->naggs, &b->agg_src_cap, sizeof *b->agg_src);
    if (!ns)
        return bind_err(b, x->pos, "out of memory"), NULL;
    b->agg_src = ns;
    b->agg_src[q->naggs] = x;
    bexpr *e = mk(b, B_INPUT, sp.type, x->pos, 0);
    if (e)
        e->input = q->nkeys + q->naggs;
    q->naggs++;
    return e;
}

/* ---- functions ---- */
static const char *const TRUNC_UNITS[] = {"second", "minute", "hour", "day", "week", "month", "quarter", "year", "decade", "century"};
static const char *const EXTRACT_FIELDS[] = {"year", "quarter", "month", "week", "day", "dow", "isodow", "doy",
                                             "hour", "minute", "second", "epoch", "millennium", "century", "decade",
                                             "timezone", "timezone_hour", "timezone_minute"};

static int const_text(binder *b, bexpr *e, const char *what, char *buf, size_t cap)
{
    if (!e || e->kind != B_CONST || e->val.null || (e->type.id != TY_UNKNOWN && e->type.id != TY_TEXT))
        return bind_err(b, e ? e->pos : 0, "%s must be a constant string", what);
    snprintf(buf, cap, "%.*s", (int)MIN(e->val.s.len, cap - 1), e->val.s.p);
    for (char *c = buf; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c + 32);
    return 0;
}

static bool bad_nargs(binder *b, const ast *x, int lo, int hi)
{
    if (x->nargs >= lo && x->nargs <= hi)
        return false;
    if (lo == hi)
        bind_err(b, x->pos, "function %s takes %d argument%s, not %d", x->name, lo, lo == 1 ? "" : "s", x->nargs);
    else
        bind_err(b, x->pos, "function %s takes %d to %d arguments, not %d", x->name, lo, hi, x->nargs);
    return true;
}

/* NULLIF(a, b): compared in the common type of a and b (PostgreSQL's `=` operator for the pair), the
 * result is a promoted to that type (NULLIF(1, 0.73) is numeric 1, NULLIF(1, 2.5::float8) a double), except
 * where PostgreSQL has a cross-type `=` that keeps a's own type: integer with bigint, date with timestamp
 * (NULLIF(1, 5000000000) is the integer 1). `t` is the common type. */
static bexpr *nullif(binder *b, ast *x, bexpr **a, sql_type t)
{
    t = unknown_to_text(t);
    if (t.id == TY_NUMERIC)
        t.prec = 0;
    t = branch_type(t, a, 2, 1, 0);
    sql_type at = a[0]->type;
    bool keep_a = ((at.id == TY_INT || at.id == TY_BIGINT) && (t.id == TY_INT || t.id == TY_BIGINT)) ||
                  (at.id == TY_DATE && t.id == TY_TIMESTAMP);
    for (int i = 0; i < 2; i++)
        if (!(a[i] = cast_to(b, a[i], t, x->pos)))
            return NULL;
    bexpr *e = mk(b, B_NULLIF, t, x->pos, 2);
    if (!e)
        return NULL;
    e->args[0] = a[0];
    e->args[1] = a[1];
    e = maybe_fold(b, e);
    return keep_a && e ? cast_to(b, e, at, x->pos) : e;  /* a's values fit: they came from its type */
}

/* String functions take text: PostgreSQL casts only unknown-typed values (quoted literals, NULL) to it
 * implicitly, so upper(1) or length(a_date) is an error there, and here. */
static bool text_args(binder *b, ast *x, bexpr **a, int from, int to)
{
    for (int i = from; i < to; i++) {
        if (a[i]->type.id != TY_TEXT && a[i]->type.id != TY_UNKNOWN) {
            char types[8 * 34] = "", b1[32];  /* PostgreSQL's form: every argument's type, unknown as text */
            for (int j = 0; j < x->nargs; j++)
                snprintf(types + strlen(types), sizeof types - strlen(types), "%s%s", j ? ", " : "",
                         tname(unknown_to_text(a[j]->type), b1));
            bind_err(b, x->args[i]->pos, "function %s(%s) does not exist: argument %d must be text; cast it "
                     "(e.g. x::text)", x->name, types, i + 1);
            return false;
        }
        if (!(a[i] = cast_to(b, a[i], T_TEXT, x->pos)))
            return false;
    }
    return true;
}

static bexpr *function(binder *b, ast *x)
{
    const char *n = x->name;
    if (is_agg_name(n))
        return aggregate(b, x);
    static const char *const window_only[] = {"row_number", "rank", "dense_rank", "percent_rank", "cume_dist",
                                              "ntile", "lag", "lead", "first_value", "last_value", "nth_value"};
    for (size_t i = 0; i < ARRAY_LEN(window_only); i++)
        if (!strcmp(n, window_only[i]))
            return bind_err(b, x->pos, "window function %s requires an OVER clause", n), NULL;
    if (x->distinct || x->star || x->filter)
        return bind_err(b, x->pos, "DISTINCT, * and FILTER apply only to aggregate functions; %s is not one", n), NULL;
    if (!strcmp(n, "string_agg") || !strcmp(n, "array_agg"))
        return bind_err(b, x->pos, "function %s does not exist: factdb has no %s yet; fetch the values (ORDER BY "
                        "them) and join them in the application", n, n), NULL;
    if (x->agg_order_pos)
        return bind_err(b, x->agg_order_pos, "ORDER BY specified, but %s is not an aggregate function", n), NULL;
    bexpr *a[8] = {0};
    if (x->nargs > 8)
        return bind_err(b, x->pos, "too many arguments to %s", n), NULL;
    for (int i = 0; i < x->nargs; i++)
        if (!(a[i] = bind(b, x->args[i])))
            return NULL;
    int na = x->nargs;
    char b1[32];
    if (!strcmp(n, "lower") || !strcmp(n, "upper") || !strcmp(n, "length") || !strcmp(n, "char_length")) {
        if (bad_nargs(b, x, 1, 1))
            return NULL;
        if (!text_args(b, x, a, 0, 1))
            return NULL;
        func_id f = n[0] == 'l' && n[1] == 'o' ? F_LOWER : n[0] == 'u' ? F_UPPER : F_LENGTH;
        return func_call(b, f, f == F_LENGTH ? T_INT : T_TEXT, x->pos, a, 1, 0);
    }
    if (!strcmp(n, "substring") || !strcmp(n, "substr")) {
        if (bad_nargs(b, x, 2, 3))
            return NULL;
        if (!text_args(b, x, a, 0, 1))
            return NULL;
        for (int i = 1; i < na; i++)
            if (!(a[i] = cast_to(b, a[i], T_BIGINT, x->pos)))
                return NULL;
        return func_call(b, F_SUBSTR, T_TEXT, x->pos, a, na, 0);
    }
    if (!strcmp(n, "trim") || !strcmp(n, "btrim") || !strcmp(n, "ltrim") || !strcmp(n, "rtrim")) {
        if (bad_nargs(b, x, 1, 2))
            return NULL;
        if (!text_args(b, x, a, 0, na))
            return NULL;
        func_id f = n[0] == 'l' ? F_LTRIM : n[0] == 'r' ? F_RTRIM : F_TRIM;
        return func_call(b, f, T_TEXT, x->pos, a, na, 0);
    }
    if (!strcmp(n, "replace")) {
        if (bad_nargs(b, x, 3, 3))
            return NULL;
        if (!text_args(b, x, a, 0, na))
            return NULL;
        return func_call(b, F_REPLACE, T_TEXT, x->pos, a, na, 0);
    }
    if (!strcmp(n, "abs") || !strcmp(n, "sign")) {
        if (bad_nargs(b, x, 1, 1))
            return NULL;
        if (a[0]->type.id == TY_UNKNOWN)
            a[0] = cast_to(b, a[0], T_DOUBLE, x->pos);
        if (!a[0] || !is_numeric_family(a[0]->type.id))
            return a[0] ? bind_err(b, x->pos, "function %s(%s) does not exist", n, tname(a[0]->type, b1)), NULL : NULL;
        sql_type t = a[0]->type;
        if (t.id == TY_NUMERIC)
            t.prec = 0;
        if (n[0] == 's')
            t = t.id == TY_DOUBLE ? T_DOUBLE : t.id == TY_NUMERIC ? (sql_type){TY_NUMERIC, 0, 0} : t;
        return func_call(b, n[0] == 'a' ? F_ABS : F_SIGN, t, x->pos, a, 1, 0);
    }
    if (!strcmp(n, "sqrt") || !strcmp(n, "power") || !strcmp(n, "pow")) {
        if (bad_nargs(b, x, n[0] == 's' ? 1 : 2, n[0] == 's' ? 1 : 2))
            return NULL;
        for (int i = 0; i < na; i++)
            if (!(a[i] = cast_to(b, a[i], T_DOUBLE, x->pos)))
                return NULL;
        return func_call(b, n[0] == 's' ? F_SQRT : F_POWER, T_DOUBLE, x->pos, a, na, 0);
    }
    if (!strcmp(n, "round") || !strcmp(n, "trunc") || !strcmp(n, "floor") || !strcmp(n, "ceil") || !strcmp(n, "ceiling")) {
        func_id f = n[0] == 'r' ? F_ROUND : n[0] == 't' ? F_TRUNC : n[0] == 'f' ? F_FLOOR : F_CEIL;
        if (bad_nargs(b, x, 1, (f == F_ROUND || f == F_TRUNC) ? 2 : 1))
            return NULL;
        if (a[0]->type.id == TY_UNKNOWN || a[0]->type.id == TY_INT || a[0]->type.id == TY_BIGINT)
            a[0] = cast_to(b, a[0], na == 2 ? T_NUMDYN : T_DOUBLE, x->pos);
        if (!a[0])
            return NULL;
        if (a[0]->type.id == TY_DOUBLE) {
            if (na == 2)
                return bind_err(b, x->pos, "function %s(double precision, integer) does not exist; cast the first "
                                           "argument to numeric", n), NULL;
            return func_call(b, f, T_DOUBLE, x->pos, a, 1, 0);
        }
        if (a[0]->type.id != TY_NUMERIC)
            return bind_err(b, x->pos, "function %s(%s) does not exist", n, tname(a[0]->type, b1)), NULL;
        int digits = 0;
        if (na == 2) {
            if (a[1]->kind != B_CONST || a[1]->val.null || (a[1]->type.id != TY_INT && a[1]->type.id != TY_BIGINT))
                return bind_err(b, x->pos, "the second argument of %s must be an integer constant in factdb", n), NULL;
            digits = (int)a[1]->val.i;
            if (digits > 30 || digits < -30)
                return bind_err(b, x->pos, "%s to %d digits is out of range", n, digits), NULL;
        }
        int to = MAX(digits, 0);
        /* negative digits round to tens/hundreds: done at scale 0 with the same rule */
        /* 64-bit static scale only when the rounded value surely fits 18 digits (a carry adds one) */
        bool fits = to <= 18 && a[0]->type.scale >= 0 && num_digits(a[0]) - a[0]->type.scale + 1 + to <= 18;
        sql_type t = fits ? (sql_type){TY_NUMERIC, (int8_t)to, 0} : T_NUMDYN;
        if (digits < 0) {
            /* x rounded to 10^-digits: divide the problem into a scale-0 rounding of x / 10^k */
            return bind_err(b, x->pos, "%s with negative digits is not supported yet", n), NULL;
        }
        return func_call(b, f, t, x->pos, a, 1, to);
    }
    if (!strcmp(n, "greatest") || !strcmp(n, "least") || !strcmp(n, "coalesce") || !strcmp(n, "nullif")) {
        if (na < 1 || (n[0] == 'n' && na != 2))
            return bind_err(b, x->pos, "function %s needs %s arguments", n, n[0] == 'n' ? "2" : "at least 1"), NULL;
        sql_type t = a[0]->type;
        for (int i = 1; i < na; i++)
            if (common_type(b, t, a[i]->type, a[i]->pos, n[0] == 'c' ? "COALESCE" : n[0] == 'n' ? "NULLIF" : n, &t))
                return NULL;
        if (n[0] == 'n')
            return nullif(b, x, a, t);
        t = unknown_to_text(t);
        if (t.id == TY_NUMERIC)
            t.prec = 0;
        t = branch_type(t, a, na, 1, 0);
        for (int i = 0; i < na; i++)
            if (!(a[i] = cast_to(b, a[i], t, x->pos)))
                return NULL;
        if (n[0] == 'g' || n[0] == 'l')
            return func_call(b, n[0] == 'g' ? F_GREATEST : F_LEAST, t, x->pos, a, na, 0);
        bexpr *e = mk(b, n[0] == 'c' ? B_COALESCE : B_NULLIF, t, x->pos, na);
        if (!e)
            return NULL;
        for (int i = 0; i < na; i++)
            e->args[i] = a[i];
        return maybe_fold(b, e);
    }
    if (!strcmp(n, "date_trunc")) {
        if (bad_nargs(b, x, 2, 2))
            return NULL;
        char unit[32];
        if (const_text(b, a[0], "the first argument of date_trunc", unit, sizeof unit))
            return NULL;
        int u = -1;
        for (size_t i = 0; i < ARRAY_LEN(TRUNC_UNITS); i++)
            if (!strcmp(unit, TRUNC_UNITS[i]))
                u = (int)i;
        if (u < 0)
            return bind_err(b, a[0]->pos, "unit \"%s\" not recognized by date_trunc; use second, minute, hour, day, week, "
                                          "month, quarter, year, decade or century", unit), NULL;
        if (a[1]->type.id == TY_UNKNOWN)
            a[1] = cast_to(b, a[1], T_TS, x->pos);
        if (!a[1] || !is_datetime(a[1]->type.id))
            return a[1] ? bind_err(b, x->pos, "function date_trunc(unknown, %s) does not exist", tname(a[1]->type, b1)), NULL : NULL;
        /* timestamptz truncates in the session time zone, UTC: the same arithmetic as timestamp */
        sql_type rty = a[1]->type.id == TY_TIMESTAMPTZ ? T_TSTZ : T_TS;
        a[0] = cast_to(b, a[1], rty, x->pos);
        return a[0] ? func_call(b, F_DATE_TRUNC, rty, x->pos, a, 1, u) : NULL;
    }
    if (!strcmp(n, "date_part")) {
        if (bad_nargs(b, x, 2, 2))
            return NULL;
        char field[32];
        if (const_text(b, a[0], "the first argument of date_part", field, sizeof field))
            return NULL;
        a[0] = a[1];
        return NULL == a[0] ? NULL : bind_extract(b, field, a[0], x->pos, true);
    }
    if (!strcmp(n, "now") || !strcmp(n, "current_date") || !strcmp(n, "current_timestamp")) {
        if (bad_nargs(b, x, 0, 0))
            return NULL;
        bexpr *e = mk(b, B_CONST, n[0] == 'c' && n[8] == 'd' ? T_DATE : T_TSTZ, x->pos, 0);
        if (!e)
            return NULL;
        e->val.type = e->type;
        e->val.i = e->type.id == TY_DATE ? b->now_us / 86400000000LL : b->now_us;
        return e;
    }
    if (!strcmp(n, "pg_table_is_visible")) {
        /* catalog queries (psql, SQLAlchemy) ask it of pg_class.oid: every relation is in public, which
         * is on the search path */
        if (bad_nargs(b, x, 1, 1))
            return NULL;
        bexpr *e = mk(b, B_CONST, T_BOOL, x->pos, 0);
        if (!e)
            return NULL;
        e->val.type = e->type;
        e->val.i = 1;
        return e;
    }
    return bind_err(b, x->pos, "function %s does not exist (see docs/sql.md for the functions factdb has)", n), NULL;
}

bexpr *bind_extract(void *bp, const char *field, bexpr *arg, int pos, bool as_double)
{
    binder *b = bp;
    int f = -1;
    for (size_t i = 0; i < ARRAY_LEN(EXTRACT_FIELDS); i++)
        if (!strcmp(field, EXTRACT_FIELDS[i]))
            f = (int)i;
    if (f < 0)
        return bind_err(b, pos, "unit \"%s\" not recognized; use year, quarter, month, week, day, dow, isodow, doy, "
                                "hour, minute, second, epoch or (for timestamptz) timezone, timezone_hour, timezone_minute", field), NULL;
    if (arg->type.id == TY_UNKNOWN)
        arg = cast_to(b, arg, T_TS, pos);
    char b1[32];
    if (!arg || !is_datetime(arg->type.id))
        return arg ? bind_err(b, pos, "extract from %s is not supported", tname(arg->type, b1)), NULL : NULL;
    bool is_date = arg->type.id == TY_DATE;
    if (is_date && (f == 8 || f == 9 || f == 10))
        return bind_err(b, pos, "unit \"%s\" not supported for type date", field), NULL;
    if (f >= 15 && arg->type.id != TY_TIMESTAMPTZ)  /* the time zone fields (always 0: the zone is UTC) */
        return bind_err(b, pos, "unit \"%s\" not supported for type %s", field, tname(arg->type, b1)), NULL;
    sql_type t = as_double ? T_DOUBLE : (sql_type){TY_NUMERIC, (int8_t)((f == 10 || (f == 11 && !is_date)) ? 6 : 0), 0};
    bexpr *args[1] = {arg};
    return func_call(b, F_EXTRACT, t, pos, args, 1, f);
}

/* ---- the main switch ---- */
static bexpr *agg_group_match(binder *b, ast *x)
{
    for (int i = 0; i < b->ngroup; i++)
        if (bind_ast_equal(b->group_asts[i], x)) {
            bexpr *e = mk(b, B_INPUT, b->q->keys[i]->type, x->pos, 0);
            if (e)
                e->input = i;
            return e;
        }
    return NULL;
}

static int cmp_set_values(const void *x, const void *y) { return exec_compare_values(x, y); }

/* Sorts and de-duplicates a constant list for binary search (qsort: a 200,000-value IN list was an
 * insertion sort, 20 s). A list of 64-bit integers (integers, numerics of the argument's scale, dates,
 * timestamps) is searched as integers (set_ints); one without NULL whose range is small for its size also
 * gets a bitmap over that range, tested
 * with one bit per row instead of a search (TPC-H Q20's `ps_partkey IN (SELECT p_partkey ...)`: 2,195
 * keys, 800k rows). An allocation failure leaves the search. */
static void sort_set(binder *b, bexpr *e)
{
    if (e->nset < 2)
        return;
    qsort(e->set, (size_t)e->nset, sizeof *e->set, cmp_set_values);
    int k = 1;
    for (int i = 1; i < e->nset; i++)
        if (exec_compare_values(&e->set[k - 1], &e->set[i]))
            e->set[k++] = e->set[i];
    e->nset = k;
    sql_type t = e->args[0]->type;
    if (exec_phys(t) != P_I64)
        return;
    for (int i = 0; i < e->nset; i++)
        if (e->set[i].null || e->set[i].type.id != t.id || (t.id == TY_NUMERIC && e->set[i].type.scale != t.scale))
            return;
    e->set_ints = true;
    if (e->nset < 16 || e->set_has_null)
        return;
    int64_t lo = e->set[0].i, hi = e->set[e->nset - 1].i;
    uint64_t len = (uint64_t)hi - (uint64_t)lo + 1;
    if (len > ((uint64_t)1 << 24) || len / 64 > (uint64_t)e->nset * 8)
        return;  /* over 2 MiB, or more than 8 words per value */
    uint64_t *bits = sql_arena_alloc(b->a, (size_t)((len + 63) / 64) * 8);
    if (!bits)
        return;
    for (int i = 0; i < e->nset; i++) {
        uint64_t d = (uint64_t)e->set[i].i - (uint64_t)lo;
        bits[d >> 6] |= 1ull << (d & 63);
    }
    e->bits = bits;
    e->bits_min = lo;
    e->bits_len = len;
}

/* Adds args (flattening nested nodes of the same kind, as `(a AND b) AND c` or BETWEEN inside AND make)
 * to the n-ary AND/OR under construction. */
static int logic_push(binder *b, bexpr ***v, int *n, int *cap, bexpr *e, bkind k)
{
    int m = e->kind == k ? e->nargs : 1;
    if (*n + m > *cap) {
        int nc = MAX(*cap * 2, *n + m + 8);
        bexpr **nv = sql_arena_alloc(b->a, (size_t)nc * sizeof *nv);
        if (!nv)
            return bind_err(b, e->pos, "the query is too large (memory limit while binding)");
        if (*n)
            memcpy(nv, *v, (size_t)*n * sizeof *nv);
        *v = nv;
        *cap = nc;
    }
    for (int i = 0; i < m; i++)
        (*v)[(*n)++] = e->kind == k ? e->args[i] : e;
    return 0;
}

/* In an OR, `col = c1 OR col = c2 OR ...` (what tools generate instead of IN) becomes `col IN (c1, c2,
 * ...)`; in an AND, `col <> c1 AND col <> c2` becomes NOT IN. Same three-valued result (a NULL constant
 * makes a non-match NULL either way), but one hash-free binary search per row instead of one node, one
 * vector and one pass per term: a 10,000-term OR needed 30,000 nodes and their vectors per thread. */
static int merge_in_terms(binder *b, bexpr **v, int *n, bool is_or)
{
    int cmp = is_or ? CMP_EQ : CMP_NE;
    for (int i = 0; i < *n; i++) {
        bexpr *t = v[i];
        if (t->kind != B_CMP || t->op != cmp || t->args[0]->kind != B_INPUT || t->args[1]->kind != B_CONST)
            continue;
        int cnt = 0;
        for (int j = i; j < *n; j++) {
            bexpr *u = v[j];
            cnt += u->kind == B_CMP && u->op == cmp && u->args[0]->kind == B_INPUT && u->args[1]->kind == B_CONST &&
                   u->args[0]->input == t->args[0]->input && same_type(u->args[0]->type, t->args[0]->type);
        }
        if (cnt < 2)
            continue;
        bexpr *e = mk(b, B_IN, T_BOOL, t->pos, 1);
        if (!e || !(e->set = sql_arena_alloc(b->a, (size_t)cnt * sizeof *e->set)))
            return bind_err(b, t->pos, "the query is too large (memory limit while binding)");
        e->args[0] = t->args[0];
        e->neg = !is_or;
        int k = i + 1;  /* v[i] (a merged term) becomes the IN; kept terms move down behind it */
        for (int j = i; j < *n; j++) {
            bexpr *u = v[j];
            if (u->kind == B_CMP && u->op == cmp && u->args[0]->kind == B_INPUT && u->args[1]->kind == B_CONST &&
                u->args[0]->input == t->args[0]->input && same_type(u->args[0]->type, t->args[0]->type)) {
                if (u->args[1]->val.null) {
                    e->set_has_null = true;
                } else {
                    e->set[e->nset] = u->args[1]->val;
                    e->set[e->nset++].type = u->args[0]->type;
                }
                continue;
            }
            v[k++] = u;
        }
        sort_set(b, e);
        v[i] = e;
        *n = k;
    }
    return 0;
}

/* a AND b AND ... / a OR b OR ...: one n-ary node, flattened, constants folded. */
static bexpr *logic_chain(binder *b, ast *x, bool is_and)
{
    bkind k = is_and ? B_AND : B_OR;
    bexpr **v = NULL;
    int n = 0, cap = 0;
    for (int i = 0; i < x->nargs; i++) {
        bexpr *e = to_bool(b, bind(b, x->args[i]), is_and ? "AND" : "OR");
        if (!e || logic_push(b, &v, &n, &cap, e, k))
            return NULL;
    }
    if (merge_in_terms(b, v, &n, !is_and))
        return NULL;
    if (n == 1)
        return v[0];
    bexpr *e = mk(b, k, T_BOOL, x->pos, 0);
    if (!e)
        return NULL;
    e->args = v;
    e->nargs = n;
    return maybe_fold(b, e);
}

/* a + b - c ...: applied left to right, each step typed as PostgreSQL types a binary operator. The
 * result is a left-deep tree of binary nodes, which the evaluator walks iteratively (eval.c). */
static bexpr *arith_chain(binder *b, ast *x)
{
    bexpr *acc = bind(b, x->args[0]);
    for (int i = 1; i < x->nargs && acc; i++) {
        bexpr *r = bind(b, x->args[i]);
        /* a RANGE frame's bound (x->distinct, set by the planner): integers are added as numerics, so that a
         * bound past the bigint range reaches the partition's end instead of overflowing, as in PostgreSQL */
        if (r && x->distinct && (acc->type.id == TY_INT || acc->type.id == TY_BIGINT) &&
            (r->type.id == TY_INT || r->type.id == TY_BIGINT)) {
            sql_type num = {TY_NUMERIC, -1, 0};
            if (!(acc = cast_to(b, acc, num, x->pos)) || !(r = cast_to(b, r, num, x->pos)))
                return NULL;
        }
        const char *op = x->ops ? x->ops[i] : x->op;
        int pos = x->op_pos ? x->op_pos[i] : x->pos;
        acc = r ? arith(b, op, pos, acc, r) : NULL;
    }
    return acc;
}

/* An uncorrelated subquery, run by the planner's hook while binding: its value (scalar), whether it has a
 * row (EXISTS), or its values as the constant set of x IN (...). */
static bexpr *subquery(binder *b, ast *x)
{
    if (!b->hooks || !b->hooks->subquery)
        return bind_err(b, x->pos, "subqueries are not supported here"), NULL;
    sql_value *vals = NULL;
    size_t n = 0;
    sql_type st = {TY_UNKNOWN, 0, 0};
    if (b->hooks->subquery(b->hooks->ctx, x, b->a, &vals, &n, &st, b->err))
        return NULL;
    if (!strcmp(x->op, "exists")) {
        bexpr *e = mk(b, B_CONST, T_BOOL, x->pos, 0);
        if (e)
            e->val = (sql_value){.type = T_BOOL, .i = n > 0};
        return e;
    }
    if (!strcmp(x->op, "scalar")) {
        bexpr *e = mk(b, B_CONST, st, x->pos, 0);
        if (e) {
            if (n)
                e->val = vals[0];
            else
                e->val = (sql_value){.null = true};
            e->val.type = st;
        }
        return e;
    }
    bexpr *v = bind(b, x->args[0]);
    if (!v)
        return NULL;
    if (!n) {
        /* x IN (no rows) is false and x NOT IN (no rows) true, even for a NULL x */
        bexpr *e = mk(b, B_CONST, T_BOOL, x->pos, 0);
        if (e)
            e->val = (sql_value){.type = T_BOOL, .i = x->neg};
        return e;
    }
    sql_type t;
    if (common_type(b, v->type, st, x->pos, "IN:", &t))
        return NULL;
    t = unknown_to_text(t);
    if (t.id == TY_NUMERIC)
        t.prec = 0;
    if (!(v = cast_to(b, v, t, x->pos)))
        return NULL;
    bexpr *e = mk(b, B_IN, T_BOOL, x->pos, 1);
    if (!e)
        return NULL;
    e->args[0] = v;
    e->neg = x->neg;
    e->set = sql_arena_alloc(b->a, (n + 1) * sizeof *e->set);
    if (!e->set)
        return bind_err(b, x->pos, "out of memory"), NULL;
    for (size_t i = 0; i < n; i++) {
        if (vals[i].null) {
            e->set_has_null = true;
            continue;
        }
        sql_value c;
        vals[i].type = st;
        if (exec_cast_value(&vals[i], t, x->pos, b->a, &c, b->err))
            return NULL;
        c.type = t;
        e->set[e->nset++] = c;
    }
    sort_set(b, e);
    return maybe_fold(b, e);
}

static bexpr *bind(binder *b, ast *x)
{
    if (b->cancel && !(++b->nbind & 255) && atomic_load_explicit(b->cancel, memory_order_relaxed))
        return bind_err(b, x->pos, "canceling statement due to user request"), NULL;
    if (b->scope == SCOPE_AGG && !b->in_agg) {
        bexpr *g = agg_group_match(b, x);
        if (g || b->err->code)
            return g;
    }
    char b1[32];
    switch (x->kind) {
    case A_CONST: return literal(b, x);
    case A_PARAM: return param(b, x);
    case A_COLUMN: return column(b, x);
    case A_SUBQUERY: return subquery(b, x);
    case A_STAR: return bind_err(b, x->pos, "* is allowed only as a whole select item or in count(*)"), NULL;
    case A_NEG: {
        bexpr *a = bind(b, x->args[0]);
        if (!a)
            return NULL;
        if (a->type.id == TY_UNKNOWN)  /* PostgreSQL has - for several types and does not pick one */
            return bind_err(b, x->pos, "operator is not unique: - unknown; cast the operand (e.g. -x::numeric)"), NULL;
        if (!is_numeric_family(a->type.id))
            return a ? bind_err(b, x->pos, "operator does not exist: - %s", tname(a->type, b1)), NULL : NULL;
        bexpr *e = mk(b, B_NEG, a->type, x->pos, 1);
        if (e)
            e->args[0] = a;
        return maybe_fold(b, e);
    }
    case A_NOT: {
        bexpr *a = to_bool(b, bind(b, x->args[0]), "NOT");
        bexpr *e = a ? mk(b, B_NOT, T_BOOL, x->pos, 1) : NULL;
        if (e)
            e->args[0] = a;
        return maybe_fold(b, e);
    }
    case A_BIN: {
        const char *op = x->op;
        if (!strcmp(op, "and") || !strcmp(op, "or"))
            return logic_chain(b, x, op[0] == 'a');
        static const char *arith_ops[] = {"+", "-", "*", "/", "%", "||"};
        for (size_t i = 0; i < ARRAY_LEN(arith_ops); i++)
            if (!strcmp(op, arith_ops[i]))
                return arith_chain(b, x);
        bexpr *l = bind(b, x->args[0]);
        bexpr *r = l ? bind(b, x->args[1]) : NULL;
        if (!l || !r)
            return NULL;
        static const char *cmps[] = {"=", "<>", "<", "<=", ">", ">="};
        for (int i = 0; i < 6; i++)
            if (!strcmp(op, cmps[i]))
                return compare(b, i, x->pos, l, r, op);
        return arith(b, op, x->pos, l, r);
    }
    case A_ISNULL: {
        bexpr *a = bind(b, x->args[0]);
        bexpr *e = a ? mk(b, B_ISNULL, T_BOOL, x->pos, 1) : NULL;
        if (!e)
            return NULL;
        e->args[0] = a;
        e->neg = x->neg;
        return maybe_fold(b, e);
    }
    case A_BETWEEN: {
        /* x BETWEEN lo AND hi == x >= lo AND x <= hi (NOT: x < lo OR x > hi) */
        bexpr *v = bind(b, x->args[0]);
        bexpr *lo = v ? bind(b, x->args[1]) : NULL;
        bexpr *hi = lo ? bind(b, x->args[2]) : NULL;
        if (!hi)
            return NULL;
        /* each comparison gets its own copy of x: a node is never shared, because a node's vector is
         * overwritten whenever it is evaluated again under another selection */
        bexpr *v2 = bind(b, x->args[0]);
        bexpr *c1 = v2 ? compare(b, x->neg ? CMP_LT : CMP_GE, x->pos, v, lo, x->neg ? "<" : ">=") : NULL;
        bexpr *c2 = c1 ? compare(b, x->neg ? CMP_GT : CMP_LE, x->pos, v2, hi, x->neg ? ">" : "<=") : NULL;
        return maybe_fold(b, bin2(b, x->neg ? B_OR : B_AND, 0, T_BOOL, x->pos, c1, c2));
    }
    case A_IN: {
        bexpr *v = bind(b, x->args[0]);
        if (!v)
            return NULL;
        int n = x->nargs - 1;
        bexpr **items = sql_arena_alloc(b->a, (size_t)n * sizeof *items);
        if (!items)
            return bind_err(b, x->pos, "out of memory"), NULL;
        sql_type t = v->type;
        bool all_const = true;
        for (int i = 0; i < n; i++) {
            if (!(items[i] = bind(b, x->args[i + 1])))
                return NULL;
            if (common_type(b, t, items[i]->type, items[i]->pos, "IN:", &t))
                return NULL;
            all_const &= items[i]->kind == B_CONST;
        }
        t = unknown_to_text(t);
        if (t.id == TY_NUMERIC)
            t.prec = 0;
        v = cast_to(b, v, t, x->pos);
        if (!v)
            return NULL;
        if (!all_const) {
            /* x IN (a, b) with non-constant items: x = a OR x = b (one n-ary node) */
            bexpr *acc = mk(b, x->neg ? B_AND : B_OR, T_BOOL, x->pos, n);
            if (!acc)
                return NULL;
            for (int i = 0; i < n; i++) {
                bexpr *vi = i ? cast_to(b, bind(b, x->args[0]), t, x->pos) : v;
                if (!vi)
                    return NULL;
                bexpr *c = compare(b, x->neg ? CMP_NE : CMP_EQ, x->pos, vi, items[i], x->neg ? "<>" : "=");
                if (!(acc->args[i] = c))
                    return NULL;
            }
            return n == 1 ? acc->args[0] : maybe_fold(b, acc);
        }
        bexpr *e = mk(b, B_IN, T_BOOL, x->pos, 1);
        if (!e)
            return NULL;
        e->args[0] = v;
        e->neg = x->neg;
        e->set = sql_arena_alloc(b->a, (size_t)n * sizeof *e->set);
        if (!e->set)
            return bind_err(b, x->pos, "out of memory"), NULL;
        for (int i = 0; i < n; i++) {
            bexpr *c = cast_to(b, items[i], t, items[i]->pos);
            if (!c)
                return NULL;
            if (c->val.null) {
                e->set_has_null = true;
                continue;
            }
            c->val.type = t;
            e->set[e->nset++] = c->val;
        }
        sort_set(b, e);
        return maybe_fold(b, e);
    }
    case A_LIKE: {
        bexpr *s = bind(b, x->args[0]);
        bexpr *p = s ? bind(b, x->args[1]) : NULL;
        if (!p)
            return NULL;
        if ((s->type.id != TY_TEXT && s->type.id != TY_UNKNOWN) || (p->type.id != TY_TEXT && p->type.id != TY_UNKNOWN))
            return bind_err(b, x->pos, "operator does not exist: %s %s %s", tname(unknown_to_text(s->type), b1),
                            x->ilike ? "~~*" : "~~", "text"), NULL;
        s = cast_to(b, s, T_TEXT, x->pos);
        p = cast_to(b, p, T_TEXT, x->pos);
        bexpr *e = bin2(b, B_LIKE, 0, T_BOOL, x->pos, s, p);
        if (e) {
            e->neg = x->neg;
            e->ilike = x->ilike;
        }
        return maybe_fold(b, e);
    }
    case A_CASE: {
        int npairs = (int)x->ival;
        ast *operand = x->args[0];
        bexpr *op = operand ? bind(b, operand) : NULL;
        if (operand && !op)
            return NULL;
        int nargs = npairs * 2 + (x->has_else ? 1 : 0);
        bexpr **conds = sql_arena_alloc(b->a, (size_t)(nargs + 1) * sizeof *conds);
        if (!conds)
            return bind_err(b, x->pos, "out of memory"), NULL;
        sql_type t = {TY_UNKNOWN, 0, 0};
        for (int i = 0; i < npairs; i++) {
            ast *w = x->args[1 + 2 * i];
            bexpr *c = bind(b, w);
            if (!c)
                return NULL;
            if (op) {
                bexpr *opi = i ? bind(b, operand) : op;
                c = opi ? compare(b, CMP_EQ, w->pos, opi, c, "=") : NULL;
            }
            else
                c = to_bool(b, c, "CASE/WHEN");
            if (!c)
                return NULL;
            conds[2 * i] = c;
            bexpr *v = bind(b, x->args[2 + 2 * i]);
            if (!v || common_type(b, t, v->type, v->pos, "CASE", &t))
                return NULL;
            conds[2 * i + 1] = v;
        }
        if (x->has_else) {
            bexpr *v = bind(b, x->args[x->nargs - 1]);
            if (!v || common_type(b, t, v->type, v->pos, "CASE", &t))
                return NULL;
            conds[nargs - 1] = v;
        }
        t = unknown_to_text(t);
        if (t.id == TY_NUMERIC)
            t.prec = 0;
        t = branch_type(t, conds, npairs * 2, 2, 1);
        if (x->has_else)
            t = branch_type(t, conds, nargs, 1, nargs - 1);
        bexpr *e = mk(b, B_CASE, t, x->pos, nargs);
        if (!e)
            return NULL;
        e->has_else = x->has_else;
        for (int i = 0; i < nargs; i++) {
            bool is_val = (x->has_else && i == nargs - 1) || (i % 2 == 1);
            e->args[i] = is_val ? cast_to(b, conds[i], t, conds[i]->pos) : conds[i];
            if (!e->args[i])
                return NULL;
        }
        return maybe_fold(b, e);
    }
    case A_CAST: {
        bexpr *a = bind(b, x->args[0]);
        if (!a)
            return NULL;
        sql_type t = x->cast_type;
        if (t.id == TY_NUMERIC && t.scale < 0)
            t = T_NUMDYN;
        if (a->type.id == TY_UNKNOWN && a->kind == B_CONST && t.id == TY_TEXT) {
            bexpr *c = mk(b, B_CONST, T_TEXT, a->pos, 0);
            if (c) {
                c->val = a->val;
                c->val.type = T_TEXT;
            }
            return c;
        }
        return cast_to(b, a, t, x->pos);  /* eval_cast checks a narrower precision value by value */
    }
    case A_FUNC:
        /* the planner (src/plan/window.c) takes window calls out of the places they are allowed */
        if (x->over)
            return bind_err(b, x->pos, "window functions are not allowed here"), NULL;
        return function(b, x);
    case A_EXTRACT: {
        bexpr *a = bind(b, x->args[0]);
        if (!a)
            return NULL;
        char field[32];
        snprintf(field, sizeof field, "%s", x->text);
        for (char *c = field; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c + 32);
        return bind_extract(b, field, a, x->pos, false);
    }
    }
    return bind_err(b, x->pos, "unsupported expression"), NULL;
}

/* ---- SELECT ---- */
/* PostgreSQL's column names (FigureColname): a column's or function's own name is "strong" and names a
 * CASE through its ELSE and a cast through its operand; otherwise a CASE is "case" and a cast its type. */
static const char *strong_name(const ast *x)
{
    switch (x->kind) {
    case A_COLUMN: return x->name;
    case A_FUNC: return !strcmp(x->name, "trim") ? "btrim" : x->name;  /* TRIM(x) is btrim(x) in PostgreSQL */
    case A_EXTRACT: return "extract";
    case A_CASE: return x->has_else ? strong_name(x->args[x->nargs - 1]) : NULL;
    case A_CAST: return strong_name(x->args[0]);
    default: return NULL;
    }
}

static const char *item_name(const ast *x)
{
    const char *strong = strong_name(x);
    if (strong)
        return strong;
    switch (x->kind) {
    case A_CASE: return "case";
    case A_CAST:
        switch (x->cast_type.id) {
        case TY_INT: return "int4";
        case TY_BIGINT: return "int8";
        case TY_DOUBLE: return "float8";
        case TY_NUMERIC: return "numeric";
        case TY_TEXT: return "text";
        case TY_BOOL: return "bool";
        case TY_DATE: return "date";
        case TY_TIMESTAMP: return "timestamp";
        case TY_TIMESTAMPTZ: return "timestamptz";
        default: return "?column?";
        }
    case A_CONST:
        if (x->lit == L_TRUE || x->lit == L_FALSE)
            return "bool";
        if (x->lit == L_DATE)
            return "date";
        if (x->lit == L_TIMESTAMP)
            return "timestamp";
        if (x->lit == L_TIMESTAMPTZ)
            return "timestamptz";
        if (x->lit == L_INTERVAL)
            return "interval";
        return "?column?";
    default: return "?column?";
    }
}

const char *bind_item_name(const ast *x) { return item_name(x); }

/* Zone-map predicates from the top-level conjuncts of the WHERE clause. */
static void collect_zones(binder *b, bexpr *e)
{
    if (!e)
        return;
    if (e->kind == B_AND) {
        for (int i = 0; i < e->nargs; i++)  /* flattened: its args are not ANDs */
            collect_zones(b, e->args[i]);
        return;
    }
    if (e->kind != B_CMP || e->op == CMP_NE || e->args[0]->kind != B_INPUT || e->args[1]->kind != B_CONST ||
        e->args[1]->val.null)
        return;
    query *q = b->q;
    scan_col *c = &q->cols[e->args[0]->input];
    sql_type ct = c->type, vt = e->args[1]->type;
    if (!same_type(ct, vt) || ct.id == TY_TEXT || ct.id == TY_BOOL)
        return;
    zone_pred *nz = q->nzones < 64 ? grow(b, q->zones, q->nzones, &b->zones_cap, sizeof *q->zones) : NULL;
    if (!nz)
        return;  /* zone maps only skip chunks: 64 predicates are plenty */
    q->zones = nz;
    zone_pred *z = &q->zones[q->nzones];
    z->table_col = c->table_col;
    z->store_type = c->store_type;
    z->op = (cmp_op)e->op;
    if (ct.id == TY_DOUBLE)
        memcpy(&z->v, &e->args[1]->val.d, 8);
    else
        z->v = e->args[1]->val.i;
    q->nzones++;
}

static int resolve_ordinal_or_alias(binder *b, sql_select *s, ast *x, bool alias_first, int *item)
{
    *item = -1;
    if (x->kind == A_CONST && x->lit == L_INT) {
        long long k = atoll(x->text);
        if (k < 1 || k > s->nitems)
            return bind_err(b, x->pos, "position %lld is not in select list (it has %d items)", k, s->nitems);
        *item = (int)k - 1;
        return 0;
    }
    if (x->kind == A_COLUMN && !x->qual) {  /* t.x is always a column of t, never an output name */
        bool is_col = b->rel && rel_find(b->rel, NULL, x->name) != -1;
        if (is_col && !alias_first)
            return 0;
        int found = -1;
        for (int i = 0; i < s->nitems; i++) {
            const char *nm = s->aliases[i] ? s->aliases[i] : item_name(s->items[i]);
            if (!strcmp(nm, x->name)) {
                if (found >= 0 && !bind_ast_equal(s->items[found], s->items[i]))
                    return bind_err(b, x->pos, "ORDER BY \"%s\" is ambiguous", x->name);
                if (found < 0)
                    found = i;
            }
        }
        *item = found;
    }
    return 0;
}

/* Gives the nodes that remain in the bound query slots 0..n-1. Every node built while binding took a
 * slot, including the constants folded away and IN-list items (a 40,000-value IN list made 40,000 slots
 * and each worker thread allocated a vector for each). Iterative: an arithmetic chain is a deep tree. */
static int renumber_slots(binder *b)
{
    query *q = b->q;
    size_t cap = (size_t)q->nslots + 1, n = 0;
    bexpr **stack = malloc(cap * sizeof *stack);
    if (!stack)
        return base_err(b->err, FACTDB_NOMEM, "out of memory");
    bexpr *roots[3] = {q->where, q->having, NULL};
    int next = 0;
    for (int r = -3; r < q->nkeys + q->naggs * 2 + q->nouts; r++) {
        bexpr *e = r < 0 ? roots[r + 3]
                 : r < q->nkeys ? q->keys[r]
                 : r < q->nkeys + q->naggs * 2 ? ((r - q->nkeys) % 2 ? q->aggs[(r - q->nkeys) / 2].filter
                                                                     : q->aggs[(r - q->nkeys) / 2].arg)
                 : q->outs[r - q->nkeys - q->naggs * 2];
        if (e)
            stack[n++] = e;
        while (n) {
            e = stack[--n];
            if (e->kind == B_ERROR) {
                *b->err = *e->error;
                free(stack);
                return b->err->code;
            }
            e->slot = next++;
            for (int i = 0; i < e->nargs; i++)
                if (e->args[i] && n < cap)
                    stack[n++] = e->args[i];
        }
    }
    free(stack);
    q->nslots = next;
    return 0;
}

/* ---- common subexpressions of aggregate arguments ----
 * TPC-H Q1 computes l_extendedprice * (1 - l_discount) for sum_disc_price and again inside sum_charge's
 * argument. Equal subtrees of the aggregates' arguments become one node (marked `shared`), which eval
 * computes once per selection window (eval_memo_begin) and reuses. Text results are left alone (their
 * vectors fill strings on demand), and so are trees deeper than SHARE_DEPTH (the walk is recursive). */
#define SHARE_MAX 256
#define SHARE_DEPTH 48

static bool same_value(const sql_value *a, const sql_value *b)
{
    if (a->type.id != b->type.id || a->type.scale != b->type.scale || a->type.prec != b->type.prec ||
        a->null != b->null)
        return false;
    if (a->null)
        return true;
    switch (exec_phys(a->type)) {
    case P_STR: return a->s.len == b->s.len && (!a->s.len || memcmp(a->s.p, b->s.p, a->s.len) == 0);
    case P_N128: return a->nscale == b->nscale && a->n == b->n;
    case P_IV: return a->iv.months == b->iv.months && a->iv.days == b->iv.days && a->iv.us == b->iv.us;
    case P_F64: return memcmp(&a->d, &b->d, sizeof a->d) == 0;
    default: return a->i == b->i;
    }
}

static bool same_node(const bexpr *a, const bexpr *b)
{
    if (a->kind != b->kind || a->op != b->op || a->type.id != b->type.id || a->type.scale != b->type.scale ||
        a->type.prec != b->type.prec || a->nargs != b->nargs || a->input != b->input || a->neg != b->neg ||
        a->ilike != b->ilike || a->has_else != b->has_else || a->has_operand != b->has_operand ||
        a->aux != b->aux || !same_value(&a->val, &b->val))
        return false;
    for (int i = 0; i < a->nargs; i++) {
        const bexpr *x = a->args[i], *y = b->args[i];
        /* computed children are one node already; columns and constants stay apart (a column's node holds
         * its gathered vector, see eval's B_INPUT) and are compared as leaves */
        if (x != y && !(x && y && (x->kind == B_INPUT || x->kind == B_CONST) && x->nargs == 0 && y->nargs == 0 &&
                        same_node(x, y)))
            return false;
    }
    return true;
}

static bexpr *share(bexpr *e, int depth, bexpr **reps, int *nrep)
{
    if (!e || depth > SHARE_DEPTH)
        return e;
    for (int i = 0; i < e->nargs; i++)
        e->args[i] = share(e->args[i], depth + 1, reps, nrep);
    if (e->kind == B_INPUT || e->kind == B_CONST || e->kind == B_IN || e->kind == B_ERROR ||
        exec_phys(e->type) == P_STR)
        return e;
    for (int i = 0; i < *nrep; i++)
        if (reps[i] != e && same_node(reps[i], e)) {
            reps[i]->shared = true;
            return reps[i];
        }
    if (*nrep < SHARE_MAX)
        reps[(*nrep)++] = e;
    return e;
}

static void share_agg_subexpressions(query *q)
{
    bexpr *reps[SHARE_MAX];
    int nrep = 0;
    for (int j = 0; j < q->naggs; j++)
        q->aggs[j].arg = share(q->aggs[j].arg, 0, reps, &nrep);
}

int bind_rel_of_table(sql_arena *a, const factdb_table_info *tab, const char *alias, bind_rel *out)
{
    memset(out, 0, sizeof *out);
    bind_col *cols = sql_arena_alloc(a, (tab->ncols + 1) * sizeof *cols);
    const char **quals = sql_arena_alloc(a, sizeof *quals);
    if (!cols || !quals)
        return -1;
    for (size_t i = 0; i < tab->ncols; i++) {
        const factdb_column_info *ci = &tab->cols[i];
        cols[i] = (bind_col){.name = ci->name, .qual = 0, .type = sql_type_from_store(ci->type, ci->precision, ci->scale),
                             .store_type = ci->type, .index = (int)i};
    }
    quals[0] = alias ? alias : tab->name;
    *out = (bind_rel){.name = tab->name, .table = alias ? tab->name : NULL, .cols = cols, .ncols = (int)tab->ncols,
                      .quals = quals, .nquals = 1, .schema_ok = !alias};
    return 0;
}

int bind_select(sql_arena *a, sql_select *s, const factdb_table_info *tab, const sql_value *params, int nparams,
                int64_t now_us, atomic_bool *cancel, query *q, factdb_error *err)
{
    bind_rel rel;
    if (tab && bind_rel_of_table(a, tab, s->alias, &rel))
        return base_err(err, FACTDB_NOMEM, "out of memory");
    int rc = bind_select_rel(a, s, tab ? &rel : NULL, NULL, params, nparams, now_us, cancel, q, err);
    if (!rc)
        q->table = tab ? (char *)tab->name : NULL;
    return rc;
}

/* Whether a * item (qualified or not) takes column c. */
static bool star_takes(const bind_rel *rel, const ast *star, const bind_col *c)
{
    if (!star->qual)
        return !c->hidden;
    return c->qual >= 0 && !strcmp(rel->quals[c->qual], star->qual);
}

int bind_select_rel(sql_arena *a, sql_select *s, const bind_rel *rel, const bind_hooks *hooks, const sql_value *params,
                    int nparams, int64_t now_us, atomic_bool *cancel, query *q, factdb_error *err)
{
    binder bb = {.a = a, .err = err, .q = q, .rel = rel, .hooks = hooks, .params = params, .nparams = nparams,
                 .now_us = now_us, .cancel = cancel};
    binder *b = &bb;
    memset(q, 0, sizeof *q);
    if (check_select_quals(b, s))
        return err->code;
    q->limit = -1;
    q->now_us = now_us;
    q->distinct = s->distinct;
    /* expand * */
    int nitems = 0;
    for (int i = 0; i < s->nitems; i++) {
        if (s->items[i]->kind != A_STAR) {
            nitems++;
            continue;
        }
        for (int c = 0; rel && c < rel->ncols; c++)
            nitems += star_takes(rel, s->items[i], &rel->cols[c]);
    }
    ast **items = sql_arena_alloc(a, (size_t)(nitems + 1) * sizeof *items);
    char **aliases = sql_arena_alloc(a, (size_t)(nitems + 1) * sizeof *aliases);
    if (!items || !aliases)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    int k = 0;
    for (int i = 0; i < s->nitems; i++) {
        if (s->items[i]->kind == A_STAR) {
            if (!rel)
                return bind_err(b, s->items[i]->pos, "SELECT * with no tables specified is not valid");
            for (int c = 0; c < rel->ncols; c++) {
                if (!star_takes(rel, s->items[i], &rel->cols[c]))
                    continue;
                ast *col = sql_arena_alloc(a, sizeof *col);
                if (!col)
                    return base_err(err, FACTDB_NOMEM, "out of memory");
                col->kind = A_COLUMN;
                col->pos = s->items[i]->pos;
                col->name = (char *)rel->cols[c].name;
                col->ival = c + 1;
                col->fixed = true;
                col->depth = 1;
                aliases[k] = NULL;
                items[k++] = col;
            }
        } else {
            aliases[k] = s->aliases[i];
            items[k++] = s->items[i];
        }
    }
    s->items = items;
    s->aliases = aliases;
    s->nitems = nitems;
    if (!nitems)
        return bind_err(b, 1, "SELECT needs at least one column");

    b->scope = rel ? SCOPE_SCAN : SCOPE_NONE;
    if (s->where) {
        if (bind_has_agg(s->where))
            return bind_err(b, s->where->pos, "aggregate functions are not allowed in WHERE");
        if (!(q->where = to_bool(b, bind(b, s->where), "WHERE")))
            return err->code;
        if (q->where->kind == B_CONST) {
            /* WHERE true -> no filter; WHERE false/NULL: keep, it filters everything */
            if (!q->where->val.null && q->where->val.i)
                q->where = NULL;
        }
        if (rel && !rel->relation)
            collect_zones(b, q->where);
    }
    bool agg = s->ngroup > 0 || (s->having != NULL);
    for (int i = 0; i < s->nitems; i++)
        agg |= bind_has_agg(s->items[i]);
    for (int i = 0; i < s->norder; i++)
        agg |= bind_has_agg(s->order[i].expr);
    q->agg = agg;
    if (agg) {
        /* group keys, in scan scope */
        b->group_asts = sql_arena_alloc(a, (size_t)(s->ngroup + 1) * sizeof *b->group_asts);
        q->keys = sql_arena_alloc(a, (size_t)(s->ngroup + 1) * sizeof *q->keys);
        if (!b->group_asts || !q->keys)
            return base_err(err, FACTDB_NOMEM, "out of memory");
        for (int i = 0; i < s->ngroup; i++) {
            ast *g = s->group[i];
            int item;
            if (resolve_ordinal_or_alias(b, s, g, false, &item))
                return err->code;
            if (item >= 0)
                g = s->items[item];
            if (bind_has_agg(g))
                return bind_err(b, g->pos, "aggregate functions are not allowed in GROUP BY");
            bool dup = false;
            for (int j = 0; j < b->ngroup; j++)
                dup |= bind_ast_equal(b->group_asts[j], g);
            if (dup)
                continue;
            bexpr *e = bind(b, g);
            if (!e)
                return err->code;
            if (e->type.id == TY_UNKNOWN)
                e = cast_to(b, e, T_TEXT, g->pos);
            if (exec_phys(e->type) == P_N128 || e->type.id == TY_INTERVAL)
                return bind_err(b, g->pos, "grouping by a numeric division or an interval is not supported; round() it first");
            b->group_asts[b->ngroup] = g;
            q->keys[b->ngroup++] = e;
        }
        q->nkeys = b->ngroup;
        b->ngroup = q->nkeys;
        b->scope = SCOPE_AGG;
    }
    /* outputs */
    q->outs = sql_arena_alloc(a, (size_t)(nitems + s->norder + 1) * sizeof *q->outs);
    q->names = sql_arena_alloc(a, (size_t)(nitems + s->norder + 1) * sizeof *q->names);
    q->sort = sql_arena_alloc(a, (size_t)(s->norder + 1) * sizeof *q->sort);
    if (!q->outs || !q->names || !q->sort)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    for (int i = 0; i < nitems; i++) {
        bexpr *e = bind(b, items[i]);
        if (!e)
            return err->code;
        if (e->type.id == TY_UNKNOWN) {
            e = cast_to(b, e, T_TEXT, items[i]->pos);
            if (!e)
                return err->code;
        }
        q->outs[i] = e;
        q->names[i] = aliases[i] ? aliases[i] : (char *)item_name(items[i]);
    }
    q->nouts = q->nvisible = nitems;
    if (s->having) {
        if (!(q->having = to_bool(b, bind(b, s->having), "HAVING")))
            return err->code;
    }
    for (int i = 0; i < s->norder; i++) {
        sql_order_item *o = &s->order[i];
        int item;
        if (resolve_ordinal_or_alias(b, s, o->expr, true, &item))
            return err->code;
        if (item < 0) {
            for (int j = 0; j < nitems; j++)
                if (bind_ast_equal(items[j], o->expr))
                    item = j;
        }
        if (item < 0) {
            if (q->distinct)
                return bind_err(b, o->expr->pos, "for SELECT DISTINCT, ORDER BY expressions must appear in select list");
            bexpr *e = bind(b, o->expr);
            if (!e)
                return err->code;
            if (e->type.id == TY_UNKNOWN && !(e = cast_to(b, e, T_TEXT, o->expr->pos)))
                return err->code;
            q->outs[q->nouts] = e;
            q->names[q->nouts] = "?order?";
            item = q->nouts++;
        }
        q->sort[i].col = item;
        q->sort[i].desc = o->desc;
        q->sort[i].nulls_first = o->nulls ? o->nulls == 1 : o->desc;
        if (q->outs[item]->type.id == TY_INTERVAL)
            return bind_err(b, o->expr->pos, "ordering by an interval is not supported");
    }
    q->nsort = s->norder;
    b->scope = SCOPE_NONE;
    for (int pass = 0; pass < 2; pass++) {
        ast *x = pass ? s->offset : s->limit;
        if (!x)
            continue;
        bexpr *e = bind(b, x);
        if (!e)
            return err->code;
        e = cast_to(b, e, T_BIGINT, x->pos);
        if (!e)
            return err->code;
        if (e->kind == B_ERROR)
            return (*err = *e->error).code;
        if (e->kind != B_CONST)
            return bind_err(b, x->pos, "%s must be a constant", pass ? "OFFSET" : "LIMIT");
        if (e->val.null)
            continue;
        if (e->val.i < 0)
            return sql_err(b->err, FACTDB_INVALID_VALUE, x->pos, "%s must not be negative", pass ? "OFFSET" : "LIMIT");
        if (pass)
            q->offset = e->val.i;
        else
            q->limit = e->val.i;
    }
    int rc = renumber_slots(b);
    if (!rc)
        share_agg_subexpressions(q);
    return rc;
}

/* Assignment casts: what PostgreSQL allows in INSERT and UPDATE (numbers between each other, date/time types
 * between each other, anything into text, untyped literals into anything); a typed value of another family
 * needs an explicit cast. */
static bool assignable(sql_type from, sql_type to)
{
    return from.id == TY_UNKNOWN || from.id == to.id || (is_numeric_family(from.id) && is_numeric_family(to.id)) ||
           (is_datetime(from.id) && is_datetime(to.id)) || to.id == TY_TEXT;
}

bool bind_assignable(const ast *x, sql_type from, sql_type to)
{
    /* a string literal or NULL is untyped until assigned, though a SELECT output makes it text */
    if (x->kind == A_CONST && (x->lit == L_STRING || x->lit == L_NULL))
        return true;
    return assignable(from, to);
}

int bind_value(sql_arena *a, ast *x, const sql_value *params, int nparams, int64_t now_us, sql_type to, int *nslots,
               sql_value *out, factdb_error *err)
{
    query q;
    memset(&q, 0, sizeof q);
    binder bb = {.a = a, .err = err, .q = &q, .params = params, .nparams = nparams, .now_us = now_us, .scope = SCOPE_NONE};
    bexpr *e = bind(&bb, x);
    if (!e)
        return err->code;
    if (e->kind != B_CONST && !(e = fold(&bb, e)))
        return err->code;
    if (e->kind == B_ERROR)
        return (*err = *e->error).code;
    *nslots = q.nslots;
    if (to.id == TY_UNKNOWN) {
        *out = e->val;
        out->type = unknown_to_text(e->type);
        return 0;
    }
    char b1[32], b2[32];
    sql_type from = e->type;
    if (!assignable(from, to) && !e->val.null)
        return sql_err(err, FACTDB_INVALID_VALUE, x->pos, "column is of type %s but expression is of type %s; add a cast",
                       tname(to, b1), tname(from, b2));
    return exec_cast_value(&e->val, to, x->pos, a, out, err);
}

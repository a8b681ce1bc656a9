/* window.c (plan): SELECTs with window functions. The query splits in three nodes: a PN_QUERY that runs the
 * original FROM / WHERE / GROUP BY / HAVING and computes every window-free piece (the calls' arguments,
 * PARTITION BY and ORDER BY expressions, and the parts of the select items around the calls); a PN_WINDOW
 * that appends one column per call (src/exec/window.c); and a PN_QUERY over that which evaluates the select
 * items with the calls replaced by those columns, then DISTINCT, ORDER BY and LIMIT. The original select is
 * never modified (a WITH query is planned once per reference). */
#include "plan_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sql_type T_INT = {TY_INT, 0, 0}, T_BIGINT = {TY_BIGINT, 0, 0}, T_DOUBLE = {TY_DOUBLE, 0, 0},
                      T_NUMDYN = {TY_NUMERIC, -1, 0}, T_TEXT = {TY_TEXT, 0, 0};

enum { NARGS = 6 };

/* A reference to a column of the window node, its index filled in once the first node is bound. */
typedef struct wref {
    ast *col;
    int piece;      /* >= 0: a piece; else the call -piece - 1 */
} wref;

typedef struct wplan {
    plan_ctx *c;
    ast_vec pieces;         /* window-free expressions computed by the first node */
    ast_vec calls;          /* the window calls, each once */
    int *call_args;         /* per call: NARGS piece indices (3 arguments, FILTER, the RANGE offset frame's start
                             * and end values; -1 none) */
    int **call_part, **call_order;  /* per call: the pieces of PARTITION BY and ORDER BY */
    wref *refs;
    int nrefs, refs_cap, calls_cap;
} wplan;

static bool is_window(const ast *x) { return x && x->kind == A_FUNC && x->over; }

static bool is_aggregate(const ast *x)
{
    static const char *const names[] = {"count", "sum", "avg", "min", "max", "var_samp", "variance", "stddev_samp",
                                        "stddev", "bool_and", "bool_or", "every"};
    if (!x || x->kind != A_FUNC)
        return false;
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (!strcmp(x->name, names[i]))
            return true;
    return false;
}

/* The first window call in x (not inside a subquery, which is a query of its own), or NULL. */
static const ast *find_window(const ast *x)
{
    if (!x)
        return NULL;
    if (is_window(x))
        return x;
    for (int i = 0; i < x->nargs; i++) {
        const ast *w = find_window(x->args[i]);
        if (w)
            return w;
    }
    return find_window(x->filter);
}

static const ast *find_window_from(const sql_from *f)
{
    if (!f || f->kind != F_JOIN)
        return NULL;
    const ast *w = find_window(f->on);
    if (!w)
        w = find_window_from(f->left);
    return w ? w : find_window_from(f->right);
}

bool window_present(const sql_select *s)
{
    for (int i = 0; i < s->nitems; i++)
        if (find_window(s->items[i]))
            return true;
    for (int i = 0; i < s->norder; i++)
        if (find_window(s->order[i].expr))
            return true;
    for (int i = 0; i < s->ngroup; i++)
        if (find_window(s->group[i]))
            return true;
    return s->nwindows || find_window(s->where) || find_window(s->having) || find_window_from(s->from);
}

/* Column names and qualifiers agree too (bind_ast_equal leaves qualifiers to the binder). */
static bool same_ast(const ast *x, const ast *y)
{
    if (!bind_ast_equal(x, y))
        return false;
    if (!x)
        return true;
    if ((x->qual || y->qual) && (!x->qual || !y->qual || strcmp(x->qual, y->qual)))
        return false;
    for (int i = 0; i < x->nargs; i++)
        if (!same_ast(x->args[i], y->args[i]))
            return false;
    return true;
}

static bool same_window(const ast *x, const ast *y)
{
    const sql_window *a = x->over, *b = y->over;
    /* the calls without their windows */
    ast xa = *x, ya = *y;
    xa.over = ya.over = NULL;
    if (!same_ast(&xa, &ya) || !same_ast(x->filter, y->filter))
        return false;
    if (a->npart != b->npart || a->norder != b->norder || a->frame != b->frame || a->exclude != b->exclude ||
        a->start != b->start ||
        a->end != b->end || !same_ast(a->start_off, b->start_off) || !same_ast(a->end_off, b->end_off))
        return false;
    for (int i = 0; i < a->npart; i++)
        if (!same_ast(a->part[i], b->part[i]))
            return false;
    for (int i = 0; i < a->norder; i++)
        if (a->order[i].desc != b->order[i].desc || a->order[i].nulls != b->order[i].nulls ||
            !same_ast(a->order[i].expr, b->order[i].expr))
            return false;
    return true;
}

static int add_ref(wplan *w, int piece, int pos, ast **out)
{
    plan_ctx *c = w->c;
    if (w->nrefs == w->refs_cap) {
        int cap = w->refs_cap ? 2 * w->refs_cap : 16;
        wref *v = pl_alloc(c, (size_t)cap * sizeof *v);
        if (!v)
            return pl_nomem(c);
        if (w->nrefs)
            memcpy(v, w->refs, (size_t)w->nrefs * sizeof *v);
        w->refs = v;
        w->refs_cap = cap;
    }
    char name[32];
    snprintf(name, sizeof name, piece >= 0 ? "__wp%d" : "__wc%d", piece >= 0 ? piece + 1 : -piece);
    ast *col = pl_mk_col(c, NULL, sql_arena_strndup(c->a, name, strlen(name)), pos);
    if (!col || !col->name)
        return pl_nomem(c);
    w->refs[w->nrefs++] = (wref){col, piece};
    *out = col;
    return 0;
}

/* The index of window-free x among the pieces (added when new). */
static int piece(wplan *w, ast *x, int *idx)
{
    for (int i = 0; i < w->pieces.n; i++)
        if (same_ast(w->pieces.v[i], x)) {
            *idx = i;
            return 0;
        }
    *idx = w->pieces.n;
    return pl_push(w->c, &w->pieces, x);
}

/* A window-free expression inside a call (argument, PARTITION BY, ORDER BY): a piece, after checking
 * that it holds no window call. */
static int inner_piece(wplan *w, ast *x, int *idx)
{
    const ast *f = find_window(x);
    if (f)
        return pl_perr(w->c, FACTDB_INVALID_ARGUMENT, f->pos, "window function calls cannot be nested");
    return piece(w, x, idx);
}

/* The window `win` means, with OVER w / OVER (w ...) replaced by WINDOW w's (which may itself start from an
 * earlier window of the clause: only windows[0..limit) are visible), under PostgreSQL's rules. */
static int resolve_window(plan_ctx *c, const sql_select *s, sql_window *win, int limit, sql_window **out)
{
    *out = win;
    if (!win->ref)
        return 0;
    int i = limit - 1;
    while (i >= 0 && strcmp(s->windows[i].name, win->ref))
        i--;
    if (i < 0)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, win->ref_pos, "window \"%s\" does not exist", win->ref);
    sql_window *base;
    if (resolve_window(c, s, s->windows[i].spec, i, &base))
        return c->err->code;
    if (win->bare) {
        *out = base;
        return 0;
    }
    if (win->npart)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, win->ref_pos, "cannot override PARTITION BY clause of window "
                       "\"%s\"", win->ref);
    if (win->norder && base->norder)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, win->ref_pos, "cannot override ORDER BY clause of window \"%s\"",
                       win->ref);
    if (base->frame)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, win->ref_pos, "cannot copy window \"%s\" because it has a frame "
                       "clause", win->ref);
    sql_window *n = pl_alloc(c, sizeof *n);
    if (!n)
        return pl_nomem(c);
    *n = *win;
    n->ref = NULL;
    n->part = base->part;
    n->npart = base->npart;
    if (!win->norder) {
        n->order = base->order;
        n->norder = base->norder;
    }
    *out = n;
    return 0;
}

/* The piece key - off (sub) or key + off. */
static int range_bound(wplan *w, ast *key, ast *off, bool sub, int *idx)
{
    const ast *f = find_window(off);
    if (f)
        return pl_perr(w->c, FACTDB_INVALID_ARGUMENT, f->pos, "window function calls cannot be nested");
    ast *b = pl_alloc(w->c, sizeof *b);
    ast **args = pl_alloc(w->c, 2 * sizeof *args);
    if (!b || !args)
        return pl_nomem(w->c);
    args[0] = key;
    args[1] = off;
    /* distinct: integers widen to numeric (bind.c), so a bound past bigint's range reaches the end */
    *b = (ast){.kind = A_BIN, .op = sub ? "-" : "+", .pos = off->pos, .args = args, .nargs = 2, .distinct = true,
               .depth = MAX(key->depth, off->depth) + 1};
    return piece(w, b, idx);
}

static int add_call(wplan *w, const sql_select *s, ast *x, int *idx)
{
    plan_ctx *c = w->c;
    sql_window *resolved;
    if (resolve_window(c, s, x->over, s->nwindows, &resolved))
        return c->err->code;
    if (resolved != x->over) {
        ast *y = pl_alloc(c, sizeof *y);
        if (!y)
            return pl_nomem(c);
        *y = *x;
        y->over = resolved;
        x = y;
    }
    for (int i = 0; i < w->calls.n; i++)
        if (same_window(w->calls.v[i], x)) {
            *idx = i;
            return 0;
        }
    if (x->distinct)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "DISTINCT is not implemented for window functions");
    if (x->agg_order_pos)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->agg_order_pos, "aggregate ORDER BY is not implemented for "
                       "window functions; order the window instead: OVER (ORDER BY ...)");
    if (x->filter && !is_aggregate(x))
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "FILTER is not implemented for non-aggregate window "
                                                           "functions");
    if (x->nargs > 3)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "too many arguments to window function %s", x->name);
    if (w->calls.n == w->calls_cap) {
        int cap = w->calls_cap ? 2 * w->calls_cap : 8;
        int *args = pl_alloc(c, (size_t)cap * NARGS * sizeof *args);
        int **part = pl_alloc(c, (size_t)cap * sizeof *part), **order = pl_alloc(c, (size_t)cap * sizeof *order);
        if (!args || !part || !order)
            return pl_nomem(c);
        if (w->calls.n) {
            memcpy(args, w->call_args, (size_t)w->calls.n * NARGS * sizeof *args);
            memcpy(part, w->call_part, (size_t)w->calls.n * sizeof *part);
            memcpy(order, w->call_order, (size_t)w->calls.n * sizeof *order);
        }
        w->call_args = args;
        w->call_part = part;
        w->call_order = order;
        w->calls_cap = cap;
    }
    int k = w->calls.n, *a = &w->call_args[k * NARGS];
    const sql_window *win = x->over;
    int *part = pl_alloc(c, (size_t)(win->npart + 1) * sizeof *part);
    int *order = pl_alloc(c, (size_t)(win->norder + 1) * sizeof *order);
    if (!part || !order)
        return pl_nomem(c);
    for (int i = 0; i < NARGS; i++)
        a[i] = -1;
    /* ntile(NULL), lag(x, NULL), lead(x, NULL): a NULL of type integer (PostgreSQL's: the result is NULL) */
    bool lagish = !strcmp(x->name, "lag") || !strcmp(x->name, "lead");
    for (int i = 0; i < x->nargs; i++) {
        ast *y = x->args[i];
        if (((lagish && i == 1) || (!strcmp(x->name, "ntile") && i == 0)) && y->kind == A_CONST && y->lit == L_NULL) {
            ast *cast = pl_alloc(c, sizeof *cast);
            ast **cargs = pl_alloc(c, sizeof *cargs);
            if (!cast || !cargs)
                return pl_nomem(c);
            cargs[0] = y;
            *cast = (ast){.kind = A_CAST, .pos = y->pos, .cast_type = {TY_INT, 0, 0}, .args = cargs, .nargs = 1,
                          .depth = y->depth + 1};
            x->args[i] = cast;
        }
    }
    for (int i = 0; i < x->nargs; i++)
        if (inner_piece(w, x->args[i], &a[i]))
            return c->err->code;
    if (x->filter && inner_piece(w, x->filter, &a[3]))
        return c->err->code;
    for (int i = 0; i < win->npart; i++)
        if (inner_piece(w, win->part[i], &part[i]))
            return c->err->code;
    for (int i = 0; i < win->norder; i++)
        if (inner_piece(w, win->order[i].expr, &order[i]))
            return c->err->code;
    if (win->frame == WF_RANGE && (win->start_off || win->end_off)) {
        if (win->norder != 1)
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, win->frame_pos, "RANGE with offset PRECEDING/FOLLOWING "
                           "requires exactly one ORDER BY column");
        /* the bound values (key - offset or key + offset, in the sort's direction) are computed with the other
         * pieces, with PostgreSQL's typing of the arithmetic (date - interval is a timestamp) */
        bool desc = win->order[0].desc;
        if (win->start_off && range_bound(w, win->order[0].expr, win->start_off,
                                          (win->start == WB_PRECEDING) != desc, &a[4]))
            return c->err->code;
        if (win->end_off && range_bound(w, win->order[0].expr, win->end_off, (win->end == WB_PRECEDING) != desc,
                                        &a[5]))
            return c->err->code;
    }
    w->call_part[k] = part;
    w->call_order[k] = order;
    *idx = k;
    return pl_push(c, &w->calls, x);
}

/* x with every window call and every maximal window-free subtree replaced by a column of the window node;
 * constants stay (an untyped literal keeps its type resolution in the final query). */
static int rewrite(wplan *w, const sql_select *s, ast *x, ast **out)
{
    plan_ctx *c = w->c;
    int k = 0;
    if (!find_window(x)) {
        if (x->kind == A_CONST || x->kind == A_PARAM) {
            *out = x;
            return 0;
        }
        if (piece(w, x, &k))
            return c->err->code;
        return add_ref(w, k, x->pos, out);
    }
    if (is_window(x)) {
        if (add_call(w, s, x, &k))
            return c->err->code;
        return add_ref(w, -k - 1, x->pos, out);
    }
    if (is_aggregate(x))
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, find_window(x)->pos, "aggregate function calls cannot contain "
                                                                        "window function calls");
    ast *n = pl_alloc(c, sizeof *n);
    ast **args = pl_alloc(c, (size_t)(x->nargs + 1) * sizeof *args);
    if (!n || !args)
        return pl_nomem(c);
    *n = *x;
    n->args = args;
    for (int i = 0; i < x->nargs; i++) {
        args[i] = x->args[i];
        if (x->args[i] && rewrite(w, s, x->args[i], &args[i]))
            return c->err->code;
    }
    *out = n;
    return 0;
}

/* Where window calls may not be: PostgreSQL's messages. */
static int check_places(plan_ctx *c, const sql_select *s)
{
    const ast *f = find_window(s->where);
    if (f)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, f->pos, "window functions are not allowed in WHERE");
    for (int i = 0; i < s->ngroup; i++)
        if ((f = find_window(s->group[i])))
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, f->pos, "window functions are not allowed in GROUP BY");
    if ((f = find_window(s->having)))
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, f->pos, "window functions are not allowed in HAVING");
    if ((f = find_window_from(s->from)))
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, f->pos, "window functions are not allowed in JOIN conditions");
    return 0;
}

/* GROUP BY 2 or GROUP BY an output name refers to a select item, which the first node no longer has: the
 * item itself goes in its place. */
static int resolve_group(plan_ctx *c, sql_select *s1, const sql_select *s)
{
    if (!s->ngroup)
        return 0;
    ast **g = pl_alloc(c, (size_t)s->ngroup * sizeof *g);
    if (!g)
        return pl_nomem(c);
    for (int i = 0; i < s->ngroup; i++) {
        ast *x = s->group[i];
        g[i] = x;
        int item = -1;
        if (x->kind == A_CONST && x->lit == L_INT) {
            long long v = strtoll(x->text, NULL, 10);
            if (v < 1 || v > s->nitems)
                return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "GROUP BY position %lld is not in select list", v);
            item = (int)v - 1;
        } else if (x->kind == A_COLUMN && !x->qual) {
            for (int k = 0; k < s->nitems && item < 0; k++)
                if (s->aliases[k] && !strcmp(s->aliases[k], x->name) &&
                    !(s->items[k]->kind == A_COLUMN && !strcmp(s->items[k]->name, x->name)))
                    item = k;
        }
        if (item >= 0) {
            const ast *f = find_window(s->items[item]);
            if (f)
                return pl_perr(c, FACTDB_INVALID_ARGUMENT, f->pos, "window functions are not allowed in GROUP BY");
            if (s->items[item]->kind == A_STAR)
                return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "GROUP BY position %d refers to *", item + 1);
            g[i] = s->items[item];
        }
    }
    s1->group = g;
    return 0;
}

/* ---- the window node ---- */
static bool integer_type(sql_type t) { return t.id == TY_INT; }

static int type_rank(sql_type t)
{
    switch (t.id) {
    case TY_INT: return 1;
    case TY_BIGINT: return 2;
    case TY_NUMERIC: return 3;
    case TY_DOUBLE: return 4;
    default: return 0;
    }
}

/* lag / lead's result: the value's type, or the common type with the default's. */
static int lag_type(plan_ctx *c, const ast *x, sql_type v, sql_type d, sql_type *out)
{
    if (v.id == TY_UNKNOWN)
        v = d.id == TY_UNKNOWN ? T_TEXT : d;
    *out = v;
    if (d.id == TY_UNKNOWN || (d.id == v.id && (d.id != TY_NUMERIC || d.scale == v.scale)))
        return 0;
    int rv = type_rank(v), rd = type_rank(d);
    if (rv && rd) {
        *out = rv >= rd ? v : d;
        if (out->id == TY_NUMERIC)
            *out = T_NUMDYN;
        return 0;
    }
    if (v.id == TY_TEXT && d.id == TY_TEXT)
        return 0;
    char b1[40], b2[40];
    return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "function %s(%s, integer, %s) does not exist: the value and "
                   "the default must have one type", x->name, sql_type_name(v, b1, sizeof b1),
                   sql_type_name(d, b2, sizeof b2));
}

/* A NULL or a quoted literal: PostgreSQL gives it the type its context wants (lag's default). */
static bool untyped(const ast *x) { return x->kind == A_CONST && (x->lit == L_NULL || x->lit == L_STRING); }

static const ast *find_column(const ast *x)
{
    if (!x || x->kind == A_COLUMN)
        return x;
    for (int i = 0; i < x->nargs; i++) {
        const ast *y = find_column(x->args[i]);
        if (y)
            return y;
    }
    return NULL;
}

/* A frame offset: a non-negative integer constant. */
static int frame_offset(plan_ctx *c, ast *x, int pos, const char *which, int64_t *out, const char *mode)
{
    const ast *col = find_column(x);
    if (col)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, col->pos, "argument of %s must not contain variables", mode);
    int nslots = 0;
    sql_value v;
    if (bind_value(c->a, x, c->params, c->nparams, c->now_us, T_BIGINT, &nslots, &v, c->err)) {
        c->err->position = c->err->position ? c->err->position : pos;
        return c->err->code;
    }
    if (v.null)
        return pl_perr(c, FACTDB_INVALID_VALUE, pos, "frame %s offset must not be null", which);
    if (v.i < 0)
        return pl_perr(c, FACTDB_INVALID_VALUE, pos, "frame %s offset must not be negative", which);
    *out = v.i;
    return 0;
}

/* A RANGE offset: a constant, not NULL, not negative, of a type that moves the ORDER BY key (key, whose
 * bound key -/+ offset has type bound). */
static int range_offset(plan_ctx *c, ast *x, int pos, sql_type key, sql_type bound)
{
    const ast *col = find_column(x);
    if (col)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, col->pos, "argument of RANGE must not contain variables");
    int nslots = 0;
    sql_value v;
    if (bind_value(c->a, x, c->params, c->nparams, c->now_us, (sql_type){TY_UNKNOWN, 0, 0}, &nslots, &v, c->err)) {
        c->err->position = c->err->position ? c->err->position : pos;
        return c->err->code;
    }
    char b1[40], b2[40];
    bool num = type_rank(key) && type_rank(v.type), dt = (key.id == TY_DATE || key.id == TY_TIMESTAMP ||
                                                       key.id == TY_TIMESTAMPTZ) && v.type.id == TY_INTERVAL;
    if (!num && !dt)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, pos, "RANGE with offset PRECEDING/FOLLOWING is not supported for "
                       "column type %s and offset type %s", sql_type_name(key, b1, sizeof b1),
                       sql_type_name(v.type, b2, sizeof b2));
    if (v.null)
        return pl_perr(c, FACTDB_INVALID_VALUE, pos, "frame offset must not be null");
    bool neg = v.type.id == TY_INTERVAL ? v.iv.months < 0 || v.iv.days < 0 || v.iv.us < 0
             : v.type.id == TY_DOUBLE ? v.d < 0 : exec_phys(v.type) == P_N128 ? v.n < 0 : v.i < 0;
    if (neg)
        return pl_perr(c, FACTDB_INVALID_VALUE, pos, "invalid preceding or following size in window function");
    (void)bound;
    return 0;
}

/* The result type of call x (PostgreSQL's), its arguments' types t[] checked. */
static int call_type(plan_ctx *c, const ast *x, const sql_type *t, exec_wcall *e)
{
    char b1[40], b2[40];
    switch (e->fn) {
    case WF_ROW_NUMBER:
    case WF_RANK:
    case WF_DENSE_RANK:
    case WF_COUNT_STAR:
    case WF_COUNT: e->type = T_BIGINT; break;
    case WF_PERCENT_RANK:
    case WF_CUME_DIST: e->type = T_DOUBLE; break;
    case WF_NTILE:
        if (!integer_type(t[0]))
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "function ntile(%s) does not exist",
                           sql_type_name(t[0], b1, sizeof b1));
        e->type = T_INT;
        break;
    case WF_LAG:
    case WF_LEAD:
        if (x->nargs > 1 && !integer_type(t[1]))
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->args[1]->pos, "the offset of %s must be an integer, not "
                           "%s", x->name, sql_type_name(t[1], b1, sizeof b1));
        if (lag_type(c, x, t[0], x->nargs > 2 && !untyped(x->args[2]) ? t[2] : (sql_type){TY_UNKNOWN, 0, 0},
                     &e->type))
            return c->err->code;
        break;
    case WF_NTH_VALUE:
        if (!integer_type(t[1]))
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->args[1]->pos, "function nth_value(%s, %s) does not exist",
                           sql_type_name(t[0], b1, sizeof b1), sql_type_name(t[1], b2, sizeof b2));
        /* fall through */
    case WF_FIRST_VALUE:
    case WF_LAST_VALUE:
    case WF_MIN:
    case WF_MAX: e->type = t[0].id == TY_UNKNOWN ? T_TEXT : t[0]; break;
    case WF_SUM:
    case WF_AVG:
        if (!type_rank(t[0]))
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "function %s(%s) does not exist", x->name,
                           sql_type_name(t[0], b1, sizeof b1));
        e->type = t[0].id == TY_DOUBLE ? T_DOUBLE : e->fn == WF_SUM && t[0].id == TY_INT ? T_BIGINT : T_NUMDYN;
        break;
    case WF_VAR:
    case WF_STDDEV:  /* double precision for every input, as the plain aggregates (docs/sql.md) */
        if (!type_rank(t[0]))
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "function %s(%s) does not exist", x->name,
                           sql_type_name(t[0], b1, sizeof b1));
        e->type = T_DOUBLE;
        break;
    case WF_BOOL_AND:
    case WF_BOOL_OR:
        if (t[0].id != TY_BOOL)
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "function %s(%s) does not exist", x->name,
                           sql_type_name(t[0], b1, sizeof b1));
        e->type = (sql_type){TY_BOOL, 0, 0};
        break;
    }
    return 0;
}

/* The frame of a call whose columns e already holds; a: its pieces (the RANGE bounds at 4 and 5). */
static int describe_frame(plan_ctx *c, const sql_window *win, const plan_node *in, const int *a, int base,
                          exec_wcall *e)
{
    const sort_key *order = e->order;
    /* PostgreSQL's default frame: RANGE UNBOUNDED PRECEDING .. CURRENT ROW (the whole partition without
     * ORDER BY, where every row is a peer) */
    e->rows = win->frame == WF_ROWS;
    e->groups = win->frame == WF_GROUPS;
    e->exclude = win->frame ? win->exclude : WX_NONE;
    if (e->groups && !win->norder)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, win->frame_pos, "GROUPS mode requires an ORDER BY clause");
    e->start = win->frame ? win->start : WB_UNBOUNDED_PRECEDING;
    e->end = win->frame ? win->end : WB_CURRENT_ROW;
    e->range_start = a[4] >= 0 ? base + a[4] : -1;
    e->range_end = a[5] >= 0 ? base + a[5] : -1;
    if (win->frame == WF_RANGE) {
        if ((win->start_off && range_offset(c, win->start_off, win->start_pos, in->types[order[0].col],
                                            in->types[e->range_start])) ||
            (win->end_off && range_offset(c, win->end_off, win->end_pos, in->types[order[0].col],
                                          in->types[e->range_end])))
            return c->err->code;
        return 0;
    }
    const char *mode = e->rows ? "ROWS" : "GROUPS";
    if (win->start_off && frame_offset(c, win->start_off, win->start_pos, "starting", &e->start_off, mode))
        return c->err->code;
    if (win->end_off && frame_offset(c, win->end_off, win->end_pos, "ending", &e->end_off, mode))
        return c->err->code;
    return 0;
}

/* Checks call k's arguments and fills its executor description. */
static int describe_call(wplan *w, plan_node *in, int k, int base, exec_wcall *e)
{
    plan_ctx *c = w->c;
    const ast *x = w->calls.v[k];
    const sql_window *win = x->over;
    const int *a = &w->call_args[k * NARGS];
    static const struct { const char *name; win_fn fn; int lo, hi; } fns[] = {
        {"row_number", WF_ROW_NUMBER, 0, 0}, {"rank", WF_RANK, 0, 0}, {"dense_rank", WF_DENSE_RANK, 0, 0},
        {"percent_rank", WF_PERCENT_RANK, 0, 0}, {"cume_dist", WF_CUME_DIST, 0, 0}, {"ntile", WF_NTILE, 1, 1},
        {"lag", WF_LAG, 1, 3}, {"lead", WF_LEAD, 1, 3}, {"first_value", WF_FIRST_VALUE, 1, 1},
        {"last_value", WF_LAST_VALUE, 1, 1}, {"nth_value", WF_NTH_VALUE, 2, 2}, {"count", WF_COUNT, 1, 1},
        {"sum", WF_SUM, 1, 1}, {"avg", WF_AVG, 1, 1}, {"min", WF_MIN, 1, 1}, {"max", WF_MAX, 1, 1},
        {"var_samp", WF_VAR, 1, 1}, {"variance", WF_VAR, 1, 1}, {"stddev_samp", WF_STDDEV, 1, 1},
        {"stddev", WF_STDDEV, 1, 1}, {"bool_and", WF_BOOL_AND, 1, 1}, {"every", WF_BOOL_AND, 1, 1},
        {"bool_or", WF_BOOL_OR, 1, 1}};
    int f = -1;
    for (size_t i = 0; i < ARRAY_LEN(fns); i++)
        if (!strcmp(x->name, fns[i].name))
            f = (int)i;
    if (f < 0) {
        if (is_aggregate(x))
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "%s is not supported as a window function", x->name);
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "OVER specified, but %s is not a window function nor an "
                       "aggregate function", x->name);
    }
    memset(e, 0, sizeof *e);
    e->fn = fns[f].fn;
    e->pos = x->pos;
    e->filter = a[3] >= 0 ? base + a[3] : -1;
    sql_type t[3];
    for (int i = 0; i < 3; i++) {
        e->arg[i] = a[i] >= 0 ? base + a[i] : -1;
        t[i] = a[i] >= 0 ? in->types[base + a[i]] : T_TEXT;
    }
    char b1[40], b2[40];
    if (x->star) {
        if (e->fn != WF_COUNT)
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "%s(*) is not allowed; only count(*)", x->name);
        e->fn = WF_COUNT_STAR;
    } else if (x->nargs < fns[f].lo || x->nargs > fns[f].hi) {
        size_t o = 0;
        b1[0] = 0;
        for (int i = 0; i < x->nargs && o < sizeof b1; i++)
            o += (size_t)snprintf(b1 + o, sizeof b1 - o, "%s%s", i ? ", " : "", sql_type_name(t[i], b2, sizeof b2));
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "function %s(%s) does not exist", x->name, b1);
    }
    if (e->filter >= 0 && in->types[e->filter].id != TY_BOOL)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->filter->pos, "argument of FILTER must be type boolean, not type "
                       "%s", sql_type_name(in->types[e->filter], b1, sizeof b1));
    if (call_type(c, x, t, e))
        return c->err->code;
    int *part = pl_alloc(c, (size_t)(win->npart + 1) * sizeof *part);
    sort_key *order = pl_alloc(c, (size_t)(win->norder + 1) * sizeof *order);
    if (!part || !order)
        return pl_nomem(c);
    for (int i = 0; i < win->npart; i++)
        part[i] = base + w->call_part[k][i];
    for (int i = 0; i < win->norder; i++) {
        const sql_order_item *o = &win->order[i];
        order[i] = (sort_key){.col = base + w->call_order[k][i], .desc = o->desc,
                              .nulls_first = o->nulls == 1 || (o->nulls == 0 && o->desc)};
    }
    e->part = part;
    e->npart = win->npart;
    e->order = order;
    e->norder = win->norder;
    return describe_frame(c, win, in, &w->call_args[k * NARGS], base, e);
}

static int window_node(wplan *w, plan_node *in, int base, plan_node **out)
{
    plan_ctx *c = w->c;
    plan_node *n = pl_new_node(c, PN_WINDOW);
    exec_wcall *calls = pl_alloc(c, (size_t)w->calls.n * sizeof *calls);
    if (!n || !calls)
        return pl_nomem(c);
    for (int k = 0; k < w->calls.n; k++)
        if (describe_call(w, in, k, base, &calls[k]))
            return c->err->code;
    n->input = in;
    n->wcalls = calls;
    n->win = (exec_window){.calls = calls, .ncalls = w->calls.n, .cancel = c->cancel, .mem = &c->mem,
                           .mem_limit = c->mem_limit};
    n->ncols = in->ncols + w->calls.n;
    n->types = pl_alloc(c, (size_t)n->ncols * sizeof *n->types);
    n->names = pl_alloc(c, (size_t)n->ncols * sizeof *n->names);
    n->quals = pl_alloc(c, (size_t)n->ncols * sizeof *n->quals);
    if (!n->types || !n->names || !n->quals)
        return pl_nomem(c);
    for (int i = 0; i < in->ncols; i++) {
        n->types[i] = in->types[i];
        n->names[i] = in->names[i];
    }
    for (int k = 0; k < w->calls.n; k++) {
        char name[32];
        snprintf(name, sizeof name, "__wc%d", k + 1);
        n->types[in->ncols + k] = calls[k].type;
        if (!(n->names[in->ncols + k] = sql_arena_strndup(c->a, name, strlen(name))))
            return pl_nomem(c);
    }
    n->label = "Window";
    *out = n;
    return 0;
}

/* Every named window is checked, used or not: duplicates, references, and its expressions (as pieces). */
static int check_named_windows(wplan *w, const sql_select *s)
{
    plan_ctx *c = w->c;
    for (int i = 0; i < s->nwindows; i++) {
        sql_window *resolved;
        for (int k = 0; k < i; k++)
            if (!strcmp(s->windows[k].name, s->windows[i].name))
                return pl_perr(c, FACTDB_INVALID_ARGUMENT, s->windows[i].pos, "window \"%s\" is already defined",
                               s->windows[i].name);
        if (resolve_window(c, s, s->windows[i].spec, i, &resolved))
            return c->err->code;
        const sql_window *nw = s->windows[i].spec;
        int unused;
        for (int k = 0; k < nw->npart; k++)
            if (inner_piece(w, nw->part[k], &unused))
                return c->err->code;
        for (int k = 0; k < nw->norder; k++)
            if (inner_piece(w, nw->order[k].expr, &unused))
                return c->err->code;
    }
    return 0;
}

/* The select items and ORDER BY over the window node (items[i] unset for a *); ORDER BY items naming an
 * output column (by position or name) stay as written. */
static int rewrite_select(wplan *w, const sql_select *s, ast **items, sql_order_item *order)
{
    for (int i = 0; i < s->nitems; i++)
        if (s->items[i]->kind != A_STAR && rewrite(w, s, s->items[i], &items[i]))
            return w->c->err->code;
    for (int i = 0; i < s->norder; i++) {
        ast *x = s->order[i].expr;
        order[i] = s->order[i];
        bool output_ref = x->kind == A_CONST && x->lit == L_INT;
        for (int k = 0; k < s->nitems && x->kind == A_COLUMN && !x->qual && !output_ref; k++)
            output_ref = s->aliases[k] ? !strcmp(s->aliases[k], x->name)
                                       : s->items[k]->kind != A_STAR && !strcmp(bind_item_name(s->items[k]), x->name);
        if (!output_ref && rewrite(w, s, x, &order[i].expr))
            return w->c->err->code;
    }
    return 0;
}

static ast *int_const(plan_ctx *c, const char *text, int pos)
{
    ast *x = pl_alloc(c, sizeof *x);
    if (x)
        *x = (ast){.kind = A_CONST, .lit = L_INT, .text = (char *)text, .text_len = strlen(text), .pos = pos, .depth = 1};
    return x;
}

/* The first node: s's FROM / WHERE / GROUP BY / HAVING with the pieces as items, each * first and followed by a
 * marker column (__ws1, ...), since where one star's columns end is known only once the node is bound.
 * star_end[k]: star k's marker column; *base: the first piece's column. */
static int first_node(wplan *w, const sql_select *s, int nstar, plan_node **n1, int *star_end, int *base)
{
    plan_ctx *c = w->c;
    sql_select *s1 = pl_alloc(c, sizeof *s1);
    int np = w->pieces.n, at = 0;
    ast **p1 = pl_alloc(c, (size_t)(np + 2 * nstar + 1) * sizeof *p1);
    char **a1 = pl_alloc(c, (size_t)(np + 2 * nstar + 1) * sizeof *a1);
    if (!s1 || !p1 || !a1)
        return pl_nomem(c);
    *s1 = *s;
    s1->distinct = false;
    s1->order = NULL;
    s1->norder = 0;
    s1->limit = s1->offset = NULL;
    s1->ctes = NULL;
    s1->nctes = 0;
    s1->windows = NULL;  /* or the first node would be planned as a window query again, forever */
    s1->nwindows = 0;
    if (resolve_group(c, s1, s))
        return c->err->code;
    char name[32];
    for (int i = 0, k = 0; i < s->nitems; i++)
        if (s->items[i]->kind == A_STAR) {
            snprintf(name, sizeof name, "__ws%d", ++k);
            p1[at] = s->items[i];
            if (!(p1[at + 1] = int_const(c, "0", s->pos)) || !(a1[at + 1] = sql_arena_strndup(c->a, name, strlen(name))))
                return pl_nomem(c);
            at += 2;
        }
    for (int i = 0; i < np; i++) {
        snprintf(name, sizeof name, "__wp%d", i + 1);
        p1[at] = w->pieces.v[i];
        if (!(a1[at++] = sql_arena_strndup(c->a, name, strlen(name))))
            return pl_nomem(c);
    }
    if (!at && !(p1[at++] = int_const(c, "1", s->pos)))  /* no piece at all: one constant column */
        return pl_nomem(c);
    s1->items = p1;
    s1->aliases = a1;
    s1->nitems = at;
    if (pl_query_expr(c, s1, n1))
        return c->err->code;
    *base = 0;
    for (int k = 0; k < nstar; k++) {
        snprintf(name, sizeof name, "__ws%d", k + 1);
        while (*base < (*n1)->ncols && strcmp((*n1)->names[*base], name))
            (*base)++;
        star_end[k] = (*base)++;
    }
    return 0;
}

/* The final node over the window node wn: the rewritten items (stars expanded to n1's columns by index),
 * DISTINCT, ORDER BY, LIMIT / OFFSET; output names are the original items'. */
static int final_node(plan_ctx *c, const sql_select *s, ast **items, sql_order_item *order, const plan_node *n1,
                      const int *star_end, plan_node *wn, plan_node **out)
{
    int nf = s->nitems + n1->ncols, at = 0;
    ast **fi = pl_alloc(c, (size_t)(nf + 1) * sizeof *fi);
    char **fa = pl_alloc(c, (size_t)(nf + 1) * sizeof *fa);
    sql_select *f = pl_alloc(c, sizeof *f);
    if (!fi || !fa || !f)
        return pl_nomem(c);
    for (int i = 0, star = 0; i < s->nitems; i++) {
        if (s->items[i]->kind == A_STAR) {
            int from = star ? star_end[star - 1] + 1 : 0;
            for (int k = from; k < star_end[star]; k++) {
                if (!(fi[at] = pl_mk_col(c, NULL, n1->names[k], s->items[i]->pos)))
                    return pl_nomem(c);
                fi[at]->ival = k + 1;
                fi[at]->fixed = true;
                fa[at++] = n1->names[k];
            }
            star++;
            continue;
        }
        fi[at] = items[i];
        fa[at++] = s->aliases[i] ? s->aliases[i] : (char *)bind_item_name(s->items[i]);
    }
    *f = (sql_select){.distinct = s->distinct, .items = fi, .aliases = fa, .nitems = at, .order = order,
                      .norder = s->norder, .limit = s->limit, .offset = s->offset, .pos = s->pos};
    return pl_bind_node(c, f, wn, NULL, NULL, 0, out);
}

int plan_window(plan_ctx *c, sql_select *s, plan_node **out)
{
    wplan w = {.c = c};
    if (check_places(c, s) || check_named_windows(&w, s))
        return c->err->code;
    int nstar = 0;
    for (int i = 0; i < s->nitems; i++)
        nstar += s->items[i]->kind == A_STAR;
    ast **items = pl_alloc(c, (size_t)(s->nitems + 1) * sizeof *items);
    sql_order_item *order = pl_alloc(c, (size_t)(s->norder + 1) * sizeof *order);
    int *star_end = pl_alloc(c, (size_t)(nstar + 1) * sizeof *star_end);
    if (!items || !order || !star_end)
        return pl_nomem(c);
    plan_node *n1, *wn = NULL;
    int base = 0;
    if (rewrite_select(&w, s, items, order) || first_node(&w, s, nstar, &n1, star_end, &base))
        return c->err->code;
    for (int i = 0; i < w.nrefs; i++) {  /* pieces and calls are columns of the window node now */
        w.refs[i].col->ival = w.refs[i].piece >= 0 ? base + w.refs[i].piece + 1 : n1->ncols - w.refs[i].piece;
        w.refs[i].col->fixed = true;
    }
    if (window_node(&w, n1, base, &wn))
        return c->err->code;
    return final_node(c, s, items, order, n1, star_end, wn, out);
}

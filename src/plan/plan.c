/* plan.c: turns a SELECT into a tree of operators (plan.h) and runs it.
 *
 * A SELECT over one table (no joins, no correlated subqueries) is one PN_QUERY node: the single-table
 * pipeline of src/exec/run.c with its zone maps, dictionary codes and parallel aggregation. Anything else
 * is planned as a join problem:
 *   - the FROM clause is flattened into leaves (tables, derived tables, WITH queries, outer joins, which
 *     are planned as join problems of their own) and conjuncts (WHERE and inner ON conditions, split at
 *     AND);
 *   - a conjunct that reads one leaf is pushed into that leaf's scan, where zone maps and dictionary
 *     codes apply; `a = b` between two leaves is a hash-join key; the rest is checked at the first join
 *     that has all its leaves, or in the final query;
 *   - every leaf becomes a PN_QUERY that reads only the columns the statement names;
 *   - joins are ordered greedily: the largest leaf first (a star schema's fact table), then always the
 *     smallest leaf connected to what is joined so far (sizes: row counts scaled down per pushed
 *     conjunct); the executor builds its hash table on whichever side turns out smaller;
 *   - the SELECT list, GROUP BY, HAVING, ORDER BY and LIMIT run as a final PN_QUERY over the joined rows.
 * Uncorrelated subqueries in expressions are planned and run while the outer query is bound (bind.h's
 * hook), and their values become constants; a correlated EXISTS / NOT EXISTS in WHERE becomes a semi /
 * anti join on its equality conditions (its other conditions a residual of the join); a correlated
 * scalar subquery compared in WHERE becomes a join with the subquery grouped by its correlation columns. */
#include "plan_int.h"
#include "store/store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#define MAX_LEAVES 64

int pl_perr(plan_ctx *c, int code, int pos, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int pl_perr(plan_ctx *c, int code, int pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[sizeof c->err->message];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sql_err(c->err, code, pos, "%s", msg);
}

int pl_nomem(plan_ctx *c) { return base_err(c->err, FACTDB_NOMEM, "out of memory"); }

void *pl_alloc(plan_ctx *c, size_t n) { return sql_arena_alloc(c->a, n ? n : 1); }

plan_node *pl_new_node(plan_ctx *c, pn_kind k)
{
    plan_node *n = pl_alloc(c, sizeof *n);
    if (!n)
        return NULL;
    n->kind = k;
    n->next_all = c->all;
    c->all = n;
    return n;
}

int pl_keep_rowset(plan_ctx *c, rowset *r)
{
    if (c->nkeep == c->keep_cap) {
        int cap = c->keep_cap ? c->keep_cap * 2 : 16;
        rowset **k = realloc(c->keep, (size_t)cap * sizeof *k);
        if (!k)
            return pl_nomem(c);
        c->keep = k;
        c->keep_cap = cap;
    }
    c->keep[c->nkeep++] = r;
    return 0;
}

void plan_init(plan_ctx *c)
{
    atomic_store(&c->mem, 0);
    c->ctes = NULL;
    c->all = NULL;
    c->keep = NULL;
    c->nkeep = c->keep_cap = 0;
    c->nsub = 0;
    c->nsubs = 0;
    c->views_expanded = 0;
    c->view_depth = 0;
    c->snapshot = NULL;
    c->snapshot_mine = false;
}

void plan_done(plan_ctx *c)
{
    for (plan_node *n = c->all; n; n = n->next_all)
        if (n->er.rs)
            exec_result_free(&n->er);
    for (int i = 0; i < c->nkeep; i++)
        exec_rowset_free(c->keep[i]);
    free(c->keep);
    c->keep = NULL;
    c->nkeep = 0;
    if (c->snapshot_mine) {
        store_xact_bind(c->db, NULL);
        store_txn_abort(c->snapshot);
        c->snapshot_mine = false;
    }
}

/* Every scan of the statement reads one snapshot: outside BEGIN ... COMMIT a read transaction is opened
 * and bound to this thread for the plan's life (scans borrow it as they borrow a transaction's). */
static int pin_snapshot(plan_ctx *c)
{
    if (c->snapshot_mine || store_xact_current(c->db))
        return 0;
    store_txn *t;
    int rc = store_txn_read(c->db->env, &t, c->err);
    if (rc)
        return rc;
    store_xact_bind(c->db, t);
    c->snapshot = t;
    c->snapshot_mine = true;
    return 0;
}

/* ---- small parse-tree builders ---- */
ast *pl_mk_col(plan_ctx *c, const char *qual, const char *name, int pos)
{
    ast *x = pl_alloc(c, sizeof *x);
    if (x) {
        x->kind = A_COLUMN;
        x->qual = (char *)qual;
        x->name = (char *)name;
        x->pos = pos;
        x->depth = 1;
    }
    return x;
}

ast *pl_mk_and(plan_ctx *c, ast **v, int n)
{
    if (n == 0)
        return NULL;
    if (n == 1)
        return v[0];
    ast *x = pl_alloc(c, sizeof *x);
    ast **args = pl_alloc(c, (size_t)n * sizeof *args);
    if (!x || !args)
        return NULL;
    memcpy(args, v, (size_t)n * sizeof *args);
    x->kind = A_BIN;
    x->op = "and";
    x->args = args;
    x->nargs = n;
    x->pos = v[0]->pos;
    int d = 0;
    for (int i = 0; i < n; i++)
        d = MAX(d, v[i]->depth);
    x->depth = d + 1;
    return x;
}

static bool is_and(const ast *x)
{
    if (x->kind != A_BIN || x->nargs < 2)
        return false;
    for (int i = 1; i < x->nargs; i++)
        if (strcmp(x->ops ? x->ops[i] : x->op, "and"))
            return false;
    return true;
}

int pl_push(plan_ctx *c, ast_vec *l, ast *x)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        ast **v = pl_alloc(c, (size_t)cap * sizeof *v);
        if (!v)
            return pl_nomem(c);
        if (l->n)
            memcpy(v, l->v, (size_t)l->n * sizeof *v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return 0;
}

int pl_split_and(plan_ctx *c, ast *x, ast_vec *out)
{
    if (!x)
        return 0;
    if (is_and(x)) {
        for (int i = 0; i < x->nargs; i++)
            if (pl_split_and(c, x->args[i], out))
                return c->err->code;
        return 0;
    }
    return pl_push(c, out, x);
}

/* ---- leaves of a join problem ---- */
typedef struct rcol {
    const char *qual;
    const char *name;
    sql_type type;
    bool hidden;            /* the right side's copy of a USING / NATURAL column */
} rcol;

typedef struct leaf {
    const char *qual;       /* the name its columns answer to (a table, alias), NULL: per column */
    const char *table;      /* a stored table (scanned with pushed filters) */
    int table_pos;
    plan_node *node;        /* otherwise: the node it reads (derived table, WITH query, outer join) */
    int ncols;
    rcol *cols;
    bool *need;
    ast_vec conj;           /* conjuncts pushed into it */
    double est;
    plan_node *scan;        /* its PN_QUERY */
    int *outcol;            /* leaf column -> scan output (-1: not read) */
    ast_vec keyx;           /* expressions its scan also outputs: one side of `expr = expr` join keys */
    int keyx_out;           /* the scan output of keyx.v[0] (the others follow) */
} leaf;

typedef struct problem {
    leaf *lv[MAX_LEAVES];
    int n;
    ast_vec conj;           /* conjuncts not yet placed */
    /* conjuncts `expr_a = expr_b` whose sides each read one leaf: computed by those leaves' scans (keyx) and
     * joined on as hash keys */
    struct xkey {
        const ast *conj;
        int la, ia, lb, ib;     /* leaf and keyx index of each side */
    } xkeys[64];
    int nxkeys;
    /* USING / NATURAL columns of inner joins (leaf, column): `*` lists them first, as PostgreSQL does */
    int merged_leaf[64], merged_col[64];
    int nmerged;
    /* correlated EXISTS / NOT EXISTS turned into semi / anti joins, applied after the inner joins */
    struct semi {
        bool anti;
        plan_node *node;
        ast_vec keys_outer, keys_inner;   /* outer and inner columns of the equalities */
        ast_vec resid;
        const char **inner_quals;
    } semis[16];
    int nsemi;
} problem;

/* Which leaf and column (qual, name) means: 0, -1 none, -2 ambiguous. */
static int find_col(leaf *const *lv, int n, const char *qual, const char *name, int *li, int *ci)
{
    int found = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < lv[i]->ncols; k++) {
            const rcol *rc = &lv[i]->cols[k];
            if (strcmp(rc->name, name))
                continue;
            if (qual ? !rc->qual || strcmp(rc->qual, qual) : rc->hidden)
                continue;
            if (found)
                return -2;
            found = 1;
            *li = i;
            *ci = k;
        }
    return found ? 0 : -1;
}

/* The leaves an expression reads (bit mask); *sub: it holds a subquery; *unknown: a name no leaf has
 * (an outer reference, or an output name; the binder reports it). */
static uint64_t leaf_refs(const ast *x, leaf *const *lv, int n, bool *sub, bool *unknown)
{
    if (!x)
        return 0;
    uint64_t m = 0;
    if (x->kind == A_COLUMN) {
        int li, ci;
        if (find_col(lv, n, x->qual, x->name, &li, &ci) == 0)
            return 1ull << li;
        *unknown = true;
        return 0;
    }
    if (x->kind == A_STAR) {
        *unknown = true;
        return 0;
    }
    if (x->kind == A_SUBQUERY)
        *sub = true;
    m |= leaf_refs(x->filter, lv, n, sub, unknown);
    for (int i = 0; i < x->nargs; i++)
        m |= leaf_refs(x->args[i], lv, n, sub, unknown);
    return m;
}

/* ---- names a subquery's own FROM clause provides (to tell its outer references) ---- */
typedef struct own_names {
    const char *qual[FACTDB_MAX_COLUMNS * 4];
    const char *name[FACTDB_MAX_COLUMNS * 4];
    int n;
    const char *quals[MAX_LEAVES];
    int nquals;
    bool wild;              /* a source whose columns are not known here: unqualified names are its own */
} own_names;

static plan_cte *find_cte(plan_ctx *c, const char *name)
{
    for (plan_cte *p = c->ctes; p; p = p->next)
        if (!strcmp(p->cte->name, name))
            return p;
    return NULL;
}

static void own_add_table(plan_ctx *c, own_names *o, const char *table, const char *alias, const sql_select *s)
{
    const char *q = alias ? alias : table;
    if (o->nquals < MAX_LEAVES)
        o->quals[o->nquals++] = q;
    bool cte = find_cte(c, table) != NULL;
    for (int i = 0; s && i < s->nctes; i++)
        cte |= !strcmp(s->ctes[i].name, table);
    if (cte) {
        o->wild = true;
        return;
    }
    factdb_table_info ti;
    factdb_error e = {0};
    if (factdb_table_info_get(c->db, table, &ti, &e)) {
        o->wild = true;
        return;
    }
    for (size_t i = 0; i < ti.ncols && o->n < (int)ARRAY_LEN(o->name); i++) {
        o->qual[o->n] = q;
        o->name[o->n++] = sql_arena_strndup(c->a, ti.cols[i].name, strlen(ti.cols[i].name));
    }
    factdb_table_info_free(&ti);
}

static void own_from(plan_ctx *c, own_names *o, const sql_from *f, const sql_select *s)
{
    if (!f)
        return;
    switch (f->kind) {
    case F_TABLE: own_add_table(c, o, f->table, f->alias, s); break;
    case F_SUBQUERY:
        if (f->alias && o->nquals < MAX_LEAVES)
            o->quals[o->nquals++] = f->alias;
        o->wild = true;
        break;
    case F_JOIN:
        own_from(c, o, f->left, s);
        own_from(c, o, f->right, s);
        break;
    }
}

static bool own_has(const own_names *o, const char *qual, const char *name)
{
    if (qual) {
        for (int i = 0; i < o->nquals; i++)
            if (!strcmp(o->quals[i], qual))
                return true;
        return false;
    }
    if (o->wild)
        return true;
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->name[i], name))
            return true;
    return false;
}

/* Whether x (inside subquery s whose own names are o) refers to the outer leaves. */
static bool outer_ref(const ast *x, const own_names *o, leaf *const *lv, int n)
{
    int li, ci;
    return x->kind == A_COLUMN && !own_has(o, x->qual, x->name) && find_col(lv, n, x->qual, x->name, &li, &ci) == 0;
}

static bool any_outer(const ast *x, const own_names *o, leaf *const *lv, int n)
{
    if (!x)
        return false;
    if (x->kind == A_COLUMN)
        return outer_ref(x, o, lv, n);
    if (x->kind == A_SUBQUERY) {
        /* a nested subquery's references count when they are not its own: approximated by its WHERE */
        if (x->sub && any_outer(x->sub->where, o, lv, n))
            return true;
    }
    if (any_outer(x->filter, o, lv, n))
        return true;
    for (int i = 0; i < x->nargs; i++)
        if (any_outer(x->args[i], o, lv, n))
            return true;
    return false;
}

static void own_of(plan_ctx *c, const sql_select *s, own_names *o)
{
    memset(o, 0, sizeof *o);
    if (s->setop) {
        o->wild = true;
        return;
    }
    if (s->from)
        own_from(c, o, s->from, s);
    else if (s->table)
        own_add_table(c, o, s->table, s->alias, s);
}

static bool correlated(plan_ctx *c, const sql_select *s, leaf *const *lv, int n)
{
    if (!n || s->setop)
        return false;
    own_names *o = malloc(sizeof *o);
    if (!o)
        return false;
    own_of(c, s, o);
    bool r = any_outer(s->where, o, lv, n) || any_outer(s->having, o, lv, n);
    for (int i = 0; i < s->nitems && !r; i++)
        r = any_outer(s->items[i], o, lv, n);
    free(o);
    return r;
}

/* Whether a subquery inside x reads columns of the leaves lv. */
static bool correlated_any(plan_ctx *c, const ast *x, leaf *const *lv, int n)
{
    if (!x)
        return false;
    if (x->kind == A_SUBQUERY && x->sub && correlated(c, x->sub, lv, n))
        return true;
    if (correlated_any(c, x->filter, lv, n))
        return true;
    for (int i = 0; i < x->nargs; i++)
        if (correlated_any(c, x->args[i], lv, n))
            return true;
    return false;
}

/* ---- planning ---- */
int pl_query_expr(plan_ctx *c, sql_select *s, plan_node **out);
static int plan_from(plan_ctx *c, sql_from *f, plan_node **out, sql_select *owner);

typedef struct hook_ctx {
    plan_ctx *c;
    leaf *const *lv;        /* the outer query's leaves, for the message about correlation */
    int n;
} hook_ctx;

/* bind.h's hook: plans and runs an uncorrelated subquery, returns its first column. */
static int run_subquery(void *ctx, ast *x, sql_arena *a, sql_value **vals, size_t *nvals, sql_type *type,
                        factdb_error *err)
{
    hook_ctx *h = ctx;
    plan_ctx *c = h->c;
    *vals = NULL;
    *nvals = 0;
    plan_node *root;
    int rc = pl_query_expr(c, x->sub, &root);
    if (rc) {
        if (h->n && correlated(c, x->sub, h->lv, h->n))
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos,
                        "this correlated subquery is not supported: correlated subqueries are supported as [NOT] "
                        "EXISTS (...) and as a scalar subquery compared in WHERE, with equality conditions on the "
                        "outer columns (%s)", err->message);
        return rc;
    }
    if (strcmp(x->op, "exists") && root->q.nvisible != 1)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "subquery must return only one column (it returns %d)",
                    root->q.nvisible);
    exec_result er;
    if (c->nsubs < (int)ARRAY_LEN(c->subs))
        c->subs[c->nsubs++] = root;  /* for EXPLAIN */
    if ((rc = plan_execute(c, root, &er)))
        return rc;
    *type = root->q.outs[0]->type;
    if (!strcmp(x->op, "scalar") && er.n > 1) {
        exec_result_free(&er);
        return sql_err(err, FACTDB_INVALID_VALUE, x->pos, "more than one row returned by a subquery used as an "
                                                          "expression");
    }
    size_t n = !strcmp(x->op, "in") ? er.n : MIN(er.n, (size_t)1);
    sql_value *v = sql_arena_alloc(a, (n ? n : 1) * sizeof *v);
    if (!v) {
        exec_result_free(&er);
        return pl_nomem(c);
    }
    for (size_t i = 0; i < n; i++) {
        rowset_get(er.rs, 0, er.idx[i], &v[i]);
        if (!v[i].null && exec_phys(v[i].type) == P_STR &&
            !(v[i].s.p = sql_arena_strndup(a, v[i].s.p, v[i].s.len))) {
            exec_result_free(&er);
            return pl_nomem(c);
        }
    }
    exec_result_free(&er);
    *vals = v;
    *nvals = n;
    return 0;
}

/* Binds s over node `in` (NULL: s reads its own table or nothing) into a new PN_QUERY. */
int pl_bind_node(plan_ctx *c, sql_select *s, plan_node *in, const factdb_table_info *ti, leaf *const *lv, int nlv,
                     plan_node **out)
{
    plan_node *n = pl_new_node(c, PN_QUERY);
    if (!n)
        return pl_nomem(c);
    bind_rel rel;
    const bind_rel *rp = NULL;
    if (ti) {
        if (bind_rel_of_table(c->a, ti, s->alias, &rel))
            return pl_nomem(c);
        rp = &rel;
    } else if (in) {
        bind_col *cols = pl_alloc(c, (size_t)in->ncols * sizeof *cols);
        const char **quals = pl_alloc(c, (size_t)(in->ncols + in->nlquals + 1) * sizeof *quals);
        if (!cols || !quals)
            return pl_nomem(c);
        int nq = 0;
        for (int i = 0; i < in->ncols; i++) {
            int qi = -1;
            for (int k = 0; k < nq && in->quals[i]; k++)
                if (!strcmp(quals[k], in->quals[i]))
                    qi = k;
            if (qi < 0 && in->quals[i]) {
                quals[nq] = in->quals[i];
                qi = nq++;
            }
            cols[i] = (bind_col){.name = in->names[i], .qual = qi, .type = in->types[i], .index = i};
        }
        /* a USING column's other copy answers only to its qualifier */
        for (int i = 0; in->hidden && i < in->ncols; i++)
            cols[i].hidden = in->hidden[i];
        for (int i = 0; i < in->nlquals; i++) {
            bool have = false;
            for (int k = 0; k < nq && !have; k++)
                have = !strcmp(quals[k], in->lquals[i]);
            if (!have)
                quals[nq++] = in->lquals[i];
        }
        rel = (bind_rel){.cols = cols, .ncols = in->ncols, .quals = quals, .nquals = nq, .relation = true,
                         .hint_names = in->hint, .nhint = in->nhint};
        rp = &rel;
    }
    hook_ctx h = {c, lv, nlv};
    bind_hooks hooks = {&h, run_subquery};
    int rc = bind_select_rel(c->a, s, rp, &hooks, c->params, c->nparams, c->now_us, c->cancel, &n->q, c->err);
    if (rc)
        return rc;
    if (ti) {
        n->table_rows = n->est = (double)ti->row_count;
        n->q.table = sql_arena_strndup(c->a, ti->name, strlen(ti->name));
        for (int i = 0; i < n->q.ncols; i++)
            n->q.cols[i].name = sql_arena_strndup(c->a, n->q.cols[i].name, strlen(n->q.cols[i].name));
        n->label = n->q.table;
    }
    n->input = in;
    if (in)
        n->est = in->est;
    n->ncols = n->q.nvisible;
    n->types = pl_alloc(c, (size_t)n->ncols * sizeof *n->types);
    n->names = pl_alloc(c, (size_t)n->ncols * sizeof *n->names);
    n->quals = pl_alloc(c, (size_t)n->ncols * sizeof *n->quals);
    if (!n->types || !n->names || !n->quals)
        return pl_nomem(c);
    for (int i = 0; i < n->ncols; i++) {
        n->types[i] = n->q.outs[i]->type;
        n->names[i] = sql_arena_strndup(c->a, n->q.names[i], strlen(n->q.names[i]));
        if (!n->names[i])
            return pl_nomem(c);
        n->q.names[i] = n->names[i];  /* the table's info, which names point into, is freed after binding */
    }
    *out = n;
    return 0;
}

static int table_info(plan_ctx *c, const char *name, int pos, factdb_table_info *ti)
{
    int rc = factdb_table_info_get(c->db, name, ti, c->err);
    if (rc == FACTDB_NO_TABLE)
        return pl_perr(c, FACTDB_NO_TABLE, pos, "relation \"%s\" does not exist", name);
    if (rc)
        c->err->position = pos;
    return rc;
}

static bool table_exists(plan_ctx *c, const char *name)
{
    factdb_table_info ti;
    factdb_error e = {0};
    if (factdb_table_info_get(c->db, name, &ti, &e))
        return false;
    factdb_table_info_free(&ti);
    return true;
}

/* A node's columns renamed (a derived table's or WITH query's column list) and qualified by its alias. */
static int rename_cols(plan_ctx *c, plan_node *n, const char *qual, char **colnames, int ncolnames, int pos,
                       rcol **out)
{
    if (ncolnames > n->ncols)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, pos, "table \"%s\" has %d columns available but %d columns specified",
                    qual ? qual : "?", n->ncols, ncolnames);
    rcol *rc = pl_alloc(c, (size_t)n->ncols * sizeof *rc);
    if (!rc)
        return pl_nomem(c);
    for (int i = 0; i < n->ncols; i++)
        rc[i] = (rcol){.qual = qual, .name = i < ncolnames ? colnames[i] : n->names[i], .type = n->types[i]};
    *out = rc;
    return 0;
}

static int new_leaf(plan_ctx *c, leaf **out)
{
    leaf *l = pl_alloc(c, sizeof *l);
    if (!l)
        return pl_nomem(c);
    *out = l;
    return 0;
}

static int leaf_of_node(plan_ctx *c, plan_node *n, const char *qual, char **colnames, int ncolnames, int pos,
                        leaf **out)
{
    leaf *l = NULL;
    if (new_leaf(c, &l) || rename_cols(c, n, qual, colnames, ncolnames, pos, &l->cols))
        return c->err->code;
    l->qual = qual;
    l->node = n;
    l->ncols = n->ncols;
    /* a derived table over a stored table (a grouped correlated subquery) is as big as what it reads, for
     * the order in which a join's inputs run */
    l->est = n->est > 0 ? n->est : 1e4;
    *out = l;
    return 0;
}

static int plan_cte_node(plan_ctx *c, plan_cte *p, plan_node **out)
{
    if (!p->node) {
        /* a WITH query sees the WITH queries before it, not itself (no RECURSIVE) */
        plan_cte *saved = c->ctes;
        c->ctes = p->next;
        int rc = pl_query_expr(c, p->cte->sel, &p->node);
        c->ctes = saved;
        if (rc)
            return rc;
        p->node->shared = true;
    }
    *out = p->node;
    return 0;
}

bool pl_view_exists(plan_ctx *c, const char *name) { return store_view_exists(c->db, name); }

/* A view named in FROM: its stored query, parsed and planned afresh with no WITH queries in scope (a view
 * sees only tables and other views); *names: the column names CREATE VIEW gave, if any. */
int pl_view(plan_ctx *c, const char *name, int pos, plan_node **out, char ***names, int *nnames)
{
    if (c->view_depth >= 16)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, pos, "views nested more than 16 deep (does view \"%s\" refer to "
                       "itself through others?)", name);
    /* views naming others twice (a UNION of the same view, nested) double at each level: bound the total */
    if (++c->views_expanded > 256)
        return pl_perr(c, FACTDB_LIMIT, pos, "the query expands more than 256 view references (view \"%s\" and "
                       "the views it names); define the views over tables more directly", name);
    store_txn *t;
    bool borrowed;
    int rc = store_txn_read_db(c->db, &t, &borrowed, c->err);
    if (rc)
        return rc;
    store_view v;
    rc = store_view_get(t, name, &v, c->err);
    store_txn_end(t, borrowed);
    if (rc)
        return rc == FACTDB_NO_TABLE ? pl_perr(c, rc, pos, "relation \"%s\" does not exist", name) : rc;
    *names = pl_alloc(c, (size_t)(v.ncols + 1) * sizeof **names);
    char *sql = sql_arena_strndup(c->a, v.sql, v.len);
    for (int i = 0; *names && i < v.ncols; i++)
        (*names)[i] = sql_arena_strndup(c->a, v.cols[i], strlen(v.cols[i]));
    *nnames = v.ncols;
    size_t len = v.len;
    store_view_free(&v);
    if (!*names || !sql)
        return pl_nomem(c);
    sql_stmt *st;
    size_t used;
    factdb_error e = {0};
    if ((rc = sql_parse_cancelable(c->a, sql, len, c->cancel, &st, &used, &e)) || !st || st->kind != S_SELECT)
        return pl_perr(c, rc ? rc : FACTDB_CORRUPT, pos, "view \"%s\" cannot be read: %s", name,
                       rc ? e.message : "its definition is not a query");
    plan_cte *saved = c->ctes;
    c->ctes = NULL;
    c->view_depth++;
    rc = pl_query_expr(c, st->select, out);
    c->view_depth--;
    c->ctes = saved;
    if (rc && !c->view_depth) {
        /* the position is in the view's text: report the outermost view, and where the query names it */
        char msg[sizeof c->err->message];
        snprintf(msg, sizeof msg, "%s", c->err->message);
        return pl_perr(c, rc, pos, "in view \"%s\": %s", name, msg);
    }
    return rc;
}

/* Flattens a FROM tree: inner and cross joins into leaves and conjuncts; an outer join is one leaf. */
static int flatten(plan_ctx *c, sql_from *f, problem *pb, sql_select *owner)
{
    if (f->kind == F_JOIN && f->on && owner && owner->from && pl_check_on_scope(c, owner->from, f))
        return c->err->code;
    if (f->kind == F_JOIN && (f->join == J_INNER || f->join == J_CROSS)) {
        int first_right, first_left = pb->n;
        if (flatten(c, f->left, pb, owner))
            return c->err->code;
        first_right = pb->n;
        if (flatten(c, f->right, pb, owner))
            return c->err->code;
        if (f->on)
            return pl_split_and(c, f->on, &pb->conj);
        if (f->nusing || f->natural) {
            /* USING (a) / NATURAL: left.a = right.a; the right copy is hidden from unqualified names */
            int nu = f->nusing;
            char **names = f->using;
            char *nat[FACTDB_MAX_COLUMNS];
            if (f->natural) {
                nu = 0;
                names = nat;
                for (int i = first_right; i < pb->n; i++)
                    for (int k = 0; k < pb->lv[i]->ncols; k++) {
                        int li, ci;
                        if (!pb->lv[i]->cols[k].hidden && nu < FACTDB_MAX_COLUMNS &&
                            find_col(pb->lv + first_left, first_right - first_left, NULL, pb->lv[i]->cols[k].name,
                                     &li, &ci) == 0)
                            nat[nu++] = (char *)pb->lv[i]->cols[k].name;
                    }
            }
            for (int u = 0; u < nu; u++) {
                int pos = f->using_pos ? f->using_pos[u] : f->pos;
                int la = 0, ca = 0, lb = 0, cb = 0;
                for (int v = 0; v < u; v++)
                    if (!strcmp(names[v], names[u]))
                        return pl_perr(c, FACTDB_INVALID_ARGUMENT, pos, "column name \"%s\" appears more than once "
                                       "in USING clause", names[u]);
                int ra = find_col(pb->lv + first_left, first_right - first_left, NULL, names[u], &la, &ca);
                int rb = find_col(pb->lv + first_right, pb->n - first_right, NULL, names[u], &lb, &cb);
                if (ra == -2 || rb == -2)
                    return pl_perr(c, FACTDB_INVALID_ARGUMENT, pos, "common column name \"%s\" appears more than once "
                                   "in %s table", names[u], ra == -2 ? "left" : "right");
                if (ra || rb)
                    return pl_perr(c, FACTDB_INVALID_ARGUMENT, pos, "column \"%s\" specified in USING clause does not "
                                "exist in %s table", names[u], ra ? "left" : "right");
                la += first_left;
                lb += first_right;
                leaf *L = pb->lv[la], *R = pb->lv[lb];
                ast *eq = pl_alloc(c, sizeof *eq);
                ast **args = pl_alloc(c, 2 * sizeof *args);
                if (!eq || !args)
                    return pl_nomem(c);
                /* qualify both sides so the condition stays unambiguous after hiding */
                args[0] = pl_mk_col(c, L->cols[ca].qual, names[u], pos);
                args[1] = pl_mk_col(c, R->cols[cb].qual, names[u], pos);
                if (!args[0] || !args[1])
                    return pl_nomem(c);
                if (!L->cols[ca].qual || !R->cols[cb].qual)
                    return pl_perr(c, FACTDB_INVALID_ARGUMENT, pos, "USING needs both sides to have a name (give the "
                                "subquery an alias)");
                *eq = (ast){.kind = A_BIN, .op = "=", .args = args, .nargs = 2, .pos = pos, .depth = 2};
                R->cols[cb].hidden = true;
                if (pb->nmerged < (int)ARRAY_LEN(pb->merged_leaf)) {
                    pb->merged_leaf[pb->nmerged] = la;
                    pb->merged_col[pb->nmerged++] = ca;
                }
                if (pl_push(c, &pb->conj, eq))
                    return c->err->code;
            }
        }
        return 0;
    }
    if (pb->n == MAX_LEAVES)
        return pl_perr(c, FACTDB_LIMIT, f->pos, "too many tables in one FROM clause (at most %d)", MAX_LEAVES);
    leaf *l = NULL;
    if (f->kind == F_TABLE) {
        plan_cte *p = find_cte(c, f->table);
        if (p) {
            plan_node *n;
            if (plan_cte_node(c, p, &n) || leaf_of_node(c, n, f->alias ? f->alias : f->table,
                                                        f->colnames ? f->colnames : p->cte->colnames,
                                                        f->colnames ? f->ncolnames : p->cte->ncolnames, f->pos, &l))
                return c->err->code;
        } else if (!strchr(f->table, '.') && !table_exists(c, f->table) && pl_view_exists(c, f->table)) {
            plan_node *n;
            char **names;
            int nnames;
            if (pl_view(c, f->table, f->pos, &n, &names, &nnames) ||
                leaf_of_node(c, n, f->alias ? f->alias : f->table, f->colnames ? f->colnames : names,
                             f->colnames ? f->ncolnames : nnames, f->pos, &l))
                return c->err->code;
        } else if (pl_sysview_exists(f->table) && (strchr(f->table, '.') || !table_exists(c, f->table))) {
            plan_node *n;
            const char *dot = strchr(f->table, '.');
            if (pl_sysview(c, f->table, &n) || leaf_of_node(c, n, f->alias ? f->alias : dot ? dot + 1 : f->table,
                                                             f->colnames, f->ncolnames, f->pos, &l))
                return c->err->code;
        } else {
            factdb_table_info ti;
            if (table_info(c, f->table, f->pos, &ti) || new_leaf(c, &l)) {
                return c->err->code;
            }
            l->table = sql_arena_strndup(c->a, ti.name, strlen(ti.name));
            l->table_pos = f->pos;
            l->qual = f->alias ? f->alias : l->table;
            l->ncols = (int)ti.ncols;
            l->cols = pl_alloc(c, ti.ncols * sizeof *l->cols);
            if (!l->cols || !l->table) {
                factdb_table_info_free(&ti);
                return pl_nomem(c);
            }
            if (f->ncolnames > l->ncols) {
                factdb_table_info_free(&ti);
                return pl_perr(c, FACTDB_INVALID_ARGUMENT, f->pos, "table \"%s\" has %d columns available but %d columns "
                            "specified", l->qual, l->ncols, f->ncolnames);
            }
            for (int i = 0; i < l->ncols; i++) {
                const factdb_column_info *ci = &ti.cols[i];
                const char *nm = i < f->ncolnames ? f->colnames[i] : sql_arena_strndup(c->a, ci->name, strlen(ci->name));
                l->cols[i] = (rcol){.qual = l->qual, .name = nm,
                                    .type = sql_type_from_store(ci->type, ci->precision, ci->scale)};
            }
            l->est = (double)ti.row_count;
            factdb_table_info_free(&ti);
            if (f->ncolnames) {
                /* renamed columns: read the table through a derived node so names stay consistent */
                l->table = NULL;
                sql_select *sel = pl_alloc(c, sizeof *sel);
                ast *star = pl_alloc(c, sizeof *star);
                ast **items = pl_alloc(c, sizeof *items);
                char **aliases = pl_alloc(c, sizeof *aliases);
                if (!sel || !star || !items || !aliases)
                    return pl_nomem(c);
                *star = (ast){.kind = A_STAR, .pos = f->pos, .depth = 1};
                items[0] = star;
                *sel = (sql_select){.items = items, .aliases = aliases, .nitems = 1, .table = f->table,
                                    .table_pos = f->pos, .pos = f->pos};
                if (pl_query_expr(c, sel, &l->node))
                    return c->err->code;
            }
        }
    } else if (f->kind == F_SUBQUERY) {
        plan_node *n;
        if (pl_query_expr(c, f->sub, &n) || leaf_of_node(c, n, f->alias, f->colnames, f->ncolnames, f->pos, &l))
            return c->err->code;
    } else {
        /* an outer join: a join problem of its own */
        plan_node *n;
        if (plan_from(c, f, &n, owner))
            return c->err->code;
        if (new_leaf(c, &l))
            return c->err->code;
        l->node = n;
        l->ncols = n->ncols;
        l->cols = pl_alloc(c, (size_t)n->ncols * sizeof *l->cols);
        if (!l->cols)
            return pl_nomem(c);
        for (int i = 0; i < n->ncols; i++)
            l->cols[i] = (rcol){.qual = n->quals[i], .name = n->names[i], .type = n->types[i],
                                .hidden = n->hidden && n->hidden[i]};
        l->est = 1e5;
    }
    for (int i = 0; l->qual && i < pb->n; i++)
        if (pb->lv[i]->qual && !strcmp(pb->lv[i]->qual, l->qual))
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, f->pos, "table name \"%s\" specified more than once; give one of "
                           "them an alias", l->qual);
    pb->lv[pb->n++] = l;
    return 0;
}

static void mark_need(const ast *x, leaf *const *lv, int n);

static void mark_from(const sql_from *f, leaf *const *lv, int n)
{
    if (f && f->kind == F_JOIN) {
        mark_need(f->on, lv, n);
        mark_from(f->left, lv, n);
        mark_from(f->right, lv, n);
    }
}

/* A subquery may name the outer query's columns anywhere (a correlated reference): mark every name in it
 * (a superset; its own `*` marks nothing outside it). */
static void mark_query(const sql_select *q, leaf *const *lv, int n)
{
    if (q->setop) {
        mark_query(q->larg, lv, n);
        mark_query(q->rarg, lv, n);
        return;
    }
    for (int i = 0; i < q->nitems; i++)
        if (q->items[i]->kind != A_STAR || q->items[i]->qual)
            mark_need(q->items[i], lv, n);
    mark_need(q->where, lv, n);
    mark_need(q->having, lv, n);
    for (int i = 0; i < q->ngroup; i++)
        mark_need(q->group[i], lv, n);
    mark_from(q->from, lv, n);
}

/* Marks the columns of every leaf that x names (superset: a name marks every leaf column it could be). */
static void mark_need(const ast *x, leaf *const *lv, int n)
{
    if (!x)
        return;
    if (x->kind == A_COLUMN || x->kind == A_STAR) {
        for (int i = 0; i < n; i++)
            for (int k = 0; k < lv[i]->ncols; k++) {
                const rcol *rc = &lv[i]->cols[k];
                if (x->qual && (!rc->qual || strcmp(x->qual, rc->qual)))
                    continue;
                if (x->kind == A_STAR || !strcmp(x->name, rc->name))
                    lv[i]->need[k] = true;
            }
        return;
    }
    if (x->kind == A_SUBQUERY && x->sub)
        mark_query(x->sub, lv, n);
    mark_need(x->filter, lv, n);
    for (int i = 0; i < x->nargs; i++)
        mark_need(x->args[i], lv, n);
}

static void mark_select(const sql_select *s, leaf *const *lv, int n, bool where)
{
    for (int i = 0; i < s->nitems; i++)
        mark_need(s->items[i], lv, n);
    if (where)
        mark_need(s->where, lv, n);
    for (int i = 0; i < s->ngroup; i++)
        mark_need(s->group[i], lv, n);
    mark_need(s->having, lv, n);
    for (int i = 0; i < s->norder; i++)
        mark_need(s->order[i].expr, lv, n);
}

/* Builds a leaf's PN_QUERY: its needed columns, its pushed conjuncts. */
static int plan_leaf(plan_ctx *c, leaf *l)
{
    sql_select *s = pl_alloc(c, sizeof *s);
    int nitems = 0;
    for (int k = 0; k < l->ncols; k++)
        nitems += l->need[k];
    ast **items = pl_alloc(c, (size_t)(nitems + l->keyx.n + 1) * sizeof *items);
    char **aliases = pl_alloc(c, (size_t)(nitems + l->keyx.n + 1) * sizeof *aliases);
    l->outcol = pl_alloc(c, (size_t)(l->ncols + 1) * sizeof *l->outcol);
    if (!s || !items || !aliases || !l->outcol)
        return pl_nomem(c);
    int k2 = 0;
    for (int k = 0; k < l->ncols; k++) {
        l->outcol[k] = -1;
        if (!l->need[k])
            continue;
        ast *x = pl_mk_col(c, NULL, l->cols[k].name, l->table_pos);
        if (!x)
            return pl_nomem(c);
        x->ival = k + 1;  /* resolved: the leaf's own column k */
        x->fixed = true;
        l->outcol[k] = k2;
        items[k2++] = x;
    }
    l->keyx_out = k2;
    for (int i = 0; i < l->keyx.n; i++)
        items[k2++] = l->keyx.v[i];
    nitems += l->keyx.n;
    if (!nitems) {
        /* no column is read (count(*) over a join): one constant column keeps the rows */
        ast *one = pl_alloc(c, sizeof *one);
        if (!one)
            return pl_nomem(c);
        *one = (ast){.kind = A_CONST, .lit = L_TRUE, .pos = l->table_pos, .depth = 1};
        items[0] = one;
        nitems = 1;
    }
    *s = (sql_select){.items = items, .aliases = aliases, .nitems = nitems, .where = pl_mk_and(c, l->conj.v, l->conj.n),
                      .pos = l->table_pos};
    plan_node *n;
    if (l->table) {
        factdb_table_info ti;
        s->table = (char *)l->table;
        s->alias = (char *)l->qual;
        if (table_info(c, l->table, l->table_pos, &ti))
            return c->err->code;
        int rc = pl_bind_node(c, s, NULL, &ti, NULL, 0, &n);
        factdb_table_info_free(&ti);
        if (rc)
            return rc;
    } else {
        /* the node's columns under the leaf's names (renamed columns, outer joins' qualifiers) */
        plan_node *in = l->node;
        plan_node view = *in;
        view.names = pl_alloc(c, (size_t)in->ncols * sizeof *view.names);
        view.quals = pl_alloc(c, (size_t)in->ncols * sizeof *view.quals);
        if (!view.names || !view.quals)
            return pl_nomem(c);
        for (int k = 0; k < in->ncols; k++) {
            view.names[k] = (char *)l->cols[k].name;
            view.quals[k] = l->cols[k].qual;
        }
        /* bind over the renamed view, then read the real node */
        plan_node *tmp = pl_alloc(c, sizeof *tmp);
        if (!tmp)
            return pl_nomem(c);
        *tmp = view;
        if (pl_bind_node(c, s, tmp, NULL, NULL, 0, &n))
            return c->err->code;
        n->input = in;
    }
    for (int k = 0; k < n->ncols; k++)
        n->quals[k] = NULL;
    if (!(n->hidden = pl_alloc(c, (size_t)n->ncols * sizeof *n->hidden)))
        return pl_nomem(c);
    for (int i = 0; i < l->keyx.n; i++) {
        n->names[l->keyx_out + i] = "?join key?";  /* answers to no name */
        n->hidden[l->keyx_out + i] = true;
    }
    for (int k = 0; k < l->ncols; k++)
        if (l->outcol[k] >= 0) {
            n->names[l->outcol[k]] = (char *)l->cols[k].name;
            n->quals[l->outcol[k]] = l->cols[k].qual;
            n->hidden[l->outcol[k]] = l->cols[k].hidden;
        }
    if (!n->label)
        n->label = l->qual ? l->qual : "subquery";
    l->scan = n;
    n->table_rows = l->est;
    /* a rough size: every pushed conjunct keeps a third */
    for (int i = 0; i < l->conj.n; i++)
        l->est /= 3;
    n->est = l->est;
    return 0;
}

/* A join node of l and r with equality keys (pairs of output columns) and a residual over both. */
static int join_node(plan_ctx *c, join_type t, plan_node *l, plan_node *r, const int *lk, const int *rk, int nk,
                     ast *resid, plan_node **out)
{
    plan_node *n = pl_new_node(c, PN_JOIN);
    if (!n)
        return pl_nomem(c);
    n->l = l;
    n->r = r;
    n->est = MAX(l->est, r->est);
    bool both = t != JT_SEMI && t != JT_ANTI;
    n->ncols = l->ncols + (both ? r->ncols : 0);
    n->types = pl_alloc(c, (size_t)n->ncols * sizeof *n->types);
    n->names = pl_alloc(c, (size_t)n->ncols * sizeof *n->names);
    n->quals = pl_alloc(c, (size_t)n->ncols * sizeof *n->quals);
    n->lkey = pl_alloc(c, (size_t)(nk + 1) * sizeof *n->lkey);
    n->rkey = pl_alloc(c, (size_t)(nk + 1) * sizeof *n->rkey);
    if (!n->types || !n->names || !n->quals || !n->lkey || !n->rkey)
        return pl_nomem(c);
    for (int i = 0; i < n->ncols; i++) {
        plan_node *s = i < l->ncols ? l : r;
        int k = i < l->ncols ? i : i - l->ncols;
        n->types[i] = s->types[k];
        n->names[i] = s->names[k];
        n->quals[i] = s->quals[k];
    }
    if (l->hidden || r->hidden) {
        if (!(n->hidden = pl_alloc(c, (size_t)n->ncols * sizeof *n->hidden)))
            return pl_nomem(c);
        for (int i = 0; i < n->ncols; i++) {
            plan_node *s = i < l->ncols ? l : r;
            n->hidden[i] = s->hidden && s->hidden[i < l->ncols ? i : i - l->ncols];
        }
    }
    memcpy(n->lkey, lk, (size_t)nk * sizeof *lk);
    memcpy(n->rkey, rk, (size_t)nk * sizeof *rk);
    n->j = (exec_join){.type = t, .nkeys = nk, .lkey = n->lkey, .rkey = n->rkey, .now_us = c->now_us,
                       .cancel = c->cancel, .mem = &c->mem, .mem_limit = c->mem_limit, .threads = c->threads};
    static const char *names[] = {"Hash Join", "Hash Left Join", "Hash Right Join", "Hash Full Join", "Hash Semi Join",
                                  "Hash Anti Join", "Nested Loop (cross join)"};
    n->label = names[t];
    if (resid) {
        /* bound over l's columns then r's (all of them, even for a semi join) */
        plan_node both_in = *n;
        if (!both) {
            both_in.ncols = l->ncols + r->ncols;
            both_in.types = pl_alloc(c, (size_t)both_in.ncols * sizeof *both_in.types);
            both_in.names = pl_alloc(c, (size_t)both_in.ncols * sizeof *both_in.names);
            both_in.quals = pl_alloc(c, (size_t)both_in.ncols * sizeof *both_in.quals);
            both_in.hidden = pl_alloc(c, (size_t)both_in.ncols * sizeof *both_in.hidden);
            if (!both_in.types || !both_in.names || !both_in.quals || !both_in.hidden)
                return pl_nomem(c);
            for (int i = 0; i < both_in.ncols; i++) {
                plan_node *s = i < l->ncols ? l : r;
                int k = i < l->ncols ? i : i - l->ncols;
                both_in.types[i] = s->types[k];
                both_in.names[i] = s->names[k];
                both_in.quals[i] = s->quals[k];
                both_in.hidden[i] = s->hidden && s->hidden[k];
            }
        }
        sql_select *s = pl_alloc(c, sizeof *s);
        ast **items = pl_alloc(c, sizeof *items);
        char **aliases = pl_alloc(c, sizeof *aliases);
        if (!s || !items || !aliases)
            return pl_nomem(c);
        items[0] = resid;
        *s = (sql_select){.items = items, .aliases = aliases, .nitems = 1, .pos = resid->pos};
        plan_node *rn;
        if (pl_bind_node(c, s, &both_in, NULL, NULL, 0, &rn))
            return c->err->code;
        if (rn->q.agg || rn->q.outs[0]->type.id != TY_BOOL)
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, resid->pos, "argument of JOIN/ON must be type boolean");
        n->j.resid = pl_alloc(c, sizeof *n->j.resid);
        if (!n->j.resid)
            return pl_nomem(c);
        *n->j.resid = rn->q;
    }
    *out = n;
    return 0;
}

/* Resolves column x among the problem's leaves to (leaf, column). */
static bool col_of(const ast *x, leaf *const *lv, int n, int *li, int *ci)
{
    return x->kind == A_COLUMN && find_col(lv, n, x->qual, x->name, li, ci) == 0;
}

/* Joins the leaves of pb (their scans planned) into one PN_JOINSET node: equalities between two leaves
 * become its edges, conjuncts over several leaves its conditions; conjuncts it cannot take (subqueries,
 * names it does not know) stay in pb->conj for the caller. */
static int join_leaves(plan_ctx *c, problem *pb, plan_node **out)
{
    int n = pb->n;
    if (n == 1) {
        *out = pb->lv[0]->scan;
        return 0;
    }
    plan_node *js = pl_new_node(c, PN_JOINSET);
    if (!js)
        return pl_nomem(c);
    js->nkids = n;
    js->kids = pl_alloc(c, (size_t)n * sizeof *js->kids);
    js->edges = pl_alloc(c, (size_t)(pb->conj.n + 1) * sizeof *js->edges);
    js->rconj = pl_alloc(c, (size_t)(pb->conj.n + 1) * sizeof *js->rconj);
    js->rmask = pl_alloc(c, (size_t)(pb->conj.n + 1) * sizeof *js->rmask);
    if (!js->kids || !js->edges || !js->rconj || !js->rmask)
        return pl_nomem(c);
    for (int i = 0; i < n; i++) {
        js->kids[i] = pb->lv[i]->scan;
        js->ncols += js->kids[i]->ncols;
        js->est = MAX(js->est, js->kids[i]->est);
    }
    js->types = pl_alloc(c, (size_t)js->ncols * sizeof *js->types);
    js->names = pl_alloc(c, (size_t)js->ncols * sizeof *js->names);
    js->quals = pl_alloc(c, (size_t)js->ncols * sizeof *js->quals);
    js->hidden = pl_alloc(c, (size_t)js->ncols * sizeof *js->hidden);
    if (!js->types || !js->names || !js->quals || !js->hidden)
        return pl_nomem(c);
    for (int i = 0, at = 0; i < n; i++)
        for (int k = 0; k < js->kids[i]->ncols; k++, at++) {
            plan_node *kid = js->kids[i];
            js->types[at] = kid->types[k];
            js->names[at] = kid->names[k];
            js->quals[at] = kid->quals[k];
            js->hidden[at] = kid->hidden && kid->hidden[k];
        }
    js->label = "Hash Joins";
    int k2 = 0;
    for (int k = 0; k < pb->conj.n; k++) {
        ast *x = pb->conj.v[k];
        int la, ca, lb, cb;
        const struct xkey *xk = NULL;
        for (int q = 0; q < pb->nxkeys && !xk; q++)
            if (pb->xkeys[q].conj == x)
                xk = &pb->xkeys[q];
        if (xk) {
            leaf *a = pb->lv[xk->la], *b = pb->lv[xk->lb];
            int oa = a->keyx_out + xk->ia, ob = b->keyx_out + xk->ib;
            if (exec_join_key_ok(a->scan->types[oa], b->scan->types[ob])) {
                js->edges[js->nedges++] = (plan_edge){xk->la, oa, xk->lb, ob};
                continue;
            }
        }
        if (x->kind == A_BIN && x->nargs == 2 && !strcmp(x->op, "=") && col_of(x->args[0], pb->lv, n, &la, &ca) &&
            col_of(x->args[1], pb->lv, n, &lb, &cb) && la != lb &&
            exec_join_key_ok(pb->lv[la]->cols[ca].type, pb->lv[lb]->cols[cb].type)) {
            js->edges[js->nedges++] = (plan_edge){la, pb->lv[la]->outcol[ca], lb, pb->lv[lb]->outcol[cb]};
            continue;
        }
        bool sub = false, unknown = false;
        uint64_t m = leaf_refs(x, pb->lv, n, &sub, &unknown);
        if (m && !sub && !unknown) {
            js->rconj[js->nrconj] = x;
            js->rmask[js->nrconj++] = m;
            continue;
        }
        pb->conj.v[k2++] = x;
    }
    pb->conj.n = k2;
    *out = js;
    return 0;
}

/* Which query's columns x reads: 1 only the outer one's, 2 only its own (a subquery's, with names o), 0
 * none or both. */
static void refs_walk(const ast *x, const own_names *o, leaf *const *lv, int n, bool *outer, bool *inner)
{
    if (!x)
        return;
    if (x->kind == A_COLUMN) {
        if (outer_ref(x, o, lv, n))
            *outer = true;
        else
            *inner = true;
        return;
    }
    refs_walk(x->filter, o, lv, n, outer, inner);
    for (int i = 0; i < x->nargs; i++)
        refs_walk(x->args[i], o, lv, n, outer, inner);
}

static int refs_kind(const ast *x, const own_names *o, leaf *const *lv, int n)
{
    bool outer = false, inner = false;
    refs_walk(x, o, lv, n, &outer, &inner);
    return outer == inner ? 0 : outer ? 1 : 2;
}

static bool has_subquery(const ast *x)
{
    if (!x)
        return false;
    if (x->kind == A_SUBQUERY || has_subquery(x->filter))
        return true;
    for (int i = 0; i < x->nargs; i++)
        if (has_subquery(x->args[i]))
            return true;
    return false;
}

/* Correlated subqueries in the conjuncts of pb: EXISTS / NOT EXISTS become semi / anti joins (pb->semis),
 * a comparison with a scalar subquery becomes a leaf (the subquery grouped by its correlation columns)
 * joined on them. */
static int decorrelate(plan_ctx *c, problem *pb, int nouter)
{
    for (int k = 0; k < pb->conj.n; k++) {
        ast *x = pb->conj.v[k];
        bool anti = false;
        ast *sq = NULL;
        int arg = -1;
        if (x->kind == A_NOT && x->args[0]->kind == A_SUBQUERY && !strcmp(x->args[0]->op, "exists")) {
            anti = true;
            sq = x->args[0];
        } else if (x->kind == A_SUBQUERY && !strcmp(x->op, "exists")) {
            sq = x;
        } else if (x->kind == A_BIN && x->nargs == 2 && strcmp(x->op, "and") && strcmp(x->op, "or")) {
            for (int a = 0; a < 2; a++)
                if (x->args[a]->kind == A_SUBQUERY && !strcmp(x->args[a]->op, "scalar")) {
                    sq = x->args[a];
                    arg = a;
                }
        }
        if (!sq || !correlated(c, sq->sub, pb->lv, nouter))
            continue;
        sql_select *s = sq->sub;
        if (s->setop || s->ngroup || s->having || s->limit || s->offset || s->distinct)
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, sq->pos, "correlated subqueries with GROUP BY, HAVING, DISTINCT, "
                        "LIMIT or set operations are not supported");
        own_names *o = malloc(sizeof *o);
        if (!o)
            return pl_nomem(c);
        own_of(c, s, o);
        ast_vec inner = {0}, conj = {0}, ko = {0}, ki = {0}, resid = {0};
        if (pl_split_and(c, s->where, &conj)) {
            free(o);
            return c->err->code;
        }
        int rc = 0;
        for (int i = 0; i < conj.n && !rc; i++) {
            ast *y = conj.v[i];
            if (!any_outer(y, o, pb->lv, nouter)) {
                rc = pl_push(c, &inner, y);
                continue;
            }
            if (has_subquery(y)) {
                free(o);
                return pl_perr(c, FACTDB_INVALID_ARGUMENT, y->pos, "a subquery inside a correlated subquery refers to "
                               "the outer query's columns: two levels of correlation are not supported");
            }
            if (y->kind == A_BIN && y->nargs == 2 && !strcmp(y->op, "=") && !has_subquery(y)) {
                /* outer_expr = inner_expr: each side reads only its own query's columns */
                int c0 = refs_kind(y->args[0], o, pb->lv, nouter), c1 = refs_kind(y->args[1], o, pb->lv, nouter);
                if ((c0 == 1 && c1 == 2) || (c0 == 2 && c1 == 1)) {
                    if ((rc = pl_push(c, &ko, y->args[c0 == 1 ? 0 : 1])) || (rc = pl_push(c, &ki, y->args[c0 == 1 ? 1 : 0])))
                        break;
                    continue;
                }
            }
            rc = pl_push(c, &resid, y);
        }
        free(o);
        if (rc)
            return rc;
        if (arg >= 0 && (resid.n || !ko.n))
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, sq->pos, "a correlated scalar subquery is supported when it "
                        "refers to the outer query only through equalities (inner_column = outer_column) in its "
                        "WHERE");
        if (!ko.n && !resid.n)
            continue;
        /* the inner query: its correlation columns (and, for a residual, every column it names) */
        sql_select *is = pl_alloc(c, sizeof *is);
        if (!is)
            return pl_nomem(c);
        *is = *s;
        is->where = pl_mk_and(c, inner.v, inner.n);
        is->norder = 0;
        int nitems = ki.n + (arg >= 0 ? 1 : 0);
        ast_vec items = {0};
        for (int i = 0; i < ki.n; i++)
            if (pl_push(c, &items, ki.v[i]))
                return c->err->code;
        if (arg >= 0 && pl_push(c, &items, s->items[0]))
            return c->err->code;
        if (arg >= 0 && s->nitems != 1)
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, sq->pos, "subquery must return only one column");
        const char *sqname = NULL;
        char buf[32];
        snprintf(buf, sizeof buf, "__sq%d", ++c->nsub);
        if (!(sqname = sql_arena_strndup(c->a, buf, strlen(buf))))
            return pl_nomem(c);
        if (arg >= 0) {
            if (!bind_has_agg(s->items[0]))
                return pl_perr(c, FACTDB_INVALID_ARGUMENT, sq->pos, "a correlated scalar subquery is supported when it "
                            "computes an aggregate (it could return several rows otherwise)");
            /* GROUP BY the correlation columns; count() would give NULL instead of 0 for no rows */
            for (const char *p = strstr(s->items[0]->name ? s->items[0]->name : "", "count"); p; p = NULL)
                return pl_perr(c, FACTDB_INVALID_ARGUMENT, sq->pos, "a correlated scalar subquery with count() is not "
                            "supported");
            is->group = ki.v;
            is->ngroup = ki.n;
        } else {
            /* residual columns: every inner column the residual names */
            for (int i = 0; i < resid.n; i++) {
                ast_vec stack = {0};
                if (pl_push(c, &stack, resid.v[i]))
                    return c->err->code;
                while (stack.n) {
                    ast *y = stack.v[--stack.n];
                    if (y->kind == A_COLUMN) {
                        own_names *o2 = malloc(sizeof *o2);
                        if (!o2)
                            return pl_nomem(c);
                        own_of(c, s, o2);
                        bool outer = outer_ref(y, o2, pb->lv, nouter);
                        free(o2);
                        if (!outer && pl_push(c, &items, y))
                            return c->err->code;
                        continue;
                    }
                    for (int a = 0; a < y->nargs; a++)
                        if (pl_push(c, &stack, y->args[a]))
                            return c->err->code;
                }
            }
            nitems = items.n;
        }
        if (!items.n) {
            /* the conditions name only outer columns: one constant column keeps the inner rows */
            ast *one = pl_alloc(c, sizeof *one);
            if (!one || pl_push(c, &items, one))
                return pl_nomem(c);
            *one = (ast){.kind = A_CONST, .lit = L_TRUE, .pos = sq->pos, .depth = 1};
        }
        char **aliases = pl_alloc(c, (size_t)(items.n + 1) * sizeof *aliases);
        if (!aliases)
            return pl_nomem(c);
        is->items = items.v;
        is->nitems = items.n;
        is->aliases = aliases;
        (void)nitems;
        plan_node *in;
        if (pl_query_expr(c, is, &in))
            return c->err->code;
        if (arg >= 0) {
            /* a leaf __sqN (k1.., v) joined on ki = ko; the comparison reads __sqN.v */
            char **names = pl_alloc(c, (size_t)in->ncols * sizeof *names);
            if (!names)
                return pl_nomem(c);
            for (int i = 0; i < in->ncols; i++) {
                snprintf(buf, sizeof buf, i < ki.n ? "__k%d" : "__v", i + 1);
                if (!(names[i] = sql_arena_strndup(c->a, buf, strlen(buf))))
                    return pl_nomem(c);
            }
            leaf *l;
            if (pb->n == MAX_LEAVES)
                return pl_perr(c, FACTDB_LIMIT, sq->pos, "too many tables and subqueries in one query");
            if (leaf_of_node(c, in, sqname, names, in->ncols, sq->pos, &l))
                return c->err->code;
            pb->lv[pb->n++] = l;
            for (int i = 0; i < ko.n; i++) {
                ast *eq = pl_alloc(c, sizeof *eq);
                ast **args = pl_alloc(c, 2 * sizeof *args);
                if (!eq || !args || !(args[0] = pl_mk_col(c, sqname, names[i], sq->pos)))
                    return pl_nomem(c);
                args[1] = ko.v[i];
                *eq = (ast){.kind = A_BIN, .op = "=", .args = args, .nargs = 2, .pos = sq->pos, .depth = 2};
                if (pl_push(c, &pb->conj, eq))
                    return c->err->code;
            }
            ast *v = pl_mk_col(c, sqname, names[in->ncols - 1], sq->pos);
            if (!v)
                return pl_nomem(c);
            x->args[arg] = v;
            continue;
        }
        /* EXISTS: a semi (anti) join after the inner joins */
        if (pb->nsemi == (int)ARRAY_LEN(pb->semis))
            return pl_perr(c, FACTDB_LIMIT, sq->pos, "too many correlated EXISTS in one query");
        struct semi *sm = &pb->semis[pb->nsemi++];
        memset(sm, 0, sizeof *sm);
        sm->anti = anti;
        sm->node = in;
        sm->keys_outer = ko;
        sm->keys_inner = ki;
        sm->resid = resid;
        /* the inner columns answer to their own qualifiers (or the inner table's name) */
        own_names *o3 = malloc(sizeof *o3);
        if (!o3)
            return pl_nomem(c);
        own_of(c, s, o3);
        for (int i = 0; i < in->ncols; i++) {
            ast *y = items.v[i];
            const char *q = y->qual;
            if (!q && o3->nquals == 1)
                q = o3->quals[0];
            in->quals[i] = q;
        }
        free(o3);
        /* drop the conjunct */
        for (int i = k + 1; i < pb->conj.n; i++)
            pb->conj.v[i - 1] = pb->conj.v[i];
        pb->conj.n--;
        k--;
    }
    return 0;
}

/* bind_ast_equal ignores column qualifiers (the binder resolves them later): compare them here. */
static bool str_eq(const ast *x, const ast *y)
{
    if (!x || !y)
        return x == y;
    if (x->kind == A_COLUMN && (!x->qual != !y->qual || (x->qual && strcmp(x->qual, y->qual))))
        return false;
    for (int i = 0; i < x->nargs && i < y->nargs; i++)
        if (!str_eq(x->args[i], y->args[i]))
            return false;
    return true;
}

static bool is_or(const ast *x)
{
    if (x->kind != A_BIN || x->nargs < 2)
        return false;
    for (int i = 1; i < x->nargs; i++)
        if (strcmp(x->ops ? x->ops[i] : x->op, "or"))
            return false;
    return true;
}

static ast *mk_or(plan_ctx *c, ast **v, int n)
{
    ast *x = pl_mk_and(c, v, n);
    if (x && n > 1)
        x->op = "or";
    return x;
}

/* OR of ANDs: conditions every arm has are taken out of the OR (TPC-H Q19's join condition appears in each
 * arm), and for each leaf whose columns every arm restricts, the OR of those restrictions is added as a
 * filter the leaf's scan can apply (implied by the whole, so the whole is still checked). */
static int factor_ors(plan_ctx *c, problem *pb)
{
    int n0 = pb->conj.n;
    for (int k = 0; k < n0; k++) {
        ast *x = pb->conj.v[k];
        if (!is_or(x) || x->nargs > 64)
            continue;
        ast_vec arms[64];
        memset(arms, 0, sizeof arms);
        for (int a = 0; a < x->nargs; a++)
            if (pl_split_and(c, x->args[a], &arms[a]))
                return c->err->code;
        /* common conjuncts */
        ast_vec common = {0};
        for (int i = 0; i < arms[0].n; i++) {
            bool all = true;
            for (int a = 1; a < x->nargs && all; a++) {
                bool found = false;
                for (int j = 0; j < arms[a].n && !found; j++)
                    found = bind_ast_equal(arms[0].v[i], arms[a].v[j]) && str_eq(arms[0].v[i], arms[a].v[j]);
                all = found;
            }
            if (all && pl_push(c, &common, arms[0].v[i]))
                return c->err->code;
        }
        if (common.n) {
            ast *rest[64];
            bool empty_arm = false;
            for (int a = 0; a < x->nargs; a++) {
                ast_vec keep = {0};
                for (int j = 0; j < arms[a].n; j++) {
                    bool is_common = false;
                    for (int i = 0; i < common.n && !is_common; i++)
                        is_common = bind_ast_equal(common.v[i], arms[a].v[j]) && str_eq(common.v[i], arms[a].v[j]);
                    if (!is_common && pl_push(c, &keep, arms[a].v[j]))
                        return c->err->code;
                }
                empty_arm |= keep.n == 0;
                rest[a] = pl_mk_and(c, keep.v, keep.n);
                arms[a] = keep;
            }
            /* an arm left empty is true: the OR is then just the common part */
            pb->conj.v[k] = common.v[0];
            for (int i = 1; i < common.n; i++)
                if (pl_push(c, &pb->conj, common.v[i]))
                    return c->err->code;
            if (!empty_arm) {
                ast *o = mk_or(c, rest, x->nargs);
                if (!o || pl_push(c, &pb->conj, o))
                    return c->err ? c->err->code : pl_nomem(c);
            } else {
                continue;
            }
        }
        /* per leaf: OR over the arms of each arm's conditions on that leaf alone */
        for (int li = 0; li < pb->n; li++) {
            ast *per[64];
            bool every = true;
            for (int a = 0; a < x->nargs && every; a++) {
                ast_vec mine = {0};
                for (int j = 0; j < arms[a].n; j++) {
                    bool sub = false, unknown = false;
                    uint64_t m = leaf_refs(arms[a].v[j], pb->lv, pb->n, &sub, &unknown);
                    if (m == (1ull << li) && !sub && !unknown && pl_push(c, &mine, arms[a].v[j]))
                        return c->err->code;
                }
                every = mine.n > 0;
                per[a] = every ? pl_mk_and(c, mine.v, mine.n) : NULL;
            }
            if (!every)
                continue;
            ast *o = mk_or(c, per, x->nargs);
            if (!o || pl_push(c, &pb->conj, o))
                return c->err ? c->err->code : pl_nomem(c);
        }
    }
    return 0;
}

/* Plans FROM f with the extra conjuncts (WHERE) as one node; what cannot be placed is returned in
 * left_over. owner: the SELECT whose names are marked needed (NULL: an outer join's side: all columns). */
static int with_key_exprs(plan_ctx *c, plan_node **n, const ast_vec *ex);

static int plan_problem(plan_ctx *c, problem *pb, sql_select *owner, plan_node **out, ast_vec *left_over,
                        const ast_vec *also)
{
    int nouter = pb->n;
    if (decorrelate(c, pb, nouter) || factor_ors(c, pb))
        return c->err->code;
    /* needed columns */
    for (int i = 0; i < pb->n; i++) {
        pb->lv[i]->need = pl_alloc(c, (size_t)(pb->lv[i]->ncols + 1) * sizeof *pb->lv[i]->need);
        if (!pb->lv[i]->need)
            return pl_nomem(c);
        if (!owner)
            for (int k = 0; k < pb->lv[i]->ncols; k++)
                pb->lv[i]->need[k] = true;
    }
    /* the owner's WHERE is this problem's conjuncts (top level): marked below once those pushed into a scan,
     * which need not output their columns, are gone; an outer join's sides still mark it */
    if (owner)
        mark_select(owner, pb->lv, pb->n, also != NULL);
    for (int k = 0; also && k < also->n; k++)
        mark_need(also->v[k], pb->lv, pb->n);
    for (int s = 0; s < pb->nsemi; s++) {
        for (int i = 0; i < pb->semis[s].keys_outer.n; i++)
            mark_need(pb->semis[s].keys_outer.v[i], pb->lv, pb->n);
        for (int i = 0; i < pb->semis[s].resid.n; i++)
            mark_need(pb->semis[s].resid.v[i], pb->lv, pb->n);
    }
    /* push single-leaf conjuncts */
    int k2 = 0;
    for (int k = 0; k < pb->conj.n; k++) {
        ast *x = pb->conj.v[k];
        bool sub = false, unknown = false;
        uint64_t m = leaf_refs(x, pb->lv, pb->n, &sub, &unknown);
        if (!unknown && m && !(m & (m - 1))) {
            int li = __builtin_ctzll(m);
            /* a subquery in it must not read this query's leaves: it is then uncorrelated */
            if (!sub || !correlated_any(c, x, pb->lv, pb->n)) {
                if (pl_push(c, &pb->lv[li]->conj, x))
                    return c->err->code;
                continue;
            }
        }
        pb->conj.v[k2++] = x;
    }
    pb->conj.n = k2;
    for (int k = 0; k < pb->conj.n; k++)
        mark_need(pb->conj.v[k], pb->lv, pb->n);
    /* `expr = expr` between two leaves (a cast, arithmetic): each side computed by its leaf's scan */
    for (int k = 0; k < pb->conj.n && pb->nxkeys < (int)ARRAY_LEN(pb->xkeys); k++) {
        ast *x = pb->conj.v[k];
        if (x->kind != A_BIN || x->nargs != 2 || strcmp(x->op, "=") ||
            (x->args[0]->kind == A_COLUMN && x->args[1]->kind == A_COLUMN))
            continue;
        bool sub = false, unk = false;
        uint64_t ma = leaf_refs(x->args[0], pb->lv, pb->n, &sub, &unk);
        uint64_t mb = leaf_refs(x->args[1], pb->lv, pb->n, &sub, &unk);
        if (sub || unk || !ma || !mb || (ma & (ma - 1)) || (mb & (mb - 1)) || ma == mb || bind_has_agg(x))
            continue;
        leaf *la = pb->lv[__builtin_ctzll(ma)], *lb = pb->lv[__builtin_ctzll(mb)];
        struct xkey *xk = &pb->xkeys[pb->nxkeys++];
        *xk = (struct xkey){x, __builtin_ctzll(ma), la->keyx.n, __builtin_ctzll(mb), lb->keyx.n};
        if (pl_push(c, &la->keyx, x->args[0]) || pl_push(c, &lb->keyx, x->args[1]))
            return c->err->code;
    }
    for (int i = 0; i < pb->n; i++)
        if (plan_leaf(c, pb->lv[i]))
            return c->err->code;
    plan_node *cur;
    if (join_leaves(c, pb, &cur))
        return c->err->code;
    for (int s = 0; s < pb->nsemi; s++) {
        struct semi *sm = &pb->semis[s];
        int lk[64], rk[64], nk = 0;
        ast_vec resid = sm->resid;
        /* outer keys that are expressions: computed over the joined rows as extra (hidden) columns */
        ast_vec ex = {0};
        int ex_at[64], base = cur->ncols;
        for (int i = 0; i < sm->keys_outer.n && i < 64; i++) {
            ex_at[i] = -1;
            if (sm->keys_outer.v[i]->kind != A_COLUMN) {
                ex_at[i] = base + ex.n;
                if (pl_push(c, &ex, sm->keys_outer.v[i]))
                    return c->err->code;
            }
        }
        if (ex.n && with_key_exprs(c, &cur, &ex))
            return c->err->code;
        for (int i = 0; i < sm->keys_outer.n && nk < 64; i++) {
            /* outer key: a column of cur; inner key: column i of the inner node */
            const ast *ok = sm->keys_outer.v[i];
            int at = ex_at[i];
            for (int k = 0; at < 0 && ok->kind == A_COLUMN && k < cur->ncols; k++)
                if (!strcmp(cur->names[k], ok->name) && (!ok->qual || (cur->quals[k] && !strcmp(cur->quals[k], ok->qual))))
                    at = at < 0 ? k : -2;
            if (at < 0 || !exec_join_key_ok(cur->types[at], sm->node->types[i])) {
                ast *eq = pl_alloc(c, sizeof *eq);
                ast **args = pl_alloc(c, 2 * sizeof *args);
                ast *inner = pl_mk_col(c, NULL, sm->node->names[i], ok->pos);
                if (!eq || !args || !inner)
                    return pl_nomem(c);
                /* the inner side as the inner node's column i (an expression's own columns are not kept) */
                inner->ival = cur->ncols + i + 1;
                inner->fixed = true;
                args[0] = (ast *)ok;
                args[1] = inner;
                *eq = (ast){.kind = A_BIN, .op = "=", .args = args, .nargs = 2, .pos = ok->pos, .depth = 2};
                if (pl_push(c, &resid, eq))
                    return c->err->code;
                continue;
            }
            lk[nk] = at;
            rk[nk++] = i;
        }
        if (join_node(c, sm->anti ? JT_ANTI : JT_SEMI, cur, sm->node, lk, rk, nk, pl_mk_and(c, resid.v, resid.n), &cur))
            return c->err->code;
    }
    for (int k = 0; k < pb->conj.n; k++)
        if (pl_push(c, left_over, pb->conj.v[k]))
            return c->err->code;
    *out = cur;
    return 0;
}

/* Every ON condition and USING column of a FROM clause: the columns an outer join's sides must keep for
 * the joins above them. */
static int from_conditions(plan_ctx *c, const sql_from *f, const sql_from *skip, ast_vec *out)
{
    if (!f || f->kind != F_JOIN)
        return 0;
    /* the outer join being planned marks its own conditions: those it pushes into a side need no column */
    if (f->on && f != skip && pl_push(c, out, f->on))
        return c->err->code;
    for (int u = 0; u < f->nusing; u++) {
        ast *x = pl_mk_col(c, NULL, f->using[u], f->pos);
        if (!x || pl_push(c, out, x))
            return pl_nomem(c);
    }
    if (f->natural) {
        /* every column may be a natural join's: keep them all */
        ast *star = pl_alloc(c, sizeof *star);
        if (!star || pl_push(c, out, star))
            return pl_nomem(c);
        *star = (ast){.kind = A_STAR, .pos = f->pos, .depth = 1};
    }
    if (from_conditions(c, f->left, skip, out))
        return c->err->code;
    return from_conditions(c, f->right, skip, out);
}

/* The node over an outer join with USING columns: merged columns first, then every column of the join,
 * the USING columns' copies hidden from bare names. */
static int merge_using(plan_ctx *c, join_kind jk, plan_node **io, int nl, const ast_vec *kl, const ast_vec *kr)
{
    plan_node *j = *io;
    int nu = kl->n, nitems = nu + j->ncols;
    int *at_l = pl_alloc(c, (size_t)nu * sizeof *at_l), *at_r = pl_alloc(c, (size_t)nu * sizeof *at_r);
    ast **items = pl_alloc(c, (size_t)nitems * sizeof *items);
    char **aliases = pl_alloc(c, (size_t)nitems * sizeof *aliases);
    sql_select *sel = pl_alloc(c, sizeof *sel);
    if (!at_l || !at_r || !items || !aliases || !sel)
        return pl_nomem(c);
    for (int u = 0; u < nu; u++) {
        at_l[u] = at_r[u] = -1;
        for (int k = 0; k < j->ncols; k++) {
            const ast *key = k < nl ? kl->v[u] : kr->v[u];
            if (!strcmp(j->names[k], key->name) && j->quals[k] && key->qual && !strcmp(j->quals[k], key->qual))
                *(k < nl ? &at_l[u] : &at_r[u]) = k;
        }
        if (at_l[u] < 0 || at_r[u] < 0)
            return pl_perr(c, FACTDB_INVALID_ARGUMENT, kl->v[u]->pos, "cannot resolve the USING column \"%s\"",
                           kl->v[u]->name);
        ast *a = pl_mk_col(c, NULL, j->names[at_l[u]], kl->v[u]->pos), *b = pl_mk_col(c, NULL, j->names[at_r[u]], kl->v[u]->pos);
        if (!a || !b)
            return pl_nomem(c);
        a->ival = at_l[u] + 1;
        b->ival = at_r[u] + 1;
        a->fixed = b->fixed = true;
        if (jk == J_FULL) {
            ast *co = pl_alloc(c, sizeof *co);
            ast **args = pl_alloc(c, 2 * sizeof *args);
            if (!co || !args)
                return pl_nomem(c);
            args[0] = a;
            args[1] = b;
            *co = (ast){.kind = A_FUNC, .name = "coalesce", .args = args, .nargs = 2, .pos = a->pos, .depth = 2};
            items[u] = co;
        } else {
            items[u] = jk == J_RIGHT ? b : a;
        }
        aliases[u] = (char *)kl->v[u]->name;
    }
    for (int k = 0; k < j->ncols; k++) {
        ast *x = pl_mk_col(c, NULL, j->names[k], 1);
        if (!x)
            return pl_nomem(c);
        x->ival = k + 1;
        x->fixed = true;
        items[nu + k] = x;
        aliases[nu + k] = j->names[k];
    }
    *sel = (sql_select){.items = items, .aliases = aliases, .nitems = nitems, .pos = 1};
    plan_node *m;
    int rc = pl_bind_node(c, sel, j, NULL, NULL, 0, &m);
    if (rc)
        return rc;
    if (!(m->hidden = pl_alloc(c, (size_t)m->ncols * sizeof *m->hidden)))
        return pl_nomem(c);
    for (int k = 0; k < j->ncols; k++) {
        m->quals[nu + k] = j->quals[k];
        m->hidden[nu + k] = j->hidden && j->hidden[k];
    }
    for (int u = 0; u < nu; u++)
        m->hidden[nu + at_l[u]] = m->hidden[nu + at_r[u]] = true;
    m->label = "Project (USING columns)";
    *io = m;
    return 0;
}

/* A node over *n outputting its columns and then the expressions ex (hidden: they answer to no name). */
static int with_key_exprs(plan_ctx *c, plan_node **n, const ast_vec *ex)
{
    plan_node *in = *n;
    int nitems = in->ncols + ex->n;
    ast **items = pl_alloc(c, (size_t)nitems * sizeof *items);
    char **aliases = pl_alloc(c, (size_t)nitems * sizeof *aliases);
    sql_select *sel = pl_alloc(c, sizeof *sel);
    if (!items || !aliases || !sel)
        return pl_nomem(c);
    for (int k = 0; k < in->ncols; k++) {
        ast *x = pl_mk_col(c, NULL, in->names[k], 1);
        if (!x)
            return pl_nomem(c);
        x->ival = k + 1;
        x->fixed = true;
        items[k] = x;
        aliases[k] = in->names[k];
    }
    for (int i = 0; i < ex->n; i++) {
        items[in->ncols + i] = ex->v[i];
        aliases[in->ncols + i] = "?join key?";
    }
    *sel = (sql_select){.items = items, .aliases = aliases, .nitems = nitems, .pos = 1};
    plan_node *m;
    int rc = pl_bind_node(c, sel, in, NULL, NULL, 0, &m);
    if (rc)
        return rc;
    if (!(m->hidden = pl_alloc(c, (size_t)m->ncols * sizeof *m->hidden)))
        return pl_nomem(c);
    for (int k = 0; k < m->ncols; k++) {
        m->quals[k] = k < in->ncols ? in->quals[k] : NULL;
        m->hidden[k] = k < in->ncols ? in->hidden && in->hidden[k] : true;
    }
    m->label = "Project (join keys)";
    m->est = in->est;
    *n = m;
    return 0;
}

/* An outer join f: both sides planned as join problems; ON conditions on the preserved side's partner
 * alone are pushed into that side, equalities between the sides are the keys, the rest the residual. */
static int plan_from(plan_ctx *c, sql_from *f, plan_node **out, sql_select *owner)
{
    problem *lp = calloc(1, sizeof *lp), *rp = calloc(1, sizeof *rp);
    int rc = 0;
    if (!lp || !rp) {
        free(lp);
        free(rp);
        return pl_nomem(c);
    }
    plan_node *ln = NULL, *rn = NULL;
    ast_vec on = {0}, keys_l = {0}, keys_r = {0}, resid = {0}, xl = {0}, xr = {0}, xk = {0};
    if ((rc = flatten(c, f->left, lp, owner)) || (rc = flatten(c, f->right, rp, owner)))
        goto out;
    if (f->on && (rc = pl_split_and(c, f->on, &on)))
        goto out;
    if (f->nusing || f->natural) {
        int nu = f->nusing;
        if (f->natural) {
            nu = 0;
            for (int i = 0; i < rp->n; i++)
                for (int k = 0; k < rp->lv[i]->ncols; k++) {
                    int li, ci;
                    if (find_col(lp->lv, lp->n, NULL, rp->lv[i]->cols[k].name, &li, &ci) == 0)
                        nu++;
                }
        }
        char **names = f->using;
        if (f->natural) {
            names = pl_alloc(c, (size_t)(nu + 1) * sizeof *names);
            if (!names) {
                rc = pl_nomem(c);
                goto out;
            }
            nu = 0;
            for (int i = 0; i < rp->n; i++)
                for (int k = 0; k < rp->lv[i]->ncols; k++) {
                    int li, ci;
                    if (find_col(lp->lv, lp->n, NULL, rp->lv[i]->cols[k].name, &li, &ci) == 0)
                        names[nu++] = (char *)rp->lv[i]->cols[k].name;
                }
        }
        for (int u = 0; u < nu; u++) {
            int la = 0, ca = 0, lb = 0, cb = 0;
            int pos = f->using_pos ? f->using_pos[u] : f->pos;
            if (find_col(lp->lv, lp->n, NULL, names[u], &la, &ca) || find_col(rp->lv, rp->n, NULL, names[u], &lb, &cb)) {
                rc = pl_perr(c, FACTDB_INVALID_ARGUMENT, pos, "column \"%s\" specified in USING clause does not exist in "
                          "both tables", names[u]);
                goto out;
            }
            ast *a = pl_mk_col(c, lp->lv[la]->cols[ca].qual, names[u], pos);
            ast *b = pl_mk_col(c, rp->lv[lb]->cols[cb].qual, names[u], pos);
            if (!a || !b) {
                rc = pl_nomem(c);
                goto out;
            }
            if ((rc = pl_push(c, &keys_l, a)) || (rc = pl_push(c, &keys_r, b)))
                goto out;
        }
    }
    /* classify ON conjuncts */
    for (int k = 0; k < on.n; k++) {
        ast *x = on.v[k];
        bool sub = false, unk = false;
        uint64_t ml = leaf_refs(x, lp->lv, lp->n, &sub, &unk);
        bool unk_l = unk, unk_r = false;
        uint64_t mr = leaf_refs(x, rp->lv, rp->n, &sub, &unk_r);
        int la = 0, ca = 0, lb = 0, cb = 0;
        if (!sub && x->kind == A_BIN && x->nargs == 2 && !strcmp(x->op, "=")) {
            bool ab = col_of(x->args[0], lp->lv, lp->n, &la, &ca) && col_of(x->args[1], rp->lv, rp->n, &lb, &cb);
            bool ba = !ab && col_of(x->args[1], lp->lv, lp->n, &la, &ca) && col_of(x->args[0], rp->lv, rp->n, &lb, &cb);
            if ((ab || ba) && exec_join_key_ok(lp->lv[la]->cols[ca].type, rp->lv[lb]->cols[cb].type)) {
                if ((rc = pl_push(c, &keys_l, x->args[ab ? 0 : 1])) || (rc = pl_push(c, &keys_r, x->args[ab ? 1 : 0])))
                    goto out;
                continue;
            }
            /* an equality of an expression over each side (a.n = b.n + 1): computed by the sides, hashed */
            bool su = false, u0l = false, u0r = false, u1l = false, u1r = false;
            uint64_t a0l = leaf_refs(x->args[0], lp->lv, lp->n, &su, &u0l), a0r = leaf_refs(x->args[0], rp->lv, rp->n, &su, &u0r);
            uint64_t a1l = leaf_refs(x->args[1], lp->lv, lp->n, &su, &u1l), a1r = leaf_refs(x->args[1], rp->lv, rp->n, &su, &u1r);
            bool l0 = a0l && !u0l && !a0r, r0 = a0r && !u0r && !a0l, l1 = a1l && !u1l && !a1r, r1 = a1r && !u1r && !a1l;
            if (!su && ((l0 && r1) || (r0 && l1)) && !bind_has_agg(x) && xk.n < 64) {
                if ((rc = pl_push(c, &xl, x->args[l0 ? 0 : 1])) || (rc = pl_push(c, &xr, x->args[l0 ? 1 : 0])) ||
                    (rc = pl_push(c, &xk, x)))
                    goto out;
                continue;
            }
        }
        /* a condition on the nullable side alone filters that side before the join */
        if (!sub && !ml && mr && !unk_r && f->join == J_LEFT) {
            if ((rc = pl_push(c, &rp->conj, x)))
                goto out;
            continue;
        }
        if (!sub && !mr && ml && !unk_l && f->join == J_RIGHT) {
            if ((rc = pl_push(c, &lp->conj, x)))
                goto out;
            continue;
        }
        if ((rc = pl_push(c, &resid, x)))
            goto out;
    }
    ast_vec lo = {0}, also = {0};
    if (owner && owner->from)
        rc = from_conditions(c, owner->from, f, &also);
    for (int k = 0; k < keys_l.n && !rc; k++)
        rc = pl_push(c, &also, keys_l.v[k]);
    for (int k = 0; k < keys_r.n && !rc; k++)
        rc = pl_push(c, &also, keys_r.v[k]);
    for (int k = 0; k < resid.n && !rc; k++)
        rc = pl_push(c, &also, resid.v[k]);
    for (int k = 0; k < xk.n && !rc; k++)
        rc = pl_push(c, &also, xk.v[k]);
    if (rc || (rc = plan_problem(c, lp, owner, &ln, &lo, &also)) || (rc = plan_problem(c, rp, owner, &rn, &lo, &also)))
        goto out;
    for (int k = 0; k < lo.n; k++)
        if ((rc = pl_push(c, &resid, lo.v[k])))
            goto out;
    int lk[64], rk[64], nk = 0;
    for (int i = 0; i < keys_l.n && nk < 64; i++) {
        int at_l = -1, at_r = -1;
        const ast *a = keys_l.v[i], *b = keys_r.v[i];
        for (int k = 0; k < ln->ncols; k++)
            if (!strcmp(ln->names[k], a->name) && (!a->qual || (ln->quals[k] && !strcmp(ln->quals[k], a->qual))))
                at_l = k;
        for (int k = 0; k < rn->ncols; k++)
            if (!strcmp(rn->names[k], b->name) && (!b->qual || (rn->quals[k] && !strcmp(rn->quals[k], b->qual))))
                at_r = k;
        if (at_l < 0 || at_r < 0) {
            rc = pl_perr(c, FACTDB_INVALID_ARGUMENT, a->pos, "cannot resolve the join column \"%s\"", a->name);
            goto out;
        }
        lk[nk] = at_l;
        rk[nk++] = at_r;
    }
    if (xk.n) {
        /* expression keys: each side outputs its expressions after its columns */
        int bl = ln->ncols, br = rn->ncols;
        if ((rc = with_key_exprs(c, &ln, &xl)) || (rc = with_key_exprs(c, &rn, &xr)))
            goto out;
        for (int i = 0; i < xk.n; i++) {
            if (nk < 64 && exec_join_key_ok(ln->types[bl + i], rn->types[br + i])) {
                lk[nk] = bl + i;
                rk[nk++] = br + i;
            } else if ((rc = pl_push(c, &resid, xk.v[i]))) {
                goto out;
            }
        }
    }
    static const join_type jt[] = {JT_INNER, JT_LEFT, JT_RIGHT, JT_FULL, JT_CROSS};
    rc = join_node(c, jt[f->join], ln, rn, lk, rk, nk, pl_mk_and(c, resid.v, resid.n), out);
    /* USING / NATURAL: the merged columns come first and answer to their bare names (the left side's value
     * for LEFT JOIN, the right side's for RIGHT JOIN, coalesce(left, right) for FULL JOIN); both sides'
     * copies answer only to their qualifiers */
    if (!rc && keys_l.n && (f->nusing || f->natural))
        rc = merge_using(c, f->join, out, ln->ncols, &keys_l, &keys_r);
out:
    free(lp);
    free(rp);
    return rc;
}

/* Common type of a set operation's column: equal types, or the wider of two numbers, or text. */
static int set_type(plan_ctx *c, sql_type a, sql_type b, int pos, const char *what, sql_type *out)
{
    if (a.id == b.id && (a.id != TY_NUMERIC || a.scale == b.scale)) {
        *out = a;
        return 0;
    }
    bool ta = a.id == TY_DATE || a.id == TY_TIMESTAMP || a.id == TY_TIMESTAMPTZ;
    bool tb = b.id == TY_DATE || b.id == TY_TIMESTAMP || b.id == TY_TIMESTAMPTZ;
    if (ta && tb) {
        /* date < timestamp < timestamptz, as PostgreSQL's preferred-type rule resolves them */
        *out = a.id == TY_TIMESTAMPTZ || b.id == TY_TIMESTAMPTZ ? (sql_type){TY_TIMESTAMPTZ, 0, 0}
                                                                : (sql_type){TY_TIMESTAMP, 0, 0};
        return 0;
    }
    static const int rank[] = {[TY_INT] = 1, [TY_BIGINT] = 2, [TY_NUMERIC] = 3, [TY_DOUBLE] = 4};
    bool na = a.id == TY_INT || a.id == TY_BIGINT || a.id == TY_NUMERIC || a.id == TY_DOUBLE;
    bool nb = b.id == TY_INT || b.id == TY_BIGINT || b.id == TY_NUMERIC || b.id == TY_DOUBLE;
    if (na && nb) {
        *out = rank[a.id] >= rank[b.id] ? a : b;
        if (out->id == TY_NUMERIC)
            *out = (sql_type){TY_NUMERIC, -1, 0};
        return 0;
    }
    if (a.id == TY_UNKNOWN || b.id == TY_UNKNOWN) {
        *out = a.id == TY_UNKNOWN ? b : a;
        if (out->id == TY_UNKNOWN)
            *out = (sql_type){TY_TEXT, 0, 0};
        return 0;
    }
    char x[40], y[40];
    return pl_perr(c, FACTDB_INVALID_ARGUMENT, pos, "%s types %s and %s cannot be matched", what,
                sql_type_name(a, x, sizeof x), sql_type_name(b, y, sizeof y));
}

/* A PN_QUERY over `in` selecting its columns, cast to types[] where they differ (casts NULL: none), with
 * s's ORDER BY / LIMIT / OFFSET (s NULL: none). */
int pl_select_over(plan_ctx *c, plan_node *in, const sql_type *types, sql_select *s, plan_node **out)
{
    sql_select *w = pl_alloc(c, sizeof *w);
    ast **items = pl_alloc(c, (size_t)in->ncols * sizeof *items);
    char **aliases = pl_alloc(c, (size_t)in->ncols * sizeof *aliases);
    if (!w || !items || !aliases)
        return pl_nomem(c);
    int pos = s ? s->pos : 1;
    for (int i = 0; i < in->ncols; i++) {
        ast *col = pl_mk_col(c, NULL, in->names[i], pos);
        if (!col)
            return pl_nomem(c);
        col->ival = i + 1;
        col->fixed = true;
        items[i] = col;
        aliases[i] = in->names[i];
        if (types && (types[i].id != in->types[i].id || types[i].scale != in->types[i].scale)) {
            ast *cast = pl_alloc(c, sizeof *cast);
            ast **args = pl_alloc(c, sizeof *args);
            if (!cast || !args)
                return pl_nomem(c);
            args[0] = col;
            *cast = (ast){.kind = A_CAST, .pos = pos, .args = args, .nargs = 1, .cast_type = types[i], .depth = 2};
            items[i] = cast;
        }
    }
    *w = (sql_select){.items = items, .aliases = aliases, .nitems = in->ncols, .pos = pos};
    if (s) {
        w->order = s->order;
        w->norder = s->norder;
        w->limit = s->limit;
        w->offset = s->offset;
    }
    return pl_bind_node(c, w, in, NULL, NULL, 0, out);
}

/* Whether column i of a set operation's operand is an untyped literal (NULL, a quoted string) or an
 * untyped parameter in every branch: it then takes the other operand's type, as in PostgreSQL. */
static bool arm_unknown(plan_ctx *c, const sql_select *s, int i)
{
    if (s->setop)
        return arm_unknown(c, s->larg, i) && arm_unknown(c, s->rarg, i);
    if (i >= s->nitems || s->ngroup || s->having)
        return false;
    for (int k = 0; k <= i; k++)
        if (s->items[k]->kind == A_STAR)
            return false;
    const ast *x = s->items[i];
    if (x->kind == A_CONST)
        return x->lit == L_NULL || x->lit == L_STRING;
    return x->kind == A_PARAM && x->ival >= 1 && x->ival <= c->nparams && c->params[x->ival - 1].type.id == TY_UNKNOWN;
}

static int plan_setop(plan_ctx *c, sql_select *s, plan_node **out)
{
    plan_node *l, *r;
    if (pl_query_expr(c, s->larg, &l) || pl_query_expr(c, s->rarg, &r))
        return c->err->code;
    static const char *what[] = {"", "UNION", "INTERSECT", "EXCEPT"};
    if (l->ncols != r->ncols)
        return pl_perr(c, FACTDB_INVALID_ARGUMENT, s->set_pos, "each %s query must have the same number of columns "
                    "(%d and %d)", what[s->setop], l->ncols, r->ncols);
    sql_type *types = pl_alloc(c, (size_t)l->ncols * sizeof *types);
    if (!types)
        return pl_nomem(c);
    bool cast = false;
    for (int i = 0; i < l->ncols; i++) {
        bool ul = arm_unknown(c, s->larg, i), ur = arm_unknown(c, s->rarg, i);
        if (ul != ur)
            types[i] = ul ? r->types[i] : l->types[i];
        else if (set_type(c, l->types[i], r->types[i], s->set_pos, what[s->setop], &types[i]))
            return c->err->code;
        cast |= types[i].id != l->types[i].id || types[i].scale != l->types[i].scale ||
                types[i].id != r->types[i].id || types[i].scale != r->types[i].scale;
    }
    if (cast && (pl_select_over(c, l, types, NULL, &l) || pl_select_over(c, r, types, NULL, &r)))
        return c->err->code;
    plan_node *n = pl_new_node(c, PN_SETOP);
    if (!n)
        return pl_nomem(c);
    n->l = l;
    n->r = r;
    n->op = s->setop == SET_UNION ? SO_UNION : s->setop == SET_INTERSECT ? SO_INTERSECT : SO_EXCEPT;
    n->all = s->set_all;
    n->ncols = l->ncols;
    n->types = types;
    n->names = l->names;
    n->quals = pl_alloc(c, (size_t)n->ncols * sizeof *n->quals);
    if (!n->quals)
        return pl_nomem(c);
    static const char *labels[] = {"Union", "Intersect", "Except"};
    n->label = labels[n->op];
    return pl_select_over(c, n, NULL, s, out);
}

/* `*` over inner joins with USING / NATURAL: the merged columns first, then the others in order (PostgreSQL's
 * order), as explicit references to the joined node's columns. */
static int merged_first(plan_ctx *c, problem *pb, plan_node *joined, sql_select *f)
{
    int at[64], nat = 0;
    for (int m = 0; m < pb->nmerged; m++) {
        leaf *l = pb->lv[pb->merged_leaf[m]];
        int base = 0;
        if (joined->kind == PN_JOINSET)
            for (int i = 0; i < pb->merged_leaf[m]; i++)
                base += joined->kids[i]->ncols;
        if (l->outcol[pb->merged_col[m]] >= 0)
            at[nat++] = base + l->outcol[pb->merged_col[m]];
    }
    int nstar = 0;
    for (int i = 0; i < f->nitems; i++)
        nstar += f->items[i]->kind == A_STAR && !f->items[i]->qual;
    if (!nstar || !nat)
        return 0;
    int cap = f->nitems + nstar * joined->ncols;
    ast **items = pl_alloc(c, (size_t)cap * sizeof *items);
    char **aliases = pl_alloc(c, (size_t)cap * sizeof *aliases);
    if (!items || !aliases)
        return pl_nomem(c);
    int k = 0;
    for (int i = 0; i < f->nitems; i++) {
        ast *x = f->items[i];
        if (x->kind != A_STAR || x->qual) {
            aliases[k] = f->aliases[i];
            items[k++] = x;
            continue;
        }
        for (int pass = 0; pass < 2; pass++)
            for (int col = 0; col < joined->ncols; col++) {
                bool first = false;
                for (int m = 0; m < nat; m++)
                    first |= at[m] == col;
                if (pass == 0 ? !first : first || (joined->hidden && joined->hidden[col]))
                    continue;
                ast *ref = pl_mk_col(c, NULL, joined->names[col], x->pos);
                if (!ref)
                    return pl_nomem(c);
                ref->ival = col + 1;
                ref->fixed = true;
                aliases[k] = NULL;
                items[k++] = ref;
            }
    }
    f->items = items;
    f->aliases = aliases;
    f->nitems = k;
    return 0;
}

/* A SELECT: one table without correlated subqueries is one PN_QUERY; anything else a join problem. */
static int plan_simple_or_join(plan_ctx *c, sql_select *s, plan_node **out)
{
    if (window_present(s))
        return plan_window(c, s, out);
    bool simple = !s->from && (!s->table || (!find_cte(c, s->table) &&
                                             !(pl_sysview_exists(s->table) &&
                                               (strchr(s->table, '.') || !table_exists(c, s->table))) &&
                                             !(!table_exists(c, s->table) && pl_view_exists(c, s->table))));
    factdb_table_info ti;
    memset(&ti, 0, sizeof ti);
    if (simple && s->table) {
        if (table_info(c, s->table, s->table_pos, &ti))
            return c->err->code;
        /* a correlated subquery needs the join machinery */
        leaf l = {.qual = s->alias ? s->alias : ti.name, .ncols = (int)ti.ncols};
        rcol *cols = pl_alloc(c, (ti.ncols + 1) * sizeof *cols);
        if (!cols) {
            factdb_table_info_free(&ti);
            return pl_nomem(c);
        }
        for (size_t i = 0; i < ti.ncols; i++)
            cols[i] = (rcol){.qual = l.qual, .name = ti.cols[i].name};
        l.cols = cols;
        leaf *lv[1] = {&l};
        ast_vec conj = {0};
        if (pl_split_and(c, s->where, &conj)) {
            factdb_table_info_free(&ti);
            return c->err->code;
        }
        for (int k = 0; k < conj.n && simple; k++)
            simple = !correlated_any(c, conj.v[k], lv, 1);
        if (simple) {
            int rc = pl_bind_node(c, s, NULL, &ti, lv, 1, out);
            factdb_table_info_free(&ti);
            return rc;
        }
        factdb_table_info_free(&ti);
    } else if (simple) {
        return pl_bind_node(c, s, NULL, NULL, NULL, 0, out);
    }
    problem *pb = calloc(1, sizeof *pb);
    if (!pb)
        return pl_nomem(c);
    sql_from single = {.kind = F_TABLE, .pos = s->table_pos, .table = s->table, .alias = s->alias};
    int rc = flatten(c, s->from ? s->from : &single, pb, s);
    if (!rc)
        rc = pl_split_and(c, s->where, &pb->conj);
    plan_node *joined = NULL;
    ast_vec left = {0};
    if (!rc)
        rc = plan_problem(c, pb, s, &joined, &left, NULL);
    if (!rc) {
        sql_select *f = pl_alloc(c, sizeof *f);
        int nq = 1;
        for (int i = 0; i < pb->n; i++)
            nq += pb->lv[i]->ncols;
        joined->lquals = pl_alloc(c, (size_t)nq * sizeof *joined->lquals);
        if (!f || !joined->lquals) {
            free(pb);
            return pl_nomem(c);
        }
        if (!(joined->hint = pl_alloc(c, (size_t)nq * sizeof *joined->hint))) {
            free(pb);
            return pl_nomem(c);
        }
        for (int i = 0; i < pb->n; i++)
            for (int k = 0; k < pb->lv[i]->ncols; k++)
                if (!pb->lv[i]->cols[k].hidden)
                    joined->hint[joined->nhint++] = pb->lv[i]->cols[k].name;
        for (int i = 0; i < pb->n; i++)
            for (int k = 0; k < pb->lv[i]->ncols; k++)
                if (pb->lv[i]->cols[k].qual) {
                    bool have = false;
                    for (int q = 0; q < joined->nlquals && !have; q++)
                        have = !strcmp(joined->lquals[q], pb->lv[i]->cols[k].qual);
                    if (!have)
                        joined->lquals[joined->nlquals++] = pb->lv[i]->cols[k].qual;
                }
        *f = *s;
        f->from = NULL;
        f->table = NULL;
        f->alias = NULL;
        f->where = pl_mk_and(c, left.v, left.n);
        if (pb->nmerged && (rc = merged_first(c, pb, joined, f))) {
            free(pb);
            return rc;
        }
        rc = pl_bind_node(c, f, joined, NULL, pb->lv, pb->n, out);
    }
    free(pb);
    return rc;
}

/* [WITH ...] query: WITH queries enter the scope for the query and its subqueries. */
int pl_query_expr(plan_ctx *c, sql_select *s, plan_node **out)
{
    plan_cte *saved = c->ctes;
    for (int i = 0; i < s->nctes; i++) {
        for (int k = 0; k < i; k++)
            if (!strcmp(s->ctes[k].name, s->ctes[i].name))
                return pl_perr(c, FACTDB_INVALID_ARGUMENT, s->ctes[i].pos, "WITH query name \"%s\" specified more than "
                            "once", s->ctes[i].name);
        plan_cte *p = pl_alloc(c, sizeof *p);
        if (!p)
            return pl_nomem(c);
        p->cte = &s->ctes[i];
        p->next = c->ctes;
        c->ctes = p;
    }
    int rc = s->setop ? plan_setop(c, s, out) : plan_simple_or_join(c, s, out);
    c->ctes = saved;
    return rc;
}

int plan_select(plan_ctx *c, sql_select *s, plan_node **out)
{
    int rc = pin_snapshot(c);
    if (rc)
        return rc;
    return pl_query_expr(c, s, out);
}

/* ---- execution ---- */
static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A PN_QUERY's result as a dense rowset (rows in result order). */
static int dense(plan_ctx *c, plan_node *n)
{
    exec_result *er = &n->er;
    bool identity = er->n == er->rs->n;
    for (size_t i = 0; i < er->n && identity; i++)
        identity = er->idx[i] == i;
    if (identity) {
        n->rs = er->rs;
        return 0;
    }
    rowset *d = calloc(1, sizeof *d);
    if (!d)
        return pl_nomem(c);
    sql_type types[1024];
    for (int i = 0; i < er->rs->ncols; i++)
        types[i] = er->rs->cols[i].type;
    int64_t *idx = malloc((er->n ? er->n : 1) * sizeof *idx);
    if (!idx || rowset_init(d, er->rs->ncols, types, NULL, 0, c->err) || rowset_reserve(d, er->n, c->err)) {
        free(idx);
        exec_rowset_free(d);
        return c->err->code ? c->err->code : pl_nomem(c);
    }
    for (size_t i = 0; i < er->n; i++)
        idx[i] = (int64_t)er->idx[i];
    rowset_gather(d, 0, er->rs, idx, er->n, 0);
    d->n = er->n;
    free(idx);
    n->rs = d;
    return pl_keep_rowset(c, d);
}

int pl_run_node(plan_ctx *c, plan_node *n);

/* A query over another node's rows that only picks its columns (no filter, grouping, order, DISTINCT, limit
 * or computed value), such as the projection of a join's or a derived table's columns: its rows are the
 * input's columns themselves, borrowed, not a copy. The plan keeps every node's rows until it ends, and the
 * root's result (which the caller keeps) is never borrowed. */
static bool picks_columns(const plan_node *n)
{
    const query *q = &n->q;
    if (n->kind != PN_QUERY || !n->input || n->root || q->table || q->where || q->agg || q->nsort || q->distinct ||
        q->limit >= 0 || q->offset || q->nouts != q->nvisible)
        return false;
    for (int i = 0; i < q->nouts; i++) {
        const bexpr *o = q->outs[i];
        if (o->kind != B_INPUT || o->input < 0 || o->input >= q->ncols)
            return false;
        int tc = q->cols[o->input].table_col;
        if (tc < 0 || tc >= n->input->rs->ncols)
            return false;
        sql_type t = n->input->rs->cols[tc].type;
        if (t.id != o->type.id || t.scale != o->type.scale || t.prec != o->type.prec)
            return false;
    }
    return true;
}

/* A rowset of n rows whose columns are cols[0..ncols), arrays of other rowsets that the plan keeps; kept
 * by the plan too. */
static rowset *borrowed_rowset(plan_ctx *c, const rs_col *cols, int ncols, size_t n)
{
    rowset *r = calloc(1, sizeof *r);
    rs_col *mine = calloc((size_t)(ncols ? ncols : 1), sizeof *mine);
    if (!r || !mine) {
        free(r);
        free(mine);
        pl_nomem(c);
        return NULL;
    }
    memcpy(mine, cols, (size_t)ncols * sizeof *cols);
    *r = (rowset){.ncols = ncols, .cols = mine, .n = n, .cap = n, .borrowed = true};
    sql_arena_init(&r->strings, 0);
    if (pl_keep_rowset(c, r)) {
        exec_rowset_free(r);
        return NULL;
    }
    return r;
}

static int borrow_columns(plan_ctx *c, plan_node *n)
{
    const rowset *in = n->input->rs;
    rs_col *cols = malloc((size_t)(n->q.nouts + 1) * sizeof *cols);
    if (!cols)
        return pl_nomem(c);
    for (int i = 0; i < n->q.nouts; i++)
        cols[i] = in->cols[n->q.cols[n->q.outs[i]->input].table_col];
    rowset *r = borrowed_rowset(c, cols, n->q.nouts, in->n);
    free(cols);
    if (!r)
        return c->err->code;
    n->rs = r;
    n->rows = r->n;
    return 0;
}

/* Distinct non-NULL values of a column, estimated from up to 16384 evenly spaced rows: the sample's count
 * when it repeats values a lot (a small domain), else scaled up to the whole column. */
static double distinct_est(const rowset *rs, int col)
{
    size_t n = rs->n;
    if (!n)
        return 1;
    enum { SLOTS = 1 << 15 };
    uint64_t *set = calloc(SLOTS, sizeof *set);
    if (!set)
        return (double)n;
    size_t s = MIN(n, (size_t)16384), step = n / s, d = 0, seen = 0;
    const rs_col *cl = &rs->cols[col];
    for (size_t i = 0; i < s; i++) {
        size_t row = i * step;
        if (!cl->valid[row])
            continue;
        seen++;
        uint64_t h;
        if (cl->ph == P_STR) {
            const sql_str *v = (const sql_str *)(const void *)(cl->data + row * 16);
            h = XXH3_64bits(v->p, v->len);
        } else {
            h = XXH3_64bits(cl->data + row * cl->width, cl->width);
        }
        h |= 1;
        for (size_t k = h & (SLOTS - 1);; k = (k + 1) & (SLOTS - 1)) {
            if (set[k] == h)
                break;
            if (!set[k]) {
                set[k] = h;
                d++;
                break;
            }
        }
    }
    free(set);
    if (!d)
        return 1;
    if (s == n || d * 2 < seen)
        return (double)d;
    return (double)d * (double)n / (double)s;
}

/* Before scan `big` runs: when input `from` (already run) kept under half of its table's rows (or, not a
 * scan, has under half as many rows as big's table), only big's
 * rows whose column bc is among from's column fc values can join: add `bc IN (those values)` to big's
 * filter (a bitmap over their range) and their range to its zone maps. 64-bit integer keys of one scale. */
static int key_filter(plan_ctx *c, plan_node *big, int bc, plan_node *from, int fc)
{
    if (big->done || big->shared)
        return 0;
    if (big->kind == PN_JOINSET) {
        /* inner joins: a row of the result whose column is not among the keys comes from a row of the input
         * that has it, which can go first */
        for (int i = 0; i < big->nkids; i++) {
            if (bc < big->kids[i]->ncols)
                return key_filter(c, big->kids[i], bc, from, fc);
            bc -= big->kids[i]->ncols;
        }
        return 0;
    }
    if (big->kind != PN_QUERY)
        return 0;
    query *q = &big->q;
    bexpr *out = q->outs[bc];
    if (q->distinct || q->limit >= 0 || q->offset)
        return 0;
    if (q->agg) {
        /* a grouped query (a correlated subquery's derived table): filtering rows by a group key's value
         * filters the groups by it */
        if (out->kind != B_INPUT || out->input >= q->nkeys)
            return 0;
        out = q->keys[out->input];
    }
    if (out->kind != B_INPUT)
        return 0;
    if (big->input)  /* a query over another node's rows: filter that node */
        return key_filter(c, big->input, q->cols[out->input].table_col, from, fc);
    if (!q->table)
        return 0;
    const rowset *rs = from->rs;
    const rs_col *col = &rs->cols[fc];
    bool reduced = from->kind == PN_QUERY && from->q.table ? (double)rs->n * 2 <= from->table_rows
                                                          : (double)rs->n * 2 <= big->table_rows;
    if (!reduced || rs->n > ((size_t)1 << 22))
        return 0;
    if (out->kind != B_INPUT || col->ph != P_I64 || exec_phys(out->type) != P_I64 ||
        (out->type.id == TY_NUMERIC) != (col->type.id == TY_NUMERIC) ||
        (out->type.id == TY_NUMERIC && out->type.scale != col->type.scale) ||
        (out->type.id == TY_DATE) != (col->type.id == TY_DATE) || q->nslots > 1 << 20)
        return 0;
    const int64_t *v = (const int64_t *)(const void *)col->data;
    size_t m = 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < rs->n; i++)
        if (col->valid[i]) {
            lo = MIN(lo, v[i]);
            hi = MAX(hi, v[i]);
            m++;
        }
    if (!m)
        lo = hi = 0;
    uint64_t len = m ? (uint64_t)hi - (uint64_t)lo + 1 : 1;
    if (len > ((uint64_t)1 << 28))
        return 0;  /* a bitmap of more than 32 MiB: not worth it */
    uint64_t *bits = pl_alloc(c, (size_t)((len + 63) / 64) * 8);
    bexpr *in = pl_alloc(c, sizeof *in), *arg = pl_alloc(c, sizeof *arg), *and_ = pl_alloc(c, sizeof *and_);
    bexpr **args = pl_alloc(c, sizeof *args), **aargs = pl_alloc(c, 2 * sizeof *aargs);
    zone_pred *zones = pl_alloc(c, (size_t)(q->nzones + 2) * sizeof *zones);
    if (!bits || !in || !arg || !and_ || !args || !aargs || !zones)
        return pl_nomem(c);
    for (size_t i = 0; i < rs->n; i++)
        if (col->valid[i]) {
            uint64_t d = (uint64_t)v[i] - (uint64_t)lo;
            bits[d >> 6] |= 1ull << (d & 63);
        }
    *arg = *out;
    arg->slot = q->nslots++;
    arg->shared = false;
    args[0] = arg;
    *in = (bexpr){.kind = B_IN, .type = {TY_BOOL, 0, 0}, .pos = out->pos, .slot = q->nslots++, .args = args, .nargs = 1,
                  .bits = bits, .bits_min = lo, .bits_len = m ? len : 0};
    if (q->where) {
        aargs[0] = q->where;
        aargs[1] = in;
        *and_ = (bexpr){.kind = B_AND, .type = {TY_BOOL, 0, 0}, .pos = out->pos, .slot = q->nslots++, .args = aargs,
                        .nargs = 2};
        q->where = and_;
    } else {
        q->where = in;
    }
    /* the range for the zone maps, in the column's stored units */
    const scan_col *sc = &q->cols[out->input];
    if (m && sc->store_type != FACTDB_DOUBLE && sc->store_type != FACTDB_TEXT && sc->store_type != FACTDB_BOOLEAN) {
        if (q->nzones)
            memcpy(zones, q->zones, (size_t)q->nzones * sizeof *zones);
        zones[q->nzones++] = (zone_pred){sc->table_col, sc->store_type, CMP_GE, lo};
        zones[q->nzones++] = (zone_pred){sc->table_col, sc->store_type, CMP_LE, hi};
        q->zones = zones;
    }
    big->key_filters++;
    return 0;
}

/* Runs a PN_JOINSET: every input first, then greedy left-deep joins, each time with the input whose join
 * is expected to give the fewest rows (rows(a) * rows(b) / the larger distinct count of the keys; a join
 * on a foreign key keeps the probe side's size, a join on a small shared domain such as a nation
 * multiplies it), inputs joined by an equality before any cross join. */
/* ---- late materialization of a join set's rows ----
 * Joins of three or more inputs join narrow stand-ins of their inputs: a column of row numbers plus only
 * the columns a join reads (its keys; every column of an input that a residual condition reads, since the
 * condition is bound by name). The joins then copy row numbers and keys, not every column kept so far,
 * and the full rows are gathered once at the end (TPC-H Q9: five joins of 323k rows whose rows grew to
 * 12 columns). */
typedef struct slim_input {
    plan_node *node;        /* the stand-in: done, its columns borrowed from the input's rows */
    int *map;               /* input column -> stand-in column (-1: not read by a join) */
} slim_input;

static int make_slim(plan_ctx *c, plan_node *n, int i, slim_input *out)
{
    plan_node *kid = n->kids[i];
    const rowset *rs = kid->rs;
    bool all = false;
    for (int r = 0; r < n->nrconj && !all; r++)
        all = n->rmask[r] >> i & 1;
    out->map = pl_alloc(c, (size_t)(kid->ncols + 1) * sizeof *out->map);
    rs_col *cols = malloc((size_t)(kid->ncols + 1) * sizeof *cols);
    rowset *ids = calloc(1, sizeof *ids);
    plan_node *sn = pl_new_node(c, PN_QUERY);
    if (!out->map || !cols || !ids || !sn) {
        free(cols);
        free(ids);
        return pl_nomem(c);
    }
    for (int k = 0; k < kid->ncols; k++)
        out->map[k] = all ? 0 : -1;
    for (int e = 0; e < n->nedges; e++) {
        if (n->edges[e].la == i)
            out->map[n->edges[e].ca] = 0;
        if (n->edges[e].lb == i)
            out->map[n->edges[e].cb] = 0;
    }
    /* the row numbers: a column of their own, kept by the plan like every node's rows */
    sql_type bigint = {TY_BIGINT, 0, 0};
    if (rowset_init(ids, 1, &bigint, NULL, 0, c->err) || rowset_reserve(ids, rs->n, c->err)) {
        exec_rowset_free(ids);
        free(cols);
        return c->err->code;
    }
    int64_t *num = (int64_t *)(void *)ids->cols[0].data;
    for (size_t r = 0; r < rs->n; r++) {
        num[r] = (int64_t)r;
        ids->cols[0].valid[r] = 1;
    }
    ids->n = rs->n;
    if (pl_keep_rowset(c, ids)) {
        exec_rowset_free(ids);
        free(cols);
        return c->err->code;
    }
    int m = 0;
    cols[m++] = ids->cols[0];
    for (int k = 0; k < kid->ncols; k++)
        if (!out->map[k]) {
            out->map[k] = m;
            cols[m++] = rs->cols[k];
        }
    rowset *slim = borrowed_rowset(c, cols, m, rs->n);
    free(cols);
    if (!slim)
        return c->err->code;
    sn->ncols = m;
    sn->types = pl_alloc(c, (size_t)m * sizeof *sn->types);
    sn->names = pl_alloc(c, (size_t)m * sizeof *sn->names);
    sn->quals = pl_alloc(c, (size_t)m * sizeof *sn->quals);
    sn->hidden = pl_alloc(c, (size_t)m * sizeof *sn->hidden);
    if (!sn->types || !sn->names || !sn->quals || !sn->hidden)
        return pl_nomem(c);
    /* "" can be no column's name in SQL (a zero-length quoted name is an error) */
    sn->types[0] = bigint;
    sn->names[0] = "";
    sn->hidden[0] = true;
    for (int k = 0; k < kid->ncols; k++)
        if (out->map[k] >= 0) {
            sn->types[out->map[k]] = kid->types[k];
            sn->names[out->map[k]] = kid->names[k];
            sn->quals[out->map[k]] = kid->quals[k];
            sn->hidden[out->map[k]] = kid->hidden && kid->hidden[k];
        }
    sn->stands_for = kid;
    sn->est = kid->est;
    sn->table_rows = kid->table_rows;
    sn->rs = slim;
    sn->rows = rs->n;
    sn->done = true;
    out->node = sn;
    return 0;
}

typedef struct slim_gather {
    plan_node *n;
    const rowset *cur;
    const int *base;
    rowset *out;
    int nw;
} slim_gather;

/* Worker i gathers its range of the result's rows: every input's columns by that input's row numbers. */
static void slim_gather_part(void *arg, int i)
{
    slim_gather *g = arg;
    size_t rows = g->cur->n, lo = rows * (size_t)i / (size_t)g->nw, hi = rows * (size_t)(i + 1) / (size_t)g->nw;
    for (int k = 0, at = 0; k < g->n->nkids; k++) {
        const int64_t *num = (const int64_t *)(const void *)g->cur->cols[g->base[k]].data;
        rowset_gather(g->out, at, g->n->kids[k]->rs, num + lo, hi - lo, lo);
        at += g->n->kids[k]->ncols;
    }
}

/* The join set's rows, in input order, from the row numbers of the joins' result. */
static int slim_finish(plan_ctx *c, plan_node *n, plan_node *cur, const int *base, rowset **out)
{
    sql_type *types = malloc((size_t)(n->ncols + 1) * sizeof *types);
    rowset *r = calloc(1, sizeof *r);
    if (!types || !r) {
        free(types);
        free(r);
        return pl_nomem(c);
    }
    for (int k = 0, at = 0; k < n->nkids; k++)
        for (int col = 0; col < n->kids[k]->ncols; col++)
            types[at++] = n->kids[k]->rs->cols[col].type;
    int rc = rowset_init(r, n->ncols, types, &c->mem, c->mem_limit, c->err);
    free(types);
    if (rc || (rc = rowset_reserve(r, cur->rs->n, c->err))) {
        exec_rowset_free(r);
        return rc;
    }
    slim_gather g = {n, cur->rs, base, r, (int)MIN((size_t)MAX(c->threads, 1), 1 + cur->rs->n / 16384)};
    exec_parallel(g.nw, slim_gather_part, &g);
    r->n = cur->rs->n;
    r->mem = NULL;  /* its memory stays counted until the plan ends */
    if ((rc = pl_keep_rowset(c, r))) {
        exec_rowset_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

static int run_joinset(plan_ctx *c, plan_node *n)
{
    int k = n->nkids, rc = 0;
    /* Inputs run one by one, smallest expected size first, where an input joined to inputs that already
     * ran expects the smallest fraction of its rows that they kept (it gets their keys as a filter:
     * semi-join reduction, nation -> supplier -> partsupp in TPC-H Q11); an input without a filter of its
     * own waits while an input joined to it that has one, and is not much larger, has not run (TPC-H Q10:
     * customer after orders; but Q7's suppliers do not wait for the filtered lineitem). */
    bool ran[MAX_LEAVES] = {false};
    double kept[MAX_LEAVES];
    for (int step = 0; step < k && !rc; step++) {
        int pick = -1;
        bool pick_wait = true;
        double pick_est = 0;
        for (int i = 0; i < k; i++) {
            if (ran[i])
                continue;
            bool own = n->kids[i]->kind == PN_QUERY && n->kids[i]->q.where, wait = false;
            double frac = 1;
            for (int e = 0; e < n->nedges; e++) {
                const plan_edge *ed = &n->edges[e];
                int other = ed->la == i ? ed->lb : ed->lb == i ? ed->la : -1;
                if (other < 0)
                    continue;
                if (ran[other])
                    frac = MIN(frac, kept[other]);
            }
            double est = n->kids[i]->est * frac;
            for (int e = 0; e < n->nedges && !own; e++) {
                const plan_edge *ed = &n->edges[e];
                int other = ed->la == i ? ed->lb : ed->lb == i ? ed->la : -1;
                if (other >= 0 && !ran[other] && n->kids[other]->kind == PN_QUERY && n->kids[other]->q.where &&
                    n->kids[other]->est < est * 4)
                    wait = true;
            }
            if (pick < 0 || (pick_wait && !wait) || (wait == pick_wait && est < pick_est)) {
                pick = i;
                pick_wait = wait;
                pick_est = est;
            }
        }
        plan_node *kid = n->kids[pick];
        for (int e = 0; e < n->nedges && !rc && kid->kind == PN_QUERY && !kid->done; e++) {
            const plan_edge *ed = &n->edges[e];
            if (ed->la == pick && ran[ed->lb])
                rc = key_filter(c, kid, ed->ca, n->kids[ed->lb], ed->cb);
            else if (ed->lb == pick && ran[ed->la])
                rc = key_filter(c, kid, ed->cb, n->kids[ed->la], ed->ca);
        }
        if (!rc)
            rc = pl_run_node(c, kid);
        ran[pick] = true;
        if (!rc)
            kept[pick] = MIN(1.0, (double)kid->rs->n / MAX(1.0, MAX(kid->table_rows, kid->est)));
    }
    if (rc)
        return rc;
    /* three inputs or more join narrow stand-ins (make_slim), when every input's rows have its columns */
    slim_input slim[MAX_LEAVES];
    bool thin = k >= 3;
    for (int i = 0; i < k && thin; i++)
        thin = n->kids[i]->rs->ncols == n->kids[i]->ncols;
    for (int i = 0; i < k && thin && !rc; i++)
        rc = make_slim(c, n, i, &slim[i]);
    if (rc)
        return rc;
#define JOIN_IN(i) (thin ? slim[i].node : n->kids[i])
#define JOIN_COL(i, col) (thin ? slim[i].map[col] : (col))
    double *dv = malloc((size_t)(n->nedges + 1) * 2 * sizeof *dv);
    if (!dv)
        return pl_nomem(c);
    for (int e = 0; e < n->nedges; e++) {
        dv[2 * e] = distinct_est(n->kids[n->edges[e].la]->rs, n->edges[e].ca);
        dv[2 * e + 1] = distinct_est(n->kids[n->edges[e].lb]->rs, n->edges[e].cb);
    }
    bool in[MAX_LEAVES] = {false}, used_r[4096] = {false};
    int base[MAX_LEAVES];
    /* the largest input first (a star's fact table), then always the input expected to give fewest rows */
    int first = 0;
    for (int i = 1; i < k; i++)
        if (n->kids[i]->rs->n > n->kids[first]->rs->n)
            first = i;
    plan_node *cur = JOIN_IN(first);
    in[first] = true;
    base[first] = 0;
    for (int step = 1; step < k && !rc; step++) {
        int pick = -1;
        bool pick_linked = false;
        double pick_est = 0;
        for (int i = 0; i < k; i++) {
            if (in[i])
                continue;
            /* rows(cur) * rows(i) / distinct keys: per equality the larger side's distinct count, multiplied
             * over the equalities (a composite key), at most the larger input's rows */
            double div = 1, rows_i = (double)n->kids[i]->rs->n, rows_c = (double)cur->rs->n;
            bool linked = false;
            for (int e = 0; e < n->nedges; e++) {
                const plan_edge *ed = &n->edges[e];
                if (!((ed->la == i && in[ed->lb]) || (ed->lb == i && in[ed->la])))
                    continue;
                linked = true;
                double mine = ed->la == i ? dv[2 * e] : dv[2 * e + 1], theirs = ed->la == i ? dv[2 * e + 1] : dv[2 * e];
                div *= MAX(mine, MIN(theirs, rows_c));
            }
            div = MIN(div, MAX(rows_i, rows_c));
            double est = rows_c * rows_i / MAX(div, 1);
            if (pick < 0 || (linked && !pick_linked) || (linked == pick_linked && est < pick_est)) {
                pick = i;
                pick_linked = linked;
                pick_est = est;
            }
        }
        int lk[64], rk[64], nk = 0;
        for (int e = 0; e < n->nedges && nk < 64; e++) {
            const plan_edge *ed = &n->edges[e];
            if (ed->la == pick && in[ed->lb]) {
                lk[nk] = base[ed->lb] + JOIN_COL(ed->lb, ed->cb);
                rk[nk++] = JOIN_COL(pick, ed->ca);
            } else if (ed->lb == pick && in[ed->la]) {
                lk[nk] = base[ed->la] + JOIN_COL(ed->la, ed->ca);
                rk[nk++] = JOIN_COL(pick, ed->cb);
            }
        }
        in[pick] = true;
        ast_vec res = {0};
        for (int r = 0; r < n->nrconj && r < (int)ARRAY_LEN(used_r); r++) {
            bool all_in = !used_r[r];
            for (int i = 0; i < k && all_in; i++)
                if (n->rmask[r] >> i & 1)
                    all_in = in[i];
            if (all_in) {
                used_r[r] = true;
                if ((rc = pl_push(c, &res, n->rconj[r])))
                    break;
            }
        }
        plan_node *j;
        if (rc || (rc = join_node(c, nk ? JT_INNER : JT_CROSS, cur, JOIN_IN(pick), lk, rk, nk, pl_mk_and(c, res.v, res.n), &j)))
            break;
        base[pick] = cur->ncols;
        if ((rc = pl_run_node(c, j)))
            break;
        cur = j;
    }
    free(dv);
#undef JOIN_IN
#undef JOIN_COL
    if (rc)
        return rc;
    if (thin) {
        rowset *r = NULL;
        if ((rc = slim_finish(c, n, cur, base, &r)))
            return rc;
        n->chosen = cur;
        n->rs = r;
        n->rows = r->n;
        return 0;
    }
    /* the columns in input order */
    rs_col *perm = malloc((size_t)(n->ncols + 1) * sizeof *perm);
    if (!perm)
        return pl_nomem(c);
    for (int i = 0, at = 0; i < k; i++)
        for (int col = 0; col < n->kids[i]->ncols; col++)
            perm[at++] = cur->rs->cols[base[i] + col];
    memcpy(cur->rs->cols, perm, (size_t)n->ncols * sizeof *perm);
    free(perm);
    n->chosen = cur;
    n->rs = cur->rs;
    n->rows = cur->rs->n;
    return 0;
}

int pl_run_node(plan_ctx *c, plan_node *n)
{
    if (n->done)
        return 0;
    int rc = 0;
    if ((n->kind == PN_QUERY || n->kind == PN_WINDOW) && n->input && (rc = pl_run_node(c, n->input)))
        return rc;
    if (n->kind == PN_JOIN && (n->j.type == JT_INNER || n->j.type == JT_LEFT || n->j.type == JT_SEMI ||
                               n->j.type == JT_ANTI) && n->r->kind == PN_QUERY && !n->r->done) {
        /* rows of the right side whose keys the left lacks cannot matter: filter its scan by them */
        if ((rc = pl_run_node(c, n->l)))
            return rc;
        for (int k = 0; k < n->j.nkeys && !rc; k++)
            rc = key_filter(c, n->r, n->rkey[k], n->l, n->lkey[k]);
        if (rc)
            return rc;
    }
    if ((n->kind == PN_JOIN || n->kind == PN_SETOP) && ((rc = pl_run_node(c, n->l)) || (rc = pl_run_node(c, n->r))))
        return rc;
    if (n->kind == PN_JOINSET) {
        double t0 = now_ms();
        if ((rc = run_joinset(c, n)))
            return rc;
        n->ms = now_ms() - t0;
        n->done = true;
        return 0;
    }
    if (c->cancel && atomic_load(c->cancel))
        return base_err(c->err, FACTDB_INVALID_ARGUMENT, "canceling statement due to user request");
    double t0 = now_ms();
    if (picks_columns(n)) {
        if ((rc = borrow_columns(c, n)))
            return rc;
    } else if (n->kind == PN_QUERY) {
        n->q.src = n->input ? n->input->rs : NULL;
        exec_options o = {.threads = c->threads, .mem_limit = c->mem_limit, .cancel = c->cancel, .now_us = c->now_us};
        exec_stats st;
        if ((rc = exec_select(c->db, &n->q, &o, &n->er, &st, c->err)))
            return rc;
        n->chunks_total = st.chunks_total;
        n->chunks_skipped = st.chunks_skipped;
        n->rows = n->er.n;
        if ((rc = dense(c, n)))
            return rc;
    } else {
        rowset *r = calloc(1, sizeof *r);
        if (!r)
            return pl_nomem(c);
        if (n->kind == PN_JOIN)
            rc = exec_join_run(&n->j, n->l->rs, n->r->rs, r, c->err);
        else if (n->kind == PN_WINDOW)
            rc = exec_window_run(&n->win, n->input->rs, r, c->err);
        else
            rc = exec_setop_run(n->op, n->all, n->l->rs, n->r->rs, &c->mem, c->mem_limit, r, c->err);
        if (rc) {
            free(r);
            return rc;
        }
        r->mem = NULL;
        /* its memory stays counted until the plan ends */
        if ((rc = pl_keep_rowset(c, r))) {
            exec_rowset_free(r);
            return rc;
        }
        n->rs = r;
        n->rows = r->n;
    }
    n->ms = now_ms() - t0;
    n->done = true;
    return 0;
}

int plan_execute(plan_ctx *c, plan_node *root, exec_result *res)
{
    memset(res, 0, sizeof *res);
    root->root = true;
    int rc = pl_run_node(c, root);
    if (rc)
        return rc;
    /* the root's result moves to the caller (dense() may have taken its rowset as the node's rows) */
    *res = root->er;
    memset(&root->er, 0, sizeof root->er);
    if (root->rs != res->rs) {
        /* a gathered copy was kept for the plan: the caller gets the original result */
    }
    root->rs = NULL;
    root->done = false;
    return 0;
}

static int explain_line(plan_ctx *c, rowset *out, int depth, const char *text)
{
    char line[2048];
    snprintf(line, sizeof line, "%*s%s", depth * 2, "", text);
    sql_value v = {.type = {TY_TEXT, 0, 0}, .s = {line, strlen(line)}};
    return rowset_add_row(out, &v, c->err);
}

static int explain_node(plan_ctx *c, plan_node *n, bool analyze, int depth, rowset *out)
{
    if (n->stands_for)  /* EXPLAIN shows a join set's inputs, not their stand-ins */
        return explain_node(c, n->stands_for, analyze, depth, out);
    char buf[1024], extra[256] = "";
    if (analyze)
        snprintf(extra, sizeof extra, "  (actual rows=%zu time=%.3f ms)", n->rows, n->ms);
    int rc;
    switch (n->kind) {
    case PN_QUERY: {
        const query *q = &n->q;
        size_t o = (size_t)snprintf(buf, sizeof buf, "%s", q->table ? "Scan " : n->input ? "Query" : n->label ? n->label : "Result");
        if (q->table)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s", q->table);
        if (q->where)
            o += (size_t)snprintf(buf + o, sizeof buf - o, " filter");
        if (q->nzones)
            o += (size_t)snprintf(buf + o, sizeof buf - o, " zone-maps=%d", q->nzones);
        if (q->agg)
            o += (size_t)snprintf(buf + o, sizeof buf - o, " aggregate keys=%d aggregates=%d", q->nkeys, q->naggs);
        if (q->nsort)
            o += (size_t)snprintf(buf + o, sizeof buf - o, " %s", q->limit >= 0 ? "top-n" : "sort");
        if (q->limit >= 0)
            o += (size_t)snprintf(buf + o, sizeof buf - o, " limit=%lld", (long long)q->limit);
        if (n->key_filters)
            o += (size_t)snprintf(buf + o, sizeof buf - o, " join-key-filters=%d", n->key_filters);
        if (q->table && analyze)
            o += (size_t)snprintf(buf + o, sizeof buf - o, " chunks=%zu skipped=%zu", n->chunks_total, n->chunks_skipped);
        snprintf(buf + o, sizeof buf - o, " -> %d columns%s", n->ncols, extra);
        if ((rc = explain_line(c, out, depth, buf)))
            return rc;
        return n->input ? explain_node(c, n->input, analyze, depth + 1, out) : 0;
    }
    case PN_JOIN: {
        size_t o = (size_t)snprintf(buf, sizeof buf, "%s", n->label);
        for (int k = 0; k < n->j.nkeys; k++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s.%s = %s.%s", k ? " AND " : " on ",
                                  n->l->quals[n->lkey[k]] ? n->l->quals[n->lkey[k]] : "", n->l->names[n->lkey[k]],
                                  n->r->quals[n->rkey[k]] ? n->r->quals[n->rkey[k]] : "", n->r->names[n->rkey[k]]);
        if (n->j.resid)
            o += (size_t)snprintf(buf + o, sizeof buf - o, " with a condition");
        snprintf(buf + o, sizeof buf - o, "%s", extra);
        break;
    }
    case PN_SETOP:
        snprintf(buf, sizeof buf, "%s%s%s", n->label, n->all ? " All" : "", extra);
        break;
    case PN_WINDOW:
        snprintf(buf, sizeof buf, "Window functions=%d -> %d columns%s", n->win.ncalls, n->ncols, extra);
        if ((rc = explain_line(c, out, depth, buf)))
            return rc;
        return explain_node(c, n->input, analyze, depth + 1, out);
    case PN_JOINSET:
        if (n->chosen)
            return explain_node(c, n->chosen, analyze, depth, out);
        snprintf(buf, sizeof buf, "Hash Joins of %d inputs, %d equalities, %d other conditions (order chosen when "
                 "the inputs have run)", n->nkids, n->nedges, n->nrconj);
        if ((rc = explain_line(c, out, depth, buf)))
            return rc;
        for (int i = 0; i < n->nkids; i++)
            if ((rc = explain_node(c, n->kids[i], analyze, depth + 1, out)))
                return rc;
        return 0;
    }
    if ((rc = explain_line(c, out, depth, buf)) || (rc = explain_node(c, n->l, analyze, depth + 1, out)))
        return rc;
    return explain_node(c, n->r, analyze, depth + 1, out);
}

int plan_explain(plan_ctx *c, plan_node *root, bool analyze, rowset *out)
{
    if (analyze) {
        int rc = pl_run_node(c, root);
        if (rc)
            return rc;
    }
    int rc = explain_node(c, root, analyze, 0, out);
    for (int i = 0; i < c->nsubs && !rc; i++) {
        char head[96];
        snprintf(head, sizeof head, "Subquery %d (uncorrelated: ran once, while the query was planned)", i + 1);
        if (!(rc = explain_line(c, out, 0, head)))
            rc = explain_node(c, c->subs[i], true, 1, out);
    }
    return rc;
}

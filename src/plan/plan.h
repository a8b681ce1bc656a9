/* plan.h: the plan layer. A SELECT's parse tree becomes a tree of operators (plan_node): a query over a
 * table or over a child's rows (the vectorized pipeline of src/exec/run.c: filter, group, aggregate,
 * project, sort, limit), a hash join of two children, a set operation. Every node's result is
 * materialized as a rowset that its parent reads. Uncorrelated subqueries in expressions run while the
 * plan is made (their values become constants); correlated EXISTS / NOT EXISTS become semi and anti
 * joins, and correlated scalar subqueries compared in WHERE become joins with a grouped derived table. */
#ifndef FACTDB_PLAN_H
#define FACTDB_PLAN_H

#include "sql/bind.h"

/* PN_JOINSET: inner joins of several inputs whose order is chosen when they have run (sizes and distinct
 * key counts measured, not guessed); its columns are its inputs' in input order. */
/* PN_WINDOW: input's columns then one per window call (src/plan/window.c). */
typedef enum pn_kind { PN_QUERY, PN_JOIN, PN_SETOP, PN_JOINSET, PN_WINDOW } pn_kind;

typedef struct plan_edge {
    int la, ca, lb, cb;     /* input la's column ca equals input lb's column cb */
} plan_edge;

typedef struct plan_node plan_node;
struct plan_node {
    pn_kind kind;
    int ncols;
    sql_type *types;
    char **names;
    const char **quals;     /* per column: the name that qualifies it (a table or alias), NULL for none */
    bool *hidden;           /* NULL, or per column: a USING column's second copy (answers only to its qualifier) */
    /* PN_QUERY: reads the table q.table, or input's rows (input != NULL), or nothing (no FROM) */
    query q;
    plan_node *input;
    const char *label;      /* EXPLAIN: what the node reads or does */
    /* PN_JOIN */
    plan_node *l, *r;
    exec_join j;
    int *lkey, *rkey;
    /* PN_SETOP */
    setop_type op;
    bool all;
    /* PN_JOINSET */
    plan_node **kids;
    int nkids;
    plan_edge *edges;
    int nedges;
    ast **rconj;            /* other conditions, each checked at the first join that has its inputs */
    uint64_t *rmask;
    int nrconj;
    plan_node *chosen;      /* the join tree made at run time */
    plan_node *stands_for;  /* a join set's input whose narrow stand-in this is (run_joinset) */
    double table_rows;      /* a scan: its table's rows (how much its filter keeps: rows / table_rows) */
    double est;             /* a scan: rows expected after its filter (a third per condition), for the order
                             * in which a join's inputs run */
    int key_filters;        /* a scan: IN filters from other inputs' join keys added before it ran */
    bool shared;            /* a WITH query's node, read by several parents: never filtered for one */
    const char **hint;      /* every column name of the FROM clause it joins (messages suggest them) */
    int nhint;
    const char **lquals;    /* every table name or alias of the FROM clause it joins (a qualifier with no
                             * column read is still valid: "column w.y does not exist", not "missing entry") */
    int nlquals;
    /* execution */
    bool done;
    bool root;              /* the statement's top node: its result goes to the caller */
    rowset *rs;             /* the materialized rows (owned by the plan) */
    exec_result er;         /* PN_QUERY's result */
    size_t rows;
    double ms;
    size_t chunks_total, chunks_skipped;
    plan_node *next_all;    /* every node of the plan, for cleanup */
    /* PN_WINDOW: reads input's rows */
    exec_window win;
    exec_wcall *wcalls;
};

typedef struct plan_cte plan_cte;

typedef struct plan_ctx {
    factdb *db;
    sql_arena *a;
    const sql_value *params;
    int nparams;
    int64_t now_us;
    atomic_bool *cancel;
    int threads;
    size_t mem_limit;
    factdb_error *err;
    _Atomic size_t mem;
    plan_cte *ctes;         /* WITH queries in scope, innermost first */
    plan_node *all;
    rowset **keep;          /* rowsets whose text other rowsets point into */
    int nkeep, keep_cap;
    int nsub;               /* derived tables made for subqueries: __sq1, __sq2, ... */
    int view_depth;         /* views being planned inside views */
    int views_expanded;     /* view references planned for the statement (at most 256) */
    plan_node *subs[64];    /* uncorrelated subqueries run while planning (EXPLAIN shows them) */
    int nsubs;
    bool snapshot_mine;     /* plan_init opened the read snapshot every scan shares */
    void *snapshot;
} plan_ctx;

/* Starts planning a statement; plan_done frees everything the plan made. */
void plan_init(plan_ctx *c);
void plan_done(plan_ctx *c);
/* Plans a SELECT (any form: joins, subqueries, WITH, set operations). The root is always a PN_QUERY whose
 * q.nvisible columns are the result. */
int plan_select(plan_ctx *c, sql_select *s, plan_node **out);
/* Runs the plan; the root's result is moved into *res (the caller frees it with exec_result_free). */
int plan_execute(plan_ctx *c, plan_node *root, exec_result *res);
/* Makes rows rs (kept until plan_done, which frees them) a relation that FROM can name as `name` while c
 * plans (views do not see it), as a WITH query would be: columns names[0..rs->ncols), the last nhidden of
 * them left out of SELECT * (named only with a qualifier). UPDATE ... FROM names its target so. */
int plan_relation(plan_ctx *c, const char *name, rowset *rs, char *const *names, int nhidden, factdb_error *err);
/* EXPLAIN [ANALYZE]: one text line per node, indented by depth, appended to out (a one-column rowset). */
int plan_explain(plan_ctx *c, plan_node *root, bool analyze, rowset *out);

#endif

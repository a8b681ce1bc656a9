/* plan_int.h: what the planner's files (plan.c, and the operators planned in files of their own) share. */
#ifndef FACTDB_PLAN_INT_H
#define FACTDB_PLAN_INT_H

#include "plan.h"

typedef struct leaf leaf;

struct plan_cte {
    plan_cte *next;
    sql_cte *cte;
    plan_node *node;        /* planned on first use */
};

/* A growable list of parse trees in the statement's arena. */
typedef struct ast_vec {
    ast **v;
    int n, cap;
} ast_vec;

/* Sets an error with a position in the statement; returns the code. */
int pl_perr(plan_ctx *c, int code, int pos, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int pl_nomem(plan_ctx *c);
/* Zeroed memory from the statement's arena (freed with it). */
void *pl_alloc(plan_ctx *c, size_t n);
/* A node registered for cleanup. */
plan_node *pl_new_node(plan_ctx *c, pn_kind k);
/* Keeps a rowset alive (and frees it) until plan_done: others point into its text. */
int pl_keep_rowset(plan_ctx *c, rowset *r);
ast *pl_mk_col(plan_ctx *c, const char *qual, const char *name, int pos);
/* v[0] AND v[1] AND ... (NULL for none, v[0] for one). */
ast *pl_mk_and(plan_ctx *c, ast **v, int n);
int pl_push(plan_ctx *c, ast_vec *l, ast *x);
/* Appends the conjuncts of x (split at AND) to out. */
int pl_split_and(plan_ctx *c, ast *x, ast_vec *out);
/* Plans [WITH ...] query. */
int pl_query_expr(plan_ctx *c, sql_select *s, plan_node **out);
/* Binds s into a new PN_QUERY over node `in` (its columns by name and qualifier), or over table ti, or
 * over nothing; lv/nlv: the outer query's leaves (only for the message about correlated subqueries). */
int pl_bind_node(plan_ctx *c, sql_select *s, plan_node *in, const factdb_table_info *ti, leaf *const *lv, int nlv,
                 plan_node **out);
/* A PN_QUERY over `in` selecting its columns, cast to types[] where they differ (types NULL: none), with
 * s's ORDER BY / LIMIT / OFFSET (s NULL: none). */
int pl_select_over(plan_ctx *c, plan_node *in, const sql_type *types, sql_select *s, plan_node **out);
/* System views (sysviews.c): whether a FROM name is one, and a node with its rows. */
bool pl_sysview_exists(const char *name);
int pl_sysview(plan_ctx *c, const char *name, plan_node **out);
/* Views (CREATE VIEW): whether a FROM name is one, and its query planned as a node. */
bool pl_view_exists(plan_ctx *c, const char *name);
int pl_view(plan_ctx *c, const char *name, int pos, plan_node **out, char ***names, int *nnames);
/* scope.c: INVALID_ARGUMENT when join's ON names (qualified) a table of `whole`, the FROM clause, that is
 * not one of the join's own sides (PostgreSQL's "invalid reference to FROM-clause entry"). */
int pl_check_on_scope(plan_ctx *c, const sql_from *whole, const sql_from *join);
/* Runs a node (its inputs first) unless it has run; its rows are then in n->rs. */
int pl_run_node(plan_ctx *c, plan_node *n);

/* window.c: whether s has a window call anywhere in its own clauses (not in its subqueries), and the plan
 * of such a SELECT (errors for calls where they are not allowed). */
bool window_present(const sql_select *s);
int plan_window(plan_ctx *c, sql_select *s, plan_node **out);

#endif

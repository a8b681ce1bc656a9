/* bind.h: the binder, between the parse tree (sql.h) and the executor's bound queries (exec.h). */
#ifndef FACTDB_BIND_H
#define FACTDB_BIND_H

#include "exec/exec.h"
#include "sql.h"

/* What a SELECT reads: the columns of one table, or of a relation the planner materialized (a join, a
 * derived table, a CTE). Names resolve by (qualifier, name); `hidden` columns (the right side's copy of a
 * USING column) answer only to their qualifier and stay out of `*`. */
typedef struct bind_col {
    const char *name;
    int qual;               /* index into quals; -1: none */
    sql_type type;
    int store_type;         /* a table's FACTDB_* type (zone maps, dictionary codes); 0 for a relation */
    int index;              /* the table's or the relation's column */
    bool hidden;
} bind_col;

typedef struct bind_rel {
    const char *name;       /* one table's name (messages); NULL otherwise */
    const char *table;      /* one table read under an alias: its own name (PostgreSQL's hint) */
    const bind_col *cols;
    int ncols;
    const char *const *quals;
    int nquals;
    bool schema_ok;         /* public.t.x is valid (a table not read under an alias) */
    bool relation;          /* a materialized relation (query.src): no zone maps */
    const char *const *hint_names;  /* NULL, or the names messages may suggest (all the tables' columns) */
    int nhint;
} bind_rel;

/* Runs an uncorrelated subquery for the binder (the planner supplies it): x is the A_SUBQUERY node. Fills
 * vals (allocated in a) with its first column's values, all of them for "in", at most one for "scalar"
 * (more than one row is an error), at most one for "exists", and *type with that column's type. */
typedef struct bind_hooks {
    void *ctx;
    int (*subquery)(void *ctx, ast *x, sql_arena *a, sql_value **vals, size_t *nvals, sql_type *type,
                    factdb_error *err);
} bind_hooks;

/* bind_select over a relation (rel may be NULL: no FROM); hooks may be NULL (subqueries are then refused). */
int bind_select_rel(sql_arena *a, sql_select *s, const bind_rel *rel, const bind_hooks *hooks, const sql_value *params,
                    int nparams, int64_t now_us, atomic_bool *cancel, query *q, factdb_error *err);
/* Describes one table as a bind_rel (cols allocated in a): qualified by alias, else by its name. */
int bind_rel_of_table(sql_arena *a, const factdb_table_info *tab, const char *alias, bind_rel *out);

/* Writes the table's column names closest to `name` ("\"a\", \"b\""); returns the length (0: none). */
int bind_column_hint(const factdb_table_info *tab, const char *name, char *buf, size_t cap);
/* Binds SELECT `s` against table `tab` (NULL when there is no FROM) with parameters params[0..nparams).
 * Fills *q (allocated in `a`). Errors: INVALID_ARGUMENT (names, types) and INVALID_VALUE (bad literals),
 * with err->position set; "canceling statement due to user request" once *cancel (may be NULL) is set. */
int bind_select(sql_arena *a, sql_select *s, const factdb_table_info *tab, const sql_value *params, int nparams,
                int64_t now_us, atomic_bool *cancel, query *q, factdb_error *err);
/* Binds and evaluates a constant expression (an INSERT value) and converts it to `to` with PostgreSQL's
 * assignment rules (TY_UNKNOWN: keep its own type). */
int bind_value(sql_arena *a, ast *x, const sql_value *params, int nparams, int64_t now_us, sql_type to, int *nslots,
               sql_value *out, factdb_error *err);
bool bind_has_agg(const ast *x);
/* Whether expression x, bound to type `from`, may be assigned to a column of type `to` (INSERT, UPDATE). */
bool bind_assignable(const ast *x, sql_type from, sql_type to);
/* The column name PostgreSQL gives select item x when it has no alias ("sum", "?column?"). */
const char *bind_item_name(const ast *x);
/* Whether two parse trees are the same expression (every attribute that can change a value compared; not
 * positions, nor column qualifiers, which bind_select has checked against its one table). */
bool bind_ast_equal(const ast *x, const ast *y);
bexpr *bind_extract(void *binder, const char *field, bexpr *arg, int pos, bool as_double);

#endif

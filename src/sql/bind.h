/* bind.h: the binder, between the parse tree (sql.h) and the executor's bound queries (exec.h). */
#ifndef FACTDB_BIND_H
#define FACTDB_BIND_H

#include "exec/exec.h"

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
/* Whether two parse trees are the same expression (every attribute that can change a value compared; not
 * positions, nor column qualifiers, which bind_select has checked against its one table). */
bool bind_ast_equal(const ast *x, const ast *y);
bexpr *bind_extract(void *binder, const char *field, bexpr *arg, int pos, bool as_double);
/* Writes the table's column names closest to `name` ("\"a\", \"b\""); returns the length (0: none). */
int bind_column_hint(const factdb_table_info *tab, const char *name, char *buf, size_t cap);

#endif

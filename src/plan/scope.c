/* scope.c: what a JOIN's ON condition may name. As in PostgreSQL, ON sees only the two sides of its own
 * join: in `FROM a, b JOIN c ON a.x = c.x` the comma binds last, so a is not visible there. Flattening inner
 * joins into one set of conditions (plan.c) would otherwise accept such a query; this check refuses it first,
 * with PostgreSQL's message. Only qualified names are checked (an unqualified one is resolved later). */
#include "plan_int.h"
#include <string.h>

/* The name that qualifies a FROM item's columns: its alias, else its table's name without the schema. */
static const char *item_qual(const sql_from *f)
{
    if (f->alias)
        return f->alias;
    if (f->kind != F_TABLE || !f->table)
        return NULL;
    const char *dot = strrchr(f->table, '.');
    return dot ? dot + 1 : f->table;
}

static bool names_qual(const sql_from *f, const char *q, int depth)
{
    if (!f || depth > SQL_MAX_FROM * 2)
        return false;
    if (f->kind == F_JOIN)
        return names_qual(f->left, q, depth + 1) || names_qual(f->right, q, depth + 1);
    const char *own = item_qual(f);
    return own && !strcmp(own, q);
}

/* The first qualified column of x (not inside subqueries, which have scopes of their own) whose qualifier is
 * in `whole` but not in `join`. */
static const ast *outside(const ast *x, const sql_from *whole, const sql_from *join)
{
    if (!x || x->kind == A_SUBQUERY)
        return NULL;
    if ((x->kind == A_COLUMN || x->kind == A_STAR) && x->qual && !names_qual(join, x->qual, 0) &&
        names_qual(whole, x->qual, 0))
        return x;
    for (int i = 0; i < x->nargs; i++) {
        const ast *y = outside(x->args[i], whole, join);
        if (y)
            return y;
    }
    return outside(x->filter, whole, join);
}

int pl_check_on_scope(plan_ctx *c, const sql_from *whole, const sql_from *join)
{
    const ast *x = join->on ? outside(join->on, whole, join) : NULL;
    if (!x)
        return 0;
    return pl_perr(c, FACTDB_INVALID_ARGUMENT, x->pos, "invalid reference to FROM-clause entry for table \"%s\"; "
                   "there is an entry for table \"%s\", but it cannot be referenced from this part of the query "
                   "(a JOIN's ON sees only its two sides: join the table inside it, or move the condition to "
                   "WHERE)", x->qual, x->qual);
}

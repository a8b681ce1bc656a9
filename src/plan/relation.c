/* relation.c: rows made before planning, named in FROM like a WITH query (UPDATE ... FROM's target rows,
 * each with its place). The node has run already; being shared, no filter of one reader is pushed into it. */
#include "plan_int.h"
#include <stdlib.h>
#include <string.h>

int plan_relation(plan_ctx *c, const char *name, rowset *rs, char *const *names, int nhidden, factdb_error *err)
{
    factdb_error *saved = c->err;
    c->err = err;
    int rc = pl_keep_rowset(c, rs);
    if (rc) {
        c->err = saved;
        exec_rowset_free(rs);
        return rc;
    }
    plan_node *n = pl_new_node(c, PN_QUERY);
    plan_cte *p = pl_alloc(c, sizeof *p);
    sql_cte *q = pl_alloc(c, sizeof *q);
    int nc = rs->ncols;
    if (!n || !p || !q || !(n->types = pl_alloc(c, (size_t)nc * sizeof *n->types)) ||
        !(n->names = pl_alloc(c, (size_t)nc * sizeof *n->names)) ||
        !(n->quals = pl_alloc(c, (size_t)nc * sizeof *n->quals)) ||
        !(n->hidden = pl_alloc(c, (size_t)nc * sizeof *n->hidden)) ||
        !(q->name = sql_arena_strndup(c->a, name, strlen(name)))) {
        rc = pl_nomem(c);
        c->err = saved;
        return rc;
    }
    n->ncols = nc;
    for (int i = 0; i < nc; i++) {
        n->types[i] = rs->cols[i].type;
        n->names[i] = names[i];
        n->hidden[i] = i >= nc - nhidden;
    }
    n->rs = rs;
    n->rows = rs->n;
    n->done = true;
    n->shared = true;
    n->q.limit = -1;
    n->label = q->name;
    n->est = n->table_rows = (double)rs->n;
    p->cte = q;
    p->node = n;
    p->next = c->ctes;
    c->ctes = p;
    c->err = saved;
    return 0;
}

/* sql.h: the SQL front end: tokens and the parse tree (AST). The parser turns text into statements whose
 * nodes all carry their 1-based byte position in the text, so every later error can point at the offending
 * spot. All AST memory comes from one arena freed with the statement. The arena and the SQL types are
 * base/sqltype.h's: the executor uses them too, and must not include this header. */
#ifndef FACTDB_SQL_H
#define FACTDB_SQL_H

#include "base/sqltype.h"
#include <stdatomic.h>

/* ---- tokens ---- */
typedef enum tok_kind {
    TK_EOF, TK_IDENT, TK_QIDENT, TK_INT, TK_DEC, TK_FLOAT, TK_STRING, TK_PARAM, TK_OP
} tok_kind;

typedef struct sql_token {
    tok_kind kind;
    int pos;            /* 1-based byte position */
    const char *s;      /* points into the text */
    size_t len;
    char op[3];         /* TK_OP: "(", ">=", "::", "||" ... */
} sql_token;

/* ---- AST ---- */
typedef enum ast_kind {
    A_CONST,     /* literal: lit_kind + text */
    A_PARAM,     /* $n: ival */
    A_COLUMN,    /* name, qualified by qual (a table name or alias) and schema when written so */
    A_STAR,      /* * in count(*) or SELECT *; qual/schema: SELECT t.* */
    A_NEG, A_NOT,
    A_BIN,       /* op: "+", "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">=", "||", "and", "or";
                  * chains of one precedence level (a + b - c, a AND b AND c) are ONE node with nargs >= 2,
                  * applied left to right: ops[i] joins the result so far with args[i] (ops NULL: all `op`) */
    A_ISNULL,    /* neg: IS NOT NULL */
    A_IN,        /* args[0] IN (args[1..]) ; neg */
    A_BETWEEN,   /* args[0] BETWEEN args[1] AND args[2]; neg */
    A_LIKE,      /* args[0] LIKE args[1]; neg; ilike */
    A_CASE,      /* args: [operand or NULL], when1, then1, ..., [else]; ival = number of WHEN; has_else */
    A_CAST,      /* args[0]::cast_type */
    A_FUNC,      /* name(args) [FILTER (WHERE filter)], distinct, star */
    A_EXTRACT,   /* extract(name FROM args[0]) */
    A_SUBQUERY   /* (SELECT ...) in an expression, `sub`: op "scalar" (one value), "exists" (EXISTS (SELECT ...)),
                  * "in" (args[0] [NOT] IN (SELECT ...); neg) */
} ast_kind;

typedef enum lit_kind { L_NULL, L_TRUE, L_FALSE, L_INT, L_DEC, L_FLOAT, L_STRING, L_DATE, L_TIMESTAMP, L_INTERVAL, L_TIMESTAMPTZ } lit_kind;

typedef struct ast ast;
typedef struct sql_order_item sql_order_item;
typedef struct sql_select sql_select;
typedef struct sql_window sql_window;
struct ast {
    ast_kind kind;
    int pos;
    const char *op;
    char *name;
    char *qual, *schema; /* A_COLUMN, A_STAR: "schema"."qual"."name"; NULL when not written. The binder
                          * checks them against the FROM clause and then clears them. */
    lit_kind lit;
    char *text;         /* literal text (strings unescaped) */
    size_t text_len;
    int64_t ival;
    bool neg, ilike, distinct, star, has_else;  /* distinct on A_BIN: a planner-made RANGE bound (bind.c) */
    sql_type cast_type;
    ast **args;
    int nargs;
    ast *filter;
    const char **ops;   /* A_BIN chains mixing operators of one level: ops[1..nargs) */
    int *op_pos;        /* A_BIN chains: op_pos[i] is the position of the operator before args[i] */
    int depth;          /* nesting depth of this subtree (a leaf is 1); never above SQL_MAX_DEPTH */
    sql_select *sub;    /* A_SUBQUERY */
    bool fixed;         /* A_COLUMN built by the planner or the binder with ival already naming its column in
                         * the relation it is bound against (else the binder resolves the name each time) */
    sql_window *over;   /* A_FUNC: f(...) OVER (...); NULL for a plain call */
    sql_order_item *agg_order;  /* A_FUNC: f(args ORDER BY agg_order) (at agg_order_pos; 0: none) */
    int nagg_order, agg_order_pos;
};

/* The one limit on expression nesting, enforced by the parser: every later recursive pass (binder,
 * constant folding, evaluation, EXPLAIN) recurses at most a small constant times this deep, which keeps
 * it far inside the smallest thread stack a statement runs on (libmicrohttpd's 4 MiB connection threads;
 * measured in docs/design.md). Chains (a OR b OR ..., a + b + ...) are flat and do not count. */
#define SQL_MAX_DEPTH 200
/* Tables and subqueries in one FROM clause (the planner recurses once per join). */
#define SQL_MAX_FROM 64

struct sql_order_item {
    ast *expr;
    bool desc;
    int nulls;          /* 0 default (PostgreSQL: NULLS LAST for ASC, FIRST for DESC), 1 first, 2 last */
};

/* OVER ([PARTITION BY part] [ORDER BY order] [frame]). frame 0: none written (PostgreSQL's default: RANGE
 * UNBOUNDED PRECEDING .. CURRENT ROW); WF_ROWS / WF_RANGE / WF_GROUPS: start .. end, with start_off / end_off the
 * offsets of WB_PRECEDING / WB_FOLLOWING bounds. The parser has already refused impossible frames. */
enum { WF_NONE = 0, WF_ROWS, WF_RANGE, WF_GROUPS };
struct sql_window {
    int pos;
    ast **part;
    int npart;
    sql_order_item *order;
    int norder;
    int frame, frame_pos;
    win_bound start, end;
    ast *start_off, *end_off;
    int start_pos, end_pos;
    int exclude;        /* WX_* */
    char *ref;          /* OVER w / OVER (w ...): a window of the WINDOW clause this one starts from; NULL none */
    int ref_pos;
    bool bare;          /* OVER w without parentheses: w exactly, frame included */
};

/* WINDOW name AS (spec) */
typedef struct sql_named_window {
    char *name;
    int pos;
    sql_window *spec;
} sql_named_window;

/* FROM items: a table (or a CTE's name), a derived table (subquery) or a join of two items. */
typedef enum from_kind { F_TABLE, F_SUBQUERY, F_JOIN } from_kind;
typedef enum join_kind { J_INNER, J_LEFT, J_RIGHT, J_FULL, J_CROSS } join_kind;

typedef struct sql_from sql_from;
struct sql_from {
    from_kind kind;
    int pos;
    char *table;            /* F_TABLE */
    char *alias;            /* F_TABLE, F_SUBQUERY: [AS] alias; NULL none */
    char **colnames;        /* alias (c1, c2, ...): column aliases */
    int ncolnames;
    sql_select *sub;        /* F_SUBQUERY */
    join_kind join;         /* F_JOIN */
    bool natural;
    sql_from *left, *right;
    ast *on;                /* ON condition; NULL for CROSS, USING and NATURAL */
    char **using;           /* USING (a, b) */
    int *using_pos;
    int nusing;
};

/* WITH name [(cols)] AS (query) */
typedef struct sql_cte {
    char *name;
    int pos;
    char **colnames;
    int ncolnames;
    sql_select *sel;
} sql_cte;

typedef enum set_kind { SET_NONE, SET_UNION, SET_INTERSECT, SET_EXCEPT } set_kind;

struct sql_select {
    bool distinct;
    ast **items;
    char **aliases;     /* NULL entry: no alias */
    int nitems;
    char *table;        /* NULL: no FROM */
    int table_pos;
    char *alias;        /* FROM t [AS] alias; NULL: none (columns are then qualified by the table name) */
    ast *where;
    ast **group;
    int ngroup;
    ast *having;
    sql_order_item *order;
    int norder;
    ast *limit, *offset;
    /* The general forms (the planner, src/plan, runs them): `from` is the whole FROM clause whenever it is
     * more than one plain table (table/alias above are then NULL); a set operation has setop != SET_NONE,
     * its operands in larg/rarg, and only order/limit/offset of its own; ctes: WITH before it. */
    sql_from *from;
    set_kind setop;
    bool set_all;
    int set_pos;
    sql_select *larg, *rarg;
    sql_cte *ctes;
    int nctes;
    int pos;
    sql_named_window *windows;  /* the WINDOW clause */
    int nwindows;
};

typedef struct sql_coldef {
    char *name;
    int pos;
    sql_type type;
    bool not_null;
    bool primary, unique;       /* column constraint PRIMARY KEY / UNIQUE */
    char *cname;                /* its CONSTRAINT name, NULL: PostgreSQL's default */
    int cpos;                   /* position of PRIMARY KEY / UNIQUE */
} sql_coldef;

/* A table constraint: [CONSTRAINT name] PRIMARY KEY (cols) / UNIQUE (cols). */
typedef struct sql_constraint {
    char *name;
    bool primary;
    int pos;
    char **cols;
    int *col_pos;
    int ncols;
} sql_constraint;

typedef enum stmt_kind {
    S_SELECT, S_INSERT, S_CREATE, S_DROP, S_ALTER_ADD, S_TRUNCATE, S_DELETE, S_COPY_FROM, S_COPY_TO,
    S_SHOW_TABLES, S_DESCRIBE, S_EXPLAIN, S_BEGIN, S_COMMIT, S_ROLLBACK,
    S_UPDATE, S_CREATE_VIEW, S_DROP_VIEW
} stmt_kind;

typedef struct sql_copy_opts {
    bool header, header_set;
    char delimiter;
    char *encoding;
    char *format;
} sql_copy_opts;

typedef struct sql_stmt {
    stmt_kind kind;
    int pos;
    char *table;
    int table_pos;
    bool if_exists, if_not_exists;
    sql_select *select;          /* SELECT, EXPLAIN, INSERT ... SELECT, COPY (SELECT) TO; UPDATE ... FROM: its
                                  * FROM clause (table/alias or from), nothing else */
    char **cols;                 /* INSERT column list */
    int *col_pos;
    int ncols;
    ast ***rows;                 /* INSERT VALUES rows */
    int nrows, row_width;
    sql_coldef *defs;            /* CREATE / ALTER ADD */
    int ndefs;
    ast *where;                  /* DELETE */
    char *alias;                 /* DELETE FROM t [AS] alias */
    char *file;                  /* COPY */
    sql_copy_opts copy;
    bool analyze;                /* EXPLAIN ANALYZE */
    bool no_data;                /* CREATE TABLE ... AS query WITH NO DATA (select: the query, cols: names) */
    bool or_replace;             /* CREATE OR REPLACE VIEW */
    char *view_sql;              /* CREATE VIEW: the query's text as written */
    size_t view_len;
    /* UPDATE t [AS alias] SET set_cols[i] = set_vals[i] ... [WHERE where] */
    char **set_cols;
    int *set_pos;
    ast **set_vals;
    int nset;
    sql_constraint *cons;        /* CREATE TABLE: table constraints */
    int ncons;
    /* INSERT ... ON CONFLICT [(conflict_cols)] DO NOTHING | DO UPDATE SET set_* [WHERE conflict_where] */
    int on_conflict;             /* 0 none, 1 DO NOTHING, 2 DO UPDATE */
    int conflict_pos;
    char **conflict_cols;
    int *conflict_col_pos;
    int nconflict_cols;
    ast *conflict_where;
    /* INSERT, UPDATE, DELETE ... RETURNING items: a select list only (items, aliases, nitems) */
    sql_select *returning;
} sql_stmt;

/* Parses the first statement of text[0..len). On success *out is the statement (NULL for an empty
 * statement) and *consumed the bytes up to and including its ';' (or the end). Errors: INVALID_ARGUMENT
 * with position set (1-based byte offset into text) and a message naming what was expected. */
int sql_parse(sql_arena *a, const char *text, size_t len, sql_stmt **out, size_t *consumed, factdb_error *err);
/* sql_parse that also stops with INVALID_ARGUMENT "canceling statement due to user request" when *cancel
 * becomes true (checked every 256 tokens), so a huge statement cannot outlive a query timeout. cancel may
 * be NULL. */
int sql_parse_cancelable(sql_arena *a, const char *text, size_t len, atomic_bool *cancel, sql_stmt **out,
                         size_t *consumed, factdb_error *err);

#endif

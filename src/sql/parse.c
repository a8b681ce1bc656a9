/* parse.c: tokenizer and recursive-descent parser for factdb's PostgreSQL subset. Unquoted identifiers
 * fold to lower case as in PostgreSQL; keywords are matched case-insensitively on identifier tokens,
 * so only the words the grammar needs at a given spot are reserved there. */
#include "sql.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- tokenizer ---- */
typedef struct parser {
    const char *text;
    size_t len, at;
    sql_token tok;          /* current token */
    sql_arena *arena;
    factdb_error *err;
    int rc;
    int depth;              /* recursion depth of the descent (parentheses, unary operators, arguments) */
    int from_items;         /* tables and subqueries in the FROM clause being read (at most SQL_MAX_FROM) */
    atomic_bool *cancel;    /* NULL: not cancelable */
    unsigned ntok;
} parser;

#define MAX_DEPTH SQL_MAX_DEPTH

static int lex_error(parser *p, int pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int lex_error(parser *p, int pos, const char *fmt, ...)
{
    if (p->rc)
        return p->rc;
    va_list ap;
    va_start(ap, fmt);
    char msg[900];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->rc = sql_err(p->err, FACTDB_INVALID_ARGUMENT, pos, "%s", msg);
    return p->rc;
}

static void next(parser *p)
{
    const char *t = p->text;
    size_t n = p->len, i = p->at;
    if (p->cancel && !(++p->ntok & 255) && atomic_load_explicit(p->cancel, memory_order_relaxed)) {
        lex_error(p, (int)i + 1, "canceling statement due to user request");
        p->tok.kind = TK_EOF;
        p->at = n;
        return;
    }
    for (;;) {
        while (i < n && isspace((unsigned char)t[i]))
            i++;
        if (i + 1 < n && t[i] == '-' && t[i + 1] == '-') {
            /* to the end of the line, which \r ends too (PostgreSQL's rule: a server that passes text on to
               PostgreSQL must see the statements it will run) */
            while (i < n && t[i] != '\n' && t[i] != '\r' && t[i])
                i++;
            if (i < n && !t[i])
                break;  /* the NUL is reported below */
            continue;
        }
        if (i + 1 < n && t[i] == '/' && t[i + 1] == '*') {
            size_t start = i;
            i += 2;
            while (i + 1 < n && !(t[i] == '*' && t[i + 1] == '/') && t[i])
                i++;
            if (i < n && !t[i])
                break;
            if (i + 1 >= n) {
                lex_error(p, (int)start + 1, "unterminated /* comment");
                p->tok.kind = TK_EOF;
                p->at = n;
                return;
            }
            i += 2;
            continue;
        }
        break;
    }
    sql_token *k = &p->tok;
    memset(k, 0, sizeof *k);
    k->pos = (int)i + 1;
    k->s = t + i;
    if (i >= n) {
        k->kind = TK_EOF;
        p->at = i;
        return;
    }
    unsigned char c = (unsigned char)t[i];
    size_t s = i;
    if (!c) {
        /* PostgreSQL cannot receive a NUL in a statement; text never holds one (docs/sql.md) */
        lex_error(p, (int)i + 1, "the SQL text contains a NUL byte (0x00) at byte %zu; NUL is not allowed in SQL "
                                 "text or text values", i + 1);
        k->kind = TK_EOF;
        p->at = n;
        return;
    }
    if (isalpha(c) || c == '_' || c >= 0x80) {
        while (i < n && (isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '$' || (unsigned char)t[i] >= 0x80))
            i++;
        k->kind = TK_IDENT;
    } else if (isdigit(c) || (c == '.' && i + 1 < n && isdigit((unsigned char)t[i + 1]))) {
        k->kind = TK_INT;
        while (i < n && isdigit((unsigned char)t[i]))
            i++;
        if (i < n && t[i] == '.') {
            k->kind = TK_DEC;
            i++;
            while (i < n && isdigit((unsigned char)t[i]))
                i++;
        }
        if (i < n && (t[i] == 'e' || t[i] == 'E')) {
            size_t j = i + 1;
            if (j < n && (t[j] == '+' || t[j] == '-'))
                j++;
            if (j < n && isdigit((unsigned char)t[j])) {
                k->kind = TK_FLOAT;
                i = j;
                while (i < n && isdigit((unsigned char)t[i]))
                    i++;
            }
        }
        if (i < n && (isalpha((unsigned char)t[i]) || t[i] == '_')) {
            lex_error(p, (int)i + 1, "trailing junk after numeric literal");
            k->kind = TK_EOF;
            p->at = n;
            return;
        }
    } else if (c == '\'' || c == '"') {
        /* a quoted string or identifier; a doubled quote stands for itself */
        i++;
        for (;; i++) {
            if (i >= n) {
                lex_error(p, (int)s + 1, c == '\'' ? "unterminated quoted string; close it with '"
                                                    : "unterminated quoted identifier; close it with \"");
                k->kind = TK_EOF;
                p->at = n;
                return;
            }
            if (!t[i]) {
                lex_error(p, (int)i + 1, "the SQL text contains a NUL byte (0x00) at byte %zu inside a quoted %s; "
                                         "NUL is not allowed in text values", i + 1, c == '\'' ? "string" : "identifier");
                k->kind = TK_EOF;
                p->at = n;
                return;
            }
            if (t[i] == (char)c) {
                if (i + 1 < n && t[i + 1] == (char)c) {
                    i++;
                    continue;
                }
                i++;
                break;
            }
        }
        k->kind = c == '\'' ? TK_STRING : TK_QIDENT;
    } else if (c == '$' && i + 1 < n && isdigit((unsigned char)t[i + 1])) {
        i++;
        while (i < n && isdigit((unsigned char)t[i]))
            i++;
        k->kind = TK_PARAM;
    } else {
        static const char *two[] = {"<=", ">=", "<>", "!=", "::", "||"};
        k->kind = TK_OP;
        for (size_t j = 0; j < ARRAY_LEN(two); j++)
            if (i + 1 < n && t[i] == two[j][0] && t[i + 1] == two[j][1]) {
                memcpy(k->op, two[j], 2);
                i += 2;
                goto done;
            }
        if (!strchr("(),;*+-/%=<>.[]", c)) {
            lex_error(p, (int)i + 1, "unexpected character '%c'", c >= 0x20 && c < 0x7f ? c : '?');
            k->kind = TK_EOF;
            p->at = n;
            return;
        }
        k->op[0] = (char)c;
        i++;
    }
done:
    k->len = i - s;
    p->at = i;
}

static bool is_op(parser *p, const char *op) { return p->tok.kind == TK_OP && !strcmp(p->tok.op, op); }

static bool is_kw(parser *p, const char *kw)
{
    return p->tok.kind == TK_IDENT && p->tok.len == strlen(kw) && !strncasecmp(p->tok.s, kw, p->tok.len);
}

static bool accept_kw(parser *p, const char *kw)
{
    if (!is_kw(p, kw))
        return false;
    next(p);
    return true;
}

static bool accept_op(parser *p, const char *op)
{
    if (!is_op(p, op))
        return false;
    next(p);
    return true;
}

static void describe_tok(parser *p, char *buf, size_t cap)
{
    if (p->tok.kind == TK_EOF)
        snprintf(buf, cap, "end of input");
    else
        snprintf(buf, cap, "\"%.*s\"", (int)MIN(p->tok.len, 40), p->tok.s);
}

static int syntax(parser *p, const char *expected)
{
    char got[64];
    describe_tok(p, got, sizeof got);
    return lex_error(p, p->tok.pos, "syntax error at %s: expected %s", got, expected);
}

static int expect_kw(parser *p, const char *kw)
{
    if (accept_kw(p, kw))
        return 0;
    char want[64];
    snprintf(want, sizeof want, "%s", kw);
    for (char *c = want; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    return syntax(p, want);
}

static int expect_op(parser *p, const char *op)
{
    if (accept_op(p, op))
        return 0;
    char want[16];
    snprintf(want, sizeof want, "\"%s\"", op);
    return syntax(p, want);
}

static void *alloc(parser *p, size_t n)
{
    void *m = sql_arena_alloc(p->arena, n);
    if (!m && !p->rc)
        p->rc = sql_err(p->err, FACTDB_LIMIT, p->tok.pos, "the statement is too large to parse (memory limit)");
    return m;
}

/* The text of the current quoted token without its quotes, doubled quotes made single. */
static char *unquote(parser *p, size_t *len)
{
    char q = p->tok.s[0], *s = alloc(p, p->tok.len);
    if (!s)
        return NULL;
    size_t o = 0;
    for (size_t i = 1; i + 1 < p->tok.len; i++) {
        s[o++] = p->tok.s[i];
        if (p->tok.s[i] == q)
            i++;
    }
    *len = o;
    return s;
}

/* Identifier (folded unless quoted) or NULL with an error. */
static char *ident(parser *p, const char *what)
{
    if (p->tok.kind == TK_IDENT) {
        char *s = alloc(p, p->tok.len + 1);
        if (!s)
            return NULL;
        for (size_t i = 0; i < p->tok.len; i++)
            s[i] = (char)tolower((unsigned char)p->tok.s[i]);
        next(p);
        return s;
    }
    if (p->tok.kind == TK_QIDENT) {
        size_t o;
        char *s = unquote(p, &o);
        if (!s)
            return NULL;
        if (o == 0) {
            lex_error(p, p->tok.pos, "zero-length quoted identifier");
            return NULL;
        }
        /* names end up in catalogs and JSON answers (column aliases), which must be valid UTF-8 */
        if (base_utf8_valid_prefix((const unsigned char *)s, o) != o) {
            if (!p->rc)
                p->rc = sql_err(p->err, FACTDB_INVALID_UTF8, p->tok.pos,
                                "quoted identifier is not valid UTF-8 (byte %zu of it)",
                                base_utf8_valid_prefix((const unsigned char *)s, o) + 1);
            return NULL;
        }
        next(p);
        return s;
    }
    syntax(p, what);
    return NULL;
}

static char *string_lit(parser *p, size_t *len)
{
    size_t o;
    char *s = unquote(p, &o);
    if (!s)
        return NULL;
    if (base_utf8_valid_prefix((const unsigned char *)s, o) != o) {
        lex_error(p, p->tok.pos, "string literal is not valid UTF-8");
        return NULL;
    }
    *len = o;
    next(p);
    return s;
}

/* The value of the digits s[0..len): token text is NOT NUL-terminated (factdb_session_exec takes a length,
 * HTTP bodies have none), so no atoi/strtol on it. Callers bound len (<= 6 digits). */
static int digits_value(const char *s, size_t len)
{
    int v = 0;
    for (size_t i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* ---- types ---- */
static int parse_int_arg(parser *p, int *out)
{
    if (p->tok.kind != TK_INT || p->tok.len > 6)
        return syntax(p, "an integer");
    *out = digits_value(p->tok.s, p->tok.len);
    next(p);
    return 0;
}

static int parse_type(parser *p, sql_type *t)
{
    memset(t, 0, sizeof *t);
    int pos = p->tok.pos;
    if (p->tok.kind != TK_IDENT)
        return syntax(p, "a type name");
    char name[32] = "";
    snprintf(name, sizeof name, "%.*s", (int)MIN(p->tok.len, 31), p->tok.s);
    for (char *c = name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    next(p);
    if (!strcmp(name, "boolean") || !strcmp(name, "bool"))
        t->id = TY_BOOL;
    else if (!strcmp(name, "integer") || !strcmp(name, "int") || !strcmp(name, "int4"))
        t->id = TY_INT;
    else if (!strcmp(name, "bigint") || !strcmp(name, "int8"))
        t->id = TY_BIGINT;
    else if (!strcmp(name, "smallint") || !strcmp(name, "int2"))
        t->id = TY_INT;
    else if (!strcmp(name, "double")) {
        if (expect_kw(p, "precision"))
            return p->rc;
        t->id = TY_DOUBLE;
    } else if (!strcmp(name, "float8") || !strcmp(name, "float") || !strcmp(name, "real") ||
               !strcmp(name, "float4"))
        t->id = TY_DOUBLE;
    else if (!strcmp(name, "numeric") || !strcmp(name, "decimal")) {
        t->id = TY_NUMERIC;
        int prec = 18, scale = 0;
        if (accept_op(p, "(")) {
            int ppos = p->tok.pos;
            if (parse_int_arg(p, &prec))
                return p->rc;
            if (accept_op(p, ",") && parse_int_arg(p, &scale))
                return p->rc;
            if (expect_op(p, ")"))
                return p->rc;
            if (prec < 1 || prec > 18)
                return lex_error(p, ppos, "NUMERIC precision %d must be between 1 and 18 in factdb", prec);
            if (scale < 0 || scale > prec)
                return lex_error(p, ppos, "NUMERIC scale %d must be between 0 and the precision %d", scale, prec);
        } else {
            /* PostgreSQL's unconstrained numeric: factdb stores numeric(18,6) columns for it but in
             * expressions (casts) it keeps each value's own scale. */
            prec = 0;
            scale = -1;
        }
        t->prec = (uint8_t)prec;
        t->scale = (int8_t)scale;
    } else if (!strcmp(name, "text") || !strcmp(name, "varchar") || !strcmp(name, "character") ||
               !strcmp(name, "char")) {
        t->id = TY_TEXT;
        if (!strcmp(name, "character"))
            accept_kw(p, "varying");
        if (accept_op(p, "(")) {
            int n;
            if (parse_int_arg(p, &n) || expect_op(p, ")"))
                return p->rc;
        }
    } else if (!strcmp(name, "date"))
        t->id = TY_DATE;
    else if (!strcmp(name, "timestamp")) {
        t->id = TY_TIMESTAMP;
        bool with = accept_kw(p, "with");
        if (with || accept_kw(p, "without")) {
            if (expect_kw(p, "time") || expect_kw(p, "zone"))
                return p->rc;
            if (with)
                t->id = TY_TIMESTAMPTZ;
        }
    } else if (!strcmp(name, "timestamptz"))
        t->id = TY_TIMESTAMPTZ;
    else if (!strcmp(name, "interval"))
        t->id = TY_INTERVAL;
    else
        return lex_error(p, pos,
                         "unknown type \"%s\"; factdb has boolean, integer, bigint, double precision, real, "
                         "numeric(p,s), text, varchar(n), date, timestamp, timestamptz",
                         name);
    return 0;
}

/* ---- expressions ---- */
static ast *expr(parser *p);
static sql_select *nested_query(parser *p);

static ast *node(parser *p, ast_kind k, int pos)
{
    ast *a = alloc(p, sizeof *a);
    if (a) {
        a->kind = k;
        a->pos = pos;
        a->depth = 1;
    }
    return a;
}

/* Called on every node once its children are attached: sets its depth and enforces the one nesting
 * limit, so no later pass can recurse deeper than SQL_MAX_DEPTH (times a small constant). */
static ast *seal(parser *p, ast *a)
{
    if (!a)
        return NULL;
    int d = a->filter ? a->filter->depth : 0;
    for (int i = 0; i < a->nargs; i++)
        if (a->args[i] && a->args[i]->depth > d)
            d = a->args[i]->depth;
    if (a->over) {  /* a window's expressions count too: passes over the call walk into them */
        const sql_window *w = a->over;
        for (int i = 0; i < w->npart; i++)
            d = MAX(d, w->part[i]->depth);
        for (int i = 0; i < w->norder; i++)
            d = MAX(d, w->order[i].expr->depth);
        if (w->start_off)
            d = MAX(d, w->start_off->depth);
        if (w->end_off)
            d = MAX(d, w->end_off->depth);
    }
    a->depth = d + 1;
    if (a->depth > MAX_DEPTH) {
        lex_error(p, a->pos, "expression nested too deeply (more than %d levels); flatten it (long AND/OR/+/* "
                             "chains and IN lists are fine) or split it", MAX_DEPTH);
        return NULL;
    }
    return a;
}

/* Collects a growable list of ast pointers in the arena (doubling copies; lists are short). */
typedef struct ast_list {
    ast **v;
    int n, cap;
} ast_list;

static int list_push(parser *p, ast_list *l, ast *a)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        ast **v = alloc(p, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        if (l->n)
            memcpy(v, l->v, (size_t)l->n * sizeof *v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = a;
    return 0;
}

static ast *binop(parser *p, const char *op, int pos, ast *l, ast *r)
{
    if (!l || !r)
        return NULL;
    ast *a = node(p, A_BIN, pos);
    ast **args = alloc(p, 2 * sizeof *args);
    if (!a || !args)
        return NULL;
    args[0] = l;
    args[1] = r;
    a->op = op;
    a->args = args;
    a->nargs = 2;
    return seal(p, a);
}

/* The operator of `ops` at the current token, or NULL. */
static const char *match_op(parser *p, const char *const *ops)
{
    for (; *ops; ops++)
        if (isalpha((unsigned char)(*ops)[0]) ? is_kw(p, *ops) : is_op(p, *ops))
            return *ops;
    return NULL;
}

/* One precedence level, left-associative: `operand (op operand)*` becomes ONE A_BIN node with all the
 * operands, so a 10,000-term OR or sum is flat (no recursion proportional to its length anywhere). */
static ast *chain(parser *p, ast *(*operand)(parser *), const char *const *ops)
{
    ast *a = operand(p);
    const char *op = a ? match_op(p, ops) : NULL;
    if (!op)
        return a;
    ast *n = node(p, A_BIN, p->tok.pos);
    ast_list args = {0};
    const char **opv = NULL;
    int *posv = NULL, opcap = 0;
    if (!n || list_push(p, &args, a))
        return NULL;
    n->op = op;
    while (op) {
        int pos = p->tok.pos;
        next(p);
        ast *r = operand(p);
        if (!r || list_push(p, &args, r))
            return NULL;
        if (opcap != args.cap) {
            const char **nv = alloc(p, (size_t)args.cap * sizeof *nv);
            int *np = alloc(p, (size_t)args.cap * sizeof *np);
            if (!nv || !np)
                return NULL;
            if (opv) {
                memcpy(nv, opv, (size_t)(args.n - 1) * sizeof *nv);
                memcpy(np, posv, (size_t)(args.n - 1) * sizeof *np);
            }
            opv = nv;
            posv = np;
            opcap = args.cap;
        }
        opv[args.n - 1] = op;
        posv[args.n - 1] = pos;
        op = match_op(p, ops);
    }
    n->args = args.v;
    n->nargs = args.n;
    n->op_pos = posv;
    for (int i = 2; i < args.n; i++)
        if (opv[i] != n->op)
            n->ops = opv;  /* mixed operators (a + b - c) */
    return seal(p, n);
}

static ast *typed_literal(parser *p, lit_kind lk, int pos)
{
    if (p->tok.kind != TK_STRING) {
        syntax(p, "a quoted string after the type name");
        return NULL;
    }
    ast *a = node(p, A_CONST, pos);
    if (!a)
        return NULL;
    a->lit = lk;
    a->text = string_lit(p, &a->text_len);
    if (!a->text)
        return NULL;
    if (lk == L_INTERVAL) {
        static const char *units[] = {"year", "month", "day", "hour", "minute", "second"};
        for (size_t i = 0; i < ARRAY_LEN(units); i++)
            if (is_kw(p, units[i])) {
                a->name = (char *)units[i];
                next(p);
            }
    }
    return a;
}

static int order_items(parser *p, sql_order_item **out, int *nout);

/* One frame bound: UNBOUNDED PRECEDING | UNBOUNDED FOLLOWING | CURRENT ROW | expr PRECEDING | expr FOLLOWING. */
static int frame_bound(parser *p, win_bound *b, ast **off, int *pos)
{
    *pos = p->tok.pos;
    if (accept_kw(p, "unbounded")) {
        if (accept_kw(p, "preceding"))
            *b = WB_UNBOUNDED_PRECEDING;
        else if (accept_kw(p, "following"))
            *b = WB_UNBOUNDED_FOLLOWING;
        else
            return syntax(p, "PRECEDING or FOLLOWING");
        return 0;
    }
    if (accept_kw(p, "current")) {
        *b = WB_CURRENT_ROW;
        return expect_kw(p, "row");
    }
    if (!(*off = expr(p)))
        return p->rc;
    if (accept_kw(p, "preceding"))
        *b = WB_PRECEDING;
    else if (accept_kw(p, "following"))
        *b = WB_FOLLOWING;
    else
        return syntax(p, "PRECEDING or FOLLOWING");
    return 0;
}

/* The frame clause after ROWS or RANGE: a bound, or BETWEEN bound AND bound; impossible frames get
 * PostgreSQL's messages here, so the planner and executor only see valid ones. */
static int frame_clause(parser *p, sql_window *w)
{
    if (accept_kw(p, "between")) {
        if (frame_bound(p, &w->start, &w->start_off, &w->start_pos) || expect_kw(p, "and") ||
            frame_bound(p, &w->end, &w->end_off, &w->end_pos))
            return p->rc;
    } else {
        if (frame_bound(p, &w->start, &w->start_off, &w->start_pos))
            return p->rc;
        w->end = WB_CURRENT_ROW;
        w->end_pos = w->start_pos;
    }
    if (w->start == WB_UNBOUNDED_FOLLOWING)
        return lex_error(p, w->start_pos, "frame start cannot be UNBOUNDED FOLLOWING");
    if (w->end == WB_UNBOUNDED_PRECEDING)
        return lex_error(p, w->end_pos, "frame end cannot be UNBOUNDED PRECEDING");
    if (w->start == WB_CURRENT_ROW && w->end == WB_PRECEDING)
        return lex_error(p, w->end_pos, "frame starting from current row cannot have preceding rows");
    if (w->start == WB_FOLLOWING && (w->end == WB_PRECEDING || w->end == WB_CURRENT_ROW))
        return lex_error(p, w->end_pos, "frame starting from following row cannot have preceding rows");
    if (accept_kw(p, "exclude")) {
        if (accept_kw(p, "current")) {
            w->exclude = WX_CURRENT_ROW;
            return expect_kw(p, "row");
        }
        if (accept_kw(p, "group"))
            w->exclude = WX_GROUP;
        else if (accept_kw(p, "ties"))
            w->exclude = WX_TIES;
        else if (accept_kw(p, "no"))
            return expect_kw(p, "others");
        else
            return syntax(p, "CURRENT ROW, GROUP, TIES or NO OTHERS");
    }
    return 0;
}

/* OVER ( [PARTITION BY e, ...] [ORDER BY ...] [frame] ), OVER already read; a window name is refused. */
static sql_window *window_spec(parser *p)
{
    sql_window *w = alloc(p, sizeof *w);
    if (!w)
        return NULL;
    w->pos = p->tok.pos;
    if (p->tok.kind == TK_IDENT || p->tok.kind == TK_QIDENT) {  /* OVER w */
        w->ref_pos = p->tok.pos;
        w->bare = true;
        return (w->ref = ident(p, "a window name")) ? w : NULL;
    }
    if (expect_op(p, "("))
        return NULL;
    if (p->tok.kind == TK_QIDENT || (p->tok.kind == TK_IDENT && !is_kw(p, "partition") && !is_kw(p, "order") &&
                                     !is_kw(p, "rows") && !is_kw(p, "range") && !is_kw(p, "groups"))) {
        w->ref_pos = p->tok.pos;
        if (!(w->ref = ident(p, "a window name")))
            return NULL;
    }
    if (accept_kw(p, "partition")) {
        if (expect_kw(p, "by"))
            return NULL;
        ast_list l = {0};
        do {
            ast *x = expr(p);
            if (!x || list_push(p, &l, x))
                return NULL;
        } while (accept_op(p, ","));
        w->part = l.v;
        w->npart = l.n;
    }
    if (accept_kw(p, "order")) {
        if (expect_kw(p, "by") || order_items(p, &w->order, &w->norder))
            return NULL;
    }
    w->frame_pos = p->tok.pos;
    if (accept_kw(p, "rows"))
        w->frame = WF_ROWS;
    else if (accept_kw(p, "range"))
        w->frame = WF_RANGE;
    else if (accept_kw(p, "groups"))
        w->frame = WF_GROUPS;
    if (w->frame && frame_clause(p, w))
        return NULL;
    if (expect_op(p, ")"))
        return NULL;
    return w;
}

static ast *func_call(parser *p, char *name, int pos)
{
    ast *a = node(p, A_FUNC, pos);
    if (!a)
        return NULL;
    a->name = name;
    ast_list args = {0};
    if (!strcmp(name, "extract")) {
        a->kind = A_EXTRACT;
        /* the field is compared with other extracts' fields (GROUP BY matching), so text_len is set
         * and the field is folded to lower case in both spellings (PostgreSQL ignores its case) */
        if (p->tok.kind == TK_STRING) {
            a->text = string_lit(p, &a->text_len);
            for (size_t i = 0; a->text && i < a->text_len; i++)
                a->text[i] = (char)tolower((unsigned char)a->text[i]);
        } else {
            a->text = ident(p, "a field name (year, month, day, hour, ...)");
            a->text_len = a->text ? strlen(a->text) : 0;
        }
        if (!a->text || expect_kw(p, "from"))
            return NULL;
        ast *x = expr(p);
        if (!x || list_push(p, &args, x) || expect_op(p, ")"))
            return NULL;
        a->args = args.v;
        a->nargs = args.n;
        return seal(p, a);
    }
    if (!strcmp(name, "exists") && (is_kw(p, "select") || is_kw(p, "with"))) {  /* EXISTS (SELECT ...) */
        a->kind = A_SUBQUERY;
        a->op = "exists";
        if (!(a->sub = nested_query(p)) || expect_op(p, ")"))
            return NULL;
        return a;
    }
    if (accept_op(p, "*")) {
        a->star = true;
    } else if (!is_op(p, ")")) {
        if (accept_kw(p, "distinct"))
            a->distinct = true;
        else
            accept_kw(p, "all");
        for (;;) {
            ast *x = expr(p);
            if (!x || list_push(p, &args, x))
                return NULL;
            if (!strcmp(name, "substring") && args.n == 1 && accept_kw(p, "from")) {
                ast *y = expr(p);
                if (!y || list_push(p, &args, y))
                    return NULL;
                if (accept_kw(p, "for")) {
                    ast *z = expr(p);
                    if (!z || list_push(p, &args, z))
                        return NULL;
                }
                break;
            }
            if (!accept_op(p, ","))
                break;
        }
        /* agg(args ORDER BY ...): the binder accepts it for the aggregates whose result does not depend on
         * the order, and refuses it elsewhere */
        if (is_kw(p, "order")) {
            a->agg_order_pos = p->tok.pos;
            next(p);
            if (expect_kw(p, "by") || order_items(p, &a->agg_order, &a->nagg_order))
                return NULL;
        }
    }
    if (expect_op(p, ")"))
        return NULL;
    a->args = args.v;
    a->nargs = args.n;
    if (accept_kw(p, "filter")) {
        if (expect_op(p, "(") || expect_kw(p, "where"))
            return NULL;
        a->filter = expr(p);
        if (!a->filter || expect_op(p, ")"))
            return NULL;
    }
    if (accept_kw(p, "over") && !(a->over = window_spec(p)))
        return NULL;
    return seal(p, a);
}

/* A column reference whose first name, at pos, is read: name, table.name, schema.table.name, or the same
 * ending in * (table.*, schema.table.*). Which names are valid is the binder's business (it knows the FROM
 * clause); four or more parts are refused here with PostgreSQL's message. */
static ast *column_ref(parser *p, char *first, int pos)
{
    char *parts[3] = {first, NULL, NULL};
    int n = 1;
    bool star = false;
    while (is_op(p, ".")) {
        next(p);
        if (is_op(p, "*")) {
            next(p);
            star = true;
            break;
        }
        char *part = ident(p, "a column name after \".\"");
        if (!part)
            return NULL;
        if (n == 3) {
            lex_error(p, pos, "cross-database references are not implemented: %s.%s.%s.%s", parts[0], parts[1],
                      parts[2], part);
            return NULL;
        }
        parts[n++] = part;
        /* pg_catalog.f(...): the function f (catalog queries qualify PostgreSQL's functions so) */
        if (n == 2 && !strcmp(parts[0], "pg_catalog") && accept_op(p, "("))
            return func_call(p, parts[1], pos);
    }
    ast *a = node(p, star ? A_STAR : A_COLUMN, pos);
    if (!a)
        return NULL;
    if (star) {
        /* t.* / s.t.*: every part names the table */
        a->qual = parts[n - 1];
        a->schema = n == 2 ? parts[0] : NULL;
        if (n == 3) {
            lex_error(p, pos, "cross-database references are not implemented: %s.%s.%s.*", parts[0], parts[1], parts[2]);
            return NULL;
        }
        return a;
    }
    a->name = parts[n - 1];
    a->qual = n >= 2 ? parts[n - 2] : NULL;
    a->schema = n == 3 ? parts[0] : NULL;
    return a;
}

static ast *primary(parser *p)
{
    int pos = p->tok.pos;
    sql_token t = p->tok;
    switch (t.kind) {
    case TK_INT:
    case TK_DEC:
    case TK_FLOAT: {
        ast *a = node(p, A_CONST, pos);
        if (!a)
            return NULL;
        a->lit = t.kind == TK_INT ? L_INT : t.kind == TK_DEC ? L_DEC : L_FLOAT;
        a->text = sql_arena_strndup(p->arena, t.s, t.len);
        a->text_len = t.len;
        next(p);
        return a->text ? a : NULL;
    }
    case TK_STRING: {
        ast *a = node(p, A_CONST, pos);
        if (!a)
            return NULL;
        a->lit = L_STRING;
        a->text = string_lit(p, &a->text_len);
        return a->text ? a : NULL;
    }
    case TK_PARAM: {
        ast *a = node(p, A_PARAM, pos);
        if (!a)
            return NULL;
        if (t.len > 6) {
            lex_error(p, pos, "parameter number too large");
            return NULL;
        }
        a->ival = digits_value(t.s + 1, t.len - 1);
        if (a->ival < 1) {
            lex_error(p, pos, "parameters are numbered from $1");
            return NULL;
        }
        next(p);
        return a;
    }
    case TK_OP:
        if (accept_op(p, "(")) {
            if (is_kw(p, "select") || is_kw(p, "with")) {
                ast *a = node(p, A_SUBQUERY, pos);
                if (!a)
                    return NULL;
                a->op = "scalar";
                if (!(a->sub = nested_query(p)) || expect_op(p, ")"))
                    return NULL;
                return a;
            }
            ast *a = expr(p);
            if (!a || expect_op(p, ")"))
                return NULL;
            return a;
        }
        if (is_op(p, "*")) {
            next(p);
            return node(p, A_STAR, pos);
        }
        syntax(p, "an expression");
        return NULL;
    case TK_QIDENT: {
        char *name = ident(p, "a column name");
        return name ? column_ref(p, name, pos) : NULL;
    }
    case TK_IDENT:
        break;
    default:
        syntax(p, "an expression");
        return NULL;
    }
    /* keywords that start expressions */
    if (accept_kw(p, "null")) {
        ast *a = node(p, A_CONST, pos);
        if (a)
            a->lit = L_NULL;
        return a;
    }
    if (accept_kw(p, "true") || accept_kw(p, "false")) {
        ast *a = node(p, A_CONST, pos);
        if (a)
            a->lit = (t.len == 4) ? L_TRUE : L_FALSE;
        return a;
    }
    if (is_kw(p, "date") || is_kw(p, "timestamp") || is_kw(p, "interval") || is_kw(p, "timestamptz")) {
        lit_kind lk = is_kw(p, "date") ? L_DATE : is_kw(p, "timestamp") ? L_TIMESTAMP
                      : is_kw(p, "timestamptz") ? L_TIMESTAMPTZ : L_INTERVAL;
        /* DATE 'x' is a typed literal; date alone may be a column name */
        size_t save_at = p->at;
        sql_token save = p->tok;
        next(p);
        if (lk == L_TIMESTAMP && (is_kw(p, "with") || is_kw(p, "without"))) {
            /* TIMESTAMP WITH[OUT] TIME ZONE 'x': no column is followed by these keywords */
            if (accept_kw(p, "with"))
                lk = L_TIMESTAMPTZ;
            else
                next(p);
            if (expect_kw(p, "time") || expect_kw(p, "zone"))
                return NULL;
            return typed_literal(p, lk, pos);
        }
        if (p->tok.kind == TK_STRING)
            return typed_literal(p, lk, pos);
        p->at = save_at;
        p->tok = save;
    }
    if (accept_kw(p, "case")) {
        ast *a = node(p, A_CASE, pos);
        ast_list args = {0};
        if (!a)
            return NULL;
        ast *operand = NULL;
        if (!is_kw(p, "when") && !(operand = expr(p)))
            return NULL;
        if (list_push(p, &args, operand))
            return NULL;
        while (accept_kw(p, "when")) {
            ast *w = expr(p);
            if (!w || expect_kw(p, "then"))
                return NULL;
            ast *th = expr(p);
            if (!th || list_push(p, &args, w) || list_push(p, &args, th))
                return NULL;
            a->ival++;
        }
        if (!a->ival) {
            syntax(p, "WHEN");
            return NULL;
        }
        if (accept_kw(p, "else")) {
            ast *e = expr(p);
            if (!e || list_push(p, &args, e))
                return NULL;
            a->has_else = true;
        }
        if (expect_kw(p, "end"))
            return NULL;
        a->args = args.v;
        a->nargs = args.n;
        return seal(p, a);
    }
    if (accept_kw(p, "cast")) {
        if (expect_op(p, "("))
            return NULL;
        ast *x = expr(p);
        if (!x || expect_kw(p, "as"))
            return NULL;
        ast *a = node(p, A_CAST, pos);
        ast **args = alloc(p, sizeof *args);
        if (!a || !args || parse_type(p, &a->cast_type) || expect_op(p, ")"))
            return NULL;
        args[0] = x;
        a->args = args;
        a->nargs = 1;
        return seal(p, a);
    }
    if (is_kw(p, "current_date") || is_kw(p, "current_timestamp") || is_kw(p, "localtimestamp")) {
        ast *a = node(p, A_FUNC, pos);
        if (!a)
            return NULL;
        a->name = is_kw(p, "current_date") ? "current_date" : "now";
        next(p);
        return a;
    }
    static const char *const reserved[] = {"from", "where", "group", "order", "having", "limit", "offset", "select",
                                           "and", "or", "then", "else", "end", "when", "as", "by", "union", "on", "join", "into",
                                           "values", "is", "in", "between", "like", "ilike", "intersect",
                                           "except", "using", "natural", "cross", "inner", "left", "right", "full"};
    for (size_t i = 0; i < ARRAY_LEN(reserved); i++)
        if (is_kw(p, reserved[i])) {
            syntax(p, "an expression");
            return NULL;
        }
    char *name = ident(p, "an expression");
    if (!name)
        return NULL;
    if (accept_op(p, "("))
        return func_call(p, name, pos);
    return column_ref(p, name, pos);
}

static ast *postfix(parser *p)
{
    ast *a = primary(p);
    while (a && is_op(p, "::")) {
        int pos = p->tok.pos;
        next(p);
        ast *c = node(p, A_CAST, pos);
        ast **args = alloc(p, sizeof *args);
        if (!c || !args || parse_type(p, &c->cast_type))
            return NULL;
        args[0] = a;
        c->args = args;
        c->nargs = 1;
        a = seal(p, c);
    }
    return a;
}

static ast *unary(parser *p)
{
    ast *r;
    int pos = p->tok.pos;
    if ((is_op(p, "-") || is_op(p, "+")) && ++p->depth > MAX_DEPTH) {
        lex_error(p, p->tok.pos, "expression nested too deeply (more than %d levels)", MAX_DEPTH);
        return NULL;
    }
    if (accept_op(p, "-")) {
        ast *x = unary(p);
        if (x && x->kind == A_CONST && (x->lit == L_INT || x->lit == L_DEC || x->lit == L_FLOAT) && x->text[0] != '-') {
            char *t = alloc(p, x->text_len + 2);
            if (!t)
                return NULL;
            t[0] = '-';
            memcpy(t + 1, x->text, x->text_len);
            x->text = t;
            x->text_len++;
            x->pos = pos;
            r = x;
        } else {
            r = node(p, A_NEG, pos);
            ast **args = alloc(p, sizeof *args);
            if (!r || !args || !x)
                return NULL;
            args[0] = x;
            r->args = args;
            r->nargs = 1;
            r = seal(p, r);
        }
        p->depth--;
    } else if (accept_op(p, "+")) {
        r = unary(p);
        p->depth--;
    } else {
        r = postfix(p);
    }
    return r;
}

static const char *const MUL_OPS[] = {"*", "/", "%", NULL}, *const ADD_OPS[] = {"+", "-", NULL},
                        *const CONCAT_OPS[] = {"||", NULL}, *const AND_OPS[] = {"and", NULL},
                        *const OR_OPS[] = {"or", NULL};

static ast *mul(parser *p) { return chain(p, unary, MUL_OPS); }
static ast *add(parser *p) { return chain(p, mul, ADD_OPS); }
static ast *concat(parser *p) { return chain(p, add, CONCAT_OPS); }

/* x = ANY (ARRAY[a, b, ...]) and x <> ALL (ARRAY[...]) (SOME for ANY), as catalog queries of SQLAlchemy write
 * them: PostgreSQL's IN and NOT IN, NULLs included; also = ANY (SELECT ...) and <> ALL (SELECT ...). After the
 * operator `op` (at pos); the other quantified comparisons are refused. */
static ast *quantified(parser *p, const char *op, int pos, ast *a)
{
    bool all = is_kw(p, "all");
    int qpos = p->tok.pos;
    bool eq = !strcmp(op, "=");
    if (eq == all || (!eq && strcmp(op, "<>") && strcmp(op, "!=")))
        return lex_error(p, qpos, "%s %s (...) is not supported; use = ANY (IN) or <> ALL (NOT IN)", op,
                         all ? "ALL" : "ANY"), NULL;
    next(p);
    if (expect_op(p, "("))
        return NULL;
    ast_list args = {0};
    if (list_push(p, &args, a))
        return NULL;
    ast *n;
    if (is_kw(p, "select") || is_kw(p, "with")) {
        if (!(n = node(p, A_SUBQUERY, pos)) || !(n->sub = nested_query(p)))
            return NULL;
        n->op = "in";
        n->nargs = 1;
    } else {
        if (!accept_kw(p, "array"))
            return syntax(p, "ARRAY[...] or a subquery"), NULL;
        if (expect_op(p, "["))
            return NULL;
        if (!is_op(p, "]"))
            do {
                ast *x = expr(p);
                if (!x || list_push(p, &args, x))
                    return NULL;
            } while (accept_op(p, ","));
        if (expect_op(p, "]"))
            return NULL;
        if (args.n == 1)
            return lex_error(p, qpos, "ANY / ALL over an empty ARRAY[] is not supported"), NULL;
        if (!(n = node(p, A_IN, pos)))
            return NULL;
        n->nargs = args.n;
    }
    if (expect_op(p, ")"))
        return NULL;
    n->args = args.v;
    n->neg = all;
    return seal(p, n);
}

static ast *predicate(parser *p)
{
    ast *a = concat(p);
    if (!a)
        return NULL;
    for (;;) {
        int pos = p->tok.pos;
        static const char *cmp[] = {"=", "<>", "!=", "<", "<=", ">", ">="};
        const char *op = NULL;
        for (size_t i = 0; i < ARRAY_LEN(cmp); i++)
            if (is_op(p, cmp[i]))
                op = cmp[i];
        if (op) {
            next(p);
            if (is_kw(p, "any") || is_kw(p, "some") || is_kw(p, "all")) {
                if (!(a = quantified(p, op, pos, a)))
                    return NULL;
                continue;
            }
            a = binop(p, !strcmp(op, "!=") ? "<>" : op, pos, a, concat(p));
            if (!a)
                return NULL;
            continue;
        }
        if (accept_kw(p, "is")) {
            bool neg = accept_kw(p, "not");
            if (accept_kw(p, "null")) {
                ast *n = node(p, A_ISNULL, pos);
                ast **args = alloc(p, sizeof *args);
                if (!n || !args)
                    return NULL;
                args[0] = a;
                n->args = args;
                n->nargs = 1;
                n->neg = neg;
                if (!(a = seal(p, n)))
                    return NULL;
                continue;
            }
            if (is_kw(p, "true") || is_kw(p, "false")) {
                /* x IS TRUE -> coalesce(x = true, false) expressed as CASE */
                lex_error(p, p->tok.pos, "IS TRUE / IS FALSE are not supported yet; use x = true or coalesce(x, false)");
                return NULL;
            }
            syntax(p, "NULL after IS");
            return NULL;
        }
        bool neg = false;
        size_t save_at = p->at;
        sql_token save = p->tok;
        if (accept_kw(p, "not"))
            neg = true;
        if (accept_kw(p, "in")) {
            if (expect_op(p, "("))
                return NULL;
            ast_list args = {0};
            if (list_push(p, &args, a))
                return NULL;
            if (is_kw(p, "select") || is_kw(p, "with")) {
                ast *n = node(p, A_SUBQUERY, pos);
                if (!n || !(n->sub = nested_query(p)) || expect_op(p, ")"))
                    return NULL;
                n->op = "in";
                n->neg = neg;
                n->args = args.v;
                n->nargs = 1;
                if (!(a = seal(p, n)))
                    return NULL;
                continue;
            }
            do {
                ast *x = expr(p);
                if (!x || list_push(p, &args, x))
                    return NULL;
            } while (accept_op(p, ","));
            if (expect_op(p, ")"))
                return NULL;
            ast *n = node(p, A_IN, pos);
            if (!n)
                return NULL;
            n->args = args.v;
            n->nargs = args.n;
            n->neg = neg;
            if (!(a = seal(p, n)))
                return NULL;
            continue;
        }
        if (accept_kw(p, "between")) {
            accept_kw(p, "symmetric") ? (void)lex_error(p, pos, "BETWEEN SYMMETRIC is not supported") : (void)0;
            ast *lo = concat(p);
            if (!lo || expect_kw(p, "and"))
                return NULL;
            ast *hi = concat(p);
            ast *n = node(p, A_BETWEEN, pos);
            ast **args = alloc(p, 3 * sizeof *args);
            if (!hi || !n || !args)
                return NULL;
            args[0] = a;
            args[1] = lo;
            args[2] = hi;
            n->args = args;
            n->nargs = 3;
            n->neg = neg;
            if (!(a = seal(p, n)))
                return NULL;
            continue;
        }
        if (is_kw(p, "like") || is_kw(p, "ilike")) {
            bool ilike = is_kw(p, "ilike");
            next(p);
            ast *pat = concat(p);
            if (is_kw(p, "escape")) {
                lex_error(p, p->tok.pos, "LIKE ... ESCAPE is not supported; the escape character is \\");
                return NULL;
            }
            ast *n = node(p, A_LIKE, pos);
            ast **args = alloc(p, 2 * sizeof *args);
            if (!pat || !n || !args)
                return NULL;
            args[0] = a;
            args[1] = pat;
            n->args = args;
            n->nargs = 2;
            n->neg = neg;
            n->ilike = ilike;
            if (!(a = seal(p, n)))
                return NULL;
            continue;
        }
        if (neg) {
            p->at = save_at;
            p->tok = save;
        }
        break;
    }
    return a;
}

static ast *not_expr(parser *p)
{
    int pos = p->tok.pos;
    if (accept_kw(p, "not")) {
        if (++p->depth > MAX_DEPTH) {
            lex_error(p, pos, "expression nested too deeply (more than %d levels)", MAX_DEPTH);
            return NULL;
        }
        ast *x = not_expr(p);
        p->depth--;
        ast *n = node(p, A_NOT, pos);
        ast **args = alloc(p, sizeof *args);
        if (!x || !n || !args)
            return NULL;
        args[0] = x;
        n->args = args;
        n->nargs = 1;
        return seal(p, n);
    }
    return predicate(p);
}

static ast *and_expr(parser *p) { return chain(p, not_expr, AND_OPS); }

static ast *expr(parser *p)
{
    if (++p->depth > MAX_DEPTH) {
        lex_error(p, p->tok.pos, "expression nested too deeply (more than %d levels)", MAX_DEPTH);
        return NULL;
    }
    ast *a = chain(p, and_expr, OR_OPS);
    p->depth--;
    return a;
}

/* ---- statements ---- */
static const char *const RESERVED_AFTER_ITEM[] = {"from", "where", "group", "having", "order", "limit",
                                                  "offset", "union", "into", "intersect", "except", "window"};

/* A table name, optionally qualified by the one schema factdb has: t, public.t, "public"."t". */
static char *table_name(parser *p, const char *what)
{
    int pos = p->tok.pos;
    char *name = ident(p, what);
    if (!name || !is_op(p, "."))
        return name;
    next(p);
    char *rel = ident(p, what);
    if (!rel)
        return NULL;
    if (strcmp(name, "public")) {
        lex_error(p, pos, "relation \"%s.%s\" does not exist: factdb has one schema, \"public\"", name, rel);
        return NULL;
    }
    return rel;
}

/* A table name in FROM: also information_schema.x and pg_catalog.x, the system views the planner provides
 * (returned as "information_schema.x"). */
static char *from_table_name(parser *p)
{
    const char *what = "a table name or (SELECT ...)";
    size_t save_at = p->at;
    sql_token save = p->tok;
    char *name = ident(p, what);
    if (!name || !is_op(p, ".") || (strcmp(name, "information_schema") && strcmp(name, "pg_catalog"))) {
        p->at = save_at;
        p->tok = save;
        p->rc = 0;
        return table_name(p, what);
    }
    next(p);
    char *rel = ident(p, what);
    if (!rel)
        return NULL;
    size_t n = strlen(name) + 1 + strlen(rel);
    char *full = alloc(p, n + 1);
    if (!full)
        return NULL;
    snprintf(full, n + 1, "%s.%s", name, rel);
    return full;
}

/* An optional table alias after a table name: [AS] alias. As in PostgreSQL an unquoted alias cannot be a
 * reserved word (its reserved and type/function-name keywords), with or without AS: `DELETE FROM t AS
 * WHERE` is a syntax error, not a DELETE of every row under the alias "where". */
static char *table_alias(parser *p)
{
    static const char *const reserved[] = {
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case", "cast",
        "check", "collate", "column", "constraint", "create", "current_catalog", "current_date", "current_role",
        "current_time", "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do",
        "else", "end", "except", "false", "fetch", "for", "foreign", "from", "grant", "group", "having", "in",
        "initially", "intersect", "into", "lateral", "leading", "limit", "localtime", "localtimestamp", "not",
        "null", "offset", "on", "only", "or", "order", "placing", "primary", "references", "returning", "select",
        "session_user", "some", "symmetric", "table", "then", "to", "trailing", "true", "union", "unique", "user",
        "using", "variadic", "when", "where", "window", "with", "authorization", "binary", "collation",
        "concurrently", "cross", "current_schema", "freeze", "full", "ilike", "inner", "is", "isnull", "join",
        "left", "like", "natural", "notnull", "outer", "overlaps", "right", "similar", "tablesample", "verbose"};
    bool as = accept_kw(p, "as");
    if (p->tok.kind == TK_QIDENT)
        return ident(p, "a table alias");
    if (p->tok.kind != TK_IDENT) {
        if (as)
            syntax(p, "a table alias");
        return NULL;
    }
    for (size_t i = 0; i < ARRAY_LEN(reserved); i++)
        if (is_kw(p, reserved[i])) {
            if (as)
                syntax(p, "a table alias (a reserved word must be quoted)");
            return NULL;
        }
    return ident(p, "a table alias");
}

static sql_select *query_expr(parser *p);
static int from_clause(parser *p, sql_select *s);

/* SELECT [DISTINCT] items [FROM ...] [WHERE] [GROUP BY] [HAVING], the SELECT keyword already read. */
static sql_select *select_body(parser *p)
{
    sql_select *s = alloc(p, sizeof *s);
    if (!s)
        return NULL;
    s->pos = p->tok.pos;
    if (accept_kw(p, "distinct"))
        s->distinct = true;
    else
        accept_kw(p, "all");
    ast_list items = {0};
    int cap = 0;
    char **aliases = NULL;
    do {
        ast *x = expr(p);
        if (!x || list_push(p, &items, x))
            return NULL;
        if (items.cap != cap) {
            char **na = alloc(p, (size_t)items.cap * sizeof *na);
            if (!na)
                return NULL;
            if (aliases)
                memcpy(na, aliases, (size_t)(items.n - 1) * sizeof *na);
            aliases = na;
            cap = items.cap;
        }
        char *alias = NULL;
        if (accept_kw(p, "as")) {
            if (!(alias = ident(p, "an alias")))
                return NULL;
        } else if (p->tok.kind == TK_QIDENT || p->tok.kind == TK_IDENT) {
            bool reserved = false;
            for (size_t i = 0; i < ARRAY_LEN(RESERVED_AFTER_ITEM); i++)
                reserved |= is_kw(p, RESERVED_AFTER_ITEM[i]);
            if (!reserved && !(alias = ident(p, "an alias")))
                return NULL;
        }
        aliases[items.n - 1] = alias;
    } while (accept_op(p, ","));
    s->items = items.v;
    s->aliases = aliases;
    s->nitems = items.n;
    if (accept_kw(p, "from") && from_clause(p, s))
        return NULL;
    if (accept_kw(p, "where") && !(s->where = expr(p)))
        return NULL;
    if (accept_kw(p, "group")) {
        if (expect_kw(p, "by"))
            return NULL;
        ast_list g = {0};
        do {
            ast *x = expr(p);
            if (!x || list_push(p, &g, x))
                return NULL;
        } while (accept_op(p, ","));
        s->group = g.v;
        s->ngroup = g.n;
    }
    if (accept_kw(p, "having") && !(s->having = expr(p)))
        return NULL;
    if (accept_kw(p, "window")) {  /* WINDOW name AS (spec), ... */
        int wcap = 0;
        do {
            if (s->nwindows == wcap) {
                wcap = wcap ? wcap * 2 : 4;
                sql_named_window *v = alloc(p, (size_t)wcap * sizeof *v);
                if (!v)
                    return NULL;
                if (s->nwindows)
                    memcpy(v, s->windows, (size_t)s->nwindows * sizeof *v);
                s->windows = v;
            }
            sql_named_window *nw = &s->windows[s->nwindows++];
            nw->pos = p->tok.pos;
            if (!(nw->name = ident(p, "a window name")) || expect_kw(p, "as"))
                return NULL;
            if (!is_op(p, "(")) {
                syntax(p, "( after AS");
                return NULL;
            }
            if (!(nw->spec = window_spec(p)))
                return NULL;
        } while (accept_op(p, ","));
    }
    return s;
}

/* e [ASC|DESC] [NULLS FIRST|LAST], ... (ORDER BY of a query or of a window). */
static int order_items(parser *p, sql_order_item **out, int *nout)
{
    /* grown in the arena by doubling (not a stack array: window specs nest inside expressions) */
    sql_order_item *v = NULL;
    int n = 0, cap = 0;
    do {
        ast *x = expr(p);
        if (!x)
            return p->rc;
        if (n == 1024) {
            lex_error(p, x->pos, "too many ORDER BY items (at most 1024)");
            return p->rc;
        }
        if (n == cap) {
            int ncap = cap ? cap * 2 : 4;
            sql_order_item *nv = alloc(p, (size_t)ncap * sizeof *nv);
            if (!nv)
                return p->rc;
            if (n)
                memcpy(nv, v, (size_t)n * sizeof *nv);
            v = nv;
            cap = ncap;
        }
        sql_order_item *it = &v[n++];
        memset(it, 0, sizeof *it);
        it->expr = x;
        if (accept_kw(p, "desc"))
            it->desc = true;
        else
            accept_kw(p, "asc");
        if (accept_kw(p, "nulls")) {
            if (accept_kw(p, "first"))
                it->nulls = 1;
            else if (accept_kw(p, "last"))
                it->nulls = 2;
            else {
                syntax(p, "FIRST or LAST");
                return p->rc;
            }
        }
    } while (accept_op(p, ","));
    *out = v;
    *nout = n;
    return 0;
}

/* [ORDER BY ...] [LIMIT n] [OFFSET n] of a query expression. */
static int order_limit(parser *p, sql_select *s)
{
    if (accept_kw(p, "order")) {
        if (expect_kw(p, "by") || order_items(p, &s->order, &s->norder))
            return p->rc;
    }
    for (int round = 0; round < 2; round++) {
        if (!s->limit && accept_kw(p, "limit")) {
            if (accept_kw(p, "all"))
                continue;
            if (!(s->limit = expr(p)))
                return p->rc;
        }
        if (!s->offset && accept_kw(p, "offset")) {
            if (!(s->offset = expr(p)))
                return p->rc;
            if (!accept_kw(p, "rows"))
                accept_kw(p, "row");
        }
    }
    return 0;
}

/* (a, b, ...): a list of column names (column aliases, USING, a CTE's columns). */
static int name_list(parser *p, const char *what, char ***names, int **pos, int *n)
{
    if (expect_op(p, "("))
        return p->rc;
    char *tmp[FACTDB_MAX_COLUMNS];
    int tpos[FACTDB_MAX_COLUMNS];
    int k = 0;
    do {
        if (k == FACTDB_MAX_COLUMNS)
            return lex_error(p, p->tok.pos, "too many names in a list (at most %d)", FACTDB_MAX_COLUMNS);
        tpos[k] = p->tok.pos;
        if (!(tmp[k++] = ident(p, what)))
            return p->rc;
    } while (accept_op(p, ","));
    if (expect_op(p, ")"))
        return p->rc;
    *names = alloc(p, (size_t)k * sizeof **names);
    if (pos)
        *pos = alloc(p, (size_t)k * sizeof **pos);
    if (!*names || (pos && !*pos))
        return p->rc;
    memcpy(*names, tmp, (size_t)k * sizeof *tmp);
    if (pos)
        memcpy(*pos, tpos, (size_t)k * sizeof *tpos);
    *n = k;
    return 0;
}

/* A subquery's nesting counts against the same depth limit as expressions. */
static sql_select *nested_query(parser *p)
{
    if (++p->depth > MAX_DEPTH) {
        lex_error(p, p->tok.pos, "query nested too deeply (more than %d levels)", MAX_DEPTH);
        return NULL;
    }
    sql_select *s = query_expr(p);
    p->depth--;
    return s;
}

static sql_from *from_item(parser *p);

/* table [AS alias [(cols)]] | (query) [AS alias [(cols)]] | (from_item) */
static sql_from *from_primary(parser *p)
{
    sql_from *f = alloc(p, sizeof *f);
    if (!f)
        return NULL;
    f->pos = p->tok.pos;
    if (++p->from_items > SQL_MAX_FROM) {
        lex_error(p, f->pos, "too many tables in one FROM clause (at most %d, joins and subqueries included)",
                  SQL_MAX_FROM);
        return NULL;
    }
    if (accept_op(p, "(")) {
        if (is_kw(p, "select") || is_kw(p, "with") || is_kw(p, "values")) {
            f->kind = F_SUBQUERY;
            if (!(f->sub = nested_query(p)) || expect_op(p, ")"))
                return NULL;
        } else {
            if (++p->depth > MAX_DEPTH) {
                lex_error(p, f->pos, "FROM clause nested too deeply (more than %d levels)", MAX_DEPTH);
                return NULL;
            }
            sql_from *inner = from_item(p);
            p->depth--;
            if (!inner || expect_op(p, ")"))
                return NULL;
            return inner;
        }
    } else {
        f->kind = F_TABLE;
        if (!(f->table = from_table_name(p)))
            return NULL;
    }
    f->alias = table_alias(p);
    if (p->rc)
        return NULL;
    if (f->alias && is_op(p, "(") && name_list(p, "a column alias", &f->colnames, NULL, &f->ncolnames))
        return NULL;
    return f;
}

/* from_primary { [NATURAL] [INNER | LEFT [OUTER] | RIGHT [OUTER] | FULL [OUTER] | CROSS] JOIN from_primary
 * [ON cond | USING (cols)] } */
static sql_from *from_item(parser *p)
{
    sql_from *l = from_primary(p);
    while (l) {
        int pos = p->tok.pos;
        bool natural = accept_kw(p, "natural");
        join_kind k;
        if (accept_kw(p, "cross"))
            k = J_CROSS;
        else if (accept_kw(p, "inner"))
            k = J_INNER;
        else if (accept_kw(p, "left"))
            k = J_LEFT;
        else if (accept_kw(p, "right"))
            k = J_RIGHT;
        else if (accept_kw(p, "full"))
            k = J_FULL;
        else if (is_kw(p, "join"))
            k = J_INNER;
        else if (natural)
            return syntax(p, "JOIN after NATURAL"), NULL;
        else
            break;
        if (k == J_LEFT || k == J_RIGHT || k == J_FULL)
            accept_kw(p, "outer");
        if (expect_kw(p, "join"))
            return NULL;
        if (natural && k == J_CROSS)
            return syntax(p, "JOIN after NATURAL (NATURAL CROSS JOIN does not exist)"), NULL;
        sql_from *r = from_primary(p);
        sql_from *j = alloc(p, sizeof *j);
        if (!r || !j)
            return NULL;
        j->kind = F_JOIN;
        j->pos = pos;
        j->join = k;
        j->natural = natural;
        j->left = l;
        j->right = r;
        if (k != J_CROSS && !natural) {
            if (accept_kw(p, "on")) {
                if (!(j->on = expr(p)))
                    return NULL;
            } else if (accept_kw(p, "using")) {
                if (name_list(p, "a column name", &j->using, &j->using_pos, &j->nusing))
                    return NULL;
            } else {
                return syntax(p, "ON or USING after the joined table"), NULL;
            }
        }
        l = j;
    }
    return l;
}

/* FROM item {, item}: a single plain table keeps the one-table form (table, alias); anything else is a
 * tree in s->from, commas read as CROSS JOINs. */
static int from_clause(parser *p, sql_select *s)
{
    s->table_pos = p->tok.pos;
    int outer_items = p->from_items;  /* a derived table's FROM clause counts on its own */
    p->from_items = 0;
    sql_from *f = from_item(p);
    while (f && is_op(p, ",")) {
        int pos = p->tok.pos;
        next(p);
        sql_from *r = from_item(p);
        sql_from *j = alloc(p, sizeof *j);
        if (!r || !j)
            return p->rc;
        *j = (sql_from){.kind = F_JOIN, .pos = pos, .join = J_CROSS, .left = f, .right = r};
        f = j;
    }
    p->from_items = outer_items;
    if (!f)
        return p->rc;
    if (f->kind == F_TABLE && !f->ncolnames) {
        s->table = f->table;
        s->alias = f->alias;
    } else {
        s->from = f;
    }
    return 0;
}

/* A SELECT, a parenthesized query expression, or VALUES is not supported: the operand of a set operation. */
static sql_select *set_operand(parser *p)
{
    int pos = p->tok.pos;
    if (accept_op(p, "(")) {
        sql_select *s = nested_query(p);
        if (!s || expect_op(p, ")"))
            return NULL;
        return s;
    }
    if (accept_kw(p, "select"))
        return select_body(p);
    if (is_kw(p, "values"))
        return lex_error(p, pos, "VALUES as a query is not supported; use SELECT ... UNION ALL SELECT ..."), NULL;
    return syntax(p, "SELECT or ( query )"), NULL;
}

static sql_select *set_node(parser *p, set_kind k, bool all, int pos, sql_select *l, sql_select *r)
{
    sql_select *s = alloc(p, sizeof *s);
    if (!s)
        return NULL;
    s->setop = k;
    s->set_all = all;
    s->set_pos = s->pos = pos;
    s->larg = l;
    s->rarg = r;
    return s;
}

/* INTERSECT binds tighter than UNION and EXCEPT (PostgreSQL, the standard). */
static sql_select *set_term(parser *p)
{
    sql_select *l = set_operand(p);
    while (l && is_kw(p, "intersect")) {
        int pos = p->tok.pos;
        next(p);
        bool all = accept_kw(p, "all");
        if (!all)
            accept_kw(p, "distinct");
        sql_select *r = set_operand(p);
        if (!r)
            return NULL;
        l = set_node(p, SET_INTERSECT, all, pos, l, r);
    }
    return l;
}

/* A nested query operand that carries ORDER BY or LIMIT cannot take another one: it becomes the FROM of
 * a SELECT * around it. */
static sql_select *wrap_query(parser *p, sql_select *in)
{
    sql_select *s = alloc(p, sizeof *s);
    sql_from *f = alloc(p, sizeof *f);
    ast *star = node(p, A_STAR, in->pos);
    ast **items = alloc(p, sizeof *items);
    char **aliases = alloc(p, sizeof *aliases);
    if (!s || !f || !star || !items || !aliases)
        return NULL;
    *f = (sql_from){.kind = F_SUBQUERY, .pos = in->pos, .sub = in};
    items[0] = star;
    s->pos = in->pos;
    s->items = items;
    s->aliases = aliases;
    s->nitems = 1;
    s->from = f;
    return s;
}

/* [WITH name [(cols)] AS (query), ...] set_term {UNION|EXCEPT [ALL|DISTINCT] set_term} [ORDER BY] [LIMIT]
 * [OFFSET] */
static sql_select *query_expr(parser *p)
{
    sql_cte *ctes = NULL;
    int nctes = 0;
    if (accept_kw(p, "with")) {
        if (is_kw(p, "recursive"))
            return lex_error(p, p->tok.pos, "WITH RECURSIVE is not supported"), NULL;
        sql_cte tmp[64];
        do {
            if (nctes == (int)ARRAY_LEN(tmp))
                return lex_error(p, p->tok.pos, "too many WITH queries (at most %zu)", ARRAY_LEN(tmp)), NULL;
            sql_cte *c = &tmp[nctes++];
            memset(c, 0, sizeof *c);
            c->pos = p->tok.pos;
            if (!(c->name = ident(p, "a WITH query name")))
                return NULL;
            if (is_op(p, "(") && name_list(p, "a column name", &c->colnames, NULL, &c->ncolnames))
                return NULL;
            if (expect_kw(p, "as"))
                return NULL;
            if (is_kw(p, "materialized") || is_kw(p, "not")) {
                accept_kw(p, "not");
                if (expect_kw(p, "materialized"))
                    return NULL;
            }
            if (expect_op(p, "(") || !(c->sel = nested_query(p)) || expect_op(p, ")"))
                return NULL;
        } while (accept_op(p, ","));
        if (!(ctes = alloc(p, (size_t)nctes * sizeof *ctes)))
            return NULL;
        memcpy(ctes, tmp, (size_t)nctes * sizeof *ctes);
    }
    sql_select *l = set_term(p);
    while (l && (is_kw(p, "union") || is_kw(p, "except"))) {
        set_kind k = is_kw(p, "union") ? SET_UNION : SET_EXCEPT;
        int pos = p->tok.pos;
        next(p);
        bool all = accept_kw(p, "all");
        if (!all)
            accept_kw(p, "distinct");
        sql_select *r = set_term(p);
        if (!r)
            return NULL;
        l = set_node(p, k, all, pos, l, r);
    }
    if (!l)
        return NULL;
    if (is_kw(p, "order") || is_kw(p, "limit") || is_kw(p, "offset")) {
        if ((l->norder || l->limit || l->offset || l->ctes) && !(l = wrap_query(p, l)))
            return NULL;
        if (order_limit(p, l))
            return NULL;
    }
    if (nctes) {
        if (l->ctes && !(l = wrap_query(p, l)))
            return NULL;
        l->ctes = ctes;
        l->nctes = nctes;
    }
    return l;
}

/* A query where a statement expects one: SELECT ..., WITH ..., ( query ). */
static bool query_start(parser *p) { return is_kw(p, "select") || is_kw(p, "with") || is_op(p, "("); }

static int copy_options(parser *p, sql_copy_opts *o)
{
    o->delimiter = ',';
    if (!accept_kw(p, "with"))
        return 0;
    if (expect_op(p, "("))
        return p->rc;
    do {
        int pos = p->tok.pos;
        char *name = ident(p, "a COPY option (FORMAT, HEADER, DELIMITER, ENCODING)");
        if (!name)
            return p->rc;
        if (!strcmp(name, "format")) {
            if (!(o->format = ident(p, "csv")))
                return p->rc;
            if (strcmp(o->format, "csv"))
                return lex_error(p, pos, "COPY FORMAT %s is not supported; use FORMAT csv", o->format);
        } else if (!strcmp(name, "header")) {
            o->header = true;
            o->header_set = true;
            if (is_kw(p, "true") || is_kw(p, "on")) {
                next(p);
            } else if (is_kw(p, "false") || is_kw(p, "off")) {
                o->header = false;
                next(p);
            }
        } else if (!strcmp(name, "delimiter")) {
            if (p->tok.kind != TK_STRING)
                return syntax(p, "a quoted delimiter character");
            size_t l;
            char *d = string_lit(p, &l);
            if (!d)
                return p->rc;
            if (l != 1)
                return lex_error(p, pos, "DELIMITER must be a single one-byte character");
            o->delimiter = d[0];
        } else if (!strcmp(name, "encoding")) {
            if (p->tok.kind != TK_STRING)
                return syntax(p, "a quoted encoding name");
            size_t l;
            if (!(o->encoding = string_lit(p, &l)))
                return p->rc;
        } else {
            return lex_error(p, pos, "unknown COPY option \"%s\"; factdb knows FORMAT, HEADER, DELIMITER, ENCODING",
                             name);
        }
    } while (accept_op(p, ","));
    return expect_op(p, ")");
}

/* A table constraint after [CONSTRAINT name]: PRIMARY KEY (cols) or UNIQUE (cols). */
static int table_constraint(parser *p, char *name, sql_constraint *c)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->pos = p->tok.pos;
    if (accept_kw(p, "primary")) {
        if (expect_kw(p, "key"))
            return p->rc;
        c->primary = true;
    } else if (!accept_kw(p, "unique")) {
        if (is_kw(p, "check") || is_kw(p, "foreign") || is_kw(p, "exclude"))
            return lex_error(p, p->tok.pos, "%.*s constraints are not supported; factdb supports PRIMARY KEY, "
                             "UNIQUE and NOT NULL", (int)p->tok.len, p->tok.s);
        return syntax(p, "PRIMARY KEY or UNIQUE");
    }
    return name_list(p, "a column name", &c->cols, &c->col_pos, &c->ncols);
}

static int column_defs(parser *p, sql_stmt *st, bool single)
{
    sql_coldef tmp[FACTDB_MAX_COLUMNS];
    sql_constraint cons[16];
    int n = 0, nc = 0;
    do {
        if (!single && (is_kw(p, "constraint") || is_kw(p, "primary") || is_kw(p, "unique") ||
                        is_kw(p, "foreign") || is_kw(p, "check") || is_kw(p, "exclude"))) {
            if (nc == (int)ARRAY_LEN(cons))
                return lex_error(p, p->tok.pos, "too many table constraints (at most %d)", (int)ARRAY_LEN(cons));
            char *cname = NULL;
            if (accept_kw(p, "constraint") && !(cname = ident(p, "a constraint name")))
                return p->rc;
            if (table_constraint(p, cname, &cons[nc++]))
                return p->rc;
            continue;
        }
        if (n == FACTDB_MAX_COLUMNS)
            return lex_error(p, p->tok.pos, "too many columns (at most %d)", FACTDB_MAX_COLUMNS);
        sql_coldef *d = &tmp[n];
        memset(d, 0, sizeof *d);
        d->pos = p->tok.pos;
        if (!(d->name = ident(p, "a column name")) || parse_type(p, &d->type))
            return p->rc;
        for (;;) {
            char *cname = NULL;
            int cpos = p->tok.pos;
            if (accept_kw(p, "constraint") && !(cname = ident(p, "a constraint name")))
                return p->rc;
            if (accept_kw(p, "not")) {
                if (expect_kw(p, "null"))
                    return p->rc;
                d->not_null = true;
            } else if (accept_kw(p, "null")) {
                d->not_null = false;
            } else if (!single && (is_kw(p, "primary") || is_kw(p, "unique"))) {
                bool primary = is_kw(p, "primary");
                d->cpos = p->tok.pos;
                next(p);
                if (primary && expect_kw(p, "key"))
                    return p->rc;
                if ((primary && d->primary) || (!primary && d->unique))
                    return lex_error(p, d->cpos, "%s is given twice for column \"%s\"",
                                     primary ? "PRIMARY KEY" : "UNIQUE", d->name);
                if (d->primary || d->unique)
                    return lex_error(p, d->cpos, "column \"%s\" has both PRIMARY KEY and UNIQUE; a primary key is "
                                     "unique already", d->name);
                d->primary = primary;
                d->unique = !primary;
                d->cname = cname;
                if (primary)
                    d->not_null = true;
            } else if (is_kw(p, "primary") || is_kw(p, "unique") || is_kw(p, "default") || is_kw(p, "references") ||
                       is_kw(p, "check")) {
                return lex_error(p, p->tok.pos, "column constraint %.*s is not supported%s", (int)p->tok.len,
                                 p->tok.s, single ? " in ALTER TABLE ADD COLUMN; factdb supports NOT NULL there"
                                                  : "; factdb supports NOT NULL, PRIMARY KEY and UNIQUE");
            } else if (cname) {
                return lex_error(p, cpos, "CONSTRAINT %s must be followed by NOT NULL, NULL, PRIMARY KEY or UNIQUE",
                                 cname);
            } else {
                break;
            }
        }
        n++;
    } while (!single && accept_op(p, ","));
    if (!n)
        return lex_error(p, st->table_pos, "a table needs at least one column");
    st->defs = alloc(p, (size_t)n * sizeof *st->defs);
    st->cons = alloc(p, (size_t)(nc ? nc : 1) * sizeof *st->cons);
    if (!st->defs || !st->cons)
        return p->rc;
    memcpy(st->defs, tmp, (size_t)n * sizeof *tmp);
    memcpy(st->cons, cons, (size_t)nc * sizeof *cons);
    st->ndefs = n;
    st->ncons = nc;
    return 0;
}

static int set_list(parser *p, sql_stmt *st);

/* [RETURNING expr [[AS] name], ... | *] at the end of INSERT, UPDATE and DELETE: a select list and nothing
 * else (select_body would go on to FROM, WHERE, ...). */
static int returning(parser *p, sql_stmt *st)
{
    if (p->rc || !is_kw(p, "returning"))
        return p->rc;
    int pos = p->tok.pos;
    next(p);
    if (is_kw(p, "distinct") || is_kw(p, "all"))
        return syntax(p, "an expression after RETURNING");
    sql_select *s = select_body(p);
    if (!s)
        return p->rc;
    if (s->table || s->from || s->where || s->ngroup || s->having || s->norder || s->limit || s->offset ||
        s->nwindows)
        return lex_error(p, pos, "RETURNING takes a list of expressions, not a query; run a SELECT after the "
                         "statement for more");
    s->pos = pos;
    st->returning = s;
    return 0;
}

/* UPDATE t [[AS] alias] SET col = expr [, ...] [FROM items] [WHERE cond]. As in PostgreSQL, a bare SET after the table
 * name is the keyword, never an alias. */
static int update_stmt(parser *p, sql_stmt *st)
{
    st->kind = S_UPDATE;
    st->table_pos = p->tok.pos;
    if (!(st->table = table_name(p, "a table name")))
        return p->rc;
    if (!is_kw(p, "set") && !(st->alias = table_alias(p)) && p->rc)
        return p->rc;
    if (expect_kw(p, "set") || set_list(p, st))
        return p->rc;
    if (accept_kw(p, "from")) {
        /* UPDATE ... FROM items: kept as the FROM clause of st->select (the planner joins the target to it) */
        if (!(st->select = alloc(p, sizeof *st->select)) || from_clause(p, st->select))
            return p->rc;
    }
    if (accept_kw(p, "where"))
        st->where = expr(p);
    return returning(p, st);
}

/* SET col = expr [, ...] of UPDATE and of ON CONFLICT DO UPDATE (after the SET keyword). */
static int set_list(parser *p, sql_stmt *st)
{
    ast_list vals = {0};
    char *names[FACTDB_MAX_COLUMNS];
    int pos[FACTDB_MAX_COLUMNS];
    do {
        if (vals.n == FACTDB_MAX_COLUMNS)
            return lex_error(p, p->tok.pos, "too many assignments (at most %d)", FACTDB_MAX_COLUMNS);
        if (is_op(p, "("))
            return lex_error(p, p->tok.pos, "SET (a, b) = (...) is not supported; write SET a = ..., b = ...");
        pos[vals.n] = p->tok.pos;
        if (!(names[vals.n] = ident(p, "a column name")))
            return p->rc;
        if (is_op(p, "."))
            return lex_error(p, p->tok.pos, "SET takes a bare column name: write SET %s = ..., without a table or "
                             "alias in front (PostgreSQL reads a dotted name there as a field of a composite "
                             "column)", names[vals.n]);
        if (expect_op(p, "="))
            return p->rc;
        if (is_kw(p, "default"))
            return lex_error(p, p->tok.pos, "SET col = DEFAULT is not supported: factdb columns have no defaults; "
                             "write NULL or a value");
        ast *x = expr(p);
        if (!x || list_push(p, &vals, x))
            return p->rc;
    } while (accept_op(p, ","));
    st->set_cols = alloc(p, (size_t)vals.n * sizeof *st->set_cols);
    st->set_pos = alloc(p, (size_t)vals.n * sizeof *st->set_pos);
    if (!st->set_cols || !st->set_pos)
        return p->rc;
    memcpy(st->set_cols, names, (size_t)vals.n * sizeof *names);
    memcpy(st->set_pos, pos, (size_t)vals.n * sizeof *pos);
    st->set_vals = vals.v;
    st->nset = vals.n;
    return 0;
}

/* INSERT's ON CONFLICT [(cols)] DO NOTHING | DO UPDATE SET ... [WHERE cond], after ON. */
static int on_conflict(parser *p, sql_stmt *st)
{
    st->conflict_pos = p->tok.pos;
    if (expect_kw(p, "conflict"))
        return p->rc;
    if (is_kw(p, "on"))
        return lex_error(p, p->tok.pos, "ON CONFLICT ON CONSTRAINT is not supported; name the columns: ON "
                         "CONFLICT (a, b)");
    if (is_op(p, "(") && name_list(p, "a column name", &st->conflict_cols, &st->conflict_col_pos, &st->nconflict_cols))
        return p->rc;
    if (is_kw(p, "where"))
        return lex_error(p, p->tok.pos, "ON CONFLICT (...) WHERE (a partial index predicate) is not supported");
    if (expect_kw(p, "do"))
        return p->rc;
    if (accept_kw(p, "nothing")) {
        st->on_conflict = 1;
        return 0;
    }
    if (!is_kw(p, "update"))
        return syntax(p, "NOTHING or UPDATE");
    next(p);
    st->on_conflict = 2;
    if (expect_kw(p, "set") || set_list(p, st))
        return p->rc;
    if (accept_kw(p, "where"))
        st->conflict_where = expr(p);
    return p->rc;
}

static int statement(parser *p, sql_stmt *st)
{
    st->pos = p->tok.pos;
    if (query_start(p)) {
        st->kind = S_SELECT;
        st->select = query_expr(p);
        return p->rc;
    }
    if (accept_kw(p, "explain")) {
        st->kind = S_EXPLAIN;
        st->analyze = accept_kw(p, "analyze") || accept_kw(p, "analyse");
        if (!query_start(p))
            return syntax(p, "SELECT, WITH or ( after EXPLAIN");
        st->select = query_expr(p);
        return p->rc;
    }
    if (accept_kw(p, "insert")) {
        st->kind = S_INSERT;
        if (expect_kw(p, "into"))
            return p->rc;
        st->table_pos = p->tok.pos;
        if (!(st->table = table_name(p, "a table name")))
            return p->rc;
        if (accept_op(p, "(")) {
            char *names[FACTDB_MAX_COLUMNS];
            int pos[FACTDB_MAX_COLUMNS], n = 0;
            do {
                if (n == FACTDB_MAX_COLUMNS)
                    return lex_error(p, p->tok.pos, "too many columns");
                pos[n] = p->tok.pos;
                if (!(names[n++] = ident(p, "a column name")))
                    return p->rc;
            } while (accept_op(p, ","));
            if (expect_op(p, ")"))
                return p->rc;
            st->cols = alloc(p, (size_t)n * sizeof *st->cols);
            st->col_pos = alloc(p, (size_t)n * sizeof *st->col_pos);
            if (!st->cols || !st->col_pos)
                return p->rc;
            memcpy(st->cols, names, (size_t)n * sizeof *names);
            memcpy(st->col_pos, pos, (size_t)n * sizeof *pos);
            st->ncols = n;
        }
        if (query_start(p)) {
            st->select = query_expr(p);
            if (!p->rc && accept_kw(p, "on") && on_conflict(p, st))
                return p->rc;
            return returning(p, st);
        }
        if (expect_kw(p, "values"))
            return p->rc;
        ast_list rows = {0};
        do {
            int rpos = p->tok.pos;
            if (expect_op(p, "("))
                return p->rc;
            ast_list vals = {0};
            do {
                ast *x = expr(p);
                if (!x || list_push(p, &vals, x))
                    return p->rc;
            } while (accept_op(p, ","));
            if (expect_op(p, ")"))
                return p->rc;
            if (rows.n && vals.n != st->row_width)
                return lex_error(p, rpos, "VALUES lists must all be the same length (row %d has %d values, the first "
                                          "has %d)", rows.n + 1, vals.n, st->row_width);
            st->row_width = vals.n;
            if (list_push(p, &rows, (ast *)vals.v))
                return p->rc;
        } while (accept_op(p, ","));
        st->rows = (ast ***)rows.v;
        st->nrows = rows.n;
        if (accept_kw(p, "on") && on_conflict(p, st))
            return p->rc;
        return returning(p, st);
    }
    if (accept_kw(p, "create")) {
        st->kind = S_CREATE;
        bool or_replace = false;
        if (accept_kw(p, "or")) {
            if (expect_kw(p, "replace"))
                return p->rc;
            or_replace = true;
        }
        if (or_replace || is_kw(p, "view")) {
            /* CREATE [OR REPLACE] VIEW v [(cols)] AS query */
            if (expect_kw(p, "view"))
                return p->rc;
            st->kind = S_CREATE_VIEW;
            st->or_replace = or_replace;
            st->table_pos = p->tok.pos;
            if (!(st->table = table_name(p, "a view name")))
                return p->rc;
            if (is_op(p, "(") && name_list(p, "a column name", &st->cols, &st->col_pos, &st->ncols))
                return p->rc;
            if (expect_kw(p, "as"))
                return p->rc;
            if (!query_start(p))
                return syntax(p, "a query (SELECT, WITH or ( ) after AS");
            size_t start = (size_t)p->tok.pos - 1;
            if (!(st->select = query_expr(p)))
                return p->rc;
            size_t end = p->tok.kind == TK_EOF ? p->len : (size_t)p->tok.pos - 1;
            while (end > start && (p->text[end - 1] == ' ' || p->text[end - 1] == '\n' || p->text[end - 1] == '\t' ||
                                   p->text[end - 1] == '\r'))
                end--;
            st->view_len = end - start;
            st->view_sql = sql_arena_strndup(p->arena, p->text + start, st->view_len);
            return st->view_sql ? 0 : lex_error(p, st->pos, "out of memory");
        }
        if (expect_kw(p, "table"))
            return p->rc;
        if (accept_kw(p, "if")) {
            if (expect_kw(p, "not") || expect_kw(p, "exists"))
                return p->rc;
            st->if_not_exists = true;
        }
        st->table_pos = p->tok.pos;
        if (!(st->table = table_name(p, "a table name")))
            return p->rc;
        /* CREATE TABLE t [(names)] AS query: a list of bare names followed by AS */
        size_t save_at = p->at;
        sql_token save = p->tok;
        if (is_op(p, "(") && !name_list(p, "a column name", &st->cols, &st->col_pos, &st->ncols) && is_kw(p, "as")) {
            /* names read */
        } else {
            p->at = save_at;
            p->tok = save;
            p->rc = 0;
            st->ncols = 0;
            st->cols = NULL;
        }
        if (accept_kw(p, "as")) {
            if (!query_start(p))
                return syntax(p, "a query (SELECT, WITH or ( ) after AS");
            if (!(st->select = query_expr(p)))
                return p->rc;
            if (accept_kw(p, "with")) {
                st->no_data = accept_kw(p, "no");
                if (expect_kw(p, "data"))
                    return p->rc;
            }
            return 0;
        }
        if (expect_op(p, "(") || column_defs(p, st, false) || expect_op(p, ")"))
            return p->rc;
        return 0;
    }
    if (accept_kw(p, "drop")) {
        st->kind = S_DROP;
        if (accept_kw(p, "view"))
            st->kind = S_DROP_VIEW;
        else if (expect_kw(p, "table"))
            return p->rc;
        if (accept_kw(p, "if")) {
            if (expect_kw(p, "exists"))
                return p->rc;
            st->if_exists = true;
        }
        st->table_pos = p->tok.pos;
        st->table = table_name(p, "a table name");
        return p->rc;
    }
    if (accept_kw(p, "alter")) {
        st->kind = S_ALTER_ADD;
        if (expect_kw(p, "table"))
            return p->rc;
        st->table_pos = p->tok.pos;
        if (!(st->table = table_name(p, "a table name")) || expect_kw(p, "add"))
            return p->rc;
        accept_kw(p, "column");
        return column_defs(p, st, true);
    }
    if (accept_kw(p, "truncate")) {
        st->kind = S_TRUNCATE;
        accept_kw(p, "table");
        st->table_pos = p->tok.pos;
        st->table = table_name(p, "a table name");
        return p->rc;
    }
    if (accept_kw(p, "delete")) {
        st->kind = S_DELETE;
        if (expect_kw(p, "from"))
            return p->rc;
        st->table_pos = p->tok.pos;
        if (!(st->table = table_name(p, "a table name")))
            return p->rc;
        st->alias = table_alias(p);
        if (!p->rc && accept_kw(p, "where"))
            st->where = expr(p);
        return returning(p, st);
    }
    if (accept_kw(p, "update"))
        return update_stmt(p, st);
    if (accept_kw(p, "copy")) {
        st->table_pos = p->tok.pos;
        if (accept_op(p, "(")) {
            if (!query_start(p))
                return syntax(p, "SELECT or WITH");
            st->select = query_expr(p);
            if (p->rc || expect_op(p, ")"))
                return p->rc;
        } else if (!(st->table = table_name(p, "a table name or (SELECT ...)"))) {
            return p->rc;
        }
        if (accept_kw(p, "from")) {
            if (st->select)
                return lex_error(p, st->table_pos, "COPY (SELECT ...) can only write TO a file");
            st->kind = S_COPY_FROM;
        } else if (accept_kw(p, "to")) {
            st->kind = S_COPY_TO;
        } else {
            return syntax(p, "FROM or TO");
        }
        if (is_kw(p, "stdin") || is_kw(p, "stdout"))
            return lex_error(p, p->tok.pos, "COPY ... STDIN/STDOUT is not supported; give a file name in quotes");
        if (p->tok.kind != TK_STRING)
            return syntax(p, "a quoted file name");
        size_t l;
        if (!(st->file = string_lit(p, &l)))
            return p->rc;
        return copy_options(p, &st->copy);
    }
    if (accept_kw(p, "show")) {
        st->kind = S_SHOW_TABLES;
        return expect_kw(p, "tables");
    }
    if (accept_kw(p, "describe") || accept_kw(p, "desc")) {
        st->kind = S_DESCRIBE;
        st->table_pos = p->tok.pos;
        st->table = table_name(p, "a table name");
        return p->rc;
    }
    if (accept_kw(p, "begin") || accept_kw(p, "start")) {
        st->kind = S_BEGIN;
        if (!accept_kw(p, "transaction"))
            accept_kw(p, "work");
        return 0;
    }
    if (accept_kw(p, "commit") || accept_kw(p, "end")) {
        st->kind = S_COMMIT;
        if (!accept_kw(p, "transaction"))
            accept_kw(p, "work");
        return 0;
    }
    if (accept_kw(p, "rollback") || accept_kw(p, "abort")) {
        st->kind = S_ROLLBACK;
        if (!accept_kw(p, "transaction"))
            accept_kw(p, "work");
        return 0;
    }
    return syntax(p, "a statement (SELECT, INSERT, UPDATE, CREATE TABLE, DROP TABLE, ALTER TABLE, TRUNCATE, DELETE, "
                     "COPY, SHOW TABLES, DESCRIBE, EXPLAIN, BEGIN, COMMIT, ROLLBACK)");
}

int sql_parse(sql_arena *a, const char *text, size_t len, sql_stmt **out, size_t *consumed, factdb_error *err)
{
    return sql_parse_cancelable(a, text, len, NULL, out, consumed, err);
}

int sql_parse_cancelable(sql_arena *a, const char *text, size_t len, atomic_bool *cancel, sql_stmt **out,
                         size_t *consumed, factdb_error *err)
{
    parser p = {.text = text, .len = len, .arena = a, .err = err, .cancel = cancel};
    *out = NULL;
    *consumed = len;
    next(&p);
    while (!p.rc && accept_op(&p, ";"))
        ;
    if (p.rc)
        return p.rc;
    if (p.tok.kind == TK_EOF) {
        *consumed = len;
        return 0;
    }
    sql_stmt *st = alloc(&p, sizeof *st);
    if (!st)
        return p.rc;
    if (statement(&p, st))
        return p.rc;
    if (p.tok.kind != TK_EOF && !is_op(&p, ";"))
        return syntax(&p, "\";\" or the end of the statement");
    *consumed = p.tok.kind == TK_EOF ? len : (size_t)p.tok.pos;
    *out = st;
    return 0;
}

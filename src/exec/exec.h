/* exec.h: bound expressions, vectors and the vectorized executor. The binder (src/sql/bind.c) turns an
 * AST into typed `bexpr` trees with every PostgreSQL typing decision made (casts inserted, result scales
 * fixed), so the kernels in eval.c only ever see operands of one physical type. Vectors hold up to
 * EXEC_VEC values; a selection vector (`sel`) picks input rows and every result is dense. */
#ifndef FACTDB_EXEC_H
#define FACTDB_EXEC_H

#include "base/sqltype.h"
#include <stdatomic.h>

#define EXEC_VEC 2048
/* Stack of the executor's worker threads (libmicrohttpd's connection threads get 4 MiB too). */
#define EXEC_THREAD_STACK ((size_t)4 << 20)
#define EXEC_MAX_THREADS 256
/* Runs fn(arg, i) for every i in [0, n): i >= 1 on threads of their own (EXEC_THREAD_STACK bytes of
 * stack), 0 (and any i whose thread could not start, or past EXEC_MAX_THREADS) on the caller's thread. */
void exec_parallel(int n, void (*fn)(void *arg, int i), void *arg);

typedef __int128 i128;

typedef struct sql_str {
    const char *p;
    size_t len;
} sql_str;

/* A scalar value (constants, parameters, results of folding). */
typedef struct sql_value {
    sql_type type;
    bool null;
    int8_t nscale;      /* per-value scale of a 128-bit numeric */
    union {
        int64_t i;      /* bool, int, bigint, date, timestamp, static numeric */
        double d;
        i128 n;         /* numeric with per-value scale */
        sql_str s;
        sql_interval iv;
    };
} sql_value;

/* Physical representations. */
typedef enum phys { P_U8, P_I64, P_F64, P_STR, P_N128, P_IV } phys;
static inline phys exec_phys(sql_type t)
{
    switch (t.id) {
    case TY_BOOL: return P_U8;
    case TY_DOUBLE: return P_F64;
    case TY_TEXT:
    case TY_UNKNOWN: return P_STR;
    case TY_NUMERIC: return t.scale < 0 ? P_N128 : P_I64;
    case TY_INTERVAL: return P_IV;
    default: return P_I64;
    }
}

typedef struct vec {
    sql_type type;
    void *data;             /* uint8_t / int64_t / double / sql_str / i128 / sql_interval */
    const uint8_t *valid;   /* 1 = value; NULL pointer = no NULLs */
    const uint8_t *scales;  /* P_N128: per-value scale */
    const uint32_t *codes;  /* TEXT read from a dictionary column: codes (data filled on demand) */
    int dict;               /* input index of that column, -1 otherwise */
    void *buf;              /* the owning slot's own data buffer */
} vec;

/* Whether every value of `a` (NULL rows included) has one scale, and which (*s): static-scale 64-bit
 * numerics and integers always; 128-bit ones when their per-value scales are all equal. */
static inline bool exec_uniform_scale(const vec *a, size_t n, int *s)
{
    if (exec_phys(a->type) != P_N128) {
        *s = a->type.id == TY_NUMERIC ? a->type.scale : 0;
        return true;
    }
    *s = a->scales && n ? a->scales[0] : 0;
    if (a->scales)
        for (size_t i = 1; i < n; i++)
            if (a->scales[i] != *s)
                return false;
    return true;
}

typedef enum bkind {
    B_CONST, B_INPUT, B_CAST, B_NEG, B_ARITH, B_CMP, B_AND, B_OR, B_NOT, B_ISNULL, B_IN, B_LIKE, B_CASE,
    B_COALESCE, B_NULLIF, B_FUNC,
    B_ERROR     /* a constant whose folding failed (`error`): raised when evaluated, and by the binder if it
                 * survives the pruning of unreachable CASE/COALESCE/AND/OR arguments */
} bkind;

typedef enum arith_op { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_CONCAT } arith_op;
typedef enum cmp_op { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE } cmp_op;

typedef enum func_id {
    F_LOWER, F_UPPER, F_LENGTH, F_SUBSTR, F_TRIM, F_LTRIM, F_RTRIM, F_REPLACE, F_ABS, F_ROUND, F_TRUNC,
    F_FLOOR, F_CEIL, F_GREATEST, F_LEAST, F_DATE_TRUNC, F_EXTRACT, F_DATE_ADD_IV, F_DATE_SUB_DATE,
    F_SQRT, F_POWER, F_SIGN
} func_id;

typedef struct bexpr bexpr;
struct bexpr {
    bkind kind;
    int op;                 /* arith_op, cmp_op, func_id, cast source type id */
    sql_type type;
    int pos;
    int slot;               /* index of this node's vector in a thread's state */
    bexpr **args;
    int nargs;
    sql_value val;          /* B_CONST; B_FUNC constant extras (date_trunc unit, extract field) */
    int input;              /* B_INPUT */
    bool neg, ilike, has_else, has_operand;
    bool shared;            /* the argument of more than one node (bind.c shares aggregates' subexpressions) */
    int aux;                /* B_FUNC: unit/field code; B_CAST: flags */
    sql_value *set;         /* B_IN: constant list (sorted for binary search) */
    int nset;
    bool set_has_null;
    const uint64_t *bits;   /* B_IN over a 64-bit integer argument (a join's keys, src/plan): bit v - bits_min of
                             * bits_len is set when v is in the set, which then needs no search */
    int64_t bits_min;
    uint64_t bits_len;
    bool set_ints;          /* B_IN: the set's values are 64-bit integers of the argument's type and scale,
                             * searched as such */
    factdb_error *error;    /* B_ERROR */
};

/* Aggregates. */
typedef enum agg_fn { AG_COUNT_STAR, AG_COUNT, AG_SUM, AG_AVG, AG_MIN, AG_MAX, AG_VAR, AG_STDDEV, AG_BOOL_AND,
                      AG_BOOL_OR } agg_fn;

typedef struct agg_spec {
    agg_fn fn;
    bool distinct;
    bexpr *arg;             /* NULL for count(*) */
    bexpr *filter;          /* NULL: no FILTER */
    sql_type type;          /* result type */
} agg_spec;

/* One input column of the scan. */
typedef struct scan_col {
    char *name;
    int table_col;          /* index in the table */
    sql_type type;
    int store_type;
} scan_col;

/* Zone-map predicate: chunks whose [min,max] of `table_col` cannot satisfy `op const` are skipped. */
typedef struct zone_pred {
    int table_col;
    int store_type;
    cmp_op op;
    int64_t v;              /* in the column's storage units (double bits for DOUBLE) */
} zone_pred;

typedef struct sort_key {
    int col;                /* index into the projected columns */
    bool desc, nulls_first;
} sort_key;

typedef struct rowset rowset;
typedef struct query {
    char *table;            /* the table scanned; NULL: src, or no FROM (one empty row) */
    const rowset *src;      /* a materialized relation read instead of a table (its cols' table_col index it) */
    scan_col *cols;
    int ncols;
    zone_pred *zones;
    int nzones;
    bexpr *where;           /* scan scope */
    bool agg;
    bexpr **keys;           /* scan scope */
    int nkeys;
    agg_spec *aggs;
    int naggs;
    bexpr *having;          /* agg scope: inputs = keys then aggregates */
    bexpr **outs;           /* outputs then hidden ORDER BY columns */
    char **names;
    int nouts, nvisible;
    sort_key *sort;
    int nsort;
    bool distinct;
    int64_t limit, offset;  /* limit -1: none */
    int nslots;
    int64_t now_us;
} query;

/* ---- rowsets: materialized results ---- */
typedef struct rs_col {
    sql_type type;
    phys ph;
    size_t width;
    unsigned char *data;
    uint8_t *valid;         /* always allocated: 1 = value */
    uint8_t *scales;        /* P_N128 */
    size_t dcap, vcap, scap;    /* rows the data, valid and scales arrays have room for (rowset.c) */
} rs_col;

struct rowset {
    int ncols;
    rs_col *cols;
    size_t n, cap;
    sql_arena strings;      /* text values */
    _Atomic size_t *mem;    /* shared memory counter of the query */
    size_t mem_limit;
    bool borrowed;          /* the columns' arrays belong to another rowset that outlives this one */
};

int rowset_init(rowset *r, int ncols, const sql_type *types, _Atomic size_t *mem, size_t limit, factdb_error *err);
void rowset_cleanup(rowset *r);
/* Appends n rows from vectors v[0..ncols) (copying text). Errors: LIMIT, NOMEM. */
int rowset_append(rowset *r, vec *const *v, size_t n, factdb_error *err);
int rowset_reserve(rowset *r, size_t extra, factdb_error *err);
void rowset_get(const rowset *r, int col, size_t row, sql_value *out);
/* Appends one row of values (their types must match the columns'). */
int rowset_add_row(rowset *r, const sql_value *vals, factdb_error *err);
/* Writes rows [at, at + n) of dst's columns col0.. from src's rows idx[0..n) (-1: a row of NULLs); dst must
 * have room (rowset_reserve) and matching types; the caller sets dst->n. Text points into src's strings, so
 * src must outlive dst. */
int rowset_gather(rowset *dst, int col0, const rowset *src, const int64_t *idx, size_t n, size_t at);
/* Copies cells src[idx[i]] of w bytes (1, 8 or 16: a column's width) to dst[i]; idx[i] < 0 makes a zero cell. */
void rowset_gather_cells(unsigned char *dst, const unsigned char *src, size_t w, const int64_t *idx, size_t n);
/* Formats one cell as text (PostgreSQL output form); returns its length or 0 for NULL (*null set). */
size_t exec_format_value(const sql_value *v, char *buf, size_t cap);

/* ---- evaluation context (one per worker thread) ---- */
typedef enum raw_kind { RAW_I32, RAW_I64, RAW_F64, RAW_U8, RAW_CODE, RAW_STR, RAW_N128, RAW_IV } raw_kind;

/* How a column of a rowset of physical type p reads as an input (run.c). */
raw_kind exec_raw_of_phys(phys p);

typedef struct in_col {
    raw_kind raw;
    const void *data;       /* already offset to the current slice */
    const uint8_t *valid;
    const uint8_t *scales;
    sql_type type;
    int dict;               /* RAW_CODE: scan column index for the dictionary */
} in_col;

typedef struct exec_ctx exec_ctx;
typedef struct eval_thread {
    exec_ctx *x;
    in_col *in;
    int nin;
    vec *v;                 /* per slot */
    void **buf;             /* per slot: data buffer (EXEC_VEC * 16 bytes) */
    uint8_t **vbuf;         /* per slot: validity buffer */
    uint8_t **sbuf;         /* per slot: scales buffer */
    uint32_t **cbuf;        /* per slot: dictionary codes buffer */
    size_t *filled;         /* per slot: rows of a constant already broadcast */
    int8_t **memo;          /* per slot: per dictionary code cached predicate result (-1 unknown) */
    uint32_t **ibuf;        /* per slot, allocated on first use: 3 row-index arrays for AND/OR/CASE/COALESCE
                             * (on the stack they cost 24 KiB per nesting level) */
    size_t *memo_len;
    int64_t **dcache;       /* per slot, allocated on first use: date_trunc's day -> result cache */
    sql_arena tmp;          /* per slice strings; reset each slice */
    sql_arena keep;         /* strings that outlive a slice (group keys, min/max) */
    const char *(*text)(void *ctx, int col, uint32_t code, size_t *len);
    void *text_ctx;
    factdb_error err;
    int nslots_;
    size_t cap_;
    /* Gathered inputs shared within one window: while mgen is not 0, every evaluation through selection
     * msel of mn rows sees the same rows, so a column gathered once (in_vec, valid when in_gen equals mgen)
     * serves every other reference to it (TPC-H Q1 reads l_extendedprice in four aggregates). */
    uint64_t mgen, mlast;
    const uint32_t *msel;
    size_t mn;
    uint64_t *in_gen;
    const vec **in_vec;
    uint64_t *slot_gen;     /* per slot: the window a shared node's vector was computed in */
} eval_thread;
/* Opens (and eval_memo_end closes) such a window; the caller must not change sel's rows meanwhile. */
static inline void eval_memo_begin(eval_thread *t, const uint32_t *sel, size_t n)
{
    t->mgen = ++t->mlast;
    t->msel = sel;
    t->mn = n;
}
static inline void eval_memo_end(eval_thread *t) { t->mgen = 0; }

struct exec_ctx {
    query *q;
    int64_t now_us;
    atomic_bool *cancel;
    atomic_bool failed;
};

/* cap: rows per vector (EXEC_VEC, or 1 for constant folding). */
int eval_thread_init(eval_thread *t, exec_ctx *x, int nslots, size_t cap, factdb_error *err);
void eval_thread_cleanup(eval_thread *t);
/* Evaluates `e` for rows sel[0..n) (or 0..n when sel is NULL) of the current inputs; *out points to the
 * node's dense result. Errors: INVALID_VALUE (overflow, division by zero, bad cast) with the position. */
int eval(eval_thread *t, bexpr *e, const uint32_t *sel, size_t n, vec **out);
/* Makes v->data hold strings (materializing dictionary codes). */
int eval_strings(eval_thread *t, vec *v, size_t n);
/* Evaluates a predicate and narrows the selection: out_sel receives the rows where it is TRUE.
 * Returns the count in *m. sel may alias out_sel. */
int eval_filter(eval_thread *t, bexpr *e, const uint32_t *sel, size_t n, uint32_t *out_sel, size_t *m);
/* Evaluates a constant expression (no inputs) into *out, with strings copied into `a`. */
int eval_const(bexpr *e, int nslots, int64_t now_us, sql_arena *a, sql_value *out, factdb_error *err);
/* Scalar function kernels (func.c). */
int exec_func_scalar(eval_thread *t, bexpr *e, sql_value *args, sql_value *out);
/* Reads row i of v as a scalar. */
void vec_get(const vec *v, size_t i, sql_value *out);
/* Casts a scalar (used for INSERT and constant folding). */
int exec_cast_value(const sql_value *in, sql_type to, int pos, sql_arena *a, sql_value *out, factdb_error *err);
int exec_compare_values(const sql_value *a, const sql_value *b);
/* The first place of n (nn bytes) in h (hn bytes), as memmem; faster for the short text values of rows. */
const char *exec_find(const char *h, size_t hn, const char *n, size_t nn);

/* Numeric helpers */
size_t exec_format_n128(i128 v, int scale, char *buf, size_t cap);
int exec_div_scale(i128 a, int sa, i128 b, int sb);
/* a / b rounded half away from zero at result scale rs; -1 on overflow. */
int exec_n128_div(i128 a, int sa, i128 b, int sb, int rs, i128 *out);

/* ---- running queries ---- */
typedef struct factdb factdb;
typedef struct exec_stats {
    size_t chunks_total, chunks_skipped;
    int threads;
} exec_stats;

typedef struct exec_options {
    int threads;
    size_t mem_limit;
    atomic_bool *cancel;
    int64_t now_us;
} exec_options;

/* A query result: rows idx[0..n) of rs, columns 0..ncols (the visible ones). */
typedef struct exec_result {
    rowset *rs;
    size_t *idx;
    size_t n;
    int ncols;
} exec_result;

/* ---- joins and set operations (join.c), over materialized relations ---- */
typedef enum join_type { JT_INNER, JT_LEFT, JT_RIGHT, JT_FULL, JT_SEMI, JT_ANTI, JT_CROSS } join_type;

typedef struct exec_join {
    join_type type;
    int nkeys;
    const int *lkey, *rkey;     /* equal columns of l and r (exec_join_key_ok holds for each pair) */
    query *resid;               /* NULL, or outs[0]: a condition over l's columns then r's (cols' table_col) */
    int64_t now_us;
    atomic_bool *cancel;
    _Atomic size_t *mem;        /* the statement's memory counter and limit */
    size_t mem_limit;
    int threads;                /* workers that may normalize keys and probe at once */
} exec_join;

/* Whether columns of types a and b can be hash-join keys: integers, numerics of static scale, dates and
 * timestamps among their own kind, doubles with numbers, text with text. */
bool exec_join_key_ok(sql_type a, sql_type b);
/* Joins l and r into out (initialized here: l's columns then r's; SEMI and ANTI: l's only). Rows with a
 * NULL key never match. Errors: LIMIT (memory), cancel, evaluation errors of the condition. */
int exec_join_run(const exec_join *j, const rowset *l, const rowset *r, rowset *out, factdb_error *err);

typedef enum setop_type { SO_UNION, SO_INTERSECT, SO_EXCEPT } setop_type;
/* l op r into out (initialized here with l's types; r's must be the same). ALL keeps duplicates as the
 * standard counts them; NULLs are equal to each other, as in PostgreSQL's set operations. */
int exec_setop_run(setop_type op, bool all, const rowset *l, const rowset *r, _Atomic size_t *mem, size_t mem_limit,
                   rowset *out, factdb_error *err);

/* ---- window functions (window.c), over a materialized relation ---- */
typedef enum win_fn {
    WF_ROW_NUMBER, WF_RANK, WF_DENSE_RANK, WF_PERCENT_RANK, WF_CUME_DIST, WF_NTILE, WF_LAG, WF_LEAD,
    WF_FIRST_VALUE, WF_LAST_VALUE, WF_NTH_VALUE, WF_COUNT_STAR, WF_COUNT, WF_SUM, WF_AVG, WF_MIN, WF_MAX,
    WF_VAR, WF_STDDEV, WF_BOOL_AND, WF_BOOL_OR  /* every function from WF_COUNT_STAR on is an aggregate */
} win_fn;

/* One window function call: its input columns, its window and its frame. The planner has checked the
 * argument types: ntile's, lag's / lead's offset and nth_value's n are integer (int4) columns; lag's default
 * is cast to `type` per value. */
typedef struct exec_wcall {
    win_fn fn;
    sql_type type;              /* result type */
    int pos;                    /* of the call in the statement (errors) */
    int arg[3];                 /* input columns of the arguments; -1 none */
    int filter;                 /* aggregate's FILTER column (boolean); -1 none */
    const int *part;            /* PARTITION BY columns */
    int npart;
    const sort_key *order;      /* ORDER BY columns */
    int norder;
    bool rows;                  /* ROWS frame; else RANGE (CURRENT ROW means its peers) */
    win_bound start, end;
    int64_t start_off, end_off; /* ROWS n PRECEDING / FOLLOWING: n >= 0 */
    int range_start, range_end; /* RANGE offset PRECEDING / FOLLOWING (one ORDER BY key): the column holding
                                 * each row's bound value, key -/+ offset; -1 none */
    bool groups;                /* GROUPS frame (rows false): offsets count peer groups */
    int exclude;                /* WX_*: rows EXCLUDE takes out of each frame */
} exec_wcall;

typedef struct exec_window {
    const exec_wcall *calls;
    int ncalls;
    atomic_bool *cancel;
    _Atomic size_t *mem;        /* the statement's memory counter and limit */
    size_t mem_limit;
} exec_window;

/* out (initialized here) gets in's columns then one column per call, rows in in's order. Text of in's
 * columns points into in, which must outlive out. Errors: LIMIT (memory), cancel, INVALID_VALUE (ntile /
 * nth_value argument not positive, overflow) with the call's position. */
int exec_window_run(const exec_window *w, const rowset *in, rowset *out, factdb_error *err);

/* Runs a bound SELECT. On success *res owns the result (free with exec_result_free). */
int exec_select(factdb *db, query *q, const exec_options *o, exec_result *res, exec_stats *st, factdb_error *err);
void exec_result_free(exec_result *r);
void exec_rowset_free(rowset *r);

/* ---- writes (modify.c) ---- */
/* `ret` (NULL: none): RETURNING's rows, appended to it: DELETE's rows as they were (q->outs, which must then
 * be every column), the others' rows as written (the table's columns, of its types). */
/* DELETE: marks the rows of q->table that match q->where deleted, in one write transaction (the thread's
 * BEGIN ... COMMIT when it has one). *deleted: how many. */
int exec_delete(factdb *db, query *q, rowset *ret, uint64_t *deleted, factdb_error *err);
/* UPDATE: q->outs[0..nouts) are the new values of every column of q->table, in table order, computed from
 * the old row; ctype[] the columns' types (values are cast to them with PostgreSQL's assignment rules). The
 * matching rows are deleted and their new versions appended in one write transaction. *updated: how many
 * rows. */
int exec_update(factdb *db, query *q, const sql_type *ctype, rowset *ret, uint64_t *updated, factdb_error *err);
/* UPDATE ... FROM (modify.c). exec_target_read reads, through the bound write transaction, q->outs of every
 * live row of q's table matching q->where, each followed by its place (bigint: index into chunks << 32 | the
 * row's physical number), and every chunk it read with its deletion bitmap as it was. exec_update_places
 * then replaces the rows named by column 0 of res (a place) with res's other columns (cast to ctype; pos:
 * per column, where its value is written, for errors); a place named twice is updated once, with its first
 * row in res. Must run inside store_write. Errors: NOMEM, NOT_NULL, INVALID_VALUE, UNIQUE_VIOLATION, store
 * errors; on error nothing is applied (the caller's transaction is aborted). */
typedef struct exec_target_chunk {
    uint64_t id;
    uint32_t rows;
    unsigned char *old;
} exec_target_chunk;
typedef struct exec_target {
    rowset *rows;
    exec_target_chunk *chunks;
    size_t nchunks, cap;
} exec_target;
int exec_target_read(factdb *db, query *q, exec_target *tg, factdb_error *err);
void exec_target_cleanup(exec_target *tg);
int exec_update_places(factdb *db, const char *table, const sql_type *ctype, const int *pos, const exec_target *tg,
                       const exec_result *res, rowset *ret, uint64_t *updated, factdb_error *err);
/* INSERT ... ON CONFLICT DO UPDATE, inside the thread's write transaction: rows[0..n) are the live rows
 * that proposals (rows of `props`, one column per table column) collided with. q is bound over the table's
 * ncols columns followed by ncols EXCLUDED ones (inputs with table_col >= ncols); its outs are every column's
 * new value and its where the DO UPDATE's WHERE. Each target row passing it is deleted and its new version
 * appended. Sorts rows. ret_prop (NULL, or n entries): receives, per row appended to ret, the proposal it
 * came from. Errors: UNIQUE_VIOLATION when a row would be affected twice, and UPDATE's. */
typedef struct exec_upsert_row {
    uint64_t chunk;
    uint32_t row;
    size_t proposal;
} exec_upsert_row;
int exec_upsert(factdb *db, query *q, int ncols, const sql_type *ctype, const rowset *props, exec_upsert_row *rows,
                size_t n, rowset *ret, size_t *ret_prop, uint64_t *updated, factdb_error *err);
/* Appends v (of the column's type) to column col of the appender's current row. */
typedef struct factdb_appender factdb_appender;
int exec_append_value(factdb_appender *app, size_t col, const sql_value *v, factdb_error *err);

#endif

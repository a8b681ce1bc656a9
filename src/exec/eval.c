/* eval.c: vectorized evaluation of bound expressions. Each node writes into its own per-thread buffer
 * (its "slot"); inputs are read zero-copy when no selection applies. Errors (overflow, division by zero,
 * bad casts) are raised only for rows that are present and not NULL, as PostgreSQL would. CASE, COALESCE,
 * AND and OR evaluate their later arguments only on the rows that need them. */
#include "exec.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif


static size_t phys_width(phys p)
{
    switch (p) {
    case P_U8: return 1;
    case P_I64:
    case P_F64: return 8;
    default: return 16;
    }
}

int eval_thread_init(eval_thread *t, exec_ctx *x, int nslots, size_t cap, factdb_error *err)
{
    memset(t, 0, sizeof *t);
    t->x = x;
    size_t ns = (size_t)(nslots ? nslots : 1);
    t->v = calloc(ns, sizeof *t->v);
    t->buf = calloc(ns, sizeof *t->buf);
    t->vbuf = calloc(ns, sizeof *t->vbuf);
    t->sbuf = calloc(ns, sizeof *t->sbuf);
    t->cbuf = calloc(ns, sizeof *t->cbuf);
    t->filled = calloc(ns, sizeof *t->filled);
    t->memo = calloc(ns, sizeof *t->memo);
    t->memo_len = calloc(ns, sizeof *t->memo_len);
    t->ibuf = calloc(ns, sizeof *t->ibuf);
    t->dcache = calloc(ns, sizeof *t->dcache);
    if (!t->v || !t->buf || !t->vbuf || !t->sbuf || !t->cbuf || !t->filled || !t->memo || !t->memo_len || !t->ibuf ||
        !t->dcache)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    t->nslots_ = (int)ns;
    t->cap_ = cap;
    for (size_t i = 0; i < ns; i++) {
        t->buf[i] = base_pool_get(cap * 16);
        t->vbuf[i] = malloc(cap);
        t->sbuf[i] = malloc(cap);
        t->cbuf[i] = malloc(cap * sizeof(uint32_t));
        if (!t->buf[i] || !t->vbuf[i] || !t->sbuf[i] || !t->cbuf[i])
            return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    sql_arena_init(&t->tmp, 0);
    sql_arena_init(&t->keep, 0);
    return 0;
}

void eval_thread_cleanup(eval_thread *t)
{
    for (int i = 0; i < t->nslots_; i++) {
        base_pool_put(t->buf[i], t->cap_ * 16);
        free(t->vbuf[i]);
        free(t->sbuf[i]);
        free(t->cbuf[i]);
        free(t->memo[i]);
        if (t->ibuf)
            free(t->ibuf[i]);
        if (t->dcache)
            free(t->dcache[i]);
    }
    free(t->v);
    free(t->buf);
    free(t->vbuf);
    free(t->sbuf);
    free(t->cbuf);
    free(t->filled);
    free(t->memo);
    free(t->memo_len);
    free(t->ibuf);
    free(t->dcache);
    free(t->in_gen);
    free(t->in_vec);
    free(t->slot_gen);
    sql_arena_cleanup(&t->tmp);
    sql_arena_cleanup(&t->keep);
    memset(t, 0, sizeof *t);
}

static int fail(eval_thread *t, int code, int pos, const char *msg)
{
    return sql_err(&t->err, code, pos, "%s", msg);
}

static int oom(eval_thread *t, int pos) { return fail(t, FACTDB_LIMIT, pos, "out of memory for text values in this query"); }

/* The node's three row-index arrays of t->cap_ entries each (NULL: out of memory, error set). */
static uint32_t *idx_scratch(eval_thread *t, const bexpr *e)
{
    if (!t->ibuf[e->slot] && !(t->ibuf[e->slot] = malloc(3 * t->cap_ * sizeof(uint32_t))))
        fail(t, FACTDB_NOMEM, e->pos, "out of memory");
    return t->ibuf[e->slot];
}

/* AND of two validity arrays into the slot's buffer; NULL when neither has NULLs. */
static const uint8_t *and_valid(eval_thread *t, int slot, const uint8_t *a, const uint8_t *b, size_t n)
{
    if (!a && !b)
        return NULL;
    if (!a || !b)
        return a ? a : b;
    uint8_t *o = t->vbuf[slot];
    for (size_t i = 0; i < n; i++)
        o[i] = a[i] & b[i];
    return o;
}

static vec *slot_vec(eval_thread *t, bexpr *e)
{
    vec *v = &t->v[e->slot];
    v->type = e->type;
    v->data = t->buf[e->slot];
    v->buf = t->buf[e->slot];
    v->valid = NULL;
    v->scales = NULL;
    v->codes = NULL;
    v->dict = -1;
    return v;
}

int eval_strings(eval_thread *t, vec *v, size_t n)
{
    if (!v->codes || v->data != NULL)
        return 0;
    sql_str *o = v->buf;
    for (size_t i = 0; i < n; i++) {
        if (v->valid && !v->valid[i]) {
            o[i].p = "";
            o[i].len = 0;
            continue;
        }
        o[i].p = t->text(t->text_ctx, v->dict, v->codes[i], &o[i].len);
        if (!o[i].p)
            return fail(t, FACTDB_CORRUPT, 0, "a text value refers to a missing dictionary entry; run factdb check");
    }
    v->data = o;
    return 0;
}

/* ---- inputs ---- */
static int eval_input(eval_thread *t, bexpr *e, const uint32_t *sel, size_t n, vec *v)
{
    const in_col *c = &t->in[e->input];
    if (c->valid) {
        if (sel) {
            uint8_t *o = t->vbuf[e->slot];
            for (size_t i = 0; i < n; i++)
                o[i] = c->valid[sel[i]];
            v->valid = o;
        } else {
            v->valid = c->valid;
        }
    }
    switch (c->raw) {
    case RAW_I32: {
        const int32_t *s = c->data;
        int64_t *o = v->buf;
        if (sel)
            for (size_t i = 0; i < n; i++)
                o[i] = s[sel[i]];
        else
            for (size_t i = 0; i < n; i++)
                o[i] = s[i];
        return 0;
    }
    case RAW_CODE: {
        const uint32_t *s = c->data;
        if (sel) {
            uint32_t *o = t->cbuf[e->slot];
            for (size_t i = 0; i < n; i++)
                o[i] = s[sel[i]];
            v->codes = o;
        } else {
            v->codes = s;
        }
        v->dict = c->dict;
        v->data = NULL;
        return 0;
    }
    case RAW_N128:
        if (c->scales) {
            if (sel) {
                uint8_t *o = t->sbuf[e->slot];
                for (size_t i = 0; i < n; i++)
                    o[i] = c->scales[sel[i]];
                v->scales = o;
            } else {
                v->scales = c->scales;
            }
        }
        /* fall through */
    default: {
        size_t w = c->raw == RAW_U8 ? 1 : c->raw == RAW_STR || c->raw == RAW_N128 || c->raw == RAW_IV ? 16 : 8;
        if (!sel) {
            v->data = (void *)c->data;
            return 0;
        }
        if (w == 8) {
            const int64_t *s = c->data;
            int64_t *o = v->buf;
            for (size_t i = 0; i < n; i++)
                o[i] = s[sel[i]];
        } else if (w == 1) {
            const uint8_t *s = c->data;
            uint8_t *o = v->buf;
            for (size_t i = 0; i < n; i++)
                o[i] = s[sel[i]];
        } else {
            /* 16 bytes: strings, 128-bit numerics, intervals */
            const sql_str *s = c->data;
            sql_str *o = v->buf;
            for (size_t i = 0; i < n; i++)
                o[i] = s[sel[i]];
        }
        return 0;
    }
    }
}

static void store_value(vec *v, size_t i, const sql_value *x, uint8_t *valid)
{
    if (x->null) {
        valid[i] = 0;
        return;
    }
    valid[i] = 1;
    switch (exec_phys(v->type)) {
    case P_U8: ((uint8_t *)v->buf)[i] = (uint8_t)x->i; break;
    case P_I64: ((int64_t *)v->buf)[i] = x->i; break;
    case P_F64: ((double *)v->buf)[i] = x->d; break;
    case P_STR: ((sql_str *)v->buf)[i] = x->s; break;
    case P_N128:
        ((i128 *)v->buf)[i] = x->n;
        ((uint8_t *)v->scales)[i] = (uint8_t)x->nscale;
        break;
    case P_IV: ((sql_interval *)v->buf)[i] = x->iv; break;
    }
}

static int eval_const_node(eval_thread *t, bexpr *e, size_t n, vec *v)
{
    if (e->val.null) {
        memset(t->vbuf[e->slot], 0, n);
        v->valid = t->vbuf[e->slot];
        return 0;
    }
    if (exec_phys(e->type) == P_N128)
        v->scales = t->sbuf[e->slot];
    if (t->filled[e->slot] >= n)
        return 0;
    uint8_t *valid = t->vbuf[e->slot];
    for (size_t i = 0; i < n; i++)
        store_value(v, i, &e->val, valid);
    t->filled[e->slot] = n;
    return 0;
}

/* ---- arithmetic ---- */
static int overflow_err(eval_thread *t, bexpr *e)
{
    const char *m = e->type.id == TY_INT ? "integer out of range"
                    : e->type.id == TY_BIGINT ? "bigint out of range"
                    : e->type.id == TY_DOUBLE ? "value out of range: overflow"
                    : e->type.id == TY_DATE ? BASE_DATE_RANGE_ERROR
                    : e->type.id == TY_TIMESTAMP || e->type.id == TY_TIMESTAMPTZ ? BASE_TS_RANGE_ERROR
                    : "value overflows numeric format (factdb's numeric expressions hold 38 digits; cast to double "
                      "precision for larger values)";
    return fail(t, FACTDB_INVALID_VALUE, e->pos, m);
}

static int arith_i64(eval_thread *t, bexpr *e, const vec *a, const vec *b, size_t n, vec *v)
{
    const int64_t *x = a->data, *y = b->data;
    int64_t *o = v->buf;
    const uint8_t *valid = v->valid;
    bool ovf = false;
    switch (e->op) {
    case OP_ADD:
        for (size_t i = 0; i < n; i++)
            ovf |= __builtin_add_overflow(x[i], y[i], &o[i]);
        break;
    case OP_SUB:
        for (size_t i = 0; i < n; i++)
            ovf |= __builtin_sub_overflow(x[i], y[i], &o[i]);
        break;
    case OP_MUL:
        for (size_t i = 0; i < n; i++)
            ovf |= __builtin_mul_overflow(x[i], y[i], &o[i]);
        break;
    case OP_DIV:
    case OP_MOD:
        for (size_t i = 0; i < n; i++) {
            if (valid && !valid[i]) {
                o[i] = 0;
                continue;
            }
            if (y[i] == 0)
                return fail(t, FACTDB_INVALID_VALUE, e->pos, "division by zero");
            if (y[i] == -1)
                o[i] = e->op == OP_MOD ? 0 : (ovf |= x[i] == INT64_MIN, x[i] == INT64_MIN ? 0 : -x[i]);
            else
                o[i] = e->op == OP_DIV ? x[i] / y[i] : x[i] % y[i];
        }
        break;
    }
    bool check32 = e->type.id == TY_INT;
    bool checkp = e->type.id == TY_NUMERIC && e->type.prec;
    if (e->type.id == TY_DATE) {
        /* date +/- integer: the result must stay a date the text form can express */
        for (size_t i = 0; i < n; i++)
            if (!(valid && !valid[i]) && !base_date_in_range(o[i]))
                return fail(t, FACTDB_INVALID_VALUE, e->pos, BASE_DATE_RANGE_ERROR);
    }
    if (!ovf && !check32 && !checkp)
        return 0;
    /* find whether a present row overflowed (garbage in NULL rows may overflow harmlessly) */
    for (size_t i = 0; i < n; i++) {
        if (valid && !valid[i])
            continue;
        int64_t r;
        bool bad;
        switch (e->op) {
        case OP_ADD: bad = __builtin_add_overflow(x[i], y[i], &r); break;
        case OP_SUB: bad = __builtin_sub_overflow(x[i], y[i], &r); break;
        case OP_MUL: bad = __builtin_mul_overflow(x[i], y[i], &r); break;
        default: bad = x[i] == INT64_MIN && y[i] == -1 && e->op == OP_DIV; r = o[i]; break;
        }
        if (!bad && check32)
            bad = r < INT32_MIN || r > INT32_MAX;
        if (bad)
            return overflow_err(t, e);
    }
    return 0;
}

static int arith_f64(eval_thread *t, bexpr *e, const vec *a, const vec *b, size_t n, vec *v)
{
    const double *x = a->data, *y = b->data;
    double *o = v->buf;
    switch (e->op) {
    case OP_ADD: for (size_t i = 0; i < n; i++) o[i] = x[i] + y[i]; break;
    case OP_SUB: for (size_t i = 0; i < n; i++) o[i] = x[i] - y[i]; break;
    case OP_MUL: for (size_t i = 0; i < n; i++) o[i] = x[i] * y[i]; break;
    case OP_DIV:
        for (size_t i = 0; i < n; i++) {
            if (y[i] == 0 && !(v->valid && !v->valid[i]))
                return fail(t, FACTDB_INVALID_VALUE, e->pos, "division by zero");
            o[i] = y[i] == 0 ? 0 : x[i] / y[i];
        }
        break;
    default: return fail(t, FACTDB_INTERNAL, e->pos, "bad double operator");
    }
    for (size_t i = 0; i < n; i++)
        if (isinf(o[i]) && !isinf(x[i]) && !isinf(y[i]) && !(v->valid && !v->valid[i]))
            return overflow_err(t, e);
    /* PostgreSQL's float8 * and / also refuse a result that underflows to zero */
    if (e->op == OP_MUL || e->op == OP_DIV)
        for (size_t i = 0; i < n; i++)
            if (o[i] == 0 && x[i] != 0 && (e->op == OP_MUL ? y[i] != 0 : !isinf(y[i])) && !(v->valid && !v->valid[i]))
                return fail(t, FACTDB_INVALID_VALUE, e->pos, "value out of range: underflow");
    return 0;
}

/* Generic numeric path on (i128, scale) pairs: operands may be static 64-bit or per-value 128-bit. */
static void get_num(const vec *a, size_t i, i128 *n, int *s)
{
    if (exec_phys(a->type) == P_N128) {
        *n = ((const i128 *)a->data)[i];
        *s = a->scales ? a->scales[i] : 0;
    } else {
        *n = ((const int64_t *)a->data)[i];
        *s = a->type.id == TY_NUMERIC ? a->type.scale : 0;
    }
}

static void mul_64_128(const int64_t *__restrict x, const int64_t *__restrict y, i128 *__restrict o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        o[i] = (i128)x[i] * y[i];
}

/* arith_n128 for operands that each have one scale over the vector (numeric(15,2) * numeric(15,2) and
 * the like, as in TPC-H Q1): no per-value scale lookups, and a 64 x 64 -> 128-bit product where both
 * values fit 64 bits (it cannot overflow). Returns 1 if it does not apply (rescaling by more than 18
 * digits), else 0 or an error. NULL rows get the vector's scale, so the result stays uniform. */
static int arith_n128_uniform(eval_thread *t, bexpr *e, const vec *a, int sx, const vec *b, int sy, size_t n,
                              vec *v)
{
    int rs = e->op == OP_MUL ? sx + sy : MAX(sx, sy);
    if (rs > 76 || rs - sx > 18 || rs - sy > 18 || (e->op != OP_ADD && e->op != OP_SUB && e->op != OP_MUL))
        return 1;
    i128 *o = v->buf;
    uint8_t *sc = t->sbuf[e->slot];
    bool wa = exec_phys(a->type) == P_N128, wb = exec_phys(b->type) == P_N128, bad = false;
    const int64_t *xa = a->data, *xb = b->data;
    const i128 *wxa = a->data, *wxb = b->data;
    if (!wa && !wb && e->op == OP_MUL) {
        mul_64_128(xa, xb, o, n);
    } else if (e->op == OP_MUL) {
        for (size_t i = 0; i < n; i++) {
            i128 x = wa ? wxa[i] : xa[i], y = wb ? wxb[i] : xb[i];
            if (x == (int64_t)x && y == (int64_t)y)
                o[i] = (i128)(int64_t)x * (int64_t)y;
            else
                bad |= __builtin_mul_overflow(x, y, &o[i]);
        }
    } else {
        /* |value| < 2^127 / 10^18 after scaling cannot overflow i128 for 64-bit operands; 128-bit ones are
         * checked */
        int64_t fx = base_pow10[rs - sx], fy = base_pow10[rs - sy];
        for (size_t i = 0; i < n; i++) {
            i128 x = wa ? wxa[i] : xa[i], y = wb ? wxb[i] : xb[i];
            if (fx != 1)
                bad |= __builtin_mul_overflow(x, fx, &x);
            if (fy != 1)
                bad |= __builtin_mul_overflow(y, fy, &y);
            bad |= e->op == OP_ADD ? __builtin_add_overflow(x, y, &o[i]) : __builtin_sub_overflow(x, y, &o[i]);
        }
    }
    if (v->valid)
        for (size_t i = 0; i < n; i++)
            o[i] &= -(i128)v->valid[i];
    if (bad) {
        /* garbage in NULL rows may overflow harmlessly: redo the present rows one by one */
        for (size_t i = 0; i < n; i++) {
            if (v->valid && !v->valid[i])
                continue;
            i128 x = wa ? wxa[i] : xa[i], y = wb ? wxb[i] : xb[i], r;
            bool ov = false;
            if (e->op == OP_MUL) {
                ov = __builtin_mul_overflow(x, y, &r);
            } else {
                ov = __builtin_mul_overflow(x, base_pow10[rs - sx], &x) ||
                     __builtin_mul_overflow(y, base_pow10[rs - sy], &y) ||
                     (e->op == OP_ADD ? __builtin_add_overflow(x, y, &r) : __builtin_sub_overflow(x, y, &r));
            }
            if (ov)
                return overflow_err(t, e);
        }
    }
    memset(sc, rs, n);
    v->scales = sc;
    return 0;
}

static int arith_n128(eval_thread *t, bexpr *e, const vec *a, const vec *b, size_t n, vec *v)
{
    int ua, ub, rc;
    if (exec_uniform_scale(a, n, &ua) && exec_uniform_scale(b, n, &ub) && (rc = arith_n128_uniform(t, e, a, ua, b, ub, n, v)) <= 0)
        return rc;
    i128 *o = v->buf;
    uint8_t *sc = t->sbuf[e->slot];
    v->scales = sc;
    for (size_t i = 0; i < n; i++) {
        if (v->valid && !v->valid[i]) {
            o[i] = 0;
            sc[i] = 0;
            continue;
        }
        i128 x, y, r;
        int sx, sy, rs;
        get_num(a, i, &x, &sx);
        get_num(b, i, &y, &sy);
        bool bad = false;
        switch (e->op) {
        case OP_ADD:
        case OP_SUB:
        case OP_MOD:
            rs = MAX(sx, sy);
            {
                i128 xs = x, ys = y;
                for (int k = sx; k < rs && !bad; k++)
                    bad = __builtin_mul_overflow(xs, 10, &xs);
                for (int k = sy; k < rs && !bad; k++)
                    bad = __builtin_mul_overflow(ys, 10, &ys);
                if (!bad) {
                    if (e->op == OP_ADD)
                        bad = __builtin_add_overflow(xs, ys, &r);
                    else if (e->op == OP_SUB)
                        bad = __builtin_sub_overflow(xs, ys, &r);
                    else if (ys == 0)
                        return fail(t, FACTDB_INVALID_VALUE, e->pos, "division by zero");
                    else
                        r = xs % ys;
                }
            }
            break;
        case OP_MUL:
            rs = sx + sy;
            bad = __builtin_mul_overflow(x, y, &r) || rs > 76;
            break;
        default:
            if (y == 0)
                return fail(t, FACTDB_INVALID_VALUE, e->pos, "division by zero");
            rs = exec_div_scale(x, sx, y, sy);
            bad = rs > 76 || exec_n128_div(x, sx, y, sy, rs, &r);
            break;
        }
        if (bad)
            return overflow_err(t, e);
        o[i] = r;
        sc[i] = (uint8_t)rs;
    }
    return 0;
}

static int concat(eval_thread *t, bexpr *e, vec *a, vec *b, size_t n, vec *v)
{
    if (eval_strings(t, a, n) || eval_strings(t, b, n))
        return t->err.code;
    const sql_str *x = a->data, *y = b->data;
    sql_str *o = v->buf;
    for (size_t i = 0; i < n; i++) {
        if (v->valid && !v->valid[i]) {
            o[i].p = "";
            o[i].len = 0;
            continue;
        }
        size_t len = x[i].len + y[i].len;
        if (len > FACTDB_TEXT_MAX)
            return fail(t, FACTDB_LIMIT, e->pos, "text value longer than 1 MiB");
        char *p = sql_arena_alloc(&t->tmp, len + 1);
        if (!p)
            return oom(t, e->pos);
        memcpy(p, x[i].p, x[i].len);
        memcpy(p + x[i].len, y[i].p, y[i].len);
        o[i].p = p;
        o[i].len = len;
    }
    return 0;
}

/* ---- comparisons ---- */
static int str_cmp(sql_str a, sql_str b)
{
    size_t n = MIN(a.len, b.len);
    int c = n ? memcmp(a.p, b.p, n) : 0;
    return c ? c : (a.len < b.len ? -1 : a.len > b.len);
}

static inline uint8_t cmp_result(int op, int c)
{
    switch (op) {
    case CMP_EQ: return c == 0;
    case CMP_NE: return c != 0;
    case CMP_LT: return c < 0;
    case CMP_LE: return c <= 0;
    case CMP_GT: return c > 0;
    default: return c >= 0;
    }
}

#define CMP_LOOP(T, OP)                                                                  \
    {                                                                                    \
        const T *__restrict xa = a->data, *__restrict xb = b->data;                      \
        uint8_t *__restrict oo = o;                                                      \
        for (size_t i = 0; i < n; i++)                                                   \
            oo[i] = xa[i] OP xb[i];                                                      \
    }

/* The comparison e->op over two vectors of C type T, one loop per operator so each vectorizes. */
#define CMP_ALL(T)                                   \
    switch (e->op) {                                 \
    case CMP_EQ: CMP_LOOP(T, ==) break;              \
    case CMP_NE: CMP_LOOP(T, !=) break;              \
    case CMP_LT: CMP_LOOP(T, <) break;               \
    case CMP_LE: CMP_LOOP(T, <=) break;              \
    case CMP_GT: CMP_LOOP(T, >) break;               \
    default: CMP_LOOP(T, >=) break;                  \
    }

static bool is_memo_const(const vec *a, const bexpr *b) { return a->codes && !a->data && b->kind == B_CONST; }

/* Per dictionary code cache of a predicate over one text column and constants. */
static int8_t *memo_for(eval_thread *t, int slot, uint32_t code)
{
    if (code >= t->memo_len[slot]) {
        size_t nl = MAX((size_t)code + 1, t->memo_len[slot] * 2);
        if (nl < 64)
            nl = 64;
        int8_t *m = realloc(t->memo[slot], nl);
        if (!m)
            return NULL;
        memset(m + t->memo_len[slot], -1, nl - t->memo_len[slot]);
        t->memo[slot] = m;
        t->memo_len[slot] = nl;
    }
    return &t->memo[slot][code];
}

/* `a` is a dictionary-coded text column compared with a constant (e->args[1]): the predicate is computed
 * once per distinct code and cached for the rest of the query. A NULL constant yields NULL rows, which
 * the caller's validity already marks, so those rows get 0. */
static int memo_predicate(eval_thread *t, bexpr *e, const vec *a, size_t n, uint8_t *o,
                          bool (*pred)(const bexpr *e, sql_str s, sql_str k))
{
    const sql_value *k = &e->args[1]->val;
    if (k->null) {
        memset(o, 0, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        int8_t *m = memo_for(t, e->slot, a->codes[i]);
        if (!m)
            return oom(t, e->pos);
        if (*m < 0) {
            size_t len;
            const char *s = t->text(t->text_ctx, a->dict, a->codes[i], &len);
            *m = (int8_t)pred(e, (sql_str){s ? s : "", s ? len : 0}, k->s);
        }
        o[i] = (uint8_t)*m;
    }
    return 0;
}

static bool cmp_string(const bexpr *e, sql_str s, sql_str k) { return cmp_result(e->op, str_cmp(s, k)); }

BASE_VECTOR_CLONES static int eval_cmp(eval_thread *t, bexpr *e, vec *a, vec *b, size_t n, vec *v)
{
    uint8_t *o = v->buf;
    v->valid = and_valid(t, e->slot, a->valid, b->valid, n);
    phys p = exec_phys(e->args[0]->type);
    if (p == P_STR && is_memo_const(a, e->args[1]))
        return memo_predicate(t, e, a, n, o, cmp_string);
    switch (p) {
    case P_I64:
        CMP_ALL(int64_t);
        return 0;
    case P_U8:
        CMP_ALL(uint8_t);
        return 0;
    case P_F64: {
        const double *x = a->data, *y = b->data;
        CMP_ALL(double);
        /* PostgreSQL orders NaN above every number and equal to itself: redo rows with a NaN */
        bool nan = false;
        for (size_t i = 0; i < n; i++)
            nan |= (x[i] != x[i]) | (y[i] != y[i]);
        if (nan)
            for (size_t i = 0; i < n; i++) {
                if (!isnan(x[i]) && !isnan(y[i]))
                    continue;
                int c = isnan(x[i]) ? (isnan(y[i]) ? 0 : 1) : -1;
                o[i] = cmp_result(e->op, c);
            }
        return 0;
    }
    case P_STR: {
        if (eval_strings(t, a, n) || eval_strings(t, b, n))
            return t->err.code;
        const sql_str *x = a->data, *y = b->data;
        for (size_t i = 0; i < n; i++)
            o[i] = (v->valid && !v->valid[i]) ? 0 : cmp_result(e->op, str_cmp(x[i], y[i]));
        return 0;
    }
    default:
        for (size_t i = 0; i < n; i++) {
            sql_value x, y;
            vec_get(a, i, &x);
            vec_get(b, i, &y);
            o[i] = (x.null || y.null) ? 0 : cmp_result(e->op, exec_compare_values(&x, &y));
        }
        return 0;
    }
}

/* ---- LIKE ---- */
static size_t utf8_len1(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

/* The first place of needle n in haystack h. With SSE2 (every x86-64), 16 places are tried at once: those
 * whose first and last bytes both match the needle's are compared in full (Mula's "SIMD-friendly
 * algorithms for substring searching"); glibc's memmem spent most of TPC-H Q13's filter preparing its
 * search for each short comment. */
const char *exec_find(const char *h, size_t hn, const char *n, size_t nn)
{
    if (nn > hn)
        return NULL;
    if (nn <= 1)
        return nn ? memchr(h, n[0], hn) : h;
#if defined(__SSE2__)
    const __m128i first = _mm_set1_epi8(n[0]), last = _mm_set1_epi8(n[nn - 1]);
    size_t places = hn - nn + 1;  /* candidate starts 0 .. places-1 */
    if (places >= 16) {
        for (size_t i = 0;; i += 16) {
            size_t at = MIN(i, places - 16);  /* the last block overlaps the one before */
            __m128i f = _mm_loadu_si128((const __m128i *)(const void *)(h + at));
            __m128i l = _mm_loadu_si128((const __m128i *)(const void *)(h + at + nn - 1));
            unsigned mask = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(first, f), _mm_cmpeq_epi8(last, l)));
            mask &= ~0u << (i - at);  /* places before i were tried by the block before */
            while (mask) {
                size_t b = at + (size_t)__builtin_ctz(mask);
                if (!memcmp(h + b + 1, n + 1, nn - 2))
                    return h + b;
                mask &= mask - 1;
            }
            if (at + 16 >= places)
                return NULL;
        }
    }
#endif
    for (size_t i = 0; i + nn <= hn; i++)
        if (h[i] == n[0] && h[i + nn - 1] == n[nn - 1] && !memcmp(h + i + 1, n + 1, nn - 2))
            return h + i;
    return NULL;
}

/* LIKE for a pattern of literal pieces between % signs (no _ and no escape): the first piece anchors at the
 * start, the last at the end, the others are found left to right with exec_find (TPC-H Q13's
 * '%special%requests%' ran 12x faster than the backtracking matcher below). */
static bool like_pieces(const char *s, size_t sl, const char *p, size_t pl)
{
    size_t at = 0, pi = 0;
    bool first = true;
    while (pi <= pl) {
        size_t end = pi;
        while (end < pl && p[end] != '%')
            end++;
        size_t len = end - pi;
        bool last = end == pl;
        if (first && last)
            return sl == len && !memcmp(s, p + pi, len);
        if (first) {
            if (sl < len || memcmp(s, p + pi, len))
                return false;
            at = len;
        } else if (last) {
            return sl - at >= len && !memcmp(s + sl - len, p + pi, len);
        } else if (len) {
            const char *f = exec_find(s + at, sl - at, p + pi, len);
            if (!f)
                return false;
            at = (size_t)(f - s) + len;
        }
        first = false;
        pi = end + 1;
    }
    return true;
}

static bool like_bytes(const char *s, size_t sl, const char *p, size_t pl)
{
    if (!memchr(p, '_', pl) && !memchr(p, '\\', pl))
        return like_pieces(s, sl, p, pl);
    size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;
    while (si < sl) {
        if (pi < pl && p[pi] == '%') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < pl) {
            char pc = p[pi];
            size_t plen = 1;
            if (pc == '\\' && pi + 1 < pl) {
                pi++;
                pc = p[pi];
            } else if (pc == '_') {
                si += utf8_len1((unsigned char)s[si]);
                pi++;
                continue;
            }
            char sc = s[si];
            if (pc == sc) {
                si++;
                pi += plen;
                continue;
            }
        }
        if (star_p != (size_t)-1) {
            star_s += utf8_len1((unsigned char)s[star_s]);
            si = star_s;
            pi = star_p;
            continue;
        }
        return false;
    }
    while (pi < pl && p[pi] == '%')
        pi++;
    return pi == pl;
}

/* LIKE, or ILIKE (ci): as PostgreSQL, ILIKE is LIKE over lower() of both sides (the one case mapping of
 * lower/upper). Over a dictionary column this runs once per distinct code (memo_predicate). Text values
 * are at most 1 MiB, so the heap copies of long ones are small; should even they fail, the row does not
 * match (this predicate interface cannot report an error). */
static bool like_match(const char *s, size_t sl, const char *p, size_t pl, bool ci)
{
    if (!ci)
        return like_bytes(s, sl, p, pl);
    char sbuf[512], pbuf[256];
    char *ls = BASE_CASE_MAP_MAX(sl) <= sizeof sbuf ? sbuf : malloc(BASE_CASE_MAP_MAX(sl));
    char *lp = BASE_CASE_MAP_MAX(pl) <= sizeof pbuf ? pbuf : malloc(BASE_CASE_MAP_MAX(pl));
    bool r = false;
    if (ls && lp)
        r = like_bytes(ls, base_utf8_case_map(s, sl, 0, ls), lp, base_utf8_case_map(p, pl, 0, lp));
    if (ls != sbuf)
        free(ls);
    if (lp != pbuf)
        free(lp);
    return r;
}

static bool like_string(const bexpr *e, sql_str s, sql_str k) { return like_match(s.p, s.len, k.p, k.len, e->ilike) != e->neg; }

static int eval_like(eval_thread *t, bexpr *e, vec *a, vec *b, size_t n, vec *v)
{
    uint8_t *o = v->buf;
    v->valid = and_valid(t, e->slot, a->valid, b->valid, n);
    if (is_memo_const(a, e->args[1]))
        return memo_predicate(t, e, a, n, o, like_string);
    if (eval_strings(t, a, n) || eval_strings(t, b, n))
        return t->err.code;
    const sql_str *x = a->data, *y = b->data;
    for (size_t i = 0; i < n; i++)
        o[i] = (v->valid && !v->valid[i]) ? 0 : (uint8_t)(like_match(x[i].p, x[i].len, y[i].p, y[i].len, e->ilike) != e->neg);
    return 0;
}

/* ---- IN ---- */
static int eval_in(eval_thread *t, bexpr *e, vec *a, size_t n, vec *v)
{
    uint8_t *o = v->buf;
    uint8_t *valid = t->vbuf[e->slot];
    if (e->bits && exec_phys(a->type) == P_I64) {
        const int64_t *x = a->data;
        for (size_t i = 0; i < n; i++) {
            uint64_t d = (uint64_t)x[i] - (uint64_t)e->bits_min;
            o[i] = d < e->bits_len && (e->bits[d >> 6] >> (d & 63) & 1);
        }
        if (e->neg)
            for (size_t i = 0; i < n; i++)
                o[i] ^= 1;
        v->valid = a->valid;  /* NULL IN (...) is NULL; the set has no NULL */
        return 0;
    }
    if (e->set_ints && exec_phys(a->type) == P_I64 && a->data) {
        /* a binary search over the values themselves (TPC-H Q16's NOT IN of 5 keys: the generic
         * comparison of sql_values was a fifth of the query) */
        const int64_t *x = a->data;
        for (size_t i = 0; i < n; i++) {
            if (a->valid && !a->valid[i]) {
                valid[i] = 0;
                o[i] = 0;
                continue;
            }
            int lo = 0, hi = e->nset - 1;
            bool found = false;
            while (lo <= hi && !found) {
                int mid = (lo + hi) / 2;
                found = x[i] == e->set[mid].i;
                if (x[i] < e->set[mid].i)
                    hi = mid - 1;
                else
                    lo = mid + 1;
            }
            int r = found ? 1 : e->set_has_null ? 2 : 0;  /* x IN (..., NULL) is NULL when not found */
            if (r != 2 && e->neg)
                r = !r;
            valid[i] = r != 2;
            o[i] = r == 1;
        }
        v->valid = valid;
        return 0;
    }
    bool memo = a->codes && !a->data;
    if (!memo && exec_phys(a->type) == P_STR && eval_strings(t, a, n))
        return t->err.code;
    for (size_t i = 0; i < n; i++) {
        if (a->valid && !a->valid[i]) {
            valid[i] = 0;
            o[i] = 0;
            continue;
        }
        int8_t *m = NULL;
        if (memo) {
            if (!(m = memo_for(t, e->slot, a->codes[i])))
                return oom(t, e->pos);
            if (*m >= 0) {
                valid[i] = *m != 2;
                o[i] = *m == 1;
                continue;
            }
        }
        sql_value x;
        if (memo) {
            memset(&x, 0, sizeof x);
            x.type = a->type;
            x.s.p = t->text(t->text_ctx, a->dict, a->codes[i], &x.s.len);
            if (!x.s.p)
                x.s.p = "";
        } else {
            vec_get(a, i, &x);
        }
        int lo = 0, hi = e->nset - 1;
        bool found = false;
        while (lo <= hi) {
            int mid = (lo + hi) / 2;
            int c = exec_compare_values(&x, &e->set[mid]);
            if (!c) {
                found = true;
                break;
            }
            if (c < 0)
                hi = mid - 1;
            else
                lo = mid + 1;
        }
        /* x IN (..., NULL) is NULL when not found; NOT IN likewise */
        int r = found ? 1 : e->set_has_null ? 2 : 0;
        if (r != 2 && e->neg)
            r = !r;
        if (m)
            *m = (int8_t)r;
        valid[i] = r != 2;
        o[i] = r == 1;
    }
    v->valid = valid;
    return 0;
}

/* ---- selections ---- */
/* Builds the absolute row numbers of local rows idx[0..m) under `sel`. */
static void compose(const uint32_t *sel, const uint32_t *idx, size_t m, uint32_t *out)
{
    for (size_t i = 0; i < m; i++)
        out[i] = sel ? sel[idx[i]] : idx[i];
}

static void scatter(vec *dst, const vec *src, const uint32_t *idx, size_t m, uint8_t *valid)
{
    phys p = exec_phys(dst->type);
    size_t w = phys_width(p);
    for (size_t i = 0; i < m; i++) {
        size_t k = idx[i];
        valid[k] = src->valid ? src->valid[i] : 1;
        memcpy((char *)dst->buf + k * w, (const char *)src->data + i * w, w);
        if (p == P_N128)
            ((uint8_t *)dst->scales)[k] = src->scales ? src->scales[i] : 0;
    }
}

static int eval_case(eval_thread *t, bexpr *e, const uint32_t *sel, size_t n, vec *v)
{
    uint32_t *rest = idx_scratch(t, e), *idx = rest + t->cap_, *abs_ = idx + t->cap_;
    if (!rest)
        return t->err.code;
    size_t nrest = n;
    for (size_t i = 0; i < n; i++)
        rest[i] = (uint32_t)i;
    uint8_t *valid = t->vbuf[e->slot];
    memset(valid, 0, n);
    if (exec_phys(e->type) == P_N128)
        v->scales = t->sbuf[e->slot];
    int npairs = (e->nargs - (e->has_else ? 1 : 0)) / 2;
    for (int k = 0; k < npairs && nrest; k++) {
        vec *c;
        compose(sel, rest, nrest, abs_);
        if (eval(t, e->args[2 * k], abs_, nrest, &c))
            return t->err.code;
        const uint8_t *cv = c->data;
        size_t m = 0, r = 0;
        for (size_t i = 0; i < nrest; i++) {
            if ((!c->valid || c->valid[i]) && cv[i])
                idx[m++] = rest[i];
            else
                rest[r++] = rest[i];
        }
        nrest = r;
        if (!m)
            continue;
        vec *val;
        compose(sel, idx, m, abs_);
        if (eval(t, e->args[2 * k + 1], abs_, m, &val) || eval_strings(t, val, m))
            return t->err.code;
        scatter(v, val, idx, m, valid);
    }
    if (e->has_else && nrest) {
        vec *val;
        compose(sel, rest, nrest, abs_);
        if (eval(t, e->args[e->nargs - 1], abs_, nrest, &val) || eval_strings(t, val, nrest))
            return t->err.code;
        scatter(v, val, rest, nrest, valid);
    }
    v->valid = valid;
    return 0;
}

static int eval_coalesce(eval_thread *t, bexpr *e, const uint32_t *sel, size_t n, vec *v)
{
    uint32_t *rest = idx_scratch(t, e), *abs_ = rest + t->cap_, *sub = abs_ + t->cap_;
    if (!rest)
        return t->err.code;
    size_t nrest = n;
    for (size_t i = 0; i < n; i++)
        rest[i] = (uint32_t)i;
    uint8_t *valid = t->vbuf[e->slot];
    memset(valid, 0, n);
    if (exec_phys(e->type) == P_N128)
        v->scales = t->sbuf[e->slot];
    for (int k = 0; k < e->nargs && nrest; k++) {
        vec *a;
        compose(sel, rest, nrest, abs_);
        if (eval(t, e->args[k], abs_, nrest, &a) || eval_strings(t, a, nrest))
            return t->err.code;
        size_t r = 0;
        /* copy the present values, keep the NULL rows for the next argument */
        size_t m = 0;
        for (size_t i = 0; i < nrest; i++) {
            if (!a->valid || a->valid[i])
                sub[m++] = (uint32_t)i;
        }
        for (size_t j = 0; j < m; j++) {
            size_t i = sub[j], dst = rest[i];
            size_t w = phys_width(exec_phys(e->type));
            memcpy((char *)v->buf + dst * w, (const char *)a->data + i * w, w);
            if (v->scales)
                ((uint8_t *)v->scales)[dst] = a->scales ? a->scales[i] : 0;
            valid[dst] = 1;
        }
        for (size_t i = 0; i < nrest; i++)
            if (a->valid && !a->valid[i])
                rest[r++] = rest[i];
        nrest = r;
    }
    v->valid = valid;
    return 0;
}

/* AND/OR with any number of arguments (the binder flattens chains): each argument is evaluated only on
 * the rows still undecided, so a 10,000-term OR is a loop here, not 10,000 nested calls. */
static int eval_logic(eval_thread *t, bexpr *e, const uint32_t *sel, size_t n, vec *v)
{
    bool is_and = e->kind == B_AND;
    uint8_t *o = v->buf, *valid = t->vbuf[e->slot];
    uint32_t *need = idx_scratch(t, e), *abs_ = need + t->cap_;
    if (!need)
        return t->err.code;
    for (size_t i = 0; i < n; i++) {
        o[i] = is_and;  /* the result if no argument decides the row */
        valid[i] = 1;
        need[i] = (uint32_t)i;
    }
    size_t m = n;
    for (int k = 0; k < e->nargs && m; k++) {
        vec *b;
        const uint32_t *bsel = sel;
        if (m != n) {
            compose(sel, need, m, abs_);
            bsel = abs_;
        }
        if (eval(t, e->args[k], bsel, m, &b))
            return t->err.code;
        const uint8_t *bv = b->data;
        size_t r = 0;
        for (size_t j = 0; j < m; j++) {
            size_t i = need[j];
            bool bnull = b->valid && !b->valid[j];
            if (!bnull && (is_and ? !bv[j] : bv[j])) {
                o[i] = !is_and;  /* FALSE decides an AND, TRUE an OR */
                valid[i] = 1;
                continue;
            }
            if (bnull) {
                o[i] = 0;  /* NULL unless a later argument decides the row */
                valid[i] = 0;
            }
            need[r++] = (uint32_t)i;
        }
        m = r;
    }
    v->valid = valid;
    return 0;
}

/* ---- functions ---- */

int64_t exec_date_trunc(int unit, int64_t us);
#define DCACHE 4096

/* date_trunc over a vector: rows of one day share the result (fact data arrives in time order). */
static int date_trunc_vec(eval_thread *t, bexpr *e, const uint32_t *sel, size_t n, vec *v)
{
    vec *a;
    if (eval(t, e->args[0], sel, n, &a))
        return t->err.code;
    const int64_t *x = a->data;
    int64_t *o = v->buf;
    const int64_t day = 86400000000LL;
    int64_t last_day = INT64_MIN, last = 0;
    bool by_day = e->aux >= 3;  /* day and coarser units depend on the day only */
    /* a direct-mapped cache of day -> result kept across vectors: a fact table's dates span a few
     * thousand days, and the calendar arithmetic was half of `GROUP BY date_trunc('month', d)` */
    int64_t *cache = by_day ? t->dcache[e->slot] : NULL;
    if (by_day && !cache && (cache = t->dcache[e->slot] = malloc(2 * DCACHE * sizeof *cache)))
        for (size_t i = 0; i < DCACHE; i++)
            cache[2 * i] = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        if (a->valid && !a->valid[i]) {
            o[i] = 0;
            continue;
        }
        if (!by_day) {
            o[i] = exec_date_trunc(e->aux, x[i]);
            continue;
        }
        int64_t d = x[i] >= 0 ? x[i] / day : -((-x[i] + day - 1) / day);
        if (d != last_day) {
            last_day = d;
            int64_t *c = cache ? cache + 2 * ((uint64_t)d & (DCACHE - 1)) : NULL;
            if (c && c[0] == d) {
                last = c[1];
            } else {
                last = exec_date_trunc(e->aux, d * day);
                if (c)
                    c[0] = d, c[1] = last;
            }
        }
        o[i] = last;
        if (!base_ts_in_range(last))  /* the decade of years 1..9 starts in year 0 */
            return fail(t, FACTDB_INVALID_VALUE, e->pos, BASE_TS_RANGE_ERROR);
    }
    v->valid = a->valid;
    return 0;
}

static int eval_func(eval_thread *t, bexpr *e, const uint32_t *sel, size_t n, vec *v)
{
    if (e->op == F_DATE_TRUNC)
        return date_trunc_vec(t, e, sel, n, v);
    vec *a[8];
    for (int k = 0; k < e->nargs; k++) {
        if (eval(t, e->args[k], sel, n, &a[k]))
            return t->err.code;
        if (exec_phys(a[k]->type) == P_STR && eval_strings(t, a[k], n))
            return t->err.code;
    }
    uint8_t *valid = t->vbuf[e->slot];
    if (exec_phys(e->type) == P_N128)
        v->scales = t->sbuf[e->slot];
    sql_value args[8], r;
    bool strict = e->op != F_GREATEST && e->op != F_LEAST;
    for (size_t i = 0; i < n; i++) {
        bool anynull = false;
        for (int k = 0; k < e->nargs; k++) {
            vec_get(a[k], i, &args[k]);
            anynull |= args[k].null;
        }
        if (strict && anynull) {
            valid[i] = 0;
            continue;
        }
        memset(&r, 0, sizeof r);
        r.type = e->type;
        if (exec_func_scalar(t, e, args, &r))
            return t->err.code;
        store_value(v, i, &r, valid);
    }
    v->valid = valid;
    return 0;
}

static int eval_cast(eval_thread *t, bexpr *e, vec *a, size_t n, vec *v)
{
    sql_type from = a->type, to = e->type;
    phys pf = exec_phys(from), pt = exec_phys(to);
    v->valid = a->valid;
    /* physical no-ops */
    if (pf == P_I64 && pt == P_I64 &&
        ((from.id == TY_INT && to.id == TY_BIGINT) ||
         (from.id == TY_NUMERIC && to.id == TY_NUMERIC && from.scale == to.scale && (!to.prec || to.prec >= from.prec)) ||
         (from.id == to.id && from.id != TY_NUMERIC))) {
        v->data = a->data;
        return 0;
    }
    /* int/bigint/numeric -> wider-scaled numeric, and -> double: vector loops */
    if (pf == P_I64 && to.id == TY_NUMERIC && pt == P_I64 && (from.id == TY_INT || from.id == TY_BIGINT || from.id == TY_NUMERIC)) {
        int fs = from.id == TY_NUMERIC ? from.scale : 0;
        if (to.scale >= fs) {
            int64_t mul = base_pow10[to.scale - fs];
            const int64_t *x = a->data;
            int64_t *o = v->buf;
            bool ovf = false;
            for (size_t i = 0; i < n; i++)
                ovf |= __builtin_mul_overflow(x[i], mul, &o[i]);
            int64_t lim = to.prec ? base_pow10[to.prec] : INT64_MAX;
            bool bad = false;
            for (size_t i = 0; i < n && (ovf || to.prec); i++)
                if (!(a->valid && !a->valid[i])) {
                    int64_t r;
                    if (__builtin_mul_overflow(x[i], mul, &r) || (to.prec && (r >= lim || r <= -lim)))
                        bad = true;
                }
            if (!bad)
                return 0;
        }
    }
    if (pf == P_I64 && to.id == TY_DOUBLE && (from.id == TY_INT || from.id == TY_BIGINT || from.id == TY_NUMERIC)) {
        const int64_t *x = a->data;
        double *o = v->buf;
        if (from.id != TY_NUMERIC || from.scale == 0) {
            for (size_t i = 0; i < n; i++)
                o[i] = (double)x[i];
            return 0;
        }
        double d = (double)base_pow10[from.scale];
        bool exact = true;
        for (size_t i = 0; i < n; i++) {
            exact &= x[i] > -(1LL << 53) && x[i] < (1LL << 53);
            o[i] = (double)x[i] / d;
        }
        if (exact)
            return 0;
    }
    if (from.id == TY_DATE && (to.id == TY_TIMESTAMP || to.id == TY_TIMESTAMPTZ)) {
        const int64_t *x = a->data;
        int64_t *o = v->buf;
        for (size_t i = 0; i < n; i++)
            o[i] = x[i] * 86400000000LL;
        return 0;
    }
    /* everything else, value by value */
    if (pf == P_STR && eval_strings(t, a, n))
        return t->err.code;
    uint8_t *valid = t->vbuf[e->slot];
    if (pt == P_N128)
        v->scales = t->sbuf[e->slot];
    for (size_t i = 0; i < n; i++) {
        sql_value x, r;
        vec_get(a, i, &x);
        if (exec_cast_value(&x, to, e->pos, &t->tmp, &r, &t->err))
            return t->err.code;
        store_value(v, i, &r, valid);
    }
    v->valid = valid;
    return 0;
}

static int arith_apply(eval_thread *t, bexpr *e, vec *a, vec *b, size_t n, vec *v)
{
    v->valid = and_valid(t, e->slot, a->valid, b->valid, n);
    if (e->op == OP_CONCAT)
        return concat(t, e, a, b, n, v);
    switch (exec_phys(e->type)) {
    case P_I64: return arith_i64(t, e, a, b, n, v);
    case P_F64: return arith_f64(t, e, a, b, n, v);
    default: return arith_n128(t, e, a, b, n, v);
    }
}

/* The top k concatenations of a chain, a || r1 || r2 ...: each row's result is allocated once at its final
 * length (step by step, k concatenations copied O(k^2) bytes: 2,000 of them over 100,000 rows took 43 s).
 * run[0] is the top node; run[k-1]'s left operand is `a`. Strict: NULL if any operand is NULL. */
static int concat_run(eval_thread *t, bexpr **run, size_t k, vec *a, const uint32_t *sel, size_t n, vec *v)
{
    vec **r = malloc(k * sizeof *r);
    if (!r)
        return fail(t, FACTDB_NOMEM, run[0]->pos, "out of memory");
    int rc = eval_strings(t, a, n);
    bool nulls = a->valid != NULL;
    for (size_t j = k; j-- > 0 && !rc;) {
        if (!(rc = eval(t, run[j]->args[1], sel, n, &r[j])))
            rc = eval_strings(t, r[j], n);
        nulls |= !rc && r[j]->valid;
    }
    uint8_t *valid = t->vbuf[run[0]->slot];
    sql_str *o = v->buf;
    const sql_str *x = a->data;
    for (size_t i = 0; i < n && !rc; i++) {
        bool null = a->valid && !a->valid[i];
        size_t len = x[i].len;
        for (size_t j = 0; j < k; j++) {
            null |= r[j]->valid && !r[j]->valid[i];
            len += ((const sql_str *)r[j]->data)[i].len;
        }
        valid[i] = !null;
        o[i].p = "";
        o[i].len = 0;
        if (null)
            continue;
        if (len > FACTDB_TEXT_MAX) {
            rc = fail(t, FACTDB_LIMIT, run[0]->pos, "text value longer than 1 MiB");
            break;
        }
        char *p = sql_arena_alloc(&t->tmp, len + 1);
        if (!p) {
            rc = oom(t, run[0]->pos);
            break;
        }
        memcpy(p, x[i].p, x[i].len);
        size_t at = x[i].len;
        for (size_t j = k; j-- > 0;) {
            const sql_str *y = &((const sql_str *)r[j]->data)[i];
            memcpy(p + at, y->p, y->len);
            at += y->len;
        }
        o[i].p = p;
        o[i].len = len;
    }
    v->valid = nulls ? valid : NULL;
    free(r);
    return rc ? t->err.code : 0;
}

/* `x + 1 + 1 + ...` binds to a left-deep tree as deep as the chain is long (each step has its own
 * PostgreSQL type and overflow check). Walk its left spine (arithmetic and the casts the binder put on
 * it) bottom-up in a loop, recursing only into the right operands, whose depth the parser bounds. */
static int eval_arith_chain(eval_thread *t, bexpr *e, const uint32_t *sel, size_t n, vec *v)
{
    bexpr *small[64], **spine = small;
    size_t len = 0, cap = ARRAY_LEN(small);
    bexpr *cur = e;
    int rc = 0;
    while (cur->kind == B_ARITH || cur->kind == B_CAST) {
        if (len == cap) {
            bexpr **ns = malloc(cap * 2 * sizeof *ns);
            if (!ns) {
                rc = fail(t, FACTDB_NOMEM, e->pos, "out of memory");
                goto out;
            }
            memcpy(ns, spine, len * sizeof *ns);
            if (spine != small)
                free(spine);
            spine = ns;
            cap *= 2;
        }
        spine[len++] = cur;
        cur = cur->args[0];
    }
    size_t k = 0;  /* the top run of concatenations is done in one pass */
    while (k < len && spine[k]->kind == B_ARITH && spine[k]->op == OP_CONCAT)
        k++;
    if (k < 2)
        k = 0;
    vec *a, *b;
    if ((rc = eval(t, cur, sel, n, &a)))
        goto out;
    while (len > k) {
        bexpr *s = spine[--len];
        vec *sv = s == e ? v : slot_vec(t, s);
        if (t->x && t->x->cancel && atomic_load_explicit(t->x->cancel, memory_order_relaxed)) {
            rc = fail(t, FACTDB_INVALID_ARGUMENT, 0, "canceling statement due to user request");
            goto out;
        }
        if (s->kind == B_CAST)
            rc = eval_cast(t, s, a, n, sv);
        else if (!(rc = eval(t, s->args[1], sel, n, &b)))
            rc = arith_apply(t, s, a, b, n, sv);
        if (rc)
            goto out;
        a = sv;
    }
    if (k)
        rc = concat_run(t, spine, k, a, sel, n, v);
out:
    if (spine != small)
        free(spine);
    return rc;
}

static int eval_node(eval_thread *t, bexpr *e, const uint32_t *sel, size_t n, vec **out);

/* A node shared by several aggregates' arguments is computed once per selection window: its slot's vector
 * stays valid while slot_gen says so; an evaluation through any other selection overwrites it. */
int eval(eval_thread *t, bexpr *e, const uint32_t *sel, size_t n, vec **out)
{
    if (!e->shared)
        return eval_node(t, e, sel, n, out);
    bool window = t->mgen && sel == t->msel && n == t->mn;
    if (window && !t->slot_gen && !(t->slot_gen = calloc((size_t)t->nslots_, sizeof *t->slot_gen)))
        window = false;
    if (window && t->slot_gen[e->slot] == t->mgen) {
        *out = &t->v[e->slot];  /* as computed: slot_vec would reset it */
        return 0;
    }
    if (t->slot_gen)
        t->slot_gen[e->slot] = 0;
    int rc = eval_node(t, e, sel, n, out);
    if (!rc && window)
        t->slot_gen[e->slot] = t->mgen;
    return rc;
}

static int eval_node(eval_thread *t, bexpr *e, const uint32_t *sel, size_t n, vec **out)
{
    vec *v = slot_vec(t, e);
    *out = v;
    if (t->x && t->x->cancel && atomic_load_explicit(t->x->cancel, memory_order_relaxed))
        return fail(t, FACTDB_INVALID_ARGUMENT, 0, "canceling statement due to user request");
    vec *a, *b;
    switch (e->kind) {
    case B_CONST: return eval_const_node(t, e, n, v);
    case B_INPUT:
        if (t->mgen && sel && sel == t->msel && n == t->mn && e->input < t->nin) {
            /* the same column gathered through the same selection for another aggregate: reuse it */
            if (!t->in_gen && !(t->in_gen = calloc((size_t)t->nin, sizeof *t->in_gen)))
                return eval_input(t, e, sel, n, v);
            if (!t->in_vec && !(t->in_vec = calloc((size_t)t->nin, sizeof *t->in_vec)))
                return eval_input(t, e, sel, n, v);
            const vec *m = t->in_vec[e->input];
            if (t->in_gen[e->input] == t->mgen && m && m != v) {
                v->data = m->data;
                v->valid = m->valid;
                v->scales = m->scales;
                v->codes = m->codes;
                v->dict = m->dict;
                return 0;
            }
            int rc = eval_input(t, e, sel, n, v);
            if (!rc) {
                t->in_gen[e->input] = t->mgen;
                t->in_vec[e->input] = v;
            }
            return rc;
        }
        return eval_input(t, e, sel, n, v);
    case B_CAST:
        if (eval(t, e->args[0], sel, n, &a))
            return t->err.code;
        return eval_cast(t, e, a, n, v);
    case B_NEG: {
        if (eval(t, e->args[0], sel, n, &a))
            return t->err.code;
        v->valid = a->valid;
        if (exec_phys(e->type) == P_F64) {
            for (size_t i = 0; i < n; i++)
                ((double *)v->buf)[i] = -((const double *)a->data)[i];
        } else if (exec_phys(e->type) == P_N128) {
            v->scales = a->scales;
            for (size_t i = 0; i < n; i++)
                ((i128 *)v->buf)[i] = -((const i128 *)a->data)[i];
        } else {
            for (size_t i = 0; i < n; i++) {
                int64_t x = ((const int64_t *)a->data)[i];
                if ((x == INT64_MIN || (e->type.id == TY_INT && x == INT32_MIN)) && !(a->valid && !a->valid[i]))
                    return overflow_err(t, e);
                ((int64_t *)v->buf)[i] = x == INT64_MIN ? 0 : -x;
            }
        }
        return 0;
    }
    case B_ARITH:
        if (e->args[0]->kind == B_ARITH || e->args[0]->kind == B_CAST)
            return eval_arith_chain(t, e, sel, n, v);
        if (eval(t, e->args[0], sel, n, &a) || eval(t, e->args[1], sel, n, &b))
            return t->err.code;
        return arith_apply(t, e, a, b, n, v);
    case B_CMP:
        if (eval(t, e->args[0], sel, n, &a) || eval(t, e->args[1], sel, n, &b))
            return t->err.code;
        return eval_cmp(t, e, a, b, n, v);
    case B_AND:
    case B_OR: return eval_logic(t, e, sel, n, v);
    case B_NOT:
        if (eval(t, e->args[0], sel, n, &a))
            return t->err.code;
        v->valid = a->valid;
        for (size_t i = 0; i < n; i++)
            ((uint8_t *)v->buf)[i] = !((const uint8_t *)a->data)[i];
        return 0;
    case B_ISNULL:
        if (eval(t, e->args[0], sel, n, &a))
            return t->err.code;
        for (size_t i = 0; i < n; i++)
            ((uint8_t *)v->buf)[i] = (uint8_t)((a->valid && !a->valid[i]) != e->neg);
        return 0;
    case B_IN:
        if (eval(t, e->args[0], sel, n, &a))
            return t->err.code;
        return eval_in(t, e, a, n, v);
    case B_LIKE:
        if (eval(t, e->args[0], sel, n, &a) || eval(t, e->args[1], sel, n, &b))
            return t->err.code;
        return eval_like(t, e, a, b, n, v);
    case B_CASE: return eval_case(t, e, sel, n, v);
    case B_COALESCE: return eval_coalesce(t, e, sel, n, v);
    case B_NULLIF: {
        if (eval(t, e->args[0], sel, n, &a) || eval(t, e->args[1], sel, n, &b) || eval_strings(t, a, n) ||
            eval_strings(t, b, n))
            return t->err.code;
        uint8_t *valid = t->vbuf[e->slot];
        if (exec_phys(e->type) == P_N128)
            v->scales = t->sbuf[e->slot];
        for (size_t i = 0; i < n; i++) {
            sql_value x, y;
            vec_get(a, i, &x);
            vec_get(b, i, &y);
            if (!x.null && !y.null && exec_compare_values(&x, &y) == 0)
                x.null = true;
            store_value(v, i, &x, valid);
        }
        v->valid = valid;
        return 0;
    }
    case B_FUNC: return eval_func(t, e, sel, n, v);
    case B_ERROR: return (t->err = *e->error).code;
    }
    return fail(t, FACTDB_INTERNAL, e->pos, "unknown expression node");
}

/* A conjunct that cannot fail and costs a few instructions per row: a comparison of a column or a
 * constant with a column or a constant, or IS [NOT] NULL of a column. */
static bool cheap(const bexpr *e)
{
    if (e->kind == B_ISNULL)
        return e->args[0]->kind == B_INPUT;
    if (e->kind != B_CMP)
        return false;
    for (int i = 0; i < 2; i++) {
        const bexpr *a = e->args[i];
        if (a->kind != B_INPUT && a->kind != B_CONST)
            return false;
        phys p = exec_phys(a->type);
        if (p != P_I64 && p != P_F64 && p != P_U8)
            return false;
    }
    return true;
}

int eval_filter(eval_thread *t, bexpr *e, const uint32_t *sel, size_t n, uint32_t *out_sel, size_t *m)
{
    if (e->kind == B_AND && !sel) {
        /* Cheap conjuncts run over every row into one mask (no gathers, vectorizable); the rest then
         * narrow the selection one by one, so they only see rows that can still qualify. */
        bexpr **cj = e->args;  /* the binder flattened nested ANDs */
        int nc = e->nargs;
        int ncheap = 0;
        for (int i = 0; i < nc; i++)
            ncheap += cheap(cj[i]);
        if (ncheap >= 2) {
            uint8_t mask[EXEC_VEC];
            memset(mask, 1, n);
            for (int i = 0; i < nc; i++) {
                if (!cheap(cj[i]))
                    continue;
                vec *v;
                if (eval(t, cj[i], NULL, n, &v))
                    return t->err.code;
                const uint8_t *d = v->data;
                if (v->valid)
                    for (size_t r = 0; r < n; r++)
                        mask[r] &= d[r] & v->valid[r];
                else
                    for (size_t r = 0; r < n; r++)
                        mask[r] &= d[r];
            }
            size_t k = 0;
            for (size_t r = 0; r < n; r++) {
                out_sel[k] = (uint32_t)r;
                k += mask[r];
            }
            for (int i = 0; i < nc && k; i++) {
                if (cheap(cj[i]))
                    continue;
                if (eval_filter(t, cj[i], out_sel, k, out_sel, &k))
                    return t->err.code;
            }
            *m = k;
            return 0;
        }
    }
    if (e->kind == B_AND) {
        size_t k = n;
        for (int i = 0; i < e->nargs && k; i++) {
            if (eval_filter(t, e->args[i], sel, k, out_sel, &k))
                return t->err.code;
            sel = out_sel;
        }
        *m = k;
        return 0;
    }
    vec *v;
    if (eval(t, e, sel, n, &v))
        return t->err.code;
    const uint8_t *d = v->data;
    size_t k = 0;
    if (v->valid) {
        for (size_t i = 0; i < n; i++) {
            out_sel[k] = sel ? sel[i] : (uint32_t)i;
            k += d[i] & v->valid[i];
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            out_sel[k] = sel ? sel[i] : (uint32_t)i;
            k += d[i];
        }
    }
    *m = k;
    return 0;
}

static int eval_const_slots(bexpr *e, int nslots, int64_t now_us, sql_arena *a, sql_value *out, factdb_error *err);

static const char *no_text(void *ctx, int col, uint32_t code, size_t *len)
{
    (void)ctx, (void)col, (void)code;
    *len = 0;
    return NULL;
}

/* Folding happens once per node while binding, and a node's slot number grows with the query: giving the
 * evaluator all `nslots` slots made each fold O(query size) and binding `1 + 1 + ...` quadratic (3,200
 * terms: 26 s). The subtree gets slots 0..k-1 for the evaluation and its own numbers back afterwards. */
int eval_const(bexpr *e, int nslots, int64_t now_us, sql_arena *a, sql_value *out, factdb_error *err)
{
    (void)nslots;
    size_t k = 0, cap = 16, top = 0;
    bexpr **nodes = malloc(cap * sizeof *nodes);
    int *saved = NULL;
    if (!nodes)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    nodes[k++] = e;
    while (top < k) {  /* breadth-first: `nodes` is both the queue and the list */
        bexpr *n = nodes[top++];
        for (int i = 0; i < n->nargs; i++) {
            if (!n->args[i])
                continue;
            if (k == cap) {
                bexpr **nn = realloc(nodes, cap * 2 * sizeof *nodes);
                if (!nn) {
                    free(nodes);
                    return base_err(err, FACTDB_NOMEM, "out of memory");
                }
                nodes = nn;
                cap *= 2;
            }
            nodes[k++] = n->args[i];
        }
    }
    if (!(saved = malloc(k * sizeof *saved))) {
        free(nodes);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < k; i++) {
        saved[i] = nodes[i]->slot;
        nodes[i]->slot = (int)i;
    }
    int rc = eval_const_slots(e, (int)k, now_us, a, out, err);
    for (size_t i = 0; i < k; i++)
        nodes[i]->slot = saved[i];
    free(saved);
    free(nodes);
    return rc;
}

static int eval_const_slots(bexpr *e, int nslots, int64_t now_us, sql_arena *a, sql_value *out, factdb_error *err)
{
    exec_ctx x = {.now_us = now_us};
    eval_thread t;
    int rc = eval_thread_init(&t, &x, nslots, 1, err);
    t.text = no_text;
    if (!rc) {
        vec *v;
        if (eval(&t, e, NULL, 1, &v) || eval_strings(&t, v, 1)) {
            rc = t.err.code;
            *err = t.err;
        } else {
            vec_get(v, 0, out);
            if (!out->null && exec_phys(out->type) == P_STR) {
                char *p = sql_arena_strndup(a, out->s.p, out->s.len);
                if (!p)
                    rc = base_err(err, FACTDB_NOMEM, "out of memory");
                out->s.p = p;
            }
        }
    }
    eval_thread_cleanup(&t);
    return rc;
}

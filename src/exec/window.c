/* window.c: window functions over a materialized relation. For each call the rows are sorted by (PARTITION
 * BY, ORDER BY) through a permutation; each partition is then walked once, with frames whose two ends only
 * move forward (every frame factdb accepts has that shape), so aggregates add rows at the end and drop them
 * at the start where that is exact (counts, integer and numeric sums) and restart otherwise (doubles, whose
 * running sums would drift from PostgreSQL's); min / max keep a monotonic deque. The result has the input's columns then one per
 * call, in the input's row order. */
#include "exec.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct wctx {
    const exec_window *w;
    const exec_wcall *k;
    const rowset *in;
    rowset *out;
    int col;                    /* the call's output column */
    factdb_error *err;
} wctx;

/* Charges (bytes > 0) or releases (bytes < 0 as a size_t of its negation) scratch memory. */
static int charge(const exec_window *w, size_t bytes, factdb_error *err)
{
    if (!w->mem)
        return 0;
    size_t now = atomic_fetch_add(w->mem, bytes) + bytes;
    if (w->mem_limit && now > w->mem_limit) {
        atomic_fetch_sub(w->mem, bytes);
        return base_err(err, FACTDB_LIMIT,
                        "the query needs more than its memory limit of %zu MiB; add filters or a LIMIT, or raise "
                        "the limit (factdb sql --memory-limit)", w->mem_limit >> 20);
    }
    return 0;
}

static void release(const exec_window *w, size_t bytes)
{
    if (w->mem)
        atomic_fetch_sub(w->mem, bytes);
}

static int canceled(const exec_window *w, factdb_error *err)
{
    if (w->cancel && atomic_load_explicit(w->cancel, memory_order_relaxed))
        return base_err(err, FACTDB_INVALID_ARGUMENT, "canceling statement due to user request");
    return 0;
}

/* ---- ordering ---- */
static int cmp_key(const rowset *in, int col, int64_t a, int64_t b, bool desc, bool nulls_first)
{
    sql_value x, y;
    rowset_get(in, col, (size_t)a, &x);
    rowset_get(in, col, (size_t)b, &y);
    if (x.null || y.null) {
        if (x.null && y.null)
            return 0;
        return x.null == nulls_first ? -1 : 1;
    }
    int c = exec_compare_values(&x, &y);
    return desc ? -c : c;
}

static int cmp_part(const exec_wcall *k, const rowset *in, int64_t a, int64_t b)
{
    for (int i = 0; i < k->npart; i++) {
        int c = cmp_key(in, k->part[i], a, b, false, false);
        if (c)
            return c;
    }
    return 0;
}

static int cmp_order(const exec_wcall *k, const rowset *in, int64_t a, int64_t b)
{
    for (int i = 0; i < k->norder; i++) {
        int c = cmp_key(in, k->order[i].col, a, b, k->order[i].desc, k->order[i].nulls_first);
        if (c)
            return c;
    }
    return 0;
}

static int cmp_rows(const exec_wcall *k, const rowset *in, int64_t a, int64_t b)
{
    int c = cmp_part(k, in, a, b);
    return c ? c : cmp_order(k, in, a, b);
}

/* Stable merge sort of v[0..n) (tmp: n scratch entries); stable, so rows equal on every key keep the input's
 * order, as PostgreSQL's sort of an already ordered input would. */
static int sort_rows(const exec_window *w, const exec_wcall *k, const rowset *in, int64_t *v, int64_t *tmp,
                     size_t n, factdb_error *err)
{
    for (size_t width = 1; width < n; width *= 2) {
        if (canceled(w, err))
            return err->code;
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = MIN(lo + width, n), hi = MIN(lo + 2 * width, n), i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                tmp[o++] = cmp_rows(k, in, v[j], v[i]) < 0 ? v[j++] : v[i++];
            while (i < mid)
                tmp[o++] = v[i++];
            while (j < hi)
                tmp[o++] = v[j++];
        }
        memcpy(v, tmp, n * sizeof *v);
    }
    return 0;
}

/* ---- writing results ---- */
static int put(wctx *x, int64_t row, const sql_value *v)
{
    rs_col *col = &x->out->cols[x->col];
    size_t r = (size_t)row;
    unsigned char *p = col->data + r * col->width;
    memset(p, 0, col->width);
    col->valid[r] = !v->null;
    if (v->null)
        return 0;
    switch (col->ph) {
    case P_U8: *p = (uint8_t)v->i; break;
    case P_I64: memcpy(p, &v->i, 8); break;
    case P_F64: memcpy(p, &v->d, 8); break;
    case P_N128:
        memcpy(p, &v->n, 16);
        col->scales[r] = (uint8_t)v->nscale;
        break;
    case P_IV: memcpy(p, &v->iv, 16); break;
    case P_STR: {
        /* the text of a value read from the input stays in the input, which outlives the output */
        sql_str s = v->s;
        memcpy(p, &s, 16);
        break;
    }
    }
    return 0;
}

static int put_int(wctx *x, int64_t row, int64_t i)
{
    sql_value v = {.type = x->k->type, .i = i};
    return put(x, row, &v);
}

static int put_null(wctx *x, int64_t row)
{
    sql_value v = {.type = x->k->type, .null = true};
    return put(x, row, &v);
}

/* A value of the input cast to the call's type (lag's default, or its value when the types differ). */
static int put_cast(wctx *x, int64_t row, sql_value *v)
{
    if (v->null)
        return put_null(x, row);
    if (v->type.id == x->k->type.id && (v->type.id != TY_NUMERIC || v->type.scale == x->k->type.scale))
        return put(x, row, v);
    sql_value c;
    if (exec_cast_value(v, x->k->type, x->k->pos, &x->out->strings, &c, x->err))
        return x->err->code;
    return put(x, row, &c);
}

/* ---- ranking ---- */
/* Rows p[0..n) of one partition; peers share their ORDER BY values. */
static int ranking(wctx *x, const int64_t *p, size_t n)
{
    const exec_wcall *k = x->k;
    size_t peer_start = 0, peer_end = 0, dense = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == peer_end) {  /* a new peer group [i, peer_end) */
            peer_start = i;
            peer_end = i + 1;
            while (peer_end < n && !cmp_order(k, x->in, p[i], p[peer_end]))
                peer_end++;
            dense++;
        }
        sql_value v = {.type = k->type};
        switch (k->fn) {
        case WF_ROW_NUMBER: v.i = (int64_t)i + 1; break;
        case WF_RANK: v.i = (int64_t)peer_start + 1; break;
        case WF_DENSE_RANK: v.i = (int64_t)dense; break;
        case WF_PERCENT_RANK: v.d = n > 1 ? (double)peer_start / (double)(n - 1) : 0; break;
        case WF_CUME_DIST: v.d = (double)peer_end / (double)n; break;
        default: break;
        }
        put(x, p[i], &v);
    }
    return 0;
}

/* ntile(b): the first n % b buckets get one row more than the others; b comes from the partition's first row. */
static int ntile(wctx *x, const int64_t *p, size_t n)
{
    sql_value b;
    rowset_get(x->in, x->k->arg[0], (size_t)p[0], &b);
    if (b.null) {
        for (size_t i = 0; i < n; i++)
            put_null(x, p[i]);
        return 0;
    }
    if (b.i <= 0)
        return sql_err(x->err, FACTDB_INVALID_VALUE, x->k->pos, "argument of ntile must be greater than zero");
    size_t buckets = (size_t)b.i, per = n / buckets, extra = n % buckets, i = 0;
    for (size_t bucket = 1; i < n; bucket++) {
        size_t size = per + (bucket <= extra ? 1 : 0);
        for (size_t j = 0; j < size && i < n; j++, i++)
            put_int(x, p[i], (int64_t)bucket);
    }
    return 0;
}

static int lag_lead(wctx *x, const int64_t *p, size_t n)
{
    const exec_wcall *k = x->k;
    for (size_t i = 0; i < n; i++) {
        int64_t off = 1;
        if (k->arg[1] >= 0) {
            sql_value o;
            rowset_get(x->in, k->arg[1], (size_t)p[i], &o);
            if (o.null) {
                put_null(x, p[i]);
                continue;
            }
            off = o.i;
        }
        /* an offset beyond the partition (any size up to bigint's extremes) reaches no row */
        int64_t t = off > (int64_t)n || off < -(int64_t)n ? -1 : (int64_t)i + (k->fn == WF_LAG ? -off : off);
        sql_value v;
        if (t >= 0 && t < (int64_t)n)
            rowset_get(x->in, k->arg[0], (size_t)p[t], &v);
        else if (k->arg[2] >= 0)
            rowset_get(x->in, k->arg[2], (size_t)p[i], &v);
        else
            v = (sql_value){.type = k->type, .null = true};
        if (put_cast(x, p[i], &v))
            return x->err->code;
    }
    return 0;
}

/* ---- frames ---- */
/* The frame of row i of a partition of n rows whose current peer group is [ps, pe): [*a, *b). */
static void frame_of(const exec_wcall *k, size_t i, size_t n, size_t ps, size_t pe, size_t *a, size_t *b)
{
    int64_t lo, hi;  /* inclusive bounds as row numbers; clamped below */
    switch (k->start) {
    case WB_UNBOUNDED_PRECEDING: lo = 0; break;
    case WB_PRECEDING: lo = (int64_t)i - k->start_off; break;
    case WB_CURRENT_ROW: lo = k->rows ? (int64_t)i : (int64_t)ps; break;
    case WB_FOLLOWING: lo = k->start_off > (int64_t)n ? (int64_t)n : (int64_t)i + k->start_off; break;
    default: lo = (int64_t)n; break;
    }
    switch (k->end) {
    case WB_UNBOUNDED_FOLLOWING: hi = (int64_t)n - 1; break;
    case WB_FOLLOWING: hi = k->end_off > (int64_t)n ? (int64_t)n - 1 : (int64_t)i + k->end_off; break;
    case WB_CURRENT_ROW: hi = k->rows ? (int64_t)i : (int64_t)pe - 1; break;
    case WB_PRECEDING: hi = k->end_off > (int64_t)n ? -1 : (int64_t)i - k->end_off; break;
    default: hi = -1; break;
    }
    if (lo < 0)
        lo = 0;
    if (hi > (int64_t)n - 1)
        hi = (int64_t)n - 1;
    if (lo > hi) {
        *a = *b = MIN((size_t)MAX(lo, 0), n);
        return;
    }
    *a = (size_t)lo;
    *b = (size_t)hi + 1;
}

/* key (an ORDER BY value) against a RANGE bound value computed from another row's key (key -/+ offset, whose
 * type may differ: integer + numeric, date - interval is a timestamp). */
static int cmp_bound(const sql_value *key, const sql_value *b)
{
    uint8_t kt = key->type.id, bt = b->type.id;
    if (kt == TY_DATE && (bt == TY_TIMESTAMP || bt == TY_TIMESTAMPTZ)) {
        i128 k = (i128)key->i * 86400000000LL;
        return k < b->i ? -1 : k > b->i;
    }
    if (bt == TY_DOUBLE || (bt == TY_NUMERIC && kt != TY_DOUBLE))
        return -exec_compare_values(b, key);
    return exec_compare_values(key, b);
}

static bool range_frame(const exec_wcall *k, bool start)
{
    win_bound b = start ? k->start : k->end;
    return !k->rows && !k->groups && (b == WB_PRECEDING || b == WB_FOLLOWING);
}

/* Where a RANGE offset bound of row i falls: the first row of the partition not before the bound value
 * (start), or the first row after it (end, `after`). *cur only moves forward: rows come in key order, and so do
 * their bound values. A row whose key is NULL has its NULL peers as frame. */
static size_t range_pos(wctx *x, const int64_t *p, size_t n, size_t i, int bcol, size_t ps, size_t pe, size_t *cur,
                        bool after)
{
    const exec_wcall *k = x->k;
    const sort_key *o = &k->order[0];
    sql_value key, bv, kj;
    rowset_get(x->in, o->col, (size_t)p[i], &key);
    if (key.null)
        return after ? pe : ps;
    rowset_get(x->in, bcol, (size_t)p[i], &bv);
    if (bv.null)
        return after ? pe : ps;
    while (*cur < n) {
        rowset_get(x->in, o->col, (size_t)p[*cur], &kj);
        bool before;
        if (kj.null) {
            before = o->nulls_first;
        } else {
            int c = cmp_bound(&kj, &bv);
            c = o->desc ? -c : c;
            before = after ? c <= 0 : c < 0;
        }
        if (!before)
            break;
        (*cur)++;
    }
    return *cur;
}

/* Walks a partition row by row: the current peer group and the RANGE offset cursors. */
typedef struct frame_walk {
    size_t ps, pe;              /* the peer group of the current row: [ps, pe) */
    size_t rs, re;              /* RANGE offset cursors */
    size_t *gs, ng, g, bytes;   /* GROUPS: the first row of each peer group (gs[ng] = n), the current group */
} frame_walk;

/* Starts a walk over a partition of n rows (GROUPS frames: finds its peer groups). */
static int walk_begin(wctx *x, const int64_t *p, size_t n, frame_walk *f)
{
    memset(f, 0, sizeof *f);
    if (!x->k->groups)
        return 0;
    f->bytes = (n + 1) * sizeof *f->gs;
    if (charge(x->w, f->bytes, x->err))
        return x->err->code;
    if (!(f->gs = malloc(f->bytes))) {
        release(x->w, f->bytes);
        return base_err(x->err, FACTDB_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        if (!i || cmp_order(x->k, x->in, p[i - 1], p[i]))
            f->gs[f->ng++] = i;
    f->gs[f->ng] = n;
    return 0;
}

static void walk_end(wctx *x, frame_walk *f)
{
    if (f->gs) {
        free(f->gs);
        release(x->w, f->bytes);
    }
}

/* GROUPS: the frame from the current group g's offsets. */
static void groups_frame(const exec_wcall *k, const frame_walk *f, size_t n, size_t *a, size_t *b)
{
    size_t g = f->g, ng = f->ng;
    switch (k->start) {
    case WB_PRECEDING: *a = f->gs[(uint64_t)k->start_off >= g ? 0 : g - (size_t)k->start_off]; break;
    case WB_FOLLOWING: *a = (uint64_t)k->start_off >= ng - g ? n : f->gs[g + (size_t)k->start_off]; break;
    default: break;  /* UNBOUNDED PRECEDING and CURRENT ROW: as RANGE */
    }
    switch (k->end) {
    case WB_PRECEDING: *b = (uint64_t)k->end_off > g ? 0 : f->gs[g - (size_t)k->end_off + 1]; break;
    case WB_FOLLOWING: *b = (uint64_t)k->end_off >= ng - g - 1 ? n : f->gs[g + (size_t)k->end_off + 1]; break;
    default: break;
    }
}

/* The frame [*a, *b) of row i (rows visited in order 0, 1, ...). */
static void frame_next(wctx *x, const int64_t *p, size_t n, size_t i, frame_walk *f, size_t *a, size_t *b)
{
    const exec_wcall *k = x->k;
    if (i == f->pe) {
        if (i)
            f->g++;
        f->ps = i;
        f->pe = n;  /* without ORDER BY every row is a peer of every other */
        if (k->norder)
            for (f->pe = i + 1; f->pe < n && !cmp_order(k, x->in, p[i], p[f->pe]);)
                f->pe++;
    }
    frame_of(k, i, n, f->ps, f->pe, a, b);
    if (k->groups)
        groups_frame(k, f, n, a, b);
    if (range_frame(k, true))
        *a = range_pos(x, p, n, i, k->range_start, f->ps, f->pe, &f->rs, false);
    if (range_frame(k, false))
        *b = range_pos(x, p, n, i, k->range_end, f->ps, f->pe, &f->re, true);
    if (*a > *b)
        *a = *b;
}

/* Running count / sum state over the rows of the current frame (min / max: min_max). */
typedef struct agg_state {
    int64_t cnt;                /* rows counted (count) or non-NULL values summed */
    i128 sum;                   /* integer / numeric sums at scale `scale` */
    double dsum;
    int scale;
    double mean, m2;            /* var / stddev: Welford's running mean and sum of squared deviations, as the
                                 * plain aggregate (agg.c) computes them */
    int64_t ntrue;              /* bool_and / bool_or */
} agg_state;

static bool is_double_sum(const exec_wcall *k, const rowset *in)
{
    return (k->fn == WF_SUM || k->fn == WF_AVG) && in->cols[k->arg[0]].type.id == TY_DOUBLE;
}

/* Whether the row takes part (its FILTER is true) and, for one-argument aggregates, its argument. */
static bool agg_input(const wctx *x, int64_t row, sql_value *v)
{
    const exec_wcall *k = x->k;
    if (k->filter >= 0) {
        sql_value f;
        rowset_get(x->in, k->filter, (size_t)row, &f);
        if (f.null || !f.i)
            return false;
    }
    if (k->fn == WF_COUNT_STAR)
        return true;
    rowset_get(x->in, k->arg[0], (size_t)row, v);
    return !v->null;
}

/* An integer or numeric value at scale `to` (to >= its own scale). */
static int to_scaled(const sql_value *v, int to, i128 *out)
{
    i128 n;
    int s;
    if (v->type.id == TY_NUMERIC && v->type.scale < 0) {
        n = v->nscale >= 0 ? v->n : 0;
        s = v->nscale;
    } else {
        n = v->i;
        s = v->type.id == TY_NUMERIC ? v->type.scale : 0;
    }
    for (; s < to; s++)
        if (__builtin_mul_overflow(n, 10, &n))
            return -1;
    *out = n;
    return 0;
}

static int agg_add(wctx *x, agg_state *st, int64_t row, int sign)
{
    sql_value v;
    if (!agg_input(x, row, &v))
        return 0;
    const exec_wcall *k = x->k;
    st->cnt += sign;
    switch (k->fn) {
    case WF_VAR:
    case WF_STDDEV: {  /* only added: a restart takes rows out */
        double d = v.d;
        if (v.type.id != TY_DOUBLE) {
            sql_value c;
            if (exec_cast_value(&v, (sql_type){TY_DOUBLE, 0, 0}, k->pos, NULL, &c, x->err))
                return x->err->code;
            d = c.d;
        }
        double delta = d - st->mean;
        st->mean += delta / (double)st->cnt;
        st->m2 += delta * (d - st->mean);
        break;
    }
    case WF_BOOL_AND:
    case WF_BOOL_OR: st->ntrue += v.i ? sign : 0; break;
    case WF_SUM:
    case WF_AVG:
        if (v.type.id == TY_DOUBLE) {
            st->dsum += v.d;
        } else {
            i128 n;
            if (to_scaled(&v, st->scale, &n) || __builtin_add_overflow(st->sum, sign > 0 ? n : -n, &st->sum))
                return sql_err(x->err, FACTDB_INVALID_VALUE, k->pos, "numeric value out of range in %s",
                               k->fn == WF_SUM ? "sum" : "avg");
        }
        break;
    default: break;
    }
    return 0;
}

static int agg_result(wctx *x, const agg_state *st, int64_t row)
{
    const exec_wcall *k = x->k;
    sql_value v = {.type = k->type};
    switch (k->fn) {
    case WF_COUNT_STAR:
    case WF_COUNT: v.i = st->cnt; break;
    case WF_VAR:
    case WF_STDDEV:
        if (st->cnt < 2)
            v.null = true;
        else
            v.d = k->fn == WF_VAR ? st->m2 / (double)(st->cnt - 1) : sqrt(st->m2 / (double)(st->cnt - 1));
        break;
    case WF_BOOL_AND:
    case WF_BOOL_OR:
        v.null = !st->cnt;
        v.i = k->fn == WF_BOOL_AND ? st->ntrue == st->cnt : st->ntrue > 0;
        break;
    case WF_SUM:
    case WF_AVG:
        if (!st->cnt) {
            v.null = true;
        } else if (k->type.id == TY_DOUBLE) {
            v.d = k->fn == WF_SUM ? st->dsum : st->dsum / (double)st->cnt;
        } else if (k->fn == WF_SUM && k->type.id == TY_BIGINT) {
            if (st->sum > INT64_MAX || st->sum < INT64_MIN)
                return sql_err(x->err, FACTDB_INVALID_VALUE, k->pos, "bigint out of range in sum");
            v.i = (int64_t)st->sum;
        } else if (k->fn == WF_SUM) {
            v.n = st->sum;
            v.nscale = (int8_t)st->scale;
        } else {
            int rs = exec_div_scale(st->sum, st->scale, st->cnt, 0);
            if (exec_n128_div(st->sum, st->scale, st->cnt, 0, rs, &v.n))
                return sql_err(x->err, FACTDB_INVALID_VALUE, k->pos, "numeric value out of range in avg");
            v.nscale = (int8_t)rs;
        }
        break;
    default: break;
    }
    return put(x, row, &v);
}

/* The rows of a frame that count: [a, b) without those EXCLUDE takes out, as two ranges [a0, b0) and [a1, b1)
 * whose ends each only move forward as the current row advances, and (EXCLUDE TIES) the current row itself
 * between them. Without EXCLUDE the second range is empty. */
typedef struct kept {
    size_t a0, b0, a1, b1;
    bool self;
} kept;

static size_t clamp(size_t v, size_t lo, size_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static void kept_of(const exec_wcall *k, const frame_walk *f, size_t i, size_t a, size_t b, kept *s)
{
    size_t e0 = b, e1 = b;  /* the excluded rows [e0, e1) */
    if (k->exclude == WX_CURRENT_ROW) {
        e0 = i;
        e1 = i + 1;
    } else if (k->exclude == WX_GROUP || k->exclude == WX_TIES) {
        e0 = f->ps;
        e1 = f->pe;
    }
    *s = (kept){.a0 = a, .b0 = clamp(e0, a, b), .a1 = clamp(e1, a, b), .b1 = b,
                .self = k->exclude == WX_TIES && i >= a && i < b};
}

/* min / max over one range that only moves forward: a deque of the range's candidate rows (positions in p)
 * whose values strictly improve from back to front, so the front is the answer and every row enters and
 * leaves once (a frame to UNBOUNDED FOLLOWING with a moving start would otherwise rescan the rest). */
typedef struct mm_deque {
    size_t *dq, head, tail, ce;
} mm_deque;

/* Moves q to [lo, hi); returns the position of its best row, or SIZE_MAX when it has none. */
static size_t mm_move(wctx *x, const int64_t *p, mm_deque *q, size_t lo, size_t hi)
{
    const exec_wcall *k = x->k;
    int sign = k->fn == WF_MIN ? 1 : -1;
    if (q->ce < lo)
        q->ce = lo;
    for (; q->ce < hi; q->ce++) {
        sql_value v, t;
        if (!agg_input(x, p[q->ce], &v))
            continue;
        while (q->tail > q->head) {
            rowset_get(x->in, k->arg[0], (size_t)p[q->dq[q->tail - 1]], &t);
            if (sign * exec_compare_values(&t, &v) < 0)
                break;
            q->tail--;
        }
        q->dq[q->tail++] = q->ce;
    }
    while (q->head < q->tail && q->dq[q->head] < lo)
        q->head++;
    return q->head < q->tail ? q->dq[q->head] : SIZE_MAX;
}

/* min / max: the better of each range's best and (EXCLUDE TIES) the current row. */
static int min_max_walk(wctx *x, const int64_t *p, size_t n, frame_walk *f, mm_deque *q)
{
    const exec_wcall *k = x->k;
    int sign = k->fn == WF_MIN ? 1 : -1;
    for (size_t i = 0; i < n; i++) {
        if (!(i & 4095) && canceled(x->w, x->err))
            return x->err->code;
        size_t a, b;
        kept s;
        frame_next(x, p, n, i, f, &a, &b);
        kept_of(k, f, i, a, b, &s);
        size_t cand[3] = {mm_move(x, p, &q[0], s.a0, s.b0), mm_move(x, p, &q[1], s.a1, s.b1), s.self ? i : SIZE_MAX};
        sql_value r = {.type = k->type, .null = true}, v;
        for (int c = 0; c < 3; c++) {
            if (cand[c] == SIZE_MAX || (c == 2 && !agg_input(x, p[i], &v)))
                continue;
            rowset_get(x->in, k->arg[0], (size_t)p[cand[c]], &v);
            if (r.null || sign * exec_compare_values(&v, &r) < 0)
                r = v;
        }
        if (put(x, p[i], &r))
            return x->err->code;
    }
    return 0;
}

static int min_max(wctx *x, const int64_t *p, size_t n)
{
    size_t bytes = 2 * (n ? n : 1) * sizeof(size_t);
    if (charge(x->w, bytes, x->err))
        return x->err->code;
    size_t *dq = malloc(bytes);
    if (!dq) {
        release(x->w, bytes);
        return base_err(x->err, FACTDB_NOMEM, "out of memory");
    }
    mm_deque q[2] = {{.dq = dq}, {.dq = dq + (n ? n : 1)}};
    frame_walk f;
    int rc = walk_begin(x, p, n, &f);
    if (!rc)
        rc = min_max_walk(x, p, n, &f, q);
    walk_end(x, &f);
    free(dq);
    release(x->w, bytes);
    return rc;
}

/* A running aggregate over one range that only moves forward: rows enter at its end and leave at its start
 * where that is exact, else it restarts. */
typedef struct agg_range {
    agg_state st;
    size_t cs, ce;              /* the rows now in st: [cs, ce) */
} agg_range;

static int range_move(wctx *x, const int64_t *p, agg_range *g, size_t lo, size_t hi, bool removable)
{
    if (lo >= hi || lo >= g->ce || (lo > g->cs && !removable)) {
        int scale = g->st.scale;
        memset(&g->st, 0, sizeof g->st);
        g->st.scale = scale;
        g->cs = g->ce = lo;
    }
    for (; g->cs < lo; g->cs++)
        if (agg_add(x, &g->st, p[g->cs], -1))
            return x->err->code;
    for (; g->ce < hi; g->ce++)
        if (agg_add(x, &g->st, p[g->ce], 1))
            return x->err->code;
    return 0;
}

/* a and b together (b's rows after a's): Chan et al.'s merge of the variance terms. */
static agg_state agg_merge(agg_state a, const agg_state *b)
{
    if (!b->cnt)
        return a;
    if (!a.cnt) {
        int scale = a.scale;
        a = *b;
        a.scale = scale;
        return a;
    }
    double na = (double)a.cnt, nb = (double)b->cnt, delta = b->mean - a.mean;
    a.mean += delta * nb / (na + nb);
    a.m2 += b->m2 + delta * delta * na * nb / (na + nb);
    a.cnt += b->cnt;
    a.sum += b->sum;
    a.dsum += b->dsum;
    a.ntrue += b->ntrue;
    return a;
}

/* first / last / nth_value: row number m (1-based) of the kept rows, or -1. */
static int64_t kept_row(const kept *s, size_t i, uint64_t m)
{
    uint64_t n0 = s->b0 - s->a0, n1 = s->b1 - s->a1;
    if (m <= n0)
        return (int64_t)(s->a0 + m - 1);
    m -= n0;
    if (s->self && m == 1)
        return (int64_t)i;
    m -= s->self;
    return m <= n1 ? (int64_t)(s->a1 + m - 1) : -1;
}

static int value_at(wctx *x, const int64_t *p, size_t i, const kept *s)
{
    const exec_wcall *k = x->k;
    uint64_t total = s->b0 - s->a0 + s->self + (s->b1 - s->a1), m = 0;
    if (k->fn == WF_FIRST_VALUE)
        m = total ? 1 : 0;
    else if (k->fn == WF_LAST_VALUE)
        m = total;
    else {
        sql_value nv;
        rowset_get(x->in, k->arg[1], (size_t)p[i], &nv);
        if (!nv.null && nv.i <= 0)
            return sql_err(x->err, FACTDB_INVALID_VALUE, k->pos, "argument of nth_value must be greater than zero");
        m = nv.null ? 0 : (uint64_t)nv.i;
    }
    int64_t t = m ? kept_row(s, i, m) : -1;
    sql_value v = {.type = k->type, .null = true};
    if (t >= 0)
        rowset_get(x->in, k->arg[0], (size_t)p[t], &v);
    return put_cast(x, p[i], &v);
}

/* count, sum, avg, var, bool_and / bool_or and first / last / nth_value over each row's frame. */
static int framed_walk(wctx *x, const int64_t *p, size_t n, frame_walk *f)
{
    const exec_wcall *k = x->k;
    agg_range g[2];
    memset(g, 0, sizeof g);
    bool agg = k->fn >= WF_COUNT_STAR;
    bool removable = k->fn == WF_COUNT_STAR || k->fn == WF_COUNT || k->fn == WF_BOOL_AND || k->fn == WF_BOOL_OR ||
                     ((k->fn == WF_SUM || k->fn == WF_AVG) && !is_double_sum(k, x->in));
    if ((k->fn == WF_SUM || k->fn == WF_AVG) && !is_double_sum(k, x->in)) {
        /* one scale for the partition: the largest of its values' (static for most columns) */
        sql_type t = x->in->cols[k->arg[0]].type;
        int scale = t.id == TY_NUMERIC ? MAX(t.scale, 0) : 0;
        if (t.id == TY_NUMERIC && t.scale < 0)
            for (size_t i = 0; i < n; i++) {
                sql_value v;
                rowset_get(x->in, k->arg[0], (size_t)p[i], &v);
                if (!v.null)
                    scale = MAX(scale, v.nscale);
            }
        g[0].st.scale = g[1].st.scale = scale;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(i & 4095) && canceled(x->w, x->err))
            return x->err->code;
        size_t a, b;
        kept s;
        frame_next(x, p, n, i, f, &a, &b);
        kept_of(k, f, i, a, b, &s);
        if (!agg) {
            if (value_at(x, p, i, &s))
                return x->err->code;
            continue;
        }
        if (range_move(x, p, &g[0], s.a0, s.b0, removable) || range_move(x, p, &g[1], s.a1, s.b1, removable))
            return x->err->code;
        agg_state st = agg_merge(g[0].st, &g[1].st);
        if ((s.self && agg_add(x, &st, p[i], 1)) || agg_result(x, &st, p[i]))
            return x->err->code;
    }
    return 0;
}

static int framed(wctx *x, const int64_t *p, size_t n)
{
    frame_walk f;
    int rc = walk_begin(x, p, n, &f);
    if (!rc)
        rc = framed_walk(x, p, n, &f);
    walk_end(x, &f);
    return rc;
}

/* Whether calls a and b sort their rows the same way. */
static bool same_sort(const exec_wcall *a, const exec_wcall *b)
{
    if (a->npart != b->npart || a->norder != b->norder)
        return false;
    for (int i = 0; i < a->npart; i++)
        if (a->part[i] != b->part[i])
            return false;
    for (int i = 0; i < a->norder; i++)
        if (a->order[i].col != b->order[i].col || a->order[i].desc != b->order[i].desc ||
            a->order[i].nulls_first != b->order[i].nulls_first)
            return false;
    return true;
}

/* perm already holds the order of call `prev` (NULL: none): calls over the same window share one sort. */
static int run_call(wctx *x, const exec_wcall *prev, int64_t *perm, int64_t *tmp)
{
    const rowset *in = x->in;
    size_t n = in->n;
    if (!prev || !same_sort(prev, x->k)) {
        for (size_t i = 0; i < n; i++)
            perm[i] = (int64_t)i;
        if ((x->k->npart || x->k->norder) && sort_rows(x->w, x->k, in, perm, tmp, n, x->err))
            return x->err->code;
    }
    for (size_t ps = 0; ps < n;) {
        size_t pe = ps + 1;
        while (pe < n && !cmp_part(x->k, in, perm[ps], perm[pe]))
            pe++;
        if (canceled(x->w, x->err))
            return x->err->code;
        int rc;
        switch (x->k->fn) {
        case WF_ROW_NUMBER:
        case WF_RANK:
        case WF_DENSE_RANK:
        case WF_PERCENT_RANK:
        case WF_CUME_DIST: rc = ranking(x, perm + ps, pe - ps); break;
        case WF_NTILE: rc = ntile(x, perm + ps, pe - ps); break;
        case WF_LAG:
        case WF_LEAD: rc = lag_lead(x, perm + ps, pe - ps); break;
        case WF_MIN:
        case WF_MAX: rc = min_max(x, perm + ps, pe - ps); break;
        default: rc = framed(x, perm + ps, pe - ps); break;
        }
        if (rc)
            return rc;
        ps = pe;
    }
    return 0;
}

int exec_window_run(const exec_window *w, const rowset *in, rowset *out, factdb_error *err)
{
    int nc = in->ncols + w->ncalls, rc;
    sql_type *types = malloc((size_t)nc * sizeof *types);
    if (!types)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    for (int i = 0; i < in->ncols; i++)
        types[i] = in->cols[i].type;
    for (int i = 0; i < w->ncalls; i++)
        types[in->ncols + i] = w->calls[i].type;
    rc = rowset_init(out, nc, types, w->mem, w->mem_limit, err);
    free(types);
    if (rc)
        return rc;
    size_t n = in->n, scratch = 2 * (n ? n : 1) * sizeof(int64_t);
    if ((rc = rowset_reserve(out, n, err)) || (rc = charge(w, scratch, err))) {
        rowset_cleanup(out);
        return rc;
    }
    int64_t *perm = malloc(scratch);
    if (!perm) {
        release(w, scratch);
        rowset_cleanup(out);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    int64_t *tmp = perm + (n ? n : 1);
    for (size_t i = 0; i < n; i++)
        perm[i] = (int64_t)i;
    rowset_gather(out, 0, in, perm, n, 0);
    out->n = n;
    for (int c = 0; c < w->ncalls && !rc; c++) {
        wctx x = {.w = w, .k = &w->calls[c], .in = in, .out = out, .col = in->ncols + c, .err = err};
        rc = run_call(&x, c ? &w->calls[c - 1] : NULL, perm, tmp);
    }
    free(perm);
    release(w, scratch);
    if (rc)
        rowset_cleanup(out);
    return rc;
}

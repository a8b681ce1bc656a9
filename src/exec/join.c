/* join.c: hash joins and set operations over materialized relations (rowsets). The smaller side is
 * built into a chained hash table on its key columns, the other side probes it; matched rows are
 * gathered into the output in batches. A residual condition (the non-equality part of an ON clause, or a
 * correlated subquery's other conditions) is evaluated on each batch of candidate pairs with the ordinary
 * vectorized evaluator. Outer, semi and anti joins keep one "matched" flag per row of the side they
 * preserve, so either side can be the one that is built. */
#include "exec.h"
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

enum { KEY_INT, KEY_DBL, KEY_STR };

static bool int_like(sql_type t)
{
    return t.id == TY_INT || t.id == TY_BIGINT || (t.id == TY_NUMERIC && t.scale >= 0) || t.id == TY_BOOL;
}

static bool time_like(uint8_t id) { return id == TY_TIMESTAMP || id == TY_TIMESTAMPTZ; }

bool exec_join_key_ok(sql_type a, sql_type b)
{
    if (int_like(a) && int_like(b))
        return (a.id == TY_BOOL) == (b.id == TY_BOOL);
    if ((a.id == TY_DOUBLE && (int_like(b) || b.id == TY_DOUBLE)) || (b.id == TY_DOUBLE && int_like(a)))
        return a.id != TY_BOOL && b.id != TY_BOOL;
    if (a.id == TY_TEXT && b.id == TY_TEXT)
        return true;
    if (a.id == TY_DATE && b.id == TY_DATE)
        return true;
    return time_like(a.id) && time_like(b.id) && a.id == b.id;
}

static int key_kind(sql_type a, sql_type b)
{
    if (a.id == TY_TEXT)
        return KEY_STR;
    if (a.id == TY_DOUBLE || b.id == TY_DOUBLE)
        return KEY_DBL;
    return KEY_INT;
}

static int type_scale(sql_type t) { return t.id == TY_NUMERIC ? t.scale : 0; }

/* One side's keys, normalized so that equal values have equal words: integers scaled to the larger of
 * the two scales, numbers compared with a double as doubles (-0.0 as 0.0), text by content. */
typedef struct side_keys {
    int nkeys;
    uint64_t *w;            /* n * nkeys words (KEY_STR: unused) */
    const sql_str **s;      /* per key: the text column (KEY_STR) */
    uint8_t *ok;            /* 1: no key is NULL (or out of range) */
    uint64_t *hash;
} side_keys;

static uint64_t mix(uint64_t h, uint64_t w)
{
    h ^= w + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

/* Allocates a side's key arrays (key_init and fill_key fill them, a range of rows at a time). */
static int make_keys(const exec_join *j, const rowset *rs, side_keys *k, factdb_error *err)
{
    size_t n = rs->n;
    memset(k, 0, sizeof *k);
    k->nkeys = j->nkeys;
    k->w = malloc((n ? n : 1) * (size_t)(j->nkeys ? j->nkeys : 1) * sizeof *k->w);
    k->s = calloc((size_t)(j->nkeys ? j->nkeys : 1), sizeof *k->s);
    k->ok = malloc(n ? n : 1);
    k->hash = malloc((n ? n : 1) * sizeof *k->hash);
    if (!k->w || !k->s || !k->ok || !k->hash)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    return 0;
}

static void key_init(side_keys *k, size_t lo, size_t hi)
{
    memset(k->ok + lo, 1, hi - lo);
    for (size_t i = lo; i < hi; i++)
        k->hash[i] = 0x2545F4914F6CDD1Dull;
}

/* Normalizes key column c of one side, rows [lo, hi), given both sides' types. */
static void fill_key(side_keys *k, int c, const rs_col *col, sql_type other, size_t lo, size_t hi)
{
    int kind = key_kind(col->type, other);
    uint64_t *w = k->w;
    int nk = k->nkeys;
    if (kind == KEY_STR) {
        const sql_str *s = (const sql_str *)(const void *)col->data;  /* k->s[c]: set by the caller */
        for (size_t i = lo; i < hi; i++) {
            if (!col->valid[i]) {
                k->ok[i] = 0;
                continue;
            }
            k->hash[i] = mix(k->hash[i], XXH3_64bits(s[i].p, s[i].len));
        }
        return;
    }
    if (kind == KEY_DBL) {
        for (size_t i = lo; i < hi; i++) {
            if (!col->valid[i]) {
                k->ok[i] = 0;
                continue;
            }
            double d;
            if (col->ph == P_F64) {
                memcpy(&d, col->data + i * 8, 8);
            } else {
                int64_t v;
                if (col->ph == P_U8)
                    v = col->data[i];
                else
                    memcpy(&v, col->data + i * 8, 8);
                d = (double)v;
                for (int s = type_scale(col->type); s > 0; s--)
                    d /= 10;
            }
            if (d == 0)
                d = 0;  /* -0.0 equals 0.0 */
            uint64_t b;
            memcpy(&b, &d, 8);
            w[i * (size_t)nk + (size_t)c] = b;
            k->hash[i] = mix(k->hash[i], b);
        }
        return;
    }
    int up = MAX(type_scale(col->type), type_scale(other)) - type_scale(col->type);
    int64_t f = 1;
    for (int s = 0; s < up; s++)
        f *= 10;
    for (size_t i = lo; i < hi; i++) {
        if (!col->valid[i]) {
            k->ok[i] = 0;
            continue;
        }
        int64_t v;
        if (col->ph == P_U8)
            v = col->data[i];
        else
            memcpy(&v, col->data + i * 8, 8);
        if (f != 1 && __builtin_mul_overflow(v, f, &v)) {
            k->ok[i] = 0;  /* beyond every value of the other side's scale */
            continue;
        }
        w[i * (size_t)nk + (size_t)c] = (uint64_t)v;
        k->hash[i] = mix(k->hash[i], (uint64_t)v);
    }
}

static void keys_free(side_keys *k)
{
    free(k->w);
    free(k->s);
    free(k->ok);
    free(k->hash);
}

static bool keys_equal(const side_keys *a, size_t i, const side_keys *b, size_t j)
{
    if (a->hash[i] != b->hash[j])
        return false;
    for (int c = 0; c < a->nkeys; c++) {
        if (a->s[c]) {
            const sql_str *x = &a->s[c][i], *y = &b->s[c][j];
            if (x->len != y->len || memcmp(x->p, y->p, x->len))
                return false;
        } else if (a->w[i * (size_t)a->nkeys + (size_t)c] != b->w[j * (size_t)b->nkeys + (size_t)c]) {
            return false;
        }
    }
    return true;
}

/* ---- the residual condition over candidate pairs ---- */
typedef struct resid_eval {
    const exec_join *j;
    const rowset *l, *r;
    eval_thread th;
    exec_ctx x;
    unsigned char **buf;    /* per input column: EXEC_VEC cells */
    uint8_t **valid;
    uint8_t **scales;
    bool ready;
} resid_eval;

static int resid_init(resid_eval *e, const exec_join *j, const rowset *l, const rowset *r, factdb_error *err)
{
    memset(e, 0, sizeof *e);
    e->j = j;
    e->l = l;
    e->r = r;
    if (!j->resid)
        return 0;
    query *q = j->resid;
    e->x = (exec_ctx){.q = q, .now_us = j->now_us, .cancel = j->cancel};
    if (eval_thread_init(&e->th, &e->x, q->nslots, EXEC_VEC, err))
        return err->code;
    e->ready = true;
    int nc = q->ncols ? q->ncols : 1;
    e->th.in = calloc((size_t)nc, sizeof *e->th.in);
    e->th.nin = q->ncols;
    e->buf = calloc((size_t)nc, sizeof *e->buf);
    e->valid = calloc((size_t)nc, sizeof *e->valid);
    e->scales = calloc((size_t)nc, sizeof *e->scales);
    if (!e->th.in || !e->buf || !e->valid || !e->scales)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    for (int c = 0; c < q->ncols; c++) {
        e->buf[c] = malloc(EXEC_VEC * 16);
        e->valid[c] = malloc(EXEC_VEC);
        e->scales[c] = malloc(EXEC_VEC);
        if (!e->buf[c] || !e->valid[c] || !e->scales[c])
            return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    return 0;
}

static void resid_free(resid_eval *e)
{
    query *q = e->j ? e->j->resid : NULL;
    for (int c = 0; q && c < q->ncols; c++) {
        if (e->buf)
            free(e->buf[c]);
        if (e->valid)
            free(e->valid[c]);
        if (e->scales)
            free(e->scales[c]);
    }
    free(e->buf);
    free(e->valid);
    free(e->scales);
    free(e->th.in);
    e->th.in = NULL;
    if (e->ready)
        eval_thread_cleanup(&e->th);
}

/* Keeps the pairs (li[i], ri[i]) for which the condition is true; returns how many, compacted. */
static int resid_filter(resid_eval *e, int64_t *li, int64_t *ri, size_t n, size_t *m, factdb_error *err)
{
    query *q = e->j->resid;
    if (!q) {
        *m = n;
        return 0;
    }
    int nl = e->l->ncols;
    for (int c = 0; c < q->ncols; c++) {
        int tc = q->cols[c].table_col;
        const rowset *src = tc < nl ? e->l : e->r;
        const rs_col *col = &src->cols[tc < nl ? tc : tc - nl];
        const int64_t *idx = tc < nl ? li : ri;
        rowset_gather_cells(e->buf[c], col->data, col->width, idx, n);
        rowset_gather_cells(e->valid[c], col->valid, 1, idx, n);
        if (col->scales)
            rowset_gather_cells(e->scales[c], col->scales, 1, idx, n);
        in_col *ic = &e->th.in[c];
        ic->raw = exec_raw_of_phys(col->ph);
        ic->data = e->buf[c];
        ic->valid = e->valid[c];
        ic->scales = col->scales ? e->scales[c] : NULL;
        ic->type = col->type;
        ic->dict = -1;
    }
    if (e->th.tmp.total > (1u << 20)) {
        sql_arena_cleanup(&e->th.tmp);
        sql_arena_init(&e->th.tmp, 0);
    } else if (e->th.tmp.head) {
        e->th.tmp.used = 0;
    }
    uint32_t sel[EXEC_VEC];
    if (eval_filter(&e->th, q->outs[0], NULL, n, sel, m))
        return (*err = e->th.err).code;
    for (size_t i = 0; i < *m; i++) {
        li[i] = li[sel[i]];
        ri[i] = ri[sel[i]];
    }
    return 0;
}

static int check_cancel(const exec_join *j, factdb_error *err)
{
    if (j->cancel && atomic_load_explicit(j->cancel, memory_order_relaxed))
        return base_err(err, FACTDB_INVALID_ARGUMENT, "canceling statement due to user request");
    return 0;
}

static int charge(const exec_join *j, size_t bytes, factdb_error *err)
{
    if (!j->mem)
        return 0;
    size_t now = atomic_fetch_add(j->mem, bytes) + bytes;
    if (j->mem_limit && now > j->mem_limit) {
        atomic_fetch_sub(j->mem, bytes);
        return base_err(err, FACTDB_LIMIT, "the join's hash table (%zu MiB) would pass the query's memory limit of %zu "
                        "MiB; filter the joined tables more, or raise the limit (factdb sql --memory-limit)",
                        bytes >> 20, j->mem_limit >> 20);
    }
    return 0;
}

/* The candidate pairs one worker kept, in probe order. */
typedef struct join_part {
    size_t lo, hi;          /* its rows of the probe side */
    int64_t *li, *ri;       /* kept pairs (rows of l and r) */
    size_t n, cap, at;      /* at: where its pairs go in the output */
    size_t charged;
    int rc;
    factdb_error err;
} join_part;

typedef struct join_state {
    const exec_join *j;
    const rowset *l, *r, *b, *p;
    bool build_left, pairs;  /* pairs: the join's output has both sides' rows */
    side_keys bk, pk;
    uint32_t *head, *next;
    size_t nb;
    uint8_t *lmatch, *rmatch;
    rowset *out;
    join_part *part;
    int nw;                 /* workers */
} join_state;

static void set_match(uint8_t *m, size_t i) { __atomic_store_n(&m[i], 1, __ATOMIC_RELAXED); }

/* Keeps n pairs of li/ri: marks both rows matched and, for a join that outputs pairs, appends them. */
static int keep_pairs(join_state *s, join_part *w, const int64_t *li, const int64_t *ri, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        set_match(s->lmatch, (size_t)li[i]);
        set_match(s->rmatch, (size_t)ri[i]);
    }
    if (!s->pairs || !n)
        return 0;
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        while (cap < w->n + n)
            cap *= 2;
        if (charge(s->j, (cap - w->cap) * 16, &w->err))
            return w->err.code;
        w->charged += (cap - w->cap) * 16;
        int64_t *a = realloc(w->li, cap * sizeof *a);
        if (a)
            w->li = a;
        int64_t *b = realloc(w->ri, cap * sizeof *b);
        if (b)
            w->ri = b;
        if (!a || !b)
            return base_err(&w->err, FACTDB_NOMEM, "out of memory");
        w->cap = cap;
    }
    memcpy(w->li + w->n, li, n * sizeof *li);
    memcpy(w->ri + w->n, ri, n * sizeof *ri);
    w->n += n;
    return 0;
}

/* Worker i's share of the key normalization: its ranges of both sides' rows. */
static void join_keys_part(void *arg, int i)
{
    join_state *s = arg;
    const exec_join *j = s->j;
    for (int side = 0; side < 2; side++) {
        const rowset *rs = side ? s->r : s->l, *other = side ? s->l : s->r;
        const int *key = side ? j->rkey : j->lkey, *okey = side ? j->lkey : j->rkey;
        side_keys *k = (side == 0) == s->build_left ? &s->bk : &s->pk;
        size_t lo = rs->n * (size_t)i / (size_t)s->nw, hi = rs->n * (size_t)(i + 1) / (size_t)s->nw;
        key_init(k, lo, hi);
        for (int c = 0; c < j->nkeys; c++)
            fill_key(k, c, &rs->cols[key[c]], other->cols[okey[c]].type, lo, hi);
    }
}

/* Worker i probes its range of the probe side's rows. */
static void join_probe_part(void *arg, int i)
{
    join_state *s = arg;
    const exec_join *j = s->j;
    join_part *w = &s->part[i];
    const rowset *b = s->b;
    resid_eval re;
    int64_t *li = malloc(EXEC_VEC * sizeof *li), *ri = malloc(EXEC_VEC * sizeof *ri);
    int rc = 0;
    if (!li || !ri) {
        rc = base_err(&w->err, FACTDB_NOMEM, "out of memory");
        memset(&re, 0, sizeof re);
        goto out;
    }
    if ((rc = resid_init(&re, j, s->l, s->r, &w->err)))
        goto out;
    size_t n = 0;
    bool semi_l = !s->build_left && (j->type == JT_SEMI || j->type == JT_ANTI);
    /* candidates: (probe row, build row) with equal keys; CROSS: every pair */
    for (size_t pi = w->lo; pi < w->hi && !rc; pi++) {
        if (!((pi - w->lo) & 4095) && (rc = check_cancel(j, &w->err)))
            break;
        if (j->nkeys && !s->pk.ok[pi])
            continue;
        /* a semi or anti join whose probe side is l needs one match per row */
        if (semi_l && s->lmatch[pi])
            continue;
        uint32_t e = j->nkeys ? s->head[s->pk.hash[pi] & (s->nb - 1)] : (b->n ? 1 : 0);
        while (e && !rc) {
            size_t bi = e - 1;
            e = j->nkeys ? s->next[bi] : (bi + 1 < b->n ? (uint32_t)bi + 2 : 0);
            if (j->nkeys && !keys_equal(&s->pk, pi, &s->bk, bi))
                continue;
            li[n] = (int64_t)(s->build_left ? bi : pi);
            ri[n] = (int64_t)(s->build_left ? pi : bi);
            if (++n < EXEC_VEC)
                continue;
            size_t m;
            if (!(rc = resid_filter(&re, li, ri, n, &m, &w->err)))
                rc = keep_pairs(s, w, li, ri, m);
            n = 0;
            if (semi_l && s->lmatch[pi])
                break;
        }
    }
    if (!rc && n) {
        size_t m;
        if (!(rc = resid_filter(&re, li, ri, n, &m, &w->err)))
            rc = keep_pairs(s, w, li, ri, m);
    }
out:
    resid_free(&re);
    free(li);
    free(ri);
    w->rc = rc;
}

/* Worker i writes its pairs' rows into the output at its offset. */
static void join_gather_part(void *arg, int i)
{
    join_state *s = arg;
    join_part *w = &s->part[i];
    rowset_gather(s->out, 0, s->l, w->li, w->n, w->at);
    rowset_gather(s->out, s->l->ncols, s->r, w->ri, w->n, w->at);
}

/* Whether row i of l (side 0) or r (side 1) is kept without a pair. */
static bool unpaired_kept(const join_state *s, int side, size_t i)
{
    if (side)
        return !s->rmatch[i];
    return s->j->type == JT_SEMI ? s->lmatch[i] != 0 : !s->lmatch[i];
}

/* Appends rows idx[0..n) of l (side 0) or r (side 1), with NULLs for the other side's columns. */
static void gather_unpaired(join_state *s, int side, const int64_t *idx, const int64_t *none, size_t n)
{
    rowset_gather(s->out, 0, s->l, side ? none : idx, n, s->out->n);
    if (s->j->type != JT_SEMI && s->j->type != JT_ANTI)
        rowset_gather(s->out, s->l->ncols, s->r, side ? idx : none, n, s->out->n);
    s->out->n += n;
}

/* The rows of one side that a join keeps without a pair (outer joins), or the rows a semi or anti join keeps. */
static int emit_unpaired(join_state *s, int side, factdb_error *err)
{
    const rowset *rs = side ? s->r : s->l;
    size_t cnt = 0;
    for (size_t i = 0; i < rs->n; i++)
        cnt += unpaired_kept(s, side, i);
    if (!cnt)
        return 0;
    int64_t *idx = malloc(EXEC_VEC * sizeof *idx), *none = malloc(EXEC_VEC * sizeof *none);
    int rc = (!idx || !none) ? base_err(err, FACTDB_NOMEM, "out of memory") : rowset_reserve(s->out, cnt, err);
    size_t n = 0;
    for (size_t k = 0; !rc && k < EXEC_VEC; k++)
        none[k] = -1;
    for (size_t i = 0; !rc && i < rs->n; i++) {
        if (!unpaired_kept(s, side, i))
            continue;
        idx[n++] = (int64_t)i;
        if (n == EXEC_VEC) {
            gather_unpaired(s, side, idx, none, n);
            n = 0;
        }
    }
    if (!rc && n)
        gather_unpaired(s, side, idx, none, n);
    free(idx);
    free(none);
    return rc;
}

int exec_join_run(const exec_join *j, const rowset *l, const rowset *r, rowset *out, factdb_error *err)
{
    bool both = j->type != JT_SEMI && j->type != JT_ANTI;
    sql_type types[2 * FACTDB_MAX_COLUMNS + 2];
    int nout = l->ncols + (both ? r->ncols : 0);
    if (nout > (int)ARRAY_LEN(types))
        return base_err(err, FACTDB_LIMIT, "a join of more than %zu columns", ARRAY_LEN(types));
    for (int c = 0; c < l->ncols; c++)
        types[c] = l->cols[c].type;
    for (int c = 0; both && c < r->ncols; c++)
        types[l->ncols + c] = r->cols[c].type;
    if (rowset_init(out, nout, types, j->mem, j->mem_limit, err))
        return err->code;
    /* a cross join without a condition makes exactly l x r rows: refuse at once what cannot fit */
    if (j->type == JT_CROSS && !j->resid && j->mem_limit) {
        double width = 0;
        for (int c = 0; c < nout; c++)
            width += (double)(c < l->ncols ? l->cols[c].width : r->cols[c - l->ncols].width) + 2;
        double bytes = (double)l->n * (double)r->n * width;
        if (bytes > (double)j->mem_limit) {
            rowset_cleanup(out);
            return base_err(err, FACTDB_LIMIT, "a join without a join condition makes %zu x %zu rows (%.0f MiB), more "
                            "than the query's memory limit of %zu MiB; add a join condition or filters (a LIMIT does "
                            "not stop a join from being built)", l->n, r->n, bytes / 1048576, j->mem_limit >> 20);
        }
    }
    /* build the smaller side; the probe side is split among the workers in ranges, each keeping its
     * pairs in order, so the output is the same as one worker's */
    join_state s = {.j = j, .l = l, .r = r, .build_left = l->n < r->n, .out = out,
                    .pairs = both};
    s.b = s.build_left ? l : r;
    s.p = s.build_left ? r : l;
    /* a worker per 16,384 rows of the larger side at most */
    size_t biggest = MAX(l->n, r->n);
    int nw = (int)MIN((size_t)MIN(MAX(j->threads, 1), EXEC_MAX_THREADS), 1 + biggest / 16384);
    s.nw = nw;
    size_t nb = 1, charged = 0;
    int rc = 0;
    s.part = calloc((size_t)nw, sizeof *s.part);
    if (!s.part) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = make_keys(j, s.b, &s.bk, err)) || (rc = make_keys(j, s.p, &s.pk, err)))
        goto out;
    for (int c = 0; c < j->nkeys; c++) {
        const rs_col *lc = &l->cols[j->lkey[c]], *rc2 = &r->cols[j->rkey[c]];
        if (key_kind(lc->type, rc2->type) == KEY_STR) {
            (s.build_left ? &s.bk : &s.pk)->s[c] = (const sql_str *)(const void *)lc->data;
            (s.build_left ? &s.pk : &s.bk)->s[c] = (const sql_str *)(const void *)rc2->data;
        }
    }
    exec_parallel(nw, join_keys_part, &s);
    while (nb < s.b->n * 2)
        nb <<= 1;
    s.nb = nb;
    charged = nb * 4 + s.b->n * 4 + l->n + r->n;
    if ((rc = charge(j, charged, err))) {
        charged = 0;
        goto out;
    }
    s.head = calloc(nb, sizeof *s.head);
    s.next = malloc((s.b->n ? s.b->n : 1) * sizeof *s.next);
    s.lmatch = calloc(l->n ? l->n : 1, 1);
    s.rmatch = calloc(r->n ? r->n : 1, 1);
    if (!s.head || !s.next || !s.lmatch || !s.rmatch) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = s.b->n; i-- > 0;) {
        if (!s.bk.ok[i])
            continue;
        size_t h = (size_t)(s.bk.hash[i] & (nb - 1));
        s.next[i] = s.head[h];
        s.head[h] = (uint32_t)i + 1;
    }
    s.pairs = j->type == JT_INNER || j->type == JT_LEFT || j->type == JT_RIGHT || j->type == JT_FULL ||
              j->type == JT_CROSS;
    for (int i = 0; i < nw; i++) {
        s.part[i].lo = s.p->n * (size_t)i / (size_t)nw;
        s.part[i].hi = s.p->n * (size_t)(i + 1) / (size_t)nw;
    }
    exec_parallel(nw, join_probe_part, &s);
    size_t total = 0;
    for (int i = 0; i < nw; i++) {
        if (s.part[i].rc && !rc) {
            rc = s.part[i].rc;
            *err = s.part[i].err;
        }
        s.part[i].at = total;
        total += s.part[i].n;
    }
    if (rc || (rc = rowset_reserve(out, total, err)))
        goto out;
    if (s.pairs && total) {
        exec_parallel(nw, join_gather_part, &s);
        out->n = total;
    }
    /* the rows a join keeps without a match, or the rows a semi or anti join keeps */
    if (j->type == JT_SEMI || j->type == JT_ANTI || j->type == JT_LEFT || j->type == JT_FULL)
        rc = emit_unpaired(&s, 0, err);
    if (!rc && (j->type == JT_RIGHT || j->type == JT_FULL))
        rc = emit_unpaired(&s, 1, err);
out:
    if (charged && j->mem)
        atomic_fetch_sub(j->mem, charged);
    for (int i = 0; s.part && i < nw; i++) {
        if (s.part[i].charged && j->mem)
            atomic_fetch_sub(j->mem, s.part[i].charged);
        free(s.part[i].li);
        free(s.part[i].ri);
    }
    free(s.part);
    keys_free(&s.bk);
    keys_free(&s.pk);
    free(s.head);
    free(s.next);
    free(s.lmatch);
    free(s.rmatch);
    if (rc == FACTDB_LIMIT && out->n)
        base_err(err, FACTDB_LIMIT, "the join's result passed the query's memory limit of %zu MiB after %zu rows; add "
                 "join conditions or filters, or raise the limit (factdb sql --memory-limit); a LIMIT does not stop a "
                 "join from being built", j->mem_limit >> 20, out->n);
    if (rc)
        rowset_cleanup(out);
    return rc;
}

/* ---- set operations ---- */
static uint64_t row_hash(const rowset *rs, size_t i)
{
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int c = 0; c < rs->ncols; c++) {
        const rs_col *col = &rs->cols[c];
        if (!col->valid[i]) {
            h = mix(h, 0x5bd1e995);
            continue;
        }
        switch (col->ph) {
        case P_STR: {
            const sql_str *s = (const sql_str *)(const void *)(col->data + i * 16);
            h = mix(h, XXH3_64bits(s->p, s->len));
            break;
        }
        case P_N128:
        case P_IV: {
            /* equal values may differ in scale (1.0, 1.00): hash the double, compare exactly */
            sql_value v;
            rowset_get(rs, c, i, &v);
            double d = 0;
            if (col->ph == P_N128) {
                d = (double)v.n;
                for (int s = v.nscale; s > 0; s--)
                    d /= 10;
            } else {
                d = (double)v.iv.months * 30 * 86400e6 + (double)v.iv.days * 86400e6 + (double)v.iv.us;
            }
            uint64_t b;
            memcpy(&b, &d, 8);
            h = mix(h, b);
            break;
        }
        case P_F64: {
            double d;
            memcpy(&d, col->data + i * 8, 8);
            if (d == 0)
                d = 0;
            uint64_t b;
            memcpy(&b, &d, 8);
            h = mix(h, b);
            break;
        }
        default: {
            uint64_t w = 0;
            memcpy(&w, col->data + i * col->width, col->width);
            h = mix(h, w);
        }
        }
    }
    return h;
}

static bool rows_equal(const rowset *a, size_t i, const rowset *b, size_t j)
{
    for (int c = 0; c < a->ncols; c++) {
        bool va = a->cols[c].valid[i], vb = b->cols[c].valid[j];
        if (va != vb)
            return false;
        if (!va)
            continue;
        sql_value x, y;
        rowset_get(a, c, i, &x);
        rowset_get(b, c, j, &y);
        if (exec_compare_values(&x, &y))
            return false;
    }
    return true;
}

/* Distinct rows of l (then r), each with how often it occurs in l and in r. */
typedef struct set_tab {
    size_t nb, n, cap;
    uint32_t *head;
    struct set_ent {
        uint64_t hash;
        uint32_t next;
        bool from_r;
        size_t row;
        size_t cl, cr;
    } *e;
} set_tab;

static int set_add(set_tab *t, const rowset *rs, bool from_r, size_t row, const rowset *l, const rowset *r,
                   factdb_error *err)
{
    uint64_t h = row_hash(rs, row);
    for (uint32_t k = t->head[h & (t->nb - 1)]; k; k = t->e[k - 1].next) {
        struct set_ent *x = &t->e[k - 1];
        if (x->hash == h && rows_equal(x->from_r ? r : l, x->row, rs, row)) {
            if (from_r)
                x->cr++;
            else
                x->cl++;
            return 0;
        }
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        struct set_ent *ne = realloc(t->e, cap * sizeof *ne);
        if (!ne)
            return base_err(err, FACTDB_NOMEM, "out of memory");
        t->e = ne;
        t->cap = cap;
    }
    t->e[t->n] = (struct set_ent){.hash = h, .next = t->head[h & (t->nb - 1)], .from_r = from_r, .row = row,
                                  .cl = !from_r, .cr = from_r};
    t->head[h & (t->nb - 1)] = (uint32_t)++t->n;
    return 0;
}

int exec_setop_run(setop_type op, bool all, const rowset *l, const rowset *r, _Atomic size_t *mem, size_t mem_limit,
                   rowset *out, factdb_error *err)
{
    sql_type types[FACTDB_MAX_COLUMNS + 1];
    if (l->ncols > FACTDB_MAX_COLUMNS)
        return base_err(err, FACTDB_LIMIT, "too many columns");
    for (int c = 0; c < l->ncols; c++)
        types[c] = l->cols[c].type;
    if (rowset_init(out, l->ncols, types, mem, mem_limit, err))
        return err->code;
    int rc = 0;
    int64_t idx[EXEC_VEC];
    if (op == SO_UNION && all) {
        for (int side = 0; side < 2 && !rc; side++) {
            const rowset *s = side ? r : l;
            for (size_t off = 0; off < s->n && !rc; off += EXEC_VEC) {
                size_t k = MIN((size_t)EXEC_VEC, s->n - off);
                for (size_t i = 0; i < k; i++)
                    idx[i] = (int64_t)(off + i);
                if (!(rc = rowset_reserve(out, k, err))) {
                    rowset_gather(out, 0, s, idx, k, out->n);
                    out->n += k;
                }
            }
        }
        if (rc)
            rowset_cleanup(out);
        return rc;
    }
    set_tab t = {0};
    t.nb = 1024;
    while (t.nb < (l->n + r->n) * 2)
        t.nb <<= 1;
    t.head = calloc(t.nb, sizeof *t.head);
    if (!t.head) {
        rowset_cleanup(out);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < l->n && !rc; i++)
        rc = set_add(&t, l, false, i, l, r, err);
    for (size_t i = 0; i < r->n && !rc; i++)
        rc = set_add(&t, r, true, i, l, r, err);
    /* emit each distinct row as often as the operation says, from whichever side it was first seen */
    for (size_t k = 0; k < t.n && !rc; k++) {
        struct set_ent *x = &t.e[k];
        size_t times;
        if (op == SO_UNION)
            times = 1;
        else if (op == SO_INTERSECT)
            times = all ? MIN(x->cl, x->cr) : (x->cl && x->cr);
        else
            times = all ? (x->cl > x->cr ? x->cl - x->cr : 0) : (x->cl && !x->cr);
        for (size_t q = 0; q < times && !rc; q++) {
            if (!(rc = rowset_reserve(out, 1, err))) {
                int64_t one = (int64_t)x->row;
                rowset_gather(out, 0, x->from_r ? r : l, &one, 1, out->n);
                out->n++;
            }
        }
    }
    free(t.head);
    free(t.e);
    if (rc)
        rowset_cleanup(out);
    return rc;
}

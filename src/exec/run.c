/* run.c: runs a bound SELECT. One snapshot scan (zone maps drop chunks first) is shared by worker threads
 * that claim chunks; each worker filters and either aggregates into its own group table or projects into
 * its own rowset. The main thread merges, applies HAVING and the outputs over the groups, then DISTINCT,
 * ORDER BY (top-N when a LIMIT allows), OFFSET and LIMIT. */
#include "agg.h"
#include "exec_int.h"
#include "store/store.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct run run;

/* Radix partitioning of owned-mode grouping: rows are first appended to 2^RADIX_BITS partitions by key
 * hash (sequential writes), then each partition is aggregated on its own with a table small enough to
 * stay in cache. Used for one integer/double key and plain aggregates over numbers. */
#define RADIX_BITS 6
#define NPART (1 << RADIX_BITS)

typedef struct part_buf {
    size_t n, cap;
    bool pooled;        /* the arrays are carved out of the worker's pooled block (not freed one by one) */
    uint64_t *key;
    uint8_t *kvalid;
    uint64_t **val;     /* per aggregate with an argument: its 8 bytes (else NULL) */
    uint8_t **flag;     /* per aggregate with an argument or FILTER: 1 = the row counts (argument not NULL,
                         * FILTER true; else NULL: count(*) keeps nothing per row) */
} part_buf;

static bool radix_val(const agg_spec *sp) { return sp->arg != NULL; }
static bool radix_flag(const agg_spec *sp) { return sp->arg || sp->filter; }

/* Bytes a row takes in a partition: key, key validity, and per aggregate what it keeps. */
static size_t radix_row_bytes(const query *q)
{
    size_t b = 9;
    for (int j = 0; j < q->naggs; j++)
        b += (radix_val(&q->aggs[j]) ? 8 : 0) + (radix_flag(&q->aggs[j]) ? 1 : 0);
    return b;
}

typedef struct worker {
    run *r;
    eval_thread th;
    gtab gt;
    rowset rs;
    factdb_batch batch;
    factdb_error err;
    int rc;
    int me;                 /* index among the workers */
    bool gt_ready, rs_ready;
    part_buf *parts;        /* radix mode: NPART partitions of rows */
    void *block;            /* radix mode: one pooled allocation holding every partition's first arrays */
    size_t block_size;
    gtab *ptabs;            /* radix mode: one table per partition */
    int nptabs;
    vec pkv;                /* packed keys: the current vector's packed key */
    int64_t pk[EXEC_VEC];
} worker;

struct run {
    factdb *db;
    query *q;
    const exec_options *o;
    exec_ctx x;
    factdb_scan *scan;
    _Atomic size_t next_block;  /* q->src: the next block of SRC_BLOCK rows to claim */
    _Atomic size_t mem;
    _Atomic size_t produced;
    atomic_bool stop;
    size_t want;            /* rows needed for LIMIT without ORDER BY/DISTINCT; 0 = all */
    int kmode[MAX_KEYS];
    uint64_t domain[MAX_KEYS];
    int64_t kbase[MAX_KEYS];  /* dense integer keys: the smallest value (domain from the zone maps) */
    uint64_t dense_max;       /* gtab_dense_limit of the table's rows */
    bool agg_coded[MAX_AGGS];
    worker *w;
    int nw;
    /* High-cardinality grouping: every worker reads every chunk but aggregates only the keys it owns
     * (gtab_owner), so no worker holds all groups and no final merge is needed. */
    bool owned;
    size_t first_chunk;     /* owned mode: chunks before it were aggregated the ordinary way */
    double groups_est;      /* groups the whole grouping is expected to make (from the first chunk) */
    bool radix;             /* owned mode with radix-partitioned aggregation */
    /* Several integer, boolean or text-coded keys whose ranges multiply to at most 2^62 are packed into one
     * 64-bit key (pack_keys): the group tables see one integer key (`gq`, kmode[0] KEY_I64), which hashes
     * as a word, is stored as one, and can be radix-partitioned. pk*: the original keys, for decoding. */
    bool packed;
    int gnk;                /* keys of the group tables: 1 when packed, else q->nkeys */
    query gq;               /* the query as the group tables see it */
    int pkmode[MAX_KEYS];
    uint64_t pstride[MAX_KEYS], pdom[MAX_KEYS];
    int64_t pbase[MAX_KEYS];
};

const char *exec_scan_text(void *ctx, int col, uint32_t code, size_t *len)
{
    return factdb_scan_text(ctx, (size_t)col, code, len);
}

raw_kind exec_raw_of_store(int st)
{
    switch (st) {
    case FACTDB_BOOLEAN: return RAW_U8;
    case FACTDB_INTEGER:
    case FACTDB_DATE: return RAW_I32;
    case FACTDB_DOUBLE: return RAW_F64;
    case FACTDB_TEXT: return RAW_CODE;
    default: return RAW_I64;
    }
}

size_t exec_raw_width(raw_kind r)
{
    switch (r) {
    case RAW_U8: return 1;
    case RAW_I32:
    case RAW_CODE: return 4;
    case RAW_STR:
    case RAW_N128:
    case RAW_IV: return 16;
    default: return 8;
    }
}

raw_kind exec_raw_of_phys(phys p)
{
    switch (p) {
    case P_U8: return RAW_U8;
    case P_F64: return RAW_F64;
    case P_STR: return RAW_STR;
    case P_N128: return RAW_N128;
    case P_IV: return RAW_IV;
    default: return RAW_I64;
    }
}

void exec_reset_tmp(eval_thread *t)
{
    if (t->tmp.total > (1u << 20)) {
        sql_arena_cleanup(&t->tmp);
        sql_arena_init(&t->tmp, 0);
    } else if (t->tmp.head) {
        t->tmp.used = 0;  /* reuse the newest block; older ones are freed at the end */
    }
}

static bool is_coded(const query *q, const bexpr *e)
{
    return e && e->kind == B_INPUT && e->input < q->ncols && q->cols[e->input].store_type == FACTDB_TEXT;
}

static inline unsigned part_of(uint64_t w) { return (unsigned)((w * 0x9E3779B97F4A7C15ull) >> (64 - RADIX_BITS)); }

/* Doubles a partition's arrays. A partition that outgrows its share of the worker's pooled block (skewed
 * keys) moves to malloc'ed arrays of its own. */
static int part_grow(part_buf *p, const query *q, factdb_error *err)
{
    int naggs = q->naggs;
    size_t cap = p->cap ? p->cap * 2 : 4096, n = p->n;
    uint64_t *k = malloc(cap * 8);
    uint8_t *kv = malloc(cap);
    bool ok = k && kv;
    uint64_t *v[MAX_AGGS] = {0};
    uint8_t *f[MAX_AGGS] = {0};
    for (int j = 0; j < naggs && ok; j++) {
        v[j] = radix_val(&q->aggs[j]) ? malloc(cap * 8) : NULL;
        f[j] = radix_flag(&q->aggs[j]) ? malloc(cap) : NULL;
        ok = (v[j] || !radix_val(&q->aggs[j])) && (f[j] || !radix_flag(&q->aggs[j]));
    }
    if (!ok) {
        free(k);
        free(kv);
        for (int j = 0; j < naggs; j++)
            free(v[j]), free(f[j]);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    memcpy(k, p->key, n * 8);
    memcpy(kv, p->kvalid, n);
    for (int j = 0; j < naggs; j++) {
        if (v[j] && n)
            memcpy(v[j], p->val[j], n * 8);
        if (f[j] && n)
            memcpy(f[j], p->flag[j], n);
    }
    if (!p->pooled) {
        free(p->key);
        free(p->kvalid);
        for (int j = 0; j < naggs; j++)
            free(p->val[j]), free(p->flag[j]);
    }
    p->key = k;
    p->kvalid = kv;
    for (int j = 0; j < naggs; j++)
        p->val[j] = v[j], p->flag[j] = f[j];
    p->cap = cap;
    p->pooled = false;
    return 0;
}

static int eval_keys(worker *w, const uint32_t *sel, size_t m, vec **kv);

/* Radix mode, phase 1: appends the owned rows sel[0..m) to the worker's partitions. */
static int radix_append(worker *w, const uint32_t *sel, size_t m)
{
    run *r = w->r;
    query *q = r->q;
    eval_thread *t = &w->th;
    vec *kvs[MAX_KEYS], *kv, *av[MAX_AGGS], *fv[MAX_AGGS];
    if (eval_keys(w, sel, m, kvs))
        return w->err.code;
    kv = kvs[0];
    for (int j = 0; j < q->naggs; j++) {
        av[j] = fv[j] = NULL;
        if ((q->aggs[j].arg && eval(t, q->aggs[j].arg, sel, m, &av[j])) ||
            (q->aggs[j].filter && eval(t, q->aggs[j].filter, sel, m, &fv[j])))
            return (w->err = t->err).code;
    }
    size_t charge = m * radix_row_bytes(q);
    if (atomic_fetch_add(&r->mem, charge) + charge > r->o->mem_limit)
        return base_err(&w->err, FACTDB_LIMIT, "the query needs more than its memory limit of %zu MiB (too many groups); "
                        "add filters, or raise the limit", r->o->mem_limit >> 20);
    const bool f64 = r->kmode[0] == KEY_F64;
    const uint64_t *kd = kv->data;
    for (size_t i = 0; i < m; i++) {
        uint8_t kn = kv->valid && !kv->valid[i];
        uint64_t kw = kn ? 0 : kd[i];
        if (f64 && !kn) {
            double d;
            memcpy(&d, &kw, 8);
            if (d == 0)
                d = 0;  /* -0 groups with 0 */
            if (d != d)
                d = NAN;
            memcpy(&kw, &d, 8);
        }
        part_buf *p = &w->parts[part_of(kw)];
        if (p->n == p->cap && part_grow(p, q, &w->err))
            return w->err.code;
        size_t at = p->n++;
        p->key[at] = kw;
        p->kvalid[at] = !kn;
        for (int j = 0; j < q->naggs; j++) {
            const vec *a = av[j], *f = fv[j];
            uint8_t ok = 1;
            if (a && a->valid && !a->valid[i])
                ok = 0;
            if (f && ((f->valid && !f->valid[i]) || !((const uint8_t *)f->data)[i]))
                ok = 0;
            if (p->flag[j])
                p->flag[j][at] = ok;
            if (p->val[j])
                p->val[j][at] = ((const uint64_t *)a->data)[i];
        }
    }
    return 0;
}

/* Radix mode, phase 2: the worker aggregates partitions p = me, me + nw, ... from every worker's rows, each
 * with its own table (small enough for the cache); tables of different partitions hold different keys. */
static int radix_aggregate(worker *w)
{
    run *r = w->r;
    query *q = r->q;
    uint32_t gids[EXEC_VEC];
    for (int p = w->me; p < NPART; p += r->nw) {
        gtab *gt = &w->ptabs[p];
        if (gtab_init(gt, &r->gq, r->kmode, r->domain, r->kbase, 0 /* hashed: a partition holds 1/64 of the range */, &r->mem, r->o->mem_limit, &w->th.keep, &w->err))
            return w->err.code;
        w->nptabs = p + 1;
        factdb_error ignored = {0};  /* a hint, as in exec_select */
        gtab_reserve(gt, (size_t)(r->groups_est / NPART), &ignored);
        for (int src = 0; src < r->nw; src++) {
            part_buf *pb = &r->w[src].parts[p];
            for (size_t off = 0; off < pb->n; off += EXEC_VEC) {
                size_t n = MIN((size_t)EXEC_VEC, pb->n - off);
                vec kv = {.type = r->packed ? (sql_type){TY_BIGINT, 0, 0} : q->keys[0]->type, .data = pb->key + off,
                          .valid = pb->kvalid + off, .dict = -1};
                vec *kp = &kv;
                if (gtab_groups(gt, &kp, n, gids, &w->err))
                    return w->err.code;
                for (int j = 0; j < q->naggs; j++) {
                    const agg_spec *sp = &q->aggs[j];
                    if (!sp->arg) {
                        if (gtab_update(gt, j, gids, NULL, sp->filter ? pb->flag[j] + off : NULL, NULL, n, false,
                                        &w->err))
                            return w->err.code;
                        continue;
                    }
                    vec av = {.type = sp->arg->type, .data = pb->val[j] + off, .valid = pb->flag[j] + off, .dict = -1};
                    if (gtab_update(gt, j, gids, &av, NULL, NULL, n, false, &w->err))
                        return w->err.code;
                }
            }
        }
    }
    return 0;
}

static void *radix_work(void *arg)
{
    worker *w = arg;
    w->rc = radix_aggregate(w);
    return NULL;
}

static void parts_free(worker *w, int naggs)
{
    if (w->parts)
        for (int p = 0; p < NPART; p++) {
            if (!w->parts[p].pooled) {
                free(w->parts[p].key);
                free(w->parts[p].kvalid);
                for (int j = 0; j < naggs; j++) {
                    if (w->parts[p].val)
                        free(w->parts[p].val[j]);
                    if (w->parts[p].flag)
                        free(w->parts[p].flag[j]);
                }
            }
            free(w->parts[p].val);
            free(w->parts[p].flag);
        }
    free(w->parts);
    base_pool_put(w->block, w->block_size);
    w->block = NULL;
    for (int p = 0; p < w->nptabs; p++)
        gtab_cleanup(&w->ptabs[p]);
    free(w->ptabs);
    w->parts = NULL;
    w->ptabs = NULL;
    w->nptabs = 0;
}

/* Adds the rows sel[0..m) (grouped as gids) to aggregate j of worker w's table. */
static int update_agg(worker *w, int j, const uint32_t *sel, size_t m, const uint32_t *gids)
{
    run *r = w->r;
    query *q = r->q;
    eval_thread *t = &w->th;
    agg_spec *sp = &q->aggs[j];
    vec *a = NULL, *f = NULL;
    if (sp->arg && eval(t, sp->arg, sel, m, &a))
        return (w->err = t->err).code;
    if (sp->filter && eval(t, sp->filter, sel, m, &f))
        return (w->err = t->err).code;
    if (a && exec_phys(a->type) == P_STR && (sp->fn == AG_MIN || sp->fn == AG_MAX) && eval_strings(t, a, m))
        return (w->err = t->err).code;
    if (a && exec_phys(a->type) == P_STR && sp->distinct && !r->agg_coded[j] && eval_strings(t, a, m))
        return (w->err = t->err).code;
    if (gtab_update(&w->gt, j, q->nkeys ? gids : NULL, a, f ? f->data : NULL, f ? f->valid : NULL, m,
                    r->agg_coded[j], &w->err))
        return w->err.code;
    return 0;
}

/* Processes rows [0, n) of the current inputs. */
static int process(worker *w, size_t n)
{
    run *r = w->r;
    query *q = r->q;
    eval_thread *t = &w->th;
    uint32_t sel_buf[EXEC_VEC];
    const uint32_t *sel = NULL;
    size_t m = n;
    exec_reset_tmp(t);
    if (q->where) {
        if (eval_filter(t, q->where, NULL, n, sel_buf, &m))
            return (w->err = t->err).code;
        if (!m)
            return 0;
        if (m != n)
            sel = sel_buf;
    }
    if (r->radix)
        return radix_append(w, sel, m);
    uint32_t own_buf[EXEC_VEC];
    if (q->agg && r->owned) {
        /* keep the rows whose group this worker owns */
        vec *kv[MAX_KEYS];
        if (eval_keys(w, sel, m, kv))
            return w->err.code;
        size_t k2 = 0;
        uint64_t kw[MAX_KEYS];
        uint8_t kn[MAX_KEYS];
        for (size_t i = 0; i < m; i++) {
            gtab_key_words(&w->gt, kv, i, kw, kn);
            own_buf[k2] = sel ? sel[i] : (uint32_t)i;
            k2 += gtab_owner(kw, kn, r->gnk, r->nw) == w->me;
        }
        if (!k2)
            return 0;
        sel = own_buf;
        m = k2;
    }
    if (q->agg) {
        vec *kv[MAX_KEYS];
        uint32_t gids[EXEC_VEC];
        if (eval_keys(w, sel, m, kv))
            return w->err.code;
        if (q->nkeys && gtab_groups(&w->gt, kv, m, gids, &w->err))
            return w->err.code;
        /* rows read through a selection (a WHERE) are gathered anyway: gathering them in group order
         * costs only the sort (TPC-H Q1: 213 -> 196 ms; without a selection the gather cost more than it
         * saved, 42 -> 83 ms for 3 groups) */
        uint32_t sorted_sel[EXEC_VEC];
        if (q->nkeys && sel && gtab_sort_rows(&w->gt, gids, sel, sorted_sel, m))
            sel = sorted_sel;
        eval_memo_begin(t, sel, m);
        int rc = 0;
        for (int j = 0; j < q->naggs && !rc; j++)
            rc = update_agg(w, j, sel, m, gids);
        eval_memo_end(t);
        return rc;
    }
    vec *ov[1024];
    for (int i = 0; i < q->nouts; i++) {
        if (eval(t, q->outs[i], sel, m, &ov[i]))
            return (w->err = t->err).code;
        if (exec_phys(ov[i]->type) == P_STR && eval_strings(t, ov[i], m))
            return (w->err = t->err).code;
    }
    if (rowset_append(&w->rs, ov, m, &w->err))
        return w->err.code;
    if (r->want && atomic_fetch_add(&r->produced, m) + m >= r->want)
        atomic_store(&r->stop, true);
    return 0;
}

static void *work_chunks(worker *w, size_t limit);

/* Rows of a materialized relation a worker claims at a time. */
#define SRC_BLOCK ((size_t)16 * EXEC_VEC)

/* Reads a materialized relation (q->src): workers claim blocks of rows. */
static void work_rowset(worker *w)
{
    run *r = w->r;
    query *q = r->q;
    const rowset *src = q->src;
    for (;;) {
        if (atomic_load(&r->stop) || atomic_load(&r->x.failed))
            break;
        size_t at = atomic_fetch_add(&r->next_block, 1) * SRC_BLOCK;
        if (at >= src->n)
            break;
        size_t end = MIN(src->n, at + SRC_BLOCK);
        for (size_t off = at; off < end && !w->rc; off += EXEC_VEC) {
            size_t n = MIN((size_t)EXEC_VEC, end - off);
            for (int c = 0; c < q->ncols; c++) {
                const rs_col *col = &src->cols[q->cols[c].table_col];
                in_col *ic = &w->th.in[c];
                ic->raw = exec_raw_of_phys(col->ph);
                ic->data = col->data + off * col->width;
                ic->valid = col->valid + off;
                ic->scales = col->scales ? col->scales + off : NULL;
                ic->type = col->type;
                ic->dict = -1;
            }
            w->rc = process(w, n);
            if (r->stop)
                break;
        }
        if (w->rc)
            break;
    }
    if (w->rc)
        atomic_store(&r->x.failed, true);
}

static void *work(void *arg)
{
    worker *w = arg;
    if (w->r->q->src) {
        work_rowset(w);
        return NULL;
    }
    return work_chunks(arg, SIZE_MAX);
}

/* Processes up to `limit` chunks (claimed, or all of them in owned mode). */
static void *work_chunks(worker *w, size_t limit)
{
    run *r = w->r;
    query *q = r->q;
    if (!r->scan) {
        /* no FROM: one row without columns */
        w->rc = process(w, 1);
        return NULL;
    }
    size_t next_own = r->first_chunk;
    for (size_t done = 0; done < limit; done++) {
        if (atomic_load(&r->stop) || atomic_load(&r->x.failed))
            break;
        if ((w->rc = r->owned ? store_scan_read(r->scan, &w->batch, next_own++, &w->err)
                              : factdb_scan_next(r->scan, &w->batch, &w->err)))
            break;
        size_t count = w->batch.count;
        if (!count)
            break;
        for (size_t off = 0; off < count && !w->rc; off += EXEC_VEC) {
            size_t n = MIN((size_t)EXEC_VEC, count - off);
            for (int c = 0; c < q->ncols; c++) {
                const factdb_vector *bv = &w->batch.cols[c];
                in_col *ic = &w->th.in[c];
                ic->raw = exec_raw_of_store(q->cols[c].store_type);
                ic->data = (const char *)bv->data + off * exec_raw_width(ic->raw);
                ic->valid = bv->valid ? bv->valid + off : NULL;
                ic->type = q->cols[c].type;
                ic->dict = c;
            }
            w->rc = process(w, n);
            if (r->stop)
                break;
        }
        if (w->rc)
            break;
    }
    if (w->rc)
        atomic_store(&r->x.failed, true);
    return NULL;
}

typedef struct par_call {
    void (*fn)(void *, int);
    void *arg;
    int i;
} par_call;

static void *par_start(void *p)
{
    par_call *c = p;
    c->fn(c->arg, c->i);
    return NULL;
}

void exec_parallel(int n, void (*fn)(void *arg, int i), void *arg)
{
    pthread_t tids[EXEC_MAX_THREADS];
    bool started[EXEC_MAX_THREADS] = {false};
    par_call calls[EXEC_MAX_THREADS];
    /* An explicit stack size, not the default that follows `ulimit -s`: expression evaluation recurses
     * up to SQL_MAX_DEPTH levels and was measured against this size (docs/design.md). Worker 0 runs on
     * the caller's thread, which may be a libmicrohttpd thread with 4 MiB. */
    pthread_attr_t attr;
    bool attr_ok = pthread_attr_init(&attr) == 0;
    if (attr_ok)
        pthread_attr_setstacksize(&attr, EXEC_THREAD_STACK);
    for (int i = 1; i < n && i < EXEC_MAX_THREADS; i++) {
        calls[i] = (par_call){fn, arg, i};
        started[i] = pthread_create(&tids[i], attr_ok ? &attr : NULL, par_start, &calls[i]) == 0;
    }
    if (attr_ok)
        pthread_attr_destroy(&attr);
    fn(arg, 0);
    for (int i = 1; i < n; i++)
        if (i >= EXEC_MAX_THREADS || !started[i])
            fn(arg, i);
    for (int i = 1; i < n && i < EXEC_MAX_THREADS; i++)
        if (started[i])
            pthread_join(tids[i], NULL);
}

typedef struct workers_call {
    run *r;
    void *(*fn)(void *);
} workers_call;

static void workers_one(void *arg, int i)
{
    workers_call *c = arg;
    c->fn(&c->r->w[i]);
}

/* Runs fn on every worker (exec_parallel). Returns the first worker's error. */
static int run_workers(run *r, void *(*fn)(void *), factdb_error *err)
{
    workers_call c = {r, fn};
    exec_parallel(r->nw, workers_one, &c);
    for (int i = 0; i < r->nw; i++)
        if (r->w[i].rc) {
            *err = r->w[i].err;
            return r->w[i].rc;
        }
    return 0;
}

/* ---- zone maps ---- */
/* The rows of the chunks whose zone map for the grouping key overlaps the first chunk's (see
 * gtab_prefer_partitioned): all rows unless the one key is a plain column with zone maps (not a double,
 * whose bits do not order as numbers). */
static double key_hood_rows(run *r)
{
    double all = (double)factdb_scan_row_count(r->scan);
    const bexpr *k = r->q->keys[0];
    int64_t lo, hi, a, b;
    size_t nch = store_scan_chunk_count(r->scan);
    if (r->q->nkeys != 1 || k->kind != B_INPUT || k->type.id == TY_DOUBLE || !nch ||
        store_scan_chunk_range(r->scan, 0, (size_t)k->input, &lo, &hi) != 1)
        return all;
    size_t overlap = 0;
    for (size_t i = 0; i < nch; i++) {
        int z = store_scan_chunk_range(r->scan, i, (size_t)k->input, &a, &b);
        if (z < 0)
            return all;
        overlap += z && a <= hi && b >= lo;
    }
    return all * (double)overlap / (double)nch;
}

/* A dense key range for integer key k from the zone maps of every chunk: its domain (max - min + 1) and
 * base (min) when grouping can index an array by value instead of hashing (`l_suppkey` 1..10,000); 0
 * when the key is computed, a double, or its range is wider than the dense limit. */
/* The values of integer key k (a plain column) lie in [*base, *base + domain) by the zone maps of every
 * chunk: returns the domain, 0 when unknown (computed key, damaged or empty zone maps, the whole range). */
static uint64_t key_zone_range(run *r, int k, int64_t *base)
{
    const bexpr *e = r->q->keys[k];
    size_t nch = store_scan_chunk_count(r->scan);
    if (r->kmode[k] != KEY_I64 || e->kind != B_INPUT || !nch)
        return 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN, a, b;
    for (size_t i = 0; i < nch; i++) {
        int z = store_scan_chunk_range(r->scan, i, (size_t)e->input, &a, &b);
        if (z < 0 || (z && a > b))
            return 0;
        if (z) {
            lo = a < lo ? a : lo;
            hi = b > hi ? b : hi;
        }
    }
    if (lo > hi)
        return 0;
    *base = lo;
    return (uint64_t)hi - (uint64_t)lo + 1;  /* 0 for the whole range */
}

static uint64_t key_range(run *r, int k, int64_t *base)
{
    int64_t lo;
    uint64_t dom = key_zone_range(r, k, &lo);
    if (dom == 0 || dom >= r->dense_max)
        return 0;
    *base = lo;
    return dom;
}

/* Packs the keys when there are several, each an integer column with zone maps, a boolean or a text
 * column's codes, their domains (+1 each for NULL) multiply to at most 2^62, and they would not index a
 * dense array anyway (gtab_init's choice). A value outside its zone-mapped range is damage (CORRUPT when
 * packing). Returns whether it packed. */
static bool pack_keys(run *r)
{
    query *q = r->q;
    if (q->nkeys < 2 || !r->scan)
        return false;
    uint64_t size = 1;
    bool dense = true;
    for (int k = 0; k < q->nkeys; k++) {
        uint64_t dom = r->kmode[k] == KEY_I64 ? key_zone_range(r, k, &r->pbase[k])
                       : r->kmode[k] == KEY_CODE || r->kmode[k] == KEY_U8 ? r->domain[k] : 0;
        if (r->kmode[k] != KEY_I64)
            r->pbase[k] = 0;
        if (!dom || dom >= (UINT64_C(1) << 62) / size)
            return false;
        dense &= r->domain[k] && r->domain[k] < r->dense_max;
        r->pkmode[k] = r->kmode[k];
        r->pdom[k] = dom;
        r->pstride[k] = size;
        size *= dom + 1;
    }
    if (dense && size <= r->dense_max)
        return false;  /* the keys index an array: no hashing to save */
    r->packed = true;
    r->gnk = 1;
    r->gq = *q;
    r->gq.nkeys = 1;
    r->kmode[0] = KEY_I64;
    r->domain[0] = 0;  /* hashed */
    r->kbase[0] = 0;
    return true;
}

/* Evaluates the group keys of rows sel[0..m) into kv (strings filled for text keys); packed keys become
 * one vector of the worker's. */
static int eval_keys(worker *w, const uint32_t *sel, size_t m, vec **kv)
{
    run *r = w->r;
    query *q = r->q;
    eval_thread *t = &w->th;
    for (int k = 0; k < q->nkeys; k++) {
        if (eval(t, q->keys[k], sel, m, &kv[k]))
            return (w->err = t->err).code;
        if (!r->packed && r->kmode[k] == KEY_STR && eval_strings(t, kv[k], m))
            return (w->err = t->err).code;
    }
    if (!r->packed)
        return 0;
    int64_t *p = w->pk;
    memset(p, 0, m * sizeof *p);
    bool out = false;
    for (int k = 0; k < q->nkeys; k++) {
        const vec *v = kv[k];
        uint64_t stride = r->pstride[k], dom = r->pdom[k];
        if (r->pkmode[k] == KEY_I64) {
            const int64_t *x = v->data;
            uint64_t b0 = (uint64_t)r->pbase[k];
            for (size_t i = 0; i < m; i++) {
                uint64_t c = v->valid && !v->valid[i] ? 0 : (uint64_t)x[i] - b0 + 1;
                out |= c > dom;
                p[i] += (int64_t)(c * stride);
            }
        } else if (r->pkmode[k] == KEY_CODE) {
            const uint32_t *c = v->codes;
            for (size_t i = 0; i < m; i++) {
                uint64_t x = v->valid && !v->valid[i] ? 0 : (uint64_t)c[i] + 1;
                out |= x > dom;
                p[i] += (int64_t)(x * stride);
            }
        } else {
            const uint8_t *b = v->data;
            for (size_t i = 0; i < m; i++)
                p[i] += (int64_t)((v->valid && !v->valid[i] ? 0 : (uint64_t)(b[i] != 0) + 1) * stride);
        }
    }
    if (out)
        return base_err(&w->err, FACTDB_CORRUPT, "a value lies outside the range its chunk's zone map records, or "
                        "a text value beyond its dictionary; run factdb check");
    w->pkv = (vec){.type = {TY_BIGINT, 0, 0}, .data = p, .dict = -1};
    kv[0] = &w->pkv;
    return 0;
}
bool exec_zone_keep(void *ctx, const store_chunk_header *h)
{
    const query *q = ctx;
    for (int i = 0; i < q->nzones; i++) {
        const zone_pred *z = &q->zones[i];
        if (z->table_col >= h->ncols || !h->cols[z->table_col].present)
            return false;  /* column added later: all NULL, no row can match */
        const store_colmeta *m = &h->cols[z->table_col];
        if (m->nulls == h->rows)
            return false;
        if (!(m->flags & ENC_FLAG_MINMAX))
            continue;
        int lo, hi;  /* compare v with min and max: -1, 0, 1 */
        if (z->store_type == FACTDB_DOUBLE) {
            double v, mn, mx;
            memcpy(&v, &z->v, 8);
            memcpy(&mn, &m->min, 8);
            memcpy(&mx, &m->max, 8);
            lo = v < mn ? -1 : v > mn;
            hi = v < mx ? -1 : v > mx;
        } else {
            lo = z->v < m->min ? -1 : z->v > m->min;
            hi = z->v < m->max ? -1 : z->v > m->max;
        }
        bool skip = false;
        switch (z->op) {
        case CMP_EQ: skip = lo < 0 || hi > 0; break;
        case CMP_LT: skip = lo <= 0; break;   /* col < v impossible when min >= v */
        case CMP_LE: skip = lo < 0; break;
        case CMP_GT: skip = hi >= 0; break;   /* col > v impossible when max <= v */
        case CMP_GE: skip = hi > 0; break;
        default: break;
        }
        if (skip)
            return false;
    }
    return true;
}

static bool keep_none(void *ctx, const store_chunk_header *h)
{
    (void)ctx, (void)h;
    return false;
}


/* Opens the query's scan. A query that reads no column (count(*)) still needs the rows: it reads one
 * column, a boolean if there is one; *owned is that column's descriptor, freed with exec_close_scan. */
int exec_open_scan(factdb *db, query *q, factdb_scan **scan, scan_col **owned, factdb_error *err)
{
    const char *names[FACTDB_MAX_COLUMNS];
    int rc;
    *owned = NULL;
    if (q->ncols == 0) {
        factdb_table_info ti;
        if ((rc = factdb_table_info_get(db, q->table, &ti, err)))
            return rc;
        size_t best = 0;
        for (size_t i = 0; i < ti.ncols; i++)
            if (ti.cols[i].type == FACTDB_BOOLEAN)
                best = i;
        scan_col *sc = calloc(1, sizeof *sc);
        if (sc)
            sc->name = strdup(ti.cols[best].name);
        if (!sc || !sc->name) {
            free(sc);
            factdb_table_info_free(&ti);
            return base_err(err, FACTDB_NOMEM, "out of memory");
        }
        sc->table_col = (int)best;
        sc->store_type = ti.cols[best].type;
        sc->type = sql_type_from_store(ti.cols[best].type, ti.cols[best].precision, ti.cols[best].scale);
        factdb_table_info_free(&ti);
        q->cols = sc;
        q->ncols = 1;
        *owned = sc;
    }
    for (int c = 0; c < q->ncols; c++)
        names[c] = q->cols[c].name;
    return factdb_scan_open(db, q->table, names, (size_t)q->ncols, scan, err);
}

void exec_close_scan(query *q, factdb_scan *scan, scan_col *owned)
{
    factdb_scan_free(scan);
    if (owned) {
        free(owned->name);
        free(owned);
        q->cols = NULL;
        q->ncols = 0;
    }
}

int exec_explain_chunks(factdb *db, query *q, size_t *total, size_t *skipped, factdb_error *err)
{
    factdb_scan *scan;
    scan_col *owned;
    int rc = exec_open_scan(db, q, &scan, &owned, err);
    if (rc)
        return rc;
    *total = store_scan_chunk_count(scan);
    *skipped = q->nzones ? store_scan_prune(scan, exec_zone_keep, q) : 0;
    exec_close_scan(q, scan, owned);
    return 0;
}

/* ---- sorting ---- */
typedef struct sort_ctx {
    const rowset *rs;
    const sort_key *keys;
    int nkeys;
} sort_ctx;

static int cmp_rows(const sort_ctx *c, size_t a, size_t b)
{
    for (int k = 0; k < c->nkeys; k++) {
        const sort_key *sk = &c->keys[k];
        const rs_col *col = &c->rs->cols[sk->col];
        bool na = !col->valid[a], nb = !col->valid[b];
        if (na || nb) {
            if (na && nb)
                continue;
            return (na ? -1 : 1) * (sk->nulls_first ? 1 : -1);
        }
        int r;
        switch (col->ph) {
        case P_I64: {
            int64_t x, y;
            memcpy(&x, col->data + a * 8, 8);
            memcpy(&y, col->data + b * 8, 8);
            r = x < y ? -1 : x > y;
            break;
        }
        case P_U8: r = col->data[a] < col->data[b] ? -1 : col->data[a] > col->data[b]; break;
        case P_F64: {
            double x, y;
            memcpy(&x, col->data + a * 8, 8);
            memcpy(&y, col->data + b * 8, 8);
            if (x != x || y != y)  /* NaN sorts above every number, as in PostgreSQL */
                r = (x != x) - (y != y);
            else
                r = x < y ? -1 : x > y;
            break;
        }
        default: {
            sql_value x, y;
            rowset_get(c->rs, sk->col, a, &x);
            rowset_get(c->rs, sk->col, b, &y);
            r = exec_compare_values(&x, &y);
        }
        }
        if (r)
            return sk->desc ? -r : r;
    }
    return a < b ? -1 : a > b;  /* stable */
}

static int qcmp(const void *x, const void *y, void *ctx)
{
    return cmp_rows(ctx, *(const size_t *)x, *(const size_t *)y);
}

static void sift_down(sort_ctx *c, size_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && cmp_rows(c, h[l], h[m]) > 0)
            m = l;
        if (r < n && cmp_rows(c, h[r], h[m]) > 0)
            m = r;
        if (m == i)
            return;
        size_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Sorts idx[0..n) by c, keeping only the first `keep` (top-N with a max-heap when keep is small). */
static size_t sort_rows(sort_ctx *c, size_t *idx, size_t n, size_t keep)
{
    if (keep < n && keep <= n / 8) {
        size_t hn = 0;
        for (size_t i = 0; i < n; i++) {
            if (hn < keep) {
                idx[hn++] = idx[i];
                for (size_t j = hn - 1; j > 0;) {
                    size_t p = (j - 1) / 2;
                    if (cmp_rows(c, idx[j], idx[p]) <= 0)
                        break;
                    size_t t = idx[j];
                    idx[j] = idx[p];
                    idx[p] = t;
                    j = p;
                }
            } else if (keep && cmp_rows(c, idx[i], idx[0]) < 0) {
                idx[0] = idx[i];
                sift_down(c, idx, hn, 0);
            }
        }
        n = hn;
    }
    qsort_r(idx, n, sizeof *idx, qcmp, c);
    return MIN(n, keep);
}

/* ---- result assembly ---- */
static int set_cell(rowset *rs, int col, size_t row, const sql_value *v, factdb_error *err)
{
    rs_col *c = &rs->cols[col];
    c->valid[row] = !v->null;
    if (v->null) {
        memset(c->data + row * c->width, 0, c->width);
        return 0;
    }
    switch (c->ph) {
    case P_U8: c->data[row] = (uint8_t)v->i; break;
    case P_I64: memcpy(c->data + row * 8, &v->i, 8); break;
    case P_F64: memcpy(c->data + row * 8, &v->d, 8); break;
    case P_N128:
        memcpy(c->data + row * 16, &v->n, 16);
        c->scales[row] = (uint8_t)v->nscale;
        break;
    case P_STR: {
        sql_str s = v->s;
        char *p = sql_arena_strndup(&rs->strings, s.p, s.len);
        if (!p)
            return base_err(err, FACTDB_NOMEM, "out of memory");
        s.p = p;
        memcpy(c->data + row * 16, &s, 16);
        break;
    }
    case P_IV: memcpy(c->data + row * 16, &v->iv, 16); break;
    }
    return 0;
}

/* Column c of group g of table gt (keys first, then aggregates) into row `row`, column `oc` of out. */
static int group_cell(run *r, gtab *gt, size_t g, int c, rowset *out, int oc, size_t row, factdb_error *err)
{
    query *q = r->q;
    size_t nk = (size_t)q->nkeys;
    sql_value v;
    if (c >= q->nkeys) {
        int rc = gtab_final(gt, (uint32_t)g, c - q->nkeys, &v, err);
        return rc ? rc : set_cell(out, oc, row, &v, err);
    }
    memset(&v, 0, sizeof v);
    v.type = q->keys[c]->type;
    int mode;
    uint64_t w;
    if (r->packed) {
        uint64_t part = gt->kw[g] / r->pstride[c] % (r->pdom[c] + 1);
        v.null = part == 0;
        mode = r->pkmode[c];
        w = mode == KEY_I64 ? (uint64_t)r->pbase[c] + part - 1 : part - 1;
    } else {
        v.null = gt->kn[g * nk + (size_t)c];
        w = gt->kw[g * nk + (size_t)c];
        mode = r->kmode[c];
    }
    if (!v.null) {
        switch (mode) {
        case KEY_CODE:
            v.s.p = factdb_scan_text(r->scan, (size_t)q->keys[c]->input, (uint32_t)w, &v.s.len);
            if (!v.s.p)
                return base_err(err, FACTDB_CORRUPT, "a text value refers to a missing dictionary entry; run factdb check");
            break;
        case KEY_STR: v.s = gt->ks[g * nk + (size_t)c]; break;
        case KEY_F64: memcpy(&v.d, &w, 8); break;
        default: v.i = (int64_t)w; break;
        }
    }
    return set_cell(out, oc, row, &v, err);
}

static bool identity_projection(const query *q);

/* ORDER BY ... LIMIT k over many groups (`GROUP BY l_orderkey ORDER BY sum(...) DESC LIMIT 10`): the
 * groups stream through a heap of the k best rows, holding only the columns ORDER BY reads plus the
 * group's position (ties go to the earlier group, as in the full sort); only the k chosen groups then get
 * their other columns (an avg's division, a text key's lookup). Nothing proportional to the group count
 * is allocated (1.5M groups: the full rowset took 46,000 page faults a query). Chosen groups go to
 * pick_tab/pick_g in order, their count to *picked; SIZE_MAX when this does not apply. */
static int pick_top_groups(run *r, gtab **tabs, const int *owner_of, int ntabs, size_t total, uint16_t **pick_tab,
                           uint32_t **pick_g, size_t *picked, factdb_error *err)
{
    query *q = r->q;
    *picked = SIZE_MAX;
    size_t keep = q->limit >= 0 ? (size_t)q->limit + (size_t)q->offset : total;
    if (!q->nsort || q->distinct || !identity_projection(q) || keep > total / 8 || ntabs > UINT16_MAX ||
        q->nsort >= 1023)
        return 0;
    /* the sort columns, each once, renumbered for the narrow rowset, then the position */
    int cols[1024], ncols = 0, map[MAX_KEYS + MAX_AGGS];
    sort_key keys[1024];
    sql_type types[1024];
    for (int c = 0; c < q->nkeys + q->naggs; c++)
        map[c] = -1;
    for (int k = 0; k < q->nsort; k++) {
        int c = q->sort[k].col;
        if (map[c] < 0) {
            map[c] = ncols;
            types[ncols] = c < q->nkeys ? q->keys[c]->type : q->aggs[c - q->nkeys].type;
            cols[ncols++] = c;
        }
        keys[k] = q->sort[k];
        keys[k].col = map[c];
    }
    types[ncols] = (sql_type){TY_BIGINT, 0, 0};
    keys[q->nsort] = (sort_key){.col = ncols};
    size_t slots = keep + 1, hn = 0, spare = keep, *heap = malloc(slots * sizeof *heap);
    uint16_t *tab = malloc(slots * sizeof *tab);
    uint32_t *gid = malloc(slots * sizeof *gid);
    rowset narrow;
    int rc = rowset_init(&narrow, ncols + 1, types, &r->mem, r->o->mem_limit, err);
    if (!rc && (!heap || !tab || !gid))
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
    if (!rc)
        rc = rowset_reserve(&narrow, slots, err);
    narrow.n = slots;
    sort_ctx sc = {&narrow, keys, q->nsort + 1};
    int64_t seq = 0;
    for (int wi = 0; wi < ntabs && !rc; wi++) {
        gtab *gt = tabs[wi];
        for (size_t g = 0; g < gt->ng && !rc; g++) {
            if (owner_of[wi] >= 0 &&
                gtab_owner(gt->kw + g * (size_t)r->gnk, gt->kn + g * (size_t)r->gnk, r->gnk, r->nw) != owner_of[wi])
                continue;
            size_t at = hn < keep ? hn : spare;
            for (int c = 0; c < ncols && !rc; c++)
                rc = group_cell(r, gt, g, cols[c], &narrow, c, at, err);
            sql_value pos = {.type = {TY_BIGINT, 0, 0}, .i = seq++};
            if (rc || (rc = set_cell(&narrow, ncols, at, &pos, err)))
                break;
            tab[at] = (uint16_t)wi;
            gid[at] = (uint32_t)g;
            if (hn < keep) {  /* max-heap: the worst kept row on top */
                heap[hn++] = at;
                for (size_t j = hn - 1; j > 0;) {
                    size_t p = (j - 1) / 2;
                    if (cmp_rows(&sc, heap[j], heap[p]) <= 0)
                        break;
                    size_t t = heap[j];
                    heap[j] = heap[p];
                    heap[p] = t;
                    j = p;
                }
            } else if (keep && cmp_rows(&sc, at, heap[0]) < 0) {
                spare = heap[0];
                heap[0] = at;
                sift_down(&sc, heap, hn, 0);
            }
        }
    }
    if (!rc) {
        qsort_r(heap, hn, sizeof *heap, qcmp, &sc);
        *pick_tab = malloc((hn ? hn : 1) * sizeof **pick_tab);
        *pick_g = malloc((hn ? hn : 1) * sizeof **pick_g);
        if (!*pick_tab || !*pick_g) {
            free(*pick_tab), free(*pick_g);
            *pick_tab = NULL, *pick_g = NULL;
            rc = base_err(err, FACTDB_NOMEM, "out of memory");
        } else {
            for (size_t i = 0; i < hn; i++) {
                (*pick_tab)[i] = tab[heap[i]];
                (*pick_g)[i] = gid[heap[i]];
            }
            *picked = hn;
        }
    }
    narrow.n = 0;
    rowset_cleanup(&narrow);
    free(heap), free(tab), free(gid);
    return rc;
}

/* Group tables of workers w[0..nw) -> one rowset of keys then aggregates. In owned mode a group is taken
 * only from the table of the worker that owns it (worker 0 also holds others' first-chunk groups). */
static int groups_to_rowset(run *r, worker *ws, int nw, rowset *out, factdb_error *err)
{
    query *q = r->q;
    int nc = q->nkeys + q->naggs;
    sql_type types[MAX_KEYS + MAX_AGGS];
    for (int k = 0; k < q->nkeys; k++)
        types[k] = q->keys[k]->type;
    for (int j = 0; j < q->naggs; j++)
        types[q->nkeys + j] = q->aggs[j].type;
    /* radix mode (ws NULL): every partition table of every worker, each group owned */
    gtab *tabs[256 * NPART];
    int owner_of[256 * NPART];
    int ntabs = 0;
    if (!ws) {
        for (int i = 0; i < r->nw; i++)
            for (int p = i; p < r->w[i].nptabs; p += r->nw) {
                tabs[ntabs] = &r->w[i].ptabs[p];
                owner_of[ntabs++] = -1;
            }
    } else {
        for (int i = 0; i < nw; i++) {
            tabs[ntabs] = &ws[i].gt;
            owner_of[ntabs++] = r->owned ? ws[i].me : -1;
        }
    }
    size_t total = 0;
    int rc = 0;
    for (int i = 0; i < ntabs && !rc; i++) {
        total += tabs[i]->ng;
        for (int j = 0; j < q->naggs && !rc; j++)
            rc = gtab_distinct_finish(tabs[i], j, err);
    }
    if (rc)
        return rc;
    uint16_t *pick_tab = NULL;
    uint32_t *pick_g = NULL;
    size_t picked;
    if ((rc = pick_top_groups(r, tabs, owner_of, ntabs, total, &pick_tab, &pick_g, &picked, err)))
        return rc;
    size_t rows = picked != SIZE_MAX ? picked : total;
    if (rowset_init(out, nc, types, &r->mem, r->o->mem_limit, err) || rowset_reserve(out, rows ? rows : 1, err)) {
        free(pick_tab), free(pick_g);
        return err->code;
    }
    size_t nk = (size_t)r->gnk, row = 0;
    if (picked != SIZE_MAX) {
        for (; row < picked && !rc; row++)
            for (int c = 0; c < nc && !rc; c++)
                rc = group_cell(r, tabs[pick_tab[row]], pick_g[row], c, out, c, row, err);
    } else {
        for (int wi = 0; wi < ntabs && !rc; wi++) {
            gtab *gt = tabs[wi];
            for (size_t g = 0; g < gt->ng && !rc; g++) {
                if (owner_of[wi] >= 0 &&
                    gtab_owner(gt->kw + g * nk, gt->kn + g * nk, r->gnk, r->nw) != owner_of[wi])
                    continue;
                for (int c = 0; c < nc && !rc; c++)
                    rc = group_cell(r, gt, g, c, out, c, row, err);
                row++;
            }
        }
    }
    free(pick_tab), free(pick_g);
    if (!rc)
        out->n = row;
    return rc;
}

/* True when the outputs are exactly the group keys then the aggregates, in order, with no HAVING: the
 * groups' rowset is then the result as it is. */
static bool identity_projection(const query *q)
{
    if (q->having || q->nouts != q->nkeys + q->naggs)
        return false;
    for (int i = 0; i < q->nouts; i++)
        if (q->outs[i]->kind != B_INPUT || q->outs[i]->input != i)
            return false;
    return true;
}

/* Evaluates HAVING and the outputs over the rows of `in` (post-aggregation scope). */
static int project_groups(run *r, eval_thread *t, rowset *in, rowset *out, factdb_error *err)
{
    query *q = r->q;
    if (identity_projection(q)) {
        rowset tmp = *out;
        *out = *in;   /* hand the groups over; `in` gets the empty rowset to clean up */
        *in = tmp;
        return 0;
    }
    for (size_t off = 0; off < in->n; off += EXEC_VEC) {
        size_t n = MIN((size_t)EXEC_VEC, in->n - off);
        for (int c = 0; c < in->ncols; c++) {
            rs_col *col = &in->cols[c];
            in_col *ic = &t->in[c];
            ic->raw = exec_raw_of_phys(col->ph);
            ic->data = col->data + off * col->width;
            ic->valid = col->valid + off;
            ic->scales = col->scales ? col->scales + off : NULL;
            ic->type = col->type;
            ic->dict = -1;
        }
        exec_reset_tmp(t);
        uint32_t sel_buf[EXEC_VEC];
        const uint32_t *sel = NULL;
        size_t m = n;
        if (q->having) {
            if (eval_filter(t, q->having, NULL, n, sel_buf, &m))
                return *err = t->err, err->code;
            if (!m)
                continue;
            if (m != n)
                sel = sel_buf;
        }
        vec *ov[1024];
        for (int i = 0; i < q->nouts; i++)
            if (eval(t, q->outs[i], sel, m, &ov[i]) || (exec_phys(ov[i]->type) == P_STR && eval_strings(t, ov[i], m)))
                return *err = t->err, err->code;
        if (rowset_append(out, ov, m, err))
            return err->code;
    }
    return 0;
}

void exec_result_free(exec_result *r)
{
    exec_rowset_free(r->rs);
    free(r->idx);
    memset(r, 0, sizeof *r);
}

int exec_select(factdb *db, query *q, const exec_options *o, exec_result *res, exec_stats *st, factdb_error *err)
{
    memset(res, 0, sizeof *res);
    memset(st, 0, sizeof *st);
    run R;
    memset(&R, 0, sizeof R);
    run *r = &R;
    r->db = db;
    r->q = q;
    r->o = o;
    r->x.q = q;
    r->x.now_us = o->now_us;
    r->x.cancel = o->cancel;
    int rc = 0;
    scan_col *owned_cols = NULL;
    bool count_only = false;
    rowset *out = calloc(1, sizeof *out);
    rowset groups;
    memset(&groups, 0, sizeof groups);
    if (!out)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    if (q->nkeys > MAX_KEYS || q->naggs > MAX_AGGS || q->nouts > 1024) {
        free(out);
        return base_err(err, FACTDB_LIMIT, "too many GROUP BY keys, aggregates or output columns");
    }
    sql_type otypes[1024];
    for (int i = 0; i < q->nouts; i++)
        otypes[i] = q->outs[i]->type;
    if ((rc = rowset_init(out, q->nouts, otypes, &r->mem, o->mem_limit, err))) {
        free(out);
        return rc;
    }
    /* scan */
    if (q->table) {
        if ((rc = exec_open_scan(db, q, &r->scan, &owned_cols, err)))
            goto out;
        st->chunks_total = store_scan_chunk_count(r->scan);
        count_only = q->agg && q->nkeys == 0 && !q->where && q->naggs > 0;
        for (int j = 0; j < q->naggs; j++)
            count_only &= q->aggs[j].fn == AG_COUNT_STAR && !q->aggs[j].filter;
        if (count_only)
            st->chunks_skipped = store_scan_prune(r->scan, keep_none, NULL);
        else if (q->nzones)
            st->chunks_skipped = store_scan_prune(r->scan, exec_zone_keep, q);
    }
    r->dense_max = gtab_dense_limit(r->scan ? (double)factdb_scan_row_count(r->scan) : 0);
    for (int k = 0; k < q->nkeys; k++) {
        phys p = exec_phys(q->keys[k]->type);
        r->kmode[k] = is_coded(q, q->keys[k]) ? KEY_CODE : p == P_STR ? KEY_STR : p == P_F64 ? KEY_F64
                      : p == P_U8 ? KEY_U8 : KEY_I64;
        r->domain[k] = r->kmode[k] == KEY_CODE ? store_scan_dict_count(r->scan, (size_t)q->keys[k]->input)
                       : p == P_U8 ? 2 : r->scan ? key_range(r, k, &r->kbase[k]) : 0;
    }
    r->gnk = q->nkeys;
    r->gq = *q;
    pack_keys(r);
    for (int j = 0; j < q->naggs; j++)
        r->agg_coded[j] = is_coded(q, q->aggs[j].arg);
    if (!q->agg && q->nsort == 0 && !q->distinct && q->limit >= 0)
        r->want = (size_t)(q->limit + q->offset);
    if (!q->agg && q->limit == 0 && q->nsort == 0)
        r->want = 0, atomic_store(&r->stop, true);
    /* workers */
    int nw = o->threads > 0 ? o->threads : 1;
    size_t chunks = r->scan ? store_scan_chunk_count(r->scan) : q->src ? (q->src->n + SRC_BLOCK - 1) / SRC_BLOCK : 1;
    if ((size_t)nw > chunks)
        nw = chunks ? (int)chunks : 1;
    /* Grouping another node's rows: every worker's table is merged into worker 0's at the end, which on a
     * few hundred thousand rows costs more than the second worker saves (TPC-H Q16's count(DISTINCT) over
     * 119k joined rows: 2 threads took 47% more CPU than 1 and longer); a worker per 4 blocks at most */
    if (q->src && q->agg && q->nkeys && (size_t)nw > q->src->n / (4 * SRC_BLOCK))
        nw = (int)MAX((size_t)1, q->src->n / (4 * SRC_BLOCK));
    r->w = calloc((size_t)nw, sizeof *r->w);
    if (!r->w) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    r->nw = nw;
    st->threads = nw;
    /* Every expression node has a vector per worker (data, validity, scales, codes): a 100,000-term
     * `x + 1 + ...` asks for gigabytes. Count it against the memory limit before allocating any. */
    size_t vec_bytes = (size_t)q->nslots * EXEC_VEC * (16 + 1 + 1 + 4) * (size_t)nw;
    if (atomic_fetch_add(&r->mem, vec_bytes) + vec_bytes > o->mem_limit) {
        rc = base_err(err, FACTDB_LIMIT, "the query's expressions have %d nodes, whose vectors need %zu MiB, more than "
                      "its memory limit of %zu MiB; simplify the expressions (an IN list costs one node) or raise "
                      "the limit", q->nslots, vec_bytes >> 20, o->mem_limit >> 20);
        goto out;
    }
    int ninputs = MAX(q->ncols, q->nkeys + q->naggs);
    for (int i = 0; i < nw && !rc; i++) {
        worker *w = &r->w[i];
        w->r = r;
        factdb_batch_init(&w->batch);
        if ((rc = eval_thread_init(&w->th, &r->x, q->nslots, EXEC_VEC, err)))
            break;
        w->th.in = calloc((size_t)(ninputs ? ninputs : 1), sizeof *w->th.in);
        w->th.nin = ninputs;
        w->th.text = exec_scan_text;
        w->th.text_ctx = r->scan;
        if (!w->th.in) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory");
            break;
        }
        if (q->agg) {
            if ((rc = gtab_init(&w->gt, &r->gq, r->kmode, r->domain, r->kbase, r->dense_max, &r->mem, o->mem_limit, &w->th.keep, err)))
                break;
            w->gt_ready = true;
            for (int j = 0; j < q->naggs; j++)
                w->gt.dset_coded[j] = r->agg_coded[j];
        } else {
            if ((rc = rowset_init(&w->rs, q->nouts, otypes, &r->mem, o->mem_limit, err)))
                break;
            w->rs_ready = true;
        }
    }
    if (rc)
        goto out;
    for (int i = 0; i < nw; i++)
        r->w[i].me = i;
    /* Probe the grouping's cardinality on the first chunk: when merging per-worker tables would cost more
     * than partitioning the keys, switch to radix or owned mode (every worker reads every chunk,
     * aggregates its own keys). */
    if (q->agg && q->nkeys && r->scan && (!r->w[0].gt.dense || r->kmode[0] == KEY_I64) &&
        store_scan_chunk_count(r->scan) > 2) {
        work_chunks(&r->w[0], 1);
        if (r->w[0].rc) {
            rc = r->w[0].rc;
            *err = r->w[0].err;
            goto out;
        }
        double d = (double)r->w[0].gt.ng, n0 = (double)r->w[0].batch.count, hood = key_hood_rows(r);
        double rows = (double)factdb_scan_row_count(r->scan);
        r->groups_est = gtab_expected_share(d, n0, rows, hood, rows);
        /* per-worker tables and a final merge, or radix/owned mode: see gtab_prefer_partitioned */
        /* Dense tables (keys indexing an array) merge without hashing: merging them beat partitioning
         * (l_orderkey, 1.5M keys in a 6M range, 2 threads: 160-200 ms merged, 280-360 ms radix) */
        if (!r->w[0].gt.dense && gtab_prefer_partitioned(d, n0, rows, hood, nw)) {
            r->radix = r->gnk == 1 && (r->kmode[0] == KEY_I64 || r->kmode[0] == KEY_F64);
            for (int j = 0; j < q->naggs && r->radix; j++) {
                const agg_spec *sp = &q->aggs[j];
                phys ap = sp->arg ? exec_phys(sp->arg->type) : P_I64;
                r->radix = !sp->distinct && (ap == P_I64 || ap == P_F64) &&
                           (sp->fn == AG_COUNT_STAR || sp->fn == AG_COUNT || sp->fn == AG_SUM || sp->fn == AG_AVG ||
                            sp->fn == AG_MIN || sp->fn == AG_MAX);
            }
            for (int i = 0; i < nw && r->radix; i++) {
                worker *wk = &r->w[i];
                wk->parts = calloc(NPART, sizeof *wk->parts);
                wk->ptabs = calloc(NPART, sizeof *wk->ptabs);
                if (!wk->parts || !wk->ptabs) {
                    rc = base_err(err, FACTDB_NOMEM, "out of memory");
                    goto out;
                }
                /* one pooled block per worker, sized for an even share of the rows (+25%): repeated queries
                 * reuse it instead of page-faulting fresh memory, and nothing is copied while it suffices */
                size_t cap = ((size_t)rows / (size_t)nw / NPART * 5 / 4 + 1024 + 7) & ~(size_t)7;  /* keeps arrays 8-aligned */
                size_t per_row = radix_row_bytes(q);
                wk->block_size = cap * per_row * NPART;
                wk->block = base_pool_get(wk->block_size);
                if (!wk->block) {
                    rc = base_err(err, FACTDB_NOMEM, "out of memory");
                    goto out;
                }
                unsigned char *at = wk->block;
                for (int p = 0; p < NPART; p++) {
                    part_buf *pb = &wk->parts[p];
                    pb->val = calloc((size_t)(q->naggs ? q->naggs : 1), sizeof *pb->val);
                    pb->flag = calloc((size_t)(q->naggs ? q->naggs : 1), sizeof *pb->flag);
                    if (!pb->val || !pb->flag) {
                        rc = base_err(err, FACTDB_NOMEM, "out of memory");
                        goto out;
                    }
                    pb->pooled = true;
                    pb->cap = cap;
                    pb->key = (uint64_t *)(void *)at;
                    at += cap * 8;
                    for (int j = 0; j < q->naggs; j++)
                        if (radix_val(&q->aggs[j])) {
                            pb->val[j] = (uint64_t *)(void *)at;
                            at += cap * 8;
                        }
                    pb->kvalid = at;
                    at += cap;
                    for (int j = 0; j < q->naggs; j++)
                        if (radix_flag(&q->aggs[j])) {
                            pb->flag[j] = at;
                            at += cap;
                        }
                }
            }
            if (!r->radix) {
                /* other key kinds or aggregates: owned mode (every worker reads every chunk, keeps its keys) */
                r->owned = true;
                r->first_chunk = 1;
            }
        }
        /* Room for the expected groups at once (radix partitions reserve theirs in radix_aggregate):
         * worker 0 also receives the other workers' groups in the final merge. Only a hint: a table that
         * the estimate (or the memory limit) leaves short grows as before. */
        for (int i = 0; i < nw && !r->radix; i++) {
            double want = r->owned ? r->groups_est / nw
                          : i == 0 ? r->groups_est : gtab_expected_share(d, n0, rows, hood, rows / nw);
            factdb_error ignored = {0};
            gtab_reserve(&r->w[i].gt, (size_t)want, &ignored);
        }
    }
    if (!(r->stop && !q->agg))
        rc = run_workers(r, work, err);
    if (!rc && r->radix)
        rc = run_workers(r, radix_work, err);
    if (rc)
        goto out;
    if (count_only)
        for (int j = 0; j < q->naggs && !rc; j++)
            rc = gtab_update(&r->w[0].gt, j, NULL, NULL, NULL, NULL, factdb_scan_row_count(r->scan), false, err);
    if (q->agg && r->radix) {
        /* worker 0 aggregated the first chunk into its ordinary table: each group joins its partition's table */
        gtab *g0 = &r->w[0].gt;
        for (size_t g = 0; g < g0->ng && !rc; g++) {
            unsigned p = part_of(g0->kw[g]);
            rc = gtab_merge_group(&r->w[p % (unsigned)nw].ptabs[p], g0, g, err);
        }
        if (!rc)
            rc = groups_to_rowset(r, NULL, 0, &groups, err);
        if (!rc)
            rc = project_groups(r, &r->w[0].th, &groups, out, err);
    } else if (q->agg && r->owned) {
        /* worker 0 aggregated the first chunk for every key: hand each owner its share */
        for (int i = 1; i < nw && !rc; i++)
            rc = gtab_merge_owned(&r->w[i].gt, &r->w[0].gt, i, nw, err);
        if (!rc)
            rc = groups_to_rowset(r, r->w, nw, &groups, err);
        if (!rc)
            rc = project_groups(r, &r->w[0].th, &groups, out, err);
    } else if (q->agg) {
        for (int i = 1; i < nw && !rc; i++)
            rc = gtab_merge(&r->w[0].gt, &r->w[i].gt, err);
        if (!rc)
            rc = groups_to_rowset(r, r->w, 1, &groups, err);
        if (!rc)
            rc = project_groups(r, &r->w[0].th, &groups, out, err);
    } else {
        for (int i = 0; i < nw && !rc; i++) {
            rowset *src = &r->w[i].rs;
            if (!src->n)
                continue;
            for (size_t off = 0; off < src->n && !rc; off += EXEC_VEC) {
                size_t n = MIN((size_t)EXEC_VEC, src->n - off);
                vec vs[1024], *vp[1024];
                for (int c = 0; c < q->nouts; c++) {
                    rs_col *col = &src->cols[c];
                    vs[c] = (vec){.type = col->type, .data = col->data + off * col->width, .valid = col->valid + off,
                                  .scales = col->scales ? col->scales + off : NULL, .dict = -1};
                    vp[c] = &vs[c];
                }
                rc = rowset_append(out, vp, n, err);
            }
        }
    }
    if (rc)
        goto out;
    /* DISTINCT, ORDER BY, OFFSET, LIMIT */
    size_t n = out->n;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    if (q->distinct && n > 1) {
        sort_key dk[1024];
        for (int c = 0; c < q->nvisible; c++)
            dk[c] = (sort_key){.col = c};
        sort_ctx dc = {out, dk, q->nvisible};
        qsort_r(idx, n, sizeof *idx, qcmp, &dc);
        size_t k = 1;
        for (size_t i = 1; i < n; i++) {
            /* equal on every visible column (cmp_rows breaks ties by index, so compare keys only) */
            bool same = true;
            for (int c = 0; c < q->nvisible && same; c++) {
                size_t a = idx[k - 1], b = idx[i];
                const rs_col *col = &out->cols[c];
                if (!col->valid[a] || !col->valid[b]) {
                    same = col->valid[a] == col->valid[b];
                    continue;
                }
                sql_value x, y;
                rowset_get(out, c, a, &x);
                rowset_get(out, c, b, &y);
                same = exec_compare_values(&x, &y) == 0;
            }
            if (!same)
                idx[k++] = idx[i];
        }
        n = k;
        /* back to first-seen order so results without ORDER BY look natural */
        sort_key none[1];
        sort_ctx nc = {out, none, 0};
        qsort_r(idx, n, sizeof *idx, qcmp, &nc);
    }
    size_t off = (size_t)q->offset;
    size_t keep = q->limit >= 0 ? (size_t)q->limit + off : n;
    if (q->nsort) {
        sort_ctx sc = {out, q->sort, q->nsort};
        n = sort_rows(&sc, idx, n, MIN(keep, n));
    } else {
        n = MIN(n, keep);
    }
    if (off >= n) {
        n = 0;
    } else if (off) {
        memmove(idx, idx + off, (n - off) * sizeof *idx);
        n -= off;
    }
    out->mem = NULL;  /* the counter lives in this frame: the result outlives it */
    res->rs = out;
    res->idx = idx;
    res->n = n;
    res->ncols = q->nvisible;
    out = NULL;
out:
    if (out)
        exec_rowset_free(out);
    rowset_cleanup(&groups);
    for (int i = 0; i < r->nw; i++) {
        worker *w = &r->w[i];
        parts_free(w, q->naggs);
        if (w->gt_ready)
            gtab_cleanup(&w->gt);
        if (w->rs_ready)
            rowset_cleanup(&w->rs);
        free(w->th.in);
        eval_thread_cleanup(&w->th);
        factdb_batch_cleanup(&w->batch);
    }
    free(r->w);
    exec_close_scan(q, r->scan, owned_cols);
    return rc;
}

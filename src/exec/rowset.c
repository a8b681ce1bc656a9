/* rowset.c: materialized results, column by column, with a memory budget shared by every rowset and
 * hash table of one query (an atomic counter), so a query that would need more than the limit fails with
 * LIMIT instead of exhausting the machine. */
#include "exec.h"
#include <stdlib.h>
#include <string.h>

static size_t col_width(phys p)
{
    switch (p) {
    case P_U8: return 1;
    case P_I64:
    case P_F64: return 8;
    default: return 16;
    }
}

int rowset_init(rowset *r, int ncols, const sql_type *types, _Atomic size_t *mem, size_t limit, factdb_error *err)
{
    memset(r, 0, sizeof *r);
    r->ncols = ncols;
    r->mem = mem;
    r->mem_limit = limit;
    r->cols = calloc((size_t)(ncols ? ncols : 1), sizeof *r->cols);
    if (!r->cols)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    for (int i = 0; i < ncols; i++) {
        r->cols[i].type = types[i];
        r->cols[i].ph = exec_phys(types[i]);
        r->cols[i].width = col_width(r->cols[i].ph);
    }
    sql_arena_init(&r->strings, 0);
    return 0;
}

/* Column arrays of 2 MiB or more come from the process's pool of big blocks (base_pool_get): huge pages,
 * and a later query's rows reuse them instead of faulting in fresh memory. TPC-H Q9 spent a fifth of its
 * time in the kernel's page faults and the unmapping of freed arrays, its two threads contending for them.
 * An array's capacity only grows, so it is pooled exactly when its size is at least POOLED_MIN. */
#define POOLED_MIN ((size_t)2 << 20)

static void arr_free(void *p, size_t bytes)
{
    if (bytes >= POOLED_MIN)
        base_pool_put(p, bytes);
    else
        free(p);
}

/* Grows *p (room for *cap rows of `width` bytes, the first `keep` in use) to `rows` rows; false (and *p
 * unchanged) when out of memory. */
static bool grow_arr(unsigned char **p, size_t *cap, size_t width, size_t rows, size_t keep)
{
    if (*cap >= rows)
        return true;
    size_t now = *cap * width, want = rows * width;
    void *q;
    if (want < POOLED_MIN) {
        q = realloc(*p, want);
    } else if ((q = base_pool_get(want))) {
        if (keep)
            memcpy(q, *p, keep * width);
        arr_free(*p, now);
    }
    if (!q)
        return false;
    *p = q;
    *cap = rows;
    return true;
}

void rowset_cleanup(rowset *r)
{
    if (!r->cols)
        return;
    size_t bytes = 0;
    for (int i = 0; i < r->ncols && !r->borrowed; i++) {
        rs_col *c = &r->cols[i];
        arr_free(c->data, c->dcap * c->width);
        arr_free(c->valid, c->vcap);
        arr_free(c->scales, c->scap);
        bytes += r->cap * (r->cols[i].width + 2);
    }
    bytes += r->strings.total;
    if (r->mem)
        atomic_fetch_sub(r->mem, bytes);
    free(r->cols);
    sql_arena_cleanup(&r->strings);
    memset(r, 0, sizeof *r);
}

void exec_rowset_free(rowset *r)
{
    if (r) {
        rowset_cleanup(r);
        free(r);
    }
}

static int charge(rowset *r, size_t bytes, factdb_error *err)
{
    if (!r->mem)
        return 0;
    size_t now = atomic_fetch_add(r->mem, bytes) + bytes;
    if (r->mem_limit && now > r->mem_limit) {
        atomic_fetch_sub(r->mem, bytes);
        return base_err(err, FACTDB_LIMIT,
                        "the query needs more than its memory limit of %zu MiB; add filters or a LIMIT, or raise "
                        "the limit (factdb sql --memory-limit)", r->mem_limit >> 20);
    }
    return 0;
}

int rowset_reserve(rowset *r, size_t extra, factdb_error *err)
{
    if (r->n + extra <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap : 1024;
    while (cap < r->n + extra)
        cap *= 2;
    size_t per_row = 0;
    for (int i = 0; i < r->ncols; i++)
        per_row += r->cols[i].width + 2;
    if (charge(r, (cap - r->cap) * per_row, err))
        return err->code;
    for (int i = 0; i < r->ncols; i++) {
        rs_col *c = &r->cols[i];
        if (!grow_arr(&c->data, &c->dcap, c->width, cap, r->n) || !grow_arr(&c->valid, &c->vcap, 1, cap, r->n) ||
            (c->ph == P_N128 && !grow_arr(&c->scales, &c->scap, 1, cap, r->n))) {
            if (r->mem)
                atomic_fetch_sub(r->mem, (cap - r->cap) * per_row);
            return base_err(err, FACTDB_NOMEM, "out of memory");
        }
    }
    r->cap = cap;
    return 0;
}

int rowset_append(rowset *r, vec *const *v, size_t n, factdb_error *err)
{
    if (rowset_reserve(r, n, err))
        return err->code;
    for (int i = 0; i < r->ncols; i++) {
        rs_col *c = &r->cols[i];
        const vec *x = v[i];
        if (x->valid)
            memcpy(c->valid + r->n, x->valid, n);
        else
            memset(c->valid + r->n, 1, n);
        if (c->ph == P_STR) {
            const sql_str *s = x->data;
            sql_str *o = (sql_str *)c->data + r->n;
            size_t before = r->strings.total;
            for (size_t k = 0; k < n; k++) {
                if (x->valid && !x->valid[k]) {
                    o[k].p = "";
                    o[k].len = 0;
                    continue;
                }
                char *p = sql_arena_strndup(&r->strings, s[k].p, s[k].len);
                if (!p)
                    return base_err(err, FACTDB_NOMEM, "out of memory");
                o[k].p = p;
                o[k].len = s[k].len;
            }
            if (charge(r, r->strings.total - before, err))
                return err->code;
        } else {
            memcpy(c->data + r->n * c->width, x->data, n * c->width);
            if (c->ph == P_N128) {
                if (x->scales)
                    memcpy(c->scales + r->n, x->scales, n);
                else
                    memset(c->scales + r->n, 0, n);
            }
        }
    }
    r->n += n;
    return 0;
}

void rowset_get(const rowset *r, int col, size_t row, sql_value *out)
{
    const rs_col *c = &r->cols[col];
    memset(out, 0, sizeof *out);
    out->type = c->type;
    if (!c->valid[row]) {
        out->null = true;
        return;
    }
    const unsigned char *p = c->data + row * c->width;
    switch (c->ph) {
    case P_U8: out->i = *p; break;
    case P_I64: memcpy(&out->i, p, 8); break;
    case P_F64: memcpy(&out->d, p, 8); break;
    case P_STR: memcpy(&out->s, p, sizeof out->s); break;
    case P_N128:
        memcpy(&out->n, p, 16);
        out->nscale = (int8_t)c->scales[row];
        break;
    case P_IV: memcpy(&out->iv, p, sizeof out->iv); break;
    }
}

int rowset_add_row(rowset *r, const sql_value *vals, factdb_error *err)
{
    if (rowset_reserve(r, 1, err))
        return err->code;
    size_t row = r->n;
    for (int c = 0; c < r->ncols; c++) {
        rs_col *col = &r->cols[c];
        sql_value v = vals[c];
        col->valid[row] = !v.null;
        unsigned char *p = col->data + row * col->width;
        memset(p, 0, col->width);
        if (v.null)
            continue;
        switch (col->ph) {
        case P_U8: *p = (uint8_t)v.i; break;
        case P_I64: memcpy(p, &v.i, 8); break;
        case P_F64: memcpy(p, &v.d, 8); break;
        case P_N128:
            memcpy(p, &v.n, 16);
            col->scales[row] = (uint8_t)v.nscale;
            break;
        case P_IV: memcpy(p, &v.iv, 16); break;
        case P_STR: {
            char *s = sql_arena_strndup(&r->strings, v.s.p, v.s.len);
            if (!s)
                return base_err(err, FACTDB_NOMEM, "out of memory");
            v.s.p = s;
            memcpy(p, &v.s, 16);
            break;
        }
        }
    }
    r->n++;
    return 0;
}

/* One loop per width, so the copies are loads and stores, not a memcpy call per cell. */
void rowset_gather_cells(unsigned char *dst, const unsigned char *src, size_t w, const int64_t *idx, size_t n)
{
    if (w == 1) {
        for (size_t i = 0; i < n; i++)
            dst[i] = idx[i] < 0 ? 0 : src[idx[i]];
    } else if (w == 8) {
        uint64_t *d = (uint64_t *)(void *)dst;
        const uint64_t *s = (const uint64_t *)(const void *)src;
        for (size_t i = 0; i < n; i++)
            d[i] = idx[i] < 0 ? 0 : s[idx[i]];
    } else {
        uint64_t *d = (uint64_t *)(void *)dst;
        const uint64_t *s = (const uint64_t *)(const void *)src;
        for (size_t i = 0; i < n; i++) {
            d[2 * i] = idx[i] < 0 ? 0 : s[2 * idx[i]];
            d[2 * i + 1] = idx[i] < 0 ? 0 : s[2 * idx[i] + 1];
        }
    }
}

int rowset_gather(rowset *dst, int col0, const rowset *src, const int64_t *idx, size_t n, size_t at)
{
    if (!n)
        return 0;  /* an empty rowset's arrays may be NULL */
    for (int c = 0; c < src->ncols; c++) {
        rs_col *d = &dst->cols[col0 + c];
        const rs_col *s = &src->cols[c];
        size_t w = s->width;
        rowset_gather_cells(d->data + at * w, s->data, w, idx, n);
        rowset_gather_cells(d->valid + at, s->valid, 1, idx, n);
        if (d->scales)
            rowset_gather_cells(d->scales + at, s->scales, 1, idx, n);
        if (d->ph == P_STR)  /* a NULL's text is empty, not a NULL pointer */
            for (size_t i = 0; i < n; i++)
                if (idx[i] < 0)
                    ((sql_str *)(void *)(d->data + (at + i) * w))[0] = (sql_str){"", 0};
    }
    return 0;
}

/* modify.c: DELETE and UPDATE. Both run inside one write transaction (store_write): the scan reads the
 * latest state through it, the matching rows are marked in their chunks' deletion bitmaps, and UPDATE appends
 * the rows' new versions through the appender, which joins the same transaction. A reader in another process
 * therefore sees all of a statement or none of it, and a process killed before the commit leaves the old rows. */
#include "exec_int.h"
#include <stdlib.h>
#include <string.h>

typedef struct del_chunk {
    uint64_t id;
    uint32_t ndel;
    unsigned char *bitmap;  /* old and new deletions */
} del_chunk;

/* What one scan of DELETE or UPDATE found. */
typedef struct matches {
    del_chunk *dc;
    size_t ndc;
    uint64_t rows;
    rowset *out;            /* UPDATE: q->outs of every matching row (NULL for DELETE) */
    exec_target *tg;        /* UPDATE ... FROM's target: every matching row, its place, and every chunk read */
} matches;

static void matches_cleanup(matches *m)
{
    for (size_t i = 0; i < m->ndc; i++)
        free(m->dc[i].bitmap);
    free(m->dc);
    m->dc = NULL;
    m->ndc = 0;
}

/* The physical row of each live row of a batch's chunk; CORRUPT when the deletion bitmap and the batch
 * disagree. */
static int live_rows(uint64_t id, uint32_t rows, const unsigned char *old, size_t count, uint32_t *phys_of,
                     factdb_error *err)
{
    size_t live = 0;
    for (uint32_t p = 0; p < rows && live <= count; p++)
        if (!(old && (old[p / 8] >> (p % 8) & 1))) {
            if (live == count) {
                live++;  /* more live rows than the scan returned: the bitmap disagrees */
                break;
            }
            phys_of[live++] = p;
        }
    if (live != count)
        return base_err(err, FACTDB_CORRUPT, "chunk %llu: its deletion bitmap disagrees with its row count; run "
                        "factdb check, and restore the file from a backup", (unsigned long long)id);
    return 0;
}

/* Evaluates q->outs for rows sel[0..m) of the current slice and appends them to out, followed by the column
 * `extra` when not NULL. */
static int project(eval_thread *th, query *q, const uint32_t *sel, size_t m, rowset *out, vec *extra,
                   factdb_error *err)
{
    vec *ov[FACTDB_MAX_COLUMNS + 1];
    for (int i = 0; i < q->nouts; i++)
        if (eval(th, q->outs[i], sel, m, &ov[i]) || (exec_phys(ov[i]->type) == P_STR && eval_strings(th, ov[i], m)))
            return (*err = th->err).code;
    ov[q->nouts] = extra;
    return rowset_append(out, ov, m, err);
}

/* UPDATE ... FROM: records chunk `id` (rows, its deletion bitmap `old`) in tg; *at: its index there. */
static int target_chunk(exec_target *tg, uint64_t id, uint32_t rows, const unsigned char *old, size_t *at,
                        factdb_error *err)
{
    if (tg->nchunks == tg->cap) {
        size_t cap = tg->cap ? tg->cap * 2 : 16;
        exec_target_chunk *c = realloc(tg->chunks, cap * sizeof *c);
        if (!c)
            return base_err(err, FACTDB_NOMEM, "out of memory");
        tg->chunks = c;
        tg->cap = cap;
    }
    exec_target_chunk *c = &tg->chunks[tg->nchunks];
    *c = (exec_target_chunk){id, rows, calloc(((size_t)rows + 7) / 8, 1)};
    if (!c->old)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    if (old)
        memcpy(c->old, old, ((size_t)rows + 7) / 8);
    *at = tg->nchunks++;
    return 0;
}

/* Finds the rows of q's table that match q->where, as t (the write transaction bound to the thread) sees
 * them: one bitmap per chunk with matches, and for UPDATE their new values. */
static int find_matches(factdb *db, query *q, matches *mt, factdb_error *err)
{
    factdb_scan *scan = NULL;
    scan_col *owned = NULL;
    exec_ctx xc = {.q = q};
    eval_thread th;
    factdb_batch batch;
    factdb_batch_init(&batch);
    memset(&th, 0, sizeof th);
    int rc = exec_open_scan(db, q, &scan, &owned, err);
    if (rc)
        goto out;
    if (q->nzones)
        store_scan_prune(scan, exec_zone_keep, q);
    size_t nchunks = store_scan_chunk_count(scan);
    mt->dc = calloc(nchunks ? nchunks : 1, sizeof *mt->dc);
    if (!mt->dc || (rc = eval_thread_init(&th, &xc, q->nslots, EXEC_VEC, err))) {
        rc = rc ? rc : base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    th.in = calloc((size_t)(q->ncols ? q->ncols : 1), sizeof *th.in);
    th.text = exec_scan_text;
    th.text_ctx = scan;
    if (!th.in) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        if ((rc = factdb_scan_next(scan, &batch, err)) || !batch.count)
            break;
        uint64_t id;
        uint32_t rows;
        const unsigned char *old;
        store_batch_chunk(&batch, &id, &rows, &old);
        uint32_t *phys_of = malloc(batch.count * sizeof *phys_of);
        unsigned char *bm = calloc(((size_t)rows + 7) / 8, 1);
        if (!phys_of || !bm) {
            free(phys_of);
            free(bm);
            rc = base_err(err, FACTDB_NOMEM, "out of memory");
            break;
        }
        if (old)
            memcpy(bm, old, ((size_t)rows + 7) / 8);
        uint32_t ndel = 0;
        size_t tchunk = 0;
        rc = live_rows(id, rows, old, batch.count, phys_of, err);
        if (!rc && mt->tg)
            rc = target_chunk(mt->tg, id, rows, old, &tchunk, err);
        for (size_t off = 0; off < batch.count && !rc; off += EXEC_VEC) {
            size_t n = MIN((size_t)EXEC_VEC, batch.count - off);
            for (int c = 0; c < q->ncols; c++) {
                const factdb_vector *bv = &batch.cols[c];
                in_col *ic = &th.in[c];
                ic->raw = exec_raw_of_store(q->cols[c].store_type);
                ic->data = (const char *)bv->data + off * exec_raw_width(ic->raw);
                ic->valid = bv->valid ? bv->valid + off : NULL;
                ic->type = q->cols[c].type;
                ic->dict = c;
            }
            exec_reset_tmp(&th);
            uint32_t sel[EXEC_VEC];
            size_t m = n;
            if (q->where) {
                if (eval_filter(&th, q->where, NULL, n, sel, &m)) {
                    rc = (*err = th.err).code;
                    break;
                }
            } else {
                for (size_t i = 0; i < n; i++)
                    sel[i] = (uint32_t)i;
            }
            if (m && mt->tg) {
                int64_t place[EXEC_VEC];
                for (size_t i = 0; i < m; i++)
                    place[i] = (int64_t)(tchunk << 32 | phys_of[off + sel[i]]);
                vec pv = {.type = {TY_BIGINT, 0, 0}, .data = place, .dict = -1};
                if ((rc = project(&th, q, sel, m, mt->tg->rows, &pv, err)))
                    break;
            } else if (m && mt->out && (rc = project(&th, q, sel, m, mt->out, NULL, err))) {
                break;
            }
            for (size_t i = 0; i < m; i++) {
                uint32_t p = phys_of[off + sel[i]];
                bm[p / 8] |= (unsigned char)(1u << (p % 8));
            }
            ndel += (uint32_t)m;
        }
        free(phys_of);
        if (rc || !ndel) {
            free(bm);
            if (rc)
                break;
            continue;
        }
        mt->dc[mt->ndc++] = (del_chunk){id, ndel, bm};
        mt->rows += ndel;
    }
out:
    free(th.in);
    if (th.v)
        eval_thread_cleanup(&th);
    factdb_batch_cleanup(&batch);
    exec_close_scan(q, scan, owned);
    return rc;
}

/* Marks the matches deleted in t and stores the table's new counters. */
static int delete_matches(store_txn *t, const char *table, const matches *mt, factdb_error *err)
{
    store_table tab;
    int rc = store_table_get(t, table, &tab, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < mt->ndc && !rc; i++)
        rc = store_chunk_delete(t, &tab, mt->dc[i].id, mt->dc[i].bitmap, mt->dc[i].ndel, err);
    if (!rc)
        rc = store_table_put(t, &tab, err);
    store_table_cleanup(&tab);
    return rc;
}

typedef struct modify_ctx {
    factdb *db;
    query *q;
    const sql_type *ctype;  /* UPDATE: the table's column types (q->outs are cast to them) */
    rowset *ret;            /* RETURNING: receives the rows deleted (DELETE: q->outs) or written (UPDATE) */
    uint64_t rows;
} modify_ctx;

static int delete_apply(store_txn *t, void *ctx, factdb_error *err)
{
    modify_ctx *m = ctx;
    matches mt = {.out = m->ret};
    int rc = find_matches(m->db, m->q, &mt, err);
    if (!rc && mt.ndc)
        rc = delete_matches(t, m->q->table, &mt, err);
    if (!rc)
        m->rows = mt.rows;
    matches_cleanup(&mt);
    return rc;
}

int exec_delete(factdb *db, query *q, rowset *ret, uint64_t *deleted, factdb_error *err)
{
    modify_ctx m = {.db = db, .q = q, .ret = ret};
    *deleted = 0;
    int rc = store_write(db, delete_apply, &m, err);
    if (!rc)
        *deleted = m.rows;
    return rc;
}

int exec_append_value(factdb_appender *app, size_t col, const sql_value *v, factdb_error *err)
{
    if (v->null)
        return factdb_append_null(app, col, err);
    switch (v->type.id) {
    case TY_BOOL: return factdb_append_bool(app, col, v->i != 0, err);
    case TY_DOUBLE: return factdb_append_double(app, col, v->d, err);
    case TY_TEXT: return factdb_append_text(app, col, v->s.p, v->s.len, err);
    default: return factdb_append_int64(app, col, v->i, err);
    }
}

/* Appends the new versions through an appender: it joins the thread's bound transaction, so they commit with
 * the deletions. Row i is rs's row idx[i] (idx NULL: row i), its column k is rs's column col0 + k, cast to
 * ctype[k]; pos[k]: where column k's value is written in the statement (for errors). */
static int append_rows_of(factdb *db, const char *table, const sql_type *ctype, const int *pos, const rowset *rs,
                          int col0, const size_t *idx, size_t n, rowset *ret, factdb_error *err)
{
    sql_value row[FACTDB_MAX_COLUMNS];
    factdb_appender *app;
    int rc = factdb_appender_new(db, table, &app, err);
    if (rc)
        return rc;
    sql_arena scratch;
    sql_arena_init(&scratch, 0);
    int ncols = rs->ncols - col0;
    for (size_t i = 0; i < n && !rc; i++) {
        for (int k = 0; k < ncols && !rc; k++) {
            sql_value v, cv;
            rowset_get(rs, col0 + k, idx ? idx[i] : i, &v);
            if (v.null && factdb_appender_column(app, (size_t)k)->not_null)
                rc = sql_err(err, FACTDB_NOT_NULL, pos[k], "null value in column \"%s\" of relation "
                             "\"%s\" violates not-null constraint", factdb_appender_column(app, (size_t)k)->name,
                             table);
            else if (!(rc = exec_cast_value(&v, ctype[k], pos[k], &scratch, &cv, err)))
                rc = exec_append_value(app, (size_t)k, &cv, err);
            if (!rc)
                row[k] = cv;
        }
        if (!rc)
            rc = factdb_append_row_end(app, err);
        if (!rc && ret)  /* RETURNING: the new row as stored */
            rc = rowset_add_row(ret, row, err);
        if ((i & 1023) == 1023) {
            sql_arena_cleanup(&scratch);
            sql_arena_init(&scratch, 0);
        }
    }
    sql_arena_cleanup(&scratch);
    if (!rc)
        rc = factdb_appender_commit(app, err);
    factdb_appender_free(app);
    return rc;
}

static int append_rows(modify_ctx *m, rowset *rs, factdb_error *err)
{
    int pos[FACTDB_MAX_COLUMNS];
    for (int k = 0; k < m->q->nouts && k < FACTDB_MAX_COLUMNS; k++)
        pos[k] = m->q->outs[k]->pos;
    return append_rows_of(m->db, m->q->table, m->ctype, pos, rs, 0, NULL, rs->n, m->ret, err);
}

static int update_apply(store_txn *t, void *ctx, factdb_error *err)
{
    modify_ctx *m = ctx;
    query *q = m->q;
    sql_type types[FACTDB_MAX_COLUMNS];
    for (int i = 0; i < q->nouts; i++)
        types[i] = q->outs[i]->type;
    rowset rs;
    matches mt = {.out = &rs};
    int rc = rowset_init(&rs, q->nouts, types, NULL, 0, err);
    if (rc)
        return rc;
    /* every new value is computed from the old rows before anything is written: SET a = b, b = a swaps */
    if (!(rc = find_matches(m->db, q, &mt, err)) && mt.ndc && !(rc = delete_matches(t, q->table, &mt, err)))
        rc = append_rows(m, &rs, err);
    if (!rc)
        m->rows = mt.rows;
    matches_cleanup(&mt);
    rowset_cleanup(&rs);
    return rc;
}

int exec_update(factdb *db, query *q, const sql_type *ctype, rowset *ret, uint64_t *updated, factdb_error *err)
{
    modify_ctx m = {.db = db, .q = q, .ctype = ctype, .ret = ret};
    *updated = 0;
    int rc = store_write(db, update_apply, &m, err);
    if (!rc)
        *updated = m.rows;
    return rc;
}

/* ---- UPDATE ... FROM ---- */

int exec_target_read(factdb *db, query *q, exec_target *tg, factdb_error *err)
{
    sql_type types[FACTDB_MAX_COLUMNS + 1];
    for (int i = 0; i < q->nouts; i++)
        types[i] = q->outs[i]->type;
    types[q->nouts] = (sql_type){TY_BIGINT, 0, 0};
    memset(tg, 0, sizeof *tg);
    if (!(tg->rows = calloc(1, sizeof *tg->rows)))
        return base_err(err, FACTDB_NOMEM, "out of memory");
    int rc = rowset_init(tg->rows, q->nouts + 1, types, NULL, 0, err);
    if (rc) {
        free(tg->rows);
        tg->rows = NULL;
        return rc;
    }
    matches mt = {.tg = tg};
    rc = find_matches(db, q, &mt, err);
    matches_cleanup(&mt);
    return rc;
}

void exec_target_cleanup(exec_target *tg)
{
    for (size_t i = 0; i < tg->nchunks; i++)
        free(tg->chunks[i].old);
    free(tg->chunks);
    if (tg->rows)
        exec_rowset_free(tg->rows);
    memset(tg, 0, sizeof *tg);
}

typedef struct placed {
    int64_t place;
    size_t row;             /* in the result's order */
} placed;

static int cmp_placed(const void *x, const void *y)
{
    const placed *a = x, *b = y;
    if (a->place != b->place)
        return a->place < b->place ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

int exec_update_places(factdb *db, const char *table, const sql_type *ctype, const int *pos, const exec_target *tg,
                       const exec_result *res, rowset *ret, uint64_t *updated, factdb_error *err)
{
    *updated = 0;
    store_txn *t = store_xact_current(db);  /* the caller runs inside store_write */
    if (!t)
        return base_err(err, FACTDB_INTERNAL, "UPDATE ... FROM outside a write transaction");
    placed *pl = malloc((res->n ? res->n : 1) * sizeof *pl);
    size_t *keep = malloc((res->n ? res->n : 1) * sizeof *keep);
    matches mt = {0};
    int rc = 0;
    if (!pl || !keep || !(mt.dc = calloc(tg->nchunks ? tg->nchunks : 1, sizeof *mt.dc))) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < res->n; i++) {
        sql_value v;
        rowset_get(res->rs, 0, res->idx[i], &v);
        pl[i] = (placed){v.i, res->idx[i]};
    }
    /* a target row joined to several FROM rows is updated once, with the first of them (PostgreSQL: an
     * arbitrary one) */
    qsort(pl, res->n, sizeof *pl, cmp_placed);
    size_t nk = 0;
    for (size_t i = 0; i < res->n && !rc; i++) {
        if (i && pl[i].place == pl[i - 1].place)
            continue;
        size_t ci = (size_t)((uint64_t)pl[i].place >> 32);
        uint32_t row = (uint32_t)pl[i].place;
        if (ci >= tg->nchunks || row >= tg->chunks[ci].rows) {
            rc = base_err(err, FACTDB_INTERNAL, "UPDATE ... FROM: a row's place is out of range");
            break;
        }
        keep[nk++] = pl[i].row;
        if (!mt.ndc || mt.dc[mt.ndc - 1].id != tg->chunks[ci].id) {
            const exec_target_chunk *c = &tg->chunks[ci];
            unsigned char *bm = malloc(((size_t)c->rows + 7) / 8);
            if (!bm) {
                rc = base_err(err, FACTDB_NOMEM, "out of memory");
                break;
            }
            memcpy(bm, c->old, ((size_t)c->rows + 7) / 8);
            mt.dc[mt.ndc++] = (del_chunk){c->id, 0, bm};
        }
        del_chunk *d = &mt.dc[mt.ndc - 1];
        d->bitmap[row / 8] |= (unsigned char)(1u << (row % 8));
        d->ndel++;
        mt.rows++;
    }
    if (!rc && mt.ndc)
        rc = delete_matches(t, table, &mt, err);
    if (!rc && nk)
        rc = append_rows_of(db, table, ctype, pos, res->rs, 1, keep, nk, ret, err);
    if (!rc)
        *updated = mt.rows;
out:
    matches_cleanup(&mt);
    free(pl);
    free(keep);
    return rc;
}

/* ---- INSERT ... ON CONFLICT DO UPDATE ---- */

static int cmp_target(const void *x, const void *y)
{
    const exec_upsert_row *a = x, *b = y;
    if (a->chunk != b->chunk)
        return a->chunk < b->chunk ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

static raw_kind raw_of_type(sql_type t)
{
    switch (exec_phys(t)) {
    case P_U8: return RAW_U8;
    case P_F64: return RAW_F64;
    case P_STR: return RAW_STR;
    case P_N128: return RAW_N128;
    default: return RAW_I64;
    }
}

typedef struct upsert_run {
    query *q;
    int ncols;              /* the table's; q's inputs at or past it are EXCLUDED columns */
    const rowset *props;
    const int *scan_of;     /* per q input: its column in the scan, or -1 (EXCLUDED) */
    unsigned char *gather;  /* per q input: EXEC_VEC values of up to 16 bytes */
    uint8_t *gvalid;        /* per q input: EXEC_VEC validity bytes */
    eval_thread th;
    rowset *out;
    size_t *prop;           /* NULL, or per row of out: the proposal it comes from */
} upsert_run;

/* Evaluates the new rows for targets t[0..m) of one batch, rows phys_idx[] of it; keeps in sel_out those whose
 * DO UPDATE ... WHERE holds. */
static int upsert_slice(upsert_run *u, const factdb_batch *b, const exec_upsert_row *t, const uint32_t *idx,
                        size_t m, uint32_t *keep, size_t *nkeep, factdb_error *err)
{
    query *q = u->q;
    for (int c = 0; c < q->ncols; c++) {
        in_col *ic = &u->th.in[c];
        unsigned char *g = u->gather + (size_t)c * EXEC_VEC * 16;
        uint8_t *gv = u->gvalid + (size_t)c * EXEC_VEC;
        if (u->scan_of[c] >= 0) {
            const factdb_vector *bv = &b->cols[u->scan_of[c]];
            ic->raw = exec_raw_of_store(q->cols[c].store_type);
            size_t w = exec_raw_width(ic->raw);
            for (size_t i = 0; i < m; i++) {
                memcpy(g + i * w, (const char *)bv->data + idx[i] * w, w);
                gv[i] = bv->valid ? bv->valid[idx[i]] : 1;
            }
            ic->dict = u->scan_of[c];
        } else {
            const rs_col *rc = &u->props->cols[q->cols[c].table_col - u->ncols];
            ic->raw = raw_of_type(rc->type);
            for (size_t i = 0; i < m; i++) {
                memcpy(g + i * rc->width, rc->data + t[i].proposal * rc->width, rc->width);
                gv[i] = rc->valid[t[i].proposal];
            }
            ic->dict = -1;
        }
        ic->data = g;
        ic->valid = gv;
        ic->type = q->cols[c].type;
    }
    exec_reset_tmp(&u->th);
    *nkeep = m;
    if (q->where) {
        if (eval_filter(&u->th, q->where, NULL, m, keep, nkeep))
            return (*err = u->th.err).code;
    } else {
        for (size_t i = 0; i < m; i++)
            keep[i] = (uint32_t)i;
    }
    for (size_t i = 0; u->prop && i < *nkeep; i++)
        u->prop[u->out->n + i] = t[keep[i]].proposal;
    return *nkeep ? project(&u->th, q, keep, *nkeep, u->out, NULL, err) : 0;
}

/* Reads the target rows (sorted by place) in one scan and computes their new versions; fills mt. */
static int upsert_find(factdb *db, upsert_run *u, exec_upsert_row *rows, size_t n, matches *mt, factdb_error *err)
{
    query *q = u->q;
    const char *names[FACTDB_MAX_COLUMNS];
    int scan_of[FACTDB_MAX_COLUMNS];
    size_t ns = 0;
    for (int c = 0; c < q->ncols; c++) {
        scan_of[c] = q->cols[c].table_col < u->ncols ? (int)ns : -1;
        if (scan_of[c] >= 0)
            names[ns++] = q->cols[c].name;
    }
    factdb_table_info ti;
    bool have_ti = false;
    int rc = 0;
    if (!ns) {  /* nothing of the old row is read: scan its first column for the rows' places */
        if ((rc = factdb_table_info_get(db, q->table, &ti, err)))
            return rc;
        have_ti = true;
        names[ns++] = ti.cols[0].name;
    }
    factdb_scan *scan = NULL;
    exec_ctx xc = {.q = q};
    factdb_batch batch;
    factdb_batch_init(&batch);
    u->scan_of = scan_of;
    rc = factdb_scan_open(db, q->table, names, ns, &scan, err);
    if (!rc)
        rc = eval_thread_init(&u->th, &xc, q->nslots, EXEC_VEC, err);
    mt->dc = calloc(n, sizeof *mt->dc);
    u->gather = malloc((size_t)(q->ncols ? q->ncols : 1) * EXEC_VEC * 16);
    u->gvalid = malloc((size_t)(q->ncols ? q->ncols : 1) * EXEC_VEC);
    u->th.in = calloc((size_t)(q->ncols ? q->ncols : 1), sizeof *u->th.in);
    if (!rc && (!mt->dc || !u->gather || !u->gvalid || !u->th.in))
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
    u->th.text = exec_scan_text;
    u->th.text_ctx = scan;
    size_t at = 0;
    while (!rc && at < n) {
        if ((rc = factdb_scan_next(scan, &batch, err)) || !batch.count)
            break;
        uint64_t id;
        uint32_t prow;
        const unsigned char *old;
        store_batch_chunk(&batch, &id, &prow, &old);
        if (rows[at].chunk < id) {
            rc = base_err(err, FACTDB_INTERNAL, "ON CONFLICT DO UPDATE: a conflicting row's chunk was not found");
            break;
        }
        if (rows[at].chunk != id)
            continue;
        uint32_t *phys_of = malloc(batch.count * sizeof *phys_of);
        unsigned char *bm = calloc(((size_t)prow + 7) / 8, 1);
        if (!phys_of || !bm || (rc = live_rows(id, prow, old, batch.count, phys_of, err))) {
            rc = rc ? rc : base_err(err, FACTDB_NOMEM, "out of memory");
            free(phys_of);
            free(bm);
            break;
        }
        if (old)
            memcpy(bm, old, ((size_t)prow + 7) / 8);
        uint32_t ndel = 0;
        while (!rc && at < n && rows[at].chunk == id) {
            uint32_t idx[EXEC_VEC], keep[EXEC_VEC];
            size_t m = 0, first = at, nkeep;
            for (; at < n && rows[at].chunk == id && m < EXEC_VEC; at++) {
                /* the batch index of the physical row: phys_of is ascending */
                size_t lo = 0, hi = batch.count;
                while (lo < hi) {
                    size_t mid = (lo + hi) / 2;
                    if (phys_of[mid] < rows[at].row)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                if (lo == batch.count || phys_of[lo] != rows[at].row) {
                    rc = base_err(err, FACTDB_INTERNAL, "ON CONFLICT DO UPDATE: the conflicting row is not live");
                    break;
                }
                idx[m++] = (uint32_t)lo;
            }
            if (rc || (rc = upsert_slice(u, &batch, rows + first, idx, m, keep, &nkeep, err)))
                break;
            for (size_t i = 0; i < nkeep; i++) {
                uint32_t p = rows[first + keep[i]].row;
                bm[p / 8] |= (unsigned char)(1u << (p % 8));
            }
            ndel += (uint32_t)nkeep;
        }
        free(phys_of);
        if (!rc && ndel) {
            mt->dc[mt->ndc++] = (del_chunk){id, ndel, bm};
            mt->rows += ndel;
        } else {
            free(bm);
        }
    }
    if (!rc && at < n)
        rc = base_err(err, FACTDB_INTERNAL, "ON CONFLICT DO UPDATE: a conflicting row was not found");
    free(u->gather);
    free(u->gvalid);
    free(u->th.in);
    if (u->th.v)
        eval_thread_cleanup(&u->th);
    factdb_batch_cleanup(&batch);
    factdb_scan_free(scan);
    if (have_ti)
        factdb_table_info_free(&ti);
    return rc;
}

int exec_upsert(factdb *db, query *q, int ncols, const sql_type *ctype, const rowset *props, exec_upsert_row *rows,
                size_t n, rowset *ret, size_t *ret_prop, uint64_t *updated, factdb_error *err)
{
    *updated = 0;
    qsort(rows, n, sizeof *rows, cmp_target);
    for (size_t i = 1; i < n; i++)
        if (!cmp_target(&rows[i - 1], &rows[i]))
            return base_err(err, FACTDB_UNIQUE_VIOLATION, "ON CONFLICT DO UPDATE command cannot affect row a second "
                            "time; ensure that no rows proposed for insertion within the same command have "
                            "duplicate constrained values (rows %zu and %zu)",
                            MIN(rows[i - 1].proposal, rows[i].proposal) + 1,
                            MAX(rows[i - 1].proposal, rows[i].proposal) + 1);
    sql_type types[FACTDB_MAX_COLUMNS];
    for (int i = 0; i < q->nouts; i++)
        types[i] = q->outs[i]->type;
    rowset out;
    int rc = rowset_init(&out, q->nouts, types, NULL, 0, err);
    if (rc)
        return rc;
    upsert_run u = {.q = q, .ncols = ncols, .props = props, .out = &out, .prop = ret_prop};
    matches mt = {0};
    modify_ctx m = {.db = db, .q = q, .ctype = ctype, .ret = ret};
    store_txn *t = store_xact_current(db);  /* the caller runs inside store_write */
    if (!t)
        rc = base_err(err, FACTDB_INTERNAL, "ON CONFLICT DO UPDATE outside a write transaction");
    if (!rc)
        rc = upsert_find(db, &u, rows, n, &mt, err);
    if (!rc && mt.ndc)
        rc = delete_matches(t, q->table, &mt, err);
    if (!rc && out.n)
        rc = append_rows(&m, &out, err);
    if (!rc)
        *updated = mt.rows;
    matches_cleanup(&mt);
    rowset_cleanup(&out);
    return rc;
}

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

/* Evaluates q->outs for rows sel[0..m) of the current slice and appends them to out. */
static int project(eval_thread *th, query *q, const uint32_t *sel, size_t m, rowset *out, factdb_error *err)
{
    vec *ov[FACTDB_MAX_COLUMNS];
    for (int i = 0; i < q->nouts; i++)
        if (eval(th, q->outs[i], sel, m, &ov[i]) || (exec_phys(ov[i]->type) == P_STR && eval_strings(th, ov[i], m)))
            return (*err = th->err).code;
    return rowset_append(out, ov, m, err);
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
        rc = live_rows(id, rows, old, batch.count, phys_of, err);
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
            if (m && mt->out && (rc = project(&th, q, sel, m, mt->out, err)))
                break;
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
    uint64_t rows;
} modify_ctx;

static int delete_apply(store_txn *t, void *ctx, factdb_error *err)
{
    modify_ctx *m = ctx;
    matches mt = {0};
    int rc = find_matches(m->db, m->q, &mt, err);
    if (!rc && mt.ndc)
        rc = delete_matches(t, m->q->table, &mt, err);
    if (!rc)
        m->rows = mt.rows;
    matches_cleanup(&mt);
    return rc;
}

int exec_delete(factdb *db, query *q, uint64_t *deleted, factdb_error *err)
{
    modify_ctx m = {.db = db, .q = q};
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

/* Appends the new versions (rowset rs, one column per table column) through an appender: it joins the
 * thread's bound transaction, so they commit with the deletions. */
static int append_rows(modify_ctx *m, rowset *rs, factdb_error *err)
{
    factdb_appender *app;
    int rc = factdb_appender_new(m->db, m->q->table, &app, err);
    if (rc)
        return rc;
    sql_arena scratch;
    sql_arena_init(&scratch, 0);
    for (size_t i = 0; i < rs->n && !rc; i++) {
        for (int k = 0; k < rs->ncols && !rc; k++) {
            sql_value v, cv;
            rowset_get(rs, k, i, &v);
            if (v.null && factdb_appender_column(app, (size_t)k)->not_null)
                rc = sql_err(err, FACTDB_NOT_NULL, m->q->outs[k]->pos, "null value in column \"%s\" of relation "
                             "\"%s\" violates not-null constraint", factdb_appender_column(app, (size_t)k)->name,
                             m->q->table);
            else if (!(rc = exec_cast_value(&v, m->ctype[k], m->q->outs[k]->pos, &scratch, &cv, err)))
                rc = exec_append_value(app, (size_t)k, &cv, err);
        }
        if (!rc)
            rc = factdb_append_row_end(app, err);
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

int exec_update(factdb *db, query *q, const sql_type *ctype, uint64_t *updated, factdb_error *err)
{
    modify_ctx m = {.db = db, .q = q, .ctype = ctype};
    *updated = 0;
    int rc = store_write(db, update_apply, &m, err);
    if (!rc)
        *updated = m.rows;
    return rc;
}

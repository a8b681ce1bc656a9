/* check.c: factdb check. Verifies the catalog, every chunk header and column value (checksums, row
 * counts, encodings, zone maps recomputed from the values, TEXT codes inside the published dictionary),
 * every dictionary (ids contiguous, hash index complete) and the unique-key index (every live row's keys
 * point at it). Reads one snapshot; changes nothing. */
#include "store_int.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct check_ctx {
    store_txn *t;
    void (*report)(void *ctx, const char *problem);
    void *rctx;
    factdb_error *err;
    int problems;
    int loading;  /* a load is in progress (or was interrupted): chunks past next_chunk are expected */
    int64_t *wide;
    uint8_t *valid;
} check_ctx;

static void problem(check_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(check_ctx *c, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->problems++ == 0)
        base_err(c->err, FACTDB_CORRUPT, "%s", msg);
    if (c->report)
        c->report(c->rctx, msg);
}

typedef struct dict_state {
    check_ctx *c;
    const store_table *tab;
    uint16_t col;
    uint32_t expect;
} dict_state;

static int check_dict_entry(void *ctx, uint32_t id, const char *s, size_t len, int hashed)
{
    dict_state *d = ctx;
    const char *cname = d->tab->cols[d->col].name;
    if (id != d->expect)
        problem(d->c, "table \"%s\", column \"%s\": dictionary ids jump from %u to %u", d->tab->name, cname,
                d->expect, id);
    d->expect = id + 1;
    if (!hashed)
        problem(d->c, store_dict_form(d->tab->cols[d->col].flags) == 1
                          ? "table \"%s\", column \"%s\": dictionary entry %u is missing from the hash index"
                          : "table \"%s\", column \"%s\": dictionary entry %u does not match its hash",
                d->tab->name, cname, id);
    if (base_utf8_valid_prefix((const unsigned char *)s, len) != len)
        problem(d->c, "table \"%s\", column \"%s\": dictionary entry %u is not valid UTF-8", d->tab->name, cname,
                id);
    return 0;
}

static void check_column(check_ctx *c, const store_table *tab, const store_chunk_ref *ch, uint16_t col,
                         const store_colmeta *m)
{
    const store_col *sc = &tab->cols[col];
    const void *blob = ch->blobs[col];
    size_t len = ch->blob_len[col];
    const char *tn = tab->name, *cn = sc->name;
    unsigned long long id = (unsigned long long)ch->id;
    if (!m->present) {
        if (blob)
            problem(c, "table \"%s\", chunk %llu, column \"%s\": value present but header says absent", tn, id, cn);
        return;
    }
    if (!blob) {
        problem(c, "table \"%s\", chunk %llu, column \"%s\": column value is missing", tn, id, cn);
        return;
    }
    enc_header h;
    const char *why;
    if (enc_read_header(blob, len, &h, &why)) {
        problem(c, "table \"%s\", chunk %llu, column \"%s\": %s", tn, id, cn, why);
        return;
    }
    if (enc_verify(blob, len)) {
        problem(c, "table \"%s\", chunk %llu, column \"%s\": checksum mismatch", tn, id, cn);
        return;
    }
    if (h.rows != ch->hdr.rows || h.type != sc->type || h.nulls != m->nulls || h.min != m->min || h.max != m->max ||
        h.flags != m->flags || len != m->bytes) {
        problem(c, "table \"%s\", chunk %llu, column \"%s\": column header disagrees with the chunk header "
                   "(rows, type, nulls or zone map)", tn, id, cn);
        return;
    }
    enc_decode_wide(blob, &h, c->wide, c->valid);
    int seen = 0;
    int64_t mn = 0, mx = 0;
    double dmn = 0, dmx = 0;
    uint32_t nulls = 0;
    for (uint32_t r = 0; r < h.rows; r++) {
        if (!c->valid[r]) {
            nulls++;
            continue;
        }
        int64_t v = c->wide[r];
        if (sc->type == FACTDB_DOUBLE) {
            double d;
            memcpy(&d, &v, 8);
            if (d != d)
                continue;
            if (!seen || d < dmn) dmn = d;
            if (!seen || d > dmx) dmx = d;
        } else {
            if (!seen || v < mn) mn = v;
            if (!seen || v > mx) mx = v;
            if (sc->type == FACTDB_TEXT && (uint64_t)v >= sc->dict_count && !c->loading)
                problem(c, "table \"%s\", chunk %llu, column \"%s\": row %u has text code %lld outside the "
                           "dictionary (%u entries)", tn, id, cn, r, (long long)v, sc->dict_count);
            if (sc->type == FACTDB_INTEGER && (v < INT32_MIN || v > INT32_MAX))
                problem(c, "table \"%s\", chunk %llu, column \"%s\": row %u is out of integer range", tn, id, cn, r);
        }
        seen = 1;
    }
    if (sc->type == FACTDB_DOUBLE) {
        memcpy(&mn, &dmn, 8);
        memcpy(&mx, &dmx, 8);
    }
    if (nulls != h.nulls)
        problem(c, "table \"%s\", chunk %llu, column \"%s\": %u NULLs but the header says %u", tn, id, cn, nulls,
                h.nulls);
    if ((h.flags & ENC_FLAG_MINMAX) && (mn != h.min || mx != h.max))
        problem(c, "table \"%s\", chunk %llu, column \"%s\": zone map (min/max) does not match the values", tn, id,
                cn);
}

static void report_problem(void *ctx, const char *msg) { problem(ctx, "%s", msg); }

/* The keys of chunk ch's live rows are in the unique-key index, pointing at them. */
static void check_keys(check_ctx *c, const store_table *tab, const store_chunk_ref *ch)
{
    int64_t *vals[FACTDB_MAX_COLUMNS] = {0};
    uint8_t *valid[FACTDB_MAX_COLUMNS] = {0};
    bool ok = true;
    for (int u = 0; u < tab->nuniq && ok; u++)
        for (int i = 0; i < tab->uniq[u].ncols && ok; i++) {
            uint16_t col = tab->uniq[u].cols[i];
            if (vals[col])
                continue;
            vals[col] = malloc((size_t)ch->hdr.rows * 8 + 8);
            valid[col] = calloc((size_t)ch->hdr.rows + 1, 1);
            if (!vals[col] || !valid[col]) {
                problem(c, "table \"%s\": out of memory checking keys", tab->name);
                ok = false;
                break;
            }
            enc_header h;
            const char *why;
            if (col < ch->hdr.ncols && ch->hdr.cols[col].present && ch->blobs[col]) {
                if (enc_read_header(ch->blobs[col], ch->blob_len[col], &h, &why) || h.rows != ch->hdr.rows ||
                    enc_verify(ch->blobs[col], ch->blob_len[col]))
                    ok = false;  /* reported by check_column */
                else
                    enc_decode_wide(ch->blobs[col], &h, vals[col], valid[col]);
            }
        }
    if (ok)
        store_unique_verify(c->t, tab, ch, (const int64_t *const *)vals, (const uint8_t *const *)valid,
                            report_problem, c);
    for (uint16_t col = 0; col < tab->ncols; col++) {
        free(vals[col]);
        free(valid[col]);
    }
}

static int check_table(void *ctx, const store_table *tab)
{
    check_ctx *c = ctx;
    int idx[FACTDB_MAX_COLUMNS];
    for (uint16_t i = 0; i < tab->ncols; i++)
        idx[i] = i;
    store_chunk_ref *list;
    size_t n;
    if (store_chunk_list(c->t, tab, idx, tab->ncols, true, &list, &n, c->err)) {
        problem(c, "table \"%s\": %s", tab->name, c->err->message);
        return 0;
    }
    /* Chunks in the range of a load in progress (or interrupted) are checked but not published. */
    store_load_mark *marks = NULL;
    size_t nmarks = 0;
    if (store_load_marks(c->t, tab->id, &marks, &nmarks, c->err))
        problem(c, "table \"%s\": %s", tab->name, c->err->message);
    uint64_t rows = 0, chunks = 0, end;
    for (size_t i = 0; i < n; i++) {
        const store_chunk_ref *ch = &list[i];
        if (ch->id >= tab->next_chunk) {
            if (!c->loading)
                problem(c, "table \"%s\": chunk %llu is past the published range and no load is in progress",
                        tab->name, (unsigned long long)ch->id);
            continue;
        }
        if (!store_load_hides(marks, nmarks, ch->id, &end)) {
            chunks++;
            rows += ch->hdr.rows - ch->hdr.deleted;
            if (tab->nuniq && ch->hdr.ncols <= tab->ncols)
                check_keys(c, tab, ch);
        }
        if (ch->hdr.ncols > tab->ncols) {
            problem(c, "table \"%s\", chunk %llu: more columns than the table", tab->name, (unsigned long long)ch->id);
            continue;
        }
        if (ch->deleted ? ch->deleted_len != ((size_t)ch->hdr.rows + 7) / 8 ||
                              store_bitmap_count(ch->deleted, ch->hdr.rows) != ch->hdr.deleted
                        : ch->hdr.deleted != 0)
            problem(c, "table \"%s\", chunk %llu: the deletion bitmap disagrees with the chunk header's %u deleted "
                       "rows", tab->name, (unsigned long long)ch->id, ch->hdr.deleted);
        for (uint16_t col = 0; col < ch->hdr.ncols; col++)
            check_column(c, tab, ch, col, &ch->hdr.cols[col]);
        for (uint16_t col = ch->hdr.ncols; col < tab->ncols; col++)
            if (ch->blobs[col])
                problem(c, "table \"%s\", chunk %llu: value for column \"%s\" beyond the chunk's columns", tab->name,
                        (unsigned long long)ch->id, tab->cols[col].name);
    }
    store_chunk_list_free(list, n);
    free(marks);
    if (rows != tab->rows)
        problem(c, "table \"%s\": the catalog says %llu rows but the chunks hold %llu", tab->name,
                (unsigned long long)tab->rows, (unsigned long long)rows);
    if (chunks != tab->chunks)
        problem(c, "table \"%s\": the catalog says %llu chunks but there are %llu", tab->name,
                (unsigned long long)tab->chunks, (unsigned long long)chunks);
    for (uint16_t col = 0; col < tab->ncols; col++) {
        if (tab->cols[col].type != FACTDB_TEXT)
            continue;
        dict_state d = {c, tab, col, 0};
        if (store_dict_each(c->t, tab->id, col, store_dict_form(tab->cols[col].flags), check_dict_entry, &d,
                            c->err))
            problem(c, "table \"%s\": %s", tab->name, c->err->message);
        if (d.expect < tab->cols[col].dict_count)
            problem(c, "table \"%s\", column \"%s\": the dictionary has %u entries but the catalog says %u", tab->name,
                    tab->cols[col].name, d.expect, tab->cols[col].dict_count);
        if (d.expect > tab->cols[col].dict_count && !c->loading)
            problem(c, "table \"%s\", column \"%s\": %u unpublished dictionary entries and no load in progress",
                    tab->name, tab->cols[col].name, d.expect - tab->cols[col].dict_count);
    }
    return 0;
}

int factdb_check(factdb *db, void (*report)(void *ctx, const char *problem), void *rctx, factdb_error *err)
{
    base_err_clear(err);
    factdb_error local;
    check_ctx c = {.report = report, .rctx = rctx, .err = err ? err : &local};
    int rc = store_txn_read(db->env, &c.t, err);
    if (rc)
        return rc;
    MDB_val k = {7, "loading"}, v;
    c.loading = mdb_get(c.t->txn, db->env->meta, &k, &v) == 0;
    c.wide = malloc(FACTDB_CHUNK_ROWS * sizeof *c.wide);
    c.valid = malloc(FACTDB_CHUNK_ROWS);
    if (!c.wide || !c.valid)
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
    factdb_error scratch;
    if (!rc && store_table_each(c.t, check_table, &c, &scratch))
        problem(&c, "catalog: %s", scratch.message);
    /* Every chunk must belong to a table of the catalog. */
    MDB_cursor *cur;
    if (!rc && mdb_cursor_open(c.t->txn, db->env->chunks, &cur) == 0) {
        MDB_val ck, cv;
        int op = MDB_FIRST;
        uint32_t last = UINT32_MAX;
        while (mdb_cursor_get(cur, &ck, &cv, op) == 0) {
            op = MDB_NEXT;
            if (ck.mv_size != 14) {
                problem(&c, "chunk index: a key of %zu bytes (expected 14)", ck.mv_size);
                continue;
            }
            uint32_t tid = base_get_be32(ck.mv_data);
            if (tid == last)
                continue;
            last = tid;
            store_table tab;
            factdb_error e2;
            if (store_table_get_id(c.t, tid, &tab, &e2))
                problem(&c, "chunks of table id %u exist but the catalog has no such table", tid);
            else
                store_table_cleanup(&tab);
        }
        mdb_cursor_close(cur);
    }
    free(c.wide);
    free(c.valid);
    store_txn_abort(c.t);
    if (rc)
        return rc;
    return c.problems ? FACTDB_CORRUPT : FACTDB_OK;
}

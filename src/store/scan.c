/* scan.c: snapshot scans. factdb_scan_open takes one LMDB read transaction and collects, for every
 * published chunk, pointers to the wanted columns' values in the memory map; after that, decoding
 * touches no LMDB state, so any number of threads may claim chunks concurrently (an atomic counter). */
#include "store_int.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct factdb_scan {
    factdb *db;
    store_txn *txn;
    uint64_t version, rows;
    store_table tab;
    size_t ncols;
    int *colidx;
    store_dict **dicts;
    store_chunk_ref *chunks;
    bool borrowed;          /* txn is the caller's transaction: not ours to end */
    store_dict **private_dicts;
    size_t nchunks, nlive;  /* nlive: chunks still to scan after pruning (a prefix) */
    _Atomic size_t next;
};

typedef struct batch_buf {
    const store_chunk_ref *chunk;
    size_t ncols;
    void **data;
    uint8_t **valid;
} batch_buf;

void factdb_batch_init(factdb_batch *b) { memset(b, 0, sizeof *b); }

void factdb_batch_cleanup(factdb_batch *b)
{
    batch_buf *bb = b->internal;
    if (bb) {
        for (size_t i = 0; i < bb->ncols; i++) {
            base_pool_put(bb->data[i], FACTDB_CHUNK_ROWS * 8);
            base_pool_put(bb->valid[i], FACTDB_CHUNK_ROWS);
        }
        free(bb->data);
        free(bb->valid);
        free(bb);
    }
    free(b->cols);
    memset(b, 0, sizeof *b);
}

int factdb_scan_open(factdb *db, const char *table, const char *const *columns, size_t ncols, factdb_scan **out,
                     factdb_error *err)
{
    base_err_clear(err);
    *out = NULL;
    factdb_scan *s = calloc(1, sizeof *s);
    if (!s)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    s->db = db;
    int rc = store_txn_read_db(db, &s->txn, &s->borrowed, err);
    if (rc) {
        free(s);
        return rc;
    }
    s->version = store_txn_id(s->txn);
    if ((rc = store_table_get(s->txn, table, &s->tab, err)))
        goto fail;
    s->ncols = columns && ncols ? ncols : s->tab.ncols;
    s->colidx = calloc(s->ncols ? s->ncols : 1, sizeof *s->colidx);
    s->dicts = calloc(s->ncols ? s->ncols : 1, sizeof *s->dicts);
    if (!s->colidx || !s->dicts) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < s->ncols; i++) {
        if (!(columns && ncols)) {
            s->colidx[i] = (int)i;
        } else {
            s->colidx[i] = -1;
            for (uint16_t c = 0; c < s->tab.ncols; c++)
                if (!strcmp(s->tab.cols[c].name, columns[i]))
                    s->colidx[i] = c;
            if (s->colidx[i] < 0) {
                rc = base_err(err, FACTDB_NO_COLUMN, "column \"%s\" does not exist in table \"%s\"", columns[i],
                              table);
                goto fail;
            }
        }
        const store_col *c = &s->tab.cols[s->colidx[i]];
        if (c->type != FACTDB_TEXT)
            continue;
        if (s->borrowed && !s->txn->fresh) {
            /* inside a transaction: its new strings must not reach the process-wide cache */
            if (!s->private_dicts && !(s->private_dicts = calloc(s->ncols, sizeof *s->private_dicts))) {
                rc = base_err(err, FACTDB_NOMEM, "out of memory");
                goto fail;
            }
            if ((rc = store_dict_private(s->txn, s->tab.id, (uint16_t)s->colidx[i],
                                         store_dict_form(c->flags), c->dict_count,
                                         &s->private_dicts[i], err)))
                goto fail;
            s->dicts[i] = s->private_dicts[i];
        } else if ((rc = store_dict_cached(s->txn, s->tab.id, (uint16_t)s->colidx[i],
                                           store_dict_form(c->flags), c->dict_count, &s->dicts[i],
                                           err))) {
            goto fail;
        }
    }
    if ((rc = store_chunk_list(s->txn, &s->tab, s->colidx, s->ncols, false, &s->chunks, &s->nchunks, err)))
        goto fail;
    for (size_t i = 0; i < s->nchunks; i++)
        s->rows += s->chunks[i].hdr.rows - s->chunks[i].hdr.deleted;
    s->nlive = s->nchunks;
    *out = s;
    return FACTDB_OK;
fail:
    factdb_scan_free(s);
    return rc;
}

uint64_t factdb_scan_row_count(factdb_scan *s) { return s->rows; }

size_t store_scan_prune(factdb_scan *s, bool (*keep)(void *ctx, const store_chunk_header *h), void *ctx)
{
    size_t o = 0, dropped = 0;
    for (size_t i = 0; i < s->nchunks; i++) {
        if (keep(ctx, &s->chunks[i].hdr)) {
            if (o != i) {
                store_chunk_ref tmp = s->chunks[o];
                s->chunks[o] = s->chunks[i];
                s->chunks[i] = tmp;
            }
            o++;
        } else {
            dropped++;
        }
    }
    /* dropped refs stay after nchunks - dropped, so store_chunk_list_free still frees them */
    s->nlive = o;
    return dropped;
}

size_t store_scan_chunk_count(factdb_scan *s) { return s->nlive; }

int store_scan_chunk_range(factdb_scan *s, size_t i, size_t col, int64_t *min, int64_t *max)
{
    if (i >= s->nlive || col >= s->ncols || s->colidx[col] < 0)
        return -1;
    const store_chunk_header *h = &s->chunks[i].hdr;
    size_t tc = (size_t)s->colidx[col];
    if (tc >= h->ncols || !h->cols[tc].present || h->cols[tc].nulls == h->rows)
        return 0;  /* a column added after the chunk was written, or only NULLs */
    if (!(h->cols[tc].flags & ENC_FLAG_MINMAX))
        return -1;
    *min = h->cols[tc].min;
    *max = h->cols[tc].max;
    return 1;
}

uint32_t store_scan_dict_count(factdb_scan *s, size_t col)
{
    if (col >= s->ncols)
        return 0;
    const store_col *c = &s->tab.cols[s->colidx[col]];
    return c->type == FACTDB_TEXT ? c->dict_count : 0;
}
uint64_t factdb_scan_data_version(factdb_scan *s) { return s->version; }

const char *factdb_scan_text(factdb_scan *s, size_t col, uint32_t code, size_t *len)
{
    if (col >= s->ncols || !s->dicts[col])
        return NULL;
    return store_dict_str(s->dicts[col], code, len);
}

void factdb_scan_free(factdb_scan *s)
{
    if (!s)
        return;
    store_chunk_list_free(s->chunks, s->nchunks);
    if (s->txn)
        store_txn_end(s->txn, s->borrowed);
    if (s->private_dicts)
        for (size_t i = 0; i < s->ncols; i++)
            store_dict_private_free(s->private_dicts[i]);
    free(s->private_dicts);
    store_table_cleanup(&s->tab);
    free(s->colidx);
    free(s->dicts);
    free(s);
}

static int batch_prepare(factdb_scan *s, factdb_batch *b, factdb_error *err)
{
    if (b->internal && b->ncols == s->ncols)
        return FACTDB_OK;
    factdb_batch_cleanup(b);
    batch_buf *bb = calloc(1, sizeof *bb);
    b->cols = calloc(s->ncols ? s->ncols : 1, sizeof *b->cols);
    if (!bb || !b->cols) {
        free(bb);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    b->internal = bb;
    b->ncols = s->ncols;
    bb->ncols = s->ncols;
    bb->data = calloc(s->ncols ? s->ncols : 1, sizeof *bb->data);
    bb->valid = calloc(s->ncols ? s->ncols : 1, sizeof *bb->valid);
    if (!bb->data || !bb->valid)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    for (size_t i = 0; i < s->ncols; i++) {
        bb->data[i] = base_pool_get(FACTDB_CHUNK_ROWS * 8);
        bb->valid[i] = base_pool_get(FACTDB_CHUNK_ROWS);
        if (!bb->data[i] || !bb->valid[i])
            return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    return FACTDB_OK;
}

/* Removes deleted rows from a decoded column in place. */
static size_t compact(void *data, uint8_t *valid, size_t w, uint32_t rows, const unsigned char *deleted)
{
    size_t o = 0;
    unsigned char *d = data;
    for (uint32_t r = 0; r < rows; r++) {
        if (deleted[r / 8] >> (r % 8) & 1)
            continue;
        if (o != r) {
            memmove(d + o * w, d + (size_t)r * w, w);
            if (valid)
                valid[o] = valid[r];
        }
        o++;
    }
    return o;
}

int factdb_scan_next(factdb_scan *s, factdb_batch *b, factdb_error *err)
{
    return store_scan_read(s, b, atomic_fetch_add(&s->next, 1), err);
}

int store_scan_read(factdb_scan *s, factdb_batch *b, size_t i, factdb_error *err)
{
    int rc = batch_prepare(s, b, err);
    if (rc)
        return rc;
    b->count = 0;
    if (i >= s->nlive)
        return FACTDB_OK;
    const store_chunk_ref *ch = &s->chunks[i];
    batch_buf *bb = b->internal;
    for (size_t c = 0; c < s->ncols; c++) {
        const store_col *col = &s->tab.cols[s->colidx[c]];
        factdb_vector *v = &b->cols[c];
        size_t w = enc_type_width((factdb_type)col->type);
        v->type = (factdb_type)col->type;
        v->scale = col->scale;
        v->valid = NULL;
        if (!ch->blobs[c]) {  /* column added after this chunk was written (store_chunk_list checked that) */
            memset(bb->data[c], 0, (size_t)ch->hdr.rows * w);
            memset(bb->valid[c], 0, ch->hdr.rows);
            v->data = bb->data[c];
            v->valid = bb->valid[c];
        } else {
            enc_header h;
            const char *why = NULL;
            if (enc_read_header(ch->blobs[c], ch->blob_len[c], &h, &why))
                ;  /* why says what */
            else if (h.rows != ch->hdr.rows)
                why = "row count differs from the chunk's";
            else if (h.type != col->type)
                why = "its type differs from the column's";
            if (why)
                return base_err(err, FACTDB_CORRUPT, "the database file is damaged: table \"%s\", chunk %llu, column "
                                "\"%s\": %s; run factdb check to list every problem, and restore the file from a backup",
                                s->tab.name, (unsigned long long)ch->id, col->name, why);
            if ((rc = store_verify_blob(s->db->env, s->tab.name, s->tab.id, ch->id, col->name,
                                        (uint16_t)s->colidx[c], ch->blobs[c], ch->blob_len[c], err)))
                return rc;
            const void *zc = NULL;
            int nulls = enc_decode(ch->blobs[c], &h, bb->data[c], bb->valid[c], ch->deleted ? NULL : &zc);
            v->data = zc ? zc : bb->data[c];
            v->valid = nulls ? bb->valid[c] : NULL;
        }
        if (ch->deleted) {
            compact(bb->data[c], (uint8_t *)v->valid, w, ch->hdr.rows, ch->deleted);
        }
    }
    b->count = ch->hdr.rows - ch->hdr.deleted;
    bb->chunk = ch;
    return FACTDB_OK;
}

void store_batch_chunk(const factdb_batch *b, uint64_t *id, uint32_t *rows, const unsigned char **deleted)
{
    const batch_buf *bb = b->internal;
    *id = bb->chunk->id;
    *rows = bb->chunk->hdr.rows;
    *deleted = bb->chunk->deleted;
}

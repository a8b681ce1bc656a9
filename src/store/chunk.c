/* chunk.c: immutable row groups. A chunk is a header value (key column 0: row count, deleted count and
 * the zone map of every column) plus one encoded value per column (key column i+1) and an optional
 * deletion bitmap (key column 0xFFFF). Chunks are written once; merging writes new chunks and deletes
 * the old ones in the same transaction. */
#include "store_int.h"
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define HDR_FIXED 16
#define HDR_COL 32

int store_chunk_header_parse(const void *raw, size_t len, store_chunk_header *out, const char **why)
{
    const unsigned char *p = raw;
    memset(out, 0, sizeof *out);
    if (len < HDR_FIXED + 8) {
        *why = "chunk header too short";
        return -1;
    }
    memcpy(&out->rows, p, 4);
    memcpy(&out->deleted, p + 4, 4);
    memcpy(&out->ncols, p + 8, 2);
    if (len != HDR_FIXED + (size_t)out->ncols * HDR_COL + 8) {
        *why = "chunk header length does not match its column count";
        return -1;
    }
    uint64_t sum;
    memcpy(&sum, p + len - 8, 8);
    if (XXH3_64bits(p, len - 8) != sum) {
        *why = "chunk header checksum mismatch";
        return -1;
    }
    if (out->rows == 0 || out->rows > FACTDB_CHUNK_ROWS || out->deleted > out->rows) {
        *why = "chunk header has impossible row counts";
        return -1;
    }
    out->cols = calloc(out->ncols ? out->ncols : 1, sizeof *out->cols);
    if (!out->cols) {
        *why = "out of memory";
        return -1;
    }
    for (uint16_t i = 0; i < out->ncols; i++) {
        const unsigned char *c = p + HDR_FIXED + (size_t)i * HDR_COL;
        store_colmeta *m = &out->cols[i];
        m->present = c[0];
        m->flags = c[1];
        m->encoding = c[2];
        memcpy(&m->nulls, c + 4, 4);
        memcpy(&m->min, c + 8, 8);
        memcpy(&m->max, c + 16, 8);
        memcpy(&m->bytes, c + 24, 4);
    }
    return 0;
}

static int put_header(store_txn *t, uint32_t table, uint64_t chunk, const store_chunk_header *h,
                      factdb_error *err)
{
    unsigned char key[14];
    store_chunk_key(key, table, chunk, STORE_COL_HEADER);
    size_t len = HDR_FIXED + (size_t)h->ncols * HDR_COL + 8;
    MDB_val k = {14, key}, v = {len, NULL};
    int rc = mdb_put(t->txn, t->env->chunks, &k, &v, MDB_RESERVE);
    if (rc)
        return store_mdb_err(err, rc, "cannot write a chunk");
    unsigned char *p = v.mv_data;
    memset(p, 0, len);
    memcpy(p, &h->rows, 4);
    memcpy(p + 4, &h->deleted, 4);
    memcpy(p + 8, &h->ncols, 2);
    for (uint16_t i = 0; i < h->ncols; i++) {
        unsigned char *c = p + HDR_FIXED + (size_t)i * HDR_COL;
        const store_colmeta *m = &h->cols[i];
        c[0] = m->present;
        c[1] = m->flags;
        c[2] = m->encoding;
        memcpy(c + 4, &m->nulls, 4);
        memcpy(c + 8, &m->min, 8);
        memcpy(c + 16, &m->max, 8);
        memcpy(c + 24, &m->bytes, 4);
    }
    uint64_t sum = XXH3_64bits(p, len - 8);
    memcpy(p + len - 8, &sum, 8);
    return FACTDB_OK;
}

int store_chunk_encode(const store_table *tab, const store_chunk_in *in, uint16_t col, base_buf *out,
                       store_colmeta *meta, factdb_error *err)
{
    out->len = 0;
    enc_header h;
    int rc = enc_encode((factdb_type)tab->cols[col].type, in->vals[col], in->valid[col], in->rows, out, &h);
    if (rc)
        return base_err(err, rc, "cannot encode column \"%s\": %s", tab->cols[col].name,
                        rc == FACTDB_NOMEM ? "out of memory" : "too large");
    *meta = (store_colmeta){1, h.flags, h.encoding, h.nulls, (uint32_t)out->len, h.min, h.max};
    return FACTDB_OK;
}

int store_chunk_put_pre(store_txn *t, const store_table *tab, uint64_t chunk_id, const store_chunk_in *in,
                        base_buf *scratch, const store_chunk_pre *pre, uint64_t *bytes, factdb_error *err)
{
    store_colmeta metas[64];
    store_colmeta *m = in->ncols <= 64 ? metas : calloc(in->ncols, sizeof *m);
    if (!m)
        return base_err(err, FACTDB_NOMEM, "out of memory writing a chunk");
    int rc = FACTDB_OK;
    for (uint16_t i = 0; i < in->ncols; i++) {
        const base_buf *b = scratch;
        if (pre && pre->meta[i].present) {
            b = &pre->bufs[i];
            m[i] = pre->meta[i];
        } else if ((rc = store_chunk_encode(tab, in, i, scratch, &m[i], err))) {
            goto out;
        }
        unsigned char key[14];
        store_chunk_key(key, tab->id, chunk_id, (uint16_t)(i + 1));
        MDB_val k = {14, key}, v = {b->len, NULL};
        int mrc = mdb_put(t->txn, t->env->chunks, &k, &v, MDB_RESERVE);
        if (mrc) {
            rc = store_mdb_err(err, mrc, "cannot write a chunk");
            goto out;
        }
        memcpy(v.mv_data, b->data, b->len);
        *bytes += b->len;
    }
    bool v3 = false;  /* encodings an older factdb does not know */
    for (uint16_t i = 0; i < in->ncols; i++)
        v3 |= m[i].encoding == ENC_DELTA || m[i].encoding == ENC_FACTOR;
    if (v3 && (rc = store_format_require(t, STORE_FORMAT_3, err)))
        goto out;
    store_chunk_header hdr = {in->rows, 0, in->ncols, m};
    rc = put_header(t, tab->id, chunk_id, &hdr, err);
out:
    if (m != metas)
        free(m);
    return rc;
}

int store_chunk_put(store_txn *t, const store_table *tab, uint64_t chunk_id, const store_chunk_in *in,
                    base_buf *scratch, uint64_t *bytes, factdb_error *err)
{
    return store_chunk_put_pre(t, tab, chunk_id, in, scratch, NULL, bytes, err);
}

int store_chunks_delete_range(store_txn *t, uint32_t table, uint64_t first, uint64_t end, factdb_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->chunks, &c);
    if (rc)
        return store_mdb_err(err, rc, "cannot delete chunks");
    for (;;) {
        unsigned char key[14];
        store_chunk_key(key, table, first, 0);
        MDB_val k = {14, key}, v;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc || k.mv_size != 14 || base_get_be32(k.mv_data) != table ||
            base_get_be64((const unsigned char *)k.mv_data + 4) >= end)
            break;
        if ((rc = mdb_cursor_del(c, 0)))
            break;
    }
    mdb_cursor_close(c);
    return rc && rc != MDB_NOTFOUND ? store_mdb_err(err, rc, "cannot delete chunks") : FACTDB_OK;
}

void store_chunk_list_free(store_chunk_ref *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++) {
        free(list[i].hdr.cols);
        free(list[i].blobs);
    }
    free(list);
}

uint32_t store_bitmap_count(const unsigned char *bits, uint32_t rows)
{
    uint32_t n = 0, full = rows / 8;
    for (uint32_t b = 0; b < full; b++)
        n += (uint32_t)__builtin_popcount(bits[b]);
    if (rows % 8)
        n += (uint32_t)__builtin_popcount(bits[full] & ((1u << (rows % 8)) - 1));
    return n;
}

#define DAMAGED "the database file is damaged: "
#define RESTORE "; run factdb check to list every problem, and restore the file from a backup"

static int cross_check(const store_table *tab, const int *colidx, size_t ncols, const store_chunk_ref *list,
                       size_t n, factdb_error *err)
{
    uint64_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        const store_chunk_ref *ch = &list[i];
        unsigned long long id = (unsigned long long)ch->id;
        rows += ch->hdr.rows - ch->hdr.deleted;
        for (size_t j = 0; j < ncols; j++) {
            int c = colidx[j];
            const store_colmeta *m = c < ch->hdr.ncols ? &ch->hdr.cols[c] : NULL;
            const char *cn = tab->cols[c].name;
            if (m && m->present && !ch->blobs[j])
                return base_err(err, FACTDB_CORRUPT, DAMAGED "table \"%s\", chunk %llu: the value of column \"%s\" is "
                                "missing" RESTORE, tab->name, id, cn);
            if (ch->blobs[j] && (!m || !m->present || ch->blob_len[j] != m->bytes))
                return base_err(err, FACTDB_CORRUPT, DAMAGED "table \"%s\", chunk %llu: the value of column \"%s\" "
                                "does not match the chunk header" RESTORE, tab->name, id, cn);
            if (m && tab->cols[c].type == FACTDB_TEXT && (m->flags & ENC_FLAG_MINMAX) &&
                (m->min < 0 || (uint64_t)m->max >= tab->cols[c].dict_count))
                return base_err(err, FACTDB_CORRUPT, DAMAGED "table \"%s\", chunk %llu, column \"%s\": text codes "
                                "beyond the dictionary's %u entries" RESTORE, tab->name, id, cn,
                                tab->cols[c].dict_count);
        }
        uint32_t dels = 0;
        if (ch->deleted) {
            if (ch->deleted_len != ((size_t)ch->hdr.rows + 7) / 8)
                dels = UINT32_MAX;
            else
                dels = store_bitmap_count(ch->deleted, ch->hdr.rows);
        }
        if (dels != ch->hdr.deleted)
            return base_err(err, FACTDB_CORRUPT, DAMAGED "table \"%s\", chunk %llu: the deletion bitmap disagrees "
                            "with the chunk header" RESTORE, tab->name, id);
    }
    if (rows != tab->rows || n != tab->chunks)
        return base_err(err, FACTDB_CORRUPT, DAMAGED "table \"%s\": the catalog says %llu rows in %llu chunks but "
                        "%llu rows in %zu chunks were found" RESTORE, tab->name, (unsigned long long)tab->rows,
                        (unsigned long long)tab->chunks, (unsigned long long)rows, n);
    return FACTDB_OK;
}

int store_chunk_list(store_txn *t, const store_table *tab, const int *colidx, size_t ncols, bool all,
                     store_chunk_ref **out, size_t *n, factdb_error *err)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0, cnt = 0;
    store_chunk_ref *list = NULL;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->chunks, &c);
    if (rc)
        return store_mdb_err(err, rc, "cannot read chunks");
    /* Ranges of loads in progress (or interrupted): not published. */
    store_load_mark *marks = NULL;
    size_t nmarks = 0;
    if (!all && (rc = store_load_marks(t, tab->id, &marks, &nmarks, err))) {
        mdb_cursor_close(c);
        return rc;
    }
    unsigned char key[14];
    store_chunk_key(key, tab->id, 0, 0);
    MDB_val k = {14, key}, v;
    int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    store_chunk_ref *cur = NULL;
    while (mrc == 0 && k.mv_size == 14 && base_get_be32(k.mv_data) == tab->id) {
        const unsigned char *kp = k.mv_data;
        uint64_t chunk = base_get_be64(kp + 4), end;
        uint16_t col = base_get_be16(kp + 12);
        if (!all && chunk >= tab->next_chunk)
            break;  /* an interrupted load of an older factdb wrote past next_chunk */
        if (!all && store_load_hides(marks, nmarks, chunk, &end)) {
            store_chunk_key(key, tab->id, end, 0);
            k = (MDB_val){14, key};
            mrc = end ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) : MDB_NOTFOUND;
            continue;
        }
        if (col == STORE_COL_HEADER) {
            if (cnt == cap) {
                cap = cap ? cap * 2 : 64;
                store_chunk_ref *nl = realloc(list, cap * sizeof *nl);
                if (!nl) {
                    rc = base_err(err, FACTDB_NOMEM, "out of memory listing chunks");
                    goto out;
                }
                list = nl;
            }
            cur = &list[cnt++];
            memset(cur, 0, sizeof *cur);
            cur->id = chunk;
            cur->header_raw = v.mv_data;
            cur->header_len = v.mv_size;
            cur->blobs = calloc(ncols ? ncols : 1, sizeof *cur->blobs + sizeof *cur->blob_len);
            if (!cur->blobs) {
                rc = base_err(err, FACTDB_NOMEM, "out of memory listing chunks");
                goto out;
            }
            cur->blob_len = (size_t *)(void *)(cur->blobs + (ncols ? ncols : 1));
            const char *why;
            if (store_chunk_header_parse(v.mv_data, v.mv_size, &cur->hdr, &why)) {
                rc = base_err(err, FACTDB_CORRUPT, "table \"%s\", chunk %llu: %s; run factdb check", tab->name,
                              (unsigned long long)chunk, why);
                goto out;
            }
        } else if (cur && cur->id == chunk) {
            if (col == STORE_COL_DELETED) {
                cur->deleted = v.mv_data;
                cur->deleted_len = v.mv_size;
            } else {
                for (size_t i = 0; i < ncols; i++)
                    if (colidx[i] == col - 1) {
                        cur->blobs[i] = v.mv_data;
                        cur->blob_len[i] = v.mv_size;
                    }
            }
        }
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (mrc && mrc != MDB_NOTFOUND)
        rc = store_mdb_err(err, mrc, "cannot read chunks");
    if (!rc && !all)
        rc = cross_check(tab, colidx, ncols, list, cnt, err);
out:
    mdb_cursor_close(c);
    free(marks);
    if (rc) {
        store_chunk_list_free(list, cnt);
        return rc;
    }
    *out = list;
    *n = cnt;
    return FACTDB_OK;
}

/* Decodes the live rows of chunk `ref` for all columns of `tab` into wide arrays at offset `at`. */
static int decode_live(store_env *env, const store_table *tab, const store_chunk_ref *ref, int64_t **vals, uint8_t **valid,
                       uint32_t at, int64_t *tmp, uint8_t *vtmp, factdb_error *err)
{
    for (uint16_t c = 0; c < tab->ncols; c++) {
        if (!ref->blobs[c]) {
            memset(valid[c] + at, 0, ref->hdr.rows - ref->hdr.deleted);
            memset(vals[c] + at, 0, (size_t)(ref->hdr.rows - ref->hdr.deleted) * 8);
            continue;
        }
        enc_header h;
        const char *why;
        if (enc_read_header(ref->blobs[c], ref->blob_len[c], &h, &why))
            return base_err(err, FACTDB_CORRUPT, "table \"%s\", chunk %llu, column \"%s\": %s", tab->name,
                            (unsigned long long)ref->id, tab->cols[c].name, why);
        /* A merge must never launder damaged values into a chunk with a fresh checksum. */
        int rc = store_verify_blob(env, tab->name, tab->id, ref->id, tab->cols[c].name, c, ref->blobs[c],
                                   ref->blob_len[c], err);
        if (rc)
            return rc;
        enc_decode_wide(ref->blobs[c], &h, tmp, vtmp);
        uint32_t o = at;
        for (uint32_t r = 0; r < h.rows; r++) {
            if (ref->deleted && (ref->deleted[r / 8] >> (r % 8) & 1))
                continue;
            vals[c][o] = tmp[r];
            valid[c][o] = vtmp[r];
            o++;
        }
    }
    return FACTDB_OK;
}

int store_chunk_merge_tail(store_txn *t, store_table *tab, factdb_error *err)
{
    int all[FACTDB_MAX_COLUMNS];
    for (uint16_t i = 0; i < tab->ncols; i++)
        all[i] = i;
    /* Look only at the last STORE_MERGE_COUNT chunks: find the run of small ones at the end. */
    store_chunk_ref *list;
    size_t n;
    int rc = store_chunk_list(t, tab, all, tab->ncols, false, &list, &n, err);
    if (rc)
        return rc;
    size_t first = n;
    uint64_t rows = 0;
    while (first > 0 && list[first - 1].hdr.rows - list[first - 1].hdr.deleted < STORE_SMALL_CHUNK &&
           rows + list[first - 1].hdr.rows <= FACTDB_CHUNK_ROWS) {
        first--;
        rows += list[first].hdr.rows - list[first].hdr.deleted;
    }
    if (n - first < STORE_MERGE_COUNT) {
        store_chunk_list_free(list, n);
        return FACTDB_OK;
    }
    int64_t **vals = calloc(tab->ncols, sizeof *vals);
    uint8_t **valid = calloc(tab->ncols, sizeof *valid);
    int64_t *tmp = malloc(FACTDB_CHUNK_ROWS * sizeof *tmp);
    uint8_t *vtmp = malloc(FACTDB_CHUNK_ROWS);
    base_buf scratch;
    base_buf_init(&scratch, (size_t)1 << 30);
    rc = vals && valid && tmp && vtmp ? FACTDB_OK : base_err(err, FACTDB_NOMEM, "out of memory merging chunks");
    for (uint16_t c = 0; !rc && c < tab->ncols; c++) {
        vals[c] = malloc(rows ? rows * 8 : 8);
        valid[c] = malloc(rows ? rows : 1);
        if (!vals[c] || !valid[c])
            rc = base_err(err, FACTDB_NOMEM, "out of memory merging chunks");
    }
    uint32_t at = 0;
    uint64_t freed_bytes = 0;
    for (size_t i = first; !rc && i < n; i++) {
        rc = decode_live(t->env, tab, &list[i], vals, valid, at, tmp, vtmp, err);
        at += list[i].hdr.rows - list[i].hdr.deleted;
        for (uint16_t c = 0; c < tab->ncols; c++)
            freed_bytes += list[i].blob_len[c];
    }
    /* Delete the old chunks (their keys), then write the merged one under a new id. */
    for (size_t i = first; !rc && i < n; i++) {
        unsigned char prefix[12];
        base_put_be32(prefix, tab->id);
        base_put_be64(prefix + 4, list[i].id);
        rc = store_delete_prefix(t, t->env->chunks, prefix, 12, err);
    }
    if (!rc && rows) {
        store_chunk_in in = {(uint32_t)rows, tab->ncols, (const int64_t *const *)vals, (const uint8_t *const *)valid};
        uint64_t bytes = 0;
        rc = store_chunk_put(t, tab, tab->next_chunk, &in, &scratch, &bytes, err);
        /* the rows moved: their keys follow them */
        if (!rc)
            rc = store_unique_place(t, tab, tab->next_chunk, &in, err);
        if (!rc) {
            tab->next_chunk++;
            tab->chunks = tab->chunks - (n - first) + 1;
            tab->bytes = tab->bytes - freed_bytes + bytes;
        }
    }
    for (uint16_t c = 0; vals && c < tab->ncols; c++) {
        free(vals[c]);
        if (valid)
            free(valid[c]);
    }
    free(vals);
    free(valid);
    free(tmp);
    free(vtmp);
    base_buf_cleanup(&scratch);
    store_chunk_list_free(list, n);
    return rc;
}

int store_chunk_delete(store_txn *t, store_table *tab, uint64_t chunk_id, const unsigned char *bitmap, uint32_t ndel,
                       factdb_error *err)
{
    unsigned char key[14];
    store_chunk_key(key, tab->id, chunk_id, STORE_COL_HEADER);
    MDB_val k = {14, key}, v;
    int rc = mdb_get(t->txn, t->env->chunks, &k, &v);
    if (rc)
        return store_mdb_err(err, rc, "cannot read a chunk to delete rows from it");
    store_chunk_header h;
    const char *why;
    if (store_chunk_header_parse(v.mv_data, v.mv_size, &h, &why))
        return base_err(err, FACTDB_CORRUPT, "table \"%s\", chunk %llu: %s; run factdb check", tab->name,
                        (unsigned long long)chunk_id, why);
    if (h.deleted + ndel > h.rows) {
        free(h.cols);
        return base_err(err, FACTDB_INTERNAL, "deleting more rows than a chunk holds");
    }
    h.deleted += ndel;
    tab->rows -= ndel;
    if (h.deleted == h.rows) {
        /* nothing left: drop the whole chunk */
        unsigned char prefix[12];
        memcpy(prefix, key, 12);
        free(h.cols);
        tab->chunks--;
        return store_delete_prefix(t, t->env->chunks, prefix, 12, err);
    }
    rc = put_header(t, tab->id, chunk_id, &h, err);
    free(h.cols);
    if (rc)
        return rc;
    store_chunk_key(key, tab->id, chunk_id, STORE_COL_DELETED);
    MDB_val bk = {14, key}, bv = {((size_t)h.rows + 7) / 8, (void *)bitmap};
    if ((rc = mdb_put(t->txn, t->env->chunks, &bk, &bv, 0)))
        return store_mdb_err(err, rc, "cannot write a deletion bitmap");
    return 0;
}

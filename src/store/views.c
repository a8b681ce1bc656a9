/* views.c: view definitions (CREATE VIEW). A view is its query's SQL text, kept in the meta database
 * under "view:" + name, and planned afresh wherever a query names it (src/plan). Record: version (1 byte,
 * 1), the number of column names given in CREATE VIEW v (a, b) (u16 LE), each name (u8 length + bytes),
 * then the query's text. factdb versions before views never read these keys, so they simply do not see
 * views. */
#include "store_int.h"
#include <stdlib.h>
#include <string.h>

#define VIEW_PREFIX "view:"
#define VIEW_RECORD_VERSION 1

static size_t view_key(unsigned char *k, const char *name)
{
    size_t n = strlen(name);
    memcpy(k, VIEW_PREFIX, 5);
    memcpy(k + 5, name, n);
    return 5 + n;
}

void store_view_free(store_view *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->ncols; i++)
        free(v->cols[i]);
    free(v->cols);
    free(v->sql);
    memset(v, 0, sizeof *v);
}

static int damaged(factdb_error *err, const char *name)
{
    return base_err(err, FACTDB_CORRUPT, "the definition of view \"%s\" is damaged; run factdb check, and restore the "
                    "file from a backup (or DROP VIEW and create it again)", name);
}

int store_view_get(store_txn *t, const char *name, store_view *out, factdb_error *err)
{
    memset(out, 0, sizeof *out);
    if (strlen(name) > FACTDB_NAME_MAX)
        return FACTDB_NO_TABLE;
    unsigned char key[5 + FACTDB_NAME_MAX];
    MDB_val k = {view_key(key, name), key}, v;
    int rc = mdb_get(t->txn, t->env->meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return FACTDB_NO_TABLE;
    if (rc)
        return store_mdb_err(err, rc, "cannot read the catalog");
    const unsigned char *p = v.mv_data, *end = p + v.mv_size;
    if (v.mv_size < 3 || p[0] != VIEW_RECORD_VERSION)
        return damaged(err, name);
    int n = p[1] | p[2] << 8;
    p += 3;
    if (n > FACTDB_MAX_COLUMNS)
        return damaged(err, name);
    out->cols = calloc((size_t)(n ? n : 1), sizeof *out->cols);
    if (!out->cols)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        if (p >= end || p + 1 + *p > end || !*p) {
            store_view_free(out);
            return damaged(err, name);
        }
        size_t l = *p++;
        if (!(out->cols[i] = strndup((const char *)p, l))) {
            store_view_free(out);
            return base_err(err, FACTDB_NOMEM, "out of memory");
        }
        out->ncols = i + 1;
        p += l;
    }
    out->len = (size_t)(end - p);
    if (!out->len || !(out->sql = strndup((const char *)p, out->len))) {
        store_view_free(out);
        return out->len ? base_err(err, FACTDB_NOMEM, "out of memory") : damaged(err, name);
    }
    return FACTDB_OK;
}

int store_view_put(store_txn *t, const char *name, const char *const *cols, int ncols, const char *sql, size_t len,
                   factdb_error *err)
{
    if (strlen(name) > FACTDB_NAME_MAX)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "view name \"%s\" is longer than %d bytes", name, FACTDB_NAME_MAX);
    size_t size = 3 + len;
    for (int i = 0; i < ncols; i++) {
        size_t l = strlen(cols[i]);
        if (!l || l > FACTDB_NAME_MAX)
            return base_err(err, FACTDB_INVALID_ARGUMENT, "column name \"%s\" is empty or longer than %d bytes", cols[i],
                            FACTDB_NAME_MAX);
        size += 1 + l;
    }
    unsigned char *rec = malloc(size);
    if (!rec)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    unsigned char *p = rec;
    *p++ = VIEW_RECORD_VERSION;
    *p++ = (unsigned char)(ncols & 0xff);
    *p++ = (unsigned char)(ncols >> 8);
    for (int i = 0; i < ncols; i++) {
        size_t l = strlen(cols[i]);
        *p++ = (unsigned char)l;
        memcpy(p, cols[i], l);
        p += l;
    }
    memcpy(p, sql, len);
    unsigned char key[5 + FACTDB_NAME_MAX];
    MDB_val k = {view_key(key, name), key}, v = {size, rec};
    int rc = mdb_put(t->txn, t->env->meta, &k, &v, 0);
    free(rec);
    return rc ? store_mdb_err(err, rc, "cannot write the view") : FACTDB_OK;
}

int store_view_drop(store_txn *t, const char *name, factdb_error *err)
{
    if (strlen(name) > FACTDB_NAME_MAX)
        return FACTDB_NO_TABLE;
    unsigned char key[5 + FACTDB_NAME_MAX];
    MDB_val k = {view_key(key, name), key};
    int rc = mdb_del(t->txn, t->env->meta, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return FACTDB_NO_TABLE;
    return rc ? store_mdb_err(err, rc, "cannot drop the view") : FACTDB_OK;
}

int store_view_each(store_txn *t, int (*fn)(void *ctx, const char *name), void *ctx, factdb_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->meta, &c);
    if (rc)
        return store_mdb_err(err, rc, "cannot read the catalog");
    MDB_val k = {5, VIEW_PREFIX}, v;
    int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    char name[FACTDB_NAME_MAX + 1];
    while (!rc && mrc == 0 && k.mv_size > 5 && !memcmp(k.mv_data, VIEW_PREFIX, 5)) {
        size_t l = MIN(k.mv_size - 5, (size_t)FACTDB_NAME_MAX);
        memcpy(name, (const char *)k.mv_data + 5, l);
        name[l] = 0;
        rc = fn(ctx, name);
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc;
}

bool store_view_exists(factdb *db, const char *name)
{
    store_txn *t;
    bool borrowed;
    factdb_error e = {0};
    if (store_txn_read_db(db, &t, &borrowed, &e))
        return false;
    store_view v;
    bool found = store_view_get(t, name, &v, &e) == FACTDB_OK;
    store_view_free(&v);
    store_txn_end(t, borrowed);
    return found;
}

/* catalog.c: table definitions and statistics. A table record (key: table id, big-endian) holds the
 * columns and the published state: next_chunk (chunks below it are visible), row/chunk/byte counts and,
 * per TEXT column, the published dictionary size. Table ids are never reused. */
#include "store_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The record's version is the newest dictionary format among its columns: 2 with a format-2 column
 * (STORE_COL_DICT_INLINE_HASH), 3 with a format-3 one (STORE_COL_DICT_BLOCKS), so that a factdb that does not
 * know the form refuses the table instead of misreading or extending its dictionaries. A table without such
 * a column keeps version 1. */
/* Version 4: the table has PRIMARY KEY or UNIQUE constraints, listed after the counters; a factdb that does
 * not know them refuses the table rather than write rows without checking them. */
#define TABLE_RECORD_VERSION 1
#define TABLE_RECORD_UNIQUE 4
#define TABLE_RECORD_VERSION_MAX 4

static unsigned record_version(const store_table *tab)
{
    unsigned v = TABLE_RECORD_VERSION;
    for (uint16_t i = 0; i < tab->ncols; i++)
        if (tab->cols[i].type == FACTDB_TEXT)
            v = MAX(v, (unsigned)store_dict_form(tab->cols[i].flags));
    return tab->nuniq ? TABLE_RECORD_UNIQUE : v;
}

/* The constraints section of a version-4 record: u8 count, then per constraint u8 primary, u8 name length,
 * name, u8 column count, u16 LE column indexes. Returns the bytes read, 0 when damaged. */
static size_t decode_unique(const unsigned char *p, const unsigned char *end, store_table *out)
{
    const unsigned char *start = p;
    if (p >= end || *p > STORE_UNIQUE_MAX || *p == 0)
        return 0;
    out->nuniq = *p++;
    for (int u = 0; u < out->nuniq; u++) {
        store_unique *c = &out->uniq[u];
        if (end - p < 2 || p[0] > 1 || p[1] > FACTDB_NAME_MAX || end - p < 3 + p[1])
            return 0;
        c->primary = p[0];
        memcpy(c->name, p + 2, p[1]);
        c->name[p[1]] = 0;
        p += 2 + p[1];
        c->ncols = *p++;
        if (c->ncols < 1 || c->ncols > STORE_UNIQUE_COLS || end - p < 2 * c->ncols)
            return 0;
        for (int i = 0; i < c->ncols; i++, p += 2) {
            c->cols[i] = (uint16_t)(p[0] | p[1] << 8);
            if (c->cols[i] >= out->ncols)
                return 0;
        }
    }
    return (size_t)(p - start);
}

static size_t unique_len(const store_table *tab)
{
    size_t n = tab->nuniq ? 1 : 0;
    for (int u = 0; u < tab->nuniq; u++)
        n += 3 + strlen(tab->uniq[u].name) + 2 * (size_t)tab->uniq[u].ncols;
    return n;
}

void store_table_cleanup(store_table *tab)
{
    free(tab->cols);
    tab->cols = NULL;
}

int store_table_copy(store_table *dst, const store_table *src)
{
    *dst = *src;
    dst->cols = malloc(sizeof *dst->cols * (src->ncols ? src->ncols : 1));
    if (!dst->cols)
        return FACTDB_NOMEM;
    memcpy(dst->cols, src->cols, sizeof *dst->cols * src->ncols);
    return FACTDB_OK;
}

static int decode_table(const MDB_val *v, uint32_t id, store_table *out, factdb_error *err)
{
    const unsigned char *p = v->mv_data, *end = p + v->mv_size;
    memset(out, 0, sizeof *out);
    out->id = id;
    if (v->mv_size < 4 || p[0] < TABLE_RECORD_VERSION || p[0] > TABLE_RECORD_VERSION_MAX)
        goto bad;
    unsigned version = *p++;
    size_t nl = *p++;
    if (nl > FACTDB_NAME_MAX || p + nl + 2 > end)
        goto bad;
    memcpy(out->name, p, nl);
    p += nl;
    out->ncols = (uint16_t)(p[0] | p[1] << 8);
    p += 2;
    out->cols = calloc(out->ncols ? out->ncols : 1, sizeof *out->cols);
    if (!out->cols)
        return base_err(err, FACTDB_NOMEM, "out of memory reading the catalog");
    for (uint16_t i = 0; i < out->ncols; i++) {
        if (p >= end)
            goto bad;
        nl = *p++;
        if (nl > FACTDB_NAME_MAX || p + nl + 8 > end)
            goto bad;
        store_col *c = &out->cols[i];
        memcpy(c->name, p, nl);
        p += nl;
        c->type = p[0];
        c->precision = p[1];
        c->scale = p[2];
        c->flags = p[3];
        memcpy(&c->dict_count, p + 4, 4);
        p += 8;
        unsigned dict = c->flags & (STORE_COL_DICT_INLINE_HASH | STORE_COL_DICT_BLOCKS);
        if (c->flags & ~(STORE_COL_NOT_NULL | STORE_COL_DICT_INLINE_HASH | STORE_COL_DICT_BLOCKS) ||
            (dict && c->type != FACTDB_TEXT) || dict == (STORE_COL_DICT_INLINE_HASH | STORE_COL_DICT_BLOCKS))
            goto bad;
    }
    if (end - p < 32)
        goto bad;
    memcpy(&out->next_chunk, p, 8);
    memcpy(&out->rows, p + 8, 8);
    memcpy(&out->chunks, p + 16, 8);
    memcpy(&out->bytes, p + 24, 8);
    p += 32;
    if (version == TABLE_RECORD_UNIQUE) {
        size_t n = decode_unique(p, end, out);
        if (!n)
            goto bad;
        p += n;
    }
    if (p != end || version != record_version(out))
        goto bad;
    return FACTDB_OK;
bad:
    store_table_cleanup(out);
    return base_err(err, FACTDB_CORRUPT, "the catalog record of table %u is damaged", id);
}

int store_table_put(store_txn *t, const store_table *tab, factdb_error *err)
{
    unsigned char key[4];
    base_put_be32(key, tab->id);
    size_t n = 1 + 1 + strlen(tab->name) + 2 + 32;
    for (uint16_t i = 0; i < tab->ncols; i++)
        n += 1 + strlen(tab->cols[i].name) + 8;
    n += unique_len(tab);
    unsigned version = record_version(tab);
    int rc;
    if (version > TABLE_RECORD_VERSION && (rc = store_format_require(t, version, err)))
        return rc;
    MDB_val k = {4, key}, v = {n, NULL};
    rc = mdb_put(t->txn, t->env->tables, &k, &v, MDB_RESERVE);
    if (rc)
        return store_mdb_err(err, rc, "cannot update the catalog");
    unsigned char *p = v.mv_data;
    *p++ = (unsigned char)version;
    size_t nl = strlen(tab->name);
    *p++ = (unsigned char)nl;
    memcpy(p, tab->name, nl);
    p += nl;
    *p++ = (unsigned char)(tab->ncols & 0xFF);
    *p++ = (unsigned char)(tab->ncols >> 8);
    for (uint16_t i = 0; i < tab->ncols; i++) {
        const store_col *c = &tab->cols[i];
        nl = strlen(c->name);
        *p++ = (unsigned char)nl;
        memcpy(p, c->name, nl);
        p += nl;
        p[0] = c->type;
        p[1] = c->precision;
        p[2] = c->scale;
        p[3] = c->flags;
        memcpy(p + 4, &c->dict_count, 4);
        p += 8;
    }
    memcpy(p, &tab->next_chunk, 8);
    memcpy(p + 8, &tab->rows, 8);
    memcpy(p + 16, &tab->chunks, 8);
    memcpy(p + 24, &tab->bytes, 8);
    p += 32;
    if (tab->nuniq)
        *p++ = tab->nuniq;
    for (int u = 0; u < tab->nuniq; u++) {
        const store_unique *c = &tab->uniq[u];
        nl = strlen(c->name);
        *p++ = c->primary;
        *p++ = (unsigned char)nl;
        memcpy(p, c->name, nl);
        p += nl;
        *p++ = c->ncols;
        for (int i = 0; i < c->ncols; i++) {
            *p++ = (unsigned char)(c->cols[i] & 0xFF);
            *p++ = (unsigned char)(c->cols[i] >> 8);
        }
    }
    return FACTDB_OK;
}

int store_table_get_id(store_txn *t, uint32_t id, store_table *out, factdb_error *err)
{
    unsigned char key[4];
    base_put_be32(key, id);
    MDB_val k = {4, key}, v;
    int rc = mdb_get(t->txn, t->env->tables, &k, &v);
    if (rc == MDB_NOTFOUND)
        return base_err(err, FACTDB_NO_TABLE, "table %u no longer exists (dropped by another process)", id);
    if (rc)
        return store_mdb_err(err, rc, "cannot read the catalog");
    return decode_table(&v, id, out, err);
}

int store_table_get(store_txn *t, const char *name, store_table *out, factdb_error *err)
{
    size_t len = strlen(name);
    if (len == 0 || len > FACTDB_NAME_MAX)
        return base_err(err, FACTDB_NO_TABLE, "table \"%.80s\" does not exist", name);
    MDB_val k = {len, (void *)name}, v;
    int rc = mdb_get(t->txn, t->env->names, &k, &v);
    if (rc == MDB_NOTFOUND)
        return base_err(err, FACTDB_NO_TABLE, "table \"%s\" does not exist", name);
    if (rc)
        return store_mdb_err(err, rc, "cannot read the catalog");
    if (v.mv_size != 4)
        return base_err(err, FACTDB_CORRUPT, "the catalog entry of table \"%s\" is damaged", name);
    rc = store_table_get_id(t, base_get_be32(v.mv_data), out, err);
    if (rc == FACTDB_OK && strcmp(out->name, name) != 0) {
        /* the name index points at another table's record: a damaged id or record */
        store_table_cleanup(out);
        return base_err(err, FACTDB_CORRUPT, "the database file is damaged: the catalog's name index maps table \"%s\" "
                        "to the record of another table; run factdb check, and restore the file from a backup", name);
    }
    if (rc == FACTDB_NO_TABLE)
        return base_err(err, FACTDB_CORRUPT, "the database file is damaged: the catalog's name index maps table \"%s\" "
                        "to a record that does not exist; run factdb check, and restore the file from a backup", name);
    return rc;
}

static int check_name(const char *what, const char *name, factdb_error *err)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "%s name is empty", what);
    if (len > FACTDB_NAME_MAX)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "%s name \"%.40s...\" is longer than %d bytes", what,
                        name, FACTDB_NAME_MAX);
    if (base_utf8_valid_prefix((const unsigned char *)name, len) != len)
        return base_err(err, FACTDB_INVALID_UTF8, "%s name is not valid UTF-8", what);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7F)
            return base_err(err, FACTDB_INVALID_ARGUMENT, "%s name \"%s\" contains a control character",
                            what, name);
    return FACTDB_OK;
}

int store_table_build(const char *name, const factdb_column_def *cols, size_t ncols, store_table *out,
                      factdb_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = check_name("table", name, err);
    if (rc)
        return rc;
    if (ncols == 0 || ncols > FACTDB_MAX_COLUMNS)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "table \"%s\" must have 1 to %d columns, not %zu", name,
                        FACTDB_MAX_COLUMNS, ncols);
    store_table tab = {0};
    tab.cols = calloc(ncols, sizeof *tab.cols);
    if (!tab.cols)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    snprintf(tab.name, sizeof tab.name, "%s", name);
    tab.ncols = (uint16_t)ncols;
    for (size_t i = 0; i < ncols; i++) {
        const factdb_column_def *d = &cols[i];
        if ((rc = check_name("column", d->name, err)))
            goto out;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cols[j].name, d->name)) {
                rc = base_err(err, FACTDB_INVALID_ARGUMENT, "column \"%s\" appears twice in table \"%s\"",
                              d->name, name);
                goto out;
            }
        if (d->type < FACTDB_BOOLEAN || d->type > FACTDB_TIMESTAMPTZ) {
            rc = base_err(err, FACTDB_INVALID_ARGUMENT, "column \"%s\" has an unknown type (%d)", d->name,
                          (int)d->type);
            goto out;
        }
        if (d->type == FACTDB_DECIMAL &&
            (d->precision < 1 || d->precision > 18 || d->scale < 0 || d->scale > d->precision)) {
            rc = base_err(err, FACTDB_INVALID_ARGUMENT,
                          "column \"%s\": numeric(%d,%d) is not supported; precision must be 1..18 and "
                          "scale 0..precision",
                          d->name, d->precision, d->scale);
            goto out;
        }
        snprintf(tab.cols[i].name, sizeof tab.cols[i].name, "%s", d->name);
        tab.cols[i].type = (uint8_t)d->type;
        tab.cols[i].precision = (uint8_t)(d->type == FACTDB_DECIMAL ? d->precision : 0);
        tab.cols[i].scale = (uint8_t)(d->type == FACTDB_DECIMAL ? d->scale : 0);
        tab.cols[i].flags = (d->not_null ? STORE_COL_NOT_NULL : 0) |
                            (d->type == FACTDB_TEXT ? STORE_COL_DICT_BLOCKS : 0);
    }
out:
    if (rc)
        store_table_cleanup(&tab);
    else
        *out = tab;
    return rc;
}

int store_table_name(store_txn *t, const store_table *tab, factdb_error *err)
{
    MDB_val k = {strlen(tab->name), (void *)tab->name}, v;
    int rc = mdb_get(t->txn, t->env->names, &k, &v);
    if (rc == 0)
        return base_err(err, FACTDB_TABLE_EXISTS, "table \"%s\" already exists", tab->name);
    if (rc != MDB_NOTFOUND)
        return store_mdb_err(err, rc, "cannot read the catalog");
    unsigned char idk[4];
    base_put_be32(idk, tab->id);
    MDB_val nv = {4, idk};
    if ((rc = mdb_put(t->txn, t->env->names, &k, &nv, 0)))
        return store_mdb_err(err, rc, "cannot create the table");
    return FACTDB_OK;
}

int store_table_insert(store_txn *t, store_table *tab, bool named, factdb_error *err)
{
    MDB_val k = {strlen(tab->name), (void *)tab->name}, v;
    int rc = mdb_get(t->txn, t->env->names, &k, &v);
    if (rc == 0)
        return base_err(err, FACTDB_TABLE_EXISTS, "table \"%s\" already exists", tab->name);
    MDB_val ik = {13, "next_table_id"}, iv;
    uint32_t id = 1;
    if (mdb_get(t->txn, t->env->meta, &ik, &iv) == 0 && iv.mv_size == 4)
        memcpy(&id, iv.mv_data, 4);
    tab->id = id;
    uint32_t next = id + 1;
    iv.mv_size = 4;
    iv.mv_data = &next;
    if ((rc = mdb_put(t->txn, t->env->meta, &ik, &iv, 0)))
        return store_mdb_err(err, rc, "cannot create the table");
    if (named && (rc = store_table_name(t, tab, err)))
        return rc;
    return store_table_put(t, tab, err);
}

int store_table_create(store_txn *t, const char *name, const factdb_column_def *cols, size_t ncols,
                       factdb_error *err)
{
    store_table tab;
    int rc = store_table_build(name, cols, ncols, &tab, err);
    if (rc)
        return rc;
    rc = store_table_insert(t, &tab, true, err);
    store_table_cleanup(&tab);
    return rc;
}

static int delete_table_data(store_txn *t, const store_table *tab, int dicts, factdb_error *err)
{
    unsigned char prefix[4];
    base_put_be32(prefix, tab->id);
    int rc = store_delete_prefix(t, t->env->chunks, prefix, 4, err);
    for (uint16_t c = 0; !rc && dicts && c < tab->ncols; c++)
        if (tab->cols[c].type == FACTDB_TEXT)
            rc = store_dict_drop(t, tab->id, c, err);
    if (!rc && tab->nuniq)
        rc = store_unique_drop(t, tab->id, err);
    return rc;
}

int store_table_remove(store_txn *t, const store_table *tab, factdb_error *err)
{
    unsigned char key[4];
    base_put_be32(key, tab->id);
    MDB_val tk = {4, key};
    int rc = delete_table_data(t, tab, 1, err);
    int mrc = rc ? 0 : mdb_del(t->txn, t->env->tables, &tk, NULL);
    return mrc && mrc != MDB_NOTFOUND ? store_mdb_err(err, mrc, "cannot remove a table") : rc;
}

int store_table_drop(store_txn *t, const char *name, factdb_error *err)
{
    store_table tab;
    int rc = store_table_get(t, name, &tab, err);
    if (rc)
        return rc;
    rc = delete_table_data(t, &tab, 1, err);
    unsigned char key[4];
    base_put_be32(key, tab.id);
    MDB_val k = {4, key}, nk = {strlen(name), (void *)name};
    int mrc = 0;
    if (!rc && ((mrc = mdb_del(t->txn, t->env->tables, &k, NULL)) || (mrc = mdb_del(t->txn, t->env->names, &nk, NULL))))
        rc = store_mdb_err(err, mrc, "cannot drop the table");
    store_table_cleanup(&tab);
    return rc;
}

int store_table_truncate(store_txn *t, const char *name, factdb_error *err)
{
    store_table tab;
    int rc = store_table_get(t, name, &tab, err);
    if (rc)
        return rc;
    /* Dictionaries stay: their ids may be cached by other processes and must keep their meaning. The
     * chunks of loads in progress stay too: their rows were not there to truncate, and appear when each
     * load publishes (as they would after a DELETE of every row). */
    store_load_mark *marks;
    size_t n;
    rc = store_load_marks(t, tab.id, &marks, &n, err);
    uint64_t from = 0;
    for (size_t i = 0; !rc && i <= n; i++) {
        /* the ranges do not overlap; delete what lies between them, in id order */
        uint64_t upto = UINT64_MAX, next = UINT64_MAX;
        for (size_t j = 0; j < n; j++)
            if (marks[j].first >= from && marks[j].first < upto) {
                upto = marks[j].first;
                next = marks[j].end;
            }
        rc = store_chunks_delete_range(t, tab.id, from, upto, err);
        if (upto == UINT64_MAX)
            break;
        from = next;
    }
    /* the keys of rows in loads in progress stay with them (the others point at rows gone: harmless, but
     * dropped when nothing else holds keys) */
    if (!rc && tab.nuniq && !n)
        rc = store_unique_drop(t, tab.id, err);
    free(marks);
    if (!rc) {
        tab.rows = tab.chunks = tab.bytes = 0;
        rc = store_table_put(t, &tab, err);
    }
    store_table_cleanup(&tab);
    return rc;
}

int store_table_each(store_txn *t, int (*fn)(void *ctx, const store_table *tab), void *ctx, factdb_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->names, &c);
    if (rc)
        return store_mdb_err(err, rc, "cannot read the catalog");
    MDB_val k, v;
    int op = MDB_FIRST;
    while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        if (v.mv_size != 4) {
            rc = base_err(err, FACTDB_CORRUPT, "the catalog's name index is damaged");
            goto out;
        }
        store_table tab;
        if ((rc = store_table_get_id(t, base_get_be32(v.mv_data), &tab, err)))
            goto out;
        if (k.mv_size != strlen(tab.name) || memcmp(k.mv_data, tab.name, k.mv_size) != 0) {
            store_table_cleanup(&tab);
            rc = base_err(err, FACTDB_CORRUPT, "the catalog's name index maps \"%.*s\" to the record of table \"%s\"",
                          (int)MIN(k.mv_size, 64), (const char *)k.mv_data, tab.name);
            goto out;
        }
        rc = fn(ctx, &tab);
        store_table_cleanup(&tab);
        if (rc)
            goto out;
    }
    rc = rc == MDB_NOTFOUND ? FACTDB_OK : store_mdb_err(err, rc, "cannot read the catalog");
out:
    mdb_cursor_close(c);
    return rc;
}

void store_table_to_info(const store_table *tab, factdb_table_info *info, factdb_column_info *cols)
{
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", tab->name);
    info->id = tab->id;
    info->ncols = tab->ncols;
    info->cols = cols;
    info->row_count = tab->rows;
    info->chunk_count = tab->chunks;
    info->bytes = tab->bytes;
    for (uint16_t i = 0; i < tab->ncols; i++) {
        snprintf(cols[i].name, sizeof cols[i].name, "%s", tab->cols[i].name);
        cols[i].type = (factdb_type)tab->cols[i].type;
        cols[i].precision = tab->cols[i].precision;
        cols[i].scale = tab->cols[i].scale;
        cols[i].not_null = tab->cols[i].flags & STORE_COL_NOT_NULL;
    }
    info->nkeys = tab->nuniq;
    for (int u = 0; u < tab->nuniq; u++) {
        factdb_key_info *k = &info->keys[u];
        snprintf(k->name, sizeof k->name, "%s", tab->uniq[u].name);
        k->primary = tab->uniq[u].primary;
        k->ncols = tab->uniq[u].ncols;
        memcpy(k->cols, tab->uniq[u].cols, k->ncols * sizeof *k->cols);
    }
}

/* ---- interrupted loads of older factdb versions ----
 * They held the gate from their first chunk to their publish and marked themselves with meta/"loading"
 * (and meta/"load_creates"): a writer holding the gate that finds such a mark knows its loader died. */

static int unmark(store_txn *t, const char *name, factdb_error *err)
{
    MDB_val k = {strlen(name), (void *)name};
    int rc = mdb_del(t->txn, t->env->meta, &k, NULL);
    return rc && rc != MDB_NOTFOUND ? store_mdb_err(err, rc, "cannot reclaim an interrupted load") : FACTDB_OK;
}

/* Reads the table id of the meta mark `name` ("loading", "load_creates") into *id: 0 when there is no
 * mark. */
static int read_load_mark(store_txn *t, const char *name, uint32_t *id, factdb_error *err)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    *id = 0;
    int rc = mdb_get(t->txn, t->env->meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return FACTDB_OK;
    if (rc)
        return store_mdb_err(err, rc, "cannot read the catalog");
    if (v.mv_size != 4 || !base_get_be32(v.mv_data))
        return base_err(err, FACTDB_CORRUPT, "the load mark \"%s\" is damaged; run factdb check", name);
    *id = base_get_be32(v.mv_data);
    return FACTDB_OK;
}

/* A load that was to create its table died: the table record it wrote (never named, so never visible)
 * goes, with its chunks and dictionaries. */
static int reclaim_created(store_txn *t, factdb_error *err)
{
    uint32_t id;
    int rc = read_load_mark(t, "load_creates", &id, err);
    if (rc || !id)
        return rc;
    store_table tab;
    rc = store_table_get_id(t, id, &tab, err);
    if (rc == FACTDB_OK) {
        MDB_val nk = {strlen(tab.name), tab.name}, nv;
        if (mdb_get(t->txn, t->env->names, &nk, &nv) == 0 && nv.mv_size == 4 && base_get_be32(nv.mv_data) == tab.id)
            rc = FACTDB_OK;  /* it was published after all: keep it */
        else
            rc = store_table_remove(t, &tab, err);
        store_table_cleanup(&tab);
    } else if (rc == FACTDB_NO_TABLE) {
        rc = FACTDB_OK;
    }
    return rc ? rc : unmark(t, "load_creates", err);
}

/* Called at the start of every write transaction (the caller holds the gate): loads whose lock byte is
 * free died or gave up, so their unpublished chunks are garbage, and so is the table a load was creating;
 * so are the leftovers of an older factdb's interrupted load. */
int store_reclaim(store_txn *t, factdb_error *err)
{
    int rc = store_reclaim_dead_loads(t, err);
    if (!rc)
        rc = store_reclaim_load(t, err);
    return rc ? rc : reclaim_created(t, err);
}

int store_reclaim_load(store_txn *t, factdb_error *err)
{
    uint32_t id;
    int rc = read_load_mark(t, "loading", &id, err);
    if (rc || !id)
        return rc;
    store_table tab;
    rc = store_table_get_id(t, id, &tab, err);
    if (rc == FACTDB_NO_TABLE)
        return unmark(t, "loading", err);
    if (rc)
        return rc;
    rc = store_chunks_delete_range(t, tab.id, tab.next_chunk, UINT64_MAX, err);
    for (uint16_t i = 0; !rc && i < tab.ncols; i++)
        if (tab.cols[i].type == FACTDB_TEXT)
            rc = store_dict_trim(t, tab.id, i, store_dict_form(tab.cols[i].flags), tab.cols[i].dict_count, err);
    store_table_cleanup(&tab);
    return rc ? rc : unmark(t, "loading", err);
}

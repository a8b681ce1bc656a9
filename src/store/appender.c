/* appender.c: buffered, all-or-nothing appends. Rows accumulate in one chunk-sized buffer of widened
 * values; TEXT values get appender-local ids (a string -> id hash table) that become global dictionary
 * ids only when a chunk is written, inside a write transaction.
 * Small commits (less than a chunk) write one published chunk in one transaction. A bigger commit is a
 * "load": each full chunk is written unpublished, in the load's reserved chunk range, in its own short
 * transaction under the write gate (released between chunks, so other writers wait for one chunk at
 * most, not for the load), and one small final transaction publishes them all. If the process dies,
 * the next writer reclaims the unpublished chunks (loadmark.c). */
#include "store_int.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct local_dict {
    uint32_t *slots;   /* hash table of local id + 1; 0 = empty */
    uint32_t nslots;
    uint32_t n, cap;
    uint64_t *hash;
    size_t *off;
    uint32_t *len;
    uint32_t *global;  /* global id per local id, UINT32_MAX until interned */
    base_buf bytes;
} local_dict;

struct factdb_appender {
    factdb *db;
    store_table schema;  /* the table as the appender was created */
    factdb_column_info *infos;
    int64_t **vals;
    uint8_t **valid;
    uint8_t *set;
    uint32_t nrows;
    local_dict *dicts;
    int64_t *text_tmp;
    base_buf scratch;
    base_buf *pre_bufs;       /* a load's non-TEXT columns, encoded before it takes the write gate */
    store_colmeta *pre_meta;
    uint64_t pending;
    /* load state: a commit of more than one chunk is a load, in its own transactions (mark: its reserved
     * chunk range and lock byte) or inside the thread's explicit transaction (xact) */
    bool loading;
    store_txn *xact;     /* the loading happens inside this explicit transaction (never committed here) */
    store_load_mark mark;
    uint64_t next_chunk, load_rows, load_chunks, load_bytes;
    uint32_t *dict_next;
    /* dict_clean[c]: every entry of column c's dictionary (as the commit's transaction sees it) was added by
     * this commit, so a string this commit has not interned is new. dict_mark[c]: the count after the commit's
     * last chunk; a count that moved past it since means another writer added strings. */
    uint8_t *dict_clean;
    uint32_t *dict_mark;
    /* per format-2 TEXT column, inside BEGIN ... COMMIT: the strings already in its dictionary (outside, the
     * process's shared index of committed strings serves); dropped when the commit ends */
    store_dict_index **dict_ix;
    /* factdb_appender_create: the table does not exist until the first commit creates it (schema.id is 0
     * until a transaction assigns one; the id stays unnamed while a load is in progress). */
    bool create;
    /* the write transaction is the appender's own (store_write began it for one commit or load chunk): the
     * dictionary entries it sees are all committed, so the process's shared index serves */
    bool own_txn;
    /* unique constraints: what a row whose key a live row holds does (store_appender_on_conflict) */
    store_conflict_mode conflict_mode;
    int conflict_only;
    int (*on_conflict)(void *ctx, uint64_t row, const store_conflict *c, factdb_error *err);
    void *conflict_ctx;
    uint64_t row_base;      /* rows of this appender's statement before the buffer's first */
    store_conflict *conflicts;
    uint8_t *skip;
};

static void local_dict_clear(local_dict *d)
{
    free(d->slots);
    free(d->hash);
    free(d->off);
    free(d->len);
    free(d->global);
    base_buf_cleanup(&d->bytes);
    memset(d, 0, sizeof *d);
    base_buf_init(&d->bytes, (size_t)16 << 30);
}

static int local_dict_grow(local_dict *d)
{
    uint32_t ncap = d->cap ? d->cap * 2 : 1024;
    uint64_t *h = realloc(d->hash, ncap * sizeof *h);
    if (h) d->hash = h;
    size_t *o = realloc(d->off, ncap * sizeof *o);
    if (o) d->off = o;
    uint32_t *l = realloc(d->len, ncap * sizeof *l);
    if (l) d->len = l;
    uint32_t *g = realloc(d->global, ncap * sizeof *g);
    if (g) d->global = g;
    if (!h || !o || !l || !g)
        return FACTDB_NOMEM;
    d->cap = ncap;
    uint32_t nslots = ncap * 2;
    uint32_t *s = calloc(nslots, sizeof *s);
    if (!s)
        return FACTDB_NOMEM;
    for (uint32_t i = 0; i < d->n; i++) {
        uint32_t p = (uint32_t)d->hash[i] & (nslots - 1);
        while (s[p])
            p = (p + 1) & (nslots - 1);
        s[p] = i + 1;
    }
    free(d->slots);
    d->slots = s;
    d->nslots = nslots;
    return FACTDB_OK;
}

static int local_dict_add(local_dict *d, const char *str, size_t len, uint32_t *id)
{
    uint64_t h = base_hash(str, len);
    if (d->nslots) {
        uint32_t p = (uint32_t)h & (d->nslots - 1);
        while (d->slots[p]) {
            uint32_t i = d->slots[p] - 1;
            if (d->hash[i] == h && d->len[i] == len && (len == 0 || !memcmp(d->bytes.data + d->off[i], str, len))) {
                *id = i;
                return FACTDB_OK;
            }
            p = (p + 1) & (d->nslots - 1);
        }
    }
    if (d->n == d->cap) {
        int rc = local_dict_grow(d);
        if (rc)
            return rc;
    }
    int rc = base_buf_append(&d->bytes, str, len);
    if (rc)
        return rc;
    uint32_t i = d->n++;
    d->hash[i] = h;
    d->off[i] = d->bytes.len - len;
    d->len[i] = (uint32_t)len;
    d->global[i] = UINT32_MAX;
    uint32_t p = (uint32_t)h & (d->nslots - 1);
    while (d->slots[p])
        p = (p + 1) & (d->nslots - 1);
    d->slots[p] = i + 1;
    *id = i;
    return FACTDB_OK;
}

static int appender_init(factdb_appender *a, factdb_appender **out, factdb_error *err);

int factdb_appender_new(factdb *db, const char *table, factdb_appender **out, factdb_error *err)
{
    base_err_clear(err);
    *out = NULL;
    if (db->read_only)
        return store_read_only_err(db, err);
    store_txn *t;
    bool borrowed;
    int rc = store_txn_read_db(db, &t, &borrowed, err);
    if (rc)
        return rc;
    factdb_appender *a = calloc(1, sizeof *a);
    if (!a) {
        store_txn_end(t, borrowed);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    a->db = db;
    rc = store_table_get(t, table, &a->schema, err);
    store_txn_end(t, borrowed);
    if (rc) {
        free(a);
        return rc;
    }
    return appender_init(a, out, err);
}

int factdb_appender_create(factdb *db, const char *table, const factdb_column_def *cols, size_t ncols,
                           factdb_appender **out, factdb_error *err)
{
    base_err_clear(err);
    *out = NULL;
    if (db->read_only)
        return store_read_only_err(db, err);
    factdb_appender *a = calloc(1, sizeof *a);
    if (!a)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    a->db = db;
    a->create = true;
    int rc = store_table_build(table, cols, ncols, &a->schema, err);
    if (rc) {
        free(a);
        return rc;
    }
    /* Fail now, not after reading the whole input, when the table exists already. */
    store_txn *t;
    bool borrowed;
    store_table old;
    if (!(rc = store_txn_read_db(db, &t, &borrowed, err))) {
        rc = store_table_get(t, table, &old, NULL);
        store_txn_end(t, borrowed);
        if (rc == FACTDB_OK) {
            store_table_cleanup(&old);
            rc = base_err(err, FACTDB_TABLE_EXISTS, "table \"%s\" already exists", table);
        } else {
            rc = FACTDB_OK;
        }
    }
    if (rc) {
        store_table_cleanup(&a->schema);
        free(a);
        return rc;
    }
    return appender_init(a, out, err);
}

int factdb_appender_add_key(factdb_appender *app, const char *name, bool primary, const uint16_t *cols,
                            size_t ncols, factdb_error *err)
{
    base_err_clear(err);
    if (!app->create || app->schema.id || app->nrows || app->pending || app->loading)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "a key can only be added to a table an appender creates, "
                        "before its first row (table \"%s\")", app->schema.name);
    if (ncols < 1 || ncols > STORE_UNIQUE_COLS)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "a PRIMARY KEY or UNIQUE constraint takes 1 to %d columns, "
                        "not %zu", STORE_UNIQUE_COLS, ncols);
    for (size_t i = 0; i < ncols; i++)
        if (cols[i] >= app->schema.ncols)
            return base_err(err, FACTDB_INVALID_ARGUMENT, "a key of table \"%s\" names column %u; it has %u columns",
                            app->schema.name, cols[i], app->schema.ncols);
    if (name && (!*name || strlen(name) > FACTDB_NAME_MAX))
        return base_err(err, FACTDB_INVALID_ARGUMENT, "a constraint name takes 1 to %d bytes", FACTDB_NAME_MAX);
    /* store_table_add_unique may mark the columns NOT NULL before it fails (a taken name): undone then, so
     * that a refused key changes nothing */
    uint8_t flags[STORE_UNIQUE_COLS];
    for (size_t i = 0; i < ncols; i++)
        flags[i] = app->schema.cols[cols[i]].flags;
    int rc = store_table_add_unique(&app->schema, name, primary, cols, (int)ncols, err);
    for (size_t i = ncols; rc && i-- > 0;)
        app->schema.cols[cols[i]].flags = flags[i];
    /* a PRIMARY KEY made its columns NOT NULL: the infos the appender answers say so too */
    for (uint16_t c = 0; !rc && c < app->schema.ncols; c++)
        app->infos[c].not_null = app->schema.cols[c].flags & STORE_COL_NOT_NULL;
    return rc;
}

static int appender_init(factdb_appender *a, factdb_appender **out, factdb_error *err)
{
    int rc;
    size_t n = a->schema.ncols;
    a->infos = calloc(n, sizeof *a->infos);
    a->vals = calloc(n, sizeof *a->vals);
    a->valid = calloc(n, sizeof *a->valid);
    a->set = calloc(n, 1);
    a->dicts = calloc(n, sizeof *a->dicts);
    a->dict_next = calloc(n, sizeof *a->dict_next);
    a->dict_clean = calloc(n, 1);
    a->dict_mark = calloc(n, sizeof *a->dict_mark);
    a->dict_ix = calloc(n, sizeof *a->dict_ix);
    a->text_tmp = malloc(FACTDB_CHUNK_ROWS * sizeof *a->text_tmp);
    a->pre_bufs = calloc(n, sizeof *a->pre_bufs);
    a->pre_meta = calloc(n, sizeof *a->pre_meta);
    base_buf_init(&a->scratch, (size_t)1 << 30);
    rc = a->infos && a->vals && a->valid && a->set && a->dicts && a->dict_next && a->dict_clean && a->dict_mark &&
         a->dict_ix && a->text_tmp && a->pre_bufs && a->pre_meta ? 0 : FACTDB_NOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        a->vals[i] = malloc(FACTDB_CHUNK_ROWS * sizeof **a->vals);
        a->valid[i] = malloc(FACTDB_CHUNK_ROWS);
        if (!a->vals[i] || !a->valid[i])
            rc = FACTDB_NOMEM;
        base_buf_init(&a->dicts[i].bytes, (size_t)16 << 30);
        if (a->pre_bufs)
            base_buf_init(&a->pre_bufs[i], (size_t)1 << 30);
    }
    if (rc) {
        factdb_appender_free(a);
        return base_err(err, FACTDB_NOMEM, "out of memory creating an appender");
    }
    factdb_table_info ti;
    store_table_to_info(&a->schema, &ti, a->infos);
    *out = a;
    return FACTDB_OK;
}

size_t factdb_appender_ncols(factdb_appender *app) { return app->schema.ncols; }
const factdb_column_info *factdb_appender_column(factdb_appender *app, size_t col)
{
    return col < app->schema.ncols ? &app->infos[col] : NULL;
}
uint64_t factdb_appender_pending(factdb_appender *app) { return app->pending; }

static int check_col(factdb_appender *a, size_t col, factdb_error *err)
{
    if (col >= a->schema.ncols)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "column %zu does not exist (table \"%s\" has %u columns)",
                        col, a->schema.name, a->schema.ncols);
    return FACTDB_OK;
}

static void put(factdb_appender *a, size_t col, int64_t v)
{
    a->vals[col][a->nrows] = v;
    a->valid[col][a->nrows] = 1;
    a->set[col] = 1;
}

int factdb_append_null(factdb_appender *a, size_t col, factdb_error *err)
{
    int rc = check_col(a, col, err);
    if (rc)
        return rc;
    a->vals[col][a->nrows] = 0;
    a->valid[col][a->nrows] = 0;
    a->set[col] = 1;
    return FACTDB_OK;
}

int factdb_append_bool(factdb_appender *a, size_t col, bool v, factdb_error *err)
{
    int rc = check_col(a, col, err);
    if (rc)
        return rc;
    if (a->schema.cols[col].type != FACTDB_BOOLEAN)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "column \"%s\" is not boolean", a->schema.cols[col].name);
    put(a, col, v ? 1 : 0);
    return FACTDB_OK;
}

int factdb_append_int64(factdb_appender *a, size_t col, int64_t v, factdb_error *err)
{
    int rc = check_col(a, col, err);
    if (rc)
        return rc;
    const store_col *c = &a->schema.cols[col];
    switch (c->type) {
    case FACTDB_INTEGER:
        if (v < INT32_MIN || v > INT32_MAX)
            return base_err(err, FACTDB_INVALID_VALUE, "value %lld is out of range for integer column \"%s\"",
                            (long long)v, c->name);
        break;
    case FACTDB_DATE:
        if (!base_date_in_range(v))
            return base_err(err, FACTDB_INVALID_VALUE, "day number %lld is out of range for date column \"%s\" "
                            "(factdb supports 0001-01-01 to 9999-12-31)", (long long)v, c->name);
        break;
    case FACTDB_TIMESTAMP:
    case FACTDB_TIMESTAMPTZ:
        if (!base_ts_in_range(v))
            return base_err(err, FACTDB_INVALID_VALUE, "%lld microseconds is out of range for timestamp column \"%s\" "
                            "(factdb supports 0001-01-01 00:00:00 to 9999-12-31 23:59:59.999999)", (long long)v, c->name);
        break;
    case FACTDB_DECIMAL:
        if (v <= -base_pow10[c->precision] || v >= base_pow10[c->precision])
            return base_err(err, FACTDB_INVALID_VALUE, "value does not fit numeric(%d,%d) column \"%s\"",
                            c->precision, c->scale, c->name);
        break;
    case FACTDB_BIGINT:
        break;
    default:
        return base_err(err, FACTDB_INVALID_ARGUMENT, "column \"%s\" does not take integers", c->name);
    }
    put(a, col, v);
    return FACTDB_OK;
}

int factdb_append_double(factdb_appender *a, size_t col, double v, factdb_error *err)
{
    int rc = check_col(a, col, err);
    if (rc)
        return rc;
    if (a->schema.cols[col].type != FACTDB_DOUBLE)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "column \"%s\" is not double precision",
                        a->schema.cols[col].name);
    int64_t bits;
    if (v == 0)
        v = 0;  /* one zero: -0.0 and 0.0 compare equal and must encode alike */
    memcpy(&bits, &v, 8);
    put(a, col, bits);
    return FACTDB_OK;
}

int factdb_append_text(factdb_appender *a, size_t col, const char *s, size_t len, factdb_error *err)
{
    int rc = check_col(a, col, err);
    if (rc)
        return rc;
    const store_col *c = &a->schema.cols[col];
    if (c->type != FACTDB_TEXT)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "column \"%s\" is not text", c->name);
    if (len > FACTDB_TEXT_MAX)
        return base_err(err, FACTDB_INVALID_VALUE, "a value of %zu bytes is longer than the %u-byte limit of text column \"%s\"",
                        len, FACTDB_TEXT_MAX, c->name);
    size_t ok = base_utf8_valid_prefix((const unsigned char *)s, len);
    if (ok != len) {
        rc = base_err(err, FACTDB_INVALID_UTF8, "invalid UTF-8 byte 0x%02X at byte %zu of a value for column \"%s\"",
                      (unsigned char)s[ok], ok, c->name);
        if (err)
            err->offset = (int64_t)ok;
        return rc;
    }
    uint32_t id;
    if ((rc = local_dict_add(&a->dicts[col], s, len, &id)))
        return base_err(err, rc, "cannot buffer a value for column \"%s\": %s", c->name,
                        rc == FACTDB_LIMIT ? "too many distinct strings in one load" : "out of memory");
    put(a, col, id);
    return FACTDB_OK;
}

int factdb_parse_value(factdb_type type, int precision, int scale, const char *s, size_t len, int64_t *out,
                       factdb_error *err)
{
    const char *why = NULL;
    while (len && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    int bad = 0;
    switch (type) {
    case FACTDB_BOOLEAN: {
        uint8_t b;
        bad = base_parse_bool(s, len, &b);
        why = "expected true or false";
        *out = b;
        break;
    }
    case FACTDB_INTEGER:
        bad = base_parse_int64(s, len, out, &why);
        if (!bad && (*out < INT32_MIN || *out > INT32_MAX)) {
            bad = 1;
            why = "integer out of range for integer (32-bit); use bigint";
        }
        break;
    case FACTDB_BIGINT:
        bad = base_parse_int64(s, len, out, &why);
        break;
    case FACTDB_DOUBLE: {
        double d;
        bad = base_parse_double(s, len, &d, &why);
        if (!bad) {
            if (d == 0)
                d = 0;
            memcpy(out, &d, 8);
        }
        break;
    }
    case FACTDB_DECIMAL:
        bad = base_parse_decimal(s, len, precision, scale, out, &why);
        break;
    case FACTDB_DATE: {
        int32_t d;
        bad = base_parse_date(s, len, &d, &why);
        *out = d;
        break;
    }
    case FACTDB_TIMESTAMP:
        bad = base_parse_timestamp(s, len, out, &why);
        break;
    case FACTDB_TIMESTAMPTZ:
        bad = base_parse_timestamptz(s, len, out, NULL, &why);
        break;
    default:
        return base_err(err, FACTDB_INVALID_ARGUMENT, "text values are not parsed");
    }
    if (bad) {
        char tn[32];
        return base_err(err, FACTDB_INVALID_VALUE, "\"%.*s\" is not a valid %s: %s", (int)MIN(len, 60), s,
                        factdb_type_name(type, precision, scale, tn, sizeof tn), why);
    }
    return FACTDB_OK;
}

int factdb_append_parse(factdb_appender *a, size_t col, const char *s, size_t len, factdb_error *err)
{
    int rc = check_col(a, col, err);
    if (rc)
        return rc;
    const store_col *c = &a->schema.cols[col];
    if (c->type == FACTDB_TEXT)
        return factdb_append_text(a, col, s, len, err);
    int64_t v;
    if ((rc = factdb_parse_value((factdb_type)c->type, c->precision, c->scale, s, len, &v, err)))
        return rc;
    put(a, col, v);
    return FACTDB_OK;
}

int factdb_append_value(factdb_appender *a, size_t col, int64_t v, factdb_error *err)
{
    int rc = check_col(a, col, err);
    if (rc)
        return rc;
    if (a->schema.cols[col].type == FACTDB_TEXT)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "column \"%s\" is text: append its text",
                        a->schema.cols[col].name);
    put(a, col, v);
    return FACTDB_OK;
}

/* Marks a local id collected for the chunk being interned (never a global id: the last id is UINT32_MAX-2). */
#define GLOBAL_PENDING (UINT32_MAX - 1)

/* Maps the chunk buffer's local TEXT ids to global dictionary ids, adding the chunk's new strings to the
 * dictionary in t as one batch (ids in order of first appearance, so a chunk's ids stay close together).
 * Strings are looked up in t only when the dictionary may hold strings this commit did not add
 * (dict_clean): a load into an empty column skips a B-tree search per distinct string. */
static int intern_text(factdb_appender *a, store_txn *t, uint16_t col, factdb_error *err)
{
    local_dict *d = &a->dicts[col];
    int64_t *out = a->text_tmp;
    store_dict_item *items = NULL;
    size_t n = 0, cap = 0;
    int rc = FACTDB_OK;
    for (uint32_t r = 0; r < a->nrows; r++) {
        if (!a->valid[col][r])
            continue;
        uint32_t l = (uint32_t)a->vals[col][r];
        if (d->global[l] != UINT32_MAX)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            store_dict_item *ni = realloc(items, ncap * sizeof *ni);
            if (!ni) {
                rc = base_err(err, FACTDB_NOMEM, "out of memory interning strings");
                goto out;
            }
            items = ni, cap = ncap;
        }
        /* Only empty strings so far leave the byte buffer unallocated: NULL + 0 is undefined in C. */
        const char *str = d->bytes.data ? (const char *)d->bytes.data + d->off[l] : "";
        items[n++] = (store_dict_item){str, d->len[l], l, d->hash[l]};
        d->global[l] = GLOBAL_PENDING;
    }
    int form = store_dict_form(a->schema.cols[col].flags);
    store_dict_index **ix = &a->dict_ix[col];
    if (!a->dict_clean[col] && n) {
        /* find overwrites .id: keep the local ids aside */
        uint32_t *local = malloc(n * sizeof *local);
        if (!local) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory interning strings");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            local[i] = items[i].id;
        /* inside BEGIN ... COMMIT the transaction's entries may never commit: they need an index of their own */
        rc = form != 1 ? store_dict_find_indexed(t, a->schema.id, col, form, a->own_txn || t->fresh ? NULL : ix,
                                                 a->dict_next[col], items, n, err)
                       : store_dict_find(t, a->schema.id, col, items, n, err);
        size_t k = 0;
        for (size_t i = 0; !rc && i < n; i++) {
            if (items[i].id != UINT32_MAX) {
                d->global[local[i]] = items[i].id;
            } else {
                items[k] = items[i];
                items[k++].id = local[i];
            }
        }
        free(local);
        if (rc)
            goto out;
        n = k;
    }
    if (a->dict_next[col] > GLOBAL_PENDING || n > (size_t)(GLOBAL_PENDING - a->dict_next[col])) {
        rc = base_err(err, FACTDB_LIMIT, "the dictionary of a TEXT column is full (2^32-2 strings)");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t l = items[i].id;
        items[i].id = d->global[l] = a->dict_next[col]++;
    }
    if ((rc = store_dict_add(t, a->schema.id, col, form, items, n, err)) ||
        (*ix && (rc = store_dict_index_add(*ix, items, n, err))))
        goto out;
    a->dict_mark[col] = a->dict_next[col];
    for (uint32_t r = 0; r < a->nrows; r++)
        out[r] = a->valid[col][r] ? d->global[(uint32_t)a->vals[col][r]] : 0;
out:
    free(items);
    return rc;
}

/* Writes the buffered rows as chunk `id` in transaction t; the columns `pre` holds are encoded already. */
/* "Key (a, b)=(1, x) already exists." for buffered row r and constraint u (PostgreSQL's detail line). */
static void key_detail(const factdb_appender *a, const store_table *tab, int u, uint32_t r, char *out, size_t cap)
{
    const store_unique *c = &tab->uniq[u];
    size_t o = (size_t)snprintf(out, cap, "Key (");
    for (int i = 0; i < c->ncols && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", a->schema.cols[c->cols[i]].name);
    if (o < cap)
        o += (size_t)snprintf(out + o, cap - o, ")=(");
    for (int i = 0; i < c->ncols && o < cap; i++) {
        uint16_t col = c->cols[i];
        const store_col *sc = &a->schema.cols[col];
        int64_t v = a->vals[col][r];
        char buf[128];
        const char *txt = buf;
        size_t len;
        if (sc->type == FACTDB_TEXT) {
            const local_dict *d = &a->dicts[col];
            txt = (const char *)d->bytes.data + d->off[v];
            len = d->len[v];
        } else {
            len = factdb_format_value((factdb_type)sc->type, sc->scale, v, buf, sizeof buf);
        }
        o += (size_t)snprintf(out + o, cap - o, "%s%.*s", i ? ", " : "", (int)MIN(len, (size_t)200), txt);
    }
    if (o < cap)
        snprintf(out + o, cap - o, ") already exists.");
}

/* Claims the unique keys of the buffered rows (text already interned: `vals` holds dictionary ids) before
 * chunk `id` is written. Rows left out (ON CONFLICT) are reported and removed from the buffer. */
static int claim_keys(factdb_appender *a, store_txn *t, const store_table *tab, uint64_t id, const int64_t **vals,
                      const uint8_t **valid, bool *compacted, factdb_error *err)
{
    *compacted = false;
    store_table kt = *tab;  /* the appender's columns, the table's constraints */
    kt.cols = a->schema.cols;
    store_chunk_in in = {a->nrows, a->schema.ncols, vals, valid};
    size_t nconf = 0;
    bool skip_mode = a->conflict_mode == STORE_CONFLICT_SKIP;
    if (skip_mode && !a->skip) {
        a->skip = malloc(FACTDB_CHUNK_ROWS);
        a->conflicts = malloc(FACTDB_CHUNK_ROWS * sizeof *a->conflicts);
        if (!a->skip || !a->conflicts)
            return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    if (skip_mode)
        memset(a->skip, 0, a->nrows);
    store_conflict one;
    int rc = store_unique_claim(t, &kt, id, &in, a->conflict_mode, a->conflict_only, a->skip,
                                skip_mode ? a->conflicts : &one, &nconf, err);
    if (rc == FACTDB_UNIQUE_VIOLATION) {
        store_conflict *c = skip_mode ? &a->conflicts[0] : &one;
        char detail[600];
        key_detail(a, &kt, c->u, c->row, detail, sizeof detail);
        base_err(err, rc, "duplicate key value violates unique constraint \"%s\"; %s Nothing was written: leave "
                 "out or change the duplicate row (row %llu)", tab->uniq[c->u].name, detail,
                 (unsigned long long)(a->row_base + c->row + 1));
        err->line = (int64_t)(a->row_base + c->row + 1);
        return rc;
    }
    for (size_t i = 0; !rc && i < nconf; i++)
        if (a->on_conflict)
            rc = a->on_conflict(a->conflict_ctx, a->row_base + a->conflicts[i].row, &a->conflicts[i], err);
    a->row_base += a->nrows;
    if (rc || !nconf)
        return rc;
    /* leave the skipped rows out of every column, then point the keys at the rows' final places */
    uint32_t w = 0;
    for (uint32_t r = 0; r < a->nrows; r++) {
        if (a->skip[r])
            continue;
        for (uint16_t c = 0; c < a->schema.ncols; c++) {
            ((int64_t *)vals[c])[w] = vals[c][r];
            a->valid[c][w] = a->valid[c][r];
            if (vals[c] != a->vals[c])
                a->vals[c][w] = a->vals[c][r];
        }
        w++;
    }
    a->nrows = w;
    in.rows = w;
    *compacted = true;
    return store_unique_place(t, &kt, id, &in, err);
}

static int write_buffer(factdb_appender *a, store_txn *t, const store_table *tab, uint64_t id,
                        const store_chunk_pre *pre, uint64_t *bytes, factdb_error *err)
{
    const int64_t *vals[FACTDB_MAX_COLUMNS];
    const uint8_t *valid[FACTDB_MAX_COLUMNS];
    int64_t *texts[FACTDB_MAX_COLUMNS] = {0};
    int rc = FACTDB_OK;
    for (uint16_t c = 0; c < a->schema.ncols; c++) {
        vals[c] = a->vals[c];
        valid[c] = a->valid[c];
        if (a->schema.cols[c].type == FACTDB_TEXT) {
            if ((rc = intern_text(a, t, c, err)))
                goto out;
            texts[c] = malloc(a->nrows * sizeof(int64_t) + 8);
            if (!texts[c]) {
                rc = base_err(err, FACTDB_NOMEM, "out of memory");
                goto out;
            }
            memcpy(texts[c], a->text_tmp, a->nrows * sizeof(int64_t));
            vals[c] = texts[c];
        }
    }
    bool compacted = false;
    if (tab->nuniq && (rc = claim_keys(a, t, tab, id, vals, valid, &compacted, err)))
        goto out;
    store_chunk_in in = {a->nrows, a->schema.ncols, vals, valid};
    /* Write with the appender's schema: a table that gained columns since reads them as NULL here. */
    store_table wt = *tab;
    wt.cols = a->schema.cols;
    /* rows left out: the columns encoded before the gate no longer match */
    rc = !a->nrows ? FACTDB_OK : store_chunk_put_pre(t, &wt, id, &in, &a->scratch, compacted ? NULL : pre, bytes, err);
out:
    for (uint16_t c = 0; c < a->schema.ncols; c++)
        free(texts[c]);
    return rc;
}

/* Reads the current record of the appender's table inside t; checks it is still the same table. For an
 * appender that creates its table, the first call writes the table record in t (named at once unless
 * `unnamed`: a load names it when it publishes). */
static int fresh_table(factdb_appender *a, store_txn *t, store_table *tab, bool unnamed, factdb_error *err)
{
    if (a->create && a->schema.id == 0) {
        int rc = store_table_insert(t, &a->schema, !unnamed, err);
        if (!rc && store_table_copy(tab, &a->schema))
            rc = base_err(err, FACTDB_NOMEM, "out of memory");
        return rc;
    }
    int rc = store_table_get_id(t, a->schema.id, tab, err);
    if (rc == FACTDB_NO_TABLE)
        return base_err(err, FACTDB_NO_TABLE, "table \"%s\" was dropped by another process; nothing was stored",
                        a->schema.name);
    return rc;
}

static void reset_buffer(factdb_appender *a)
{
    a->nrows = 0;
    memset(a->set, 0, a->schema.ncols);
}

static void reset_all(factdb_appender *a)
{
    reset_buffer(a);
    for (uint16_t c = 0; a->dict_ix && c < a->schema.ncols; c++) {
        store_dict_index_free(a->dict_ix[c]);
        a->dict_ix[c] = NULL;
    }
    if (a->create)
        a->schema.id = 0;  /* the transaction that assigned it did not commit, or was reclaimed */
    a->pending = 0;
    for (uint16_t c = 0; c < a->schema.ncols; c++)
        if (a->dicts[c].n)
            local_dict_clear(&a->dicts[c]);
}

/* Abandons a load. Its chunks are removed now when the gate comes within a second (or the busy timeout
 * if shorter); otherwise the next writer reclaims them once the load's lock byte is free. */
static void abort_load(factdb_appender *a)
{
    if (!a->loading)
        return;
    a->loading = false;
    if (a->xact) {
        /* chunks written into an explicit transaction vanish with it; the session rolls it back */
        a->xact = NULL;
        return;
    }
    store_env *env = a->db->env;
    store_txn *t;
    factdb_error e;
    /* Not store_write: this waits at most a second more for the gate (the caller is failing already, and
     * the next writer cleans up anyway), and a failure here is no error of the caller's. */
    int ms = a->db->busy_timeout_ms < 0 || a->db->busy_timeout_ms > 1000 ? 1000 : a->db->busy_timeout_ms;
    if (store_gate_acquire(env, ms, &e) == FACTDB_OK) {
        if (store_txn_write(env, false, &t, &e) == FACTDB_OK) {
            if (store_load_discard(t, &a->mark, &e) == FACTDB_OK)
                store_txn_commit(t, &e);
            else
                store_txn_abort(t);
        }
        store_gate_release(env);
    }
    store_load_release(env, a->mark.id);
}

/* Dictionary ids continue from the table's current record: other writers may have added strings since a
 * load's last chunk. The commit's `first` chunk finds the dictionary clean when it is empty; a later one
 * when nobody added strings since the commit's own last ones. */
static void dict_refresh(factdb_appender *a, const store_table *tab, bool first)
{
    for (uint16_t c = 0; c < a->schema.ncols; c++) {
        uint32_t n = tab->cols[c].dict_count;
        a->dict_clean[c] = first ? n == 0 : a->dict_clean[c] && n == a->dict_mark[c];
        a->dict_next[c] = a->dict_mark[c] = n;
    }
}

/* A commit inside one transaction starts from the table's current record: where its chunks go and its
 * dictionary ids begin. */
static void load_begin(factdb_appender *a, const store_table *tab)
{
    a->next_chunk = tab->next_chunk;
    a->load_rows = a->load_chunks = a->load_bytes = 0;
    dict_refresh(a, tab, true);
}

/* Writes the buffered rows as the load's next chunk in t. A load of its own transactions writes inside
 * its reserved range only. */
static int write_chunk(factdb_appender *a, store_txn *t, const store_table *tab, const store_chunk_pre *pre,
                       factdb_error *err)
{
    if (a->loading && !a->xact && a->next_chunk >= a->mark.end)
        return base_err(err, FACTDB_LIMIT, "a load into table \"%s\" may write at most %llu chunks (%llu rows); "
                        "split the input", a->schema.name, (unsigned long long)STORE_LOAD_SPAN,
                        (unsigned long long)STORE_LOAD_SPAN * FACTDB_CHUNK_ROWS);
    uint64_t bytes = 0;
    int rc = write_buffer(a, t, tab, a->next_chunk, pre, &bytes, err);
    if (rc || !a->nrows)
        return rc;  /* every row was left out (ON CONFLICT): no chunk */
    a->next_chunk++;
    a->load_rows += a->nrows;
    a->load_chunks++;
    a->load_bytes += bytes;
    return FACTDB_OK;
}

/* Makes the commit's chunks part of the table in t: the last partial chunk, the counters, the dictionary
 * sizes, a merge of small trailing chunks. A load in its own transactions (`ranged`) already moved
 * next_chunk past its range when it started. */
static int publish(factdb_appender *a, store_txn *t, store_table *tab, bool ranged, factdb_error *err)
{
    int rc;
    if (a->nrows && (rc = write_chunk(a, t, tab, NULL, err)))
        return rc;
    if (!ranged)
        tab->next_chunk = a->next_chunk;
    tab->rows += a->load_rows;
    tab->chunks += a->load_chunks;
    tab->bytes += a->load_bytes;
    for (uint16_t c = 0; c < a->schema.ncols; c++)
        if (a->schema.cols[c].type == FACTDB_TEXT)
            tab->cols[c].dict_count = a->dict_next[c];
    if ((rc = store_chunk_merge_tail(t, tab, err)))
        return rc;
    return store_table_put(t, tab, err);
}


/* One chunk of a load in its own short transaction under the gate: the first one starts the load (its
 * mark, its reserved range, the unnamed table of `load --create`). The chunk's new dictionary strings
 * are published with it (the table record's counts move), so concurrent writers never reuse their ids;
 * its rows stay hidden in the load's range until the publishing transaction. */
static int load_chunk_apply(store_txn *t, void *ctx, factdb_error *err)
{
    factdb_appender *a = ctx;
    store_chunk_pre pre = {a->pre_bufs, a->pre_meta};
    store_table tab = {0};
    bool first = !a->loading;
    int rc;
    if (first) {
        if ((rc = fresh_table(a, t, &tab, true, err)) || (rc = store_load_start(t, &tab, a->create, &a->mark, err)))
            goto out;
        a->loading = true;
        a->next_chunk = a->mark.first;
        a->load_rows = a->load_chunks = a->load_bytes = 0;
    } else if ((rc = fresh_table(a, t, &tab, false, err)) || (rc = store_load_present(t, &a->mark, err))) {
        goto out;
    }
    dict_refresh(a, &tab, first);
    if ((rc = write_chunk(a, t, &tab, &pre, err)))
        goto out;
    bool grew = first;
    for (uint16_t c = 0; c < a->schema.ncols; c++)
        if (a->schema.cols[c].type == FACTDB_TEXT && tab.cols[c].dict_count != a->dict_next[c]) {
            tab.cols[c].dict_count = a->dict_next[c];
            grew = true;
        }
    if (grew)
        rc = store_table_put(t, &tab, err);
out:
    store_table_cleanup(&tab);
    return rc;
}

/* Runs apply in a write transaction of the appender's own (never inside BEGIN ... COMMIT: the callers
 * checked that there is none). */
static int own_write(factdb_appender *a, int (*apply)(store_txn *t, void *ctx, factdb_error *err),
                     factdb_error *err)
{
    a->own_txn = true;
    int rc = store_write(a->db, apply, a, err);
    a->own_txn = false;
    return rc;
}

static int flush_load_chunk(factdb_appender *a, factdb_error *err)
{
    /* Encoding is most of a chunk's work: do what needs no transaction (every column but TEXT, whose
     * dictionary ids come from the transaction) before taking the gate. Measured on a 10-column table
     * with 5 text columns: the gate is held 3x shorter. */
    const int64_t *vals[FACTDB_MAX_COLUMNS];
    const uint8_t *valid[FACTDB_MAX_COLUMNS];
    for (uint16_t c = 0; c < a->schema.ncols; c++)
        vals[c] = a->vals[c], valid[c] = a->valid[c];
    store_chunk_in in = {a->nrows, a->schema.ncols, vals, valid};
    int rc = FACTDB_OK;
    for (uint16_t c = 0; !rc && c < a->schema.ncols; c++) {
        a->pre_meta[c].present = 0;
        if (a->schema.cols[c].type != FACTDB_TEXT)
            rc = store_chunk_encode(&a->schema, &in, c, &a->pre_bufs[c], &a->pre_meta[c], err);
    }
    return rc ? rc : own_write(a, load_chunk_apply, err);
}

/* A full chunk is written at once: in its own short transaction under the write gate (a load), or into
 * the thread's explicit transaction. */
static int flush_full_chunk(factdb_appender *a, factdb_error *err)
{
    int rc;
    store_txn *x = store_xact_current(a->db);
    store_table tab = {0};
    if (x) {
        if ((rc = fresh_table(a, x, &tab, false, err)))
            goto fail;
        if (!a->loading) {
            a->loading = true;
            a->xact = x;
            load_begin(a, &tab);
        }
        if ((rc = write_chunk(a, x, &tab, NULL, err)))
            goto fail;
    } else if ((rc = flush_load_chunk(a, err))) {
        goto fail;
    }
    reset_buffer(a);
    store_table_cleanup(&tab);
    return FACTDB_OK;
fail:
    store_table_cleanup(&tab);
    abort_load(a);
    reset_all(a);
    return rc;
}

int factdb_append_row_end(factdb_appender *a, factdb_error *err)
{
    for (uint16_t c = 0; c < a->schema.ncols; c++) {
        if (!a->set[c]) {
            a->vals[c][a->nrows] = 0;
            a->valid[c][a->nrows] = 0;
        }
        if ((a->schema.cols[c].flags & STORE_COL_NOT_NULL) && !a->valid[c][a->nrows]) {
            memset(a->set, 0, a->schema.ncols);
            return base_err(err, FACTDB_NOT_NULL, "column \"%s\" is NOT NULL but the row gives it no value",
                            a->schema.cols[c].name);
        }
    }
    memset(a->set, 0, a->schema.ncols);
    a->nrows++;
    a->pending++;
    if (a->nrows == FACTDB_CHUNK_ROWS)
        return flush_full_chunk(a, err);
    return FACTDB_OK;
}

/* Publishes a load of its own transactions in one small transaction: its last partial chunk, its mark
 * deleted, the table's counts, and for `load --create` the table's name. */
static int publish_load_apply(store_txn *t, void *ctx, factdb_error *err)
{
    factdb_appender *a = ctx;
    store_table tab = {0};
    int rc;
    if ((rc = fresh_table(a, t, &tab, false, err)) || (rc = store_load_publish(t, &a->mark, err)))
        goto out;
    dict_refresh(a, &tab, false);
    if ((rc = publish(a, t, &tab, true, err)))
        goto out;
    /* A load that creates its table names it now, with its rows: before this, nobody could see it. */
    if (a->create && (rc = store_table_name(t, &tab, err)) == FACTDB_TABLE_EXISTS)
        rc = base_err(err, FACTDB_TABLE_EXISTS, "table \"%s\" was created by another process while this load ran; "
                      "nothing was loaded", a->schema.name);
out:
    store_table_cleanup(&tab);
    return rc;
}

static int publish_load(factdb_appender *a, factdb_error *err)
{
    int rc = own_write(a, publish_load_apply, err);
    if (!rc) {
        a->loading = false;
        store_load_release(a->db->env, a->mark.id);
    }
    return rc;
}

/* Less than a chunk, outside BEGIN ... COMMIT: one transaction. */
static int commit_small_apply(store_txn *t, void *ctx, factdb_error *err)
{
    factdb_appender *a = ctx;
    store_table tab = {0};
    int rc = fresh_table(a, t, &tab, false, err);
    if (!rc) {
        load_begin(a, &tab);
        rc = publish(a, t, &tab, false, err);
    }
    store_table_cleanup(&tab);
    return rc;
}

int factdb_appender_commit(factdb_appender *a, factdb_error *err)
{
    base_err_clear(err);
    if (!a->loading && a->nrows == 0 && !a->create)
        return FACTDB_OK;
    int rc;
    store_table tab = {0};
    store_txn *x = a->loading ? a->xact : store_xact_current(a->db);
    if (x) {
        /* inside BEGIN ... COMMIT: publish into the transaction; its COMMIT makes it durable */
        if (!(rc = fresh_table(a, x, &tab, false, err))) {
            if (!a->loading)
                load_begin(a, &tab);
            rc = publish(a, x, &tab, false, err);
        }
        a->loading = false;
        a->xact = NULL;
        if (!rc)
            a->create = false;  /* created inside the transaction: it commits or rolls back with it */
        store_table_cleanup(&tab);
        reset_all(a);
        return rc;
    }
    if (a->loading) {
        if ((rc = publish_load(a, err)))
            abort_load(a);
        else
            a->create = false;
        reset_all(a);
        return rc;
    }
    if (!(rc = own_write(a, commit_small_apply, err)))
        a->create = false;
    reset_all(a);
    return rc;
}

void factdb_appender_rollback(factdb_appender *a)
{
    abort_load(a);
    reset_all(a);
}

void factdb_appender_free(factdb_appender *a)
{
    if (!a)
        return;
    if (a->vals)
        factdb_appender_rollback(a);
    for (uint16_t c = 0; c < a->schema.ncols; c++) {
        if (a->vals)
            free(a->vals[c]);
        if (a->valid)
            free(a->valid[c]);
        if (a->dicts)
            local_dict_clear(&a->dicts[c]), base_buf_cleanup(&a->dicts[c].bytes);
        if (a->pre_bufs)
            base_buf_cleanup(&a->pre_bufs[c]);
        if (a->dict_ix)
            store_dict_index_free(a->dict_ix[c]);
    }
    free(a->pre_bufs);
    free(a->pre_meta);
    free(a->vals);
    free(a->valid);
    free(a->set);
    free(a->dicts);
    free(a->dict_next);
    free(a->dict_clean);
    free(a->dict_mark);
    free(a->dict_ix);
    free(a->text_tmp);
    free(a->infos);
    free(a->skip);
    free(a->conflicts);
    base_buf_cleanup(&a->scratch);
    store_table_cleanup(&a->schema);
    free(a);
}

void store_appender_on_conflict(factdb_appender *a, store_conflict_mode mode, int only,
                                int (*fn)(void *ctx, uint64_t row, const store_conflict *c, factdb_error *err),
                                void *ctx)
{
    a->conflict_mode = mode;
    a->conflict_only = only;
    a->on_conflict = fn;
    a->conflict_ctx = ctx;
}

const store_table *store_appender_table(const factdb_appender *a) { return &a->schema; }

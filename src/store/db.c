/* db.c: the public handle and catalog functions of factdb.h, on top of the store layer. */
#include "store_int.h"
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

int factdb_open(const char *path, const factdb_options *opts, factdb **out, factdb_error *err)
{
    base_err_clear(err);
    *out = NULL;
    if (!path || !*path)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "no database path given");
    factdb *db = calloc(1, sizeof *db);
    if (!db)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    db->busy_timeout_ms = opts && opts->busy_timeout_ms >= 0 ? opts->busy_timeout_ms : 10000;
    unsigned flags = opts ? opts->flags : 0;
    if (opts && opts->read_only)
        flags |= FACTDB_OPEN_READ_ONLY;
    db->read_only = flags & FACTDB_OPEN_READ_ONLY;
    const char *why;
    int rc = store_env_open(path, flags, db->busy_timeout_ms, &db->env, &why, err);
    if (rc) {
        free(db);
        return rc;
    }
    if (why) {
        db->read_only = true;
        db->ro_why = why;
    } else if (db->read_only) {
        db->ro_why = "opened read-only";
    }
    *out = db;
    return FACTDB_OK;
}

void factdb_close(factdb *db)
{
    if (!db)
        return;
    store_env_release(db->env);
    free(db);
}

uint64_t factdb_data_version(factdb *db) { return store_env_data_version(db->env); }

const char *factdb_read_only_reason(factdb *db) { return db->read_only ? db->ro_why : NULL; }

/* The catalog operations below take their argument as const; store_write's ctx is not. */
typedef struct write_op_arg {
    int (*fn)(store_txn *t, const void *arg, factdb_error *err);
    const void *arg;
} write_op_arg;

static int write_op_apply(store_txn *t, void *ctx, factdb_error *err)
{
    write_op_arg *w = ctx;
    return w->fn(t, w->arg, err);
}

static int write_op(factdb *db, int (*fn)(store_txn *t, const void *arg, factdb_error *err), const void *arg,
                    factdb_error *err)
{
    write_op_arg w = {fn, arg};
    return store_write(db, write_op_apply, &w, err);
}

typedef struct create_arg {
    const char *name;
    const factdb_column_def *cols;
    size_t ncols;
} create_arg;

static int do_create(store_txn *t, const void *arg, factdb_error *err)
{
    const create_arg *a = arg;
    return store_table_create(t, a->name, a->cols, a->ncols, err);
}

int factdb_create_table(factdb *db, const char *name, const factdb_column_def *cols, size_t ncols,
                        factdb_error *err)
{
    base_err_clear(err);
    create_arg a = {name, cols, ncols};
    return write_op(db, do_create, &a, err);
}

static int do_drop(store_txn *t, const void *arg, factdb_error *err) { return store_table_drop(t, arg, err); }
static int do_truncate(store_txn *t, const void *arg, factdb_error *err)
{
    return store_table_truncate(t, arg, err);
}

int factdb_drop_table(factdb *db, const char *name, factdb_error *err)
{
    base_err_clear(err);
    return write_op(db, do_drop, name, err);
}

int factdb_truncate_table(factdb *db, const char *name, factdb_error *err)
{
    base_err_clear(err);
    return write_op(db, do_truncate, name, err);
}

static int info_from_table(const store_table *tab, factdb_table_info *out)
{
    factdb_column_info *cols = calloc(tab->ncols ? tab->ncols : 1, sizeof *cols);
    if (!cols)
        return FACTDB_NOMEM;
    store_table_to_info(tab, out, cols);
    return FACTDB_OK;
}

int factdb_table_info_get(factdb *db, const char *name, factdb_table_info *out, factdb_error *err)
{
    base_err_clear(err);
    memset(out, 0, sizeof *out);
    store_txn *t;
    bool borrowed;
    int rc = store_txn_read_db(db, &t, &borrowed, err);
    if (rc)
        return rc;
    store_table tab;
    rc = store_table_get(t, name, &tab, err);
    store_txn_end(t, borrowed);
    if (rc)
        return rc;
    if (info_from_table(&tab, out))
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
    store_table_cleanup(&tab);
    return rc;
}

void factdb_table_info_free(factdb_table_info *info)
{
    if (info) {
        free(info->cols);
        info->cols = NULL;
    }
}

typedef struct list_ctx {
    factdb_table_info *list;
    size_t n, cap;
} list_ctx;

static int add_table(void *ctx, const store_table *tab)
{
    list_ctx *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        factdb_table_info *nl = realloc(l->list, cap * sizeof *nl);
        if (!nl)
            return FACTDB_NOMEM;
        l->list = nl;
        l->cap = cap;
    }
    if (info_from_table(tab, &l->list[l->n]))
        return FACTDB_NOMEM;
    l->n++;
    return FACTDB_OK;
}

int factdb_table_list(factdb *db, factdb_table_info **out, size_t *n, factdb_error *err)
{
    base_err_clear(err);
    *out = NULL;
    *n = 0;
    store_txn *t;
    bool borrowed;
    int rc = store_txn_read_db(db, &t, &borrowed, err);
    if (rc)
        return rc;
    list_ctx l = {0};
    rc = store_table_each(t, add_table, &l, err);
    store_txn_end(t, borrowed);
    if (rc) {
        if (rc == FACTDB_NOMEM)
            base_err(err, rc, "out of memory listing tables");
        factdb_table_list_free(l.list, l.n);
        return rc;
    }
    *out = l.list;
    *n = l.n;
    return FACTDB_OK;
}

void factdb_table_list_free(factdb_table_info *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i].cols);
    free(list);
}

int factdb_db_info_get(factdb *db, factdb_db_info *out, factdb_error *err)
{
    base_err_clear(err);
    return store_env_info(db->env, out, err);
}

typedef struct add_arg {
    const char *table;
    const factdb_column_def *def;
} add_arg;

static int do_add_column(store_txn *t, const void *arg, factdb_error *err)
{
    const add_arg *a = arg;
    store_table tab;
    int rc = store_table_get(t, a->table, &tab, err);
    if (rc)
        return rc;
    /* validate the definition the way CREATE TABLE does, on a one-column scratch table */
    for (uint16_t i = 0; i < tab.ncols && !rc; i++)
        if (!strcmp(tab.cols[i].name, a->def->name))
            rc = base_err(err, FACTDB_INVALID_ARGUMENT, "column \"%s\" of table \"%s\" already exists", a->def->name,
                          a->table);
    if (!rc && tab.ncols >= FACTDB_MAX_COLUMNS)
        rc = base_err(err, FACTDB_INVALID_ARGUMENT, "table \"%s\" already has %d columns", a->table, FACTDB_MAX_COLUMNS);
    if (!rc && a->def->not_null && tab.rows)
        rc = base_err(err, FACTDB_NOT_NULL, "column \"%s\" of table \"%s\" would contain NULL values (the table has "
                                            "rows); add it without NOT NULL",
                      a->def->name, a->table);
    if (!rc) {
        const factdb_column_def *d = a->def;
        if (d->type < FACTDB_BOOLEAN || d->type > FACTDB_TIMESTAMPTZ ||
            (d->type == FACTDB_DECIMAL && (d->precision < 1 || d->precision > 18 || d->scale < 0 || d->scale > d->precision)))
            rc = base_err(err, FACTDB_INVALID_ARGUMENT, "column \"%s\" has an unsupported type", d->name);
        size_t len = d->name ? strlen(d->name) : 0;
        if (!rc && (len == 0 || len > FACTDB_NAME_MAX))
            rc = base_err(err, FACTDB_INVALID_ARGUMENT, "column name must be 1 to %d bytes", FACTDB_NAME_MAX);
    }
    if (!rc) {
        store_col *cols = realloc(tab.cols, (size_t)(tab.ncols + 1) * sizeof *cols);
        if (!cols) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory");
        } else {
            tab.cols = cols;
            store_col *c = &cols[tab.ncols];
            memset(c, 0, sizeof *c);
            snprintf(c->name, sizeof c->name, "%s", a->def->name);
            c->type = (uint8_t)a->def->type;
            c->precision = (uint8_t)(a->def->type == FACTDB_DECIMAL ? a->def->precision : 0);
            c->scale = (uint8_t)(a->def->type == FACTDB_DECIMAL ? a->def->scale : 0);
            c->flags = (a->def->not_null ? STORE_COL_NOT_NULL : 0) |
                       (a->def->type == FACTDB_TEXT ? STORE_COL_DICT_BLOCKS : 0);
            tab.ncols++;
            rc = store_table_put(t, &tab, err);
        }
    }
    store_table_cleanup(&tab);
    return rc;
}

int factdb_add_column(factdb *db, const char *table, const factdb_column_def *def, factdb_error *err)
{
    base_err_clear(err);
    add_arg a = {table, def};
    return write_op(db, do_add_column, &a, err);
}

struct factdb_txn {
    factdb *db;
    store_txn *t;
};

int factdb_txn_begin(factdb *db, factdb_txn **out, factdb_error *err)
{
    base_err_clear(err);
    *out = NULL;
    if (store_xact_current(db))
        return base_err(err, FACTDB_INVALID_ARGUMENT, "this thread already has a transaction open on the database");
    factdb_txn *x = calloc(1, sizeof *x);
    if (!x)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    int rc = store_xact_begin(db, &x->t, err);
    if (rc) {
        free(x);
        return rc;
    }
    x->db = db;
    store_xact_bind(db, x->t);
    *out = x;
    return FACTDB_OK;
}

int factdb_txn_commit(factdb_txn *x, factdb_error *err)
{
    base_err_clear(err);
    int rc = store_xact_commit(x->db, x->t, err);
    store_xact_bind(x->db, NULL);
    free(x);
    return rc;
}

void factdb_txn_rollback(factdb_txn *x)
{
    if (!x)
        return;
    store_xact_rollback(x->db, x->t);
    store_xact_bind(x->db, NULL);
    free(x);
}

bool factdb_addr_in_map(const void *addr, uint64_t *offset, int64_t *file_bytes)
{
    int fd;
    uint64_t off;
    if (!store_addr_in_map(addr, &fd, &off))
        return false;
    struct stat st;
    if (offset)
        *offset = off;
    if (file_bytes)
        *file_bytes = fstat(fd, &st) == 0 ? (int64_t)st.st_size : -1;
    return true;
}

/* backend_embedded.c: the backend of `factdb serve` on a database file (the embedded engine, through the
 * public API only). Statements run in one factdb_session per request; results stream through
 * factdb_writer; inserts are group-committed in one factdb_txn, a request that fails while appended being
 * taken out and the batch retried without it. */
#include "backend.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_backend {
    factdb *db;
    char name[256];  /* the file's base name */
};

struct http_result {
    factdb_result *r;
    factdb_writer *w;
};

static void emb_close(http_backend *b)
{
    factdb_close(b->db);
    free(b);
}

static const char *emb_name(http_backend *b) { return b->name; }

static const char *emb_read_only_reason(http_backend *b) { return factdb_read_only_reason(b->db); }

static int emb_data_version(http_backend *b, uint64_t *out, factdb_error *err)
{
    (void)err;
    *out = factdb_data_version(b->db);
    return 0;
}

static void emb_tables_free(http_backend *b, http_table *list, size_t n)
{
    (void)b;
    for (size_t i = 0; list && i < n; i++) {
        factdb_table_info_free(&list[i].info);
        free(list[i].types);
        free(list[i].has_default);
    }
    free(list);
}

/* Moves the infos[0..n) into a new list of http_table with their type names; frees `infos`' array. */
static int to_tables(factdb_table_info *infos, size_t n, http_table **out, factdb_error *err)
{
    http_table *t = calloc(n ? n : 1, sizeof *t);
    if (!t) {
        factdb_table_list_free(infos, n);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        t[i].info = infos[i];
        t[i].row_count_known = true;
        t[i].types = calloc(infos[i].ncols ? infos[i].ncols : 1, sizeof *t[i].types);
        if (!t[i].types) {
            for (size_t j = i + 1; j < n; j++)
                factdb_table_info_free(&infos[j]);
            free(infos);
            emb_tables_free(NULL, t, i + 1);
            return base_err(err, FACTDB_NOMEM, "out of memory");
        }
        for (size_t k = 0; k < infos[i].ncols; k++) {
            const factdb_column_info *ci = &infos[i].cols[k];
            factdb_type_name(ci->type, ci->precision, ci->scale, t[i].types[k], sizeof t[i].types[k]);
        }
    }
    free(infos);
    *out = t;
    return 0;
}

static int emb_tables(http_backend *b, http_table **out, size_t *n, factdb_error *err)
{
    factdb_table_info *list;
    int rc = factdb_table_list(b->db, &list, n, err);
    return rc ? rc : to_tables(list, *n, out, err);
}

static int emb_table(http_backend *b, const char *name, http_table **out, factdb_error *err)
{
    factdb_table_info *ti = calloc(1, sizeof *ti);
    if (!ti)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    int rc = factdb_table_info_get(b->db, name, ti, err);
    if (rc) {
        free(ti);
        return rc;
    }
    return to_tables(ti, 1, out, err);
}

static int emb_sql_writes(http_backend *b, const char *text, size_t len, bool *writes, factdb_error *err)
{
    (void)b;
    return factdb_sql_writes(text, len, writes, err);
}

static void cancel_session(void *arg) { factdb_session_cancel(arg); }

static int emb_sql(http_backend *b, const http_sql *q, http_sql_out *out, factdb_error *err)
{
    memset(out, 0, sizeof *out);
    factdb_session *sess;
    int rc = factdb_session_new(b->db, &sess, err);
    if (rc)
        return rc;
    factdb_session_set_memory_limit(sess, q->memory);
    if (q->threads > 0)
        factdb_session_set_threads(sess, q->threads);
    factdb_session_set_file_access(sess, q->file_access);
    http_watch_set(q->watch, cancel_session, sess);
    /* run every statement; answer with the last one that returns rows (or the last one) */
    factdb_result *last = NULL;
    size_t at = 0;
    while (at < q->len) {
        /* each statement clears the session's cancel flag when it starts, so a timeout that fired
           between two statements must stop the loop here */
        if (http_watch_fired(q->watch)) {
            rc = base_err(err, FACTDB_INTERNAL, "canceled");
            break;
        }
        size_t used;
        factdb_result *r = NULL;
        rc = factdb_session_exec(sess, q->text + at, q->len - at, q->params, q->nparams, &used, &r, err);
        if (rc) {
            if (err->position)
                err->position += (int64_t)at;
            break;
        }
        if (r && (!last || factdb_result_has_rows(r) || !factdb_result_has_rows(last))) {
            factdb_result_free(last);
            last = r;
        } else {
            factdb_result_free(r);
        }
        if (!used)
            break;
        at += used;
    }
    http_watch_set(q->watch, NULL, NULL);
    factdb_session_free(sess);  /* a BEGIN left open by the request is rolled back */
    if (rc) {
        factdb_result_free(last);
        return rc;
    }
    if (!last)
        return 0;
    http_result *hr = calloc(1, sizeof *hr);
    if (!hr) {
        factdb_result_free(last);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    hr->r = last;
    out->result = hr;
    out->nrows = factdb_result_nrows(last);
    out->has_rows = factdb_result_has_rows(last);
    snprintf(out->tag, sizeof out->tag, "%s", factdb_result_tag(last));
    out->data_version = factdb_result_data_version(last);
    return 0;
}

static int emb_result_open(http_result *r, bool csv, const char *extra, factdb_error *err)
{
    return factdb_writer_new(r->r, csv ? FACTDB_FORMAT_CSV : FACTDB_FORMAT_JSON, extra, &r->w, err);
}

static size_t emb_result_read(http_result *r, char *buf, size_t cap) { return factdb_writer_read(r->w, buf, cap); }

static void emb_result_free(http_result *r)
{
    if (!r)
        return;
    factdb_writer_free(r->w);
    factdb_result_free(r->r);
    free(r);
}

/* ---- the group commit ---- */
static int append_req(factdb_appender *app, ins_req *r, factdb_error *err)
{
    size_t nc = MIN(r->ncols, factdb_appender_ncols(app));
    for (size_t row = 0; row < r->nrows; row++) {
        const http_cell *c = r->cells + row * r->ncols;
        for (size_t k = 0; k < nc; k++) {
            int rc = 0;
            switch (c[k].kind) {
            case HTTP_CELL_NULL:
            case HTTP_CELL_ABSENT: rc = factdb_append_null(app, k, err); break;  /* factdb has no defaults */
            case HTTP_CELL_INT: rc = factdb_append_int64(app, k, c[k].i, err); break;
            case HTTP_CELL_DOUBLE: rc = factdb_append_double(app, k, c[k].d, err); break;
            case HTTP_CELL_BOOL: rc = factdb_append_bool(app, k, c[k].i != 0, err); break;
            default:
                /* a request whose text values are all empty never allocated r->text: no NULL + 0 */
                rc = factdb_append_text(app, k, c[k].len ? (const char *)r->text.data + c[k].off : "", c[k].len,
                                        err);
                break;
            }
            if (rc) {
                err->line = (int64_t)row + 1;
                return rc;
            }
        }
        int rc = factdb_append_row_end(app, err);
        if (rc) {
            err->line = (int64_t)row + 1;
            return rc;
        }
    }
    return 0;
}

static void fail_rest(ins_req *batch, int rc, const factdb_error *err)
{
    for (ins_req *r = batch; r; r = r->next)
        if (!r->rc) {
            r->rc = rc;
            r->err = *err;
        }
}

/* Writes the requests of `batch` that have not failed in one transaction. A request that fails while
 * appended (its table changed after it was checked) is taken out and the rest retried.
 * This is the one writer that does not go through store_write: src/http sees only the public API, and the
 * group commit is an explicit factdb_txn (BEGIN ... COMMIT from C, the same store_xact_* path store_write
 * takes) because it is decided request by request: one failing request is rolled back and the batch
 * retried without it, and one transaction holds the appenders of several tables. */
static uint64_t emb_commit_batch(http_backend *b, ins_req *batch)
{
    for (;;) {
        factdb_txn *txn;
        factdb_error err;
        int rc = factdb_txn_begin(b->db, &txn, &err);
        if (rc) {
            fail_rest(batch, rc, &err);
            return 0;
        }
        ins_req *bad = NULL;
        uint64_t rows = 0;
        /* one appender per table, in the order the tables first appear */
        for (ins_req *r = batch; r && !rc; r = r->next) {
            if (r->rc)
                continue;
            bool seen = false;
            for (ins_req *q = batch; q != r; q = q->next)
                seen |= !q->rc && !strcmp(q->table, r->table);
            if (seen)
                continue;
            factdb_appender *app;
            if ((rc = factdb_appender_new(b->db, r->table, &app, &err))) {
                bad = r;
                break;
            }
            for (ins_req *q = r; q && !rc; q = q->next) {
                if (q->rc || strcmp(q->table, r->table))
                    continue;
                if ((rc = append_req(app, q, &err)))
                    bad = q;
                else
                    rows += q->nrows;
            }
            if (!rc && (rc = factdb_appender_commit(app, &err)))
                bad = NULL;  /* the commit itself failed: every request of the batch gets the error */
            factdb_appender_free(app);
        }
        if (rc) {
            factdb_txn_rollback(txn);
            if (bad) {
                bad->rc = rc;
                bad->err = err;
                continue;
            }
            fail_rest(batch, rc, &err);
            return 0;
        }
        if ((rc = factdb_txn_commit(txn, &err))) {
            fail_rest(batch, rc, &err);
            return 0;
        }
        uint64_t v = factdb_data_version(b->db);
        for (ins_req *r = batch; r; r = r->next)
            if (!r->rc)
                r->version = v;
        return rows;
    }
}

static void emb_metrics(http_backend *b, base_buf *out)
{
    http_metric_gauge(out, "factdb_data_version", "The database's last commit id (by any process).",
                      factdb_data_version(b->db));
    factdb_db_info info;
    factdb_error err;
    if (factdb_db_info_get(b->db, &info, &err) == 0) {
        http_metric_gauge(out, "factdb_live_readers", "Reader slots in use by live processes.", info.nreaders);
        http_metric_gauge(out, "factdb_file_bytes", "Size of the database file.", info.file_bytes);
    }
}

static const http_backend_ops EMBEDDED = {
    .kind = "embedded",
    .pure_reads = true,
    .close = emb_close,
    .name = emb_name,
    .read_only_reason = emb_read_only_reason,
    .data_version = emb_data_version,
    .tables = emb_tables,
    .table = emb_table,
    .tables_free = emb_tables_free,
    .sql_writes = emb_sql_writes,
    .sql = emb_sql,
    .result_open = emb_result_open,
    .result_read = emb_result_read,
    .result_free = emb_result_free,
    .commit_batch = emb_commit_batch,
    .metrics = emb_metrics,
};

int http_backend_embedded_open(const http_opts *o, const http_backend_ops **ops, http_backend **out,
                               factdb_error *err)
{
    http_backend *b = calloc(1, sizeof *b);
    if (!b)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    factdb_options fo = {.busy_timeout_ms = o->busy_timeout_ms, .flags = o->create ? 0 : FACTDB_OPEN_EXISTING};
    int rc = factdb_open(o->db_path, &fo, &b->db, err);
    if (rc) {
        free(b);
        return rc;
    }
    const char *base = strrchr(o->db_path, '/');
    snprintf(b->name, sizeof b->name, "%s", base ? base + 1 : o->db_path);
    *ops = &EMBEDDED;
    *out = b;
    return 0;
}

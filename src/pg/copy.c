/* copy.c: the group commit of POST /v1/tables/{name}/rows on PostgreSQL. The requests of a batch (already
 * checked against the table's columns by ingest.c) go into one transaction through COPY ... FROM STDIN
 * (text format): first all together, requests to one table sharing one COPY; if PostgreSQL refuses a row
 * (a constraint, a value of a type factdb does not check), the transaction is undone and the batch sent
 * again with each request under its own savepoint, so that the refused request is rolled back alone.
 * COMMIT makes the rest durable as the server's synchronous_commit promises, and only then are they
 * acknowledged. */
#include "pg_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends value `v` (len bytes; NULL for SQL NULL) in COPY's text format. */
int pg_copy_text(base_buf *b, const char *v, size_t len)
{
    if (!v)
        return base_buf_append(b, "\\N", 2);
    int rc = 0;
    size_t from = 0;
    for (size_t i = 0; i < len && !rc; i++) {
        const char *esc = v[i] == '\\' ? "\\\\" : v[i] == '\n' ? "\\n" : v[i] == '\r' ? "\\r" : v[i] == '\t' ? "\\t"
                                                                                                              : NULL;
        if (!esc)
            continue;
        rc = base_buf_append(b, v + from, i - from);
        if (!rc)
            rc = base_buf_append(b, esc, 2);
        from = i + 1;
    }
    return rc ? rc : base_buf_append(b, v + from, len - from);
}

/* Appends cell `c` of column `ci` in COPY's text format. */
static int put_cell(base_buf *b, const ins_req *r, const factdb_column_info *ci, const http_cell *c)
{
    char buf[128];
    size_t n;
    switch (c->kind) {
    case HTTP_CELL_NULL:
    case HTTP_CELL_ABSENT: return base_buf_append(b, "\\N", 2);
    case HTTP_CELL_BOOL: return base_buf_append(b, c->i ? "t" : "f", 1);
    case HTTP_CELL_DOUBLE: n = base_format_double(c->d, buf, sizeof buf); return base_buf_append(b, buf, n);
    case HTTP_CELL_INT:
        n = factdb_format_value(ci->type, ci->scale, c->i, buf, sizeof buf);
        return base_buf_append(b, buf, n);
    default: break;
    }
    return pg_copy_text(b, c->len ? (const char *)r->text.data + c->off : "", c->len);
}

static int exec_ok(pg_conn *c, const char *sql, factdb_error *err)
{
    PGresult *r = PQexec(c->conn, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_result_error(r, FACTDB_IO, NULL, 0, err);
    PQclear(r);
    return rc;
}

/* Whether row `row` sends column k: it gives a value. A column the row leaves out is left out of the COPY,
 * so PostgreSQL fills it with its default as it is now, or NULL (whatever the catalog read for the checks
 * said about defaults, which may be a second old: tcache.c). */
static bool sends(const ins_req *r, size_t row, size_t k)
{
    return r->cells[row * r->ncols + k].kind != HTTP_CELL_ABSENT;
}

static bool same_columns(const ins_req *r, size_t a, size_t b)
{
    for (size_t k = 0; k < r->ncols; k++)
        if (sends(r, a, k) != sends(r, b, k))
            return false;
    return true;
}

/* Row and column of a COPY error, from its context ("COPY t, line 3, column n: ..."); `first` is the
 * request's row (0-based) of the COPY's line 1. */
static void copy_where(const PGresult *res, const ins_req *r, size_t first, factdb_error *err)
{
    const char *ctx = PQresultErrorField(res, PG_DIAG_CONTEXT);
    const char *line = ctx ? strstr(ctx, ", line ") : NULL;
    if (!line)
        return;
    err->line = strtoll(line + 7, NULL, 10) + (int64_t)first;
    const char *col = strstr(line, ", column ");
    if (!col)
        return;
    col += 9;
    size_t len = strcspn(col, ":");
    for (size_t k = 0; k < r->ti.ncols; k++)
        if (strlen(r->ti.cols[k].name) == len && !strncmp(r->ti.cols[k].name, col, len))
            err->column = (int64_t)k + 1;
}

/* COPY of rows [first, end) of a request, which send the same columns, followed by every row of the
 * requests after it up to `stop` (exclusive; r->next: none), which send the same columns too; 0 or the
 * error (the caller rolls back). */
static int copy_rows(pg_conn *c, ins_req *r, size_t first, size_t end, ins_req *stop, factdb_error *err)
{
    base_buf b;
    base_buf_init(&b, (size_t)1 << 34);
    int rc = base_buf_append(&b, "COPY ", 5);
    if (!rc)
        rc = pg_quote_ident(&b, r->table);
    size_t sent = 0;
    for (size_t k = 0; k < r->ncols && !rc; k++) {
        if (!sends(r, first, k))
            continue;
        rc = base_buf_append(&b, sent++ ? ", " : " (", 2);
        if (!rc)
            rc = pg_quote_ident(&b, r->ti.cols[k].name);
    }
    if (!rc && !sent) {
        /* every column left to its default: COPY needs a column, INSERT ... DEFAULT VALUES does not */
        b.len = 0;
        if (base_buf_append(&b, "INSERT INTO ", 12) || pg_quote_ident(&b, r->table) ||
            base_buf_append(&b, " DEFAULT VALUES", 16)) {
            base_buf_cleanup(&b);
            return base_err(err, FACTDB_NOMEM, "out of memory");
        }
        for (size_t row = first; row < end && !rc; row++) {
            PGresult *ins = PQexec(c->conn, (const char *)b.data);
            if (PQresultStatus(ins) != PGRES_COMMAND_OK) {
                rc = pg_result_error(ins, FACTDB_IO, NULL, 0, err);
                err->line = (int64_t)row + 1;
            }
            PQclear(ins);
        }
        base_buf_cleanup(&b);
        return rc;
    }
    if (!rc)
        rc = base_buf_append(&b, ") FROM STDIN", 13);  /* with its NUL */
    if (rc) {
        base_buf_cleanup(&b);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    PGresult *res = PQexec(c->conn, (const char *)b.data);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = pg_result_error(res, FACTDB_IO, NULL, 0, err);
        PQclear(res);
        base_buf_cleanup(&b);
        return rc;
    }
    PQclear(res);
    /* rows go out in pieces of about 64 KiB */
    bool sent_ok = true;
    b.len = 0;
    for (ins_req *q = r; q != stop && sent_ok && !rc; q = q->next) {
        if (q->rc)
            continue;
        size_t row0 = q == r ? first : 0, row1 = q == r ? end : q->nrows;
        for (size_t row = row0; row < row1 && sent_ok; row++) {
            const http_cell *cells = q->cells + row * q->ncols;
            size_t n = 0;
            for (size_t k = 0; k < q->ncols && !rc; k++) {
                if (!sends(q, row0, k))
                    continue;
                if (n++)
                    rc = base_buf_append(&b, "\t", 1);
                if (!rc)
                    rc = put_cell(&b, q, &q->ti.cols[k], &cells[k]);
            }
            if (!rc)
                rc = base_buf_append(&b, "\n", 1);
            if (rc)
                break;
            if (b.len >= 65536) {
                sent_ok = PQputCopyData(c->conn, (const char *)b.data, (int)b.len) == 1;
                b.len = 0;
            }
        }
    }
    if (rc) {
        PQputCopyEnd(c->conn, "out of memory");
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
    } else if (sent_ok && b.len) {
        sent_ok = PQputCopyData(c->conn, (const char *)b.data, (int)b.len) == 1;
    }
    base_buf_cleanup(&b);
    if (!rc && sent_ok && PQputCopyEnd(c->conn, NULL) != 1)
        sent_ok = false;
    if (!rc && !sent_ok)
        rc = pg_conn_error(c->conn, "sending rows to PostgreSQL failed", err);
    /* the COPY's own result, then the end of the command */
    for (PGresult *x; (x = PQgetResult(c->conn));) {
        if (!rc && PQresultStatus(x) != PGRES_COMMAND_OK) {
            rc = pg_result_error(x, FACTDB_IO, NULL, 0, err);
            copy_where(x, r, first, err);
        }
        PQclear(x);
    }
    return rc;
}

/* COPY of one request's rows: one COPY per run of rows that leave out the same columns with defaults
 * (one in the common case: every row names the same columns). */
static int copy_req(pg_conn *c, ins_req *r, factdb_error *err)
{
    int rc = 0;
    for (size_t row = 0; row < r->nrows && !rc;) {
        size_t end = row + 1;
        while (end < r->nrows && same_columns(r, row, end))
            end++;
        rc = copy_rows(c, r, row, end, r->next, err);
        row = end;
    }
    return rc;
}

static void fail_rest(ins_req *batch, int rc, const factdb_error *err)
{
    for (ins_req *r = batch; r; r = r->next)
        if (!r->rc) {
            r->rc = rc;
            r->err = *err;
        }
}

/* Whether every row of r sends the columns its first row sends (and sends at least one), so that r can
 * share one COPY with the requests after it that send the same. */
static bool uniform(const ins_req *r)
{
    bool any = false;
    for (size_t k = 0; k < r->ncols && !any; k++)
        any = sends(r, 0, k);
    for (size_t row = 1; row < r->nrows && any; row++)
        any = same_columns(r, 0, row);
    return any && r->nrows;
}

static bool same_copy(const ins_req *a, const ins_req *b)
{
    if (strcmp(a->table, b->table) || a->ncols != b->ncols || !uniform(b))
        return false;
    for (size_t k = 0; k < a->ncols; k++)
        if (sends(a, 0, k) != sends(b, 0, k) || strcmp(a->ti.cols[k].name, b->ti.cols[k].name))
            return false;
    return true;
}

/* The batch in as few COPYs as it can (runs of requests to one table that send the same columns share
 * one), with no savepoints: what nearly every batch is, since ingest.c checked every value. 0, or an error
 * that means some request was refused (the caller rolls back and goes request by request). */
static int copy_all(pg_conn *c, ins_req *batch, uint64_t *rows, factdb_error *err)
{
    int rc = 0;
    *rows = 0;
    for (ins_req *r = batch; r && !rc;) {
        if (r->rc) {
            r = r->next;
            continue;
        }
        ins_req *stop = r->next;
        if (uniform(r))
            while (stop && (stop->rc || same_copy(r, stop)))
                stop = stop->next;
        rc = stop == r->next ? copy_req(c, r, err) : copy_rows(c, r, 0, r->nrows, stop, err);
        for (; r != stop; r = r->next)
            *rows += r->rc ? 0 : r->nrows;
    }
    return rc;
}

/* The batch request by request, each under a savepoint, so that one PostgreSQL refuses fails alone. */
static int copy_each(pg_conn *c, ins_req *batch, uint64_t *rows, factdb_error *err)
{
    *rows = 0;
    for (ins_req *r = batch; r; r = r->next) {
        if (r->rc)
            continue;
        int rc = exec_ok(c, "SAVEPOINT factdb_request", err);
        if (rc)
            return rc;
        int qrc = copy_req(c, r, &r->err);
        if (qrc) {
            r->rc = qrc;
            if (PQstatus(c->conn) != CONNECTION_OK) {
                *err = r->err;
                return qrc;
            }
            rc = exec_ok(c, "ROLLBACK TO SAVEPOINT factdb_request", err);
        } else {
            *rows += r->nrows;
            rc = exec_ok(c, "RELEASE SAVEPOINT factdb_request", err);
        }
        if (rc)
            return rc;
    }
    return 0;
}

uint64_t pg_commit_batch(http_backend *b, ins_req *batch)
{
    pg_conn *c;
    factdb_error err;
    int rc = pg_pool_get(b, &c, &err);
    if (rc) {
        fail_rest(batch, rc, &err);
        return 0;
    }
    uint64_t rows = 0, version = 0;
    if ((rc = exec_ok(c, "BEGIN", &err)))
        goto fail;
    /* first all at once (a few round trips for the whole batch); if PostgreSQL refuses a row, the batch is
       undone and sent again request by request, so that only the refused request fails */
    factdb_error first;
    if (copy_all(c, batch, &rows, &first)) {
        pg_table_cache_clear(b);  /* a table may have changed under the kept columns */
        if (PQstatus(c->conn) != CONNECTION_OK) {
            rc = first.code;
            err = first;
            goto fail;
        }
        if ((rc = exec_ok(c, "ROLLBACK", &err)) || (rc = exec_ok(c, "BEGIN", &err)) ||
            (rc = copy_each(c, batch, &rows, &err)))
            goto fail;
    }
    if ((rc = exec_ok(c, "COMMIT", &err)))
        goto fail;
    if (pg_version(c, &version, &err))
        version = 0;  /* committed all the same: acknowledged, with no version to show */
    for (ins_req *r = batch; r; r = r->next)
        if (!r->rc)
            r->version = version;
    pg_pool_put(b, c);
    return rows;
fail:
    fail_rest(batch, rc, &err);
    pg_pool_put(b, c);  /* rolls back what is open */
    return 0;
}

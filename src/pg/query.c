/* query.c: POST /v1/sql on PostgreSQL. The statements go in one round trip (the simple protocol without
 * parameters, so a script of several statements runs; PQsendQueryParams, the extended protocol, with them,
 * where PostgreSQL takes one statement), and the answer is the last result with rows, else the last one, as
 * on a database file. Results are rendered in factdb's JSON and CSV shapes with factdb's type names.
 * Invariant: a connection goes back to the pool with no statement running and no transaction open. */
#include "pg_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_result {
    PGresult *r;
    int ncols, nrows;
    char (*types)[64];  /* factdb's name of each column's type */
    int *kinds;         /* 0 string, 1 number, 2 boolean (pg_json_kind) */
    bool csv;
    char *extra;
    int row, stage;     /* 0 header, 1 rows, 2 trailer, 3 done */
    base_buf out;
    size_t at;
};

int pg_version(pg_conn *c, uint64_t *out, factdb_error *err)
{
    /* the WAL insert position: it moves with every commit (and at a standby, with every one replayed) */
    PGresult *r = PQexec(c->conn, "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE "
                                  "pg_current_wal_insert_lsn() END - '0/0'::pg_lsn)::text");
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        rc = pg_result_error(r, FACTDB_IO, NULL, 0, err);
    else
        *out = PQgetisnull(r, 0, 0) ? 0 : strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

/* The text of parameter p and its type (an OID; 0 lets PostgreSQL type a string by its context, as factdb
 * types a quoted literal). */
static void param_text(const factdb_param *p, char *buf, size_t cap, const char **val, Oid *type)
{
    *type = 0;
    switch (p->kind) {
    case FACTDB_PARAM_NULL: *val = NULL; return;
    case FACTDB_PARAM_BOOL: *val = p->b ? "true" : "false"; *type = 16; return;
    case FACTDB_PARAM_INT: snprintf(buf, cap, "%lld", (long long)p->i); *type = 20; break;
    case FACTDB_PARAM_DOUBLE: base_format_double(p->d, buf, cap); *type = 701; break;
    case FACTDB_PARAM_DECIMAL: factdb_format_value(FACTDB_DECIMAL, p->scale, p->i, buf, cap); *type = 1700; break;
    case FACTDB_PARAM_DATE: factdb_format_value(FACTDB_DATE, 0, p->i, buf, cap); *type = 1082; break;
    case FACTDB_PARAM_TIMESTAMP: factdb_format_value(FACTDB_TIMESTAMP, 0, p->i, buf, cap); *type = 1114; break;
    case FACTDB_PARAM_TIMESTAMPTZ: factdb_format_value(FACTDB_TIMESTAMPTZ, 0, p->i, buf, cap); *type = 1184; break;
    case FACTDB_PARAM_TEXT: *val = p->s; return;
    }
    *val = buf;
}

static bool has_rows(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE;
}

/* Sends the statements of q on c. The text is copied NUL-terminated (libpq's form); a NUL inside it would
 * silently cut it, so it is refused. */
static int send(pg_conn *c, const http_sql *q, factdb_error *err)
{
    const char *nul = memchr(q->text, 0, q->len);
    if (nul)
        return base_err_at(err, FACTDB_INVALID_ARGUMENT, 0, 0, nul - q->text,
                           "the SQL text has a NUL byte at byte %zu; remove it", (size_t)(nul - q->text) + 1);
    char *text = malloc(q->len + 1);
    const char **vals = calloc(q->nparams ? q->nparams : 1, sizeof *vals);
    Oid *types = calloc(q->nparams ? q->nparams : 1, sizeof *types);
    char(*bufs)[64] = calloc(q->nparams ? q->nparams : 1, sizeof *bufs);
    int rc = 0;
    if (!text || !vals || !types || !bufs) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    memcpy(text, q->text, q->len);
    text[q->len] = 0;
    for (size_t i = 0; i < q->nparams; i++) {
        param_text(&q->params[i], bufs[i], sizeof bufs[i], &vals[i], &types[i]);
        if (q->params[i].kind == FACTDB_PARAM_TEXT && memchr(q->params[i].s, 0, q->params[i].len)) {
            rc = base_err(err, FACTDB_INVALID_VALUE, "parameter $%zu holds a NUL byte, which text cannot hold",
                          i + 1);
            goto out;
        }
    }
    int ok = q->nparams ? PQsendQueryParams(c->conn, text, (int)q->nparams, types, vals, NULL, NULL, 0)
                        : PQsendQuery(c->conn, text);
    if (!ok)
        rc = pg_conn_error(c->conn, "cannot send the statement to PostgreSQL", err);
out:
    free(text);
    free(vals);
    free(types);
    free(bufs);
    return rc;
}

static int new_result(pg_conn *c, PGresult *pr, http_result **out, factdb_error *err)
{
    http_result *r = calloc(1, sizeof *r);
    int nc = PQnfields(pr);
    if (!r || !(r->types = calloc(nc ? (size_t)nc : 1, sizeof *r->types)) ||
        !(r->kinds = calloc(nc ? (size_t)nc : 1, sizeof *r->kinds))) {
        if (r) {
            free(r->types);
            free(r);
        }
        PQclear(pr);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    r->r = pr;
    r->ncols = nc;
    r->nrows = PQntuples(pr);
    for (int i = 0; i < nc; i++) {
        pg_type_name(c, PQftype(pr, i), PQfmod(pr, i), true, r->types[i], sizeof r->types[i]);
        r->kinds[i] = pg_json_kind(PQftype(pr, i));
    }
    *out = r;
    return 0;
}

/* Sends q on c and reads every result (all must be read, even after an error, before the connection can be
 * used again) into *last (the answer). *lost: the server had ended the connection before running anything
 * (57P01..57P03 as the first answer: a restart or pg_terminate_backend of an idle pooled connection), so
 * the request may be sent again on a new one. */
static int run_once(pg_conn *c, const http_sql *q, PGresult **last, bool *lost, factdb_error *err)
{
    *last = NULL;
    *lost = false;
    if (q->read_only) {
        /* a second guard for the read token: functions with side effects (nextval, pg_notify, ...) look
           like reads to factdb's parser; PostgreSQL refuses them in a read-only transaction (25006) */
        PGresult *r = PQexec(c->conn, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY");
        int src = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_result_error(r, FACTDB_IO, NULL, 0, err);
        const char *state = src ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        *lost = state && !strncmp(state, "57P0", 4) && PQstatus(c->conn) != CONNECTION_OK;
        PQclear(r);
        if (src)
            return src;
    }
    int rc = send(c, q, err);
    if (rc)
        return rc;
    bool first = true;
    for (PGresult *r; (r = PQgetResult(c->conn)); first = false) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
            if (!rc)
                rc = base_err(err, FACTDB_INVALID_ARGUMENT, "COPY ... FROM STDIN and TO STDOUT have no data "
                              "stream over HTTP; use POST /v1/tables/NAME/rows to load rows, or a query to read them");
            if (st == PGRES_COPY_IN)
                PQputCopyEnd(c->conn, "COPY FROM STDIN is not available over HTTP");
            else
                for (char *buf; PQgetCopyData(c->conn, &buf, 0) > 0;)
                    PQfreemem(buf);
            PQclear(r);
        } else if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (first && state && !strncmp(state, "57P0", 4))
                *lost = true;
            if (!rc)
                rc = pg_result_error(r, FACTDB_INVALID_ARGUMENT, q->text, q->len, err);
            PQclear(r);
        } else if (st == PGRES_EMPTY_QUERY || rc) {
            PQclear(r);
        } else if (!*last || has_rows(r) || !has_rows(*last)) {
            PQclear(*last);
            *last = r;
        } else {
            PQclear(r);
        }
    }
    *lost = *lost && PQstatus(c->conn) != CONNECTION_OK;
    return rc;
}

int pg_sql(http_backend *b, const http_sql *q, http_sql_out *out, factdb_error *err)
{
    memset(out, 0, sizeof *out);
    pg_conn *c;
    int rc = pg_pool_get(b, &c, err);
    if (rc)
        return rc;
    http_watch_set(q->watch, pg_conn_cancel, c);
    c->dirty = true;
    PGresult *last;
    bool lost;
    rc = run_once(c, q, &last, &lost, err);
    if (rc && lost) {
        http_watch_set(q->watch, NULL, NULL);
        pg_pool_put(b, c);  /* closes the dead connection */
        if ((rc = pg_pool_get(b, &c, err)))
            return rc;
        http_watch_set(q->watch, pg_conn_cancel, c);
        c->dirty = true;
        rc = run_once(c, q, &last, &lost, err);
    }
    http_watch_set(q->watch, NULL, NULL);
    uint64_t version = 0;
    if (!rc && last)
        rc = pg_version(c, &version, err);
    if (!rc && last) {
        rc = new_result(c, last, &out->result, err);
        last = NULL;
    }
    PQclear(last);
    pg_pool_put(b, c);
    if (rc || !out->result)
        return rc;
    PGresult *pr = out->result->r;
    out->has_rows = has_rows(pr);
    out->nrows = out->has_rows ? (uint64_t)PQntuples(pr) : 0;
    snprintf(out->tag, sizeof out->tag, "%s", PQcmdStatus(pr));
    out->data_version = version;
    return 0;
}

/* ---- rendering, as factdb_writer does ---- */
static int put(http_result *r, const char *s, size_t n) { return base_buf_append(&r->out, s, n); }

static int put_json_string(http_result *r, const char *s, size_t len)
{
    size_t need = len * 6 + 3;
    if (base_buf_reserve(&r->out, need))
        return FACTDB_NOMEM;
    r->out.len += factdb_json_quote(s, len, (char *)r->out.data + r->out.len, need);
    return 0;
}

static int put_value(http_result *r, int row, int col)
{
    if (PQgetisnull(r->r, row, col))
        return r->csv ? 0 : put(r, "null", 4);
    const char *v = PQgetvalue(r->r, row, col);
    size_t len = (size_t)PQgetlength(r->r, row, col);
    int kind = r->kinds[col];
    if (kind == 2) {  /* PostgreSQL's t/f, as factdb writes booleans */
        bool t = v[0] == 't';
        return put(r, t ? "true" : "false", t ? 4 : 5);
    }
    if (r->csv) {
        bool quote = kind == 0 && len == 0;
        for (size_t i = 0; i < len && !quote; i++)
            quote = v[i] == ',' || v[i] == '"' || v[i] == '\n' || v[i] == '\r';
        if (!quote)
            return put(r, v, len);
        int rc = put(r, "\"", 1);
        for (size_t i = 0; i < len && !rc; i++)
            rc = v[i] == '"' ? put(r, "\"\"", 2) : put(r, v + i, 1);
        return rc ? rc : put(r, "\"", 1);
    }
    if (kind == 1 && (v[0] == 'N' || v[0] == 'I' || (v[0] == '-' && v[1] == 'I')))
        kind = 0;  /* NaN and infinities are not JSON numbers */
    return kind ? put(r, v, len) : put_json_string(r, v, len);
}

static int render_header(http_result *r)
{
    int rc = 0;
    if (!r->csv) {
        rc = put(r, "{\"columns\":[", 12);
        for (int c = 0; c < r->ncols && !rc; c++) {
            const char *n = PQfname(r->r, c);
            rc = put(r, c ? ",{\"name\":" : "{\"name\":", c ? 9 : 8);
            if (!rc)
                rc = put_json_string(r, n, strlen(n));
            if (!rc)
                rc = put(r, ",\"type\":", 8);
            if (!rc)
                rc = put_json_string(r, r->types[c], strlen(r->types[c]));
            if (!rc)
                rc = put(r, "}", 1);
        }
        return rc ? rc : put(r, "],\"rows\":[", 10);
    }
    for (int c = 0; c < r->ncols && !rc; c++) {
        const char *n = PQfname(r->r, c);
        size_t len = strlen(n);
        bool quote = false;
        for (size_t i = 0; i < len && !quote; i++)
            quote = n[i] == ',' || n[i] == '"' || n[i] == '\n' || n[i] == '\r';
        if (c)
            rc = put(r, ",", 1);
        if (!rc && !quote)
            rc = put(r, n, len);
        else if (!rc) {
            rc = put(r, "\"", 1);
            for (size_t i = 0; i < len && !rc; i++)
                rc = n[i] == '"' ? put(r, "\"\"", 2) : put(r, n + i, 1);
            if (!rc)
                rc = put(r, "\"", 1);
        }
    }
    return rc ? rc : put(r, "\n", 1);
}

static int render(http_result *r)
{
    int rc = 0;
    if (r->stage == 0) {
        r->stage = 1;
        return render_header(r);
    }
    if (r->stage == 1) {
        if (r->row >= r->nrows) {
            r->stage = 2;
            return 0;
        }
        int i = r->row++;
        if (!r->csv)
            rc = put(r, i ? ",[" : "[", i ? 2 : 1);
        for (int c = 0; c < r->ncols && !rc; c++) {
            if (c)
                rc = put(r, ",", 1);
            if (!rc)
                rc = put_value(r, i, c);
        }
        return rc ? rc : put(r, r->csv ? "\n" : "]", 1);
    }
    r->stage = 3;
    if (!r->csv) {
        char tail[64];
        int n = snprintf(tail, sizeof tail, "],\"row_count\":%d", r->nrows);
        rc = put(r, tail, (size_t)n);
        if (!rc && r->extra)
            rc = put(r, r->extra, strlen(r->extra));
        if (!rc)
            rc = put(r, "}\n", 2);
    }
    return rc;
}

int pg_result_open(http_result *r, bool csv, const char *extra, factdb_error *err)
{
    r->csv = csv;
    if (extra && !(r->extra = strdup(extra)))
        return base_err(err, FACTDB_NOMEM, "out of memory");
    if (!has_rows(r->r))
        r->nrows = 0;  /* a command: no columns, no rows (its tag goes in `extra`) */
    base_buf_init(&r->out, (size_t)1 << 34);
    return 0;
}

size_t pg_result_read(http_result *r, char *buf, size_t cap)
{
    size_t o = 0;
    while (o < cap) {
        if (r->at == r->out.len) {
            r->out.len = 0;
            r->at = 0;
            if (r->stage == 3 || render(r))
                break;
            continue;
        }
        size_t n = MIN(cap - o, r->out.len - r->at);
        memcpy(buf + o, r->out.data + r->at, n);
        r->at += n;
        o += n;
    }
    return o;
}

void pg_result_free(http_result *r)
{
    if (!r)
        return;
    PQclear(r->r);
    free(r->types);
    free(r->kinds);
    free(r->extra);
    base_buf_cleanup(&r->out);
    free(r);
}

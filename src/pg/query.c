/* query.c: POST /v1/sql on PostgreSQL. A script's statements are sent one at a time (script.c splits
 * them), so each runs in its own transaction unless the script opens one, and a failing statement leaves
 * the ones before it done: as psql runs a script, and as a database file does. With parameters there is
 * one statement (PQsendQueryParams, the extended protocol). The answer is the last result with rows, else
 * the last one, as on a database file. Rows arrive in libpq's single-row mode and are kept in one compact
 * buffer bounded by the request's query memory (http_sql.memory, drawn from --max-result-memory): a result
 * past it is canceled and answered LIMIT, where libpq alone would have held it whole. Results are rendered
 * in factdb's JSON and CSV shapes with factdb's type names.
 * Invariant: a connection goes back to the pool with no statement running and no transaction open. */
#include "pg_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NULL_LEN UINT32_MAX

struct http_result {
    PGresult *meta;     /* the result's columns and command tag (its rows are in `rows`) */
    base_buf rows;      /* row after row, each value a uint32 length (NULL_LEN: NULL) and its bytes */
    uint64_t nrows;
    int ncols;
    char (*types)[64];  /* factdb's name of each column's type */
    int *kinds;         /* 0 string, 1 number, 2 boolean (pg_json_kind) */
    bool csv;
    char *extra;
    uint64_t row;
    size_t rpos;        /* the next row's place in `rows` */
    int stage;          /* 0 header, 1 rows, 2 trailer, 3 done */
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

/* Sends one statement (text[0..len), no NUL in it) with q's parameters on c, in single-row mode. With
 * parameters, and for a read token, by the extended protocol, in which PostgreSQL runs one statement only
 * (so a statement is never more than what was checked as one). */
static int send(pg_conn *c, const http_sql *q, const char *stmt, size_t len, factdb_error *err)
{
    char *text = malloc(len + 1);
    const char **vals = calloc(q->nparams ? q->nparams : 1, sizeof *vals);
    Oid *types = calloc(q->nparams ? q->nparams : 1, sizeof *types);
    char(*bufs)[64] = calloc(q->nparams ? q->nparams : 1, sizeof *bufs);
    int rc = 0;
    if (!text || !vals || !types || !bufs) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    memcpy(text, stmt, len);
    text[len] = 0;
    for (size_t i = 0; i < q->nparams; i++) {
        param_text(&q->params[i], bufs[i], sizeof bufs[i], &vals[i], &types[i]);
        if (q->params[i].kind == FACTDB_PARAM_TEXT && memchr(q->params[i].s, 0, q->params[i].len)) {
            rc = base_err(err, FACTDB_INVALID_VALUE, "parameter $%zu holds a NUL byte, which text cannot hold",
                          i + 1);
            goto out;
        }
    }
    int ok = q->nparams || q->read_only ? PQsendQueryParams(c->conn, text, (int)q->nparams, types, vals, NULL, NULL, 0)
                                        : PQsendQuery(c->conn, text);
    if (!ok)
        rc = pg_conn_error(c->conn, "cannot send the statement to PostgreSQL", err);
    else
        PQsetSingleRowMode(c->conn);  /* rows one by one, into our bounded buffer (PQgetResult's rows) */
out:
    free(text);
    free(vals);
    free(types);
    free(bufs);
    return rc;
}

/* Forgets the answer kept so far (a later result replaces it). */
static void result_clear(http_result *r)
{
    PQclear(r->meta);
    r->meta = NULL;
    r->rows.len = 0;
    r->nrows = 0;
    r->ncols = 0;
}

/* Appends the one row of a single-row result to r->rows: LIMIT past the request's query memory. */
static int keep_row(http_result *r, const PGresult *pr)
{
    int nf = PQnfields(pr);
    uint32_t lens[1664];  /* PostgreSQL's most columns of a result (MaxTupleAttributeNumber) */
    if (nf > 1664)
        return FACTDB_NOMEM;
    size_t need = 0;
    for (int k = 0; k < nf; k++) {
        lens[k] = PQgetisnull(pr, 0, k) ? NULL_LEN : (uint32_t)PQgetlength(pr, 0, k);
        need += 4 + (lens[k] == NULL_LEN ? 0 : lens[k]);
    }
    if (!need) {  /* a row of no columns (SELECT FROM t) */
        r->nrows++;
        return 0;
    }
    int rc = base_buf_reserve(&r->rows, need);
    if (rc)
        return rc;
    unsigned char *p = r->rows.data + r->rows.len;
    for (int k = 0; k < nf; k++) {
        memcpy(p, &lens[k], 4);
        p += 4;
        if (lens[k] != NULL_LEN) {
            memcpy(p, PQgetvalue(pr, 0, k), lens[k]);
            p += lens[k];
        }
    }
    r->rows.len += need;
    r->nrows++;
    return 0;
}

/* What run_once tracks across the results of a request's statements. */
typedef struct reading {
    const http_sql *q;
    http_result *res;   /* the answer so far */
    bool filling;       /* the rows of a result are arriving into res */
    bool first;         /* no result has arrived yet */
    bool lost;          /* the first answer said the server had ended the connection */
    bool canceled;      /* a result outgrew the query memory and was canceled */
    bool ddl;           /* a statement changed tables (CREATE, ALTER, DROP ...) */
} reading;

/* Reads every result of the statement just sent (all must be read, even after an error, before the
 * connection can be used again); `at` is the statement's byte offset in q->text. Returns the first error. */
static int read_results(pg_conn *c, reading *rd, size_t at, size_t len, int rc, factdb_error *err)
{
    const http_sql *q = rd->q;
    http_result *res = rd->res;
    for (PGresult *r; (r = PQgetResult(c->conn)); rd->first = false) {
        ExecStatusType st = PQresultStatus(r);
        const char *tag = st == PGRES_COMMAND_OK ? PQcmdStatus(r) : "";
        if (!strncmp(tag, "CREATE", 6) || !strncmp(tag, "ALTER", 5) || !strncmp(tag, "DROP", 4))
            rd->ddl = true;  /* the table columns kept for inserts are forgotten (tcache.c) */
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
            if (!rc)
                rc = base_err(err, FACTDB_INVALID_ARGUMENT, "COPY ... FROM STDIN and TO STDOUT have no data "
                              "stream over HTTP; use POST /v1/tables/NAME/rows to load rows, or a query to read them");
            if (st == PGRES_COPY_IN)
                PQputCopyEnd(c->conn, "COPY FROM STDIN is not available over HTTP");
            else
                for (char *buf; PQgetCopyData(c->conn, &buf, 0) > 0;)
                    PQfreemem(buf);
        } else if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (rd->first && state && !strncmp(state, "57P0", 4))
                rd->lost = true;
            if (!rc) {
                rc = pg_result_error(r, FACTDB_INVALID_ARGUMENT, q->text + at, len, err);
                if (err->position > 0)
                    err->position += (int64_t)at;
            }
        } else if (rc || st == PGRES_EMPTY_QUERY) {
            /* drained after an error */
        } else if (st == PGRES_SINGLE_TUPLE) {
            if (!rd->filling) {  /* a result with rows replaces the answer */
                result_clear(res);
                rd->filling = true;
            }
            int krc = keep_row(res, r);
            if (krc) {
                rc = krc == FACTDB_LIMIT ? base_err(err, FACTDB_LIMIT, "the result needs more than %zu MiB of query "
                                                    "memory; add filters or a LIMIT", q->memory >> 20)
                                         : base_err(err, FACTDB_NOMEM, "out of memory keeping the result");
                pg_conn_cancel(c);  /* and the connection is closed: nothing more of it is read */
                rd->canceled = true;
                PQclear(r);
                break;
            }
        } else if (st == PGRES_TUPLES_OK || !res->meta || !has_rows(res->meta)) {
            /* the end of a result with rows (its columns and tag), or a command after no rows */
            if (!rd->filling)
                result_clear(res);
            rd->filling = false;
            PQclear(res->meta);
            res->meta = r;
            res->ncols = PQnfields(r);
            continue;
        }
        PQclear(r);
    }
    return rc;
}

/* Whether statement q->text[at, at + len) may run for a read token: a query (SELECT, WITH, VALUES, TABLE,
 * SHOW, EXPLAIN), never a statement that could end the read-only transaction the request runs in (COMMIT,
 * SET, RESET ...) or call a procedure. factdb's parser, which decided that the text only reads, reads
 * some SQL differently from PostgreSQL; this check is on the statements as PostgreSQL will run them. */
static int read_only_statement(const http_sql *q, size_t at, size_t len, factdb_error *err)
{
    static const char *const QUERIES[] = {"select", "with", "values", "table", "show", "explain", "("};
    char word[16];
    size_t off = pg_first_word(q->text + at, len, word, sizeof word);
    for (size_t i = 0; i < ARRAY_LEN(QUERIES); i++)
        if (!strcasecmp(word, QUERIES[i]))
            return 0;
    base_err(err, FACTDB_PERMISSION, "the read token runs queries only (SELECT, WITH, VALUES, TABLE, SHOW, "
             "EXPLAIN), in the request's read-only transaction; this statement starts with \"%s\"; use the "
             "write token", word);
    err->position = (int64_t)(at + off) + 1;
    return FACTDB_PERMISSION;
}

/* Runs q's statements on c, one by one until one fails, keeping the answer in *out (NULL when the text
 * held no statement). *lost: the server had ended the connection before running anything (57P01..57P03 as
 * the first answer: a restart or pg_terminate_backend of an idle pooled connection), so the request may be
 * sent again on a new one. */
static int run_once(pg_conn *c, const http_sql *q, http_result **out, bool *lost, bool *ddl, factdb_error *err)
{
    *out = NULL;
    *lost = false;
    if (q->read_only) {
        /* a second guard for the read token: functions with side effects (nextval, pg_notify, ...) look
           like reads to factdb's parser; PostgreSQL refuses them in a read-only transaction (25006). The
           whole request is one such transaction, which its statements cannot end (read_only_statement):
           set_config cannot make it read-write once it ran a query */
        PGresult *r = PQexec(c->conn, "BEGIN READ ONLY");
        int src = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_result_error(r, FACTDB_IO, NULL, 0, err);
        const char *state = src ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        *lost = state && !strncmp(state, "57P0", 4) && PQstatus(c->conn) != CONNECTION_OK;
        PQclear(r);
        if (src)
            return src;
    }
    pg_stmt one = {0, q->len}, *stmts = &one;
    size_t n = 1;
    if (!q->nparams) {  /* with parameters PostgreSQL takes one statement, and says so */
        const char *scs = PQparameterStatus(c->conn, "standard_conforming_strings");
        if (pg_split(q->text, q->len, scs && !strcmp(scs, "off"), &stmts, &n))
            return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    http_result *res = calloc(1, sizeof *res);
    if (!res) {
        if (stmts != &one)
            free(stmts);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    base_buf_init(&res->rows, q->memory ? q->memory : (size_t)1 << 34);
    reading rd = {.q = q, .res = res, .first = true};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (q->read_only && (rc = read_only_statement(q, stmts[i].start, stmts[i].len, err)))
            break;
        rc = send(c, q, q->text + stmts[i].start, stmts[i].len, err);
        rc = read_results(c, &rd, stmts[i].start, stmts[i].len, rc, err);
        if (!rc && http_watch_fired(q->watch))  /* canceled between statements */
            rc = base_err(err, FACTDB_INVALID_ARGUMENT, "canceled by the query timeout");
    }
    if (stmts != &one)
        free(stmts);
    *lost = rd.lost && PQstatus(c->conn) != CONNECTION_OK;
    *ddl = *ddl || rd.ddl;
    if (rd.canceled || http_watch_fired(q->watch)) {
        /* a cancel that arrived after the statement ended could hit the connection's next one */
        PQfinish(c->conn);
        c->conn = NULL;
    }
    if (rc || !res->meta) {
        pg_result_free(res);
        return rc;
    }
    *out = res;
    return 0;
}

/* Names the columns of r's result in factdb's types (may ask c, so after every result was read). */
static int describe(pg_conn *c, http_result *r, factdb_error *err)
{
    int nc = r->ncols;
    if (!(r->types = calloc(nc ? (size_t)nc : 1, sizeof *r->types)) ||
        !(r->kinds = calloc(nc ? (size_t)nc : 1, sizeof *r->kinds)))
        return base_err(err, FACTDB_NOMEM, "out of memory");
    for (int i = 0; i < nc; i++) {
        pg_type_name(c, PQftype(r->meta, i), PQfmod(r->meta, i), true, r->types[i], sizeof r->types[i]);
        r->kinds[i] = pg_json_kind(PQftype(r->meta, i));
    }
    return 0;
}

int pg_sql(http_backend *b, const http_sql *q, http_sql_out *out, factdb_error *err)
{
    memset(out, 0, sizeof *out);
    /* libpq takes NUL-terminated text: a NUL inside it would silently cut it, so it is refused */
    const char *nul = memchr(q->text, 0, q->len);
    if (nul)
        return base_err_at(err, FACTDB_INVALID_ARGUMENT, 0, 0, nul - q->text,
                           "the SQL text has a NUL byte at byte %zu; remove it", (size_t)(nul - q->text) + 1);
    pg_conn *c;
    int rc = pg_pool_get(b, &c, err);
    if (rc)
        return rc;
    http_result *res = NULL;
    bool ddl = false;
    for (int attempt = 0;; attempt++) {
        bool lost;
        http_watch_set(q->watch, pg_conn_cancel, c);
        c->dirty = true;
        rc = run_once(c, q, &res, &lost, &ddl, err);
        http_watch_set(q->watch, NULL, NULL);
        if (!rc || !lost || attempt)
            break;
        pg_pool_put(b, c);  /* closes the dead connection */
        if ((rc = pg_pool_get(b, &c, err)))
            return rc;
    }
    if (ddl)
        pg_table_cache_clear(b);
    uint64_t version = 0;
    if (!rc && res)
        rc = pg_version(c, &version, err);
    if (!rc && res)
        rc = describe(c, res, err);
    pg_pool_put(b, c);
    if (rc) {
        pg_result_free(res);
        return rc;
    }
    if (!res)
        return 0;
    out->result = res;
    out->has_rows = has_rows(res->meta);
    out->nrows = out->has_rows ? res->nrows : 0;
    snprintf(out->tag, sizeof out->tag, "%s", PQcmdStatus(res->meta));
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

static int put_csv_field(http_result *r, const char *s, size_t len, bool is_text)
{
    size_t need = len * 2 + 2;
    if (base_buf_reserve(&r->out, need))
        return FACTDB_NOMEM;
    r->out.len += factdb_csv_quote(s, len, is_text, (char *)r->out.data + r->out.len, need);
    return 0;
}

/* Renders the value of column `col` at r->rpos in r->rows and steps past it. */
static int put_value(http_result *r, int col)
{
    uint32_t n;
    memcpy(&n, r->rows.data + r->rpos, 4);
    r->rpos += 4;
    if (n == NULL_LEN)
        return r->csv ? 0 : put(r, "null", 4);
    const char *v = (const char *)r->rows.data + r->rpos;
    size_t len = n;
    r->rpos += n;
    int kind = r->kinds[col];
    if (kind == 2) {  /* PostgreSQL's t/f, as factdb writes booleans */
        bool t = len && v[0] == 't';
        return put(r, t ? "true" : "false", t ? 4 : 5);
    }
    if (r->csv)
        return put_csv_field(r, v, len, kind == 0);
    if (kind == 1 && (!len || v[0] == 'N' || v[0] == 'I' || (v[0] == '-' && len > 1 && v[1] == 'I')))
        kind = 0;  /* NaN and infinities are not JSON numbers */
    return kind ? put(r, v, len) : put_json_string(r, v, len);
}

static int render_header(http_result *r)
{
    int rc = 0;
    if (!r->csv) {
        rc = put(r, "{\"columns\":[", 12);
        for (int c = 0; c < r->ncols && !rc; c++) {
            const char *n = PQfname(r->meta, c);
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
        const char *n = PQfname(r->meta, c);
        rc = c ? put(r, ",", 1) : 0;
        if (!rc)
            rc = put_csv_field(r, n, strlen(n), false);
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
        uint64_t i = r->row++;
        if (!r->csv)
            rc = put(r, i ? ",[" : "[", i ? 2 : 1);
        for (int c = 0; c < r->ncols && !rc; c++) {
            if (c)
                rc = put(r, ",", 1);
            if (!rc)
                rc = put_value(r, c);
        }
        return rc ? rc : put(r, r->csv ? "\n" : "]", 1);
    }
    r->stage = 3;
    if (!r->csv) {
        char tail[64];
        int n = snprintf(tail, sizeof tail, "],\"row_count\":%llu", (unsigned long long)r->nrows);
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
    if (!has_rows(r->meta))
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
    PQclear(r->meta);
    base_buf_cleanup(&r->rows);
    free(r->types);
    free(r->kinds);
    free(r->extra);
    base_buf_cleanup(&r->out);
    free(r);
}

/* migrate.c: `factdb copy DB POSTGRESQL-URL`: every table of a database file into PostgreSQL with its
 * types (factdb's names are PostgreSQL's: numeric(p,s), timestamp with time zone ...) and NOT NULL, one
 * transaction per table (CREATE TABLE, then COPY FROM STDIN in text format), so a table is there whole or
 * not at all. A table that already exists in PostgreSQL is refused before anything of it is sent. Each
 * table's rows are read in one snapshot through the public API (a query per table). */
#include "pg_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int exec_ok(PGconn *c, const char *sql, factdb_error *err)
{
    PGresult *r = PQexec(c, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_result_error(r, FACTDB_IO, NULL, 0, err);
    PQclear(r);
    return rc;
}

/* CREATE TABLE for `t` in PostgreSQL (into q, NUL-terminated). */
static int create_sql(base_buf *q, const factdb_table_info *t)
{
    int rc = base_buf_append(q, "CREATE TABLE ", 13);
    if (!rc)
        rc = pg_quote_ident(q, t->name);
    for (size_t k = 0; k < t->ncols && !rc; k++) {
        char tb[48];
        const factdb_column_info *ci = &t->cols[k];
        const char *tn = factdb_type_name(ci->type, ci->precision, ci->scale, tb, sizeof tb);
        rc = base_buf_append(q, k ? ", " : " (", 2);
        if (!rc)
            rc = pg_quote_ident(q, ci->name);
        if (!rc)
            rc = base_buf_append(q, " ", 1);
        if (!rc)
            rc = base_buf_append(q, tn, strlen(tn));
        if (!rc && ci->not_null)
            rc = base_buf_append(q, " NOT NULL", 9);
    }
    return rc ? rc : base_buf_append(q, ")", 2);  /* with its NUL */
}

/* Sends the rows of `r` to an open COPY on c. */
static int send_rows(PGconn *c, const factdb_result *r, factdb_error *err)
{
    base_buf b;
    base_buf_init(&b, (size_t)1 << 34);
    uint64_t n = factdb_result_nrows(r);
    size_t nc = factdb_result_ncols(r);
    char buf[128];
    int rc = 0;
    for (uint64_t row = 0; row < n && !rc; row++) {
        for (size_t k = 0; k < nc && !rc; k++) {
            size_t len = 0;
            const char *v = factdb_result_text(r, row, k, buf, sizeof buf, &len);
            rc = (k && base_buf_append(&b, "\t", 1)) || pg_copy_text(&b, v, len);
        }
        if (!rc)
            rc = base_buf_append(&b, "\n", 1);
        if (rc) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory");
        } else if (b.len >= ((size_t)256 << 10) || row + 1 == n) {
            if (PQputCopyData(c, (const char *)b.data, (int)b.len) != 1)
                rc = pg_conn_error(c, "sending rows to PostgreSQL failed", err);
            b.len = 0;
        }
    }
    base_buf_cleanup(&b);
    if (PQputCopyEnd(c, rc ? "factdb copy failed" : NULL) != 1 && !rc)
        rc = pg_conn_error(c, "ending COPY failed", err);
    for (PGresult *x; (x = PQgetResult(c));) {
        if (!rc && PQresultStatus(x) != PGRES_COMMAND_OK)
            rc = pg_result_error(x, FACTDB_IO, NULL, 0, err);
        PQclear(x);
    }
    return rc;
}

/* One table, in one transaction. */
static int copy_table(factdb *db, PGconn *c, const factdb_table_info *t, uint64_t *rows, factdb_error *err)
{
    base_buf q;
    base_buf_init(&q, (size_t)1 << 20);
    factdb_session *s = NULL;
    factdb_result *res = NULL;
    int rc = create_sql(&q, t) ? base_err(err, FACTDB_NOMEM, "out of memory") : 0;
    if (!rc)
        rc = exec_ok(c, "BEGIN", err);
    if (!rc && (rc = exec_ok(c, (const char *)q.data, err)) == FACTDB_TABLE_EXISTS)
        base_err(err, FACTDB_TABLE_EXISTS, "table \"%s\" already exists in the PostgreSQL database; nothing of it "
                 "was copied (drop it there to copy it again)", t->name);
    if (!rc)
        rc = factdb_session_new(db, &s, err);
    if (!rc) {
        factdb_session_set_memory_limit(s, (size_t)4 << 30);
        q.len = 0;
        rc = base_buf_append(&q, "SELECT * FROM ", 14) || pg_quote_ident(&q, t->name)
                 ? base_err(err, FACTDB_NOMEM, "out of memory") : 0;
    }
    size_t used;
    if (!rc)
        rc = factdb_session_exec(s, (const char *)q.data, q.len, NULL, 0, &used, &res, err);
    base_buf_cleanup(&q);
    if (!rc) {
        char copy[200];
        base_buf cq;
        base_buf_init(&cq, 1 << 16);
        rc = base_buf_append(&cq, "COPY ", 5) || pg_quote_ident(&cq, t->name) ||
                     base_buf_append(&cq, " FROM STDIN", 12)
                 ? base_err(err, FACTDB_NOMEM, "out of memory") : 0;
        snprintf(copy, sizeof copy, "%s", rc ? "" : (const char *)cq.data);
        base_buf_cleanup(&cq);
        PGresult *r = rc ? NULL : PQexec(c, copy);
        if (!rc && PQresultStatus(r) != PGRES_COPY_IN)
            rc = pg_result_error(r, FACTDB_IO, NULL, 0, err);
        PQclear(r);
        if (!rc)
            rc = send_rows(c, res, err);
    }
    if (!rc)
        rc = exec_ok(c, "COMMIT", err);
    if (!rc)
        *rows = factdb_result_nrows(res);
    else
        PQclear(PQexec(c, "ROLLBACK"));
    factdb_result_free(res);
    factdb_session_free(s);
    return rc;
}

int pg_copy_from_file(const char *db_path, const char *target, pg_progress_fn progress, void *ctx, factdb_error *err)
{
    factdb_options fo = {.flags = FACTDB_OPEN_EXISTING};
    factdb *db;
    int rc = factdb_open(db_path, &fo, &db, err);
    if (rc)
        return rc;
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {target, "factdb copy", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        rc = pg_conn_error(c, "cannot connect to PostgreSQL", err);
        PQfinish(c);
        factdb_close(db);
        return rc;
    }
    PQclear(PQexec(c, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET client_encoding = 'UTF8'"));
    factdb_table_info *list = NULL;
    size_t n = 0;
    rc = factdb_table_list(db, &list, &n, err);
    for (size_t i = 0; i < n && !rc; i++) {
        uint64_t rows = 0;
        rc = copy_table(db, c, &list[i], &rows, err);
        if (!rc && progress)
            progress(ctx, list[i].name, rows, i + 1, n);
    }
    factdb_table_list_free(list, n);
    PQfinish(c);
    factdb_close(db);
    return rc;
}

/* ---- PostgreSQL -> file ---- */
/* Decodes COPY's text format in place: field k of `line` (len bytes, no newline) ends at a tab; \N alone
 * is NULL; backslash escapes \b \f \n \r \t \v \\ \NNN (octal) \xHH. Fills starts/lens, NULL as lens -1;
 * returns the field count, or -1 when there are more than `max`. */
static int split_fields(char *line, size_t len, char **starts, ptrdiff_t *lens, int max)
{
    int n = 0;
    size_t i = 0;
    for (;;) {
        if (n == max)
            return -1;
        char *out = line + i, *start = out;
        /* \N alone is NULL: told before decoding, which would turn it into "N" */
        bool null = i + 1 < len && line[i] == '\\' && line[i + 1] == 'N' && (i + 2 == len || line[i + 2] == '\t');
        while (i < len && line[i] != '\t') {
            char ch = line[i++];
            if (ch == '\\' && i < len) {
                char e = line[i++];
                switch (e) {
                case 'b': ch = '\b'; break;
                case 'f': ch = '\f'; break;
                case 'n': ch = '\n'; break;
                case 'r': ch = '\r'; break;
                case 't': ch = '\t'; break;
                case 'v': ch = '\v'; break;
                case 'x': {
                    int v = 0, d = 0;
                    for (; d < 2 && i < len && strchr("0123456789abcdefABCDEF", line[i]) && line[i]; d++, i++)
                        v = v * 16 + (line[i] <= '9' ? line[i] - '0' : (line[i] | 0x20) - 'a' + 10);
                    ch = (char)v;
                    break;
                }
                default:
                    if (e >= '0' && e <= '7') {
                        int v = e - '0';
                        for (int d = 1; d < 3 && i < len && line[i] >= '0' && line[i] <= '7'; d++, i++)
                            v = v * 8 + (line[i] - '0');
                        ch = (char)v;
                    } else {
                        ch = e;  /* \\ and any other escaped character */
                    }
                }
            }
            *out++ = ch;
        }
        starts[n] = start;
        lens[n] = null ? -1 : out - start;
        n++;
        if (i >= len)
            return n;
        i++;  /* the tab */
    }
}

/* One PostgreSQL table into the file, created with its rows atomically. */
static int copy_table_back(factdb *db, pg_conn *pc, const http_table *t, uint64_t *rows, factdb_error *err)
{
    const factdb_table_info *ti = &t->info;
    factdb_column_def *defs = calloc(ti->ncols ? ti->ncols : 1, sizeof *defs);
    char **starts = calloc(ti->ncols + 1, sizeof *starts);
    ptrdiff_t *lens = calloc(ti->ncols + 1, sizeof *lens);
    factdb_appender *app = NULL;
    int rc = defs && starts && lens ? 0 : base_err(err, FACTDB_NOMEM, "out of memory");
    for (size_t k = 0; k < ti->ncols && !rc; k++)
        defs[k] = (factdb_column_def){.name = ti->cols[k].name, .type = ti->cols[k].type,
                                      .precision = ti->cols[k].precision, .scale = ti->cols[k].scale,
                                      .not_null = ti->cols[k].not_null};
    if (!rc && (rc = factdb_appender_create(db, ti->name, defs, ti->ncols, &app, err)) == FACTDB_TABLE_EXISTS)
        base_err(err, FACTDB_TABLE_EXISTS, "table \"%s\" already exists in the database file; nothing of it was "
                 "copied (drop it there to copy it again)", ti->name);
    base_buf q;
    base_buf_init(&q, 1 << 16);
    if (!rc && (base_buf_append(&q, "COPY ", 5) || pg_quote_ident(&q, ti->name) ||
                base_buf_append(&q, " TO STDOUT", 11)))
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
    PGresult *r = rc ? NULL : PQexec(pc->conn, (const char *)q.data);
    base_buf_cleanup(&q);
    if (!rc && PQresultStatus(r) != PGRES_COPY_OUT)
        rc = pg_result_error(r, FACTDB_IO, NULL, 0, err);
    bool copying = r && PQresultStatus(r) == PGRES_COPY_OUT;
    PQclear(r);
    uint64_t n = 0;
    for (char *line; copying;) {
        int len = PQgetCopyData(pc->conn, &line, 0);
        if (len < 0)
            break;
        if (!rc) {
            int nf = split_fields(line, len && line[len - 1] == '\n' ? (size_t)len - 1 : (size_t)len, starts, lens,
                                  (int)ti->ncols + 1);
            if (nf != (int)ti->ncols)
                rc = base_err(err, FACTDB_IO, "row %llu of table \"%s\" from PostgreSQL has %d fields, not %zu",
                              (unsigned long long)n + 1, ti->name, nf, ti->ncols);
            for (int k = 0; k < nf && !rc; k++)
                rc = lens[k] < 0 ? factdb_append_null(app, (size_t)k, err)
                     : ti->cols[k].type == FACTDB_TEXT
                         ? factdb_append_text(app, (size_t)k, starts[k], (size_t)lens[k], err)
                         : factdb_append_parse(app, (size_t)k, starts[k], (size_t)lens[k], err);
            if (!rc)
                rc = factdb_append_row_end(app, err);
            n++;
        }
        PQfreemem(line);
    }
    for (PGresult *x; copying && (x = PQgetResult(pc->conn));) {
        if (!rc && PQresultStatus(x) != PGRES_COMMAND_OK)
            rc = pg_result_error(x, FACTDB_IO, NULL, 0, err);
        PQclear(x);
    }
    if (!rc)
        rc = factdb_appender_commit(app, err);  /* the table and its rows, or nothing */
    if (!rc)
        *rows = n;
    factdb_appender_free(app);
    free(defs);
    free(starts);
    free(lens);
    return rc;
}

int pg_copy_to_file(const char *target, const char *db_path, pg_progress_fn progress, void *ctx, factdb_error *err)
{
    factdb *db;
    int rc = factdb_open(db_path, NULL, &db, err);
    if (rc)
        return rc;
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {target, "factdb copy", NULL};
    pg_conn pc = {.conn = PQconnectdbParams(keys, vals, 1)};
    if (PQstatus(pc.conn) != CONNECTION_OK) {
        rc = pg_conn_error(pc.conn, "cannot connect to PostgreSQL", err);
        PQfinish(pc.conn);
        factdb_close(db);
        return rc;
    }
    PQclear(PQexec(pc.conn, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1; "
                            "SET client_encoding = 'UTF8'"));
    http_table *list = NULL;
    size_t n = 0;
    rc = pg_read_tables(&pc, NULL, false, &list, &n, err);
    for (size_t i = 0; i < n && !rc; i++) {
        uint64_t rows = 0;
        rc = copy_table_back(db, &pc, &list[i], &rows, err);
        if (!rc && progress)
            progress(ctx, list[i].info.name, rows, i + 1, n);
    }
    pg_tables_free(NULL, list, n);
    PQfinish(pc.conn);
    factdb_close(db);
    return rc;
}

/* migrate.c: `factdb copy DB POSTGRESQL-URL` and back. There: every table of a database file into PostgreSQL
 * with its types (factdb's names are PostgreSQL's: numeric(p,s), timestamp with time zone ...), NOT NULL,
 * PRIMARY KEY and UNIQUE, one transaction per table (CREATE TABLE, then COPY FROM STDIN in text format), so
 * a table is there whole or not at all. A table that already exists in PostgreSQL is refused before anything
 * of it is sent. Each table's rows are streamed from one snapshot scan through the public API, one chunk in
 * memory at a time. Back: COPY TO STDOUT into an appender that creates the table, its keys and its rows in
 * one final transaction; a key factdb cannot hold is reported (pg_note_fn), never dropped in silence. */
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

/* Whether a relation (a table, an index: PostgreSQL's constraint names are index names, unique per schema
 * while factdb's are per table) named `name` exists in the current schema. */
static int relation_exists(PGconn *c, const char *name, bool *exists, factdb_error *err)
{
    const char *vals[1] = {name};
    PGresult *r = PQexecParams(c, "SELECT 1 FROM pg_catalog.pg_class WHERE relname = $1 AND relnamespace = "
                                  "(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema())",
                               1, NULL, vals, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : pg_result_error(r, FACTDB_IO, NULL, 0, err);
    *exists = !rc && PQntuples(r) > 0;
    PQclear(r);
    return rc;
}

/* Whether `name` is taken for a constraint of a table of the file: by a relation of the PostgreSQL schema
 * (constraint names are index names there, unique in a schema, while factdb's are unique per table), or by
 * a table of the file list[0..n), which will be created after it perhaps. */
static int name_taken(PGconn *c, const char *name, const factdb_table_info *list, size_t n, bool *taken,
                      factdb_error *err)
{
    *taken = false;
    for (size_t i = 0; i < n && !*taken; i++)
        *taken = !strcmp(list[i].name, name);
    return *taken ? 0 : relation_exists(c, name, taken, err);
}

/* CREATE TABLE for `t` in PostgreSQL (into q, NUL-terminated), with its PRIMARY KEY and UNIQUE constraints
 * under their names; a name that is taken (name_taken: e.g. "pk" in two tables of the file) gets the first
 * free number appended, as PostgreSQL names its own, and `note` says so. */
static int create_sql(PGconn *c, base_buf *q, const factdb_table_info *t, const factdb_table_info *list, size_t n,
                      pg_note_fn note, void *ctx, factdb_error *err)
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
    char chosen[FACTDB_MAX_KEYS][FACTDB_NAME_MAX + 1];
    for (size_t u = 0; u < t->nkeys && u < FACTDB_MAX_KEYS && !rc; u++) {
        const factdb_key_info *key = &t->keys[u];
        char *name = chosen[u];
        snprintf(name, FACTDB_NAME_MAX + 1, "%s", key->name);
        bool taken = true;
        for (int num = 1; taken && num < 1000; num++) {
            if ((rc = name_taken(c, name, list, n, &taken, err)))
                return rc;
            for (size_t v = 0; v < u && !taken; v++)  /* the name given to an earlier key of this table */
                taken = !strcmp(chosen[v], name);
            if (taken) {
                char suffix[8];
                int sl = snprintf(suffix, sizeof suffix, "%d", num);
                size_t keep = strlen(key->name) < (size_t)(FACTDB_NAME_MAX - sl) ? strlen(key->name)
                                                                                 : (size_t)(FACTDB_NAME_MAX - sl);
                snprintf(name, FACTDB_NAME_MAX + 1, "%.*s%s", (int)keep, key->name, suffix);
            }
        }
        if (taken)
            return base_err(err, FACTDB_INVALID_ARGUMENT, "table \"%s\": no free name for constraint \"%s\" in the "
                            "PostgreSQL schema", t->name, key->name);
        if (strcmp(name, key->name) && note) {
            char msg[300];
            snprintf(msg, sizeof msg, "table \"%s\": constraint \"%s\" is \"%s\" in PostgreSQL (its name is taken "
                     "there by another table or index, or by a table of the file)", t->name, key->name, name);
            note(ctx, msg);
        }
        rc = base_buf_append(q, ", CONSTRAINT ", 13) || pg_quote_ident(q, name) ||
             (key->primary ? base_buf_append(q, " PRIMARY KEY (", 14) : base_buf_append(q, " UNIQUE (", 9));
        for (size_t i = 0; i < key->ncols && !rc; i++)
            rc = (i && base_buf_append(q, ", ", 2)) || pg_quote_ident(q, t->cols[key->cols[i]].name);
        if (!rc)
            rc = base_buf_append(q, ")", 1);
    }
    if (!rc)
        rc = base_buf_append(q, ")", 2);  /* with its NUL */
    return rc ? base_err(err, FACTDB_NOMEM, "out of memory") : 0;
}

/* Value `row` of vector `v` (column k of scan sc) in COPY's text format. */
static int put_value(base_buf *b, factdb_scan *sc, size_t k, const factdb_vector *v, size_t row)
{
    if (v->valid && !v->valid[row])
        return pg_copy_text(b, NULL, 0);
    char buf[128];
    int64_t x;
    switch (v->type) {
    case FACTDB_TEXT: {
        size_t len = 0;
        const char *s = factdb_scan_text(sc, k, ((const uint32_t *)v->data)[row], &len);
        return s ? pg_copy_text(b, s, len) : -1;
    }
    case FACTDB_BOOLEAN: x = ((const uint8_t *)v->data)[row]; break;
    case FACTDB_INTEGER:
    case FACTDB_DATE: x = ((const int32_t *)v->data)[row]; break;
    default: memcpy(&x, (const char *)v->data + row * 8, 8); break;  /* int64, or a double's bits */
    }
    size_t n = factdb_format_value(v->type, v->scale, x, buf, sizeof buf);
    return pg_copy_text(b, buf, n);
}

/* Streams every row of table `t` to an open COPY on c: one chunk of the table (FACTDB_CHUNK_ROWS rows at
 * most) in memory at a time, all from the one snapshot of scan `sc`, sent in pieces of 256 KiB. */
static int send_rows(PGconn *c, factdb_scan *sc, const factdb_table_info *t, uint64_t *rows, factdb_error *err)
{
    base_buf b;
    base_buf_init(&b, (size_t)1 << 30);
    factdb_batch batch;
    factdb_batch_init(&batch);
    int rc = 0;
    uint64_t n = 0;
    while (!rc && !(rc = factdb_scan_next(sc, &batch, err)) && batch.count) {
        for (size_t row = 0; row < batch.count && !rc; row++) {
            for (size_t k = 0; k < batch.ncols && !rc; k++)
                rc = (k && base_buf_append(&b, "\t", 1)) || put_value(&b, sc, k, &batch.cols[k], row);
            if (!rc)
                rc = base_buf_append(&b, "\n", 1);
            if (rc) {
                rc = base_err(err, rc == -1 ? FACTDB_CORRUPT : FACTDB_NOMEM, rc == -1
                              ? "table \"%s\": a text value has no dictionary entry (run factdb check)"
                              : "out of memory", t->name);
            } else if (b.len >= ((size_t)256 << 10)) {
                if (PQputCopyData(c, (const char *)b.data, (int)b.len) != 1)
                    rc = pg_conn_error(c, "sending rows to PostgreSQL failed", err);
                b.len = 0;
            }
        }
        n += batch.count;
    }
    if (!rc && b.len && PQputCopyData(c, (const char *)b.data, (int)b.len) != 1)
        rc = pg_conn_error(c, "sending rows to PostgreSQL failed", err);
    factdb_batch_cleanup(&batch);
    base_buf_cleanup(&b);
    if (PQputCopyEnd(c, rc ? "factdb copy failed" : NULL) != 1 && !rc)
        rc = pg_conn_error(c, "ending COPY failed", err);
    for (PGresult *x; (x = PQgetResult(c));) {
        if (!rc && PQresultStatus(x) != PGRES_COMMAND_OK)
            rc = pg_result_error(x, FACTDB_IO, NULL, 0, err);
        PQclear(x);
    }
    *rows = n;
    return rc;
}

/* One table, in one transaction, its rows read from one snapshot of the file (a scan of the columns the
 * CREATE TABLE names, in their order). */
static int copy_table(factdb *db, PGconn *c, const factdb_table_info *t, const factdb_table_info *list, size_t n,
                      pg_note_fn note, void *ctx, uint64_t *rows, factdb_error *err)
{
    base_buf q;
    base_buf_init(&q, (size_t)1 << 20);
    factdb_scan *sc = NULL;
    const char **names = calloc(t->ncols ? t->ncols : 1, sizeof *names);
    int rc = names ? 0 : base_err(err, FACTDB_NOMEM, "out of memory");
    if (!rc)
        rc = create_sql(c, &q, t, list, n, note, ctx, err);
    if (!rc)
        rc = exec_ok(c, "BEGIN", err);
    if (!rc && (rc = exec_ok(c, (const char *)q.data, err)) == FACTDB_TABLE_EXISTS)
        base_err(err, FACTDB_TABLE_EXISTS, "table \"%s\" already exists in the PostgreSQL database; nothing of it "
                 "was copied (drop it there to copy it again)", t->name);
    for (size_t k = 0; k < t->ncols && !rc; k++)
        names[k] = t->cols[k].name;
    if (!rc)
        rc = factdb_scan_open(db, t->name, names, t->ncols, &sc, err);
    if (!rc) {
        q.len = 0;
        rc = base_buf_append(&q, "COPY ", 5) || pg_quote_ident(&q, t->name) || base_buf_append(&q, " FROM STDIN", 12)
                 ? base_err(err, FACTDB_NOMEM, "out of memory") : 0;
    }
    PGresult *r = rc ? NULL : PQexec(c, (const char *)q.data);
    if (!rc && PQresultStatus(r) != PGRES_COPY_IN)
        rc = pg_result_error(r, FACTDB_IO, NULL, 0, err);
    PQclear(r);
    if (!rc)
        rc = send_rows(c, sc, t, rows, err);
    if (!rc)
        rc = exec_ok(c, "COMMIT", err);
    if (rc)
        PQclear(PQexec(c, "ROLLBACK"));
    factdb_scan_free(sc);
    base_buf_cleanup(&q);
    free(names);
    return rc;
}

int pg_copy_from_file(const char *db_path, const char *target, pg_progress_fn progress, pg_note_fn note, void *ctx,
                      factdb_error *err)
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
        rc = copy_table(db, c, &list[i], list, n, note, ctx, &rows, err);
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

/* The PRIMARY KEY and UNIQUE constraints of the current schema's tables as PostgreSQL enforces them: every
 * unique index (those of PRIMARY KEY and UNIQUE constraints, and CREATE UNIQUE INDEX) and every exclusion
 * constraint, one row per key column (an expression is attnum 0), primary keys first, then in creation order.
 * Columns: table, key name (the constraint's, else the index's), primary, exclusion, partial, NULLS NOT
 * DISTINCT (PostgreSQL 15; read through to_jsonb so older servers answer too), key column name, its type
 * OID, the number of key columns, valid (false: a CREATE UNIQUE INDEX CONCURRENTLY that failed, whose rows
 * may hold duplicates). */
static const char KEYS[] =
    "SELECT c.relname, coalesce(con.conname, ic.relname), i.indisprimary, coalesce(con.contype = 'x', false), "
    "i.indpred IS NOT NULL, coalesce(to_jsonb(i) ->> 'indnullsnotdistinct', 'false') = 'true', "
    "coalesce(a.attname, ''), coalesce(a.atttypid, 0), i.indnkeyatts, i.indisvalid "
    "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
    "LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid "
    "AND con.contype IN ('p', 'u', 'x') "
    "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) "
    "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND (i.indisunique OR con.contype = 'x') "
    "AND k.ord <= i.indnkeyatts ORDER BY c.relname, i.indisprimary DESC, i.indexrelid, k.ord";

/* PostgreSQL types whose equality is the equality of their factdb type (a key over any other type, which
 * arrives as text or compares differently, e.g. numeric without a precision: '1.0' = '1.00', is skipped). */
static bool key_type_ok(Oid oid, const factdb_column_info *ci)
{
    switch (oid) {
    case 16: case 21: case 23: case 20: case 700: case 701: case 1082: case 1114: case 1184:
    case 25:    /* text */
    case 1043:  /* varchar */
        return true;
    case 1700: return ci->type == FACTDB_DECIMAL;
    default: return false;
    }
}

/* Adds to `app` (creating table ti) the keys of ti among the rows of `keys`; a key factdb cannot express is
 * left out and `note` says which and why. */
static int add_keys(factdb_appender *app, const factdb_table_info *ti, PGresult *keys, pg_note_fn note, void *ctx,
                    factdb_error *err)
{
    int rows = PQntuples(keys), rc = 0;
    for (int i = 0; i < rows && !rc;) {
        int end = i + 1;
        while (end < rows && !strcmp(PQgetvalue(keys, end, 0), PQgetvalue(keys, i, 0)) &&
               !strcmp(PQgetvalue(keys, end, 1), PQgetvalue(keys, i, 1)))
            end++;
        if (strcmp(PQgetvalue(keys, i, 0), ti->name)) {
            i = end;
            continue;
        }
        const char *name = PQgetvalue(keys, i, 1), *why = NULL;
        bool primary = PQgetvalue(keys, i, 2)[0] == 't';
        uint16_t cols[FACTDB_KEY_MAX_COLUMNS];
        char whybuf[200];
        int nk = atoi(PQgetvalue(keys, i, 8));
        if (PQgetvalue(keys, i, 3)[0] == 't')
            why = "an exclusion constraint (factdb has PRIMARY KEY and UNIQUE only)";
        else if (PQgetvalue(keys, i, 9)[0] != 't')
            why = "an invalid index (a CREATE UNIQUE INDEX CONCURRENTLY that failed): its rows may repeat a key";
        else if (PQgetvalue(keys, i, 4)[0] == 't')
            why = "a partial unique index (WHERE ...): factdb's keys cover every row";
        else if (PQgetvalue(keys, i, 5)[0] == 't')
            why = "NULLS NOT DISTINCT: in factdb a row with a NULL in its key never conflicts";
        else if (nk > FACTDB_KEY_MAX_COLUMNS || end - i != nk)
            why = nk > FACTDB_KEY_MAX_COLUMNS ? "more columns than factdb's 16 per key" : "an index over an expression";
        for (int j = i; j < end && !why; j++) {
            const char *col = PQgetvalue(keys, j, 6);
            size_t k = 0;
            while (k < ti->ncols && strcmp(ti->cols[k].name, col))
                k++;
            if (!*col || k == ti->ncols) {
                why = "an index over an expression";
            } else if (!key_type_ok((Oid)strtoul(PQgetvalue(keys, j, 7), NULL, 10), &ti->cols[k])) {
                snprintf(whybuf, sizeof whybuf, "column \"%.63s\" has a type factdb does not have (it arrives as "
                         "text, whose equality is not PostgreSQL's for that type)", col);
                why = whybuf;
            }
            cols[j - i] = (uint16_t)k;
        }
        if (!why) {
            rc = factdb_appender_add_key(app, name, primary, cols, (size_t)nk, err);
            if (rc == FACTDB_INVALID_ARGUMENT) {  /* more than 8 keys, or the same columns twice */
                snprintf(whybuf, sizeof whybuf, "%.150s", err->message);
                why = whybuf;
                rc = 0;
            }
        }
        if (why && note) {
            char msg[400];
            snprintf(msg, sizeof msg, "table \"%s\": key \"%s\" skipped: %s", ti->name, name, why);
            note(ctx, msg);
        }
        i = end;
    }
    return rc;
}

/* One PostgreSQL table into the file, created with its rows atomically. */
static int copy_table_back(factdb *db, pg_conn *pc, const http_table *t, PGresult *keys, pg_note_fn note, void *ctx,
                           uint64_t *rows, factdb_error *err)
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
    if (!rc)
        rc = add_keys(app, ti, keys, note, ctx, err);
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

int pg_copy_to_file(const char *target, const char *db_path, pg_progress_fn progress, pg_note_fn note, void *ctx,
                    factdb_error *err)
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
    PGresult *kr = rc ? NULL : PQexec(pc.conn, KEYS);
    if (!rc && PQresultStatus(kr) != PGRES_TUPLES_OK)
        rc = pg_result_error(kr, FACTDB_IO, NULL, 0, err);
    for (size_t i = 0; i < n && !rc; i++) {
        uint64_t rows = 0;
        rc = copy_table_back(db, &pc, &list[i], kr, note, ctx, &rows, err);
        if (!rc && progress)
            progress(ctx, list[i].info.name, rows, i + 1, n);
    }
    PQclear(kr);
    pg_tables_free(NULL, list, n);
    PQfinish(pc.conn);
    factdb_close(db);
    return rc;
}

/* catalog.c: the tables of the PostgreSQL database as /v1/tables lists them and as inserts check rows
 * against: the ordinary and partitioned tables of the current schema (search_path's first), their columns
 * in order with factdb's types, and for /v1/tables their row counts (exact for small tables, PostgreSQL's
 * estimate for large ones). Read from pg_catalog rather than information_schema because it gives each
 * column's type OID and typmod, which results are named by (types.c): one mapping for both. */
#include "pg_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char COLUMNS[] =
    "SELECT c.relname, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.atthasdef OR a.attidentity <> '' "
    "OR a.attgenerated <> '' FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped "
    "AND ($1::text IS NULL OR c.relname = $1) ORDER BY c.relname, a.attnum";

/* The factdb type values of a column of PostgreSQL type `oid` are parsed as before they are sent. A type
 * factdb does not have is TEXT: its text goes to PostgreSQL as given, which checks it. */
static void factdb_type_of(Oid oid, int typmod, factdb_column_info *ci)
{
    ci->precision = ci->scale = 0;
    switch (oid) {
    case 16: ci->type = FACTDB_BOOLEAN; break;
    case 21:
    case 23: ci->type = FACTDB_INTEGER; break;
    case 20: ci->type = FACTDB_BIGINT; break;
    case 700:
    case 701: ci->type = FACTDB_DOUBLE; break;
    case 1082: ci->type = FACTDB_DATE; break;
    case 1114: ci->type = FACTDB_TIMESTAMP; break;
    case 1184: ci->type = FACTDB_TIMESTAMPTZ; break;
    case 1700:
        if (typmod >= 4 && ((typmod - 4) >> 16) <= 18) {
            ci->type = FACTDB_DECIMAL;
            ci->precision = (typmod - 4) >> 16;
            ci->scale = (typmod - 4) & 0xffff;
            break;
        }
        ci->type = FACTDB_TEXT;  /* unconstrained or wider than 18 digits: PostgreSQL parses it */
        break;
    default: ci->type = FACTDB_TEXT; break;
    }
}

/* Each table's estimated rows: the larger of pg_class.reltuples (as of its last VACUUM, ANALYZE or CREATE
 * INDEX; -1 before any) and pg_stat's n_live_tup (counted as transactions commit, flushed within a second),
 * summed over the leaf partitions of a partitioned table. */
static const char ESTIMATES[] =
    "SELECT c.relname, greatest(sum(greatest(l.reltuples, 0)::float8), sum(coalesce(s.n_live_tup, 0)))::bigint "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "CROSS JOIN LATERAL (SELECT c.oid AS relid WHERE c.relkind = 'r' UNION ALL "
    "SELECT t.relid FROM pg_catalog.pg_partition_tree(c.oid) t WHERE c.relkind = 'p' AND t.isleaf) leaf "
    "JOIN pg_catalog.pg_class l ON l.oid = leaf.relid "
    "LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = leaf.relid "
    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') GROUP BY c.relname";

/* Below this many estimated rows a table is counted exactly (count(*): measured 0.18 s for 2M rows on the
 * 2-core test machine, so a dashboard load stays well under a second); at or above it /v1/tables answers
 * the estimate, flagged. 2M and not 1M so that the demo's 1,000,000 rows stay exact. */
#define PG_EXACT_COUNT_BELOW 2000000

/* Fills the row counts of t[0..n): exact for small tables, PostgreSQL's estimate (row_count_estimated) for
 * large ones and for a table this role may not read. */
static int read_counts(pg_conn *c, http_table *t, size_t n, factdb_error *err)
{
    PGresult *r = PQexec(c->conn, ESTIMATES);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = pg_result_error(r, FACTDB_IO, NULL, 0, err);
        PQclear(r);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        int k = 0;
        while (k < PQntuples(r) && strcmp(PQgetvalue(r, k, 0), t[i].info.name))
            k++;
        long long est = k < PQntuples(r) ? strtoll(PQgetvalue(r, k, 1), NULL, 10) : 0;
        t[i].info.row_count = est > 0 ? (uint64_t)est : 0;
        t[i].row_count_known = t[i].row_count_estimated = true;
        if (est >= PG_EXACT_COUNT_BELOW)
            continue;
        base_buf q;
        base_buf_init(&q, 4096);
        if (base_buf_append(&q, "SELECT count(*) FROM ", 21) || pg_quote_ident(&q, t[i].info.name) ||
            base_buf_append(&q, "", 1)) {
            base_buf_cleanup(&q);
            PQclear(r);
            return base_err(err, FACTDB_NOMEM, "out of memory");
        }
        PGresult *cr = PQexec(c->conn, (const char *)q.data);
        base_buf_cleanup(&q);
        if (PQresultStatus(cr) == PGRES_TUPLES_OK && PQntuples(cr) == 1) {
            t[i].info.row_count = strtoull(PQgetvalue(cr, 0, 0), NULL, 10);
            t[i].row_count_estimated = false;
        }  /* a table this role may not read keeps its estimate */
        PQclear(cr);
    }
    PQclear(r);
    return 0;
}

void pg_tables_free(http_backend *b, http_table *list, size_t n)
{
    (void)b;
    for (size_t i = 0; list && i < n; i++) {
        free(list[i].info.cols);
        free(list[i].types);
        free(list[i].has_default);
    }
    free(list);
}

int pg_read_tables(pg_conn *c, const char *only, bool counts, http_table **out, size_t *n, factdb_error *err)
{
    *out = NULL;
    *n = 0;
    const char *vals[1] = {only};
    PGresult *r = PQexecParams(c->conn, COLUMNS, 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = pg_result_error(r, FACTDB_IO, NULL, 0, err);
        PQclear(r);
        return rc;
    }
    int rows = PQntuples(r);
    size_t nt = 0;
    for (int i = 0; i < rows; i++)
        nt += i == 0 || strcmp(PQgetvalue(r, i, 0), PQgetvalue(r, i - 1, 0));
    http_table *t = calloc(nt ? nt : 1, sizeof *t);
    int rc = t ? 0 : base_err(err, FACTDB_NOMEM, "out of memory");
    size_t ti = 0;
    for (int i = 0; i < rows && !rc;) {
        int end = i + 1;
        while (end < rows && !strcmp(PQgetvalue(r, end, 0), PQgetvalue(r, i, 0)))
            end++;
        http_table *x = &t[ti++];
        size_t nc = (size_t)(end - i);
        x->info.cols = calloc(nc, sizeof *x->info.cols);
        x->types = calloc(nc, sizeof *x->types);
        x->has_default = calloc(nc, 1);
        if (!x->info.cols || !x->types || !x->has_default) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory");
            break;
        }
        snprintf(x->info.name, sizeof x->info.name, "%s", PQgetvalue(r, i, 0));
        x->info.ncols = nc;
        for (size_t k = 0; k < nc; k++) {
            int row = i + (int)k;
            factdb_column_info *ci = &x->info.cols[k];
            Oid oid = (Oid)strtoul(PQgetvalue(r, row, 2), NULL, 10);
            int typmod = atoi(PQgetvalue(r, row, 3));
            snprintf(ci->name, sizeof ci->name, "%s", PQgetvalue(r, row, 1));
            ci->not_null = PQgetvalue(r, row, 4)[0] == 't';
            x->has_default[k] = PQgetvalue(r, row, 5)[0] == 't';
            factdb_type_of(oid, typmod, ci);
            pg_type_name(c, oid, typmod, false, x->types[k], sizeof x->types[k]);
        }
        i = end;
    }
    PQclear(r);
    if (counts && !rc)
        rc = read_counts(c, t, ti, err);
    if (rc) {
        pg_tables_free(NULL, t, ti);
        return rc;
    }
    *out = t;
    *n = ti;
    return 0;
}

int pg_tables(http_backend *b, http_table **out, size_t *n, factdb_error *err)
{
    pg_conn *c;
    int rc = pg_pool_get(b, &c, err);
    if (rc)
        return rc;
    rc = pg_read_tables(c, NULL, true, out, n, err);
    pg_pool_put(b, c);
    return rc;
}

int pg_table(http_backend *b, const char *name, http_table **out, factdb_error *err)
{
    pg_conn *c;
    int rc = pg_pool_get(b, &c, err);
    if (rc)
        return rc;
    size_t n;
    rc = pg_read_tables(c, name, false, out, &n, err);
    pg_pool_put(b, c);
    if (!rc && n == 0) {
        pg_tables_free(b, *out, 0);
        *out = NULL;
        rc = base_err(err, FACTDB_NO_TABLE, "table \"%.80s\" does not exist", name);
    }
    return rc;
}

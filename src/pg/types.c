/* types.c: PostgreSQL's types under factdb's names. Results and /v1/tables answer the type names factdb
 * answers for the same query or table (measured against it: a numeric(12,2) column is "numeric" in a result
 * and "numeric(12,2)" in /v1/tables; timestamp is "timestamp without time zone" in a result and "timestamp"
 * in /v1/tables), numbers and booleans go into JSON as
 * numbers and booleans; a type factdb does not have keeps PostgreSQL's own name (format_type). */
#include "pg_int.h"
#include <stdio.h>
#include <string.h>

/* Type OIDs (pg_type.dat): fixed since PostgreSQL 7. */
enum {
    OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25, OID_OID = 26, OID_FLOAT4 = 700,
    OID_FLOAT8 = 701, OID_BPCHAR = 1042, OID_VARCHAR = 1043, OID_DATE = 1082, OID_TIME = 1083,
    OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184, OID_INTERVAL = 1186, OID_NUMERIC = 1700, OID_UNKNOWN = 705
};

void pg_type_name(pg_conn *c, Oid type, int typmod, bool result, char *buf, size_t cap)
{
    const char *n = NULL;
    switch (type) {
    case OID_BOOL: n = "boolean"; break;
    case OID_INT2: n = "smallint"; break;
    case OID_INT4: n = "integer"; break;
    case OID_INT8: n = "bigint"; break;
    case OID_FLOAT4: n = "real"; break;
    case OID_FLOAT8: n = "double precision"; break;
    case OID_TEXT:
    case OID_UNKNOWN: n = "text"; break;
    case OID_DATE: n = "date"; break;
    case OID_TIMESTAMP: n = result ? "timestamp without time zone" : "timestamp"; break;
    case OID_TIMESTAMPTZ: n = "timestamp with time zone"; break;
    case OID_INTERVAL: n = "interval"; break;
    case OID_NUMERIC:
        /* typmod = ((precision << 16) | scale) + VARHDRSZ; -1 when unconstrained */
        if (typmod >= 4 && !result) {
            snprintf(buf, cap, "numeric(%d,%d)", ((typmod - 4) >> 16) & 0xffff, (typmod - 4) & 0xffff);
            return;
        }
        n = "numeric";
        break;
    default: break;
    }
    if (n) {
        snprintf(buf, cap, "%s", n);
        return;
    }
    /* PostgreSQL's own spelling ("character varying(20)", "uuid", "jsonb") */
    char t[16], m[16];
    snprintf(t, sizeof t, "%u", (unsigned)type);
    snprintf(m, sizeof m, "%d", typmod);
    const char *vals[2] = {t, m};
    PGresult *r = c && c->conn ? PQexecParams(c->conn, "SELECT format_type($1::oid, $2::int)", 2, NULL, vals, NULL,
                                              NULL, 0)
                               : NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        snprintf(buf, cap, "%s", PQgetvalue(r, 0, 0));
    else
        snprintf(buf, cap, "unknown");
    PQclear(r);
}

int pg_json_kind(Oid type)
{
    switch (type) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC: return 1;
    case OID_BOOL: return 2;
    default: return 0;
    }
}

int pg_quote_ident(base_buf *b, const char *name)
{
    int rc = base_buf_append(b, "\"", 1);
    for (const char *p = name; *p && !rc; p++)
        rc = *p == '"' ? base_buf_append(b, "\"\"", 2) : base_buf_append(b, p, 1);
    return rc ? rc : base_buf_append(b, "\"", 1);
}

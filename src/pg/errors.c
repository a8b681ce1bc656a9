/* errors.c: PostgreSQL's errors as factdb's: the SQLSTATE chooses the code (so the HTTP status and the
 * "code" of the JSON answer are those the embedded engine gives for the same mistake), PostgreSQL's message
 * and hint are kept, and its statement position (in characters) becomes our 1-based byte offset. */
#include "pg_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int code_of(const char *st, int fallback)
{
    if (!st || strlen(st) != 5)
        return fallback;
    static const struct {
        const char *state;
        int code;
    } EXACT[] = {
        {"42P01", FACTDB_NO_TABLE},          /* undefined_table */
        {"42703", FACTDB_INVALID_ARGUMENT},  /* undefined_column: as factdb answers it in SQL */
        {"42P07", FACTDB_TABLE_EXISTS},      /* duplicate_table */
        {"23502", FACTDB_NOT_NULL},          /* not_null_violation */
        {"23505", FACTDB_UNIQUE_VIOLATION},  /* unique_violation */
        {"42501", FACTDB_PERMISSION},        /* insufficient_privilege */
        {"25006", FACTDB_PERMISSION},        /* read_only_sql_transaction (a standby) */
        {"40001", FACTDB_BUSY},              /* serialization_failure */
        {"40P01", FACTDB_BUSY},              /* deadlock_detected */
        {"55P03", FACTDB_BUSY},              /* lock_not_available */
        {"57014", FACTDB_INTERNAL},          /* query_canceled: the handler tells a timeout */
        {"53100", FACTDB_FULL},              /* disk_full */
        {"53200", FACTDB_NOMEM},             /* out_of_memory */
        {"53300", FACTDB_BUSY},              /* too_many_connections */
        {"22021", FACTDB_INVALID_UTF8},      /* character_not_in_repertoire */
        {"22P04", FACTDB_BAD_CSV},           /* bad_copy_file_format */
    };
    for (size_t i = 0; i < sizeof EXACT / sizeof EXACT[0]; i++)
        if (!strcmp(st, EXACT[i].state))
            return EXACT[i].code;
    if (!strncmp(st, "22", 2) || !strncmp(st, "23", 2))
        return FACTDB_INVALID_VALUE;  /* data exceptions, other constraints (check, foreign key) */
    if (!strncmp(st, "42", 2) || !strncmp(st, "0A", 2) || !strncmp(st, "25", 2) || !strncmp(st, "34", 2) ||
        !strncmp(st, "26", 2) || !strncmp(st, "2B", 2))
        return FACTDB_INVALID_ARGUMENT;  /* syntax, names, types; unsupported; transaction state */
    if (!strncmp(st, "54", 2))
        return FACTDB_LIMIT;        /* program_limit_exceeded */
    if (!strncmp(st, "53", 2) || !strncmp(st, "08", 2) || !strncmp(st, "57", 2) || !strncmp(st, "58", 2))
        return FACTDB_IO;           /* resources, connection, operator intervention, system */
    if (!strncmp(st, "XX", 2))
        return FACTDB_CORRUPT;      /* internal_error, data_corrupted, index_corrupted */
    return fallback;
}

/* The 1-based byte offset of the 1-based character position `chars` in sql[0..len) (UTF-8). */
static int64_t byte_offset(const char *sql, size_t len, long chars)
{
    size_t at = 0;
    for (long n = 1; n < chars && at < len; n++) {
        at++;
        while (at < len && ((unsigned char)sql[at] & 0xC0) == 0x80)
            at++;
    }
    return (int64_t)at + 1;
}

/* Copies `s` into out[cap] on one line: libpq's messages end with a newline and continue on lines that
 * start with a tab ("...failed: Connection refused\n\tIs the server running ..."). */
static void trimmed(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; s && *s && n + 1 < cap; s++) {
        char ch = *s == '\n' || *s == '\t' || *s == '\r' ? ' ' : *s;
        if (ch != ' ' || (n && out[n - 1] != ' '))
            out[n++] = ch;
    }
    while (n && out[n - 1] == ' ')
        n--;
    if (cap)
        out[n] = 0;
}

int pg_result_error(const PGresult *r, int fallback, const char *sql, size_t len, factdb_error *err)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int code = code_of(st, fallback ? fallback : FACTDB_IO);
    char msg[600], hint[300] = "", detail[300] = "";
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!r) {
        snprintf(msg, sizeof msg, "PostgreSQL returned no result (out of memory, or the connection was lost)");
    } else if (primary) {
        trimmed(primary, msg, sizeof msg);
    } else {
        trimmed(PQresultErrorMessage(r), msg, sizeof msg);
        if (!msg[0])
            snprintf(msg, sizeof msg, "PostgreSQL answered %s", PQresStatus(PQresultStatus(r)));
    }
    if (r) {
        trimmed(PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL), detail, sizeof detail);
        trimmed(PQresultErrorField(r, PG_DIAG_MESSAGE_HINT), hint, sizeof hint);
    }
    /* PostgreSQL's "cannot execute COPY during recovery" says what, not what to do */
    if (st && !strcmp(st, "25006") && !hint[0])
        snprintf(hint, sizeof hint, "this PostgreSQL server or transaction is read-only (a standby takes no "
                 "writes): send writes to a server on the primary");
    base_err(err, code, "%s%s%s%s%s%s%s%s", msg, detail[0] ? " (" : "", detail, detail[0] ? ")" : "",
             hint[0] ? "; " : "", hint, st ? " [SQLSTATE " : "", st ? st : "");
    if (st) {
        size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n, "]");
    }
    const char *pos = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
    long chars = pos ? strtol(pos, NULL, 10) : 0;
    if (chars > 0 && sql)
        err->position = byte_offset(sql, len, chars);
    return code;
}

int pg_conn_error(const PGconn *c, const char *what, factdb_error *err)
{
    char msg[600];
    trimmed(c ? PQerrorMessage(c) : "out of memory", msg, sizeof msg);
    return base_err(err, FACTDB_IO, "%s: %s", what, msg);
}

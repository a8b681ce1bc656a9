/* csv.c: an RFC 4180 record reader over one in-memory buffer. Fields point into the input unless they
 * contain doubled quotes, which are unescaped into a scratch buffer. Records end at LF or CRLF; quoted
 * fields may span lines (line numbers count physical lines). */
#include "ingest.h"
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 100000
#define MAX_RECORD ((size_t)64 << 20)

void csv_init(csv_reader *r, const ingest_input *in, char delim)
{
    memset(r, 0, sizeof *r);
    r->p = r->base = in->data;
    r->end = in->len ? in->data + in->len : in->data;  /* an empty input may have no buffer: no NULL + 0 */
    r->delim = delim;
    r->line = 1;
    base_buf_init(&r->scratch, MAX_RECORD);
    /* Skip a UTF-8 byte order mark. */
    if (in->len >= 3 && !memcmp(in->data, "\xEF\xBB\xBF", 3))
        r->p += 3;
}

void csv_cleanup(csv_reader *r)
{
    free(r->fields);
    base_buf_cleanup(&r->scratch);
}

static int add_field(csv_reader *r, factdb_error *err)
{
    if (r->nfields == r->cap) {
        if (r->cap >= MAX_FIELDS)
            return -base_err_at(err, FACTDB_LIMIT, r->line, 0, (int64_t)(r->p - r->base),
                                "line %lld has more than %d fields", (long long)r->line, MAX_FIELDS);
        size_t cap = r->cap ? r->cap * 2 : 64;
        csv_field *f = realloc(r->fields, cap * sizeof *f);
        if (!f)
            return -base_err(err, FACTDB_NOMEM, "out of memory reading CSV");
        r->fields = f;
        r->cap = cap;
    }
    r->nfields++;
    return 0;
}

int csv_next(csv_reader *r, factdb_error *err)
{
    const unsigned char *p = r->p, *end = r->end;
    r->nfields = 0;
    r->scratch.len = 0;
    /* Skip blank lines between records. */
    while (p < end && (*p == '\n' || *p == '\r')) {
        if (*p == '\n')
            r->line++;
        p++;
    }
    if (p >= end) {
        r->p = p;
        return 0;
    }
    const char delim = r->delim;
    for (;;) {
        int rc = add_field(r, err);
        if (rc)
            return rc;
        csv_field *f = &r->fields[r->nfields - 1];
        f->offset = (size_t)(p - r->base);
        f->line = r->line;
        f->quoted = 0;
        if (p < end && *p == '"') {
            f->quoted = 1;
            const unsigned char *start = ++p;
            int escaped = 0;
            for (;;) {
                const unsigned char *q = memchr(p, '"', (size_t)(end - p));
                if (!q)
                    return -base_err_at(err, FACTDB_BAD_CSV, f->line, (int64_t)r->nfields, (int64_t)f->offset,
                                        "unterminated quoted field starting at line %lld, field %zu (file byte %zu); "
                                        "close the quote",
                                        (long long)f->line, r->nfields, f->offset);
                for (const unsigned char *c = p; c < q; c++)
                    if (*c == '\n')
                        r->line++;
                if (q + 1 < end && q[1] == '"') {
                    escaped = 1;
                    p = q + 2;
                    continue;
                }
                p = q;
                break;
            }
            if (escaped) {
                /* Store the unescaped text in scratch; the offset is fixed up below. */
                size_t start_len = r->scratch.len;
                for (const unsigned char *c = start; c < p; c++) {
                    if (*c == '"')
                        c++;
                    if (base_buf_append(&r->scratch, c, 1))
                        return -base_err_at(err, FACTDB_LIMIT, f->line, (int64_t)r->nfields, (int64_t)f->offset,
                                            "a record starting at line %lld is larger than %zu bytes",
                                            (long long)f->line, MAX_RECORD);
                }
                f->s = (const char *)(uintptr_t)start_len;  /* resolved after the record is complete */
                f->len = r->scratch.len - start_len;
                f->quoted = 2;
            } else {
                f->s = (const char *)start;
                f->len = (size_t)(p - start);
            }
            p++;  /* closing quote */
            if (p < end && *p != delim && *p != '\n' && *p != '\r')
                return -base_err_at(err, FACTDB_BAD_CSV, r->line, (int64_t)r->nfields, (int64_t)(p - r->base),
                                    "unexpected character after a closing quote at line %lld, field %zu (file byte "
                                    "%zu); double quotes inside a quoted field must be written as \"\"",
                                    (long long)r->line, r->nfields, (size_t)(p - r->base));
        } else {
            const unsigned char *start = p;
            while (p < end && *p != delim && *p != '\n' && *p != '\r')
                p++;
            f->s = (const char *)start;
            f->len = (size_t)(p - start);
        }
        if (p < end && *p == delim) {
            p++;
            continue;
        }
        /* end of record */
        if (p < end && *p == '\r')
            p++;
        if (p < end && *p == '\n') {
            p++;
            r->line++;
        }
        break;
    }
    /* Text never holds NUL (PostgreSQL rejects it too); a NUL in a header used to cut the column name
     * short silently. One memchr over the record, so clean files pay almost nothing. */
    const unsigned char *rec = r->base + r->fields[0].offset, *nul = memchr(rec, 0, (size_t)(p - rec));
    if (nul) {
        size_t at = (size_t)(nul - r->base), field = 1;
        int64_t line = r->fields[0].line;
        for (size_t i = 1; i < r->nfields; i++)
            if (r->fields[i].offset <= at)
                field = i + 1;
        for (const unsigned char *c = rec; c < nul; c++)
            line += *c == '\n';
        return -base_err_at(err, FACTDB_BAD_CSV, line, (int64_t)field, (int64_t)at,
                            "NUL byte (0x00) at line %lld, field %zu (file byte %zu): text cannot contain NUL bytes; "
                            "remove them from the file (e.g. tr -d '\\000')",
                            (long long)line, field, at);
    }
    for (size_t i = 0; i < r->nfields; i++)
        if (r->fields[i].quoted == 2)
            r->fields[i].s = (const char *)r->scratch.data + (uintptr_t)r->fields[i].s;
    r->p = p;
    return 1;
}

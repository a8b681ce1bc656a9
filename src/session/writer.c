/* writer.c: renders results as JSON, NDJSON or CSV a piece at a time (factdb_writer_*). The writer keeps
 * one row's text in a small buffer and hands it out in whatever sizes the caller asks for, so an HTTP
 * response or a pipe can stream a result of any length. */
#include "base/base.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct factdb_writer {
    const factdb_result *r;
    factdb_format fmt;
    char *extra;
    uint64_t row, nrows;
    int stage;          /* 0 header, 1 rows, 2 trailer, 3 done */
    base_buf out;       /* pending text */
    size_t at;          /* bytes of out already handed out */
};

size_t factdb_json_quote(const char *s, size_t len, char *buf, size_t cap)
{
    size_t o = 0;
#define PUT(c)                \
    do {                      \
        if (o + 1 < cap)      \
            buf[o] = (char)(c); \
        o++;                  \
    } while (0)
    PUT('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            PUT('\\');
            PUT(c);
        } else if (c == '\n') {
            PUT('\\');
            PUT('n');
        } else if (c == '\r') {
            PUT('\\');
            PUT('r');
        } else if (c == '\t') {
            PUT('\\');
            PUT('t');
        } else if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            PUT('\\');
            PUT('u');
            PUT('0');
            PUT('0');
            PUT(hex[c >> 4]);
            PUT(hex[c & 15]);
        } else {
            PUT(c);
        }
    }
    PUT('"');
#undef PUT
    if (cap)
        buf[o < cap ? o : cap - 1] = 0;
    return o;
}

static int put(factdb_writer *w, const char *s, size_t n)
{
    return base_buf_append(&w->out, s, n);
}

static int put_json_string(factdb_writer *w, const char *s, size_t len)
{
    size_t need = len * 6 + 3;
    if (base_buf_reserve(&w->out, need))
        return FACTDB_NOMEM;
    size_t n = factdb_json_quote(s, len, (char *)w->out.data + w->out.len, need);
    w->out.len += n;
    return 0;
}

static int put_value_json(factdb_writer *w, uint64_t row, size_t col)
{
    char buf[128];
    size_t len;
    const char *v = factdb_result_text(w->r, row, col, buf, sizeof buf, &len);
    if (!v)
        return put(w, "null", 4);
    int kind = factdb_result_json_kind(w->r, col);
    if (kind == 1 && (v[0] == 'N' || v[0] == 'I' || (v[0] == '-' && v[1] == 'I')))
        kind = 0;  /* NaN and infinities are not JSON numbers */
    return kind ? put(w, v, len) : put_json_string(w, v, len);
}

size_t factdb_csv_quote(const char *s, size_t len, bool is_text, char *buf, size_t cap)
{
    bool quote = is_text && len == 0;
    for (size_t i = 0; i < len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    size_t o = 0;
#define PUTC(ch) do { if (o < cap) buf[o] = (ch); o++; } while (0)
    if (quote)
        PUTC('"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            PUTC('"');
        PUTC(s[i]);
    }
    if (quote)
        PUTC('"');
#undef PUTC
    return o < cap ? o : cap;
}

static int put_csv_field(factdb_writer *w, const char *s, size_t len, bool is_text)
{
    size_t need = len * 2 + 2;
    if (base_buf_reserve(&w->out, need))
        return FACTDB_NOMEM;
    w->out.len += factdb_csv_quote(s, len, is_text, (char *)w->out.data + w->out.len, need);
    return 0;
}

/* Renders the next piece (header, one row or the trailer) into w->out. */
static int render(factdb_writer *w)
{
    const factdb_result *r = w->r;
    size_t nc = factdb_result_ncols(r);
    int rc = 0;
    if (w->stage == 0) {
        w->stage = 1;
        if (w->fmt == FACTDB_FORMAT_JSON) {
            rc = put(w, "{\"columns\":[", 12);
            for (size_t c = 0; c < nc && !rc; c++) {
                const char *n = factdb_result_column_name(r, c), *t = factdb_result_column_type(r, c);
                rc = put(w, c ? ",{\"name\":" : "{\"name\":", c ? 9 : 8);
                if (!rc)
                    rc = put_json_string(w, n, strlen(n));
                if (!rc)
                    rc = put(w, ",\"type\":", 8);
                if (!rc)
                    rc = put_json_string(w, t, strlen(t));
                if (!rc)
                    rc = put(w, "}", 1);
            }
            if (!rc)
                rc = put(w, "],\"rows\":[", 10);
        } else if (w->fmt == FACTDB_FORMAT_CSV) {
            for (size_t c = 0; c < nc && !rc; c++) {
                const char *n = factdb_result_column_name(r, c);
                if (c)
                    rc = put(w, ",", 1);
                if (!rc)
                    rc = put_csv_field(w, n, strlen(n), false);
            }
            if (!rc)
                rc = put(w, "\n", 1);
        }
        return rc;
    }
    if (w->stage == 1) {
        if (w->row >= w->nrows) {
            w->stage = 2;
            return 0;
        }
        uint64_t i = w->row++;
        if (w->fmt == FACTDB_FORMAT_JSON) {
            rc = put(w, i ? ",[" : "[", i ? 2 : 1);
            for (size_t c = 0; c < nc && !rc; c++) {
                if (c)
                    rc = put(w, ",", 1);
                if (!rc)
                    rc = put_value_json(w, i, c);
            }
            if (!rc)
                rc = put(w, "]", 1);
        } else if (w->fmt == FACTDB_FORMAT_NDJSON) {
            rc = put(w, "{", 1);
            for (size_t c = 0; c < nc && !rc; c++) {
                const char *n = factdb_result_column_name(r, c);
                if (c)
                    rc = put(w, ",", 1);
                if (!rc)
                    rc = put_json_string(w, n, strlen(n));
                if (!rc)
                    rc = put(w, ":", 1);
                if (!rc)
                    rc = put_value_json(w, i, c);
            }
            if (!rc)
                rc = put(w, "}\n", 2);
        } else {
            char buf[128];
            for (size_t c = 0; c < nc && !rc; c++) {
                size_t len;
                if (c)
                    rc = put(w, ",", 1);
                const char *v = factdb_result_text(r, i, c, buf, sizeof buf, &len);
                if (!rc && v)
                    rc = put_csv_field(w, v, len, factdb_result_json_kind(r, c) == 0);
            }
            if (!rc)
                rc = put(w, "\n", 1);
        }
        return rc;
    }
    w->stage = 3;
    if (w->fmt == FACTDB_FORMAT_JSON) {
        char tail[64];
        int n = snprintf(tail, sizeof tail, "],\"row_count\":%llu", (unsigned long long)w->nrows);
        rc = put(w, tail, (size_t)n);
        if (!rc && w->extra)
            rc = put(w, w->extra, strlen(w->extra));
        if (!rc)
            rc = put(w, "}\n", 2);
    }
    return rc;
}

int factdb_writer_new(const factdb_result *r, factdb_format fmt, const char *extra, factdb_writer **out,
                      factdb_error *err)
{
    *out = NULL;
    if (fmt != FACTDB_FORMAT_JSON && fmt != FACTDB_FORMAT_NDJSON && fmt != FACTDB_FORMAT_CSV)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "unknown output format %d", (int)fmt);
    factdb_writer *w = calloc(1, sizeof *w);
    if (!w || (extra && !(w->extra = strdup(extra)))) {
        free(w);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    w->r = r;
    w->fmt = fmt;
    w->nrows = factdb_result_nrows(r);
    base_buf_init(&w->out, (size_t)1 << 34);  /* one row: up to 1000 columns of 1 MiB text, escaped */
    *out = w;
    return 0;
}

size_t factdb_writer_read(factdb_writer *w, char *buf, size_t cap)
{
    size_t o = 0;
    while (o < cap) {
        if (w->at == w->out.len) {
            w->out.len = 0;
            w->at = 0;
            if (w->stage == 3 || render(w))
                break;  /* the end, or out of memory (the output stops short) */
            continue;
        }
        size_t n = MIN(cap - o, w->out.len - w->at);
        memcpy(buf + o, w->out.data + w->at, n);
        w->at += n;
        o += n;
    }
    return o;
}

void factdb_writer_free(factdb_writer *w)
{
    if (!w)
        return;
    base_buf_cleanup(&w->out);
    free(w->extra);
    free(w);
}

/* load.c: `factdb load`: CSV into a table, all or nothing, through the public appender API. The header
 * is matched to the table's columns by name; with --create the column types are inferred from every
 * value of the file (the ladder BOOLEAN, BIGINT, DOUBLE, DATE, TIMESTAMP, TEXT, as DuckDB's sniffer
 * does; TIMESTAMPTZ when a timestamp carries an offset), so a late odd value cannot break the load after the table exists. */
#include "ingest.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* T_TS_OFFSET is not a candidate but a mark: some timestamp value carried an offset (Z, +02:00), so the
 * column is timestamptz (values without one are UTC, the session time zone). */
enum { T_BOOL = 1, T_BIGINT = 2, T_DOUBLE = 4, T_DATE = 8, T_TS = 16, T_TS_OFFSET = 32 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The mapped input of the load in progress, for ingest_addr_in_input (one load at a time per process is
 * what the CLI runs; a second concurrent load is simply not classified). */
static _Atomic uintptr_t input_base, input_len;

bool ingest_addr_in_input(const void *addr)
{
    uintptr_t a = (uintptr_t)addr, b = atomic_load(&input_base), n = atomic_load(&input_len);
    return b && a >= b && a - b < ((n + 4095) & ~(uintptr_t)4095);
}

static int is_null_field(const csv_field *f) { return f->len == 0 && !f->quoted; }

/* Removes from *mask the types that the value cannot have. */
static void narrow(unsigned *mask, const char *s, size_t len)
{
    const char *why;
    int64_t i;
    double d;
    int32_t dt;
    if ((*mask & T_BOOL) && !((len == 4 && !strncasecmp(s, "true", 4)) || (len == 5 && !strncasecmp(s, "false", 5))))
        *mask &= ~(unsigned)T_BOOL;
    if ((*mask & T_BIGINT) && base_parse_int64(s, len, &i, &why))
        *mask &= ~(unsigned)T_BIGINT;
    if ((*mask & T_DOUBLE) && base_parse_double(s, len, &d, &why))
        *mask &= ~(unsigned)T_DOUBLE;
    if ((*mask & T_DATE) && base_parse_date(s, len, &dt, &why))
        *mask &= ~(unsigned)T_DATE;
    bool offset = false;
    if ((*mask & T_TS) && base_parse_timestamptz(s, len, &i, &offset, &why))
        *mask &= ~(unsigned)(T_TS | T_TS_OFFSET);
    else if ((*mask & T_TS) && offset)
        *mask |= T_TS_OFFSET;
}

static factdb_type mask_type(unsigned m)
{
    if (m & T_BOOL) return FACTDB_BOOLEAN;
    if (m & T_BIGINT) return FACTDB_BIGINT;
    if (m & T_DOUBLE) return FACTDB_DOUBLE;
    if (m & T_DATE) return FACTDB_DATE;
    if (m & T_TS) return m & T_TS_OFFSET ? FACTDB_TIMESTAMPTZ : FACTDB_TIMESTAMP;
    return FACTDB_TEXT;
}

static int check_utf8(const csv_field *f, const char *colname, const ingest_input *in, factdb_error *err)
{
    size_t ok = base_utf8_valid_prefix((const unsigned char *)f->s, f->len);
    if (ok == f->len)
        return FACTDB_OK;
    /* The byte's position in the file: fields that were unescaped live in scratch, so rescan the raw
     * field from its start for the first invalid byte. */
    size_t at = f->offset + (f->quoted ? 1 : 0) + ok;
    if (f->quoted == 2) {
        size_t raw_ok = base_utf8_valid_prefix(in->data + f->offset, in->len - f->offset);
        at = f->offset + raw_ok;
    }
    int64_t line = f->line;
    for (size_t i = f->offset; i < at && i < in->len; i++)
        if (in->data[i] == '\n')
            line++;
    return base_err_at(err, FACTDB_INVALID_UTF8, line, 0, (int64_t)at,
                       "invalid UTF-8 byte 0x%02X at line %lld, column \"%s\" (file byte %zu): the file is not "
                       "UTF-8; if it is Latin-1, load it with --encoding latin-1",
                       in->data[at], (long long)line, colname, at);
}

static void progress(const ingest_input *in, size_t pos, uint64_t rows, double t0, int final)
{
    double el = now_s() - t0;
    double frac = in->len ? (double)pos / (double)in->len : 1;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '=' : ' ';
    bar[30] = 0;
    fprintf(stderr, "\r[%s] %3d%% %.1f/%.1f MB %.0f rows/s%s", bar, (int)(frac * 100), pos / 1e6, in->len / 1e6,
            el > 0 ? rows / el : 0.0, final ? "\n" : "");
}

int ingest_load_csv(factdb *db, const char *table, const char *path, const ingest_load_opts *o, uint64_t *rows,
                    factdb_error *err)
{
    ingest_input in;
    *rows = 0;
    int rc = ingest_open(path, o->encoding, &in, err);
    if (rc)
        return rc;
    csv_reader r;
    csv_init(&r, &in, o->delim);
    uintptr_t none = 0;
    bool registered = in.map && atomic_compare_exchange_strong(&input_base, &none, (uintptr_t)in.map);
    if (registered)
        atomic_store(&input_len, (uintptr_t)in.map_len);
    factdb_appender *app = NULL;
    char **names = NULL;
    int *map = NULL;       /* CSV field -> table column */
    size_t nf = 0;
    unsigned *masks = NULL;
    factdb_column_def *defs = NULL;
    double t0 = now_s(), last = t0;

    rc = csv_next(&r, err);
    if (rc < 0) {
        rc = -rc;
        goto out;
    }
    if (rc == 0) {
        rc = base_err(err, FACTDB_BAD_CSV, "%s is empty: expected a header row", in.name);
        if (!o->header)
            rc = FACTDB_OK;
        goto out;
    }
    nf = r.nfields;
    names = calloc(nf, sizeof *names);
    map = calloc(nf, sizeof *map);
    if (!names || !map) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nf; i++) {
        char buf[32];
        const char *s = buf;
        size_t len;
        if (o->header) {
            const csv_field *f = &r.fields[i];
            if ((rc = check_utf8(f, "(header)", &in, err)))
                goto out;
            s = f->s;
            len = f->len;
            if (len == 0) {
                rc = base_err_at(err, FACTDB_BAD_CSV, 1, (int64_t)i + 1, (int64_t)f->offset,
                                 "the header's field %zu is empty: every column needs a name", i + 1);
                goto out;
            }
        } else {
            len = (size_t)snprintf(buf, sizeof buf, "column%zu", i);
        }
        names[i] = strndup(s, len);
        if (!names[i]) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory");
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(names[j], names[i])) {
                rc = base_err_at(err, FACTDB_BAD_CSV, 1, (int64_t)i + 1, (int64_t)r.fields[i].offset,
                                 "the header names column \"%s\" twice (fields %zu and %zu)", names[i], j + 1, i + 1);
                goto out;
            }
    }
    size_t data_start = (size_t)(r.p - in.data);
    int64_t data_line = r.line;

    if (o->create) {
        masks = calloc(nf, sizeof *masks);
        defs = calloc(nf, sizeof *defs);
        if (!masks || !defs) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nf; i++)
            masks[i] = T_BOOL | T_BIGINT | T_DOUBLE | T_DATE | T_TS;
        csv_reader s2;
        csv_init(&s2, &in, o->delim);
        s2.p = in.data + (o->header ? data_start : 0);
        s2.line = o->header ? data_line : 1;
        int n;
        while ((n = csv_next(&s2, err)) > 0) {
            if (s2.nfields != nf) {
                rc = base_err_at(err, FACTDB_BAD_CSV, s2.fields[0].line, 0, (int64_t)s2.fields[0].offset,
                                 "line %lld has %zu fields but the header has %zu", (long long)s2.fields[0].line,
                                 s2.nfields, nf);
                csv_cleanup(&s2);
                goto out;
            }
            for (size_t i = 0; i < nf; i++)
                if (masks[i] && !is_null_field(&s2.fields[i]))
                    narrow(&masks[i], s2.fields[i].s, s2.fields[i].len);
        }
        csv_cleanup(&s2);
        if (n < 0) {
            rc = -n;
            goto out;
        }
        for (size_t i = 0; i < nf; i++)
            defs[i] = (factdb_column_def){.name = names[i], .type = mask_type(masks[i])};
        /* The table is created by the load's commit, with its rows: a failed or killed load leaves none. */
        if ((rc = factdb_appender_create(db, table, defs, nf, &app, err)))
            goto out;
    } else if ((rc = factdb_appender_new(db, table, &app, err))) {
        goto out;
    }
    size_t ncols = factdb_appender_ncols(app);
    for (size_t i = 0; i < nf; i++) {
        map[i] = -1;
        if (!o->header) {
            if (i >= ncols) {
                rc = base_err(err, FACTDB_BAD_CSV, "the file has %zu fields per line but table \"%s\" has %zu columns",
                              nf, table, ncols);
                goto out;
            }
            map[i] = (int)i;
            continue;
        }
        for (size_t c = 0; c < ncols; c++)
            if (!strcmp(factdb_appender_column(app, c)->name, names[i]))
                map[i] = (int)c;
        if (map[i] < 0) {
            char list[600];
            size_t len = 0;
            list[0] = 0;
            for (size_t c = 0; c < ncols && len < sizeof list - 80; c++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", c ? ", " : "",
                                        factdb_appender_column(app, c)->name);
            rc = base_err_at(err, FACTDB_NO_COLUMN, 1, (int64_t)i + 1, (int64_t)r.fields[i].offset,
                             "the header's column \"%s\" (field %zu) does not exist in table \"%s\", whose columns are: %s",
                             names[i], i + 1, table, list);
            goto out;
        }
    }
    if (!o->header) {
        r.p = in.data;
        r.line = 1;
        if (in.len >= 3 && !memcmp(in.data, "\xEF\xBB\xBF", 3))
            r.p += 3;
    }
    int n;
    while ((n = csv_next(&r, err)) > 0) {
        if (r.nfields != nf) {
            rc = base_err_at(err, FACTDB_BAD_CSV, r.fields[0].line, 0, (int64_t)r.fields[0].offset,
                             "line %lld has %zu fields but %s %zu; nothing was loaded", (long long)r.fields[0].line,
                             r.nfields, o->header ? "the header has" : "the first line has", nf);
            goto out;
        }
        for (size_t i = 0; i < nf; i++) {
            const csv_field *f = &r.fields[i];
            const factdb_column_info *ci = factdb_appender_column(app, (size_t)map[i]);
            if ((rc = check_utf8(f, ci->name, &in, err)))
                goto out;
            if (is_null_field(f))
                continue;
            if ((rc = factdb_append_parse(app, (size_t)map[i], f->s, f->len, err))) {
                char msg[sizeof err->message];
                snprintf(msg, sizeof msg, "%s", err->message);
                if (rc == FACTDB_INVALID_VALUE || rc == FACTDB_INVALID_UTF8)
                    rc = base_err_at(err, rc, f->line, (int64_t)i + 1, (int64_t)f->offset,
                                     "line %lld, column \"%s\" (file byte %zu): %s; nothing was loaded",
                                     (long long)f->line, ci->name, f->offset, msg);
                goto out;
            }
        }
        if ((rc = factdb_append_row_end(app, err))) {
            if (rc == FACTDB_NOT_NULL) {
                char msg[sizeof err->message];
                snprintf(msg, sizeof msg, "%s", err->message);
                rc = base_err_at(err, rc, r.fields[0].line, 0, (int64_t)r.fields[0].offset, "line %lld: %s",
                                 (long long)r.fields[0].line, msg);
            }
            goto out;
        }
        if (o->progress && (factdb_appender_pending(app) & 4095) == 0) {
            double t = now_s();
            if (t - last > 0.1) {
                progress(&in, (size_t)(r.p - in.data), factdb_appender_pending(app), t0, 0);
                last = t;
            }
        }
    }
    if (n < 0) {
        rc = -n;
        goto out;
    }
    *rows = factdb_appender_pending(app);
    rc = factdb_appender_commit(app, err);
    if (rc)
        *rows = 0;
    else if (o->progress)
        progress(&in, in.len, *rows, t0, 1);
out:
    if (rc && o->progress && last != t0)
        fputc('\n', stderr);
    factdb_appender_free(app);
    for (size_t i = 0; names && i < nf; i++)
        free(names[i]);
    free(names);
    free(map);
    free(masks);
    free(defs);
    csv_cleanup(&r);
    if (registered)
        atomic_store(&input_base, 0);
    ingest_close(&in);
    return rc;
}

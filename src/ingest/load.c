/* load.c: `factdb load`: CSV into a table, all or nothing, through the public appender API. The header
 * is matched to the table's columns by name; with --create the column types are inferred from every
 * value of the file (the ladder BOOLEAN, BIGINT, DOUBLE, DATE, TIMESTAMP, TEXT, as DuckDB's sniffer
 * does; TIMESTAMPTZ when a timestamp carries an offset; a column without any value is TEXT), so a late
 * odd value cannot break the load after the table exists. Dates, timestamps and numbers are read in the forms
 * the options give (format.c), in inference and in the load alike, so whatever inference accepted the load
 * accepts. */
#include "ingest.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* T_TS_OFFSET and T_SEEN are not candidates but marks: some timestamp value carried an offset (Z, +02:00),
 * so the column is timestamptz (values without one are UTC, the session time zone); the column has a value. */
enum { T_BOOL = 1, T_BIGINT = 2, T_DOUBLE = 4, T_DATE = 8, T_TS = 16, T_ALL = 31, T_TS_OFFSET = 32, T_SEEN = 64 };

#define NUMBER_MAX 256  /* characters of a number with a decimal comma (longer ones are refused) */

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

/* Removes from *mask the types that the value cannot have, read as the options say (date and timestamp
 * formats, decimal comma), and marks the column as having a value (T_SEEN). */
static void narrow(unsigned *mask, const char *s, size_t len, const ingest_load_opts *o)
{
    const char *why;
    char why_buf[200];
    int64_t i;
    double d;
    int32_t dt;
    *mask |= T_SEEN;
    if ((*mask & T_BOOL) && !((len == 4 && !strncasecmp(s, "true", 4)) || (len == 5 && !strncasecmp(s, "false", 5))))
        *mask &= ~(unsigned)T_BOOL;
    if (*mask & (T_BIGINT | T_DOUBLE)) {
        char num[NUMBER_MAX];
        const char *ns = s;
        size_t nlen = len;
        if (o->decimal_comma) {
            if (ingest_decimal_comma(s, len, num, sizeof num, &nlen, why_buf, sizeof why_buf))
                *mask &= ~(unsigned)(T_BIGINT | T_DOUBLE);
            ns = num;
        }
        if ((*mask & T_BIGINT) && base_parse_int64(ns, nlen, &i, &why))
            *mask &= ~(unsigned)T_BIGINT;
        if ((*mask & T_DOUBLE) && base_parse_double(ns, nlen, &d, &why))
            *mask &= ~(unsigned)T_DOUBLE;
    }
    if ((*mask & T_DATE) && (o->date_format ? ingest_format_parse(o->date_format, s, len, &i, false, why_buf,
                                                                  sizeof why_buf)
                                            : base_parse_date(s, len, &dt, &why)))
        *mask &= ~(unsigned)T_DATE;
    if (*mask & T_TS) {
        bool offset = false;
        if (o->timestamp_format
                ? ingest_format_parse(o->timestamp_format, s, len, &i, true, why_buf, sizeof why_buf)
                : base_parse_timestamptz(s, len, &i, &offset, &why))
            *mask &= ~(unsigned)(T_TS | T_TS_OFFSET);
        else if (offset)
            *mask |= T_TS_OFFSET;
    }
}

/* A column with no value at all is text: nothing says it is anything else, and text takes any value a
 * later load brings. A format the user gave outranks numbers (%Y%m%d dates are also integers). */
static factdb_type mask_type(unsigned m, const ingest_load_opts *o)
{
    if (!(m & T_SEEN)) return FACTDB_TEXT;
    if ((m & T_DATE) && o->date_format) return FACTDB_DATE;
    if ((m & T_TS) && o->timestamp_format) return FACTDB_TIMESTAMP;
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

/* One progress line on stderr, redrawn in place: `what` is the pass ("types" while --create reads the
 * file to infer column types, "load" while it appends). */
static void progress(const char *what, const ingest_input *in, size_t pos, uint64_t rows, double t0, int final)
{
    double el = now_s() - t0;
    double frac = in->len ? (double)pos / (double)in->len : 1;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '=' : ' ';
    bar[30] = 0;
    fprintf(stderr, "\r%-5s [%s] %3d%% %.1f/%.1f MB %.0f rows/s%s", what, bar, (int)(frac * 100), pos / 1e6,
            in->len / 1e6, el > 0 ? rows / el : 0.0, final ? "\n" : "");
}

/* State shared by the phases of one load. */
typedef struct load {
    const ingest_load_opts *o;
    ingest_input in;
    char delim;          /* given or detected */
    bool detected;
    bool drawn;          /* a progress line is on stderr without its newline */
    size_t first_off;    /* byte offset of the first record (header or first data line) */
    size_t nf;           /* fields per record */
    char **names;
    int *map;            /* CSV field -> table column */
    unsigned char *conv; /* CSV field -> how its text becomes a value (CONV_*) */
} load;

enum { CONV_PARSE, CONV_DATE, CONV_TS, CONV_NUMBER };

/* The error for a record with another number of fields than the first; suggests a delimiter when another
 * one would make the two agree. */
static int field_count_error(const load *l, const csv_reader *r, factdb_error *err)
{
    char hint[300];
    ingest_delim_hint(&l->in, l->first_off, r->fields[0].offset, l->delim, hint, sizeof hint);
    if (!hint[0] && l->detected)
        snprintf(hint, sizeof hint, " (delimiter %s, detected from the first lines: use --delimiter to choose "
                 "another)", ingest_delim_name(l->delim));
    return base_err_at(err, FACTDB_BAD_CSV, r->fields[0].line, 0, (int64_t)r->fields[0].offset,
                       "line %lld has %zu fields but %s %zu%s; nothing was loaded", (long long)r->fields[0].line,
                       r->nfields, l->o->header ? "the header has" : "the first line has", l->nf, hint);
}

/* Reads the header (or counts the first line's fields) into l->names. */
static int read_names(load *l, csv_reader *r, factdb_error *err)
{
    int rc = csv_next(r, err);
    if (rc < 0)
        return -rc;
    if (rc == 0)
        return l->o->header ? base_err(err, FACTDB_BAD_CSV, "%s is empty: expected a header row", l->in.name)
                            : FACTDB_OK;
    l->nf = r->nfields;
    l->first_off = r->fields[0].offset;
    l->names = calloc(l->nf, sizeof *l->names);
    l->map = calloc(l->nf, sizeof *l->map);
    l->conv = calloc(l->nf, sizeof *l->conv);
    if (!l->names || !l->map || !l->conv)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    for (size_t i = 0; i < l->nf; i++) {
        char buf[32];
        const char *s = buf;
        size_t len;
        if (l->o->header) {
            const csv_field *f = &r->fields[i];
            if ((rc = check_utf8(f, "(header)", &l->in, err)))
                return rc;
            s = f->s;
            len = f->len;
            if (len == 0)
                return base_err_at(err, FACTDB_BAD_CSV, 1, (int64_t)i + 1, (int64_t)f->offset,
                                   "the header's field %zu is empty: every column needs a name", i + 1);
        } else {
            len = (size_t)snprintf(buf, sizeof buf, "column%zu", i);
        }
        l->names[i] = strndup(s, len);
        if (!l->names[i])
            return base_err(err, FACTDB_NOMEM, "out of memory");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(l->names[j], l->names[i]))
                return base_err_at(err, FACTDB_BAD_CSV, 1, (int64_t)i + 1, (int64_t)r->fields[i].offset,
                                   "the header names column \"%s\" twice (fields %zu and %zu)", l->names[i], j + 1,
                                   i + 1);
    }
    return FACTDB_OK;
}

/* --create: reads every data record from byte `start` (line `line`) and gives each column the first type
 * of the ladder that all its values have; then makes the appender that creates the table. */
static int infer_and_create(load *l, factdb *db, const char *table, size_t start, int64_t line,
                            factdb_appender **app, factdb_error *err)
{
    const ingest_load_opts *o = l->o;
    size_t nf = l->nf;
    unsigned *masks = calloc(nf, sizeof *masks);
    factdb_column_def *defs = calloc(nf, sizeof *defs);
    if (!masks || !defs) {
        free(masks);
        free(defs);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < nf; i++)
        masks[i] = T_ALL;
    csv_reader r;
    csv_init(&r, &l->in, l->delim);
    r.p = l->in.data + start;
    r.line = line;
    int rc = FACTDB_OK, n;
    uint64_t nrec = 0;
    double t0 = now_s(), last = t0;
    while ((n = csv_next(&r, err)) > 0) {
        if (r.nfields != nf) {
            rc = field_count_error(l, &r, err);
            break;
        }
        for (size_t i = 0; i < nf; i++)
            if ((masks[i] & T_ALL) && !is_null_field(&r.fields[i]))
                narrow(&masks[i], r.fields[i].s, r.fields[i].len, o);
        ingest_release(&l->in, r.fields[0].offset);
        if (o->progress && (++nrec & 4095) == 0) {
            double t = now_s();
            if (t - last > 0.1) {
                progress("types", &l->in, (size_t)(r.p - l->in.data), nrec, t0, 0);
                last = t;
                l->drawn = true;
            }
        }
    }
    if (n < 0)
        rc = -n;
    ingest_release_rewind(&l->in);  /* the load reads it all again */
    if (!rc && o->progress) {
        progress("types", &l->in, l->in.len, nrec, t0, 1);
        l->drawn = false;
    }
    csv_cleanup(&r);
    if (!rc) {
        for (size_t i = 0; i < nf; i++)
            defs[i] = (factdb_column_def){.name = l->names[i], .type = mask_type(masks[i], o)};
        /* The table is created by the load's commit, with its rows: a failed or killed load leaves none. */
        rc = factdb_appender_create(db, table, defs, nf, app, err);
    }
    free(masks);
    free(defs);
    return rc;
}

/* Maps each CSV field to its table column (by header name, or in order) and chooses its conversion. */
static int map_columns(load *l, factdb_appender *app, const char *table, const csv_reader *hdr, factdb_error *err)
{
    size_t ncols = factdb_appender_ncols(app);
    for (size_t i = 0; i < l->nf; i++) {
        l->map[i] = -1;
        if (!l->o->header) {
            if (i >= ncols)
                return base_err(err, FACTDB_BAD_CSV, "the file has %zu fields per line but table \"%s\" has %zu columns",
                                l->nf, table, ncols);
            l->map[i] = (int)i;
        }
        for (size_t c = 0; l->o->header && c < ncols; c++)
            if (!strcmp(factdb_appender_column(app, c)->name, l->names[i]))
                l->map[i] = (int)c;
        if (l->map[i] < 0) {
            char list[600];
            size_t len = 0;
            list[0] = 0;
            for (size_t c = 0; c < ncols && len < sizeof list - 80; c++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", c ? ", " : "",
                                        factdb_appender_column(app, c)->name);
            return base_err_at(err, FACTDB_NO_COLUMN, 1, (int64_t)i + 1, (int64_t)hdr->fields[i].offset,
                               "the header's column \"%s\" (field %zu) does not exist in table \"%s\", whose columns "
                               "are: %s",
                               l->names[i], i + 1, table, list);
        }
        factdb_type t = factdb_appender_column(app, (size_t)l->map[i])->type;
        l->conv[i] = t == FACTDB_DATE && l->o->date_format              ? CONV_DATE
                     : t == FACTDB_TIMESTAMP && l->o->timestamp_format  ? CONV_TS
                     : (t == FACTDB_DOUBLE || t == FACTDB_DECIMAL || t == FACTDB_BIGINT || t == FACTDB_INTEGER) &&
                               l->o->decimal_comma
                         ? CONV_NUMBER
                         : CONV_PARSE;
    }
    return FACTDB_OK;
}

/* The length of at most `max` bytes of UTF-8 text s[0..len) that ends on a character boundary. */
static int shown(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return (int)len;
    while (max && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return (int)max;
}

/* Appends field `f` to column `col` by conversion `conv` (a format or the decimal comma). Errors:
 * INVALID_VALUE naming the value and the option it does not match, and those of factdb_append_*. */
static int append_converted(factdb_appender *app, size_t col, int conv, const csv_field *f,
                            const ingest_load_opts *o, factdb_error *err)
{
    const char *s = f->s;
    size_t len = f->len;
    while (len && (s[0] == ' ' || s[0] == '\t')) {  /* blanks around a value are ignored, as by every parse */
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    char why[200];
    if (conv == CONV_DATE || conv == CONV_TS) {
        bool ts = conv == CONV_TS;
        const char *fmt = ts ? o->timestamp_format : o->date_format;
        int64_t v;
        if (ingest_format_parse(fmt, s, len, &v, ts, why, sizeof why))
            return base_err(err, FACTDB_INVALID_VALUE, "\"%.*s\" does not match %s %s: %s", shown(s, len, 60), s,
                            ts ? "--timestamp-format" : "--date-format", fmt, why);
        return factdb_append_int64(app, col, v, err);
    }
    char num[NUMBER_MAX];
    size_t nlen;
    if (ingest_decimal_comma(s, len, num, sizeof num, &nlen, why, sizeof why))
        return base_err(err, FACTDB_INVALID_VALUE, "\"%.*s\" is not a number with --decimal-comma: %s",
                        shown(s, len, 60), s, why);
    return factdb_append_parse(app, col, num, nlen, err);
}

/* A value's error, placed: line, column and file byte of field `i`. Other errors pass unchanged. */
static int value_error(int rc, int64_t line, size_t offset, size_t i, const char *colname, factdb_error *err)
{
    if (rc != FACTDB_INVALID_VALUE && rc != FACTDB_INVALID_UTF8)
        return rc;
    char msg[sizeof err->message];
    snprintf(msg, sizeof msg, "%s", err->message);
    return base_err_at(err, rc, line, (int64_t)i + 1, (int64_t)offset,
                       "line %lld, column \"%s\" (file byte %zu): %s; nothing was loaded", (long long)line, colname,
                       offset, msg);
}

/* Ends a row; NOT_NULL is placed at the record's line and byte. */
static int row_end(factdb_appender *app, int64_t line, size_t offset, factdb_error *err)
{
    int rc = factdb_append_row_end(app, err);
    if (rc == FACTDB_NOT_NULL) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        rc = base_err_at(err, rc, line, 0, (int64_t)offset, "line %lld: %s", (long long)line, msg);
    }
    return rc;
}

/* Appends every data record read by `r` to `app`, converting each field as l->conv says (one thread). */
static int append_rows(load *l, csv_reader *r, factdb_appender *app, factdb_error *err)
{
    const ingest_load_opts *o = l->o;
    double t0 = now_s(), last = t0;
    int n, rc = FACTDB_OK;
    while ((n = csv_next(r, err)) > 0) {
        if (r->nfields != l->nf)
            return field_count_error(l, r, err);
        for (size_t i = 0; i < l->nf; i++) {
            const csv_field *f = &r->fields[i];
            size_t col = (size_t)l->map[i];
            const factdb_column_info *ci = factdb_appender_column(app, col);
            if ((rc = check_utf8(f, ci->name, &l->in, err)))
                return rc;
            if (is_null_field(f))
                continue;
            rc = l->conv[i] == CONV_PARSE ? factdb_append_parse(app, col, f->s, f->len, err)
                                          : append_converted(app, col, l->conv[i], f, o, err);
            if (rc)
                return value_error(rc, f->line, f->offset, i, ci->name, err);
        }
        if ((rc = row_end(app, r->fields[0].line, r->fields[0].offset, err)))
            return rc;
        ingest_release(&l->in, r->fields[0].offset);  /* the appender copied what it keeps */
        if (o->progress && (factdb_appender_pending(app) & 4095) == 0) {
            double t = now_s();
            if (t - last > 0.1) {
                progress("load", &l->in, (size_t)(r->p - l->in.data), factdb_appender_pending(app), t0, 0);
                last = t;
                l->drawn = true;
            }
        }
    }
    if (n < 0)
        return -n;
    if (o->progress)
        progress("load", &l->in, l->in.len, factdb_appender_pending(app), t0, 1);
    l->drawn = false;
    return FACTDB_OK;
}

/* ---- reading ahead on a second thread ----
 * The main thread appends while a reader thread splits the next records, checks their UTF-8 and parses
 * their non-text values (csv_next, check_utf8 and factdb_parse_value: about a third of the CPU time of
 * loading TPC-H lineitem). Records reach the appender in file order, and the reader's first error travels
 * behind the fields read before it, so a load reports the error it reported on one thread. */
#define AHEAD_ROWS 2048
#define AHEAD_BATCHES 4

typedef struct ahead_field {
    const char *s;  /* the text; with `copied`, an offset into the batch's bytes */
    size_t len, offset;
    int64_t line;
    int64_t v;      /* the value of a non-text field read by CONV_PARSE */
    unsigned char null, copied, quoted;
} ahead_field;

typedef struct ahead_batch {
    ahead_field *f;   /* AHEAD_ROWS records of nf fields */
    size_t nrec;      /* complete records */
    base_buf bytes;   /* fields the reader unescaped (doubled quotes): csv_next reuses its scratch */
    size_t end;       /* input offset after the batch (progress) */
    bool last;        /* nothing follows: the input ended, or `rc` */
    int rc;           /* a failure at field err_field of record nrec, after its fields before it */
    size_t err_field;
    factdb_error err;
} ahead_batch;

typedef struct ahead {
    load *l;
    csv_reader *r;
    factdb_column_info *cols;  /* per CSV field, its column (copied: the appender is the main thread's) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t head, tail;         /* batches filled, batches appended */
    bool stop;
    ahead_batch b[AHEAD_BATCHES];
} ahead;

/* Fills b with the next records (reader thread). */
static void ahead_fill(ahead *a, ahead_batch *b)
{
    load *l = a->l;
    csv_reader *r = a->r;
    b->nrec = 0;
    b->bytes.len = 0;
    b->last = false;
    b->rc = FACTDB_OK;
    b->err_field = 0;
    while (b->nrec < AHEAD_ROWS) {
        int n = csv_next(r, &b->err);
        if (n <= 0) {
            b->rc = -n;
            b->last = true;
            break;
        }
        if (r->nfields != l->nf) {
            b->rc = field_count_error(l, r, &b->err);
            b->last = true;
            break;
        }
        ahead_field *out = &b->f[b->nrec * l->nf];
        size_t i;
        for (i = 0; i < l->nf; i++) {
            const csv_field *f = &r->fields[i];
            const factdb_column_info *ci = &a->cols[i];
            ahead_field *o = &out[i];
            *o = (ahead_field){f->s, f->len, f->offset, f->line, 0, (unsigned char)is_null_field(f), 0,
                               (unsigned char)f->quoted};
            if ((b->rc = check_utf8(f, ci->name, &l->in, &b->err)))
                break;
            if (o->null)
                continue;
            if (l->conv[i] == CONV_PARSE && ci->type != FACTDB_TEXT) {
                if ((b->rc = factdb_parse_value(ci->type, ci->precision, ci->scale, f->s, f->len, &o->v, &b->err))) {
                    b->rc = value_error(b->rc, f->line, f->offset, i, ci->name, &b->err);
                    break;
                }
            } else if (f->quoted == 2) {
                o->s = (const char *)(uintptr_t)b->bytes.len;
                o->copied = 1;
                if (base_buf_append(&b->bytes, f->s, f->len)) {
                    b->rc = base_err(&b->err, FACTDB_NOMEM, "out of memory reading the input ahead");
                    break;
                }
            }
        }
        if (b->rc) {
            b->err_field = i;
            b->last = true;
            break;
        }
        b->nrec++;
    }
    b->end = (size_t)(r->p - l->in.data);
}

static void *ahead_main(void *arg)
{
    ahead *a = arg;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (a->head - a->tail == AHEAD_BATCHES && !a->stop)
            pthread_cond_wait(&a->cv, &a->mu);
        bool stop = a->stop;
        ahead_batch *b = &a->b[a->head % AHEAD_BATCHES];
        pthread_mutex_unlock(&a->mu);
        if (stop)
            break;
        ahead_fill(a, b);
        pthread_mutex_lock(&a->mu);
        a->head++;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        if (b->last)
            break;
    }
    return NULL;
}

/* Appends fields 0..nf-1 of one record of batch b (main thread). */
static int ahead_append(ahead *a, factdb_appender *app, const ahead_batch *b, const ahead_field *rec, size_t nf,
                        factdb_error *err)
{
    load *l = a->l;
    for (size_t i = 0; i < nf; i++) {
        const ahead_field *o = &rec[i];
        if (o->null)
            continue;
        size_t col = (size_t)l->map[i];
        const char *s = !o->copied ? o->s : b->bytes.data ? (const char *)b->bytes.data + (uintptr_t)o->s : "";
        int rc;
        if (l->conv[i] != CONV_PARSE) {
            csv_field f = {s, o->len, o->offset, o->line, o->quoted};
            rc = append_converted(app, col, l->conv[i], &f, l->o, err);
        } else if (a->cols[i].type == FACTDB_TEXT) {
            rc = factdb_append_text(app, col, s, o->len, err);
        } else {
            rc = factdb_append_value(app, col, o->v, err);
        }
        if (rc)
            return value_error(rc, o->line, o->offset, i, a->cols[i].name, err);
    }
    return FACTDB_OK;
}

/* append_rows with a reader thread; on one thread when the thread or its buffers cannot be had. */
static int append_rows_ahead(load *l, csv_reader *r, factdb_appender *app, factdb_error *err)
{
    const ingest_load_opts *o = l->o;
    ahead a = {.l = l, .r = r};
    size_t nf = l->nf, made = 0;
    pthread_t th;
    bool started = false;
    if ((a.cols = malloc(nf * sizeof *a.cols))) {
        for (size_t i = 0; i < nf; i++)
            a.cols[i] = *factdb_appender_column(app, (size_t)l->map[i]);
        for (; made < AHEAD_BATCHES; made++) {
            if (!(a.b[made].f = malloc(AHEAD_ROWS * nf * sizeof *a.b[made].f)))
                break;
            base_buf_init(&a.b[made].bytes, (size_t)1 << 30);
        }
    }
    if (made == AHEAD_BATCHES) {
        pthread_mutex_init(&a.mu, NULL);
        pthread_cond_init(&a.cv, NULL);
        started = pthread_create(&th, NULL, ahead_main, &a) == 0;
        if (!started) {
            pthread_mutex_destroy(&a.mu);
            pthread_cond_destroy(&a.cv);
        }
    }
    int rc = FACTDB_OK;
    if (!started) {
        rc = append_rows(l, r, app, err);
        goto out;
    }
    double t0 = now_s(), last = t0;
    for (;;) {
        pthread_mutex_lock(&a.mu);
        while (a.head == a.tail)
            pthread_cond_wait(&a.cv, &a.mu);
        const ahead_batch *b = &a.b[a.tail % AHEAD_BATCHES];
        pthread_mutex_unlock(&a.mu);
        for (size_t k = 0; !rc && k < b->nrec; k++) {
            const ahead_field *rec = &b->f[k * nf];
            if ((rc = ahead_append(&a, app, b, rec, nf, err)) || (rc = row_end(app, rec[0].line, rec[0].offset, err)))
                break;
            if (o->progress && (factdb_appender_pending(app) & 4095) == 0) {
                double t = now_s();
                if (t - last > 0.1) {
                    progress("load", &l->in, b->end, factdb_appender_pending(app), t0, 0);
                    last = t;
                    l->drawn = true;
                }
            }
        }
        if (!rc && b->rc && !(rc = ahead_append(&a, app, b, &b->f[b->nrec * nf], b->err_field, err))) {
            rc = b->rc;
            if (err)
                *err = b->err;
        }
        bool end = b->last;
        if (!rc && b->nrec)
            ingest_release(&l->in, b->f[(b->nrec - 1) * nf].offset);  /* the appender copied what it keeps */
        pthread_mutex_lock(&a.mu);
        a.tail++;
        pthread_cond_broadcast(&a.cv);
        pthread_mutex_unlock(&a.mu);
        if (rc || end)
            break;
    }
    pthread_mutex_lock(&a.mu);
    a.stop = true;
    pthread_cond_broadcast(&a.cv);
    pthread_mutex_unlock(&a.mu);
    pthread_join(th, NULL);
    pthread_mutex_destroy(&a.mu);
    pthread_cond_destroy(&a.cv);
    if (!rc && o->progress) {
        progress("load", &l->in, l->in.len, factdb_appender_pending(app), t0, 1);
        l->drawn = false;
    }
out:
    for (size_t i = 0; i < made; i++) {
        free(a.b[i].f);
        base_buf_cleanup(&a.b[i].bytes);
    }
    free(a.cols);
    return rc;
}

int ingest_load_csv(factdb *db, const char *table, const char *path, const ingest_load_opts *o, uint64_t *rows,
                    factdb_error *err)
{
    load l = {.o = o, .delim = o->delim};
    *rows = 0;
    char why[300];
    if ((o->date_format && ingest_format_check(o->date_format, false, why, sizeof why)) ||
        (o->timestamp_format && ingest_format_check(o->timestamp_format, true, why, sizeof why)))
        return base_err(err, FACTDB_INVALID_ARGUMENT, "%s", why);
    int rc = ingest_open(path, o->encoding, &l.in, err);
    if (rc)
        return rc;
    if (!l.delim) {
        l.detected = true;
        if ((rc = ingest_detect_delim(&l.in, o->header, o->decimal_comma, &l.delim, err))) {
            ingest_close(&l.in);
            return rc;
        }
    }
    csv_reader r;
    csv_init(&r, &l.in, l.delim);
    uintptr_t none = 0;
    bool registered = l.in.map && atomic_compare_exchange_strong(&input_base, &none, (uintptr_t)l.in.map);
    if (registered)
        atomic_store(&input_len, (uintptr_t)l.in.map_len);
    factdb_appender *app = NULL;

    if ((rc = read_names(&l, &r, err)) || !l.nf)
        goto out;
    size_t data_start = o->header ? (size_t)(r.p - l.in.data) : 0;
    int64_t data_line = o->header ? r.line : 1;
    if (o->create)
        rc = infer_and_create(&l, db, table, data_start, data_line, &app, err);
    else
        rc = factdb_appender_new(db, table, &app, err);
    if (rc || (rc = map_columns(&l, app, table, &r, err)))
        goto out;
    if (!o->header) {
        r.p = l.in.data;
        r.line = 1;
        if (l.in.len >= 3 && !memcmp(l.in.data, "\xEF\xBB\xBF", 3))
            r.p += 3;
    }
    if ((rc = append_rows_ahead(&l, &r, app, err)))
        goto out;
    *rows = factdb_appender_pending(app);
    rc = factdb_appender_commit(app, err);
    if (rc)
        *rows = 0;
out:
    if (l.drawn)
        fputc('\n', stderr);
    factdb_appender_free(app);
    for (size_t i = 0; l.names && i < l.nf; i++)
        free(l.names[i]);
    free(l.names);
    free(l.map);
    free(l.conv);
    csv_cleanup(&r);
    if (registered)
        atomic_store(&input_base, 0);
    ingest_close(&l.in);
    return rc;
}

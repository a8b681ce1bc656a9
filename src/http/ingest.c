/* ingest.c: POST /v1/tables/{name}/rows. A request's rows are parsed and checked against the table's
 * schema completely before anything is queued, so a bad request fails alone (400 naming row and column)
 * and never takes its batch neighbours down. Checked requests queue for the committer thread, which
 * writes everything that arrived while the previous commit was running in one transaction (group
 * commit) and wakes each request once its rows are durable. */
#include "backend.h"
#include "ingest/ingest.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void req_free(ins_req *r)
{
    if (!r)
        return;
    free(r->cells);
    free(r->has_default);
    factdb_table_info_free(&r->ti);
    base_buf_cleanup(&r->text);
    free(r);
}

/* ---- parsing ---- */
typedef struct parse_ctx {
    http_server *s;
    const factdb_table_info *ti;  /* the request's r->ti */
    ins_req *r;
    factdb_error *err;
    char *colname;
    size_t colcap;
} parse_ctx;

static int row_err(parse_ctx *p, int code, size_t row, int col, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int row_err(parse_ctx *p, int code, size_t row, int col, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    base_err(p->err, code, "row %zu%s%s%s: %s", row, col >= 0 ? ", column \"" : "",
             col >= 0 ? p->ti->cols[col].name : "", col >= 0 ? "\"" : "", msg);
    p->err->line = (int64_t)row;
    p->err->column = col + 1;
    if (col >= 0 && p->colname)
        snprintf(p->colname, p->colcap, "%s", p->ti->cols[col].name);
    return code;
}

static int new_row(parse_ctx *p, size_t row, http_cell **out)
{
    ins_req *r = p->r;
    if (r->nrows >= p->s->o.max_rows)
        return row_err(p, FACTDB_LIMIT, row, -1, "more than %zu rows in one request; send them in several", p->s->o.max_rows);
    if (r->nrows == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        http_cell *c = realloc(r->cells, cap * r->ncols * sizeof *c);
        if (!c)
            return row_err(p, FACTDB_NOMEM, row, -1, "out of memory");
        r->cells = c;
        r->cap = cap;
    }
    *out = r->cells + r->nrows * r->ncols;
    memset(*out, 0, r->ncols * sizeof **out);
    for (size_t k = 0; k < r->ncols; k++)
        (*out)[k].kind = HTTP_CELL_ABSENT;
    r->nrows++;
    return 0;
}

/* Converts the text form of a value for column col. */
static int from_text(parse_ctx *p, size_t row, int col, const char *s, size_t len, http_cell *c)
{
    const factdb_column_info *ci = &p->ti->cols[col];
    if (ci->type == FACTDB_TEXT) {
        if (len > FACTDB_TEXT_MAX)
            return row_err(p, FACTDB_INVALID_VALUE, row, col, "text longer than %u bytes", FACTDB_TEXT_MAX);
        if (base_utf8_valid_prefix((const unsigned char *)s, len) != len)
            return row_err(p, FACTDB_INVALID_UTF8, row, col, "text is not valid UTF-8");
        c->kind = HTTP_CELL_TEXT;
        c->off = (uint32_t)p->r->text.len;
        c->len = (uint32_t)len;
        if (base_buf_append(&p->r->text, s, len))
            return row_err(p, FACTDB_LIMIT, row, col, "the request's text is too large");
        return 0;
    }
    factdb_error e;
    int64_t v;
    if (factdb_parse_value(ci->type, ci->precision, ci->scale, s, len, &v, &e))
        return row_err(p, FACTDB_INVALID_VALUE, row, col, "%s", e.message);
    if (ci->type == FACTDB_DOUBLE) {
        c->kind = HTTP_CELL_DOUBLE;
        memcpy(&c->d, &v, 8);
    } else {
        c->kind = ci->type == FACTDB_BOOLEAN ? HTTP_CELL_BOOL : HTTP_CELL_INT;
        c->i = v;
    }
    return 0;
}

static int from_json(parse_ctx *p, size_t row, int col, json_t *v, http_cell *c)
{
    const factdb_column_info *ci = &p->ti->cols[col];
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_NULL:
        c->kind = HTTP_CELL_NULL;
        return 0;
    case JSON_STRING:
        return from_text(p, row, col, json_string_value(v), json_string_length(v), c);
    case JSON_TRUE:
    case JSON_FALSE:
        if (ci->type != FACTDB_BOOLEAN)
            return row_err(p, FACTDB_INVALID_VALUE, row, col, "a boolean does not fit a column of this type");
        c->kind = HTTP_CELL_BOOL;
        c->i = json_is_true(v);
        return 0;
    case JSON_INTEGER: {
        if (ci->type == FACTDB_TEXT || ci->type == FACTDB_BOOLEAN || ci->type == FACTDB_DATE ||
            ci->type == FACTDB_TIMESTAMP || ci->type == FACTDB_TIMESTAMPTZ)
            return row_err(p, FACTDB_INVALID_VALUE, row, col, "expected %s, got a number",
                           ci->type == FACTDB_TEXT ? "a string" : ci->type == FACTDB_BOOLEAN ? "true or false"
                           : ci->type == FACTDB_DATE ? "a date string" : "a timestamp string");
        int n = snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return from_text(p, row, col, buf, (size_t)n, c);
    }
    case JSON_REAL: {
        if (ci->type == FACTDB_INTEGER || ci->type == FACTDB_BIGINT)
            return row_err(p, FACTDB_INVALID_VALUE, row, col, "expected an integer, got %g", json_real_value(v));
        if (ci->type != FACTDB_DOUBLE && ci->type != FACTDB_DECIMAL)
            return row_err(p, FACTDB_INVALID_VALUE, row, col, "a number does not fit a column of this type");
        /* the shortest text that reads back the same, so 0.1 stays exactly 0.1 for numeric columns */
        size_t n = base_format_double(json_real_value(v), buf, sizeof buf);
        return from_text(p, row, col, buf, n, c);
    }
    default:
        return row_err(p, FACTDB_INVALID_VALUE, row, col, "nested objects and arrays are not column values");
    }
}

static int find_col(parse_ctx *p, const char *name)
{
    for (size_t i = 0; i < p->ti->ncols; i++)
        if (!strcmp(p->ti->cols[i].name, name))
            return (int)i;
    return -1;
}

static int check_not_null(parse_ctx *p, size_t row, const http_cell *c)
{
    for (size_t i = 0; i < p->ti->ncols; i++)
        if (p->ti->cols[i].not_null &&
            (c[i].kind == HTTP_CELL_NULL ||
             (c[i].kind == HTTP_CELL_ABSENT && !(p->r->has_default && p->r->has_default[i]))))
            return row_err(p, FACTDB_NOT_NULL, row, (int)i, "the column is NOT NULL; give it a value");
    return 0;
}

static int json_object_row(parse_ctx *p, size_t row, json_t *o)
{
    if (!json_is_object(o))
        return row_err(p, FACTDB_INVALID_ARGUMENT, row, -1, "expected an object of column names and values");
    http_cell *c;
    int rc = new_row(p, row, &c);
    if (rc)
        return rc;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        int col = find_col(p, key);
        if (col < 0)
            return row_err(p, FACTDB_NO_COLUMN, row, -1, "column \"%s\" does not exist in table \"%s\"", key, p->ti->name);
        if ((rc = from_json(p, row, col, v, &c[col])))
            return rc;
    }
    return check_not_null(p, row, c);
}

/* JSON nesting deeper than this is refused before parsing. */
#define MAX_DEPTH 32

bool http_json_scan(const char *s, size_t len, int max, size_t *at, size_t *values, size_t *items)
{
    int depth = 0;
    bool in_str = false, empty = true;
    size_t nv = 0, ni = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
            continue;
        if (depth == 1 && ch != ']' && ch != '}' && empty) {
            ni++;  /* the first item of the top level */
            empty = false;
        }
        if (ch == '"') {
            in_str = true;
        } else if (ch == '[' || ch == '{') {
            nv++;
            if (++depth > max) {
                *at = i;
                return false;
            }
        } else if (ch == ']' || ch == '}') {
            depth--;
        } else if (ch == ',' || ch == ':') {
            nv++;
            ni += depth == 1 && ch == ',';
        }
    }
    *values = nv + 1;
    *items = ni;
    return true;
}

bool http_json_depth_ok(const char *s, size_t len, int max, size_t *at)
{
    size_t values, items;
    return http_json_scan(s, len, max, at, &values, &items);
}

static int check_depth(parse_ctx *p, const char *s, size_t len)
{
    size_t at;
    if (http_json_depth_ok(s, len, MAX_DEPTH, &at))
        return 0;
    base_err(p->err, FACTDB_LIMIT, "JSON nested deeper than %d levels at byte %zu", MAX_DEPTH, at);
    p->err->offset = (int64_t)at;
    return FACTDB_LIMIT;
}

static int json_parse_err(parse_ctx *p, const json_error_t *je, size_t row_line_base)
{
    base_err(p->err, FACTDB_INVALID_ARGUMENT, "invalid JSON at line %d, column %d (byte %d): %s",
             je->line + (int)row_line_base, je->column, je->position, je->text);
    p->err->line = je->line + (int64_t)row_line_base;
    p->err->column = je->column;
    p->err->offset = je->position;
    return FACTDB_INVALID_ARGUMENT;
}

static int parse_json(parse_ctx *p, const char *body, size_t len)
{
    /* jansson takes ~100 bytes per value (a 16 MB body of `{},` took 942 MB): count before decoding */
    size_t at, values, items;
    if (!http_json_scan(body, len, MAX_DEPTH, &at, &values, &items))
        return check_depth(p, body, len);
    if (items > p->s->o.max_rows)
        return row_err(p, FACTDB_LIMIT, p->s->o.max_rows + 1, -1,
                       "more than %zu rows in one request; send them in several", p->s->o.max_rows);
    /* the decoded document counts against the body budget while it lives (128 bytes per value, measured
       ~100 for small objects and numbers) */
    size_t cost = values * 128;
    if (atomic_fetch_add(&p->s->body_bytes, cost) + cost > HTTP_BODY_BUDGET) {
        atomic_fetch_sub(&p->s->body_bytes, cost);
        return base_err(p->err, FACTDB_NOMEM, "the server is decoding too many large JSON bodies at once (%zu "
                        "values in this one); retry shortly, or send NDJSON or CSV", values);
    }
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        atomic_fetch_sub(&p->s->body_bytes, cost);
        return json_parse_err(p, &je, 0);
    }
    int rc = 0;
    if (!json_is_array(root)) {
        rc = base_err(p->err, FACTDB_INVALID_ARGUMENT, "expected a JSON array of row objects");
    } else {
        size_t i;
        json_t *o;
        json_array_foreach(root, i, o) {
            if ((rc = json_object_row(p, i + 1, o)))
                break;
        }
    }
    json_decref(root);
    atomic_fetch_sub(&p->s->body_bytes, cost);
    return rc;
}

static int parse_ndjson(parse_ctx *p, const char *body, size_t len)
{
    size_t at = 0, row = 0, line = 0;
    while (at < len) {
        size_t end = at;
        while (end < len && body[end] != '\n')
            end++;
        line++;
        size_t a = at, b = end;
        while (a < b && (body[a] == ' ' || body[a] == '\t' || body[a] == '\r'))
            a++;
        while (b > a && (body[b - 1] == ' ' || body[b - 1] == '\t' || body[b - 1] == '\r'))
            b--;
        at = end + 1;
        if (a == b)
            continue;
        row++;
        if (check_depth(p, body + a, b - a))
            return p->err->code;
        json_error_t je;
        json_t *o = json_loadb(body + a, b - a, JSON_REJECT_DUPLICATES, &je);
        if (!o)
            return json_parse_err(p, &je, line - 1);
        int rc = json_object_row(p, row, o);
        json_decref(o);
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_csv(parse_ctx *p, const char *body, size_t len)
{
    ingest_input in = {.data = (const unsigned char *)body, .len = len, .name = "the request body"};
    if (base_utf8_valid_prefix(in.data, len) != len) {
        size_t at = base_utf8_valid_prefix(in.data, len);
        int64_t line = 1;
        for (size_t i = 0; i < at; i++)
            line += body[i] == '\n';
        if (!body[at]) {  /* JSON refuses \u0000 too: text never holds NUL */
            base_err(p->err, FACTDB_BAD_CSV, "the CSV body has a NUL byte (0x00) at line %lld (byte %zu); text "
                     "cannot contain NUL bytes", (long long)line, at + 1);
        } else {
            base_err(p->err, FACTDB_INVALID_UTF8, "the CSV body is not valid UTF-8 at line %lld (byte %zu)",
                     (long long)line, at + 1);
        }
        p->err->line = line;
        p->err->offset = (int64_t)at;
        return p->err->code;
    }
    csv_reader cr;
    csv_init(&cr, &in, ',');
    int map[FACTDB_MAX_COLUMNS];
    size_t nmap = 0;
    int rc = csv_next(&cr, p->err);
    if (rc < 0) {
        csv_cleanup(&cr);
        return -rc;
    }
    if (rc == 0) {
        csv_cleanup(&cr);
        return base_err(p->err, FACTDB_BAD_CSV, "the CSV body is empty; it needs a header row naming the columns");
    }
    nmap = cr.nfields;
    if (nmap > FACTDB_MAX_COLUMNS) {
        csv_cleanup(&cr);
        return base_err(p->err, FACTDB_BAD_CSV, "the header has more than %d fields", FACTDB_MAX_COLUMNS);
    }
    for (size_t i = 0; i < nmap; i++) {
        char name[FACTDB_NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", (int)MIN(cr.fields[i].len, FACTDB_NAME_MAX), cr.fields[i].s);
        map[i] = find_col(p, name);
        if (map[i] < 0) {
            csv_cleanup(&cr);
            base_err(p->err, FACTDB_NO_COLUMN, "CSV header field %zu: column \"%s\" does not exist in table \"%s\"",
                     i + 1, name, p->ti->name);
            p->err->line = 1;
            p->err->column = (int64_t)i + 1;
            return FACTDB_NO_COLUMN;
        }
        for (size_t j = 0; j < i; j++)
            if (map[j] == map[i]) {  /* JSON refuses duplicate keys; the last value must not win silently */
                csv_cleanup(&cr);
                base_err(p->err, FACTDB_BAD_CSV, "CSV header fields %zu and %zu both name column \"%s\"", j + 1,
                         i + 1, name);
                p->err->line = 1;
                p->err->column = (int64_t)i + 1;
                return FACTDB_BAD_CSV;
            }
    }
    size_t row = 0;
    for (;;) {
        rc = csv_next(&cr, p->err);
        if (rc < 0) {
            rc = -rc;
            break;
        }
        if (rc == 0)
            break;
        row++;
        if (cr.nfields != nmap) {
            rc = row_err(p, FACTDB_BAD_CSV, row, -1, "line %lld has %zu fields, the header has %zu",
                         (long long)cr.fields[0].line, cr.nfields, nmap);
            break;
        }
        http_cell *c;
        if ((rc = new_row(p, row, &c)))
            break;
        for (size_t i = 0; i < nmap && !rc; i++) {
            const csv_field *f = &cr.fields[i];
            if (f->len == 0 && !f->quoted)
                c[map[i]].kind = HTTP_CELL_NULL;
            else
                rc = from_text(p, row, map[i], f->s, f->len, &c[map[i]]);
        }
        if (!rc)
            rc = check_not_null(p, row, c);
        if (rc)
            break;
    }
    csv_cleanup(&cr);
    return rc;
}

/* ---- the committer ---- */
static void *committer(void *arg)
{
    http_server *s = arg;
    pthread_mutex_lock(&s->qmu);
    for (;;) {
        while (!s->queue && !atomic_load(&s->closed))
            pthread_cond_wait(&s->qcv, &s->qmu);
        if (!s->queue)
            break;
        ins_req *batch = s->queue;
        s->queue = s->queue_tail = NULL;
        pthread_mutex_unlock(&s->qmu);
        uint64_t rows = s->be->commit_batch(s->bs, batch);
        if (rows)
            metrics_commit(s, rows);
        pthread_mutex_lock(&s->qmu);
        for (ins_req *r = batch; r; r = r->next)
            r->done = true;
        pthread_cond_broadcast(&s->donecv);
    }
    pthread_mutex_unlock(&s->qmu);
    return NULL;
}

int ingest_start(http_server *s, factdb_error *err)
{
    if (pthread_create(&s->committer, NULL, committer, s))
        return base_err(err, FACTDB_NOMEM, "cannot start the commit thread");
    s->committer_running = true;
    return 0;
}

void ingest_stop(http_server *s)
{
    if (!s->committer_running)
        return;
    atomic_store(&s->closed, true);
    pthread_mutex_lock(&s->qmu);
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    pthread_join(s->committer, NULL);
    s->committer_running = false;
}

int ingest_rows(http_server *s, const char *table, rows_format format, const char *body, size_t len,
                uint64_t *inserted, uint64_t *version, char *colname, size_t colcap, factdb_error *err)
{
    *inserted = 0;
    *version = 0;
    colname[0] = 0;
    ins_req *r = calloc(1, sizeof *r);
    if (!r)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    base_buf_init(&r->text, s->o.max_body + 1);
    parse_ctx p = {.s = s, .r = r, .err = err, .colname = colname, .colcap = colcap};
    http_table *t;
    int rc = s->be->table(s->bs, table, &t, err);
    if (rc) {
        req_free(r);
        return rc;
    }
    r->ti = t->info;  /* the request keeps the columns it was checked against (the backend writes by them) */
    r->has_default = t->has_default;
    t->has_default = NULL;
    t->info.cols = NULL;
    t->info.ncols = 0;
    s->be->tables_free(s->bs, t, 1);
    p.ti = &r->ti;
    snprintf(r->table, sizeof r->table, "%s", r->ti.name);
    r->ncols = r->ti.ncols;
    rc = format == ROWS_JSON ? parse_json(&p, body, len) : format == ROWS_NDJSON ? parse_ndjson(&p, body, len)
                                                                                 : parse_csv(&p, body, len);
    if (rc) {
        req_free(r);
        return rc;
    }
    if (r->nrows == 0) {
        req_free(r);
        return s->be->data_version(s->bs, version, err);
    }
    pthread_mutex_lock(&s->qmu);
    if (atomic_load(&s->closed)) {
        pthread_mutex_unlock(&s->qmu);
        req_free(r);
        return base_err(err, FACTDB_BUSY, "the server is shutting down; nothing was stored");
    }
    if (s->queue_tail)
        s->queue_tail->next = r;
    else
        s->queue = r;
    s->queue_tail = r;
    pthread_cond_signal(&s->qcv);
    while (!r->done)
        pthread_cond_wait(&s->donecv, &s->qmu);
    pthread_mutex_unlock(&s->qmu);
    rc = r->rc;
    if (rc)
        *err = r->err;
    else {
        *inserted = r->nrows;
        *version = r->version;
    }
    req_free(r);
    return rc;
}

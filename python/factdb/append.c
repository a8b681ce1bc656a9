/* append.c: Connection.append through factdb's appender: rows (tuples, dicts) or columns (numpy arrays of
 * a DataFrame, sequences of objects) converted by the table column's type, committed once: all or nothing.
 * The connection is held for the whole append; the GIL is released only where factdb may write or wait.
 * Inside a transaction (begin()) the appender writes into it (factdb_session_attach) and COMMIT publishes. */
#include "pyfactdb.h"
#include <datetime.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int append_init(void)
{
    PyDateTime_IMPORT;
    return PyDateTimeAPI ? 0 : -1;
}

/* ---- appending ---- */
/* One value into column `col` of the appender's current row, converted by the column's type. */
static int append_obj(factdb_appender *app, size_t col, const factdb_column_info *ci, PyObject *o, factdb_error *e)
{
    if (o == Py_None)
        return factdb_append_null(app, col, e);
    switch (ci->type) {
    case FACTDB_BOOLEAN:
        if (PyBool_Check(o))
            return factdb_append_bool(app, col, o == Py_True, e);
        if (PyLong_Check(o) || PyIndex_Check(o)) {
            int t = PyObject_IsTrue(o);
            return t < 0 ? -1 : factdb_append_bool(app, col, t, e);
        }
        break;
    case FACTDB_INTEGER:
    case FACTDB_BIGINT:
    case FACTDB_DATE:
    case FACTDB_TIMESTAMP:
    case FACTDB_TIMESTAMPTZ:
        if (ci->type == FACTDB_DATE && PyDate_Check(o) && !PyDateTime_Check(o))
            return factdb_append_int64(app, col, date_days(o), e);
        if ((ci->type == FACTDB_TIMESTAMP || ci->type == FACTDB_TIMESTAMPTZ)) {
            if (PyDateTime_Check(o)) {
                int64_t us;
                bool aware;
                if (datetime_us(o, &us, &aware))
                    return -1;
                return factdb_append_int64(app, col, us, e);
            }
            if (PyDate_Check(o))
                return factdb_append_int64(app, col, date_days(o) * US_PER_DAY, e);
        }
        if ((ci->type == FACTDB_INTEGER || ci->type == FACTDB_BIGINT) && !PyBool_Check(o) &&
            (PyLong_Check(o) || PyIndex_Check(o))) {
            int overflow;
            long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
            if (v == -1 && PyErr_Occurred())
                return -1;
            if (overflow) {
                snprintf(e->message, sizeof e->message, "column \"%s\": integer out of range for bigint", ci->name);
                return e->code = FACTDB_INVALID_VALUE;
            }
            return factdb_append_int64(app, col, v, e);
        }
        break;
    case FACTDB_DOUBLE:
        if (PyFloat_Check(o))
            return factdb_append_double(app, col, PyFloat_AS_DOUBLE(o), e);
        if ((PyLong_Check(o) && !PyBool_Check(o)) || PyObject_TypeCheck(o, (PyTypeObject *)DecimalType) ||
            PyObject_HasAttrString(o, "__float__")) {
            double d = PyFloat_AsDouble(o);
            if (d == -1 && PyErr_Occurred())
                return -1;
            return factdb_append_double(app, col, d, e);
        }
        break;
    case FACTDB_DECIMAL:
        if ((PyLong_Check(o) && !PyBool_Check(o)) || PyFloat_Check(o) ||
            PyObject_TypeCheck(o, (PyTypeObject *)DecimalType)) {
            /* its exact decimal text, rounded to the column's scale by factdb as PostgreSQL does */
            PyObject *d = PyObject_TypeCheck(o, (PyTypeObject *)DecimalType) ? Py_NewRef(o) : NULL;
            if (!d) {
                PyObject *rep = PyObject_Repr(o);
                d = rep ? PyObject_CallOneArg(DecimalType, rep) : NULL;
                Py_XDECREF(rep);
            }
            PyObject *f = d ? PyUnicode_FromString("f") : NULL;
            PyObject *t = f ? PyObject_Format(d, f) : NULL;
            Py_XDECREF(f);
            Py_XDECREF(d);
            if (!t)
                return -1;
            Py_ssize_t len;
            const char *s = PyUnicode_AsUTF8AndSize(t, &len);
            int rc = s ? factdb_append_parse(app, col, s, (size_t)len, e) : -1;
            Py_DECREF(t);
            return rc;
        }
        break;
    case FACTDB_TEXT:
        if (PyUnicode_Check(o)) {
            Py_ssize_t len;
            const char *s = PyUnicode_AsUTF8AndSize(o, &len);
            if (!s)
                return -1;
            return factdb_append_text(app, col, s, (size_t)len, e);
        }
        break;
    }
    if (PyUnicode_Check(o)) {  /* the text form of any type: "2024-01-31", "12.50", "true" */
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(o, &len);
        if (!s)
            return -1;
        return factdb_append_parse(app, col, s, (size_t)len, e);
    }
    char tn[64];
    snprintf(e->message, sizeof e->message, "column \"%s\" (%s) cannot take a value of Python type %s%s", ci->name,
             factdb_type_name(ci->type, ci->precision, ci->scale, tn, sizeof tn), Py_TYPE(o)->tp_name,
             PyBytes_Check(o) ? ": factdb has no binary type; decode bytes to str" : "");
    e->position = e->line = e->column = 0;
    e->offset = -1;
    return e->code = FACTDB_INVALID_VALUE;
}

/* Raises for a failed append: a Python exception already set, or the factdb error with the row number. */
static PyObject *append_fail(int rc, factdb_error *e, Py_ssize_t row)
{
    if (PyErr_Occurred())
        return NULL;
    if (row >= 0) {
        char tmp[sizeof e->message + 32];
        snprintf(tmp, sizeof tmp, "row %zd: %s", row + 1, e->message);
        tmp[sizeof e->message - 1] = 0;
        memcpy(e->message, tmp, sizeof e->message);
        e->line = row + 1;
    }
    return raise_factdb(rc, e);
}

typedef struct {
    Py_buffer buf;     /* numpy column (buf.obj NULL for a sequence) */
    PyObject *seq;     /* PySequence_Fast of objects */
    int unit;          /* datetime64 ints: 0 none, 1 ns, 2 us, 3 D */
    char fmt;
    Py_ssize_t col;    /* table column, -1: none */
} src_col;

/* Row `i` of a numpy column into the appender; NaN / NaT are NULL (pandas' missing values). */
static int append_buf(factdb_appender *app, const factdb_column_info *ci, src_col *sc, Py_ssize_t i, factdb_error *e)
{
    const char *p = (const char *)sc->buf.buf + i * sc->buf.strides[0];
    size_t col = (size_t)sc->col;
    int64_t v;
    double d;
    switch (sc->fmt) {
    case 'd': d = *(const double *)(const void *)p; goto dbl;
    case 'f': d = *(const float *)(const void *)p; goto dbl;
    case '?': return ci->type == FACTDB_BOOLEAN ? factdb_append_bool(app, col, *p != 0, e)
                                               : factdb_append_int64(app, col, *p != 0, e);
    case 'b': v = *(const int8_t *)p; break;
    case 'B': v = *(const uint8_t *)p; break;
    case 'h': v = *(const int16_t *)(const void *)p; break;
    case 'H': v = *(const uint16_t *)(const void *)p; break;
    case 'i': v = *(const int32_t *)(const void *)p; break;
    case 'I': v = *(const uint32_t *)(const void *)p; break;
    case 'l':
    case 'q': v = *(const int64_t *)(const void *)p; break;
    case 'L':
    case 'Q': {
        uint64_t u = *(const uint64_t *)(const void *)p;
        if (u > INT64_MAX) {
            snprintf(e->message, sizeof e->message, "column \"%s\": integer out of range for bigint", ci->name);
            return e->code = FACTDB_INVALID_VALUE;
        }
        v = (int64_t)u;
        break;
    }
    default:
        snprintf(e->message, sizeof e->message, "column \"%s\": unsupported array format '%c'", ci->name, sc->fmt);
        return e->code = FACTDB_INVALID_ARGUMENT;
    }
    if (sc->unit) {
        if (v == INT64_MIN)  /* NaT */
            return factdb_append_null(app, col, e);
        int64_t us = sc->unit == 1 ? floordiv(v, 1000) : sc->unit == 2 ? v : v * US_PER_DAY;
        if (ci->type == FACTDB_DATE)
            return factdb_append_int64(app, col, floordiv(us, US_PER_DAY), e);
        if (ci->type == FACTDB_TIMESTAMP || ci->type == FACTDB_TIMESTAMPTZ)
            return factdb_append_int64(app, col, us, e);
        snprintf(e->message, sizeof e->message, "column \"%s\" cannot take datetime values", ci->name);
        return e->code = FACTDB_INVALID_VALUE;
    }
    switch (ci->type) {
    case FACTDB_INTEGER:
    case FACTDB_BIGINT: return factdb_append_int64(app, col, v, e);
    case FACTDB_DOUBLE: return factdb_append_double(app, col, (double)v, e);
    case FACTDB_BOOLEAN: return factdb_append_bool(app, col, v != 0, e);
    case FACTDB_DECIMAL: {
        char b[40];
        int n = snprintf(b, sizeof b, "%lld", (long long)v);
        return factdb_append_parse(app, col, b, (size_t)n, e);
    }
    default: break;
    }
    snprintf(e->message, sizeof e->message, "column \"%s\" cannot take integer values", ci->name);
    return e->code = FACTDB_INVALID_VALUE;
dbl:
    if (d != d)
        return factdb_append_null(app, col, e);
    if (ci->type == FACTDB_DOUBLE)
        return factdb_append_double(app, col, d, e);
    if (ci->type == FACTDB_DECIMAL) {
        /* the float's shortest repr is its exact decimal text; factdb rounds it to the column's scale */
        char *r = PyOS_double_to_string(d, 'r', 0, 0, NULL);
        if (!r)
            return -1;
        if (!strpbrk(r, "eni")) {
            int rc = factdb_append_parse(app, col, r, strlen(r), e);
            PyMem_Free(r);
            return rc;
        }
        PyMem_Free(r);
        PyObject *f = PyFloat_FromDouble(d);
        int rc = f ? append_obj(app, col, ci, f, e) : -1;
        Py_XDECREF(f);
        return rc;
    }
    if ((ci->type == FACTDB_INTEGER || ci->type == FACTDB_BIGINT) && d == (double)(int64_t)d)
        return factdb_append_int64(app, col, (int64_t)d, e);
    snprintf(e->message, sizeof e->message, "column \"%s\" cannot take the float %g", ci->name, d);
    return e->code = FACTDB_INVALID_VALUE;
}

static int row_end(factdb_appender *app, factdb_error *e)
{
    /* a full chunk may be written (and wait for the write lock): without the GIL then */
    if ((factdb_appender_pending(app) + 1) % FACTDB_CHUNK_ROWS)
        return factdb_append_row_end(app, e);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = factdb_append_row_end(app, e);
    Py_END_ALLOW_THREADS
    return rc;
}

static PyObject *append_commit(Conn *self, factdb_appender *app, Py_ssize_t rows)
{
    factdb_error e;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = factdb_appender_commit(app, &e);
    factdb_appender_free(app);
    factdb_session_detach(self->s, rc != 0);
    Py_END_ALLOW_THREADS
    conn_leave(self);
    if (rc)
        return raise_factdb(rc, &e);
    return PyLong_FromSsize_t(rows);
}

static factdb_appender *append_open(Conn *self, const char *table)
{
    if (!conn_enter(self))
        return NULL;
    factdb_appender *app = NULL;
    factdb_error e;
    int rc;
    /* inside a transaction the rows join it (the block takes the write lock now if it has not yet) */
    Py_BEGIN_ALLOW_THREADS
    rc = factdb_session_attach(self->s, &e);
    if (!rc && (rc = factdb_appender_new(self->db, table, &app, &e)))
        factdb_session_detach(self->s, false);
    Py_END_ALLOW_THREADS
    if (rc) {
        conn_leave(self);
        raise_factdb(rc, &e);
        return NULL;
    }
    return app;
}

static void append_abort(Conn *self, factdb_appender *app)
{
    Py_BEGIN_ALLOW_THREADS
    factdb_appender_free(app);
    factdb_session_detach(self->s, true);  /* in a transaction: full chunks may be in it already */
    Py_END_ALLOW_THREADS
    conn_leave(self);
}

/* _append_rows(table, rows): rows is an iterable of sequences (by position) or dicts (by column name). */
PyObject *conn_append_rows(Conn *self, PyObject *args)
{
    const char *table;
    PyObject *rows;
    if (!PyArg_ParseTuple(args, "sO:append", &table, &rows))
        return NULL;
    PyObject *it = PyObject_GetIter(rows);
    if (!it)
        return NULL;
    factdb_appender *app = append_open(self, table);
    if (!app) {
        Py_DECREF(it);
        return NULL;
    }
    size_t nc = factdb_appender_ncols(app);
    const factdb_column_info *cols = factdb_appender_column(app, 0);
    factdb_error e;
    memset(&e, 0, sizeof e);
    Py_ssize_t row = 0;
    int rc = 0;
    PyObject *item;
    PyObject *names = NULL;  /* column name -> index, for dict rows */
    while ((item = PyIter_Next(it))) {
        if (PyDict_Check(item)) {
            if (!names) {
                names = PyDict_New();
                for (size_t c = 0; names && c < nc; c++) {
                    PyObject *k = PyUnicode_FromString(cols[c].name), *v = PyLong_FromSize_t(c);
                    if (!k || !v || PyDict_SetItem(names, k, v) < 0) {
                        Py_XDECREF(k);
                        Py_XDECREF(v);
                        Py_CLEAR(names);
                        break;
                    }
                    Py_DECREF(k);
                    Py_DECREF(v);
                }
                if (!names) {
                    rc = -1;
                    Py_DECREF(item);
                    break;
                }
            }
            PyObject *k, *v;
            Py_ssize_t ppos = 0;
            while (!rc && PyDict_Next(item, &ppos, &k, &v)) {
                PyObject *ix = PyDict_GetItemWithError(names, k);
                if (!ix) {
                    if (!PyErr_Occurred()) {
                        PyObject *ks = PyObject_Str(k);
                        snprintf(e.message, sizeof e.message, "table \"%s\" has no column \"%s\"", table,
                                 ks ? PyUnicode_AsUTF8(ks) : "?");
                        Py_XDECREF(ks);
                        PyErr_Clear();
                        rc = e.code = FACTDB_NO_COLUMN;
                    } else {
                        rc = -1;
                    }
                    break;
                }
                size_t c = PyLong_AsSize_t(ix);
                rc = append_obj(app, c, &cols[c], v, &e);
            }
        } else {
            PyObject *fast = PySequence_Fast(item, "each row must be a tuple, a list or a dict");
            if (!fast) {
                rc = -1;
            } else {
                Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
                if ((size_t)n != nc) {
                    snprintf(e.message, sizeof e.message, "the row has %zd values but table \"%s\" has %zu columns",
                             n, table, nc);
                    rc = e.code = FACTDB_INVALID_ARGUMENT;
                }
                PyObject **vals = PySequence_Fast_ITEMS(fast);
                for (size_t c = 0; !rc && c < nc; c++)
                    rc = append_obj(app, c, &cols[c], vals[c], &e);
                Py_DECREF(fast);
            }
        }
        Py_DECREF(item);
        if (!rc)
            rc = row_end(app, &e);
        if (rc)
            break;
        row++;
    }
    Py_XDECREF(names);
    Py_DECREF(it);
    if (!rc && PyErr_Occurred())
        rc = -1;
    if (rc) {
        append_abort(self, app);
        return append_fail(rc, &e, row);
    }
    return append_commit(self, app, row);
}

/* _append_columns(table, names, columns, units, nrows): columns[i] is a 1-d buffer (numpy array) or a
 * sequence of objects, for table column names[i]; units[i] is None, "ns", "us" or "D" for datetime64
 * arrays passed as their int64 view. */
PyObject *conn_append_columns(Conn *self, PyObject *args)
{
    const char *table;
    PyObject *names, *columns, *units;
    Py_ssize_t nrows;
    if (!PyArg_ParseTuple(args, "sOOOn:append", &table, &names, &columns, &units, &nrows))
        return NULL;
    if (!PyList_Check(names) || !PyList_Check(columns) || !PyList_Check(units) ||
        PyList_GET_SIZE(names) != PyList_GET_SIZE(columns) || PyList_GET_SIZE(names) != PyList_GET_SIZE(units))
        return raise_msg(ProgrammingError, FACTDB_INVALID_ARGUMENT, "_append_columns: bad arguments");
    Py_ssize_t nsrc = PyList_GET_SIZE(names);
    src_col *src = PyMem_Calloc(nsrc ? (size_t)nsrc : 1, sizeof *src);
    if (!src)
        return PyErr_NoMemory();
    factdb_appender *app = NULL;
    factdb_error e;
    memset(&e, 0, sizeof e);
    int rc = 0;
    Py_ssize_t row = -1;
    for (Py_ssize_t i = 0; i < nsrc; i++) {
        PyObject *col = PyList_GET_ITEM(columns, i), *u = PyList_GET_ITEM(units, i);
        src[i].col = -1;
        if (PyObject_CheckBuffer(col) && !PyBytes_Check(col) && !PyByteArray_Check(col)) {
            if (PyObject_GetBuffer(col, &src[i].buf, PyBUF_FORMAT | PyBUF_STRIDES) < 0) {
                rc = -1;
                goto out;
            }
            const char *f = src[i].buf.format ? src[i].buf.format : "B";
            if (*f == '<' || *f == '=' || *f == '@')
                f++;
            src[i].fmt = *f;
            if (src[i].buf.ndim != 1 || src[i].buf.shape[0] != nrows || strlen(f) != 1) {
                rc = -1;
                raise_msg(ProgrammingError, FACTDB_INVALID_ARGUMENT, "column %zd: expected a 1-d array of %zd "
                                                                     "numbers", i + 1, nrows);
                goto out;
            }
        } else {
            if (!(src[i].seq = PySequence_Fast(col, "a column must be an array or a sequence"))) {
                rc = -1;
                goto out;
            }
            if (PySequence_Fast_GET_SIZE(src[i].seq) != nrows) {
                rc = -1;
                raise_msg(ProgrammingError, FACTDB_INVALID_ARGUMENT, "column %zd has %zd values, not %zd", i + 1,
                          PySequence_Fast_GET_SIZE(src[i].seq), nrows);
                goto out;
            }
        }
        if (u != Py_None) {
            const char *us = PyUnicode_AsUTF8(u);
            src[i].unit = !us ? 0 : !strcmp(us, "ns") ? 1 : !strcmp(us, "us") ? 2 : !strcmp(us, "D") ? 3 : 0;
            if (!src[i].unit) {
                rc = -1;
                if (!PyErr_Occurred())
                    raise_msg(NotSupportedError, FACTDB_INVALID_ARGUMENT, "column %zd: datetime64 unit %s is not "
                                                                          "supported (use ns, us or D)", i + 1, us);
                goto out;
            }
        }
    }
    if (!(app = append_open(self, table))) {
        rc = -1;
        goto out;
    }
    size_t nc = factdb_appender_ncols(app);
    const factdb_column_info *cols = factdb_appender_column(app, 0);
    for (Py_ssize_t i = 0; i < nsrc && !rc; i++) {
        const char *nm = PyUnicode_AsUTF8(PyList_GET_ITEM(names, i));
        if (!nm) {
            rc = -1;
            break;
        }
        for (size_t c = 0; c < nc; c++)
            if (!strcmp(cols[c].name, nm))
                src[i].col = (Py_ssize_t)c;
        if (src[i].col < 0) {
            snprintf(e.message, sizeof e.message, "table \"%s\" has no column \"%s\"", table, nm);
            rc = e.code = FACTDB_NO_COLUMN;
        }
    }
    for (row = 0; row < nrows && !rc; row++) {
        for (Py_ssize_t i = 0; i < nsrc && !rc; i++) {
            const factdb_column_info *ci = &cols[src[i].col];
            if (src[i].seq)
                rc = append_obj(app, (size_t)src[i].col, ci, PySequence_Fast_GET_ITEM(src[i].seq, row), &e);
            else
                rc = append_buf(app, ci, &src[i], row, &e);
        }
        if (!rc)
            rc = row_end(app, &e);
    }
    if (rc) {
        row--;
    }
out:
    for (Py_ssize_t i = 0; i < nsrc; i++) {
        if (src[i].buf.obj)
            PyBuffer_Release(&src[i].buf);
        Py_XDECREF(src[i].seq);
    }
    PyMem_Free(src);
    if (rc) {
        if (app)
            append_abort(self, app);
        return append_fail(rc, &e, row);
    }
    return append_commit(self, app, nrows);
}


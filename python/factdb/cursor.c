/* cursor.c: the PEP 249 cursor: runs statements without the GIL (holding its connection), fetches rows as
 * tuples, and hands whole columns to numpy/pandas as buffers (factdb._frame). A cursor's result is its own:
 * it outlives later statements on the connection until the cursor runs another or is closed. */
#include "pyfactdb.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- cursor ---- */

static bool cursor_check(Cursor *c)
{
    if (c->closed || !c->conn) {  /* conn: NULL after the garbage collector cleared a cycle */
        raise_msg(ProgrammingError, FACTDB_INVALID_ARGUMENT, "cannot operate on a closed cursor");
        return false;
    }
    return conn_check(c->conn);
}

static void cursor_reset(Cursor *c)
{
    factdb_result_free(c->r);
    c->r = NULL;
    c->pos = c->nrows = 0;
    c->rowcount = -1;
    Py_CLEAR(c->description);
}

static PyObject *cursor_alloc(PyTypeObject *type, Conn *conn)
{
    Cursor *c = (Cursor *)type->tp_alloc(type, 0);  /* a subclass's instance too */
    if (!c)
        return NULL;
    c->conn = (Conn *)Py_NewRef(conn);
    c->r = NULL;
    c->pos = c->nrows = 0;
    c->rowcount = -1;
    c->arraysize = 1;
    c->description = NULL;
    c->closed = false;
    c->weakrefs = NULL;
    return (PyObject *)c;
}

PyObject *cursor_new_for(Conn *conn) { return cursor_alloc(&CursorType, conn); }

static PyObject *cursor_tp_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    Conn *conn;
    if (!PyArg_ParseTuple(args, "O!", &ConnType, &conn))
        return NULL;
    return cursor_alloc(type, conn);
}

static void cursor_dealloc(Cursor *c)
{
    PyObject_GC_UnTrack(c);
    if (c->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)c);
    factdb_result_free(c->r);
    Py_CLEAR(c->description);
    Py_CLEAR(c->conn);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static int cursor_traverse(Cursor *c, visitproc visit, void *arg)
{
    Py_VISIT(c->conn);
    Py_VISIT(c->description);
    return 0;
}

static int cursor_clear(Cursor *c)
{
    Py_CLEAR(c->description);
    Py_CLEAR(c->conn);
    return 0;
}

static Py_ssize_t tag_count(const char *tag)
{
    const char *sp = strrchr(tag, ' ');
    if (!sp || (strncmp(tag, "INSERT", 6) && strncmp(tag, "DELETE", 6) && strncmp(tag, "SELECT", 6) &&
                strncmp(tag, "COPY", 4) && strncmp(tag, "UPDATE", 6)))
        return -1;
    return (Py_ssize_t)strtoll(sp + 1, NULL, 10);
}

static PyObject *make_description(factdb_result *r)
{
    size_t nc = factdb_result_ncols(r);
    PyObject *d = PyTuple_New((Py_ssize_t)nc);
    if (!d)
        return NULL;
    for (size_t i = 0; i < nc; i++) {
        int scale = 0;
        factdb_type t = factdb_result_column_ctype(r, i, &scale);
        PyObject *item = Py_BuildValue("(ssOOOOO)", factdb_result_column_name(r, i), factdb_result_column_type(r, i),
                                       Py_None, Py_None, Py_None, Py_None, Py_None);
        if (!item) {
            Py_DECREF(d);
            return NULL;
        }
        if (t == FACTDB_DECIMAL) {
            PyObject *sc = PyLong_FromLong(scale);
            PyTuple_SetItem(item, 5, sc);
        }
        PyTuple_SET_ITEM(d, (Py_ssize_t)i, item);
    }
    return d;
}

/* Runs every statement of `sql` (a script runs in order; the last statement's result is kept), with the
 * GIL released and the connection held. Steals nothing. */
int run_sql(Cursor *cur, PyObject *sql_obj, PyObject *args)
{
    Conn *c = cur->conn;
    if (!PyUnicode_Check(sql_obj)) {
        raise_msg(ProgrammingError, FACTDB_INVALID_ARGUMENT, "the SQL must be a str, not %s", Py_TYPE(sql_obj)->tp_name);
        return -1;
    }
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(sql_obj, &len);
    if (!s)
        return -1;
    PyObject *conv = NULL;
    int *grow = NULL, ngrow = 0;
    if (args != NULL && args != Py_None) {
        if (!(conv = qmark_to_dollar(sql_obj, s, len, &grow, &ngrow)))
            return -1;
        if (!(s = PyUnicode_AsUTF8AndSize(conv, &len))) {
            Py_DECREF(conv);
            PyMem_Free(grow);
            return -1;
        }
    }
    params ps;
    if (params_from(args, &ps)) {
        Py_XDECREF(conv);
        PyMem_Free(grow);
        return -1;
    }
    cursor_reset(cur);
    if (!conn_enter(c)) {
        params_free(&ps);
        Py_XDECREF(conv);
        PyMem_Free(grow);
        return -1;
    }
    factdb_result *last = NULL;
    factdb_error e;
    int rc = 0;
    size_t at = 0;
    Py_BEGIN_ALLOW_THREADS
    while (at < (size_t)len) {
        factdb_result *r = NULL;
        size_t used = 0;
        rc = factdb_session_exec(c->s, s + at, (size_t)len - at, ps.p, (size_t)ps.n, &used, &r, &e);
        if (rc) {
            if (e.position > 0)
                e.position += (int64_t)at;
            break;
        }
        if (r) {
            factdb_result_free(last);
            last = r;
        }
        if (!used)
            break;
        at += used;
    }
    Py_END_ALLOW_THREADS
    conn_leave(c);
    params_free(&ps);
    Py_XDECREF(conv);
    if (rc && e.position > 0) {  /* a position in the caller's text, before ? became $n */
        int64_t back = 0;
        for (int k = 0; k < ngrow && grow[2 * k] < e.position; k++)
            back += grow[2 * k + 1];
        e.position -= back;
    }
    PyMem_Free(grow);
    if (rc) {
        factdb_result_free(last);
        raise_factdb(rc, &e);
        return -1;
    }
    cursor_reset(cur);  /* another thread's execute on this cursor may have finished meanwhile */
    cur->r = last;
    if (last) {
        cur->nrows = factdb_result_nrows(last);
        if (factdb_result_has_rows(last)) {
            cur->rowcount = (Py_ssize_t)cur->nrows;
            if (!(cur->description = make_description(last)))
                return -1;
        } else {
            cur->rowcount = tag_count(factdb_result_tag(last));
        }
    }
    return 0;
}

PyObject *cursor_execute(Cursor *cur, PyObject *args)
{
    PyObject *sql, *params_obj = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:execute", &sql, &params_obj))
        return NULL;
    if (!cursor_check(cur))
        return NULL;
    if (run_sql(cur, sql, params_obj))
        return NULL;
    return Py_NewRef(cur);
}

/* Runs the statement once per parameter sequence; outside a transaction all of them form one (all or
 * nothing, and one commit instead of one per row). */
PyObject *cursor_executemany(Cursor *cur, PyObject *args)
{
    PyObject *sql, *seq;
    if (!PyArg_ParseTuple(args, "OO:executemany", &sql, &seq))
        return NULL;
    if (!cursor_check(cur))
        return NULL;
    PyObject *it = PyObject_GetIter(seq);
    if (!it)
        return NULL;
    Conn *c = cur->conn;
    bool own = !(c->block && pthread_equal(c->owner, pthread_self()));
    if (own) {
        PyObject *r = conn_exec_simple(c, "BEGIN");
        if (!r) {
            Py_DECREF(it);
            return NULL;
        }
        Py_DECREF(r);
    }
    Py_ssize_t total = 0;
    PyObject *item;
    bool failed = false;
    while ((item = PyIter_Next(it))) {
        int rc = run_sql(cur, sql, item);
        Py_DECREF(item);
        if (rc) {
            failed = true;
            break;
        }
        if (cur->rowcount > 0)
            total += cur->rowcount;
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        failed = true;
    if (own) {
        PyObject *et = NULL, *ev = NULL, *tb = NULL;
        if (failed)
            PyErr_Fetch(&et, &ev, &tb);
        PyObject *r = conn_exec_simple(c, failed ? "ROLLBACK" : "COMMIT");
        if (failed) {
            Py_XDECREF(r);
            PyErr_Clear();
            PyErr_Restore(et, ev, tb);
            return NULL;
        }
        if (!r)
            return NULL;
        Py_DECREF(r);
    } else if (failed) {
        return NULL;
    }
    cursor_reset(cur);
    cur->rowcount = total;
    Py_RETURN_NONE;
}

static bool has_rows(Cursor *cur)
{
    if (!cur->r || !factdb_result_has_rows(cur->r)) {
        raise_msg(ProgrammingError, FACTDB_INVALID_ARGUMENT, "no result to fetch from: execute a statement that "
                                                             "returns rows first");
        return false;
    }
    return true;
}

static PyObject *cursor_fetchone(Cursor *cur, PyObject *unused)
{
    if (!cursor_check(cur) || !has_rows(cur))
        return NULL;
    if (cur->pos >= cur->nrows)
        Py_RETURN_NONE;
    return row_tuple(cur->r, cur->pos++);
}

static PyObject *fetch_n(Cursor *cur, uint64_t n)
{
    uint64_t left = cur->nrows - cur->pos;
    if (n > left)
        n = left;
    PyObject *l = PyList_New((Py_ssize_t)n);
    if (!l)
        return NULL;
    for (uint64_t i = 0; i < n; i++) {
        PyObject *t = row_tuple(cur->r, cur->pos + i);
        if (!t) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    cur->pos += n;
    return l;
}

static PyObject *cursor_fetchmany(Cursor *cur, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"size", NULL};
    Py_ssize_t size = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|n:fetchmany", kwlist, &size))
        return NULL;
    if (!cursor_check(cur) || !has_rows(cur))
        return NULL;
    if (size < 0)
        size = cur->arraysize;
    return fetch_n(cur, (uint64_t)size);
}

static PyObject *cursor_fetchall(Cursor *cur, PyObject *unused)
{
    if (!cursor_check(cur) || !has_rows(cur))
        return NULL;
    return fetch_n(cur, cur->nrows - cur->pos);
}

static PyObject *cursor_iternext(Cursor *cur)
{
    if (!cursor_check(cur) || !has_rows(cur))
        return NULL;
    if (cur->pos >= cur->nrows)
        return NULL;
    return row_tuple(cur->r, cur->pos++);
}

/* Text values of a column, as str objects shared between equal values (a fact table's text columns
 * repeat few values; one object each saves the decoding and the memory). */
#define STR_CACHE 4096
typedef struct {
    PyObject *o[STR_CACHE];
    const char *p[STR_CACHE];
    size_t len[STR_CACHE];
} str_cache;

static PyObject *cached_str(str_cache *sc, const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    size_t k = len < 32 ? len : 32;
    for (size_t i = 0; i < k; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    h ^= len;
    size_t slot = (size_t)(h ^ (h >> 29)) & (STR_CACHE - 1);
    if (sc->o[slot] && sc->len[slot] == len && memcmp(sc->p[slot], s, len) == 0)
        return Py_NewRef(sc->o[slot]);
    PyObject *o = PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, NULL);
    if (!o)
        return NULL;
    Py_XDECREF(sc->o[slot]);
    sc->o[slot] = Py_NewRef(o);
    sc->p[slot] = s;  /* the result's own copy: lives as long as the cache (one call) */
    sc->len[slot] = len;
    return o;
}

/* The remaining rows as columns, for numpy/pandas (built in __init__.py without numpy headers here):
 * a list of (name, kind, data, valid, scale) where kind is the factdb type name in lower case
 * ("bigint", "double", "timestamp", ...) or "object"; data is a bytearray of fixed-width values (bool
 * uint8, integer int32, bigint/decimal/date/timestamp int64 with NULL as 0, double float64) or, for
 * text and values without a C form, a list of Python objects; valid is a bytearray (1 = value) or None
 * when the column has no NULL. */
static PyObject *columns(Cursor *cur, bool pandas);
static PyObject *cursor_columns(Cursor *cur, PyObject *args)
{
    int pandas = 0;
    if (!PyArg_ParseTuple(args, "|p", &pandas))
        return NULL;
    return columns(cur, pandas);
}

/* pandas: convert for pandas 1.x in the same pass (decimal to double, the "decimal_f64" kind; date and
 * timestamps to int64 nanoseconds with NULL as NaT, the "*_ns" kinds; out-of-range values keep the
 * microsecond kinds). */
static PyObject *columns(Cursor *cur, bool pandas)
{
    if (!cursor_check(cur) || !has_rows(cur))
        return NULL;
    factdb_result *r = cur->r;
    uint64_t first = cur->pos, n = cur->nrows - cur->pos;
    size_t nc = factdb_result_ncols(r);
    PyObject *out = PyList_New((Py_ssize_t)nc);
    if (!out)
        return NULL;
    str_cache *sc = NULL;
    for (size_t c = 0; c < nc; c++) {
        int scale = 0;
        factdb_type t = factdb_result_column_ctype(r, c, &scale);
        const char *kind;
        PyObject *data = NULL, *valid = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)n);
        if (!valid)
            goto fail;
        uint8_t *vb = (uint8_t *)PyByteArray_AS_STRING(valid);
        switch (t) {
        case FACTDB_BOOLEAN: kind = "bool"; break;
        case FACTDB_INTEGER: kind = "integer"; break;
        case FACTDB_BIGINT: kind = "bigint"; break;
        case FACTDB_DOUBLE: kind = "double"; break;
        case FACTDB_DECIMAL: kind = "decimal"; break;
        case FACTDB_DATE: kind = "date"; break;
        case FACTDB_TIMESTAMP: kind = "timestamp"; break;
        case FACTDB_TIMESTAMPTZ: kind = "timestamptz"; break;
        default: kind = "object"; break;
        }
        if (t == FACTDB_DOUBLE) {
            data = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(n * 8));
            if (!data)
                goto fail_col;
            factdb_result_read_double(r, c, first, n, (double *)(void *)PyByteArray_AS_STRING(data), vb);
        } else if (t && t != FACTDB_TEXT) {
            data = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(n * 8));
            if (!data)
                goto fail_col;
            int64_t *d = (int64_t *)(void *)PyByteArray_AS_STRING(data);
            factdb_result_read_int64(r, c, first, n, d, vb);
            if (pandas && t == FACTDB_DECIMAL) {
                double *f = (double *)(void *)d;
                double p10 = 1;
                for (int k = 0; k < scale; k++)
                    p10 *= 10;
                for (uint64_t i = 0; i < n; i++)
                    f[i] = (double)d[i] / p10;
                kind = "decimal_f64";
            } else if (pandas && (t == FACTDB_DATE || t == FACTDB_TIMESTAMP || t == FACTDB_TIMESTAMPTZ)) {
                /* datetime64[ns] spans 1677-09-21 .. 2262-04-11 */
                int64_t lim = t == FACTDB_DATE ? INT64_MAX / (US_PER_DAY * 1000) : INT64_MAX / 1000, mul = t == FACTDB_DATE ? US_PER_DAY * 1000 : 1000;
                bool fits = true;
                for (uint64_t i = 0; i < n && fits; i++)
                    fits = d[i] < lim && d[i] > -lim;
                if (fits) {
                    for (uint64_t i = 0; i < n; i++)
                        d[i] = vb[i] ? d[i] * mul : INT64_MIN;
                    kind = t == FACTDB_DATE ? "date_ns" : t == FACTDB_TIMESTAMP ? "timestamp_ns" : "timestamptz_ns";
                }
            }
            if (t == FACTDB_BOOLEAN || t == FACTDB_INTEGER) {  /* narrow in place */
                if (t == FACTDB_BOOLEAN) {
                    uint8_t *b = (uint8_t *)d;
                    for (uint64_t i = 0; i < n; i++)
                        b[i] = (uint8_t)d[i];
                    PyByteArray_Resize(data, (Py_ssize_t)n);
                } else {
                    int32_t *w = (int32_t *)(void *)d;
                    for (uint64_t i = 0; i < n; i++)
                        w[i] = (int32_t)d[i];
                    PyByteArray_Resize(data, (Py_ssize_t)(n * 4));
                }
            }
        } else {
            if (!sc && !(sc = PyMem_Calloc(1, sizeof *sc))) {
                PyErr_NoMemory();
                goto fail_col;
            }
            data = PyList_New((Py_ssize_t)n);
            if (!data)
                goto fail_col;
            for (uint64_t i = 0; i < n; i++) {
                PyObject *v;
                if (t == FACTDB_TEXT) {
                    char buf[160];
                    size_t len;
                    const char *s = factdb_result_text(r, first + i, c, buf, sizeof buf, &len);
                    vb[i] = s != NULL;
                    v = s ? cached_str(sc, s, len) : Py_NewRef(Py_None);
                } else {
                    vb[i] = !factdb_result_is_null(r, first + i, c);
                    v = cell(r, first + i, c);
                }
                if (!v)
                    goto fail_col;
                PyList_SET_ITEM(data, (Py_ssize_t)i, v);
            }
            if (t == FACTDB_TEXT)
                kind = "text";
        }
        bool any_null = memchr(vb, 0, (size_t)n) != NULL;
        PyObject *item = Py_BuildValue("(ssOOi)", factdb_result_column_name(r, c), kind, data,
                                       any_null ? valid : Py_None, scale);
        /* Py_BuildValue's O took its own references */
        Py_DECREF(data);
        Py_DECREF(valid);
        if (!item)
            goto fail;
        PyList_SET_ITEM(out, (Py_ssize_t)c, item);
        continue;
    fail_col:
        Py_XDECREF(data);
        Py_XDECREF(valid);
        goto fail;
    }
    if (sc) {
        for (int i = 0; i < STR_CACHE; i++)
            Py_XDECREF(sc->o[i]);
        PyMem_Free(sc);
    }
    cur->pos = cur->nrows;
    return out;
fail:
    if (sc) {
        for (int i = 0; i < STR_CACHE; i++)
            Py_XDECREF(sc->o[i]);
        PyMem_Free(sc);
    }
    Py_DECREF(out);
    return NULL;
}

/* The remaining rows with every value in factdb's text form (PostgreSQL's output), for python -m factdb. */
static PyObject *cursor_fetchtext(Cursor *cur, PyObject *unused)
{
    if (!cursor_check(cur) || !has_rows(cur))
        return NULL;
    size_t nc = factdb_result_ncols(cur->r);
    PyObject *l = PyList_New(0);
    for (; l && cur->pos < cur->nrows; cur->pos++) {
        PyObject *t = PyTuple_New((Py_ssize_t)nc);
        for (size_t c = 0; t && c < nc; c++) {
            char buf[160];
            size_t len;
            const char *s = factdb_result_text(cur->r, cur->pos, c, buf, sizeof buf, &len);
            PyObject *v = s ? PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, NULL) : Py_NewRef(Py_None);
            if (!v)
                Py_CLEAR(t);
            else
                PyTuple_SET_ITEM(t, (Py_ssize_t)c, v);
        }
        if (!t || PyList_Append(l, t) < 0)
            Py_CLEAR(l);
        Py_XDECREF(t);
    }
    return l;
}

/* _render(fmt): the whole result rendered by factdb's writer ("csv", "json" or "ndjson"), as `factdb sql`
 * prints it. */
static PyObject *cursor_render(Cursor *cur, PyObject *args)
{
    const char *f;
    if (!PyArg_ParseTuple(args, "s", &f) || !cursor_check(cur) || !has_rows(cur))
        return NULL;
    factdb_format fmt = !strcmp(f, "csv") ? FACTDB_FORMAT_CSV : !strcmp(f, "json") ? FACTDB_FORMAT_JSON
                      : !strcmp(f, "ndjson") ? FACTDB_FORMAT_NDJSON : 0;
    if (!fmt) {
        PyErr_SetString(PyExc_ValueError, "format must be csv, json or ndjson");
        return NULL;
    }
    factdb_writer *w;
    factdb_error e;
    int rc = factdb_writer_new(cur->r, fmt, NULL, &w, &e);
    if (rc)
        return raise_factdb(rc, &e);
    PyObject *parts = PyList_New(0);
    char buf[65536];
    size_t n;
    while (parts && (n = factdb_writer_read(w, buf, sizeof buf)) > 0) {
        PyObject *b = PyBytes_FromStringAndSize(buf, (Py_ssize_t)n);
        if (!b || PyList_Append(parts, b) < 0)
            Py_CLEAR(parts);
        Py_XDECREF(b);
    }
    factdb_writer_free(w);
    if (!parts)
        return NULL;
    PyObject *empty = PyBytes_FromStringAndSize(NULL, 0);
    PyObject *r = empty ? _PyBytes_Join(empty, parts) : NULL;
    Py_XDECREF(empty);
    Py_DECREF(parts);
    cur->pos = cur->nrows;
    return r;
}

/* df()/fetchnumpy(): the remaining rows through factdb._frame (numpy and pandas imported only then). */
static PyObject *frame_call(Cursor *cur, const char *fn)
{
    PyObject *mod = PyImport_ImportModule("factdb._frame");
    if (!mod)
        return NULL;
    PyObject *cols = columns(cur, !strcmp(fn, "to_df"));
    PyObject *r = cols ? PyObject_CallMethod(mod, fn, "O", cols) : NULL;
    Py_XDECREF(cols);
    Py_DECREF(mod);
    return r;
}

static PyObject *cursor_df(Cursor *cur, PyObject *unused) { return frame_call(cur, "to_df"); }
static PyObject *cursor_fetchnumpy(Cursor *cur, PyObject *unused) { return frame_call(cur, "to_numpy"); }

static PyObject *cursor_close(Cursor *cur, PyObject *unused)
{
    cursor_reset(cur);
    cur->closed = true;
    Py_RETURN_NONE;
}

static PyObject *cursor_noop(Cursor *cur, PyObject *args) { Py_RETURN_NONE; }

static PyObject *cursor_description(Cursor *cur, void *unused)
{
    return Py_NewRef(cur->description ? cur->description : Py_None);
}

static PyObject *cursor_rowcount(Cursor *cur, void *unused) { return PyLong_FromSsize_t(cur->rowcount); }

static PyObject *cursor_statusmessage(Cursor *cur, void *unused)
{
    if (!cur->r)
        Py_RETURN_NONE;
    return PyUnicode_FromString(factdb_result_tag(cur->r));
}

static PyObject *cursor_connection(Cursor *cur, void *unused) { return Py_NewRef((PyObject *)cur->conn); }

static PyObject *cursor_data_version(Cursor *cur, void *unused)
{
    if (!cur->r)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(factdb_result_data_version(cur->r));
}

static PyObject *cursor_arraysize_get(Cursor *cur, void *unused) { return PyLong_FromSsize_t(cur->arraysize); }

static int cursor_arraysize_set(Cursor *cur, PyObject *v, void *unused)
{
    Py_ssize_t n = v ? PyLong_AsSsize_t(v) : -1;
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (n < 1) {
        PyErr_SetString(PyExc_ValueError, "arraysize must be 1 or more");
        return -1;
    }
    cur->arraysize = n;
    return 0;
}

static PyObject *self_enter(PyObject *self, PyObject *unused) { return Py_NewRef(self); }

static PyObject *cursor_exit(Cursor *cur, PyObject *args) { return cursor_close(cur, NULL); }

static PyMethodDef cursor_methods[] = {
    {"execute", (PyCFunction)cursor_execute, METH_VARARGS, "execute(sql, parameters=None): runs a statement; $1 or ? placeholders."},
    {"executemany", (PyCFunction)cursor_executemany, METH_VARARGS, "executemany(sql, seq_of_parameters): one statement per parameter sequence, all in one transaction."},
    {"fetchone", (PyCFunction)cursor_fetchone, METH_NOARGS, "The next row as a tuple, or None."},
    {"fetchmany", (PyCFunction)(void (*)(void))cursor_fetchmany, METH_VARARGS | METH_KEYWORDS, "fetchmany(size=arraysize): the next rows."},
    {"fetchall", (PyCFunction)cursor_fetchall, METH_NOARGS, "The remaining rows, as a list of tuples."},
    {"df", (PyCFunction)cursor_df, METH_NOARGS, "The remaining rows as a pandas DataFrame."},
    {"fetchdf", (PyCFunction)cursor_df, METH_NOARGS, "The same as df()."},
    {"fetchnumpy", (PyCFunction)cursor_fetchnumpy, METH_NOARGS, "The remaining rows as {column: numpy array} (masked arrays where NULLs)."},
    {"_fetchtext", (PyCFunction)cursor_fetchtext, METH_NOARGS, "The remaining rows as text (PostgreSQL's output form)."},
    {"_render", (PyCFunction)cursor_render, METH_VARARGS, "The result rendered as csv, json or ndjson bytes."},
    {"_columns", (PyCFunction)cursor_columns, METH_VARARGS, "The remaining rows as column buffers (for df/fetchnumpy)."},
    {"close", (PyCFunction)cursor_close, METH_NOARGS, "Frees the result; the cursor cannot be used again."},
    {"setinputsizes", (PyCFunction)cursor_noop, METH_VARARGS, "Does nothing (PEP 249)."},
    {"setoutputsize", (PyCFunction)cursor_noop, METH_VARARGS, "Does nothing (PEP 249)."},
    {"__enter__", (PyCFunction)self_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)cursor_exit, METH_VARARGS, NULL},
    {NULL}};

static PyGetSetDef cursor_getset[] = {
    {"description", (getter)cursor_description, NULL, "PEP 249: (name, type_code, None, None, None, scale, None) per column; type_code is the PostgreSQL type name.", NULL},
    {"statusmessage", (getter)cursor_statusmessage, NULL, "The last statement's command tag (\"INSERT 0 5\", \"SELECT 3\"), or None.", NULL},
    {"rowcount", (getter)cursor_rowcount, NULL, "Rows returned, inserted or deleted by the last statement; -1 when unknown.", NULL},
    {"arraysize", (getter)cursor_arraysize_get, (setter)cursor_arraysize_set, "Default size of fetchmany.", NULL},
    {"connection", (getter)cursor_connection, NULL, "The cursor's connection.", NULL},
    {"data_version", (getter)cursor_data_version, NULL, "The database's data_version after the last statement.", NULL},
    {NULL}};

PyTypeObject CursorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "factdb.Cursor",
    .tp_basicsize = sizeof(Cursor),
    .tp_dealloc = (destructor)cursor_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A DB-API cursor: runs statements and fetches their rows.",
    .tp_traverse = (traverseproc)cursor_traverse,
    .tp_clear = (inquiry)cursor_clear,
    .tp_weaklistoffset = offsetof(Cursor, weakrefs),
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)cursor_iternext,
    .tp_methods = cursor_methods,
    .tp_getset = cursor_getset,
    .tp_new = cursor_tp_new,
};


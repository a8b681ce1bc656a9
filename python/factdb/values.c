/* values.c: Python values to factdb parameters (typed: numeric with its scale, dates, timestamps; bytes
 * refused) and result cells to Python values, plus the `?` to `$n` rewrite. Dates are proleptic
 * Gregorian days since 1970-01-01 on both sides, as in factdb. */
#include "pyfactdb.h"
#include "base/base.h"
#include <datetime.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static PyObject *UTC;  /* datetime.timezone.utc */

int values_init(void)
{
    PyDateTime_IMPORT;
    if (!PyDateTimeAPI)
        return -1;
    UTC = Py_NewRef(PyDateTime_TimeZone_UTC);
    return 0;
}

/* ---- dates: proleptic Gregorian days since 1970-01-01, by the library's own conversions (src/base,
 * linked in statically) ---- */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) { return base_days_from_civil(y, m, d); }

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    unsigned um, ud;
    base_civil_from_days(z, y, &um, &ud);
    *m = (int)um;
    *d = (int)ud;
}


/* ---- parameters ---- */

void params_free(params *ps)
{
    for (Py_ssize_t i = 0; i < ps->n; i++)
        Py_XDECREF(ps->keep[i]);
    PyMem_Free(ps->p);
    PyMem_Free(ps->keep);
    ps->p = NULL;
    ps->keep = NULL;
    ps->n = 0;
}

/* Microseconds since the epoch of a datetime; an aware one is converted to UTC (*aware set). */
int datetime_us(PyObject *o, int64_t *out, bool *aware)
{
    int64_t days = days_from_civil(PyDateTime_GET_YEAR(o), PyDateTime_GET_MONTH(o), PyDateTime_GET_DAY(o));
    int64_t us = days * US_PER_DAY +
                 ((int64_t)PyDateTime_DATE_GET_HOUR(o) * 3600 + PyDateTime_DATE_GET_MINUTE(o) * 60 +
                  PyDateTime_DATE_GET_SECOND(o)) * 1000000 + PyDateTime_DATE_GET_MICROSECOND(o);
    *aware = false;
    PyObject *tz = PyDateTime_DATE_GET_TZINFO(o);
    if (tz != Py_None) {
        PyObject *off = PyObject_CallMethod(o, "utcoffset", NULL);
        if (!off)
            return -1;
        if (off != Py_None) {
            if (!PyDelta_Check(off)) {
                Py_DECREF(off);
                PyErr_SetString(ProgrammingError, "utcoffset() did not return a timedelta");
                return -1;
            }
            us -= ((int64_t)PyDateTime_DELTA_GET_DAYS(off) * 86400 + PyDateTime_DELTA_GET_SECONDS(off)) * 1000000 +
                  PyDateTime_DELTA_GET_MICROSECONDS(off);
            *aware = true;
        }
        Py_DECREF(off);
    }
    *out = us;
    return 0;
}

int64_t date_days(PyObject *o)
{
    return days_from_civil(PyDateTime_GET_YEAR(o), PyDateTime_GET_MONTH(o), PyDateTime_GET_DAY(o));
}

/* A Decimal as an int64 scaled by 10^*scale (0..18); returns 1 when it does not fit (the caller then uses
 * its text), -1 with an exception set. */
static int decimal_scaled(PyObject *o, int64_t *out, int *scale)
{
    PyObject *t = PyObject_CallMethod(o, "as_tuple", NULL);
    if (!t)
        return -1;
    int rc = 1;
    PyObject *sign = PyTuple_GetItem(t, 0), *digits = PyTuple_GetItem(t, 1), *exp = PyTuple_GetItem(t, 2);
    if (!sign || !digits || !exp || !PyLong_Check(exp)) {
        if (!PyErr_Occurred())
            raise_msg(DataError, FACTDB_INVALID_VALUE, "a Decimal NaN or Infinity cannot be stored: numeric "
                                                       "values are finite");
        rc = -1;
        goto out;
    }
    long e = PyLong_AsLong(exp);
    Py_ssize_t nd = PyTuple_GET_SIZE(digits);
    if (nd + (e > 0 ? e : 0) > 18 || -e > 18)
        goto out;
    int64_t v = 0;
    for (Py_ssize_t i = 0; i < nd; i++)
        v = v * 10 + PyLong_AsLong(PyTuple_GET_ITEM(digits, i));
    for (long k = 0; k < e; k++)
        v *= 10;
    *out = PyLong_AsLong(sign) ? -v : v;
    *scale = e < 0 ? (int)-e : 0;
    rc = 0;
out:
    Py_DECREF(t);
    return rc;
}

static PyObject *bytes_error(Py_ssize_t i)
{
    return raise_msg(ProgrammingError, FACTDB_INVALID_ARGUMENT,
                     "parameter $%zd is bytes: factdb has no binary type; pass text (e.g. b.decode() or "
                     "base64.b64encode(b).decode())", i + 1);
}

/* Converts one Python value to a parameter; text is kept alive in *keep. */
static int param_from(PyObject *o, Py_ssize_t i, factdb_param *p, PyObject **keep)
{
    memset(p, 0, sizeof *p);
    *keep = NULL;
    if (o == Py_None) {
        p->kind = FACTDB_PARAM_NULL;
    } else if (PyBool_Check(o)) {
        p->kind = FACTDB_PARAM_BOOL;
        p->b = o == Py_True;
    } else if (PyLong_Check(o)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow) {
            raise_msg(DataError, FACTDB_INVALID_VALUE, "parameter $%zd: integer out of range for bigint", i + 1);
            return -1;
        }
        p->kind = FACTDB_PARAM_INT;
        p->i = v;
    } else if (PyFloat_Check(o)) {
        p->kind = FACTDB_PARAM_DOUBLE;
        p->d = PyFloat_AS_DOUBLE(o);
    } else if (PyUnicode_Check(o)) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(o, &len);
        if (!s)
            return -1;
        p->kind = FACTDB_PARAM_TEXT;
        p->s = s;
        p->len = (size_t)len;
        *keep = Py_NewRef(o);
    } else if (PyDateTime_Check(o)) {
        bool aware;
        if (datetime_us(o, &p->i, &aware))
            return -1;
        p->kind = aware ? FACTDB_PARAM_TIMESTAMPTZ : FACTDB_PARAM_TIMESTAMP;
    } else if (PyDate_Check(o)) {
        p->kind = FACTDB_PARAM_DATE;
        p->i = date_days(o);
    } else if (PyObject_TypeCheck(o, (PyTypeObject *)DecimalType)) {
        int rc = decimal_scaled(o, &p->i, &p->scale);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            p->kind = FACTDB_PARAM_DECIMAL;
        } else {  /* beyond 18 digits: its exact text, typed by its context */
            PyObject *t = PyObject_Format(o, NULL);
            PyObject *f = t ? PyUnicode_FromString("f") : NULL;
            Py_XDECREF(t);
            t = f ? PyObject_Format(o, f) : NULL;
            Py_XDECREF(f);
            if (!t)
                return -1;
            Py_ssize_t len;
            p->s = PyUnicode_AsUTF8AndSize(t, &len);
            p->len = (size_t)len;
            p->kind = FACTDB_PARAM_TEXT;
            *keep = t;
        }
    } else if (PyBytes_Check(o) || PyByteArray_Check(o) || PyMemoryView_Check(o)) {
        bytes_error(i);
        return -1;
    } else if (strcmp(Py_TYPE(o)->tp_name, "numpy.bool_") == 0 || strcmp(Py_TYPE(o)->tp_name, "bool_") == 0) {
        int t = PyObject_IsTrue(o);
        if (t < 0)
            return -1;
        p->kind = FACTDB_PARAM_BOOL;
        p->b = t;
    } else if (PyIndex_Check(o)) {  /* numpy integers */
        PyObject *v = PyNumber_Index(o);
        if (!v)
            return -1;
        int rc = param_from(v, i, p, keep);
        Py_DECREF(v);
        return rc;
    } else if (PyObject_HasAttrString(o, "__float__") && !PyComplex_Check(o)) {  /* numpy floats, bool_ */
        double d = PyFloat_AsDouble(o);
        if (d == -1 && PyErr_Occurred())
            return -1;
        p->kind = FACTDB_PARAM_DOUBLE;
        p->d = d;
    } else {
        raise_msg(ProgrammingError, FACTDB_INVALID_ARGUMENT,
                  "parameter $%zd has type %s, which factdb cannot bind (use None, bool, int, float, "
                  "decimal.Decimal, str, datetime.date or datetime.datetime)", i + 1, Py_TYPE(o)->tp_name);
        return -1;
    }
    return 0;
}

int params_from(PyObject *seq, params *ps)
{
    memset(ps, 0, sizeof *ps);
    if (seq == NULL || seq == Py_None)
        return 0;
    if (PyDict_Check(seq)) {
        raise_msg(ProgrammingError, FACTDB_INVALID_ARGUMENT,
                  "parameters must be a sequence for $1/? placeholders, not a dict (named parameters are not "
                  "supported)");
        return -1;
    }
    if (PyUnicode_Check(seq) || PyBytes_Check(seq)) {
        raise_msg(ProgrammingError, FACTDB_INVALID_ARGUMENT,
                  "parameters must be a sequence such as a list or tuple, not a %s", Py_TYPE(seq)->tp_name);
        return -1;
    }
    PyObject *fast = PySequence_Fast(seq, "parameters must be a sequence (a list or tuple)");
    if (!fast)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    ps->p = PyMem_Calloc(n ? (size_t)n : 1, sizeof *ps->p);
    ps->keep = PyMem_Calloc(n ? (size_t)n : 1, sizeof *ps->keep);
    if (!ps->p || !ps->keep) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (param_from(PySequence_Fast_GET_ITEM(fast, i), i, &ps->p[i], &ps->keep[i])) {
            ps->n = i + 1;
            Py_DECREF(fast);
            params_free(ps);
            return -1;
        }
        ps->n = i + 1;
    }
    Py_DECREF(fast);
    return 0;
}

/* Rewrites qmark placeholders (`?`) as $1, $2, ... outside string literals, quoted names and comments,
 * so both paramstyles reach factdb as native parameters. Returns a new reference, or `sql` itself when
 * it holds no `?`. */
PyObject *qmark_to_dollar(PyObject *sql, const char *s, Py_ssize_t len, int **grow, int *ngrow)
{
    *grow = NULL;
    *ngrow = 0;
    if (!memchr(s, '?', (size_t)len))
        return Py_NewRef(sql);
    char *out = PyMem_Malloc((size_t)len * 6 + 1);
    if (!out)
        return PyErr_NoMemory();
    Py_ssize_t o = 0;
    int n = 0;
    for (Py_ssize_t i = 0; i < len;) {
        char c = s[i];
        if (c == '\'' || c == '"') {
            Py_ssize_t j = i + 1;
            while (j < len && !(s[j] == c && !(j + 1 < len && s[j + 1] == c)))
                j += s[j] == c ? 2 : 1;
            j = j < len ? j + 1 : len;
            memcpy(out + o, s + i, (size_t)(j - i));
            o += j - i;
            i = j;
        } else if (c == '-' && i + 1 < len && s[i + 1] == '-') {
            Py_ssize_t j = i;
            while (j < len && s[j] != '\n')
                j++;
            memcpy(out + o, s + i, (size_t)(j - i));
            o += j - i;
            i = j;
        } else if (c == '/' && i + 1 < len && s[i + 1] == '*') {
            Py_ssize_t j = i + 2;
            while (j + 1 < len && !(s[j] == '*' && s[j + 1] == '/'))
                j++;
            j = j + 1 < len ? j + 2 : len;
            memcpy(out + o, s + i, (size_t)(j - i));
            o += j - i;
            i = j;
        } else if (c == '?') {
            if (n % 64 == 0) {
                int *g = PyMem_Realloc(*grow, (size_t)(n + 64) * 2 * sizeof *g);
                if (!g) {
                    PyMem_Free(out);
                    return PyErr_NoMemory();
                }
                *grow = g;
            }
            int w = sprintf(out + o, "$%d", n + 1);
            (*grow)[2 * n] = (int)(o + w);  /* rewritten text from here on is w - 1 bytes longer */
            (*grow)[2 * n + 1] = w - 1;
            n++;
            *ngrow = n;
            o += w;
            i++;
        } else {
            out[o++] = c;
            i++;
        }
    }
    PyObject *r = PyUnicode_DecodeUTF8(out, o, NULL);
    PyMem_Free(out);
    return r;
}

/* ---- values out ---- */
static PyObject *days_to_date(int64_t days, const char *text, size_t len)
{
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 1 || y > 9999)  /* beyond Python's date: its text */
        return PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, NULL);
    return PyDate_FromDate(y, m, d);
}

static PyObject *us_to_datetime(int64_t us, bool tz)
{
    int64_t days = floordiv(us, US_PER_DAY), rem = us - days * US_PER_DAY;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 1 || y > 9999)
        return NULL;
    int64_t secs = rem / 1000000;
    return PyDateTimeAPI->DateTime_FromDateAndTime(y, m, d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
                                                   (int)(rem % 1000000), tz ? UTC : Py_None, PyDateTimeAPI->DateTimeType);
}

static PyObject *decimal_from_text(const char *s, size_t len)
{
    PyObject *t = PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, NULL);
    if (!t)
        return NULL;
    PyObject *d = PyObject_CallOneArg(DecimalType, t);
    Py_DECREF(t);
    return d;
}

static size_t format_scaled(int64_t v, int scale, char *buf)
{
    char digits[32];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int n = 0;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n <= scale)
        digits[n++] = '0';
    size_t o = 0;
    if (v < 0)
        buf[o++] = '-';
    for (int i = n - 1; i >= 0; i--) {
        buf[o++] = digits[i];
        if (i == scale && scale > 0)
            buf[o++] = '.';
    }
    return o;
}

/* One cell as a Python object. */
PyObject *cell(factdb_result *r, uint64_t row, size_t col)
{
    if (factdb_result_is_null(r, row, col))
        Py_RETURN_NONE;
    int scale;
    factdb_type t = factdb_result_column_ctype(r, col, &scale);
    int64_t v = 0;
    double d;
    char buf[160];
    size_t len;
    const char *txt;
    switch (t) {
    case FACTDB_BOOLEAN:
        factdb_result_read_int64(r, col, row, 1, &v, NULL);
        return PyBool_FromLong(v != 0);
    case FACTDB_INTEGER:
    case FACTDB_BIGINT:
        factdb_result_read_int64(r, col, row, 1, &v, NULL);
        return PyLong_FromLongLong(v);
    case FACTDB_DOUBLE:
        factdb_result_read_double(r, col, row, 1, &d, NULL);
        return PyFloat_FromDouble(d);
    case FACTDB_DECIMAL:
        factdb_result_read_int64(r, col, row, 1, &v, NULL);
        len = format_scaled(v, scale, buf);
        return decimal_from_text(buf, len);
    case FACTDB_TEXT:
        txt = factdb_result_text(r, row, col, buf, sizeof buf, &len);
        return PyUnicode_DecodeUTF8(txt, (Py_ssize_t)len, NULL);
    case FACTDB_DATE:
        factdb_result_read_int64(r, col, row, 1, &v, NULL);
        txt = factdb_result_text(r, row, col, buf, sizeof buf, &len);
        return days_to_date(v, txt, len);
    case FACTDB_TIMESTAMP:
    case FACTDB_TIMESTAMPTZ: {
        factdb_result_read_int64(r, col, row, 1, &v, NULL);
        PyObject *o = us_to_datetime(v, t == FACTDB_TIMESTAMPTZ);
        if (o || PyErr_Occurred())
            return o;
        txt = factdb_result_text(r, row, col, buf, sizeof buf, &len);
        return PyUnicode_DecodeUTF8(txt, (Py_ssize_t)len, NULL);
    }
    default:
        txt = factdb_result_text(r, row, col, buf, sizeof buf, &len);
        if (strcmp(factdb_result_column_type(r, col), "numeric") == 0)
            return decimal_from_text(txt, len);
        return PyUnicode_DecodeUTF8(txt, (Py_ssize_t)len, NULL);
    }
}

PyObject *row_tuple(factdb_result *r, uint64_t row)
{
    size_t nc = factdb_result_ncols(r);
    PyObject *t = PyTuple_New((Py_ssize_t)nc);
    if (!t)
        return NULL;
    for (size_t c = 0; c < nc; c++) {
        PyObject *v = cell(r, row, c);
        if (!v) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, (Py_ssize_t)c, v);
    }
    return t;
}


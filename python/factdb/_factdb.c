/* _factdb.c: the C core of the `factdb` Python module (PEP 249), over the public C API only
 * (include/factdb.h); the package's __init__.py adds the pure-Python conveniences.
 * Invariants: the GIL is released around every call that may run a query or wait for the write lock;
 * a connection's session is used by one thread at a time (conn->mu), and a BEGIN block keeps conn->mu for
 * its owning thread until it ends; a connection is used only in the process that opened it (getpid
 * checked at each call), and a child of fork() never closes its parent's handle. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <structmember.h>

#include "factdb.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- module state (one interpreter) ---- */
static PyObject *Warning_, *Error, *InterfaceError, *DatabaseError, *DataError, *OperationalError, *IntegrityError,
    *InternalError, *ProgrammingError, *NotSupportedError;
static PyObject *DecimalType;  /* decimal.Decimal */
static PyObject *UTC;          /* datetime.timezone.utc */

#define US_PER_DAY 86400000000LL
#define EPOCH_ORDINAL 719163  /* date(1970, 1, 1).toordinal() */

/* ---- dates: proleptic Gregorian days since 1970-01-01 (H. Hinnant's algorithms) ---- */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static int64_t floordiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

/* ---- errors ---- */
static PyObject *error_class(int code)
{
    switch (code) {
    case FACTDB_TABLE_EXISTS:
    case FACTDB_NO_TABLE:
    case FACTDB_NO_COLUMN:
    case FACTDB_INVALID_ARGUMENT: return ProgrammingError;
    case FACTDB_INVALID_VALUE:
    case FACTDB_INVALID_UTF8:
    case FACTDB_BAD_CSV:
    case FACTDB_ENCODING: return DataError;
    case FACTDB_NOT_NULL: return IntegrityError;
    case FACTDB_INTERNAL: return InternalError;
    case FACTDB_CORRUPT:
    case FACTDB_NOT_A_DATABASE:
    case FACTDB_NEWER_FORMAT: return DatabaseError;
    default: return OperationalError;
    }
}

/* Raises the exception for a factdb error, with .code (the stable name), .errno (the number) and the
 * .position/.line/.column/.offset factdb gave (None when they do not apply). Returns NULL. */
static PyObject *raise_factdb(int code, const factdb_error *e)
{
    PyObject *cls = error_class(code);
    PyObject *exc = PyObject_CallFunction(cls, "s", e->message[0] ? e->message : factdb_error_name(code));
    if (!exc)
        return NULL;
    PyObject *v;
#define SETA(name, expr)                                  \
    v = (expr);                                           \
    if (!v || PyObject_SetAttrString(exc, name, v) < 0) { \
        Py_XDECREF(v);                                    \
        Py_DECREF(exc);                                   \
        return NULL;                                      \
    }                                                     \
    Py_DECREF(v);
    SETA("code", PyUnicode_FromString(factdb_error_name(code)));
    SETA("errno", PyLong_FromLong(code));
    SETA("position", e->position > 0 ? PyLong_FromLongLong(e->position) : Py_NewRef(Py_None));
    SETA("line", e->line > 0 ? PyLong_FromLongLong(e->line) : Py_NewRef(Py_None));
    SETA("column", e->column > 0 ? PyLong_FromLongLong(e->column) : Py_NewRef(Py_None));
    SETA("offset", e->offset >= 0 ? PyLong_FromLongLong(e->offset) : Py_NewRef(Py_None));
#undef SETA
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
}

static PyObject *raise_msg(PyObject *cls, int code, const char *fmt, ...)
{
    factdb_error e;
    memset(&e, 0, sizeof e);
    e.offset = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    PyObject *exc = PyObject_CallFunction(cls, "s", e.message);
    if (!exc)
        return NULL;
    PyObject *c = PyUnicode_FromString(factdb_error_name(code));
    if (c)
        PyObject_SetAttrString(exc, "code", c);
    Py_XDECREF(c);
    PyObject_SetAttrString(exc, "position", Py_None);
    PyObject_SetAttrString(exc, "line", Py_None);
    PyObject_SetAttrString(exc, "column", Py_None);
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
}

/* ---- connection ---- */
typedef struct {
    PyObject_HEAD
    factdb *db;
    factdb_session *s;
    pid_t pid;              /* the process that opened it */
    pthread_mutex_t mu;     /* one thread at a time on s */
    bool block;             /* a BEGIN block is open: mu is held by `owner` */
    pthread_t owner;
    int busy_ms;
    PyObject *path;
    PyObject *weakrefs;
} Conn;

static PyTypeObject ConnType, CursorType;

static bool conn_check(Conn *c)
{
    if (!c->db) {
        raise_msg(ProgrammingError, FACTDB_INVALID_ARGUMENT, "cannot operate on a closed connection");
        return false;
    }
    if (c->pid != getpid()) {
        raise_msg(InterfaceError, FACTDB_INVALID_ARGUMENT,
                  "this connection was opened by process %d before a fork(); a child process cannot use it: "
                  "call factdb.connect() again in the child", (int)c->pid);
        return false;
    }
    return true;
}

/* Takes c->mu for this thread (without the GIL, waiting at most the busy timeout), unless this thread
 * already owns it through an open BEGIN block. Returns false with an exception set. */
static bool conn_enter(Conn *c)
{
    if (!conn_check(c))
        return false;
    if (c->block && pthread_equal(c->owner, pthread_self()))
        return true;
    int rc = pthread_mutex_trylock(&c->mu);
    if (rc == EBUSY) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (int64_t)(c->busy_ms > 0 ? c->busy_ms : 0) * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        Py_BEGIN_ALLOW_THREADS
        rc = pthread_mutex_timedlock(&c->mu, &ts);
        Py_END_ALLOW_THREADS
    }
    if (rc) {
        raise_msg(OperationalError, FACTDB_BUSY,
                  "the connection is busy: another thread of this process has had it for the whole busy "
                  "timeout (%d ms), e.g. inside a transaction it has not ended; use one connection per "
                  "thread for long transactions", c->busy_ms);
        return false;
    }
    if (!c->db) {  /* closed meanwhile by another thread */
        pthread_mutex_unlock(&c->mu);
        raise_msg(ProgrammingError, FACTDB_INVALID_ARGUMENT, "cannot operate on a closed connection");
        return false;
    }
    return true;
}

/* Releases c->mu unless a BEGIN block is now open, which keeps it for this thread until it ends. */
static void conn_leave(Conn *c)
{
    if (c->s && factdb_session_in_transaction(c->s)) {
        c->block = true;
        c->owner = pthread_self();
        return;
    }
    c->block = false;
    pthread_mutex_unlock(&c->mu);
}

static int conn_init(Conn *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"database", "read_only", "busy_timeout", "threads", NULL};
    PyObject *path_obj, *timeout = Py_None, *threads = Py_None;
    int read_only = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pOO", kwlist, &path_obj, &read_only, &timeout, &threads))
        return -1;
    if (self->db) {
        PyErr_SetString(ProgrammingError, "the connection is already open");
        return -1;
    }
    PyObject *bytes = NULL;
    if (!PyUnicode_FSConverter(path_obj, &bytes))
        return -1;
    factdb_options o = {.busy_timeout_ms = -1, .read_only = read_only, .flags = 0};
    if (timeout != Py_None) {
        double t = PyFloat_AsDouble(timeout);
        if (t == -1 && PyErr_Occurred()) {
            Py_DECREF(bytes);
            return -1;
        }
        if (t < 0 || t > 86400 * 365) {
            Py_DECREF(bytes);
            PyErr_SetString(PyExc_ValueError, "busy_timeout is in seconds, 0 or more");
            return -1;
        }
        o.busy_timeout_ms = (int)(t * 1000 + 0.5);
    }
    int nthreads = 0;
    if (threads != Py_None) {
        nthreads = PyLong_AsLong(threads);
        if (nthreads == -1 && PyErr_Occurred()) {
            Py_DECREF(bytes);
            return -1;
        }
        if (nthreads < 1) {
            Py_DECREF(bytes);
            PyErr_SetString(PyExc_ValueError, "threads must be 1 or more");
            return -1;
        }
    }
    factdb_error e;
    factdb *db = NULL;
    int rc;
    const char *p = PyBytes_AS_STRING(bytes);
    Py_BEGIN_ALLOW_THREADS
    rc = factdb_open(p, &o, &db, &e);
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    if (rc) {
        raise_factdb(rc, &e);
        return -1;
    }
    factdb_session *s;
    if ((rc = factdb_session_new(db, &s, &e))) {
        factdb_close(db);
        raise_factdb(rc, &e);
        return -1;
    }
    if (nthreads)
        factdb_session_set_threads(s, nthreads);
    self->db = db;
    self->s = s;
    self->pid = getpid();
    self->busy_ms = o.busy_timeout_ms < 0 ? 10000 : o.busy_timeout_ms;
    Py_INCREF(path_obj);
    Py_XSETREF(self->path, path_obj);
    return 0;
}

static PyObject *conn_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    Conn *self = (Conn *)type->tp_alloc(type, 0);
    if (self)
        pthread_mutex_init(&self->mu, NULL);
    return (PyObject *)self;
}

/* Closes the handle; in a child of fork() it only forgets it: closing LMDB's environment there would clear
 * the parent's reader slots. */
static void conn_close_handle(Conn *self)
{
    if (!self->db)
        return;
    if (self->pid == getpid()) {
        factdb_session_free(self->s);  /* rolls back an open block */
        factdb_close(self->db);
    }
    self->s = NULL;
    self->db = NULL;
    self->block = false;
}

static void conn_dealloc(Conn *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    /* A block still open in another thread: its write transaction belongs to that thread; leak it rather
     * than end it from here. */
    if (!(self->block && !pthread_equal(self->owner, pthread_self())))
        conn_close_handle(self);
    Py_CLEAR(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int conn_traverse(Conn *self, visitproc visit, void *arg)
{
    Py_VISIT(self->path);
    return 0;
}

static PyObject *conn_close(Conn *self, PyObject *unused)
{
    if (!self->db)
        Py_RETURN_NONE;
    if (self->pid != getpid()) {
        conn_close_handle(self);
        Py_RETURN_NONE;
    }
    if (!conn_enter(self))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    conn_close_handle(self);
    Py_END_ALLOW_THREADS
    pthread_mutex_unlock(&self->mu);
    Py_RETURN_NONE;
}

static PyObject *conn_data_version(Conn *self, PyObject *unused)
{
    if (!conn_check(self))
        return NULL;
    return PyLong_FromUnsignedLongLong(factdb_data_version(self->db));
}

static PyObject *conn_in_transaction(Conn *self, void *unused)
{
    return PyBool_FromLong(self->db && self->pid == getpid() && factdb_session_in_transaction(self->s));
}

static PyObject *conn_closed(Conn *self, void *unused) { return PyBool_FromLong(!self->db); }

static PyObject *conn_read_only(Conn *self, void *unused)
{
    if (!conn_check(self))
        return NULL;
    return PyBool_FromLong(factdb_read_only_reason(self->db) != NULL);
}

/* ---- parameters ---- */
typedef struct {
    factdb_param *p;
    PyObject **keep;  /* objects owning the text of TEXT parameters */
    Py_ssize_t n;
} params;

static void params_free(params *ps)
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
static int datetime_us(PyObject *o, int64_t *out, bool *aware)
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

static int64_t date_days(PyObject *o)
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

static int params_from(PyObject *seq, params *ps)
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
static PyObject *qmark_to_dollar(PyObject *sql, const char *s, Py_ssize_t len, int **grow, int *ngrow)
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

/* ---- cursor ---- */
typedef struct {
    PyObject_HEAD
    Conn *conn;
    factdb_result *r;
    uint64_t pos, nrows;
    Py_ssize_t rowcount;
    Py_ssize_t arraysize;
    PyObject *description;
    bool closed;
    PyObject *weakrefs;
} Cursor;

static bool cursor_check(Cursor *c)
{
    if (c->closed) {
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

static PyObject *cursor_new_for(Conn *conn)
{
    Cursor *c = PyObject_GC_New(Cursor, &CursorType);
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
    PyObject_GC_Track(c);
    return (PyObject *)c;
}

static PyObject *cursor_tp_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    Conn *conn;
    if (!PyArg_ParseTuple(args, "O!", &ConnType, &conn))
        return NULL;
    return cursor_new_for(conn);
}

static void cursor_dealloc(Cursor *c)
{
    PyObject_GC_UnTrack(c);
    if (c->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)c);
    factdb_result_free(c->r);
    Py_CLEAR(c->description);
    Py_CLEAR(c->conn);
    PyObject_GC_Del(c);
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
static int run_sql(Cursor *cur, PyObject *sql_obj, PyObject *args)
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

static PyObject *cursor_execute(Cursor *cur, PyObject *args)
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

static PyObject *conn_exec_simple(Conn *c, const char *sql);

/* Runs the statement once per parameter sequence; outside a transaction all of them form one (all or
 * nothing, and one commit instead of one per row). */
static PyObject *cursor_executemany(Cursor *cur, PyObject *args)
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
static PyObject *cell(factdb_result *r, uint64_t row, size_t col)
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

static PyObject *row_tuple(factdb_result *r, uint64_t row)
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
    {"rowcount", (getter)cursor_rowcount, NULL, "Rows returned, inserted or deleted by the last statement; -1 when unknown.", NULL},
    {"arraysize", (getter)cursor_arraysize_get, (setter)cursor_arraysize_set, "Default size of fetchmany.", NULL},
    {"connection", (getter)cursor_connection, NULL, "The cursor's connection.", NULL},
    {"data_version", (getter)cursor_data_version, NULL, "The database's data_version after the last statement.", NULL},
    {NULL}};

static PyTypeObject CursorType = {
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

/* ---- connection methods ---- */
static PyObject *conn_cursor(Conn *self, PyObject *unused)
{
    if (!conn_check(self))
        return NULL;
    return cursor_new_for(self);
}

static PyObject *conn_exec_simple(Conn *c, const char *sql)
{
    PyObject *cur = cursor_new_for(c);
    if (!cur)
        return NULL;
    PyObject *s = PyUnicode_FromString(sql);
    int rc = s ? run_sql((Cursor *)cur, s, NULL) : -1;
    Py_XDECREF(s);
    if (rc) {
        Py_DECREF(cur);
        return NULL;
    }
    return cur;
}

static PyObject *conn_execute(Conn *self, PyObject *args)
{
    if (!conn_check(self))
        return NULL;
    PyObject *cur = cursor_new_for(self);
    if (!cur)
        return NULL;
    PyObject *r = cursor_execute((Cursor *)cur, args);
    Py_DECREF(cur);
    return r;
}

static PyObject *conn_executemany(Conn *self, PyObject *args)
{
    if (!conn_check(self))
        return NULL;
    PyObject *cur = cursor_new_for(self);
    if (!cur)
        return NULL;
    PyObject *r = cursor_executemany((Cursor *)cur, args);
    if (!r) {
        Py_DECREF(cur);
        return NULL;
    }
    Py_DECREF(r);
    return cur;
}

static bool owns_block(Conn *c) { return c->block && pthread_equal(c->owner, pthread_self()); }

static PyObject *conn_begin(Conn *self, PyObject *unused)
{
    if (!conn_check(self))
        return NULL;
    if (owns_block(self))
        return raise_msg(ProgrammingError, FACTDB_INVALID_ARGUMENT, "a transaction is already open on this "
                                                                    "connection: commit() or rollback() it first");
    PyObject *r = conn_exec_simple(self, "BEGIN");
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_NONE;
}

static PyObject *conn_end(Conn *self, const char *sql)
{
    if (!conn_check(self))
        return NULL;
    if (!owns_block(self))
        Py_RETURN_NONE;  /* autocommit: nothing pending */
    PyObject *r = conn_exec_simple(self, sql);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_NONE;
}

static PyObject *conn_commit(Conn *self, PyObject *unused) { return conn_end(self, "COMMIT"); }
static PyObject *conn_rollback(Conn *self, PyObject *unused) { return conn_end(self, "ROLLBACK"); }

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
    if (owns_block(self)) {
        conn_leave(self);
        raise_msg(NotSupportedError, FACTDB_INVALID_ARGUMENT,
                  "append() inside a transaction is not supported yet: append outside it (append is atomic "
                  "on its own) or use executemany()");
        return NULL;
    }
    factdb_appender *app;
    factdb_error e;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = factdb_appender_new(self->db, table, &app, &e);
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
    Py_END_ALLOW_THREADS
    conn_leave(self);
}

/* _append_rows(table, rows): rows is an iterable of sequences (by position) or dicts (by column name). */
static PyObject *conn_append_rows(Conn *self, PyObject *args)
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
static PyObject *conn_append_columns(Conn *self, PyObject *args)
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

static PyObject *conn_interrupt(Conn *self, PyObject *unused)
{
    if (self->s && self->pid == getpid())
        factdb_session_cancel(self->s);
    Py_RETURN_NONE;
}

static PyObject *conn_tables(Conn *self, PyObject *unused)
{
    if (!conn_check(self))
        return NULL;
    factdb_table_info *list;
    size_t n;
    factdb_error e;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = factdb_table_list(self->db, &list, &n, &e);
    Py_END_ALLOW_THREADS
    if (rc)
        return raise_factdb(rc, &e);
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l && i < n; i++) {
        PyObject *s = PyUnicode_FromString(list[i].name);
        if (!s) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, s);
    }
    factdb_table_list_free(list, n);
    return l;
}

static PyMethodDef conn_methods[] = {
    {"cursor", (PyCFunction)conn_cursor, METH_NOARGS, "A new cursor."},
    {"execute", (PyCFunction)conn_execute, METH_VARARGS, "execute(sql, parameters=None): a new cursor that ran the statement."},
    {"executemany", (PyCFunction)conn_executemany, METH_VARARGS, "executemany(sql, seq_of_parameters): as Cursor.executemany; returns the cursor."},
    {"begin", (PyCFunction)conn_begin, METH_NOARGS, "Starts a transaction (BEGIN); commit() or rollback() ends it."},
    {"commit", (PyCFunction)conn_commit, METH_NOARGS, "Commits the open transaction (none is open in autocommit)."},
    {"rollback", (PyCFunction)conn_rollback, METH_NOARGS, "Rolls back the open transaction."},
    {"close", (PyCFunction)conn_close, METH_NOARGS, "Closes the connection, rolling back an open transaction."},
    {"data_version", (PyCFunction)conn_data_version, METH_NOARGS, "The id of the database's last commit by any process; grows with every commit."},
    {"interrupt", (PyCFunction)conn_interrupt, METH_NOARGS, "Cancels the running statement (from another thread)."},
    {"tables", (PyCFunction)conn_tables, METH_NOARGS, "The names of the tables."},
    {"_append_rows", (PyCFunction)conn_append_rows, METH_VARARGS, NULL},
    {"_append_columns", (PyCFunction)conn_append_columns, METH_VARARGS, NULL},
    {NULL}};

static PyGetSetDef conn_getset[] = {
    {"in_transaction", (getter)conn_in_transaction, NULL, "True between begin() and commit()/rollback().", NULL},
    {"closed", (getter)conn_closed, NULL, "True once closed.", NULL},
    {"read_only", (getter)conn_read_only, NULL, "True when this connection cannot write.", NULL},
    {NULL}};

static PyMemberDef conn_members[] = {
    {"path", T_OBJECT, offsetof(Conn, path), READONLY, "The database path given to connect()."},
    {NULL}};

static PyTypeObject ConnType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "factdb._factdb.Connection",
    .tp_basicsize = sizeof(Conn),
    .tp_dealloc = (destructor)conn_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A connection to a factdb database file (see factdb.connect).",
    .tp_traverse = (traverseproc)conn_traverse,
    .tp_weaklistoffset = offsetof(Conn, weakrefs),
    .tp_methods = conn_methods,
    .tp_getset = conn_getset,
    .tp_members = conn_members,
    .tp_init = (initproc)conn_init,
    .tp_new = conn_new,
};

/* ---- module ---- */
static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_factdb", "The C core of the factdb module.", -1, NULL};

static PyObject *new_exc(PyObject *m, const char *name, PyObject *base)
{
    char full[64];
    snprintf(full, sizeof full, "factdb.%s", name);
    PyObject *e = PyErr_NewException(full, base, NULL);
    if (e && PyModule_AddObjectRef(m, name, e) < 0)
        Py_CLEAR(e);
    return e;
}

PyMODINIT_FUNC PyInit__factdb(void)
{
    PyDateTime_IMPORT;
    if (!PyDateTimeAPI)
        return NULL;
    PyObject *dec = PyImport_ImportModule("decimal");
    if (!dec)
        return NULL;
    DecimalType = PyObject_GetAttrString(dec, "Decimal");
    Py_DECREF(dec);
    if (!DecimalType)
        return NULL;
    UTC = PyDateTime_TimeZone_UTC;
    Py_INCREF(UTC);
    if (PyType_Ready(&ConnType) < 0 || PyType_Ready(&CursorType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    if (!(Warning_ = new_exc(m, "Warning", PyExc_Exception)) || !(Error = new_exc(m, "Error", PyExc_Exception)) ||
        !(InterfaceError = new_exc(m, "InterfaceError", Error)) || !(DatabaseError = new_exc(m, "DatabaseError", Error)) ||
        !(DataError = new_exc(m, "DataError", DatabaseError)) ||
        !(OperationalError = new_exc(m, "OperationalError", DatabaseError)) ||
        !(IntegrityError = new_exc(m, "IntegrityError", DatabaseError)) ||
        !(InternalError = new_exc(m, "InternalError", DatabaseError)) ||
        !(ProgrammingError = new_exc(m, "ProgrammingError", DatabaseError)) ||
        !(NotSupportedError = new_exc(m, "NotSupportedError", DatabaseError)))
        goto fail;
    /* defaults, so that every factdb error has the attributes even when raised from Python */
    PyObject *all[] = {Error};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        PyObject_SetAttrString(all[i], "code", Py_None);
        PyObject_SetAttrString(all[i], "position", Py_None);
        PyObject_SetAttrString(all[i], "line", Py_None);
        PyObject_SetAttrString(all[i], "column", Py_None);
        PyObject_SetAttrString(all[i], "offset", Py_None);
    }
    if (PyModule_AddObjectRef(m, "Connection", (PyObject *)&ConnType) < 0 ||
        PyModule_AddObjectRef(m, "Cursor", (PyObject *)&CursorType) < 0 ||
        PyModule_AddStringConstant(m, "library_version", FACTDB_VERSION) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}

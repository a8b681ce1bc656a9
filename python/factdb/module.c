/* module.c: the C core of the `factdb` Python module (PEP 249), over the public C API only
 * (include/factdb.h); the package's __init__.py adds the pure-Python conveniences.
 * Invariants: the GIL is released around every call that may run a query or wait for the write lock;
 * a connection's session is used by one thread at a time (conn->mu), and a BEGIN block keeps conn->mu for
 * its owning thread until it ends; a connection is used only in the process that opened it (getpid
 * checked at each call), and a child of fork() never closes its parent's handle. */
#include "pyfactdb.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- module state (one interpreter) ---- */
PyObject *Warning_, *Error, *InterfaceError, *DatabaseError, *DataError, *OperationalError, *IntegrityError,
    *InternalError, *ProgrammingError, *NotSupportedError;
PyObject *DecimalType;  /* decimal.Decimal */


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
    case FACTDB_NOT_NULL:
    case FACTDB_UNIQUE_VIOLATION: return IntegrityError;
    case FACTDB_INTERNAL: return InternalError;
    case FACTDB_CORRUPT:
    case FACTDB_NOT_A_DATABASE:
    case FACTDB_NEWER_FORMAT: return DatabaseError;
    default: return OperationalError;
    }
}

/* Raises the exception for a factdb error, with .code (the stable name), .errno (the number) and the
 * .position/.line/.column/.offset factdb gave (None when they do not apply). Returns NULL. */
PyObject *raise_factdb(int code, const factdb_error *e)
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

PyObject *raise_msg(PyObject *cls, int code, const char *fmt, ...)
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

bool conn_check(Conn *c)
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
bool conn_enter(Conn *c)
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
void conn_leave(Conn *c)
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

/* ---- connection methods ---- */
static PyObject *conn_cursor(Conn *self, PyObject *unused)
{
    if (!conn_check(self))
        return NULL;
    return cursor_new_for(self);
}

PyObject *conn_exec_simple(Conn *c, const char *sql)
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

PyTypeObject ConnType = {
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
    if (values_init() < 0 || append_init() < 0)
        return NULL;
    PyObject *dec = PyImport_ImportModule("decimal");
    if (!dec)
        return NULL;
    DecimalType = PyObject_GetAttrString(dec, "Decimal");
    Py_DECREF(dec);
    if (!DecimalType)
        return NULL;
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

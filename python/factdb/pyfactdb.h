/* pyfactdb.h: what the files of the factdb Python module's C core share (module.c's comment states the
 * invariants): the connection and cursor objects, the exceptions, and the functions one file gives
 * another. Only include/factdb.h's public API is used. */
#ifndef PYFACTDB_H
#define PYFACTDB_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "factdb.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* PEP 249's exceptions (Warning_ is factdb.Warning) and decimal.Decimal. */
extern PyObject *Warning_, *Error, *InterfaceError, *DatabaseError, *DataError, *OperationalError, *IntegrityError,
    *InternalError, *ProgrammingError, *NotSupportedError;
extern PyObject *DecimalType;
extern PyTypeObject ConnType, CursorType;

#define US_PER_DAY 86400000000LL

/* a / b rounded toward minus infinity */
static inline int64_t floordiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

/* factdb._factdb.Connection (subclassed by factdb.Connection in __init__.py) */
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

static inline bool owns_block(Conn *c) { return c->block && pthread_equal(c->owner, pthread_self()); }

/* factdb.Cursor: rows pos..nrows of r are still to fetch */
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

/* The parameters of one statement; keep[i] owns the text of p[i] */
typedef struct {
    factdb_param *p;
    PyObject **keep;  /* objects owning the text of TEXT parameters */
    Py_ssize_t n;
} params;

/* module.c. raise_factdb raises the PEP 249 exception of a factdb error with .code, .errno, .position,
 * .line, .column, .offset; raise_msg one of class `cls` with a formatted message. Both return NULL. */
PyObject *raise_factdb(int code, const factdb_error *e);
PyObject *raise_msg(PyObject *cls, int code, const char *fmt, ...);
/* conn_check: open and in the process that opened it (else an exception, false). conn_enter takes the
 * connection for this thread (waiting without the GIL up to the busy timeout); conn_leave gives it back
 * unless a BEGIN block is now open, which keeps it for this thread until it ends. */
bool conn_check(Conn *c);
bool conn_enter(Conn *c);
void conn_leave(Conn *c);
/* A new cursor on `c` that ran `sql` (no parameters). */
PyObject *conn_exec_simple(Conn *c, const char *sql);

/* values.c. Python's datetime.h gives each file its own PyDateTimeAPI pointer: every file using its
 * macros includes it and imports it in its *_init, which PyInit__factdb calls. */
int values_init(void);
int datetime_us(PyObject *o, int64_t *out, bool *aware);  /* aware: converted to UTC */
int64_t date_days(PyObject *o);
int params_from(PyObject *seq, params *ps);
void params_free(params *ps);
/* `?` placeholders outside literals, quoted names and comments become $1, $2, ...; grow[2k] is where the
 * k-th rewrite ends in the new text and grow[2k+1] how many bytes it added (PyMem_Free it). */
PyObject *qmark_to_dollar(PyObject *sql, const char *s, Py_ssize_t len, int **grow, int *ngrow);
PyObject *cell(factdb_result *r, uint64_t row, size_t col);
PyObject *row_tuple(factdb_result *r, uint64_t row);

/* cursor.c */
PyObject *cursor_new_for(Conn *conn);
int run_sql(Cursor *cur, PyObject *sql_obj, PyObject *args);
PyObject *cursor_execute(Cursor *cur, PyObject *args);
PyObject *cursor_executemany(Cursor *cur, PyObject *args);

/* append.c: Connection._append_rows(table, rows) and ._append_columns(table, names, columns, units, n) */
int append_init(void);
PyObject *conn_append_rows(Conn *self, PyObject *args);
PyObject *conn_append_columns(Conn *self, PyObject *args);

#endif

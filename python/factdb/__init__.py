"""factdb: the Python module of factdb, an embedded analytical database whose one file any number of
processes read and write at once (PEP 249, DB-API 2.0).

    import factdb
    con = factdb.connect("facts.factdb")
    con.execute("INSERT INTO facts VALUES ($1, $2, $3)", [datetime.now(timezone.utc), "order", Decimal("9.80")])
    df = con.execute("SELECT kind, sum(amount) FROM facts GROUP BY kind").df()

See docs/python.md. The C core (_factdb) runs statements without the GIL; this file adds the PEP 249
globals, the type objects, context managers and append() dispatch.
"""
import contextlib as _contextlib
import datetime as _dt
import time as _time

from ._factdb import (  # noqa: F401
    Connection as _Connection,
    Cursor,
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
    library_version,
)

__version__ = library_version
apilevel = "2.0"
# Threads may share the module and connections (a connection serializes its statements; each runs without
# the GIL); a cursor should stay in one thread at a time.
threadsafety = 2
# `?` placeholders; `$1, $2, ...` (PostgreSQL's, factdb's own) are accepted too.
paramstyle = "qmark"

__all__ = [
    "connect", "Connection", "Cursor", "apilevel", "threadsafety", "paramstyle",
    "Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
    "Date", "Time", "Timestamp", "DateFromTicks", "TimeFromTicks", "TimestampFromTicks", "Binary",
    "STRING", "BINARY", "NUMBER", "DATETIME", "ROWID",
]


class Connection(_Connection):
    """A connection to one database file; see connect()."""

    # PEP 249's optional extension: the exceptions as attributes of the connection
    Warning, Error, InterfaceError, DatabaseError = Warning, Error, InterfaceError, DatabaseError
    DataError, OperationalError, IntegrityError = DataError, OperationalError, IntegrityError
    InternalError, ProgrammingError, NotSupportedError = InternalError, ProgrammingError, NotSupportedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # like DuckDB's: ends an open transaction (commit on success) and closes the connection
        if not self.closed:
            try:
                if self.in_transaction:
                    self.rollback() if exc_type else self.commit()
            finally:
                self.close()
        return False

    @_contextlib.contextmanager
    def transaction(self):
        """`with con.transaction():` runs the block as one transaction: committed when it ends normally,
        rolled back when it raises."""
        self.begin()
        try:
            yield self
        except BaseException:
            if self.in_transaction:
                self.rollback()
            raise
        else:
            if self.in_transaction:
                self.commit()

    def append(self, table, rows):
        """Appends rows to `table` through factdb's appender, atomically (one commit, all rows or none):
        a list (or any iterable) of tuples (every column, in table order) or dicts (by column name;
        missing columns are NULL), or a pandas DataFrame (columns by name; NaN/NaT/None are NULL).
        Returns the number of rows appended."""
        if _is_dataframe(rows):
            from . import _frame
            names, cols, units, n = _frame.dataframe_columns(rows)
            return self._append_columns(table, names, cols, units, n)
        return self._append_rows(table, rows)

    def df(self, sql, parameters=None):
        """The result of a query as a pandas DataFrame."""
        return self.execute(sql, parameters).df()


def _is_dataframe(x):
    t = type(x)
    return t.__name__ == "DataFrame" and t.__module__.startswith("pandas")


def connect(database, read_only=False, busy_timeout=None, threads=None):
    """Opens (creating it unless read_only) the database file `database`.

    read_only: refuse writes. busy_timeout: seconds a write waits for the write lock held by another
    process or connection (default 10) before failing with OperationalError (code BUSY). threads:
    worker threads per query (default: the number of cores)."""
    return Connection(database, read_only=read_only, busy_timeout=busy_timeout, threads=threads)


# ---- PEP 249 constructors and type objects ----
Date = _dt.date
Time = _dt.time
Timestamp = _dt.datetime


def DateFromTicks(ticks):
    return Date(*_time.localtime(ticks)[:3])


def TimeFromTicks(ticks):
    return Time(*_time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks):
    return Timestamp(*_time.localtime(ticks)[:6])


def Binary(data):
    """factdb has no binary type: parameters of type bytes are refused with ProgrammingError."""
    return bytes(data)


class _TypeObject(frozenset):
    """Compares equal to each PostgreSQL type name it groups (description's type_code)."""

    def __eq__(self, other):
        if isinstance(other, str):
            return other in self or other.split("(")[0] in self
        return frozenset.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = frozenset.__hash__


STRING = _TypeObject({"text"})
BINARY = _TypeObject()
NUMBER = _TypeObject({"integer", "bigint", "double precision", "numeric", "boolean"})
DATETIME = _TypeObject({"date", "timestamp without time zone", "timestamp with time zone", "interval"})
ROWID = _TypeObject()

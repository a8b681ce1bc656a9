"""PEP 249 conformance: module globals, connections, cursors, transactions, parameters and errors."""
import subprocess
import threading
import time

import pytest

import factdb
from conftest import PYTHON, child_env


def test_module_globals():
    assert factdb.apilevel == "2.0"
    assert factdb.threadsafety == 2
    assert factdb.paramstyle == "qmark"
    for name in ("Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
                 "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError"):
        assert hasattr(factdb, name)
    assert issubclass(factdb.Error, Exception) and issubclass(factdb.Warning, Exception)
    assert issubclass(factdb.InterfaceError, factdb.Error)
    assert issubclass(factdb.DatabaseError, factdb.Error)
    for sub in (factdb.DataError, factdb.OperationalError, factdb.IntegrityError, factdb.InternalError,
                factdb.ProgrammingError, factdb.NotSupportedError):
        assert issubclass(sub, factdb.DatabaseError)
    assert factdb.Connection.ProgrammingError is factdb.ProgrammingError
    assert factdb.STRING == "text" and factdb.NUMBER == "bigint" and factdb.NUMBER == "numeric"
    assert factdb.DATETIME == "timestamp with time zone" and factdb.NUMBER != "text"
    assert factdb.Date(2024, 1, 31).year == 2024 and factdb.TimestampFromTicks(0).year in (1969, 1970)


def test_cursor_basics(con):
    cur = con.cursor()
    assert cur.description is None and cur.rowcount == -1 and cur.arraysize == 1
    cur.execute("CREATE TABLE t (id integer, name text)")
    assert cur.description is None
    cur.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    assert cur.rowcount == 3 and cur.statusmessage == "INSERT 0 3"
    assert cur.execute("SELECT id, name FROM t ORDER BY id") is cur
    assert [d[0] for d in cur.description] == ["id", "name"]
    assert cur.description[0][1] == "integer" and cur.description[0][1] == factdb.NUMBER
    assert cur.rowcount == 3
    assert cur.fetchone() == (1, "a")
    cur.arraysize = 2
    assert cur.fetchmany() == [(2, "b"), (3, "c")]
    assert cur.fetchone() is None and cur.fetchmany(5) == [] and cur.fetchall() == []
    cur.execute("SELECT id FROM t ORDER BY id")
    assert cur.fetchmany(size=2) == [(1,), (2,)]
    assert cur.fetchall() == [(3,)]
    assert [r for r in cur.execute("SELECT id FROM t ORDER BY id")] == [(1,), (2,), (3,)]
    cur.execute("DELETE FROM t WHERE id > 1")
    assert cur.rowcount == 2
    with pytest.raises(factdb.ProgrammingError):
        cur.fetchone()  # no result set
    cur.setinputsizes([1]); cur.setoutputsize(1)
    cur.close()
    with pytest.raises(factdb.ProgrammingError):
        cur.execute("SELECT 1")
    with con.cursor() as c2:
        assert c2.execute("SELECT 41 + 1").fetchone() == (42,)
        assert c2.connection is con


def test_returning(con):
    """INSERT ... RETURNING id, as apps built on psycopg write it: the rows as a result set, rowcount the rows
    written (psycopg's), statusmessage the command."""
    cur = con.cursor()
    cur.execute("CREATE TABLE items (id integer PRIMARY KEY, name text)")
    cur.execute("INSERT INTO items VALUES (?, ?), (?, ?) RETURNING id", (1, "a", 2, "b"))
    assert [d[0] for d in cur.description] == ["id"] and cur.fetchall() == [(1,), (2,)]
    assert cur.rowcount == 2 and cur.statusmessage == "INSERT 0 2"
    cur.execute("INSERT INTO items VALUES (?, ?) ON CONFLICT (id) DO NOTHING RETURNING id", (1, "dup"))
    assert cur.fetchall() == [] and cur.rowcount == 0
    assert cur.execute("UPDATE items SET name = upper(name) WHERE id = 2 RETURNING *").fetchone() == (2, "B")
    assert cur.rowcount == 1 and cur.statusmessage == "UPDATE 1"
    assert cur.execute("DELETE FROM items WHERE id = 1 RETURNING name").fetchall() == [("a",)]
    assert cur.statusmessage == "DELETE 1"

    class MyCursor(factdb.Cursor):
        pass
    mine = MyCursor(con)
    assert type(mine) is MyCursor and mine.execute("SELECT 1").fetchall() == [(1,)]


def test_connection_execute_shortcut_and_script(con):
    con.execute("CREATE TABLE t (x bigint); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)")
    assert con.execute("SELECT sum(x) FROM t").fetchone() == (3,)
    assert con.execute("SELECT 1 AS a; SELECT 2 AS b").fetchall() == [(2,)]  # a script: the last result
    assert con.tables() == ["t"]


def test_params_dollar_and_qmark(con):
    con.execute("CREATE TABLE t (id integer, s text)")
    con.execute("INSERT INTO t VALUES ($1, $2)", (1, "one"))
    con.execute("INSERT INTO t VALUES (?, ?)", [2, "it's ? not a param"])
    assert con.execute("SELECT s FROM t WHERE id = ?", [2]).fetchone() == ("it's ? not a param",)
    # a ? inside a literal, a quoted name or a comment stays as it is
    assert con.execute("SELECT '?' AS \"q?\", ? -- ?\n", [5]).fetchone() == ("?", 5)
    # values are never spliced into the text
    evil = "x'); DROP TABLE t; --"
    con.execute("INSERT INTO t VALUES (?, ?)", [3, evil])
    assert con.execute("SELECT s FROM t WHERE id = 3").fetchone() == (evil,)
    assert con.tables() == ["t"]


def test_bad_parameters(con):
    con.execute("CREATE TABLE t (x bigint, s text)")
    with pytest.raises(factdb.ProgrammingError, match="no binary type"):
        con.execute("INSERT INTO t VALUES (1, ?)", [b"\x00\x01"])
    with pytest.raises(factdb.ProgrammingError, match=r"there is no parameter \$2"):
        con.execute("INSERT INTO t VALUES ($1, $2)", [1])
    with pytest.raises(factdb.ProgrammingError, match="not a dict"):
        con.execute("SELECT $1", {"a": 1})
    with pytest.raises(factdb.ProgrammingError, match="cannot bind"):
        con.execute("SELECT $1", [object()])
    with pytest.raises(factdb.ProgrammingError, match="sequence"):
        con.execute("SELECT $1", "abc")
    with pytest.raises(factdb.DataError, match="out of range"):
        con.execute("SELECT $1", [2 ** 70])
    with pytest.raises(factdb.DataError):
        con.execute("INSERT INTO t (x) VALUES ($1)", ["not a number"])
    assert con.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_errors_carry_code_and_position(con):
    with pytest.raises(factdb.ProgrammingError) as ei:
        con.execute("SELECT 1 FROM nope")
    assert ei.value.code == "NO_TABLE" and ei.value.position == 15
    with pytest.raises(factdb.ProgrammingError) as ei:
        con.execute("SELECT 1;\nSELEC 2")
    assert ei.value.code == "INVALID_ARGUMENT" and ei.value.position == 11  # in the whole text
    with pytest.raises(factdb.ProgrammingError) as ei:  # positions in the text as given, before ? -> $n
        con.execute("SELECT ?, ?, ? FROM nope", [1, 2, 3])
    assert ei.value.position == 21
    con.execute("CREATE TABLE t (x integer NOT NULL, y integer)")
    with pytest.raises(factdb.IntegrityError) as ei:
        con.execute("INSERT INTO t (y) VALUES (1)")
    assert ei.value.code == "NOT_NULL"
    con.execute("CREATE TABLE k (id integer PRIMARY KEY)")
    con.execute("INSERT INTO k VALUES (1)")
    with pytest.raises(factdb.IntegrityError) as ei:
        con.execute("INSERT INTO k VALUES (2), (1)")
    assert ei.value.code == "UNIQUE_VIOLATION" and "Key (id)=(1) already exists" in str(ei.value)
    cur = con.execute("INSERT INTO k VALUES (1), (3) ON CONFLICT DO NOTHING")
    assert cur.rowcount == 1
    assert con.execute("UPDATE k SET id = id + 10").rowcount == 2
    with pytest.raises(factdb.DataError) as ei:
        con.execute("SELECT 1 / 0")
    assert ei.value.code == "INVALID_VALUE"
    with pytest.raises(factdb.ProgrammingError) as ei:
        con.execute("CREATE TABLE t (x integer)")
    assert ei.value.code == "TABLE_EXISTS" and isinstance(ei.value, factdb.DatabaseError)


def test_closed_connection(db):
    c = factdb.connect(db)
    cur = c.cursor()
    c.close()
    c.close()  # twice is fine
    assert c.closed
    with pytest.raises(factdb.ProgrammingError, match="closed"):
        c.execute("SELECT 1")
    with pytest.raises(factdb.ProgrammingError, match="closed"):
        cur.execute("SELECT 1")
    with pytest.raises(factdb.ProgrammingError):
        c.cursor()


def test_autocommit_and_transactions(db, con):
    other = factdb.connect(db)
    con.execute("CREATE TABLE t (x bigint)")
    con.execute("INSERT INTO t VALUES (1)")  # autocommit: visible at once
    assert other.execute("SELECT count(*) FROM t").fetchone() == (1,)
    con.commit(); con.rollback()  # no-ops outside a transaction
    con.begin()
    assert con.in_transaction
    con.execute("INSERT INTO t VALUES (2)")
    assert con.execute("SELECT count(*) FROM t").fetchone() == (2,)  # its own writes
    assert other.execute("SELECT count(*) FROM t").fetchone() == (1,)  # not yet
    con.commit()
    assert not con.in_transaction
    assert other.execute("SELECT count(*) FROM t").fetchone() == (2,)
    con.begin()
    con.execute("INSERT INTO t VALUES (3)")
    con.rollback()
    assert other.execute("SELECT count(*) FROM t").fetchone() == (2,)
    with con.transaction():
        con.execute("INSERT INTO t VALUES (4)")
    assert other.execute("SELECT count(*) FROM t").fetchone() == (3,)
    with pytest.raises(ZeroDivisionError):
        with con.transaction():
            con.execute("INSERT INTO t VALUES (5)")
            1 / 0
    assert not con.in_transaction
    assert other.execute("SELECT count(*) FROM t").fetchone() == (3,)
    con.begin()
    with pytest.raises(factdb.ProgrammingError, match="already open"):
        con.begin()
    con.rollback()
    other.close()


def test_connection_context_manager_commits_and_closes(db):
    with factdb.connect(db) as c:
        c.execute("CREATE TABLE t (x bigint)")
        c.begin()
        c.execute("INSERT INTO t VALUES (1)")
    assert c.closed
    with pytest.raises(RuntimeError):
        with factdb.connect(db) as c:
            c.begin()
            c.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("boom")
    with factdb.connect(db) as c:
        assert c.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_executemany_is_atomic(con):
    con.execute("CREATE TABLE t (x integer NOT NULL)")
    cur = con.cursor()
    cur.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
    assert cur.rowcount == 100
    with pytest.raises(factdb.IntegrityError):
        con.executemany("INSERT INTO t VALUES ($1)", [(1,), (None,), (3,)])
    assert con.execute("SELECT count(*) FROM t").fetchone() == (100,)
    assert not con.in_transaction
    with con.transaction():  # inside a transaction it joins it
        con.executemany("INSERT INTO t VALUES ($1)", [(1,), (2,)])
    assert con.execute("SELECT count(*) FROM t").fetchone() == (102,)


def test_read_only(db):
    with pytest.raises(factdb.OperationalError):
        factdb.connect(db, read_only=True)  # missing file: not created
    factdb.connect(db).execute("CREATE TABLE t (x bigint)")
    ro = factdb.connect(db, read_only=True)
    assert ro.read_only
    with pytest.raises(factdb.OperationalError) as ei:
        ro.execute("INSERT INTO t VALUES (1)")
    assert ei.value.code == "PERMISSION"
    assert ro.execute("SELECT count(*) FROM t").fetchone() == (0,)


HOLDER = r"""
import sys, time, factdb
c = factdb.connect(sys.argv[1])
c.begin()
c.execute("INSERT INTO t VALUES (1)")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
c.commit()
"""


def test_busy_timeout_names_the_wait(db):
    factdb.connect(db).execute("CREATE TABLE t (x bigint)")
    p = subprocess.Popen([PYTHON, "-c", HOLDER, db, "3"], stdout=subprocess.PIPE, env=child_env(), text=True)
    try:
        assert p.stdout.readline().strip() == "holding"
        c = factdb.connect(db, busy_timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(factdb.OperationalError) as ei:
            c.execute("INSERT INTO t VALUES (2)")
        waited = time.monotonic() - t0
        assert ei.value.code == "BUSY" and 0.25 < waited < 2.5, (ei.value, waited)
        # a longer timeout waits for the holder's commit and succeeds
        c2 = factdb.connect(db, busy_timeout=20)
        c2.execute("INSERT INTO t VALUES (3)")
        assert c2.execute("SELECT count(*) FROM t").fetchone() == (2,)
    finally:
        p.wait(timeout=30)


def test_connect_arguments(db):
    c = factdb.connect(db, busy_timeout=1.5, threads=1)
    assert c.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(ValueError):
        factdb.connect(db, threads=0)
    with pytest.raises(ValueError):
        factdb.connect(db, busy_timeout=-1)
    with pytest.raises(factdb.Error):
        factdb.connect("/nonexistent-dir/x.factdb")


def test_interrupt_from_another_thread(con):
    con.execute("CREATE TABLE t (x bigint)")
    con.append("t", [(i,) for i in range(200000)])
    # interrupt() cancels the statement running at that moment (one between statements is a no-op, as in
    # sqlite3 and DuckDB), so the other thread keeps interrupting until a statement is cancelled
    done = threading.Event()

    def keep_interrupting():
        while not done.wait(0.01):
            con.interrupt()

    th = threading.Thread(target=keep_interrupting)
    th.start()
    try:
        with pytest.raises(factdb.Error, match="cancel"):
            for _ in range(1000):
                con.execute("SELECT count(DISTINCT x + a.x) FROM t a WHERE x % 7 = 1 GROUP BY x % 1000 ORDER BY 1").fetchall()
    finally:
        done.set()
        th.join()

"""Threads (GIL released while a statement runs or waits), fork (a clear error for an inherited
connection, a working new one), and several connections and processes on one file."""
import os
import subprocess
import sys
import threading
import time

import pytest

import factdb
from conftest import PYTHON, child_env


def test_threads_share_a_connection(con):
    con.execute("CREATE TABLE t (th integer, i integer)")
    errors = []

    def work(k):
        try:
            for i in range(50):
                con.execute("INSERT INTO t VALUES (?, ?)", [k, i])
                con.execute("SELECT count(*) FROM t WHERE th = ?", [k]).fetchone()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert not errors
    assert con.execute("SELECT count(*), count(DISTINCT th) FROM t").fetchone() == (400, 8)


def test_threads_with_own_connections_and_transactions(db):
    factdb.connect(db).execute("CREATE TABLE t (th integer, i integer)")
    errors = []

    def work(k):
        try:
            c = factdb.connect(db)
            for i in range(10):
                with c.transaction():
                    c.execute("INSERT INTO t VALUES (?, ?)", [k, i])
                    c.execute("INSERT INTO t VALUES (?, ?)", [k, -i])
            c.close()
        except Exception as e:  # pragma: no cover
            errors.append(e)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert not errors
    assert factdb.connect(db).execute("SELECT count(*) FROM t").fetchone() == (80,)


def test_a_transaction_keeps_a_shared_connection_for_its_thread(con):
    con.execute("CREATE TABLE t (x integer)")
    con.begin()
    con.execute("INSERT INTO t VALUES (1)")
    seen = []
    t = threading.Thread(target=lambda: seen.append(con.execute("SELECT count(*) FROM t").fetchone()))
    t.start()
    time.sleep(0.2)
    assert t.is_alive()  # waits (without the GIL) for the block to end
    con.execute("INSERT INTO t VALUES (2)")
    con.commit()
    t.join(5)
    assert seen == [(2,)]


def test_gil_released_while_a_query_runs(con):
    con.execute("CREATE TABLE t (x bigint, y bigint)")
    con.append("t", [(i, i % 1000) for i in range(300000)])
    ticks = 0
    done = threading.Event()

    def query():
        for _ in range(5):
            con.execute("SELECT y, count(DISTINCT x) FROM t GROUP BY y ORDER BY 2 DESC").fetchall()
        done.set()

    t = threading.Thread(target=query)
    t0 = time.monotonic()
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    elapsed = time.monotonic() - t0
    # the main thread kept running: roughly one tick per ms of the queries' time
    assert ticks > elapsed * 1000 * 0.3, (ticks, elapsed)


def test_gil_released_while_waiting_for_the_write_lock(db):
    factdb.connect(db).execute("CREATE TABLE t (x bigint)")
    holder = factdb.connect(db)
    holder.begin()
    holder.execute("INSERT INTO t VALUES (1)")
    waiter = factdb.connect(db, busy_timeout=10)
    finished = []
    t = threading.Thread(target=lambda: finished.append(waiter.execute("INSERT INTO t VALUES (2)").rowcount))
    t.start()
    ticks = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.5:
        ticks += 1
        time.sleep(0.001)
    assert not finished and ticks > 150
    holder.commit()
    t.join(10)
    assert finished == [1]


def test_fork_child_gets_a_clear_error_and_can_reconnect(db, con):
    con.execute("CREATE TABLE t (x integer)")
    con.execute("INSERT INTO t VALUES (1)")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        out = []
        try:
            con.execute("SELECT 1")
            out.append("no error")
        except factdb.InterfaceError as e:
            out.append("error:" + ("fork" in str(e) and "connect" in str(e) and "ok" or str(e)))
        try:
            c2 = factdb.connect(db)
            c2.execute("INSERT INTO t VALUES (2)")
            out.append("count:%d" % c2.execute("SELECT count(*) FROM t").fetchone()[0])
            c2.close()
        except Exception as e:
            out.append("reconnect failed: %r" % e)
        con.close()  # forgets the parent's handle without closing it
        os.write(w, ";".join(out).encode())
        os._exit(0)
    os.close(w)
    msg = os.read(r, 4096).decode()
    os.waitpid(pid, 0)
    assert msg == "error:ok;count:2", msg
    # the parent's connection is intact: reads and writes go on
    con.execute("INSERT INTO t VALUES (3)")
    assert con.execute("SELECT count(*) FROM t").fetchone() == (3,)


def test_multiprocessing_pool_workers(db):
    factdb.connect(db).execute("CREATE TABLE t (x integer)")
    code = r"""
import multiprocessing as mp, sys, factdb
def work(i):
    c = factdb.connect(sys.argv[1])
    c.execute("INSERT INTO t VALUES (?)", [i])
    return i
if __name__ == "__main__":
    parent = factdb.connect(sys.argv[1])   # opened before the fork: never used by the children
    with mp.get_context("fork").Pool(3) as p:
        assert sorted(p.map(work, range(12))) == list(range(12))
    print(parent.execute("SELECT count(*) FROM t").fetchone()[0])
"""
    out = subprocess.run([PYTHON, "-c", code, db], capture_output=True, text=True, env=child_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "12"


def test_processes_write_one_file(db):
    factdb.connect(db).execute("CREATE TABLE t (p integer, i integer)")
    code = r"""
import sys, factdb
c = factdb.connect(sys.argv[1])
for i in range(40):
    c.execute("INSERT INTO t VALUES (?, ?)", [int(sys.argv[2]), i])
"""
    ps = [subprocess.Popen([PYTHON, "-c", code, db, str(k)], env=child_env()) for k in range(3)]
    assert all(p.wait(timeout=120) == 0 for p in ps)
    assert factdb.connect(db).execute("SELECT count(*), count(DISTINCT p) FROM t").fetchone() == (120, 3)

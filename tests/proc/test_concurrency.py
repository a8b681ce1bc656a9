"""Multi-process concurrency contract: real processes loading and scanning one file at once."""
import os
import random
import re
import subprocess
import time

from common import DRIVER, FACTDB, Stepper, acked, cleanup, fill_accounts, finish, new_db, run, spawn, test, verify


@test
def writers_and_scanners_at_once():
    """4 writer processes and 4 scanner processes, repeatedly: nothing fails, no partial batch is seen,
    counts never go down, and the final count is the sum of the acknowledged batches."""
    d, db = new_db("conc", "t")
    total_acked = {}
    for rnd in range(2):
        writers = [spawn([DRIVER, "write", db, "t", str(rnd * 10 + w), "12", str(rnd * 100 + w)]) for w in range(4)]
        scanners = [spawn([DRIVER, "scan", db, "t", "6"]) for _ in range(4)]
        for p in writers + scanners:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, "process failed: %s" % err
            total_acked.update(acked(out))
    present = verify(db, "t")
    assert present == total_acked, "present batches differ from acknowledged ones"
    info = run([FACTDB, "info", db]).stdout
    rows = int(re.search(r"table t: (\d+) rows", info).group(1))
    assert rows == sum(total_acked.values()), "info says %d rows, acked %d" % (rows, sum(total_acked.values()))
    run([FACTDB, "check", db])
    cleanup(d)


@test
def several_tables_and_a_create_meanwhile():
    d, db = new_db("tables", "a", "b")
    ws = [spawn([DRIVER, "write", db, t, str(i), "8", str(i)]) for i, t in enumerate(["a", "b", "a", "b"])]
    time.sleep(0.2)
    run([DRIVER, "create", db, "c"])  # created while the others write
    wc = spawn([DRIVER, "write", db, "c", "9", "8", "9"])
    got = {"a": {}, "b": {}, "c": {}}
    for p, t in zip(ws + [wc], ["a", "b", "a", "b", "c"]):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        got[t].update(acked(out))
    for t in got:
        assert verify(db, t) == got[t], "table %s differs" % t
    run([FACTDB, "check", db])
    cleanup(d)


@test
def opens_during_rapid_commits_never_see_damage():
    """Every open checks LMDB's pages from its snapshot's meta page, which the second commit after the
    snapshot rewrites (LMDB alternates two). Two writers committing one row at a time as fast as they
    can, and a reader opening the file again and again: no open may report damage (one did, reading the
    roots half from a rewritten meta page, in the two-servers scenario)."""
    d, db = new_db("rapid", "t")
    ws = [spawn([DRIVER, "latency", db, "t", str(w), "3000", "0"]) for w in range(2)]
    opens = 0
    try:
        while any(w.poll() is None for w in ws) and opens < 400:
            p = run([FACTDB, "sql", "--format", "csv", db, "SELECT count(*) FROM t"], check=False)
            assert p.returncode == 0 and "damaged" not in p.stderr, p.stderr
            opens += 1
    finally:
        for w in ws:
            out, err = w.communicate(timeout=300)
            assert w.returncode == 0, err
    assert opens >= 20, "the writers finished before the reader opened the file 20 times (%d)" % opens
    run([FACTDB, "check", db])
    cleanup(d)


@test
def busy_writer_times_out_naming_the_holder():
    d, db = new_db("busy", "t")
    holder = spawn([DRIVER, "hold", db, "t", "3000"])
    line = holder.stdout.readline()
    assert line.startswith("holding"), line
    pid = int(line.split()[1])
    t0 = time.time()
    p = run([FACTDB, "load", "--busy-timeout", "500", db, "t", "-"], check=False, input="writer,batch,nrows,total,tag\n1,1,1,0,x\n")
    waited = time.time() - t0
    assert p.returncode == 1, p
    assert p.stderr.startswith("factdb: "), p.stderr
    assert ("process %d" % pid) in p.stderr, p.stderr
    assert 0.45 < waited < 2.5, "waited %.2f s" % waited
    holder.communicate(timeout=60)
    assert holder.returncode == 0
    # Retried after the holder finished: succeeds at once.
    t0 = time.time()
    csv = "writer,batch,nrows,val,total,tag\n5,5,1,7,7,w5-b5-ü\n"
    p = run([FACTDB, "load", "--busy-timeout", "500", db, "t", "-"], input=csv)
    assert "loaded 1 rows" in p.stdout
    assert time.time() - t0 < 2
    verify(db, "t")
    cleanup(d)


@test
def threads_share_one_handle():
    d, db = new_db("threads", "t")
    out = run([DRIVER, "threads", db, "t", "8", "15"]).stdout
    assert "threads ok" in out
    run([FACTDB, "check", db])
    cleanup(d)


def sql_out(db, text, *opts, check=True):
    p = run([FACTDB, "sql", "--format", "csv", *opts, db, text], check=check)
    return p


@test
def transaction_block_is_atomic_isolated_and_holds_the_lock():
    d, db = new_db("txn")
    a = Stepper(db)
    a("CREATE TABLE t (a integer, b text)")
    a("INSERT INTO t VALUES (0, 'before')")
    a("BEGIN")
    # before its first write the block does not hold the lock
    assert sql_out(db, "INSERT INTO t VALUES (9, 'outside')").returncode == 0
    a("INSERT INTO t VALUES (1, 'nuovo-uno'), (2, 'nuovo-due')")
    assert a("SELECT count(*) FROM t") == "ok SELECT 1 4"        # sees its own writes
    assert a("SELECT b FROM t WHERE a = 2") == "ok SELECT 1 nuovo-due"
    # other processes see nothing of it, and readers do not wait
    assert sql_out(db, "SELECT count(*) FROM t").stdout == "count\n2\n"
    # writers wait for the block's lock and give up after their busy timeout, naming the holder
    t0 = time.time()
    p = sql_out(db, "INSERT INTO t VALUES (3, 'z')", "--busy-timeout", "300", check=False)
    assert p.returncode == 1 and "write lock" in p.stderr and "process %d" % a.p.pid in p.stderr, p.stderr
    assert time.time() - t0 < 5
    a("DELETE FROM t WHERE a = 1")
    a("CREATE TABLE u (x bigint)")
    a("INSERT INTO u SELECT a FROM t")
    assert a("SELECT sum(x) FROM u") == "ok SELECT 1 11"
    a("COMMIT")
    assert sql_out(db, "SELECT a, b FROM t ORDER BY a").stdout == "a,b\n0,before\n2,nuovo-due\n9,outside\n"
    assert sql_out(db, "SELECT sum(x) FROM u").stdout == "sum\n11\n"
    # ROLLBACK discards everything, new dictionary strings included
    a("BEGIN")
    a("INSERT INTO t VALUES (5, 'rolled-back')")
    assert a("SELECT b FROM t WHERE a = 5") == "ok SELECT 1 rolled-back"
    a("DROP TABLE u")
    a("ROLLBACK")
    assert sql_out(db, "SELECT count(*) FROM u").stdout == "count\n3\n"
    a("INSERT INTO t VALUES (6, 'other-string')")   # reuses the rolled-back dictionary ids
    assert a("SELECT b FROM t WHERE a = 6") == "ok SELECT 1 other-string"
    assert sql_out(db, "SELECT a, b FROM t WHERE a >= 5 ORDER BY a").stdout == "a,b\n6,other-string\n9,outside\n"
    # a failed statement aborts the block: nothing of it is applied, COMMIT rolls back
    a("BEGIN")
    a("INSERT INTO t VALUES (7, 'lost')")
    a("SELECT 1 / 0", expect="err INVALID_VALUE division by zero")
    a("SELECT 1", expect="err INVALID_ARGUMENT current transaction is aborted")
    assert a("COMMIT") == "ok ROLLBACK "
    assert sql_out(db, "SELECT count(*) FROM t WHERE a = 7").stdout == "count\n0\n"
    a.close()
    run([FACTDB, "check", db])
    cleanup(d)


@test
def killed_inside_a_transaction_leaves_nothing():
    d, db = new_db("txnkill")
    run([FACTDB, "sql", db, "CREATE TABLE t (a bigint, b text)"])
    vals = ", ".join("(%d, 's%d')" % (i, i) for i in range(20000))
    for round_ in range(3):
        a = Stepper(db)
        a("BEGIN")
        for k in range(8):   # 160,000 rows: several chunks inside one transaction
            a("INSERT INTO t VALUES " + vals)
        assert a("SELECT count(*) FROM t") == "ok SELECT 1 %d" % (160000 + round_)
        a.p.kill()
        a.p.wait()
        # the lock died with the process: the next writer proceeds at once
        t0 = time.time()
        p = sql_out(db, "INSERT INTO t VALUES (%d, 'after')" % round_, "--busy-timeout", "2000")
        assert time.time() - t0 < 1.5, time.time() - t0
        got = sql_out(db, "SELECT count(*) FROM t").stdout
        assert got == "count\n%d\n" % (round_ + 1), got
    # a committed multi-chunk transaction is all there
    a = Stepper(db)
    a("BEGIN")
    for k in range(8):
        a("INSERT INTO t VALUES " + vals)
    a("COMMIT")
    a.close()
    got = sql_out(db, "SELECT count(*), count(DISTINCT b) FROM t").stdout
    assert got == "count,count\n160003,20001\n", got
    run([FACTDB, "check", db])
    cleanup(d)


@test
def reader_never_sees_half_an_update():
    """One process UPDATEs: small moves of value between two rows and full-table UPDATEs (also UPDATE ...
    FROM) that add to even rows what they take from odd ones. Another process polls count and sum meanwhile: both stay constant,
    so it never saw the old rows deleted without their new versions, nor both."""
    import threading
    d, db = new_db("upd")
    n = fill_accounts(db)
    want = "ok SELECT 1 %d" % (n * 1000000000 + n * 100)
    w = Stepper(db)
    r = Stepper(db)
    done = threading.Event()
    errors = []

    def writer():
        try:
            for i in range(24):
                a, b = (i * 7919) % n, (i * 104729 + 1) % n
                w("UPDATE acct SET v = v + CASE WHEN id = %d THEN -%d ELSE %d END WHERE id IN (%d, %d)"
                  % (a, i + 1, i + 1, a, b), expect="ok UPDATE 2")
                sign = 1 if i % 2 else -1
                w("UPDATE acct SET v = v + CASE WHEN id %% 2 = 0 THEN %d ELSE %d END, s = s || ''" % (sign, -sign),
                  expect="ok UPDATE %d" % n)
                if i % 4 == 0:
                    # UPDATE ... FROM: every row joined to the move of its parity, in one transaction
                    w("UPDATE acct SET v = acct.v + m.d FROM (SELECT 0 AS p, %d AS d UNION ALL SELECT 1, %d) AS m "
                      "WHERE acct.id %% 2 = m.p" % (sign, -sign), expect="ok UPDATE %d" % n)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            done.set()

    t = threading.Thread(target=writer)
    t.start()
    polls = 0
    while not done.is_set():
        r("SELECT count(*) * 1000000000 + sum(v) FROM acct", expect=want)
        polls += 1
    t.join()
    assert not errors, errors
    assert polls > 5, "the reader polled only %d times" % polls
    r("SELECT count(*) * 1000000000 + sum(v) FROM acct", expect=want)
    w.close()
    r.close()
    run([FACTDB, "check", db])
    cleanup(d)


@test
def same_key_from_many_processes_exactly_one_wins():
    """Four processes, already open, insert the same primary key at the same moment, 25 times: exactly one
    INSERT succeeds each time, the others fail with UNIQUE_VIOLATION naming the key; with ON CONFLICT DO
    NOTHING all succeed and one row is there. The unique-key index is claimed inside the write transaction,
    which the write gate serializes across processes."""
    d, db = new_db("uniq")
    run([FACTDB, "sql", db, "CREATE TABLE t (id bigint PRIMARY KEY, who text)"])
    ps = [Stepper(db) for _ in range(4)]
    for k in range(25):
        for i, p in enumerate(ps):
            p.p.stdin.write("INSERT INTO t VALUES (%d, 'p%d')%s\n" % (k, i, " ON CONFLICT DO NOTHING" if k % 5 == 4
                                                                            else ""))
        for p in ps:
            p.p.stdin.flush()
        answers = [p.p.stdout.readline().rstrip("\n") for p in ps]
        if k % 5 == 4:
            assert all(a.startswith("ok INSERT") for a in answers), answers
            assert sum(a == "ok INSERT 0 1 " for a in answers) == 1, answers
        else:
            ok = [a for a in answers if a.startswith("ok INSERT 0 1")]
            bad = [a for a in answers if a.startswith("err UNIQUE_VIOLATION")]
            assert len(ok) == 1 and len(bad) == 3, answers
            assert all("Key (id)=(%d) already exists" % k in a for a in bad), bad
    for p in ps:
        p.close()
    got = sql_out(db, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM t").stdout
    assert got == "count,count,min,max\n25,25,0,24\n", got
    run([FACTDB, "check", db])
    cleanup(d)


if __name__ == "__main__":
    random.seed(1)
    finish()

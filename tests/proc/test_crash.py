"""Crash safety: kill -9 at random moments of loads (mid-commit included) and of reads, many times."""
import os
import random
import re
import signal
import time

from common import DRIVER, FACTDB, Stepper, acked, cleanup, fill_accounts, finish, new_db, run, scratch, spawn, test, verify

ROUNDS = int(os.environ.get("FACTDB_CRASH_ROUNDS", "40"))


@test
def kill_writers_at_random_moments():
    d, db = new_db("crash", "t")
    expected = {}
    rnd = random.Random(7)
    for i in range(ROUNDS):
        # Two writers at once, one of them killed at a random moment.
        victim = spawn([DRIVER, "write", db, "t", str(2 * i), "1000", str(i)])
        other = spawn([DRIVER, "write", db, "t", str(2 * i + 1), "3", str(i + 5000)])
        time.sleep(rnd.uniform(0.01, 0.5))
        victim.send_signal(signal.SIGKILL)
        out, _ = victim.communicate()
        oout, oerr = other.communicate(timeout=120)
        assert other.returncode == 0, "the surviving writer failed: " + oerr
        in_flight = None
        for line in out.splitlines():
            f = line.split()
            if f and f[0] == "begin":
                in_flight = (int(f[1]), int(f[2]))
        expected.update(acked(out))
        expected.update(acked(oout))
        present = verify(db, "t")  # also proves no batch is partly there
        for k, n in expected.items():
            assert present.get(k) == n, "acknowledged batch %s lost" % (k,)
        extra = set(present) - set(expected)
        # The batch in flight may have committed just before the kill, without its "ack" line.
        assert extra <= {in_flight}, "unacknowledged batches present: %s" % extra
        expected.update({k: present[k] for k in extra})
        # The next writer proceeds at once: no stale lock.
        t0 = time.time()
        run([DRIVER, "write", db, "t", str(100000 + i), "1", str(i), "2000"])
        assert time.time() - t0 < 1.5, "the next writer waited %.1f s" % (time.time() - t0)
        expected.update({k: v for k, v in verify(db, "t").items() if k[0] == 100000 + i})
        if i % 10 == 9:
            run([FACTDB, "check", db])
    run([FACTDB, "check", db])
    cleanup(d)


@test
def killed_readers_do_not_pin_pages():
    d, db = new_db("readers", "t")
    run([DRIVER, "write", db, "t", "1", "5", "1"])
    readers = [spawn([DRIVER, "readhold", db, "t", "60000"]) for _ in range(4)]
    for r in readers:
        assert r.stdout.readline().startswith("holding")
    info = run([FACTDB, "info", db]).stdout
    assert re.search(r"readers\s+4 live", info), info
    for r in readers:
        r.send_signal(signal.SIGKILL)
        r.communicate()
    info = run([FACTDB, "info", db]).stdout
    assert re.search(r"readers\s+0 live", info), info
    # Rewrite the table again and again: with no snapshot pinned, freed pages are reused and the file
    # stops growing.
    sizes = []
    csv = "writer,batch,nrows,val,total,tag\n" + "".join("7,%d,1,1,1,w7-b%d-ü\n" % (b, b) for b in range(20000))
    for i in range(16):
        run([FACTDB, "load", db, "t", "-"], input=csv)
        verify(db, "t")
        run([DRIVER, "truncate", db, "t"])  # TRUNCATE through the library until the SQL layer has it
        sizes.append(os.path.getsize(db))
    assert sizes[-1] == sizes[-6], "file still growing: %s" % sizes
    cleanup(d)


@test
def killed_create_load_leaves_no_table():
    """load --create killed at random moments (before, during and after its chunks): rerunning the same
    command must succeed and give exactly the rows of the file, never `table "t" already exists`."""
    d = scratch("ccreate")
    db = os.path.join(d, "c.db")
    csv = os.path.join(d, "in.csv")
    n = 600000
    with open(csv, "w") as f:
        f.write("id,name,amount\n")
        f.writelines("%d,n%d,%d.5\n" % (i, i % 5000, i % 977) for i in range(n))
    bin_ = os.environ.get("FACTDB_BIN", FACTDB)
    rnd = random.Random(11)
    # kill within the time a whole load takes on this machine (a fixed window let fast machines finish first)
    t0 = time.time()
    run([bin_, "load", "--create", os.path.join(d, "timing.db"), "t", csv])
    full = time.time() - t0
    killed = 0
    for i in range(10):
        p = spawn([bin_, "load", "--create", db, "t", csv])
        time.sleep(rnd.uniform(0.0, 0.9 * full))
        p.send_signal(signal.SIGKILL)
        p.communicate()
        killed += p.returncode == -signal.SIGKILL
        # The table is either absent or whole: a load killed after its commit (while exiting) or one that
        # finished before the kill has created all of it, never a part.
        st = run([bin_, "sql", "--format", "csv", db, "SELECT count(*), sum(id) FROM t"], check=False)
        if st.returncode == 0:
            assert st.stdout == "count,sum\n%d,%d\n" % (n, n * (n - 1) // 2), ("round %d" % i, st.stdout)
            run([bin_, "sql", db, "DROP TABLE t"])
        else:
            assert "does not exist" in st.stderr, ("round %d" % i, st.stderr)
        r = run([bin_, "load", "--create", db, "t", csv], check=False)
        assert r.returncode == 0, "round %d: rerunning the load failed: %s" % (i, r.stderr)
        got = run([bin_, "sql", "--format", "csv", db, "SELECT count(*), sum(id) FROM t"]).stdout
        assert got == "count,sum\n%d,%d\n" % (n, n * (n - 1) // 2), got
        run([bin_, "check", db])
        run([bin_, "sql", db, "DROP TABLE t"])
    assert killed >= 5, "only %d of 10 loads were killed while running" % killed
    cleanup(d)


@test
def killed_loads_beside_inserts_leave_all_or_nothing():
    """Loads into a table that other processes insert into at the same time, killed at random moments
    (while writing chunks, between them, while publishing): each load's rows are all there or none, the
    inserts are all there, `factdb check` passes with the leftovers still in the file, and the next writer
    reclaims them (the file stops growing although every round leaves a killed load's chunks)."""
    d, db = new_db("lkill", "t")
    csv = os.path.join(d, "in.csv")
    n = 400000
    with open(csv, "w") as f:
        f.write("writer,batch,nrows,val,total,tag\n")
        tot = sum(i % 3 for i in range(n))
        f.writelines("77,0,%d,%d,%d,w77-b0-ü\n" % (n, i % 3, tot) for i in range(n))
    bin_ = os.environ.get("FACTDB_BIN", FACTDB)
    t0 = time.time()
    run([bin_, "load", db, "t", csv])
    full = time.time() - t0
    run([DRIVER, "truncate", db, "t"])
    rnd = random.Random(5)
    sizes, killed = [], 0
    # The kill lands at a random moment of a load's expected time, measured once; a loaded machine makes
    # that measure long and later loads may finish first, so rounds go on until 4 loads were killed
    # running (at most 30 rounds).
    rounds, i = int(os.environ.get("FACTDB_LOAD_KILL_ROUNDS", "10")), -1
    while i + 1 < rounds or (killed < 4 and i + 1 < 30):
        i += 1
        ins = spawn([DRIVER, "latency", db, "t", str(1000 + i), "100000", "5", "2000"])
        p = spawn([bin_, "load", db, "t", csv])
        time.sleep(rnd.uniform(0.0, 1.1 * full))
        p.send_signal(signal.SIGKILL)
        p.communicate()
        killed += p.returncode == -signal.SIGKILL
        ins.terminate()
        iout, ierr = ins.communicate()
        got = verify(db, "t")  # every batch whole: the load's rows all there or none
        assert got.get((77, 0), n) == n, got.get((77, 0))
        acked = sum(1 for l in iout.splitlines() if l.startswith("lat"))
        assert sum(1 for k in got if k[0] == 1000 + i) >= acked, "acknowledged inserts lost"
        run([bin_, "check", db])  # with a killed load's chunks still in the file
        # the next writer starts at once (no stale lock) and reclaims the leftovers
        t0 = time.time()
        run([DRIVER, "truncate", db, "t"])
        assert time.time() - t0 < 2, "the next writer waited %.1f s" % (time.time() - t0)
        run([bin_, "check", db])
        sizes.append(os.path.getsize(db))
    assert killed >= 4, "only %d loads were killed while running" % killed
    # unreclaimed chunks would add up to a killed load per round
    assert sizes[-1] <= 1.5 * max(sizes[:3]), "file still growing: %s" % sizes
    cleanup(d)


@test
def killed_update_leaves_the_old_rows():
    """kill -9 at random moments of a full-table UPDATE (256,000 rows, several chunks): afterwards the
    table holds either every old row or every new one, the file checks clean and the next writer
    proceeds at once."""
    d, db = new_db("updkill")
    n = fill_accounts(db)
    rnd = random.Random(13)
    total = n * 100
    changed = 0
    for i in range(max(4, ROUNDS // 4)):
        w = Stepper(db)
        w("SELECT 1")
        w.p.stdin.write("UPDATE acct SET v = v + 1, s = s || 'x' WHERE id >= 0\n")
        w.p.stdin.flush()
        time.sleep(rnd.uniform(0.0, 0.25))
        w.p.send_signal(signal.SIGKILL)
        w.p.wait()
        t0 = time.time()
        run([FACTDB, "sql", "--busy-timeout", "2000", db, "INSERT INTO acct VALUES (-1, 0, 'probe')"])
        assert time.time() - t0 < 1.5, "the next writer waited %.1f s" % (time.time() - t0)
        got = run([FACTDB, "sql", "--format", "csv", db,
                   "SELECT count(*), sum(v) FROM acct WHERE id >= 0"]).stdout
        cnt, sm = (int(x) for x in got.split("\n")[1].split(","))
        assert cnt == n, "count %d, want %d" % (cnt, n)
        assert sm in (total, total + n), "sum %d: neither the old %d nor the new %d" % (sm, total, total + n)
        if sm == total + n:   # the UPDATE committed just before the kill: all of it
            total += n
            changed += 1
        run([FACTDB, "check", db])
    print("     %d of the killed UPDATEs had committed" % changed)
    cleanup(d)


@test
def killed_load_into_a_keyed_table_frees_its_keys():
    """kill -9 during `factdb load` of 300,000 rows into a table with a PRIMARY KEY: the keys its chunks
    claimed die with them (the load is reclaimed), so loading the same file again succeeds whole, and a
    duplicate is still refused."""
    d = scratch("keyload")
    db = os.path.join(d, "k.db")
    csv = os.path.join(d, "k.csv")
    with open(csv, "w") as f:
        f.write("id,s\n")
        for i in range(300000):
            f.write("%d,s%d\n" % (i, i % 500))
    run([FACTDB, "sql", "--create", db, "CREATE TABLE k (id bigint PRIMARY KEY, s text)"])
    rnd = random.Random(11)
    for i in range(max(3, ROUNDS // 10)):
        p = spawn([FACTDB, "load", db, "k", csv])
        time.sleep(rnd.uniform(0.02, 0.4))
        p.send_signal(signal.SIGKILL)
        p.communicate()
        got = run([FACTDB, "sql", "--format", "csv", db, "SELECT count(*) FROM k"]).stdout
        if got != "count\n0\n":   # the load finished before the kill: start over
            assert got == "count\n300000\n", got
            run([FACTDB, "sql", db, "TRUNCATE k"])
        run([FACTDB, "check", db])
    run([FACTDB, "load", db, "k", csv])
    got = run([FACTDB, "sql", "--format", "csv", db, "SELECT count(*), count(DISTINCT id) FROM k"]).stdout
    assert got == "count,count\n300000,300000\n", got
    p = run([FACTDB, "sql", db, "INSERT INTO k VALUES (299999, 'dup')"], check=False)
    assert p.returncode == 1 and "Key (id)=(299999) already exists" in p.stderr, p.stderr
    run([FACTDB, "check", db])
    cleanup(d)


if __name__ == "__main__":
    finish()

"""Multi-process concurrency contract: real processes loading and scanning one file at once."""
import os
import random
import re
import time

from common import DRIVER, FACTDB, acked, cleanup, finish, new_db, run, spawn, test, verify


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


if __name__ == "__main__":
    random.seed(1)
    finish()

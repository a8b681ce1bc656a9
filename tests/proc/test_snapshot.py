#!/usr/bin/env python3
"""A statement that reads several tables (joins, UNION ALL, subqueries) sees one snapshot while another
process commits transactions that change both tables together: the reader must never see one table before
a commit and the other after it (src/plan pins one read transaction per statement)."""
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ENV, FACTDB, cleanup, finish, run, scratch, test  # noqa: E402

TRANSFERS = 600
READS = [
    ("SELECT sum(bal) AS v FROM (SELECT bal FROM a UNION ALL SELECT bal FROM b) t;", "1000000"),
    ("SELECT (SELECT sum(bal) FROM a) + (SELECT sum(bal) FROM b) AS v;", "1000000"),
    ("SELECT count(*) AS v FROM (SELECT count(*) AS c FROM a) x JOIN (SELECT count(*) AS c FROM b) y ON x.c = y.c;", "1"),
    ("SELECT count(*) AS v FROM a FULL JOIN b ON a.id = b.id WHERE a.id IS NULL OR b.id IS NULL;", "0"),
    ("SELECT count(*) AS v FROM b;", None),  # how far the writer is: shows that reads overlapped writes
]


@test
def multi_table_statements_see_one_snapshot():
    d = scratch("snapshot")
    db = os.path.join(d, "s.db")
    try:
        run([FACTDB, "sql", "--create", db, "CREATE TABLE a (id integer, bal bigint); CREATE TABLE b (id integer, "
             "bal bigint); INSERT INTO a VALUES (0, 1000000); INSERT INTO b VALUES (0, 0)"])
        # each transaction moves 1 from a to b as one row in each: the total stays, the counts stay equal
        w_script = "".join("BEGIN; INSERT INTO a VALUES (%d, -1); INSERT INTO b VALUES (%d, 1); COMMIT;\n" % (i, i)
                           for i in range(1, TRANSFERS + 1))
        writer = subprocess.Popen([FACTDB, "sql", db], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, env=ENV)
        reader = subprocess.Popen([FACTDB, "sql", "--format", "csv", db], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        sent = []

        def feed():
            # reads until the writer is done, then one more round
            while True:
                done = writer.poll() is not None
                for q, _ in READS:
                    reader.stdin.write(q + "\n")
                    sent.append(len(sent))
                reader.stdin.flush()
                if done or len(sent) > 20000:
                    break
            reader.stdin.close()
        out = {}

        def drain():
            out["stdout"] = reader.stdout.read()
            out["stderr"] = reader.stderr.read()
        threads = [threading.Thread(target=feed), threading.Thread(target=drain)]
        for t in threads:
            t.start()
        werr = writer.communicate(w_script, timeout=600)[1]
        for t in threads:
            t.join(timeout=600)
        reader.wait(timeout=600)
        rout, rerr = out.get("stdout", ""), out.get("stderr", "")
        assert writer.returncode == 0, werr[-500:]
        assert reader.returncode == 0, rerr[-500:]
        values = [ln for ln in rout.split("\n") if ln and ln != "v"]
        assert len(values) == len(sent), "%d results for %d reads" % (len(values), len(sent))
        progress = set()
        for i, v in enumerate(values):
            q, want = READS[i % len(READS)]
            if want is None:
                progress.add(int(v))
                continue
            assert v == want, "read %d (%s) saw %s, expected %s" % (i, q, v, want)
        middle = [p for p in progress if 1 < p < TRANSFERS + 1]
        assert middle, "no read overlapped the writer's commits (counts seen: %s)" % sorted(progress)[:10]
        print("     %d reads, %d of them while the writer committed" % (len(values), len(middle) * len(READS)))
    finally:
        cleanup(d)


finish()

"""THE seed scenario: a FastAPI app (Debian's fastapi under uvicorn, 2 worker processes) inserting facts on
POST, a separate dashboard process reading aggregates every 100 ms, a `factdb load` and `factdb sql` readers,
all on ONE database file at once. Every acknowledged insert is seen by the readers; a worker killed with
kill -9 in the middle of a write (holding the write lock) loses nothing acknowledged and blocks no one."""
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

import factdb
from conftest import ASAN, FACTDB_BIN, PYTHON, child_env

HERE = os.path.dirname(os.path.abspath(__file__))
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def post(port, fact, hold=0, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/facts" + ("?hold=%s" % hold if hold else ""), body=json.dumps(fact),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        body = r.read()
        return r.status, json.loads(body) if r.status == 201 else body
    finally:
        c.close()


def worker_pids(master):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
    pids = []
    for p in out.split():
        cmd = open("/proc/%s/cmdline" % p, "rb").read()
        if b"multiprocessing" in cmd or b"uvicorn" in cmd:  # spawned workers, not the resource tracker
            if b"resource_tracker" not in cmd:
                pids.append(int(p))
    return pids


def test_seed_scenario(tmp_path):
    db = str(tmp_path / "facts.factdb")
    c = factdb.connect(db)
    c.execute("CREATE TABLE facts (id bigint NOT NULL, ts timestamptz, kind text, amount numeric(12,2), pid integer)")
    c.close()
    csv = tmp_path / "bulk.csv"
    with open(csv, "w") as f:
        f.write("day,store,qty\n")
        for i in range(200000):
            f.write("2024-01-%02d,s%d,%d\n" % (i % 28 + 1, i % 50, i % 7))
    env = child_env()
    env["FACTDB_SEED_DB"] = db
    port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    api = subprocess.Popen([PYTHON, "-m", "uvicorn", "--workers", "2", "--port", str(port), "--log-level", "warning",
                            "--app-dir", HERE, "seed_app:app"], env=env, stderr=open(logs / "api.err", "w"))
    stop = str(tmp_path / "stop")
    dash = subprocess.Popen([PYTHON, os.path.join(HERE, "seed_dashboard.py"), db, stop], env=env,
                            stdout=subprocess.PIPE, stderr=open(logs / "dash.err", "w"), text=True)
    procs = [api, dash]
    try:
        # wait for both workers
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            try:
                if post(port, {"id": 0, "kind": "warmup", "amount": "0.00"})[0] == 201:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the API did not start: " + open(logs / "api.err").read())
        acked = {0}
        lock = threading.Lock()
        n_clients = 4
        per_client = 60 if ASAN else 150

        def client(k):
            for i in range(per_client):
                fid = 1 + k * 100000 + i
                try:
                    st, _ = post(port, {"id": fid, "kind": ["order", "refund", "view"][i % 3], "amount": "%d.%02d" % (i, k)})
                except OSError:
                    continue  # a killed worker's connection: not acknowledged
                if st == 201:
                    with lock:
                        acked.add(fid)

        # the bulk load and the CLI readers, at the same time as the API and the dashboard
        load = subprocess.Popen([FACTDB_BIN, "load", "--create", db, "bulk", str(csv)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        procs.append(load)
        sql_outs = []

        def sql_reader():
            for _ in range(8):
                r = subprocess.run([FACTDB_BIN, "sql", db, "SELECT count(*), sum(amount) FROM facts"],
                                   capture_output=True, text=True, timeout=60)
                sql_outs.append((r.returncode, r.stdout, r.stderr))
                time.sleep(0.1)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(n_clients)]
        threads.append(threading.Thread(target=sql_reader))
        [t.start() for t in threads]

        # kill -9 one worker in the middle of a write: it holds the write lock, its transaction is open
        holding = db + ".holding"
        hold_result = []
        ht = threading.Thread(target=lambda: hold_result.append(
            _try(lambda: post(port, {"id": 999999, "kind": "killed", "amount": "1.00"}, hold=30))))
        ht.start()
        t0 = time.monotonic()
        while not os.path.exists(holding) and time.monotonic() - t0 < 30:
            time.sleep(0.02)
        assert os.path.exists(holding), "no worker started the held write"
        victim = int(open(holding).read())
        time.sleep(0.3)  # others now queue for the write lock behind it
        os.kill(victim, signal.SIGKILL)
        kill_time = time.time()
        ht.join(60)
        assert hold_result and hold_result[0][0] == "error", hold_result  # never acknowledged

        [t.join(180) for t in threads]
        assert load.wait(120) == 0, load.stderr.read()
        assert all(rc == 0 for rc, _, _ in sql_outs), sql_outs
        # the survivor keeps serving after the kill (no stale lock)
        st, body = post(port, {"id": 777777, "kind": "after", "amount": "2.00"})
        assert st == 201 and body["pid"] != victim
        acked.add(777777)
        last_ack = time.time()

        # every acknowledged insert is in the file, the killed write is not, nothing is duplicated
        r = factdb.connect(db, read_only=True)
        ids = {row[0] for row in r.execute("SELECT id FROM facts").fetchall()}
        assert acked <= ids, "acknowledged but lost: %s" % sorted(acked - ids)[:10]
        assert 999999 not in ids
        assert r.execute("SELECT count(*) FROM facts").fetchone()[0] == len(ids)
        assert r.execute("SELECT count(*) FROM bulk").fetchone() == (200000,)
        killed_rows = r.execute("SELECT count(*) FROM facts WHERE pid = ?", [victim]).fetchone()[0]
        chk = subprocess.run([FACTDB_BIN, "check", db], capture_output=True, text=True, timeout=120)
        assert chk.returncode == 0, chk.stdout + chk.stderr
        # the CLI reader sees them too
        out = subprocess.run([FACTDB_BIN, "sql", db, "SELECT count(*) FROM facts"], capture_output=True, text=True)
        assert out.stdout.split()[-1] == str(len(ids))

        # the dashboard saw every acknowledged insert within ~100 ms polling (after the last ack)
        time.sleep(0.5)
        open(stop, "w").close()
        lines = dash.communicate(timeout=60)[0].split("\n")
        readings = [ln.split() for ln in lines if ln and not ln.endswith("final")]
        final = [ln.split() for ln in lines if ln.endswith("final")][0]
        assert int(final[2]) == len(ids)
        counts = [int(x[2]) for x in readings]
        assert counts == sorted(counts), "the dashboard saw the count go down"
        # it reads when data_version changes: its last reading is of the final state, made within a poll
        # (100 ms) plus a query of the last acknowledgement
        last = readings[-1]
        assert int(last[2]) == len(ids) and float(last[0]) < last_ack + 1.0, (last, len(ids), last_ack)
        assert len(readings) >= 5
        print("acked %d inserts (%d by the killed worker %d before the kill), %d dashboard readings, "
              "kill at %.1f" % (len(acked), killed_rows, victim, len(readings), kill_time))
    finally:
        open(stop, "w").close()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        for pid in worker_pids(api.pid) if api.poll() is None else []:
            os.kill(pid, signal.SIGKILL)


def _try(f):
    try:
        return ("ok", f())
    except OSError as e:
        return ("error", repr(e))

#!/usr/bin/env python3
"""HTTP API tests: real `factdb serve` processes on loopback, real HTTP (http.client), other factdb
processes on the same file. Every endpoint, status and error of docs/http.md; all-or-nothing inserts;
durability across kill -9; change events caused by another process; auth; limits; clean shutdown; and
the two-servers-plus-loader-plus-reader scenario. Runs the binaries of $FACTDB_BUILD (default build/)."""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "proc"))
from common import DRIVER, ENV, FACTDB, cleanup, finish, run, scratch, test  # noqa: E402

SCENARIO_SECONDS = float(os.environ.get("FACTDB_SCENARIO_SECONDS", "60"))


class Server:
    def __init__(self, db, *opts):
        self.p = subprocess.Popen([FACTDB, "serve", "--port", "0", *opts, db], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=ENV)
        t0 = time.time()
        line = self.p.stdout.readline()
        m = re.search(r"http://([0-9.]+):(\d+)/", line)
        assert m, (line, self.p.stderr.read() if self.p.poll() is not None else "")
        self.host, self.port = m.group(1), int(m.group(2))
        self.ready_s = time.time() - t0
        self.log = []
        self.t = threading.Thread(target=self._drain, daemon=True)
        self.t.start()

    def _drain(self):
        for line in self.p.stderr:
            self.log.append(line)

    def conn(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=60)

    def req(self, method, path, body=None, headers=None, conn=None):
        c = conn or self.conn()
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        ctype = r.getheader("Content-Type", "")
        try:
            out = json.loads(data) if ctype.startswith("application/json") and data else data.decode()
        except ValueError:
            raise AssertionError("%s %s answered invalid JSON: %r" % (method, path, data[:500]))
        return r.status, out, r

    def sql(self, text, params=None, token=None):
        h = {"Authorization": "Bearer " + token} if token else {}
        return self.req("POST", "/v1/sql", {"sql": text, "params": params or []}, h)

    def insert(self, table, rows, token=None, conn=None):
        h = {"Authorization": "Bearer " + token} if token else {}
        return self.req("POST", "/v1/tables/%s/rows" % table, rows, h, conn=conn)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.p.send_signal(sig)
        rc = self.p.wait(timeout=timeout)
        self.t.join(timeout=5)
        return rc

    def kill(self):
        self.p.kill()
        self.p.wait()


def new_db(name):
    d = scratch(name)
    db = os.path.join(d, name + ".db")
    run([FACTDB, "sql", db, "CREATE TABLE ev (at timestamp NOT NULL, kind text, amount numeric(10,2), n integer)"])
    return d, db


@test
def endpoints_and_statuses():
    d, db = new_db("api")
    s = Server(db)
    assert s.ready_s < 1.0, s.ready_s
    st, body, _ = s.req("GET", "/v1/health")
    assert st == 200 and body["status"] == "ok" and body["version"] and body["data_version"] > 0, body
    st, body, _ = s.req("GET", "/v1/tables")
    assert st == 200 and body["tables"][0]["name"] == "ev" and body["tables"][0]["row_count"] == 0, body
    assert [c["type"] for c in body["tables"][0]["columns"]] == ["timestamp", "text", "numeric(10,2)", "integer"]
    # inserts: JSON, NDJSON, CSV; a missing key is NULL
    st, body, _ = s.insert("ev", [{"at": "2024-01-01 10:00:00", "kind": "buy", "amount": 12.5, "n": 3},
                                  {"at": "2024-01-02 10:00:00", "kind": "sell", "amount": 0.1}])
    assert st == 200 and body["inserted"] == 2 and body["data_version"] > 0, body
    st, body, _ = s.req("POST", "/v1/tables/ev/rows", '{"at":"2024-02-01","kind":"nd"}\n\n{"at":"2024-02-02","n":5}\n',
                        {"Content-Type": "application/x-ndjson"})
    assert st == 200 and body["inserted"] == 2, body
    st, body, _ = s.req("POST", "/v1/tables/ev/rows", 'at,kind,amount\n2024-03-01,"csv, quoted",1.25\n',
                        {"Content-Type": "text/csv; charset=utf-8"})
    assert st == 200 and body["inserted"] == 1, body
    # SQL: JSON with params, the document shape, DDL/DML, text/plain, CSV by query or Accept
    st, body, _ = s.sql("SELECT kind, sum(amount) AS s, count(*) AS c FROM ev WHERE at >= $1 GROUP BY kind "
                        "ORDER BY kind NULLS FIRST", ["2024-01-01"])
    assert st == 200, body
    assert body["columns"] == [{"name": "kind", "type": "text"}, {"name": "s", "type": "numeric"},
                               {"name": "c", "type": "bigint"}], body
    assert body["rows"] == [[None, None, 1], ["buy", 12.5, 1], ["csv, quoted", 1.25, 1], ["nd", None, 1],
                            ["sell", 0.1, 1]], body
    assert body["row_count"] == 5 and "elapsed_ms" in body, body
    st, body, _ = s.req("POST", "/v1/sql?format=csv", "SELECT kind, amount FROM ev WHERE amount IS NOT NULL ORDER BY amount",
                        {"Content-Type": "text/plain"})
    assert st == 200 and body == 'kind,amount\nsell,0.10\n"csv, quoted",1.25\nbuy,12.50\n', body
    st, body, r = s.req("POST", "/v1/sql", {"sql": "SELECT 1 AS one"}, {"Accept": "text/csv"})
    assert st == 200 and body == "one\n1\n" and r.getheader("Content-Type").startswith("text/csv"), body
    st, body, _ = s.sql("CREATE TABLE t2 (x bigint); INSERT INTO t2 VALUES (1), (2); DELETE FROM t2 WHERE x = 1")
    assert st == 200 and body["command"] == "DELETE 1", body
    st, body, _ = s.sql("SELECT x FROM t2")
    assert body["rows"] == [[2]], body
    # errors: syntax with position, unknown table, bad value, bad JSON, unsupported type, route, method
    st, body, _ = s.sql("SELECT nope FROM ev")
    assert st == 400 and body["error"]["code"] == "INVALID_ARGUMENT" and body["error"]["position"] == 8, body
    assert "does not exist" in body["error"]["message"], body
    st, body, _ = s.sql("SELECT * FROM missing")
    assert st == 404 and body["error"]["code"] == "NO_TABLE", body
    st, body, _ = s.sql("SELECT 1 / 0")
    assert st == 400 and body["error"]["code"] == "INVALID_VALUE", body
    st, body, _ = s.req("POST", "/v1/sql", '{"sql": ', {"Content-Type": "application/json"})
    assert st == 400 and "invalid JSON" in body["error"]["message"], body
    st, body, _ = s.req("POST", "/v1/sql", "x", {"Content-Type": "application/xml"})
    assert st == 415, body
    st, body, _ = s.req("POST", "/v1/sql", '{"sql":"SELECT 2 AS two"}',
                        {"Content-Type": "application/x-www-form-urlencoded"})  # curl -d without -H
    assert st == 200 and body["rows"] == [[2]], body
    st, body, _ = s.req("POST", "/v1/tables/ev/rows", "x", {"Content-Type": "application/xml"})
    assert st == 415, body
    st, body, _ = s.req("GET", "/v1/nope")
    assert st == 404 and body["error"]["code"] == "NOT_FOUND", body
    st, body, r = s.req("GET", "/v1/sql")
    assert st == 405 and r.getheader("Allow") == "POST", body
    st, body, _ = s.insert("missing", [{"a": 1}])
    assert st == 404, body
    # all or nothing: one bad row stores nothing and names the row and the column
    before = s.sql("SELECT count(*) FROM ev")[1]["rows"][0][0]
    for rows, code, row, col in [
        ([{"at": "2024-05-01", "n": 1}, {"at": "2024-05-02", "n": "x"}], "INVALID_VALUE", 2, "n"),
        ([{"at": "2024-05-01"}, {"kind": "no time"}], "NOT_NULL", 2, "at"),
        ([{"at": "2024-05-01", "n": 2147483648}], "INVALID_VALUE", 1, "n"),
        ([{"at": "2024-05-01", "amount": 123456789.5}], "INVALID_VALUE", 1, "amount"),
        ([{"at": "2024-05-01"}, {"at": "2024-05-01", "bogus": 1}], "NO_COLUMN", 2, None),
    ]:
        st, body, _ = s.insert("ev", rows)
        assert st == 400 and body["error"]["code"] == code and body["error"]["row"] == row, (rows, body)
        if col:
            assert body["error"]["column"] == col, body
    st, body, _ = s.req("POST", "/v1/tables/ev/rows", "at,n\n2024-05-01,1\n2024-05-02,x\n", {"Content-Type": "text/csv"})
    assert st == 400 and body["error"]["row"] == 2 and body["error"]["column"] == "n", body
    assert s.sql("SELECT count(*) FROM ev")[1]["rows"][0][0] == before
    # metrics
    st, text, _ = s.req("GET", "/metrics")
    assert st == 200 and 'factdb_http_requests_total{route="/v1/sql",status="200"}' in text, text
    for name in ("factdb_http_request_duration_seconds_bucket", "factdb_rows_inserted_total 5",
                 "factdb_commits_total", "factdb_rows_per_commit_bucket", "factdb_data_version", "factdb_live_readers"):
        assert name in text, (name, text)
    assert s.stop() == 0
    assert any(re.match(r"POST /v1/sql 200 \d+ [0-9.]+ ms", line) for line in s.log), s.log[:5]
    cleanup(d)


@test
def auth_and_limits():
    d, db = new_db("auth")
    p = subprocess.run([FACTDB, "serve", "--host", "0.0.0.0", "--port", "0", db], capture_output=True, text=True,
                       env=ENV, timeout=30)
    assert p.returncode == 1 and "without --token" in p.stderr, p.stderr
    s = Server(db, "--token", "write-secret-1", "--read-token", "read-secret-1", "--max-body", "2000",
               "--max-rows", "5")
    st, body, r = s.sql("SELECT 1")
    assert st == 401 and r.getheader("WWW-Authenticate"), body
    assert s.sql("SELECT 1", token="wrong-token")[0] == 401
    assert s.sql("SELECT 1", token="read-secret-1")[0] == 200
    assert s.sql("SELECT 1", token="write-secret-1")[0] == 200
    st, body, _ = s.sql("INSERT INTO ev (at) VALUES ('2024-01-01')", token="read-secret-1")
    assert st == 403 and body["error"]["code"] == "PERMISSION", body
    assert s.insert("ev", [{"at": "2024-01-01"}], token="read-secret-1")[0] == 403
    st, body, _ = s.sql("COPY ev TO '%s/x.csv'" % d, token="read-secret-1")  # writes a file on the server
    assert st == 403, body
    assert s.insert("ev", [{"at": "2024-01-01"}])[0] == 401
    assert s.insert("ev", [{"at": "2024-01-01"}], token="write-secret-1")[0] == 200
    assert s.req("GET", "/v1/tables")[0] == 401
    assert s.req("GET", "/v1/tables", headers={"Authorization": "Bearer read-secret-1"})[0] == 200
    assert s.req("GET", "/v1/health")[0] == 200  # liveness stays open
    st, body, _ = s.insert("ev", [{"at": "2024-01-01", "kind": "x" * 3000}], token="write-secret-1")
    assert st == 413 and body["error"]["code"] == "LIMIT", body
    st, body, _ = s.insert("ev", [{"at": "2024-01-01"}] * 6, token="write-secret-1")
    assert st == 413 and "more than 5 rows" in body["error"]["message"], body
    deep = "[" * 40 + "]" * 40
    st, body, _ = s.req("POST", "/v1/tables/ev/rows", deep, {"Content-Type": "application/json",
                                                             "Authorization": "Bearer write-secret-1"})
    assert st == 413 and "nested deeper" in body["error"]["message"], body
    st, body, _ = s.req("POST", "/v1/sql", '{"sql":"SELECT 1","params":' + "[" * 40 + "]" * 40 + "}",
                        {"Content-Type": "application/json", "Authorization": "Bearer read-secret-1"})
    assert st == 413 and "nested deeper" in body["error"]["message"], body
    # tokens never reach the log
    assert s.stop() == 0
    assert not any("secret" in line for line in s.log), s.log
    cleanup(d)


@test
def busy_writer_gets_409_and_slow_query_408():
    d, db = new_db("busy")
    s = Server(db, "--busy-timeout", "200", "--query-timeout", "150")
    # another process holds the write lock inside a transaction block
    holder = subprocess.Popen([DRIVER, "sqlstep", db, "10000"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=ENV)
    holder.stdin.write("BEGIN\nINSERT INTO ev (at) VALUES ('2024-01-01')\n")
    holder.stdin.flush()
    assert holder.stdout.readline().startswith("ok BEGIN") and holder.stdout.readline().startswith("ok INSERT")
    st, body, r = s.insert("ev", [{"at": "2024-01-01"}])
    assert st == 409 and body["error"]["code"] == "BUSY" and r.getheader("Retry-After") == "1", body
    assert "process %d" % holder.pid in body["error"]["message"], body
    holder.stdin.write("ROLLBACK\n")
    holder.stdin.close()
    holder.wait()
    assert s.insert("ev", [{"at": "2024-01-01"}])[0] == 200
    # a query longer than --query-timeout is canceled with 408
    data = "".join("%d,k%d\n" % (i, i % 1000) for i in range(400000))
    run([FACTDB, "sql", db, "CREATE TABLE big (i bigint, k text)"])
    subprocess.run([FACTDB, "load", "--no-header", db, "big", "-"], input=data, text=True, env=ENV, check=True,
                   capture_output=True)
    slow = "SELECT count(*) FROM big WHERE " + " OR ".join("k || i::text LIKE '%%%d%%x'" % i for i in range(40))
    t0 = time.time()
    st, body, _ = s.sql(slow)
    assert st == 408 and body["error"]["code"] == "TIMEOUT", body
    assert time.time() - t0 < 5
    assert s.stop() == 0
    cleanup(d)


@test
def durable_once_acknowledged():
    d, db = new_db("durable")
    for round_ in range(5):
        s = Server(db)
        st, body, _ = s.insert("ev", [{"at": "2024-01-01 00:00:%02d" % round_, "n": i} for i in range(100)])
        assert st == 200, body
        s.kill()  # kill -9 right after the 2xx
        p = run([FACTDB, "sql", "--format", "csv", db, "SELECT count(*) FROM ev"])
        assert p.stdout == "count\n%d\n" % ((round_ + 1) * 100), p.stdout
    run([FACTDB, "check", db])
    cleanup(d)


@test
def events_from_another_process():
    d, db = new_db("events")
    s = Server(db)
    c = s.conn()
    c.request("GET", "/v1/events")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Type") == "text/event-stream"
    first = r.readline().decode()
    assert first.startswith("data: {\"data_version\":"), first
    r.readline()
    v0 = json.loads(first[6:])["data_version"]
    delays = []
    for i in range(5):
        t0 = time.time()
        subprocess.run([FACTDB, "load", db, "ev", "-"], input="at,n\n2024-01-01,%d\n" % i, text=True, env=ENV,
                       check=True, capture_output=True)
        t1 = time.time()
        line = r.readline().decode()
        delays.append(time.time() - t1)
        assert line.startswith("data: "), line
        v = json.loads(line[6:])["data_version"]
        assert v > v0, (v, v0)
        v0 = v
        r.readline()
    assert max(delays) < 0.25, delays
    c.close()
    assert s.stop() == 0
    cleanup(d)


@test
def clean_shutdown_finishes_in_flight_requests():
    d, db = new_db("shutdown")
    s = Server(db)
    data = "".join("%d,k%d\n" % (i, i) for i in range(300000))
    run([FACTDB, "sql", db, "CREATE TABLE big (i bigint, k text)"])
    subprocess.run([FACTDB, "load", "--no-header", db, "big", "-"], input=data, text=True, env=ENV, check=True,
                   capture_output=True)
    result = {}

    def slow():
        result["r"] = s.sql("SELECT count(*) FROM big WHERE " +
                            " OR ".join("k || i::text LIKE '%%%d%%x'" % i for i in range(12)))

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.15)
    rc = s.stop(signal.SIGINT)
    t.join()
    assert rc == 0, rc
    assert result["r"][0] == 200 and result["r"][1]["rows"] == [[0]], result
    cleanup(d)


@test
def two_servers_a_loader_and_a_reader_at_once():
    """The scenario factdb exists for: an API server and a dashboard server on one file, a bulk loader and a
    SQL shell reading, all at once; every acknowledged row visible through both servers."""
    d, db = new_db("scenario")
    api = Server(db)
    dash = Server(db)
    stop = threading.Event()
    errors = []
    acked = [0] * 8
    loaded = [0]

    def inserter(k):
        srv = api if k % 2 == 0 else dash
        conn = srv.conn()
        i = 0
        while not stop.is_set():
            n = 1 + (i % 7)
            try:
                st, body, _ = srv.insert("ev", [{"at": "2024-06-01 00:00:00", "kind": "w%d" % k, "n": i}] * n, conn=conn)
            except Exception as e:  # noqa: BLE001
                errors.append("insert %d: %r" % (k, e))
                return
            if st != 200:
                errors.append("insert %d: %d %s" % (k, st, body))
                return
            acked[k] += n
            i += 1

    def reader(srv):
        conn = srv.conn()
        last = 0
        while not stop.is_set():
            st, body, _ = srv.req("POST", "/v1/sql", {"sql": "SELECT count(*), sum(n) FROM ev"}, conn=conn)
            if st != 200:
                errors.append("query: %d %s" % (st, body))
                return
            c = body["rows"][0][0]
            if c < last:
                errors.append("count went down: %d -> %d" % (last, c))
            last = c

    def loader():
        while not stop.is_set():
            rows = "".join("2024-07-01,load,%d\n" % j for j in range(2000))
            p = subprocess.run([FACTDB, "load", db, "ev", "-"], input="at,kind,n\n" + rows, text=True, env=ENV,
                               capture_output=True)
            if p.returncode != 0:
                errors.append("load: " + p.stderr)
                return
            loaded[0] += 2000

    def shell():
        while not stop.is_set():
            p = subprocess.run([FACTDB, "sql", "--format", "csv", db,
                                "SELECT kind, count(*) FROM ev GROUP BY kind ORDER BY kind"],
                               capture_output=True, text=True, env=ENV)
            if p.returncode != 0:
                errors.append("sql: " + p.stderr)
                return

    threads = [threading.Thread(target=inserter, args=(k,)) for k in range(8)]
    threads += [threading.Thread(target=reader, args=(srv,)) for srv in (api, dash)]
    threads += [threading.Thread(target=loader), threading.Thread(target=shell)]
    for t in threads:
        t.start()
    time.sleep(SCENARIO_SECONDS)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:5]
    total = sum(acked) + loaded[0]
    assert sum(acked) > 1000 and loaded[0] > 0, (acked, loaded)
    # group commit: concurrent requests shared commits
    commits = sum(int(re.search(r"^factdb_commits_total (\d+)$", srv.req("GET", "/metrics")[1], re.M).group(1))
                  for srv in (api, dash))
    requests = sum(int(n) for srv in (api, dash) for n in re.findall(
        r'^factdb_http_requests_total\{route="/v1/tables/\{name\}/rows",status="200"\} (\d+)$',
        srv.req("GET", "/metrics")[1], re.M))
    assert commits < requests, (commits, requests)
    for srv in (api, dash):
        st, body, _ = srv.sql("SELECT count(*) FROM ev")
        assert body["rows"][0][0] == total, (body, total)
        st, body, _ = srv.sql("SELECT kind, count(*) FROM ev WHERE kind LIKE 'w%' GROUP BY kind ORDER BY kind")
        assert [r[1] for r in body["rows"]] == acked, (body, acked)
    assert api.stop() == 0 and dash.stop() == 0
    run([FACTDB, "check", db])
    print("     scenario: %d rows acknowledged over HTTP in %d requests and %d group commits, %d loaded, in %.0f s"
          % (sum(acked), requests, commits, loaded[0], SCENARIO_SECONDS))
    cleanup(d)


if __name__ == "__main__":
    finish()

#!/usr/bin/env python3
"""HTTP API tests: real `factdb serve` processes on loopback, real HTTP (http.client), other factdb
processes on the same file. Every endpoint, status and error of docs/http.md; all-or-nothing inserts;
durability across kill -9; change events caused by another process; auth; limits; clean shutdown; and
the two-servers-plus-loader-plus-reader scenario. Runs the binaries of $FACTDB_BUILD (default build/).

Tests marked @both run twice: on a database file (the embedded engine), then as "NAME[postgresql]" on
a database of a throwaway PostgreSQL cluster (tests/pgdiff/engines.py's PgCluster: initdb + pg_ctl in a
temporary directory, a Unix socket, as nobody when run as root), served by `factdb serve CONNINFO`.
PG_ONLY_EMBEDDED lists the tests that run on the embedded engine only, and why. FACTDB_HTTP_BACKENDS
(default "embedded,postgresql") chooses the backends."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "proc"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pgdiff"))
from common import DRIVER, ENV, FACTDB, cleanup, finish, run, scratch, test  # noqa: E402
from engines import PG_BIN, PgCluster  # noqa: E402

SCENARIO_SECONDS = float(os.environ.get("FACTDB_SCENARIO_SECONDS", "60"))


class Server:
    running = []  # killed at exit, so that a failed assertion leaves no server behind

    def __init__(self, db, *opts, prefix=()):
        self.p = subprocess.Popen([*prefix, FACTDB, "serve", "--port", "0", *opts, db], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, errors="replace", env=ENV)
        t0 = time.time()
        line = self.p.stdout.readline()
        m = re.search(r"http://([0-9.]+):(\d+)/", line)
        assert m, (line, self.p.stderr.read() if self.p.poll() is not None else "")
        Server.running.append(self.p)
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


EV = "CREATE TABLE ev (at timestamp NOT NULL, kind text, amount numeric(10,2), n integer)"


class Embedded:
    """A database file; other processes are factdb's CLI."""
    name = "embedded"

    def new_empty_db(self, name):
        d = scratch(name)
        return d, os.path.join(d, name + ".db")

    def new_db(self, name):
        d = scratch(name)
        db = os.path.join(d, name + ".db")
        run([FACTDB, "sql", db, EV])
        return d, db

    def sql(self, db, text):
        """Runs `text` as another client; returns the rows of its last result as lists of text."""
        p = run([FACTDB, "sql", "--format", "csv", db, text])
        return [line.split(",") for line in p.stdout.splitlines()[1:]]

    def tables(self, db):
        return [r[0] for r in self.sql(db, "SHOW TABLES")]

    def db_name(self, db):
        """What /v1/health names as "database"."""
        return os.path.basename(db)

    def insert_other(self, db, csv):
        """Rows into ev written by another process (a loader)."""
        run([FACTDB, "load", db, "ev", "-"], input=csv)


class Postgres:
    """A database of one PostgreSQL cluster started for the whole run; other clients speak the protocol
    directly (engines.PgConn), as psql would."""
    name = "postgresql"
    cluster = None

    def __init__(self):
        self.n = 0
        self.dbs = {}

    def new_db(self, name):
        if Postgres.cluster is None:
            Postgres.cluster = PgCluster(max_connections=60)
        self.n += 1
        dbname = "%s_%d" % (name, self.n)
        c = Postgres.cluster.connect()
        try:
            assert c.query('CREATE DATABASE "%s"' % dbname)[0] == "ok"
        finally:
            c.close()
        target = "host=%s port=%d dbname=%s user=postgres" % (Postgres.cluster.dir, Postgres.cluster.port, dbname)
        self.dbs[target] = dbname
        self.sql(target, EV)
        return scratch(name), target

    def sql(self, target, text):
        c = Postgres.cluster.connect(self.dbs[target])
        try:
            r = c.query(text)
        finally:
            c.close()
        assert r[0] != "error", (text, r)
        return [list(row) for row in r[3]] if r[0] == "rows" else []

    def tables(self, target):
        return [r[0] for r in self.sql(target, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                               "ORDER BY 1")]

    def db_name(self, target):
        return self.dbs[target]

    def insert_other(self, target, csv):
        """Rows into ev written by another client of PostgreSQL (as psql would)."""
        lines = csv.splitlines()
        cols = lines[0]
        values = ", ".join("(%s)" % ", ".join("'%s'" % v for v in line.split(",")) for line in lines[1:])
        self.sql(target, "INSERT INTO ev (%s) VALUES %s" % (cols, values))

    def new_empty_db(self, name):
        d, target = self.new_db(name)
        self.sql(target, "DROP TABLE ev")
        return d, target


EMBEDDED = Embedded()
BK = EMBEDDED  # the backend of the test running now
BACKENDS = [{"embedded": EMBEDDED, "postgresql": Postgres()}[b]
            for b in os.environ.get("FACTDB_HTTP_BACKENDS", "embedded,postgresql").split(",") if b]
# Tests that run on the embedded engine only, and why.
PG_ONLY_EMBEDDED = {
    "busy_writer_gets_409_and_slow_query_408": "holds the file's write lock from another process; PostgreSQL "
    "has no database-wide write lock (a row lock waits, as lock_timeout says)",
    "clean_shutdown_finishes_in_flight_requests": "needs a query still running 0.15 s after it starts, timed on "
    "the embedded engine's scan",
    "two_servers_a_loader_and_a_reader_at_once": "drives factdb load, factdb sql and factdb check on the file",
    "copy_with_a_server_file_needs_allow_file_access": "COPY 'file' on PostgreSQL reads the database server's "
    "files under its own privileges (pg_read_server_files); --allow-file-access does not apply",
    "missing_and_read_only_databases": "file permissions and a missing file",
}


def on_backend(fn, bk):
    """Registers test `fn` to run with BK = bk, named NAME (the file) or NAME[backend]."""
    def run_on():
        global BK
        BK = bk
        try:
            fn()
        finally:
            BK = EMBEDDED
    run_on.__name__ = fn.__name__ + ("" if bk is EMBEDDED else "[%s]" % bk.name)
    test(run_on)


def both(fn):
    """Runs test `fn` on every backend of BACKENDS (as NAME, then NAME[postgresql])."""
    for bk in BACKENDS:
        on_backend(fn, bk)
    return fn


def new_db(name):
    return BK.new_db(name)


@both
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
                        {"Content-Type": "application/x-www-form-urlencoded"})  # curl -d without -H: HTML forms send it
    assert st == 415 and "Content-Type: application/json" in body["error"]["message"], body
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
                 "factdb_commits_total", "factdb_rows_per_commit_bucket", "factdb_data_version",
                 "factdb_live_readers" if BK is EMBEDDED else "factdb_pg_pool_busy"):
        assert name in text, (name, text)
    # keys: a duplicate in posted rows fails the request whole; UPDATE answers its command tag
    assert s.sql("CREATE TABLE acc (id bigint PRIMARY KEY, v bigint)")[0] == 200
    assert s.insert("acc", [{"id": 1, "v": 10}, {"id": 2, "v": 20}])[0] == 200
    st, body, _ = s.insert("acc", [{"id": 3, "v": 30}, {"id": 1, "v": 11}])
    assert st == 400 and body["error"]["code"] == "UNIQUE_VIOLATION", body
    assert "Key (id)=(1) already exists" in body["error"]["message"], body
    st, body, _ = s.sql("UPDATE acc SET v = v + 1 WHERE id = 2")
    assert st == 200 and body["command"] == "UPDATE 1", body
    st, body, _ = s.sql("INSERT INTO acc VALUES (2, 5), (4, 40) ON CONFLICT (id) DO UPDATE SET v = acc.v + EXCLUDED.v")
    assert st == 200 and body["command"] == "INSERT 0 2", body
    st, body, _ = s.sql("SELECT id, v FROM acc ORDER BY id")
    assert body["rows"] == [[1, 10], [2, 26], [4, 40]], body
    # RETURNING: the rows, and the command of the statement that wrote them
    st, body, _ = s.sql("INSERT INTO acc VALUES (5, 50) RETURNING id, v * 2 AS twice")
    assert st == 200 and body["rows"] == [[5, 100]] and body["command"] == "INSERT 0 1", body
    assert [c["name"] for c in body["columns"]] == ["id", "twice"], body
    st, body, _ = s.sql("UPDATE acc SET v = v + 1 WHERE id = 5 RETURNING *")
    assert st == 200 and body["rows"] == [[5, 51]] and body["command"] == "UPDATE 1", body
    st, body, _ = s.sql("DELETE FROM acc WHERE id = 5 RETURNING id")
    assert st == 200 and body["rows"] == [[5]] and body["command"] == "DELETE 1", body
    st, body, _ = s.sql("SELECT count(*) AS n FROM acc")
    assert body["rows"] == [[3]] and "command" not in body, body
    assert s.stop() == 0
    assert any(re.match(r"POST /v1/sql 200 \d+ [0-9.]+ ms", line) for line in s.log), s.log[:5]
    cleanup(d)


@both
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
    assert s.sql("UPDATE ev SET n = 1", token="read-secret-1")[0] == 403
    if BK is not EMBEDDED:
        # PostgreSQL-only SQL runs for the write token; the read token's statements run read-only, so a
        # function that writes (nextval) is refused although factdb's parser sees a SELECT
        st, body, _ = s.sql("CREATE SEQUENCE seq", token="write-secret-1")
        assert st == 200 and body["command"] == "CREATE SEQUENCE", body
        st, body, _ = s.sql("SELECT nextval('seq')", token="read-secret-1")
        assert st == 403 and body["error"]["code"] == "PERMISSION" and "read-only" in body["error"]["message"], body
        assert s.sql("SELECT nextval('seq') AS v", token="write-secret-1")[1]["rows"] == [[1]]
        st, body, _ = s.sql("CREATE SEQUENCE seq2", token="read-secret-1")
        assert st == 400 and body["error"]["code"] == "INVALID_ARGUMENT", body  # factdb's parser's error
        # the read-only transaction cannot be lifted for a later statement: set_config changes only the
        # default of later transactions, and statements that would end this one are refused
        st, body, _ = s.sql("SELECT set_config('default_transaction_read_only', 'off', false); "
                            "SELECT nextval('seq')", token="read-secret-1")
        assert st == 403 and "read-only" in body["error"]["message"], body
        for text in ["COMMIT; SELECT nextval('seq')", "SET default_transaction_read_only = off",
                     "SELECT 1; END; SELECT nextval('seq')", "CALL nothing()"]:
            st, body, _ = s.sql(text, token="read-secret-1")
            assert st in (400, 403) and body["error"]["code"] in ("PERMISSION", "INVALID_ARGUMENT"), (text, body)
        assert s.sql("SELECT nextval('seq') AS v", token="write-secret-1")[1]["rows"] == [[2]]
    # a comment that \r ends (PostgreSQL's rule) hides nothing from the read token's check
    st, body, _ = s.sql("SELECT 1 -- x\r; SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE; COMMIT; "
                        "DELETE FROM ev; --\n", token="read-secret-1")
    assert st in (400, 403), body
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
    # many statements, each too short to see the cancel: the timeout must still end the request
    # (each statement clears the session's cancel flag when it starts)
    t0 = time.time()
    st, body, _ = s.sql("SELECT 1;" * 400000)
    assert st == 408 and body["error"]["code"] == "TIMEOUT", (st, body)
    assert time.time() - t0 < 5
    assert s.stop() == 0
    cleanup(d)


@both
def durable_once_acknowledged():
    d, db = new_db("durable")
    for round_ in range(5):
        s = Server(db)
        st, body, _ = s.insert("ev", [{"at": "2024-01-01 00:00:%02d" % round_, "n": i} for i in range(100)])
        assert st == 200, body
        s.kill()  # kill -9 right after the 2xx
        n = BK.sql(db, "SELECT count(*) FROM ev")
        assert n == [[str((round_ + 1) * 100)]], n
    if BK is EMBEDDED:
        run([FACTDB, "check", db])
    cleanup(d)


@both
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
        BK.insert_other(db, "at,n\n2024-01-01,%d\n" % i)
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


def raw(port, data, src="127.0.0.1", timeout=10):
    """Sends raw bytes from source address SRC; returns (status, headers dict, body) of the answer."""
    sock = socket.socket()
    sock.bind((src, 0))
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    sock.sendall(data)
    out = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        out += chunk
    sock.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def table_names(db):
    return BK.tables(db)


@both
def host_header_is_checked_against_dns_rebinding():
    d, db = new_db("host")
    s = Server(db, "--allow-host", "db.example", "--allow-host", "Other.Example:8080")
    create = "CREATE TABLE rebound (x bigint)"
    for host in ("attacker.example", "attacker.example:%d" % s.port, "localhost.attacker.example", "127.0.0.1.nip.io",
                 "db.example.evil", "", "local host", "[::1", "localhost:80x"):
        st, body, r = s.req("POST", "/v1/sql", create, {"Host": host, "Content-Type": "text/plain"})
        assert st == 403 and body["error"]["code"] == "HOST_NOT_ALLOWED", (host, st, body)
        assert "--allow-host" in body["error"]["message"], body
    st, body, _ = s.req("GET", "/", headers={"Host": "attacker.example"})
    assert st == 403, st  # the dashboard page too: a rebound page must not even load it
    assert table_names(db) == ["ev"], table_names(db)
    for host in ("localhost", "localhost:%d" % s.port, "LocalHost:%d" % s.port, "127.0.0.1", "127.0.0.1:%d" % s.port,
                 "[::1]:%d" % s.port, "[::1]", "db.example", "DB.example:8443", "other.example"):
        st, body, _ = s.req("POST", "/v1/sql", "SELECT 1 AS one", {"Host": host, "Content-Type": "text/plain"})
        assert st == 200 and body["rows"] == [[1]], (host, st, body)
    # HTTP/1.0 without Host: no browser sends that, so it is not a rebinding attack; it is served
    st, _, body = raw(s.port, b"GET /v1/health HTTP/1.0\r\n\r\n")
    assert st == 200 and b'"status":"ok"' in body, (st, body)
    # HTTP/1.1 without Host is malformed (RFC 9112, 3.2)
    st, _, body = raw(s.port, b"GET /v1/health HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert st == 400 and b"Host" in body, (st, body)
    assert s.stop() == 0
    # listening on every interface: any IPv4 address literal is a name of the server, names are not
    s = Server(db, "--host", "0.0.0.0", "--token", "write-secret-1")
    assert s.req("GET", "/v1/health", headers={"Host": "10.1.2.3:%d" % s.port})[0] == 200
    assert s.req("GET", "/v1/health", headers={"Host": "evil.example:%d" % s.port})[0] == 403
    assert s.stop() == 0
    cleanup(d)


@both
def other_origins_are_refused_and_listed_ones_get_cors():
    d, db = new_db("origin")
    s = Server(db)
    own = "http://127.0.0.1:%d" % s.port
    # a page of another origin: simple requests (text/plain, no preflight) and everything else are refused
    for origin in ("http://evil.example", "http://127.0.0.1:%d" % (s.port + 1), "https://localhost:%d" % s.port + "x",
                   "null", "http://localhost:%d" % s.port):
        st, body, r = s.req("POST", "/v1/sql", "CREATE TABLE pwned (x bigint)",
                            {"Origin": origin, "Content-Type": "text/plain"})
        assert st == 403 and body["error"]["code"] == "ORIGIN_NOT_ALLOWED", (origin, st, body)
        assert "--cors-origin" in body["error"]["message"] and not r.getheader("Access-Control-Allow-Origin"), body
        st, body, _ = s.req("POST", "/v1/tables/ev/rows", [{"at": "2024-01-01"}], {"Origin": origin})
        assert st == 403, (origin, body)
        st, body, _ = s.req("GET", "/v1/tables", headers={"Origin": origin})
        assert st == 403, (origin, body)
        st, body, _ = s.req("OPTIONS", "/v1/sql", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
        assert st == 403, (origin, body)
    assert table_names(db) == ["ev"], table_names(db)
    assert s.sql("SELECT count(*) FROM ev")[1]["rows"] == [[0]]
    # the server's own pages (the dashboard): Origin equals the Host it was reached by
    st, body, r = s.req("POST", "/v1/sql", "SELECT 1 AS one", {"Origin": own, "Content-Type": "text/plain"})
    assert st == 200 and not r.getheader("Access-Control-Allow-Origin") and r.getheader("Vary") == "Origin", body
    st, body, _ = s.req("POST", "/v1/sql", "SELECT 1 AS one", {"Origin": "http://localhost:%d" % s.port,
                                                             "Host": "localhost:%d" % s.port, "Content-Type": "text/plain"})
    assert st == 200, body
    # no Origin (curl, scripts, servers) works as before; a no-cors load by another site's page does not
    assert s.req("GET", "/v1/tables")[0] == 200
    assert s.req("GET", "/v1/tables", headers={"Sec-Fetch-Site": "same-origin"})[0] == 200
    for site in ("cross-site", "same-site"):
        st, body, r = s.req("GET", "/v1/tables", headers={"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "no-cors"})
        assert st == 403 and body["error"]["code"] == "ORIGIN_NOT_ALLOWED", body
    st, _, r = s.req("GET", "/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
    assert st == 200 and r.getheader("Cross-Origin-Resource-Policy") == "same-origin"  # a link to the dashboard
    assert "frame-ancestors 'none'" in r.getheader("Content-Security-Policy")
    st, _, r = s.req("OPTIONS", "/v1/sql")
    assert st == 204 and "POST" in r.getheader("Allow"), st
    assert s.stop() == 0
    # listed origins get CORS: preflight, then the request, both with the origin echoed
    app = "http://app.example:3000"
    s = Server(db, "--cors-origin", app, "--cors-origin", "https://bi.example", "--token", "write-secret-1")
    st, body, r = s.req("OPTIONS", "/v1/sql", headers={"Origin": app, "Access-Control-Request-Method": "POST",
                                                      "Access-Control-Request-Headers": "authorization,content-type"})
    assert st == 204, (st, body)
    assert r.getheader("Access-Control-Allow-Origin") == app and r.getheader("Vary") == "Origin"
    assert "POST" in r.getheader("Access-Control-Allow-Methods")
    allow = r.getheader("Access-Control-Allow-Headers").lower()
    assert "authorization" in allow and "content-type" in allow, allow
    assert int(r.getheader("Access-Control-Max-Age")) > 0
    st, body, r = s.req("POST", "/v1/sql", {"sql": "CREATE TABLE from_app (x bigint)"},
                        {"Origin": app, "Authorization": "Bearer write-secret-1"})
    assert st == 200 and r.getheader("Access-Control-Allow-Origin") == app, (st, body)
    st, body, r = s.req("POST", "/v1/sql", {"sql": "SELECT 1"}, {"Origin": "https://bi.example"})
    assert st == 200 and r.getheader("Access-Control-Allow-Origin") == "https://bi.example", (st, body)
    st, body, r = s.req("POST", "/v1/sql", {"sql": "CREATE TABLE x2 (x bigint)"}, {"Origin": app})
    assert st == 401 and r.getheader("Access-Control-Allow-Origin") == app, (st, body)  # readable by the app
    st, body, r = s.req("POST", "/v1/sql", {"sql": "SELECT 1"}, {"Origin": "http://app.example:3001"})
    assert st == 403 and not r.getheader("Access-Control-Allow-Origin"), (st, body)
    assert sorted(table_names(db)) == ["ev", "from_app"], table_names(db)
    assert s.stop() == 0
    p = run([FACTDB, "serve", "--port", "0", "--cors-origin", "http://app.example/", db], check=False, timeout=30)
    assert p.returncode == 1 and "--cors-origin" in p.stderr, p.stderr
    cleanup(d)


@both
def content_types_must_match_exactly():
    d, db = new_db("ctype")
    s = Server(db)
    for ct in ("text/plainjunk", "text/plain-x", "application/jsonp", "application/json+x", "text/html",
               "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text"):
        st, body, _ = s.req("POST", "/v1/sql", '{"sql":"CREATE TABLE bad (x bigint)"}', {"Content-Type": ct})
        assert st == 415 and body["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE", (ct, st, body)
    for ct in ("text/plain", "TEXT/Plain; charset=utf-8", "text/plain ;charset=UTF-8"):
        st, body, _ = s.req("POST", "/v1/sql", "SELECT 1 AS one", {"Content-Type": ct})
        assert st == 200 and body["rows"] == [[1]], (ct, body)
    for ct in ("application/json", "Application/JSON; charset=utf-8"):
        st, body, _ = s.req("POST", "/v1/sql", '{"sql":"SELECT 1 AS one"}', {"Content-Type": ct})
        assert st == 200, (ct, body)
    for ct in ("text/csvx", "application/jsonx", "application/x-ndjsonl"):
        st, body, _ = s.req("POST", "/v1/tables/ev/rows", "at\n2024-01-01\n", {"Content-Type": ct})
        assert st == 415, (ct, st, body)
    st, body, _ = s.req("POST", "/v1/tables/ev/rows", "at\n2024-01-01\n", {"Content-Type": "Text/CSV; charset=utf-8"})
    assert st == 200, body
    assert table_names(db) == ["ev"], table_names(db)
    assert s.stop() == 0
    cleanup(d)


@both
def the_token_is_checked_before_the_body_is_parsed():
    d, db = new_db("authfirst")
    s = Server(db, "--token", "write-secret-1", "--read-token", "read-secret-1")
    for body, ct in (("SELEC nonsense", "text/plain"), ('{"sql": ', "application/json"),
                     ("[" * 40 + "]" * 40, "application/json"), ("x", "application/xml")):
        for h in ({}, {"Authorization": "Bearer wrong-token-1"}, {"Authorization": "Basic d3JpdGU="}):
            st, got, r = s.req("POST", "/v1/sql", body, dict(h, **{"Content-Type": ct}))
            assert st == 401 and got["error"]["code"] == "UNAUTHORIZED" and r.getheader("WWW-Authenticate"), (body, h, got)
        st, got, _ = s.req("POST", "/v1/tables/ev/rows", body, {"Content-Type": ct})
        assert st == 401, (body, got)
        st, got, _ = s.req("POST", "/v1/tables/ev/rows", body, {"Content-Type": ct, "Authorization": "Bearer read-secret-1"})
        assert st == 403 and got["error"]["code"] == "PERMISSION", (body, got)
    st, got, _ = s.req("POST", "/v1/sql", "SELEC nonsense", {"Content-Type": "text/plain",
                                                          "Authorization": "Bearer read-secret-1"})
    assert st == 400 and "syntax" in got["error"]["message"], got
    for path in ("/v1/tables", "/v1/events", "/metrics"):
        assert s.req("GET", path)[0] == 401, path
    # a client waiting for "100 Continue" is refused without sending its body
    st, hdrs, _ = raw(s.port, b"POST /v1/tables/ev/rows HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\n"
                      b"Content-Length: 50000000\r\nExpect: 100-continue\r\n\r\n", timeout=5)
    assert st == 401 and hdrs.get("www-authenticate"), (st, hdrs)
    st, _, _ = raw(s.port, b"POST /v1/sql HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n"
                   b"Content-Type: text/plain\r\nContent-Length: 50000000\r\nExpect: 100-continue\r\n\r\n", timeout=5)
    assert st == 403
    assert s.stop() == 0
    # only a write token: reads are open, but a wrong token is still refused at once
    s = Server(db, "--token", "write-secret-1")
    st, got, _ = s.req("POST", "/v1/sql", "SELEC nonsense", {"Content-Type": "text/plain"})
    assert st == 400, got
    st, got, _ = s.req("POST", "/v1/sql", "SELECT 1", {"Content-Type": "text/plain", "Authorization": "Bearer nope-nope-1"})
    assert st == 401, got
    st, got, _ = s.req("POST", "/v1/sql", "CREATE TABLE t9 (x bigint)", {"Content-Type": "text/plain"})
    assert st == 401, got
    assert s.stop() == 0
    cleanup(d)


@test
def copy_with_a_server_file_needs_allow_file_access():
    d, db = new_db("copy")
    src = os.path.join(d, "in.csv")
    with open(src, "w") as f:
        f.write("at,kind,amount,n\n2024-01-01,a,1.5,1\n2024-01-02,b,,2\n")
    out = os.path.join(d, "out.csv")
    s = Server(db)
    for sql in ("COPY ev TO '%s'" % out, "COPY (SELECT 1) TO '%s'" % out, "COPY ev FROM '%s' WITH (HEADER true)" % src,
                "SELECT 1; COPY ev TO '%s'" % out, "BEGIN; INSERT INTO ev (at) VALUES ('2024-01-01'); COPY ev TO '%s'" % out):
        st, body, _ = s.sql(sql)
        assert st == 403 and body["error"]["code"] == "PERMISSION", (sql, body)
        assert "--allow-file-access" in body["error"]["message"], body
    assert not os.path.exists(out)
    assert s.sql("SELECT count(*) FROM ev")[1]["rows"] == [[0]]
    assert s.stop() == 0
    # the SQL shell keeps COPY
    run([FACTDB, "sql", db, "COPY ev FROM '%s' WITH (HEADER true)" % src])
    s = Server(db, "--allow-file-access")
    st, body, _ = s.sql("COPY ev FROM '%s' WITH (HEADER true)" % src)
    assert st == 200 and body["command"] == "COPY 2", body
    st, body, _ = s.sql("COPY (SELECT n FROM ev ORDER BY n) TO '%s' WITH (HEADER true)" % out)
    assert st == 200, body
    assert open(out).read() == "n\n1\n1\n2\n2\n", open(out).read()
    assert s.stop() == 0
    cleanup(d)


def slow_conn(port, first=b"", src="127.0.0.1"):
    sock = socket.socket()
    sock.bind((src, 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    if first:
        sock.sendall(first)
    return sock


def is_closed(sock):
    """True when the server closed the connection (EOF or reset), False if it is still open."""
    sock.settimeout(0.05)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


@both
def slow_clients_cannot_lock_others_out():
    """Slowloris: connections that trickle a header byte at a time are closed after --header-timeout, slow
    bodies after --min-body-rate, and one address gets only its share of the connections."""
    d, db = new_db("slowloris")
    s = Server(db, "--max-connections", "16", "--max-connections-per-address", "4", "--header-timeout", "1",
               "--min-body-rate", "1000")
    head = b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 200
    t0 = time.time()
    slow = [slow_conn(s.port) for _ in range(24)]  # more than --max-connections, all from 127.0.0.1
    # a slow body too: a complete head, then 10 bytes every 0.2 s (50 B/s, under --min-body-rate)
    body_head = (b"POST /v1/tables/ev/rows HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\n"
                 b"Content-Length: 100000\r\n\r\nat\n")
    other = slow_conn(s.port, body_head, src="127.0.0.3")
    served = None
    sent = 0
    while time.time() - t0 < 4:
        for k in slow:
            try:
                k.send(head[sent % len(head):sent % len(head) + 1])
            except OSError:
                pass
        try:
            other.send(b"2024-01-01\n"[:10])
        except OSError:
            pass
        sent += 1
        if served is None:
            # another client (another address) is served at once, in spite of the 24 slow connections
            st, _, body = raw(s.port, b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                              src="127.0.0.2", timeout=3)
            assert st == 200, (st, body)
            served = time.time() - t0
        time.sleep(0.2)
    assert served < 1.5, served
    closed = [is_closed(k) for k in slow]
    assert all(closed), closed  # every slow head was cut off, though each kept sending
    assert is_closed(other)
    for k in slow + [other]:
        k.close()
    # the address of the slow clients is served again
    st, _, _ = raw(s.port, b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", timeout=3)
    assert st == 200
    # fast clients are unaffected: a body at a fair rate, an idle event stream, a kept-alive connection
    c = s.conn()
    r_events = s.conn()
    r_events.request("GET", "/v1/events")
    ev = r_events.getresponse()
    assert ev.readline().startswith(b"data: ")
    ev.readline()
    assert s.req("GET", "/v1/health", conn=c)[0] == 200
    time.sleep(0.5)
    assert s.req("GET", "/v1/health", conn=c)[0] == 200
    fast = slow_conn(s.port, src="127.0.0.4")
    rows = b"at\n" + b"2024-01-01\n" * 2000
    fast.sendall(b"POST /v1/tables/ev/rows HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\nConnection: close\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(rows))
    for i in range(0, len(rows), 4000):  # 22 kB over 1.2 s: slow, but above 1000 B/s
        fast.sendall(rows[i:i + 4000])
        time.sleep(0.2)
    assert fast.recv(100).startswith(b"HTTP/1.1 200"), "a fair body was cut off"
    fast.close()
    time.sleep(1.0)
    BK.insert_other(db, "at\n2024-01-02\n")
    assert ev.readline().startswith(b"data: "), "the event stream was closed"
    r_events.close()
    st, text, _ = s.req("GET", "/metrics")
    n = int(re.search(r"^factdb_http_slow_connections_closed_total (\d+)$", text, re.M).group(1))
    assert n >= 5, n
    assert s.stop() == 0
    assert any("--header-timeout" in line for line in s.log) and any("--min-body-rate" in line for line in s.log)
    cleanup(d)


def unread_query(port, sql):
    """Sends a query on a connection that never reads its answer (a tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    q = sql.encode()
    sock.sendall(b"POST /v1/sql HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                 % len(q) + q)
    return sock


def wait_closed(sock, seconds):
    """Reads and drops what the server sends until it closes the connection; False if still open after SECONDS."""
    sock.settimeout(0.2)
    t0 = time.time()
    while time.time() - t0 < seconds:
        try:
            if not sock.recv(1 << 20):
                return True
        except socket.timeout:
            pass
        except OSError:
            return True
    return False


def held_memory(server):
    """The query memory requests in flight hold (/metrics factdb_http_query_memory_bytes)."""
    text = server.req("GET", "/metrics")[1]
    return int(re.search(r"^factdb_http_query_memory_bytes (\d+)$", text, re.M).group(1))


@both
def results_have_a_memory_budget_and_readers_a_deadline():
    """F1: query memory of all requests together is bounded (--max-result-memory), results held for clients
    that do not read are freed after --header-timeout, and a query over its share is refused, not run. On
    PostgreSQL the rows arrive one by one into a buffer bounded by the same share: a result past it is
    canceled there (libpq alone would hold it whole)."""
    d, db = new_db("resmem")
    s = Server(db, "--max-result-memory", str(128 << 20), "--header-timeout", "5", "--min-body-rate", "100000",
               "--busy-timeout", "300")  # a request waits 0.3 s for query memory, then gets 503
    st, body, _ = s.sql("CREATE TABLE t (s text); INSERT INTO t VALUES ('%s')" % ("x" * 100))
    assert st == 200, body
    for _ in range(17):  # 131,072 rows: a result of ~14 MB of JSON, which takes 14 to 64 MiB to compute
        assert s.sql("INSERT INTO t SELECT s FROM t")[0] == 200
    # one query gets half of what is free: 64 MiB, then 32, 16, ...; this one needs about 80 MB
    st, body, _ = s.sql("SELECT s || s || s || s || s || s AS s FROM t")
    assert st == 413 and body["error"]["code"] == "LIMIT" and "--max-result-memory" in body["error"]["message"], body
    st, body, _ = s.sql("SELECT count(*) FROM t")
    assert st == 200 and body["rows"] == [[131072]], body
    # a script whose last result fits answers, whatever a statement before it returned
    st, body, _ = s.sql("SELECT s FROM t; SELECT count(*) AS n FROM t")
    assert st == 200 and body["rows"] == [[131072]], str(body)[:300]
    # clients that never read hold their results: the budget runs out and others are told to retry
    t0 = time.time()
    while held_memory(s) and time.time() - t0 < 10:  # an answer's memory is given back once it has been sent
        time.sleep(0.05)
    held = [unread_query(s.port, "SELECT s FROM t") for _ in range(3)]
    t0 = time.time()
    while held_memory(s) < (96 << 20) and time.time() - t0 < 20:  # 64 + 32 MiB once two run (a third may
        time.sleep(0.05)                                           # hold 16 or be refused)
    assert held_memory(s) >= 96 << 20, (held_memory(s), s.log[-8:])
    st, body, r = s.sql("SELECT s || s AS s FROM t")  # gets 16 MiB at most, needs 27: waits 0.3 s, is refused
    assert st == 503 and body["error"]["code"] == "BUSY" and r.getheader("Retry-After"), (st, str(body)[:300])
    # ... until the server drops them for not reading (--header-timeout 5)
    t0 = time.time()
    while not any("took nothing of its answer" in line for line in s.log) and time.time() - t0 < 20:
        time.sleep(0.2)
    assert any("took nothing of its answer" in line for line in s.log), s.log[-5:]
    assert all(wait_closed(k, 8) for k in held)
    for k in held:
        k.close()
    st, body, _ = s.sql("SELECT s FROM t")
    assert st == 200 and body["row_count"] == 131072, (st, str(body)[:300])
    assert s.stop() == 0
    assert any("took nothing of its answer" in line for line in s.log), s.log[-5:]
    cleanup(d)


@both
def concurrent_queries_wait_for_query_memory():
    """Readers queue for query memory as writers do for the write lock: with more queries in flight than
    --max-result-memory has shares for, each waits (up to --busy-timeout) for memory that others give back,
    instead of being refused with 503 as soon as a few run at once."""
    d, db = new_db("memwait")
    s = Server(db, "--max-result-memory", str(16 << 20))  # shares of 8, 4, 2, 1, ... MiB: 5 at once at most
    st, body, _ = s.sql("CREATE TABLE w (k integer, v double precision); INSERT INTO w VALUES (1, 1.5)")
    assert st == 200, body
    for _ in range(17):  # 131,072 rows, k from 1 to 131,072
        assert s.sql("INSERT INTO w SELECT k + (SELECT count(*) FROM w), v * 2 FROM w")[0] == 200
    statuses = []

    def reader():
        for _ in range(3):
            st_, body_, _ = s.sql("SELECT k % 1000 AS g, count(*) AS c, sum(v) AS s FROM w GROUP BY 1 ORDER BY 1")
            statuses.append((st_, body_["row_count"] if st_ == 200 else body_))
    threads = [threading.Thread(target=reader) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [(200, 1000)] * 48, (len(statuses), [x for x in statuses if x != (200, 1000)][:3])
    assert s.stop() == 0
    cleanup(d)


@both
def refused_and_oversized_bodies_are_answered_at_once():
    """F2: a refused or oversized request is answered before its body (Connection: close), not drained."""
    d, db = new_db("drain")
    s = Server(db, "--token", "write-secret-1", "--max-body", "1000")
    t0 = time.time()
    k = slow_conn(s.port, b"POST /v1/tables/ev/rows HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\n"
                  b"Content-Length: 1000000000000\r\n\r\n" + b"x" * 8192)
    got = k.recv(4096)
    assert got.startswith(b"HTTP/1.1 401") and b"Connection: close" in got, got
    assert wait_closed(k, 3), "the connection stayed open"
    k.close()
    # oversized, with a valid token: 413 at once, also to a client waiting for 100 Continue
    for expect, body in ((b"", b"x" * 5000), (b"Expect: 100-continue\r\n", b""),
                         (b"", b"x" * 100000)):
        k = slow_conn(s.port, b"POST /v1/tables/ev/rows HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\n"
                      b"Authorization: Bearer write-secret-1\r\nContent-Length: %d\r\n" % max(len(body), 5000) +
                      expect + b"\r\n" + body[:10000])
        got = k.recv(4096)
        while b'"LIMIT"' not in got and len(got) < 2000:
            got += k.recv(4096)
        assert got.startswith(b"HTTP/1.1 413") and b'"LIMIT"' in got, got
        k.close()
    # a chunked body over the limit is dropped up to 64 KiB, then the connection is closed (MHD cannot
    # answer in the middle of a body)
    k = slow_conn(s.port, b"POST /v1/tables/ev/rows HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\n"
                  b"Authorization: Bearer write-secret-1\r\nTransfer-Encoding: chunked\r\n\r\n")
    try:
        for _ in range(40):
            k.sendall(b"1000\r\n" + b"a" * 0x1000 + b"\r\n")
    except OSError:
        pass
    assert wait_closed(k, 3)
    k.close()
    assert time.time() - t0 < 5
    # small refused bodies are still read first, and the connection kept
    st, got, _ = s.req("POST", "/v1/tables/ev/rows", "at\n2024-01-01\n", {"Content-Type": "text/csv"})
    assert st == 401, got
    assert s.stop() == 0
    cleanup(d)


@both
def event_streams_are_capped():
    """F4: --max-event-streams bounds the connections event streams hold; beyond, 503."""
    d, db = new_db("evcap")
    s = Server(db, "--max-event-streams", "2")
    conns = []
    for _ in range(2):
        c = s.conn()
        c.request("GET", "/v1/events")
        r = c.getresponse()
        assert r.status == 200 and r.readline().startswith(b"data: ")
        conns.append((c, r))
    st, body, r = s.req("GET", "/v1/events")
    assert st == 503 and body["error"]["code"] == "BUSY" and r.getheader("Retry-After"), body
    assert "--max-event-streams" in body["error"]["message"], body
    conns[0][0].close()
    time.sleep(0.5)
    c = s.conn()
    c.request("GET", "/v1/events")
    r = c.getresponse()
    assert r.status == 200, r.status
    c.close()
    conns[1][0].close()
    assert s.stop() == 0
    cleanup(d)


@both
def a_reconnecting_slowloris_does_not_lock_out_local_clients():
    """F3: all local clients share 127.0.0.1; when its connections run short, those still waiting for their
    request head are closed, so a client that sends its request at once is served."""
    d, db = new_db("loris")
    s = Server(db, "--max-connections", "64", "--max-connections-per-address", "6", "--header-timeout", "10")
    stop = []
    opened = [0]

    def attacker():
        socks = []
        while not stop:
            while len(socks) < 8:
                try:
                    k = socket.create_connection(("127.0.0.1", s.port), timeout=1)
                    k.sendall(b"GET /v1/health HTTP/1.1\r\nHost: local")
                    k.setblocking(False)
                    socks.append(k)
                    opened[0] += 1
                except OSError:
                    break
            time.sleep(0.02)
            for k in list(socks):
                try:
                    if k.recv(100) == b"":
                        raise OSError
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                socks.remove(k)
                k.close()
        for k in socks:
            k.close()

    th = threading.Thread(target=attacker, daemon=True)
    th.start()
    time.sleep(1.0)
    fails = []
    for _ in range(10):
        try:
            st, _, _ = raw(s.port, b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", timeout=3)
            if st != 200:
                fails.append(st)
        except (OSError, IndexError) as e:
            fails.append(repr(e))
        time.sleep(0.2)
    stop.append(1)
    th.join()
    # (a client may lose a race with a burst of reconnects now and then; before, every request failed)
    assert len(fails) <= 1, (fails, opened[0])
    assert s.stop() == 0
    assert any("connections are scarce" in line for line in s.log)
    cleanup(d)


@both
def ambiguous_heads_are_refused():
    """F6: heads that a proxy in front could read differently are refused with 400."""
    d, db = new_db("smuggle")
    s = Server(db)
    for head in (b"POST /v1/sql HTTP/1.1\r\nHost: localhost\r\nContent-Length: 8\r\nTransfer-Encoding: chunked\r\n",
                 b"POST /v1/sql HTTP/1.1\r\nHost: localhost\r\nContent-Length: 8\r\nContent-Length: 9\r\n",
                 b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n",
                 b"GET /v1/health HTTP/1.1\r\n"):
        st, _, body = raw(s.port, head + b"Content-Type: text/plain\r\nConnection: close\r\n\r\nSELECT 1")
        assert st == 400, (head, st, body)
    st, _, body = raw(s.port, b"GET /v1/health HTTP/1.0\r\n\r\n")
    assert st == 200, (st, body)
    assert s.stop() == 0
    cleanup(d)


@both
def errors_are_valid_json_and_logs_are_escaped():
    """F7-F12: invalid UTF-8 in a path or alias, log injection, CSV NUL and duplicate columns, JSON bodies
    counted before decoding, the database name, deadlines after SIGTERM."""
    d, db = new_db("esc")
    s = Server(db, "--max-rows", "100", "--read-token", "read-secret-1", "--token", "write-secret-1",
               "--header-timeout", "1")
    auth = {"Authorization": "Bearer write-secret-1"}
    st, _, body = raw(s.port, b"GET /x\xff\xfey HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    e = json.loads(body)["error"]
    assert st == 404 and "/x\ufffd\ufffdy" in e["message"], (st, body)
    # F9: control bytes of the URL are escaped in the log
    st, _, _ = raw(s.port, b"GET /a%1b[31m%0aFORGED HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert st == 404
    # F8: a quoted alias that is not UTF-8
    st, _, body = raw(s.port, b"POST /v1/sql HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer read-secret-1\r\n"
                      b"Content-Type: text/plain\r\nConnection: close\r\nContent-Length: 16\r\n\r\nselect 1 as \"x\xff\"")
    e = json.loads(body)["error"]
    assert st == 400 and e["code"] == "INVALID_UTF8" and e["position"] == 13, (st, body)
    # F10: CSV with a NUL byte or a column named twice
    st, got, _ = s.req("POST", "/v1/tables/ev/rows", b"kind\nx\x00y\n", dict(auth, **{"Content-Type": "text/csv"}))
    assert st == 400 and "NUL" in got["error"]["message"] and got["error"]["row"] == 2, got
    st, got, _ = s.req("POST", "/v1/tables/ev/rows", "at,kind,kind\n2024-01-01,a,b\n", dict(auth, **{"Content-Type": "text/csv"}))
    assert st == 400 and "both name column" in got["error"]["message"] and got["error"]["column"] == 3, got
    # F5: rows and parameters are counted before the JSON is decoded: 413 LIMIT
    st, got, _ = s.req("POST", "/v1/tables/ev/rows", "[" + ",".join(["{}"] * 101) + "]",
                       dict(auth, **{"Content-Type": "application/json"}))
    assert st == 413 and got["error"]["code"] == "LIMIT", got
    st, got, _ = s.sql("SELECT $1", [1] * 70000, token="read-secret-1")
    assert st == 413 and got["error"]["code"] == "LIMIT", got
    # F12: the database's name only for clients that may read
    st, got, _ = s.req("GET", "/v1/health")
    assert st == 200 and "database" not in got, got
    st, got, _ = s.req("GET", "/v1/health", headers={"Authorization": "Bearer read-secret-1"})
    assert st == 200 and got["database"] == BK.db_name(db), got
    # F11: after SIGTERM, a slow body still meets its deadline, so shutdown does not wait 60 s
    k = slow_conn(s.port, b"POST /v1/tables/ev/rows HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\n"
                  b"Authorization: Bearer write-secret-1\r\nContent-Length: 10000\r\n\r\nat\n")
    time.sleep(0.2)
    t0 = time.time()
    s.p.send_signal(signal.SIGTERM)
    while s.p.poll() is None and time.time() - t0 < 20:
        try:
            k.send(b"2")
        except OSError:
            pass
        time.sleep(0.2)
    assert s.p.wait(timeout=60) == 0 and time.time() - t0 < 10, time.time() - t0
    k.close()
    s.t.join(timeout=5)
    assert not [line for line in s.log if line.startswith("FORGED")], s.log
    assert any("/a\\x1b[31m\\x0aFORGED" in line for line in s.log), s.log
    assert any("/x\\xff\\xfey" in line for line in s.log), s.log
    cleanup(d)



@both
def decoded_json_counts_against_the_body_budget():
    """F5: a JSON rows body is charged for what decoding it takes (~100 bytes per value), not its size."""
    d, db = new_db("jsonmem")
    s = Server(db, "--max-rows", "3000000")
    row = '{"n":1,"kind":"a","amount":1,"at":"2024-01-01"}'  # 9 values in 48 bytes
    st, got, _ = s.req("POST", "/v1/tables/ev/rows", "[" + ",".join([row] * 100000) + "]",
                       {"Content-Type": "application/json"})
    assert st == 200 and got["inserted"] == 100000, got
    body = "[" + ",".join(['{"n":1}'] * 2000000) + "]"  # 16 MB, 6 million values: ~770 MB decoded
    st, got, r = s.req("POST", "/v1/tables/ev/rows", body, {"Content-Type": "application/json"})
    assert st == 503 and "retry" in got["error"]["message"], (st, got)
    assert s.stop() == 0
    cleanup(d)

@test
def missing_and_read_only_databases():
    """A mistyped path does not start a server on a new empty database (--create does); a database file
    the server's user may not write is served read-only: reads work, writes get 403 PERMISSION."""
    d = scratch("ro")
    missing = os.path.join(d, "typo.db")
    p = subprocess.run([FACTDB, "serve", "--port", "0", missing], capture_output=True, text=True, env=ENV,
                       timeout=30)
    assert p.returncode == 1 and "does not exist" in p.stderr and "--create" in p.stderr, p.stderr
    assert os.listdir(d) == [], os.listdir(d)
    s = Server(missing, "--create")
    assert s.sql("CREATE TABLE t (a integer)")[0] == 200
    assert s.stop() == 0
    cleanup(d)
    d, db = new_db("ro")
    run([FACTDB, "sql", db, "INSERT INTO ev (at, n) VALUES ('2024-01-01', 7)"])
    os.unlink(db + "-lock")
    os.chmod(db, 0o444)
    os.chmod(d, 0o777)  # the lock file can be created: only the data file is read-only
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    s = Server(db, prefix=nobody)
    st, body, _ = s.req("GET", "/v1/health")
    assert st == 200 and "may not write" in body.get("read_only", ""), body
    st, body, _ = s.sql("SELECT sum(n) FROM ev")
    assert st == 200 and body["rows"] == [[7]], body
    st, body, _ = s.insert("ev", [{"at": "2024-01-02"}])
    assert st == 403 and body["error"]["code"] == "PERMISSION" and "read-only" in body["error"]["message"], body
    st, body, _ = s.sql("DROP TABLE ev")
    assert st == 403 and body["error"]["code"] == "PERMISSION", body
    assert s.stop() == 0
    cleanup(d)


@both
def read_only_servers_answer_queries_and_refuse_writes():
    """--read-only (a server on a replica, or for a dashboard): queries and events work, every write is
    refused with 403 PERMISSION and changes nothing, /v1/health says why."""
    d, db = new_db("ro_opt")
    s = Server(db, "--read-only")
    assert s.sql("SELECT count(*) AS n FROM ev")[1]["rows"] == [[0]]
    st, body, _ = s.insert("ev", [{"at": "2024-01-01"}])
    assert st == 403 and body["error"]["code"] == "PERMISSION" and "--read-only" in body["error"]["message"], body
    for q in ["INSERT INTO ev (at) VALUES ('2024-01-01')", "CREATE TABLE x (a integer)", "DELETE FROM ev"]:
        st, body, _ = s.sql(q)
        assert st == 403 and body["error"]["code"] == "PERMISSION", (q, body)
    st, body, _ = s.sql("SELEC 1")  # what factdb's parser cannot read is refused with its error
    assert st == 400, body
    if BK is not EMBEDDED:
        BK.sql(db, "CREATE SEQUENCE seq")
        st, body, _ = s.sql("SELECT nextval('seq')")  # looks like a read; PostgreSQL refuses it read-only
        assert st == 403 and body["error"]["code"] == "PERMISSION", body
    st, body, _ = s.req("GET", "/v1/health")
    assert st == 200 and "--read-only" in body["read_only"], body
    assert table_names(db) == ["ev"] and BK.sql(db, "SELECT count(*) FROM ev") == [["0"]]
    assert s.stop() == 0
    cleanup(d)


@both
def inserts_and_params_take_iso_8601_timestamps():
    """Values as apps send them: Python's datetime.isoformat() (aware and naive), pydantic, JavaScript's
    toISOString(). timestamptz applies the offset (UTC); timestamp ignores it, as PostgreSQL does."""
    d, db = BK.new_empty_db("isots")
    BK.sql(db, "CREATE TABLE ev (id integer, at timestamptz, naive timestamp)")
    s = Server(db)
    st, body, _ = s.req("GET", "/v1/tables")
    assert [c["type"] for c in body["tables"][0]["columns"]] == ["integer", "timestamp with time zone", "timestamp"]
    st, body, _ = s.insert("ev", [{"id": 1, "at": "2026-11-29T18:40:00.123456+00:00", "naive": "2026-11-29T18:40:00.123456"},
                                  {"id": 2, "at": "2026-11-29T18:40:00.123Z", "naive": "2026-11-29T18:40:00.123Z"},
                                  {"id": 3, "at": "2026-11-29T20:40:00+02:00", "naive": "2026-11-29T20:40:00+02:00"}])
    assert st == 200 and body["inserted"] == 3, body
    st, body, _ = s.req("POST", "/v1/tables/ev/rows", '{"id":4,"at":"2026-11-29T18:40:00","naive":"2026-11-29"}\n',
                        {"Content-Type": "application/x-ndjson"})
    assert st == 200 and body["inserted"] == 1, body
    st, body, _ = s.req("POST", "/v1/tables/ev/rows", "id,at\n5,2026-11-29T17:40:00-0100\n", {"Content-Type": "text/csv"})
    assert st == 200 and body["inserted"] == 1, body
    st, body, _ = s.sql("SELECT id, at, naive FROM ev WHERE at = $1 ORDER BY id", ["2026-11-29T18:40:00Z"])
    assert st == 200, body
    assert body["columns"][1] == {"name": "at", "type": "timestamp with time zone"}, body
    assert body["rows"] == [[3, "2026-11-29 18:40:00+00", "2026-11-29 20:40:00"], [4, "2026-11-29 18:40:00+00",
                                                                                   "2026-11-29 00:00:00"],
                            [5, "2026-11-29 18:40:00+00", None]], body
    st, body, _ = s.sql("SELECT count(*) AS n FROM ev WHERE naive >= $1::timestamp AND at >= $2",
                        ["2026-11-29T18:40:00.123", "2026-11-29T18:40:00.123+00:00"])
    assert st == 200 and body["rows"] == [[2]], body
    # a bad timestamp: the row, the column and the forms that are accepted; nothing stored
    st, body, _ = s.insert("ev", [{"id": 6, "at": "2026-11-29T18:40:00Z"}, {"id": 7, "at": "2026-11-29T18:40:00 CET"}])
    assert st == 400 and body["error"]["row"] == 2 and body["error"]["column"] == "at", body
    assert body["error"]["message"] == (
        'row 2, column "at": "2026-11-29T18:40:00 CET" is not a valid timestamp with time zone: expected a timestamp '
        "as YYYY-MM-DD[ HH:MM[:SS[.ffffff]]] with T or a space before the time and an optional offset Z, +HH, "
        "+HH:MM or +HHMM (or -), e.g. 2026-11-29T18:40:00.123Z"), body
    st, body, _ = s.insert("ev", [{"id": 8, "naive": "2026-11-29T18:40:00.5+16:00"}])
    assert st == 400 and "time zone displacement out of range" in body["error"]["message"], body
    st, body, _ = s.insert("ev", [{"id": 9, "at": 1795970400}])
    assert st == 400 and "expected a timestamp string, got a number" in body["error"]["message"], body
    assert s.sql("SELECT count(*) FROM ev")[1]["rows"] == [[5]]
    assert s.stop() == 0
    cleanup(d)

def postgresql_only(fn):
    """Runs test `fn` on PostgreSQL only (as NAME[postgresql]), when that backend is chosen."""
    for bk in BACKENDS:
        if bk.name == "postgresql":
            on_backend(fn, bk)
    return fn


@postgresql_only
def two_servers_and_psql_on_one_postgresql_database():
    """Issue 14: two servers on one PostgreSQL database and a third client writing through the protocol (as
    psql would): after `factdb pg-setup`, every server's event stream sees every write at once (LISTEN/NOTIFY),
    every acknowledged row is present, and kill -9 of a server loses nothing it acknowledged."""
    d, db = new_db("twopg")
    p = run([FACTDB, "pg-setup", db])
    assert "installed on 1 table" in p.stdout, p.stdout
    a, b = Server(db), Server(db)
    streams = []
    for s in (a, b):
        c = s.conn()
        c.request("GET", "/v1/events")
        r = c.getresponse()
        assert r.status == 200
        first = r.readline().decode()
        r.readline()
        streams.append((c, r, json.loads(first[6:])["data_version"]))
    delays = []
    for i in range(5):
        t0 = time.time()
        BK.insert_other(db, "at,n\n2024-01-01,%d\n" % i)
        for k, (c, r, v0) in enumerate(streams):
            line = r.readline().decode()
            assert line.startswith("data: "), line
            v = json.loads(line[6:])["data_version"]
            assert v > v0, (v, v0)
            r.readline()
            streams[k] = (c, r, v)
        delays.append(time.time() - t0)
    # with notifications the version is re-read at once, not on the next 50 ms poll
    assert max(delays) < 0.25, delays
    for c, _, _ in streams:
        c.close()
    # writes through both servers at once; one is killed -9 right after its acknowledgements
    acked = {"a": 0, "b": 0}

    def writer(s, key, n):
        for j in range(n):
            try:
                st, body, _ = s.insert("ev", [{"at": "2024-02-01", "kind": key, "n": j * 10 + m} for m in range(10)])
            except OSError:
                return  # the server was killed
            if st == 200:
                acked[key] += 10

    ts = [threading.Thread(target=writer, args=(a, "a", 100)), threading.Thread(target=writer, args=(b, "b", 100000))]
    for t in ts:
        t.start()
    time.sleep(0.5)
    b.kill()  # kill -9 while its writes are in flight
    for t in ts:
        t.join()
    counts = {k: int(v) for k, v in BK.sql(db, "SELECT kind, count(*) FROM ev WHERE kind IN ('a', 'b') GROUP BY kind")}
    # every acknowledged row is there (b may have committed a batch it could not acknowledge any more)
    assert counts.get("a") == acked["a"] == 1000 and 0 < acked["b"] <= counts.get("b", 0) <= acked["b"] + 10, (counts, acked)
    st, body, _ = a.sql("SELECT count(*) FROM ev")
    assert st == 200 and body["rows"] == [[5 + counts["a"] + counts["b"]]], body
    assert a.stop() == 0
    cleanup(d)


def open_events(s):
    """Opens /v1/events on server s: [connection, response, the data_version of its first event]."""
    c = s.conn()
    c.request("GET", "/v1/events")
    r = c.getresponse()
    assert r.status == 200, r.status
    line = r.readline().decode()
    r.readline()
    return [c, r, json.loads(line[6:])["data_version"]]


def next_event(stream, above, seconds):
    """The first data_version above `above` that the stream (from open_events) sends within `seconds`, or
    None."""
    c, r = stream[0], stream[1]
    until = time.time() + seconds
    while True:
        left = until - time.time()
        if left <= 0:
            return None
        c.sock.settimeout(left)
        try:
            line = r.readline().decode()
        except socket.timeout:
            return None
        if not line:
            return None
        if line.startswith("data: "):
            v = json.loads(line[6:])["data_version"]
            if v > above:
                return v


def wait_for(what, seconds):
    """Calls what() until it returns something true, for at most `seconds`; returns its last answer."""
    until = time.time() + seconds
    while True:
        got = what()
        if got or time.time() > until:
            return got
        time.sleep(0.05)


@postgresql_only
def servers_on_a_real_streaming_standby():
    """Issue 14: a hot standby made with pg_basebackup -R, streaming from a primary. Servers on it (with and
    without --read-only) answer queries, /v1/tables and /v1/health (read_only says why); rows written on the
    primary through another server and through psql show up there, and their event streams see them (the
    standby cannot LISTEN and NOTIFY is not replicated: they poll the replay position, quietly); every write
    is refused with 403 PERMISSION; the standby stopped under them gives 503 IO, and they serve again when
    it is back."""
    primary = PgCluster(max_connections=30)
    standby = None
    d = scratch("standby")
    try:
        primary.psql('CREATE DATABASE rep')
        pt = primary.target("rep")
        primary.psql(EV, "rep")
        p = run([FACTDB, "pg-setup", pt])  # the trigger function reaches the standby too: it must not LISTEN
        assert "installed on 1 table" in p.stdout, p.stdout
        standby = PgCluster(max_connections=30, standby_of=primary)
        assert standby.psql("SELECT pg_is_in_recovery()", "rep").stdout.strip() == "t"
        st_target = standby.target("rep")
        w = Server(pt)
        ro, plain = Server(st_target, "--read-only"), Server(st_target)
        for s, why in ((ro, "--read-only"), (plain, "standby")):
            st, body, _ = s.req("GET", "/v1/health")
            assert st == 200 and why in body.get("read_only", "") and body["data_version"] > 0, body
        streams = [open_events(ro), open_events(plain)]
        # a write through a server on the primary, one through psql
        st, body, _ = w.insert("ev", [{"at": "2024-01-01", "kind": "http", "amount": 1.5, "n": 1}])
        assert st == 200 and body["inserted"] == 1, body
        primary.psql("INSERT INTO ev (at, kind, amount, n) VALUES ('2024-01-02', 'psql', 2.25, 2)", "rep")
        target = int(primary.psql("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint", "rep").stdout)
        for k, stream in enumerate(streams):
            v = stream[2]
            while v is not None and v < target:
                v = next_event(stream, v, 5)
            assert v is not None and v >= target, (k, v, target)
        for s in (ro, plain):
            st, body, _ = s.sql("SELECT kind, amount, n FROM ev ORDER BY n")
            assert st == 200 and body["rows"] == [["http", 1.5, 1], ["psql", 2.25, 2]], body
            st, body, _ = s.req("GET", "/v1/tables")
            assert st == 200 and [(t["name"], t["row_count"]) for t in body["tables"]] == [("ev", 2)], body
            assert [c["type"] for c in body["tables"][0]["columns"]] == ["timestamp", "text", "numeric(10,2)",
                                                                         "integer"], body
        # writes: refused by the flag, or by the standby (PostgreSQL's 25006), never a 500
        st, body, _ = ro.insert("ev", [{"at": "2024-01-03"}])
        assert st == 403 and body["error"]["code"] == "PERMISSION" and "--read-only" in body["error"]["message"], body
        st, body, _ = plain.insert("ev", [{"at": "2024-01-03"}])
        assert st == 403 and body["error"]["code"] == "PERMISSION" and "during recovery" in body["error"]["message"], body
        assert "send writes to a server on the primary" in body["error"]["message"], body
        for s in (ro, plain):
            for q in ["INSERT INTO ev (at) VALUES ('2024-01-03')", "CREATE TABLE x (a integer)", "DELETE FROM ev",
                      "UPDATE ev SET n = 3"]:
                st, body, _ = s.sql(q)
                assert st == 403 and body["error"]["code"] == "PERMISSION", (q, body)
        assert primary.psql("SELECT count(*) FROM ev", "rep").stdout.strip() == "2"
        # the standby stopped under the servers: 503 IO at once, no crash, no hang; then back
        standby.stop("immediate")
        for s in (ro, plain):
            t0 = time.time()
            for path in ("/v1/health", "/v1/tables"):
                st, body, _ = s.req("GET", path)
                assert st == 503 and body["error"]["code"] == "IO", (path, body)
                assert "PostgreSQL" in body["error"]["message"], body
            st, body, _ = s.sql("SELECT count(*) FROM ev")
            assert st == 503 and body["error"]["code"] == "IO", body
            assert time.time() - t0 < 5, time.time() - t0
            assert s.p.poll() is None
        primary.psql("INSERT INTO ev (at, kind, n) VALUES ('2024-01-04', 'gap', 3)", "rep")
        standby.start()
        for s in (ro, plain):
            st, body, _ = s.req("GET", "/v1/health")
            assert st == 200 and body["data_version"] > 0, body
        target = int(primary.psql("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint", "rep").stdout)
        for k, stream in enumerate(streams):  # the streams outlived the outage and see the write made in it
            v = stream[2]
            while v is not None and v < target:
                v = next_event(stream, v, 10)
            assert v is not None and v >= target, (k, v, target)
        for s in (ro, plain):
            assert wait_for(lambda: s.sql("SELECT count(*) FROM ev")[1].get("rows") == [[3]], 5)
        for c, _, _ in streams:
            c.close()
        for s in (w, ro, plain):
            assert s.stop() == 0
        # quiet: no LISTEN attempted on the standby, nothing but request lines
        for s in (ro, plain):
            odd = [l for l in s.log if not re.match(r"(GET|POST) /|factdb serve: SIGTERM received|Closing connection "
                                                    r"\(application error", l)]
            assert not odd, odd
    finally:
        if standby is not None:
            standby.close()
        primary.close()
        cleanup(d)


class PsqlSession:
    """One psql reading statements from a pipe, as a user at its prompt: a write through it costs no process
    start, so the time it takes to reach an event stream can be measured."""

    def __init__(self, pg, database):
        self.p = subprocess.Popen([os.path.join(PG_BIN, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                                   "-d", pg.target(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)

    def run(self, sql):
        """Runs `sql`; returns its output lines once psql has finished it."""
        self.p.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo __done__\n")
        self.p.stdin.flush()
        out = []
        for line in self.p.stdout:
            if line.strip() == "__done__":
                return out
            out.append(line)
        raise AssertionError("psql ended on %r: %s" % (sql, "".join(out)))

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def listener_pids(pg, db):
    p = pg.psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'factdb serve listen' "
                "AND datname = '%s'" % db, db)
    return p.stdout.split()


def listening(s):
    st, body, _ = s.req("GET", "/metrics")
    assert st == 200, body
    return re.search(r"^factdb_pg_listening 1$", body, re.M) is not None


@postgresql_only
def a_broken_listen_connection_comes_back():
    """Issue 14: the connection that LISTENs (application_name "factdb serve listen") is terminated by
    pg_terminate_backend: a write made at once is still seen within 1 s (the server polls meanwhile), the
    connection comes back by itself, and writes are seen at once again (notifications). A restart of the
    whole PostgreSQL cluster under the server: the pool and the listener recover."""
    pg = PgCluster(max_connections=30)
    d = scratch("relisten")
    try:
        pg.psql('CREATE DATABASE relisten')
        db = pg.target("relisten")
        pg.psql(EV, "relisten")
        run([FACTDB, "pg-setup", db])
        s = Server(db)
        assert wait_for(lambda: listener_pids(pg, "relisten"), 5) and listening(s)
        stream = open_events(s)
        n = [0]
        sql = [PsqlSession(pg, "relisten")]

        def write_and_time(seconds):
            """A row written through psql; how long until the stream told of it (at most `seconds`)."""
            n[0] += 1
            t0 = time.time()
            sql[0].run("INSERT INTO ev (at, n) VALUES ('2024-01-01', %d)" % n[0])
            v = next_event(stream, stream[2], seconds)
            assert v is not None, ("no event within %.2f s" % seconds, n[0])
            stream[2] = v
            return time.time() - t0
        for _ in range(3):
            assert write_and_time(0.25) < 0.25
        for round_ in ("terminate", "restart"):
            pids = listener_pids(pg, "relisten")
            assert len(pids) == 1, pids
            if round_ == "terminate":
                pg.psql("SELECT pg_terminate_backend(%s)" % pids[0], "relisten")
                write_and_time(1.0)  # seen, by polling, while the listener is away
            else:
                pg.restart()
                sql[0].close()
                sql[0] = PsqlSession(pg, "relisten")
            back = wait_for(lambda: [p for p in listener_pids(pg, "relisten") if p != pids[0]], 10)
            assert back, "the listener did not come back"
            assert wait_for(lambda: listening(s), 2)
            # notifications again: each write is seen well inside the polling cache's 1 s
            for _ in range(3):
                took = write_and_time(0.25)
                assert took < 0.25, took
            st, body, _ = s.insert("ev", [{"at": "2024-01-02", "n": 100}])
            assert st == 200 and body["inserted"] == 1, body
            st, body, _ = s.sql("SELECT count(*) FROM ev")
            assert st == 200 and body["rows"] == [[n[0] + (1 if round_ == "terminate" else 2)]], body
        stream[0].close()
        sql[0].close()
        log = "".join(s.log)
        assert log.count("listening for PostgreSQL notifications again") == 2, log
        assert "the connection that listens for PostgreSQL notifications broke" in log, log
        assert s.stop() == 0
    finally:
        pg.close()
        cleanup(d)



@postgresql_only
def a_postgresql_server_that_does_not_answer_is_an_error_after_10_s():
    """A host that takes the TCP connection but never answers (a hung server, a black hole behind a proxy)
    fails the connection after 10 s, not the kernel's minutes; connect_timeout in the target wins."""
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(16)  # connections wait in the backlog, unanswered
    try:
        for extra, limit in (("", 10), (" connect_timeout=2", 2)):
            t0 = time.time()
            p = run([FACTDB, "serve", "--port", "0", "host=127.0.0.1 port=%d dbname=x user=y sslmode=disable%s"
                     % (lsn.getsockname()[1], extra)], check=False, timeout=60)
            took = time.time() - t0
            assert p.returncode == 1 and "cannot connect to PostgreSQL" in p.stderr and "timeout" in p.stderr, p.stderr
            assert limit - 0.5 < took < limit + 3, (extra, took)
    finally:
        lsn.close()

@postgresql_only
def an_unreachable_or_wrong_postgresql_url_is_an_error_at_start():
    """The first connection is made before listening: a wrong URL fails at once, saying why, and the
    password of a URL never reaches the output."""
    for target, why in [("postgresql://factdb:hunter2-secret@127.0.0.1:1/x", "cannot connect to PostgreSQL"),
                        ("postgresql://%s" % ("x" * 10), "cannot connect to PostgreSQL"),
                        ("host=/nonexistent port=5 dbname=x", "cannot connect to PostgreSQL")]:
        p = subprocess.run([FACTDB, "serve", "--port", "0", target], capture_output=True, text=True, env=ENV,
                           timeout=60)
        assert p.returncode == 1 and why in p.stderr and "hunter2" not in p.stderr + p.stdout, (target, p.stderr)
    d, db = new_db("badsql")
    p = run([FACTDB, "copy", db, db], check=False)  # neither is a file
    assert p.returncode == 2, p.stderr
    cleanup(d)


@postgresql_only
def each_request_starts_a_fresh_session():
    """A pooled PostgreSQL connection carries no client's session state to the next request (SET, temporary
    tables, an open transaction), as every request on a file gets a session of its own."""
    d, db = new_db("fresh")
    s = Server(db, "--pg-pool", "1")  # one connection: the next request surely reuses it
    st, body, _ = s.sql("SET TimeZone = 'America/New_York'; CREATE TEMP TABLE tt (a int); BEGIN; "
                        "INSERT INTO ev (at) VALUES ('2024-01-01')")
    assert st == 200, body
    st, body, _ = s.sql("SELECT current_setting('TimeZone') AS tz, to_regclass('tt') IS NULL AS gone, "
                        "(SELECT count(*) FROM ev) AS n")
    assert st == 200 and body["rows"] == [["UTC", True, 0]], body
    assert s.stop() == 0
    cleanup(d)


@both
def a_failing_statement_keeps_the_ones_before_it():
    """A script's statements run one by one, each in its own transaction unless the script opens one: a
    failing statement leaves nothing of itself and stops the script, the ones before it stay (as psql runs a
    script), and the error's position counts from the start of the whole text, on both backends."""
    d, db = new_db("script")
    s = Server(db)
    text = "INSERT INTO ev (at, n) VALUES ('2024-01-01', 1); INSERT INTO ev (at, n) VALUES ('2024-01-02', 'two'); " \
           "INSERT INTO ev (at, n) VALUES ('2024-01-03', 3)"
    st, body, _ = s.sql(text)
    assert st == 400 and body["error"]["code"] == "INVALID_VALUE", body
    second = text.index("INSERT", 10)
    assert second < body["error"]["position"] <= text.index("; ", second) + 1, (body, second)
    assert s.sql("SELECT n FROM ev ORDER BY n")[1]["rows"] == [[1]]
    # an explicit transaction is undone whole, and the statement after ROLLBACK runs in its own
    st, body, _ = s.sql("BEGIN; INSERT INTO ev (at, n) VALUES ('2024-01-04', 4); ROLLBACK; "
                        "INSERT INTO ev (at, n) VALUES ('2024-01-05', 5); SELECT n FROM ev ORDER BY n")
    assert st == 200 and body["rows"] == [[1], [5]], body
    # semicolons inside quotes, quoted names and comments do not end a statement
    st, body, _ = s.sql("SELECT 'a;b' AS \"x;y\" -- a comment; with a semicolon\n; /* and; another */ "
                        "SELECT 'it''s; here' AS q;")
    assert st == 200 and body["rows"] == [["it's; here"]] and body["columns"][0]["name"] == "q", body
    # no statement at all: an empty answer
    st, body, _ = s.sql(" ; -- nothing\n ;")
    assert st == 200 and body["rows"] == [], body
    assert s.stop() == 0
    cleanup(d)


@postgresql_only
def scripts_are_split_as_postgresql_reads_them():
    """What only PostgreSQL's SQL has: dollar quotes, E'' strings with backslash escapes, nested comments,
    and a function body of BEGIN ATOMIC ... END (whose semicolons are inside the one statement) split where
    PostgreSQL's own lexer would; a statement left unterminated is PostgreSQL's error at its position."""
    d, db = new_db("split")
    s = Server(db)
    st, body, _ = s.sql("SELECT $$a;b$$ AS d, $t$ $$; $t$ AS t, E'x\\';y' AS e /* c; /* nested; */ ; */; "
                        "SELECT 2 AS two")
    assert st == 200 and body["rows"] == [[2]], body
    st, body, _ = s.sql("SELECT $$a;b$$ AS d, $t$ $$; $t$ AS t, E'x\\';y' AS e /* c; /* nested; */ ; */")
    assert st == 200 and body["rows"] == [["a;b", " $$; ", "x';y"]], body
    st, body, _ = s.sql("CREATE FUNCTION plus1(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT x; "
                        "SELECT CASE WHEN x > 0 THEN x + 1 END; END; SELECT plus1(41) AS v")
    assert st == 200 and body["rows"] == [[42]], body
    st, body, _ = s.sql("CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC "
                        "INSERT INTO ev (at, n) VALUES ('2024-01-01', 7); END; CALL p(); SELECT n FROM ev")
    assert st == 200 and body["rows"] == [[7]], body
    # BEGIN inside parentheses is a name, not a routine body's BEGIN; a -- comment ends at \r too; a
    # string continues in a quoted string after a newline (in its E mode)
    st, body, _ = s.sql("CREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql RETURN 1; VACUUM; SELECT 3 AS v")
    assert st == 200 and body["rows"] == [[3]], body
    st, body, _ = s.sql("SELECT 1 AS v -- c\r; SELECT 2 AS v")
    assert st == 200 and body["rows"] == [[2]], body
    st, body, _ = s.sql("SELECT E'a'\n'\\'; SELECT 1; --' AS v")
    assert st == 200 and body["rows"] == [["a'; SELECT 1; --"]], body
    text = "SELECT 1; SELECT 'unterminated"
    st, body, _ = s.sql(text)
    assert st == 400 and body["error"]["position"] == text.index("'") + 1, body
    assert s.stop() == 0
    cleanup(d)


@postgresql_only
def generated_scripts_split_as_postgresql_splits_them():
    """pg_split against PostgreSQL's own lexer: 300 generated scripts of 1 to 4 INSERTs whose literals and
    comments hold semicolons, quotes, dollar signs, BEGIN/CASE/END and newlines. Each statement stores its
    number, its transaction id and its value: run through factdb serve, every statement must have run alone
    in a transaction of its own (so none was merged with the next) and stored what PostgreSQL stores for
    the same script sent whole (so none was cut inside a literal)."""
    import random
    rnd = random.Random(14)
    d, db = new_db("gensplit")
    BK.sql(db, "CREATE TABLE gs (n integer, k integer, x bigint, v text)")
    s = Server(db)
    bits = [";", "'", "''", "$", "$$", "--", "/*", "*/", "\\n", "\\r", "\"", "(", ")", "begin", "end", "case",
            "a", " ", "\\\\", "E'"]

    def text():
        return "".join(rnd.choice(bits) for _ in range(rnd.randint(0, 6)))

    def plain():
        return "'" + text().replace("\\n", "\n").replace("\\r", "\r").replace("\\\\", "\\").replace("'", "''") + "'"

    def literal():
        kind = rnd.randrange(6)
        if kind == 0:
            return plain()
        if kind == 1:  # E'' with backslash escapes
            body = text().replace("\\n", "\n").replace("\\\\", "\\\\\\\\").replace("'", "\\'")
            return "E'" + body + "'"
        if kind == 2:  # dollar quotes, with and without a tag
            tag = rnd.choice(["", "t", "x_1"])
            body = text().replace("$" + tag + "$", "")
            if body.endswith("$"):
                body += " "
            return "$%s$%s$%s$" % (tag, body, tag)
        if kind == 3:  # a literal continued on the next line
            return plain() + rnd.choice(["\n", " \n ", "\r\n"]) + plain()
        if kind == 4:
            return "(SELECT %s)" % plain()
        return "U&" + plain().replace("\\", "")

    def gap():
        return rnd.choice([" ", "\n", " -- " + text().replace("\\n", "").replace("\\r", "") + rnd.choice("\n\r"),
                           " /* " + text().replace("*/", "").replace("/*", "") + " /* n */ */ ", "\r\n"])

    for n in range(300):
        stmts = []
        for k in range(rnd.randint(1, 4)):
            value = (" ||" + gap()).join("%s%s" % (literal(), gap()) for _ in range(rnd.randint(1, 3)))
            stmts.append("INSERT INTO gs VALUES (%d, %d, txid_current(), %s)" % (n, k, value))
        script = (";" + gap()).join(stmts) + rnd.choice(["", ";", "; -- end", ";\n/* x */"])
        st, body, _ = s.sql(script)
        assert st == 200, (n, script, body)
        BK.sql(db, script.replace("VALUES (%d," % n, "VALUES (%d," % (n + 100000)))  # whole, one message
        got = BK.sql(db, "SELECT count(*), count(DISTINCT x) FROM gs WHERE n = %d" % n)
        assert got == [[str(len(stmts)), str(len(stmts))]], (n, script, got)
        got = BK.sql(db, "SELECT a.k, a.v IS NOT DISTINCT FROM b.v FROM gs a JOIN gs b ON b.k = a.k AND "
                         "b.n = a.n + 100000 WHERE a.n = %d ORDER BY 1" % n)
        assert got == [[str(k), "t"] for k in range(len(stmts))], (n, script, got)
    assert s.stop() == 0
    cleanup(d)


@postgresql_only
def a_refused_request_fails_alone_in_its_batch():
    """Concurrent inserts are group-committed on PostgreSQL: first all in one transaction, requests to one
    table sharing one COPY; when PostgreSQL refuses a row (here a duplicate key, which factdb's checks cannot
    see), the batch is sent again request by request under savepoints, so that only the refused request
    fails and every other one is stored and acknowledged."""
    d, db = new_db("batch")
    BK.sql(db, "CREATE TABLE u (id integer PRIMARY KEY, k text DEFAULT 'none', n integer)")
    BK.sql(db, "INSERT INTO u VALUES (7, 'old', 0)")
    s = Server(db)
    results = {}

    def post(i):
        # 40 requests at once: request 7 repeats an existing key, every fifth leaves out k (its DEFAULT)
        rows = [{"id": (i + 1) * 1000 + j, "n": j} if i % 5 == 0 else {"id": (i + 1) * 1000 + j, "k": "r%d" % i, "n": j}
                for j in range(1, 26)]
        if i == 7:
            rows.append({"id": 7, "k": "dup", "n": 0})
        results[i] = s.insert("u", rows)[:2]
    for _ in range(3):
        results.clear()
        BK.sql(db, "DELETE FROM u WHERE id <> 7")
        threads = [threading.Thread(target=post, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        bad = results.pop(7)
        assert bad[0] == 400 and bad[1]["error"]["code"] == "UNIQUE_VIOLATION" and bad[1]["error"]["row"] == 26 \
            and "u_pkey" in bad[1]["error"]["message"], bad
        assert all(st == 200 and body["inserted"] == 25 for st, body in results.values()), results
        st, body, _ = s.sql("SELECT count(*), count(*) FILTER (WHERE k = 'none'), min(id) FROM u WHERE id <> 7")
        assert body["rows"] == [[39 * 25, 8 * 25, 1001]], body
        assert s.sql("SELECT k FROM u WHERE id = 7")[1]["rows"] == [["old"]]
        assert s.sql("SELECT count(*) FROM u WHERE id BETWEEN 8000 AND 8999")[1]["rows"] == [[0]]
    # the requests were batched: fewer commits than stored requests
    commits = int(re.search(r"^factdb_commits_total (\d+)$", s.req("GET", "/metrics")[1], re.M).group(1))
    assert commits < 3 * 39, commits
    assert s.stop() == 0
    cleanup(d)


@postgresql_only
def inserts_see_new_columns():
    """The columns inserts are checked against are kept for a second on PostgreSQL (asking the catalog for
    every request held the group commit back): a column added through this server is there for the next
    insert at once, and one added by another client within a second."""
    d, db = new_db("tcache")
    s = Server(db)
    assert s.insert("ev", [{"at": "2024-01-01 00:00:00", "n": 1}])[0] == 200
    assert s.sql("ALTER TABLE ev ADD COLUMN note text")[0] == 200
    st, body, _ = s.insert("ev", [{"at": "2024-01-01 00:00:00", "n": 2, "note": "through the server"}])
    assert st == 200, body
    BK.sql(db, "ALTER TABLE ev ADD COLUMN tag text")  # another client
    t0 = time.time()
    while True:
        st, body, _ = s.insert("ev", [{"at": "2024-01-01 00:00:00", "n": 3, "tag": "by psql"}])
        if st == 200 or time.time() - t0 > 3:
            break
        assert st == 400 and "tag" in body["error"]["message"], body
        time.sleep(0.1)
    assert st == 200 and time.time() - t0 < 1.5, (st, body, time.time() - t0)
    # a default another client set is applied at once: a column a row leaves out is not sent
    BK.sql(db, "ALTER TABLE ev ALTER COLUMN amount SET DEFAULT 7")
    assert s.insert("ev", [{"at": "2024-01-02 00:00:00", "n": 10}])[0] == 200
    assert s.sql("SELECT amount FROM ev WHERE n = 10")[1]["rows"] == [[7]]
    BK.sql(db, "DELETE FROM ev WHERE n = 10")
    # a kept column that another client dropped: the batch that still names it is refused by PostgreSQL
    # with its own error (nothing of it stored), which makes the server read the catalog again
    BK.sql(db, "ALTER TABLE ev DROP COLUMN kind")
    st, body, _ = s.insert("ev", [{"at": "2024-01-01 00:00:00", "n": 4}])
    assert st == 200 or (st == 400 and body["error"]["message"].startswith('column "kind" of relation')), body
    st, body, _ = s.insert("ev", [{"at": "2024-01-01 00:00:00", "n": 5}])
    assert st == 200, body
    st, body, _ = s.insert("ev", [{"at": "2024-01-01 00:00:00", "n": 6, "kind": "x"}])
    assert st == 400 and "kind" in body["error"]["message"], body
    rows = s.sql("SELECT n, note, tag FROM ev WHERE n <> 4 ORDER BY n")[1]["rows"]
    assert rows == [[1, None, None], [2, "through the server", None], [3, None, "by psql"], [5, None, None]], rows
    assert s.stop() == 0
    cleanup(d)


@postgresql_only
def columns_left_out_take_their_postgresql_default():
    """A PostgreSQL column with a default (identity, serial, DEFAULT now()) that a posted row leaves out gets
    its default, also when it is NOT NULL; one given explicitly as null is NULL (and refused if NOT NULL)."""
    d, db = new_db("defaults")
    BK.sql(db, "CREATE TABLE d (id bigint GENERATED BY DEFAULT AS IDENTITY, at timestamptz NOT NULL DEFAULT "
               "'2024-01-01 00:00:00+00', k text DEFAULT 'none', n integer)")
    s = Server(db)
    st, body, _ = s.insert("d", [{"n": 1}, {"n": 2}, {"n": 3, "k": None}, {"n": 4, "k": "x", "id": 100}, {}])
    assert st == 200 and body["inserted"] == 5, body
    st, body, _ = s.req("POST", "/v1/tables/d/rows", "n\n5\n", {"Content-Type": "text/csv"})
    assert st == 200 and body["inserted"] == 1, body
    st, body, _ = s.sql("SELECT id, at, k, n FROM d ORDER BY id")
    assert body["rows"] == [[1, "2024-01-01 00:00:00+00", "none", 1], [2, "2024-01-01 00:00:00+00", "none", 2],
                            [3, "2024-01-01 00:00:00+00", None, 3], [4, "2024-01-01 00:00:00+00", "none", None],
                            [5, "2024-01-01 00:00:00+00", "none", 5],
                            [100, "2024-01-01 00:00:00+00", "x", 4]], body
    st, body, _ = s.insert("d", [{"n": 6}, {"n": 7, "at": None}])
    assert st == 400 and body["error"]["code"] == "NOT_NULL" and body["error"]["row"] == 2, body
    assert s.stop() == 0
    cleanup(d)


@postgresql_only
def factdb_copy_moves_a_file_to_postgresql():
    """Issue 14: `factdb copy DB URL` moves every table with its types; the same queries through a server on
    the file and one on PostgreSQL give the same answers (columns, types, rows); a table that exists there
    is refused and nothing of it is sent; `factdb copy URL DB2` brings it back, answering as the first file."""
    fd, db = EMBEDDED.new_db("copysrc")
    run([FACTDB, "sql", db, "CREATE TABLE t (i integer NOT NULL, b bigint, d double precision, m numeric(12,2), "
         "s text, dt date, ts timestamp, tz timestamptz, ok boolean)"])
    run([FACTDB, "sql", db, "INSERT INTO t VALUES (1, 9000000000, 0.1, 12.5, 'tab\there, new\nline, back\\slash "
         "and é', '2024-02-29', '2024-01-01 10:00:00.5', '2024-01-01 10:00:00+00', true), "
         "(2, NULL, -12345.678, -0.01, '', '1970-01-01', NULL, NULL, false), (3, -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"])
    run([FACTDB, "sql", db, "INSERT INTO ev (at, kind, amount, n) VALUES ('2024-01-01', 'a', 1.5, 1), ('2024-01-02', 'b', 2.25, 2)"])
    pd, target = BK.new_empty_db("copydst")
    p = run([FACTDB, "copy", db, target])
    assert "t: 3 rows" in p.stdout and "ev: 2 rows" in p.stdout, p.stdout
    a, b = Server(db), Server(target)
    for q in ["SELECT * FROM t ORDER BY i", "SELECT kind, sum(amount) AS s, count(*) AS c FROM ev GROUP BY kind ORDER BY kind",
              "SELECT i, m * 2 AS m2, s || '!' AS s2, tz, dt FROM t WHERE i < 3 ORDER BY i"]:
        ra, rb = a.sql(q), b.sql(q)
        assert ra[0] == rb[0] == 200, (q, ra[1], rb[1])
        assert ra[1]["columns"] == rb[1]["columns"] and ra[1]["rows"] == rb[1]["rows"], (q, ra[1], rb[1])
    assert [x["columns"] for x in a.req("GET", "/v1/tables")[1]["tables"]] == \
        [x["columns"] for x in b.req("GET", "/v1/tables")[1]["tables"]]
    # again: the tables exist there now
    p = run([FACTDB, "copy", db, target], check=False)
    assert p.returncode == 1 and "already exists in the PostgreSQL database" in p.stderr, p.stderr
    assert b.sql("SELECT count(*) FROM t")[1]["rows"] == [[3]]
    # and back: file -> PostgreSQL -> file answers as the first file did
    back = os.path.join(fd, "back.db")
    p = run([FACTDB, "copy", target, back])
    assert "t: 3 rows" in p.stdout and "ev: 2 rows" in p.stdout, p.stdout
    c = Server(back)
    for q in ["SELECT * FROM t ORDER BY i", "SELECT kind, sum(amount) AS s, count(*) AS c FROM ev GROUP BY kind ORDER BY kind"]:
        ra, rc_ = a.sql(q), c.sql(q)
        assert ra[1]["columns"] == rc_[1]["columns"] and ra[1]["rows"] == rc_[1]["rows"], (q, ra[1], rc_[1])
    assert a.req("GET", "/v1/tables")[1]["tables"] == c.req("GET", "/v1/tables")[1]["tables"]
    p = run([FACTDB, "copy", target, back], check=False)
    assert p.returncode == 1 and "already exists in the database file" in p.stderr, p.stderr
    assert a.stop() == 0 and b.stop() == 0 and c.stop() == 0
    cleanup(fd)
    cleanup(pd)


@postgresql_only
def factdb_copy_carries_primary_keys_and_unique_constraints():
    """`factdb copy` carries PRIMARY KEY and UNIQUE constraints (single and multi-column) both ways, under
    their names: after the copy a duplicate key is refused on the target, file -> PostgreSQL and PostgreSQL ->
    file. A PostgreSQL key factdb cannot express (exclusion constraint, partial or expression unique index,
    NULLS NOT DISTINCT, a key over a type factdb lacks, an invalid index) is reported on stderr, with its
    name and why, and
    skipped; a constraint name taken in the PostgreSQL schema (constraint names are index names there, one
    namespace with tables) gets a number appended, said on stderr."""
    fd, db = EMBEDDED.new_db("keysrc")
    run([FACTDB, "sql", db, "CREATE TABLE k (id bigint PRIMARY KEY, code text UNIQUE, a integer, b date, "
         "CONSTRAINT k_ab UNIQUE (a, b))"])
    run([FACTDB, "sql", db, "CREATE TABLE k2 (x integer, CONSTRAINT k_ab PRIMARY KEY (x))"])  # a name k has too
    run([FACTDB, "sql", db, "CREATE TABLE k_code_key (x integer)"])  # the name of k's UNIQUE (code)
    run([FACTDB, "sql", db, "INSERT INTO k VALUES (1, 'a', 1, '2024-01-01'), (2, 'b', 1, '2024-01-02'), "
         "(3, NULL, NULL, NULL), (4, NULL, NULL, NULL)"])
    run([FACTDB, "sql", db, "INSERT INTO k2 VALUES (1), (2)"])
    pd, target = BK.new_empty_db("keydst")
    p = run([FACTDB, "copy", db, target])
    assert "k: 4 rows" in p.stdout and "k2: 2 rows" in p.stdout, p.stdout
    assert 'table "k2": constraint "k_ab" is "k_ab1" in PostgreSQL' in p.stderr, p.stderr
    assert 'table "k": constraint "k_code_key" is "k_code_key1" in PostgreSQL' in p.stderr, p.stderr
    cons = BK.sql(target, "SELECT conrelid::regclass::text, conname, contype, "
                          "pg_get_constraintdef(oid) FROM pg_constraint WHERE contype IN ('p', 'u') "
                          "AND connamespace = 'public'::regnamespace ORDER BY 1, 2")
    assert cons == [["k", "k_ab", "u", "UNIQUE (a, b)"], ["k", "k_code_key1", "u", "UNIQUE (code)"],
                    ["k", "k_pkey", "p", "PRIMARY KEY (id)"], ["k2", "k_ab1", "p", "PRIMARY KEY (x)"]], cons
    s = Server(target)
    for row, key in [({"id": 1, "code": "z"}, "k_pkey"), ({"id": 9, "code": "a"}, "k_code_key1"),
                     ({"id": 9, "a": 1, "b": "2024-01-02"}, "k_ab")]:
        st, body, _ = s.insert("k", [row])
        assert st == 409 or st == 400, (row, st, body)
        assert body["error"]["code"] == "UNIQUE_VIOLATION" and key in body["error"]["message"], (row, body)
    st, body, _ = s.insert("k", [{"id": 9, "a": 1}])  # a NULL in a key never conflicts
    assert st == 200, body
    assert s.stop() == 0
    # PostgreSQL -> file: every key factdb can hold comes along; the others are named on stderr and skipped
    BK.sql(target, "CREATE TABLE pk (id integer, part text, n numeric(10,2), u uuid, r int4range, "
                   "q numeric, PRIMARY KEY (id, part), UNIQUE (n), EXCLUDE USING gist (r WITH &&))")
    BK.sql(target, "CREATE UNIQUE INDEX pk_lower ON pk (lower(part)); CREATE UNIQUE INDEX pk_partial ON pk (n) "
                   "WHERE id > 0; CREATE UNIQUE INDEX pk_uuid ON pk (u); CREATE UNIQUE INDEX pk_q ON pk (q); "
                   "CREATE UNIQUE INDEX pk_nnd ON pk (part) NULLS NOT DISTINCT; CREATE UNIQUE INDEX pk_plain ON pk (n, id)")
    BK.sql(target, "INSERT INTO pk (id, part, n) VALUES (1, 'x', 1.5), (1, 'y', 2.5)")
    # a CREATE UNIQUE INDEX CONCURRENTLY that failed on duplicates leaves an invalid index behind
    BK.sql(target, "CREATE TABLE dup (a integer); INSERT INTO dup VALUES (1), (1)")
    c = Postgres.cluster.connect(BK.dbs[target])
    try:
        assert c.query("CREATE UNIQUE INDEX CONCURRENTLY dup_a ON dup (a)")[0] == "error"
    finally:
        c.close()
    back = os.path.join(fd, "back.db")
    p = run([FACTDB, "copy", target, back])
    assert "pk: 2 rows" in p.stdout and "k: 5 rows" in p.stdout, p.stdout
    for name, why in [("pk_r_excl", "exclusion constraint"), ("pk_lower", "expression"),
                      ("pk_partial", "partial"), ("pk_uuid", "type factdb does not have"),
                      ("pk_q", "type factdb does not have"), ("pk_nnd", "NULLS NOT DISTINCT")]:
        assert re.search(r'table "pk": key "%s" skipped: [^\n]*%s' % (name, why), p.stderr), (name, p.stderr)
    assert 'table "dup": key "dup_a" skipped: an invalid index' in p.stderr and "dup: 2 rows" in p.stdout, p.stderr
    for name in ["pk_pkey", "pk_n_key", "pk_plain", "k_pkey", "k_code_key1", "k_ab", "k_ab1"]:
        assert '"%s"' % name not in p.stderr, (name, p.stderr)
    for sql, key in [("INSERT INTO pk (id, part) VALUES (1, 'x')", "pk_pkey"),
                     ("INSERT INTO pk (id, part, n) VALUES (2, 'z', 2.5)", "pk_n_key"),
                     ("INSERT INTO k (id) VALUES (2)", "k_pkey"), ("INSERT INTO k (id, code) VALUES (20, 'b')", "k_code_key1"),
                     ("INSERT INTO k (id, a, b) VALUES (21, 1, '2024-01-01')", "k_ab"),
                     ("INSERT INTO k2 VALUES (2)", "k_ab1")]:
        p = run([FACTDB, "sql", back, sql], check=False)
        assert p.returncode == 1 and 'violates unique constraint "%s"' % key in p.stderr, (sql, p.stderr)
    # the keys are the file's own: NOT NULL for the primary key's columns, the same columns, and ON CONFLICT works
    p = run([FACTDB, "sql", back, "INSERT INTO pk (id, part, n) VALUES (1, 'x', 9) ON CONFLICT (id, part) DO NOTHING"])
    assert EMBEDDED.sql(back, "SELECT count(*) FROM pk") == [["2"]]
    cleanup(fd)
    cleanup(pd)

@postgresql_only
def postgresql_tables_counts_small_tables_and_estimates_large_ones():
    """/v1/tables on PostgreSQL counts a table exactly while PostgreSQL's statistics say it is small (under 2M
    rows), and answers the statistics' estimate for a large one, flagged "row_count_estimated" (no count(*) scan
    on every dashboard load); an exact count has no flag, as on a file."""
    d, db = new_db("estimates")
    BK.sql(db, "CREATE TABLE est (a integer); INSERT INTO est SELECT generate_series(1, 3)")
    s = Server(db)
    st, body, _ = s.req("GET", "/v1/tables")
    by = {t["name"]: t for t in body["tables"]}
    assert st == 200 and by["est"]["row_count"] == 3 and "row_count_estimated" not in by["est"], body
    assert by["ev"]["row_count"] == 0 and "row_count_estimated" not in by["ev"], body
    # what VACUUM or ANALYZE would have written for a big table (the cluster's superuser may set it)
    BK.sql(db, "UPDATE pg_class SET reltuples = 5000000 WHERE oid = 'est'::regclass")
    st, body, _ = s.req("GET", "/v1/tables")
    by = {t["name"]: t for t in body["tables"]}
    assert st == 200 and by["est"]["row_count"] == 5000000 and by["est"]["row_count_estimated"] is True, body
    assert "row_count_estimated" not in by["ev"], body
    BK.sql(db, "UPDATE pg_class SET reltuples = 1999999 WHERE oid = 'est'::regclass")
    by = {t["name"]: t for t in s.req("GET", "/v1/tables")[1]["tables"]}
    assert by["est"]["row_count"] == 3 and "row_count_estimated" not in by["est"], by
    # a partitioned table: the sum of its partitions' estimates
    BK.sql(db, "CREATE TABLE part (k integer, v text) PARTITION BY RANGE (k); "
               "CREATE TABLE part_a PARTITION OF part FOR VALUES FROM (0) TO (10); "
               "CREATE TABLE part_b PARTITION OF part FOR VALUES FROM (10) TO (20); "
               "INSERT INTO part VALUES (1, 'x'), (15, 'y'); "
               "UPDATE pg_class SET reltuples = 1500000 WHERE relname IN ('part_a', 'part_b')")
    by = {t["name"]: t for t in s.req("GET", "/v1/tables")[1]["tables"]}
    assert by["part"]["row_count"] == 3000000 and by["part"]["row_count_estimated"] is True, by["part"]
    assert by["part_a"]["row_count"] == 1 and "row_count_estimated" not in by["part_a"], by["part_a"]
    assert s.stop() == 0
    cleanup(d)

@postgresql_only
def factdb_copy_streams_tables_bigger_than_its_memory():
    """`factdb copy` keeps a table's rows out of memory both ways: file -> PostgreSQL streams them from one
    snapshot a chunk at a time, PostgreSQL -> file streams COPY TO STDOUT into bounded chunks. Both copy
    500,000 rows (over 100 MB as one query result, which the former one-query copy held whole and failed
    here with "out of memory") with the process's heap limited to 32 MiB (RLIMIT_DATA; the file's memory map
    is shared and not counted). Not under ASan, whose shadow memory the limit would count."""
    import resource
    with open(FACTDB, "rb") as f:
        asan = b"__asan_init" in f.read()

    def limited():
        if not asan:
            resource.setrlimit(resource.RLIMIT_DATA, (32 << 20, 32 << 20))

    fd, db = EMBEDDED.new_db("bigsrc")
    run([FACTDB, "sql", db, "CREATE TABLE big (id bigint PRIMARY KEY, kind text, amount numeric(12,2), at timestamp)"])
    rows = "".join("%d,kind %d,%d.%02d,2024-01-01 %02d:%02d:00\n" % (i, i % 100, i, i % 100, i % 24, i % 60)
                   for i in range(500000))
    run([FACTDB, "load", db, "big", "-"], input="id,kind,amount,at\n" + rows)
    pd, target = BK.new_empty_db("bigdst")
    p = subprocess.run([FACTDB, "copy", db, target], capture_output=True, text=True, env=ENV, timeout=600,
                       preexec_fn=limited)
    assert p.returncode == 0 and "big: 500000 rows" in p.stdout and "ev: 0 rows" in p.stdout, (p.stdout, p.stderr)
    q = "SELECT count(*), count(DISTINCT kind), sum(amount), max(at) FROM big"
    want = [["500000", "100", "124999997500.00", "2024-01-01 23:59:00"]]
    assert EMBEDDED.sql(db, q) == want, EMBEDDED.sql(db, q)
    assert [[str(v) for v in r] for r in BK.sql(target, q)] == want, BK.sql(target, q)
    back = os.path.join(fd, "back.db")
    p = subprocess.run([FACTDB, "copy", target, back], capture_output=True, text=True, env=ENV, timeout=600,
                       preexec_fn=limited)
    assert p.returncode == 0 and "big: 500000 rows" in p.stdout, (p.stdout, p.stderr)
    assert EMBEDDED.sql(back, q) == want, EMBEDDED.sql(back, q)
    cleanup(fd)
    cleanup(pd)

if __name__ == "__main__":
    for p in Server.running:
        if p.poll() is None:
            p.kill()
            p.wait()
    if Postgres.cluster is not None:
        Postgres.cluster.close()
    if any(b.name == "postgresql" for b in BACKENDS):
        for name, why in PG_ONLY_EMBEDDED.items():
            print("skip %s[postgresql]: %s" % (name, why))
    finish()

"""The two engines of the oracle tests (tests/pgdiff, tests/slt): a throwaway PostgreSQL 15 cluster and a
`factdb serve` on a throwaway database, each answering one statement at a time as
("rows", columns, types, rows) or ("error", code, message).

PostgreSQL is reached over its Unix socket with the frontend/backend protocol v3 (simple query, text
format), written here from the protocol's documentation so that no driver is needed and every value
arrives as the text PostgreSQL itself prints. The cluster lives in a temporary directory: initdb with
trust authentication, no TCP listener (the socket sits in the directory, so the port number only names
it), fsync off; as root it runs as `nobody` (PostgreSQL refuses root). Both engines are stopped and their
directories removed on exit, on an exception and on SIGINT/SIGTERM (turned into exceptions)."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

PG_BIN = os.environ.get("FACTDB_PG_BIN", "/usr/lib/postgresql/15/bin")

# PostgreSQL type OIDs -> the type name factdb reports (one name per family factdb has).
PG_TYPES = {16: "boolean", 20: "bigint", 21: "integer", 23: "integer", 700: "double precision",
            701: "double precision", 1700: "numeric", 25: "text", 1043: "text", 1042: "text", 705: "text",
            19: "text", 1082: "date", 1114: "timestamp", 1184: "timestamptz", 1186: "interval"}


def _signals_raise():
    """SIGTERM (and SIGINT, which Python already maps) unwind the stack, so `finally` blocks stop the
    servers and remove their directories. Only in the main process: workers of a pool are ended by
    SIGTERM when their pool closes, and their servers die with them (PR_SET_PDEATHSIG)."""
    import multiprocessing
    if multiprocessing.current_process().name != "MainProcess":
        return

    def handler(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


class PgError(Exception):
    pass


class PgCluster:
    """initdb + pg_ctl start in a temporary directory; `close()` stops it (immediate) and removes it.
    `standby_of=primary`: a hot standby of that cluster instead (pg_basebackup -R, streaming), in its own
    directory, port and socket. Every cluster can serve as a primary (wal_level=replica, WAL senders, and
    initdb's trust entries for local replication connections)."""

    def __init__(self, max_connections=20, durable=False, standby_of=None):
        _signals_raise()
        for tool in ("initdb", "pg_ctl", "postgres", "pg_basebackup"):
            if not os.access(os.path.join(PG_BIN, tool), os.X_OK):
                raise PgError("%s/%s not found: install PostgreSQL 15 (Debian: apt-get install postgresql-15, "
                              "or run scripts/deps.sh test) or set FACTDB_PG_BIN to its bin directory"
                              % (PG_BIN, tool))
        parent = tempfile.gettempdir()
        if os.geteuid() == 0 and not os.stat(parent).st_mode & 0o001:
            parent = "/tmp"  # nobody must be able to reach the cluster's directory
        self.dir = tempfile.mkdtemp(prefix="factdb-pg-", dir=parent)
        self.data = os.path.join(self.dir, "data")
        self.started = False
        self.prefix = []
        try:
            if os.geteuid() == 0:
                # PostgreSQL refuses to run as root: run its tools as nobody, who owns the directory.
                import pwd
                import grp
                pw = pwd.getpwnam("nobody")
                gid = grp.getgrnam("nogroup").gr_gid if _has_group("nogroup") else pw.pw_gid
                os.chown(self.dir, pw.pw_uid, gid)
                self.prefix = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % gid, "--clear-groups"]
            self.port = _free_port()
            if standby_of is None:
                self._run(["initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--encoding=UTF8",
                           "--lc-collate=C", "--lc-ctype=C.UTF-8", "--no-sync", "--no-instructions"])
            else:
                # -R writes primary_conninfo and standby.signal: the copy starts as a streaming standby
                self._run(["pg_basebackup", "-h", standby_of.dir, "-p", str(standby_of.port), "-U", "postgres",
                           "-D", self.data, "-R", "-X", "stream", "-c", "fast", "--no-sync"])
            # durable: PostgreSQL's defaults (fsync, synchronous_commit), for benchmarks of durable writes
            speed = "" if durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            self.opts = ("-p %d -k %s -c listen_addresses='' %s-c TimeZone=UTC -c DateStyle=ISO,MDY "
                         "-c extra_float_digits=1 -c max_connections=%d -c shared_buffers=32MB "
                         "-c wal_level=replica -c max_wal_senders=4"
                         % (self.port, self.dir, speed, max_connections))
            self.start()
        except BaseException:
            self.close()
            raise

    def start(self):
        """Starts the cluster (again, after stop()); returns when it accepts connections."""
        self._run(["pg_ctl", "-D", self.data, "-o", self.opts, "-l", os.path.join(self.dir, "log"), "-w",
                   "-t", "60", "start"])
        self.started = True

    def stop(self, mode="immediate"):
        """pg_ctl stop -m MODE (immediate: as a crash, every connection cut)."""
        self._run(["pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"])
        self.started = False

    def restart(self, mode="fast"):
        self._run(["pg_ctl", "-D", self.data, "-o", self.opts, "-l", os.path.join(self.dir, "log"), "-m", mode,
                   "-w", "-t", "60", "restart"])
        self.started = True

    def target(self, database="postgres"):
        """The libpq connection string of `database` (what `factdb serve` takes)."""
        return "host=%s port=%d dbname=%s user=postgres" % (self.dir, self.port, database)

    def psql(self, sql, database="postgres", check=True):
        """Runs `sql` with the real psql (-At: unaligned rows, no headers); returns the CompletedProcess."""
        p = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                            "-d", self.target(database), "-c", sql], capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise PgError("psql -c %r failed (exit %d): %s" % (sql, p.returncode, p.stderr))
        return p

    def _run(self, argv):
        argv = self.prefix + [os.path.join(PG_BIN, argv[0])] + argv[1:]
        p = subprocess.run(argv, capture_output=True, text=True, cwd=self.dir)
        if p.returncode != 0:
            log = ""
            try:
                with open(os.path.join(self.dir, "log"), errors="replace") as f:
                    log = f.read()[-2000:]
            except OSError:
                pass
            raise PgError("%s failed (exit %d):\n%s%s%s" % (" ".join(argv), p.returncode, p.stdout, p.stderr, log))

    def connect(self, database="postgres"):
        return PgConn(os.path.join(self.dir, ".s.PGSQL.%d" % self.port), database)

    def close(self):
        if self.started:
            self.started = False
            try:
                self._run(["pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"])
            except PgError as e:
                print("warning: %s" % e, file=sys.stderr)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _has_group(name):
    import grp
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PgConn:
    """One session, protocol v3, simple query protocol, text results."""

    def __init__(self, path, database):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        body = struct.pack("!i", 196608) + b"user\0postgres\0database\0" + database.encode() + b"\0" \
            + b"client_encoding\0UTF8\0\0"
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        while True:
            t, payload = self._msg()
            if t == b"R":
                if struct.unpack("!i", payload[:4])[0] != 0:
                    raise PgError("PostgreSQL asks for a password: the test cluster should use trust")
            elif t == b"E":
                raise PgError(_error_fields(payload).get("M", "connection refused"))
            elif t == b"Z":
                return

    def _recv(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise PgError("PostgreSQL closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _msg(self):
        head = self._recv(5)
        n = struct.unpack("!i", head[1:])[0]
        return head[:1], self._recv(n - 4)

    def query(self, sql):
        """Runs one statement; returns ("rows", names, types, rows) with each value PostgreSQL's text or
        None, ("ok",) for a statement without rows, or ("error", sqlstate, message)."""
        data = sql.encode() + b"\0"
        self.sock.sendall(b"Q" + struct.pack("!i", len(data) + 4) + data)
        result = ("ok",)
        names, types, rows = None, None, []
        while True:
            t, p = self._msg()
            if t == b"T":
                nf = struct.unpack("!h", p[:2])[0]
                pos, names, types = 2, [], []
                for _ in range(nf):
                    end = p.index(b"\0", pos)
                    names.append(p[pos:end].decode())
                    pos = end + 1
                    _, _, oid, _, _, _ = struct.unpack("!ihihih", p[pos:pos + 18])
                    types.append(oid)
                    pos += 18
                rows = []
            elif t == b"D":
                nc = struct.unpack("!h", p[:2])[0]
                pos, row = 2, []
                for _ in range(nc):
                    ln = struct.unpack("!i", p[pos:pos + 4])[0]
                    pos += 4
                    if ln < 0:
                        row.append(None)
                    else:
                        row.append(p[pos:pos + ln].decode())
                        pos += ln
                rows.append(row)
            elif t == b"C":
                if names is not None:
                    result = ("rows", names, types, rows)
            elif t == b"E":
                f = _error_fields(p)
                result = ("error", f.get("C", "XX000"), f.get("M", ""))
            elif t == b"Z":
                return result
            # N (notice), S (parameter status), I (empty query): nothing to keep

    def close(self):
        try:
            self.sock.sendall(b"X" + struct.pack("!i", 4))
        except OSError:
            pass
        self.sock.close()


def _error_fields(p):
    out = {}
    for part in p.split(b"\0"):
        if part:
            out[part[:1].decode()] = part[1:].decode(errors="replace")
    return out


class FactdbServer:
    """`factdb serve --create --port 0` on DB; `query(sql)` posts one statement to /v1/sql."""

    def __init__(self, factdb, db, log_path):
        _signals_raise()
        self.log = open(log_path, "w+")
        self.proc = subprocess.Popen([factdb, "serve", "--create", "--port", "0", "--max-connections", "8",
                                      "--query-timeout", "20000", db],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     preexec_fn=_die_with_parent)
        self.conn = None
        deadline = time.time() + 30
        try:
            while True:
                self.log.seek(0)
                m = re.search(r"listening on http://([0-9.]+):(\d+)/", self.log.read())
                if m:
                    self.host, self.port = m.group(1), int(m.group(2))
                    break
                if self.proc.poll() is not None or time.time() > deadline:
                    self.log.seek(0)
                    raise RuntimeError("factdb serve did not start:\n" + self.log.read()[-2000:])
                time.sleep(0.01)
        except BaseException:
            self.close()
            raise

    def query(self, sql):
        """("rows", names, types, rows) with values as JSON text (numbers exactly as written), ("ok",), or
        ("error", code, message)."""
        body = json.dumps({"sql": sql}).encode()
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                self.conn.request("POST", "/v1/sql", body, {"Content-Type": "application/json"})
                r = self.conn.getresponse()
                data = r.read()
                break
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if self.proc.poll() is not None:
                    self.log.seek(0)
                    raise RuntimeError("factdb serve died (exit %s) on: %s\n%s"
                                       % (self.proc.returncode, sql[:500], self.log.read()[-3000:]))
                if attempt == 2:
                    raise
        doc = json.loads(data, parse_float=str, parse_int=str)
        if "error" in doc:
            return ("error", doc["error"].get("code", "?"), doc["error"].get("message", ""))
        if "columns" in doc and "command" not in doc:
            return ("rows", [c["name"] for c in doc["columns"]], [c["type"] for c in doc["columns"]],
                    [[_fdb_text(v) for v in row] for row in doc["rows"]])
        return ("ok",)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _die_with_parent():
    """In the child before exec: SIGTERM when the process that started it dies (Linux prctl)."""
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _fdb_text(v):
    """A JSON value of factdb's as text (numbers were kept as their JSON text)."""
    if v is None:
        return None
    if v is True:
        return "true"
    if v is False:
        return "false"
    return v

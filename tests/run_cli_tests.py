"""CLI tests: `factdb` commands, their exit statuses, and a clear error for every bad input, with nothing
stored. Runs the binaries of $FACTDB_BUILD (default build/)."""
import json
import os
import random
import re
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "proc"))
from common import BUILD, ENV, FACTDB, cleanup, finish, run, scratch, test  # noqa: E402

DEMO = os.path.join(BUILD, "factdb-demo")


def rows(db, table):
    info = run([FACTDB, "info", db]).stdout
    m = re.search(r"table %s: (\d+) rows" % re.escape(table), info)
    return int(m.group(1)) if m else None


def load(db, table, data, *opts, check=False, env=None):
    if isinstance(data, str):
        data = data.encode()
    return subprocess.run([FACTDB, "load", *opts, db, table, "-"], input=data, capture_output=True, env=env or ENV)


@test
def help_version_usage():
    p = run([FACTDB, "--help"])
    assert "load" in p.stdout and "check" in p.stdout
    assert run([FACTDB, "--version"]).stdout.startswith("factdb ")
    assert run([FACTDB, "load", "--help"]).stdout.startswith("usage: factdb load")
    for args in (["nope"], ["load"], ["load", "a", "b"], ["load", "--bogus", "a", "b", "c"], ["info"],
                 ["load", "--delimiter", "ab", "a", "b", "c"], ["load", "--encoding", "ebcdic", "a", "b", "c"]):
        p = run([FACTDB, *args], check=False)
        assert p.returncode == 2, (args, p.returncode)
        assert p.stderr.startswith("factdb: "), p.stderr


@test
def create_infers_types_and_loads():
    d = scratch("cli")
    db = os.path.join(d, "a.db")
    csv = ('id,name,price,day,ts,ok,note\n'
           '1,Forlì,1.5,2024-01-02,2024-01-02 10:00:00,true,"say ""hi""\nthere"\n'
           '2,Cantù,2,2024-02-03,2024-02-03,false,\n'
           '3,,,,,,x\n')
    p = load(db, "t", csv, "--create")
    assert p.returncode == 0, p.stderr
    assert re.match(rb"loaded 3 rows into t in [0-9.]+ s\n", p.stdout), p.stdout
    info = run([FACTDB, "info", db]).stdout
    for col, typ in [("id", "bigint"), ("name", "text"), ("price", "double precision"), ("day", "date"),
                     ("ts", "timestamp"), ("ok", "boolean"), ("note", "text")]:
        assert re.search(r"\n  %s +%s\n" % (col, re.escape(typ)), info), (col, typ, info)
    # Header columns in another order, a missing column, tab delimiter, no header.
    p = load(db, "t", "name\tid\nRoma\t4\n", "--delimiter", "\\t")
    assert p.returncode == 0, p.stderr
    p = load(db, "t", "5,Bari,3.5,2024-03-01,2024-03-01 00:00:01,true,y\n", "--no-header")
    assert p.returncode == 0, p.stderr
    assert rows(db, "t") == 5
    run([FACTDB, "check", db])
    cleanup(d)


@test
def invalid_utf8_names_line_column_byte():
    d = scratch("utf8")
    db = os.path.join(d, "u.db")
    assert load(db, "t", "id,store\n1,Roma\n", "--create").returncode == 0
    data = "id,store\n2,Milano\n3,Forl".encode() + b"\xe8" + b"\n"
    p = load(db, "t", data)
    assert p.returncode == 1
    want = ('factdb: invalid UTF-8 byte 0xE8 at line 3, column "store" (file byte %d): the file is not UTF-8; '
            'if it is Latin-1, load it with --encoding latin-1\n' % data.index(b"\xe8"))
    assert p.stderr.decode() == want, p.stderr
    assert rows(db, "t") == 1, "nothing from the failed load may be stored"
    p = load(db, "t", data, "--encoding", "latin-1")
    assert p.returncode == 0, p.stderr
    assert rows(db, "t") == 3
    # cp1252: 0x80 is the euro sign; 0x81 is undefined.
    assert load(db, "t", b"id,store\n9,\x80uro\n", "--encoding", "cp1252").returncode == 0
    p = load(db, "t", b"id,store\n9,\x81\n", "--encoding", "cp1252")
    assert p.returncode == 1 and b"0x81" in p.stderr and b"file byte 11" in p.stderr, p.stderr
    assert rows(db, "t") == 4
    cleanup(d)


@test
def values_that_do_not_fit_change_nothing():
    d = scratch("fit")
    db = os.path.join(d, "demo.db")
    run([DEMO, "create", db])
    before = rows(db, "sales")
    head = "sold_at,store,region,product,category,channel,quantity,unit_price,amount,customer_id\n"
    good = "2024-05-01 10:00:00,Forlì,Emilia-Romagna,Pasta 1kg,Grocery,web,2,2.49,4.98,1\n"
    cases = [
        (good + "2024-05-01 10:00:00,Roma,Lazio,Pasta,Grocery,web,2,2.49,4.98,abc\n", 'line 3, column "customer_id"'),
        (good + "2024-13-45,Roma,Lazio,Pasta,Grocery,web,2,2.49,4.98,1\n", 'line 3, column "sold_at"'),
        (good + "2024-05-01 10:00:00,Roma,Lazio,Pasta,Grocery,web,2,123456789.123,4.98,1\n", 'line 3, column "unit_price"'),
        (good + "2024-05-01 10:00:00,Roma,Lazio,Pasta,Grocery,web,2,2.49\n", "line 3 has 8 fields but the header has 10"),
        (good + "2024-05-01 10:00:00,Roma,Lazio,Pasta,Grocery,web,99999999999,2.49,4.98,1\n", 'line 3, column "quantity"'),
        (good + '2024-05-01 10:00:00,"Roma,Lazio,Pasta,Grocery,web,2,2.49,4.98,1\n', "unterminated quoted field"),
        (good + "2024-05-01 10:00:00,,Lazio,Pasta,Grocery,web,2,2.49,4.98,1\n", 'column "store" is NOT NULL'),
    ]
    for csv, want in cases:
        p = load(db, "sales", head + csv)
        assert p.returncode == 1, (want, p.stdout)
        err = p.stderr.decode()
        assert err.startswith("factdb: ") and want in err, (want, err)
    p = load(db, "sales", "nosuch\n1\n")
    assert p.returncode == 1 and b'"nosuch"' in p.stderr
    assert rows(db, "sales") == before
    # A load of several chunks that fails at its last line stores nothing either.
    big = head + good * 150000 + "2024-05-01 10:00:00,Roma,Lazio,Pasta,Grocery,web,2,2.49,4.98,x\n"
    p = load(db, "sales", big)
    assert p.returncode == 1 and b"line 150002" in p.stderr, p.stderr
    assert rows(db, "sales") == before
    run([FACTDB, "check", db])
    p = load(db, "sales", head + good * 70000)
    assert p.returncode == 0, p.stderr
    assert rows(db, "sales") == before + 70000
    run([FACTDB, "check", db])
    # --create that fails leaves no table behind.
    p = load(db, "fresh", "a,b\n1,2\n3\n", "--create")
    assert p.returncode == 1 and rows(db, "fresh") is None
    cleanup(d)


@test
def not_a_database_truncated_newer_corrupted():
    d = scratch("bad")
    junk = os.path.join(d, "junk.db")
    with open(junk, "wb") as f:
        f.write(b"hello, I am a text file\n" * 1000)
    p = run([FACTDB, "info", junk], check=False)
    assert p.returncode == 1 and "not a factdb database" in p.stderr, p.stderr
    db = os.path.join(d, "good.db")
    assert load(db, "t", "a,b\n" + "".join("%d,x%d\n" % (i, i % 100) for i in range(200000)), "--create").returncode == 0
    raw = open(db, "rb").read()
    # Truncated.
    tr = os.path.join(d, "trunc.db")
    open(tr, "wb").write(raw[: len(raw) // 2])
    p = run([FACTDB, "info", tr], check=False)
    assert p.returncode == 1 and "truncated" in p.stderr, p.stderr
    # Newer format: patch the version after the magic (every copy: LMDB keeps old pages around).
    nw = os.path.join(d, "newer.db")
    # (version 1, raised to 3 by the text column of dictionary format 3; LMDB may keep both copies)
    magics = [b"FACTDB\0\0" + struct.pack("<I", v) for v in (1, 2, 3)]
    assert any(m in raw for m in magics)
    newer = raw
    for m in magics:
        newer = newer.replace(m, b"FACTDB\0\0" + struct.pack("<I", 99))
    open(nw, "wb").write(newer)
    p = run([FACTDB, "info", nw], check=False)
    assert p.returncode == 1 and "format version 99" in p.stderr, p.stderr
    # Corrupted chunk data: flip bytes inside column values; check must fail and say why.
    bad = bytearray(raw)
    for off in range(len(raw) // 3, len(raw) // 3 + 64):
        bad[off] ^= 0x5A
    cp = os.path.join(d, "corrupt.db")
    open(cp, "wb").write(bytes(bad))
    p = run([FACTDB, "check", cp], check=False)
    assert p.returncode == 1 and p.stderr.startswith("factdb: "), (p.returncode, p.stderr)
    run([FACTDB, "check", db])
    cleanup(d)


@test
def messages_identical_under_any_locale():
    d = scratch("locale")
    db = os.path.join(d, "l.db")
    assert load(db, "t", "id,v\n1,2.5\n", "--create").returncode == 0
    outs = set()
    for loc in ("C", "it_IT.UTF-8", "it_IT", "it_IT.ISO-8859-1"):
        env = dict(ENV, LC_ALL=loc, LANG=loc)
        p1 = load(db, "t", b"id,v\n2,3,5\n", env=env)
        p2 = load(db, "t", b"id,v\n2,abc\n", env=env)
        p3 = load(db, "t", b"id,v\n2,\xe8\n", env=env)
        p4 = subprocess.run([FACTDB, "info", os.path.join(d, "missing", "x.db")], capture_output=True, env=env)
        outs.add((p1.stderr, p2.stderr, p3.stderr, p4.stderr))
        for e in (p1.stderr, p2.stderr, p3.stderr, p4.stderr):
            e.decode("utf-8")  # valid UTF-8
    assert len(outs) == 1, outs
    # A decimal comma locale must not change how numbers are read.
    env = dict(ENV, LC_ALL="it_IT.UTF-8")
    assert load(db, "t", b"id,v\n3,4.25\n", env=env).returncode == 0
    cleanup(d)


def sql(db, text, *opts, check=True, stdin=None):
    p = subprocess.run([FACTDB, "sql", *opts, db] + ([text] if text is not None else []), input=stdin,
                       capture_output=True, text=True, env=ENV)
    if check:
        assert p.returncode == 0, p.stderr
    return p


@test
def sql_formats_and_errors():
    d = scratch("sql")
    db = os.path.join(d, "s.db")
    sql(db, "CREATE TABLE t (id integer, name text, price numeric(8,2), at timestamp, ok boolean, d double precision)")
    sql(db, "INSERT INTO t VALUES (1, 'Forlì', 1.50, '2024-01-02 10:00:00', true, 0.1), "
            "(2, 'say \"hi\", ok', NULL, NULL, false, 1e20::double precision)")
    q = "SELECT id, name, price, at, ok, d FROM t ORDER BY id"
    p = sql(db, q, "--format", "csv")
    assert p.stdout == ('id,name,price,at,ok,d\n1,Forlì,1.50,2024-01-02 10:00:00,true,0.1\n'
                        '2,"say ""hi"", ok",,,false,1e+20\n'), p.stdout
    p = sql(db, q, "--format", "json")
    assert p.stdout == ('{"columns":[{"name":"id","type":"integer"},{"name":"name","type":"text"},'
                        '{"name":"price","type":"numeric"},{"name":"at","type":"timestamp without time zone"},'
                        '{"name":"ok","type":"boolean"},{"name":"d","type":"double precision"}],'
                        '"rows":[[1,"Forlì",1.50,"2024-01-02 10:00:00",true,0.1],[2,"say \\"hi\\", ok",null,null,false,1e+20]],'
                        '"row_count":2}\n'), p.stdout
    p = sql(db, "SELECT id, name FROM t ORDER BY id", "--format", "ndjson")
    assert p.stdout == '{"id":1,"name":"Forlì"}\n{"id":2,"name":"say \\"hi\\", ok"}\n', p.stdout
    p = sql(db, "SELECT id, price FROM t ORDER BY id", "--format", "table")
    assert p.stdout == " id | price \n----+-------\n  1 |  1.50 \n  2 |       \n(2 rows)\n\n", repr(p.stdout)
    # a script from standard input: the failing statement stops it, earlier ones stay applied
    p = sql(db, None, "--format", "csv", check=False,
            stdin="INSERT INTO t (id) VALUES (3);\nSELECT count(*) FROM t;\nSELECT nme\n  FROM t;\nINSERT INTO t (id) VALUES (4);")
    assert p.returncode == 1, p.returncode
    assert p.stdout == "count\n3\n", p.stdout
    assert p.stderr == ('factdb: ERROR: column "nme" does not exist in table "t"; perhaps you meant "name"\n'
                        'LINE 1: SELECT nme\n'
                        '               ^\n'), p.stderr
    assert sql(db, "SELECT count(*) FROM t", "--format", "csv").stdout == "count\n3\n"
    p = sql(db, "SELECT 1 +", check=False)
    assert p.returncode == 1 and "syntax error at end of input: expected an expression" in p.stderr, p.stderr
    p = sql(db, "SELECT 1;\nSELECT id FROM t WHERE id = 'x'", check=False, *["--format", "csv"])
    assert p.returncode == 1 and 'invalid input syntax for type integer: "x"' in p.stderr, p.stderr
    assert p.stderr.endswith("LINE 1: SELECT id FROM t WHERE id = 'x'\n" + " " * 36 + "^\n"), p.stderr
    # usage errors
    for args in (["sql"], ["sql", "--format", "xml", db], ["sql", "--threads", "0", db], ["sql", "--bogus", db]):
        p = run([FACTDB, *args], check=False)
        assert p.returncode == 2 and p.stderr.startswith("factdb: "), (args, p.stderr)
    # a database that is not one
    bad = os.path.join(d, "bad.db")
    with open(bad, "wb") as f:
        f.write(b"hello" * 1000)
    p = sql(bad, "SELECT 1", check=False)
    assert p.returncode == 1 and "not a factdb database" in p.stderr, p.stderr
    cleanup(d)


@test
def sql_memory_limit_and_cancel():
    d = scratch("sqlmem")
    db = os.path.join(d, "m.db")
    sql(db, "CREATE TABLE t (id bigint, v text)")
    data = "id,v\n" + "".join("%d,v%d\n" % (i, i) for i in range(300000))
    assert load(db, "t", data).returncode == 0
    p = sql(db, "SELECT id, v, count(*) FROM t GROUP BY id, v", "--memory-limit", "1", check=False)
    assert p.returncode == 1 and "memory limit of 1 MiB" in p.stderr, p.stderr
    # Ctrl-C (SIGINT) cancels a running statement at once and the shell reports it
    import signal
    import time
    big = "SELECT count(*) FROM t WHERE " + " OR ".join("v LIKE '%%%d%%x'" % i for i in range(60))
    script = ";\n".join([big] * 200) + ";\n"
    spath = os.path.join(d, "script.sql")
    with open(spath, "w") as f:
        f.write(script)
    sf = open(spath)
    proc = subprocess.Popen([FACTDB, "sql", db], stdin=sf, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    t0 = time.time()
    out, err = proc.communicate(timeout=30)
    assert time.time() - t0 < 5, "cancel took too long"
    sf.close()
    assert proc.returncode == 1 and "canceling statement due to user request" in err, (proc.returncode, err)
    cleanup(d)


@test
def sql_high_cardinality_grouping_with_skew():
    """Large groupings take the radix-partitioned path; one key holding half the rows overflows its
    partition's share of the pooled block. Results must match a straightforward count in Python."""
    import collections
    import random
    d = scratch("skew")
    db = os.path.join(d, "k.db")
    r = random.Random(5)
    rows = [(0 if i % 2 == 0 else (i if i % 3 else -i), r.randint(-100, 100)) for i in range(400000)]
    assert load(db, "t", "k,v\n" + "".join("%d,%d\n" % x for x in rows), "--create").returncode == 0
    c, sm, mn, mx = collections.Counter(), collections.Counter(), {}, {}
    for k, v in rows:
        c[k] += 1
        sm[k] += v
        mn[k] = min(mn.get(k, v), v)
        mx[k] = max(mx.get(k, v), v)
    top = sorted(c, key=lambda k: (-c[k], k))[:5]
    p = sql(db, "SELECT k, count(*), sum(v), min(v), max(v) FROM t GROUP BY k ORDER BY 2 DESC, 1 LIMIT 5", "--format", "csv")
    assert p.stdout.split("\n")[1] == "0,%d,%d,%d,%d" % (c[0], sm[0], mn[0], mx[0]), p.stdout
    got = [line.split(",") for line in p.stdout.strip().split("\n")[1:]]
    assert [(int(a), int(b), int(e), int(f), int(g)) for a, b, e, f, g in got] == [(k, c[k], sm[k], mn[k], mx[k]) for k in top], got
    p = sql(db, "SELECT count(DISTINCT k), sum(v) FILTER (WHERE k < 0) FROM t", "--format", "csv")
    assert p.stdout == "count,sum\n%d,%d\n" % (len(c), sum(v for k, v in rows if k < 0)), p.stdout
    p = sql(db, "SELECT k, avg(v) AS a, count(v) FILTER (WHERE v > 0) AS pos FROM t GROUP BY k ORDER BY k LIMIT 3", "--format", "csv")
    first = sorted(c)[:3]
    for line, k in zip(p.stdout.strip().split("\n")[1:], first):
        kk, a, pos = line.split(",")
        assert int(kk) == k and abs(float(a) - sm[k] / c[k]) < 1e-9, (line, k)
        assert int(pos) == sum(1 for kx, v in rows if kx == k and v > 0), line
    cleanup(d)


@test
def sql_interactive_shell():
    import pty
    import select
    d = scratch("shell")
    db = os.path.join(d, "i.db")
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["HOME"] = d
        os.execv(FACTDB, [FACTDB, "sql", "--create", db])  # the shell cannot know yet whether it will write
    out = b""

    def expect(what, timeout=10):
        nonlocal out
        import time
        end = time.time() + timeout
        while what.encode() not in out:
            r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
            if not r:
                raise AssertionError("shell did not print %r; got %r" % (what, out[-500:]))
            try:
                out += os.read(fd, 65536)
            except OSError:
                raise AssertionError("shell exited early; got %r" % out[-500:])
    expect("factdb> ")
    os.write(fd, b"CREATE TABLE t (a integer,\n")
    expect("...> ")
    os.write(fd, b"b text);\n")
    expect("CREATE TABLE")
    os.write(fd, b"INSERT INTO t VALUES (1, 'x'), (22, 'yy');\n")
    expect("INSERT 0 2")
    os.write(fd, b".timer on\n")
    os.write(fd, b"SELECT a, b FROM t ORDER BY a;\n")
    expect("(2 rows)")
    expect("Time: ")
    os.write(fd, b".format csv\n")
    os.write(fd, b"SELECT sum(a) AS s FROM t;\n")
    expect("s\r\n23")
    os.write(fd, b"SELECT nope FROM t;\n")
    expect('column "nope" does not exist')
    # a transaction left idle longer than --idle-timeout is rolled back, releasing the write lock
    os.write(fd, b".quit\n")
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, status
    assert os.path.exists(os.path.join(d, ".factdb_history"))
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(FACTDB, [FACTDB, "sql", "--idle-timeout", "1", db])
    out = b""
    expect("factdb> ")
    os.write(fd, b"BEGIN;\n")
    expect("factdb*> ")
    os.write(fd, b"INSERT INTO t VALUES (3, 'z');\n")
    expect("INSERT 0 1")
    # meanwhile another process cannot write
    p = sql(db, "INSERT INTO t VALUES (4, 'w')", "--busy-timeout", "200", check=False)
    assert p.returncode == 1 and "write lock" in p.stderr, p.stderr
    expect("was idle for 1 s and was rolled back, releasing the write lock", timeout=10)
    assert sql(db, "INSERT INTO t VALUES (4, 'w')", "--busy-timeout", "2000").returncode == 0
    assert sql(db, "SELECT a FROM t ORDER BY a", "--format", "csv").stdout == "a\n1\n4\n22\n"
    os.write(fd, b"SELECT count(*) FROM t;\n")
    expect("(1 row)")
    os.write(fd, b".quit\n")
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, status
    cleanup(d)


@test
def long_expressions_answer_or_fail_cleanly():
    """Issue 9: the reported crashes (SIGSEGV) of the CLI: 520+ OR terms, 5,000 AND terms, 10,000 +,
    8,000 ::int. Wide flat chains answer, fast; deep nesting is an error naming the limit and position."""
    d = scratch("long")
    db = os.path.join(d, "a.db")
    assert load(db, "t", "x,y\n" + "".join("%d,%d\n" % (i, i % 7) for i in range(5000)), "--create").returncode == 0
    ors = " OR ".join("x = %d" % i for i in range(0, 20000, 2))
    p = sql(db, "SELECT count(*) FROM t WHERE " + ors, "--format", "csv", stdin=None)
    assert p.stdout == "count\n2500\n", p.stdout
    ands = " AND ".join("x <> %d" % i for i in range(5000))
    assert sql(db, "SELECT count(*) FROM t WHERE y = 0 OR " + ands, "--format", "csv").stdout == "count\n715\n"
    assert sql(db, "SELECT " + "+".join(["1"] * 10000), "--format", "csv").stdout == "?column?\n10000\n"
    assert sql(db, "SELECT sum(" + "+".join(["x"] * 3000) + ") FROM t", "--format", "csv").stdout == \
        "sum\n%d\n" % (3000 * 4999 * 5000 // 2)
    # 3,000 || over 5,000 rows: one allocation per row (it was O(terms^2) bytes per row)
    p = sql(db, "SELECT max(length(y::text" + " || 'ab'" * 3000 + ")) FROM t", "--format", "csv")
    assert p.stdout == "max\n6001\n", p.stdout
    # every node of a long non-constant chain has a vector per thread: counted against the memory limit
    p = sql(db, "SELECT sum(x" + " + 1" * 200 + ") FROM t", "--memory-limit", "10", check=False)
    assert p.returncode == 1 and "whose vectors need" in p.stderr and "memory limit of 10 MiB" in p.stderr, p.stderr
    big_in = ",".join(str(i * 3) for i in range(200000))
    p = sql(db, None, "--format", "csv", stdin="SELECT count(*) FROM t WHERE x IN (%s)" % big_in)
    assert p.stdout == "count\n1667\n", p.stdout
    for text in ("SELECT 1" + "::int" * 8000, "SELECT " + "(" * 600 + "1" + ")" * 600,
                 "SELECT " + "NOT " * 300 + "true", "SELECT " + "- " * 300 + "1",
                 "SELECT " + "abs(" * 300 + "x" + ")" * 300 + " FROM t"):
        p = sql(db, text, check=False)
        assert p.returncode == 1, (text[:40], p.returncode, p.stderr[-300:])
        assert "nested too deeply (more than 200 levels)" in p.stderr, p.stderr[-300:]
        assert "LINE 1:" in p.stderr
    cleanup(d)


def as_nobody(args, **kw):
    """Runs args as user nobody: tests run as root, whom file permissions do not stop."""
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *args], capture_output=True,
                          text=True, env=ENV, **kw)


@test
def commands_that_only_read_never_create_a_database():
    d = scratch("nocreate")
    typo = os.path.join(d, "typo.db")
    for args in (["sql", typo, "SELECT 1"], ["sql", "--format", "csv", typo], ["info", typo], ["check", typo],
                 ["load", typo, "t", "-"]):
        p = subprocess.run([FACTDB, *args], input="SELECT 1;\n" if "sql" in args else "a\n1\n", capture_output=True,
                           text=True, env=ENV)
        assert p.returncode == 1 and "does not exist" in p.stderr, (args, p.returncode, p.stderr)
        assert os.listdir(d) == [], (args, os.listdir(d))
    # Statements that write create it (as SQLite and DuckDB do), --create always does, and so does load --create.
    new = os.path.join(d, "new.db")
    assert sql(new, "CREATE TABLE t (a integer)").returncode == 0 and os.path.exists(new)
    assert sql(os.path.join(d, "empty.db"), "SELECT 1", "--create").returncode == 0
    assert load(os.path.join(d, "l.db"), "t", "a\n1\n", "--create").returncode == 0
    # An empty file is not silently made a database by a command that only reads.
    open(os.path.join(d, "zero.db"), "wb").close()
    p = run([FACTDB, "info", os.path.join(d, "zero.db")], check=False)
    assert p.returncode == 1 and "empty file" in p.stderr, p.stderr
    cleanup(d)


@test
def nul_bytes_are_rejected_where_text_enters():
    """Issue 9: NUL bytes used to be stored (and written raw to CSV); one in a header cut the column name."""
    d = scratch("nul")
    db = os.path.join(d, "a.db")
    p = load(db, "t", b"a,b\x00c\n1,2\n", "--create")
    assert p.returncode == 1 and b"NUL byte (0x00) at line 1, field 2 (file byte 3)" in p.stderr, p.stderr
    p = load(db, "t", b"a,b\n1,2\n3,\"x\x00y\"\n", "--create")
    assert p.returncode == 1 and b"NUL byte (0x00) at line 3, field 2 (file byte 12)" in p.stderr, p.stderr
    assert rows(db, "t") is None  # nothing stored, not even the table
    p = subprocess.run([FACTDB, "sql", db], input=b"SELECT 'a\x00b'", capture_output=True, env=ENV)
    assert p.returncode == 1 and b"NUL byte (0x00) at byte 10" in p.stderr, p.stderr
    cleanup(d)


@test
def read_only_files_and_directories_can_be_queried():
    d = scratch("ro")
    db = os.path.join(d, "r.db")
    assert load(db, "t", "a,b\n1,x\n2,y\n", "--create").returncode == 0
    os.unlink(db + "-lock")
    os.chmod(db, 0o444)
    os.chmod(d, 0o777)  # the lock file can be created: a read-only data file only
    p = as_nobody([FACTDB, "sql", "--format", "csv", db, "SELECT sum(a) FROM t"])
    assert p.returncode == 0 and p.stdout == "sum\n3\n", p.stderr
    p = as_nobody([FACTDB, "sql", db, "INSERT INTO t VALUES (3, 'z')"])
    assert p.returncode == 1 and "read-only" in p.stderr and "may not write the file" in p.stderr, p.stderr
    p = as_nobody([FACTDB, "load", db, "t", "-"], input="a,b\n3,z\n")
    assert p.returncode == 1 and "read-only" in p.stderr, p.stderr
    # A directory nobody may write: no lock file can be created; reads still work (without LMDB's lock).
    os.unlink(db + "-lock")
    os.chmod(d, 0o755)
    for args in (["sql", "--format", "csv", db, "SELECT count(*) FROM t"], ["info", db], ["check", db]):
        p = as_nobody([FACTDB, *args])
        assert p.returncode == 0, (args, p.stderr)
        if args[0] == "info":
            assert re.search(r"read-only +its lock file .* cannot be created", p.stdout), p.stdout
    p = as_nobody([FACTDB, "sql", db, "DROP TABLE t"])
    assert p.returncode == 1 and "lock file" in p.stderr and "read-only" in p.stderr, p.stderr
    assert not os.path.exists(db + "-lock")
    assert rows(db, "t") == 2
    # A lock file that exists (writers may be using it) but that this user may not write: refused, since
    # reading without it lets writers reuse the pages being read (valid chunks of another commit).
    assert os.path.exists(db + "-lock")
    os.chmod(db + "-lock", 0o644)
    p = as_nobody([FACTDB, "sql", db, "SELECT count(*) FROM t"])
    assert p.returncode == 1 and "cannot read" in p.stderr and "write access to the lock file" in p.stderr, p.stderr
    cleanup(d)


@test
def dates_outside_the_supported_range_do_not_load():
    d = scratch("dates")
    db = os.path.join(d, "a.db")
    sql(db, "CREATE TABLE t (d date, ts timestamp)")
    p = load(db, "t", "d,ts\n2024-01-01,\n0000-01-01,\n")
    assert p.returncode == 1 and b"date out of range" in p.stderr, p.stderr
    p = load(db, "t", "d,ts\n,0000-12-31 23:59:59\n")
    assert p.returncode == 1 and b"date out of range" in p.stderr, p.stderr
    assert load(db, "t", "d,ts\n0001-01-01,0001-01-01 00:00:00\n9999-12-31,9999-12-31 23:59:59.999999\n").returncode == 0
    assert sql(db, "SELECT min(d), max(d) FROM t", "--format", "csv").stdout == "min,max\n0001-01-01,9999-12-31\n"
    cleanup(d)


@test
def disk_full_says_no_space_left():
    d = scratch("full")
    mnt = os.path.join(d, "mnt")
    os.mkdir(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], capture_output=True).returncode != 0:
        print("skip disk_full_says_no_space_left: cannot mount a small tmpfs here (needs root)")
        cleanup(d)
        return
    try:
        db = os.path.join(mnt, "f.db")
        assert load(db, "t", "a,b\n1,x\n", "--create").returncode == 0
        # random keys and strings: dictionaries are compressed and sorted keys delta-encoded, so these must not
        # shrink below the 2 MB of the file system
        rnd = random.Random(5)
        big = "a,b\n" + "".join("%d,%032x\n" % (rnd.getrandbits(30), rnd.getrandbits(128)) for i in range(300000))
        p = load(db, "t", big)
        assert p.returncode == 1 and b"no space left on device" in p.stderr, p.stderr
        p = sql(db, "INSERT INTO t SELECT a + 1, b || 'x' FROM t", check=False)
        p = sql(db, "SELECT count(*) FROM t", "--format", "json")
        assert '"row_count":1' in p.stdout, p.stdout
        run([FACTDB, "check", db])
    finally:
        subprocess.run(["umount", mnt])
    cleanup(d)


@test
def empty_first_text_value():
    # Only empty strings in a chunk leave the appender's string buffer unallocated: no NULL + 0 when they are
    # interned (clang's UBSan reports it at appender.c:378 of the old code; GCC's does not check NULL + 0).
    d = scratch("emptytext")
    db = os.path.join(d, "e.db")
    p = load(db, "t", 'id,s\n1,""\n2,""\n', "--create")
    assert p.returncode == 0, p.stderr
    sql(db, "INSERT INTO t VALUES (3, '')")
    assert sql(db, "SELECT count(*) FROM t WHERE s = ''", "--format", "csv").stdout == "count\n3\n"
    run([FACTDB, "check", db])
    cleanup(d)


@test
def faults_outside_the_database_are_reported_as_bugs():
    # A fault that is not a read of the database map must not be blamed on the file: it is a bug, and the
    # process dies by the signal (a core dump) after saying so.
    import signal
    import time
    d = scratch("fault")
    db = os.path.join(d, "f.db")
    assert load(db, "t", "a\n1\n", "--create").returncode == 0
    p = subprocess.Popen([FACTDB, "sql", db], stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                         env=ENV)
    time.sleep(0.3)
    p.send_signal(signal.SIGSEGV)
    _, err = p.communicate(timeout=10)
    assert p.returncode == -signal.SIGSEGV, (p.returncode, err)
    assert err.startswith(b"factdb: internal error (a bug in factdb): signal 11 at 0x"), err
    cleanup(d)


@test
def input_truncated_while_loading():
    # The CSV shrinks under the loader (its pages vanish from the map): a clear message, not "damaged database".
    import time
    d = scratch("trinput")
    db = os.path.join(d, "t.db")
    csv = os.path.join(d, "in.csv")
    for attempt in range(3):
        with open(csv, "w") as f:
            f.write("a,b\n")
            f.writelines("%d,%d.25\n" % (i, i) for i in range(3000000 * (attempt + 1)))
        p = subprocess.Popen([FACTDB, "load", "--create", db, "t" + str(attempt), csv], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=ENV)
        time.sleep(0.15)
        os.truncate(csv, 10)
        _, err = p.communicate(timeout=120)
        if p.returncode == 0:
            continue  # finished before the truncation: try a bigger file
        assert p.returncode == 1, (p.returncode, err)
        assert b"input file changed or was truncated" in err or b"line" in err, err
        assert b"database file" not in err, err
        return cleanup(d)
    print("skip input_truncated_while_loading: the loads finished before the input could be truncated")
    cleanup(d)


@test
def load_python_and_javascript_timestamps():
    # What apps write: Python's datetime.isoformat() (aware and naive) and JavaScript's toISOString().
    # Columns whose values carry an offset become timestamptz (UTC); naive ones stay timestamp.
    d = scratch("isots")
    db = os.path.join(d, "i.db")
    csv = ("id,at,naive,day\n"
           "1,2026-11-29T18:40:00.123456+00:00,2026-11-29T18:40:00.123456,2026-11-29\n"
           "2,2026-11-29T18:40:00.123Z,2026-11-29T18:40:00,2026-11-30\n"
           "3,2026-11-29T20:40:00+02:00,2026-11-29 20:40:00,\n"
           "4,2026-11-29T18:40:00,,\n")
    p = load(db, "t", csv, "--create")
    assert p.returncode == 0, p.stderr
    info = run([FACTDB, "info", db]).stdout
    for col, typ in [("id", "bigint"), ("at", "timestamp with time zone"), ("naive", "timestamp"), ("day", "date")]:
        assert re.search(r"\n  %s +%s\n" % (col, re.escape(typ)), info), (col, typ, info)
    p = sql(db, "SELECT id, at, naive FROM t ORDER BY id", "--format", "json")
    doc = json.loads(p.stdout)
    assert doc["columns"] == [{"name": "id", "type": "bigint"}, {"name": "at", "type": "timestamp with time zone"},
                              {"name": "naive", "type": "timestamp without time zone"}], doc
    assert doc["rows"] == [[1, "2026-11-29 18:40:00.123456+00", "2026-11-29 18:40:00.123456"],
                           [2, "2026-11-29 18:40:00.123+00", "2026-11-29 18:40:00"],
                           [3, "2026-11-29 18:40:00+00", "2026-11-29 20:40:00"],
                           [4, "2026-11-29 18:40:00+00", None]], doc
    # Into existing columns: a timestamp column ignores the offset (as PostgreSQL does), timestamptz applies it.
    p = load(db, "t", "id,at,naive\n5,2026-11-29T18:40:00-01:00,2026-11-29T18:40:00-01:00\n")
    assert p.returncode == 0, p.stderr
    p = sql(db, "SELECT at, naive FROM t WHERE id = 5")
    assert p.stdout == "at,naive\n2026-11-29 19:40:00+00,2026-11-29 18:40:00\n", p.stdout
    # A bad value names the line, the column and the forms that are accepted; nothing is stored.
    p = load(db, "t", "id,at\n6,2026-11-29T18:40:00Z\n7,29/11/2026 18:40\n")
    assert p.returncode == 1, p.stdout
    err = p.stderr.decode()
    assert 'line 3, column "at"' in err and "with T or a space before the time and an optional offset Z, " \
        "+HH, +HH:MM or +HHMM" in err, err
    p = load(db, "t", "id,naive\n6,2026-11-29T18:40:00+16:00\n")
    assert p.returncode == 1 and b"time zone displacement out of range" in p.stderr, p.stderr
    assert rows(db, "t") == 5
    run([FACTDB, "check", db])
    cleanup(d)


def columns(db, table):
    """{column: type} of TABLE, from factdb info."""
    info = run([FACTDB, "info", db]).stdout
    part = info.split("table %s:" % table, 1)[1].split("\n\n", 1)[0]
    return dict(re.findall(r"\n  (\S+) +(\S.*)", part))


@test
def italian_csv_with_date_format_and_decimal_comma():
    d = scratch("it")
    db = os.path.join(d, "it.db")
    p = load(db, "t", "data;importo\n31/01/2024;12,50\n", "--create", "--date-format", "%d/%m/%Y", "--decimal-comma")
    assert p.returncode == 0, p.stderr
    assert columns(db, "t") == {"data": "date", "importo": "double precision"}, columns(db, "t")
    assert sql(db, "SELECT data, importo FROM t", "--format", "csv").stdout == "data,importo\n2024-01-31,12.5\n"
    # Loading into the existing table reads the same forms; '.' groups thousands; blanks around are ignored.
    p = load(db, "t", "importo;data\n1.234,5;1/2/2024\n-0,25 ; 29/02/2024\n", "--date-format", "%d/%m/%Y",
             "--decimal-comma")
    assert p.returncode == 0, p.stderr
    got = sql(db, "SELECT data, importo FROM t ORDER BY data", "--format", "csv").stdout
    assert got == "data,importo\n2024-01-31,12.5\n2024-02-01,1234.5\n2024-02-29,-0.25\n", got
    # Other date orders and separators; timestamps with their own format; %y; integers with grouped thousands.
    p = load(db, "u", "giorno|ora|n\n01.31.24|31.01.2024 10:30:15.5|1.000\n12.25.99|01.02.2024 00:00:00.0|7\n",
             "--create", "--date-format", "%m.%d.%y", "--timestamp-format", "%d.%m.%Y %H:%M:%S.%f", "--decimal-comma")
    assert p.returncode == 0, p.stderr
    assert columns(db, "u") == {"giorno": "date", "ora": "timestamp", "n": "bigint"}, columns(db, "u")
    got = sql(db, "SELECT * FROM u ORDER BY n", "--format", "csv").stdout
    assert got == "giorno,ora,n\n1999-12-25,2024-02-01 00:00:00,7\n2024-01-31,2024-01-31 10:30:15.5,1000\n", got
    # A date format outranks numbers: %Y%m%d values are dates, not integers.
    p = load(db, "v", "d,x\n20240131,1\n", "--create", "--date-format", "%Y%m%d")
    assert p.returncode == 0, p.stderr
    assert columns(db, "v") == {"d": "date", "x": "bigint"}, columns(db, "v")
    # Without --decimal-comma, 12,50 is text (and the comma is a delimiter candidate again).
    p = load(db, "w", "a;b\nx;12,50\n", "--create")
    assert p.returncode == 0, p.stderr
    assert columns(db, "w") == {"a": "text", "b": "text"}, columns(db, "w")
    run([FACTDB, "check", db])
    cleanup(d)


@test
def values_not_matching_the_format_name_line_column_byte():
    d = scratch("itbad")
    db = os.path.join(d, "b.db")
    assert load(db, "t", "data;importo\n31/01/2024;12,50\n", "--create", "--date-format", "%d/%m/%Y",
                "--decimal-comma").returncode == 0
    data = "data;importo\n01/02/2024;1\n2024-02-03;2\n"
    p = load(db, "t", data, "--date-format", "%d/%m/%Y", "--decimal-comma")
    assert p.returncode == 1
    want = ('factdb: line 3, column "data" (file byte %d): "2024-02-03" does not match --date-format %%d/%%m/%%Y: '
            "expected '/' at character 3; nothing was loaded\n" % data.index("2024-02-03"))
    assert p.stderr.decode() == want, p.stderr
    p = load(db, "t", "data;importo\n31/02/2024;1\n", "--date-format", "%d/%m/%Y", "--decimal-comma")
    assert p.returncode == 1 and b"day 31 is out of range for month 2 of 2024" in p.stderr, p.stderr
    p = load(db, "t", "data;importo\n01/02/2024;12.50\n", "--date-format", "%d/%m/%Y", "--decimal-comma")
    assert p.returncode == 1, p.stderr
    assert (b'line 2, column "importo" (file byte 24): "12.50" is not a number with --decimal-comma: the \'.\' at '
            b'character 3 is not a decimal point' in p.stderr), p.stderr
    p = load(db, "t", "data;importo\n01/02/2024 10:00;1\n", "--timestamp-format", "%d/%m/%Y %H:%M")
    assert p.returncode == 1 and b"is not a valid date" in p.stderr, p.stderr  # a date column: ISO without --date-format
    assert rows(db, "t") == 1, "nothing from the failed loads may be stored"
    # Bad formats are usage errors, before anything is opened.
    for opt, fmt, why in [("--date-format", "%d/%q/%Y", "%q is not supported"),
                          ("--date-format", "%d/%m", "needs %d, %m and one of %Y or %y"),
                          ("--date-format", "%d/%m/%Y %H", "%H is a time of day"),
                          ("--date-format", "%d/%m/%Y%", "lone %"),
                          ("--date-format", "%d/%m/%d/%Y", "has %d twice"),
                          ("--timestamp-format", "%d/%m/%Y", "needs %H and %M"),
                          ("--timestamp-format", "%d/%m/%Y %H:%M.%f", "%f without %S")]:
        p = run([FACTDB, "load", opt, fmt, os.path.join(d, "none.db"), "t", "-"], check=False)
        assert p.returncode == 2 and p.stderr.startswith("factdb: ") and why in p.stderr, (fmt, p.stderr)
    assert not os.path.exists(os.path.join(d, "none.db"))
    cleanup(d)


@test
def delimiter_is_detected():
    d = scratch("sniff")
    db = os.path.join(d, "s.db")
    for i, delim in enumerate([",", ";", "\t", "|"]):
        data = delim.join(["id", "name", "price"]) + "\n" + delim.join(["1", '"Forlì, Cantù; x|y"', "2.5"]) + "\n"
        p = load(db, "t%d" % i, data, "--create")
        assert p.returncode == 0, (delim, p.stderr)
        assert columns(db, "t%d" % i) == {"id": "bigint", "name": "text", "price": "double precision"}, delim
        got = sql(db, "SELECT name FROM t%d" % i, "--format", "csv").stdout
        assert got == 'name\n"Forlì, Cantù; x|y"\n', (delim, got)
        # An existing table too: no --create needed for detection.
        p = load(db, "t%d" % i, data.replace("1", "2", 1))
        assert p.returncode == 0 and rows(db, "t%d" % i) == 2, (delim, p.stderr)
    # Most consistent lines win over more fields: one ';' in a comma file does not make it ';'-delimited.
    p = load(db, "c0", "a,b;c\n1,2;3\n4,5\n", "--create")
    assert p.returncode == 0, p.stderr
    assert columns(db, "c0") == {"a": "bigint", "b;c": "text"}, columns(db, "c0")
    p = load(db, "c", "a,b\n1,x;y\n4,5\n", "--create")
    assert p.returncode == 0, p.stderr
    assert columns(db, "c") == {"a": "bigint", "b": "text"}, columns(db, "c")
    # --delimiter overrides the detection; one column when no candidate splits the file.
    p = load(db, "o", "a;b\n1;2\n", "--create", "--delimiter", "|")
    assert p.returncode == 0, p.stderr
    assert columns(db, "o") == {"a;b": "text"}, columns(db, "o")
    p = load(db, "one", "word\nhello\nworld\n", "--create")
    assert p.returncode == 0 and columns(db, "one") == {"word": "text"}, p.stderr
    # With --decimal-comma the comma is never the delimiter, even without a header.
    p = load(db, "dc", "1,5;2,5\n3,5;4,5\n", "--create", "--no-header", "--decimal-comma")
    assert p.returncode == 0, p.stderr
    assert columns(db, "dc") == {"column0": "double precision", "column1": "double precision"}, columns(db, "dc")
    # A ragged line in a detected file: the message names the detected delimiter and the way out.
    p = load(db, "r", "a;b\n1;2\n3;4;5\n", "--create")
    assert p.returncode == 1
    assert p.stderr == (b"factdb: line 3 has 3 fields but the header has 2 (delimiter ';', detected from the first "
                        b"lines: use --delimiter to choose another); nothing was loaded\n"), p.stderr
    run([FACTDB, "check", db])
    cleanup(d)


@test
def one_field_header_says_use_delimiter():
    d = scratch("onefield")
    db = os.path.join(d, "o.db")
    # The header lost its separators: the rows agree on ';'.
    p = load(db, "t", "data importo\n31/01/2024;12,50\n01/02/2024;3\n", "--create")
    assert p.returncode == 1
    assert p.stderr.decode().startswith(
        "factdb: the header has one field but the lines below it have 2 fields separated by ';': give the header "
        "one name per field and use --delimiter ';'"), p.stderr
    # A wrong --delimiter: the header has one field, the rows more; the right delimiter is named.
    p = load(db, "t", "data;importo\n31/01/2024;12,50\n", "--create", "--delimiter", ",")
    assert p.returncode == 1
    assert p.stderr.decode() == ("factdb: line 2 has 2 fields but the header has 1; the file looks delimited by "
                                 "';': use --delimiter ';'; nothing was loaded\n"), p.stderr
    p = load(db, "t", "a|b\n1|2\n", "--create", "--delimiter", ";")
    assert p.returncode == 0, p.stderr  # one field everywhere: the one column "a|b" is what was asked
    assert columns(db, "t") == {"a|b": "text"}, columns(db, "t")
    p = load(db, "u", "a|b\n1|2,5\n", "--create", "--delimiter", ",")
    assert p.returncode == 1 and b"use --delimiter '|'" in p.stderr, p.stderr
    p = load(db, "u", "a b\n1,2\n", "--create", "--delimiter", ",")
    assert p.returncode == 1 and b"the first line has a single field" in p.stderr, p.stderr
    cleanup(d)


@test
def all_empty_column_is_text():
    d = scratch("empty")
    db = os.path.join(d, "e.db")
    p = load(db, "t", "id,nothing,quoted\n1,,\n2,,\n", "--create")
    assert p.returncode == 0, p.stderr
    assert columns(db, "t") == {"id": "bigint", "nothing": "text", "quoted": "text"}, columns(db, "t")
    # Text takes whatever a later load brings.
    assert load(db, "t", "id,nothing\n3,hello\n").returncode == 0
    assert sql(db, "SELECT nothing FROM t WHERE id = 3", "--format", "csv").stdout == "nothing\nhello\n"
    cleanup(d)


@test
def create_shows_progress_of_the_type_pass():
    import pty
    d = scratch("progress")
    db = os.path.join(d, "p.db")
    csv = os.path.join(d, "in.csv")
    with open(csv, "w") as f:
        f.write("a;b\n")
        f.writelines("%d;%d,5\n" % (i, i) for i in range(200000))
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(FACTDB, [FACTDB, "load", "--create", "--decimal-comma", db, "t", csv], ENV)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, out[-2000:]
    text = out.decode()
    assert re.search(r"types \[=+\] 100% [0-9.]+/[0-9.]+ MB \d+ rows/s\r?\n", text), text[-500:]
    assert re.search(r"load  \[=+\] 100%", text), text[-500:]
    assert text.index("types [") < text.index("load  ["), text[-500:]
    assert "loaded 200000 rows into t" in text
    cleanup(d)


@test
def tpch_lineitem_generator_follows_the_spec():
    """bench/tpch_gen.c: same bytes every run, every row within clause 4.2.3's rules, loads into factdb
    with the TPC-H types, and TPC-H Q1 answers the same at 1 and 2 threads."""
    d = scratch("tpch")
    gen = os.path.join(d, "gen")
    bench = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench")
    run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-o", gen,
         os.path.join(bench, "tpch_gen.c"), os.path.join(bench, "gen_csv.c")])
    for bad in (["0"], ["-1"], ["x"], ["1", "2", "3"], []):
        p = run([gen, *bad], check=False)
        assert p.returncode == 2 and p.stderr.startswith("usage: bench-tpch-gen SF"), (bad, p.stderr)
    p = run([gen, "0.00001"], check=False)
    assert p.returncode == 2 and "too small" in p.stderr, p.stderr
    p = run([gen, "0.01", os.path.join(d, "no", "such", "dir.csv")], check=False)
    assert p.returncode == 1 and "cannot create" in p.stderr, p.stderr
    csv = os.path.join(d, "l.csv")
    run([gen, "0.01", csv])
    text = open(csv).read()
    assert run([gen, "0.01"]).stdout == text  # deterministic, and stdout equals the file
    lines = text.splitlines()
    assert lines[0] == ("l_orderkey,l_partkey,l_suppkey,l_linenumber,l_quantity,l_extendedprice,l_discount,"
                        "l_tax,l_returnflag,l_linestatus,l_shipdate,l_commitdate,l_receiptdate,"
                        "l_shipinstruct,l_shipmode,l_comment")
    import datetime
    day = datetime.date.fromisoformat
    parts, supps, current = 2000, 100, day("1995-06-17")
    orders, prev, counts = [], None, {}
    for ln in lines[1:]:
        f = ln.split(",")
        assert len(f) == 16, ln
        ok, pk, sk, num = int(f[0]), int(f[1]), int(f[2]), int(f[3])
        qty, price, disc, tax = (float(x) for x in f[4:8])
        ship, commit, receipt = day(f[10]), day(f[11]), day(f[12])
        if ok != prev:
            orders.append(ok)
            assert num == 1, ln
            odate_lo = max(ship, commit) - datetime.timedelta(days=121)
            odate_hi = min(ship - datetime.timedelta(days=1), commit - datetime.timedelta(days=30))
        else:
            assert num == last_num + 1, ln
            odate_lo = max(odate_lo, ship - datetime.timedelta(days=121), commit - datetime.timedelta(days=90))
            odate_hi = min(odate_hi, ship - datetime.timedelta(days=1), commit - datetime.timedelta(days=30))
        assert odate_lo <= odate_hi, ln  # one order date explains every line's ship and commit dates
        assert day("1992-01-01") <= odate_hi and odate_lo <= day("1998-12-31") - datetime.timedelta(days=151), ln
        prev, last_num = ok, num
        assert 1 <= num <= 7 and (ok - 1) % 32 < 8, ln
        assert 1 <= pk <= parts and sk in [(pk + i * (supps // 4 + (pk - 1) // supps)) % supps + 1 for i in range(4)], ln
        assert qty == int(qty) and 1 <= qty <= 50, ln
        retail = (90000 + (pk // 10) % 20001 + 100 * (pk % 1000)) / 100
        assert abs(price - qty * retail) < 0.005, ln
        assert 0 <= disc <= 0.10 and 0 <= tax <= 0.08, ln
        assert 1 <= (receipt - ship).days <= 30, ln
        assert f[8] == ("N" if receipt > current else f[8]) and f[8] in ("R", "A", "N"), ln
        assert f[8] != "N" or receipt > current, ln
        assert f[9] == ("O" if ship > current else "F"), ln
        assert f[13] in ("DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"), ln
        assert f[14] in ("REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"), ln
        assert 10 <= len(f[15]) <= 43, ln
        counts[f[14]] = counts.get(f[14], 0) + 1
    assert len(orders) == 15000 and orders[:9] == [1, 2, 3, 4, 5, 6, 7, 8, 33], orders[:9]
    assert 50000 < len(lines) - 1 < 70000 and len(counts) == 7
    db = os.path.join(d, "t.db")
    sql(db, "CREATE TABLE lineitem (l_orderkey bigint, l_partkey bigint, l_suppkey bigint, l_linenumber integer,"
            " l_quantity numeric(15,2), l_extendedprice numeric(15,2), l_discount numeric(15,2), l_tax numeric(15,2),"
            " l_returnflag text, l_linestatus text, l_shipdate date, l_commitdate date, l_receiptdate date,"
            " l_shipinstruct text, l_shipmode text, l_comment text)")
    run([FACTDB, "load", db, "lineitem", csv])
    q1 = open(os.path.join(bench, "tpch_queries.txt")).read().split("\nq1\t")[1].split("\t")[0]
    one, two = sql(db, q1, "--threads", "1").stdout, sql(db, q1, "--threads", "2").stdout
    assert one == two and len(one.splitlines()) >= 4, (one, two)
    assert sql(db, "SELECT count(*) FROM lineitem").stdout.split() == ["count", str(len(lines) - 1)]
    # bench/tpch_sql.c, factdb's side of the benchmark: best time, then the rows as the CLI gives them
    root = os.path.dirname(os.path.abspath(bench))
    runner = os.path.join(d, "tpch-sql")
    san = ["-fsanitize=address,undefined"] if "asan" in BUILD else []
    run(["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-I", os.path.join(root, "include"), *san,
         "-o", runner, os.path.join(root, "bench", "tpch_sql.c"), os.path.join(BUILD, "libfactdb.a"),
         "-llmdb", "-lxxhash", "-lzstd", "-lpthread", "-lm"])
    want = [ln.replace(",", "\t") for ln in one.splitlines()[1:]]
    for threads in ("1", "2"):
        out = run([runner, db, threads, "2", q1]).stdout.splitlines()
        assert float(out[0]) > 0 and out[1:] == want + ["--"], out
    # 1 and 2 threads in turn: a best time each, then each one's result
    out = run([runner, db, "1,2", "2", q1]).stdout.splitlines()
    assert len(out[0].split()) == 2 and all(float(x) > 0 for x in out[0].split()), out
    assert out[1:] == want + ["--"] + want + ["--"], out
    for bad in ("0", "1,x", ""):
        p = run([runner, db, bad, "1", q1], check=False)
        assert p.returncode == 2 and "usage: bench-tpch-sql" in p.stderr, (bad, p.stderr)
    p = run([runner, os.path.join(d, "missing.db"), "1", "1", "SELECT 1"], check=False)
    assert p.returncode == 1 and "does not exist" in p.stderr and not os.path.exists(os.path.join(d, "missing.db"))
    p = run([runner, db, "1", "1", "SELECT nope FROM lineitem"], check=False)
    assert p.returncode == 1 and 'column "nope" does not exist' in p.stderr, p.stderr
    assert run([runner, db, "0", "1", "SELECT 1"], check=False).returncode == 2
    # the benchmark's result comparison: exact text, numbers within 1e-6, dates with or without midnight
    sys.path.insert(0, bench)
    import tpch
    assert tpch.same([["A", "1.0000001", "1992-01-01 00:00:00"]], [["A", "1.0000000", "1992-01-01"]]) is None
    assert tpch.same([["A", "1.01"]], [["A", "1.02"]]) == "row 1 column 2: '1.01' vs '1.02'"
    assert tpch.same([["A"]], [["B"]]) == "row 1 column 1: 'A' vs 'B'"
    assert tpch.same([["A"]], []) == "1 rows vs 0"


@test
def text_strings_are_found_again_by_later_loads_and_inserts():
    # Dictionary format 2: no hash index on disk; loads and INSERTs find existing strings in memory (a scan of
    # the entries for a few strings, an index for many) and must give them their existing ids.
    d = scratch("dict2")
    db = os.path.join(d, "a.db")
    csv = "id,s\n" + "".join("%d,s%d\n" % (i, i % 70000) for i in range(100000))
    p = load(db, "t", csv, "--create")
    assert p.returncode == 0, p.stderr
    p = load(db, "t", csv)
    assert p.returncode == 0, p.stderr
    run([FACTDB, "sql", db, "INSERT INTO t VALUES (-1, 's5'), (-2, 'fresh')"])
    run([FACTDB, "sql", db, "INSERT INTO t VALUES (-3, 's69999'), (-4, 'fresh')"])
    out = run([FACTDB, "sql", "--format", "csv", db, "SELECT count(*), count(DISTINCT s) FROM t"]).stdout
    assert out.splitlines()[1] == "200004,70001", out
    out = run([FACTDB, "sql", "--format", "csv", db, "SELECT count(*) FROM t WHERE s = 's5'"]).stdout
    assert out.splitlines()[1] == "5", out  # ids 5 and 70005 of each load, and one INSERT
    run([FACTDB, "check", db])
    cleanup(d)


@test
def load_reads_ahead_on_a_second_thread_with_the_same_errors():
    # A reader thread splits, checks and parses records in batches of 2048 while the main thread appends: values
    # it unescaped must survive its next record, and the first error in file order must win, whichever thread
    # finds it (here the appender's "too long" before the reader's bad date in the same record).
    d = scratch("ahead")
    db = os.path.join(d, "a.db")
    run([FACTDB, "sql", db, "CREATE TABLE t (a integer, b text NOT NULL, c date)"])
    recs = ["%d,x%d,2024-01-%02d" % (i, i % 7, 1 + i % 28) for i in range(10000)]
    recs[4096] = '4096,"a""b",2024-01-02'
    recs[4097] = '4097,"c""d",2024-01-02'
    p = load(db, "t", "a,b,c\n" + "\n".join(recs) + "\n")
    assert p.returncode == 0, p.stderr
    out = run([FACTDB, "sql", "--format", "csv", db, "SELECT b FROM t WHERE a IN (4096, 4097) ORDER BY a"]).stdout
    assert out.splitlines()[1:] == ['"a""b"', '"c""d"'], out
    for at, row, want in ((5000, "5000,%s,2024-13-01" % ("y" * ((1 << 20) + 1)), 'line 5002, column "b"'),
                          (7000, "7000,x,2024-13-01", 'line 7002, column "c"'),
                          (9000, "9000,,2024-01-01", "line 9002: column \"b\" is NOT NULL"),
                          (9999, "9999,x", "line 10001 has 2 fields")):
        bad = list(recs)
        bad[at] = row
        p = load(db, "t", "a,b,c\n" + "\n".join(bad) + "\n")
        assert p.returncode == 1 and want in p.stderr.decode(), (at, p.stderr[:300])
    assert rows(db, "t") == 10000
    cleanup(d)


if __name__ == "__main__":
    finish()

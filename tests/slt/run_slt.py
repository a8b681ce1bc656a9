#!/usr/bin/env python3
"""SQLite's sqllogictest corpus with PostgreSQL 15 as the oracle (`make check-slt SLT_DIR=...`).

The corpus's recorded answers are SQLite's; factdb speaks PostgreSQL's dialect, so each file's
statements and queries run in both factdb (a fresh database and `factdb serve` per file) and PostgreSQL
(a fresh schema per file in a throwaway cluster, tests/pgdiff/engines.py), as the engine "postgresql"
of the corpus's skipif/onlyif lines. Each query is one of:

  MATCH       same rows (after the record's sort mode)
  BOTH_ERROR  both engines refuse it
  FDB_ERROR   only factdb refuses it (unsupported: counted by the kind of message)
  PG_ERROR    only PostgreSQL refuses it
  ORDER_DIFF  nosort query whose rows agree as a multiset but not in order (ties of ORDER BY)
  DIVERGED    different answers after a statement that changes data failed in one engine only
              (UPDATE, a table with a constraint factdb refuses, ...): not comparable
  PG_TIMEOUT  PostgreSQL ran out of time (10 s; 1 s when factdb refused the query: select5.test
              joins up to 64 tables)
  CRASH       factdb serve died: the rest of the file is skipped
  WRONG       different answers: listed in full; the exit status is 1 when there is any

Values compare as PostgreSQL prints them, numbers as numbers: in I and R columns 3, 3.0 and 3.000 are
equal and values agree to 12 significant digits (sqllogictest itself prints I as an integer and R with 3
decimals); booleans t/true; everything else as text, exactly.

Usage: run_slt.py [--jobs N] [--sample N] [--max-queries N] [--report F] [--wrong F] SLT_DIR [PATH...]
PATH (default: the set below) is a file or directory under SLT_DIR; --sample N takes N files per
directory, spread evenly over its sorted list."""
import argparse
import collections
import decimal
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pgdiff"))
import engines  # noqa: E402

BUILD = os.environ.get("FACTDB_BUILD", os.path.join(HERE, "..", "..", "build"))
FACTDB = os.path.join(BUILD, "factdb")
DEFAULT_PATHS = ["select1.test", "select2.test", "select3.test", "select4.test", "select5.test", "evidence",
                 "random/aggregates", "random/expr", "random/groupby", "random/select"]
HOW_TO_GET = """The sqllogictest corpus is not part of factdb (third-party files). Get it with
  fossil clone https://www.sqlite.org/sqllogictest/ slt.fossil && fossil open slt.fossil
or from the GitHub mirror
  git clone https://github.com/gregrahn/sqllogictest && make check-slt SLT_DIR=$PWD/sqllogictest/test
and point SLT_DIR at its test/ directory."""
ENGINE = "postgresql"
PG_TIMEOUT_MS = 10000
PG_SHORT_TIMEOUT_MS = 1000


def parse(path):
    """Yields records: ("statement", ok_expected, sql) or ("query", types, sortmode, sql); stops at
    `halt`. Records are blocks separated by blank lines; skipif/onlyif lines are applied here."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    i, n = 0, len(lines)
    while i < n:
        line = lines[i].rstrip("\r")
        if not line.strip() or line.startswith("#"):
            i += 1
            continue
        block = []
        while i < n and lines[i].strip():
            block.append(lines[i].rstrip("\r"))
            i += 1
        skip = False
        while block and (block[0].startswith("skipif") or block[0].startswith("onlyif")):
            words = block[0].split()
            eng = words[1] if len(words) > 1 else ""
            if block[0].startswith("skipif") and eng == ENGINE:
                skip = True
            if block[0].startswith("onlyif") and eng != ENGINE:
                skip = True
            block.pop(0)
        if not block:
            continue
        head = block[0].split()
        if head[0] == "halt":
            if skip:
                continue
            return
        if skip or head[0] == "hash-threshold":
            continue
        if head[0] == "statement":
            yield ("statement", len(head) > 1 and head[1] == "ok", "\n".join(block[1:]))
        elif head[0] == "query":
            body = block[1:]
            if "----" in body:
                body = body[:body.index("----")]
            types = head[1] if len(head) > 1 else ""
            sortmode = head[2] if len(head) > 2 else "nosort"
            yield ("query", types, sortmode, "\n".join(body))


# Statements that change no table's rows: when one of them fails in one engine only, the data still agree.
NO_DATA = re.compile(r"\s*(CREATE\s+(UNIQUE\s+)?INDEX|DROP\s+INDEX|CREATE\s+(TEMP\w*\s+)?VIEW|DROP\s+VIEW|"
                     r"CREATE\s+TRIGGER|DROP\s+TRIGGER|REINDEX|ANALYZE)\b", re.I)
NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def norm(v, letter):
    if v is None:
        return "NULL"
    if v in ("t", "true"):
        return "true"
    if v in ("f", "false"):
        return "false"
    if letter in ("I", "R") and NUM.match(v):
        d = decimal.Decimal(v)
        if d == d.to_integral_value():
            return str(int(d))
        return "%.12g" % float(d)
    if v == "":
        return "(empty)"
    return v


def norm_rows(res, types):
    rows = []
    for r in res[3]:
        rows.append(tuple(norm(v, types[j] if j < len(types) else "T") for j, v in enumerate(r)))
    return rows


def compare(types, sortmode, pg, fd):
    """MATCH, ORDER_DIFF or WRONG for two row results."""
    a, b = norm_rows(pg, types), norm_rows(fd, types)
    if len(pg[1]) != len(fd[1]):
        return "WRONG"
    if sortmode == "rowsort":
        return "MATCH" if sorted(a) == sorted(b) else "WRONG"
    if sortmode == "valuesort":
        return "MATCH" if sorted(v for r in a for v in r) == sorted(v for r in b for v in r) else "WRONG"
    if a == b:
        return "MATCH"
    return "ORDER_DIFF" if sorted(a) == sorted(b) else "WRONG"


def error_kind(msg):
    """The kind of an error message: its first clause, names, numbers and quoted parts taken out."""
    m = msg.split("\n")[0].split("; ")[0]
    m = re.sub(r'"[^"]*"', '"…"', m)
    m = re.sub(r"'[^']*'", "'…'", m)
    m = re.sub(r"\b\d+\b", "N", m)
    m = re.sub(r"\s*\((see|factdb|use|table\.column)[^)]*\)", "", m).strip()
    return m[:100]


def show(res):
    if res[0] == "error":
        return "ERROR %s: %s" % (res[1], res[2].split("\n")[0])
    if res[0] == "ok":
        return "(no rows result)"
    rows = res[3]
    text = "; ".join(" | ".join("NULL" if v is None else v for v in r) for r in rows[:20])
    return "%d rows: %s%s" % (len(rows), text, " ..." if len(rows) > 20 else "")


def run_file(args):
    """Runs one file in both engines; returns (path, counts, fdb error kinds, pg error kinds, findings)."""
    path, pg_dir, pg_port, max_queries, schema = args
    counts = collections.Counter()
    kinds = collections.Counter()
    pg_kinds = collections.Counter()
    findings = []
    examples = {}
    tmp = tempfile.mkdtemp(prefix="factdb-slt-")
    conn = engines.PgConn(os.path.join(pg_dir, ".s.PGSQL.%d" % pg_port), "postgres")
    fd = None
    try:
        conn.query("DROP SCHEMA IF EXISTS %s CASCADE" % schema)
        conn.query("CREATE SCHEMA %s" % schema)
        conn.query("SET search_path TO %s" % schema)
        # select5.test joins up to 64 tables: PostgreSQL may plan and run one of them for minutes
        conn.query("SET statement_timeout = %d" % PG_TIMEOUT_MS)
        fd = engines.FactdbServer(FACTDB, os.path.join(tmp, "slt.factdb"), os.path.join(tmp, "serve.log"))
        nq = 0
        diverged = False
        for rec in parse(path):
            if rec[0] == "statement":
                sql = rec[2]
                p, f = conn.query(sql), fd.query(sql)
                if p[0] != "error" and f[0] == "error":
                    counts["statement FDB_ERROR"] += 1
                    kind = "(statement) %s: %s" % (f[1], error_kind(f[2]))
                    kinds[kind] += 1
                    examples.setdefault(kind, sql)
                    diverged = diverged or not NO_DATA.match(sql)
                elif p[0] == "error" and f[0] != "error":
                    counts["statement PG_ERROR"] += 1
                    diverged = diverged or not NO_DATA.match(sql)
                else:
                    counts["statement same"] += 1
                continue
            _, types, sortmode, sql = rec
            nq += 1
            if max_queries and nq > max_queries:
                break
            try:
                f = fd.query(sql)
            except RuntimeError as e:
                counts["CRASH"] += 1
                findings.append(("CRASH", path, sql, str(e)[:3000], show(conn.query(sql))))
                break
            if f[0] == "error":
                # factdb refuses it: whether PostgreSQL answers only decides the class, so it gets 1 s
                conn.query("SET statement_timeout = %d" % PG_SHORT_TIMEOUT_MS)
                p = conn.query(sql)
                conn.query("SET statement_timeout = %d" % PG_TIMEOUT_MS)
            else:
                p = conn.query(sql)
            if p[0] == "error" and p[1] == "57014":
                cls = "PG_TIMEOUT"
            elif p[0] == "error" and f[0] == "error":
                cls = "BOTH_ERROR"
            elif f[0] == "error":
                cls = "FDB_ERROR"
                kind = "%s: %s" % (f[1], error_kind(f[2]))
                kinds[kind] += 1
                examples.setdefault(kind, sql)
            elif p[0] == "error":
                cls = "PG_ERROR"
                pg_kinds[error_kind(p[2])] += 1
                findings.append(("PG_ERROR", path, sql, show(f), show(p)))
            elif p[0] != "rows" or f[0] != "rows":
                cls = "WRONG"
            else:
                cls = compare(types, sortmode, p, f)
                if diverged and cls in ("WRONG", "ORDER_DIFF"):
                    cls = "DIVERGED"
            counts[cls] += 1
            if cls in ("WRONG", "ORDER_DIFF"):
                findings.append((cls, path, sql, show(f), show(p)))
    finally:
        if fd is not None:
            fd.close()
        try:
            conn.query("SET search_path TO public")
            conn.query("DROP SCHEMA IF EXISTS %s CASCADE" % schema)
        finally:
            conn.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return path, counts, kinds, pg_kinds, findings, examples


def collect(slt_dir, paths, sample):
    files = []
    for p in paths:
        full = os.path.join(slt_dir, p)
        if os.path.isdir(full):
            found = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(full) for f in fs if f.endswith(".test"))
            if sample and len(found) > sample:
                step = len(found) / sample
                found = [found[int(i * step)] for i in range(sample)]
            files += found
        elif os.path.isfile(full):
            files.append(full)
        else:
            raise FileNotFoundError(full)
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("slt_dir", nargs="?")
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--sample", type=int, default=0, help="files per directory (0: all)")
    ap.add_argument("--max-queries", type=int, default=0, help="queries per file (0: all)")
    ap.add_argument("--report", default="slt-report.txt")
    ap.add_argument("--wrong", default="slt-wrong.txt")
    a = ap.parse_args()
    if not a.slt_dir or not os.path.isdir(a.slt_dir):
        print("SLT_DIR %s is not a directory.\n%s" % (a.slt_dir or "(not given)", HOW_TO_GET), file=sys.stderr)
        return 2
    if not os.access(FACTDB, os.X_OK):
        print("%s not found: run make first (or set FACTDB_BUILD)" % FACTDB, file=sys.stderr)
        return 2
    try:
        files = collect(a.slt_dir, a.paths or DEFAULT_PATHS, a.sample)
    except FileNotFoundError as e:
        print("%s does not exist under SLT_DIR.\n%s" % (e, HOW_TO_GET), file=sys.stderr)
        return 2
    t0 = time.time()
    counts = collections.Counter()
    kinds = collections.Counter()
    pg_kinds = collections.Counter()
    findings = []
    per_dir = collections.defaultdict(collections.Counter)
    examples = {}
    with engines.PgCluster() as pg:
        jobs = [(f, pg.dir, pg.port, a.max_queries, "slt%d" % i) for i, f in enumerate(files)]
        done_files = []
        pool = multiprocessing.Pool(a.jobs)
        try:
            for done, (path, c, k, pk, fi, ex) in enumerate(pool.imap_unordered(run_file, jobs), 1):
                for kind, sql in ex.items():
                    examples.setdefault(kind, sql)
                counts.update(c)
                kinds.update(k)
                pg_kinds.update(pk)
                findings += fi
                done_files.append(path)
                per_dir[os.path.relpath(os.path.dirname(path), a.slt_dir) or "."].update(c)
                print("[%d/%d] %s: %s" % (done, len(files), os.path.relpath(path, a.slt_dir),
                                         " ".join("%s=%d" % kv for kv in sorted(c.items()))), flush=True)
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM: report the files that finished
            print("interrupted: reporting the %d files that finished" % len(done_files), flush=True)
            files = done_files
        finally:
            pool.terminate()
            pool.join()
    classes = ["MATCH", "BOTH_ERROR", "FDB_ERROR", "PG_ERROR", "PG_TIMEOUT", "ORDER_DIFF", "DIVERGED", "WRONG",
               "CRASH"]
    tried = sum(counts[c] for c in classes)
    lines = ["sqllogictest with PostgreSQL as the oracle: %d files, %.0f s" % (len(files), time.time() - t0),
             "files: " + " ".join(os.path.relpath(f, a.slt_dir) for f in files),
             "", "queries tried: %d" % tried]
    for c in classes:
        lines.append("  %-11s %7d  %5.1f%%" % (c, counts[c], 100.0 * counts[c] / max(tried, 1)))
    both_ok = counts["MATCH"] + counts["WRONG"] + counts["ORDER_DIFF"]
    lines.append("match rate: %.1f%% of all queries, %.2f%% of those both engines answered"
                 % (100.0 * counts["MATCH"] / max(tried, 1), 100.0 * counts["MATCH"] / max(both_ok, 1)))
    lines.append("statements: same %d, factdb-only error %d, PostgreSQL-only error %d"
                 % (counts["statement same"], counts["statement FDB_ERROR"], counts["statement PG_ERROR"]))
    lines.append("")
    lines.append("per directory:")
    for d in sorted(per_dir):
        c = per_dir[d]
        lines.append("  %-20s " % d + " ".join("%s=%d" % (k, c[k]) for k in classes if c[k]))
    lines.append("")
    lines.append("top factdb error kinds (queries factdb refuses and PostgreSQL answers):")
    for k, v in kinds.most_common(25):
        lines.append("  %7d  %s\n           e.g. %s" % (v, k, " ".join(examples.get(k, "").split())[:300]))
    lines.append("")
    lines.append("PostgreSQL-only error kinds (factdb answers):")
    for k, v in pg_kinds.most_common(15):
        lines.append("  %7d  %s" % (v, k))
    wrong = [f for f in findings if f[0] in ("WRONG", "CRASH")]
    order = [f for f in findings if f[0] == "ORDER_DIFF"]
    pgerr = [f for f in findings if f[0] == "PG_ERROR"]
    out = []
    for title, group in (("WRONG / CRASH", wrong), ("ORDER_DIFF (same rows, other order)", order),
                         ("PG_ERROR (factdb answers, PostgreSQL refuses)", pgerr)):
        out.append("==== %s: %d ====" % (title, len(group)))
        for cls, path, sql, fans, pans in group:
            out.append("-- %s %s\n%s\n  factdb:     %s\n  postgresql: %s\n" %
                       (cls, os.path.relpath(path, a.slt_dir), sql, fans, pans))
    with open(a.wrong, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    with open(a.report, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n\nWRONG, ORDER_DIFF and PG_ERROR queries in full: %s\n" % a.wrong)
    print("\n".join(lines))
    print("WRONG: %d, CRASH: %d (all of them in %s)" % (len(wrong) - counts["CRASH"], counts["CRASH"], a.wrong))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())

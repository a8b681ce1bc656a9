"""python -m factdb [--format table|csv|json|ndjson] DB ["SQL" ...]: runs statements and prints their
results as `factdb sql` does (a table on a terminal, CSV otherwise; statements from standard input when
no SQL is given), for quick checks from a Python environment."""
import sys
import unicodedata

import factdb


def _width(s):
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1 for ch in s)


def _print_table(cur, out):
    names = [d[0] for d in cur.description]
    rows = [[v if v is not None else "" for v in r] for r in cur._fetchtext()]
    widths = [max([_width(n)] + [_width(r[i]) for r in rows]) for i, n in enumerate(names)]
    line = []
    for c, (n, w) in enumerate(zip(names, widths)):
        left = (w - _width(n)) // 2
        line.append(("| " if c else " ") + " " * left + n + " " * (w - _width(n) - left + 1))
    out.write("".join(line) + "\n")
    out.write("+".join("-" * (w + 2) for w in widths) + "\n")
    numeric = [d[1] in ("integer", "bigint", "double precision") or d[1].startswith("numeric") for d in cur.description]
    for r in rows:
        cells = []
        for c, (v, w, num) in enumerate(zip(r, widths, numeric)):
            pad = " " * (w - _width(v))
            cells.append(("| " if c else " ") + (pad + v + " " if num else v + pad + " "))
        out.write("".join(cells) + "\n")
    out.write("(%d row%s)\n\n" % (len(rows), "" if len(rows) == 1 else "s"))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    fmt = "table" if sys.stdout.isatty() else "csv"
    if "--format" in argv:
        i = argv.index("--format")
        if i + 1 >= len(argv) or argv[i + 1] not in ("table", "csv", "json", "ndjson"):
            sys.stderr.write("factdb: --format takes table, csv, json or ndjson\n")
            return 2
        fmt = argv[i + 1]
        del argv[i:i + 2]
    if len(argv) < 1 or argv[0] in ("-h", "--help"):
        sys.stderr.write("usage: python -m factdb [--format table|csv|json|ndjson] DB [SQL ...]\n"
                         "Runs the SQL (or standard input) on DB and prints the results like `factdb sql`.\n")
        return 2
    sqls = argv[1:] or [sys.stdin.read()]
    try:
        con = factdb.connect(argv[0])
    except factdb.Error as e:
        sys.stderr.write("factdb: %s\n" % e)
        return 1
    for sql in sqls:
        try:
            cur = con.execute(sql)
        except factdb.Error as e:
            msg = "ERROR:  %s" % e
            if e.position:
                msg += " (at position %d)" % e.position
            sys.stderr.write(msg + "\n")
            return 1
        if cur.description is None:
            if fmt == "table" and cur.statusmessage:
                sys.stdout.write(cur.statusmessage + "\n")  # as factdb sql prints it on a terminal
            continue
        if fmt == "table":
            _print_table(cur, sys.stdout)
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(cur._render(fmt))
            sys.stdout.buffer.flush()
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""python -m factdb DB "SQL" [...]: runs statements and prints results like `factdb sql` (aligned columns,
then the row count), for quick checks. --csv prints CSV instead."""
import sys

import factdb


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "t" if v else "f"
    return str(v)


def _print_table(cur, out):
    names = [d[0] for d in cur.description]
    rows = [[_fmt(v) for v in r] for r in cur.fetchall()]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    out.write(" " + " | ".join(n.center(w) for n, w in zip(names, widths)).rstrip() + "\n")
    out.write("-" + "-+-".join("-" * w for w in widths) + "-\n")
    numeric = [factdb.NUMBER == d[1] and d[1] != "boolean" for d in cur.description]
    for r in rows:
        cells = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric)]
        out.write(" " + " | ".join(cells).rstrip() + "\n")
    out.write("(%d row%s)\n\n" % (len(rows), "" if len(rows) == 1 else "s"))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    csv_mode = "--csv" in argv
    if csv_mode:
        argv.remove("--csv")
    if len(argv) < 1 or argv[0] in ("-h", "--help"):
        sys.stderr.write("usage: python -m factdb [--csv] DB [SQL ...]   (SQL from standard input when omitted)\n")
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
                msg += "\nLINE: %s\n%s^" % (sql.replace("\n", " "), " " * (e.position + 5))
            sys.stderr.write(msg + "\n")
            return 1
        if cur.description is None:
            continue
        if csv_mode:
            import csv
            w = csv.writer(sys.stdout, lineterminator="\n")
            w.writerow([d[0] for d in cur.description])
            for r in cur.fetchall():
                w.writerow([_fmt(v) for v in r])
        else:
            _print_table(cur, sys.stdout)
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

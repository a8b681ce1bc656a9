#!/usr/bin/python3
"""Checks that src/'s layers depend one way: a file may include headers of its own layer and of the layers
below it, never of one above. Every `#include "..."` (and `<...>` that names a file under src/) of every .c
and .h under src/ is resolved as the compiler does (the file's own folder, then -Isrc, then -Iinclude) and
its layer is the folder under src/ it lands in. Exit status 1, with one line per offending include naming
the file and line, when an include goes up or into a folder the order below does not list.

With --symbols OBJDIR it checks calls the same way, on built objects (OBJDIR/src/<layer>/*.o, e.g. build/obj):
an object that uses a function or variable defined in a layer above it fails, which catches what includes
cannot (a prototype written out by hand instead of included).

Usage: scripts/check_layers.py [ROOT]                  (ROOT: the repository; default: this script's parent's parent)
       scripts/check_layers.py --symbols OBJDIR [ROOT]
       scripts/check_layers.py --self-test             (checks that an upward include is caught)
`make check-layers` runs the include check and the self-test; `make test` depends on it and runs the symbol
check on the optimized build.

docs/design.md ("Source layers") says why the order is what it is."""
import os
import re
import subprocess
import sys
import tempfile

# Lowest first. A layer may include itself and anything earlier in the list.
# - base: errors, buffers, dates, numbers, and the SQL types and arena src/sql and src/exec share (sqltype.h)
# - enc, store: column encodings; LMDB and the on-disk format
# - ingest: CSV/JSON readers; they append through the store's appender (the public API) and need nothing of
#   the query engine
# - exec < sql < plan: executor, parser and binder (which produce exec's bound trees), planner
# - session: the statement runner behind factdb_session_* / factdb_result_* / factdb_writer_* (plans and
#   runs statements; COPY FROM uses ingest)
# - http: `factdb serve`; its handlers reach storage through the table of operations of http/backend.h
# - pg: the PostgreSQL backend (issue 14), an implementation of http/backend.h; cli hands its opener to http
#   (http_opts.open_pg), so http never names it
# - cli: the `factdb` command, on top of everything
LAYERS = ["base", "enc", "store", "ingest", "exec", "sql", "plan", "session", "http", "pg", "cli"]

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def layer_of(path, src):
    """The layer (first folder under src/) of an absolute path, or None when it is not under src/."""
    rel = os.path.relpath(path, src)
    if rel.startswith(".."):
        return None
    parts = rel.split(os.sep)
    return parts[0] if len(parts) > 1 else ""


def resolve(name, quote, here, src, include):
    """The file `#include "name"` in folder `here` reads, or None (a system header)."""
    dirs = ([here] if quote == '"' else []) + [src, include]
    for d in dirs:
        p = os.path.normpath(os.path.join(d, name))
        if os.path.isfile(p):
            return p
    return None


def check(root):
    """Returns the list of violation messages for the repository at root."""
    src = os.path.join(root, "src")
    include = os.path.join(root, "include")
    rank = {name: i for i, name in enumerate(LAYERS)}
    order = " < ".join(LAYERS)
    bad = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for fn in sorted(filenames):
            if not fn.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, fn)
            shown = os.path.relpath(path, root)
            mine = layer_of(path, src)
            if mine not in rank:
                bad.append(f"{shown}:1: src/{mine} is not a declared layer: add it to LAYERS in "
                           f"scripts/check_layers.py at its place in the order ({order})")
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    quote, name = m.group(1), m.group(2)
                    target = resolve(name, quote, dirpath, src, include)
                    if target is None:
                        if quote == '"':
                            bad.append(f"{shown}:{lineno}: #include \"{name}\" names no file of the repository "
                                       f"(looked in {os.path.relpath(dirpath, root)}/, src/ and include/)")
                        continue
                    theirs = layer_of(target, src)
                    if theirs is None:
                        continue  # include/factdb.h: the public API, open to every layer
                    if theirs not in rank:
                        bad.append(f"{shown}:{lineno}: includes {os.path.relpath(target, root)} of src/{theirs}, "
                                   f"which is not a declared layer: add it to LAYERS in scripts/check_layers.py "
                                   f"({order})")
                    elif rank[theirs] > rank[mine]:
                        bad.append(f"{shown}:{lineno}: src/{mine} includes {os.path.relpath(target, root)} of "
                                   f"src/{theirs}, a layer above it ({order}); move what both need down to "
                                   f"src/{mine} or below, or move this code up")
    return bad


def check_symbols(objdir, root):
    """Violation messages for objects under objdir/src/<layer>/ that use a symbol defined in a higher layer.
    Objects whose source file no longer exists (left behind by a move) are skipped."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    order = " < ".join(LAYERS)
    defined, used = {}, []
    base = os.path.join(objdir, "src")
    for layer in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        for fn in sorted(os.listdir(os.path.join(base, layer))):
            if not fn.endswith(".o") or not os.path.isfile(os.path.join(root, "src", layer, fn[:-2] + ".c")):
                continue
            obj = os.path.join(base, layer, fn)
            out = subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True).stdout
            for line in out.splitlines():
                parts = line.split()
                if len(parts) < 2:
                    continue
                if parts[1] == "U":
                    used.append((f"src/{layer}/{fn[:-2]}.c", layer, parts[0]))
                elif parts[1] in "TDBRC":   # global text, data, bss, read-only, common
                    defined[parts[0]] = layer
    bad = []
    for src, layer, sym in used:
        theirs = defined.get(sym)
        if layer not in rank:
            continue  # reported by the include check
        if theirs in rank and rank[theirs] > rank[layer]:
            bad.append(f"{src}: src/{layer} uses {sym}, defined in src/{theirs}, a layer above it ({order})")
    return bad


def self_test():
    """An upward include, an undeclared folder and a sideways path fail; downward and same-layer ones pass."""
    with tempfile.TemporaryDirectory() as root:
        def put(rel, text):
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
        put("include/factdb.h", "")
        put("src/base/base.h", '#include "factdb.h"\n')
        put("src/exec/exec.h", '#include "base/base.h"\n#include <stdio.h>\n')
        put("src/exec/run.c", '#include "exec.h"\n')
        put("src/sql/sql.h", '#include "exec/exec.h"\n')
        assert check(root) == [], check(root)
        put("src/exec/up.c", '#include "exec.h"\n  # include "sql/sql.h"\n')
        put("src/exec/rel.c", '#include "../sql/sql.h"\n')
        put("src/exec/angle.c", '#include <sql/sql.h>\n')
        put("src/newdir/x.c", '#include "base/base.h"\n')
        got = check(root)
        want = ["src/exec/angle.c:1: src/exec includes src/sql/sql.h",
                "src/exec/rel.c:1: src/exec includes src/sql/sql.h",
                "src/exec/up.c:2: src/exec includes src/sql/sql.h",
                "src/newdir/x.c:1: src/newdir is not a declared layer"]
        assert len(got) == len(want) and all(g.startswith(w) for g, w in zip(got, want)), got
        # calls: exec's prototype written by hand reaches plan; plan calling exec is fine
        put("src/exec/call.c", "int plan_go(void);\nint exec_go(void) { return plan_go(); }\n")
        put("src/plan/go.c", "int exec_go(void);\nint plan_go(void) { return 1; }\nint plan_run(void) { return exec_go(); }\n")
        for layer, name in (("exec", "call"), ("plan", "go")):
            os.makedirs(os.path.join(root, "obj/src", layer), exist_ok=True)
            subprocess.run(["cc", "-c", "-o", os.path.join(root, "obj/src", layer, name + ".o"),
                            os.path.join(root, "src", layer, name + ".c")], check=True)
        got = check_symbols(os.path.join(root, "obj"), root)
        assert len(got) == 1 and got[0].startswith("src/exec/call.c: src/exec uses plan_go, defined in src/plan"), got
    print("check_layers self-test: ok")


def main():
    args = sys.argv[1:]
    if args == ["--self-test"]:
        self_test()
        return 0
    objdir = None
    if args[:1] == ["--symbols"] and len(args) >= 2:
        objdir, args = args[1], args[2:]
    if len(args) > 1 or (args and args[0].startswith("-")):
        print(__doc__, file=sys.stderr)
        return 2
    root = args[0] if args else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bad = check_symbols(objdir, root) if objdir else check(root)
    what = "use(s) of a symbol" if objdir else "include(s)"
    for b in bad:
        print(b, file=sys.stderr)
    if bad:
        print(f"check_layers: {len(bad)} {what} break the layer order", file=sys.stderr)
        return 1
    if objdir:
        print(f"check_layers: every object of {objdir}/src uses symbols of its own layer or one below")
    else:
        print("check_layers: every include of src/ goes to its own layer or one below (" + " < ".join(LAYERS) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())

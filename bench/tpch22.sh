#!/usr/bin/env bash
# bench/tpch22.sh: the 22 TPC-H queries, factdb against DuckDB at 2 threads each (part of make bench;
# alone: make bench-tpch22). Writes the 8 tables at scale factor FACTDB_TPCH22_SF (default 1) with
# bench/tpch_gen.c into bench/data/tpch22_sf<SF>/ (kept for the next run), then bench/tpch22.py loads them
# into both engines and runs tests/tpch/queries. Prints a markdown section for docs/benchmarks.md on
# stdout; exits non-zero if the engines' results differ or factdb crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
SF=${FACTDB_TPCH22_SF:-1}
RUNS=${FACTDB_BENCH_RUNS:-4}
B=${FACTDB_BUILD:-build}
D=bench/data
mkdir -p "$D"
. bench/deps.sh
DIR="$D/tpch22_sf$SF"
[ -d "$DIR" ] || { echo "generating $DIR" >&2; rm -rf "$DIR.tmp"; "$B/bench-tpch-gen" --tables "$SF" "$DIR.tmp" && mv "$DIR.tmp" "$DIR"; }
FACTDB_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown) FACTDB_BENCH_SCRIPT="bench/tpch22.sh (\`make bench-tpch22\`, part of \`make bench\`)" \
  FACTDB_BENCH_GEN="bench/tpch_gen.c (\`bench-tpch-gen --tables $SF\`)" \
  /usr/bin/python3 bench/tpch22.py tests/tpch "$DIR" "$D/tpch22_work" "$SF" "$RUNS" "$B" "TPC-H, 22 queries"

#!/usr/bin/env bash
# bench/tpch.sh: the TPC-H lineitem benchmark (part of make bench; alone: make bench-tpch). Generates the
# lineitem CSV at scale factor FACTDB_TPCH_SF (default 1; 3 for 18 million rows) with bench/tpch_gen.c,
# then bench/tpch.py loads it into factdb, DuckDB and SQLite and runs bench/tpch_queries.txt with factdb
# and DuckDB at 1 and 2 threads and SQLite. Prints a markdown section for docs/benchmarks.md on stdout;
# exits non-zero if the engines' results differ.
set -euo pipefail
cd "$(dirname "$0")/.."
SF=${FACTDB_TPCH_SF:-1}
RUNS=${FACTDB_BENCH_RUNS:-5}
B=${FACTDB_BUILD:-build}
D=bench/data
mkdir -p "$D"
. bench/deps.sh
CSV="$D/lineitem_sf$SF.csv"
[ -f "$CSV" ] || { echo "generating $CSV" >&2; "$B/bench-tpch-gen" "$SF" "$CSV.tmp" && mv "$CSV.tmp" "$CSV"; }
FACTDB_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown) python3 bench/tpch.py "$CSV" "$D/tpch" "$SF" "$RUNS" "$B"

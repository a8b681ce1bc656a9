#!/usr/bin/env bash
# bench/ssb.sh: the Star Schema Benchmark's 13 queries, factdb against DuckDB at 2 threads each (part of
# make bench; alone: make bench-ssb). Writes the 5 tables at scale factor FACTDB_SSB_SF (default 1) with
# bench/ssb_gen.c into bench/data/ssb_sf<SF>/ (kept for the next run), then bench/tpch22.py loads them
# into both engines and runs tests/ssb/queries. Prints a markdown section for docs/benchmarks.md on
# stdout; exits non-zero if the engines' results differ or factdb crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
SF=${FACTDB_SSB_SF:-1}
RUNS=${FACTDB_BENCH_RUNS:-4}
B=${FACTDB_BUILD:-build}
D=bench/data
mkdir -p "$D"
. bench/deps.sh
DIR="$D/ssb_sf$SF"
[ -d "$DIR" ] || { echo "generating $DIR" >&2; rm -rf "$DIR.tmp"; "$B/bench-ssb-gen" "$SF" "$DIR.tmp" && mv "$DIR.tmp" "$DIR"; }
FACTDB_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown) FACTDB_BENCH_SCRIPT="bench/ssb.sh (\`make bench-ssb\`, part of \`make bench\`)" \
  FACTDB_BENCH_GEN="bench/ssb_gen.c (\`bench-ssb-gen $SF\`)" \
  /usr/bin/python3 bench/tpch22.py tests/ssb "$DIR" "$D/ssb_work" "$SF" "$RUNS" "$B" "Star Schema Benchmark, 13 queries"

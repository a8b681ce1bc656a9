#!/usr/bin/env bash
# make bench, after run.sh: how long a one-row write waits while `factdb load` loads the bench's sales CSV
# into another table of the same file. Prints a markdown section for docs/benchmarks.md on standard
# output (progress on standard error). The writer is procdriver's `latency` mode: one-row commits every
# 20 ms through the public appender API (what `factdb serve` and `factdb sql` INSERT use), each timed from
# the appender's creation to its durable commit, i.e. including any wait for the write lock.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${FACTDB_BENCH_ROWS:-6000000}
B=${FACTDB_BENCH_BUILD:-build}
D=bench/data
mkdir -p "$D"
CSV="$D/sales_$ROWS.csv"
[ -f "$CSV" ] || { echo "generating $CSV" >&2; "$B/bench-gen" "$ROWS" > "$CSV.tmp" && mv "$CSV.tmp" "$CSV"; }
db="$D/gate.db"
rm -f "$db" "$db-lock"
head -n 1001 "$CSV" > "$D/gate_head.csv"
"$B/factdb" load --create "$db" sales "$D/gate_head.csv" >/dev/null  # the table, with the types of the CSV
"$B/procdriver" create "$db" events
echo "load gate: inserts with no load running" >&2
"$B/procdriver" latency "$db" events 1 50 20 > "$D/gate_base.txt"
echo "load gate: inserts during a load of $CSV" >&2
t0=$(date +%s.%N)
"$B/factdb" load "$db" sales "$CSV" >/dev/null &
lp=$!
sleep 0.2
"$B/procdriver" latency "$db" events 2 100000000 20 > "$D/gate_lat.txt" &
ip=$!
wait $lp
t1=$(date +%s.%N)
kill $ip
wait $ip || true
"$B/factdb" check "$db" >/dev/null
python3 - "$D/gate_base.txt" "$D/gate_lat.txt" "$(echo "$t1 - $t0" | bc -l)" "$CSV" <<'PY'
import os, statistics, sys
def lat(p):
    return [float(l.split()[1]) for l in open(p) if l.startswith("lat")]
base, during, load_s = lat(sys.argv[1]), lat(sys.argv[2]), float(sys.argv[3])
mb = os.path.getsize(sys.argv[4]) / 1e6
print()
print("## A write during a load (ms)")
print()
print("One-row commits every 20 ms into another table of the file (bench/load_gate.sh) while `factdb load` loads")
print("the %.0f MB CSV above into an existing table (%.1f s). A load takes the write lock for one chunk at a time" % (mb, load_s))
print("(65,536 rows), so a writer waits for one chunk's transaction at most, not for the load. Before (commit")
print("8900d0a) a load held the lock from its first chunk to its end: the first commit during this load waited")
print("the whole 10 s busy timeout and failed with BUSY.")
print()
print("| | commits | p50 | max |")
print("|---|---:|---:|---:|")
print("| no load running | %d | %.1f | %.1f |" % (len(base), statistics.median(base), max(base)))
print("| during the load | %d | %.1f | %.1f |" % (len(during), statistics.median(during), max(during)))
PY
rm -f "$db" "$db-lock" "$D/gate_head.csv" "$D/gate_base.txt" "$D/gate_lat.txt"

#!/usr/bin/env bash
# The HTTP benchmark (part of make bench): factdb serve against the FastAPI + SQLite (WAL) baseline
# (bench/fastapi_app.py under uvicorn, 2 workers) on loopback, with wrk: single-row inserts from 64
# keep-alive connections (each answered once durable), and POST /v1/sql SELECT count(*) FROM sales on the
# 6M-row table. Prints "name requests_per_second" lines.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build
D=bench/data
SECS=${FACTDB_BENCH_HTTP_SECONDS:-10}
# Debian's python3 (the packages python3-fastapi and python3-uvicorn belong to it)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
need=""
command -v wrk >/dev/null || need="$need wrk"
$PY -c 'import fastapi, uvicorn' 2>/dev/null || need="$need python3-fastapi python3-uvicorn"
if [ -n "$need" ]; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq $need >/dev/null; else echo "run: sudo apt-get install -y$need" >&2; exit 1; fi
fi
cat > "$D/insert.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '[{"at":"2024-01-01 10:00:00","kind":"bench","amount":1.5,"n":1}]'
wrk.headers["Content-Type"] = "application/json"
LUA
cat > "$D/count.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"sql":"SELECT count(*) FROM sales"}'
wrk.headers["Content-Type"] = "application/json"
LUA
rps() { awk '/^Requests\/sec:/ { print $2 }'; }
bad() { awk 'BEGIN { n = 0 } /Non-2xx/ { n = $NF } END { print n }'; }
reqs() { awk '/requests in/ { print $1 }'; }

# factdb: a copy of the benchmark database plus an events table
rm -f "$D/h.db" "$D/h.db-lock"
cp "$D/f.db" "$D/h.db"
"$B/factdb" sql "$D/h.db" "CREATE TABLE ev (at timestamp, kind text, amount numeric(10,2), n integer)" >/dev/null
"$B/factdb" serve --port 18181 "$D/h.db" > "$D/serve.out" 2> /dev/null &
spid=$!
for _ in $(seq 50); do grep -q listening "$D/serve.out" 2>/dev/null && break; sleep 0.1; done
fi_out=$(wrk -t2 -c64 -d"${SECS}s" -s "$D/insert.lua" http://127.0.0.1:18181/v1/tables/ev/rows)
fq_out=$(wrk -t2 -c64 -d"${SECS}s" -s "$D/count.lua" http://127.0.0.1:18181/v1/sql)
f_rows=$("$B/factdb" sql --format csv "$D/h.db" "SELECT count(*) FROM ev" | tail -1)
commits=$(curl -s http://127.0.0.1:18181/metrics | awk '$1 == "factdb_commits_total" { print $2 }')
kill -TERM $spid; wait $spid || true
echo "factdb_insert_rps $(echo "$fi_out" | rps) requests=$(echo "$fi_out" | reqs) non2xx=$(echo "$fi_out" | bad) rows=$f_rows commits=$commits"
echo "factdb_count_rps $(echo "$fq_out" | rps) non2xx=$(echo "$fq_out" | bad)"

# FastAPI + SQLite (WAL): a copy of the SQLite benchmark database plus the same events table
rm -f "$D/http.sqlite" "$D/http.sqlite-wal" "$D/http.sqlite-shm"
cp "$D/s.sqlite" "$D/http.sqlite"
sqlite3 "$D/http.sqlite" "PRAGMA journal_mode=WAL; CREATE TABLE ev (at TEXT, kind TEXT, amount REAL, n INTEGER);" >/dev/null
BENCH_SQLITE="$D/http.sqlite" $PY -m uvicorn bench.fastapi_app:app --port 18182 --workers 2 --log-level warning &
upid=$!
for _ in $(seq 100); do curl -s -o /dev/null -XPOST -H 'Content-Type: application/json' -d '{"sql":"SELECT 1"}' http://127.0.0.1:18182/v1/sql && break; sleep 0.1; done
si_out=$(wrk -t2 -c64 -d"${SECS}s" -s "$D/insert.lua" http://127.0.0.1:18182/v1/tables/ev/rows)
sq_out=$(wrk -t2 -c64 -d"${SECS}s" --timeout 30s -s "$D/count.lua" http://127.0.0.1:18182/v1/sql)
s_rows=$(sqlite3 "$D/http.sqlite" "SELECT count(*) FROM ev")
kill -TERM $upid; wait $upid || true
echo "fastapi_insert_rps $(echo "$si_out" | rps) requests=$(echo "$si_out" | reqs) non2xx=$(echo "$si_out" | bad) rows=$s_rows"
echo "fastapi_count_rps $(echo "$sq_out" | rps) non2xx=$(echo "$sq_out" | bad)"

# Sourced by bench/run.sh and bench/tpch.sh: installs what the benchmarks need to compare against DuckDB
# (npm's @duckdb/node-api, pinned by bench/package-lock.json) and SQLite; as root with apt-get, otherwise
# it prints the command and exits. Extra Debian packages may be named in BENCH_EXTRA_PKGS (command = package).
need=""
command -v node >/dev/null || need="$need nodejs"
command -v npm >/dev/null || need="$need npm"
command -v sqlite3 >/dev/null || need="$need sqlite3"
for p in ${BENCH_EXTRA_PKGS:-}; do command -v "$p" >/dev/null || need="$need $p"; done
if [ -n "$need" ]; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq $need >/dev/null; else echo "run: sudo apt-get install -y$need" >&2; exit 1; fi
fi
[ -d bench/node_modules/@duckdb/node-api ] || (cd bench && npm ci --no-audit --no-fund >/dev/null)

#!/usr/bin/env bash
# Installs the Debian packages factdb needs to build and test. As root it runs apt-get; otherwise it
# prints the exact command to run and fails. Usage: scripts/deps.sh build|web|python|test
set -eu
# libpq-dev: the PostgreSQL backend of factdb serve (src/pg)
build_pkgs="gcc make pkg-config liblmdb-dev libxxhash-dev libzstd-dev libedit-dev libmicrohttpd-dev libjansson-dev libpq-dev"
web_pkgs="nodejs npm"
# the Python module (python/, make python) and its tests: Debian's interpreter, pandas/numpy, FastAPI + uvicorn
python_pkgs="python3 python3-dev python3-setuptools python3-pip python3-pytest python3-numpy python3-pandas python3-fastapi python3-uvicorn"
# postgresql-15: the oracle of tests/pgdiff and tests/slt (only its binaries: the tests start their own cluster)
test_pkgs="$build_pkgs $web_pkgs $python_pkgs libcriterion-dev python3 sqlite3 locales chromium clang libclang-rt-14-dev postgresql-15"
case "${1:-build}" in
  build) want=$build_pkgs ;;
  web)   want=$web_pkgs ;;
  python) want="$build_pkgs $python_pkgs" ;;
  test)  want=$test_pkgs ;;
  *) echo "usage: scripts/deps.sh build|web|python|test" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  # Node.js may come from elsewhere than Debian (its npm bundled): the commands are what matters
  case $p in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
    chromium) command -v chromium >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "factdb: installing Debian packages:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || true
    apt-get install -y -qq $missing >/dev/null
  else
    echo "factdb: missing Debian packages:$missing" >&2
    echo "run: sudo apt-get install -y$missing" >&2
    exit 1
  fi
fi
if [ "${1:-build}" = test ]; then
  # The locale tests need a non-English UTF-8 locale and a Latin-1 one.
  if ! locale -a 2>/dev/null | grep -qi '^it_IT.utf8$' || ! locale -a 2>/dev/null | grep -qi '^it_IT$'; then
    if [ "$(id -u)" = 0 ]; then
      sed -i -e 's/^# *\(it_IT.UTF-8 UTF-8\)/\1/' -e 's/^# *\(it_IT ISO-8859-1\)/\1/' /etc/locale.gen
      grep -q '^it_IT.UTF-8 UTF-8' /etc/locale.gen || echo 'it_IT.UTF-8 UTF-8' >> /etc/locale.gen
      grep -q '^it_IT ISO-8859-1' /etc/locale.gen || echo 'it_IT ISO-8859-1' >> /etc/locale.gen
      locale-gen >/dev/null
    else
      echo "factdb: the locale tests need it_IT.UTF-8 and it_IT (ISO-8859-1); run as root:" >&2
      echo "  sed -i 's/^# *it_IT/it_IT/' /etc/locale.gen && locale-gen" >&2
      exit 1
    fi
  fi
fi

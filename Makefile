# factdb build. `make` builds build/factdb and the libraries; `make test` builds and runs every test;
# `make run` is the main job; `make bench` the benchmarks. Missing Debian packages are installed by
# scripts/deps.sh (apt-get as root, else it prints the command).
CC ?= cc
CFLAGS ?= -O3 -g
WARN = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CPPFLAGS = -Iinclude -Isrc
# libpq: only src/pg includes it (PG_CFLAGS for its objects), the server links it
PG_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
PG_LIBS := $(shell pkg-config --libs libpq 2>/dev/null || echo -lpq)
LIBS = -llmdb -lxxhash -lzstd -lpthread -lm
CLI_LIBS = -ledit -lmicrohttpd -ljansson $(PG_LIBS)
BUILD ?= build

LIB_SRC = $(wildcard src/base/*.c src/enc/*.c src/store/*.c src/ingest/*.c src/sql/*.c src/exec/*.c src/plan/*.c src/session/*.c)
CLI_SRC = $(wildcard src/cli/*.c src/http/*.c src/pg/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
PIC_OBJ = $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all deps test-deps test check-layers run bench python python-deps python-asan check-python bench-python bench-tpch bench-writers clean asan screenshots fuzz-build fuzz fuzz-replay check-pgdiff check-slt check-tpch check-ssb bench-tpch22 bench-ssb bench-backends bench-scale
all: deps $(BUILD)/factdb $(BUILD)/libfactdb.a $(BUILD)/libfactdb.so $(BUILD)/factdb-demo $(BUILD)/procdriver

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

$(BUILD)/obj/%.o: %.c $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/src/pg/%.o: src/pg/%.c $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PG_CFLAGS) $(WARN) $(CFLAGS) -c $< -o $@

$(BUILD)/pic/%.o: %.c $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -fPIC -c $< -o $@

$(BUILD)/libfactdb.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# The Python module links this (position-independent objects) statically.
$(BUILD)/libfactdb_pic.a: $(PIC_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libfactdb.so: $(PIC_OBJ)
	$(CC) -shared -o $@ $^ $(LIBS)

# The dashboard (web/) is embedded into the binary: Chart.js comes from npm, pinned by web/package-lock.json.
CHARTJS = web/node_modules/chart.js/dist/chart.umd.min.js
WEB_ASSETS = 'web/index.html:/:text/html; charset=utf-8' 'web/app.js:/assets/app.js:text/javascript' \
             'web/style.css:/assets/style.css:text/css' '$(CHARTJS):/assets/chart.umd.min.js:text/javascript'

$(CHARTJS): web/package.json web/package-lock.json
	@scripts/deps.sh web
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BUILD)/embed: tools/embed.c
	@mkdir -p $(BUILD)
	$(CC) -O2 -o $@ $<

$(BUILD)/gen/web_assets.c: $(BUILD)/embed web/index.html web/app.js web/style.css $(CHARTJS)
	@mkdir -p $(dir $@)
	$(BUILD)/embed $@ $(WEB_ASSETS)

$(BUILD)/obj/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/factdb: $(CLI_OBJ) $(BUILD)/obj/gen/web_assets.o $(BUILD)/libfactdb.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/obj/gen/web_assets.o $(BUILD)/libfactdb.a $(LIBS) $(CLI_LIBS)

$(BUILD)/factdb-demo: $(BUILD)/obj/tools/demo.o $(BUILD)/libfactdb.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/procdriver: $(BUILD)/obj/tests/proc/procdriver.o $(BUILD)/libfactdb.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bench-gen: bench/gen.c
	@mkdir -p $(BUILD)
	$(CC) -O2 -o $@ $<

$(BUILD)/bench-scan: $(BUILD)/obj/bench/scan.o $(BUILD)/libfactdb.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bench-sql: $(BUILD)/obj/bench/sql.o $(BUILD)/libfactdb.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bench-tpch-gen: bench/tpch_gen.c bench/gen_csv.c bench/gen_csv.h
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) -o $@ bench/tpch_gen.c bench/gen_csv.c

$(BUILD)/bench-ssb-gen: bench/ssb_gen.c bench/gen_csv.c bench/gen_csv.h
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) -o $@ bench/ssb_gen.c bench/gen_csv.c -lm

$(BUILD)/bench-tpch-sql: $(BUILD)/obj/bench/tpch_sql.o $(BUILD)/libfactdb.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

UNIT_SRC = $(wildcard tests/unit/test_*.c)
$(BUILD)/unit_tests: $(UNIT_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/libfactdb.a
	$(CC) $(CFLAGS) -o $@ $^ -lcriterion $(LIBS)

# The layers of src/ depend one way, in the order scripts/check_layers.py declares (base < enc < store <
# ingest < exec < sql < plan < session < http < cli; docs/design.md says why): an include of a layer above
# fails here, first thing in `make test`, and a call into a layer above fails once `make test` has built
# the objects (check_layers.py --symbols).
check-layers:
	@$(PYTHON) scripts/check_layers.py --self-test
	@$(PYTHON) scripts/check_layers.py

# All tests: unit tests, CLI tests and the multi-process tests, first in a sanitizer build
# (ASan+UBSan), then the crash tests against the optimized build.
test: check-layers test-deps
	$(MAKE) -j$$(nproc) BUILD=build/asan CC=gcc CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" build/asan/factdb build/asan/factdb-demo build/asan/procdriver build/asan/unit_tests build/asan/libfactdb.so
	$(MAKE) -j$$(nproc) all build/unit_tests build/bench-tpch-gen build/bench-ssb-gen
	$(PYTHON) scripts/check_layers.py --symbols build/obj
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 build/asan/unit_tests --jobs 2
	FACTDB_BUILD=build/asan python3 tests/run_cli_tests.py
	FACTDB_BUILD=build/asan python3 tests/run_sql_tests.py
	FACTDB_BUILD=build/asan python3 tests/differential.py
	FACTDB_BUILD=build/asan FACTDB_DIFF_ROWS=300000 FACTDB_DIFF_QUERIES=120 python3 tests/differential.py
	FACTDB_BUILD=build/asan python3 tests/window_differential.py
	FACTDB_BUILD=build/asan python3 tests/pgdiff/test_pgdiff.py
	FACTDB_BUILD=build/asan python3 tests/pgdiff/test_joins.py
	FACTDB_BUILD=build/asan python3 tests/tpch/test_tpch.py
	FACTDB_BUILD=build/asan python3 tests/ssb/test_ssb.py
	FACTDB_BUILD=build/asan python3 tests/slt/test_run_slt.py
	FACTDB_BUILD=build/asan python3 tests/proc/test_concurrency.py
	FACTDB_BUILD=build/asan python3 tests/proc/test_snapshot.py
	FACTDB_BUILD=build/asan python3 tests/proc/test_writers.py
	FACTDB_BUILD=build/asan FACTDB_FLIP_TRIALS=40 python3 tests/proc/test_damage.py
	FACTDB_BUILD=build/asan python3 tests/http/test_http.py
	FACTDB_BUILD=build/asan node tests/browser/test_dashboard.mjs
	FACTDB_BUILD=build/asan $(PYTHON) tests/browser/test_dashboard_pg.py
	FACTDB_BUILD=build python3 tests/proc/test_load_gate.py
	FACTDB_BUILD=build python3 tests/proc/test_crash.py
	FACTDB_BUILD=build python3 tests/proc/test_damage.py
	$(MAKE) check-python
	$(MAKE) fuzz-replay

# ---- the Python module (python/, docs/python.md), for Debian's /usr/bin/python3 ----
# `make python` builds factdb/_factdb*.so in place in python/ (PYTHONPATH=python then imports it);
# `make python-asan` builds it against the sanitizer library into build/asan/python (run the interpreter with
# LD_PRELOAD of libasan, as check-python does).
PYTHON = /usr/bin/python3
PY_ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
python-deps:
	@scripts/deps.sh python

python: python-deps $(BUILD)/libfactdb_pic.a $(BUILD)/factdb
	cd python && FACTDB_LIB=$(abspath $(BUILD)/libfactdb_pic.a) $(PYTHON) setup.py -q build_ext --inplace --force
	@rm -rf python/build

python-asan: python-deps
	$(MAKE) BUILD=build/asan CC=gcc CFLAGS="$(PY_ASAN_FLAGS)" build/asan/libfactdb_pic.a build/asan/factdb
	rm -rf build/asan/python && mkdir -p build/asan/python
	cd python && CC=gcc FACTDB_LIB=$(abspath build/asan/libfactdb_pic.a) FACTDB_PY_CFLAGS="$(PY_ASAN_FLAGS)" \
	  $(PYTHON) setup.py -q build --build-base $(abspath build/asan/python/tmp) --build-lib $(abspath build/asan/python)
	rm -rf build/asan/python/tmp python/factdb.egg-info

# The Python tests: first against the sanitizer build (the interpreter with libasan preloaded; leaks are
# not checked: the interpreter keeps objects until exit), then the optimized module with the seed scenario.
PY_ASAN_ENV = LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
check-python: test-deps python python-asan
	$(PY_ASAN_ENV) PYTHONPATH=build/asan/python FACTDB_BUILD=build/asan FACTDB_PY_ASAN=1 $(PYTHON) -m pytest -q -p no:cacheprovider tests/python
	PYTHONPATH=python FACTDB_BUILD=build $(PYTHON) -m pytest -q -p no:cacheprovider tests/python

# ---- oracle tests against PostgreSQL 15 (README.md, "Testing against PostgreSQL") ----
# check-pgdiff: the differential test of `make test` alone. check-slt: SQLite's sqllogictest corpus (not
# part of the repository) with PostgreSQL as the oracle: make check-slt SLT_DIR=/path/to/sqllogictest/test
# [SLT_PATHS="select1.test random/expr"] [SLT_SAMPLE=files per directory] [SLT_MAX_QUERIES=per file].
SLT_DIR ?=
SLT_PATHS ?=
SLT_SAMPLE ?= 0
SLT_MAX_QUERIES ?= 0
SLT_JOBS ?= 2
check-pgdiff: all test-deps
	python3 tests/pgdiff/test_pgdiff.py

# check-tpch: the 22 TPC-H queries against PostgreSQL at scale factor 0.05 (FACTDB_TPCH_TEST_SF), part of
# make test; tests/tpch/unsupported.txt lists those factdb cannot answer yet.
check-tpch: all test-deps $(BUILD)/bench-tpch-gen
	python3 tests/tpch/test_tpch.py

# check-ssb: the Star Schema Benchmark's 13 queries against PostgreSQL at scale factor 0.1
# (FACTDB_SSB_TEST_SF), part of make test; tests/ssb/unsupported.txt lists those factdb cannot answer yet.
check-ssb: all test-deps $(BUILD)/bench-ssb-gen
	python3 tests/ssb/test_ssb.py

check-slt: all test-deps
	@mkdir -p tests/out
	python3 tests/slt/run_slt.py --jobs $(SLT_JOBS) --sample $(SLT_SAMPLE) --max-queries $(SLT_MAX_QUERIES) \
	    --report tests/out/slt-report.txt --wrong tests/out/slt-wrong.txt $(SLT_DIR) $(SLT_PATHS)

# ---- fuzzing (tests/fuzz/README.md): libFuzzer targets built by clang in build/fuzz ----
# The library is compiled with -fsanitize=fuzzer-no-link (coverage, no main) and each harness linked with
# -fsanitize=fuzzer. `make fuzz` runs every target FUZZ_SECONDS in turn and merges what it found into
# tests/fuzz/corpus/<target>; `make fuzz-replay` (part of `make test`) replays the corpora, then fuzzes each
# target briefly with a fixed seed so a red run can be repeated (tests/fuzz/replay.sh; FUZZ_REPLAY_RUNS=0
# only replays).
FUZZ_TARGETS = fuzz_sql fuzz_csv fuzz_ingest fuzz_http fuzz_dbfile fuzz_pgsplit
FUZZ_SECONDS ?= 60
FUZZ_REPLAY_SECONDS ?= 20
FUZZ_REPLAY_RUNS ?= 3000
FUZZ_CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:handle_sigbus=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
FUZZ_FLAGS = -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
FUZZ_DICT = $$(test -f tests/fuzz/$$t.dict && echo -dict=tests/fuzz/$$t.dict)
# the server logs one line per request on stderr: drop them (sanitizer reports still show)
FUZZ_QUIET = $$(test $$t = fuzz_http && echo -close_fd_mask=2)

fuzz-build: test-deps $(CHARTJS)
	$(MAKE) -j$$(nproc) BUILD=build/fuzz CC=clang CFLAGS="$(FUZZ_CFLAGS)" $(FUZZ_TARGETS:%=build/fuzz/%)

$(FUZZ_TARGETS:%=$(BUILD)/obj/tests/fuzz/%.o): tests/fuzz/fuzz_common.h

$(BUILD)/fuzz_sql $(BUILD)/fuzz_csv $(BUILD)/fuzz_dbfile: $(BUILD)/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/libfactdb.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(BUILD)/fuzz_ingest: $(BUILD)/obj/tests/fuzz/fuzz_ingest.o $(BUILD)/obj/src/http/ingest.o $(BUILD)/obj/src/http/metrics.o \
                      $(BUILD)/obj/src/http/backend_embedded.o $(BUILD)/obj/src/http/backend.o \
                      $(BUILD)/libfactdb.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS) -ljansson

$(BUILD)/fuzz_http: $(BUILD)/obj/tests/fuzz/fuzz_http.o $(filter $(BUILD)/obj/src/http/% $(BUILD)/obj/src/pg/%,$(CLI_OBJ)) \
                    $(BUILD)/obj/gen/web_assets.o $(BUILD)/libfactdb.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS) $(CLI_LIBS)

$(BUILD)/obj/tests/fuzz/fuzz_pgsplit.o: CPPFLAGS += $(PG_CFLAGS)
$(BUILD)/fuzz_pgsplit: $(BUILD)/obj/tests/fuzz/fuzz_pgsplit.o $(BUILD)/obj/src/pg/script.o $(BUILD)/libfactdb.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

# One target at a time (the machine is shared), in fork mode so that a known crash does not end the run early:
# new inputs land in build/fuzz/work/<t>, crashes in build/fuzz/crashes/<t>/ (tests/fuzz/triage.sh groups
# them), and -merge=1 then adds to the checked-in corpus only the inputs that reach new coverage.
FUZZ_FORK = -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1
fuzz: fuzz-build
	@status=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/work/$$t build/fuzz/crashes/$$t tests/fuzz/corpus/$$t; \
	  echo "== $$t: $(FUZZ_SECONDS) s"; \
	  $(FUZZ_ENV) build/fuzz/$$t $(FUZZ_FLAGS) $(FUZZ_FORK) $(FUZZ_QUIET) $(FUZZ_DICT) -max_total_time=$(FUZZ_SECONDS) \
	    -artifact_prefix=build/fuzz/crashes/$$t/ build/fuzz/work/$$t tests/fuzz/corpus/$$t \
	    >build/fuzz/fuzz-$$t.log 2>&1 || status=1; \
	  grep -E '^#[0-9]+' build/fuzz/fuzz-$$t.log | tail -n 1; \
	  $(FUZZ_ENV) build/fuzz/$$t $(FUZZ_FLAGS) -merge=1 -artifact_prefix=build/fuzz/crashes/$$t/ tests/fuzz/corpus/$$t build/fuzz/work/$$t \
	    >build/fuzz/merge-$$t.log 2>&1 || { echo "merge failed: build/fuzz/merge-$$t.log"; status=1; }; \
	  n=$$(ls build/fuzz/crashes/$$t | wc -l); \
	  if [ $$n -gt 0 ]; then status=1; echo "$$n crash files: tests/fuzz/triage.sh $$t build/fuzz/crashes/$$t/*"; fi; \
	done; exit $$status

fuzz-replay: fuzz-build
	tests/fuzz/replay.sh $(FUZZ_REPLAY_RUNS) $(FUZZ_REPLAY_SECONDS) $(FUZZ_TARGETS)

demo.factdb: | all
	$(BUILD)/factdb-demo create demo.factdb

run: all
	@test -f demo.factdb || $(BUILD)/factdb-demo create demo.factdb
	@$(BUILD)/factdb info demo.factdb
	@$(BUILD)/factdb-demo summary demo.factdb
	@echo "starting the API server (Ctrl-C stops it); try: curl -s http://127.0.0.1:8080/v1/tables"
	@exec $(BUILD)/factdb serve --port $${PORT:-8080} demo.factdb

# Refreshes the two dashboard screenshots shown in README.md (docs/dashboard-*.png).
screenshots: all
	FACTDB_SCREENSHOTS_TO_DOCS=1 node tests/browser/test_dashboard.mjs

bench: all python $(BUILD)/bench-gen $(BUILD)/bench-scan $(BUILD)/bench-sql $(BUILD)/procdriver $(BUILD)/bench-tpch-gen $(BUILD)/bench-tpch-sql $(BUILD)/bench-ssb-gen
	bash bench/run.sh
	python3 bench/writers.py
	bash bench/load_gate.sh >> docs/benchmarks.md
	bash bench/tpch.sh >> docs/benchmarks.md
	FACTDB_TPCH_SF=3 bash bench/tpch.sh >> docs/benchmarks.md
	bash bench/tpch22.sh >> docs/benchmarks.md
	bash bench/ssb.sh >> docs/benchmarks.md
	$(MAKE) bench-python >> docs/benchmarks.md
	$(MAKE) bench-backends
	$(MAKE) bench-scale

# the same server on a database file and on a throwaway PostgreSQL cluster (issue 14; part of make bench):
# durable single-row inserts over HTTP from 64 connections and a dashboard query on each, as
# "backend measure value" lines (docs/benchmarks.md, "The same server on a file and on PostgreSQL")
bench-backends: all test-deps
	BENCH_EXTRA_PKGS=wrk bash -c '. bench/deps.sh'
	$(PYTHON) bench/http_backends.py

# how far one database file goes (issue 14; part of make bench): dashboard readers and rows, durable writes;
# prints the markdown tables of docs/scale.md "When to move"
bench-scale: all test-deps
	BENCH_EXTRA_PKGS=wrk bash -c '. bench/deps.sh'
	$(PYTHON) bench/scale.py

# the Python module against Python's sqlite3 (part of make bench); prints its markdown
bench-python: python
	@PYTHONPATH=python $(PYTHON) bench/python_bench.py

# TPC-H lineitem alone (part of make bench, which runs scale factors 1 and 3): FACTDB_TPCH_SF=3 for scale
# factor 3 (after a scale factor 1 run it also prints the SF3/SF1 scaling table); prints its markdown
bench-tpch: all $(BUILD)/bench-tpch-gen $(BUILD)/bench-tpch-sql
	bash bench/tpch.sh

# the 22 TPC-H queries, factdb against DuckDB at 2 threads (part of make bench): FACTDB_TPCH22_SF (default 1);
# prints its markdown
bench-tpch22: all $(BUILD)/bench-tpch-gen $(BUILD)/bench-tpch-sql
	bash bench/tpch22.sh

# the Star Schema Benchmark's 13 queries, factdb against DuckDB at 2 threads (part of make bench):
# FACTDB_SSB_SF (default 1); prints its markdown
bench-ssb: all $(BUILD)/bench-ssb-gen $(BUILD)/bench-tpch-sql
	bash bench/ssb.sh

# writers taking turns alone (part of make bench): commits/s and waits for 1, 2 and 4 writer processes
bench-writers: all
	python3 bench/writers.py

clean:
	rm -rf build

#!/usr/bin/env bash
# `make fuzz-replay`: for each target, replays its corpus (every input must pass), then fuzzes it briefly
# with a fixed seed. A crash of the brief run fails too, unless its first frame in factdb's sources is the
# site of an open finding (tests/fuzz/findings/known-sites.txt): those are being fixed elsewhere and are
# reported, not failed on. Usage: tests/fuzz/replay.sh RUNS SECONDS TARGET...
set -u
runs=$1 secs=$2; shift 2
env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:handle_sigbus=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
flags=(-timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1)
known=$(grep -v '^#' tests/fuzz/findings/known-sites.txt)
for t in "$@"; do
  log=build/fuzz/replay-$t.log
  extra=()
  [ "$t" = fuzz_http ] && extra+=(-close_fd_mask=2)  # the server logs every request on stderr
  echo "== $t: replaying tests/fuzz/corpus/$t"
  if ! env "${env[@]}" "build/fuzz/$t" "${flags[@]}" "${extra[@]}" -runs=0 "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    tail -n 60 "$log"; echo "FAIL: an input of tests/fuzz/corpus/$t crashes ($log)"; exit 1
  fi
  [ "$runs" -gt 0 ] || continue
  [ -f "tests/fuzz/$t.dict" ] && extra+=(-dict="tests/fuzz/$t.dict")
  rm -rf "build/fuzz/replay/$t" "build/fuzz/replay-crashes/$t"
  mkdir -p "build/fuzz/replay/$t" "build/fuzz/replay-crashes/$t"
  echo "== $t: fuzzing $runs runs (at most $secs s), seed 1"
  if ! env "${env[@]}" "build/fuzz/$t" "${flags[@]}" "${extra[@]}" -seed=1 -runs="$runs" -max_total_time="$secs" \
       -artifact_prefix="build/fuzz/replay-crashes/$t/" "build/fuzz/replay/$t" "tests/fuzz/corpus/$t" >>"$log" 2>&1; then
    for c in "build/fuzz/replay-crashes/$t"/*; do
      [ -f "$c" ] || { tail -n 60 "$log"; echo "FAIL: $t stopped without a crash file ($log)"; exit 1; }
      line=$(tests/fuzz/triage.sh "$t" "$c")
      site=$(printf '%s\n' "$line" | cut -f2 | cut -d'|' -f1 | sed -E 's/^[^ ]+ //; s/:[0-9]+$//')
      if [ -n "$site" ] && printf '%s\n' "$known" | grep -qxF "$site"; then
        echo "   known finding at $site (tests/fuzz/findings/README.md): $c"
      else
        tail -n 60 "$log"; echo "FAIL: new crash in $t: $line"; exit 1
      fi
    done
  fi
done

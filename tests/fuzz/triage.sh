#!/usr/bin/env bash
# Replays crash files one by one and prints, for each, the sanitizer's verdict and the first frames inside
# factdb's sources (src/ or tests/fuzz/), so crashes can be grouped by stack.
# Usage: tests/fuzz/triage.sh TARGET FILE...   (TARGET: fuzz_sql, fuzz_csv, ...; the binary is build/fuzz/TARGET)
set -u
t=$1; shift
for f in "$@"; do
  out=$(ASAN_OPTIONS=abort_on_error=1:handle_sigbus=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        timeout 60 "build/fuzz/$t" -timeout=10 -rss_limit_mb=2048 "$f" 2>&1)
  verdict=$(printf '%s\n' "$out" | grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|fuzz invariant' |
            sed -e 's/ on address.*//' -e 's/^==[0-9]*==//')
  frames=$(printf '%s\n' "$out" | grep -E '^ +#[0-9]+ .* (/[^ ]*/)?(src|tests/fuzz)/[^ ]*:[0-9]+' | grep -v LLVMFuzzerTestOneInput |
           head -4 | sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ in ([^ ]+) .*\/((src|tests\/fuzz)\/[^ ]*)$/\1 \2/' | paste -sd'|')
  printf '%s\t%s\t%s\n' "${verdict:-no crash}" "${frames:-?}" "$f"
done

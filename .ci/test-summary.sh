#!/usr/bin/env bash
# Prints "N passed, N failed, N skipped" from the TRX files under a results directory and exits non-zero
# when any test failed or no results were found. The counts come from each run's <Counters> element.
set -euo pipefail
dir="${1:-TestResults}"
shopt -s nullglob globstar
files=("$dir"/**/*.trx)
if [ ${#files[@]} -eq 0 ]; then
  echo "no test results (.trx) found under $dir" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
passed=0 failed=0 total=0 executed=0
for f in "${files[@]}"; do
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -n 1)
  get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  total=$((total + $(get total)))
  executed=$((executed + $(get executed)))
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
done
skipped=$((total - executed))
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]

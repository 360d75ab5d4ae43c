#!/usr/bin/env bash
# Runs every suite in tools/suites/ (in name order). Each suite ends its output with a line
# "N passed, N failed"; this script sums them and ends with the total on one line.
set -uo pipefail
cd "$(dirname "$0")/.."
total_pass=0
total_fail=0
status=0
only=${DRHOST_SUITES:-}
for suite in tools/suites/*.sh; do
  name=$(basename "$suite" .sh)
  if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then continue; fi
  echo "=== suite $name"
  log=$(mktemp)
  bash "$suite" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "suite $name printed no result line (exit $rc): counted as 1 failure"
    total_fail=$((total_fail + 1)); status=1; continue
  fi
  p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "suite $name exited $rc with no failure counted: counted as 1 failure"
    f=1
  fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  [ "$f" -gt 0 ] && status=1
  echo "=== suite $name: $p passed, $f failed"
done
echo "$total_pass passed, $total_fail failed"
exit $status

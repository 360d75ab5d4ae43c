#!/usr/bin/env bash
# The simulator's own pytest suite (sim/tests). Ends with "N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="$ROOT/.venv/bin/python"
if [ ! -x "$PY" ]; then
  "$ROOT/sim/setup.sh" || { echo "0 passed, 1 failed"; exit 1; }
fi
cd "$ROOT/sim"
log=$(mktemp)
"$PY" -m pytest -p no:cacheprovider -o addopts="" -q tests 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(grep -E '^=*\s*[0-9]+ (passed|failed|error)|^=*\s*no tests ran|^[0-9]+ (passed|failed)' "$log" | tail -n 1)
rm -f "$log"
count() { grep -oE "[0-9]+ $1" <<<"$summary" | grep -oE '^[0-9]+' || echo 0; }
passed=$(count passed); failed=$(count failed); errors=$(count error)
failed=$((failed + errors))
if [ "$rc" -eq 5 ]; then
  echo "0 passed, 0 failed"; exit 0
fi
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
# DuckDB's bindings may print reference-leak notes at interpreter exit without a final newline:
# the result line must start a line of its own.
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

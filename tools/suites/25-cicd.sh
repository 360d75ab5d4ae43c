#!/usr/bin/env bash
# CI/CD checks that run here: actionlint over every workflow, the example bundle's unit tests,
# its job definitions against the databricks-sdk JobSettings contract (tools/bundle-check.py)
# and the checker's own specs (tools/tests). Ends with "N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
ACTIONLINT="$ROOT/.cache/tools/bin/actionlint"
passed=0; failed=0
ok() { passed=$((passed + $1)); }
bad() { failed=$((failed + $1)); }

for wf in .github/workflows/*.yml .github/workflows/*.yaml; do
  [ -e "$wf" ] || continue
  if [ ! -x "$ACTIONLINT" ]; then
    echo "cicd: actionlint is not installed (tools/setup.sh builds it; needs Go): $wf not checked"; bad 1
  elif "$ACTIONLINT" "$wf"; then
    echo "cicd: actionlint $wf: clean"; ok 1
  else
    echo "cicd: actionlint $wf: findings above"; bad 1
  fi
done

# pytest_counts DIR ARGS...: pytest in DIR, its passed/failed counts added to ours
pytest_counts() {
  local dir=$1 log rc summary p f e
  shift
  log=$(mktemp)
  (cd "$dir" && "$PY" -m pytest -p no:cacheprovider -o addopts="" -q "$@") 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  summary=$(grep -E '[0-9]+ (passed|failed|error)' "$log" | tail -n 1)
  rm -f "$log"
  p=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '^[0-9]+' || echo 0)
  f=$(grep -oE '[0-9]+ failed' <<<"$summary" | grep -oE '^[0-9]+' || echo 0)
  e=$(grep -oE '[0-9]+ error' <<<"$summary" | grep -oE '^[0-9]+' || echo 0)
  f=$((f + e))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  ok "$p"; bad "$f"
}

pytest_counts examples/bundle tests
if "$PY" tools/bundle-check.py --bundle examples/bundle; then ok 1; else bad 1; fi
pytest_counts . tools/tests

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

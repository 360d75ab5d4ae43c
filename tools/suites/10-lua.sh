#!/usr/bin/env bash
# Lua specs through build/drhost: spec/unit, then spec/integration under tools/with-sim.sh (the
# simulator and Azurite) when that script exists.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tools/suites/busted.inc
DRHOST=${DRHOST:-build/drhost}
make -s all >/dev/null || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
run_busted "unit" "$DRHOST" spec/unit
if [ -x tools/with-sim.sh ] && ls spec/integration/*_spec.lua >/dev/null 2>&1; then
  log=$(mktemp)
  # with-sim runs the command with the simulator's environment; the counts come back in a file.
  tools/with-sim.sh bash -c '. tools/suites/busted.inc; run_busted integration "$0" spec/integration;
    echo "$BUSTED_PASS $BUSTED_FAIL" > "$1"' "$DRHOST" "$log"
  if read -r p f < "$log" 2>/dev/null && [ -n "${p:-}" ]; then
    BUSTED_PASS=$((BUSTED_PASS + p)); BUSTED_FAIL=$((BUSTED_FAIL + f))
  else
    echo "integration: no result (simulator failed to start?): counted as 1 failure"
    BUSTED_FAIL=$((BUSTED_FAIL + 1))
  fi
  rm -f "$log"
fi
echo "$BUSTED_PASS passed, $BUSTED_FAIL failed"
[ "$BUSTED_FAIL" -eq 0 ]

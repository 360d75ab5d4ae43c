#!/usr/bin/env bash
# Integration specs (spec/integration/*_spec.lua) through drhost, against the simulator and Azurite
# started by tools/with-sim.sh. Ends with "N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
shopt -s nullglob
specs=(spec/integration/*_spec.lua)
if [ ${#specs[@]} -eq 0 ]; then
  echo "no integration specs"
  echo "0 passed, 0 failed"; exit 0
fi
if [ ! -x build/drhost ]; then
  echo "integration: build/drhost missing (make all)"
  echo "0 passed, 1 failed"; exit 1
fi
BUSTED=$(command -v busted || true)
if [ -z "$BUSTED" ]; then
  echo "integration: busted not installed"
  echo "0 passed, 1 failed"; exit 1
fi
log=$(mktemp)
tools/with-sim.sh build/drhost "$BUSTED" -o utfTerminal spec/integration 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# busted: "N successes / N failures / N errors / N pending : T seconds"
line=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors?' | tail -n 1)
rm -f "$log"
if [ -z "$line" ]; then
  echo "integration: no busted summary (exit $rc)"
  echo "0 passed, 1 failed"; exit 1
fi
p=$(grep -oE '^[0-9]+' <<<"$line")
f=$(grep -oE '[0-9]+ failures?' <<<"$line" | grep -oE '^[0-9]+')
e=$(grep -oE '[0-9]+ errors?' <<<"$line" | grep -oE '^[0-9]+')
f=$((f + e))
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
echo "$p passed, $f failed"
[ "$f" -eq 0 ]

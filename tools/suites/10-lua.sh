#!/usr/bin/env bash
# Lua unit specs (spec/unit) through build/drhost. (spec/integration runs in 15-integration under
# the simulator, and again under ASan in 20-asan.)
set -uo pipefail
cd "$(dirname "$0")/../.."
. tools/suites/busted.inc
DRHOST=${DRHOST:-build/drhost}
make -s all >/dev/null || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
run_busted "unit" "$DRHOST" spec/unit
echo "$BUSTED_PASS passed, $BUSTED_FAIL failed"
[ "$BUSTED_FAIL" -eq 0 ]

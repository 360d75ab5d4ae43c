#!/usr/bin/env bash
# Short fuzz runs: every spec/fuzz/fuzz_*.c target for FUZZ_SECONDS (default 10) seconds; one pass
# per target that builds and finds nothing. `make fuzz` runs the same targets longer (60 s).
set -uo pipefail
cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-10} exec spec/fuzz/run.sh

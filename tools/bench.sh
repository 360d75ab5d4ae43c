#!/usr/bin/env bash
# Benchmarks: every tools/bench/NN-*.sh in order. Each prints its own table; figures are ratios
# against a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p tools/bench
for b in tools/bench/*.sh; do
  [ -e "$b" ] || continue
  echo "=== bench $(basename "$b" .sh)"
  case "$b" in
    *10-http*) bash "$b" ;;
    *) tools/with-sim.sh bash "$b" ;;
  esac
done

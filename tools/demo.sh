#!/usr/bin/env bash
# The main job, end to end on the local cloud simulator: deploy prod, deploy dr, replicate prod -> dr,
# and print the report. Each half lives in its own script; this one starts the simulator around them.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
tools/with-sim.sh bash -c 'set -euo pipefail; tools/demo-deploy.sh; tools/demo-replicate.sh'
echo "demo: finished in $(( $(date +%s) - start )) s"

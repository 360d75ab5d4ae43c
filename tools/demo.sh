#!/usr/bin/env bash
# The main job, end to end on the local cloud simulator: deploy prod, deploy dr, replicate prod -> dr,
# print the report, then deploy the example bundle to both regions and show the parity table.
# Each part lives in its own script; this one starts the simulator around them.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
tools/with-sim.sh bash -c 'set -euo pipefail; tools/demo-deploy.sh; tools/demo-replicate.sh; tools/demo-bundle.sh'
echo "demo: finished in $(( $(date +%s) - start )) s"

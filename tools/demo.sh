#!/usr/bin/env bash
# The main job, end to end on the local cloud simulator: deploy prod, deploy dr, replicate prod -> dr,
# print the report, deploy the example bundle to both regions and show the parity table, then a
# drill, a forced failover while prod is down, and a failback (with its divergence check).
# Each part lives in its own script; this one starts the simulator around them.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
# each region keeps its state (and its copy of the failover topology record) in its own store
export DRHOST_PROD_STATE_CONTAINER=${DRHOST_PROD_STATE_CONTAINER:-drhost-state-prod}
export DRHOST_DR_STATE_CONTAINER=${DRHOST_DR_STATE_CONTAINER:-drhost-state-dr}
tools/with-sim.sh bash -c 'set -euo pipefail; tools/demo-deploy.sh; tools/demo-replicate.sh; tools/demo-bundle.sh; tools/demo-failover.sh'
echo "demo: finished in $(( $(date +%s) - start )) s"

#!/usr/bin/env bash
# First half of the demo: deploy prod, then dr, to the simulator whose environment the caller has
# exported (tools/demo.sh starts it through tools/with-sim.sh). For each environment: the plan
# (saved with -out), the apply of exactly that plan, the outputs; then a second plan of both,
# which must show no change. Prints the time of each step.
set -euo pipefail
cd "$(dirname "$0")/.."
DRHOST=${DRHOST:-build/drhost}
: "${DRHOST_ARM_ENDPOINT:?export the simulator environment first (tools/with-sim.sh tools/demo-deploy.sh)}"

# Ids come from the environment (placeholders of the simulator when unset).
export DRHOST_DATABRICKS_SP_OBJECT_ID=${DRHOST_DATABRICKS_SP_OBJECT_ID:-00000000-0000-0000-0000-0000000000db}
export DRHOST_REPLICATION_SP_APP_ID=${DRHOST_REPLICATION_SP_APP_ID:-$AZURE_CLIENT_ID}
if [ -z "${DRHOST_BLOB_ENDPOINT:-}" ]; then
  export DRHOST_STATE=${DRHOST_STATE:-local}
  export DRHOST_STATE_DIR=${DRHOST_STATE_DIR:-.drhost-state}
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
timings=()

deploy() {
  local env=$1 t rc
  echo
  echo "================ plan $env ================"
  t=$(now)
  set +e
  "$DRHOST" scripts/deploy.lua "$env" plan --compact -out "$work/$env.plan"
  rc=$?
  set -e
  timings+=("plan $env (from empty): $(since "$t") s, exit $rc")
  if [ "$rc" -eq 1 ]; then echo "demo-deploy: plan of $env failed" >&2; exit 1; fi
  echo
  echo "================ apply $env ================"
  t=$(now)
  "$DRHOST" scripts/deploy.lua "$env" apply "$work/$env.plan"
  timings+=("apply $env: $(since "$t") s")
  echo
  echo "================ outputs $env ================"
  "$DRHOST" scripts/deploy.lua "$env" output
}

start=$(now)
deploy prod
deploy dr

echo
echo "================ second plan (expect no change) ================"
for env in prod dr; do
  t=$(now)
  "$DRHOST" scripts/deploy.lua "$env" plan   # exit 2 (changes) or 1 (error) stops the demo
  timings+=("plan $env (no change): $(since "$t") s")
done

echo
echo "================ deployment timings ================"
for line in "${timings[@]}"; do echo "  $line"; done
echo "  total: $(since "$start") s"

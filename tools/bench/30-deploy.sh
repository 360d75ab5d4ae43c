#!/usr/bin/env bash
# Bench: the no-change plan of an estate with a hub + S spokes (BENCH_DEPLOY_SPOKES, default "10 50"),
# reading the live estate in bulk through Resource Graph (the default) and with one GET per
# resource (--read each): ARM calls (the simulator's admin stats, management host), all requests,
# and wall time, with BENCH_LATENCY_MS (default 50) injected on every ARM and Databricks request.
# Each estate is applied first without injected latency (set-up, not measured). Prints a table,
# the ratios and BENCH lines. Needs the simulator's environment (tools/bench.sh runs it under
# tools/with-sim.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
DRHOST=${DRHOST:-build/drhost}
: "${DRHOST_SIM_ADMIN:?run under tools/with-sim.sh}"
SIZES=${BENCH_DEPLOY_SPOKES:-10 50}
LATENCY=${BENCH_LATENCY_MS:-50}
export DRHOST_DATABRICKS_SP_OBJECT_ID=${DRHOST_DATABRICKS_SP_OBJECT_ID:-00000000-0000-0000-0000-0000000000db}
export DRHOST_REPLICATION_SP_APP_ID=${DRHOST_REPLICATION_SP_APP_ID:-$AZURE_CLIENT_ID}
work=$(mktemp -d)
admin() { curl -sS --cacert "$DRHOST_CA_BUNDLE" -X "$1" "$DRHOST_SIM_ADMIN$2" ${3:+-H 'Content-Type: application/json' -d "$3"}; }
trap 'admin DELETE /faults >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export DRHOST_STATE=local DRHOST_STATE_DIR="$work/state"
mkdir -p "$work/env"

write_env() {  # name peer region base spokes [role]
  local name=$1 peer=$2 region=$3 base=$4 n=$5 role=${6:-primary} spokes="" i
  for i in $(seq 1 "$n"); do
    # spokes take 10.X.Y.0/22 blocks after the hub's
    spokes+="    s$i = { cidr = \"10.$base.$(( i * 4 )).0/22\" },"$'\n'
  done
  {
    echo "return {"
    echo "  name = \"$name\", role = \"$role\", peer = \"$peer\", region = \"$region\", prefix = \"bn\","
    echo "  hub = { cidr = \"10.$base.0.0/22\" },"
    echo "  spokes = {"
    printf '%s' "$spokes"
    echo "  },"
    echo "  front_end_private_link = true, dbfs_private_endpoints = false,"
    echo "  tags = { purpose = \"bench\" }, firewall = { allowed_fqdns = { \"pypi-mirror.example.com\" } },"
    echo "  identities = { admin_group = \"drhost-admins\", databricks_sp_object_id_env = \"DRHOST_DATABRICKS_SP_OBJECT_ID\","
    echo "    replication_sp_app_id_env = \"DRHOST_REPLICATION_SP_APP_ID\" },"
    if [ "$role" = secondary ]; then
      echo "  replication = \"env/dr.replication.lua\","
      echo "  replication_schedule = { quartz_cron = \"0 0/30 * * * ?\", timezone = \"UTC\" },"
    fi
    echo "}"
  } > "$work/env/$name.lua"
}

stats() {  # -> "arm_calls total_requests" since the last reset (admin calls excluded)
  admin GET /stats | "$DRHOST" -e '
    local s = require("json").decode(io.read("a"))
    local h = s.by_host or {}
    print(math.floor(h.management or 0), math.floor((s.total or 0) - (h.admin or 0)))'
}

declare -A T A Q R
regions=(uksouth eastus japaneast westus)
peers=(ukwest westus japanwest eastus2)
k=0
for S in $SIZES; do
  name="hub$S"
  write_env "$name" "${name}peer" "${regions[$k]}" $(( 100 + k * 10 )) "$S"
  write_env "${name}peer" "$name" "${peers[$k]}" $(( 200 + k * 10 )) 1 secondary   # named, never applied
  k=$((k + 1))
  admin DELETE /faults >/dev/null
  t0=$(date +%s)
  "$DRHOST" scripts/deploy.lua "$name" apply --compact --env-dir "$work/env" > "$work/$name-apply.log" 2>&1 || {
    echo "bench: apply of $name failed"; tail -20 "$work/$name-apply.log"; exit 1; }
  echo "bench: hub + $S spokes applied (set-up, $(( $(date +%s) - t0 )) s)"
  if [ "$LATENCY" -gt 0 ]; then
    for hk in management accounts workspace; do
      admin POST /faults "{\"host_kind\": \"$hk\", \"latency_ms\": $LATENCY}" >/dev/null
    done
  fi
  for mode in each graph; do
    admin DELETE /stats >/dev/null
    t0=$(date +%s.%N)
    rc=0
    "$DRHOST" scripts/deploy.lua "$name" plan --compact --read "$mode" --env-dir "$work/env" > "$work/$name-$mode.log" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    if [ "$rc" -ne 0 ]; then echo "bench: $name plan --read $mode expected no change (exit $rc)"; tail -20 "$work/$name-$mode.log"; exit 1; fi
    read -r a q <<<"$(stats)"
    admin GET /stats > "$work/$name-$mode-stats.json"
    T[$S/$mode]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    A[$S/$mode]=$a
    Q[$S/$mode]=$q
  done
  R[$S]=$(grep -o '([0-9]* resources' "$work/$name-graph.log" | tr -dc 0-9 || true)
done

by_route() {  # the ARM calls of one run, per method and resource type, most first
  "$DRHOST" -e '
    local s = require("json").decode(io.read("a"))
    local rows = {}
    for k, n in pairs(s.by_route or {}) do
      local r = k:match("^management (.*)$")
      if r then rows[#rows + 1] = { r, math.floor(n) } end
    end
    table.sort(rows, function(a, b) if a[2] ~= b[2] then return a[2] > b[2] end return a[1] < b[1] end)
    for _, r in ipairs(rows) do print(string.format("  %5d  %s", r[2], r[1])) end' < "$1"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
echo
echo "deploy bench: no-change plan, ${LATENCY} ms injected per request (ARM, account, workspace)"
printf '%-16s %9s %14s %14s %10s %12s %12s %9s\n' "estate" "resources" "ARM calls each" "ARM calls bulk" "ratio" "wall s each" "wall s bulk" "ratio"
for S in $SIZES; do
  printf '%-16s %9s %14s %14s %10s %12s %12s %9s\n' "hub + $S spokes" "${R[$S]:-?}" "${A[$S/each]}" "${A[$S/graph]}" \
    "$(ratio "${A[$S/graph]}" "${A[$S/each]}")" "${T[$S/each]}" "${T[$S/graph]}" "$(ratio "${T[$S/graph]}" "${T[$S/each]}")"
done
for S in $SIZES; do
  echo "ARM calls of the bulk plan, hub + $S spokes, per method and type:"
  by_route "$work/hub$S-graph-stats.json"
done
echo "(all requests, ARM + Databricks: $(for S in $SIZES; do printf 'hub+%s each %s / bulk %s; ' "$S" "${Q[$S/each]}" "${Q[$S/graph]}"; done))"
echo
for S in $SIZES; do
  echo "BENCH deploy_plan_hub${S}_arm_calls_each ${A[$S/each]}"
  echo "BENCH deploy_plan_hub${S}_arm_calls_bulk ${A[$S/graph]}"
  echo "BENCH deploy_plan_hub${S}_arm_calls_ratio $(ratio "${A[$S/graph]}" "${A[$S/each]}")"
  echo "BENCH deploy_plan_hub${S}_requests_each ${Q[$S/each]}"
  echo "BENCH deploy_plan_hub${S}_requests_bulk ${Q[$S/graph]}"
  echo "BENCH deploy_plan_hub${S}_wall_s_each ${T[$S/each]}"
  echo "BENCH deploy_plan_hub${S}_wall_s_bulk ${T[$S/graph]}"
  echo "BENCH deploy_plan_hub${S}_wall_ratio $(ratio "${T[$S/graph]}" "${T[$S/each]}")"
done

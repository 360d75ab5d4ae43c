#!/usr/bin/env bash
# Bench: the estate with a hub + 10 spokes, applied from empty and planned with no change, with
# parallel (default concurrency 8) and serial (concurrency 1) execution. Wall time and requests
# issued (from the simulator's admin stats); prints a table with the ratios. Needs the simulator's
# environment (tools/bench.sh runs it under tools/with-sim.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
DRHOST=${DRHOST:-build/drhost}
: "${DRHOST_SIM_ADMIN:?run under tools/with-sim.sh}"
SPOKES=${BENCH_SPOKES:-10}
export DRHOST_DATABRICKS_SP_OBJECT_ID=${DRHOST_DATABRICKS_SP_OBJECT_ID:-00000000-0000-0000-0000-0000000000db}
export DRHOST_REPLICATION_SP_APP_ID=${DRHOST_REPLICATION_SP_APP_ID:-$AZURE_CLIENT_ID}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DRHOST_STATE=local DRHOST_STATE_DIR="$work/state"

# Two environment pairs (one per mode) in regions of their own, so both start from empty.
write_env() {  # name peer region base role [spokes]
  local name=$1 peer=$2 region=$3 base=$4 role=$5 n=${6:-$SPOKES} spokes="" i
  for i in $(seq 1 "$n"); do
    spokes+="    s$i = { cidr = \"10.$((base + i)).0.0/20\" },"$'\n'
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
mkdir -p "$work/env"
write_env par pars uksouth 100 primary
write_env pars par ukwest 140 secondary
write_env ser sers eastus 180 primary
write_env sers ser westus 220 secondary
write_env wrm wrms japaneast 20 primary 1
write_env wrms wrm japanwest 40 secondary 1

requests() {  # requests the simulator served, admin calls excluded
  "$DRHOST" -e '
    local http, json = require("http"), require("json")
    local r = http.request{ method = "GET", url = os.getenv("DRHOST_SIM_ADMIN") .. "/stats" }
    local s = json.decode(r.body)
    print(math.floor((s.total or 0) - ((s.by_host or {}).admin or 0)))'
}
reset_stats() {
  "$DRHOST" -e 'local http = require("http"); http.request{ method = "DELETE", url = os.getenv("DRHOST_SIM_ADMIN") .. "/stats" }'
}

# Cloud APIs answer in tens to hundreds of milliseconds (and long-running operations take minutes);
# the simulator on loopback answers in a few. An injected per-request latency (BENCH_LATENCY_MS,
# default 50; 0 to measure the raw simulator) makes the comparison about waiting, as in a real run.
LATENCY=${BENCH_LATENCY_MS:-50}
if [ "$LATENCY" -gt 0 ]; then
  for hk in management accounts workspace; do
    HK=$hk LAT=$LATENCY "$DRHOST" -e '
      local http, json = require("http"), require("json")
      local r = http.request{ method = "POST", url = os.getenv("DRHOST_SIM_ADMIN") .. "/faults",
        headers = { ["Content-Type"] = "application/json" },
        body = json.encode{ host_kind = os.getenv("HK"), latency_ms = tonumber(os.getenv("LAT")) } }
      assert(r.status == 201, r.body)'
  done
fi

# warm the simulator up (its first call of each resource type loads the SDK models): a small estate
"$DRHOST" scripts/deploy.lua wrm apply --env-dir "$work/env" >/dev/null 2>&1 || true

declare -A T R
run() {  # key env command concurrency
  local key=$1 env=$2 cmd=$3 conc=$4 t0 t1 rc
  reset_stats
  t0=$(date +%s.%N)
  set +e
  "$DRHOST" scripts/deploy.lua "$env" "$cmd" --concurrency "$conc" --compact --env-dir "$work/env" \
    > "$work/$key.log" 2>&1
  rc=$?
  set -e
  t1=$(date +%s.%N)
  if [ "$cmd" = apply ] && [ "$rc" -ne 0 ]; then echo "bench: $key failed (exit $rc)"; tail -20 "$work/$key.log"; exit 1; fi
  if [ "$cmd" = plan ] && [ "$rc" -ne 0 ]; then echo "bench: $key expected no change (exit $rc)"; tail -20 "$work/$key.log"; exit 1; fi
  T[$key]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  R[$key]=$(requests)
}
run apply_par par apply 8
run plan_par par plan 8
run apply_ser ser apply 1
run plan_ser ser plan 1

resources=$(grep -o '([0-9]* resources' <("$DRHOST" scripts/deploy.lua par validate --env-dir "$work/env") | tr -dc 0-9)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
echo
echo "deploy bench: hub + $SPOKES spokes ($resources resources), simulator on loopback, ${LATENCY} ms per request"
printf '%-22s %12s %12s %10s %12s %12s\n' "step" "serial s" "parallel s" "speed-up" "serial req" "parallel req"
printf '%-22s %12s %12s %10s %12s %12s\n' "apply from empty" "${T[apply_ser]}" "${T[apply_par]}" \
  "$(ratio "${T[apply_ser]}" "${T[apply_par]}")" "${R[apply_ser]}" "${R[apply_par]}"
printf '%-22s %12s %12s %10s %12s %12s\n' "plan, no change" "${T[plan_ser]}" "${T[plan_par]}" \
  "$(ratio "${T[plan_ser]}" "${T[plan_par]}")" "${R[plan_ser]}" "${R[plan_par]}"

#!/usr/bin/env bash
# Last part of the demo: status, a drill (its report), a forced failover while prod is down (the
# simulator's outage switch; prod's state store unreachable too), a write in dr, prod back with a
# write it accepted before it was fenced, a failback refused for that divergence and then run with
# the change discarded, and verify. Runs with the simulator's environment exported (tools/demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
DRHOST=${DRHOST:-build/drhost}
: "${DRHOST_SIM_ADMIN:?export the simulator environment first (tools/with-sim.sh tools/demo-failover.sh)}"
export DRHOST_REPLICATE_CATALOGS=${DRHOST_REPLICATE_CATALOGS:-demo_sales,demo_finance}
start=$(date +%s)
step() { printf '\n=== %s\n' "$*"; }
fail() { echo "demo-failover: FAILED: $*" >&2; exit 1; }
quiet() { grep -v '^replicate: ' || true; }

step "failover status: prod active, replication lag per table, dr jobs paused"
"$DRHOST" scripts/failover.lua status 2> >(quiet >&2) || fail "status"

step "drill: preconditions in dr, parity, verify, smoke queries, a timed dry run of the failover plan"
"$DRHOST" scripts/failover.lua drill 2> >(quiet >&2) || fail "the drill found a problem"
"$DRHOST" scripts/failover.lua report drill

step "prod's region goes down (connections dropped; prod's state store unreachable too)"
"$DRHOST" tools/demo-failover.lua outage "${DRHOST_PROD_REGION:-westeurope}" drop
down_store="https://127.0.0.1:9/unreachable"
set +e
DRHOST_PROD_BLOB_ENDPOINT=$down_store "$DRHOST" scripts/failover.lua failover 2> >(quiet >&2)
rc=$?
set -e
[ "$rc" -eq 4 ] || fail "a planned failover with prod down should be refused (exit 4), got $rc"

step "forced failover: dr takes over from the last replicated state"
DRHOST_PROD_BLOB_ENDPOINT=$down_store "$DRHOST" scripts/failover.lua failover --forced 2> >(quiet >&2) || fail "forced failover"

step "the replication job is refused now (dr is the active region)"
set +e
"$DRHOST" scripts/replicate.lua dr sync 2>&1 | quiet
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -ne 0 ] || fail "replication into the active region was not refused"

step "a write in dr, the active region"
"$DRHOST" tools/demo-failover.lua sql dr "INSERT INTO demo_sales.core.orders SELECT * FROM demo_sales.core.orders LIMIT 1"

step "prod comes back; a job there writes before anyone fences it"
"$DRHOST" tools/demo-failover.lua restore "${DRHOST_PROD_REGION:-westeurope}"
"$DRHOST" tools/demo-failover.lua sql prod "UPDATE demo_finance.ledger.entries SET amount = amount + 1"
"$DRHOST" scripts/failover.lua status 2> >(quiet >&2) || true

step "failback: prod is fenced first, then the divergence check refuses to overwrite prod's change"
set +e
"$DRHOST" scripts/failover.lua failback 2> >(quiet >&2)
rc=$?
set -e
[ "$rc" -eq 4 ] || fail "failback should refuse the divergent table (exit 4), got $rc"

step "failback with that change discarded (dr's data wins), then dr resumes as the standby"
"$DRHOST" scripts/failover.lua failback --discard-prod-changes demo_finance.ledger.entries 2> >(quiet >&2) || fail "failback"

step "verify: dr's replicas equal prod at the versions dr recorded"
"$DRHOST" scripts/failover.lua verify 2> >(quiet >&2) || fail "verify found a mismatch"

step "the failover report"
"$DRHOST" scripts/failover.lua report failover

step "failover demo: drill, forced failover, failback with divergence check ($(( $(date +%s) - start )) s)"

#!/usr/bin/env bash
# Replication demo on the local simulator. tools/demo.sh runs it after the
# deployment demo with the simulator's environment exported; it also runs alone under
# tools/with-sim.sh. Seeds prod, syncs, checks that dr matches prod, changes two tables, syncs
# again (exactly two clones), then a third sync with an empty plan.
set -euo pipefail
cd "$(dirname "$0")/.."
DRHOST=${DRHOST:-build/drhost}
# the ETL service principal has a different application id in each region (placeholders)
export DRHOST_PROD_ETL_SP=${DRHOST_PROD_ETL_SP:-11111111-1111-1111-1111-111111111111}
export DRHOST_DR_ETL_SP=${DRHOST_DR_ETL_SP:-22222222-2222-2222-2222-222222222222}
# the demo's own two catalogs (the deployment's workspace catalogs are ISOLATED to their spokes)
export DRHOST_REPLICATE_CATALOGS=${DRHOST_REPLICATE_CATALOGS:-demo_sales,demo_finance}
start=$(date +%s)
step() { printf '\n=== %s\n' "$*"; }
fail() { echo "demo-replicate: FAILED: $*" >&2; exit 1; }

step "workspaces: from the deployment's outputs (or created in the simulator), prerequisites"
exports=$("$DRHOST" tools/seed-replicate.lua estate)
echo "$exports"
eval "$exports"

step "seed prod: 2 catalogs, 4 schemas, managed/external Delta, external Parquet, views on views, function, volume, tags, comments, grants"
"$DRHOST" tools/seed-replicate.lua seed

step "sync 1: plan, then apply"
"$DRHOST" scripts/replicate.lua dr sync | tee /tmp/drhost-demo-sync1.$$ || fail "first sync reported failures"

step "the demo's catalogs join the replication config: prod's and dr's deployments grant the replication identity EXTERNAL USE SCHEMA on them (credential vending for the Delta log probe; dr's for failback)"
# as tools/demo-deploy.sh; the deployment's own catalogs stay in the list (nothing is revoked)
export DRHOST_DATABRICKS_SP_OBJECT_ID=${DRHOST_DATABRICKS_SP_OBJECT_ID:-00000000-0000-0000-0000-0000000000db}
export DRHOST_REPLICATION_SP_APP_ID=${DRHOST_REPLICATION_SP_APP_ID:-$AZURE_CLIENT_ID}
deploy_cats="sales,finance,$DRHOST_REPLICATE_CATALOGS"
for env in prod dr; do
  set +e
  DRHOST_REPLICATE_CATALOGS=$deploy_cats "$DRHOST" scripts/deploy.lua "$env" plan -out /tmp/drhost-demo-grants-$env.$$
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "the plan of $env should add the grants (exit 2), got $rc"
  DRHOST_REPLICATE_CATALOGS=$deploy_cats "$DRHOST" scripts/deploy.lua "$env" apply /tmp/drhost-demo-grants-$env.$$ \
    || fail "the grants in $env"
done

step "storage geo-replication of external non-Delta files (GRS; the simulator's stand-in)"
"$DRHOST" tools/seed-replicate.lua geo

step "check: dr matches prod (row counts, views resolving, grants through the principal mapping)"
"$DRHOST" tools/seed-replicate.lua compare || fail "dr does not match prod"

step "status"
"$DRHOST" scripts/replicate.lua dr status

step "change two tables in prod"
"$DRHOST" tools/seed-replicate.lua change
"$DRHOST" scripts/replicate.lua dr status

step "sync 2: exactly two clones"
"$DRHOST" scripts/replicate.lua dr sync 2>&1 | tee /tmp/drhost-demo-sync2.$$ || fail "second sync reported failures"
grep -q '^clones: 2$' /tmp/drhost-demo-sync2.$$ || fail "second sync did not clone exactly two tables"
grep -q 'credential vending refused' /tmp/drhost-demo-sync2.$$ && fail "credential vending was refused"
grep -Eq '[1-9][0-9]* source Delta version\(s\) unchanged by their Delta log' /tmp/drhost-demo-sync2.$$ ||
  fail "no table's version came from its Delta log"
"$DRHOST" tools/seed-replicate.lua compare || fail "dr does not match prod after the second sync"

step "independent check (tools/deltacheck.py): dr's replicas, opened from Azurite with delta-rs, equal prod at the versions dr records"
"$DRHOST" tools/seed-replicate.lua deltacheck || fail "a replica differs from prod at its recorded version"

step "sync 3: empty plan, nothing cloned"
"$DRHOST" scripts/replicate.lua dr plan | tee /tmp/drhost-demo-plan3.$$
grep -q '^No changes' /tmp/drhost-demo-plan3.$$ || fail "third plan is not empty"
"$DRHOST" scripts/replicate.lua dr sync | tee /tmp/drhost-demo-sync3.$$ || fail "third sync reported failures"
grep -q '^clones: 0$' /tmp/drhost-demo-sync3.$$ || fail "third sync cloned something"
rm -f /tmp/drhost-demo-*.$$

step "replication demo: dr matches prod; second sync cloned 2 tables; third sync cloned 0 ($(( $(date +%s) - start )) s)"

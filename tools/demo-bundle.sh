#!/usr/bin/env bash
# Code in both regions (docs/cicd.md): the example bundle deployed to every spoke workspace the
# way the bundle workflow does (prod active, dr paused) by the simulator's stand-in for
# `databricks bundle deploy`, then the workspace-asset parity table; a schedule resumed by hand
# and a secret deleted in dr are found, and a redeploy of dr (and the secret put back) fix them. Runs after tools/demo-deploy.sh, under
# tools/with-sim.sh (tools/demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
DRHOST=${DRHOST:-build/drhost}
PY=${DRHOST_PYTHON:-.venv/bin/python}
step() { printf '\n=== %s\n' "$*"; }
fail() { echo "demo-bundle: FAILED: $*" >&2; exit 1; }

spokes() {   # "name url" per spoke workspace of an environment, from its deployment outputs
  "$DRHOST" scripts/deploy.lua "$1" output | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
d = d.get("outputs", d)
w = d["workspaces"]
w = w.get("value", w) if isinstance(w, dict) and "value" in w else w
for name, v in sorted(w.items()):
    u = v["url"] if isinstance(v, dict) else v
    print(name, u if u.startswith("http") else "https://" + u)'
}

step "bundle: the example's checks (unit tests, contract check) as the workflow runs them"
(cd examples/bundle && "../../$PY" -m pytest -q -p no:cacheprovider tests | tail -n 1)
"$PY" tools/bundle-check.py

step "workload identity federation: a deploying service principal per target, its federation policy"
REPO_SUBJECT=repo:example-org/drhost:environment
prod_sp=$("$DRHOST" tools/demo-bundle-drift.lua federation bundle-deploy-prod "$REPO_SUBJECT:prod")
dr_sp=$("$DRHOST" tools/demo-bundle-drift.lua federation bundle-deploy-dr "$REPO_SUBJECT:dr")
echo "bundle-deploy-prod: $prod_sp (subject $REPO_SUBJECT:prod); bundle-deploy-dr: $dr_sp (subject $REPO_SUBJECT:dr)"
# as a job of the bundle workflow in GitHub environment $1: DATABRICKS_AUTH_TYPE=github-oidc
deploy_as() {
  local env=$1 sp=$2; shift 2
  DATABRICKS_AUTH_TYPE=github-oidc DATABRICKS_CLIENT_ID=$sp DATABRICKS_TOKEN_AUDIENCE=$DATABRICKS_ACCOUNT_ID \
    ACTIONS_ID_TOKEN_REQUEST_URL="$DRHOST_SIM_ADMIN/github-oidc/token?subject=$REPO_SUBJECT:$env" \
    ACTIONS_ID_TOKEN_REQUEST_TOKEN=runner-request-token \
    "$PY" tools/bundle-deploy-sim.py --target "$env" "$@"
}

step "bundle deploy: prod target to prod's spokes, dr target to dr's (tools/bundle-deploy-sim.py, github-oidc)"
declare -A dr_url
while read -r name url; do dr_url[$name]=$url; done < <(spokes dr)
first_dr=""; first_prod=""
while read -r name url; do
  [ -n "${dr_url[$name]:-}" ] || fail "spoke $name has no dr workspace"
  deploy_as prod "$prod_sp" --host "$url" --var run_as_sp=prod-etl-sp
  deploy_as dr "$dr_sp" --host "${dr_url[$name]}" --var run_as_sp=dr-etl-sp
  [ -n "$first_dr" ] || { first_dr=${dr_url[$name]}; first_prod=$url; }
done < <(spokes prod)
"$DRHOST" tools/demo-bundle-drift.lua assets "$first_prod" "$first_dr"

step "parity: dr mirrors prod (jobs present and paused, policies, warehouses, secret scopes)"
"$DRHOST" scripts/parity.lua || fail "parity found differences after a clean deploy"

step "drift: a dr schedule resumed by hand, a dr secret deleted -- parity reports both (exit 1 expected)"
"$DRHOST" tools/demo-bundle-drift.lua drift "$first_dr"
if "$DRHOST" scripts/parity.lua; then fail "parity did not report the resumed dr job"; fi

step "fix: redeploy the dr target, put the secret back; parity is clean again"
deploy_as dr "$dr_sp" --host "$first_dr" --var run_as_sp=dr-etl-sp
if deploy_as dr "$prod_sp" --host "$first_dr" --var run_as_sp=dr-etl-sp 2>/dev/null; then
  fail "prod's deploying principal was let into dr with dr's OIDC token"
fi
echo "demo: prod's principal with a dr OIDC token is refused (no federation policy matches)"
"$DRHOST" tools/demo-bundle-drift.lua fix "$first_dr"
"$DRHOST" scripts/parity.lua || fail "parity still differs after the dr redeploy"

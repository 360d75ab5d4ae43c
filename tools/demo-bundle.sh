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

step "bundle deploy: prod target to prod's spokes, dr target to dr's (tools/bundle-deploy-sim.py)"
declare -A dr_url
while read -r name url; do dr_url[$name]=$url; done < <(spokes dr)
first_dr=""; first_prod=""
while read -r name url; do
  [ -n "${dr_url[$name]:-}" ] || fail "spoke $name has no dr workspace"
  "$PY" tools/bundle-deploy-sim.py --host "$url" --target prod --var run_as_sp=prod-etl-sp
  "$PY" tools/bundle-deploy-sim.py --host "${dr_url[$name]}" --target dr --var run_as_sp=dr-etl-sp
  [ -n "$first_dr" ] || { first_dr=${dr_url[$name]}; first_prod=$url; }
done < <(spokes prod)
"$DRHOST" tools/demo-bundle-drift.lua assets "$first_prod" "$first_dr"

step "parity: dr mirrors prod (jobs present and paused, policies, warehouses, secret scopes)"
"$DRHOST" scripts/parity.lua || fail "parity found differences after a clean deploy"

step "drift: a dr schedule resumed by hand, a dr secret deleted -- parity reports both (exit 1 expected)"
"$DRHOST" tools/demo-bundle-drift.lua drift "$first_dr"
if "$DRHOST" scripts/parity.lua; then fail "parity did not report the resumed dr job"; fi

step "fix: redeploy the dr target, put the secret back; parity is clean again"
"$PY" tools/bundle-deploy-sim.py --host "$first_dr" --target dr --var run_as_sp=dr-etl-sp
"$DRHOST" tools/demo-bundle-drift.lua fix "$first_dr"
"$DRHOST" scripts/parity.lua || fail "parity still differs after the dr redeploy"

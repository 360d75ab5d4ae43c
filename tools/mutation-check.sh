#!/usr/bin/env bash
# tools/mutation-check.sh CLONE_DIR [NAME...]: shows that each security-invariant assertion of the
# deployment specs fails when its invariant is broken. For every mutation below (or only
# the NAMEs given): a small sed on a deployment file of CLONE_DIR (a clone or worktree, never the
# tree you edit: one with local changes under scripts/ or spec/ is refused), then the unit and the
# integration estate specs (the latter through tools/with-sim.sh, under a timeout), then git restores
# the file. Verdicts: KILLED (the integration spec failed in the expected test), REFUSED (the apply
# failed: the simulator, or drhost itself, rejected the mutated estate; the error is shown), KILLED
# elsewhere (failed, but not where expected), SURVIVED (the integration spec passed).
# Exit status: 0 when nothing survived and the unmutated specs pass, 1 otherwise, 2 on bad usage.
# Not part of the test suites (about 30 s per mutation, 13 min in all).
# Needs CLONE_DIR/build/drhost (`make -s all`), CLONE_DIR/.venv and sim/node_modules (run
# tools/setup.sh there, or symlink an existing checkout's). MUTATION_LOGS=DIR keeps the TAP outputs.
set -uo pipefail
if [ $# -lt 1 ] || [ ! -e "$1/.git" ]; then
  echo "usage: tools/mutation-check.sh CLONE_DIR [NAME...]" >&2
  exit 2
fi
cd "$1" || exit 2
shift
only=" $* "
if [ -n "$(git status --porcelain --untracked-files=no -- scripts spec)" ]; then
  echo "mutation-check: $(pwd) has local changes under scripts/ or spec/; use a clean clone" >&2
  exit 2
fi
[ -x build/drhost ] || { echo "mutation-check: build/drhost missing; run make -s all in $(pwd)" >&2; exit 2; }
BUSTED=$(command -v busted) || { echo "mutation-check: busted not on PATH" >&2; exit 2; }
LIMIT=${MUTATION_TIMEOUT:-240}
log=${MUTATION_LOGS:-$(mktemp -d)}
mkdir -p "$log"
trap 'git checkout -q -- scripts; [ -n "${MUTATION_LOGS:-}" ] || rm -rf "$log"' EXIT
D=scripts/lib/deploy/components

# failures FILE: one line per failing test of a TAP file: "test name :: spec:line: message [got X, want Y]"
failures() {
  awk 'function flush() { if (t != "") print t " :: " m (got != "" ? " [got " got ", want " want "]" : ""); t = "" }
       /^(not )?ok [0-9]+ - / { flush() }
       /^not ok [0-9]+ - / { t = $0; sub(/^not ok [0-9]+ - deploy estate (on the simulator|\(declared\)) /, "", t)
                              m = ""; got = ""; want = ""; st = 0; next }
       t != "" && /^# Failure message: / { m = $0; sub(/^# Failure message: spec\/[a-z]+\//, "", m); next }
       t != "" && /^# Passed in:/ { st = 1; next }
       t != "" && /^# Expected:/ { st = 2; next }
       t != "" && st == 1 && got == "" { got = substr($0, 3) }
       t != "" && st == 2 && want == "" { want = substr($0, 3) }
       END { flush() }' "$1"
}
# run_specs TAG: the unit + integration specs; UNIT / INT hold their failures ("" when they pass)
run_specs() {
  build/drhost "$BUSTED" -o TAP spec/unit/deploy_estate_spec.lua >"$log/$1.unit" 2>&1
  UNIT=$(failures "$log/$1.unit")
  timeout "$LIMIT" tools/with-sim.sh build/drhost "$BUSTED" -o TAP spec/integration/deploy_estate_spec.lua \
    >"$log/$1.int" 2>&1
  local rc=$?
  INT=$(failures "$log/$1.int")
  if [ "$rc" -eq 124 ]; then INT="timeout after ${LIMIT}s"; fi
  if [ "$rc" -ne 0 ] && [ -z "$INT" ]; then INT="exit $rc: $(tail -n 1 "$log/$1.int")"; fi
  # a refused apply: the first resource drhost reports FAILED (the simulator's error), else the first error
  REFUSAL=$(grep -m1 -E '^# +FAILED ' "$log/$1.int" |
    sed -E 's/^# +FAILED +//; s/ \((PUT|POST|PATCH|GET|DELETE) [^)]*\)//' | cut -c1-220)
  [ -n "$REFUSAL" ] || REFUSAL=$(grep -m1 -iE '^# .*error' "$log/$1.int" | sed 's/^# *//' | cut -c1-220)
}

survived=0; total=0
# mutate NAME FILE SED EXPECT: EXPECT is a fragment of the integration test expected to fail;
# "apply" means the apply is expected to be refused (by the simulator, or by drhost).
mutate() {
  local name=$1 file=$2 expr=$3 expect=$4
  case "$only" in "  ") ;; *" $name "*) ;; *) return ;; esac
  total=$((total + 1))
  sed -i -e "$expr" "$file"
  if git diff --quiet -- "$file"; then
    echo "| $name | (sed did not apply to $file) | SURVIVED: mutation not applied |"
    survived=$((survived + 1)); return
  fi
  local change
  change=$(git diff -U0 -- "$file" | grep -m1 '^+[^+]' | sed -e 's/^+ *//' -e 's/|/\\|/g' | cut -c1-90)
  [ -n "$change" ] || change="deleted: $(git diff -U0 -- "$file" | grep -m1 '^-[^-]' | sed -e 's/^- *//' | cut -c1-80)"
  run_specs "$name"
  git checkout -q -- "$file"
  local hit verdict nint
  nint=$(printf '%s' "$INT" | grep -c .)
  hit=$(printf '%s\n' "$INT" | grep -m1 -F -- "$expect")
  if [ -z "$INT" ]; then verdict="SURVIVED"; survived=$((survived + 1))
  elif grep -q '^applies' <<<"$INT"; then verdict="REFUSED"; hit="apply failed: ${REFUSAL:-?}"
    [ "$expect" = apply ] || verdict="REFUSED (expected to fail in: $expect)"
  elif [ -n "$hit" ] && [ "$expect" != apply ]; then verdict="KILLED"
  else verdict="KILLED elsewhere (expected: $expect)"; hit=$(printf '%s\n' "$INT" | head -n 1)
  fi
  echo "| $name | \`$(basename "$file")\`: \`$change\` | $verdict: ${hit//|/\\|} ($nint integration test(s) failed; unit: $(printf '%s' "$UNIT" | grep -c .) failed) |"
  details+="## $name"$'\n'"integration:"$'\n'"$INT"$'\n'"unit:"$'\n'"$UNIT"$'\n'
}

details=""
echo "| mutation | change | result |"
echo "|---|---|---|"
mutate public-network-access $D/spoke.lua 's/return fe and "Disabled" or "Enabled"/return "Enabled"/' "public network access"
mutate public-ip $D/spoke.lua 's/enableNoPublicIp = { value = true }/enableNoPublicIp = { value = false }/' "public network access"
mutate nsg-rules $D/spoke.lua 's/requiredNsgRules = "NoAzureDatabricksRules"/requiredNsgRules = "AllRules"/' apply
mutate cmk-managed-services-default $D/spoke.lua 's/managedServices = { keySource = "Microsoft.Keyvault"/managedServices = { keySource = "Default"/' apply
mutate cmk-managed-services-absent $D/spoke.lua '/managedServices = { keySource/,+1d' "CMK"
mutate cmk-managed-disk-default $D/spoke.lua 's/managedDisk = { keySource = "Microsoft.Keyvault"/managedDisk = { keySource = "Default"/' apply
mutate cmk-managed-disk-absent $D/spoke.lua '/managedDisk = { keySource/,+1d' apply
mutate cmk-dbfs $D/spoke.lua '/keySource = "Microsoft.Keyvault", keyvaulturi/s/"Microsoft.Keyvault"/"Default"/' "CMK"
mutate default-route-prefix $D/hub.lua 's|addressPrefix = "0.0.0.0/0"|addressPrefix = "10.0.0.0/8"|' "routes 0.0.0.0/0"
mutate default-route-hop $D/hub.lua 's/nextHopType = "VirtualAppliance"/nextHopType = "Internet"/' "routes 0.0.0.0/0"
mutate subnet-route-table $D/spoke.lua '/routeTable = { id = ref(hub.route_table/d' "routes 0.0.0.0/0"
mutate ncc-rule-rejected scripts/lib/deploy/drivers/arm.lua 's/status = "Approved", description/status = "Rejected", description/' \
  "NCC private endpoint rule"
mutate ncc-rule-unapproved $D/spoke.lua 's/local approval = s:add{/local approval = st or s:add{/' "NCC private endpoint rule"
mutate catalog-open $D/catalog.lua 's/isolation_mode = "ISOLATED"/isolation_mode = "OPEN"/' "ISOLATED and bound"
# dropping the binding alone is not enough: the workspace that makes a catalog ISOLATED is bound
# automatically (Unity Catalog and the simulator), so the catalog is also created from spoke a
mutate catalog-unbound $D/catalog.lua 's/w.binding = s:workspace_obj{/w.binding = false and s:workspace_obj{/;
  s/addr = a .. "catalog", kind = "catalog", workspace = ws,/addr = a .. "catalog", kind = "catalog", workspace = (opts.replication_ws or sp).workspace_url,/' apply
mutate catalog-replica-rw $D/catalog.lua 's/"BINDING_TYPE_READ_ONLY" or/"BINDING_TYPE_READ_WRITE" or/' "ISOLATED and bound"
mutate ext-storage-lrs $D/spoke.lua 's/or "Standard_GRS"/or "Standard_LRS"/' "external storage is GRS"
mutate uc-storage-lrs $D/spoke.lua 's/kind == "uc" and "Standard_ZRS"/kind == "uc" and "Standard_LRS"/' "external storage is GRS"
mutate kv-purge-protection-false $D/hub.lua 's/enablePurgeProtection = true/enablePurgeProtection = false/' apply
mutate kv-purge-protection-absent $D/hub.lua 's/ enablePurgeProtection = true,//' apply
mutate kv-rbac $D/hub.lua 's/enableRbacAuthorization = true/enableRbacAuthorization = false/' apply
mutate job-in-primary $D/replication.lua '/^    return r$/i\    r.job = s:workspace_obj{ addr = "replication.job", kind = "job", workspace = ws, body = { name = "stray" } }' \
  "replication job exists only"
mutate one-spoke-from-map scripts/lib/deploy/compose.lua 's/^    workspaces\[#workspaces + 1\] = .*$/&; if #spokes == 1 then break end/' \
  "three spokes"
mutate recipient-own-metastore $D/replication.lua 's/data_recipient_global_metastore_id = r.peer_global_id/data_recipient_global_metastore_id = r.global_id/' \
  apply

# credential vending for the replication run's Delta log probe: the metastore switch, the grant
mutate metastore-external-access-off $D/hub.lua 's/external_access_enabled = true/external_access_enabled = false/' \
  "credential vending is possible"
mutate external-use-absent $D/replication.lua 's/^  r.external_use = external_use(.*$/  r.external_use = {}/' \
  "credential vending is possible"

# the unmutated specs must pass
run_specs baseline
echo
printf '%s' "$details"
echo "unmutated: integration: ${INT:-pass}; unit: ${UNIT:-pass}"
echo "$total mutations, $((total - survived)) killed, $survived survived"
[ -z "$INT" ] && [ -z "$UNIT" ] && [ "$survived" -eq 0 ]

#!/usr/bin/env bash
# Replication bench on the simulator (run by tools/bench.sh under tools/with-sim.sh):
# BENCH_TABLES (default 500) managed tables in prod; first sync, no-op sync, sync after changing
# 2% of the tables -- with drhost's incremental strategy and with "re-clone everything every run"
# side by side (separate dr catalogs, interleaved so both see the same source); wall time,
# statements and REST calls issued by drhost, requests seen by the simulator (admin /stats).
set -euo pipefail
cd "$(dirname "$0")/../.."
DRHOST=${DRHOST:-build/drhost}
N=${BENCH_TABLES:-500}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

eval "$("$DRHOST" tools/seed-replicate.lua estate)"
echo "bench: creating $N tables in prod"
"$DRHOST" tools/seed-replicate.lua tables "$N" >/dev/null

for strategy in incremental always; do
  target=bench_inc; [ "$strategy" = always ] && target=bench_full
  cat > "$work/$strategy.lua" <<CFG
return {
  source = { host = "$DRHOST_SOURCE_HOST", warehouse_id = "$DRHOST_SOURCE_WAREHOUSE_ID" },
  target = { host = "$DRHOST_TARGET_HOST", warehouse_id = "$DRHOST_TARGET_WAREHOUSE_ID" },
  catalogs = { bench = "$target" },
  storage = { ["${DRHOST_PROD_EXTERNAL_URL:-abfss://external@drhostprodext.dfs.core.windows.net/}"] =
              "${DRHOST_DR_EXTERNAL_URL:-abfss://external@drhostdrext.dfs.core.windows.net/}" },
  sharing = { recipient = "$DRHOST_RECIPIENT", share_prefix = "drhost_bench", catalog_prefix = "bench_src" },
  state = { catalog = "ops_$target", managed_location = "${DRHOST_DR_EXTERNAL_URL:-abfss://external@drhostdrext.dfs.core.windows.net/}ops_$target" },
  parallelism = 8,
  clone_strategy = "$strategy",
}
CFG
done

admin() { curl -sS --cacert "$DRHOST_CA_BUNDLE" -X "$1" "$DRHOST_SIM_ADMIN$2" ${3:+-H 'Content-Type: application/json' -d "$3"}; }
# simulated copy time per file a clone copies (DEEP CLONE is incremental: an unchanged source copies 0)
CLONE_MS=${BENCH_CLONE_MS:-20}
admin POST /sql/config "{\"clone_ms_per_file\": $CLONE_MS}" >/dev/null
trap 'admin POST /sql/config "{\"clone_ms_per_file\": 0}" >/dev/null 2>&1; rm -rf "$work"' EXIT

# run LABEL STRATEGY -> one result line in $work/results
run() {
  local label=$1 strategy=$2 t0 t1 out
  admin DELETE /stats >/dev/null
  t0=$(date +%s.%N)
  out=$("$DRHOST" scripts/replicate.lua dr sync --json --config "$work/$strategy.lua" 2>"$work/err") || {
    echo "bench: $label/$strategy failed:"; tail -20 "$work/err"; exit 1; }
  t1=$(date +%s.%N)
  local sim_total
  sim_total=$(admin GET /stats | "$DRHOST" -e 'print(require("json").decode(io.read("a")).total)')
  printf '%s' "$out" | LABEL="$label" STRATEGY="$strategy" WALL="$t0 $t1" SIM="$sim_total" "$DRHOST" -e '
    local d = require("json").decode(io.read("a"))
    local t0, t1 = os.getenv("WALL"):match("^(%S+) (%S+)$")
    print(string.format("%s|%s|%.1f|%d|%d|%d|%s|%d", os.getenv("LABEL"), os.getenv("STRATEGY"), tonumber(t1) - tonumber(t0),
      #d.clones, d.statements, d.rest_calls, os.getenv("SIM"), d.totals.failed))' >> "$work/results"
}

: > "$work/results"
echo "bench: first sync"
run "first sync" incremental; run "first sync" always
echo "bench: no-op sync"
run "no-op sync" incremental; run "no-op sync" always
changed=$(( (N * 2 + 99) / 100 ))
names=$("$DRHOST" -e "local n, k = $N, $changed
  local out = {}
  for j = 1, k do local i = math.floor((j - 1) * n / k) + 1; out[j] = string.format('bench.s%d.t%04d', math.ceil(i / 50), i) end
  print(table.concat(out, ','))")
echo "bench: changing $changed table(s) (2%)"
"$DRHOST" tools/seed-replicate.lua touch "$names"
run "2% changed" incremental; run "2% changed" always

N="$N" CLONE_MS="$CLONE_MS" "$DRHOST" -e '
local rows = {}
for line in io.lines("'"$work/results"'") do
  local f = {}
  for x in (line .. "|"):gmatch("(.-)|") do f[#f + 1] = x end
  rows[#rows + 1] = f
end
print(string.format("\nreplication bench: %s tables on the simulator (%s ms simulated copy time per cloned file)",
  os.getenv("N") or "?", os.getenv("CLONE_MS") or "0"))
print(string.format("%-12s %-12s %8s %7s %11s %10s %13s %7s", "run", "strategy", "wall_s", "clones", "statements", "rest_calls", "sim_requests", "failed"))
print(string.rep("-", 88))
for _, f in ipairs(rows) do
  print(string.format("%-12s %-12s %8s %7s %11s %10s %13s %7s", f[1], f[2] == "always" and "re-clone all" or f[2], f[3], f[4], f[5], f[6], f[7], f[8]))
end
print("\nratios (re-clone all / incremental):")
for i = 1, #rows, 2 do
  local a, b = rows[i], rows[i + 1]
  local function r(x, y) x, y = tonumber(x), tonumber(y); if not y or y == 0 then return x == 0 and "1.0" or "inf" end; return string.format("%.1f", x / y) end
  print(string.format("  %-12s wall %sx  clones %sx  statements %sx  sim requests %sx", a[1], r(b[3], a[3]), r(b[4], a[4]), r(b[5], a[5]), r(b[7], a[7])))
end
local noop = rows[3]
print(string.format("\nno-op sync with the incremental strategy cloned %s table(s)", noop[4]))
os.exit(tonumber(noop[4]) == 0 and 0 or 1)
' 

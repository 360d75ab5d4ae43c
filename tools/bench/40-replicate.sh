#!/usr/bin/env bash
# Replication bench on the simulator (run by tools/bench.sh under tools/with-sim.sh).
# BENCH_TABLES (default 500) managed tables in prod, 50 per schema (10,000 -> 200 schemas); first
# sync, no-op sync and sync after changing 2% of the tables, with three ways side by side (separate
# dr catalogs, interleaved so all three see the same source):
#   log      drhost's default: versions from the head of each table's Delta log (credential vending
#            + one listing per table), DESCRIBE HISTORY only for what moved
#   history  DESCRIBE HISTORY for every Delta table every run (version_source = "history")
#   always   re-clone everything every run (clone_strategy = "always"; the open-source peers' way)
# Latency: BENCH_LATENCY_MS (default 50) injected by the simulator on every workspace request (REST
# and SQL statement calls alike); Azurite (the blob listings) answers at loopback speed, no latency
# injected. BENCH_CLONE_MS (default 20) simulated copy time per file a clone copies.
# Prints a table, the ratios and BENCH lines; also drhost's peak RSS and start-up for the plan.
# BENCH_BASELINES=noop (for 10,000 tables, where every full run costs tens of minutes on this
# simulator) runs `log` for every step and one baseline only where the target is defined: the
# no-op sync of `always` (re-clone everything, into its own empty catalog: the copies of a first
# clone, which on Databricks costs what every re-clone of the peers' way costs, one DEEP CLONE
# statement per table). `history` is left out there: its cost per table is measured at smaller N.
set -euo pipefail
cd "$(dirname "$0")/../.."
DRHOST=${DRHOST:-build/drhost}
N=${BENCH_TABLES:-500}
LAT=${BENCH_LATENCY_MS:-50}
CLONE_MS=${BENCH_CLONE_MS:-20}
BASELINES=${BENCH_BASELINES:-full}
case "$BASELINES" in full|noop) ;; *) echo "bench: BENCH_BASELINES is full or noop, not '$BASELINES'" >&2; exit 2 ;; esac
work=$(mktemp -d)
admin() { curl -sS --cacert "$DRHOST_CA_BUNDLE" -X "$1" "$DRHOST_SIM_ADMIN$2" ${3:+-H 'Content-Type: application/json' -d "$3"}; }
cleanup() {
  admin DELETE /faults >/dev/null 2>&1 || true
  admin POST /sql/config '{"clone_ms_per_file": 0}' >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

eval "$("$DRHOST" tools/seed-replicate.lua estate)"
t0=$(date +%s)
echo "bench: creating $N tables in prod ($(( (N + 49) / 50 )) schemas)"
"$DRHOST" tools/seed-replicate.lua tables "$N" >/dev/null
"$DRHOST" tools/seed-replicate.lua external-use bench >/dev/null
echo "bench: set-up took $(( $(date +%s) - t0 )) s"

for way in log history always; do
  strategy=incremental; source=$way
  [ "$way" = always ] && { strategy=always; source=history; }
  cat=$way
  cat > "$work/$way.lua" <<CFG
return {
  source = { host = "$DRHOST_SOURCE_HOST", warehouse_id = "$DRHOST_SOURCE_WAREHOUSE_ID" },
  target = { host = "$DRHOST_TARGET_HOST", warehouse_id = "$DRHOST_TARGET_WAREHOUSE_ID" },
  catalogs = { bench = "bench_$cat" },
  storage = { ["${DRHOST_PROD_EXTERNAL_URL:-abfss://external@drhostprodext.dfs.core.windows.net/}"] =
              "${DRHOST_DR_EXTERNAL_URL:-abfss://external@drhostdrext.dfs.core.windows.net/}" },
  sharing = { recipient = "$DRHOST_RECIPIENT", share_prefix = "drhost_bench", catalog_prefix = "bench_src" },
  state = { catalog = "ops_bench_$cat", managed_location = "${DRHOST_DR_EXTERNAL_URL:-abfss://external@drhostdrext.dfs.core.windows.net/}ops_bench_$cat" },
  parallelism = 8,
  clone_strategy = "$strategy",
  version_source = "$source",
}
CFG
done

admin POST /sql/config "{\"clone_ms_per_file\": $CLONE_MS}" >/dev/null
if [ "$LAT" -gt 0 ]; then admin POST /faults "{\"host_kind\": \"workspace\", \"latency_ms\": $LAT}" >/dev/null; fi

# run LABEL WAY -> one result line in $work/results
run() {
  local label=$1 way=$2 t0 t1 out
  admin DELETE /stats >/dev/null
  t0=$(date +%s.%N)
  out=$("$DRHOST" scripts/replicate.lua dr sync --json --config "$work/$way.lua" 2>"$work/err") || {
    echo "bench: $label/$way failed:"; tail -20 "$work/err"; exit 1; }
  t1=$(date +%s.%N)
  # the log way measures the probe only while vending answers: a fallback would measure DESCRIBE HISTORY
  if [ "$way" = log ] && grep -q "versions read with DESCRIBE HISTORY instead" "$work/err"; then
    echo "bench: $label/$way fell back to DESCRIBE HISTORY:"; grep "DESCRIBE HISTORY instead" "$work/err" | head -3; exit 1
  fi
  local sim_total
  sim_total=$(admin GET /stats | "$DRHOST" -e 'print(require("json").decode(io.read("a")).total)')
  printf '%s' "$out" | LABEL="$label" WAY="$way" WALL="$t0 $t1" SIM="$sim_total" "$DRHOST" -e '
    local d = require("json").decode(io.read("a"))
    local t0, t1 = os.getenv("WALL"):match("^(%S+) (%S+)$")
    print(string.format("%s|%s|%.2f|%d|%d|%d|%s|%d", os.getenv("LABEL"), os.getenv("WAY"), tonumber(t1) - tonumber(t0),
      #d.clones, d.statements, d.rest_calls, os.getenv("SIM"), d.totals.failed))' >> "$work/results"
  echo "bench: $(tail -n 1 "$work/results")"
}

: > "$work/results"
ways() {
  if [ "$BASELINES" = full ]; then echo log history always
  elif [ "$1" = "no-op sync" ]; then echo log always
  else echo log; fi
}
for label in "first sync" "no-op sync"; do
  echo "bench: $label"
  for way in $(ways "$label"); do run "$label" "$way"; done
done
changed=$(( (N * 2 + 99) / 100 ))
names=$("$DRHOST" -e "local n, k = $N, $changed
  local out = {}
  for j = 1, k do local i = math.floor((j - 1) * n / k) + 1; out[j] = string.format('bench.s%d.t%04d', math.ceil(i / 50), i) end
  print(table.concat(out, ','))")
echo "bench: changing $changed table(s) (2%)"
admin DELETE /faults >/dev/null
"$DRHOST" tools/seed-replicate.lua touch "$names"
if [ "$LAT" -gt 0 ]; then admin POST /faults "{\"host_kind\": \"workspace\", \"latency_ms\": $LAT}" >/dev/null; fi
for way in $(ways "2% changed"); do run "2% changed" "$way"; done

# drhost itself: peak RSS and wall of the no-op plan (log), and the start-up of the binary
/usr/bin/time -f "%M %e" -o "$work/rss" "$DRHOST" scripts/replicate.lua dr plan --json --config "$work/log.lua" \
  >/dev/null 2>"$work/plan.err" || { echo "bench: plan failed"; tail -5 "$work/plan.err"; exit 1; }
s_ns=$(date +%s%N)
for _ in 1 2 3 4 5 6 7 8 9 10; do "$DRHOST" -e 'local _ = require("replicate.plan")' >/dev/null; done
start_ms=$(( ($(date +%s%N) - s_ns) / 10000000 ))

N="$N" CLONE_MS="$CLONE_MS" LAT="$LAT" RSS="$(cat "$work/rss")" START="$start_ms" "$DRHOST" -e '
local rows, by = {}, {}
for line in io.lines("'"$work/results"'") do
  local f = {}
  for x in (line .. "|"):gmatch("(.-)|") do f[#f + 1] = x end
  rows[#rows + 1] = f
  by[f[1] .. "/" .. f[2]] = f
end
local n = os.getenv("N")
print(string.format("\nreplication bench: %s tables, %s ms injected per workspace request, %s ms copy time per cloned file",
  n, os.getenv("LAT"), os.getenv("CLONE_MS")))
print(string.format("%-12s %-10s %8s %7s %11s %10s %13s %7s", "run", "way", "wall_s", "clones", "statements", "rest_calls", "sim_requests", "failed"))
print(string.rep("-", 86))
for _, f in ipairs(rows) do
  print(string.format("%-12s %-10s %8s %7s %11s %10s %13s %7s", f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]))
end
local function r(x, y) x, y = tonumber(x), tonumber(y); if not y or y == 0 then return x == 0 and 1 or math.huge end; return x / y end
local function key(label) return (label:gsub("%% changed", "pct_changed"):gsub("[^%w]+", "_")) end
print("\nratios (log / other), wall time and SQL statements:")
local bench = {}
for _, label in ipairs({ "first sync", "no-op sync", "2% changed" }) do
  local l, h, a = by[label .. "/log"], by[label .. "/history"], by[label .. "/always"]
  local k = key(label)
  for _, x in ipairs({ { "log", l }, { "history", h }, { "always", a } }) do
    if x[2] then
      bench[#bench + 1] = string.format("BENCH repl_n%s_%s_%s_wall_s %s", n, k, x[1], x[2][3])
      bench[#bench + 1] = string.format("BENCH repl_n%s_%s_%s_statements %s", n, k, x[1], x[2][5])
      bench[#bench + 1] = string.format("BENCH repl_n%s_%s_%s_rest_calls %s", n, k, x[1], x[2][6])
      bench[#bench + 1] = string.format("BENCH repl_n%s_%s_%s_clones %s", n, k, x[1], x[2][4])
    end
  end
  for _, x in ipairs({ { "always", a, "re-clone-all" }, { "history", h, "history" } }) do
    if x[2] then
      print(string.format("  %-12s wall: %.3f of %s   statements: %.3f of %s",
        label, r(l[3], x[2][3]), x[3], r(l[5], x[2][5]), x[3]))
      bench[#bench + 1] = string.format("BENCH repl_n%s_%s_wall_ratio_log_vs_%s %.4f", n, k, x[1], r(l[3], x[2][3]))
    end
  end
end
local rss_kb, plan_s = os.getenv("RSS"):match("^(%d+) (%S+)")
print(string.format("\ndrhost no-op plan (log) at %s tables: peak RSS %.1f MB, wall %s s; drhost start-up %s ms",
  n, tonumber(rss_kb) / 1024, plan_s, os.getenv("START")))
bench[#bench + 1] = string.format("BENCH repl_n%s_plan_peak_rss_mb %.1f", n, tonumber(rss_kb) / 1024)
bench[#bench + 1] = string.format("BENCH repl_n%s_plan_wall_s %s", n, plan_s)
bench[#bench + 1] = string.format("BENCH drhost_startup_ms %s", os.getenv("START"))
print("")
for _, b in ipairs(bench) do print(b) end
local noop = by["no-op sync/log"]
print(string.format("\nno-op sync (log) cloned %s table(s)", noop[4]))
os.exit(tonumber(noop[4]) == 0 and 0 or 1)
'

-- Rendering: the plan (Terraform-like), the run summary table, the status table, and the JSON
-- documents behind --json. Pure functions of plan/results data.

local errors = require("errors")

local M = {}

local SYMBOL = { create = "+", clone = "~", update = "~", replace = "-/+", record = "=", drop = "-", grant = "~" }

function M.plan_lines(plan)
  local lines = {}
  local function add(s) lines[#lines + 1] = s end
  if #plan.actions == 0 then
    add("No changes. dr is in step with prod.")
  else
    local phase
    for _, a in ipairs(plan.actions) do
      if a.phase ~= phase then phase = a.phase; add(""); add("# " .. phase) end
      add(string.format("  %-3s %-8s %-9s %s  (%s)", SYMBOL[a.op] or "~", a.op, a.kind, a.object, a.reason))
    end
  end
  if #plan.skipped > 0 then
    add(""); add("# skipped")
    for _, s in ipairs(plan.skipped) do add(string.format("  !   %s  (%s)", s.object, s.reason)) end
  end
  if #plan.failed > 0 then
    add(""); add("# cannot be replicated")
    for _, f in ipairs(plan.failed) do add(string.format("  x   %s  (%s)", f.object, f.reason)) end
  end
  if #(plan.warnings or {}) > 0 then
    add(""); add("# warnings")
    for _, w in ipairs(plan.warnings) do add(string.format("  ?   %s  (%s)", w.object, w.reason)) end
  end
  if #(plan.notes or {}) > 0 then
    add(""); add("# notes")
    for _, n in ipairs(plan.notes) do add(string.format("  .   %s  (%s)", n.object, n.reason)) end
  end
  local c = plan.counts or {}
  add("")
  add(string.format("Plan: %d to create, %d to clone, %d to update, %d to replace, %d to drop; %d skipped, %d failed.",
    c.create or 0, c.clone or 0, (c.update or 0) + (c.grant or 0) + (c.record or 0), c.replace or 0, c.drop or 0,
    #plan.skipped, #plan.failed))
  return lines
end

-- Summary of a run: per phase ok/failed/skipped, then every failure with its reason.
function M.summary(plan, results)
  local per, phases = {}, {}
  local failures, clones = {}, {}
  local totals = { ok = 0, failed = 0, skipped = 0 }
  for _, a in ipairs(plan.actions) do
    local r = results[a.id] or { status = "not run" }
    if not per[a.phase] then per[a.phase] = { ok = 0, failed = 0, skipped = 0 }; phases[#phases + 1] = a.phase end
    local st = r.status == "ok" and "ok" or (r.status == "skipped" and "skipped" or "failed")
    per[a.phase][st] = per[a.phase][st] + 1
    totals[st] = totals[st] + 1
    if st ~= "ok" then failures[#failures + 1] = { object = a.object, phase = a.phase, status = r.status, reason = r.error } end
    if a.op == "clone" and st == "ok" then
      clones[#clones + 1] = { object = a.object, source = a.source, source_version = a.record and a.record.source_version,
        reason = a.reason, metrics = r.metrics, elapsed = r.elapsed }
    end
  end
  for _, f in ipairs(plan.failed) do
    failures[#failures + 1] = { object = f.object, phase = "plan", status = "failed", reason = f.reason }
    totals.failed = totals.failed + 1
  end
  return { phases = phases, per = per, totals = totals, failures = failures, clones = clones,
    skipped = plan.skipped, warnings = plan.warnings }
end

--- discovery_failed(err) -> the summary of a run whose discovery failed (a workspace unreachable):
-- nothing was planned or run, one failure names the error.
function M.discovery_failed(err)
  return { phases = {}, per = {}, totals = { ok = 0, failed = 1, skipped = 0 }, clones = {}, skipped = {},
    failures = { { object = "discovery", phase = "discover", status = "failed", reason = errors.text(err) } } }
end

function M.summary_lines(s)
  local lines = {}
  local function add(x) lines[#lines + 1] = x end
  add(string.format("%-16s %6s %7s %8s", "phase", "ok", "failed", "skipped"))
  add(string.rep("-", 40))
  for _, p in ipairs(s.phases) do
    local r = s.per[p]
    add(string.format("%-16s %6d %7d %8d", p, r.ok, r.failed, r.skipped))
  end
  add(string.rep("-", 40))
  add(string.format("%-16s %6d %7d %8d", "total", s.totals.ok, s.totals.failed, s.totals.skipped))
  add(string.format("clones: %d", #s.clones))
  for _, c in ipairs(s.clones) do
    local m = c.metrics or {}
    add(string.format("  %s <- %s @ v%s (%s)%s", c.object, c.source, tostring(c.source_version), c.reason,
      m.num_copied_files and ("  copied files: " .. tostring(m.num_copied_files)) or ""))
  end
  if #s.failures > 0 then
    add("failed:")
    for _, f in ipairs(s.failures) do
      add(string.format("  %s [%s] %s: %s", f.object, f.phase, f.status, tostring(f.reason)))
    end
  end
  if #(s.skipped or {}) > 0 then
    add("skipped by policy:")
    for _, k in ipairs(s.skipped) do add(string.format("  %s: %s", k.object, k.reason)) end
  end
  return lines
end

-- Status rows: { object=, source=, state = "in sync"|"behind"|"missing"|"unknown", source_version=,
-- cloned_version=, lag_s= }.
function M.status_lines(rows)
  local lines = {}
  lines[1] = string.format("%-40s %-9s %8s %8s %8s", "object", "state", "source", "cloned", "lag_s")
  lines[2] = string.rep("-", 78)
  for _, r in ipairs(rows) do
    lines[#lines + 1] = string.format("%-40s %-9s %8s %8s %8s", r.object, r.state, tostring(r.source_version or "-"),
      tostring(r.cloned_version or "-"), r.lag_s and string.format("%d", r.lag_s) or "-")
  end
  local n = { ["in sync"] = 0, behind = 0, missing = 0, unknown = 0 }
  for _, r in ipairs(rows) do n[r.state] = (n[r.state] or 0) + 1 end
  lines[#lines + 1] = string.format("%d in sync, %d behind, %d missing, %d unknown", n["in sync"], n.behind, n.missing, n.unknown)
  return lines
end

-- Seconds since the epoch of an ISO-8601 UTC timestamp or epoch milliseconds.
function M.epoch(ts)
  if ts == nil then return nil end
  if type(ts) == "number" then return ts > 1e11 and ts / 1000 or ts end
  local n = tonumber(ts)
  if n then return n > 1e11 and n / 1000 or n end
  local y, mo, d, h, mi, s = tostring(ts):match("^(%d+)-(%d+)-(%d+)[T ](%d+):(%d+):(%d+)")
  if not y then return nil end
  -- days from civil (UTC), avoiding os.time's local time zone
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  local yy = mo <= 2 and y - 1 or y
  local era = (yy >= 0 and yy or yy - 399) // 400
  local yoe = yy - era * 400
  local mp = (mo + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
end

return M

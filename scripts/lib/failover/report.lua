--- Failover, failback and drill reports: the recovery point per table, the recovery time per
-- step, a timeline (mermaid gantt), as markdown and JSON. Kept in the new active region's state
-- store under failover/reports/ (docs/failover.md, "Reports").
local json = require("json")

local M = {}

--- epoch seconds of "YYYY-MM-DDTHH:MM:SS[.fff]Z" (UTC), nil when not such a string.
function M.epoch(ts)
  if type(ts) ~= "string" then return nil end
  local y, mo, d, h, mi, s = ts:match("^(%d+)-(%d+)-(%d+)[T ](%d+):(%d+):(%d+)")
  if not y then return nil end
  local t = os.time{ year = tonumber(y), month = tonumber(mo), day = tonumber(d), hour = tonumber(h),
    min = tonumber(mi), sec = tonumber(s), isdst = false }
  -- os.time reads local time: correct by the offset of UTC at that moment
  local utc = os.time(os.date("!*t", t))
  return t + (t - utc)
end

--- rpo_stats(rows) -> { worst, median, tables } over rows with rpo_s (nil when none).
function M.rpo_stats(rows)
  local vals = {}
  for _, r in ipairs(rows) do if r.rpo_s then vals[#vals + 1] = r.rpo_s end end
  table.sort(vals)
  if #vals == 0 then return { tables = 0 } end
  local mid = #vals % 2 == 1 and vals[(#vals + 1) // 2] or (vals[#vals // 2] + vals[#vals // 2 + 1]) / 2
  return { worst = vals[#vals], median = mid, tables = #vals }
end

local function fmt_s(v)
  if v == nil then return "-" end
  if v >= 3600 then return string.format("%.1f h", v / 3600) end
  if v >= 60 then return string.format("%.1f min", v / 60) end
  return string.format("%.2f s", v)
end
M.fmt_s = fmt_s

local function detail_text(d)
  if type(d) ~= "table" then return d and tostring(d) or "" end
  local parts = {}
  local keys = {}
  for k in pairs(d) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = d[k]
    if type(v) == "table" then
      local n = 0
      for _ in pairs(v) do n = n + 1 end
      if #v > 0 then
        local items = {}
        for i = 1, math.min(#v, 4) do items[i] = type(v[i]) == "table" and (v[i].name or v[i].table or "?") or tostring(v[i]) end
        v = table.concat(items, ", ") .. (#v > 4 and (" +" .. (#v - 4)) or "")
      else
        v = n == 0 and "none" or json.encode(v)
      end
    end
    parts[#parts + 1] = k .. "=" .. tostring(v)
  end
  return table.concat(parts, "; ")
end
M.detail_text = detail_text

--- build(j, rpo_rows, extra) -> report table (also the JSON form)
-- j: the journal (action, forced, from, to, epoch, started, steps = {{name, status, started, ended,
-- seconds, reason, detail, error}}).
function M.build(j, rpo_rows, extra)
  local r = { format = "drhost-failover-report", id = j.id, action = j.action, forced = j.forced or false,
    from = j.from, to = j.to, epoch = j.epoch, started_at = j.started_at, finished_at = j.finished_at,
    steps = json.array({}), rpo = { tables = json.array({}) }, checks = json.array({}) }
  local total = 0
  for _, s in ipairs(j.steps or {}) do
    r.steps[#r.steps + 1] = { name = s.name, status = s.status, seconds = s.seconds, reason = s.reason,
      detail = s.detail, error = s.error, started = s.started, ended = s.ended }
    total = total + (s.seconds or 0)
  end
  r.rto = { total_s = j.finished_mono and j.started_mono and (j.finished_mono - j.started_mono) or total, steps_s = total }
  for _, row in ipairs(rpo_rows or {}) do r.rpo.tables[#r.rpo.tables + 1] = row end
  local st = M.rpo_stats(rpo_rows or {})
  r.rpo.worst_s, r.rpo.median_s, r.rpo.basis = st.worst, st.median, extra and extra.rpo_basis
  for k, v in pairs(extra or {}) do if r[k] == nil then r[k] = v end end
  return r
end

--- gantt(r) -> mermaid lines: one bar per step, in seconds from the start.
function M.gantt(r)
  local lines = { "```mermaid", "gantt", "  title " .. r.action .. " " .. tostring(r.from) .. " -> " .. tostring(r.to)
    .. " (RTO " .. fmt_s(r.rto.total_s) .. ")", "  dateFormat x", "  axisFormat %M:%S" }
  local t0
  for _, s in ipairs(r.steps) do if s.started and (not t0 or s.started < t0) then t0 = s.started end end
  for _, s in ipairs(r.steps) do
    if s.started then
      local a = math.floor((s.started - t0) * 1000)
      local b = math.max(a + 1, math.floor(((s.ended or s.started) - t0) * 1000))
      local tag = s.status == "failed" and "crit, " or (s.status == "skipped" and "done, " or "")
      lines[#lines + 1] = string.format("  %s :%s%d, %d", s.name, tag, a, b)
    end
  end
  lines[#lines + 1] = "```"
  return lines
end

--- markdown(r) -> text
function M.markdown(r)
  local L = {}
  local function add(s) L[#L + 1] = s end
  add(string.format("# drhost %s report: %s -> %s", r.action, tostring(r.from), tostring(r.to)))
  add("")
  add(string.format("- id: `%s`; epoch %s; %s; started %s, finished %s", tostring(r.id), tostring(r.epoch),
    r.forced and "forced (the old active region did not answer)" or "planned", tostring(r.started_at), tostring(r.finished_at or "-")))
  add(string.format("- **RTO** %s (steps %s); **RPO** worst %s, median %s over %d table(s)%s", fmt_s(r.rto.total_s),
    fmt_s(r.rto.steps_s), fmt_s(r.rpo.worst_s), fmt_s(r.rpo.median_s), #r.rpo.tables,
    r.rpo.basis and (" (" .. r.rpo.basis .. ")") or ""))
  add("")
  add("| step | status | time | what | detail |")
  add("|---|---|---:|---|---|")
  for _, s in ipairs(r.steps) do
    add(string.format("| %s | %s | %s | %s | %s |", s.name, s.status, fmt_s(s.seconds), s.reason or "",
      (s.error and ("**" .. s.error .. "**") or detail_text(s.detail)):gsub("|", "/")))
  end
  if #r.checks > 0 then
    add("")
    add("| check | result | detail |")
    add("|---|---|---|")
    for _, c in ipairs(r.checks) do
      add(string.format("| %s | %s | %s |", c.name, c.ok and "ok" or "**FAILED**", tostring(c.detail or ""):gsub("|", "/")))
    end
  end
  if #r.rpo.tables > 0 then
    add("")
    add("| table | replica reflects commit of | RPO |")
    add("|---|---|---:|")
    for _, t in ipairs(r.rpo.tables) do
      add(string.format("| %s | %s | %s |", t.table, tostring(t.source_commit_ts or "-"), fmt_s(t.rpo_s)))
    end
  end
  add("")
  for _, l in ipairs(M.gantt(r)) do add(l) end
  return table.concat(L, "\n")
end

--- summary(r) -> a few lines for the terminal
function M.summary(r)
  local L = {}
  L[1] = string.format("%-18s %-8s %10s  %s", "step", "status", "time", "detail")
  for _, s in ipairs(r.steps) do
    L[#L + 1] = string.format("%-18s %-8s %10s  %s", s.name, s.status, fmt_s(s.seconds),
      s.error or detail_text(s.detail))
  end
  for _, c in ipairs(r.checks) do
    L[#L + 1] = string.format("%-18s %-8s %10s  %s", c.name, c.ok and "ok" or "FAILED", "", tostring(c.detail or ""))
  end
  L[#L + 1] = string.format("%s %s -> %s: RTO %s, RPO worst %s / median %s over %d table(s)", r.action, tostring(r.from),
    tostring(r.to), fmt_s(r.rto.total_s), fmt_s(r.rpo.worst_s), fmt_s(r.rpo.median_s), #r.rpo.tables)
  return L
end

return M

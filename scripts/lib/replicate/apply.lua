-- luacheck: max line length 160
-- Executes a replication plan: phase by phase, each phase's actions concurrently (bounded by the
-- configured parallelism through sql conn:many and databricks c:all), views in dependency waves,
-- prune one at a time. Failure is per object: an action whose object, or an object it needs,
-- already failed is skipped with the reason; everything independent goes on. After each wave of
-- clones the replication state in dr is written (one DELETE + one INSERT, named parameters), so a
-- run killed at any point converges on the next one.
local util = require("replicate.util")
local plan_lib = require("replicate.plan")
local q = require("replicate.sqltext")

local M = {}

local function now_iso()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

-- ctx = { src = { ws=, conn_for = function(catalog, schema) }, dst = { ... }, cfg=, run_id=,
--         progress = function(text) | nil, stats = { sql=, rest= } }
function M.run(plan, ctx)
  local cfg = ctx.cfg
  local conc = cfg.parallelism
  local stats = ctx.stats or {}
  stats.sql, stats.rest = stats.sql or 0, stats.rest or 0
  local progress = ctx.progress or function() end
  local results = {}          -- action id -> { status=, error=, elapsed=, metrics= }
  local failed_objects = {}   -- object -> reason
  local total, done = #plan.actions, 0
  local clock = M.clock

  local function mark(a, status, err, extra)
    local r = results[a.id] or {}
    r.status, r.error = status, err
    for k, v in pairs(extra or {}) do r[k] = v end
    results[a.id] = r
    if status == "failed" or status == "skipped" then
      -- a skipped object is as absent as a failed one for whatever needs it
      failed_objects[a.object] = failed_objects[a.object] or err or status
      local base = a.object:match("^(.-)#%d+$")   -- share batches fail their share
      if base then failed_objects[base] = err end
    end
    done = done + 1
  end

  local function blocked(a)
    if failed_objects[a.object] then return a.object .. " failed earlier: " .. failed_objects[a.object] end
    for _, n in ipairs(a.needs or {}) do
      if failed_objects[n] then return "needs " .. n .. ", which failed: " .. failed_objects[n] end
    end
    return nil
  end

  -- Run step k of every live action of a wave, grouped by side and connection.
  local function run_steps(acts)
    local live = {}
    for _, a in ipairs(acts) do
      local why = blocked(a)
      if why then mark(a, "skipped", why) else live[#live + 1] = a end
    end
    local k = 1
    while true do
      local groups, order, any = {}, {}, false
      for _, a in ipairs(live) do
        local r = results[a.id]
        if not (r and r.status) and a.steps[k] then
          any = true
          local s = a.steps[k]
          local side = s.side or "dst"
          local gk = side .. "|" .. (s.rest and "rest" or ((s.catalog or "") .. "." .. (s.schema or "")))
          if not groups[gk] then groups[gk] = { side = side, rest = s.rest ~= nil, s = s, items = {} }; order[#order + 1] = gk end
          table.insert(groups[gk].items, { a = a, s = s })
        end
      end
      if not any then break end
      for _, gk in ipairs(order) do
        local g = groups[gk]
        local side = ctx[g.side]
        local t0 = clock()
        if g.rest then
          local reqs = {}
          for i, it in ipairs(g.items) do
            reqs[i] = { method = it.s.rest.method, path = it.s.rest.path, body = it.s.rest.body, query = it.s.rest.query }
          end
          local res = side.ws:all(reqs, { concurrency = conc })
          stats.rest = stats.rest + #reqs
          for i, it in ipairs(g.items) do
            local r = res[i]
            if r.error then
              -- "already exists" on a create is success for a rerun after a kill
              local code = tostring(r.error.code or "")
              if it.s.rest.method == "POST" and (code == "RESOURCE_ALREADY_EXISTS" or r.status == 409) then
                it.a.notes = "already existed"
              else
                mark(it.a, "failed", util.errtext(r.error))
              end
            end
          end
        else
          local conn = side.conn_for(g.s.catalog, g.s.schema)
          local list = {}
          for i, it in ipairs(g.items) do list[i] = { it.s.sql, it.s.params } end
          local res = conn:many(list, { concurrency = conc })
          stats.sql = stats.sql + #list
          for i, it in ipairs(g.items) do
            local r = res[i]
            if r.error then
              mark(it.a, "failed", util.errtext(r.error))
            elseif it.s.clone and r.rows and r.rows[1] then
              local m = r.rows[1]
              results[it.a.id] = results[it.a.id] or {}
              results[it.a.id].metrics = { num_copied_files = m.num_copied_files, copied_files_size = m.copied_files_size,
                num_removed_files = m.num_removed_files, source_num_of_files = m.source_num_of_files }
            end
          end
        end
        local dt = clock() - t0
        for _, it in ipairs(g.items) do
          results[it.a.id] = results[it.a.id] or {}
          results[it.a.id].elapsed = (results[it.a.id].elapsed or 0) + dt
        end
      end
      k = k + 1
    end
    for _, a in ipairs(live) do
      local r = results[a.id]
      if not (r and r.status) then mark(a, "ok", nil) end
    end
    return live
  end

  -- Record the source version each successful clone reflects: one DELETE + one INSERT per wave.
  local function record(acts)
    local rows = {}
    for _, a in ipairs(acts) do
      if a.record and results[a.id] and results[a.id].status == "ok" then rows[#rows + 1] = a end
    end
    if #rows == 0 then return end
    local st = cfg.state
    local tbl = q.name(st.catalog .. "." .. st.schema .. "." .. st.table)
    local conn = ctx.dst.conn_for(nil, nil)
    local ts = now_iso()
    for _, chunk in ipairs(M.chunks(rows, 200)) do
      local del_names, del_params, ins_rows, ins_params = {}, {}, {}, {}
      for i, a in ipairs(chunk) do
        local r = a.record
        del_names[#del_names + 1] = ":o" .. i
        del_params["o" .. i] = r.object
        ins_rows[#ins_rows + 1] = string.format("(:o%d, :s%d, :id%d, :v%d, :ts%d, :at, :run)", i, i, i, i, i)
        ins_params["o" .. i] = r.object
        ins_params["s" .. i] = r.source
        ins_params["id" .. i] = r.source_table_id and tostring(r.source_table_id) or { value = nil, type = "STRING" }
        ins_params["v" .. i] = r.source_version ~= nil and { value = math.tointeger(r.source_version) or r.source_version, type = "BIGINT" }
          or { value = nil, type = "BIGINT" }
        ins_params["ts" .. i] = r.source_commit_ts ~= nil and tostring(r.source_commit_ts) or { value = nil, type = "STRING" }
      end
      ins_params.at, ins_params.run = ts, ctx.run_id or ""
      local res = conn:many({
        { "DELETE FROM " .. tbl .. " WHERE object IN (" .. table.concat(del_names, ", ") .. ")", del_params },
      })
      stats.sql = stats.sql + 1
      local err = res[1].error
      if not err then
        res = conn:many({ { "INSERT INTO " .. tbl .. " (object, source, source_table_id, source_version, "
          .. "source_commit_ts, cloned_at, run_id) VALUES " .. table.concat(ins_rows, ", "), ins_params } })
        stats.sql = stats.sql + 1
        err = res[1].error
      end
      for _, a in ipairs(chunk) do
        if err then
          results[a.id].status = "failed"
          results[a.id].error = "cloned, but the replication state could not be written: " .. util.errtext(err)
          failed_objects[a.object] = results[a.id].error
        else
          results[a.id].recorded_version = a.record.source_version
        end
      end
    end
  end

  local by_phase = {}
  for _, a in ipairs(plan.actions) do
    by_phase[a.phase] = by_phase[a.phase] or {}
    table.insert(by_phase[a.phase], a)
  end
  local started = os.time()
  for _, phase in ipairs(plan_lib.PHASES) do
    local acts = by_phase[phase]
    if acts and #acts > 0 then
      progress(string.format("%-14s %d action(s)  [%d/%d done, %ds]", phase, #acts, done, total, os.time() - started))
      if phase ~= "prune" then
        -- waves: an action runs once every action of this phase it needs has run (views on
        -- views; a share's batches after the share's creation)
        local remaining = {}
        for _, a in ipairs(acts) do remaining[a.object] = true end
        local pending = acts
        while #pending > 0 do
          local wave, rest = {}, {}
          for _, a in ipairs(pending) do
            local ready = true
            for _, n in ipairs(a.needs or {}) do if remaining[n] and n ~= a.object then ready = false end end
            if ready then wave[#wave + 1] = a else rest[#rest + 1] = a end
          end
          if #wave == 0 then   -- cannot happen with a plan from plan.build; do not loop forever
            for _, a in ipairs(rest) do mark(a, "failed", "dependencies could not be ordered") end
            break
          end
          for _, chunk in ipairs(M.chunks(wave, math.max(conc * 8, 64))) do
            run_steps(chunk)
            if phase == "clone" or phase == "external_clone" then record(chunk) end
            if #acts > #chunk then progress(string.format("%-14s %d/%d done", phase, done, total)) end
          end
          for _, a in ipairs(wave) do remaining[a.object] = nil end
          pending = rest
        end
      else
        for _, a in ipairs(acts) do run_steps({ a }) end
      end
    end
  end
  return results
end

local okh, http = pcall(require, "http")
-- Wall clock in seconds (fractional when the host offers http.now).
function M.clock()
  if okh and type(http) == "table" and type(http.now) == "function" then return http.now() end
  return os.time()
end

function M.chunks(list, n)
  local out, cur = {}, {}
  for _, v in ipairs(list) do
    cur[#cur + 1] = v
    if #cur >= n then out[#out + 1] = cur; cur = {} end
  end
  if #cur > 0 then out[#out + 1] = cur end
  return out
end

return M
